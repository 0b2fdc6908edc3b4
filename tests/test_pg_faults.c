/*
 * Faults of the PostgreSQL store:
 *   - the server stopped and started again while two application servers
 *     race codes: every call fails during the outage (nothing accepted
 *     without the database), exactly one acceptance per round before and
 *     after, never two;
 *   - a connection killed with pg_terminate_backend in the middle of a
 *     transaction (a verify that read the factors and waits to spend the
 *     step, a wrong code being counted, an account reset, backup codes
 *     replaced after some rows were written): nothing of it remains, the
 *     call reports an error and accepts nothing, and the next call works;
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
    rc = pgt_create(&s, conninfo, schema);
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

/* Hold the row locks of the account's rows in table (FOR UPDATE) in c's
 * open transaction. */
static void
lock_rows(PGconn *c, const char *table, const char *where)
{
    char sql[512];

    ck_assert_int_eq(pgt_exec(c, "BEGIN"), 0);
    snprintf(sql, sizeof(sql),
             "SELECT * FROM \"%s\".%s WHERE account = '%s'%s FOR UPDATE",
             schema, table, ACCOUNT, where);
    ck_assert_int_eq(pgt_exec(c, sql), 0);
}

static long long
count_rows(PGconn *c, const char *table)
{
    char sql[512];

    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM \"%s\".%s WHERE account = '%s'", schema,
             table, ACCOUNT);
    return pgt_scalar(c, sql);
}

static long long
failures(PGconn *c)
{
    char sql[512];

    snprintf(sql, sizeof(sql),
             "SELECT coalesce(sum(failures), 0) FROM \"%s\".throttle WHERE "
             "account = '%s'",
             schema, ACCOUNT);
    return pgt_scalar(c, sql);
}

static long long
last_step(PGconn *c, const char *factor)
{
    char sql[512];

    snprintf(sql, sizeof(sql),
             "SELECT last_step FROM \"%s\".factor WHERE id = '%s'", schema,
             factor);
    return pgt_scalar(c, sql);
}

/* A call of the service or of the backend, run by a thread that blocks. */
typedef struct blocked_call {
    int what;
    mfa_ctx_t *ctx;
    mfa_store_t *s;
    const char *code;
    const mfa_backup_rec *codes;
    size_t n;
    mfa_rc rc;
} blocked_call;

enum { CALL_VERIFY, CALL_RESET, CALL_BACKUP_REPLACE };

/* The backend's replacement of a set of backup codes: clear, insert. */
static mfa_rc
backup_replace(mfa_store_t *s, const mfa_backup_rec *codes, size_t n,
               int64_t now)
{
    const mfa_store_backend *be = PGT_BE(s);
    mfa_store_txn *t;
    mfa_rc rc;
    size_t i;

    if ((rc = pgt_begin(s, ACCOUNT, MFA_TXN_WRITE, &t)) != MFA_OK)
        return rc;
    rc = be->backup_clear(t, ACCOUNT);
    for (i = 0; i < n && rc == MFA_OK; i++)
        rc = be->backup_insert(t, ACCOUNT, &codes[i], now);
    if (rc != MFA_OK) {
        be->rollback(t);
        return rc;
    }
    return be->commit(t);
}

static void *
blocked_thread(void *arg)
{
    blocked_call *b = arg;
    mfa_result res;

    switch (b->what) {
    case CALL_VERIFY:
        b->rc = mfa_verify(b->ctx, ACCOUNT, b->code, &res);
        break;
    case CALL_RESET:
        b->rc = mfa_reset(b->ctx, ACCOUNT);
        break;
    default:
        b->rc = backup_replace(b->s, b->codes, b->n, T_START + 100);
        break;
    }
    return NULL;
}

/* Run b in a thread until it blocks on c's locks, kill its connection,
 * and return what the call said. */
