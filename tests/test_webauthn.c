/*
 * WebAuthn relying-party core: the committed vectors of softauth.py
 * (tests/webauthn/vectors.json), registration round trips into logins,
 * the options JSON, the rp configuration, sign counters, user handles,
 * size limits, and damaged input of every kind.
 */
#include <limits.h>
#include <stdint.h>

#include <cbor.h>
#include <sodium.h>

#include <mfa.h>

#include "internal.h"
#include "testutil.h"
#include "webauthn/vectors.h"
#include "webauthn_int.h"

static json_object *vectors;

static void
load(void)
{
    vectors = wv_load(wv_default_path());
    ck_assert_msg(vectors != NULL, "cannot read %s", wv_default_path());
}

static void
unload(void)
{
    json_object_put(vectors);
    vectors = NULL;
}

/* Case `name` of the vectors, ready to run. */
static void
get(const char *name, struct wv_case *k)
{
    for (size_t i = 0; i < json_object_array_length(vectors); i++) {
        json_object *c = json_object_array_get_idx(vectors, i);

        if (strcmp(wv_str(c, "name"), name) == 0) {
            ck_assert_int_eq(wv_case_get(c, k), 0);
            return;
        }
    }
    ck_abort_msg("no case %s", name);
}

static int
all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;

    for (size_t i = 0; i < n; i++)
        if (b[i] != 0)
            return 0;
    return 1;
}

/* every case gets exactly the verdict it expects, and a refusal leaves
 * the output zeroed */
START_TEST(vectors_verdicts)
{
    size_t n = json_object_array_length(vectors), ok = 0, refused = 0;

    ck_assert_uint_ge(n, 40);
    for (size_t i = 0; i < n; i++) {
        mfa_webauthn_credential reg;
        mfa_webauthn_assertion as;
        struct wv_case k;
        mfa_rc rc;

        ck_assert_int_eq(wv_case_get(json_object_array_get_idx(vectors, i), &k),
                         0);
        memset(&reg, 0xa5, sizeof(reg));
        memset(&as, 0xa5, sizeof(as));
        rc = wv_case_run(&k, &reg, &as);
        ck_assert_msg(strcmp(mfa_strerror_name(rc), k.expect) == 0,
                      "%s: %s, expected %s", k.name, mfa_strerror_name(rc),
                      k.expect);
        if (rc == MFA_OK) {
            ok++;
        } else {
            refused++;
            ck_assert_msg(k.login ? all_zero(&as, sizeof(as))
                                  : all_zero(&reg, sizeof(reg)),
                          "%s: output not cleared", k.name);
        }
        wv_case_clear(&k);
    }
    ck_assert_uint_ge(ok, 10);
    ck_assert_uint_ge(refused, 25);
}
END_TEST

/* what a registration records, per format */
START_TEST(registration_record)
{
    static const struct {
        const char *name;
        mfa_webauthn_fmt fmt;
        mfa_webauthn_trust trust;
        int32_t alg;
    } want[] = {
        {"reg-es256-none", MFA_WEBAUTHN_FMT_NONE, MFA_WEBAUTHN_TRUST_NONE,
         MFA_WEBAUTHN_ES256},
        {"reg-eddsa-packed-self", MFA_WEBAUTHN_FMT_PACKED,
         MFA_WEBAUTHN_TRUST_SELF, MFA_WEBAUTHN_EDDSA},
        {"reg-rs256-packed-x5c", MFA_WEBAUTHN_FMT_PACKED,
         MFA_WEBAUTHN_TRUST_UNVERIFIED, MFA_WEBAUTHN_RS256},
        {"reg-es256-fido-u2f", MFA_WEBAUTHN_FMT_FIDO_U2F,
         MFA_WEBAUTHN_TRUST_UNVERIFIED, MFA_WEBAUTHN_ES256},
    };

    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        mfa_webauthn_credential c;
        uint8_t raw[MFA_WEBAUTHN_CRED_ID_MAX];
        json_object *resp;
        struct wv_case k;
        size_t raw_len;

        get(want[i].name, &k);
        ck_assert_int_eq(wv_case_run(&k, &c, NULL), MFA_OK);
        ck_assert_int_eq(c.attestation_format, want[i].fmt);
        ck_assert_int_eq(c.attestation_trust, want[i].trust);
        ck_assert_int_eq(c.algorithm, want[i].alg);
        ck_assert_uint_eq(c.transports, MFA_WEBAUTHN_TRANSPORT_USB);
        ck_assert(c.flags & MFA_WEBAUTHN_FLAG_UP);
        ck_assert(c.flags & MFA_WEBAUTHN_FLAG_AT);
        ck_assert_uint_eq(c.user_handle_len, k.user_handle_len);
        ck_assert_mem_eq(c.user_handle, k.user_handle, k.user_handle_len);
        /* the id is the response's rawId */
        resp = json_tokener_parse(k.response);
        ck_assert_int_eq(wv_bin(resp, "rawId", raw, sizeof(raw), &raw_len), 0);
        ck_assert_uint_eq(c.id_len, raw_len);
        ck_assert_mem_eq(c.id, raw, raw_len);
        json_object_put(resp);
        /* fido-u2f has no AAGUID; the others have softauth's random one */
        ck_assert_int_eq(all_zero(c.aaguid, sizeof(c.aaguid)),
                         want[i].fmt == MFA_WEBAUTHN_FMT_FIDO_U2F);
        ck_assert_uint_gt(c.public_key_len, 32);
        wv_case_clear(&k);
    }
}
END_TEST

/* the record libmfa makes of a registration verifies that credential's
 * assertions: the COSE key is stored as it must be read back */
