/*
 * otpauth:// key URIs: mfa_uri_parse on any text.
 *
 * Invariants: a parsed URI formats again (both forms), and parsing that
 * text gives the same type, algorithm, digits, period, counter, issuer,
 * account, image and secret; the lint runs on whatever was accepted; the
 * URI's otp object can generate a code; a refused text leaves *out NULL.
 */
#include <mfa/uri.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
same_str(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

static void
check_same(const mfa_uri_t *a, const mfa_uri_t *b)
{
    const mfa_secret_t *sa = mfa_uri_secret(a), *sb = mfa_uri_secret(b);

    FUZZ_ASSERT(mfa_uri_type(a) == mfa_uri_type(b));
    FUZZ_ASSERT(mfa_uri_algorithm(a) == mfa_uri_algorithm(b));
    FUZZ_ASSERT(mfa_uri_digits(a) == mfa_uri_digits(b));
    FUZZ_ASSERT(mfa_uri_type(a) == MFA_HOTP ||
                mfa_uri_period(a) == mfa_uri_period(b));
    FUZZ_ASSERT(mfa_uri_type(a) == MFA_TOTP ||
                mfa_uri_counter(a) == mfa_uri_counter(b));
    FUZZ_ASSERT(same_str(mfa_uri_issuer(a), mfa_uri_issuer(b)));
    FUZZ_ASSERT(same_str(mfa_uri_account(a), mfa_uri_account(b)));
    FUZZ_ASSERT(same_str(mfa_uri_image(a), mfa_uri_image(b)));
    FUZZ_ASSERT(sa != NULL && sb != NULL);
    FUZZ_ASSERT(mfa_secret_len(sa) == mfa_secret_len(sb));
    FUZZ_ASSERT(memcmp(mfa_secret_bytes(sa), mfa_secret_bytes(sb),
                       mfa_secret_len(sa)) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mfa_lint_entry lint[MFA_APP_COUNT];
    mfa_uri_t *u = NULL, *again = NULL;
    mfa_otp_t *otp = NULL;
    char code[MFA_CODE_BUFSIZE];
    unsigned warn = 0;
    long mark;
    char *text;
    mfa_rc rc;

    text = fuzz_cstr(data, size);
    mark = fuzz_guarded_mark();
    rc = mfa_uri_parse(text, &u, &warn);
    if (rc != MFA_OK) {
        FUZZ_ASSERT(u == NULL);
        FUZZ_ASSERT(rc < 0);
    } else {
        FUZZ_ASSERT(u != NULL);
        for (unsigned flags = 0; flags <= MFA_URI_EXPLICIT; flags++) {
            char *out = NULL;
            mfa_rc rc2;

            FUZZ_ASSERT(mfa_uri_format(u, flags, &out) == MFA_OK);
            rc2 = mfa_uri_parse(out, &again, NULL);
            if (rc2 != MFA_OK) {
                fprintf(stderr, "formatted URI does not parse (%s): %s\n",
                        mfa_strerror_name(rc2), out);
                abort();
            }
            check_same(u, again);
            mfa_uri_free(&again);
            mfa_string_free(&out);
        }
        FUZZ_ASSERT(mfa_lint_uri(u, lint) == MFA_OK);
        FUZZ_ASSERT(mfa_uri_to_otp(u, &otp) == MFA_OK);
        if (mfa_otp_type_get(otp) == MFA_TOTP)
            FUZZ_ASSERT(mfa_otp_totp(otp, 1111111109, code, sizeof(code)) ==
                        MFA_OK);
        else
            FUZZ_ASSERT(mfa_otp_hotp(otp, mfa_otp_counter(otp), code,
                                     sizeof(code)) == MFA_OK);
        mfa_otp_free(&otp);
        mfa_uri_free(&u);
    }
    fuzz_guarded_check(mark);
    free(text);
    return 0;
}
