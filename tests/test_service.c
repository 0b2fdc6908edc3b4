/*
 * The service layer: every flow and its errors, with an injected clock, on
 * the memory store and on a SQLite file (each test runs once per backend:
 * the loop index picks it).
 */
#define _GNU_SOURCE /* memmem */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include <mfa.h>
#include <mfa/store-backend.h>

#include "store/txn.h"
#include "testutil.h"

#define T0 1700000000 /* a step boundary: 1700000000 = 56666666 * 30 + 20 */

enum { BK_MEMORY = 0, BK_SQLITE = 1, BK_COUNT = 2 };

/* ---- fixture ----------------------------------------------------------- */

#define EV_MAX 256
typedef struct rec_event {
    mfa_event_type type;
    char account[MFA_ACCOUNT_MAX + 1];
    char factor_id[MFA_FACTOR_ID_LEN + 1];
    int has_account, has_factor;
    mfa_rc rc;
    int64_t time;
    uint32_t failures;
} rec_event;

static struct {
    mfa_store_t *store;
    mfa_keyring_t *kr;
    mfa_ctx_t *ctx;
    int64_t now;
    char path[256];
    rec_event ev[EV_MAX];
    size_t nev;
    /* every code, key and backup code a test typed or saw, to be looked for
     * in the events */
    char secrets[64][128];
    size_t nsecrets;
    char oob_code[MFA_CODE_BUFSIZE];
    char oob_purpose[MFA_OOB_PURPOSE_MAX + 1];
    int oob_sent;
    mfa_rc oob_fail;
} F;

static int64_t
fake_clock(void *arg)
{
    (void)arg;
    return F.now;
}

static void
remember_secret(const char *s)
{
    if (F.nsecrets < 64 && s != NULL && strlen(s) < 128)
        strcpy(F.secrets[F.nsecrets++], s);
}

static void
on_event(const mfa_event *ev, void *arg)
{
    rec_event *r;

    (void)arg;
    ck_assert_ptr_nonnull(ev);
    if (F.nev >= EV_MAX)
        return;
    r = &F.ev[F.nev++];
    memset(r, 0, sizeof(*r));
    r->type = ev->type;
    r->rc = ev->rc;
    r->time = ev->time;
    r->failures = ev->failures;
    if (ev->account) {
        r->has_account = 1;
        snprintf(r->account, sizeof(r->account), "%s", ev->account);
    }
    if (ev->factor_id) {
        r->has_factor = 1;
        snprintf(r->factor_id, sizeof(r->factor_id), "%s", ev->factor_id);
    }
    ck_assert_str_ne(mfa_event_name(ev->type), "unknown");
}

static mfa_rc
oob_sender(const char *account, const char *purpose, const char *code,
           void *arg)
{
    (void)arg;
    ck_assert_ptr_nonnull(account);
    snprintf(F.oob_code, sizeof(F.oob_code), "%s", code);
    snprintf(F.oob_purpose, sizeof(F.oob_purpose), "%s", purpose);
    F.oob_sent++;
    remember_secret(code);
    return F.oob_fail;
}

static void
open_store(int backend, mfa_store_t **out)
{
    if (backend == BK_MEMORY) {
        ck_assert_int_eq(mfa_store_memory_new(out), MFA_OK);
    } else {
        char spec[300];
        snprintf(spec, sizeof(spec), "sqlite:%s", F.path);
        /* opening never creates: the test creates its store */
        ck_assert_int_eq(mfa_store_sqlite_open(out, F.path), MFA_ERR_NO_STORE);
        ck_assert_int_eq(mfa_store_create(out, spec), MFA_OK);
    }
}

static void
setup(int backend)
{
    uint32_t id;

    memset(&F, 0, sizeof(F));
    F.now = T0;
    snprintf(F.path, sizeof(F.path), "/tmp/mfa-test-service-%ld.db",
             (long)getpid());
    unlink(F.path);
    open_store(backend, &F.store);
    ck_assert_int_eq(mfa_keyring_new(&F.kr), MFA_OK);
    ck_assert_int_eq(mfa_keyring_generate(F.kr, &id), MFA_OK);
    ck_assert_int_eq(mfa_ctx_new(&F.ctx, F.store, F.kr), MFA_OK);
    mfa_ctx_set_clock(F.ctx, fake_clock, NULL);
    mfa_ctx_set_event_cb(F.ctx, on_event, NULL);
    mfa_ctx_set_oob_sender(F.ctx, oob_sender, NULL);
}

/* No event carries any code, key or backup code a test used. */
static void
check_events_clean(void)
{
    for (size_t i = 0; i < F.nev; i++) {
        for (size_t j = 0; j < F.nsecrets; j++) {
            const char *s = F.secrets[j];
            ck_assert_msg(strstr(F.ev[i].account, s) == NULL,
                          "event %zu account holds a secret", i);
            ck_assert_msg(strstr(F.ev[i].factor_id, s) == NULL,
                          "event %zu factor id holds a secret", i);
            ck_assert_msg(memmem(&F.ev[i], sizeof(F.ev[i]), s, strlen(s)) ==
                              NULL,
                          "event %zu holds a secret", i);
        }
    }
}

