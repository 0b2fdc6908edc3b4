/*
 * mfa_verify through the memory store: verifies per second for right and
 * wrong codes, 1 and 2 threads (each on its own account), against the bare
 * mfa_otp_totp_verify in the same run; the share of the time spent inside
 * store calls (a pass-through backend that times them); and the heap
 * allocations each mfa_verify makes in the steady state, with one factor
 * and with MFA_FACTORS_MAX (target 0), counted by malloc, calloc, realloc,
 * posix_memalign and aligned_alloc of this executable, which the library's
 * calls reach before glibc's (the interposers pass on to __libc_malloc and
 * friends).  SQLite and PostgreSQL have benchmarks of their own.
 *
 *   bench-service [seconds per case, default 1]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mfa.h>
#include <mfa/store-backend.h>

#define NTHREADS_MAX 2
#define BASE_TIME 1700000010

/* ---- counting heap allocations ------------------------------------------ */

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);
extern void __libc_free(void *p);

static atomic_int counting;
static atomic_long n_allocs;

static void
count_one(void)
{
    if (atomic_load_explicit(&counting, memory_order_relaxed))
        atomic_fetch_add_explicit(&n_allocs, 1, memory_order_relaxed);
}

void *
malloc(size_t n)
{
    count_one();
    return __libc_malloc(n);
}

void *
calloc(size_t n, size_t size)
{
    count_one();
    return __libc_calloc(n, size);
}

void *
realloc(void *p, size_t n)
{
    count_one();
    return __libc_realloc(p, n);
}

int
posix_memalign(void **out, size_t align, size_t n)
{
    void *p;

    count_one();
    p = __libc_memalign(align, n);
    if (p == NULL)
        return 12; /* ENOMEM */
    *out = p;
    return 0;
}

void *
aligned_alloc(size_t align, size_t n)
{
    count_one();
    return __libc_memalign(align, n);
}

void
free(void *p)
{
    __libc_free(p);
}

/* ---- clocks -------------------------------------------------------------- */

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

/* ---- a pass-through backend that times its calls ------------------------- */

/* Its transactions are the inner backend's own: only begin needs the
 * inner handle. */
