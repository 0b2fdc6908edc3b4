/*
 * The passkey service flows: mfa_webauthn_register_finish and
 * mfa_webauthn_login_finish (with an account and without one) on mutated
 * responses, over the memory store.
 *
 * At start-up the C software authenticator (tests/webauthn/softauth_c.h)
 * makes, for each algorithm (ES256, EdDSA, RS256), the reference
 * responses: a registration (packed self attestation) for alice and two
 * logins (one begun for alice, one without a name), all answering
 * challenges a ctx with a fixed key ring and clock made.  Every input
 * gets a fresh memory store holding alice's user handle (and, for the
 * logins, her credential) as the reference registration left them, and
 * a ctx with that key ring and clock.  The input:
 *   byte 0  the operation: 0 register, 1 login for alice, 2 login
 *           without a name
 *   byte 1  the algorithm: 0 ES256, 1 EdDSA, 2 RS256
 *   then    edits of 5 bytes each: field, kind, position (2 bytes, big
 *           endian), value.  Fields 1..6 are the decoded bytes of
 *           clientDataJSON, authenticatorData (or attestationObject),
 *           signature, userHandle, rawId and the text of id, re-encoded
 *           (base64url) into the reference's JSON; field 0 is the whole
 *           JSON text, edited last.  Kinds: 0 xor the byte with value, 1
 *           insert value, 2 delete the byte, 3 cut the rest, 4 set it to
 *           value.  Positions wrap around the field's length.
 * No edits: the reference itself, which must be accepted.
 *
 * Aborts (FUZZ_ASSERT) when
 * - a response is accepted whose authenticated parts (clientDataJSON,
 *   the authenticator data, the signature, the credential id, and the
 *   user handle when sent or needed) differ from the reference's; of an
 *   attestation object the authData counts (its statement may be encoded
 *   otherwise), unless its format became "none", which signs nothing and
 *   is accepted by design;
 * - the result is MFA_ERR_INTERNAL or any code outside the refusals the
 *   flows document (the WEBAUTHN codes, EXPIRED, REPLAYED);
 * - a refusal changed the store: a response that does not parse or
 *   answers no challenge of ours (uncounted) leaves the account's throttle
 *   rows, credentials and user handle as they were; another refused
 *   login may count a failure and nothing else; a refused registration
 *   writes nothing; and after any refusal the reference is still
 *   accepted (its challenge was not spent, the credential not damaged);
 * - an accepted response did not store what it should (the sign count,
 *   the last use, the new credential), or the reference is not refused as
 *   replayed after it.
 * Seeds: tests/fuzz/corpus/webauthn_flows (each operation and algorithm
 * with no edits and with a few).
 */
#include <cbor.h>
#include <json.h>
#include <mfa.h>
#include <mfa/store-backend.h>

#include "fuzz_common.h"
#include "softauth_c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define ORIGIN "https://example.com"
#define ACCOUNT "alice"
#define T0 1700000000
#define N_ALGS 3
#define FIELD_MAX 8192 /* a decoded field, edited */
#define EDITS_MAX 64

enum op { OP_REGISTER, OP_LOGIN, OP_LOGIN_ANY, N_OPS };

static const int32_t algs[N_ALGS] = {MFA_WEBAUTHN_ES256, MFA_WEBAUTHN_EDDSA,
                                     MFA_WEBAUTHN_RS256};

static int64_t
fixed_clock(void *arg)
{
    (void)arg;
    return T0;
}

static mfa_keyring_t *kr;
static int verbose; /* FUZZ_WEBAUTHN_FLOWS_VERBOSE set: each verdict */
static mfa_webauthn_rp_t *rp;
static const mfa_throttle_policy lenient = {1000, 1, 1};

/* what the reference registration left in the store */
static uint8_t handle[MFA_WEBAUTHN_USER_HANDLE_MAX];
static size_t handle_len;
static mfa_webauthn_rec cred[N_ALGS];
static char *ref[N_OPS][N_ALGS]; /* reference responses */

