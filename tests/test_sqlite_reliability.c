/*
 * Reliability of the SQLite store across processes and failures, through
 * the service (mfa_verify, mfa_recover, mfa_oob_verify: the rules run in
 * one transaction per flow) and through the backend's transactions
 * (mfa_store_backend_of) where a test needs a multi-row write of its own.
 *
 * - 8 processes x 1,000 rounds send the same right code through mfa_verify
 *   on one factor of one file, each round released together by a
 *   process-shared barrier: exactly one acceptance per round.  The same
 *   for one backup code through mfa_recover and one out-of-band code
 *   through mfa_oob_verify (one account per round).
 * - 8 processes send 1,000 wrong codes in all at one instant: every one is
 *   counted, and only the free attempts and the one that sets the first
 *   delay are checked.
 * - 8 processes x 1,000 rounds spend the same passkey challenge nonce
 *   (backend transactions: read the credential, spend, count): exactly one
 *   spend per round, the sign count counts every one.
 * - A writer SIGKILLed at random moments: the file passes integrity_check,
 *   every acknowledged write is there, multi-row changes are whole, and the
 *   next call works.
 * - Read-only file, full database, a lock held past the timeout, garbage
 *   and damaged pages, a dropped table: a specific error, nothing accepted,
 *   nothing lost, no crash.
 *
 * Not a Check suite: prints one line per check and "N passed, N failed".
 * MFA_RELIABILITY_ROUNDS overrides the 1,000 rounds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include <mfa.h>
#include <mfa/store-backend.h>

#include "store/store_int.h"

#define PROCS 8
#define MAX_ROUNDS 10000
#define T0 INT64_C(1700000010) /* a multiple of 30 plus 0: step T0 / 30 */

static char tmpdir[] = "/tmp/mfa-rel-XXXXXX";
static int rounds = 1000;
static int passed, failed;
static const char *current;
static int current_failed;
static mfa_keyring_t *kr;

/* ---- tiny harness -------------------------------------------------------- */

static void
fail(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "  FAIL %s: ", current);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    current_failed = 1;
}

#define EXPECT(cond, ...)                                                      \
    do {                                                                       \
        if (!(cond))                                                           \
            fail(__VA_ARGS__);                                                 \
    } while (0)
#define EXPECT_RC(expr, want)                                                  \
    do {                                                                       \
        mfa_rc rc_ = (expr);                                                   \
        if (rc_ != (want))                                                     \
            fail("line %d: %s = %s, want %s", __LINE__, #expr,                 \
                 mfa_strerror_name(rc_), mfa_strerror_name(want));             \
    } while (0)

