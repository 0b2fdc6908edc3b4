/*
 * mfa_verify on PostgreSQL against a bare libpq transaction written here
 * that does the same work on the same tables:
 *   BEGIN + the account's advisory lock (one round trip), read the throttle
 *   row, read the account's factors, check the code with
 *   mfa_otp_totp_verify on a key the benchmark holds, then for a right code
 *   UPDATE last_step and delete the throttle row, for a wrong one upsert
 *   the throttle row; COMMIT.  (The throttle row is deleted only when there
 *   was one, as libmfa does.)
 * Figures (each peer measured in the same run as the other):
 *   - verifies per second, libmfa and bare, right and wrong codes, one
 *     process doing both in turn, and the libmfa / bare ratio of the time
 *     per verify (median and range of the runs), and the CPU time per
 *     verify of the client and its server backend;
 *   - commits per verify and per flow of the service, counted by the
 *     server: pg_stat_database.xact_commit (every transaction, reads too)
 *     and the transaction ids handed out (only writing transactions take
 *     one: the durable commits);
 *   - right codes per second of one process against four, each its own
 *     connection and account.
 *
 * Each process is an application server: its own store handle, mfa_ctx and
 * account (a shared account would measure the account lock, not the
 * store).  A right code is a fresh step each time (the clock moves 30 s
 * per call); a wrong code goes through the whole check (free attempts out
 * of reach).  The cluster should be otherwise idle while this runs:
 *
 *   eval "$(MFA_PG_DURABLE=1 scripts/pg-cluster.sh start $(mktemp -d))"
 *   build/tests/bench/bench-pg        # MFA_BENCH_SECONDS=1 per figure
 *   scripts/pg-cluster.sh stop "$MFA_PG_DIR"
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
#define PROCS_MAX 4
#define ROUNDS 7 /* paired runs per ratio */
#define COMMIT_RUN 2000
#define APP "mfa_bench_client"

enum { LIBMFA = 0, BARE = 1 };

static const char *const mfa_tables[] = {"factor", "backup_code", "throttle",
                                         "oob_challenge", NULL};

typedef struct shared {
    pthread_barrier_t start;
    long count[PROCS_MAX];
    long errors[PROCS_MAX];
    double spent[2], client_cpu[2], server_cpu[2];
} shared;

static shared *sh;
static char peer_conninfo[2100];
static mfa_keyring_t *kr;
static double seconds = 1.0;
static const char *conninfo;
static char client_conninfo[2048];
static char schema[64];
static int run_no;

static double
mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the bare transaction -------------------------------------------------
 */

typedef struct bare {
    PGconn *c;
    char begin_sql[160];
    const char *account;
    const mfa_otp_t *otp;
} bare;

static int
bare_prepare(bare *b, const char *name, const char *sql_at, int n)
{
    char sql[1024], *o = sql;
    const char *p;
    PGresult *r;
    int ok;

    for (p = sql_at; *p && o < sql + sizeof(sql) - 70; p++) {
        if (*p == '@')
            o += snprintf(o, 70, "\"%s\"", schema);
        else
            *o++ = *p;
    }
    *o = '\0';
    r = PQprepare(b->c, name, sql, n, NULL);
    ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "prepare %s: %s", name, PQresultErrorMessage(r));
    PQclear(r);
    return ok;
}

