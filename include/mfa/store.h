/*
 * libmfa: stores.
 *
 * A store is a table of atomic operations (mfa_store_ops) over the data of
 * DESIGN.md: factors, backup codes, throttle state and out-of-band
 * challenges.  Backends: memory, SQLite (the embedded default), PostgreSQL.
 * A third party writes a backend by filling an mfa_store_ops and passing it
 * to mfa_store_new; tests/store_conformance.c is the suite it must pass.
 *
 * Rules every backend follows:
 * - Each operation is atomic: it happens whole or not at all, also against
 *   other processes and servers sharing the data.
 * - Failures of the engine are MFA_ERR_STORE (or MFA_ERR_BUSY,
 *   MFA_ERR_READONLY, MFA_ERR_CORRUPT, MFA_ERR_SCHEMA), never success.
 * - Records are plain structs of fixed size; strings are NUL-terminated
 *   UTF-8 within the sizes below; times are Unix seconds, 0 meaning "never".
 */
#ifndef MFA_STORE_H
#define MFA_STORE_H

#include <mfa/backup.h>
#include <mfa/otp.h>
#include <mfa/secret.h>
#include <mfa/uri.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MFA_FACTOR_ID_LEN 16 /* lowercase hex of 8 random bytes */
#define MFA_LABEL_MAX 64     /* device name, bytes of UTF-8 */
#define MFA_SCHEMA_VERSION 1 /* schema this library writes */

typedef enum mfa_factor_status {
    MFA_FACTOR_PENDING = 0, /* enrolled, waiting for the first code */
    MFA_FACTOR_ACTIVE = 1,
} mfa_factor_status;

typedef struct mfa_factor_rec {
    char id[MFA_FACTOR_ID_LEN + 1];
    char account[MFA_ACCOUNT_MAX + 1];
    char label[MFA_LABEL_MAX + 1];
    mfa_otp_type type;
    mfa_algorithm algorithm;
    uint32_t digits;
    uint32_t period;
    int64_t t0;
    /*
     * Replay state.  TOTP: the last accepted time step.  HOTP: the last
     * accepted counter.  MFA_STEP_NONE (-1) before the first acceptance;
     * an HOTP factor expects counter last_step + 1 (its start counter is
     * stored as start - 1).
     */
    int64_t last_step;
    int32_t drift; /* offset in steps of the last accepted TOTP code */
    mfa_factor_status status;
    int64_t created;
    int64_t confirmed;
    int64_t last_used;
    uint8_t sealed[MFA_SEALED_MAX]; /* mfa_seal output, never plaintext */
    uint32_t sealed_len;
} mfa_factor_rec;

typedef struct mfa_backup_rec {
    uint8_t hash[MFA_BACKUP_HASHBYTES];
    uint32_t key_id;
} mfa_backup_rec;

/* Throttling policy (see docs/throttling.md for the arithmetic). */
typedef struct mfa_throttle_policy {
    uint32_t free_attempts; /* failures allowed before any delay */
    uint32_t base_delay;    /* seconds after the first counted failure */
    uint32_t max_delay;     /* cap, seconds */
} mfa_throttle_policy;

typedef struct mfa_throttle_state {
    uint32_t failures;    /* attempts since the last success */
    int64_t locked_until; /* no attempt is checked before this time */
} mfa_throttle_state;

/*
 * Delay after `failures` counted failures: 0 while failures <=
 * free_attempts, then base_delay * 2^(failures - free_attempts - 1), capped
 * at max_delay.  Backends use it so that every store throttles alike.
 */
MFA_API uint32_t mfa_throttle_delay(const mfa_throttle_policy *p,
                                    uint32_t failures);

typedef mfa_rc (*mfa_factor_cb)(const mfa_factor_rec *f, void *arg);

/*
 * The operations of a backend.  `impl` is the backend's own handle.  Unless
 * said otherwise they return MFA_OK, MFA_ERR_NOT_FOUND or a store error.
 */
