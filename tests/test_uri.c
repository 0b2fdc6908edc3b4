/* otpauth:// URIs: exact output, tolerant parsing, every error class, and
 * the round-trip property parse(format(x)) == x. */
#include <inttypes.h>

#include <sodium.h>

#include <mfa.h>

#include "testutil.h"

#define RFC_B32                                                                \
    "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" /* "12345678901234567890"               \
                                        */
#define RFC_B32_32 "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZA"

static mfa_secret_t *
rfc_secret(void)
{
    mfa_secret_t *s = NULL;
    ck_assert_int_eq(mfa_secret_from_base32(&s, RFC_B32, 0), MFA_OK);
    return s;
}

/* Format a URI for profile/issuer/account and compare with want. */
static void
expect_format(const mfa_profile_t *p, const char *issuer, const char *account,
              unsigned flags, const char *want)
{
    mfa_secret_t *s = rfc_secret();
    mfa_uri_t *u = NULL;
    char *text = NULL;

    ck_assert_int_eq(mfa_uri_new(&u, p, s, issuer, account), MFA_OK);
    ck_assert_int_eq(mfa_uri_format(u, flags, &text), MFA_OK);
    ck_assert_str_eq(text, want);
    mfa_string_free(&text);
    mfa_uri_free(&u);
    ck_assert_ptr_null(u);
    mfa_secret_free(&s);
}

START_TEST(format_exact)
{
    mfa_profile_t *c = NULL;

    expect_format(
        NULL, "Example Co", "alice@example.com", 0,
        "otpauth://totp/Example%20Co:alice%40example.com?secret=" RFC_B32
        "&issuer=Example%20Co");
    expect_format(
        mfa_profile_default(), "Example Co", "alice@example.com",
        MFA_URI_EXPLICIT,
        "otpauth://totp/Example%20Co:alice%40example.com?secret=" RFC_B32
        "&issuer=Example%20Co&algorithm=SHA1&digits=6&period=30");
    /* UTF-8, and '+' never stands for a space */
    expect_format(
        NULL, "Soci\xc3\xa9t\xc3\xa9 G+", "zo\xc3\xab", 0,
        "otpauth://totp/Soci%C3%A9t%C3%A9%20G%2B:zo%C3%AB?secret=" RFC_B32
        "&issuer=Soci%C3%A9t%C3%A9%20G%2B");
    expect_format(NULL, "", "alice", 0, "otpauth://totp/alice?secret=" RFC_B32);
    expect_format(NULL, NULL, "a-b.c_d~e", 0,
                  "otpauth://totp/a-b.c_d~e?secret=" RFC_B32);
    expect_format(NULL, "A&B?C#D%E/F=G", "\"q\" 'x'", 0,
                  "otpauth://totp/A%26B%3FC%23D%25E%2FF%3DG:%22q%22%20%27x%27"
                  "?secret=" RFC_B32 "&issuer=A%26B%3FC%23D%25E%2FF%3DG");

    ck_assert_int_eq(
        mfa_profile_custom_new(&c, MFA_TOTP, MFA_SHA256, 8, 60, 32), MFA_OK);
    expect_format(c, "X", "y", 0,
                  "otpauth://totp/X:y?secret=" RFC_B32
                  "&issuer=X&algorithm=SHA256&digits=8&period=60");
    mfa_profile_free(&c);
    ck_assert_ptr_null(c);
    ck_assert_int_eq(mfa_profile_custom_new(&c, MFA_TOTP, MFA_SHA512, 6, 30, 0),
                     MFA_OK);
    expect_format(c, "X", "y", 0,
                  "otpauth://totp/X:y?secret=" RFC_B32
                  "&issuer=X&algorithm=SHA512");
    mfa_profile_free(&c);
    ck_assert_int_eq(mfa_profile_custom_new(&c, MFA_HOTP, MFA_SHA1, 6, 30, 20),
                     MFA_OK);
    expect_format(c, "X", "y", 0,
                  "otpauth://hotp/X:y?secret=" RFC_B32 "&issuer=X&counter=0");
    mfa_profile_free(&c);
}
END_TEST

START_TEST(format_counter_image)
{
    mfa_secret_t *s = rfc_secret();
    mfa_profile_t *c = NULL;
    mfa_uri_t *u = NULL;
    char *text = NULL;

    ck_assert_int_eq(mfa_profile_custom_new(&c, MFA_HOTP, MFA_SHA1, 6, 30, 20),
                     MFA_OK);
    ck_assert_int_eq(mfa_uri_new(&u, c, s, "X", "y"), MFA_OK);
    ck_assert_int_eq(mfa_uri_set_counter(u, UINT64_MAX), MFA_OK);
    ck_assert_int_eq(mfa_uri_set_image(u, "https://example.com/logo.png"),
                     MFA_OK);
    ck_assert_str_eq(mfa_uri_image(u), "https://example.com/logo.png");
    ck_assert_int_eq(mfa_uri_format(u, MFA_URI_EXPLICIT, &text), MFA_OK);
    /* no period for HOTP, even explicit */
    ck_assert_str_eq(text, "otpauth://hotp/X:y?secret=" RFC_B32
                           "&issuer=X&algorithm=SHA1&digits=6"
                           "&counter=18446744073709551615"
                           "&image=https://example.com/logo.png");
    mfa_string_free(&text);
    ck_assert_int_eq(mfa_uri_set_image(u, NULL), MFA_OK);
    ck_assert_ptr_null(mfa_uri_image(u));
    ck_assert_int_eq(mfa_uri_set_image(u, "http://example.com/logo.png"),
                     MFA_ERR_IMAGE_URL);
    ck_assert_int_eq(mfa_uri_set_image(u, "javascript:alert(1)"),
                     MFA_ERR_IMAGE_URL);
    ck_assert_int_eq(mfa_uri_set_image(u, "https://"), MFA_ERR_IMAGE_URL);
    ck_assert_int_eq(mfa_uri_set_image(u, "https://a b/"), MFA_ERR_IMAGE_URL);
    ck_assert_int_eq(mfa_uri_set_image(u, "https://a/\n"),
                     MFA_ERR_CONTROL_CHAR);
    {
        char longurl[MFA_IMAGE_MAX + 2];
        memcpy(longurl, "https://", 8);
        memset(longurl + 8, 'a', sizeof(longurl) - 9);
        longurl[sizeof(longurl) - 1] = '\0';
        ck_assert_int_eq(mfa_uri_set_image(u, longurl), MFA_ERR_TOO_LONG);
        longurl[sizeof(longurl) - 2] = '\0';
        ck_assert_int_eq(mfa_uri_set_image(u, longurl), MFA_OK);
        /* the limit is on the URL as written in the URI: 'é' takes 6 */
        for (size_t i = 0; i < 84; i++)
            memcpy(longurl + 8 + 2 * i, "\xc3\xa9", 2);
        longurl[8 + 2 * 84] = '\0';
        ck_assert_int_eq(mfa_uri_set_image(u, longurl), MFA_OK);
        memcpy(longurl + 8 + 2 * 84, "a", 2);
        ck_assert_int_eq(mfa_uri_set_image(u, longurl), MFA_ERR_TOO_LONG);
    }
    mfa_uri_free(&u);
    mfa_profile_free(&c);

    ck_assert_int_eq(mfa_uri_new(&u, NULL, s, "X", "y"), MFA_OK);
    ck_assert_int_eq(mfa_uri_set_counter(u, 5), MFA_ERR_TYPE);
    ck_assert_int_eq(mfa_uri_format(u, 0x10, &text), MFA_ERR_INVALID);
    ck_assert_ptr_null(text);
    mfa_uri_free(&u);
    mfa_uri_free(&u);
    mfa_uri_free(NULL);
    mfa_secret_free(&s);
}
END_TEST

