/*
 * The store conformance suite (see store_conformance.h and docs/stores.md).
 * Every test opens a fresh store through the backend's open() and checks one
 * operation's contract from include/mfa/store.h, its edge cases, and that
 * refused input changes nothing.  The race tests run several threads on the
 * same record (on separate handles when the backend has open_again) and
 * require exactly one winner per round.
 *
 * Check runs each test in a forked child, so a backend may keep per-test
 * state in its arg; one backend per test program (the suite keeps `b` in a
 * static).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mfa.h>

#include "store_conformance.h"

static const mfa_conformance_backend *B;
static mfa_store_t *S;

static void
setup(void)
{
    mfa_rc rc;

    S = NULL;
    rc = B->open(&S, B->arg);
    ck_assert_msg(rc == MFA_OK, "%s: open: %s", B->name, mfa_strerror_name(rc));
    ck_assert_ptr_nonnull(S);
}

static void
teardown(void)
{
    mfa_store_free(&S);
}

static mfa_store_t *
open_again(void)
{
    mfa_store_t *s = NULL;
    mfa_rc rc = B->open_again(&s, B->arg);

    ck_assert_msg(rc == MFA_OK, "%s: open_again: %s", B->name,
                  mfa_strerror_name(rc));
    return s;
}

#define OK(expr) ck_assert_int_eq((expr), MFA_OK)
#define RC(expr, want) ck_assert_int_eq((expr), (want))

/* ---- helpers ------------------------------------------------------------ */

static void
idhex(char out[MFA_FACTOR_ID_LEN + 1], uint64_t n)
{
    snprintf(out, MFA_FACTOR_ID_LEN + 1, "%016llx", (unsigned long long)n);
}

static void
fill_sealed(mfa_factor_rec *f, uint32_t len, uint8_t seed)
{
    uint32_t i;

    memset(f->sealed, 0, sizeof(f->sealed));
    for (i = 0; i < len; i++)
        f->sealed[i] = (uint8_t)(seed + i * 7u);
    f->sealed_len = len;
}

static mfa_factor_rec
factor(const char *account, uint64_t n, int64_t created,
       mfa_factor_status status)
{
    mfa_factor_rec f;

    memset(&f, 0, sizeof(f));
    idhex(f.id, n);
    snprintf(f.account, sizeof(f.account), "%s", account);
    snprintf(f.label, sizeof(f.label), "phone %llu", (unsigned long long)n);
    f.type = MFA_TOTP;
    f.algorithm = MFA_SHA1;
    f.digits = 6;
    f.period = 30;
    f.t0 = 0;
    f.last_step = MFA_STEP_NONE;
    f.drift = 0;
    f.status = status;
    f.created = created;
    f.confirmed = status == MFA_FACTOR_ACTIVE ? created : 0;
    f.last_used = 0;
    fill_sealed(&f, MFA_SEALED_OVERHEAD + 20, (uint8_t)n);
    return f;
}

static void
create(const mfa_factor_rec *f)
{
    OK(mfa_store_factor_create(S, f));
}

static void
assert_factor_eq(const mfa_factor_rec *a, const mfa_factor_rec *b)
{
    ck_assert_str_eq(a->id, b->id);
    ck_assert_str_eq(a->account, b->account);
    ck_assert_str_eq(a->label, b->label);
    ck_assert_int_eq(a->type, b->type);
    ck_assert_int_eq(a->algorithm, b->algorithm);
    ck_assert_uint_eq(a->digits, b->digits);
    ck_assert_uint_eq(a->period, b->period);
    ck_assert_int_eq(a->t0, b->t0);
    ck_assert_int_eq(a->last_step, b->last_step);
    ck_assert_int_eq(a->drift, b->drift);
    ck_assert_int_eq(a->status, b->status);
    ck_assert_int_eq(a->created, b->created);
    ck_assert_int_eq(a->confirmed, b->confirmed);
    ck_assert_int_eq(a->last_used, b->last_used);
    ck_assert_uint_eq(a->sealed_len, b->sealed_len);
    ck_assert_mem_eq(a->sealed, b->sealed, a->sealed_len);
}

static mfa_factor_rec
get(const char *account, const char *id)
{
    mfa_factor_rec f;

    OK(mfa_store_factor_get(S, account, id, &f));
    return f;
}

static void
assert_missing(const char *account, const char *id)
{
    mfa_factor_rec f;

    RC(mfa_store_factor_get(S, account, id, &f), MFA_ERR_NOT_FOUND);
}

static void
hash_of(uint8_t h[MFA_BACKUP_HASHBYTES], uint32_t n, uint8_t salt)
{
    uint32_t i;

    for (i = 0; i < MFA_BACKUP_HASHBYTES; i++)
        h[i] = (uint8_t)((n >> (8 * (i % 4))) ^ (i * 31u) ^ salt);
}

static void
codes_of(mfa_backup_rec *c, size_t n, uint8_t salt, uint32_t key_id)
{
    size_t i;

    for (i = 0; i < n; i++) {
        hash_of(c[i].hash, (uint32_t)i, salt);
        c[i].key_id = key_id;
    }
}

/* True when the unused codes of account are exactly want[0..n) (any
 * order). */
static void
assert_codes(const char *account, const mfa_backup_rec *want, size_t n)
{
    mfa_backup_rec got[MFA_BACKUP_COUNT_MAX + 1];
    size_t got_n = 99, i, j;

    OK(mfa_store_backup_list(S, account, got, MFA_BACKUP_COUNT_MAX + 1,
                             &got_n));
    ck_assert_uint_eq(got_n, n);
    for (i = 0; i < n; i++) {
        int found = 0;
        for (j = 0; j < got_n; j++)
            if (memcmp(got[j].hash, want[i].hash, MFA_BACKUP_HASHBYTES) == 0 &&
                got[j].key_id == want[i].key_id)
                found++;
        ck_assert_int_eq(found, 1);
    }
}

static mfa_oob_challenge
challenge(const char *purpose, uint32_t n, int64_t created, int64_t ttl,
          int32_t attempts)
{
    mfa_oob_challenge c;

    memset(&c, 0, sizeof(c));
    hash_of(c.hash, n, 0x5a);
    c.key_id = 7;
    snprintf(c.purpose, sizeof(c.purpose), "%s", purpose);
    c.created = created;
    c.expires = created + ttl;
    c.attempts_left = attempts;
    return c;
}

static void
assert_challenge_eq(const mfa_oob_challenge *a, const mfa_oob_challenge *b)
{
    ck_assert_mem_eq(a->hash, b->hash, MFA_BACKUP_HASHBYTES);
    ck_assert_uint_eq(a->key_id, b->key_id);
    ck_assert_str_eq(a->purpose, b->purpose);
    ck_assert_int_eq(a->created, b->created);
    ck_assert_int_eq(a->expires, b->expires);
    ck_assert_int_eq(a->attempts_left, b->attempts_left);
}

/* Collects the records a list/each callback sees. */
typedef struct seen {
    mfa_factor_rec recs[64];
    size_t n;
    size_t stop_after;  /* return MFA_ERR_INTERNAL after this many; 0: never */
    mfa_store_t *store; /* when set, re-enter the store from the callback */
} seen;

static mfa_rc
collect(const mfa_factor_rec *f, void *arg)
{
    seen *s = arg;

    ck_assert_uint_lt(s->n, 64);
    s->recs[s->n++] = *f;
    if (s->store != NULL) {
        /* a callback may call the store: rotation reseals from here */
        uint8_t nsealed[MFA_SEALED_MAX];
        mfa_factor_rec cur;
        mfa_rc rc;

        memset(nsealed, 0xee, sizeof(nsealed));
        rc = mfa_store_factor_get(s->store, f->account, f->id, &cur);
        if (rc != MFA_OK)
            return rc;
        rc = mfa_store_factor_reseal(s->store, f->account, f->id, f->sealed,
                                     f->sealed_len, nsealed, 50);
        if (rc != MFA_OK)
            return rc;
    }
    if (s->stop_after != 0 && s->n >= s->stop_after)
        return MFA_ERR_INTERNAL;
    return MFA_OK;
}

