/*
 * The service layer's context and helpers, shared by the files of the
 * service layer (lib/service.c, and flows in files of their own such as
 * imports); never installed.
 */
#ifndef MFA_SERVICE_INT_H
#define MFA_SERVICE_INT_H

#include <mfa/service.h>

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
};

/* The ctx's clock: Unix seconds. */
int64_t mfa_int_ctx_now(const mfa_ctx_t *ctx);
/* Report an event (never a secret or a code) to the ctx's callback. */
void mfa_int_ctx_emit(const mfa_ctx_t *ctx, mfa_event_type type,
                      const char *account, const char *factor_id, mfa_rc rc,
                      int64_t now, uint32_t failures);
/* A fresh random factor id: 16 lowercase hex digits. */
void mfa_int_new_factor_id(char id[MFA_FACTOR_ID_LEN + 1]);

#endif
