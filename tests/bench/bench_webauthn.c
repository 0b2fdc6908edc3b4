/*
 * Assertion verifications per second, two comparisons in one run, each
 * beside libfido2's bare fido_assert_verify (bare_once below says exactly
 * what that side does) in alternating batches.  Target: libmfa / bare
 * <= 1.3 (time per verification) for ES256, EdDSA and RS256.
 *
 * 1. mfa_webauthn_login_verify (the browser's JSON parsed, clientDataJSON
 *    checked and hashed, the stored COSE key decoded, flags and counter
 *    checked, the signature verified) on the assertions of
 *    tests/webauthn/vectors.json.
 * 2. mfa_webauthn_login_finish, the whole login flow on the memory store
 *    (device tokens off: mfa_ctx_set_devices(ctx, 0, 0)): the response
 *    parsed, the challenge's tag, kind, expiry and account checked, the
 *    attempt counted in one write transaction with the credential looked
 *    up by id, the assertion verified, the challenge spent, the sign
 *    count stored.  Every login answers its own challenge from
 *    mfa_webauthn_login_begin with a fresh assertion of the C software
 *    authenticator (tests/webauthn/softauth_c.h), both made before the
 *    timed part, in batches; only login_finish is timed, and the bare side
 *    verifies the same assertions.  Between batches (untimed) the clock
 *    moves past the challenges' lifetime and mfa_gc drops the spent
 *    nonces, as a server's clean-up would.
 *
 *   bench-webauthn [VECTORS.json [MILLISECONDS [ALG]]]
 * MILLISECONDS: CPU time per side of part 1 (default 2000); part 2 takes
 * a quarter of it (signing the assertions takes longer than verifying).
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
#ifdef HAVE_SOFTAUTH
#include <mfa.h>
#include <mfa/store-backend.h>

#include "softauth_c.h"
#endif

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

/* The assertion's fields of a response JSON into b (not timed). */
static void
bare_fields(const char *response, struct bare *b)
{
    json_object *r = json_tokener_parse(response), *resp;

    if (r == NULL || !json_object_object_get_ex(r, "response", &resp) ||
        wv_bin(resp, "authenticatorData", b->ad, sizeof(b->ad), &b->ad_len) ||
        wv_bin(resp, "signature", b->sig, sizeof(b->sig), &b->sig_len) ||
        wv_bin(resp, "clientDataJSON", b->cd, sizeof(b->cd), &b->cd_len))
        abort();
    json_object_put(r);
}

static void
bare_get(const struct wv_case *k, struct bare *b)
{
    memset(b, 0, sizeof(*b));
    b->alg = k->stored.algorithm;
    bare_fields(k->response, b);
    if ((b->pk = load_pk(&k->stored)) == NULL)
        abort();
}

static void
bare_free_pk(struct bare *b)
{
    if (b->alg == MFA_WEBAUTHN_ES256)
        es256_pk_free((es256_pk_t **)&b->pk);
    else if (b->alg == MFA_WEBAUTHN_EDDSA)
        eddsa_pk_free((eddsa_pk_t **)&b->pk);
    else
        rs256_pk_free((rs256_pk_t **)&b->pk);
}

static volatile int sink;

/*
 * One verification as a caller of libfido2 makes it, per verification:
 * a new assertion object; the rp id; the clientDataJSON, which libfido2
 * hashes (every assertion has its own, so a caller hashes it each time;
 * libmfa hands it to libfido2 the same way); the count; the raw
 * authenticator data; the signature; fido_assert_verify with the key;
 * the object freed.  Not included: the JSON and base64url, the
 * clientDataJSON checks, and decoding the stored COSE key, which is done
 * once before the loop (a caller with stored keys decodes one per login
 * too, so this side is the cheaper one).
 */
