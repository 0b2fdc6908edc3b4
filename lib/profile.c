/*
 * App-compatibility profiles: the parameter sets enrollment uses.  The
 * lint that judges them per app is lib/lint.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mfa/uri.h>

#include "enroll.h"
#include "internal.h"

struct mfa_profile {
    const char *name;
    mfa_otp_type type;
    mfa_algorithm alg;
    unsigned digits;
    uint32_t period;
    size_t secret_bytes;
    int custom;
};

/*
 * The app profiles are the parameter set each app is known to read
 * correctly.  Today every one of them is the universal set: they exist so
 * that a service records which app it targeted and so that a change of
 * facts about one app changes one line here.
 */
static const struct mfa_profile builtin[] = {
    {"universal", MFA_TOTP, MFA_SHA1, 6, 30, MFA_SECRET_DEFAULT, 0},
    {"google", MFA_TOTP, MFA_SHA1, 6, 30, MFA_SECRET_DEFAULT, 0},
    {"microsoft", MFA_TOTP, MFA_SHA1, 6, 30, MFA_SECRET_DEFAULT, 0},
    {"authy", MFA_TOTP, MFA_SHA1, 6, 30, MFA_SECRET_DEFAULT, 0},
};

#define NBUILTIN (sizeof(builtin) / sizeof(builtin[0]))

mfa_rc
mfa_profile_get(const char *name, const mfa_profile_t **out)
{
    if (out == NULL)
        return MFA_ERR_INVALID;
    *out = NULL;
    if (name == NULL)
        return MFA_ERR_INVALID;
    for (size_t i = 0; i < NBUILTIN; i++) {
        if (strcmp(name, builtin[i].name) == 0) {
            *out = &builtin[i];
            return MFA_OK;
        }
    }
    return MFA_ERR_PROFILE;
}

const mfa_profile_t *
mfa_profile_default(void)
{
    return &builtin[0];
}

mfa_rc
mfa_profile_custom_new(mfa_profile_t **out, mfa_otp_type type,
                       mfa_algorithm alg, unsigned digits, uint32_t period,
                       size_t secret_bytes)
{
    mfa_profile_t *p;

    if (out == NULL)
        return MFA_ERR_INVALID;
    *out = NULL;
    if (type != MFA_TOTP && type != MFA_HOTP)
        return MFA_ERR_TYPE;
    if (mfa_algorithm_name(alg) == NULL)
        return MFA_ERR_ALGORITHM;
    if (digits < MFA_DIGITS_MIN || digits > MFA_DIGITS_MAX)
        return MFA_ERR_DIGITS;
    if (period == 0 || period > MFA_PERIOD_MAX)
        return MFA_ERR_PERIOD;
    if (secret_bytes == 0)
        secret_bytes = MFA_SECRET_DEFAULT;
    if (secret_bytes < MFA_SECRET_MIN)
        return MFA_ERR_SECRET_SHORT;
    if (secret_bytes > MFA_SECRET_MAX)
        return MFA_ERR_SECRET_LONG;
    if ((p = calloc(1, sizeof(*p))) == NULL)
        return MFA_ERR_NOMEM;
    p->name = "custom";
    p->type = type;
    p->alg = alg;
    p->digits = digits;
    p->period = period;
    p->secret_bytes = secret_bytes;
    p->custom = 1;
    *out = p;
    return MFA_OK;
}

void
mfa_profile_free(mfa_profile_t **p)
{
    if (p == NULL || *p == NULL)
        return;
    if ((*p)->custom)
        free(*p);
    *p = NULL;
}

const char *
mfa_profile_name(const mfa_profile_t *p)
{
    return p ? p->name : NULL;
}

mfa_otp_type
mfa_profile_type(const mfa_profile_t *p)
{
    return p ? p->type : MFA_TOTP;
}

mfa_algorithm
mfa_profile_algorithm(const mfa_profile_t *p)
{
    return p ? p->alg : MFA_SHA1;
}

unsigned
mfa_profile_digits(const mfa_profile_t *p)
{
    return p ? p->digits : 0;
}

uint32_t
mfa_profile_period(const mfa_profile_t *p)
{
    return p ? p->period : 0;
}

size_t
mfa_profile_secret_bytes(const mfa_profile_t *p)
{
    return p ? p->secret_bytes : 0;
}
