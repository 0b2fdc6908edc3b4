/*
 * Statistical timing check in the style of dudect (Reparaz, Balasch,
 * Verbauwhede 2017): time one operation on two classes of input chosen at
 * random per call, and compare the two timing distributions with Welch's
 * t-test, on the raw measurements and after cropping the slowest ones at
 * several percentiles (interrupts and migrations only ever add time).
 *
 * |t| below about 4.5 means no difference was detected at that number of
 * measurements; dudect reads |t| > 10 as a definite leak.  The figures are
 * reported, never asserted: on a shared machine noise can push |t| either
 * way, and the proof that verification has no secret-dependent branch is
 * the ctgrind test (tests/ct).  Note that the verdict itself is public:
 * an accepted and a refused code leave the function by different return
 * paths (a few instructions) after every candidate has been computed, so
 * right-vs-wrong can show a difference of a cycle or less at millions of
 * measurements; what matters is the size of the difference (the ns
 * columns), not only |t|.
 *
 *   dudect [measurements per experiment, default 200000]
 *
 * Experiments:
 *   totp-right-vs-wrong   right code vs a random wrong one (window +-1)
 *   totp-early-vs-late    code matching the first candidate (now) vs the
 *                         last one (+2 steps), window +-2
 *   hotp-first-vs-none    match at the first counter vs no match, look-ahead 10
 *   backup-first-vs-last  backup hash matching set[0] vs set[9] of 10
 *   backup-hit-vs-miss    a stored hash vs one that is not stored
 *   base32-lower-vs-upper a secret in lowercase vs uppercase base32
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include <mfa/backup.h>
#include <mfa/otp.h>
#include <mfa/secret.h>

#define CROPS 5
static const double crop_pct[CROPS] = {1.0, 0.99, 0.95, 0.90, 0.75};

struct welch {
    double n[2], mean[2], m2[2];
};

static void
welch_add(struct welch *w, int cls, double x)
{
    double d;
    w->n[cls] += 1;
    d = x - w->mean[cls];
    w->mean[cls] += d / w->n[cls];
    w->m2[cls] += d * (x - w->mean[cls]);
}

static double
welch_t(const struct welch *w)
{
    double v0, v1;
    if (w->n[0] < 2 || w->n[1] < 2)
        return 0;
    v0 = w->m2[0] / (w->n[0] - 1);
    v1 = w->m2[1] / (w->n[1] - 1);
    if (v0 + v1 == 0)
        return 0;
    return (w->mean[0] - w->mean[1]) / sqrt(v0 / w->n[0] + v1 / w->n[1]);
}

static inline uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

typedef void (*op_fn)(int cls, size_t i);

/* Runs op n times with random classes; prints the t values. */
static void
experiment(const char *name, op_fn prepare, op_fn op, size_t n)
{
    uint64_t *t = malloc(n * sizeof(*t)), *sorted = malloc(n * sizeof(*t));
    uint8_t *cls = malloc(n);
    struct welch w[CROPS];
    double cut[CROPS], tmax = 0, mean0, mean1;

    if (t == NULL || sorted == NULL || cls == NULL)
        exit(1);
    randombytes_buf(cls, n);
    for (size_t i = 0; i < n; i++) {
        cls[i] &= 1;
        prepare(cls[i], i);
    }
    for (size_t i = 0; i < n / 10; i++) /* warm up caches and the clock */
        op(cls[i], i);
    for (size_t i = 0; i < n; i++) {
        uint64_t a = now_ns();
        op(cls[i], i);
        t[i] = now_ns() - a;
    }
    memcpy(sorted, t, n * sizeof(*t));
    qsort(sorted, n, sizeof(*sorted), cmp_u64);
    memset(w, 0, sizeof(w));
    for (int c = 0; c < CROPS; c++)
        cut[c] = (double)sorted[(size_t)((double)(n - 1) * crop_pct[c])];
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < CROPS; c++)
            if ((double)t[i] <= cut[c])
                welch_add(&w[c], cls[i], (double)t[i]);
    printf("%-22s", name);
    for (int c = 0; c < CROPS; c++) {
        double tv = welch_t(&w[c]);
        printf(" %7.2f", tv);
        if (fabs(tv) > tmax)
            tmax = fabs(tv);
    }
    mean0 = w[2].mean[0];
    mean1 = w[2].mean[1];
    printf("  %8.1f %8.1f  %s\n", mean0, mean1,
           tmax < 4.5 ? "no difference detected"
                      : (tmax < 10 ? "weak signal" : "LEAK?"));
    free(t);
    free(sorted);
    free(cls);
}

/* ---- the operations --------------------------------------------------- */

#define NOW 1111111109
static mfa_otp_t *totp, *hotp;
static char (*codes)[MFA_CODE_BUFSIZE];
static mfa_keyring_t *ring;
static uint8_t set[10][MFA_BACKUP_HASHBYTES];
static uint8_t probe[3][MFA_BACKUP_HASHBYTES];
static uint8_t *probe_of;
static const char b32_upper[] = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
static const char b32_lower[] = "gezdgnbvgy3tqojqgezdgnbvgy3tqojq";
static volatile int sink;

/* The time of measurement i: both classes use many steps, so the right
 * codes vary like the wrong ones and only correctness tells them apart. */
static int64_t
when(size_t i)
{
    return NOW + 30 * (int64_t)(i % 4096);
}

