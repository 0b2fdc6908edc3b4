/*
 * Verifies per second through mfa_verify, with the memory and the SQLite
 * store, right and wrong codes, 1 and 2 threads, against the bare
 * mfa_otp_totp_verify in the same run; and the share of the time spent in
 * the store (measured by a pass-through backend that times every call).
 *
 *   bench-service [seconds per case, default 1] [sqlite file directory]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mfa.h>

#define NTHREADS_MAX 2
#define BASE_TIME 1700000010

static double secs = 1.0;

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- a pass-through store that times its calls ------------------------- */

static _Atomic uint64_t store_ns;

#define TIMED(call)                                                            \
    do {                                                                       \
        uint64_t t0_ = now_ns();                                               \
        mfa_rc rc_ = (call);                                                   \
        atomic_fetch_add(&store_ns, now_ns() - t0_);                           \
        return rc_;                                                            \
    } while (0)

static void
tm_close(void *impl)
{
    (void)impl;
}
static mfa_rc
tm_migrate(void *impl)
{
    TIMED(mfa_store_migrate(impl));
}
static mfa_rc
tm_version(void *impl, int *v)
{
    TIMED(mfa_store_schema_version(impl, v));
}
static mfa_rc
tm_create(void *impl, const mfa_factor_rec *f)
{
    TIMED(mfa_store_factor_create(impl, f));
}
static mfa_rc
tm_get(void *impl, const char *a, const char *id, mfa_factor_rec *out)
{
    TIMED(mfa_store_factor_get(impl, a, id, out));
}
static mfa_rc
tm_list(void *impl, const char *a, mfa_factor_cb cb, void *arg)
{
    TIMED(mfa_store_factor_list(impl, a, cb, arg));
}
static mfa_rc
tm_each(void *impl, mfa_factor_cb cb, void *arg)
{
    TIMED(mfa_store_factor_each(impl, cb, arg));
}
static mfa_rc
tm_activate(void *impl, const char *a, const char *id, int64_t step,
            int32_t drift, int64_t after, int64_t now)
{
    TIMED(mfa_store_factor_activate(impl, a, id, step, drift, after, now));
}
static mfa_rc
tm_rename(void *impl, const char *a, const char *id, const char *l)
{
    TIMED(mfa_store_factor_rename(impl, a, id, l));
}
static mfa_rc
tm_remove(void *impl, const char *a, const char *id)
{
    TIMED(mfa_store_factor_remove(impl, a, id));
}
static mfa_rc
tm_advance(void *impl, const char *a, const char *id, int64_t step,
           int32_t drift, int64_t now)
{
    TIMED(mfa_store_factor_advance(impl, a, id, step, drift, now));
}
static mfa_rc
tm_reseal(void *impl, const char *a, const char *id, const uint8_t *old,
          size_t oldlen, const uint8_t *s, size_t len)
{
    TIMED(mfa_store_factor_reseal(impl, a, id, old, oldlen, s, len));
}
static mfa_rc
tm_expire(void *impl, int64_t before, size_t *n)
{
    TIMED(mfa_store_factor_expire(impl, before, n));
}
static mfa_rc
tm_hit(void *impl, const char *a, int64_t now, const mfa_throttle_policy *p,
       mfa_throttle_state *out)
{
    TIMED(mfa_store_throttle_hit(impl, a, now, p, out));
}
static mfa_rc
tm_treset(void *impl, const char *a)
{
    TIMED(mfa_store_throttle_reset(impl, a));
}
static mfa_rc
tm_tget(void *impl, const char *a, mfa_throttle_state *out)
{
    TIMED(mfa_store_throttle_get(impl, a, out));
}
static mfa_rc
tm_breplace(void *impl, const char *a, const mfa_backup_rec *c, size_t n,
            int64_t now)
{
    TIMED(mfa_store_backup_replace(impl, a, c, n, now));
}
static mfa_rc
tm_blist(void *impl, const char *a, mfa_backup_rec *out, size_t max, size_t *n)
{
    TIMED(mfa_store_backup_list(impl, a, out, max, n));
}
static mfa_rc
tm_bspend(void *impl, const char *a, const uint8_t h[MFA_BACKUP_HASHBYTES],
          int64_t now)
{
    TIMED(mfa_store_backup_spend(impl, a, h, now));
}
static mfa_rc
tm_oput(void *impl, const char *a, const mfa_oob_challenge *c)
{
    TIMED(mfa_store_oob_put(impl, a, c));
}
static mfa_rc
tm_otake(void *impl, const char *a, const char *p, int64_t now,
         mfa_oob_challenge *out)
{
    TIMED(mfa_store_oob_take(impl, a, p, now, out));
}
static mfa_rc
tm_ospend(void *impl, const char *a, const char *p,
          const uint8_t h[MFA_BACKUP_HASHBYTES])
{
    TIMED(mfa_store_oob_spend(impl, a, p, h));
}
static mfa_rc
tm_areset(void *impl, const char *a)
{
    TIMED(mfa_store_account_reset(impl, a));
}

