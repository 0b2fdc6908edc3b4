/*
 * The memory store: the conformance suite, plus the generic wrapper
 * (mfa_store_new checks, mfa_store_open, mfa_throttle_delay) and a
 * third-party backend that proves the wrapper hands backends only
 * well-formed input.
 */
#include <stdint.h>
#include <string.h>

#include <mfa.h>

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

/* ---- mfa_throttle_delay ----------------------------------------------------
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

/* ---- the wrapper ------------------------------------------------------------
 */

/* A third-party backend: delegates to a memory store and counts calls. */
typedef struct spy {
    mfa_store_t *inner;
    int calls;
    int closed;
    int lie; /* backup_list claims more codes than fit */
} spy;

static spy the_spy;

#define INNER(impl) (((spy *)(impl))->calls++, ((spy *)(impl))->inner)

static void
spy_close(void *impl)
{
    spy *s = impl;
    s->closed++;
    mfa_store_free(&s->inner);
}
static mfa_rc
spy_migrate(void *impl)
{
    return mfa_store_migrate(INNER(impl));
}
static mfa_rc
spy_version(void *impl, int *v)
{
    return mfa_store_schema_version(INNER(impl), v);
}
static mfa_rc
spy_create(void *impl, const mfa_factor_rec *f)
{
    return mfa_store_factor_create(INNER(impl), f);
}
static mfa_rc
spy_get(void *impl, const char *a, const char *id, mfa_factor_rec *out)
{
    return mfa_store_factor_get(INNER(impl), a, id, out);
}
static mfa_rc
spy_list(void *impl, const char *a, mfa_factor_cb cb, void *arg)
{
    return mfa_store_factor_list(INNER(impl), a, cb, arg);
}
static mfa_rc
spy_each(void *impl, mfa_factor_cb cb, void *arg)
{
    return mfa_store_factor_each(INNER(impl), cb, arg);
}
static mfa_rc
spy_activate(void *impl, const char *a, const char *id, int64_t step,
             int32_t drift, int64_t after, int64_t now)
{
    return mfa_store_factor_activate(INNER(impl), a, id, step, drift, after,
                                     now);
}
static mfa_rc
spy_rename(void *impl, const char *a, const char *id, const char *label)
{
    return mfa_store_factor_rename(INNER(impl), a, id, label);
}
static mfa_rc
spy_remove(void *impl, const char *a, const char *id)
{
    return mfa_store_factor_remove(INNER(impl), a, id);
}
static mfa_rc
spy_advance(void *impl, const char *a, const char *id, int64_t step,
            int32_t drift, int64_t now)
{
    return mfa_store_factor_advance(INNER(impl), a, id, step, drift, now);
}
static mfa_rc
spy_reseal(void *impl, const char *a, const char *id, const uint8_t *old,
           size_t oldlen, const uint8_t *sealed, size_t len)
{
    return mfa_store_factor_reseal(INNER(impl), a, id, old, oldlen, sealed,
                                   len);
}
static mfa_rc
spy_expire(void *impl, int64_t before, size_t *n)
{
    return mfa_store_factor_expire(INNER(impl), before, n);
}
static mfa_rc
spy_hit(void *impl, const char *a, int64_t now, const mfa_throttle_policy *p,
        mfa_throttle_state *out)
{
    return mfa_store_throttle_hit(INNER(impl), a, now, p, out);
}
static mfa_rc
spy_reset_throttle(void *impl, const char *a)
{
    return mfa_store_throttle_reset(INNER(impl), a);
}
static mfa_rc
spy_throttle_get(void *impl, const char *a, mfa_throttle_state *out)
{
    return mfa_store_throttle_get(INNER(impl), a, out);
}
static mfa_rc
spy_backup_replace(void *impl, const char *a, const mfa_backup_rec *c, size_t n,
                   int64_t now)
{
    return mfa_store_backup_replace(INNER(impl), a, c, n, now);
}
static mfa_rc
spy_backup_list(void *impl, const char *a, mfa_backup_rec *out, size_t max,
                size_t *n)
{
    mfa_rc rc = mfa_store_backup_list(INNER(impl), a, out, max, n);
    if (((spy *)impl)->lie)
        *n = max + 1;
    return rc;
}
static mfa_rc
spy_backup_spend(void *impl, const char *a,
                 const uint8_t h[MFA_BACKUP_HASHBYTES], int64_t now)
{
    return mfa_store_backup_spend(INNER(impl), a, h, now);
}
static mfa_rc
spy_oob_put(void *impl, const char *a, const mfa_oob_challenge *c)
{
    return mfa_store_oob_put(INNER(impl), a, c);
}
static mfa_rc
spy_oob_take(void *impl, const char *a, const char *p, int64_t now,
             mfa_oob_challenge *out)
{
    return mfa_store_oob_take(INNER(impl), a, p, now, out);
}
static mfa_rc
spy_oob_spend(void *impl, const char *a, const char *p,
              const uint8_t h[MFA_BACKUP_HASHBYTES])
{
    return mfa_store_oob_spend(INNER(impl), a, p, h);
}
static mfa_rc
spy_account_reset(void *impl, const char *a)
{
    return mfa_store_account_reset(INNER(impl), a);
}

