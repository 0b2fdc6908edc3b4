/* Profiles and the per-app lint: a verdict for every row of the per-app
 * table in docs/interop.md. */
#include <sodium.h>

#include <mfa.h>

#include "testutil.h"

#define B32_20 "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
#define B32_10 "JBSWY3DPEHPK3PXP"

/* Lint a URI given as text. */
static void
lint_text(const char *text, mfa_lint_entry out[MFA_APP_COUNT])
{
    mfa_uri_t *u = NULL;
    mfa_rc rc = mfa_uri_parse(text, &u, NULL);

    ck_assert_msg(rc == MFA_OK, "%s: %s", text, mfa_strerror_name(rc));
    ck_assert_int_eq(mfa_lint_uri(u, out), MFA_OK);
    for (int i = 0; i < MFA_APP_COUNT; i++) {
        ck_assert_int_eq(out[i].app, i);
        ck_assert(out[i].reason[0] != '\0');
        ck_assert_ptr_null(strchr(out[i].reason, '\n'));
        /* the reason names the app it is about */
        ck_assert_ptr_nonnull(strstr(out[i].reason, mfa_app_name((mfa_app)i)));
    }
    mfa_uri_free(&u);
}

/* One app's verdict for a TOTP URI with these extra parameters. */
static mfa_verdict
verdict(const char *params, mfa_app app, char *reason, size_t rsize)
{
    char text[512];
    mfa_lint_entry out[MFA_APP_COUNT];

    snprintf(text, sizeof(text), "%s", params);
    lint_text(text, out);
    if (reason != NULL)
        snprintf(reason, rsize, "%s", out[app].reason);
    return out[app].verdict;
}

#define TOTP "otpauth://totp/Acme:alice?issuer=Acme&secret=" B32_20
#define HOTP "otpauth://hotp/Acme:alice?issuer=Acme&counter=0&secret=" B32_20

#define EXPECT(params, app, want)                                              \
    do {                                                                       \
        char r_[160];                                                          \
        mfa_verdict v_ = verdict(params, app, r_, sizeof(r_));                 \
        ck_assert_msg(v_ == (want), "%s / %s: %s (%s), want %s", params,       \
                      mfa_app_name(app), mfa_verdict_name(v_), r_,             \
                      mfa_verdict_name(want));                                 \
    } while (0)

START_TEST(universal_works_everywhere)
{
    mfa_lint_entry out[MFA_APP_COUNT];

    lint_text(TOTP, out);
    for (int i = 0; i < MFA_APP_COUNT; i++)
        ck_assert_int_eq(out[i].verdict, MFA_VERDICT_WORKS);
    lint_text(TOTP "&algorithm=SHA1&digits=6&period=30", out);
    for (int i = 0; i < MFA_APP_COUNT; i++)
        ck_assert_int_eq(out[i].verdict, MFA_VERDICT_WORKS);
}
END_TEST

START_TEST(row_google)
{
    mfa_app g = MFA_APP_GOOGLE;

    EXPECT(TOTP "&algorithm=SHA256", g, MFA_VERDICT_UNKNOWN);
    EXPECT(TOTP "&algorithm=SHA512", g, MFA_VERDICT_UNKNOWN);
    EXPECT(TOTP "&digits=8", g, MFA_VERDICT_UNKNOWN);
    EXPECT(TOTP "&digits=7", g, MFA_VERDICT_WRONG_CODES);
    EXPECT(TOTP "&digits=10", g, MFA_VERDICT_WRONG_CODES);
    EXPECT(TOTP "&period=60", g, MFA_VERDICT_WRONG_CODES);
    EXPECT(HOTP, g, MFA_VERDICT_WORKS);
    /* a legacy 10-byte key is accepted (under 10 it refuses, and such a
     * key is refused by the parser already) */
    EXPECT("otpauth://totp/A:b?issuer=A&secret=" B32_10, g, MFA_VERDICT_WORKS);
    /* wrong codes outrank unknown */
    EXPECT(TOTP "&digits=8&period=60", g, MFA_VERDICT_WRONG_CODES);
}
END_TEST

