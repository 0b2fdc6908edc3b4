/*
 * The generic store: the store object, record checks, and the checked
 * transactions the service layer runs its flows in (lib/store/txn.h).
 * Every record is checked before a backend writes it and after a backend
 * returns it, so that a third-party backend, a damaged database or a row
 * edited by hand can never hand the service an out-of-range record or a
 * record of another account.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <mfa/store-backend.h>

#include "internal.h"
#include "store_int.h"
#include "text.h"
#include "txn.h"

int
mfa_int_is_store_error(mfa_rc rc)
{
    return rc == MFA_ERR_STORE || rc == MFA_ERR_BUSY || rc == MFA_ERR_CORRUPT ||
           rc == MFA_ERR_READONLY || rc == MFA_ERR_SCHEMA ||
           rc == MFA_ERR_NOMEM || rc == MFA_ERR_NO_SCHEMA ||
           rc == MFA_ERR_SCHEMA_OLD || rc == MFA_ERR_NO_STORE;
}

/* ---- record checks ------------------------------------------------------ */

static int
time_ok(int64_t t)
{
    return t >= 0 && t <= MFA_INT_TIME_MAX;
}

/* A NUL-terminated string inside a fixed array. */
static int
terminated(const char *s, size_t size)
{
    return memchr(s, '\0', size) != NULL;
}

