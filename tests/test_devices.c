/*
 * Known devices (mfa/device.h) through the service layer: tokens and what
 * bad ones do, throttling per (account, device), the password step, the
 * per-account cap, "remember", the clean-up of rows that belong to no
 * factor, and the attacks of issue 14 run for a simulated year:
 *
 *   year_of_lockout   the attacker who knows only the user name sends one
 *                     wrong code each time the lock ends.  A user who logs
 *                     in daily from an unknown device gets in 0 times (the
 *                     "Why" of issue 14); from a known device, every day.
 *   flood_one_name    an attacker floods one name with a wrong code every
 *                     second for a day; the user's known device logs in
 *                     every hour.
 *
 * The figures are printed (docs/throttling.md quotes them); the asserts
 * are the properties, not the figures.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>

#include <mfa.h>
#include <mfa/store-backend.h>

#define T0 INT64_C(1767225600) /* 2026-01-01 00:00:00 UTC */
#define DAY INT64_C(86400)
#define YEAR (365 * DAY)

static struct {
    mfa_store_t *store;
    mfa_keyring_t *kr;
    mfa_ctx_t *ctx;
    int64_t now;
    /* every string of every event, to look for tokens in */
    char events[1 << 16];
    size_t ev_len;
    size_t ev_count;
    mfa_event last;
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
    int n;

    (void)arg;
    F.last = *ev;
    F.ev_count++;
    if (F.ev_len + 256 >= sizeof(F.events))
        F.ev_len = 0; /* a ring: only the recent events are looked at */
    n = snprintf(F.events + F.ev_len, sizeof(F.events) - F.ev_len,
                 "%s|%s|%s|%d\n", mfa_event_name(ev->type),
                 ev->account ? ev->account : "",
                 ev->factor_id ? ev->factor_id : "", (int)ev->rc);
    if (n > 0)
        F.ev_len += (size_t)n;
}

static void
setup(void)
{
    uint32_t id;

    memset(&F, 0, sizeof(F));
    F.now = T0;
    ck_assert_int_eq(mfa_store_memory_new(&F.store), MFA_OK);
    ck_assert_int_eq(mfa_keyring_new(&F.kr), MFA_OK);
    ck_assert_int_eq(mfa_keyring_generate(F.kr, &id), MFA_OK);
    ck_assert_int_eq(mfa_ctx_new(&F.ctx, F.store, F.kr), MFA_OK);
    mfa_ctx_set_clock(F.ctx, fake_clock, NULL);
    mfa_ctx_set_event_cb(F.ctx, on_event, NULL);
}

static void
teardown(void)
{
    mfa_ctx_free(&F.ctx);
    mfa_store_free(&F.store);
    mfa_keyring_free(&F.kr);
}

/* An enrolled, confirmed TOTP factor; *token gets the confirmation's
 * device token. */
static mfa_otp_t *
enroll(const char *account, char token[MFA_DEVICE_TOKEN_BUFSIZE])
{
    mfa_enrollment_t *e = NULL;
    mfa_uri_t *u = NULL;
    mfa_otp_t *o = NULL;
    char c[MFA_CODE_BUFSIZE];
    mfa_result r;

    ck_assert_int_eq(mfa_enroll_begin(F.ctx, account, "phone", NULL, &e),
                     MFA_OK);
    ck_assert_int_eq(mfa_uri_parse(mfa_enrollment_uri(e), &u, NULL), MFA_OK);
    ck_assert_int_eq(mfa_uri_to_otp(u, &o), MFA_OK);
    ck_assert_int_eq(mfa_otp_totp(o, F.now, c, sizeof(c)), MFA_OK);
    ck_assert_int_eq(
        mfa_enroll_confirm(F.ctx, account, mfa_enrollment_factor_id(e), c, &r),
        MFA_OK);
    ck_assert_uint_eq(strlen(r.device_token), MFA_DEVICE_TOKEN_LEN);
    if (token != NULL)
        memcpy(token, r.device_token, MFA_DEVICE_TOKEN_BUFSIZE);
    mfa_uri_free(&u);
    mfa_enrollment_free(&e);
    F.now += 30;
    return o;
}

static void
code_now(const mfa_otp_t *o, char c[MFA_CODE_BUFSIZE])
{
    ck_assert_int_eq(mfa_otp_totp(o, F.now, c, MFA_CODE_BUFSIZE), MFA_OK);
}

