/*
 * libmfa: base32, secrets, the key ring and sealed secrets.
 *
 * Base32 is RFC 4648: written uppercase without padding; read tolerantly
 * (lowercase, spaces, hyphens and trailing '=' accepted) and in constant time
 * with respect to the secret's characters.
 *
 * An mfa_secret_t holds secret bytes in guarded memory (sodium_malloc: guard
 * pages, locked, excluded from core dumps) and wipes them when freed.
 */
#ifndef MFA_SECRET_H
#define MFA_SECRET_H

#include <mfa/err.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- base32 ------------------------------------------------------------ */

/* Characters of the unpadded encoding of n bytes (without the NUL). */
MFA_API size_t mfa_base32_encoded_len(size_t n);
/* Bytes that decoding a string of n characters can give at most. */
MFA_API size_t mfa_base32_decoded_maxlen(size_t n);
/* Longest text mfa_base32_decode reads, separators included. */
#define MFA_BASE32_INPUT_MAX 256

/*
 * Encode in[0..inlen) as uppercase base32 without padding, with a NUL, into
 * out[outsize]; outsize >= mfa_base32_encoded_len(inlen) + 1.
 */
MFA_API mfa_rc mfa_base32_encode(const uint8_t *in, size_t inlen, char *out,
                                 size_t outsize) MFA_WARN_UNUSED;

/*
 * Decode a NUL-terminated base32 string.  Accepts upper- and lowercase,
 * spaces and hyphens anywhere, and a trailing run of '=' padding.  Leftover
 * bits of the last character are ignored.  Errors: MFA_ERR_BASE32_CHAR,
 * MFA_ERR_BASE32_LENGTH (1, 3 or 6 characters mod 8, misplaced '=', empty,
 * or over MFA_BASE32_INPUT_MAX), MFA_ERR_BUFFER.  *outlen gets the byte count.
 * On error out[] holds nothing of the input.
 */
MFA_API mfa_rc mfa_base32_decode(const char *in, uint8_t *out, size_t outsize,
                                 size_t *outlen) MFA_WARN_UNUSED;
/*
 * The same for a key typed by a person (the manual-entry form): also reads
 * '0' as 'O' and '1' as 'I', as Google Authenticator's "enter a setup key"
 * screen does (and nothing else: '8' stays invalid).  Constant time like
 * mfa_base32_decode.  Key URIs are read with mfa_base32_decode: no app maps
 * digits in a scanned key.
 */
MFA_API mfa_rc mfa_base32_decode_typed(const char *in, uint8_t *out,
                                       size_t outsize,
                                       size_t *outlen) MFA_WARN_UNUSED;

/* ---- secrets ----------------------------------------------------------- */

#define MFA_SECRET_DEFAULT 20    /* bytes: 32 base32 characters exactly */
#define MFA_SECRET_MIN 16        /* generated or imported without LEGACY */
#define MFA_SECRET_LEGACY_MIN 10 /* google-authenticator-libpam's size */
#define MFA_SECRET_MAX 64

/* mfa_secret_import flags */
#define MFA_SECRET_LEGACY 0x1u /* accept 10..15 bytes (an existing factor) */

MFA_API size_t mfa_secret_default_bytes(void);
MFA_API size_t mfa_secret_min_bytes(void);
MFA_API size_t mfa_secret_max_bytes(void);

typedef struct mfa_secret mfa_secret_t;

/* A new random secret of nbytes (0 means MFA_SECRET_DEFAULT; 16..64). */
MFA_API mfa_rc mfa_secret_new(mfa_secret_t **out,
                              size_t nbytes) MFA_WARN_UNUSED;
/* Copy existing secret bytes; under 16 bytes only with MFA_SECRET_LEGACY. */
MFA_API mfa_rc mfa_secret_import(mfa_secret_t **out, const uint8_t *bytes,
                                 size_t n, unsigned flags) MFA_WARN_UNUSED;
/* Read a base32 secret, in any form mfa_base32_decode accepts. */
MFA_API mfa_rc mfa_secret_from_base32(mfa_secret_t **out, const char *b32,
                                      unsigned flags) MFA_WARN_UNUSED;
/* Wipe and free *s and set it to NULL; NULL is fine. */
MFA_API void mfa_secret_free(mfa_secret_t **s);

MFA_API const uint8_t *mfa_secret_bytes(const mfa_secret_t *s);
MFA_API size_t mfa_secret_len(const mfa_secret_t *s);

/* Uppercase unpadded base32; free *out with mfa_string_free. */
MFA_API mfa_rc mfa_secret_base32(const mfa_secret_t *s,
                                 char **out) MFA_WARN_UNUSED;
/*
 * The manual-entry form: uppercase base32, groups of four separated by
 * single spaces, no padding ("JBSW Y3DP EHPK 3PXP ...").  mfa_secret_from_
 * base32 reads it back.  Free *out with mfa_string_free.
 */
MFA_API mfa_rc mfa_secret_grouped(const mfa_secret_t *s,
                                  char **out) MFA_WARN_UNUSED;

/* ---- key ring ---------------------------------------------------------- */

#define MFA_KEYRING_KEYBYTES 32
MFA_API size_t mfa_keyring_keybytes(void);

typedef struct mfa_keyring mfa_keyring_t;

