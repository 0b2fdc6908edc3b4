/*
 * libmfa: recovery codes.
 *
 * Backup codes: 12 Crockford base32 characters (60 bits) shown as
 * XXXX-XXXX-XXXX; stored only as keyed BLAKE2b hashes under a subkey of the
 * key ring used for nothing else.
 *
 * Out-of-band codes: uniformly random numeric codes for a backup phone
 * number or e-mail address, bound to an account and a purpose, stored only
 * as a keyed hash, with an expiry and a number of attempts.
 */
#ifndef MFA_BACKUP_H
#define MFA_BACKUP_H

#include <mfa/secret.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MFA_BACKUP_CHARS 12   /* canonical characters, 60 bits */
#define MFA_BACKUP_DISPLAY 14 /* XXXX-XXXX-XXXX */
#define MFA_BACKUP_BUFSIZE 15 /* display form and its NUL */
#define MFA_BACKUP_HASHBYTES 32
#define MFA_BACKUP_COUNT_DEFAULT 10
#define MFA_BACKUP_COUNT_MAX 32
/* Scratch codes imported from google-authenticator-libpam: 8 digits. */
#define MFA_BACKUP_SCRATCH_CHARS 8

MFA_API size_t mfa_backup_hashbytes(void);
MFA_API size_t mfa_backup_bufsize(void);

/*
 * n fresh codes (1..MFA_BACKUP_COUNT_MAX; 0 means the default), distinct,
 * in display form.  *codes is an array of n strings: free it with
 * mfa_backup_codes_free, which wipes them.
 */
MFA_API mfa_rc mfa_backup_codes_generate(size_t n,
                                         char ***codes) MFA_WARN_UNUSED;
MFA_API void mfa_backup_codes_free(char ***codes, size_t n);

/*
 * Normalise a typed code: case-insensitive, spaces and hyphens ignored,
 * O->0, I and L->1; exactly 12 characters of the alphabet after that.
 * out[MFA_BACKUP_CHARS + 1] gets the canonical form.  Also exactly 8 ASCII
 * digits (spaces and hyphens ignored, nothing folded): the form of a
 * scratch code imported by mfa_factor_import(3), whose canonical form is
 * those 8 digits.  MFA_ERR_BACKUP_FORMAT otherwise.
 */
MFA_API mfa_rc mfa_backup_normalize(
    const char *typed, char out[MFA_BACKUP_CHARS + 1]) MFA_WARN_UNUSED;

/*
 * The stored form of a typed code: keyed BLAKE2b-256 of its canonical form
 * (12 or, for an imported scratch code, 8 bytes) under the backup subkey of
 * key key_id (0: the current key).
 */
MFA_API mfa_rc
mfa_backup_hash(const mfa_keyring_t *kr, uint32_t key_id, const char *typed,
                uint8_t hash[MFA_BACKUP_HASHBYTES]) MFA_WARN_UNUSED;

/*
 * Compare hash with every entry of set[0..n) in constant time (no early
 * exit); MFA_OK with *index of the match, or MFA_ERR_CODE_WRONG.
 */
MFA_API mfa_rc mfa_backup_match(const uint8_t hash[MFA_BACKUP_HASHBYTES],
                                const uint8_t (*set)[MFA_BACKUP_HASHBYTES],
                                size_t n, size_t *index) MFA_WARN_UNUSED;

/* ---- out-of-band codes ------------------------------------------------- */

#define MFA_OOB_DIGITS_DEFAULT 6
#define MFA_OOB_TTL_DEFAULT 600 /* seconds */
#define MFA_OOB_ATTEMPTS_DEFAULT 5
#define MFA_OOB_PURPOSE_MAX 32

/*
 * A challenge as stored: no code, only its keyed hash.  Plain data so that
 * stores can keep it; purpose is a short ASCII word ("sms", "email").
 */
typedef struct mfa_oob_challenge {
    uint8_t hash[MFA_BACKUP_HASHBYTES];
    uint32_t key_id;
    char purpose[MFA_OOB_PURPOSE_MAX + 1];
    int64_t created;
    int64_t expires;
    int32_t attempts_left;
} mfa_oob_challenge;

/*
 * Start a challenge: a uniformly random code of `digits` (6..8) digits
 * written with its NUL to code[size], and *c filled with its hash bound to
 * account and purpose, expiry now + ttl, `attempts` tries (0 means the
 * defaults for ttl and attempts).
 */
MFA_API mfa_rc mfa_oob_challenge_new(const mfa_keyring_t *kr,
                                     const char *account, const char *purpose,
                                     unsigned digits, int64_t now, int64_t ttl,
                                     int32_t attempts, mfa_oob_challenge *c,
                                     char *code, size_t size) MFA_WARN_UNUSED;

/*
 * Check a typed code: MFA_ERR_EXPIRED when now >= expires,
 * MFA_ERR_ATTEMPTS when none are left, otherwise one attempt is used
 * (attempts_left decremented) and the code compared in constant time:
 * MFA_OK or MFA_ERR_CODE_WRONG (MFA_ERR_CODE_FORMAT for non-digits).
 * Spending a matched challenge exactly once is the store's job.
 */
MFA_API mfa_rc mfa_oob_challenge_check(const mfa_keyring_t *kr,
                                       const char *account,
                                       mfa_oob_challenge *c, const char *code,
                                       int64_t now) MFA_WARN_UNUSED;

#ifdef __cplusplus
}
#endif

#endif /* MFA_BACKUP_H */
