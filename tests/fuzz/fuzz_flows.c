/*
 * The service flows against a reference model.
 *
 * An input is a short policy (throttle, windows, lifetimes) and then a
 * sequence of operations on two accounts of one store (memory, or SQLite
 * in memory), under a clock the harness sets: enroll, confirm, verify,
 * recover, out-of-band begin and verify, remove a factor, reset, new
 * backup codes, advance the clock, check what the account shows.  The
 * typed codes are right ones (the harness keeps each factor's key, and the
 * sender callback keeps each out-of-band code), spent ones, old ones,
 * other accounts' ones, random ones and malformed ones.
 *
 * The model beside it is written from the documented rules, not from the
 * library's code.  Its rules:
 *   - a code of the wrong shape (not 6..10 digits and spaces, over 64
 *     characters; 6..8 for out-of-band) is refused before anything counts;
 *   - every other attempt (confirm, verify, recover, out-of-band verify) of
 *     an account counts in its one throttle: while now < locked_until it is
 *     MFA_ERR_THROTTLED whatever the code; a failure makes the count n+1
 *     and, when not locked, locks until now + delay(n+1), delay being
 *     base * 2^(n - free) capped at max (checked against
 *     mfa_throttle_delay); a success clears count and lock;
 *   - TOTP: fresh are the steps -past..+future around now's step shifted
 *     by the factor's remembered drift (none at confirmation) that are
 *     after its last spent step; a match at an older one is a replay; the
 *     drift becomes the matched offset clamped to the drift bound.  HOTP:
 *     fresh are the lookahead+1 counters after the last spent one, the
 *     lookahead counters before it are replays;
 *   - verify: no active factor is MFA_ERR_NO_FACTOR; a fresh match of any
 *     active factor is MFA_OK (the one the library names must be one, at
 *     a step the model allows, which is then spent), else a replay, else
 *     MFA_ERR_CODE_FORMAT when no factor has the code's length, else
 *     MFA_ERR_CODE_WRONG; pending factors never match;
 *   - confirm: unknown or other account's factor MFA_ERR_NOT_FOUND, active
 *     MFA_ERR_STATE, pending past its lifetime MFA_ERR_EXPIRED (and gone),
 *     else the code as above;
 *   - enroll: at most MFA_FACTORS_MAX live factors (active, or pending in
 *     their lifetime); the account's expired enrollments go;
 *   - recover: no codes left MFA_ERR_NO_CODES; a code of the current set,
 *     unused, is accepted once; old sets, used and mistyped codes are wrong;
 *   - out-of-band: a new challenge replaces the old one; a sender that
 *     fails leaves none; verify is MFA_ERR_NOT_FOUND without one,
 *     MFA_ERR_EXPIRED from its expiry on, MFA_ERR_ATTEMPTS when used up,
 *     else uses an attempt and accepts its code once;
 *   - remove and reset take the factors (reset: codes, challenges and the
 *     throttle too) of that account only.
 * For every flow it predicts the verdict, and the harness aborts when
 *   - libmfa accepts what the model forbids (a wrong, replayed, expired,
 *     throttled, removed, reset, superseded or other account's code),
 *   - libmfa refuses what the model must accept,
 *   - the error, the throttle count, the retry time, the codes left or
 *     what the account lists differ from the model's.
 * Lenient (struct expect): a code no factor has the length of, and an
 * account without active factors, may be refused with another error and
 * without counting (issue 14 changes both); they are never accepted.
 * Operations per input are capped (MAX_OPS).
 */
#include <stdarg.h>
#include <unistd.h>

#include <mfa/service.h>
#include <mfa/store.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define MAX_OPS 48
#define NACCT 2
#define NPURPOSE 2
#define HIST 24       /* factors remembered, removed ones included */
#define CODES_HIST 48 /* backup codes remembered, old sets included */
#define T_START 1700000000
#define TYPED_MAX 80

static const char *const accts[NACCT] = {"alice", "bob"};
static const char *const purposes[NPURPOSE] = {"sms", "email"};

/* ---- the world the library sees ---------------------------------------- */

static mfa_keyring_t *ring;
static mfa_store_t *stores[2];
static mfa_ctx_t *ctxs[2];
static size_t nstores;
static mfa_ctx_t *ctx; /* this input's */
static mfa_profile_t *profile8, *profile_hotp;
static int warming;

static int64_t now;

static int64_t
clock_fn(void *arg)
{
    (void)arg;
    return now;
}

/* What the sender was given last; a failing sender still saw the code. */
static char outbox[16];
static int sent, send_fail;

static mfa_rc
sender(const char *account, const char *purpose, const char *code, void *arg)
{
    (void)account;
    (void)purpose;
    (void)arg;
    snprintf(outbox, sizeof(outbox), "%s", code);
    sent = 1;
    return send_fail ? MFA_ERR_INTERNAL : MFA_OK;
}

/* ---- the model --------------------------------------------------------- */

enum { GONE, PENDING, ACTIVE };

typedef struct mfactor {
    int acct;
    int status;
    mfa_otp_type type;
    char id[MFA_FACTOR_ID_LEN + 1];
    mfa_otp_t *otp; /* the reference's copy of the key */
    unsigned digits;
    uint32_t period;
    int64_t created;
    int64_t last_step; /* step or counter; -1: none spent */
    int32_t drift;
    char spent[MFA_CODE_BUFSIZE]; /* code of the last spent step */
} mfactor;

