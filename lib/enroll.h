/* Internals shared by uri.c and lint.c; never installed. */
#ifndef MFA_ENROLL_H
#define MFA_ENROLL_H

#include <mfa/uri.h>

/*
 * The MFA_URI_WARN_* bits mfa_uri_parse reported for u (0 for a URI built
 * with mfa_uri_new): the lint judges the text as it was written.
 */
unsigned mfa_int_uri_warnings(const mfa_uri_t *u);

#endif /* MFA_ENROLL_H */
