/*
 * Several processes on one SQLite file, through the service API:
 *  - 8 processes race the same valid code through mfa_verify, round after
 *    round (each round a new time step): exactly one acceptance per round;
 *    the same for a backup code (mfa_recover) and an out-of-band code;
 *  - 8 processes send 1,000 wrong guesses at once: all 1,000 are counted,
 *    exactly as many are checked as the policy allows, and the throttle
 *    then refuses everyone, the right code included;
 *  - a process killed with SIGKILL in the middle of enroll, confirm,
 *    verify, recover or key rotation leaves the database consistent
 *    (PRAGMA integrity_check, every factor opens) and the next call works.
 *
 * Not a Check suite (it forks on purpose): it prints "N passed, N failed".
 * MFA_RACE_ROUNDS overrides the number of rounds (default 1000).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include <mfa.h>
#include <mfa/store-backend.h>

#include "store/txn.h"

#define NPROC 8
#define ROUNDS_MAX 1000
#define GUESSES 1000
#define BASE_TIME 1700000010

static int passed, failed;

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (cond) {                                                            \
            passed++;                                                          \
        } else {                                                               \
            failed++;                                                          \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);    \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
        }                                                                      \
    } while (0)

/* Shared between the processes (MAP_SHARED | MAP_ANONYMOUS). */
typedef struct shared {
    pthread_barrier_t bar;
    int rounds;
    char code[ROUNDS_MAX][MFA_BACKUP_BUFSIZE]; /* per-round TOTP codes */
    char token[MFA_BACKUP_BUFSIZE];            /* the current backup/oob */
    int ok[ROUNDS_MAX], replay[ROUNDS_MAX], other[ROUNDS_MAX];
    int wrong, throttled, unexpected;
    int last_rc;
    int progress; /* iterations of the worker that is about to be killed */
} shared;

static shared *S;
static char dir[256], dbpath[300], krpath[300];
static int64_t g_now;

static int64_t
clock_fn(void *arg)
{
    (void)arg;
    return g_now;
}

static mfa_rc
sender(const char *account, const char *purpose, const char *code, void *arg)
{
    (void)account;
    (void)purpose;
    (void)arg;
    snprintf(S->token, sizeof(S->token), "%s", code);
    return MFA_OK;
}

/* A ctx on its own connection and its own copy of the key ring. */
typedef struct env {
    mfa_store_t *store;
    mfa_keyring_t *kr;
    mfa_ctx_t *ctx;
} env;

static int
env_open(env *e, int lenient)
{
    mfa_throttle_policy p = {1000000, 1, 1};

    memset(e, 0, sizeof(*e));
    if (mfa_store_sqlite_open(&e->store, dbpath) != MFA_OK ||
        mfa_keyring_load(&e->kr, krpath) != MFA_OK ||
        mfa_ctx_new(&e->ctx, e->store, e->kr) != MFA_OK)
        return -1;
    mfa_ctx_set_clock(e->ctx, clock_fn, NULL);
    mfa_ctx_set_oob_sender(e->ctx, sender, NULL);
    if (lenient && mfa_ctx_set_throttle(e->ctx, &p) != MFA_OK)
        return -1;
    /* every racer gets a real check of the out-of-band code */
    if (mfa_ctx_set_oob(e->ctx, 6, 600, 2 * NPROC) != MFA_OK)
        return -1;
    return 0;
}

static void
env_close(env *e)
{
    mfa_ctx_free(&e->ctx);
    mfa_store_free(&e->store);
    mfa_keyring_free(&e->kr);
}

static void
barrier(void)
{
    pthread_barrier_wait(&S->bar);
}

static void
tally(int r, mfa_rc rc, mfa_rc loser1, mfa_rc loser2)
{
    if (rc == MFA_OK)
        __atomic_fetch_add(&S->ok[r], 1, __ATOMIC_SEQ_CST);
    else if (rc == loser1 || rc == loser2)
        __atomic_fetch_add(&S->replay[r], 1, __ATOMIC_SEQ_CST);
    else {
        __atomic_fetch_add(&S->other[r], 1, __ATOMIC_SEQ_CST);
        S->last_rc = rc;
    }
}

