/*
 * The memory store: per-account rows in hash tables split into lock
 * stripes.  An account's stripe is chosen by a keyed hash of its name; a
 * transaction on the account holds that stripe's mutex from begin to
 * commit or rollback, so two transactions on one account serialise and
 * transactions on accounts of different stripes run in parallel.  A
 * store-wide transaction takes every stripe, in index order (the only
 * order in which more than one is ever held, so no deadlock).
 *
 * Every write first records how to undo itself (the row's old value and
 * position) in the transaction's undo log; rollback replays the log
 * backwards, commit drops it.  The log and the factor-list snapshot are
 * buffers of the stripe's transaction object, grown when needed and kept,
 * so a flow on an existing account allocates nothing.  Undoing never
 * allocates either: a vector never shrinks inside a transaction, so the
 * room an undone delete needs is still there.
 *
 * Factor ids (of factors and passkeys alike), credential ids and user
 * handles are unique across accounts: one key index behind its own mutex
 * (always taken after stripe mutexes).  An inserted key is reserved at
 * once (a rollback frees it); a deleted one stays reserved until commit,
 * so a rollback that brings the row back never collides.  The index also
 * maps a user handle to its account, for the store-wide handle_find:
 * while a store-wide transaction holds every stripe no other transaction
 * is open, so the index then holds exactly the committed handles.
 *
 * Passkey rows are large (a credential id of up to 1023 bytes): their old
 * values go to a log of their own, so that the undo entries every flow
 * writes stay small.  Spent challenge nonces are rows of their account,
 * found by a linear pass (the flows expire them as they go).
 *
 * Lookups hash with SipHash under a per-store random key, so chosen
 * account names cannot pile up in one stripe or chain.  Only sealed
 * secrets are ever stored; every buffer is wiped before it is freed or
 * reused.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "store_int.h"

/* Enough stripes that two busy accounts rarely share one. */
#define MEM_STRIPES 64
#define MEM_STRIPE_BITS 6
/* How long begin waits for an account's lock before MFA_ERR_BUSY. */
#define MEM_TIMEOUT_MS 5000

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

/* The account's user handle: a table of at most one row. */
typedef struct mem_handle {
    uint8_t h[MFA_WEBAUTHN_USER_HANDLE_MAX];
    size_t len;
    int64_t created;
} mem_handle;

typedef struct mem_spent {
    uint8_t nonce[MFA_WEBAUTHN_NONCE_BYTES];
    int64_t expires;
} mem_spent;

enum {
    T_FACTOR,
    T_BACKUP,
    T_OOB,
    T_THROTTLE,
    T_DEVICE,
    T_WEBAUTHN,
    T_HANDLE,
    T_SPENT,
    T_COUNT
};

typedef struct mem_acct {
    struct mem_acct *next; /* hash chain */
    uint64_t hash;
    char account[MFA_ACCOUNT_MAX + 1];
    /* factors in insertion order, backups oldest first, challenges,
     * throttle buckets: indexed by T_* */
    vec rows[T_COUNT];
} mem_acct;

/* Kinds of keys in the index. */
enum { K_ID, K_CRED, K_HANDLE };

typedef struct mem_key {
    struct mem_key *next;
    uint64_t hash;
    /* the transaction that deleted the row, until it commits */
    const struct mfa_store_txn *dead;
    const char *owner; /* K_HANDLE: the account (in this block) */
    size_t len, size;  /* of the key; of the block */
    unsigned char kind;
    uint8_t key[];
} mem_key;

/* A chained hash table of nodes that start with `next` and `hash`. */
typedef struct table {
    void **b;
    size_t nb, n;
} table;

typedef struct node {
    struct node *next;
    uint64_t hash;
} node;

enum { OP_INS, OP_UPD, OP_DEL };

typedef struct undo {
    unsigned char table, op;
    /* keys the write took (revived: a key it had deleted earlier) and
     * keys it deleted */
    unsigned char revived[2];
    mem_key *took[2], *killed[2];
    size_t pos;
    mem_acct *a;
    union {
        mfa_factor_rec f;
        mem_backup b;
        mfa_oob_challenge o;
        mfa_throttle_rec t;
        mfa_device_rec d;
        mem_handle h;
        mem_spent s;
        size_t w; /* T_WEBAUTHN: the old row's index in the txn's wold */
    } old;
} undo;

struct mem_store;

struct mfa_store_txn {
    struct mem_store *m;
    struct stripe *st; /* NULL: store-wide */
    mfa_txn_mode mode;
    int listing;   /* inside a factor_list callback */
    int wlisting;  /* inside a webauthn_list callback */
    size_t id_ops; /* undo entries that touch the key index */
    uint64_t hash;
    char account[MFA_ACCOUNT_MAX + 1];
    mem_acct *a; /* the account's node; NULL until it has one */
    vec undo;    /* undo entries */
    vec wold;    /* old values of passkey rows, for undo */
    vec snap;    /* factor_list's copy */
    vec wsnap;   /* webauthn_list's copy */
};

/* A cache line each, so stripes busy on two cores do not share one. */
typedef struct stripe {
    alignas(64) pthread_mutex_t mu;
    table accts; /* mem_acct */
    struct mfa_store_txn txn;
} stripe;

typedef struct mem_store {
    stripe st[MEM_STRIPES];
    struct mfa_store_txn wide;
    pthread_mutex_t id_mu;
    table ids; /* mem_key */
    unsigned char key[crypto_shorthash_KEYBYTES];
} mem_store;

/* Marks a key node that commit has unlinked (see txn_finish_ids). */
static const struct mfa_store_txn freed_marker;

/* ---- containers --------------------------------------------------------- */

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
        /* not realloc: the old block may hold sealed secrets to wipe */
        v = malloc(cap * a->size);
        if (v == NULL)
            return 0;
        if (a->v != NULL) {
            memcpy(v, a->v, a->n * a->size);
            sodium_memzero(a->v, a->cap * a->size);
            free(a->v);
        }
        a->v = v;
        a->cap = cap;
    }
    return 1;
}

/* Insert *x at i; the room must be reserved. */
static void
vec_insert(vec *a, size_t i, const void *x)
{
    memmove(vec_at(a, i + 1), vec_at(a, i), (a->n - i) * a->size);
    memcpy(vec_at(a, i), x, a->size);
    a->n++;
}

/* Remove element i keeping the order (insertion order is listing order). */
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
    if (a->v != NULL && a->n > 0)
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

