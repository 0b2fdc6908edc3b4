/*
 * libmfa: passkeys and security keys (WebAuthn), the relying party's side.
 *
 * A caller's-state layer, like mfa/otp.h: the caller keeps the challenge it
 * issued and the credential records it registered, passes them in, and gets
 * a verdict and the new state back.  Nothing here touches a store; making
 * a challenge single-use and saving the new sign count is the caller's job
 * (the service layer's, later).
 *
 *   registration: mfa_webauthn_register_options -> JSON for
 *     navigator.credentials.create; the browser's response JSON ->
 *     mfa_webauthn_register_verify -> an mfa_webauthn_credential to store.
 *   login: mfa_webauthn_login_options -> JSON for navigator.credentials.get;
 *     the response -> (mfa_webauthn_login_lookup to find the stored record
 *     when no user name was typed) -> mfa_webauthn_login_verify against it
 *     -> the new sign count to store.
 *
 * Binary values in the JSON are base64url without padding, as the
 * browser's toJSON() and parse*OptionsFromJSON() use.  Every input has a
 * fixed size limit; bad input gets an MFA_ERR_WEBAUTHN_* code.
 *
 * An mfa_webauthn_rp_t may be shared by threads for options and
 * verification as long as no setter runs at the same time.
 *
 * The service flows at the end (mfa_webauthn_register_begin, ...) do the
 * caller's part with the ctx's store: single-use challenges, credentials
 * as factors of the account, throttling, sign counts and device tokens.
 *
 * Built without libfido2, libcbor or json-c (-Dwebauthn=disabled), every
 * function returns MFA_ERR_UNSUPPORTED.
 */
#ifndef MFA_WEBAUTHN_H
#define MFA_WEBAUTHN_H

#include <mfa/device.h>
#include <mfa/err.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Size limits of every input (bytes). */
#define MFA_WEBAUTHN_JSON_MAX 65536       /* a response's JSON text */
#define MFA_WEBAUTHN_CLIENT_DATA_MAX 4096 /* decoded clientDataJSON */
#define MFA_WEBAUTHN_ATT_OBJECT_MAX 32768 /* decoded attestationObject */
#define MFA_WEBAUTHN_AUTH_DATA_MAX 4096   /* decoded authenticatorData */
#define MFA_WEBAUTHN_SIGNATURE_MAX 512    /* decoded signature */
#define MFA_WEBAUTHN_CHALLENGE_MIN 16
#define MFA_WEBAUTHN_CHALLENGE_MAX 64
#define MFA_WEBAUTHN_CHALLENGE_DEFAULT 32
#define MFA_WEBAUTHN_CRED_ID_MIN 16     /* below: not enough entropy */
#define MFA_WEBAUTHN_CRED_ID_MAX 1023   /* WebAuthn's own limit */
#define MFA_WEBAUTHN_PUBLIC_KEY_MAX 512 /* COSE key (RSA-2048 ~ 272) */
#define MFA_WEBAUTHN_USER_HANDLE_MAX 64 /* WebAuthn's own limit */
#define MFA_WEBAUTHN_AAGUID_BYTES 16
#define MFA_WEBAUTHN_RP_ID_MAX 253 /* a DNS name */
#define MFA_WEBAUTHN_ORIGIN_MAX 512
#define MFA_WEBAUTHN_ORIGINS_MAX 16 /* allowed origins per rp */
#define MFA_WEBAUTHN_NAME_MAX 256   /* rp name, user names */
#define MFA_WEBAUTHN_LIST_MAX 64    /* exclude/allow descriptors */

/* COSE algorithm identifiers (IANA). */
typedef enum mfa_webauthn_alg {
    MFA_WEBAUTHN_ES256 = -7,
    MFA_WEBAUTHN_EDDSA = -8,
    MFA_WEBAUTHN_RS256 = -257,
} mfa_webauthn_alg;
/* Bits of mfa_webauthn_rp_set_algorithms. */
#define MFA_WEBAUTHN_ALG_ES256 0x1u
#define MFA_WEBAUTHN_ALG_EDDSA 0x2u
#define MFA_WEBAUTHN_ALG_RS256 0x4u
#define MFA_WEBAUTHN_ALG_ALL 0x7u