/* A code that no step within +-12 of now gives. */
static void
wrong_code(const mfa_otp_t *o, char out[MFA_CODE_BUFSIZE])
{
    for (unsigned v = 0;; v += 111111) {
        int clash = 0;

        snprintf(out, MFA_CODE_BUFSIZE, "%06u", v % 1000000);
        for (int s = -12; s <= 12; s++) {
            char c[MFA_CODE_BUFSIZE];
            ck_assert_int_eq(
                mfa_otp_totp(o, F.now + 30 * (int64_t)s, c, sizeof(c)), MFA_OK);
            clash |= strcmp(c, out) == 0;
        }
        if (!clash)
            return;
    }
}

/* Rows of an account, through the backend. */
static size_t
throttle_rows(const char *account, mfa_throttle_rec *out, size_t max)
{
    const mfa_store_backend *be = mfa_store_backend_of(F.store);
    mfa_store_txn *t = NULL;
    mfa_throttle_rec local[80];
    size_t n = 0;

    if (out == NULL) {
        out = local;
        max = 80;
    }
    ck_assert_int_eq(
        be->begin(mfa_store_impl_of(F.store), account, MFA_TXN_READ, &t),
        MFA_OK);
    ck_assert_int_eq(be->throttle_list(t, account, out, max, &n), MFA_OK);
    ck_assert_int_eq(be->commit(t), MFA_OK);
    return n;
}

static uint32_t
failures_in(const char *account, const char *bucket)
{
    mfa_throttle_rec r[80];
    size_t n = throttle_rows(account, r, 80);

    for (size_t i = 0; i < n; i++)
        if (strcmp(r[i].bucket, bucket) == 0)
            return r[i].failures;
    return 0;
}

static size_t
accounts_with_state(void)
{
    const mfa_store_backend *be = mfa_store_backend_of(F.store);
    char page[64][MFA_ACCOUNT_MAX + 1];
    char after[MFA_ACCOUNT_MAX + 1] = "";
    mfa_store_txn *t = NULL;
    size_t n = 0, total = 0;

    do {
        ck_assert_int_eq(
            be->begin(mfa_store_impl_of(F.store), NULL, MFA_TXN_READ, &t),
            MFA_OK);
        ck_assert_int_eq(be->state_scan(t, after, page, 64, &n), MFA_OK);
        ck_assert_int_eq(be->commit(t), MFA_OK);
        total += n;
        if (n > 0)
            memcpy(after, page[n - 1], sizeof(after));
    } while (n == 64);
    return total;
}

/* ---- tokens ------------------------------------------------------------ */

START_TEST(token_shape_and_rotation)
{
    char tok[MFA_DEVICE_TOKEN_BUFSIZE], id[MFA_DEVICE_ID_LEN + 1];
    char c[MFA_CODE_BUFSIZE];
    mfa_device_opts o = {NULL, "Firefox", 0};
    mfa_device_info info;
    mfa_otp_t *otp = enroll("alice", tok);
    mfa_result r;

    /* id, '.', 43 characters of base64url */
    ck_assert_int_eq(tok[MFA_DEVICE_ID_LEN], '.');
    ck_assert_uint_eq(strspn(tok + MFA_DEVICE_ID_LEN + 1,
                             "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvw"
                             "xyz0123456789-_"),
                      43);
    ck_assert_int_eq(mfa_device_token_id(tok, id), MFA_OK);
    ck_assert_uint_eq(strlen(id), MFA_DEVICE_ID_LEN);
    /* known, not remembered: must still give a second factor */
    ck_assert_int_eq(mfa_device_check(F.ctx, "alice", tok, &info),
                     MFA_ERR_DEVICE_UNTRUSTED);
    ck_assert_str_eq(info.id, id);
    ck_assert_int_eq(info.trusted_until, 0);

    /* a login with it rotates the secret and keeps the id */
    code_now(otp, c);
    o.token = tok;
    ck_assert_int_eq(mfa_verify_device(F.ctx, "alice", c, &o, &r), MFA_OK);
    ck_assert_str_eq(r.device_id, id);
    ck_assert_str_ne(r.device_token, tok);
    ck_assert_int_eq(strncmp(r.device_token, id, MFA_DEVICE_ID_LEN), 0);
    ck_assert_int_eq(mfa_device_check(F.ctx, "alice", tok, NULL),
                     MFA_ERR_DEVICE_UNKNOWN);
    ck_assert_int_eq(mfa_device_check(F.ctx, "alice", r.device_token, &info),
                     MFA_ERR_DEVICE_UNTRUSTED);
    ck_assert_str_eq(info.label, "Firefox");
    ck_assert_int_eq(info.last_seen, F.now);
    /* the token is in no event */
    ck_assert_ptr_null(
        strstr(F.events, r.device_token + MFA_DEVICE_ID_LEN + 1));
    ck_assert_ptr_null(strstr(F.events, tok + MFA_DEVICE_ID_LEN + 1));
    mfa_otp_free(&otp);
}
END_TEST