typedef struct mcode {
    int acct;
    unsigned gen; /* the account's set it belongs to */
    int used;
    char canon[MFA_BACKUP_CHARS + 1];
    char shown[MFA_BACKUP_BUFSIZE];
} mcode;

typedef struct mchal {
    int alive;
    char code[9];
    int64_t expires;
    int32_t left;
    char old[2][9]; /* codes sent before, spent or superseded */
} mchal;

typedef struct macct {
    uint32_t failures;
    int64_t locked_until;
    unsigned gen;  /* backup code set */
    size_t unused; /* backup codes of the set left */
    mchal ch[NPURPOSE];
} macct;

static struct model {
    mfactor f[HIST];
    size_t nf;
    mcode c[CODES_HIST];
    size_t nc, cnext; /* a ring: old entries make way */
    macct a[NACCT];
} m;

static mfa_throttle_policy pol;
static unsigned w_past, w_future, w_drift, lookahead;
static int64_t pending_ttl, oob_ttl;
static int32_t oob_attempts;
static unsigned oob_digits;

/* ---- diagnostics ------------------------------------------------------- */

static char trace[MAX_OPS][96];
static size_t ntrace;

static void __attribute__((format(printf, 1, 2))) note(const char *fmt, ...)
{
    va_list ap;

    if (ntrace == MAX_OPS)
        return;
    va_start(ap, fmt);
    vsnprintf(trace[ntrace++], sizeof(trace[0]), fmt, ap);
    va_end(ap);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
fail(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "fuzz-flows: model violated at t=%lld: ", (long long)now);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\noperations:\n");
    for (size_t i = 0; i < ntrace; i++)
        fprintf(stderr, "  %s\n", trace[i]);
    abort();
}

static const char *
nm(mfa_rc rc)
{
    return mfa_strerror_name(rc);
}

/* ---- the input ---------------------------------------------------------- */

struct in {
    const uint8_t *p;
    size_t n;
};

static uint8_t
byte(struct in *in)
{
    uint8_t b = 0;
    if (in->n > 0) {
        b = *in->p++;
        in->n--;
    }
    return b;
}

/* ---- the model's rules ------------------------------------------------- */

/* base * 2^(failures - free - 1), capped; written apart from rules.c so
 * that each checks the other */
static int64_t
model_delay(uint32_t failures)
{
    uint64_t d = pol.base_delay;

    if (failures <= pol.free_attempts)
        return 0;
    for (uint32_t i = failures - pol.free_attempts - 1;
         i > 0 && d < pol.max_delay; i--)
        d *= 2;
    return (int64_t)(d < pol.max_delay ? d : pol.max_delay);
}

static int32_t
clamp_drift(int64_t d)
{
    if (d > (int64_t)w_drift)
        return (int32_t)w_drift;
    if (d < -(int64_t)w_drift)
        return -(int32_t)w_drift;
    return (int32_t)d;
}

static void
code_at(const mfactor *f, int64_t step, char out[MFA_CODE_BUFSIZE])
{
    if (step < 0 ||
        mfa_otp_hotp(f->otp, (uint64_t)step, out, MFA_CODE_BUFSIZE) != MFA_OK)
        out[0] = '\0';
}

/* The shape every login code must have before anything is counted:
 * digits and spaces, at most 64 characters, lo..hi digits; *digits gets
 * them without the spaces. */
static int
shape_ok(const char *typed, unsigned lo, unsigned hi, char digits[TYPED_MAX])
{
    size_t len = strlen(typed), n = 0;

    if (len > 64)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (typed[i] == ' ')
            continue;
        if (typed[i] < '0' || typed[i] > '9')
            return 0;
        digits[n++] = typed[i];
    }
    digits[n] = '\0';
    return n >= lo && n <= hi;
}

/* One factor against a code: MFA_OK with fresh steps (counters) in ok[],
 * REPLAYED, CODE_WRONG or CODE_FORMAT (its digits differ).  TOTP: the
 * window -past..+future around now's step shifted by the remembered drift
 * (none at confirmation), fresh when after the last spent step.  HOTP:
 * fresh are the lookahead+1 counters after the last spent one. */
static mfa_rc
model_factor(const mfactor *f, const char *digits, int centred, int64_t *ok,
             size_t *nok)
{
    int64_t cur = now / f->period;
    int64_t c = cur + (centred ? clamp_drift(f->drift) : 0);
    int replay = 0;

    *nok = 0;
    if (strlen(digits) != f->digits)
        return MFA_ERR_CODE_FORMAT;
    if (f->type == MFA_HOTP) {
        /* the counters after the last one spent, and as many before it to
         * tell a replay */
        int64_t first = f->last_step + 1;
        int64_t back = first < (int64_t)lookahead ? first : lookahead;

        for (int64_t s = first - back; s <= first + (int64_t)lookahead; s++) {
            char v[MFA_CODE_BUFSIZE];

            code_at(f, s, v);
            if (strcmp(v, digits) != 0)
                continue;
            if (s >= first)
                ok[(*nok)++] = s;
            else
                replay = 1;
        }
        return *nok ? MFA_OK : replay ? MFA_ERR_REPLAYED : MFA_ERR_CODE_WRONG;
    }
    for (int64_t s = c - (int64_t)w_past; s <= c + (int64_t)w_future; s++) {
        char v[MFA_CODE_BUFSIZE];

        if (s < 0)
            continue;
        code_at(f, s, v);
        if (strcmp(v, digits) != 0)
            continue;
        if (f->last_step < 0 || s > f->last_step)
            ok[(*nok)++] = s;
        else
            replay = 1;
    }
    return *nok ? MFA_OK : replay ? MFA_ERR_REPLAYED : MFA_ERR_CODE_WRONG;
}