START_TEST(new_errors)
{
    mfa_secret_t *s = rfc_secret();
    mfa_uri_t *u = NULL;
    char big[MFA_ACCOUNT_MAX + 2];
    static const struct {
        const char *issuer, *account;
        mfa_rc rc;
    } cases[] = {
        {"Big:Corp", "alice", MFA_ERR_COLON},
        {"Big", "alice:1", MFA_ERR_COLON},
        {"Big\xc3\x28", "alice", MFA_ERR_UTF8},    /* bad continuation */
        {"Big", "\xc0\xaf", MFA_ERR_UTF8},         /* overlong '/' */
        {"Big", "\xed\xa0\x80", MFA_ERR_UTF8},     /* surrogate */
        {"Big", "\xf4\x90\x80\x80", MFA_ERR_UTF8}, /* above U+10FFFF */
        {"Big", "caf\xc3", MFA_ERR_UTF8},          /* truncated */
        {"Big\t", "alice", MFA_ERR_CONTROL_CHAR},
        {"Big", "al\x7fice", MFA_ERR_CONTROL_CHAR},
        {"Big", "al\xc2\x85ice", MFA_ERR_CONTROL_CHAR}, /* C1 NEL */
        {"Big", "", MFA_ERR_EMPTY},
        {"Big", " alice", MFA_ERR_LEADING_SPACE},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        u = (mfa_uri_t *)&u;
        ck_assert_msg(mfa_uri_new(&u, NULL, s, cases[i].issuer,
                                  cases[i].account) == cases[i].rc,
                      "case %zu", i);
        ck_assert_ptr_null(u);
    }
    memset(big, 'a', sizeof(big));
    big[MFA_ISSUER_MAX + 1] = '\0';
    ck_assert_int_eq(mfa_uri_new(&u, NULL, s, big, "a"), MFA_ERR_TOO_LONG);
    big[MFA_ISSUER_MAX] = '\0';
    ck_assert_int_eq(mfa_uri_new(&u, NULL, s, big, "a"), MFA_OK);
    mfa_uri_free(&u);
    memset(big, 'a', sizeof(big));
    big[MFA_ACCOUNT_MAX + 1] = '\0';
    ck_assert_int_eq(mfa_uri_new(&u, NULL, s, "I", big), MFA_ERR_TOO_LONG);
    big[MFA_ACCOUNT_MAX] = '\0';
    ck_assert_int_eq(mfa_uri_new(&u, NULL, s, "I", big), MFA_OK);
    mfa_uri_free(&u);
    /* a trailing space and inner spaces are fine */
    ck_assert_int_eq(mfa_uri_new(&u, NULL, s, " I ", "a b "), MFA_OK);
    mfa_uri_free(&u);
    ck_assert_int_eq(mfa_uri_new(&u, NULL, NULL, "I", "a"), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_uri_new(&u, NULL, s, "I", NULL), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_uri_new(NULL, NULL, s, "I", "a"), MFA_ERR_INVALID);
    mfa_secret_free(&s);
}
END_TEST

/* ---- text fields: invisible and reserved code points ------------------- */

/* Unicode 15.0's general category Cf, typed from its UnicodeData.txt. */
static const uint32_t cf_ranges[][2] = {
    {0x00ad, 0x00ad},   {0x0600, 0x0605},   {0x061c, 0x061c},
    {0x06dd, 0x06dd},   {0x070f, 0x070f},   {0x0890, 0x0891},
    {0x08e2, 0x08e2},   {0x180e, 0x180e},   {0x200b, 0x200f},
    {0x202a, 0x202e},   {0x2060, 0x2064},   {0x2066, 0x206f},
    {0xfeff, 0xfeff},   {0xfff9, 0xfffb},   {0x110bd, 0x110bd},
    {0x110cd, 0x110cd}, {0x13430, 0x1343f}, {0x1bca0, 0x1bca3},
    {0x1d173, 0x1d17a}, {0xe0001, 0xe0001}, {0xe0020, 0xe007f},
};
#define CF_RANGES (sizeof(cf_ranges) / sizeof(cf_ranges[0]))

static int
in_cf_table(uint32_t cp)
{
    for (size_t i = 0; i < CF_RANGES; i++)
        if (cp >= cf_ranges[i][0] && cp <= cf_ranges[i][1])
            return 1;
    return 0;
}

/* What a text field must say about "a" U+cp "b". */
static mfa_rc
expected_for(uint32_t cp)
{
    if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 ||
        cp == 0x2029)
        return MFA_ERR_CONTROL_CHAR;
    if (cp >= 0xd800 && cp <= 0xdfff)
        return MFA_ERR_UTF8;
    if (in_cf_table(cp))
        return MFA_ERR_FORMAT_CHAR;
    if ((cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) == 0xfffe)
        return MFA_ERR_NONCHARACTER;
    return MFA_OK;
}