static void
run(const char *name, void (*fn)(void))
{
    struct timespec t0, t1;

    current = name;
    current_failed = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    fn();
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%s %s (%.2f s)\n", current_failed ? "FAIL" : "ok  ", name,
           (double)(t1.tv_sec - t0.tv_sec) +
               (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    fflush(stdout);
    if (current_failed)
        failed++;
    else
        passed++;
}

/* Results the writer does not need: it only has to keep writing. */
static void
ignore(mfa_rc rc)
{
    (void)rc;
}

static int
is_store_error(mfa_rc rc)
{
    return rc == MFA_ERR_STORE || rc == MFA_ERR_BUSY ||
           rc == MFA_ERR_READONLY || rc == MFA_ERR_CORRUPT ||
           rc == MFA_ERR_NOMEM || rc == MFA_ERR_SCHEMA;
}

static void
path_of(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s.db", tmpdir, name);
}

static mfa_store_t *
must_open(const char *path, int create)
{
    char spec[600];
    mfa_store_t *s = NULL;
    mfa_rc rc;

    snprintf(spec, sizeof(spec), "sqlite:%s", path);
    rc = create ? mfa_store_create(&s, spec) : mfa_store_open(&s, spec);
    if (rc != MFA_OK) {
        fprintf(stderr, "open %s: %s\n", path, mfa_strerror_name(rc));
        exit(EXIT_FAILURE);
    }
    return s;
}

/* The clock of every ctx of this process. */
static int64_t g_now = T0;

static int64_t
clock_fn(void *arg)
{
    (void)arg;
    return g_now;
}

static char g_oob_code[MFA_CODE_BUFSIZE];

static mfa_rc
oob_sender(const char *account, const char *purpose, const char *code,
           void *arg)
{
    (void)account;
    (void)purpose;
    (void)arg;
    snprintf(g_oob_code, sizeof(g_oob_code), "%s", code);
    return MFA_OK;
}

static mfa_ctx_t *
must_ctx(mfa_store_t *s, const mfa_throttle_policy *p)
{
    mfa_ctx_t *ctx = NULL;

    if (mfa_ctx_new(&ctx, s, kr) != MFA_OK ||
        (p != NULL && mfa_ctx_set_throttle(ctx, p) != MFA_OK)) {
        fprintf(stderr, "ctx\n");
        exit(EXIT_FAILURE);
    }
    mfa_ctx_set_clock(ctx, clock_fn, NULL);
    mfa_ctx_set_oob_sender(ctx, oob_sender, NULL);
    return ctx;
}

/* Wrong codes are counted but never delay: every race round is checked. */
static const mfa_throttle_policy open_policy = {UINT32_MAX, 0, 0};

/* Setup writes need no fsync each: the races run with the real settings. */
static void
fast_setup(mfa_store_t *s, int on)
{
    sqlite3_exec(mfa_int_store_sqlite_db(s),
                 on ? "PRAGMA synchronous = OFF" : "PRAGMA synchronous = FULL",
                 NULL, NULL, NULL);
}

/* Enroll and confirm a TOTP factor at g_now; the app's side returned. */
static mfa_otp_t *
enroll(mfa_ctx_t *ctx, const char *account, char id[MFA_FACTOR_ID_LEN + 1])
{
    mfa_enrollment_t *e = NULL;
    mfa_uri_t *u = NULL;
    mfa_otp_t *o = NULL;
    mfa_result res;
    char code[MFA_CODE_BUFSIZE];

    if (mfa_enroll_begin(ctx, account, "phone", NULL, &e) != MFA_OK ||
        mfa_uri_parse(mfa_enrollment_uri(e), &u, NULL) != MFA_OK ||
        mfa_uri_to_otp(u, &o) != MFA_OK ||
        mfa_otp_totp(o, g_now, code, sizeof(code)) != MFA_OK ||
        mfa_enroll_confirm(ctx, account, mfa_enrollment_factor_id(e), code,
                           &res) != MFA_OK) {
        fprintf(stderr, "enrollment of %s failed\n", account);
        exit(EXIT_FAILURE);
    }
    if (id != NULL)
        snprintf(id, MFA_FACTOR_ID_LEN + 1, "%s", mfa_enrollment_factor_id(e));
    mfa_uri_free(&u);
    mfa_enrollment_free(&e);
    return o;
}

static void
code_at(const mfa_otp_t *o, int64_t t, char code[MFA_CODE_BUFSIZE])
{
    if (mfa_otp_totp(o, t, code, MFA_CODE_BUFSIZE) != MFA_OK)
        abort();
}

/* A code that no step of the window around t accepts. */
static void
wrong_code(const mfa_otp_t *o, int64_t t, char code[MFA_CODE_BUFSIZE])
{
    char near[3][MFA_CODE_BUFSIZE];

    for (int i = 0; i < 3; i++)
        code_at(o, t + 30 * (i - 1), near[i]);
    for (unsigned v = 0;; v++) {
        snprintf(code, MFA_CODE_BUFSIZE, "%06u", v % 1000000u);
        if (strcmp(code, near[0]) && strcmp(code, near[1]) &&
            strcmp(code, near[2]))
            return;
    }
}

static void
hash_of(uint8_t h[MFA_BACKUP_HASHBYTES], uint32_t a, uint32_t b)
{
    uint32_t x[2] = {a, b};
    crypto_generichash(h, MFA_BACKUP_HASHBYTES, (const uint8_t *)x, sizeof(x),
                       NULL, 0);
}

/* A backend transaction on a store. */
typedef struct bt {
    const mfa_store_backend *be;
    mfa_store_txn *t;
} bt;

static mfa_rc
bt_begin(mfa_store_t *s, const char *account, mfa_txn_mode mode, bt *x)
{
    x->be = mfa_store_backend_of(s);
    return x->be->begin(mfa_store_impl_of(s), account, mode, &x->t);
}

static mfa_rc
read_factor(mfa_store_t *s, const char *account, const char *id,
            mfa_factor_rec *f)
{
    bt x;
    mfa_rc rc = bt_begin(s, account, MFA_TXN_READ, &x);

    if (rc != MFA_OK)
        return rc;
    rc = x.be->factor_get(x.t, account, id, f);
    x.be->rollback(x.t);
    return rc;
}

static mfa_rc
read_throttle(mfa_store_t *s, const char *account, mfa_throttle_rec *r)
{
    bt x;
    mfa_rc rc = bt_begin(s, account, MFA_TXN_READ, &x);

    if (rc != MFA_OK)
        return rc;
    rc = x.be->throttle_get(x.t, account, "", r);
    x.be->rollback(x.t);
    return rc;
}

static mfa_rc
read_codes(mfa_store_t *s, const char *account, mfa_backup_rec *c, size_t max,
           size_t *n)
{
    bt x;
    mfa_rc rc = bt_begin(s, account, MFA_TXN_READ, &x);

    *n = 0;
    if (rc != MFA_OK)
        return rc;
    rc = x.be->backup_list(x.t, account, c, max, n);
    x.be->rollback(x.t);
    return rc;
}

static int64_t
raw_int(sqlite3 *db, const char *q)
{
    sqlite3_stmt *s = NULL;
    int64_t v = -1;

    if (sqlite3_prepare_v2(db, q, -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

static int
integrity_ok(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int ok = 0;

    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL) ==
            SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        ok = strcmp((const char *)sqlite3_column_text(s, 0), "ok") == 0;
    sqlite3_finalize(s);
    sqlite3_close(db);
    return ok;
}

/* ---- multi-process races ------------------------------------------------- */

typedef enum race_kind {
    RACE_VERIFY,
    RACE_RECOVER,
    RACE_OOB,
    RACE_THROTTLE,
} race_kind;

typedef struct shared {
    pthread_barrier_t barrier;
    atomic_int wins[MAX_ROUNDS];
    atomic_int losses;
    atomic_int errors;
    atomic_int last_error;
} shared;

/* Made before the fork, so every racer has them. */
static mfa_otp_t *race_otp;
static char (*race_codes)[MFA_CODE_BUFSIZE + 16];
static const mfa_throttle_policy race_policy = {3, 1, 3600};

static void
race_child(const char *path, shared *sh, race_kind kind, int me)
{
    mfa_store_t *s;
    mfa_ctx_t *ctx;
    mfa_result res;
    int r, per = rounds / PROCS;

    alarm(300); /* a stuck barrier must not hang the test run */
    s = must_open(path, 0);
    ctx = must_ctx(s, kind == RACE_THROTTLE ? &race_policy : &open_policy);
    if (kind == RACE_THROTTLE) {
        /* 1,000 wrong codes in all, at one instant, released together */
        char code[MFA_CODE_BUFSIZE];
        g_now = T0 + 30000;
        wrong_code(race_otp, g_now, code);
        pthread_barrier_wait(&sh->barrier);
        for (r = 0; r < per + (me < rounds % PROCS); r++) {
            mfa_rc rc = mfa_verify(ctx, "victim", code, &res);
            if (rc == MFA_ERR_CODE_WRONG)
                atomic_fetch_add(&sh->wins[0], 1);
            else if (rc == MFA_ERR_THROTTLED)
                atomic_fetch_add(&sh->losses, 1);
            else {
                atomic_fetch_add(&sh->errors, 1);
                atomic_store(&sh->last_error, rc);
            }
        }
        mfa_ctx_free(&ctx);
        mfa_store_free(&s);
        _exit(0);
    }
    for (r = 0; r < rounds; r++) {
        mfa_rc rc = MFA_OK, loss = MFA_ERR_CODE_WRONG;
        char acct[32], code[MFA_CODE_BUFSIZE];

        snprintf(acct, sizeof(acct), "user%d", r);
        pthread_barrier_wait(&sh->barrier);
        switch (kind) {
        case RACE_VERIFY:
            g_now = T0 + 30 * (r + 1);
            code_at(race_otp, g_now, code);
            rc = mfa_verify(ctx, "racer", code, &res);
            loss = MFA_ERR_REPLAYED;
            break;
        case RACE_RECOVER:
            rc = mfa_recover(ctx, acct, race_codes[r], &res);
            break;
        case RACE_OOB:
            g_now = T0 + 10;
            rc = mfa_oob_verify(ctx, acct, "sms", race_codes[r], &res);
            loss = MFA_ERR_NOT_FOUND; /* spent: the challenge is gone */
            break;
        case RACE_THROTTLE:
            break;
        }
        if (rc == MFA_OK)
            atomic_fetch_add(&sh->wins[r], 1);
        else if (rc == loss)
            atomic_fetch_add(&sh->losses, 1);
        else {
            atomic_fetch_add(&sh->errors, 1);
            atomic_store(&sh->last_error, rc);
        }
    }
    mfa_ctx_free(&ctx);
    mfa_store_free(&s);
    _exit(0);
}

/* Two backup codes per account user0..: the first into race_codes. */
static void
setup_recover(mfa_store_t *s)
{
    bt x;

    EXPECT_RC(bt_begin(s, NULL, MFA_TXN_WRITE, &x), MFA_OK);
    for (int i = 0; i < rounds; i++) {
        char acct[32], **codes = NULL;
        mfa_backup_rec b;
        snprintf(acct, sizeof(acct), "user%d", i);
        /* the second stays unused: a loser's code is then wrong, not the
         * last one gone */
        EXPECT_RC(mfa_backup_codes_generate(2, &codes), MFA_OK);
        snprintf(race_codes[i], sizeof(race_codes[i]), "%s", codes[0]);
        b.key_id = mfa_keyring_current(kr);
        for (int k = 0; k < 2; k++) {
            EXPECT_RC(mfa_backup_hash(kr, b.key_id, codes[k], b.hash), MFA_OK);
            EXPECT_RC(x.be->backup_insert(x.t, acct, &b, T0), MFA_OK);
        }
        mfa_backup_codes_free(&codes, 2);
    }
    EXPECT_RC(x.be->commit(x.t), MFA_OK);
}

/* One challenge per account user0..: codes into race_codes. */
static void
setup_oob(mfa_store_t *s)
{
    bt x;

    EXPECT_RC(bt_begin(s, NULL, MFA_TXN_WRITE, &x), MFA_OK);
    for (int i = 0; i < rounds; i++) {
        char acct[32];
        mfa_oob_challenge c;
        snprintf(acct, sizeof(acct), "user%d", i);
        EXPECT_RC(mfa_oob_challenge_new(kr, acct, "sms", 6, T0, 600, 100, &c,
                                        race_codes[i], sizeof(race_codes[i])),
                  MFA_OK);
        EXPECT_RC(x.be->oob_put(x.t, acct, &c), MFA_OK);
    }
    EXPECT_RC(x.be->commit(x.t), MFA_OK);
}

static void
race(race_kind kind, const char *name)
{
    char path[512], id[MFA_FACTOR_ID_LEN + 1] = "";
    shared *sh;
    pthread_barrierattr_t ba;
    pid_t pids[PROCS];
    mfa_store_t *s;
    mfa_ctx_t *ctx;
    int i, bad = 0, total = 0;

    path_of(path, sizeof(path), name);
    s = must_open(path, 1);
    ctx = must_ctx(s, &open_policy);
    fast_setup(s, 1);
    g_now = T0;
    race_otp = enroll(ctx, kind == RACE_THROTTLE ? "victim" : "racer", id);
    if (kind == RACE_RECOVER)
        setup_recover(s);
    else if (kind == RACE_OOB)
        setup_oob(s);
    fast_setup(s, 0);

    sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) {
        fail("mmap: %s", strerror(errno));
        goto out;
    }
    memset(sh, 0, sizeof(*sh));
    pthread_barrierattr_init(&ba);
    pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED);
    pthread_barrier_init(&sh->barrier, &ba, PROCS);
    pthread_barrierattr_destroy(&ba);

    for (i = 0; i < PROCS; i++) {
        pids[i] = fork();
        if (pids[i] == 0)
            race_child(path, sh, kind, i);
    }
    for (i = 0; i < PROCS; i++) {
        int st = 0;
        waitpid(pids[i], &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            fail("child %d ended with status %d", i, st);
    }
    EXPECT(atomic_load(&sh->errors) == 0, "%d errors, last %s",
           atomic_load(&sh->errors),
           mfa_strerror_name(atomic_load(&sh->last_error)));

    if (kind == RACE_THROTTLE) {
        mfa_throttle_rec st;
        /* the free attempts (3) and the one that sets the first delay are
         * checked; every other attempt at that instant is refused unseen,
         * and all are counted */
        EXPECT(atomic_load(&sh->wins[0]) == 4, "%d codes checked, want 4",
               atomic_load(&sh->wins[0]));
        EXPECT(atomic_load(&sh->losses) == rounds - 4, "%d throttled",
               atomic_load(&sh->losses));
        EXPECT_RC(read_throttle(s, "victim", &st), MFA_OK);
        EXPECT(st.failures == (uint32_t)rounds, "failures %u, want %d",
               st.failures, rounds);
        printf("     %d attempts, %u failures counted, %d checked\n", rounds,
               st.failures, atomic_load(&sh->wins[0]));
    } else {
        for (i = 0; i < rounds; i++) {
            int w = atomic_load(&sh->wins[i]);
            total += w;
            if (w != 1 && bad++ < 5)
                fail("round %d: %d acceptances", i, w);
        }
        EXPECT(atomic_load(&sh->losses) == rounds * (PROCS - 1),
               "%d refusals, want %d", atomic_load(&sh->losses),
               rounds * (PROCS - 1));
        printf("     %d processes x %d rounds: %d acceptances, %d refused\n",
               PROCS, rounds, total, atomic_load(&sh->losses));
    }
    if (kind == RACE_VERIFY) {
        mfa_factor_rec g;
        EXPECT_RC(read_factor(s, "racer", id, &g), MFA_OK);
        EXPECT(g.last_step == T0 / 30 + rounds, "last_step %lld, want %lld",
               (long long)g.last_step, (long long)(T0 / 30 + rounds));
    }
    EXPECT(integrity_ok(path), "integrity_check");
    pthread_barrier_destroy(&sh->barrier);
    munmap(sh, sizeof(*sh));
out:
    mfa_otp_free(&race_otp);
    mfa_ctx_free(&ctx);
    mfa_store_free(&s);
}

static void
race_verify(void)
{
    race(RACE_VERIFY, "race-verify");
}
static void
race_recover(void)
{
    race(RACE_RECOVER, "race-recover");
}
static void
race_oob(void)
{
    race(RACE_OOB, "race-oob");
}
static void
race_throttle(void)
{
    race(RACE_THROTTLE, "race-throttle");
}

/*
 * A passkey login's store part, raced: each round, 8 processes take the
 * account's write transaction, read the credential, spend the round's
 * challenge nonce and, when it was theirs, store the sign count read + 1.
 * Exactly one spends each nonce (the others get MFA_ERR_EXISTS), and the
 * count ends at the number of rounds: no read-decide-write interleaved.
 */
#define SPEND_FID "00000000000000a1"

static mfa_webauthn_rec
spend_passkey(void)
{
    mfa_webauthn_rec w;

    memset(&w, 0, sizeof(w));
    memcpy(w.factor_id, SPEND_FID, sizeof(SPEND_FID));
    w.cred.id_len = 32;
    memset(w.cred.id, 0xc1, w.cred.id_len);
    w.cred.public_key_len = 77;
    memset(w.cred.public_key, 0xa5, w.cred.public_key_len);
    w.cred.algorithm = MFA_WEBAUTHN_ES256;
    w.cred.flags = MFA_WEBAUTHN_FLAG_UP;
    w.cred.user_handle_len = 16;
    memset(w.cred.user_handle, 0x99, w.cred.user_handle_len);
    w.created = T0;
    return w;
}

static mfa_rc
spend_once(mfa_store_t *s, int r)
{
    uint8_t nonce[MFA_WEBAUTHN_NONCE_BYTES] = {0};
    mfa_webauthn_rec w;
    size_t n = 0;
    mfa_rc rc, spent;
    bt x;

    memcpy(nonce, &r, sizeof(r));
    if ((rc = bt_begin(s, "racer", MFA_TXN_WRITE, &x)) != MFA_OK)
        return rc;
    rc = x.be->webauthn_get(x.t, "racer", SPEND_FID, &w);
    spent = rc == MFA_OK
                ? x.be->webauthn_spend(x.t, "racer", nonce, T0 + 300 + r)
                : rc;
    if (spent == MFA_OK) {
        w.cred.sign_count++;
        w.last_used = T0 + r;
        rc = x.be->webauthn_update(x.t, "racer", &w);
        if (rc == MFA_OK)
            rc = x.be->webauthn_spent_expire(x.t, "racer", T0 + r, &n);
    } else {
        rc = spent == MFA_ERR_EXISTS ? MFA_OK : spent;
    }
    if (rc != MFA_OK) {
        x.be->rollback(x.t);
        return rc;
    }
    rc = x.be->commit(x.t);
    return rc == MFA_OK ? spent : rc;
}

static void
race_spend(void)
{
    char path[512];
    mfa_webauthn_rec w = spend_passkey();
    pthread_barrierattr_t ba;
    pid_t pids[PROCS];
    mfa_store_t *s;
    shared *sh;
    int i, bad = 0, total = 0;
    bt x;

    path_of(path, sizeof(path), "race-spend");
    s = must_open(path, 1);
    EXPECT_RC(bt_begin(s, "racer", MFA_TXN_WRITE, &x), MFA_OK);
    EXPECT_RC(x.be->webauthn_insert(x.t, "racer", &w), MFA_OK);
    EXPECT_RC(x.be->commit(x.t), MFA_OK);
    sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) {
        fail("mmap: %s", strerror(errno));
        mfa_store_free(&s);
        return;
    }
    memset(sh, 0, sizeof(*sh));
    pthread_barrierattr_init(&ba);
    pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED);
    pthread_barrier_init(&sh->barrier, &ba, PROCS);
    pthread_barrierattr_destroy(&ba);
    for (i = 0; i < PROCS; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            mfa_store_t *c;

            alarm(300);
            c = must_open(path, 0);
            for (int r = 0; r < rounds; r++) {
                mfa_rc rc;

                pthread_barrier_wait(&sh->barrier);
                rc = spend_once(c, r);
                if (rc == MFA_OK)
                    atomic_fetch_add(&sh->wins[r], 1);
                else if (rc == MFA_ERR_EXISTS)
                    atomic_fetch_add(&sh->losses, 1);
                else {
                    atomic_fetch_add(&sh->errors, 1);
                    atomic_store(&sh->last_error, rc);
                }
            }
            mfa_store_free(&c);
            _exit(0);
        }
    }
    for (i = 0; i < PROCS; i++) {
        int st = 0;
        waitpid(pids[i], &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            fail("child %d ended with status %d", i, st);
    }
    EXPECT(atomic_load(&sh->errors) == 0, "%d errors, last %s",
           atomic_load(&sh->errors),
           mfa_strerror_name(atomic_load(&sh->last_error)));
    for (i = 0; i < rounds; i++) {
        int k = atomic_load(&sh->wins[i]);
        total += k;
        if (k != 1 && bad++ < 5)
            fail("round %d: %d spends", i, k);
    }
    EXPECT(total == rounds, "%d spends in %d rounds", total, rounds);
    EXPECT(atomic_load(&sh->losses) == rounds * (PROCS - 1), "%d refused",
           atomic_load(&sh->losses));
    EXPECT_RC(bt_begin(s, "racer", MFA_TXN_READ, &x), MFA_OK);
    EXPECT_RC(x.be->webauthn_get(x.t, "racer", SPEND_FID, &w), MFA_OK);
    x.be->rollback(x.t);
    EXPECT(w.cred.sign_count == (uint32_t)rounds, "sign count %u after %d",
           w.cred.sign_count, rounds);
    /* the expiry of each win left the nonces of the last 300 s only */
    EXPECT(raw_int(mfa_int_store_sqlite_db(s),
                   "SELECT count(*) FROM mfa_webauthn_spent") <= 301,
           "spent nonces kept");
    pthread_barrier_destroy(&sh->barrier);
    munmap(sh, sizeof(*sh));
    mfa_store_free(&s);
}

