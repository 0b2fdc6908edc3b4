/*
 * Assertion verifications per second: mfa_webauthn_login_verify (the
 * browser's JSON parsed, clientDataJSON checked and hashed, the stored
 * COSE key decoded, flags and counter checked, the signature verified)
 * beside libfido2's bare fido_assert_verify on the same assertion in the
 * same run (authenticator data, signature and clientDataJSON hash already
 * decoded, the key already loaded: the floor).  Target: libmfa / bare
 * <= 1.3.  ES256, EdDSA and RS256, from tests/webauthn/vectors.json.
 *   bench-webauthn [VECTORS.json [MILLISECONDS [ALG]]]
 * ALG (es256, eddsa or rs256) runs that one only, e.g. under a profiler.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cbor.h>
#include <fido.h>
#include <fido/eddsa.h>
#include <fido/es256.h>
#include <fido/rs256.h>

#include "../webauthn/vectors.h"

/* CPU time of this thread: the machine may be shared, and time spent
 * descheduled belongs to neither side */
static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* What bare libfido2 is given: the assertion's fields decoded from the
 * JSON and the stored key decoded, once, before the loop. */
struct bare {
    int alg;
    void *pk;
    uint8_t ad[512], sig[512], cd[1024];
    size_t ad_len, sig_len, cd_len;
};

static const cbor_item_t *
cose_get(const cbor_item_t *m, int label)
{
    struct cbor_pair *p = cbor_map_handle(m);

    for (size_t i = 0; i < cbor_map_size(m); i++) {
        const cbor_item_t *k = p[i].key;
        int v =
            cbor_isa_uint(k) ? (int)cbor_get_int(k) : -1 - (int)cbor_get_int(k);

        if (v == label && cbor_isa_bytestring(p[i].value))
            return p[i].value;
    }
    return NULL;
}

/* The stored COSE key as a libfido2 key, the bench's own decoding. */
static void *
load_pk(const mfa_webauthn_credential *c)
{
    struct cbor_load_result res;
    cbor_item_t *m = cbor_load(c->public_key, c->public_key_len, &res);
    const cbor_item_t *a, *b;
    uint8_t raw[259] = {0};
    void *pk = NULL;

    if (m == NULL)
        return NULL;
    a = cose_get(m, c->algorithm == MFA_WEBAUTHN_RS256 ? -1 : -2);
    b = cose_get(m, c->algorithm == MFA_WEBAUTHN_RS256 ? -2 : -3);
    if (c->algorithm == MFA_WEBAUTHN_ES256 && a && b) {
        memcpy(raw, cbor_bytestring_handle(a), 32);
        memcpy(raw + 32, cbor_bytestring_handle(b), 32);
        if (es256_pk_from_ptr(pk = es256_pk_new(), raw, 64) != FIDO_OK)
            abort();
    } else if (c->algorithm == MFA_WEBAUTHN_EDDSA && a) {
        if (eddsa_pk_from_ptr(pk = eddsa_pk_new(), cbor_bytestring_handle(a),
                              32) != FIDO_OK)
            abort();
    } else if (c->algorithm == MFA_WEBAUTHN_RS256 && a && b) {
        size_t el = cbor_bytestring_length(b);

        memcpy(raw, cbor_bytestring_handle(a), 256);
        memcpy(raw + 259 - el, cbor_bytestring_handle(b), el);
        if (rs256_pk_from_ptr(pk = rs256_pk_new(), raw, 259) != FIDO_OK)
            abort();
    }
    cbor_decref(&m);
    return pk;
}

static void
bare_get(const struct wv_case *k, struct bare *b)
{
    json_object *r = json_tokener_parse(k->response), *resp;

    memset(b, 0, sizeof(*b));
    b->alg = k->stored.algorithm;
    if (r == NULL || !json_object_object_get_ex(r, "response", &resp) ||
        wv_bin(resp, "authenticatorData", b->ad, sizeof(b->ad), &b->ad_len) ||
        wv_bin(resp, "signature", b->sig, sizeof(b->sig), &b->sig_len) ||
        wv_bin(resp, "clientDataJSON", b->cd, sizeof(b->cd), &b->cd_len) ||
        (b->pk = load_pk(&k->stored)) == NULL)
        abort();
    json_object_put(r);
}

static volatile int sink;

/*
 * One verification as a caller of libfido2 makes it: every assertion has
 * its own clientDataJSON, so its hash is taken per verification (with
 * libsodium's SHA-256, as libmfa does: the same work on both sides), then
 * the assertion object, rp id, authenticator data and signature are set
 * and fido_assert_verify runs with the decoded key.  Not included: the
 * JSON and base64url, the clientDataJSON checks, and decoding the key
 * (a caller holding stored keys must do that per login too).
 */
