/*
 * Known devices (mfa/device.h): tokens, their keyed hashes, the device
 * administration, the password step's throttle and the clean-up of rows
 * that belong to no factor (passkeys count as factors), with the spent
 * passkey challenges that have expired.
 *
 * A token is "<id>.<secret>": the id (16 hex digits, 64 random bits) names
 * the device's row, the secret (32 random bytes, base64url) proves it.  The
 * store keeps BLAKE2b(key, account || id || secret) only, under the ring's
 * backup-code subkey with a personalisation of its own ("mfa-device-tok1"),
 * so a device hash can never be confused with a backup code's and a token
 * of one account never matches another's row.  Comparisons are constant
 * time.  Tokens never reach an event or a log: events carry the account.
 *
 * The rules (which bucket, how long trusted, who is evicted, what expires)
 * are pure functions of lib/rules.c; this file applies them in store
 * transactions, one per call.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <mfa/device.h>
#include <mfa/store-backend.h>

#include "internal.h"
#include "keyring.h"
#include "rules.h"
#include "service_int.h"
#include "store/store_int.h"
#include "store/txn.h"
#include "text.h"

_Static_assert(MFA_DEVICE_ID_LEN == MFA_DEVICE_REC_ID_LEN, "device id length");
_Static_assert(MFA_DEVICE_LABEL_MAX == MFA_DEVICE_REC_LABEL_MAX,
               "device label length");
_Static_assert(sizeof(((mfa_result *)0)->device_id) == MFA_DEVICE_ID_LEN + 1,
               "mfa_result.device_id");
_Static_assert(sizeof(((mfa_result *)0)->device_token) ==
                   MFA_DEVICE_TOKEN_BUFSIZE,
               "mfa_result.device_token");
_Static_assert(MFA_DEVICE_TOKEN_LEN < MFA_DEVICE_TOKEN_BUFSIZE, "token size");
_Static_assert(sizeof(mfa_result) == 256, "mfa_result keeps its size");

#define TOKEN_B64 43 /* base64url of 32 bytes, no padding */
_Static_assert(MFA_DEVICE_ID_LEN + 1 + TOKEN_B64 == MFA_DEVICE_TOKEN_LEN,
               "token layout");
static const unsigned char personal[crypto_generichash_blake2b_PERSONALBYTES] =
    "mfa-device-tok1";
/* Accounts per step of the clean-up: a page of the store-wide scan. */
#define GC_PAGE 16
#define REMEMBER_DAYS_CAP 3650

/* ---- tokens ------------------------------------------------------------ */