/* ---- the children ------------------------------------------------------ */

enum job { JOB_TOTP, JOB_BACKUP, JOB_OOB, JOB_GUESS };

static int
child(int k, enum job job)
{
    mfa_result res;
    env e;
    int rounds = S->rounds;

    alarm(300); /* a dead sibling must not hang the barrier for ever */
    if (env_open(&e, job != JOB_GUESS) != 0) {
        fprintf(stderr, "child %d: cannot open\n", k);
        return 2;
    }
    switch (job) {
    case JOB_TOTP:
        for (int r = 0; r < rounds; r++) {
            g_now = BASE_TIME + 30 * (int64_t)(r + 1);
            barrier();
            tally(r, mfa_verify(e.ctx, "racer", S->code[r], &res),
                  MFA_ERR_REPLAYED, MFA_ERR_REPLAYED);
        }
        break;
    case JOB_BACKUP:
        for (int r = 0; r < rounds; r++) {
            /* after the TOTP race's times: the clock never goes back */
            g_now = BASE_TIME + 100000 + r;
            if (k == 0) {
                char **codes = NULL;
                /* two codes, so that the set is not empty after the
                 * winner spent one */
                if (mfa_backup_codes_new(e.ctx, "racer", 2, &codes) == MFA_OK) {
                    snprintf(S->token, sizeof(S->token), "%s", codes[0]);
                    mfa_backup_codes_free(&codes, 2);
                } else {
                    S->token[0] = '\0';
                }
            }
            barrier();
            /* the loser either lost the spend (REPLAYED) or listed the
             * codes after it (the code is no longer there) */
            tally(r, mfa_recover(e.ctx, "racer", S->token, &res),
                  MFA_ERR_REPLAYED, MFA_ERR_CODE_WRONG);
            barrier();
        }
        break;
    case JOB_OOB:
        for (int r = 0; r < rounds; r++) {
            g_now = BASE_TIME + 200000 + r;
            if (k == 0 && mfa_oob_begin(e.ctx, "racer", "sms") != MFA_OK)
                S->token[0] = '\0';
            barrier();
            /* losers: the spend lost (REPLAYED) or the challenge was
             * already gone (NOT_FOUND) */
            tally(r, mfa_oob_verify(e.ctx, "racer", "sms", S->token, &res),
                  MFA_ERR_REPLAYED, MFA_ERR_NOT_FOUND);
            barrier();
        }
        break;
    case JOB_GUESS:
        g_now = BASE_TIME + 5000000;
        barrier();
        for (int i = 0; i < GUESSES / NPROC; i++) {
            mfa_rc rc = mfa_verify(e.ctx, "guessed", S->token, &res);
            if (rc == MFA_ERR_CODE_WRONG)
                __atomic_fetch_add(&S->wrong, 1, __ATOMIC_SEQ_CST);
            else if (rc == MFA_ERR_THROTTLED)
                __atomic_fetch_add(&S->throttled, 1, __ATOMIC_SEQ_CST);
            else {
                __atomic_fetch_add(&S->unexpected, 1, __ATOMIC_SEQ_CST);
                S->last_rc = rc;
            }
        }
        barrier();
        /* everyone, with the right code now: refused */
        {
            mfa_rc rc = mfa_verify(e.ctx, "guessed", S->code[0], &res);
            if (rc == MFA_ERR_THROTTLED && res.retry_after > 0)
                __atomic_fetch_add(&S->throttled, 1, __ATOMIC_SEQ_CST);
            else {
                __atomic_fetch_add(&S->unexpected, 1, __ATOMIC_SEQ_CST);
                S->last_rc = rc;
            }
        }
        break;
    }
    env_close(&e);
    return 0;
}

