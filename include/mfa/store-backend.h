/*
 * libmfa: writing a store backend.
 *
 * A backend gives libmfa transactions and plain row access over the tables
 * of docs/stores.md; every rule (throttle arithmetic, replay, state
 * transitions, expiry, limits) lives above it, in the service layer, once
 * for all backends.  Applications never include this header: they open
 * stores through <mfa/store.h>.  mfa_store_backend(3) is the manual;
 * tests/store_conformance.c is the suite a backend must pass.
 *
 * The transaction contract:
 * - begin(impl, account, mode, &txn) starts a transaction scoped to one
 *   account.  Two write transactions on the same account never overlap:
 *   the second waits (up to the backend's timeout, then MFA_ERR_BUSY) until
 *   the first has committed or rolled back.  Write transactions on
 *   different accounts may run in parallel when the engine allows it
 *   (PostgreSQL does, SQLite serialises them).  account NULL begins a
 *   store-wide transaction (maintenance: expiry, key rotation scans), which
 *   may only call the operations marked "store-wide".
 * - In a transaction begun with an account, every row operation names that
 *   same account (the library guarantees it), and sees its own writes.
 * - MFA_TXN_READ transactions only read; they may see a snapshot and take
 *   no write lock.  MFA_TXN_WRITE transactions take the account's lock
 *   before their first read, so a read-decide-write sequence cannot be
 *   interleaved with another writer of the account.
 * - commit(txn) makes every write durable (as far as the backend's
 *   configured durability goes) and atomic: all of them or none.  It
 *   returns MFA_OK only when the commit happened; on any error the
 *   transaction is rolled back.  rollback(txn) undoes every write.  Either
 *   call ends the transaction and releases txn; exactly one of them is
 *   called for every successful begin.
 * - A write transaction that wrote nothing may commit without a durable
 *   write (SQLite and PostgreSQL both skip the log flush then).
 * - Failures of the engine are MFA_ERR_STORE, MFA_ERR_BUSY,
 *   MFA_ERR_READONLY, MFA_ERR_CORRUPT, MFA_ERR_NOMEM or MFA_ERR_SCHEMA,
 *   never MFA_OK; after one, the library rolls the transaction back.
 *   Stored data that does not decode into a record (a value out of the
 *   ranges below) is MFA_ERR_CORRUPT, never a record.
 * - Operations not found return MFA_ERR_NOT_FOUND; inserts of an existing
 *   key return MFA_ERR_EXISTS; neither changes anything.
 *
 * Concurrency: one mfa_store_t may be used by any number of threads at
 * once; the backend serialises what its engine cannot do in parallel.  A
 * transaction handle is used by one thread at a time (the one that began
 * it), and a thread holds at most one transaction: the library never nests
 * them, and a backend may time out (MFA_ERR_BUSY) on a nested begin.  After
 * fork(), the child opens its own stores.
 *
 * Records are plain structs of fixed size; strings are NUL-terminated UTF-8
 * within the sizes given; times are Unix seconds, 0 meaning "never".  The
 * library validates every record before a backend writes it, and again
 * after a backend reads it.
 */
#ifndef MFA_STORE_BACKEND_H
#define MFA_STORE_BACKEND_H

#include <mfa/backup.h>
#include <mfa/otp.h>
#include <mfa/secret.h>
#include <mfa/store.h>
#include <mfa/uri.h>
#include <mfa/webauthn.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- records ------------------------------------------------------------ */

typedef struct mfa_factor_rec {
    char id[MFA_FACTOR_ID_LEN + 1]; /* unique in the whole store */
    char account[MFA_ACCOUNT_MAX + 1];
    char label[MFA_LABEL_MAX + 1];
    mfa_otp_type type;
    mfa_algorithm algorithm;
    uint32_t digits;
    uint32_t period; /* TOTP; HOTP keeps 0 or any valid period */
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
    uint8_t hash[MFA_BACKUP_HASHBYTES]; /* keyed hash, never the code */
    uint32_t key_id;
} mfa_backup_rec;

