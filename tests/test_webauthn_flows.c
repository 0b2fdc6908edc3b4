/*
 * The passkey service flows (mfa/webauthn.h, "the service flows") with the
 * software authenticator of tests/webauthn/softauth_c.h, on the memory
 * store and on a SQLite file (each test runs once per backend: the loop
 * index picks it): registration, listing, logins with and without a name,
 * replays, foreign and expired challenges, tampered responses, throttling
 * and known devices, cloned authenticators, rename, remove, reset, the
 * cap, passkeys next to authenticator apps, the clean-up, threads racing
 * one assertion and the last places, and a store failing each call of
 * both finishes in turn.
 */
#define _GNU_SOURCE /* memmem */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json.h>
#include <sodium.h>

#include <mfa.h>
#include <mfa/store-backend.h>
#include <mfa/webauthn.h>

#include "fault_store.h"
#include "testutil.h"
#include "webauthn/softauth_c.h"

#define T0 1700000000
#define RP_ID "example.com"
#define ORIGIN "https://example.com"

/* SQLite keeps passkeys from schema version 4 on (the webauthn tables);
 * a tree whose SQLite store is older runs the memory store only */
#if MFA_SCHEMA_VERSION >= 4
enum { BK_MEMORY = 0, BK_SQLITE = 1, BK_COUNT = 2 };
#else
enum { BK_MEMORY = 0, BK_SQLITE = 1, BK_COUNT = 1 };
#endif

/* ---- fixture ------------------------------------------------------------- */

#define EV_MAX 512
typedef struct rec_event {
    mfa_event_type type;
    char account[MFA_ACCOUNT_MAX + 1];
    char factor_id[MFA_FACTOR_ID_LEN + 1];
    mfa_rc rc;
    uint32_t failures;
} rec_event;

static struct {
    mfa_store_t *store; /* a fault store over the backend */
    fault_store *fs;
    mfa_keyring_t *kr;
    mfa_ctx_t *ctx;
    mfa_webauthn_rp_t *rp;
    int64_t now;
    char path[256];
    rec_event ev[EV_MAX];
    size_t nev;
} F;

static int64_t
fake_clock(void *arg)
{
    (void)arg;
    return F.now;
}

static void
on_event(const mfa_event *ev, void *arg)
{
    rec_event *r;

    (void)arg;
    ck_assert_str_ne(mfa_event_name(ev->type), "unknown");
    if (F.nev >= EV_MAX)
        return;
    r = &F.ev[F.nev++];
    memset(r, 0, sizeof(*r));
    r->type = ev->type;
    r->rc = ev->rc;
    r->failures = ev->failures;
    if (ev->account != NULL)
        snprintf(r->account, sizeof(r->account), "%s", ev->account);
    if (ev->factor_id != NULL)
        snprintf(r->factor_id, sizeof(r->factor_id), "%s", ev->factor_id);
}

static const rec_event *
last_event(void)
{
    ck_assert_uint_gt(F.nev, 0);
    return &F.ev[F.nev - 1];
}

static void
setup(int backend)
{
    mfa_store_t *inner = NULL;
    uint32_t id;

    memset(&F, 0, sizeof(F));
    F.now = T0;
    if (backend == BK_MEMORY) {
        ck_assert_int_eq(mfa_store_memory_new(&inner), MFA_OK);
    } else {
        char spec[300];

        snprintf(F.path, sizeof(F.path), "/tmp/mfa-test-wa-flows-%ld.db",
                 (long)getpid());
        unlink(F.path);
        snprintf(spec, sizeof(spec), "sqlite:%s", F.path);
        ck_assert_int_eq(mfa_store_create(&inner, spec), MFA_OK);
    }
    ck_assert_int_eq(fault_store_wrap(&F.store, inner, &F.fs), MFA_OK);
    ck_assert_int_eq(mfa_keyring_new(&F.kr), MFA_OK);
    ck_assert_int_eq(mfa_keyring_generate(F.kr, &id), MFA_OK);
    ck_assert_int_eq(mfa_ctx_new(&F.ctx, F.store, F.kr), MFA_OK);
    mfa_ctx_set_clock(F.ctx, fake_clock, NULL);
    mfa_ctx_set_event_cb(F.ctx, on_event, NULL);
    /* no amortised clean-up inside the flows counted below */
    ck_assert_int_eq(mfa_ctx_set_gc(F.ctx, 0, 3600), MFA_OK);
    ck_assert_int_eq(mfa_webauthn_rp_new(&F.rp, RP_ID, "Example"), MFA_OK);
    ck_assert_int_eq(mfa_ctx_set_webauthn(F.ctx, F.rp), MFA_OK);
}

static void
teardown(void)
{
    mfa_ctx_free(&F.ctx);
    mfa_store_free(&F.store);
    mfa_keyring_free(&F.kr);
    mfa_webauthn_rp_free(&F.rp);
    if (F.path[0] != '\0') {
        char p[300];

        unlink(F.path);
        snprintf(p, sizeof(p), "%s-wal", F.path);
        unlink(p);
        snprintf(p, sizeof(p), "%s-shm", F.path);
        unlink(p);
    }
}

/* ---- helpers ------------------------------------------------------------- */

static softauth *
new_auth(int32_t alg)
{
    softauth *sa = NULL;

    ck_assert_int_eq(softauth_new(&sa, alg), 0);
    return sa;
}

/* Register sa for account; the new factor id into id (may be NULL). */
static void
register_ok(const char *account, softauth *sa, const char *label,
            char id[MFA_FACTOR_ID_LEN + 1])
{
    char *opts = NULL, *resp = NULL;
    mfa_result r;

    ck_assert_int_eq(
        mfa_webauthn_register_begin(F.ctx, account, NULL, NULL, &opts), MFA_OK);
    ck_assert_int_eq(softauth_register(sa, opts, NULL, ORIGIN, &resp), 0);
    ck_assert_int_eq(mfa_webauthn_register_finish(F.ctx, account, label, resp,
                                                  strlen(resp), &r),
                     MFA_OK);
    ck_assert_int_eq(r.outcome, MFA_OK);
    ck_assert_uint_eq(strlen(r.factor_id), MFA_FACTOR_ID_LEN);
    ck_assert_int_eq(last_event()->type, MFA_EV_WEBAUTHN_REGISTER);
    ck_assert_str_eq(last_event()->factor_id, r.factor_id);
    if (id != NULL)
        memcpy(id, r.factor_id, MFA_FACTOR_ID_LEN + 1);
    mfa_free(opts);
    free(resp);
    F.now++; /* listed oldest first: one second apart */
}

/* An assertion of sa for a login begun for account (NULL: without a name). */
static char *
assertion(const char *account, softauth *sa)
{
    char *opts = NULL, *resp = NULL;

    ck_assert_int_eq(mfa_webauthn_login_begin(F.ctx, account, &opts), MFA_OK);
    ck_assert_int_eq(softauth_assert(sa, opts, NULL, ORIGIN, &resp), 0);
    mfa_free(opts);
    return resp;
}

static mfa_rc
finish(const char *account, const char *resp, mfa_result *r)
{
    char out[MFA_ACCOUNT_MAX + 1];

    return mfa_webauthn_login_finish(F.ctx, account, resp, strlen(resp), out,
                                     r);
}

static void
login_ok(const char *account, softauth *sa)
{
    char *resp = assertion(account, sa);
    mfa_result r;

    ck_assert_int_eq(finish(account, resp, &r), MFA_OK);
    ck_assert_int_eq(last_event()->type, MFA_EV_WEBAUTHN_OK);
    free(resp);
}

/* The options' challenge. */
static void
challenge_of(const char *opts, uint8_t ch[MFA_WEBAUTHN_FLOW_CHALLENGE_LEN])
{
    size_t n = 0;

    ck_assert_int_eq(
        softauth_options_challenge(opts, ch, MFA_WEBAUTHN_CHALLENGE_MAX, &n),
        0);
    ck_assert_uint_eq(n, MFA_WEBAUTHN_FLOW_CHALLENGE_LEN);
}

static size_t
passkeys(const char *account, mfa_webauthn_info **list)
{
    mfa_webauthn_info *l = NULL;
    size_t n = 99;

    ck_assert_int_eq(mfa_webauthn_list(F.ctx, account, &l, &n), MFA_OK);
    if (list != NULL)
        *list = l;
    else
        mfa_free(l);
    return n;
}

/* ---- what is stored, read past the fault layer (not counted) ------------- */

typedef struct dump {
    mfa_webauthn_rec w[MFA_WEBAUTHN_CREDS_MAX + 1];
    size_t nw;
    uint8_t handle[MFA_WEBAUTHN_USER_HANDLE_MAX];
    size_t handle_len;
    mfa_rc handle_rc;
    mfa_throttle_rec thr[16];
    size_t nthr;
    mfa_device_rec dev[MFA_DEVICES_MAX];
    size_t ndev;
    size_t nfactors;
} dump;

static mfa_rc
dump_w(const mfa_webauthn_rec *r, void *arg)
{
    dump *d = arg;

    ck_assert_uint_lt(d->nw, MFA_WEBAUTHN_CREDS_MAX + 1);
    d->w[d->nw++] = *r;
    return MFA_OK;
}

static mfa_rc
dump_f(const mfa_factor_rec *f, void *arg)
{
    (void)f;
    ((dump *)arg)->nfactors++;
    return MFA_OK;
}

static void
dump_of(const char *account, dump *d)
{
    mfa_store_t *s = fault_store_inner(F.fs);
    const mfa_store_backend *be = mfa_store_backend_of(s);
    mfa_store_txn *t = NULL;

    memset(d, 0, sizeof(*d));
    ck_assert_int_eq(be->begin(mfa_store_impl_of(s), account, MFA_TXN_READ, &t),
                     MFA_OK);
    ck_assert_int_eq(be->webauthn_list(t, account, dump_w, d), MFA_OK);
    d->handle_rc =
        be->webauthn_handle_get(t, account, d->handle, &d->handle_len);
    ck_assert_int_eq(be->throttle_list(t, account, d->thr, 16, &d->nthr),
                     MFA_OK);
    ck_assert_int_eq(
        be->device_list(t, account, d->dev, MFA_DEVICES_MAX, &d->ndev), MFA_OK);
    ck_assert_int_eq(be->factor_list(t, account, dump_f, d), MFA_OK);
    ck_assert_int_eq(be->commit(t), MFA_OK);
}

