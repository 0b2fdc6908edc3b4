/*
 * The service layer: the flows a login backend calls, on top of a store and
 * a key ring.  Every flow validates its arguments before touching the store
 * (bad input changes no stored state), counts an attempt before checking a
 * code, and reports one event that never carries a secret or a code.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include <mfa/service.h>

#include "internal.h"
#include "keyring.h"
#include "text.h"

struct mfa_ctx {
    mfa_store_t *store;
    const mfa_keyring_t *kr;
    mfa_clock_fn clock;
    void *clock_arg;
    char issuer[MFA_ISSUER_MAX + 1];
    unsigned past, future, drift_max, lookahead;
    mfa_throttle_policy throttle;
    int64_t pending_ttl;
    unsigned oob_digits;
    int64_t oob_ttl;
    int32_t oob_attempts;
    mfa_event_fn ev;
    void *ev_arg;
    mfa_oob_send_fn send;
    void *send_arg;
};

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

/* ---- small helpers ----------------------------------------------------- */

static int64_t
now_of(const mfa_ctx_t *ctx)
{
    if (ctx->clock != NULL)
        return ctx->clock(ctx->clock_arg);
    return (int64_t)time(NULL);
}

static int
is_store_error(mfa_rc rc)
{
    return rc == MFA_ERR_STORE || rc == MFA_ERR_BUSY || rc == MFA_ERR_CORRUPT ||
           rc == MFA_ERR_READONLY || rc == MFA_ERR_SCHEMA ||
           rc == MFA_ERR_NOMEM;
}

/* A text field: non-empty when required, within max bytes, UTF-8 without
 * control characters. */
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

static mfa_rc
check_factor_id(const char *id)
{
    if (id == NULL)
        return MFA_ERR_INVALID;
    return mfa_int_factor_id_ok(id) ? MFA_OK : MFA_ERR_INVALID;
}

/* A purpose is a short ASCII word ("sms", "email"). */
static mfa_rc
check_purpose(const char *p)
{
    return mfa_int_purpose_check(p);
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

static void
emit(const mfa_ctx_t *ctx, mfa_event_type type, const char *account,
     const char *factor_id, mfa_rc rc, int64_t now, uint32_t failures)
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
    emit(ctx, is_store_error(rc) ? MFA_EV_STORE_ERROR : type, account,
         factor_id, rc, now, failures);
}

