/* Secrets: sizes, legacy import, base32 and the manual-entry form. */
#include <ctype.h>

#include <sodium.h>

#include <mfa.h>

#include "testutil.h"

static const uint8_t rfc_key[] = "12345678901234567890";

START_TEST(sizes)
{
    mfa_secret_t *s = NULL, *t = NULL;

    ck_assert_uint_eq(mfa_secret_default_bytes(), MFA_SECRET_DEFAULT);
    ck_assert_uint_eq(mfa_secret_min_bytes(), MFA_SECRET_MIN);
    ck_assert_uint_eq(mfa_secret_max_bytes(), MFA_SECRET_MAX);
    ck_assert_uint_eq(MFA_SECRET_DEFAULT, 20);

    ck_assert_int_eq(mfa_secret_new(&s, 0), MFA_OK);
    ck_assert_uint_eq(mfa_secret_len(s), 20);
    ck_assert_int_eq(mfa_secret_new(&t, 0), MFA_OK);
    /* two CSPRNG secrets of 160 bits never collide */
    ck_assert(memcmp(mfa_secret_bytes(s), mfa_secret_bytes(t), 20) != 0);
    mfa_secret_free(&s);
    mfa_secret_free(&t);
    ck_assert_ptr_null(s);
    mfa_secret_free(&s); /* NULL is fine */
    mfa_secret_free(NULL);

    for (size_t n = MFA_SECRET_MIN; n <= MFA_SECRET_MAX; n++) {
        ck_assert_int_eq(mfa_secret_new(&s, n), MFA_OK);
        ck_assert_uint_eq(mfa_secret_len(s), n);
        mfa_secret_free(&s);
    }
    s = (mfa_secret_t *)&s; /* must be reset on error */
    ck_assert_int_eq(mfa_secret_new(&s, 15), MFA_ERR_SECRET_SHORT);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(mfa_secret_new(&s, 10), MFA_ERR_SECRET_SHORT);
    ck_assert_int_eq(mfa_secret_new(&s, 65), MFA_ERR_SECRET_LONG);
    ck_assert_int_eq(mfa_secret_new(NULL, 20), MFA_ERR_INVALID);
}
END_TEST

START_TEST(import_legacy)
{
    mfa_secret_t *s = NULL;
    uint8_t big[65] = {0};

    ck_assert_int_eq(mfa_secret_import(&s, rfc_key, 20, 0), MFA_OK);
    ck_assert_mem_eq(mfa_secret_bytes(s), rfc_key, 20);
    mfa_secret_free(&s);

    /* google-authenticator-libpam's 10-byte keys only when asked for */
    ck_assert_int_eq(mfa_secret_import(&s, rfc_key, 10, 0),
                     MFA_ERR_SECRET_SHORT);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(mfa_secret_import(&s, rfc_key, 15, 0),
                     MFA_ERR_SECRET_SHORT);
    ck_assert_int_eq(mfa_secret_import(&s, rfc_key, 10, MFA_SECRET_LEGACY),
                     MFA_OK);
    ck_assert_uint_eq(mfa_secret_len(s), 10);
    mfa_secret_free(&s);
    ck_assert_int_eq(mfa_secret_import(&s, rfc_key, 9, MFA_SECRET_LEGACY),
                     MFA_ERR_SECRET_SHORT);
    ck_assert_int_eq(mfa_secret_import(&s, big, 65, MFA_SECRET_LEGACY),
                     MFA_ERR_SECRET_LONG);
    ck_assert_int_eq(mfa_secret_import(&s, big, 64, 0), MFA_OK);
    mfa_secret_free(&s);
    ck_assert_int_eq(mfa_secret_import(&s, NULL, 20, 0), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_secret_import(&s, rfc_key, 20, 0x80), MFA_ERR_INVALID);
}
END_TEST