static const mfa_store_backend *in_be;
static void *in_impl;
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
tm_version(void *impl, int *v)
{
    (void)impl;
    return in_be->schema_version(in_impl, v);
}
static mfa_rc
tm_migrate(void *impl)
{
    (void)impl;
    return in_be->migrate(in_impl);
}
static mfa_rc
tm_begin(void *impl, const char *a, mfa_txn_mode m, mfa_store_txn **t)
{
    (void)impl;
    TIMED(in_be->begin(in_impl, a, m, t));
}
static mfa_rc
tm_commit(mfa_store_txn *t)
{
    TIMED(in_be->commit(t));
}
static void
tm_rollback(mfa_store_txn *t)
{
    uint64_t t0 = now_ns();
    in_be->rollback(t);
    atomic_fetch_add(&store_ns, now_ns() - t0);
}
static mfa_rc
tm_flist(mfa_store_txn *t, const char *a, mfa_factor_cb cb, void *arg)
{
    TIMED(in_be->factor_list(t, a, cb, arg));
}
static mfa_rc
tm_fget(mfa_store_txn *t, const char *a, const char *id, mfa_factor_rec *o)
{
    TIMED(in_be->factor_get(t, a, id, o));
}
static mfa_rc
tm_fins(mfa_store_txn *t, const mfa_factor_rec *f)
{
    TIMED(in_be->factor_insert(t, f));
}
static mfa_rc
tm_fupd(mfa_store_txn *t, const mfa_factor_rec *f)
{
    TIMED(in_be->factor_update(t, f));
}
static mfa_rc
tm_fdel(mfa_store_txn *t, const char *a, const char *id)
{
    TIMED(in_be->factor_delete(t, a, id));
}
static mfa_rc
tm_fscan(mfa_store_txn *t, const char *aa, const char *aid, mfa_factor_rec *o,
         size_t max, size_t *n)
{
    TIMED(in_be->factor_scan(t, aa, aid, o, max, n));
}
static mfa_rc
tm_fexp(mfa_store_txn *t, int64_t before, size_t *n)
{
    TIMED(in_be->factor_expire(t, before, n));
}
static mfa_rc
tm_tget(mfa_store_txn *t, const char *a, const char *b, mfa_throttle_rec *o)
{
    TIMED(in_be->throttle_get(t, a, b, o));
}
static mfa_rc
tm_tput(mfa_store_txn *t, const char *a, const mfa_throttle_rec *r)
{
    TIMED(in_be->throttle_put(t, a, r));
}
static mfa_rc
tm_tdel(mfa_store_txn *t, const char *a, const char *b)
{
    TIMED(in_be->throttle_delete(t, a, b));
}
static mfa_rc
tm_blist(mfa_store_txn *t, const char *a, mfa_backup_rec *o, size_t max,
         size_t *n)
{
    TIMED(in_be->backup_list(t, a, o, max, n));
}
static mfa_rc
tm_bins(mfa_store_txn *t, const char *a, const mfa_backup_rec *r, int64_t now)
{
    TIMED(in_be->backup_insert(t, a, r, now));
}
static mfa_rc
tm_buse(mfa_store_txn *t, const char *a, const uint8_t h[MFA_BACKUP_HASHBYTES],
        int64_t now)
{
    TIMED(in_be->backup_use(t, a, h, now));
}
static mfa_rc
tm_bclear(mfa_store_txn *t, const char *a)
{
    TIMED(in_be->backup_clear(t, a));
}
static mfa_rc
tm_oget(mfa_store_txn *t, const char *a, const char *p, mfa_oob_challenge *o)
{
    TIMED(in_be->oob_get(t, a, p, o));
}
static mfa_rc
tm_oput(mfa_store_txn *t, const char *a, const mfa_oob_challenge *c)
{
    TIMED(in_be->oob_put(t, a, c));
}
static mfa_rc
tm_odel(mfa_store_txn *t, const char *a, const char *p)
{
    TIMED(in_be->oob_delete(t, a, p));
}
static mfa_rc
tm_tlist(mfa_store_txn *t, const char *a, mfa_throttle_rec *o, size_t max,
         size_t *n)
{
    TIMED(in_be->throttle_list(t, a, o, max, n));
}
static mfa_rc
tm_dlist(mfa_store_txn *t, const char *a, mfa_device_rec *o, size_t max,
         size_t *n)
{
    TIMED(in_be->device_list(t, a, o, max, n));
}
static mfa_rc
tm_dget(mfa_store_txn *t, const char *a, const char *id, mfa_device_rec *o)
{
    TIMED(in_be->device_get(t, a, id, o));
}
static mfa_rc
tm_dput(mfa_store_txn *t, const char *a, const mfa_device_rec *r)
{
    TIMED(in_be->device_put(t, a, r));
}
static mfa_rc
tm_ddel(mfa_store_txn *t, const char *a, const char *id)
{
    TIMED(in_be->device_delete(t, a, id));
}
static mfa_rc
tm_sscan(mfa_store_txn *t, const char *after, char (*o)[MFA_ACCOUNT_MAX + 1],
         size_t max, size_t *n)
{
    TIMED(in_be->state_scan(t, after, o, max, n));
}
static mfa_rc
tm_adel(mfa_store_txn *t, const char *a)
{
    TIMED(in_be->account_delete(t, a));
}

