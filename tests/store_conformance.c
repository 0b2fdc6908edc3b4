/*
 * The store conformance suite (see store_conformance.h and
 * <mfa/store-backend.h>).  Part one drives the backend itself through the
 * contract, found with mfa_store_backend_of: the semantics of every row
 * operation, transactions (read-your-writes, rollback of each kind of
 * write, commit seen by a second handle, serialisation of two writers of
 * one account, lost updates).  Part two runs the service flows over the
 * store through an mfa_ctx, and the races whose outcome diverged between
 * backends before the rules moved above them: exactly one winner, the
 * same refusal for every loser, every wrong code counted.
 *
 * Check runs each test in a forked child, so a backend may keep per-test
 * state in its arg; one backend per test program (the suite keeps `b` in a
 * static).  Waits are bounded; nothing asserts a duration.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mfa.h>
#include <mfa/store-backend.h>

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

/* ---- the backend, through the contract ---------------------------------- */

typedef struct tx {
    const mfa_store_backend *be;
    mfa_store_txn *t;
} tx;

static tx
begin_on(mfa_store_t *s, const char *account, mfa_txn_mode mode)
{
    tx x;

    x.be = mfa_store_backend_of(s);
    ck_assert_ptr_nonnull(x.be);
    x.t = NULL;
    OK(x.be->begin(mfa_store_impl_of(s), account, mode, &x.t));
    ck_assert_ptr_nonnull(x.t);
    return x;
}

static tx
W(const char *account)
{
    return begin_on(S, account, MFA_TXN_WRITE);
}

static tx
R(const char *account)
{
    return begin_on(S, account, MFA_TXN_READ);
}

static void
commit(tx *x)
{
    OK(x->be->commit(x->t));
    x->t = NULL;
}

static void
rollback(tx *x)
{
    x->be->rollback(x->t);
    x->t = NULL;
}

/* ---- records ------------------------------------------------------------ */

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

static void
insert(const mfa_factor_rec *f)
{
    tx x = W(f->account);

    OK(x.be->factor_insert(x.t, f));
    commit(&x);
}

static mfa_rc
get_rc(const char *account, const char *id, mfa_factor_rec *out)
{
    tx x = R(account);
    mfa_rc rc = x.be->factor_get(x.t, account, id, out);

    commit(&x);
    return rc;
}

static mfa_factor_rec
get(const char *account, const char *id)
{
    mfa_factor_rec f;

    OK(get_rc(account, id, &f));
    return f;
}

static void
assert_missing(const char *account, const char *id)
{
    mfa_factor_rec f;

    RC(get_rc(account, id, &f), MFA_ERR_NOT_FOUND);
}

static void
hash_of(uint8_t h[MFA_BACKUP_HASHBYTES], uint32_t n, uint8_t salt)
{
    uint32_t i;

    for (i = 0; i < MFA_BACKUP_HASHBYTES; i++)
        h[i] = (uint8_t)((n >> (8 * (i % 4))) ^ (i * 31u) ^ salt);
}

