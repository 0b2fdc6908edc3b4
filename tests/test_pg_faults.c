/*
 * Faults of the PostgreSQL store:
 *   - the server stopped and started again while two application servers
 *     race codes: every call fails during the outage (nothing accepted
 *     without the database), exactly one acceptance per round before and
 *     after, never two;
 *   - a connection killed with pg_terminate_backend in the middle of a
 *     transaction (backup code replacement after some rows were written,
 *     the throttle count, an account reset): nothing of it remains, the
 *     call reports an error, and the next call works;
 *   - an idle pooled connection killed: the next call reconnects.
 * It restarts the test cluster, so meson runs it alone (is_parallel false).
 */
#include <pthread.h>
#include <signal.h>
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
#include "testutil.h"

#define T_START 1700000000
#define ACCOUNT "bob@example.com"

static const char *conninfo;
static char run_prefix[32];
static char schema[64];

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static mfa_store_t *
open_fresh(void)
{
    mfa_store_t *s = NULL;
    mfa_rc rc;

    pgt_random_name(schema, sizeof(schema), run_prefix);
    rc = mfa_store_postgres_open(&s, conninfo, schema);
    ck_assert_msg(rc == MFA_OK, "open: %s", mfa_strerror_name(rc));
    return s;
}

/* ---- restart in the middle of a run ---------------------------------- */

#define PROCS 2
#define MAXR 6000

enum { PH_UP, PH_STOPPING, PH_DOWN, PH_STARTING, PH_UP_AGAIN };

typedef struct shared {
    pthread_barrier_t bar;
    volatile int phase; /* set by the parent */
    volatile int stop;
    volatile int round; /* rounds started */
    int phase_at[MAXR]; /* phase when the round started */
    int go[MAXR];
    int16_t rc[MAXR][PROCS];
} shared;

static shared *sh;
static pgt_user user;
static mfa_keyring_t *kr;

static void
server(int me)
{
    mfa_throttle_policy lenient = {1000000, 30, 3600};
    mfa_store_t *store = NULL;
    mfa_ctx_t *ctx = NULL;
    int64_t now = T_START;
    char code[16];
    mfa_result res;
    int r, bad = 0;

    alarm(240);
    if (mfa_store_postgres_open(&store, conninfo, schema) != MFA_OK ||
        mfa_ctx_new(&ctx, store, kr) != MFA_OK ||
        mfa_ctx_set_throttle(ctx, &lenient) != MFA_OK)
        bad = 1;
    else
        mfa_ctx_set_clock(ctx, pgt_clock, &now);
    for (r = 0; r < MAXR; r++) {
        pthread_barrier_wait(&sh->bar);
        if (me == 0) {
            /* one decision per round, read by both after the barrier */
            sh->go[r] = !sh->stop && r < MAXR - 1;
            sh->phase_at[r] = sh->phase;
            sh->round = r;
        }
        pthread_barrier_wait(&sh->bar);
        if (!sh->go[r])
            break;
        now = T_START + 30 * (int64_t)(r + 1);
        pgt_code(&user, now, code);
        sh->rc[r][me] =
            (int16_t)(bad ? MFA_ERR_INTERNAL
                          : mfa_verify(ctx, user.account, code, &res));
        if (sh->phase_at[r] != PH_UP && sh->phase_at[r] != PH_UP_AGAIN)
            sleep_ms(2); /* failing calls are fast: let rounds be few */
    }
    mfa_ctx_free(&ctx);
    mfa_store_free(&store);
    _exit(bad ? 2 : 0);
}

static int
cluster(const char *cmd)
{
    const char *root = getenv("MFA_SOURCE_ROOT");
    const char *dir = getenv("MFA_PG_DIR");
    char line[4096];

    if (root == NULL || dir == NULL)
        return -1;
    snprintf(line, sizeof(line), "'%s/scripts/pg-cluster.sh' %s '%s'", root,
             cmd, dir);
    return system(line) == 0 ? 0 : -1;
}

static void
wait_rounds(int n)
{
    int until = sh->round + n, waited = 0;

    while (sh->round < until && waited < 60000) {
        sleep_ms(5);
        waited += 5;
    }
}

