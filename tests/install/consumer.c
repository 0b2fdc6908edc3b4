/* A program outside the tree, built against the installed libmfa with
 * `pkg-config --cflags --libs libmfa`: RFC 6238's first SHA-1 row. */
#include <stdio.h>
#include <string.h>

#include <mfa.h>

int
main(void)
{
    const char *seed = "12345678901234567890";
    char code[MFA_CODE_BUFSIZE];
    mfa_otp_t *otp = NULL;
    int ok;

    if (mfa_init() != MFA_OK ||
        mfa_otp_new(&otp, (const uint8_t *)seed, strlen(seed)) != MFA_OK ||
        mfa_otp_set_digits(otp, 8) != MFA_OK ||
        mfa_otp_totp(otp, 59, code, sizeof(code)) != MFA_OK)
        return 1;
    ok = strcmp(code, "94287082") == 0 &&
         strcmp(mfa_version(), MFA_VERSION_STRING_HEADER) == 0;
    printf("%s %s\n", mfa_version(), code);
    mfa_otp_free(&otp);
    return ok ? 0 : 1;
}