/* Forged, truncated, oversized, mangled and other-account tokens: each a
 * specific error, the code never looked at, nothing counted or written. */
START_TEST(bad_tokens_change_nothing)
{
    char tok[MFA_DEVICE_TOKEN_BUFSIZE], bob_tok[MFA_DEVICE_TOKEN_BUFSIZE];
    char bad[12][128], c[MFA_CODE_BUFSIZE];
    const mfa_rc want[12] = {
        MFA_ERR_DEVICE_UNKNOWN, MFA_ERR_DEVICE_FORMAT,  MFA_ERR_DEVICE_FORMAT,
        MFA_ERR_DEVICE_FORMAT,  MFA_ERR_DEVICE_FORMAT,  MFA_ERR_DEVICE_FORMAT,
        MFA_ERR_DEVICE_FORMAT,  MFA_ERR_DEVICE_UNKNOWN, MFA_ERR_DEVICE_FORMAT,
        MFA_ERR_DEVICE_FORMAT,  MFA_ERR_DEVICE_UNKNOWN, MFA_ERR_DEVICE_FORMAT};
    mfa_otp_t *a = enroll("alice", tok);
    mfa_otp_t *b = enroll("bob", bob_tok);
    mfa_device_info *list = NULL;
    mfa_device_opts o = {NULL, NULL, 30};
    mfa_throttle_rec before[8], after[8];
    size_t nb, na, nd = 0;
    mfa_result r;

    for (int i = 0; i < 12; i++)
        snprintf(bad[i], sizeof(bad[i]), "%s", tok);
    /* 0: one secret character changed (forged) */
    bad[0][30] = bad[0][30] == 'x' ? 'y' : 'x';
    bad[1][MFA_DEVICE_TOKEN_LEN - 1] = '\0';                     /* truncated */
    strcat(bad[2], "A");                                         /* oversized */
    bad[3][MFA_DEVICE_ID_LEN] = ':';                             /* separator */
    bad[4][0] = 'G';                                             /* not hex */
    bad[5][0] = bad[5][0] >= 'a' ? (char)(bad[5][0] - 32) : 'A'; /* case */
    bad[6][40] = '+';                       /* base64, not base64url */
    memcpy(bad[7], "0000000000000000", 16); /* another id */
    bad[8][0] = '\0';                       /* empty */
    memset(bad[9], 'a', 127);               /* long */
    bad[9][127] = '\0';
    snprintf(bad[10], sizeof(bad[10]), "%s", bob_tok); /* bob's, at alice */
    bad[11][50] = '=';                                 /* padding */

    code_now(a, c);
    nb = throttle_rows("alice", before, 8);
    ck_assert_int_eq(mfa_devices_list(F.ctx, "alice", &list, &nd), MFA_OK);
    mfa_free(list);
    ck_assert_uint_eq(nd, 1);
    for (int i = 0; i < 12; i++) {
        o.token = bad[i];
        ck_assert_msg(mfa_verify_device(F.ctx, "alice", c, &o, &r) == want[i],
                      "token %d: %s", i, mfa_strerror_name(r.outcome));
        ck_assert_str_eq(r.device_token, "");
        ck_assert_uint_eq(r.failures, 0);
        ck_assert_int_eq(mfa_device_check(F.ctx, "alice", bad[i], NULL),
                         want[i]);
        ck_assert_int_eq(mfa_password_failed(F.ctx, "alice", bad[i], &r),
                         want[i]);
    }
    /* nothing written: same rows, same devices, and the right code is
     * still unspent */
    na = throttle_rows("alice", after, 8);
    ck_assert_uint_eq(na, nb);
    ck_assert_int_eq(mfa_devices_list(F.ctx, "alice", &list, &nd), MFA_OK);
    mfa_free(list);
    ck_assert_uint_eq(nd, 1);
    o.token = tok;
    ck_assert_int_eq(mfa_verify_device(F.ctx, "alice", c, &o, &r), MFA_OK);
    /* labels are text fields */
    o.label = "bad\xe2\x80\xaelabel";
    ck_assert_int_eq(mfa_verify_device(F.ctx, "alice", c, &o, &r),
                     MFA_ERR_FORMAT_CHAR);
    mfa_otp_free(&a);
    mfa_otp_free(&b);
}
END_TEST