/* ---- schema ---------------------------------------------------------------
 */

START_TEST(schema_version_and_migrate)
{
    int v = -1;

    OK(mfa_store_schema_version(S, &v));
    ck_assert_int_eq(v, MFA_SCHEMA_VERSION);
    OK(mfa_store_migrate(S));
    OK(mfa_store_migrate(S));
    OK(mfa_store_schema_version(S, &v));
    ck_assert_int_eq(v, MFA_SCHEMA_VERSION);
    ck_assert_ptr_nonnull(mfa_store_name(S));
    ck_assert_str_ne(mfa_store_name(S), "");
}
END_TEST

/* ---- factors ------------------------------------------------------------- */

START_TEST(factor_create_get_roundtrip)
{
    mfa_factor_rec f = factor("alice@example.com", 1, 1000, MFA_FACTOR_PENDING);
    mfa_factor_rec g, h;

    create(&f);
    g = get("alice@example.com", f.id);
    assert_factor_eq(&g, &f);

    /* every field at an unusual value, UTF-8 text, maximal sizes */
    memset(&h, 0, sizeof(h));
    idhex(h.id, 0xfedcba9876543210ull);
    memset(h.account, 'a', MFA_ACCOUNT_MAX - 2);
    memcpy(h.account + MFA_ACCOUNT_MAX - 2, "\xc3\xab", 2); /* e-diaeresis */
    memcpy(h.label, "T\xc3\xa9l\xc3\xa9phone \xf0\x9f\x93\xb1 ", 16);
    memset(h.label + 16, 'x', MFA_LABEL_MAX - 16);
    ck_assert_uint_eq(strlen(h.account), MFA_ACCOUNT_MAX);
    ck_assert_uint_eq(strlen(h.label), MFA_LABEL_MAX);
    h.type = MFA_HOTP;
    h.algorithm = MFA_SHA512;
    h.digits = 10;
    h.period = 0;
    h.t0 = 4102444800;                /* beyond 2038 */
    h.last_step = 9007199254740993LL; /* not representable as a double */
    h.drift = -3;
    h.status = MFA_FACTOR_ACTIVE;
    h.created = 4102444801;
    h.confirmed = 4102444802;
    h.last_used = 4102444803;
    fill_sealed(&h, MFA_SEALED_MAX, 0);
    h.sealed[0] = 0; /* embedded zero bytes are data */
    h.sealed[5] = 0;
    create(&h);
    g = get(h.account, h.id);
    assert_factor_eq(&g, &h);

    /* the first record is untouched */
    g = get("alice@example.com", f.id);
    assert_factor_eq(&g, &f);
}
END_TEST

START_TEST(factor_create_duplicate)
{
    mfa_factor_rec f = factor("alice", 7, 1000, MFA_FACTOR_PENDING);
    mfa_factor_rec d = factor("alice", 7, 2000, MFA_FACTOR_ACTIVE);
    mfa_factor_rec o = factor("bob", 7, 3000, MFA_FACTOR_ACTIVE);
    mfa_factor_rec g;

    create(&f);
    RC(mfa_store_factor_create(S, &d), MFA_ERR_EXISTS);
    /* ids are unique across accounts */
    RC(mfa_store_factor_create(S, &o), MFA_ERR_EXISTS);
    g = get("alice", f.id);
    assert_factor_eq(&g, &f);
    assert_missing("bob", f.id);
}
END_TEST

START_TEST(factor_get_not_found)
{
    mfa_factor_rec f = factor("alice", 1, 1000, MFA_FACTOR_ACTIVE);
    mfa_factor_rec g;
    char other[MFA_FACTOR_ID_LEN + 1];

    create(&f);
    idhex(other, 2);
    assert_missing("alice", other);
    /* a factor belongs to its account: another one does not see it */
    memset(&g, 0x55, sizeof(g));
    RC(mfa_store_factor_get(S, "bob", f.id, &g), MFA_ERR_NOT_FOUND);
    ck_assert_str_eq(g.id, "");
    assert_missing("Alice", f.id); /* accounts are compared exactly */
}
END_TEST

START_TEST(factor_list_order)
{
    /* created out of order, with a tie broken by id */
    static const int64_t created[] = {5000, 1000, 3000, 3000, 2000};
    static const uint64_t ids[] = {0x50, 0x10, 0x31, 0x30, 0x20};
    static const uint64_t want[] = {0x10, 0x20, 0x30, 0x31, 0x50};
    seen s;
    size_t i;

    for (i = 0; i < 5; i++) {
        mfa_factor_rec f =
            factor("alice", ids[i], created[i],
                   i % 2 ? MFA_FACTOR_ACTIVE : MFA_FACTOR_PENDING);
        create(&f);
    }
    {
        mfa_factor_rec f = factor("bob", 0x01, 1, MFA_FACTOR_ACTIVE);
        create(&f);
    }
    memset(&s, 0, sizeof(s));
    OK(mfa_store_factor_list(S, "alice", collect, &s));
    ck_assert_uint_eq(s.n, 5);
    for (i = 0; i < 5; i++) {
        char id[MFA_FACTOR_ID_LEN + 1];
        idhex(id, want[i]);
        ck_assert_str_eq(s.recs[i].id, id);
        ck_assert_str_eq(s.recs[i].account, "alice");
    }

    /* the callback's error stops the walk and is returned */
    memset(&s, 0, sizeof(s));
    s.stop_after = 2;
    RC(mfa_store_factor_list(S, "alice", collect, &s), MFA_ERR_INTERNAL);
    ck_assert_uint_eq(s.n, 2);

    memset(&s, 0, sizeof(s));
    OK(mfa_store_factor_list(S, "nobody", collect, &s));
    ck_assert_uint_eq(s.n, 0);
}
END_TEST

START_TEST(factor_each_all_accounts)
{
    seen s;
    size_t i, j;
    mfa_factor_rec g;

    for (i = 0; i < 12; i++) {
        char acct[16];
        mfa_factor_rec f;
        snprintf(acct, sizeof(acct), "user%zu", i % 4);
        f = factor(acct, 100 + i, (int64_t)(1000 + i),
                   i % 3 ? MFA_FACTOR_ACTIVE : MFA_FACTOR_PENDING);
        create(&f);
    }
    memset(&s, 0, sizeof(s));
    OK(mfa_store_factor_each(S, collect, &s));
    ck_assert_uint_eq(s.n, 12);
    for (i = 0; i < 12; i++) {
        char id[MFA_FACTOR_ID_LEN + 1];
        int found = 0;
        idhex(id, 100 + i);
        for (j = 0; j < s.n; j++)
            found += strcmp(s.recs[j].id, id) == 0;
        ck_assert_int_eq(found, 1);
    }

    memset(&s, 0, sizeof(s));
    s.stop_after = 3;
    RC(mfa_store_factor_each(S, collect, &s), MFA_ERR_INTERNAL);
    ck_assert_uint_eq(s.n, 3);

    /* callbacks may call the store (a rotation reseals every factor) */
    memset(&s, 0, sizeof(s));
    s.store = S;
    OK(mfa_store_factor_each(S, collect, &s));
    ck_assert_uint_eq(s.n, 12);
    for (i = 0; i < s.n; i++) {
        g = get(s.recs[i].account, s.recs[i].id);
        ck_assert_uint_eq(g.sealed_len, 50);
        ck_assert_uint_eq(g.sealed[49], 0xee);
    }
}
END_TEST