static int
bare_open(bare *b, const char *account, const mfa_otp_t *otp)
{
    memset(b, 0, sizeof(*b));
    b->account = account;
    b->otp = otp;
    b->c = pgt_connect(peer_conninfo);
    if (b->c == NULL)
        return 0;
    /* any key that is the account's alone does: this one is random */
    {
        uint64_t k;
        randombytes_buf(&k, sizeof(k));
        snprintf(b->begin_sql, sizeof(b->begin_sql),
                 "BEGIN ISOLATION LEVEL READ COMMITTED; SELECT "
                 "pg_advisory_xact_lock(%lld)",
                 (long long)(k >> 1));
    }
    return bare_prepare(b, "thr",
                        "SELECT failures, locked_until, updated FROM "
                        "@.throttle WHERE account = $1 AND bucket = ''",
                        1) &&
           bare_prepare(b, "fac",
                        "SELECT id, account, label, type, algorithm, digits, "
                        "period, t0, last_step, drift, status, created, "
                        "confirmed, last_used, sealed FROM @.factor WHERE "
                        "account = $1 ORDER BY created, id",
                        1) &&
           bare_prepare(b, "spend",
                        "UPDATE @.factor SET last_step = $3, drift = $4, "
                        "last_used = $5 WHERE account = $1 AND id = $2",
                        5) &&
           bare_prepare(b, "clear",
                        "DELETE FROM @.throttle WHERE account = $1 AND "
                        "bucket = ''",
                        1) &&
           bare_prepare(b, "count",
                        "INSERT INTO @.throttle (account, bucket, failures, "
                        "locked_until, updated) VALUES ($1, '', $2, $3, $3) "
                        "ON CONFLICT (account, bucket) DO UPDATE SET "
                        "failures = excluded.failures, locked_until = "
                        "excluded.locked_until, updated = excluded.updated",
                        3);
}

static int64_t
be64(const char *p)
{
    uint64_t v = 0;
    int i;

    for (i = 0; i < 8; i++)
        v = (v << 8) | (unsigned char)p[i];
    return (int64_t)v;
}

/* 1 when the statement ran; *out gets its result when out is not NULL. */
static int
bare_exec(bare *b, const char *name, int n, const char *const *vals,
          PGresult **out)
{
    PGresult *r = PQexecPrepared(b->c, name, n, vals, NULL, NULL, 1);
    ExecStatusType s = PQresultStatus(r);
    int ok = s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK;

    if (ok && out != NULL)
        *out = r;
    else
        PQclear(r);
    return ok;
}

