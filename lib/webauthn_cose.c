/*
 * WebAuthn CBOR and signatures: the attestation object and COSE keys read
 * with libcbor; authenticator data, attestation statements and signatures
 * checked by libfido2 (fido_cred_verify, fido_cred_verify_self,
 * fido_assert_verify).  The checks libfido2 also makes (rp id hash,
 * flags) are made here first, so that each failure has its own code.
 */
#include <stdlib.h>
#include <string.h>

#include <cbor.h>
#include <fido.h>
#include <fido/eddsa.h>
#include <fido/es256.h>
#include <fido/rs256.h>
#include <sodium.h>

#include "ct.h"
#include "internal.h"
#include "webauthn_int.h"

/* raw key sizes of libfido2's es256_pk_t (x||y), rs256_pk_t (n||e),
 * eddsa_pk_t */
#define RAW_ES256 64
#define RAW_RS256 259
#define RAW_EDDSA 32
#define RAW_MAX RAW_RS256

/* ---- bounded CBOR ---- */

struct walk {
    size_t remaining;                          /* input bytes not yet read */
    size_t pending[MFA_INT_WA_CBOR_DEPTH + 1]; /* items owed per level */
    size_t depth;
    size_t items; /* complete top-level items */
    int bad;
};

/* One complete item ended: pay it to the enclosing containers. */
static void
leaf(struct walk *w)
{
    while (w->depth > 0) {
        if (--w->pending[w->depth - 1] > 0)
            return;
        w->depth--;
    }
    w->items++;
}

static void
open_container(struct walk *w, size_t items)
{
    /* every item takes at least one byte: more than that is a lie */
    if (items > w->remaining) {
        w->bad = 1;
        return;
    }
    if (items == 0) {
        leaf(w);
        return;
    }
    if (w->depth >= MFA_INT_WA_CBOR_DEPTH) {
        w->bad = 1;
        return;
    }
    w->pending[w->depth++] = items;
}

static void
cb_u8(void *c, uint8_t v)
{
    (void)v;
    leaf(c);
}
static void
cb_u16(void *c, uint16_t v)
{
    (void)v;
    leaf(c);
}
static void
cb_u32(void *c, uint32_t v)
{
    (void)v;
    leaf(c);
}
static void
cb_u64(void *c, uint64_t v)
{
    (void)v;
    leaf(c);
}
static void
cb_str(void *c, cbor_data d, size_t n)
{
    (void)d;
    (void)n;
    leaf(c);
}
static void
cb_simple(void *c)
{
    leaf(c);
}
static void
cb_float(void *c, float v)
{
    (void)v;
    leaf(c);
}
static void
cb_double(void *c, double v)
{
    (void)v;
    leaf(c);
}
static void
cb_bool(void *c, bool v)
{
    (void)v;
    leaf(c);
}
static void
cb_indef(void *c)
{
    /* CTAP2 canonical CBOR has no indefinite lengths */
    ((struct walk *)c)->bad = 1;
}
static void
cb_array(void *c, size_t n)
{
    open_container(c, n);
}
static void
cb_map(void *c, size_t n)
{
    struct walk *w = c;

    if (n > SIZE_MAX / 2) {
        w->bad = 1;
        return;
    }
    open_container(c, 2 * n);
}
static void
cb_tag(void *c, uint64_t v)
{
    (void)v;
    open_container(c, 1);
}