static void
assert_dump_eq(const dump *a, const dump *b)
{
    ck_assert_uint_eq(a->nw, b->nw);
    for (size_t i = 0; i < a->nw; i++) {
        ck_assert_str_eq(a->w[i].factor_id, b->w[i].factor_id);
        ck_assert_str_eq(a->w[i].label, b->w[i].label);
        ck_assert_int_eq(a->w[i].last_used, b->w[i].last_used);
        ck_assert_uint_eq(a->w[i].cred.sign_count, b->w[i].cred.sign_count);
        ck_assert_uint_eq(a->w[i].cred.id_len, b->w[i].cred.id_len);
        ck_assert_mem_eq(a->w[i].cred.id, b->w[i].cred.id, a->w[i].cred.id_len);
    }
    ck_assert_int_eq(a->handle_rc, b->handle_rc);
    ck_assert_uint_eq(a->handle_len, b->handle_len);
    ck_assert_mem_eq(a->handle, b->handle, a->handle_len);
    ck_assert_uint_eq(a->nthr, b->nthr);
    for (size_t i = 0; i < a->nthr; i++) {
        ck_assert_str_eq(a->thr[i].bucket, b->thr[i].bucket);
        ck_assert_uint_eq(a->thr[i].failures, b->thr[i].failures);
        ck_assert_int_eq(a->thr[i].locked_until, b->thr[i].locked_until);
    }
    ck_assert_uint_eq(a->ndev, b->ndev);
    for (size_t i = 0; i < a->ndev; i++) {
        ck_assert_str_eq(a->dev[i].id, b->dev[i].id);
        ck_assert_mem_eq(a->dev[i].hash, b->dev[i].hash, MFA_DEVICE_HASHBYTES);
        ck_assert_int_eq(a->dev[i].last_seen, b->dev[i].last_seen);
    }
    ck_assert_uint_eq(a->nfactors, b->nfactors);
}

/* The account's failures in the unknown devices' bucket. */
static uint32_t
failures_of(const char *account)
{
    dump d;

    dump_of(account, &d);
    for (size_t i = 0; i < d.nthr; i++)
        if (d.thr[i].bucket[0] == '\0')
            return d.thr[i].failures;
    return 0;
}

/* ---- registration and login ---------------------------------------------- */

START_TEST(register_list_login)
{
    static const struct {
        int32_t alg;
        int att;
    } kinds[] = {
        {MFA_WEBAUTHN_ES256, SOFTAUTH_ATT_NONE},
        {MFA_WEBAUTHN_EDDSA, SOFTAUTH_ATT_PACKED_SELF},
        {MFA_WEBAUTHN_RS256, SOFTAUTH_ATT_PACKED_SELF},
        {MFA_WEBAUTHN_ES256, SOFTAUTH_ATT_PACKED_SELF},
    };
    char ids[4][MFA_FACTOR_ID_LEN + 1];
    softauth *sa[4];
    mfa_webauthn_info *l = NULL;
    mfa_result r;
    dump d;

    setup(_i);
    for (size_t k = 0; k < 4; k++) {
        char label[16];

        sa[k] = new_auth(kinds[k].alg);
        softauth_set_attestation(sa[k], kinds[k].att);
        snprintf(label, sizeof(label), "key %zu", k);
        register_ok("alice", sa[k], label, ids[k]);
        F.now += 10;
    }
    ck_assert_uint_eq(passkeys("alice", &l), 4);
    for (size_t k = 0; k < 4; k++) {
        char label[16];

        snprintf(label, sizeof(label), "key %zu", k);
        ck_assert_str_eq(l[k].factor_id, ids[k]);
        ck_assert_str_eq(l[k].label, label);
        ck_assert_int_eq(l[k].algorithm, kinds[k].alg);
        ck_assert_int_eq(l[k].attestation_format,
                         kinds[k].att == SOFTAUTH_ATT_NONE
                             ? MFA_WEBAUTHN_FMT_NONE
                             : MFA_WEBAUTHN_FMT_PACKED);
        ck_assert_int_eq(l[k].attestation_trust,
                         kinds[k].att == SOFTAUTH_ATT_NONE
                             ? MFA_WEBAUTHN_TRUST_NONE
                             : MFA_WEBAUTHN_TRUST_SELF);
        ck_assert_uint_eq(l[k].transports, MFA_WEBAUTHN_TRANSPORT_INTERNAL);
        ck_assert_int_eq(l[k].created, T0 + 11 * (int64_t)k);
        ck_assert_int_eq(l[k].last_used, 0);
        ck_assert_uint_eq(l[k].sign_count, 0);
    }
    mfa_free(l);
    /* the other account sees none */
    ck_assert_uint_eq(passkeys("bob", NULL), 0);

    /* each logs in; its count and last use are stored */
    for (size_t k = 0; k < 4; k++) {
        char *resp = assertion("alice", sa[k]);
        char out[MFA_ACCOUNT_MAX + 1];

        F.now += 5;
        ck_assert_int_eq(mfa_webauthn_login_finish(F.ctx, "alice", resp,
                                                   strlen(resp), out, &r),
                         MFA_OK);
        ck_assert_str_eq(r.factor_id, ids[k]);
        ck_assert_str_eq(out, "alice");
        ck_assert_uint_eq(strlen(r.device_token), MFA_DEVICE_TOKEN_LEN);
        ck_assert_int_eq(last_event()->type, MFA_EV_WEBAUTHN_OK);
        ck_assert_str_eq(last_event()->factor_id, ids[k]);
        ck_assert_str_eq(last_event()->account, "alice");
        free(resp);
    }
    ck_assert_uint_eq(passkeys("alice", &l), 4);
    for (size_t k = 0; k < 4; k++) {
        ck_assert_uint_eq(l[k].sign_count, 1);
        ck_assert_int_eq(l[k].last_used, T0 + 44 + 5 * (int64_t)(k + 1));
    }
    mfa_free(l);
    /* a second login, a growing count */
    login_ok("alice", sa[0]);
    dump_of("alice", &d);
    ck_assert_uint_eq(d.w[0].cred.sign_count, 2);
    ck_assert_uint_eq(d.nthr, 0);
    for (size_t k = 0; k < 4; k++)
        softauth_free(&sa[k]);
    teardown();
}
END_TEST

