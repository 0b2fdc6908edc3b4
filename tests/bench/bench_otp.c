/*
 * bench-otp: the cost of TOTP-SHA1 and TOTP-SHA256 verification with a
 * +-1 window.
 *
 * Prints ns per verify and verifies per second for a wrong and a right code,
 * beside liboath's oath_totp_validate (when built with liboath) and one
 * pre-keyed nettle HMAC-SHA1 / HMAC-SHA256, all in this process, with the
 * ratios the foundation issue and issue 13 set targets for:
 *   liboath wrong / libmfa wrong       >= 4
 *   libmfa wrong / (3 x HMAC-SHA1)     <= 1.2
 *   libmfa right / libmfa wrong        within 0.95 .. 1.05
 *   libmfa SHA256 / (3 x HMAC-SHA256)  <= 1.2
 * Each figure is the median of several timed batches.  Not a test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nettle/hmac.h>
#include <nettle/sha1.h>
#include <sodium.h>

#include <mfa.h>

#include "config.h"
#ifdef HAVE_LIBOATH
#include <liboath/oath.h>
#endif

#define BATCHES 15

static volatile int sink;

static double
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef void (*bench_fn)(void *arg, long n);

/* median ns per call over BATCHES batches of n calls */
static double
measure(bench_fn fn, void *arg, long n)
{
    double t[BATCHES];
    fn(arg, n / 10 + 1); /* warm up */
    for (int b = 0; b < BATCHES; b++) {
        double t0 = now_ns();
        fn(arg, n);
        t[b] = (now_ns() - t0) / (double)n;
    }
    qsort(t, BATCHES, sizeof(t[0]), cmp_double);
    return t[BATCHES / 2];
}

struct mfa_arg {
    mfa_otp_t *otp;
    const char *code;
    int64_t now;
};

static void
run_mfa(void *p, long n)
{
    struct mfa_arg *a = p;
    int acc = 0;
    for (long i = 0; i < n; i++)
        acc += mfa_otp_totp_verify(a->otp, a->code, a->now, 1, 1, MFA_STEP_NONE,
                                   NULL, NULL) == MFA_OK;
    sink = acc;
}

struct hmac_arg {
    struct hmac_sha1_ctx keyed;
};

static void
run_hmac(void *p, long n)
{
    struct hmac_arg *a = p;
    struct hmac_sha1_ctx c;
    uint8_t msg[8] = {0}, mac[SHA1_DIGEST_SIZE];
    int acc = 0;
    for (long i = 0; i < n; i++) {
        msg[7] = (uint8_t)i;
        memcpy(&c, &a->keyed, sizeof(c));
        hmac_sha1_update(&c, sizeof(msg), msg);
        hmac_sha1_digest(&c, sizeof(mac), mac);
        acc += mac[0];
    }
    sink = acc;
}

struct hmac256_arg {
    struct hmac_sha256_ctx keyed;
};

static void
run_hmac256(void *p, long n)
{
    struct hmac256_arg *a = p;
    struct hmac_sha256_ctx c;
    uint8_t msg[8] = {0}, mac[SHA256_DIGEST_SIZE];
    int acc = 0;
    for (long i = 0; i < n; i++) {
        msg[7] = (uint8_t)i;
        memcpy(&c, &a->keyed, sizeof(c));
        hmac_sha256_update(&c, sizeof(msg), msg);
        hmac_sha256_digest(&c, sizeof(mac), mac);
        acc += mac[0];
    }
    sink = acc;
}

/* the floor of any HMAC-SHA1 verify of three candidates: six compressions */
static void
run_compress(void *p, long n)
{
    uint32_t st[5] = {1, 2, 3, 4, 5};
    uint8_t block[64] = {0};
    (void)p;
    for (long i = 0; i < n; i++) {
        block[0] = (uint8_t)i;
        nettle_sha1_compress(st, block);
    }
    sink = (int)st[0];
}

#ifdef HAVE_LIBOATH
struct oath_arg {
    const char *key;
    size_t keylen;
    const char *code;
    time_t now;
};

static void
run_oath(void *p, long n)
{
    struct oath_arg *a = p;
    int acc = 0;
    for (long i = 0; i < n; i++)
        acc += oath_totp_validate(a->key, a->keylen, a->now, 30, 0, 1,
                                  a->code) >= 0;
    sink = acc;
}
#endif