static size_t
walk_items(const uint8_t *p, size_t len)
{
    struct cbor_callbacks cb = cbor_empty_callbacks;
    struct walk w;

    cb.uint8 = cb_u8;
    cb.uint16 = cb_u16;
    cb.uint32 = cb_u32;
    cb.uint64 = cb_u64;
    cb.negint8 = cb_u8;
    cb.negint16 = cb_u16;
    cb.negint32 = cb_u32;
    cb.negint64 = cb_u64;
    cb.byte_string = cb_str;
    cb.string = cb_str;
    cb.byte_string_start = cb_indef;
    cb.string_start = cb_indef;
    cb.indef_array_start = cb_indef;
    cb.indef_map_start = cb_indef;
    cb.indef_break = cb_indef;
    cb.array_start = cb_array;
    cb.map_start = cb_map;
    cb.tag = cb_tag;
    cb.float2 = cb_float;
    cb.float4 = cb_float;
    cb.float8 = cb_double;
    cb.undefined = cb_simple;
    cb.null = cb_simple;
    cb.boolean = cb_bool;

    memset(&w, 0, sizeof(w));
    while (len > 0) {
        struct cbor_decoder_result r;

        w.remaining = len;
        r = cbor_stream_decode(p, len, &cb, &w);
        if (r.status != CBOR_DECODER_FINISHED || r.read == 0 || w.bad)
            return 0;
        p += r.read;
        len -= r.read;
        /* a container's items are owed by the bytes after its head */
        w.remaining = len;
        for (size_t i = 0; i < w.depth; i++)
            if (w.pending[i] > len)
                return 0;
    }
    return w.depth == 0 ? w.items : 0;
}

int
mfa_int_wa_cbor_bounded(const uint8_t *p, size_t len)
{
    return len > 0 && walk_items(p, len) > 0 ? 0 : -1;
}

/* cbor_load of exactly one item at the start of p[0..len). */
static cbor_item_t *
load_one(const uint8_t *p, size_t len, size_t *read)
{
    struct cbor_load_result res;
    cbor_item_t *item = cbor_load(p, len, &res);

    if (item == NULL || res.error.code != CBOR_ERR_NONE) {
        if (item != NULL)
            cbor_decref(&item);
        return NULL;
    }
    *read = res.read;
    return item;
}

/* An integer map key or value as int64 (COSE labels fit). */
static int
get_int(const cbor_item_t *i, int64_t *v)
{
    uint64_t u;

    if (!cbor_isa_uint(i) && !cbor_isa_negint(i))
        return -1;
    u = cbor_get_int(i);
    if (u > INT64_MAX)
        return -1;
    *v = cbor_isa_uint(i) ? (int64_t)u : -1 - (int64_t)u;
    return 0;
}

static int
text_is(const cbor_item_t *i, const char *s)
{
    size_t n = strlen(s);

    return cbor_isa_string(i) && cbor_string_is_definite(i) &&
           cbor_string_length(i) == n &&
           memcmp(cbor_string_handle(i), s, n) == 0;
}

/* ---- COSE keys ---- */

/* COSE labels: kty 1, alg 3; EC2/OKP crv -1 (an int), x -2, y -3; RSA
 * n -1 (bytes), e -2 */
#define HAVE_KTY 0x01u
#define HAVE_ALG 0x02u
#define HAVE_CRV 0x04u
#define HAVE_M1 0x08u
#define HAVE_M2 0x10u
#define HAVE_M3 0x20u

struct cose {
    int64_t kty, alg, crv;
    const uint8_t *m1, *m2, *m3; /* byte values of labels -1, -2, -3 */
    size_t m1_len, m2_len, m3_len;
    unsigned have;
};

static int
cose_parse(const cbor_item_t *m, struct cose *k)
{
    struct cbor_pair *pairs;
    size_t n;

    memset(k, 0, sizeof(*k));
    if (!cbor_isa_map(m) || !cbor_map_is_definite(m))
        return -1;
    pairs = cbor_map_handle(m);
    n = cbor_map_size(m);
    for (size_t i = 0; i < n; i++) {
        const cbor_item_t *v = pairs[i].value;
        int is_int, is_bytes;
        int64_t label, iv = 0;
        unsigned bit;

        if (get_int(pairs[i].key, &label) != 0)
            return -1;
        is_int = get_int(v, &iv) == 0;
        is_bytes = cbor_isa_bytestring(v) && cbor_bytestring_is_definite(v);
        switch (label) {
        case 1:
        case 3:
            if (!is_int)
                return -1;
            bit = label == 1 ? HAVE_KTY : HAVE_ALG;
            break;
        case -1:
            if (!is_int && !is_bytes)
                return -1;
            bit = is_int ? HAVE_CRV : HAVE_M1;
            break;
        case -2:
        case -3:
            if (!is_bytes)
                return -1;
            bit = label == -2 ? HAVE_M2 : HAVE_M3;
            break;
        default:
            continue; /* kid, key_ops, ...: not ours to judge */
        }
        /* a repeated label, or -1 both as crv and as n */
        if (k->have & bit || (label == -1 && k->have & (HAVE_CRV | HAVE_M1)))
            return -1;
        k->have |= bit;
        if (bit == HAVE_KTY)
            k->kty = iv;
        else if (bit == HAVE_ALG)
            k->alg = iv;
        else if (bit == HAVE_CRV)
            k->crv = iv;
        else if (bit == HAVE_M1) {
            k->m1 = cbor_bytestring_handle(v);
            k->m1_len = cbor_bytestring_length(v);
        } else if (bit == HAVE_M2) {
            k->m2 = cbor_bytestring_handle(v);
            k->m2_len = cbor_bytestring_length(v);
        } else {
            k->m3 = cbor_bytestring_handle(v);
            k->m3_len = cbor_bytestring_length(v);
        }
    }
    return (k->have & (HAVE_KTY | HAVE_ALG)) == (HAVE_KTY | HAVE_ALG) ? 0 : -1;
}