START_TEST(remember_capped_by_policy)
{
    char tok[MFA_DEVICE_TOKEN_BUFSIZE], c[MFA_CODE_BUFSIZE];
    mfa_device_opts o = {NULL, "laptop", 90};
    mfa_device_info info;
    mfa_otp_t *otp;
    mfa_result r;

    ck_assert_int_eq(mfa_ctx_set_devices(F.ctx, 4, 14), MFA_OK);
    ck_assert_int_eq(mfa_ctx_set_devices(F.ctx, 4, 3651), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_ctx_set_devices(F.ctx, MFA_DEVICES_MAX + 1, 14),
                     MFA_ERR_INVALID);
    otp = enroll("carol", tok);
    code_now(otp, c);
    o.token = tok;
    ck_assert_int_eq(mfa_verify_device(F.ctx, "carol", c, &o, &r), MFA_OK);
    snprintf(tok, sizeof(tok), "%s", r.device_token);
    ck_assert_int_eq(mfa_device_check(F.ctx, "carol", tok, &info), MFA_OK);
    ck_assert_int_eq(info.trusted_until, F.now + 14 * DAY);
    F.now += 14 * DAY - 1;
    ck_assert_int_eq(mfa_device_check(F.ctx, "carol", tok, &info), MFA_OK);
    ck_assert_int_eq(info.last_seen, F.now);
    F.now += 1;
    ck_assert_int_eq(mfa_device_check(F.ctx, "carol", tok, NULL),
                     MFA_ERR_DEVICE_UNTRUSTED);
    /* a login that does not ask to be remembered does not extend it */
    code_now(otp, c);
    o.remember_days = 0;
    ck_assert_int_eq(mfa_verify_device(F.ctx, "carol", c, &o, &r), MFA_OK);
    ck_assert_int_eq(mfa_device_check(F.ctx, "carol", r.device_token, NULL),
                     MFA_ERR_DEVICE_UNTRUSTED);
    mfa_otp_free(&otp);
}
END_TEST

START_TEST(devices_off)
{
    char c[MFA_CODE_BUFSIZE];
    mfa_device_info *list = NULL;
    mfa_otp_t *otp = enroll("kim", NULL);
    mfa_result r;
    size_t n = 9;

    ck_assert_int_eq(mfa_ctx_set_devices(F.ctx, 0, 30), MFA_OK);
    ck_assert_int_eq(mfa_devices_forget_all(F.ctx, "kim", NULL), MFA_OK);
    code_now(otp, c);
    ck_assert_int_eq(mfa_verify(F.ctx, "kim", c, &r), MFA_OK);
    ck_assert_str_eq(r.device_token, "");
    ck_assert_str_eq(r.device_id, "");
    ck_assert_int_eq(mfa_devices_list(F.ctx, "kim", &list, &n), MFA_OK);
    ck_assert_uint_eq(n, 0);
    mfa_free(list);
    mfa_otp_free(&otp);
}
END_TEST

