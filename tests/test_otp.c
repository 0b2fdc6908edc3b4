/* OTP core: RFC 4226 and RFC 6238 vectors, windows, replay, resync, edges. */
#include <limits.h>
#include <stdint.h>

#include <sodium.h>

#include <mfa.h>

#include "internal.h"
#include "otp_int.h"
#include "testutil.h"

static const char rfc_seed[] =
    "1234567890123456789012345678901234567890123456789012345678901234";

static mfa_otp_t *
make(size_t keylen)
{
    mfa_otp_t *o = NULL;
    ck_assert_int_eq(mfa_otp_new(&o, (const uint8_t *)rfc_seed, keylen),
                     MFA_OK);
    return o;
}

START_TEST(rfc4226_appendix_d)
{
    FILE *f = tu_vector_open("rfc4226.txt");
    mfa_otp_t *o = make(20);
    char line[256];
    int rows = 0;

    while (tu_vector_line(f, line, sizeof(line))) {
        unsigned long long count, dec;
        char hmac_hex[64], trunc_hex[16], hotp[16], code[MFA_CODE_BUFSIZE];
        uint8_t want[20], mac[64];
        union mfa_int_hmac_ctx ctx;
        size_t n;

        ck_assert_int_eq(sscanf(line, "%llu %63s %15s %llu %15s", &count,
                                hmac_hex, trunc_hex, &dec, hotp),
                         5);
        tu_unhex(hmac_hex, want, sizeof(want));
        n = mfa_int_otp_hmac(o, &ctx, count, mac);
        ck_assert_uint_eq(n, 20);
        ck_assert_mem_eq(mac, want, 20);
        ck_assert_uint_eq(mfa_int_otp_truncate(mac, n), dec);
        ck_assert_uint_eq(strtoul(trunc_hex, NULL, 16), dec);
        ck_assert_int_eq(mfa_otp_hotp(o, count, code, sizeof(code)), MFA_OK);
        ck_assert_str_eq(code, hotp);
        rows++;
    }
    ck_assert_int_eq(rows, 10);
    fclose(f);
    mfa_otp_free(&o);
    ck_assert_ptr_null(o);
}
END_TEST

START_TEST(rfc6238_appendix_b)
{
    FILE *f = tu_vector_open("rfc6238.txt");
    char line[256];
    int rows = 0;

    while (tu_vector_line(f, line, sizeof(line))) {
        long long t;
        char want[16], algname[16], code[MFA_CODE_BUFSIZE];
        mfa_algorithm alg;
        mfa_otp_t *o;
        size_t keylen;
        uint64_t step;
        int32_t off;

        ck_assert_int_eq(sscanf(line, "%lld %15s %15s", &t, want, algname), 3);
        ck_assert_int_eq(mfa_algorithm_from_name(algname, &alg), MFA_OK);
        keylen = alg == MFA_SHA1 ? 20 : alg == MFA_SHA256 ? 32 : 64;
        o = make(keylen);
        ck_assert_int_eq(mfa_otp_set_algorithm(o, alg), MFA_OK);
        ck_assert_int_eq(mfa_otp_set_digits(o, 8), MFA_OK);
        ck_assert_int_eq(mfa_otp_totp(o, t, code, sizeof(code)), MFA_OK);
        ck_assert_str_eq(code, want);
        ck_assert_int_eq(
            mfa_otp_totp_verify(o, want, t, 1, 1, MFA_STEP_NONE, &step, &off),
            MFA_OK);
        ck_assert_uint_eq(step, (uint64_t)t / 30);
        ck_assert_int_eq(off, 0);
        mfa_otp_free(&o);
        rows++;
    }
    ck_assert_int_eq(rows, 18);
    fclose(f);
}
END_TEST