static const mfa_store_ops timed_ops = {
    .abi = MFA_STORE_ABI,
    .name = "timed",
    .close = tm_close,
    .migrate = tm_migrate,
    .schema_version = tm_version,
    .factor_create = tm_create,
    .factor_get = tm_get,
    .factor_list = tm_list,
    .factor_each = tm_each,
    .factor_activate = tm_activate,
    .factor_rename = tm_rename,
    .factor_remove = tm_remove,
    .factor_advance = tm_advance,
    .factor_reseal = tm_reseal,
    .factor_expire = tm_expire,
    .throttle_hit = tm_hit,
    .throttle_reset = tm_treset,
    .throttle_get = tm_tget,
    .backup_replace = tm_breplace,
    .backup_list = tm_blist,
    .backup_spend = tm_bspend,
    .oob_put = tm_oput,
    .oob_take = tm_otake,
    .oob_spend = tm_ospend,
    .account_reset = tm_areset,
};

/* ---- the runs ---------------------------------------------------------- */

/* Each thread has its own account and its own clock, one step further at
 * every call, so that every right code is fresh. */
static _Thread_local int64_t tl_now;

static int64_t
clock_fn(void *arg)
{
    (void)arg;
    return tl_now;
}

typedef struct worker {
    int64_t *time; /* the account's clock, continued from case to case */
    mfa_ctx_t *ctx;
    mfa_otp_t *otp; /* the app's side */
    char account[32];
    int right;
    int bare;
    long n, ok;
    double t;
} worker;

static pthread_barrier_t bar;
static int64_t acct_time[NTHREADS_MAX];

static void *
run(void *arg)
{
    worker *w = arg;
    char code[MFA_CODE_BUFSIZE];
    int64_t t = *w->time;
    double end, start;
    mfa_result res;

    w->n = w->ok = 0;
    pthread_barrier_wait(&bar);
    start = now_s();
    end = start + secs;
    while (now_s() < end) {
        for (int k = 0; k < 64; k++) {
            t += 30;
            tl_now = t;
            if (w->right) {
                if (mfa_otp_totp(w->otp, t, code, sizeof(code)) != MFA_OK)
                    abort();
            } else {
                memcpy(code, "000000", 7);
            }
            if (w->bare) {
                uint64_t step;
                int32_t off;
                w->ok +=
                    mfa_otp_totp_verify(w->otp, code, t, 1, 1, MFA_STEP_NONE,
                                        &step, &off) == MFA_OK;
            } else {
                w->ok += mfa_verify(w->ctx, w->account, code, &res) == MFA_OK;
            }
            w->n++;
        }
    }
    w->t = now_s() - start;
    *w->time = t;
    return NULL;
}

/* Time to compute one code, subtracted from the right-code runs so that
 * the app's side is not counted. */
static double
code_cost(mfa_otp_t *o)
{
    char code[MFA_CODE_BUFSIZE];
    double start = now_s();
    long n = 0;

    while (now_s() < start + secs / 4) {
        for (int k = 0; k < 256; k++, n++)
            if (mfa_otp_totp(o, BASE_TIME + 30 * n, code, sizeof(code)) !=
                MFA_OK)
                abort();
    }
    return (now_s() - start) / (double)n;
}

static mfa_otp_t *
enroll(mfa_ctx_t *ctx, const char *account)
{
    mfa_enrollment_t *e = NULL;
    mfa_uri_t *u = NULL;
    mfa_otp_t *o = NULL;
    mfa_result res;
    char code[MFA_CODE_BUFSIZE];

    tl_now = BASE_TIME;
    if (mfa_enroll_begin(ctx, account, NULL, NULL, &e) != MFA_OK ||
        mfa_uri_parse(mfa_enrollment_uri(e), &u, NULL) != MFA_OK ||
        mfa_uri_to_otp(u, &o) != MFA_OK ||
        mfa_otp_totp(o, BASE_TIME, code, sizeof(code)) != MFA_OK ||
        mfa_enroll_confirm(ctx, account, mfa_enrollment_factor_id(e), code,
                           &res) != MFA_OK) {
        fprintf(stderr, "enrollment failed\n");
        exit(1);
    }
    mfa_uri_free(&u);
    mfa_enrollment_free(&e);
    return o;
}

