/*
 * The service layer's context and helpers, shared by the files of the
 * service layer (lib/service.c, and flows in files of their own such as
 * imports); never installed.
 */
#ifndef MFA_SERVICE_INT_H
#define MFA_SERVICE_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include <mfa/device.h>
#include <mfa/service.h>
#include <mfa/webauthn.h>

#include "store/txn.h"

struct mfa_ctx {
    mfa_store_t *store;
    const mfa_keyring_t *kr;
    mfa_clock_fn clock;
    void *clock_arg;
    char issuer[MFA_ISSUER_MAX + 1];
    unsigned past, future, drift_max, lookahead;
    mfa_throttle_policy throttle;
    int64_t pending_ttl;
    unsigned oob_digits;
    int64_t oob_ttl;
    int32_t oob_attempts;
    mfa_event_fn ev;
    void *ev_arg;
    mfa_oob_send_fn send;
    void *send_arg;
    unsigned max_devices;
    uint32_t remember_max_days;
    unsigned gc_every; /* 0: no amortised clean-up */
    int64_t gc_idle;
    /* the passkey flows' relying party (lib/webauthn_flow.c); NULL: off.
     * Not owned. */
    const mfa_webauthn_rp_t *webauthn;
    /* the amortised clean-up's state, the one thing flows change: they
     * see the ctx as const, so it lives behind a pointer */
    struct mfa_int_gc_state *gc;
};

typedef struct mfa_int_gc_state {
    atomic_uint tick;
    pthread_mutex_t mu;
    char after[MFA_ACCOUNT_MAX + 1]; /* the next step starts after it */
} mfa_int_gc_state;

/* A parsed device token; wipe it after use. */
#define MFA_INT_TOKEN_SECRET 32
typedef struct mfa_int_token {
    char id[MFA_DEVICE_ID_LEN + 1];
    uint8_t secret[MFA_INT_TOKEN_SECRET];
} mfa_int_token;

/*
 * Check a flow's device options before the store is touched: the label
 * (a text field) and the token's shape.  *tok gets the token, *has 1 when
 * there is one.  dev may be NULL (no token, no label, not remembered).
 */
mfa_rc mfa_int_device_opts_check(const mfa_device_opts *dev, mfa_int_token *tok,
                                 int *has);
mfa_rc mfa_int_token_parse(const char *token, mfa_int_token *out);
/* The account's device that the token proves, read in x: MFA_OK (*d),
 * MFA_ERR_DEVICE_UNKNOWN, or a store error. */
mfa_rc mfa_int_device_lookup(const mfa_ctx_t *ctx, mfa_int_txn *x,
                             const mfa_int_token *tok, mfa_device_rec *d);
/*
 * After a successful second factor at now, in its transaction: rotate the
 * known device's token, or make a new device (the one seen longest ago
 * goes when the account is at its cap).  res gets the id and the token.
 * Only store errors are returned as errors: a device that cannot be made
 * (no current key) leaves res's token empty and the login stands.
 */
mfa_rc mfa_int_device_issue(const mfa_ctx_t *ctx, mfa_int_txn *x, int64_t now,
                            const mfa_device_opts *dev,
                            const mfa_device_rec *known, mfa_result *res);
/* Delete a device and its throttle rows, in x. */
mfa_rc mfa_int_device_drop(mfa_int_txn *x, const char *id);
/* Called at the end of every flow, outside any transaction: every
 * ctx->gc_every calls, one small step of the clean-up. */
void mfa_int_gc_tick(const mfa_ctx_t *ctx);

/* ---- the attempt pipeline (lib/service.c) ------------------------------ */

/*
 * What a flow checks, inside the attempt's transaction, once the throttle
 * admitted the attempt.  It returns the verdict.  It may write (spend a
 * step, a code, a challenge; remove an expired enrollment): those writes
 * commit with the attempt's count unless it returns a store error, which
 * rolls everything back.
 */
typedef mfa_rc (*mfa_int_attempt_fn)(const mfa_ctx_t *ctx, mfa_int_txn *x,
                                     int64_t now, mfa_result *res, void *arg);
/*
 * Whether what was typed or sent has a shape that something of the
 * account could accept (MFA_OK), or an error, run before the throttle is
 * read: a malformed input is refused with nothing counted or written.  It
 * may read, and leave what it read in arg for the check.
 */
typedef mfa_rc (*mfa_int_shape_fn)(const mfa_ctx_t *ctx, mfa_int_txn *x,
                                   int64_t now, void *arg);

typedef struct mfa_int_attempt_spec {
    /* replays are MFA_EV_REPLAY, throttled attempts MFA_EV_THROTTLED, a
     * cloned passkey MFA_EV_WEBAUTHN_CLONED */
    mfa_event_type ok_event, fail_event;
    /* for the events; may be NULL.  Read after the check ran: a check may
     * fill the buffer it points to. */
    const char *factor_id;
    mfa_int_attempt_fn check;
    mfa_int_shape_fn shape; /* may be NULL */
    void *arg;
    const mfa_device_opts *dev; /* may be NULL */
    const mfa_int_token *tok;   /* the device's token; NULL: unknown */
} mfa_int_attempt_spec;

/*
 * The pipeline: one write transaction of the account that resolves a
 * presented device token, runs the shape check, reads the throttle row,
 * counts the attempt, runs the check, clears the count or writes it,
 * issues the device token after a success and commits; then the event.
 * Returns the verdict (also in res->outcome).
 */
mfa_rc mfa_int_attempt(const mfa_ctx_t *ctx, const char *account, int64_t now,
                       const mfa_int_attempt_spec *sp, mfa_result *res);
/* The device options of a flow, checked before the store is touched (sp's
 * dev and tok set); on error the flow's fail_event is emitted and the
 * error returned. */
mfa_rc mfa_int_attempt_device(const mfa_ctx_t *ctx, const char *account,
                              int64_t now, mfa_event_type fail_event,
                              const mfa_device_opts *dev,
                              mfa_int_attempt_spec *sp, mfa_int_token *tok);

/* An account name as the flows take it (a required text field). */
mfa_rc mfa_int_check_account(const char *account);
/* A clock the store can record: from 1970 to the end of year 9999. */
mfa_rc mfa_int_check_now(int64_t now);
/* mfa_int_ctx_emit, with MFA_EV_STORE_ERROR instead of type when rc is a
 * store error. */
void mfa_int_ctx_emit_rc(const mfa_ctx_t *ctx, mfa_event_type type,
                         const char *account, const char *factor_id, mfa_rc rc,
                         int64_t now, uint32_t failures);

/* The ctx's clock: Unix seconds. */
int64_t mfa_int_ctx_now(const mfa_ctx_t *ctx);
/* Report an event (never a secret or a code) to the ctx's callback. */
void mfa_int_ctx_emit(const mfa_ctx_t *ctx, mfa_event_type type,
                      const char *account, const char *factor_id, mfa_rc rc,
                      int64_t now, uint32_t failures);
/* A fresh random factor id: 16 lowercase hex digits. */
void mfa_int_new_factor_id(char id[MFA_FACTOR_ID_LEN + 1]);

#endif