START_TEST(restart_mid_run)
{
    pthread_barrierattr_t ba;
    mfa_store_t *store;
    mfa_ctx_t *ctx = NULL;
    int64_t now = T_START;
    pid_t pids[PROCS];
    int i, r, status, n[5] = {0}, errors_down = 0, doubles = 0;
    int exact[5] = {0};
    uint32_t kid;

    ck_assert_msg(getenv("MFA_PG_DIR") != NULL,
                  "MFA_PG_DIR is not set: the restart test needs the "
                  "throwaway cluster of scripts/pg-cluster.sh");
    sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert(sh != MAP_FAILED);
    memset(sh, 0, sizeof(*sh));
    pthread_barrierattr_init(&ba);
    pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED);
    pthread_barrier_init(&sh->bar, &ba, PROCS);

    ck_assert_int_eq(mfa_keyring_new(&kr), MFA_OK);
    ck_assert_int_eq(mfa_keyring_generate(kr, &kid), MFA_OK);
    store = open_fresh();
    ck_assert_int_eq(mfa_ctx_new(&ctx, store, kr), MFA_OK);
    mfa_ctx_set_clock(ctx, pgt_clock, &now);
    ck_assert_int_eq(pgt_enroll(ctx, &now, ACCOUNT, &user), 0);
    mfa_ctx_free(&ctx);
    mfa_store_free(&store); /* no connection shared with the children */

    for (i = 0; i < PROCS; i++) {
        pids[i] = fork();
        ck_assert(pids[i] >= 0);
        if (pids[i] == 0)
            server(i);
    }
    wait_rounds(30);
    sh->phase = PH_STOPPING;
    /* every round labelled "up" has ended before the server stops */
    wait_rounds(2);
    ck_assert_int_eq(cluster("down"), 0);
    sh->phase = PH_DOWN;
    wait_rounds(30);
    sh->phase = PH_STARTING;
    ck_assert_int_eq(cluster("up"), 0);
    sh->phase = PH_UP_AGAIN;
    wait_rounds(50);
    sh->stop = 1;
    for (i = 0; i < PROCS; i++) {
        waitpid(pids[i], &status, 0);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                      "server %d failed", i);
    }

    for (r = 0; r < MAXR && sh->go[r]; r++) {
        int ph = sh->phase_at[r], ok = 0, err = 0;
        for (i = 0; i < PROCS; i++) {
            ok += sh->rc[r][i] == MFA_OK;
            err += sh->rc[r][i] == MFA_ERR_STORE;
        }
        n[ph]++;
        exact[ph] += ok == 1;
        doubles += ok > 1;
        if (ph == PH_DOWN)
            errors_down += err == PROCS;
    }
    printf("restart: rounds up %d, stopping %d, down %d, starting %d, up "
           "again %d\n",
           n[PH_UP], n[PH_STOPPING], n[PH_DOWN], n[PH_STARTING],
           n[PH_UP_AGAIN]);
    ck_assert_int_eq(doubles, 0);
    ck_assert_int_ge(n[PH_UP], 30);
    ck_assert_int_eq(exact[PH_UP], n[PH_UP]);
    /* while down: every call of every server failed with MFA_ERR_STORE */
    ck_assert_int_ge(n[PH_DOWN], 30);
    ck_assert_int_eq(errors_down, n[PH_DOWN]);
    /* back up: every round has its one acceptance again */
    ck_assert_int_ge(n[PH_UP_AGAIN], 50);
    ck_assert_int_eq(exact[PH_UP_AGAIN], n[PH_UP_AGAIN]);
    mfa_otp_free(&user.otp);
    mfa_keyring_free(&kr);
}
END_TEST

/* ---- pg_terminate_backend in the middle of a transaction -------------- */

typedef struct blocked_call {
    mfa_store_t *s;
    int what; /* 0 backup_replace, 1 throttle_hit, 2 account_reset */
    const mfa_backup_rec *codes;
    size_t n;
    mfa_rc rc;
} blocked_call;

static void *
blocked_thread(void *arg)
{
    blocked_call *b = arg;
    mfa_throttle_policy p = {5, 30, 3600};
    mfa_throttle_state st;

    switch (b->what) {
    case 0:
        b->rc = mfa_store_backup_replace(b->s, ACCOUNT, b->codes, b->n,
                                         T_START + 100);
        break;
    case 1:
        b->rc = mfa_store_throttle_hit(b->s, ACCOUNT, T_START + 100, &p, &st);
        break;
    default:
        b->rc = mfa_store_account_reset(b->s, ACCOUNT);
        break;
    }
    return NULL;
}