/* The key in libfido2's raw form for *_pk_from_ptr; its length or 0. */
static size_t
cose_raw(const struct cose *k, uint8_t raw[RAW_MAX])
{
    switch (k->alg) {
    case MFA_WEBAUTHN_ES256:
        if (k->kty != COSE_KTY_EC2 || !(k->have & HAVE_CRV) ||
            k->crv != COSE_P256 || k->m2_len != 32 || k->m3_len != 32)
            return 0;
        memcpy(raw, k->m2, 32);
        memcpy(raw + 32, k->m3, 32);
        return RAW_ES256;
    case MFA_WEBAUTHN_EDDSA:
        if (k->kty != COSE_KTY_OKP || !(k->have & HAVE_CRV) ||
            k->crv != COSE_ED25519 || k->m2_len != 32 || k->have & HAVE_M3)
            return 0;
        memcpy(raw, k->m2, 32);
        return RAW_EDDSA;
    case MFA_WEBAUTHN_RS256:
        /* libfido2 takes RSA-2048 with e of at most 3 bytes (65537) */
        if (k->kty != COSE_KTY_RSA || k->m1_len != 256 || k->m2_len == 0 ||
            k->m2_len > 3 || k->m1[0] == 0)
            return 0;
        memcpy(raw, k->m1, 256);
        memset(raw + 256, 0, 3);
        memcpy(raw + 256 + 3 - k->m2_len, k->m2, k->m2_len);
        return RAW_RS256;
    default:
        return 0;
    }
}

static void
pk_free(int32_t alg, void **pk)
{
    if (pk == NULL || *pk == NULL)
        return;
    if (alg == MFA_WEBAUTHN_ES256)
        es256_pk_free((es256_pk_t **)pk);
    else if (alg == MFA_WEBAUTHN_EDDSA)
        eddsa_pk_free((eddsa_pk_t **)pk);
    else if (alg == MFA_WEBAUTHN_RS256)
        rs256_pk_free((rs256_pk_t **)pk);
    *pk = NULL;
}

/* The libfido2 key of raw[len] for alg (checked: on the curve, RSA
 * well-formed).  NULL on failure. */
static void *
raw_to_pk(int32_t alg, const uint8_t *raw, size_t len)
{
    void *pk = NULL;
    int r = FIDO_ERR_INVALID_ARGUMENT;

    if (alg == MFA_WEBAUTHN_ES256 && (pk = es256_pk_new()) != NULL)
        r = es256_pk_from_ptr(pk, raw, len);
    else if (alg == MFA_WEBAUTHN_EDDSA && (pk = eddsa_pk_new()) != NULL)
        r = eddsa_pk_from_ptr(pk, raw, len);
    else if (alg == MFA_WEBAUTHN_RS256 && (pk = rs256_pk_new()) != NULL)
        r = rs256_pk_from_ptr(pk, raw, len);
    if (r != FIDO_OK)
        pk_free(alg, &pk);
    return pk;
}

