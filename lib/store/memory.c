/*
 * The memory store: plain arrays behind one mutex.  Every operation holds
 * the mutex from its first read to its last write, which makes each one
 * atomic against the other threads of the process.  Callbacks of
 * factor_list/factor_each run on a snapshot, outside the mutex, so they may
 * call the store (key rotation reseals from inside factor_each).
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <mfa/store.h>

#include "store_int.h"

typedef struct mem_backup {
    char account[MFA_ACCOUNT_MAX + 1];
    mfa_backup_rec rec;
    int64_t created;
    int64_t used; /* 0 while unused */
} mem_backup;

typedef struct mem_throttle {
    char account[MFA_ACCOUNT_MAX + 1];
    mfa_throttle_state st;
} mem_throttle;

typedef struct mem_oob {
    char account[MFA_ACCOUNT_MAX + 1];
    mfa_oob_challenge c;
} mem_oob;

/* A growable array of fixed-size elements. */
typedef struct vec {
    void *v;
    size_t n, cap, size;
} vec;

typedef struct mem_store {
    pthread_mutex_t mu;
    vec factors;  /* mfa_factor_rec */
    vec backups;  /* mem_backup */
    vec throttle; /* mem_throttle */
    vec oob;      /* mem_oob */
} mem_store;

static void *
vec_at(const vec *a, size_t i)
{
    return (char *)a->v + i * a->size;
}

static void *
vec_push(vec *a)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 8;
        void *v = realloc(a->v, cap * a->size);
        if (v == NULL)
            return NULL;
        a->v = v;
        a->cap = cap;
    }
    memset(vec_at(a, a->n), 0, a->size);
    return vec_at(a, a->n++);
}

/* Remove element i by moving the last one into its place. */
static void
vec_del(vec *a, size_t i)
{
    if (i + 1 < a->n)
        memcpy(vec_at(a, i), vec_at(a, a->n - 1), a->size);
    a->n--;
    sodium_memzero(vec_at(a, a->n), a->size);
}

static void
vec_free(vec *a)
{
    if (a->v != NULL) {
        sodium_memzero(a->v, a->cap * a->size);
        free(a->v);
    }
    a->v = NULL;
    a->n = a->cap = 0;
}

static mem_store *
lock(void *impl)
{
    mem_store *m = impl;
    pthread_mutex_lock(&m->mu);
    return m;
}

static void
unlock(mem_store *m)
{
    pthread_mutex_unlock(&m->mu);
}

static mfa_factor_rec *
find_factor(mem_store *m, const char *account, const char *id, size_t *at)
{
    size_t i;

    for (i = 0; i < m->factors.n; i++) {
        mfa_factor_rec *f = vec_at(&m->factors, i);
        if (strcmp(f->id, id) == 0) {
            if (strcmp(f->account, account) != 0)
                return NULL;
            if (at != NULL)
                *at = i;
            return f;
        }
    }
    return NULL;
}

