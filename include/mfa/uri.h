/*
 * libmfa: otpauth:// key URIs, app-compatibility profiles and the lint.
 *
 * The facts behind the defaults are in docs/interop.md: the universal
 * profile (TOTP, SHA1, 6 digits, 30 s, 20-byte secret) is the only one every
 * common authenticator app reads correctly.
 */
#ifndef MFA_URI_H
#define MFA_URI_H

#include <mfa/otp.h>
#include <mfa/secret.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Limits, in bytes of UTF-8 (documented in docs/interop.md). */
#define MFA_ISSUER_MAX 64
#define MFA_ACCOUNT_MAX 128
#define MFA_IMAGE_MAX 512
#define MFA_URI_MAX 2048

/* ---- profiles ---------------------------------------------------------- */

typedef struct mfa_profile mfa_profile_t;

/*
 * A built-in profile by name: "universal" (the default), "google",
 * "microsoft", "authy".  The result is static: never free it.
 * MFA_ERR_PROFILE for an unknown name.
 */
MFA_API mfa_rc mfa_profile_get(const char *name,
                               const mfa_profile_t **out) MFA_WARN_UNUSED;
/* The universal profile; never NULL. */
MFA_API const mfa_profile_t *mfa_profile_default(void);
/*
 * A custom profile from explicit parameters (validated like the otp
 * setters; secret_bytes 16..64; counter is the HOTP start).  Its name is
 * "custom".  Free with mfa_profile_free.
 */
MFA_API mfa_rc mfa_profile_custom_new(mfa_profile_t **out, mfa_otp_type type,
                                      mfa_algorithm alg, unsigned digits,
                                      uint32_t period,
                                      size_t secret_bytes) MFA_WARN_UNUSED;
/* Free a custom profile; built-in ones and NULL are ignored. */
MFA_API void mfa_profile_free(mfa_profile_t **p);

MFA_API const char *mfa_profile_name(const mfa_profile_t *p);
MFA_API mfa_otp_type mfa_profile_type(const mfa_profile_t *p);
MFA_API mfa_algorithm mfa_profile_algorithm(const mfa_profile_t *p);
MFA_API unsigned mfa_profile_digits(const mfa_profile_t *p);
MFA_API uint32_t mfa_profile_period(const mfa_profile_t *p);
MFA_API size_t mfa_profile_secret_bytes(const mfa_profile_t *p);

/* ---- URIs -------------------------------------------------------------- */

typedef struct mfa_uri mfa_uri_t;

/* mfa_uri_format flags */
#define MFA_URI_EXPLICIT                                                       \
    0x1u /* emit algorithm, digits, period even if default */

/* mfa_uri_parse warnings (a bit set) */
#define MFA_URI_WARN_LOWERCASE_ALGORITHM 0x1u /* "sha1" read as SHA1 */
#define MFA_URI_WARN_PADDED_SECRET 0x2u       /* '=' padding in secret */
#define MFA_URI_WARN_LOWERCASE_SECRET 0x4u    /* lowercase base32 */
#define MFA_URI_WARN_ISSUER_PARAM_ONLY 0x8u   /* no issuer prefix in label */
#define MFA_URI_WARN_ISSUER_PREFIX_ONLY 0x10u /* no issuer= parameter */
#define MFA_URI_WARN_ENCODED_COLON 0x20u      /* label separator was %3A */
#define MFA_URI_WARN_SHORT_SECRET 0x40u       /* secret under 16 bytes */
#define MFA_URI_WARN_PLUS_SPACE 0x80u         /* '+' in label, kept */
#define MFA_URI_WARN_UPPERCASE_SCHEME 0x100u  /* "OTPAUTH://" */
#define MFA_URI_WARN_UPPERCASE_TYPE 0x200u    /* "TOTP", "Hotp" */
#define MFA_URI_WARN_PLUS_IN_QUERY 0x400u     /* issuer=Ex+Mail: a space */
#define MFA_URI_WARN_EMPTY_ISSUER 0x800u      /* "issuer=" ignored */
#define MFA_URI_WARN_COLON 0x1000u            /* ':' in account or issuer */
#define MFA_URI_WARN_IMAGE_SPACES 0x2000u     /* image URL space -> %20 */
#define MFA_URI_WARN_IMAGE_IGNORED 0x4000u    /* image= unusable, dropped */

/*
 * A key URI for a profile: the profile's parameters, a copy of the secret,
 * issuer and account (UTF-8; no colon, no control character, within the
 * limits above).  Errors: MFA_ERR_COLON, MFA_ERR_UTF8, MFA_ERR_CONTROL_CHAR
 * (also U+2028, U+2029), MFA_ERR_FORMAT_CHAR (Unicode Cf: zero-width,
 * bidi, BOM), MFA_ERR_NONCHARACTER, MFA_ERR_TOO_LONG, MFA_ERR_EMPTY
 * (account), MFA_ERR_LEADING_SPACE.  An empty issuer is allowed but the
 * lint warns.
 */
MFA_API mfa_rc mfa_uri_new(mfa_uri_t **out, const mfa_profile_t *profile,
                           const mfa_secret_t *secret, const char *issuer,
                           const char *account) MFA_WARN_UNUSED;