/* One verify: MFA_OK, MFA_ERR_CODE_WRONG (or REPLAYED), MFA_ERR_STORE. */
static mfa_rc
bare_verify(bare *b, const char *code, int64_t now)
{
    const char *vals[5];
    char num[3][24], id[MFA_FACTOR_ID_LEN + 1] = "";
    uint64_t step = 0;
    int32_t off = 0;
    uint32_t failures = 0;
    int had_row;
    PGresult *r;
    mfa_rc verdict = MFA_ERR_CODE_WRONG;
    int i, ok;

    r = PQexec(b->c, b->begin_sql);
    ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    vals[0] = b->account;
    if (!ok || !bare_exec(b, "thr", 1, vals, &r))
        goto fail;
    had_row = PQntuples(r) == 1;
    if (had_row)
        failures = (uint32_t)be64(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (!bare_exec(b, "fac", 1, vals, &r))
        goto fail;
    for (i = 0; i < PQntuples(r); i++) {
        int64_t last = be64(PQgetvalue(r, i, 8));
        if (be64(PQgetvalue(r, i, 10)) != MFA_FACTOR_ACTIVE)
            continue;
        verdict = mfa_otp_totp_verify(b->otp, code, now, MFA_PAST_DEFAULT,
                                      MFA_FUTURE_DEFAULT, last, &step, &off);
        if (verdict == MFA_OK) {
            snprintf(id, sizeof(id), "%.*s", PQgetlength(r, i, 0),
                     PQgetvalue(r, i, 0));
            break;
        }
    }
    PQclear(r);
    if (verdict == MFA_OK) {
        snprintf(num[0], sizeof(num[0]), "%llu", (unsigned long long)step);
        snprintf(num[1], sizeof(num[1]), "%d", off);
        snprintf(num[2], sizeof(num[2]), "%lld", (long long)now);
        vals[1] = id;
        vals[2] = num[0];
        vals[3] = num[1];
        vals[4] = num[2];
        /* a success clears the count: no row left behind */
        if (!bare_exec(b, "spend", 5, vals, NULL) ||
            (had_row && !bare_exec(b, "clear", 1, vals, NULL)))
            goto fail;
    } else {
        snprintf(num[0], sizeof(num[0]), "%u", failures + 1);
        snprintf(num[1], sizeof(num[1]), "%lld", (long long)now);
        vals[1] = num[0];
        vals[2] = num[1];
        if (!bare_exec(b, "count", 3, vals, NULL))
            goto fail;
    }
    r = PQexec(b->c, "COMMIT");
    ok = PQresultStatus(r) == PGRES_COMMAND_OK &&
         strcmp(PQcmdStatus(r), "COMMIT") == 0;
    PQclear(r);
    return ok ? verdict : MFA_ERR_STORE;
fail:
    PQclear(PQexec(b->c, "ROLLBACK"));
    return MFA_ERR_STORE;
}

/* ---- a peer: libmfa or the bare transaction, on an account of its own ---- */

typedef struct peer {
    int kind;
    mfa_store_t *store;
    mfa_ctx_t *ctx;
    bare b;
    pgt_user u;
    char account[64];
    char wrong[16];
    int64_t now;
    long long server_pid; /* of its connection's backend */
} peer;

/* Seconds on a CPU: this process, or a server backend (its
 * /proc/PID/schedstat; the server runs on this machine). */
static double
cpu_self(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
cpu_of(long long pid)
{
    char path[64];
    unsigned long long ns = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%lld/schedstat", pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    if (fscanf(f, "%llu", &ns) != 1)
        ns = 0;
    fclose(f);
    return (double)ns / 1e9;
}

/* Enrolls the peer's account through libmfa (the bare peer too: the same
 * rows), then warms up: statements prepared, pages cached.  0 on success. */
static int
peer_open(peer *p, int kind, const char *tag)
{
    mfa_throttle_policy lenient = {1000000000u, 1, 1};
    mfa_result res;
    int ready, i;

    memset(p, 0, sizeof(*p));
    p->kind = kind;
    p->now = T_START;
    snprintf(p->account, sizeof(p->account), "run%d-%s-%s@example.com", run_no,
             kind == BARE ? "bare" : "libmfa", tag);
    /* a name of its own, to find its backend */
    snprintf(peer_conninfo, sizeof(peer_conninfo), "%s_%d_%d", client_conninfo,
             kind, (int)getpid());
    ready =
        mfa_store_postgres_open(&p->store, peer_conninfo, schema) == MFA_OK &&
        mfa_ctx_new(&p->ctx, p->store, kr) == MFA_OK &&
        mfa_ctx_set_throttle(p->ctx, &lenient) == MFA_OK;
    if (ready) {
        mfa_ctx_set_clock(p->ctx, pgt_clock, &p->now);
        ready = pgt_enroll(p->ctx, &p->now, p->account, &p->u) == 0;
    }
    if (ready && kind == BARE) {
        mfa_ctx_free(&p->ctx);
        mfa_store_free(&p->store);
        ready = bare_open(&p->b, p->account, p->u.otp);
    }
    if (ready)
        pgt_wrong_code(&p->u, p->now, p->wrong);
    for (i = 0; ready && i < 50; i++)
        ready = (kind == BARE ? bare_verify(&p->b, p->wrong, p->now)
                              : mfa_verify(p->ctx, p->account, p->wrong,
                                           &res)) == MFA_ERR_CODE_WRONG;
    if (ready && kind == BARE) {
        p->server_pid = PQbackendPID(p->b.c);
    } else if (ready) {
        /* one thread: the store's pool holds one connection */
        PGconn *c = pgt_connect(conninfo);
        char sql[256];
        snprintf(sql, sizeof(sql),
                 "SELECT pid FROM pg_stat_activity WHERE application_name = "
                 "'%s_%d_%d'",
                 APP, kind, (int)getpid());
        p->server_pid = c != NULL ? pgt_scalar(c, sql) : -1;
        PQfinish(c);
    }
    return ready ? 0 : -1;
}

/* One verify of a right code (a fresh step) or the wrong one; 1 when the
 * verdict is the expected one. */
static int
peer_verify(peer *p, int right)
{
    char code[16];
    mfa_result res;
    mfa_rc rc;

    if (right) {
        p->now += 30;
        pgt_code(&p->u, p->now, code);
    } else {
        memcpy(code, p->wrong, sizeof(code));
    }
    rc = p->kind == BARE ? bare_verify(&p->b, code, p->now)
                         : mfa_verify(p->ctx, p->account, code, &res);
    return rc == (right ? MFA_OK : MFA_ERR_CODE_WRONG);
}

static void
peer_close(peer *p)
{
    PQfinish(p->b.c);
    mfa_otp_free(&p->u.otp);
    mfa_ctx_free(&p->ctx);
    mfa_store_free(&p->store);
}

/* ---- client processes -------------------------------------------------------
 */

/*
 * Verify for `seconds` when limit < 0 (starting with the others at the
 * barrier), or `limit` times (0 too).
 */
static void
client(int kind, int me, int procs, int right, long limit)
{
    char tag[32];
    peer p;
    long n = 0, errors = 0;
    double end;
    int ready;

    snprintf(tag, sizeof(tag), "%d-of-%d-%s", me, procs,
             right ? "right" : "wrong");
    ready = peer_open(&p, kind, tag) == 0;
    if (limit < 0)
        pthread_barrier_wait(&sh->start);
    if (!ready) {
        sh->errors[me] = -1;
        _exit(1);
    }
    end = mono() + seconds;
    while (limit >= 0 ? n < limit : mono() < end) {
        errors += !peer_verify(&p, right);
        n++;
    }
    sh->count[me] = n;
    sh->errors[me] = errors;
    peer_close(&p);
    _exit(0);
}

/*
 * Both peers in one process, alternating in blocks of PAIR_BLOCK verifies
 * for `seconds` each, so that whatever else the machine does slows both
 * alike; the time of each peer's blocks is summed.
 */
#define PAIR_BLOCK 10

static void
pair_client(int right)
{
    peer p[2];
    double spent[2] = {0, 0};
    long n[2] = {0, 0}, errors = 0;
    int k, i;

    if (peer_open(&p[LIBMFA], LIBMFA, right ? "pair-right" : "pair-wrong") !=
            0 ||
        peer_open(&p[BARE], BARE, right ? "pair-right" : "pair-wrong") != 0)
        _exit(1);
    while (spent[0] + spent[1] < 2 * seconds) {
        for (k = 0; k < 2; k++) {
            double t0 = mono(), c0 = cpu_self(), s0 = cpu_of(p[k].server_pid);
            for (i = 0; i < PAIR_BLOCK; i++)
                errors += !peer_verify(&p[k], right);
            spent[k] += mono() - t0;
            sh->client_cpu[k] += cpu_self() - c0;
            sh->server_cpu[k] += cpu_of(p[k].server_pid) - s0;
            n[k] += PAIR_BLOCK;
        }
    }
    for (k = 0; k < 2; k++) {
        sh->count[k] = n[k];
        sh->spent[k] = spent[k];
        peer_close(&p[k]);
    }
    sh->errors[0] = errors;
    _exit(0);
}

/* Verifies per second of each peer, measured together, and CPU seconds
 * per verify of client and server; -1 on failure. */
static int
run_pair(int right, double rate[2], double cpu[2][2])
{
    pid_t pid;
    int status;

    run_no++;
    memset(sh, 0, sizeof(*sh));
    pid = fork();
    if (pid == 0)
        pair_client(right);
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0 || sh->errors[0] != 0) {
        fprintf(stderr, "paired run, %s codes: failed\n",
                right ? "right" : "wrong");
        return -1;
    }
    for (int k = 0; k < 2; k++) {
        rate[k] = (double)sh->count[k] / sh->spent[k];
        cpu[k][0] = sh->client_cpu[k] / (double)sh->count[k];
        cpu[k][1] = sh->server_cpu[k] / (double)sh->count[k];
    }
    return 0;
}

/* Verifies per second of procs processes; -1 on failure. */
static double
run(int kind, int procs, int right)
{
    pthread_barrierattr_t ba;
    pid_t pids[PROCS_MAX];
    long total = 0, errors = 0;
    int i, status, ok = 1;

    run_no++;
    memset(sh, 0, sizeof(*sh));
    pthread_barrierattr_init(&ba);
    pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED);
    pthread_barrier_init(&sh->start, &ba, (unsigned)procs + 1);
    for (i = 0; i < procs; i++) {
        pids[i] = fork();
        if (pids[i] == 0)
            client(kind, i, procs, right, -1);
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
                kind == BARE ? "bare" : "libmfa", procs,
                right ? "right" : "wrong", errors);
        return -1;
    }
    return (double)total / seconds;
}

