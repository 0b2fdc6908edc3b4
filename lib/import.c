/*
 * Imports: the factors of google-authenticator-libpam, pam_oath and
 * otpauth:// URI lists, stored as active factors (include/mfa/import.h).
 *
 * Three phases, so that bad input never changes the store:
 *  1. every line is parsed and checked (formats, sizes, counters, the same
 *     secret twice for one account, the limits) before any transaction;
 *  2. each account's existing factors are unsealed and compared with the
 *     new secrets in a read transaction, for every account, before any
 *     write;
 *  3. each account is written in one write transaction that checks the
 *     same again (the account may have changed meanwhile) and inserts.
 * A failure in phase 3 (a concurrent change, a store error) removes what
 * earlier accounts of the same file received, so the file is imported
 * whole or not at all.
 *
 * Secrets live in guarded memory (sodium_malloc) from the line they were
 * read from to the seal, and are wiped after.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <mfa/import.h>
#include <mfa/store-backend.h>

#include "internal.h"
#include "keyring.h"
#include "rules.h"
#include "service_int.h"
#include "store/store_int.h"
#include "store/txn.h"
#include "text.h"

#define MESSAGE_MAX 256
#define NOTE_MAX 320
/* Attempts at a fresh factor id (as enrollment does). */
#define ID_TRIES 4
/* google-authenticator-libpam's limits (pam_google_authenticator.c). */
#define GA_WINDOW_MAX 100
#define GA_STEP_MAX 60
#define GA_RATE_ATTEMPTS_MAX 100
#define GA_RATE_INTERVAL_MAX 3600
/* The module learns a skew of up to 25 * 60 steps (check_time_skew), so
 * its used steps may lie that far ahead of the clock, plus its window. */
#define GA_AHEAD_MAX (25 * 60 + GA_WINDOW_MAX)
/* liboath reads keys into a 32-byte buffer (usersfile.c). */
#define OATH_KEY_MAX 32
/*
 * A users.oath TOTP line's last OTP is looked for from this many steps
 * before the import's step (as far back as any window and drift reach)
 * to MFA_LOOKAHEAD_MAX after it (a generous pam_oath window).
 */
#define OATH_TOTP_BACK (2 * MFA_WINDOW_MAX)
/* A stored HOTP counter must leave room for the look-ahead (service.c). */
#define COUNTER_LAST_MAX (INT64_MAX - MFA_LOOKAHEAD_MAX - 1)

typedef struct entry {
    size_t line;
    char account[MFA_ACCOUNT_MAX + 1];
    char label[MFA_LABEL_MAX + 1];
    mfa_otp_type type;
    mfa_algorithm alg;
    uint32_t digits, period;
    int64_t last_step;
    int32_t drift;
    /* zero-padded to the HMAC block: equal arrays are keys that give the
     * same codes (HMAC pads a short key with zeros) */
    uint8_t key[MFA_SECRET_MAX];
    size_t keylen;
    uint8_t fp[32]; /* keyed by a random key of this import only */
    char id[MFA_FACTOR_ID_LEN + 1];
} entry;

typedef struct scratch {
    size_t line;
    mfa_backup_rec rec;
} scratch;

typedef struct rfactor {
    char account[MFA_ACCOUNT_MAX + 1];
    char id[MFA_FACTOR_ID_LEN + 1];
    size_t line;
} rfactor;

typedef struct rnote {
    size_t line;
    char text[NOTE_MAX];
} rnote;

struct mfa_import_report {
    mfa_rc cause;
    size_t line;
    char message[MESSAGE_MAX];
    rfactor *f;
    size_t nf;
    size_t codes;
    rnote *notes;
    size_t nnotes, capnotes;
};

typedef struct imp {
    mfa_ctx_t *ctx;
    int64_t now;
    mfa_import_report_t *r;
    entry *e; /* guarded */
    size_t n, cap;
    scratch codes[MFA_BACKUP_COUNT_MAX];
    size_t ncodes;
    char *buf; /* guarded: one line, NUL-terminated */
} imp;

/* ---- the report ---------------------------------------------------------- */

static void
vset_error(imp *im, size_t line, mfa_rc cause, const char *fmt, va_list ap)
{
    im->r->line = line;
    im->r->cause = cause;
    vsnprintf(im->r->message, sizeof(im->r->message), fmt, ap);
}

/* A refusal of the input: what, where and why. */
static mfa_rc
refuse(imp *im, mfa_rc rc, size_t line, mfa_rc cause, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vset_error(im, line, cause, fmt, ap);
    va_end(ap);
    return rc;
}

static mfa_rc
bad_line(imp *im, size_t line, mfa_rc cause, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vset_error(im, line, cause, fmt, ap);
    va_end(ap);
    return MFA_ERR_IMPORT_LINE;
}

static mfa_rc
note(imp *im, size_t line, const char *fmt, ...)
{
    mfa_import_report_t *r = im->r;
    va_list ap;

    if (r->nnotes == r->capnotes) {
        size_t cap = r->capnotes ? r->capnotes * 2 : 8;
        rnote *v = realloc(r->notes, cap * sizeof(*v));

        if (v == NULL)
            return MFA_ERR_NOMEM;
        r->notes = v;
        r->capnotes = cap;
    }
    r->notes[r->nnotes].line = line;
    va_start(ap, fmt);
    vsnprintf(r->notes[r->nnotes].text, NOTE_MAX, fmt, ap);
    va_end(ap);
    r->nnotes++;
    return MFA_OK;
}

size_t
mfa_import_report_line(const mfa_import_report_t *r)
{
    return r ? r->line : 0;
}

mfa_rc
mfa_import_report_cause(const mfa_import_report_t *r)
{
    return r ? r->cause : MFA_ERR_INVALID;
}

const char *
mfa_import_report_message(const mfa_import_report_t *r)
{
    return r ? r->message : "";
}

size_t
mfa_import_report_count(const mfa_import_report_t *r)
{
    return r ? r->nf : 0;
}

const char *
mfa_import_report_account(const mfa_import_report_t *r, size_t i)
{
    return r && i < r->nf ? r->f[i].account : NULL;
}

const char *
mfa_import_report_factor_id(const mfa_import_report_t *r, size_t i)
{
    return r && i < r->nf ? r->f[i].id : NULL;
}

size_t
mfa_import_report_factor_line(const mfa_import_report_t *r, size_t i)
{
    return r && i < r->nf ? r->f[i].line : 0;
}

size_t
mfa_import_report_backup_codes(const mfa_import_report_t *r)
{
    return r ? r->codes : 0;
}

size_t
mfa_import_report_notes(const mfa_import_report_t *r)
{
    return r ? r->nnotes : 0;
}

const char *
mfa_import_report_note(const mfa_import_report_t *r, size_t i)
{
    return r && i < r->nnotes ? r->notes[i].text : NULL;
}

size_t
mfa_import_report_note_line(const mfa_import_report_t *r, size_t i)
{
    return r && i < r->nnotes ? r->notes[i].line : 0;
}

void
mfa_import_report_free(mfa_import_report_t **r)
{
    if (r == NULL || *r == NULL)
        return;
    free((*r)->f);
    free((*r)->notes);
    free(*r);
    *r = NULL;
}

/* ---- formats ------------------------------------------------------------- */

static const char *const format_names[] = {
    [MFA_IMPORT_GOOGLE_AUTHENTICATOR] = "google-authenticator",
    [MFA_IMPORT_OATH_USERS] = "oath-users",
    [MFA_IMPORT_URI] = "uri",
};

