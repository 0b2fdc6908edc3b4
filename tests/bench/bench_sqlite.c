/*
 * mfa_verify on the SQLite store against a bare transaction doing the same
 * work on the same tables with the same pragmas, in one run (issue 13):
 *
 *   BEGIN IMMEDIATE; read the account's throttle row; read the account's
 *   factors; check the code with mfa_otp_totp_verify (the bench holds the
 *   key: no unsealing); right: UPDATE the factor's last_step and delete the
 *   throttle row; wrong: count the failure in the throttle row; COMMIT.
 *
 * Right and wrong codes, library defaults (synchronous=FULL) and
 * synchronous=NORMAL, one thread and two threads sharing one store (the
 * bare side shares one connection under a mutex, as the store does).
 * Every code is fresh: each thread has its own account and its own clock,
 * one step further at every call; the codes are computed before the timed
 * part.  Each case runs five times, the cases of a code type in turn
 * (libmfa and bare alternating), and the best of each is kept: the
 * machine may be shared.  Prints verifies per second (wall clock, all
 * threads) and CPU microseconds per verify (user and system time of the
 * verifying threads: what the machine's other load disturbs least), each
 * with the cost ratio libmfa/bare (bare rate / libmfa rate, libmfa CPU /
 * bare CPU); then, on one thread, the two sides call by call, each call
 * timed, and the ratio of their median wall time per verify; then one
 * thread against two in alternating slices of 0.1 s.
 *
 *   bench-sqlite [seconds per case and round, default 0.5] [directory, default
 *   /var/tmp] [full|normal: only that setting]
 *
 * The directory should be on a real disk (not tmpfs), so that fsync costs
 * what it costs.
 *
 * Device tokens (mfa/device.h) are off, so that both sides do the same
 * work: with them every right code also writes the device's row.
 * MFA_BENCH_DEVICES=1 turns them on, to see what they cost against the
 * same bare transaction.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include <mfa.h>

#define NTHREADS 2
#define ROUNDS 5
#define SLICES 20
#define BASE_TIME 1700000010
#define TMPFS_MAGIC 0x01021994

static double secs = 0.5;

static double
clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
now_s(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

/* ---- the bare transaction --------------------------------------------- */

enum {
    B_BEGIN,
    B_COMMIT,
    B_THROTTLE,
    B_FACTORS,
    B_ADVANCE,
    B_CLEAR,
    B_COUNT_FAIL,
    B_N
};

static const char *const bare_sql[B_N] = {
    [B_BEGIN] = "BEGIN IMMEDIATE",
    [B_COMMIT] = "COMMIT",
    [B_THROTTLE] = "SELECT failures, locked_until, updated FROM mfa_throttle "
                   "WHERE account = ?1 AND bucket = ''",
    [B_FACTORS] = "SELECT id, account, label, type, algorithm, digits, "
                  "period, t0, last_step, drift, status, created, confirmed, "
                  "last_used, sealed FROM mfa_factor WHERE account = ?1 "
                  "ORDER BY created, id",
    [B_ADVANCE] = "UPDATE mfa_factor SET last_step = ?2, drift = ?3, "
                  "last_used = ?4 WHERE id = ?1",
    [B_CLEAR] = "DELETE FROM mfa_throttle WHERE account = ?1 AND bucket = ''",
    [B_COUNT_FAIL] =
        "INSERT INTO mfa_throttle (account, bucket, failures, locked_until, "
        "updated) VALUES (?1, '', 1, 0, ?2) ON CONFLICT (account, bucket) DO "
        "UPDATE SET failures = failures + 1, updated = excluded.updated",
};

typedef struct bare {
    pthread_mutex_t mu;
    sqlite3 *db;
    sqlite3_stmt *st[B_N];
} bare;