START_TEST(setters_validate)
{
    mfa_otp_t *o = make(20);
    mfa_otp_t *none = NULL;

    ck_assert_int_eq(mfa_otp_set_digits(o, 5), MFA_ERR_DIGITS);
    ck_assert_int_eq(mfa_otp_set_digits(o, 11), MFA_ERR_DIGITS);
    ck_assert_int_eq(mfa_otp_set_digits(o, 0), MFA_ERR_DIGITS);
    ck_assert_uint_eq(mfa_otp_digits(o), 6);
    for (unsigned d = 6; d <= 10; d++)
        ck_assert_int_eq(mfa_otp_set_digits(o, d), MFA_OK);
    ck_assert_int_eq(mfa_otp_set_period(o, 0), MFA_ERR_PERIOD);
    ck_assert_int_eq(mfa_otp_set_period(o, 86401), MFA_ERR_PERIOD);
    ck_assert_int_eq(mfa_otp_set_period(o, 1), MFA_OK);
    ck_assert_int_eq(mfa_otp_set_algorithm(o, (mfa_algorithm)7),
                     MFA_ERR_ALGORITHM);
    ck_assert_int_eq(mfa_otp_set_type(o, (mfa_otp_type)9), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_otp_new(&none, NULL, 0), MFA_ERR_SECRET_SHORT);
    ck_assert_ptr_null(none);
    ck_assert_int_eq(mfa_otp_new(&none, (const uint8_t *)rfc_seed, 65),
                     MFA_ERR_SECRET_LONG);
    ck_assert_int_eq(mfa_otp_new(NULL, (const uint8_t *)rfc_seed, 20),
                     MFA_ERR_INVALID);
    mfa_otp_free(&o);
    mfa_otp_free(&o); /* NULL is fine */
    mfa_otp_free(NULL);
}
END_TEST

START_TEST(algorithm_names)
{
    mfa_algorithm a;
    ck_assert_str_eq(mfa_algorithm_name(MFA_SHA256), "SHA256");
    ck_assert_ptr_null(mfa_algorithm_name((mfa_algorithm)5));
    ck_assert_int_eq(mfa_algorithm_from_name("sha1", &a), MFA_ERR_ALGORITHM);
    ck_assert_int_eq(mfa_algorithm_from_name("SHA-1", &a), MFA_ERR_ALGORITHM);
    ck_assert_int_eq(mfa_algorithm_from_name("SHA512", &a), MFA_OK);
    ck_assert_int_eq(a, MFA_SHA512);
}
END_TEST

START_TEST(code_format)
{
    mfa_otp_t *o = make(20);
    char code[MFA_CODE_BUFSIZE], canon[MFA_CODE_BUFSIZE];
    const int64_t t = 1700000000;
    static const char *bad[] = {"",         "12345",  "1234567", "12a456",
                                "12345 ",   "-12345", "+123456", "１２３４５６",
                                "123\t456", "0x1234", "      ",  "12345\n"};

    ck_assert_int_eq(mfa_otp_totp(o, t, code, sizeof(code)), MFA_OK);
    ck_assert_int_eq(mfa_otp_totp_verify(o, NULL, t, 1, 1, -1, NULL, NULL),
                     MFA_ERR_CODE_FORMAT);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_int_eq(
            mfa_otp_totp_verify(o, bad[i], t, 1, 1, -1, NULL, NULL),
            MFA_ERR_CODE_FORMAT);
    /* spaces anywhere are dropped: "123 456" is "123456" */
    {
        char spaced[16];
        snprintf(spaced, sizeof(spaced), " %.3s %s ", code, code + 3);
        ck_assert_int_eq(
            mfa_otp_totp_verify(o, spaced, t, 0, 0, -1, NULL, NULL), MFA_OK);
        ck_assert_int_eq(mfa_code_canonical(spaced, 6, canon, sizeof(canon)),
                         MFA_OK);
        ck_assert_str_eq(canon, code);
    }
    /* a leading zero is significant: the 5-digit form never matches */
    ck_assert_int_eq(mfa_code_canonical("012345", 6, canon, sizeof(canon)),
                     MFA_OK);
    ck_assert_str_eq(canon, "012345");
    ck_assert_int_eq(mfa_code_canonical("12345", 6, canon, sizeof(canon)),
                     MFA_ERR_CODE_FORMAT);
    ck_assert_int_eq(mfa_code_canonical("123456", 6, canon, 6), MFA_ERR_BUFFER);
    ck_assert_int_eq(mfa_otp_totp(o, t, code, 6), MFA_ERR_BUFFER);
    mfa_otp_free(&o);
}
END_TEST