/* ---- every flow, for the commit counts ------------------------------------
 */

enum {
    FL_ENROLL,
    FL_VERIFY_RIGHT,
    FL_VERIFY_WRONG,
    FL_RECOVER,
    FL_OOB,
    FL_HAS_MFA,
    FL_LIST,
    FL_CODES_NEW,
    FL_RESET,
    FL_COUNT
};

static const char *const flow_name[FL_COUNT] = {
    "enroll_begin + enroll_confirm",
    "verify, right code",
    "verify, wrong code",
    "recover (backup code)",
    "oob_begin + oob_verify",
    "account_has_mfa",
    "factors_list",
    "backup_codes_new",
    "reset (an account without data)",
};

#define FLOW_RUN 200
#define RECOVER_RUN 30 /* the codes of one set */

static char sms_code[16];

static mfa_rc
capture_sms(const char *account, const char *purpose, const char *code,
            void *arg)
{
    (void)account;
    (void)purpose;
    (void)arg;
    snprintf(sms_code, sizeof(sms_code), "%s", code);
    return MFA_OK;
}

/* One flow on the peer's ctx; 1 when it gave the expected result. */
static int
do_flow(peer *p, int flow, int i, char **codes)
{
    char other[64], code[16], **c = NULL;
    mfa_factor_info *list = NULL;
    mfa_result res;
    pgt_user u;
    size_t n = 0;
    int has = 0, ok;

    switch (flow) {
    case FL_ENROLL:
        snprintf(other, sizeof(other), "run%d-enroll-%d@example.com", run_no,
                 i);
        ok = pgt_enroll(p->ctx, &p->now, other, &u) == 0;
        mfa_otp_free(&u.otp);
        return ok;
    case FL_VERIFY_RIGHT:
        return peer_verify(p, 1);
    case FL_VERIFY_WRONG:
        return peer_verify(p, 0);
    case FL_RECOVER:
        return mfa_recover(p->ctx, p->account, codes[i], &res) == MFA_OK;
    case FL_OOB:
        sms_code[0] = '\0';
        memset(code, 0, sizeof(code));
        if (mfa_oob_begin(p->ctx, p->account, "sms") != MFA_OK)
            return 0;
        memcpy(code, sms_code, sizeof(code));
        return mfa_oob_verify(p->ctx, p->account, "sms", code, &res) == MFA_OK;
    case FL_HAS_MFA:
        return mfa_account_has_mfa(p->ctx, p->account, &has) == MFA_OK &&
               has == 1;
    case FL_LIST:
        ok =
            mfa_factors_list(p->ctx, p->account, &list, &n) == MFA_OK && n == 1;
        mfa_free(list);
        return ok;
    case FL_CODES_NEW:
        ok = mfa_backup_codes_new(p->ctx, p->account, 10, &c) == MFA_OK;
        if (ok)
            mfa_backup_codes_free(&c, 10);
        return ok;
    default:
        snprintf(other, sizeof(other), "run%d-nobody-%d@example.com", run_no,
                 i);
        return mfa_reset(p->ctx, other) == MFA_OK;
    }
}