/*
 * Issue 14: an attempt with nothing to compare the code with, on an account
 * that has no throttle row yet (no failure counted since the last success),
 * writes nothing, so that invented names grow no rows.  Once a row exists,
 * every attempt counts.
 */
static int
uncounted_without_row(mfa_rc v)
{
    return v == MFA_ERR_NO_FACTOR || v == MFA_ERR_NO_CODES ||
           v == MFA_ERR_NOT_FOUND || v == MFA_ERR_STATE ||
           v == MFA_ERR_EXPIRED || v == MFA_ERR_ATTEMPTS;
}

/* The account's verdict; lenient where the library may, after issue 14,
 * refuse without counting (a code no factor has the length of; an account
 * without factors). */
typedef struct expect {
    mfa_rc rc;
    int lenient;
} expect;

/*
 * Compare an attempt's outcome with the model's verdict and apply the
 * throttle rule: every attempt counts (a throttled one too), a success
 * clears; while unlocked a counted failure locks for the delay of the new
 * count, while locked the lock stays.
 */
static void
settle(const char *flow, int A, expect e, mfa_rc rc, const mfa_result *res)
{
    macct *a = &m.a[A];
    int locked = now < a->locked_until;
    uint32_t f1;
    int64_t l1;

    if (rc == MFA_OK && e.rc != MFA_OK)
        fail("%s(%s) accepted what the model forbids (%s)", flow, accts[A],
             nm(e.rc));
    if (e.rc == MFA_OK && rc != MFA_OK)
        fail("%s(%s) refused what the model must accept: %s", flow, accts[A],
             nm(rc));
    if (!e.lenient && rc != e.rc)
        fail("%s(%s): %s, the model says %s", flow, accts[A], nm(rc), nm(e.rc));
    if (res->outcome != rc)
        fail("%s: outcome %s, returned %s", flow, nm(res->outcome), nm(rc));
    if (e.rc == MFA_OK) {
        f1 = 0;
        l1 = 0;
    } else {
        f1 = a->failures + 1;
        l1 = locked ? a->locked_until : now + model_delay(f1);
        if ((uint32_t)model_delay(f1) != mfa_throttle_delay(&pol, f1))
            fail("mfa_throttle_delay(%u) = %u, the formula gives %lld", f1,
                 mfa_throttle_delay(&pol, f1), (long long)model_delay(f1));
        if (e.lenient && res->failures != f1) {
            /* refused before counting */
            f1 = a->failures;
            l1 = a->locked_until;
        } else if (a->failures == 0 && !locked &&
                   uncounted_without_row(e.lenient ? rc : e.rc)) {
            f1 = 0;
            l1 = a->locked_until;
        }
    }
    if (res->failures != f1 && !(e.lenient && res->failures == 0))
        fail("%s(%s): failures %u, the model counts %u", flow, accts[A],
             res->failures, f1);
    if (rc != MFA_OK && !e.lenient &&
        res->retry_after != (uint32_t)(l1 > now ? l1 - now : 0))
        fail("%s(%s): retry_after %u, the model says %lld", flow, accts[A],
             res->retry_after, (long long)(l1 > now ? l1 - now : 0));
    a->failures = f1;
    a->locked_until = l1;
}

/* Refused before the attempt: the exact error, nothing counted. */
static void
refused_early(const char *flow, mfa_rc rc, mfa_rc want, const mfa_result *res)
{
    if (rc != want)
        fail("%s: %s for a malformed code, the model says %s", flow, nm(rc),
             nm(want));
    if (res != NULL && (res->failures != 0 || res->retry_after != 0))
        fail("%s: a malformed code reports failures %u", flow, res->failures);
}

static int
active_of(int A, size_t *n)
{
    *n = 0;
    for (size_t i = 0; i < m.nf; i++)
        if (m.f[i].acct == A && m.f[i].status == ACTIVE)
            (*n)++;
    return *n > 0;
}

static mfactor *
factor_by_id(int A, const char *id)
{
    for (size_t i = 0; i < m.nf; i++)
        if (m.f[i].acct == A && m.f[i].status != GONE &&
            strcmp(m.f[i].id, id) == 0)
            return &m.f[i];
    return NULL;
}

/* ---- typed codes ------------------------------------------------------- */

static void
random_digits(struct in *in, unsigned n, char *out)
{
    for (unsigned i = 0; i < n; i++)
        out[i] = (char)('0' + byte(in) % 10);
    out[n] = '\0';
}

/* A code to type at a login or a confirmation: mostly a factor of the
 * account's own. */