/* A code for t + k*period verifies exactly when -past <= k <= future. */
START_TEST(window_property)
{
    uint8_t key[20];
    char code[MFA_CODE_BUFSIZE];

    for (int round = 0; round < 200; round++) {
        mfa_otp_t *o;
        int64_t t = 1000000 + (int64_t)randombytes_uniform(2000000000);
        unsigned past = randombytes_uniform(4), future = randombytes_uniform(4);
        uint32_t period = 15 + randombytes_uniform(60);

        randombytes_buf(key, sizeof(key));
        ck_assert_int_eq(mfa_otp_new(&o, key, sizeof(key)), MFA_OK);
        ck_assert_int_eq(mfa_otp_set_period(o, period), MFA_OK);
        for (int k = -6; k <= 6; k++) {
            uint64_t s, now_step, ms;
            int32_t off;
            mfa_rc rc;

            ck_assert_int_eq(
                mfa_otp_totp(o, t + k * (int64_t)period, code, sizeof(code)),
                MFA_OK);
            rc = mfa_otp_totp_verify(o, code, t, past, future, MFA_STEP_NONE,
                                     &ms, &off);
            if (k >= -(int)past && k <= (int)future) {
                ck_assert_int_eq(rc, MFA_OK);
                ck_assert_int_eq(mfa_otp_step(o, t, &now_step), MFA_OK);
                /* a collision with a nearer step is possible but rare: the
                 * matched step's code must equal the typed one */
                s = ms;
                if (off != k) {
                    char other[MFA_CODE_BUFSIZE];
                    ck_assert_int_eq(mfa_otp_hotp(o, s, other, sizeof(other)),
                                     MFA_OK);
                    ck_assert_str_eq(other, code);
                } else {
                    ck_assert_uint_eq(s, now_step + (uint64_t)(int64_t)k);
                }
            } else if (rc == MFA_OK) {
                /* only a genuine collision may verify outside the window */
                char other[MFA_CODE_BUFSIZE];
                ck_assert_int_eq(mfa_otp_hotp(o, ms, other, sizeof(other)),
                                 MFA_OK);
                ck_assert_str_eq(other, code);
            } else {
                ck_assert_int_eq(rc, MFA_ERR_CODE_WRONG);
            }
        }
        mfa_otp_free(&o);
    }
}
END_TEST

START_TEST(replay)
{
    mfa_otp_t *o = make(20);
    char code[MFA_CODE_BUFSIZE];
    const int64_t t = 1700000000;
    uint64_t step, ms;
    int32_t off;

    ck_assert_int_eq(mfa_otp_step(o, t, &step), MFA_OK);
    ck_assert_int_eq(mfa_otp_totp(o, t, code, sizeof(code)), MFA_OK);
    ck_assert_int_eq(
        mfa_otp_totp_verify(o, code, t, 1, 1, MFA_STEP_NONE, &ms, &off),
        MFA_OK);
    ck_assert_uint_eq(ms, step);
    /* at the last step and below: replayed */
    ck_assert_int_eq(
        mfa_otp_totp_verify(o, code, t, 1, 1, (int64_t)step, &ms, &off),
        MFA_ERR_REPLAYED);
    ck_assert_int_eq(
        mfa_otp_totp_verify(o, code, t + 30, 1, 1, (int64_t)step, &ms, &off),
        MFA_ERR_REPLAYED);
    ck_assert_int_eq(
        mfa_otp_totp_verify(o, code, t, 1, 1, (int64_t)step + 5, NULL, NULL),
        MFA_ERR_REPLAYED);
    /* below the last step: fresh */
    ck_assert_int_eq(
        mfa_otp_totp_verify(o, code, t, 1, 1, (int64_t)step - 1, NULL, NULL),
        MFA_OK);
    /* the next step's code is fresh after this one */
    ck_assert_int_eq(mfa_otp_totp(o, t + 30, code, sizeof(code)), MFA_OK);
    ck_assert_int_eq(
        mfa_otp_totp_verify(o, code, t + 30, 1, 1, (int64_t)step, &ms, &off),
        MFA_OK);
    ck_assert_uint_eq(ms, step + 1);
    ck_assert_int_eq(mfa_otp_totp_verify(o, code, t, 1, 1, -2, NULL, NULL),
                     MFA_ERR_INVALID);
    mfa_otp_free(&o);
}
END_TEST