static const mfa_store_ops spy_ops = {
    .abi = MFA_STORE_ABI,
    .name = "spy",
    .close = spy_close,
    .migrate = spy_migrate,
    .schema_version = spy_version,
    .factor_create = spy_create,
    .factor_get = spy_get,
    .factor_list = spy_list,
    .factor_each = spy_each,
    .factor_activate = spy_activate,
    .factor_rename = spy_rename,
    .factor_remove = spy_remove,
    .factor_advance = spy_advance,
    .factor_reseal = spy_reseal,
    .factor_expire = spy_expire,
    .throttle_hit = spy_hit,
    .throttle_reset = spy_reset_throttle,
    .throttle_get = spy_throttle_get,
    .backup_replace = spy_backup_replace,
    .backup_list = spy_backup_list,
    .backup_spend = spy_backup_spend,
    .oob_put = spy_oob_put,
    .oob_take = spy_oob_take,
    .oob_spend = spy_oob_spend,
    .account_reset = spy_account_reset,
};

static mfa_rc
open_spy(mfa_store_t **out, void *arg)
{
    mfa_rc rc;

    (void)arg;
    memset(&the_spy, 0, sizeof(the_spy));
    rc = mfa_store_memory_new(&the_spy.inner);
    if (rc != MFA_OK)
        return rc;
    return mfa_store_new(out, &spy_ops, &the_spy);
}

/* The conformance suite runs against the third-party backend too. */
static const mfa_conformance_backend spy_backend = {
    .name = "spy",
    .open = open_spy,
    .open_again = NULL,
    .arg = NULL,
};

START_TEST(store_new_checks_the_table)
{
    mfa_store_ops ops = spy_ops;
    mfa_store_t *s = (mfa_store_t *)&ops;

    ck_assert_int_eq(mfa_store_new(NULL, &spy_ops, NULL), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_store_new(&s, NULL, NULL), MFA_ERR_INVALID);
    ck_assert_ptr_null(s);
    ops.abi = MFA_STORE_ABI + 1;
    ck_assert_int_eq(mfa_store_new(&s, &ops, NULL), MFA_ERR_INVALID);
    ops = spy_ops;
    ops.oob_spend = NULL;
    ck_assert_int_eq(mfa_store_new(&s, &ops, NULL), MFA_ERR_INVALID);
    ops = spy_ops;
    ops.name = NULL;
    ck_assert_int_eq(mfa_store_new(&s, &ops, NULL), MFA_ERR_INVALID);
    ck_assert_ptr_null(s);

    /* close runs once, on free */
    ck_assert_int_eq(open_spy(&s, NULL), MFA_OK);
    ck_assert_str_eq(mfa_store_name(s), "spy");
    mfa_store_free(&s);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(the_spy.closed, 1);
    mfa_store_free(&s);
    mfa_store_free(NULL);
    ck_assert_int_eq(the_spy.closed, 1);
    ck_assert_str_eq(mfa_store_name(NULL), "none");
}
END_TEST

