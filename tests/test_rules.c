/*
 * The rules of the flows as pure functions (lib/rules.c): which verdict
 * wins over several factors, and the throttle arithmetic.  Every backend
 * obeys these because none of them holds a rule of its own any more.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include <mfa.h>

#include "rules.h"
#include "store/store_int.h"

static mfa_int_check
chk(mfa_rc rc)
{
    mfa_int_check c = {1, rc, 0, 0};
    return c;
}

START_TEST(verdict_precedence)
{
    mfa_int_check c[4];
    size_t w = 0;

    /* nothing active */
    c[0] = chk(MFA_OK);
    c[0].active = 0;
    ck_assert_int_eq(mfa_int_verdict(c, 1, &w), MFA_ERR_NO_FACTOR);
    ck_assert_uint_eq(w, (size_t)-1);
    ck_assert_int_eq(mfa_int_verdict(c, 0, &w), MFA_ERR_NO_FACTOR);

    /* a fresh match beats a replay, a wrong code and a broken factor; the
     * first match in list order wins */
    c[0] = chk(MFA_ERR_REPLAYED);
    c[1] = chk(MFA_ERR_SEALED_AUTH);
    c[2] = chk(MFA_OK);
    c[3] = chk(MFA_OK);
    ck_assert_int_eq(mfa_int_verdict(c, 4, &w), MFA_OK);
    ck_assert_uint_eq(w, 2);
    /* an inactive factor's OK does not count */
    c[2].active = 0;
    ck_assert_int_eq(mfa_int_verdict(c, 4, &w), MFA_OK);
    ck_assert_uint_eq(w, 3);
    c[3].active = 0;
    /* a replay beats wrong codes and errors */
    ck_assert_int_eq(mfa_int_verdict(c, 4, &w), MFA_ERR_REPLAYED);
    ck_assert_uint_eq(w, (size_t)-1);

    /* a checked wrong code beats an unopenable factor */
    c[0] = chk(MFA_ERR_CODE_WRONG);
    c[1] = chk(MFA_ERR_KEY_UNKNOWN);
    ck_assert_int_eq(mfa_int_verdict(c, 2, &w), MFA_ERR_CODE_WRONG);
    /* when nothing could be checked, the first error tells why */
    c[0] = chk(MFA_ERR_SEALED_AUTH);
    c[1] = chk(MFA_ERR_KEY_UNKNOWN);
    ck_assert_int_eq(mfa_int_verdict(c, 2, &w), MFA_ERR_SEALED_AUTH);
    /* an error beats a format mismatch on the only other factor */
    c[0] = chk(MFA_ERR_CODE_FORMAT);
    c[1] = chk(MFA_ERR_KEY_UNKNOWN);
    ck_assert_int_eq(mfa_int_verdict(c, 2, &w), MFA_ERR_KEY_UNKNOWN);
    /* no factor with that many digits */
    c[0] = chk(MFA_ERR_CODE_FORMAT);
    c[1] = chk(MFA_ERR_CODE_FORMAT);
    ck_assert_int_eq(mfa_int_verdict(c, 2, &w), MFA_ERR_CODE_FORMAT);
    /* one factor with the right length checked wrong: wrong */
    c[1] = chk(MFA_ERR_CODE_WRONG);
    ck_assert_int_eq(mfa_int_verdict(c, 2, &w), MFA_ERR_CODE_WRONG);
}
END_TEST

static const mfa_throttle_policy pol = {5, 30, 259200};

