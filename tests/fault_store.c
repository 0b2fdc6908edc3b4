/* The fault-injecting backend of fault_store.h. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "fault_store.h"

struct fault_store {
    mfa_store_t *inner;
    const mfa_store_backend *be; /* inner's */
    void *impl;                  /* inner's */
    atomic_uint calls;
    unsigned fail_at; /* 0: never */
    mfa_rc err;
    atomic_int fired;
    const char *fired_at;
};

/* This file's transactions: the wrapped backend's, and whose it is. */
struct mfa_store_txn {
    fault_store *fs;
    mfa_store_txn *inner;
};

/* Count a call; the armed error when this is the one to fail. */
static mfa_rc
hit(fault_store *fs, const char *what)
{
    unsigned n = atomic_fetch_add(&fs->calls, 1) + 1;

    if (fs->fail_at != 0 && n == fs->fail_at) {
        fs->fired_at = what;
        atomic_store(&fs->fired, 1);
        return fs->err;
    }
    return MFA_OK;
}

#define HIT(t, what)                                                           \
    do {                                                                       \
        mfa_rc hit_rc_ = hit((t)->fs, what);                                   \
        if (hit_rc_ != MFA_OK)                                                 \
            return hit_rc_;                                                    \
    } while (0)

#define BE(t) ((t)->fs->be)

static void
f_close(void *impl)
{
    fault_store *fs = impl;

    if (fs == NULL)
        return;
    mfa_store_free(&fs->inner);
    free(fs);
}

static mfa_rc
f_schema_version(void *impl, int *v)
{
    fault_store *fs = impl;
    return fs->be->schema_version(fs->impl, v);
}

static mfa_rc
f_migrate(void *impl)
{
    fault_store *fs = impl;
    return fs->be->migrate(fs->impl);
}

static mfa_rc
f_begin(void *impl, const char *account, mfa_txn_mode mode, mfa_store_txn **out)
{
    fault_store *fs = impl;
    mfa_store_txn *t;
    mfa_rc rc = hit(fs, "begin");

    if (rc != MFA_OK)
        return rc;
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return MFA_ERR_NOMEM;
    t->fs = fs;
    rc = fs->be->begin(fs->impl, account, mode, &t->inner);
    if (rc != MFA_OK) {
        free(t);
        return rc;
    }
    *out = t;
    return MFA_OK;
}

static mfa_rc
f_commit(mfa_store_txn *t)
{
    mfa_rc rc = hit(t->fs, "commit");

    if (rc != MFA_OK)
        BE(t)->rollback(t->inner);
    else
        rc = BE(t)->commit(t->inner);
    free(t);
    return rc;
}

static void
f_rollback(mfa_store_txn *t)
{
    BE(t)->rollback(t->inner);
    free(t);
}

static mfa_rc
f_factor_list(mfa_store_txn *t, const char *a, mfa_factor_cb cb, void *arg)
{
    HIT(t, "factor_list");
    return BE(t)->factor_list(t->inner, a, cb, arg);
}

static mfa_rc
f_factor_get(mfa_store_txn *t, const char *a, const char *id,
             mfa_factor_rec *out)
{
    HIT(t, "factor_get");
    return BE(t)->factor_get(t->inner, a, id, out);
}

static mfa_rc
f_factor_insert(mfa_store_txn *t, const mfa_factor_rec *f)
{
    HIT(t, "factor_insert");
    return BE(t)->factor_insert(t->inner, f);
}

static mfa_rc
f_factor_update(mfa_store_txn *t, const mfa_factor_rec *f)
{
    HIT(t, "factor_update");
    return BE(t)->factor_update(t->inner, f);
}

static mfa_rc
f_factor_delete(mfa_store_txn *t, const char *a, const char *id)
{
    HIT(t, "factor_delete");
    return BE(t)->factor_delete(t->inner, a, id);
}

static mfa_rc
f_factor_scan(mfa_store_txn *t, const char *aa, const char *aid,
              mfa_factor_rec *out, size_t max, size_t *n)
{
    HIT(t, "factor_scan");
    return BE(t)->factor_scan(t->inner, aa, aid, out, max, n);
}

static mfa_rc
f_factor_expire(mfa_store_txn *t, int64_t before, size_t *n)
{
    HIT(t, "factor_expire");
    return BE(t)->factor_expire(t->inner, before, n);
}

static mfa_rc
f_throttle_get(mfa_store_txn *t, const char *a, const char *b,
               mfa_throttle_rec *out)
{
    HIT(t, "throttle_get");
    return BE(t)->throttle_get(t->inner, a, b, out);
}

static mfa_rc
f_throttle_put(mfa_store_txn *t, const char *a, const mfa_throttle_rec *r)
{
    HIT(t, "throttle_put");
    return BE(t)->throttle_put(t->inner, a, r);
}

