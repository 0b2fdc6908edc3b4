/*
 * The service layer: the flows a login backend calls, on top of a store and
 * a key ring.
 *
 * One flow, one transaction.  Every flow that checks something a user typed
 * (enrollment confirmation, login code, backup code, out-of-band code, a
 * passkey's assertion in lib/webauthn_flow.c) runs through
 * mfa_int_attempt() below: one write transaction scoped to the account that
 * reads the throttle row, counts the attempt, reads what it checks against,
 * decides, spends what was used, writes the final throttle row and commits.
 * One durable commit per flow; a store error anywhere rolls the whole flow
 * back and accepts nothing; the verdict (return value, result, event)
 * leaves the library only after that commit.  The arithmetic and the choice
 * of verdict are pure functions (lib/rules.c).  Arguments are validated
 * before the store is touched, so bad input changes no stored state.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include <mfa/service.h>
#include <mfa/store-backend.h>

#include "internal.h"
#include "otp_int.h"
#include "keyring.h"
#include "rules.h"
#include "service_int.h"
#include "store/store_int.h"
#include "store/txn.h"
#include "text.h"

struct mfa_enrollment {
    char id[MFA_FACTOR_ID_LEN + 1];
    char issuer[MFA_ISSUER_MAX + 1];
    char account[MFA_ACCOUNT_MAX + 1];
    char *uri;     /* holds the secret */
    char *grouped; /* holds the secret */
    char *secret;  /* holds the secret */
};

/* Longest typed code we look at; anything longer is malformed. */
#define CODE_TYPED_MAX 64
/* Attempts at a fresh factor id before giving up (a collision of 64 random
 * bits twice in a row means the RNG is broken). */
#define ID_TRIES 4
/* Factors read per page by key rotation. */
#define SCAN_PAGE 64

/* ---- small helpers ----------------------------------------------------- */

int64_t
mfa_int_ctx_now(const mfa_ctx_t *ctx)
{
    if (ctx->clock != NULL)
        return ctx->clock(ctx->clock_arg);
    return (int64_t)time(NULL);
}

/* A clock the store can record: from 1970 to the end of year 9999. */
static mfa_rc
check_now(int64_t now)
{
    return now >= 0 && now <= MFA_INT_TIME_MAX ? MFA_OK : MFA_ERR_TIME;
}

mfa_rc
mfa_int_check_now(int64_t now)
{
    return check_now(now);
}

static mfa_rc
check_text(const char *s, size_t max, int required)
{
    return mfa_int_text_field(s, max, required);
}

static mfa_rc
check_account(const char *account)
{
    return check_text(account, MFA_ACCOUNT_MAX, 1);
}

mfa_rc
mfa_int_check_account(const char *account)
{
    return check_account(account);
}

static mfa_rc
check_factor_id(const char *id)
{
    if (id == NULL)
        return MFA_ERR_INVALID;
    return mfa_int_factor_id_ok(id) ? MFA_OK : MFA_ERR_INVALID;
}

/*
 * The shape every numeric code has whatever the factor: digits and spaces,
 * min..max digits.  A code failing this can match nothing, so it is refused
 * before the throttle counts it (bad input changes no stored state).
 */
static mfa_rc
check_code_shape(const char *code, unsigned min, unsigned max)
{
    unsigned n = 0;
    size_t i;

    if (code == NULL)
        return MFA_ERR_CODE_FORMAT;
    for (i = 0; code[i] != '\0'; i++) {
        if (i >= CODE_TYPED_MAX)
            return MFA_ERR_CODE_FORMAT;
        if (code[i] == ' ')
            continue;
        if (code[i] < '0' || code[i] > '9')
            return MFA_ERR_CODE_FORMAT;
        n++;
    }
    return (n >= min && n <= max) ? MFA_OK : MFA_ERR_CODE_FORMAT;
}

static void
result_init(mfa_result *res)
{
    memset(res, 0, sizeof(*res));
}

void
mfa_int_ctx_emit(const mfa_ctx_t *ctx, mfa_event_type type, const char *account,
                 const char *factor_id, mfa_rc rc, int64_t now,
                 uint32_t failures)
{
    mfa_event ev;

    if (ctx->ev == NULL)
        return;
    ev.type = type;
    ev.account = account;
    ev.factor_id = factor_id;
    ev.rc = rc;
    ev.time = now;
    ev.failures = failures;
    ctx->ev(&ev, ctx->ev_arg);
}

/* The flow's event, or STORE_ERROR when the store failed. */
static void
emit_rc(const mfa_ctx_t *ctx, mfa_event_type type, const char *account,
        const char *factor_id, mfa_rc rc, int64_t now, uint32_t failures)
{
    mfa_int_ctx_emit(ctx,
                     mfa_int_is_store_error(rc) ? MFA_EV_STORE_ERROR : type,
                     account, factor_id, rc, now, failures);
}

void
mfa_int_ctx_emit_rc(const mfa_ctx_t *ctx, mfa_event_type type,
                    const char *account, const char *factor_id, mfa_rc rc,
                    int64_t now, uint32_t failures)
{
    emit_rc(ctx, type, account, factor_id, rc, now, failures);
}

void
mfa_int_new_factor_id(char id[MFA_FACTOR_ID_LEN + 1])
{
    uint8_t raw[MFA_FACTOR_ID_LEN / 2];

    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(id, MFA_FACTOR_ID_LEN + 1, raw, sizeof(raw));
}

/*
 * A write transaction with nothing but plain writes (administration): run
 * body, commit on MFA_OK, roll back otherwise.
 */
typedef mfa_rc (*txn_body)(const mfa_ctx_t *ctx, mfa_int_txn *x, void *arg);

static mfa_rc
in_txn(const mfa_ctx_t *ctx, const char *account, mfa_txn_mode mode,
       txn_body body, void *arg)
{
    mfa_int_txn x;
    mfa_rc rc = mfa_int_txn_begin(ctx->store, account, mode, &x);

    if (rc != MFA_OK)
        return rc;
    rc = body(ctx, &x, arg);
    if (rc != MFA_OK) {
        mfa_int_txn_rollback(&x);
        return rc;
    }
    return mfa_int_txn_commit(&x);
}

/* A string argument of a transaction body. */
typedef struct text_arg {
    const char *text;
} text_arg;

/* ---- the attempt pipeline ---------------------------------------------- */

/*
 * The pipeline.  A presented token is resolved first: a known device
 * spends its own throttle bucket, anything else the account's "unknown
 * devices" bucket; a token that is not one of the account's devices ends
 * the flow before anything is counted.  A success rotates or issues the
 * device's token in the same transaction.
 */
mfa_rc
mfa_int_attempt(const mfa_ctx_t *ctx, const char *account, int64_t now,
                const mfa_int_attempt_spec *sp, mfa_result *res)
{
    mfa_throttle_rec before, after;
    mfa_device_rec known;
    char bucket[MFA_BUCKET_MAX + 1];
    mfa_int_txn x;
    mfa_rc rc, verdict;
    int had_row, is_known = 0, wrote = 0;

    memset(&known, 0, sizeof(known));
    rc = mfa_int_txn_begin(ctx->store, account, MFA_TXN_WRITE, &x);
    if (rc != MFA_OK)
        goto out;
    if (sp->tok != NULL) {
        rc = mfa_int_device_lookup(ctx, &x, sp->tok, &known);
        if (rc != MFA_OK)
            goto fail; /* unknown: nothing counted, nothing written */
        is_known = 1;
    }
    if (sp->shape != NULL && (rc = sp->shape(ctx, &x, now, sp->arg)) != MFA_OK)
        goto fail; /* malformed: nothing counted, nothing written */
    mfa_int_bucket_of(is_known ? known.id : NULL, 0, bucket);
    rc = mfa_int_txn_throttle_get(&x, bucket, &before);
    had_row = rc == MFA_OK;
    if (rc != MFA_OK && rc != MFA_ERR_NOT_FOUND)
        goto fail;

    /* every attempt is counted, a throttled one included */
    mfa_int_throttle_count(&ctx->throttle, &before, now, &after);
    if (mfa_int_throttle_locked(&before, now)) {
        verdict = MFA_ERR_THROTTLED;
    } else {
        verdict = sp->check(ctx, &x, now, res, sp->arg);
        if (mfa_int_is_store_error(verdict)) {
            rc = verdict;
            goto fail;
        }
    }
    if (verdict == MFA_OK) {
        /* a success clears the count: no row left behind */
        rc = had_row ? mfa_int_txn_throttle_delete(&x, bucket) : MFA_OK;
        memset(&after, 0, sizeof(after));
        if (rc == MFA_OK)
            rc = mfa_int_device_issue(ctx, &x, now, sp->dev,
                                      is_known ? &known : NULL, res);
    } else if (mfa_int_attempt_counts(verdict, had_row)) {
        rc = mfa_int_txn_throttle_put(&x, &after);
        wrote = 1;
    } else {
        rc = MFA_OK;
    }
    if (rc != MFA_OK)
        goto fail;
    /* nothing leaves the library before the count is durable */
    rc = mfa_int_txn_commit(&x);
    if (rc != MFA_OK)
        goto out;
    rc = verdict;
    res->failures = verdict == MFA_OK || wrote ? after.failures : 0;
    if (rc != MFA_OK && wrote)
        res->retry_after = mfa_int_retry_after(&after, now);
    goto out;

fail:
    mfa_int_txn_rollback(&x);
out:
    sodium_memzero(&known, sizeof(known));
    if (rc != MFA_OK) {
        /* nothing of a failed flow is reported as matched */
        memset(res->factor_id, 0, sizeof(res->factor_id));
        res->offset = 0;
        sodium_memzero(res->device_id, sizeof(res->device_id));
        sodium_memzero(res->device_token, sizeof(res->device_token));
        if (mfa_int_is_store_error(rc) || rc == MFA_ERR_DEVICE_UNKNOWN) {
            res->failures = 0;
            res->retry_after = 0;
        }
    }
    res->outcome = rc;
    emit_rc(ctx,
            rc == MFA_OK                    ? sp->ok_event
            : rc == MFA_ERR_REPLAYED        ? MFA_EV_REPLAY
            : rc == MFA_ERR_THROTTLED       ? MFA_EV_THROTTLED
            : rc == MFA_ERR_WEBAUTHN_CLONED ? MFA_EV_WEBAUTHN_CLONED
                                            : sp->fail_event,
            account,
            rc == MFA_OK && res->factor_id[0] ? res->factor_id : sp->factor_id,
            rc, now, res->failures);
    mfa_int_gc_tick(ctx);
    return rc;
}