int
mfa_int_wa_alg_allowed(const struct mfa_webauthn_rp *rp, int32_t alg)
{
    switch (alg) {
    case MFA_WEBAUTHN_ES256:
        return (rp->algs & MFA_WEBAUTHN_ALG_ES256) != 0;
    case MFA_WEBAUTHN_EDDSA:
        return (rp->algs & MFA_WEBAUTHN_ALG_EDDSA) != 0;
    case MFA_WEBAUTHN_RS256:
        return (rp->algs & MFA_WEBAUTHN_ALG_RS256) != 0;
    default:
        return 0;
    }
}

/* ---- flags shared by both ceremonies ---- */

static mfa_rc
check_header(const struct mfa_webauthn_rp *rp, const uint8_t *ad)
{
    unsigned flags = ad[32];
    int eq = mfa_int_ct_equal(ad, rp->rp_id_hash, MFA_INT_WA_SHA256);

    MFA_CT_PUBLIC(eq);
    if (!eq)
        return MFA_ERR_WEBAUTHN_RP_ID;
    if (!(flags & MFA_WEBAUTHN_FLAG_UP))
        return MFA_ERR_WEBAUTHN_USER_PRESENCE;
    if (rp->uv == MFA_WEBAUTHN_UV_REQUIRED && !(flags & MFA_WEBAUTHN_FLAG_UV))
        return MFA_ERR_WEBAUTHN_USER_VERIFICATION;
    /* backed up implies backup eligible */
    if ((flags & MFA_WEBAUTHN_FLAG_BS) && !(flags & MFA_WEBAUTHN_FLAG_BE))
        return MFA_ERR_WEBAUTHN_FLAGS;
    return MFA_OK;
}

/* ---- registration ---- */

struct att_object {
    const cbor_item_t *fmt, *stmt, *auth_data;
};

static int
att_object_split(const cbor_item_t *m, struct att_object *a)
{
    struct cbor_pair *pairs;
    size_t n;

    memset(a, 0, sizeof(*a));
    if (!cbor_isa_map(m) || !cbor_map_is_definite(m))
        return -1;
    pairs = cbor_map_handle(m);
    n = cbor_map_size(m);
    for (size_t i = 0; i < n; i++) {
        const cbor_item_t **slot;

        if (text_is(pairs[i].key, "fmt"))
            slot = &a->fmt;
        else if (text_is(pairs[i].key, "attStmt"))
            slot = &a->stmt;
        else if (text_is(pairs[i].key, "authData"))
            slot = &a->auth_data;
        else
            continue;
        if (*slot != NULL)
            return -1;
        *slot = pairs[i].value;
    }
    if (a->fmt == NULL || a->stmt == NULL || a->auth_data == NULL ||
        !cbor_isa_string(a->fmt) || !cbor_string_is_definite(a->fmt) ||
        !cbor_isa_map(a->stmt) || !cbor_map_is_definite(a->stmt) ||
        !cbor_isa_bytestring(a->auth_data) ||
        !cbor_bytestring_is_definite(a->auth_data))
        return -1;
    return 0;
}

/* The value of text key `key` in map m, or NULL. */
static const cbor_item_t *
map_get(const cbor_item_t *m, const char *key)
{
    struct cbor_pair *pairs = cbor_map_handle(m);
    size_t n = cbor_map_size(m);

    for (size_t i = 0; i < n; i++)
        if (text_is(pairs[i].key, key))
            return pairs[i].value;
    return NULL;
}

/*
 * fido_cred_verify insists that the extensions in authData are the ones
 * requested from the authenticator; a browser asks for some on its own
 * (credProtect for passkeys on security keys), so the ones libfido2 knows
 * are declared as requested.
 */
static int
mirror_extensions(fido_cred_t *cred, const cbor_item_t *ext)
{
    struct cbor_pair *pairs = cbor_map_handle(ext);
    size_t n = cbor_map_size(ext);

    for (size_t i = 0; i < n; i++) {
        const cbor_item_t *v = pairs[i].value;
        int64_t iv;

        if (text_is(pairs[i].key, "credProtect")) {
            if (get_int(v, &iv) != 0 || iv < 1 || iv > 3 ||
                fido_cred_set_prot(cred, (int)iv) != FIDO_OK)
                return -1;
        } else if (text_is(pairs[i].key, "minPinLength")) {
            if (get_int(v, &iv) != 0 || iv < 1 || iv > 255 ||
                fido_cred_set_pin_minlen(cred, (size_t)iv) != FIDO_OK)
                return -1;
        } else if (text_is(pairs[i].key, "hmac-secret")) {
            if (cbor_is_bool(v) && cbor_get_bool(v) &&
                fido_cred_set_extensions(cred, FIDO_EXT_HMAC_SECRET) != FIDO_OK)
                return -1;
        } else if (text_is(pairs[i].key, "credBlob")) {
            if (cbor_is_bool(v) && cbor_get_bool(v) &&
                fido_cred_set_extensions(cred, FIDO_EXT_CRED_BLOB) != FIDO_OK)
                return -1;
        }
    }
    return 0;
}