START_TEST(excluded_and_allowed)
{
    softauth *a = new_auth(MFA_WEBAUTHN_ES256),
             *b = new_auth(MFA_WEBAUTHN_EDDSA);
    char *opts = NULL, *o2 = NULL;
    json_object *o, *arr, *uid;
    uint8_t uh1[64], uh2[64];
    size_t n1 = 0, n2 = 0, len;
    const uint8_t *id;

    setup(_i);
    register_ok("alice", a, "a", NULL);
    register_ok("alice", b, "b", NULL);
    /* registration: both in excludeCredentials, the same user handle as
     * the first registration's */
    ck_assert_int_eq(
        mfa_webauthn_register_begin(F.ctx, "alice", "Alice", "Alice A", &opts),
        MFA_OK);
    o = json_tokener_parse(opts);
    ck_assert_ptr_nonnull(o);
    ck_assert(json_object_object_get_ex(o, "excludeCredentials", &arr));
    ck_assert_uint_eq(json_object_array_length(arr), 2);
    for (size_t k = 0; k < 2; k++) {
        json_object *e = json_object_array_get_idx(arr, k), *v;
        uint8_t got[64];
        size_t glen = 0;

        ck_assert(json_object_object_get_ex(e, "id", &v));
        ck_assert_int_eq(
            sodium_base642bin(got, sizeof(got), json_object_get_string(v),
                              strlen(json_object_get_string(v)), NULL, &glen,
                              NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
            0);
        id = softauth_id(k == 0 ? a : b, &len);
        ck_assert_uint_eq(glen, len);
        ck_assert_mem_eq(got, id, len);
    }
    ck_assert(json_object_object_get_ex(o, "user", &uid));
    ck_assert(json_object_object_get_ex(uid, "name", &arr));
    ck_assert_str_eq(json_object_get_string(arr), "Alice");
    ck_assert(json_object_object_get_ex(uid, "id", &arr));
    ck_assert_int_eq(
        sodium_base642bin(uh1, sizeof(uh1), json_object_get_string(arr),
                          strlen(json_object_get_string(arr)), NULL, &n1, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING),
        0);
    json_object_put(o);
    ck_assert_uint_eq(n1, 16);
    /* the handle is random, not the name, and kept */
    ck_assert(memmem(uh1, n1, "alice", 5) == NULL);
    ck_assert_int_eq(mfa_webauthn_register_begin(F.ctx, "bob", NULL, NULL, &o2),
                     MFA_OK);
    o = json_tokener_parse(o2);
    ck_assert(json_object_object_get_ex(o, "user", &uid));
    ck_assert(json_object_object_get_ex(uid, "id", &arr));
    ck_assert_int_eq(
        sodium_base642bin(uh2, sizeof(uh2), json_object_get_string(arr),
                          strlen(json_object_get_string(arr)), NULL, &n2, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING),
        0);
    ck_assert(n1 != n2 || memcmp(uh1, uh2, n1) != 0);
    ck_assert(json_object_object_get_ex(o, "excludeCredentials", &arr));
    ck_assert_uint_eq(json_object_array_length(arr), 0);
    json_object_put(o);
    mfa_free(opts);
    mfa_free(o2);

    /* login: both in allowCredentials; without a name, none */
    ck_assert_int_eq(mfa_webauthn_login_begin(F.ctx, "alice", &opts), MFA_OK);
    o = json_tokener_parse(opts);
    ck_assert(json_object_object_get_ex(o, "allowCredentials", &arr));
    ck_assert_uint_eq(json_object_array_length(arr), 2);
    json_object_put(o);
    mfa_free(opts);
    ck_assert_int_eq(mfa_webauthn_login_begin(F.ctx, NULL, &opts), MFA_OK);
    o = json_tokener_parse(opts);
    ck_assert(json_object_object_get_ex(o, "allowCredentials", &arr));
    ck_assert_uint_eq(json_object_array_length(arr), 0);
    json_object_put(o);
    mfa_free(opts);
    /* an account without passkeys has nothing to allow */
    ck_assert_int_eq(mfa_webauthn_login_begin(F.ctx, "carol", &opts),
                     MFA_ERR_NO_FACTOR);
    ck_assert_ptr_null(opts);
    softauth_free(&a);
    softauth_free(&b);
    teardown();
}
END_TEST

START_TEST(replay_refused)
{
    softauth *sa = new_auth(MFA_WEBAUTHN_ES256);
    char *resp, *reg = NULL, *opts = NULL;
    mfa_result r;

    setup(_i);
    /* registration: the same response twice */
    ck_assert_int_eq(
        mfa_webauthn_register_begin(F.ctx, "alice", NULL, NULL, &opts), MFA_OK);
    ck_assert_int_eq(softauth_register(sa, opts, NULL, ORIGIN, &reg), 0);
    ck_assert_int_eq(
        mfa_webauthn_register_finish(F.ctx, "alice", "k", reg, strlen(reg), &r),
        MFA_OK);
    ck_assert_int_eq(
        mfa_webauthn_register_finish(F.ctx, "alice", "k", reg, strlen(reg), &r),
        MFA_ERR_REPLAYED);
    ck_assert_uint_eq(passkeys("alice", NULL), 1);

    /* login: a captured assertion sent again */
    resp = assertion("alice", sa);
    ck_assert_int_eq(finish("alice", resp, &r), MFA_OK);
    ck_assert_int_eq(finish("alice", resp, &r), MFA_ERR_REPLAYED);
    ck_assert_int_eq(r.outcome, MFA_ERR_REPLAYED);
    ck_assert_uint_eq(r.failures, 1);
    ck_assert_str_eq(r.factor_id, "");
    ck_assert_int_eq(last_event()->type, MFA_EV_REPLAY);
    ck_assert_uint_eq(failures_of("alice"), 1);
    /* even much later, while the challenge has not expired */
    F.now += 200;
    ck_assert_int_eq(finish("alice", resp, &r), MFA_ERR_REPLAYED);
    ck_assert_uint_eq(failures_of("alice"), 2);
    /* a fresh one works and clears the count */
    login_ok("alice", sa);
    ck_assert_uint_eq(failures_of("alice"), 0);
    free(resp);
    /* a synced passkey's count stays 0: the spent challenge alone refuses
     * its assertion sent again */
    {
        softauth *sync = new_auth(MFA_WEBAUTHN_EDDSA);

        softauth_set_sign_count(sync, 0, 0);
        register_ok("alice", sync, "synced", NULL);
        resp = assertion("alice", sync);
        ck_assert_int_eq(finish("alice", resp, &r), MFA_OK);
        ck_assert_int_eq(finish("alice", resp, &r), MFA_ERR_REPLAYED);
        free(resp);
        login_ok("alice", sync);
        softauth_free(&sync);
    }
    free(reg);
    mfa_free(opts);
    softauth_free(&sa);
    teardown();
}
END_TEST

START_TEST(expired_challenge)
{
    softauth *sa = new_auth(MFA_WEBAUTHN_EDDSA);
    char *opts = NULL, *resp = NULL;
    mfa_result r;

    setup(_i);
    ck_assert_int_eq(mfa_webauthn_rp_set_timeout(F.rp, 60500), MFA_OK);
    /* registration past the lifetime (61 s: 60.5 rounded up) */
    ck_assert_int_eq(
        mfa_webauthn_register_begin(F.ctx, "alice", NULL, NULL, &opts), MFA_OK);
    ck_assert_int_eq(softauth_register(sa, opts, NULL, ORIGIN, &resp), 0);
    F.now += 62;
    ck_assert_int_eq(mfa_webauthn_register_finish(F.ctx, "alice", NULL, resp,
                                                  strlen(resp), &r),
                     MFA_ERR_EXPIRED);
    ck_assert_uint_eq(passkeys("alice", NULL), 0);
    mfa_free(opts);
    free(resp);
    /* at the last second it still counts */
    ck_assert_int_eq(
        mfa_webauthn_register_begin(F.ctx, "alice", NULL, NULL, &opts), MFA_OK);
    ck_assert_int_eq(softauth_register(sa, opts, NULL, ORIGIN, &resp), 0);
    F.now += 61;
    ck_assert_int_eq(mfa_webauthn_register_finish(F.ctx, "alice", NULL, resp,
                                                  strlen(resp), &r),
                     MFA_OK);
    mfa_free(opts);
    free(resp);

    resp = assertion("alice", sa);
    F.now += 62;
    ck_assert_int_eq(finish("alice", resp, &r), MFA_ERR_EXPIRED);
    ck_assert_int_eq(last_event()->type, MFA_EV_WEBAUTHN_FAIL);
    ck_assert_int_eq(last_event()->rc, MFA_ERR_EXPIRED);
    /* nothing to compare with and no failure on record: not counted (the
     * rule of expired codes, lib/rules.c) */
    ck_assert_uint_eq(failures_of("alice"), 0);
    free(resp);
    /* with a failure on record it is counted like any other */
    softauth_set_tamper(sa, SOFTAUTH_TAMPER_SIGNATURE);
    resp = assertion("alice", sa);
    ck_assert_int_eq(finish("alice", resp, &r), MFA_ERR_WEBAUTHN_SIGNATURE);
    free(resp);
    softauth_set_tamper(sa, 0);
    resp = assertion("alice", sa);
    F.now += 62;
    ck_assert_int_eq(finish("alice", resp, &r), MFA_ERR_EXPIRED);
    ck_assert_uint_eq(r.failures, 2);
    ck_assert_uint_eq(failures_of("alice"), 2);
    free(resp);
    login_ok("alice", sa);
    softauth_free(&sa);
    teardown();
}
END_TEST

/* A response to challenge ch made by sa for the login (or registration). */
static char *
answer(softauth *sa, int reg, const uint8_t *ch, size_t len)
{
    char *resp = NULL;

    if (reg)
        ck_assert_int_eq(
            softauth_register_raw(sa, RP_ID, ORIGIN, ch, len, &resp), 0);
    else
        ck_assert_int_eq(softauth_assert_raw(sa, RP_ID, ORIGIN, ch, len, &resp),
                         0);
    return resp;
}

/* Refused before the store: nothing counted or written. */
static void
refused_clean(const char *account, const char *resp, mfa_rc want)
{
    mfa_result r;
    dump before, after;
    size_t nev = F.nev;

    dump_of("alice", &before);
    fault_store_arm(F.fs, 0, MFA_OK);
    ck_assert_int_eq(
        mfa_webauthn_login_finish(F.ctx, account, resp, strlen(resp), NULL, &r),
        want);
    ck_assert_int_eq(r.outcome, want);
    ck_assert_uint_eq(r.failures, 0);
    ck_assert_uint_eq(r.retry_after, 0);
    ck_assert_uint_eq(fault_store_calls(F.fs), 0); /* the store untouched */
    dump_of("alice", &after);
    assert_dump_eq(&before, &after);
    ck_assert_uint_eq(F.nev, nev + 1);
    ck_assert_int_eq(last_event()->type, MFA_EV_WEBAUTHN_FAIL);
    ck_assert_int_eq(last_event()->rc, want);
}

START_TEST(foreign_challenges)
{
    softauth *sa = new_auth(MFA_WEBAUTHN_ES256);
    uint8_t ch[MFA_WEBAUTHN_FLOW_CHALLENGE_LEN], other[64];
    char *opts = NULL, *resp;
    mfa_result r;

    setup(_i);
    register_ok("alice", sa, "k", NULL);
    {
        softauth *b = new_auth(MFA_WEBAUTHN_EDDSA);

        register_ok("bob", b, "k", NULL);
        softauth_free(&b);
    }
    /* two failures on record, so that a count would show */
    for (int k = 0; k < 2; k++) {
        softauth_set_tamper(sa, SOFTAUTH_TAMPER_SIGNATURE);
        resp = assertion("alice", sa);
        ck_assert_int_eq(finish("alice", resp, &r), MFA_ERR_WEBAUTHN_SIGNATURE);
        free(resp);
    }
    softauth_set_tamper(sa, 0);
    ck_assert_uint_eq(failures_of("alice"), 2);

    /* bob's login challenge */
    ck_assert_int_eq(mfa_webauthn_login_begin(F.ctx, "bob", &opts), MFA_OK);
    challenge_of(opts, ch);
    mfa_free(opts);
    resp = answer(sa, 0, ch, sizeof(ch));
    refused_clean("alice", resp, MFA_ERR_WEBAUTHN_CHALLENGE);
    free(resp);
    /* alice's registration challenge (another kind) */
    ck_assert_int_eq(
        mfa_webauthn_register_begin(F.ctx, "alice", NULL, NULL, &opts), MFA_OK);
    challenge_of(opts, ch);
    mfa_free(opts);
    resp = answer(sa, 0, ch, sizeof(ch));
    refused_clean("alice", resp, MFA_ERR_WEBAUTHN_CHALLENGE);
    free(resp);
    /* a challenge of a login without a name, sent with the name */
    ck_assert_int_eq(mfa_webauthn_login_begin(F.ctx, NULL, &opts), MFA_OK);
    challenge_of(opts, ch);
    mfa_free(opts);
    resp = answer(sa, 0, ch, sizeof(ch));
    refused_clean("alice", resp, MFA_ERR_WEBAUTHN_CHALLENGE);
    free(resp);
    /* alice's own login challenge, each byte changed in turn (the tag
     * covers the kind, key id, expiry and nonce; the tag itself) */
    ck_assert_int_eq(mfa_webauthn_login_begin(F.ctx, "alice", &opts), MFA_OK);
    challenge_of(opts, ch);
    for (size_t k = 0; k < sizeof(ch); k++) {
        ch[k] ^= 0x20;
        resp = answer(sa, 0, ch, sizeof(ch));
        refused_clean("alice", resp, MFA_ERR_WEBAUTHN_CHALLENGE);
        free(resp);
        ch[k] ^= 0x20;
    }
    /* shorter, longer, random */
    resp = answer(sa, 0, ch, sizeof(ch) - 1);
    refused_clean("alice", resp, MFA_ERR_WEBAUTHN_CHALLENGE);
    free(resp);
    memcpy(other, ch, sizeof(ch));
    other[sizeof(ch)] = 0;
    resp = answer(sa, 0, other, sizeof(ch) + 1);
    refused_clean("alice", resp, MFA_ERR_WEBAUTHN_CHALLENGE);
    free(resp);
    randombytes_buf(other, sizeof(other));
    resp = answer(sa, 0, other, sizeof(ch));
    refused_clean("alice", resp, MFA_ERR_WEBAUTHN_CHALLENGE);
    free(resp);
    /* a login response to a registration, and the other way round */
    softauth_set_tamper(sa, SOFTAUTH_TAMPER_TYPE);
    resp = answer(sa, 0, ch, sizeof(ch));
    refused_clean("alice", resp, MFA_ERR_WEBAUTHN_TYPE);
    free(resp);
    softauth_set_tamper(sa, 0);
    /* a ring without the challenge's key: not ours any more */
    {
        mfa_keyring_t *kr2 = NULL;
        mfa_ctx_t *c2 = NULL;
        uint32_t id;

        ck_assert_int_eq(mfa_keyring_new(&kr2), MFA_OK);
        ck_assert_int_eq(mfa_keyring_generate(kr2, &id), MFA_OK);
        ck_assert_int_eq(mfa_ctx_new(&c2, F.store, kr2), MFA_OK);
        mfa_ctx_set_clock(c2, fake_clock, NULL);
        ck_assert_int_eq(mfa_ctx_set_webauthn(c2, F.rp), MFA_OK);
        resp = answer(sa, 0, ch, sizeof(ch));
        fault_store_arm(F.fs, 0, MFA_OK);
        ck_assert_int_eq(mfa_webauthn_login_finish(c2, "alice", resp,
                                                   strlen(resp), NULL, &r),
                         MFA_ERR_WEBAUTHN_CHALLENGE);
        ck_assert_uint_eq(fault_store_calls(F.fs), 0);
        free(resp);
        mfa_ctx_free(&c2);
        mfa_keyring_free(&kr2);
    }
    ck_assert_uint_eq(failures_of("alice"), 2);
    /* untouched by all that: the real challenge still logs in */
    resp = answer(sa, 0, ch, sizeof(ch));
    ck_assert_int_eq(finish("alice", resp, &r), MFA_OK);
    free(resp);
    mfa_free(opts);

    /* registration: bob's challenge for alice */
    ck_assert_int_eq(
        mfa_webauthn_register_begin(F.ctx, "bob", NULL, NULL, &opts), MFA_OK);
    challenge_of(opts, ch);
    mfa_free(opts);
    {
        softauth *n = new_auth(MFA_WEBAUTHN_ES256);

        resp = answer(n, 1, ch, sizeof(ch));
        ck_assert_int_eq(mfa_webauthn_register_finish(F.ctx, "alice", NULL,
                                                      resp, strlen(resp), &r),
                         MFA_ERR_WEBAUTHN_CHALLENGE);
        free(resp);
        softauth_free(&n);
    }
    ck_assert_uint_eq(passkeys("alice", NULL), 1);
    softauth_free(&sa);
    teardown();
}
END_TEST

START_TEST(malformed_responses)
{
    static const char *const bad[] = {
        "",
        "{",
        "[]",
        "null",
        "{\"id\":\"AAAA\"}",
        "{\"type\":\"public-key\",\"id\":\"AAAAAAAAAAAAAAAAAAAAAA\","
        "\"rawId\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"response\":{}}",
        "{\"type\":\"public-key\",\"id\":\"AAAAAAAAAAAAAAAAAAAAAA\","
        "\"rawId\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"response\":{"
        "\"clientDataJSON\":\"e30\",\"authenticatorData\":\"AAAA\","
        "\"signature\":\"AAAA\"}}",
    };
    softauth *sa = new_auth(MFA_WEBAUTHN_ES256);
    char *good, *cut;
    mfa_result r;

    setup(_i);
    register_ok("alice", sa, "k", NULL);
    good = assertion("alice", sa);
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        dump before, after;

        dump_of("alice", &before);
        fault_store_arm(F.fs, 0, MFA_OK);
        ck_assert_int_lt(finish("alice", bad[k], &r), 0);
        ck_assert_uint_eq(fault_store_calls(F.fs), 0);
        ck_assert_uint_eq(r.failures, 0);
        dump_of("alice", &after);
        assert_dump_eq(&before, &after);
    }
    /* the good one cut short anywhere */
    cut = strdup(good);
    for (size_t n = 1; n < strlen(good); n += 7) {
        dump before, after;
        mfa_rc rc;

        dump_of("alice", &before);
        fault_store_arm(F.fs, 0, MFA_OK);
        rc = mfa_webauthn_login_finish(F.ctx, "alice", good, n, NULL, &r);
        ck_assert_int_lt(rc, 0);
        ck_assert_uint_eq(fault_store_calls(F.fs), 0);
        dump_of("alice", &after);
        assert_dump_eq(&before, &after);
    }
    free(cut);
    /* too large */
    {
        size_t n = MFA_WEBAUTHN_JSON_MAX + 1;
        char *big = malloc(n + 1);

        memset(big, ' ', n);
        big[n] = '\0';
        ck_assert_int_eq(finish("alice", big, &r), MFA_ERR_WEBAUTHN_TOO_LARGE);
        free(big);
    }
    /* bad arguments */
    ck_assert_int_eq(
        mfa_webauthn_login_finish(F.ctx, "alice", NULL, 0, NULL, &r),
        MFA_ERR_INVALID);
    ck_assert_int_eq(
        mfa_webauthn_login_finish(F.ctx, NULL, good, strlen(good), NULL, &r),
        MFA_ERR_INVALID);
    ck_assert_int_eq(
        mfa_webauthn_login_finish(NULL, "alice", good, strlen(good), NULL, &r),
        MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_webauthn_login_finish(F.ctx, "al\nice", good,
                                               strlen(good), NULL, &r),
                     MFA_ERR_CONTROL_CHAR);
    ck_assert_uint_eq(failures_of("alice"), 0);
    /* and the good one still logs in */
    ck_assert_int_eq(finish("alice", good, &r), MFA_OK);
    free(good);

    /* registration: malformed, nothing written */
    {
        dump before, after;

        dump_of("alice", &before);
        for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
            ck_assert_int_lt(mfa_webauthn_register_finish(F.ctx, "alice", NULL,
                                                          bad[k],
                                                          strlen(bad[k]), &r),
                             0);
        ck_assert_int_eq(
            mfa_webauthn_register_finish(F.ctx, "alice", "a\tb", "{}", 2, &r),
            MFA_ERR_CONTROL_CHAR);
        dump_of("alice", &after);
        assert_dump_eq(&before, &after);
    }
    softauth_free(&sa);
    teardown();
}
END_TEST