mfa_rc
mfa_int_attempt_device(const mfa_ctx_t *ctx, const char *account, int64_t now,
                       mfa_event_type fail_event, const mfa_device_opts *dev,
                       mfa_int_attempt_spec *sp, mfa_int_token *tok)
{
    int has = 0;
    mfa_rc rc = mfa_int_device_opts_check(dev, tok, &has);

    sp->dev = dev;
    sp->tok = has ? tok : NULL;
    if (rc != MFA_OK)
        mfa_int_ctx_emit(ctx, fail_event, account, NULL, rc, now, 0);
    return rc;
}

/* ---- checking a code against one factor -------------------------------- */

/*
 * One guarded buffer per thread holds the unsealed key and the mfa_otp_t
 * built from it while a factor is checked, and is wiped right after.
 * sodium_malloc costs an mmap, an mprotect and an mlock, and those take
 * the process's memory-map lock: allocating per verify made a second
 * thread slower than one.  The buffer keeps what the guarded allocation
 * gave (guard pages, locked, out of core dumps) without the per-call
 * system calls; it is freed when its thread exits.
 */
#define SCRATCH_ROUND(n) (((n) + 63u) & ~(size_t)63u)

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static int scratch_key_ok;

static void
scratch_release(void *p)
{
    sodium_free(p);
}

static void
scratch_make_key(void)
{
    scratch_key_ok = pthread_key_create(&scratch_key, scratch_release) == 0;
}

static size_t
scratch_size(void)
{
    return SCRATCH_ROUND(mfa_int_otp_size()) + SCRATCH_ROUND(MFA_SECRET_MAX);
}

static uint8_t *
scratch_get(void)
{
    uint8_t *p;

    if (pthread_once(&scratch_once, scratch_make_key) != 0 || !scratch_key_ok)
        return NULL;
    p = pthread_getspecific(scratch_key);
    if (p == NULL) {
        p = sodium_malloc(scratch_size());
        if (p == NULL)
            return NULL;
        if (pthread_setspecific(scratch_key, p) != 0) {
            sodium_free(p);
            return NULL;
        }
    }
    return p;
}

static void
scratch_wipe(uint8_t *p)
{
    if (p != NULL)
        sodium_memzero(p, scratch_size());
}

/* The factor's OTP object, built in this thread's scratch. */
static mfa_rc
otp_of(const mfa_ctx_t *ctx, const mfa_factor_rec *f, uint8_t *scratch,
       mfa_otp_t **out)
{
    mfa_otp_t *o = (mfa_otp_t *)(void *)scratch;
    uint8_t *key = scratch + SCRATCH_ROUND(mfa_int_otp_size());
    size_t keylen = 0;
    mfa_rc rc;

    rc = mfa_int_unseal_into(ctx->kr, f->account, f->id, f->sealed,
                             f->sealed_len, key, MFA_SECRET_MAX, &keylen);
    if (rc != MFA_OK)
        return rc;
    rc = mfa_int_otp_init(o, key, keylen);
    sodium_memzero(key, keylen);
    if (rc != MFA_OK)
        return rc;
    if ((rc = mfa_otp_set_type(o, f->type)) != MFA_OK ||
        (rc = mfa_otp_set_algorithm(o, f->algorithm)) != MFA_OK ||
        (rc = mfa_otp_set_digits(o, f->digits)) != MFA_OK ||
        (rc = mfa_otp_set_period(
             o, f->type == MFA_TOTP ? f->period : MFA_PERIOD_DEFAULT)) !=
            MFA_OK ||
        (rc = mfa_otp_set_t0(o, f->t0)) != MFA_OK)
        return rc;
    *out = o;
    return MFA_OK;
}

/*
 * TOTP: the window past..future around now's step shifted by the factor's
 * remembered drift (centre 0 when `centred` is 0, as at confirmation).
 * HOTP: counters last_step+1 .. +lookahead, and the `lookahead` counters at
 * or below last_step to tell a replay from a wrong code.  Every candidate
 * is computed whatever matches.
 */
static void
check_factor(const mfa_ctx_t *ctx, const mfa_factor_rec *f, const char *code,
             int64_t now, int centred, mfa_int_check *out)
{
    uint8_t *scratch = scratch_get();
    mfa_otp_t *o = NULL;
    mfa_rc rc;

    out->rc = MFA_ERR_CODE_WRONG;
    out->step = 0;
    out->offset = 0;
    if (scratch == NULL) {
        out->rc = MFA_ERR_NOMEM;
        return;
    }
    rc = otp_of(ctx, f, scratch, &o);
    if (rc != MFA_OK) {
        scratch_wipe(scratch);
        out->rc = rc;
        return;
    }
    if (f->type == MFA_TOTP && (now < 0 || now > INT64_MAX / 2)) {
        /* a clock this far off cannot be shifted by the drift safely */
        rc = MFA_ERR_TIME;
    } else if (f->type == MFA_TOTP) {
        int32_t d = centred ? mfa_int_clamp_drift(f->drift, ctx->drift_max) : 0;
        uint64_t ms = 0;
        int32_t off = 0;

        rc = mfa_otp_totp_verify(o, code, now + (int64_t)d * f->period,
                                 ctx->past, ctx->future, f->last_step, &ms,
                                 &off);
        if (rc == MFA_OK) {
            out->step = (int64_t)ms;
            out->offset = d + off;
        } else if (rc == MFA_ERR_TIME) {
            rc = MFA_ERR_CODE_WRONG; /* a shifted clock before T0 */
        }
    } else if (f->last_step < MFA_STEP_NONE ||
               f->last_step > INT64_MAX - MFA_LOOKAHEAD_MAX - 1) {
        rc = MFA_ERR_COUNTER; /* a stored counter at the end of its range */
    } else {
        uint64_t first = (uint64_t)(f->last_step + 1), next = 0, old = 0;
        uint64_t back = first < ctx->lookahead ? first : ctx->lookahead;
        mfa_rc rc_old = MFA_ERR_CODE_WRONG;

        rc = mfa_otp_hotp_verify(o, code, first, ctx->lookahead, &next);
        if (back > 0)
            rc_old = mfa_otp_hotp_verify(o, code, first - back,
                                         (unsigned)(back - 1), &old);
        if (rc == MFA_OK) {
            out->step = (int64_t)(next - 1);
            out->offset = (int32_t)(next - 1 - first);
        } else if (rc == MFA_ERR_CODE_WRONG && rc_old == MFA_OK) {
            rc = MFA_ERR_REPLAYED;
        }
    }
    out->rc = rc;
    scratch_wipe(scratch);
}

/* ---- the context ------------------------------------------------------- */

mfa_rc
mfa_ctx_new(mfa_ctx_t **out, mfa_store_t *store, const mfa_keyring_t *kr)
{
    mfa_ctx_t *ctx;

    if (out == NULL)
        return MFA_ERR_INVALID;
    *out = NULL;
    if (store == NULL || kr == NULL)
        return MFA_ERR_INVALID;
    if (mfa_int_init() != MFA_OK)
        return MFA_ERR_INTERNAL;
    ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL)
        return MFA_ERR_NOMEM;
    ctx->store = store;
    ctx->kr = kr;
    memcpy(ctx->issuer, "libmfa", sizeof("libmfa"));
    ctx->past = MFA_PAST_DEFAULT;
    ctx->future = MFA_FUTURE_DEFAULT;
    ctx->drift_max = MFA_DRIFT_MAX_DEFAULT;
    ctx->lookahead = MFA_HOTP_LOOKAHEAD_DEFAULT;
    ctx->throttle.free_attempts = MFA_THROTTLE_FREE_DEFAULT;
    ctx->throttle.base_delay = MFA_THROTTLE_BASE_DEFAULT;
    ctx->throttle.max_delay = MFA_THROTTLE_MAX_DEFAULT;
    ctx->pending_ttl = MFA_PENDING_TTL_DEFAULT;
    ctx->oob_digits = MFA_OOB_DIGITS_DEFAULT;
    ctx->oob_ttl = MFA_OOB_TTL_DEFAULT;
    ctx->oob_attempts = MFA_OOB_ATTEMPTS_DEFAULT;
    ctx->max_devices = MFA_DEVICES_DEFAULT;
    ctx->remember_max_days = MFA_REMEMBER_DAYS_MAX_DEFAULT;
    ctx->gc_every = MFA_GC_EVERY_DEFAULT;
    ctx->gc_idle = MFA_GC_IDLE_DEFAULT;
    ctx->gc = calloc(1, sizeof(*ctx->gc));
    if (ctx->gc == NULL) {
        free(ctx);
        return MFA_ERR_NOMEM;
    }
    atomic_init(&ctx->gc->tick, 0);
    if (pthread_mutex_init(&ctx->gc->mu, NULL) != 0) {
        free(ctx->gc);
        free(ctx);
        return MFA_ERR_INTERNAL;
    }
    *out = ctx;
    return MFA_OK;
}