/* Check the attestation statement; *trust on success. */
static mfa_rc
check_statement(fido_cred_t *cred, const char *fmt, const cbor_item_t *stmt,
                int32_t alg, mfa_webauthn_fmt *format,
                mfa_webauthn_trust *trust)
{
    const cbor_item_t *x5c, *salg;
    unsigned char *buf = NULL;
    size_t buf_len, alloc;
    int64_t stmt_alg = 0;
    int r;

    if (strcmp(fmt, "none") == 0) {
        /* "none" carries an empty statement and nothing to verify */
        if (cbor_map_size(stmt) != 0)
            return MFA_ERR_WEBAUTHN_ATTESTATION;
        *format = MFA_WEBAUTHN_FMT_NONE;
        *trust = MFA_WEBAUTHN_TRUST_NONE;
        return MFA_OK;
    }
    if (strcmp(fmt, "packed") == 0)
        *format = MFA_WEBAUTHN_FMT_PACKED;
    else if (strcmp(fmt, "fido-u2f") == 0)
        *format = MFA_WEBAUTHN_FMT_FIDO_U2F;
    else
        return MFA_ERR_WEBAUTHN_ATT_FORMAT;
    x5c = map_get(stmt, "x5c");
    salg = map_get(stmt, "alg");
    if (*format == MFA_WEBAUTHN_FMT_PACKED) {
        if (salg == NULL || get_int(salg, &stmt_alg) != 0)
            return MFA_ERR_WEBAUTHN_ATTESTATION;
        /* self attestation signs with the credential key itself */
        if (x5c == NULL && stmt_alg != alg)
            return MFA_ERR_WEBAUTHN_ATTESTATION;
    } else if (x5c == NULL || alg != MFA_WEBAUTHN_ES256 || salg != NULL) {
        /* fido-u2f: a P-256 credential, an x5c, and no alg */
        return MFA_ERR_WEBAUTHN_ATTESTATION;
    }
    buf_len = cbor_serialize_alloc(stmt, &buf, &alloc);
    if (buf_len == 0)
        return MFA_ERR_NOMEM;
    r = fido_cred_set_fmt(cred, fmt);
    if (r == FIDO_OK)
        r = fido_cred_set_attstmt(cred, buf, buf_len);
    free(buf);
    if (r != FIDO_OK)
        return MFA_ERR_WEBAUTHN_ATTESTATION;
    r = x5c != NULL ? fido_cred_verify(cred) : fido_cred_verify_self(cred);
    if (r != FIDO_OK)
        return MFA_ERR_WEBAUTHN_ATTESTATION;
    *trust =
        x5c != NULL ? MFA_WEBAUTHN_TRUST_UNVERIFIED : MFA_WEBAUTHN_TRUST_SELF;
    return MFA_OK;
}