static uint32_t
retry_after(const mfa_throttle_state *st, int64_t now)
{
    int64_t d = st->locked_until - now;

    if (d <= 0)
        return 0;
    return d > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

/*
 * Count the attempt.  On MFA_ERR_THROTTLED the result and the event are
 * done here; on a store error too.  MFA_OK: go on and check the code.
 */
static mfa_rc
throttle(const mfa_ctx_t *ctx, const char *account, const char *factor_id,
         int64_t now, mfa_result *res, mfa_throttle_state *st)
{
    mfa_rc rc;

    memset(st, 0, sizeof(*st));
    rc = mfa_store_throttle_hit(ctx->store, account, now, &ctx->throttle, st);
    if (rc == MFA_OK)
        return MFA_OK;
    res->outcome = rc;
    if (rc == MFA_ERR_THROTTLED) {
        res->retry_after = retry_after(st, now);
        res->failures = st->failures;
        emit(ctx, MFA_EV_THROTTLED, account, factor_id, rc, now, st->failures);
    } else {
        emit(ctx, MFA_EV_STORE_ERROR, account, factor_id, rc, now, 0);
    }
    return rc;
}

/* After a success: the count goes back to zero.  A failure to reset does
 * not undo the success (the code is spent), but it is reported. */
static void
throttle_clear(const mfa_ctx_t *ctx, const char *account, int64_t now)
{
    mfa_rc rc = mfa_store_throttle_reset(ctx->store, account);

    if (rc != MFA_OK)
        emit(ctx, MFA_EV_STORE_ERROR, account, NULL, rc, now, 0);
}

static int32_t
clamp_drift(int64_t d, unsigned max)
{
    if (d > (int64_t)max)
        return (int32_t)max;
    if (d < -(int64_t)max)
        return -(int32_t)max;
    return (int32_t)d;
}

static void
new_factor_id(char id[MFA_FACTOR_ID_LEN + 1])
{
    uint8_t raw[MFA_FACTOR_ID_LEN / 2];

    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(id, MFA_FACTOR_ID_LEN + 1, raw, sizeof(raw));
}

/* ---- factor lists ------------------------------------------------------ */

typedef struct factor_vec {
    mfa_factor_rec *v;
    size_t n, cap;
} factor_vec;

/* Records hold sealed secrets only (no plaintext): plain memory, wiped all
 * the same before it is freed. */
static void
vec_free(factor_vec *fv)
{
    if (fv->v != NULL)
        sodium_memzero(fv->v, fv->cap * sizeof(*fv->v));
    free(fv->v);
    fv->v = NULL;
    fv->n = fv->cap = 0;
}

static mfa_rc
vec_push(const mfa_factor_rec *f, void *arg)
{
    factor_vec *fv = arg;

    if (fv->n == fv->cap) {
        size_t cap = fv->cap ? fv->cap * 2 : 8;
        mfa_factor_rec *v;

        if (cap > SIZE_MAX / sizeof(*v))
            return MFA_ERR_NOMEM;
        v = malloc(cap * sizeof(*v));
        if (v == NULL)
            return MFA_ERR_NOMEM;
        if (fv->n > 0) {
            memcpy(v, fv->v, fv->n * sizeof(*v));
            sodium_memzero(fv->v, fv->cap * sizeof(*v));
        }
        free(fv->v);
        fv->v = v;
        fv->cap = cap;
    }
    fv->v[fv->n++] = *f;
    return MFA_OK;
}

static mfa_rc
list_factors(const mfa_ctx_t *ctx, const char *account, factor_vec *fv)
{
    mfa_rc rc;

    memset(fv, 0, sizeof(*fv));
    rc = mfa_store_factor_list(ctx->store, account, vec_push, fv);
    if (rc != MFA_OK)
        vec_free(fv);
    return rc;
}

/* ---- checking a code against one factor -------------------------------- */

typedef struct check_out {
    int active;     /* whether the factor was checked at all */
    mfa_rc rc;      /* MFA_OK (fresh match), REPLAYED, CODE_WRONG, ... */
    int64_t step;   /* matched step or counter */
    int32_t offset; /* TOTP: steps from now's step; HOTP: counters ahead */
} check_out;

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
             int64_t now, int centred, check_out *out)
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
        int32_t d = centred ? clamp_drift(f->drift, ctx->drift_max) : 0;
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
    *out = ctx;
    return MFA_OK;
}

