/*
 * mfa_verify per second against PostgreSQL with 1, 2 and 4 client
 * processes, right and wrong codes, beside the SQLite store in the same run.
 *
 * Every process is an application server of its own: its own store handle
 * (connection), its own mfa_ctx, its own account (one user logging in per
 * process; a shared account would measure the replay race, not the store).
 * A right code is always a fresh step (the ctx clock moves 30 s per call);
 * a wrong code goes through the whole check (the throttle's free attempts
 * are set out of reach).
 *
 *   eval "$(scripts/pg-cluster.sh start $(mktemp -d))"
 *   build/tests/bench/bench-pg            # MFA_BENCH_SECONDS=1 per figure
 *
 * Without MFA_PG_CONNINFO only the SQLite figures are printed.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mfa.h>

#include "pgtest.h"

#define T_START 1700000000

typedef struct shared {
    pthread_barrier_t start;
    long count[8];
    long errors[8];
} shared;

static shared *sh;
static mfa_keyring_t *kr;
static double seconds = 1.0;
static char sqlite_path[256];
static const char *conninfo;
static char schema[64];

static double
mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static mfa_rc
open_store(int pg, mfa_store_t **s)
{
    return pg ? mfa_store_postgres_open(s, conninfo, schema)
              : mfa_store_sqlite_open(s, sqlite_path);
}

static void
client(int pg, int me, int procs, int right)
{
    mfa_throttle_policy lenient = {1000000000u, 1, 1};
    mfa_store_t *store = NULL;
    mfa_ctx_t *ctx = NULL;
    int64_t now = T_START;
    char account[64], code[16];
    pgt_user u;
    mfa_result res;
    long n = 0, errors = 0;
    double end;
    int ready;

    snprintf(account, sizeof(account), "user%d-of-%d-%s@example.com", me, procs,
             right ? "right" : "wrong");
    ready = open_store(pg, &store) == MFA_OK &&
            mfa_ctx_new(&ctx, store, kr) == MFA_OK &&
            mfa_ctx_set_throttle(ctx, &lenient) == MFA_OK;
    if (ready) {
        mfa_ctx_set_clock(ctx, pgt_clock, &now);
        ready = pgt_enroll(ctx, &now, account, &u) == 0;
    }
    if (ready)
        pgt_wrong_code(&u, now, code);
    /* warm up: connections made, statements prepared, pages cached */
    for (int i = 0; ready && i < 50; i++)
        ready = mfa_verify(ctx, account, code, &res) == MFA_ERR_CODE_WRONG;
    pthread_barrier_wait(&sh->start);
    if (!ready) {
        sh->errors[me] = -1;
        _exit(1);
    }
    end = mono() + seconds;
    while (mono() < end) {
        mfa_rc rc;
        if (right) {
            now += 30;
            pgt_code(&u, now, code);
        }
        rc = mfa_verify(ctx, account, code, &res);
        n++;
        errors += rc != (right ? MFA_OK : MFA_ERR_CODE_WRONG);
    }
    sh->count[me] = n;
    sh->errors[me] = errors;
    mfa_otp_free(&u.otp);
    mfa_ctx_free(&ctx);
    mfa_store_free(&store);
    _exit(0);
}

/* verifies per second of procs processes; -1 on failure */
static double
run(int pg, int procs, int right)
{
    pthread_barrierattr_t ba;
    pid_t pids[8];
    long total = 0, errors = 0;
    int i, status, ok = 1;

    memset(sh, 0, sizeof(*sh));
    pthread_barrierattr_init(&ba);
    pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED);
    pthread_barrier_init(&sh->start, &ba, (unsigned)procs + 1);
    for (i = 0; i < procs; i++) {
        pids[i] = fork();
        if (pids[i] == 0)
            client(pg, i, procs, right);
    }
    pthread_barrier_wait(&sh->start);
    for (i = 0; i < procs; i++) {
        waitpid(pids[i], &status, 0);
        ok &= WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    pthread_barrier_destroy(&sh->start);
    for (i = 0; i < procs; i++) {
        total += sh->count[i];
        errors += sh->errors[i];
    }
    if (!ok || errors != 0) {
        fprintf(stderr, "%s, %d processes, %s codes: %ld unexpected results\n",
                pg ? "postgres" : "sqlite", procs, right ? "right" : "wrong",
                errors);
        return -1;
    }
    return (double)total / seconds;
}