mfa_rc
mfa_int_wa_attestation_verify(const struct mfa_webauthn_rp *rp,
                              const uint8_t *att, size_t att_len,
                              const uint8_t *cd, size_t cd_len,
                              const uint8_t *raw_id, size_t raw_id_len,
                              mfa_webauthn_credential *out)
{
    uint8_t raw[RAW_MAX];
    char fmt[16];
    cbor_item_t *ao = NULL, *key = NULL, *ext = NULL;
    fido_cred_t *cred = NULL;
    struct att_object a;
    struct cose k;
    const uint8_t *ad, *tail;
    size_t read, ad_len, id_len, tail_len, cose_len, raw_len, fmt_len;
    void *pk;
    int eq;
    mfa_rc rc = MFA_ERR_WEBAUTHN_CBOR;

    if (mfa_int_wa_cbor_bounded(att, att_len) != 0 ||
        (ao = load_one(att, att_len, &read)) == NULL)
        return MFA_ERR_WEBAUTHN_CBOR;
    if (read != att_len || att_object_split(ao, &a) != 0)
        goto out;
    ad = cbor_bytestring_handle(a.auth_data);
    ad_len = cbor_bytestring_length(a.auth_data);
    if (ad_len > MFA_WEBAUTHN_AUTH_DATA_MAX) {
        rc = MFA_ERR_WEBAUTHN_TOO_LARGE;
        goto out;
    }
    if (ad_len < MFA_INT_WA_AD_HEADER)
        goto out;
    if (!(ad[32] & MFA_WEBAUTHN_FLAG_AT)) {
        rc = MFA_ERR_WEBAUTHN_FLAGS;
        goto out;
    }
    if (ad_len < MFA_INT_WA_AD_ATTESTED)
        goto out;
    /* the one length field libfido2 reads but does not expose: needed to
     * bound the CBOR after it before libfido2 and libcbor load it */
    id_len = (size_t)ad[53] << 8 | ad[54];
    if (id_len > ad_len - MFA_INT_WA_AD_ATTESTED)
        goto out;
    tail = ad + MFA_INT_WA_AD_ATTESTED + id_len;
    tail_len = ad_len - MFA_INT_WA_AD_ATTESTED - id_len;
    if (tail_len == 0 || mfa_int_wa_cbor_bounded(tail, tail_len) != 0)
        goto out;
    rc = check_header(rp, ad);
    if (rc != MFA_OK)
        goto out;
    rc = MFA_ERR_WEBAUTHN_CREDENTIAL_ID;
    if (id_len < MFA_WEBAUTHN_CRED_ID_MIN ||
        id_len > MFA_WEBAUTHN_CRED_ID_MAX || id_len != raw_id_len)
        goto out;
    eq = mfa_int_ct_equal(ad + MFA_INT_WA_AD_ATTESTED, raw_id, id_len);
    MFA_CT_PUBLIC(eq);
    if (!eq)
        goto out;

    rc = MFA_ERR_WEBAUTHN_PUBLIC_KEY;
    if ((key = load_one(tail, tail_len, &cose_len)) == NULL ||
        cose_parse(key, &k) != 0)
        goto out;
    if (cose_len > MFA_WEBAUTHN_PUBLIC_KEY_MAX) {
        rc = MFA_ERR_WEBAUTHN_TOO_LARGE;
        goto out;
    }
    if (k.alg < INT32_MIN || k.alg > INT32_MAX ||
        !mfa_int_wa_alg_allowed(rp, (int32_t)k.alg)) {
        rc = MFA_ERR_WEBAUTHN_ALGORITHM;
        goto out;
    }
    raw_len = cose_raw(&k, raw);
    if (raw_len == 0 || (pk = raw_to_pk((int32_t)k.alg, raw, raw_len)) == NULL)
        goto out;
    pk_free((int32_t)k.alg, &pk);

    rc = MFA_ERR_WEBAUTHN_CBOR;
    if (ad[32] & MFA_WEBAUTHN_FLAG_ED) {
        if (cose_len == tail_len ||
            (ext = load_one(tail + cose_len, tail_len - cose_len, &read)) ==
                NULL ||
            read != tail_len - cose_len || !cbor_isa_map(ext) ||
            !cbor_map_is_definite(ext))
            goto out;
    } else if (cose_len != tail_len) {
        goto out; /* bytes after the key with no extensions announced */
    }

    rc = MFA_ERR_NOMEM;
    if ((cred = fido_cred_new()) == NULL)
        goto out;
    rc = MFA_ERR_WEBAUTHN_CBOR;
    if (fido_cred_set_type(cred, (int)k.alg) != FIDO_OK ||
        fido_cred_set_authdata_raw(cred, ad, ad_len) != FIDO_OK)
        goto out;
    /* libfido2 read the same key: else one of us misreads the bytes */
    if (fido_cred_pubkey_len(cred) != raw_len ||
        memcmp(fido_cred_pubkey_ptr(cred), raw, raw_len) != 0 ||
        fido_cred_id_len(cred) != id_len ||
        fido_cred_aaguid_len(cred) != MFA_WEBAUTHN_AAGUID_BYTES)
        goto out;
    rc = MFA_ERR_INTERNAL;
    if (fido_cred_set_clientdata(cred, cd, cd_len) != FIDO_OK ||
        fido_cred_set_rp(cred, rp->rp_id, NULL) != FIDO_OK ||
        (rp->uv == MFA_WEBAUTHN_UV_REQUIRED &&
         fido_cred_set_uv(cred, FIDO_OPT_TRUE) != FIDO_OK))
        goto out;
    if (ext != NULL && mirror_extensions(cred, ext) != 0) {
        rc = MFA_ERR_WEBAUTHN_CBOR;
        goto out;
    }

    fmt_len = cbor_string_length(a.fmt);
    if (fmt_len == 0 || fmt_len >= sizeof(fmt) ||
        memchr(cbor_string_handle(a.fmt), '\0', fmt_len) != NULL) {
        rc = MFA_ERR_WEBAUTHN_ATT_FORMAT;
        goto out;
    }
    memcpy(fmt, cbor_string_handle(a.fmt), fmt_len);
    fmt[fmt_len] = '\0';
    rc = check_statement(cred, fmt, a.stmt, (int32_t)k.alg,
                         &out->attestation_format, &out->attestation_trust);
    if (rc != MFA_OK)
        goto out;

    memcpy(out->id, raw_id, id_len);
    out->id_len = id_len;
    memcpy(out->public_key, tail, cose_len);
    out->public_key_len = cose_len;
    out->algorithm = (int32_t)k.alg;
    out->sign_count = fido_cred_sigcount(cred);
    out->flags = fido_cred_flags(cred);
    memcpy(out->aaguid, fido_cred_aaguid_ptr(cred), MFA_WEBAUTHN_AAGUID_BYTES);
out:
    if (ext != NULL)
        cbor_decref(&ext);
    if (key != NULL)
        cbor_decref(&key);
    cbor_decref(&ao);
    fido_cred_free(&cred);
    return rc;
}