static mfa_rc
kill_blocked(PGconn *c, blocked_call *b)
{
    pthread_t th;
    long long pid;

    ck_assert_int_eq(pthread_create(&th, NULL, blocked_thread, b), 0);
    pid = find_blocked(c);
    ck_assert_msg(pid > 0, "the call never blocked");
    terminate(c, pid);
    pthread_join(th, NULL);
    ck_assert_int_eq(pgt_exec(c, "ROLLBACK"), 0);
    return b->rc;
}

typedef struct fixture {
    mfa_store_t *s;
    mfa_ctx_t *ctx;
    int64_t now;
    uint32_t kid;
} fixture;

static void
fixture_open(fixture *fx)
{
    memset(fx, 0, sizeof(*fx));
    fx->now = T_START;
    fx->s = open_fresh();
    ck_assert_int_eq(mfa_keyring_new(&kr), MFA_OK);
    ck_assert_int_eq(mfa_keyring_generate(kr, &fx->kid), MFA_OK);
    ck_assert_int_eq(mfa_ctx_new(&fx->ctx, fx->s, kr), MFA_OK);
    mfa_ctx_set_clock(fx->ctx, pgt_clock, &fx->now);
    ck_assert_int_eq(pgt_enroll(fx->ctx, &fx->now, ACCOUNT, &user), 0);
}

static void
fixture_close(fixture *fx)
{
    mfa_ctx_free(&fx->ctx);
    mfa_store_free(&fx->s);
    mfa_otp_free(&user.otp);
    mfa_keyring_free(&kr);
}

/*
 * A right code whose verify transaction is killed after it read the
 * factors, while it waits to spend the step: nothing accepted, the step
 * unspent (the same code is accepted once afterwards), no attempt left
 * counted by the dead transaction.
 */
START_TEST(kill_mid_verify)
{
    fixture fx;
    PGconn *c = pgt_connect(conninfo);
    blocked_call b;
    char code[16];
    mfa_result res;
    long long step;

    ck_assert_ptr_nonnull(c);
    fixture_open(&fx);
    fx.now += 60;
    pgt_code(&user, fx.now, code);
    step = last_step(c, user.factor);
    ck_assert_int_eq(step, T_START / 30);
    ck_assert_int_eq(failures(c), 0);

    lock_rows(c, "factor", "");
    memset(&b, 0, sizeof(b));
    b.what = CALL_VERIFY;
    b.ctx = fx.ctx;
    b.code = code;
    ck_assert_int_eq(kill_blocked(c, &b), MFA_ERR_STORE);

    ck_assert_int_eq(last_step(c, user.factor), step);
    ck_assert_int_eq(failures(c), 0);
    /* the step was never spent: the code logs in once, then no more */
    ck_assert_int_eq(mfa_verify(fx.ctx, ACCOUNT, code, &res), MFA_OK);
    ck_assert_int_eq(last_step(c, user.factor), fx.now / 30);
    ck_assert_int_eq(mfa_verify(fx.ctx, ACCOUNT, code, &res), MFA_ERR_REPLAYED);
    PQfinish(c);
    fixture_close(&fx);
}
END_TEST

/* A wrong code whose transaction is killed while it counts: not let
 * through, not counted; the next attempt counts from the old value. */
START_TEST(kill_mid_count)
{
    fixture fx;
    PGconn *c = pgt_connect(conninfo);
    blocked_call b;
    char code[16];
    mfa_result res;
    int i;

    ck_assert_ptr_nonnull(c);
    fixture_open(&fx);
    pgt_wrong_code(&user, fx.now, code);
    for (i = 0; i < 2; i++)
        ck_assert_int_eq(mfa_verify(fx.ctx, ACCOUNT, code, &res),
                         MFA_ERR_CODE_WRONG);
    ck_assert_int_eq(failures(c), 2);

    lock_rows(c, "throttle", "");
    memset(&b, 0, sizeof(b));
    b.what = CALL_VERIFY;
    b.ctx = fx.ctx;
    b.code = code;
    ck_assert_int_eq(kill_blocked(c, &b), MFA_ERR_STORE);
    ck_assert_int_eq(failures(c), 2);
    ck_assert_int_eq(mfa_verify(fx.ctx, ACCOUNT, code, &res),
                     MFA_ERR_CODE_WRONG);
    ck_assert_int_eq(failures(c), 3);
    PQfinish(c);
    fixture_close(&fx);
}
END_TEST