static size_t
utf8_put(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* mfa_uri_new with U+cp inside the account, then inside the issuer. */
static void
check_code_point(const mfa_secret_t *s, uint32_t cp, mfa_rc want)
{
    char text[16];
    size_t n;
    mfa_uri_t *u = NULL;
    mfa_rc ra, ri;

    text[0] = 'a';
    n = 1 + utf8_put(cp, text + 1);
    text[n++] = 'b';
    text[n] = '\0';
    ra = mfa_uri_new(&u, NULL, s, "Issuer", text);
    mfa_uri_free(&u);
    ri = mfa_uri_new(&u, NULL, s, text, "alice");
    mfa_uri_free(&u);
    ck_assert_msg(ra == want, "U+%04" PRIX32 " in an account: %s, want %s", cp,
                  mfa_strerror_name(ra), mfa_strerror_name(want));
    ck_assert_msg(ri == want, "U+%04" PRIX32 " in an issuer: %s, want %s", cp,
                  mfa_strerror_name(ri), mfa_strerror_name(want));
}

START_TEST(text_invisible_chars)
{
    mfa_secret_t *s = rfc_secret();
    unsigned format = 0, nonchar = 0;

    /* every edge of every Cf range, and the code points just outside */
    for (size_t i = 0; i < CF_RANGES; i++) {
        uint32_t lo = cf_ranges[i][0], hi = cf_ranges[i][1];

        check_code_point(s, lo - 1, expected_for(lo - 1));
        check_code_point(s, lo, MFA_ERR_FORMAT_CHAR);
        check_code_point(s, hi, MFA_ERR_FORMAT_CHAR);
        check_code_point(s, hi + 1, expected_for(hi + 1));
        format += hi - lo + 1;
    }
    for (size_t i = 0; i < CF_RANGES; i++)
        for (uint32_t cp = cf_ranges[i][0]; cp <= cf_ranges[i][1]; cp++)
            check_code_point(s, cp, MFA_ERR_FORMAT_CHAR);
    ck_assert_uint_eq(format, 170); /* Unicode 15.0 has 170 Cf characters */
    /* the noncharacters and their neighbours */
    check_code_point(s, 0xfdcf, MFA_OK);
    check_code_point(s, 0xfdf0, MFA_OK);
    for (uint32_t cp = 0xfdd0; cp <= 0xfdef; cp++, nonchar++)
        check_code_point(s, cp, MFA_ERR_NONCHARACTER);
    for (uint32_t plane = 0; plane <= 0x10; plane++) {
        uint32_t base = plane << 16;

        check_code_point(s, base + 0xfffd, expected_for(base + 0xfffd));
        check_code_point(s, base + 0xfffe, MFA_ERR_NONCHARACTER);
        check_code_point(s, base + 0xffff, MFA_ERR_NONCHARACTER);
        nonchar += 2;
        if (plane < 0x10)
            check_code_point(s, base + 0x10000, MFA_OK);
    }
    ck_assert_uint_eq(nonchar, 66);
    /* separators count as line breaks; their neighbours are text */
    check_code_point(s, 0x2027, MFA_OK);
    check_code_point(s, 0x2028, MFA_ERR_CONTROL_CHAR);
    check_code_point(s, 0x2029, MFA_ERR_CONTROL_CHAR);
    check_code_point(s, 0x202a, MFA_ERR_FORMAT_CHAR);
    /* what stays accepted: letters, marks, emoji, variation selectors */
    check_code_point(s, 0x00e9, MFA_OK);  /* e acute */
    check_code_point(s, 0x0301, MFA_OK);  /* combining acute (Mn) */
    check_code_point(s, 0xfe0f, MFA_OK);  /* variation selector 16 (Mn) */
    check_code_point(s, 0x1f600, MFA_OK); /* emoji */
    check_code_point(s, 0x3000, MFA_OK);  /* ideographic space (Zs) */
    check_code_point(s, 0xfffd, MFA_OK);  /* replacement character */
    mfa_secret_free(&s);
}
END_TEST

/*
 * The table above against the system's Unicode database (Debian's
 * unicode-data package): every Cf character of the file is refused as one,
 * and every character of the table is Cf in the file.  A newer Unicode with
 * new format characters makes this fail, which is the point.
 */
START_TEST(text_cf_matches_unicode_data)
{
    static const char *const paths[] = {"/usr/share/unicode/UnicodeData.txt",
                                        "/usr/share/unicode-data/"
                                        "UnicodeData.txt"};
    FILE *f = NULL;
    char line[512];
    unsigned long first = 0;
    unsigned in_file = 0, table_found = 0;
    mfa_secret_t *s = rfc_secret();

    for (size_t i = 0; f == NULL && i < sizeof(paths) / sizeof(paths[0]); i++)
        f = fopen(paths[i], "r");
    if (f == NULL) {
        printf("text_cf_matches_unicode_data: no UnicodeData.txt "
               "(apt-get install unicode-data); table not cross-checked\n");
        mfa_secret_free(&s);
        return;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        char *f1 = strchr(line, ';'), *f2;
        unsigned long cp = strtoul(line, NULL, 16), lo, hi;

        if (f1 == NULL || (f2 = strchr(f1 + 1, ';')) == NULL)
            continue;
        if (strstr(f1, "First>;") != NULL) {
            first = cp;
            continue;
        }
        lo = strstr(f1, "Last>;") != NULL ? first : cp;
        hi = cp;
        for (unsigned long c = lo; c <= hi; c++) {
            int cf = strncmp(f2 + 1, "Cf;", 3) == 0;

            if (cf) {
                in_file++;
                check_code_point(s, (uint32_t)c, MFA_ERR_FORMAT_CHAR);
            }
            if (in_cf_table((uint32_t)c)) {
                ck_assert_msg(cf, "U+%04lX is in the table but not Cf", c);
                table_found++;
            }
        }
    }
    fclose(f);
    ck_assert_uint_eq(in_file, table_found);
    ck_assert_uint_gt(in_file, 100);
    mfa_secret_free(&s);
}
END_TEST

START_TEST(text_invisible_in_parsed_uri)
{
    static const struct {
        const char *text;
        mfa_rc rc;
    } cases[] = {
        {"otpauth://totp/Big:adm%E2%80%8Bin?secret=" RFC_B32,
         MFA_ERR_FORMAT_CHAR},
        {"otpauth://totp/Big%E2%80%AE:admin?secret=" RFC_B32,
         MFA_ERR_FORMAT_CHAR},
        {"otpauth://totp/admin?secret=" RFC_B32 "&issuer=%EF%BB%BFBig",
         MFA_ERR_FORMAT_CHAR},
        {"otpauth://totp/Big:a%E2%80%A8b?secret=" RFC_B32,
         MFA_ERR_CONTROL_CHAR},
        {"otpauth://totp/Big:a%EF%B7%90b?secret=" RFC_B32,
         MFA_ERR_NONCHARACTER},
        {"otpauth://totp/Big:a%F4%8F%BF%BFb?secret=" RFC_B32,
         MFA_ERR_NONCHARACTER},
        /* raw bytes too, not only percent-encoded ones */
        {"otpauth://totp/Big:adm\xe2\x80\x8bin?secret=" RFC_B32,
         MFA_ERR_FORMAT_CHAR},
    };
    mfa_uri_t *u = NULL;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mfa_rc rc = mfa_uri_parse(cases[i].text, &u, NULL);
        ck_assert_msg(rc == cases[i].rc, "%s: %s, want %s", cases[i].text,
                      mfa_strerror_name(rc), mfa_strerror_name(cases[i].rc));
        ck_assert_ptr_null(u);
    }
}
END_TEST

/* Parse text, expect MFA_OK with exactly these warnings. */
static mfa_uri_t *
parse_ok(const char *text, unsigned want_warn)
{
    mfa_uri_t *u = NULL;
    unsigned warn = 0xffff;
    mfa_rc rc = mfa_uri_parse(text, &u, &warn);

    ck_assert_msg(rc == MFA_OK, "%s: %s", text, mfa_strerror_name(rc));
    ck_assert_msg(warn == want_warn, "%s: warnings %#x, want %#x", text, warn,
                  want_warn);
    return u;
}