/* Refusals that are counted attempts. */
START_TEST(tampered_counted)
{
    softauth *sa = new_auth(MFA_WEBAUTHN_ES256);
    char *opts = NULL, *resp = NULL;
    uint8_t ch[MFA_WEBAUTHN_FLOW_CHALLENGE_LEN];
    mfa_throttle_policy p = {100, 30, 3600};
    uint32_t want = 0;
    mfa_result r;

    setup(_i);
    ck_assert_int_eq(mfa_ctx_set_throttle(F.ctx, &p), MFA_OK);
    register_ok("alice", sa, "k", NULL);

#define COUNTED(resp_, rc_)                                                    \
    do {                                                                       \
        ck_assert_int_eq(finish("alice", (resp_), &r), (rc_));                 \
        ck_assert_uint_eq(r.failures, ++want);                                 \
        ck_assert_uint_eq(failures_of("alice"), want);                         \
        ck_assert_int_eq(last_event()->type, MFA_EV_WEBAUTHN_FAIL);            \
        ck_assert_int_eq(last_event()->rc, (rc_));                             \
        ck_assert_str_eq(last_event()->account, "alice");                      \
    } while (0)

    ck_assert_int_eq(mfa_webauthn_login_begin(F.ctx, "alice", &opts), MFA_OK);
    challenge_of(opts, ch);
    /* another origin */
    ck_assert_int_eq(
        softauth_assert_raw(sa, RP_ID, "https://evil.example", ch, 45, &resp),
        0);
    COUNTED(resp, MFA_ERR_WEBAUTHN_ORIGIN);
    free(resp);
    /* another rp id (the origin allowed) */
    ck_assert_int_eq(
        softauth_assert_raw(sa, "evil.example", ORIGIN, ch, 45, &resp), 0);
    COUNTED(resp, MFA_ERR_WEBAUTHN_RP_ID);
    free(resp);
    /* a flipped bit of the signature */
    softauth_set_tamper(sa, SOFTAUTH_TAMPER_SIGNATURE);
    resp = answer(sa, 0, ch, sizeof(ch));
    COUNTED(resp, MFA_ERR_WEBAUTHN_SIGNATURE);
    free(resp);
    /* made in a cross-origin frame */
    softauth_set_tamper(sa, SOFTAUTH_TAMPER_CROSS_ORIGIN);
    resp = answer(sa, 0, ch, sizeof(ch));
    COUNTED(resp, MFA_ERR_WEBAUTHN_CROSS_ORIGIN);
    free(resp);
    softauth_set_tamper(sa, 0);
    /* no user presence */
    softauth_set_flags(sa, MFA_WEBAUTHN_FLAG_UV);
    resp = answer(sa, 0, ch, sizeof(ch));
    COUNTED(resp, MFA_ERR_WEBAUTHN_USER_PRESENCE);
    free(resp);
    /* UV missing while the rp requires it */
    ck_assert_int_eq(
        mfa_webauthn_rp_set_user_verification(F.rp, MFA_WEBAUTHN_UV_REQUIRED),
        MFA_OK);
    softauth_set_flags(sa, MFA_WEBAUTHN_FLAG_UP);
    resp = answer(sa, 0, ch, sizeof(ch));
    COUNTED(resp, MFA_ERR_WEBAUTHN_USER_VERIFICATION);
    free(resp);
    softauth_set_flags(sa, MFA_WEBAUTHN_FLAG_UP | MFA_WEBAUTHN_FLAG_UV);
    /* a credential the account does not have */
    {
        softauth *x = new_auth(MFA_WEBAUTHN_ES256);
        uint8_t uh[16];

        randombytes_buf(uh, sizeof(uh));
        softauth_set_user_handle(x, uh, sizeof(uh));
        resp = answer(x, 0, ch, sizeof(ch));
        COUNTED(resp, MFA_ERR_WEBAUTHN_UNKNOWN_CREDENTIAL);
        free(resp);
        /* the right id with another key */
        {
            size_t len;
            const uint8_t *id = softauth_id(sa, &len);

            softauth_set_id(x, id, len);
            resp = answer(x, 0, ch, sizeof(ch));
            COUNTED(resp, MFA_ERR_WEBAUTHN_SIGNATURE);
            free(resp);
        }
        softauth_free(&x);
    }
    /* another user handle */
    {
        uint8_t uh[16] = {1, 2, 3};
        char *good = NULL;

        ck_assert_int_eq(softauth_set_user_handle(sa, uh, sizeof(uh)), 0);
        resp = answer(sa, 0, ch, sizeof(ch));
        COUNTED(resp, MFA_ERR_WEBAUTHN_USER_HANDLE);
        free(resp);
        (void)good;
    }
#undef COUNTED
    /* none of these spent the challenge: the right answer is taken (the
     * user handle left out, as a security key does) */
    softauth_send_user_handle(sa, 0);
    resp = answer(sa, 0, ch, sizeof(ch));
    ck_assert_int_eq(finish("alice", resp, &r), MFA_OK);
    ck_assert_uint_eq(failures_of("alice"), 0);
    free(resp);
    mfa_free(opts);
    softauth_free(&sa);
    teardown();
}
END_TEST