/* One case: verifies/second summed over the threads, and the store share. */
static double
bench_case(mfa_ctx_t *ctx, mfa_otp_t **apps, int nthreads, int right, int bare,
           double per_code, double *share)
{
    pthread_t th[NTHREADS_MAX];
    worker w[NTHREADS_MAX];
    double rate = 0, busy = 0;
    long oks = 0, n = 0;

    atomic_store(&store_ns, 0);
    pthread_barrier_init(&bar, NULL, (unsigned)nthreads);
    for (int i = 0; i < nthreads; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].time = &acct_time[i];
        w[i].ctx = ctx;
        w[i].otp = apps[i];
        snprintf(w[i].account, sizeof(w[i].account), "bench%d", i);
        w[i].right = right;
        w[i].bare = bare;
        pthread_create(&th[i], NULL, run, &w[i]);
    }
    for (int i = 0; i < nthreads; i++) {
        double t;
        pthread_join(th[i], NULL);
        /* the app's code computation is not part of the verify */
        t = w[i].t - (right ? per_code * (double)w[i].n : 0);
        rate += (double)w[i].n / t;
        busy += t;
        oks += w[i].ok;
        n += w[i].n;
    }
    pthread_barrier_destroy(&bar);
    /* "000000" is some step's code now and then (3 in 10^6) */
    if ((right && oks != n) || (!right && (double)oks > 1e-4 * (double)n)) {
        fprintf(stderr, "unexpected results: %ld of %ld accepted\n", oks, n);
        exit(1);
    }
    *share = busy > 0 ? (double)atomic_load(&store_ns) / 1e9 / busy : 0;
    return rate;
}

int
main(int argc, char **argv)
{
    const char *dir = argc > 2 ? argv[2] : "/tmp";
    mfa_throttle_policy open_policy = {UINT32_MAX, 0, 0};
    char path[512];
    mfa_keyring_t *kr = NULL;
    uint32_t kid;
    double bare1 = 0, per_code = 0;

    if (argc > 1)
        secs = atof(argv[1]);
    if (secs <= 0)
        secs = 1.0;
    if (mfa_keyring_new(&kr) != MFA_OK ||
        mfa_keyring_generate(kr, &kid) != MFA_OK)
        return 1;
    snprintf(path, sizeof(path), "%s/mfa-bench-service-%ld.db", dir,
             (long)getpid());

    printf("verifies/second, %.1f s per case; the store share is the time "
           "spent inside store calls\n",
           secs);
    printf("%-8s %-6s %7s %12s %9s %12s\n", "store", "code", "threads",
           "verifies/s", "store", "vs bare otp");
    for (int backend = 0; backend < 2; backend++) {
        mfa_store_t *inner = NULL, *timed = NULL;
        mfa_ctx_t *ctx = NULL;
        mfa_otp_t *apps[NTHREADS_MAX];
        const char *name = backend == 0 ? "memory" : "sqlite";
        mfa_rc rc;

        rc = backend == 0 ? mfa_store_memory_new(&inner)
                          : mfa_store_sqlite_open(&inner, path);
        if (rc != MFA_OK) {
            printf("%-8s unavailable (%s)\n", name, mfa_strerror_name(rc));
            continue;
        }
        if (mfa_store_new(&timed, &timed_ops, inner) != MFA_OK ||
            mfa_ctx_new(&ctx, timed, kr) != MFA_OK ||
            mfa_ctx_set_throttle(ctx, &open_policy) != MFA_OK)
            return 1;
        mfa_ctx_set_clock(ctx, clock_fn, NULL);
        for (int i = 0; i < NTHREADS_MAX; i++) {
            char acct[32];
            snprintf(acct, sizeof(acct), "bench%d", i);
            apps[i] = enroll(ctx, acct);
            acct_time[i] = BASE_TIME + 30;
        }
        if (backend == 0) {
            double share;
            per_code = code_cost(apps[0]);
            bare1 = bench_case(ctx, apps, 1, 0, 1, per_code, &share);
            printf("%-8s %-6s %7d %12.0f %9s %12s\n", "bare", "wrong", 1, bare1,
                   "-", "1.00x");
            printf("%-8s %-6s %7d %12.0f %9s %12s\n", "bare", "wrong", 2,
                   bench_case(ctx, apps, 2, 0, 1, per_code, &share), "-", "-");
        }
        for (int right = 1; right >= 0; right--) {
            for (int nt = 1; nt <= NTHREADS_MAX; nt++) {
                double share, rate;
                char vs[32];

                rate = bench_case(ctx, apps, nt, right, 0, per_code, &share);
                snprintf(vs, sizeof(vs), "%.2fx", rate / bare1);
                printf("%-8s %-6s %7d %12.0f %8.1f%% %12s\n", name,
                       right ? "right" : "wrong", nt, rate, 100 * share, vs);
                fflush(stdout);
            }
        }
        for (int i = 0; i < NTHREADS_MAX; i++)
            mfa_otp_free(&apps[i]);
        mfa_ctx_free(&ctx);
        mfa_store_free(&timed);
        mfa_store_free(&inner);
    }
    if (strlen(path) > 0) {
        char p2[600];
        unlink(path);
        snprintf(p2, sizeof(p2), "%s-wal", path);
        unlink(p2);
        snprintf(p2, sizeof(p2), "%s-shm", path);
        unlink(p2);
    }
    mfa_keyring_free(&kr);
    return 0;
}