typedef enum mfa_webauthn_uv {
    MFA_WEBAUTHN_UV_PREFERRED = 0, /* default */
    MFA_WEBAUTHN_UV_REQUIRED = 1,  /* UV flag checked on every response */
    MFA_WEBAUTHN_UV_DISCOURAGED = 2,
} mfa_webauthn_uv;

typedef enum mfa_webauthn_resident_key {
    MFA_WEBAUTHN_RK_PREFERRED = 0, /* default: passkeys where possible */
    MFA_WEBAUTHN_RK_REQUIRED = 1,  /* needed for logins without a name */
    MFA_WEBAUTHN_RK_DISCOURAGED = 2,
} mfa_webauthn_resident_key;

/* Attestation conveyance asked for in the creation options. */
typedef enum mfa_webauthn_conveyance {
    MFA_WEBAUTHN_CONVEY_NONE = 0, /* default */
    MFA_WEBAUTHN_CONVEY_INDIRECT = 1,
    MFA_WEBAUTHN_CONVEY_DIRECT = 2,
} mfa_webauthn_conveyance;

/* Attestation statement format of a registration. */
typedef enum mfa_webauthn_fmt {
    MFA_WEBAUTHN_FMT_NONE = 0,
    MFA_WEBAUTHN_FMT_PACKED = 1,
    MFA_WEBAUTHN_FMT_FIDO_U2F = 2,
} mfa_webauthn_fmt;

/* What the attestation proved. */
typedef enum mfa_webauthn_trust {
    MFA_WEBAUTHN_TRUST_NONE = 0, /* no attestation ("none") */
    MFA_WEBAUTHN_TRUST_SELF = 1, /* signed by the credential key itself */
    /* signed by the certificate in x5c, whose chain was not checked
     * against trust anchors (libmfa has none): the model is a claim */
    MFA_WEBAUTHN_TRUST_UNVERIFIED = 2,
} mfa_webauthn_trust;

/* Transports (bits), from the response's getTransports(). */
#define MFA_WEBAUTHN_TRANSPORT_USB 0x01u
#define MFA_WEBAUTHN_TRANSPORT_NFC 0x02u
#define MFA_WEBAUTHN_TRANSPORT_BLE 0x04u
#define MFA_WEBAUTHN_TRANSPORT_INTERNAL 0x08u
#define MFA_WEBAUTHN_TRANSPORT_HYBRID 0x10u
#define MFA_WEBAUTHN_TRANSPORT_SMART_CARD 0x20u

/* Authenticator data flags (the bits of the flags byte). */
#define MFA_WEBAUTHN_FLAG_UP 0x01u /* user present */
#define MFA_WEBAUTHN_FLAG_UV 0x04u /* user verified */
#define MFA_WEBAUTHN_FLAG_BE 0x08u /* backup eligible (a synced passkey) */
#define MFA_WEBAUTHN_FLAG_BS 0x10u /* backed up */
#define MFA_WEBAUTHN_FLAG_AT 0x40u /* attested credential data */
#define MFA_WEBAUTHN_FLAG_ED 0x80u /* extension data */

/*
 * A registered credential: what the caller stores, and passes back to
 * mfa_webauthn_login_verify.  Nothing in it is secret.  A plain struct of
 * fixed size so that a store can map it to columns; its layout is part of
 * the ABI and never changes (a later version adds a new struct).
 */
typedef struct mfa_webauthn_credential {
    uint8_t id[MFA_WEBAUTHN_CRED_ID_MAX];
    size_t id_len;
    /* the COSE_Key exactly as the authenticator sent it */
    uint8_t public_key[MFA_WEBAUTHN_PUBLIC_KEY_MAX];
    size_t public_key_len;
    int32_t algorithm; /* an mfa_webauthn_alg */
    uint32_t sign_count;
    unsigned transports; /* MFA_WEBAUTHN_TRANSPORT_* */
    unsigned flags;      /* MFA_WEBAUTHN_FLAG_* of the registration */
    uint8_t aaguid[MFA_WEBAUTHN_AAGUID_BYTES];
    mfa_webauthn_fmt attestation_format;
    mfa_webauthn_trust attestation_trust;
    /* the account's user handle given at registration */
    uint8_t user_handle[MFA_WEBAUTHN_USER_HANDLE_MAX];
    size_t user_handle_len;
} mfa_webauthn_credential;