static void
login_code(struct in *in, int A, char out[TYPED_MAX])
{
    uint8_t kind = byte(in) % 8, b = byte(in);
    mfactor *f = m.nf ? &m.f[b % m.nf] : NULL;

    if (kind == 0) {
        for (size_t i = 0; i < m.nf; i++) {
            mfactor *g = &m.f[(b + i) % m.nf];
            if (g->acct == A && g->status != GONE) {
                f = g;
                break;
            }
        }
    }
    if (f == NULL && kind < 4)
        kind = 4;
    switch (kind) {
    case 0: /* a step near now of the account's factor, or of any factor
               (another account's, a gone one's) */
    case 1: {
        int64_t at = f->type == MFA_HOTP ? f->last_step + 1 : now / f->period;
        int64_t s = at + (int64_t)(byte(in) % 16) - 4;
        code_at(f, s, out);
        note("  code: %s step %+d of %s", out, (int)(s - at), f->id);
        break;
    }
    case 2: /* the last spent code */
        snprintf(out, TYPED_MAX, "%s", f->spent);
        if (out[0] == '\0')
            code_at(f, now / f->period, out);
        note("  code: %s spent by %s", out, f->id);
        break;
    case 3: { /* a right one with a space */
        char c[MFA_CODE_BUFSIZE];
        code_at(f, f->type == MFA_HOTP ? f->last_step + 1 : now / f->period, c);
        snprintf(out, TYPED_MAX, "%.3s %s", c, c[0] ? c + 3 : "");
        note("  code: '%s' of %s", out, f->id);
        break;
    }
    case 4:
    case 5: /* random, of a factor's length or not */
        random_digits(in, b & 1 ? 8 : (b & 2 ? 6 : 6 + b % 5), out);
        note("  code: %s random", out);
        break;
    default: { /* malformed */
        static const char *const bad[] = {"",        "12345",     "12a456",
                                          "1234567", "123456789", "99999999999",
                                          " ",       "-123456",   "123456\n"};
        if ((b & 15) == 15) {
            memset(out, ' ', 70);
            memcpy(out + 64, "123456", 7);
        } else {
            snprintf(out, TYPED_MAX, "%s",
                     bad[b % (sizeof(bad) / sizeof(bad[0]))]);
        }
        note("  code: '%.20s' malformed", out);
    }
    }
}

/* ---- operations -------------------------------------------------------- */

static void
op_enroll(struct in *in, int A)
{
    uint8_t which = byte(in) % 3;
    const mfa_profile_t *p = which == 1   ? profile8
                             : which == 2 ? profile_hotp
                                          : NULL;
    mfa_enrollment_t *e = NULL;
    size_t live = 0;
    mfa_rc rc, want;
    mfactor *f;

    if (m.nf == HIST)
        return;
    for (size_t i = 0; i < m.nf; i++)
        if (m.f[i].acct == A &&
            (m.f[i].status == ACTIVE ||
             (m.f[i].status == PENDING && m.f[i].created >= now - pending_ttl)))
            live++;
    want = live >= MFA_FACTORS_MAX ? MFA_ERR_EXISTS : MFA_OK;
    rc = mfa_enroll_begin(ctx, accts[A], "phone", p, &e);
    note("enroll %s %s: %s", accts[A],
         which == 1   ? "8/60"
         : which == 2 ? "hotp"
                      : "6/30",
         nm(rc));
    if (rc != want)
        fail("enroll_begin: %s, the model says %s", nm(rc), nm(want));
    if (rc != MFA_OK)
        return;
    /* the account's expired enrollments went on the way */
    for (size_t i = 0; i < m.nf; i++)
        if (m.f[i].acct == A && m.f[i].status == PENDING &&
            m.f[i].created < now - pending_ttl)
            m.f[i].status = GONE;
    f = &m.f[m.nf++];
    memset(f, 0, sizeof(*f));
    f->acct = A;
    f->status = PENDING;
    snprintf(f->id, sizeof(f->id), "%s", mfa_enrollment_factor_id(e));
    f->type = which == 2 ? MFA_HOTP : MFA_TOTP;
    f->digits = which == 1 ? 8 : 6;
    f->period = which == 1 ? 60 : 30;
    f->created = now;
    f->last_step = -1;
    {
        uint8_t key[MFA_SECRET_MAX];
        size_t len = 0;

        FUZZ_ASSERT(mfa_base32_decode(mfa_enrollment_secret(e), key,
                                      sizeof(key), &len) == MFA_OK);
        FUZZ_ASSERT(mfa_otp_new(&f->otp, key, len) == MFA_OK);
        FUZZ_ASSERT(mfa_otp_set_type(f->otp, f->type) == MFA_OK);
        FUZZ_ASSERT(mfa_otp_set_digits(f->otp, f->digits) == MFA_OK);
        FUZZ_ASSERT(mfa_otp_set_period(f->otp, f->period) == MFA_OK);
        sodium_memzero(key, sizeof(key));
    }
    for (size_t i = 0; i + 1 < m.nf; i++)
        if (strcmp(m.f[i].id, f->id) == 0)
            fail("enroll_begin gave %s twice", f->id);
    mfa_enrollment_free(&e);
}

/* Spend the step the library says it matched, if the model allowed it. */
static void
spend(mfactor *f, const mfa_result *res, const int64_t *ok, size_t nok)
{
    int64_t s = f->type == MFA_HOTP ? f->last_step + 1 + res->offset
                                    : now / f->period + res->offset;
    size_t i;

    for (i = 0; i < nok && ok[i] != s; i++)
        ;
    if (i == nok)
        fail("factor %s spent step %+d, which the model does not allow", f->id,
             res->offset);
    f->last_step = s;
    f->drift = clamp_drift(res->offset);
    code_at(f, s, f->spent);
}