/* A throttle bucket: "" is the account's bucket for unknown devices. */
#define MFA_BUCKET_MAX 32

typedef struct mfa_throttle_rec {
    char bucket[MFA_BUCKET_MAX + 1];
    uint32_t failures;    /* attempts since the last success */
    int64_t locked_until; /* no attempt is checked before this time */
    int64_t updated;      /* time of the last counted attempt */
} mfa_throttle_rec;

/* A known device of an account (mfa/device.h): never the token itself. */
#define MFA_DEVICE_REC_ID_LEN 16 /* = MFA_DEVICE_ID_LEN */
#define MFA_DEVICE_REC_LABEL_MAX 64
#define MFA_DEVICE_HASHBYTES 32

typedef struct mfa_device_rec {
    char id[MFA_DEVICE_REC_ID_LEN + 1]; /* unique within the account */
    char label[MFA_DEVICE_REC_LABEL_MAX + 1];
    uint8_t hash[MFA_DEVICE_HASHBYTES]; /* keyed hash of the token */
    uint32_t key_id;                    /* ring key of the hash */
    int64_t created;
    int64_t last_seen;
    int64_t trusted_until; /* 0: never skips the second factor */
} mfa_device_rec;

/*
 * A passkey or security key of an account (mfa/webauthn.h), ABI 4.  Its
 * factor id shares the namespace of the factor table's ids (the library
 * never gives one id to both); the credential id is unique in the whole
 * store.  Nothing in it is secret.
 */
typedef struct mfa_webauthn_rec {
    char factor_id[MFA_FACTOR_ID_LEN + 1]; /* unique in the whole store */
    char label[MFA_LABEL_MAX + 1];
    int64_t created;
    int64_t last_used; /* 0: never used to log in */
    mfa_webauthn_credential cred;
} mfa_webauthn_rec;

/* The random part of a passkey challenge, kept once spent (ABI 4). */
#define MFA_WEBAUTHN_NONCE_BYTES 16

/* ---- the operations ------------------------------------------------------ */

typedef enum mfa_txn_mode {
    MFA_TXN_READ = 0,
    MFA_TXN_WRITE = 1,
} mfa_txn_mode;

/* A backend's transaction; the backend defines the struct. */
typedef struct mfa_store_txn mfa_store_txn;

typedef mfa_rc (*mfa_factor_cb)(const mfa_factor_rec *f, void *arg);
typedef mfa_rc (*mfa_webauthn_cb)(const mfa_webauthn_rec *r, void *arg);

#define MFA_STORE_BACKEND_ABI 4