START_TEST(row_microsoft)
{
    mfa_app m = MFA_APP_MICROSOFT;
    char reason[160];

    ck_assert_int_eq(verdict(TOTP "&digits=8", m, reason, sizeof(reason)),
                     MFA_VERDICT_WRONG_CODES);
    ck_assert_str_eq(reason, "Microsoft Authenticator ignores digits=8 and "
                             "will show 6-digit codes");
    EXPECT(TOTP "&algorithm=SHA256", m, MFA_VERDICT_WRONG_CODES);
    EXPECT(TOTP "&algorithm=SHA512", m, MFA_VERDICT_WRONG_CODES);
    EXPECT(TOTP "&period=60", m, MFA_VERDICT_WRONG_CODES);
    EXPECT(HOTP, m, MFA_VERDICT_WRONG_CODES);
    /* the title comes from the prefix: without one it still works */
    ck_assert_int_eq(verdict("otpauth://totp/alice?secret=" B32_20, m, reason,
                             sizeof(reason)),
                     MFA_VERDICT_WORKS);
    ck_assert_ptr_nonnull(strstr(reason, "issuer"));
}
END_TEST

START_TEST(row_authy)
{
    mfa_app a = MFA_APP_AUTHY;

    EXPECT(TOTP "&algorithm=SHA256", a, MFA_VERDICT_WRONG_CODES);
    EXPECT(TOTP "&algorithm=SHA512", a, MFA_VERDICT_WRONG_CODES);
    EXPECT(TOTP "&digits=7", a, MFA_VERDICT_UNKNOWN);
    EXPECT(TOTP "&digits=8", a, MFA_VERDICT_WRONG_CODES);
    EXPECT(TOTP "&period=15", a, MFA_VERDICT_WRONG_CODES);
    EXPECT(HOTP, a, MFA_VERDICT_REFUSED);
    /* refused outranks wrong codes */
    EXPECT(HOTP "&algorithm=SHA256", a, MFA_VERDICT_REFUSED);
}
END_TEST

START_TEST(row_aegis)
{
    mfa_app a = MFA_APP_AEGIS;

    EXPECT(TOTP "&algorithm=SHA256", a, MFA_VERDICT_WORKS);
    EXPECT(TOTP "&algorithm=SHA512&digits=10&period=1", a, MFA_VERDICT_WORKS);
    EXPECT(TOTP "&digits=7&period=86400", a, MFA_VERDICT_WORKS);
    EXPECT(HOTP "&digits=8", a, MFA_VERDICT_WORKS);
    EXPECT("otpauth://totp/A:b?issuer=A&secret=" B32_10, a, MFA_VERDICT_WORKS);
}
END_TEST

START_TEST(row_freeotp)
{
    mfa_app f = MFA_APP_FREEOTP;
    char reason[160];

    EXPECT(TOTP "&algorithm=SHA512", f, MFA_VERDICT_WORKS);
    EXPECT(TOTP "&digits=9", f, MFA_VERDICT_WORKS);
    EXPECT(TOTP "&digits=10", f, MFA_VERDICT_REFUSED);
    EXPECT(TOTP "&period=5", f, MFA_VERDICT_WORKS);
    EXPECT(TOTP "&period=4", f, MFA_VERDICT_REFUSED);
    EXPECT(HOTP, f, MFA_VERDICT_WORKS);
    /* a short secret works but FreeOTP warns */
    ck_assert_int_eq(verdict("otpauth://totp/A:b?issuer=A&secret=" B32_10, f,
                             reason, sizeof(reason)),
                     MFA_VERDICT_WORKS);
    ck_assert_ptr_nonnull(strstr(reason, "128 bits"));
}
END_TEST

START_TEST(row_keepassxc_bitwarden)
{
    mfa_app k = MFA_APP_KEEPASSXC;

    EXPECT(TOTP "&algorithm=SHA256&digits=8&period=60", k, MFA_VERDICT_WORKS);
    EXPECT(TOTP "&algorithm=SHA512&digits=10&period=1", k, MFA_VERDICT_WORKS);
    EXPECT(HOTP, k, MFA_VERDICT_WRONG_CODES);
}
END_TEST