static void
op_confirm(struct in *in, int A)
{
    char typed[TYPED_MAX], digits[TYPED_MAX];
    char id[MFA_FACTOR_ID_LEN + 1] = "00000000deadbeef";
    uint8_t b = byte(in);
    int64_t ok[MFA_LOOKAHEAD_MAX + 1];
    size_t nok = 0;
    mfa_result res;
    mfactor *f;
    expect e = {MFA_ERR_CODE_WRONG, 0};
    mfa_rc rc;

    if (m.nf > 0 && b < 240)
        snprintf(id, sizeof(id), "%s", m.f[b % m.nf].id);
    login_code(in, A, typed);
    rc = mfa_enroll_confirm(ctx, accts[A], id, typed, &res);
    note("confirm %s %s: %s", accts[A], id, nm(rc));
    if (!shape_ok(typed, MFA_DIGITS_MIN, MFA_DIGITS_MAX, digits)) {
        refused_early("enroll_confirm", rc, MFA_ERR_CODE_FORMAT, &res);
        return;
    }
    f = factor_by_id(A, id);
    /* a code of another length than the pending factor's may be refused as
     * malformed before the throttle is looked at (issue 14), locked or not */
    if (f != NULL && f->status == PENDING &&
        model_factor(f, digits, 0, ok, &nok) == MFA_ERR_CODE_FORMAT)
        e.lenient = 1;
    nok = 0;
    if (now < m.a[A].locked_until)
        e.rc = MFA_ERR_THROTTLED;
    else if (f == NULL)
        e.rc = MFA_ERR_NOT_FOUND;
    else if (f->status != PENDING)
        e.rc = MFA_ERR_STATE;
    else if (f->created < now - pending_ttl)
        e.rc = MFA_ERR_EXPIRED;
    else
        e.rc = model_factor(f, digits, 0, ok, &nok);
    if (e.rc == MFA_ERR_CODE_FORMAT)
        e.lenient = 1;
    if (e.lenient && now < m.a[A].locked_until)
        e.rc = MFA_ERR_THROTTLED;
    settle("enroll_confirm", A, e, rc, &res);
    if (rc == MFA_OK) {
        if (strcmp(res.factor_id, f->id) != 0)
            fail("confirm matched %s, not %s", res.factor_id, f->id);
        f->status = ACTIVE;
        spend(f, &res, ok, nok);
    } else if (e.rc == MFA_ERR_EXPIRED && rc == MFA_ERR_EXPIRED) {
        f->status = GONE; /* dropped with the attempt (a code of the wrong
                             length is refused first, and drops nothing) */
    }
}

static void
op_verify(struct in *in, int A)
{
    char typed[TYPED_MAX], digits[TYPED_MAX];
    int64_t ok[HIST][MFA_LOOKAHEAD_MAX + 1];
    size_t nok[HIST], nact = 0;
    int any_ok = 0, any_replay = 0, any_len = 0;
    expect e = {MFA_ERR_CODE_WRONG, 0};
    mfa_result res;
    mfa_rc rc;

    login_code(in, A, typed);
    rc = mfa_verify(ctx, accts[A], typed, &res);
    note("verify %s: %s %s", accts[A], nm(rc), res.factor_id);
    if (!shape_ok(typed, MFA_DIGITS_MIN, MFA_DIGITS_MAX, digits)) {
        refused_early("verify", rc, MFA_ERR_CODE_FORMAT, &res);
        return;
    }
    for (size_t i = 0; i < m.nf; i++) {
        mfa_rc r;

        nok[i] = 0;
        if (m.f[i].acct != A || m.f[i].status != ACTIVE)
            continue;
        nact++;
        r = model_factor(&m.f[i], digits, 1, ok[i], &nok[i]);
        any_ok |= r == MFA_OK;
        any_replay |= r == MFA_ERR_REPLAYED;
        any_len |= r != MFA_ERR_CODE_FORMAT;
    }
    if (nact == 0) {
        e.rc = MFA_ERR_NO_FACTOR;
        e.lenient = 1;
    } else if (any_ok) {
        e.rc = MFA_OK;
    } else if (any_replay) {
        e.rc = MFA_ERR_REPLAYED;
    } else if (!any_len) {
        e.rc = MFA_ERR_CODE_FORMAT;
        e.lenient = 1;
    }
    if (now < m.a[A].locked_until)
        e.rc = MFA_ERR_THROTTLED;
    settle("verify", A, e, rc, &res);
    if (rc == MFA_OK) {
        size_t i;

        for (i = 0; i < m.nf; i++)
            if (m.f[i].acct == A && m.f[i].status == ACTIVE && nok[i] > 0 &&
                strcmp(m.f[i].id, res.factor_id) == 0)
                break;
        if (i == m.nf)
            fail("verify matched factor '%s', which the model does not allow",
                 res.factor_id);
        spend(&m.f[i], &res, ok[i], nok[i]);
    } else if (res.factor_id[0] != '\0') {
        fail("verify failed but names factor %s", res.factor_id);
    }
}

static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