static int
bare_once(const struct bare *b)
{
    fido_assert_t *a = fido_assert_new();
    int r = FIDO_ERR_INTERNAL;

    if (a != NULL && fido_assert_set_rp(a, "example.com") == FIDO_OK &&
        fido_assert_set_clientdata(a, b->cd, b->cd_len) == FIDO_OK &&
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

#ifdef HAVE_SOFTAUTH
/* ---- 2. the login flow on the memory store ------------------------------ */

#define FLOW_BATCH 20
#define FLOW_ORIGIN "https://example.com"
#define FLOW_ACCOUNT "alice"

static int64_t flow_clock = 1700000000;

static int64_t
flow_now(void *arg)
{
    (void)arg;
    return flow_clock;
}

struct flow {
    mfa_store_t *store;
    mfa_keyring_t *kr;
    mfa_webauthn_rp_t *rp;
    mfa_ctx_t *ctx;
    softauth *sa;
    mfa_webauthn_credential stored; /* as the store holds it */
};

static mfa_rc
flow_keep(const mfa_webauthn_rec *r, void *arg)
{
    *(mfa_webauthn_credential *)arg = r->cred;
    return MFA_OK;
}

/* The stored credential, read back through the backend (not timed). */
static void
flow_stored(struct flow *f)
{
    const mfa_store_backend *be = mfa_store_backend_of(f->store);
    mfa_store_txn *t = NULL;

    if (be->begin(mfa_store_impl_of(f->store), FLOW_ACCOUNT, MFA_TXN_READ,
                  &t) != MFA_OK ||
        be->webauthn_list(t, FLOW_ACCOUNT, flow_keep, &f->stored) != MFA_OK)
        abort();
    be->rollback(t);
}

static void
flow_setup(struct flow *f, int32_t alg)
{
    char *opts = NULL, *resp = NULL;
    uint32_t id;
    mfa_result res;

    memset(f, 0, sizeof(*f));
    if (mfa_store_memory_new(&f->store) != MFA_OK ||
        mfa_keyring_new(&f->kr) != MFA_OK ||
        mfa_keyring_generate(f->kr, &id) != MFA_OK ||
        mfa_ctx_new(&f->ctx, f->store, f->kr) != MFA_OK ||
        mfa_webauthn_rp_new(&f->rp, "example.com", "Example") != MFA_OK ||
        mfa_webauthn_rp_add_origin(f->rp, FLOW_ORIGIN) != MFA_OK ||
        /* the shortest lifetime, so that the spent nonces can go */
        mfa_webauthn_rp_set_timeout(f->rp, 1000) != MFA_OK ||
        mfa_ctx_set_webauthn(f->ctx, f->rp) != MFA_OK ||
        mfa_ctx_set_devices(f->ctx, 0, 0) != MFA_OK ||
        softauth_new(&f->sa, alg) != 0)
        abort();
    mfa_ctx_set_clock(f->ctx, flow_now, NULL);
    if (mfa_webauthn_register_begin(f->ctx, FLOW_ACCOUNT, NULL, NULL, &opts) !=
            MFA_OK ||
        softauth_register(f->sa, opts, NULL, FLOW_ORIGIN, &resp) != 0 ||
        mfa_webauthn_register_finish(f->ctx, FLOW_ACCOUNT, "key", resp,
                                     strlen(resp), &res) != MFA_OK)
        abort();
    mfa_free(opts);
    free(resp);
    flow_stored(f);
}

static void
flow_free(struct flow *f)
{
    softauth_free(&f->sa);
    mfa_ctx_free(&f->ctx);
    mfa_webauthn_rp_free(&f->rp);
    mfa_store_free(&f->store);
    mfa_keyring_free(&f->kr);
}

/* A batch of fresh logins: a challenge each and its assertion, with the
 * fields the bare side is given (not timed). */
static void
flow_batch(struct flow *f, char *resp[FLOW_BATCH], struct bare *b, void *pk)
{
    for (int i = 0; i < FLOW_BATCH; i++) {
        char *opts = NULL;

        if (mfa_webauthn_login_begin(f->ctx, FLOW_ACCOUNT, &opts) != MFA_OK ||
            softauth_assert(f->sa, opts, NULL, FLOW_ORIGIN, &resp[i]) != 0)
            abort();
        mfa_free(opts);
        memset(&b[i], 0, sizeof(b[i]));
        b[i].alg = f->stored.algorithm;
        b[i].pk = pk;
        bare_fields(resp[i], &b[i]);
    }
}

/* login_finish and bare in alternating batches, about secs of CPU each */
static int
flow_rates(struct flow *f, double secs, double *mfa_rate, double *bare_rate)
{
    double t_mfa = 0, t_bare = 0, t;
    char *resp[FLOW_BATCH];
    struct bare b[FLOW_BATCH];
    void *pk = load_pk(&f->stored);
    mfa_rc rc[FLOW_BATCH];
    size_t removed;
    long n = 0;

    if (pk == NULL)
        abort();
    while (t_mfa < secs || t_bare < secs) {
        flow_batch(f, resp, b, pk);
        /* making the batch left the caches to the signing: each side goes
         * first in every other batch */
        for (int side = 0; side < 2; side++) {
            t = now_s();
            if ((side ^ (int)(n / FLOW_BATCH & 1)) == 0) {
                for (int i = 0; i < FLOW_BATCH; i++) {
                    mfa_result res;

                    rc[i] =
                        mfa_webauthn_login_finish(f->ctx, FLOW_ACCOUNT, resp[i],
                                                  strlen(resp[i]), NULL, &res);
                }
                t_mfa += now_s() - t;
            } else {
                for (int i = 0; i < FLOW_BATCH; i++)
                    sink += bare_once(&b[i]);
                t_bare += now_s() - t;
            }
        }
        for (int i = 0; i < FLOW_BATCH; i++) {
            /* every login must be accepted, or the figures mean nothing */
            if (rc[i] != MFA_OK || bare_once(&b[i]) != FIDO_OK) {
                fprintf(stderr, "login %ld: %s, bare %d\n", n + i,
                        mfa_strerror(rc[i]), bare_once(&b[i]));
                return -1;
            }
            free(resp[i]);
        }
        n += FLOW_BATCH;
        /* the challenges' lifetime is over: their nonces can go */
        flow_clock += 2;
        if (mfa_gc(f->ctx, &removed) != MFA_OK)
            abort();
    }
    b[0].pk = pk;
    bare_free_pk(&b[0]);
    *mfa_rate = (double)n / t_mfa;
    *bare_rate = (double)n / t_bare;
    return 0;
}

/* Part 2; the worst ratio, or -1. */
static double
flow_part(double secs, const char *only)
{
    static const struct {
        const char *name;
        int32_t alg;
    } algs[] = {{"es256", MFA_WEBAUTHN_ES256},
                {"eddsa", MFA_WEBAUTHN_EDDSA},
                {"rs256", MFA_WEBAUTHN_RS256}};
    double worst = 0;

    printf("\nmfa_webauthn_login_finish on the memory store (device tokens "
           "off) per CPU second,\nfresh challenge and assertion each "
           "(made untimed), %.0f ms of CPU each side\n",
           secs * 1000);
    printf("%-6s %14s %14s %8s\n", "alg", "login_finish", "bare libfido2",
           "ratio");
    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        struct flow f;
        double m, b;

        if (only != NULL && strcmp(only, algs[i].name) != 0)
            continue;
        flow_setup(&f, algs[i].alg);
        if (flow_rates(&f, secs, &m, &b) != 0)
            return -1;
        printf("%-6s %14.0f %14.0f %8.3f\n", algs[i].name, m, b, b / m);
        worst = b / m > worst ? b / m : worst;
        flow_free(&f);
    }
    printf("login_finish / bare (time per verification), worst: %.3f "
           "(target <= 1.3)\n",
           worst);
    return worst;
}
#endif

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
        bare_free_pk(&b);
        wv_case_clear(&k);
    }
    printf("libmfa / bare (time per verification), worst: %.3f (target <= "
           "1.3)\n",
           worst);
    json_object_put(v);
#ifdef HAVE_SOFTAUTH
    if (flow_part(secs / 4, argc > 3 ? argv[3] : NULL) < 0)
        return 1;
#endif
    return 0;
}