START_TEST(throttle_and_known_device)
{
    softauth *sa = new_auth(MFA_WEBAUTHN_EDDSA);
    mfa_throttle_policy p = {3, 60, 3600};
    char token[MFA_DEVICE_TOKEN_BUFSIZE];
    mfa_device_opts dev = {NULL, "laptop", 0};
    char *resp;
    mfa_result r;

    setup(_i);
    ck_assert_int_eq(mfa_ctx_set_throttle(F.ctx, &p), MFA_OK);
    register_ok("alice", sa, "k", NULL);
    /* a login from the user's device gives it a token */
    resp = assertion("alice", sa);
    ck_assert_int_eq(mfa_webauthn_login_finish_device(
                         F.ctx, "alice", resp, strlen(resp), &dev, NULL, &r),
                     MFA_OK);
    ck_assert_uint_eq(strlen(r.device_token), MFA_DEVICE_TOKEN_LEN);
    memcpy(token, r.device_token, sizeof(token));
    free(resp);

    /* an attacker's wrong signatures from elsewhere */
    softauth_set_tamper(sa, SOFTAUTH_TAMPER_SIGNATURE);
    for (int k = 1; k <= 4; k++) {
        resp = assertion("alice", sa);
        ck_assert_int_eq(finish("alice", resp, &r), MFA_ERR_WEBAUTHN_SIGNATURE);
        ck_assert_uint_eq(r.failures, (uint32_t)k);
        free(resp);
    }
    ck_assert_uint_gt(r.retry_after, 0);
    softauth_set_tamper(sa, 0);
    /* locked: the right passkey from an unknown device waits too */
    resp = assertion("alice", sa);
    ck_assert_int_eq(finish("alice", resp, &r), MFA_ERR_THROTTLED);
    ck_assert_int_eq(last_event()->type, MFA_EV_THROTTLED);
    ck_assert_uint_gt(r.retry_after, 0);
    free(resp);
    /* the known device has a bucket of its own */
    dev.token = token;
    resp = assertion("alice", sa);
    ck_assert_int_eq(mfa_webauthn_login_finish_device(
                         F.ctx, "alice", resp, strlen(resp), &dev, NULL, &r),
                     MFA_OK);
    ck_assert_uint_eq(strlen(r.device_token), MFA_DEVICE_TOKEN_LEN);
    ck_assert_str_ne(r.device_token, token); /* rotated */
    free(resp);
    /* a token of no device of the account: refused, nothing counted */
    {
        dump before, after;

        dump_of("alice", &before);
        dev.token =
            "0123456789abcdef.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        resp = assertion("alice", sa);
        ck_assert_int_eq(mfa_webauthn_login_finish_device(F.ctx, "alice", resp,
                                                          strlen(resp), &dev,
                                                          NULL, &r),
                         MFA_ERR_DEVICE_UNKNOWN);
        dump_of("alice", &after);
        assert_dump_eq(&before, &after);
        free(resp);
        dev.token = "not a token";
        resp = assertion("alice", sa);
        ck_assert_int_eq(mfa_webauthn_login_finish_device(F.ctx, "alice", resp,
                                                          strlen(resp), &dev,
                                                          NULL, &r),
                         MFA_ERR_DEVICE_FORMAT);
        free(resp);
    }
    /* the lock ends */
    F.now += 3600;
    login_ok("alice", sa);
    ck_assert_uint_eq(failures_of("alice"), 0);
    softauth_free(&sa);
    teardown();
}
END_TEST

START_TEST(cloned_authenticator)
{
    softauth *sa = new_auth(MFA_WEBAUTHN_ES256), *sync;
    char id[MFA_FACTOR_ID_LEN + 1], sid[MFA_FACTOR_ID_LEN + 1];
    mfa_webauthn_info *l = NULL;
    char *resp;
    mfa_result r;

    setup(_i);
    register_ok("alice", sa, "k", id);
    softauth_set_sign_count(sa, 7, 1);
    login_ok("alice", sa); /* 7 */
    login_ok("alice", sa); /* 8 */
    /* a copy of the key whose count is behind */
    softauth_set_sign_count(sa, 8, 1);
    resp = assertion("alice", sa);
    ck_assert_int_eq(finish("alice", resp, &r), MFA_ERR_WEBAUTHN_CLONED);
    ck_assert_int_eq(last_event()->type, MFA_EV_WEBAUTHN_CLONED);
    ck_assert_str_eq(last_event()->factor_id, id);
    ck_assert_uint_eq(r.failures, 1);
    free(resp);
    softauth_set_sign_count(sa, 3, 1);
    resp = assertion("alice", sa);
    ck_assert_int_eq(finish("alice", resp, &r), MFA_ERR_WEBAUTHN_CLONED);
    free(resp);
    /* a count of 0 after counting is a clone too */
    softauth_set_sign_count(sa, 0, 0);
    resp = assertion("alice", sa);
    ck_assert_int_eq(finish("alice", resp, &r), MFA_ERR_WEBAUTHN_CLONED);
    free(resp);
    /* the credential is kept, with its count */
    ck_assert_uint_eq(passkeys("alice", &l), 1);
    ck_assert_uint_eq(l[0].sign_count, 8);
    mfa_free(l);
    softauth_set_sign_count(sa, 9, 1);
    login_ok("alice", sa);

    /* a synced passkey keeps 0 forever */
    sync = new_auth(MFA_WEBAUTHN_EDDSA);
    softauth_set_flags(sync, MFA_WEBAUTHN_FLAG_UP | MFA_WEBAUTHN_FLAG_UV |
                                 MFA_WEBAUTHN_FLAG_BE | MFA_WEBAUTHN_FLAG_BS);
    softauth_set_sign_count(sync, 0, 0);
    register_ok("alice", sync, "synced", sid);
    login_ok("alice", sync);
    login_ok("alice", sync);
    ck_assert_uint_eq(passkeys("alice", &l), 2);
    ck_assert_str_eq(l[1].factor_id, sid);
    ck_assert_uint_eq(l[1].sign_count, 0);
    ck_assert(l[1].flags & MFA_WEBAUTHN_FLAG_BE);
    mfa_free(l);
    softauth_free(&sa);
    softauth_free(&sync);
    teardown();
}
END_TEST

START_TEST(discoverable_login)
{
    softauth *a = new_auth(MFA_WEBAUTHN_ES256),
             *b = new_auth(MFA_WEBAUTHN_RS256);
    char out[MFA_ACCOUNT_MAX + 1];
    char ida[MFA_FACTOR_ID_LEN + 1], idb[MFA_FACTOR_ID_LEN + 1];
    mfa_result r;
    char *resp;

    setup(_i);
    register_ok("alice", a, "a", ida);
    register_ok("bob", b, "b", idb);
    /* no name typed: the user handle names the account */
    resp = assertion(NULL, a);
    fault_store_arm(F.fs, 0, MFA_OK);
    ck_assert_int_eq(
        mfa_webauthn_login_finish(F.ctx, NULL, resp, strlen(resp), out, &r),
        MFA_OK);
    ck_assert_str_eq(out, "alice");
    ck_assert_str_eq(r.factor_id, ida);
    ck_assert_str_eq(last_event()->account, "alice");
    free(resp);
    resp = assertion(NULL, b);
    ck_assert_int_eq(
        mfa_webauthn_login_finish(F.ctx, NULL, resp, strlen(resp), out, &r),
        MFA_OK);
    ck_assert_str_eq(out, "bob");
    ck_assert_str_eq(r.factor_id, idb);
    /* sent again */
    ck_assert_int_eq(
        mfa_webauthn_login_finish(F.ctx, NULL, resp, strlen(resp), out, &r),
        MFA_ERR_REPLAYED);
    ck_assert_str_eq(out, "");
    ck_assert_uint_eq(failures_of("bob"), 1);
    free(resp);
    /* the begin wrote nothing, and the challenge is for no name only */
    {
        char *opts = NULL;
        uint8_t ch[MFA_WEBAUTHN_FLOW_CHALLENGE_LEN];

        fault_store_arm(F.fs, 0, MFA_OK);
        ck_assert_int_eq(mfa_webauthn_login_begin(F.ctx, NULL, &opts), MFA_OK);
        ck_assert_uint_eq(fault_store_calls(F.fs), 0);
        challenge_of(opts, ch);
        mfa_free(opts);
        resp = answer(a, 0, ch, sizeof(ch));
        refused_clean("alice", resp, MFA_ERR_WEBAUTHN_CHALLENGE);
        /* and alice's login challenge is not one without a name */
        free(resp);
        ck_assert_int_eq(mfa_webauthn_login_begin(F.ctx, "alice", &opts),
                         MFA_OK);
        challenge_of(opts, ch);
        mfa_free(opts);
        resp = answer(a, 0, ch, sizeof(ch));
        ck_assert_int_eq(
            mfa_webauthn_login_finish(F.ctx, NULL, resp, strlen(resp), out, &r),
            MFA_ERR_WEBAUTHN_CHALLENGE);
        free(resp);
    }
    /* without a user handle there is no account to find */
    softauth_send_user_handle(a, 0);
    resp = assertion(NULL, a);
    ck_assert_int_eq(
        mfa_webauthn_login_finish(F.ctx, NULL, resp, strlen(resp), out, &r),
        MFA_ERR_WEBAUTHN_USER_HANDLE);
    free(resp);
    /* a handle of nobody */
    {
        uint8_t uh[16];

        randombytes_buf(uh, sizeof(uh));
        softauth_set_user_handle(a, uh, sizeof(uh));
        softauth_send_user_handle(a, 1);
        resp = assertion(NULL, a);
        ck_assert_int_eq(
            mfa_webauthn_login_finish(F.ctx, NULL, resp, strlen(resp), out, &r),
            MFA_ERR_WEBAUTHN_UNKNOWN_CREDENTIAL);
        free(resp);
    }
    /* bob's handle with alice's passkey: bob has no such credential */
    {
        softauth *x = new_auth(MFA_WEBAUTHN_ES256);
        char *opts = NULL;

        ck_assert_int_eq(
            mfa_webauthn_register_begin(F.ctx, "bob", NULL, NULL, &opts),
            MFA_OK);
        ck_assert_int_eq(softauth_register(x, opts, NULL, ORIGIN, &resp), 0);
        free(resp);
        mfa_free(opts);
        {
            size_t len;
            const uint8_t *id = softauth_id(a, &len);
            softauth_set_id(x, id, len); /* alice's id, bob's handle */
        }
        resp = assertion(NULL, x);
        ck_assert_int_eq(
            mfa_webauthn_login_finish(F.ctx, NULL, resp, strlen(resp), out, &r),
            MFA_ERR_WEBAUTHN_UNKNOWN_CREDENTIAL);
        ck_assert_uint_eq(failures_of("bob"), 2);
        free(resp);
        softauth_free(&x);
    }
    /* account_out is needed without a name */
    resp = assertion(NULL, b);
    ck_assert_int_eq(
        mfa_webauthn_login_finish(F.ctx, NULL, resp, strlen(resp), NULL, &r),
        MFA_ERR_INVALID);
    free(resp);
    softauth_free(&a);
    softauth_free(&b);
    teardown();
}
END_TEST