static mfa_backup_rec
code_rec(uint32_t n, uint8_t salt)
{
    mfa_backup_rec c;

    memset(&c, 0, sizeof(c));
    hash_of(c.hash, n, salt);
    c.key_id = n + 1;
    return c;
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

static mfa_device_rec
device(uint64_t n, const char *label, int64_t created, int64_t seen,
       int64_t trusted)
{
    mfa_device_rec d;

    memset(&d, 0, sizeof(d));
    idhex(d.id, n);
    snprintf(d.label, sizeof(d.label), "%s", label);
    hash_of(d.hash, (uint32_t)n, 0xd0);
    d.key_id = (uint32_t)(n % 7 + 1);
    d.created = created;
    d.last_seen = seen;
    d.trusted_until = trusted;
    return d;
}

static void
assert_device_eq(const mfa_device_rec *a, const mfa_device_rec *b)
{
    ck_assert_str_eq(a->id, b->id);
    ck_assert_str_eq(a->label, b->label);
    ck_assert_mem_eq(a->hash, b->hash, MFA_DEVICE_HASHBYTES);
    ck_assert_uint_eq(a->key_id, b->key_id);
    ck_assert_int_eq(a->created, b->created);
    ck_assert_int_eq(a->last_seen, b->last_seen);
    ck_assert_int_eq(a->trusted_until, b->trusted_until);
}

static mfa_throttle_rec
throttle(const char *bucket, uint32_t failures, int64_t locked, int64_t upd)
{
    mfa_throttle_rec r;

    memset(&r, 0, sizeof(r));
    snprintf(r.bucket, sizeof(r.bucket), "%s", bucket);
    r.failures = failures;
    r.locked_until = locked;
    r.updated = upd;
    return r;
}

/* Collects the records factor_list hands to its callback. */
typedef struct seen {
    mfa_factor_rec recs[64];
    size_t n;
    size_t stop_after; /* return MFA_ERR_INTERNAL after this many; 0: never */
} seen;

static mfa_rc
collect(const mfa_factor_rec *f, void *arg)
{
    seen *s = arg;

    ck_assert_uint_lt(s->n, 64);
    s->recs[s->n++] = *f;
    if (s->stop_after != 0 && s->n >= s->stop_after)
        return MFA_ERR_INTERNAL;
    return MFA_OK;
}

static void
list_in(tx *x, const char *account, seen *s)
{
    memset(s, 0, sizeof(*s));
    OK(x->be->factor_list(x->t, account, collect, s));
}

/*
 * Everything stored for an account, read in one transaction: factors in
 * list order, unused backup codes, the throttle buckets and challenges the
 * tests use.  Two dumps compare equal when the account's data is the same.
 */
#define DUMP_BUCKETS 3
#define DUMP_PURPOSES 3
static const char *const dump_buckets[DUMP_BUCKETS] = {"", "dev1", "dev2"};
static const char *const dump_purposes[DUMP_PURPOSES] = {"sms", "email",
                                                         "call"};

typedef struct dump {
    seen f;
    mfa_backup_rec codes[MFA_BACKUP_COUNT_MAX + 1];
    size_t ncodes;
    mfa_rc thr_rc[DUMP_BUCKETS];
    mfa_throttle_rec thr[DUMP_BUCKETS];
    mfa_rc oob_rc[DUMP_PURPOSES];
    mfa_oob_challenge oob[DUMP_PURPOSES];
    mfa_device_rec dev[8];
    size_t ndev;
    mfa_throttle_rec thr_all[8];
    size_t nthr;
} dump;

static void
dump_of(mfa_store_t *s, const char *account, dump *d)
{
    tx x = begin_on(s, account, MFA_TXN_READ);
    int i;

    memset(d, 0, sizeof(*d));
    list_in(&x, account, &d->f);
    OK(x.be->backup_list(x.t, account, d->codes, MFA_BACKUP_COUNT_MAX + 1,
                         &d->ncodes));
    for (i = 0; i < DUMP_BUCKETS; i++) {
        d->thr_rc[i] =
            x.be->throttle_get(x.t, account, dump_buckets[i], &d->thr[i]);
        ck_assert(d->thr_rc[i] == MFA_OK || d->thr_rc[i] == MFA_ERR_NOT_FOUND);
        if (d->thr_rc[i] != MFA_OK)
            memset(&d->thr[i], 0, sizeof(d->thr[i]));
    }
    for (i = 0; i < DUMP_PURPOSES; i++) {
        d->oob_rc[i] =
            x.be->oob_get(x.t, account, dump_purposes[i], &d->oob[i]);
        ck_assert(d->oob_rc[i] == MFA_OK || d->oob_rc[i] == MFA_ERR_NOT_FOUND);
        if (d->oob_rc[i] != MFA_OK)
            memset(&d->oob[i], 0, sizeof(d->oob[i]));
    }
    OK(x.be->device_list(x.t, account, d->dev, 8, &d->ndev));
    OK(x.be->throttle_list(x.t, account, d->thr_all, 8, &d->nthr));
    commit(&x);
}

static void
assert_dump_eq(const dump *a, const dump *b)
{
    size_t i;

    ck_assert_uint_eq(a->f.n, b->f.n);
    for (i = 0; i < a->f.n; i++)
        assert_factor_eq(&a->f.recs[i], &b->f.recs[i]);
    ck_assert_uint_eq(a->ncodes, b->ncodes);
    for (i = 0; i < a->ncodes; i++) {
        ck_assert_mem_eq(a->codes[i].hash, b->codes[i].hash,
                         MFA_BACKUP_HASHBYTES);
        ck_assert_uint_eq(a->codes[i].key_id, b->codes[i].key_id);
    }
    for (i = 0; i < DUMP_BUCKETS; i++) {
        ck_assert_int_eq(a->thr_rc[i], b->thr_rc[i]);
        ck_assert_str_eq(a->thr[i].bucket, b->thr[i].bucket);
        ck_assert_uint_eq(a->thr[i].failures, b->thr[i].failures);
        ck_assert_int_eq(a->thr[i].locked_until, b->thr[i].locked_until);
        ck_assert_int_eq(a->thr[i].updated, b->thr[i].updated);
    }
    for (i = 0; i < DUMP_PURPOSES; i++) {
        ck_assert_int_eq(a->oob_rc[i], b->oob_rc[i]);
        if (a->oob_rc[i] == MFA_OK)
            assert_challenge_eq(&a->oob[i], &b->oob[i]);
    }
    ck_assert_uint_eq(a->ndev, b->ndev);
    for (i = 0; i < a->ndev; i++)
        assert_device_eq(&a->dev[i], &b->dev[i]);
    ck_assert_uint_eq(a->nthr, b->nthr);
    for (i = 0; i < a->nthr; i++) {
        ck_assert_str_eq(a->thr_all[i].bucket, b->thr_all[i].bucket);
        ck_assert_uint_eq(a->thr_all[i].failures, b->thr_all[i].failures);
    }
}

/* A committed account with a row in every table. */
static void
populate(const char *account, uint64_t base)
{
    tx x = W(account);
    mfa_factor_rec f1 = factor(account, base + 1, 1000, MFA_FACTOR_ACTIVE);
    mfa_factor_rec f2 = factor(account, base + 2, 1001, MFA_FACTOR_PENDING);
    mfa_throttle_rec t1 = throttle("", 3, 2000, 1500);
    mfa_throttle_rec t2 = throttle("dev1", 1, 0, 1400);
    mfa_oob_challenge o = challenge("sms", (uint32_t)base, 1000, 600, 5);
    uint32_t i;

    OK(x.be->factor_insert(x.t, &f1));
    OK(x.be->factor_insert(x.t, &f2));
    OK(x.be->throttle_put(x.t, account, &t1));
    OK(x.be->throttle_put(x.t, account, &t2));
    for (i = 0; i < 4; i++) {
        mfa_backup_rec c = code_rec(i, (uint8_t)base);
        OK(x.be->backup_insert(x.t, account, &c, 1000 + i));
    }
    OK(x.be->oob_put(x.t, account, &o));
    {
        mfa_device_rec d1 = device(base + 1, "Firefox", 1000, 1200, 0);
        mfa_device_rec d2 = device(base + 2, "", 1001, 1100, 90000);
        OK(x.be->device_put(x.t, account, &d1));
        OK(x.be->device_put(x.t, account, &d2));
    }
    commit(&x);
}

/* ---- schema ---------------------------------------------------------------
 */

START_TEST(schema_version_and_migrate)
{
    int v = -1;

    OK(mfa_store_schema_version(S, &v));
    ck_assert_int_eq(v, MFA_SCHEMA_VERSION);
    OK(mfa_store_check(S));
    OK(mfa_store_migrate(S));
    OK(mfa_store_migrate(S));
    OK(mfa_store_schema_version(S, &v));
    ck_assert_int_eq(v, MFA_SCHEMA_VERSION);
    ck_assert_str_eq(mfa_store_name(S), mfa_store_backend_of(S)->name);
}
END_TEST

/* ---- factors ----------------------------------------------------------------
 */

START_TEST(factor_roundtrip)
{
    mfa_factor_rec f = factor("alice@example.com", 1, 1000, MFA_FACTOR_ACTIVE);
    mfa_factor_rec big, g;
    char acct[MFA_ACCOUNT_MAX + 1];

    f.type = MFA_HOTP;
    f.algorithm = MFA_SHA512;
    f.digits = 8;
    f.period = 60;
    f.t0 = 12345;
    f.last_step = INT64_C(1) << 40;
    f.drift = -3;
    f.confirmed = 1005;
    f.last_used = 1010;
    insert(&f);
    g = get(f.account, f.id);
    assert_factor_eq(&g, &f);

    /* the largest sizes: account, label, sealed blob; UTF-8 kept bytewise */
    memset(acct, 'a', sizeof(acct) - 1);
    acct[sizeof(acct) - 1] = '\0';
    memcpy(acct, "\xf0\x9f\x94\x91", 4);
    big = factor(acct, 2, 0, MFA_FACTOR_PENDING);
    memset(big.label, 'l', MFA_LABEL_MAX);
    big.label[MFA_LABEL_MAX] = '\0';
    fill_sealed(&big, MFA_SEALED_MAX, 0x33);
    insert(&big);
    g = get(acct, big.id);
    assert_factor_eq(&g, &big);
    ck_assert_uint_eq(strlen(g.account), MFA_ACCOUNT_MAX);
}
END_TEST

START_TEST(factor_insert_exists)
{
    mfa_factor_rec f = factor("alice", 1, 1000, MFA_FACTOR_ACTIVE);
    mfa_factor_rec dup = factor("alice", 1, 2000, MFA_FACTOR_PENDING);
    mfa_factor_rec other = factor("bob", 1, 3000, MFA_FACTOR_PENDING);
    mfa_factor_rec g;
    tx x;

    insert(&f);
    x = W("alice");
    RC(x.be->factor_insert(x.t, &dup), MFA_ERR_EXISTS);
    commit(&x);
    /* ids are unique in the whole store, not per account */
    x = W("bob");
    RC(x.be->factor_insert(x.t, &other), MFA_ERR_EXISTS);
    commit(&x);
    g = get("alice", f.id);
    assert_factor_eq(&g, &f);
    assert_missing("bob", f.id);
}
END_TEST

START_TEST(factor_get_not_found)
{
    mfa_factor_rec f = factor("alice", 1, 1000, MFA_FACTOR_ACTIVE);

    assert_missing("alice", f.id);
    insert(&f);
    assert_missing("alice", "0000000000000002");
    /* another account's factor is not found through this account */
    assert_missing("bob", f.id);
}
END_TEST

START_TEST(factor_list_order)
{
    /* inserted out of order; equal times are ordered by id */
    mfa_factor_rec f[5] = {
        factor("alice", 0x30, 1003, MFA_FACTOR_ACTIVE),
        factor("alice", 0x20, 1001, MFA_FACTOR_PENDING),
        factor("alice", 0x12, 1002, MFA_FACTOR_ACTIVE),
        factor("alice", 0x11, 1002, MFA_FACTOR_PENDING),
        factor("bob", 0x10, 1000, MFA_FACTOR_ACTIVE),
    };
    const int order[4] = {1, 3, 2, 0};
    seen s;
    tx x;
    int i;

    for (i = 0; i < 5; i++)
        insert(&f[i]);
    x = R("alice");
    list_in(&x, "alice", &s);
    ck_assert_uint_eq(s.n, 4);
    for (i = 0; i < 4; i++)
        assert_factor_eq(&s.recs[i], &f[order[i]]);
    /* the callback's error stops the listing and is returned */
    memset(&s, 0, sizeof(s));
    s.stop_after = 2;
    RC(x.be->factor_list(x.t, "alice", collect, &s), MFA_ERR_INTERNAL);
    ck_assert_uint_eq(s.n, 2);
    commit(&x);
    x = R("carol");
    list_in(&x, "carol", &s);
    ck_assert_uint_eq(s.n, 0);
    commit(&x);
}
END_TEST

START_TEST(factor_update_and_delete)
{
    mfa_factor_rec f = factor("alice", 1, 1000, MFA_FACTOR_PENDING);
    mfa_factor_rec other = factor("bob", 2, 1000, MFA_FACTOR_PENDING);
    mfa_factor_rec u, g;
    tx x;

    insert(&f);
    insert(&other);
    u = f;
    u.status = MFA_FACTOR_ACTIVE;
    u.last_step = 777;
    u.drift = 2;
    u.confirmed = 1100;
    u.last_used = 1200;
    snprintf(u.label, sizeof(u.label), "renamed");
    fill_sealed(&u, MFA_SEALED_OVERHEAD + 10, 0x99); /* shorter blob */
    x = W("alice");
    OK(x.be->factor_update(x.t, &u));
    commit(&x);
    g = get("alice", f.id);
    assert_factor_eq(&g, &u);

    /* NOT_FOUND for a missing row, and for another account's */
    x = W("alice");
    u = factor("alice", 3, 1000, MFA_FACTOR_PENDING);
    RC(x.be->factor_update(x.t, &u), MFA_ERR_NOT_FOUND);
    u = other;
    snprintf(u.account, sizeof(u.account), "alice");
    u.status = MFA_FACTOR_ACTIVE;
    RC(x.be->factor_update(x.t, &u), MFA_ERR_NOT_FOUND);
    RC(x.be->factor_delete(x.t, "alice", other.id), MFA_ERR_NOT_FOUND);
    RC(x.be->factor_delete(x.t, "alice", "00000000000000ff"),
       MFA_ERR_NOT_FOUND);
    commit(&x);
    g = get("bob", other.id);
    assert_factor_eq(&g, &other);

    x = W("alice");
    OK(x.be->factor_delete(x.t, "alice", f.id));
    RC(x.be->factor_delete(x.t, "alice", f.id), MFA_ERR_NOT_FOUND);
    commit(&x);
    assert_missing("alice", f.id);
    /* a deleted id is free again, for any account */
    u = f;
    snprintf(u.account, sizeof(u.account), "bob");
    insert(&u);
    g = get("bob", f.id);
    assert_factor_eq(&g, &u);
}
END_TEST

START_TEST(factor_scan_paging)
{
    const char *accts[3] = {"carol", "alice", "bob"};
    mfa_factor_rec all[12], page[5];
    char acct[MFA_ACCOUNT_MAX + 1] = "", id[MFA_FACTOR_ID_LEN + 1] = "";
    size_t n, got = 0, max;
    int i;
    tx x;

    /* ids interleave between accounts; the order is (account, id) */
    for (i = 0; i < 12; i++) {
        all[i] = factor(accts[i % 3], (uint64_t)(97 * (i + 1)) % 1000, 2000 - i,
                        i % 2 ? MFA_FACTOR_ACTIVE : MFA_FACTOR_PENDING);
        insert(&all[i]);
    }
    x = begin_on(S, NULL, MFA_TXN_READ);
    for (max = 1; max <= 5; max += 2) {
        mfa_factor_rec prev;
        int first = 1;

        memset(&prev, 0, sizeof(prev));
        acct[0] = id[0] = '\0';
        got = 0;
        for (;;) {
            OK(x.be->factor_scan(x.t, acct, id, page, max, &n));
            ck_assert_uint_le(n, max);
            for (size_t j = 0; j < n; j++) {
                int c;
                if (!first) {
                    c = strcmp(prev.account, page[j].account);
                    if (c == 0)
                        c = strcmp(prev.id, page[j].id);
                    ck_assert_int_lt(c, 0);
                }
                first = 0;
                prev = page[j];
                for (i = 0; i < 12; i++)
                    if (strcmp(all[i].id, page[j].id) == 0)
                        assert_factor_eq(&page[j], &all[i]);
            }
            got += n;
            if (n < max)
                break;
            snprintf(acct, sizeof(acct), "%s", page[n - 1].account);
            snprintf(id, sizeof(id), "%s", page[n - 1].id);
        }
        ck_assert_uint_eq(got, 12);
    }
    /* past the last key: nothing */
    OK(x.be->factor_scan(x.t, "carol", "ffffffffffffffff", page, 5, &n));
    ck_assert_uint_eq(n, 0);
    /* after ("bob", "") starts at bob's first factor */
    OK(x.be->factor_scan(x.t, "bob", "", page, 5, &n));
    ck_assert_uint_eq(n, 5);
    ck_assert_str_eq(page[0].account, "bob");
    ck_assert_str_eq(page[4].account, "carol");
    commit(&x);
}
END_TEST

START_TEST(factor_expire)
{
    mfa_factor_rec f[6] = {
        factor("alice", 1, 999, MFA_FACTOR_PENDING),  /* expires */
        factor("alice", 2, 1000, MFA_FACTOR_PENDING), /* at the cut: kept */
        factor("alice", 3, 10, MFA_FACTOR_ACTIVE),    /* active: kept */
        factor("bob", 4, 0, MFA_FACTOR_PENDING),      /* expires */
        factor("bob", 5, 2000, MFA_FACTOR_PENDING),   /* kept */
        factor("carol", 6, 500, MFA_FACTOR_PENDING),  /* expires */
    };
    size_t n = 99;
    int i;
    tx x;

    for (i = 0; i < 6; i++)
        insert(&f[i]);
    x = begin_on(S, NULL, MFA_TXN_WRITE);
    OK(x.be->factor_expire(x.t, 1000, &n));
    commit(&x);
    ck_assert_uint_eq(n, 3);
    assert_missing("alice", f[0].id);
    assert_missing("bob", f[3].id);
    assert_missing("carol", f[5].id);
    get("alice", f[1].id);
    get("alice", f[2].id);
    get("bob", f[4].id);
    x = begin_on(S, NULL, MFA_TXN_WRITE);
    OK(x.be->factor_expire(x.t, 1000, &n));
    commit(&x);
    ck_assert_uint_eq(n, 0);
    /* the ids are free again */
    insert(&f[0]);
}
END_TEST

/* ---- throttle, backup codes, challenges ------------------------------------
 */

START_TEST(throttle_rows)
{
    mfa_throttle_rec a = throttle("", 4, 5000, 4000);
    mfa_throttle_rec d = throttle("dev1", 1, 0, 4100);
    mfa_throttle_rec g;
    tx x = W("alice");

    RC(x.be->throttle_get(x.t, "alice", "", &g), MFA_ERR_NOT_FOUND);
    OK(x.be->throttle_delete(x.t, "alice", "")); /* no row: fine */
    OK(x.be->throttle_put(x.t, "alice", &a));
    OK(x.be->throttle_put(x.t, "alice", &d));
    commit(&x);

    x = W("alice");
    OK(x.be->throttle_get(x.t, "alice", "", &g));
    ck_assert_str_eq(g.bucket, "");
    ck_assert_uint_eq(g.failures, 4);
    ck_assert_int_eq(g.locked_until, 5000);
    ck_assert_int_eq(g.updated, 4000);
    OK(x.be->throttle_get(x.t, "alice", "dev1", &g));
    ck_assert_uint_eq(g.failures, 1);
    /* overwrite */
    a = throttle("", UINT32_MAX, INT64_C(253402300799), 4200);
    OK(x.be->throttle_put(x.t, "alice", &a));
    commit(&x);

    x = W("bob");
    RC(x.be->throttle_get(x.t, "bob", "", &g), MFA_ERR_NOT_FOUND);
    commit(&x);
    x = W("alice");
    OK(x.be->throttle_get(x.t, "alice", "", &g));
    ck_assert_uint_eq(g.failures, UINT32_MAX);
    ck_assert_int_eq(g.locked_until, INT64_C(253402300799));
    OK(x.be->throttle_delete(x.t, "alice", ""));
    RC(x.be->throttle_get(x.t, "alice", "", &g), MFA_ERR_NOT_FOUND);
    OK(x.be->throttle_get(x.t, "alice", "dev1", &g));
    commit(&x);
}
END_TEST

START_TEST(device_rows)
{
    mfa_device_rec a = device(0x10, "Firefox on Linux", 2000, 2100, 0);
    mfa_device_rec b = device(0x0f, "", 2000, 2000, 99999); /* same created */
    mfa_device_rec c = device(0x01, "Safari", 3000, 3000, 0);
    mfa_device_rec got[4], g;
    size_t n = 9;
    tx x = W("alice");

    OK(x.be->device_list(x.t, "alice", got, 4, &n));
    ck_assert_uint_eq(n, 0);
    RC(x.be->device_get(x.t, "alice", a.id, &g), MFA_ERR_NOT_FOUND);
    RC(x.be->device_delete(x.t, "alice", a.id), MFA_ERR_NOT_FOUND);
    OK(x.be->device_put(x.t, "alice", &c));
    OK(x.be->device_put(x.t, "alice", &a));
    OK(x.be->device_put(x.t, "alice", &b));
    commit(&x);

    x = R("alice");
    /* oldest first: created, then id */
    OK(x.be->device_list(x.t, "alice", got, 4, &n));
    ck_assert_uint_eq(n, 3);
    assert_device_eq(&got[0], &b);
    assert_device_eq(&got[1], &a);
    assert_device_eq(&got[2], &c);
    /* at most max, the first ones */
    OK(x.be->device_list(x.t, "alice", got, 2, &n));
    ck_assert_uint_eq(n, 2);
    assert_device_eq(&got[1], &a);
    OK(x.be->device_get(x.t, "alice", c.id, &g));
    assert_device_eq(&g, &c);
    commit(&x);

    /* another account sees none of them, and may use the same id */
    x = W("bob");
    OK(x.be->device_list(x.t, "bob", got, 4, &n));
    ck_assert_uint_eq(n, 0);
    RC(x.be->device_get(x.t, "bob", a.id, &g), MFA_ERR_NOT_FOUND);
    g = device(0x10, "bob's", 10, 10, 0);
    OK(x.be->device_put(x.t, "bob", &g));
    commit(&x);

    /* overwrite every field but the key, then delete */
    x = W("alice");
    a.last_seen = 5000;
    a.trusted_until = INT64_C(253402300799);
    a.key_id = UINT32_MAX;
    snprintf(a.label, sizeof(a.label), "%s", "renamed");
    hash_of(a.hash, 77, 0x11);
    OK(x.be->device_put(x.t, "alice", &a));
    OK(x.be->device_get(x.t, "alice", a.id, &g));
    assert_device_eq(&g, &a);
    OK(x.be->device_delete(x.t, "alice", b.id));
    RC(x.be->device_get(x.t, "alice", b.id, &g), MFA_ERR_NOT_FOUND);
    commit(&x);
    x = R("alice");
    OK(x.be->device_list(x.t, "alice", got, 4, &n));
    ck_assert_uint_eq(n, 2);
    assert_device_eq(&got[0], &a);
    commit(&x);
    x = R("bob");
    OK(x.be->device_get(x.t, "bob", a.id, &g));
    ck_assert_str_eq(g.label, "bob's");
    commit(&x);
}
END_TEST

START_TEST(throttle_list_order)
{
    static const char *const names[] = {"pw", "", "ffff0000ffff0000",
                                        "pw-ffff0000ffff0000", "0a"};
    mfa_throttle_rec got[8];
    size_t n = 9;
    tx x = W("alice");

    OK(x.be->throttle_list(x.t, "alice", got, 8, &n));
    ck_assert_uint_eq(n, 0);
    for (uint32_t i = 0; i < 5; i++) {
        mfa_throttle_rec r = throttle(names[i], i + 1, 100 * i, 50 * i);
        OK(x.be->throttle_put(x.t, "alice", &r));
    }
    commit(&x);
    x = R("alice");
    OK(x.be->throttle_list(x.t, "alice", got, 8, &n));
    ck_assert_uint_eq(n, 5);
    /* bytewise order of the bucket names */
    ck_assert_str_eq(got[0].bucket, "");
    ck_assert_uint_eq(got[0].failures, 2);
    ck_assert_str_eq(got[1].bucket, "0a");
    ck_assert_str_eq(got[2].bucket, "ffff0000ffff0000");
    ck_assert_str_eq(got[3].bucket, "pw");
    ck_assert_uint_eq(got[3].failures, 1);
    ck_assert_str_eq(got[4].bucket, "pw-ffff0000ffff0000");
    ck_assert_int_eq(got[4].locked_until, 300);
    ck_assert_int_eq(got[4].updated, 150);
    OK(x.be->throttle_list(x.t, "alice", got, 2, &n));
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(got[1].bucket, "0a");
    commit(&x);
    x = R("bob");
    OK(x.be->throttle_list(x.t, "bob", got, 8, &n));
    ck_assert_uint_eq(n, 0);
    commit(&x);
}
END_TEST

/* The store-wide scan of accounts that hold throttle or device rows. */
START_TEST(state_scan_paging)
{
    char names[40][MFA_ACCOUNT_MAX + 1], page[7][MFA_ACCOUNT_MAX + 1];
    char after[MFA_ACCOUNT_MAX + 1] = "";
    size_t n = 0, total = 0;
    tx x;

    for (int i = 0; i < 40; i++) {
        mfa_throttle_rec t = throttle(i % 3 == 0 ? "pw" : "", 1, 0, 10);
        mfa_device_rec d = device((uint64_t)i + 1, "", 10, 10, 0);

        /* names whose bytewise order is not their creation order */
        snprintf(names[i], sizeof(names[i]), "u%02d", (i * 17) % 40);
        x = W(names[i]);
        if (i % 2 == 0)
            OK(x.be->throttle_put(x.t, names[i], &t));
        if (i % 2 == 1 || i % 5 == 0)
            OK(x.be->device_put(x.t, names[i], &d));
        commit(&x);
    }
    /* an account with factors and codes only is not listed */
    populate("a-only-factors", 0x500);
    x = W("a-only-factors");
    OK(x.be->throttle_delete(x.t, "a-only-factors", ""));
    OK(x.be->throttle_delete(x.t, "a-only-factors", "dev1"));
    {
        mfa_device_rec d[4];
        OK(x.be->device_list(x.t, "a-only-factors", d, 4, &n));
        for (size_t i = 0; i < n; i++)
            OK(x.be->device_delete(x.t, "a-only-factors", d[i].id));
    }
    commit(&x);

    do {
        x = begin_on(S, NULL, MFA_TXN_READ);
        OK(x.be->state_scan(x.t, after, page, 7, &n));
        commit(&x);
        ck_assert_uint_le(n, 7);
        for (size_t i = 0; i < n; i++) {
            char want[8];

            snprintf(want, sizeof(want), "u%02zu", total + i);
            ck_assert_str_eq(page[i], want);
        }
        total += n;
        if (n > 0)
            memcpy(after, page[n - 1], sizeof(after));
    } while (n == 7);
    ck_assert_uint_eq(total, 40);
    /* strictly after: the last name gives nothing more */
    x = begin_on(S, NULL, MFA_TXN_READ);
    OK(x.be->state_scan(x.t, "u39", page, 7, &n));
    ck_assert_uint_eq(n, 0);
    commit(&x);
}
END_TEST

START_TEST(backup_rows)
{
    mfa_backup_rec c[5], out[8], other = code_rec(1, 0x11);
    size_t n = 99;
    uint32_t i;
    tx x = W("alice");

    OK(x.be->backup_list(x.t, "alice", out, 8, &n));
    ck_assert_uint_eq(n, 0);
    OK(x.be->backup_clear(x.t, "alice")); /* none: fine */
    for (i = 0; i < 5; i++) {
        /* the hashes are not in insertion order */
        c[i] = code_rec(7 - i, 0x11);
        OK(x.be->backup_insert(x.t, "alice", &c[i], 100 + i));
    }
    RC(x.be->backup_insert(x.t, "alice", &c[2], 200), MFA_ERR_EXISTS);
    commit(&x);

    /* the same hash under another account is another row */
    x = W("bob");
    other = c[0];
    OK(x.be->backup_insert(x.t, "bob", &other, 100));
    commit(&x);

    x = W("alice");
    OK(x.be->backup_list(x.t, "alice", out, 8, &n));
    ck_assert_uint_eq(n, 5);
    for (i = 0; i < 5; i++) {
        ck_assert_mem_eq(out[i].hash, c[i].hash, MFA_BACKUP_HASHBYTES);
        ck_assert_uint_eq(out[i].key_id, c[i].key_id);
    }
    OK(x.be->backup_list(x.t, "alice", out, 2, &n));
    ck_assert_uint_eq(n, 2);
    ck_assert_mem_eq(out[1].hash, c[1].hash, MFA_BACKUP_HASHBYTES);
    /* used once, at time 0 (a valid time) */
    OK(x.be->backup_use(x.t, "alice", c[1].hash, 0));
    RC(x.be->backup_use(x.t, "alice", c[1].hash, 5), MFA_ERR_NOT_FOUND);
    {
        uint8_t h[MFA_BACKUP_HASHBYTES];
        hash_of(h, 99, 0x11);
        RC(x.be->backup_use(x.t, "alice", h, 5), MFA_ERR_NOT_FOUND);
    }
    /* a used code still holds its hash */
    RC(x.be->backup_insert(x.t, "alice", &c[1], 300), MFA_ERR_EXISTS);
    commit(&x);

    x = W("alice");
    OK(x.be->backup_list(x.t, "alice", out, 8, &n));
    ck_assert_uint_eq(n, 4);
    ck_assert_mem_eq(out[0].hash, c[0].hash, MFA_BACKUP_HASHBYTES);
    ck_assert_mem_eq(out[1].hash, c[2].hash, MFA_BACKUP_HASHBYTES);
    OK(x.be->backup_clear(x.t, "alice"));
    OK(x.be->backup_list(x.t, "alice", out, 8, &n));
    ck_assert_uint_eq(n, 0);
    /* cleared used codes too: the hash may come back */
    OK(x.be->backup_insert(x.t, "alice", &c[1], 400));
    commit(&x);

    x = W("bob");
    OK(x.be->backup_list(x.t, "bob", out, 8, &n));
    ck_assert_uint_eq(n, 1);
    OK(x.be->backup_use(x.t, "bob", c[0].hash, 9));
    commit(&x);
}
END_TEST

START_TEST(oob_rows)
{
    mfa_oob_challenge a = challenge("sms", 1, 1000, 600, 5);
    mfa_oob_challenge b = challenge("email", 2, 1000, 60, 3);
    mfa_oob_challenge g;
    tx x = W("alice");

    RC(x.be->oob_get(x.t, "alice", "sms", &g), MFA_ERR_NOT_FOUND);
    OK(x.be->oob_delete(x.t, "alice", "sms"));
    OK(x.be->oob_put(x.t, "alice", &a));
    OK(x.be->oob_put(x.t, "alice", &b));
    commit(&x);

    x = W("alice");
    OK(x.be->oob_get(x.t, "alice", "sms", &g));
    assert_challenge_eq(&g, &a);
    OK(x.be->oob_get(x.t, "alice", "email", &g));
    assert_challenge_eq(&g, &b);
    /* put overwrites: a fresh challenge replaces the old one */
    a = challenge("sms", 9, 2000, 300, 0);
    OK(x.be->oob_put(x.t, "alice", &a));
    commit(&x);

    x = W("bob");
    RC(x.be->oob_get(x.t, "bob", "sms", &g), MFA_ERR_NOT_FOUND);
    commit(&x);
    x = W("alice");
    OK(x.be->oob_get(x.t, "alice", "sms", &g));
    assert_challenge_eq(&g, &a);
    OK(x.be->oob_delete(x.t, "alice", "sms"));
    RC(x.be->oob_get(x.t, "alice", "sms", &g), MFA_ERR_NOT_FOUND);
    OK(x.be->oob_get(x.t, "alice", "email", &g));
    commit(&x);
}
END_TEST

START_TEST(account_delete_one_account)
{
    dump before_bob, after_bob, after_alice, empty;
    mfa_factor_rec f = factor("alice", 1, 1000, MFA_FACTOR_ACTIVE);
    tx x;

    populate("alice", 0x100);
    populate("bob", 0x200);
    dump_of(S, "bob", &before_bob);
    dump_of(S, "nobody", &empty);
    x = W("alice");
    OK(x.be->account_delete(x.t, "alice"));
    commit(&x);
    dump_of(S, "alice", &after_alice);
    assert_dump_eq(&after_alice, &empty);
    dump_of(S, "bob", &after_bob);
    assert_dump_eq(&after_bob, &before_bob);
    x = W("nobody");
    OK(x.be->account_delete(x.t, "nobody"));
    commit(&x);
    /* the account's factor ids are free again */
    idhex(f.id, 0x101);
    insert(&f);
}
END_TEST

/* ---- transactions -----------------------------------------------------------
 */

START_TEST(read_your_writes)
{
    mfa_factor_rec f = factor("alice", 1, 1000, MFA_FACTOR_PENDING), g;
    mfa_throttle_rec t = throttle("", 2, 0, 10), tg;
    mfa_oob_challenge o = challenge("sms", 1, 1000, 600, 5), og;
    mfa_backup_rec c = code_rec(1, 1), cl[2];
    size_t n;
    seen s;
    tx x = W("alice");

    OK(x.be->factor_insert(x.t, &f));
    OK(x.be->factor_get(x.t, "alice", f.id, &g));
    assert_factor_eq(&g, &f);
    list_in(&x, "alice", &s);
    ck_assert_uint_eq(s.n, 1);
    f.status = MFA_FACTOR_ACTIVE;
    f.last_step = 5;
    OK(x.be->factor_update(x.t, &f));
    OK(x.be->factor_get(x.t, "alice", f.id, &g));
    assert_factor_eq(&g, &f);
    OK(x.be->throttle_put(x.t, "alice", &t));
    OK(x.be->throttle_get(x.t, "alice", "", &tg));
    ck_assert_uint_eq(tg.failures, 2);
    OK(x.be->backup_insert(x.t, "alice", &c, 5));
    OK(x.be->backup_list(x.t, "alice", cl, 2, &n));
    ck_assert_uint_eq(n, 1);
    OK(x.be->backup_use(x.t, "alice", c.hash, 6));
    OK(x.be->backup_list(x.t, "alice", cl, 2, &n));
    ck_assert_uint_eq(n, 0);
    OK(x.be->oob_put(x.t, "alice", &o));
    OK(x.be->oob_get(x.t, "alice", "sms", &og));
    assert_challenge_eq(&og, &o);
    OK(x.be->factor_delete(x.t, "alice", f.id));
    RC(x.be->factor_get(x.t, "alice", f.id, &g), MFA_ERR_NOT_FOUND);
    OK(x.be->account_delete(x.t, "alice"));
    RC(x.be->oob_get(x.t, "alice", "sms", &og), MFA_ERR_NOT_FOUND);
    RC(x.be->throttle_get(x.t, "alice", "", &tg), MFA_ERR_NOT_FOUND);
    commit(&x);
}
END_TEST

/* One kind of write each; the transaction is rolled back. */
static void
write_kind(tx *x, int kind)
{
    mfa_factor_rec f = factor("alice", 0x101, 1000, MFA_FACTOR_ACTIVE);
    mfa_factor_rec nf = factor("alice", 0x1ff, 3000, MFA_FACTOR_PENDING);
    mfa_throttle_rec t;
    mfa_oob_challenge o;
    mfa_backup_rec c;

    switch (kind) {
    case 0:
        OK(x->be->factor_insert(x->t, &nf));
        break;
    case 1:
        f.last_step = 999;
        f.status = MFA_FACTOR_PENDING;
        fill_sealed(&f, MFA_SEALED_MAX, 0x44);
        OK(x->be->factor_update(x->t, &f));
        break;
    case 2:
        OK(x->be->factor_delete(x->t, "alice", f.id));
        break;
    case 3:
        t = throttle("", 9, 9, 9); /* overwrite */
        OK(x->be->throttle_put(x->t, "alice", &t));
        break;
    case 4:
        t = throttle("dev2", 9, 9, 9); /* new row */
        OK(x->be->throttle_put(x->t, "alice", &t));
        break;
    case 5:
        OK(x->be->throttle_delete(x->t, "alice", "dev1"));
        break;
    case 6:
        c = code_rec(50, 0);
        OK(x->be->backup_insert(x->t, "alice", &c, 9));
        break;
    case 7:
        c = code_rec(2, 0);
        OK(x->be->backup_use(x->t, "alice", c.hash, 9));
        break;
    case 8:
        OK(x->be->backup_clear(x->t, "alice"));
        break;
    case 9:
        o = challenge("sms", 77, 5000, 60, 1); /* overwrite */
        OK(x->be->oob_put(x->t, "alice", &o));
        break;
    case 10:
        o = challenge("email", 78, 5000, 60, 1); /* new row */
        OK(x->be->oob_put(x->t, "alice", &o));
        break;
    case 11:
        OK(x->be->oob_delete(x->t, "alice", "sms"));
        break;
    case 12:
        OK(x->be->account_delete(x->t, "alice"));
        break;
    case 13: {
        mfa_device_rec d = device(0x1fe, "new", 3000, 3000, 0); /* new row */
        OK(x->be->device_put(x->t, "alice", &d));
        break;
    }
    case 14: {
        mfa_device_rec d = device(0x101, "renamed", 1000, 4000, 5000);
        OK(x->be->device_put(x->t, "alice", &d)); /* overwrite */
        break;
    }
    case 15: {
        char id[MFA_FACTOR_ID_LEN + 1];
        idhex(id, 0x102);
        OK(x->be->device_delete(x->t, "alice", id));
        break;
    }
    default:
        /* everything at once, some rows twice */
        for (int k = 0; k < 16; k++)
            if (k != 2 && k != 12)
                write_kind(x, k);
        OK(x->be->factor_delete(x->t, "alice", nf.id));
        OK(x->be->factor_insert(x->t, &nf));
        write_kind(x, 12);
        OK(x->be->factor_insert(x->t, &nf));
        break;
    }
}

START_TEST(rollback_undoes_each_write)
{
    dump base, now;
    int kind;
    tx x;

    populate("alice", 0x100);
    populate("bob", 0x200);
    dump_of(S, "alice", &base);
    for (kind = 0; kind <= 16; kind++) {
        x = W("alice");
        write_kind(&x, kind);
        rollback(&x);
        dump_of(S, "alice", &now);
        assert_dump_eq(&now, &base);
    }
    /* a rolled-back insert left its id free; a rolled-back delete kept its
     * id taken */
    {
        mfa_factor_rec nf = factor("bob", 0x1ff, 1, MFA_FACTOR_PENDING);
        mfa_factor_rec old = factor("bob", 0x101, 1, MFA_FACTOR_PENDING);
        x = W("bob");
        OK(x.be->factor_insert(x.t, &nf));
        RC(x.be->factor_insert(x.t, &old), MFA_ERR_EXISTS);
        rollback(&x);
    }
    /* a store-wide expiry rolls back too */
    x = begin_on(S, NULL, MFA_TXN_WRITE);
    {
        size_t n = 0;
        OK(x.be->factor_expire(x.t, 5000, &n));
        ck_assert_uint_eq(n, 2);
    }
    rollback(&x);
    dump_of(S, "alice", &now);
    assert_dump_eq(&now, &base);
}
END_TEST

START_TEST(commit_seen_by_second_handle)
{
    mfa_store_t *s2 = open_again();
    dump a1, a2;
    tx x;
    mfa_factor_rec f = factor("alice", 0x300, 1000, MFA_FACTOR_PENDING), g;

    populate("alice", 0x100);
    dump_of(S, "alice", &a1);
    dump_of(s2, "alice", &a2);
    assert_dump_eq(&a1, &a2);
    /* rolled back on the second handle: never seen by the first */
    x = begin_on(s2, "alice", MFA_TXN_WRITE);
    OK(x.be->factor_insert(x.t, &f));
    OK(x.be->account_delete(x.t, "alice"));
    rollback(&x);
    dump_of(S, "alice", &a2);
    assert_dump_eq(&a1, &a2);
    /* committed on the second: seen by the first */
    x = begin_on(s2, "alice", MFA_TXN_WRITE);
    OK(x.be->factor_insert(x.t, &f));
    commit(&x);
    g = get("alice", f.id);
    assert_factor_eq(&g, &f);
    /* and ids stay unique across handles */
    x = begin_on(s2, "bob", MFA_TXN_WRITE);
    snprintf(f.account, sizeof(f.account), "bob");
    RC(x.be->factor_insert(x.t, &f), MFA_ERR_EXISTS);
    commit(&x);
    mfa_store_free(&s2);
}
END_TEST

START_TEST(read_transactions)
{
    mfa_factor_rec g;
    mfa_backup_rec c[8];
    size_t n;
    seen s;
    tx x;

    x = R("nobody");
    list_in(&x, "nobody", &s);
    ck_assert_uint_eq(s.n, 0);
    commit(&x);
    populate("alice", 0x100);
    x = R("alice");
    list_in(&x, "alice", &s);
    ck_assert_uint_eq(s.n, 2);
    OK(x.be->factor_get(x.t, "alice", s.recs[0].id, &g));
    OK(x.be->backup_list(x.t, "alice", c, 8, &n));
    ck_assert_uint_eq(n, 4);
    rollback(&x); /* a read transaction may end either way */
    x = R("alice");
    commit(&x);
}
END_TEST

/* ---- serialisation
 * ------------------------------------------------------------ */

/* Wait (bounded) until *flag is set; 0 when it never was. */
static int
wait_flag(atomic_int *flag, int seconds)
{
    int i;

    for (i = 0; i < seconds * 1000; i++) {
        if (atomic_load(flag))
            return 1;
        usleep(1000);
    }
    return atomic_load(flag) != 0;
}

typedef struct second_writer {
    mfa_store_t *s;
    atomic_int started, inside;
    mfa_rc rc;
    uint32_t seen_failures;
} second_writer;

static void *
second_writer_main(void *p)
{
    second_writer *w = p;
    const mfa_store_backend *be = mfa_store_backend_of(w->s);
    mfa_store_txn *t = NULL;
    mfa_throttle_rec r;

    atomic_store(&w->started, 1);
    w->rc = be->begin(mfa_store_impl_of(w->s), "alice", MFA_TXN_WRITE, &t);
    if (w->rc != MFA_OK)
        return NULL;
    atomic_store(&w->inside, 1);
    w->rc = be->throttle_get(t, "alice", "", &r);
    w->seen_failures = w->rc == MFA_OK ? r.failures : 0;
    r = throttle("", w->seen_failures + 1, 0, 2);
    if (w->rc == MFA_OK)
        w->rc = be->throttle_put(t, "alice", &r);
    if (w->rc == MFA_OK)
        w->rc = be->commit(t);
    else
        be->rollback(t);
    return NULL;
}

START_TEST(write_transactions_serialise)
{
    second_writer w;
    pthread_t th;
    mfa_throttle_rec r = throttle("", 1, 0, 1), g;
    tx x;

    memset(&w, 0, sizeof(w));
    w.s = B->open_again != NULL ? open_again() : S;
    x = W("alice");
    OK(x.be->throttle_put(x.t, "alice", &r));
    ck_assert_int_eq(pthread_create(&th, NULL, second_writer_main, &w), 0);
    ck_assert(wait_flag(&w.started, 30));
    /* give the second writer every chance to get in (it must not) */
    usleep(100000);
    ck_assert_int_eq(atomic_load(&w.inside), 0);
    r.failures = 10;
    OK(x.be->throttle_put(x.t, "alice", &r));
    commit(&x);
    ck_assert(wait_flag(&w.inside, 30));
    pthread_join(th, NULL);
    OK(w.rc);
    /* it began after our commit, so it read our last write */
    ck_assert_uint_eq(w.seen_failures, 10);
    x = R("alice");
    OK(x.be->throttle_get(x.t, "alice", "", &g));
    ck_assert_uint_eq(g.failures, 11);
    commit(&x);
    if (w.s != S)
        mfa_store_free(&w.s);
}
END_TEST

#define LOST_THREADS 4
#define LOST_ROUNDS 50

typedef struct counter_arg {
    mfa_store_t *s;
    int errors;
} counter_arg;

/* Read-modify-write of one row: serialised writers lose no update. */
static void *
counter_main(void *p)
{
    counter_arg *a = p;
    const mfa_store_backend *be = mfa_store_backend_of(a->s);
    int i;

    for (i = 0; i < LOST_ROUNDS; i++) {
        mfa_store_txn *t = NULL;
        mfa_throttle_rec r;
        mfa_rc rc =
            be->begin(mfa_store_impl_of(a->s), "counter", MFA_TXN_WRITE, &t);
        if (rc != MFA_OK) {
            a->errors++;
            continue;
        }
        rc = be->throttle_get(t, "counter", "", &r);
        if (rc == MFA_ERR_NOT_FOUND) {
            r = throttle("", 0, 0, 0);
            rc = MFA_OK;
        }
        r.failures++;
        if (rc == MFA_OK)
            rc = be->throttle_put(t, "counter", &r);
        if (rc == MFA_OK)
            rc = be->commit(t);
        else
            be->rollback(t);
        if (rc != MFA_OK)
            a->errors++;
    }
    return NULL;
}

START_TEST(no_lost_updates)
{
    pthread_t th[LOST_THREADS];
    counter_arg a[LOST_THREADS];
    mfa_throttle_rec g;
    int i;
    tx x;

    for (i = 0; i < LOST_THREADS; i++) {
        a[i].s = B->open_again != NULL && i % 2 ? open_again() : S;
        a[i].errors = 0;
        ck_assert_int_eq(pthread_create(&th[i], NULL, counter_main, &a[i]), 0);
    }
    for (i = 0; i < LOST_THREADS; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(a[i].errors, 0);
        if (a[i].s != S)
            mfa_store_free(&a[i].s);
    }
    x = R("counter");
    OK(x.be->throttle_get(x.t, "counter", "", &g));
    ck_assert_uint_eq(g.failures, LOST_THREADS * LOST_ROUNDS);
    commit(&x);
}
END_TEST

/* ---- passkeys (ABI 4) -------------------------------------------------------
 */

/* Pseudo-random bytes (NULs included), a different stream per seed. */
static void
fill_bytes(uint8_t *p, size_t len, uint32_t seed)
{
    uint32_t x = seed * 2654435761u; /* one-to-one */
    size_t i;

    for (i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (uint8_t)(x >> 24);
    }
}

/* The user handle of account number k (1..64 bytes). */
static size_t
handle_of(uint8_t h[MFA_WEBAUTHN_USER_HANDLE_MAX], uint32_t k, size_t len)
{
    memset(h, 0, MFA_WEBAUTHN_USER_HANDLE_MAX);
    fill_bytes(h, len, 0x4000u + k);
    return len;
}

/* Passkey n: its factor id is n, its credential id `id_len` bytes seeded
 * by n, its user handle account k's. */
static mfa_webauthn_rec
passkey(uint64_t n, int64_t created, size_t id_len, uint32_t k)
{
    mfa_webauthn_rec r;

    memset(&r, 0, sizeof(r));
    idhex(r.factor_id, n);
    snprintf(r.label, sizeof(r.label), "key %llu", (unsigned long long)n);
    r.created = created;
    r.last_used = 0;
    fill_bytes(r.cred.id, id_len, (uint32_t)n);
    r.cred.id_len = id_len;
    fill_bytes(r.cred.public_key, 77, (uint32_t)n + 0x100u);
    r.cred.public_key_len = 77;
    r.cred.algorithm = MFA_WEBAUTHN_ES256;
    r.cred.sign_count = (uint32_t)n;
    r.cred.transports = MFA_WEBAUTHN_TRANSPORT_USB | MFA_WEBAUTHN_TRANSPORT_NFC;
    r.cred.flags =
        MFA_WEBAUTHN_FLAG_UP | MFA_WEBAUTHN_FLAG_UV | MFA_WEBAUTHN_FLAG_AT;
    fill_bytes(r.cred.aaguid, MFA_WEBAUTHN_AAGUID_BYTES, (uint32_t)n + 0x200u);
    r.cred.attestation_format = MFA_WEBAUTHN_FMT_PACKED;
    r.cred.attestation_trust = MFA_WEBAUTHN_TRUST_SELF;
    r.cred.user_handle_len = handle_of(r.cred.user_handle, k, 32);
    return r;
}

/* Every field, the byte arrays up to their lengths. */
static void
assert_passkey_eq(const mfa_webauthn_rec *a, const mfa_webauthn_rec *b)
{
    ck_assert_str_eq(a->factor_id, b->factor_id);
    ck_assert_str_eq(a->label, b->label);
    ck_assert_int_eq(a->created, b->created);
    ck_assert_int_eq(a->last_used, b->last_used);
    ck_assert_uint_eq(a->cred.id_len, b->cred.id_len);
    ck_assert_mem_eq(a->cred.id, b->cred.id, a->cred.id_len);
    ck_assert_uint_eq(a->cred.public_key_len, b->cred.public_key_len);
    ck_assert_mem_eq(a->cred.public_key, b->cred.public_key,
                     a->cred.public_key_len);
    ck_assert_int_eq(a->cred.algorithm, b->cred.algorithm);
    ck_assert_uint_eq(a->cred.sign_count, b->cred.sign_count);
    ck_assert_uint_eq(a->cred.transports, b->cred.transports);
    ck_assert_uint_eq(a->cred.flags, b->cred.flags);
    ck_assert_mem_eq(a->cred.aaguid, b->cred.aaguid, MFA_WEBAUTHN_AAGUID_BYTES);
    ck_assert_int_eq(a->cred.attestation_format, b->cred.attestation_format);
    ck_assert_int_eq(a->cred.attestation_trust, b->cred.attestation_trust);
    ck_assert_uint_eq(a->cred.user_handle_len, b->cred.user_handle_len);
    ck_assert_mem_eq(a->cred.user_handle, b->cred.user_handle,
                     a->cred.user_handle_len);
}

/* Collects what webauthn_list hands to its callback. */
typedef struct wseen {
    mfa_webauthn_rec recs[8];
    size_t n;
    size_t stop_after; /* return MFA_ERR_INTERNAL after this many; 0: never */
} wseen;

static mfa_rc
wcollect(const mfa_webauthn_rec *r, void *arg)
{
    wseen *s = arg;

    ck_assert_uint_lt(s->n, 8);
    s->recs[s->n++] = *r;
    if (s->stop_after != 0 && s->n >= s->stop_after)
        return MFA_ERR_INTERNAL;
    return MFA_OK;
}

static void
wlist_in(tx *x, const char *account, wseen *s)
{
    memset(s, 0, sizeof(*s));
    OK(x->be->webauthn_list(x->t, account, wcollect, s));
}

static void
winsert(const char *account, const mfa_webauthn_rec *r)
{
    tx x = W(account);

    OK(x.be->webauthn_insert(x.t, account, r));
    commit(&x);
}

static mfa_rc
wget_rc(const char *account, const char *id, mfa_webauthn_rec *out)
{
    tx x = R(account);
    mfa_rc rc = x.be->webauthn_get(x.t, account, id, out);

    commit(&x);
    return rc;
}

static void
handle_put(const char *account, const uint8_t *h, size_t len, int64_t now)
{
    tx x = W(account);

    OK(x.be->webauthn_handle_put(x.t, account, h, len, now));
    commit(&x);
}

/* The account owning handle h, in a store-wide read transaction. */
static mfa_rc
handle_find(const uint8_t *h, size_t len, char who[MFA_ACCOUNT_MAX + 1])
{
    tx x = begin_on(S, NULL, MFA_TXN_READ);
    mfa_rc rc;

    memset(who, 0, MFA_ACCOUNT_MAX + 1);
    rc = x.be->webauthn_handle_find(x.t, h, len, who);
    commit(&x);
    return rc;
}

static void
nonce_of(uint8_t n[MFA_WEBAUTHN_NONCE_BYTES], uint32_t k)
{
    fill_bytes(n, MFA_WEBAUTHN_NONCE_BYTES, 0x9000u + k);
}

static mfa_rc
spend(tx *x, const char *account, uint32_t k, int64_t expires)
{
    uint8_t n[MFA_WEBAUTHN_NONCE_BYTES];

    nonce_of(n, k);
    return x->be->webauthn_spend(x->t, account, n, expires);
}

/*
 * An account's passkey state read in one transaction: its credentials in
 * list order, its user handle, and which of the nonces 1..WDUMP_NONCES it
 * has spent (probed by spending each, then rolled back).  Two dumps compare
 * equal when the account's passkey rows are the same.
 */
#define WDUMP_NONCES 6

typedef struct wdump {
    wseen list;
    mfa_rc handle_rc;
    uint8_t handle[MFA_WEBAUTHN_USER_HANDLE_MAX];
    size_t handle_len;
    mfa_rc spent[WDUMP_NONCES + 1];
} wdump;

static void
wdump_of(const char *account, wdump *d)
{
    tx x = W(account);
    uint32_t k;

    memset(d, 0, sizeof(*d));
    wlist_in(&x, account, &d->list);
    d->handle_rc =
        x.be->webauthn_handle_get(x.t, account, d->handle, &d->handle_len);
    ck_assert(d->handle_rc == MFA_OK || d->handle_rc == MFA_ERR_NOT_FOUND);
    if (d->handle_rc != MFA_OK) {
        memset(d->handle, 0, sizeof(d->handle));
        d->handle_len = 0;
    }
    for (k = 1; k <= WDUMP_NONCES; k++) {
        d->spent[k] = spend(&x, account, k, 1);
        ck_assert(d->spent[k] == MFA_OK || d->spent[k] == MFA_ERR_EXISTS);
    }
    rollback(&x);
}

static void
assert_wdump_eq(const wdump *a, const wdump *b)
{
    size_t i;

    ck_assert_uint_eq(a->list.n, b->list.n);
    for (i = 0; i < a->list.n; i++)
        assert_passkey_eq(&a->list.recs[i], &b->list.recs[i]);
    ck_assert_int_eq(a->handle_rc, b->handle_rc);
    ck_assert_uint_eq(a->handle_len, b->handle_len);
    ck_assert_mem_eq(a->handle, b->handle, a->handle_len);
    for (i = 1; i <= WDUMP_NONCES; i++)
        ck_assert_int_eq(a->spent[i], b->spent[i]);
}

/* Account k's committed passkey state: two credentials (factor ids base+1,
 * base+2), its handle, nonces 1 and 2 spent (expiring at 100 and 200). */
static void
wpopulate(const char *account, uint32_t k, uint64_t base)
{
    mfa_webauthn_rec a = passkey(base + 1, 1000, 64, k);
    mfa_webauthn_rec b = passkey(base + 2, 1001, 16, k);
    uint8_t h[MFA_WEBAUTHN_USER_HANDLE_MAX];
    size_t len = handle_of(h, k, 32);
    tx x = W(account);

    OK(x.be->webauthn_handle_put(x.t, account, h, len, 900));
    OK(x.be->webauthn_insert(x.t, account, &a));
    OK(x.be->webauthn_insert(x.t, account, &b));
    OK(spend(&x, account, 1, 100));
    OK(spend(&x, account, 2, 200));
    commit(&x);
}

START_TEST(webauthn_list_order)
{
    /* inserted out of order; equal times are ordered by factor id */
    mfa_webauthn_rec r[5] = {
        passkey(0x30, 3000, 20, 1), passkey(0x20, 1000, 21, 1),
        passkey(0x12, 2000, 22, 1), passkey(0x11, 2000, 23, 1),
        passkey(0x10, 500, 24, 2),
    };
    const int order[4] = {1, 3, 2, 0};
    wseen s;
    tx x;
    int i;

    for (i = 0; i < 4; i++)
        winsert("alice", &r[i]);
    winsert("bob", &r[4]);
    x = R("alice");
    wlist_in(&x, "alice", &s);
    ck_assert_uint_eq(s.n, 4);
    for (i = 0; i < 4; i++)
        assert_passkey_eq(&s.recs[i], &r[order[i]]);
    /* the callback's error stops the listing and is returned */
    memset(&s, 0, sizeof(s));
    s.stop_after = 2;
    RC(x.be->webauthn_list(x.t, "alice", wcollect, &s), MFA_ERR_INTERNAL);
    ck_assert_uint_eq(s.n, 2);
    assert_passkey_eq(&s.recs[1], &r[3]);
    commit(&x);
    x = R("bob");
    wlist_in(&x, "bob", &s);
    ck_assert_uint_eq(s.n, 1);
    assert_passkey_eq(&s.recs[0], &r[4]);
    commit(&x);
    x = R("carol");
    wlist_in(&x, "carol", &s);
    ck_assert_uint_eq(s.n, 0);
    commit(&x);
}
END_TEST

START_TEST(webauthn_get_not_found)
{
    mfa_webauthn_rec r = passkey(1, 1000, 32, 1), g;
    char other[MFA_FACTOR_ID_LEN + 1];

    idhex(other, 2);
    RC(wget_rc("alice", r.factor_id, &g), MFA_ERR_NOT_FOUND);
    winsert("alice", &r);
    OK(wget_rc("alice", r.factor_id, &g));
    assert_passkey_eq(&g, &r);
    RC(wget_rc("alice", other, &g), MFA_ERR_NOT_FOUND);
    /* another account's credential is not found through this account */
    RC(wget_rc("bob", r.factor_id, &g), MFA_ERR_NOT_FOUND);
}
END_TEST

START_TEST(webauthn_insert_exists)
{
    mfa_webauthn_rec r = passkey(1, 1000, 40, 1), g;
    mfa_webauthn_rec same_id = passkey(1, 2000, 41, 1);
    mfa_webauthn_rec same_cred = passkey(2, 2000, 40, 1);
    mfa_webauthn_rec prefix = passkey(3, 2000, 40, 2);
    wseen s;
    tx x;

    winsert("alice", &r);
    /* same_cred has r's credential id under another factor id */
    memcpy(same_cred.cred.id, r.cred.id, r.cred.id_len);
    x = W("alice");
    RC(x.be->webauthn_insert(x.t, "alice", &same_id), MFA_ERR_EXISTS);
    RC(x.be->webauthn_insert(x.t, "alice", &same_cred), MFA_ERR_EXISTS);
    commit(&x);
    /* factor ids and credential ids are unique in the whole store */
    same_id.cred.user_handle_len = handle_of(same_id.cred.user_handle, 2, 32);
    same_cred.cred.user_handle_len =
        handle_of(same_cred.cred.user_handle, 2, 32);
    x = W("bob");
    RC(x.be->webauthn_insert(x.t, "bob", &same_id), MFA_ERR_EXISTS);
    RC(x.be->webauthn_insert(x.t, "bob", &same_cred), MFA_ERR_EXISTS);
    wlist_in(&x, "bob", &s);
    ck_assert_uint_eq(s.n, 0);
    /* credential ids are compared whole: r's id cut short is another */
    memcpy(prefix.cred.id, r.cred.id, r.cred.id_len);
    prefix.cred.id_len = r.cred.id_len - 1;
    OK(x.be->webauthn_insert(x.t, "bob", &prefix));
    commit(&x);
    OK(wget_rc("alice", r.factor_id, &g));
    assert_passkey_eq(&g, &r);
    OK(wget_rc("bob", prefix.factor_id, &g));
    assert_passkey_eq(&g, &prefix);
    x = R("alice");
    wlist_in(&x, "alice", &s);
    ck_assert_uint_eq(s.n, 1);
    commit(&x);
}
END_TEST

START_TEST(webauthn_update_and_delete)
{
    mfa_webauthn_rec r = passkey(1, 1000, 32, 1),
                     other = passkey(2, 1000, 33, 2);
    mfa_webauthn_rec g, ghost = passkey(9, 1000, 34, 1);
    tx x;

    winsert("alice", &r);
    winsert("bob", &other);
    /* every field but the factor id and the credential id */
    snprintf(r.label, sizeof(r.label), "%s", "Bureau \xc3\xa0 Z\xc3\xbcrich");
    r.created = 1500;
    r.last_used = 7000;
    fill_bytes(r.cred.public_key, 300, 0x77);
    r.cred.public_key_len = 300;
    r.cred.algorithm = MFA_WEBAUTHN_RS256;
    r.cred.sign_count = 0xffffffffu;
    r.cred.transports = 0x3f;
    r.cred.flags = 0xff;
    fill_bytes(r.cred.aaguid, MFA_WEBAUTHN_AAGUID_BYTES, 0x78);
    r.cred.attestation_format = MFA_WEBAUTHN_FMT_FIDO_U2F;
    r.cred.attestation_trust = MFA_WEBAUTHN_TRUST_UNVERIFIED;
    r.cred.user_handle_len = handle_of(r.cred.user_handle, 3, 64);
    x = W("alice");
    OK(x.be->webauthn_update(x.t, "alice", &r));
    OK(x.be->webauthn_get(x.t, "alice", r.factor_id, &g));
    assert_passkey_eq(&g, &r);
    RC(x.be->webauthn_update(x.t, "alice", &ghost), MFA_ERR_NOT_FOUND);
    /* bob's row is not alice's to change */
    RC(x.be->webauthn_update(x.t, "alice", &other), MFA_ERR_NOT_FOUND);
    RC(x.be->webauthn_delete(x.t, "alice", other.factor_id), MFA_ERR_NOT_FOUND);
    RC(x.be->webauthn_delete(x.t, "alice", ghost.factor_id), MFA_ERR_NOT_FOUND);
    commit(&x);
    OK(wget_rc("alice", r.factor_id, &g));
    assert_passkey_eq(&g, &r);
    ck_assert_uint_eq(g.cred.sign_count, 0xffffffffu);
    /* the other fields back, the count back to 0 */
    r.cred.sign_count = 0;
    r.cred.algorithm = MFA_WEBAUTHN_EDDSA;
    r.cred.transports = 0;
    r.cred.flags = 0;
    r.last_used = 0;
    r.label[0] = '\0';
    r.cred.attestation_format = MFA_WEBAUTHN_FMT_NONE;
    r.cred.attestation_trust = MFA_WEBAUTHN_TRUST_NONE;
    x = W("alice");
    OK(x.be->webauthn_update(x.t, "alice", &r));
    commit(&x);
    OK(wget_rc("alice", r.factor_id, &g));
    assert_passkey_eq(&g, &r);
    OK(wget_rc("bob", other.factor_id, &g));
    assert_passkey_eq(&g, &other);

    x = W("alice");
    OK(x.be->webauthn_delete(x.t, "alice", r.factor_id));
    RC(x.be->webauthn_get(x.t, "alice", r.factor_id, &g), MFA_ERR_NOT_FOUND);
    RC(x.be->webauthn_delete(x.t, "alice", r.factor_id), MFA_ERR_NOT_FOUND);
    RC(x.be->webauthn_update(x.t, "alice", &r), MFA_ERR_NOT_FOUND);
    commit(&x);
    RC(wget_rc("alice", r.factor_id, &g), MFA_ERR_NOT_FOUND);
    /* its factor id and credential id are free again, for anyone */
    r.cred.user_handle_len = handle_of(r.cred.user_handle, 2, 32);
    winsert("bob", &r);
    OK(wget_rc("bob", r.factor_id, &g));
    assert_passkey_eq(&g, &r);
}
END_TEST

START_TEST(webauthn_record_limits)
{
    mfa_webauthn_rec big =
        passkey(1, INT64_C(253402300799), MFA_WEBAUTHN_CRED_ID_MAX, 1);
    mfa_webauthn_rec small = passkey(2, 0, MFA_WEBAUTHN_CRED_ID_MIN, 1);
    mfa_webauthn_rec g;
    size_t i;
    wseen s;
    tx x;

    /* the largest of everything, every byte value in the blobs */
    memset(big.label, 'x', MFA_LABEL_MAX);
    big.label[MFA_LABEL_MAX] = '\0';
    big.last_used = INT64_C(253402300799);
    fill_bytes(big.cred.public_key, MFA_WEBAUTHN_PUBLIC_KEY_MAX, 5);
    big.cred.public_key_len = MFA_WEBAUTHN_PUBLIC_KEY_MAX;
    big.cred.sign_count = 0xffffffffu;
    big.cred.transports = 0x3f;
    big.cred.flags = 0xff;
    memset(big.cred.aaguid, 0xff, MFA_WEBAUTHN_AAGUID_BYTES);
    big.cred.user_handle_len =
        handle_of(big.cred.user_handle, 1, MFA_WEBAUTHN_USER_HANDLE_MAX);
    /* and the smallest: NUL bytes only, a 1-byte key and handle */
    memset(small.cred.id, 0, MFA_WEBAUTHN_CRED_ID_MIN);
    memset(small.cred.public_key, 0, 1);
    small.cred.public_key_len = 1;
    memset(small.cred.aaguid, 0, MFA_WEBAUTHN_AAGUID_BYTES);
    small.cred.user_handle[0] = 0;
    small.cred.user_handle_len = 1;
    small.label[0] = '\0';
    small.cred.sign_count = 0;
    winsert("alice", &big);
    winsert("alice", &small);
    OK(wget_rc("alice", big.factor_id, &g));
    assert_passkey_eq(&g, &big);
    for (i = 0; i < MFA_WEBAUTHN_CRED_ID_MAX; i++)
        ck_assert_uint_eq(g.cred.id[i], big.cred.id[i]);
    OK(wget_rc("alice", small.factor_id, &g));
    assert_passkey_eq(&g, &small);
    x = R("alice");
    wlist_in(&x, "alice", &s);
    ck_assert_uint_eq(s.n, 2);
    assert_passkey_eq(&s.recs[0], &small);
    assert_passkey_eq(&s.recs[1], &big);
    commit(&x);
}
END_TEST

START_TEST(webauthn_handles)
{
    uint8_t ha[MFA_WEBAUTHN_USER_HANDLE_MAX], hb[MFA_WEBAUTHN_USER_HANDLE_MAX];
    uint8_t g[MFA_WEBAUTHN_USER_HANDLE_MAX],
        longer[MFA_WEBAUTHN_USER_HANDLE_MAX];
    size_t la = handle_of(ha, 1, 32), lb, len = 99;
    char who[MFA_ACCOUNT_MAX + 1];
    tx x;

    x = R("alice");
    RC(x.be->webauthn_handle_get(x.t, "alice", g, &len), MFA_ERR_NOT_FOUND);
    commit(&x);
    RC(handle_find(ha, la, who), MFA_ERR_NOT_FOUND);
    handle_put("alice", ha, la, 1000);
    x = W("alice");
    OK(x.be->webauthn_handle_get(x.t, "alice", g, &len));
    ck_assert_uint_eq(len, la);
    ck_assert_mem_eq(g, ha, la);
    /* one handle per account: neither the same nor another again */
    RC(x.be->webauthn_handle_put(x.t, "alice", ha, la, 1001), MFA_ERR_EXISTS);
    lb = handle_of(hb, 2, 32);
    RC(x.be->webauthn_handle_put(x.t, "alice", hb, lb, 1001), MFA_ERR_EXISTS);
    commit(&x);
    /* one account per handle */
    x = W("bob");
    RC(x.be->webauthn_handle_put(x.t, "bob", ha, la, 1002), MFA_ERR_EXISTS);
    RC(x.be->webauthn_handle_get(x.t, "bob", g, &len), MFA_ERR_NOT_FOUND);
    /* compared whole: alice's handle cut short is another one */
    OK(x.be->webauthn_handle_put(x.t, "bob", ha, la - 1, 1002));
    commit(&x);
    x = R("bob");
    OK(x.be->webauthn_handle_get(x.t, "bob", g, &len));
    ck_assert_uint_eq(len, la - 1);
    ck_assert_mem_eq(g, ha, la - 1);
    commit(&x);
    OK(handle_find(ha, la, who));
    ck_assert_str_eq(who, "alice");
    OK(handle_find(ha, la - 1, who));
    ck_assert_str_eq(who, "bob");
    memcpy(longer, ha, la);
    longer[la] = 0;
    RC(handle_find(longer, la + 1, who), MFA_ERR_NOT_FOUND);
    RC(handle_find(ha, la - 2, who), MFA_ERR_NOT_FOUND);
    RC(handle_find(hb, lb, who), MFA_ERR_NOT_FOUND);
    /* the extremes: 64 bytes, and one NUL byte, of the longest name */
    {
        char acct[MFA_ACCOUNT_MAX + 1];
        uint8_t nul = 0;

        memset(acct, 'c', MFA_ACCOUNT_MAX);
        acct[MFA_ACCOUNT_MAX] = '\0';
        lb = handle_of(hb, 3, MFA_WEBAUTHN_USER_HANDLE_MAX);
        handle_put(acct, hb, lb, 0);
        handle_put("dave", &nul, 1, INT64_C(253402300799));
        OK(handle_find(hb, lb, who));
        ck_assert_str_eq(who, acct);
        OK(handle_find(&nul, 1, who));
        ck_assert_str_eq(who, "dave");
        x = R(acct);
        OK(x.be->webauthn_handle_get(x.t, acct, g, &len));
        ck_assert_uint_eq(len, MFA_WEBAUTHN_USER_HANDLE_MAX);
        ck_assert_mem_eq(g, hb, lb);
        commit(&x);
        x = R("dave");
        OK(x.be->webauthn_handle_get(x.t, "dave", g, &len));
        ck_assert_uint_eq(len, 1);
        ck_assert_uint_eq(g[0], 0);
        commit(&x);
    }
}
END_TEST

START_TEST(webauthn_spent_nonces)
{
    size_t n = 99;
    tx x;

    x = W("alice");
    OK(spend(&x, "alice", 1, 100));
    RC(spend(&x, "alice", 1, 100), MFA_ERR_EXISTS);
    RC(spend(&x, "alice", 1, 5000), MFA_ERR_EXISTS);
    OK(spend(&x, "alice", 2, 200));
    OK(spend(&x, "alice", 3, 300));
    commit(&x);
    x = W("alice");
    RC(spend(&x, "alice", 1, 100), MFA_ERR_EXISTS);
    /* nonces are compared whole: one differing in its last byte only, or
     * in its first, is another */
    {
        uint8_t a[MFA_WEBAUTHN_NONCE_BYTES], b[MFA_WEBAUTHN_NONCE_BYTES];

        memset(a, 0x42, sizeof(a));
        memcpy(b, a, sizeof(b));
        b[MFA_WEBAUTHN_NONCE_BYTES - 1] ^= 0x80;
        OK(x.be->webauthn_spend(x.t, "alice", a, 400));
        OK(x.be->webauthn_spend(x.t, "alice", b, 400));
        b[MFA_WEBAUTHN_NONCE_BYTES - 1] ^= 0x80;
        b[0] ^= 1;
        OK(x.be->webauthn_spend(x.t, "alice", b, 400));
        RC(x.be->webauthn_spend(x.t, "alice", a, 400), MFA_ERR_EXISTS);
    }
    rollback(&x);
    /* per account: bob may spend alice's nonces */
    x = W("bob");
    OK(spend(&x, "bob", 1, 100));
    OK(spend(&x, "bob", 2, 250));
    commit(&x);

    /* alice's expiring before 300 (strictly): 1 and 2, not bob's */
    x = W("alice");
    OK(x.be->webauthn_spent_expire(x.t, "alice", 300, &n));
    ck_assert_uint_eq(n, 2);
    OK(spend(&x, "alice", 1, 100));
    OK(spend(&x, "alice", 2, 200));
    RC(spend(&x, "alice", 3, 300), MFA_ERR_EXISTS);
    OK(x.be->webauthn_spent_expire(x.t, "alice", 300, &n));
    ck_assert_uint_eq(n, 2);
    commit(&x);
    x = W("bob");
    RC(spend(&x, "bob", 1, 100), MFA_ERR_EXISTS);
    OK(x.be->webauthn_spent_expire(x.t, "bob", 0, &n));
    ck_assert_uint_eq(n, 0);
    commit(&x);
    x = W("carol");
    OK(x.be->webauthn_spent_expire(x.t, "carol", 1000, &n));
    ck_assert_uint_eq(n, 0);
    commit(&x);

    /* store-wide: alice's 3 (300), bob's 1 (100) and 2 (250) before 301 */
    x = begin_on(S, NULL, MFA_TXN_WRITE);
    OK(x.be->webauthn_spent_expire(x.t, NULL, 250, &n));
    ck_assert_uint_eq(n, 1);
    OK(x.be->webauthn_spent_expire(x.t, NULL, 301, &n));
    ck_assert_uint_eq(n, 2);
    OK(x.be->webauthn_spent_expire(x.t, NULL, 301, &n));
    ck_assert_uint_eq(n, 0);
    commit(&x);
    x = W("alice");
    OK(spend(&x, "alice", 3, 300));
    commit(&x);
    x = W("bob");
    OK(spend(&x, "bob", 1, 100));
    OK(spend(&x, "bob", 2, 250));
    commit(&x);
}
END_TEST

/* One kind of passkey write on alice (account 1 of wpopulate, base 0x100). */
static void
wwrite_kind(tx *x, int kind)
{
    mfa_webauthn_rec r = passkey(0x101, 1000, 64, 1);
    mfa_webauthn_rec nr = passkey(0x1ff, 3000, 48, 1);
    size_t n = 0;

    switch (kind) {
    case 0:
        OK(x->be->webauthn_insert(x->t, "alice", &nr));
        break;
    case 1:
        r.cred.sign_count = 0xffffffffu;
        r.last_used = 5000;
        snprintf(r.label, sizeof(r.label), "%s", "renamed");
        OK(x->be->webauthn_update(x->t, "alice", &r));
        break;
    case 2:
        OK(x->be->webauthn_delete(x->t, "alice", r.factor_id));
        break;
    case 3:
        OK(spend(x, "alice", 5, 500));
        break;
    case 4:
        OK(x->be->webauthn_spent_expire(x->t, "alice", 150, &n));
        ck_assert_uint_eq(n, 1);
        break;
    case 5:
        OK(x->be->account_delete(x->t, "alice"));
        break;
    default:
        /* everything, some rows twice, then all gone and back */
        for (int k = 0; k < 5; k++)
            wwrite_kind(x, k);
        OK(x->be->webauthn_delete(x->t, "alice", nr.factor_id));
        OK(x->be->webauthn_insert(x->t, "alice", &nr));
        wwrite_kind(x, 5);
        OK(x->be->webauthn_insert(x->t, "alice", &nr));
        OK(x->be->webauthn_insert(x->t, "alice", &r));
        {
            uint8_t h[MFA_WEBAUTHN_USER_HANDLE_MAX];
            size_t len = handle_of(h, 1, 32);
            OK(x->be->webauthn_handle_put(x->t, "alice", h, len, 5));
        }
        OK(spend(x, "alice", 1, 100));
        break;
    }
}

START_TEST(webauthn_rollback_undoes_each_write)
{
    wdump base, now, bob;
    uint8_t h[MFA_WEBAUTHN_USER_HANDLE_MAX], g[MFA_WEBAUTHN_USER_HANDLE_MAX];
    size_t len, glen;
    char who[MFA_ACCOUNT_MAX + 1];
    int kind;
    tx x;

    wpopulate("alice", 1, 0x100);
    wpopulate("bob", 2, 0x200);
    wdump_of("alice", &base);
    wdump_of("bob", &bob);
    ck_assert_uint_eq(base.list.n, 2);
    ck_assert_int_eq(base.handle_rc, MFA_OK);
    ck_assert_int_eq(base.spent[1], MFA_ERR_EXISTS);
    ck_assert_int_eq(base.spent[3], MFA_OK);
    for (kind = 0; kind <= 6; kind++) {
        x = W("alice");
        wwrite_kind(&x, kind);
        rollback(&x);
        wdump_of("alice", &now);
        assert_wdump_eq(&now, &base);
    }
    /* a rolled-back insert left its ids free; a rolled-back delete or
     * account_delete kept alice's credential ids and handle taken */
    {
        mfa_webauthn_rec nr = passkey(0x1ff, 3000, 48, 3);
        mfa_webauthn_rec old = passkey(0x101, 1000, 64, 3);
        mfa_webauthn_rec old_cred = passkey(0x301, 1000, 64, 3);

        memcpy(old_cred.cred.id, old.cred.id, old.cred.id_len);
        x = W("carol");
        OK(x.be->webauthn_insert(x.t, "carol", &nr));
        RC(x.be->webauthn_insert(x.t, "carol", &old), MFA_ERR_EXISTS);
        RC(x.be->webauthn_insert(x.t, "carol", &old_cred), MFA_ERR_EXISTS);
        len = handle_of(h, 1, 32);
        RC(x.be->webauthn_handle_put(x.t, "carol", h, len, 5), MFA_ERR_EXISTS);
        rollback(&x);
        /* also for alice herself, under another factor id */
        old_cred.cred.user_handle_len =
            handle_of(old_cred.cred.user_handle, 1, 32);
        x = W("alice");
        RC(x.be->webauthn_insert(x.t, "alice", &old_cred), MFA_ERR_EXISTS);
        rollback(&x);
    }
    /* a rolled-back handle: the account has none, the handle is free */
    len = handle_of(h, 3, 20);
    x = W("carol");
    OK(x.be->webauthn_handle_put(x.t, "carol", h, len, 5));
    OK(x.be->webauthn_handle_get(x.t, "carol", g, &glen));
    ck_assert_uint_eq(glen, len);
    rollback(&x);
    x = W("carol");
    RC(x.be->webauthn_handle_get(x.t, "carol", g, &glen), MFA_ERR_NOT_FOUND);
    rollback(&x);
    RC(handle_find(h, len, who), MFA_ERR_NOT_FOUND);
    handle_put("dave", h, len, 6);
    OK(handle_find(h, len, who));
    ck_assert_str_eq(who, "dave");
    /* a store-wide expiry rolls back too */
    x = begin_on(S, NULL, MFA_TXN_WRITE);
    {
        size_t n = 0;
        OK(x.be->webauthn_spent_expire(x.t, NULL, 1000, &n));
        ck_assert_uint_eq(n, 4);
    }
    rollback(&x);
    wdump_of("alice", &now);
    assert_wdump_eq(&now, &base);
    wdump_of("bob", &now);
    assert_wdump_eq(&now, &bob);
}
END_TEST

START_TEST(webauthn_account_delete)
{
    wdump bob_before, now, empty;
    mfa_webauthn_rec r = passkey(0x101, 1000, 64, 1);
    uint8_t h[MFA_WEBAUTHN_USER_HANDLE_MAX];
    size_t len = handle_of(h, 1, 32);
    char who[MFA_ACCOUNT_MAX + 1];
    tx x;

    wpopulate("alice", 1, 0x100);
    wpopulate("bob", 2, 0x200);
    populate("alice", 0x400);
    wdump_of("bob", &bob_before);
    wdump_of("nobody", &empty);
    OK(handle_find(h, len, who));
    ck_assert_str_eq(who, "alice");
    x = W("alice");
    OK(x.be->account_delete(x.t, "alice"));
    commit(&x);
    wdump_of("alice", &now);
    assert_wdump_eq(&now, &empty);
    wdump_of("bob", &now);
    assert_wdump_eq(&now, &bob_before);
    RC(handle_find(h, len, who), MFA_ERR_NOT_FOUND);
    /* alice's factor ids, credential ids and handle are free again */
    r.cred.user_handle_len = handle_of(r.cred.user_handle, 3, 32);
    winsert("carol", &r);
    handle_put("carol", h, len, 2000);
    OK(handle_find(h, len, who));
    ck_assert_str_eq(who, "carol");
}
END_TEST

/* Store-wide uniqueness under racing writers of different accounts: each
 * round's credential id, and one user handle, end up with exactly one
 * account. */
#define WRACE_THREADS 6
#define WRACE_ROUNDS 20

typedef struct wrace_arg {
    mfa_store_t *s;
    int who;
    int errors;
    int won_handle;
    int won[WRACE_ROUNDS];
} wrace_arg;

static void *
wrace_main(void *p)
{
    wrace_arg *a = p;
    const mfa_store_backend *be = mfa_store_backend_of(a->s);
    char account[16];
    uint8_t h[MFA_WEBAUTHN_USER_HANDLE_MAX];
    size_t len = handle_of(h, 77, 40);
    mfa_store_txn *t = NULL;
    mfa_rc rc;
    int k;

    snprintf(account, sizeof(account), "racer%d", a->who);
    rc = be->begin(mfa_store_impl_of(a->s), account, MFA_TXN_WRITE, &t);
    if (rc == MFA_OK) {
        rc = be->webauthn_handle_put(t, account, h, len, 1);
        a->won_handle = rc == MFA_OK;
        if (rc == MFA_OK)
            rc = be->commit(t);
        else
            be->rollback(t);
    }
    if (rc != MFA_OK && rc != MFA_ERR_EXISTS)
        a->errors++;
    for (k = 0; k < WRACE_ROUNDS; k++) {
        /* a factor id of its own, the round's credential id */
        mfa_webauthn_rec r =
            passkey((uint64_t)(0x10000 + a->who * 0x100 + k), 1000, 32, 77);
        fill_bytes(r.cred.id, r.cred.id_len, 0x7000u + (uint32_t)k);
        t = NULL;
        rc = be->begin(mfa_store_impl_of(a->s), account, MFA_TXN_WRITE, &t);
        if (rc != MFA_OK) {
            a->errors++;
            continue;
        }
        rc = be->webauthn_insert(t, account, &r);
        if (rc == MFA_OK) {
            rc = be->commit(t);
            a->won[k] = rc == MFA_OK;
        } else {
            be->rollback(t);
        }
        if (rc != MFA_OK && rc != MFA_ERR_EXISTS)
            a->errors++;
    }
    return NULL;
}

START_TEST(webauthn_unique_across_racing_accounts)
{
    pthread_t th[WRACE_THREADS];
    wrace_arg a[WRACE_THREADS];
    int i, k, handles = 0;

    for (i = 0; i < WRACE_THREADS; i++) {
        memset(&a[i], 0, sizeof(a[i]));
        a[i].s = B->open_again != NULL && i % 2 ? open_again() : S;
        a[i].who = i;
        ck_assert_int_eq(pthread_create(&th[i], NULL, wrace_main, &a[i]), 0);
    }
    for (i = 0; i < WRACE_THREADS; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(a[i].errors, 0);
        handles += a[i].won_handle;
        if (a[i].s != S)
            mfa_store_free(&a[i].s);
    }
    ck_assert_int_eq(handles, 1);
    for (k = 0; k < WRACE_ROUNDS; k++) {
        int winners = 0;
        for (i = 0; i < WRACE_THREADS; i++)
            if (a[i].won[k]) {
                char account[16], id[MFA_FACTOR_ID_LEN + 1];
                mfa_webauthn_rec g;

                winners++;
                snprintf(account, sizeof(account), "racer%d", i);
                idhex(id, (uint64_t)(0x10000 + i * 0x100 + k));
                OK(wget_rc(account, id, &g));
            }
        ck_assert_msg(winners == 1, "round %d: %d winners", k, winners);
    }
    {
        uint8_t h[MFA_WEBAUTHN_USER_HANDLE_MAX];
        size_t len = handle_of(h, 77, 40);
        char who[MFA_ACCOUNT_MAX + 1], want[16];

        OK(handle_find(h, len, who));
        for (i = 0; i < WRACE_THREADS; i++)
            if (a[i].won_handle)
                snprintf(want, sizeof(want), "racer%d", i);
        ck_assert_str_eq(who, want);
    }
}
END_TEST

/* ---- the service over this store ------------------------------------------
 */

#define T0 1700000000 /* 56666666 * 30 + 20 */

static struct {
    mfa_keyring_t *kr;
    mfa_ctx_t *ctx;
    int64_t now;
    char oob_code[MFA_CODE_BUFSIZE];
} F;

static int64_t
fake_clock(void *arg)
{
    (void)arg;
    return F.now;
}

static mfa_rc
oob_sender(const char *account, const char *purpose, const char *code,
           void *arg)
{
    (void)account;
    (void)purpose;
    (void)arg;
    snprintf(F.oob_code, sizeof(F.oob_code), "%s", code);
    return MFA_OK;
}

static mfa_ctx_t *
ctx_on(mfa_store_t *s)
{
    mfa_ctx_t *c = NULL;

    OK(mfa_ctx_new(&c, s, F.kr));
    mfa_ctx_set_clock(c, fake_clock, NULL);
    mfa_ctx_set_oob_sender(c, oob_sender, NULL);
    return c;
}

static void
svc_setup(void)
{
    uint32_t id;

    setup();
    memset(&F, 0, sizeof(F));
    F.now = T0;
    OK(mfa_keyring_new(&F.kr));
    OK(mfa_keyring_generate(F.kr, &id));
    F.ctx = ctx_on(S);
}

static void
svc_teardown(void)
{
    mfa_ctx_free(&F.ctx);
    mfa_keyring_free(&F.kr);
    teardown();
}

typedef struct app {
    char id[MFA_FACTOR_ID_LEN + 1];
    mfa_otp_t *otp;
} app;

static void
enroll(const char *account, app *a)
{
    mfa_enrollment_t *e = NULL;
    mfa_uri_t *u = NULL;

    OK(mfa_enroll_begin(F.ctx, account, "phone", NULL, &e));
    OK(mfa_uri_parse(mfa_enrollment_uri(e), &u, NULL));
    OK(mfa_uri_to_otp(u, &a->otp));
    mfa_uri_free(&u);
    snprintf(a->id, sizeof(a->id), "%s", mfa_enrollment_factor_id(e));
    mfa_enrollment_free(&e);
}

static void
code_at(const app *a, int steps, char out[MFA_CODE_BUFSIZE])
{
    OK(mfa_otp_totp(a->otp, F.now + 30 * (int64_t)steps, out,
                    MFA_CODE_BUFSIZE));
}

/* A code no step near now gives. */
static void
wrong_code(const app *a, char out[MFA_CODE_BUFSIZE])
{
    unsigned v = 0;

    for (;;) {
        char c[MFA_CODE_BUFSIZE];
        int clash = 0;
        snprintf(out, MFA_CODE_BUFSIZE, "%06u", v);
        for (int s = -12; s <= 12; s++) {
            code_at(a, s, c);
            clash |= strcmp(c, out) == 0;
        }
        if (!clash)
            return;
        v += 111111;
    }
}

static void
enroll_active(const char *account, app *a)
{
    char c[MFA_CODE_BUFSIZE];
    mfa_result r;

    enroll(account, a);
    code_at(a, 0, c);
    OK(mfa_enroll_confirm(F.ctx, account, a->id, c, &r));
    F.now += 30;
}

/* The account's "" bucket, read through the backend. */
static uint32_t
failures_of(const char *account)
{
    mfa_throttle_rec r;
    tx x = R(account);
    mfa_rc rc = x.be->throttle_get(x.t, account, "", &r);

    commit(&x);
    ck_assert(rc == MFA_OK || rc == MFA_ERR_NOT_FOUND);
    return rc == MFA_OK ? r.failures : 0;
}

static size_t
factor_count(const char *account)
{
    mfa_factor_info *list = NULL;
    size_t n = 99;

    OK(mfa_factors_list(F.ctx, account, &list, &n));
    mfa_free(list);
    return n;
}

START_TEST(flows)
{
    const mfa_throttle_policy p = {2, 30, 3600};
    char c[MFA_CODE_BUFSIZE], w[MFA_CODE_BUFSIZE];
    char **codes = NULL;
    size_t n = 0, left = 0, resealed = 9, skipped = 9;
    mfa_result r;
    uint32_t id;
    app a, b;
    int has = -1;

    OK(mfa_ctx_set_throttle(F.ctx, &p));
    OK(mfa_account_has_mfa(F.ctx, "alice", &has));
    ck_assert_int_eq(has, 0);
    enroll("alice", &a);
    OK(mfa_account_has_mfa(F.ctx, "alice", &has));
    ck_assert_int_eq(has, 0); /* pending is not MFA yet */
    wrong_code(&a, w);
    RC(mfa_enroll_confirm(F.ctx, "alice", a.id, w, &r), MFA_ERR_CODE_WRONG);
    ck_assert_uint_eq(failures_of("alice"), 1);
    code_at(&a, 0, c);
    OK(mfa_enroll_confirm(F.ctx, "alice", a.id, c, &r));
    ck_assert_uint_eq(failures_of("alice"), 0);
    RC(mfa_enroll_confirm(F.ctx, "alice", a.id, c, &r), MFA_ERR_STATE);
    OK(mfa_account_has_mfa(F.ctx, "alice", &has));
    ck_assert_int_eq(has, 1);

    /* the confirmation code is spent; the next step verifies once */
    RC(mfa_verify(F.ctx, "alice", c, &r), MFA_ERR_REPLAYED);
    F.now += 30;
    code_at(&a, 0, c);
    OK(mfa_verify(F.ctx, "alice", c, &r));
    ck_assert_str_eq(r.factor_id, a.id);
    RC(mfa_verify(F.ctx, "alice", c, &r), MFA_ERR_REPLAYED);
    F.now += 30;
    code_at(&a, 0, c);
    OK(mfa_verify(F.ctx, "alice", c, &r));
    ck_assert_uint_eq(failures_of("alice"), 0);

    /* wrong codes count; past the free attempts, throttled */
    F.now += 30;
    wrong_code(&a, w);
    RC(mfa_verify(F.ctx, "alice", w, &r), MFA_ERR_CODE_WRONG);
    RC(mfa_verify(F.ctx, "alice", w, &r), MFA_ERR_CODE_WRONG);
    RC(mfa_verify(F.ctx, "alice", w, &r), MFA_ERR_CODE_WRONG);
    ck_assert_uint_eq(r.failures, 3);
    code_at(&a, 0, c);
    RC(mfa_verify(F.ctx, "alice", c, &r), MFA_ERR_THROTTLED);
    ck_assert_uint_gt(r.retry_after, 0);
    F.now += r.retry_after;
    code_at(&a, 0, c);
    OK(mfa_verify(F.ctx, "alice", c, &r));
    ck_assert_uint_eq(failures_of("alice"), 0);

    /* backup codes: each once */
    OK(mfa_backup_codes_new(F.ctx, "alice", 3, &codes));
    OK(mfa_recover(F.ctx, "alice", codes[1], &r));
    ck_assert_uint_eq(r.backup_codes_left, 2);
    ck_assert_int_ne(mfa_recover(F.ctx, "alice", codes[1], &r), MFA_OK);
    OK(mfa_backup_codes_left(F.ctx, "alice", &left));
    ck_assert_uint_eq(left, 2);
    mfa_backup_codes_free(&codes, 3);

    /* out-of-band codes: each once */
    OK(mfa_oob_begin(F.ctx, "alice", "sms"));
    OK(mfa_oob_verify(F.ctx, "alice", "sms", F.oob_code, &r));
    ck_assert_int_ne(mfa_oob_verify(F.ctx, "alice", "sms", F.oob_code, &r),
                     MFA_OK);

    /* a second factor, removed again */
    enroll_active("alice", &b);
    ck_assert_uint_eq(factor_count("alice"), 2);
    OK(mfa_factor_rename(F.ctx, "alice", b.id, "tablet"));
    OK(mfa_factor_remove(F.ctx, "alice", b.id));
    RC(mfa_factor_remove(F.ctx, "alice", b.id), MFA_ERR_NOT_FOUND);
    ck_assert_uint_eq(factor_count("alice"), 1);

    /* key rotation: resealed under the new key, still verifying */
    enroll_active("bob", &b);
    OK(mfa_keyring_generate(F.kr, &id));
    OK(mfa_keyring_rotate(F.ctx, &resealed, &skipped));
    ck_assert_uint_eq(resealed, 2);
    ck_assert_uint_eq(skipped, 0);
    OK(mfa_keyring_rotate(F.ctx, &resealed, &skipped));
    ck_assert_uint_eq(resealed, 0);
    ck_assert_uint_eq(skipped, 2);
    F.now += 30;
    code_at(&a, 0, c);
    OK(mfa_verify(F.ctx, "alice", c, &r));
    code_at(&b, 0, c);
    OK(mfa_verify(F.ctx, "bob", c, &r));

    /* reset: nothing left of alice, bob untouched */
    OK(mfa_reset(F.ctx, "alice"));
    OK(mfa_account_has_mfa(F.ctx, "alice", &has));
    ck_assert_int_eq(has, 0);
    ck_assert_uint_eq(factor_count("alice"), 0);
    OK(mfa_backup_codes_left(F.ctx, "alice", &n));
    ck_assert_uint_eq(n, 0);
    OK(mfa_account_has_mfa(F.ctx, "bob", &has));
    ck_assert_int_eq(has, 1);
    mfa_otp_free(&a.otp);
    mfa_otp_free(&b.otp);
}
END_TEST

/* Accounts that hold throttle or device rows, read store-wide. */
static size_t
accounts_with_state(void)
{
    char page[64][MFA_ACCOUNT_MAX + 1];
    size_t n = 0;
    tx x = begin_on(S, NULL, MFA_TXN_READ);

    OK(x.be->state_scan(x.t, "", page, 64, &n));
    commit(&x);
    return n;
}

/*
 * Known devices on this backend: a success issues a token; with it the
 * device spends its own budget, so a flood of wrong codes without one
 * locks unknown devices only; forged and other-account tokens change
 * nothing; invented names leave no row; the clean-up removes what belongs
 * to no factor.
 */
START_TEST(device_flows)
{
    const mfa_throttle_policy p = {2, 30, 3600};
    char c[MFA_CODE_BUFSIZE], w[MFA_CODE_BUFSIZE];
    char tok[MFA_DEVICE_TOKEN_BUFSIZE], forged[MFA_DEVICE_TOKEN_BUFSIZE];
    mfa_device_opts o = {NULL, "Firefox", 30};
    mfa_device_info info, *list = NULL;
    dump before, after;
    size_t n = 0, removed = 0;
    mfa_result r;
    app a, b;

    OK(mfa_ctx_set_throttle(F.ctx, &p));
    OK(mfa_ctx_set_gc(F.ctx, 0, 3600));
    enroll_active("alice", &a);
    enroll_active("bob", &b);
    code_at(&a, 0, c);
    OK(mfa_verify_device(F.ctx, "alice", c, &o, &r));
    ck_assert_uint_eq(strlen(r.device_token), MFA_DEVICE_TOKEN_LEN);
    snprintf(tok, sizeof(tok), "%s", r.device_token);
    OK(mfa_device_check(F.ctx, "alice", tok, &info));
    ck_assert_str_eq(info.label, "Firefox");
    ck_assert_int_eq(info.trusted_until, F.now + 30 * 86400);
    /* bob's account does not know alice's device */
    RC(mfa_device_check(F.ctx, "bob", tok, NULL), MFA_ERR_DEVICE_UNKNOWN);

    /* the flood: wrong codes without a token lock unknown devices */
    F.now += 30;
    wrong_code(&a, w);
    for (int i = 0; i < 6; i++)
        ck_assert_int_ne(mfa_verify(F.ctx, "alice", w, &r), MFA_OK);
    code_at(&a, 0, c);
    RC(mfa_verify(F.ctx, "alice", c, &r), MFA_ERR_THROTTLED);
    /* the known device is not locked out */
    o.token = tok;
    o.remember_days = 0;
    OK(mfa_verify_device(F.ctx, "alice", c, &o, &r));
    /* 6 wrong, 1 throttled: all counted, in the unknown bucket only */
    ck_assert_uint_eq(failures_of("alice"), 7);
    /* the token rotated: the old one is gone, the new one works */
    RC(mfa_device_check(F.ctx, "alice", tok, NULL), MFA_ERR_DEVICE_UNKNOWN);
    snprintf(tok, sizeof(tok), "%s", r.device_token);
    OK(mfa_device_check(F.ctx, "alice", tok, NULL));

    /* forged and other-account tokens: a specific error, nothing changes */
    snprintf(forged, sizeof(forged), "%s", tok);
    forged[MFA_DEVICE_TOKEN_LEN - 2] =
        forged[MFA_DEVICE_TOKEN_LEN - 2] == 'A' ? 'B' : 'A';
    dump_of(S, "alice", &before);
    F.now += 30;
    code_at(&a, 0, c);
    o.token = forged;
    RC(mfa_verify_device(F.ctx, "alice", c, &o, &r), MFA_ERR_DEVICE_UNKNOWN);
    ck_assert_str_eq(r.device_token, "");
    o.token = "0123456789abcdef.short";
    RC(mfa_verify_device(F.ctx, "alice", c, &o, &r), MFA_ERR_DEVICE_FORMAT);
    o.token = tok;
    RC(mfa_verify_device(F.ctx, "bob", c, &o, &r), MFA_ERR_DEVICE_UNKNOWN);
    dump_of(S, "alice", &after);
    assert_dump_eq(&before, &after);

    /* the device list, forget one, forget all */
    OK(mfa_devices_list(F.ctx, "alice", &list, &n));
    ck_assert_uint_eq(n, 2); /* enroll_active's confirmation made one */
    mfa_free(list);
    OK(mfa_device_forget(F.ctx, "alice", info.id));
    RC(mfa_device_check(F.ctx, "alice", tok, NULL), MFA_ERR_DEVICE_UNKNOWN);
    RC(mfa_device_forget(F.ctx, "alice", info.id), MFA_ERR_NOT_FOUND);
    OK(mfa_devices_forget_all(F.ctx, "alice", &n));
    ck_assert_uint_eq(n, 1);

    /* invented names leave no row; the password step's rows of accounts
     * without factors go once idle */
    n = accounts_with_state();
    for (int i = 0; i < 20; i++) {
        char name[32];
        snprintf(name, sizeof(name), "nobody%d", i);
        RC(mfa_verify(F.ctx, name, "123456", &r), MFA_ERR_NO_FACTOR);
        ck_assert_uint_eq(r.failures, 0);
        OK(mfa_password_failed(F.ctx, name, NULL, &r));
        ck_assert_uint_eq(r.failures, 1);
    }
    ck_assert_uint_eq(accounts_with_state(), n + 20);
    OK(mfa_gc(F.ctx, &removed));
    ck_assert_uint_eq(removed, 0); /* not idle yet */
    F.now += 3600;
    OK(mfa_gc(F.ctx, &removed));
    ck_assert_uint_eq(removed, 20);
    ck_assert_uint_eq(accounts_with_state(), n);
    /* an account with factors keeps its rows */
    ck_assert_uint_eq(failures_of("alice"), 7);
    mfa_otp_free(&a.otp);
    mfa_otp_free(&b.otp);
}
END_TEST

START_TEST(pending_expiry)
{
    char c[MFA_CODE_BUFSIZE];
    mfa_result r;
    size_t n = 99;
    app a, b;

    OK(mfa_ctx_set_pending_ttl(F.ctx, 60));
    enroll("alice", &a);
    F.now += 30;
    enroll("alice", &b);
    F.now += 31;
    code_at(&a, 0, c);
    RC(mfa_enroll_confirm(F.ctx, "alice", a.id, c, &r), MFA_ERR_EXPIRED);
    ck_assert_uint_eq(factor_count("alice"), 1);
    F.now += 30;
    OK(mfa_expire_pending(F.ctx, &n));
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(factor_count("alice"), 0);
    mfa_otp_free(&a.otp);
    mfa_otp_free(&b.otp);
}
END_TEST

/* ---- races through the service ----------------------------------------------
 */

#define SVC_THREADS 8

typedef enum svc_race_kind {
    SR_CONFIRM,
    SR_ENROLL,
    SR_VERIFY_RIGHT,
    SR_VERIFY_WRONG,
} svc_race_kind;

typedef struct svc_race {
    svc_race_kind kind;
    pthread_barrier_t start;
    mfa_ctx_t *ctx[SVC_THREADS];
    mfa_store_t *store[SVC_THREADS];
    char id[MFA_FACTOR_ID_LEN + 1];
    char code[MFA_CODE_BUFSIZE];
    mfa_rc rc[SVC_THREADS];
    uint32_t failures[SVC_THREADS];
} svc_race;

static const mfa_throttle_policy race_policy = {1000, 1, 1};

typedef struct svc_arg {
    svc_race *r;
    int tid;
} svc_arg;

static void *
svc_race_main(void *p)
{
    svc_arg *a = p;
    svc_race *r = a->r;
    mfa_ctx_t *c = r->ctx[a->tid];
    mfa_enrollment_t *e = NULL;
    mfa_result res;

    memset(&res, 0, sizeof(res));
    pthread_barrier_wait(&r->start);
    switch (r->kind) {
    case SR_CONFIRM:
        r->rc[a->tid] = mfa_enroll_confirm(c, "racer", r->id, r->code, &res);
        break;
    case SR_ENROLL:
        r->rc[a->tid] = mfa_enroll_begin(c, "racer", "phone", NULL, &e);
        mfa_enrollment_free(&e);
        break;
    default:
        r->rc[a->tid] = mfa_verify(c, "racer", r->code, &res);
        break;
    }
    r->failures[a->tid] = res.failures;
    return NULL;
}

static void
svc_race_run(svc_race *r)
{
    pthread_t th[SVC_THREADS];
    svc_arg args[SVC_THREADS];
    int i;

    pthread_barrier_init(&r->start, NULL, SVC_THREADS);
    for (i = 0; i < SVC_THREADS; i++) {
        /* with a second handle, half the threads use their own */
        r->store[i] = B->open_again != NULL && i % 2 ? open_again() : S;
        r->ctx[i] = ctx_on(r->store[i]);
        /* the losers' attempts count too: keep them all under the free
         * attempts, so that each is checked */
        OK(mfa_ctx_set_throttle(r->ctx[i], &race_policy));
        args[i].r = r;
        args[i].tid = i;
    }
    for (i = 0; i < SVC_THREADS; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, svc_race_main, &args[i]),
                         0);
    for (i = 0; i < SVC_THREADS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&r->start);
    for (i = 0; i < SVC_THREADS; i++) {
        mfa_ctx_free(&r->ctx[i]);
        if (r->store[i] != S)
            mfa_store_free(&r->store[i]);
    }
}