START_TEST(windows_capped)
{
    mfa_otp_t *o = make(20);
    ck_assert_int_eq(mfa_otp_totp_verify(o, "123456", 1000, MFA_WINDOW_MAX + 1,
                                         0, -1, NULL, NULL),
                     MFA_ERR_WINDOW);
    ck_assert_int_eq(mfa_otp_totp_verify(o, "123456", 1000, 0,
                                         MFA_WINDOW_MAX + 1, -1, NULL, NULL),
                     MFA_ERR_WINDOW);
    ck_assert_int_eq(mfa_otp_set_type(o, MFA_HOTP), MFA_OK);
    ck_assert_int_eq(
        mfa_otp_hotp_verify(o, "123456", 0, MFA_LOOKAHEAD_MAX + 1, NULL),
        MFA_ERR_WINDOW);
    ck_assert_int_eq(
        mfa_otp_totp_verify(o, "123456", 1000, 1, 1, -1, NULL, NULL),
        MFA_ERR_TYPE);
    ck_assert_int_eq(mfa_otp_set_type(o, MFA_TOTP), MFA_OK);
    ck_assert_int_eq(mfa_otp_hotp_verify(o, "123456", 0, 1, NULL),
                     MFA_ERR_TYPE);
    ck_assert_uint_eq(mfa_window_max(), MFA_WINDOW_MAX);
    ck_assert_uint_eq(mfa_lookahead_max(), MFA_LOOKAHEAD_MAX);
    ck_assert_uint_eq(mfa_resync_max(), MFA_RESYNC_MAX);
    ck_assert_uint_eq(mfa_digits_min(), MFA_DIGITS_MIN);
    ck_assert_uint_eq(mfa_digits_max(), MFA_DIGITS_MAX);
    ck_assert_uint_eq(mfa_code_bufsize(), MFA_CODE_BUFSIZE);
    mfa_otp_free(&o);
}
END_TEST

