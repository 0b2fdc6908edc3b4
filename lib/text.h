/* Text helpers for key URIs: UTF-8 checks and RFC 3986 percent-encoding. */
#ifndef MFA_TEXT_H
#define MFA_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include <mfa/err.h>

/*
 * Check s[0..n) for a user-visible text field: MFA_ERR_UTF8 for invalid
 * UTF-8 (overlong forms, surrogates and code points above U+10FFFF
 * included), MFA_ERR_CONTROL_CHAR for C0, DEL or C1 controls.
 */
mfa_rc mfa_int_text_check(const char *s, size_t n);

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