static mfa_rc
tm_wlist(mfa_store_txn *t, const char *a, mfa_webauthn_cb cb, void *arg)
{
    TIMED(in_be->webauthn_list(t, a, cb, arg));
}
static mfa_rc
tm_wget(mfa_store_txn *t, const char *a, const char *id, mfa_webauthn_rec *o)
{
    TIMED(in_be->webauthn_get(t, a, id, o));
}
static mfa_rc
tm_wins(mfa_store_txn *t, const char *a, const mfa_webauthn_rec *r)
{
    TIMED(in_be->webauthn_insert(t, a, r));
}
static mfa_rc
tm_wupd(mfa_store_txn *t, const char *a, const mfa_webauthn_rec *r)
{
    TIMED(in_be->webauthn_update(t, a, r));
}
static mfa_rc
tm_wdel(mfa_store_txn *t, const char *a, const char *id)
{
    TIMED(in_be->webauthn_delete(t, a, id));
}
static mfa_rc
tm_hget(mfa_store_txn *t, const char *a,
        uint8_t o[MFA_WEBAUTHN_USER_HANDLE_MAX], size_t *len)
{
    TIMED(in_be->webauthn_handle_get(t, a, o, len));
}
static mfa_rc
tm_hput(mfa_store_txn *t, const char *a, const uint8_t *h, size_t len,
        int64_t now)
{
    TIMED(in_be->webauthn_handle_put(t, a, h, len, now));
}
static mfa_rc
tm_hfind(mfa_store_txn *t, const uint8_t *h, size_t len,
         char a[MFA_ACCOUNT_MAX + 1])
{
    TIMED(in_be->webauthn_handle_find(t, h, len, a));
}
static mfa_rc
tm_spend(mfa_store_txn *t, const char *a,
         const uint8_t nonce[MFA_WEBAUTHN_NONCE_BYTES], int64_t expires)
{
    TIMED(in_be->webauthn_spend(t, a, nonce, expires));
}
static mfa_rc
tm_sexp(mfa_store_txn *t, const char *a, int64_t before, size_t *n)
{
    TIMED(in_be->webauthn_spent_expire(t, a, before, n));
}

static const mfa_store_backend timed_backend = {
    .abi = MFA_STORE_BACKEND_ABI,
    .name = "timed",
    .close = tm_close,
    .schema_version = tm_version,
    .migrate = tm_migrate,
    .begin = tm_begin,
    .commit = tm_commit,
    .rollback = tm_rollback,
    .factor_list = tm_flist,
    .factor_get = tm_fget,
    .factor_insert = tm_fins,
    .factor_update = tm_fupd,
    .factor_delete = tm_fdel,
    .factor_scan = tm_fscan,
    .factor_expire = tm_fexp,
    .throttle_get = tm_tget,
    .throttle_put = tm_tput,
    .throttle_delete = tm_tdel,
    .backup_list = tm_blist,
    .backup_insert = tm_bins,
    .backup_use = tm_buse,
    .backup_clear = tm_bclear,
    .oob_get = tm_oget,
    .oob_put = tm_oput,
    .oob_delete = tm_odel,
    .throttle_list = tm_tlist,
    .device_list = tm_dlist,
    .device_get = tm_dget,
    .device_put = tm_dput,
    .device_delete = tm_ddel,
    .state_scan = tm_sscan,
    .account_delete = tm_adel,
    .webauthn_list = tm_wlist,
    .webauthn_get = tm_wget,
    .webauthn_insert = tm_wins,
    .webauthn_update = tm_wupd,
    .webauthn_delete = tm_wdel,
    .webauthn_handle_get = tm_hget,
    .webauthn_handle_put = tm_hput,
    .webauthn_handle_find = tm_hfind,
    .webauthn_spend = tm_spend,
    .webauthn_spent_expire = tm_sexp,
};

/* ---- the runs --------------------------------------------------------------
 */

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
    int right, bare;
    long n, ok;
    double t; /* seconds inside the verifies */
} worker;

static pthread_barrier_t bar;
static int64_t acct_time[NTHREADS_MAX + 1];

#define BATCH 64

/*
 * The app's side, outside the timed part: BATCH codes for the steps after
 * *t.  A wrong code differs from the codes of every step the service may
 * look at (the window around any remembered drift), so that no wrong code
 * is ever accepted and drifts the factor.
 */
static void
make_codes(const worker *w, int64_t t, char codes[BATCH][MFA_CODE_BUFSIZE])
{
    for (int k = 0; k < BATCH; k++) {
        int64_t at = t + 30 * (k + 1);
        char near[MFA_CODE_BUFSIZE];
        unsigned v;
        int clash;

        if (mfa_otp_totp(w->otp, at, codes[k], MFA_CODE_BUFSIZE) != MFA_OK)
            abort();
        if (w->right)
            continue;
        v = ((unsigned)atoi(codes[k]) + 500000u) % 1000000u;
        do {
            clash = 0;
            snprintf(codes[k], MFA_CODE_BUFSIZE, "%06u", v);
            for (int d = -6; d <= 6; d++) {
                if (mfa_otp_totp(w->otp, at + 30 * d, near, sizeof(near)) !=
                    MFA_OK)
                    abort();
                clash |= strcmp(near, codes[k]) == 0;
            }
            v = (v + 1) % 1000000u;
        } while (clash);
    }
}

