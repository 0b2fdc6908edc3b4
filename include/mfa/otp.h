/*
 * libmfa: HOTP (RFC 4226) and TOTP (RFC 6238) codes.
 *
 * An mfa_otp_t holds one key in guarded memory with its HMAC key schedule
 * computed once, and the parameters of one factor.  Verification computes
 * every candidate in the window and compares them all in constant time; it
 * allocates nothing.  Time is a parameter (Unix seconds).
 *
 * An mfa_otp_t may be shared by threads for generation and verification as
 * long as no setter runs at the same time.
 */
#ifndef MFA_OTP_H
#define MFA_OTP_H

#include <mfa/err.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mfa_otp_type {
    MFA_TOTP = 0,
    MFA_HOTP = 1,
} mfa_otp_type;

typedef enum mfa_algorithm {
    MFA_SHA1 = 0,
    MFA_SHA256 = 1,
    MFA_SHA512 = 2,
} mfa_algorithm;

#define MFA_DIGITS_MIN 6
#define MFA_DIGITS_MAX 10
#define MFA_DIGITS_DEFAULT 6
#define MFA_PERIOD_DEFAULT 30
/* A period above one day is certainly a mistake. */
#define MFA_PERIOD_MAX 86400
/* Key sizes accepted by mfa_otp_new (policy on secret sizes: secret.h). */
#define MFA_KEY_MIN 1
#define MFA_KEY_MAX 64
/* Buffer size that holds any code and its NUL. */
#define MFA_CODE_BUFSIZE 11
/* Largest past or future window of mfa_otp_totp_verify, in steps. */
#define MFA_WINDOW_MAX 10
/* Largest HOTP look-ahead of mfa_otp_hotp_verify. */
#define MFA_LOOKAHEAD_MAX 100
/* Largest range of the resync functions: 24 hours of 30-second steps. */
#define MFA_RESYNC_MAX 2880
/* "No step accepted yet", for last_step arguments. */
#define MFA_STEP_NONE (-1)

MFA_API size_t mfa_digits_min(void);
MFA_API size_t mfa_digits_max(void);
MFA_API size_t mfa_window_max(void);
MFA_API size_t mfa_lookahead_max(void);
MFA_API size_t mfa_resync_max(void);
MFA_API size_t mfa_code_bufsize(void);

typedef struct mfa_otp mfa_otp_t;

/*
 * A TOTP factor (SHA-1, 6 digits, 30 s, T0 = 0, counter 0) for the given key
 * of 1..64 bytes.  The key is copied into guarded memory.
 */
MFA_API mfa_rc mfa_otp_new(mfa_otp_t **out, const uint8_t *key,
                           size_t keylen) MFA_WARN_UNUSED;
/* Wipe and free *otp and set it to NULL; NULL is fine. */
MFA_API void mfa_otp_free(mfa_otp_t **otp);

MFA_API mfa_rc mfa_otp_set_type(mfa_otp_t *otp, mfa_otp_type type);
MFA_API mfa_rc mfa_otp_set_algorithm(mfa_otp_t *otp, mfa_algorithm alg);
MFA_API mfa_rc mfa_otp_set_digits(mfa_otp_t *otp, unsigned digits);
MFA_API mfa_rc mfa_otp_set_period(mfa_otp_t *otp, uint32_t period);
MFA_API mfa_rc mfa_otp_set_t0(mfa_otp_t *otp, int64_t t0);
MFA_API mfa_rc mfa_otp_set_counter(mfa_otp_t *otp, uint64_t counter);

MFA_API mfa_otp_type mfa_otp_type_get(const mfa_otp_t *otp);
MFA_API mfa_algorithm mfa_otp_algorithm(const mfa_otp_t *otp);
MFA_API unsigned mfa_otp_digits(const mfa_otp_t *otp);
MFA_API uint32_t mfa_otp_period(const mfa_otp_t *otp);
MFA_API int64_t mfa_otp_t0(const mfa_otp_t *otp);
MFA_API uint64_t mfa_otp_counter(const mfa_otp_t *otp);

