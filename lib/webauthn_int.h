/* WebAuthn internals shared by lib/webauthn*.c; never installed. */
#ifndef MFA_WEBAUTHN_INT_H
#define MFA_WEBAUTHN_INT_H

#include <stddef.h>
#include <stdint.h>

#include <mfa/webauthn.h>

#define MFA_INT_WA_SHA256 32
/* authenticator data: rpIdHash(32) flags(1) signCount(4) */
#define MFA_INT_WA_AD_HEADER 37
/* ... then, with AT: aaguid(16) credentialIdLength(2) */
#define MFA_INT_WA_AD_ATTESTED 55
/* nesting allowed in any CBOR we accept (COSE keys, attStmt: 3 levels) */
#define MFA_INT_WA_CBOR_DEPTH 8
/* nesting allowed in a response's JSON (2 levels used) */
#define MFA_INT_WA_JSON_DEPTH 8

struct mfa_webauthn_rp {
    char rp_id[MFA_WEBAUTHN_RP_ID_MAX + 1];
    char name[MFA_WEBAUTHN_NAME_MAX + 1];
    uint8_t rp_id_hash[MFA_INT_WA_SHA256];
    char origins[MFA_WEBAUTHN_ORIGINS_MAX][MFA_WEBAUTHN_ORIGIN_MAX + 1];
    size_t n_origins; /* 0: https://RP_ID only */
    char default_origin[MFA_WEBAUTHN_RP_ID_MAX + 9];
    mfa_webauthn_uv uv;
    mfa_webauthn_resident_key rk;
    mfa_webauthn_conveyance conveyance;
    unsigned algs;
    uint32_t timeout_ms;
};

enum mfa_int_wa_kind { MFA_INT_WA_CREATE, MFA_INT_WA_GET };

/* A response JSON decoded (about 10 KB: on the stack, so that a login
 * allocates nothing here); only the attestation object is malloc'ed. */
struct mfa_int_wa_response {
    uint8_t raw_id[MFA_WEBAUTHN_CRED_ID_MAX];
    size_t raw_id_len;
    uint8_t client_data[MFA_WEBAUTHN_CLIENT_DATA_MAX];
    size_t client_data_len;
    uint8_t *att_object; /* create */
    size_t att_object_len;
    unsigned transports;
    uint8_t auth_data[MFA_WEBAUTHN_AUTH_DATA_MAX]; /* get */
    size_t auth_data_len;
    uint8_t sig[MFA_WEBAUTHN_SIGNATURE_MAX];
    size_t sig_len;
    uint8_t user_handle[MFA_WEBAUTHN_USER_HANDLE_MAX];
    size_t user_handle_len;
};

/* webauthn_json.c */
mfa_rc mfa_int_wa_response_parse(const char *json, size_t len,
                                 enum mfa_int_wa_kind kind,
                                 struct mfa_int_wa_response *r);
void mfa_int_wa_response_clear(struct mfa_int_wa_response *r);
/* clientDataJSON: type, challenge (constant time), origin, crossOrigin */
mfa_rc mfa_int_wa_client_data_check(const struct mfa_webauthn_rp *rp,
                                    enum mfa_int_wa_kind kind,
                                    const uint8_t *challenge,
                                    size_t challenge_len, const uint8_t *cd,
                                    size_t cd_len);
/*
 * The same checks with the challenge decided by check(got, got_len, arg):
 * MFA_OK when it is one the caller issued, an error (returned as it is)
 * otherwise.  The service flows authenticate their own challenges so.
 */
typedef mfa_rc (*mfa_int_wa_challenge_fn)(const uint8_t *got, size_t got_len,
                                          void *arg);
mfa_rc mfa_int_wa_client_data_check_with(const struct mfa_webauthn_rp *rp,
                                         enum mfa_int_wa_kind kind,
                                         mfa_int_wa_challenge_fn check,
                                         void *arg, const uint8_t *cd,
                                         size_t cd_len);
/* base64url, with or without padding, into out[max] */
mfa_rc mfa_int_wa_b64_decode(const char *s, size_t n, uint8_t *out, size_t max,
                             size_t *outlen);
mfa_rc mfa_int_wa_creation_json(const struct mfa_webauthn_rp *rp,
                                const uint8_t *user_handle, size_t uh_len,
                                const char *user_name, const char *display,
                                const uint8_t *challenge, size_t ch_len,
                                const mfa_webauthn_descriptor *exclude,
                                size_t n_exclude, char **json);
mfa_rc mfa_int_wa_request_json(const struct mfa_webauthn_rp *rp,
                               const uint8_t *challenge, size_t ch_len,
                               const mfa_webauthn_descriptor *allow,
                               size_t n_allow, char **json);

/* webauthn_cose.c */
/*
 * 0 when p[0..len) is a sequence of complete CBOR items whose declared
 * sizes fit the input, nested at most MFA_INT_WA_CBOR_DEPTH deep, with no
 * indefinite lengths; -1 otherwise.  Run before anything hands the bytes
 * to cbor_load, which allocates what a header declares.
 */
int mfa_int_wa_cbor_bounded(const uint8_t *p, size_t len);
/* Registration: attestation object -> checked credential record. */
mfa_rc mfa_int_wa_attestation_verify(const struct mfa_webauthn_rp *rp,
                                     const uint8_t *att, size_t att_len,
                                     const uint8_t *cd, size_t cd_len,
                                     const uint8_t *raw_id, size_t raw_id_len,
                                     mfa_webauthn_credential *out);
/* Authentication: authData and signature against the stored key. */
mfa_rc mfa_int_wa_assertion_verify(const struct mfa_webauthn_rp *rp,
                                   const uint8_t *ad, size_t ad_len,
                                   const uint8_t *cd, size_t cd_len,
                                   const uint8_t *sig, size_t sig_len,
                                   const mfa_webauthn_credential *stored,
                                   uint32_t *sign_count, unsigned *flags);

/* 1 when alg is a supported algorithm the rp allows */
int mfa_int_wa_alg_allowed(const struct mfa_webauthn_rp *rp, int32_t alg);

#endif /* MFA_WEBAUTHN_INT_H */