static int
run_children(enum job job)
{
    pid_t pids[NPROC];
    int bad = 0;

    pthread_barrierattr_t a;
    pthread_barrierattr_init(&a);
    pthread_barrierattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_barrier_init(&S->bar, &a, NPROC);
    pthread_barrierattr_destroy(&a);
    for (int k = 0; k < NPROC; k++) {
        pids[k] = fork();
        if (pids[k] == 0)
            _exit(child(k, job));
    }
    for (int k = 0; k < NPROC; k++) {
        int st;
        if (waitpid(pids[k], &st, 0) < 0 || !WIFEXITED(st) ||
            WEXITSTATUS(st) != 0)
            bad++;
    }
    pthread_barrier_destroy(&S->bar);
    return bad;
}

static void
reset_tallies(void)
{
    memset(S->ok, 0, sizeof(S->ok));
    memset(S->replay, 0, sizeof(S->replay));
    memset(S->other, 0, sizeof(S->other));
    S->wrong = S->throttled = S->unexpected = 0;
    S->last_rc = 0;
}

static void
check_rounds(const char *what)
{
    int exact = 0, bad_rounds = 0;

    for (int r = 0; r < S->rounds; r++) {
        if (S->ok[r] == 1 && S->replay[r] == NPROC - 1 && S->other[r] == 0)
            exact++;
        else if (bad_rounds++ < 5)
            fprintf(stderr, "%s round %d: ok %d, lost %d, other %d (%s)\n",
                    what, r, S->ok[r], S->replay[r], S->other[r],
                    mfa_strerror_name(S->last_rc));
    }
    CHECK(exact == S->rounds, "%s: %d of %d rounds had exactly one winner",
          what, exact, S->rounds);
}

/* ---- the parent's view ------------------------------------------------- */

static mfa_otp_t *
otp_of_enrollment(const mfa_enrollment_t *en)
{
    mfa_uri_t *u = NULL;
    mfa_otp_t *o = NULL;

    if (mfa_uri_parse(mfa_enrollment_uri(en), &u, NULL) != MFA_OK ||
        mfa_uri_to_otp(u, &o) != MFA_OK)
        o = NULL;
    mfa_uri_free(&u);
    return o;
}

/* Enroll and confirm an account's factor at time t; the app's otp. */
static mfa_otp_t *
enroll(env *e, const char *account, int64_t t)
{
    mfa_enrollment_t *en = NULL;
    mfa_otp_t *o;
    mfa_result res;
    char code[MFA_CODE_BUFSIZE];
    mfa_rc rc;

    g_now = t;
    rc = mfa_enroll_begin(e->ctx, account, NULL, NULL, &en);
    CHECK(rc == MFA_OK, "enroll_begin %s: %s", account, mfa_strerror_name(rc));
    if (rc != MFA_OK)
        return NULL;
    o = otp_of_enrollment(en);
    CHECK(o != NULL, "app side of %s", account);
    if (o != NULL && mfa_otp_totp(o, t, code, sizeof(code)) == MFA_OK) {
        rc = mfa_enroll_confirm(e->ctx, account, mfa_enrollment_factor_id(en),
                                code, &res);
        CHECK(rc == MFA_OK, "confirm %s: %s", account, mfa_strerror_name(rc));
    }
    mfa_enrollment_free(&en);
    return o;
}

static void
race_totp(void)
{
    env e;
    mfa_otp_t *o;

    CHECK(env_open(&e, 1) == 0, "open");
    o = enroll(&e, "racer", BASE_TIME);
    env_close(&e); /* no connection crosses a fork */
    if (o == NULL)
        return;
    for (int r = 0; r < S->rounds; r++)
        if (mfa_otp_totp(o, BASE_TIME + 30 * (int64_t)(r + 1), S->code[r],
                         MFA_CODE_BUFSIZE) != MFA_OK)
            S->code[r][0] = '\0';
    mfa_otp_free(&o);
    reset_tallies();
    CHECK(run_children(JOB_TOTP) == 0, "totp children exited cleanly");
    check_rounds("totp");
}

static void
race_backup(void)
{
    reset_tallies();
    CHECK(run_children(JOB_BACKUP) == 0, "backup children exited cleanly");
    check_rounds("backup");
}