static void
teardown(void)
{
    char p[300];

    check_events_clean();
    mfa_ctx_free(&F.ctx);
    ck_assert_ptr_null(F.ctx);
    mfa_store_free(&F.store);
    mfa_keyring_free(&F.kr);
    unlink(F.path);
    snprintf(p, sizeof(p), "%s-wal", F.path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", F.path);
    unlink(p);
}

static const rec_event *
last_event(void)
{
    ck_assert_uint_gt(F.nev, 0);
    return &F.ev[F.nev - 1];
}

/* ---- helpers ----------------------------------------------------------- */

typedef struct factor {
    char id[MFA_FACTOR_ID_LEN + 1];
    mfa_otp_t *otp;
} factor;

static void
factor_free(factor *f)
{
    mfa_otp_free(&f->otp);
}

/* The app's side: an otp from the enrollment's key URI. */
static void
app_of(const mfa_enrollment_t *e, factor *f)
{
    mfa_uri_t *u = NULL;

    ck_assert_int_eq(mfa_uri_parse(mfa_enrollment_uri(e), &u, NULL), MFA_OK);
    ck_assert_int_eq(mfa_uri_to_otp(u, &f->otp), MFA_OK);
    mfa_uri_free(&u);
    snprintf(f->id, sizeof(f->id), "%s", mfa_enrollment_factor_id(e));
    remember_secret(mfa_enrollment_secret(e));
    remember_secret(mfa_enrollment_manual_key(e));
}

/* The code the app shows `steps` periods from now. */
static const char *
code_at(const factor *f, int steps)
{
    static char buf[4][MFA_CODE_BUFSIZE];
    static int k;
    char *c = buf[k++ % 4];

    ck_assert_int_eq(
        mfa_otp_totp(f->otp, F.now + 30 * (int64_t)steps, c, MFA_CODE_BUFSIZE),
        MFA_OK);
    remember_secret(c);
    return c;
}

static const char *
hotp_at(const factor *f, uint64_t counter)
{
    static char buf[4][MFA_CODE_BUFSIZE];
    static int k;
    char *c = buf[k++ % 4];

    ck_assert_int_eq(mfa_otp_hotp(f->otp, counter, c, MFA_CODE_BUFSIZE),
                     MFA_OK);
    remember_secret(c);
    return c;
}

/* A code that no step near now gives (so it is surely wrong). */
static const char *
wrong_code(const factor *f)
{
    static char c[MFA_CODE_BUFSIZE];
    unsigned v = 0;

    for (;;) {
        int clash = 0;
        snprintf(c, sizeof(c), "%06u", v);
        for (int s = -12; s <= 12; s++)
            clash |= strcmp(code_at(f, s), c) == 0;
        if (!clash)
            return c;
        v += 111111;
    }
}

/* Enroll and confirm a TOTP factor; the clock then moves a step on so the
 * confirmation code is behind us. */
static void
enroll_active(const char *account, const char *label, factor *f)
{
    mfa_enrollment_t *e = NULL;
    mfa_result r;

    ck_assert_int_eq(mfa_enroll_begin(F.ctx, account, label, NULL, &e), MFA_OK);
    app_of(e, f);
    mfa_enrollment_free(&e);
    ck_assert_ptr_null(e);
    ck_assert_int_eq(
        mfa_enroll_confirm(F.ctx, account, f->id, code_at(f, 0), &r), MFA_OK);
    F.now += 30;
}

/* Rows read and written straight through the checked transactions of
 * lib/store/txn.h, to look behind the service's back. */
static mfa_throttle_rec
throttle_of(const char *account)
{
    mfa_throttle_rec st;
    mfa_int_txn x;
    mfa_rc rc;

    ck_assert_int_eq(mfa_int_txn_begin(F.store, account, MFA_TXN_READ, &x),
                     MFA_OK);
    rc = mfa_int_txn_throttle_get(&x, "", &st);
    ck_assert(rc == MFA_OK || rc == MFA_ERR_NOT_FOUND);
    ck_assert_int_eq(mfa_int_txn_commit(&x), MFA_OK);
    return st;
}

static uint32_t
failures_of(const char *account)
{
    return throttle_of(account).failures;
}

static void
rec_get(const char *account, const char *id, mfa_factor_rec *rec)
{
    mfa_int_txn x;

    ck_assert_int_eq(mfa_int_txn_begin(F.store, account, MFA_TXN_READ, &x),
                     MFA_OK);
    ck_assert_int_eq(mfa_int_txn_factor_get(&x, id, rec), MFA_OK);
    ck_assert_int_eq(mfa_int_txn_commit(&x), MFA_OK);
}

static void
rec_put(const mfa_factor_rec *rec)
{
    mfa_int_txn x;

    ck_assert_int_eq(
        mfa_int_txn_begin(F.store, rec->account, MFA_TXN_WRITE, &x), MFA_OK);
    ck_assert_int_eq(mfa_int_txn_factor_update(&x, rec), MFA_OK);
    ck_assert_int_eq(mfa_int_txn_commit(&x), MFA_OK);
}

static size_t
factor_count(const char *account)
{
    mfa_factor_info *list = NULL;
    size_t n = 99;
    ck_assert_int_eq(mfa_factors_list(F.ctx, account, &list, &n), MFA_OK);
    mfa_free(list);
    return n;
}

/* ---- tests ------------------------------------------------------------- */

START_TEST(ctx_settings)
{
    mfa_throttle_policy p = {1, 10, 5};
    mfa_ctx_t *c = NULL;

    setup(_i);
    ck_assert_int_eq(mfa_ctx_new(NULL, F.store, F.kr), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_ctx_new(&c, NULL, F.kr), MFA_ERR_INVALID);
    ck_assert_ptr_null(c);
    ck_assert_int_eq(mfa_ctx_new(&c, F.store, NULL), MFA_ERR_INVALID);
    mfa_ctx_free(NULL);
    mfa_ctx_free(&c);

    ck_assert_int_eq(mfa_ctx_set_window(F.ctx, 11, 1, 4), MFA_ERR_WINDOW);
    ck_assert_int_eq(mfa_ctx_set_window(F.ctx, 1, 11, 4), MFA_ERR_WINDOW);
    ck_assert_int_eq(mfa_ctx_set_window(F.ctx, 1, 1, 11), MFA_ERR_WINDOW);
    ck_assert_int_eq(mfa_ctx_set_window(F.ctx, 2, 0, 0), MFA_OK);
    ck_assert_int_eq(mfa_ctx_set_hotp_lookahead(F.ctx, 101), MFA_ERR_WINDOW);
    ck_assert_int_eq(mfa_ctx_set_hotp_lookahead(F.ctx, 20), MFA_OK);
    ck_assert_int_eq(mfa_ctx_set_throttle(F.ctx, NULL), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_ctx_set_throttle(F.ctx, &p), MFA_ERR_INVALID);
    p.max_delay = 10;
    ck_assert_int_eq(mfa_ctx_set_throttle(F.ctx, &p), MFA_OK);
    ck_assert_int_eq(mfa_ctx_set_pending_ttl(F.ctx, 0), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_ctx_set_pending_ttl(F.ctx, -5), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_ctx_set_pending_ttl(F.ctx, 60), MFA_OK);
    ck_assert_int_eq(mfa_ctx_set_oob(F.ctx, 5, 60, 3), MFA_ERR_DIGITS);
    ck_assert_int_eq(mfa_ctx_set_oob(F.ctx, 9, 60, 3), MFA_ERR_DIGITS);
    ck_assert_int_eq(mfa_ctx_set_oob(F.ctx, 6, 0, 3), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_ctx_set_oob(F.ctx, 6, 60, 0), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_ctx_set_oob(F.ctx, 8, 60, 3), MFA_OK);

    ck_assert_int_eq(mfa_ctx_set_issuer(F.ctx, NULL), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_ctx_set_issuer(F.ctx, ""), MFA_ERR_EMPTY);
    ck_assert_int_eq(mfa_ctx_set_issuer(F.ctx, "Ex:ample"), MFA_ERR_COLON);
    ck_assert_int_eq(mfa_ctx_set_issuer(F.ctx, "Ex\x01"), MFA_ERR_CONTROL_CHAR);
    ck_assert_int_eq(mfa_ctx_set_issuer(F.ctx, "Ex\xff"), MFA_ERR_UTF8);
    {
        char longer[MFA_ISSUER_MAX + 2];
        memset(longer, 'a', sizeof(longer) - 1);
        longer[sizeof(longer) - 1] = '\0';
        ck_assert_int_eq(mfa_ctx_set_issuer(F.ctx, longer), MFA_ERR_TOO_LONG);
    }
    ck_assert_int_eq(mfa_ctx_set_issuer(F.ctx, "Example Mail"), MFA_OK);

    for (int t = MFA_EV_ENROLL_BEGIN; t <= MFA_EV_STORE_ERROR; t++)
        ck_assert_str_ne(mfa_event_name((mfa_event_type)t), "unknown");
    ck_assert_str_eq(mfa_event_name(MFA_EV_VERIFY_OK), "verify_ok");
    ck_assert_str_eq(mfa_event_name(MFA_EV_REPLAY), "replay");
    ck_assert_str_eq(mfa_event_name((mfa_event_type)99), "unknown");
    teardown();
}
END_TEST

START_TEST(enroll_confirm_verify_replay)
{
    mfa_enrollment_t *e = NULL;
    mfa_factor_info *list = NULL;
    mfa_result r;
    factor f = {0};
    size_t n;
    int has = -1;
    char nospace[128];
    const char *uri, *c;

    setup(_i);
    ck_assert_int_eq(mfa_ctx_set_issuer(F.ctx, "Example Mail"), MFA_OK);
    ck_assert_int_eq(
        mfa_enroll_begin(F.ctx, "alice@example.com", "Pixel 8", NULL, &e),
        MFA_OK);
    uri = mfa_enrollment_uri(e);
    ck_assert_ptr_nonnull(uri);
    ck_assert_msg(
        strncmp(uri, "otpauth://totp/Example%20Mail:alice%40example.com?",
                49) == 0 ||
            strncmp(uri, "otpauth://totp/Example%20Mail:alice@example.com?",
                    47) == 0,
        "%s", uri);
    ck_assert_ptr_nonnull(strstr(uri, mfa_enrollment_secret(e)));
    ck_assert_str_eq(mfa_enrollment_issuer(e), "Example Mail");
    ck_assert_str_eq(mfa_enrollment_account(e), "alice@example.com");
    ck_assert_uint_eq(strlen(mfa_enrollment_secret(e)), 32);
    /* the grouped key is the key with a space every four characters */
    {
        const char *g = mfa_enrollment_manual_key(e);
        size_t k = 0;
        ck_assert_uint_eq(strlen(g), 39);
        for (size_t i = 0; g[i]; i++) {
            if ((i + 1) % 5 == 0)
                ck_assert_int_eq(g[i], ' ');
            else
                nospace[k++] = g[i];
        }
        nospace[k] = '\0';
        ck_assert_str_eq(nospace, mfa_enrollment_secret(e));
    }
    ck_assert_uint_eq(strlen(mfa_enrollment_factor_id(e)), MFA_FACTOR_ID_LEN);
    {
        mfa_qr_t *qr = NULL;
        mfa_rc rc = mfa_enrollment_qr(e, &qr);
        ck_assert(rc == MFA_OK || rc == MFA_ERR_UNSUPPORTED);
        if (rc == MFA_OK)
            ck_assert_int_gt(mfa_qr_size(qr), 20);
        mfa_qr_free(&qr);
    }
    app_of(e, &f);
    ck_assert_int_eq(last_event()->type, MFA_EV_ENROLL_BEGIN);
    ck_assert_int_eq(last_event()->rc, MFA_OK);
    ck_assert_str_eq(last_event()->factor_id, f.id);
    mfa_enrollment_free(&e);
    mfa_enrollment_free(&e);

    /* pending: listed, but not a second factor yet */
    ck_assert_int_eq(mfa_factors_list(F.ctx, "alice@example.com", &list, &n),
                     MFA_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(list[0].id, f.id);
    ck_assert_str_eq(list[0].label, "Pixel 8");
    ck_assert_int_eq(list[0].status, MFA_FACTOR_PENDING);
    ck_assert_int_eq(list[0].type, MFA_TOTP);
    ck_assert_int_eq(list[0].algorithm, MFA_SHA1);
    ck_assert_uint_eq(list[0].digits, 6);
    ck_assert_uint_eq(list[0].period, 30);
    ck_assert_int_eq(list[0].created, T0);
    ck_assert_int_eq(list[0].confirmed, 0);
    mfa_free(list);
    ck_assert_int_eq(mfa_account_has_mfa(F.ctx, "alice@example.com", &has),
                     MFA_OK);
    ck_assert_int_eq(has, 0);
    ck_assert_int_eq(mfa_verify(F.ctx, "alice@example.com", code_at(&f, 0), &r),
                     MFA_ERR_NO_FACTOR);
    ck_assert_int_eq(r.outcome, MFA_ERR_NO_FACTOR);

    /* a wrong first code leaves it pending; the right one activates it */
    ck_assert_int_eq(mfa_enroll_confirm(F.ctx, "alice@example.com", f.id,
                                        wrong_code(&f), &r),
                     MFA_ERR_CODE_WRONG);
    ck_assert_int_eq(r.outcome, MFA_ERR_CODE_WRONG);
    ck_assert_str_eq(r.factor_id, "");
    /* the verify above had no active factor to check: it left no row */
    ck_assert_uint_eq(r.failures, 1);
    c = code_at(&f, 0);
    ck_assert_int_eq(
        mfa_enroll_confirm(F.ctx, "alice@example.com", f.id, c, &r), MFA_OK);
    ck_assert_int_eq(r.outcome, MFA_OK);
    ck_assert_str_eq(r.factor_id, f.id);
    ck_assert_uint_eq(r.failures, 0);
    ck_assert_int_eq(last_event()->type, MFA_EV_ENROLL_CONFIRM);
    ck_assert_uint_eq(failures_of("alice@example.com"), 0);
    ck_assert_int_eq(mfa_account_has_mfa(F.ctx, "alice@example.com", &has),
                     MFA_OK);
    ck_assert_int_eq(has, 1);
    ck_assert_int_eq(mfa_factors_list(F.ctx, "alice@example.com", &list, &n),
                     MFA_OK);
    ck_assert_int_eq(list[0].status, MFA_FACTOR_ACTIVE);
    ck_assert_int_eq(list[0].confirmed, T0);
    mfa_free(list);
    /* confirming again: already active */
    ck_assert_int_eq(mfa_enroll_confirm(F.ctx, "alice@example.com", f.id,
                                        code_at(&f, 1), &r),
                     MFA_ERR_STATE);

    /* the confirmation code was spent */
    ck_assert_int_eq(mfa_verify(F.ctx, "alice@example.com", c, &r),
                     MFA_ERR_REPLAYED);
    ck_assert_int_eq(r.outcome, MFA_ERR_REPLAYED);
    ck_assert_int_eq(last_event()->type, MFA_EV_REPLAY);
    ck_assert_int_eq(last_event()->has_factor, 0);

    F.now += 30;
    c = code_at(&f, 0);
    ck_assert_int_eq(mfa_verify(F.ctx, "alice@example.com", c, &r), MFA_OK);
    ck_assert_int_eq(r.outcome, MFA_OK);
    ck_assert_str_eq(r.factor_id, f.id);
    ck_assert_int_eq(r.offset, 0);
    ck_assert_uint_eq(r.retry_after, 0);
    ck_assert_int_eq(last_event()->type, MFA_EV_VERIFY_OK);
    ck_assert_str_eq(last_event()->account, "alice@example.com");
    ck_assert_str_eq(last_event()->factor_id, f.id);
    ck_assert_int_eq(last_event()->time, F.now);
    ck_assert_int_eq(mfa_verify(F.ctx, "alice@example.com", c, &r),
                     MFA_ERR_REPLAYED);
    /* typed with spaces, the same code is the same code */
    {
        char spaced[16];
        snprintf(spaced, sizeof(spaced), "%.3s %s", c, c + 3);
        ck_assert_int_eq(mfa_verify(F.ctx, "alice@example.com", spaced, &r),
                         MFA_ERR_REPLAYED);
    }
    /* the previous step is behind the last accepted one: replay too */
    ck_assert_int_eq(
        mfa_verify(F.ctx, "alice@example.com", code_at(&f, -1), &r),
        MFA_ERR_REPLAYED);
    ck_assert_int_eq(mfa_verify(F.ctx, "alice@example.com", wrong_code(&f), &r),
                     MFA_ERR_CODE_WRONG);
    ck_assert_int_eq(last_event()->type, MFA_EV_VERIFY_FAIL);
    ck_assert_int_eq(last_event()->rc, MFA_ERR_CODE_WRONG);
    /* the next step is fine (one step ahead is in the window) */
    ck_assert_int_eq(mfa_verify(F.ctx, "alice@example.com", code_at(&f, 1), &r),
                     MFA_OK);
    ck_assert_int_eq(r.offset, 1);
    ck_assert_int_eq(mfa_factors_list(F.ctx, "alice@example.com", &list, &n),
                     MFA_OK);
    ck_assert_int_eq(list[0].last_used, F.now);
    mfa_free(list);
    /* another account is unaffected */
    ck_assert_int_eq(mfa_verify(F.ctx, "bob@example.com", code_at(&f, 0), &r),
                     MFA_ERR_NO_FACTOR);
    factor_free(&f);
    teardown();
}
END_TEST

START_TEST(pending_expiry)
{
    mfa_enrollment_t *e = NULL;
    mfa_result r;
    factor f = {0}, g = {0};
    size_t n = 99;

    setup(_i);
    ck_assert_int_eq(mfa_ctx_set_pending_ttl(F.ctx, 600), MFA_OK);
    ck_assert_int_eq(mfa_enroll_begin(F.ctx, "carol", NULL, NULL, &e), MFA_OK);
    app_of(e, &f);
    mfa_enrollment_free(&e);
    F.now += 601;
    ck_assert_int_eq(
        mfa_enroll_confirm(F.ctx, "carol", f.id, code_at(&f, 0), &r),
        MFA_ERR_EXPIRED);
    ck_assert_int_eq(r.outcome, MFA_ERR_EXPIRED);
    ck_assert_uint_eq(factor_count("carol"), 0);
    ck_assert_int_eq(
        mfa_enroll_confirm(F.ctx, "carol", f.id, code_at(&f, 0), &r),
        MFA_ERR_NOT_FOUND);

    /* at exactly the lifetime it still confirms */
    ck_assert_int_eq(mfa_enroll_begin(F.ctx, "carol", NULL, NULL, &e), MFA_OK);
    app_of(e, &g);
    mfa_enrollment_free(&e);
    F.now += 600;
    ck_assert_int_eq(
        mfa_enroll_confirm(F.ctx, "carol", g.id, code_at(&g, 0), &r), MFA_OK);

    /* the sweeper removes old pending factors only */
    factor_free(&f);
    ck_assert_int_eq(mfa_enroll_begin(F.ctx, "carol", NULL, NULL, &e), MFA_OK);
    mfa_enrollment_free(&e);
    ck_assert_int_eq(mfa_enroll_begin(F.ctx, "dave", NULL, NULL, &e), MFA_OK);
    mfa_enrollment_free(&e);
    ck_assert_int_eq(mfa_expire_pending(F.ctx, &n), MFA_OK);
    ck_assert_uint_eq(n, 0);
    F.now += 601;
    /* a new enrollment removes the account's own expired ones on the way:
     * dave's old one goes now, carol's waits for the sweeper */
    ck_assert_int_eq(mfa_enroll_begin(F.ctx, "dave", NULL, NULL, &e), MFA_OK);
    mfa_enrollment_free(&e);
    ck_assert_uint_eq(factor_count("dave"), 1);
    ck_assert_uint_eq(factor_count("carol"), 2);
    ck_assert_int_eq(mfa_expire_pending(F.ctx, &n), MFA_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(factor_count("carol"), 1); /* the active one */
    ck_assert_uint_eq(factor_count("dave"), 1);  /* the fresh one */
    factor_free(&g);
    teardown();
}
END_TEST

START_TEST(two_factors)
{
    mfa_result r;
    factor a = {0}, b = {0};
    mfa_factor_info *list = NULL;
    size_t n;
    int has;

    setup(_i);
    enroll_active("erin", "phone", &a);
    enroll_active("erin", "tablet", &b);
    ck_assert_str_ne(a.id, b.id);
    ck_assert_int_eq(mfa_factors_list(F.ctx, "erin", &list, &n), MFA_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(list[0].id, a.id); /* oldest first */
    ck_assert_str_eq(list[1].id, b.id);
    mfa_free(list);

    ck_assert_int_eq(mfa_verify(F.ctx, "erin", code_at(&a, 0), &r), MFA_OK);
    ck_assert_str_eq(r.factor_id, a.id);
    ck_assert_int_eq(mfa_verify(F.ctx, "erin", code_at(&b, 0), &r), MFA_OK);
    ck_assert_str_eq(r.factor_id, b.id);
    /* each factor has its own replay state */
    ck_assert_int_eq(mfa_verify(F.ctx, "erin", code_at(&a, 0), &r),
                     MFA_ERR_REPLAYED);
    F.now += 30;
    ck_assert_int_eq(mfa_factor_remove(F.ctx, "erin", a.id), MFA_OK);
    ck_assert_int_eq(last_event()->type, MFA_EV_FACTOR_REMOVE);
    ck_assert_str_eq(last_event()->factor_id, a.id);
    ck_assert_int_eq(mfa_factor_remove(F.ctx, "erin", a.id), MFA_ERR_NOT_FOUND);
    ck_assert_int_eq(mfa_verify(F.ctx, "erin", code_at(&a, 0), &r),
                     MFA_ERR_CODE_WRONG);
    ck_assert_int_eq(mfa_verify(F.ctx, "erin", code_at(&b, 0), &r), MFA_OK);
    ck_assert_str_eq(r.factor_id, b.id);
    /* a factor of another account cannot be removed through this one */
    ck_assert_int_eq(mfa_factor_remove(F.ctx, "frank", b.id),
                     MFA_ERR_NOT_FOUND);
    ck_assert_int_eq(mfa_factor_remove(F.ctx, "erin", b.id), MFA_OK);
    ck_assert_int_eq(mfa_account_has_mfa(F.ctx, "erin", &has), MFA_OK);
    ck_assert_int_eq(has, 0);
    /* no factor: refused, and not counted: nothing could be guessed, and a
     * row per name would let anyone grow the store */
    ck_assert_uint_eq(failures_of("erin"), 0);
    ck_assert_int_eq(mfa_verify(F.ctx, "erin", code_at(&b, 1), &r),
                     MFA_ERR_NO_FACTOR);
    ck_assert_uint_eq(r.failures, 0);
    ck_assert_uint_eq(failures_of("erin"), 0);
    factor_free(&a);
    factor_free(&b);
    teardown();
}
END_TEST

START_TEST(factor_limit_and_rename)
{
    mfa_enrollment_t *e = NULL;
    mfa_factor_info *list = NULL;
    size_t n;
    char label[MFA_LABEL_MAX + 2];

    setup(_i);
    for (int i = 0; i < MFA_FACTORS_MAX; i++) {
        ck_assert_int_eq(mfa_enroll_begin(F.ctx, "gina", "d", NULL, &e),
                         MFA_OK);
        mfa_enrollment_free(&e);
    }
    ck_assert_int_eq(mfa_enroll_begin(F.ctx, "gina", "d", NULL, &e),
                     MFA_ERR_EXISTS);
    ck_assert_ptr_null(e);
    ck_assert_uint_eq(factor_count("gina"), MFA_FACTORS_MAX);
    /* expired pending ones no longer count */
    F.now += MFA_PENDING_TTL_DEFAULT + 1;
    ck_assert_int_eq(mfa_enroll_begin(F.ctx, "gina", "d", NULL, &e), MFA_OK);
    mfa_enrollment_free(&e);

    ck_assert_int_eq(mfa_factors_list(F.ctx, "gina", &list, &n), MFA_OK);
    ck_assert_int_eq(mfa_factor_rename(F.ctx, "gina", list[0].id, "Work phone"),
                     MFA_OK);
    ck_assert_int_eq(last_event()->type, MFA_EV_FACTOR_RENAME);
    memset(label, 'x', sizeof(label) - 1);
    label[sizeof(label) - 1] = '\0';
    ck_assert_int_eq(mfa_factor_rename(F.ctx, "gina", list[0].id, label),
                     MFA_ERR_TOO_LONG);
    ck_assert_int_eq(mfa_factor_rename(F.ctx, "gina", list[0].id, "a\nb"),
                     MFA_ERR_CONTROL_CHAR);
    ck_assert_int_eq(mfa_factor_rename(F.ctx, "gina", list[0].id, "\xc0\xaf"),
                     MFA_ERR_UTF8);
    ck_assert_int_eq(mfa_factor_rename(F.ctx, "gina", "0123456789abcdef", "x"),
                     MFA_ERR_NOT_FOUND);
    ck_assert_int_eq(mfa_factor_rename(F.ctx, "gina", "0123456789ABCDEF", "x"),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_factor_rename(F.ctx, "gina", list[0].id, "Téléphone"),
                     MFA_OK);
    mfa_free(list);
    ck_assert_int_eq(mfa_factors_list(F.ctx, "gina", &list, &n), MFA_OK);
    ck_assert_str_eq(list[0].label, "Téléphone");
    mfa_free(list);
    /* an empty account list */
    ck_assert_int_eq(mfa_factors_list(F.ctx, "nobody", &list, &n), MFA_OK);
    ck_assert_uint_eq(n, 0);
    mfa_free(list);
    teardown();
}
END_TEST

START_TEST(drift_tracking)
{
    mfa_enrollment_t *e = NULL;
    mfa_result r;
    factor f = {0};

    setup(_i);
    ck_assert_int_eq(mfa_enroll_begin(F.ctx, "hank", NULL, NULL, &e), MFA_OK);
    app_of(e, &f);
    mfa_enrollment_free(&e);
    /* the phone runs two steps fast: outside the window at confirmation */
    ck_assert_int_eq(
        mfa_enroll_confirm(F.ctx, "hank", f.id, code_at(&f, 2), &r),
        MFA_ERR_CODE_WRONG);
    ck_assert_int_eq(
        mfa_enroll_confirm(F.ctx, "hank", f.id, code_at(&f, 1), &r), MFA_OK);
    ck_assert_int_eq(r.offset, 1);
    /* the window follows the phone one step at a time, up to drift_max */
    for (int k = 2; k <= 5; k++) {
        F.now += 30;
        ck_assert_int_eq(mfa_verify(F.ctx, "hank", code_at(&f, k), &r), MFA_OK);
        ck_assert_int_eq(r.offset, k);
    }
    /* remembered drift is capped at 4: the window is now 3..5 (three steps
     * on, so that those steps are past the last accepted one) */
    F.now += 90;
    ck_assert_int_eq(mfa_verify(F.ctx, "hank", code_at(&f, 6), &r),
                     MFA_ERR_CODE_WRONG);
    ck_assert_int_eq(mfa_verify(F.ctx, "hank", code_at(&f, 0), &r),
                     MFA_ERR_CODE_WRONG);
    ck_assert_int_eq(mfa_verify(F.ctx, "hank", code_at(&f, 3), &r), MFA_OK);
    ck_assert_int_eq(r.offset, 3);
    /* and it comes back as the phone is corrected */
    for (int k = 2; k >= 0; k--) {
        F.now += 90;
        ck_assert_int_eq(mfa_verify(F.ctx, "hank", code_at(&f, k), &r), MFA_OK);
        ck_assert_int_eq(r.offset, k);
    }
    F.now += 60;
    ck_assert_int_eq(mfa_verify(F.ctx, "hank", code_at(&f, -1), &r), MFA_OK);
    ck_assert_int_eq(r.offset, -1);
    /* without drift memory the window stays at 0 */
    ck_assert_int_eq(mfa_ctx_set_window(F.ctx, 1, 1, 0), MFA_OK);
    F.now += 30;
    ck_assert_int_eq(mfa_verify(F.ctx, "hank", code_at(&f, -2), &r),
                     MFA_ERR_CODE_WRONG);
    ck_assert_int_eq(mfa_verify(F.ctx, "hank", code_at(&f, 1), &r), MFA_OK);
    factor_free(&f);
    teardown();
}
END_TEST

START_TEST(hotp_factor)
{
    mfa_profile_t *p = NULL;
    mfa_enrollment_t *e = NULL;
    mfa_result r;
    factor f = {0};
    mfa_factor_info *list = NULL;
    size_t n;

    setup(_i);
    ck_assert_int_eq(mfa_profile_custom_new(&p, MFA_HOTP, MFA_SHA1, 6, 30, 20),
                     MFA_OK);
    ck_assert_int_eq(mfa_enroll_begin(F.ctx, "ivan", "token", p, &e), MFA_OK);
    ck_assert_ptr_nonnull(strstr(mfa_enrollment_uri(e), "otpauth://hotp/"));
    ck_assert_ptr_nonnull(strstr(mfa_enrollment_uri(e), "counter=0"));
    app_of(e, &f);
    mfa_enrollment_free(&e);
    mfa_profile_free(&p);
    ck_assert_int_eq(mfa_factors_list(F.ctx, "ivan", &list, &n), MFA_OK);
    ck_assert_int_eq(list[0].type, MFA_HOTP);
    mfa_free(list);

    ck_assert_int_eq(
        mfa_enroll_confirm(F.ctx, "ivan", f.id, hotp_at(&f, 0), &r), MFA_OK);
    ck_assert_int_eq(mfa_verify(F.ctx, "ivan", hotp_at(&f, 0), &r),
                     MFA_ERR_REPLAYED);
    ck_assert_int_eq(mfa_verify(F.ctx, "ivan", hotp_at(&f, 1), &r), MFA_OK);
    ck_assert_int_eq(r.offset, 0);
    ck_assert_int_eq(mfa_verify(F.ctx, "ivan", hotp_at(&f, 1), &r),
                     MFA_ERR_REPLAYED);
    /* the button pressed three times without logging in */
    ck_assert_int_eq(mfa_verify(F.ctx, "ivan", hotp_at(&f, 5), &r), MFA_OK);
    ck_assert_int_eq(r.offset, 3);
    ck_assert_int_eq(mfa_verify(F.ctx, "ivan", hotp_at(&f, 3), &r),
                     MFA_ERR_REPLAYED);
    /* beyond the look-ahead (10 after counter 6) */
    ck_assert_int_eq(mfa_verify(F.ctx, "ivan", hotp_at(&f, 17), &r),
                     MFA_ERR_CODE_WRONG);
    ck_assert_int_eq(mfa_verify(F.ctx, "ivan", hotp_at(&f, 16), &r), MFA_OK);
    ck_assert_int_eq(r.offset, 10);
    /* time does not matter to a counter */
    F.now += 86400;
    ck_assert_int_eq(mfa_verify(F.ctx, "ivan", hotp_at(&f, 17), &r), MFA_OK);
    factor_free(&f);
    teardown();
}
END_TEST

START_TEST(throttle_escalation)
{
    mfa_throttle_policy p = {2, 10, 40};
    mfa_result r;
    factor f = {0};
    const char *bad;

    setup(_i);
    ck_assert_int_eq(mfa_ctx_set_throttle(F.ctx, &p), MFA_OK);
    enroll_active("judy", NULL, &f);
    bad = wrong_code(&f);
    /* two free failures */
    for (uint32_t k = 1; k <= 2; k++) {
        ck_assert_int_eq(mfa_verify(F.ctx, "judy", bad, &r),
                         MFA_ERR_CODE_WRONG);
        ck_assert_uint_eq(r.failures, k);
        ck_assert_uint_eq(r.retry_after, 0);
    }
    /* the third is checked, and then costs 10 s */
    ck_assert_int_eq(mfa_verify(F.ctx, "judy", bad, &r), MFA_ERR_CODE_WRONG);
    ck_assert_uint_eq(r.failures, 3);
    ck_assert_uint_eq(r.retry_after, 10);
    ck_assert_uint_eq(last_event()->failures, 3);
    /* during the delay even the right code is refused, and counted */
    F.now += 4;
    ck_assert_int_eq(mfa_verify(F.ctx, "judy", code_at(&f, 0), &r),
                     MFA_ERR_THROTTLED);
    ck_assert_int_eq(r.outcome, MFA_ERR_THROTTLED);
    ck_assert_uint_eq(r.retry_after, 6);
    ck_assert_uint_eq(r.failures, 4);
    ck_assert_int_eq(last_event()->type, MFA_EV_THROTTLED);
    /* the same throttle guards confirmation, backup and out-of-band codes */
    ck_assert_int_eq(mfa_recover(F.ctx, "judy", "0000-0000-0000", &r),
                     MFA_ERR_THROTTLED);
    ck_assert_int_eq(mfa_oob_verify(F.ctx, "judy", "sms", "123456", &r),
                     MFA_ERR_THROTTLED);
    ck_assert_uint_eq(r.failures, 6);
    F.now += 6;
    /* failure 7: delay 10 * 2^(7-2-1) = 160, capped at 40 */
    ck_assert_int_eq(mfa_verify(F.ctx, "judy", bad, &r), MFA_ERR_CODE_WRONG);
    ck_assert_uint_eq(r.failures, 7);
    ck_assert_uint_eq(r.retry_after, 40);
    ck_assert_uint_eq(mfa_throttle_delay(&p, 7), 40);
    ck_assert_uint_eq(mfa_throttle_delay(&p, 3), 10);
    ck_assert_uint_eq(mfa_throttle_delay(&p, 4), 20);
    F.now += 39;
    ck_assert_int_eq(mfa_verify(F.ctx, "judy", code_at(&f, 0), &r),
                     MFA_ERR_THROTTLED);
    ck_assert_uint_eq(r.retry_after, 1);
    F.now += 1;
    ck_assert_int_eq(mfa_verify(F.ctx, "judy", code_at(&f, 0), &r), MFA_OK);
    ck_assert_uint_eq(r.failures, 0);
    ck_assert_uint_eq(failures_of("judy"), 0);
    /* a success resets the count: free attempts again */
    ck_assert_int_eq(mfa_verify(F.ctx, "judy", bad, &r), MFA_ERR_CODE_WRONG);
    ck_assert_uint_eq(r.failures, 1);
    ck_assert_uint_eq(r.retry_after, 0);
    /* another account has its own count */
    ck_assert_uint_eq(failures_of("kim"), 0);
    factor_free(&f);
    teardown();
}
END_TEST

START_TEST(throttle_default_policy)
{
    mfa_throttle_policy p = {MFA_THROTTLE_FREE_DEFAULT,
                             MFA_THROTTLE_BASE_DEFAULT,
                             MFA_THROTTLE_MAX_DEFAULT};
    mfa_result r;
    factor f = {0};
    const char *bad;
    int64_t start, year = 365 * 86400;
    unsigned checked = 0;

    /* An attacker who tries as soon as allowed, for a year, gets fewer than
     * 333 checked attempts (about 139, docs/throttling.md): at 3 codes in 10^6
     * per attempt that keeps the chance under 1 in 1000.  Simulated through the
     * real flow, one attempt per allowed time. */
    setup(_i);
    enroll_active("lee", NULL, &f);
    start = F.now;
    while (F.now < start + year) {
        mfa_rc rc;

        bad = wrong_code(&f); /* wrong at this time */
        rc = mfa_verify(F.ctx, "lee", bad, &r);
        if (rc == MFA_ERR_CODE_WRONG)
            checked++;
        else
            ck_assert_int_eq(rc, MFA_ERR_THROTTLED);
        F.now += r.retry_after > 0 ? r.retry_after : 1;
    }
    ck_assert_uint_lt(checked, 333);
    /* room for a second authenticator: 6 codes in 10^6 per attempt */
    ck_assert_uint_lt(checked, 167);
    ck_assert_uint_gt(checked, 100);
    ck_assert_double_lt(checked * 3e-6, 1e-3);
    ck_assert_uint_eq(mfa_throttle_delay(&p, MFA_THROTTLE_FREE_DEFAULT), 0);
    factor_free(&f);
    teardown();
}
END_TEST

START_TEST(backup_codes)
{
    char **codes = NULL, **again = NULL;
    mfa_result r;
    size_t left = 99;
    char typed[32];

    setup(_i);
    ck_assert_int_eq(mfa_backup_codes_left(F.ctx, "mia", &left), MFA_OK);
    ck_assert_uint_eq(left, 0);
    ck_assert_int_eq(mfa_recover(F.ctx, "mia", "ABCD-EFGH-JKMN", &r),
                     MFA_ERR_NO_CODES);
    ck_assert_int_eq(mfa_backup_codes_new(F.ctx, "mia", 33, &codes),
                     MFA_ERR_INVALID);
    ck_assert_ptr_null(codes);
    ck_assert_int_eq(mfa_backup_codes_new(F.ctx, "mia", 5, &codes), MFA_OK);
    ck_assert_int_eq(last_event()->type, MFA_EV_BACKUP_CODES_NEW);
    for (int i = 0; i < 5; i++) {
        ck_assert_uint_eq(strlen(codes[i]), MFA_BACKUP_DISPLAY);
        remember_secret(codes[i]);
    }
    ck_assert_int_eq(mfa_backup_codes_left(F.ctx, "mia", &left), MFA_OK);
    ck_assert_uint_eq(left, 5);

    ck_assert_int_eq(mfa_recover(F.ctx, "mia", codes[0], &r), MFA_OK);
    ck_assert_int_eq(r.outcome, MFA_OK);
    ck_assert_uint_eq(r.backup_codes_left, 4);
    ck_assert_int_eq(last_event()->type, MFA_EV_RECOVER_OK);
    /* spent: once only */
    ck_assert_int_eq(mfa_recover(F.ctx, "mia", codes[0], &r),
                     MFA_ERR_CODE_WRONG);
    ck_assert_uint_eq(r.backup_codes_left, 4);
    ck_assert_int_eq(last_event()->type, MFA_EV_RECOVER_FAIL);
    /* typed loosely: lowercase, no hyphens, spaces */
    for (size_t i = 0, k = 0; codes[1][i]; i++)
        if (codes[1][i] != '-') {
            typed[k++] = (char)(codes[1][i] >= 'A' && codes[1][i] <= 'Z'
                                    ? codes[1][i] + 32
                                    : codes[1][i]);
            typed[k] = '\0';
        }
    remember_secret(typed);
    ck_assert_int_eq(mfa_recover(F.ctx, "mia", typed, &r), MFA_OK);
    ck_assert_uint_eq(r.backup_codes_left, 3);
    /* another account's codes are not this one's */
    ck_assert_int_eq(mfa_recover(F.ctx, "ned", codes[2], &r), MFA_ERR_NO_CODES);
    /* malformed: refused before it counts */
    {
        uint32_t before = failures_of("mia");
        ck_assert_int_eq(mfa_recover(F.ctx, "mia", "ABCD-EFGH", &r),
                         MFA_ERR_BACKUP_FORMAT);
        ck_assert_int_eq(mfa_recover(F.ctx, "mia", NULL, &r),
                         MFA_ERR_BACKUP_FORMAT);
        ck_assert_int_eq(r.outcome, MFA_ERR_BACKUP_FORMAT);
        ck_assert_uint_eq(failures_of("mia"), before);
    }
    /* a new set replaces the old */
    ck_assert_int_eq(mfa_backup_codes_new(F.ctx, "mia", 0, &again), MFA_OK);
    for (int i = 0; i < MFA_BACKUP_COUNT_DEFAULT; i++)
        remember_secret(again[i]);
    ck_assert_int_eq(mfa_backup_codes_left(F.ctx, "mia", &left), MFA_OK);
    ck_assert_uint_eq(left, MFA_BACKUP_COUNT_DEFAULT);
    ck_assert_int_eq(mfa_recover(F.ctx, "mia", codes[2], &r),
                     MFA_ERR_CODE_WRONG);
    ck_assert_int_eq(mfa_recover(F.ctx, "mia", again[9], &r), MFA_OK);
    ck_assert_uint_eq(r.backup_codes_left, 9);
    mfa_backup_codes_free(&codes, 5);
    mfa_backup_codes_free(&again, MFA_BACKUP_COUNT_DEFAULT);
    ck_assert_ptr_null(codes);
    teardown();
}
END_TEST

START_TEST(oob_codes)
{
    mfa_throttle_policy lenient = {100, 1, 1};
    mfa_result r;
    char code[MFA_CODE_BUFSIZE], bad[MFA_CODE_BUFSIZE];

    setup(_i);
    ck_assert_int_eq(mfa_ctx_set_throttle(F.ctx, &lenient), MFA_OK);
    mfa_ctx_set_oob_sender(F.ctx, NULL, NULL);
    ck_assert_int_eq(mfa_oob_begin(F.ctx, "olga", "sms"), MFA_ERR_INVALID);
    mfa_ctx_set_oob_sender(F.ctx, oob_sender, NULL);
    ck_assert_int_eq(mfa_oob_begin(F.ctx, "olga", ""), MFA_ERR_EMPTY);
    ck_assert_int_eq(mfa_oob_begin(F.ctx, "olga", "s m s"), MFA_ERR_INVALID);
    ck_assert_int_eq(F.oob_sent, 0);
    ck_assert_int_eq(mfa_oob_verify(F.ctx, "olga", "sms", "123456", &r),
                     MFA_ERR_NOT_FOUND);

    ck_assert_int_eq(mfa_oob_begin(F.ctx, "olga", "sms"), MFA_OK);
    ck_assert_int_eq(F.oob_sent, 1);
    ck_assert_str_eq(F.oob_purpose, "sms");
    ck_assert_uint_eq(strlen(F.oob_code), 6);
    ck_assert_int_eq(last_event()->type, MFA_EV_OOB_BEGIN);
    strcpy(code, F.oob_code);
    snprintf(bad, sizeof(bad), "%06d", (atoi(code) + 1) % 1000000);
    ck_assert_int_eq(mfa_oob_verify(F.ctx, "olga", "sms", bad, &r),
                     MFA_ERR_CODE_WRONG);
    ck_assert_int_eq(last_event()->type, MFA_EV_OOB_FAIL);
    /* bound to its purpose */
    ck_assert_int_eq(mfa_oob_verify(F.ctx, "olga", "email", code, &r),
                     MFA_ERR_NOT_FOUND);
    ck_assert_int_eq(mfa_oob_verify(F.ctx, "olga", "sms", "12a456", &r),
                     MFA_ERR_CODE_FORMAT);
    ck_assert_int_eq(mfa_oob_verify(F.ctx, "olga", "sms", code, &r), MFA_OK);
    ck_assert_int_eq(r.outcome, MFA_OK);
    ck_assert_int_eq(last_event()->type, MFA_EV_OOB_OK);
    ck_assert_uint_eq(failures_of("olga"), 0);
    /* spent once */
    ck_assert_int_eq(mfa_oob_verify(F.ctx, "olga", "sms", code, &r),
                     MFA_ERR_NOT_FOUND);

    /* expiry */
    ck_assert_int_eq(mfa_ctx_set_oob(F.ctx, 8, 300, 2), MFA_OK);
    ck_assert_int_eq(mfa_oob_begin(F.ctx, "olga", "email"), MFA_OK);
    ck_assert_uint_eq(strlen(F.oob_code), 8);
    strcpy(code, F.oob_code);
    F.now += 300;
    ck_assert_int_eq(mfa_oob_verify(F.ctx, "olga", "email", code, &r),
                     MFA_ERR_EXPIRED);
    /* attempts: two, then even the right code is refused */
    ck_assert_int_eq(mfa_oob_begin(F.ctx, "olga", "email"), MFA_OK);
    strcpy(code, F.oob_code);
    snprintf(bad, sizeof(bad), "%08d", (atoi(code) + 1) % 100000000);
    ck_assert_int_eq(mfa_oob_verify(F.ctx, "olga", "email", bad, &r),
                     MFA_ERR_CODE_WRONG);
    ck_assert_int_eq(mfa_oob_verify(F.ctx, "olga", "email", bad, &r),
                     MFA_ERR_CODE_WRONG);
    ck_assert_int_eq(mfa_oob_verify(F.ctx, "olga", "email", code, &r),
                     MFA_ERR_ATTEMPTS);
    /* a new challenge replaces the old one */
    ck_assert_int_eq(mfa_oob_begin(F.ctx, "olga", "email"), MFA_OK);
    ck_assert_int_eq(mfa_oob_verify(F.ctx, "olga", "email", code, &r),
                     MFA_ERR_CODE_WRONG);
    strcpy(code, F.oob_code);
    ck_assert_int_eq(mfa_oob_verify(F.ctx, "olga", "email", code, &r), MFA_OK);

    /* a sender that fails: its error, and no code is left valid */
    F.oob_fail = MFA_ERR_IO;
    ck_assert_int_eq(mfa_oob_begin(F.ctx, "olga", "sms"), MFA_ERR_IO);
    ck_assert_int_eq(last_event()->rc, MFA_ERR_IO);
    strcpy(code, F.oob_code);
    ck_assert_int_eq(mfa_oob_verify(F.ctx, "olga", "sms", code, &r),
                     MFA_ERR_NOT_FOUND);
    teardown();
}
END_TEST

START_TEST(admin_reset)
{
    char **codes = NULL;
    mfa_result r;
    factor f = {0}, g = {0};
    size_t left;
    int has;

    setup(_i);
    enroll_active("pat", NULL, &f);
    enroll_active("quinn", NULL, &g);
    ck_assert_int_eq(mfa_backup_codes_new(F.ctx, "pat", 3, &codes), MFA_OK);
    for (int i = 0; i < 3; i++)
        remember_secret(codes[i]);
    ck_assert_int_eq(mfa_oob_begin(F.ctx, "pat", "sms"), MFA_OK);
    ck_assert_int_eq(mfa_verify(F.ctx, "pat", wrong_code(&f), &r),
                     MFA_ERR_CODE_WRONG);
    ck_assert_uint_eq(failures_of("pat"), 1);

    ck_assert_int_eq(mfa_reset(F.ctx, "pat"), MFA_OK);
    ck_assert_int_eq(last_event()->type, MFA_EV_RESET);
    ck_assert_str_eq(last_event()->account, "pat");
    ck_assert_uint_eq(factor_count("pat"), 0);
    ck_assert_int_eq(mfa_account_has_mfa(F.ctx, "pat", &has), MFA_OK);
    ck_assert_int_eq(has, 0);
    ck_assert_int_eq(mfa_backup_codes_left(F.ctx, "pat", &left), MFA_OK);
    ck_assert_uint_eq(left, 0);
    ck_assert_uint_eq(failures_of("pat"), 0);
    ck_assert_int_eq(mfa_oob_verify(F.ctx, "pat", "sms", F.oob_code, &r),
                     MFA_ERR_NOT_FOUND);
    ck_assert_int_eq(mfa_verify(F.ctx, "pat", code_at(&f, 0), &r),
                     MFA_ERR_NO_FACTOR);
    /* another account is untouched */
    ck_assert_int_eq(mfa_verify(F.ctx, "quinn", code_at(&g, 0), &r), MFA_OK);
    /* resetting an unknown account is fine */
    ck_assert_int_eq(mfa_reset(F.ctx, "nobody"), MFA_OK);
    mfa_backup_codes_free(&codes, 3);
    factor_free(&f);
    factor_free(&g);
    teardown();
}
END_TEST

static uint32_t
stored_key_id(const char *account, const char *id)
{
    mfa_factor_rec rec;
    uint32_t kid = 0;

    rec_get(account, id, &rec);
    ck_assert_int_eq(mfa_sealed_key_id(rec.sealed, rec.sealed_len, &kid),
                     MFA_OK);
    return kid;
}

START_TEST(key_rotation)
{
    char **codes = NULL;
    mfa_enrollment_t *e = NULL;
    mfa_result r;
    factor a = {0}, b = {0}, p = {0};
    size_t resealed = 99, skipped = 99;
    uint32_t k1, k2, k3;

    setup(_i);
    k1 = mfa_keyring_current(F.kr);
    enroll_active("rita", NULL, &a);
    enroll_active("sam", NULL, &b);
    ck_assert_int_eq(mfa_enroll_begin(F.ctx, "sam", NULL, NULL, &e), MFA_OK);
    app_of(e, &p); /* a pending one is resealed too */
    mfa_enrollment_free(&e);
    ck_assert_int_eq(mfa_backup_codes_new(F.ctx, "rita", 2, &codes), MFA_OK);
    remember_secret(codes[0]);
    remember_secret(codes[1]);
    ck_assert_uint_eq(stored_key_id("rita", a.id), k1);

    /* nothing to do while the ring has one key */
    ck_assert_int_eq(mfa_keyring_rotate(F.ctx, &resealed, &skipped), MFA_OK);
    ck_assert_uint_eq(resealed, 0);
    ck_assert_uint_eq(skipped, 3);

    ck_assert_int_eq(mfa_keyring_generate(F.kr, &k2), MFA_OK);
    ck_assert_uint_ne(k1, k2);
    /* before the rotation, old secrets still open with the old key */
    ck_assert_int_eq(mfa_verify(F.ctx, "rita", code_at(&a, 0), &r), MFA_OK);
    ck_assert_int_eq(mfa_keyring_rotate(F.ctx, &resealed, &skipped), MFA_OK);
    ck_assert_uint_eq(resealed, 3);
    ck_assert_uint_eq(skipped, 0);
    ck_assert_int_eq(last_event()->type, MFA_EV_KEY_ROTATE);
    ck_assert_int_eq(last_event()->has_account, 0);
    ck_assert_uint_eq(stored_key_id("rita", a.id), k2);
    ck_assert_uint_eq(stored_key_id("sam", b.id), k2);
    ck_assert_uint_eq(stored_key_id("sam", p.id), k2);
    /* again: idempotent (as after a crash half-way) */
    ck_assert_int_eq(mfa_keyring_rotate(F.ctx, &resealed, &skipped), MFA_OK);
    ck_assert_uint_eq(resealed, 0);
    ck_assert_uint_eq(skipped, 3);

    /* codes still verify after rotation; replay state survived it */
    ck_assert_int_eq(mfa_verify(F.ctx, "rita", code_at(&a, 0), &r),
                     MFA_ERR_REPLAYED);
    F.now += 30;
    ck_assert_int_eq(mfa_verify(F.ctx, "rita", code_at(&a, 0), &r), MFA_OK);
    ck_assert_int_eq(mfa_verify(F.ctx, "sam", code_at(&b, 0), &r), MFA_OK);
    ck_assert_int_eq(mfa_enroll_confirm(F.ctx, "sam", p.id, code_at(&p, 0), &r),
                     MFA_OK);
    /* backup codes hashed under the old key still work */
    ck_assert_int_eq(mfa_recover(F.ctx, "rita", codes[0], &r), MFA_OK);
    ck_assert_uint_eq(r.backup_codes_left, 1);

    /* a third generation; one factor resealed by hand in between */
    ck_assert_int_eq(mfa_keyring_generate(F.kr, &k3), MFA_OK);
    {
        mfa_factor_rec rec;
        uint8_t out[MFA_SEALED_MAX];
        size_t len;
        rec_get("rita", a.id, &rec);
        ck_assert_int_eq(mfa_reseal(F.kr, "rita", a.id, rec.sealed,
                                    rec.sealed_len, out, sizeof(out), &len),
                         MFA_OK);
        memcpy(rec.sealed, out, len);
        rec.sealed_len = (uint32_t)len;
        rec_put(&rec);
    }
    ck_assert_int_eq(mfa_keyring_rotate(F.ctx, &resealed, &skipped), MFA_OK);
    ck_assert_uint_eq(resealed, 2);
    ck_assert_uint_eq(skipped, 1);
    F.now += 30;
    ck_assert_int_eq(mfa_verify(F.ctx, "rita", code_at(&a, 0), &r), MFA_OK);
    ck_assert_int_eq(mfa_verify(F.ctx, "sam", code_at(&b, 0), &r), MFA_OK);
    ck_assert_int_eq(mfa_recover(F.ctx, "rita", codes[1], &r), MFA_OK);
    mfa_backup_codes_free(&codes, 2);
    factor_free(&a);
    factor_free(&b);
    factor_free(&p);
    teardown();
}
END_TEST

/* A ring that lacks the factor's key: refused, never accepted. */
START_TEST(wrong_key_ring)
{
    mfa_keyring_t *other = NULL;
    mfa_ctx_t *c2 = NULL;
    mfa_result r;
    factor f = {0};
    uint32_t id;

    setup(_i);
    enroll_active("tess", NULL, &f);
    ck_assert_int_eq(mfa_keyring_new(&other), MFA_OK);
    ck_assert_int_eq(
        mfa_keyring_add(other, 7,
                        (const uint8_t *)"0123456789abcdef0123456789abcdef", 1),
        MFA_OK);
    ck_assert_int_eq(mfa_ctx_new(&c2, F.store, other), MFA_OK);
    mfa_ctx_set_clock(c2, fake_clock, NULL);
    ck_assert_int_ne(mfa_verify(c2, "tess", code_at(&f, 0), &r), MFA_OK);
    ck_assert_int_ne(r.outcome, MFA_OK);
    ck_assert_str_eq(r.factor_id, "");
    /* the ring's own key id 1 but different bytes: authentication fails */
    mfa_ctx_free(&c2);
    mfa_keyring_free(&other);
    ck_assert_int_eq(mfa_keyring_new(&other), MFA_OK);
    ck_assert_int_eq(mfa_keyring_generate(other, &id), MFA_OK);
    ck_assert_int_eq(mfa_ctx_new(&c2, F.store, other), MFA_OK);
    mfa_ctx_set_clock(c2, fake_clock, NULL);
    ck_assert_int_ne(mfa_verify(c2, "tess", code_at(&f, 0), &r), MFA_OK);
    /* the right ring still accepts the code: nothing was spent */
    ck_assert_int_eq(mfa_verify(F.ctx, "tess", code_at(&f, 0), &r), MFA_OK);
    mfa_ctx_free(&c2);
    mfa_keyring_free(&other);
    factor_free(&f);
    teardown();
}
END_TEST

/* Snapshot of everything the store holds about an account. */
typedef struct snapshot {
    mfa_factor_info list[MFA_FACTORS_MAX + 2];
    size_t n;
    size_t codes;
    mfa_throttle_rec th;
} snapshot;

static void
snap(const char *account, snapshot *s)
{
    mfa_factor_info *list = NULL;

    memset(s, 0, sizeof(*s));
    ck_assert_int_eq(mfa_factors_list(F.ctx, account, &list, &s->n), MFA_OK);
    ck_assert_uint_le(s->n, MFA_FACTORS_MAX + 2);
    if (s->n)
        memcpy(s->list, list, s->n * sizeof(*list));
    mfa_free(list);
    ck_assert_int_eq(mfa_backup_codes_left(F.ctx, account, &s->codes), MFA_OK);
    s->th = throttle_of(account);
}

static void
same(const snapshot *a, const snapshot *b)
{
    ck_assert_uint_eq(a->n, b->n);
    ck_assert_mem_eq(a->list, b->list, a->n * sizeof(a->list[0]));
    ck_assert_uint_eq(a->codes, b->codes);
    ck_assert_uint_eq(a->th.failures, b->th.failures);
    ck_assert_int_eq(a->th.locked_until, b->th.locked_until);
}

START_TEST(bad_input_changes_nothing)
{
    static snapshot before, after;
    char **codes = NULL;
    mfa_enrollment_t *e = NULL;
    mfa_result r;
    factor f = {0};
    char longacct[MFA_ACCOUNT_MAX + 2], longlabel[MFA_LABEL_MAX + 2];
    size_t nev;

    setup(_i);
    enroll_active("uma", NULL, &f);
    ck_assert_int_eq(mfa_backup_codes_new(F.ctx, "uma", 4, &codes), MFA_OK);
    for (int i = 0; i < 4; i++)
        remember_secret(codes[i]);
    memset(longacct, 'u', sizeof(longacct) - 1);
    longacct[sizeof(longacct) - 1] = '\0';
    memset(longlabel, 'l', sizeof(longlabel) - 1);
    longlabel[sizeof(longlabel) - 1] = '\0';
    snap("uma", &before);
    nev = F.nev;

    /* malformed codes */
    ck_assert_int_eq(mfa_verify(F.ctx, "uma", "12a456", &r),
                     MFA_ERR_CODE_FORMAT);
    ck_assert_int_eq(r.outcome, MFA_ERR_CODE_FORMAT);
    ck_assert_int_eq(mfa_verify(F.ctx, "uma", "12345", &r),
                     MFA_ERR_CODE_FORMAT);
    ck_assert_int_eq(mfa_verify(F.ctx, "uma", "", &r), MFA_ERR_CODE_FORMAT);
    ck_assert_int_eq(mfa_verify(F.ctx, "uma", NULL, &r), MFA_ERR_CODE_FORMAT);
    ck_assert_int_eq(mfa_verify(F.ctx, "uma", "12345678901", &r),
                     MFA_ERR_CODE_FORMAT);
    ck_assert_int_eq(mfa_verify(F.ctx, "uma", "-123456", &r),
                     MFA_ERR_CODE_FORMAT);
    ck_assert_int_eq(mfa_enroll_confirm(F.ctx, "uma", f.id, "abcdef", &r),
                     MFA_ERR_CODE_FORMAT);
    ck_assert_int_eq(mfa_recover(F.ctx, "uma", "not a code", &r),
                     MFA_ERR_BACKUP_FORMAT);
    ck_assert_int_eq(mfa_oob_verify(F.ctx, "uma", "sms", "12345", &r),
                     MFA_ERR_CODE_FORMAT);
    ck_assert_int_eq(mfa_oob_verify(F.ctx, "uma", "sms", "123456789", &r),
                     MFA_ERR_CODE_FORMAT);
    /* bad accounts */
    ck_assert_int_eq(mfa_verify(F.ctx, NULL, "123456", &r), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_verify(F.ctx, "", "123456", &r), MFA_ERR_EMPTY);
    ck_assert_int_eq(mfa_verify(F.ctx, longacct, "123456", &r),
                     MFA_ERR_TOO_LONG);
    ck_assert_int_eq(mfa_verify(F.ctx, "uma\xff", "123456", &r), MFA_ERR_UTF8);
    ck_assert_int_eq(mfa_verify(F.ctx, "uma\x7f", "123456", &r),
                     MFA_ERR_CONTROL_CHAR);
    ck_assert_int_eq(mfa_recover(F.ctx, "uma\n", codes[0], &r),
                     MFA_ERR_CONTROL_CHAR);
    ck_assert_int_eq(mfa_reset(F.ctx, "\xed\xa0\x80"), MFA_ERR_UTF8);
    ck_assert_int_eq(mfa_enroll_begin(F.ctx, "uma:x", NULL, NULL, &e),
                     MFA_ERR_COLON);
    ck_assert_ptr_null(e);
    ck_assert_int_eq(mfa_enroll_begin(F.ctx, "uma", longlabel, NULL, &e),
                     MFA_ERR_TOO_LONG);
    ck_assert_int_eq(mfa_enroll_begin(F.ctx, "uma", "a\tb", NULL, &e),
                     MFA_ERR_CONTROL_CHAR);
    ck_assert_int_eq(mfa_enroll_begin(F.ctx, "uma", NULL, NULL, NULL),
                     MFA_ERR_INVALID);
    {
        char **none = NULL;
        ck_assert_int_eq(mfa_backup_codes_new(F.ctx, "uma", 100, &none),
                         MFA_ERR_INVALID);
        ck_assert_ptr_null(none);
    }
    /* bad factor ids, purposes */
    ck_assert_int_eq(mfa_enroll_confirm(F.ctx, "uma", "xyz", "123456", &r),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_enroll_confirm(F.ctx, "uma", NULL, "123456", &r),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_factor_remove(F.ctx, "uma", "0123456789abcdef0"),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_factor_rename(F.ctx, "uma", f.id, longlabel),
                     MFA_ERR_TOO_LONG);
    ck_assert_int_eq(mfa_oob_verify(F.ctx, "uma", "s\x01", "123456", &r),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_oob_begin(F.ctx, "uma", NULL), MFA_ERR_INVALID);
    /* NULL ctx */
    ck_assert_int_eq(mfa_verify(NULL, "uma", "123456", &r), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_verify(F.ctx, "uma", wrong_code(&f), NULL),
                     MFA_ERR_CODE_WRONG);

    snap("uma", &after);
    /* the last call above was a real, counted attempt */
    ck_assert_uint_eq(after.th.failures, before.th.failures + 1);
    after.th = before.th;
    same(&before, &after);
    ck_assert_uint_gt(F.nev, nev); /* bad input is reported too */
    mfa_backup_codes_free(&codes, 4);
    factor_free(&f);
    teardown();
}
END_TEST

/* mfa_result keeps its size, and every flow zeroes the reserved tail that
 * later fields will take (a program built today must read zeros there). */
START_TEST(result_reserved_zeroed)
{
    mfa_result r;
    factor f = {0};
    char **codes = NULL;

    ck_assert_uint_eq(sizeof(mfa_result), 256);
    setup(_i);
    enroll_active("rosa", NULL, &f);
    ck_assert_int_eq(mfa_backup_codes_new(F.ctx, "rosa", 2, &codes), MFA_OK);
    for (int k = 0; k < 4; k++) {
        mfa_rc rc;
        memset(&r, 0xa5, sizeof(r));
        switch (k) {
        case 0:
            rc = mfa_verify(F.ctx, "rosa", code_at(&f, 0), &r);
            ck_assert_int_eq(rc, MFA_OK);
            break;
        case 1:
            rc = mfa_verify(F.ctx, "rosa", code_at(&f, 0), &r);
            ck_assert_int_eq(rc, MFA_ERR_REPLAYED);
            break;
        case 2:
            rc = mfa_recover(F.ctx, "rosa", codes[0], &r);
            ck_assert_int_eq(rc, MFA_OK);
            break;
        default:
            rc = mfa_verify(F.ctx, "rosa", "12", &r);
            ck_assert_int_eq(rc, MFA_ERR_CODE_FORMAT);
            break;
        }
        ck_assert_int_eq(r.outcome, rc);
        for (size_t i = 0; i < sizeof(r.reserved); i++)
            ck_assert_uint_eq(r.reserved[i], 0);
    }
    mfa_backup_codes_free(&codes, 2);
    factor_free(&f);
    teardown();
}
END_TEST

START_TEST(events_never_hold_codes)
{
    char **codes = NULL;
    mfa_result r;
    factor f = {0};

    setup(_i);
    enroll_active("vic", "phone", &f);
    ck_assert_int_eq(mfa_verify(F.ctx, "vic", code_at(&f, 0), &r), MFA_OK);
    ck_assert_int_eq(mfa_verify(F.ctx, "vic", code_at(&f, 0), &r),
                     MFA_ERR_REPLAYED);
    ck_assert_int_eq(mfa_verify(F.ctx, "vic", wrong_code(&f), &r),
                     MFA_ERR_CODE_WRONG);
    ck_assert_int_eq(mfa_backup_codes_new(F.ctx, "vic", 2, &codes), MFA_OK);
    remember_secret(codes[0]);
    remember_secret(codes[1]);
    ck_assert_int_eq(mfa_recover(F.ctx, "vic", codes[0], &r), MFA_OK);
    ck_assert_int_eq(mfa_oob_begin(F.ctx, "vic", "sms"), MFA_OK);
    ck_assert_int_eq(mfa_oob_verify(F.ctx, "vic", "sms", F.oob_code, &r),
                     MFA_OK);
    ck_assert_int_eq(mfa_reset(F.ctx, "vic"), MFA_OK);
    ck_assert_uint_ge(F.nev, 9);
    /* the flows, in order, one event each */
    {
        static const mfa_event_type want[] = {
            MFA_EV_ENROLL_BEGIN, MFA_EV_ENROLL_CONFIRM, MFA_EV_VERIFY_OK,
            MFA_EV_REPLAY,       MFA_EV_VERIFY_FAIL,    MFA_EV_BACKUP_CODES_NEW,
            MFA_EV_RECOVER_OK,   MFA_EV_OOB_BEGIN,      MFA_EV_OOB_OK,
            MFA_EV_RESET};
        ck_assert_uint_eq(F.nev, sizeof(want) / sizeof(want[0]));
        for (size_t i = 0; i < F.nev; i++) {
            ck_assert_int_eq(F.ev[i].type, want[i]);
            ck_assert_str_eq(F.ev[i].account, "vic");
        }
    }
    ck_assert_uint_gt(F.nsecrets, 6);
    check_events_clean();
    mfa_backup_codes_free(&codes, 2);
    factor_free(&f);
    teardown();
}
END_TEST

/* ---- fault injection: a backend that fails on demand ------------------- */

/*
 * Passes every call to the real store's backend, except the operation
 * named `fail`, which returns rc (the first `times` calls; 0: all).  The
 * transaction object is the inner backend's own.
 */
typedef struct faulty {
    mfa_store_t *inner;
    const char *fail;
    mfa_rc rc;
    int times;
    int calls;
} faulty;

static faulty *FY; /* the transaction calls carry no impl */

#define INNER mfa_store_backend_of(FY->inner)
#define FAIL_IF(op)                                                            \
    do {                                                                       \
        if (FY->fail && strcmp(FY->fail, op) == 0 &&                           \
            (FY->times == 0 || FY->calls++ < FY->times))                       \
            return FY->rc;                                                     \
    } while (0)

static void
fy_close(void *impl)
{
    (void)impl;
}
static mfa_rc
fy_version(void *impl, int *v)
{
    (void)impl;
    return INNER->schema_version(mfa_store_impl_of(FY->inner), v);
}
static mfa_rc
fy_migrate(void *impl)
{
    (void)impl;
    return INNER->migrate(mfa_store_impl_of(FY->inner));
}
static mfa_rc
fy_begin(void *impl, const char *a, mfa_txn_mode m, mfa_store_txn **t)
{
    (void)impl;
    FAIL_IF("begin");
    return INNER->begin(mfa_store_impl_of(FY->inner), a, m, t);
}
static mfa_rc
fy_commit(mfa_store_txn *t)
{
    if (FY->fail && strcmp(FY->fail, "commit") == 0 &&
        (FY->times == 0 || FY->calls++ < FY->times)) {
        INNER->rollback(t);
        return FY->rc;
    }
    return INNER->commit(t);
}
static void
fy_rollback(mfa_store_txn *t)
{
    INNER->rollback(t);
}
static mfa_rc
fy_flist(mfa_store_txn *t, const char *a, mfa_factor_cb cb, void *arg)
{
    FAIL_IF("factor_list");
    return INNER->factor_list(t, a, cb, arg);
}
static mfa_rc
fy_fget(mfa_store_txn *t, const char *a, const char *id, mfa_factor_rec *o)
{
    FAIL_IF("factor_get");
    return INNER->factor_get(t, a, id, o);
}
static mfa_rc
fy_fins(mfa_store_txn *t, const mfa_factor_rec *f)
{
    FAIL_IF("factor_insert");
    return INNER->factor_insert(t, f);
}
static mfa_rc
fy_fupd(mfa_store_txn *t, const mfa_factor_rec *f)
{
    FAIL_IF("factor_update");
    return INNER->factor_update(t, f);
}
static mfa_rc
fy_fdel(mfa_store_txn *t, const char *a, const char *id)
{
    FAIL_IF("factor_delete");
    return INNER->factor_delete(t, a, id);
}
static mfa_rc
fy_fscan(mfa_store_txn *t, const char *aa, const char *ai, mfa_factor_rec *o,
         size_t max, size_t *n)
{
    FAIL_IF("factor_scan");
    return INNER->factor_scan(t, aa, ai, o, max, n);
}
static mfa_rc
fy_fexp(mfa_store_txn *t, int64_t before, size_t *n)
{
    FAIL_IF("factor_expire");
    return INNER->factor_expire(t, before, n);
}
static mfa_rc
fy_tget(mfa_store_txn *t, const char *a, const char *b, mfa_throttle_rec *o)
{
    FAIL_IF("throttle_get");
    return INNER->throttle_get(t, a, b, o);
}
static mfa_rc
fy_tput(mfa_store_txn *t, const char *a, const mfa_throttle_rec *r)
{
    FAIL_IF("throttle_put");
    return INNER->throttle_put(t, a, r);
}
static mfa_rc
fy_tdel(mfa_store_txn *t, const char *a, const char *b)
{
    FAIL_IF("throttle_delete");
    return INNER->throttle_delete(t, a, b);
}
static mfa_rc
fy_blist(mfa_store_txn *t, const char *a, mfa_backup_rec *o, size_t max,
         size_t *n)
{
    FAIL_IF("backup_list");
    return INNER->backup_list(t, a, o, max, n);
}
static mfa_rc
fy_bins(mfa_store_txn *t, const char *a, const mfa_backup_rec *r, int64_t now)
{
    FAIL_IF("backup_insert");
    return INNER->backup_insert(t, a, r, now);
}
static mfa_rc
fy_buse(mfa_store_txn *t, const char *a, const uint8_t *h, int64_t now)
{
    FAIL_IF("backup_use");
    return INNER->backup_use(t, a, h, now);
}
static mfa_rc
fy_bclr(mfa_store_txn *t, const char *a)
{
    FAIL_IF("backup_clear");
    return INNER->backup_clear(t, a);
}
static mfa_rc
fy_oget(mfa_store_txn *t, const char *a, const char *p, mfa_oob_challenge *o)
{
    FAIL_IF("oob_get");
    return INNER->oob_get(t, a, p, o);
}
static mfa_rc
fy_oput(mfa_store_txn *t, const char *a, const mfa_oob_challenge *c)
{
    FAIL_IF("oob_put");
    return INNER->oob_put(t, a, c);
}
static mfa_rc
fy_odel(mfa_store_txn *t, const char *a, const char *p)
{
    FAIL_IF("oob_delete");
    return INNER->oob_delete(t, a, p);
}
static mfa_rc
fy_tlist(mfa_store_txn *t, const char *a, mfa_throttle_rec *o, size_t max,
         size_t *n)
{
    FAIL_IF("throttle_list");
    return INNER->throttle_list(t, a, o, max, n);
}
static mfa_rc
fy_dlist(mfa_store_txn *t, const char *a, mfa_device_rec *o, size_t max,
         size_t *n)
{
    FAIL_IF("device_list");
    return INNER->device_list(t, a, o, max, n);
}
static mfa_rc
fy_dget(mfa_store_txn *t, const char *a, const char *id, mfa_device_rec *o)
{
    FAIL_IF("device_get");
    return INNER->device_get(t, a, id, o);
}
static mfa_rc
fy_dput(mfa_store_txn *t, const char *a, const mfa_device_rec *r)
{
    FAIL_IF("device_put");
    return INNER->device_put(t, a, r);
}
static mfa_rc
fy_ddel(mfa_store_txn *t, const char *a, const char *id)
{
    FAIL_IF("device_delete");
    return INNER->device_delete(t, a, id);
}
static mfa_rc
fy_sscan(mfa_store_txn *t, const char *after, char (*o)[MFA_ACCOUNT_MAX + 1],
         size_t max, size_t *n)
{
    FAIL_IF("state_scan");
    return INNER->state_scan(t, after, o, max, n);
}
static mfa_rc
fy_adel(mfa_store_txn *t, const char *a)
{
    FAIL_IF("account_delete");
    return INNER->account_delete(t, a);
}

static mfa_rc
fy_wlist(mfa_store_txn *t, const char *a, mfa_webauthn_cb cb, void *arg)
{
    FAIL_IF("webauthn_list");
    return INNER->webauthn_list(t, a, cb, arg);
}
static mfa_rc
fy_wget(mfa_store_txn *t, const char *a, const char *id, mfa_webauthn_rec *o)
{
    FAIL_IF("webauthn_get");
    return INNER->webauthn_get(t, a, id, o);
}
static mfa_rc
fy_wins(mfa_store_txn *t, const char *a, const mfa_webauthn_rec *r)
{
    FAIL_IF("webauthn_insert");
    return INNER->webauthn_insert(t, a, r);
}
static mfa_rc
fy_wupd(mfa_store_txn *t, const char *a, const mfa_webauthn_rec *r)
{
    FAIL_IF("webauthn_update");
    return INNER->webauthn_update(t, a, r);
}
static mfa_rc
fy_wdel(mfa_store_txn *t, const char *a, const char *id)
{
    FAIL_IF("webauthn_delete");
    return INNER->webauthn_delete(t, a, id);
}
static mfa_rc
fy_hget(mfa_store_txn *t, const char *a, uint8_t *o, size_t *len)
{
    FAIL_IF("webauthn_handle_get");
    return INNER->webauthn_handle_get(t, a, o, len);
}
static mfa_rc
fy_hput(mfa_store_txn *t, const char *a, const uint8_t *h, size_t len,
        int64_t now)
{
    FAIL_IF("webauthn_handle_put");
    return INNER->webauthn_handle_put(t, a, h, len, now);
}
static mfa_rc
fy_hfind(mfa_store_txn *t, const uint8_t *h, size_t len,
         char a[MFA_ACCOUNT_MAX + 1])
{
    FAIL_IF("webauthn_handle_find");
    return INNER->webauthn_handle_find(t, h, len, a);
}
static mfa_rc
fy_spend(mfa_store_txn *t, const char *a, const uint8_t *nonce, int64_t expires)
{
    FAIL_IF("webauthn_spend");
    return INNER->webauthn_spend(t, a, nonce, expires);
}
static mfa_rc
fy_sexp(mfa_store_txn *t, const char *a, int64_t before, size_t *n)
{
    FAIL_IF("webauthn_spent_expire");
    return INNER->webauthn_spent_expire(t, a, before, n);
}

static const mfa_store_backend faulty_backend = {
    .abi = MFA_STORE_BACKEND_ABI,
    .name = "faulty",
    .close = fy_close,
    .schema_version = fy_version,
    .migrate = fy_migrate,
    .begin = fy_begin,
    .commit = fy_commit,
    .rollback = fy_rollback,
    .factor_list = fy_flist,
    .factor_get = fy_fget,
    .factor_insert = fy_fins,
    .factor_update = fy_fupd,
    .factor_delete = fy_fdel,
    .factor_scan = fy_fscan,
    .factor_expire = fy_fexp,
    .throttle_get = fy_tget,
    .throttle_put = fy_tput,
    .throttle_delete = fy_tdel,
    .backup_list = fy_blist,
    .backup_insert = fy_bins,
    .backup_use = fy_buse,
    .backup_clear = fy_bclr,
    .oob_get = fy_oget,
    .oob_put = fy_oput,
    .oob_delete = fy_odel,
    .throttle_list = fy_tlist,
    .device_list = fy_dlist,
    .device_get = fy_dget,
    .device_put = fy_dput,
    .device_delete = fy_ddel,
    .state_scan = fy_sscan,
    .account_delete = fy_adel,
    .webauthn_list = fy_wlist,
    .webauthn_get = fy_wget,
    .webauthn_insert = fy_wins,
    .webauthn_update = fy_wupd,
    .webauthn_delete = fy_wdel,
    .webauthn_handle_get = fy_hget,
    .webauthn_handle_put = fy_hput,
    .webauthn_handle_find = fy_hfind,
    .webauthn_spend = fy_spend,
    .webauthn_spent_expire = fy_sexp,
};

START_TEST(store_failures_fail_closed)
{
    static const mfa_rc errs[] = {MFA_ERR_STORE, MFA_ERR_BUSY, MFA_ERR_READONLY,
                                  MFA_ERR_CORRUPT};
    /* every store call a login makes, the commit included */
    static const char *const verify_ops[] = {
        "begin",           "throttle_get", "factor_list", "factor_update",
        "throttle_delete", "device_list",  "device_put",  "commit"};
    faulty fs = {0};
    mfa_store_t *s = NULL;
    mfa_ctx_t *c = NULL;
    mfa_result r;
    factor f = {0};
    char **codes = NULL;
    mfa_enrollment_t *e = NULL;
    size_t n;

    setup(_i);
    enroll_active("walt", NULL, &f);
    ck_assert_int_eq(mfa_backup_codes_new(F.ctx, "walt", 3, &codes), MFA_OK);
    for (int i = 0; i < 3; i++)
        remember_secret(codes[i]);
    /* one wrong code first, so that a success has a count to clear */
    {
        char wrong[16];
        snprintf(wrong, sizeof(wrong), "%s", code_at(&f, 0));
        wrong[0] = (char)('0' + (wrong[0] - '0' + 5) % 10);
        ck_assert_int_eq(mfa_verify(F.ctx, "walt", wrong, &r),
                         MFA_ERR_CODE_WRONG);
    }
    fs.inner = F.store;
    FY = &fs;
    ck_assert_int_eq(mfa_store_new(&s, &faulty_backend, &fs), MFA_OK);
    ck_assert_int_eq(mfa_ctx_new(&c, s, F.kr), MFA_OK);
    mfa_ctx_set_clock(c, fake_clock, NULL);
    mfa_ctx_set_event_cb(c, on_event, NULL);
    mfa_ctx_set_oob_sender(c, oob_sender, NULL);
    {
        mfa_throttle_policy lenient = {1000, 1, 1};
        ck_assert_int_eq(mfa_ctx_set_throttle(c, &lenient), MFA_OK);
    }

    for (size_t k = 0; k < sizeof(errs) / sizeof(errs[0]); k++) {
        fs.rc = errs[k];
        /* each store call of a login failing: the right code is never
         * accepted, nothing is spent, the count is as it was */
        for (size_t op = 0; op < sizeof(verify_ops) / sizeof(verify_ops[0]);
             op++) {
            fs.fail = verify_ops[op];
            ck_assert_int_eq(mfa_verify(c, "walt", code_at(&f, 0), &r),
                             errs[k]);
            ck_assert_int_eq(r.outcome, errs[k]);
            ck_assert_str_eq(r.factor_id, "");
            ck_assert_int_eq(last_event()->type, MFA_EV_STORE_ERROR);
            ck_assert_int_eq(last_event()->rc, errs[k]);
            fs.fail = NULL;
            ck_assert_uint_eq(failures_of("walt"), 1);
        }
        /* recovery */
        fs.fail = "backup_list";
        ck_assert_int_eq(mfa_recover(c, "walt", codes[0], &r), errs[k]);
        fs.fail = "backup_use";
        ck_assert_int_eq(mfa_recover(c, "walt", codes[0], &r), errs[k]);
        fs.fail = "commit";
        ck_assert_int_eq(mfa_recover(c, "walt", codes[0], &r), errs[k]);
        /* out of band */
        fs.fail = "oob_put";
        ck_assert_int_eq(mfa_oob_begin(c, "walt", "sms"), errs[k]);
        fs.fail = "oob_get";
        ck_assert_int_eq(mfa_oob_verify(c, "walt", "sms", "123456", &r),
                         errs[k]);
        /* administration */
        fs.fail = "factor_insert";
        ck_assert_int_eq(mfa_enroll_begin(c, "walt", NULL, NULL, &e), errs[k]);
        ck_assert_ptr_null(e);
        fs.fail = "backup_insert";
        {
            char **none = NULL;
            ck_assert_int_eq(mfa_backup_codes_new(c, "walt", 2, &none),
                             errs[k]);
            ck_assert_ptr_null(none);
        }
        fs.fail = "account_delete";
        ck_assert_int_eq(mfa_reset(c, "walt"), errs[k]);
        ck_assert_int_eq(last_event()->type, MFA_EV_STORE_ERROR);
        fs.fail = "factor_scan";
        ck_assert_int_eq(mfa_keyring_rotate(c, &n, NULL), errs[k]);
        fs.fail = "factor_expire";
        ck_assert_int_eq(mfa_expire_pending(c, &n), errs[k]);
        fs.fail = NULL;
    }
    /* nothing was lost or spent: the same code and backup code still work,
     * the old backup set is whole */
    fs.fail = NULL;
    ck_assert_uint_eq(factor_count("walt"), 1);
    {
        size_t left = 0;
        ck_assert_int_eq(mfa_backup_codes_left(c, "walt", &left), MFA_OK);
        ck_assert_uint_eq(left, 3);
    }
    ck_assert_int_eq(mfa_verify(c, "walt", code_at(&f, 0), &r), MFA_OK);
    ck_assert_uint_eq(failures_of("walt"), 0);
    ck_assert_int_eq(mfa_recover(c, "walt", codes[0], &r), MFA_OK);
    ck_assert_uint_eq(r.backup_codes_left, 2);
    /* a taken factor id: a new id, sealed again (the blob is bound to the
     * id), up to a few times */
    fs.fail = "factor_insert";
    fs.rc = MFA_ERR_EXISTS;
    fs.times = 3;
    fs.calls = 0;
    ck_assert_int_eq(mfa_enroll_begin(c, "walt", NULL, NULL, &e), MFA_OK);
    ck_assert_int_eq(fs.calls, 4);
    {
        factor g = {0};
        app_of(e, &g);
        mfa_enrollment_free(&e);
        ck_assert_int_eq(
            mfa_enroll_confirm(c, "walt", g.id, code_at(&g, 0), &r), MFA_OK);
        factor_free(&g);
    }
    fs.times = 0;
    ck_assert_int_eq(mfa_enroll_begin(c, "walt", NULL, NULL, &e),
                     MFA_ERR_EXISTS);
    ck_assert_ptr_null(e);
    ck_assert_uint_eq(factor_count("walt"), 2);
    fs.fail = NULL;
    FY = NULL;
    mfa_ctx_free(&c);
    mfa_store_free(&s);
    mfa_backup_codes_free(&codes, 3);
    factor_free(&f);
    teardown();
}
END_TEST

/* ---- threads sharing one ctx ------------------------------------------- */

#define NTHREADS 4
static pthread_barrier_t tbar;
static const char *tcode;
static int tok[NTHREADS], trep[NTHREADS];

static void *
racer(void *arg)
{
    int k = (int)(intptr_t)arg;
    mfa_result r;
    mfa_rc rc;

    pthread_barrier_wait(&tbar);
    rc = mfa_verify(F.ctx, "xena", tcode, &r);
    tok[k] += rc == MFA_OK;
    trep[k] += rc == MFA_ERR_REPLAYED;
    return NULL;
}

START_TEST(threads_share_ctx)
{
    mfa_throttle_policy p = {1000, 1, 1};
    factor f = {0};

    setup(_i);
    ck_assert_int_eq(mfa_ctx_set_throttle(F.ctx, &p), MFA_OK);
    mfa_ctx_set_event_cb(F.ctx, NULL, NULL);
    enroll_active("xena", NULL, &f);
    memset(tok, 0, sizeof(tok));
    memset(trep, 0, sizeof(trep));
    for (int round = 0; round < 20; round++) {
        pthread_t th[NTHREADS];
        int ok = 0, rep = 0;

        F.now += 30;
        tcode = code_at(&f, 0);
        ck_assert_int_eq(pthread_barrier_init(&tbar, NULL, NTHREADS), 0);
        for (int k = 0; k < NTHREADS; k++)
            ck_assert_int_eq(
                pthread_create(&th[k], NULL, racer, (void *)(intptr_t)k), 0);
        for (int k = 0; k < NTHREADS; k++)
            pthread_join(th[k], NULL);
        pthread_barrier_destroy(&tbar);
        for (int k = 0; k < NTHREADS; k++) {
            ok += tok[k];
            rep += trep[k];
            tok[k] = trep[k] = 0;
        }
        ck_assert_int_eq(ok, 1);
        ck_assert_int_eq(rep, NTHREADS - 1);
    }
    factor_free(&f);
    teardown();
}
END_TEST

static Suite *
service_suite(void)
{
    Suite *s = suite_create("service");
    TCase *tc = tcase_create("flows");

    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, ctx_settings, 0, BK_COUNT);
    tcase_add_loop_test(tc, enroll_confirm_verify_replay, 0, BK_COUNT);
    tcase_add_loop_test(tc, pending_expiry, 0, BK_COUNT);
    tcase_add_loop_test(tc, two_factors, 0, BK_COUNT);
    tcase_add_loop_test(tc, factor_limit_and_rename, 0, BK_COUNT);
    tcase_add_loop_test(tc, drift_tracking, 0, BK_COUNT);
    tcase_add_loop_test(tc, hotp_factor, 0, BK_COUNT);
    tcase_add_loop_test(tc, throttle_escalation, 0, BK_COUNT);
    tcase_add_loop_test(tc, throttle_default_policy, 0, BK_COUNT);
    tcase_add_loop_test(tc, backup_codes, 0, BK_COUNT);
    tcase_add_loop_test(tc, oob_codes, 0, BK_COUNT);
    tcase_add_loop_test(tc, admin_reset, 0, BK_COUNT);
    tcase_add_loop_test(tc, key_rotation, 0, BK_COUNT);
    tcase_add_loop_test(tc, wrong_key_ring, 0, BK_COUNT);
    tcase_add_loop_test(tc, bad_input_changes_nothing, 0, BK_COUNT);
    tcase_add_loop_test(tc, events_never_hold_codes, 0, BK_COUNT);
    tcase_add_loop_test(tc, result_reserved_zeroed, 0, BK_COUNT);
    tcase_add_loop_test(tc, store_failures_fail_closed, 0, BK_COUNT);
    tcase_add_loop_test(tc, threads_share_ctx, 0, BK_COUNT);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run(service_suite());
}