static void
op_recover(struct in *in, int A)
{
    char typed[TYPED_MAX], canon[MFA_BACKUP_CHARS + 1];
    uint8_t kind = byte(in) % 6, b = byte(in);
    const mcode *c = m.nc ? &m.c[b % m.nc] : NULL;
    expect e = {MFA_ERR_CODE_WRONG, 0};
    mcode *hit = NULL;
    mfa_result res;
    mfa_rc rc;

    if (c == NULL && kind < 3)
        kind = 3;
    switch (kind) {
    case 0:
        snprintf(typed, sizeof(typed), "%s", c->shown);
        break;
    case 1: /* as a person types it: lower case, no hyphens, spaces */
        for (size_t i = 0, j = 0; i <= MFA_BACKUP_CHARS; i++) {
            typed[j++] =
                c->canon[i] >= 'A' ? (char)(c->canon[i] + 32) : c->canon[i];
            if (i == 5 && (b & 1))
                typed[j++] = ' ';
        }
        break;
    case 2: /* one character off */
        snprintf(typed, sizeof(typed), "%s", c->canon);
        typed[b % MFA_BACKUP_CHARS] =
            alphabet[(strchr(alphabet, typed[b % MFA_BACKUP_CHARS]) - alphabet +
                      1 + byte(in) % 31) %
                     32];
        break;
    case 3:
    case 4:
        for (int i = 0; i < MFA_BACKUP_CHARS; i++)
            typed[i] = alphabet[byte(in) % 32];
        typed[MFA_BACKUP_CHARS] = '\0';
        break;
    default:
        snprintf(typed, sizeof(typed), "%s",
                 (const char *[]){"", "7K3M-9QXD-2VB", "7K3M-9QXD-2VBNN",
                                  "7K3M-9QXD-2VBU", "123456"}[b % 5]);
    }
    rc = mfa_recover(ctx, accts[A], typed, &res);
    note("recover %s '%s': %s", accts[A], typed, nm(rc));
    if (mfa_backup_normalize(typed, canon) != MFA_OK) {
        refused_early("recover", rc, MFA_ERR_BACKUP_FORMAT, &res);
        return;
    }
    for (size_t i = 0; i < m.nc; i++)
        if (m.c[i].acct == A && m.c[i].gen == m.a[A].gen && !m.c[i].used &&
            strcmp(m.c[i].canon, canon) == 0)
            hit = &m.c[i];
    if (now < m.a[A].locked_until)
        e.rc = MFA_ERR_THROTTLED;
    else if (m.a[A].unused == 0)
        e.rc = MFA_ERR_NO_CODES;
    else if (hit != NULL)
        e.rc = MFA_OK;
    settle("recover", A, e, rc, &res);
    if (rc == MFA_OK) {
        hit->used = 1;
        m.a[A].unused--;
    }
    if ((rc == MFA_OK || rc == MFA_ERR_CODE_WRONG) &&
        res.backup_codes_left != m.a[A].unused)
        fail("recover: %u codes left, the model has %zu", res.backup_codes_left,
             m.a[A].unused);
}

static void
op_codes_new(struct in *in, int A)
{
    size_t n = 1 + byte(in) % 12;
    char **codes = NULL;
    mfa_rc rc = mfa_backup_codes_new(ctx, accts[A], n, &codes);

    note("backup_codes_new %s %zu: %s", accts[A], n, nm(rc));
    if (rc != MFA_OK)
        fail("backup_codes_new: %s", nm(rc));
    m.a[A].gen++;
    m.a[A].unused = n;
    for (size_t i = 0; i < n; i++) {
        mcode *c = &m.c[m.cnext];

        m.cnext = (m.cnext + 1) % CODES_HIST;
        if (m.nc < CODES_HIST)
            m.nc++;
        c->acct = A;
        c->gen = m.a[A].gen;
        c->used = 0;
        snprintf(c->shown, sizeof(c->shown), "%s", codes[i]);
        FUZZ_ASSERT(mfa_backup_normalize(codes[i], c->canon) == MFA_OK);
    }
    mfa_backup_codes_free(&codes, n);
}

static void
op_oob_begin(struct in *in, int A)
{
    uint8_t b = byte(in);
    int P = b & 1;
    mchal *ch = &m.a[A].ch[P];
    mfa_rc rc;

    send_fail = (b & 6) == 6;
    sent = 0;
    rc = mfa_oob_begin(ctx, accts[A], purposes[P]);
    note("oob_begin %s %s%s: %s %s", accts[A], purposes[P],
         send_fail ? " (sender fails)" : "", nm(rc), outbox);
    if (rc != (send_fail ? MFA_ERR_INTERNAL : MFA_OK) || !sent)
        fail("oob_begin: %s, sent %d", nm(rc), sent);
    if (strlen(outbox) != oob_digits)
        fail("oob_begin sent '%s', not %u digits", outbox, oob_digits);
    memcpy(ch->old[1], ch->old[0], sizeof(ch->old[0]));
    memcpy(ch->old[0], ch->code, sizeof(ch->code));
    snprintf(ch->code, sizeof(ch->code), "%s", outbox);
    /* a code the user never got is withdrawn */
    ch->alive = !send_fail;
    ch->expires = now + oob_ttl;
    ch->left = oob_attempts;
}