/* The lint judges the URI text as written: what the parser tolerated. */
START_TEST(tolerated_input)
{
    char reason[160];

    /* 16 bytes padded with '=' */
    EXPECT(
        "otpauth://totp/A:b?issuer=A&secret=GEZDGNBVGY3TQOJQGEZDGNBVGY======",
        MFA_APP_GOOGLE, MFA_VERDICT_REFUSED);
    EXPECT(
        "otpauth://totp/A:b?issuer=A&secret=GEZDGNBVGY3TQOJQGEZDGNBVGY======",
        MFA_APP_AEGIS, MFA_VERDICT_WORKS);
    EXPECT(TOTP "&algorithm=sha256", MFA_APP_KEEPASSXC,
           MFA_VERDICT_WRONG_CODES);
    EXPECT(TOTP "&algorithm=sha256", MFA_APP_AEGIS, MFA_VERDICT_UNKNOWN);
    EXPECT(TOTP "&algorithm=sha256", MFA_APP_MICROSOFT,
           MFA_VERDICT_WRONG_CODES);
    EXPECT(TOTP "&algorithm=sha1", MFA_APP_KEEPASSXC, MFA_VERDICT_WORKS);
    EXPECT(TOTP "&algorithm=sha1", MFA_APP_GOOGLE, MFA_VERDICT_UNKNOWN);
    ck_assert_int_eq(
        verdict("otpauth://totp/Big+Co:b?issuer=Big+Co&secret=" B32_20,
                MFA_APP_FREEOTP, reason, sizeof(reason)),
        MFA_VERDICT_WORKS);
    ck_assert_ptr_nonnull(strstr(reason, "'+'"));

    /* formatted again, the URI is clean and works everywhere */
    {
        mfa_uri_t *u = NULL, *v = NULL;
        mfa_lint_entry out[MFA_APP_COUNT];
        char *text = NULL;

        ck_assert_int_eq(mfa_uri_parse(TOTP "&algorithm=sha1", &u, NULL),
                         MFA_OK);
        ck_assert_int_eq(mfa_uri_format(u, 0, &text), MFA_OK);
        ck_assert_int_eq(mfa_uri_parse(text, &v, NULL), MFA_OK);
        ck_assert_int_eq(mfa_lint_uri(v, out), MFA_OK);
        for (int i = 0; i < MFA_APP_COUNT; i++)
            ck_assert_int_eq(out[i].verdict, MFA_VERDICT_WORKS);
        mfa_string_free(&text);
        mfa_uri_free(&u);
        mfa_uri_free(&v);
    }
}
END_TEST

/* URIs from the wild: what the lint says about each oddity the parser
 * reads with a warning. */
START_TEST(wild_uris)
{
    char r[160];

    /* Google Authenticator's scanner compares scheme and type exactly */
    EXPECT("OTPAUTH://totp/Acme:alice?issuer=Acme&secret=" B32_20,
           MFA_APP_GOOGLE, MFA_VERDICT_REFUSED);
    EXPECT("otpauth://TOTP/Acme:alice?issuer=Acme&secret=" B32_20,
           MFA_APP_GOOGLE, MFA_VERDICT_REFUSED);
    EXPECT("OTPAUTH://TOTP/Acme:alice?issuer=Acme&secret=" B32_20,
           MFA_APP_AEGIS, MFA_VERDICT_UNKNOWN);
    EXPECT("otpauth://Totp/Acme:alice?issuer=Acme&secret=" B32_20,
           MFA_APP_FREEOTP, MFA_VERDICT_UNKNOWN);
    /* FreeOTP refuses a second colon; the others read it, split somehow */
    EXPECT("otpauth://totp/Acme:alice:work?issuer=Acme&secret=" B32_20,
           MFA_APP_FREEOTP, MFA_VERDICT_REFUSED);
    EXPECT("otpauth://totp/alice?issuer=Ac%3Ame&secret=" B32_20,
           MFA_APP_FREEOTP, MFA_VERDICT_REFUSED);
    verdict("otpauth://totp/Acme:alice:work?issuer=Acme&secret=" B32_20,
            MFA_APP_AEGIS, r, sizeof(r));
    ck_assert_ptr_nonnull(strstr(r, "':'"));
    EXPECT("otpauth://totp/Acme:alice:work?issuer=Acme&secret=" B32_20,
           MFA_APP_AEGIS, MFA_VERDICT_WORKS);
    /* '+' read as a space in the query, an empty issuer=: work, noted */
    EXPECT("otpauth://totp/Ex%20Mail:alice?issuer=Ex+Mail&secret=" B32_20,
           MFA_APP_MICROSOFT, MFA_VERDICT_WORKS);
    verdict("otpauth://totp/Ex%20Mail:alice?issuer=Ex+Mail&secret=" B32_20,
            MFA_APP_MICROSOFT, r, sizeof(r));
    ck_assert_ptr_nonnull(strstr(r, "'+'"));
    verdict("otpauth://totp/Acme:alice?issuer=&secret=" B32_20,
            MFA_APP_KEEPASSXC, r, sizeof(r));
    ck_assert_ptr_nonnull(strstr(r, "issuer= is empty"));
    /* an image, kept or dropped, changes no verdict */
    EXPECT(TOTP "&image=https://x.org/my%20logo.png", MFA_APP_GOOGLE,
           MFA_VERDICT_WORKS);
    EXPECT(TOTP "&image=http://x.org/a.png", MFA_APP_FREEOTP,
           MFA_VERDICT_WORKS);
}
END_TEST