const char *
mfa_import_format_name(mfa_import_format f)
{
    size_t i = (size_t)f;

    return i < sizeof(format_names) / sizeof(format_names[0]) ? format_names[i]
                                                              : NULL;
}

mfa_rc
mfa_import_format_from_name(const char *name, mfa_import_format *f)
{
    if (name == NULL || f == NULL)
        return MFA_ERR_INVALID;
    for (size_t i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++)
        if (strcmp(name, format_names[i]) == 0) {
            *f = (mfa_import_format)i;
            return MFA_OK;
        }
    return MFA_ERR_INVALID;
}

/* ---- lines and fields ---------------------------------------------------- */

typedef struct lines {
    const char *p, *end;
    size_t no;
} lines;

/*
 * The next line without its LF, a CR before it and trailing blanks: 1, 0
 * at the end, or an error with the report set.  A NUL or a CR inside a
 * line is refused (no format has one), as is a line longer than
 * MFA_IMPORT_LINE_MAX.
 */
static int
next_line(imp *im, lines *it, const char **s, size_t *n, mfa_rc *err)
{
    const char *nl, *q;
    size_t len;

    if (it->p >= it->end)
        return 0;
    it->no++;
    nl = memchr(it->p, '\n', (size_t)(it->end - it->p));
    len = nl ? (size_t)(nl - it->p) : (size_t)(it->end - it->p);
    q = it->p;
    it->p = nl ? nl + 1 : it->end;
    if (len > MFA_IMPORT_LINE_MAX) {
        *err =
            bad_line(im, it->no, MFA_ERR_TOO_LONG,
                     "the line is longer than %d bytes", MFA_IMPORT_LINE_MAX);
        return -1;
    }
    if (len > 0 && q[len - 1] == '\r')
        len--; /* Windows line ends */
    if (memchr(q, '\0', len) != NULL || memchr(q, '\r', len) != NULL) {
        *err = bad_line(im, it->no, MFA_ERR_CONTROL_CHAR,
                        "the line holds a NUL or CR character");
        return -1;
    }
    while (len > 0 && (q[len - 1] == ' ' || q[len - 1] == '\t'))
        len--;
    *s = q;
    *n = len;
    return 1;
}

static int
blank(char c)
{
    return c == ' ' || c == '\t';
}

/* The next field of s[*pos..n) separated by blanks; 0 when none is left. */
static int
next_field(const char *s, size_t n, size_t *pos, const char **f, size_t *flen)
{
    size_t i = *pos, j;

    while (i < n && blank(s[i]))
        i++;
    if (i == n)
        return 0;
    for (j = i; j < n && !blank(s[j]); j++)
        ;
    *f = s + i;
    *flen = j - i;
    *pos = j;
    return 1;
}

static int
field_is(const char *f, size_t n, const char *word)
{
    return strlen(word) == n && memcmp(f, word, n) == 0;
}