START_TEST(cap_forget_and_reset)
{
    char tok[MFA_DEVICE_TOKEN_BUFSIZE], first[MFA_DEVICE_ID_LEN + 1];
    char c[MFA_CODE_BUFSIZE], w[MFA_CODE_BUFSIZE];
    mfa_device_info *list = NULL;
    mfa_device_opts o = {NULL, NULL, 0};
    mfa_otp_t *otp;
    mfa_result r;
    size_t n = 0;

    ck_assert_int_eq(mfa_ctx_set_devices(F.ctx, 3, 30), MFA_OK);
    otp = enroll("dave", tok);
    ck_assert_int_eq(mfa_device_token_id(tok, first), MFA_OK);
    /* a wrong code from the first device: its own bucket gets a row */
    wrong_code(otp, w);
    o.token = tok;
    ck_assert_int_eq(mfa_verify_device(F.ctx, "dave", w, &o, &r),
                     MFA_ERR_CODE_WRONG);
    ck_assert_uint_eq(failures_in("dave", first), 1);
    /* four logins from new devices: the cap keeps three, the one seen
     * longest ago (the first) goes, with its throttle row */
    for (int i = 0; i < 4; i++) {
        F.now += 30;
        code_now(otp, c);
        ck_assert_int_eq(mfa_verify(F.ctx, "dave", c, &r), MFA_OK);
    }
    ck_assert_int_eq(mfa_devices_list(F.ctx, "dave", &list, &n), MFA_OK);
    ck_assert_uint_eq(n, 3);
    for (size_t i = 0; i < n; i++)
        ck_assert_str_ne(list[i].id, first);
    mfa_free(list);
    ck_assert_int_eq(mfa_device_check(F.ctx, "dave", tok, NULL),
                     MFA_ERR_DEVICE_UNKNOWN);
    /* its throttle row is unreachable now; the clean-up removes it, and
     * only it, though the account has factors */
    ck_assert_uint_eq(failures_in("dave", first), 1);
    ck_assert_int_eq(mfa_password_failed(F.ctx, "dave", NULL, &r), MFA_OK);
    ck_assert_int_eq(mfa_gc(F.ctx, &n), MFA_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(failures_in("dave", first), 0);
    ck_assert_uint_eq(throttle_rows("dave", NULL, 0), 1); /* "pw" stays */
    /* forget one by id */
    ck_assert_int_eq(mfa_devices_list(F.ctx, "dave", &list, &n), MFA_OK);
    ck_assert_int_eq(mfa_device_forget(F.ctx, "dave", list[0].id), MFA_OK);
    ck_assert_int_eq(F.last.type, MFA_EV_DEVICE_FORGET);
    ck_assert_int_eq(mfa_device_forget(F.ctx, "dave", list[0].id),
                     MFA_ERR_NOT_FOUND);
    ck_assert_int_eq(mfa_device_forget(F.ctx, "dave", "not-an-id"),
                     MFA_ERR_INVALID);
    mfa_free(list);
    /* a reset forgets every device */
    ck_assert_int_eq(mfa_reset(F.ctx, "dave"), MFA_OK);
    ck_assert_int_eq(mfa_devices_list(F.ctx, "dave", &list, &n), MFA_OK);
    ck_assert_uint_eq(n, 0);
    mfa_free(list);
    ck_assert_uint_eq(accounts_with_state(), 0);
    mfa_otp_free(&otp);
}
END_TEST

/* ---- malformed codes ----------------------------------------------------- */

START_TEST(malformed_codes_not_counted)
{
    const mfa_throttle_policy p = {1, 30, 600};
    char c[MFA_CODE_BUFSIZE], w[MFA_CODE_BUFSIZE];
    mfa_otp_t *otp;
    mfa_result r;

    ck_assert_int_eq(mfa_ctx_set_throttle(F.ctx, &p), MFA_OK);
    otp = enroll("erin", NULL);
    code_now(otp, c);
    /* 7 digits for a 6-digit factor */
    ck_assert_int_eq(mfa_verify(F.ctx, "erin", "1234567", &r),
                     MFA_ERR_CODE_FORMAT);
    ck_assert_int_eq(r.outcome, MFA_ERR_CODE_FORMAT);
    ck_assert_int_eq(F.last.rc, MFA_ERR_CODE_FORMAT);
    ck_assert_uint_eq(r.failures, 0);
    ck_assert_uint_eq(throttle_rows("erin", NULL, 0), 0);
    ck_assert_int_eq(mfa_verify(F.ctx, "erin", "12 345", &r),
                     MFA_ERR_CODE_FORMAT);
    ck_assert_int_eq(mfa_verify(F.ctx, "erin", "12a456", &r),
                     MFA_ERR_CODE_FORMAT);
    ck_assert_uint_eq(throttle_rows("erin", NULL, 0), 0);
    /* locked: a malformed code is still refused for its shape, and does
     * not count */
    wrong_code(otp, w);
    ck_assert_int_eq(mfa_verify(F.ctx, "erin", w, &r), MFA_ERR_CODE_WRONG);
    ck_assert_int_eq(mfa_verify(F.ctx, "erin", w, &r), MFA_ERR_CODE_WRONG);
    ck_assert_int_eq(mfa_verify(F.ctx, "erin", w, &r), MFA_ERR_THROTTLED);
    ck_assert_uint_eq(failures_in("erin", ""), 3);
    ck_assert_int_eq(mfa_verify(F.ctx, "erin", "12345678", &r),
                     MFA_ERR_CODE_FORMAT);
    ck_assert_uint_eq(failures_in("erin", ""), 3);
    /* the right code is still fine after the lock */
    F.now += 600;
    code_now(otp, c);
    ck_assert_int_eq(mfa_verify(F.ctx, "erin", c, &r), MFA_OK);
    mfa_otp_free(&otp);
}
END_TEST

/* ---- the password step --------------------------------------------------- */

START_TEST(password_step_per_device)
{
    const mfa_throttle_policy p = {2, 60, 3600};
    char tok[MFA_DEVICE_TOKEN_BUFSIZE];
    mfa_otp_t *otp;
    mfa_result r;

    ck_assert_int_eq(mfa_ctx_set_throttle(F.ctx, &p), MFA_OK);
    otp = enroll("frank", tok);
    ck_assert_int_eq(mfa_password_check(F.ctx, "frank", NULL, &r), MFA_OK);
    /* an attacker's wrong passwords lock unknown devices... */
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(mfa_password_failed(F.ctx, "frank", NULL, &r), MFA_OK);
    ck_assert_uint_eq(r.failures, 5);
    ck_assert_int_eq(F.last.type, MFA_EV_PASSWORD_FAIL);
    ck_assert_int_eq(mfa_password_check(F.ctx, "frank", NULL, &r),
                     MFA_ERR_THROTTLED);
    ck_assert_uint_gt(r.retry_after, 0);
    /* ...not the user's own device */
    ck_assert_int_eq(mfa_password_check(F.ctx, "frank", tok, &r), MFA_OK);
    ck_assert_int_eq(mfa_password_failed(F.ctx, "frank", tok, &r), MFA_OK);
    ck_assert_uint_eq(r.failures, 1);
    ck_assert_int_eq(mfa_password_ok(F.ctx, "frank", tok), MFA_OK);
    ck_assert_uint_eq(failures_in("frank", "pw"), 5);
    /* and the password budget is not the second factor's */
    ck_assert_uint_eq(failures_in("frank", ""), 0);
    ck_assert_int_eq(mfa_password_ok(F.ctx, "frank", NULL), MFA_OK);
    ck_assert_int_eq(mfa_password_check(F.ctx, "frank", NULL, &r), MFA_OK);
    ck_assert_uint_eq(throttle_rows("frank", NULL, 0), 0);
    mfa_otp_free(&otp);
}
END_TEST

/* ---- bounded store ------------------------------------------------------- */

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Invented names leave no row, and from outside look like an existing
 * account without factors: the same result, the same event; the time is
 * printed (a ratio against the existing account in the same run).
 */
START_TEST(invented_names_leave_nothing)
{
    enum { N = 2000 };
    char name[32], ev_existing[128], ev_invented[128];
    double t_existing = 0, t_invented = 0, t0;
    mfa_result r_existing, r_invented;
    mfa_otp_t *otp;
    size_t n = 0;

    ck_assert_int_eq(mfa_ctx_set_gc(F.ctx, 0, 3600), MFA_OK);
    /* an existing account whose only factor was removed: no factor now */
    otp = enroll("grace", NULL);
    {
        mfa_factor_info *l = NULL;
        ck_assert_int_eq(mfa_factors_list(F.ctx, "grace", &l, &n), MFA_OK);
        ck_assert_int_eq(mfa_factor_remove(F.ctx, "grace", l[0].id), MFA_OK);
        mfa_free(l);
        size_t k = 0;
        ck_assert_int_eq(mfa_devices_forget_all(F.ctx, "grace", &k), MFA_OK);
    }
    ck_assert_uint_eq(accounts_with_state(), 0);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N; i++) {
            snprintf(name, sizeof(name), "invented-%d-%d", round, i);
            t0 = now_s();
            ck_assert_int_eq(mfa_verify(F.ctx, "grace", "123456", &r_existing),
                             MFA_ERR_NO_FACTOR);
            t_existing += now_s() - t0;
            snprintf(ev_existing, sizeof(ev_existing), "%s %d %u",
                     mfa_event_name(F.last.type), (int)F.last.rc,
                     F.last.failures);
            t0 = now_s();
            ck_assert_int_eq(mfa_verify(F.ctx, name, "123456", &r_invented),
                             MFA_ERR_NO_FACTOR);
            t_invented += now_s() - t0;
            snprintf(ev_invented, sizeof(ev_invented), "%s %d %u",
                     mfa_event_name(F.last.type), (int)F.last.rc,
                     F.last.failures);
            ck_assert_mem_eq(&r_existing, &r_invented, sizeof(r_existing));
            ck_assert_str_eq(ev_existing, ev_invented);
        }
    }
    ck_assert_uint_eq(accounts_with_state(), 0);
    printf("invented names: %d verifies each; existing account without "
           "factors %.2f us, invented name %.2f us (ratio %.2f); rows left "
           "%zu\n",
           2 * N, 1e6 * t_existing / (2 * N), 1e6 * t_invented / (2 * N),
           t_invented / t_existing, accounts_with_state());
    mfa_otp_free(&otp);
}
END_TEST