START_TEST(profiles)
{
    static const char *const names[] = {"universal", "google", "microsoft",
                                        "authy"};
    const mfa_profile_t *p = NULL;
    mfa_profile_t *c = NULL;
    mfa_lint_entry out[MFA_APP_COUNT];

    ck_assert_ptr_nonnull(mfa_profile_default());
    ck_assert_str_eq(mfa_profile_name(mfa_profile_default()), "universal");
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        ck_assert_int_eq(mfa_profile_get(names[i], &p), MFA_OK);
        ck_assert_str_eq(mfa_profile_name(p), names[i]);
        /* every app profile is a parameter set every app reads */
        ck_assert_int_eq(mfa_profile_type(p), MFA_TOTP);
        ck_assert_int_eq(mfa_profile_algorithm(p), MFA_SHA1);
        ck_assert_uint_eq(mfa_profile_digits(p), 6);
        ck_assert_uint_eq(mfa_profile_period(p), 30);
        ck_assert_uint_eq(mfa_profile_secret_bytes(p), 20);
        ck_assert_int_eq(mfa_lint_profile(p, out), MFA_OK);
        for (int a = 0; a < MFA_APP_COUNT; a++)
            ck_assert_int_eq(out[a].verdict, MFA_VERDICT_WORKS);
        {
            /* freeing a built-in one is ignored */
            mfa_profile_t *q = (mfa_profile_t *)(uintptr_t)p;
            mfa_profile_free(&q);
            ck_assert_str_eq(mfa_profile_name(p), names[i]);
        }
    }
    ck_assert_int_eq(mfa_profile_get("universal", &p), MFA_OK);
    ck_assert_ptr_eq(p, mfa_profile_default());
    ck_assert_int_eq(mfa_profile_get("Universal", &p), MFA_ERR_PROFILE);
    ck_assert_ptr_null(p);
    ck_assert_int_eq(mfa_profile_get("custom", &p), MFA_ERR_PROFILE);
    ck_assert_int_eq(mfa_profile_get(NULL, &p), MFA_ERR_INVALID);

    ck_assert_int_eq(
        mfa_profile_custom_new(&c, MFA_TOTP, MFA_SHA256, 8, 60, 32), MFA_OK);
    ck_assert_str_eq(mfa_profile_name(c), "custom");
    ck_assert_int_eq(mfa_profile_algorithm(c), MFA_SHA256);
    ck_assert_uint_eq(mfa_profile_digits(c), 8);
    ck_assert_uint_eq(mfa_profile_period(c), 60);
    ck_assert_uint_eq(mfa_profile_secret_bytes(c), 32);
    ck_assert_int_eq(mfa_lint_profile(c, out), MFA_OK);
    ck_assert_int_eq(out[MFA_APP_GOOGLE].verdict, MFA_VERDICT_WRONG_CODES);
    ck_assert_int_eq(out[MFA_APP_MICROSOFT].verdict, MFA_VERDICT_WRONG_CODES);
    ck_assert_int_eq(out[MFA_APP_AUTHY].verdict, MFA_VERDICT_WRONG_CODES);
    ck_assert_int_eq(out[MFA_APP_AEGIS].verdict, MFA_VERDICT_WORKS);
    ck_assert_int_eq(out[MFA_APP_FREEOTP].verdict, MFA_VERDICT_WORKS);
    ck_assert_int_eq(out[MFA_APP_KEEPASSXC].verdict, MFA_VERDICT_WORKS);
    mfa_profile_free(&c);
    ck_assert_ptr_null(c);
    mfa_profile_free(&c);
    mfa_profile_free(NULL);

    c = (mfa_profile_t *)&c;
    ck_assert_int_eq(
        mfa_profile_custom_new(&c, (mfa_otp_type)7, MFA_SHA1, 6, 30, 20),
        MFA_ERR_TYPE);
    ck_assert_ptr_null(c);
    ck_assert_int_eq(
        mfa_profile_custom_new(&c, MFA_TOTP, (mfa_algorithm)9, 6, 30, 20),
        MFA_ERR_ALGORITHM);
    ck_assert_int_eq(mfa_profile_custom_new(&c, MFA_TOTP, MFA_SHA1, 5, 30, 20),
                     MFA_ERR_DIGITS);
    ck_assert_int_eq(mfa_profile_custom_new(&c, MFA_TOTP, MFA_SHA1, 11, 30, 20),
                     MFA_ERR_DIGITS);
    ck_assert_int_eq(mfa_profile_custom_new(&c, MFA_TOTP, MFA_SHA1, 6, 0, 20),
                     MFA_ERR_PERIOD);
    ck_assert_int_eq(mfa_profile_custom_new(&c, MFA_TOTP, MFA_SHA1, 6,
                                            MFA_PERIOD_MAX + 1, 20),
                     MFA_ERR_PERIOD);
    ck_assert_int_eq(mfa_profile_custom_new(&c, MFA_TOTP, MFA_SHA1, 6, 30, 15),
                     MFA_ERR_SECRET_SHORT);
    ck_assert_int_eq(mfa_profile_custom_new(&c, MFA_TOTP, MFA_SHA1, 6, 30, 65),
                     MFA_ERR_SECRET_LONG);
    ck_assert_int_eq(mfa_lint_profile(NULL, out), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_lint_uri(NULL, out), MFA_ERR_INVALID);
}
END_TEST