/* Decimal digits only, within 0..max. */
static int
parse_u64(const char *f, size_t n, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;

    if (n == 0 || n > 20)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned d;

        if (f[i] < '0' || f[i] > '9')
            return -1;
        d = (unsigned)(f[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

/* An optional sign, then digits; within -max..max. */
static int
parse_i64(const char *f, size_t n, int64_t max, int64_t *out)
{
    uint64_t v;
    int neg = 0;

    if (n > 0 && (f[0] == '-' || f[0] == '+')) {
        neg = f[0] == '-';
        f++;
        n--;
    }
    if (parse_u64(f, n, (uint64_t)max, &v) != 0)
        return -1;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 0;
}

/* A copy of f[0..n) in the guarded line buffer, NUL-terminated. */
static char *
guarded_copy(imp *im, const char *f, size_t n)
{
    memcpy(im->buf, f, n);
    im->buf[n] = '\0';
    return im->buf;
}

static void
guarded_wipe(imp *im)
{
    sodium_memzero(im->buf, MFA_IMPORT_LINE_MAX + 1);
}

/* ---- entries ------------------------------------------------------------- */

static mfa_rc
entry_add(imp *im, entry **out)
{
    if (im->n == im->cap) {
        size_t cap = im->cap ? im->cap * 2 : 16;
        entry *v = sodium_allocarray(cap, sizeof(*v));

        if (v == NULL)
            return MFA_ERR_NOMEM;
        if (im->n > 0)
            memcpy(v, im->e, im->n * sizeof(*v));
        if (im->e != NULL)
            sodium_free(im->e); /* wipes the old copy */
        im->e = v;
        im->cap = cap;
    }
    *out = &im->e[im->n++];
    memset(*out, 0, sizeof(**out));
    return MFA_OK;
}

static mfa_rc
entry_account(imp *im, entry *e, const char *a, size_t n)
{
    mfa_rc rc;

    if (n > MFA_ACCOUNT_MAX)
        return bad_line(im, e->line, MFA_ERR_TOO_LONG,
                        "the account is longer than %d bytes", MFA_ACCOUNT_MAX);
    memcpy(e->account, a, n);
    e->account[n] = '\0';
    if ((rc = mfa_int_text_field(e->account, MFA_ACCOUNT_MAX, 1)) != MFA_OK)
        return bad_line(im, e->line, rc, "the account is not usable: %s",
                        mfa_strerror(rc));
    return MFA_OK;
}

static void
entry_label(entry *e, const char *label)
{
    snprintf(e->label, sizeof(e->label), "%s", label);
}

/* A key of 10..max bytes (10: google-authenticator-libpam's old size). */
static mfa_rc
entry_key(imp *im, entry *e, const uint8_t *k, size_t n, size_t max)
{
    if (n < MFA_SECRET_LEGACY_MIN)
        return bad_line(im, e->line, MFA_ERR_SECRET_SHORT,
                        "the secret has %zu bytes, fewer than %d", n,
                        MFA_SECRET_LEGACY_MIN);
    if (n > max)
        return bad_line(im, e->line, MFA_ERR_SECRET_LONG,
                        "the secret has %zu bytes, more than %zu", n, max);
    memcpy(e->key, k, n);
    e->keylen = n;
    return MFA_OK;
}

/* ---- google-authenticator-libpam ---------------------------------------- */

typedef struct ga_opts {
    size_t line_rate, line_window, line_reuse, line_totp, line_hotp;
    size_t line_step, line_skew, line_resetting;
    uint64_t window, step, rate_n, rate_m, reuse_max;
    int have_reuse_step;
    int64_t hotp, skew;
} ga_opts;

/* "RATE_LIMIT n m [timestamp ...]" */
static mfa_rc
ga_rate(imp *im, size_t line, const char *v, size_t n, ga_opts *o)
{
    const char *f;
    size_t fl, pos = 0;
    uint64_t ts;

    if (!next_field(v, n, &pos, &f, &fl) ||
        parse_u64(f, fl, GA_RATE_ATTEMPTS_MAX, &o->rate_n) != 0 ||
        o->rate_n < 1 || !next_field(v, n, &pos, &f, &fl) ||
        parse_u64(f, fl, GA_RATE_INTERVAL_MAX, &o->rate_m) != 0 ||
        o->rate_m < 1)
        return bad_line(im, line, MFA_ERR_INVALID,
                        "RATE_LIMIT needs attempts (1..%d) and seconds "
                        "(1..%d)",
                        GA_RATE_ATTEMPTS_MAX, GA_RATE_INTERVAL_MAX);
    while (next_field(v, n, &pos, &f, &fl))
        if (parse_u64(f, fl, UINT32_MAX, &ts) != 0)
            return bad_line(im, line, MFA_ERR_INVALID,
                            "RATE_LIMIT: a time stamp is not a number");
    return MFA_OK;
}

/* "DISALLOW_REUSE [step ...]": the steps already used. */
static mfa_rc
ga_reuse(imp *im, size_t line, const char *v, size_t n, ga_opts *o)
{
    const char *f;
    size_t fl, pos = 0;
    uint64_t s;

    while (next_field(v, n, &pos, &f, &fl)) {
        if (parse_u64(f, fl, INT32_MAX, &s) != 0)
            return bad_line(im, line, MFA_ERR_INVALID,
                            "DISALLOW_REUSE: a used time step is not a "
                            "number");
        if (!o->have_reuse_step || s > o->reuse_max)
            o->reuse_max = s;
        o->have_reuse_step = 1;
    }
    return MFA_OK;
}

/* One value, digits only (STEP_SIZE, WINDOW_SIZE), within lo..hi. */
static mfa_rc
ga_number(imp *im, size_t line, const char *name, const char *v, size_t n,
          uint64_t lo, uint64_t hi, mfa_rc cause, uint64_t *out)
{
    if (parse_u64(v, n, hi, out) != 0 || *out < lo)
        return bad_line(im, line, cause,
                        "%s must be a number from %llu to %llu", name,
                        (unsigned long long)lo, (unsigned long long)hi);
    return MFA_OK;
}

static mfa_rc
ga_option(imp *im, size_t line, const char *s, size_t n, ga_opts *o)
{
    const char *name = s + 2, *v;
    size_t nl = 0, vl, i;
    size_t *seen = NULL;
    int underscore = 0;

    if (n < 3 || s[1] != ' ')
        return bad_line(im, line, MFA_ERR_INVALID,
                        "an option line starts with '\" ' and a name");
    while (2 + nl < n && !blank(name[nl])) {
        char c = name[nl];
        if (!((c >= 'A' && c <= 'Z') || c == '_'))
            return bad_line(im, line, MFA_ERR_INVALID,
                            "an option name is upper case with an "
                            "underscore");
        underscore |= c == '_';
        nl++;
    }
    if (nl == 0 || !underscore)
        return bad_line(im, line, MFA_ERR_INVALID,
                        "an option name is upper case with an underscore");
    for (i = 2 + nl; i < n && blank(s[i]); i++)
        ;
    v = s + i;
    vl = n - i;

    if (field_is(name, nl, "RATE_LIMIT"))
        seen = &o->line_rate;
    else if (field_is(name, nl, "WINDOW_SIZE"))
        seen = &o->line_window;
    else if (field_is(name, nl, "DISALLOW_REUSE"))
        seen = &o->line_reuse;
    else if (field_is(name, nl, "TOTP_AUTH"))
        seen = &o->line_totp;
    else if (field_is(name, nl, "HOTP_COUNTER"))
        seen = &o->line_hotp;
    else if (field_is(name, nl, "STEP_SIZE"))
        seen = &o->line_step;
    else if (field_is(name, nl, "TIME_SKEW"))
        seen = &o->line_skew;
    else if (field_is(name, nl, "RESETTING_TIME_SKEW"))
        seen = &o->line_resetting;
    else if (field_is(name, nl, "OTP_DISABLED"))
        return bad_line(im, line, MFA_ERR_STATE,
                        "OTP_DISABLED: one-time codes are disabled for this "
                        "user; enable them or leave the file out");
    else
        return note(im, line, "option %.*s is not known: ignored", (int)nl,
                    name);
    if (*seen != 0)
        return bad_line(im, line, MFA_ERR_URI_PARAM,
                        "option %.*s given twice (first on line %zu)", (int)nl,
                        name, *seen);
    *seen = line;

    if (seen == &o->line_rate)
        return ga_rate(im, line, v, vl, o);
    if (seen == &o->line_window)
        return ga_number(im, line, "WINDOW_SIZE", v, vl, 1, GA_WINDOW_MAX,
                         MFA_ERR_WINDOW, &o->window);
    if (seen == &o->line_step)
        return ga_number(im, line, "STEP_SIZE", v, vl, 1, GA_STEP_MAX,
                         MFA_ERR_PERIOD, &o->step);
    if (seen == &o->line_reuse)
        return ga_reuse(im, line, v, vl, o);
    if (seen == &o->line_hotp) {
        /* the next counter to accept; google-authenticator starts at 1 */
        if (parse_i64(v, vl, INT64_MAX, &o->hotp) != 0 || o->hotp < 1 ||
            o->hotp - 1 > COUNTER_LAST_MAX)
            return bad_line(im, line, MFA_ERR_COUNTER,
                            "HOTP_COUNTER must be a counter from 1 to %lld",
                            (long long)COUNTER_LAST_MAX + 1);
        return MFA_OK;
    }
    if (seen == &o->line_skew) {
        if (parse_i64(v, vl, INT32_MAX, &o->skew) != 0)
            return bad_line(im, line, MFA_ERR_INVALID,
                            "TIME_SKEW must be a whole number of steps");
        return MFA_OK;
    }
    return MFA_OK; /* TOTP_AUTH; RESETTING_TIME_SKEW is transient state */
}

/* An 8-digit scratch code, 10000000..99999999 as the module reads them. */
static mfa_rc
ga_scratch(imp *im, size_t line, const char *s, size_t n)
{
    scratch *c;
    char *code;
    mfa_rc rc;

    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return bad_line(im, line, MFA_ERR_INVALID,
                            "neither an option line nor a scratch code");
    if (n != MFA_BACKUP_SCRATCH_CHARS || s[0] == '0')
        return bad_line(im, line, MFA_ERR_BACKUP_FORMAT,
                        "a scratch code has 8 digits, from 10000000");
    if (im->ncodes == MFA_BACKUP_COUNT_MAX)
        return refuse(im, MFA_ERR_IMPORT_LIMIT, line, MFA_ERR_IMPORT_LIMIT,
                      "more than %d scratch codes", MFA_BACKUP_COUNT_MAX);
    c = &im->codes[im->ncodes];
    c->line = line;
    c->rec.key_id = mfa_keyring_current(im->ctx->kr);
    code = guarded_copy(im, s, n);
    rc = mfa_backup_hash(im->ctx->kr, c->rec.key_id, code, c->rec.hash);
    guarded_wipe(im);
    if (rc != MFA_OK)
        return rc;
    for (size_t i = 0; i < im->ncodes; i++)
        if (sodium_memcmp(im->codes[i].rec.hash, c->rec.hash,
                          MFA_BACKUP_HASHBYTES) == 0)
            return refuse(
                im, MFA_ERR_IMPORT_DUPLICATE, line, MFA_ERR_IMPORT_DUPLICATE,
                "the scratch code of line %zu again", im->codes[i].line);
    im->ncodes++;
    return MFA_OK;
}

/* The window notes: what google-authenticator accepted, what the ctx does. */
static mfa_rc
ga_window_notes(imp *im, const ga_opts *o, const entry *e)
{
    const mfa_ctx_t *ctx = im->ctx;
    uint64_t w = o->line_window ? o->window : 3; /* the module's default */
    size_t line = o->line_window;

    if (e->type == MFA_TOTP) {
        unsigned past = (unsigned)((w - 1) / 2), future = (unsigned)(w / 2);

        if (past == ctx->past && future == ctx->future)
            return MFA_OK;
        return note(im, line,
                    "WINDOW_SIZE %llu: google-authenticator accepted steps "
                    "-%u..+%u, this service accepts -%u..+%u for every "
                    "account (mfa_ctx_set_window, at most %d each way)",
                    (unsigned long long)w, past, future, ctx->past, ctx->future,
                    MFA_WINDOW_MAX);
    }
    if (w - 1 == ctx->lookahead)
        return MFA_OK;
    return note(im, line,
                "WINDOW_SIZE %llu: google-authenticator accepted the next "
                "%llu counters, this service the next %u for every account "
                "(mfa_ctx_set_hotp_lookahead, at most %d)",
                (unsigned long long)w, (unsigned long long)w,
                ctx->lookahead + 1, MFA_LOOKAHEAD_MAX + 1);
}

static mfa_rc
ga_finish(imp *im, const ga_opts *o, entry *e)
{
    const mfa_ctx_t *ctx = im->ctx;
    mfa_rc rc;

    e->alg = MFA_SHA1;
    e->digits = 6;
    e->period = MFA_PERIOD_DEFAULT;
    e->last_step = MFA_STEP_NONE;
    if (o->line_hotp) {
        /* the module's rule: HOTP_COUNTER wins over TOTP_AUTH */
        e->type = MFA_HOTP;
        e->last_step = o->hotp - 1;
        if (o->line_totp &&
            (rc = note(im, o->line_totp,
                       "TOTP_AUTH beside HOTP_COUNTER: imported as HOTP, as "
                       "google-authenticator reads it")) != MFA_OK)
            return rc;
    } else if (o->line_totp) {
        e->type = MFA_TOTP;
        if (o->line_step)
            e->period = (uint32_t)o->step;
        if (o->have_reuse_step) {
            uint64_t now_step = (uint64_t)im->now / e->period;

            if (o->reuse_max > now_step + GA_AHEAD_MAX)
                return bad_line(im, o->line_reuse, MFA_ERR_TIME,
                                "DISALLOW_REUSE: used step %llu is ahead of "
                                "this clock's step %llu",
                                (unsigned long long)o->reuse_max,
                                (unsigned long long)now_step);
            e->last_step = (int64_t)o->reuse_max; /* spent: never again */
        }
        if (o->line_skew) {
            e->drift = mfa_int_clamp_drift(o->skew, ctx->drift_max);
            if (e->drift != o->skew &&
                (rc = note(im, o->line_skew,
                           "TIME_SKEW %lld steps kept as %d: the drift this "
                           "service remembers is at most %u steps "
                           "(mfa_ctx_set_window)",
                           (long long)o->skew, (int)e->drift,
                           ctx->drift_max)) != MFA_OK)
                return rc;
        }
        if (!o->line_reuse &&
            (rc = note(im, 0,
                       "no DISALLOW_REUSE: google-authenticator let a code "
                       "log in again within its window; this service never "
                       "accepts a code twice")) != MFA_OK)
            return rc;
    } else {
        return bad_line(im, 0, MFA_ERR_TYPE,
                        "the file has neither TOTP_AUTH nor HOTP_COUNTER: no "
                        "one-time code worked with it");
    }
    if ((rc = ga_window_notes(im, o, e)) != MFA_OK)
        return rc;
    if (o->line_rate &&
        (rc = note(im, o->line_rate,
                   "RATE_LIMIT %llu %llu (at most %llu logins in %llu s) is "
                   "not kept per account: this service delays failed "
                   "attempts of every account (%u free, then %u s doubling "
                   "up to %u s; mfa_ctx_set_throttle)",
                   (unsigned long long)o->rate_n, (unsigned long long)o->rate_m,
                   (unsigned long long)o->rate_n, (unsigned long long)o->rate_m,
                   ctx->throttle.free_attempts, ctx->throttle.base_delay,
                   ctx->throttle.max_delay)) != MFA_OK)
        return rc;
    return MFA_OK;
}

static mfa_rc
parse_ga(imp *im, const char *account, const char *text, size_t len)
{
    uint8_t key[MFA_SECRET_MAX];
    lines it = {text, text + len, 0};
    ga_opts o;
    entry *e;
    const char *s;
    size_t n, keylen = 0;
    mfa_rc rc, err = MFA_OK;
    int got;

    memset(&o, 0, sizeof(o));
    if (account == NULL)
        return refuse(im, MFA_ERR_INVALID, 0, MFA_ERR_INVALID,
                      "a google-authenticator file needs the account it "
                      "belongs to");
    if ((rc = entry_add(im, &e)) != MFA_OK)
        return rc;
    e->line = 1;
    if ((rc = entry_account(im, e, account, strlen(account))) != MFA_OK) {
        im->r->line = 0; /* the argument, not a line */
        return rc == MFA_ERR_IMPORT_LINE ? MFA_ERR_INVALID : rc;
    }
    entry_label(e, "google-authenticator");

    /* line 1: the secret */
    got = next_line(im, &it, &s, &n, &err);
    if (got < 0)
        return err;
    if (got == 0 || n == 0)
        return bad_line(im, 1, MFA_ERR_EMPTY,
                        "the first line must be the base32 secret");
    if (n > MFA_BASE32_INPUT_MAX)
        return bad_line(im, 1, MFA_ERR_BASE32_LENGTH,
                        "the secret is longer than %d characters",
                        MFA_BASE32_INPUT_MAX);
    rc = mfa_base32_decode(guarded_copy(im, s, n), key, sizeof(key), &keylen);
    guarded_wipe(im);
    if (rc == MFA_ERR_BUFFER)
        rc = MFA_ERR_SECRET_LONG;
    if (rc != MFA_OK) {
        sodium_memzero(key, sizeof(key));
        return bad_line(im, 1, rc, "the first line is not a base32 secret: %s",
                        mfa_strerror(rc));
    }
    rc = entry_key(im, e, key, keylen, MFA_SECRET_MAX);
    sodium_memzero(key, sizeof(key));
    if (rc != MFA_OK)
        return rc;

    while ((got = next_line(im, &it, &s, &n, &err)) > 0) {
        if (n == 0)
            continue; /* the module skips blank lines */
        if (s[0] == '"')
            rc = ga_option(im, it.no, s, n, &o);
        else
            rc = ga_scratch(im, it.no, s, n);
        if (rc != MFA_OK)
            return rc;
    }
    if (got < 0)
        return err;
    return ga_finish(im, &o, e);
}

/* ---- pam_oath's users.oath ----------------------------------------------- */

/* liboath's token types (usersfile.c parse_type); 0 when unknown. */
static int
oath_type(const char *f, size_t n, uint32_t *digits, uint32_t *period)
{
    static const struct {
        const char *name;
        uint32_t digits, period;
    } types[] = {
        {"HOTP", 6, 0},        {"HOTP/E", 6, 0},      {"HOTP/E/6", 6, 0},
        {"HOTP/E/7", 7, 0},    {"HOTP/E/8", 8, 0},    {"HOTP/T30", 6, 30},
        {"HOTP/T30/6", 6, 30}, {"HOTP/T30/7", 7, 30}, {"HOTP/T30/8", 8, 30},
        {"HOTP/T60", 6, 60},   {"HOTP/T60/6", 6, 60}, {"HOTP/T60/7", 7, 60},
        {"HOTP/T60/8", 8, 60},
    };

    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (field_is(f, n, types[i].name)) {
            *digits = types[i].digits;
            *period = types[i].period;
            return 1;
        }
    return 0;
}

/* liboath's time stamp, "%Y-%m-%dT%H:%M:%SL" (local time): its shape. */
static int
oath_timestamp_ok(const char *f, size_t n)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:ddL";

    if (n != sizeof(shape) - 1)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (shape[i] == 'd' ? (f[i] < '0' || f[i] > '9') : f[i] != shape[i])
            return 0;
    }
    return 1;
}

/* An HOTP generator for the entry's key (a TOTP step is its counter). */
static mfa_rc
entry_otp(const entry *e, mfa_otp_t **o)
{
    mfa_rc rc = mfa_otp_new(o, e->key, e->keylen);

    if (rc == MFA_OK && (rc = mfa_otp_set_type(*o, MFA_HOTP)) == MFA_OK)
        rc = mfa_otp_set_digits(*o, e->digits);
    if (rc != MFA_OK)
        mfa_otp_free(o);
    return rc;
}

/* Whether otp (e->digits digits) is the code of counter c. */
static mfa_rc
code_matches(const mfa_otp_t *o, unsigned digits, uint64_t c, const char *otp,
             int *eq)
{
    char code[MFA_CODE_BUFSIZE];
    mfa_rc rc = mfa_otp_hotp(o, c, code, sizeof(code));

    *eq = rc == MFA_OK && sodium_memcmp(code, otp, digits) == 0;
    sodium_memzero(code, sizeof(code));
    return rc;
}

/*
 * A line with a last OTP has spent it.  HOTP: liboath writes the counter
 * of the OTP it accepted, so that counter is spent.  TOTP: the counter
 * field means nothing; the OTP's step is found around the import's time.
 */
static mfa_rc
oath_spent(imp *im, entry *e, uint64_t counter, const char *otp)
{
    mfa_otp_t *o = NULL;
    int eq = 0;
    mfa_rc rc;

    if (e->type == MFA_HOTP && counter > (uint64_t)COUNTER_LAST_MAX)
        return bad_line(im, e->line, MFA_ERR_COUNTER,
                        "the counter %llu is beyond what can be stored "
                        "(%lld)",
                        (unsigned long long)counter,
                        (long long)COUNTER_LAST_MAX);
    if ((rc = entry_otp(e, &o)) != MFA_OK)
        return rc;
    if (e->type == MFA_HOTP) {
        e->last_step = (int64_t)counter;
        rc = code_matches(o, e->digits, counter, otp, &eq);
        if (rc == MFA_OK && !eq)
            rc = note(im, e->line,
                      "the last OTP is not the code of counter %llu; the "
                      "counter is taken as spent all the same",
                      (unsigned long long)counter);
    } else {
        uint64_t now_step = (uint64_t)im->now / e->period;
        uint64_t lo = now_step > OATH_TOTP_BACK ? now_step - OATH_TOTP_BACK : 0;
        uint64_t hi = now_step + MFA_LOOKAHEAD_MAX;
        int64_t found = MFA_STEP_NONE;

        /* every step of the range is computed; the latest match wins */
        for (uint64_t st = lo; st <= hi && rc == MFA_OK; st++) {
            rc = code_matches(o, e->digits, st, otp, &eq);
            if (eq)
                found = (int64_t)st;
        }
        e->last_step = found;
    }
    mfa_otp_free(&o);
    return rc;
}

static mfa_rc
oath_line(imp *im, size_t line, const char *s, size_t n)
{
    uint8_t key[OATH_KEY_MAX + 1];
    const char *f, *otp = NULL;
    size_t fl, pos = 0, keylen = 0, otplen = 0;
    uint64_t counter = 0;
    entry *e;
    mfa_rc rc;

    if (!next_field(s, n, &pos, &f, &fl))
        return MFA_OK;
    if (f[0] == '#')
        return MFA_OK; /* a comment */
    if ((rc = entry_add(im, &e)) != MFA_OK)
        return rc;
    e->line = line;
    entry_label(e, "pam_oath");
    e->alg = MFA_SHA1;
    if (!oath_type(f, fl, &e->digits, &e->period))
        return bad_line(im, line, MFA_ERR_TYPE,
                        "unknown token type '%.*s' (HOTP, HOTP/E/8, "
                        "HOTP/T30, HOTP/T60/8, ...)",
                        (int)(fl > 32 ? 32 : fl), f);
    e->type = e->period ? MFA_TOTP : MFA_HOTP;
    if (e->type == MFA_HOTP)
        e->period = MFA_PERIOD_DEFAULT;
    e->last_step = MFA_STEP_NONE;

    if (!next_field(s, n, &pos, &f, &fl))
        return bad_line(im, line, MFA_ERR_EMPTY, "no user name");
    if ((rc = entry_account(im, e, f, fl)) != MFA_OK)
        return rc;
    if (!next_field(s, n, &pos, &f, &fl))
        return bad_line(im, line, MFA_ERR_EMPTY,
                        "no password field ('-' for none)");
    if (!field_is(f, fl, "-") && !field_is(f, fl, "+") &&
        (rc = note(im, line,
                   "user %s has a static password in users.oath: it is not "
                   "imported (this service checks the one-time code only)",
                   e->account)) != MFA_OK)
        return rc;
    if (!next_field(s, n, &pos, &f, &fl))
        return bad_line(im, line, MFA_ERR_EMPTY, "no secret");
    if (fl % 2 != 0 || fl / 2 > OATH_KEY_MAX ||
        sodium_hex2bin(key, sizeof(key), f, fl, NULL, &keylen, NULL) != 0 ||
        keylen != fl / 2) {
        sodium_memzero(key, sizeof(key));
        if (fl / 2 > OATH_KEY_MAX)
            return bad_line(im, line, MFA_ERR_SECRET_LONG,
                            "the secret is longer than %d bytes (liboath's "
                            "limit)",
                            OATH_KEY_MAX);
        return bad_line(im, line, MFA_ERR_BASE32_CHAR,
                        "the secret is not an even number of hex digits");
    }
    rc = entry_key(im, e, key, keylen, OATH_KEY_MAX);
    sodium_memzero(key, sizeof(key));
    if (rc != MFA_OK)
        return rc;

    if (next_field(s, n, &pos, &f, &fl)) {
        if (parse_u64(f, fl, UINT64_MAX, &counter) != 0)
            return bad_line(im, line, MFA_ERR_COUNTER,
                            "the counter is not a number from 0 to "
                            "18446744073709551615");
    }
    if (next_field(s, n, &pos, &otp, &otplen)) {
        for (size_t i = 0; i < otplen; i++)
            if (otp[i] < '0' || otp[i] > '9')
                otplen = 0;
        if (otplen != e->digits)
            return bad_line(im, line, MFA_ERR_CODE_FORMAT,
                            "the last OTP is not %u digits", e->digits);
    }
    if (next_field(s, n, &pos, &f, &fl) && !oath_timestamp_ok(f, fl))
        return bad_line(im, line, MFA_ERR_TIME,
                        "the time stamp is not YYYY-MM-DDTHH:MM:SSL");
    if (next_field(s, n, &pos, &f, &fl))
        return bad_line(im, line, MFA_ERR_INVALID,
                        "more than 7 fields (type, user, password, secret, "
                        "counter, last OTP, time)");

    if (otp != NULL)
        return oath_spent(im, e, counter, otp);
    if (e->type == MFA_HOTP) {
        /* a fresh counter is the next one to use */
        if (counter > (uint64_t)COUNTER_LAST_MAX + 1)
            return bad_line(im, line, MFA_ERR_COUNTER,
                            "the counter %llu is beyond what can be stored "
                            "(%lld)",
                            (unsigned long long)counter,
                            (long long)COUNTER_LAST_MAX + 1);
        e->last_step = (int64_t)counter - 1;
    }
    return MFA_OK;
}

static mfa_rc
parse_oath(imp *im, const char *account, const char *text, size_t len)
{
    lines it = {text, text + len, 0};
    const char *s;
    size_t n;
    mfa_rc rc, err = MFA_OK;
    int got;

    if (account != NULL)
        return refuse(im, MFA_ERR_INVALID, 0, MFA_ERR_INVALID,
                      "a users.oath file names its accounts: no account "
                      "may be given");
    while ((got = next_line(im, &it, &s, &n, &err)) > 0)
        if ((rc = oath_line(im, it.no, s, n)) != MFA_OK)
            return rc;
    return got < 0 ? err : MFA_OK;
}

/* ---- otpauth:// URIs ----------------------------------------------------- */

static mfa_rc
uri_line(imp *im, size_t line, const char *s, size_t n, const char *account)
{
    const mfa_secret_t *sec;
    mfa_uri_t *u = NULL;
    unsigned warn = 0;
    entry *e;
    mfa_rc rc;

    while (n > 0 && blank(s[0])) {
        s++;
        n--;
    }
    if (n == 0 || s[0] == '#')
        return MFA_OK;
    if ((rc = entry_add(im, &e)) != MFA_OK)
        return rc;
    e->line = line;
    rc = mfa_uri_parse(guarded_copy(im, s, n), &u, &warn);
    guarded_wipe(im);
    if (rc != MFA_OK)
        return bad_line(im, line, rc, "not a usable otpauth:// URI: %s",
                        mfa_strerror(rc));
    if (account != NULL)
        rc = entry_account(im, e, account, strlen(account));
    else
        rc = entry_account(im, e, mfa_uri_account(u),
                           strlen(mfa_uri_account(u)));
    if (rc != MFA_OK)
        goto out;
    entry_label(e, mfa_uri_issuer(u)[0] ? mfa_uri_issuer(u) : "otpauth URI");
    e->type = mfa_uri_type(u);
    e->alg = mfa_uri_algorithm(u);
    e->digits = mfa_uri_digits(u);
    e->period = mfa_uri_period(u);
    e->last_step = MFA_STEP_NONE;
    if (e->type == MFA_HOTP) {
        uint64_t c = mfa_uri_counter(u);

        /* the app's next code is for the URI's counter */
        if (c > (uint64_t)COUNTER_LAST_MAX + 1) {
            rc = bad_line(im, line, MFA_ERR_COUNTER,
                          "the counter %llu is beyond what can be stored "
                          "(%lld)",
                          (unsigned long long)c,
                          (long long)COUNTER_LAST_MAX + 1);
            goto out;
        }
        e->last_step = (int64_t)c - 1;
    }
    sec = mfa_uri_secret(u);
    if ((rc = entry_key(im, e, mfa_secret_bytes(sec), mfa_secret_len(sec),
                        MFA_SECRET_MAX)) != MFA_OK)
        goto out;
    for (unsigned bit = 1; bit != 0 && rc == MFA_OK; bit <<= 1)
        if ((warn & bit) && mfa_uri_warning_text(bit) != NULL)
            rc = note(im, line, "%s", mfa_uri_warning_text(bit));
out:
    mfa_uri_free(&u);
    return rc;
}

static mfa_rc
parse_uri(imp *im, const char *account, const char *text, size_t len)
{
    lines it = {text, text + len, 0};
    const char *s;
    size_t n;
    mfa_rc rc, err = MFA_OK;
    int got;

    if (account != NULL &&
        (rc = mfa_int_text_field(account, MFA_ACCOUNT_MAX, 1)) != MFA_OK)
        return refuse(im, MFA_ERR_INVALID, 0, rc,
                      "the account is not usable: %s", mfa_strerror(rc));
    while ((got = next_line(im, &it, &s, &n, &err)) > 0)
        if ((rc = uri_line(im, it.no, s, n, account)) != MFA_OK)
            return rc;
    return got < 0 ? err : MFA_OK;
}

/* ---- checks across the file ---------------------------------------------- */

static int
by_account_fp(const void *a, const void *b)
{
    const entry *x = *(const entry *const *)a, *y = *(const entry *const *)b;
    int c = strcmp(x->account, y->account);

    if (c == 0)
        c = memcmp(x->fp, y->fp, sizeof(x->fp));
    if (c == 0)
        c = x->line < y->line ? -1 : x->line > y->line;
    return c;
}

static int
by_fp(const void *a, const void *b)
{
    const entry *x = *(const entry *const *)a, *y = *(const entry *const *)b;
    int c = memcmp(x->fp, y->fp, sizeof(x->fp));

    if (c == 0)
        c = x->line < y->line ? -1 : x->line > y->line;
    return c;
}

static int
by_account_line(const void *a, const void *b)
{
    const entry *x = *(const entry *const *)a, *y = *(const entry *const *)b;
    int c = strcmp(x->account, y->account);

    if (c == 0)
        c = x->line < y->line ? -1 : x->line > y->line;
    return c;
}

/*
 * The same secret twice for one account in the file is refused; in two
 * accounts it is a note (each account's replay state is its own, but one
 * code then opens both).  Fingerprints under a key made for this import
 * only let the entries be sorted without comparing secrets directly.
 */
static mfa_rc
file_duplicates(imp *im, entry **idx)
{
    uint8_t k[crypto_generichash_KEYBYTES];
    mfa_rc rc = MFA_OK;

    randombytes_buf(k, sizeof(k));
    for (size_t i = 0; i < im->n; i++) {
        if (crypto_generichash(im->e[i].fp, sizeof(im->e[i].fp), im->e[i].key,
                               sizeof(im->e[i].key), k, sizeof(k)) != 0) {
            sodium_memzero(k, sizeof(k));
            return MFA_ERR_INTERNAL;
        }
        idx[i] = &im->e[i];
    }
    sodium_memzero(k, sizeof(k));
    qsort(idx, im->n, sizeof(entry *), by_account_fp);
    for (size_t i = 1; i < im->n; i++)
        if (strcmp(idx[i]->account, idx[i - 1]->account) == 0 &&
            sodium_memcmp(idx[i]->fp, idx[i - 1]->fp, sizeof(idx[i]->fp)) == 0)
            return refuse(im, MFA_ERR_IMPORT_DUPLICATE, idx[i]->line,
                          MFA_ERR_IMPORT_DUPLICATE,
                          "the secret of line %zu again for account %s",
                          idx[i - 1]->line, idx[i]->account);
    qsort(idx, im->n, sizeof(entry *), by_fp);
    for (size_t i = 1; i < im->n && rc == MFA_OK; i++)
        if (sodium_memcmp(idx[i]->fp, idx[i - 1]->fp, sizeof(idx[i]->fp)) == 0)
            rc = note(im, idx[i]->line,
                      "account %s has the secret of line %zu (account %s): "
                      "one code logs in to both",
                      idx[i]->account, idx[i - 1]->line, idx[i - 1]->account);
    return rc;
}

/* ---- the store ----------------------------------------------------------- */

typedef struct group {
    entry **v; /* entries of one account, in the file's order */
    size_t n;
    int with_codes;
} group;

typedef struct scan {
    imp *im;
    const group *g;
    uint8_t *plain; /* guarded, MFA_SECRET_MAX */
    size_t count;   /* factors that count against MFA_FACTORS_MAX */
    size_t dup_line;
    char dup_id[MFA_FACTOR_ID_LEN + 1];
} scan;

static mfa_rc
scan_factor(const mfa_factor_rec *f, void *arg)
{
    scan *sc = arg;
    size_t len = 0;
    mfa_rc rc;

    if (f->status == MFA_FACTOR_ACTIVE ||
        f->created >= sc->im->now - sc->im->ctx->pending_ttl)
        sc->count++;
    memset(sc->plain, 0, MFA_SECRET_MAX);
    rc = mfa_int_unseal_into(sc->im->ctx->kr, f->account, f->id, f->sealed,
                             f->sealed_len, sc->plain, MFA_SECRET_MAX, &len);
    if (rc != MFA_OK)
        return rc; /* a secret that cannot be compared is not skipped */
    for (size_t i = 0; i < sc->g->n; i++) {
        int eq =
            sodium_memcmp(sc->plain, sc->g->v[i]->key, MFA_SECRET_MAX) == 0;

        if (eq && sc->dup_line == 0) {
            sc->dup_line = sc->g->v[i]->line;
            memcpy(sc->dup_id, f->id, sizeof(sc->dup_id));
        }
    }
    sodium_memzero(sc->plain, MFA_SECRET_MAX);
    return MFA_OK;
}

/* What the account holds already against what the file brings. */
static mfa_rc
group_check(imp *im, mfa_int_txn *x, const group *g, uint8_t *plain)
{
    mfa_backup_rec recs[MFA_BACKUP_COUNT_MAX];
    const char *acct = g->v[0]->account;
    size_t have = 0;
    scan sc;
    mfa_rc rc;

    memset(&sc, 0, sizeof(sc));
    sc.im = im;
    sc.g = g;
    sc.plain = plain;
    if ((rc = mfa_int_txn_factor_list(x, scan_factor, &sc)) != MFA_OK)
        return rc;
    if (sc.dup_line != 0)
        return refuse(im, MFA_ERR_IMPORT_DUPLICATE, sc.dup_line,
                      MFA_ERR_IMPORT_DUPLICATE,
                      "account %s holds this secret already (factor %s)", acct,
                      sc.dup_id);
    if (sc.count + g->n > MFA_FACTORS_MAX)
        return refuse(
            im, MFA_ERR_IMPORT_LIMIT,
            g->v[sc.count >= MFA_FACTORS_MAX ? 0 : MFA_FACTORS_MAX - sc.count]
                ->line,
            MFA_ERR_IMPORT_LIMIT,
            "account %s would hold more than %d factors (it has %zu)", acct,
            MFA_FACTORS_MAX, sc.count);
    if (!g->with_codes || im->ncodes == 0)
        return MFA_OK;
    if ((rc = mfa_int_txn_backup_list(x, recs, MFA_BACKUP_COUNT_MAX, &have)) !=
        MFA_OK)
        return rc;
    if (have + im->ncodes > MFA_BACKUP_COUNT_MAX)
        return refuse(im, MFA_ERR_IMPORT_LIMIT,
                      im->codes[have >= MFA_BACKUP_COUNT_MAX
                                    ? 0
                                    : MFA_BACKUP_COUNT_MAX - have]
                          .line,
                      MFA_ERR_IMPORT_LIMIT,
                      "account %s would hold more than %d unused backup "
                      "codes (it has %zu)",
                      acct, MFA_BACKUP_COUNT_MAX, have);
    for (size_t i = 0; i < im->ncodes; i++)
        for (size_t j = 0; j < have; j++)
            if (recs[j].key_id == im->codes[i].rec.key_id &&
                sodium_memcmp(recs[j].hash, im->codes[i].rec.hash,
                              MFA_BACKUP_HASHBYTES) == 0)
                return refuse(im, MFA_ERR_IMPORT_DUPLICATE, im->codes[i].line,
                              MFA_ERR_IMPORT_DUPLICATE,
                              "account %s holds this backup code already",
                              acct);
    return MFA_OK;
}

static mfa_rc
group_insert(imp *im, mfa_int_txn *x, const group *g, mfa_factor_rec *f)
{
    mfa_rc rc = MFA_OK;

    for (size_t i = 0; i < g->n && rc == MFA_OK; i++) {
        entry *e = g->v[i];
        mfa_secret_t *s = NULL;

        memset(f, 0, sizeof(*f));
        memcpy(f->account, e->account, sizeof(f->account));
        memcpy(f->label, e->label, sizeof(f->label));
        f->type = e->type;
        f->algorithm = e->alg;
        f->digits = e->digits;
        f->period = e->period;
        f->t0 = 0;
        f->last_step = e->last_step;
        f->drift = e->drift;
        f->status = MFA_FACTOR_ACTIVE; /* in use already: active at once */
        f->created = im->now;
        f->confirmed = im->now;
        if ((rc = mfa_secret_import(&s, e->key, e->keylen,
                                    MFA_SECRET_LEGACY)) != MFA_OK)
            break;
        rc = MFA_ERR_EXISTS;
        for (int t = 0; t < ID_TRIES && rc == MFA_ERR_EXISTS; t++) {
            size_t len = 0;

            mfa_int_new_factor_id(f->id);
            rc = mfa_seal(im->ctx->kr, f->account, f->id, s, f->sealed,
                          sizeof(f->sealed), &len);
            if (rc != MFA_OK)
                break;
            f->sealed_len = (uint32_t)len;
            rc = mfa_int_txn_factor_insert(x, f);
        }
        mfa_secret_free(&s);
        if (rc == MFA_OK)
            memcpy(e->id, f->id, sizeof(e->id));
    }
    sodium_memzero(f, sizeof(*f));
    for (size_t i = 0; g->with_codes && rc == MFA_OK && i < im->ncodes; i++) {
        rc = mfa_int_txn_backup_insert(x, &im->codes[i].rec, im->now);
        if (rc == MFA_ERR_EXISTS) /* a code the account used already */
            rc = refuse(im, MFA_ERR_IMPORT_DUPLICATE, im->codes[i].line,
                        MFA_ERR_IMPORT_DUPLICATE,
                        "account %s had this backup code already",
                        g->v[0]->account);
    }
    return rc;
}

static mfa_rc
group_txn(imp *im, const group *g, mfa_txn_mode mode, uint8_t *plain,
          mfa_factor_rec *f)
{
    mfa_int_txn x;
    mfa_rc rc = mfa_int_txn_begin(im->ctx->store, g->v[0]->account, mode, &x);

    if (rc != MFA_OK)
        return rc;
    rc = group_check(im, &x, g, plain);
    if (rc == MFA_OK && mode == MFA_TXN_WRITE)
        rc = group_insert(im, &x, g, f);
    if (rc != MFA_OK) {
        mfa_int_txn_rollback(&x);
        return rc;
    }
    return mfa_int_txn_commit(&x);
}

/* Remove what an account received from this import (after a later one
 * failed). */
static mfa_rc
group_undo(imp *im, const group *g)
{
    mfa_int_txn x;
    mfa_rc rc =
        mfa_int_txn_begin(im->ctx->store, g->v[0]->account, MFA_TXN_WRITE, &x);

    if (rc != MFA_OK)
        return rc;
    for (size_t i = 0; i < g->n && rc == MFA_OK; i++) {
        rc = mfa_int_txn_factor_delete(&x, g->v[i]->id);
        if (rc == MFA_ERR_NOT_FOUND)
            rc = MFA_OK;
    }
    if (rc != MFA_OK) {
        mfa_int_txn_rollback(&x);
        return rc;
    }
    return mfa_int_txn_commit(&x);
}

static mfa_rc
store_all(imp *im, entry **idx)
{
    group *groups = NULL;
    mfa_factor_rec *f = NULL;
    uint8_t *plain = NULL;
    size_t ng = 0, done = 0;
    mfa_rc rc = MFA_OK;

    qsort(idx, im->n, sizeof(entry *), by_account_line);
    groups = calloc(im->n, sizeof(*groups));
    plain = sodium_malloc(MFA_SECRET_MAX);
    f = sodium_malloc(sizeof(*f));
    if (groups == NULL || plain == NULL || f == NULL) {
        rc = MFA_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < im->n; i++) {
        if (i == 0 || strcmp(idx[i]->account, idx[i - 1]->account) != 0) {
            groups[ng].v = &idx[i];
            groups[ng].with_codes = 1; /* codes come with one account only */
            ng++;
        }
        groups[ng - 1].n++;
    }
    for (size_t i = 0; i < ng; i++)
        if (groups[i].n > MFA_FACTORS_MAX) {
            rc =
                refuse(im, MFA_ERR_IMPORT_LIMIT,
                       groups[i].v[MFA_FACTORS_MAX]->line, MFA_ERR_IMPORT_LIMIT,
                       "account %s would hold more than %d factors",
                       groups[i].v[0]->account, MFA_FACTORS_MAX);
            goto out;
        }
    /* every account checked before any is written */
    for (size_t i = 0; i < ng && rc == MFA_OK; i++)
        rc = group_txn(im, &groups[i], MFA_TXN_READ, plain, f);
    for (done = 0; done < ng && rc == MFA_OK; done++) {
        rc = group_txn(im, &groups[done], MFA_TXN_WRITE, plain, f);
        if (rc != MFA_OK)
            break;
    }
    if (rc != MFA_OK && done > 0) {
        size_t left = 0;

        for (size_t i = 0; i < done; i++)
            if (group_undo(im, &groups[i]) != MFA_OK)
                left += groups[i].n;
        if (left > 0)
            (void)note(im, 0,
                       "%zu factors of earlier accounts of this file could "
                       "not be removed again: remove them (mfa list)",
                       left);
    }
out:
    free(groups);
    if (plain != NULL)
        sodium_free(plain);
    if (f != NULL)
        sodium_free(f);
    return rc;
}

/* ---- the flow ------------------------------------------------------------ */

static mfa_rc
report_factors(imp *im)
{
    mfa_import_report_t *r = im->r;

    r->f = calloc(im->n, sizeof(*r->f));
    if (r->f == NULL)
        return MFA_ERR_NOMEM;
    for (size_t i = 0; i < im->n; i++) {
        memcpy(r->f[i].account, im->e[i].account, sizeof(r->f[i].account));
        memcpy(r->f[i].id, im->e[i].id, sizeof(r->f[i].id));
        r->f[i].line = im->e[i].line;
    }
    r->nf = im->n;
    r->codes = im->ncodes;
    return MFA_OK;
}

static mfa_rc
run(imp *im, mfa_import_format format, const char *account, const char *text,
    size_t len)
{
    entry **idx = NULL;
    mfa_rc rc;

    /* a byte order mark, as Windows editors write it */
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
        text += 3;
        len -= 3;
    }
    if (format == MFA_IMPORT_GOOGLE_AUTHENTICATOR)
        rc = parse_ga(im, account, text, len);
    else if (format == MFA_IMPORT_OATH_USERS)
        rc = parse_oath(im, account, text, len);
    else
        rc = parse_uri(im, account, text, len);
    if (rc != MFA_OK)
        return rc;
    if (im->n == 0)
        return refuse(im, MFA_ERR_EMPTY, 0, MFA_ERR_EMPTY,
                      "the file holds no factor");
    if ((idx = calloc(im->n, sizeof(entry *))) == NULL)
        return MFA_ERR_NOMEM;
    rc = file_duplicates(im, idx);
    if (rc == MFA_OK)
        rc = store_all(im, idx);
    free(idx);
    if (rc == MFA_OK)
        rc = report_factors(im);
    return rc;
}