START_TEST(parse_real_world)
{
    mfa_uri_t *u;

    /* Google's key URI format example: a 10-byte secret */
    u = parse_ok(
        "otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXP"
        "&issuer=Example",
        MFA_URI_WARN_SHORT_SECRET);
    ck_assert_str_eq(mfa_uri_issuer(u), "Example");
    ck_assert_str_eq(mfa_uri_account(u), "alice@google.com");
    ck_assert_uint_eq(mfa_secret_len(mfa_uri_secret(u)), 10);
    ck_assert_int_eq(mfa_uri_type(u), MFA_TOTP);
    ck_assert_int_eq(mfa_uri_algorithm(u), MFA_SHA1);
    ck_assert_uint_eq(mfa_uri_digits(u), 6);
    ck_assert_uint_eq(mfa_uri_period(u), 30);
    ck_assert_ptr_null(mfa_uri_image(u));
    mfa_uri_free(&u);

    u = parse_ok("otpauth://totp/ACME%20Co:john.doe@email.com?secret="
                 "HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ&issuer=ACME%20Co"
                 "&algorithm=SHA1&digits=6&period=30",
                 0);
    ck_assert_str_eq(mfa_uri_issuer(u), "ACME Co");
    ck_assert_str_eq(mfa_uri_account(u), "john.doe@email.com");
    mfa_uri_free(&u);

    /* %3A separator, space after it (allowed by Google's format) */
    u = parse_ok("otpauth://totp/ACME%3A%20bob?secret=" RFC_B32 "&issuer=ACME",
                 MFA_URI_WARN_ENCODED_COLON);
    ck_assert_str_eq(mfa_uri_issuer(u), "ACME");
    ck_assert_str_eq(mfa_uri_account(u), "bob");
    mfa_uri_free(&u);
    u = parse_ok("otpauth://totp/ACME%3a  bob?secret=" RFC_B32 "&issuer=ACME",
                 MFA_URI_WARN_ENCODED_COLON);
    ck_assert_str_eq(mfa_uri_account(u), "bob");
    mfa_uri_free(&u);

    /* issuer from one side only */
    u = parse_ok("otpauth://totp/bob?secret=" RFC_B32 "&issuer=Foo%20Bar",
                 MFA_URI_WARN_ISSUER_PARAM_ONLY);
    ck_assert_str_eq(mfa_uri_issuer(u), "Foo Bar");
    ck_assert_str_eq(mfa_uri_account(u), "bob");
    mfa_uri_free(&u);
    u = parse_ok("otpauth://totp/Foo:bob?secret=" RFC_B32,
                 MFA_URI_WARN_ISSUER_PREFIX_ONLY);
    ck_assert_str_eq(mfa_uri_issuer(u), "Foo");
    mfa_uri_free(&u);
    u = parse_ok("otpauth://totp/bob?secret=" RFC_B32, 0);
    ck_assert_str_eq(mfa_uri_issuer(u), "");
    mfa_uri_free(&u);

    /* padded, lowercase secret; lowercase algorithm */
    u = parse_ok(
        "otpauth://totp/I:a?secret=gezdgnbvgy3tqojqgezdgnbvgy%3D%3D%3D%3D%3D%3D"
        "&issuer=I&algorithm=sha256",
        MFA_URI_WARN_PADDED_SECRET | MFA_URI_WARN_LOWERCASE_SECRET |
            MFA_URI_WARN_LOWERCASE_ALGORITHM);
    ck_assert_uint_eq(mfa_secret_len(mfa_uri_secret(u)), 16);
    ck_assert_mem_eq(mfa_secret_bytes(mfa_uri_secret(u)), "1234567890123456",
                     16);
    ck_assert_int_eq(mfa_uri_algorithm(u), MFA_SHA256);
    mfa_uri_free(&u);
    u = parse_ok("otpauth://totp/I:a?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY======"
                 "&issuer=I&algorithm=Sha512",
                 MFA_URI_WARN_PADDED_SECRET | MFA_URI_WARN_LOWERCASE_ALGORITHM);
    ck_assert_int_eq(mfa_uri_algorithm(u), MFA_SHA512);
    mfa_uri_free(&u);

    /* '+' is kept literally, as apps show it, with a warning */
    u = parse_ok("otpauth://totp/Big+Corp:al+ice?secret=" RFC_B32
                 "&issuer=Big+Corp",
                 MFA_URI_WARN_PLUS_SPACE);
    ck_assert_str_eq(mfa_uri_issuer(u), "Big+Corp");
    ck_assert_str_eq(mfa_uri_account(u), "al+ice");
    mfa_uri_free(&u);

    /* unknown parameters, a trailing '&', raw UTF-8 and spaces, case of
     * scheme and type, parameters in any order, a fragment */
    u = parse_ok(
        "OTPAUTH://TOTP/Caf\xc3\xa9 Z:z\xc3\xb6\x65?foo=bar&period=60&"
        "digits=8&algorithm=SHA512&issuer=Caf%C3%A9%20Z&color=&secret=" RFC_B32
        "&#frag",
        MFA_URI_WARN_UPPERCASE_SCHEME | MFA_URI_WARN_UPPERCASE_TYPE);
    ck_assert_str_eq(mfa_uri_issuer(u), "Caf\xc3\xa9 Z");
    ck_assert_str_eq(mfa_uri_account(u), "z\xc3\xb6\x65");
    ck_assert_uint_eq(mfa_uri_digits(u), 8);
    ck_assert_uint_eq(mfa_uri_period(u), 60);
    ck_assert_int_eq(mfa_uri_algorithm(u), MFA_SHA512);
    mfa_uri_free(&u);

    /* HOTP with its counter; a counter on a TOTP URI is ignored */
    u = parse_ok("otpauth://hotp/I:a?secret=" RFC_B32 "&issuer=I&counter=42",
                 0);
    ck_assert_int_eq(mfa_uri_type(u), MFA_HOTP);
    ck_assert_uint_eq(mfa_uri_counter(u), 42);
    mfa_uri_free(&u);
    u = parse_ok("otpauth://totp/I:a?secret=" RFC_B32 "&issuer=I&counter=x", 0);
    ck_assert_uint_eq(mfa_uri_counter(u), 0);
    mfa_uri_free(&u);

    u = parse_ok("otpauth://totp/I:a?secret=" RFC_B32 "&issuer=I&image="
                 "https%3A%2F%2Fexample.com%2Fa.png%3Fs%3D1",
                 0);
    ck_assert_str_eq(mfa_uri_image(u), "https://example.com/a.png?s=1");
    mfa_uri_free(&u);
    /* the warnings pointer may be NULL */
    ck_assert_int_eq(
        mfa_uri_parse("otpauth://totp/a?secret=" RFC_B32, &u, NULL), MFA_OK);
    mfa_uri_free(&u);
}
END_TEST

