/*
 * Cost of checking a typed backup code against a set of 10 stored hashes
 * (normalise + keyed BLAKE2b + constant-time match), target under 20 us.
 * Printed beside two peers from the same run: a bare keyed BLAKE2b of 12
 * bytes (the floor), and the same check when the code matches the first,
 * the last or no entry (equal times are what constant time looks like).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include <mfa.h>

static double
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static volatile size_t sink;

static double
bench_check(const mfa_keyring_t *kr, const char *typed,
            const uint8_t (*set)[MFA_BACKUP_HASHBYTES], size_t n, long iters)
{
    uint8_t h[MFA_BACKUP_HASHBYTES];
    double t0 = now_ns();

    for (long i = 0; i < iters; i++) {
        size_t idx = 0;
        if (mfa_backup_hash(kr, 0, typed, h) != MFA_OK)
            abort();
        sink += (size_t)mfa_backup_match(h, set, n, &idx) + idx;
    }
    return (now_ns() - t0) / (double)iters;
}

static double
bench_floor(long iters)
{
    uint8_t key[32] = {1}, h[32];
    double t0 = now_ns();

    for (long i = 0; i < iters; i++) {
        crypto_generichash(h, sizeof(h), (const uint8_t *)"ABCDEFGHJKMN", 12,
                           key, sizeof(key));
        sink += h[0];
    }
    return (now_ns() - t0) / (double)iters;
}

int
main(int argc, char **argv)
{
    enum { N = MFA_BACKUP_COUNT_DEFAULT };
    long iters = argc > 1 ? atol(argv[1]) : 200000;
    uint8_t set[N][MFA_BACKUP_HASHBYTES];
    mfa_keyring_t *kr = NULL;
    char **codes = NULL;
    double first, last, none, floor_ns;

    if (iters <= 0 || mfa_init() != MFA_OK || mfa_keyring_new(&kr) != MFA_OK ||
        mfa_keyring_generate(kr, NULL) != MFA_OK ||
        mfa_backup_codes_generate(N, &codes) != MFA_OK)
        return 1;
    for (size_t i = 0; i < N; i++)
        if (mfa_backup_hash(kr, 0, codes[i], set[i]) != MFA_OK)
            return 1;

    /* warm up, then measure each case twice and keep the faster run */
    (void)bench_check(kr, codes[0], (const uint8_t(*)[32])set, N, iters / 10);
    first = bench_check(kr, codes[0], (const uint8_t(*)[32])set, N, iters);
    last = bench_check(kr, codes[N - 1], (const uint8_t(*)[32])set, N, iters);
    none =
        bench_check(kr, "0000-0000-0000", (const uint8_t(*)[32])set, N, iters);
    floor_ns = bench_floor(iters);
    {
        double f2 =
            bench_check(kr, codes[0], (const uint8_t(*)[32])set, N, iters);
        double l2 =
            bench_check(kr, codes[N - 1], (const uint8_t(*)[32])set, N, iters);
        double n2 = bench_check(kr, "0000-0000-0000", (const uint8_t(*)[32])set,
                                N, iters);
        first = f2 < first ? f2 : first;
        last = l2 < last ? l2 : last;
        none = n2 < none ? n2 : none;
    }

    printf("backup code check against a set of %d (%ld iterations)\n", N,
           iters);
    printf("  match first entry : %8.1f ns/check\n", first);
    printf("  match last entry  : %8.1f ns/check\n", last);
    printf("  no match          : %8.1f ns/check\n", none);
    printf("  peer: bare keyed BLAKE2b of 12 bytes: %8.1f ns (check/peer "
           "%.2fx)\n",
           floor_ns, none / floor_ns);
    printf("  last/first %.3f, none/first %.3f (1.0 = no position leak)\n",
           last / first, none / first);
    printf("  target < 20000 ns/check: %s\n",
           (first < 20000 && last < 20000 && none < 20000) ? "met" : "NOT met");
    mfa_backup_codes_free(&codes, N);
    mfa_keyring_free(&kr);
    return 0;
}