/* A credential named in excludeCredentials or allowCredentials. */
typedef struct mfa_webauthn_descriptor {
    const uint8_t *id;
    size_t id_len;
    unsigned transports; /* 0: none listed */
} mfa_webauthn_descriptor;

/* What an accepted assertion tells the caller. */
typedef struct mfa_webauthn_assertion {
    uint32_t sign_count; /* store it as the credential's new count */
    unsigned flags;      /* MFA_WEBAUTHN_FLAG_* of this assertion */
    uint8_t user_handle[MFA_WEBAUTHN_USER_HANDLE_MAX];
    size_t user_handle_len; /* 0: the response carried none */
} mfa_webauthn_assertion;

/*
 * The identifiers of an assertion response, UNVERIFIED: for finding the
 * stored credential (and the account, by user handle) before
 * mfa_webauthn_login_verify decides.
 */
typedef struct mfa_webauthn_lookup {
    uint8_t credential_id[MFA_WEBAUTHN_CRED_ID_MAX];
    size_t credential_id_len;
    uint8_t user_handle[MFA_WEBAUTHN_USER_HANDLE_MAX];
    size_t user_handle_len; /* 0: none in the response */
} mfa_webauthn_lookup;

/* Flags of mfa_webauthn_login_verify. */
/* the login was discoverable (empty allowCredentials): the response must
 * carry a user handle */
#define MFA_WEBAUTHN_LOGIN_DISCOVERABLE 0x1u

/* ---- relying party configuration ------------------------------------- */

typedef struct mfa_webauthn_rp mfa_webauthn_rp_t;

/*
 * A relying party for rp_id (a domain such as "example.com", or
 * "localhost") named name.  Defaults: the only allowed origin is
 * https://RP_ID until origins are added, user verification preferred,
 * resident key preferred, ES256, EdDSA and RS256, attestation "none",
 * timeout 300000 ms.
 */
MFA_API mfa_rc mfa_webauthn_rp_new(mfa_webauthn_rp_t **out, const char *rp_id,
                                   const char *name) MFA_WARN_UNUSED;
/* Free *rp and set it to NULL; NULL is fine. */
MFA_API void mfa_webauthn_rp_free(mfa_webauthn_rp_t **rp);
/*
 * Allow an origin ("https://login.example.com", "http://localhost:8080"):
 * https with a host that is the rp id or under it, or http on localhost.
 * Compared exactly with clientDataJSON's origin.
 */
MFA_API mfa_rc mfa_webauthn_rp_add_origin(mfa_webauthn_rp_t *rp,
                                          const char *origin);
MFA_API mfa_rc mfa_webauthn_rp_set_user_verification(mfa_webauthn_rp_t *rp,
                                                     mfa_webauthn_uv uv);
MFA_API mfa_rc mfa_webauthn_rp_set_resident_key(mfa_webauthn_rp_t *rp,
                                                mfa_webauthn_resident_key rk);
/* MFA_WEBAUTHN_ALG_* bits, at least one. */
MFA_API mfa_rc mfa_webauthn_rp_set_algorithms(mfa_webauthn_rp_t *rp,
                                              unsigned algs);
MFA_API mfa_rc mfa_webauthn_rp_set_attestation(mfa_webauthn_rp_t *rp,
                                               mfa_webauthn_conveyance c);
/* 1000 .. 600000 ms */
MFA_API mfa_rc mfa_webauthn_rp_set_timeout(mfa_webauthn_rp_t *rp, uint32_t ms);

/* Fill buf[len] (MFA_WEBAUTHN_CHALLENGE_MIN..MAX) with random bytes. */
MFA_API mfa_rc mfa_webauthn_challenge_new(uint8_t *buf,
                                          size_t len) MFA_WARN_UNUSED;

/* "none", "packed", "fido-u2f"; NULL for an unknown value. */
MFA_API const char *mfa_webauthn_fmt_name(mfa_webauthn_fmt fmt);

/* ---- registration ----------------------------------------------------- */

/*
 * PublicKeyCredentialCreationOptions as JSON in *json (free with
 * mfa_free).  user_handle: the account's random handle (1..64 bytes,
 * never the account name); user_name and display_name: what the
 * authenticator shows; challenge: fresh random bytes the caller keeps for
 * mfa_webauthn_register_verify; exclude: the account's credentials.
 */