static void
race_oob(void)
{
    reset_tallies();
    CHECK(run_children(JOB_OOB) == 0, "oob children exited cleanly");
    check_rounds("oob");
}

static void
race_guesses(void)
{
    mfa_throttle_policy p = {MFA_THROTTLE_FREE_DEFAULT,
                             MFA_THROTTLE_BASE_DEFAULT,
                             MFA_THROTTLE_MAX_DEFAULT};
    mfa_throttle_rec st;
    mfa_int_txn x;
    env e;
    mfa_otp_t *o;
    unsigned checked = 0;

    /* confirmed a step before the children's time, so that the right code
     * they end with is fresh: only the throttle refuses it */
    CHECK(env_open(&e, 1) == 0, "open");
    o = enroll(&e, "guessed", BASE_TIME + 5000000 - 30);
    if (o != NULL) {
        if (mfa_otp_totp(o, BASE_TIME + 5000000, S->code[0],
                         MFA_CODE_BUFSIZE) != MFA_OK)
            S->code[0][0] = '\0';
        snprintf(S->token, sizeof(S->token), "%06d",
                 (atoi(S->code[0]) + 500000) % 1000000);
        mfa_otp_free(&o);
    }
    env_close(&e);
    reset_tallies();
    CHECK(run_children(JOB_GUESS) == 0, "guess children exited cleanly");
    /* with the default policy and a fixed clock, free_attempts + 1
     * guesses are checked and every other one is refused unchecked */
    for (uint32_t f = 1; mfa_throttle_delay(&p, f - 1) == 0; f++)
        checked = f;
    CHECK((unsigned)S->wrong == checked, "checked %d guesses, want %u",
          S->wrong, checked);
    CHECK(S->throttled == GUESSES - (int)checked + NPROC,
          "throttled %d, want %d", S->throttled,
          GUESSES - (int)checked + NPROC);
    CHECK(S->unexpected == 0, "unexpected results %d (%s)", S->unexpected,
          mfa_strerror_name(S->last_rc));
    CHECK(env_open(&e, 1) == 0, "open");
    CHECK(mfa_int_txn_begin(e.store, "guessed", MFA_TXN_READ, &x) == MFA_OK &&
              mfa_int_txn_throttle_get(&x, "", &st) == MFA_OK &&
              mfa_int_txn_commit(&x) == MFA_OK,
          "throttle_get");
    CHECK(st.failures == GUESSES + NPROC, "stored failures %u, want %d",
          st.failures, GUESSES + NPROC);
    env_close(&e);
}

/* ---- SIGKILL in the middle of a flow ----------------------------------- */

#define CRASH_ACCOUNTS 40

static const char *
crash_account(int i)
{
    static char buf[32];
    snprintf(buf, sizeof(buf), "crash%02d", i);
    return buf;
}

/* The child's endless work of one kind, until it is killed. */
static void
crash_worker(int kind)
{
    env e;
    mfa_result res;
    int64_t t = BASE_TIME + 9000000;

    if (env_open(&e, 1) != 0)
        _exit(2);
    for (unsigned i = 0;; i++) {
        const char *acct = crash_account((int)(i % CRASH_ACCOUNTS));
        mfa_enrollment_t *en = NULL;
        char **codes = NULL;
        size_t a, b;
        uint32_t kid;
        mfa_rc rc;

        memset(&res, 0, sizeof(res));
        __atomic_fetch_add(&S->progress, 1, __ATOMIC_SEQ_CST);
        g_now = t + (int64_t)i * 30;
        switch (kind) {
        case 0: /* enroll: pending factors appear and expire */
            if (mfa_enroll_begin(e.ctx, acct, "crash", NULL, &en) == MFA_OK)
                mfa_enrollment_free(&en);
            rc = mfa_expire_pending(e.ctx, &a);
            (void)rc;
            break;
        case 1: /* confirm */
            if (mfa_enroll_begin(e.ctx, acct, "crash", NULL, &en) == MFA_OK) {
                mfa_otp_t *o = otp_of_enrollment(en);
                char code[MFA_CODE_BUFSIZE];
                if (o && mfa_otp_totp(o, g_now, code, sizeof(code)) == MFA_OK)
                    rc = mfa_enroll_confirm(
                        e.ctx, acct, mfa_enrollment_factor_id(en), code, &res);
                mfa_otp_free(&o);
                mfa_enrollment_free(&en);
                rc = mfa_factor_remove(e.ctx, acct, res.factor_id);
            }
            break;
        case 2: /* verify, right and wrong */
            rc = mfa_verify(e.ctx, acct, "000000", &res);
            rc = mfa_verify(e.ctx, acct, "123456", &res);
            break;
        case 3: /* recover, and new sets */
            if (mfa_backup_codes_new(e.ctx, acct, 10, &codes) == MFA_OK) {
                rc = mfa_recover(e.ctx, acct, codes[0], &res);
                mfa_backup_codes_free(&codes, 10);
            }
            break;
        case 4: /* rotation: a new key saved first, then every factor */
            if (mfa_keyring_generate(e.kr, &kid) == MFA_OK &&
                mfa_keyring_save(e.kr, krpath) == MFA_OK)
                rc = mfa_keyring_rotate(e.ctx, &a, &b);
            break;
        }
    }
}