/* ---- SIGKILL in the middle of writes ------------------------------------- */

typedef struct acked {
    atomic_llong step; /* clock index i of the last accepted code */
    atomic_llong gen;  /* last acknowledged backup generation */
    atomic_llong ops;
} acked;

#define CODES 10

static mfa_otp_t *kill_otp;
static char kill_id[MFA_FACTOR_ID_LEN + 1];

static void
writer_child(const char *path, acked *ak)
{
    mfa_store_t *s = must_open(path, 0);
    mfa_ctx_t *ctx = must_ctx(s, &open_policy);
    int64_t i = atomic_load(&ak->step), gen = atomic_load(&ak->gen);
    char prev[MFA_FACTOR_ID_LEN + 1] = "";
    uint32_t n = 0;

    alarm(60);
    for (;;) {
        mfa_backup_rec c[CODES];
        mfa_enrollment_t *e = NULL;
        mfa_result res;
        char code[MFA_CODE_BUFSIZE];
        bt x;
        int k;

        /* a login: one transaction through the service */
        g_now = T0 + 30 * (i + 1);
        code_at(kill_otp, g_now, code);
        if (mfa_verify(ctx, "k", code, &res) == MFA_OK)
            atomic_store(&ak->step, ++i);
        wrong_code(kill_otp, g_now, code);
        ignore(mfa_verify(ctx, "k", code, &res));
        /* a whole new set of codes in one transaction, generation in
         * key_id, and one of them spent in another */
        for (k = 0; k < CODES; k++) {
            hash_of(c[k].hash, (uint32_t)(gen + 1), (uint32_t)k);
            c[k].key_id = (uint32_t)(gen + 1);
        }
        if (bt_begin(s, "k", MFA_TXN_WRITE, &x) == MFA_OK) {
            mfa_rc rc = x.be->backup_clear(x.t, "k");
            for (k = 0; rc == MFA_OK && k < CODES; k++)
                rc = x.be->backup_insert(x.t, "k", &c[k], g_now);
            if (rc == MFA_OK && x.be->commit(x.t) == MFA_OK)
                atomic_store(&ak->gen, ++gen);
            else if (rc != MFA_OK)
                x.be->rollback(x.t);
        }
        if (bt_begin(s, "k", MFA_TXN_WRITE, &x) == MFA_OK) {
            if (x.be->backup_use(x.t, "k", c[0].hash, g_now) == MFA_OK)
                ignore(x.be->commit(x.t));
            else
                x.be->rollback(x.t);
        }
        /* enroll and drop factors: pages split and merge */
        if (mfa_enroll_begin(ctx, "k", "spare", NULL, &e) == MFA_OK) {
            if (prev[0] != '\0')
                ignore(mfa_factor_remove(ctx, "k", prev));
            snprintf(prev, sizeof(prev), "%s", mfa_enrollment_factor_id(e));
            mfa_enrollment_free(&e);
        }
        if (++n % 4 == 0) {
            if (mfa_enroll_begin(ctx, "scratch", NULL, NULL, &e) == MFA_OK)
                mfa_enrollment_free(&e);
            ignore(mfa_reset(ctx, "scratch"));
        }
        atomic_fetch_add(&ak->ops, 1);
    }
}