/* A process doing `limit` flows of one kind after the same set-up. */
static void
flow_client(int flow, long limit)
{
    char **codes = NULL;
    peer p;
    long i, errors = 0;

    if (peer_open(&p, LIBMFA, "flows") != 0 ||
        mfa_backup_codes_new(p.ctx, p.account, RECOVER_RUN, &codes) != MFA_OK)
        _exit(1);
    mfa_ctx_set_oob_sender(p.ctx, capture_sms, NULL);
    for (i = 0; i < limit; i++)
        errors += !do_flow(&p, flow, (int)i, codes);
    mfa_backup_codes_free(&codes, RECOVER_RUN);
    sh->errors[0] = errors;
    peer_close(&p);
    _exit(0);
}

/* ---- commits counted by the server ------------------------------------------
 */

static const char commits_sql[] = "SELECT xact_commit FROM pg_stat_database "
                                  "WHERE datname = current_database()";
static const char xids_sql[] =
    "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint";

/*
 * One client process doing `limit` verifies (after its enrollment and
 * warm-up); the server's commit and transaction id counters before and
 * after it has gone.
 */
static int
counted_run(PGconn *a, int kind, int right, int flow, long limit,
            long long *commits, long long *xids)
{
    char sql[256];
    long long c0, x0;
    pid_t pid;
    int status, i;

    run_no++;
    memset(sh, 0, sizeof(*sh));
    c0 = pgt_scalar(a, commits_sql);
    x0 = pgt_scalar(a, xids_sql);
    pid = fork();
    if (pid == 0 && flow >= 0)
        flow_client(flow, limit);
    else if (pid == 0)
        client(kind, 0, 1, right, limit);
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0 || sh->errors[0] != 0) {
        fprintf(stderr, "counted run failed (%ld unexpected results)\n",
                sh->errors[0]);
        return -1;
    }
    /* the backends flush their counts as they exit */
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_stat_activity WHERE "
             "left(application_name, %d) = '%s'",
             (int)strlen(APP), APP);
    for (i = 0; i < 500 && pgt_scalar(a, sql) != 0; i++)
        pgt_sleep_ms(10);
    /* a backend leaves the activity view a little before its counts land */
    pgt_sleep_ms(1000);
    *commits = pgt_scalar(a, commits_sql) - c0;
    *xids = pgt_scalar(a, xids_sql) - x0;
    return 0;
}