typedef struct mfa_store_ops {
    unsigned abi; /* MFA_STORE_ABI */
    const char *name;

    void (*close)(void *impl);
    /* Create or upgrade the schema to MFA_SCHEMA_VERSION; idempotent.
     * MFA_ERR_SCHEMA when the stored schema is newer. */
    mfa_rc (*migrate)(void *impl);
    /* The stored schema version, 0 when none. */
    mfa_rc (*schema_version)(void *impl, int *version);

    /* Insert; MFA_ERR_EXISTS when the id is taken. */
    mfa_rc (*factor_create)(void *impl, const mfa_factor_rec *f);
    mfa_rc (*factor_get)(void *impl, const char *account, const char *id,
                         mfa_factor_rec *out);
    /* Every factor of the account (any status), oldest first; stops with
     * the callback's error if it returns one. */
    mfa_rc (*factor_list)(void *impl, const char *account, mfa_factor_cb cb,
                          void *arg);
    /* Every factor of every account, for key rotation. */
    mfa_rc (*factor_each)(void *impl, mfa_factor_cb cb, void *arg);
    /* Pending -> active, with its first accepted step and drift, if it is
     * still pending and was created at or after created_after.
     * MFA_ERR_STATE if it is active already; MFA_ERR_EXPIRED if too old. */
    mfa_rc (*factor_activate)(void *impl, const char *account, const char *id,
                              int64_t step, int32_t drift,
                              int64_t created_after, int64_t now);
    mfa_rc (*factor_rename)(void *impl, const char *account, const char *id,
                            const char *label);
    mfa_rc (*factor_remove)(void *impl, const char *account, const char *id);
    /* Compare-and-set of the replay state: set last_step = step, drift,
     * last_used = now where the factor is active and last_step < step.
     * MFA_ERR_REPLAYED when last_step >= step (someone was first). */
    mfa_rc (*factor_advance)(void *impl, const char *account, const char *id,
                             int64_t step, int32_t drift, int64_t now);
    /* Replace the sealed secret if it still equals old (rotation). */
    mfa_rc (*factor_reseal)(void *impl, const char *account, const char *id,
                            const uint8_t *old, size_t oldlen,
                            const uint8_t *sealed, size_t len);
    /* Delete pending factors created before `before`; *n gets the count. */
    mfa_rc (*factor_expire)(void *impl, int64_t before, size_t *n);

    /* Count one attempt and read the throttle state in one atomic step:
     * if now < locked_until: failures += 1, locked_until unchanged, and
     * MFA_ERR_THROTTLED; otherwise failures += 1, locked_until = now +
     * mfa_throttle_delay(p, failures), and MFA_OK (the attempt may be
     * checked).  *out gets the state after the update. */
    mfa_rc (*throttle_hit)(void *impl, const char *account, int64_t now,
                           const mfa_throttle_policy *p,
                           mfa_throttle_state *out);
    /* After a success: failures = 0, locked_until = 0. */
    mfa_rc (*throttle_reset)(void *impl, const char *account);
    mfa_rc (*throttle_get)(void *impl, const char *account,
                           mfa_throttle_state *out);

    /* Replace the account's backup codes with n new hashes, in one
     * transaction. */
    mfa_rc (*backup_replace)(void *impl, const char *account,
                             const mfa_backup_rec *codes, size_t n,
                             int64_t now);
    /* The unused codes, at most max; *n gets the count. */
    mfa_rc (*backup_list)(void *impl, const char *account, mfa_backup_rec *out,
                          size_t max, size_t *n);
    /* Mark one unused code used (used = now); MFA_ERR_NOT_FOUND when it is
     * not there or already used (someone was first). */
    mfa_rc (*backup_spend)(void *impl, const char *account,
                           const uint8_t hash[MFA_BACKUP_HASHBYTES],
                           int64_t now);

    /* Store a challenge, replacing the account's one for that purpose. */
    mfa_rc (*oob_put)(void *impl, const char *account,
                      const mfa_oob_challenge *c);
    /* Use one attempt of the account's challenge for purpose in one atomic
     * step: NOT_FOUND if none; MFA_ERR_EXPIRED if now >= expires;
     * MFA_ERR_ATTEMPTS if none left; otherwise attempts_left -= 1 and *out
     * gets the challenge as it was before the decrement. */
    mfa_rc (*oob_take)(void *impl, const char *account, const char *purpose,
                       int64_t now, mfa_oob_challenge *out);
    /* Delete the challenge if its hash still equals hash: exactly one
     * caller gets MFA_OK, the others MFA_ERR_NOT_FOUND. */
    mfa_rc (*oob_spend)(void *impl, const char *account, const char *purpose,
                        const uint8_t hash[MFA_BACKUP_HASHBYTES]);

    /* Delete everything of the account (factors, codes, throttle,
     * challenges) in one transaction. */
    mfa_rc (*account_reset)(void *impl, const char *account);
} mfa_store_ops;

#define MFA_STORE_ABI 1

typedef struct mfa_store mfa_store_t;

/* Wrap a backend.  ops must outlive the store; close(impl) runs on free. */
MFA_API mfa_rc mfa_store_new(mfa_store_t **out, const mfa_store_ops *ops,
                             void *impl) MFA_WARN_UNUSED;
/* Close and free; NULL is fine. */
MFA_API void mfa_store_free(mfa_store_t **s);

/* A thread-safe store in this process's memory. */
MFA_API mfa_rc mfa_store_memory_new(mfa_store_t **out) MFA_WARN_UNUSED;
/*
 * A SQLite database file (created when missing), in WAL mode with a busy
 * timeout; safe for several threads and processes.  The schema is migrated
 * on open.  MFA_ERR_UNSUPPORTED when built without SQLite.
 */
MFA_API mfa_rc mfa_store_sqlite_open(mfa_store_t **out,
                                     const char *path) MFA_WARN_UNUSED;
/*
 * A PostgreSQL database by libpq connection string, in schema `schema`
 * (NULL: "mfa").  The schema is migrated on open.  MFA_ERR_UNSUPPORTED when
 * built without libpq.
 */
