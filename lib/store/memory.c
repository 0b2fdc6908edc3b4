/*
 * The memory store: per-account records in a hash table behind one mutex.
 * Every operation holds the mutex from its first read to its last write,
 * which makes each one atomic against the other threads of the process.
 * Callbacks of factor_list/factor_each run on a snapshot, outside the
 * mutex, so they may call the store (key rotation reseals from inside
 * factor_each).
 *
 * Lookups cost one hash of the account (SipHash under a per-store random
 * key, so chosen account names cannot pile up in one chain) and a scan of
 * that account's few records; factor ids, unique across accounts, have an
 * index of their own.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <mfa/store.h>

#include "store_int.h"

/* A growable array of fixed-size elements. */
typedef struct vec {
    void *v;
    size_t n, cap, size;
} vec;

typedef struct mem_backup {
    mfa_backup_rec rec;
    int64_t created;
    int used; /* a flag, not a time: 0 is a valid time */
    int64_t used_at;
} mem_backup;

typedef struct mem_acct {
    struct mem_acct *next; /* hash chain */
    uint64_t hash;
    char account[MFA_ACCOUNT_MAX + 1];
    vec factors; /* mfa_factor_rec */
    vec backups; /* mem_backup */
    vec oob;     /* mfa_oob_challenge */
    int has_throttle;
    mfa_throttle_state throttle;
} mem_acct;

typedef struct mem_id {
    struct mem_id *next;
    uint64_t hash;
    char id[MFA_FACTOR_ID_LEN + 1];
} mem_id;

/* A chained hash table of nodes that start with `next` and `hash`. */
typedef struct table {
    void **b;
    size_t nb, n;
} table;

typedef struct node {
    struct node *next;
    uint64_t hash;
} node;

typedef struct mem_store {
    pthread_mutex_t mu;
    unsigned char key[crypto_shorthash_KEYBYTES];
    table accts; /* mem_acct */
    table ids;   /* mem_id */
} mem_store;

/* ---- containers ------------------------------------------------------------
 */

static void *
vec_at(const vec *a, size_t i)
{
    return (char *)a->v + i * a->size;
}

static int
vec_reserve(vec *a, size_t n)
{
    if (n > a->cap) {
        size_t cap = a->cap ? a->cap : 4;
        void *v;
        while (cap < n)
            cap *= 2;
        v = realloc(a->v, cap * a->size);
        if (v == NULL)
            return 0;
        a->v = v;
        a->cap = cap;
    }
    return 1;
}

static void *
vec_push(vec *a)
{
    if (!vec_reserve(a, a->n + 1))
        return NULL;
    memset(vec_at(a, a->n), 0, a->size);
    return vec_at(a, a->n++);
}

/* Remove element i keeping the order (creation order is listing order). */
static void
vec_del(vec *a, size_t i)
{
    memmove(vec_at(a, i), vec_at(a, i + 1), (a->n - i - 1) * a->size);
    a->n--;
    sodium_memzero(vec_at(a, a->n), a->size);
}