typedef struct mfa_store_backend {
    unsigned abi; /* MFA_STORE_BACKEND_ABI */
    const char *name;

    /* Close the backend's handle (no transaction is open); NULL-safe. */
    void (*close)(void *impl);
    /* The stored schema version; 0 when the database has no libmfa
     * schema at all. */
    mfa_rc (*schema_version)(void *impl, int *version);
    /* Create or upgrade the schema to MFA_SCHEMA_VERSION in one
     * transaction; idempotent; safe when several processes migrate at
     * once.  MFA_ERR_SCHEMA when the stored schema is newer. */
    mfa_rc (*migrate)(void *impl);

    mfa_rc (*begin)(void *impl, const char *account, mfa_txn_mode mode,
                    mfa_store_txn **txn);
    mfa_rc (*commit)(mfa_store_txn *txn);
    void (*rollback)(mfa_store_txn *txn);

    /* -- factors -- */
    /* Every factor of the account (any status), oldest first (created,
     * then id); stops with the callback's error if it returns one. */
    mfa_rc (*factor_list)(mfa_store_txn *t, const char *account,
                          mfa_factor_cb cb, void *arg);
    mfa_rc (*factor_get)(mfa_store_txn *t, const char *account, const char *id,
                         mfa_factor_rec *out);
    /* MFA_ERR_EXISTS when the id is taken (by any account). */
    mfa_rc (*factor_insert)(mfa_store_txn *t, const mfa_factor_rec *f);
    /* Overwrite every field of the row (account, id) with f's. */
    mfa_rc (*factor_update)(mfa_store_txn *t, const mfa_factor_rec *f);
    mfa_rc (*factor_delete)(mfa_store_txn *t, const char *account,
                            const char *id);
    /* Store-wide: up to max factors of any account ordered by (account,
     * id) strictly after (after_account, after_id) ("", "" for the
     * start); *n gets the count, fewer than max at the end. */
    mfa_rc (*factor_scan)(mfa_store_txn *t, const char *after_account,
                          const char *after_id, mfa_factor_rec *out, size_t max,
                          size_t *n);
    /* Store-wide: delete pending factors created before `before`. */
    mfa_rc (*factor_expire)(mfa_store_txn *t, int64_t before, size_t *n);

    /* -- throttle state, one row per (account, bucket) -- */
    mfa_rc (*throttle_get)(mfa_store_txn *t, const char *account,
                           const char *bucket, mfa_throttle_rec *out);
    /* Insert or overwrite the row (account, r->bucket). */
    mfa_rc (*throttle_put)(mfa_store_txn *t, const char *account,
                           const mfa_throttle_rec *r);
    /* MFA_OK also when there was no row. */
    mfa_rc (*throttle_delete)(mfa_store_txn *t, const char *account,
                              const char *bucket);
    /* The account's rows ordered by bucket, at most max; *n the count. */
    mfa_rc (*throttle_list)(mfa_store_txn *t, const char *account,
                            mfa_throttle_rec *out, size_t max, size_t *n);

    /* -- backup codes -- */
    /* The unused codes, oldest first, at most max; *n gets the count. */
    mfa_rc (*backup_list)(mfa_store_txn *t, const char *account,
                          mfa_backup_rec *out, size_t max, size_t *n);
    /* MFA_ERR_EXISTS when the account has that hash already. */
    mfa_rc (*backup_insert)(mfa_store_txn *t, const char *account,
                            const mfa_backup_rec *r, int64_t now);
    /* Mark the unused code with that hash used at `now`; NOT_FOUND when
     * there is none. */
    mfa_rc (*backup_use)(mfa_store_txn *t, const char *account,
                         const uint8_t hash[MFA_BACKUP_HASHBYTES], int64_t now);
    /* Delete every code of the account, used or not (MFA_OK when none). */
    mfa_rc (*backup_clear)(mfa_store_txn *t, const char *account);

    /* -- out-of-band challenges, one per (account, purpose) -- */
    mfa_rc (*oob_get)(mfa_store_txn *t, const char *account,
                      const char *purpose, mfa_oob_challenge *out);
    /* Insert or overwrite the row (account, c->purpose). */
    mfa_rc (*oob_put)(mfa_store_txn *t, const char *account,
                      const mfa_oob_challenge *c);
    /* MFA_OK also when there was no row. */
    mfa_rc (*oob_delete)(mfa_store_txn *t, const char *account,
                         const char *purpose);

    /* -- known devices, one row per (account, id) (ABI 3) -- */
    /* The account's devices oldest first (created, then id), at most max;
     * *n gets the count. */
    mfa_rc (*device_list)(mfa_store_txn *t, const char *account,
                          mfa_device_rec *out, size_t max, size_t *n);
    mfa_rc (*device_get)(mfa_store_txn *t, const char *account, const char *id,
                         mfa_device_rec *out);
    /* Insert or overwrite the row (account, r->id). */
    mfa_rc (*device_put)(mfa_store_txn *t, const char *account,
                         const mfa_device_rec *r);
    /* MFA_ERR_NOT_FOUND when there is no such row. */
    mfa_rc (*device_delete)(mfa_store_txn *t, const char *account,
                            const char *id);

    /* Store-wide: up to max distinct accounts that have throttle or
     * device rows, in ascending (bytewise) order strictly after `after`
     * ("" for the start); *n gets the count, fewer than max at the end. */
    mfa_rc (*state_scan)(mfa_store_txn *t, const char *after,
                         char (*out)[MFA_ACCOUNT_MAX + 1], size_t max,
                         size_t *n);

    /* Delete every row of the account in every table (MFA_OK when none). */
    mfa_rc (*account_delete)(mfa_store_txn *t, const char *account);

    /* -- passkeys and security keys (ABI 4) -- */
    /* Every credential of the account, oldest first (created, then
     * factor_id); stops with the callback's error if it returns one. */
    mfa_rc (*webauthn_list)(mfa_store_txn *t, const char *account,
                            mfa_webauthn_cb cb, void *arg);
    mfa_rc (*webauthn_get)(mfa_store_txn *t, const char *account,
                           const char *factor_id, mfa_webauthn_rec *out);
    /* MFA_ERR_EXISTS when the factor id or the credential id (r->cred.id)
     * is taken, by any account. */
    mfa_rc (*webauthn_insert)(mfa_store_txn *t, const char *account,
                              const mfa_webauthn_rec *r);
    /* Overwrite every field of the row (account, r->factor_id) with r's;
     * MFA_ERR_NOT_FOUND when there is none.  (The library never changes
     * a credential id.) */
    mfa_rc (*webauthn_update)(mfa_store_txn *t, const char *account,
                              const mfa_webauthn_rec *r);
    /* MFA_ERR_NOT_FOUND when there is no such row. */
    mfa_rc (*webauthn_delete)(mfa_store_txn *t, const char *account,
                              const char *factor_id);
    /* The account's user handle (one per account, 1..64 bytes) into
     * out, *len its length; MFA_ERR_NOT_FOUND when it has none yet. */
    mfa_rc (*webauthn_handle_get)(mfa_store_txn *t, const char *account,
                                  uint8_t out[MFA_WEBAUTHN_USER_HANDLE_MAX],
                                  size_t *len);
    /* Give the account its user handle at `now`; MFA_ERR_EXISTS when the
     * account has one, or another account has this one. */
    mfa_rc (*webauthn_handle_put)(mfa_store_txn *t, const char *account,
                                  const uint8_t *handle, size_t len,
                                  int64_t now);
    /* Store-wide: the account whose user handle is handle (compared
     * bytewise, whole); MFA_ERR_NOT_FOUND when none. */
    mfa_rc (*webauthn_handle_find)(mfa_store_txn *t, const uint8_t *handle,
                                   size_t len,
                                   char account[MFA_ACCOUNT_MAX + 1]);
    /* Record the nonce of a challenge as spent, kept until `expires`;
     * MFA_ERR_EXISTS when the account spent it already. */
    mfa_rc (*webauthn_spend)(mfa_store_txn *t, const char *account,
                             const uint8_t nonce[MFA_WEBAUTHN_NONCE_BYTES],
                             int64_t expires);
    /* Delete the spent nonces whose `expires` is before `before`: the
     * account's, or with account NULL (store-wide) every account's; *n
     * gets the count. */
    mfa_rc (*webauthn_spent_expire)(mfa_store_txn *t, const char *account,
                                    int64_t before, size_t *n);
} mfa_store_backend;

/*
 * Wrap a backend into a store.  be must outlive the store; be->close(impl)
 * runs on mfa_store_free (and when this call fails).  Every operation must
 * be set: MFA_ERR_INVALID otherwise, as for a wrong abi.  The store is used
 * as it is: mfa_store_new neither checks nor creates the schema (a backend's
 * own open function does that; see mfa_store_check).
 */
MFA_API mfa_rc mfa_store_new(mfa_store_t **out, const mfa_store_backend *be,
                             void *impl) MFA_WARN_UNUSED;

/*
 * The backend and handle of a store, for a backend that wraps another (a
 * fault-injecting or timing layer in tests).  NULL for a NULL store.
 */
MFA_API const mfa_store_backend *mfa_store_backend_of(const mfa_store_t *s);
MFA_API void *mfa_store_impl_of(const mfa_store_t *s);

#ifdef __cplusplus
}
#endif

#endif /* MFA_STORE_BACKEND_H */