/* "SHA1", "SHA256", "SHA512"; NULL for an unknown value. */
MFA_API const char *mfa_algorithm_name(mfa_algorithm alg);
/* Exact, case-sensitive inverse of mfa_algorithm_name. */
MFA_API mfa_rc mfa_algorithm_from_name(const char *name, mfa_algorithm *alg);

/* The TOTP time step of now: floor((now - T0) / period). */
MFA_API mfa_rc mfa_otp_step(const mfa_otp_t *otp, int64_t now,
                            uint64_t *step) MFA_WARN_UNUSED;

/*
 * The code for an HOTP counter (or a TOTP step), as `digits` ASCII digits and
 * a NUL in code[size], size >= digits + 1.
 */
MFA_API mfa_rc mfa_otp_hotp(const mfa_otp_t *otp, uint64_t counter, char *code,
                            size_t size) MFA_WARN_UNUSED;
/* The TOTP code at time now. */
MFA_API mfa_rc mfa_otp_totp(const mfa_otp_t *otp, int64_t now, char *code,
                            size_t size) MFA_WARN_UNUSED;

/*
 * Canonicalise a typed code: spaces removed, then exactly `digits` ASCII
 * digits, written with a NUL into out[size].  MFA_ERR_CODE_FORMAT otherwise.
 */
MFA_API mfa_rc mfa_code_canonical(const char *typed, unsigned digits, char *out,
                                  size_t size) MFA_WARN_UNUSED;

/*
 * Verify a TOTP code at time now against steps step-past .. step+future
 * (each at most MFA_WINDOW_MAX).  With last_step >= 0, a code matching only
 * steps <= last_step gives MFA_ERR_REPLAYED.  On MFA_OK, *matched_step is
 * the accepted step (store it as the new last step) and *offset its distance
 * from now's step.  Either out-parameter may be NULL.
 *
 * MFA_OK only for an accepted code; MFA_ERR_CODE_WRONG, MFA_ERR_REPLAYED,
 * MFA_ERR_CODE_FORMAT, or an argument error otherwise.
 */
MFA_API mfa_rc mfa_otp_totp_verify(const mfa_otp_t *otp, const char *code,
                                   int64_t now, unsigned past, unsigned future,
                                   int64_t last_step, uint64_t *matched_step,
                                   int32_t *offset) MFA_WARN_UNUSED;

/*
 * Verify an HOTP code against counters counter .. counter+lookahead.  On
 * MFA_OK, *next_counter is the matched counter + 1 (the next one to expect).
 */
MFA_API mfa_rc mfa_otp_hotp_verify(const mfa_otp_t *otp, const char *code,
                                   uint64_t counter, unsigned lookahead,
                                   uint64_t *next_counter) MFA_WARN_UNUSED;

/*
 * Resynchronise a TOTP factor from two consecutive codes typed by the user:
 * finds the step s within `range` steps of now's step (range at most
 * MFA_RESYNC_MAX) where code1 is the code of s and code2 that of s + 1.
 * *matched_step is s + 1 and *offset its distance from now's step.
 */
MFA_API mfa_rc mfa_otp_totp_resync(const mfa_otp_t *otp, const char *code1,
                                   const char *code2, int64_t now,
                                   unsigned range, uint64_t *matched_step,
                                   int32_t *offset) MFA_WARN_UNUSED;

/*
 * Resynchronise an HOTP factor: finds c in counter .. counter+range (range
 * at most MFA_RESYNC_MAX) with code1 at c and code2 at c + 1;
 * *next_counter is c + 2.
 */
MFA_API mfa_rc mfa_otp_hotp_resync(const mfa_otp_t *otp, const char *code1,
                                   const char *code2, uint64_t counter,
                                   unsigned range,
                                   uint64_t *next_counter) MFA_WARN_UNUSED;

#ifdef __cplusplus
}
#endif

#endif /* MFA_OTP_H */