static void
sigkill_writes(void)
{
    char path[512];
    acked *ak;
    mfa_store_t *s;
    mfa_ctx_t *ctx;
    mfa_factor_rec g;
    int kill_n, killed = 0;
    long long total_ops = 0;

    path_of(path, sizeof(path), "sigkill");
    s = must_open(path, 1);
    ctx = must_ctx(s, &open_policy);
    g_now = T0;
    kill_otp = enroll(ctx, "k", kill_id);
    mfa_ctx_free(&ctx);
    mfa_store_free(&s);
    ak = mmap(NULL, sizeof(*ak), PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (ak == MAP_FAILED) {
        fail("mmap");
        return;
    }
    memset(ak, 0, sizeof(*ak));

    for (kill_n = 0; kill_n < 20; kill_n++) {
        struct timespec ts = {0, (long)(5 + randombytes_uniform(40)) * 1000000};
        mfa_backup_rec c[MFA_BACKUP_COUNT_MAX];
        mfa_result res;
        char code[MFA_CODE_BUFSIZE];
        size_t n = 0, i;
        int64_t acked_step;
        int st = 0;
        pid_t pid;

        atomic_store(&ak->ops, 0);
        pid = fork();
        if (pid == 0)
            writer_child(path, ak);
        /* let it open and get going, then kill it mid-write */
        while (atomic_load(&ak->ops) < 2) {
            struct timespec w = {0, 1000000};
            if (waitpid(pid, &st, WNOHANG) == pid)
                break;
            nanosleep(&w, NULL);
        }
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
            killed++;
        total_ops += atomic_load(&ak->ops);

        if (!integrity_ok(path)) {
            fail("kill %d: integrity_check failed", kill_n);
            break;
        }
        s = must_open(path, 0);
        ctx = must_ctx(s, &open_policy);
        /* every acknowledged step is there; at most the one in flight more */
        acked_step = atomic_load(&ak->step);
        EXPECT_RC(read_factor(s, "k", kill_id, &g), MFA_OK);
        EXPECT(g.last_step == T0 / 30 + acked_step ||
                   g.last_step == T0 / 30 + acked_step + 1,
               "kill %d: last_step %lld, acknowledged %lld", kill_n,
               (long long)g.last_step, (long long)(T0 / 30 + acked_step));
        atomic_store(&ak->step, g.last_step - T0 / 30);
        /* the code set is one generation, whole: 10 codes or 9 after the
         * spend, never a mix */
        EXPECT_RC(read_codes(s, "k", c, MFA_BACKUP_COUNT_MAX, &n), MFA_OK);
        EXPECT(n == CODES || n == CODES - 1 ||
                   (n == 0 && atomic_load(&ak->gen) == 0),
               "kill %d: %zu codes", kill_n, n);
        for (i = 1; i < n; i++)
            EXPECT(c[i].key_id == c[0].key_id, "kill %d: mixed generations",
                   kill_n);
        if (n > 0) {
            EXPECT(c[0].key_id == atomic_load(&ak->gen) ||
                       c[0].key_id == atomic_load(&ak->gen) + 1,
                   "kill %d: generation %u, acknowledged %lld", kill_n,
                   c[0].key_id, (long long)atomic_load(&ak->gen));
            atomic_store(&ak->gen, c[0].key_id);
        }
        /* and the next login works */
        g_now = T0 + 30 * (atomic_load(&ak->step) + 1);
        code_at(kill_otp, g_now, code);
        EXPECT_RC(mfa_verify(ctx, "k", code, &res), MFA_OK);
        atomic_fetch_add(&ak->step, 1);
        mfa_ctx_free(&ctx);
        mfa_store_free(&s);
    }
    EXPECT(killed == 20, "only %d of 20 writers died by SIGKILL", killed);
    printf("     %d kills, %lld write rounds before them, step %lld, "
           "generation %lld\n",
           killed, total_ops, (long long)atomic_load(&ak->step),
           (long long)atomic_load(&ak->gen));
    mfa_otp_free(&kill_otp);
    munmap(ak, sizeof(*ak));
}

/* ---- failures of the file ------------------------------------------------ */

/* What alice has: a factor at step T0 / 30, ten backup codes, a
 * challenge. */
static mfa_otp_t *pop_otp;
static char pop_id[MFA_FACTOR_ID_LEN + 1];
static char **pop_codes;
static char pop_oob[MFA_CODE_BUFSIZE];

static void
populate(const char *path)
{
    mfa_store_t *s = must_open(path, 1);
    mfa_ctx_t *ctx = must_ctx(s, NULL);

    g_now = T0;
    mfa_otp_free(&pop_otp);
    if (pop_codes != NULL)
        mfa_backup_codes_free(&pop_codes, MFA_BACKUP_COUNT_DEFAULT);
    pop_otp = enroll(ctx, "alice", pop_id);
    EXPECT_RC(mfa_backup_codes_new(ctx, "alice", MFA_BACKUP_COUNT_DEFAULT,
                                   &pop_codes),
              MFA_OK);
    EXPECT_RC(mfa_oob_begin(ctx, "alice", "sms"), MFA_OK);
    snprintf(pop_oob, sizeof(pop_oob), "%s", g_oob_code);
    mfa_ctx_free(&ctx);
    mfa_store_free(&s);
}

/* None of the flows of attempt() was accepted or lost anything. */
static void
intact(const char *path)
{
    mfa_store_t *s = must_open(path, 0);
    mfa_factor_rec g;
    mfa_backup_rec c[MFA_BACKUP_COUNT_MAX];
    mfa_throttle_rec t;
    size_t n = 0;
    sqlite3 *db = NULL;

    EXPECT_RC(read_factor(s, "alice", pop_id, &g), MFA_OK);
    EXPECT(g.last_step == T0 / 30, "last_step %lld", (long long)g.last_step);
    EXPECT_RC(read_codes(s, "alice", c, MFA_BACKUP_COUNT_MAX, &n), MFA_OK);
    EXPECT(n == MFA_BACKUP_COUNT_DEFAULT, "%zu codes left", n);
    EXPECT_RC(read_throttle(s, "alice", &t), MFA_ERR_NOT_FOUND);
    mfa_store_free(&s);
    sqlite3_open(path, &db);
    EXPECT(raw_int(db, "SELECT attempts_left FROM mfa_oob_challenge WHERE "
                       "account = 'alice' AND purpose = 'sms'") ==
               MFA_OOB_ATTEMPTS_DEFAULT,
           "challenge changed");
    sqlite3_close(db);
}

/* The flows of a login that would succeed on a healthy store: each must
 * give `want` (a store error), none accepts. */
static void
attempt(mfa_ctx_t *ctx, mfa_rc want)
{
    char code[MFA_CODE_BUFSIZE];
    mfa_result res;

    g_now = T0 + 60;
    code_at(pop_otp, g_now, code);
    EXPECT_RC(mfa_verify(ctx, "alice", code, &res), want);
    wrong_code(pop_otp, g_now, code);
    EXPECT_RC(mfa_verify(ctx, "alice", code, &res), want);
    EXPECT_RC(mfa_recover(ctx, "alice", pop_codes[0], &res), want);
    EXPECT_RC(mfa_oob_verify(ctx, "alice", "sms", pop_oob, &res), want);
}

static void
read_only_file(void)
{
    char path[512];
    mfa_store_t *s;
    mfa_ctx_t *ctx;
    int has = 0;
    pid_t pid;
    int st = 0;

    path_of(path, sizeof(path), "readonly");
    populate(path);

    /* the connection may only read: every write is refused by SQLite */
    s = must_open(path, 0);
    ctx = must_ctx(s, NULL);
    EXPECT(sqlite3_exec(mfa_int_store_sqlite_db(s), "PRAGMA query_only = ON",
                        NULL, NULL, NULL) == SQLITE_OK,
           "query_only");
    EXPECT_RC(mfa_account_has_mfa(ctx, "alice", &has), MFA_OK);
    EXPECT(has == 1, "alice has no MFA on a read-only store");
    attempt(ctx, MFA_ERR_READONLY);
    mfa_ctx_free(&ctx);
    mfa_store_free(&s);
    intact(path);

    /* a file without write permission, opened by a user who cannot write
     * it (root ignores modes: the check runs as nobody then) */
    chmod(tmpdir, 0755);
    chmod(path, 0444);
    pid = fork();
    if (pid == 0) {
        mfa_store_t *c = NULL;
        mfa_rc rc;
        if (geteuid() == 0 && setuid(65534) != 0)
            _exit(3);
        rc = mfa_store_sqlite_open(&c, path);
        if (rc == MFA_OK) {
            /* open for reading; every write must be refused */
            mfa_ctx_t *x = must_ctx(c, NULL);
            char code[MFA_CODE_BUFSIZE];
            mfa_result res;
            g_now = T0 + 60;
            code_at(pop_otp, g_now, code);
            rc = mfa_verify(x, "alice", code, &res);
            _exit(is_store_error(rc) ? 0 : 1);
        }
        /* or refused at open with a store error, never a crash */
        _exit(is_store_error(rc) ? 0 : 2);
    }
    waitpid(pid, &st, 0);
    EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0,
           "unprivileged open of a 0444 file: status %d", st);
    chmod(path, 0600);
    chmod(tmpdir, 0700);
    intact(path);
}

