/* Error strings, initialisation, version, frees. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "config.h"
#include "internal.h"

struct err_entry {
    int rc;
    const char *name;
    const char *text;
};

#define E(code, text)                                                          \
    {                                                                          \
        code, #code, text                                                      \
    }
static const struct err_entry errors[] = {
    E(MFA_OK, "success"),
    E(MFA_ERR_INVALID, "invalid argument"),
    E(MFA_ERR_NOMEM, "out of memory"),
    E(MFA_ERR_INTERNAL, "internal error"),
    E(MFA_ERR_UNSUPPORTED, "feature not built into this library"),
    E(MFA_ERR_BUFFER, "output buffer too small"),
    E(MFA_ERR_CODE_FORMAT, "code is not the expected number of digits"),
    E(MFA_ERR_CODE_WRONG, "code does not match"),
    E(MFA_ERR_REPLAYED, "code was already used"),
    E(MFA_ERR_DIGITS, "digits must be between 6 and 10"),
    E(MFA_ERR_PERIOD, "period must be between 1 and 86400 seconds"),
    E(MFA_ERR_ALGORITHM, "unknown hash algorithm"),
    E(MFA_ERR_WINDOW, "window or range is above its maximum"),
    E(MFA_ERR_TIME, "time is before the factor's T0"),
    E(MFA_ERR_COUNTER, "HOTP counter would overflow"),
    E(MFA_ERR_TYPE, "operation does not fit the factor type"),
    E(MFA_ERR_THROTTLED, "too many attempts, try again later"),
    E(MFA_ERR_BASE32_CHAR, "invalid base32 character"),
    E(MFA_ERR_BASE32_LENGTH, "invalid base32 length or padding"),
    E(MFA_ERR_SECRET_SHORT, "secret is too short"),
    E(MFA_ERR_SECRET_LONG, "secret is too long"),
    E(MFA_ERR_KEYRING_FORMAT, "key ring is malformed"),
    E(MFA_ERR_KEYRING_PERMS,
      "key ring file is accessible by other users or not a regular file"),
    E(MFA_ERR_KEYRING_EMPTY, "key ring has no current key"),
    E(MFA_ERR_KEY_UNKNOWN, "sealed with a key that is not in the key ring"),
    E(MFA_ERR_SEALED_FORMAT, "sealed secret has a bad version or length"),
    E(MFA_ERR_SEALED_AUTH, "sealed secret failed authentication"),
    E(MFA_ERR_IO, "file could not be read or written"),
    E(MFA_ERR_KEY_EXISTS, "key id is already in the key ring"),
    E(MFA_ERR_KEYRING_OWNER,
      "key ring file or a directory above it is owned by another user"),
    E(MFA_ERR_KEYRING_WRITABLE, "key ring file or a directory above it is "
                                "writable by group or others"),
    E(MFA_ERR_URI_SCHEME, "URI scheme is not otpauth"),
    E(MFA_ERR_URI_TYPE, "URI type is not totp or hotp"),
    E(MFA_ERR_URI_SECRET, "URI secret is missing or not valid base32"),
    E(MFA_ERR_URI_LABEL, "URI label is missing or malformed"),
    E(MFA_ERR_URI_PARAM, "URI parameter is malformed or repeated"),
    E(MFA_ERR_URI_ISSUER, "URI issuer prefix and parameter disagree"),
    E(MFA_ERR_URI_TOO_LONG, "URI is too long"),
    E(MFA_ERR_URI_ENCODING, "URI has a bad percent-encoding"),
    E(MFA_ERR_URI_COUNTER, "HOTP URI needs a valid counter"),
    E(MFA_ERR_COLON, "issuer or account contains a colon"),
    E(MFA_ERR_UTF8, "text is not valid UTF-8"),
    E(MFA_ERR_CONTROL_CHAR, "text contains a control character"),
    E(MFA_ERR_TOO_LONG, "text is too long"),
    E(MFA_ERR_EMPTY, "required text is empty"),
    E(MFA_ERR_IMAGE_URL, "image must be an https URL"),
    E(MFA_ERR_PROFILE, "unknown profile"),
    E(MFA_ERR_QR, "data does not fit in a QR code"),
    E(MFA_ERR_LEADING_SPACE, "account starts with a space"),
    E(MFA_ERR_FORMAT_CHAR,
      "text contains an invisible format character (zero-width, bidi, BOM)"),
    E(MFA_ERR_NONCHARACTER, "text contains a Unicode noncharacter"),
    E(MFA_ERR_BACKUP_FORMAT, "backup code is malformed"),
    E(MFA_ERR_EXPIRED, "code or enrollment has expired"),
    E(MFA_ERR_ATTEMPTS, "no attempts left for this code"),
    E(MFA_ERR_NO_CODES, "no unused backup codes left"),
    E(MFA_ERR_DEVICE_FORMAT, "device token is malformed"),
    E(MFA_ERR_DEVICE_UNKNOWN, "device token is not one of this account"),
    E(MFA_ERR_DEVICE_UNTRUSTED, "device must still give a second factor"),
    E(MFA_ERR_STORE, "store failed"),
    E(MFA_ERR_NOT_FOUND, "not found"),
    E(MFA_ERR_EXISTS, "already exists"),
    E(MFA_ERR_SCHEMA, "store schema is newer than this library"),
    E(MFA_ERR_STATE, "factor is not in the required state"),
    E(MFA_ERR_NO_FACTOR, "account has no active factor"),
    E(MFA_ERR_BUSY, "store is busy"),
    E(MFA_ERR_CORRUPT, "stored data is corrupt"),
    E(MFA_ERR_READONLY, "store is read-only or full"),
    E(MFA_ERR_NO_STORE,
      "the store does not exist (create it with mfa migrate)"),
    E(MFA_ERR_NO_SCHEMA,
      "the database has no libmfa schema (create it with mfa migrate)"),
    E(MFA_ERR_SCHEMA_OLD,
      "the store's schema is older than this library (run mfa migrate)"),
    E(MFA_ERR_WEBAUTHN_JSON, "WebAuthn response is not well-formed"),
    E(MFA_ERR_WEBAUTHN_TOO_LARGE, "WebAuthn input is above its size limit"),
    E(MFA_ERR_WEBAUTHN_TYPE, "WebAuthn response has the wrong type"),
    E(MFA_ERR_WEBAUTHN_CHALLENGE,
      "WebAuthn response is not for the challenge issued"),
    E(MFA_ERR_WEBAUTHN_ORIGIN, "WebAuthn response comes from an origin that "
                               "is not allowed"),
    E(MFA_ERR_WEBAUTHN_CROSS_ORIGIN,
      "WebAuthn response was made in a cross-origin frame"),
    E(MFA_ERR_WEBAUTHN_RP_ID, "WebAuthn response is for another rp id"),
    E(MFA_ERR_WEBAUTHN_USER_PRESENCE, "authenticator saw no user presence"),
    E(MFA_ERR_WEBAUTHN_USER_VERIFICATION,
      "user verification is required but was not done"),
    E(MFA_ERR_WEBAUTHN_FLAGS, "authenticator data flags are inconsistent"),
    E(MFA_ERR_WEBAUTHN_CBOR,
      "attestation object or authenticator data is malformed"),
    E(MFA_ERR_WEBAUTHN_CREDENTIAL_ID,
      "credential id is malformed or of a bad length"),
    E(MFA_ERR_WEBAUTHN_ALGORITHM, "credential key algorithm is not allowed"),
    E(MFA_ERR_WEBAUTHN_ATT_FORMAT, "attestation format is not supported"),
    E(MFA_ERR_WEBAUTHN_ATTESTATION, "attestation statement does not verify"),
    E(MFA_ERR_WEBAUTHN_SIGNATURE, "assertion signature does not verify"),
    E(MFA_ERR_WEBAUTHN_UNKNOWN_CREDENTIAL,
      "assertion is from another credential"),
    E(MFA_ERR_WEBAUTHN_USER_HANDLE, "user handle is wrong or missing"),
    E(MFA_ERR_WEBAUTHN_CLONED,
      "signature counter did not increase: a cloned authenticator"),
    E(MFA_ERR_WEBAUTHN_PUBLIC_KEY,
      "credential public key is malformed or unusable"),
};
#undef E

static const struct err_entry *
find(int rc)
{
    for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
        if (errors[i].rc == rc)
            return &errors[i];
    return NULL;
}

const char *
mfa_strerror(int rc)
{
    const struct err_entry *e = find(rc);
    return e ? e->text : "unknown error";
}

const char *
mfa_strerror_name(int rc)
{
    const struct err_entry *e = find(rc);
    return e ? e->name : "MFA_ERR_UNKNOWN";
}

mfa_rc
mfa_int_init(void)
{
    /* 0: initialised now, 1: already initialised, -1: failure */
    return sodium_init() < 0 ? MFA_ERR_INTERNAL : MFA_OK;
}

mfa_rc
mfa_init(void)
{
    return mfa_int_init();
}

const char *
mfa_version(void)
{
    return MFA_VERSION_STRING;
}

unsigned
mfa_version_number(void)
{
    return (MFA_VERSION_MAJOR << 16) | (MFA_VERSION_MINOR << 8) |
           MFA_VERSION_PATCH;
}

void
mfa_free(void *p)
{
    free(p);
}

void
mfa_string_free(char **s)
{
    if (s == NULL || *s == NULL)
        return;
    sodium_memzero(*s, strlen(*s));
    free(*s);
    *s = NULL;
}

int
mfa_int_ct_equal(const void *a, const void *b, size_t n)
{
    return sodium_memcmp(a, b, n) == 0;
}