/* ---- a store and ctx per input --------------------------------------------
 */

typedef struct world {
    mfa_store_t *store;
    mfa_ctx_t *ctx;
} world;

static void
world_new(world *w, int with_cred, size_t alg)
{
    const mfa_store_backend *be;
    mfa_store_txn *t = NULL;

    memset(w, 0, sizeof(*w));
    FUZZ_ASSERT(mfa_store_memory_new(&w->store) == MFA_OK);
    FUZZ_ASSERT(mfa_ctx_new(&w->ctx, w->store, kr) == MFA_OK);
    mfa_ctx_set_clock(w->ctx, fixed_clock, NULL);
    FUZZ_ASSERT(mfa_ctx_set_webauthn(w->ctx, rp) == MFA_OK);
    FUZZ_ASSERT(mfa_ctx_set_devices(w->ctx, 0, 0) == MFA_OK);
    FUZZ_ASSERT(mfa_ctx_set_throttle(w->ctx, &lenient) == MFA_OK);
    if (handle_len == 0)
        return; /* the references are being made */
    be = mfa_store_backend_of(w->store);
    FUZZ_ASSERT(be->begin(mfa_store_impl_of(w->store), ACCOUNT, MFA_TXN_WRITE,
                          &t) == MFA_OK);
    FUZZ_ASSERT(be->webauthn_handle_put(t, ACCOUNT, handle, handle_len, T0) ==
                MFA_OK);
    if (with_cred)
        FUZZ_ASSERT(be->webauthn_insert(t, ACCOUNT, &cred[alg]) == MFA_OK);
    FUZZ_ASSERT(be->commit(t) == MFA_OK);
}

static void
world_free(world *w)
{
    mfa_ctx_free(&w->ctx);
    mfa_store_free(&w->store);
}

/* The account's rows, for before/after comparisons. */
typedef struct state {
    mfa_throttle_rec thr[8];
    size_t n_thr;
    mfa_webauthn_rec creds[4];
    size_t n_creds;
    uint8_t handle[MFA_WEBAUTHN_USER_HANDLE_MAX];
    size_t handle_len;
} state;

static mfa_rc
keep_cred(const mfa_webauthn_rec *r, void *arg)
{
    state *s = arg;

    FUZZ_ASSERT(s->n_creds < 4);
    s->creds[s->n_creds++] = *r;
    return MFA_OK;
}

static void
snapshot(const world *w, state *s)
{
    const mfa_store_backend *be = mfa_store_backend_of(w->store);
    mfa_store_txn *t = NULL;
    mfa_rc rc;

    memset(s, 0, sizeof(*s));
    FUZZ_ASSERT(be->begin(mfa_store_impl_of(w->store), ACCOUNT, MFA_TXN_READ,
                          &t) == MFA_OK);
    FUZZ_ASSERT(be->throttle_list(t, ACCOUNT, s->thr, 8, &s->n_thr) == MFA_OK);
    FUZZ_ASSERT(be->webauthn_list(t, ACCOUNT, keep_cred, s) == MFA_OK);
    rc = be->webauthn_handle_get(t, ACCOUNT, s->handle, &s->handle_len);
    FUZZ_ASSERT(rc == MFA_OK || rc == MFA_ERR_NOT_FOUND);
    be->rollback(t);
}

static int
creds_equal(const state *a, const state *b)
{
    if (a->n_creds != b->n_creds || a->handle_len != b->handle_len ||
        memcmp(a->handle, b->handle, a->handle_len) != 0)
        return 0;
    for (size_t i = 0; i < a->n_creds; i++)
        if (memcmp(&a->creds[i], &b->creds[i], sizeof(a->creds[i])) != 0)
            return 0;
    return 1;
}

static int
throttle_equal(const state *a, const state *b)
{
    return a->n_thr == b->n_thr &&
           memcmp(a->thr, b->thr, a->n_thr * sizeof(a->thr[0])) == 0;
}

