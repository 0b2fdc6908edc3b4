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
    tcase_add_test(tc, memory_stores_are_separate);
    tcase_add_test(tc, transactions_stay_in_their_lane);
    tcase_add_test(tc, other_accounts_in_parallel);
    tcase_add_test(tc, busy_after_the_timeout);
    tcase_add_test(tc, memory_many_accounts);
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