static uint64_t
hash_bytes(const mem_store *m, unsigned char kind, const uint8_t *p, size_t len)
{
    unsigned char h[crypto_shorthash_BYTES];
    uint64_t v = 0;
    size_t i;

    crypto_shorthash(h, p, len, m->key);
    for (i = 0; i < sizeof(h); i++)
        v = (v << 8) | h[i];
    return v ^ kind;
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
        size_t nb = t->nb ? 2 * t->nb : 16, i;
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

/* ---- accounts and ids ---------------------------------------------------- */

static stripe *
stripe_of(mem_store *m, uint64_t hash)
{
    return &m->st[hash >> (64 - MEM_STRIPE_BITS)];
}

static mem_acct *
acct_find(const table *t, uint64_t h, const char *account)
{
    mem_acct *a;

    if (t->nb == 0)
        return NULL;
    for (a = *table_slot(t, h); a != NULL; a = a->next)
        if (a->hash == h && strcmp(a->account, account) == 0)
            return a;
    return NULL;
}

static void
acct_free(mem_acct *a)
{
    int i;

    for (i = 0; i < T_COUNT; i++)
        vec_free(&a->rows[i]);
    sodium_memzero(a, sizeof(*a));
    free(a);
}

static int
acct_empty(const mem_acct *a)
{
    int i;

    for (i = 0; i < T_COUNT; i++)
        if (a->rows[i].n > 0)
            return 0;
    return 1;
}

/* The transaction's account node, made when its first row is written. */
static mem_acct *
acct_need(mfa_store_txn *t)
{
    mem_acct *a;

    if (t->a != NULL)
        return t->a;
    a = calloc(1, sizeof(*a));
    if (a == NULL)
        return NULL;
    a->hash = t->hash;
    memcpy(a->account, t->account, strlen(t->account) + 1);
    a->rows[T_FACTOR].size = sizeof(mfa_factor_rec);
    a->rows[T_BACKUP].size = sizeof(mem_backup);
    a->rows[T_OOB].size = sizeof(mfa_oob_challenge);
    a->rows[T_THROTTLE].size = sizeof(mfa_throttle_rec);
    a->rows[T_DEVICE].size = sizeof(mfa_device_rec);
    a->rows[T_WEBAUTHN].size = sizeof(mfa_webauthn_rec);
    a->rows[T_HANDLE].size = sizeof(mem_handle);
    a->rows[T_SPENT].size = sizeof(mem_spent);
    if (!table_add(&t->st->accts, (node *)a)) {
        free(a);
        return NULL;
    }
    t->a = a;
    return a;
}

/* The key node (kind, p[len]); the index mutex is held.  Keys of equal
 * length are compared in constant time (credential ids, handles). */
static mem_key *
key_find(const mem_store *m, unsigned char kind, const uint8_t *p, size_t len)
{
    uint64_t h = hash_bytes(m, kind, p, len);
    mem_key *x;

    if (m->ids.nb == 0)
        return NULL;
    for (x = *table_slot(&m->ids, h); x != NULL; x = x->next)
        if (x->hash == h && x->kind == kind && x->len == len &&
            sodium_memcmp(x->key, p, len) == 0)
            return x;
    return NULL;
}

static void
key_free(mem_key *x)
{
    sodium_memzero(x, x->size);
    free(x);
}

/*
 * Reserve the key for transaction t: MFA_ERR_EXISTS when another row has
 * it (or had it, deleted by a transaction still open); a key t deleted
 * itself is taken back (*revived 1).  The index mutex is held.
 */
static mfa_rc
key_take(mfa_store_txn *t, unsigned char kind, const uint8_t *p, size_t len,
         mem_key **out, unsigned char *revived)
{
    mem_store *m = t->m;
    mem_key *x = key_find(m, kind, p, len);
    size_t olen = kind == K_HANDLE ? strlen(t->account) + 1 : 0;

    *out = NULL;
    *revived = 0;
    if (x != NULL && x->dead != t)
        return MFA_ERR_EXISTS;
    if (x != NULL) {
        x->dead = NULL;
        *revived = 1;
        *out = x;
        return MFA_OK;
    }
    x = calloc(1, sizeof(*x) + len + olen);
    if (x == NULL)
        return MFA_ERR_NOMEM;
    x->hash = hash_bytes(m, kind, p, len);
    x->kind = kind;
    x->len = len;
    x->size = sizeof(*x) + len + olen;
    memcpy(x->key, p, len);
    if (olen > 0) {
        memcpy(x->key + len, t->account, olen);
        x->owner = (const char *)(x->key + len);
    }
    if (!table_add(&m->ids, (node *)x)) {
        free(x);
        return MFA_ERR_NOMEM;
    }
    *out = x;
    return MFA_OK;
}

/* Give back a key that key_take reserved; the index mutex is held. */
static void
key_untake(mfa_store_txn *t, mem_key *x, unsigned char revived)
{
    if (x == NULL)
        return;
    if (revived) {
        x->dead = t;
    } else {
        table_unlink(&t->m->ids, (node *)x);
        key_free(x);
    }
}

/* Mark a stored row's key deleted by t; the index mutex is held.  Every
 * stored key is in the index (NULL would be a broken invariant). */
static mem_key *
key_kill(mfa_store_txn *t, unsigned char kind, const uint8_t *p, size_t len)
{
    mem_key *x = key_find(t->m, kind, p, len);

    if (x != NULL)
        x->dead = t;
    return x;
}

/* ---- locking ------------------------------------------------------------- */

static void
deadline(struct timespec *ts)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += MEM_TIMEOUT_MS / 1000;
    ts->tv_nsec += (long)(MEM_TIMEOUT_MS % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* The uncontended case costs one trylock; the deadline only when waiting. */
static mfa_rc
stripe_lock(stripe *s, struct timespec *until, int *have_until)
{
    int e = pthread_mutex_trylock(&s->mu);

    if (e == EBUSY) {
        if (!*have_until) {
            deadline(until);
            *have_until = 1;
        }
        e = pthread_mutex_timedlock(&s->mu, until);
    }
    if (e == 0)
        return MFA_OK;
    return e == ETIMEDOUT ? MFA_ERR_BUSY : MFA_ERR_INTERNAL;
}

/* ---- transactions -------------------------------------------------------- */

static void
txn_reset(mfa_store_txn *t)
{
    vec_clear(&t->undo);
    vec_clear(&t->wold);
    t->id_ops = 0;
    t->a = NULL;
    t->listing = 0;
    t->wlisting = 0;
}

/* Accounts that ended the transaction without rows take no memory. */
static void
txn_trim(mfa_store_txn *t)
{
    size_t i, j;

    if (t->st != NULL) {
        if (t->a != NULL && acct_empty(t->a)) {
            table_unlink(&t->st->accts, (node *)t->a);
            acct_free(t->a);
        }
        return;
    }
    if (t->undo.n == 0)
        return;
    for (i = 0; i < MEM_STRIPES; i++) {
        table *tb = &t->m->st[i].accts;
        for (j = 0; j < tb->nb; j++) {
            mem_acct *a = tb->b[j], *next;
            for (; a != NULL; a = next) {
                next = a->next;
                if (acct_empty(a)) {
                    table_unlink(tb, (node *)a);
                    acct_free(a);
                }
            }
        }
    }
}

static void
txn_unlock(mfa_store_txn *t)
{
    int i;

    if (t->st != NULL) {
        pthread_mutex_unlock(&t->st->mu);
        return;
    }
    for (i = MEM_STRIPES - 1; i >= 0; i--)
        pthread_mutex_unlock(&t->m->st[i].mu);
}

static mfa_rc
mem_begin(void *impl, const char *account, mfa_txn_mode mode,
          mfa_store_txn **out)
{
    mem_store *m = impl;
    struct timespec until;
    int have_until = 0, i;
    mfa_store_txn *t;
    mfa_rc rc;

    if (account == NULL) {
        for (i = 0; i < MEM_STRIPES; i++) {
            rc = stripe_lock(&m->st[i], &until, &have_until);
            if (rc != MFA_OK) {
                while (--i >= 0)
                    pthread_mutex_unlock(&m->st[i].mu);
                return rc;
            }
        }
        t = &m->wide;
        t->account[0] = '\0';
        t->hash = 0;
    } else {
        uint64_t h = hash_str(m, account);
        stripe *s = stripe_of(m, h);

        rc = stripe_lock(s, &until, &have_until);
        if (rc != MFA_OK)
            return rc;
        t = &s->txn;
        t->st = s;
        t->hash = h;
        memcpy(t->account, account, strlen(account) + 1);
    }
    txn_reset(t);
    t->m = m;
    t->mode = mode;
    if (t->st != NULL)
        t->a = acct_find(&t->st->accts, t->hash, account);
    *out = t;
    return MFA_OK;
}

/* Commit's part of the key index: keys deleted for good are freed. */
static void
txn_finish_ids(mfa_store_txn *t)
{
    mem_store *m = t->m;
    mem_key *gone = NULL, *next;
    size_t i;
    int k;

    if (t->id_ops == 0)
        return;
    pthread_mutex_lock(&m->id_mu);
    for (i = 0; i < t->undo.n; i++) {
        undo *u = vec_at(&t->undo, i);
        for (k = 0; k < 2; k++) {
            mem_key *x = u->killed[k];
            if (x == NULL || x->dead != t)
                continue;
            table_unlink(&m->ids, (node *)x);
            /* later entries may name the same node: mark, free at the end */
            x->dead = &freed_marker;
            x->next = gone;
            gone = x;
        }
    }
    pthread_mutex_unlock(&m->id_mu);
    for (; gone != NULL; gone = next) {
        next = gone->next;
        key_free(gone);
    }
}

static mfa_rc
mem_commit(mfa_store_txn *t)
{
    txn_finish_ids(t);
    txn_trim(t);
    txn_reset(t);
    txn_unlock(t);
    return MFA_OK;
}

static void
undo_one(mfa_store_txn *t, undo *u)
{
    vec *v = &u->a->rows[u->table];
    const void *old = u->table == T_WEBAUTHN && u->op != OP_INS
                          ? vec_at(&t->wold, u->old.w)
                          : (const void *)&u->old;
    int k;

    switch (u->op) {
    case OP_INS:
        vec_del(v, u->pos);
        break;
    case OP_UPD:
        memcpy(vec_at(v, u->pos), old, v->size);
        break;
    default:
        vec_insert(v, u->pos, old);
        break;
    }
    for (k = 0; k < 2; k++) {
        if (u->killed[k] != NULL)
            u->killed[k]->dead = NULL;
        key_untake(t, u->took[k], u->revived[k]);
    }
}

static void
mem_rollback(mfa_store_txn *t)
{
    size_t i;

    if (t->id_ops > 0)
        pthread_mutex_lock(&t->m->id_mu);
    for (i = t->undo.n; i > 0; i--)
        undo_one(t, vec_at(&t->undo, i - 1));
    if (t->id_ops > 0)
        pthread_mutex_unlock(&t->m->id_mu);
    txn_trim(t);
    txn_reset(t);
    txn_unlock(t);
}

/* ---- row helpers --------------------------------------------------------- */

/* The account-scoped transaction may touch only its own account. */
static mfa_rc
own(const mfa_store_txn *t, const char *account, int write)
{
    if (t->st == NULL || account == NULL || strcmp(account, t->account) != 0)
        return MFA_ERR_INVALID;
    if (write && t->mode != MFA_TXN_WRITE)
        return MFA_ERR_INVALID;
    return MFA_OK;
}

/* Room for k undo entries, so that a write never fails half-way. */
static int
undo_room(mfa_store_txn *t, size_t k)
{
    if (t->undo.size == 0)
        t->undo.size = sizeof(undo);
    return vec_reserve(&t->undo, t->undo.n + k);
}

/* Room for k old passkey rows (with the undo room of their entries). */
static int
wold_room(mfa_store_txn *t, size_t k)
{
    if (t->wold.size == 0)
        t->wold.size = sizeof(mfa_webauthn_rec);
    return vec_reserve(&t->wold, t->wold.n + k);
}

/* Log the row at pos of table tb (its old value unless op is OP_INS). */
static undo *
undo_log(mfa_store_txn *t, mem_acct *a, unsigned char tb, unsigned char op,
         size_t pos)
{
    undo *u = vec_at(&t->undo, t->undo.n++);

    u->table = tb;
    u->op = op;
    u->revived[0] = u->revived[1] = 0;
    u->took[0] = u->took[1] = u->killed[0] = u->killed[1] = NULL;
    u->pos = pos;
    u->a = a;
    if (op != OP_INS && tb == T_WEBAUTHN) {
        u->old.w = t->wold.n++;
        memcpy(vec_at(&t->wold, u->old.w), vec_at(&a->rows[tb], pos),
               a->rows[tb].size);
    } else if (op != OP_INS) {
        memcpy(&u->old, vec_at(&a->rows[tb], pos), a->rows[tb].size);
    }
    return u;
}

static int
find_factor(const mem_acct *a, const char *id, size_t *at)
{
    size_t i;

    for (i = 0; a != NULL && i < a->rows[T_FACTOR].n; i++) {
        const mfa_factor_rec *f = vec_at(&a->rows[T_FACTOR], i);
        if (strcmp(f->id, id) == 0) {
            *at = i;
            return 1;
        }
    }
    return 0;
}

/* Rows keyed by a name at `off` in the row (challenges, throttle). */
static int
find_named(const mem_acct *a, int tb, size_t off, const char *name, size_t *at)
{
    size_t i;

    for (i = 0; a != NULL && i < a->rows[tb].n; i++) {
        const char *row = vec_at(&a->rows[tb], i);
        if (strcmp(row + off, name) == 0) {
            *at = i;
            return 1;
        }
    }
    return 0;
}

static void
put_factor(mfa_factor_rec *slot, const mfa_factor_rec *f)
{
    *slot = *f;
    /* unused tail bytes are not part of the record */
    memset(slot->sealed + f->sealed_len, 0, MFA_SEALED_MAX - f->sealed_len);
}

/* Insert or overwrite a named row: one undo entry either way. */
static mfa_rc
put_named(mfa_store_txn *t, int tb, size_t off, const void *row)
{
    mem_acct *a = acct_need(t);
    size_t at;

    if (a == NULL || !undo_room(t, 1) ||
        !vec_reserve(&a->rows[tb], a->rows[tb].n + 1))
        return MFA_ERR_NOMEM;
    if (find_named(a, tb, off, (const char *)row + off, &at)) {
        undo_log(t, a, (unsigned char)tb, OP_UPD, at);
        memcpy(vec_at(&a->rows[tb], at), row, a->rows[tb].size);
    } else {
        undo_log(t, a, (unsigned char)tb, OP_INS, a->rows[tb].n);
        vec_insert(&a->rows[tb], a->rows[tb].n, row);
    }
    return MFA_OK;
}

static mfa_rc
delete_named(mfa_store_txn *t, int tb, size_t off, const char *name)
{
    size_t at;

    if (!find_named(t->a, tb, off, name, &at))
        return MFA_OK;
    if (!undo_room(t, 1))
        return MFA_ERR_NOMEM;
    undo_log(t, t->a, (unsigned char)tb, OP_DEL, at);
    vec_del(&t->a->rows[tb], at);
    return MFA_OK;
}

/*
 * Delete row `at` of table tb of a, with its keys (factor ids, credential
 * ids, the handle); the undo room is made (and the old-row room for a
 * passkey), the key index mutex held when tb has keys.
 */
static void
delete_row(mfa_store_txn *t, mem_acct *a, int tb, size_t at)
{
    void *row = vec_at(&a->rows[tb], at);
    undo *u = undo_log(t, a, (unsigned char)tb, OP_DEL, at);

    if (tb == T_FACTOR) {
        const mfa_factor_rec *f = row;
        u->killed[0] = key_kill(t, K_ID, (const uint8_t *)f->id, strlen(f->id));
    } else if (tb == T_WEBAUTHN) {
        const mfa_webauthn_rec *w = row;
        u->killed[0] = key_kill(t, K_ID, (const uint8_t *)w->factor_id,
                                strlen(w->factor_id));
        u->killed[1] = key_kill(t, K_CRED, w->cred.id, w->cred.id_len);
    } else if (tb == T_HANDLE) {
        const mem_handle *h = row;
        u->killed[0] = key_kill(t, K_HANDLE, h->h, h->len);
    }
    if (u->killed[0] != NULL || u->killed[1] != NULL)
        t->id_ops++;
    vec_del(&a->rows[tb], at);
}

/* ---- operations ---------------------------------------------------------- */

static void
mem_close(void *impl)
{
    mem_store *m = impl;
    size_t i, j;

    if (m == NULL)
        return;
    for (i = 0; i < MEM_STRIPES; i++) {
        stripe *s = &m->st[i];
        for (j = 0; j < s->accts.nb; j++) {
            mem_acct *a = s->accts.b[j], *next;
            for (; a != NULL; a = next) {
                next = a->next;
                acct_free(a);
            }
        }
        free(s->accts.b);
        vec_free(&s->txn.undo);
        vec_free(&s->txn.wold);
        vec_free(&s->txn.snap);
        vec_free(&s->txn.wsnap);
        pthread_mutex_destroy(&s->mu);
    }
    for (i = 0; i < m->ids.nb; i++) {
        mem_key *x = m->ids.b[i], *next;
        for (; x != NULL; x = next) {
            next = x->next;
            key_free(x);
        }
    }
    free(m->ids.b);
    vec_free(&m->wide.undo);
    vec_free(&m->wide.wold);
    vec_free(&m->wide.snap);
    vec_free(&m->wide.wsnap);
    pthread_mutex_destroy(&m->id_mu);
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

static int
before_created_id(const mfa_factor_rec *x, const mfa_factor_rec *y)
{
    if (x->created != y->created)
        return x->created < y->created;
    return strcmp(x->id, y->id) < 0;
}

/* Insertion sort: no allocation, and linear on the usual sorted input. */
static void
sort_created_id(mfa_factor_rec *r, size_t n)
{
    mfa_factor_rec tmp;
    size_t i, j;

    for (i = 1; i < n; i++) {
        if (!before_created_id(&r[i], &r[i - 1]))
            continue;
        tmp = r[i];
        for (j = i; j > 0 && before_created_id(&tmp, &r[j - 1]); j--)
            r[j] = r[j - 1];
        r[j] = tmp;
    }
    sodium_memzero(&tmp, sizeof(tmp));
}

/*
 * The callback runs on a copy, so it may write rows of the transaction
 * (or list again) without disturbing the iteration.
 */
static mfa_rc
mem_factor_list(mfa_store_txn *t, const char *account, mfa_factor_cb cb,
                void *arg)
{
    mfa_rc rc = own(t, account, 0);
    vec own_snap = {NULL, 0, 0, sizeof(mfa_factor_rec)};
    vec *snap = t->listing ? &own_snap : &t->snap;
    size_t n, i;
    int was_listing = t->listing;

    if (rc != MFA_OK)
        return rc;
    n = t->a != NULL ? t->a->rows[T_FACTOR].n : 0;
    if (n == 0)
        return MFA_OK;
    snap->size = sizeof(mfa_factor_rec);
    if (!vec_reserve(snap, n))
        return MFA_ERR_NOMEM;
    memcpy(snap->v, t->a->rows[T_FACTOR].v, n * sizeof(mfa_factor_rec));
    snap->n = n;
    sort_created_id(snap->v, n);
    t->listing = 1;
    for (i = 0; i < n && rc == MFA_OK; i++)
        rc = cb(vec_at(snap, i), arg);
    t->listing = was_listing;
    vec_clear(snap);
    vec_free(&own_snap);
    return rc;
}

static mfa_rc
mem_factor_get(mfa_store_txn *t, const char *account, const char *id,
               mfa_factor_rec *out)
{
    mfa_rc rc = own(t, account, 0);
    size_t at;

    if (rc != MFA_OK)
        return rc;
    if (!find_factor(t->a, id, &at))
        return MFA_ERR_NOT_FOUND;
    *out = *(mfa_factor_rec *)vec_at(&t->a->rows[T_FACTOR], at);
    return MFA_OK;
}

static mfa_rc
mem_factor_insert(mfa_store_txn *t, const mfa_factor_rec *f)
{
    mfa_rc rc = own(t, f->account, 1);
    mem_acct *a;
    mem_key *x;
    unsigned char revived;
    size_t at;
    undo *u;

    if (rc != MFA_OK)
        return rc;
    if (find_factor(t->a, f->id, &at))
        return MFA_ERR_EXISTS;
    /* all the room first: past the key index nothing may fail */
    a = acct_need(t);
    if (a == NULL || !undo_room(t, 1) ||
        !vec_reserve(&a->rows[T_FACTOR], a->rows[T_FACTOR].n + 1))
        return MFA_ERR_NOMEM;
    pthread_mutex_lock(&t->m->id_mu);
    rc = key_take(t, K_ID, (const uint8_t *)f->id,
                  strnlen(f->id, MFA_FACTOR_ID_LEN), &x, &revived);
    pthread_mutex_unlock(&t->m->id_mu);
    if (rc != MFA_OK)
        return rc;
    u = undo_log(t, a, T_FACTOR, OP_INS, a->rows[T_FACTOR].n);
    u->took[0] = x;
    u->revived[0] = revived;
    t->id_ops++;
    a->rows[T_FACTOR].n++;
    put_factor(vec_at(&a->rows[T_FACTOR], a->rows[T_FACTOR].n - 1), f);
    return MFA_OK;
}

static mfa_rc
mem_factor_update(mfa_store_txn *t, const mfa_factor_rec *f)
{
    mfa_rc rc = own(t, f->account, 1);
    size_t at;

    if (rc != MFA_OK)
        return rc;
    if (!find_factor(t->a, f->id, &at))
        return MFA_ERR_NOT_FOUND;
    if (!undo_room(t, 1))
        return MFA_ERR_NOMEM;
    undo_log(t, t->a, T_FACTOR, OP_UPD, at);
    put_factor(vec_at(&t->a->rows[T_FACTOR], at), f);
    return MFA_OK;
}

static mfa_rc
mem_factor_delete(mfa_store_txn *t, const char *account, const char *id)
{
    mfa_rc rc = own(t, account, 1);
    size_t at;

    if (rc != MFA_OK)
        return rc;
    if (!find_factor(t->a, id, &at))
        return MFA_ERR_NOT_FOUND;
    if (!undo_room(t, 1))
        return MFA_ERR_NOMEM;
    pthread_mutex_lock(&t->m->id_mu);
    delete_row(t, t->a, T_FACTOR, at);
    pthread_mutex_unlock(&t->m->id_mu);
    return MFA_OK;
}

static int
key_cmp(const mfa_factor_rec *x, const char *account, const char *id)
{
    int c = strcmp(x->account, account);

    return c != 0 ? c : strcmp(x->id, id);
}

static int
rec_cmp(const mfa_factor_rec *x, const mfa_factor_rec *y)
{
    return key_cmp(x, y->account, y->id);
}

/* Max-heap on (account, id) over out[0..n). */
static void
heap_down(mfa_factor_rec *h, size_t n, size_t i)
{
    mfa_factor_rec tmp;

    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, big = i;
        if (l < n && rec_cmp(&h[l], &h[big]) > 0)
            big = l;
        if (r < n && rec_cmp(&h[r], &h[big]) > 0)
            big = r;
        if (big == i)
            break;
        tmp = h[i];
        h[i] = h[big];
        h[big] = tmp;
        i = big;
    }
    sodium_memzero(&tmp, sizeof(tmp));
}

static void
heap_up(mfa_factor_rec *h, size_t i)
{
    mfa_factor_rec tmp;

    while (i > 0 && rec_cmp(&h[(i - 1) / 2], &h[i]) < 0) {
        tmp = h[i];
        h[i] = h[(i - 1) / 2];
        h[(i - 1) / 2] = tmp;
        i = (i - 1) / 2;
    }
    sodium_memzero(&tmp, sizeof(tmp));
}

/*
 * The `max` smallest keys after the cursor, kept in a bounded max-heap in
 * out itself (one pass, no allocation), then heap-sorted in place.
 */
static mfa_rc
mem_factor_scan(mfa_store_txn *t, const char *after_account,
                const char *after_id, mfa_factor_rec *out, size_t max,
                size_t *n)
{
    size_t i, j, k, cnt = 0;
    mfa_factor_rec tmp;

    *n = 0;
    if (t->st != NULL)
        return MFA_ERR_INVALID;
    for (i = 0; i < MEM_STRIPES && max > 0; i++) {
        const table *tb = &t->m->st[i].accts;
        for (j = 0; j < tb->nb; j++) {
            const mem_acct *a;
            for (a = tb->b[j]; a != NULL; a = a->next) {
                const vec *v = &a->rows[T_FACTOR];
                for (k = 0; k < v->n; k++) {
                    const mfa_factor_rec *f = vec_at(v, k);
                    if (key_cmp(f, after_account, after_id) <= 0)
                        continue;
                    if (cnt < max) {
                        out[cnt] = *f;
                        heap_up(out, cnt++);
                    } else if (rec_cmp(f, &out[0]) < 0) {
                        out[0] = *f;
                        heap_down(out, cnt, 0);
                    }
                }
            }
        }
    }
    for (i = cnt; i > 1; i--) {
        tmp = out[0];
        out[0] = out[i - 1];
        out[i - 1] = tmp;
        heap_down(out, i - 1, 0);
    }
    sodium_memzero(&tmp, sizeof(tmp));
    *n = cnt;
    return MFA_OK;
}

static mfa_rc
mem_factor_expire(mfa_store_txn *t, int64_t before, size_t *n)
{
    mem_store *m = t->m;
    mfa_rc rc = MFA_OK;
    size_t i, j, k;

    *n = 0;
    if (t->st != NULL || t->mode != MFA_TXN_WRITE)
        return MFA_ERR_INVALID;
    pthread_mutex_lock(&m->id_mu);
    for (i = 0; i < MEM_STRIPES && rc == MFA_OK; i++) {
        table *tb = &m->st[i].accts;
        for (j = 0; j < tb->nb && rc == MFA_OK; j++) {
            mem_acct *a;
            for (a = tb->b[j]; a != NULL && rc == MFA_OK; a = a->next) {
                k = 0;
                while (k < a->rows[T_FACTOR].n) {
                    mfa_factor_rec *f = vec_at(&a->rows[T_FACTOR], k);
                    if (f->status != MFA_FACTOR_PENDING ||
                        f->created >= before) {
                        k++;
                    } else if (!undo_room(t, 1)) {
                        rc = MFA_ERR_NOMEM; /* the caller rolls back */
                        break;
                    } else {
                        delete_row(t, a, T_FACTOR, k);
                        (*n)++;
                    }
                }
            }
        }
    }
    pthread_mutex_unlock(&m->id_mu);
    return rc;
}

#define THR_OFF offsetof(mfa_throttle_rec, bucket)
#define OOB_OFF offsetof(mfa_oob_challenge, purpose)

static mfa_rc
mem_throttle_get(mfa_store_txn *t, const char *account, const char *bucket,
                 mfa_throttle_rec *out)
{
    mfa_rc rc = own(t, account, 0);
    size_t at;

    if (rc != MFA_OK)
        return rc;
    if (!find_named(t->a, T_THROTTLE, THR_OFF, bucket, &at))
        return MFA_ERR_NOT_FOUND;
    *out = *(mfa_throttle_rec *)vec_at(&t->a->rows[T_THROTTLE], at);
    return MFA_OK;
}

static mfa_rc
mem_throttle_put(mfa_store_txn *t, const char *account,
                 const mfa_throttle_rec *r)
{
    mfa_rc rc = own(t, account, 1);
    mfa_throttle_rec row;

    if (rc != MFA_OK)
        return rc;
    /* a clean copy: bytes after the name's NUL are not part of the row */
    memset(&row, 0, sizeof(row));
    memcpy(row.bucket, r->bucket, strnlen(r->bucket, MFA_BUCKET_MAX));
    row.failures = r->failures;
    row.locked_until = r->locked_until;
    row.updated = r->updated;
    return put_named(t, T_THROTTLE, THR_OFF, &row);
}

static mfa_rc
mem_throttle_delete(mfa_store_txn *t, const char *account, const char *bucket)
{
    mfa_rc rc = own(t, account, 1);

    return rc != MFA_OK ? rc : delete_named(t, T_THROTTLE, THR_OFF, bucket);
}

/*
 * Insert rec (size bytes) into out[0..*n), kept sorted by before and cut
 * at max: the lists that return the first max rows in an order.
 */
static void
insert_sorted(void *out, size_t size, size_t *n, size_t max, const void *rec,
              int (*before)(const void *, const void *))
{
    uint8_t *o = out;
    size_t j;

    for (j = *n; j > 0 && before(rec, o + (j - 1) * size); j--)
        if (j < max)
            memcpy(o + j * size, o + (j - 1) * size, size);
    if (j < max) {
        memcpy(o + j * size, rec, size);
        if (*n < max)
            (*n)++;
    }
}

static int
before_bucket(const void *x, const void *y)
{
    return strcmp(((const mfa_throttle_rec *)x)->bucket,
                  ((const mfa_throttle_rec *)y)->bucket) < 0;
}

static mfa_rc
mem_throttle_list(mfa_store_txn *t, const char *account, mfa_throttle_rec *out,
                  size_t max, size_t *n)
{
    mfa_rc rc = own(t, account, 0);
    size_t i;

    *n = 0;
    if (rc != MFA_OK)
        return rc;
    /* in bucket order; the first max of them */
    for (i = 0; t->a != NULL && i < t->a->rows[T_THROTTLE].n; i++)
        insert_sorted(out, sizeof(*out), n, max,
                      vec_at(&t->a->rows[T_THROTTLE], i), before_bucket);
    return MFA_OK;
}

#define DEV_OFF offsetof(mfa_device_rec, id)

static int
before_device(const void *a, const void *b)
{
    const mfa_device_rec *x = a, *y = b;

    return x->created < y->created ||
           (x->created == y->created && strcmp(x->id, y->id) < 0);
}

static mfa_rc
mem_device_list(mfa_store_txn *t, const char *account, mfa_device_rec *out,
                size_t max, size_t *n)
{
    mfa_rc rc = own(t, account, 0);
    size_t i;

    *n = 0;
    if (rc != MFA_OK)
        return rc;
    for (i = 0; t->a != NULL && i < t->a->rows[T_DEVICE].n; i++)
        insert_sorted(out, sizeof(*out), n, max,
                      vec_at(&t->a->rows[T_DEVICE], i), before_device);
    return MFA_OK;
}

static mfa_rc
mem_device_get(mfa_store_txn *t, const char *account, const char *id,
               mfa_device_rec *out)
{
    mfa_rc rc = own(t, account, 0);
    size_t at;

    if (rc != MFA_OK)
        return rc;
    if (!find_named(t->a, T_DEVICE, DEV_OFF, id, &at))
        return MFA_ERR_NOT_FOUND;
    *out = *(mfa_device_rec *)vec_at(&t->a->rows[T_DEVICE], at);
    return MFA_OK;
}

static mfa_rc
mem_device_put(mfa_store_txn *t, const char *account, const mfa_device_rec *d)
{
    mfa_rc rc = own(t, account, 1);
    mfa_device_rec row;

    if (rc != MFA_OK)
        return rc;
    memset(&row, 0, sizeof(row));
    memcpy(row.id, d->id, strnlen(d->id, MFA_DEVICE_REC_ID_LEN));
    memcpy(row.label, d->label, strnlen(d->label, MFA_DEVICE_REC_LABEL_MAX));
    memcpy(row.hash, d->hash, sizeof(row.hash));
    row.key_id = d->key_id;
    row.created = d->created;
    row.last_seen = d->last_seen;
    row.trusted_until = d->trusted_until;
    rc = put_named(t, T_DEVICE, DEV_OFF, &row);
    sodium_memzero(&row, sizeof(row));
    return rc;
}

static mfa_rc
mem_device_delete(mfa_store_txn *t, const char *account, const char *id)
{
    mfa_rc rc = own(t, account, 1);
    size_t at;

    if (rc != MFA_OK)
        return rc;
    if (!find_named(t->a, T_DEVICE, DEV_OFF, id, &at))
        return MFA_ERR_NOT_FOUND;
    return delete_named(t, T_DEVICE, DEV_OFF, id);
}

/* Store-wide: a bounded insertion of every matching name (the memory
 * store is for tests and small deployments: a full pass is fine). */
static mfa_rc
mem_state_scan(mfa_store_txn *t, const char *after,
               char (*out)[MFA_ACCOUNT_MAX + 1], size_t max, size_t *n)
{
    size_t i, j, k;

    *n = 0;
    if (t->st != NULL)
        return MFA_ERR_INVALID;
    for (i = 0; i < MEM_STRIPES; i++) {
        const table *tb = &t->m->st[i].accts;

        for (j = 0; j < tb->nb; j++) {
            const mem_acct *a;

            for (a = tb->b[j]; a != NULL; a = a->next) {
                if ((a->rows[T_THROTTLE].n == 0 && a->rows[T_DEVICE].n == 0) ||
                    strcmp(a->account, after) <= 0)
                    continue;
                for (k = *n; k > 0 && strcmp(a->account, out[k - 1]) < 0; k--)
                    if (k < max)
                        memcpy(out[k], out[k - 1], sizeof(out[k]));
                if (k < max) {
                    memcpy(out[k], a->account, sizeof(out[k]));
                    if (*n < max)
                        (*n)++;
                }
            }
        }
    }
    return MFA_OK;
}

static mfa_rc
mem_backup_list(mfa_store_txn *t, const char *account, mfa_backup_rec *out,
                size_t max, size_t *n)
{
    mfa_rc rc = own(t, account, 0);
    size_t i;

    *n = 0;
    if (rc != MFA_OK)
        return rc;
    for (i = 0; t->a != NULL && i < t->a->rows[T_BACKUP].n && *n < max; i++) {
        const mem_backup *b = vec_at(&t->a->rows[T_BACKUP], i);
        if (!b->used)
            out[(*n)++] = b->rec;
    }
    return MFA_OK;
}

/* The hash is keyed: comparing it leaks nothing about the code. */
static int
find_backup(const mem_acct *a, const uint8_t *hash, int unused_only, size_t *at)
{
    size_t i;

    for (i = 0; a != NULL && i < a->rows[T_BACKUP].n; i++) {
        const mem_backup *b = vec_at(&a->rows[T_BACKUP], i);
        if ((!unused_only || !b->used) &&
            memcmp(b->rec.hash, hash, MFA_BACKUP_HASHBYTES) == 0) {
            *at = i;
            return 1;
        }
    }
    return 0;
}

static mfa_rc
mem_backup_insert(mfa_store_txn *t, const char *account,
                  const mfa_backup_rec *r, int64_t now)
{
    mfa_rc rc = own(t, account, 1);
    mem_backup b;
    mem_acct *a;
    size_t at;

    if (rc != MFA_OK)
        return rc;
    if (find_backup(t->a, r->hash, 0, &at))
        return MFA_ERR_EXISTS;
    a = acct_need(t);
    if (a == NULL || !undo_room(t, 1) ||
        !vec_reserve(&a->rows[T_BACKUP], a->rows[T_BACKUP].n + 1))
        return MFA_ERR_NOMEM;
    memset(&b, 0, sizeof(b));
    b.rec = *r;
    b.created = now;
    undo_log(t, a, T_BACKUP, OP_INS, a->rows[T_BACKUP].n);
    vec_insert(&a->rows[T_BACKUP], a->rows[T_BACKUP].n, &b);
    return MFA_OK;
}

static mfa_rc
mem_backup_use(mfa_store_txn *t, const char *account,
               const uint8_t hash[MFA_BACKUP_HASHBYTES], int64_t now)
{
    mfa_rc rc = own(t, account, 1);
    mem_backup *b;
    size_t at;

    if (rc != MFA_OK)
        return rc;
    if (!find_backup(t->a, hash, 1, &at))
        return MFA_ERR_NOT_FOUND;
    if (!undo_room(t, 1))
        return MFA_ERR_NOMEM;
    undo_log(t, t->a, T_BACKUP, OP_UPD, at);
    b = vec_at(&t->a->rows[T_BACKUP], at);
    b->used = 1;
    b->used_at = now;
    return MFA_OK;
}

/* Delete every row of one table, from the end (undo puts them back in
 * order); the undo room is made, the key index mutex held. */
static void
clear_table(mfa_store_txn *t, int tb)
{
    vec *v = &t->a->rows[tb];

    while (v->n > 0)
        delete_row(t, t->a, tb, v->n - 1);
}

static mfa_rc
mem_backup_clear(mfa_store_txn *t, const char *account)
{
    mfa_rc rc = own(t, account, 1);

    if (rc != MFA_OK || t->a == NULL)
        return rc;
    if (!undo_room(t, t->a->rows[T_BACKUP].n))
        return MFA_ERR_NOMEM;
    clear_table(t, T_BACKUP);
    return MFA_OK;
}

static mfa_rc
mem_oob_get(mfa_store_txn *t, const char *account, const char *purpose,
            mfa_oob_challenge *out)
{
    mfa_rc rc = own(t, account, 0);
    size_t at;

    if (rc != MFA_OK)
        return rc;
    if (!find_named(t->a, T_OOB, OOB_OFF, purpose, &at))
        return MFA_ERR_NOT_FOUND;
    *out = *(mfa_oob_challenge *)vec_at(&t->a->rows[T_OOB], at);
    return MFA_OK;
}

static mfa_rc
mem_oob_put(mfa_store_txn *t, const char *account, const mfa_oob_challenge *c)
{
    mfa_rc rc = own(t, account, 1);
    mfa_oob_challenge row;

    if (rc != MFA_OK)
        return rc;
    memset(&row, 0, sizeof(row));
    memcpy(row.hash, c->hash, sizeof(row.hash));
    row.key_id = c->key_id;
    memcpy(row.purpose, c->purpose, strnlen(c->purpose, MFA_OOB_PURPOSE_MAX));
    row.created = c->created;
    row.expires = c->expires;
    row.attempts_left = c->attempts_left;
    rc = put_named(t, T_OOB, OOB_OFF, &row);
    sodium_memzero(&row, sizeof(row));
    return rc;
}

static mfa_rc
mem_oob_delete(mfa_store_txn *t, const char *account, const char *purpose)
{
    mfa_rc rc = own(t, account, 1);

    return rc != MFA_OK ? rc : delete_named(t, T_OOB, OOB_OFF, purpose);
}

static mfa_rc
mem_account_delete(mfa_store_txn *t, const char *account)
{
    mfa_rc rc = own(t, account, 1);
    size_t total = 0;
    int i;

    if (rc != MFA_OK || t->a == NULL)
        return rc;
    for (i = 0; i < T_COUNT; i++)
        total += t->a->rows[i].n;
    if (!undo_room(t, total) || !wold_room(t, t->a->rows[T_WEBAUTHN].n))
        return MFA_ERR_NOMEM;
    pthread_mutex_lock(&t->m->id_mu);
    for (i = 0; i < T_COUNT; i++)
        clear_table(t, i);
    pthread_mutex_unlock(&t->m->id_mu);
    return MFA_OK;
}

/* ---- passkeys ------------------------------------------------------------ */

#define WA_OFF offsetof(mfa_webauthn_rec, factor_id)

/* What a backend may be handed (the library checks more). */
static int
passkey_ok(const mfa_webauthn_rec *r)
{
    return memchr(r->factor_id, '\0', sizeof(r->factor_id)) != NULL &&
           memchr(r->label, '\0', sizeof(r->label)) != NULL &&
           r->cred.id_len >= 1 && r->cred.id_len <= MFA_WEBAUTHN_CRED_ID_MAX &&
           r->cred.public_key_len <= MFA_WEBAUTHN_PUBLIC_KEY_MAX &&
           r->cred.user_handle_len <= MFA_WEBAUTHN_USER_HANDLE_MAX;
}

/* A clean copy: bytes past each length are not part of the row. */
static void
put_passkey(mfa_webauthn_rec *slot, const mfa_webauthn_rec *r)
{
    memset(slot, 0, sizeof(*slot));
    memcpy(slot->factor_id, r->factor_id,
           strnlen(r->factor_id, MFA_FACTOR_ID_LEN));
    memcpy(slot->label, r->label, strnlen(r->label, MFA_LABEL_MAX));
    slot->created = r->created;
    slot->last_used = r->last_used;
    memcpy(slot->cred.id, r->cred.id, r->cred.id_len);
    slot->cred.id_len = r->cred.id_len;
    memcpy(slot->cred.public_key, r->cred.public_key, r->cred.public_key_len);
    slot->cred.public_key_len = r->cred.public_key_len;
    slot->cred.algorithm = r->cred.algorithm;
    slot->cred.sign_count = r->cred.sign_count;
    slot->cred.transports = r->cred.transports;
    slot->cred.flags = r->cred.flags;
    memcpy(slot->cred.aaguid, r->cred.aaguid, sizeof(slot->cred.aaguid));
    slot->cred.attestation_format = r->cred.attestation_format;
    slot->cred.attestation_trust = r->cred.attestation_trust;
    memcpy(slot->cred.user_handle, r->cred.user_handle,
           r->cred.user_handle_len);
    slot->cred.user_handle_len = r->cred.user_handle_len;
}

static int
same_cred_id(const mfa_webauthn_rec *x, const mfa_webauthn_rec *y)
{
    return x->cred.id_len == y->cred.id_len &&
           sodium_memcmp(x->cred.id, y->cred.id, x->cred.id_len) == 0;
}

static int
before_passkey(const mfa_webauthn_rec *x, const mfa_webauthn_rec *y)
{
    if (x->created != y->created)
        return x->created < y->created;
    return strcmp(x->factor_id, y->factor_id) < 0;
}

/* Insertion sort through one spare slot (no allocation, no big local). */
static void
sort_passkeys(mfa_webauthn_rec *r, size_t n, mfa_webauthn_rec *tmp)
{
    size_t i, j;

    for (i = 1; i < n; i++) {
        if (!before_passkey(&r[i], &r[i - 1]))
            continue;
        *tmp = r[i];
        for (j = i; j > 0 && before_passkey(tmp, &r[j - 1]); j--)
            r[j] = r[j - 1];
        r[j] = *tmp;
    }
}

/* The callback runs on a copy, as for factor_list. */
static mfa_rc
mem_webauthn_list(mfa_store_txn *t, const char *account, mfa_webauthn_cb cb,
                  void *arg)
{
    mfa_rc rc = own(t, account, 0);
    vec own_snap = {NULL, 0, 0, sizeof(mfa_webauthn_rec)};
    vec *snap = t->wlisting ? &own_snap : &t->wsnap;
    int was_listing = t->wlisting;
    size_t n, i;

    if (rc != MFA_OK)
        return rc;
    n = t->a != NULL ? t->a->rows[T_WEBAUTHN].n : 0;
    if (n == 0)
        return MFA_OK;
    snap->size = sizeof(mfa_webauthn_rec);
    if (!vec_reserve(snap, n + 1))
        return MFA_ERR_NOMEM;
    memcpy(snap->v, t->a->rows[T_WEBAUTHN].v, n * sizeof(mfa_webauthn_rec));
    snap->n = n + 1;
    sort_passkeys(snap->v, n, vec_at(snap, n));
    t->wlisting = 1;
    for (i = 0; i < n && rc == MFA_OK; i++)
        rc = cb(vec_at(snap, i), arg);
    t->wlisting = was_listing;
    vec_clear(snap);
    vec_free(&own_snap);
    return rc;
}

static mfa_rc
mem_webauthn_get(mfa_store_txn *t, const char *account, const char *factor_id,
                 mfa_webauthn_rec *out)
{
    mfa_rc rc = own(t, account, 0);
    size_t at;

    if (rc != MFA_OK)
        return rc;
    if (!find_named(t->a, T_WEBAUTHN, WA_OFF, factor_id, &at))
        return MFA_ERR_NOT_FOUND;
    *out = *(const mfa_webauthn_rec *)vec_at(&t->a->rows[T_WEBAUTHN], at);
    return MFA_OK;
}

static mfa_rc
mem_webauthn_insert(mfa_store_txn *t, const char *account,
                    const mfa_webauthn_rec *r)
{
    mfa_rc rc = own(t, account, 1);
    mem_key *id = NULL, *cred = NULL;
    unsigned char rid = 0, rcred = 0;
    mem_acct *a;
    vec *v;
    size_t at;
    undo *u;

    if (rc != MFA_OK)
        return rc;
    if (!passkey_ok(r))
        return MFA_ERR_INVALID;
    if (find_named(t->a, T_WEBAUTHN, WA_OFF, r->factor_id, &at))
        return MFA_ERR_EXISTS;
    /* all the room first: past the key index nothing may fail */
    a = acct_need(t);
    if (a == NULL || !undo_room(t, 1) ||
        !vec_reserve(&a->rows[T_WEBAUTHN], a->rows[T_WEBAUTHN].n + 1))
        return MFA_ERR_NOMEM;
    pthread_mutex_lock(&t->m->id_mu);
    rc = key_take(t, K_ID, (const uint8_t *)r->factor_id, strlen(r->factor_id),
                  &id, &rid);
    if (rc == MFA_OK) {
        rc = key_take(t, K_CRED, r->cred.id, r->cred.id_len, &cred, &rcred);
        if (rc != MFA_OK)
            key_untake(t, id, rid);
    }
    pthread_mutex_unlock(&t->m->id_mu);
    if (rc != MFA_OK)
        return rc;
    v = &a->rows[T_WEBAUTHN];
    u = undo_log(t, a, T_WEBAUTHN, OP_INS, v->n);
    u->took[0] = id;
    u->revived[0] = rid;
    u->took[1] = cred;
    u->revived[1] = rcred;
    t->id_ops++;
    v->n++;
    put_passkey(vec_at(v, v->n - 1), r);
    return MFA_OK;
}

/* The library never changes a credential id; a new one takes its key. */
static mfa_rc
mem_webauthn_update(mfa_store_txn *t, const char *account,
                    const mfa_webauthn_rec *r)
{
    mfa_rc rc = own(t, account, 1);
    mfa_webauthn_rec *row;
    mem_key *cred = NULL, *old = NULL;
    unsigned char rcred = 0;
    size_t at;
    undo *u;

    if (rc != MFA_OK)
        return rc;
    if (!passkey_ok(r))
        return MFA_ERR_INVALID;
    if (!find_named(t->a, T_WEBAUTHN, WA_OFF, r->factor_id, &at))
        return MFA_ERR_NOT_FOUND;
    if (!undo_room(t, 1) || !wold_room(t, 1))
        return MFA_ERR_NOMEM;
    row = vec_at(&t->a->rows[T_WEBAUTHN], at);
    if (!same_cred_id(row, r)) {
        pthread_mutex_lock(&t->m->id_mu);
        rc = key_take(t, K_CRED, r->cred.id, r->cred.id_len, &cred, &rcred);
        if (rc == MFA_OK)
            old = key_kill(t, K_CRED, row->cred.id, row->cred.id_len);
        pthread_mutex_unlock(&t->m->id_mu);
        if (rc != MFA_OK)
            return rc;
    }
    u = undo_log(t, t->a, T_WEBAUTHN, OP_UPD, at);
    if (cred != NULL) {
        u->took[0] = cred;
        u->revived[0] = rcred;
        u->killed[0] = old;
        t->id_ops++;
    }
    put_passkey(row, r);
    return MFA_OK;
}

static mfa_rc
mem_webauthn_delete(mfa_store_txn *t, const char *account,
                    const char *factor_id)
{
    mfa_rc rc = own(t, account, 1);
    size_t at;

    if (rc != MFA_OK)
        return rc;
    if (!find_named(t->a, T_WEBAUTHN, WA_OFF, factor_id, &at))
        return MFA_ERR_NOT_FOUND;
    if (!undo_room(t, 1) || !wold_room(t, 1))
        return MFA_ERR_NOMEM;
    pthread_mutex_lock(&t->m->id_mu);
    delete_row(t, t->a, T_WEBAUTHN, at);
    pthread_mutex_unlock(&t->m->id_mu);
    return MFA_OK;
}

static mfa_rc
mem_webauthn_handle_get(mfa_store_txn *t, const char *account,
                        uint8_t out[MFA_WEBAUTHN_USER_HANDLE_MAX], size_t *len)
{
    mfa_rc rc = own(t, account, 0);
    const mem_handle *h;

    if (rc != MFA_OK)
        return rc;
    if (t->a == NULL || t->a->rows[T_HANDLE].n == 0)
        return MFA_ERR_NOT_FOUND;
    h = vec_at(&t->a->rows[T_HANDLE], 0);
    memcpy(out, h->h, h->len);
    *len = h->len;
    return MFA_OK;
}

static mfa_rc
mem_webauthn_handle_put(mfa_store_txn *t, const char *account,
                        const uint8_t *handle, size_t len, int64_t now)
{
    mfa_rc rc = own(t, account, 1);
    mem_handle row;
    mem_key *x = NULL;
    unsigned char revived = 0;
    mem_acct *a;
    undo *u;

    if (rc != MFA_OK)
        return rc;
    if (handle == NULL || len == 0 || len > MFA_WEBAUTHN_USER_HANDLE_MAX)
        return MFA_ERR_INVALID;
    if (t->a != NULL && t->a->rows[T_HANDLE].n > 0)
        return MFA_ERR_EXISTS;
    a = acct_need(t);
    if (a == NULL || !undo_room(t, 1) ||
        !vec_reserve(&a->rows[T_HANDLE], a->rows[T_HANDLE].n + 1))
        return MFA_ERR_NOMEM;
    pthread_mutex_lock(&t->m->id_mu);
    rc = key_take(t, K_HANDLE, handle, len, &x, &revived);
    pthread_mutex_unlock(&t->m->id_mu);
    if (rc != MFA_OK)
        return rc;
    memset(&row, 0, sizeof(row));
    memcpy(row.h, handle, len);
    row.len = len;
    row.created = now;
    u = undo_log(t, a, T_HANDLE, OP_INS, 0);
    u->took[0] = x;
    u->revived[0] = revived;
    t->id_ops++;
    vec_insert(&a->rows[T_HANDLE], 0, &row);
    return MFA_OK;
}

/* Store-wide: every stripe is held, so no other transaction has keys
 * reserved or deleted; the index holds the committed handles. */
static mfa_rc
mem_webauthn_handle_find(mfa_store_txn *t, const uint8_t *handle, size_t len,
                         char account[MFA_ACCOUNT_MAX + 1])
{
    const mem_key *x;
    mfa_rc rc = MFA_ERR_NOT_FOUND;

    if (t->st != NULL || handle == NULL || len == 0 ||
        len > MFA_WEBAUTHN_USER_HANDLE_MAX)
        return MFA_ERR_INVALID;
    pthread_mutex_lock(&t->m->id_mu);
    x = key_find(t->m, K_HANDLE, handle, len);
    if (x != NULL && x->dead == NULL && x->owner != NULL) {
        memcpy(account, x->owner, strlen(x->owner) + 1);
        rc = MFA_OK;
    }
    pthread_mutex_unlock(&t->m->id_mu);
    return rc;
}

static mfa_rc
mem_webauthn_spend(mfa_store_txn *t, const char *account,
                   const uint8_t nonce[MFA_WEBAUTHN_NONCE_BYTES],
                   int64_t expires)
{
    mfa_rc rc = own(t, account, 1);
    mem_spent row;
    mem_acct *a;
    size_t i;

    if (rc != MFA_OK)
        return rc;
    for (i = 0; t->a != NULL && i < t->a->rows[T_SPENT].n; i++) {
        const mem_spent *x = vec_at(&t->a->rows[T_SPENT], i);
        if (sodium_memcmp(x->nonce, nonce, MFA_WEBAUTHN_NONCE_BYTES) == 0)
            return MFA_ERR_EXISTS;
    }
    a = acct_need(t);
    if (a == NULL || !undo_room(t, 1) ||
        !vec_reserve(&a->rows[T_SPENT], a->rows[T_SPENT].n + 1))
        return MFA_ERR_NOMEM;
    memcpy(row.nonce, nonce, sizeof(row.nonce));
    row.expires = expires;
    undo_log(t, a, T_SPENT, OP_INS, a->rows[T_SPENT].n);
    vec_insert(&a->rows[T_SPENT], a->rows[T_SPENT].n, &row);
    return MFA_OK;
}

/* The nonces of a expiring before `before`; the caller rolls back on
 * MFA_ERR_NOMEM. */
static mfa_rc
expire_spent(mfa_store_txn *t, mem_acct *a, int64_t before, size_t *n)
{
    vec *v = &a->rows[T_SPENT];
    size_t k = v->n;

    while (k > 0) {
        const mem_spent *x = vec_at(v, --k);
        if (x->expires >= before)
            continue;
        if (!undo_room(t, 1))
            return MFA_ERR_NOMEM;
        delete_row(t, a, T_SPENT, k);
        (*n)++;
    }
    return MFA_OK;
}

static mfa_rc
mem_webauthn_spent_expire(mfa_store_txn *t, const char *account, int64_t before,
                          size_t *n)
{
    mfa_rc rc = MFA_OK;
    size_t i, j;

    *n = 0;
    if (account != NULL) {
        if ((rc = own(t, account, 1)) != MFA_OK || t->a == NULL)
            return rc;
        return expire_spent(t, t->a, before, n);
    }
    if (t->st != NULL || t->mode != MFA_TXN_WRITE)
        return MFA_ERR_INVALID;
    for (i = 0; i < MEM_STRIPES && rc == MFA_OK; i++) {
        table *tb = &t->m->st[i].accts;
        for (j = 0; j < tb->nb && rc == MFA_OK; j++) {
            mem_acct *a;
            for (a = tb->b[j]; a != NULL && rc == MFA_OK; a = a->next)
                rc = expire_spent(t, a, before, n);
        }
    }
    return rc;
}

const mfa_store_backend mfa_int_memory_backend = {
    .abi = MFA_STORE_BACKEND_ABI,
    .name = "memory",
    .close = mem_close,
    .schema_version = mem_schema_version,
    .migrate = mem_migrate,
    .begin = mem_begin,
    .commit = mem_commit,
    .rollback = mem_rollback,
    .factor_list = mem_factor_list,
    .factor_get = mem_factor_get,
    .factor_insert = mem_factor_insert,
    .factor_update = mem_factor_update,
    .factor_delete = mem_factor_delete,
    .factor_scan = mem_factor_scan,
    .factor_expire = mem_factor_expire,
    .throttle_get = mem_throttle_get,
    .throttle_put = mem_throttle_put,
    .throttle_delete = mem_throttle_delete,
    .backup_list = mem_backup_list,
    .backup_insert = mem_backup_insert,
    .backup_use = mem_backup_use,
    .backup_clear = mem_backup_clear,
    .oob_get = mem_oob_get,
    .oob_put = mem_oob_put,
    .oob_delete = mem_oob_delete,
    .throttle_list = mem_throttle_list,
    .device_list = mem_device_list,
    .device_get = mem_device_get,
    .device_put = mem_device_put,
    .device_delete = mem_device_delete,
    .state_scan = mem_state_scan,
    .account_delete = mem_account_delete,
    .webauthn_list = mem_webauthn_list,
    .webauthn_get = mem_webauthn_get,
    .webauthn_insert = mem_webauthn_insert,
    .webauthn_update = mem_webauthn_update,
    .webauthn_delete = mem_webauthn_delete,
    .webauthn_handle_get = mem_webauthn_handle_get,
    .webauthn_handle_put = mem_webauthn_handle_put,
    .webauthn_handle_find = mem_webauthn_handle_find,
    .webauthn_spend = mem_webauthn_spend,
    .webauthn_spent_expire = mem_webauthn_spent_expire,
};

mfa_rc
mfa_int_memory_connect(void **impl)
{
    mem_store *m;
    size_t i;

    if (impl == NULL)
        return MFA_ERR_INVALID;
    *impl = NULL;
    if (sodium_init() < 0)
        return MFA_ERR_INTERNAL;
    m = aligned_alloc(alignof(mem_store),
                      (sizeof(mem_store) + alignof(mem_store) - 1) /
                          alignof(mem_store) * alignof(mem_store));
    if (m == NULL)
        return MFA_ERR_NOMEM;
    memset(m, 0, sizeof(*m));
    for (i = 0; i < MEM_STRIPES; i++) {
        if (pthread_mutex_init(&m->st[i].mu, NULL) != 0) {
            while (i-- > 0)
                pthread_mutex_destroy(&m->st[i].mu);
            free(m);
            return MFA_ERR_INTERNAL;
        }
        m->st[i].txn.m = m;
        m->st[i].txn.st = &m->st[i];
        m->st[i].txn.undo.size = sizeof(undo);
        m->st[i].txn.snap.size = sizeof(mfa_factor_rec);
        m->st[i].txn.wold.size = sizeof(mfa_webauthn_rec);
        m->st[i].txn.wsnap.size = sizeof(mfa_webauthn_rec);
    }
    if (pthread_mutex_init(&m->id_mu, NULL) != 0) {
        for (i = 0; i < MEM_STRIPES; i++)
            pthread_mutex_destroy(&m->st[i].mu);
        free(m);
        return MFA_ERR_INTERNAL;
    }
    m->wide.m = m;
    m->wide.st = NULL;
    m->wide.undo.size = sizeof(undo);
    m->wide.snap.size = sizeof(mfa_factor_rec);
    m->wide.wold.size = sizeof(mfa_webauthn_rec);
    m->wide.wsnap.size = sizeof(mfa_webauthn_rec);
    crypto_shorthash_keygen(m->key);
    *impl = m;
    return MFA_OK;
}