/*
 * The store's backend that waits for a lock on a statement of our schema;
 * 0 when none within 10 s.
 */
static long long
find_blocked(PGconn *c)
{
    char sql[512];
    long long pid = 0;
    int i;

    snprintf(sql, sizeof(sql),
             "SELECT coalesce(max(pid), 0) FROM pg_stat_activity WHERE "
             "application_name = 'libmfa' AND wait_event_type = 'Lock' AND "
             "position('\"%s\"' in query) > 0",
             schema);
    for (i = 0; i < 1000 && pid == 0; i++) {
        /* c is inside the transaction that holds the lock, where the
         * activity view is a snapshot taken once */
        ck_assert_int_eq(pgt_exec(c, "SELECT pg_stat_clear_snapshot()"), 0);
        pid = pgt_scalar(c, sql);
        if (pid <= 0) {
            pid = 0;
            sleep_ms(10);
        }
    }
    return pid;
}

static void
terminate(PGconn *c, long long pid)
{
    char sql[128];

    snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%lld)", pid);
    ck_assert_int_eq(pgt_exec(c, sql), 0);
}

static void
fill_codes(mfa_backup_rec *codes, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        randombytes_buf(codes[i].hash, sizeof(codes[i].hash));
        codes[i].key_id = 1;
    }
}

/* the account's unused codes are exactly want[0..n) */
static void
assert_codes(mfa_store_t *s, const mfa_backup_rec *want, size_t n)
{
    mfa_backup_rec got[MFA_BACKUP_COUNT_MAX];
    size_t k = 0, i, j;

    ck_assert_int_eq(
        mfa_store_backup_list(s, ACCOUNT, got, MFA_BACKUP_COUNT_MAX, &k),
        MFA_OK);
    ck_assert_uint_eq(k, n);
    for (i = 0; i < n; i++) {
        int found = 0;
        for (j = 0; j < k; j++)
            found |=
                memcmp(want[i].hash, got[j].hash, MFA_BACKUP_HASHBYTES) == 0;
        ck_assert_msg(found, "code %zu missing", i);
    }
}

START_TEST(kill_mid_backup_replace)
{
    mfa_store_t *s = open_fresh();
    mfa_backup_rec old[3], fresh[5];
    PGconn *c = pgt_connect(conninfo);
    char sql[512], hex[2 * MFA_BACKUP_HASHBYTES + 1];
    blocked_call b;
    pthread_t th;
    long long pid;

    ck_assert_ptr_nonnull(c);
    fill_codes(old, 3);
    fill_codes(fresh, 5);
    ck_assert_int_eq(mfa_store_backup_replace(s, ACCOUNT, old, 3, T_START),
                     MFA_OK);

    /* hold the key of the third new code in an open transaction: the
     * replacement deletes the old set, writes two codes and then waits */
    sodium_bin2hex(hex, sizeof(hex), fresh[2].hash, MFA_BACKUP_HASHBYTES);
    ck_assert_int_eq(pgt_exec(c, "BEGIN"), 0);
    snprintf(sql, sizeof(sql),
             "INSERT INTO \"%s\".backup_code (account, hash, key_id, "
             "created) VALUES ('%s', '\\x%s', 1, 0)",
             schema, ACCOUNT, hex);
    ck_assert_int_eq(pgt_exec(c, sql), 0);

    memset(&b, 0, sizeof(b));
    b.s = s;
    b.what = 0;
    b.codes = fresh;
    b.n = 5;
    ck_assert_int_eq(pthread_create(&th, NULL, blocked_thread, &b), 0);
    pid = find_blocked(c);
    ck_assert_msg(pid > 0, "the replacement never blocked");
    /* it has deleted the old codes and inserted two new ones by now */
    terminate(c, pid);
    pthread_join(th, NULL);
    ck_assert_int_eq(b.rc, MFA_ERR_STORE);
    ck_assert_int_eq(pgt_exec(c, "ROLLBACK"), 0);

    /* nothing of the killed transaction: the old set, whole */
    assert_codes(s, old, 3);
    /* and the store works again on a new connection */
    ck_assert_int_eq(
        mfa_store_backup_replace(s, ACCOUNT, fresh, 5, T_START + 200), MFA_OK);
    assert_codes(s, fresh, 5);
    PQfinish(c);
    mfa_store_free(&s);
}
END_TEST