int
main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 20000;
    uint8_t key[20];
    char right[MFA_CODE_BUFSIZE], wrong[MFA_CODE_BUFSIZE];
    char early[MFA_CODE_BUFSIZE], late[MFA_CODE_BUFSIZE];
    const int64_t now = 1700000000;
    struct mfa_arg a;
    struct hmac_arg h;
    double t_hmac, t_wrong, t_right, t_early, t_late, t_comp;
    mfa_otp_t *otp;

    if (mfa_init() != MFA_OK || n <= 0)
        return 1;
    randombytes_buf(key, sizeof(key));
    if (mfa_otp_new(&otp, key, sizeof(key)) != MFA_OK ||
        mfa_otp_totp(otp, now, right, sizeof(right)) != MFA_OK ||
        mfa_otp_totp(otp, now - 30, early, sizeof(early)) != MFA_OK ||
        mfa_otp_totp(otp, now + 30, late, sizeof(late)) != MFA_OK)
        return 1;
    /* a code that matches none of the three steps */
    snprintf(wrong, sizeof(wrong), "%06d", (atoi(right) + 1) % 1000000);
    while (strcmp(wrong, early) == 0 || strcmp(wrong, late) == 0)
        snprintf(wrong, sizeof(wrong), "%06d", (atoi(wrong) + 1) % 1000000);

    hmac_sha1_set_key(&h.keyed, sizeof(key), key);
    t_hmac = measure(run_hmac, &h, n * 3);
    t_comp = measure(run_compress, NULL, n * 6) * 6;

    a.otp = otp;
    a.now = now;
    a.code = wrong;
    t_wrong = measure(run_mfa, &a, n);
    a.code = right;
    t_right = measure(run_mfa, &a, n);
    a.code = early;
    t_early = measure(run_mfa, &a, n);
    a.code = late;
    t_late = measure(run_mfa, &a, n);

    printf("TOTP-SHA1, window -1..+1, %ld verifies per batch, median of %d\n",
           n, BATCHES);
    printf("%-34s %10s %14s\n", "", "ns/op", "ops/s");
    printf("%-34s %10.1f %14.0f\n", "pre-keyed HMAC-SHA1 (nettle)", t_hmac,
           1e9 / t_hmac);
    printf("%-34s %10.1f %14.0f\n", "6 SHA-1 compressions (the floor)", t_comp,
           1e9 / t_comp);
    printf("%-34s %10.1f %14.0f\n", "libmfa verify, wrong code", t_wrong,
           1e9 / t_wrong);
    printf("%-34s %10.1f %14.0f\n", "libmfa verify, right code (0)", t_right,
           1e9 / t_right);
    printf("%-34s %10.1f %14.0f\n", "libmfa verify, right code (-1)", t_early,
           1e9 / t_early);
    printf("%-34s %10.1f %14.0f\n", "libmfa verify, right code (+1)", t_late,
           1e9 / t_late);
#ifdef HAVE_LIBOATH
    {
        struct oath_arg o = {(const char *)key, sizeof(key), wrong,
                             (time_t)now};
        double t_owrong, t_oright;
        oath_init();
        t_owrong = measure(run_oath, &o, n);
        o.code = right;
        t_oright = measure(run_oath, &o, n);
        printf("%-34s %10.1f %14.0f\n", "liboath validate, wrong code",
               t_owrong, 1e9 / t_owrong);
        printf("%-34s %10.1f %14.0f\n", "liboath validate, right code",
               t_oright, 1e9 / t_oright);
        printf("ratio liboath wrong / libmfa wrong:   %.2f  (target >= 4)\n",
               t_owrong / t_wrong);
        printf("ratio liboath wrong / the floor:      %.2f  (the best any "
               "3-candidate verify can do)\n",
               t_owrong / t_comp);
        oath_done();
    }
#else
    printf("liboath: not built (install liboath-dev for the comparison)\n");
#endif
    printf("ratio libmfa wrong / 3 HMAC-SHA1:     %.3f (target <= 1.2)\n",
           t_wrong / (3 * t_hmac));
    printf("ratio libmfa right / wrong:           %.3f (target 0.95..1.05)\n",
           t_right / t_wrong);
    printf("ratio right at -1 / +1 vs wrong:      %.3f / %.3f\n",
           t_early / t_wrong, t_late / t_wrong);

    /* TOTP-SHA256 with a 32-byte key (RFC 6238's size for it) */
    {
        uint8_t key32[32];
        struct hmac256_arg h2;
        mfa_otp_t *o2 = NULL;
        char r2[MFA_CODE_BUFSIZE], w2[MFA_CODE_BUFSIZE];
        char e2[MFA_CODE_BUFSIZE], l2[MFA_CODE_BUFSIZE];
        double t_h2, t_w2, t_r2;

        randombytes_buf(key32, sizeof(key32));
        if (mfa_otp_new(&o2, key32, sizeof(key32)) != MFA_OK ||
            mfa_otp_set_algorithm(o2, MFA_SHA256) != MFA_OK ||
            mfa_otp_totp(o2, now, r2, sizeof(r2)) != MFA_OK ||
            mfa_otp_totp(o2, now - 30, e2, sizeof(e2)) != MFA_OK ||
            mfa_otp_totp(o2, now + 30, l2, sizeof(l2)) != MFA_OK)
            return 1;
        snprintf(w2, sizeof(w2), "%06d", (atoi(r2) + 1) % 1000000);
        while (strcmp(w2, e2) == 0 || strcmp(w2, l2) == 0)
            snprintf(w2, sizeof(w2), "%06d", (atoi(w2) + 1) % 1000000);
        hmac_sha256_set_key(&h2.keyed, sizeof(key32), key32);
        t_h2 = measure(run_hmac256, &h2, n * 3);
        a.otp = o2;
        a.code = w2;
        t_w2 = measure(run_mfa, &a, n);
        a.code = r2;
        t_r2 = measure(run_mfa, &a, n);
        printf("\nTOTP-SHA256, window -1..+1\n");
        printf("%-34s %10.1f %14.0f\n", "pre-keyed HMAC-SHA256 (nettle)", t_h2,
               1e9 / t_h2);
        printf("%-34s %10.1f %14.0f\n", "libmfa verify, wrong code", t_w2,
               1e9 / t_w2);
        printf("%-34s %10.1f %14.0f\n", "libmfa verify, right code (0)", t_r2,
               1e9 / t_r2);
        printf("ratio libmfa wrong / 3 HMAC-SHA256:   %.3f (target <= 1.2)\n",
               t_w2 / (3 * t_h2));
        printf(
            "ratio libmfa right / wrong:           %.3f (target 0.95..1.05)\n",
            t_r2 / t_w2);
        mfa_otp_free(&o2);
        sodium_memzero(key32, sizeof(key32));
        sodium_memzero(&h2, sizeof(h2));
    }
    mfa_otp_free(&otp);
    sodium_memzero(key, sizeof(key));
    return 0;
}