static mfa_rc
drop_sms(const char *account, const char *purpose, const char *code, void *arg)
{
    (void)account;
    (void)purpose;
    (void)code;
    (void)arg;
    return MFA_OK;
}

START_TEST(kill_mid_account_reset)
{
    static const char *const tables[] = {"factor", "backup_code", "throttle",
                                         "oob_challenge"};
    fixture fx;
    PGconn *c = pgt_connect(conninfo);
    blocked_call b;
    char **codes = NULL, code[16];
    mfa_result res;
    long long before[4];
    int i, has = 0;

    ck_assert_ptr_nonnull(c);
    fixture_open(&fx);
    ck_assert_int_eq(mfa_backup_codes_new(fx.ctx, ACCOUNT, 4, &codes), MFA_OK);
    mfa_backup_codes_free(&codes, 4);
    mfa_ctx_set_oob_sender(fx.ctx, drop_sms, NULL);
    ck_assert_int_eq(mfa_oob_begin(fx.ctx, ACCOUNT, "sms"), MFA_OK);
    pgt_wrong_code(&user, fx.now, code);
    ck_assert_int_eq(mfa_verify(fx.ctx, ACCOUNT, code, &res),
                     MFA_ERR_CODE_WRONG);
    for (i = 0; i < 4; i++) {
        before[i] = count_rows(c, tables[i]);
        ck_assert_int_ge(before[i], 1);
    }

    lock_rows(c, "throttle", "");
    memset(&b, 0, sizeof(b));
    b.what = CALL_RESET;
    b.ctx = fx.ctx;
    ck_assert_int_eq(kill_blocked(c, &b), MFA_ERR_STORE);

    /* all of the account is still there */
    for (i = 0; i < 4; i++)
        ck_assert_int_eq(count_rows(c, tables[i]), before[i]);
    ck_assert_int_eq(mfa_account_has_mfa(fx.ctx, ACCOUNT, &has), MFA_OK);
    ck_assert_int_eq(has, 1);
    /* and a reset that is not interrupted removes all of it */
    ck_assert_int_eq(mfa_reset(fx.ctx, ACCOUNT), MFA_OK);
    for (i = 0; i < 4; i++)
        ck_assert_int_eq(count_rows(c, tables[i]), 0);
    PQfinish(c);
    fixture_close(&fx);
}
END_TEST

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
    mfa_store_txn *t;
    size_t k = 0, i, j;

    ck_assert_int_eq(pgt_begin(s, ACCOUNT, MFA_TXN_READ, &t), MFA_OK);
    ck_assert_int_eq(
        PGT_BE(s)->backup_list(t, ACCOUNT, got, MFA_BACKUP_COUNT_MAX, &k),
        MFA_OK);
    ck_assert_int_eq(PGT_BE(s)->commit(t), MFA_OK);
    ck_assert_uint_eq(k, n);
    for (i = 0; i < n; i++) {
        int found = 0;
        for (j = 0; j < k; j++)
            found |=
                memcmp(want[i].hash, got[j].hash, MFA_BACKUP_HASHBYTES) == 0;
        ck_assert_msg(found, "code %zu missing", i);
    }
}

/* The backend alone: a transaction that deleted rows and wrote some when
 * its connection dies leaves nothing of either. */
