/*
 * The software authenticator of softauth_c.h.  What it writes follows
 * WebAuthn level 2: authenticator data rpIdHash | flags | signCount
 * [| aaguid | idLength | id | COSE_Key], signatures over authenticator
 * data | SHA-256(clientDataJSON), attestation objects
 * {"fmt", "attStmt", "authData"} in CTAP2's canonical key order.
 */
#include <stdlib.h>
#include <string.h>

#include <cbor.h>
#include <json.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "softauth_c.h"

#define AD_MAX 2048
#define SIG_MAX 512
#define COSE_MAX 600

struct softauth {
    int32_t alg;
    EVP_PKEY *pkey;                            /* ES256, RS256 */
    uint8_t ed_sk[crypto_sign_SECRETKEYBYTES]; /* EdDSA */
    uint8_t ed_pk[crypto_sign_PUBLICKEYBYTES];
    uint8_t id[MFA_WEBAUTHN_CRED_ID_MAX];
    size_t id_len;
    uint8_t cose[COSE_MAX];
    size_t cose_len;
    unsigned flags;
    uint32_t next_count, step, last_count;
    int att;
    uint8_t aaguid[16];
    unsigned transports;
    unsigned tamper;
    uint8_t uh[MFA_WEBAUTHN_USER_HANDLE_MAX];
    size_t uh_len;
    int send_uh;
};

/* ---- CBOR ---------------------------------------------------------------- */

/* An integer in its shortest encoding, as CTAP2's canonical form asks. */
static cbor_item_t *
cb_int(int64_t v)
{
    uint64_t u = v >= 0 ? (uint64_t)v : (uint64_t)(-1 - v);
    cbor_item_t *i;

    if (u < 256)
        i = v >= 0 ? cbor_build_uint8((uint8_t)u)
                   : cbor_build_negint8((uint8_t)u);
    else if (u < 65536)
        i = v >= 0 ? cbor_build_uint16((uint16_t)u)
                   : cbor_build_negint16((uint16_t)u);
    else
        i = v >= 0 ? cbor_build_uint32((uint32_t)u)
                   : cbor_build_negint32((uint32_t)u);
    return i;
}

static int
cb_put(cbor_item_t *map, cbor_item_t *k, cbor_item_t *v)
{
    int ok;

    if (k == NULL || v == NULL) {
        if (k != NULL)
            cbor_decref(&k);
        if (v != NULL)
            cbor_decref(&v);
        return -1;
    }
    ok = cbor_map_add(
        map, (struct cbor_pair){.key = cbor_move(k), .value = cbor_move(v)});
    return ok ? 0 : -1;
}

/* item (consumed) serialised into out[max]. */
static int
cb_out(cbor_item_t *item, uint8_t *out, size_t max, size_t *len)
{
    unsigned char *buf = NULL;
    size_t size = 0, n;

    if (item == NULL)
        return -1;
    n = cbor_serialize_alloc(item, &buf, &size);
    cbor_decref(&item);
    if (n == 0 || n > max) {
        free(buf);
        return -1;
    }
    memcpy(out, buf, n);
    *len = n;
    free(buf);
    return 0;
}

/* ---- keys ---------------------------------------------------------------- */

static int
bn_param(EVP_PKEY *k, const char *name, uint8_t *out, size_t max, size_t *len)
{
    BIGNUM *bn = NULL;
    int n;

    if (EVP_PKEY_get_bn_param(k, name, &bn) != 1)
        return -1;
    n = BN_num_bytes(bn);
    if (n <= 0 || (size_t)n > max) {
        BN_free(bn);
        return -1;
    }
    BN_bn2bin(bn, out);
    *len = (size_t)n;
    BN_free(bn);
    return 0;
}