/* Exactly one MFA_OK, and one and the same refusal for all the others. */
static void
assert_one_winner(const svc_race *r)
{
    int i, wins = 0;
    mfa_rc loss = MFA_OK;

    for (i = 0; i < SVC_THREADS; i++) {
        if (r->rc[i] == MFA_OK) {
            wins++;
            continue;
        }
        if (loss == MFA_OK)
            loss = r->rc[i];
        ck_assert_msg(r->rc[i] == loss, "thread %d: %s, another got %s", i,
                      mfa_strerror_name(r->rc[i]), mfa_strerror_name(loss));
    }
    ck_assert_int_eq(wins, 1);
}

START_TEST(race_confirm)
{
    static svc_race r;
    app a;
    int round;

    for (round = 0; round < 10; round++) {
        memset(&r, 0, sizeof(r));
        r.kind = SR_CONFIRM;
        enroll("racer", &a);
        snprintf(r.id, sizeof(r.id), "%s", a.id);
        code_at(&a, 0, r.code);
        svc_race_run(&r);
        assert_one_winner(&r);
        ck_assert_int_ne(r.rc[0] == MFA_OK ? r.rc[1] : r.rc[0], MFA_ERR_STORE);
        mfa_otp_free(&a.otp);
        OK(mfa_reset(F.ctx, "racer"));
    }
}
END_TEST