START_TEST(kill_mid_backup_replace)
{
    mfa_store_t *s = open_fresh();
    mfa_backup_rec old[3], fresh[5];
    PGconn *c = pgt_connect(conninfo);
    char sql[512], hex[2 * MFA_BACKUP_HASHBYTES + 1];
    blocked_call b;

    ck_assert_ptr_nonnull(c);
    fill_codes(old, 3);
    fill_codes(fresh, 5);
    ck_assert_int_eq(backup_replace(s, old, 3, T_START), MFA_OK);

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
    b.what = CALL_BACKUP_REPLACE;
    b.s = s;
    b.codes = fresh;
    b.n = 5;
    ck_assert_int_eq(kill_blocked(c, &b), MFA_ERR_STORE);

    /* nothing of the killed transaction: the old set, whole */
    assert_codes(s, old, 3);
    /* and the store works again on a new connection */
    ck_assert_int_eq(backup_replace(s, fresh, 5, T_START + 200), MFA_OK);
    assert_codes(s, fresh, 5);
    PQfinish(c);
    mfa_store_free(&s);
}
END_TEST

/* A connection killed between a flow's last write and its COMMIT: the
 * commit is an error, nothing was written, and the next flow works. */
START_TEST(kill_before_commit)
{
    mfa_store_t *first = open_fresh(), *s = NULL;
    const mfa_store_backend *be;
    PGconn *c = pgt_connect(conninfo);
    mfa_throttle_rec th;
    mfa_store_txn *t;
    char sql[512], app[40], ci[1200];
    int i;

    ck_assert_ptr_nonnull(c);
    pgt_random_name(app, sizeof(app), "mfa_fc_");
    snprintf(ci, sizeof(ci), "%s application_name=%s", conninfo, app);
    ck_assert_int_eq(mfa_store_postgres_open(&s, ci, schema), MFA_OK);
    mfa_store_free(&first);
    be = PGT_BE(s);
    ck_assert_int_eq(pgt_begin(s, ACCOUNT, MFA_TXN_WRITE, &t), MFA_OK);
    memset(&th, 0, sizeof(th));
    th.failures = 9;
    th.updated = T_START;
    ck_assert_int_eq(be->throttle_put(t, ACCOUNT, &th), MFA_OK);
    snprintf(sql, sizeof(sql),
             "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
             "WHERE application_name = '%s' AND state = 'idle in "
             "transaction'",
             app);
    ck_assert_int_eq(pgt_scalar(c, sql), 1);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
             "'%s'",
             app);
    for (i = 0; i < 500 && pgt_scalar(c, sql) != 0; i++)
        sleep_ms(10);
    ck_assert_int_eq(be->commit(t), MFA_ERR_STORE);
    ck_assert_int_eq(pgt_failures(s, ACCOUNT, ""), 0);
    ck_assert_int_eq(pgt_begin(s, ACCOUNT, MFA_TXN_WRITE, &t), MFA_OK);
    ck_assert_int_eq(be->throttle_put(t, ACCOUNT, &th), MFA_OK);
    ck_assert_int_eq(be->commit(t), MFA_OK);
    ck_assert_int_eq(pgt_failures(s, ACCOUNT, ""), 9);
    PQfinish(c);
    mfa_store_free(&s);
}
END_TEST

/* ---- a passkey login's store part killed halfway ------------------------ */

#define PK_FID "00000000000000a1"

static void
pk_insert(mfa_store_t *s)
{
    const mfa_store_backend *be = PGT_BE(s);
    mfa_webauthn_rec w;
    mfa_store_txn *t;

    memset(&w, 0, sizeof(w));
    memcpy(w.factor_id, PK_FID, sizeof(PK_FID));
    w.cred.id_len = 32;
    memset(w.cred.id, 0xc1, w.cred.id_len);
    w.cred.public_key_len = 77;
    memset(w.cred.public_key, 0xa5, w.cred.public_key_len);
    w.cred.algorithm = MFA_WEBAUTHN_ES256;
    w.cred.sign_count = 7;
    w.cred.flags = MFA_WEBAUTHN_FLAG_UP;
    w.cred.user_handle_len = 16;
    memset(w.cred.user_handle, 0x99, w.cred.user_handle_len);
    w.created = T_START;
    ck_assert_int_eq(pgt_begin(s, ACCOUNT, MFA_TXN_WRITE, &t), MFA_OK);
    ck_assert_int_eq(be->webauthn_insert(t, ACCOUNT, &w), MFA_OK);
    ck_assert_int_eq(be->commit(t), MFA_OK);
}

