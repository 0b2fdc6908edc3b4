/*
 * Store failures in every flow: for each flow and each k up to the number
 * of store calls the flow makes, the k-th call fails (tests/fault_store.h).
 * Then the flow must return a store error, never MFA_OK and never a
 * verdict such as MFA_ERR_CODE_WRONG whose attempt was not counted; no
 * success event may have been sent; the account's data must be exactly as
 * before (a rolled-back flow leaves the attempt count as it was); and the
 * same flow must then work on the healthy store (the right code was not
 * spent, the old backup codes were not lost).  The run with k one past
 * the last call injects nothing and must succeed, so the loop is known to
 * have covered every call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mfa.h>
#include <mfa/store-backend.h>

#include "fault_store.h"
#include "testutil.h"

#define T0 1700000000
#define MAX_CALLS 400

static const mfa_rc errors[] = {MFA_ERR_STORE, MFA_ERR_BUSY, MFA_ERR_CORRUPT,
                                MFA_ERR_NOMEM, MFA_ERR_READONLY};
#define NERRORS (sizeof(errors) / sizeof(errors[0]))

/* ---- fixture ------------------------------------------------------------- */

typedef struct app {
    char id[MFA_FACTOR_ID_LEN + 1];
    mfa_otp_t *otp;
} app;