/* What pyotp and otpauth both read, each with its own warning. */
START_TEST(parse_wild)
{
    mfa_uri_t *u;

    /* Python's urlencode: '+' for a space in the query, %20 in the path */
    u = parse_ok("otpauth://totp/Ex%20Mail:alice?secret=" RFC_B32
                 "&issuer=Ex+Mail",
                 MFA_URI_WARN_PLUS_IN_QUERY);
    ck_assert_str_eq(mfa_uri_issuer(u), "Ex Mail");
    ck_assert_str_eq(mfa_uri_account(u), "alice");
    ck_assert_uint_eq(mfa_uri_warnings(u), MFA_URI_WARN_PLUS_IN_QUERY);
    mfa_uri_free(&u);
    /* without a prefix the parameter is read the same way; %2B is a '+' */
    u = parse_ok("otpauth://totp/alice?secret=" RFC_B32 "&issuer=Ex+Mail%2B1",
                 MFA_URI_WARN_PLUS_IN_QUERY | MFA_URI_WARN_ISSUER_PARAM_ONLY);
    ck_assert_str_eq(mfa_uri_issuer(u), "Ex Mail+1");
    mfa_uri_free(&u);
    /* '+' in the label stays a '+' (pyotp and otpauth keep it too) */
    u = parse_ok("otpauth://totp/Ex:al+ice?secret=" RFC_B32 "&issuer=Ex",
                 MFA_URI_WARN_PLUS_SPACE);
    ck_assert_str_eq(mfa_uri_account(u), "al+ice");
    mfa_uri_free(&u);

    /* an empty issuer= beside a prefix: the prefix */
    u = parse_ok("otpauth://totp/Ex:alice?secret=" RFC_B32 "&issuer=",
                 MFA_URI_WARN_EMPTY_ISSUER);
    ck_assert_str_eq(mfa_uri_issuer(u), "Ex");
    ck_assert_str_eq(mfa_uri_account(u), "alice");
    mfa_uri_free(&u);
    u = parse_ok("otpauth://totp/alice?issuer=&secret=" RFC_B32,
                 MFA_URI_WARN_EMPTY_ISSUER);
    ck_assert_str_eq(mfa_uri_issuer(u), "");
    mfa_uri_free(&u);

    /* image= with an https URL whose spaces were not encoded twice */
    u = parse_ok("otpauth://totp/Ex:alice?secret=" RFC_B32
                 "&issuer=Ex&image=https://example.com/my%20logo.png",
                 MFA_URI_WARN_IMAGE_SPACES);
    ck_assert_str_eq(mfa_uri_image(u), "https://example.com/my%20logo.png");
    mfa_uri_free(&u);
    u = parse_ok("otpauth://totp/Ex:alice?secret=" RFC_B32
                 "&issuer=Ex&image=https://example.com/logo.png?size=64",
                 0);
    ck_assert_str_eq(mfa_uri_image(u), "https://example.com/logo.png?size=64");
    mfa_uri_free(&u);
    /* an unusable image costs the image, never the key */
    static const char *const bad_images[] = {
        "http%3A%2F%2Fx.org%2Fa.png",
        "data:image/png;base64,AA",
        "https://",
        "https:///x.png",
        "https://x.org/%E2%80%8B.png", /* a format character */
        "https://x.org/%0A.png",
    };
    for (size_t i = 0; i < sizeof(bad_images) / sizeof(bad_images[0]); i++) {
        char text[512];

        snprintf(text, sizeof(text),
                 "otpauth://totp/Ex:alice?secret=" RFC_B32
                 "&issuer=Ex&image=%s",
                 bad_images[i]);
        u = parse_ok(text, MFA_URI_WARN_IMAGE_IGNORED);
        ck_assert_ptr_null(mfa_uri_image(u));
        ck_assert_str_eq(mfa_uri_account(u), "alice");
        mfa_uri_free(&u);
    }

    /* two colons: split at the first, the account keeps the rest */
    u = parse_ok("otpauth://totp/Ex:alice:work?secret=" RFC_B32 "&issuer=Ex",
                 MFA_URI_WARN_COLON);
    ck_assert_str_eq(mfa_uri_issuer(u), "Ex");
    ck_assert_str_eq(mfa_uri_account(u), "alice:work");
    mfa_uri_free(&u);
    u = parse_ok("otpauth://totp/Ex:alice%3Awork?secret=" RFC_B32 "&issuer=Ex",
                 MFA_URI_WARN_COLON);
    ck_assert_str_eq(mfa_uri_account(u), "alice:work");
    mfa_uri_free(&u);
    u = parse_ok("otpauth://totp/alice?secret=" RFC_B32 "&issuer=I%3AJ",
                 MFA_URI_WARN_COLON | MFA_URI_WARN_ISSUER_PARAM_ONLY);
    ck_assert_str_eq(mfa_uri_issuer(u), "I:J");
    mfa_uri_free(&u);

    /* uppercase scheme and type: read, each warned */
    u = parse_ok("OTPAUTH://TOTP/Ex:alice?secret=" RFC_B32 "&issuer=Ex",
                 MFA_URI_WARN_UPPERCASE_SCHEME | MFA_URI_WARN_UPPERCASE_TYPE);
    ck_assert_int_eq(mfa_uri_type(u), MFA_TOTP);
    mfa_uri_free(&u);
    u = parse_ok("OtpAuth://totp/Ex:alice?secret=" RFC_B32 "&issuer=Ex",
                 MFA_URI_WARN_UPPERCASE_SCHEME);
    mfa_uri_free(&u);
    u = parse_ok("otpauth://Hotp/Ex:alice?secret=" RFC_B32
                 "&issuer=Ex&counter=1",
                 MFA_URI_WARN_UPPERCASE_TYPE);
    ck_assert_int_eq(mfa_uri_type(u), MFA_HOTP);
    mfa_uri_free(&u);

    /* every warning bit has a sentence, and nothing else has one */
    for (unsigned bit = 1; bit != 0; bit <<= 1)
        ck_assert_msg((mfa_uri_warning_text(bit) != NULL) == (bit <= 0x4000u),
                      "bit %#x", bit);
    ck_assert_ptr_null(mfa_uri_warning_text(0));
    ck_assert_ptr_null(mfa_uri_warning_text(0x3));
    ck_assert_uint_eq(mfa_uri_warnings(NULL), 0);
}
END_TEST