void
mfa_ctx_free(mfa_ctx_t **ctx)
{
    if (ctx == NULL || *ctx == NULL)
        return;
    pthread_mutex_destroy(&(*ctx)->gc->mu);
    free((*ctx)->gc);
    free(*ctx);
    *ctx = NULL;
}

void
mfa_ctx_set_clock(mfa_ctx_t *ctx, mfa_clock_fn fn, void *arg)
{
    if (ctx == NULL)
        return;
    ctx->clock = fn;
    ctx->clock_arg = fn != NULL ? arg : NULL;
}

mfa_rc
mfa_ctx_set_issuer(mfa_ctx_t *ctx, const char *issuer)
{
    mfa_rc rc;

    if (ctx == NULL)
        return MFA_ERR_INVALID;
    if ((rc = check_text(issuer, MFA_ISSUER_MAX, 1)) != MFA_OK)
        return rc;
    /* apps mis-read a colon in the issuer (docs/interop.md) */
    if (strchr(issuer, ':') != NULL)
        return MFA_ERR_COLON;
    memcpy(ctx->issuer, issuer, strlen(issuer) + 1);
    return MFA_OK;
}

mfa_rc
mfa_ctx_set_window(mfa_ctx_t *ctx, unsigned past, unsigned future,
                   unsigned drift_max)
{
    if (ctx == NULL)
        return MFA_ERR_INVALID;
    if (past > MFA_WINDOW_MAX || future > MFA_WINDOW_MAX ||
        drift_max > MFA_WINDOW_MAX)
        return MFA_ERR_WINDOW;
    ctx->past = past;
    ctx->future = future;
    ctx->drift_max = drift_max;
    return MFA_OK;
}

mfa_rc
mfa_ctx_set_hotp_lookahead(mfa_ctx_t *ctx, unsigned lookahead)
{
    if (ctx == NULL)
        return MFA_ERR_INVALID;
    if (lookahead > MFA_LOOKAHEAD_MAX)
        return MFA_ERR_WINDOW;
    ctx->lookahead = lookahead;
    return MFA_OK;
}

mfa_rc
mfa_ctx_set_throttle(mfa_ctx_t *ctx, const mfa_throttle_policy *p)
{
    if (ctx == NULL || p == NULL)
        return MFA_ERR_INVALID;
    if (p->max_delay < p->base_delay)
        return MFA_ERR_INVALID;
    /* a delay that starts at 0 never grows until it jumps to the cap:
     * either throttle (base > 0) or do not (max 0) */
    if (p->base_delay == 0 && p->max_delay != 0)
        return MFA_ERR_INVALID;
    ctx->throttle = *p;
    return MFA_OK;
}

mfa_rc
mfa_ctx_set_pending_ttl(mfa_ctx_t *ctx, int64_t seconds)
{
    if (ctx == NULL || seconds <= 0 || seconds > INT32_MAX)
        return MFA_ERR_INVALID;
    ctx->pending_ttl = seconds;
    return MFA_OK;
}

mfa_rc
mfa_ctx_set_oob(mfa_ctx_t *ctx, unsigned digits, int64_t ttl, int32_t attempts)
{
    if (ctx == NULL)
        return MFA_ERR_INVALID;
    if (digits < 6 || digits > 8)
        return MFA_ERR_DIGITS;
    if (ttl <= 0 || ttl > INT32_MAX || attempts <= 0)
        return MFA_ERR_INVALID;
    ctx->oob_digits = digits;
    ctx->oob_ttl = ttl;
    ctx->oob_attempts = attempts;
    return MFA_OK;
}

void
mfa_ctx_set_event_cb(mfa_ctx_t *ctx, mfa_event_fn fn, void *arg)
{
    if (ctx == NULL)
        return;
    ctx->ev = fn;
    ctx->ev_arg = arg;
}

void
mfa_ctx_set_oob_sender(mfa_ctx_t *ctx, mfa_oob_send_fn fn, void *arg)
{
    if (ctx == NULL)
        return;
    ctx->send = fn;
    ctx->send_arg = arg;
}

const char *
mfa_event_name(mfa_event_type type)
{
    static const char *const names[] = {
        [MFA_EV_ENROLL_BEGIN] = "enroll_begin",
        [MFA_EV_ENROLL_CONFIRM] = "enroll_confirm",
        [MFA_EV_VERIFY_OK] = "verify_ok",
        [MFA_EV_VERIFY_FAIL] = "verify_fail",
        [MFA_EV_REPLAY] = "replay",
        [MFA_EV_THROTTLED] = "throttled",
        [MFA_EV_RECOVER_OK] = "recover_ok",
        [MFA_EV_RECOVER_FAIL] = "recover_fail",
        [MFA_EV_BACKUP_CODES_NEW] = "backup_codes_new",
        [MFA_EV_OOB_BEGIN] = "oob_begin",
        [MFA_EV_OOB_OK] = "oob_ok",
        [MFA_EV_OOB_FAIL] = "oob_fail",
        [MFA_EV_FACTOR_RENAME] = "factor_rename",
        [MFA_EV_FACTOR_REMOVE] = "factor_remove",
        [MFA_EV_RESET] = "reset",
        [MFA_EV_KEY_ROTATE] = "key_rotate",
        [MFA_EV_STORE_ERROR] = "store_error",
        [MFA_EV_FACTOR_IMPORT] = "factor_import",
        [MFA_EV_DEVICE_FORGET] = "device_forget",
        [MFA_EV_PASSWORD_FAIL] = "password_fail",
        [MFA_EV_GC] = "gc",
        [MFA_EV_WEBAUTHN_REGISTER] = "webauthn_register",
        [MFA_EV_WEBAUTHN_OK] = "webauthn_ok",
        [MFA_EV_WEBAUTHN_FAIL] = "webauthn_fail",
        [MFA_EV_WEBAUTHN_CLONED] = "webauthn_cloned",
    };
    size_t i = (size_t)type;

    if (i >= sizeof(names) / sizeof(names[0]) || names[i] == NULL)
        return "unknown";
    return names[i];
}

/* ---- enrollment -------------------------------------------------------- */

const char *
mfa_enrollment_factor_id(const mfa_enrollment_t *e)
{
    return e ? e->id : NULL;
}

const char *
mfa_enrollment_uri(const mfa_enrollment_t *e)
{
    return e ? e->uri : NULL;
}

const char *
mfa_enrollment_manual_key(const mfa_enrollment_t *e)
{
    return e ? e->grouped : NULL;
}

const char *
mfa_enrollment_secret(const mfa_enrollment_t *e)
{
    return e ? e->secret : NULL;
}

const char *
mfa_enrollment_issuer(const mfa_enrollment_t *e)
{
    return e ? e->issuer : NULL;
}

const char *
mfa_enrollment_account(const mfa_enrollment_t *e)
{
    return e ? e->account : NULL;
}

mfa_rc
mfa_enrollment_qr(const mfa_enrollment_t *e, mfa_qr_t **out)
{
    if (out == NULL)
        return MFA_ERR_INVALID;
    *out = NULL;
    if (e == NULL || e->uri == NULL)
        return MFA_ERR_INVALID;
    return mfa_qr_new(out, e->uri, MFA_QR_ECC_M);
}

void
mfa_enrollment_free(mfa_enrollment_t **e)
{
    if (e == NULL || *e == NULL)
        return;
    mfa_string_free(&(*e)->uri);
    mfa_string_free(&(*e)->grouped);
    mfa_string_free(&(*e)->secret);
    sodium_memzero(*e, sizeof(**e));
    free(*e);
    *e = NULL;
}

/* ---- reading an account's factors -------------------------------------- */

/* The factors a flow looks at, in a fixed array: a login allocates
 * nothing. */
typedef struct factor_set {
    mfa_factor_rec v[MFA_FACTORS_MAX];
    size_t n;
    int64_t pending_after; /* pending ones created before are expired */
    int active_only;
    size_t expired; /* expired pending factors seen */
    char expired_id[MFA_FACTORS_MAX][MFA_FACTOR_ID_LEN + 1]; /* the first */
    size_t over; /* factors beyond the array */
} factor_set;