static int
bare_open(bare *b, const char *path, int normal)
{
    const char *pragmas[] = {
        normal ? "PRAGMA synchronous = NORMAL" : "PRAGMA synchronous = FULL",
        "PRAGMA foreign_keys = ON",
        "PRAGMA secure_delete = ON",
        "PRAGMA trusted_schema = OFF",
        "PRAGMA journal_mode = WAL",
    };

    memset(b, 0, sizeof(*b));
    pthread_mutex_init(&b->mu, NULL);
    if (sqlite3_open_v2(path, &b->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK)
        return -1;
    sqlite3_busy_timeout(b->db, 5000);
    for (size_t i = 0; i < sizeof(pragmas) / sizeof(pragmas[0]); i++)
        if (sqlite3_exec(b->db, pragmas[i], NULL, NULL, NULL) != SQLITE_OK)
            return -1;
    for (int i = 0; i < B_N; i++)
        if (sqlite3_prepare_v3(b->db, bare_sql[i], -1,
                               SQLITE_PREPARE_PERSISTENT, &b->st[i],
                               NULL) != SQLITE_OK)
            return -1;
    return 0;
}

static void
bare_close(bare *b)
{
    for (int i = 0; i < B_N; i++)
        sqlite3_finalize(b->st[i]);
    sqlite3_close(b->db);
    pthread_mutex_destroy(&b->mu);
}

static int
step_done(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* 1 accepted, 0 refused, -1 a store error (the bench stops). */
static int
bare_verify(bare *b, const char *account, const mfa_otp_t *otp,
            const char *code, int64_t now)
{
    sqlite3_stmt *s;
    char id[MFA_FACTOR_ID_LEN + 1] = "";
    uint8_t sealed[MFA_SEALED_MAX];
    int64_t last_step = MFA_STEP_NONE, locked_until = 0;
    uint64_t step = 0;
    int32_t off = 0;
    int ok = -1, verdict = 0;

    pthread_mutex_lock(&b->mu);
    if (step_done(b->st[B_BEGIN]) != 0)
        goto out;
    s = b->st[B_THROTTLE];
    sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW)
        locked_until = sqlite3_column_int64(s, 1);
    sqlite3_reset(s);
    /* every column of every factor, as a store must read them */
    s = b->st[B_FACTORS];
    sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
    while (sqlite3_step(s) == SQLITE_ROW) {
        int n = sqlite3_column_bytes(s, 14);
        if (sqlite3_column_int64(s, 10) != MFA_FACTOR_ACTIVE || n <= 0 ||
            (size_t)n > sizeof(sealed))
            continue;
        snprintf(id, sizeof(id), "%s", (const char *)sqlite3_column_text(s, 0));
        memcpy(sealed, sqlite3_column_blob(s, 14), (size_t)n);
        last_step = sqlite3_column_int64(s, 8);
    }
    sqlite3_reset(s);
    if (now >= locked_until && id[0] != '\0')
        verdict = mfa_otp_totp_verify(otp, code, now, 1, 1, last_step, &step,
                                      &off) == MFA_OK;
    if (verdict) {
        s = b->st[B_ADVANCE];
        sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, (sqlite3_int64)step);
        sqlite3_bind_int64(s, 3, off);
        sqlite3_bind_int64(s, 4, now);
        if (step_done(s) != 0)
            goto rollback;
        s = b->st[B_CLEAR];
        sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
        if (step_done(s) != 0)
            goto rollback;
    } else {
        s = b->st[B_COUNT_FAIL];
        sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, now);
        if (step_done(s) != 0)
            goto rollback;
    }
    if (step_done(b->st[B_COMMIT]) == 0) {
        ok = verdict;
        goto out;
    }
rollback:
    sqlite3_exec(b->db, "ROLLBACK", NULL, NULL, NULL);
out:
    pthread_mutex_unlock(&b->mu);
    return ok;
}

/* ---- the runs ------------------------------------------------------------ */

static _Thread_local int64_t tl_now;

static int64_t
clock_fn(void *arg)
{
    (void)arg;
    return tl_now;
}