START_TEST(roundtrip)
{
    static const char *const algs[] = {"es256", "eddsa", "rs256"};

    for (size_t i = 0; i < 3; i++) {
        char reg_name[64], login_name[64];
        mfa_webauthn_credential c;
        mfa_webauthn_assertion a;
        struct wv_case reg, login;

        snprintf(reg_name, sizeof(reg_name), "reg-%s-roundtrip", algs[i]);
        snprintf(login_name, sizeof(login_name), "login-%s", algs[i]);
        get(reg_name, &reg);
        get(login_name, &login);
        ck_assert_int_eq(wv_case_run(&reg, &c, NULL), MFA_OK);
        /* what softauth says the RP should have stored */
        ck_assert_uint_eq(c.public_key_len, login.stored.public_key_len);
        ck_assert_mem_eq(c.public_key, login.stored.public_key,
                         c.public_key_len);
        ck_assert_uint_eq(c.sign_count, login.stored.sign_count);
        ck_assert_int_eq(mfa_webauthn_login_verify(
                             login.rp, login.challenge, login.challenge_len,
                             login.response, login.response_len, &c, 0, &a),
                         MFA_OK);
        ck_assert_uint_eq(a.sign_count, c.sign_count + 1);
        ck_assert(a.flags & MFA_WEBAUTHN_FLAG_UP);
        ck_assert_uint_eq(a.user_handle_len, c.user_handle_len);
        ck_assert_mem_eq(a.user_handle, c.user_handle, c.user_handle_len);
        /* the new count stored, the same assertion is a clone */
        c.sign_count = a.sign_count;
        ck_assert_int_eq(mfa_webauthn_login_verify(
                             login.rp, login.challenge, login.challenge_len,
                             login.response, login.response_len, &c, 0, &a),
                         MFA_ERR_WEBAUTHN_CLONED);
        wv_case_clear(&reg);
        wv_case_clear(&login);
    }
}
END_TEST

static mfa_rc
login_with(struct wv_case *k, const mfa_webauthn_credential *c,
           mfa_webauthn_assertion *a)
{
    return mfa_webauthn_login_verify(k->rp, k->challenge, k->challenge_len,
                                     k->response, k->response_len, c, 0, a);
}

START_TEST(sign_counter)
{
    mfa_webauthn_assertion a;
    mfa_webauthn_credential c;
    struct wv_case k;

    get("login-es256", &k); /* stored 5, sends 6 */
    c = k.stored;
    ck_assert_int_eq(login_with(&k, &c, &a), MFA_OK);
    ck_assert_uint_eq(a.sign_count, 6);
    c.sign_count = 0; /* a count appearing after zeros is fine */
    ck_assert_int_eq(login_with(&k, &c, &a), MFA_OK);
    c.sign_count = 6;
    ck_assert_int_eq(login_with(&k, &c, &a), MFA_ERR_WEBAUTHN_CLONED);
    c.sign_count = UINT32_MAX;
    ck_assert_int_eq(login_with(&k, &c, &a), MFA_ERR_WEBAUTHN_CLONED);
    ck_assert(all_zero(&a, sizeof(a)));
    wv_case_clear(&k);

    /* a synced passkey: 0 stored, 0 sent, every time */
    get("login-synced-count-zero", &k);
    c = k.stored;
    ck_assert_uint_eq(c.sign_count, 0);
    ck_assert_int_eq(login_with(&k, &c, &a), MFA_OK);
    ck_assert_uint_eq(a.sign_count, 0);
    ck_assert(a.flags & MFA_WEBAUTHN_FLAG_BE);
    ck_assert(a.flags & MFA_WEBAUTHN_FLAG_BS);
    ck_assert_int_eq(login_with(&k, &c, &a), MFA_OK);
    c.sign_count = 1; /* it went back to 0 after counting */
    ck_assert_int_eq(login_with(&k, &c, &a), MFA_ERR_WEBAUTHN_CLONED);
    wv_case_clear(&k);
}
END_TEST

START_TEST(stored_record_checked)
{
    mfa_webauthn_assertion a;
    mfa_webauthn_credential c;
    struct wv_case k;

    get("login-es256", &k);
    c = k.stored;
    c.user_handle[0] ^= 1;
    ck_assert_int_eq(login_with(&k, &c, &a), MFA_ERR_WEBAUTHN_USER_HANDLE);
    c = k.stored;
    c.user_handle_len--;
    ck_assert_int_eq(login_with(&k, &c, &a), MFA_ERR_WEBAUTHN_USER_HANDLE);
    c = k.stored;
    c.id[c.id_len - 1] ^= 0x80;
    ck_assert_int_eq(login_with(&k, &c, &a),
                     MFA_ERR_WEBAUTHN_UNKNOWN_CREDENTIAL);
    c = k.stored;
    c.id_len--;
    ck_assert_int_eq(login_with(&k, &c, &a),
                     MFA_ERR_WEBAUTHN_UNKNOWN_CREDENTIAL);
    c = k.stored;
    c.algorithm = MFA_WEBAUTHN_RS256; /* the key is not RSA */
    ck_assert_int_eq(login_with(&k, &c, &a), MFA_ERR_WEBAUTHN_PUBLIC_KEY);
    c = k.stored;
    c.public_key_len -= 3; /* a truncated COSE key */
    ck_assert_int_eq(login_with(&k, &c, &a), MFA_ERR_WEBAUTHN_PUBLIC_KEY);
    c = k.stored;
    c.public_key[c.public_key_len - 1] ^= 1; /* another point (or none) */
    ck_assert_int_ne(login_with(&k, &c, &a), MFA_OK);
    c = k.stored;
    c.public_key_len = 0;
    ck_assert_int_eq(login_with(&k, &c, &a), MFA_ERR_INVALID);
    c = k.stored;
    c.id_len = MFA_WEBAUTHN_CRED_ID_MAX + 1;
    ck_assert_int_eq(login_with(&k, &c, &a), MFA_ERR_INVALID);
    /* an algorithm the rp no longer allows */
    ck_assert_int_eq(
        mfa_webauthn_rp_set_algorithms(k.rp, MFA_WEBAUTHN_ALG_RS256), MFA_OK);
    ck_assert_int_eq(login_with(&k, &k.stored, &a), MFA_ERR_WEBAUTHN_ALGORITHM);
    ck_assert_int_eq(mfa_webauthn_rp_set_algorithms(k.rp, MFA_WEBAUTHN_ALG_ALL),
                     MFA_OK);
    ck_assert_int_eq(login_with(&k, &k.stored, &a), MFA_OK);
    /* the verdict does not move with the flags argument it does not have */
    ck_assert_int_eq(mfa_webauthn_login_verify(
                         k.rp, k.challenge, k.challenge_len, k.response,
                         k.response_len, &k.stored, 0x80, &a),
                     MFA_ERR_INVALID);
    wv_case_clear(&k);
}
END_TEST

