/*
 * WebAuthn JSON: the browser's responses (PublicKeyCredential.toJSON())
 * and clientDataJSON read with json-c, the options written with json-c.
 * Binary values are base64url (libsodium), without padding on output and
 * with or without it on input: both are in use by browser-side libraries.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>
#include <sodium.h>

#include "ct.h"
#include "internal.h"
#include "text.h"
#include "webauthn_int.h"

mfa_rc
mfa_int_wa_b64_decode(const char *s, size_t n, uint8_t *out, size_t max,
                      size_t *outlen)
{
    const char *end = NULL;
    size_t len = 0;

    *outlen = 0;
    /* the decoded size bounds the work: refuse before decoding */
    if (n / 4 * 3 > max + 3)
        return MFA_ERR_WEBAUTHN_TOO_LARGE;
    if (sodium_base642bin(out, max, s, n, NULL, &len, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0 &&
        end == s + n) {
        *outlen = len;
        return MFA_OK;
    }
    if (sodium_base642bin(out, max, s, n, NULL, &len, &end,
                          sodium_base64_VARIANT_URLSAFE) == 0 &&
        end == s + n) {
        *outlen = len;
        return MFA_OK;
    }
    return MFA_ERR_WEBAUTHN_JSON;
}

/* A base64url string member into a malloc'ed buffer of at most max. */
static mfa_rc
get_b64_alloc(json_object *o, const char *key, size_t max, uint8_t **out,
              size_t *outlen, mfa_rc too_large)
{
    json_object *v;
    const char *s;
    size_t n;
    mfa_rc rc;

    *out = NULL;
    *outlen = 0;
    if (!json_object_object_get_ex(o, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return MFA_ERR_WEBAUTHN_JSON;
    s = json_object_get_string(v);
    n = (size_t)json_object_get_string_len(v);
    if (n == 0)
        return MFA_ERR_WEBAUTHN_JSON;
    if (n / 4 * 3 > max + 3)
        return too_large;
    *out = malloc(n / 4 * 3 + 3);
    if (*out == NULL)
        return MFA_ERR_NOMEM;
    rc = mfa_int_wa_b64_decode(s, n, *out, max, outlen);
    if (rc == MFA_ERR_WEBAUTHN_TOO_LARGE)
        rc = too_large;
    if (rc == MFA_OK && *outlen == 0)
        rc = MFA_ERR_WEBAUTHN_JSON;
    if (rc != MFA_OK) {
        free(*out);
        *out = NULL;
        *outlen = 0;
    }
    return rc;
}

/* A base64url string member into out[max]; a longer one is `too_long`.
 * Decoded in place: no allocation on the login path. */
static mfa_rc
get_b64_fixed(json_object *o, const char *key, uint8_t *out, size_t max,
              size_t *outlen, mfa_rc too_long)
{
    json_object *v;
    const char *s;
    size_t n;
    mfa_rc rc;

    *outlen = 0;
    if (!json_object_object_get_ex(o, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return MFA_ERR_WEBAUTHN_JSON;
    s = json_object_get_string(v);
    n = (size_t)json_object_get_string_len(v);
    if (n == 0)
        return MFA_ERR_WEBAUTHN_JSON;
    rc = mfa_int_wa_b64_decode(s, n, out, max, outlen);
    if (rc == MFA_OK && *outlen == 0)
        rc = MFA_ERR_WEBAUTHN_JSON;
    if (rc != MFA_OK && n / 4 * 3 > max)
        rc = too_long; /* not an exact test: a bad text of that length */
    if (rc != MFA_OK)
        *outlen = 0;
    return rc;
}

/* s[0..n) is exactly the text want (JSON strings may hold a \u0000) */
static int
text_eq(const char *s, size_t n, const char *want)
{
    return n == strlen(want) && memcmp(s, want, n) == 0;
}

static int
get_string(json_object *o, const char *key, const char **s, size_t *n)
{
    json_object *v;

    if (!json_object_object_get_ex(o, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return -1;
    *s = json_object_get_string(v);
    *n = (size_t)json_object_get_string_len(v);
    return 0;
}

/*
 * One tokener per thread, made on first use and freed when the thread
 * exits: json_tokener_new_ex allocates the tokener, its level stack and
 * its string buffer, and a login parses twice (the response and
 * clientDataJSON).  It holds nothing between parses but that buffer,
 * whose last contents are what the browser sent, no secret.
 */
static pthread_key_t tok_key;
static pthread_once_t tok_once = PTHREAD_ONCE_INIT;
static int tok_key_ok;

static void
tok_release(void *p)
{
    json_tokener_free(p);
}

static void
tok_make_key(void)
{
    tok_key_ok = pthread_key_create(&tok_key, tok_release) == 0;
}

static json_tokener *
tok_get(void)
{
    json_tokener *tok;

    if (pthread_once(&tok_once, tok_make_key) != 0 || !tok_key_ok)
        return NULL;
    tok = pthread_getspecific(tok_key);
    if (tok == NULL) {
        tok = json_tokener_new_ex(MFA_INT_WA_JSON_DEPTH);
        if (tok == NULL)
            return NULL;
        if (pthread_setspecific(tok_key, tok) != 0) {
            json_tokener_free(tok);
            return NULL;
        }
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    } else {
        /* a refused text leaves its state behind */
        json_tokener_reset(tok);
    }
    return tok;
}

/*
 * Parse exactly json[0..len) (trailing white space allowed) as one JSON
 * object, nested at most MFA_INT_WA_JSON_DEPTH deep.
 */
static mfa_rc
parse_object(const char *json, size_t len, json_object **out)
{
    json_tokener *tok;
    json_object *o;
    size_t end;

    *out = NULL;
    if (len == 0 || memchr(json, '\0', len) != NULL)
        return MFA_ERR_WEBAUTHN_JSON;
    tok = tok_get();
    if (tok == NULL)
        return MFA_ERR_NOMEM;
    o = json_tokener_parse_ex(tok, json, (int)len);
    if (o == NULL || json_tokener_get_error(tok) != json_tokener_success) {
        json_object_put(o);
        return MFA_ERR_WEBAUTHN_JSON;
    }
    end = json_tokener_get_parse_end(tok);
    while (end < len && (json[end] == ' ' || json[end] == '\n' ||
                         json[end] == '\r' || json[end] == '\t'))
        end++;
    if (end != len || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return MFA_ERR_WEBAUTHN_JSON;
    }
    *out = o;
    return MFA_OK;
}

static const struct {
    const char *name;
    unsigned bit;
} transports[] = {
    {"usb", MFA_WEBAUTHN_TRANSPORT_USB},
    {"nfc", MFA_WEBAUTHN_TRANSPORT_NFC},
    {"ble", MFA_WEBAUTHN_TRANSPORT_BLE},
    {"internal", MFA_WEBAUTHN_TRANSPORT_INTERNAL},
    {"hybrid", MFA_WEBAUTHN_TRANSPORT_HYBRID},
    {"smart-card", MFA_WEBAUTHN_TRANSPORT_SMART_CARD},
};

/* Unknown transports are ignored, as WebAuthn asks. */
static mfa_rc
get_transports(json_object *resp, unsigned *bits)
{
    json_object *arr;
    size_t n;

    *bits = 0;
    if (!json_object_object_get_ex(resp, "transports", &arr))
        return MFA_OK;
    if (!json_object_is_type(arr, json_type_array))
        return MFA_ERR_WEBAUTHN_JSON;
    n = json_object_array_length(arr);
    if (n > 16)
        return MFA_ERR_WEBAUTHN_TOO_LARGE;
    for (size_t i = 0; i < n; i++) {
        json_object *t = json_object_array_get_idx(arr, i);
        const char *s;
        size_t len;

        if (!json_object_is_type(t, json_type_string))
            return MFA_ERR_WEBAUTHN_JSON;
        s = json_object_get_string(t);
        len = (size_t)json_object_get_string_len(t);
        for (size_t k = 0; k < sizeof(transports) / sizeof(transports[0]); k++)
            if (text_eq(s, len, transports[k].name))
                *bits |= transports[k].bit;
    }
    return MFA_OK;
}

void
mfa_int_wa_response_clear(struct mfa_int_wa_response *r)
{
    free(r->att_object);
    r->att_object = NULL;
    r->att_object_len = 0;
}

mfa_rc
mfa_int_wa_response_parse(const char *json, size_t len,
                          enum mfa_int_wa_kind kind,
                          struct mfa_int_wa_response *r)
{
    json_object *root = NULL, *resp, *uh;
    const char *s, *raw;
    size_t n, raw_n;
    mfa_rc rc;

    /* only the lengths and the pointer: the buffers are filled before use */
    r->raw_id_len = r->client_data_len = r->att_object_len = 0;
    r->auth_data_len = r->sig_len = r->user_handle_len = 0;
    r->transports = 0;
    r->att_object = NULL;
    if (len > MFA_WEBAUTHN_JSON_MAX)
        return MFA_ERR_WEBAUTHN_TOO_LARGE;
    rc = parse_object(json, len, &root);
    if (rc != MFA_OK)
        return rc;
    rc = MFA_ERR_WEBAUTHN_JSON;
    if (get_string(root, "type", &s, &n) != 0)
        goto out;
    if (!text_eq(s, n, "public-key")) {
        rc = MFA_ERR_WEBAUTHN_TYPE;
        goto out;
    }
    /* id is base64url(rawId): both present and the same bytes */
    rc = get_b64_fixed(root, "rawId", r->raw_id, sizeof(r->raw_id),
                       &r->raw_id_len, MFA_ERR_WEBAUTHN_CREDENTIAL_ID);
    if (rc != MFA_OK)
        goto out;
    if (get_string(root, "id", &s, &n) != 0 ||
        get_string(root, "rawId", &raw, &raw_n) != 0) {
        rc = MFA_ERR_WEBAUTHN_JSON;
        goto out;
    }
    /* the same text, but for padding, which one of them may carry */
    while (n > 0 && s[n - 1] == '=')
        n--;
    while (raw_n > 0 && raw[raw_n - 1] == '=')
        raw_n--;
    if (n != raw_n || memcmp(s, raw, n) != 0) {
        rc = MFA_ERR_WEBAUTHN_CREDENTIAL_ID;
        goto out;
    }
    rc = MFA_ERR_WEBAUTHN_JSON;
    if (!json_object_object_get_ex(root, "response", &resp) ||
        !json_object_is_type(resp, json_type_object))
        goto out;
    rc = get_b64_fixed(resp, "clientDataJSON", r->client_data,
                       sizeof(r->client_data), &r->client_data_len,
                       MFA_ERR_WEBAUTHN_TOO_LARGE);
    if (rc != MFA_OK)
        goto out;
    if (kind == MFA_INT_WA_CREATE) {
        rc = get_b64_alloc(resp, "attestationObject",
                           MFA_WEBAUTHN_ATT_OBJECT_MAX, &r->att_object,
                           &r->att_object_len, MFA_ERR_WEBAUTHN_TOO_LARGE);
        if (rc == MFA_OK)
            rc = get_transports(resp, &r->transports);
        goto out;
    }
    rc = get_b64_fixed(resp, "authenticatorData", r->auth_data,
                       sizeof(r->auth_data), &r->auth_data_len,
                       MFA_ERR_WEBAUTHN_TOO_LARGE);
    if (rc != MFA_OK)
        goto out;
    rc = get_b64_fixed(resp, "signature", r->sig, sizeof(r->sig), &r->sig_len,
                       MFA_ERR_WEBAUTHN_TOO_LARGE);
    if (rc != MFA_OK)
        goto out;
    /* userHandle: absent, null or "" when the authenticator sent none */
    if (json_object_object_get_ex(resp, "userHandle", &uh) && uh != NULL) {
        if (!json_object_is_type(uh, json_type_string)) {
            rc = MFA_ERR_WEBAUTHN_JSON;
            goto out;
        }
        if (json_object_get_string_len(uh) > 0)
            rc = get_b64_fixed(resp, "userHandle", r->user_handle,
                               sizeof(r->user_handle), &r->user_handle_len,
                               MFA_ERR_WEBAUTHN_USER_HANDLE);
    }
out:
    json_object_put(root);
    if (rc != MFA_OK)
        mfa_int_wa_response_clear(r);
    return rc;
}

static int
origin_allowed(const struct mfa_webauthn_rp *rp, const char *origin, size_t n)
{
    if (rp->n_origins == 0)
        return strlen(rp->default_origin) == n &&
               memcmp(rp->default_origin, origin, n) == 0;
    for (size_t i = 0; i < rp->n_origins; i++)
        if (strlen(rp->origins[i]) == n &&
            memcmp(rp->origins[i], origin, n) == 0)
            return 1;
    return 0;
}

mfa_rc
mfa_int_wa_client_data_check_with(const struct mfa_webauthn_rp *rp,
                                  enum mfa_int_wa_kind kind,
                                  mfa_int_wa_challenge_fn check, void *arg,
                                  const uint8_t *cd, size_t cd_len)
{
    uint8_t got[MFA_WEBAUTHN_CHALLENGE_MAX];
    json_object *o = NULL, *co;
    const char *s;
    size_t n, got_len;
    mfa_rc rc;

    rc = parse_object((const char *)cd, cd_len, &o);
    if (rc != MFA_OK)
        return rc;
    rc = MFA_ERR_WEBAUTHN_JSON;
    if (get_string(o, "type", &s, &n) != 0)
        goto out;
    if (!text_eq(s, n,
                 kind == MFA_INT_WA_CREATE ? "webauthn.create"
                                           : "webauthn.get")) {
        rc = MFA_ERR_WEBAUTHN_TYPE;
        goto out;
    }
    if (get_string(o, "challenge", &s, &n) != 0)
        goto out;
    /* a challenge that is not base64url is not ours */
    if (mfa_int_wa_b64_decode(s, n, got, sizeof(got), &got_len) != MFA_OK) {
        rc = MFA_ERR_WEBAUTHN_CHALLENGE;
        goto out;
    }
    if ((rc = check(got, got_len, arg)) != MFA_OK)
        goto out;
    rc = MFA_ERR_WEBAUTHN_JSON;
    if (get_string(o, "origin", &s, &n) != 0)
        goto out;
    if (!origin_allowed(rp, s, n)) {
        rc = MFA_ERR_WEBAUTHN_ORIGIN;
        goto out;
    }
    if (json_object_object_get_ex(o, "crossOrigin", &co) && co != NULL) {
        if (!json_object_is_type(co, json_type_boolean))
            goto out;
        if (json_object_get_boolean(co)) {
            rc = MFA_ERR_WEBAUTHN_CROSS_ORIGIN;
            goto out;
        }
    }
    rc = MFA_OK;
out:
    json_object_put(o);
    return rc;
}

typedef struct expected_challenge {
    const uint8_t *p;
    size_t len;
} expected_challenge;

/* The challenge the caller kept, compared in constant time. */
static mfa_rc
challenge_equal(const uint8_t *got, size_t got_len, void *arg)
{
    const expected_challenge *want = arg;
    int eq;

    if (got_len != want->len)
        return MFA_ERR_WEBAUTHN_CHALLENGE; /* its length is public */
    eq = mfa_int_ct_equal(got, want->p, want->len);
    MFA_CT_PUBLIC(eq); /* the verdict */
    return eq ? MFA_OK : MFA_ERR_WEBAUTHN_CHALLENGE;
}

mfa_rc
mfa_int_wa_client_data_check(const struct mfa_webauthn_rp *rp,
                             enum mfa_int_wa_kind kind,
                             const uint8_t *challenge, size_t challenge_len,
                             const uint8_t *cd, size_t cd_len)
{
    expected_challenge want = {challenge, challenge_len};

    return mfa_int_wa_client_data_check_with(rp, kind, challenge_equal, &want,
                                             cd, cd_len);
}

/* ---- options ------------------------------------------------------------ */

/*
 * The challenge of the options goes to the browser: public from here on,
 * whatever it was made from (the service flows' challenges carry a tag
 * keyed by the key ring).  The constant-time test's declassification
 * point (lib/ct.h), for a byte string.
 */
#ifdef MFA_CT_VALGRIND
#include <valgrind/memcheck.h>
#define CT_PUBLIC_BYTES(p, n) ((void)VALGRIND_MAKE_MEM_DEFINED((p), (n)))
#else
#define CT_PUBLIC_BYTES(p, n) ((void)0)
#endif

static json_object *
b64_string(const uint8_t *p, size_t n)
{
    size_t sz =
        sodium_base64_encoded_len(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *s = malloc(sz);
    json_object *o;

    if (s == NULL)
        return NULL;
    sodium_bin2base64(s, sz, p, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    o = json_object_new_string(s);
    free(s);
    return o;
}

/* Add v to o under key; on failure v is released.  -1 on failure. */
static int
put(json_object *o, const char *key, json_object *v)
{
    if (v == NULL)
        return -1;
    if (json_object_object_add(o, key, v) != 0) {
        json_object_put(v);
        return -1;
    }
    return 0;
}

static int
push(json_object *arr, json_object *v)
{
    if (v == NULL)
        return -1;
    if (json_object_array_add(arr, v) != 0) {
        json_object_put(v);
        return -1;
    }
    return 0;
}

static json_object *
descriptors(const mfa_webauthn_descriptor *d, size_t n)
{
    json_object *arr = json_object_new_array();

    if (arr == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_new_object(), *t;

        if (push(arr, e) != 0 ||
            put(e, "type", json_object_new_string("public-key")) != 0 ||
            put(e, "id", b64_string(d[i].id, d[i].id_len)) != 0)
            goto fail;
        if (d[i].transports == 0)
            continue;
        t = json_object_new_array();
        if (put(e, "transports", t) != 0)
            goto fail;
        for (size_t k = 0; k < sizeof(transports) / sizeof(transports[0]); k++)
            if ((d[i].transports & transports[k].bit) &&
                push(t, json_object_new_string(transports[k].name)) != 0)
                goto fail;
    }
    return arr;
fail:
    json_object_put(arr);
    return NULL;
}

static const char *const uv_names[] = {"preferred", "required", "discouraged"};
static const char *const rk_names[] = {"preferred", "required", "discouraged"};
static const char *const conv_names[] = {"none", "indirect", "direct"};

/* Serialise o (consumed) into a malloc'ed string. */
static mfa_rc
finish_json(json_object *o, char **json)
{
    const char *s;

    s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                              JSON_C_TO_STRING_NOSLASHESCAPE);
    if (s == NULL || (*json = strdup(s)) == NULL) {
        json_object_put(o);
        return MFA_ERR_NOMEM;
    }
    json_object_put(o);
    return MFA_OK;
}

mfa_rc
mfa_int_wa_creation_json(const struct mfa_webauthn_rp *rp,
                         const uint8_t *user_handle, size_t uh_len,
                         const char *user_name, const char *display,
                         const uint8_t *challenge, size_t ch_len,
                         const mfa_webauthn_descriptor *exclude,
                         size_t n_exclude, char **json)
{
    static const struct {
        unsigned bit;
        int32_t alg;
    } algs[] = {{MFA_WEBAUTHN_ALG_ES256, MFA_WEBAUTHN_ES256},
                {MFA_WEBAUTHN_ALG_EDDSA, MFA_WEBAUTHN_EDDSA},
                {MFA_WEBAUTHN_ALG_RS256, MFA_WEBAUTHN_RS256}};
    json_object *o = json_object_new_object(), *rpo, *user, *params, *sel;

    CT_PUBLIC_BYTES(challenge, ch_len);
    if (o == NULL)
        return MFA_ERR_NOMEM;
    rpo = json_object_new_object();
    if (put(o, "rp", rpo) != 0 ||
        put(rpo, "id", json_object_new_string(rp->rp_id)) != 0 ||
        put(rpo, "name", json_object_new_string(rp->name)) != 0)
        goto fail;
    user = json_object_new_object();
    if (put(o, "user", user) != 0 ||
        put(user, "id", b64_string(user_handle, uh_len)) != 0 ||
        put(user, "name", json_object_new_string(user_name)) != 0 ||
        put(user, "displayName", json_object_new_string(display)) != 0)
        goto fail;
    if (put(o, "challenge", b64_string(challenge, ch_len)) != 0)
        goto fail;
    params = json_object_new_array();
    if (put(o, "pubKeyCredParams", params) != 0)
        goto fail;
    /* in order of preference: ES256 is what every authenticator has */
    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        json_object *p;

        if (!(rp->algs & algs[i].bit))
            continue;
        p = json_object_new_object();
        if (push(params, p) != 0 ||
            put(p, "type", json_object_new_string("public-key")) != 0 ||
            put(p, "alg", json_object_new_int(algs[i].alg)) != 0)
            goto fail;
    }
    if (put(o, "timeout", json_object_new_int64(rp->timeout_ms)) != 0 ||
        put(o, "excludeCredentials", descriptors(exclude, n_exclude)) != 0)
        goto fail;
    sel = json_object_new_object();
    if (put(o, "authenticatorSelection", sel) != 0 ||
        put(sel, "residentKey", json_object_new_string(rk_names[rp->rk])) !=
            0 ||
        put(sel, "requireResidentKey",
            json_object_new_boolean(rp->rk == MFA_WEBAUTHN_RK_REQUIRED)) != 0 ||
        put(sel, "userVerification",
            json_object_new_string(uv_names[rp->uv])) != 0)
        goto fail;
    if (put(o, "attestation",
            json_object_new_string(conv_names[rp->conveyance])) != 0)
        goto fail;
    return finish_json(o, json);
fail:
    json_object_put(o);
    return MFA_ERR_NOMEM;
}

mfa_rc
mfa_int_wa_request_json(const struct mfa_webauthn_rp *rp,
                        const uint8_t *challenge, size_t ch_len,
                        const mfa_webauthn_descriptor *allow, size_t n_allow,
                        char **json)
{
    json_object *o = json_object_new_object();

    CT_PUBLIC_BYTES(challenge, ch_len);
    if (o == NULL)
        return MFA_ERR_NOMEM;
    if (put(o, "challenge", b64_string(challenge, ch_len)) != 0 ||
        put(o, "timeout", json_object_new_int64(rp->timeout_ms)) != 0 ||
        put(o, "rpId", json_object_new_string(rp->rp_id)) != 0 ||
        put(o, "allowCredentials", descriptors(allow, n_allow)) != 0 ||
        put(o, "userVerification", json_object_new_string(uv_names[rp->uv])) !=
            0) {
        json_object_put(o);
        return MFA_ERR_NOMEM;
    }
    return finish_json(o, json);
}