static void
full_database(void)
{
    char path[512], acct[32], code[MFA_CODE_BUFSIZE];
    mfa_store_t *s;
    mfa_ctx_t *ctx;
    mfa_result res;
    sqlite3 *db;
    mfa_backup_rec c[MFA_BACKUP_COUNT_MAX], got[MFA_BACKUP_COUNT_MAX];
    mfa_rc rc = MFA_OK;
    size_t n = 0;
    int i, created = 0, replaced = 0;
    bt x;

    path_of(path, sizeof(path), "full");
    populate(path);
    s = must_open(path, 0);
    ctx = must_ctx(s, NULL);
    db = mfa_int_store_sqlite_db(s);
    /* 200 accounts with one code each, while there is room */
    EXPECT_RC(bt_begin(s, NULL, MFA_TXN_WRITE, &x), MFA_OK);
    for (i = 0; i < 200; i++) {
        snprintf(acct, sizeof(acct), "acct%d", i);
        hash_of(c[0].hash, 1000, (uint32_t)i);
        c[0].key_id = 1;
        EXPECT_RC(x.be->backup_insert(x.t, acct, &c[0], T0), MFA_OK);
    }
    EXPECT_RC(x.be->commit(x.t), MFA_OK);
    /* the file may not grow any more: the disk is full for SQLite */
    {
        char q[96];
        snprintf(q, sizeof(q), "PRAGMA max_page_count = %lld",
                 (long long)raw_int(db, "PRAGMA page_count"));
        sqlite3_exec(db, q, NULL, NULL, NULL);
    }
    for (i = 0; i < 10000 && rc == MFA_OK; i++) {
        mfa_enrollment_t *e = NULL;
        char who[32];
        snprintf(who, sizeof(who), "filler%d", i);
        rc = mfa_enroll_begin(ctx, who, NULL, NULL, &e);
        created += rc == MFA_OK;
        mfa_enrollment_free(&e);
    }
    EXPECT(rc == MFA_ERR_READONLY, "filling ended with %s after %d",
           mfa_strerror_name(rc), created);
    /* grow each account's set to 32 codes until that no longer fits: the
     * set that failed is its old one, whole */
    rc = MFA_OK;
    for (i = 0; i < 200 && rc == MFA_OK; i++) {
        size_t k;
        snprintf(acct, sizeof(acct), "acct%d", i);
        if ((rc = bt_begin(s, acct, MFA_TXN_WRITE, &x)) != MFA_OK)
            break;
        rc = x.be->backup_clear(x.t, acct);
        for (k = 0; rc == MFA_OK && k < MFA_BACKUP_COUNT_MAX; k++) {
            hash_of(c[k].hash, 2000 + (uint32_t)i, (uint32_t)k);
            c[k].key_id = 2;
            rc = x.be->backup_insert(x.t, acct, &c[k], T0);
        }
        if (rc == MFA_OK)
            rc = x.be->commit(x.t);
        else
            x.be->rollback(x.t);
        replaced += rc == MFA_OK;
    }
    EXPECT(rc == MFA_ERR_READONLY, "replacing ended with %s after %d",
           mfa_strerror_name(rc), replaced);
    EXPECT_RC(read_codes(s, acct, got, MFA_BACKUP_COUNT_MAX, &n), MFA_OK);
    EXPECT(n == 1 && got[0].key_id == 1,
           "%zu codes (key %u) after the failed replace", n, got[0].key_id);
    snprintf(acct, sizeof(acct), "acct%d", replaced > 0 ? replaced - 1 : 0);
    EXPECT_RC(read_codes(s, acct, got, MFA_BACKUP_COUNT_MAX, &n), MFA_OK);
    EXPECT(replaced == 0 || n == MFA_BACKUP_COUNT_MAX,
           "%zu codes after a replace that fitted", n);
    /* a login still works: its updates need no new page */
    g_now = T0 + 60;
    code_at(pop_otp, g_now, code);
    EXPECT_RC(mfa_verify(ctx, "alice", code, &res), MFA_OK);
    mfa_ctx_free(&ctx);
    mfa_store_free(&s);
    EXPECT(integrity_ok(path), "integrity_check");
    /* with room again (a new connection has no cap), everything works */
    s = must_open(path, 0);
    ctx = must_ctx(s, NULL);
    g_now = T0 + 90;
    code_at(pop_otp, g_now, code);
    EXPECT_RC(mfa_verify(ctx, "alice", code, &res), MFA_OK);
    EXPECT_RC(mfa_recover(ctx, "alice", pop_codes[1], &res), MFA_OK);
    mfa_ctx_free(&ctx);
    mfa_store_free(&s);
    printf("     %d enrollments and %d grown code sets fitted before the "
           "database was full\n",
           created, replaced);
}