START_TEST(kill_mid_throttle_hit)
{
    mfa_store_t *s = open_fresh();
    mfa_throttle_policy p = {5, 30, 3600};
    mfa_throttle_state st;
    PGconn *c = pgt_connect(conninfo);
    char sql[512];
    blocked_call b;
    pthread_t th;
    long long pid;
    int i;

    ck_assert_ptr_nonnull(c);
    for (i = 0; i < 3; i++)
        ck_assert_int_eq(mfa_store_throttle_hit(s, ACCOUNT, T_START, &p, &st),
                         MFA_OK);
    ck_assert_int_eq(pgt_exec(c, "BEGIN"), 0);
    snprintf(sql, sizeof(sql),
             "SELECT * FROM \"%s\".throttle WHERE account = '%s' FOR UPDATE",
             schema, ACCOUNT);
    ck_assert_int_eq(pgt_exec(c, sql), 0);
    memset(&b, 0, sizeof(b));
    b.s = s;
    b.what = 1;
    ck_assert_int_eq(pthread_create(&th, NULL, blocked_thread, &b), 0);
    pid = find_blocked(c);
    ck_assert_msg(pid > 0, "the attempt never blocked");
    terminate(c, pid);
    pthread_join(th, NULL);
    /* an attempt that could not be counted is never let through */
    ck_assert_int_eq(b.rc, MFA_ERR_STORE);
    ck_assert_int_eq(pgt_exec(c, "ROLLBACK"), 0);
    ck_assert_int_eq(mfa_store_throttle_get(s, ACCOUNT, &st), MFA_OK);
    ck_assert_uint_eq(st.failures, 3);
    ck_assert_int_eq(mfa_store_throttle_hit(s, ACCOUNT, T_START, &p, &st),
                     MFA_OK);
    ck_assert_uint_eq(st.failures, 4);
    PQfinish(c);
    mfa_store_free(&s);
}
END_TEST

static mfa_rc
count_cb(const mfa_factor_rec *f, void *arg)
{
    (void)f;
    (*(int *)arg)++;
    return MFA_OK;
}

START_TEST(kill_mid_account_reset)
{
    mfa_store_t *s = open_fresh();
    mfa_throttle_policy p = {5, 30, 3600};
    mfa_throttle_state st;
    mfa_factor_rec f;
    mfa_backup_rec codes[4];
    mfa_oob_challenge oc, got;
    PGconn *c = pgt_connect(conninfo);
    char sql[512];
    blocked_call b;
    pthread_t th;
    long long pid;
    int nf = 0;

    ck_assert_ptr_nonnull(c);
    memset(&f, 0, sizeof(f));
    snprintf(f.id, sizeof(f.id), "0123456789abcdef");
    snprintf(f.account, sizeof(f.account), ACCOUNT);
    f.type = MFA_TOTP;
    f.algorithm = MFA_SHA1;
    f.digits = 6;
    f.period = 30;
    f.last_step = MFA_STEP_NONE;
    f.status = MFA_FACTOR_ACTIVE;
    f.created = T_START;
    f.sealed_len = 40;
    randombytes_buf(f.sealed, f.sealed_len);
    ck_assert_int_eq(mfa_store_factor_create(s, &f), MFA_OK);
    fill_codes(codes, 4);
    ck_assert_int_eq(mfa_store_backup_replace(s, ACCOUNT, codes, 4, T_START),
                     MFA_OK);
    memset(&oc, 0, sizeof(oc));
    randombytes_buf(oc.hash, sizeof(oc.hash));
    snprintf(oc.purpose, sizeof(oc.purpose), "sms");
    oc.created = T_START;
    oc.expires = T_START + 600;
    oc.attempts_left = 5;
    ck_assert_int_eq(mfa_store_oob_put(s, ACCOUNT, &oc), MFA_OK);
    ck_assert_int_eq(mfa_store_throttle_hit(s, ACCOUNT, T_START, &p, &st),
                     MFA_OK);

    ck_assert_int_eq(pgt_exec(c, "BEGIN"), 0);
    snprintf(sql, sizeof(sql),
             "SELECT * FROM \"%s\".throttle WHERE account = '%s' FOR UPDATE",
             schema, ACCOUNT);
    ck_assert_int_eq(pgt_exec(c, sql), 0);
    memset(&b, 0, sizeof(b));
    b.s = s;
    b.what = 2;
    ck_assert_int_eq(pthread_create(&th, NULL, blocked_thread, &b), 0);
    pid = find_blocked(c);
    ck_assert_msg(pid > 0, "the reset never blocked");
    terminate(c, pid);
    pthread_join(th, NULL);
    ck_assert_int_eq(b.rc, MFA_ERR_STORE);
    ck_assert_int_eq(pgt_exec(c, "ROLLBACK"), 0);

    /* all of the account is still there */
    ck_assert_int_eq(mfa_store_factor_list(s, ACCOUNT, count_cb, &nf), MFA_OK);
    ck_assert_int_eq(nf, 1);
    assert_codes(s, codes, 4);
    ck_assert_int_eq(mfa_store_oob_take(s, ACCOUNT, "sms", T_START, &got),
                     MFA_OK);
    ck_assert_int_eq(mfa_store_throttle_get(s, ACCOUNT, &st), MFA_OK);
    ck_assert_uint_eq(st.failures, 1);
    /* and a reset that is not interrupted removes all of it */
    ck_assert_int_eq(mfa_store_account_reset(s, ACCOUNT), MFA_OK);
    nf = 0;
    ck_assert_int_eq(mfa_store_factor_list(s, ACCOUNT, count_cb, &nf), MFA_OK);
    ck_assert_int_eq(nf, 0);
    assert_codes(s, codes, 0);
    PQfinish(c);
    mfa_store_free(&s);
}
END_TEST

