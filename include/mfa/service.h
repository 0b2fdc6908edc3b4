/*
 * libmfa: the service layer.  An mfa_ctx_t carries a store, a key ring, a
 * policy, a clock and an event callback, and offers the flows a login
 * backend calls: enroll, verify, recover, out-of-band codes, factor
 * administration, reset and key rotation.
 *
 * A ctx may be shared by threads once configured (setters are not
 * thread-safe against concurrent flows).  Every flow returns MFA_OK only
 * when it succeeded; a caller that checks `!= MFA_OK` fails closed.
 */
#ifndef MFA_SERVICE_H
#define MFA_SERVICE_H

#include <mfa/backup.h>
#include <mfa/otp.h>
#include <mfa/qr.h>
#include <mfa/secret.h>
#include <mfa/store.h>
#include <mfa/uri.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mfa_ctx mfa_ctx_t;

/* Defaults of the policy. */
#define MFA_PENDING_TTL_DEFAULT 600 /* seconds to confirm an enrollment */
#define MFA_PAST_DEFAULT 1          /* steps accepted behind */
#define MFA_FUTURE_DEFAULT 1        /* steps accepted ahead */
#define MFA_DRIFT_MAX_DEFAULT 4     /* largest remembered drift, steps */
#define MFA_HOTP_LOOKAHEAD_DEFAULT 10
/* ~139 checked guesses a year at most: docs/throttling.md */
#define MFA_THROTTLE_FREE_DEFAULT 5
#define MFA_THROTTLE_BASE_DEFAULT 30
#define MFA_THROTTLE_MAX_DEFAULT 259200
#define MFA_FACTORS_MAX 16 /* authenticators per account */

/* Throttling policy (see docs/throttling.md for the arithmetic). */
typedef struct mfa_throttle_policy {
    uint32_t free_attempts; /* failures allowed before any delay */
    uint32_t base_delay;    /* seconds after the first counted failure */
    uint32_t max_delay;     /* cap, seconds */
} mfa_throttle_policy;

/*
 * Delay after `failures` counted failures: 0 while failures <=
 * free_attempts, then base_delay * 2^(failures - free_attempts - 1), capped
 * at max_delay.
 */
MFA_API uint32_t mfa_throttle_delay(const mfa_throttle_policy *p,
                                    uint32_t failures);

/* The ctx does not own store or keyring: free them after the ctx. */
MFA_API mfa_rc mfa_ctx_new(mfa_ctx_t **out, mfa_store_t *store,
                           const mfa_keyring_t *kr) MFA_WARN_UNUSED;
MFA_API void mfa_ctx_free(mfa_ctx_t **ctx);

/* The clock (Unix seconds); NULL restores time(). */
typedef int64_t (*mfa_clock_fn)(void *arg);
MFA_API void mfa_ctx_set_clock(mfa_ctx_t *ctx, mfa_clock_fn fn, void *arg);
/* Issuer shown in authenticator apps (e.g. "Example Mail"); default "libmfa".
 */
MFA_API mfa_rc mfa_ctx_set_issuer(mfa_ctx_t *ctx,
                                  const char *issuer) MFA_WARN_UNUSED;
/* Windows in steps (each <= MFA_WINDOW_MAX) and the drift bound. */
MFA_API mfa_rc mfa_ctx_set_window(mfa_ctx_t *ctx, unsigned past,
                                  unsigned future,
                                  unsigned drift_max) MFA_WARN_UNUSED;
MFA_API mfa_rc mfa_ctx_set_hotp_lookahead(mfa_ctx_t *ctx,
                                          unsigned lookahead) MFA_WARN_UNUSED;
MFA_API mfa_rc mfa_ctx_set_throttle(
    mfa_ctx_t *ctx, const mfa_throttle_policy *p) MFA_WARN_UNUSED;
MFA_API mfa_rc mfa_ctx_set_pending_ttl(mfa_ctx_t *ctx,
                                       int64_t seconds) MFA_WARN_UNUSED;
/* Out-of-band codes: digits 6..8, lifetime, attempts. */
MFA_API mfa_rc mfa_ctx_set_oob(mfa_ctx_t *ctx, unsigned digits, int64_t ttl,
                               int32_t attempts) MFA_WARN_UNUSED;

/* ---- events ------------------------------------------------------------ */