/* An empty key ring. */
MFA_API mfa_rc mfa_keyring_new(mfa_keyring_t **out) MFA_WARN_UNUSED;
/* Wipe and free *kr and set it to NULL; NULL is fine. */
MFA_API void mfa_keyring_free(mfa_keyring_t **kr);

/*
 * Add a 32-byte key with id (> 0).  With current != 0 it becomes the key for
 * new seals; otherwise it only opens.  MFA_ERR_KEY_EXISTS for a known id.
 */
MFA_API mfa_rc mfa_keyring_add(mfa_keyring_t *kr, uint32_t id,
                               const uint8_t key[MFA_KEYRING_KEYBYTES],
                               int current) MFA_WARN_UNUSED;
/* Add a fresh random key with the next free id and make it current. */
MFA_API mfa_rc mfa_keyring_generate(mfa_keyring_t *kr,
                                    uint32_t *id) MFA_WARN_UNUSED;
/* The current key's id, 0 when there is none. */
MFA_API uint32_t mfa_keyring_current(const mfa_keyring_t *kr);
/* Number of keys. */
MFA_API size_t mfa_keyring_count(const mfa_keyring_t *kr);
/* Whether the ring holds key id. */
MFA_API int mfa_keyring_has(const mfa_keyring_t *kr, uint32_t id);

/*
 * Load a key ring file (format: docs/keyring.md), trusted the way sshd's
 * StrictModes trusts authorized_keys.  Symbolic links are followed; the
 * file and every directory passed on the way (the links' own included) are
 * checked.  Refused with
 *   MFA_ERR_KEYRING_OWNER     the file or a directory is owned by a user
 *                             other than the effective uid and root;
 *   MFA_ERR_KEYRING_WRITABLE  the file or a directory is writable by group
 *                             or others (a sticky directory such as /tmp is
 *                             allowed above the key ring's own directory,
 *                             never as that directory);
 *   MFA_ERR_KEYRING_PERMS     the file is readable by group or others, or
 *                             is not a regular file;
 * MFA_ERR_KEYRING_FORMAT when malformed, MFA_ERR_IO when missing or
 * unreadable.
 */
MFA_API mfa_rc mfa_keyring_load(mfa_keyring_t **out,
                                const char *path) MFA_WARN_UNUSED;
/*
 * The same, and on a refusal or an I/O error one line for a person in
 * why[whysize] (may be NULL): the path at fault and the reason, e.g. "/srv/mfa:
 * the key ring's directory is writable by group or others (mode 0775)".  256
 * bytes plus the path's length is always enough; longer text is cut.  Empty on
 * success.
 */
MFA_API mfa_rc mfa_keyring_load_why(mfa_keyring_t **out, const char *path,
                                    char *why, size_t whysize) MFA_WARN_UNUSED;
/* Parse the same format from memory (no permission check). */
MFA_API mfa_rc mfa_keyring_load_buffer(mfa_keyring_t **out, const char *text,
                                       size_t len) MFA_WARN_UNUSED;
/* Write the ring to path with mode 0600, atomically (temp file + rename). */
MFA_API mfa_rc mfa_keyring_save(const mfa_keyring_t *kr,
                                const char *path) MFA_WARN_UNUSED;
/*
 * Create a new key ring file holding one fresh current key; refuses to
 * overwrite an existing file (MFA_ERR_IO).
 */
MFA_API mfa_rc mfa_keyring_create_file(const char *path) MFA_WARN_UNUSED;

/* ---- sealed secrets ---------------------------------------------------- */

/*
 * Sealed format, version 1: 0x01, key id (4 bytes big-endian), 24-byte
 * nonce, XChaCha20-Poly1305 ciphertext and 16-byte tag.  The associated data
 * binds the version, key id, account and factor id, so a blob copied to
 * another row does not open.  The sealing key is a crypto_kdf subkey of the
 * ring key, used for nothing else.
 */
#define MFA_SEALED_OVERHEAD (1 + 4 + 24 + 16)
#define MFA_SEALED_MAX (MFA_SEALED_OVERHEAD + MFA_SECRET_MAX)
MFA_API size_t mfa_sealed_max(void);

/* Seal s under the current key into out[outsize]; *outlen gets its size. */
MFA_API mfa_rc mfa_seal(const mfa_keyring_t *kr, const char *account,
                        const char *factor_id, const mfa_secret_t *s,
                        uint8_t *out, size_t outsize,
                        size_t *outlen) MFA_WARN_UNUSED;
/*
 * Open a sealed blob into a new secret.  MFA_ERR_SEALED_FORMAT,
 * MFA_ERR_KEY_UNKNOWN, MFA_ERR_SEALED_AUTH on refusal.
 */
MFA_API mfa_rc mfa_unseal(const mfa_keyring_t *kr, const char *account,
                          const char *factor_id, const uint8_t *blob,
                          size_t len, mfa_secret_t **out) MFA_WARN_UNUSED;
/* The key id a blob names, without opening it. */
MFA_API mfa_rc mfa_sealed_key_id(const uint8_t *blob, size_t len,
                                 uint32_t *id) MFA_WARN_UNUSED;
/* Open with whichever key it names, seal again with the current key. */
MFA_API mfa_rc mfa_reseal(const mfa_keyring_t *kr, const char *account,
                          const char *factor_id, const uint8_t *blob,
                          size_t len, uint8_t *out, size_t outsize,
                          size_t *outlen) MFA_WARN_UNUSED;

#ifdef __cplusplus
}
#endif

#endif /* MFA_SECRET_H */
