/*
 * libmfa: known devices ("remember this device"), the device-aware
 * throttle of the application's password step, and store clean-up.
 *
 * API summary (stable from its first commit; mfa_device(3) is the manual):
 *
 *   A device token is a string of MFA_DEVICE_TOKEN_LEN characters
 *   ("<16 hex id>.<43 base64url>", 128 + 256 bits: the id names the
 *   device, the 256-bit secret proves it) that the application keeps in a
 *   cookie.  Only a keyed hash of it is stored, bound to the account.
 *
 *   Every successful second factor (mfa_verify, mfa_enroll_confirm,
 *   mfa_recover, mfa_oob_verify and their _device variants) issues a new
 *   token, or rotates the presented one, in the same store transaction:
 *   res->device_token and res->device_id (mfa_result's new fields) hold it
 *   after MFA_OK.  Set it as the cookie and wipe the result.
 *
 *   mfa_verify_device(ctx, account, code, &opts, &res)
 *   mfa_enroll_confirm_device(ctx, account, factor_id, code, &opts, &res)
 *   mfa_recover_device(ctx, account, backup_code, &opts, &res)
 *   mfa_oob_verify_device(ctx, account, purpose, code, &opts, &res)
 *       The flows with an optional token in (opts.token; NULL = none), a
 *       label (opts.label, e.g. "Firefox on Linux") and opts.remember_days
 *       (0: the device is known but never skips the second factor; N: it
 *       may skip it for N days, capped by mfa_ctx_set_devices).  A valid
 *       token spends that device's own throttle budget; without one the
 *       attempt spends the account's "unknown devices" budget.  A
 *       malformed token is MFA_ERR_DEVICE_FORMAT and a well-formed one
 *       that is not a device of this account MFA_ERR_DEVICE_UNKNOWN:
 *       nothing is counted or written, the code is not looked at.
 *
 *   mfa_device_check(ctx, account, token, &info)
 *       MFA_OK: this device may skip the second factor now (trusted until
 *       info.trusted_until); MFA_ERR_DEVICE_UNTRUSTED: a known device that
 *       must still give a second factor (pass the token to the _device
 *       flow); MFA_ERR_DEVICE_UNKNOWN / MFA_ERR_DEVICE_FORMAT: drop the
 *       cookie.  info may be NULL.
 *   mfa_devices_list(ctx, account, &list, &n)   oldest first; mfa_free
 *   mfa_device_forget(ctx, account, device_id)
 *   mfa_devices_forget_all(ctx, account, &n)    (mfa_reset does it too)
 *   mfa_device_token_id(token, id)              the id part of a token
 *   mfa_ctx_set_devices(ctx, max_devices, remember_max_days)
 *       per-account cap (the device seen longest ago goes first) and the
 *       longest "remember" a flow may ask for.
 *
 *   Password step (the application's own first factor), same buckets
 *   logic, its own budget:
 *   mfa_password_check(ctx, account, token, &res)   MFA_OK or THROTTLED
 *   mfa_password_failed(ctx, account, token, &res)  count a failure
 *   mfa_password_ok(ctx, account, token)            clear on success
 *
 *   Clean-up: throttle and device rows of accounts that have no factor
 *   expire once idle; flows run a small step of it every `every` calls,
 *   mfa_gc runs it over the whole store.
 *   mfa_ctx_set_gc(ctx, every, idle_seconds)
 *   mfa_gc(ctx, &removed)
 */
#ifndef MFA_DEVICE_H
#define MFA_DEVICE_H

#include <mfa/service.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MFA_DEVICE_ID_LEN 16        /* lowercase hex of 8 random bytes */
#define MFA_DEVICE_TOKEN_LEN 60     /* id, '.', 43 base64url characters */
#define MFA_DEVICE_TOKEN_BUFSIZE 64 /* a token and its NUL, with room */
#define MFA_DEVICE_LABEL_MAX 64     /* bytes of UTF-8 */
#define MFA_DEVICES_MAX 32          /* largest per-account cap */
#define MFA_DEVICES_DEFAULT 10      /* default per-account cap */
#define MFA_REMEMBER_DAYS_MAX_DEFAULT 30
#define MFA_GC_EVERY_DEFAULT 256  /* flows between two clean-up steps */
#define MFA_GC_IDLE_DEFAULT 86400 /* seconds a factor-less row is kept */

/* What the _device flows take besides the code. */
typedef struct mfa_device_opts {
    const char *token;      /* the device's token, or NULL */
    const char *label;      /* NULL: kept (a new device gets "") */
    uint32_t remember_days; /* 0: known, never skips the second factor */
} mfa_device_opts;

