/* libmfa internals shared by the layers; never installed. */
#ifndef MFA_INTERNAL_H
#define MFA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <mfa/err.h>

/*
 * Constant-time helpers.  They return all-ones (a mask) or 0 and never
 * branch on their arguments.
 */
static inline uint32_t
mfa_int_ct_mask_eq32(uint32_t a, uint32_t b)
{
    uint64_t d = (uint64_t)(a ^ b);
    return (uint32_t)0 - (uint32_t)((d - 1) >> 63);
}

static inline uint64_t
mfa_int_ct_mask_eq64(uint64_t a, uint64_t b)
{
    uint64_t d = a ^ b;
    /* (d | -d) has its top bit set iff d != 0 */
    return ((d | ((uint64_t)0 - d)) >> 63) - 1;
}

/* all-ones when a < b, for a, b < 2^63 */
static inline uint64_t
mfa_int_ct_mask_lt63(uint64_t a, uint64_t b)
{
    return (uint64_t)0 - ((a - b) >> 63);
}

/* all-ones when lo <= x <= hi, for 0 <= x, lo, hi < 2^31 */
static inline uint32_t
mfa_int_ct_mask_range(uint32_t x, uint32_t lo, uint32_t hi)
{
    uint32_t below = (lo - 1u - x) & (x - hi - 1u);
    return (uint32_t)0 - (below >> 31);
}

/* Constant-time equality of two buffers: 1 when equal, 0 otherwise. */
int mfa_int_ct_equal(const void *a, const void *b, size_t n);

/* mfa_init without the warn_unused_result noise, for constructors. */
mfa_rc mfa_int_init(void);

/*
 * A secret of n bytes whose guarded buffer the caller fills through *bytes
 * (unsealing writes the plaintext straight into guarded memory).
 */
struct mfa_secret;
mfa_rc mfa_int_secret_alloc(struct mfa_secret **out, size_t n, uint8_t **bytes);

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

#endif /* MFA_INTERNAL_H */