/* The steps of a login in an open transaction: the credential read, its
 * sign count + 1 stored, the nonce spent, the old nonces expired. */
static mfa_rc
pk_steps(mfa_store_t *s, mfa_store_txn *t, const uint8_t nonce[16])
{
    const mfa_store_backend *be = PGT_BE(s);
    mfa_webauthn_rec w;
    size_t n = 0;
    mfa_rc rc;

    if ((rc = be->webauthn_get(t, ACCOUNT, PK_FID, &w)) != MFA_OK)
        return rc;
    w.cred.sign_count++;
    w.last_used = T_START + 10;
    if ((rc = be->webauthn_update(t, ACCOUNT, &w)) != MFA_OK)
        return rc;
    if ((rc = be->webauthn_spend(t, ACCOUNT, nonce, T_START + 300)) != MFA_OK)
        return rc;
    return be->webauthn_spent_expire(t, ACCOUNT, T_START, &n);
}

static long long
pk_sign_count(PGconn *c)
{
    char sql[256];

    snprintf(sql, sizeof(sql),
             "SELECT sign_count FROM \"%s\".webauthn_credential WHERE "
             "factor_id = '%s'",
             schema, PK_FID);
    return pgt_scalar(c, sql);
}

typedef struct pk_call {
    mfa_store_t *s;
    const uint8_t *nonce;
    mfa_rc rc;
} pk_call;

static void *
pk_thread(void *arg)
{
    pk_call *p = arg;
    mfa_store_txn *t;

    p->rc = pgt_begin(p->s, ACCOUNT, MFA_TXN_WRITE, &t);
    if (p->rc != MFA_OK)
        return NULL;
    p->rc = pk_steps(p->s, t, p->nonce);
    if (p->rc == MFA_OK)
        p->rc = PGT_BE(p->s)->commit(t);
    else
        PGT_BE(p->s)->rollback(t);
    return NULL;
}

/*
 * A passkey login's transaction killed while its spend waits (another
 * session inserted the same nonce and has not committed), and another
 * killed between its last write and COMMIT: an error each time, the sign
 * count and the spent nonces as before, and the same nonce is spent once
 * afterwards.
 */
