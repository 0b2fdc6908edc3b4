/* libmfa: server-side multi-factor authentication.  The umbrella header. */
#ifndef MFA_H
#define MFA_H

#include <mfa/err.h>
#include <mfa/otp.h>
#include <mfa/secret.h>
#include <mfa/uri.h>
#include <mfa/qr.h>
#include <mfa/backup.h>
#include <mfa/store.h>
#include <mfa/service.h>
#include <mfa/device.h>
#include <mfa/webauthn.h>

#endif /* MFA_H */
