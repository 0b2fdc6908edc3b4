/*
 * The lint: per app, whether a URI or a profile will work, give wrong
 * codes, be refused, or is unknown.  The facts are INTEROP.md's per-app
 * table (docs/interop.md): each rule below cites the column it comes from,
 * and tests/test_lint.c has a case for every row.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mfa/uri.h>

#include "enroll.h"
#include "internal.h"

static const char *const app_names[MFA_APP_COUNT] = {
    "Google Authenticator",
    "Microsoft Authenticator",
    "Authy",
    "Aegis",
    "FreeOTP",
    "KeePassXC/Bitwarden",
};

const char *
mfa_app_name(mfa_app app)
{
    if ((unsigned)app >= MFA_APP_COUNT)
        return NULL;
    return app_names[app];
}

const char *
mfa_verdict_name(mfa_verdict v)
{
    switch (v) {
    case MFA_VERDICT_WORKS:
        return "works";
    case MFA_VERDICT_WRONG_CODES:
        return "wrong codes";
    case MFA_VERDICT_REFUSED:
        return "refused";
    case MFA_VERDICT_UNKNOWN:
        return "unknown";
    }
    return NULL;
}

struct lint_in {
    mfa_otp_type type;
    mfa_algorithm alg;
    unsigned digits;
    uint32_t period;
    size_t secret_len;
    int issuer;        /* 1 present, 0 empty, -1 not applicable (a profile) */
    unsigned warnings; /* MFA_URI_WARN_* of a parsed URI */
};

/* How bad a verdict is, so an entry keeps the worst of its findings. */
static int
severity(mfa_verdict v)
{
    switch (v) {
    case MFA_VERDICT_WORKS:
        return 0;
    case MFA_VERDICT_UNKNOWN:
        return 1;
    case MFA_VERDICT_WRONG_CODES:
        return 2;
    case MFA_VERDICT_REFUSED:
        return 3;
    }
    return 3;
}

/*
 * Record a finding: it replaces the entry's verdict and reason when it is
 * worse, so the reason always explains the verdict.  A "works" note only
 * fills an empty reason.
 */