/* ---- authentication ---- */

/*
 * The stored COSE key as libfido2's key, decoded by libfido2 itself:
 * libfido2 exports no COSE decoder, but it decodes the key inside
 * authenticator data, so the key goes into a minimal one (rp id hash
 * zero, UP|AT, count 0, zero AAGUID, a credential id of 16 zero bytes:
 * the holder's id is never read).  The same decoder read the key at
 * registration; the *_pk_from_ptr functions would instead convert the
 * key to OpenSSL's and back (for P-256, a point check each login) before
 * fido_assert_verify converts it again.  *pk points into *holder.
 */
#define HOLDER_ID_LEN MFA_WEBAUTHN_CRED_ID_MIN

static mfa_rc
stored_key(const mfa_webauthn_credential *c, fido_cred_t **holder,
           const void **pk)
{
    uint8_t ad[MFA_INT_WA_AD_ATTESTED + HOLDER_ID_LEN +
               MFA_WEBAUTHN_PUBLIC_KEY_MAX];
    size_t len = MFA_INT_WA_AD_ATTESTED + HOLDER_ID_LEN + c->public_key_len;

    *holder = NULL;
    *pk = NULL;
    /* one complete item, whose sizes fit: libfido2 hands it to cbor_load */
    if (walk_items(c->public_key, c->public_key_len) != 1)
        return MFA_ERR_WEBAUTHN_PUBLIC_KEY;
    memset(ad, 0, MFA_INT_WA_AD_ATTESTED + HOLDER_ID_LEN);
    ad[32] = MFA_WEBAUTHN_FLAG_UP | MFA_WEBAUTHN_FLAG_AT;
    ad[54] = HOLDER_ID_LEN;
    memcpy(ad + MFA_INT_WA_AD_ATTESTED + HOLDER_ID_LEN, c->public_key,
           c->public_key_len);
    if ((*holder = fido_cred_new()) == NULL)
        return MFA_ERR_NOMEM;
    if (fido_cred_set_type(*holder, c->algorithm) != FIDO_OK ||
        fido_cred_set_authdata_raw(*holder, ad, len) != FIDO_OK ||
        (*pk = fido_cred_pubkey_ptr(*holder)) == NULL) {
        fido_cred_free(holder);
        *pk = NULL;
        return MFA_ERR_WEBAUTHN_PUBLIC_KEY;
    }
    return MFA_OK;
}