/* Optional https image URL (FreeOTP extension); NULL removes it. */
MFA_API mfa_rc mfa_uri_set_image(mfa_uri_t *u, const char *url) MFA_WARN_UNUSED;
/* HOTP start counter. */
MFA_API mfa_rc mfa_uri_set_counter(mfa_uri_t *u, uint64_t counter);
/* Wipe and free; NULL is fine. */
MFA_API void mfa_uri_free(mfa_uri_t **u);

/*
 * The URI text: "otpauth://totp/ISSUER:ACCOUNT?secret=...&issuer=ISSUER",
 * each label part percent-encoded as UTF-8 (unreserved kept, space %20).
 * Parameters equal to the universal defaults are omitted unless flags has
 * MFA_URI_EXPLICIT; others are spelled exactly (algorithm=SHA256).  A
 * parsed URI with a ':' in its account or issuer (MFA_URI_WARN_COLON) is
 * written so that it reads back the same: %3A in the account, such an
 * issuer only in issuer=.  Free *out with mfa_string_free: it holds the
 * secret.
 */
MFA_API mfa_rc mfa_uri_format(const mfa_uri_t *u, unsigned flags,
                              char **out) MFA_WARN_UNUSED;

/*
 * Parse a key URI as real apps and services write it: whatever both pyotp
 * and otpauth read is read, each oddity reported as an MFA_URI_WARN_* bit
 * in *warnings (may be NULL) and on the object (mfa_uri_warnings).
 * Errors: MFA_ERR_URI_SCHEME, _TYPE, _SECRET, _LABEL, _PARAM (malformed or
 * repeated), _ISSUER, _TOO_LONG, _ENCODING, _COUNTER, MFA_ERR_DIGITS,
 * MFA_ERR_PERIOD, MFA_ERR_ALGORITHM, MFA_ERR_UTF8, MFA_ERR_CONTROL_CHAR,
 * MFA_ERR_FORMAT_CHAR, MFA_ERR_NONCHARACTER, MFA_ERR_TOO_LONG,
 * MFA_ERR_LEADING_SPACE, MFA_ERR_SECRET_*.
 */
MFA_API mfa_rc mfa_uri_parse(const char *text, mfa_uri_t **out,
                             unsigned *warnings) MFA_WARN_UNUSED;
/* The MFA_URI_WARN_* bits mfa_uri_parse found; 0 for a URI built here. */
MFA_API unsigned mfa_uri_warnings(const mfa_uri_t *u);
/* One sentence for a single MFA_URI_WARN_* bit; NULL for anything else. */
MFA_API const char *mfa_uri_warning_text(unsigned bit);

MFA_API const char *mfa_uri_issuer(const mfa_uri_t *u); /* "" if none */
MFA_API const char *mfa_uri_account(const mfa_uri_t *u);
MFA_API const char *mfa_uri_image(const mfa_uri_t *u); /* NULL if none */
MFA_API const mfa_secret_t *mfa_uri_secret(const mfa_uri_t *u);
MFA_API mfa_otp_type mfa_uri_type(const mfa_uri_t *u);
MFA_API mfa_algorithm mfa_uri_algorithm(const mfa_uri_t *u);
MFA_API unsigned mfa_uri_digits(const mfa_uri_t *u);
MFA_API uint32_t mfa_uri_period(const mfa_uri_t *u);
MFA_API uint64_t mfa_uri_counter(const mfa_uri_t *u);

/* A new mfa_otp_t with the URI's key and parameters. */
MFA_API mfa_rc mfa_uri_to_otp(const mfa_uri_t *u,
                              mfa_otp_t **out) MFA_WARN_UNUSED;

/* ---- lint -------------------------------------------------------------- */

typedef enum mfa_app {
    MFA_APP_GOOGLE = 0,    /* Google Authenticator */
    MFA_APP_MICROSOFT = 1, /* Microsoft Authenticator */
    MFA_APP_AUTHY = 2,     /* Authy (mobile) */
    MFA_APP_AEGIS = 3,
    MFA_APP_FREEOTP = 4,
    MFA_APP_KEEPASSXC = 5, /* KeePassXC and Bitwarden */
    MFA_APP_COUNT = 6
} mfa_app;

typedef enum mfa_verdict {
    MFA_VERDICT_WORKS = 0,
    MFA_VERDICT_WRONG_CODES = 1, /* accepted, but shows codes that fail */
    MFA_VERDICT_REFUSED = 2,     /* the app refuses to add it */
    MFA_VERDICT_UNKNOWN = 3,     /* may work on some versions */
} mfa_verdict;

typedef struct mfa_lint_entry {
    mfa_app app;
    mfa_verdict verdict;
    char reason[160]; /* one line, e.g. "Microsoft Authenticator ignores
                         digits=8 and will show 6-digit codes" */
} mfa_lint_entry;

/* Human names: "Google Authenticator", ...; NULL for an unknown value. */
MFA_API const char *mfa_app_name(mfa_app app);
MFA_API const char *mfa_verdict_name(mfa_verdict v); /* "works", ... */

/* One verdict per app (out[MFA_APP_COUNT]) for a URI's parameters. */
MFA_API mfa_rc mfa_lint_uri(const mfa_uri_t *u,
                            mfa_lint_entry out[MFA_APP_COUNT]) MFA_WARN_UNUSED;
/* The same for a profile (secret length from the profile). */
MFA_API mfa_rc mfa_lint_profile(
    const mfa_profile_t *p, mfa_lint_entry out[MFA_APP_COUNT]) MFA_WARN_UNUSED;

#ifdef __cplusplus
}
#endif

#endif /* MFA_URI_H */
