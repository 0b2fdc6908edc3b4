/*
 * Reliability of the SQLite store across processes and failures.
 *
 * - 8 processes x 1,000 rounds race factor_advance on one factor of one
 *   file, each round released together by a process-shared barrier: exactly
 *   one acceptance per round.  The same for backup_spend and oob_spend (one
 *   account per round, so no setup sits between the rounds).
 * - 8 processes send 1,000 throttle hits in all at one instant: the failure
 *   count is 1,000 and only the free attempts pass.
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

#include "store/store_int.h"

#define PROCS 8
#define MAX_ROUNDS 10000

static char tmpdir[] = "/tmp/mfa-rel-XXXXXX";
static int rounds = 1000;
static int passed, failed;
static const char *current;
static int current_failed;

/* ---- tiny harness
 * ------------------------------------------------------------ */

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

static void
path_of(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s.db", tmpdir, name);
}

static mfa_store_t *
must_open(const char *path)
{
    mfa_store_t *s = NULL;
    mfa_rc rc = mfa_store_sqlite_open(&s, path);

    if (rc != MFA_OK) {
        fprintf(stderr, "open %s: %s\n", path, mfa_strerror_name(rc));
        exit(EXIT_FAILURE);
    }
    return s;
}

/* Setup writes need no fsync each: the races run with the real settings. */
static void
fast_setup(mfa_store_t *s, int on)
{
    sqlite3_exec(mfa_int_store_sqlite_db(s),
                 on ? "PRAGMA synchronous = OFF" : "PRAGMA synchronous = FULL",
                 NULL, NULL, NULL);
}

static mfa_factor_rec
factor(const char *account, const char *id, int64_t last_step)
{
    mfa_factor_rec f;

    memset(&f, 0, sizeof(f));
    snprintf(f.id, sizeof(f.id), "%s", id);
    snprintf(f.account, sizeof(f.account), "%s", account);
    snprintf(f.label, sizeof(f.label), "phone");
    f.type = MFA_TOTP;
    f.algorithm = MFA_SHA1;
    f.digits = 6;
    f.period = 30;
    f.last_step = last_step;
    f.status = MFA_FACTOR_ACTIVE;
    f.created = 1000;
    f.sealed_len = 65;
    memset(f.sealed, 0x5c, f.sealed_len);
    return f;
}