/* The password step writes rows for any name; without factors they go,
 * on demand (mfa_gc) and amortised inside the flows. */
START_TEST(gc_on_demand_and_amortised)
{
    enum { N = 500 };
    char name[32];
    size_t removed = 0, peak = 0;
    mfa_result r;
    mfa_otp_t *otp = enroll("heidi", NULL);

    ck_assert_int_eq(mfa_ctx_set_gc(F.ctx, 0, 60), MFA_OK);
    ck_assert_int_eq(mfa_ctx_set_gc(F.ctx, 0, 59), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_password_failed(F.ctx, "heidi", NULL, &r), MFA_OK);
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "guess%04d", i);
        ck_assert_int_eq(mfa_password_failed(F.ctx, name, NULL, &r), MFA_OK);
    }
    ck_assert_uint_eq(accounts_with_state(), N + 1); /* + heidi */
    ck_assert_int_eq(mfa_gc(F.ctx, &removed), MFA_OK);
    ck_assert_uint_eq(removed, 0);
    ck_assert_int_eq(F.last.type, MFA_EV_GC);
    F.now += 60;
    ck_assert_int_eq(mfa_gc(F.ctx, &removed), MFA_OK);
    ck_assert_uint_eq(removed, N);
    ck_assert_uint_eq(F.last.failures, N);
    /* heidi has a factor: her rows stay */
    ck_assert_uint_eq(accounts_with_state(), 1);
    ck_assert_uint_eq(failures_in("heidi", "pw"), 1);

    /* amortised: a step every 4 flows, a name a flow, one minute apart;
     * the rows alive stay bounded by what one minute writes */
    ck_assert_int_eq(mfa_ctx_set_gc(F.ctx, 4, 60), MFA_OK);
    for (int i = 0; i < 4 * N; i++) {
        size_t alive;

        snprintf(name, sizeof(name), "spray%05d", i);
        ck_assert_int_eq(mfa_password_failed(F.ctx, name, NULL, &r), MFA_OK);
        F.now += 1;
        if (i % 50 == 0) {
            alive = accounts_with_state();
            if (alive > peak)
                peak = alive;
        }
    }
    printf("amortised clean-up: %d invented names at 1/s, a step every 4 "
           "flows, idle 60 s: at most %zu accounts with rows at a time\n",
           4 * N, peak);
    ck_assert_uint_lt(peak, 4 * N / 4);
    mfa_otp_free(&otp);
}
END_TEST