START_TEST(race_enroll_cap)
{
    static svc_race r;
    app a;
    int i, wins = 0;

    /* room for three more */
    for (i = 0; i < MFA_FACTORS_MAX - 3; i++) {
        enroll("racer", &a);
        mfa_otp_free(&a.otp);
    }
    memset(&r, 0, sizeof(r));
    r.kind = SR_ENROLL;
    svc_race_run(&r);
    for (i = 0; i < SVC_THREADS; i++) {
        if (r.rc[i] == MFA_OK)
            wins++;
        else
            ck_assert_int_eq(r.rc[i], MFA_ERR_EXISTS);
    }
    ck_assert_int_eq(wins, 3);
    ck_assert_uint_eq(factor_count("racer"), MFA_FACTORS_MAX);
}
END_TEST

START_TEST(race_verify_right)
{
    static svc_race r;
    app a;
    int round;

    enroll_active("racer", &a);
    for (round = 0; round < 10; round++) {
        memset(&r, 0, sizeof(r));
        r.kind = SR_VERIFY_RIGHT;
        code_at(&a, 0, r.code);
        svc_race_run(&r);
        assert_one_winner(&r);
        for (int i = 0; i < SVC_THREADS; i++)
            if (r.rc[i] != MFA_OK)
                ck_assert_int_eq(r.rc[i], MFA_ERR_REPLAYED);
        F.now += 30;
    }
    mfa_otp_free(&a.otp);
}
END_TEST