START_TEST(delay_arithmetic)
{
    ck_assert_uint_eq(mfa_throttle_delay(&pol, 0), 0);
    ck_assert_uint_eq(mfa_throttle_delay(&pol, 5), 0);
    ck_assert_uint_eq(mfa_throttle_delay(&pol, 6), 30);
    ck_assert_uint_eq(mfa_throttle_delay(&pol, 7), 60);
    ck_assert_uint_eq(mfa_throttle_delay(&pol, 18), 30u << 12);
    ck_assert_uint_eq(mfa_throttle_delay(&pol, 19), 30u << 13);
    ck_assert_uint_eq(mfa_throttle_delay(&pol, 20), 259200);
    ck_assert_uint_eq(mfa_throttle_delay(&pol, 38), 259200);
    ck_assert_uint_eq(mfa_throttle_delay(&pol, UINT32_MAX), 259200);
    ck_assert_uint_eq(mfa_throttle_delay(NULL, 100), 0);
    {
        mfa_throttle_policy big = {0, UINT32_MAX, UINT32_MAX};
        ck_assert_uint_eq(mfa_throttle_delay(&big, 1), UINT32_MAX);
        ck_assert_uint_eq(mfa_throttle_delay(&big, 2), UINT32_MAX);
    }
}
END_TEST

START_TEST(count_while_free_and_locked)
{
    mfa_throttle_rec r = {"", 0, 0, 0}, n;
    int64_t now = 1000000;

    /* free attempts: counted, never locked */
    for (uint32_t i = 1; i <= 5; i++) {
        ck_assert(!mfa_int_throttle_locked(&r, now));
        mfa_int_throttle_count(&pol, &r, now, &n);
        ck_assert_uint_eq(n.failures, i);
        ck_assert_int_eq(n.locked_until, now);
        ck_assert_int_eq(n.updated, now);
        r = n;
    }
    /* the sixth: locked for the base delay */
    mfa_int_throttle_count(&pol, &r, now, &n);
    ck_assert_uint_eq(n.failures, 6);
    ck_assert_int_eq(n.locked_until, now + 30);
    ck_assert_uint_eq(mfa_int_retry_after(&n, now), 30);
    ck_assert_uint_eq(mfa_int_retry_after(&n, now + 29), 1);
    ck_assert_uint_eq(mfa_int_retry_after(&n, now + 30), 0);
    r = n;
    /* while locked: counted, the lock unchanged */
    ck_assert(mfa_int_throttle_locked(&r, now + 10));
    mfa_int_throttle_count(&pol, &r, now + 10, &n);
    ck_assert_uint_eq(n.failures, 7);
    ck_assert_int_eq(n.locked_until, now + 30);
    r = n;
    /* after the lock: the delay for the new count */
    ck_assert(!mfa_int_throttle_locked(&r, now + 30));
    mfa_int_throttle_count(&pol, &r, now + 30, &n);
    ck_assert_uint_eq(n.failures, 8);
    ck_assert_int_eq(n.locked_until, now + 30 + 120);
}
END_TEST

START_TEST(count_saturates_and_clamps)
{
    mfa_throttle_rec r = {"", UINT32_MAX, 0, 0}, n;
    mfa_throttle_policy big = {0, UINT32_MAX, UINT32_MAX};

    mfa_int_throttle_count(&pol, &r, 5, &n);
    ck_assert_uint_eq(n.failures, UINT32_MAX);
    ck_assert_int_eq(n.locked_until, 5 + 259200);
    /* never past the largest time a store records */
    r.failures = 0;
    mfa_int_throttle_count(&big, &r, MFA_INT_TIME_MAX - 10, &n);
    ck_assert_int_eq(n.locked_until, MFA_INT_TIME_MAX);
    ck_assert_int_eq(mfa_int_throttle_rec_check(&n), MFA_OK);
}
END_TEST

START_TEST(drift_clamp)
{
    ck_assert_int_eq(mfa_int_clamp_drift(0, 4), 0);
    ck_assert_int_eq(mfa_int_clamp_drift(4, 4), 4);
    ck_assert_int_eq(mfa_int_clamp_drift(5, 4), 4);
    ck_assert_int_eq(mfa_int_clamp_drift(-5, 4), -4);
    ck_assert_int_eq(mfa_int_clamp_drift(INT64_MIN, 4), -4);
    ck_assert_int_eq(mfa_int_clamp_drift(INT64_MAX, 0), 0);
}
END_TEST