MFA_API mfa_rc mfa_webauthn_register_options(
    const mfa_webauthn_rp_t *rp, const uint8_t *user_handle,
    size_t user_handle_len, const char *user_name, const char *display_name,
    const uint8_t *challenge, size_t challenge_len,
    const mfa_webauthn_descriptor *exclude, size_t n_exclude,
    char **json) MFA_WARN_UNUSED;

/*
 * Verify the browser's registration response (the PublicKeyCredential's
 * toJSON(), response_len bytes) against the challenge issued for it, and
 * fill *out with the credential to store (user_handle copied into it).
 * MFA_OK only for an accepted registration; *out is zeroed otherwise.
 */
MFA_API mfa_rc mfa_webauthn_register_verify(
    const mfa_webauthn_rp_t *rp, const uint8_t *challenge, size_t challenge_len,
    const uint8_t *user_handle, size_t user_handle_len, const char *response,
    size_t response_len, mfa_webauthn_credential *out) MFA_WARN_UNUSED;

/* ---- authentication --------------------------------------------------- */

/*
 * PublicKeyCredentialRequestOptions as JSON in *json (free with
 * mfa_free).  allow: the account's credentials, or n_allow 0 for a login
 * with a discoverable credential (no user name typed).
 */
MFA_API mfa_rc mfa_webauthn_login_options(const mfa_webauthn_rp_t *rp,
                                          const uint8_t *challenge,
                                          size_t challenge_len,
                                          const mfa_webauthn_descriptor *allow,
                                          size_t n_allow,
                                          char **json) MFA_WARN_UNUSED;

/*
 * The credential id and user handle of an assertion response, not
 * verified: only for looking up the stored credential.
 */
MFA_API mfa_rc
mfa_webauthn_login_lookup(const char *response, size_t response_len,
                          mfa_webauthn_lookup *out) MFA_WARN_UNUSED;

/*
 * Verify an assertion response against the challenge issued for it and
 * the stored credential.  A sign count that does not increase while
 * either count is non-zero is a cloned authenticator
 * (MFA_ERR_WEBAUTHN_CLONED).  flags: MFA_WEBAUTHN_LOGIN_*.  MFA_OK only
 * for an accepted assertion, with *out filled (store out->sign_count);
 * *out is zeroed otherwise.
 */
MFA_API mfa_rc mfa_webauthn_login_verify(
    const mfa_webauthn_rp_t *rp, const uint8_t *challenge, size_t challenge_len,
    const char *response, size_t response_len,
    const mfa_webauthn_credential *stored, unsigned flags,
    mfa_webauthn_assertion *out) MFA_WARN_UNUSED;

/* ---- the service flows ------------------------------------------------- */

/*
 * Passkeys as factors of an account, with the ctx's store, key ring, clock,
 * throttle and events (mfa/service.h).  A challenge is 45 bytes the ctx
 * makes and authenticates with its key ring (kind, ring key id, expiry, a
 * random nonce, a tag over them and the account): beginning a login or a
 * registration writes nothing to the store, and a finish spends the
 * challenge's nonce in the flow's one transaction, so a response is
 * accepted once.  The challenge lives for the rp's timeout.
 */
#define MFA_WEBAUTHN_CREDS_MAX 16 /* passkeys per account */
#define MFA_WEBAUTHN_FLOW_CHALLENGE_LEN 45

/*
 * Use rp for the ctx's passkey flows; NULL turns them off (they return
 * MFA_ERR_STATE).  The ctx does not own rp: it must outlive the ctx and no
 * setter of rp may run while flows do.
 */
MFA_API mfa_rc mfa_ctx_set_webauthn(mfa_ctx_t *ctx, const mfa_webauthn_rp_t *rp)
    MFA_WARN_UNUSED;

/* What a settings page shows of a passkey or security key. */
typedef struct mfa_webauthn_info {
    char factor_id[MFA_FACTOR_ID_LEN + 1];
    char label[MFA_LABEL_MAX + 1];
    int32_t algorithm;   /* an mfa_webauthn_alg */
    unsigned transports; /* MFA_WEBAUTHN_TRANSPORT_* */
    unsigned flags; /* of the registration: FLAG_BE set for a synced passkey */
    uint8_t aaguid[MFA_WEBAUTHN_AAGUID_BYTES];
    mfa_webauthn_fmt attestation_format;
    mfa_webauthn_trust attestation_trust;
    uint32_t sign_count;
    int64_t created;
    int64_t last_used; /* 0: never used to log in */
} mfa_webauthn_info;