int
mfa_int_bucket_ok(const char *b)
{
    size_t i;

    if (b == NULL)
        return 0;
    for (i = 0; b[i] != '\0'; i++) {
        unsigned char c = (unsigned char)b[i];
        if (i >= MFA_BUCKET_MAX ||
            !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-'))
            return 0;
    }
    return 1;
}

mfa_rc
mfa_int_factor_rec_check(const mfa_factor_rec *f)
{
    mfa_rc rc;

    if (f == NULL)
        return MFA_ERR_INVALID;
    if (!terminated(f->id, sizeof(f->id)) ||
        !terminated(f->account, sizeof(f->account)) ||
        !terminated(f->label, sizeof(f->label)))
        return MFA_ERR_TOO_LONG;
    if ((rc = mfa_int_text_field(f->account, MFA_ACCOUNT_MAX, 1)) != MFA_OK)
        return rc;
    if (!mfa_int_factor_id_ok(f->id))
        return MFA_ERR_INVALID;
    if ((rc = mfa_int_text_field(f->label, MFA_LABEL_MAX, 0)) != MFA_OK)
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

mfa_rc
mfa_int_throttle_rec_check(const mfa_throttle_rec *r)
{
    if (r == NULL)
        return MFA_ERR_INVALID;
    if (!terminated(r->bucket, sizeof(r->bucket)) ||
        !mfa_int_bucket_ok(r->bucket))
        return MFA_ERR_INVALID;
    if (!time_ok(r->locked_until) || !time_ok(r->updated))
        return MFA_ERR_INVALID;
    return MFA_OK;
}

int
mfa_int_device_id_ok(const char *id)
{
    /* the same shape as a factor id: 16 lowercase hex digits */
    return id != NULL && mfa_int_factor_id_ok(id);
}

mfa_rc
mfa_int_device_rec_check(const mfa_device_rec *d)
{
    mfa_rc rc;

    if (d == NULL)
        return MFA_ERR_INVALID;
    if (!terminated(d->id, sizeof(d->id)) ||
        !terminated(d->label, sizeof(d->label)))
        return MFA_ERR_TOO_LONG;
    if (!mfa_int_device_id_ok(d->id))
        return MFA_ERR_INVALID;
    if ((rc = mfa_int_text_field(d->label, MFA_DEVICE_REC_LABEL_MAX, 0)) !=
        MFA_OK)
        return rc;
    if (d->key_id == 0)
        return MFA_ERR_INVALID;
    if (!time_ok(d->created) || !time_ok(d->last_seen) ||
        !time_ok(d->trusted_until) || d->last_seen < d->created)
        return MFA_ERR_INVALID;
    return MFA_OK;
}

mfa_rc
mfa_int_oob_rec_check(const mfa_oob_challenge *c)
{
    if (c == NULL)
        return MFA_ERR_INVALID;
    if (!terminated(c->purpose, sizeof(c->purpose)))
        return MFA_ERR_TOO_LONG;
    if (!time_ok(c->created) || !time_ok(c->expires) ||
        c->expires < c->created || c->attempts_left < 0)
        return MFA_ERR_INVALID;
    return mfa_int_purpose_check(c->purpose);
}

#define TRANSPORTS_ALL                                                         \
    (MFA_WEBAUTHN_TRANSPORT_USB | MFA_WEBAUTHN_TRANSPORT_NFC |                 \
     MFA_WEBAUTHN_TRANSPORT_BLE | MFA_WEBAUTHN_TRANSPORT_INTERNAL |            \
     MFA_WEBAUTHN_TRANSPORT_HYBRID | MFA_WEBAUTHN_TRANSPORT_SMART_CARD)

static mfa_rc
webauthn_rec_check(const mfa_webauthn_rec *r)
{
    const mfa_webauthn_credential *c;
    mfa_rc rc;

    if (r == NULL)
        return MFA_ERR_INVALID;
    c = &r->cred;
    if (!terminated(r->factor_id, sizeof(r->factor_id)) ||
        !terminated(r->label, sizeof(r->label)))
        return MFA_ERR_TOO_LONG;
    if (!mfa_int_factor_id_ok(r->factor_id))
        return MFA_ERR_INVALID;
    /* the same rules as a factor's label */
    if ((rc = mfa_int_text_field(r->label, MFA_LABEL_MAX, 0)) != MFA_OK)
        return rc;
    if (!time_ok(r->created) || !time_ok(r->last_used))
        return MFA_ERR_INVALID;
    if (c->id_len < MFA_WEBAUTHN_CRED_ID_MIN ||
        c->id_len > MFA_WEBAUTHN_CRED_ID_MAX || c->public_key_len == 0 ||
        c->public_key_len > MFA_WEBAUTHN_PUBLIC_KEY_MAX ||
        c->user_handle_len == 0 ||
        c->user_handle_len > MFA_WEBAUTHN_USER_HANDLE_MAX)
        return MFA_ERR_INVALID;
    if (c->algorithm != MFA_WEBAUTHN_ES256 &&
        c->algorithm != MFA_WEBAUTHN_EDDSA &&
        c->algorithm != MFA_WEBAUTHN_RS256)
        return MFA_ERR_INVALID;
    if ((c->transports & ~TRANSPORTS_ALL) != 0 || c->flags > 0xffu)
        return MFA_ERR_INVALID;
    /* enums through int: a backend may hand back any bit pattern */
    if ((int)c->attestation_format < (int)MFA_WEBAUTHN_FMT_NONE ||
        (int)c->attestation_format > (int)MFA_WEBAUTHN_FMT_FIDO_U2F ||
        (int)c->attestation_trust < (int)MFA_WEBAUTHN_TRUST_NONE ||
        (int)c->attestation_trust > (int)MFA_WEBAUTHN_TRUST_UNVERIFIED)
        return MFA_ERR_INVALID;
    return MFA_OK;
}

/* What a backend returned must be a valid record: anything else means the
 * stored data is damaged (or the backend is broken), never a record. */
static mfa_rc
corrupt_unless(mfa_rc check)
{
    return check == MFA_OK ? MFA_OK : MFA_ERR_CORRUPT;
}

/* ---- the store object ---------------------------------------------------- */

mfa_rc
mfa_store_new(mfa_store_t **out, const mfa_store_backend *be, void *impl)
{
    mfa_store_t *s;

    if (out == NULL)
        return MFA_ERR_INVALID;
    *out = NULL;
    /* a table with a hole would crash later, far from the mistake */
    if (be == NULL || be->abi != MFA_STORE_BACKEND_ABI || be->name == NULL ||
        be->close == NULL || be->schema_version == NULL ||
        be->migrate == NULL || be->begin == NULL || be->commit == NULL ||
        be->rollback == NULL || be->factor_list == NULL ||
        be->factor_get == NULL || be->factor_insert == NULL ||
        be->factor_update == NULL || be->factor_delete == NULL ||
        be->factor_scan == NULL || be->factor_expire == NULL ||
        be->throttle_get == NULL || be->throttle_put == NULL ||
        be->throttle_delete == NULL || be->backup_list == NULL ||
        be->backup_insert == NULL || be->backup_use == NULL ||
        be->backup_clear == NULL || be->oob_get == NULL ||
        be->oob_put == NULL || be->oob_delete == NULL ||
        be->throttle_list == NULL || be->device_list == NULL ||
        be->device_get == NULL || be->device_put == NULL ||
        be->device_delete == NULL || be->state_scan == NULL ||
        be->account_delete == NULL || be->webauthn_list == NULL ||
        be->webauthn_get == NULL || be->webauthn_insert == NULL ||
        be->webauthn_update == NULL || be->webauthn_delete == NULL ||
        be->webauthn_handle_get == NULL || be->webauthn_handle_put == NULL ||
        be->webauthn_handle_find == NULL || be->webauthn_spend == NULL ||
        be->webauthn_spent_expire == NULL) {
        if (be != NULL && be->close != NULL)
            be->close(impl);
        return MFA_ERR_INVALID;
    }
    if (mfa_int_init() != MFA_OK) {
        be->close(impl);
        return MFA_ERR_INTERNAL;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        be->close(impl);
        return MFA_ERR_NOMEM;
    }
    s->be = be;
    s->impl = impl;
    *out = s;
    return MFA_OK;
}

void
mfa_store_free(mfa_store_t **s)
{
    if (s == NULL || *s == NULL)
        return;
    (*s)->be->close((*s)->impl);
    free(*s);
    *s = NULL;
}

const mfa_store_backend *
mfa_store_backend_of(const mfa_store_t *s)
{
    return s != NULL ? s->be : NULL;
}

void *
mfa_store_impl_of(const mfa_store_t *s)
{
    return s != NULL ? s->impl : NULL;
}

const char *
mfa_store_name(const mfa_store_t *s)
{
    return s != NULL ? s->be->name : "none";
}

mfa_rc
mfa_store_migrate(mfa_store_t *s)
{
    mfa_rc rc;

    if (s == NULL)
        return MFA_ERR_INVALID;
    if ((rc = s->be->migrate(s->impl)) != MFA_OK)
        return rc;
    return mfa_store_check(s);
}

mfa_rc
mfa_store_schema_version(mfa_store_t *s, int *version)
{
    mfa_rc rc;

    if (s == NULL || version == NULL)
        return MFA_ERR_INVALID;
    *version = 0;
    rc = s->be->schema_version(s->impl, version);
    if (rc != MFA_OK)
        *version = 0;
    else if (*version < 0)
        rc = MFA_ERR_CORRUPT;
    return rc;
}

mfa_rc
mfa_store_check(mfa_store_t *s)
{
    int v = 0;
    mfa_rc rc = mfa_store_schema_version(s, &v);

    if (rc != MFA_OK)
        return rc;
    if (v == 0)
        return MFA_ERR_NO_SCHEMA;
    if (v < MFA_SCHEMA_VERSION)
        return MFA_ERR_SCHEMA_OLD;
    if (v > MFA_SCHEMA_VERSION)
        return MFA_ERR_SCHEMA;
    return MFA_OK;
}

/* ---- checked transactions ------------------------------------------------ */

mfa_rc
mfa_int_txn_begin(mfa_store_t *s, const char *account, mfa_txn_mode mode,
                  mfa_int_txn *x)
{
    mfa_rc rc;

    memset(x, 0, sizeof(*x));
    if (s == NULL || (mode != MFA_TXN_READ && mode != MFA_TXN_WRITE))
        return MFA_ERR_INVALID;
    if (account != NULL) {
        if ((rc = mfa_int_text_field(account, MFA_ACCOUNT_MAX, 1)) != MFA_OK)
            return rc;
        memcpy(x->account, account, strlen(account) + 1);
    }
    x->be = s->be;
    rc =
        s->be->begin(s->impl, account != NULL ? x->account : NULL, mode, &x->t);
    if (rc == MFA_OK && x->t == NULL)
        rc = MFA_ERR_INTERNAL; /* a backend that broke the contract */
    if (rc != MFA_OK) {
        memset(x, 0, sizeof(*x));
        return rc == MFA_ERR_NOT_FOUND ? MFA_ERR_STORE : rc;
    }
    x->open = 1;
    return MFA_OK;
}

mfa_rc
mfa_int_txn_commit(mfa_int_txn *x)
{
    mfa_rc rc;

    if (x == NULL || !x->open)
        return MFA_ERR_INVALID;
    x->open = 0;
    rc = x->be->commit(x->t);
    x->t = NULL;
    /* a commit is MFA_OK or a store failure, nothing in between */
    if (rc != MFA_OK && !mfa_int_is_store_error(rc))
        rc = MFA_ERR_STORE;
    return rc;
}

void
mfa_int_txn_rollback(mfa_int_txn *x)
{
    if (x == NULL || !x->open)
        return;
    x->open = 0;
    x->be->rollback(x->t);
    x->t = NULL;
}

/* Row calls need an open transaction scoped to an account. */
static int
scoped(const mfa_int_txn *x)
{
    return x != NULL && x->open && x->account[0] != '\0';
}

typedef struct list_ctx {
    const char *account;
    mfa_factor_cb cb;
    void *arg;
} list_ctx;

static mfa_rc
list_check(const mfa_factor_rec *f, void *arg)
{
    list_ctx *l = arg;

    if (mfa_int_factor_rec_check(f) != MFA_OK ||
        strcmp(f->account, l->account) != 0)
        return MFA_ERR_CORRUPT;
    return l->cb(f, l->arg);
}

mfa_rc
mfa_int_txn_factor_list(mfa_int_txn *x, mfa_factor_cb cb, void *arg)
{
    list_ctx l;

    if (!scoped(x) || cb == NULL)
        return MFA_ERR_INVALID;
    l.account = x->account;
    l.cb = cb;
    l.arg = arg;
    return x->be->factor_list(x->t, x->account, list_check, &l);
}

mfa_rc
mfa_int_txn_factor_get(mfa_int_txn *x, const char *id, mfa_factor_rec *out)
{
    mfa_rc rc;

    if (!scoped(x) || out == NULL || id == NULL || !mfa_int_factor_id_ok(id))
        return MFA_ERR_INVALID;
    memset(out, 0, sizeof(*out));
    rc = x->be->factor_get(x->t, x->account, id, out);
    if (rc == MFA_OK) {
        rc = corrupt_unless(mfa_int_factor_rec_check(out));
        if (rc == MFA_OK &&
            (strcmp(out->account, x->account) != 0 || strcmp(out->id, id) != 0))
            rc = MFA_ERR_CORRUPT;
    }
    if (rc != MFA_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

static mfa_rc
own_factor(const mfa_int_txn *x, const mfa_factor_rec *f)
{
    mfa_rc rc;

    if (!scoped(x))
        return MFA_ERR_INVALID;
    if ((rc = mfa_int_factor_rec_check(f)) != MFA_OK)
        return rc;
    return strcmp(f->account, x->account) == 0 ? MFA_OK : MFA_ERR_INVALID;
}

mfa_rc
mfa_int_txn_factor_insert(mfa_int_txn *x, const mfa_factor_rec *f)
{
    mfa_rc rc = own_factor(x, f);

    return rc != MFA_OK ? rc : x->be->factor_insert(x->t, f);
}

mfa_rc
mfa_int_txn_factor_update(mfa_int_txn *x, const mfa_factor_rec *f)
{
    mfa_rc rc = own_factor(x, f);

    return rc != MFA_OK ? rc : x->be->factor_update(x->t, f);
}

mfa_rc
mfa_int_txn_factor_delete(mfa_int_txn *x, const char *id)
{
    if (!scoped(x) || id == NULL || !mfa_int_factor_id_ok(id))
        return MFA_ERR_INVALID;
    return x->be->factor_delete(x->t, x->account, id);
}

mfa_rc
mfa_int_txn_factor_scan(mfa_int_txn *x, const char *after_account,
                        const char *after_id, mfa_factor_rec *out, size_t max,
                        size_t *n)
{
    mfa_rc rc;

    if (n != NULL)
        *n = 0;
    if (x == NULL || !x->open || after_account == NULL || after_id == NULL ||
        out == NULL || n == NULL || max == 0)
        return MFA_ERR_INVALID;
    rc = x->be->factor_scan(x->t, after_account, after_id, out, max, n);
    if (rc == MFA_OK && *n > max)
        rc = MFA_ERR_INTERNAL;
    for (size_t i = 0; rc == MFA_OK && i < *n; i++) {
        rc = corrupt_unless(mfa_int_factor_rec_check(&out[i]));
        /* strictly increasing (account, id): paging cannot loop */
        if (rc == MFA_OK) {
            const char *pa = i ? out[i - 1].account : after_account;
            const char *pi = i ? out[i - 1].id : after_id;
            int c = strcmp(out[i].account, pa);
            if (c < 0 || (c == 0 && strcmp(out[i].id, pi) <= 0))
                rc = MFA_ERR_CORRUPT;
        }
    }
    if (rc != MFA_OK)
        *n = 0;
    return rc;
}

mfa_rc
mfa_int_txn_factor_expire(mfa_int_txn *x, int64_t before, size_t *n)
{
    if (n != NULL)
        *n = 0;
    if (x == NULL || !x->open || n == NULL || !time_ok(before))
        return MFA_ERR_INVALID;
    return x->be->factor_expire(x->t, before, n);
}

mfa_rc
mfa_int_txn_throttle_get(mfa_int_txn *x, const char *bucket,
                         mfa_throttle_rec *out)
{
    mfa_rc rc;

    if (!scoped(x) || out == NULL || !mfa_int_bucket_ok(bucket))
        return MFA_ERR_INVALID;
    memset(out, 0, sizeof(*out));
    rc = x->be->throttle_get(x->t, x->account, bucket, out);
    if (rc == MFA_OK) {
        rc = corrupt_unless(mfa_int_throttle_rec_check(out));
        if (rc == MFA_OK && strcmp(out->bucket, bucket) != 0)
            rc = MFA_ERR_CORRUPT;
    }
    if (rc != MFA_OK) {
        memset(out, 0, sizeof(*out));
        memcpy(out->bucket, bucket, strlen(bucket) + 1);
    }
    return rc;
}

mfa_rc
mfa_int_txn_throttle_put(mfa_int_txn *x, const mfa_throttle_rec *r)
{
    mfa_rc rc;

    if (!scoped(x))
        return MFA_ERR_INVALID;
    if ((rc = mfa_int_throttle_rec_check(r)) != MFA_OK)
        return rc;
    return x->be->throttle_put(x->t, x->account, r);
}

mfa_rc
mfa_int_txn_throttle_delete(mfa_int_txn *x, const char *bucket)
{
    if (!scoped(x) || !mfa_int_bucket_ok(bucket))
        return MFA_ERR_INVALID;
    return x->be->throttle_delete(x->t, x->account, bucket);
}

mfa_rc
mfa_int_txn_throttle_list(mfa_int_txn *x, mfa_throttle_rec *out, size_t max,
                          size_t *n)
{
    mfa_rc rc;

    if (n != NULL)
        *n = 0;
    if (!scoped(x) || out == NULL || n == NULL)
        return MFA_ERR_INVALID;
    rc = x->be->throttle_list(x->t, x->account, out, max, n);
    if (rc == MFA_OK && *n > max)
        rc = MFA_ERR_INTERNAL;
    for (size_t i = 0; rc == MFA_OK && i < *n; i++)
        rc = corrupt_unless(mfa_int_throttle_rec_check(&out[i]));
    if (rc != MFA_OK)
        *n = 0;
    return rc;
}

mfa_rc
mfa_int_txn_device_list(mfa_int_txn *x, mfa_device_rec *out, size_t max,
                        size_t *n)
{
    mfa_rc rc;

    if (n != NULL)
        *n = 0;
    if (!scoped(x) || out == NULL || n == NULL)
        return MFA_ERR_INVALID;
    rc = x->be->device_list(x->t, x->account, out, max, n);
    if (rc == MFA_OK && *n > max)
        rc = MFA_ERR_INTERNAL;
    for (size_t i = 0; rc == MFA_OK && i < *n; i++) {
        rc = corrupt_unless(mfa_int_device_rec_check(&out[i]));
        for (size_t j = 0; rc == MFA_OK && j < i; j++)
            if (strcmp(out[i].id, out[j].id) == 0)
                rc = MFA_ERR_CORRUPT;
    }
    if (rc != MFA_OK)
        *n = 0;
    return rc;
}

mfa_rc
mfa_int_txn_device_get(mfa_int_txn *x, const char *id, mfa_device_rec *out)
{
    mfa_rc rc;

    if (!scoped(x) || out == NULL || !mfa_int_device_id_ok(id))
        return MFA_ERR_INVALID;
    memset(out, 0, sizeof(*out));
    rc = x->be->device_get(x->t, x->account, id, out);
    if (rc == MFA_OK) {
        rc = corrupt_unless(mfa_int_device_rec_check(out));
        if (rc == MFA_OK && strcmp(out->id, id) != 0)
            rc = MFA_ERR_CORRUPT;
    }
    if (rc != MFA_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

mfa_rc
mfa_int_txn_device_put(mfa_int_txn *x, const mfa_device_rec *r)
{
    mfa_rc rc;

    if (!scoped(x))
        return MFA_ERR_INVALID;
    if ((rc = mfa_int_device_rec_check(r)) != MFA_OK)
        return rc;
    return x->be->device_put(x->t, x->account, r);
}

mfa_rc
mfa_int_txn_device_delete(mfa_int_txn *x, const char *id)
{
    if (!scoped(x) || !mfa_int_device_id_ok(id))
        return MFA_ERR_INVALID;
    return x->be->device_delete(x->t, x->account, id);
}

mfa_rc
mfa_int_txn_state_scan(mfa_int_txn *x, const char *after,
                       char (*out)[MFA_ACCOUNT_MAX + 1], size_t max, size_t *n)
{
    mfa_rc rc;

    if (n != NULL)
        *n = 0;
    if (x == NULL || !x->open || x->account[0] != '\0' || after == NULL ||
        out == NULL || n == NULL || max == 0)
        return MFA_ERR_INVALID;
    rc = x->be->state_scan(x->t, after, out, max, n);
    if (rc == MFA_OK && *n > max)
        rc = MFA_ERR_INTERNAL;
    for (size_t i = 0; rc == MFA_OK && i < *n; i++) {
        const char *prev = i ? out[i - 1] : after;

        /* a valid name, strictly after the previous: paging cannot loop */
        if (!terminated(out[i], sizeof(out[i])) ||
            mfa_int_text_field(out[i], MFA_ACCOUNT_MAX, 1) != MFA_OK ||
            strcmp(out[i], prev) <= 0)
            rc = MFA_ERR_CORRUPT;
    }
    if (rc != MFA_OK)
        *n = 0;
    return rc;
}

mfa_rc
mfa_int_txn_backup_list(mfa_int_txn *x, mfa_backup_rec *out, size_t max,
                        size_t *n)
{
    mfa_rc rc;

    if (n != NULL)
        *n = 0;
    if (!scoped(x) || out == NULL || n == NULL)
        return MFA_ERR_INVALID;
    rc = x->be->backup_list(x->t, x->account, out, max, n);
    if (rc == MFA_OK && *n > max)
        rc = MFA_ERR_INTERNAL;
    /* a code is always hashed under a key of the ring: id 0 ("the
     * current key" to mfa_backup_hash) in a row means damage */
    for (size_t i = 0; rc == MFA_OK && i < *n; i++)
        if (out[i].key_id == 0)
            rc = MFA_ERR_CORRUPT;
    if (rc != MFA_OK)
        *n = 0;
    return rc;
}

mfa_rc
mfa_int_txn_backup_insert(mfa_int_txn *x, const mfa_backup_rec *r, int64_t now)
{
    if (!scoped(x) || r == NULL || !time_ok(now))
        return MFA_ERR_INVALID;
    if (r->key_id == 0)
        return MFA_ERR_INVALID;
    return x->be->backup_insert(x->t, x->account, r, now);
}

mfa_rc
mfa_int_txn_backup_use(mfa_int_txn *x, const uint8_t hash[MFA_BACKUP_HASHBYTES],
                       int64_t now)
{
    if (!scoped(x) || hash == NULL || !time_ok(now))
        return MFA_ERR_INVALID;
    return x->be->backup_use(x->t, x->account, hash, now);
}

mfa_rc
mfa_int_txn_backup_clear(mfa_int_txn *x)
{
    if (!scoped(x))
        return MFA_ERR_INVALID;
    return x->be->backup_clear(x->t, x->account);
}

mfa_rc
mfa_int_txn_oob_get(mfa_int_txn *x, const char *purpose, mfa_oob_challenge *out)
{
    mfa_rc rc;

    if (!scoped(x) || out == NULL || mfa_int_purpose_check(purpose) != MFA_OK)
        return MFA_ERR_INVALID;
    memset(out, 0, sizeof(*out));
    rc = x->be->oob_get(x->t, x->account, purpose, out);
    if (rc == MFA_OK) {
        rc = corrupt_unless(mfa_int_oob_rec_check(out));
        if (rc == MFA_OK && strcmp(out->purpose, purpose) != 0)
            rc = MFA_ERR_CORRUPT;
    }
    if (rc != MFA_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

mfa_rc
mfa_int_txn_oob_put(mfa_int_txn *x, const mfa_oob_challenge *c)
{
    mfa_rc rc;

    if (!scoped(x))
        return MFA_ERR_INVALID;
    if ((rc = mfa_int_oob_rec_check(c)) != MFA_OK)
        return rc;
    return x->be->oob_put(x->t, x->account, c);
}

mfa_rc
mfa_int_txn_oob_delete(mfa_int_txn *x, const char *purpose)
{
    if (!scoped(x) || mfa_int_purpose_check(purpose) != MFA_OK)
        return MFA_ERR_INVALID;
    return x->be->oob_delete(x->t, x->account, purpose);
}

mfa_rc
mfa_int_txn_account_delete(mfa_int_txn *x)
{
    if (!scoped(x))
        return MFA_ERR_INVALID;
    return x->be->account_delete(x->t, x->account);
}

/* ---- passkeys ------------------------------------------------------------ */

/* The account's user handle as the backend has it: MFA_OK, NOT_FOUND, or
 * a failure; a handle out of range is damage. */
static mfa_rc
handle_read(mfa_int_txn *x, uint8_t out[MFA_WEBAUTHN_USER_HANDLE_MAX],
            size_t *len)
{
    mfa_rc rc;

    *len = 0;
    rc = x->be->webauthn_handle_get(x->t, x->account, out, len);
    if (rc == MFA_OK && (*len == 0 || *len > MFA_WEBAUTHN_USER_HANDLE_MAX))
        rc = MFA_ERR_CORRUPT;
    if (rc != MFA_OK)
        *len = 0;
    return rc;
}

/* A passkey the backend returned: in range, and carrying the account's
 * user handle when the account has one (hlen 0: none yet). */
static mfa_rc
passkey_returned(const mfa_webauthn_rec *r, const uint8_t *handle, size_t hlen)
{
    if (webauthn_rec_check(r) != MFA_OK)
        return MFA_ERR_CORRUPT;
    if (hlen > 0 && (r->cred.user_handle_len != hlen ||
                     sodium_memcmp(r->cred.user_handle, handle, hlen) != 0))
        return MFA_ERR_CORRUPT;
    return MFA_OK;
}

typedef struct wlist_ctx {
    mfa_webauthn_cb cb;
    void *arg;
    uint8_t handle[MFA_WEBAUTHN_USER_HANDLE_MAX];
    size_t hlen;
} wlist_ctx;

static mfa_rc
wlist_check(const mfa_webauthn_rec *r, void *arg)
{
    wlist_ctx *l = arg;
    mfa_rc rc = passkey_returned(r, l->handle, l->hlen);

    return rc != MFA_OK ? rc : l->cb(r, l->arg);
}

mfa_rc
mfa_int_txn_webauthn_list(mfa_int_txn *x, mfa_webauthn_cb cb, void *arg)
{
    wlist_ctx l;
    mfa_rc rc;

    if (!scoped(x) || cb == NULL)
        return MFA_ERR_INVALID;
    rc = handle_read(x, l.handle, &l.hlen);
    if (rc != MFA_OK && rc != MFA_ERR_NOT_FOUND)
        return rc;
    l.cb = cb;
    l.arg = arg;
    return x->be->webauthn_list(x->t, x->account, wlist_check, &l);
}

mfa_rc
mfa_int_txn_webauthn_get(mfa_int_txn *x, const char *factor_id,
                         mfa_webauthn_rec *out)
{
    uint8_t handle[MFA_WEBAUTHN_USER_HANDLE_MAX];
    size_t hlen = 0;
    mfa_rc rc;

    if (!scoped(x) || out == NULL || factor_id == NULL ||
        !mfa_int_factor_id_ok(factor_id))
        return MFA_ERR_INVALID;
    memset(out, 0, sizeof(*out));
    rc = x->be->webauthn_get(x->t, x->account, factor_id, out);
    if (rc == MFA_OK) {
        rc = handle_read(x, handle, &hlen);
        if (rc == MFA_ERR_NOT_FOUND)
            rc = MFA_OK;
    }
    if (rc == MFA_OK) {
        rc = passkey_returned(out, handle, hlen);
        if (rc == MFA_OK && strcmp(out->factor_id, factor_id) != 0)
            rc = MFA_ERR_CORRUPT;
    }
    if (rc != MFA_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

mfa_rc
mfa_int_txn_webauthn_insert(mfa_int_txn *x, const mfa_webauthn_rec *r)
{
    uint8_t handle[MFA_WEBAUTHN_USER_HANDLE_MAX];
    size_t hlen = 0;
    mfa_rc rc;

    if (!scoped(x))
        return MFA_ERR_INVALID;
    if ((rc = webauthn_rec_check(r)) != MFA_OK)
        return rc;
    /* a credential carries its account's handle, once it has one */
    rc = handle_read(x, handle, &hlen);
    if (rc == MFA_OK && (r->cred.user_handle_len != hlen ||
                         sodium_memcmp(r->cred.user_handle, handle, hlen) != 0))
        return MFA_ERR_INVALID;
    if (rc != MFA_OK && rc != MFA_ERR_NOT_FOUND)
        return rc;
    return x->be->webauthn_insert(x->t, x->account, r);
}

mfa_rc
mfa_int_txn_webauthn_update(mfa_int_txn *x, const mfa_webauthn_rec *r)
{
    mfa_rc rc;

    if (!scoped(x))
        return MFA_ERR_INVALID;
    if ((rc = webauthn_rec_check(r)) != MFA_OK)
        return rc;
    return x->be->webauthn_update(x->t, x->account, r);
}

mfa_rc
mfa_int_txn_webauthn_delete(mfa_int_txn *x, const char *factor_id)
{
    if (!scoped(x) || factor_id == NULL || !mfa_int_factor_id_ok(factor_id))
        return MFA_ERR_INVALID;
    return x->be->webauthn_delete(x->t, x->account, factor_id);
}

mfa_rc
mfa_int_txn_webauthn_handle_get(mfa_int_txn *x,
                                uint8_t out[MFA_WEBAUTHN_USER_HANDLE_MAX],
                                size_t *len)
{
    mfa_rc rc;

    if (len != NULL)
        *len = 0;
    if (!scoped(x) || out == NULL || len == NULL)
        return MFA_ERR_INVALID;
    rc = handle_read(x, out, len);
    if (rc != MFA_OK)
        memset(out, 0, MFA_WEBAUTHN_USER_HANDLE_MAX);
    return rc;
}

mfa_rc
mfa_int_txn_webauthn_handle_put(mfa_int_txn *x, const uint8_t *handle,
                                size_t len, int64_t now)
{
    if (!scoped(x) || handle == NULL || len == 0 ||
        len > MFA_WEBAUTHN_USER_HANDLE_MAX || !time_ok(now))
        return MFA_ERR_INVALID;
    return x->be->webauthn_handle_put(x->t, x->account, handle, len, now);
}

mfa_rc
mfa_int_txn_webauthn_handle_find(mfa_int_txn *x, const uint8_t *handle,
                                 size_t len, char account[MFA_ACCOUNT_MAX + 1])
{
    mfa_rc rc;

    if (account != NULL)
        account[0] = '\0';
    if (x == NULL || !x->open || x->account[0] != '\0' || handle == NULL ||
        len == 0 || len > MFA_WEBAUTHN_USER_HANDLE_MAX || account == NULL)
        return MFA_ERR_INVALID;
    memset(account, 0, MFA_ACCOUNT_MAX + 1);
    rc = x->be->webauthn_handle_find(x->t, handle, len, account);
    if (rc == MFA_OK &&
        (!terminated(account, MFA_ACCOUNT_MAX + 1) ||
         mfa_int_text_field(account, MFA_ACCOUNT_MAX, 1) != MFA_OK))
        rc = MFA_ERR_CORRUPT;
    if (rc != MFA_OK)
        memset(account, 0, MFA_ACCOUNT_MAX + 1);
    return rc;
}

mfa_rc
mfa_int_txn_webauthn_spend(mfa_int_txn *x,
                           const uint8_t nonce[MFA_WEBAUTHN_NONCE_BYTES],
                           int64_t expires)
{
    if (!scoped(x) || nonce == NULL || !time_ok(expires))
        return MFA_ERR_INVALID;
    return x->be->webauthn_spend(x->t, x->account, nonce, expires);
}

mfa_rc
mfa_int_txn_webauthn_spent_expire(mfa_int_txn *x, int64_t before, size_t *n)
{
    mfa_rc rc;

    if (n != NULL)
        *n = 0;
    if (x == NULL || !x->open || n == NULL || !time_ok(before))
        return MFA_ERR_INVALID;
    rc = x->be->webauthn_spent_expire(
        x->t, x->account[0] != '\0' ? x->account : NULL, before, n);
    if (rc != MFA_OK)
        *n = 0;
    return rc;
}
