/*
 * mfa-demo: a fresh secret, its otpauth:// URI and the current code.
 * The smallest program that uses libmfa; the control-panel example is the
 * full demo.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <mfa.h>
#include <sodium.h>

int
main(void)
{
    uint8_t key[20];
    char b32[64], code[MFA_CODE_BUFSIZE];
    mfa_otp_t *otp = NULL;
    mfa_rc rc;

    if ((rc = mfa_init()) != MFA_OK) {
        fprintf(stderr, "mfa-demo: %s\n", mfa_strerror(rc));
        return 1;
    }
    randombytes_buf(key, sizeof(key));
    if ((rc = mfa_base32_encode(key, sizeof(key), b32, sizeof(b32))) !=
            MFA_OK ||
        (rc = mfa_otp_new(&otp, key, sizeof(key))) != MFA_OK ||
        (rc = mfa_otp_totp(otp, (int64_t)time(NULL), code, sizeof(code))) !=
            MFA_OK) {
        fprintf(stderr, "mfa-demo: %s\n", mfa_strerror(rc));
        mfa_otp_free(&otp);
        return 1;
    }
    printf("libmfa %s\n", mfa_version());
    printf("secret: %s\n", b32);
    printf("uri:    otpauth://totp/libmfa%%20demo:demo%%40example.com"
           "?secret=%s&issuer=libmfa%%20demo\n",
           b32);
    printf("code:   %s\n", code);
    mfa_otp_free(&otp);
    sodium_memzero(key, sizeof(key));
    sodium_memzero(b32, sizeof(b32));
    return 0;
}