/* The COSE_Key of the public key (RFC 8152, WebAuthn's three kinds). */
static int
make_cose(softauth *sa)
{
    /* EC2 keys have x and y, OKP and RSA keys two parameters */
    cbor_item_t *m =
        cbor_new_definite_map(sa->alg == MFA_WEBAUTHN_ES256 ? 5 : 4);

    if (m == NULL)
        return -1;
    if (sa->alg == MFA_WEBAUTHN_EDDSA) {
        if (cb_put(m, cb_int(1), cb_int(1)) != 0 || /* kty OKP */
            cb_put(m, cb_int(3), cb_int(-8)) != 0 ||
            cb_put(m, cb_int(-1), cb_int(6)) != 0 || /* crv Ed25519 */
            cb_put(m, cb_int(-2), cbor_build_bytestring(sa->ed_pk, 32)) != 0)
            goto fail;
    } else if (sa->alg == MFA_WEBAUTHN_ES256) {
        uint8_t pt[65];
        size_t n = 0;

        if (EVP_PKEY_get_octet_string_param(sa->pkey, OSSL_PKEY_PARAM_PUB_KEY,
                                            pt, sizeof(pt), &n) != 1 ||
            n != 65 || pt[0] != 0x04)
            goto fail;
        if (cb_put(m, cb_int(1), cb_int(2)) != 0 || /* kty EC2 */
            cb_put(m, cb_int(3), cb_int(-7)) != 0 ||
            cb_put(m, cb_int(-1), cb_int(1)) != 0 || /* crv P-256 */
            cb_put(m, cb_int(-2), cbor_build_bytestring(pt + 1, 32)) != 0 ||
            cb_put(m, cb_int(-3), cbor_build_bytestring(pt + 33, 32)) != 0)
            goto fail;
    } else {
        uint8_t nn[512], e[8];
        size_t nlen = 0, elen = 0;

        if (bn_param(sa->pkey, OSSL_PKEY_PARAM_RSA_N, nn, sizeof(nn), &nlen) !=
                0 ||
            bn_param(sa->pkey, OSSL_PKEY_PARAM_RSA_E, e, sizeof(e), &elen) != 0)
            goto fail;
        if (cb_put(m, cb_int(1), cb_int(3)) != 0 || /* kty RSA */
            cb_put(m, cb_int(3), cb_int(-257)) != 0 ||
            cb_put(m, cb_int(-1), cbor_build_bytestring(nn, nlen)) != 0 ||
            cb_put(m, cb_int(-2), cbor_build_bytestring(e, elen)) != 0)
            goto fail;
    }
    return cb_out(m, sa->cose, sizeof(sa->cose), &sa->cose_len);
fail:
    cbor_decref(&m);
    return -1;
}

/* A signature over msg with the credential key. */
static int
sign(const softauth *sa, const uint8_t *msg, size_t len, uint8_t *sig,
     size_t *sig_len)
{
    EVP_MD_CTX *md;
    size_t n = SIG_MAX;
    int ok;

    if (sa->alg == MFA_WEBAUTHN_EDDSA) {
        unsigned long long sl = 0;

        if (crypto_sign_detached(sig, &sl, msg, len, sa->ed_sk) != 0)
            return -1;
        *sig_len = (size_t)sl;
        return 0;
    }
    md = EVP_MD_CTX_new();
    if (md == NULL)
        return -1;
    ok = EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, sa->pkey) == 1 &&
         EVP_DigestSign(md, sig, &n, msg, len) == 1;
    EVP_MD_CTX_free(md);
    if (!ok)
        return -1;
    *sig_len = n;
    return 0;
}

int
softauth_new(softauth **out, int32_t alg)
{
    softauth *sa;

    if (out == NULL)
        return -1;
    *out = NULL;
    if (sodium_init() < 0)
        return -1;
    sa = calloc(1, sizeof(*sa));
    if (sa == NULL)
        return -1;
    sa->alg = alg;
    if (alg == MFA_WEBAUTHN_EDDSA)
        crypto_sign_keypair(sa->ed_pk, sa->ed_sk);
    else if (alg == MFA_WEBAUTHN_ES256)
        sa->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    else if (alg == MFA_WEBAUTHN_RS256)
        sa->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    else
        goto fail;
    if (alg != MFA_WEBAUTHN_EDDSA && sa->pkey == NULL)
        goto fail;
    if (make_cose(sa) != 0)
        goto fail;
    sa->id_len = 32;
    randombytes_buf(sa->id, sa->id_len);
    sa->flags = MFA_WEBAUTHN_FLAG_UP | MFA_WEBAUTHN_FLAG_UV;
    sa->next_count = 1;
    sa->step = 1;
    sa->att = SOFTAUTH_ATT_NONE;
    sa->transports = MFA_WEBAUTHN_TRANSPORT_INTERNAL;
    sa->send_uh = 1;
    *out = sa;
    return 0;
fail:
    softauth_free(&sa);
    return -1;
}

