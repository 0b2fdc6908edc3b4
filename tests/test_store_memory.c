/*
 * The memory store: the conformance suite, also over a third-party backend
 * (the fault store of tests/fault_store.h with no fault armed, which
 * reaches the memory store through mfa_store_new); mfa_store_new's checks;
 * opening and creating "memory:"; and what only the memory store promises:
 * accounts of different lock stripes in parallel, the lock timeout,
 * thousands of accounts.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <mfa.h>
#include <mfa/store-backend.h>

#include "fault_store.h"
#include "store/txn.h"
#include "store_conformance.h"
#include "testutil.h"

static mfa_rc
open_memory(mfa_store_t **out, void *arg)
{
    (void)arg;
    return mfa_store_memory_new(out);
}

static const mfa_conformance_backend memory_backend = {
    .name = "memory",
    .open = open_memory,
    .open_again = NULL,
    .arg = NULL,
};

static mfa_rc
open_wrapped(mfa_store_t **out, void *arg)
{
    mfa_store_t *inner = NULL;
    fault_store *fs = NULL;
    mfa_rc rc = mfa_store_memory_new(&inner);

    (void)arg;
    if (rc != MFA_OK)
        return rc;
    return fault_store_wrap(out, inner, &fs);
}

static const mfa_conformance_backend wrapped_backend = {
    .name = "third-party",
    .open = open_wrapped,
    .open_again = NULL,
    .arg = NULL,
};

#define OK(expr) ck_assert_int_eq((expr), MFA_OK)

/* ---- mfa_throttle_delay ---------------------------------------------------
 */

START_TEST(throttle_delay_arithmetic)
{
    const mfa_throttle_policy p = {5, 30, 3600};
    const mfa_throttle_policy nofree = {0, 1, 1u << 31};
    const mfa_throttle_policy big = {0, UINT32_MAX - 1, UINT32_MAX};
    const mfa_throttle_policy inverted = {0, 100, 10};

    ck_assert_uint_eq(mfa_throttle_delay(&p, 0), 0);
    ck_assert_uint_eq(mfa_throttle_delay(&p, 5), 0);
    ck_assert_uint_eq(mfa_throttle_delay(&p, 6), 30);
    ck_assert_uint_eq(mfa_throttle_delay(&p, 7), 60);
    ck_assert_uint_eq(mfa_throttle_delay(&p, 8), 120);
    ck_assert_uint_eq(mfa_throttle_delay(&p, 12), 1920);
    ck_assert_uint_eq(mfa_throttle_delay(&p, 13), 3600); /* 3840 capped */
    ck_assert_uint_eq(mfa_throttle_delay(&p, 1000), 3600);
    ck_assert_uint_eq(mfa_throttle_delay(&p, UINT32_MAX), 3600);
    /* no shift overflow at 2^31 and beyond */
    ck_assert_uint_eq(mfa_throttle_delay(&nofree, 32), 1u << 31);
    ck_assert_uint_eq(mfa_throttle_delay(&nofree, 33), 1u << 31);
    ck_assert_uint_eq(mfa_throttle_delay(&nofree, 40), 1u << 31);
    ck_assert_uint_eq(mfa_throttle_delay(&big, 1), UINT32_MAX - 1);
    ck_assert_uint_eq(mfa_throttle_delay(&big, 2), UINT32_MAX);
    /* the cap wins over the base */
    ck_assert_uint_eq(mfa_throttle_delay(&inverted, 1), 10);
    ck_assert_uint_eq(mfa_throttle_delay(NULL, 10), 0);
}
END_TEST

/* ---- mfa_store_new and the specs --------------------------------------------
 */

static int closed;

static void
count_close(void *impl)
{
    (void)impl;
    closed++;
}