static mfa_rc
run(const world *w, enum op op, const char *json, size_t len)
{
    char who[MFA_ACCOUNT_MAX + 1];
    mfa_result res;

    switch (op) {
    case OP_REGISTER:
        return mfa_webauthn_register_finish(w->ctx, ACCOUNT, "key", json, len,
                                            &res);
    case OP_LOGIN:
        return mfa_webauthn_login_finish(w->ctx, ACCOUNT, json, len, NULL,
                                         &res);
    default:
        return mfa_webauthn_login_finish(w->ctx, NULL, json, len, who, &res);
    }
}

/* ---- the references -------------------------------------------------------
 */

static void
make_references(void)
{
    world w;

    for (size_t a = 0; a < N_ALGS; a++) {
        softauth *sa = NULL;
        char *opts = NULL, *json = NULL;
        mfa_result res;
        state s;

        FUZZ_ASSERT(softauth_new(&sa, algs[a]) == 0);
        softauth_set_attestation(sa, SOFTAUTH_ATT_PACKED_SELF);
        /* from the second algorithm on, the store starts with the user
         * handle the first registration made: one for every store */
        world_new(&w, 0, a);
        FUZZ_ASSERT(mfa_webauthn_register_begin(w.ctx, ACCOUNT, NULL, NULL,
                                                &opts) == MFA_OK);
        FUZZ_ASSERT(softauth_register(sa, opts, NULL, ORIGIN, &json) == 0);
        mfa_free(opts);
        ref[OP_REGISTER][a] = json;
        FUZZ_ASSERT(mfa_webauthn_register_finish(w.ctx, ACCOUNT, "key", json,
                                                 strlen(json), &res) == MFA_OK);
        snapshot(&w, &s);
        FUZZ_ASSERT(s.n_creds == 1 && s.handle_len > 0);
        cred[a] = s.creds[0];
        memcpy(handle, s.handle, s.handle_len);
        handle_len = s.handle_len;
        FUZZ_ASSERT(mfa_webauthn_login_begin(w.ctx, ACCOUNT, &opts) == MFA_OK);
        FUZZ_ASSERT(
            softauth_assert(sa, opts, NULL, ORIGIN, &ref[OP_LOGIN][a]) == 0);
        mfa_free(opts);
        FUZZ_ASSERT(mfa_webauthn_login_begin(w.ctx, NULL, &opts) == MFA_OK);
        FUZZ_ASSERT(softauth_assert(sa, opts, NULL, ORIGIN,
                                    &ref[OP_LOGIN_ANY][a]) == 0);
        mfa_free(opts);
        world_free(&w);
        softauth_free(&sa);
    }
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    uint8_t key[MFA_KEYRING_KEYBYTES];

    (void)argc;
    (void)argv;
    verbose = getenv("FUZZ_WEBAUTHN_FLOWS_VERBOSE") != NULL;
    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (uint8_t)(0x40 + 7 * i);
    FUZZ_ASSERT(mfa_keyring_new(&kr) == MFA_OK);
    FUZZ_ASSERT(mfa_keyring_add(kr, 1, key, 1) == MFA_OK);
    FUZZ_ASSERT(mfa_webauthn_rp_new(&rp, "example.com", "Example") == MFA_OK);
    FUZZ_ASSERT(mfa_webauthn_rp_add_origin(rp, ORIGIN) == MFA_OK);
    make_references();
    /* the references are good in a store of their own */
    for (int op = 0; op < N_OPS; op++)
        for (size_t a = 0; a < N_ALGS; a++) {
            world w;

            world_new(&w, op != OP_REGISTER, a);
            FUZZ_ASSERT(run(&w, (enum op)op, ref[op][a], strlen(ref[op][a])) ==
                        MFA_OK);
            world_free(&w);
        }
    return 0;
}

/* ---- edits ------------------------------------------------------------------
 */

typedef struct buf {
    uint8_t p[FIELD_MAX];
    size_t n;
} buf;

