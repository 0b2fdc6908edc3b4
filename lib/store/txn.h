/*
 * Checked transactions over a store, for the service layer (never
 * installed).  Every call validates what it passes to the backend and what
 * the backend returns (a record of another account, or out of range, is
 * MFA_ERR_CORRUPT), and row calls act on the transaction's own account.
 */
#ifndef MFA_TXN_H
#define MFA_TXN_H

#include <mfa/store-backend.h>

typedef struct mfa_int_txn {
    const mfa_store_backend *be;
    mfa_store_txn *t;
    char account[MFA_ACCOUNT_MAX + 1]; /* "" for a store-wide transaction */
    int open;
} mfa_int_txn;

/* account NULL: store-wide.  On error x is not open. */
mfa_rc mfa_int_txn_begin(mfa_store_t *s, const char *account, mfa_txn_mode mode,
                         mfa_int_txn *x);
/* Ends x either way; MFA_OK only when committed. */
mfa_rc mfa_int_txn_commit(mfa_int_txn *x);
/* Ends x; harmless when x is not open. */
void mfa_int_txn_rollback(mfa_int_txn *x);

mfa_rc mfa_int_txn_factor_list(mfa_int_txn *x, mfa_factor_cb cb, void *arg);
mfa_rc mfa_int_txn_factor_get(mfa_int_txn *x, const char *id,
                              mfa_factor_rec *out);
mfa_rc mfa_int_txn_factor_insert(mfa_int_txn *x, const mfa_factor_rec *f);
mfa_rc mfa_int_txn_factor_update(mfa_int_txn *x, const mfa_factor_rec *f);
mfa_rc mfa_int_txn_factor_delete(mfa_int_txn *x, const char *id);
mfa_rc mfa_int_txn_factor_scan(mfa_int_txn *x, const char *after_account,
                               const char *after_id, mfa_factor_rec *out,
                               size_t max, size_t *n);
mfa_rc mfa_int_txn_factor_expire(mfa_int_txn *x, int64_t before, size_t *n);

/* NOT_FOUND: no row, *out zeroed with the bucket name set. */
mfa_rc mfa_int_txn_throttle_get(mfa_int_txn *x, const char *bucket,
                                mfa_throttle_rec *out);
mfa_rc mfa_int_txn_throttle_put(mfa_int_txn *x, const mfa_throttle_rec *r);
mfa_rc mfa_int_txn_throttle_delete(mfa_int_txn *x, const char *bucket);

mfa_rc mfa_int_txn_throttle_list(mfa_int_txn *x, mfa_throttle_rec *out,
                                 size_t max, size_t *n);

mfa_rc mfa_int_txn_device_list(mfa_int_txn *x, mfa_device_rec *out, size_t max,
                               size_t *n);
mfa_rc mfa_int_txn_device_get(mfa_int_txn *x, const char *id,
                              mfa_device_rec *out);
mfa_rc mfa_int_txn_device_put(mfa_int_txn *x, const mfa_device_rec *r);
mfa_rc mfa_int_txn_device_delete(mfa_int_txn *x, const char *id);
/* Store-wide only: accounts with throttle or device rows, after `after`. */
mfa_rc mfa_int_txn_state_scan(mfa_int_txn *x, const char *after,
                              char (*out)[MFA_ACCOUNT_MAX + 1], size_t max,
                              size_t *n);

mfa_rc mfa_int_txn_backup_list(mfa_int_txn *x, mfa_backup_rec *out, size_t max,
                               size_t *n);
mfa_rc mfa_int_txn_backup_insert(mfa_int_txn *x, const mfa_backup_rec *r,
                                 int64_t now);
mfa_rc mfa_int_txn_backup_use(mfa_int_txn *x,
                              const uint8_t hash[MFA_BACKUP_HASHBYTES],
                              int64_t now);
mfa_rc mfa_int_txn_backup_clear(mfa_int_txn *x);

mfa_rc mfa_int_txn_oob_get(mfa_int_txn *x, const char *purpose,
                           mfa_oob_challenge *out);
mfa_rc mfa_int_txn_oob_put(mfa_int_txn *x, const mfa_oob_challenge *c);
mfa_rc mfa_int_txn_oob_delete(mfa_int_txn *x, const char *purpose);

mfa_rc mfa_int_txn_account_delete(mfa_int_txn *x);

/* Passkeys (ABI 4).  Records are checked both ways like factors: the
 * credential's fields in range, its user handle the account's. */
mfa_rc mfa_int_txn_webauthn_list(mfa_int_txn *x, mfa_webauthn_cb cb, void *arg);
mfa_rc mfa_int_txn_webauthn_get(mfa_int_txn *x, const char *factor_id,
                                mfa_webauthn_rec *out);
mfa_rc mfa_int_txn_webauthn_insert(mfa_int_txn *x, const mfa_webauthn_rec *r);
mfa_rc mfa_int_txn_webauthn_update(mfa_int_txn *x, const mfa_webauthn_rec *r);
mfa_rc mfa_int_txn_webauthn_delete(mfa_int_txn *x, const char *factor_id);
mfa_rc mfa_int_txn_webauthn_handle_get(
    mfa_int_txn *x, uint8_t out[MFA_WEBAUTHN_USER_HANDLE_MAX], size_t *len);
mfa_rc mfa_int_txn_webauthn_handle_put(mfa_int_txn *x, const uint8_t *handle,
                                       size_t len, int64_t now);
/* Store-wide only. */
mfa_rc mfa_int_txn_webauthn_handle_find(mfa_int_txn *x, const uint8_t *handle,
                                        size_t len,
                                        char account[MFA_ACCOUNT_MAX + 1]);
mfa_rc mfa_int_txn_webauthn_spend(mfa_int_txn *x,
                                  const uint8_t nonce[MFA_WEBAUTHN_NONCE_BYTES],
                                  int64_t expires);
/* The transaction's account, or every account in a store-wide one. */
mfa_rc mfa_int_txn_webauthn_spent_expire(mfa_int_txn *x, int64_t before,
                                         size_t *n);

/* True for the errors that mean "the store failed" (nothing accepted). */
int mfa_int_is_store_error(mfa_rc rc);

#endif