START_TEST(rename_remove_reset)
{
    softauth *a = new_auth(MFA_WEBAUTHN_ES256),
             *b = new_auth(MFA_WEBAUTHN_EDDSA);
    char ida[MFA_FACTOR_ID_LEN + 1], idb[MFA_FACTOR_ID_LEN + 1];
    mfa_webauthn_info *l = NULL;
    char *old, *resp, *opts = NULL;
    dump d;
    int has = -1;
    mfa_result r;

    setup(_i);
    ck_assert_int_eq(mfa_account_has_mfa(F.ctx, "alice", &has), MFA_OK);
    ck_assert_int_eq(has, 0);
    register_ok("alice", a, "a", ida);
    register_ok("alice", b, "b", idb);
    /* passkeys only: the account has MFA */
    ck_assert_int_eq(mfa_account_has_mfa(F.ctx, "alice", &has), MFA_OK);
    ck_assert_int_eq(has, 1);
    ck_assert_int_eq(mfa_account_has_mfa(F.ctx, "bob", &has), MFA_OK);
    ck_assert_int_eq(has, 0);

    ck_assert_int_eq(mfa_factor_rename(F.ctx, "alice", ida, "YubiKey 5"),
                     MFA_OK);
    ck_assert_int_eq(last_event()->type, MFA_EV_FACTOR_RENAME);
    ck_assert_int_eq(last_event()->rc, MFA_OK);
    ck_assert_uint_eq(passkeys("alice", &l), 2);
    ck_assert_str_eq(l[0].label, "YubiKey 5");
    ck_assert_str_eq(l[1].label, "b");
    mfa_free(l);
    ck_assert_int_eq(mfa_factor_rename(F.ctx, "bob", ida, "x"),
                     MFA_ERR_NOT_FOUND);
    ck_assert_int_eq(mfa_factor_rename(F.ctx, "alice", ida, "bad\x01"),
                     MFA_ERR_CONTROL_CHAR);
    ck_assert_int_eq(mfa_factor_rename(F.ctx, "alice", "0123456789abcdef", "x"),
                     MFA_ERR_NOT_FOUND);
    login_ok("alice", a);

    /* removed: refused, the other one still works */
    old = assertion("alice", a);
    ck_assert_int_eq(mfa_factor_remove(F.ctx, "bob", ida), MFA_ERR_NOT_FOUND);
    ck_assert_int_eq(mfa_factor_remove(F.ctx, "alice", ida), MFA_OK);
    ck_assert_int_eq(last_event()->type, MFA_EV_FACTOR_REMOVE);
    ck_assert_str_eq(last_event()->factor_id, ida);
    ck_assert_int_eq(mfa_factor_remove(F.ctx, "alice", ida), MFA_ERR_NOT_FOUND);
    ck_assert_int_eq(finish("alice", old, &r),
                     MFA_ERR_WEBAUTHN_UNKNOWN_CREDENTIAL);
    free(old);
    resp = assertion("alice", a);
    ck_assert_int_eq(finish("alice", resp, &r),
                     MFA_ERR_WEBAUTHN_UNKNOWN_CREDENTIAL);
    free(resp);
    login_ok("alice", b);
    ck_assert_uint_eq(passkeys("alice", NULL), 1);
    /* the last one removed: no factor, no MFA */
    old = assertion("alice", b);
    ck_assert_int_eq(mfa_factor_remove(F.ctx, "alice", idb), MFA_OK);
    ck_assert_int_eq(finish("alice", old, &r), MFA_ERR_NO_FACTOR);
    free(old);
    ck_assert_int_eq(mfa_account_has_mfa(F.ctx, "alice", &has), MFA_OK);
    ck_assert_int_eq(has, 0);
    ck_assert_int_eq(mfa_webauthn_login_begin(F.ctx, "alice", &opts),
                     MFA_ERR_NO_FACTOR);

    /* reset: passkeys and the user handle go */
    register_ok("alice", a, "a", ida);
    dump_of("alice", &d);
    ck_assert_int_eq(d.handle_rc, MFA_OK);
    old = assertion(NULL, a);
    ck_assert_int_eq(mfa_reset(F.ctx, "alice"), MFA_OK);
    dump_of("alice", &d);
    ck_assert_uint_eq(d.nw, 0);
    ck_assert_int_eq(d.handle_rc, MFA_ERR_NOT_FOUND);
    ck_assert_int_eq(mfa_account_has_mfa(F.ctx, "alice", &has), MFA_OK);
    ck_assert_int_eq(has, 0);
    {
        char out[MFA_ACCOUNT_MAX + 1];

        ck_assert_int_eq(
            mfa_webauthn_login_finish(F.ctx, NULL, old, strlen(old), out, &r),
            MFA_ERR_WEBAUTHN_UNKNOWN_CREDENTIAL);
    }
    free(old);
    /* a registration begun before the reset cannot finish after it */
    ck_assert_int_eq(
        mfa_webauthn_register_begin(F.ctx, "alice", NULL, NULL, &opts), MFA_OK);
    ck_assert_int_eq(softauth_register(b, opts, NULL, ORIGIN, &resp), 0);
    ck_assert_int_eq(mfa_reset(F.ctx, "alice"), MFA_OK);
    ck_assert_int_eq(mfa_webauthn_register_finish(F.ctx, "alice", NULL, resp,
                                                  strlen(resp), &r),
                     MFA_ERR_STATE);
    ck_assert_uint_eq(passkeys("alice", NULL), 0);
    free(resp);
    mfa_free(opts);
    softauth_free(&a);
    softauth_free(&b);
    teardown();
}
END_TEST