/* BATCH verifies of the prepared codes; the number accepted. */
static long
verify_batch(worker *w, int64_t *t, char codes[BATCH][MFA_CODE_BUFSIZE])
{
    mfa_result res;
    long ok = 0;

    for (int k = 0; k < BATCH; k++) {
        *t += 30;
        tl_now = *t;
        if (w->bare) {
            uint64_t step;
            int32_t off;
            ok += mfa_otp_totp_verify(w->otp, codes[k], *t, 1, 1, MFA_STEP_NONE,
                                      &step, &off) == MFA_OK;
        } else {
            ok += mfa_verify(w->ctx, w->account, codes[k], &res) == MFA_OK;
        }
    }
    return ok;
}

static void *
run(void *arg)
{
    worker *w = arg;
    char codes[BATCH][MFA_CODE_BUFSIZE];
    int64_t t = *w->time;
    double end;

    w->n = w->ok = 0;
    w->t = 0;
    pthread_barrier_wait(&bar);
    end = now_s() + secs;
    while (now_s() < end) {
        double t0;

        make_codes(w, t, codes);
        t0 = now_s();
        w->ok += verify_batch(w, &t, codes);
        w->t += now_s() - t0;
        w->n += BATCH;
    }
    *w->time = t;
    return NULL;
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
           double *share)
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
        pthread_join(th[i], NULL);
        rate += (double)w[i].n / w[i].t;
        busy += w[i].t;
        oks += w[i].ok;
        n += w[i].n;
    }
    pthread_barrier_destroy(&bar);
    if (oks != (right ? n : 0)) {
        fprintf(stderr, "unexpected results: %ld of %ld accepted\n", oks, n);
        exit(1);
    }
    *share = busy > 0 ? (double)atomic_load(&store_ns) / 1e9 / busy : 0;
    return rate;
}

/* Heap allocations per mfa_verify after a warm-up, on one thread; the
 * app's codes are made outside the counted part. */
static double
allocs_per_verify(mfa_ctx_t *ctx, mfa_otp_t *app, const char *account,
                  int64_t *time, int right)
{
    char codes[BATCH][MFA_CODE_BUFSIZE];
    const int batches = 40;
    long ok = 0, allocs = 0;
    worker w;

    memset(&w, 0, sizeof(w));
    w.ctx = ctx;
    w.otp = app;
    w.right = right;
    snprintf(w.account, sizeof(w.account), "%s", account);
    make_codes(&w, *time, codes);
    ok += verify_batch(&w, time, codes); /* warm-up */
    for (int b = 0; b < batches; b++) {
        make_codes(&w, *time, codes);
        atomic_store(&n_allocs, 0);
        atomic_store(&counting, 1);
        ok += verify_batch(&w, time, codes);
        atomic_store(&counting, 0);
        allocs += atomic_load(&n_allocs);
    }
    /* a wrong code is made wrong for `app` only: with several factors
     * another one may take it, once in a long while */
    if ((right && ok != (long)(batches + 1) * BATCH) || (!right && ok > 2)) {
        fprintf(stderr, "unexpected results: %ld accepted\n", ok);
        exit(1);
    }
    return (double)allocs / (double)(batches * BATCH);
}