static int
integrity_ok(void)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int ok = 0;

    if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READWRITE, NULL) ==
            SQLITE_OK &&
        sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) ==
            SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        ok = strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return ok;
}

typedef struct open_scan {
    const mfa_keyring_t *kr;
    int n, bad;
} open_scan;

static void
open_one(const mfa_factor_rec *f, open_scan *o)
{
    mfa_secret_t *s = NULL;

    o->n++;
    if (mfa_unseal(o->kr, f->account, f->id, f->sealed, f->sealed_len, &s) !=
        MFA_OK)
        o->bad++;
    mfa_secret_free(&s);
}

/* Every factor of the store, page by page. */
static mfa_rc
open_all(mfa_store_t *store, open_scan *o)
{
    static mfa_factor_rec page[32];
    char acct[MFA_ACCOUNT_MAX + 1] = "", id[MFA_FACTOR_ID_LEN + 1] = "";
    size_t n = 0;
    mfa_rc rc;

    do {
        mfa_int_txn x;

        if ((rc = mfa_int_txn_begin(store, NULL, MFA_TXN_READ, &x)) != MFA_OK)
            return rc;
        rc = mfa_int_txn_factor_scan(&x, acct, id, page, 32, &n);
        mfa_int_txn_rollback(&x);
        if (rc != MFA_OK)
            return rc;
        for (size_t i = 0; i < n; i++)
            open_one(&page[i], o);
        if (n > 0) {
            memcpy(acct, page[n - 1].account, sizeof(acct));
            memcpy(id, page[n - 1].id, sizeof(id));
        }
    } while (n == 32);
    return MFA_OK;
}

