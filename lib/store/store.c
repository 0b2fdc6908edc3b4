/*
 * The generic store: argument checks done once here, so that every backend
 * (built-in or third-party) receives only well-formed input, then a call
 * through the backend's table of operations.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <mfa/store.h>

#include "internal.h"
#include "store_int.h"
#include "text.h"

uint32_t
mfa_throttle_delay(const mfa_throttle_policy *p, uint32_t failures)
{
    uint32_t over, d;

    if (p == NULL || failures <= p->free_attempts)
        return 0;
    over = failures - p->free_attempts - 1;
    /* base * 2^over > max as soon as the shift would pass the cap */
    if (over >= 32 || p->base_delay > (p->max_delay >> over))
        return p->max_delay;
    d = p->base_delay << over;
    return d < p->max_delay ? d : p->max_delay;
}

/* ---- argument checks ---------------------------------------------------- */

/*
 * Times are Unix seconds from 0 to the end of year 9999: far beyond any
 * real clock, and small enough that now + any uint32 delay cannot overflow
 * in a backend (C or SQL bigint).
 */
#define MFA_INT_TIME_MAX INT64_C(253402300799)

static int
time_ok(int64_t t)
{
    return t >= 0 && t <= MFA_INT_TIME_MAX;
}

/* Account names and labels end up in logs and web pages: strict UTF-8,
 * no control characters (lib/text.c). */
static mfa_rc
check_text(const char *s, size_t max, int allow_empty)
{
    return mfa_int_text_field(s, max, !allow_empty);
}

static mfa_rc
check_account(const char *account)
{
    return check_text(account, MFA_ACCOUNT_MAX, 0);
}

int
mfa_int_store_id_ok(const char *s)
{
    return mfa_int_factor_id_ok(s);
}

static mfa_rc
check_account_id(const char *account, const char *id)
{
    mfa_rc rc = check_account(account);

    if (rc != MFA_OK)
        return rc;
    return mfa_int_store_id_ok(id) ? MFA_OK : MFA_ERR_INVALID;
}

/* A purpose is a short ASCII word ("sms", "email"): lib/text.c. */
static mfa_rc
check_purpose(const char *purpose)
{
    return mfa_int_purpose_check(purpose);
}

/* A NUL-terminated string inside a fixed array. */
static int
terminated(const char *s, size_t size)
{
    return memchr(s, '\0', size) != NULL;
}

static mfa_rc
check_factor(const mfa_factor_rec *f)
{
    mfa_rc rc;

    if (f == NULL)
        return MFA_ERR_INVALID;
    if (!terminated(f->id, sizeof(f->id)) ||
        !terminated(f->account, sizeof(f->account)) ||
        !terminated(f->label, sizeof(f->label)))
        return MFA_ERR_TOO_LONG;
    if ((rc = check_account_id(f->account, f->id)) != MFA_OK)
        return rc;
    if ((rc = check_text(f->label, MFA_LABEL_MAX, 1)) != MFA_OK)
        return rc;
    if (f->type != MFA_TOTP && f->type != MFA_HOTP)
        return MFA_ERR_TYPE;
    if (f->algorithm != MFA_SHA1 && f->algorithm != MFA_SHA256 &&
        f->algorithm != MFA_SHA512)
        return MFA_ERR_ALGORITHM;
    if (f->digits < MFA_DIGITS_MIN || f->digits > MFA_DIGITS_MAX)
        return MFA_ERR_DIGITS;
    /* HOTP has no period; 0 or any TOTP-valid value is kept as given */
    if (f->period > MFA_PERIOD_MAX || (f->type == MFA_TOTP && f->period == 0))
        return MFA_ERR_PERIOD;
    if (f->last_step < MFA_STEP_NONE)
        return MFA_ERR_INVALID;
    if (f->status != MFA_FACTOR_PENDING && f->status != MFA_FACTOR_ACTIVE)
        return MFA_ERR_INVALID;
    if (!time_ok(f->t0) || !time_ok(f->created) || !time_ok(f->confirmed) ||
        !time_ok(f->last_used))
        return MFA_ERR_INVALID;
    if (f->sealed_len == 0 || f->sealed_len > MFA_SEALED_MAX)
        return MFA_ERR_SEALED_FORMAT;
    return MFA_OK;
}

static mfa_rc
check_challenge(const mfa_oob_challenge *c)
{
    if (c == NULL)
        return MFA_ERR_INVALID;
    if (!terminated(c->purpose, sizeof(c->purpose)))
        return MFA_ERR_TOO_LONG;
    if (!time_ok(c->created) || !time_ok(c->expires) ||
        c->expires < c->created || c->attempts_left < 0)
        return MFA_ERR_INVALID;
    return check_purpose(c->purpose);
}

