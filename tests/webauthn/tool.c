/*
 * libmfa's WebAuthn calls for scripts (tests/webauthn/browser.mjs): one
 * JSON request on stdin, one JSON answer on stdout.
 *
 *   {"op": "register-options" | "login-options" | "register-verify",
 *    "rp_id", "origins", "uv", "rk", "attestation", "challenge",
 *    "user_handle", "exclude" / "allow" (base64url ids), "response"}
 *
 * The options ops answer {"rc", "options"}; register-verify answers
 * {"rc", "credential"} with the record in the vectors' form (vectors.h),
 * plus its format, trust and flags.
 */
#include "vectors.h"

static char *
b64(const uint8_t *p, size_t n)
{
    size_t sz =
        sodium_base64_encoded_len(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *s = malloc(sz);

    if (s == NULL)
        abort();
    return sodium_bin2base64(s, sz, p, n,
                             sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static void
put_b64(json_object *o, const char *key, const uint8_t *p, size_t n)
{
    char *s = b64(p, n);

    json_object_object_add(o, key, json_object_new_string(s));
    free(s);
}

/* base64url ids of member key into d[] (ids kept in store[]) */
static size_t
descriptors(json_object *req, const char *key, mfa_webauthn_descriptor *d,
            uint8_t (*store)[MFA_WEBAUTHN_CRED_ID_MAX], size_t max)
{
    json_object *arr;
    size_t n = 0;

    if (!json_object_object_get_ex(req, key, &arr))
        return 0;
    for (size_t i = 0; i < json_object_array_length(arr) && n < max; i++) {
        const char *s =
            json_object_get_string(json_object_array_get_idx(arr, i));
        size_t len;

        if (sodium_base642bin(store[n], MFA_WEBAUTHN_CRED_ID_MAX, s, strlen(s),
                              NULL, &len, NULL,
                              sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
            continue;
        d[n].id = store[n];
        d[n].id_len = len;
        d[n].transports = 0;
        n++;
    }
    return n;
}

int
main(void)
{
    static char in[1 << 20];
    static uint8_t ids[8][MFA_WEBAUTHN_CRED_ID_MAX];
    mfa_webauthn_descriptor d[8];
    uint8_t ch[MFA_WEBAUTHN_CHALLENGE_MAX], uh[MFA_WEBAUTHN_USER_HANDLE_MAX];
    size_t ch_len = 0, uh_len = 0, n = fread(in, 1, sizeof(in) - 1, stdin);
    json_object *req, *ans = json_object_new_object(), *v;
    mfa_webauthn_rp_t *rp;
    const char *op, *s;
    mfa_rc rc = MFA_ERR_INVALID;
    char *json = NULL;

    in[n] = '\0';
    if ((req = json_tokener_parse(in)) == NULL ||
        (op = wv_str(req, "op")) == NULL || (rp = wv_rp(req)) == NULL) {
        fprintf(stderr, "webauthn-tool: bad request\n");
        return 2;
    }
    wv_bin(req, "challenge", ch, sizeof(ch), &ch_len);
    wv_bin(req, "user_handle", uh, sizeof(uh), &uh_len);
    if ((s = wv_str(req, "rk")) != NULL && strcmp(s, "required") == 0)
        rc = mfa_webauthn_rp_set_resident_key(rp, MFA_WEBAUTHN_RK_REQUIRED);
    if ((s = wv_str(req, "rk")) != NULL && strcmp(s, "discouraged") == 0)
        rc = mfa_webauthn_rp_set_resident_key(rp, MFA_WEBAUTHN_RK_DISCOURAGED);
    if ((s = wv_str(req, "attestation")) != NULL && strcmp(s, "direct") == 0)
        rc = mfa_webauthn_rp_set_attestation(rp, MFA_WEBAUTHN_CONVEY_DIRECT);

    rc = MFA_ERR_INVALID; /* an unknown op */
    if (strcmp(op, "register-options") == 0) {
        rc = mfa_webauthn_register_options(
            rp, uh, uh_len, "alice@example.com", "Alice", ch, ch_len, d,
            descriptors(req, "exclude", d, ids, 8), &json);
    } else if (strcmp(op, "login-options") == 0) {
        rc = mfa_webauthn_login_options(
            rp, ch, ch_len, d, descriptors(req, "allow", d, ids, 8), &json);
    } else if (strcmp(op, "register-verify") == 0 &&
               json_object_object_get_ex(req, "response", &v)) {
        const char *r =
            json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
        mfa_webauthn_credential c;

        rc = mfa_webauthn_register_verify(rp, ch, ch_len, uh, uh_len, r,
                                          strlen(r), &c);
        if (rc == MFA_OK) {
            json_object *o = json_object_new_object();

            put_b64(o, "id", c.id, c.id_len);
            put_b64(o, "public_key", c.public_key, c.public_key_len);
            json_object_object_add(o, "alg", json_object_new_int(c.algorithm));
            json_object_object_add(o, "sign_count",
                                   json_object_new_int64(c.sign_count));
            put_b64(o, "user_handle", c.user_handle, c.user_handle_len);
            put_b64(o, "aaguid", c.aaguid, sizeof(c.aaguid));
            json_object_object_add(o, "fmt",
                                   json_object_new_string(mfa_webauthn_fmt_name(
                                       c.attestation_format)));
            json_object_object_add(
                o, "trust", json_object_new_int((int)c.attestation_trust));
            json_object_object_add(o, "flags",
                                   json_object_new_int((int)c.flags));
            json_object_object_add(o, "transports",
                                   json_object_new_int((int)c.transports));
            json_object_object_add(ans, "credential", o);
        }
    }
    json_object_object_add(ans, "rc",
                           json_object_new_string(mfa_strerror_name(rc)));
    if (json != NULL) {
        json_object_object_add(ans, "options", json_tokener_parse(json));
        mfa_free(json);
    }
    puts(json_object_to_json_string_ext(ans, JSON_C_TO_STRING_PLAIN));
    json_object_put(ans);
    json_object_put(req);
    mfa_webauthn_rp_free(&rp);
    return 0;
}