START_TEST(time_edges)
{
    mfa_otp_t *o = make(20);
    char code[MFA_CODE_BUFSIZE];
    uint64_t step, ms;
    int32_t off;

    /* before T0 */
    ck_assert_int_eq(mfa_otp_set_t0(o, 1000), MFA_OK);
    ck_assert_int_eq(mfa_otp_totp(o, 999, code, sizeof(code)), MFA_ERR_TIME);
    ck_assert_int_eq(mfa_otp_step(o, 999, &step), MFA_ERR_TIME);
    ck_assert_int_eq(
        mfa_otp_totp_verify(o, "123456", 999, 1, 1, -1, NULL, NULL),
        MFA_ERR_TIME);
    /* step 0: the past window has nothing before T0 */
    ck_assert_int_eq(mfa_otp_totp(o, 1000, code, sizeof(code)), MFA_OK);
    ck_assert_int_eq(mfa_otp_step(o, 1029, &step), MFA_OK);
    ck_assert_uint_eq(step, 0);
    ck_assert_int_eq(mfa_otp_totp_verify(o, code, 1010, 3, 3, -1, &ms, &off),
                     MFA_OK);
    ck_assert_uint_eq(ms, 0);
    ck_assert_int_eq(off, 0);
    ck_assert_int_eq(mfa_otp_set_t0(o, 0), MFA_OK);
    /* the year 2100, 2038's rollover, 9999 and the end of int64 */
    {
        static const int64_t times[] = {2147483647LL,    2147483648LL,
                                        4102444800LL,    253402300799LL,
                                        INT64_MAX - 100, INT64_MAX};
        for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
            ck_assert_int_eq(mfa_otp_totp(o, times[i], code, sizeof(code)),
                             MFA_OK);
            ck_assert_int_eq(
                mfa_otp_totp_verify(o, code, times[i], 1, 1, -1, &ms, &off),
                MFA_OK);
            ck_assert_uint_eq(ms, (uint64_t)times[i] / 30);
        }
    }
    /* most negative T0 with the largest time: the whole uint64 step range */
    ck_assert_int_eq(mfa_otp_set_t0(o, INT64_MIN), MFA_OK);
    ck_assert_int_eq(mfa_otp_set_period(o, 1), MFA_OK);
    ck_assert_int_eq(mfa_otp_totp(o, INT64_MAX, code, sizeof(code)), MFA_OK);
    ck_assert_int_eq(
        mfa_otp_totp_verify(o, code, INT64_MAX, 2, 2, -1, &ms, &off), MFA_OK);
    ck_assert_uint_eq(ms, UINT64_MAX);
    mfa_otp_free(&o);
}
END_TEST

START_TEST(hotp_lookahead)
{
    mfa_otp_t *o = make(20);
    char code[MFA_CODE_BUFSIZE];
    uint64_t next;

    ck_assert_int_eq(mfa_otp_set_type(o, MFA_HOTP), MFA_OK);
    /* counter 5's code seen from counter 2 with look-ahead 3: accepted */
    ck_assert_int_eq(mfa_otp_hotp(o, 5, code, sizeof(code)), MFA_OK);
    ck_assert_str_eq(code, "254676");
    ck_assert_int_eq(mfa_otp_hotp_verify(o, code, 2, 3, &next), MFA_OK);
    ck_assert_uint_eq(next, 6);
    ck_assert_int_eq(mfa_otp_hotp_verify(o, code, 2, 2, &next),
                     MFA_ERR_CODE_WRONG);
    /* counters already passed are not accepted */
    ck_assert_int_eq(mfa_otp_hotp_verify(o, code, 6, 10, &next),
                     MFA_ERR_CODE_WRONG);
    /* the end of the counter space */
    ck_assert_int_eq(mfa_otp_hotp(o, UINT64_MAX, code, sizeof(code)), MFA_OK);
    ck_assert_int_eq(mfa_otp_hotp_verify(o, code, UINT64_MAX - 2, 10, &next),
                     MFA_ERR_COUNTER);
    ck_assert_int_eq(mfa_otp_hotp(o, UINT64_MAX - 1, code, sizeof(code)),
                     MFA_OK);
    ck_assert_int_eq(mfa_otp_hotp_verify(o, code, UINT64_MAX - 2, 10, &next),
                     MFA_OK);
    ck_assert_uint_eq(next, UINT64_MAX);
    mfa_otp_free(&o);
}
END_TEST