static void find(mfa_lint_entry *e, mfa_verdict v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
find(mfa_lint_entry *e, mfa_verdict v, const char *fmt, ...)
{
    va_list ap;

    if (severity(v) < severity(e->verdict))
        return;
    if (severity(v) == severity(e->verdict) && e->reason[0] != '\0')
        return;
    e->verdict = v;
    va_start(ap, fmt);
    /* a reason cut at its buffer is still a reason */
    (void)vsnprintf(e->reason, sizeof(e->reason), fmt, ap);
    va_end(ap);
}

static void
lint_google(const struct lint_in *in, mfa_lint_entry *e)
{
    const char *n = app_names[MFA_APP_GOOGLE];

    if (in->secret_len < MFA_SECRET_LEGACY_MIN)
        find(e, MFA_VERDICT_REFUSED, "%s refuses keys under 10 bytes", n);
    /* its scanner compares "otpauth" and "totp"/"hotp" exactly */
    if (in->warnings &
        (MFA_URI_WARN_UPPERCASE_SCHEME | MFA_URI_WARN_UPPERCASE_TYPE))
        find(e, MFA_VERDICT_REFUSED,
             "%s refuses a scheme or type that is not lowercase", n);
    if (in->warnings & MFA_URI_WARN_PADDED_SECRET)
        find(e, MFA_VERDICT_REFUSED,
             "%s fails to scan a secret with '=' padding", n);
    if (in->alg != MFA_SHA1)
        find(e, MFA_VERDICT_UNKNOWN,
             "%s reads algorithm=%s only in newer builds; older ones show "
             "SHA1 codes",
             n, mfa_algorithm_name(in->alg));
    if (in->digits == 8)
        find(e, MFA_VERDICT_UNKNOWN,
             "%s shows 8-digit codes only on newer Android builds", n);
    else if (in->digits != 6)
        find(e, MFA_VERDICT_WRONG_CODES,
             "%s ignores digits=%u and will show 6-digit codes", n, in->digits);
    if (in->type == MFA_TOTP && in->period != 30)
        find(e, MFA_VERDICT_WRONG_CODES,
             "%s ignores period=%u and will show codes for 30-second steps", n,
             (unsigned)in->period);
}

static void
lint_microsoft(const struct lint_in *in, mfa_lint_entry *e)
{
    const char *n = app_names[MFA_APP_MICROSOFT];

    if (in->type == MFA_HOTP)
        find(e, MFA_VERDICT_WRONG_CODES,
             "%s treats an HOTP key as TOTP and will show time-based codes", n);
    if (in->alg != MFA_SHA1)
        find(e, MFA_VERDICT_WRONG_CODES,
             "%s accepts algorithm=%s but computes SHA1 codes", n,
             mfa_algorithm_name(in->alg));
    if (in->digits != 6)
        find(e, MFA_VERDICT_WRONG_CODES,
             "%s ignores digits=%u and will show 6-digit codes", n, in->digits);
    if (in->type == MFA_TOTP && in->period != 30)
        find(e, MFA_VERDICT_WRONG_CODES,
             "%s ignores period=%u and will show codes for 30-second steps", n,
             (unsigned)in->period);
    if (in->issuer == 0)
        find(e, MFA_VERDICT_WORKS,
             "%s works, but titles the entry from the issuer prefix, which "
             "is empty",
             n);
}

static void
lint_authy(const struct lint_in *in, mfa_lint_entry *e)
{
    const char *n = app_names[MFA_APP_AUTHY];

    if (in->type == MFA_HOTP)
        find(e, MFA_VERDICT_REFUSED, "%s does not support HOTP keys", n);
    if (in->alg != MFA_SHA1)
        find(e, MFA_VERDICT_WRONG_CODES,
             "%s accepts algorithm=%s but computes SHA1 codes", n,
             mfa_algorithm_name(in->alg));
    if (in->digits == 7)
        find(e, MFA_VERDICT_UNKNOWN,
             "%s is reported to show 7-digit codes, but not on every version",
             n);
    else if (in->digits != 6)
        find(e, MFA_VERDICT_WRONG_CODES,
             "%s fails with digits=%u: its codes will not verify", n,
             in->digits);
    if (in->type == MFA_TOTP && in->period != 30)
        find(e, MFA_VERDICT_WRONG_CODES,
             "%s ignores period=%u and will show codes for 30-second steps", n,
             (unsigned)in->period);
}

static void
lint_aegis(const struct lint_in *in, mfa_lint_entry *e)
{
    /* SHA1/256/512, 1-10 digits, any period > 0, HOTP: everything libmfa
     * can express.  Its base32 refusal (length 1, 3 or 6 mod 8) only hits
     * impossible lengths, which libmfa never writes. */
    (void)in;
    (void)e;
}

static void
lint_freeotp(const struct lint_in *in, mfa_lint_entry *e)
{
    const char *n = app_names[MFA_APP_FREEOTP];

    if (in->digits > 9)
        find(e, MFA_VERDICT_REFUSED, "%s refuses digits=%u (it reads 6 to 9)",
             n, in->digits);
    if (in->warnings & MFA_URI_WARN_COLON)
        find(e, MFA_VERDICT_REFUSED,
             "%s refuses a label or issuer with a second ':'", n);
    if (in->type == MFA_TOTP && in->period < 5)
        find(e, MFA_VERDICT_REFUSED,
             "%s refuses period=%u (it needs at least 5 seconds)", n,
             (unsigned)in->period);
    if (in->secret_len < 16)
        find(e, MFA_VERDICT_WORKS,
             "%s works, but warns that a %zu-byte secret is under 128 bits", n,
             in->secret_len);
}

static void
lint_keepassxc(const struct lint_in *in, mfa_lint_entry *e)
{
    const char *n = app_names[MFA_APP_KEEPASSXC];

    if ((in->warnings & MFA_URI_WARN_LOWERCASE_ALGORITHM) &&
        in->alg != MFA_SHA1)
        find(e, MFA_VERDICT_WRONG_CODES,
             "%s falls back to SHA1 for the lowercase algorithm name and "
             "will show SHA1 codes",
             n);
    if (in->type == MFA_HOTP)
        find(e, MFA_VERDICT_WRONG_CODES,
             "%s silently treats an HOTP key as TOTP and will show "
             "time-based codes",
             n);
}

static void
lint(const struct lint_in *in, mfa_lint_entry out[MFA_APP_COUNT])
{
    static void (*const rules[MFA_APP_COUNT])(const struct lint_in *,
                                              mfa_lint_entry *) = {
        lint_google, lint_microsoft, lint_authy,
        lint_aegis,  lint_freeotp,   lint_keepassxc,
    };

    for (int i = 0; i < MFA_APP_COUNT; i++) {
        mfa_lint_entry *e = &out[i];

        memset(e, 0, sizeof(*e));
        e->app = (mfa_app)i;
        e->verdict = MFA_VERDICT_WORKS;
        rules[i](in, e);
        /* KeePassXC's fallback is known (its rule above); the other
         * parsers refuse or mis-read "sha1" depending on the version */
        if ((in->warnings & MFA_URI_WARN_LOWERCASE_ALGORITHM) &&
            i != MFA_APP_KEEPASSXC)
            find(e, MFA_VERDICT_UNKNOWN,
                 "%s may refuse or mis-read a lowercase algorithm name",
                 app_names[i]);
        /* Google Authenticator's own parser is the one known to lowercase
         * nothing; the others are not known either way */
        if ((in->warnings &
             (MFA_URI_WARN_UPPERCASE_SCHEME | MFA_URI_WARN_UPPERCASE_TYPE)) &&
            i != MFA_APP_GOOGLE)
            find(e, MFA_VERDICT_UNKNOWN,
                 "%s may refuse a scheme or type that is not lowercase",
                 app_names[i]);
        if ((in->warnings & MFA_URI_WARN_COLON) && i != MFA_APP_FREEOTP)
            find(e, MFA_VERDICT_WORKS,
                 "%s works, but may split the name at another ':' and show "
                 "a different issuer or account",
                 app_names[i]);
        if (in->warnings &
            (MFA_URI_WARN_PLUS_SPACE | MFA_URI_WARN_PLUS_IN_QUERY))
            find(e, MFA_VERDICT_WORKS,
                 "%s works, but may show '+' in the name where a space was "
                 "meant",
                 app_names[i]);
        if (in->warnings & MFA_URI_WARN_EMPTY_ISSUER)
            find(e, MFA_VERDICT_WORKS,
                 "%s works, but may show no issuer: issuer= is empty",
                 app_names[i]);
        if (in->issuer == 0)
            find(e, MFA_VERDICT_WORKS,
                 "%s works, but the entry has no issuer, only the account "
                 "name",
                 app_names[i]);
        if (e->reason[0] == '\0')
            (void)snprintf(e->reason, sizeof(e->reason),
                           "%s reads these parameters", app_names[i]);
    }
}

mfa_rc
mfa_lint_uri(const mfa_uri_t *u, mfa_lint_entry out[MFA_APP_COUNT])
{
    struct lint_in in;

    if (u == NULL || out == NULL)
        return MFA_ERR_INVALID;
    in.type = mfa_uri_type(u);
    in.alg = mfa_uri_algorithm(u);
    in.digits = mfa_uri_digits(u);
    in.period = mfa_uri_period(u);
    in.secret_len = mfa_secret_len(mfa_uri_secret(u));
    in.issuer = mfa_uri_issuer(u)[0] != '\0';
    in.warnings = mfa_int_uri_warnings(u);
    lint(&in, out);
    return MFA_OK;
}

mfa_rc
mfa_lint_profile(const mfa_profile_t *p, mfa_lint_entry out[MFA_APP_COUNT])
{
    struct lint_in in;

    if (p == NULL || out == NULL)
        return MFA_ERR_INVALID;
    in.type = mfa_profile_type(p);
    in.alg = mfa_profile_algorithm(p);
    in.digits = mfa_profile_digits(p);
    in.period = mfa_profile_period(p);
    in.secret_len = mfa_profile_secret_bytes(p);
    in.issuer = -1;
    in.warnings = 0;
    lint(&in, out);
    return MFA_OK;
}