START_TEST(lookup)
{
    mfa_webauthn_lookup l;
    struct wv_case k;

    get("login-discoverable", &k);
    ck_assert_int_eq(mfa_webauthn_login_lookup(k.response, k.response_len, &l),
                     MFA_OK);
    ck_assert_uint_eq(l.credential_id_len, k.stored.id_len);
    ck_assert_mem_eq(l.credential_id, k.stored.id, k.stored.id_len);
    ck_assert_uint_eq(l.user_handle_len, k.stored.user_handle_len);
    ck_assert_mem_eq(l.user_handle, k.stored.user_handle, l.user_handle_len);
    wv_case_clear(&k);
    get("login-no-user-handle", &k);
    ck_assert_int_eq(mfa_webauthn_login_lookup(k.response, k.response_len, &l),
                     MFA_OK);
    ck_assert_uint_eq(l.user_handle_len, 0);
    ck_assert_uint_eq(l.credential_id_len, k.stored.id_len);
    ck_assert_int_eq(mfa_webauthn_login_lookup("{}", 2, &l),
                     MFA_ERR_WEBAUTHN_JSON);
    ck_assert(all_zero(&l, sizeof(l)));
    ck_assert_int_eq(mfa_webauthn_login_lookup(NULL, 0, &l), MFA_ERR_INVALID);
    wv_case_clear(&k);
}
END_TEST

/* every prefix of a good response, and 3000 seeded one-byte changes:
 * never a crash, never an acceptance of a damaged one, output cleared */
START_TEST(damaged_responses)
{
    static const char *const names[] = {"reg-rs256-packed-x5c",
                                        "reg-es256-fido-u2f", "login-eddsa"};
    uint32_t seed = 12345;

    for (size_t i = 0; i < 3; i++) {
        mfa_webauthn_credential reg;
        mfa_webauthn_assertion as;
        struct wv_case k;
        char *orig;

        get(names[i], &k);
        orig = strdup(k.response);
        ck_assert_int_eq(wv_case_run(&k, &reg, &as), MFA_OK);
        for (size_t n = 0; n < k.response_len; n++) {
            size_t full = k.response_len;

            k.response_len = n;
            ck_assert_int_lt(wv_case_run(&k, &reg, &as), 0);
            k.response_len = full;
        }
        for (int t = 0; t < 1000; t++) {
            size_t at;
            mfa_rc rc;

            seed = seed * 1103515245u + 12345u;
            at = (seed >> 8) % k.response_len;
            seed = seed * 1103515245u + 12345u;
            k.response[at] = (char)(seed >> 16);
            rc = wv_case_run(&k, &reg, &as);
            if (rc != MFA_OK)
                ck_assert(k.login ? all_zero(&as, sizeof(as))
                                  : all_zero(&reg, sizeof(reg)));
            /* the JSON may still mean the same (a changed transport, an
             * escaped character): only a changed meaning must fail, so
             * the original is compared where it was accepted */
            memcpy(k.response, orig, k.response_len);
        }
        free(orig);
        wv_case_clear(&k);
    }
}
END_TEST