static void
locked_database(void)
{
    char path[512], code[MFA_CODE_BUFSIZE];
    mfa_store_t *s;
    mfa_ctx_t *ctx;
    mfa_result res;
    sqlite3 *other = NULL;
    struct timespec t0, t1;
    double waited;
    int has = 0;

    path_of(path, sizeof(path), "locked");
    populate(path);
    s = must_open(path, 0);
    ctx = must_ctx(s, NULL);

    /* another connection holds the write lock past the default 5 s */
    sqlite3_open(path, &other);
    sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    g_now = T0 + 60;
    code_at(pop_otp, g_now, code);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    EXPECT_RC(mfa_verify(ctx, "alice", code, &res), MFA_ERR_BUSY);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    waited = (double)(t1.tv_sec - t0.tv_sec) +
             (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    EXPECT(waited >= 4.9 && waited < 15, "waited %.2f s", waited);
    /* the rest with a short timeout, to keep the test quick */
    EXPECT_RC(mfa_int_store_sqlite_set_timeout(s, 200), MFA_OK);
    attempt(ctx, MFA_ERR_BUSY);
    /* WAL: readers are not blocked by a writer */
    EXPECT_RC(mfa_account_has_mfa(ctx, "alice", &has), MFA_OK);
    EXPECT(has == 1, "no MFA while locked");
    sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(other);
    mfa_ctx_free(&ctx);
    intact(path);
    printf("     a held write lock: MFA_ERR_BUSY after %.2f s\n", waited);

    /* a process holding the file in exclusive locking mode keeps even
     * readers out: opening fails after the timeout, no store is made */
    {
        mfa_store_t *s2 = (mfa_store_t *)&s2;
        mfa_rc rc;
        other = NULL;
        sqlite3_open(path, &other);
        mfa_store_free(&s); /* our connection would keep a shared lock */
        EXPECT(sqlite3_exec(other,
                            "PRAGMA locking_mode = EXCLUSIVE; BEGIN "
                            "EXCLUSIVE; UPDATE mfa_schema SET version = "
                            "version",
                            NULL, NULL, NULL) == SQLITE_OK,
               "exclusive lock: %s", sqlite3_errmsg(other));
        clock_gettime(CLOCK_MONOTONIC, &t0);
        rc = mfa_store_sqlite_open(&s2, path);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        EXPECT(rc == MFA_ERR_BUSY, "open under an exclusive lock: %s",
               mfa_strerror_name(rc));
        EXPECT(s2 == NULL, "a store under an exclusive lock");
        waited = (double)(t1.tv_sec - t0.tv_sec) +
                 (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close(other);
        printf("     an exclusive lock: open gave %s after %.2f s\n",
               mfa_strerror_name(rc), waited);
        s = must_open(path, 0);
    }

    /* released: the same store works again, once */
    ctx = must_ctx(s, NULL);
    EXPECT_RC(mfa_verify(ctx, "alice", code, &res), MFA_OK);
    EXPECT_RC(mfa_verify(ctx, "alice", code, &res), MFA_ERR_REPLAYED);
    mfa_ctx_free(&ctx);
    mfa_store_free(&s);
}

static void
write_garbage(const char *path, off_t at, size_t len)
{
    uint8_t buf[4096];
    int fd = open(path, O_WRONLY | (at == 0 ? O_CREAT | O_TRUNC : 0), 0600);

    if (fd < 0) {
        fail("open %s", path);
        return;
    }
    while (len > 0) {
        size_t k = len < sizeof(buf) ? len : sizeof(buf);
        randombytes_buf(buf, k);
        if (pwrite(fd, buf, k, at) != (ssize_t)k)
            fail("pwrite");
        at += (off_t)k;
        len -= k;
    }
    close(fd);
}

static void
corrupted_file(void)
{
    char path[512], p2[512], spec[600];
    mfa_store_t *s = NULL;
    sqlite3 *db = NULL;
    int64_t pages, psize;
    mfa_rc rc;

    /* garbage bytes are not a database */
    path_of(path, sizeof(path), "garbage");
    write_garbage(path, 0, 16384);
    snprintf(spec, sizeof(spec), "sqlite:%s", path);
    rc = mfa_store_open(&s, spec);
    EXPECT(rc == MFA_ERR_CORRUPT, "garbage file: %s", mfa_strerror_name(rc));
    EXPECT(s == NULL, "a store from garbage");

    /* a good file whose table pages were overwritten (header page kept) */
    path_of(p2, sizeof(p2), "damaged");
    populate(p2);
    sqlite3_open(p2, &db);
    sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
    pages = raw_int(db, "PRAGMA page_count");
    psize = raw_int(db, "PRAGMA page_size");
    sqlite3_close(db);
    write_garbage(p2, (off_t)psize, (size_t)((pages - 1) * psize));
    snprintf(spec, sizeof(spec), "sqlite:%s", p2);
    rc = mfa_store_open(&s, spec);
    if (rc == MFA_OK) {
        /* every flow fails, and no read invents data */
        mfa_ctx_t *ctx = must_ctx(s, NULL);
        char code[MFA_CODE_BUFSIZE];
        mfa_result res;
        int has = 0;
        for (int i = 0; i < 2; i++) {
            g_now = T0 + 60;
            code_at(pop_otp, g_now, code);
            rc = mfa_verify(ctx, "alice", code, &res);
            EXPECT(rc == MFA_ERR_CORRUPT || rc == MFA_ERR_STORE,
                   "verify on a damaged file: %s", mfa_strerror_name(rc));
            rc = mfa_recover(ctx, "alice", pop_codes[0], &res);
            EXPECT(rc == MFA_ERR_CORRUPT || rc == MFA_ERR_STORE,
                   "recover on a damaged file: %s", mfa_strerror_name(rc));
            rc = mfa_oob_verify(ctx, "alice", "sms", pop_oob, &res);
            EXPECT(rc == MFA_ERR_CORRUPT || rc == MFA_ERR_STORE,
                   "oob on a damaged file: %s", mfa_strerror_name(rc));
            rc = mfa_account_has_mfa(ctx, "alice", &has);
            EXPECT(rc == MFA_ERR_CORRUPT || rc == MFA_ERR_STORE,
                   "has_mfa on a damaged file: %s", mfa_strerror_name(rc));
        }
        mfa_ctx_free(&ctx);
        mfa_store_free(&s);
    } else {
        EXPECT(rc == MFA_ERR_CORRUPT || rc == MFA_ERR_STORE ||
                   rc == MFA_ERR_SCHEMA,
               "damaged file open: %s", mfa_strerror_name(rc));
    }
}

static void
missing_table(void)
{
    char path[512], spec[600], code[MFA_CODE_BUFSIZE];
    mfa_store_t *s;
    mfa_ctx_t *ctx;
    mfa_result res;
    sqlite3 *other = NULL;
    mfa_factor_rec g;
    size_t n = 99;

    path_of(path, sizeof(path), "missing");
    populate(path);
    s = must_open(path, 0);
    ctx = must_ctx(s, NULL);
    /* warm the statements, then drop a table under the open store */
    EXPECT_RC(mfa_backup_codes_left(ctx, "alice", &n), MFA_OK);
    sqlite3_open(path, &other);
    sqlite3_exec(other, "DROP TABLE mfa_backup_code", NULL, NULL, NULL);
    sqlite3_close(other);

    EXPECT_RC(mfa_recover(ctx, "alice", pop_codes[0], &res), MFA_ERR_STORE);
    EXPECT_RC(mfa_backup_codes_left(ctx, "alice", &n), MFA_ERR_STORE);
    /* the account reset is one transaction: it fails whole */
    EXPECT_RC(mfa_reset(ctx, "alice"), MFA_ERR_STORE);
    /* the flows that do not need the table still work, and nothing was
     * lost from the others */
    EXPECT_RC(read_factor(s, "alice", pop_id, &g), MFA_OK);
    EXPECT(g.last_step == T0 / 30, "last_step %lld", (long long)g.last_step);
    g_now = T0 + 60;
    code_at(pop_otp, g_now, code);
    EXPECT_RC(mfa_verify(ctx, "alice", code, &res), MFA_OK);
    mfa_ctx_free(&ctx);
    mfa_store_free(&s);

    /* reopening names the problem */
    s = (mfa_store_t *)&s;
    snprintf(spec, sizeof(spec), "sqlite:%s", path);
    EXPECT_RC(mfa_store_open(&s, spec), MFA_ERR_SCHEMA);
    EXPECT(s == NULL, "store from a damaged schema");
}

static int
rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

int
main(void)
{
    const char *env = getenv("MFA_RELIABILITY_ROUNDS");
    uint32_t kid;

    if (env != NULL && atoi(env) >= PROCS && atoi(env) <= MAX_ROUNDS)
        rounds = atoi(env);
    race_codes = calloc(MAX_ROUNDS, sizeof(*race_codes));
    if (sodium_init() < 0 || mkdtemp(tmpdir) == NULL || race_codes == NULL ||
        mfa_keyring_new(&kr) != MFA_OK ||
        mfa_keyring_generate(kr, &kid) != MFA_OK) {
        perror("setup");
        return EXIT_FAILURE;
    }
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    run("8 processes race mfa_verify with one code", race_verify);
    run("8 processes race mfa_recover with one code", race_recover);
    run("8 processes race mfa_oob_verify with one code", race_oob);
    run("8 processes send 1,000 wrong codes at once", race_throttle);
    run("8 processes race one passkey challenge nonce", race_spend);
    run("SIGKILL in the middle of writes", sigkill_writes);
    run("read-only file", read_only_file);
    run("full database", full_database);
    run("locked database", locked_database);
    run("corrupted file", corrupted_file);
    run("missing table", missing_table);
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    mfa_otp_free(&pop_otp);
    if (pop_codes != NULL)
        mfa_backup_codes_free(&pop_codes, MFA_BACKUP_COUNT_DEFAULT);
    mfa_keyring_free(&kr);
    free(race_codes);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