static mfa_rc
set_push(const mfa_factor_rec *f, void *arg)
{
    factor_set *fs = arg;

    if (f->status != MFA_FACTOR_ACTIVE) {
        if (f->created < fs->pending_after) {
            if (fs->expired < MFA_FACTORS_MAX)
                memcpy(fs->expired_id[fs->expired], f->id,
                       MFA_FACTOR_ID_LEN + 1);
            fs->expired++;
            return MFA_OK;
        }
        if (fs->active_only)
            return MFA_OK;
    }
    if (fs->n == MFA_FACTORS_MAX) {
        fs->over++;
        return MFA_OK;
    }
    fs->v[fs->n++] = *f;
    return MFA_OK;
}

/* Records hold sealed secrets only; wiped all the same. */
static void
set_wipe(factor_set *fs)
{
    sodium_memzero(fs->v, fs->n * sizeof(fs->v[0]));
    fs->n = 0;
}

static mfa_rc
read_factors(const mfa_ctx_t *ctx, mfa_int_txn *x, int64_t now, int active_only,
             factor_set *fs)
{
    mfa_rc rc;

    fs->n = fs->expired = fs->over = 0;
    fs->active_only = active_only;
    fs->pending_after = now - ctx->pending_ttl;
    rc = mfa_int_txn_factor_list(x, set_push, fs);
    if (rc == MFA_OK && fs->over > 0)
        rc = MFA_ERR_CORRUPT; /* more factors than the library ever writes */
    if (rc != MFA_OK)
        set_wipe(fs);
    return rc;
}

/* ---- enrollment -------------------------------------------------------- */

typedef struct enroll_txn {
    mfa_factor_rec *f; /* filled but for id and sealed */
    const mfa_secret_t *s;
    int64_t now;
} enroll_txn;

/*
 * Count and insert in one transaction, so that concurrent enrollments of
 * one account never pass MFA_FACTORS_MAX; expired pending factors of the
 * account go on the way.
 */
static mfa_rc
enroll_body(const mfa_ctx_t *ctx, mfa_int_txn *x, void *arg)
{
    enroll_txn *e = arg;
    factor_set fs;
    mfa_rc rc;

    rc = read_factors(ctx, x, e->now, 0, &fs);
    if (rc == MFA_OK && fs.n >= MFA_FACTORS_MAX)
        rc = MFA_ERR_EXISTS;
    set_wipe(&fs);
    /* the account's own expired enrollments go on the way (the rest by
     * mfa_expire_pending), so abandoned set-ups do not pile up */
    for (size_t i = 0; rc == MFA_OK && i < fs.expired && i < MFA_FACTORS_MAX;
         i++) {
        rc = mfa_int_txn_factor_delete(x, fs.expired_id[i]);
        if (rc == MFA_ERR_NOT_FOUND)
            rc = MFA_OK;
    }
    if (rc != MFA_OK)
        return rc;

    rc = MFA_ERR_EXISTS;
    for (int t = 0; t < ID_TRIES && rc == MFA_ERR_EXISTS; t++) {
        size_t len = 0;

        mfa_int_new_factor_id(e->f->id);
        rc = mfa_seal(ctx->kr, e->f->account, e->f->id, e->s, e->f->sealed,
                      sizeof(e->f->sealed), &len);
        if (rc != MFA_OK)
            return rc;
        e->f->sealed_len = (uint32_t)len;
        rc = mfa_int_txn_factor_insert(x, e->f);
    }
    return rc;
}

static mfa_rc
enroll_build(mfa_enrollment_t *e, const mfa_secret_t *s, const char *uri)
{
    mfa_rc rc;

    e->uri = strdup(uri);
    if (e->uri == NULL)
        return MFA_ERR_NOMEM;
    if ((rc = mfa_secret_grouped(s, &e->grouped)) != MFA_OK)
        return rc;
    return mfa_secret_base32(s, &e->secret);
}

mfa_rc
mfa_enroll_begin(mfa_ctx_t *ctx, const char *account, const char *label,
                 const mfa_profile_t *profile, mfa_enrollment_t **out)
{
    mfa_enrollment_t *e = NULL;
    mfa_factor_rec *f = NULL;
    mfa_secret_t *s = NULL;
    mfa_uri_t *u = NULL;
    char *uri = NULL;
    enroll_txn et;
    int64_t now;
    mfa_rc rc;

    if (out == NULL)
        return MFA_ERR_INVALID;
    *out = NULL;
    if (ctx == NULL)
        return MFA_ERR_INVALID;
    now = mfa_int_ctx_now(ctx);
    if ((rc = check_account(account)) != MFA_OK) {
        mfa_int_ctx_emit(ctx, MFA_EV_ENROLL_BEGIN, NULL, NULL, rc, now, 0);
        return rc;
    }
    if (label == NULL)
        label = "";
    if ((rc = check_text(label, MFA_LABEL_MAX, 0)) != MFA_OK ||
        (rc = check_now(now)) != MFA_OK)
        goto done;
    if (profile == NULL)
        profile = mfa_profile_default();

    /* everything that can refuse the input runs before the store is
     * written: the URI checks issuer and account (colons, lengths) */
    if ((rc = mfa_secret_new(&s, mfa_profile_secret_bytes(profile))) !=
            MFA_OK ||
        (rc = mfa_uri_new(&u, profile, s, ctx->issuer, account)) != MFA_OK ||
        (rc = mfa_uri_format(u, 0, &uri)) != MFA_OK)
        goto done;

    e = calloc(1, sizeof(*e));
    f = sodium_malloc(sizeof(*f));
    if (e == NULL || f == NULL) {
        rc = MFA_ERR_NOMEM;
        goto done;
    }
    memset(f, 0, sizeof(*f));
    memcpy(f->account, account, strlen(account) + 1);
    memcpy(f->label, label, strlen(label) + 1);
    f->type = mfa_profile_type(profile);
    f->algorithm = mfa_profile_algorithm(profile);
    f->digits = mfa_profile_digits(profile);
    f->period = mfa_profile_period(profile);
    f->t0 = 0;
    /* HOTP: the app's first code is for the URI's start counter */
    f->last_step =
        f->type == MFA_HOTP ? (int64_t)mfa_uri_counter(u) - 1 : MFA_STEP_NONE;
    f->drift = 0;
    f->status = MFA_FACTOR_PENDING;
    f->created = now;
    if ((rc = enroll_build(e, s, uri)) != MFA_OK)
        goto done;
    et.f = f;
    et.s = s;
    et.now = now;
    if ((rc = in_txn(ctx, account, MFA_TXN_WRITE, enroll_body, &et)) != MFA_OK)
        goto done;
    memcpy(e->id, f->id, sizeof(e->id));
    memcpy(e->issuer, ctx->issuer, sizeof(e->issuer));
    memcpy(e->account, account, strlen(account) + 1);
    *out = e;
    e = NULL;

done:
    emit_rc(ctx, MFA_EV_ENROLL_BEGIN, account, rc == MFA_OK ? (*out)->id : NULL,
            rc, now, 0);
    mfa_enrollment_free(&e);
    if (f != NULL)
        sodium_free(f);
    mfa_string_free(&uri);
    mfa_uri_free(&u);
    mfa_secret_free(&s);
    return rc;
}

typedef struct confirm_arg {
    const char *factor_id;
    const char *code;
} confirm_arg;

static mfa_rc
confirm_check(const mfa_ctx_t *ctx, mfa_int_txn *x, int64_t now,
              mfa_result *res, void *arg)
{
    const confirm_arg *a = arg;
    mfa_factor_rec f;
    mfa_int_check chk;
    mfa_rc rc;

    rc = mfa_int_txn_factor_get(x, a->factor_id, &f);
    if (rc != MFA_OK)
        goto out;
    if (f.status != MFA_FACTOR_PENDING) {
        rc = MFA_ERR_STATE;
        goto out;
    }
    if (f.created < now - ctx->pending_ttl) {
        /* too late: the enrollment is dropped with the attempt */
        rc = mfa_int_txn_factor_delete(x, a->factor_id);
        if (rc == MFA_OK || rc == MFA_ERR_NOT_FOUND)
            rc = MFA_ERR_EXPIRED;
        goto out;
    }
    check_factor(ctx, &f, a->code, now, 0, &chk);
    if ((rc = chk.rc) != MFA_OK)
        goto out;
    f.status = MFA_FACTOR_ACTIVE;
    f.last_step = chk.step;
    f.drift = f.type == MFA_TOTP
                  ? mfa_int_clamp_drift(chk.offset, ctx->drift_max)
                  : 0;
    f.confirmed = now;
    f.last_used = now;
    if ((rc = mfa_int_txn_factor_update(x, &f)) == MFA_OK) {
        memcpy(res->factor_id, f.id, sizeof(res->factor_id));
        res->offset = chk.offset;
    }
out:
    sodium_memzero(&f, sizeof(f));
    return rc;
}

/* The number of digits of a typed code (spaces are allowed between). */
static unsigned
code_digits(const char *code)
{
    unsigned n = 0;

    for (size_t i = 0; code[i] != '\0'; i++)
        n += code[i] != ' ';
    return n;
}