START_TEST(idle_connection_killed)
{
    mfa_store_t *s = open_fresh();
    mfa_throttle_state st;
    PGconn *c = pgt_connect(conninfo);
    char sql[512];
    int i;

    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(mfa_store_throttle_get(s, ACCOUNT, &st), MFA_OK);
    /* every connection of this store (their last query names the schema) */
    snprintf(sql, sizeof(sql),
             "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
             "WHERE application_name = 'libmfa' AND position('\"%s\"' in "
             "query) > 0",
             schema);
    ck_assert_int_ge(pgt_scalar(c, sql), 1);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
             "'libmfa' AND position('\"%s\"' in query) > 0",
             schema);
    for (i = 0; i < 500 && pgt_scalar(c, sql) != 0; i++)
        sleep_ms(10);
    ck_assert_int_eq(pgt_scalar(c, sql), 0);
    /* the next calls work: the dead connection is noticed and replaced */
    for (i = 0; i < 3; i++)
        ck_assert_int_eq(mfa_store_throttle_get(s, ACCOUNT, &st), MFA_OK);
    PQfinish(c);
    mfa_store_free(&s);
}
END_TEST

int
main(void)
{
    Suite *su;
    TCase *tc;
    int rc;

    if (mfa_init() != MFA_OK)
        return EXIT_FAILURE;
    if ((conninfo = pgt_conninfo()) == NULL)
        return EXIT_FAILURE;
    pgt_random_name(run_prefix, sizeof(run_prefix), "mfa_f");
    run_prefix[strlen(run_prefix) - 4] = '\0';
    strcat(run_prefix, "_");

    su = suite_create("pg-faults");
    tc = tcase_create("kill");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, kill_mid_backup_replace);
    tcase_add_test(tc, kill_mid_throttle_hit);
    tcase_add_test(tc, kill_mid_account_reset);
    tcase_add_test(tc, idle_connection_killed);
    suite_add_tcase(su, tc);
    tc = tcase_create("restart");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, restart_mid_run);
    suite_add_tcase(su, tc);
    rc = tu_run(su);
    {
        /* a failed restart test must not leave the cluster down for the
         * tests that run after this one */
        PGconn *c = pgt_connect(conninfo);
        if (c == NULL && cluster("up") != 0)
            fprintf(stderr, "the test cluster is down and did not start\n");
        PQfinish(c);
    }
    if (pgt_drop_schemas(conninfo, run_prefix) != 0) {
        fprintf(stderr, "could not drop the test schemas %s*\n", run_prefix);
        rc = EXIT_FAILURE;
    }
    return rc;
}