START_TEST(store_new_checks_the_table)
{
    mfa_store_t *m = NULL, *s = (mfa_store_t *)&closed;
    mfa_store_backend be;

    OK(mfa_store_memory_new(&m));
    be = *mfa_store_backend_of(m);
    be.close = count_close;
    ck_assert_int_eq(mfa_store_new(NULL, &be, NULL), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_store_new(&s, NULL, NULL), MFA_ERR_INVALID);
    ck_assert_ptr_null(s);
    be.abi = MFA_STORE_BACKEND_ABI + 1;
    ck_assert_int_eq(mfa_store_new(&s, &be, NULL), MFA_ERR_INVALID);
    ck_assert_ptr_null(s);
    be = *mfa_store_backend_of(m);
    be.close = count_close;
    be.account_delete = NULL;
    ck_assert_int_eq(mfa_store_new(&s, &be, NULL), MFA_ERR_INVALID);
    be = *mfa_store_backend_of(m);
    be.close = count_close;
    be.begin = NULL;
    ck_assert_int_eq(mfa_store_new(&s, &be, NULL), MFA_ERR_INVALID);
    /* ABI 4: a table of ABI 3, or without any one of the passkey calls */
    be = *mfa_store_backend_of(m);
    be.close = count_close;
    be.abi = 3;
    ck_assert_int_eq(mfa_store_new(&s, &be, NULL), MFA_ERR_INVALID);
    for (int k = 0; k < 10; k++) {
        be = *mfa_store_backend_of(m);
        be.close = count_close;
        switch (k) {
        case 0:
            be.webauthn_list = NULL;
            break;
        case 1:
            be.webauthn_get = NULL;
            break;
        case 2:
            be.webauthn_insert = NULL;
            break;
        case 3:
            be.webauthn_update = NULL;
            break;
        case 4:
            be.webauthn_delete = NULL;
            break;
        case 5:
            be.webauthn_handle_get = NULL;
            break;
        case 6:
            be.webauthn_handle_put = NULL;
            break;
        case 7:
            be.webauthn_handle_find = NULL;
            break;
        case 8:
            be.webauthn_spend = NULL;
            break;
        default:
            be.webauthn_spent_expire = NULL;
            break;
        }
        ck_assert_int_eq(mfa_store_new(&s, &be, NULL), MFA_ERR_INVALID);
        ck_assert_ptr_null(s);
    }
    be = *mfa_store_backend_of(m);
    be.close = count_close;
    be.name = NULL;
    ck_assert_int_eq(mfa_store_new(&s, &be, NULL), MFA_ERR_INVALID);
    ck_assert_ptr_null(s);

    /* a good table: close runs once, on free */
    closed = 0;
    be = *mfa_store_backend_of(m);
    be.close = count_close;
    be.name = "mine";
    OK(mfa_store_new(&s, &be, mfa_store_impl_of(m)));
    ck_assert_str_eq(mfa_store_name(s), "mine");
    ck_assert_ptr_eq(mfa_store_backend_of(s), &be);
    ck_assert_ptr_eq(mfa_store_impl_of(s), mfa_store_impl_of(m));
    mfa_store_free(&s);
    ck_assert_ptr_null(s);
    mfa_store_free(&s);
    mfa_store_free(NULL);
    ck_assert_int_eq(closed, 1);
    ck_assert_ptr_null(mfa_store_backend_of(NULL));
    ck_assert_ptr_null(mfa_store_impl_of(NULL));
    mfa_store_free(&m);
}
END_TEST

START_TEST(memory_specs)
{
    mfa_store_t *s = (mfa_store_t *)&s;
    int v = 0;

    /* a memory store exists only once created */
    ck_assert_int_eq(mfa_store_open(&s, "memory:"), MFA_ERR_NO_STORE);
    ck_assert_ptr_null(s);
    OK(mfa_store_create(&s, "memory:"));
    ck_assert_str_eq(mfa_store_name(s), "memory");
    OK(mfa_store_schema_version(s, &v));
    ck_assert_int_eq(v, MFA_SCHEMA_VERSION);
    OK(mfa_store_check(s));
    mfa_store_free(&s);
    ck_assert_int_eq(mfa_store_memory_new(NULL), MFA_ERR_INVALID);
}
END_TEST

/* ---- the checked passkey calls of lib/store/store.c ------------------------
 */

/* A memory store whose passkey reads are damaged on the way out. */
enum {
    MG_NONE,
    MG_ID_SHORT,
    MG_ID_LONG,
    MG_KEY_EMPTY,
    MG_KEY_LONG,
    MG_ALG,
    MG_ALG_ZERO,
    MG_TRANSPORTS,
    MG_FLAGS,
    MG_FMT,
    MG_FMT_NEG,
    MG_TRUST,
    MG_HANDLE_EMPTY,
    MG_HANDLE_LONG,
    MG_HANDLE_OTHER,
    MG_HANDLE_PREFIX,
    MG_CREATED,
    MG_LAST_USED,
    MG_TIME_MAX,
    MG_FACTOR_ID,
    MG_FACTOR_ID_OPEN,
    MG_LABEL_OPEN,
    MG_LABEL_UTF8,
    MG_LABEL_CONTROL,
    MG_OTHER_ROW,
    MG_COUNT
};

static int mangle;
static const mfa_store_backend *mg_inner;

