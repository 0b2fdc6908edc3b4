/*
 * The version macros of <mfa/version.h> (generated), the linked library's
 * mfa_version() and the project version meson was given
 * (MFA_TEST_PROJECT_VERSION, passed by tests/meson.build) are the same.
 * The expected numbers are parsed here from meson's string, independently
 * of the header's macros.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include <mfa.h>

#ifndef MFA_TEST_PROJECT_VERSION
#error "tests/meson.build passes the project version"
#endif

static void
parse(const char *v, unsigned *maj, unsigned *min, unsigned *pat)
{
    char tail = 0;
    int n = sscanf(v, "%u.%u.%u%c", maj, min, pat, &tail);

    ck_assert_msg(n == 3, "project version \"%s\" is not N.N.N", v);
}

START_TEST(header_matches_meson)
{
    unsigned maj, min, pat;

    parse(MFA_TEST_PROJECT_VERSION, &maj, &min, &pat);
    ck_assert_str_eq(MFA_VERSION_STRING, MFA_TEST_PROJECT_VERSION);
    ck_assert_uint_eq(MFA_VERSION_MAJOR, maj);
    ck_assert_uint_eq(MFA_VERSION_MINOR, min);
    ck_assert_uint_eq(MFA_VERSION_PATCH, pat);
    ck_assert_uint_eq(MFA_VERSION_NUMBER, (maj << 16) | (min << 8) | pat);
}
END_TEST

START_TEST(library_matches_meson)
{
    unsigned maj, min, pat;

    parse(MFA_TEST_PROJECT_VERSION, &maj, &min, &pat);
    ck_assert_str_eq(mfa_version(), MFA_TEST_PROJECT_VERSION);
    ck_assert_uint_eq(mfa_version_number(), (maj << 16) | (min << 8) | pat);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("version");
    TCase *tc = tcase_create("version");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, header_matches_meson);
    tcase_add_test(tc, library_matches_meson);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