/* ---- the store object ---------------------------------------------------- */

mfa_rc
mfa_store_new(mfa_store_t **out, const mfa_store_ops *ops, void *impl)
{
    mfa_store_t *s;

    if (out == NULL)
        return MFA_ERR_INVALID;
    *out = NULL;
    /* a table with a hole would crash later, far from the mistake */
    if (ops == NULL || ops->abi != MFA_STORE_ABI || ops->name == NULL ||
        ops->close == NULL || ops->migrate == NULL ||
        ops->schema_version == NULL || ops->factor_create == NULL ||
        ops->factor_get == NULL || ops->factor_list == NULL ||
        ops->factor_each == NULL || ops->factor_activate == NULL ||
        ops->factor_rename == NULL || ops->factor_remove == NULL ||
        ops->factor_advance == NULL || ops->factor_reseal == NULL ||
        ops->factor_expire == NULL || ops->throttle_hit == NULL ||
        ops->throttle_reset == NULL || ops->throttle_get == NULL ||
        ops->backup_replace == NULL || ops->backup_list == NULL ||
        ops->backup_spend == NULL || ops->oob_put == NULL ||
        ops->oob_take == NULL || ops->oob_spend == NULL ||
        ops->account_reset == NULL)
        return MFA_ERR_INVALID;
    if (mfa_int_init() != MFA_OK)
        return MFA_ERR_INTERNAL;
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return MFA_ERR_NOMEM;
    s->ops = ops;
    s->impl = impl;
    *out = s;
    return MFA_OK;
}

void
mfa_store_free(mfa_store_t **s)
{
    if (s == NULL || *s == NULL)
        return;
    (*s)->ops->close((*s)->impl);
    free(*s);
    *s = NULL;
}

#if !MFA_HAVE_SQLITE
mfa_rc
mfa_store_sqlite_open(mfa_store_t **out, const char *path)
{
    (void)path;
    if (out != NULL)
        *out = NULL;
    return MFA_ERR_UNSUPPORTED;
}
#endif

#if !MFA_HAVE_POSTGRES
mfa_rc
mfa_store_postgres_open(mfa_store_t **out, const char *conninfo,
                        const char *schema)
{
    (void)conninfo;
    (void)schema;
    if (out != NULL)
        *out = NULL;
    return MFA_ERR_UNSUPPORTED;
}
#endif

mfa_rc
mfa_store_open(mfa_store_t **out, const char *spec)
{
    if (out == NULL)
        return MFA_ERR_INVALID;
    *out = NULL;
    if (spec == NULL)
        return MFA_ERR_INVALID;
    if (strcmp(spec, "memory:") == 0)
        return mfa_store_memory_new(out);
    if (strncmp(spec, "sqlite:", 7) == 0 && spec[7] != '\0')
        return mfa_store_sqlite_open(out, spec + 7);
    if (strncmp(spec, "postgres:", 9) == 0)
        return mfa_store_postgres_open(out, spec + 9, NULL);
    return MFA_ERR_INVALID;
}

const char *
mfa_store_name(const mfa_store_t *s)
{
    return s != NULL ? s->ops->name : "none";
}

mfa_rc
mfa_store_migrate(mfa_store_t *s)
{
    if (s == NULL)
        return MFA_ERR_INVALID;
    return s->ops->migrate(s->impl);
}

mfa_rc
mfa_store_schema_version(mfa_store_t *s, int *version)
{
    if (s == NULL || version == NULL)
        return MFA_ERR_INVALID;
    *version = 0;
    return s->ops->schema_version(s->impl, version);
}

/* ---- factors ---------------------------------------------------------------
 */

mfa_rc
mfa_store_factor_create(mfa_store_t *s, const mfa_factor_rec *f)
{
    mfa_rc rc;

    if (s == NULL)
        return MFA_ERR_INVALID;
    if ((rc = check_factor(f)) != MFA_OK)
        return rc;
    return s->ops->factor_create(s->impl, f);
}