START_TEST(kill_mid_passkey_login)
{
    mfa_store_t *first = open_fresh(), *s = NULL;
    const mfa_store_backend *be;
    PGconn *c = pgt_connect(conninfo);
    uint8_t nonce[16];
    char sql[512], app[40], ci[1200], hex[33];
    mfa_store_txn *t;
    pthread_t th;
    pk_call p;
    long long pid;
    int i;

    ck_assert_ptr_nonnull(c);
    pgt_random_name(app, sizeof(app), "mfa_fp_");
    snprintf(ci, sizeof(ci), "%s application_name=%s", conninfo, app);
    ck_assert_int_eq(mfa_store_postgres_open(&s, ci, schema), MFA_OK);
    be = PGT_BE(s);
    pk_insert(s);
    memset(nonce, 0x5e, sizeof(nonce));
    sodium_bin2hex(hex, sizeof(hex), nonce, sizeof(nonce));

    /* blocked in the spend, then killed */
    ck_assert_int_eq(pgt_exec(c, "BEGIN"), 0);
    snprintf(sql, sizeof(sql),
             "INSERT INTO \"%s\".webauthn_spent VALUES ('%s', '\\x%s', %d)",
             schema, ACCOUNT, hex, T_START + 300);
    ck_assert_int_eq(pgt_exec(c, sql), 0);
    p.s = first; /* application_name libmfa: find_blocked sees it */
    p.nonce = nonce;
    p.rc = MFA_ERR_INTERNAL;
    ck_assert_int_eq(pthread_create(&th, NULL, pk_thread, &p), 0);
    pid = find_blocked(c);
    ck_assert_msg(pid > 0, "the spend never blocked");
    terminate(c, pid);
    pthread_join(th, NULL);
    ck_assert_int_eq(p.rc, MFA_ERR_STORE);
    ck_assert_int_eq(pgt_exec(c, "ROLLBACK"), 0);
    ck_assert_int_eq(pk_sign_count(c), 7);
    ck_assert_int_eq(count_rows(c, "webauthn_spent"), 0);
    mfa_store_free(&first);

    /* every write done, killed before COMMIT */
    ck_assert_int_eq(pgt_begin(s, ACCOUNT, MFA_TXN_WRITE, &t), MFA_OK);
    ck_assert_int_eq(pk_steps(s, t, nonce), MFA_OK);
    snprintf(sql, sizeof(sql),
             "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
             "WHERE application_name = '%s' AND state = 'idle in "
             "transaction'",
             app);
    ck_assert_int_eq(pgt_scalar(c, sql), 1);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
             "'%s' AND state = 'idle in transaction'",
             app);
    for (i = 0; i < 500 && pgt_scalar(c, sql) != 0; i++)
        sleep_ms(10);
    ck_assert_int_eq(be->commit(t), MFA_ERR_STORE);
    ck_assert_int_eq(pk_sign_count(c), 7);
    ck_assert_int_eq(count_rows(c, "webauthn_spent"), 0);

    /* the nonce was never spent: once now, then refused */
    ck_assert_int_eq(pgt_begin(s, ACCOUNT, MFA_TXN_WRITE, &t), MFA_OK);
    ck_assert_int_eq(pk_steps(s, t, nonce), MFA_OK);
    ck_assert_int_eq(be->commit(t), MFA_OK);
    ck_assert_int_eq(pk_sign_count(c), 8);
    ck_assert_int_eq(count_rows(c, "webauthn_spent"), 1);
    ck_assert_int_eq(pgt_begin(s, ACCOUNT, MFA_TXN_WRITE, &t), MFA_OK);
    ck_assert_int_eq(pk_steps(s, t, nonce), MFA_ERR_EXISTS);
    be->rollback(t);
    ck_assert_int_eq(pk_sign_count(c), 8);
    PQfinish(c);
    mfa_store_free(&s);
}
END_TEST

START_TEST(idle_connection_killed)
{
    mfa_store_t *first = open_fresh(), *s = NULL;
    PGconn *c = pgt_connect(conninfo);
    char sql[512], app[40], ci[1200];
    int i;

    ck_assert_ptr_nonnull(c);
    /* a handle whose connections the test can tell from the others */
    pgt_random_name(app, sizeof(app), "mfa_fi_");
    snprintf(ci, sizeof(ci), "%s application_name=%s", conninfo, app);
    ck_assert_int_eq(mfa_store_postgres_open(&s, ci, schema), MFA_OK);
    mfa_store_free(&first);
    ck_assert_int_eq(pgt_failures(s, ACCOUNT, ""), 0);
    snprintf(sql, sizeof(sql),
             "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
             "WHERE application_name = '%s'",
             app);
    ck_assert_int_ge(pgt_scalar(c, sql), 1);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
             "'%s'",
             app);
    for (i = 0; i < 500 && pgt_scalar(c, sql) != 0; i++)
        sleep_ms(10);
    ck_assert_int_eq(pgt_scalar(c, sql), 0);
    /* the next transactions work: the dead connection is noticed and
     * replaced */
    for (i = 0; i < 3; i++)
        ck_assert_int_eq(pgt_failures(s, ACCOUNT, ""), 0);
    ck_assert_int_eq(pgt_scalar(c, sql), 1);
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
    tcase_add_test(tc, kill_mid_verify);
    tcase_add_test(tc, kill_mid_count);
    tcase_add_test(tc, kill_mid_account_reset);
    tcase_add_test(tc, kill_mid_backup_replace);
    tcase_add_test(tc, kill_before_commit);
    tcase_add_test(tc, kill_mid_passkey_login);
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