START_TEST(wrapper_filters_bad_input)
{
    mfa_store_t *s = NULL;
    mfa_factor_rec f, g;
    mfa_throttle_state st;
    mfa_oob_challenge c;
    size_t n;
    char acct[MFA_ACCOUNT_MAX + 2];

    ck_assert_int_eq(open_spy(&s, NULL), MFA_OK);
    memset(&f, 0, sizeof(f));
    memset(&c, 0, sizeof(c));
    memset(acct, 'x', sizeof(acct) - 1);
    acct[sizeof(acct) - 1] = '\0';

    ck_assert_int_ne(mfa_store_factor_create(s, &f), MFA_OK);
    ck_assert_int_ne(mfa_store_factor_get(s, acct, "0000000000000001", &g),
                     MFA_OK);
    ck_assert_int_ne(mfa_store_factor_get(s, "a", "000000000000000g", &g),
                     MFA_OK);
    ck_assert_int_ne(mfa_store_throttle_hit(s, "a\tb", 1, NULL, &st), MFA_OK);
    ck_assert_int_ne(mfa_store_throttle_get(s, "\xe0\x80\x80", &st), MFA_OK);
    ck_assert_int_ne(mfa_store_backup_list(s, "a", NULL, 1, &n), MFA_OK);
    ck_assert_int_ne(mfa_store_oob_put(s, "a", &c), MFA_OK);
    ck_assert_int_ne(mfa_store_oob_take(s, "a", "sms", -1, &c), MFA_OK);
    ck_assert_int_ne(
        mfa_store_factor_activate(s, "a", "0000000000000001", -5, 0, 0, 0),
        MFA_OK);
    ck_assert_int_ne(mfa_store_schema_version(s, NULL), MFA_OK);
    ck_assert_int_eq(mfa_store_migrate(NULL), MFA_ERR_INVALID);
    /* none of that reached the backend */
    ck_assert_int_eq(the_spy.calls, 0);

    /* well-formed input does; the 4-byte UTF-8 account is fine */
    ck_assert_int_eq(mfa_store_throttle_get(s, "\xf0\x9f\x94\x91", &st),
                     MFA_OK);
    ck_assert_int_eq(the_spy.calls, 1);
    mfa_store_free(&s);
}
END_TEST

/* The wrapper does not pass on a count the backend cannot have written. */
START_TEST(wrapper_catches_a_lying_count)
{
    mfa_store_t *s = NULL;
    mfa_backup_rec out[2];
    size_t n = 7;

    ck_assert_int_eq(open_spy(&s, NULL), MFA_OK);
    the_spy.lie = 1;
    ck_assert_int_eq(mfa_store_backup_list(s, "a", out, 2, &n),
                     MFA_ERR_INTERNAL);
    ck_assert_uint_eq(n, 0);
    the_spy.lie = 0;
    ck_assert_int_eq(mfa_store_backup_list(s, "a", out, 2, &n), MFA_OK);
    ck_assert_uint_eq(n, 0);
    mfa_store_free(&s);
}
END_TEST

START_TEST(store_open_specs)
{
    mfa_store_t *s = (mfa_store_t *)&s;
    int v = 0;

    ck_assert_int_eq(mfa_store_open(&s, "memory:"), MFA_OK);
    ck_assert_str_eq(mfa_store_name(s), "memory");
    ck_assert_int_eq(mfa_store_schema_version(s, &v), MFA_OK);
    ck_assert_int_eq(v, MFA_SCHEMA_VERSION);
    mfa_store_free(&s);

    s = (mfa_store_t *)&s;
    ck_assert_int_eq(mfa_store_open(&s, "memory"), MFA_ERR_INVALID);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(mfa_store_open(&s, "mysql:db"), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_store_open(&s, "sqlite:"), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_store_open(&s, ""), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_store_open(&s, NULL), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_store_open(NULL, "memory:"), MFA_ERR_INVALID);
    /* a backend that is built in but cannot connect is an error, never a
     * store */
    ck_assert_int_ne(
        mfa_store_open(&s, "postgres:host=/nonexistent-dir dbname=x"), MFA_OK);
    ck_assert_ptr_null(s);
}
END_TEST

/* Two memory stores are separate. */
START_TEST(memory_stores_are_separate)
{
    mfa_store_t *a = NULL, *b = NULL;
    mfa_throttle_state st;
    const mfa_throttle_policy p = {5, 30, 3600};

    ck_assert_int_eq(mfa_store_memory_new(&a), MFA_OK);
    ck_assert_int_eq(mfa_store_memory_new(&b), MFA_OK);
    ck_assert_int_eq(mfa_store_throttle_hit(a, "x", 1, &p, &st), MFA_OK);
    ck_assert_int_eq(mfa_store_throttle_get(b, "x", &st), MFA_OK);
    ck_assert_uint_eq(st.failures, 0);
    mfa_store_free(&a);
    mfa_store_free(&b);
    ck_assert_int_eq(mfa_store_memory_new(NULL), MFA_ERR_INVALID);
}
END_TEST

static mfa_rc
count_cb(const mfa_factor_rec *f, void *arg)
{
    (void)f;
    (*(size_t *)arg)++;
    return MFA_OK;
}