/* ---- the attacks of issue 14 ------------------------------------------- */

typedef struct year_run {
    unsigned user_ok, user_tries;
    unsigned attacker_requests, attacker_checked;
} year_run;

/*
 * A simulated year with the default policy.  The attacker knows only the
 * user name: one wrong code each time the lock ends.  The user logs in at
 * 09:00 every day, with a device token when `known`.
 */
static year_run
simulate_year(int known)
{
    char tok[MFA_DEVICE_TOKEN_BUFSIZE], c[MFA_CODE_BUFSIZE];
    char w[MFA_CODE_BUFSIZE];
    int64_t end, attacker_next, user_next;
    mfa_device_opts o = {NULL, "laptop", 0};
    year_run y = {0, 0, 0, 0};
    mfa_otp_t *otp;
    mfa_result r;

    ck_assert_int_eq(mfa_ctx_set_gc(F.ctx, 0, 3600), MFA_OK);
    otp = enroll("ivan", tok);
    end = F.now + YEAR;
    attacker_next = F.now;
    user_next = T0 + 9 * 3600;
    while (F.now < end) {
        if (attacker_next <= user_next) {
            F.now = attacker_next;
            wrong_code(otp, w);
            mfa_rc rc = mfa_verify(F.ctx, "ivan", w, &r);
            y.attacker_requests++;
            ck_assert_int_ne(rc, MFA_OK);
            if (rc == MFA_ERR_CODE_WRONG)
                y.attacker_checked++;
            /* back the moment the lock ends (at once while free) */
            attacker_next = F.now + (r.retry_after > 0 ? r.retry_after : 1);
        } else {
            F.now = user_next;
            code_now(otp, c);
            o.token = known ? tok : NULL;
            y.user_tries++;
            if (mfa_verify_device(F.ctx, "ivan", c, &o, &r) == MFA_OK) {
                y.user_ok++;
                snprintf(tok, sizeof(tok), "%s", r.device_token);
            }
            user_next += DAY;
        }
    }
    mfa_otp_free(&otp);
    return y;
}