/* size limits and argument checks */
START_TEST(limits)
{
    mfa_webauthn_credential c;
    mfa_webauthn_assertion a;
    struct wv_case k;
    char *big;

    get("reg-es256-none", &k);
    ck_assert_int_eq(
        mfa_webauthn_register_verify(k.rp, k.challenge, k.challenge_len,
                                     k.user_handle, k.user_handle_len,
                                     k.response, MFA_WEBAUTHN_JSON_MAX + 1, &c),
        MFA_ERR_WEBAUTHN_TOO_LARGE);
    ck_assert_int_eq(mfa_webauthn_register_verify(
                         k.rp, k.challenge, 15, k.user_handle,
                         k.user_handle_len, k.response, k.response_len, &c),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_webauthn_register_verify(
                         k.rp, k.challenge, k.challenge_len, k.user_handle, 0,
                         k.response, k.response_len, &c),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_webauthn_register_verify(
                         k.rp, k.challenge, k.challenge_len, k.user_handle,
                         MFA_WEBAUTHN_USER_HANDLE_MAX + 1, k.response,
                         k.response_len, &c),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_webauthn_register_verify(
                         NULL, k.challenge, k.challenge_len, k.user_handle,
                         k.user_handle_len, k.response, k.response_len, &c),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_webauthn_register_verify(
                         k.rp, k.challenge, k.challenge_len, k.user_handle,
                         k.user_handle_len, k.response, k.response_len, NULL),
                     MFA_ERR_INVALID);
    /* the challenge is compared whole: one more byte is another one */
    ck_assert_int_eq(mfa_webauthn_register_verify(
                         k.rp, k.challenge, k.challenge_len + 1, k.user_handle,
                         k.user_handle_len, k.response, k.response_len, &c),
                     MFA_ERR_WEBAUTHN_CHALLENGE);
    ck_assert_int_eq(mfa_webauthn_register_verify(
                         k.rp, k.challenge, k.challenge_len - 1, k.user_handle,
                         k.user_handle_len, k.response, k.response_len, &c),
                     MFA_ERR_WEBAUTHN_CHALLENGE);
    /* a clientDataJSON above its limit */
    big = malloc(MFA_WEBAUTHN_CLIENT_DATA_MAX * 2);
    memset(big, 'A', MFA_WEBAUTHN_CLIENT_DATA_MAX * 2 - 1);
    big[MFA_WEBAUTHN_CLIENT_DATA_MAX * 2 - 1] = '\0';
    {
        json_object *r = json_tokener_parse(k.response), *resp;
        const char *s;

        json_object_object_get_ex(r, "response", &resp);
        json_object_object_add(resp, "clientDataJSON",
                               json_object_new_string(big));
        s = json_object_to_json_string(r);
        ck_assert_int_eq(mfa_webauthn_register_verify(
                             k.rp, k.challenge, k.challenge_len, k.user_handle,
                             k.user_handle_len, s, strlen(s), &c),
                         MFA_ERR_WEBAUTHN_TOO_LARGE);
        json_object_put(r);
    }
    free(big);
    /* not JSON, JSON of another shape, trailing bytes, a NUL inside */
    ck_assert_int_eq(mfa_webauthn_register_verify(
                         k.rp, k.challenge, k.challenge_len, k.user_handle,
                         k.user_handle_len, "[1]", 3, &c),
                     MFA_ERR_WEBAUTHN_JSON);
    ck_assert_int_eq(mfa_webauthn_register_verify(
                         k.rp, k.challenge, k.challenge_len, k.user_handle,
                         k.user_handle_len, "{\"type\":1", 9, &c),
                     MFA_ERR_WEBAUTHN_JSON);
    {
        size_t n = k.response_len;
        char *t = malloc(n + 3);

        memcpy(t, k.response, n);
        memcpy(t + n, " {}", 3);
        ck_assert_int_eq(mfa_webauthn_register_verify(
                             k.rp, k.challenge, k.challenge_len, k.user_handle,
                             k.user_handle_len, t, n + 3, &c),
                         MFA_ERR_WEBAUTHN_JSON);
        memcpy(t + n, "\n\t ", 3); /* white space is fine */
        ck_assert_int_eq(mfa_webauthn_register_verify(
                             k.rp, k.challenge, k.challenge_len, k.user_handle,
                             k.user_handle_len, t, n + 3, &c),
                         MFA_OK);
        t[n] = '\0';
        ck_assert_int_eq(mfa_webauthn_register_verify(
                             k.rp, k.challenge, k.challenge_len, k.user_handle,
                             k.user_handle_len, t, n + 3, &c),
                         MFA_ERR_WEBAUTHN_JSON);
        free(t);
    }
    wv_case_clear(&k);

    get("login-es256", &k);
    ck_assert_int_eq(mfa_webauthn_login_verify(
                         k.rp, k.challenge, k.challenge_len, k.response,
                         MFA_WEBAUTHN_JSON_MAX + 1, &k.stored, 0, &a),
                     MFA_ERR_WEBAUTHN_TOO_LARGE);
    ck_assert_int_eq(mfa_webauthn_login_verify(k.rp, k.challenge,
                                               k.challenge_len, k.response,
                                               k.response_len, NULL, 0, &a),
                     MFA_ERR_INVALID);
    wv_case_clear(&k);
}
END_TEST

/* id must be rawId; padded base64url is accepted; unknown transports
 * are ignored */
START_TEST(response_forms)
{
    mfa_webauthn_credential c;
    struct wv_case k;
    json_object *r, *resp, *t;
    char padded[512];
    const char *cd, *s;

    get("reg-es256-packed-self", &k);
    r = json_tokener_parse(k.response);
    json_object_object_get_ex(r, "response", &resp);
    cd = json_object_get_string(json_object_object_get(resp, "clientDataJSON"));
    snprintf(padded, sizeof(padded), "%s%s", cd,
             strlen(cd) % 4 == 2   ? "=="
             : strlen(cd) % 4 == 3 ? "="
                                   : "");
    json_object_object_add(resp, "clientDataJSON",
                           json_object_new_string(padded));
    t = json_object_new_array();
    json_object_array_add(t, json_object_new_string("carrier-pigeon"));
    json_object_array_add(t, json_object_new_string("nfc"));
    json_object_object_add(resp, "transports", t);
    s = json_object_to_json_string(r);
    ck_assert_int_eq(mfa_webauthn_register_verify(
                         k.rp, k.challenge, k.challenge_len, k.user_handle,
                         k.user_handle_len, s, strlen(s), &c),
                     MFA_OK);
    ck_assert_uint_eq(c.transports, MFA_WEBAUTHN_TRANSPORT_NFC);
    json_object_object_add(r, "id",
                           json_object_new_string("AAAAAAAAAAAAAAAAAAAAAA"));
    s = json_object_to_json_string(r);
    ck_assert_int_eq(mfa_webauthn_register_verify(
                         k.rp, k.challenge, k.challenge_len, k.user_handle,
                         k.user_handle_len, s, strlen(s), &c),
                     MFA_ERR_WEBAUTHN_CREDENTIAL_ID);
    json_object_object_add(r, "type", json_object_new_string("password"));
    s = json_object_to_json_string(r);
    ck_assert_int_eq(mfa_webauthn_register_verify(
                         k.rp, k.challenge, k.challenge_len, k.user_handle,
                         k.user_handle_len, s, strlen(s), &c),
                     MFA_ERR_WEBAUTHN_TYPE);
    json_object_put(r);
    wv_case_clear(&k);
}
END_TEST