static void
crash_tests(void)
{
    static const char *names[] = {"enroll", "confirm", "verify", "recover",
                                  "rotation"};
    mfa_otp_t *apps[CRASH_ACCOUNTS] = {0};
    int64_t t = BASE_TIME + 9000000;
    env e;

    /* the accounts the workers touch, each with an active factor */
    CHECK(env_open(&e, 1) == 0, "open");
    for (int i = 0; i < CRASH_ACCOUNTS; i++)
        apps[i] = enroll(&e, crash_account(i), t - 300);
    env_close(&e);

    for (int kind = 0; kind < 5; kind++) {
        for (int rep = 0; rep < 3; rep++) {
            struct timespec d = {0, (long)(40 + 37 * rep) * 1000000L};
            mfa_result res;
            open_scan os = {0};
            size_t a = 0, b = 0;
            char code[MFA_CODE_BUFSIZE];
            pid_t pid;
            int st;

            S->progress = 0;
            pid = fork();
            if (pid == 0) {
                alarm(60);
                crash_worker(kind);
                _exit(0);
            }
            /* let it start its work, then kill it at some point of it */
            for (int w = 0; w < 10000 && S->progress == 0; w++) {
                struct timespec ms = {0, 1000000L};
                nanosleep(&ms, NULL);
            }
            nanosleep(&d, NULL);
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
                  "%s worker was killed, not finished", names[kind]);
            CHECK(S->progress > 0, "%s worker was at work when killed",
                  names[kind]);
            CHECK(integrity_ok(), "integrity after a kill in %s", names[kind]);
            CHECK(env_open(&e, 1) == 0, "reopen after a kill in %s",
                  names[kind]);
            if (e.ctx == NULL)
                continue;
            /* every factor still opens with the saved ring */
            os.kr = e.kr;
            CHECK(open_all(e.store, &os) == MFA_OK, "scan");
            CHECK(os.bad == 0, "%d of %d factors do not open after %s", os.bad,
                  os.n, names[kind]);
            /* the next calls work: rotation finishes, codes verify */
            CHECK(mfa_keyring_rotate(e.ctx, &a, &b) == MFA_OK,
                  "rotate after %s", names[kind]);
            g_now = t + 3000000 + (int64_t)(kind * 3 + rep) * 300;
            for (int i = 0; i < CRASH_ACCOUNTS; i += 13) {
                mfa_rc rc;
                if (apps[i] == NULL)
                    continue;
                if (mfa_otp_totp(apps[i], g_now, code, sizeof(code)) != MFA_OK)
                    code[0] = '\0';
                rc = mfa_verify(e.ctx, crash_account(i), code, &res);
                CHECK(rc == MFA_OK, "verify %s after a kill in %s: %s",
                      crash_account(i), names[kind], mfa_strerror_name(rc));
            }
            {
                mfa_otp_t *o = enroll(&e, "after-crash", g_now);
                mfa_otp_free(&o);
                CHECK(mfa_reset(e.ctx, "after-crash") == MFA_OK, "reset");
            }
            env_close(&e);
        }
    }
    for (int i = 0; i < CRASH_ACCOUNTS; i++)
        mfa_otp_free(&apps[i]);
}

/* ---- a locked, damaged or corrupted database, through mfa_verify ------- */

static int
is_store_error(mfa_rc rc)
{
    return rc == MFA_ERR_STORE || rc == MFA_ERR_BUSY || rc == MFA_ERR_CORRUPT ||
           rc == MFA_ERR_READONLY || rc == MFA_ERR_SCHEMA;
}

