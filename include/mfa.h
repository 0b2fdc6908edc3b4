/* libmfa: server-side multi-factor authentication.  The umbrella header. */
#ifndef MFA_H
#define MFA_H

#include <mfa/err.h>
#include <mfa/otp.h>
#include <mfa/secret.h>

#endif /* MFA_H */
