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

#endif /* MFA_INTERNAL_H */