static int
bare_once(const struct bare *b)
{
    fido_assert_t *a = fido_assert_new();
    uint8_t cdh[32];
    int r = FIDO_ERR_INTERNAL;

    crypto_hash_sha256(cdh, b->cd, b->cd_len);
    if (a != NULL && fido_assert_set_rp(a, "example.com") == FIDO_OK &&
        fido_assert_set_clientdata_hash(a, cdh, 32) == FIDO_OK &&
        fido_assert_set_count(a, 1) == FIDO_OK &&
        fido_assert_set_authdata_raw(a, 0, b->ad, b->ad_len) == FIDO_OK &&
        fido_assert_set_sig(a, 0, b->sig, b->sig_len) == FIDO_OK)
        r = fido_assert_verify(a, 0, b->alg, b->pk);
    fido_assert_free(&a);
    return r;
}

static int
mfa_once(const struct wv_case *k)
{
    mfa_webauthn_assertion out;

    return mfa_webauthn_login_verify(k->rp, k->challenge, k->challenge_len,
                                     k->response, k->response_len, &k->stored,
                                     0, &out);
}

/*
 * Verifications per CPU second of both sides, in alternating batches of
 * 20 so that both see the same machine: about `secs` of CPU time each.
 */
static void
rates(const struct wv_case *k, const struct bare *b, double secs,
      double *mfa_rate, double *bare_rate)
{
    double t_mfa = 0, t_bare = 0, t;
    long n = 0;

    while (t_mfa < secs || t_bare < secs) {
        t = now_s();
        for (int i = 0; i < 20; i++)
            sink += mfa_once(k);
        t_mfa += now_s() - t;
        t = now_s();
        for (int i = 0; i < 20; i++)
            sink += bare_once(b);
        t_bare += now_s() - t;
        n += 20;
    }
    *mfa_rate = (double)n / t_mfa;
    *bare_rate = (double)n / t_bare;
}

int
main(int argc, char **argv)
{
    static const char *const names[] = {"login-es256", "login-eddsa",
                                        "login-rs256"};
    const char *path = argc > 1 ? argv[1] : wv_default_path();
    double secs = (argc > 2 ? atof(argv[2]) : 2000) / 1000.0, worst = 0;
    json_object *v = wv_load(path);

    if (v == NULL) {
        fprintf(stderr,
                "cannot read %s (run from the source root or give "
                "the path)\n",
                path);
        return 1;
    }
    printf("assertion verifications per CPU second (alternating batches, "
           "%.0f ms of CPU each side)\n",
           secs * 1000);
    printf("%-6s %14s %14s %8s\n", "alg", "libmfa", "bare libfido2", "ratio");
    for (size_t i = 0; i < 3; i++) {
        struct wv_case k;
        struct bare b;
        double best_mfa = 0, best_bare = 0;
        size_t j;

        if (argc > 3 && strcmp(argv[3], names[i] + 6) != 0)
            continue;
        for (j = 0; j < json_object_array_length(v); j++)
            if (strcmp(wv_str(json_object_array_get_idx(v, j), "name"),
                       names[i]) == 0)
                break;
        if (j == json_object_array_length(v) ||
            wv_case_get(json_object_array_get_idx(v, j), &k) != 0)
            abort();
        bare_get(&k, &b);
        /* both must accept, or the figures mean nothing */
        if (mfa_once(&k) != MFA_OK || bare_once(&b) != FIDO_OK) {
            fprintf(stderr, "%s: an implementation refuses the assertion\n",
                    names[i]);
            return 1;
        }
        rates(&k, &b, secs, &best_mfa, &best_bare);
        printf("%-6s %14.0f %14.0f %8.3f\n", names[i] + 6, best_mfa, best_bare,
               best_bare / best_mfa);
        worst = best_bare / best_mfa > worst ? best_bare / best_mfa : worst;
        if (b.alg == MFA_WEBAUTHN_ES256)
            es256_pk_free((es256_pk_t **)&b.pk);
        else if (b.alg == MFA_WEBAUTHN_EDDSA)
            eddsa_pk_free((eddsa_pk_t **)&b.pk);
        else
            rs256_pk_free((rs256_pk_t **)&b.pk);
        wv_case_clear(&k);
    }
    printf("libmfa / bare (time per verification), worst: %.3f (target <= "
           "1.3)\n",
           worst);
    json_object_put(v);
    return 0;
}