START_TEST(resync)
{
    mfa_otp_t *o = make(20);
    char c1[MFA_CODE_BUFSIZE], c2[MFA_CODE_BUFSIZE];
    const int64_t t = 1700000000;
    uint64_t step, ms, next;
    int32_t off;

    ck_assert_int_eq(mfa_otp_step(o, t, &step), MFA_OK);
    /* a phone 5 hours fast and one 11 hours slow */
    static const int drifts[] = {600, -1320, 0, 2880, -2880};
    for (size_t i = 0; i < sizeof(drifts) / sizeof(drifts[0]); i++) {
        int64_t pt = t + (int64_t)drifts[i] * 30;
        ck_assert_int_eq(mfa_otp_totp(o, pt, c1, sizeof(c1)), MFA_OK);
        ck_assert_int_eq(mfa_otp_totp(o, pt + 30, c2, sizeof(c2)), MFA_OK);
        ck_assert_int_eq(
            mfa_otp_totp_resync(o, c1, c2, t, MFA_RESYNC_MAX, &ms, &off),
            MFA_OK);
        ck_assert_int_eq(off, drifts[i] + 1);
        ck_assert_uint_eq(ms, step + (uint64_t)(int64_t)(drifts[i] + 1));
    }
    /* out of range, swapped order */
    ck_assert_int_eq(mfa_otp_totp(o, t + 3000 * 30, c1, sizeof(c1)), MFA_OK);
    ck_assert_int_eq(mfa_otp_totp(o, t + 3001 * 30, c2, sizeof(c2)), MFA_OK);
    ck_assert_int_eq(
        mfa_otp_totp_resync(o, c1, c2, t, MFA_RESYNC_MAX, &ms, &off),
        MFA_ERR_CODE_WRONG);
    ck_assert_int_eq(mfa_otp_totp(o, t, c1, sizeof(c1)), MFA_OK);
    ck_assert_int_eq(mfa_otp_totp(o, t + 30, c2, sizeof(c2)), MFA_OK);
    ck_assert_int_eq(mfa_otp_totp_resync(o, c2, c1, t, 10, &ms, &off),
                     MFA_ERR_CODE_WRONG);
    ck_assert_int_eq(
        mfa_otp_totp_resync(o, c1, c2, t, MFA_RESYNC_MAX + 1, &ms, &off),
        MFA_ERR_WINDOW);
    ck_assert_int_eq(mfa_otp_totp_resync(o, c1, "12", t, 10, &ms, &off),
                     MFA_ERR_CODE_FORMAT);
    /* HOTP: a token pressed 1500 times without logging in */
    ck_assert_int_eq(mfa_otp_set_type(o, MFA_HOTP), MFA_OK);
    ck_assert_int_eq(mfa_otp_hotp(o, 1507, c1, sizeof(c1)), MFA_OK);
    ck_assert_int_eq(mfa_otp_hotp(o, 1508, c2, sizeof(c2)), MFA_OK);
    ck_assert_int_eq(mfa_otp_hotp_resync(o, c1, c2, 7, 2000, &next), MFA_OK);
    ck_assert_uint_eq(next, 1509);
    ck_assert_int_eq(mfa_otp_hotp_resync(o, c1, c2, 7, 1000, &next),
                     MFA_ERR_CODE_WRONG);
    mfa_otp_free(&o);
}
END_TEST

START_TEST(err_strings)
{
    for (int rc = -200; rc <= 5; rc++) {
        ck_assert_ptr_nonnull(mfa_strerror(rc));
        ck_assert_ptr_nonnull(mfa_strerror_name(rc));
    }
    ck_assert_str_eq(mfa_strerror_name(MFA_ERR_REPLAYED), "MFA_ERR_REPLAYED");
    ck_assert_str_eq(mfa_strerror(MFA_OK), "success");
    ck_assert_int_eq(mfa_init(), MFA_OK);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("otp");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, rfc4226_appendix_d);
    tcase_add_test(tc, rfc6238_appendix_b);
    tcase_add_test(tc, setters_validate);
    tcase_add_test(tc, algorithm_names);
    tcase_add_test(tc, code_format);
    tcase_add_test(tc, window_property);
    tcase_add_test(tc, replay);
    tcase_add_test(tc, windows_capped);
    tcase_add_test(tc, time_edges);
    tcase_add_test(tc, hotp_lookahead);
    tcase_add_test(tc, resync);
    tcase_add_test(tc, err_strings);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
