/*
 * Key ring files: mfa_keyring_load_buffer on any bytes.
 *
 * Invariants: a loaded ring's current key (if any) is one of its keys and
 * seals and opens a secret; a refused file gives MFA_ERR_KEYRING_FORMAT and
 * leaves *out NULL; nothing leaks, guarded or not.
 */
#include <mfa/secret.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t plain[16] = "0123456789abcdef";
    uint8_t blob[MFA_SEALED_MAX];
    mfa_keyring_t *kr = NULL;
    mfa_secret_t *s = NULL, *back = NULL;
    size_t len = 0;
    uint32_t cur;
    long mark;
    mfa_rc rc;

    mark = fuzz_guarded_mark();
    /* not NUL-terminated: the buffer form takes a length */
    rc = mfa_keyring_load_buffer(&kr, (const char *)data, size);
    if (rc != MFA_OK) {
        FUZZ_ASSERT(kr == NULL);
        FUZZ_ASSERT(rc == MFA_ERR_KEYRING_FORMAT || rc == MFA_ERR_NOMEM);
    } else {
        cur = mfa_keyring_current(kr);
        FUZZ_ASSERT(cur == 0 || mfa_keyring_has(kr, cur));
        if (cur != 0) {
            FUZZ_ASSERT(mfa_secret_import(&s, plain, sizeof(plain), 0) ==
                        MFA_OK);
            FUZZ_ASSERT(mfa_seal(kr, "a", "0123456789abcdef", s, blob,
                                 sizeof(blob), &len) == MFA_OK);
            FUZZ_ASSERT(mfa_unseal(kr, "a", "0123456789abcdef", blob, len,
                                   &back) == MFA_OK);
            FUZZ_ASSERT(memcmp(mfa_secret_bytes(back), plain, 16) == 0);
            mfa_secret_free(&back);
            mfa_secret_free(&s);
        }
        mfa_keyring_free(&kr);
    }
    fuzz_guarded_check(mark);
    return 0;
}