static void
mangle_rec(mfa_webauthn_rec *r)
{
    mfa_webauthn_credential *c = &r->cred;

    switch (mangle) {
    case MG_ID_SHORT:
        c->id_len = MFA_WEBAUTHN_CRED_ID_MIN - 1;
        break;
    case MG_ID_LONG:
        c->id_len = MFA_WEBAUTHN_CRED_ID_MAX + 1;
        break;
    case MG_KEY_EMPTY:
        c->public_key_len = 0;
        break;
    case MG_KEY_LONG:
        c->public_key_len = MFA_WEBAUTHN_PUBLIC_KEY_MAX + 1;
        break;
    case MG_ALG:
        c->algorithm = -6;
        break;
    case MG_ALG_ZERO:
        c->algorithm = 0;
        break;
    case MG_TRANSPORTS:
        c->transports = 0x40;
        break;
    case MG_FLAGS:
        c->flags = 0x100;
        break;
    case MG_FMT:
        c->attestation_format = (mfa_webauthn_fmt)3;
        break;
    case MG_FMT_NEG:
        c->attestation_format = (mfa_webauthn_fmt)-1;
        break;
    case MG_TRUST:
        c->attestation_trust = (mfa_webauthn_trust)3;
        break;
    case MG_HANDLE_EMPTY:
        c->user_handle_len = 0;
        break;
    case MG_HANDLE_LONG:
        c->user_handle_len = MFA_WEBAUTHN_USER_HANDLE_MAX + 1;
        break;
    case MG_HANDLE_OTHER:
        c->user_handle[3] ^= 1;
        break;
    case MG_HANDLE_PREFIX:
        c->user_handle_len--;
        break;
    case MG_CREATED:
        r->created = -1;
        break;
    case MG_LAST_USED:
        r->last_used = -1;
        break;
    case MG_TIME_MAX:
        r->created = INT64_C(253402300800);
        break;
    case MG_FACTOR_ID:
        r->factor_id[0] = 'A';
        break;
    case MG_FACTOR_ID_OPEN:
        memset(r->factor_id, 'a', sizeof(r->factor_id));
        break;
    case MG_LABEL_OPEN:
        memset(r->label, 'x', sizeof(r->label));
        break;
    case MG_LABEL_UTF8:
        memcpy(r->label, "\xc3(", 3);
        break;
    case MG_LABEL_CONTROL:
        memcpy(r->label, "a\x1b", 3);
        break;
    default:
        break;
    }
}

static mfa_rc
mg_get(mfa_store_txn *t, const char *a, const char *id, mfa_webauthn_rec *o)
{
    mfa_rc rc = mg_inner->webauthn_get(t, a, id, o);

    if (rc == MFA_OK && mangle == MG_OTHER_ROW)
        o->factor_id[15] = o->factor_id[15] == '0' ? '1' : '0';
    else if (rc == MFA_OK)
        mangle_rec(o);
    return rc;
}

typedef struct mg_list {
    mfa_webauthn_cb cb;
    void *arg;
} mg_list;

static mfa_rc
mg_list_cb(const mfa_webauthn_rec *r, void *arg)
{
    mg_list *l = arg;
    mfa_webauthn_rec copy = *r;

    mangle_rec(&copy);
    return l->cb(&copy, l->arg);
}

static mfa_rc
mg_list_op(mfa_store_txn *t, const char *a, mfa_webauthn_cb cb, void *arg)
{
    mg_list l = {cb, arg};

    return mg_inner->webauthn_list(t, a, mg_list_cb, &l);
}

/* handle_get: 1 an empty handle, 2 too long; handle_find: 1 an
 * unterminated name, 2 an empty one, 3 invalid UTF-8. */
static int mangle_handle;

static mfa_rc
mg_hget(mfa_store_txn *t, const char *a,
        uint8_t o[MFA_WEBAUTHN_USER_HANDLE_MAX], size_t *len)
{
    mfa_rc rc = mg_inner->webauthn_handle_get(t, a, o, len);

    if (rc == MFA_OK && mangle_handle == 1)
        *len = 0;
    else if (rc == MFA_OK && mangle_handle == 2)
        *len = MFA_WEBAUTHN_USER_HANDLE_MAX + 1;
    return rc;
}

static mfa_rc
mg_hfind(mfa_store_txn *t, const uint8_t *h, size_t len,
         char a[MFA_ACCOUNT_MAX + 1])
{
    mfa_rc rc = mg_inner->webauthn_handle_find(t, h, len, a);

    if (rc == MFA_OK && mangle_handle == 1)
        memset(a, 'z', MFA_ACCOUNT_MAX + 1);
    else if (rc == MFA_OK && mangle_handle == 2)
        a[0] = '\0';
    else if (rc == MFA_OK && mangle_handle == 3)
        a[0] = (char)0xff;
    return rc;
}

static void
no_close(void *impl)
{
    (void)impl;
}

static mfa_webauthn_rec
good_passkey(const char *id, const uint8_t *handle, size_t hlen)
{
    mfa_webauthn_rec r;

    memset(&r, 0, sizeof(r));
    snprintf(r.factor_id, sizeof(r.factor_id), "%s", id);
    snprintf(r.label, sizeof(r.label), "%s", "YubiKey");
    r.created = 1000;
    memset(r.cred.id, 0xa5, 32);
    r.cred.id[0] = (uint8_t)id[15];
    r.cred.id_len = 32;
    memset(r.cred.public_key, 0x11, 77);
    r.cred.public_key_len = 77;
    r.cred.algorithm = MFA_WEBAUTHN_ES256;
    r.cred.flags = MFA_WEBAUTHN_FLAG_UP | MFA_WEBAUTHN_FLAG_AT;
    memcpy(r.cred.user_handle, handle, hlen);
    r.cred.user_handle_len = hlen;
    return r;
}

typedef struct wcount {
    size_t n;
} wcount;

