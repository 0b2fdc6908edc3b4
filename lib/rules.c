/* The rules of the flows, as pure functions (lib/rules.h). */
#include <string.h>

#include "rules.h"
#include "store/store_int.h"

uint32_t
mfa_throttle_delay(const mfa_throttle_policy *p, uint32_t failures)
{
    uint32_t over, d;

    if (p == NULL || failures <= p->free_attempts)
        return 0;
    over = failures - p->free_attempts - 1;
    /* base * 2^over > max as soon as the shift would pass the cap */
    if (over >= 32 || p->base_delay > (p->max_delay >> over))
        return p->max_delay;
    d = p->base_delay << over;
    return d < p->max_delay ? d : p->max_delay;
}

mfa_rc
mfa_int_verdict(const mfa_int_check *c, size_t n, size_t *winner)
{
    size_t active = 0, checked = 0, i;
    int any_replayed = 0, any_format_ok = 0;
    mfa_rc first_err = MFA_OK;

    *winner = (size_t)-1;
    for (i = 0; i < n; i++) {
        mfa_rc r = c[i].rc;

        if (!c[i].active)
            continue;
        active++;
        if (r == MFA_OK || r == MFA_ERR_REPLAYED || r == MFA_ERR_CODE_WRONG)
            checked++;
        if (r != MFA_ERR_CODE_FORMAT)
            any_format_ok = 1;
        if (r == MFA_ERR_REPLAYED)
            any_replayed = 1;
        else if (r != MFA_OK && r != MFA_ERR_CODE_WRONG &&
                 r != MFA_ERR_CODE_FORMAT && first_err == MFA_OK)
            first_err = r;
        if (r == MFA_OK && *winner == (size_t)-1)
            *winner = i;
    }
    if (active == 0)
        return MFA_ERR_NO_FACTOR;
    if (*winner != (size_t)-1)
        return MFA_OK;
    if (any_replayed)
        return MFA_ERR_REPLAYED;
    if (checked == 0 && first_err != MFA_OK)
        return first_err;
    if (!any_format_ok)
        return MFA_ERR_CODE_FORMAT;
    return MFA_ERR_CODE_WRONG;
}

int
mfa_int_throttle_locked(const mfa_throttle_rec *r, int64_t now)
{
    return now < r->locked_until;
}

void
mfa_int_throttle_count(const mfa_throttle_policy *p, const mfa_throttle_rec *r,
                       int64_t now, mfa_throttle_rec *out)
{
    mfa_throttle_rec n = *r;

    n.failures = r->failures == UINT32_MAX ? UINT32_MAX : r->failures + 1;
    n.updated = now;
    if (!mfa_int_throttle_locked(r, now)) {
        int64_t until = now + (int64_t)mfa_throttle_delay(p, n.failures);
        n.locked_until = until > MFA_INT_TIME_MAX ? MFA_INT_TIME_MAX : until;
    }
    *out = n;
}

uint32_t
mfa_int_retry_after(const mfa_throttle_rec *r, int64_t now)
{
    int64_t d = r->locked_until - now;

    if (d <= 0)
        return 0;
    return d > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

int32_t
mfa_int_clamp_drift(int64_t d, unsigned max)
{
    if (d > (int64_t)max)
        return (int32_t)max;
    if (d < -(int64_t)max)
        return -(int32_t)max;
    return (int32_t)d;
}

int
mfa_int_attempt_counts(mfa_rc verdict, int had_row)
{
    if (verdict == MFA_ERR_CODE_FORMAT)
        return 0; /* malformed: never counted */
    if (had_row)
        return 1;
    switch (verdict) {
    case MFA_ERR_NO_FACTOR: /* verify: no active factor */
    case MFA_ERR_NO_CODES:  /* recover: no unused code */
    case MFA_ERR_NOT_FOUND: /* confirm: no such factor; oob: no challenge */
    case MFA_ERR_STATE:     /* confirm: the factor is active already */
    case MFA_ERR_EXPIRED:   /* nothing left to compare with */
    case MFA_ERR_ATTEMPTS:
        return 0;
    default:
        return 1;
    }
}

void
mfa_int_bucket_of(const char *device_id, int password,
                  char out[MFA_BUCKET_MAX + 1])
{
    size_t n = 0;

    memset(out, 0, MFA_BUCKET_MAX + 1);
    if (password) {
        memcpy(out, device_id != NULL ? "pw-" : "pw", 3);
        n = device_id != NULL ? 3 : 2;
    }
    if (device_id != NULL) {
        size_t len = strnlen(device_id, MFA_DEVICE_REC_ID_LEN);
        memcpy(out + n, device_id, len);
    }
}

int64_t
mfa_int_device_trust(int64_t now, uint32_t days, uint32_t cap_days,
                     int64_t current)
{
    int64_t until;

    if (days == 0)
        return current;
    if (days > cap_days)
        days = cap_days;
    if (days == 0)
        return 0;
    until = now + (int64_t)days * 86400;
    return until > MFA_INT_TIME_MAX ? MFA_INT_TIME_MAX : until;
}

int
mfa_int_device_may_skip(const mfa_device_rec *d, int64_t now)
{
    return d->trusted_until != 0 && now < d->trusted_until;
}

size_t
mfa_int_device_victim(const mfa_device_rec *v, size_t n)
{
    size_t best = (size_t)-1;

    for (size_t i = 0; i < n; i++) {
        const mfa_device_rec *b = best == (size_t)-1 ? NULL : &v[best];

        if (b == NULL || v[i].last_seen < b->last_seen ||
            (v[i].last_seen == b->last_seen &&
             (v[i].created < b->created ||
              (v[i].created == b->created && strcmp(v[i].id, b->id) < 0))))
            best = i;
    }
    return best;
}

int
mfa_int_gc_throttle_expired(const mfa_throttle_rec *r, int64_t now,
                            int64_t idle)
{
    return !mfa_int_throttle_locked(r, now) && r->updated <= now - idle;
}

int
mfa_int_gc_device_expired(const mfa_device_rec *d, int64_t now, int64_t idle)
{
    return d->last_seen <= now - idle && !mfa_int_device_may_skip(d, now);
}