static mfa_rc
f_throttle_delete(mfa_store_txn *t, const char *a, const char *b)
{
    HIT(t, "throttle_delete");
    return BE(t)->throttle_delete(t->inner, a, b);
}

static mfa_rc
f_backup_list(mfa_store_txn *t, const char *a, mfa_backup_rec *out, size_t max,
              size_t *n)
{
    HIT(t, "backup_list");
    return BE(t)->backup_list(t->inner, a, out, max, n);
}

static mfa_rc
f_backup_insert(mfa_store_txn *t, const char *a, const mfa_backup_rec *r,
                int64_t now)
{
    HIT(t, "backup_insert");
    return BE(t)->backup_insert(t->inner, a, r, now);
}

static mfa_rc
f_backup_use(mfa_store_txn *t, const char *a,
             const uint8_t h[MFA_BACKUP_HASHBYTES], int64_t now)
{
    HIT(t, "backup_use");
    return BE(t)->backup_use(t->inner, a, h, now);
}

static mfa_rc
f_backup_clear(mfa_store_txn *t, const char *a)
{
    HIT(t, "backup_clear");
    return BE(t)->backup_clear(t->inner, a);
}

static mfa_rc
f_oob_get(mfa_store_txn *t, const char *a, const char *p,
          mfa_oob_challenge *out)
{
    HIT(t, "oob_get");
    return BE(t)->oob_get(t->inner, a, p, out);
}

static mfa_rc
f_oob_put(mfa_store_txn *t, const char *a, const mfa_oob_challenge *c)
{
    HIT(t, "oob_put");
    return BE(t)->oob_put(t->inner, a, c);
}

static mfa_rc
f_oob_delete(mfa_store_txn *t, const char *a, const char *p)
{
    HIT(t, "oob_delete");
    return BE(t)->oob_delete(t->inner, a, p);
}

static mfa_rc
f_throttle_list(mfa_store_txn *t, const char *a, mfa_throttle_rec *out,
                size_t max, size_t *n)
{
    HIT(t, "throttle_list");
    return BE(t)->throttle_list(t->inner, a, out, max, n);
}

static mfa_rc
f_device_list(mfa_store_txn *t, const char *a, mfa_device_rec *out, size_t max,
              size_t *n)
{
    HIT(t, "device_list");
    return BE(t)->device_list(t->inner, a, out, max, n);
}

static mfa_rc
f_device_get(mfa_store_txn *t, const char *a, const char *id,
             mfa_device_rec *out)
{
    HIT(t, "device_get");
    return BE(t)->device_get(t->inner, a, id, out);
}

static mfa_rc
f_device_put(mfa_store_txn *t, const char *a, const mfa_device_rec *r)
{
    HIT(t, "device_put");
    return BE(t)->device_put(t->inner, a, r);
}

static mfa_rc
f_device_delete(mfa_store_txn *t, const char *a, const char *id)
{
    HIT(t, "device_delete");
    return BE(t)->device_delete(t->inner, a, id);
}

static mfa_rc
f_state_scan(mfa_store_txn *t, const char *after,
             char (*out)[MFA_ACCOUNT_MAX + 1], size_t max, size_t *n)
{
    HIT(t, "state_scan");
    return BE(t)->state_scan(t->inner, after, out, max, n);
}

static mfa_rc
f_account_delete(mfa_store_txn *t, const char *a)
{
    HIT(t, "account_delete");
    return BE(t)->account_delete(t->inner, a);
}

static mfa_rc
f_webauthn_list(mfa_store_txn *t, const char *a, mfa_webauthn_cb cb, void *arg)
{
    HIT(t, "webauthn_list");
    return BE(t)->webauthn_list(t->inner, a, cb, arg);
}

static mfa_rc
f_webauthn_get(mfa_store_txn *t, const char *a, const char *id,
               mfa_webauthn_rec *out)
{
    HIT(t, "webauthn_get");
    return BE(t)->webauthn_get(t->inner, a, id, out);
}

static mfa_rc
f_webauthn_insert(mfa_store_txn *t, const char *a, const mfa_webauthn_rec *r)
{
    HIT(t, "webauthn_insert");
    return BE(t)->webauthn_insert(t->inner, a, r);
}

static mfa_rc
f_webauthn_update(mfa_store_txn *t, const char *a, const mfa_webauthn_rec *r)
{
    HIT(t, "webauthn_update");
    return BE(t)->webauthn_update(t->inner, a, r);
}

static mfa_rc
f_webauthn_delete(mfa_store_txn *t, const char *a, const char *id)
{
    HIT(t, "webauthn_delete");
    return BE(t)->webauthn_delete(t->inner, a, id);
}

