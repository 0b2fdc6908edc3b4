/* base32: RFC 4648 vectors, tolerant reading, errors, round trips. */
#include <sodium.h>

#include <mfa.h>

#include "testutil.h"

START_TEST(rfc4648_vectors)
{
    FILE *f = tu_vector_open("rfc4648-base32.txt");
    char line[256];
    int rows = 0;

    while (tu_vector_line(f, line, sizeof(line))) {
        char in[64], padded[64], unpadded[64], out[64];
        uint8_t dec[64];
        size_t n, inlen;

        ck_assert_int_eq(sscanf(line, "%63s %63s", in, padded), 2);
        if (strcmp(in, "-") == 0)
            in[0] = '\0';
        if (strcmp(padded, "-") == 0)
            padded[0] = '\0';
        inlen = strlen(in);
        snprintf(unpadded, sizeof(unpadded), "%s", padded);
        for (char *p = strchr(unpadded, '='); p; p = NULL)
            *p = '\0';
        ck_assert_int_eq(
            mfa_base32_encode((const uint8_t *)in, inlen, out, sizeof(out)),
            MFA_OK);
        ck_assert_str_eq(out, unpadded);
        ck_assert_uint_eq(mfa_base32_encoded_len(inlen), strlen(unpadded));
        if (inlen > 0) {
            ck_assert_int_eq(mfa_base32_decode(padded, dec, sizeof(dec), &n),
                             MFA_OK);
            ck_assert_uint_eq(n, inlen);
            ck_assert_mem_eq(dec, in, n);
            ck_assert_int_eq(mfa_base32_decode(unpadded, dec, sizeof(dec), &n),
                             MFA_OK);
            ck_assert_uint_eq(n, inlen);
            ck_assert_mem_eq(dec, in, n);
        }
        rows++;
    }
    ck_assert_int_eq(rows, 7);
    fclose(f);
}
END_TEST

START_TEST(tolerant_reading)
{
    uint8_t dec[64];
    size_t n;
    static const char *same[] = {
        "JBSWY3DPEHPK3PXP",    "jbswy3dpehpk3pxp",   "JBSW Y3DP EHPK 3PXP",
        "jbsw-y3dp-ehpk-3pxp", " JBSWY3DPEHPK3PXP ", "JbSw y3Dp-EhPk 3pXp",
    };

    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        ck_assert_int_eq(mfa_base32_decode(same[i], dec, sizeof(dec), &n),
                         MFA_OK);
        ck_assert_uint_eq(n, 10);
        ck_assert_mem_eq(dec, "Hello!\xde\xad\xbe\xef", 10);
    }
}
END_TEST