static void
fault_tests(void)
{
    int64_t t = BASE_TIME + 20000000;
    char code[MFA_CODE_BUFSIZE];
    mfa_result res;
    sqlite3 *db = NULL;
    mfa_otp_t *o;
    env e;
    mfa_rc rc;

    /* a database of its own: this damages it */
    snprintf(dbpath, sizeof(dbpath), "%s/faults.db", dir);
    {
        char spec[320];
        mfa_store_t *st = NULL;
        snprintf(spec, sizeof(spec), "sqlite:%s", dbpath);
        CHECK(mfa_store_create(&st, spec) == MFA_OK, "create faults.db");
        mfa_store_free(&st);
    }
    CHECK(env_open(&e, 1) == 0, "open");
    o = enroll(&e, "faulty", t);
    if (o == NULL) {
        env_close(&e);
        return;
    }

    /* another process holds the write lock past the busy timeout */
    CHECK(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READWRITE, NULL) ==
                  SQLITE_OK &&
              sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL) ==
                  SQLITE_OK,
          "lock the database");
    g_now = t + 30;
    if (mfa_otp_totp(o, g_now, code, sizeof(code)) != MFA_OK)
        code[0] = '\0';
    rc = mfa_verify(e.ctx, "faulty", code, &res);
    CHECK(is_store_error(rc) && res.outcome == rc,
          "locked: %s (want a store error)", mfa_strerror_name(rc));
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    /* nothing was spent: the same code works once the lock is gone */
    rc = mfa_verify(e.ctx, "faulty", code, &res);
    CHECK(rc == MFA_OK, "after the lock: %s", mfa_strerror_name(rc));

    /* a table missing */
    CHECK(sqlite3_exec(db, "DROP TABLE mfa_throttle", NULL, NULL, NULL) ==
              SQLITE_OK,
          "drop a table");
    g_now += 30;
    if (mfa_otp_totp(o, g_now, code, sizeof(code)) != MFA_OK)
        code[0] = '\0';
    rc = mfa_verify(e.ctx, "faulty", code, &res);
    CHECK(is_store_error(rc), "missing throttle table: %s",
          mfa_strerror_name(rc));
    CHECK(sqlite3_exec(db, "DROP TABLE mfa_factor", NULL, NULL, NULL) ==
              SQLITE_OK,
          "drop a table");
    rc = mfa_verify(e.ctx, "faulty", code, &res);
    CHECK(is_store_error(rc), "missing factor table: %s",
          mfa_strerror_name(rc));
    sqlite3_close(db);
    env_close(&e);

    /* garbage over the file after its header: refused, never accepted */
    {
        FILE *f = fopen(dbpath, "r+b");
        char junk[4096];

        memset(junk, 0x5a, sizeof(junk));
        CHECK(f != NULL && fseek(f, 100, SEEK_SET) == 0 &&
                  fwrite(junk, 1, sizeof(junk), f) == sizeof(junk),
              "overwrite the file");
        if (f)
            fclose(f);
    }
    if (env_open(&e, 1) == 0) {
        rc = mfa_verify(e.ctx, "faulty", code, &res);
        CHECK(rc != MFA_OK, "corrupted file accepted a code");
        CHECK(is_store_error(rc) || rc == MFA_ERR_NO_FACTOR, "corrupted: %s",
              mfa_strerror_name(rc));
    } else {
        CHECK(1, "corrupted file refused at open");
    }
    env_close(&e);
    mfa_otp_free(&o);
}

static void
phase(const char *name, void (*fn)(void))
{
    struct timespec a, b;

    clock_gettime(CLOCK_MONOTONIC, &a);
    fn();
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%-8s %.1f s\n", name,
           (double)(b.tv_sec - a.tv_sec) +
               (double)(b.tv_nsec - a.tv_nsec) / 1e9);
    fflush(stdout);
}

int
main(void)
{
    const char *env_rounds = getenv("MFA_RACE_ROUNDS");
    const char *tmp = getenv("TMPDIR");
    mfa_store_t *probe = NULL;
    mfa_rc rc;

    S = mmap(NULL, sizeof(*S), PROT_READ | PROT_WRITE,
             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (S == MAP_FAILED) {
        perror("mmap");
        printf("0 passed, 1 failed\n");
        return 1;
    }
    memset(S, 0, sizeof(*S));
    S->rounds = env_rounds ? atoi(env_rounds) : ROUNDS_MAX;
    if (S->rounds < 1 || S->rounds > ROUNDS_MAX)
        S->rounds = ROUNDS_MAX;

    snprintf(dir, sizeof(dir), "%s/mfa-race.XXXXXX", tmp ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        printf("0 passed, 1 failed\n");
        return 1;
    }
    snprintf(dbpath, sizeof(dbpath), "%s/mfa.db", dir);
    snprintf(krpath, sizeof(krpath), "%s/keyring", dir);
    CHECK(mfa_keyring_create_file(krpath) == MFA_OK, "key ring file");
    {
        char spec[320];
        snprintf(spec, sizeof(spec), "sqlite:%s", dbpath);
        rc = mfa_store_create(&probe, spec);
    }
    if (rc == MFA_ERR_UNSUPPORTED) {
        printf("built without SQLite: skipped\n");
        return 77;
    }
    CHECK(rc == MFA_OK, "create the database: %s", mfa_strerror_name(rc));
    mfa_store_free(&probe);

    phase("totp", race_totp);
    phase("backup", race_backup);
    phase("oob", race_oob);
    phase("guesses", race_guesses);
    phase("sigkill", crash_tests);
    phase("faults", fault_tests);

    {
        char cmd[400];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", dir);
    }
    printf("%d rounds x %d processes\n", S->rounds, NPROC);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