static void
edit(buf *b, uint8_t kind, size_t pos, uint8_t v)
{
    if (b->n == 0) {
        if (kind == 1 || kind == 4) {
            b->p[0] = v;
            b->n = 1;
        }
        return;
    }
    pos %= b->n;
    switch (kind % 5) {
    case 0:
        b->p[pos] ^= v;
        break;
    case 1:
        if (b->n < FIELD_MAX) {
            memmove(b->p + pos + 1, b->p + pos, b->n - pos);
            b->p[pos] = v;
            b->n++;
        }
        break;
    case 2:
        memmove(b->p + pos, b->p + pos + 1, b->n - pos - 1);
        b->n--;
        break;
    case 3:
        b->n = pos;
        break;
    default:
        b->p[pos] = v;
        break;
    }
}

/* base64url, with or without padding, as the flows read it */
static int
b64_dec(const char *s, size_t n, buf *out)
{
    size_t len = 0;
    const char *end = NULL;

    if (sodium_base642bin(out->p, sizeof(out->p), s, n, NULL, &len, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0 &&
        end == s + n) {
        out->n = len;
        return 0;
    }
    if (sodium_base642bin(out->p, sizeof(out->p), s, n, NULL, &len, &end,
                          sodium_base64_VARIANT_URLSAFE) == 0 &&
        end == s + n) {
        out->n = len;
        return 0;
    }
    return -1;
}

static json_object *
b64_str(const buf *b)
{
    char s[FIELD_MAX * 4 / 3 + 8];

    sodium_bin2base64(s, sizeof(s), b->p, b->n,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return json_object_new_string(s);
}

static const char *const field_names[] = {
    NULL,        "clientDataJSON", NULL /* authData or attObj */,
    "signature", "userHandle",     "rawId",
    "id"};
#define N_FIELDS 7

static const char *
field_name(enum op op, int f)
{
    if (f == 2)
        return op == OP_REGISTER ? "attestationObject" : "authenticatorData";
    return field_names[f];
}

/* The object holding field f: the response's "response" member for the
 * binary ones, the response itself for rawId and id. */
static json_object *
holder(json_object *root, int f)
{
    json_object *r = NULL;

    if (f >= 5)
        return root;
    json_object_object_get_ex(root, "response", &r);
    return r;
}

/* The response of op/alg with the edits of data applied, as a malloc'ed
 * text of *len bytes. */
static char *
mutate(enum op op, size_t alg, const uint8_t *data, size_t size, size_t *len)
{
    json_object *root = json_tokener_parse(ref[op][alg]);
    buf *b = malloc(sizeof(*b)), *text = malloc(sizeof(*text));
    const char *s;
    char *out;
    size_t n_edits = size / 5;

    FUZZ_ASSERT(root != NULL && b != NULL && text != NULL);
    if (n_edits > EDITS_MAX)
        n_edits = EDITS_MAX;
    /* field edits, one field at a time, in the order of the input */
    for (int f = 1; f < N_FIELDS; f++) {
        json_object *h = holder(root, f), *v = NULL;
        int touched = 0;

        if (h == NULL || !json_object_object_get_ex(h, field_name(op, f), &v))
            continue;
        s = json_object_get_string(v);
        if (f == 6) {
            b->n = strlen(s);
            memcpy(b->p, s, b->n);
        } else if (b64_dec(s, strlen(s), b) != 0) {
            continue;
        }
        for (size_t i = 0; i < n_edits; i++) {
            const uint8_t *e = data + 5 * i;

            if (e[0] % N_FIELDS != f)
                continue;
            edit(b, e[1], (size_t)e[2] << 8 | e[3], e[4]);
            touched = 1;
        }
        if (!touched)
            continue;
        if (f == 6) {
            char t[FIELD_MAX + 1];

            memcpy(t, b->p, b->n);
            t[b->n] = '\0';
            json_object_object_add(h, field_name(op, f),
                                   json_object_new_string(t));
        } else {
            json_object_object_add(h, field_name(op, f), b64_str(b));
        }
    }
    s = json_object_to_json_string_ext(
        root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    text->n = strlen(s) < FIELD_MAX ? strlen(s) : FIELD_MAX;
    memcpy(text->p, s, text->n);
    json_object_put(root);
    for (size_t i = 0; i < n_edits; i++) {
        const uint8_t *e = data + 5 * i;

        if (e[0] % N_FIELDS == 0)
            edit(text, e[1], (size_t)e[2] << 8 | e[3], e[4]);
    }
    out = malloc(text->n + 1);
    FUZZ_ASSERT(out != NULL);
    memcpy(out, text->p, text->n);
    out[text->n] = '\0'; /* for the oracle's json-c; the flows get the length */
    *len = text->n;
    free(b);
    free(text);
    return out;
}

/* ---- the oracle -------------------------------------------------------------
 */

/* The decoded field f of a response text; -1 when it has none readable. */
static int
field_of(enum op op, const char *json, size_t len, int f, buf *out)
{
    json_object *root = NULL, *h, *v;
    json_tokener *tok = json_tokener_new();
    int r = -1;

    out->n = 0;
    FUZZ_ASSERT(tok != NULL);
    if (memchr(json, '\0', len) == NULL)
        root = json_tokener_parse_ex(tok, json, (int)len);
    json_tokener_free(tok);
    if (root == NULL)
        return -1;
    h = holder(root, f);
    if (h != NULL && json_object_object_get_ex(h, field_name(op, f), &v) &&
        json_object_is_type(v, json_type_string))
        r = b64_dec(json_object_get_string(v),
                    (size_t)json_object_get_string_len(v), out);
    json_object_put(root);
    return r;
}

/* The text value of key in CBOR map m, or NULL. */
static const cbor_item_t *
map_value(const cbor_item_t *m, const char *key)
{
    struct cbor_pair *p;
    size_t n = strlen(key);

    if (!cbor_isa_map(m))
        return NULL;
    p = cbor_map_handle(m);
    for (size_t i = 0; i < cbor_map_size(m); i++)
        if (cbor_isa_string(p[i].key) && cbor_string_is_definite(p[i].key) &&
            cbor_string_length(p[i].key) == n &&
            memcmp(cbor_string_handle(p[i].key), key, n) == 0)
            return p[i].value;
    return NULL;
}

/*
 * What an attestation object signs, by libcbor's reading: its authData
 * (into *ad) and whether its format is "none" (which signs nothing).
 * -1 when it does not read as a map with a definite authData.
 */
static int
att_signed(const buf *att, buf *ad, int *none)
{
    struct cbor_load_result res;
    cbor_item_t *m = cbor_load(att->p, att->n, &res);
    const cbor_item_t *fmt, *a;
    int r = -1;

    *none = 0;
    if (m == NULL)
        return -1;
    fmt = map_value(m, "fmt");
    a = map_value(m, "authData");
    if (fmt != NULL && cbor_isa_string(fmt) && cbor_string_is_definite(fmt) &&
        cbor_string_length(fmt) == 4 &&
        memcmp(cbor_string_handle(fmt), "none", 4) == 0)
        *none = 1;
    if (a != NULL && cbor_isa_bytestring(a) && cbor_bytestring_is_definite(a) &&
        cbor_bytestring_length(a) <= sizeof(ad->p)) {
        ad->n = cbor_bytestring_length(a);
        memcpy(ad->p, cbor_bytestring_handle(a), ad->n);
        r = 0;
    }
    cbor_decref(&m);
    return r;
}

/* Accepted: the authenticated parts of json are the reference's. */
static void
check_accepted_is_reference(enum op op, size_t alg, const char *json,
                            size_t len)
{
    const char *r = ref[op][alg];
    buf *got = malloc(sizeof(*got)), *want = malloc(sizeof(*want));

    FUZZ_ASSERT(got != NULL && want != NULL);
    for (int f = 1; f <= 5; f++) {
        int gr = field_of(op, json, len, f, got),
            wr = field_of(op, r, strlen(r), f, want);

        if (op == OP_REGISTER && (f == 3 || f == 4))
            continue; /* no signature or user handle in a registration */
        if (op == OP_LOGIN && f == 4 && (gr != 0 || got->n == 0))
            continue; /* a login for a named account needs no handle */
        FUZZ_ASSERT(wr == 0);
        FUZZ_ASSERT(gr == 0);
        if (op == OP_REGISTER && f == 2) {
            /* the attestation object's signed part: its authData, unless
             * its format became "none" (nothing signed, by design); its
             * statement's encoding may differ */
            buf *gad = malloc(sizeof(*gad)), *wad = malloc(sizeof(*wad));
            int gnone, wnone;

            FUZZ_ASSERT(gad != NULL && wad != NULL);
            FUZZ_ASSERT(att_signed(want, wad, &wnone) == 0 && !wnone);
            FUZZ_ASSERT(att_signed(got, gad, &gnone) == 0);
            FUZZ_ASSERT(gnone || (gad->n == wad->n &&
                                  memcmp(gad->p, wad->p, gad->n) == 0));
            free(gad);
            free(wad);
            continue;
        }
        FUZZ_ASSERT(got->n == want->n && memcmp(got->p, want->p, got->n) == 0);
    }
    free(got);
    free(want);
}

static int
uncounted(mfa_rc rc)
{
    return rc == MFA_ERR_WEBAUTHN_JSON || rc == MFA_ERR_WEBAUTHN_TYPE ||
           rc == MFA_ERR_WEBAUTHN_CHALLENGE || rc == MFA_ERR_WEBAUTHN_TOO_LARGE;
}

static int
documented_refusal(mfa_rc rc)
{
    return (rc <= MFA_ERR_WEBAUTHN_JSON && rc >= MFA_ERR_WEBAUTHN_PUBLIC_KEY) ||
           rc == MFA_ERR_EXPIRED || rc == MFA_ERR_REPLAYED;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    long mark = fuzz_guarded_mark();
    enum op op;
    size_t alg, len;
    state before, after;
    char *json;
    world w;
    mfa_rc rc;

    if (size < 2 || size > 2 + 5 * EDITS_MAX)
        return 0;
    op = (enum op)(data[0] % N_OPS);
    alg = data[1] % N_ALGS;
    json = mutate(op, alg, data + 2, size - 2, &len);
    world_new(&w, op != OP_REGISTER, alg);
    snapshot(&w, &before);
    rc = run(&w, op, json, len);
    snapshot(&w, &after);
    if (verbose)
        fprintf(stderr, "op %d alg %zu: %s\n", (int)op, alg,
                mfa_strerror_name(rc));
    FUZZ_ASSERT(rc == MFA_OK || documented_refusal(rc));
    if (rc == MFA_OK) {
        check_accepted_is_reference(op, alg, json, len);
        if (op == OP_REGISTER) {
            FUZZ_ASSERT(before.n_creds == 0 && after.n_creds == 1);
        } else {
            FUZZ_ASSERT(after.n_creds == 1 &&
                        after.creds[0].cred.sign_count >
                            before.creds[0].cred.sign_count &&
                        after.creds[0].last_used == T0);
        }
        /* its challenge is spent: the reference now replays */
        rc = run(&w, op, ref[op][alg], strlen(ref[op][alg]));
        FUZZ_ASSERT(rc == MFA_ERR_REPLAYED ||
                    (op == OP_REGISTER && rc == MFA_ERR_EXISTS));
    } else {
        /* nothing stored but, for a counted login, the failure */
        FUZZ_ASSERT(creds_equal(&before, &after));
        if (op == OP_REGISTER || uncounted(rc))
            FUZZ_ASSERT(throttle_equal(&before, &after));
        /* the challenge was not spent, nor anything else harmed */
        FUZZ_ASSERT(run(&w, op, ref[op][alg], strlen(ref[op][alg])) == MFA_OK);
    }
    world_free(&w);
    free(json);
    fuzz_guarded_check(mark);
    return 0;
}