static mfa_rc
f_webauthn_handle_get(mfa_store_txn *t, const char *a,
                      uint8_t out[MFA_WEBAUTHN_USER_HANDLE_MAX], size_t *len)
{
    HIT(t, "webauthn_handle_get");
    return BE(t)->webauthn_handle_get(t->inner, a, out, len);
}

static mfa_rc
f_webauthn_handle_put(mfa_store_txn *t, const char *a, const uint8_t *h,
                      size_t len, int64_t now)
{
    HIT(t, "webauthn_handle_put");
    return BE(t)->webauthn_handle_put(t->inner, a, h, len, now);
}

static mfa_rc
f_webauthn_handle_find(mfa_store_txn *t, const uint8_t *h, size_t len,
                       char account[MFA_ACCOUNT_MAX + 1])
{
    HIT(t, "webauthn_handle_find");
    return BE(t)->webauthn_handle_find(t->inner, h, len, account);
}

static mfa_rc
f_webauthn_spend(mfa_store_txn *t, const char *a,
                 const uint8_t nonce[MFA_WEBAUTHN_NONCE_BYTES], int64_t expires)
{
    HIT(t, "webauthn_spend");
    return BE(t)->webauthn_spend(t->inner, a, nonce, expires);
}

static mfa_rc
f_webauthn_spent_expire(mfa_store_txn *t, const char *a, int64_t before,
                        size_t *n)
{
    HIT(t, "webauthn_spent_expire");
    return BE(t)->webauthn_spent_expire(t->inner, a, before, n);
}

static const mfa_store_backend fault_backend = {
    .abi = MFA_STORE_BACKEND_ABI,
    .name = "fault",
    .close = f_close,
    .schema_version = f_schema_version,
    .migrate = f_migrate,
    .begin = f_begin,
    .commit = f_commit,
    .rollback = f_rollback,
    .factor_list = f_factor_list,
    .factor_get = f_factor_get,
    .factor_insert = f_factor_insert,
    .factor_update = f_factor_update,
    .factor_delete = f_factor_delete,
    .factor_scan = f_factor_scan,
    .factor_expire = f_factor_expire,
    .throttle_get = f_throttle_get,
    .throttle_put = f_throttle_put,
    .throttle_delete = f_throttle_delete,
    .backup_list = f_backup_list,
    .backup_insert = f_backup_insert,
    .backup_use = f_backup_use,
    .backup_clear = f_backup_clear,
    .oob_get = f_oob_get,
    .oob_put = f_oob_put,
    .oob_delete = f_oob_delete,
    .throttle_list = f_throttle_list,
    .device_list = f_device_list,
    .device_get = f_device_get,
    .device_put = f_device_put,
    .device_delete = f_device_delete,
    .state_scan = f_state_scan,
    .account_delete = f_account_delete,
    .webauthn_list = f_webauthn_list,
    .webauthn_get = f_webauthn_get,
    .webauthn_insert = f_webauthn_insert,
    .webauthn_update = f_webauthn_update,
    .webauthn_delete = f_webauthn_delete,
    .webauthn_handle_get = f_webauthn_handle_get,
    .webauthn_handle_put = f_webauthn_handle_put,
    .webauthn_handle_find = f_webauthn_handle_find,
    .webauthn_spend = f_webauthn_spend,
    .webauthn_spent_expire = f_webauthn_spent_expire,
};

mfa_rc
fault_store_wrap(mfa_store_t **out, mfa_store_t *inner, fault_store **fsp)
{
    fault_store *fs;
    mfa_rc rc;

    *out = NULL;
    *fsp = NULL;
    fs = calloc(1, sizeof(*fs));
    if (fs == NULL) {
        mfa_store_free(&inner);
        return MFA_ERR_NOMEM;
    }
    fs->inner = inner;
    fs->be = mfa_store_backend_of(inner);
    fs->impl = mfa_store_impl_of(inner);
    /* on failure mfa_store_new closes fs, and with it inner */
    rc = mfa_store_new(out, &fault_backend, fs);
    if (rc == MFA_OK)
        *fsp = fs;
    return rc;
}

void
fault_store_arm(fault_store *fs, unsigned k, mfa_rc err)
{
    fs->fail_at = k;
    fs->err = err;
    fs->fired_at = NULL;
    atomic_store(&fs->fired, 0);
    atomic_store(&fs->calls, 0);
}

unsigned
fault_store_calls(const fault_store *fs)
{
    return atomic_load(&fs->calls);
}

int
fault_store_fired(const fault_store *fs)
{
    return atomic_load(&fs->fired);
}

const char *
fault_store_fired_at(const fault_store *fs)
{
    return fs->fired_at != NULL ? fs->fired_at : "";
}

mfa_store_t *
fault_store_inner(const fault_store *fs)
{
    return fs->inner;
}