/* "none" signs nothing over clientDataJSON: edit it and re-send */
static mfa_rc
reg_with_client_data(struct wv_case *k, const char *key, json_object *value)
{
    json_object *r = json_tokener_parse(k->response), *resp, *cd;
    uint8_t raw[1024];
    char b64[2048];
    size_t n;
    const char *s;
    mfa_webauthn_credential c;
    mfa_rc rc;

    json_object_object_get_ex(r, "response", &resp);
    ck_assert_int_eq(wv_bin(resp, "clientDataJSON", raw, sizeof(raw) - 1, &n),
                     0);
    raw[n] = '\0';
    cd = json_tokener_parse((const char *)raw);
    ck_assert_ptr_nonnull(cd);
    json_object_object_add(cd, key, value);
    s = json_object_to_json_string_ext(cd, JSON_C_TO_STRING_PLAIN);
    sodium_bin2base64(b64, sizeof(b64), (const uint8_t *)s, strlen(s),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    json_object_object_add(resp, "clientDataJSON", json_object_new_string(b64));
    s = json_object_to_json_string(r);
    rc = mfa_webauthn_register_verify(k->rp, k->challenge, k->challenge_len,
                                      k->user_handle, k->user_handle_len, s,
                                      strlen(s), &c);
    json_object_put(cd);
    json_object_put(r);
    return rc;
}

START_TEST(client_data_fields)
{
    struct wv_case k;

    get("reg-es256-none", &k);
    /* the harness itself: an unchanged field still passes */
    ck_assert_int_eq(reg_with_client_data(
                         &k, "type", json_object_new_string("webauthn.create")),
                     MFA_OK);
    ck_assert_int_eq(
        reg_with_client_data(
            &k, "type", json_object_new_string_len("webauthn.create\0x", 17)),
        MFA_ERR_WEBAUTHN_TYPE);
    ck_assert_int_eq(reg_with_client_data(&k, "type", json_object_new_int(1)),
                     MFA_ERR_WEBAUTHN_JSON);
    ck_assert_int_eq(reg_with_client_data(&k, "origin",
                                          json_object_new_string_len(
                                              "https://example.com\0", 20)),
                     MFA_ERR_WEBAUTHN_ORIGIN);
    ck_assert_int_eq(
        reg_with_client_data(&k, "origin",
                             json_object_new_string("https://EXAMPLE.com")),
        MFA_ERR_WEBAUTHN_ORIGIN);
    ck_assert_int_eq(
        reg_with_client_data(&k, "crossOrigin", json_object_new_boolean(0)),
        MFA_OK);
    ck_assert_int_eq(
        reg_with_client_data(&k, "crossOrigin", json_object_new_string("true")),
        MFA_ERR_WEBAUTHN_JSON);
    ck_assert_int_eq(
        reg_with_client_data(&k, "challenge",
                             json_object_new_string("not base64!")),
        MFA_ERR_WEBAUTHN_CHALLENGE);
    /* other members (tokenBinding, topOrigin, ...) are not ours to judge */
    ck_assert_int_eq(reg_with_client_data(&k, "other_keys_can_be_added_here",
                                          json_object_new_string("x")),
                     MFA_OK);
    wv_case_clear(&k);
}
END_TEST

/* the origins an rp accepts */
START_TEST(origins)
{
    mfa_webauthn_credential c;
    struct wv_case k;

    get("reg-es256-none", &k); /* from https://example.com */
    mfa_webauthn_rp_free(&k.rp);
    ck_assert_int_eq(mfa_webauthn_rp_new(&k.rp, "example.com", "Example"),
                     MFA_OK);
    /* none added: https://RP_ID */
    ck_assert_int_eq(wv_case_run(&k, &c, NULL), MFA_OK);
    ck_assert_int_eq(
        mfa_webauthn_rp_add_origin(k.rp, "https://login.example.com"), MFA_OK);
    ck_assert_int_eq(wv_case_run(&k, &c, NULL), MFA_ERR_WEBAUTHN_ORIGIN);
    ck_assert_int_eq(mfa_webauthn_rp_add_origin(k.rp, "https://example.com"),
                     MFA_OK);
    ck_assert_int_eq(wv_case_run(&k, &c, NULL), MFA_OK);
    /* origins that cannot be the rp's */
    ck_assert_int_eq(mfa_webauthn_rp_add_origin(k.rp, "https://evil.com"),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_webauthn_rp_add_origin(k.rp, "https://badexample.com"),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_webauthn_rp_add_origin(k.rp, "http://example.com"),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_webauthn_rp_add_origin(k.rp, "https://example.com/"),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_webauthn_rp_add_origin(k.rp, "https://example.com:"),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(
        mfa_webauthn_rp_add_origin(k.rp, "https://example.com:8443"), MFA_OK);
    ck_assert_int_eq(mfa_webauthn_rp_add_origin(k.rp, "example.com"),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_webauthn_rp_add_origin(k.rp, NULL), MFA_ERR_INVALID);
    wv_case_clear(&k);

    ck_assert_int_eq(mfa_webauthn_rp_new(&k.rp, "localhost", "Demo"), MFA_OK);
    ck_assert_int_eq(mfa_webauthn_rp_add_origin(k.rp, "http://localhost:8080"),
                     MFA_OK);
    ck_assert_int_eq(mfa_webauthn_rp_add_origin(k.rp, "http://localhost"),
                     MFA_OK);
    ck_assert_int_eq(
        mfa_webauthn_rp_add_origin(k.rp, "http://localhost:123456"),
        MFA_ERR_INVALID);
    mfa_webauthn_rp_free(&k.rp);
    ck_assert_ptr_null(k.rp);
    mfa_webauthn_rp_free(&k.rp);
    mfa_webauthn_rp_free(NULL);
}
END_TEST

START_TEST(rp_config)
{
    static const char *const bad_ids[] = {"",
                                          "Example.com",
                                          "example..com",
                                          ".example.com",
                                          "example.com.",
                                          "-a.example.com",
                                          "a-.example.com",
                                          "https://example.com",
                                          "example.com:443",
                                          "exa mple.com",
                                          "ex_ample.com"};
    mfa_webauthn_rp_t *rp = (mfa_webauthn_rp_t *)&rp;

    for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
        ck_assert_msg(mfa_webauthn_rp_new(&rp, bad_ids[i], "x") ==
                          MFA_ERR_INVALID,
                      "rp id '%s' accepted", bad_ids[i]);
        ck_assert_ptr_null(rp);
    }
    ck_assert_int_eq(mfa_webauthn_rp_new(&rp, "example.com", ""),
                     MFA_ERR_EMPTY);
    ck_assert_int_eq(mfa_webauthn_rp_new(&rp, "example.com", "a\nb"),
                     MFA_ERR_CONTROL_CHAR);
    ck_assert_int_eq(mfa_webauthn_rp_new(NULL, "example.com", "x"),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_webauthn_rp_new(&rp, "a-b.example.com", "Ex"), MFA_OK);
    ck_assert_int_eq(mfa_webauthn_rp_set_user_verification(rp, 3),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_webauthn_rp_set_resident_key(rp, 3), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_webauthn_rp_set_attestation(rp, 3), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_webauthn_rp_set_algorithms(rp, 0), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_webauthn_rp_set_algorithms(rp, 8), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_webauthn_rp_set_timeout(rp, 999), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_webauthn_rp_set_timeout(rp, 600001), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_webauthn_rp_set_timeout(rp, 60000), MFA_OK);
    for (int i = 0; i < MFA_WEBAUTHN_ORIGINS_MAX; i++) {
        char o[64];

        snprintf(o, sizeof(o), "https://h%d.a-b.example.com", i);
        ck_assert_int_eq(mfa_webauthn_rp_add_origin(rp, o), MFA_OK);
    }
    /* the same again is no new entry; one more is too many */
    ck_assert_int_eq(
        mfa_webauthn_rp_add_origin(rp, "https://h0.a-b.example.com"), MFA_OK);
    ck_assert_int_eq(mfa_webauthn_rp_add_origin(rp, "https://a-b.example.com"),
                     MFA_ERR_TOO_LONG);
    mfa_webauthn_rp_free(&rp);
}
END_TEST

static json_object *
member(json_object *o, const char *key)
{
    json_object *v = NULL;

    ck_assert_msg(json_object_object_get_ex(o, key, &v), "no %s", key);
    return v;
}

static void
ck_b64(json_object *v, const uint8_t *want, size_t n)
{
    uint8_t got[1024];
    size_t len;
    const char *s = json_object_get_string(v);

    ck_assert_int_eq(
        sodium_base642bin(got, sizeof(got), s, strlen(s), NULL, &len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING),
        0);
    ck_assert_uint_eq(len, n);
    ck_assert_mem_eq(got, want, n);
}

START_TEST(creation_options)
{
    uint8_t ch[32], uh[20], id1[40], id2[16];
    mfa_webauthn_descriptor ex[2] = {
        {id1, sizeof(id1),
         MFA_WEBAUTHN_TRANSPORT_USB | MFA_WEBAUTHN_TRANSPORT_NFC},
        {id2, sizeof(id2), 0}};
    mfa_webauthn_rp_t *rp;
    json_object *o, *v, *sel;
    char *json = NULL;

    ck_assert_int_eq(mfa_webauthn_challenge_new(ch, sizeof(ch)), MFA_OK);
    randombytes_buf(uh, sizeof(uh));
    randombytes_buf(id1, sizeof(id1));
    randombytes_buf(id2, sizeof(id2));
    ck_assert_int_eq(mfa_webauthn_rp_new(&rp, "example.com", "Example Mail"),
                     MFA_OK);
    ck_assert_int_eq(mfa_webauthn_register_options(
                         rp, uh, sizeof(uh), "alice@example.com",
                         "Alice \"A\" Liddell", ch, sizeof(ch), ex, 2, &json),
                     MFA_OK);
    o = json_tokener_parse(json);
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(json_object_get_string(member(member(o, "rp"), "id")),
                     "example.com");
    ck_assert_str_eq(json_object_get_string(member(member(o, "rp"), "name")),
                     "Example Mail");
    ck_b64(member(member(o, "user"), "id"), uh, sizeof(uh));
    ck_assert_str_eq(json_object_get_string(member(member(o, "user"), "name")),
                     "alice@example.com");
    ck_assert_str_eq(
        json_object_get_string(member(member(o, "user"), "displayName")),
        "Alice \"A\" Liddell");
    ck_b64(member(o, "challenge"), ch, sizeof(ch));
    v = member(o, "pubKeyCredParams");
    ck_assert_uint_eq(json_object_array_length(v), 3);
    ck_assert_int_eq(
        json_object_get_int(member(json_object_array_get_idx(v, 0), "alg")),
        -7);
    ck_assert_int_eq(
        json_object_get_int(member(json_object_array_get_idx(v, 1), "alg")),
        -8);
    ck_assert_int_eq(
        json_object_get_int(member(json_object_array_get_idx(v, 2), "alg")),
        -257);
    ck_assert_str_eq(
        json_object_get_string(member(json_object_array_get_idx(v, 2), "type")),
        "public-key");
    ck_assert_int_eq(json_object_get_int(member(o, "timeout")), 300000);
    v = member(o, "excludeCredentials");
    ck_assert_uint_eq(json_object_array_length(v), 2);
    ck_b64(member(json_object_array_get_idx(v, 0), "id"), id1, sizeof(id1));
    ck_b64(member(json_object_array_get_idx(v, 1), "id"), id2, sizeof(id2));
    ck_assert_str_eq(json_object_to_json_string_ext(
                         member(json_object_array_get_idx(v, 0), "transports"),
                         JSON_C_TO_STRING_PLAIN),
                     "[\"usb\",\"nfc\"]");
    ck_assert(!json_object_object_get_ex(json_object_array_get_idx(v, 1),
                                         "transports", NULL));
    sel = member(o, "authenticatorSelection");
    ck_assert_str_eq(json_object_get_string(member(sel, "residentKey")),
                     "preferred");
    ck_assert_str_eq(json_object_get_string(member(sel, "userVerification")),
                     "preferred");
    ck_assert(!json_object_get_boolean(member(sel, "requireResidentKey")));
    ck_assert_str_eq(json_object_get_string(member(o, "attestation")), "none");
    json_object_put(o);
    mfa_free(json);

    /* policy through the setters */
    ck_assert_int_eq(
        mfa_webauthn_rp_set_user_verification(rp, MFA_WEBAUTHN_UV_REQUIRED),
        MFA_OK);
    ck_assert_int_eq(
        mfa_webauthn_rp_set_resident_key(rp, MFA_WEBAUTHN_RK_REQUIRED), MFA_OK);
    ck_assert_int_eq(
        mfa_webauthn_rp_set_attestation(rp, MFA_WEBAUTHN_CONVEY_DIRECT),
        MFA_OK);
    ck_assert_int_eq(mfa_webauthn_rp_set_algorithms(rp, MFA_WEBAUTHN_ALG_EDDSA),
                     MFA_OK);
    ck_assert_int_eq(mfa_webauthn_register_options(rp, uh, sizeof(uh), "a", "A",
                                                   ch, sizeof(ch), NULL, 0,
                                                   &json),
                     MFA_OK);
    o = json_tokener_parse(json);
    sel = member(o, "authenticatorSelection");
    ck_assert_str_eq(json_object_get_string(member(sel, "residentKey")),
                     "required");
    ck_assert(json_object_get_boolean(member(sel, "requireResidentKey")));
    ck_assert_str_eq(json_object_get_string(member(sel, "userVerification")),
                     "required");
    ck_assert_str_eq(json_object_get_string(member(o, "attestation")),
                     "direct");
    v = member(o, "pubKeyCredParams");
    ck_assert_uint_eq(json_object_array_length(v), 1);
    ck_assert_int_eq(
        json_object_get_int(member(json_object_array_get_idx(v, 0), "alg")),
        -8);
    ck_assert_uint_eq(json_object_array_length(member(o, "excludeCredentials")),
                      0);
    json_object_put(o);
    mfa_free(json);

    /* arguments */
    ck_assert_int_eq(mfa_webauthn_register_options(rp, uh, 0, "a", "A", ch,
                                                   sizeof(ch), NULL, 0, &json),
                     MFA_ERR_INVALID);
    ck_assert_ptr_null(json);
    ck_assert_int_eq(mfa_webauthn_register_options(rp, uh, sizeof(uh), "", "A",
                                                   ch, sizeof(ch), NULL, 0,
                                                   &json),
                     MFA_ERR_EMPTY);
    ck_assert_int_eq(mfa_webauthn_register_options(rp, uh, sizeof(uh), "a",
                                                   "\xff", ch, sizeof(ch), NULL,
                                                   0, &json),
                     MFA_ERR_UTF8);
    ck_assert_int_eq(mfa_webauthn_register_options(rp, uh, sizeof(uh), "a", "A",
                                                   ch, 8, NULL, 0, &json),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_webauthn_register_options(rp, uh, sizeof(uh), "a", "A",
                                                   ch, sizeof(ch), NULL, 1,
                                                   &json),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_webauthn_register_options(
                         rp, uh, sizeof(uh), "a", "A", ch, sizeof(ch), ex,
                         MFA_WEBAUTHN_LIST_MAX + 1, &json),
                     MFA_ERR_TOO_LONG);
    mfa_webauthn_rp_free(&rp);
}
END_TEST

START_TEST(request_options)
{
    uint8_t ch[16], id[24];
    mfa_webauthn_descriptor allow = {id, sizeof(id),
                                     MFA_WEBAUTHN_TRANSPORT_INTERNAL |
                                         MFA_WEBAUTHN_TRANSPORT_HYBRID};
    mfa_webauthn_rp_t *rp;
    json_object *o, *v;
    char *json;

    randombytes_buf(id, sizeof(id));
    ck_assert_int_eq(mfa_webauthn_challenge_new(ch, sizeof(ch)), MFA_OK);
    ck_assert_int_eq(mfa_webauthn_rp_new(&rp, "example.com", "Example"),
                     MFA_OK);
    ck_assert_int_eq(
        mfa_webauthn_login_options(rp, ch, sizeof(ch), &allow, 1, &json),
        MFA_OK);
    o = json_tokener_parse(json);
    ck_b64(member(o, "challenge"), ch, sizeof(ch));
    ck_assert_str_eq(json_object_get_string(member(o, "rpId")), "example.com");
    ck_assert_str_eq(json_object_get_string(member(o, "userVerification")),
                     "preferred");
    v = member(o, "allowCredentials");
    ck_assert_uint_eq(json_object_array_length(v), 1);
    ck_b64(member(json_object_array_get_idx(v, 0), "id"), id, sizeof(id));
    ck_assert_str_eq(json_object_to_json_string_ext(
                         member(json_object_array_get_idx(v, 0), "transports"),
                         JSON_C_TO_STRING_PLAIN),
                     "[\"internal\",\"hybrid\"]");
    json_object_put(o);
    mfa_free(json);
    /* discoverable: an empty list */
    ck_assert_int_eq(
        mfa_webauthn_login_options(rp, ch, sizeof(ch), NULL, 0, &json), MFA_OK);
    o = json_tokener_parse(json);
    ck_assert_uint_eq(json_object_array_length(member(o, "allowCredentials")),
                      0);
    json_object_put(o);
    mfa_free(json);
    allow.id_len = MFA_WEBAUTHN_CRED_ID_MAX + 1;
    ck_assert_int_eq(
        mfa_webauthn_login_options(rp, ch, sizeof(ch), &allow, 1, &json),
        MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_webauthn_login_options(rp, ch, 65, NULL, 0, &json),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_webauthn_login_options(NULL, ch, 16, NULL, 0, &json),
                     MFA_ERR_INVALID);
    mfa_webauthn_rp_free(&rp);
}
END_TEST

START_TEST(challenges)
{
    uint8_t a[MFA_WEBAUTHN_CHALLENGE_MAX + 1], b[MFA_WEBAUTHN_CHALLENGE_MAX];

    ck_assert_int_eq(
        mfa_webauthn_challenge_new(a, MFA_WEBAUTHN_CHALLENGE_MIN - 1),
        MFA_ERR_INVALID);
    ck_assert_int_eq(
        mfa_webauthn_challenge_new(a, MFA_WEBAUTHN_CHALLENGE_MAX + 1),
        MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_webauthn_challenge_new(NULL, 32), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_webauthn_challenge_new(a, 32), MFA_OK);
    ck_assert_int_eq(mfa_webauthn_challenge_new(b, 32), MFA_OK);
    ck_assert(memcmp(a, b, 32) != 0);
}
END_TEST

/* the CBOR walk refuses what would make cbor_load allocate or recurse */
START_TEST(cbor_bounds)
{
    static const uint8_t huge_array[] = {0x9b, 0, 0, 0, 1, 0, 0, 0, 0};
    static const uint8_t huge_map[] = {0xba, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t long_bytes[] = {0x5a, 0, 1, 0, 0, 1, 2};
    static const uint8_t indefinite[] = {0x9f, 0x01, 0xff};
    static const uint8_t short_array[] = {0x83, 0x01, 0x02};
    static const uint8_t good[] = {0xa2, 0x01, 0x02, 0x03, 0x82, 0x26, 0x40};
    static const uint8_t seq[] = {0x01, 0xa0, 0x80, 0xc1, 0x00};
    uint8_t deep[MFA_INT_WA_CBOR_DEPTH + 2];

    ck_assert_int_eq(mfa_int_wa_cbor_bounded(huge_array, sizeof(huge_array)),
                     -1);
    ck_assert_int_eq(mfa_int_wa_cbor_bounded(huge_map, sizeof(huge_map)), -1);
    ck_assert_int_eq(mfa_int_wa_cbor_bounded(long_bytes, sizeof(long_bytes)),
                     -1);
    ck_assert_int_eq(mfa_int_wa_cbor_bounded(indefinite, sizeof(indefinite)),
                     -1);
    ck_assert_int_eq(mfa_int_wa_cbor_bounded(short_array, sizeof(short_array)),
                     -1);
    ck_assert_int_eq(mfa_int_wa_cbor_bounded(good, sizeof(good)), 0);
    ck_assert_int_eq(mfa_int_wa_cbor_bounded(good, sizeof(good) - 1), -1);
    ck_assert_int_eq(mfa_int_wa_cbor_bounded(seq, sizeof(seq)), 0);
    memset(deep, 0x81, sizeof(deep));
    deep[sizeof(deep) - 1] = 0x00;
    ck_assert_int_eq(mfa_int_wa_cbor_bounded(deep, sizeof(deep)), -1);
    /* exactly the allowed depth */
    ck_assert_int_eq(mfa_int_wa_cbor_bounded(deep + 2, sizeof(deep) - 2), 0);
}
END_TEST

START_TEST(error_codes)
{
    const char *seen[20];

    for (int rc = -110; rc >= -129; rc--) {
        const char *name = mfa_strerror_name(rc), *text = mfa_strerror(rc);

        ck_assert_msg(strncmp(name, "MFA_ERR_WEBAUTHN_", 17) == 0, "%d: %s", rc,
                      name);
        ck_assert_str_ne(text, "unknown error");
        for (int j = 0; j < -110 - rc; j++)
            ck_assert_str_ne(seen[j], text);
        seen[-110 - rc] = text;
    }
    /* the WebAuthn range ends at -129 (imports follow from -130) */
    ck_assert(strncmp(mfa_strerror_name(-130), "MFA_ERR_WEBAUTHN_", 17) != 0);
    ck_assert_str_eq(mfa_webauthn_fmt_name(MFA_WEBAUTHN_FMT_NONE), "none");
    ck_assert_str_eq(mfa_webauthn_fmt_name(MFA_WEBAUTHN_FMT_PACKED), "packed");
    ck_assert_str_eq(mfa_webauthn_fmt_name(MFA_WEBAUTHN_FMT_FIDO_U2F),
                     "fido-u2f");
    ck_assert_ptr_null(mfa_webauthn_fmt_name((mfa_webauthn_fmt)3));
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("webauthn");
    TCase *tc = tcase_create("webauthn");

    tcase_add_checked_fixture(tc, load, unload);
    tcase_add_test(tc, vectors_verdicts);
    tcase_add_test(tc, registration_record);
    tcase_add_test(tc, roundtrip);
    tcase_add_test(tc, sign_counter);
    tcase_add_test(tc, stored_record_checked);
    tcase_add_test(tc, lookup);
    tcase_add_test(tc, damaged_responses);
    tcase_add_test(tc, limits);
    tcase_add_test(tc, response_forms);
    tcase_add_test(tc, client_data_fields);
    tcase_add_test(tc, origins);
    tcase_add_test(tc, rp_config);
    tcase_add_test(tc, creation_options);
    tcase_add_test(tc, request_options);
    tcase_add_test(tc, challenges);
    tcase_add_test(tc, cbor_bounds);
    tcase_add_test(tc, error_codes);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
