/*
 * A software WebAuthn authenticator and client in C, for tests, fuzz
 * seeds and benchmarks: one credential per object, whose registration and
 * assertion responses come out as the JSON a browser's
 * PublicKeyCredential.toJSON() gives (base64url without padding).
 *
 *   softauth *sa;
 *   softauth_new(&sa, MFA_WEBAUTHN_ES256);
 *   softauth_register(sa, creation_options_json, NULL, origin, &json);
 *   softauth_assert(sa, request_options_json, NULL, origin, &json);
 *   free(json); softauth_free(&sa);
 *
 * Keys: EdDSA (libsodium), ES256 and RS256 (OpenSSL's libcrypto, 2048-bit
 * RSA).  Attestation "none" or "packed" self attestation.  CBOR with
 * libcbor, JSON with json-c.  Every function returns 0 on success and -1
 * on failure (bad arguments, a library failure); nothing is printed.
 * Not thread-safe per object; separate objects are independent.
 */
#ifndef SOFTAUTH_C_H
#define SOFTAUTH_C_H

#include <stddef.h>
#include <stdint.h>

#include <mfa/webauthn.h>

#ifdef __cplusplus
extern "C" {
#endif

/* attestation statement formats */
#define SOFTAUTH_ATT_NONE 0
#define SOFTAUTH_ATT_PACKED_SELF 1

/* tampering with the next responses (bits) */
#define SOFTAUTH_TAMPER_SIGNATURE 0x1u    /* one bit of the signature flipped */
#define SOFTAUTH_TAMPER_CROSS_ORIGIN 0x2u /* clientData crossOrigin: true */
#define SOFTAUTH_TAMPER_TYPE 0x4u         /* clientData type of the other op */

typedef struct softauth softauth;

/* A new credential of COSE algorithm alg (MFA_WEBAUTHN_ES256, _EDDSA,
 * _RS256) with a random 32-byte credential id; flags UP|UV; sign count
 * starting at 1 and growing by 1 per assertion; attestation "none";
 * transports "internal"; the user handle sent in assertions. */
int softauth_new(softauth **out, int32_t alg);
void softauth_free(softauth **sa);

/* The credential id (MFA_WEBAUTHN_CRED_ID_MIN..MAX bytes). */
int softauth_set_id(softauth *sa, const uint8_t *id, size_t len);
const uint8_t *softauth_id(const softauth *sa, size_t *len);
int32_t softauth_alg(const softauth *sa);

/* Authenticator data flags of the next responses: MFA_WEBAUTHN_FLAG_UP,
 * _UV, _BE, _BS (AT is added to registrations by itself). */
void softauth_set_flags(softauth *sa, unsigned flags);
/* The next assertion carries `next`, each later one `step` more (step 0:
 * a synced passkey whose count stays where it is). */
void softauth_set_sign_count(softauth *sa, uint32_t next, uint32_t step);
/* The count the last response carried. */
uint32_t softauth_sign_count(const softauth *sa);
void softauth_set_attestation(softauth *sa, int fmt);
void softauth_set_aaguid(softauth *sa, const uint8_t aaguid[16]);
/* MFA_WEBAUTHN_TRANSPORT_* bits listed in registrations. */
void softauth_set_transports(softauth *sa, unsigned bits);
void softauth_set_tamper(softauth *sa, unsigned bits);

/* The user handle the authenticator keeps (set by softauth_register from
 * the options' user.id); len 0: none.  send 0: assertions carry no
 * userHandle (as security keys without a resident credential). */
int softauth_set_user_handle(softauth *sa, const uint8_t *h, size_t len);
void softauth_send_user_handle(softauth *sa, int send);

/*
 * A registration response (PublicKeyCredential.toJSON() of create()) for
 * the challenge bytes, rp id and origin, into *json (free with free()).
 */
int softauth_register_raw(softauth *sa, const char *rp_id, const char *origin,
                          const uint8_t *challenge, size_t challenge_len,
                          char **json);
/* An assertion response (toJSON() of get()); the sign count advances. */
int softauth_assert_raw(softauth *sa, const char *rp_id, const char *origin,
                        const uint8_t *challenge, size_t challenge_len,
                        char **json);

/*
 * The same from the options JSON a relying party gives (creation options:
 * challenge, rp.id, user.id, which becomes the kept user handle; request
 * options: challenge, rpId).  rp_id NULL: the options' own.
 */
int softauth_register(softauth *sa, const char *options_json, const char *rp_id,
                      const char *origin, char **json);
int softauth_assert(softauth *sa, const char *options_json, const char *rp_id,
                    const char *origin, char **json);

/* The challenge of an options JSON, decoded into out[max]. */
int softauth_options_challenge(const char *options_json, uint8_t *out,
                               size_t max, size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* SOFTAUTH_C_H */