static void
hash_of(uint8_t h[MFA_BACKUP_HASHBYTES], uint32_t a, uint32_t b)
{
    uint32_t x[2] = {a, b};
    crypto_generichash(h, MFA_BACKUP_HASHBYTES, (const uint8_t *)x, sizeof(x),
                       NULL, 0);
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

/* ---- multi-process races
 * ----------------------------------------------------- */

typedef enum race_kind {
    RACE_ADVANCE,
    RACE_BACKUP,
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

static const mfa_throttle_policy race_policy = {3, 1, 3600};

static void
race_child(const char *path, shared *sh, race_kind kind, int me)
{
    mfa_store_t *s;
    int r, per = rounds / PROCS;

    alarm(120); /* a stuck barrier must not hang the test run */
    s = must_open(path);
    if (kind == RACE_THROTTLE) {
        /* 1,000 hits in all, at one instant, released together */
        pthread_barrier_wait(&sh->barrier);
        for (r = 0; r < per + (me < rounds % PROCS); r++) {
            mfa_throttle_state st;
            mfa_rc rc =
                mfa_store_throttle_hit(s, "victim", 50000, &race_policy, &st);
            if (rc == MFA_OK)
                atomic_fetch_add(&sh->wins[0], 1);
            else if (rc == MFA_ERR_THROTTLED)
                atomic_fetch_add(&sh->losses, 1);
            else {
                atomic_fetch_add(&sh->errors, 1);
                atomic_store(&sh->last_error, rc);
            }
        }
        mfa_store_free(&s);
        _exit(0);
    }
    for (r = 0; r < rounds; r++) {
        mfa_rc rc = MFA_OK, loss = MFA_ERR_NOT_FOUND;
        char acct[32];
        uint8_t h[MFA_BACKUP_HASHBYTES];

        snprintf(acct, sizeof(acct), "user%d", r);
        pthread_barrier_wait(&sh->barrier);
        switch (kind) {
        case RACE_ADVANCE:
            rc = mfa_store_factor_advance(s, "racer", "00000000000000aa", r + 1,
                                          me, 2000 + r);
            loss = MFA_ERR_REPLAYED;
            break;
        case RACE_BACKUP:
            hash_of(h, (uint32_t)r, 1);
            rc = mfa_store_backup_spend(s, acct, h, 2000 + r);
            break;
        case RACE_OOB:
            hash_of(h, (uint32_t)r, 2);
            rc = mfa_store_oob_spend(s, acct, "sms", h);
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
    mfa_store_free(&s);
    _exit(0);
}

static void
race(race_kind kind, const char *name)
{
    char path[512];
    shared *sh;
    pthread_barrierattr_t ba;
    pid_t pids[PROCS];
    mfa_store_t *s;
    int i, bad = 0, total = 0;

    path_of(path, sizeof(path), name);
    s = must_open(path);
    fast_setup(s, 1);
    if (kind == RACE_ADVANCE) {
        mfa_factor_rec f = factor("racer", "00000000000000aa", 0);
        EXPECT_RC(mfa_store_factor_create(s, &f), MFA_OK);
    }
    for (i = 0; i < rounds && (kind == RACE_BACKUP || kind == RACE_OOB); i++) {
        char acct[32];
        snprintf(acct, sizeof(acct), "user%d", i);
        if (kind == RACE_BACKUP) {
            mfa_backup_rec c[2];
            hash_of(c[0].hash, (uint32_t)i, 0);
            hash_of(c[1].hash, (uint32_t)i, 1);
            c[0].key_id = c[1].key_id = 1;
            EXPECT_RC(mfa_store_backup_replace(s, acct, c, 2, 1000), MFA_OK);
        } else {
            mfa_oob_challenge c;
            memset(&c, 0, sizeof(c));
            hash_of(c.hash, (uint32_t)i, 2);
            snprintf(c.purpose, sizeof(c.purpose), "sms");
            c.created = 1000;
            c.expires = 1600;
            c.attempts_left = 5;
            EXPECT_RC(mfa_store_oob_put(s, acct, &c), MFA_OK);
        }
    }
    fast_setup(s, 0);

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
        mfa_throttle_state st;
        /* free attempts (3) and the one that sets the first delay pass;
         * every other hit at that instant is refused, and all are counted */
        EXPECT(atomic_load(&sh->wins[0]) == 4, "%d hits passed, want 4",
               atomic_load(&sh->wins[0]));
        EXPECT(atomic_load(&sh->losses) == rounds - 4, "%d throttled",
               atomic_load(&sh->losses));
        EXPECT_RC(mfa_store_throttle_get(s, "victim", &st), MFA_OK);
        EXPECT(st.failures == (uint32_t)rounds, "failures %u, want %d",
               st.failures, rounds);
        EXPECT(st.locked_until == 50001, "locked_until %lld",
               (long long)st.locked_until);
        printf("     %d hits, %u failures counted, %d passed\n", rounds,
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
    if (kind == RACE_ADVANCE) {
        mfa_factor_rec g;
        EXPECT_RC(mfa_store_factor_get(s, "racer", "00000000000000aa", &g),
                  MFA_OK);
        EXPECT(g.last_step == rounds, "last_step %lld", (long long)g.last_step);
    }
    EXPECT(integrity_ok(path), "integrity_check");
    pthread_barrier_destroy(&sh->barrier);
    munmap(sh, sizeof(*sh));
    mfa_store_free(&s);
}

static void
race_advance(void)
{
    race(RACE_ADVANCE, "race-advance");
}
static void
race_backup(void)
{
    race(RACE_BACKUP, "race-backup");
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

/* ---- SIGKILL in the middle of writes --------------------------------------
 */

typedef struct acked {
    atomic_llong step; /* last acknowledged factor step */
    atomic_llong gen;  /* last acknowledged backup generation */
    atomic_llong ops;
} acked;

#define CODES 10

static void
writer_child(const char *path, acked *ak)
{
    mfa_store_t *s = must_open(path);
    const mfa_throttle_policy p = {1000000, 1, 1};
    int64_t step = atomic_load(&ak->step), gen = atomic_load(&ak->gen);
    uint32_t n = 0;

    alarm(60);
    for (;;) {
        mfa_backup_rec c[CODES];
        mfa_throttle_state st;
        mfa_factor_rec f;
        char id[MFA_FACTOR_ID_LEN + 1];
        int i;

        if (mfa_store_factor_advance(s, "k", "00000000000000aa", step + 1, 0,
                                     3000) == MFA_OK)
            atomic_store(&ak->step, ++step);
        /* a whole new set of codes in one transaction, generation in key_id */
        for (i = 0; i < CODES; i++) {
            hash_of(c[i].hash, (uint32_t)(gen + 1), (uint32_t)i);
            c[i].key_id = (uint32_t)(gen + 1);
        }
        if (mfa_store_backup_replace(s, "k", c, CODES, 3000) == MFA_OK)
            atomic_store(&ak->gen, ++gen);
        ignore(mfa_store_backup_spend(s, "k", c[0].hash, 3001));
        ignore(mfa_store_throttle_hit(s, "k", 3000, &p, &st));
        /* enroll and drop factors: pages split and merge */
        snprintf(id, sizeof(id), "%016x", n++);
        f = factor("k", id, MFA_STEP_NONE);
        f.status = MFA_FACTOR_PENDING;
        ignore(mfa_store_factor_create(s, &f));
        ignore(mfa_store_factor_activate(s, "k", id, 1, 0, 0, 3000));
        if (n % 4 == 0)
            ignore(mfa_store_account_reset(s, "scratch"));
        if (n > 8) {
            snprintf(id, sizeof(id), "%016x", n - 8);
            ignore(mfa_store_factor_remove(s, "k", id));
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
    mfa_factor_rec f = factor("k", "00000000000000aa", 0), g;
    int kill_n, killed = 0;
    long long total_ops = 0;

    path_of(path, sizeof(path), "sigkill");
    s = must_open(path);
    EXPECT_RC(mfa_store_factor_create(s, &f), MFA_OK);
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
        size_t n = 0, i;
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
        s = must_open(path);
        /* every acknowledged step is there; at most the one in flight more */
        EXPECT_RC(mfa_store_factor_get(s, "k", f.id, &g), MFA_OK);
        EXPECT(g.last_step == atomic_load(&ak->step) ||
                   g.last_step == atomic_load(&ak->step) + 1,
               "kill %d: last_step %lld, acknowledged %lld", kill_n,
               (long long)g.last_step, (long long)atomic_load(&ak->step));
        atomic_store(&ak->step, g.last_step);
        /* the code set is one generation, whole: 10 codes or 9 after the
         * spend, never a mix */
        EXPECT_RC(mfa_store_backup_list(s, "k", c, MFA_BACKUP_COUNT_MAX, &n),
                  MFA_OK);
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
        /* and the next call works */
        EXPECT_RC(
            mfa_store_factor_advance(s, "k", f.id, g.last_step + 1, 0, 4000),
            MFA_OK);
        atomic_store(&ak->step, g.last_step + 1);
        mfa_store_free(&s);
    }
    EXPECT(killed == 20, "only %d of 20 writers died by SIGKILL", killed);
    printf("     %d kills, %lld write rounds before them, step %lld, "
           "generation %lld\n",
           killed, total_ops, (long long)atomic_load(&ak->step),
           (long long)atomic_load(&ak->gen));
    munmap(ak, sizeof(*ak));
}

/* ---- failures of the file -------------------------------------------------
 */

/* A store with one active factor, two unused codes and a challenge. */
static void
populate(const char *path)
{
    mfa_store_t *s = must_open(path);
    mfa_factor_rec f = factor("alice", "00000000000000aa", 10);
    mfa_backup_rec c[2];
    mfa_oob_challenge o;

    hash_of(c[0].hash, 7, 0);
    hash_of(c[1].hash, 7, 1);
    c[0].key_id = c[1].key_id = 1;
    memset(&o, 0, sizeof(o));
    hash_of(o.hash, 7, 2);
    snprintf(o.purpose, sizeof(o.purpose), "sms");
    o.created = 1000;
    o.expires = 99999;
    o.attempts_left = 5;
    EXPECT_RC(mfa_store_factor_create(s, &f), MFA_OK);
    EXPECT_RC(mfa_store_backup_replace(s, "alice", c, 2, 1000), MFA_OK);
    EXPECT_RC(mfa_store_oob_put(s, "alice", &o), MFA_OK);
    mfa_store_free(&s);
}

/* None of the writes of the attempt() set was accepted or lost. */
static void
intact(const char *path)
{
    mfa_store_t *s = must_open(path);
    mfa_factor_rec g;
    mfa_backup_rec c[4];
    mfa_oob_challenge o;
    size_t n = 0;

    EXPECT_RC(mfa_store_factor_get(s, "alice", "00000000000000aa", &g), MFA_OK);
    EXPECT(g.last_step == 10, "last_step %lld", (long long)g.last_step);
    EXPECT_RC(mfa_store_backup_list(s, "alice", c, 4, &n), MFA_OK);
    EXPECT(n == 2, "%zu codes left", n);
    (void)o;
    mfa_store_free(&s);
    /* read the challenge raw: a take would use an attempt */
    {
        sqlite3 *db = NULL;
        sqlite3_open(path, &db);
        EXPECT(raw_int(db, "SELECT attempts_left FROM mfa_oob_challenge "
                           "WHERE account = 'alice' AND purpose = 'sms'") == 5,
               "challenge changed");
        sqlite3_close(db);
    }
}

/* The writes a login makes; each must fail with `want`. */
static void
attempt(mfa_store_t *s, mfa_rc want)
{
    uint8_t h[MFA_BACKUP_HASHBYTES];
    const mfa_throttle_policy p = {5, 30, 3600};
    mfa_throttle_state st;
    mfa_oob_challenge o;

    EXPECT_RC(
        mfa_store_factor_advance(s, "alice", "00000000000000aa", 11, 0, 2000),
        want);
    hash_of(h, 7, 0);
    EXPECT_RC(mfa_store_backup_spend(s, "alice", h, 2000), want);
    hash_of(h, 7, 2);
    EXPECT_RC(mfa_store_oob_spend(s, "alice", "sms", h), want);
    EXPECT_RC(mfa_store_oob_take(s, "alice", "sms", 2000, &o), want);
    EXPECT_RC(mfa_store_throttle_hit(s, "alice", 2000, &p, &st), want);
}

static void
read_only_file(void)
{
    char path[512], uri[600];
    mfa_store_t *s = NULL;
    mfa_factor_rec g;
    pid_t pid;
    int st = 0;

    path_of(path, sizeof(path), "readonly");
    populate(path);

    /* opened read-only */
    snprintf(uri, sizeof(uri), "file:%s?mode=ro", path);
    EXPECT_RC(mfa_store_sqlite_open(&s, uri), MFA_OK);
    if (s != NULL) {
        EXPECT_RC(mfa_store_factor_get(s, "alice", "00000000000000aa", &g),
                  MFA_OK);
        attempt(s, MFA_ERR_READONLY);
        mfa_store_free(&s);
    }
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
            const mfa_throttle_policy p = {5, 30, 3600};
            mfa_throttle_state ts;
            if (mfa_store_factor_advance(c, "alice", "00000000000000aa", 11, 0,
                                         2000) == MFA_OK ||
                mfa_store_throttle_hit(c, "alice", 2000, &p, &ts) == MFA_OK)
                _exit(1);
            mfa_store_free(&c);
            _exit(0);
        }
        /* or refused at open with a store error, never a crash */
        _exit(rc == MFA_ERR_READONLY || rc == MFA_ERR_STORE ||
                      rc == MFA_ERR_BUSY
                  ? 0
                  : 2);
    }
    waitpid(pid, &st, 0);
    EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0,
           "unprivileged open of a 0444 file: status %d", st);
    chmod(path, 0644);
    chmod(tmpdir, 0700);
    intact(path);
}

static void
full_database(void)
{
    char path[512], acct[32];
    mfa_store_t *s;
    sqlite3 *db;
    mfa_backup_rec c[MFA_BACKUP_COUNT_MAX], got[MFA_BACKUP_COUNT_MAX];
    mfa_rc rc = MFA_OK;
    size_t n = 0;
    int i, created = 0, replaced = 0;

    path_of(path, sizeof(path), "full");
    populate(path);
    s = must_open(path);
    db = mfa_int_store_sqlite_db(s);
    /* 200 accounts with one code each, while there is room */
    for (i = 0; i < 200; i++) {
        snprintf(acct, sizeof(acct), "acct%d", i);
        hash_of(c[0].hash, 1000, (uint32_t)i);
        c[0].key_id = 1;
        EXPECT_RC(mfa_store_backup_replace(s, acct, c, 1, 1000), MFA_OK);
    }
    /* the file may not grow any more: the disk is full for SQLite */
    {
        char q[96];
        snprintf(q, sizeof(q), "PRAGMA max_page_count = %lld",
                 (long long)raw_int(db, "PRAGMA page_count"));
        sqlite3_exec(db, q, NULL, NULL, NULL);
    }
    for (i = 0; i < 10000 && rc == MFA_OK; i++) {
        char id[MFA_FACTOR_ID_LEN + 1];
        mfa_factor_rec f;
        snprintf(id, sizeof(id), "%016x", 0x1000 + i);
        f = factor("filler", id, 0);
        rc = mfa_store_factor_create(s, &f);
        created += rc == MFA_OK;
    }
    EXPECT(rc == MFA_ERR_READONLY, "filling ended with %s after %d",
           mfa_strerror_name(rc), created);
    /* grow each account's set to 32 codes until that no longer fits: the
     * set that failed is its old one, whole */
    rc = MFA_OK;
    for (i = 0; i < 200 && rc == MFA_OK; i++) {
        size_t k;
        snprintf(acct, sizeof(acct), "acct%d", i);
        for (k = 0; k < MFA_BACKUP_COUNT_MAX; k++) {
            hash_of(c[k].hash, 2000 + (uint32_t)i, (uint32_t)k);
            c[k].key_id = 2;
        }
        rc = mfa_store_backup_replace(s, acct, c, MFA_BACKUP_COUNT_MAX, 3000);
        replaced += rc == MFA_OK;
    }
    EXPECT(rc == MFA_ERR_READONLY, "replacing ended with %s after %d",
           mfa_strerror_name(rc), replaced);
    EXPECT_RC(mfa_store_backup_list(s, acct, got, MFA_BACKUP_COUNT_MAX, &n),
              MFA_OK);
    EXPECT(n == 1 && got[0].key_id == 1,
           "%zu codes (key %u) after the failed replace", n, got[0].key_id);
    snprintf(acct, sizeof(acct), "acct%d", replaced > 0 ? replaced - 1 : 0);
    EXPECT_RC(mfa_store_backup_list(s, acct, got, MFA_BACKUP_COUNT_MAX, &n),
              MFA_OK);
    EXPECT(replaced == 0 || n == MFA_BACKUP_COUNT_MAX,
           "%zu codes after a replace that fitted", n);
    /* the login path still refuses nothing it should accept: in-place
     * updates need no new page */
    EXPECT_RC(
        mfa_store_factor_advance(s, "alice", "00000000000000aa", 11, 0, 2000),
        MFA_OK);
    mfa_store_free(&s);
    EXPECT(integrity_ok(path), "integrity_check");
    /* with room again (a new connection has no cap), everything works */
    s = must_open(path);
    EXPECT_RC(mfa_store_backup_replace(s, acct, c, MFA_BACKUP_COUNT_MAX, 3000),
              MFA_OK);
    EXPECT_RC(
        mfa_store_factor_advance(s, "alice", "00000000000000aa", 12, 0, 2001),
        MFA_OK);
    mfa_store_free(&s);
    printf("     %d factors and %d grown code sets fitted before the "
           "database was full\n",
           created, replaced);
}

static void
locked_database(void)
{
    char path[512];
    mfa_store_t *s;
    sqlite3 *other = NULL;
    struct timespec t0, t1;
    double waited;
    mfa_factor_rec g;

    path_of(path, sizeof(path), "locked");
    populate(path);
    s = must_open(path);

    /* another connection holds the write lock past the default 5 s */
    sqlite3_open(path, &other);
    sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    EXPECT_RC(
        mfa_store_factor_advance(s, "alice", "00000000000000aa", 11, 0, 2000),
        MFA_ERR_BUSY);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    waited = (double)(t1.tv_sec - t0.tv_sec) +
             (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    EXPECT(waited >= 4.9 && waited < 15, "waited %.2f s", waited);
    /* the rest with a short timeout, to keep the test quick */
    EXPECT_RC(mfa_int_store_sqlite_set_timeout(s, 200), MFA_OK);
    attempt(s, MFA_ERR_BUSY);
    /* WAL: readers are not blocked by a writer */
    EXPECT_RC(mfa_store_factor_get(s, "alice", "00000000000000aa", &g), MFA_OK);
    sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);

    sqlite3_close(other);
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
                            "EXCLUSIVE; UPDATE mfa_throttle SET failures = "
                            "failures",
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
        s = must_open(path);
    }

    /* released: the same store works again */
    EXPECT_RC(
        mfa_store_factor_advance(s, "alice", "00000000000000aa", 11, 0, 2000),
        MFA_OK);
    EXPECT_RC(
        mfa_store_factor_advance(s, "alice", "00000000000000aa", 11, 0, 2000),
        MFA_ERR_REPLAYED);
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
    char path[512], p2[512];
    mfa_store_t *s = NULL;
    sqlite3 *db = NULL;
    int64_t pages, psize;
    mfa_rc rc;
    int i;

    /* garbage bytes are not a database */
    path_of(path, sizeof(path), "garbage");
    write_garbage(path, 0, 16384);
    rc = mfa_store_sqlite_open(&s, path);
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
    rc = mfa_store_sqlite_open(&s, p2);
    if (rc == MFA_OK) {
        /* every write fails, and no read invents data */
        uint8_t h[MFA_BACKUP_HASHBYTES];
        mfa_factor_rec g;
        mfa_throttle_state st;
        const mfa_throttle_policy p = {5, 30, 3600};
        hash_of(h, 7, 0);
        for (i = 0; i < 2; i++) {
            rc = mfa_store_factor_advance(s, "alice", "00000000000000aa", 11, 0,
                                          2000);
            EXPECT(rc == MFA_ERR_CORRUPT || rc == MFA_ERR_STORE,
                   "advance on a damaged file: %s", mfa_strerror_name(rc));
            rc = mfa_store_backup_spend(s, "alice", h, 2000);
            EXPECT(rc == MFA_ERR_CORRUPT || rc == MFA_ERR_STORE,
                   "spend on a damaged file: %s", mfa_strerror_name(rc));
            rc = mfa_store_throttle_hit(s, "alice", 2000, &p, &st);
            EXPECT(rc == MFA_ERR_CORRUPT || rc == MFA_ERR_STORE,
                   "throttle on a damaged file: %s", mfa_strerror_name(rc));
            rc = mfa_store_factor_get(s, "alice", "00000000000000aa", &g);
            EXPECT(rc == MFA_ERR_CORRUPT || rc == MFA_ERR_STORE,
                   "get on a damaged file: %s", mfa_strerror_name(rc));
        }
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
    char path[512];
    mfa_store_t *s;
    sqlite3 *other = NULL;
    mfa_factor_rec g;
    mfa_backup_rec c[2];
    size_t n = 0;
    uint8_t h[MFA_BACKUP_HASHBYTES];

    path_of(path, sizeof(path), "missing");
    populate(path);
    s = must_open(path);
    /* warm the statements, then drop a table under the open store */
    hash_of(h, 7, 99);
    EXPECT_RC(mfa_store_backup_spend(s, "alice", h, 1500), MFA_ERR_NOT_FOUND);
    sqlite3_open(path, &other);
    sqlite3_exec(other, "DROP TABLE mfa_backup_code", NULL, NULL, NULL);
    sqlite3_close(other);

    hash_of(h, 7, 0);
    EXPECT_RC(mfa_store_backup_spend(s, "alice", h, 2000), MFA_ERR_STORE);
    EXPECT_RC(mfa_store_backup_list(s, "alice", c, 2, &n), MFA_ERR_STORE);
    EXPECT(n == 0, "codes from a missing table");
    EXPECT_RC(mfa_store_backup_replace(s, "alice", c, 0, 2000), MFA_ERR_STORE);
    /* the account reset is one transaction: it fails whole */
    EXPECT_RC(mfa_store_account_reset(s, "alice"), MFA_ERR_STORE);
    /* the other tables still work, and nothing was lost from them */
    EXPECT_RC(mfa_store_factor_get(s, "alice", "00000000000000aa", &g), MFA_OK);
    EXPECT(g.last_step == 10, "last_step %lld", (long long)g.last_step);
    mfa_store_free(&s);

    /* reopening names the problem */
    s = (mfa_store_t *)&s;
    EXPECT_RC(mfa_store_sqlite_open(&s, path), MFA_ERR_SCHEMA);
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

    if (env != NULL && atoi(env) >= PROCS && atoi(env) <= MAX_ROUNDS)
        rounds = atoi(env);
    if (sodium_init() < 0 || mkdtemp(tmpdir) == NULL) {
        perror("setup");
        return EXIT_FAILURE;
    }
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    run("8 processes race factor_advance", race_advance);
    run("8 processes race backup_spend", race_backup);
    run("8 processes race oob_spend", race_oob);
    run("8 processes send 1,000 throttle hits", race_throttle);
    run("SIGKILL in the middle of writes", sigkill_writes);
    run("read-only file", read_only_file);
    run("full database", full_database);
    run("locked database", locked_database);
    run("corrupted file", corrupted_file);
    run("missing table", missing_table);
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