/* A parsed label with a colon formats so that it reads back the same. */
START_TEST(format_parsed_colon)
{
    static const struct {
        const char *in, *out, *issuer, *account;
    } cases[] = {
        {"otpauth://totp/Ex:a:b?secret=" RFC_B32 "&issuer=Ex",
         "otpauth://totp/Ex:a%3Ab?secret=" RFC_B32 "&issuer=Ex", "Ex", "a:b"},
        {"otpauth://totp/a?secret=" RFC_B32 "&issuer=E%3Ax",
         "otpauth://totp/a?secret=" RFC_B32 "&issuer=E%3Ax", "E:x", "a"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mfa_uri_t *u = NULL, *v = NULL;
        char *text = NULL;
        unsigned w1 = 0, w2 = 0;

        ck_assert_int_eq(mfa_uri_parse(cases[i].in, &u, &w1), MFA_OK);
        ck_assert_uint_ne(w1 & MFA_URI_WARN_COLON, 0);
        ck_assert_int_eq(mfa_uri_format(u, 0, &text), MFA_OK);
        ck_assert_str_eq(text, cases[i].out);
        ck_assert_int_eq(mfa_uri_parse(text, &v, &w2), MFA_OK);
        ck_assert_str_eq(mfa_uri_issuer(v), cases[i].issuer);
        ck_assert_str_eq(mfa_uri_account(v), cases[i].account);
        ck_assert_uint_ne(w2 & MFA_URI_WARN_COLON, 0);
        mfa_string_free(&text);
        mfa_uri_free(&u);
        mfa_uri_free(&v);
    }
    /* a built URI carries no warnings, and still refuses a colon */
    {
        mfa_secret_t *s = rfc_secret();
        mfa_uri_t *u = NULL;

        ck_assert_int_eq(mfa_uri_new(&u, NULL, s, "Ex", "alice"), MFA_OK);
        ck_assert_uint_eq(mfa_uri_warnings(u), 0);
        mfa_uri_free(&u);
        ck_assert_int_eq(mfa_uri_new(&u, NULL, s, "Ex", "a:b"), MFA_ERR_COLON);
        mfa_secret_free(&s);
    }
}
END_TEST

START_TEST(parse_errors)
{
    static const struct {
        const char *text;
        mfa_rc rc;
    } cases[] = {
        {"http://totp/I:a?secret=" RFC_B32, MFA_ERR_URI_SCHEME},
        {"otpauth:/totp/I:a?secret=" RFC_B32, MFA_ERR_URI_SCHEME},
        {"otpauth//totp/I:a?secret=" RFC_B32, MFA_ERR_URI_SCHEME},
        {"", MFA_ERR_URI_SCHEME},
        {"otpauth://motp/I:a?secret=" RFC_B32, MFA_ERR_URI_TYPE},
        {"otpauth://totpx/I:a?secret=" RFC_B32, MFA_ERR_URI_TYPE},
        {"otpauth://steam/I:a?secret=" RFC_B32, MFA_ERR_URI_TYPE},
        {"otpauth://", MFA_ERR_URI_TYPE},
        {"otpauth://totp?secret=" RFC_B32, MFA_ERR_URI_LABEL},
        {"otpauth://totp/?secret=" RFC_B32, MFA_ERR_URI_LABEL},
        {"otpauth://totp/:a?secret=" RFC_B32, MFA_ERR_URI_LABEL},
        {"otpauth://totp/I:?secret=" RFC_B32, MFA_ERR_URI_LABEL},
        {"otpauth://totp/I:%20?secret=" RFC_B32, MFA_ERR_URI_LABEL},
        {"otpauth://totp/I:a", MFA_ERR_URI_SECRET},
        {"otpauth://totp/I:a?issuer=I", MFA_ERR_URI_SECRET},
        {"otpauth://totp/I:a?secret=&issuer=I", MFA_ERR_URI_SECRET},
        {"otpauth://totp/I:a?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ1",
         MFA_ERR_URI_SECRET},
        {"otpauth://totp/I:a?secret=GEZDGNBVGY3TQOJQGEZDGNBVG",
         MFA_ERR_URI_SECRET},
        {"otpauth://totp/I:a?secret=GEZDGNBVGY3TQOJQ=GEZDGNBVGY3TQOJQ",
         MFA_ERR_URI_SECRET},
        {"otpauth://totp/I:a?secret=GEZDGNBVGY3TQOI", MFA_ERR_SECRET_SHORT},
        {"otpauth://totp/I:a?secret=" RFC_B32 RFC_B32 RFC_B32 RFC_B32 "GE",
         MFA_ERR_SECRET_LONG},
        {"otpauth://totp/I:a?secret=" RFC_B32 "&digits=5", MFA_ERR_DIGITS},
        {"otpauth://totp/I:a?secret=" RFC_B32 "&digits=11", MFA_ERR_DIGITS},
        {"otpauth://totp/I:a?secret=" RFC_B32 "&digits=0", MFA_ERR_DIGITS},
        {"otpauth://totp/I:a?secret=" RFC_B32 "&digits=six", MFA_ERR_URI_PARAM},
        {"otpauth://totp/I:a?secret=" RFC_B32 "&digits=-6", MFA_ERR_URI_PARAM},
        {"otpauth://totp/I:a?secret=" RFC_B32 "&digits=", MFA_ERR_URI_PARAM},
        {"otpauth://totp/I:a?secret=" RFC_B32 "&period=0", MFA_ERR_PERIOD},
        {"otpauth://totp/I:a?secret=" RFC_B32 "&period=86401", MFA_ERR_PERIOD},
        {"otpauth://totp/I:a?secret=" RFC_B32 "&period=99999999999999999999999",
         MFA_ERR_URI_PARAM},
        {"otpauth://totp/I:a?secret=" RFC_B32 "&period=30s", MFA_ERR_URI_PARAM},
        {"otpauth://hotp/I:a?secret=" RFC_B32, MFA_ERR_URI_COUNTER},
        {"otpauth://hotp/I:a?secret=" RFC_B32 "&counter=", MFA_ERR_URI_COUNTER},
        {"otpauth://hotp/I:a?secret=" RFC_B32 "&counter=-1",
         MFA_ERR_URI_COUNTER},
        {"otpauth://hotp/I:a?secret=" RFC_B32 "&counter=18446744073709551616",
         MFA_ERR_URI_COUNTER},
        {"otpauth://totp/I:a?secret=" RFC_B32 "&secret=" RFC_B32,
         MFA_ERR_URI_PARAM},
        {"otpauth://totp/I:a?secret=" RFC_B32 "&issuer=I&issuer=I",
         MFA_ERR_URI_PARAM},
        {"otpauth://totp/I:a?secret=" RFC_B32 "&digits=6&digits=6",
         MFA_ERR_URI_PARAM},
        {"otpauth://hotp/I:a?secret=" RFC_B32 "&counter=1&counter=2",
         MFA_ERR_URI_PARAM},
        {"otpauth://totp/I:a?secret=" RFC_B32 "&issuer", MFA_ERR_URI_PARAM},
        {"otpauth://totp/I:a?secret=" RFC_B32 "&issuer=J", MFA_ERR_URI_ISSUER},
        /* '+' as a space, or kept: neither reading gives the prefix */
        {"otpauth://totp/Ex%20Mail:a?secret=" RFC_B32 "&issuer=Ex+Mail+",
         MFA_ERR_URI_ISSUER},
        {"otpauth://totp/Ex+Mail:a?secret=" RFC_B32 "&issuer=Ex%20Mail",
         MFA_ERR_URI_ISSUER},
        /* a colon in issuer= beside a prefix can never equal it */
        {"otpauth://totp/I:J:a?secret=" RFC_B32 "&issuer=I%3AJ",
         MFA_ERR_URI_ISSUER},
        {"otpauth://totp/I:a?secret=" RFC_B32 "&image=https://x/%zz",
         MFA_ERR_URI_ENCODING},
        {"otpauth://totp/I:a?secret=" RFC_B32 "&issuer=i", MFA_ERR_URI_ISSUER},
        {"otpauth://totp/I%20:a?secret=" RFC_B32 "&issuer=I",
         MFA_ERR_URI_ISSUER},
        {"otpauth://totp/I:a?secret=" RFC_B32 "&algorithm=MD5",
         MFA_ERR_ALGORITHM},
        {"otpauth://totp/I:a?secret=" RFC_B32 "&algorithm=SHA-1",
         MFA_ERR_ALGORITHM},
        {"otpauth://totp/I:a?secret=" RFC_B32 "&algorithm=SHA224",
         MFA_ERR_ALGORITHM},
        {"otpauth://totp/I:a?secret=" RFC_B32 "&algorithm=", MFA_ERR_ALGORITHM},
        {"otpauth://totp/I:a%zz?secret=" RFC_B32, MFA_ERR_URI_ENCODING},
        {"otpauth://totp/I:a%4?secret=" RFC_B32, MFA_ERR_URI_ENCODING},
        {"otpauth://totp/I:a%?secret=" RFC_B32, MFA_ERR_URI_ENCODING},
        {"otpauth://totp/a?secret=" RFC_B32 "&issuer=%G0",
         MFA_ERR_URI_ENCODING},
        {"otpauth://totp/I:a%C3%28?secret=" RFC_B32, MFA_ERR_UTF8},
        {"otpauth://totp/I:a%ED%A0%80?secret=" RFC_B32, MFA_ERR_UTF8},
        {"otpauth://totp/I:a\xff?secret=" RFC_B32, MFA_ERR_UTF8},
        {"otpauth://totp/I:a%0A?secret=" RFC_B32, MFA_ERR_CONTROL_CHAR},
        {"otpauth://totp/I:a%00?secret=" RFC_B32, MFA_ERR_CONTROL_CHAR},
        {"otpauth://totp/I:a\n?secret=" RFC_B32, MFA_ERR_CONTROL_CHAR},
        {"otpauth://totp/a?secret=" RFC_B32 "&issuer=%C2%9B",
         MFA_ERR_CONTROL_CHAR},
        {"otpauth://totp/%20a?secret=" RFC_B32, MFA_ERR_LEADING_SPACE},
    };
    mfa_uri_t *u;
    unsigned warn;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mfa_rc rc;

        u = (mfa_uri_t *)&warn;
        warn = 0xffff;
        rc = mfa_uri_parse(cases[i].text, &u, &warn);
        ck_assert_msg(rc == cases[i].rc, "%s: got %s, want %s", cases[i].text,
                      mfa_strerror_name(rc), mfa_strerror_name(cases[i].rc));
        ck_assert_ptr_null(u);
        ck_assert_uint_eq(warn, 0);
    }
    ck_assert_int_eq(mfa_uri_parse(NULL, &u, &warn), MFA_ERR_INVALID);
    ck_assert_int_eq(
        mfa_uri_parse("otpauth://totp/a?secret=" RFC_B32, NULL, &warn),
        MFA_ERR_INVALID);
}
END_TEST