mfa_rc
mfa_store_factor_get(mfa_store_t *s, const char *account, const char *id,
                     mfa_factor_rec *out)
{
    mfa_rc rc;

    if (s == NULL || out == NULL)
        return MFA_ERR_INVALID;
    memset(out, 0, sizeof(*out));
    if ((rc = check_account_id(account, id)) != MFA_OK)
        return rc;
    rc = s->ops->factor_get(s->impl, account, id, out);
    if (rc != MFA_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

mfa_rc
mfa_store_factor_list(mfa_store_t *s, const char *account, mfa_factor_cb cb,
                      void *arg)
{
    mfa_rc rc;

    if (s == NULL || cb == NULL)
        return MFA_ERR_INVALID;
    if ((rc = check_account(account)) != MFA_OK)
        return rc;
    return s->ops->factor_list(s->impl, account, cb, arg);
}

mfa_rc
mfa_store_factor_each(mfa_store_t *s, mfa_factor_cb cb, void *arg)
{
    if (s == NULL || cb == NULL)
        return MFA_ERR_INVALID;
    return s->ops->factor_each(s->impl, cb, arg);
}

mfa_rc
mfa_store_factor_activate(mfa_store_t *s, const char *account, const char *id,
                          int64_t step, int32_t drift, int64_t created_after,
                          int64_t now)
{
    mfa_rc rc;

    if (s == NULL || step < 0 || !time_ok(now))
        return MFA_ERR_INVALID;
    if ((rc = check_account_id(account, id)) != MFA_OK)
        return rc;
    return s->ops->factor_activate(s->impl, account, id, step, drift,
                                   created_after, now);
}

mfa_rc
mfa_store_factor_rename(mfa_store_t *s, const char *account, const char *id,
                        const char *label)
{
    mfa_rc rc;

    if (s == NULL)
        return MFA_ERR_INVALID;
    if ((rc = check_account_id(account, id)) != MFA_OK)
        return rc;
    if ((rc = check_text(label, MFA_LABEL_MAX, 1)) != MFA_OK)
        return rc;
    return s->ops->factor_rename(s->impl, account, id, label);
}

mfa_rc
mfa_store_factor_remove(mfa_store_t *s, const char *account, const char *id)
{
    mfa_rc rc;

    if (s == NULL)
        return MFA_ERR_INVALID;
    if ((rc = check_account_id(account, id)) != MFA_OK)
        return rc;
    return s->ops->factor_remove(s->impl, account, id);
}

mfa_rc
mfa_store_factor_advance(mfa_store_t *s, const char *account, const char *id,
                         int64_t step, int32_t drift, int64_t now)
{
    mfa_rc rc;

    if (s == NULL || step < 0 || !time_ok(now))
        return MFA_ERR_INVALID;
    if ((rc = check_account_id(account, id)) != MFA_OK)
        return rc;
    return s->ops->factor_advance(s->impl, account, id, step, drift, now);
}

mfa_rc
mfa_store_factor_reseal(mfa_store_t *s, const char *account, const char *id,
                        const uint8_t *old, size_t oldlen,
                        const uint8_t *sealed, size_t len)
{
    mfa_rc rc;

    if (s == NULL || old == NULL || sealed == NULL)
        return MFA_ERR_INVALID;
    if ((rc = check_account_id(account, id)) != MFA_OK)
        return rc;
    if (oldlen == 0 || oldlen > MFA_SEALED_MAX || len == 0 ||
        len > MFA_SEALED_MAX)
        return MFA_ERR_SEALED_FORMAT;
    return s->ops->factor_reseal(s->impl, account, id, old, oldlen, sealed,
                                 len);
}

mfa_rc
mfa_store_factor_expire(mfa_store_t *s, int64_t before, size_t *n)
{
    size_t dummy = 0;

    if (s == NULL)
        return MFA_ERR_INVALID;
    if (n == NULL)
        n = &dummy;
    *n = 0;
    return s->ops->factor_expire(s->impl, before, n);
}

/* ---- throttle ---------------------------------------------------------- */

mfa_rc
mfa_store_throttle_hit(mfa_store_t *s, const char *account, int64_t now,
                       const mfa_throttle_policy *p, mfa_throttle_state *out)
{
    mfa_throttle_state dummy;
    mfa_rc rc;

    if (out == NULL)
        out = &dummy;
    memset(out, 0, sizeof(*out));
    if (s == NULL || p == NULL || !time_ok(now))
        return MFA_ERR_INVALID;
    if ((rc = check_account(account)) != MFA_OK)
        return rc;
    return s->ops->throttle_hit(s->impl, account, now, p, out);
}

mfa_rc
mfa_store_throttle_reset(mfa_store_t *s, const char *account)
{
    mfa_rc rc;

    if (s == NULL)
        return MFA_ERR_INVALID;
    if ((rc = check_account(account)) != MFA_OK)
        return rc;
    return s->ops->throttle_reset(s->impl, account);
}

mfa_rc
mfa_store_throttle_get(mfa_store_t *s, const char *account,
                       mfa_throttle_state *out)
{
    mfa_rc rc;

    if (s == NULL || out == NULL)
        return MFA_ERR_INVALID;
    memset(out, 0, sizeof(*out));
    if ((rc = check_account(account)) != MFA_OK)
        return rc;
    return s->ops->throttle_get(s->impl, account, out);
}

/* ---- backup codes ------------------------------------------------------ */

mfa_rc
mfa_store_backup_replace(mfa_store_t *s, const char *account,
                         const mfa_backup_rec *codes, size_t n, int64_t now)
{
    size_t i, j;
    mfa_rc rc;

    if (s == NULL || (codes == NULL && n > 0) || !time_ok(now))
        return MFA_ERR_INVALID;
    if ((rc = check_account(account)) != MFA_OK)
        return rc;
    if (n > MFA_BACKUP_COUNT_MAX)
        return MFA_ERR_INVALID;
    /* hashes are keyed and random: a duplicate is a caller bug, and it
     * would break the (account, hash) uniqueness of the stores */
    for (i = 0; i < n; i++)
        for (j = i + 1; j < n; j++)
            if (memcmp(codes[i].hash, codes[j].hash, MFA_BACKUP_HASHBYTES) == 0)
                return MFA_ERR_INVALID;
    return s->ops->backup_replace(s->impl, account, codes, n, now);
}

mfa_rc
mfa_store_backup_list(mfa_store_t *s, const char *account, mfa_backup_rec *out,
                      size_t max, size_t *n)
{
    mfa_rc rc;

    if (n != NULL)
        *n = 0;
    if (s == NULL || n == NULL || (out == NULL && max > 0))
        return MFA_ERR_INVALID;
    if ((rc = check_account(account)) != MFA_OK)
        return rc;
    rc = s->ops->backup_list(s->impl, account, out, max, n);
    /* a backend that claims more than it may have written is broken */
    if (rc == MFA_OK && *n > max)
        rc = MFA_ERR_INTERNAL;
    if (rc != MFA_OK)
        *n = 0;
    return rc;
}

mfa_rc
mfa_store_backup_spend(mfa_store_t *s, const char *account,
                       const uint8_t hash[MFA_BACKUP_HASHBYTES], int64_t now)
{
    mfa_rc rc;

    if (s == NULL || hash == NULL || !time_ok(now))
        return MFA_ERR_INVALID;
    if ((rc = check_account(account)) != MFA_OK)
        return rc;
    return s->ops->backup_spend(s->impl, account, hash, now);
}

/* ---- out-of-band challenges ------------------------------------------------
 */

mfa_rc
mfa_store_oob_put(mfa_store_t *s, const char *account,
                  const mfa_oob_challenge *c)
{
    mfa_rc rc;

    if (s == NULL)
        return MFA_ERR_INVALID;
    if ((rc = check_account(account)) != MFA_OK)
        return rc;
    if ((rc = check_challenge(c)) != MFA_OK)
        return rc;
    return s->ops->oob_put(s->impl, account, c);
}

mfa_rc
mfa_store_oob_take(mfa_store_t *s, const char *account, const char *purpose,
                   int64_t now, mfa_oob_challenge *out)
{
    mfa_rc rc;

    if (s == NULL || out == NULL || !time_ok(now))
        return MFA_ERR_INVALID;
    memset(out, 0, sizeof(*out));
    if ((rc = check_account(account)) != MFA_OK)
        return rc;
    if ((rc = check_purpose(purpose)) != MFA_OK)
        return rc;
    rc = s->ops->oob_take(s->impl, account, purpose, now, out);
    if (rc != MFA_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

mfa_rc
mfa_store_oob_spend(mfa_store_t *s, const char *account, const char *purpose,
                    const uint8_t hash[MFA_BACKUP_HASHBYTES])
{
    mfa_rc rc;

    if (s == NULL || hash == NULL)
        return MFA_ERR_INVALID;
    if ((rc = check_account(account)) != MFA_OK)
        return rc;
    if ((rc = check_purpose(purpose)) != MFA_OK)
        return rc;
    return s->ops->oob_spend(s->impl, account, purpose, hash);
}

mfa_rc
mfa_store_account_reset(mfa_store_t *s, const char *account)
{
    mfa_rc rc;

    if (s == NULL)
        return MFA_ERR_INVALID;
    if ((rc = check_account(account)) != MFA_OK)
        return rc;
    return s->ops->account_reset(s->impl, account);
}