static void
op_oob_verify(struct in *in, int A)
{
    uint8_t kind = byte(in) % 6, b = byte(in);
    int P = b & 1;
    mchal *ch = &m.a[A].ch[P];
    char typed[TYPED_MAX], digits[TYPED_MAX];
    expect e = {MFA_ERR_CODE_WRONG, 0};
    mfa_result res;
    mfa_rc rc;

    switch (kind) {
    case 0:
    case 1: /* the last code sent for this purpose, or the other's */
        snprintf(typed, sizeof(typed), "%s",
                 (b & 2) ? m.a[A].ch[!P].code : ch->code);
        if (b & 4) /* as typed with a space */
            snprintf(typed, sizeof(typed), "%.3s %s", ch->code,
                     ch->code[0] ? ch->code + 3 : "");
        break;
    case 2: /* an older one, or the other account's */
        snprintf(typed, sizeof(typed), "%s",
                 (b & 2) ? m.a[!A].ch[P].code : ch->old[(b >> 2) & 1]);
        break;
    case 3:
    case 4:
        random_digits(in, 6 + (b >> 1) % 3, typed);
        break;
    default:
        snprintf(typed, sizeof(typed), "%s",
                 (const char *[]){"", "12345", "123456789", "12345a",
                                  "00000 0"}[(b >> 1) % 5]);
    }
    rc = mfa_oob_verify(ctx, accts[A], purposes[P], typed, &res);
    note("oob_verify %s %s '%s': %s (alive %d, left %d, expires %+lld)",
         accts[A], purposes[P], typed, nm(rc), ch->alive, ch->left,
         (long long)(ch->expires - now));
    /* issue 14: a code of another length than the ctx's out-of-band codes
     * is malformed, refused before anything is counted */
    if (!shape_ok(typed, oob_digits, oob_digits, digits)) {
        refused_early("oob_verify", rc, MFA_ERR_CODE_FORMAT, &res);
        return;
    }
    if (now < m.a[A].locked_until)
        e.rc = MFA_ERR_THROTTLED;
    else if (!ch->alive)
        e.rc = MFA_ERR_NOT_FOUND;
    else if (now >= ch->expires)
        e.rc = MFA_ERR_EXPIRED;
    else if (ch->left <= 0)
        e.rc = MFA_ERR_ATTEMPTS;
    else if (ch->left--, strcmp(digits, ch->code) == 0)
        e.rc = MFA_OK;
    settle("oob_verify", A, e, rc, &res);
    if (rc == MFA_OK)
        ch->alive = 0; /* spent */
}

static void
op_remove(struct in *in, int A)
{
    uint8_t b = byte(in);
    const char *id = m.nf ? m.f[b % m.nf].id : "00000000deadbeef";
    mfactor *f = factor_by_id(A, id);
    mfa_rc rc = mfa_factor_remove(ctx, accts[A], id);

    note("remove %s %s: %s", accts[A], id, nm(rc));
    if (rc != (f ? MFA_OK : MFA_ERR_NOT_FOUND))
        fail("factor_remove: %s, the model says %s", nm(rc),
             f ? "OK" : "NOT_FOUND");
    if (f != NULL)
        f->status = GONE;
}

static void
op_reset(int A)
{
    mfa_rc rc = mfa_reset(ctx, accts[A]);

    note("reset %s: %s", accts[A], nm(rc));
    if (rc != MFA_OK)
        fail("reset: %s", nm(rc));
    for (size_t i = 0; i < m.nf; i++)
        if (m.f[i].acct == A)
            m.f[i].status = GONE;
    m.a[A].failures = 0;
    m.a[A].locked_until = 0;
    m.a[A].gen++;
    m.a[A].unused = 0;
    for (int p = 0; p < NPURPOSE; p++)
        m.a[A].ch[p].alive = 0;
}

static void
op_advance(struct in *in, int A)
{
    uint8_t kind = byte(in) % 6, b = byte(in);
    int64_t to = now;
    const mchal *ch = &m.a[A].ch[b & 1];

    switch (kind) {
    case 0:
        to = now + b;
        break;
    case 1:
        to = now + ((int64_t)1 << (b % 19));
        break;
    case 2: /* to the end of the lock, a second before or at it */
        to = m.a[A].locked_until - 1 + (b & 1);
        break;
    case 3: /* to a challenge's expiry */
        to = ch->expires - 1 + ((b >> 1) & 1);
        break;
    case 4: /* to the next step */
        to = (now / 30 + 1) * 30 + (b & 1 ? 0 : -1);
        break;
    default: /* to the end of the newest enrollment's lifetime */
        if (m.nf > 0)
            to = m.f[m.nf - 1].created + pending_ttl - 1 + (b & 1);
    }
    if (to > now)
        now = to;
    note("advance to %+lld", (long long)(now - T_START));
}

/* What the account shows agrees with the model. */
static void
op_look(int A)
{
    mfa_factor_info *list = NULL;
    size_t n = 0, want = 0, left = 0;
    int has = -1;

    for (size_t i = 0; i < m.nf; i++)
        want += m.f[i].acct == A && m.f[i].status != GONE;
    if (mfa_factors_list(ctx, accts[A], &list, &n) != MFA_OK || n != want)
        fail("factors_list: %zu factors, the model has %zu", n, want);
    for (size_t i = 0; i < n; i++) {
        const mfactor *f = factor_by_id(A, list[i].id);
        if (f == NULL ||
            list[i].status !=
                (f->status == ACTIVE ? MFA_FACTOR_ACTIVE : MFA_FACTOR_PENDING))
            fail("factors_list: %s is not as the model has it", list[i].id);
    }
    mfa_free(list);
    if (mfa_account_has_mfa(ctx, accts[A], &has) != MFA_OK ||
        has != active_of(A, &n))
        fail("account_has_mfa: %d", has);
    if (mfa_backup_codes_left(ctx, accts[A], &left) != MFA_OK ||
        left != m.a[A].unused)
        fail("backup_codes_left: %zu, the model has %zu", left, m.a[A].unused);
    note("look %s", accts[A]);
}

/* ---- set-up and the loop ------------------------------------------------ */