static mfa_rc
confirm_shape(const mfa_ctx_t *ctx, mfa_int_txn *x, int64_t now, void *arg)
{
    const confirm_arg *a = arg;
    mfa_factor_rec f;
    mfa_rc rc = mfa_int_txn_factor_get(x, a->factor_id, &f);

    (void)ctx;
    (void)now;
    if (rc == MFA_OK)
        rc = f.status == MFA_FACTOR_PENDING && f.digits != code_digits(a->code)
                 ? MFA_ERR_CODE_FORMAT
                 : MFA_OK;
    else if (rc == MFA_ERR_NOT_FOUND)
        rc = MFA_OK; /* the check says so */
    sodium_memzero(&f, sizeof(f));
    return rc;
}

mfa_rc
mfa_enroll_confirm(mfa_ctx_t *ctx, const char *account, const char *factor_id,
                   const char *code, mfa_result *res)
{
    return mfa_enroll_confirm_device(ctx, account, factor_id, code, NULL, res);
}

mfa_rc
mfa_enroll_confirm_device(mfa_ctx_t *ctx, const char *account,
                          const char *factor_id, const char *code,
                          const mfa_device_opts *dev, mfa_result *res)
{
    mfa_result local;
    mfa_int_token tok;
    confirm_arg a;
    mfa_int_attempt_spec sp;
    int64_t now;
    mfa_rc rc;

    if (res == NULL)
        res = &local;
    result_init(res);
    if (ctx == NULL)
        return res->outcome = MFA_ERR_INVALID;
    now = mfa_int_ctx_now(ctx);
    if ((rc = check_account(account)) != MFA_OK) {
        mfa_int_ctx_emit(ctx, MFA_EV_ENROLL_CONFIRM, NULL, NULL, rc, now, 0);
        return res->outcome = rc;
    }
    if ((rc = check_factor_id(factor_id)) != MFA_OK ||
        (rc = check_code_shape(code, MFA_DIGITS_MIN, MFA_DIGITS_MAX)) !=
            MFA_OK ||
        (rc = check_now(now)) != MFA_OK) {
        mfa_int_ctx_emit(ctx, MFA_EV_ENROLL_CONFIRM, account,
                         rc == MFA_ERR_INVALID ? NULL : factor_id, rc, now, 0);
        return res->outcome = rc;
    }
    a.factor_id = factor_id;
    a.code = code;
    sp.ok_event = sp.fail_event = MFA_EV_ENROLL_CONFIRM;
    sp.factor_id = factor_id;
    sp.check = confirm_check;
    sp.shape = confirm_shape;
    sp.arg = &a;
    if ((rc = mfa_int_attempt_device(ctx, account, now, MFA_EV_ENROLL_CONFIRM,
                                     dev, &sp, &tok)) == MFA_OK)
        rc = mfa_int_attempt(ctx, account, now, &sp, res);
    sodium_memzero(&tok, sizeof(tok));
    return res->outcome = rc;
}

/* ---- login ------------------------------------------------------------- */

typedef struct verify_arg {
    const char *code;
    factor_set fs; /* read by verify_shape */
} verify_arg;

/* The active factors are read once, here; a code whose number of digits
 * no factor has is malformed for this account. */
static mfa_rc
verify_shape(const mfa_ctx_t *ctx, mfa_int_txn *x, int64_t now, void *arg)
{
    verify_arg *a = arg;
    unsigned n = code_digits(a->code);
    int fits = 0;
    mfa_rc rc = read_factors(ctx, x, now, 1, &a->fs);

    if (rc != MFA_OK || a->fs.n == 0)
        return rc; /* no factor: the check says so */
    for (size_t i = 0; i < a->fs.n; i++)
        fits |= a->fs.v[i].digits == n;
    if (!fits) {
        set_wipe(&a->fs);
        return MFA_ERR_CODE_FORMAT;
    }
    return MFA_OK;
}

static mfa_rc
verify_check(const mfa_ctx_t *ctx, mfa_int_txn *x, int64_t now, mfa_result *res,
             void *arg)
{
    verify_arg *a = arg;
    const char *code = a->code;
    mfa_int_check chk[MFA_FACTORS_MAX];
    size_t i, win;
    mfa_rc rc;
    /* every active factor is checked, whatever an earlier one gave, so the
     * time taken depends on the number of factors only */
    for (i = 0; i < a->fs.n; i++) {
        chk[i].active = 1;
        check_factor(ctx, &a->fs.v[i], code, now, 1, &chk[i]);
    }
    rc = mfa_int_verdict(chk, a->fs.n, &win);
    if (rc == MFA_OK) {
        mfa_factor_rec *f = &a->fs.v[win];

        /* the transaction holds the account: what we read is current, and
         * the step is spent before anyone else can read it */
        f->last_step = chk[win].step;
        f->drift = mfa_int_clamp_drift(chk[win].offset, ctx->drift_max);
        f->last_used = now;
        rc = mfa_int_txn_factor_update(x, f);
        if (rc == MFA_OK) {
            memcpy(res->factor_id, f->id, sizeof(res->factor_id));
            res->offset = chk[win].offset;
        }
    }
    set_wipe(&a->fs);
    sodium_memzero(chk, sizeof(chk));
    return rc;
}

mfa_rc
mfa_verify(mfa_ctx_t *ctx, const char *account, const char *code,
           mfa_result *res)
{
    return mfa_verify_device(ctx, account, code, NULL, res);
}

mfa_rc
mfa_verify_device(mfa_ctx_t *ctx, const char *account, const char *code,
                  const mfa_device_opts *dev, mfa_result *res)
{
    mfa_result local;
    mfa_int_token tok;
    mfa_int_attempt_spec sp;
    verify_arg va;
    int64_t now;
    mfa_rc rc;

    if (res == NULL)
        res = &local;
    result_init(res);
    if (ctx == NULL)
        return res->outcome = MFA_ERR_INVALID;
    now = mfa_int_ctx_now(ctx);
    if ((rc = check_account(account)) != MFA_OK) {
        mfa_int_ctx_emit(ctx, MFA_EV_VERIFY_FAIL, NULL, NULL, rc, now, 0);
        return res->outcome = rc;
    }
    if ((rc = check_code_shape(code, MFA_DIGITS_MIN, MFA_DIGITS_MAX)) !=
            MFA_OK ||
        (rc = check_now(now)) != MFA_OK) {
        mfa_int_ctx_emit(ctx, MFA_EV_VERIFY_FAIL, account, NULL, rc, now, 0);
        return res->outcome = rc;
    }
    sp.ok_event = MFA_EV_VERIFY_OK;
    sp.fail_event = MFA_EV_VERIFY_FAIL;
    sp.factor_id = NULL;
    sp.check = verify_check;
    sp.shape = verify_shape;
    va.code = code;
    va.fs.n = 0;
    sp.arg = &va;
    if ((rc = mfa_int_attempt_device(ctx, account, now, MFA_EV_VERIFY_FAIL, dev,
                                     &sp, &tok)) == MFA_OK)
        rc = mfa_int_attempt(ctx, account, now, &sp, res);
    sodium_memzero(&tok, sizeof(tok));
    set_wipe(&va.fs);
    return res->outcome = rc;
}

typedef struct has_arg {
    int64_t now;
    int *has;
} has_arg;

static mfa_rc
any_passkey(const mfa_webauthn_rec *r, void *arg)
{
    (void)r;
    *(int *)arg = 1;
    return MFA_OK;
}

static mfa_rc
has_body(const mfa_ctx_t *ctx, mfa_int_txn *x, void *arg)
{
    has_arg *h = arg;
    factor_set fs;
    mfa_rc rc = read_factors(ctx, x, h->now, 1, &fs);

    if (rc == MFA_OK)
        *h->has = fs.n > 0;
    set_wipe(&fs);
    /* a passkey is a second factor too (an account may hold only those);
     * every stored passkey is active */
    if (rc == MFA_OK && !*h->has) {
        int found = 0;

        rc = mfa_int_txn_webauthn_list(x, any_passkey, &found);
        *h->has = rc == MFA_OK && found;
    }
    return rc;
}

mfa_rc
mfa_account_has_mfa(mfa_ctx_t *ctx, const char *account, int *has)
{
    has_arg h;
    mfa_rc rc;

    if (has == NULL)
        return MFA_ERR_INVALID;
    *has = 0;
    if (ctx == NULL)
        return MFA_ERR_INVALID;
    if ((rc = check_account(account)) != MFA_OK)
        return rc;
    h.now = mfa_int_ctx_now(ctx);
    h.has = has;
    rc = in_txn(ctx, account, MFA_TXN_READ, has_body, &h);
    if (rc != MFA_OK)
        *has = 0;
    return rc;
}

/* ---- recovery ---------------------------------------------------------- */

/*
 * Find the stored hash equal to the typed code's hash under some key id
 * present in recs.  Every distinct key id is hashed and matched in full.
 */