void
mfa_ctx_free(mfa_ctx_t **ctx)
{
    if (ctx == NULL || *ctx == NULL)
        return;
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

/* Factors that count against MFA_FACTORS_MAX: active ones and pending ones
 * still within their lifetime. */
static mfa_rc
count_factors(const mfa_ctx_t *ctx, const char *account, int64_t now, size_t *n)
{
    factor_vec fv;
    mfa_rc rc;

    *n = 0;
    if ((rc = list_factors(ctx, account, &fv)) != MFA_OK)
        return rc;
    for (size_t i = 0; i < fv.n; i++)
        if (fv.v[i].status == MFA_FACTOR_ACTIVE ||
            fv.v[i].created >= now - ctx->pending_ttl)
            (*n)++;
    vec_free(&fv);
    return MFA_OK;
}

/* Seal the secret under a fresh id and insert the pending record; a taken
 * id means a new id (the sealed blob is bound to it). */
static mfa_rc
create_pending(const mfa_ctx_t *ctx, mfa_factor_rec *f, const mfa_secret_t *s)
{
    mfa_rc rc = MFA_ERR_EXISTS;

    for (int t = 0; t < ID_TRIES && rc == MFA_ERR_EXISTS; t++) {
        size_t len = 0;

        new_factor_id(f->id);
        rc = mfa_seal(ctx->kr, f->account, f->id, s, f->sealed,
                      sizeof(f->sealed), &len);
        if (rc != MFA_OK)
            return rc;
        f->sealed_len = (uint32_t)len;
        rc = mfa_store_factor_create(ctx->store, f);
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
    size_t count;
    int64_t now;
    mfa_rc rc;

    if (out == NULL)
        return MFA_ERR_INVALID;
    *out = NULL;
    if (ctx == NULL)
        return MFA_ERR_INVALID;
    now = now_of(ctx);
    if ((rc = check_account(account)) != MFA_OK) {
        emit(ctx, MFA_EV_ENROLL_BEGIN, NULL, NULL, rc, now, 0);
        return rc;
    }
    if (label == NULL)
        label = "";
    if ((rc = check_text(label, MFA_LABEL_MAX, 0)) != MFA_OK)
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

    if ((rc = count_factors(ctx, account, now, &count)) != MFA_OK)
        goto done;
    if (count >= MFA_FACTORS_MAX) {
        rc = MFA_ERR_EXISTS;
        goto done;
    }

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
    if ((rc = create_pending(ctx, f, s)) != MFA_OK)
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

mfa_rc
mfa_enroll_confirm(mfa_ctx_t *ctx, const char *account, const char *factor_id,
                   const char *code, mfa_result *res)
{
    mfa_result local;
    mfa_throttle_state st;
    mfa_factor_rec rec, *f = &rec;
    check_out chk;
    int64_t now;
    mfa_rc rc;

    if (res == NULL)
        res = &local;
    result_init(res);
    if (ctx == NULL)
        return res->outcome = MFA_ERR_INVALID;
    now = now_of(ctx);
    if ((rc = check_account(account)) != MFA_OK) {
        emit(ctx, MFA_EV_ENROLL_CONFIRM, NULL, NULL, rc, now, 0);
        return res->outcome = rc;
    }
    if ((rc = check_factor_id(factor_id)) != MFA_OK) {
        emit(ctx, MFA_EV_ENROLL_CONFIRM, account, NULL, rc, now, 0);
        return res->outcome = rc;
    }
    if ((rc = check_code_shape(code, MFA_DIGITS_MIN, MFA_DIGITS_MAX)) !=
        MFA_OK) {
        emit(ctx, MFA_EV_ENROLL_CONFIRM, account, factor_id, rc, now, 0);
        return res->outcome = rc;
    }
    if ((rc = throttle(ctx, account, factor_id, now, res, &st)) != MFA_OK)
        return rc;
    res->failures = st.failures;

    memset(f, 0, sizeof(*f));
    rc = mfa_store_factor_get(ctx->store, account, factor_id, f);
    if (rc != MFA_OK)
        goto done;
    if (f->status != MFA_FACTOR_PENDING) {
        rc = MFA_ERR_STATE;
        goto done;
    }
    if (f->created < now - ctx->pending_ttl) {
        mfa_rc rm = mfa_store_factor_remove(ctx->store, account, factor_id);
        rc = (rm == MFA_OK || rm == MFA_ERR_NOT_FOUND) ? MFA_ERR_EXPIRED : rm;
        goto done;
    }
    check_factor(ctx, f, code, now, 0, &chk);
    rc = chk.rc;
    if (rc != MFA_OK)
        goto done;
    /* activation is the compare-and-set that spends the code: of two
     * confirmations racing, one gets MFA_ERR_STATE */
    rc = mfa_store_factor_activate(
        ctx->store, account, factor_id, chk.step,
        f->type == MFA_TOTP ? clamp_drift(chk.offset, ctx->drift_max) : 0,
        now - ctx->pending_ttl, now);
    if (rc == MFA_OK) {
        throttle_clear(ctx, account, now);
        memcpy(res->factor_id, factor_id, MFA_FACTOR_ID_LEN + 1);
        res->offset = chk.offset;
        res->failures = 0;
    }

done:
    if (rc != MFA_OK)
        res->retry_after = retry_after(&st, now);
    res->outcome = rc;
    emit_rc(ctx, MFA_EV_ENROLL_CONFIRM, account, factor_id, rc, now,
            res->failures);
    sodium_memzero(&rec, sizeof(rec));
    return rc;
}

/* ---- login ------------------------------------------------------------- */

mfa_rc
mfa_verify(mfa_ctx_t *ctx, const char *account, const char *code,
           mfa_result *res)
{
    mfa_result local;
    mfa_throttle_state st;
    factor_vec fv = {0};
    check_out *chk = NULL;
    size_t active = 0, checked = 0, i;
    mfa_rc rc, first_err = MFA_OK;
    int any_replayed = 0, any_format_ok = 0;
    const char *matched = NULL;
    int64_t now;

    if (res == NULL)
        res = &local;
    result_init(res);
    if (ctx == NULL)
        return res->outcome = MFA_ERR_INVALID;
    now = now_of(ctx);
    if ((rc = check_account(account)) != MFA_OK) {
        emit(ctx, MFA_EV_VERIFY_FAIL, NULL, NULL, rc, now, 0);
        return res->outcome = rc;
    }
    if ((rc = check_code_shape(code, MFA_DIGITS_MIN, MFA_DIGITS_MAX)) !=
        MFA_OK) {
        emit(ctx, MFA_EV_VERIFY_FAIL, account, NULL, rc, now, 0);
        return res->outcome = rc;
    }
    if ((rc = throttle(ctx, account, NULL, now, res, &st)) != MFA_OK)
        return rc;
    res->failures = st.failures;

    if ((rc = list_factors(ctx, account, &fv)) != MFA_OK)
        goto done;
    chk = calloc(fv.n ? fv.n : 1, sizeof(*chk));
    if (chk == NULL) {
        rc = MFA_ERR_NOMEM;
        goto done;
    }
    /* every active factor is checked, whatever an earlier one gave, so the
     * time taken depends on the number of factors only */
    for (i = 0; i < fv.n; i++) {
        if (fv.v[i].status != MFA_FACTOR_ACTIVE)
            continue;
        chk[i].active = 1;
        active++;
        check_factor(ctx, &fv.v[i], code, now, 1, &chk[i]);
    }
    if (active == 0) {
        rc = MFA_ERR_NO_FACTOR;
        goto done;
    }

    /* spend the first fresh match; a lost compare-and-set is a replay */
    rc = MFA_ERR_CODE_WRONG;
    for (i = 0; i < fv.n; i++) {
        mfa_rc c = chk[i].rc;

        if (!chk[i].active)
            continue;
        if (c == MFA_OK || c == MFA_ERR_REPLAYED || c == MFA_ERR_CODE_WRONG)
            checked++;
        if (c != MFA_ERR_CODE_FORMAT)
            any_format_ok = 1;
        if (c == MFA_ERR_REPLAYED)
            any_replayed = 1;
        else if (c != MFA_OK && c != MFA_ERR_CODE_WRONG &&
                 c != MFA_ERR_CODE_FORMAT && first_err == MFA_OK)
            first_err = c;
        if (c != MFA_OK || matched != NULL)
            continue;
        c = mfa_store_factor_advance(
            ctx->store, account, fv.v[i].id, chk[i].step,
            clamp_drift(chk[i].offset, ctx->drift_max), now);
        if (c == MFA_OK) {
            matched = fv.v[i].id;
            res->offset = chk[i].offset;
        } else if (c == MFA_ERR_REPLAYED) {
            any_replayed = 1;
        } else if (c == MFA_ERR_NOT_FOUND || c == MFA_ERR_STATE) {
            /* removed or reset meanwhile: not a match any more */
        } else {
            rc = c; /* store error: nothing accepted */
            goto done;
        }
    }
    if (matched != NULL) {
        rc = MFA_OK;
        throttle_clear(ctx, account, now);
        memcpy(res->factor_id, matched, MFA_FACTOR_ID_LEN + 1);
        res->failures = 0;
    } else if (any_replayed) {
        rc = MFA_ERR_REPLAYED;
    } else if (checked == 0 && first_err != MFA_OK) {
        rc = first_err; /* no factor could be checked (key ring problem) */
    } else if (!any_format_ok) {
        rc = MFA_ERR_CODE_FORMAT; /* no factor has that many digits */
    }

done:
    if (rc != MFA_OK)
        res->retry_after = retry_after(&st, now);
    res->outcome = rc;
    emit_rc(ctx,
            rc == MFA_OK             ? MFA_EV_VERIFY_OK
            : rc == MFA_ERR_REPLAYED ? MFA_EV_REPLAY
                                     : MFA_EV_VERIFY_FAIL,
            account, rc == MFA_OK ? res->factor_id : NULL, rc, now,
            res->failures);
    free(chk);
    vec_free(&fv);
    return rc;
}

mfa_rc
mfa_account_has_mfa(mfa_ctx_t *ctx, const char *account, int *has)
{
    factor_vec fv;
    mfa_rc rc;

    if (has == NULL)
        return MFA_ERR_INVALID;
    *has = 0;
    if (ctx == NULL)
        return MFA_ERR_INVALID;
    if ((rc = check_account(account)) != MFA_OK)
        return rc;
    if ((rc = list_factors(ctx, account, &fv)) != MFA_OK)
        return rc;
    for (size_t i = 0; i < fv.n; i++)
        if (fv.v[i].status == MFA_FACTOR_ACTIVE)
            *has = 1;
    vec_free(&fv);
    return MFA_OK;
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

mfa_rc
mfa_recover(mfa_ctx_t *ctx, const char *account, const char *backup_code,
            mfa_result *res)
{
    mfa_backup_rec recs[MFA_BACKUP_COUNT_MAX];
    uint8_t hash[MFA_BACKUP_HASHBYTES];
    char canon[MFA_BACKUP_CHARS + 1];
    mfa_result local;
    mfa_throttle_state st;
    size_t n = 0;
    int64_t now;
    mfa_rc rc;

    if (res == NULL)
        res = &local;
    result_init(res);
    if (ctx == NULL)
        return res->outcome = MFA_ERR_INVALID;
    now = now_of(ctx);
    if ((rc = check_account(account)) != MFA_OK) {
        emit(ctx, MFA_EV_RECOVER_FAIL, NULL, NULL, rc, now, 0);
        return res->outcome = rc;
    }
    /* a malformed code matches nothing: refused before it is counted */
    if (backup_code == NULL)
        rc = MFA_ERR_BACKUP_FORMAT;
    else
        rc = mfa_backup_normalize(backup_code, canon);
    sodium_memzero(canon, sizeof(canon));
    if (rc != MFA_OK) {
        emit(ctx, MFA_EV_RECOVER_FAIL, account, NULL, rc, now, 0);
        return res->outcome = rc;
    }
    if ((rc = throttle(ctx, account, NULL, now, res, &st)) != MFA_OK)
        return rc;
    res->failures = st.failures;

    rc = mfa_store_backup_list(ctx->store, account, recs, MFA_BACKUP_COUNT_MAX,
                               &n);
    if (rc != MFA_OK)
        goto done;
    if (n == 0) {
        rc = MFA_ERR_NO_CODES;
        goto done;
    }
    res->backup_codes_left = (uint32_t)n;
    rc = backup_find(ctx, backup_code, recs, n, hash);
    if (rc != MFA_OK)
        goto done;
    rc = mfa_store_backup_spend(ctx->store, account, hash, now);
    if (rc == MFA_ERR_NOT_FOUND)
        rc = MFA_ERR_REPLAYED; /* spent by a concurrent request */
    if (rc == MFA_OK) {
        throttle_clear(ctx, account, now);
        res->failures = 0;
        res->backup_codes_left = (uint32_t)(n - 1);
        /* a fresh count, in case another code was spent meanwhile */
        if (mfa_store_backup_list(ctx->store, account, recs,
                                  MFA_BACKUP_COUNT_MAX, &n) == MFA_OK)
            res->backup_codes_left = (uint32_t)n;
    }

done:
    sodium_memzero(hash, sizeof(hash));
    if (rc != MFA_OK)
        res->retry_after = retry_after(&st, now);
    res->outcome = rc;
    emit_rc(ctx,
            rc == MFA_OK             ? MFA_EV_RECOVER_OK
            : rc == MFA_ERR_REPLAYED ? MFA_EV_REPLAY
                                     : MFA_EV_RECOVER_FAIL,
            account, NULL, rc, now, res->failures);
    return rc;
}

mfa_rc
mfa_backup_codes_new(mfa_ctx_t *ctx, const char *account, size_t n,
                     char ***codes)
{
    mfa_backup_rec *recs = NULL;
    char **c = NULL;
    uint32_t kid;
    int64_t now;
    mfa_rc rc;

    if (codes == NULL)
        return MFA_ERR_INVALID;
    *codes = NULL;
    if (ctx == NULL)
        return MFA_ERR_INVALID;
    now = now_of(ctx);
    if ((rc = check_account(account)) != MFA_OK) {
        emit(ctx, MFA_EV_BACKUP_CODES_NEW, NULL, NULL, rc, now, 0);
        return rc;
    }
    if (n == 0)
        n = MFA_BACKUP_COUNT_DEFAULT;
    if (n > MFA_BACKUP_COUNT_MAX) {
        rc = MFA_ERR_INVALID;
        goto done;
    }
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
    if ((rc = mfa_store_backup_replace(ctx->store, account, recs, n, now)) !=
        MFA_OK)
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

mfa_rc
mfa_backup_codes_left(mfa_ctx_t *ctx, const char *account, size_t *n)
{
    mfa_backup_rec recs[MFA_BACKUP_COUNT_MAX];
    mfa_rc rc;

    if (n == NULL)
        return MFA_ERR_INVALID;
    *n = 0;
    if (ctx == NULL)
        return MFA_ERR_INVALID;
    if ((rc = check_account(account)) != MFA_OK)
        return rc;
    return mfa_store_backup_list(ctx->store, account, recs,
                                 MFA_BACKUP_COUNT_MAX, n);
}

mfa_rc
mfa_oob_begin(mfa_ctx_t *ctx, const char *account, const char *purpose)
{
    mfa_oob_challenge c;
    char code[MFA_CODE_BUFSIZE];
    int64_t now;
    mfa_rc rc;

    if (ctx == NULL)
        return MFA_ERR_INVALID;
    now = now_of(ctx);
    if ((rc = check_account(account)) != MFA_OK) {
        emit(ctx, MFA_EV_OOB_BEGIN, NULL, NULL, rc, now, 0);
        return rc;
    }
    if ((rc = check_purpose(purpose)) != MFA_OK)
        goto done;
    if (ctx->send == NULL) {
        rc = MFA_ERR_INVALID;
        goto done;
    }
    memset(&c, 0, sizeof(c));
    rc = mfa_oob_challenge_new(ctx->kr, account, purpose, ctx->oob_digits, now,
                               ctx->oob_ttl, ctx->oob_attempts, &c, code,
                               sizeof(code));
    if (rc != MFA_OK)
        goto done;
    if ((rc = mfa_store_oob_put(ctx->store, account, &c)) != MFA_OK)
        goto done;
    rc = ctx->send(account, purpose, code, ctx->send_arg);
    if (rc != MFA_OK) {
        /* a code that never reached the user must not stay valid */
        if (mfa_store_oob_spend(ctx->store, account, purpose, c.hash) !=
            MFA_OK) {
            /* it expires on its own; the sender's error is what matters */
        }
        if (rc > 0)
            rc = MFA_ERR_INTERNAL; /* a sender that broke the contract */
    }

done:
    sodium_memzero(code, sizeof(code));
    emit_rc(ctx, MFA_EV_OOB_BEGIN, account, NULL, rc, now, 0);
    return rc;
}

mfa_rc
mfa_oob_verify(mfa_ctx_t *ctx, const char *account, const char *purpose,
               const char *code, mfa_result *res)
{
    mfa_result local;
    mfa_throttle_state st;
    mfa_oob_challenge c;
    int64_t now;
    mfa_rc rc;

    if (res == NULL)
        res = &local;
    result_init(res);
    if (ctx == NULL)
        return res->outcome = MFA_ERR_INVALID;
    now = now_of(ctx);
    if ((rc = check_account(account)) != MFA_OK) {
        emit(ctx, MFA_EV_OOB_FAIL, NULL, NULL, rc, now, 0);
        return res->outcome = rc;
    }
    if ((rc = check_purpose(purpose)) == MFA_OK)
        rc = check_code_shape(code, 6, 8);
    if (rc != MFA_OK) {
        emit(ctx, MFA_EV_OOB_FAIL, account, NULL, rc, now, 0);
        return res->outcome = rc;
    }
    if ((rc = throttle(ctx, account, NULL, now, res, &st)) != MFA_OK)
        return rc;
    res->failures = st.failures;

    memset(&c, 0, sizeof(c));
    rc = mfa_store_oob_take(ctx->store, account, purpose, now, &c);
    if (rc != MFA_OK)
        goto done;
    rc = mfa_oob_challenge_check(ctx->kr, account, &c, code, now);
    if (rc != MFA_OK)
        goto done;
    rc = mfa_store_oob_spend(ctx->store, account, purpose, c.hash);
    if (rc == MFA_ERR_NOT_FOUND)
        rc = MFA_ERR_REPLAYED; /* spent by a concurrent request */
    if (rc == MFA_OK) {
        throttle_clear(ctx, account, now);
        res->failures = 0;
    }

done:
    sodium_memzero(&c, sizeof(c));
    if (rc != MFA_OK)
        res->retry_after = retry_after(&st, now);
    res->outcome = rc;
    emit_rc(ctx,
            rc == MFA_OK             ? MFA_EV_OOB_OK
            : rc == MFA_ERR_REPLAYED ? MFA_EV_REPLAY
                                     : MFA_EV_OOB_FAIL,
            account, NULL, rc, now, res->failures);
    return rc;
}

/* ---- administration ---------------------------------------------------- */

mfa_rc
mfa_factors_list(mfa_ctx_t *ctx, const char *account, mfa_factor_info **list,
                 size_t *n)
{
    mfa_factor_info *out = NULL;
    factor_vec fv;
    mfa_rc rc;

    if (list == NULL || n == NULL)
        return MFA_ERR_INVALID;
    *list = NULL;
    *n = 0;
    if (ctx == NULL)
        return MFA_ERR_INVALID;
    if ((rc = check_account(account)) != MFA_OK)
        return rc;
    if ((rc = list_factors(ctx, account, &fv)) != MFA_OK)
        return rc;
    if (fv.n > 0) {
        out = calloc(fv.n, sizeof(*out));
        if (out == NULL) {
            vec_free(&fv);
            return MFA_ERR_NOMEM;
        }
    }
    for (size_t i = 0; i < fv.n; i++) {
        const mfa_factor_rec *f = &fv.v[i];

        memcpy(out[i].id, f->id, sizeof(out[i].id));
        memcpy(out[i].label, f->label, sizeof(out[i].label));
        out[i].type = f->type;
        out[i].algorithm = f->algorithm;
        out[i].digits = f->digits;
        out[i].period = f->period;
        out[i].status = f->status;
        out[i].created = f->created;
        out[i].confirmed = f->confirmed;
        out[i].last_used = f->last_used;
    }
    *list = out;
    *n = fv.n;
    vec_free(&fv);
    return MFA_OK;
}

mfa_rc
mfa_factor_rename(mfa_ctx_t *ctx, const char *account, const char *factor_id,
                  const char *label)
{
    int64_t now;
    mfa_rc rc;

    if (ctx == NULL)
        return MFA_ERR_INVALID;
    now = now_of(ctx);
    if ((rc = check_account(account)) != MFA_OK) {
        emit(ctx, MFA_EV_FACTOR_RENAME, NULL, NULL, rc, now, 0);
        return rc;
    }
    if ((rc = check_factor_id(factor_id)) != MFA_OK) {
        emit(ctx, MFA_EV_FACTOR_RENAME, account, NULL, rc, now, 0);
        return rc;
    }
    if (label == NULL)
        label = "";
    rc = check_text(label, MFA_LABEL_MAX, 0);
    if (rc == MFA_OK)
        rc = mfa_store_factor_rename(ctx->store, account, factor_id, label);
    emit_rc(ctx, MFA_EV_FACTOR_RENAME, account, factor_id, rc, now, 0);
    return rc;
}

mfa_rc
mfa_factor_remove(mfa_ctx_t *ctx, const char *account, const char *factor_id)
{
    int64_t now;
    mfa_rc rc;

    if (ctx == NULL)
        return MFA_ERR_INVALID;
    now = now_of(ctx);
    if ((rc = check_account(account)) != MFA_OK) {
        emit(ctx, MFA_EV_FACTOR_REMOVE, NULL, NULL, rc, now, 0);
        return rc;
    }
    if ((rc = check_factor_id(factor_id)) != MFA_OK) {
        emit(ctx, MFA_EV_FACTOR_REMOVE, account, NULL, rc, now, 0);
        return rc;
    }
    rc = mfa_store_factor_remove(ctx->store, account, factor_id);
    emit_rc(ctx, MFA_EV_FACTOR_REMOVE, account, factor_id, rc, now, 0);
    return rc;
}

mfa_rc
mfa_reset(mfa_ctx_t *ctx, const char *account)
{
    int64_t now;
    mfa_rc rc;

    if (ctx == NULL)
        return MFA_ERR_INVALID;
    now = now_of(ctx);
    if ((rc = check_account(account)) != MFA_OK) {
        emit(ctx, MFA_EV_RESET, NULL, NULL, rc, now, 0);
        return rc;
    }
    rc = mfa_store_account_reset(ctx->store, account);
    emit_rc(ctx, MFA_EV_RESET, account, NULL, rc, now, 0);
    return rc;
}

/* Factors not yet sealed under the current key, collected first: the store
 * may hold a lock while it iterates, so nothing is written from inside. */
typedef struct rotate_scan {
    factor_vec todo;
    uint32_t current;
    size_t skipped;
} rotate_scan;

static mfa_rc
rotate_collect(const mfa_factor_rec *f, void *arg)
{
    rotate_scan *r = arg;
    uint32_t kid = 0;

    if (mfa_sealed_key_id(f->sealed, f->sealed_len, &kid) == MFA_OK &&
        kid == r->current) {
        r->skipped++;
        return MFA_OK;
    }
    return vec_push(f, &r->todo);
}

mfa_rc
mfa_keyring_rotate(mfa_ctx_t *ctx, size_t *resealed, size_t *skipped)
{
    rotate_scan scan;
    size_t done_n = 0;
    int64_t now;
    mfa_rc rc, first_err = MFA_OK;

    if (resealed != NULL)
        *resealed = 0;
    if (skipped != NULL)
        *skipped = 0;
    if (ctx == NULL)
        return MFA_ERR_INVALID;
    now = now_of(ctx);
    memset(&scan, 0, sizeof(scan));
    scan.current = mfa_keyring_current(ctx->kr);
    if (scan.current == 0) {
        rc = MFA_ERR_KEYRING_EMPTY;
        emit(ctx, MFA_EV_KEY_ROTATE, NULL, NULL, rc, now, 0);
        return rc;
    }
    rc = mfa_store_factor_each(ctx->store, rotate_collect, &scan);
    if (rc != MFA_OK) {
        vec_free(&scan.todo);
        emit_rc(ctx, MFA_EV_KEY_ROTATE, NULL, NULL, rc, now, 0);
        return rc;
    }
    for (size_t i = 0; i < scan.todo.n; i++) {
        const mfa_factor_rec *f = &scan.todo.v[i];
        uint8_t out[MFA_SEALED_MAX];
        size_t len = 0;

        rc = mfa_reseal(ctx->kr, f->account, f->id, f->sealed, f->sealed_len,
                        out, sizeof(out), &len);
        if (rc == MFA_OK)
            rc = mfa_store_factor_reseal(ctx->store, f->account, f->id,
                                         f->sealed, f->sealed_len, out, len);
        sodium_memzero(out, sizeof(out));
        if (rc == MFA_OK) {
            done_n++;
        } else if (rc == MFA_ERR_NOT_FOUND || rc == MFA_ERR_STATE) {
            /* removed, or resealed by a concurrent rotation */
            scan.skipped++;
        } else {
            /* one factor that will not open must not stop the others;
             * the run reports it and can be repeated */
            if (first_err == MFA_OK)
                first_err = rc;
            emit_rc(ctx, MFA_EV_KEY_ROTATE, f->account, f->id, rc, now, 0);
        }
    }
    vec_free(&scan.todo);
    if (resealed != NULL)
        *resealed = done_n;
    if (skipped != NULL)
        *skipped = scan.skipped;
    emit_rc(ctx, MFA_EV_KEY_ROTATE, NULL, NULL, first_err, now, 0);
    return first_err;
}

mfa_rc
mfa_expire_pending(mfa_ctx_t *ctx, size_t *n)
{
    size_t local;

    if (n == NULL)
        n = &local;
    *n = 0;
    if (ctx == NULL)
        return MFA_ERR_INVALID;
    return mfa_store_factor_expire(ctx->store, now_of(ctx) - ctx->pending_ttl,
                                   n);
}