START_TEST(names)
{
    ck_assert_str_eq(mfa_app_name(MFA_APP_GOOGLE), "Google Authenticator");
    ck_assert_str_eq(mfa_app_name(MFA_APP_MICROSOFT),
                     "Microsoft Authenticator");
    ck_assert_str_eq(mfa_app_name(MFA_APP_AUTHY), "Authy");
    ck_assert_str_eq(mfa_app_name(MFA_APP_AEGIS), "Aegis");
    ck_assert_str_eq(mfa_app_name(MFA_APP_FREEOTP), "FreeOTP");
    ck_assert_str_eq(mfa_app_name(MFA_APP_KEEPASSXC), "KeePassXC/Bitwarden");
    ck_assert_ptr_null(mfa_app_name(MFA_APP_COUNT));
    ck_assert_ptr_null(mfa_app_name((mfa_app)-1));
    ck_assert_str_eq(mfa_verdict_name(MFA_VERDICT_WORKS), "works");
    ck_assert_str_eq(mfa_verdict_name(MFA_VERDICT_WRONG_CODES), "wrong codes");
    ck_assert_str_eq(mfa_verdict_name(MFA_VERDICT_REFUSED), "refused");
    ck_assert_str_eq(mfa_verdict_name(MFA_VERDICT_UNKNOWN), "unknown");
    ck_assert_ptr_null(mfa_verdict_name((mfa_verdict)4));
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("lint");
    TCase *tc = tcase_create("lint");

    tcase_add_test(tc, universal_works_everywhere);
    tcase_add_test(tc, row_google);
    tcase_add_test(tc, row_microsoft);
    tcase_add_test(tc, row_authy);
    tcase_add_test(tc, row_aegis);
    tcase_add_test(tc, row_freeotp);
    tcase_add_test(tc, row_keepassxc_bitwarden);
    tcase_add_test(tc, tolerated_input);
    tcase_add_test(tc, wild_uris);
    tcase_add_test(tc, profiles);
    tcase_add_test(tc, names);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