static mfa_rc
count_cb(const mfa_webauthn_rec *r, void *arg)
{
    (void)r;
    ((wcount *)arg)->n++;
    return MFA_OK;
}

START_TEST(damaged_passkeys_are_corrupt)
{
    mfa_store_t *m = NULL, *s = NULL;
    mfa_store_backend be;
    uint8_t handle[32], h[MFA_WEBAUTHN_USER_HANDLE_MAX];
    mfa_webauthn_rec r, g;
    char who[MFA_ACCOUNT_MAX + 1];
    size_t len;
    mfa_int_txn x;
    wcount c;
    int k;

    OK(mfa_store_memory_new(&m));
    mg_inner = mfa_store_backend_of(m);
    be = *mg_inner;
    be.name = "mangling";
    be.close = no_close;
    be.webauthn_get = mg_get;
    be.webauthn_list = mg_list_op;
    be.webauthn_handle_get = mg_hget;
    be.webauthn_handle_find = mg_hfind;
    OK(mfa_store_new(&s, &be, mfa_store_impl_of(m)));
    memset(handle, 0x3c, sizeof(handle));
    r = good_passkey("00000000000000a1", handle, sizeof(handle));
    mangle = MG_NONE;
    mangle_handle = 0;
    OK(mfa_int_txn_begin(s, "alice", MFA_TXN_WRITE, &x));
    OK(mfa_int_txn_webauthn_handle_put(&x, handle, sizeof(handle), 900));
    OK(mfa_int_txn_webauthn_insert(&x, &r));
    OK(mfa_int_txn_commit(&x));

    for (k = MG_NONE; k < MG_COUNT; k++) {
        mfa_rc want = k == MG_NONE ? MFA_OK : MFA_ERR_CORRUPT;

        mangle = k;
        OK(mfa_int_txn_begin(s, "alice", MFA_TXN_READ, &x));
        memset(&g, 0x55, sizeof(g));
        ck_assert_msg(mfa_int_txn_webauthn_get(&x, r.factor_id, &g) == want,
                      "get, damage %d", k);
        if (want != MFA_OK) {
            /* nothing of the damaged row is handed out */
            ck_assert_str_eq(g.factor_id, "");
            ck_assert_uint_eq(g.cred.id_len, 0);
        }
        c.n = 0;
        if (k != MG_OTHER_ROW) {
            ck_assert_msg(mfa_int_txn_webauthn_list(&x, count_cb, &c) == want,
                          "list, damage %d", k);
            ck_assert_uint_eq(c.n, want == MFA_OK ? 1 : 0);
        }
        mfa_int_txn_rollback(&x);
    }
    mangle = MG_NONE;

    /* damaged handles */
    for (k = 1; k <= 2; k++) {
        mangle_handle = k;
        OK(mfa_int_txn_begin(s, "alice", MFA_TXN_READ, &x));
        ck_assert_int_eq(mfa_int_txn_webauthn_handle_get(&x, h, &len),
                         MFA_ERR_CORRUPT);
        ck_assert_uint_eq(len, 0);
        ck_assert_int_eq(mfa_int_txn_webauthn_get(&x, r.factor_id, &g),
                         MFA_ERR_CORRUPT);
        ck_assert_int_eq(mfa_int_txn_webauthn_list(&x, count_cb, &c),
                         MFA_ERR_CORRUPT);
        mfa_int_txn_rollback(&x);
    }
    for (k = 1; k <= 3; k++) {
        mangle_handle = k;
        OK(mfa_int_txn_begin(s, NULL, MFA_TXN_READ, &x));
        ck_assert_int_eq(
            mfa_int_txn_webauthn_handle_find(&x, handle, sizeof(handle), who),
            MFA_ERR_CORRUPT);
        ck_assert_str_eq(who, "");
        mfa_int_txn_rollback(&x);
    }
    mangle_handle = 0;
    OK(mfa_int_txn_begin(s, NULL, MFA_TXN_READ, &x));
    OK(mfa_int_txn_webauthn_handle_find(&x, handle, sizeof(handle), who));
    ck_assert_str_eq(who, "alice");
    OK(mfa_int_txn_commit(&x));

    /* an account without a handle yet: any handle in range is fine */
    r = good_passkey("00000000000000b2", handle, 5);
    OK(mfa_int_txn_begin(s, "bob", MFA_TXN_WRITE, &x));
    OK(mfa_int_txn_webauthn_insert(&x, &r));
    OK(mfa_int_txn_webauthn_get(&x, r.factor_id, &g));
    OK(mfa_int_txn_commit(&x));
    mfa_store_free(&s);
    mfa_store_free(&m);
}
END_TEST

/* Bad records and arguments are refused before the backend and change
 * nothing; each call only where its transaction allows it. */