static void
vec_clear(vec *a)
{
    if (a->v != NULL)
        sodium_memzero(a->v, a->n * a->size);
    a->n = 0;
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

static uint64_t
hash_str(const mem_store *m, const char *s)
{
    unsigned char h[crypto_shorthash_BYTES];
    uint64_t v = 0;
    size_t i;

    crypto_shorthash(h, (const unsigned char *)s, strlen(s), m->key);
    for (i = 0; i < sizeof(h); i++)
        v = (v << 8) | h[i];
    return v;
}

static void **
table_slot(const table *t, uint64_t hash)
{
    return &t->b[hash & (t->nb - 1)];
}

/* Insert a node; grows the table so that chains stay short. */
static int
table_add(table *t, node *x)
{
    if (t->n + 1 > t->nb) {
        size_t nb = t->nb ? 2 * t->nb : 64, i;
        void **b = calloc(nb, sizeof(*b));
        if (b == NULL) {
            if (t->nb == 0)
                return 0;
            /* keep going with longer chains rather than fail */
        } else {
            for (i = 0; i < t->nb; i++) {
                node *c = t->b[i], *next;
                for (; c != NULL; c = next) {
                    next = c->next;
                    c->next = b[c->hash & (nb - 1)];
                    b[c->hash & (nb - 1)] = c;
                }
            }
            free(t->b);
            t->b = b;
            t->nb = nb;
        }
    }
    x->next = *table_slot(t, x->hash);
    *table_slot(t, x->hash) = x;
    t->n++;
    return 1;
}

static void
table_unlink(table *t, node *x)
{
    node **p = (node **)table_slot(t, x->hash);

    while (*p != x)
        p = &(*p)->next;
    *p = x->next;
    t->n--;
}

/* ---- accounts and ids ------------------------------------------------------
 */

static mem_acct *
acct_find(mem_store *m, const char *account)
{
    uint64_t h;
    mem_acct *a;

    if (m->accts.nb == 0)
        return NULL;
    h = hash_str(m, account);
    for (a = *table_slot(&m->accts, h); a != NULL; a = a->next)
        if (a->hash == h && strcmp(a->account, account) == 0)
            return a;
    return NULL;
}

static mem_acct *
acct_get(mem_store *m, const char *account)
{
    mem_acct *a = acct_find(m, account);

    if (a != NULL)
        return a;
    a = calloc(1, sizeof(*a));
    if (a == NULL)
        return NULL;
    a->hash = hash_str(m, account);
    memcpy(a->account, account, strlen(account) + 1);
    a->factors.size = sizeof(mfa_factor_rec);
    a->backups.size = sizeof(mem_backup);
    a->oob.size = sizeof(mfa_oob_challenge);
    if (!table_add(&m->accts, (node *)a)) {
        free(a);
        return NULL;
    }
    return a;
}

static void
acct_free(mem_acct *a)
{
    vec_free(&a->factors);
    vec_free(&a->backups);
    vec_free(&a->oob);
    sodium_memzero(a, sizeof(*a));
    free(a);
}

/* An account with nothing left takes no memory. */
static void
acct_trim(mem_store *m, mem_acct *a)
{
    if (a != NULL && a->factors.n == 0 && a->backups.n == 0 && a->oob.n == 0 &&
        !a->has_throttle) {
        table_unlink(&m->accts, (node *)a);
        acct_free(a);
    }
}

static mem_id *
id_find(mem_store *m, const char *id)
{
    uint64_t h;
    mem_id *x;

    if (m->ids.nb == 0)
        return NULL;
    h = hash_str(m, id);
    for (x = *table_slot(&m->ids, h); x != NULL; x = x->next)
        if (x->hash == h && strcmp(x->id, id) == 0)
            return x;
    return NULL;
}

static void
id_drop(mem_store *m, const char *id)
{
    mem_id *x = id_find(m, id);

    if (x != NULL) {
        table_unlink(&m->ids, (node *)x);
        free(x);
    }
}

static mfa_factor_rec *
find_factor(mem_store *m, const char *account, const char *id, mem_acct **ap,
            size_t *at)
{
    mem_acct *a = acct_find(m, account);
    size_t i;

    if (a == NULL)
        return NULL;
    for (i = 0; i < a->factors.n; i++) {
        mfa_factor_rec *f = vec_at(&a->factors, i);
        if (strcmp(f->id, id) == 0) {
            if (ap != NULL)
                *ap = a;
            if (at != NULL)
                *at = i;
            return f;
        }
    }
    return NULL;
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

/* ---- operations
 * -------------------------------------------------------------- */

static void
mem_close(void *impl)
{
    mem_store *m = impl;
    size_t i;

    if (m == NULL)
        return;
    for (i = 0; i < m->accts.nb; i++) {
        mem_acct *a = m->accts.b[i], *next;
        for (; a != NULL; a = next) {
            next = a->next;
            acct_free(a);
        }
    }
    for (i = 0; i < m->ids.nb; i++) {
        mem_id *x = m->ids.b[i], *next;
        for (; x != NULL; x = next) {
            next = x->next;
            free(x);
        }
    }
    free(m->accts.b);
    free(m->ids.b);
    pthread_mutex_destroy(&m->mu);
    sodium_memzero(m, sizeof(*m));
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
    mem_acct *a;
    mem_id *x;
    mfa_factor_rec *slot;

    if (id_find(m, f->id) != NULL) {
        unlock(m);
        return MFA_ERR_EXISTS;
    }
    x = calloc(1, sizeof(*x));
    a = x != NULL ? acct_get(m, f->account) : NULL;
    slot = a != NULL ? vec_push(&a->factors) : NULL;
    if (slot == NULL) {
        free(x);
        acct_trim(m, a);
        unlock(m);
        return MFA_ERR_NOMEM;
    }
    x->hash = hash_str(m, f->id);
    memcpy(x->id, f->id, sizeof(x->id));
    if (!table_add(&m->ids, (node *)x)) {
        free(x);
        a->factors.n--;
        acct_trim(m, a);
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
    mfa_factor_rec *f = find_factor(m, account, id, NULL, NULL);

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

/* Call back on a copy, without the lock. */
static mfa_rc
visit(mfa_factor_rec *snap, size_t n, int (*cmp)(const void *, const void *),
      mfa_factor_cb cb, void *arg)
{
    mfa_rc rc = MFA_OK;
    size_t i;

    if (n > 1)
        qsort(snap, n, sizeof(*snap), cmp);
    for (i = 0; i < n && rc == MFA_OK; i++)
        rc = cb(&snap[i], arg);
    if (snap != NULL) {
        sodium_memzero(snap, n * sizeof(*snap));
        free(snap);
    }
    return rc;
}

static mfa_rc
mem_factor_list(void *impl, const char *account, mfa_factor_cb cb, void *arg)
{
    mem_store *m = lock(impl);
    mem_acct *a = acct_find(m, account);
    mfa_factor_rec *snap = NULL;
    size_t n = a != NULL ? a->factors.n : 0;

    if (n > 0) {
        snap = malloc(n * sizeof(*snap));
        if (snap == NULL) {
            unlock(m);
            return MFA_ERR_NOMEM;
        }
        memcpy(snap, a->factors.v, n * sizeof(*snap));
    }
    unlock(m);
    return visit(snap, n, cmp_created_id, cb, arg);
}

static mfa_rc
mem_factor_each(void *impl, mfa_factor_cb cb, void *arg)
{
    mem_store *m = lock(impl);
    mfa_factor_rec *snap = NULL;
    size_t i, total = 0, n = 0;

    for (i = 0; i < m->accts.nb; i++) {
        mem_acct *a;
        for (a = m->accts.b[i]; a != NULL; a = a->next)
            total += a->factors.n;
    }
    if (total > 0) {
        snap = malloc(total * sizeof(*snap));
        if (snap == NULL) {
            unlock(m);
            return MFA_ERR_NOMEM;
        }
        for (i = 0; i < m->accts.nb; i++) {
            mem_acct *a;
            for (a = m->accts.b[i]; a != NULL; a = a->next) {
                if (a->factors.n == 0)
                    continue;
                memcpy(snap + n, a->factors.v, a->factors.n * sizeof(*snap));
                n += a->factors.n;
            }
        }
    }
    unlock(m);
    return visit(snap, n, cmp_account_created_id, cb, arg);
}

static mfa_rc
mem_factor_activate(void *impl, const char *account, const char *id,
                    int64_t step, int32_t drift, int64_t created_after,
                    int64_t now)
{
    mem_store *m = lock(impl);
    mfa_factor_rec *f = find_factor(m, account, id, NULL, NULL);
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
    mfa_factor_rec *f = find_factor(m, account, id, NULL, NULL);

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
    mem_acct *a = NULL;
    size_t at = 0;
    mfa_factor_rec *f = find_factor(m, account, id, &a, &at);

    if (f != NULL) {
        id_drop(m, id);
        vec_del(&a->factors, at);
        acct_trim(m, a);
    }
    unlock(m);
    return f != NULL ? MFA_OK : MFA_ERR_NOT_FOUND;
}

static mfa_rc
mem_factor_advance(void *impl, const char *account, const char *id,
                   int64_t step, int32_t drift, int64_t now)
{
    mem_store *m = lock(impl);
    mfa_factor_rec *f = find_factor(m, account, id, NULL, NULL);
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
    mfa_factor_rec *f = find_factor(m, account, id, NULL, NULL);
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
    size_t i;

    *n = 0;
    for (i = 0; i < m->accts.nb; i++) {
        mem_acct *a = m->accts.b[i], *next;
        for (; a != NULL; a = next) {
            size_t j = 0;
            next = a->next;
            while (j < a->factors.n) {
                mfa_factor_rec *f = vec_at(&a->factors, j);
                if (f->status == MFA_FACTOR_PENDING && f->created < before) {
                    id_drop(m, f->id);
                    vec_del(&a->factors, j);
                    (*n)++;
                } else {
                    j++;
                }
            }
            acct_trim(m, a);
        }
    }
    unlock(m);
    return MFA_OK;
}

static mfa_rc
mem_throttle_hit(void *impl, const char *account, int64_t now,
                 const mfa_throttle_policy *p, mfa_throttle_state *out)
{
    mem_store *m = lock(impl);
    mem_acct *a = acct_get(m, account);
    mfa_throttle_state *t;
    mfa_rc rc = MFA_OK;

    if (a == NULL) {
        unlock(m);
        return MFA_ERR_NOMEM;
    }
    t = &a->throttle;
    a->has_throttle = 1;
    if (t->failures < UINT32_MAX)
        t->failures++;
    if (now < t->locked_until)
        rc = MFA_ERR_THROTTLED;
    else
        t->locked_until = now + mfa_throttle_delay(p, t->failures);
    *out = *t;
    unlock(m);
    return rc;
}

static mfa_rc
mem_throttle_reset(void *impl, const char *account)
{
    mem_store *m = lock(impl);
    mem_acct *a = acct_find(m, account);

    if (a != NULL) {
        a->has_throttle = 0;
        memset(&a->throttle, 0, sizeof(a->throttle));
        acct_trim(m, a);
    }
    unlock(m);
    return MFA_OK;
}

static mfa_rc
mem_throttle_get(void *impl, const char *account, mfa_throttle_state *out)
{
    mem_store *m = lock(impl);
    mem_acct *a = acct_find(m, account);

    if (a != NULL)
        *out = a->throttle;
    else
        memset(out, 0, sizeof(*out));
    unlock(m);
    return MFA_OK;
}

static mfa_rc
mem_backup_replace(void *impl, const char *account, const mfa_backup_rec *codes,
                   size_t n, int64_t now)
{
    mem_store *m = lock(impl);
    mem_acct *a = n > 0 ? acct_get(m, account) : acct_find(m, account);
    size_t i;

    /* room first, so that a failed allocation leaves the old set whole */
    if ((a == NULL && n > 0) || (a != NULL && !vec_reserve(&a->backups, n))) {
        acct_trim(m, a);
        unlock(m);
        return MFA_ERR_NOMEM;
    }
    if (a != NULL) {
        vec_clear(&a->backups);
        for (i = 0; i < n; i++) {
            mem_backup *b = vec_push(&a->backups); /* reserved: no failure */
            b->rec = codes[i];
            b->created = now;
        }
        acct_trim(m, a);
    }
    unlock(m);
    return MFA_OK;
}

static mfa_rc
mem_backup_list(void *impl, const char *account, mfa_backup_rec *out,
                size_t max, size_t *n)
{
    mem_store *m = lock(impl);
    mem_acct *a = acct_find(m, account);
    size_t i;

    *n = 0;
    for (i = 0; a != NULL && i < a->backups.n && *n < max; i++) {
        mem_backup *b = vec_at(&a->backups, i);
        if (!b->used)
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
    mem_acct *a = acct_find(m, account);
    mfa_rc rc = MFA_ERR_NOT_FOUND;
    size_t i;

    for (i = 0; a != NULL && i < a->backups.n; i++) {
        mem_backup *b = vec_at(&a->backups, i);
        /* the hash is keyed: comparing it leaks nothing about the code */
        if (!b->used && memcmp(b->rec.hash, hash, MFA_BACKUP_HASHBYTES) == 0) {
            b->used = 1;
            b->used_at = now;
            rc = MFA_OK;
            break;
        }
    }
    unlock(m);
    return rc;
}

static mfa_oob_challenge *
find_oob(mem_acct *a, const char *purpose, size_t *at)
{
    size_t i;

    for (i = 0; a != NULL && i < a->oob.n; i++) {
        mfa_oob_challenge *c = vec_at(&a->oob, i);
        if (strcmp(c->purpose, purpose) == 0) {
            if (at != NULL)
                *at = i;
            return c;
        }
    }
    return NULL;
}

static mfa_rc
mem_oob_put(void *impl, const char *account, const mfa_oob_challenge *c)
{
    mem_store *m = lock(impl);
    mem_acct *a = acct_get(m, account);
    mfa_oob_challenge *o = find_oob(a, c->purpose, NULL);

    if (o == NULL && a != NULL)
        o = vec_push(&a->oob);
    if (o == NULL) {
        acct_trim(m, a);
        unlock(m);
        return MFA_ERR_NOMEM;
    }
    *o = *c;
    unlock(m);
    return MFA_OK;
}

static mfa_rc
mem_oob_take(void *impl, const char *account, const char *purpose, int64_t now,
             mfa_oob_challenge *out)
{
    mem_store *m = lock(impl);
    mfa_oob_challenge *o = find_oob(acct_find(m, account), purpose, NULL);
    mfa_rc rc = MFA_OK;

    if (o == NULL)
        rc = MFA_ERR_NOT_FOUND;
    else if (now >= o->expires)
        rc = MFA_ERR_EXPIRED;
    else if (o->attempts_left <= 0)
        rc = MFA_ERR_ATTEMPTS;
    else {
        *out = *o;
        o->attempts_left--;
    }
    unlock(m);
    return rc;
}

static mfa_rc
mem_oob_spend(void *impl, const char *account, const char *purpose,
              const uint8_t hash[MFA_BACKUP_HASHBYTES])
{
    mem_store *m = lock(impl);
    mem_acct *a = acct_find(m, account);
    size_t at = 0;
    mfa_oob_challenge *o = find_oob(a, purpose, &at);
    mfa_rc rc = MFA_ERR_NOT_FOUND;

    if (o != NULL && memcmp(o->hash, hash, MFA_BACKUP_HASHBYTES) == 0) {
        vec_del(&a->oob, at);
        acct_trim(m, a);
        rc = MFA_OK;
    }
    unlock(m);
    return rc;
}

static mfa_rc
mem_account_reset(void *impl, const char *account)
{
    mem_store *m = lock(impl);
    mem_acct *a = acct_find(m, account);
    size_t i;

    if (a != NULL) {
        for (i = 0; i < a->factors.n; i++)
            id_drop(m, ((mfa_factor_rec *)vec_at(&a->factors, i))->id);
        table_unlink(&m->accts, (node *)a);
        acct_free(a);
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
    if (sodium_init() < 0)
        return MFA_ERR_INTERNAL;
    m = calloc(1, sizeof(*m));
    if (m == NULL)
        return MFA_ERR_NOMEM;
    if (pthread_mutex_init(&m->mu, NULL) != 0) {
        free(m);
        return MFA_ERR_INTERNAL;
    }
    crypto_shorthash_keygen(m->key);
    rc = mfa_store_new(out, &mfa_int_memory_ops, m);
    if (rc != MFA_OK)
        mem_close(m);
    return rc;
}