/*
 * Commits and transaction ids per verify: the difference between a run of
 * COMMIT_RUN verifies and a run of none, so that connecting, enrolling and
 * warming up cancel out.
 */
static int
per_verify(PGconn *a, int kind, int right, double *commits, double *xids)
{
    long long c1, x1, c0, x0;

    if (counted_run(a, kind, right, -1, COMMIT_RUN, &c1, &x1) != 0 ||
        counted_run(a, kind, right, -1, 0, &c0, &x0) != 0)
        return -1;
    *commits = (double)(c1 - c0) / COMMIT_RUN;
    *xids = (double)(x1 - x0) / COMMIT_RUN;
    return 0;
}

/* The same for each flow of the service layer. */
static int
per_flow(PGconn *a, int flow, double *commits, double *xids)
{
    long n = flow == FL_RECOVER ? RECOVER_RUN : FLOW_RUN;
    long long c1, x1, c0, x0;

    if (counted_run(a, LIBMFA, 0, flow, n, &c1, &x1) != 0 ||
        counted_run(a, LIBMFA, 0, flow, 0, &c0, &x0) != 0)
        return -1;
    *commits = (double)(c1 - c0) / (double)n;
    *xids = (double)(x1 - x0) / (double)n;
    return 0;
}

/* ---- main ------------------------------------------------------------------
 */