typedef enum mfa_event_type {
    MFA_EV_ENROLL_BEGIN = 0,
    MFA_EV_ENROLL_CONFIRM,
    MFA_EV_VERIFY_OK,
    MFA_EV_VERIFY_FAIL,
    MFA_EV_REPLAY,
    MFA_EV_THROTTLED,
    MFA_EV_RECOVER_OK,
    MFA_EV_RECOVER_FAIL,
    MFA_EV_BACKUP_CODES_NEW,
    MFA_EV_OOB_BEGIN,
    MFA_EV_OOB_OK,
    MFA_EV_OOB_FAIL,
    MFA_EV_FACTOR_RENAME,
    MFA_EV_FACTOR_REMOVE,
    MFA_EV_RESET,
    MFA_EV_KEY_ROTATE,
    MFA_EV_STORE_ERROR,
    MFA_EV_FACTOR_IMPORT,     /* one per factor stored by mfa_factor_import */
    MFA_EV_DEVICE_FORGET,     /* one device or all (mfa/device.h) */
    MFA_EV_PASSWORD_FAIL,     /* mfa_password_failed counted one */
    MFA_EV_GC,                /* mfa_gc ran (rows removed in `failures`) */
    MFA_EV_WEBAUTHN_REGISTER, /* a passkey registered (mfa/webauthn.h) */
    MFA_EV_WEBAUTHN_OK,       /* a passkey login accepted */
    MFA_EV_WEBAUTHN_FAIL,     /* a passkey registration or login refused */
    MFA_EV_WEBAUTHN_CLONED,   /* sign count went back: a cloned key */
} mfa_event_type;

/* Never holds a secret or a code. */
typedef struct mfa_event {
    mfa_event_type type;
    const char *account;   /* NULL for ring-wide events */
    const char *factor_id; /* NULL when no factor is concerned */
    mfa_rc rc;             /* outcome of the flow */
    int64_t time;
    uint32_t failures; /* throttle count after this event */
} mfa_event;

typedef void (*mfa_event_fn)(const mfa_event *ev, void *arg);
MFA_API void mfa_ctx_set_event_cb(mfa_ctx_t *ctx, mfa_event_fn fn, void *arg);
/* "verify_ok", "replay", ...; never NULL. */
MFA_API const char *mfa_event_name(mfa_event_type type);

/*
 * Out-of-band sender: the application delivers `code` for `purpose` (an SMS
 * to the account's backup number, an e-mail) and returns MFA_OK, or an
 * error that mfa_oob_begin passes on.  libmfa never sees the address.
 */
typedef mfa_rc (*mfa_oob_send_fn)(const char *account, const char *purpose,
                                  const char *code, void *arg);
MFA_API void mfa_ctx_set_oob_sender(mfa_ctx_t *ctx, mfa_oob_send_fn fn,
                                    void *arg);

/* ---- results ----------------------------------------------------------- */

/*
 * The outcome of a flow.  Its size is fixed until 1.0 and beyond: new
 * fields take bytes of `reserved`, which the library zeroes, so a program
 * built against an older header keeps working with a newer library.
 */
typedef struct mfa_result {
    mfa_rc outcome;                        /* same as the return value */
    char factor_id[MFA_FACTOR_ID_LEN + 1]; /* the matched factor, or "" */
    int32_t offset;                        /* drift of the code, steps */
    uint32_t retry_after;                  /* seconds, when throttled */
    uint32_t failures;                     /* throttle count */
    uint32_t backup_codes_left;            /* after a recovery */
    /* after MFA_OK: the device's id and its new token (mfa/device.h); the
     * token is a secret: set it as the cookie, then wipe the result */
    char device_id[16 + 1];
    char device_token[64];
    uint8_t reserved[135]; /* zero; room for new fields (256 bytes in all) */
} mfa_result;

/* ---- enrollment -------------------------------------------------------- */

typedef struct mfa_enrollment mfa_enrollment_t;

/*
 * Begin enrolling an authenticator: a new secret under the profile (NULL:
 * universal), sealed into a pending factor labelled `label` (device name,
 * may be NULL).  The enrollment gives what the set-up page shows.  At most
 * MFA_FACTORS_MAX factors per account (MFA_ERR_EXISTS beyond).
 */
MFA_API mfa_rc mfa_enroll_begin(mfa_ctx_t *ctx, const char *account,
                                const char *label, const mfa_profile_t *profile,
                                mfa_enrollment_t **out) MFA_WARN_UNUSED;
MFA_API const char *mfa_enrollment_factor_id(const mfa_enrollment_t *e);
MFA_API const char *mfa_enrollment_uri(const mfa_enrollment_t *e);
/* The key in groups of four ("ABCD EFGH ..."), and without spaces. */
MFA_API const char *mfa_enrollment_manual_key(const mfa_enrollment_t *e);
MFA_API const char *mfa_enrollment_secret(const mfa_enrollment_t *e);
MFA_API const char *mfa_enrollment_issuer(const mfa_enrollment_t *e);
MFA_API const char *mfa_enrollment_account(const mfa_enrollment_t *e);
/* The URI as a QR code (ECC M); free with mfa_qr_free. */
MFA_API mfa_rc mfa_enrollment_qr(const mfa_enrollment_t *e,
                                 mfa_qr_t **out) MFA_WARN_UNUSED;
/* Wipe and free; NULL is fine. */
MFA_API void mfa_enrollment_free(mfa_enrollment_t **e);