MFA_API mfa_rc mfa_store_postgres_open(mfa_store_t **out, const char *conninfo,
                                       const char *schema) MFA_WARN_UNUSED;
/* "memory:", "sqlite:PATH" or "postgres:CONNINFO". */
MFA_API mfa_rc mfa_store_open(mfa_store_t **out,
                              const char *spec) MFA_WARN_UNUSED;

MFA_API const char *mfa_store_name(const mfa_store_t *s);
MFA_API mfa_rc mfa_store_migrate(mfa_store_t *s) MFA_WARN_UNUSED;
MFA_API mfa_rc mfa_store_schema_version(mfa_store_t *s,
                                        int *version) MFA_WARN_UNUSED;

/*
 * Thin wrappers over the operations, with argument checks (NULL, string
 * lengths, UTF-8, record sanity) done once here so that backends receive
 * only well-formed input.  Same semantics as the ops above.
 */
MFA_API mfa_rc mfa_store_factor_create(mfa_store_t *s,
                                       const mfa_factor_rec *f) MFA_WARN_UNUSED;
MFA_API mfa_rc mfa_store_factor_get(mfa_store_t *s, const char *account,
                                    const char *id,
                                    mfa_factor_rec *out) MFA_WARN_UNUSED;
MFA_API mfa_rc mfa_store_factor_list(mfa_store_t *s, const char *account,
                                     mfa_factor_cb cb,
                                     void *arg) MFA_WARN_UNUSED;
MFA_API mfa_rc mfa_store_factor_each(mfa_store_t *s, mfa_factor_cb cb,
                                     void *arg) MFA_WARN_UNUSED;
MFA_API mfa_rc mfa_store_factor_activate(mfa_store_t *s, const char *account,
                                         const char *id, int64_t step,
                                         int32_t drift, int64_t created_after,
                                         int64_t now) MFA_WARN_UNUSED;
MFA_API mfa_rc mfa_store_factor_rename(mfa_store_t *s, const char *account,
                                       const char *id,
                                       const char *label) MFA_WARN_UNUSED;
MFA_API mfa_rc mfa_store_factor_remove(mfa_store_t *s, const char *account,
                                       const char *id) MFA_WARN_UNUSED;
MFA_API mfa_rc mfa_store_factor_advance(mfa_store_t *s, const char *account,
                                        const char *id, int64_t step,
                                        int32_t drift,
                                        int64_t now) MFA_WARN_UNUSED;
MFA_API mfa_rc mfa_store_factor_reseal(mfa_store_t *s, const char *account,
                                       const char *id, const uint8_t *old,
                                       size_t oldlen, const uint8_t *sealed,
                                       size_t len) MFA_WARN_UNUSED;
MFA_API mfa_rc mfa_store_factor_expire(mfa_store_t *s, int64_t before,
                                       size_t *n) MFA_WARN_UNUSED;
MFA_API mfa_rc mfa_store_throttle_hit(mfa_store_t *s, const char *account,
                                      int64_t now, const mfa_throttle_policy *p,
                                      mfa_throttle_state *out) MFA_WARN_UNUSED;
MFA_API mfa_rc mfa_store_throttle_reset(mfa_store_t *s,
                                        const char *account) MFA_WARN_UNUSED;
MFA_API mfa_rc mfa_store_throttle_get(mfa_store_t *s, const char *account,
                                      mfa_throttle_state *out) MFA_WARN_UNUSED;
MFA_API mfa_rc mfa_store_backup_replace(mfa_store_t *s, const char *account,
                                        const mfa_backup_rec *codes, size_t n,
                                        int64_t now) MFA_WARN_UNUSED;
MFA_API mfa_rc mfa_store_backup_list(mfa_store_t *s, const char *account,
                                     mfa_backup_rec *out, size_t max,
                                     size_t *n) MFA_WARN_UNUSED;
MFA_API mfa_rc mfa_store_backup_spend(mfa_store_t *s, const char *account,
                                      const uint8_t hash[MFA_BACKUP_HASHBYTES],
                                      int64_t now) MFA_WARN_UNUSED;
MFA_API mfa_rc mfa_store_oob_put(mfa_store_t *s, const char *account,
                                 const mfa_oob_challenge *c) MFA_WARN_UNUSED;
MFA_API mfa_rc mfa_store_oob_take(mfa_store_t *s, const char *account,
                                  const char *purpose, int64_t now,
                                  mfa_oob_challenge *out) MFA_WARN_UNUSED;
MFA_API mfa_rc
mfa_store_oob_spend(mfa_store_t *s, const char *account, const char *purpose,
                    const uint8_t hash[MFA_BACKUP_HASHBYTES]) MFA_WARN_UNUSED;
MFA_API mfa_rc mfa_store_account_reset(mfa_store_t *s,
                                       const char *account) MFA_WARN_UNUSED;

#ifdef __cplusplus
}
#endif

#endif /* MFA_STORE_H */