START_TEST(record_checks)
{
    mfa_throttle_rec t = {"", 1, 2, 3};
    mfa_oob_challenge c = {{0}, 1, "sms", 10, 20, 3};

    ck_assert_int_eq(mfa_int_throttle_rec_check(&t), MFA_OK);
    ck_assert(mfa_int_bucket_ok(""));
    ck_assert(mfa_int_bucket_ok("0123456789abcdef0123456789abcdef"));
    ck_assert(!mfa_int_bucket_ok("0123456789abcdef0123456789abcdef0"));
    ck_assert(!mfa_int_bucket_ok("Upper"));
    ck_assert(!mfa_int_bucket_ok(NULL));
    t.locked_until = -1;
    ck_assert_int_ne(mfa_int_throttle_rec_check(&t), MFA_OK);
    ck_assert_int_eq(mfa_int_oob_rec_check(&c), MFA_OK);
    c.expires = 5; /* before created */
    ck_assert_int_ne(mfa_int_oob_rec_check(&c), MFA_OK);
}
END_TEST

START_TEST(attempt_counts)
{
    /* a malformed code is never counted, whatever the row */
    ck_assert_int_eq(mfa_int_attempt_counts(MFA_ERR_CODE_FORMAT, 0), 0);
    ck_assert_int_eq(mfa_int_attempt_counts(MFA_ERR_CODE_FORMAT, 1), 0);
    /* checked guesses always are */
    ck_assert_int_eq(mfa_int_attempt_counts(MFA_ERR_CODE_WRONG, 0), 1);
    ck_assert_int_eq(mfa_int_attempt_counts(MFA_ERR_REPLAYED, 0), 1);
    ck_assert_int_eq(mfa_int_attempt_counts(MFA_ERR_THROTTLED, 1), 1);
    /* nothing to check against: no new row, an existing one counts */
    ck_assert_int_eq(mfa_int_attempt_counts(MFA_ERR_NO_FACTOR, 0), 0);
    ck_assert_int_eq(mfa_int_attempt_counts(MFA_ERR_NO_FACTOR, 1), 1);
    ck_assert_int_eq(mfa_int_attempt_counts(MFA_ERR_NO_CODES, 0), 0);
    ck_assert_int_eq(mfa_int_attempt_counts(MFA_ERR_NOT_FOUND, 0), 0);
    ck_assert_int_eq(mfa_int_attempt_counts(MFA_ERR_ATTEMPTS, 1), 1);
}
END_TEST

START_TEST(bucket_names)
{
    char b[MFA_BUCKET_MAX + 1];

    mfa_int_bucket_of(NULL, 0, b);
    ck_assert_str_eq(b, "");
    mfa_int_bucket_of("0123456789abcdef", 0, b);
    ck_assert_str_eq(b, "0123456789abcdef");
    mfa_int_bucket_of(NULL, 1, b);
    ck_assert_str_eq(b, "pw");
    mfa_int_bucket_of("0123456789abcdef", 1, b);
    ck_assert_str_eq(b, "pw-0123456789abcdef");
    ck_assert(mfa_int_bucket_ok(b));
    {
        char id[MFA_DEVICE_REC_ID_LEN + 1];

        ck_assert_int_eq(mfa_int_bucket_device(b, id), 1);
        ck_assert_str_eq(id, "0123456789abcdef");
        ck_assert_int_eq(mfa_int_bucket_device("fedcba9876543210", id), 1);
        ck_assert_str_eq(id, "fedcba9876543210");
        ck_assert_int_eq(mfa_int_bucket_device("", id), 0);
        ck_assert_int_eq(mfa_int_bucket_device("pw", id), 0);
        ck_assert_int_eq(mfa_int_bucket_device("pw-0123", id), 0);
        ck_assert_int_eq(mfa_int_bucket_device("0123456789ABCDEF", id), 0);
    }
}
END_TEST