/*
 * Registration, for a logged-in user.  begin: the creation options as JSON
 * in *options_json (free with mfa_free), with a fresh challenge for this
 * account, the account's user handle (random, made and stored on its
 * first registration: one commit then, none afterwards) and its passkeys
 * in excludeCredentials.  user_name and display_name are what the
 * authenticator shows (NULL: the account name).  MFA_ERR_EXISTS when the
 * account holds MFA_WEBAUTHN_CREDS_MAX passkeys.
 */
MFA_API mfa_rc mfa_webauthn_register_begin(mfa_ctx_t *ctx, const char *account,
                                           const char *user_name,
                                           const char *display_name,
                                           char **options_json) MFA_WARN_UNUSED;
/*
 * finish: verify the browser's response (PublicKeyCredential.toJSON()) to
 * the options begin gave this account, and store the credential as an
 * active factor labelled label (NULL: ""), spending the challenge, in one
 * transaction.  res->factor_id gets the new factor's id.  Refused with
 * nothing written: a malformed, tampered or foreign response, an expired
 * challenge (MFA_ERR_EXPIRED), a spent one (MFA_ERR_REPLAYED), a
 * credential already registered (MFA_ERR_EXISTS), the cap reached.
 */
MFA_API mfa_rc mfa_webauthn_register_finish(mfa_ctx_t *ctx, const char *account,
                                            const char *label,
                                            const char *response,
                                            size_t response_len,
                                            mfa_result *res) MFA_WARN_UNUSED;

/*
 * Login.  begin: the request options as JSON in *options_json (free with
 * mfa_free).  With an account: its passkeys in allowCredentials
 * (MFA_ERR_NO_FACTOR when it has none); it reads, writes nothing.  With
 * account NULL: a login with a discoverable credential (no user name
 * typed): empty allowCredentials, and the store is not touched at all.
 */
MFA_API mfa_rc mfa_webauthn_login_begin(mfa_ctx_t *ctx, const char *account,
                                        char **options_json) MFA_WARN_UNUSED;
/*
 * finish: one flow like mfa_verify: in one write transaction of the
 * account, the throttle (per account and device) is read and the attempt
 * counted, the assertion verified against the account's credential (the
 * challenge's tag, kind, expiry and account; origin, rp id hash, flags,
 * signature, user handle), the challenge spent, the new sign count and
 * last use stored, and a device token issued (dev may be NULL).
 * account NULL: the login begun without a name; the response's user
 * handle names the account, which is copied to account_out (may be NULL
 * when account is given).  A sign count that does not increase while
 * either count is non-zero is MFA_ERR_WEBAUTHN_CLONED (event
 * MFA_EV_WEBAUTHN_CLONED, the credential kept).  A response that does
 * not parse, or a challenge this ctx did not make, is refused before
 * anything is counted or written.
 */
MFA_API mfa_rc mfa_webauthn_login_finish(mfa_ctx_t *ctx, const char *account,
                                         const char *response,
                                         size_t response_len,
                                         char account_out[MFA_ACCOUNT_MAX + 1],
                                         mfa_result *res) MFA_WARN_UNUSED;
MFA_API mfa_rc mfa_webauthn_login_finish_device(
    mfa_ctx_t *ctx, const char *account, const char *response,
    size_t response_len, const mfa_device_opts *dev,
    char account_out[MFA_ACCOUNT_MAX + 1], mfa_result *res) MFA_WARN_UNUSED;

/*
 * The account's passkeys, oldest first; free with mfa_free.  Rename and
 * remove them with mfa_factor_rename and mfa_factor_remove (their factor
 * ids); mfa_account_has_mfa counts them; mfa_reset removes them.
 */
MFA_API mfa_rc mfa_webauthn_list(mfa_ctx_t *ctx, const char *account,
                                 mfa_webauthn_info **list,
                                 size_t *n) MFA_WARN_UNUSED;

#ifdef __cplusplus
}
#endif

#endif /* MFA_WEBAUTHN_H */