START_TEST(factor_activate)
{
    mfa_factor_rec f = factor("alice", 1, 1000, MFA_FACTOR_PENDING);
    mfa_factor_rec old = factor("alice", 2, 999, MFA_FACTOR_PENDING);
    mfa_factor_rec edge = factor("alice", 3, 1000, MFA_FACTOR_PENDING);
    mfa_factor_rec g, want;
    char missing[MFA_FACTOR_ID_LEN + 1];

    create(&f);
    create(&old);
    create(&edge);
    idhex(missing, 4);

    OK(mfa_store_factor_activate(S, "alice", f.id, 55, -1, 1000, 1700));
    g = get("alice", f.id);
    want = f;
    want.status = MFA_FACTOR_ACTIVE;
    want.last_step = 55;
    want.drift = -1;
    want.confirmed = 1700;
    want.last_used = 1700;
    assert_factor_eq(&g, &want);

    /* only once */
    RC(mfa_store_factor_activate(S, "alice", f.id, 56, 0, 1000, 1701),
       MFA_ERR_STATE);
    g = get("alice", f.id);
    assert_factor_eq(&g, &want);

    /* created before created_after: too old, and still pending */
    RC(mfa_store_factor_activate(S, "alice", old.id, 55, 0, 1000, 1700),
       MFA_ERR_EXPIRED);
    g = get("alice", old.id);
    assert_factor_eq(&g, &old);
    /* created exactly at created_after is in time */
    OK(mfa_store_factor_activate(S, "alice", edge.id, 0, 0, 1000, 1600));
    g = get("alice", edge.id);
    ck_assert_int_eq(g.status, MFA_FACTOR_ACTIVE);
    ck_assert_int_eq(g.last_step, 0);

    RC(mfa_store_factor_activate(S, "alice", missing, 1, 0, 0, 1700),
       MFA_ERR_NOT_FOUND);
    RC(mfa_store_factor_activate(S, "bob", old.id, 1, 0, 0, 1700),
       MFA_ERR_NOT_FOUND);
    g = get("alice", old.id);
    assert_factor_eq(&g, &old);
}
END_TEST

START_TEST(factor_advance_cas)
{
    mfa_factor_rec f = factor("alice", 1, 1000, MFA_FACTOR_ACTIVE);
    mfa_factor_rec p = factor("alice", 2, 1000, MFA_FACTOR_PENDING);
    mfa_factor_rec h = factor("alice", 3, 1000, MFA_FACTOR_ACTIVE);
    mfa_factor_rec g;

    f.last_step = 100;
    create(&f);
    create(&p);
    h.type = MFA_HOTP;
    h.period = 0;
    h.last_step = MFA_STEP_NONE; /* HOTP started at counter 0 */
    create(&h);

    OK(mfa_store_factor_advance(S, "alice", f.id, 101, 1, 2000));
    g = get("alice", f.id);
    ck_assert_int_eq(g.last_step, 101);
    ck_assert_int_eq(g.drift, 1);
    ck_assert_int_eq(g.last_used, 2000);

    /* the same step again, or an older one: replayed, nothing changes */
    RC(mfa_store_factor_advance(S, "alice", f.id, 101, 0, 2001),
       MFA_ERR_REPLAYED);
    RC(mfa_store_factor_advance(S, "alice", f.id, 50, -2, 2002),
       MFA_ERR_REPLAYED);
    g = get("alice", f.id);
    ck_assert_int_eq(g.last_step, 101);
    ck_assert_int_eq(g.drift, 1);
    ck_assert_int_eq(g.last_used, 2000);

    /* a jump forward is fine */
    OK(mfa_store_factor_advance(S, "alice", f.id, 1000000, -2, 2003));
    g = get("alice", f.id);
    ck_assert_int_eq(g.last_step, 1000000);
    ck_assert_int_eq(g.drift, -2);

    /* only active factors advance */
    RC(mfa_store_factor_advance(S, "alice", p.id, 5, 0, 2004), MFA_ERR_STATE);
    g = get("alice", p.id);
    assert_factor_eq(&g, &p);

    /* HOTP counter 0 is above MFA_STEP_NONE */
    OK(mfa_store_factor_advance(S, "alice", h.id, 0, 0, 2005));
    RC(mfa_store_factor_advance(S, "alice", h.id, 0, 0, 2006),
       MFA_ERR_REPLAYED);
    OK(mfa_store_factor_advance(S, "alice", h.id, 1, 0, 2007));

    RC(mfa_store_factor_advance(S, "bob", f.id, 2000000, 0, 2008),
       MFA_ERR_NOT_FOUND);
    g = get("alice", f.id);
    ck_assert_int_eq(g.last_step, 1000000);
}
END_TEST

START_TEST(factor_reseal_cas)
{
    mfa_factor_rec f = factor("alice", 1, 1000, MFA_FACTOR_ACTIVE);
    uint8_t n1[MFA_SEALED_MAX], n2[MFA_SEALED_MAX];
    mfa_factor_rec g;
    char missing[MFA_FACTOR_ID_LEN + 1];

    create(&f);
    memset(n1, 0x11, sizeof(n1));
    memset(n2, 0x22, sizeof(n2));
    idhex(missing, 9);

    /* old does not match: a concurrent rotation won */
    RC(mfa_store_factor_reseal(S, "alice", f.id, n2, f.sealed_len, n1, 70),
       MFA_ERR_STATE);
    /* a prefix of the stored value is not equal to it */
    RC(mfa_store_factor_reseal(S, "alice", f.id, f.sealed, f.sealed_len - 1, n1,
                               70),
       MFA_ERR_STATE);
    g = get("alice", f.id);
    assert_factor_eq(&g, &f);

    OK(mfa_store_factor_reseal(S, "alice", f.id, f.sealed, f.sealed_len, n1,
                               70));
    g = get("alice", f.id);
    ck_assert_uint_eq(g.sealed_len, 70);
    ck_assert_mem_eq(g.sealed, n1, 70);
    /* nothing else changed */
    g.sealed_len = f.sealed_len;
    memcpy(g.sealed, f.sealed, f.sealed_len);
    assert_factor_eq(&g, &f);

    /* the old value is gone: a second rotation from it fails */
    RC(mfa_store_factor_reseal(S, "alice", f.id, f.sealed, f.sealed_len, n2,
                               MFA_SEALED_MAX),
       MFA_ERR_STATE);
    OK(mfa_store_factor_reseal(S, "alice", f.id, n1, 70, n2, MFA_SEALED_MAX));
    g = get("alice", f.id);
    ck_assert_uint_eq(g.sealed_len, MFA_SEALED_MAX);
    ck_assert_mem_eq(g.sealed, n2, MFA_SEALED_MAX);

    RC(mfa_store_factor_reseal(S, "alice", missing, n2, MFA_SEALED_MAX, n1, 70),
       MFA_ERR_NOT_FOUND);
    RC(mfa_store_factor_reseal(S, "bob", f.id, n2, MFA_SEALED_MAX, n1, 70),
       MFA_ERR_NOT_FOUND);
}
END_TEST