static void
must(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz-flows set-up: %s\n", what);
        abort();
    }
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    uint8_t key[MFA_KEYRING_KEYBYTES];
    int stray;

    (void)argc;
    (void)argv;
    memset(key, 0x42, sizeof(key));
    must(mfa_keyring_new(&ring) == MFA_OK, "keyring");
    must(mfa_keyring_add(ring, 1, key, 1) == MFA_OK, "key");
    must(mfa_profile_custom_new(&profile8, MFA_TOTP, MFA_SHA1, 8, 60, 20) ==
             MFA_OK,
         "profile");
    must(mfa_profile_custom_new(&profile_hotp, MFA_HOTP, MFA_SHA1, 6, 30, 20) ==
             MFA_OK,
         "hotp profile");
    must(mfa_store_memory_new(&stores[0]) == MFA_OK, "memory store");
    nstores = 1;
    stray = access(":memory:", F_OK) != 0;
    if (mfa_store_create(&stores[1], "sqlite::memory:") == MFA_OK)
        nstores = 2;
    /* mfa_store_create makes an empty file named ":memory:" in the working
     * directory before SQLite opens its in-memory database: not ours to
     * keep */
    if (stray)
        (void)unlink(":memory:");
    for (size_t i = 0; i < nstores; i++) {
        must(mfa_ctx_new(&ctxs[i], stores[i], ring) == MFA_OK, "ctx");
        mfa_ctx_set_clock(ctxs[i], clock_fn, NULL);
        mfa_ctx_set_oob_sender(ctxs[i], sender, NULL);
    }
    /* the per-thread scratch of the service is made on first use */
    warming = 1;
    /* (an enrollment and its confirmation with the right code) */
    LLVMFuzzerTestOneInput((const uint8_t *)"\0\0\0\0\0\0\1\0\0\0\4", 11);
    warming = 0;
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint32_t bases[4] = {1, 2, 5, 30};
    static const uint32_t maxes[4] = {60, 600, 3600, 259200};
    static const int64_t ttls[4] = {30, 90, 300, 600};
    struct in in = {data, size};
    uint8_t b;
    long mark;

    b = byte(&in);
    ctx = ctxs[(b >> 7) % nstores];
    pol.free_attempts = b & 3;
    pol.base_delay = bases[(b >> 2) & 3];
    pol.max_delay = maxes[(b >> 4) & 3];
    if (pol.max_delay < pol.base_delay)
        pol.max_delay = pol.base_delay;
    b = byte(&in);
    w_past = b % 3;
    w_future = (b >> 2) % 3;
    w_drift = (b >> 4) % 4;
    lookahead = (unsigned[]){0, 1, 3, MFA_HOTP_LOOKAHEAD_DEFAULT}[b >> 6];
    b = byte(&in);
    pending_ttl = ttls[b & 3];
    oob_ttl = ttls[(b >> 2) & 3];
    oob_attempts = 1 + ((b >> 4) & 3);
    oob_digits = 6 + (b >> 6) % 3;
    FUZZ_ASSERT(mfa_ctx_set_throttle(ctx, &pol) == MFA_OK);
    FUZZ_ASSERT(mfa_ctx_set_window(ctx, w_past, w_future, w_drift) == MFA_OK);
    FUZZ_ASSERT(mfa_ctx_set_hotp_lookahead(ctx, lookahead) == MFA_OK);
    FUZZ_ASSERT(mfa_ctx_set_pending_ttl(ctx, pending_ttl) == MFA_OK);
    FUZZ_ASSERT(mfa_ctx_set_oob(ctx, oob_digits, oob_ttl, oob_attempts) ==
                MFA_OK);
    now = T_START + byte(&in);
    /* the store is shared by the inputs: each starts from empty accounts */
    for (int A = 0; A < NACCT; A++)
        FUZZ_ASSERT(mfa_reset(ctx, accts[A]) == MFA_OK);
    memset(&m, 0, sizeof(m));
    ntrace = 0;
    note("policy free %u base %u max %u, window -%u+%u drift %u look %u, ttl "
         "%lld/%lld, oob %u digits %d tries",
         pol.free_attempts, pol.base_delay, pol.max_delay, w_past, w_future,
         w_drift, lookahead, (long long)pending_ttl, (long long)oob_ttl,
         oob_digits, oob_attempts);

    mark = fuzz_guarded_mark();
    for (int k = 0; k < MAX_OPS && in.n > 0; k++) {
        uint8_t op = byte(&in);
        int A = (op >> 4) & 1;

        switch (op % 14) {
        case 0:
            op_enroll(&in, A);
            break;
        case 1:
            op_confirm(&in, A);
            break;
        case 2:
        case 3:
            op_verify(&in, A);
            break;
        case 4:
            op_recover(&in, A);
            break;
        case 5:
            op_codes_new(&in, A);
            break;
        case 6:
            op_oob_begin(&in, A);
            break;
        case 7:
            op_oob_verify(&in, A);
            break;
        case 8:
            op_remove(&in, A);
            break;
        case 9:
            if ((op >> 5) == 7) /* rarer: a reset undoes most of the work */
                op_reset(A);
            else
                op_look(A);
            break;
        default:
            op_advance(&in, A);
        }
    }
    for (size_t i = 0; i < m.nf; i++)
        mfa_otp_free(&m.f[i].otp);
    if (getenv("MFA_FUZZ_VERBOSE") != NULL)
        for (size_t i = 0; i < ntrace; i++)
            fprintf(stderr, "%s\n", trace[i]);
    if (!warming)
        fuzz_guarded_check(mark);
    return 0;
}
