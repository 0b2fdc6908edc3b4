/*
 * The rules of every flow as pure functions: no store, no clock, no I/O,
 * so that each can be unit-tested on its own (tests/test_rules.c) and every
 * backend obeys the same arithmetic.  The service layer (lib/service.c)
 * applies them inside one store transaction per flow.
 */
#ifndef MFA_RULES_H
#define MFA_RULES_H

#include <stddef.h>
#include <stdint.h>

#include <mfa/service.h>
#include <mfa/store-backend.h>

/* One factor's check of a typed code. */
typedef struct mfa_int_check {
    int active;     /* whether the factor was checked at all */
    mfa_rc rc;      /* MFA_OK (fresh match), REPLAYED, CODE_WRONG, ... */
    int64_t step;   /* matched step or counter */
    int32_t offset; /* TOTP: steps from now's step; HOTP: counters ahead */
} mfa_int_check;

/*
 * Which verdict wins over the checks of every factor of an account:
 *   a fresh match (the first in list order: *winner gets its index),
 *   else a replay (the code was right but spent),
 *   else, when no factor could be checked at all, the first error (a key
 *   missing from the ring, a sealed blob that fails to open),
 *   else MFA_ERR_CODE_FORMAT when no factor has the code's number of
 *   digits,
 *   else MFA_ERR_CODE_WRONG;
 * MFA_ERR_NO_FACTOR when none is active.  *winner is (size_t)-1 unless
 * MFA_OK.
 */
mfa_rc mfa_int_verdict(const mfa_int_check *c, size_t n, size_t *winner);

/* 1 when no attempt may be checked at `now`. */
int mfa_int_throttle_locked(const mfa_throttle_rec *r, int64_t now);
/*
 * The row after one more counted attempt at `now`: failures + 1
 * (saturating); while locked the lock stays as it is, otherwise it is set
 * to now + mfa_throttle_delay(failures), at most MFA_INT_TIME_MAX.
 */
void mfa_int_throttle_count(const mfa_throttle_policy *p,
                            const mfa_throttle_rec *r, int64_t now,
                            mfa_throttle_rec *out);
/* Seconds until attempts are checked again (0: now). */
uint32_t mfa_int_retry_after(const mfa_throttle_rec *r, int64_t now);

/*
 * Whether a failed attempt is written to its throttle row: never for a
 * malformed code; always into an existing row otherwise; a new row only when
 * the attempt had something to check the code against.  An account with no
 * factor (an invented name included), no codes or no challenge leaves no row:
 * nothing could have been guessed, and anyone could otherwise grow the store
 * one row per name.
 */
int mfa_int_attempt_counts(mfa_rc verdict, int had_row);

/* The throttle bucket of a device id (NULL: unknown devices) for the
 * second factor (password 0) or the password step (1). */
void mfa_int_bucket_of(const char *device_id, int password,
                       char out[MFA_BUCKET_MAX + 1]);

/*
 * A device's trusted_until after a second factor at `now`: `days` (capped
 * at cap_days; 0 cap: never) from now when days > 0, else `current`
 * unchanged (a login that did not ask to be remembered never extends it).
 */
int64_t mfa_int_device_trust(int64_t now, uint32_t days, uint32_t cap_days,
                             int64_t current);
/* 1 when the device may skip the second factor at `now`. */
int mfa_int_device_may_skip(const mfa_device_rec *d, int64_t now);
/*
 * Which of n devices goes when a new one needs room: the one seen longest
 * ago (ties: created earlier, then the smaller id).  (size_t)-1 when n is 0.
 */
size_t mfa_int_device_victim(const mfa_device_rec *v, size_t n);

/* Clean-up of accounts without factors: an unlocked throttle row, or a
 * device, idle for `idle` seconds at `now` is expired. */
int mfa_int_gc_throttle_expired(const mfa_throttle_rec *r, int64_t now,
                                int64_t idle);
int mfa_int_gc_device_expired(const mfa_device_rec *d, int64_t now,
                              int64_t idle);

/* A remembered drift is clamped to +-max steps. */
int32_t mfa_int_clamp_drift(int64_t d, unsigned max);

#endif
