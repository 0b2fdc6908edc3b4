/* docs/enrollment.md's example, compiled from the page and run: the page
 * it renders holds a QR code and the grouped key, and the first code of the
 * user's app confirms the factor. */
#include "config.h"
#include "enrollment_snippet.h"
#include "testutil.h"

START_TEST(enrollment_example)
{
    mfa_secret_t *secret = NULL;
    mfa_otp_t *app = NULL;
    char *html = NULL, *key = NULL, code[MFA_CODE_BUFSIZE];
    const int64_t now = 1700000000;
    uint64_t step = 0;
    mfa_rc rc = enroll_page("alice@example.com", &secret, &html);

#if MFA_HAVE_QRENCODE
    ck_assert_int_eq(rc, MFA_OK);
    ck_assert_ptr_nonnull(
        strstr(html, "<img src=\"data:image/svg+xml;base64,"));
    ck_assert_int_eq(mfa_secret_grouped(secret, &key), MFA_OK);
    ck_assert_ptr_nonnull(strstr(html, key));
    mfa_string_free(&key);

    /* the user's app, from the same secret */
    ck_assert_int_eq(
        mfa_otp_new(&app, mfa_secret_bytes(secret), mfa_secret_len(secret)),
        MFA_OK);
    ck_assert_int_eq(mfa_otp_totp(app, now, code, sizeof(code)), MFA_OK);
    ck_assert_int_eq(enroll_confirm(secret, code, now, &step), MFA_OK);
    ck_assert_uint_eq(step, (uint64_t)now / 30);
    code[0] = code[0] == '0' ? '1' : '0';
    ck_assert_int_ne(enroll_confirm(secret, code, now, &step), MFA_OK);
    mfa_otp_free(&app);
    free(html);
    mfa_secret_free(&secret);
#else
    /* without libqrencode the page cannot be made; nothing is left over */
    ck_assert_int_eq(rc, MFA_ERR_UNSUPPORTED);
    ck_assert_ptr_null(html);
    ck_assert_ptr_null(secret);
    (void)enroll_confirm;
    (void)app;
    (void)key;
    (void)code;
    (void)now;
    (void)step;
#endif
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("doc-enrollment");
    TCase *tc = tcase_create("doc");

    tcase_add_test(tc, enrollment_example);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