void
softauth_free(softauth **sa)
{
    if (sa == NULL || *sa == NULL)
        return;
    EVP_PKEY_free((*sa)->pkey);
    sodium_memzero(*sa, sizeof(**sa));
    free(*sa);
    *sa = NULL;
}

int
softauth_set_id(softauth *sa, const uint8_t *id, size_t len)
{
    if (sa == NULL || id == NULL || len == 0 || len > MFA_WEBAUTHN_CRED_ID_MAX)
        return -1;
    memcpy(sa->id, id, len);
    sa->id_len = len;
    return 0;
}

const uint8_t *
softauth_id(const softauth *sa, size_t *len)
{
    *len = sa->id_len;
    return sa->id;
}

int32_t
softauth_alg(const softauth *sa)
{
    return sa->alg;
}

void
softauth_set_flags(softauth *sa, unsigned flags)
{
    sa->flags =
        flags & ~(unsigned)(MFA_WEBAUTHN_FLAG_AT | MFA_WEBAUTHN_FLAG_ED);
}

void
softauth_set_sign_count(softauth *sa, uint32_t next, uint32_t step)
{
    sa->next_count = next;
    sa->step = step;
}

uint32_t
softauth_sign_count(const softauth *sa)
{
    return sa->last_count;
}

void
softauth_set_attestation(softauth *sa, int fmt)
{
    sa->att = fmt;
}

void
softauth_set_aaguid(softauth *sa, const uint8_t aaguid[16])
{
    memcpy(sa->aaguid, aaguid, 16);
}

void
softauth_set_transports(softauth *sa, unsigned bits)
{
    sa->transports = bits;
}

void
softauth_set_tamper(softauth *sa, unsigned bits)
{
    sa->tamper = bits;
}

int
softauth_set_user_handle(softauth *sa, const uint8_t *h, size_t len)
{
    if (sa == NULL || len > MFA_WEBAUTHN_USER_HANDLE_MAX ||
        (len > 0 && h == NULL))
        return -1;
    if (len > 0)
        memcpy(sa->uh, h, len);
    sa->uh_len = len;
    return 0;
}

void
softauth_send_user_handle(softauth *sa, int send)
{
    sa->send_uh = send;
}

/* ---- JSON ---------------------------------------------------------------- */