START_TEST(parse_limits)
{
    char text[MFA_URI_MAX + 64];
    char field[3 * MFA_ACCOUNT_MAX + 8];
    mfa_uri_t *u = NULL;
    size_t n;

    /* a valid URI padded with an unknown parameter to exactly the limit */
    n = (size_t)snprintf(text, sizeof(text),
                         "otpauth://totp/I:a?secret=" RFC_B32 "&x=");
    memset(text + n, 'y', MFA_URI_MAX - n);
    text[MFA_URI_MAX] = '\0';
    ck_assert_int_eq(mfa_uri_parse(text, &u, NULL), MFA_OK);
    mfa_uri_free(&u);
    text[MFA_URI_MAX] = 'y';
    text[MFA_URI_MAX + 1] = '\0';
    ck_assert_int_eq(mfa_uri_parse(text, &u, NULL), MFA_ERR_URI_TOO_LONG);
    ck_assert_ptr_null(u);

    /* text fields: the limits are in decoded UTF-8 bytes */
    memset(field, 0, sizeof(field));
    for (size_t i = 0; i < MFA_ISSUER_MAX / 2; i++)
        memcpy(field + 6 * i, "%C3%A9", 6); /* é, 2 bytes */
    snprintf(text, sizeof(text), "otpauth://totp/%s:a?secret=" RFC_B32, field);
    ck_assert_int_eq(mfa_uri_parse(text, &u, NULL), MFA_OK);
    ck_assert_uint_eq(strlen(mfa_uri_issuer(u)), MFA_ISSUER_MAX);
    mfa_uri_free(&u);
    snprintf(text, sizeof(text), "otpauth://totp/%sx:a?secret=" RFC_B32, field);
    ck_assert_int_eq(mfa_uri_parse(text, &u, NULL), MFA_ERR_TOO_LONG);
    snprintf(text, sizeof(text),
             "otpauth://totp/a?secret=" RFC_B32 "&issuer=%sx", field);
    ck_assert_int_eq(mfa_uri_parse(text, &u, NULL), MFA_ERR_TOO_LONG);
    memset(field, 'b', MFA_ACCOUNT_MAX + 1);
    field[MFA_ACCOUNT_MAX + 1] = '\0';
    snprintf(text, sizeof(text), "otpauth://totp/I:%s?secret=" RFC_B32, field);
    ck_assert_int_eq(mfa_uri_parse(text, &u, NULL), MFA_ERR_TOO_LONG);
    field[MFA_ACCOUNT_MAX] = '\0';
    snprintf(text, sizeof(text), "otpauth://totp/I:%s?secret=" RFC_B32, field);
    ck_assert_int_eq(mfa_uri_parse(text, &u, NULL), MFA_OK);
    mfa_uri_free(&u);
}
END_TEST

START_TEST(to_otp_codes)
{
    mfa_uri_t *u = NULL;
    mfa_otp_t *o = NULL;
    char code[MFA_CODE_BUFSIZE];

    /* RFC 6238 appendix B, T = 59 */
    u = parse_ok("otpauth://totp/I:a?secret=" RFC_B32 "&issuer=I&digits=8", 0);
    ck_assert_int_eq(mfa_uri_to_otp(u, &o), MFA_OK);
    ck_assert_int_eq(mfa_otp_totp(o, 59, code, sizeof(code)), MFA_OK);
    ck_assert_str_eq(code, "94287082");
    mfa_otp_free(&o);
    mfa_uri_free(&u);
    u = parse_ok("otpauth://totp/I:a?secret=" RFC_B32_32
                 "&issuer=I&digits=8&algorithm=SHA256",
                 0);
    ck_assert_int_eq(mfa_uri_to_otp(u, &o), MFA_OK);
    ck_assert_int_eq(mfa_otp_totp(o, 59, code, sizeof(code)), MFA_OK);
    ck_assert_str_eq(code, "46119246");
    mfa_otp_free(&o);
    mfa_uri_free(&u);
    /* RFC 4226 appendix D, counter 5 */
    u = parse_ok("otpauth://hotp/I:a?secret=" RFC_B32 "&issuer=I&counter=5", 0);
    ck_assert_int_eq(mfa_uri_to_otp(u, &o), MFA_OK);
    ck_assert_int_eq(mfa_otp_type_get(o), MFA_HOTP);
    ck_assert_uint_eq(mfa_otp_counter(o), 5);
    ck_assert_int_eq(mfa_otp_hotp(o, 5, code, sizeof(code)), MFA_OK);
    ck_assert_str_eq(code, "254676");
    mfa_otp_free(&o);
    mfa_uri_free(&u);
    ck_assert_int_eq(mfa_uri_to_otp(NULL, &o), MFA_ERR_INVALID);
}
END_TEST

/* ---- round-trip property ------------------------------------------------ */

static uint64_t rng_state;

static uint32_t
rnd(uint32_t n)
{
    /* xorshift64*: reproducible from the printed seed */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 2685821657736338717ull) >> 32) % n;
}