typedef struct worker {
    mfa_ctx_t *ctx;
    bare *b;
    const mfa_otp_t *otp;
    const char *account;
    int64_t *time; /* the account's clock, continued from case to case */
    char (*codes)[MFA_CODE_BUFSIZE];
    long ncodes;
    int use_bare;
    long n, ok, errors;
    int ran_out;
    double cpu; /* this thread's CPU seconds in the timed part */
} worker;

static pthread_barrier_t bar;
static double t_start, t_end;
static pthread_mutex_t t_mu = PTHREAD_MUTEX_INITIALIZER;

static void *
run(void *arg)
{
    worker *w = arg;
    int64_t t = *w->time;
    double end;
    mfa_result res;

    w->n = w->ok = w->errors = 0;
    w->ran_out = 0;
    pthread_barrier_wait(&bar);
    w->cpu = clock_s(CLOCK_THREAD_CPUTIME_ID);
    end = t_start + secs;
    for (long i = 0;; i++) {
        int r;
        if ((i & 15) == 0 && now_s() >= end)
            break;
        if (i == w->ncodes) {
            w->ran_out = 1;
            break;
        }
        t += 30;
        tl_now = t;
        if (w->use_bare) {
            r = bare_verify(w->b, w->account, w->otp, w->codes[i], t);
        } else {
            mfa_rc rc = mfa_verify(w->ctx, w->account, w->codes[i], &res);
            r = rc == MFA_OK                                         ? 1
                : rc == MFA_ERR_CODE_WRONG || rc == MFA_ERR_REPLAYED ? 0
                                                                     : -1;
        }
        if (r < 0)
            w->errors++;
        else
            w->ok += r;
        w->n++;
    }
    w->cpu = clock_s(CLOCK_THREAD_CPUTIME_ID) - w->cpu;
    pthread_mutex_lock(&t_mu);
    if (now_s() > t_end)
        t_end = now_s();
    pthread_mutex_unlock(&t_mu);
    *w->time = t;
    return NULL;
}

typedef struct account {
    char name[32];
    mfa_otp_t *otp; /* the authenticator app's side */
    int64_t time;
} account;

/* Codes for the next n steps of a's clock: right ones, or each with its
 * last digit changed (wrong for that step). */
static void
make_codes(account *a, char (*codes)[MFA_CODE_BUFSIZE], long n, int right)
{
    for (long i = 0; i < n; i++) {
        if (mfa_otp_totp(a->otp, a->time + 30 * (i + 1), codes[i],
                         MFA_CODE_BUFSIZE) != MFA_OK)
            abort();
        if (!right) {
            size_t k = strlen(codes[i]) - 1;
            codes[i][k] = (char)('0' + (codes[i][k] - '0' + 1) % 10);
        }
    }
}

/* Verifies per second of one case, over all threads (wall clock). */
typedef struct figures {
    double rate; /* verifies per second, wall clock, all threads */
    double cpu;  /* CPU microseconds per verify (user and system) */
} figures;