START_TEST(factor_expire_pending)
{
    mfa_factor_rec p1 = factor("alice", 1, 100, MFA_FACTOR_PENDING);
    mfa_factor_rec p2 = factor("bob", 2, 499, MFA_FACTOR_PENDING);
    mfa_factor_rec p3 = factor("bob", 3, 500, MFA_FACTOR_PENDING);
    mfa_factor_rec a1 = factor("alice", 4, 100, MFA_FACTOR_ACTIVE);
    mfa_factor_rec g;
    size_t n = 99;

    create(&p1);
    create(&p2);
    create(&p3);
    create(&a1);
    OK(mfa_store_factor_expire(S, 500, &n));
    ck_assert_uint_eq(n, 2);
    assert_missing("alice", p1.id);
    assert_missing("bob", p2.id);
    g = get("bob", p3.id);
    assert_factor_eq(&g, &p3);
    g = get("alice", a1.id);
    assert_factor_eq(&g, &a1);
    OK(mfa_store_factor_expire(S, 500, &n));
    ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(factor_rename_remove)
{
    mfa_factor_rec f = factor("alice", 1, 1000, MFA_FACTOR_ACTIVE);
    mfa_factor_rec o = factor("alice", 2, 1001, MFA_FACTOR_ACTIVE);
    mfa_factor_rec g;

    create(&f);
    create(&o);
    OK(mfa_store_factor_rename(S, "alice", f.id, "Pixel 8 \xe2\x80\x94 work"));
    g = get("alice", f.id);
    ck_assert_str_eq(g.label, "Pixel 8 \xe2\x80\x94 work");
    memcpy(g.label, f.label, sizeof(g.label));
    assert_factor_eq(&g, &f);
    OK(mfa_store_factor_rename(S, "alice", f.id, ""));
    g = get("alice", f.id);
    ck_assert_str_eq(g.label, "");
    RC(mfa_store_factor_rename(S, "bob", f.id, "x"), MFA_ERR_NOT_FOUND);
    g = get("alice", f.id);
    ck_assert_str_eq(g.label, "");

    RC(mfa_store_factor_remove(S, "bob", f.id), MFA_ERR_NOT_FOUND);
    OK(mfa_store_factor_remove(S, "alice", f.id));
    assert_missing("alice", f.id);
    RC(mfa_store_factor_remove(S, "alice", f.id), MFA_ERR_NOT_FOUND);
    RC(mfa_store_factor_rename(S, "alice", f.id, "x"), MFA_ERR_NOT_FOUND);
    RC(mfa_store_factor_advance(S, "alice", f.id, 1, 0, 1), MFA_ERR_NOT_FOUND);
    g = get("alice", o.id);
    assert_factor_eq(&g, &o);
    /* the id is free again */
    create(&f);
}
END_TEST

/* ---- throttle ------------------------------------------------------------ */

static void
assert_state(const mfa_throttle_state *st, uint32_t failures, int64_t until)
{
    ck_assert_uint_eq(st->failures, failures);
    ck_assert_int_eq(st->locked_until, until);
}

START_TEST(throttle_semantics)
{
    const mfa_throttle_policy p = {3, 10, 60};
    mfa_throttle_state st;
    int64_t t = 100000;
    uint32_t i;

    OK(mfa_store_throttle_get(S, "alice", &st));
    assert_state(&st, 0, 0);

    /* free attempts: counted, no delay */
    for (i = 1; i <= 3; i++) {
        OK(mfa_store_throttle_hit(S, "alice", t, &p, &st));
        assert_state(&st, i, t);
    }
    /* the fourth failure starts the delay */
    OK(mfa_store_throttle_hit(S, "alice", t, &p, &st));
    assert_state(&st, 4, t + 10);
    /* attempts while locked are refused and still counted */
    RC(mfa_store_throttle_hit(S, "alice", t + 5, &p, &st), MFA_ERR_THROTTLED);
    assert_state(&st, 5, t + 10);
    RC(mfa_store_throttle_hit(S, "alice", t + 9, &p, &st), MFA_ERR_THROTTLED);
    assert_state(&st, 6, t + 10);
    OK(mfa_store_throttle_get(S, "alice", &st));
    assert_state(&st, 6, t + 10);
    /* at locked_until the attempt may be checked again; the delay grows with
     * every failure counted, also the refused ones */
    t += 10;
    OK(mfa_store_throttle_hit(S, "alice", t, &p, &st));
    ck_assert_uint_eq(mfa_throttle_delay(&p, 7), 60); /* 10 * 2^3 capped */
    assert_state(&st, 7, t + 60);
    t += 60;
    OK(mfa_store_throttle_hit(S, "alice", t, &p, &st));
    assert_state(&st, 8, t + 60);

    /* other accounts are independent */
    OK(mfa_store_throttle_get(S, "bob", &st));
    assert_state(&st, 0, 0);
    OK(mfa_store_throttle_hit(S, "bob", t, &p, &st));
    assert_state(&st, 1, t);

    /* a success resets */
    OK(mfa_store_throttle_reset(S, "alice"));
    OK(mfa_store_throttle_get(S, "alice", &st));
    assert_state(&st, 0, 0);
    OK(mfa_store_throttle_hit(S, "alice", t + 1, &p, &st));
    assert_state(&st, 1, t + 1);
    OK(mfa_store_throttle_get(S, "bob", &st));
    assert_state(&st, 1, t);
    /* resetting an account without state is fine */
    OK(mfa_store_throttle_reset(S, "carol"));
}
END_TEST

START_TEST(throttle_policy_changes)
{
    /* the delay is computed from the policy of each call */
    const mfa_throttle_policy strict = {0, 5, 1000};
    const mfa_throttle_policy lax = {100, 5, 1000};
    const mfa_throttle_policy huge = {0, UINT32_MAX, UINT32_MAX};
    mfa_throttle_state st;

    OK(mfa_store_throttle_hit(S, "alice", 50, &strict, &st));
    assert_state(&st, 1, 55);
    OK(mfa_store_throttle_hit(S, "alice", 55, &strict, &st));
    assert_state(&st, 2, 65);
    OK(mfa_store_throttle_hit(S, "alice", 65, &lax, &st));
    assert_state(&st, 3, 65);
    /* large delays do not wrap */
    OK(mfa_store_throttle_hit(S, "bob", 4102444800, &huge, &st));
    assert_state(&st, 1, 4102444800 + (int64_t)UINT32_MAX);
    RC(mfa_store_throttle_hit(S, "bob", 4102444800 + 1, &huge, &st),
       MFA_ERR_THROTTLED);
    assert_state(&st, 2, 4102444800 + (int64_t)UINT32_MAX);
}
END_TEST

/* ---- backup codes -------------------------------------------------------- */

START_TEST(backup_replace_list_spend)
{
    mfa_backup_rec c[10], d[12], e[10], out[4];
    size_t n = 99;

    codes_of(c, 10, 0x01, 1);
    codes_of(d, 12, 0x02, 2);
    codes_of(e, 10, 0x01, 1); /* same hashes as alice's, other account */

    OK(mfa_store_backup_list(S, "alice", out, 4, &n));
    ck_assert_uint_eq(n, 0);
    OK(mfa_store_backup_replace(S, "alice", c, 10, 1000));
    OK(mfa_store_backup_replace(S, "bob", e, 10, 1000));
    assert_codes("alice", c, 10);

    /* at most max */
    OK(mfa_store_backup_list(S, "alice", out, 4, &n));
    ck_assert_uint_eq(n, 4);

    /* spend exactly once */
    OK(mfa_store_backup_spend(S, "alice", c[3].hash, 1100));
    RC(mfa_store_backup_spend(S, "alice", c[3].hash, 1101), MFA_ERR_NOT_FOUND);
    c[3] = c[9];
    assert_codes("alice", c, 9);
    /* bob's copy of the same hash is his own */
    assert_codes("bob", e, 10);
    OK(mfa_store_backup_spend(S, "bob", e[3].hash, 1102));
    e[3] = e[9];
    assert_codes("bob", e, 9);
    /* unknown hashes and other accounts' codes are not there */
    RC(mfa_store_backup_spend(S, "alice", d[0].hash, 1103), MFA_ERR_NOT_FOUND);
    RC(mfa_store_backup_spend(S, "carol", c[0].hash, 1103), MFA_ERR_NOT_FOUND);
    assert_codes("alice", c, 9);

    /* a new set replaces the old one, used codes included */
    OK(mfa_store_backup_replace(S, "alice", d, 12, 2000));
    assert_codes("alice", d, 12);
    RC(mfa_store_backup_spend(S, "alice", c[0].hash, 2001), MFA_ERR_NOT_FOUND);
    OK(mfa_store_backup_spend(S, "alice", d[11].hash, 2002));
    assert_codes("alice", d, 11);

    /* an empty set removes them all */
    OK(mfa_store_backup_replace(S, "alice", NULL, 0, 3000));
    assert_codes("alice", NULL, 0);
    RC(mfa_store_backup_spend(S, "alice", d[0].hash, 3001), MFA_ERR_NOT_FOUND);

    /* the largest set */
    {
        mfa_backup_rec big[MFA_BACKUP_COUNT_MAX];
        codes_of(big, MFA_BACKUP_COUNT_MAX, 0x03, 0xffffffffu);
        OK(mfa_store_backup_replace(S, "alice", big, MFA_BACKUP_COUNT_MAX,
                                    4000));
        assert_codes("alice", big, MFA_BACKUP_COUNT_MAX);
    }
    OK(mfa_store_backup_list(S, "alice", NULL, 0, &n));
    ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(backup_spend_at_time_zero)
{
    mfa_backup_rec c[2];

    codes_of(c, 2, 0x09, 1);
    OK(mfa_store_backup_replace(S, "alice", c, 2, 0));
    /* a clock at 0 still marks the code used */
    OK(mfa_store_backup_spend(S, "alice", c[0].hash, 0));
    RC(mfa_store_backup_spend(S, "alice", c[0].hash, 0), MFA_ERR_NOT_FOUND);
    assert_codes("alice", c + 1, 1);
}
END_TEST

/* ---- out-of-band challenges ---------------------------------------------- */

START_TEST(oob_put_take)
{
    mfa_oob_challenge c = challenge("sms", 1, 1000, 600, 3);
    mfa_oob_challenge e = challenge("email", 2, 1000, 60, 1);
    mfa_oob_challenge got, want;

    RC(mfa_store_oob_take(S, "alice", "sms", 1000, &got), MFA_ERR_NOT_FOUND);
    OK(mfa_store_oob_put(S, "alice", &c));
    OK(mfa_store_oob_put(S, "alice", &e));

    /* each take uses one attempt and returns the state before it */
    want = c;
    OK(mfa_store_oob_take(S, "alice", "sms", 1000, &got));
    assert_challenge_eq(&got, &want);
    want.attempts_left = 2;
    OK(mfa_store_oob_take(S, "alice", "sms", 1001, &got));
    assert_challenge_eq(&got, &want);
    want.attempts_left = 1;
    OK(mfa_store_oob_take(S, "alice", "sms", 1599, &got));
    assert_challenge_eq(&got, &want);
    RC(mfa_store_oob_take(S, "alice", "sms", 1002, &got), MFA_ERR_ATTEMPTS);
    RC(mfa_store_oob_take(S, "alice", "sms", 1003, &got), MFA_ERR_ATTEMPTS);

    /* purposes are separate */
    OK(mfa_store_oob_take(S, "alice", "email", 1059, &got));
    assert_challenge_eq(&got, &e);
    /* expiry comes first, and at `expires` it is over */
    RC(mfa_store_oob_take(S, "alice", "email", 1060, &got), MFA_ERR_EXPIRED);
    RC(mfa_store_oob_take(S, "alice", "sms", 1600, &got), MFA_ERR_EXPIRED);

    /* other accounts have none */
    RC(mfa_store_oob_take(S, "bob", "sms", 1000, &got), MFA_ERR_NOT_FOUND);
    RC(mfa_store_oob_take(S, "alice", "voice", 1000, &got), MFA_ERR_NOT_FOUND);
}
END_TEST

START_TEST(oob_replace_and_spend)
{
    mfa_oob_challenge c1 = challenge("sms", 1, 1000, 600, 5);
    mfa_oob_challenge c2 = challenge("sms", 2, 1010, 600, 5);
    mfa_oob_challenge b1 = challenge("sms", 1, 1000, 600, 5);
    mfa_oob_challenge got;

    OK(mfa_store_oob_put(S, "alice", &c1));
    OK(mfa_store_oob_put(S, "bob", &b1));
    OK(mfa_store_oob_take(S, "alice", "sms", 1005, &got));
    /* a new challenge for the purpose replaces the old one entirely */
    OK(mfa_store_oob_put(S, "alice", &c2));
    OK(mfa_store_oob_take(S, "alice", "sms", 1011, &got));
    assert_challenge_eq(&got, &c2);
    RC(mfa_store_oob_spend(S, "alice", "sms", c1.hash), MFA_ERR_NOT_FOUND);

    /* spend exactly once */
    OK(mfa_store_oob_spend(S, "alice", "sms", c2.hash));
    RC(mfa_store_oob_spend(S, "alice", "sms", c2.hash), MFA_ERR_NOT_FOUND);
    RC(mfa_store_oob_take(S, "alice", "sms", 1012, &got), MFA_ERR_NOT_FOUND);
    /* bob's is untouched, and only his purpose */
    RC(mfa_store_oob_spend(S, "bob", "email", b1.hash), MFA_ERR_NOT_FOUND);
    OK(mfa_store_oob_take(S, "bob", "sms", 1012, &got));
    assert_challenge_eq(&got, &b1);
    OK(mfa_store_oob_spend(S, "bob", "sms", b1.hash));
}
END_TEST

/* ---- account reset ------------------------------------------------------- */

static void
populate(const char *account, uint64_t base)
{
    mfa_factor_rec f1 = factor(account, base + 1, 1000, MFA_FACTOR_ACTIVE);
    mfa_factor_rec f2 = factor(account, base + 2, 1001, MFA_FACTOR_PENDING);
    mfa_backup_rec c[5];
    mfa_oob_challenge o1 = challenge("sms", 1, 1000, 600, 5);
    mfa_oob_challenge o2 = challenge("email", 2, 1000, 600, 5);
    const mfa_throttle_policy p = {5, 30, 3600};
    mfa_throttle_state st;

    create(&f1);
    create(&f2);
    codes_of(c, 5, (uint8_t)base, 1);
    OK(mfa_store_backup_replace(S, account, c, 5, 1000));
    OK(mfa_store_oob_put(S, account, &o1));
    OK(mfa_store_oob_put(S, account, &o2));
    OK(mfa_store_throttle_hit(S, account, 1000, &p, &st));
}

START_TEST(account_reset_one_account)
{
    mfa_backup_rec c[5];
    mfa_throttle_state st;
    mfa_oob_challenge got;
    mfa_factor_rec g;
    seen s;
    char id[MFA_FACTOR_ID_LEN + 1];

    populate("alice", 0x100);
    populate("bob", 0x200);
    OK(mfa_store_account_reset(S, "alice"));

    memset(&s, 0, sizeof(s));
    OK(mfa_store_factor_list(S, "alice", collect, &s));
    ck_assert_uint_eq(s.n, 0);
    assert_codes("alice", NULL, 0);
    OK(mfa_store_throttle_get(S, "alice", &st));
    assert_state(&st, 0, 0);
    RC(mfa_store_oob_take(S, "alice", "sms", 1001, &got), MFA_ERR_NOT_FOUND);
    RC(mfa_store_oob_take(S, "alice", "email", 1001, &got), MFA_ERR_NOT_FOUND);

    /* bob keeps everything */
    memset(&s, 0, sizeof(s));
    OK(mfa_store_factor_list(S, "bob", collect, &s));
    ck_assert_uint_eq(s.n, 2);
    idhex(id, 0x201);
    g = get("bob", id);
    ck_assert_int_eq(g.status, MFA_FACTOR_ACTIVE);
    codes_of(c, 5, (uint8_t)0x200, 1); /* as populate() made them */
    assert_codes("bob", c, 5);
    OK(mfa_store_throttle_get(S, "bob", &st));
    assert_state(&st, 1, 1000);
    OK(mfa_store_oob_take(S, "bob", "sms", 1001, &got));
    OK(mfa_store_oob_take(S, "bob", "email", 1001, &got));

    /* resetting an unknown or empty account is not an error */
    OK(mfa_store_account_reset(S, "alice"));
    OK(mfa_store_account_reset(S, "nobody"));
    /* the account can start over */
    populate("alice", 0x100);
}
END_TEST

/* ---- refused input changes nothing --------------------------------------- */

START_TEST(bad_input_changes_nothing)
{
    mfa_factor_rec f = factor("alice", 1, 1000, MFA_FACTOR_ACTIVE), b, g;
    mfa_backup_rec c[MFA_BACKUP_COUNT_MAX + 1];
    mfa_oob_challenge o = challenge("sms", 1, 1000, 600, 5), ob, got;
    const mfa_throttle_policy p = {0, 30, 60};
    mfa_throttle_state st;
    char longacct[MFA_ACCOUNT_MAX + 2];
    char longlabel[MFA_LABEL_MAX + 2];
    size_t n;

    create(&f);
    codes_of(c, MFA_BACKUP_COUNT_MAX + 1, 0x44, 1);
    OK(mfa_store_backup_replace(S, "alice", c, 3, 1000));
    OK(mfa_store_oob_put(S, "alice", &o));
    memset(longacct, 'a', sizeof(longacct) - 1);
    longacct[sizeof(longacct) - 1] = '\0';
    memset(longlabel, 'l', sizeof(longlabel) - 1);
    longlabel[sizeof(longlabel) - 1] = '\0';

    /* factor records */
    b = factor("alice", 2, 1000, MFA_FACTOR_ACTIVE);
    b.digits = 5;
    RC(mfa_store_factor_create(S, &b), MFA_ERR_DIGITS);
    b.digits = 11;
    RC(mfa_store_factor_create(S, &b), MFA_ERR_DIGITS);
    b = factor("alice", 2, 1000, MFA_FACTOR_ACTIVE);
    b.period = 0;
    RC(mfa_store_factor_create(S, &b), MFA_ERR_PERIOD);
    b.period = MFA_PERIOD_MAX + 1;
    RC(mfa_store_factor_create(S, &b), MFA_ERR_PERIOD);
    b = factor("alice", 2, 1000, MFA_FACTOR_ACTIVE);
    b.algorithm = (mfa_algorithm)3;
    RC(mfa_store_factor_create(S, &b), MFA_ERR_ALGORITHM);
    b = factor("alice", 2, 1000, MFA_FACTOR_ACTIVE);
    b.type = (mfa_otp_type)2;
    RC(mfa_store_factor_create(S, &b), MFA_ERR_TYPE);
    b = factor("alice", 2, 1000, MFA_FACTOR_ACTIVE);
    b.sealed_len = 0;
    RC(mfa_store_factor_create(S, &b), MFA_ERR_SEALED_FORMAT);
    b.sealed_len = MFA_SEALED_MAX + 1;
    RC(mfa_store_factor_create(S, &b), MFA_ERR_SEALED_FORMAT);
    b = factor("alice", 2, 1000, MFA_FACTOR_ACTIVE);
    b.status = (mfa_factor_status)2;
    RC(mfa_store_factor_create(S, &b), MFA_ERR_INVALID);
    b = factor("alice", 2, -1, MFA_FACTOR_ACTIVE);
    RC(mfa_store_factor_create(S, &b), MFA_ERR_INVALID);
    b = factor("alice", 2, 1000, MFA_FACTOR_ACTIVE);
    b.last_step = -2;
    RC(mfa_store_factor_create(S, &b), MFA_ERR_INVALID);
    b = factor("alice", 2, 1000, MFA_FACTOR_ACTIVE);
    memcpy(b.id, "00000000000000A2", MFA_FACTOR_ID_LEN); /* uppercase */
    RC(mfa_store_factor_create(S, &b), MFA_ERR_INVALID);
    memcpy(b.id, "0000000000000002", MFA_FACTOR_ID_LEN);
    b.id[15] = '\0';
    RC(mfa_store_factor_create(S, &b), MFA_ERR_INVALID);
    b = factor("alice", 2, 1000, MFA_FACTOR_ACTIVE);
    memset(b.label, 'l', sizeof(b.label)); /* not terminated */
    RC(mfa_store_factor_create(S, &b), MFA_ERR_TOO_LONG);
    b = factor("alice", 2, 1000, MFA_FACTOR_ACTIVE);
    memcpy(b.label, "bad \xc3\x28", 7); /* invalid UTF-8 */
    RC(mfa_store_factor_create(S, &b), MFA_ERR_UTF8);
    memcpy(b.label, "over \xc0\xaf", 8); /* overlong '/' */
    RC(mfa_store_factor_create(S, &b), MFA_ERR_UTF8);
    memcpy(b.label, "sur \xed\xa0\x80", 8); /* a surrogate */
    RC(mfa_store_factor_create(S, &b), MFA_ERR_UTF8);
    memcpy(b.label, "nl\n", 4);
    RC(mfa_store_factor_create(S, &b), MFA_ERR_CONTROL_CHAR);
    b = factor("", 2, 1000, MFA_FACTOR_ACTIVE);
    RC(mfa_store_factor_create(S, &b), MFA_ERR_EMPTY);
    RC(mfa_store_factor_create(S, NULL), MFA_ERR_INVALID);
    RC(mfa_store_factor_create(NULL, &f), MFA_ERR_INVALID);

    /* strings of the other calls */
    RC(mfa_store_factor_get(S, longacct, f.id, &g), MFA_ERR_TOO_LONG);
    RC(mfa_store_factor_get(S, "alice", "123", &g), MFA_ERR_INVALID);
    RC(mfa_store_factor_get(S, NULL, f.id, &g), MFA_ERR_INVALID);
    RC(mfa_store_factor_get(S, "alice", NULL, &g), MFA_ERR_INVALID);
    RC(mfa_store_factor_get(S, "alice", f.id, NULL), MFA_ERR_INVALID);
    RC(mfa_store_factor_rename(S, "alice", f.id, longlabel), MFA_ERR_TOO_LONG);
    RC(mfa_store_factor_rename(S, "alice", f.id, "a\x7f"),
       MFA_ERR_CONTROL_CHAR);
    RC(mfa_store_factor_rename(S, "alice", f.id, "\xc2\x85"),
       MFA_ERR_CONTROL_CHAR); /* C1 NEL */
    RC(mfa_store_factor_rename(S, "alice", f.id, NULL), MFA_ERR_INVALID);
    RC(mfa_store_factor_advance(S, "alice", f.id, -1, 0, 1), MFA_ERR_INVALID);
    RC(mfa_store_factor_advance(S, "al\xffice", f.id, 5, 0, 1), MFA_ERR_UTF8);
    RC(mfa_store_factor_remove(S, "alice", "0000000000000001 "),
       MFA_ERR_INVALID);
    RC(mfa_store_factor_reseal(S, "alice", f.id, f.sealed, f.sealed_len,
                               f.sealed, 0),
       MFA_ERR_SEALED_FORMAT);
    RC(mfa_store_factor_reseal(S, "alice", f.id, f.sealed, f.sealed_len,
                               f.sealed, MFA_SEALED_MAX + 1),
       MFA_ERR_SEALED_FORMAT);
    RC(mfa_store_factor_list(S, "alice", NULL, NULL), MFA_ERR_INVALID);
    RC(mfa_store_factor_each(S, NULL, NULL), MFA_ERR_INVALID);
    RC(mfa_store_throttle_hit(S, "alice", 1000, NULL, &st), MFA_ERR_INVALID);
    RC(mfa_store_throttle_hit(S, "", 1000, &p, &st), MFA_ERR_EMPTY);
    /* times beyond year 9999 (where now + delay could overflow) or before
     * 1970 */
    RC(mfa_store_throttle_hit(S, "alice", INT64_MAX, &p, &st), MFA_ERR_INVALID);
    RC(mfa_store_throttle_hit(S, "alice", -1, &p, &st), MFA_ERR_INVALID);
    RC(mfa_store_factor_advance(S, "alice", f.id, 5, 0, INT64_MAX),
       MFA_ERR_INVALID);
    RC(mfa_store_throttle_reset(S, longacct), MFA_ERR_TOO_LONG);

    /* backup sets */
    RC(mfa_store_backup_replace(S, "alice", c, MFA_BACKUP_COUNT_MAX + 1, 2000),
       MFA_ERR_INVALID);
    c[1] = c[0];
    RC(mfa_store_backup_replace(S, "alice", c, 3, 2000), MFA_ERR_INVALID);
    RC(mfa_store_backup_replace(S, "alice", NULL, 3, 2000), MFA_ERR_INVALID);
    RC(mfa_store_backup_spend(S, "alice", NULL, 2000), MFA_ERR_INVALID);
    RC(mfa_store_backup_list(S, "alice", NULL, 3, &n), MFA_ERR_INVALID);

    /* challenges */
    ob = o;
    ob.purpose[0] = '\0';
    RC(mfa_store_oob_put(S, "alice", &ob), MFA_ERR_EMPTY);
    memcpy(ob.purpose, "s ms", 5);
    RC(mfa_store_oob_put(S, "alice", &ob), MFA_ERR_INVALID);
    ob = o;
    memset(ob.purpose, 'p', sizeof(ob.purpose));
    RC(mfa_store_oob_put(S, "alice", &ob), MFA_ERR_TOO_LONG);
    ob = o;
    ob.attempts_left = -1;
    RC(mfa_store_oob_put(S, "alice", &ob), MFA_ERR_INVALID);
    ob = o;
    ob.expires = ob.created - 1;
    RC(mfa_store_oob_put(S, "alice", &ob), MFA_ERR_INVALID);
    ob = o;
    ob.expires = INT64_MAX;
    RC(mfa_store_oob_put(S, "alice", &ob), MFA_ERR_INVALID);
    RC(mfa_store_oob_take(S, "alice", "", 1000, &got), MFA_ERR_EMPTY);
    RC(mfa_store_oob_spend(S, "alice", "sms", NULL), MFA_ERR_INVALID);
    RC(mfa_store_account_reset(S, ""), MFA_ERR_EMPTY);
    RC(mfa_store_account_reset(S, NULL), MFA_ERR_INVALID);

    /* and nothing changed */
    g = get("alice", f.id);
    assert_factor_eq(&g, &f);
    assert_missing("alice", "0000000000000002");
    codes_of(c, 3, 0x44, 1);
    assert_codes("alice", c, 3);
    OK(mfa_store_throttle_get(S, "alice", &st));
    assert_state(&st, 0, 0);
    OK(mfa_store_oob_take(S, "alice", "sms", 1000, &got));
    assert_challenge_eq(&got, &o);
}
END_TEST

/* ---- a second handle ----------------------------------------------------- */

START_TEST(second_handle_sees_the_same_data)
{
    mfa_store_t *s2 = open_again();
    mfa_factor_rec f = factor("alice", 1, 1000, MFA_FACTOR_PENDING), g;
    mfa_backup_rec c[3];
    mfa_oob_challenge o = challenge("sms", 1, 1000, 600, 5), got;
    const mfa_throttle_policy p = {5, 30, 3600};
    mfa_throttle_state st;

    create(&f);
    OK(mfa_store_factor_get(s2, "alice", f.id, &g));
    assert_factor_eq(&g, &f);
    OK(mfa_store_factor_activate(s2, "alice", f.id, 10, 0, 0, 1100));
    RC(mfa_store_factor_activate(S, "alice", f.id, 10, 0, 0, 1100),
       MFA_ERR_STATE);
    OK(mfa_store_factor_advance(S, "alice", f.id, 11, 0, 1110));
    RC(mfa_store_factor_advance(s2, "alice", f.id, 11, 0, 1110),
       MFA_ERR_REPLAYED);

    codes_of(c, 3, 0x77, 1);
    OK(mfa_store_backup_replace(s2, "alice", c, 3, 1000));
    OK(mfa_store_backup_spend(S, "alice", c[0].hash, 1001));
    RC(mfa_store_backup_spend(s2, "alice", c[0].hash, 1002), MFA_ERR_NOT_FOUND);

    OK(mfa_store_oob_put(S, "alice", &o));
    OK(mfa_store_oob_take(s2, "alice", "sms", 1001, &got));
    OK(mfa_store_oob_take(S, "alice", "sms", 1001, &got));
    ck_assert_int_eq(got.attempts_left, 4);
    OK(mfa_store_oob_spend(s2, "alice", "sms", o.hash));
    RC(mfa_store_oob_spend(S, "alice", "sms", o.hash), MFA_ERR_NOT_FOUND);

    OK(mfa_store_throttle_hit(S, "alice", 1000, &p, &st));
    OK(mfa_store_throttle_hit(s2, "alice", 1000, &p, &st));
    ck_assert_uint_eq(st.failures, 2);

    OK(mfa_store_account_reset(s2, "alice"));
    assert_missing("alice", f.id);
    mfa_store_free(&s2);
}
END_TEST

/* ---- races -----------------------------------------------------------------
 */

#define RACE_THREADS 8

typedef enum race_kind {
    RACE_ADVANCE,
    RACE_BACKUP,
    RACE_OOB,
    RACE_THROTTLE,
    RACE_TAKE,     /* 3 attempts for 8 takers */
    RACE_ACTIVATE, /* one confirmation of a pending factor */
    RACE_RESEAL,   /* one rotation of a sealed secret */
} race_kind;

/* Winners a round must have. */
static int
race_want(race_kind kind)
{
    return kind == RACE_TAKE ? 3 : 1;
}

typedef struct race {
    race_kind kind;
    int rounds;
    pthread_barrier_t start, done;
    mfa_factor_rec f;
    mfa_store_t *stores[RACE_THREADS];
    atomic_int *wins;  /* per round */
    atomic_int losses; /* the expected refusal */
    atomic_int errors; /* anything else */
    atomic_int last_error;
} race;

typedef struct race_arg {
    race *r;
    int tid;
} race_arg;

static void
race_setup(race *r, mfa_store_t *s, int round)
{
    mfa_rc rc = MFA_OK;

    if (r->kind == RACE_BACKUP) {
        mfa_backup_rec c[2];
        codes_of(c, 2, (uint8_t)round, (uint32_t)round);
        rc = mfa_store_backup_replace(s, "racer", c, 2, round);
    } else if (r->kind == RACE_OOB) {
        mfa_oob_challenge c = challenge("sms", (uint32_t)round, 1000, 600, 5);
        rc = mfa_store_oob_put(s, "racer", &c);
    } else if (r->kind == RACE_TAKE) {
        mfa_oob_challenge c =
            challenge("email", (uint32_t)round, 1000, 600, race_want(r->kind));
        rc = mfa_store_oob_put(s, "racer", &c);
    } else if (r->kind == RACE_ACTIVATE) {
        mfa_factor_rec f = factor("racer", 0x10000u + (uint64_t)round, 1000,
                                  MFA_FACTOR_PENDING);
        rc = mfa_store_factor_create(s, &f);
    } else if (r->kind == RACE_RESEAL) {
        mfa_factor_rec f = factor("racer", 0x20000u + (uint64_t)round, 1000,
                                  MFA_FACTOR_ACTIVE);
        rc = mfa_store_factor_create(s, &f);
    }
    if (rc != MFA_OK) {
        atomic_fetch_add(&r->errors, 1);
        atomic_store(&r->last_error, rc);
    }
}

static void *
race_thread(void *p)
{
    race_arg *a = p;
    race *r = a->r;
    mfa_store_t *s = r->stores[a->tid];
    const mfa_throttle_policy tp = {0, 1000, 1000};
    int i;

    for (i = 0; i < r->rounds; i++) {
        mfa_rc rc = MFA_OK, loss = MFA_ERR_NOT_FOUND;

        if (a->tid == 0)
            race_setup(r, s, i);
        pthread_barrier_wait(&r->start);
        switch (r->kind) {
        case RACE_ADVANCE:
            rc = mfa_store_factor_advance(s, "racer", r->f.id, i + 1, a->tid,
                                          1000 + i);
            loss = MFA_ERR_REPLAYED;
            break;
        case RACE_BACKUP: {
            mfa_backup_rec c[2];
            codes_of(c, 2, (uint8_t)i, (uint32_t)i);
            rc = mfa_store_backup_spend(s, "racer", c[1].hash, 1000 + i);
            break;
        }
        case RACE_OOB: {
            uint8_t h[MFA_BACKUP_HASHBYTES];
            hash_of(h, (uint32_t)i, 0x5a);
            rc = mfa_store_oob_spend(s, "racer", "sms", h);
            break;
        }
        case RACE_THROTTLE: {
            mfa_throttle_state st;
            rc = mfa_store_throttle_hit(s, "racer", 5000, &tp, &st);
            loss = MFA_ERR_THROTTLED;
            break;
        }
        case RACE_TAKE: {
            mfa_oob_challenge c;
            rc = mfa_store_oob_take(s, "racer", "email", 1001, &c);
            loss = MFA_ERR_ATTEMPTS;
            break;
        }
        case RACE_ACTIVATE: {
            char id[MFA_FACTOR_ID_LEN + 1];
            idhex(id, 0x10000u + (uint64_t)i);
            rc = mfa_store_factor_activate(s, "racer", id, 5, a->tid, 1000,
                                           1001);
            loss = MFA_ERR_STATE;
            break;
        }
        case RACE_RESEAL: {
            mfa_factor_rec f = factor("racer", 0x20000u + (uint64_t)i, 1000,
                                      MFA_FACTOR_ACTIVE);
            uint8_t mine[60];
            memset(mine, 0x80 + a->tid, sizeof(mine));
            rc = mfa_store_factor_reseal(s, "racer", f.id, f.sealed,
                                         f.sealed_len, mine, sizeof(mine));
            loss = MFA_ERR_STATE;
            break;
        }
        }
        if (rc == MFA_OK) {
            atomic_fetch_add(&r->wins[i], 1);
        } else if (rc == loss) {
            atomic_fetch_add(&r->losses, 1);
        } else {
            atomic_fetch_add(&r->errors, 1);
            atomic_store(&r->last_error, rc);
        }
        pthread_barrier_wait(&r->done);
    }
    return NULL;
}

static void
run_race(race_kind kind, int rounds)
{
    race r;
    race_arg args[RACE_THREADS];
    pthread_t th[RACE_THREADS];
    int i, total_wins = 0;

    memset(&r, 0, sizeof(r));
    r.kind = kind;
    r.rounds = rounds;
    r.wins = calloc((size_t)rounds, sizeof(*r.wins));
    ck_assert_ptr_nonnull(r.wins);
    r.f = factor("racer", 0xabc, 1000, MFA_FACTOR_ACTIVE);
    r.f.last_step = 0;
    create(&r.f);
    /* with a second handle, half the threads use their own connection */
    for (i = 0; i < RACE_THREADS; i++)
        r.stores[i] = B->open_again != NULL && (i % 2) == 1 ? open_again() : S;
    pthread_barrier_init(&r.start, NULL, RACE_THREADS);
    pthread_barrier_init(&r.done, NULL, RACE_THREADS);
    for (i = 0; i < RACE_THREADS; i++) {
        args[i].r = &r;
        args[i].tid = i;
        ck_assert_int_eq(pthread_create(&th[i], NULL, race_thread, &args[i]),
                         0);
    }
    for (i = 0; i < RACE_THREADS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&r.start);
    pthread_barrier_destroy(&r.done);
    for (i = 0; i < RACE_THREADS; i++)
        if (r.stores[i] != S)
            mfa_store_free(&r.stores[i]);

    ck_assert_msg(atomic_load(&r.errors) == 0, "%d errors, last %s",
                  atomic_load(&r.errors),
                  mfa_strerror_name(atomic_load(&r.last_error)));
    if (kind == RACE_THROTTLE) {
        mfa_throttle_state st;
        /* all hits at the same instant: the first opens, the rest are
         * locked out, and every one is counted */
        for (i = 0; i < rounds; i++)
            total_wins += atomic_load(&r.wins[i]);
        ck_assert_int_eq(total_wins, 1);
        ck_assert_int_eq(atomic_load(&r.losses), rounds * RACE_THREADS - 1);
        OK(mfa_store_throttle_get(S, "racer", &st));
        ck_assert_uint_eq(st.failures, (uint32_t)(rounds * RACE_THREADS));
        ck_assert_int_eq(st.locked_until, 6000);
    } else {
        int want = race_want(kind);
        for (i = 0; i < rounds; i++)
            ck_assert_msg(atomic_load(&r.wins[i]) == want,
                          "round %d: %d winners, want %d", i,
                          atomic_load(&r.wins[i]), want);
        ck_assert_int_eq(atomic_load(&r.losses),
                         rounds * (RACE_THREADS - want));
    }
    if (kind == RACE_ADVANCE) {
        mfa_factor_rec g = get("racer", r.f.id);
        ck_assert_int_eq(g.last_step, rounds);
    }
    free(r.wins);
}

START_TEST(race_factor_advance)
{
    run_race(RACE_ADVANCE, 200);
}
END_TEST

START_TEST(race_backup_spend)
{
    run_race(RACE_BACKUP, 100);
}
END_TEST

START_TEST(race_oob_spend)
{
    run_race(RACE_OOB, 100);
}
END_TEST

START_TEST(race_throttle_hit)
{
    run_race(RACE_THROTTLE, 50);
}
END_TEST

START_TEST(race_oob_take)
{
    mfa_oob_challenge c;

    run_race(RACE_TAKE, 50);
    /* all used up: none left, none lost below zero */
    RC(mfa_store_oob_take(S, "racer", "email", 1001, &c), MFA_ERR_ATTEMPTS);
}
END_TEST

START_TEST(race_factor_activate)
{
    run_race(RACE_ACTIVATE, 50);
}
END_TEST

START_TEST(race_factor_reseal)
{
    mfa_factor_rec g;

    run_race(RACE_RESEAL, 50);
    /* the stored secret is one winner's, whole */
    g = get("racer", "0000000000020000");
    ck_assert_uint_eq(g.sealed_len, 60);
    ck_assert_uint_ge(g.sealed[0], 0x80);
    ck_assert_uint_lt(g.sealed[0], 0x80 + RACE_THREADS);
    ck_assert_uint_eq(g.sealed[59], g.sealed[0]);
}
END_TEST

/* ---- the suite -------------------------------------------------------------
 */

Suite *
mfa_conformance_suite(const mfa_conformance_backend *b)
{
    Suite *s = suite_create(b->name);
    TCase *tc;

    B = b;
    tc = tcase_create("schema");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, schema_version_and_migrate);
    suite_add_tcase(s, tc);

    tc = tcase_create("factors");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, factor_create_get_roundtrip);
    tcase_add_test(tc, factor_create_duplicate);
    tcase_add_test(tc, factor_get_not_found);
    tcase_add_test(tc, factor_list_order);
    tcase_add_test(tc, factor_each_all_accounts);
    tcase_add_test(tc, factor_activate);
    tcase_add_test(tc, factor_advance_cas);
    tcase_add_test(tc, factor_reseal_cas);
    tcase_add_test(tc, factor_expire_pending);
    tcase_add_test(tc, factor_rename_remove);
    suite_add_tcase(s, tc);

    tc = tcase_create("throttle");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, throttle_semantics);
    tcase_add_test(tc, throttle_policy_changes);
    suite_add_tcase(s, tc);

    tc = tcase_create("backup");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, backup_replace_list_spend);
    tcase_add_test(tc, backup_spend_at_time_zero);
    suite_add_tcase(s, tc);

    tc = tcase_create("oob");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, oob_put_take);
    tcase_add_test(tc, oob_replace_and_spend);
    suite_add_tcase(s, tc);

    tc = tcase_create("account");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, account_reset_one_account);
    tcase_add_test(tc, bad_input_changes_nothing);
    suite_add_tcase(s, tc);

    if (b->open_again != NULL) {
        tc = tcase_create("handles");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, second_handle_sees_the_same_data);
        suite_add_tcase(s, tc);
    }

    tc = tcase_create("races");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, race_factor_advance);
    tcase_add_test(tc, race_backup_spend);
    tcase_add_test(tc, race_oob_spend);
    tcase_add_test(tc, race_throttle_hit);
    tcase_add_test(tc, race_oob_take);
    tcase_add_test(tc, race_factor_activate);
    tcase_add_test(tc, race_factor_reseal);
    suite_add_tcase(s, tc);
    return s;
}