/* Thousands of accounts: the table grows, emptied accounts go away, and
 * every record stays reachable. */
START_TEST(memory_many_accounts)
{
    mfa_store_t *s = NULL;
    const mfa_throttle_policy p = {5, 30, 3600};
    mfa_throttle_state st;
    mfa_factor_rec f;
    size_t i, n = 0;

    ck_assert_int_eq(mfa_store_memory_new(&s), MFA_OK);
    memset(&f, 0, sizeof(f));
    f.type = MFA_TOTP;
    f.algorithm = MFA_SHA1;
    f.digits = 6;
    f.period = 30;
    f.last_step = MFA_STEP_NONE;
    f.sealed_len = 60;
    for (i = 0; i < 5000; i++) {
        mfa_backup_rec c = {{0}, 1};
        snprintf(f.account, sizeof(f.account), "user%zu@example.com", i);
        snprintf(f.id, sizeof(f.id), "%016zx", i);
        f.status = i % 2 ? MFA_FACTOR_ACTIVE : MFA_FACTOR_PENDING;
        f.created = (int64_t)i;
        memcpy(c.hash, &i, sizeof(i));
        ck_assert_int_eq(mfa_store_factor_create(s, &f), MFA_OK);
        ck_assert_int_eq(mfa_store_backup_replace(s, f.account, &c, 1, 1),
                         MFA_OK);
        ck_assert_int_eq(mfa_store_throttle_hit(s, f.account, 1, &p, &st),
                         MFA_OK);
    }
    ck_assert_int_eq(mfa_store_factor_each(s, count_cb, &n), MFA_OK);
    ck_assert_uint_eq(n, 5000);
    /* pending factors created before 2500: 1250 of them */
    ck_assert_int_eq(mfa_store_factor_expire(s, 2500, &n), MFA_OK);
    ck_assert_uint_eq(n, 1250);
    for (i = 0; i < 5000; i += 3) {
        char acct[64];
        snprintf(acct, sizeof(acct), "user%zu@example.com", i);
        ck_assert_int_eq(mfa_store_account_reset(s, acct), MFA_OK);
    }
    n = 0;
    ck_assert_int_eq(mfa_store_factor_each(s, count_cb, &n), MFA_OK);
    /* 3750 left, minus the reset ones that had not expired */
    {
        size_t want = 0;
        for (i = 0; i < 5000; i++)
            if (i % 3 != 0 && !(i % 2 == 0 && i < 2500))
                want++;
        ck_assert_uint_eq(n, want);
    }
    for (i = 0; i < 5000; i++) {
        char acct[64], id[MFA_FACTOR_ID_LEN + 1];
        mfa_factor_rec g;
        mfa_rc want = (i % 3 == 0 || (i % 2 == 0 && i < 2500))
                          ? MFA_ERR_NOT_FOUND
                          : MFA_OK;
        snprintf(acct, sizeof(acct), "user%zu@example.com", i);
        snprintf(id, sizeof(id), "%016zx", i);
        ck_assert_int_eq(mfa_store_factor_get(s, acct, id, &g), want);
        ck_assert_int_eq(mfa_store_throttle_get(s, acct, &st), MFA_OK);
        ck_assert_uint_eq(st.failures, i % 3 == 0 ? 0 : 1);
        /* a freed id can be taken again, by anyone */
        if (want == MFA_ERR_NOT_FOUND) {
            snprintf(f.account, sizeof(f.account), "other");
            memcpy(f.id, id, sizeof(f.id));
            ck_assert_int_eq(mfa_store_factor_create(s, &f), MFA_OK);
        }
    }
    mfa_store_free(&s);
}
END_TEST

static Suite *
wrapper_suite(void)
{
    Suite *s = suite_create("store wrapper");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, throttle_delay_arithmetic);
    tcase_add_test(tc, store_new_checks_the_table);
    tcase_add_test(tc, wrapper_filters_bad_input);
    tcase_add_test(tc, wrapper_catches_a_lying_count);
    tcase_add_test(tc, store_open_specs);
    tcase_add_test(tc, memory_stores_are_separate);
    tcase_add_test(tc, memory_many_accounts);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(wrapper_suite());
    int failed;

    srunner_add_suite(sr, mfa_conformance_suite(&memory_backend));
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);

    /* the third-party backend in a second runner: the suite keeps one
     * backend per run */
    sr = srunner_create(mfa_conformance_suite(&spy_backend));
    srunner_run_all(sr, CK_NORMAL);
    failed += srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
