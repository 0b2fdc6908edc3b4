/* Key ring internals shared with the recovery and service layers. */
#ifndef MFA_KEYRING_INT_H
#define MFA_KEYRING_INT_H

#include <stddef.h>
#include <stdint.h>

#include <mfa/secret.h>

/*
 * What a subkey is for.  Each purpose has its own crypto_kdf context, so a
 * ring key never serves two uses directly and no two purposes share a key.
 */
enum mfa_int_key_purpose {
    MFA_INT_KEY_SEAL = 0,   /* context "mfaseal1": sealing secrets */
    MFA_INT_KEY_BACKUP = 1, /* context "mfabkup1": hashing backup codes */
    MFA_INT_KEY_OOB = 2,    /* context "mfaoob_1": hashing out-of-band codes */
};
#define MFA_INT_KEY_PURPOSES 3

/*
 * The subkey of key id (0: the current key) for purpose, as a pointer into
 * the ring's guarded memory, valid until the ring is next modified or
 * freed.  *used_id (may be NULL) gets the id actually used.
 * MFA_ERR_KEYRING_EMPTY when id is 0 and there is no current key,
 * MFA_ERR_KEY_UNKNOWN when the ring has no key id.
 */
mfa_rc mfa_int_keyring_subkey_ref(const mfa_keyring_t *kr, uint32_t id,
                                  enum mfa_int_key_purpose purpose,
                                  const uint8_t **key, uint32_t *used_id);

/*
 * The same subkey copied into out; the caller wipes it (sodium_memzero)
 * after use.
 */
mfa_rc mfa_int_keyring_subkey(const mfa_keyring_t *kr, uint32_t id,
                              enum mfa_int_key_purpose purpose,
                              uint8_t out[MFA_KEYRING_KEYBYTES],
                              uint32_t *used_id);

/* The ids of the ring in ascending order, up to max of them; the count. */
/*
 * Open a sealed blob into plain[size] (guarded memory the caller owns and
 * wipes); *plainlen gets the secret's length.  Same errors as mfa_unseal,
 * plus MFA_ERR_BUFFER.
 */
mfa_rc mfa_int_unseal_into(const mfa_keyring_t *kr, const char *account,
                           const char *factor_id, const uint8_t *blob,
                           size_t len, uint8_t *plain, size_t size,
                           size_t *plainlen);

size_t mfa_int_keyring_ids(const mfa_keyring_t *kr, uint32_t *ids, size_t max);

#endif /* MFA_KEYRING_INT_H */