START_TEST(race_verify_wrong)
{
    static svc_race r;
    uint32_t counts = 0;
    app a;
    int i;

    OK(mfa_ctx_set_throttle(F.ctx, &race_policy));
    enroll_active("racer", &a);
    memset(&r, 0, sizeof(r));
    r.kind = SR_VERIFY_WRONG;
    wrong_code(&a, r.code);
    svc_race_run(&r);
    for (i = 0; i < SVC_THREADS; i++) {
        ck_assert_msg(r.rc[i] == MFA_ERR_CODE_WRONG, "thread %d: %s", i,
                      mfa_strerror_name(r.rc[i]));
        ck_assert_uint_ge(r.failures[i], 1);
        ck_assert_uint_le(r.failures[i], SVC_THREADS);
        /* each attempt saw its own count: 1..N, each once */
        ck_assert_uint_eq(counts & (1u << r.failures[i]), 0);
        counts |= 1u << r.failures[i];
    }
    ck_assert_uint_eq(failures_of("racer"), SVC_THREADS);
    mfa_otp_free(&a.otp);
}
END_TEST

/* ---- the suite
 * ------------------------------------------------------------------ */

Suite *
mfa_conformance_suite(const mfa_conformance_backend *b)
{
    Suite *s;
    TCase *tc;

    B = b;
    s = suite_create(b->name);

    tc = tcase_create("rows");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, schema_version_and_migrate);
    tcase_add_test(tc, factor_roundtrip);
    tcase_add_test(tc, factor_insert_exists);
    tcase_add_test(tc, factor_get_not_found);
    tcase_add_test(tc, factor_list_order);
    tcase_add_test(tc, factor_update_and_delete);
    tcase_add_test(tc, factor_scan_paging);
    tcase_add_test(tc, factor_expire);
    tcase_add_test(tc, throttle_rows);
    tcase_add_test(tc, throttle_list_order);
    tcase_add_test(tc, device_rows);
    tcase_add_test(tc, state_scan_paging);
    tcase_add_test(tc, backup_rows);
    tcase_add_test(tc, oob_rows);
    tcase_add_test(tc, account_delete_one_account);
    suite_add_tcase(s, tc);

    tc = tcase_create("webauthn");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, webauthn_list_order);
    tcase_add_test(tc, webauthn_get_not_found);
    tcase_add_test(tc, webauthn_insert_exists);
    tcase_add_test(tc, webauthn_update_and_delete);
    tcase_add_test(tc, webauthn_record_limits);
    tcase_add_test(tc, webauthn_handles);
    tcase_add_test(tc, webauthn_spent_nonces);
    tcase_add_test(tc, webauthn_rollback_undoes_each_write);
    tcase_add_test(tc, webauthn_account_delete);
    suite_add_tcase(s, tc);

    tc = tcase_create("transactions");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, read_your_writes);
    tcase_add_test(tc, rollback_undoes_each_write);
    tcase_add_test(tc, read_transactions);
    tcase_add_test(tc, write_transactions_serialise);
    tcase_add_test(tc, no_lost_updates);
    tcase_add_test(tc, webauthn_unique_across_racing_accounts);
    if (b->open_again != NULL)
        tcase_add_test(tc, commit_seen_by_second_handle);
    suite_add_tcase(s, tc);

    tc = tcase_create("service");
    tcase_add_checked_fixture(tc, svc_setup, svc_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, flows);
    tcase_add_test(tc, device_flows);
    tcase_add_test(tc, pending_expiry);
    tcase_add_test(tc, race_confirm);
    tcase_add_test(tc, race_enroll_cap);
    tcase_add_test(tc, race_verify_right);
    tcase_add_test(tc, race_verify_wrong);
    suite_add_tcase(s, tc);
    return s;
}
