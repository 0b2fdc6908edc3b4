/*
 * Base32 reading: mfa_base32_decode and mfa_secret_from_base32 on any text.
 *
 * Invariants beyond "no crash, no leak": a successful decode gives at most
 * mfa_base32_decoded_maxlen bytes, and encoding them then decoding again
 * gives the same bytes; mfa_secret_from_base32 agrees with the decoder on
 * what is valid base32; a too-small buffer gives MFA_ERR_BUFFER.
 */
#include <mfa/secret.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t out[MFA_BASE32_INPUT_MAX], again[MFA_BASE32_INPUT_MAX];
    char enc[MFA_BASE32_INPUT_MAX * 2];
    size_t outlen = 0, againlen = 0, outsize;
    mfa_secret_t *s = NULL;
    unsigned flags;
    long mark;
    char *text;
    mfa_rc rc, rc2, rc3;

    if (size < 1)
        return 0;
    /* the first byte picks the output size and the secret flags */
    outsize = data[0] & 0x80 ? (size_t)(data[0] & 0x7f) : sizeof(out);
    flags = data[0] & 0x40 ? MFA_SECRET_LEGACY : 0;
    text = fuzz_cstr(data + 1, size - 1);
    mark = fuzz_guarded_mark();

    rc = mfa_base32_decode(text, out, outsize, &outlen);
    if (rc == MFA_OK) {
        FUZZ_ASSERT(outlen <= outsize);
        FUZZ_ASSERT(outlen <= mfa_base32_decoded_maxlen(strlen(text)));
        FUZZ_ASSERT(mfa_base32_encode(out, outlen, enc, sizeof(enc)) == MFA_OK);
        FUZZ_ASSERT(strlen(enc) == mfa_base32_encoded_len(outlen));
        FUZZ_ASSERT(mfa_base32_decode(enc, again, sizeof(again), &againlen) ==
                    MFA_OK);
        FUZZ_ASSERT(againlen == outlen && memcmp(again, out, outlen) == 0);
    } else {
        FUZZ_ASSERT(outlen == 0);
        FUZZ_ASSERT(rc == MFA_ERR_BASE32_CHAR || rc == MFA_ERR_BASE32_LENGTH ||
                    rc == MFA_ERR_BUFFER);
    }

    /* with room for any result, the decoder's verdict is final */
    rc2 = mfa_base32_decode(text, again, sizeof(again), &againlen);
    FUZZ_ASSERT(rc2 != MFA_ERR_BUFFER);
    if (rc == MFA_OK)
        FUZZ_ASSERT(rc2 == MFA_OK);

    rc3 = mfa_secret_from_base32(&s, text, flags);
    if (rc3 == MFA_OK) {
        char *b32 = NULL;

        FUZZ_ASSERT(rc2 == MFA_OK);
        FUZZ_ASSERT(mfa_secret_len(s) == againlen);
        FUZZ_ASSERT(memcmp(mfa_secret_bytes(s), again, againlen) == 0);
        FUZZ_ASSERT(mfa_secret_base32(s, &b32) == MFA_OK);
        mfa_string_free(&b32);
        FUZZ_ASSERT(mfa_secret_grouped(s, &b32) == MFA_OK);
        mfa_string_free(&b32);
    } else {
        FUZZ_ASSERT(s == NULL);
        if (rc2 == MFA_OK)
            FUZZ_ASSERT(rc3 == MFA_ERR_SECRET_SHORT ||
                        rc3 == MFA_ERR_SECRET_LONG);
    }
    mfa_secret_free(&s);
    fuzz_guarded_check(mark);
    free(text);
    return 0;
}