static mfa_rc
backup_find(const mfa_ctx_t *ctx, const char *typed, const mfa_backup_rec *recs,
            size_t n, uint8_t found[MFA_BACKUP_HASHBYTES])
{
    uint8_t set[MFA_BACKUP_COUNT_MAX][MFA_BACKUP_HASHBYTES];
    uint8_t h[MFA_BACKUP_HASHBYTES];
    uint32_t ids[MFA_BACKUP_COUNT_MAX];
    size_t nids = 0, i, j;
    int ok = 0;
    mfa_rc rc = MFA_ERR_CODE_WRONG, err = MFA_OK;

    for (i = 0; i < n; i++) {
        for (j = 0; j < nids && ids[j] != recs[i].key_id; j++)
            ;
        if (j == nids)
            ids[nids++] = recs[i].key_id;
    }
    for (j = 0; j < nids; j++) {
        size_t m = 0, idx = 0;
        mfa_rc r;

        for (i = 0; i < n; i++)
            if (recs[i].key_id == ids[j])
                memcpy(set[m++], recs[i].hash, MFA_BACKUP_HASHBYTES);
        r = mfa_backup_hash(ctx->kr, ids[j], typed, h);
        if (r != MFA_OK) {
            if (err == MFA_OK)
                err = r; /* a key missing from the ring */
            continue;
        }
        r = mfa_backup_match(h, (const uint8_t(*)[MFA_BACKUP_HASHBYTES])set, m,
                             &idx);
        if (r == MFA_OK && !ok) {
            memcpy(found, set[idx], MFA_BACKUP_HASHBYTES);
            ok = 1;
        }
    }
    sodium_memzero(h, sizeof(h));
    if (ok)
        rc = MFA_OK;
    else if (err != MFA_OK && nids == 1)
        rc = err; /* nothing could be checked */
    return rc;
}

static mfa_rc
recover_check(const mfa_ctx_t *ctx, mfa_int_txn *x, int64_t now,
              mfa_result *res, void *arg)
{
    mfa_backup_rec recs[MFA_BACKUP_COUNT_MAX];
    uint8_t hash[MFA_BACKUP_HASHBYTES];
    size_t n = 0;
    mfa_rc rc;

    rc = mfa_int_txn_backup_list(x, recs, MFA_BACKUP_COUNT_MAX, &n);
    if (rc != MFA_OK)
        return rc;
    if (n == 0)
        return MFA_ERR_NO_CODES;
    res->backup_codes_left = (uint32_t)n;
    rc = backup_find(ctx, ((const text_arg *)arg)->text, recs, n, hash);
    if (rc == MFA_OK) {
        rc = mfa_int_txn_backup_use(x, hash, now);
        if (rc == MFA_ERR_NOT_FOUND)
            rc = MFA_ERR_CORRUPT; /* listed unused a moment ago, same txn */
        if (rc == MFA_OK)
            res->backup_codes_left = (uint32_t)(n - 1);
    }
    sodium_memzero(hash, sizeof(hash));
    return rc;
}

mfa_rc
mfa_recover(mfa_ctx_t *ctx, const char *account, const char *backup_code,
            mfa_result *res)
{
    return mfa_recover_device(ctx, account, backup_code, NULL, res);
}

mfa_rc
mfa_recover_device(mfa_ctx_t *ctx, const char *account, const char *backup_code,
                   const mfa_device_opts *dev, mfa_result *res)
{
    char canon[MFA_BACKUP_CHARS + 1];
    text_arg ta;
    mfa_result local;
    mfa_int_token tok;
    mfa_int_attempt_spec sp;
    int64_t now;
    mfa_rc rc;

    if (res == NULL)
        res = &local;
    result_init(res);
    if (ctx == NULL)
        return res->outcome = MFA_ERR_INVALID;
    now = mfa_int_ctx_now(ctx);
    if ((rc = check_account(account)) != MFA_OK) {
        mfa_int_ctx_emit(ctx, MFA_EV_RECOVER_FAIL, NULL, NULL, rc, now, 0);
        return res->outcome = rc;
    }
    /* a malformed code matches nothing: refused before it is counted */
    if (backup_code == NULL)
        rc = MFA_ERR_BACKUP_FORMAT;
    else
        rc = mfa_backup_normalize(backup_code, canon);
    sodium_memzero(canon, sizeof(canon));
    if (rc == MFA_OK)
        rc = check_now(now);
    if (rc != MFA_OK) {
        mfa_int_ctx_emit(ctx, MFA_EV_RECOVER_FAIL, account, NULL, rc, now, 0);
        return res->outcome = rc;
    }
    sp.ok_event = MFA_EV_RECOVER_OK;
    sp.fail_event = MFA_EV_RECOVER_FAIL;
    sp.factor_id = NULL;
    sp.check = recover_check;
    sp.shape = NULL;
    ta.text = backup_code;
    sp.arg = &ta;
    if ((rc = mfa_int_attempt_device(ctx, account, now, MFA_EV_RECOVER_FAIL,
                                     dev, &sp, &tok)) == MFA_OK)
        rc = mfa_int_attempt(ctx, account, now, &sp, res);
    sodium_memzero(&tok, sizeof(tok));
    if (rc != MFA_OK && rc != MFA_ERR_CODE_WRONG && rc != MFA_ERR_REPLAYED)
        res->backup_codes_left = 0;
    return res->outcome = rc;
}

typedef struct codes_arg {
    const mfa_backup_rec *recs;
    size_t n;
    int64_t now;
} codes_arg;

static mfa_rc
codes_body(const mfa_ctx_t *ctx, mfa_int_txn *x, void *arg)
{
    const codes_arg *a = arg;
    mfa_rc rc = mfa_int_txn_backup_clear(x);

    (void)ctx;
    for (size_t i = 0; rc == MFA_OK && i < a->n; i++)
        rc = mfa_int_txn_backup_insert(x, &a->recs[i], a->now);
    return rc;
}

mfa_rc
mfa_backup_codes_new(mfa_ctx_t *ctx, const char *account, size_t n,
                     char ***codes)
{
    mfa_backup_rec *recs = NULL;
    char **c = NULL;
    codes_arg a;
    uint32_t kid;
    int64_t now;
    mfa_rc rc;

    if (codes == NULL)
        return MFA_ERR_INVALID;
    *codes = NULL;
    if (ctx == NULL)
        return MFA_ERR_INVALID;
    now = mfa_int_ctx_now(ctx);
    if ((rc = check_account(account)) != MFA_OK) {
        mfa_int_ctx_emit(ctx, MFA_EV_BACKUP_CODES_NEW, NULL, NULL, rc, now, 0);
        return rc;
    }
    if (n == 0)
        n = MFA_BACKUP_COUNT_DEFAULT;
    if (n > MFA_BACKUP_COUNT_MAX) {
        rc = MFA_ERR_INVALID;
        goto done;
    }
    if ((rc = check_now(now)) != MFA_OK)
        goto done;
    kid = mfa_keyring_current(ctx->kr);
    if (kid == 0) {
        rc = MFA_ERR_KEYRING_EMPTY;
        goto done;
    }
    recs = sodium_allocarray(n, sizeof(*recs));
    if (recs == NULL) {
        rc = MFA_ERR_NOMEM;
        goto done;
    }
    if ((rc = mfa_backup_codes_generate(n, &c)) != MFA_OK)
        goto done;
    for (size_t i = 0; i < n; i++) {
        recs[i].key_id = kid;
        if ((rc = mfa_backup_hash(ctx->kr, kid, c[i], recs[i].hash)) != MFA_OK)
            goto done;
    }
    a.recs = recs;
    a.n = n;
    a.now = now;
    /* the old set goes and the new one comes in one commit */
    if ((rc = in_txn(ctx, account, MFA_TXN_WRITE, codes_body, &a)) != MFA_OK)
        goto done;
    *codes = c;
    c = NULL;

done:
    emit_rc(ctx, MFA_EV_BACKUP_CODES_NEW, account, NULL, rc, now, 0);
    mfa_backup_codes_free(&c, n);
    if (recs != NULL)
        sodium_free(recs);
    return rc;
}

typedef struct left_arg {
    size_t *n;
} left_arg;

static mfa_rc
left_body(const mfa_ctx_t *ctx, mfa_int_txn *x, void *arg)
{
    mfa_backup_rec recs[MFA_BACKUP_COUNT_MAX];
    left_arg *a = arg;

    (void)ctx;
    return mfa_int_txn_backup_list(x, recs, MFA_BACKUP_COUNT_MAX, a->n);
}

mfa_rc
mfa_backup_codes_left(mfa_ctx_t *ctx, const char *account, size_t *n)
{
    left_arg a;
    mfa_rc rc;

    if (n == NULL)
        return MFA_ERR_INVALID;
    *n = 0;
    if (ctx == NULL)
        return MFA_ERR_INVALID;
    if ((rc = check_account(account)) != MFA_OK)
        return rc;
    a.n = n;
    rc = in_txn(ctx, account, MFA_TXN_READ, left_body, &a);
    if (rc != MFA_OK)
        *n = 0;
    return rc;
}

/* ---- out-of-band codes ------------------------------------------------- */

typedef struct oob_arg {
    const char *purpose;
    const char *code;
    mfa_oob_challenge *c;
} oob_arg;

static mfa_rc
oob_put_body(const mfa_ctx_t *ctx, mfa_int_txn *x, void *arg)
{
    (void)ctx;
    return mfa_int_txn_oob_put(x, ((oob_arg *)arg)->c);
}

