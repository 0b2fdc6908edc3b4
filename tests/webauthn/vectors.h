/*
 * The WebAuthn test cases of tests/webauthn/vectors.json (made by
 * softauth.py), run through libmfa.  Shared by tests/test_webauthn.c,
 * tests/webauthn/verdicts.c and tests/bench/bench_webauthn.c.
 *
 * A case: ceremony "register" or "login", rp_id, origins, uv, challenge
 * and user_handle (base64url), response (the browser's JSON), for logins
 * the stored credential, discoverable, and the expected verdict by name.
 */
#ifndef MFA_TEST_WEBAUTHN_VECTORS_H
#define MFA_TEST_WEBAUTHN_VECTORS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>
#include <mfa/webauthn.h>
#include <sodium.h>

static inline const char *
wv_str(json_object *o, const char *key)
{
    json_object *v;

    if (!json_object_object_get_ex(o, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* base64url (unpadded) member into out[max]; -1 when missing or bad */
static inline int
wv_bin(json_object *o, const char *key, uint8_t *out, size_t max, size_t *len)
{
    const char *s = wv_str(o, key);

    if (s == NULL)
        return -1;
    return sodium_base642bin(out, max, s, strlen(s), NULL, len, NULL,
                             sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* The cases of a vectors file (an array), or NULL. */
static inline json_object *
wv_load(const char *path)
{
    json_object *v = json_object_from_file(path);

    if (v != NULL && !json_object_is_type(v, json_type_array)) {
        json_object_put(v);
        v = NULL;
    }
    return v;
}

/* The default vectors file: $MFA_SOURCE_ROOT/tests/webauthn/vectors.json */
static inline const char *
wv_default_path(void)
{
    static char path[4096];
    const char *root = getenv("MFA_SOURCE_ROOT");

    snprintf(path, sizeof(path), "%s/tests/webauthn/vectors.json",
             root != NULL ? root : ".");
    return path;
}

/* The relying party of case c, or NULL. */
static inline mfa_webauthn_rp_t *
wv_rp(json_object *c)
{
    mfa_webauthn_rp_t *rp = NULL;
    json_object *origins, *algs;
    const char *uv = wv_str(c, "uv");

    if (mfa_webauthn_rp_new(&rp, wv_str(c, "rp_id"), "Example") != MFA_OK)
        return NULL;
    if (json_object_object_get_ex(c, "origins", &origins))
        for (size_t i = 0; i < json_object_array_length(origins); i++)
            if (mfa_webauthn_rp_add_origin(
                    rp, json_object_get_string(
                            json_object_array_get_idx(origins, i))) != MFA_OK) {
                mfa_webauthn_rp_free(&rp);
                return NULL;
            }
    if (json_object_object_get_ex(c, "algs", &algs)) {
        unsigned bits = 0;

        for (size_t i = 0; i < json_object_array_length(algs); i++) {
            int a = json_object_get_int(json_object_array_get_idx(algs, i));

            bits |= a == MFA_WEBAUTHN_ES256   ? MFA_WEBAUTHN_ALG_ES256
                    : a == MFA_WEBAUTHN_EDDSA ? MFA_WEBAUTHN_ALG_EDDSA
                    : a == MFA_WEBAUTHN_RS256 ? MFA_WEBAUTHN_ALG_RS256
                                              : 0;
        }
        if (mfa_webauthn_rp_set_algorithms(rp, bits) != MFA_OK) {
            mfa_webauthn_rp_free(&rp);
            return NULL;
        }
    }
    if (uv != NULL && strcmp(uv, "required") == 0 &&
        mfa_webauthn_rp_set_user_verification(rp, MFA_WEBAUTHN_UV_REQUIRED) !=
            MFA_OK)
        mfa_webauthn_rp_free(&rp);
    return rp;
}

/* The stored credential of login case c; -1 when malformed. */
static inline int
wv_credential(json_object *c, mfa_webauthn_credential *cred)
{
    json_object *o, *v;

    memset(cred, 0, sizeof(*cred));
    if (!json_object_object_get_ex(c, "credential", &o) ||
        wv_bin(o, "id", cred->id, sizeof(cred->id), &cred->id_len) != 0 ||
        wv_bin(o, "public_key", cred->public_key, sizeof(cred->public_key),
               &cred->public_key_len) != 0 ||
        wv_bin(o, "user_handle", cred->user_handle, sizeof(cred->user_handle),
               &cred->user_handle_len) != 0)
        return -1;
    if (json_object_object_get_ex(o, "alg", &v))
        cred->algorithm = json_object_get_int(v);
    if (json_object_object_get_ex(o, "sign_count", &v))
        cred->sign_count = (uint32_t)json_object_get_int64(v);
    return 0;
}

/* The case's inputs, ready for the verify functions. */
struct wv_case {
    const char *name, *expect;
    int login, discoverable;
    mfa_webauthn_rp_t *rp;
    uint8_t challenge[MFA_WEBAUTHN_CHALLENGE_MAX];
    size_t challenge_len;
    uint8_t user_handle[MFA_WEBAUTHN_USER_HANDLE_MAX];
    size_t user_handle_len;
    char *response; /* JSON text */
    size_t response_len;
    mfa_webauthn_credential stored;
};

static inline void
wv_case_clear(struct wv_case *k)
{
    mfa_webauthn_rp_free(&k->rp);
    free(k->response);
    memset(k, 0, sizeof(*k));
}

static inline int
wv_case_get(json_object *c, struct wv_case *k)
{
    json_object *resp, *d;
    const char *cer = wv_str(c, "ceremony");

    memset(k, 0, sizeof(*k));
    k->name = wv_str(c, "name");
    k->expect = wv_str(c, "expect");
    if (k->name == NULL || k->expect == NULL || cer == NULL)
        return -1;
    k->login = strcmp(cer, "login") == 0;
    if (json_object_object_get_ex(c, "discoverable", &d))
        k->discoverable = json_object_get_boolean(d);
    if ((k->rp = wv_rp(c)) == NULL ||
        wv_bin(c, "challenge", k->challenge, sizeof(k->challenge),
               &k->challenge_len) != 0 ||
        wv_bin(c, "user_handle", k->user_handle, sizeof(k->user_handle),
               &k->user_handle_len) != 0 ||
        !json_object_object_get_ex(c, "response", &resp) ||
        (k->login && wv_credential(c, &k->stored) != 0)) {
        wv_case_clear(k);
        return -1;
    }
    k->response =
        strdup(json_object_to_json_string_ext(resp, JSON_C_TO_STRING_PLAIN));
    if (k->response == NULL) {
        wv_case_clear(k);
        return -1;
    }
    k->response_len = strlen(k->response);
    return 0;
}

/* Run the case through libmfa; the registered credential or the
 * assertion's result in *reg / *as (either may be NULL). */
static inline mfa_rc
wv_case_run(const struct wv_case *k, mfa_webauthn_credential *reg,
            mfa_webauthn_assertion *as)
{
    mfa_webauthn_credential c;
    mfa_webauthn_assertion a;

    if (k->login)
        return mfa_webauthn_login_verify(
            k->rp, k->challenge, k->challenge_len, k->response, k->response_len,
            &k->stored, k->discoverable ? MFA_WEBAUTHN_LOGIN_DISCOVERABLE : 0,
            as != NULL ? as : &a);
    return mfa_webauthn_register_verify(k->rp, k->challenge, k->challenge_len,
                                        k->user_handle, k->user_handle_len,
                                        k->response, k->response_len,
                                        reg != NULL ? reg : &c);
}

#endif /* MFA_TEST_WEBAUTHN_VECTORS_H */