static figures
one_case(mfa_ctx_t *ctx, bare *b, account *acc, int nthreads, int right,
         int use_bare, long cap)
{
    figures fg;
    double cpu = 0;
    pthread_t th[NTHREADS];
    worker w[NTHREADS];
    long n = 0, ok = 0, errors = 0;
    int ran_out = 0;

    for (int i = 0; i < nthreads; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].ctx = ctx;
        w[i].b = b;
        w[i].otp = acc[i].otp;
        w[i].account = acc[i].name;
        w[i].time = &acc[i].time;
        w[i].ncodes = cap;
        w[i].codes = malloc((size_t)cap * MFA_CODE_BUFSIZE);
        w[i].use_bare = use_bare;
        if (w[i].codes == NULL)
            abort();
        make_codes(&acc[i], w[i].codes, cap, right);
    }
    pthread_barrier_init(&bar, NULL, (unsigned)nthreads + 1);
    for (int i = 0; i < nthreads; i++)
        pthread_create(&th[i], NULL, run, &w[i]);
    t_start = now_s();
    t_end = 0;
    pthread_barrier_wait(&bar);
    for (int i = 0; i < nthreads; i++) {
        pthread_join(th[i], NULL);
        n += w[i].n;
        ok += w[i].ok;
        errors += w[i].errors;
        ran_out |= w[i].ran_out;
        cpu += w[i].cpu;
        free(w[i].codes);
    }
    pthread_barrier_destroy(&bar);
    if (errors > 0 || (right && ok != n) || (!right && ok > n / 1000)) {
        fprintf(stderr, "unexpected results: %ld of %ld accepted, %ld errors\n",
                ok, n, errors);
        exit(1);
    }
    if (ran_out)
        fprintf(stderr, "  (codes ran out: raise the cap)\n");
    fg.rate = (double)n / (t_end - t_start);
    fg.cpu = n > 0 ? 1e6 * cpu / (double)n : 0;
    return fg;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/*
 * One thread, libmfa and bare call by call (which goes first alternates),
 * each call timed on its own: both sides see the same moments of the
 * machine, which separate runs cannot promise.  The median wall
 * microseconds per verify of each side into lib_us and bare_us.
 */
static void
paired(mfa_ctx_t *ctx, bare *b, account *la, account *ba, int right,
       double seconds, long cap, double *lib_us, double *bare_us)
{
    char(*lc)[MFA_CODE_BUFSIZE] = malloc((size_t)cap * MFA_CODE_BUFSIZE);
    char(*bc)[MFA_CODE_BUFSIZE] = malloc((size_t)cap * MFA_CODE_BUFSIZE);
    double *tl = malloc((size_t)cap * sizeof(double));
    double *tb = malloc((size_t)cap * sizeof(double));
    double end;
    long i, bad = 0;
    mfa_result res;

    if (lc == NULL || bc == NULL || tl == NULL || tb == NULL)
        abort();
    make_codes(la, lc, cap, right);
    make_codes(ba, bc, cap, right);
    end = now_s() + seconds;
    for (i = 0; i < cap && ((i & 15) != 0 || now_s() < end); i++) {
        for (int k = 0; k < 2; k++) {
            int use_bare = (int)((i + k) % 2);
            account *a = use_bare ? ba : la;
            double t0;
            int r;

            tl_now = a->time + 30 * (i + 1);
            t0 = now_s();
            if (use_bare) {
                r = bare_verify(b, a->name, a->otp, bc[i], tl_now);
            } else {
                mfa_rc rc = mfa_verify(ctx, a->name, lc[i], &res);
                r = rc == MFA_OK ? 1 : rc == MFA_ERR_CODE_WRONG ? 0 : -1;
            }
            (use_bare ? tb : tl)[i] = now_s() - t0;
            bad += r < 0 || r != right;
        }
    }
    la->time += 30 * i;
    ba->time += 30 * i;
    if (bad > i / 1000) {
        fprintf(stderr, "unexpected results in %ld paired calls\n", bad);
        exit(1);
    }
    /* medians: a call that another process delayed does not count */
    qsort(tl, (size_t)i, sizeof(double), cmp_double);
    qsort(tb, (size_t)i, sizeof(double), cmp_double);
    *lib_us = 1e6 * tl[i / 2];
    *bare_us = 1e6 * tb[i / 2];
    free(lc);
    free(bc);
    free(tl);
    free(tb);
}