/* What a settings page shows of a device: never the token. */
typedef struct mfa_device_info {
    char id[MFA_DEVICE_ID_LEN + 1];
    char label[MFA_DEVICE_LABEL_MAX + 1];
    int64_t created;
    int64_t last_seen;
    int64_t trusted_until; /* 0: never skips the second factor */
} mfa_device_info;

MFA_API mfa_rc mfa_verify_device(mfa_ctx_t *ctx, const char *account,
                                 const char *code, const mfa_device_opts *dev,
                                 mfa_result *res) MFA_WARN_UNUSED;
MFA_API mfa_rc mfa_enroll_confirm_device(mfa_ctx_t *ctx, const char *account,
                                         const char *factor_id,
                                         const char *code,
                                         const mfa_device_opts *dev,
                                         mfa_result *res) MFA_WARN_UNUSED;
MFA_API mfa_rc mfa_recover_device(mfa_ctx_t *ctx, const char *account,
                                  const char *backup_code,
                                  const mfa_device_opts *dev,
                                  mfa_result *res) MFA_WARN_UNUSED;
MFA_API mfa_rc mfa_oob_verify_device(mfa_ctx_t *ctx, const char *account,
                                     const char *purpose, const char *code,
                                     const mfa_device_opts *dev,
                                     mfa_result *res) MFA_WARN_UNUSED;

/*
 * May this device skip the second factor now?  MFA_OK (yes; its last
 * seen time is refreshed), MFA_ERR_DEVICE_UNTRUSTED (known, not trusted
 * now), MFA_ERR_DEVICE_UNKNOWN, MFA_ERR_DEVICE_FORMAT, or a store error
 * (never MFA_OK).  Nothing is counted: a token holds 256 secret bits.
 */
MFA_API mfa_rc mfa_device_check(mfa_ctx_t *ctx, const char *account,
                                const char *token,
                                mfa_device_info *info) MFA_WARN_UNUSED;
/* The account's devices, oldest first; free with mfa_free. */
MFA_API mfa_rc mfa_devices_list(mfa_ctx_t *ctx, const char *account,
                                mfa_device_info **list,
                                size_t *n) MFA_WARN_UNUSED;
/* MFA_ERR_NOT_FOUND when the account has no such device. */
MFA_API mfa_rc mfa_device_forget(mfa_ctx_t *ctx, const char *account,
                                 const char *device_id) MFA_WARN_UNUSED;
/* Every device of the account; *n (may be NULL) gets the count. */
MFA_API mfa_rc mfa_devices_forget_all(mfa_ctx_t *ctx, const char *account,
                                      size_t *n) MFA_WARN_UNUSED;
/* The id part of a well-formed token (MFA_ERR_DEVICE_FORMAT otherwise). */
MFA_API mfa_rc mfa_device_token_id(
    const char *token, char id[MFA_DEVICE_ID_LEN + 1]) MFA_WARN_UNUSED;
/* max_devices 1..MFA_DEVICES_MAX; remember_max_days 0 (never) .. 3650. */
MFA_API mfa_rc mfa_ctx_set_devices(mfa_ctx_t *ctx, unsigned max_devices,
                                   uint32_t remember_max_days) MFA_WARN_UNUSED;

/* ---- the password step ------------------------------------------------- */

/*
 * May a password attempt for account from this device (token NULL: an
 * unknown device) be checked now?  MFA_OK, or MFA_ERR_THROTTLED with
 * res->retry_after; res may be NULL.  Read-only: call mfa_password_failed
 * after a wrong password and mfa_password_ok after a right one.
 */
MFA_API mfa_rc mfa_password_check(mfa_ctx_t *ctx, const char *account,
                                  const char *token,
                                  mfa_result *res) MFA_WARN_UNUSED;
MFA_API mfa_rc mfa_password_failed(mfa_ctx_t *ctx, const char *account,
                                   const char *token,
                                   mfa_result *res) MFA_WARN_UNUSED;
MFA_API mfa_rc mfa_password_ok(mfa_ctx_t *ctx, const char *account,
                               const char *token) MFA_WARN_UNUSED;

/* ---- clean-up ---------------------------------------------------------- */

/*
 * every: flows between two amortised clean-up steps (0: never; mfa_gc
 * only); idle: seconds after which an unlocked throttle row, or a device,
 * of an account without factors is removed (>= 60).
 */
MFA_API mfa_rc mfa_ctx_set_gc(mfa_ctx_t *ctx, unsigned every,
                              int64_t idle) MFA_WARN_UNUSED;
/* Remove every expired row of the store; *removed (may be NULL) counts. */
MFA_API mfa_rc mfa_gc(mfa_ctx_t *ctx, size_t *removed) MFA_WARN_UNUSED;

#ifdef __cplusplus
}
#endif

#endif /* MFA_DEVICE_H */