mfa_rc
mfa_int_token_parse(const char *token, mfa_int_token *out)
{
    size_t len, got = 0;

    memset(out, 0, sizeof(*out));
    if (token == NULL)
        return MFA_ERR_DEVICE_FORMAT;
    /* looked at no further than one byte past the only valid length */
    len = strnlen(token, MFA_DEVICE_TOKEN_LEN + 1);
    if (len != MFA_DEVICE_TOKEN_LEN || token[MFA_DEVICE_ID_LEN] != '.')
        return MFA_ERR_DEVICE_FORMAT;
    memcpy(out->id, token, MFA_DEVICE_ID_LEN);
    out->id[MFA_DEVICE_ID_LEN] = '\0';
    if (!mfa_int_device_id_ok(out->id) ||
        sodium_base642bin(out->secret, sizeof(out->secret),
                          token + MFA_DEVICE_ID_LEN + 1, TOKEN_B64, NULL, &got,
                          NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        got != sizeof(out->secret)) {
        sodium_memzero(out, sizeof(*out));
        return MFA_ERR_DEVICE_FORMAT;
    }
    return MFA_OK;
}

static void
token_format(const mfa_int_token *t, char out[MFA_DEVICE_TOKEN_BUFSIZE])
{
    memset(out, 0, MFA_DEVICE_TOKEN_BUFSIZE);
    memcpy(out, t->id, MFA_DEVICE_ID_LEN);
    out[MFA_DEVICE_ID_LEN] = '.';
    sodium_bin2base64(out + MFA_DEVICE_ID_LEN + 1,
                      MFA_DEVICE_TOKEN_BUFSIZE - MFA_DEVICE_ID_LEN - 1,
                      t->secret, sizeof(t->secret),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static void
hash_part(crypto_generichash_blake2b_state *st, const void *p, size_t n)
{
    uint8_t len[8];

    for (int i = 0; i < 8; i++)
        len[i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
    crypto_generichash_blake2b_update(st, len, sizeof(len));
    crypto_generichash_blake2b_update(st, p, n);
}

/* The stored hash of a token of `account` under ring key key_id (0: the
 * current one; *used gets it). */
static mfa_rc
token_hash(const mfa_ctx_t *ctx, uint32_t key_id, const char *account,
           const mfa_int_token *t, uint8_t out[MFA_DEVICE_HASHBYTES],
           uint32_t *used)
{
    crypto_generichash_blake2b_state st;
    const uint8_t *key = NULL;
    mfa_rc rc;

    rc = mfa_int_keyring_subkey_ref(ctx->kr, key_id, MFA_INT_KEY_BACKUP, &key,
                                    used);
    if (rc != MFA_OK)
        return rc;
    if (crypto_generichash_blake2b_init_salt_personal(
            &st, key, MFA_KEYRING_KEYBYTES, MFA_DEVICE_HASHBYTES, NULL,
            personal) != 0)
        return MFA_ERR_INTERNAL;
    hash_part(&st, account, strlen(account));
    hash_part(&st, t->id, MFA_DEVICE_ID_LEN);
    hash_part(&st, t->secret, sizeof(t->secret));
    crypto_generichash_blake2b_final(&st, out, MFA_DEVICE_HASHBYTES);
    sodium_memzero(&st, sizeof(st));
    return MFA_OK;
}

mfa_rc
mfa_int_device_opts_check(const mfa_device_opts *dev, mfa_int_token *tok,
                          int *has)
{
    mfa_rc rc;

    *has = 0;
    memset(tok, 0, sizeof(*tok));
    if (dev == NULL)
        return MFA_OK;
    if (dev->label != NULL &&
        (rc = mfa_int_text_field(dev->label, MFA_DEVICE_LABEL_MAX, 0)) !=
            MFA_OK)
        return rc;
    if (dev->token == NULL)
        return MFA_OK;
    if ((rc = mfa_int_token_parse(dev->token, tok)) != MFA_OK)
        return rc;
    *has = 1;
    return MFA_OK;
}

mfa_rc
mfa_int_device_lookup(const mfa_ctx_t *ctx, mfa_int_txn *x,
                      const mfa_int_token *tok, mfa_device_rec *d)
{
    uint8_t h[MFA_DEVICE_HASHBYTES];
    mfa_rc rc = mfa_int_txn_device_get(x, tok->id, d);

    if (rc == MFA_ERR_NOT_FOUND)
        return MFA_ERR_DEVICE_UNKNOWN;
    if (rc != MFA_OK)
        return rc;
    rc = token_hash(ctx, d->key_id, x->account, tok, h, NULL);
    /* a wrong secret, or a hash under a key that left the ring */
    if (rc != MFA_OK || !mfa_int_ct_equal(h, d->hash, sizeof(h)))
        rc = MFA_ERR_DEVICE_UNKNOWN;
    sodium_memzero(h, sizeof(h));
    if (rc != MFA_OK)
        sodium_memzero(d, sizeof(*d));
    return rc;
}

mfa_rc
mfa_int_device_drop(mfa_int_txn *x, const char *id)
{
    char b[MFA_BUCKET_MAX + 1];
    mfa_rc rc = mfa_int_txn_device_delete(x, id);

    if (rc != MFA_OK)
        return rc;
    mfa_int_bucket_of(id, 0, b);
    if ((rc = mfa_int_txn_throttle_delete(x, b)) != MFA_OK)
        return rc;
    mfa_int_bucket_of(id, 1, b);
    return mfa_int_txn_throttle_delete(x, b);
}

mfa_rc
mfa_int_device_issue(const mfa_ctx_t *ctx, mfa_int_txn *x, int64_t now,
                     const mfa_device_opts *dev, const mfa_device_rec *known,
                     mfa_result *res)
{
    mfa_device_rec all[MFA_DEVICES_MAX], d;
    mfa_int_token tok;
    size_t n = 0;
    mfa_rc rc = MFA_OK;

    memset(&d, 0, sizeof(d));
    memset(&tok, 0, sizeof(tok));
    if (ctx->max_devices == 0)
        return MFA_OK; /* the application keeps no device tokens */
    if (known != NULL) {
        d = *known;
    } else {
        /* room first: the devices seen longest ago go */
        rc = mfa_int_txn_device_list(x, all, MFA_DEVICES_MAX, &n);
        while (rc == MFA_OK && n > 0 && n >= ctx->max_devices) {
            size_t v = mfa_int_device_victim(all, n);

            /* the row only: a login must stay cheap, and the evicted
             * device's throttle rows (rare: only while it has failures)
             * are unreachable without it; the clean-up removes them */
            rc = mfa_int_txn_device_delete(x, all[v].id);
            all[v] = all[--n];
        }
        if (rc != MFA_OK)
            goto out;
        /* 64 random bits: a collision within one account is an RNG fault,
         * and put would then overwrite; look once all the same */
        for (int tries = 0; tries < 4; tries++) {
            int taken = 0;

            mfa_int_new_factor_id(d.id);
            for (size_t i = 0; i < n; i++)
                taken |= strcmp(all[i].id, d.id) == 0;
            if (!taken)
                break;
        }
        d.created = now;
        d.trusted_until = 0;
    }
    memcpy(tok.id, d.id, sizeof(tok.id));
    randombytes_buf(tok.secret, sizeof(tok.secret));
    if (token_hash(ctx, 0, x->account, &tok, d.hash, &d.key_id) != MFA_OK) {
        rc = MFA_OK; /* no current key: no device, the login stands */
        goto out;
    }
    if (dev != NULL && dev->label != NULL) {
        memset(d.label, 0, sizeof(d.label));
        memcpy(d.label, dev->label, strlen(dev->label));
    }
    d.last_seen = now < d.created ? d.created : now;
    d.trusted_until =
        mfa_int_device_trust(now, dev != NULL ? dev->remember_days : 0,
                             ctx->remember_max_days, d.trusted_until);
    if ((rc = mfa_int_txn_device_put(x, &d)) != MFA_OK)
        goto out;
    memcpy(res->device_id, d.id, sizeof(res->device_id));
    token_format(&tok, res->device_token);
out:
    sodium_memzero(&tok, sizeof(tok));
    sodium_memzero(&d, sizeof(d));
    sodium_memzero(all, sizeof(all));
    return rc;
}

mfa_rc
mfa_device_token_id(const char *token, char id[MFA_DEVICE_ID_LEN + 1])
{
    mfa_int_token t;
    mfa_rc rc;

    if (id == NULL)
        return MFA_ERR_INVALID;
    memset(id, 0, MFA_DEVICE_ID_LEN + 1);
    rc = mfa_int_token_parse(token, &t);
    if (rc == MFA_OK)
        memcpy(id, t.id, MFA_DEVICE_ID_LEN + 1);
    sodium_memzero(&t, sizeof(t));
    return rc;
}

mfa_rc
mfa_ctx_set_devices(mfa_ctx_t *ctx, unsigned max_devices,
                    uint32_t remember_max_days)
{
    if (ctx == NULL || max_devices > MFA_DEVICES_MAX ||
        remember_max_days > REMEMBER_DAYS_CAP)
        return MFA_ERR_INVALID;
    ctx->max_devices = max_devices;
    ctx->remember_max_days = remember_max_days;
    return MFA_OK;
}

/* ---- administration ---------------------------------------------------- */

typedef struct check_arg {
    const mfa_int_token *tok;
    int64_t now;
    mfa_device_info *info;
} check_arg;

static void
info_of(const mfa_device_rec *d, mfa_device_info *o)
{
    memset(o, 0, sizeof(*o));
    memcpy(o->id, d->id, sizeof(o->id));
    memcpy(o->label, d->label, sizeof(o->label));
    o->created = d->created;
    o->last_seen = d->last_seen;
    o->trusted_until = d->trusted_until;
}

static mfa_rc
check_body(const mfa_ctx_t *ctx, mfa_int_txn *x, void *arg)
{
    check_arg *a = arg;
    mfa_device_rec d;
    mfa_rc rc = mfa_int_device_lookup(ctx, x, a->tok, &d);

    if (rc != MFA_OK)
        return rc;
    if (mfa_int_device_may_skip(&d, a->now)) {
        if (d.last_seen < a->now) {
            d.last_seen = a->now;
            rc = mfa_int_txn_device_put(x, &d);
        }
    } else {
        rc = MFA_ERR_DEVICE_UNTRUSTED;
    }
    if (a->info != NULL)
        info_of(&d, a->info);
    sodium_memzero(&d, sizeof(d));
    return rc;
}

/* A write transaction that commits only on MFA_OK. */
static mfa_rc
run_txn(const mfa_ctx_t *ctx, const char *account, mfa_txn_mode mode,
        mfa_rc (*body)(const mfa_ctx_t *, mfa_int_txn *, void *), void *arg)
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

static mfa_rc
check_time(int64_t now)
{
    return now >= 0 && now <= MFA_INT_TIME_MAX ? MFA_OK : MFA_ERR_TIME;
}

mfa_rc
mfa_device_check(mfa_ctx_t *ctx, const char *account, const char *token,
                 mfa_device_info *info)
{
    mfa_int_token tok;
    check_arg a;
    mfa_rc rc;

    if (info != NULL)
        memset(info, 0, sizeof(*info));
    if (ctx == NULL)
        return MFA_ERR_INVALID;
    if ((rc = mfa_int_text_field(account, MFA_ACCOUNT_MAX, 1)) != MFA_OK)
        return rc;
    if ((rc = mfa_int_token_parse(token, &tok)) != MFA_OK)
        return rc;
    a.tok = &tok;
    a.now = mfa_int_ctx_now(ctx);
    a.info = info;
    rc = check_time(a.now);
    if (rc == MFA_OK) {
        mfa_device_info local;

        /* the untrusted verdict still tells the device's dates */
        if (a.info == NULL)
            a.info = &local;
        rc = run_txn(ctx, account, MFA_TXN_WRITE, check_body, &a);
        if (rc != MFA_OK && rc != MFA_ERR_DEVICE_UNTRUSTED && info != NULL)
            memset(info, 0, sizeof(*info));
    }
    sodium_memzero(&tok, sizeof(tok));
    mfa_int_gc_tick(ctx);
    return rc;
}

typedef struct dlist_arg {
    mfa_device_rec *v;
    size_t n;
} dlist_arg;

static mfa_rc
dlist_body(const mfa_ctx_t *ctx, mfa_int_txn *x, void *arg)
{
    dlist_arg *a = arg;

    (void)ctx;
    return mfa_int_txn_device_list(x, a->v, MFA_DEVICES_MAX, &a->n);
}

mfa_rc
mfa_devices_list(mfa_ctx_t *ctx, const char *account, mfa_device_info **list,
                 size_t *n)
{
    mfa_device_rec v[MFA_DEVICES_MAX];
    dlist_arg a = {v, 0};
    mfa_device_info *out;
    mfa_rc rc;

    if (list == NULL || n == NULL)
        return MFA_ERR_INVALID;
    *list = NULL;
    *n = 0;
    if (ctx == NULL)
        return MFA_ERR_INVALID;
    if ((rc = mfa_int_text_field(account, MFA_ACCOUNT_MAX, 1)) != MFA_OK)
        return rc;
    rc = run_txn(ctx, account, MFA_TXN_READ, dlist_body, &a);
    if (rc != MFA_OK)
        goto out;
    out = calloc(a.n > 0 ? a.n : 1, sizeof(*out));
    if (out == NULL) {
        rc = MFA_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < a.n; i++)
        info_of(&v[i], &out[i]);
    *list = out;
    *n = a.n;
out:
    sodium_memzero(v, sizeof(v));
    return rc;
}

typedef struct forget_arg {
    const char *id;
} forget_arg;

static mfa_rc
forget_body(const mfa_ctx_t *ctx, mfa_int_txn *x, void *arg)
{
    (void)ctx;
    return mfa_int_device_drop(x, ((const forget_arg *)arg)->id);
}

mfa_rc
mfa_device_forget(mfa_ctx_t *ctx, const char *account, const char *device_id)
{
    int64_t now;
    mfa_rc rc;

    if (ctx == NULL)
        return MFA_ERR_INVALID;
    now = mfa_int_ctx_now(ctx);
    if ((rc = mfa_int_text_field(account, MFA_ACCOUNT_MAX, 1)) != MFA_OK) {
        mfa_int_ctx_emit(ctx, MFA_EV_DEVICE_FORGET, NULL, NULL, rc, now, 0);
        return rc;
    }
    if (device_id == NULL || !mfa_int_device_id_ok(device_id)) {
        rc = MFA_ERR_INVALID;
    } else {
        forget_arg a = {device_id};

        rc = run_txn(ctx, account, MFA_TXN_WRITE, forget_body, &a);
    }
    mfa_int_ctx_emit(ctx,
                     mfa_int_is_store_error(rc) ? MFA_EV_STORE_ERROR
                                                : MFA_EV_DEVICE_FORGET,
                     account, NULL, rc, now, 0);
    return rc;
}

static mfa_rc
forget_all_body(const mfa_ctx_t *ctx, mfa_int_txn *x, void *arg)
{
    mfa_device_rec v[MFA_DEVICES_MAX];
    size_t *n = arg, k = 0;
    mfa_rc rc;

    (void)ctx;
    /* more than MFA_DEVICES_MAX only from a store edited by hand: go on
     * until none is left */
    do {
        rc = mfa_int_txn_device_list(x, v, MFA_DEVICES_MAX, &k);
        for (size_t i = 0; rc == MFA_OK && i < k; i++) {
            rc = mfa_int_device_drop(x, v[i].id);
            (*n)++;
        }
    } while (rc == MFA_OK && k == MFA_DEVICES_MAX);
    sodium_memzero(v, sizeof(v));
    return rc;
}

mfa_rc
mfa_devices_forget_all(mfa_ctx_t *ctx, const char *account, size_t *n)
{
    size_t local = 0;
    int64_t now;
    mfa_rc rc;

    if (n == NULL)
        n = &local;
    *n = 0;
    if (ctx == NULL)
        return MFA_ERR_INVALID;
    now = mfa_int_ctx_now(ctx);
    if ((rc = mfa_int_text_field(account, MFA_ACCOUNT_MAX, 1)) != MFA_OK) {
        mfa_int_ctx_emit(ctx, MFA_EV_DEVICE_FORGET, NULL, NULL, rc, now, 0);
        return rc;
    }
    rc = run_txn(ctx, account, MFA_TXN_WRITE, forget_all_body, n);
    if (rc != MFA_OK)
        *n = 0;
    mfa_int_ctx_emit(ctx,
                     mfa_int_is_store_error(rc) ? MFA_EV_STORE_ERROR
                                                : MFA_EV_DEVICE_FORGET,
                     account, NULL, rc, now, 0);
    return rc;
}

/* ---- the password step ------------------------------------------------- */

enum pw_op { PW_CHECK, PW_FAILED, PW_OK };

typedef struct pw_arg {
    enum pw_op op;
    const mfa_int_token *tok;
    int64_t now;
    mfa_throttle_rec after;
    int locked;
} pw_arg;

static mfa_rc
pw_body(const mfa_ctx_t *ctx, mfa_int_txn *x, void *arg)
{
    pw_arg *a = arg;
    char bucket[MFA_BUCKET_MAX + 1];
    mfa_throttle_rec before;
    mfa_device_rec d;
    mfa_rc rc = MFA_OK;
    int had;

    memset(&d, 0, sizeof(d));
    if (a->tok != NULL) {
        rc = mfa_int_device_lookup(ctx, x, a->tok, &d);
        if (rc != MFA_OK)
            return rc;
    }
    mfa_int_bucket_of(a->tok != NULL ? d.id : NULL, 1, bucket);
    sodium_memzero(&d, sizeof(d));
    rc = mfa_int_txn_throttle_get(x, bucket, &before);
    had = rc == MFA_OK;
    if (rc != MFA_OK && rc != MFA_ERR_NOT_FOUND)
        return rc;
    a->locked = mfa_int_throttle_locked(&before, a->now);
    a->after = before;
    switch (a->op) {
    case PW_CHECK:
        return MFA_OK;
    case PW_FAILED:
        mfa_int_throttle_count(&ctx->throttle, &before, a->now, &a->after);
        return mfa_int_txn_throttle_put(x, &a->after);
    default:
        memset(&a->after, 0, sizeof(a->after));
        return had ? mfa_int_txn_throttle_delete(x, bucket) : MFA_OK;
    }
}

static mfa_rc
password_step(mfa_ctx_t *ctx, const char *account, const char *token,
              enum pw_op op, mfa_result *res)
{
    mfa_result local;
    mfa_int_token tok;
    pw_arg a;
    mfa_rc rc;

    if (res == NULL)
        res = &local;
    memset(res, 0, sizeof(*res));
    if (ctx == NULL)
        return res->outcome = MFA_ERR_INVALID;
    if ((rc = mfa_int_text_field(account, MFA_ACCOUNT_MAX, 1)) != MFA_OK)
        return res->outcome = rc;
    memset(&tok, 0, sizeof(tok));
    if (token != NULL && (rc = mfa_int_token_parse(token, &tok)) != MFA_OK)
        return res->outcome = rc;
    memset(&a, 0, sizeof(a));
    a.op = op;
    a.tok = token != NULL ? &tok : NULL;
    a.now = mfa_int_ctx_now(ctx);
    if ((rc = check_time(a.now)) == MFA_OK)
        rc =
            run_txn(ctx, account, op == PW_CHECK ? MFA_TXN_READ : MFA_TXN_WRITE,
                    pw_body, &a);
    sodium_memzero(&tok, sizeof(tok));
    if (rc == MFA_OK) {
        res->failures = a.after.failures;
        res->retry_after = mfa_int_retry_after(&a.after, a.now);
        if (op == PW_CHECK && a.locked)
            rc = MFA_ERR_THROTTLED;
    }
    if (op == PW_FAILED || mfa_int_is_store_error(rc))
        mfa_int_ctx_emit(ctx,
                         mfa_int_is_store_error(rc) ? MFA_EV_STORE_ERROR
                                                    : MFA_EV_PASSWORD_FAIL,
                         account, NULL, rc, a.now, res->failures);
    if (rc != MFA_OK && rc != MFA_ERR_THROTTLED) {
        res->failures = 0;
        res->retry_after = 0;
    }
    mfa_int_gc_tick(ctx);
    return res->outcome = rc;
}

mfa_rc
mfa_password_check(mfa_ctx_t *ctx, const char *account, const char *token,
                   mfa_result *res)
{
    return password_step(ctx, account, token, PW_CHECK, res);
}

mfa_rc
mfa_password_failed(mfa_ctx_t *ctx, const char *account, const char *token,
                    mfa_result *res)
{
    return password_step(ctx, account, token, PW_FAILED, res);
}

mfa_rc
mfa_password_ok(mfa_ctx_t *ctx, const char *account, const char *token)
{
    return password_step(ctx, account, token, PW_OK, NULL);
}

/* ---- clean-up ---------------------------------------------------------- */

mfa_rc
mfa_ctx_set_gc(mfa_ctx_t *ctx, unsigned every, int64_t idle)
{
    if (ctx == NULL || idle < 60 || idle > INT32_MAX)
        return MFA_ERR_INVALID;
    ctx->gc_every = every;
    ctx->gc_idle = idle;
    return MFA_OK;
}

typedef struct gc_arg {
    int64_t now;
    size_t removed;
} gc_arg;

static mfa_rc
any_factor(const mfa_factor_rec *f, void *arg)
{
    (void)f;
    *(int *)arg = 1;
    return MFA_OK;
}

static mfa_rc
any_passkey(const mfa_webauthn_rec *r, void *arg)
{
    (void)r;
    *(int *)arg = 1;
    return MFA_OK;
}

/* One account, in its own transaction: only an account without any
 * factor (pending ones count, and passkeys) loses rows, and only idle
 * ones. */
static mfa_rc
gc_account_body(const mfa_ctx_t *ctx, mfa_int_txn *x, void *arg)
{
    mfa_throttle_rec t[2 * MFA_DEVICES_MAX + 2];
    mfa_device_rec d[MFA_DEVICES_MAX];
    gc_arg *a = arg;
    size_t n = 0;
    int has = 0;
    size_t nd = 0;
    mfa_rc rc = mfa_int_txn_factor_list(x, any_factor, &has);

    if (rc == MFA_OK && !has)
        rc = mfa_int_txn_webauthn_list(x, any_passkey, &has);
    if (rc == MFA_OK)
        rc = mfa_int_txn_device_list(x, d, MFA_DEVICES_MAX, &nd);
    for (size_t i = 0; rc == MFA_OK && !has && i < nd; i++)
        if (mfa_int_gc_device_expired(&d[i], a->now, ctx->gc_idle)) {
            rc = mfa_int_device_drop(x, d[i].id);
            a->removed++;
            d[i--] = d[--nd];
        }
    if (rc == MFA_OK)
        rc = mfa_int_txn_throttle_list(x, t, sizeof(t) / sizeof(t[0]), &n);
    for (size_t i = 0; rc == MFA_OK && i < n; i++) {
        char id[MFA_DEVICE_ID_LEN + 1];
        int orphan = 0;

        /* a device's bucket outlives an evicted device: unreachable */
        if (mfa_int_bucket_device(t[i].bucket, id)) {
            orphan = 1;
            for (size_t j = 0; j < nd; j++)
                orphan &= strcmp(d[j].id, id) != 0;
        }
        if (orphan || (!has && mfa_int_gc_throttle_expired(&t[i], a->now,
                                                           ctx->gc_idle))) {
            rc = mfa_int_txn_throttle_delete(x, t[i].bucket);
            a->removed++;
        }
    }
    sodium_memzero(d, sizeof(d));
    return rc;
}

typedef struct spent_arg {
    int64_t now;
    size_t n;
} spent_arg;

static mfa_rc
spent_body(const mfa_ctx_t *ctx, mfa_int_txn *x, void *arg)
{
    spent_arg *a = arg;

    (void)ctx;
    return mfa_int_txn_webauthn_spent_expire(x, a->now, &a->n);
}

/*
 * The spent passkey challenges (lib/webauthn_flow.c) of every account
 * whose challenge expired before now, in one store-wide transaction: a
 * challenge past its expiry is refused for that alone, so its nonce need
 * not be kept.  *removed grows by their number.
 */
static mfa_rc
gc_spent(const mfa_ctx_t *ctx, int64_t now, size_t *removed)
{
    spent_arg a;
    mfa_rc rc;

    a.now = now;
    a.n = 0;
    rc = run_txn(ctx, NULL, MFA_TXN_WRITE, spent_body, &a);
    if (rc == MFA_OK)
        *removed += a.n;
    return rc;
}

/*
 * One page of accounts after `after`: *n gets the page's size (fewer than
 * GC_PAGE at the end) and `after` moves to its last account.  The scan is
 * a store-wide read; each account is then cleaned in its own transaction,
 * so no lock is held across the store.
 */
static mfa_rc
gc_page(const mfa_ctx_t *ctx, char after[MFA_ACCOUNT_MAX + 1], int64_t now,
        size_t *removed, size_t *n)
{
    char names[GC_PAGE][MFA_ACCOUNT_MAX + 1];
    mfa_int_txn x;
    gc_arg a;
    mfa_rc rc, first = MFA_OK;

    *n = 0;
    rc = mfa_int_txn_begin(ctx->store, NULL, MFA_TXN_READ, &x);
    if (rc != MFA_OK)
        return rc;
    rc = mfa_int_txn_state_scan(&x, after, names, GC_PAGE, n);
    if (rc == MFA_OK)
        rc = mfa_int_txn_commit(&x);
    else
        mfa_int_txn_rollback(&x);
    if (rc != MFA_OK) {
        *n = 0;
        return rc;
    }
    a.now = now;
    for (size_t i = 0; i < *n; i++) {
        a.removed = 0;
        rc = run_txn(ctx, names[i], MFA_TXN_WRITE, gc_account_body, &a);
        if (rc == MFA_OK)
            *removed += a.removed;
        else if (first == MFA_OK)
            first = rc; /* one account's failure must not stop the rest */
    }
    if (*n > 0)
        memcpy(after, names[*n - 1], MFA_ACCOUNT_MAX + 1);
    return first;
}

mfa_rc
mfa_gc(mfa_ctx_t *ctx, size_t *removed)
{
    char after[MFA_ACCOUNT_MAX + 1] = "";
    size_t local = 0, n = 0;
    int64_t now;
    mfa_rc rc, first = MFA_OK;

    if (removed == NULL)
        removed = &local;
    *removed = 0;
    if (ctx == NULL)
        return MFA_ERR_INVALID;
    now = mfa_int_ctx_now(ctx);
    if ((rc = check_time(now)) != MFA_OK)
        return rc;
    first = gc_spent(ctx, now, removed);
    do {
        rc = gc_page(ctx, after, now, removed, &n);
        if (rc != MFA_OK && first == MFA_OK)
            first = rc;
    } while (n == GC_PAGE && (rc == MFA_OK || !mfa_int_is_store_error(rc)));
    mfa_int_ctx_emit(
        ctx, mfa_int_is_store_error(first) ? MFA_EV_STORE_ERROR : MFA_EV_GC,
        NULL, NULL, first, now,
        *removed > UINT32_MAX ? UINT32_MAX : (uint32_t)*removed);
    return first;
}

void
mfa_int_gc_tick(const mfa_ctx_t *ctx)
{
    mfa_int_gc_state *g = ctx->gc;
    char after[MFA_ACCOUNT_MAX + 1];
    size_t removed = 0, n = 0;
    int64_t now;

    if (ctx->gc_every == 0 ||
        (atomic_fetch_add(&g->tick, 1u) + 1u) % ctx->gc_every != 0)
        return;
    now = mfa_int_ctx_now(ctx);
    if (check_time(now) != MFA_OK)
        return;
    /* one step at a time: a second thread due meanwhile skips its turn */
    if (pthread_mutex_trylock(&g->mu) != 0)
        return;
    memcpy(after, g->after, sizeof(after));
    /* each round over the accounts starts with the spent challenges */
    if (after[0] == '\0')
        (void)gc_spent(ctx, now, &removed);
    (void)gc_page(ctx, after, now, &removed, &n);
    /* a short page reached the end: the next step starts over */
    if (n < GC_PAGE)
        after[0] = '\0';
    memcpy(g->after, after, sizeof(after));
    pthread_mutex_unlock(&g->mu);
}