START_TEST(device_trust)
{
    const int64_t now = 1700000000, day = 86400;
    mfa_device_rec d = {0};

    /* not asked: unchanged, never extended */
    ck_assert_int_eq(mfa_int_device_trust(now, 0, 30, 0), 0);
    ck_assert_int_eq(mfa_int_device_trust(now, 0, 30, now + 5), now + 5);
    /* asked: from now, capped by the policy */
    ck_assert_int_eq(mfa_int_device_trust(now, 7, 30, now + 99 * day),
                     now + 7 * day);
    ck_assert_int_eq(mfa_int_device_trust(now, 365, 30, 0), now + 30 * day);
    /* a policy of 0 days: remembering is off */
    ck_assert_int_eq(mfa_int_device_trust(now, 30, 0, now + day), 0);
    /* the end of time is the limit */
    ck_assert_int_eq(mfa_int_device_trust(INT64_C(253402300000), 3650, 3650, 0),
                     INT64_C(253402300799));
    d.trusted_until = now + 1;
    ck_assert_int_eq(mfa_int_device_may_skip(&d, now), 1);
    ck_assert_int_eq(mfa_int_device_may_skip(&d, now + 1), 0);
    d.trusted_until = 0;
    ck_assert_int_eq(mfa_int_device_may_skip(&d, 0), 0);
}
END_TEST

static mfa_device_rec
dev(const char *id, int64_t created, int64_t seen)
{
    mfa_device_rec d = {0};

    snprintf(d.id, sizeof(d.id), "%s", id);
    d.created = created;
    d.last_seen = seen;
    return d;
}

START_TEST(device_victim)
{
    mfa_device_rec v[4];

    memset(v, 0, sizeof(v));
    ck_assert_uint_eq(mfa_int_device_victim(v, 0), (size_t)-1);
    v[0] = dev("000000000000000a", 10, 500);
    v[1] = dev("000000000000000b", 20, 100); /* seen longest ago */
    v[2] = dev("000000000000000c", 5, 900);
    ck_assert_uint_eq(mfa_int_device_victim(v, 3), 1);
    /* ties: created earlier, then the smaller id */
    v[3] = dev("0000000000000009", 15, 100);
    ck_assert_uint_eq(mfa_int_device_victim(v, 4), 3);
    v[3] = dev("0000000000000009", 20, 100);
    ck_assert_uint_eq(mfa_int_device_victim(v, 4), 3);
    v[3] = dev("000000000000000f", 20, 100);
    ck_assert_uint_eq(mfa_int_device_victim(v, 4), 1);
}
END_TEST

START_TEST(gc_expiry)
{
    mfa_throttle_rec t = {"", 3, 0, 1000};
    mfa_device_rec d = dev("000000000000000a", 10, 1000);

    ck_assert_int_eq(mfa_int_gc_throttle_expired(&t, 1000 + 3599, 3600), 0);
    ck_assert_int_eq(mfa_int_gc_throttle_expired(&t, 1000 + 3600, 3600), 1);
    /* a locked row stays until the lock ends */
    t.locked_until = 9000;
    ck_assert_int_eq(mfa_int_gc_throttle_expired(&t, 8999, 3600), 0);
    ck_assert_int_eq(mfa_int_gc_throttle_expired(&t, 9000, 3600), 1);
    ck_assert_int_eq(mfa_int_gc_device_expired(&d, 4599, 3600), 0);
    ck_assert_int_eq(mfa_int_gc_device_expired(&d, 4600, 3600), 1);
    /* a device trusted still is kept */
    d.trusted_until = 5000;
    ck_assert_int_eq(mfa_int_gc_device_expired(&d, 4600, 3600), 0);
    ck_assert_int_eq(mfa_int_gc_device_expired(&d, 5000, 3600), 1);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("rules");
    TCase *tc = tcase_create("rules");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, verdict_precedence);
    tcase_add_test(tc, delay_arithmetic);
    tcase_add_test(tc, count_while_free_and_locked);
    tcase_add_test(tc, count_saturates_and_clamps);
    tcase_add_test(tc, drift_clamp);
    tcase_add_test(tc, record_checks);
    tcase_add_test(tc, attempt_counts);
    tcase_add_test(tc, bucket_names);
    tcase_add_test(tc, device_trust);
    tcase_add_test(tc, device_victim);
    tcase_add_test(tc, gc_expiry);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
