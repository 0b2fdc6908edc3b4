/* Text helpers for key URIs: UTF-8 checks and RFC 3986 percent-encoding. */
#ifndef MFA_TEXT_H
#define MFA_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include <mfa/err.h>

/*
 * Check s[0..n) for a user-visible text field: MFA_ERR_UTF8 for invalid
 * UTF-8 (overlong forms, surrogates and code points above U+10FFFF
 * included), MFA_ERR_CONTROL_CHAR for C0, DEL or C1 controls and for
 * U+2028/U+2029 (line and paragraph separators), MFA_ERR_FORMAT_CHAR for a
 * format character (general category Cf: zero-width, bidi controls, BOM,
 * tags), MFA_ERR_NONCHARACTER for U+FDD0..U+FDEF and U+xxFFFE/U+xxFFFF.
 * The first offending character decides.
 */
mfa_rc mfa_int_text_check(const char *s, size_t n);

/* 1 when cp is in Unicode 15.0's general category Cf. */
int mfa_int_is_format_char(uint32_t cp);

/*
 * A NUL-terminated text field of at most max bytes: MFA_ERR_INVALID for
 * NULL, MFA_ERR_TOO_LONG, MFA_ERR_EMPTY when empty and required, else
 * mfa_int_text_check.  Accounts, labels and issuers all pass through it.
 */
mfa_rc mfa_int_text_field(const char *s, size_t max, int required);

/* 1 for a factor id: exactly MFA_FACTOR_ID_LEN lowercase hex digits. */
int mfa_int_factor_id_ok(const char *s);

/*
 * An out-of-band purpose: 1..MFA_OOB_PURPOSE_MAX characters of
 * [A-Za-z0-9._-] ("sms", "email").  MFA_ERR_INVALID (also for NULL),
 * MFA_ERR_EMPTY, MFA_ERR_TOO_LONG.
 */
mfa_rc mfa_int_purpose_check(const char *p);

/* 1 for an RFC 3986 unreserved character (ALPHA DIGIT - . _ ~). */
int mfa_int_unreserved(unsigned char c);

/*
 * Percent-encode s[0..n) into out (at most outsize bytes, NUL included),
 * keeping unreserved characters and those in `keep` (may be NULL); hex
 * digits uppercase.  *outlen (may be NULL) gets the length without NUL.
 * MFA_ERR_BUFFER when it does not fit.
 */
mfa_rc mfa_int_pct_encode(const char *s, size_t n, const char *keep, char *out,
                          size_t outsize, size_t *outlen);

/* Bytes mfa_int_pct_encode may write for n input bytes, NUL included. */
size_t mfa_int_pct_encoded_max(size_t n);

/*
 * Decode %XX escapes of s[0..n) into out[outsize] with a NUL; '+' stays
 * '+'.  MFA_ERR_URI_ENCODING for a '%' not followed by two hex digits,
 * MFA_ERR_BUFFER when it does not fit.  *outlen gets the decoded length
 * (a decoded NUL is reported as MFA_ERR_CONTROL_CHAR).
 */
mfa_rc mfa_int_pct_decode(const char *s, size_t n, char *out, size_t outsize,
                          size_t *outlen);

#endif /* MFA_TEXT_H */