START_TEST(passkey_calls_check_their_input)
{
    mfa_store_t *s = NULL;
    uint8_t handle[32], other[32], nonce[MFA_WEBAUTHN_NONCE_BYTES] = {1};
    uint8_t h[MFA_WEBAUTHN_USER_HANDLE_MAX];
    mfa_webauthn_rec r, bad, g;
    char who[MFA_ACCOUNT_MAX + 1];
    size_t len, n;
    mfa_int_txn x;
    wcount c = {0};
    int k;

    OK(mfa_store_memory_new(&s));
    memset(handle, 0x3c, sizeof(handle));
    memset(other, 0x3d, sizeof(other));
    r = good_passkey("00000000000000a1", handle, sizeof(handle));
    OK(mfa_int_txn_begin(s, "alice", MFA_TXN_WRITE, &x));
    OK(mfa_int_txn_webauthn_handle_put(&x, handle, sizeof(handle), 900));
    for (k = MG_ID_SHORT; k < MG_COUNT; k++) {
        if (k == MG_HANDLE_OTHER || k == MG_HANDLE_PREFIX || k == MG_OTHER_ROW)
            continue; /* in range: refused below as another's handle */
        bad = r;
        mangle = k;
        mangle_rec(&bad);
        ck_assert_msg(mfa_int_txn_webauthn_insert(&x, &bad) != MFA_OK,
                      "insert, damage %d", k);
        ck_assert_msg(mfa_int_txn_webauthn_update(&x, &bad) != MFA_OK,
                      "update, damage %d", k);
    }
    mangle = MG_NONE;
    /* the account's credentials carry its handle */
    bad = good_passkey("00000000000000a2", other, sizeof(other));
    ck_assert_int_eq(mfa_int_txn_webauthn_insert(&x, &bad), MFA_ERR_INVALID);
    bad = good_passkey("00000000000000a2", handle, sizeof(handle) - 1);
    ck_assert_int_eq(mfa_int_txn_webauthn_insert(&x, &bad), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_int_txn_webauthn_list(&x, count_cb, &c), MFA_OK);
    ck_assert_uint_eq(c.n, 0);
    OK(mfa_int_txn_webauthn_insert(&x, &r));
    ck_assert_int_eq(mfa_int_txn_webauthn_get(&x, "00000000000000A1", &g),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_int_txn_webauthn_delete(&x, "a1"), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_int_txn_webauthn_list(&x, NULL, NULL),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_int_txn_webauthn_handle_put(&x, handle, 0, 1),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_int_txn_webauthn_handle_put(
                         &x, h, MFA_WEBAUTHN_USER_HANDLE_MAX + 1, 1),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_int_txn_webauthn_handle_put(&x, other, 32, -1),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_int_txn_webauthn_spend(&x, nonce, -1),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_int_txn_webauthn_spend(&x, NULL, 10), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_int_txn_webauthn_spent_expire(&x, -1, &n),
                     MFA_ERR_INVALID);
    /* store-wide only */
    ck_assert_int_eq(
        mfa_int_txn_webauthn_handle_find(&x, handle, sizeof(handle), who),
        MFA_ERR_INVALID);
    OK(mfa_int_txn_webauthn_spend(&x, nonce, 100));
    ck_assert_int_eq(mfa_int_txn_webauthn_spend(&x, nonce, 100),
                     MFA_ERR_EXISTS);
    OK(mfa_int_txn_commit(&x));

    OK(mfa_int_txn_begin(s, NULL, MFA_TXN_WRITE, &x));
    ck_assert_int_eq(mfa_int_txn_webauthn_get(&x, r.factor_id, &g),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_int_txn_webauthn_handle_get(&x, h, &len),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_int_txn_webauthn_spend(&x, nonce, 100),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_int_txn_webauthn_handle_find(&x, handle, 0, who),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_int_txn_webauthn_handle_find(&x, other, 32, who),
                     MFA_ERR_NOT_FOUND);
    OK(mfa_int_txn_webauthn_handle_find(&x, handle, 32, who));
    ck_assert_str_eq(who, "alice");
    /* spent_expire works in both kinds */
    OK(mfa_int_txn_webauthn_spent_expire(&x, 101, &n));
    ck_assert_uint_eq(n, 1);
    OK(mfa_int_txn_commit(&x));

    OK(mfa_int_txn_begin(s, "alice", MFA_TXN_WRITE, &x));
    OK(mfa_int_txn_webauthn_spend(&x, nonce, 200));
    OK(mfa_int_txn_webauthn_spent_expire(&x, 201, &n));
    ck_assert_uint_eq(n, 1);
    OK(mfa_int_txn_webauthn_get(&x, r.factor_id, &g));
    ck_assert_mem_eq(g.cred.id, r.cred.id, r.cred.id_len);
    OK(mfa_int_txn_webauthn_handle_get(&x, h, &len));
    ck_assert_uint_eq(len, sizeof(handle));
    OK(mfa_int_txn_webauthn_delete(&x, r.factor_id));
    ck_assert_int_eq(mfa_int_txn_webauthn_delete(&x, r.factor_id),
                     MFA_ERR_NOT_FOUND);
    OK(mfa_int_txn_commit(&x));
    mfa_store_free(&s);
}
END_TEST