mfa_rc
mfa_int_wa_assertion_verify(const struct mfa_webauthn_rp *rp, const uint8_t *ad,
                            size_t ad_len, const uint8_t *cd, size_t cd_len,
                            const uint8_t *sig, size_t sig_len,
                            const mfa_webauthn_credential *stored,
                            uint32_t *sign_count, unsigned *flags)
{
    fido_assert_t *as = NULL;
    fido_cred_t *holder = NULL;
    const void *pk = NULL;
    int r;
    mfa_rc rc;

    if (ad_len < MFA_INT_WA_AD_HEADER)
        return MFA_ERR_WEBAUTHN_CBOR;
    /* an assertion attests no credential */
    if (ad[32] & MFA_WEBAUTHN_FLAG_AT)
        return MFA_ERR_WEBAUTHN_FLAGS;
    if (ad[32] & MFA_WEBAUTHN_FLAG_ED) {
        cbor_item_t *ext;
        size_t read = 0;
        int ok;

        if (mfa_int_wa_cbor_bounded(ad + MFA_INT_WA_AD_HEADER,
                                    ad_len - MFA_INT_WA_AD_HEADER) != 0 ||
            (ext = load_one(ad + MFA_INT_WA_AD_HEADER,
                            ad_len - MFA_INT_WA_AD_HEADER, &read)) == NULL)
            return MFA_ERR_WEBAUTHN_CBOR;
        ok = read == ad_len - MFA_INT_WA_AD_HEADER && cbor_isa_map(ext);
        cbor_decref(&ext);
        if (!ok)
            return MFA_ERR_WEBAUTHN_CBOR;
    } else if (ad_len != MFA_INT_WA_AD_HEADER) {
        return MFA_ERR_WEBAUTHN_CBOR;
    }
    rc = check_header(rp, ad);
    if (rc != MFA_OK)
        return rc;
    if (!mfa_int_wa_alg_allowed(rp, stored->algorithm))
        return MFA_ERR_WEBAUTHN_ALGORITHM;
    rc = stored_key(stored, &holder, &pk);
    if (rc != MFA_OK)
        return rc;
    rc = MFA_ERR_NOMEM;
    if ((as = fido_assert_new()) == NULL)
        goto out;
    rc = MFA_ERR_INTERNAL;
    if (fido_assert_set_rp(as, rp->rp_id) != FIDO_OK ||
        fido_assert_set_clientdata(as, cd, cd_len) != FIDO_OK ||
        fido_assert_set_count(as, 1) != FIDO_OK ||
        fido_assert_set_up(as, FIDO_OPT_TRUE) != FIDO_OK ||
        (rp->uv == MFA_WEBAUTHN_UV_REQUIRED &&
         fido_assert_set_uv(as, FIDO_OPT_TRUE) != FIDO_OK))
        goto out;
    rc = MFA_ERR_WEBAUTHN_CBOR;
    if (fido_assert_set_authdata_raw(as, 0, ad, ad_len) != FIDO_OK)
        goto out;
    rc = MFA_ERR_WEBAUTHN_SIGNATURE;
    if (fido_assert_set_sig(as, 0, sig, sig_len) != FIDO_OK)
        goto out;
    r = fido_assert_verify(as, 0, stored->algorithm, pk);
    if (r != FIDO_OK) {
        /* INVALID_PARAM after the checks above: extension outputs that
         * were not asked for */
        rc = r == FIDO_ERR_INVALID_PARAM ? MFA_ERR_WEBAUTHN_FLAGS
                                         : MFA_ERR_WEBAUTHN_SIGNATURE;
        goto out;
    }
    *sign_count = fido_assert_sigcount(as, 0);
    *flags = fido_assert_flags(as, 0);
    rc = MFA_OK;
out:
    fido_assert_free(&as);
    fido_cred_free(&holder);
    return rc;
}
