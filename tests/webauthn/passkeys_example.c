/*
 * The C of docs/passkeys.md, compiled: every ```c block of the guide is
 * copied from here (tests/check_doc_snippets.py checks it, test
 * doc-passkeys), and main() runs the flow on softauth.py's vectors.
 */
#include <stdio.h>
#include <string.h>

#include <mfa/webauthn.h>

#include "vectors.h"

/* what an application keeps: here, one account in memory */
static mfa_webauthn_credential saved;
static int have_saved;

static void
store(const char *account, const mfa_webauthn_credential *cred)
{
    (void)account;
    saved = *cred;
    have_saved = 1;
}

static int
load_by_id(const uint8_t *id, size_t id_len, mfa_webauthn_credential *cred)
{
    if (!have_saved || id_len != saved.id_len ||
        memcmp(id, saved.id, id_len) != 0)
        return -1;
    *cred = saved;
    return 0;
}

static void
save_sign_count(const mfa_webauthn_credential *cred, uint32_t count)
{
    (void)cred;
    saved.sign_count = count;
}

mfa_webauthn_rp_t *make_rp(void);
char *passkey_begin(const mfa_webauthn_rp_t *rp, const uint8_t handle[32],
                    uint8_t challenge[32]);
int passkey_finish(const mfa_webauthn_rp_t *rp, const char *account,
                   const uint8_t handle[32], const uint8_t challenge[32],
                   const char *body, size_t body_len);
int login_finish(const mfa_webauthn_rp_t *rp, const uint8_t challenge[32],
                 const char *body, size_t body_len, int discoverable);

mfa_webauthn_rp_t *
make_rp(void)
{
    mfa_webauthn_rp_t *rp = NULL;

    if (mfa_webauthn_rp_new(&rp, "example.com", "Example Mail") != MFA_OK ||
        mfa_webauthn_rp_add_origin(rp, "https://mail.example.com") != MFA_OK ||
        mfa_webauthn_rp_add_origin(rp, "https://example.com") != MFA_OK)
        mfa_webauthn_rp_free(&rp);
    return rp;
}

/* registration: the options for navigator.credentials.create() */
char *
passkey_begin(const mfa_webauthn_rp_t *rp, const uint8_t handle[32],
              uint8_t challenge[32])
{
    char *json = NULL;

    /* keep the challenge with the session, with a lifetime */
    if (mfa_webauthn_challenge_new(challenge, 32) != MFA_OK ||
        mfa_webauthn_register_options(rp, handle, 32, "alice@example.com",
                                      "Alice", challenge, 32, NULL, 0,
                                      &json) != MFA_OK)
        return NULL;
    return json; /* send it; mfa_free() it */
}

/* registration: the browser's answer */
int
passkey_finish(const mfa_webauthn_rp_t *rp, const char *account,
               const uint8_t handle[32], const uint8_t challenge[32],
               const char *body, size_t body_len)
{
    mfa_webauthn_credential cred;
    mfa_rc rc = mfa_webauthn_register_verify(rp, challenge, 32, handle, 32,
                                             body, body_len, &cred);

    if (rc != MFA_OK) {
        fprintf(stderr, "passkey refused: %s\n", mfa_strerror(rc));
        return -1;
    }
    store(account, &cred); /* id, COSE key, sign count, flags, ... */
    return 0;
}

/* login: the answer to mfa_webauthn_login_options()' JSON */
int
login_finish(const mfa_webauthn_rp_t *rp, const uint8_t challenge[32],
             const char *body, size_t body_len, int discoverable)
{
    mfa_webauthn_credential cred;
    mfa_webauthn_assertion a;
    mfa_webauthn_lookup who; /* not verified: only to look up */
    mfa_rc rc;

    if (mfa_webauthn_login_lookup(body, body_len, &who) != MFA_OK ||
        load_by_id(who.credential_id, who.credential_id_len, &cred) != 0)
        return -1;
    rc = mfa_webauthn_login_verify(
        rp, challenge, 32, body, body_len, &cred,
        discoverable ? MFA_WEBAUTHN_LOGIN_DISCOVERABLE : 0, &a);
    if (rc != MFA_OK) {
        fprintf(stderr, "login refused: %s\n", mfa_strerror(rc));
        return -1;
    }
    save_sign_count(&cred, a.sign_count); /* in the login's transaction */
    return 0;
}

/* The guide's flow on the vectors: register es256, then log in with it. */
int
main(void)
{
    json_object *v = wv_load(wv_default_path());
    struct wv_case reg, login;
    mfa_webauthn_rp_t *rp = make_rp();
    int ok = 0;

    if (v == NULL || rp == NULL)
        return 1;
    for (size_t i = 0; i < json_object_array_length(v); i++) {
        json_object *c = json_object_array_get_idx(v, i);

        if (strcmp(wv_str(c, "name"), "reg-es256-roundtrip") == 0)
            ok += wv_case_get(c, &reg) == 0;
        if (strcmp(wv_str(c, "name"), "login-es256") == 0)
            ok += wv_case_get(c, &login) == 0;
    }
    if (ok != 2 ||
        passkey_finish(rp, "alice", reg.user_handle, reg.challenge,
                       reg.response, reg.response_len) != 0 ||
        login_finish(rp, login.challenge, login.response, login.response_len,
                     1) != 0 ||
        saved.sign_count != 6 ||
        /* the same response again: the count did not move */
        login_finish(rp, login.challenge, login.response, login.response_len,
                     1) == 0) {
        printf("0 passed, 1 failed\n");
        return 1;
    }
    {
        uint8_t handle[32] = {1}, challenge[32];
        char *json = passkey_begin(rp, handle, challenge);

        if (json == NULL)
            return 1;
        mfa_free(json);
    }
    wv_case_clear(&reg);
    wv_case_clear(&login);
    mfa_webauthn_rp_free(&rp);
    json_object_put(v);
    printf("1 passed, 0 failed\n");
    return 0;
}