START_TEST(errors)
{
    uint8_t dec[64];
    size_t n = 99;
    char big[400];

    ck_assert_int_eq(mfa_base32_decode("JBSWY3DP1", dec, sizeof(dec), &n),
                     MFA_ERR_BASE32_CHAR);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(mfa_base32_decode("JBSWY3D8", dec, sizeof(dec), &n),
                     MFA_ERR_BASE32_CHAR);
    ck_assert_int_eq(mfa_base32_decode("JBSW_Y3DP", dec, sizeof(dec), &n),
                     MFA_ERR_BASE32_CHAR);
    ck_assert_int_eq(
        mfa_base32_decode("JBSW\xc3\xa9Y3DP", dec, sizeof(dec), &n),
        MFA_ERR_BASE32_CHAR);
    ck_assert_int_eq(mfa_base32_decode("", dec, sizeof(dec), &n),
                     MFA_ERR_BASE32_LENGTH);
    ck_assert_int_eq(mfa_base32_decode("   ", dec, sizeof(dec), &n),
                     MFA_ERR_BASE32_LENGTH);
    /* lengths 1, 3, 6 mod 8 are impossible */
    ck_assert_int_eq(mfa_base32_decode("A", dec, sizeof(dec), &n),
                     MFA_ERR_BASE32_LENGTH);
    ck_assert_int_eq(mfa_base32_decode("ABC", dec, sizeof(dec), &n),
                     MFA_ERR_BASE32_LENGTH);
    ck_assert_int_eq(mfa_base32_decode("ABCDEF", dec, sizeof(dec), &n),
                     MFA_ERR_BASE32_LENGTH);
    ck_assert_int_eq(mfa_base32_decode("ABCDEFGHA", dec, sizeof(dec), &n),
                     MFA_ERR_BASE32_LENGTH);
    /* padding only at the end */
    ck_assert_int_eq(mfa_base32_decode("MZ=XQ", dec, sizeof(dec), &n),
                     MFA_ERR_BASE32_LENGTH);
    ck_assert_int_eq(mfa_base32_decode("MZXQ====", dec, sizeof(dec), &n),
                     MFA_OK);
    ck_assert_uint_eq(n, 2);
    /* output too small, over-long input */
    ck_assert_int_eq(mfa_base32_decode("MZXW6YTB", dec, 4, &n), MFA_ERR_BUFFER);
    memset(big, 'A', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ck_assert_int_eq(mfa_base32_decode(big, dec, sizeof(dec), &n),
                     MFA_ERR_BASE32_LENGTH);
    ck_assert_int_eq(mfa_base32_decode(NULL, dec, sizeof(dec), &n),
                     MFA_ERR_INVALID);
    {
        char small[4];
        ck_assert_int_eq(mfa_base32_encode(dec, 5, small, sizeof(small)),
                         MFA_ERR_BUFFER);
    }
}
END_TEST

START_TEST(round_trip)
{
    uint8_t in[64], dec[64];
    char enc[128], spaced[256];

    for (int i = 0; i < 2000; i++) {
        size_t len = 1 + randombytes_uniform(64), n, o = 0;
        randombytes_buf(in, len);
        ck_assert_int_eq(mfa_base32_encode(in, len, enc, sizeof(enc)), MFA_OK);
        ck_assert_uint_eq(strlen(enc), mfa_base32_encoded_len(len));
        ck_assert_uint_ge(mfa_base32_decoded_maxlen(strlen(enc)), len);
        ck_assert_int_eq(mfa_base32_decode(enc, dec, sizeof(dec), &n), MFA_OK);
        ck_assert_uint_eq(n, len);
        ck_assert_mem_eq(dec, in, len);
        /* the same with random separators and lowercase */
        for (size_t k = 0; enc[k]; k++) {
            if (randombytes_uniform(4) == 0)
                spaced[o++] = randombytes_uniform(2) ? ' ' : '-';
            spaced[o++] = randombytes_uniform(2) && enc[k] >= 'A'
                              ? (char)(enc[k] - 'A' + 'a')
                              : enc[k];
        }
        spaced[o] = '\0';
        ck_assert_int_eq(mfa_base32_decode(spaced, dec, sizeof(dec), &n),
                         MFA_OK);
        ck_assert_uint_eq(n, len);
        ck_assert_mem_eq(dec, in, len);
    }
}
END_TEST

/*
 * A typed key reads 0 as O and 1 as I, as Google Authenticator's manual
 * entry does (EnterKeyActivity: replace('1', 'I').replace('0', 'O')), and
 * nothing else; the strict reader keeps refusing them.
 */
START_TEST(typed_digits)
{
    uint8_t a[64], b[64];
    size_t na = 99, nb = 99;

    /* RFC 4648's "foobar" is MZXW6YTBOI: with 0 for O and 1 for I */
    ck_assert_int_eq(mfa_base32_decode_typed("MZXW6YTB01", a, sizeof(a), &na),
                     MFA_OK);
    ck_assert_uint_eq(na, 6);
    ck_assert_mem_eq(a, "foobar", 6);
    ck_assert_int_eq(mfa_base32_decode("MZXW6YTB01", b, sizeof(b), &nb),
                     MFA_ERR_BASE32_CHAR);
    ck_assert_uint_eq(nb, 0);
    /* grouped, lowercase and padded like any typed key */
    ck_assert_int_eq(
        mfa_base32_decode_typed("mzxw 6ytb 01==", a, sizeof(a), &na), MFA_OK);
    ck_assert_mem_eq(a, "foobar", 6);
    /* every other byte: the typed reader says what the strict one says */
    for (unsigned c = 1; c < 256; c++) {
        char t[9] = "MZXW6YTB";
        mfa_rc rs, rt;

        t[3] = (char)c;
        rs = mfa_base32_decode(t, a, sizeof(a), &na);
        rt = mfa_base32_decode_typed(t, b, sizeof(b), &nb);
        if (c == '0' || c == '1') {
            ck_assert_int_eq(rs, MFA_ERR_BASE32_CHAR);
            ck_assert_int_eq(rt, MFA_OK);
            t[3] = c == '0' ? 'O' : 'I';
            ck_assert_int_eq(mfa_base32_decode(t, a, sizeof(a), &na), MFA_OK);
            ck_assert_uint_eq(na, nb);
            ck_assert_mem_eq(a, b, na);
        } else {
            ck_assert_msg(rs == rt, "byte %#x: %d vs %d", c, rs, rt);
            if (rs == MFA_OK) {
                ck_assert_uint_eq(na, nb);
                ck_assert_mem_eq(a, b, na);
            }
        }
    }
    /* 8 is not B and 9 is not g: Google Authenticator maps neither */
    ck_assert_int_eq(mfa_base32_decode_typed("MZXW6YT8", a, sizeof(a), &na),
                     MFA_ERR_BASE32_CHAR);
    ck_assert_int_eq(mfa_base32_decode_typed("MZXW6YT9", a, sizeof(a), &na),
                     MFA_ERR_BASE32_CHAR);
    ck_assert_int_eq(mfa_base32_decode_typed("", a, sizeof(a), &na),
                     MFA_ERR_BASE32_LENGTH);
    ck_assert_int_eq(mfa_base32_decode_typed(NULL, a, sizeof(a), &na),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_base32_decode_typed("MZXW6YTB01", a, 2, &na),
                     MFA_ERR_BUFFER);
}
END_TEST

/* Random keys typed with every O as 0 and I as 1 come back exactly. */
START_TEST(typed_round_trip)
{
    for (int iter = 0; iter < 500; iter++) {
        uint8_t in[64], out[64];
        char enc[128];
        size_t len = 10 + randombytes_uniform(55), n = 0;

        randombytes_buf(in, len);
        ck_assert_int_eq(mfa_base32_encode(in, len, enc, sizeof(enc)), MFA_OK);
        for (char *p = enc; *p; p++) {
            if (*p == 'O' && randombytes_uniform(2))
                *p = '0';
            else if (*p == 'I' && randombytes_uniform(2))
                *p = '1';
        }
        ck_assert_int_eq(mfa_base32_decode_typed(enc, out, sizeof(out), &n),
                         MFA_OK);
        ck_assert_uint_eq(n, len);
        ck_assert_mem_eq(in, out, len);
    }
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("base32");
    TCase *tc = tcase_create("base32");

    if (sodium_init() < 0)
        return 1;
    tcase_add_test(tc, rfc4648_vectors);
    tcase_add_test(tc, tolerant_reading);
    tcase_add_test(tc, errors);
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, typed_digits);
    tcase_add_test(tc, typed_round_trip);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