static const char *const pieces[] = {
    "a",
    "Z",
    "0",
    " ",
    "&",
    "?",
    "#",
    "%",
    "+",
    "/",
    "=",
    "@",
    "\"",
    "'",
    "-",
    ".",
    "_",
    "~",
    "!",
    "*",
    "(",
    ")",
    ";",
    ",",
    "[",
    "]",
    "<",
    ">",
    "\\",
    "%20",
    "%3A",
    "\xc3\xa9",
    "\xc3\xbc",
    "\xc3\x9f",
    "\xe6\x97\xa5",
    "\xe6\x9c\xac",
    "\xd0\x96",
    "\xd7\x90",
    "\xf0\x9f\x98\x80",
    "\xf0\x9f\x94\x90",
    "\xe2\x82\xac",
    "\xe2\x80\x94", /* em dash (a BOM is refused: a format char) */
    "Acme",
    "example.com",
};

/* Random text of at most max bytes, no colon, no control character. */
static void
random_text(char *out, size_t max, int allow_empty, int no_leading_space)
{
    size_t len = 0, want = rnd(4) == 0 ? max : rnd((uint32_t)max + 1);

    out[0] = '\0';
    for (;;) {
        const char *p = pieces[rnd(sizeof(pieces) / sizeof(pieces[0]))];
        size_t pl = strlen(p);
        if (len + pl > want)
            break;
        if (len == 0 && no_leading_space && p[0] == ' ')
            continue;
        memcpy(out + len, p, pl + 1);
        len += pl;
    }
    if (len == 0 && !allow_empty)
        memcpy(out, "x", 2);
}

START_TEST(round_trip_property)
{
    const char *seed_env = getenv("MFA_TEST_SEED");
    uint64_t seed = seed_env ? strtoull(seed_env, NULL, 10) : 20240611u;
    int checked = 0;

    rng_state = seed | 1;
    for (int iter = 0; iter < 3000; iter++) {
        char issuer[MFA_ISSUER_MAX + 1], account[MFA_ACCOUNT_MAX + 1];
        char image[MFA_IMAGE_MAX + 1];
        static const mfa_algorithm algs[] = {MFA_SHA1, MFA_SHA256, MFA_SHA512};
        mfa_otp_type type = rnd(3) == 0 ? MFA_HOTP : MFA_TOTP;
        mfa_algorithm alg = rnd(2) ? MFA_SHA1 : algs[rnd(3)];
        unsigned digits = rnd(2) ? 6 : 6 + rnd(5);
        uint32_t period = rnd(2) ? 30 : 1 + rnd(MFA_PERIOD_MAX);
        size_t slen = rnd(3) ? 20 : 10 + rnd(55);
        uint64_t counter = ((uint64_t)rnd(UINT32_MAX) << 32) | rnd(UINT32_MAX);
        uint8_t key[MFA_SECRET_MAX];
        mfa_profile_t *p = NULL;
        mfa_secret_t *s = NULL;
        mfa_uri_t *u = NULL, *v = NULL;
        char *text = NULL, *text2 = NULL;
        unsigned warn = 0, flags = rnd(2) ? MFA_URI_EXPLICIT : 0;
        int with_image = rnd(4) == 0;
        mfa_rc rc;

        random_text(issuer, MFA_ISSUER_MAX, 1, 0);
        random_text(account, MFA_ACCOUNT_MAX, 0, 1);
        if (with_image) {
            snprintf(image, sizeof(image), "https://img.example/");
            random_text(image + 20, 120, 1, 0);
            for (char *c = image; *c; c++)
                if (*c == ' ')
                    *c = '_'; /* spaces are not allowed in the URL */
        }
        for (size_t i = 0; i < slen; i++)
            key[i] = (uint8_t)rnd(256);
        ck_assert_int_eq(
            mfa_profile_custom_new(&p, type, alg, digits, period, 20), MFA_OK);
        ck_assert_int_eq(mfa_secret_import(&s, key, slen, MFA_SECRET_LEGACY),
                         MFA_OK);
        ck_assert_int_eq(mfa_uri_new(&u, p, s, issuer, account), MFA_OK);
        if (type == MFA_HOTP)
            ck_assert_int_eq(mfa_uri_set_counter(u, counter), MFA_OK);
        if (with_image)
            ck_assert_int_eq(mfa_uri_set_image(u, image), MFA_OK);
        ck_assert_int_eq(mfa_uri_format(u, flags, &text), MFA_OK);
        /* what apps need: ASCII only, no raw space or '+', one ':' at most
         * in the label */
        for (const char *c = text; *c; c++)
            ck_assert_msg(*c > 0x20 && *c < 0x7f && *c != '+', "%s", text);

        rc = mfa_uri_parse(text, &v, &warn);
        ck_assert_msg(rc == MFA_OK, "seed %" PRIu64 " iter %d: %s: %s", seed,
                      iter, text, mfa_strerror_name(rc));
        ck_assert_uint_eq(warn, slen < 16 ? MFA_URI_WARN_SHORT_SECRET : 0);
        ck_assert_str_eq(mfa_uri_issuer(v), issuer);
        ck_assert_str_eq(mfa_uri_account(v), account);
        ck_assert_int_eq(mfa_uri_type(v), type);
        ck_assert_int_eq(mfa_uri_algorithm(v), alg);
        ck_assert_uint_eq(mfa_uri_digits(v), digits);
        if (type == MFA_TOTP)
            ck_assert_uint_eq(mfa_uri_period(v), period);
        else
            ck_assert_uint_eq(mfa_uri_counter(v), counter);
        ck_assert_uint_eq(mfa_secret_len(mfa_uri_secret(v)), slen);
        ck_assert_mem_eq(mfa_secret_bytes(mfa_uri_secret(v)), key, slen);
        if (with_image)
            ck_assert_str_eq(mfa_uri_image(v), image);
        else
            ck_assert_ptr_null(mfa_uri_image(v));
        /* and formatting is a fixed point */
        ck_assert_int_eq(mfa_uri_format(v, flags, &text2), MFA_OK);
        ck_assert_str_eq(text, text2);
        checked++;

        mfa_string_free(&text);
        mfa_string_free(&text2);
        mfa_uri_free(&u);
        mfa_uri_free(&v);
        mfa_secret_free(&s);
        mfa_profile_free(&p);
    }
    ck_assert_int_eq(checked, 3000);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("uri");
    TCase *tc = tcase_create("uri");

    tcase_add_test(tc, format_exact);
    tcase_add_test(tc, format_counter_image);
    tcase_add_test(tc, new_errors);
    tcase_add_test(tc, text_invisible_chars);
    tcase_add_test(tc, text_cf_matches_unicode_data);
    tcase_add_test(tc, text_invisible_in_parsed_uri);
    tcase_add_test(tc, parse_real_world);
    tcase_add_test(tc, parse_wild);
    tcase_add_test(tc, format_parsed_colon);
    tcase_add_test(tc, parse_errors);
    tcase_add_test(tc, parse_limits);
    tcase_add_test(tc, to_otp_codes);
    tcase_add_test(tc, round_trip_property);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
