/*
 * Sealed secrets: mfa_sealed_key_id, mfa_unseal and mfa_reseal on any blob.
 *
 * The first input byte picks the mode: raw (the rest is the blob) or edit
 * (the rest is (position, xor) pairs applied to a blob sealed at start-up,
 * so that mutations reach the authentication step; optionally truncated by
 * up to 4 bytes or extended by up to 4 bytes of the input itself), and the
 * row the blob is opened for.  Every byte handed to the library is one the
 * harness wrote: the genuine blob or the fuzzer's input.
 *
 * Invariants: a blob opens only when it is byte for byte the genuinely
 * sealed one and is opened for the row it was sealed for, and then holds
 * exactly the secret sealed (any other blob, mutated, truncated or
 * extended, must be refused); mfa_sealed_key_id and mfa_unseal agree on
 * what is well-formed; a refused blob allocates nothing.
 */
#include <mfa/secret.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static mfa_keyring_t *ring;
static uint8_t sealed[MFA_SEALED_MAX];
static size_t sealed_len;
static const uint8_t plain[20] = "12345678901234567890";

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    uint8_t key[MFA_KEYRING_KEYBYTES];
    mfa_secret_t *s = NULL;

    (void)argc;
    (void)argv;
    if (mfa_keyring_new(&ring) != MFA_OK)
        abort();
    /* two keys: 1 only opens, 2 is current */
    for (uint32_t id = 1; id <= 2; id++) {
        memset(key, (int)(0x10 * id), sizeof(key));
        if (mfa_keyring_add(ring, id, key, id == 2) != MFA_OK)
            abort();
    }
    if (mfa_secret_import(&s, plain, sizeof(plain), 0) != MFA_OK ||
        mfa_seal(ring, "alice", "0123456789abcdef", s, sealed, sizeof(sealed),
                 &sealed_len) != MFA_OK)
        abort();
    mfa_secret_free(&s);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *accounts[2] = {"alice", "bob"};
    static const char *ids[2] = {"0123456789abcdef", "fedcba9876543210"};
    uint8_t blob[MFA_SEALED_MAX * 2], out[MFA_SEALED_MAX];
    const char *account, *id;
    mfa_secret_t *s = NULL;
    size_t len, outlen = 0;
    uint32_t key_id = 0;
    long mark;
    int genuine, right_row;
    mfa_rc rk, ru, rr;

    if (size < 1)
        return 0;
    account = accounts[(data[0] >> 1) & 1];
    id = ids[(data[0] >> 2) & 1];
    if (data[0] & 1) {
        memcpy(blob, sealed, sealed_len);
        len = sealed_len;
        for (size_t i = 1; i + 1 < size; i += 2)
            blob[data[i] % sealed_len] ^= data[i + 1];
        if ((data[0] & 8) && size >= 2) {
            /* the last byte truncates by 1..4 or appends 1..4 bytes, and
             * appended bytes come from the input, never from the stack */
            unsigned t = data[size - 1] % 9;

            if (t < 4) {
                len -= 4 - t;
            } else if (t > 4) {
                size_t add = t - 4, avail = size - 2;

                if (add > avail)
                    add = avail;
                memcpy(blob + len, data + 1, add);
                len += add;
            }
        }
    } else {
        len = size - 1 < sizeof(blob) ? size - 1 : sizeof(blob);
        memcpy(blob, data + 1, len);
    }
    mark = fuzz_guarded_mark();

    rk = mfa_sealed_key_id(blob, len, &key_id);
    ru = mfa_unseal(ring, account, id, blob, len, &s);
    if (rk == MFA_ERR_SEALED_FORMAT)
        FUZZ_ASSERT(ru == MFA_ERR_SEALED_FORMAT);
    if (rk == MFA_OK && !mfa_keyring_has(ring, key_id))
        FUZZ_ASSERT(ru == MFA_ERR_KEY_UNKNOWN);
    genuine = len == sealed_len && memcmp(blob, sealed, sealed_len) == 0;
    right_row =
        strcmp(account, "alice") == 0 && strcmp(id, "0123456789abcdef") == 0;
    /* a blob that is not the sealed one, by a single bit or byte, never
     * opens; the sealed one always opens for its own row */
    if (ru == MFA_OK)
        FUZZ_ASSERT(genuine);
    if (genuine && right_row)
        FUZZ_ASSERT(ru == MFA_OK);
    if (ru == MFA_OK) {
        FUZZ_ASSERT(strcmp(account, "alice") == 0 &&
                    strcmp(id, "0123456789abcdef") == 0);
        FUZZ_ASSERT(mfa_secret_len(s) == sizeof(plain));
        FUZZ_ASSERT(memcmp(mfa_secret_bytes(s), plain, sizeof(plain)) == 0);
    } else {
        FUZZ_ASSERT(s == NULL);
        FUZZ_ASSERT(ru == MFA_ERR_SEALED_FORMAT || ru == MFA_ERR_KEY_UNKNOWN ||
                    ru == MFA_ERR_SEALED_AUTH);
    }
    mfa_secret_free(&s);

    rr = mfa_reseal(ring, account, id, blob, len, out, sizeof(out), &outlen);
    FUZZ_ASSERT(rr == ru);
    if (rr == MFA_OK) {
        FUZZ_ASSERT(mfa_unseal(ring, account, id, out, outlen, &s) == MFA_OK);
        FUZZ_ASSERT(memcmp(mfa_secret_bytes(s), plain, sizeof(plain)) == 0);
        mfa_secret_free(&s);
    }
    fuzz_guarded_check(mark);
    return 0;
}