int
main(void)
{
    static const int procs[] = {1, 2, 4};
    double fig[2][3][2]; /* store, procs, wrong/right */
    char dir[] = "/tmp/mfa-bench-pg.XXXXXX";
    const char *env = getenv("MFA_BENCH_SECONDS");
    mfa_store_t *s = NULL;
    uint32_t kid;
    int pg, i, k, have[2];

    if (mfa_init() != MFA_OK || mfa_keyring_new(&kr) != MFA_OK ||
        mfa_keyring_generate(kr, &kid) != MFA_OK)
        return EXIT_FAILURE;
    if (env != NULL && atof(env) > 0)
        seconds = atof(env);
    sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED || mkdtemp(dir) == NULL)
        return EXIT_FAILURE;
    snprintf(sqlite_path, sizeof(sqlite_path), "%s/bench.db", dir);

    /* create (migrate) each store once before the clients open it */
    have[0] = mfa_store_sqlite_open(&s, sqlite_path) == MFA_OK;
    mfa_store_free(&s);
    conninfo = getenv("MFA_PG_CONNINFO");
    pgt_random_name(schema, sizeof(schema), "mfa_b_");
    have[1] = conninfo != NULL &&
              mfa_store_postgres_open(&s, conninfo, schema) == MFA_OK;
    mfa_store_free(&s);
    if (!have[1])
        fprintf(stderr, "no PostgreSQL (MFA_PG_CONNINFO): SQLite only\n");
    if (have[1]) {
        /* figures mean little without the durability they paid for */
        PGconn *c = pgt_connect(conninfo);
        PGresult *r = c ? PQexec(c, "SELECT current_setting('fsync'), "
                                    "current_setting('synchronous_commit'), "
                                    "current_setting('server_version')")
                        : NULL;
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
            printf("postgres %s: fsync=%s synchronous_commit=%s; sqlite: "
                   "the store's own settings (docs/stores.md)\n",
                   PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 0),
                   PQgetvalue(r, 0, 1));
        PQclear(r);
        PQfinish(c);
    }

    for (pg = 0; pg < 2; pg++)
        for (i = 0; i < 3; i++)
            for (k = 0; k < 2; k++)
                fig[pg][i][k] = have[pg] ? run(pg, procs[i], k) : -1;

    printf("mfa_verify per second, %.1f s per figure; each process its own "
           "connection, ctx and account\n",
           seconds);
    printf("%-10s %5s %12s %12s\n", "store", "procs", "right/s", "wrong/s");
    for (pg = 0; pg < 2; pg++)
        for (i = 0; i < 3; i++)
            if (have[pg])
                printf("%-10s %5d %12.0f %12.0f\n", pg ? "postgres" : "sqlite",
                       procs[i], fig[pg][i][1], fig[pg][i][0]);
    if (have[0] && have[1]) {
        printf("postgres / sqlite:\n");
        for (i = 0; i < 3; i++)
            printf("  %d procs: right %.2f, wrong %.2f\n", procs[i],
                   fig[1][i][1] / fig[0][i][1], fig[1][i][0] / fig[0][i][0]);
        printf("scaling 1 -> 4 procs: sqlite right %.2fx, postgres right "
               "%.2fx\n",
               fig[0][2][1] / fig[0][0][1], fig[1][2][1] / fig[1][0][1]);
    }

    if (have[1])
        pgt_drop_schemas(conninfo, schema);
    snprintf(sqlite_path, sizeof(sqlite_path), "rm -rf '%s'", dir);
    if (system(sqlite_path) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    mfa_keyring_free(&kr);
    return EXIT_SUCCESS;
}