/* ---- transactions of the memory store
 * ------------------------------------------ */

typedef struct tx {
    const mfa_store_backend *be;
    mfa_store_txn *t;
} tx;

static mfa_rc
begin(mfa_store_t *s, const char *account, mfa_txn_mode mode, tx *x)
{
    x->be = mfa_store_backend_of(s);
    x->t = NULL;
    return x->be->begin(mfa_store_impl_of(s), account, mode, &x->t);
}

static mfa_throttle_rec
throttle(uint32_t failures)
{
    mfa_throttle_rec r;

    memset(&r, 0, sizeof(r));
    r.failures = failures;
    return r;
}

/* Two memory stores are separate. */
START_TEST(memory_stores_are_separate)
{
    mfa_store_t *a = NULL, *b = NULL;
    mfa_throttle_rec r = throttle(3), g;
    tx x;

    OK(mfa_store_memory_new(&a));
    OK(mfa_store_memory_new(&b));
    OK(begin(a, "x", MFA_TXN_WRITE, &x));
    OK(x.be->throttle_put(x.t, "x", &r));
    OK(x.be->commit(x.t));
    OK(begin(b, "x", MFA_TXN_READ, &x));
    ck_assert_int_eq(x.be->throttle_get(x.t, "x", "", &g), MFA_ERR_NOT_FOUND);
    OK(x.be->commit(x.t));
    mfa_store_free(&a);
    mfa_store_free(&b);
}
END_TEST

/* A transaction may only touch its own account, and a read one only read. */
START_TEST(transactions_stay_in_their_lane)
{
    mfa_store_t *s = NULL;
    mfa_throttle_rec r = throttle(1), g;
    mfa_factor_rec out[2];
    size_t n = 9;
    tx x;

    OK(mfa_store_memory_new(&s));
    OK(begin(s, "alice", MFA_TXN_WRITE, &x));
    ck_assert_int_eq(x.be->throttle_put(x.t, "bob", &r), MFA_ERR_INVALID);
    ck_assert_int_eq(x.be->throttle_get(x.t, "bob", "", &g), MFA_ERR_INVALID);
    ck_assert_int_eq(x.be->factor_scan(x.t, "", "", out, 2, &n),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(x.be->factor_expire(x.t, 10, &n), MFA_ERR_INVALID);
    x.be->rollback(x.t);
    OK(begin(s, "alice", MFA_TXN_READ, &x));
    ck_assert_int_eq(x.be->throttle_put(x.t, "alice", &r), MFA_ERR_INVALID);
    OK(x.be->commit(x.t));
    OK(begin(s, NULL, MFA_TXN_READ, &x));
    ck_assert_int_eq(x.be->throttle_get(x.t, "alice", "", &g), MFA_ERR_INVALID);
    ck_assert_int_eq(x.be->factor_expire(x.t, 10, &n), MFA_ERR_INVALID);
    OK(x.be->factor_scan(x.t, "", "", out, 2, &n));
    ck_assert_uint_eq(n, 0);
    OK(x.be->commit(x.t));
    mfa_store_free(&s);
}
END_TEST

#define OTHERS 12

typedef struct other_writer {
    mfa_store_t *s;
    char account[16];
    atomic_int done;
    mfa_rc rc;
} other_writer;

static void *
other_main(void *p)
{
    other_writer *w = p;
    mfa_throttle_rec r = throttle(7);
    tx x;

    w->rc = begin(w->s, w->account, MFA_TXN_WRITE, &x);
    if (w->rc == MFA_OK) {
        w->rc = x.be->throttle_put(x.t, w->account, &r);
        if (w->rc == MFA_OK)
            w->rc = x.be->commit(x.t);
        else
            x.be->rollback(x.t);
    }
    atomic_store(&w->done, 1);
    return NULL;
}

/*
 * While one account's write transaction is open, writers of other
 * accounts get through: each other account shares the held stripe with
 * probability 1/64, so at least one of twelve is in another stripe unless
 * the stripes do not work (or once in 10^21 runs).
 */
START_TEST(other_accounts_in_parallel)
{
    mfa_store_t *s = NULL;
    other_writer w[OTHERS];
    pthread_t th[OTHERS];
    mfa_throttle_rec r = throttle(1);
    int i, any = 0, waited;
    tx x;

    OK(mfa_store_memory_new(&s));
    OK(begin(s, "holder", MFA_TXN_WRITE, &x));
    OK(x.be->throttle_put(x.t, "holder", &r));
    for (i = 0; i < OTHERS; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].s = s;
        snprintf(w[i].account, sizeof(w[i].account), "other%d", i);
        ck_assert_int_eq(pthread_create(&th[i], NULL, other_main, &w[i]), 0);
    }
    for (waited = 0; waited < 30000 && !any; waited++) {
        for (i = 0; i < OTHERS; i++)
            any |= atomic_load(&w[i].done);
        usleep(1000);
    }
    ck_assert_msg(any, "no other account got through while one was held");
    OK(x.be->commit(x.t));
    for (i = 0; i < OTHERS; i++) {
        pthread_join(th[i], NULL);
        OK(w[i].rc);
    }
    mfa_store_free(&s);
}
END_TEST