static double
median(const double *v, int n)
{
    double s[16];
    int i, j;

    for (i = 0; i < n && i < 16; i++) {
        double x = v[i];
        for (j = i; j > 0 && s[j - 1] > x; j--)
            s[j] = s[j - 1];
        s[j] = x;
    }
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

int
main(void)
{
    const char *env = getenv("MFA_BENCH_SECONDS");
    double fig[2][2][ROUNDS]; /* kind, wrong/right, round */
    double scale[2][2][3];    /* kind, 1 / 4 procs, round */
    double commits[3], xids[3], fc[FL_COUNT], fx[FL_COUNT];
    double cpu[2][2][2] = {{{0}}}; /* kind, wrong/right, client/server */
    mfa_store_t *s = NULL;
    PGconn *a;
    PGresult *r;
    uint32_t kid;
    int kind, right, k, i;

    if (mfa_init() != MFA_OK || mfa_keyring_new(&kr) != MFA_OK ||
        mfa_keyring_generate(kr, &kid) != MFA_OK)
        return EXIT_FAILURE;
    if (env != NULL && atof(env) > 0)
        seconds = atof(env);
    conninfo = getenv("MFA_PG_CONNINFO");
    if (conninfo == NULL) {
        fprintf(stderr, "MFA_PG_CONNINFO is not set: start a cluster with "
                        "scripts/pg-cluster.sh (see the top of bench_pg.c)\n");
        return EXIT_FAILURE;
    }
    snprintf(client_conninfo, sizeof(client_conninfo), "%s application_name=%s",
             conninfo, APP);
    sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED)
        return EXIT_FAILURE;
    pgt_random_name(schema, sizeof(schema), "mfa_b_");
    if (pgt_create(&s, conninfo, schema) != MFA_OK) {
        fprintf(stderr, "cannot create the store in schema %s\n", schema);
        return EXIT_FAILURE;
    }
    mfa_store_free(&s);
    a = pgt_connect(conninfo);
    if (a == NULL)
        return EXIT_FAILURE;
    /* autovacuum's ANALYZE takes transaction ids of its own: not counted */
    {
        char sql[512];
        for (i = 0; mfa_tables[i] != NULL; i++) {
            snprintf(sql, sizeof(sql),
                     "ALTER TABLE \"%s\".%s SET (autovacuum_enabled = false)",
                     schema, mfa_tables[i]);
            if (pgt_exec(a, sql) != 0)
                return EXIT_FAILURE;
        }
    }
    /* figures mean little without the durability they paid for */
    r = PQexec(a, "SELECT current_setting('server_version'), "
                  "current_setting('fsync'), "
                  "current_setting('synchronous_commit')");
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        printf("postgres %s, fsync=%s, synchronous_commit=%s, %ld cores "
               "online\n",
               PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2),
               sysconf(_SC_NPROCESSORS_ONLN));
    PQclear(r);

    /* the two peers measured together, ROUNDS times */
    for (k = 0; k < ROUNDS; k++)
        for (right = 1; right >= 0; right--) {
            double rate[2], c[2][2];
            if (run_pair(right, rate, c) != 0)
                return EXIT_FAILURE;
            for (kind = 0; kind < 2; kind++)
                for (i = 0; i < 2; i++)
                    cpu[kind][right][i] += c[kind][i] / ROUNDS;
            fig[LIBMFA][right][k] = rate[LIBMFA];
            fig[BARE][right][k] = rate[BARE];
        }
    for (k = 0; k < 3; k++)
        for (kind = 0; kind < 2; kind++) {
            scale[kind][0][k] = run(kind, 1, 1);
            scale[kind][1][k] = run(kind, 4, 1);
        }
    if (per_verify(a, LIBMFA, 1, &commits[0], &xids[0]) != 0 ||
        per_verify(a, LIBMFA, 0, &commits[1], &xids[1]) != 0 ||
        per_verify(a, BARE, 1, &commits[2], &xids[2]) != 0) {
        fprintf(stderr, "counting commits failed\n");
        return EXIT_FAILURE;
    }
    for (i = 0; i < FL_COUNT; i++)
        if (per_flow(a, i, &fc[i], &fx[i]) != 0) {
            fprintf(stderr, "counting the commits of %s failed\n",
                    flow_name[i]);
            return EXIT_FAILURE;
        }

    printf("\none process verifying for both peers in turn (%d verifies "
           "each), %.1f s per peer and run (verifies/s)\n",
           PAIR_BLOCK, seconds);
    printf("%-8s %6s %10s %10s %12s\n", "code", "run", "libmfa", "bare",
           "libmfa/bare");
    for (right = 1; right >= 0; right--) {
        double ratios[ROUNDS], lo = 1e9, hi = 0;
        for (k = 0; k < ROUNDS; k++) {
            /* time per verify: libmfa's over the bare transaction's */
            ratios[k] = fig[BARE][right][k] / fig[LIBMFA][right][k];
            lo = ratios[k] < lo ? ratios[k] : lo;
            hi = ratios[k] > hi ? ratios[k] : hi;
            printf("%-8s %6d %10.0f %10.0f %12.2f\n", right ? "right" : "wrong",
                   k + 1, fig[LIBMFA][right][k], fig[BARE][right][k],
                   ratios[k]);
        }
        printf("%-8s %6s %10s %10s %12.2f  (median; range %.2f-%.2f)\n",
               right ? "right" : "wrong", "all", "", "", median(ratios, ROUNDS),
               lo, hi);
    }
    printf("\nCPU per verify, mean of the runs (microseconds; the client "
           "process and its server backend)\n");
    printf("%-8s %16s %16s %12s\n", "code", "libmfa cli+srv", "bare cli+srv",
           "libmfa/bare");
    for (right = 1; right >= 0; right--) {
        double l = cpu[LIBMFA][right][0] + cpu[LIBMFA][right][1];
        double b = cpu[BARE][right][0] + cpu[BARE][right][1];
        printf("%-8s %7.1f+%-8.1f %7.1f+%-8.1f %12.2f\n",
               right ? "right" : "wrong", 1e6 * cpu[LIBMFA][right][0],
               1e6 * cpu[LIBMFA][right][1], 1e6 * cpu[BARE][right][0],
               1e6 * cpu[BARE][right][1], l / b);
    }
    printf("\ncommits per verify (server counters, %d verifies less none)\n",
           COMMIT_RUN);
    printf("%-16s %12s %16s\n", "", "xact_commit", "transaction ids");
    {
        static const char *const what[] = {"libmfa right", "libmfa wrong",
                                           "bare right"};
        for (i = 0; i < 3; i++)
            printf("%-16s %12.3f %16.3f\n", what[i], commits[i], xids[i]);
    }
    printf("\ncommits per flow (%d flows, recover %d, less none)\n", FLOW_RUN,
           RECOVER_RUN);
    printf("%-32s %12s %16s\n", "", "xact_commit", "transaction ids");
    for (i = 0; i < FL_COUNT; i++)
        printf("%-32s %12.2f %16.2f\n", flow_name[i], fc[i], fx[i]);
    printf("\nright codes, each process its own account and connection, "
           "%.1f s per run, 3 runs each (verifies/s, medians)\n",
           seconds);
    printf("%-8s %12s %12s %10s\n", "", "1 process", "4 processes", "4 / 1");
    for (kind = 0; kind < 2; kind++) {
        double one = median(scale[kind][0], 3),
               four = median(scale[kind][1], 3);
        printf("%-8s %12.0f %12.0f %10.2f\n", kind == BARE ? "bare" : "libmfa",
               one, four, one > 0 ? four / one : -1);
    }
    PQfinish(a);
    pgt_drop_schemas(conninfo, schema);
    mfa_keyring_free(&kr);
    return EXIT_SUCCESS;
}