START_TEST(base32_forms)
{
    mfa_secret_t *s = NULL, *t = NULL;
    char *b = NULL, *g = NULL;

    ck_assert_int_eq(mfa_secret_import(&s, rfc_key, 20, 0), MFA_OK);
    ck_assert_int_eq(mfa_secret_base32(s, &b), MFA_OK);
    ck_assert_str_eq(b, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    ck_assert_int_eq(mfa_secret_grouped(s, &g), MFA_OK);
    ck_assert_str_eq(g, "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ");
    mfa_string_free(&b);
    ck_assert_ptr_null(b);
    mfa_string_free(&b);
    mfa_string_free(NULL);

    /* the grouped form, typed back, lowercase, hyphens: the same key */
    ck_assert_int_eq(mfa_secret_from_base32(&t, g, 0), MFA_OK);
    ck_assert_uint_eq(mfa_secret_len(t), 20);
    ck_assert_mem_eq(mfa_secret_bytes(t), rfc_key, 20);
    mfa_secret_free(&t);
    ck_assert_int_eq(mfa_secret_from_base32(
                         &t, "gezd-gnbv-gy3t-qojq gezd gnbv gy3t qojq", 0),
                     MFA_OK);
    ck_assert_mem_eq(mfa_secret_bytes(t), rfc_key, 20);
    mfa_secret_free(&t);
    mfa_string_free(&g);
    mfa_secret_free(&s);

    /* 16 bytes: padded on the wire by some services */
    ck_assert_int_eq(
        mfa_secret_from_base32(&t, "GEZDGNBVGY3TQOJQGEZDGNBVGY======", 0),
        MFA_OK);
    ck_assert_uint_eq(mfa_secret_len(t), 16);
    ck_assert_int_eq(mfa_secret_grouped(t, &g), MFA_OK);
    ck_assert_str_eq(g, "GEZD GNBV GY3T QOJQ GEZD GNBV GY");
    mfa_string_free(&g);
    mfa_secret_free(&t);

    ck_assert_int_eq(mfa_secret_from_base32(&t, "JBSWY3DPEHPK3PXP", 0),
                     MFA_ERR_SECRET_SHORT);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(
        mfa_secret_from_base32(&t, "JBSWY3DPEHPK3PXP", MFA_SECRET_LEGACY),
        MFA_OK);
    ck_assert_uint_eq(mfa_secret_len(t), 10);
    mfa_secret_free(&t);
    ck_assert_int_eq(
        mfa_secret_from_base32(&t, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ1", 0),
        MFA_ERR_BASE32_CHAR);
    ck_assert_int_eq(mfa_secret_from_base32(&t, "GEZDGNBVGY3TQOJQGEZDGNBVG", 0),
                     MFA_ERR_BASE32_LENGTH);
    ck_assert_int_eq(mfa_secret_from_base32(&t, "", 0), MFA_ERR_BASE32_LENGTH);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(mfa_secret_base32(NULL, &b), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_secret_grouped(NULL, &g), MFA_ERR_INVALID);
}
END_TEST

/* Property: every size, random keys: both forms read back to the key. */
START_TEST(forms_round_trip)
{
    for (int iter = 0; iter < 2000; iter++) {
        size_t n = MFA_SECRET_MIN +
                   (size_t)(iter % (MFA_SECRET_MAX - MFA_SECRET_MIN + 1));
        mfa_secret_t *s = NULL, *t = NULL, *u = NULL;
        char *b = NULL, *g = NULL;
        size_t groups = 0;

        ck_assert_int_eq(mfa_secret_new(&s, n), MFA_OK);
        ck_assert_int_eq(mfa_secret_base32(s, &b), MFA_OK);
        ck_assert_int_eq(mfa_secret_grouped(s, &g), MFA_OK);
        ck_assert_uint_eq(strlen(b), mfa_base32_encoded_len(n));
        ck_assert_ptr_null(strchr(b, '='));
        for (const char *p = b; *p; p++)
            ck_assert(isupper((unsigned char)*p) || (*p >= '2' && *p <= '7'));
        /* groups of four, single spaces, the last one possibly short */
        for (const char *p = g; *p; p += strcspn(p, " "), p += *p == ' ') {
            size_t len = strcspn(p, " ");
            ck_assert_uint_ge(len, 1);
            ck_assert_uint_le(len, 4);
            if (p[len] == ' ')
                ck_assert_uint_eq(len, 4);
            groups++;
        }
        ck_assert_uint_eq(groups, (strlen(b) + 3) / 4);
        if (n == 20) {
            ck_assert_uint_eq(strlen(b), 32);
            ck_assert_uint_eq(strlen(g), 39);
        }
        ck_assert_int_eq(mfa_secret_from_base32(&t, b, 0), MFA_OK);
        ck_assert_int_eq(mfa_secret_from_base32(&u, g, 0), MFA_OK);
        ck_assert_uint_eq(mfa_secret_len(t), n);
        ck_assert_uint_eq(mfa_secret_len(u), n);
        ck_assert_mem_eq(mfa_secret_bytes(t), mfa_secret_bytes(s), n);
        ck_assert_mem_eq(mfa_secret_bytes(u), mfa_secret_bytes(s), n);
        mfa_string_free(&b);
        mfa_string_free(&g);
        mfa_secret_free(&s);
        mfa_secret_free(&t);
        mfa_secret_free(&u);
    }
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("secret");
    TCase *tc = tcase_create("secret");

    tcase_add_test(tc, sizes);
    tcase_add_test(tc, import_legacy);
    tcase_add_test(tc, base32_forms);
    tcase_add_test(tc, forms_round_trip);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