typedef struct waiter {
    mfa_store_t *s;
    const char *account;
    mfa_rc rc;
} waiter;

static void *
waiter_main(void *p)
{
    waiter *w = p;
    tx x;

    w->rc = begin(w->s, w->account, MFA_TXN_WRITE, &x);
    if (w->rc == MFA_OK)
        x.be->rollback(x.t);
    return NULL;
}

/* A writer kept waiting past the timeout gets MFA_ERR_BUSY, not a hang;
 * a store-wide transaction waits for an account's too. */
START_TEST(busy_after_the_timeout)
{
    mfa_store_t *s = NULL;
    waiter one = {NULL, "alice", MFA_OK}, all = {NULL, NULL, MFA_OK};
    pthread_t th;
    tx x;

    OK(mfa_store_memory_new(&s));
    one.s = all.s = s;
    OK(begin(s, "alice", MFA_TXN_WRITE, &x));
    ck_assert_int_eq(pthread_create(&th, NULL, waiter_main, &one), 0);
    pthread_join(th, NULL);
    ck_assert_int_eq(one.rc, MFA_ERR_BUSY);
    ck_assert_int_eq(pthread_create(&th, NULL, waiter_main, &all), 0);
    pthread_join(th, NULL);
    ck_assert_int_eq(all.rc, MFA_ERR_BUSY);
    x.be->rollback(x.t);
    /* released: both get in now */
    ck_assert_int_eq(pthread_create(&th, NULL, waiter_main, &all), 0);
    pthread_join(th, NULL);
    OK(all.rc);
    ck_assert_int_eq(pthread_create(&th, NULL, waiter_main, &one), 0);
    pthread_join(th, NULL);
    OK(one.rc);
    mfa_store_free(&s);
}
END_TEST

/* The library never changes a credential id, but the memory store keeps
 * its index right if a caller does: the new id is taken (EXISTS when
 * another row has it), the old one freed at commit, both as they were on
 * rollback. */
START_TEST(memory_update_rekeys_a_credential)
{
    mfa_store_t *s = NULL;
    uint8_t handle[32];
    mfa_webauthn_rec a, b, moved, probe;
    tx x;

    OK(mfa_store_memory_new(&s));
    memset(handle, 0x3c, sizeof(handle));
    a = good_passkey("00000000000000a1", handle, sizeof(handle));
    b = good_passkey("00000000000000b2", handle, sizeof(handle));
    OK(begin(s, "alice", MFA_TXN_WRITE, &x));
    OK(x.be->webauthn_insert(x.t, "alice", &a));
    OK(x.be->commit(x.t));
    OK(begin(s, "bob", MFA_TXN_WRITE, &x));
    OK(x.be->webauthn_insert(x.t, "bob", &b));
    OK(x.be->commit(x.t));
    /* onto bob's credential id: refused, nothing changed */
    moved = a;
    memcpy(moved.cred.id, b.cred.id, b.cred.id_len);
    OK(begin(s, "alice", MFA_TXN_WRITE, &x));
    ck_assert_int_eq(x.be->webauthn_update(x.t, "alice", &moved),
                     MFA_ERR_EXISTS);
    /* onto a new one, rolled back: a's id still taken, the new one free */
    moved.cred.id[1] ^= 0xff;
    OK(x.be->webauthn_update(x.t, "alice", &moved));
    x.be->rollback(x.t);
    probe = good_passkey("00000000000000c3", handle, sizeof(handle));
    memcpy(probe.cred.id, a.cred.id, a.cred.id_len);
    OK(begin(s, "carol", MFA_TXN_WRITE, &x));
    ck_assert_int_eq(x.be->webauthn_insert(x.t, "carol", &probe),
                     MFA_ERR_EXISTS);
    memcpy(probe.cred.id, moved.cred.id, moved.cred.id_len);
    OK(x.be->webauthn_insert(x.t, "carol", &probe));
    x.be->rollback(x.t);
    /* committed: the new id taken, a's free */
    OK(begin(s, "alice", MFA_TXN_WRITE, &x));
    OK(x.be->webauthn_update(x.t, "alice", &moved));
    OK(x.be->commit(x.t));
    OK(begin(s, "carol", MFA_TXN_WRITE, &x));
    ck_assert_int_eq(x.be->webauthn_insert(x.t, "carol", &probe),
                     MFA_ERR_EXISTS);
    memcpy(probe.cred.id, a.cred.id, a.cred.id_len);
    OK(x.be->webauthn_insert(x.t, "carol", &probe));
    OK(x.be->commit(x.t));
    mfa_store_free(&s);
}
END_TEST

/* Thousands of accounts: the tables grow, emptied accounts go away, and
 * every record stays reachable. */