START_TEST(year_of_lockout)
{
    year_run unknown, known;

    unknown = simulate_year(0);
    teardown();
    setup();
    known = simulate_year(1);
    printf("a year, default policy, attacker knows only the user name:\n"
           "  user on an unknown device: %u of %u logins; attacker %u "
           "requests, %u codes checked\n"
           "  user on a known device:    %u of %u logins; attacker %u "
           "requests, %u codes checked, P(success) <= %.1e\n",
           unknown.user_ok, unknown.user_tries, unknown.attacker_requests,
           unknown.attacker_checked, known.user_ok, known.user_tries,
           known.attacker_requests, known.attacker_checked,
           known.attacker_checked * 3e-6);
    /* the attack of issue 14 still holds unknown devices... */
    ck_assert_uint_lt(unknown.user_ok, unknown.user_tries / 10);
    /* ...never the user's own device */
    ck_assert_uint_eq(known.user_ok, known.user_tries);
    ck_assert_uint_ge(known.user_tries, 365);
    /* the guesses the attacker got checked stay under the 1e-3 bound */
    ck_assert_uint_lt(known.attacker_checked, 333);
    ck_assert_uint_gt(known.attacker_checked, 0);
}
END_TEST

/* A wrong code every second for a day against one name; the user's known
 * device logs in every hour. */
START_TEST(flood_one_name)
{
    char tok[MFA_DEVICE_TOKEN_BUFSIZE], c[MFA_CODE_BUFSIZE];
    char w[MFA_CODE_BUFSIZE];
    mfa_device_opts o = {NULL, "phone", 0};
    unsigned ok = 0, tries = 0, sent = 0, checked = 0, throttled = 0;
    double t0 = now_s();
    mfa_otp_t *otp;
    mfa_result r;
    int64_t start;

    ck_assert_int_eq(mfa_ctx_set_gc(F.ctx, 0, 3600), MFA_OK);
    otp = enroll("judy", tok);
    start = F.now;
    wrong_code(otp, w);
    for (int64_t s = 0; s < DAY; s++) {
        F.now = start + s;
        if (s % 30 == 0)
            wrong_code(otp, w);
        mfa_rc rc = mfa_verify(F.ctx, "judy", w, &r);
        sent++;
        checked += rc == MFA_ERR_CODE_WRONG;
        throttled += rc == MFA_ERR_THROTTLED;
        ck_assert_int_ne(rc, MFA_OK);
        if (s % 3600 == 1800) {
            code_now(otp, c);
            o.token = tok;
            tries++;
            if (mfa_verify_device(F.ctx, "judy", c, &o, &r) == MFA_OK) {
                ok++;
                snprintf(tok, sizeof(tok), "%s", r.device_token);
            }
        }
    }
    printf("flood: %u wrong codes in a day (1/s) against one name: %u "
           "checked, %u throttled; the known device: %u of %u logins "
           "(%.1f s)\n",
           sent, checked, throttled, ok, tries, now_s() - t0);
    ck_assert_uint_eq(ok, tries);
    ck_assert_uint_eq(tries, 24);
    ck_assert_uint_lt(checked, 30);
    /* the flood sits in the unknown devices' bucket only */
    ck_assert_uint_eq(failures_in("judy", ""), sent);
    mfa_otp_free(&otp);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("devices");
    TCase *tc = tcase_create("devices");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, token_shape_and_rotation);
    tcase_add_test(tc, bad_tokens_change_nothing);
    tcase_add_test(tc, remember_capped_by_policy);
    tcase_add_test(tc, cap_forget_and_reset);
    tcase_add_test(tc, devices_off);
    tcase_add_test(tc, malformed_codes_not_counted);
    tcase_add_test(tc, password_step_per_device);
    tcase_add_test(tc, invented_names_leave_nothing);
    tcase_add_test(tc, gc_on_demand_and_amortised);
    tcase_add_test(tc, year_of_lockout);
    tcase_add_test(tc, flood_one_name);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