int
main(int argc, char **argv)
{
    mfa_throttle_policy open_policy = {UINT32_MAX, 0, 0};
    mfa_store_t *mem = NULL, *timed = NULL;
    mfa_ctx_t *ctx = NULL, *tctx = NULL;
    mfa_otp_t *apps[NTHREADS_MAX], *many[MFA_FACTORS_MAX];
    mfa_keyring_t *kr = NULL;
    double bare1, share, r[2][NTHREADS_MAX + 1];
    int64_t many_time = BASE_TIME + 30;
    uint32_t kid;

    if (argc > 1)
        secs = atof(argv[1]);
    if (secs <= 0)
        secs = 1.0;
    if (mfa_keyring_new(&kr) != MFA_OK ||
        mfa_keyring_generate(kr, &kid) != MFA_OK ||
        mfa_store_memory_new(&mem) != MFA_OK ||
        mfa_ctx_new(&ctx, mem, kr) != MFA_OK ||
        mfa_ctx_set_throttle(ctx, &open_policy) != MFA_OK)
        return 1;
    mfa_ctx_set_clock(ctx, clock_fn, NULL);
    in_be = mfa_store_backend_of(mem);
    in_impl = mfa_store_impl_of(mem);
    if (mfa_store_new(&timed, &timed_backend, NULL) != MFA_OK ||
        mfa_ctx_new(&tctx, timed, kr) != MFA_OK ||
        mfa_ctx_set_throttle(tctx, &open_policy) != MFA_OK)
        return 1;
    mfa_ctx_set_clock(tctx, clock_fn, NULL);
    for (int i = 0; i < NTHREADS_MAX; i++) {
        char acct[32];
        snprintf(acct, sizeof(acct), "bench%d", i);
        apps[i] = enroll(ctx, acct);
        acct_time[i] = BASE_TIME + 30;
    }
    for (int i = 0; i < MFA_FACTORS_MAX; i++)
        many[i] = enroll(ctx, "many");

    printf("mfa_verify through the memory store, %.1f s per case, against "
           "the bare mfa_otp_totp_verify (TOTP-SHA1 +-1) in this run\n",
           secs);
    printf("%-22s %7s %12s %10s %8s\n", "", "threads", "verifies/s", "vs bare",
           "store");
    bare1 = bench_case(ctx, apps, 1, 0, 1, &share);
    printf("%-22s %7d %12.0f %10s %8s\n", "bare otp verify, wrong", 1, bare1,
           "1.00x", "-");
    for (int right = 1; right >= 0; right--) {
        for (int nt = 1; nt <= NTHREADS_MAX; nt++) {
            double rate = bench_case(ctx, apps, nt, right, 0, &share);
            r[right][nt] = rate;
            printf("%-22s %7d %12.0f %9.3fx %8s\n",
                   right ? "memory, right code" : "memory, wrong code", nt,
                   rate, rate / bare1, "-");
            fflush(stdout);
        }
        /* one thread through the timing layer, for the store's share */
        {
            double rate = bench_case(tctx, apps, 1, right, 0, &share);
            printf("%-22s %7d %12.0f %9.3fx %7.1f%%\n",
                   right ? "  timed, right code" : "  timed, wrong code", 1,
                   rate, rate / bare1, 100 * share);
        }
    }
    printf("2 threads / 1 thread:  right %.2f, wrong %.2f\n", r[1][2] / r[1][1],
           r[0][2] / r[0][1]);

    printf("\nheap allocations per mfa_verify (steady state; target 0)\n");
    printf("  1 factor:   right %.3f, wrong %.3f\n",
           allocs_per_verify(ctx, apps[0], "bench0", &acct_time[0], 1),
           allocs_per_verify(ctx, apps[0], "bench0", &acct_time[0], 0));
    printf("  %d factors: right %.3f (last factor), %.3f (first), wrong "
           "%.3f\n",
           MFA_FACTORS_MAX,
           allocs_per_verify(ctx, many[MFA_FACTORS_MAX - 1], "many", &many_time,
                             1),
           allocs_per_verify(ctx, many[0], "many", &many_time, 1),
           allocs_per_verify(ctx, many[0], "many", &many_time, 0));

    for (int i = 0; i < NTHREADS_MAX; i++)
        mfa_otp_free(&apps[i]);
    for (int i = 0; i < MFA_FACTORS_MAX; i++)
        mfa_otp_free(&many[i]);
    mfa_ctx_free(&tctx);
    mfa_ctx_free(&ctx);
    mfa_store_free(&timed);
    mfa_store_free(&mem);
    mfa_keyring_free(&kr);
    return 0;
}
