/*
 * Differential test against oathtool (oath-toolkit), an independent
 * implementation: random keys, times, periods, T0, digit counts and
 * algorithms; each oathtool run prints a run of consecutive codes (-w).
 */
#include <inttypes.h>
#include <stdio.h>
#include <sys/wait.h>

#include <sodium.h>

#include <mfa.h>

#include "testutil.h"

#define ROUNDS 1000
#define EXTRA 2 /* oathtool -w: codes for steps s .. s + EXTRA */

static const char *algs[] = {"SHA1", "SHA256", "SHA512"};

static int
run_oathtool(const char *args, char codes[][MFA_CODE_BUFSIZE], int max)
{
    char cmd[1024], line[64];
    FILE *p;
    int n = 0;

    snprintf(cmd, sizeof(cmd), "oathtool %s", args);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    while (n < max && fgets(line, sizeof(line), p) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        snprintf(codes[n++], MFA_CODE_BUFSIZE, "%.10s", line);
    }
    ck_assert_int_eq(pclose(p), 0);
    return n;
}

START_TEST(totp_matches_oathtool)
{
    for (int r = 0; r < ROUNDS; r++) {
        uint8_t key[64];
        char hex[129], args[512], want[EXTRA + 1][MFA_CODE_BUFSIZE];
        char got[MFA_CODE_BUFSIZE];
        size_t keylen = 10 + randombytes_uniform(55);
        unsigned alg = randombytes_uniform(3);
        unsigned digits = 6 + randombytes_uniform(3); /* oathtool: 6..8 */
        uint32_t period = 1 + randombytes_uniform(120);
        int64_t t0 = randombytes_uniform(2) ? 0 : randombytes_uniform(1u << 30);
        int64_t now = t0 + (int64_t)randombytes_uniform(0xffffffffu) +
                      (int64_t)randombytes_uniform(4) * 0x100000000LL;
        mfa_otp_t *o;
        uint64_t step;

        randombytes_buf(key, keylen);
        sodium_bin2hex(hex, sizeof(hex), key, keylen);
        snprintf(args, sizeof(args),
                 "--totp=%s --digits=%u -s %" PRIu32 "s -S @%" PRId64
                 " -N @%" PRId64 " -w %d %s",
                 algs[alg], digits, period, t0, now, EXTRA, hex);
        ck_assert_int_eq(run_oathtool(args, want, EXTRA + 1), EXTRA + 1);

        ck_assert_int_eq(mfa_otp_new(&o, key, keylen), MFA_OK);
        ck_assert_int_eq(mfa_otp_set_algorithm(o, (mfa_algorithm)alg), MFA_OK);
        ck_assert_int_eq(mfa_otp_set_digits(o, digits), MFA_OK);
        ck_assert_int_eq(mfa_otp_set_period(o, period), MFA_OK);
        ck_assert_int_eq(mfa_otp_set_t0(o, t0), MFA_OK);
        ck_assert_int_eq(mfa_otp_step(o, now, &step), MFA_OK);
        for (int k = 0; k <= EXTRA; k++) {
            ck_assert_int_eq(
                mfa_otp_hotp(o, step + (uint64_t)k, got, sizeof(got)), MFA_OK);
            ck_assert_msg(strcmp(got, want[k]) == 0,
                          "round %d step +%d: %s vs oathtool %s (%s)", r, k,
                          got, want[k], args);
            if (k == 0) {
                ck_assert_int_eq(mfa_otp_totp(o, now, got, sizeof(got)),
                                 MFA_OK);
                ck_assert_str_eq(got, want[0]);
            }
            /* every one of them verifies from now with a future window */
            ck_assert_int_eq(mfa_otp_totp_verify(o, want[k], now, 0, EXTRA,
                                                 MFA_STEP_NONE, NULL, NULL),
                             MFA_OK);
        }
        mfa_otp_free(&o);
    }
}
END_TEST

START_TEST(hotp_matches_oathtool)
{
    for (int r = 0; r < ROUNDS / 4; r++) {
        uint8_t key[64];
        char hex[129], args[512], want[EXTRA + 1][MFA_CODE_BUFSIZE];
        char got[MFA_CODE_BUFSIZE];
        size_t keylen = 10 + randombytes_uniform(55);
        unsigned digits = 6 + randombytes_uniform(3);
        uint64_t counter = randombytes_uniform(2) ? randombytes_uniform(1000)
                                                  : randombytes_random();
        mfa_otp_t *o;
        uint64_t next;

        randombytes_buf(key, keylen);
        sodium_bin2hex(hex, sizeof(hex), key, keylen);
        snprintf(args, sizeof(args),
                 "--hotp --digits=%u -c %" PRIu64 " -w %d %s", digits, counter,
                 EXTRA, hex);
        ck_assert_int_eq(run_oathtool(args, want, EXTRA + 1), EXTRA + 1);
        ck_assert_int_eq(mfa_otp_new(&o, key, keylen), MFA_OK);
        ck_assert_int_eq(mfa_otp_set_type(o, MFA_HOTP), MFA_OK);
        ck_assert_int_eq(mfa_otp_set_digits(o, digits), MFA_OK);
        for (int k = 0; k <= EXTRA; k++) {
            ck_assert_int_eq(
                mfa_otp_hotp(o, counter + (uint64_t)k, got, sizeof(got)),
                MFA_OK);
            ck_assert_str_eq(got, want[k]);
        }
        ck_assert_int_eq(
            mfa_otp_hotp_verify(o, want[EXTRA], counter, EXTRA, &next), MFA_OK);
        ck_assert_uint_eq(next, counter + EXTRA + 1);
        mfa_otp_free(&o);
    }
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("oathtool");
    TCase *tc = tcase_create("differential");

    tu_require_program("oathtool", "oathtool");
    if (sodium_init() < 0)
        return 1;
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, totp_matches_oathtool);
    tcase_add_test(tc, hotp_matches_oathtool);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