/*
 * Confirm with the first code from the app: activates the factor and spends
 * the code.  MFA_ERR_EXPIRED after the pending lifetime (the factor is
 * removed), MFA_ERR_STATE if already active, throttled like mfa_verify.
 */
MFA_API mfa_rc mfa_enroll_confirm(mfa_ctx_t *ctx, const char *account,
                                  const char *factor_id, const char *code,
                                  mfa_result *res) MFA_WARN_UNUSED;

/* ---- login ------------------------------------------------------------- */

/*
 * Verify a code against every active factor of the account: the attempt is
 * counted first (throttle), every factor is checked in constant time, the
 * matched step is spent with a compare-and-set, failures reset on success.
 * MFA_OK, MFA_ERR_CODE_WRONG, MFA_ERR_REPLAYED, MFA_ERR_THROTTLED
 * (res->retry_after), MFA_ERR_CODE_FORMAT, MFA_ERR_NO_FACTOR, or a store
 * error.
 */
MFA_API mfa_rc mfa_verify(mfa_ctx_t *ctx, const char *account, const char *code,
                          mfa_result *res) MFA_WARN_UNUSED;

/* Whether the account has an active factor (*has = 1) or not. */
MFA_API mfa_rc mfa_account_has_mfa(mfa_ctx_t *ctx, const char *account,
                                   int *has) MFA_WARN_UNUSED;

/* ---- recovery ---------------------------------------------------------- */

/*
 * Log in with a backup code: throttled like mfa_verify, spent exactly once.
 * res->backup_codes_left tells how many remain.
 */
MFA_API mfa_rc mfa_recover(mfa_ctx_t *ctx, const char *account,
                           const char *backup_code,
                           mfa_result *res) MFA_WARN_UNUSED;
/*
 * A new set of n backup codes (0: MFA_BACKUP_COUNT_DEFAULT), replacing the
 * old set.  Show them once; free with mfa_backup_codes_free(codes, n).
 */
MFA_API mfa_rc mfa_backup_codes_new(mfa_ctx_t *ctx, const char *account,
                                    size_t n, char ***codes) MFA_WARN_UNUSED;
MFA_API mfa_rc mfa_backup_codes_left(mfa_ctx_t *ctx, const char *account,
                                     size_t *n) MFA_WARN_UNUSED;

/* Send a fresh out-of-band code through the sender callback. */
MFA_API mfa_rc mfa_oob_begin(mfa_ctx_t *ctx, const char *account,
                             const char *purpose) MFA_WARN_UNUSED;
/* Check it: throttled, limited attempts, expiry, spent exactly once. */
MFA_API mfa_rc mfa_oob_verify(mfa_ctx_t *ctx, const char *account,
                              const char *purpose, const char *code,
                              mfa_result *res) MFA_WARN_UNUSED;

/* ---- administration ---------------------------------------------------- */

/* What a settings page shows of a factor: no secret. */
typedef struct mfa_factor_info {
    char id[MFA_FACTOR_ID_LEN + 1];
    char label[MFA_LABEL_MAX + 1];
    mfa_otp_type type;
    mfa_algorithm algorithm;
    uint32_t digits;
    uint32_t period;
    mfa_factor_status status;
    int64_t created;
    int64_t confirmed;
    int64_t last_used;
} mfa_factor_info;

/* The account's factors (pending ones too), oldest first; free with mfa_free.
 */
MFA_API mfa_rc mfa_factors_list(mfa_ctx_t *ctx, const char *account,
                                mfa_factor_info **list,
                                size_t *n) MFA_WARN_UNUSED;
MFA_API mfa_rc mfa_factor_rename(mfa_ctx_t *ctx, const char *account,
                                 const char *factor_id,
                                 const char *label) MFA_WARN_UNUSED;
MFA_API mfa_rc mfa_factor_remove(mfa_ctx_t *ctx, const char *account,
                                 const char *factor_id) MFA_WARN_UNUSED;
/* Administrator's reset: every factor, backup code, challenge and the
 * throttle state of the account are deleted. */
MFA_API mfa_rc mfa_reset(mfa_ctx_t *ctx, const char *account) MFA_WARN_UNUSED;
/*
 * Reseal every factor under the key ring's current key (after
 * mfa_keyring_generate and saving the ring).  *resealed and *skipped count
 * the factors (skipped: already current).  Safe to run again after a crash.
 */
MFA_API mfa_rc mfa_keyring_rotate(mfa_ctx_t *ctx, size_t *resealed,
                                  size_t *skipped) MFA_WARN_UNUSED;
/* Remove expired pending factors; *n gets the count. */
MFA_API mfa_rc mfa_expire_pending(mfa_ctx_t *ctx, size_t *n) MFA_WARN_UNUSED;

#ifdef __cplusplus
}
#endif

#endif /* MFA_SERVICE_H */