START_TEST(passkeys_and_totp)
{
    softauth *sa = new_auth(MFA_WEBAUTHN_ES256);
    mfa_enrollment_t *e = NULL;
    mfa_uri_t *u = NULL;
    mfa_otp_t *o = NULL;
    mfa_factor_info *fl = NULL;
    char c[MFA_CODE_BUFSIZE], pid[MFA_FACTOR_ID_LEN + 1];
    char tid[MFA_FACTOR_ID_LEN + 1];
    size_t n = 0;
    int has = 0;
    mfa_result r;

    setup(_i);
    ck_assert_int_eq(mfa_enroll_begin(F.ctx, "alice", "phone", NULL, &e),
                     MFA_OK);
    snprintf(tid, sizeof(tid), "%s", mfa_enrollment_factor_id(e));
    ck_assert_int_eq(mfa_uri_parse(mfa_enrollment_uri(e), &u, NULL), MFA_OK);
    ck_assert_int_eq(mfa_uri_to_otp(u, &o), MFA_OK);
    ck_assert_int_eq(mfa_otp_totp(o, F.now, c, sizeof(c)), MFA_OK);
    ck_assert_int_eq(mfa_enroll_confirm(F.ctx, "alice", tid, c, &r), MFA_OK);
    register_ok("alice", sa, "key", pid);
    ck_assert_str_ne(pid, tid);
    /* the factor list holds the app; the passkey list the passkey */
    ck_assert_int_eq(mfa_factors_list(F.ctx, "alice", &fl, &n), MFA_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(fl[0].id, tid);
    mfa_free(fl);
    ck_assert_uint_eq(passkeys("alice", NULL), 1);
    /* both log in; a failure of one is counted for the account */
    F.now += 30;
    ck_assert_int_eq(mfa_otp_totp(o, F.now, c, sizeof(c)), MFA_OK);
    ck_assert_int_eq(mfa_verify(F.ctx, "alice", c, &r), MFA_OK);
    ck_assert_str_eq(r.factor_id, tid);
    login_ok("alice", sa);
    softauth_set_tamper(sa, SOFTAUTH_TAMPER_SIGNATURE);
    {
        char *resp = assertion("alice", sa);
        ck_assert_int_eq(finish("alice", resp, &r), MFA_ERR_WEBAUTHN_SIGNATURE);
        free(resp);
    }
    softauth_set_tamper(sa, 0);
    ck_assert_int_eq(mfa_verify(F.ctx, "alice", "000000", &r) != MFA_OK, 1);
    ck_assert_uint_eq(r.failures, 2);
    /* the app removed, the passkey keeps the account's MFA */
    ck_assert_int_eq(mfa_factor_remove(F.ctx, "alice", tid), MFA_OK);
    ck_assert_int_eq(mfa_account_has_mfa(F.ctx, "alice", &has), MFA_OK);
    ck_assert_int_eq(has, 1);
    ck_assert_uint_eq(passkeys("alice", NULL), 1);
    login_ok("alice", sa);
    mfa_otp_free(&o);
    mfa_uri_free(&u);
    mfa_enrollment_free(&e);
    softauth_free(&sa);
    teardown();
}
END_TEST

START_TEST(cap_and_duplicates)
{
    softauth *sa[MFA_WEBAUTHN_CREDS_MAX + 1];
    char *opts = NULL, *late = NULL, *resp = NULL;
    mfa_result r;
    dump before, after;

    setup(_i);
    for (int k = 0; k < MFA_WEBAUTHN_CREDS_MAX + 1; k++)
        sa[k] = new_auth(k % 2 ? MFA_WEBAUTHN_EDDSA : MFA_WEBAUTHN_ES256);
    /* the same credential twice (a second begin, so a fresh challenge) */
    register_ok("alice", sa[0], "0", NULL);
    dump_of("alice", &before);
    ck_assert_int_eq(
        mfa_webauthn_register_begin(F.ctx, "alice", NULL, NULL, &opts), MFA_OK);
    ck_assert_int_eq(softauth_register(sa[0], opts, NULL, ORIGIN, &resp), 0);
    ck_assert_int_eq(mfa_webauthn_register_finish(F.ctx, "alice", "again", resp,
                                                  strlen(resp), &r),
                     MFA_ERR_EXISTS);
    ck_assert_str_eq(r.factor_id, "");
    ck_assert_int_eq(last_event()->type, MFA_EV_WEBAUTHN_FAIL);
    dump_of("alice", &after);
    assert_dump_eq(&before, &after);
    free(resp);
    mfa_free(opts);
    /* nor for another account */
    ck_assert_int_eq(
        mfa_webauthn_register_begin(F.ctx, "bob", NULL, NULL, &opts), MFA_OK);
    ck_assert_int_eq(softauth_register(sa[0], opts, NULL, ORIGIN, &resp), 0);
    ck_assert_int_eq(mfa_webauthn_register_finish(F.ctx, "bob", "again", resp,
                                                  strlen(resp), &r),
                     MFA_ERR_EXISTS);
    ck_assert_uint_eq(passkeys("bob", NULL), 0);
    free(resp);
    mfa_free(opts);
    /* that begin gave sa[0] bob's user handle to keep: send none */
    softauth_send_user_handle(sa[0], 0);

    for (int k = 1; k < MFA_WEBAUTHN_CREDS_MAX - 1; k++)
        register_ok("alice", sa[k], "k", NULL);
    /* one left: two begins, the second finish finds the cap reached */
    ck_assert_int_eq(
        mfa_webauthn_register_begin(F.ctx, "alice", NULL, NULL, &opts), MFA_OK);
    ck_assert_int_eq(softauth_register(sa[MFA_WEBAUTHN_CREDS_MAX], opts, NULL,
                                       ORIGIN, &late),
                     0);
    mfa_free(opts);
    register_ok("alice", sa[MFA_WEBAUTHN_CREDS_MAX - 1], "last", NULL);
    ck_assert_uint_eq(passkeys("alice", NULL), MFA_WEBAUTHN_CREDS_MAX);
    ck_assert_int_eq(mfa_webauthn_register_finish(F.ctx, "alice", "late", late,
                                                  strlen(late), &r),
                     MFA_ERR_EXISTS);
    ck_assert_int_eq(
        mfa_webauthn_register_begin(F.ctx, "alice", NULL, NULL, &opts),
        MFA_ERR_EXISTS);
    ck_assert_ptr_null(opts);
    ck_assert_uint_eq(passkeys("alice", NULL), MFA_WEBAUTHN_CREDS_MAX);
    /* every one of them logs in (allowCredentials holds 16) */
    login_ok("alice", sa[0]);
    login_ok("alice", sa[MFA_WEBAUTHN_CREDS_MAX - 1]);
    free(late);
    for (int k = 0; k < MFA_WEBAUTHN_CREDS_MAX + 1; k++)
        softauth_free(&sa[k]);
    teardown();
}
END_TEST

START_TEST(state_and_arguments)
{
    softauth *sa = new_auth(MFA_WEBAUTHN_ES256);
    char sentinel[] = "x";
    char *opts = sentinel, *resp = NULL;
    mfa_webauthn_info *l = NULL;
    size_t n = 0;
    mfa_result r;

    setup(_i);
    register_ok("alice", sa, "k", NULL);
    resp = assertion("alice", sa);
    /* the flows off */
    ck_assert_int_eq(mfa_ctx_set_webauthn(F.ctx, NULL), MFA_OK);
    ck_assert_int_eq(
        mfa_webauthn_register_begin(F.ctx, "alice", NULL, NULL, &opts),
        MFA_ERR_STATE);
    ck_assert_ptr_null(opts);
    ck_assert_int_eq(mfa_webauthn_login_begin(F.ctx, "alice", &opts),
                     MFA_ERR_STATE);
    ck_assert_int_eq(finish("alice", resp, &r), MFA_ERR_STATE);
    ck_assert_int_eq(mfa_webauthn_register_finish(F.ctx, "alice", NULL, resp,
                                                  strlen(resp), &r),
                     MFA_ERR_STATE);
    ck_assert_int_eq(mfa_ctx_set_webauthn(NULL, F.rp), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_ctx_set_webauthn(F.ctx, F.rp), MFA_OK);
    /* arguments */
    ck_assert_int_eq(
        mfa_webauthn_register_begin(F.ctx, "alice", NULL, NULL, NULL),
        MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_webauthn_register_begin(F.ctx, "", NULL, NULL, &opts),
                     MFA_ERR_EMPTY);
    ck_assert_int_eq(
        mfa_webauthn_register_begin(F.ctx, "alice", "a\nb", NULL, &opts),
        MFA_ERR_CONTROL_CHAR);
    ck_assert_int_eq(
        mfa_webauthn_register_begin(NULL, "alice", NULL, NULL, &opts),
        MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_webauthn_login_begin(F.ctx, "alice", NULL),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_webauthn_list(F.ctx, "alice", NULL, &n),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_webauthn_list(F.ctx, NULL, &l, &n), MFA_ERR_INVALID);
    ck_assert_int_eq(
        mfa_webauthn_register_finish(F.ctx, "alice", NULL, NULL, 0, &r),
        MFA_ERR_INVALID);
    /* the login still works: nothing of that touched it */
    ck_assert_int_eq(finish("alice", resp, &r), MFA_OK);
    free(resp);
    /* the clock out of the store's range */
    F.now = -5;
    ck_assert_int_eq(mfa_webauthn_login_begin(F.ctx, "alice", &opts),
                     MFA_ERR_TIME);
    softauth_free(&sa);
    teardown();
}
END_TEST

/* The clean-up: spent challenges past their expiry go, store-wide; an
 * account with a passkey keeps its rows as one with a factor does. */
START_TEST(gc_spent_and_passkey_accounts)
{
    softauth *sa = new_auth(MFA_WEBAUTHN_ES256);
    char *resp;
    size_t removed = 0;
    mfa_result r;

    setup(_i);
    register_ok("alice", sa, "k", NULL);
    resp = assertion("alice", sa);
    ck_assert_int_eq(finish("alice", resp, &r), MFA_OK);
    softauth_set_tamper(sa, SOFTAUTH_TAMPER_SIGNATURE);
    {
        char *bad = assertion("alice", sa);
        ck_assert_int_eq(finish("alice", bad, &r), MFA_ERR_WEBAUTHN_SIGNATURE);
        free(bad);
    }
    softauth_set_tamper(sa, 0);
    /* within the challenge's life: nothing of it goes, the replay is one */
    ck_assert_int_eq(mfa_gc(F.ctx, &removed), MFA_OK);
    ck_assert_int_eq(finish("alice", resp, &r), MFA_ERR_REPLAYED);
    /* two days later: the spent nonces (registration and login) go, the
     * account's throttle row stays (it has a passkey) */
    F.now += 2 * 86400;
    ck_assert_int_eq(mfa_gc(F.ctx, &removed), MFA_OK);
    ck_assert_uint_eq(removed, 2);
    ck_assert_uint_eq(failures_of("alice"), 2);
    /* the old response is refused as expired, not accepted */
    ck_assert_int_eq(finish("alice", resp, &r), MFA_ERR_EXPIRED);
    free(resp);
    /* removed: the account is factor-less, its idle rows go */
    {
        mfa_webauthn_info *l = NULL;

        ck_assert_uint_eq(passkeys("alice", &l), 1);
        ck_assert_int_eq(mfa_factor_remove(F.ctx, "alice", l[0].factor_id),
                         MFA_OK);
        mfa_free(l);
    }
    F.now += 2 * 86400;
    ck_assert_int_eq(mfa_gc(F.ctx, &removed), MFA_OK);
    ck_assert_uint_eq(failures_of("alice"), 0);
    softauth_free(&sa);
    teardown();
}
END_TEST

/* ---- store failures ------------------------------------------------------ */

static const mfa_rc store_errors[] = {MFA_ERR_STORE, MFA_ERR_BUSY,
                                      MFA_ERR_CORRUPT};

static int
is_store_error(mfa_rc rc)
{
    return rc == MFA_ERR_STORE || rc == MFA_ERR_BUSY || rc == MFA_ERR_CORRUPT ||
           rc == MFA_ERR_NOMEM || rc == MFA_ERR_READONLY;
}

/* Each call of a registration finish fails in turn: nothing is written,
 * and the same response registers on the healthy store. */
START_TEST(faults_register_finish)
{
    softauth *sa = new_auth(MFA_WEBAUTHN_ES256), *first;
    char *opts = NULL, *resp = NULL;
    unsigned calls, k;
    mfa_result r;
    dump before, after;

    setup(_i);
    first = new_auth(MFA_WEBAUTHN_EDDSA);
    register_ok("alice", first, "first", NULL);
    for (size_t e = 0; e < sizeof(store_errors) / sizeof(store_errors[0]);
         e++) {
        ck_assert_int_eq(
            mfa_webauthn_register_begin(F.ctx, "alice", NULL, NULL, &opts),
            MFA_OK);
        ck_assert_int_eq(softauth_register(sa, opts, NULL, ORIGIN, &resp), 0);
        mfa_free(opts);
        dump_of("alice", &before);
        for (k = 1;; k++) {
            mfa_rc rc;

            fault_store_arm(F.fs, k, store_errors[e]);
            rc = mfa_webauthn_register_finish(F.ctx, "alice", "new", resp,
                                              strlen(resp), &r);
            if (!fault_store_fired(F.fs)) {
                ck_assert_int_eq(rc, MFA_OK);
                fault_store_arm(F.fs, 0, MFA_OK);
                break;
            }
            ck_assert_msg(is_store_error(rc), "call %u (%s): %d", k,
                          fault_store_fired_at(F.fs), rc);
            ck_assert_str_eq(r.factor_id, "");
            ck_assert_int_eq(last_event()->type, MFA_EV_STORE_ERROR);
            dump_of("alice", &after);
            assert_dump_eq(&before, &after);
        }
        calls = k - 1;
        ck_assert_uint_ge(calls, 5); /* begin .. commit */
        ck_assert_uint_eq(passkeys("alice", NULL), 2 + e);
        free(resp);
        softauth_free(&sa);
        sa = new_auth(MFA_WEBAUTHN_ES256);
    }
    fault_store_arm(F.fs, 0, MFA_OK);
    softauth_free(&sa);
    softauth_free(&first);
    teardown();
}
END_TEST

/* Each call of a login finish fails in turn: nothing accepted, nothing
 * half-written (count, sign count, device, spent challenge), and the
 * same response then logs in on the healthy store; also with a counted
 * failure on record, and with a known device's token. */
START_TEST(faults_login_finish)
{
    softauth *sa = new_auth(MFA_WEBAUTHN_ES256);
    char token[MFA_DEVICE_TOKEN_BUFSIZE];
    mfa_device_opts dev = {NULL, NULL, 0};
    char *resp;
    mfa_result r;

    setup(_i);
    register_ok("alice", sa, "k", NULL);
    resp = assertion("alice", sa);
    ck_assert_int_eq(mfa_webauthn_login_finish_device(
                         F.ctx, "alice", resp, strlen(resp), &dev, NULL, &r),
                     MFA_OK);
    memcpy(token, r.device_token, sizeof(token));
    free(resp);
    for (int pass = 0; pass < 4; pass++) {
        unsigned k;
        dump before, after;

        /* pass 1 with a failure on record; 2 with the device; 3 without
         * a name */
        if (pass == 1) {
            softauth_set_tamper(sa, SOFTAUTH_TAMPER_SIGNATURE);
            resp = assertion("alice", sa);
            ck_assert_int_eq(finish("alice", resp, &r),
                             MFA_ERR_WEBAUTHN_SIGNATURE);
            free(resp);
            softauth_set_tamper(sa, 0);
        }
        dev.token = pass == 2 ? token : NULL;
        resp = assertion(pass == 3 ? NULL : "alice", sa);
        dump_of("alice", &before);
        for (k = 1;; k++) {
            char out[MFA_ACCOUNT_MAX + 1];
            size_t nev = F.nev;
            mfa_rc rc;

            fault_store_arm(F.fs, k, store_errors[k % 3]);
            rc = mfa_webauthn_login_finish_device(
                F.ctx, pass == 3 ? NULL : "alice", resp, strlen(resp), &dev,
                out, &r);
            if (!fault_store_fired(F.fs)) {
                ck_assert_int_eq(rc, MFA_OK);
                fault_store_arm(F.fs, 0, MFA_OK);
                break;
            }
            ck_assert_msg(is_store_error(rc), "pass %d call %u (%s): %d", pass,
                          k, fault_store_fired_at(F.fs), rc);
            ck_assert_str_eq(r.factor_id, "");
            ck_assert_str_eq(r.device_token, "");
            ck_assert_uint_eq(r.failures, 0);
            ck_assert_str_eq(out, "");
            ck_assert_uint_eq(F.nev, nev + 1);
            ck_assert_int_eq(last_event()->type, MFA_EV_STORE_ERROR);
            dump_of("alice", &after);
            assert_dump_eq(&before, &after);
        }
        ck_assert_uint_ge(k - 1, 5);
        if (pass == 2)
            memcpy(token, r.device_token, sizeof(token));
        free(resp);
    }
    fault_store_arm(F.fs, 0, MFA_OK);
    softauth_free(&sa);
    teardown();
}
END_TEST

/* The begins fail closed too: no options without the store's answer, and
 * the user handle is made once. */
START_TEST(faults_begins)
{
    softauth *sa = new_auth(MFA_WEBAUTHN_ES256);
    char *opts = NULL;
    unsigned k;
    dump d;

    setup(_i);
    for (k = 1;; k++) {
        mfa_rc rc;

        fault_store_arm(F.fs, k, MFA_ERR_STORE);
        rc = mfa_webauthn_register_begin(F.ctx, "alice", NULL, NULL, &opts);
        if (!fault_store_fired(F.fs)) {
            ck_assert_int_eq(rc, MFA_OK);
            fault_store_arm(F.fs, 0, MFA_OK);
            break;
        }
        ck_assert_int_eq(rc, MFA_ERR_STORE);
        ck_assert_ptr_null(opts);
        dump_of("alice", &d);
        ck_assert_int_eq(d.handle_rc, MFA_ERR_NOT_FOUND);
    }
    mfa_free(opts);
    /* read + write the first time; read only afterwards */
    fault_store_arm(F.fs, 0, MFA_OK);
    ck_assert_int_eq(
        mfa_webauthn_register_begin(F.ctx, "alice", NULL, NULL, &opts), MFA_OK);
    {
        unsigned again = fault_store_calls(F.fs);

        ck_assert_uint_lt(again, k - 1);
    }
    mfa_free(opts);
    register_ok("alice", sa, "k", NULL);
    for (k = 1;; k++) {
        mfa_rc rc;

        fault_store_arm(F.fs, k, MFA_ERR_BUSY);
        rc = mfa_webauthn_login_begin(F.ctx, "alice", &opts);
        if (!fault_store_fired(F.fs)) {
            ck_assert_int_eq(rc, MFA_OK);
            fault_store_arm(F.fs, 0, MFA_OK);
            break;
        }
        ck_assert_int_eq(rc, MFA_ERR_BUSY);
        ck_assert_ptr_null(opts);
    }
    mfa_free(opts);
    fault_store_arm(F.fs, 0, MFA_OK);
    softauth_free(&sa);
    teardown();
}
END_TEST

/* No event carries a credential id, a challenge or a user handle. */
START_TEST(events_hold_no_bytes)
{
    softauth *sa = new_auth(MFA_WEBAUTHN_ES256);
    char *resp;
    mfa_result r;

    setup(_i);
    register_ok("alice", sa, "k", NULL);
    resp = assertion("alice", sa);
    ck_assert_int_eq(finish("alice", resp, &r), MFA_OK);
    ck_assert_int_eq(finish("alice", resp, &r), MFA_ERR_REPLAYED);
    free(resp);
    for (size_t i = 0; i < F.nev; i++) {
        const rec_event *e = &F.ev[i];

        ck_assert(e->account[0] == '\0' || strcmp(e->account, "alice") == 0);
        ck_assert(e->factor_id[0] == '\0' ||
                  strlen(e->factor_id) == MFA_FACTOR_ID_LEN);
    }
    softauth_free(&sa);
    teardown();
}
END_TEST

/* ---- races ------------------------------------------------------------ */

#define RACERS 8

typedef struct racer {
    const char *resp;
    const char *account;
    pthread_barrier_t *go;
    mfa_rc rc;
} racer;

static void *
race_login(void *arg)
{
    char out[MFA_ACCOUNT_MAX + 1];
    racer *r = arg;
    mfa_result res;

    pthread_barrier_wait(r->go);
    r->rc = mfa_webauthn_login_finish(F.ctx, r->account, r->resp,
                                      strlen(r->resp), out, &res);
    return NULL;
}

static void *
race_register(void *arg)
{
    racer *r = arg;
    mfa_result res;

    pthread_barrier_wait(r->go);
    r->rc = mfa_webauthn_register_finish(F.ctx, r->account, "raced", r->resp,
                                         strlen(r->resp), &res);
    return NULL;
}

/* The same assertion sent by several threads at once is accepted once;
 * registrations racing for the last places never pass the cap. */
START_TEST(races)
{
    pthread_t th[RACERS];
    racer rs[RACERS];
    pthread_barrier_t go;
    softauth *sa = new_auth(MFA_WEBAUTHN_EDDSA), *more[RACERS];
    char *resp, *regs[RACERS];
    int ok = 0, replayed = 0, busy = 0, foreign = 0;

    setup(_i);
    register_ok("alice", sa, "k", NULL);
    resp = assertion("alice", sa);
    ck_assert_int_eq(pthread_barrier_init(&go, NULL, RACERS), 0);
    for (int k = 0; k < RACERS; k++) {
        rs[k].resp = resp;
        rs[k].account = k % 2 ? "alice" : NULL; /* with and without a name */
        rs[k].go = &go;
        ck_assert_int_eq(pthread_create(&th[k], NULL, race_login, &rs[k]), 0);
    }
    for (int k = 0; k < RACERS; k++) {
        pthread_join(th[k], NULL);
        ok += rs[k].rc == MFA_OK;
        replayed += rs[k].rc == MFA_ERR_REPLAYED;
        busy += rs[k].rc == MFA_ERR_BUSY; /* SQLite past its timeout */
        foreign += rs[k].rc == MFA_ERR_WEBAUTHN_CHALLENGE;
    }
    free(resp);
    /* the challenge was for alice: the nameless half is refused before
     * the store, so one of the named half wins */
    ck_assert_int_eq(foreign, RACERS / 2);
    ck_assert_int_eq(ok, 1);
    ck_assert_int_eq(replayed + busy, RACERS / 2 - 1);
    pthread_barrier_destroy(&go);

    /* 14 more passkeys: two places left for eight racers */
    for (int k = 0; k < MFA_WEBAUTHN_CREDS_MAX - 3; k++) {
        softauth *x = new_auth(MFA_WEBAUTHN_EDDSA);

        register_ok("alice", x, "x", NULL);
        softauth_free(&x);
    }
    ck_assert_uint_eq(passkeys("alice", NULL), MFA_WEBAUTHN_CREDS_MAX - 2);
    for (int k = 0; k < RACERS; k++) {
        char *opts = NULL;

        more[k] = new_auth(MFA_WEBAUTHN_EDDSA);
        ck_assert_int_eq(
            mfa_webauthn_register_begin(F.ctx, "alice", NULL, NULL, &opts),
            MFA_OK);
        ck_assert_int_eq(
            softauth_register(more[k], opts, NULL, ORIGIN, &regs[k]), 0);
        mfa_free(opts);
    }
    ck_assert_int_eq(pthread_barrier_init(&go, NULL, RACERS), 0);
    for (int k = 0; k < RACERS; k++) {
        rs[k].resp = regs[k];
        rs[k].account = "alice";
        rs[k].go = &go;
        ck_assert_int_eq(pthread_create(&th[k], NULL, race_register, &rs[k]),
                         0);
    }
    ok = busy = 0;
    for (int k = 0; k < RACERS; k++) {
        pthread_join(th[k], NULL);
        ok += rs[k].rc == MFA_OK;
        busy += rs[k].rc == MFA_ERR_BUSY;
        ck_assert(rs[k].rc == MFA_OK || rs[k].rc == MFA_ERR_EXISTS ||
                  rs[k].rc == MFA_ERR_BUSY);
        free(regs[k]);
        softauth_free(&more[k]);
    }
    pthread_barrier_destroy(&go);
    /* those not turned away busy compete for the two places */
    ck_assert_int_eq(ok, RACERS - busy < 2 ? RACERS - busy : 2);
    ck_assert_uint_eq(passkeys("alice", NULL), MFA_WEBAUTHN_CREDS_MAX - 2 + ok);
    softauth_free(&sa);
    teardown();
}
END_TEST

static Suite *
suite(void)
{
    Suite *s = suite_create("webauthn-flows");
    TCase *tc = tcase_create("flows");

    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, register_list_login, 0, BK_COUNT);
    tcase_add_loop_test(tc, excluded_and_allowed, 0, BK_COUNT);
    tcase_add_loop_test(tc, replay_refused, 0, BK_COUNT);
    tcase_add_loop_test(tc, expired_challenge, 0, BK_COUNT);
    tcase_add_loop_test(tc, foreign_challenges, 0, BK_COUNT);
    tcase_add_loop_test(tc, malformed_responses, 0, BK_COUNT);
    tcase_add_loop_test(tc, tampered_counted, 0, BK_COUNT);
    tcase_add_loop_test(tc, throttle_and_known_device, 0, BK_COUNT);
    tcase_add_loop_test(tc, cloned_authenticator, 0, BK_COUNT);
    tcase_add_loop_test(tc, discoverable_login, 0, BK_COUNT);
    tcase_add_loop_test(tc, rename_remove_reset, 0, BK_COUNT);
    tcase_add_loop_test(tc, passkeys_and_totp, 0, BK_COUNT);
    tcase_add_loop_test(tc, cap_and_duplicates, 0, BK_COUNT);
    tcase_add_loop_test(tc, state_and_arguments, 0, BK_COUNT);
    tcase_add_loop_test(tc, gc_spent_and_passkey_accounts, 0, BK_COUNT);
    tcase_add_loop_test(tc, faults_register_finish, 0, BK_COUNT);
    tcase_add_loop_test(tc, faults_login_finish, 0, BK_COUNT);
    tcase_add_loop_test(tc, faults_begins, 0, BK_COUNT);
    tcase_add_loop_test(tc, events_hold_no_bytes, 0, BK_COUNT);
    tcase_add_loop_test(tc, races, 0, BK_COUNT);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run(suite());
}