START_TEST(memory_many_accounts)
{
    mfa_store_t *s = NULL;
    mfa_factor_rec f, page[100];
    size_t i, n = 0, total = 0;
    char acct[64] = "", id[MFA_FACTOR_ID_LEN + 1] = "";
    tx x;

    OK(mfa_store_memory_new(&s));
    memset(&f, 0, sizeof(f));
    f.type = MFA_TOTP;
    f.algorithm = MFA_SHA1;
    f.digits = 6;
    f.period = 30;
    f.last_step = MFA_STEP_NONE;
    f.sealed_len = 60;
    for (i = 0; i < 5000; i++) {
        mfa_backup_rec c = {{0}, 1};
        mfa_throttle_rec r = throttle(1);
        snprintf(f.account, sizeof(f.account), "user%zu@example.com", i);
        snprintf(f.id, sizeof(f.id), "%016zx", i);
        f.status = i % 2 ? MFA_FACTOR_ACTIVE : MFA_FACTOR_PENDING;
        f.created = (int64_t)i;
        memcpy(c.hash, &i, sizeof(i));
        OK(begin(s, f.account, MFA_TXN_WRITE, &x));
        OK(x.be->factor_insert(x.t, &f));
        OK(x.be->backup_insert(x.t, f.account, &c, 1));
        OK(x.be->throttle_put(x.t, f.account, &r));
        OK(x.be->commit(x.t));
    }
    /* pending factors created before 2500: 1250 of them */
    OK(begin(s, NULL, MFA_TXN_WRITE, &x));
    OK(x.be->factor_expire(x.t, 2500, &n));
    OK(x.be->commit(x.t));
    ck_assert_uint_eq(n, 1250);
    for (i = 0; i < 5000; i += 3) {
        snprintf(acct, sizeof(acct), "user%zu@example.com", i);
        OK(begin(s, acct, MFA_TXN_WRITE, &x));
        OK(x.be->account_delete(x.t, acct));
        OK(x.be->commit(x.t));
    }
    acct[0] = '\0';
    OK(begin(s, NULL, MFA_TXN_READ, &x));
    do {
        OK(x.be->factor_scan(x.t, acct, id, page, 100, &n));
        total += n;
        if (n > 0) {
            snprintf(acct, sizeof(acct), "%s", page[n - 1].account);
            snprintf(id, sizeof(id), "%s", page[n - 1].id);
        }
    } while (n == 100);
    OK(x.be->commit(x.t));
    {
        size_t want = 0;
        for (i = 0; i < 5000; i++)
            if (i % 3 != 0 && !(i % 2 == 0 && i < 2500))
                want++;
        ck_assert_uint_eq(total, want);
    }
    for (i = 0; i < 5000; i++) {
        mfa_factor_rec g;
        mfa_throttle_rec r;
        mfa_rc want = (i % 3 == 0 || (i % 2 == 0 && i < 2500))
                          ? MFA_ERR_NOT_FOUND
                          : MFA_OK;
        snprintf(acct, sizeof(acct), "user%zu@example.com", i);
        snprintf(id, sizeof(id), "%016zx", i);
        OK(begin(s, acct, MFA_TXN_READ, &x));
        ck_assert_int_eq(x.be->factor_get(x.t, acct, id, &g), want);
        ck_assert_int_eq(x.be->throttle_get(x.t, acct, "", &r),
                         i % 3 == 0 ? MFA_ERR_NOT_FOUND : MFA_OK);
        OK(x.be->commit(x.t));
        /* a freed id can be taken again, by anyone */
        if (want == MFA_ERR_NOT_FOUND) {
            snprintf(f.account, sizeof(f.account), "other");
            memcpy(f.id, id, sizeof(f.id));
            OK(begin(s, "other", MFA_TXN_WRITE, &x));
            OK(x.be->factor_insert(x.t, &f));
            OK(x.be->commit(x.t));
        }
    }
    mfa_store_free(&s);
}
END_TEST

static Suite *
memory_suite(void)
{
    Suite *s = suite_create("memory store");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, throttle_delay_arithmetic);
    tcase_add_test(tc, store_new_checks_the_table);
    tcase_add_test(tc, memory_specs);
    tcase_add_test(tc, damaged_passkeys_are_corrupt);
    tcase_add_test(tc, passkey_calls_check_their_input);
    tcase_add_test(tc, memory_stores_are_separate);
    tcase_add_test(tc, transactions_stay_in_their_lane);
    tcase_add_test(tc, other_accounts_in_parallel);
    tcase_add_test(tc, busy_after_the_timeout);
    tcase_add_test(tc, memory_many_accounts);
    tcase_add_test(tc, memory_update_rekeys_a_credential);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(memory_suite());
    int failed;

    srunner_add_suite(sr, mfa_conformance_suite(&memory_backend));
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);

    /* the third-party backend in a second runner: the suite keeps one
     * backend per run */
    sr = srunner_create(mfa_conformance_suite(&wrapped_backend));
    srunner_run_all(sr, CK_NORMAL);
    failed += srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