static mfa_otp_t *
enroll(mfa_ctx_t *ctx, const char *name)
{
    mfa_enrollment_t *e = NULL;
    mfa_uri_t *u = NULL;
    mfa_otp_t *o = NULL;
    mfa_result res;
    char code[MFA_CODE_BUFSIZE];

    tl_now = BASE_TIME;
    if (mfa_enroll_begin(ctx, name, NULL, NULL, &e) != MFA_OK ||
        mfa_uri_parse(mfa_enrollment_uri(e), &u, NULL) != MFA_OK ||
        mfa_uri_to_otp(u, &o) != MFA_OK ||
        mfa_otp_totp(o, BASE_TIME, code, sizeof(code)) != MFA_OK ||
        mfa_enroll_confirm(ctx, name, mfa_enrollment_factor_id(e), code,
                           &res) != MFA_OK) {
        fprintf(stderr, "enrollment failed\n");
        exit(1);
    }
    mfa_uri_free(&u);
    mfa_enrollment_free(&e);
    return o;
}

static void
remove_db(const char *path)
{
    char side[600];

    unlink(path);
    snprintf(side, sizeof(side), "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", path);
    unlink(side);
}

int
main(int argc, char **argv)
{
    const char *dir = argc > 2 ? argv[2] : "/var/tmp";
    const char *dev_env = getenv("MFA_BENCH_DEVICES");
    int devices = dev_env != NULL && strcmp(dev_env, "1") == 0;
    /* wrong codes are counted but never delay: every one is checked */
    const mfa_throttle_policy open_policy = {UINT32_MAX, 0, 0};
    mfa_keyring_t *kr = NULL;
    struct statfs fs;
    uint32_t kid;

    if (argc > 1)
        secs = atof(argv[1]);
    if (secs <= 0)
        secs = 0.5;
    if (mfa_keyring_new(&kr) != MFA_OK ||
        mfa_keyring_generate(kr, &kid) != MFA_OK)
        return 1;
    printf("bench-sqlite: device tokens %s (MFA_BENCH_DEVICES=1: on)\n",
           devices ? "on: libmfa also writes the device row" : "off");
    printf("bench-sqlite: %.1f s per case and round, best of %d, files in %s "
           "(%s)\n",
           secs, ROUNDS, dir,
           statfs(dir, &fs) != 0                     ? "?"
           : (unsigned long)fs.f_type == TMPFS_MAGIC ? "tmpfs: fsync is free!"
                                                     : "not tmpfs");
    printf("%-7s %-6s %7s %10s %10s %7s %9s %9s %7s\n", "", "", "", "verifies",
           "per s", "", "CPU us", "per verify", "");
    printf("%-7s %-6s %7s %10s %10s %7s %9s %9s %7s\n", "sync", "code",
           "threads", "libmfa", "bare", "ratio", "libmfa", "bare", "ratio");
    for (int normal = 0; normal < 2; normal++) {
        char path[512], spec[600];

        if (argc > 3 && strcmp(argv[3], normal ? "normal" : "full") != 0)
            continue;
        mfa_store_t *s = NULL;
        mfa_ctx_t *ctx = NULL;
        account lib[NTHREADS], raw[NTHREADS];
        bare b;

        snprintf(path, sizeof(path), "%s/mfa-bench-sqlite-%ld-%d.db", dir,
                 (long)getpid(), normal);
        snprintf(spec, sizeof(spec), "sqlite:%s%s", path,
                 normal ? "?synchronous=normal" : "");
        remove_db(path);
        if (mfa_store_create(&s, spec) != MFA_OK ||
            mfa_ctx_new(&ctx, s, kr) != MFA_OK ||
            mfa_ctx_set_throttle(ctx, &open_policy) != MFA_OK ||
            (!devices && mfa_ctx_set_devices(ctx, 0, 0) != MFA_OK)) {
            fprintf(stderr, "cannot create %s\n", spec);
            return 1;
        }
        mfa_ctx_set_clock(ctx, clock_fn, NULL);
        for (int i = 0; i < NTHREADS; i++) {
            snprintf(lib[i].name, sizeof(lib[i].name), "lib%d", i);
            snprintf(raw[i].name, sizeof(raw[i].name), "bare%d", i);
            lib[i].otp = enroll(ctx, lib[i].name);
            raw[i].otp = enroll(ctx, raw[i].name);
            lib[i].time = raw[i].time = BASE_TIME;
        }
        if (bare_open(&b, path, normal) != 0) {
            fprintf(stderr, "bare connection: %s\n", sqlite3_errmsg(b.db));
            return 1;
        }
        for (int right = 1; right >= 0; right--) {
            /* [threads - 1][bare]: the four cases of a code type in turn,
             * round after round, so that a busy moment of the machine hits
             * them alike; the best rate and the least CPU are kept */
            figures best[NTHREADS][2];
            long cap = (long)((normal ? 120000 : 20000) * secs) + 1000;

            memset(best, 0, sizeof(best));
            for (int r = 0; r < ROUNDS; r++)
                for (int nt = 1; nt <= NTHREADS; nt++)
                    for (int k = 0; k < 2; k++) {
                        /* alternate which side goes first */
                        int use_bare = (r + k) % 2;
                        figures *bf = &best[nt - 1][use_bare];
                        figures x = one_case(ctx, &b, use_bare ? raw : lib, nt,
                                             right, use_bare, cap);
                        if (x.rate > bf->rate)
                            bf->rate = x.rate;
                        if (bf->cpu == 0 || x.cpu < bf->cpu)
                            bf->cpu = x.cpu;
                    }
            for (int nt = 1; nt <= NTHREADS; nt++) {
                const figures *l = &best[nt - 1][0], *y = &best[nt - 1][1];
                printf("%-7s %-6s %7d %10.0f %10.0f %6.2fx %9.1f %9.1f "
                       "%6.2fx",
                       normal ? "NORMAL" : "FULL", right ? "right" : "wrong",
                       nt, l->rate, y->rate, y->rate / l->rate, l->cpu, y->cpu,
                       l->cpu / y->cpu);
                if (nt > 1)
                    printf("  %d vs 1 thread: libmfa %.2fx, bare %.2fx", nt,
                           l->rate / best[0][0].rate,
                           y->rate / best[0][1].rate);
                printf("\n");
            }
            {
                double lu, bu;
                paired(ctx, &b, &lib[0], &raw[0], right, ROUNDS * secs, cap,
                       &lu, &bu);
                printf("%-7s %-6s %7s  call by call, median wall: libmfa %.1f "
                       "us, bare %.1f us per verify, ratio %.2fx\n",
                       normal ? "NORMAL" : "FULL", right ? "right" : "wrong",
                       "1", lu, bu, lu / bu);
            }
            {
                /* one and two threads in short slices, alternating: the
                 * machine's slow phases (another process's fsyncs) last
                 * longer than a slice and hit both alike */
                double sum[2][2] = {{0, 0}, {0, 0}}, keep = secs;
                secs = 0.1;
                for (int r = 0; r < SLICES; r++)
                    for (int use_bare = 0; use_bare < 2; use_bare++)
                        for (int nt = 1; nt <= NTHREADS; nt++)
                            sum[use_bare][nt - 1] +=
                                one_case(ctx, &b, use_bare ? raw : lib, nt,
                                         right, use_bare, cap)
                                    .rate;
                secs = keep;
                printf("%-7s %-6s %7s  slices of 0.1 s: libmfa %.0f/s with 2 "
                       "threads vs %.0f/s with 1 (%.2fx), bare %.2fx\n",
                       normal ? "NORMAL" : "FULL", right ? "right" : "wrong",
                       "1,2", sum[0][1] / SLICES, sum[0][0] / SLICES,
                       sum[0][1] / sum[0][0], sum[1][1] / sum[1][0]);
            }
            fflush(stdout);
        }
        bare_close(&b);
        for (int i = 0; i < NTHREADS; i++) {
            mfa_otp_free(&lib[i].otp);
            mfa_otp_free(&raw[i].otp);
        }
        mfa_ctx_free(&ctx);
        mfa_store_free(&s);
        remove_db(path);
    }
    mfa_keyring_free(&kr);
    return 0;
}