static void
mem_close(void *impl)
{
    mem_store *m = impl;

    if (m == NULL)
        return;
    vec_free(&m->factors);
    vec_free(&m->backups);
    vec_free(&m->throttle);
    vec_free(&m->oob);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

static mfa_rc
mem_migrate(void *impl)
{
    (void)impl;
    return MFA_OK;
}

static mfa_rc
mem_schema_version(void *impl, int *version)
{
    (void)impl;
    *version = MFA_SCHEMA_VERSION;
    return MFA_OK;
}

static mfa_rc
mem_factor_create(void *impl, const mfa_factor_rec *f)
{
    mem_store *m = lock(impl);
    mfa_factor_rec *slot;
    size_t i;

    for (i = 0; i < m->factors.n; i++) {
        if (strcmp(((mfa_factor_rec *)vec_at(&m->factors, i))->id, f->id) ==
            0) {
            unlock(m);
            return MFA_ERR_EXISTS;
        }
    }
    slot = vec_push(&m->factors);
    if (slot == NULL) {
        unlock(m);
        return MFA_ERR_NOMEM;
    }
    *slot = *f;
    /* unused tail bytes are not part of the record */
    memset(slot->sealed + f->sealed_len, 0, MFA_SEALED_MAX - f->sealed_len);
    unlock(m);
    return MFA_OK;
}

static mfa_rc
mem_factor_get(void *impl, const char *account, const char *id,
               mfa_factor_rec *out)
{
    mem_store *m = lock(impl);
    mfa_factor_rec *f = find_factor(m, account, id, NULL);

    if (f != NULL)
        *out = *f;
    unlock(m);
    return f != NULL ? MFA_OK : MFA_ERR_NOT_FOUND;
}

static int
cmp_created_id(const void *a, const void *b)
{
    const mfa_factor_rec *x = a, *y = b;

    if (x->created != y->created)
        return x->created < y->created ? -1 : 1;
    return strcmp(x->id, y->id);
}

static int
cmp_account_created_id(const void *a, const void *b)
{
    const mfa_factor_rec *x = a, *y = b;
    int c = strcmp(x->account, y->account);

    return c != 0 ? c : cmp_created_id(a, b);
}

/* Copy the matching factors (account NULL: all) under the lock, then call
 * back without it. */
static mfa_rc
mem_visit(void *impl, const char *account, mfa_factor_cb cb, void *arg)
{
    mem_store *m = lock(impl);
    mfa_factor_rec *snap;
    size_t i, n = 0;
    mfa_rc rc = MFA_OK;

    snap = malloc((m->factors.n ? m->factors.n : 1) * sizeof(*snap));
    if (snap == NULL) {
        unlock(m);
        return MFA_ERR_NOMEM;
    }
    for (i = 0; i < m->factors.n; i++) {
        mfa_factor_rec *f = vec_at(&m->factors, i);
        if (account == NULL || strcmp(f->account, account) == 0)
            snap[n++] = *f;
    }
    unlock(m);
    qsort(snap, n, sizeof(*snap),
          account != NULL ? cmp_created_id : cmp_account_created_id);
    for (i = 0; i < n && rc == MFA_OK; i++)
        rc = cb(&snap[i], arg);
    sodium_memzero(snap, n * sizeof(*snap));
    free(snap);
    return rc;
}

static mfa_rc
mem_factor_list(void *impl, const char *account, mfa_factor_cb cb, void *arg)
{
    return mem_visit(impl, account, cb, arg);
}

static mfa_rc
mem_factor_each(void *impl, mfa_factor_cb cb, void *arg)
{
    return mem_visit(impl, NULL, cb, arg);
}

static mfa_rc
mem_factor_activate(void *impl, const char *account, const char *id,
                    int64_t step, int32_t drift, int64_t created_after,
                    int64_t now)
{
    mem_store *m = lock(impl);
    mfa_factor_rec *f = find_factor(m, account, id, NULL);
    mfa_rc rc = MFA_OK;

    if (f == NULL)
        rc = MFA_ERR_NOT_FOUND;
    else if (f->status != MFA_FACTOR_PENDING)
        rc = MFA_ERR_STATE;
    else if (f->created < created_after)
        rc = MFA_ERR_EXPIRED;
    else {
        f->status = MFA_FACTOR_ACTIVE;
        f->last_step = step;
        f->drift = drift;
        f->confirmed = now;
        f->last_used = now;
    }
    unlock(m);
    return rc;
}

static mfa_rc
mem_factor_rename(void *impl, const char *account, const char *id,
                  const char *label)
{
    mem_store *m = lock(impl);
    mfa_factor_rec *f = find_factor(m, account, id, NULL);

    if (f != NULL) {
        memset(f->label, 0, sizeof(f->label));
        memcpy(f->label, label, strlen(label));
    }
    unlock(m);
    return f != NULL ? MFA_OK : MFA_ERR_NOT_FOUND;
}

static mfa_rc
mem_factor_remove(void *impl, const char *account, const char *id)
{
    mem_store *m = lock(impl);
    size_t at;
    mfa_factor_rec *f = find_factor(m, account, id, &at);

    if (f != NULL)
        vec_del(&m->factors, at);
    unlock(m);
    return f != NULL ? MFA_OK : MFA_ERR_NOT_FOUND;
}

static mfa_rc
mem_factor_advance(void *impl, const char *account, const char *id,
                   int64_t step, int32_t drift, int64_t now)
{
    mem_store *m = lock(impl);
    mfa_factor_rec *f = find_factor(m, account, id, NULL);
    mfa_rc rc = MFA_OK;

    if (f == NULL)
        rc = MFA_ERR_NOT_FOUND;
    else if (f->status != MFA_FACTOR_ACTIVE)
        rc = MFA_ERR_STATE;
    else if (f->last_step >= step)
        rc = MFA_ERR_REPLAYED;
    else {
        f->last_step = step;
        f->drift = drift;
        f->last_used = now;
    }
    unlock(m);
    return rc;
}

static mfa_rc
mem_factor_reseal(void *impl, const char *account, const char *id,
                  const uint8_t *old, size_t oldlen, const uint8_t *sealed,
                  size_t len)
{
    mem_store *m = lock(impl);
    mfa_factor_rec *f = find_factor(m, account, id, NULL);
    mfa_rc rc = MFA_OK;

    if (f == NULL)
        rc = MFA_ERR_NOT_FOUND;
    else if (f->sealed_len != oldlen || memcmp(f->sealed, old, oldlen) != 0)
        rc = MFA_ERR_STATE;
    else {
        memset(f->sealed, 0, sizeof(f->sealed));
        memcpy(f->sealed, sealed, len);
        f->sealed_len = (uint32_t)len;
    }
    unlock(m);
    return rc;
}

static mfa_rc
mem_factor_expire(void *impl, int64_t before, size_t *n)
{
    mem_store *m = lock(impl);
    size_t i = 0;

    *n = 0;
    while (i < m->factors.n) {
        mfa_factor_rec *f = vec_at(&m->factors, i);
        if (f->status == MFA_FACTOR_PENDING && f->created < before) {
            vec_del(&m->factors, i);
            (*n)++;
        } else {
            i++;
        }
    }
    unlock(m);
    return MFA_OK;
}

static mem_throttle *
find_throttle(mem_store *m, const char *account, size_t *at)
{
    size_t i;

    for (i = 0; i < m->throttle.n; i++) {
        mem_throttle *t = vec_at(&m->throttle, i);
        if (strcmp(t->account, account) == 0) {
            if (at != NULL)
                *at = i;
            return t;
        }
    }
    return NULL;
}

static mfa_rc
mem_throttle_hit(void *impl, const char *account, int64_t now,
                 const mfa_throttle_policy *p, mfa_throttle_state *out)
{
    mem_store *m = lock(impl);
    mem_throttle *t = find_throttle(m, account, NULL);
    mfa_rc rc = MFA_OK;

    if (t == NULL) {
        t = vec_push(&m->throttle);
        if (t == NULL) {
            unlock(m);
            return MFA_ERR_NOMEM;
        }
        memcpy(t->account, account, strlen(account) + 1);
    }
    if (t->st.failures < UINT32_MAX)
        t->st.failures++;
    if (now < t->st.locked_until)
        rc = MFA_ERR_THROTTLED;
    else
        t->st.locked_until = now + mfa_throttle_delay(p, t->st.failures);
    *out = t->st;
    unlock(m);
    return rc;
}

static mfa_rc
mem_throttle_reset(void *impl, const char *account)
{
    mem_store *m = lock(impl);
    size_t at;

    if (find_throttle(m, account, &at) != NULL)
        vec_del(&m->throttle, at);
    unlock(m);
    return MFA_OK;
}

static mfa_rc
mem_throttle_get(void *impl, const char *account, mfa_throttle_state *out)
{
    mem_store *m = lock(impl);
    mem_throttle *t = find_throttle(m, account, NULL);

    if (t != NULL)
        *out = t->st;
    else
        memset(out, 0, sizeof(*out));
    unlock(m);
    return MFA_OK;
}

static void
drop_backups(mem_store *m, const char *account)
{
    size_t i = 0;

    while (i < m->backups.n) {
        mem_backup *b = vec_at(&m->backups, i);
        if (strcmp(b->account, account) == 0)
            vec_del(&m->backups, i);
        else
            i++;
    }
}

static mfa_rc
mem_backup_replace(void *impl, const char *account, const mfa_backup_rec *codes,
                   size_t n, int64_t now)
{
    mem_store *m = lock(impl);
    size_t i, others = 0;

    /* reserve first so that a failed allocation leaves the old set whole */
    for (i = 0; i < m->backups.n; i++)
        if (strcmp(((mem_backup *)vec_at(&m->backups, i))->account, account) !=
            0)
            others++;
    if (others + n > m->backups.cap) {
        size_t cap = others + n + 8;
        void *v = realloc(m->backups.v, cap * m->backups.size);
        if (v == NULL) {
            unlock(m);
            return MFA_ERR_NOMEM;
        }
        m->backups.v = v;
        m->backups.cap = cap;
    }
    drop_backups(m, account);
    for (i = 0; i < n; i++) {
        mem_backup *b = vec_push(&m->backups); /* cannot fail: reserved */
        memcpy(b->account, account, strlen(account) + 1);
        b->rec = codes[i];
        b->created = now;
        b->used = 0;
    }
    unlock(m);
    return MFA_OK;
}

static mfa_rc
mem_backup_list(void *impl, const char *account, mfa_backup_rec *out,
                size_t max, size_t *n)
{
    mem_store *m = lock(impl);
    size_t i;

    *n = 0;
    for (i = 0; i < m->backups.n && *n < max; i++) {
        mem_backup *b = vec_at(&m->backups, i);
        if (b->used == 0 && strcmp(b->account, account) == 0)
            out[(*n)++] = b->rec;
    }
    unlock(m);
    return MFA_OK;
}

static mfa_rc
mem_backup_spend(void *impl, const char *account,
                 const uint8_t hash[MFA_BACKUP_HASHBYTES], int64_t now)
{
    mem_store *m = lock(impl);
    mfa_rc rc = MFA_ERR_NOT_FOUND;
    size_t i;

    for (i = 0; i < m->backups.n; i++) {
        mem_backup *b = vec_at(&m->backups, i);
        /* the hash is keyed: comparing it leaks nothing about the code */
        if (b->used == 0 && strcmp(b->account, account) == 0 &&
            memcmp(b->rec.hash, hash, MFA_BACKUP_HASHBYTES) == 0) {
            /* "used" must be non-zero even for a clock at 0 */
            b->used = now > 0 ? now : 1;
            rc = MFA_OK;
            break;
        }
    }
    unlock(m);
    return rc;
}

static mem_oob *
find_oob(mem_store *m, const char *account, const char *purpose, size_t *at)
{
    size_t i;

    for (i = 0; i < m->oob.n; i++) {
        mem_oob *o = vec_at(&m->oob, i);
        if (strcmp(o->account, account) == 0 &&
            strcmp(o->c.purpose, purpose) == 0) {
            if (at != NULL)
                *at = i;
            return o;
        }
    }
    return NULL;
}

static mfa_rc
mem_oob_put(void *impl, const char *account, const mfa_oob_challenge *c)
{
    mem_store *m = lock(impl);
    mem_oob *o = find_oob(m, account, c->purpose, NULL);

    if (o == NULL) {
        o = vec_push(&m->oob);
        if (o == NULL) {
            unlock(m);
            return MFA_ERR_NOMEM;
        }
        memcpy(o->account, account, strlen(account) + 1);
    }
    o->c = *c;
    unlock(m);
    return MFA_OK;
}

static mfa_rc
mem_oob_take(void *impl, const char *account, const char *purpose, int64_t now,
             mfa_oob_challenge *out)
{
    mem_store *m = lock(impl);
    mem_oob *o = find_oob(m, account, purpose, NULL);
    mfa_rc rc = MFA_OK;

    if (o == NULL)
        rc = MFA_ERR_NOT_FOUND;
    else if (now >= o->c.expires)
        rc = MFA_ERR_EXPIRED;
    else if (o->c.attempts_left <= 0)
        rc = MFA_ERR_ATTEMPTS;
    else {
        *out = o->c;
        o->c.attempts_left--;
    }
    unlock(m);
    return rc;
}

static mfa_rc
mem_oob_spend(void *impl, const char *account, const char *purpose,
              const uint8_t hash[MFA_BACKUP_HASHBYTES])
{
    mem_store *m = lock(impl);
    size_t at;
    mem_oob *o = find_oob(m, account, purpose, &at);
    mfa_rc rc = MFA_ERR_NOT_FOUND;

    if (o != NULL && memcmp(o->c.hash, hash, MFA_BACKUP_HASHBYTES) == 0) {
        vec_del(&m->oob, at);
        rc = MFA_OK;
    }
    unlock(m);
    return rc;
}

static mfa_rc
mem_account_reset(void *impl, const char *account)
{
    mem_store *m = lock(impl);
    size_t i = 0;

    while (i < m->factors.n) {
        if (strcmp(((mfa_factor_rec *)vec_at(&m->factors, i))->account,
                   account) == 0)
            vec_del(&m->factors, i);
        else
            i++;
    }
    drop_backups(m, account);
    if (find_throttle(m, account, &i) != NULL)
        vec_del(&m->throttle, i);
    i = 0;
    while (i < m->oob.n) {
        if (strcmp(((mem_oob *)vec_at(&m->oob, i))->account, account) == 0)
            vec_del(&m->oob, i);
        else
            i++;
    }
    unlock(m);
    return MFA_OK;
}

const mfa_store_ops mfa_int_memory_ops = {
    .abi = MFA_STORE_ABI,
    .name = "memory",
    .close = mem_close,
    .migrate = mem_migrate,
    .schema_version = mem_schema_version,
    .factor_create = mem_factor_create,
    .factor_get = mem_factor_get,
    .factor_list = mem_factor_list,
    .factor_each = mem_factor_each,
    .factor_activate = mem_factor_activate,
    .factor_rename = mem_factor_rename,
    .factor_remove = mem_factor_remove,
    .factor_advance = mem_factor_advance,
    .factor_reseal = mem_factor_reseal,
    .factor_expire = mem_factor_expire,
    .throttle_hit = mem_throttle_hit,
    .throttle_reset = mem_throttle_reset,
    .throttle_get = mem_throttle_get,
    .backup_replace = mem_backup_replace,
    .backup_list = mem_backup_list,
    .backup_spend = mem_backup_spend,
    .oob_put = mem_oob_put,
    .oob_take = mem_oob_take,
    .oob_spend = mem_oob_spend,
    .account_reset = mem_account_reset,
};

mfa_rc
mfa_store_memory_new(mfa_store_t **out)
{
    mem_store *m;
    mfa_rc rc;

    if (out == NULL)
        return MFA_ERR_INVALID;
    *out = NULL;
    m = calloc(1, sizeof(*m));
    if (m == NULL)
        return MFA_ERR_NOMEM;
    if (pthread_mutex_init(&m->mu, NULL) != 0) {
        free(m);
        return MFA_ERR_INTERNAL;
    }
    m->factors.size = sizeof(mfa_factor_rec);
    m->backups.size = sizeof(mem_backup);
    m->throttle.size = sizeof(mem_throttle);
    m->oob.size = sizeof(mem_oob);
    rc = mfa_store_new(out, &mfa_int_memory_ops, m);
    if (rc != MFA_OK)
        mem_close(m);
    return rc;
}