mfa_rc
mfa_factor_import(mfa_ctx_t *ctx, mfa_import_format format, const char *account,
                  const char *text, size_t len, mfa_import_report_t **report)
{
    mfa_import_report_t *r;
    imp im;
    mfa_rc rc;

    if (report != NULL)
        *report = NULL;
    if (ctx == NULL || text == NULL || mfa_import_format_name(format) == NULL)
        return MFA_ERR_INVALID;
    if (len > MFA_IMPORT_FILE_MAX)
        return MFA_ERR_TOO_LONG;
    if ((r = calloc(1, sizeof(*r))) == NULL)
        return MFA_ERR_NOMEM;
    memset(&im, 0, sizeof(im));
    im.ctx = ctx;
    im.r = r;
    im.now = mfa_int_ctx_now(ctx);
    if (im.now < 0 || im.now > MFA_INT_TIME_MAX) {
        rc = MFA_ERR_TIME;
    } else if (mfa_keyring_current(ctx->kr) == 0) {
        rc = MFA_ERR_KEYRING_EMPTY; /* nothing could be sealed */
    } else if ((im.buf = sodium_malloc(MFA_IMPORT_LINE_MAX + 1)) == NULL) {
        rc = MFA_ERR_NOMEM;
    } else {
        rc = run(&im, format, account, text, len);
    }

    if (rc == MFA_OK) {
        r->cause = MFA_OK;
        r->line = 0;
        r->message[0] = '\0';
        for (size_t i = 0; i < r->nf; i++)
            mfa_int_ctx_emit(ctx, MFA_EV_FACTOR_IMPORT, r->f[i].account,
                             r->f[i].id, MFA_OK, im.now, 0);
        if (r->codes > 0)
            mfa_int_ctx_emit(ctx, MFA_EV_BACKUP_CODES_NEW, r->f[0].account,
                             NULL, MFA_OK, im.now, 0);
    } else {
        if (r->cause == MFA_OK)
            r->cause = rc;
        if (r->message[0] == '\0')
            snprintf(r->message, sizeof(r->message), "%s", mfa_strerror(rc));
        mfa_int_ctx_emit(
            ctx,
            mfa_int_is_store_error(rc) ? MFA_EV_STORE_ERROR
                                       : MFA_EV_FACTOR_IMPORT,
            account != NULL &&
                    mfa_int_text_field(account, MFA_ACCOUNT_MAX, 1) == MFA_OK
                ? account
                : NULL,
            NULL, rc, im.now, 0);
    }
    if (im.e != NULL)
        sodium_free(im.e); /* wipes every secret read */
    if (im.buf != NULL)
        sodium_free(im.buf);
    sodium_memzero(im.codes, sizeof(im.codes));
    if (report != NULL)
        *report = r;
    else
        mfa_import_report_free(&r);
    return rc;
}
