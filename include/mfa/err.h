/*
 * libmfa: error codes, library initialisation and version.
 *
 * Every fallible function returns an mfa_rc: MFA_OK (0) on success, a
 * negative MFA_ERR_* value otherwise.  Verification functions return MFA_OK
 * only for an accepted code, so a caller that checks `!= MFA_OK` fails
 * closed.
 */
#ifndef MFA_ERR_H
#define MFA_ERR_H

#include <mfa/version.h>

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(MFA_BUILDING) && (defined(__GNUC__) || defined(__clang__))
#define MFA_API __attribute__((visibility("default")))
#else
#define MFA_API
#endif

#if defined(__GNUC__) || defined(__clang__)
#define MFA_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define MFA_WARN_UNUSED
#endif

/*
 * Error codes.  The numbers are part of the ABI: they never change, and new
 * codes are only appended.  Ranges: -1..-19 general and OTP, -20..-39 base32,
 * secrets, key ring and sealing, -40..-69 URIs, profiles and QR codes,
 * -70..-89 recovery, -90..-109 store and service, -110..-129 WebAuthn.
 */
typedef enum mfa_rc {
    MFA_OK = 0,

    /* general */
    MFA_ERR_INVALID = -1,     /* bad argument: NULL, out of range */
    MFA_ERR_NOMEM = -2,       /* memory allocation failed */
    MFA_ERR_INTERNAL = -3,    /* a library bug or a failing primitive */
    MFA_ERR_UNSUPPORTED = -4, /* feature not built into this library */
    MFA_ERR_BUFFER = -5,      /* output buffer too small */

    /* OTP */
    MFA_ERR_CODE_FORMAT = -6, /* code is not exactly `digits` digits */
    MFA_ERR_CODE_WRONG = -7,  /* well-formed code that does not verify */
    MFA_ERR_REPLAYED = -8,    /* code at or below the last accepted step */
    MFA_ERR_DIGITS = -9,      /* digits outside 6..10 */
    MFA_ERR_PERIOD = -10,     /* period 0 or above the maximum */
    MFA_ERR_ALGORITHM = -11,  /* unknown hash algorithm */
    MFA_ERR_WINDOW = -12,     /* window or range above its cap */
    MFA_ERR_TIME = -13,       /* time before T0 */
    MFA_ERR_COUNTER = -14,    /* HOTP counter would overflow */
    MFA_ERR_TYPE = -15,       /* operation does not fit the factor type */
    MFA_ERR_THROTTLED = -16,  /* too many attempts: wait and retry */

    /* base32, secrets, key ring, sealing */
    MFA_ERR_BASE32_CHAR = -20,    /* a character outside the alphabet */
    MFA_ERR_BASE32_LENGTH = -21,  /* impossible length or misplaced '=' */
    MFA_ERR_SECRET_SHORT = -22,   /* secret below the minimum size */
    MFA_ERR_SECRET_LONG = -23,    /* secret above 64 bytes */
    MFA_ERR_KEYRING_FORMAT = -24, /* key ring file is malformed */
    MFA_ERR_KEYRING_PERMS = -25,  /* readable by others, or not a file */
    MFA_ERR_KEYRING_EMPTY = -26,  /* no current key for sealing */
    MFA_ERR_KEY_UNKNOWN = -27,    /* sealed with a key id not in the ring */
    MFA_ERR_SEALED_FORMAT = -28,  /* sealed blob: bad version or length */
    MFA_ERR_SEALED_AUTH = -29,    /* sealed blob fails authentication */
    MFA_ERR_IO = -30,             /* file could not be read or written */
    MFA_ERR_KEY_EXISTS = -31,     /* key id already in the ring */
    MFA_ERR_KEYRING_OWNER = -32,  /* it or a directory above: other owner */
    /* the key ring or a directory above it is writable by group or others */
    MFA_ERR_KEYRING_WRITABLE = -33,

    /* URIs, profiles, QR codes */
    MFA_ERR_URI_SCHEME = -40,    /* not otpauth:// */
    MFA_ERR_URI_TYPE = -41,      /* type other than totp/hotp */
    MFA_ERR_URI_SECRET = -42,    /* secret missing or not base32 */
    MFA_ERR_URI_LABEL = -43,     /* label missing or malformed */
    MFA_ERR_URI_PARAM = -44,     /* malformed or repeated parameter */
    MFA_ERR_URI_ISSUER = -45,    /* issuer prefix and parameter disagree */
    MFA_ERR_URI_TOO_LONG = -46,  /* input above the URI length limit */
    MFA_ERR_URI_ENCODING = -47,  /* bad percent-encoding */
    MFA_ERR_URI_COUNTER = -48,   /* hotp without a valid counter */
    MFA_ERR_COLON = -49,         /* ':' in an issuer or account */
    MFA_ERR_UTF8 = -50,          /* invalid UTF-8 */
    MFA_ERR_CONTROL_CHAR = -51,  /* control character in a text field */
    MFA_ERR_TOO_LONG = -52,      /* text field above its length limit */
    MFA_ERR_EMPTY = -53,         /* required text field is empty */
    MFA_ERR_IMAGE_URL = -54,     /* image is not an https URL */
    MFA_ERR_PROFILE = -55,       /* unknown profile name */
    MFA_ERR_QR = -56,            /* data does not fit a QR symbol */
    MFA_ERR_LEADING_SPACE = -57, /* account starts with a space */
    MFA_ERR_FORMAT_CHAR = -58,   /* invisible format character (Cf) */
    MFA_ERR_NONCHARACTER = -59,  /* Unicode noncharacter in a text field */

    /* recovery */
    MFA_ERR_BACKUP_FORMAT = -70, /* typed backup code is malformed */
    MFA_ERR_EXPIRED = -71,       /* challenge or pending factor expired */
    MFA_ERR_ATTEMPTS = -72,      /* challenge out of attempts */
    MFA_ERR_NO_CODES = -73,      /* no unused backup codes left */

    /* known devices */
    MFA_ERR_DEVICE_FORMAT = -76,    /* device token is malformed */
    MFA_ERR_DEVICE_UNKNOWN = -77,   /* not a device of this account */
    MFA_ERR_DEVICE_UNTRUSTED = -78, /* known device, not trusted to skip */

    /* store and service */
    MFA_ERR_STORE = -90,       /* the store failed; nothing accepted */
    MFA_ERR_NOT_FOUND = -91,   /* no such account, factor or challenge */
    MFA_ERR_EXISTS = -92,      /* the record exists already */
    MFA_ERR_SCHEMA = -93,      /* schema newer than this library */
    MFA_ERR_STATE = -94,       /* factor is not in the needed state */
    MFA_ERR_NO_FACTOR = -95,   /* account has no active factor */
    MFA_ERR_BUSY = -96,        /* store busy or locked past the timeout */
    MFA_ERR_CORRUPT = -97,     /* stored data is corrupt */
    MFA_ERR_READONLY = -98,    /* store is read-only or full */
    MFA_ERR_NO_STORE = -99,    /* the store does not exist: create it */
    MFA_ERR_NO_SCHEMA = -100,  /* the database has no libmfa schema */
    MFA_ERR_SCHEMA_OLD = -101, /* schema older than this library: migrate */

    /* WebAuthn (passkeys and security keys) */
    MFA_ERR_WEBAUTHN_JSON = -110,          /* response JSON malformed */
    MFA_ERR_WEBAUTHN_TOO_LARGE = -111,     /* input above its size limit */
    MFA_ERR_WEBAUTHN_TYPE = -112,          /* wrong clientData or key type */
    MFA_ERR_WEBAUTHN_CHALLENGE = -113,     /* not the challenge issued */
    MFA_ERR_WEBAUTHN_ORIGIN = -114,        /* origin not allowed */
    MFA_ERR_WEBAUTHN_CROSS_ORIGIN = -115,  /* made in a cross-origin frame */
    MFA_ERR_WEBAUTHN_RP_ID = -116,         /* rpIdHash of another rp id */
    MFA_ERR_WEBAUTHN_USER_PRESENCE = -117, /* UP flag not set */
    MFA_ERR_WEBAUTHN_USER_VERIFICATION = -118, /* UV required, not set */
    MFA_ERR_WEBAUTHN_FLAGS = -119,             /* AT/BE/BS flags inconsistent */
    MFA_ERR_WEBAUTHN_CBOR = -120,          /* attestation/authData malformed */
    MFA_ERR_WEBAUTHN_CREDENTIAL_ID = -121, /* id length or id/rawId */
    MFA_ERR_WEBAUTHN_ALGORITHM = -122,     /* key algorithm not allowed */
    MFA_ERR_WEBAUTHN_ATT_FORMAT = -123,    /* attestation format unsupported */
    MFA_ERR_WEBAUTHN_ATTESTATION = -124,   /* attestation statement invalid */
    MFA_ERR_WEBAUTHN_SIGNATURE = -125,     /* assertion signature invalid */
    MFA_ERR_WEBAUTHN_UNKNOWN_CREDENTIAL = -126, /* not the stored one */
    MFA_ERR_WEBAUTHN_USER_HANDLE = -127, /* user handle wrong or missing */
    MFA_ERR_WEBAUTHN_CLONED = -128,      /* sign count did not increase */
    MFA_ERR_WEBAUTHN_PUBLIC_KEY = -129,  /* COSE key malformed/unusable */
} mfa_rc;

/* A short English sentence for rc; never NULL, also for unknown values. */
MFA_API const char *mfa_strerror(int rc);

/* The symbolic name of rc ("MFA_ERR_REPLAYED"); never NULL. */
MFA_API const char *mfa_strerror_name(int rc);

/*
 * Initialise the library (libsodium's RNG and guarded memory).  Safe to call
 * many times and from several threads; every constructor calls it, so an
 * explicit call is only needed to fail early.
 */
MFA_API mfa_rc mfa_init(void) MFA_WARN_UNUSED;

/* The version of the library actually linked, e.g. "0.1.0". */
MFA_API const char *mfa_version(void);
/* (major << 16) | (minor << 8) | patch of the library actually linked. */
MFA_API unsigned mfa_version_number(void);

/* Free memory returned by libmfa that holds no secret. NULL is fine. */
MFA_API void mfa_free(void *p);
/*
 * Wipe and free a string that may hold a secret (URI, base32 key, backup
 * code) and set *s to NULL.  NULL and *s == NULL are fine.
 */
MFA_API void mfa_string_free(char **s);

#ifdef __cplusplus
}
#endif

#endif /* MFA_ERR_H */