static void
prep_right_wrong(int cls, size_t i)
{
    if (cls == 0) {
        if (mfa_otp_totp(totp, when(i), codes[i], MFA_CODE_BUFSIZE) != MFA_OK)
            exit(1);
    } else {
        snprintf(codes[i], MFA_CODE_BUFSIZE, "%06u",
                 (unsigned)randombytes_uniform(1000000));
    }
}

static void
op_totp1(int cls, size_t i)
{
    (void)cls;
    sink = mfa_otp_totp_verify(totp, codes[i], when(i), 1, 1, MFA_STEP_NONE,
                               NULL, NULL);
}

static void
prep_early_late(int cls, size_t i)
{
    if (mfa_otp_totp(totp, when(i) + (cls ? 60 : 0), codes[i],
                     MFA_CODE_BUFSIZE) != MFA_OK)
        exit(1);
}

static void
op_totp2(int cls, size_t i)
{
    (void)cls;
    sink = mfa_otp_totp_verify(totp, codes[i], when(i), 2, 2, MFA_STEP_NONE,
                               NULL, NULL);
}

static void
prep_hotp(int cls, size_t i)
{
    if (cls == 0) {
        if (mfa_otp_hotp(hotp, 100, codes[i], MFA_CODE_BUFSIZE) != MFA_OK)
            exit(1);
    } else {
        /* a code that matches no counter of 100..110 */
        char c[MFA_CODE_BUFSIZE];
        int clash;
        do {
            snprintf(codes[i], MFA_CODE_BUFSIZE, "%06u",
                     (unsigned)randombytes_uniform(1000000));
            clash = 0;
            for (uint64_t k = 100; k <= 110; k++) {
                if (mfa_otp_hotp(hotp, k, c, sizeof(c)) != MFA_OK)
                    exit(1);
                clash |= strcmp(c, codes[i]) == 0;
            }
        } while (clash);
    }
}

static void
op_hotp(int cls, size_t i)
{
    uint64_t next;
    (void)cls;
    sink = mfa_otp_hotp_verify(hotp, codes[i], 100, 10, &next);
}

static void
prep_first_last(int cls, size_t i)
{
    probe_of[i] = (uint8_t)cls; /* probe 0 = set[0], 1 = set[9] */
}

static void
prep_hit_miss(int cls, size_t i)
{
    probe_of[i] = cls ? 2 : 0; /* probe 2 is in no set */
}

static void
op_backup(int cls, size_t i)
{
    size_t idx;
    (void)cls;
    sink =
        mfa_backup_match(probe[probe_of[i]],
                         (const uint8_t(*)[MFA_BACKUP_HASHBYTES])set, 10, &idx);
}

static void
prep_none(int cls, size_t i)
{
    (void)cls;
    (void)i;
}

static void
op_base32(int cls, size_t i)
{
    uint8_t out[64];
    size_t n;
    (void)i;
    sink = mfa_base32_decode(cls ? b32_lower : b32_upper, out, sizeof(out), &n);
}

int
main(int argc, char **argv)
{
    static const uint8_t key[20] = "12345678901234567890";
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 200000;
    uint8_t k[MFA_KEYRING_KEYBYTES];
    char typed[MFA_BACKUP_BUFSIZE];

    if (n < 1000 || sodium_init() < 0)
        return 1;
    codes = malloc(n * sizeof(*codes));
    probe_of = malloc(n);
    if (codes == NULL || probe_of == NULL)
        return 1;
    if (mfa_otp_new(&totp, key, sizeof(key)) != MFA_OK ||
        mfa_otp_new(&hotp, key, sizeof(key)) != MFA_OK ||
        mfa_otp_set_type(hotp, MFA_HOTP) != MFA_OK)
        return 1;
    randombytes_buf(k, sizeof(k));
    if (mfa_keyring_new(&ring) != MFA_OK ||
        mfa_keyring_add(ring, 1, k, 1) != MFA_OK)
        return 1;
    for (int j = 0; j < 10; j++) {
        snprintf(typed, sizeof(typed), "AAAA-BBBB-CC%02d", j);
        if (mfa_backup_hash(ring, 0, typed, set[j]) != MFA_OK)
            return 1;
    }
    memcpy(probe[0], set[0], sizeof(probe[0]));
    memcpy(probe[1], set[9], sizeof(probe[1]));
    if (mfa_backup_hash(ring, 0, "ZZZZ-ZZZZ-ZZZZ", probe[2]) != MFA_OK)
        return 1;

    printf("dudect-style timing, %zu measurements per experiment\n", n);
    printf("Welch t (class 0 - class 1), slowest cropped at percentile:\n");
    printf("%-22s %7s %7s %7s %7s %7s  %8s %8s\n", "experiment", "all", "p99",
           "p95", "p90", "p75", "ns(0)", "ns(1)");
    experiment("totp-right-vs-wrong", prep_right_wrong, op_totp1, n);
    experiment("totp-early-vs-late", prep_early_late, op_totp2, n);
    experiment("hotp-first-vs-none", prep_hotp, op_hotp, n / 4);
    experiment("backup-first-vs-last", prep_first_last, op_backup, n);
    experiment("backup-hit-vs-miss", prep_hit_miss, op_backup, n);
    experiment("base32-lower-vs-upper", prep_none, op_base32, n);
    mfa_otp_free(&totp);
    mfa_otp_free(&hotp);
    mfa_keyring_free(&ring);
    free(codes);
    free(probe_of);
    return 0;
}
