/* OTP internals (lib/otp.c), for the service layer's per-thread scratch
 * and the known-answer tests; never installed. */
#ifndef MFA_OTP_INT_H
#define MFA_OTP_INT_H

#include <stddef.h>
#include <stdint.h>

#include <mfa/err.h>

/* OTP internals, exposed for the known-answer tests of RFC 4226 App. D. */
#include <nettle/hmac.h>
union mfa_int_hmac_ctx {
    struct {
        uint32_t batch[4][5]; /* states of independent candidates */
        uint8_t inner[64];    /* counter || padding, padding set once */
        uint8_t outer[64];    /* inner digest || padding, padding set once */
    } sha1; /* HMAC-SHA1 straight on the compression function */
    struct hmac_sha256_ctx sha256;
    struct hmac_sha512_ctx sha512;
};
struct mfa_otp;
size_t mfa_int_otp_hmac(const struct mfa_otp *o, union mfa_int_hmac_ctx *ctx,
                        uint64_t counter, uint8_t *mac);
uint32_t mfa_int_otp_truncate(const uint8_t *mac, size_t maclen);
/*
 * An mfa_otp_t in memory the caller provides (guarded, at least
 * mfa_int_otp_size() bytes, suitably aligned) instead of its own guarded
 * allocation: the service layer keeps one such buffer per thread so that a
 * verify makes no mmap/mlock calls.  The caller wipes it after use.
 */
size_t mfa_int_otp_size(void);
mfa_rc mfa_int_otp_init(struct mfa_otp *o, const uint8_t *key, size_t keylen);

/* Prepare the scratch once per call; wipe the part an algorithm used. */
void mfa_int_otp_scratch_init(const struct mfa_otp *o,
                              union mfa_int_hmac_ctx *ctx);
void mfa_int_otp_scratch_wipe(const struct mfa_otp *o,
                              union mfa_int_hmac_ctx *ctx);

#endif /* MFA_OTP_INT_H */