/* Delete the challenge only if it is still the one we made. */
static mfa_rc
oob_withdraw_body(const mfa_ctx_t *ctx, mfa_int_txn *x, void *arg)
{
    const oob_arg *a = arg;
    mfa_oob_challenge cur;
    mfa_rc rc = mfa_int_txn_oob_get(x, a->purpose, &cur);

    (void)ctx;
    if (rc == MFA_OK &&
        mfa_int_ct_equal(cur.hash, a->c->hash, MFA_BACKUP_HASHBYTES))
        rc = mfa_int_txn_oob_delete(x, a->purpose);
    else if (rc == MFA_OK || rc == MFA_ERR_NOT_FOUND)
        rc = MFA_OK; /* replaced or gone meanwhile */
    sodium_memzero(&cur, sizeof(cur));
    return rc;
}

mfa_rc
mfa_oob_begin(mfa_ctx_t *ctx, const char *account, const char *purpose)
{
    mfa_oob_challenge c;
    char code[MFA_CODE_BUFSIZE];
    oob_arg a;
    int64_t now;
    mfa_rc rc;

    if (ctx == NULL)
        return MFA_ERR_INVALID;
    now = mfa_int_ctx_now(ctx);
    if ((rc = check_account(account)) != MFA_OK) {
        mfa_int_ctx_emit(ctx, MFA_EV_OOB_BEGIN, NULL, NULL, rc, now, 0);
        return rc;
    }
    memset(&c, 0, sizeof(c));
    memset(code, 0, sizeof(code));
    if ((rc = mfa_int_purpose_check(purpose)) != MFA_OK ||
        (rc = check_now(now)) != MFA_OK)
        goto done;
    if (ctx->send == NULL) {
        rc = MFA_ERR_INVALID;
        goto done;
    }
    rc = mfa_oob_challenge_new(ctx->kr, account, purpose, ctx->oob_digits, now,
                               ctx->oob_ttl, ctx->oob_attempts, &c, code,
                               sizeof(code));
    if (rc != MFA_OK)
        goto done;
    a.purpose = purpose;
    a.code = NULL;
    a.c = &c;
    if ((rc = in_txn(ctx, account, MFA_TXN_WRITE, oob_put_body, &a)) != MFA_OK)
        goto done;
    /* the sender runs outside any transaction: a slow SMS gateway must not
     * hold the account's lock */
    rc = ctx->send(account, purpose, code, ctx->send_arg);
    if (rc != MFA_OK) {
        /* a code that never reached the user must not stay valid; if even
         * that fails it expires on its own, and the sender's error is what
         * the caller needs */
        (void)in_txn(ctx, account, MFA_TXN_WRITE, oob_withdraw_body, &a);
        if (rc > 0)
            rc = MFA_ERR_INTERNAL; /* a sender that broke the contract */
    }

done:
    sodium_memzero(code, sizeof(code));
    sodium_memzero(&c, sizeof(c));
    emit_rc(ctx, MFA_EV_OOB_BEGIN, account, NULL, rc, now, 0);
    return rc;
}

static mfa_rc
oob_check(const mfa_ctx_t *ctx, mfa_int_txn *x, int64_t now, mfa_result *res,
          void *arg)
{
    const oob_arg *a = arg;
    mfa_oob_challenge c;
    int32_t before;
    mfa_rc rc, w;

    (void)res;
    rc = mfa_int_txn_oob_get(x, a->purpose, &c);
    if (rc != MFA_OK)
        return rc;
    before = c.attempts_left;
    rc = mfa_oob_challenge_check(ctx->kr, x->account, &c, a->code, now);
    if (rc == MFA_OK)
        w = mfa_int_txn_oob_delete(x, a->purpose); /* spent */
    else if (c.attempts_left != before)
        w = mfa_int_txn_oob_put(x, &c); /* one attempt of it used */
    else
        w = MFA_OK; /* expired, out of attempts: nothing to write */
    sodium_memzero(&c, sizeof(c));
    return w != MFA_OK ? w : rc;
}

mfa_rc
mfa_oob_verify(mfa_ctx_t *ctx, const char *account, const char *purpose,
               const char *code, mfa_result *res)
{
    return mfa_oob_verify_device(ctx, account, purpose, code, NULL, res);
}

mfa_rc
mfa_oob_verify_device(mfa_ctx_t *ctx, const char *account, const char *purpose,
                      const char *code, const mfa_device_opts *dev,
                      mfa_result *res)
{
    mfa_result local;
    mfa_int_token tok;
    mfa_int_attempt_spec sp;
    oob_arg a;
    int64_t now;
    mfa_rc rc;

    if (res == NULL)
        res = &local;
    result_init(res);
    if (ctx == NULL)
        return res->outcome = MFA_ERR_INVALID;
    now = mfa_int_ctx_now(ctx);
    if ((rc = check_account(account)) != MFA_OK) {
        mfa_int_ctx_emit(ctx, MFA_EV_OOB_FAIL, NULL, NULL, rc, now, 0);
        return res->outcome = rc;
    }
    if ((rc = mfa_int_purpose_check(purpose)) == MFA_OK &&
        (rc = check_code_shape(code, ctx->oob_digits, ctx->oob_digits)) ==
            MFA_OK)
        rc = check_now(now);
    if (rc != MFA_OK) {
        mfa_int_ctx_emit(ctx, MFA_EV_OOB_FAIL, account, NULL, rc, now, 0);
        return res->outcome = rc;
    }
    a.purpose = purpose;
    a.code = code;
    a.c = NULL;
    sp.ok_event = MFA_EV_OOB_OK;
    sp.fail_event = MFA_EV_OOB_FAIL;
    sp.factor_id = NULL;
    sp.check = oob_check;
    sp.shape = NULL;
    sp.arg = &a;
    if ((rc = mfa_int_attempt_device(ctx, account, now, MFA_EV_OOB_FAIL, dev,
                                     &sp, &tok)) == MFA_OK)
        rc = mfa_int_attempt(ctx, account, now, &sp, res);
    sodium_memzero(&tok, sizeof(tok));
    return res->outcome = rc;
}

/* ---- administration ---------------------------------------------------- */

typedef struct list_arg {
    mfa_factor_info **list;
    size_t *n;
} list_arg;

typedef struct info_vec {
    mfa_factor_info *v;
    size_t n, cap;
} info_vec;

static mfa_rc
info_push(const mfa_factor_rec *f, void *arg)
{
    info_vec *iv = arg;
    mfa_factor_info *o;

    if (iv->n == iv->cap) {
        size_t cap = iv->cap ? iv->cap * 2 : 8;
        mfa_factor_info *v = realloc(iv->v, cap * sizeof(*v));

        if (v == NULL)
            return MFA_ERR_NOMEM;
        iv->v = v;
        iv->cap = cap;
    }
    o = &iv->v[iv->n++];
    memset(o, 0, sizeof(*o));
    memcpy(o->id, f->id, sizeof(o->id));
    memcpy(o->label, f->label, sizeof(o->label));
    o->type = f->type;
    o->algorithm = f->algorithm;
    o->digits = f->digits;
    o->period = f->period;
    o->status = f->status;
    o->created = f->created;
    o->confirmed = f->confirmed;
    o->last_used = f->last_used;
    return MFA_OK;
}

static mfa_rc
list_body(const mfa_ctx_t *ctx, mfa_int_txn *x, void *arg)
{
    (void)ctx;
    return mfa_int_txn_factor_list(x, info_push, arg);
}

mfa_rc
mfa_factors_list(mfa_ctx_t *ctx, const char *account, mfa_factor_info **list,
                 size_t *n)
{
    info_vec iv = {NULL, 0, 0};
    mfa_rc rc;

    if (list == NULL || n == NULL)
        return MFA_ERR_INVALID;
    *list = NULL;
    *n = 0;
    if (ctx == NULL)
        return MFA_ERR_INVALID;
    if ((rc = check_account(account)) != MFA_OK)
        return rc;
    rc = in_txn(ctx, account, MFA_TXN_READ, list_body, &iv);
    if (rc != MFA_OK) {
        free(iv.v);
        return rc;
    }
    *list = iv.v;
    *n = iv.n;
    return MFA_OK;
}

typedef struct rename_arg {
    const char *id;
    const char *label;
} rename_arg;

/* A factor of the factor table, or else a passkey (lib/webauthn_flow.c):
 * their ids share one namespace. */
static mfa_rc
rename_body(const mfa_ctx_t *ctx, mfa_int_txn *x, void *arg)
{
    const rename_arg *a = arg;
    mfa_factor_rec f;
    mfa_webauthn_rec w;
    mfa_rc rc = mfa_int_txn_factor_get(x, a->id, &f);

    (void)ctx;
    if (rc == MFA_OK) {
        memset(f.label, 0, sizeof(f.label));
        memcpy(f.label, a->label, strlen(a->label) + 1);
        rc = mfa_int_txn_factor_update(x, &f);
    } else if (rc == MFA_ERR_NOT_FOUND &&
               (rc = mfa_int_txn_webauthn_get(x, a->id, &w)) == MFA_OK) {
        memset(w.label, 0, sizeof(w.label));
        memcpy(w.label, a->label, strlen(a->label) + 1);
        rc = mfa_int_txn_webauthn_update(x, &w);
    }
    sodium_memzero(&f, sizeof(f));
    return rc;
}