static json_object *
b64(const uint8_t *p, size_t n)
{
    size_t sz =
        sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *s = malloc(sz);
    json_object *o;

    if (s == NULL)
        return NULL;
    sodium_bin2base64(s, sz, p, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    o = json_object_new_string(s);
    free(s);
    return o;
}

static int
put(json_object *o, const char *k, json_object *v)
{
    if (v == NULL)
        return -1;
    return json_object_object_add(o, k, v) == 0 ? 0 : -1;
}

/* o (consumed) as a malloc'ed string. */
static int
to_string(json_object *o, char **json)
{
    const char *s = json_object_to_json_string_ext(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

    *json = s != NULL ? strdup(s) : NULL;
    json_object_put(o);
    return *json != NULL ? 0 : -1;
}

/* clientDataJSON as a browser writes it, into out[max]. */
static int
client_data(const softauth *sa, const char *type, const char *origin,
            const uint8_t *ch, size_t ch_len, uint8_t *out, size_t max,
            size_t *len)
{
    json_object *o = json_object_new_object();
    char *s = NULL;

    if (o == NULL)
        return -1;
    if (put(o, "type", json_object_new_string(type)) != 0 ||
        put(o, "challenge", b64(ch, ch_len)) != 0 ||
        put(o, "origin", json_object_new_string(origin)) != 0 ||
        put(o, "crossOrigin",
            json_object_new_boolean(
                (sa->tamper & SOFTAUTH_TAMPER_CROSS_ORIGIN) != 0)) != 0) {
        json_object_put(o);
        return -1;
    }
    if (to_string(o, &s) != 0)
        return -1;
    *len = strlen(s);
    if (*len > max) {
        free(s);
        return -1;
    }
    memcpy(out, s, *len);
    free(s);
    return 0;
}

/* rpIdHash | flags | signCount */
static void
ad_header(const char *rp_id, unsigned flags, uint32_t count, uint8_t *ad)
{
    crypto_hash_sha256(ad, (const unsigned char *)rp_id, strlen(rp_id));
    ad[32] = (uint8_t)flags;
    ad[33] = (uint8_t)(count >> 24);
    ad[34] = (uint8_t)(count >> 16);
    ad[35] = (uint8_t)(count >> 8);
    ad[36] = (uint8_t)count;
}

/* authenticator data | SHA-256(clientDataJSON), signed */
static int
sign_ad(const softauth *sa, const uint8_t *ad, size_t ad_len, const uint8_t *cd,
        size_t cd_len, uint8_t *sig, size_t *sig_len)
{
    uint8_t msg[AD_MAX + 32];

    if (ad_len > AD_MAX)
        return -1;
    memcpy(msg, ad, ad_len);
    crypto_hash_sha256(msg + ad_len, cd, cd_len);
    if (sign(sa, msg, ad_len + 32, sig, sig_len) != 0)
        return -1;
    if ((sa->tamper & SOFTAUTH_TAMPER_SIGNATURE) && *sig_len > 0)
        sig[*sig_len - 1] ^= 0x01;
    return 0;
}

static const struct {
    unsigned bit;
    const char *name;
} transport_names[] = {
    {MFA_WEBAUTHN_TRANSPORT_USB, "usb"},
    {MFA_WEBAUTHN_TRANSPORT_NFC, "nfc"},
    {MFA_WEBAUTHN_TRANSPORT_BLE, "ble"},
    {MFA_WEBAUTHN_TRANSPORT_INTERNAL, "internal"},
    {MFA_WEBAUTHN_TRANSPORT_HYBRID, "hybrid"},
    {MFA_WEBAUTHN_TRANSPORT_SMART_CARD, "smart-card"},
};

/* The outer object both responses share. */
static json_object *
credential_json(const softauth *sa, json_object *resp)
{
    json_object *o = json_object_new_object();

    if (o == NULL || resp == NULL)
        goto fail;
    if (put(o, "id", b64(sa->id, sa->id_len)) != 0 ||
        put(o, "rawId", b64(sa->id, sa->id_len)) != 0 ||
        put(o, "type", json_object_new_string("public-key")) != 0)
        goto fail;
    if (put(o, "response", resp) != 0) {
        resp = NULL;
        goto fail;
    }
    resp = NULL;
    if (put(o, "authenticatorAttachment", json_object_new_string("platform")) !=
            0 ||
        put(o, "clientExtensionResults", json_object_new_object()) != 0)
        goto fail;
    return o;
fail:
    json_object_put(resp);
    json_object_put(o);
    return NULL;
}

int
softauth_register_raw(softauth *sa, const char *rp_id, const char *origin,
                      const uint8_t *challenge, size_t challenge_len,
                      char **json)
{
    uint8_t ad[AD_MAX], cd[MFA_WEBAUTHN_CLIENT_DATA_MAX],
        att[AD_MAX + SIG_MAX + 64];
    uint8_t sig[SIG_MAX];
    size_t ad_len, cd_len = 0, att_len = 0, sig_len = 0;
    cbor_item_t *obj = NULL, *stmt = NULL;
    json_object *resp = NULL, *tr, *o;

    if (json == NULL)
        return -1;
    *json = NULL;
    if (sa == NULL || rp_id == NULL || origin == NULL || challenge == NULL)
        return -1;
    if (client_data(sa,
                    (sa->tamper & SOFTAUTH_TAMPER_TYPE) ? "webauthn.get"
                                                        : "webauthn.create",
                    origin, challenge, challenge_len, cd, sizeof(cd),
                    &cd_len) != 0)
        return -1;
    ad_len = 37 + 16 + 2 + sa->id_len + sa->cose_len;
    if (ad_len > sizeof(ad))
        return -1;
    ad_header(rp_id, sa->flags | MFA_WEBAUTHN_FLAG_AT, 0, ad);
    memcpy(ad + 37, sa->aaguid, 16);
    ad[53] = (uint8_t)(sa->id_len >> 8);
    ad[54] = (uint8_t)sa->id_len;
    memcpy(ad + 55, sa->id, sa->id_len);
    memcpy(ad + 55 + sa->id_len, sa->cose, sa->cose_len);
    sa->last_count = 0;

    if (sa->att == SOFTAUTH_ATT_PACKED_SELF) {
        if (sign_ad(sa, ad, ad_len, cd, cd_len, sig, &sig_len) != 0)
            return -1;
        stmt = cbor_new_definite_map(2);
        if (stmt == NULL ||
            cb_put(stmt, cbor_build_string("alg"), cb_int(sa->alg)) != 0 ||
            cb_put(stmt, cbor_build_string("sig"),
                   cbor_build_bytestring(sig, sig_len)) != 0)
            goto fail;
    } else {
        stmt = cbor_new_definite_map(0);
        if (stmt == NULL)
            goto fail;
    }
    obj = cbor_new_definite_map(3);
    if (obj == NULL ||
        cb_put(obj, cbor_build_string("fmt"),
               cbor_build_string(
                   sa->att == SOFTAUTH_ATT_PACKED_SELF ? "packed" : "none")) !=
            0)
        goto fail;
    if (cb_put(obj, cbor_build_string("attStmt"), stmt) != 0) {
        stmt = NULL;
        goto fail;
    }
    stmt = NULL;
    if (cb_put(obj, cbor_build_string("authData"),
               cbor_build_bytestring(ad, ad_len)) != 0)
        goto fail;
    if (cb_out(obj, att, sizeof(att), &att_len) != 0)
        return -1;
    obj = NULL;

    resp = json_object_new_object();
    if (resp == NULL || put(resp, "clientDataJSON", b64(cd, cd_len)) != 0 ||
        put(resp, "attestationObject", b64(att, att_len)) != 0 ||
        put(resp, "authenticatorData", b64(ad, ad_len)) != 0 ||
        put(resp, "publicKeyAlgorithm", json_object_new_int(sa->alg)) != 0)
        goto fail;
    tr = json_object_new_array();
    if (put(resp, "transports", tr) != 0)
        goto fail;
    for (size_t i = 0; i < sizeof(transport_names) / sizeof(transport_names[0]);
         i++)
        if ((sa->transports & transport_names[i].bit) &&
            json_object_array_add(
                tr, json_object_new_string(transport_names[i].name)) != 0)
            goto fail;
    o = credential_json(sa, resp);
    resp = NULL;
    if (o == NULL)
        return -1;
    return to_string(o, json);
fail:
    if (stmt != NULL)
        cbor_decref(&stmt);
    if (obj != NULL)
        cbor_decref(&obj);
    json_object_put(resp);
    return -1;
}

int
softauth_assert_raw(softauth *sa, const char *rp_id, const char *origin,
                    const uint8_t *challenge, size_t challenge_len, char **json)
{
    uint8_t ad[37], cd[MFA_WEBAUTHN_CLIENT_DATA_MAX], sig[SIG_MAX];
    size_t cd_len = 0, sig_len = 0;
    json_object *resp, *o;

    if (json == NULL)
        return -1;
    *json = NULL;
    if (sa == NULL || rp_id == NULL || origin == NULL || challenge == NULL)
        return -1;
    if (client_data(sa,
                    (sa->tamper & SOFTAUTH_TAMPER_TYPE) ? "webauthn.create"
                                                        : "webauthn.get",
                    origin, challenge, challenge_len, cd, sizeof(cd),
                    &cd_len) != 0)
        return -1;
    sa->last_count = sa->next_count;
    sa->next_count += sa->step;
    ad_header(rp_id, sa->flags, sa->last_count, ad);
    if (sign_ad(sa, ad, sizeof(ad), cd, cd_len, sig, &sig_len) != 0)
        return -1;
    resp = json_object_new_object();
    if (resp == NULL || put(resp, "clientDataJSON", b64(cd, cd_len)) != 0 ||
        put(resp, "authenticatorData", b64(ad, sizeof(ad))) != 0 ||
        put(resp, "signature", b64(sig, sig_len)) != 0 ||
        (sa->send_uh && sa->uh_len > 0 &&
         put(resp, "userHandle", b64(sa->uh, sa->uh_len)) != 0)) {
        json_object_put(resp);
        return -1;
    }
    o = credential_json(sa, resp);
    if (o == NULL)
        return -1;
    return to_string(o, json);
}

/* ---- from options -------------------------------------------------------- */

static int
b64_member(json_object *o, const char *key, uint8_t *out, size_t max,
           size_t *len)
{
    json_object *v;
    const char *s;

    if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return -1;
    s = json_object_get_string(v);
    return sodium_base642bin(out, max, s, strlen(s), NULL, len, NULL,
                             sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0
               ? 0
               : -1;
}

static const char *
string_member(json_object *o, const char *key)
{
    json_object *v;

    if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

int
softauth_options_challenge(const char *options_json, uint8_t *out, size_t max,
                           size_t *len)
{
    json_object *o;
    int rc;

    if (options_json == NULL || out == NULL || len == NULL)
        return -1;
    o = json_tokener_parse(options_json);
    rc = b64_member(o, "challenge", out, max, len);
    json_object_put(o);
    return rc;
}

int
softauth_register(softauth *sa, const char *options_json, const char *rp_id,
                  const char *origin, char **json)
{
    uint8_t ch[MFA_WEBAUTHN_CHALLENGE_MAX], uh[MFA_WEBAUTHN_USER_HANDLE_MAX];
    size_t ch_len = 0, uh_len = 0;
    json_object *o, *rp = NULL, *user = NULL;
    int rc = -1;

    if (json == NULL)
        return -1;
    *json = NULL;
    if (sa == NULL || options_json == NULL)
        return -1;
    o = json_tokener_parse(options_json);
    if (o == NULL)
        return -1;
    (void)json_object_object_get_ex(o, "rp", &rp);
    (void)json_object_object_get_ex(o, "user", &user);
    if (rp_id == NULL)
        rp_id = string_member(rp, "id");
    if (rp_id != NULL &&
        b64_member(o, "challenge", ch, sizeof(ch), &ch_len) == 0 &&
        b64_member(user, "id", uh, sizeof(uh), &uh_len) == 0 &&
        softauth_set_user_handle(sa, uh, uh_len) == 0)
        rc = softauth_register_raw(sa, rp_id, origin, ch, ch_len, json);
    json_object_put(o);
    return rc;
}

int
softauth_assert(softauth *sa, const char *options_json, const char *rp_id,
                const char *origin, char **json)
{
    uint8_t ch[MFA_WEBAUTHN_CHALLENGE_MAX];
    size_t ch_len = 0;
    json_object *o;
    int rc = -1;

    if (json == NULL)
        return -1;
    *json = NULL;
    if (sa == NULL || options_json == NULL)
        return -1;
    o = json_tokener_parse(options_json);
    if (o == NULL)
        return -1;
    if (rp_id == NULL)
        rp_id = string_member(o, "rpId");
    if (rp_id != NULL &&
        b64_member(o, "challenge", ch, sizeof(ch), &ch_len) == 0)
        rc = softauth_assert_raw(sa, rp_id, origin, ch, ch_len, json);
    json_object_put(o);
    return rc;
}