static struct {
    mfa_store_t *store; /* the fault store */
    fault_store *fs;
    mfa_keyring_t *kr;
    mfa_ctx_t *ctx;
    int64_t now;
    app apps[4];
    size_t napps;
    char code[MFA_CODE_BUFSIZE]; /* the flow's input */
    char oob_code[MFA_CODE_BUFSIZE];
    char **backup;
    size_t nbackup;
    int successes; /* success events */
    int events;
    char token[MFA_DEVICE_TOKEN_BUFSIZE];       /* of the last confirmation */
    char alice_token[MFA_DEVICE_TOKEN_BUFSIZE]; /* alice's device */
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

static void
on_event(const mfa_event *ev, void *arg)
{
    (void)arg;
    F.events++;
    switch (ev->type) {
    case MFA_EV_ENROLL_CONFIRM:
    case MFA_EV_VERIFY_OK:
    case MFA_EV_RECOVER_OK:
    case MFA_EV_OOB_OK:
    case MFA_EV_BACKUP_CODES_NEW:
    case MFA_EV_FACTOR_REMOVE:
    case MFA_EV_RESET:
    case MFA_EV_DEVICE_FORGET:
    case MFA_EV_GC:
        if (ev->rc == MFA_OK)
            F.successes++;
        break;
    default:
        break;
    }
}

static void
fixture_up(void)
{
    mfa_store_t *inner = NULL;
    uint32_t id;

    memset(&F, 0, sizeof(F));
    F.now = T0;
    ck_assert_int_eq(mfa_store_memory_new(&inner), MFA_OK);
    ck_assert_int_eq(fault_store_wrap(&F.store, inner, &F.fs), MFA_OK);
    ck_assert_int_eq(mfa_keyring_new(&F.kr), MFA_OK);
    ck_assert_int_eq(mfa_keyring_generate(F.kr, &id), MFA_OK);
    ck_assert_int_eq(mfa_ctx_new(&F.ctx, F.store, F.kr), MFA_OK);
    mfa_ctx_set_clock(F.ctx, fake_clock, NULL);
    mfa_ctx_set_oob_sender(F.ctx, oob_sender, NULL);
    mfa_ctx_set_event_cb(F.ctx, on_event, NULL);
    /* the clean-up runs as a flow of its own below, not amortised in
     * others: a fault there would be the clean-up's, not the flow's */
    ck_assert_int_eq(mfa_ctx_set_gc(F.ctx, 0, 3600), MFA_OK);
}

static void
fixture_down(void)
{
    size_t i;

    for (i = 0; i < F.napps; i++)
        mfa_otp_free(&F.apps[i].otp);
    if (F.backup != NULL)
        mfa_backup_codes_free(&F.backup, F.nbackup);
    mfa_ctx_free(&F.ctx);
    mfa_store_free(&F.store);
    mfa_keyring_free(&F.kr);
}

static app *
enroll(const char *account)
{
    mfa_enrollment_t *e = NULL;
    mfa_uri_t *u = NULL;
    app *a = &F.apps[F.napps++];

    ck_assert_int_eq(mfa_enroll_begin(F.ctx, account, "phone", NULL, &e),
                     MFA_OK);
    ck_assert_int_eq(mfa_uri_parse(mfa_enrollment_uri(e), &u, NULL), MFA_OK);
    ck_assert_int_eq(mfa_uri_to_otp(u, &a->otp), MFA_OK);
    mfa_uri_free(&u);
    snprintf(a->id, sizeof(a->id), "%s", mfa_enrollment_factor_id(e));
    mfa_enrollment_free(&e);
    return a;
}

static void
code_now(const app *a, char out[MFA_CODE_BUFSIZE])
{
    ck_assert_int_eq(mfa_otp_totp(a->otp, F.now, out, MFA_CODE_BUFSIZE),
                     MFA_OK);
}

static app *
enroll_active(const char *account)
{
    app *a = enroll(account);
    char c[MFA_CODE_BUFSIZE];
    mfa_result r;

    code_now(a, c);
    ck_assert_int_eq(mfa_enroll_confirm(F.ctx, account, a->id, c, &r), MFA_OK);
    snprintf(F.token, sizeof(F.token), "%s", r.device_token);
    F.now += 30;
    return a;
}

static void
wrong_code(const app *a, char out[MFA_CODE_BUFSIZE])
{
    unsigned v = 0;

    for (;;) {
        char c[MFA_CODE_BUFSIZE];
        int clash = 0;
        snprintf(out, MFA_CODE_BUFSIZE, "%06u", v);
        for (int s = -12; s <= 12; s++) {
            ck_assert_int_eq(
                mfa_otp_totp(a->otp, F.now + 30 * s, c, MFA_CODE_BUFSIZE),
                MFA_OK);
            clash |= strcmp(c, out) == 0;
        }
        if (!clash)
            return;
        v += 111111;
    }
}

/* ---- what is stored
 * ---------------------------------------------------------- */

#define DUMP_FACTORS 8
typedef struct dump {
    mfa_factor_rec f[DUMP_FACTORS];
    size_t nf;
    mfa_backup_rec codes[MFA_BACKUP_COUNT_MAX];
    size_t ncodes;
    mfa_rc thr_rc;
    mfa_throttle_rec thr;
    mfa_rc oob_rc;
    mfa_oob_challenge oob;
    mfa_device_rec dev[MFA_DEVICES_MAX];
    size_t ndev;
    mfa_throttle_rec thr_all[16];
    size_t nthr;
} dump;

static mfa_rc
collect(const mfa_factor_rec *f, void *arg)
{
    dump *d = arg;

    ck_assert_uint_lt(d->nf, DUMP_FACTORS);
    d->f[d->nf++] = *f;
    return MFA_OK;
}

/* Read past the fault layer, so the reads are not counted. */
static void
dump_of(const char *account, dump *d)
{
    mfa_store_t *s = fault_store_inner(F.fs);
    const mfa_store_backend *be = mfa_store_backend_of(s);
    mfa_store_txn *t = NULL;

    memset(d, 0, sizeof(*d));
    ck_assert_int_eq(be->begin(mfa_store_impl_of(s), account, MFA_TXN_READ, &t),
                     MFA_OK);
    ck_assert_int_eq(be->factor_list(t, account, collect, d), MFA_OK);
    ck_assert_int_eq(
        be->backup_list(t, account, d->codes, MFA_BACKUP_COUNT_MAX, &d->ncodes),
        MFA_OK);
    d->thr_rc = be->throttle_get(t, account, "", &d->thr);
    d->oob_rc = be->oob_get(t, account, "sms", &d->oob);
    ck_assert_int_eq(
        be->device_list(t, account, d->dev, MFA_DEVICES_MAX, &d->ndev), MFA_OK);
    ck_assert_int_eq(be->throttle_list(t, account, d->thr_all, 16, &d->nthr),
                     MFA_OK);
    ck_assert_int_eq(be->commit(t), MFA_OK);
}

static void
assert_dump_eq(const dump *a, const dump *b)
{
    size_t i;

    ck_assert_uint_eq(a->nf, b->nf);
    for (i = 0; i < a->nf; i++) {
        const mfa_factor_rec *x = &a->f[i], *y = &b->f[i];
        ck_assert_str_eq(x->id, y->id);
        ck_assert_str_eq(x->label, y->label);
        ck_assert_int_eq(x->status, y->status);
        ck_assert_int_eq(x->last_step, y->last_step);
        ck_assert_int_eq(x->drift, y->drift);
        ck_assert_int_eq(x->confirmed, y->confirmed);
        ck_assert_int_eq(x->last_used, y->last_used);
        ck_assert_uint_eq(x->sealed_len, y->sealed_len);
        ck_assert_mem_eq(x->sealed, y->sealed, x->sealed_len);
    }
    ck_assert_uint_eq(a->ncodes, b->ncodes);
    for (i = 0; i < a->ncodes; i++)
        ck_assert_mem_eq(a->codes[i].hash, b->codes[i].hash,
                         MFA_BACKUP_HASHBYTES);
    ck_assert_int_eq(a->thr_rc, b->thr_rc);
    if (a->thr_rc == MFA_OK) {
        ck_assert_uint_eq(a->thr.failures, b->thr.failures);
        ck_assert_int_eq(a->thr.locked_until, b->thr.locked_until);
        ck_assert_int_eq(a->thr.updated, b->thr.updated);
    }
    ck_assert_int_eq(a->oob_rc, b->oob_rc);
    if (a->oob_rc == MFA_OK) {
        ck_assert_mem_eq(a->oob.hash, b->oob.hash, MFA_BACKUP_HASHBYTES);
        ck_assert_int_eq(a->oob.attempts_left, b->oob.attempts_left);
        ck_assert_int_eq(a->oob.expires, b->oob.expires);
    }
    ck_assert_uint_eq(a->ndev, b->ndev);
    for (i = 0; i < a->ndev; i++) {
        ck_assert_str_eq(a->dev[i].id, b->dev[i].id);
        ck_assert_mem_eq(a->dev[i].hash, b->dev[i].hash, MFA_DEVICE_HASHBYTES);
        ck_assert_int_eq(a->dev[i].last_seen, b->dev[i].last_seen);
        ck_assert_int_eq(a->dev[i].trusted_until, b->dev[i].trusted_until);
    }
    ck_assert_uint_eq(a->nthr, b->nthr);
    for (i = 0; i < a->nthr; i++) {
        ck_assert_str_eq(a->thr_all[i].bucket, b->thr_all[i].bucket);
        ck_assert_uint_eq(a->thr_all[i].failures, b->thr_all[i].failures);
    }
}

static uint32_t
failures_of(const char *account)
{
    dump d;

    dump_of(account, &d);
    return d.thr_rc == MFA_OK ? d.thr.failures : 0;
}

static int
is_store_error(mfa_rc rc)
{
    size_t i;

    for (i = 0; i < NERRORS; i++)
        if (rc == errors[i])
            return 1;
    return rc == MFA_ERR_STORE;
}

/* ---- the flows
 * ------------------------------------------------------------------ */

typedef struct flow {
    const char *name;
    void (*prepare)(void);
    mfa_rc (*run)(void);
    mfa_rc healthy; /* what run gives without a fault */
    /* extra checks after a failed run, on the healthy store; may be NULL */
    void (*after_fault)(void);
    int multi_txn; /* a fault may leave earlier transactions committed */
} flow;

/* alice: an active factor, three backup codes, two counted failures, an
 * open "sms" challenge; bob: an active factor. */
static void
prepare_common(void)
{
    char w[MFA_CODE_BUFSIZE];
    mfa_result r;
    app *a = enroll_active("alice");

    snprintf(F.alice_token, sizeof(F.alice_token), "%s", F.token);
    enroll_active("bob");
    wrong_code(a, w);
    ck_assert_int_eq(mfa_verify(F.ctx, "alice", w, &r), MFA_ERR_CODE_WRONG);
    ck_assert_int_eq(mfa_verify(F.ctx, "alice", w, &r), MFA_ERR_CODE_WRONG);
    ck_assert_int_eq(mfa_backup_codes_new(F.ctx, "alice", 3, &F.backup),
                     MFA_OK);
    F.nbackup = 3;
    ck_assert_int_eq(mfa_oob_begin(F.ctx, "alice", "sms"), MFA_OK);
    F.now += 30;
}

static mfa_rc
run_enroll_begin(void)
{
    mfa_enrollment_t *e = NULL;
    mfa_rc rc = mfa_enroll_begin(F.ctx, "alice", "tablet", NULL, &e);

    if (rc == MFA_OK)
        ck_assert_ptr_nonnull(e);
    else
        ck_assert_ptr_null(e);
    mfa_enrollment_free(&e);
    return rc;
}

static void
prepare_confirm(void)
{
    app *p;

    prepare_common();
    p = enroll("alice");
    code_now(p, F.code);
}

static mfa_rc
run_confirm(void)
{
    mfa_result r;
    return mfa_enroll_confirm(F.ctx, "alice", F.apps[F.napps - 1].id, F.code,
                              &r);
}

static void
prepare_verify_right(void)
{
    prepare_common();
    code_now(&F.apps[0], F.code);
}

static mfa_rc
run_verify(void)
{
    mfa_result r;
    mfa_rc rc = mfa_verify(F.ctx, "alice", F.code, &r);

    ck_assert_int_eq(r.outcome, rc);
    return rc;
}

static void
prepare_verify_wrong(void)
{
    prepare_common();
    wrong_code(&F.apps[0], F.code);
}

static void
after_verify_wrong(void)
{
    /* the healthy rerun counts exactly one more */
    ck_assert_uint_eq(failures_of("alice"), 2);
    ck_assert_int_eq(run_verify(), MFA_ERR_CODE_WRONG);
    ck_assert_uint_eq(failures_of("alice"), 3);
}

static mfa_rc
run_recover(void)
{
    mfa_result r;
    return mfa_recover(F.ctx, "alice", F.backup[1], &r);
}

static mfa_rc
run_backup_new(void)
{
    char **codes = NULL;
    mfa_rc rc = mfa_backup_codes_new(F.ctx, "alice", 5, &codes);

    if (rc == MFA_OK)
        mfa_backup_codes_free(&codes, 5);
    else
        ck_assert_ptr_null(codes);
    return rc;
}

static void
after_backup_new(void)
{
    /* the old set is whole: one of its codes still logs in */
    size_t left = 0;
    mfa_result r;

    ck_assert_int_eq(mfa_backup_codes_left(F.ctx, "alice", &left), MFA_OK);
    ck_assert_uint_eq(left, 3);
    ck_assert_int_eq(mfa_recover(F.ctx, "alice", F.backup[2], &r), MFA_OK);
}

static mfa_rc
run_oob_begin(void)
{
    return mfa_oob_begin(F.ctx, "alice", "sms");
}

static void
prepare_oob_verify(void)
{
    prepare_common();
    snprintf(F.code, sizeof(F.code), "%s", F.oob_code);
}

static mfa_rc
run_oob_verify(void)
{
    mfa_result r;
    return mfa_oob_verify(F.ctx, "alice", "sms", F.code, &r);
}

static void
prepare_remove(void)
{
    prepare_common();
    enroll_active("alice");
}

static mfa_rc
run_remove(void)
{
    return mfa_factor_remove(F.ctx, "alice", F.apps[0].id);
}

static mfa_rc
run_reset(void)
{
    return mfa_reset(F.ctx, "alice");
}

static void
prepare_rotate(void)
{
    uint32_t id;

    prepare_common();
    enroll_active("alice");
    enroll("carol"); /* pending ones are resealed too */
    ck_assert_int_eq(mfa_keyring_generate(F.kr, &id), MFA_OK);
}

static mfa_rc
run_rotate(void)
{
    size_t resealed = 0, skipped = 0;
    mfa_rc rc = mfa_keyring_rotate(F.ctx, &resealed, &skipped);

    if (rc == MFA_OK)
        ck_assert_uint_eq(resealed + skipped, 4);
    return rc;
}

static void
after_rotate(void)
{
    /* whatever was resealed before the fault still opens */
    size_t resealed = 0, skipped = 0;
    char c[MFA_CODE_BUFSIZE];
    mfa_result r;

    ck_assert_int_eq(mfa_keyring_rotate(F.ctx, &resealed, &skipped), MFA_OK);
    ck_assert_uint_eq(resealed + skipped, 4);
    F.now += 30;
    code_now(&F.apps[0], c);
    ck_assert_int_eq(mfa_verify(F.ctx, "alice", c, &r), MFA_OK);
    code_now(&F.apps[1], c);
    ck_assert_int_eq(mfa_verify(F.ctx, "bob", c, &r), MFA_OK);
}

static void
prepare_verify_device(void)
{
    prepare_common();
    code_now(&F.apps[0], F.code);
}

static mfa_rc
run_verify_device(void)
{
    mfa_device_opts o = {F.alice_token, "laptop", 30};
    mfa_result r;
    mfa_rc rc = mfa_verify_device(F.ctx, "alice", F.code, &o, &r);

    ck_assert_int_eq(r.outcome, rc);
    if (rc != MFA_OK)
        ck_assert_str_eq(r.device_token, "");
    return rc;
}

/* alice's device remembered, seen a while ago */
static void
prepare_device_check(void)
{
    mfa_device_opts o = {NULL, "laptop", 30};
    mfa_result r;

    prepare_common();
    code_now(&F.apps[0], F.code);
    o.token = F.alice_token;
    ck_assert_int_eq(mfa_verify_device(F.ctx, "alice", F.code, &o, &r), MFA_OK);
    snprintf(F.alice_token, sizeof(F.alice_token), "%s", r.device_token);
    F.now += 3600;
}

static mfa_rc
run_device_check(void)
{
    return mfa_device_check(F.ctx, "alice", F.alice_token, NULL);
}

static mfa_rc
run_forget_all(void)
{
    size_t n = 0;
    mfa_rc rc = mfa_devices_forget_all(F.ctx, "alice", &n);

    if (rc == MFA_OK)
        ck_assert_uint_eq(n, 1);
    else
        ck_assert_uint_eq(n, 0);
    return rc;
}

static mfa_rc
run_password_failed(void)
{
    mfa_result r;
    mfa_rc rc = mfa_password_failed(F.ctx, "alice", F.alice_token, &r);

    ck_assert_int_eq(r.outcome, rc);
    return rc;
}

/* names typed at the password step, idle for a day: expired */
static void
prepare_gc(void)
{
    mfa_result r;

    prepare_common();
    ck_assert_int_eq(mfa_password_failed(F.ctx, "ghost1", NULL, &r), MFA_OK);
    ck_assert_int_eq(mfa_password_failed(F.ctx, "ghost2", NULL, &r), MFA_OK);
    ck_assert_int_eq(mfa_password_failed(F.ctx, "carol", NULL, &r), MFA_OK);
    F.now += 86400;
}

static mfa_rc
run_gc(void)
{
    size_t removed = 9;
    mfa_rc rc = mfa_gc(F.ctx, &removed);

    if (rc == MFA_OK)
        ck_assert_uint_le(removed, 3);
    return rc;
}

static void
after_gc(void)
{
    /* what the fault left is removed now; alice and bob keep theirs */
    size_t removed = 9;

    ck_assert_int_eq(mfa_gc(F.ctx, &removed), MFA_OK);
    ck_assert_int_eq(mfa_gc(F.ctx, &removed), MFA_OK);
    ck_assert_uint_eq(removed, 0);
    ck_assert_uint_eq(failures_of("alice"), 2);
}

static const flow flows[] = {
    {"enroll_begin", prepare_common, run_enroll_begin, MFA_OK, NULL, 0},
    {"confirm", prepare_confirm, run_confirm, MFA_OK, NULL, 0},
    {"verify right", prepare_verify_right, run_verify, MFA_OK, NULL, 0},
    {"verify wrong", prepare_verify_wrong, run_verify, MFA_ERR_CODE_WRONG,
     after_verify_wrong, 0},
    {"recover", prepare_common, run_recover, MFA_OK, NULL, 0},
    {"backup_codes_new", prepare_common, run_backup_new, MFA_OK,
     after_backup_new, 0},
    {"oob_begin", prepare_common, run_oob_begin, MFA_OK, NULL, 0},
    {"oob_verify", prepare_oob_verify, run_oob_verify, MFA_OK, NULL, 0},
    {"factor_remove", prepare_remove, run_remove, MFA_OK, NULL, 0},
    {"reset", prepare_common, run_reset, MFA_OK, NULL, 0},
    {"keyring rotate", prepare_rotate, run_rotate, MFA_OK, after_rotate, 1},
    {"verify device", prepare_verify_device, run_verify_device, MFA_OK, NULL,
     0},
    {"device check", prepare_device_check, run_device_check, MFA_OK, NULL, 0},
    {"devices forget all", prepare_common, run_forget_all, MFA_OK, NULL, 0},
    {"password failed", prepare_common, run_password_failed, MFA_OK, NULL, 0},
    {"gc", prepare_gc, run_gc, MFA_OK, after_gc, 1},
};
#define NFLOWS (sizeof(flows) / sizeof(flows[0]))

/* The flow's accounts as they are. */
static void
dump_all(dump d[3])
{
    dump_of("alice", &d[0]);
    dump_of("bob", &d[1]);
    dump_of("carol", &d[2]);
}

START_TEST(every_call_fails_in_turn)
{
    const flow *fl = &flows[_i];
    unsigned k, calls = 0;

    for (k = 1; k <= MAX_CALLS; k++) {
        mfa_rc err = errors[k % NERRORS], rc;
        dump before[3], after[3];
        int i;

        fixture_up();
        fl->prepare();
        dump_all(before);
        F.successes = 0;
        fault_store_arm(F.fs, k, err);
        rc = fl->run();
        if (!fault_store_fired(F.fs)) {
            /* k is past the flow's last call: it ran whole */
            calls = fault_store_calls(F.fs);
            ck_assert_msg(rc == fl->healthy, "%s without a fault: %s", fl->name,
                          mfa_strerror_name(rc));
            fixture_down();
            break;
        }
        ck_assert_msg(is_store_error(rc),
                      "%s, call %u (%s) failed with %s: the flow gave %s",
                      fl->name, k, fault_store_fired_at(F.fs),
                      mfa_strerror_name(err), mfa_strerror_name(rc));
        ck_assert_msg(F.successes == 0, "%s, call %u (%s): a success event",
                      fl->name, k, fault_store_fired_at(F.fs));
        fault_store_arm(F.fs, 0, MFA_OK);
        if (!fl->multi_txn) {
            dump_all(after);
            for (i = 0; i < 3; i++)
                assert_dump_eq(&after[i], &before[i]);
        }
        if (fl->after_fault != NULL) {
            fl->after_fault();
        } else {
            /* nothing was spent or lost: the flow works now */
            rc = fl->run();
            ck_assert_msg(rc == fl->healthy, "%s after call %u (%s) failed: %s",
                          fl->name, k, fault_store_fired_at(F.fs),
                          mfa_strerror_name(rc));
        }
        fixture_down();
    }
    ck_assert_msg(calls >= 2 && k <= MAX_CALLS, "%s: %u calls", fl->name,
                  calls);
    fprintf(stderr, "%s: %u store calls, each failed in turn\n", fl->name,
            calls);
}
END_TEST

static Suite *
faults_suite(void)
{
    Suite *s = suite_create("faults");
    TCase *tc = tcase_create("flows");

    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, every_call_fails_in_turn, 0, (int)NFLOWS);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run(faults_suite());
}