mfa_rc
mfa_factor_rename(mfa_ctx_t *ctx, const char *account, const char *factor_id,
                  const char *label)
{
    rename_arg a;
    int64_t now;
    mfa_rc rc;

    if (ctx == NULL)
        return MFA_ERR_INVALID;
    now = mfa_int_ctx_now(ctx);
    if ((rc = check_account(account)) != MFA_OK) {
        mfa_int_ctx_emit(ctx, MFA_EV_FACTOR_RENAME, NULL, NULL, rc, now, 0);
        return rc;
    }
    if ((rc = check_factor_id(factor_id)) != MFA_OK) {
        mfa_int_ctx_emit(ctx, MFA_EV_FACTOR_RENAME, account, NULL, rc, now, 0);
        return rc;
    }
    if (label == NULL)
        label = "";
    rc = check_text(label, MFA_LABEL_MAX, 0);
    a.id = factor_id;
    a.label = label;
    if (rc == MFA_OK)
        rc = in_txn(ctx, account, MFA_TXN_WRITE, rename_body, &a);
    emit_rc(ctx, MFA_EV_FACTOR_RENAME, account, factor_id, rc, now, 0);
    return rc;
}

static mfa_rc
remove_body(const mfa_ctx_t *ctx, mfa_int_txn *x, void *arg)
{
    const char *id = ((const text_arg *)arg)->text;
    mfa_rc rc = mfa_int_txn_factor_delete(x, id);

    (void)ctx;
    if (rc == MFA_ERR_NOT_FOUND)
        rc = mfa_int_txn_webauthn_delete(x, id); /* a passkey's id */
    return rc;
}

mfa_rc
mfa_factor_remove(mfa_ctx_t *ctx, const char *account, const char *factor_id)
{
    text_arg ta;
    int64_t now;
    mfa_rc rc;

    if (ctx == NULL)
        return MFA_ERR_INVALID;
    now = mfa_int_ctx_now(ctx);
    if ((rc = check_account(account)) != MFA_OK) {
        mfa_int_ctx_emit(ctx, MFA_EV_FACTOR_REMOVE, NULL, NULL, rc, now, 0);
        return rc;
    }
    if ((rc = check_factor_id(factor_id)) != MFA_OK) {
        mfa_int_ctx_emit(ctx, MFA_EV_FACTOR_REMOVE, account, NULL, rc, now, 0);
        return rc;
    }
    ta.text = factor_id;
    rc = in_txn(ctx, account, MFA_TXN_WRITE, remove_body, &ta);
    emit_rc(ctx, MFA_EV_FACTOR_REMOVE, account, factor_id, rc, now, 0);
    return rc;
}

static mfa_rc
reset_body(const mfa_ctx_t *ctx, mfa_int_txn *x, void *arg)
{
    (void)ctx;
    (void)arg;
    return mfa_int_txn_account_delete(x);
}

mfa_rc
mfa_reset(mfa_ctx_t *ctx, const char *account)
{
    int64_t now;
    mfa_rc rc;

    if (ctx == NULL)
        return MFA_ERR_INVALID;
    now = mfa_int_ctx_now(ctx);
    if ((rc = check_account(account)) != MFA_OK) {
        mfa_int_ctx_emit(ctx, MFA_EV_RESET, NULL, NULL, rc, now, 0);
        return rc;
    }
    rc = in_txn(ctx, account, MFA_TXN_WRITE, reset_body, NULL);
    emit_rc(ctx, MFA_EV_RESET, account, NULL, rc, now, 0);
    return rc;
}

/* Reseal one factor in its account's transaction, if it is still sealed as
 * the scan saw it. */
typedef struct reseal_arg {
    const mfa_factor_rec *seen;
    int resealed;
} reseal_arg;

static mfa_rc
reseal_body(const mfa_ctx_t *ctx, mfa_int_txn *x, void *arg)
{
    reseal_arg *a = arg;
    mfa_factor_rec f;
    size_t len = 0;
    mfa_rc rc = mfa_int_txn_factor_get(x, a->seen->id, &f);

    a->resealed = 0;
    if (rc == MFA_ERR_NOT_FOUND) {
        rc = MFA_OK; /* removed meanwhile */
        goto out;
    }
    if (rc != MFA_OK)
        goto out;
    if (f.sealed_len != a->seen->sealed_len ||
        !mfa_int_ct_equal(f.sealed, a->seen->sealed, f.sealed_len))
        goto out; /* resealed by a concurrent rotation */
    rc = mfa_reseal(ctx->kr, f.account, f.id, a->seen->sealed,
                    a->seen->sealed_len, f.sealed, sizeof(f.sealed), &len);
    if (rc != MFA_OK)
        goto out;
    f.sealed_len = (uint32_t)len;
    if ((rc = mfa_int_txn_factor_update(x, &f)) == MFA_OK)
        a->resealed = 1;
out:
    sodium_memzero(&f, sizeof(f));
    return rc;
}

mfa_rc
mfa_keyring_rotate(mfa_ctx_t *ctx, size_t *resealed, size_t *skipped)
{
    char after_account[MFA_ACCOUNT_MAX + 1] = "";
    char after_id[MFA_FACTOR_ID_LEN + 1] = "";
    mfa_factor_rec *page = NULL;
    size_t done_n = 0, skip_n = 0, n = 0;
    uint32_t current;
    int64_t now;
    mfa_rc rc = MFA_OK, first_err = MFA_OK;

    if (resealed != NULL)
        *resealed = 0;
    if (skipped != NULL)
        *skipped = 0;
    if (ctx == NULL)
        return MFA_ERR_INVALID;
    now = mfa_int_ctx_now(ctx);
    current = mfa_keyring_current(ctx->kr);
    if (current == 0) {
        rc = MFA_ERR_KEYRING_EMPTY;
        mfa_int_ctx_emit(ctx, MFA_EV_KEY_ROTATE, NULL, NULL, rc, now, 0);
        return rc;
    }
    page = sodium_allocarray(SCAN_PAGE, sizeof(*page));
    if (page == NULL) {
        mfa_int_ctx_emit(ctx, MFA_EV_KEY_ROTATE, NULL, NULL, MFA_ERR_NOMEM, now,
                         0);
        return MFA_ERR_NOMEM;
    }
    /* pages of a store-wide read, each factor then resealed in its own
     * account's transaction: no lock is held across the whole store */
    do {
        mfa_int_txn x;

        rc = mfa_int_txn_begin(ctx->store, NULL, MFA_TXN_READ, &x);
        if (rc == MFA_OK) {
            rc = mfa_int_txn_factor_scan(&x, after_account, after_id, page,
                                         SCAN_PAGE, &n);
            if (rc == MFA_OK)
                rc = mfa_int_txn_commit(&x);
            else
                mfa_int_txn_rollback(&x);
        }
        if (rc != MFA_OK)
            break;
        for (size_t i = 0; i < n; i++) {
            const mfa_factor_rec *f = &page[i];
            uint32_t kid = 0;
            reseal_arg a;
            mfa_rc r;

            if (mfa_sealed_key_id(f->sealed, f->sealed_len, &kid) == MFA_OK &&
                kid == current) {
                skip_n++;
                continue;
            }
            a.seen = f;
            r = in_txn(ctx, f->account, MFA_TXN_WRITE, reseal_body, &a);
            if (r == MFA_OK && a.resealed) {
                done_n++;
            } else if (r == MFA_OK) {
                skip_n++;
            } else {
                /* one factor that will not open must not stop the others;
                 * the run reports it and can be repeated */
                if (first_err == MFA_OK)
                    first_err = r;
                emit_rc(ctx, MFA_EV_KEY_ROTATE, f->account, f->id, r, now, 0);
            }
        }
        if (n > 0) {
            memcpy(after_account, page[n - 1].account, sizeof(after_account));
            memcpy(after_id, page[n - 1].id, sizeof(after_id));
        }
    } while (n == SCAN_PAGE);
    sodium_free(page);
    if (rc != MFA_OK && first_err == MFA_OK)
        first_err = rc;
    if (resealed != NULL)
        *resealed = done_n;
    if (skipped != NULL)
        *skipped = skip_n;
    emit_rc(ctx, MFA_EV_KEY_ROTATE, NULL, NULL, first_err, now, 0);
    return first_err;
}

typedef struct expire_arg {
    int64_t before;
    size_t *n;
} expire_arg;

static mfa_rc
expire_body(const mfa_ctx_t *ctx, mfa_int_txn *x, void *arg)
{
    const expire_arg *a = arg;

    (void)ctx;
    return mfa_int_txn_factor_expire(x, a->before, a->n);
}

mfa_rc
mfa_expire_pending(mfa_ctx_t *ctx, size_t *n)
{
    expire_arg a;
    size_t local;
    int64_t now;
    mfa_rc rc;

    if (n == NULL)
        n = &local;
    *n = 0;
    if (ctx == NULL)
        return MFA_ERR_INVALID;
    now = mfa_int_ctx_now(ctx);
    if ((rc = check_now(now)) != MFA_OK)
        return rc;
    a.before = now - ctx->pending_ttl < 0 ? 0 : now - ctx->pending_ttl;
    a.n = n;
    rc = in_txn(ctx, NULL, MFA_TXN_WRITE, expire_body, &a);
    if (rc != MFA_OK)
        *n = 0;
    return rc;
}
