/*
 * Server-side sessions.  The cookie carries only a 256-bit random id; the
 * state (who, how far through the login, the pending enrollment) stays
 * here and expires.
 *
 * Only a correct password makes a session, and a full table never evicts
 * another user's live session: expired ones are reclaimed, a user past
 * CP_SESSIONS_PER_USER loses their own oldest, and otherwise the new login
 * waits (503).  So an anonymous visitor can push nobody out.
 *
 * Locking: `tbl` guards the index (used, id, user, last_seen, gen,
 * revoked); each slot's `lock` is held by the request that uses its
 * session, from the handler's start to the queued response (never while
 * the response is sent: a pool thread must not wait for a connection it
 * serves itself).  A slot lock is taken before `tbl`, never after, except
 * by trylock.
 */
#include "web.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

typedef struct slot {
    pthread_mutex_t lock;
    int used;
    int revoked;
    uint64_t gen;
    uint8_t id[CP_SESSION_IDBYTES];
    char user[CP_USER_MAX + 1];
    int64_t last_seen;
    cp_session s;
} slot;

static slot table[CP_SESSIONS_MAX];
static pthread_mutex_t tbl = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void
init_locks(void)
{
    for (size_t i = 0; i < CP_SESSIONS_MAX; i++)
        pthread_mutex_init(&table[i].lock, NULL);
}

static slot *
slot_of(cp_session *s)
{
    return (slot *)(void *)((char *)s - offsetof(slot, s));
}

static int
expired(const slot *t, int64_t now)
{
    const cp_session *s = &t->s;
    return now - t->last_seen > CP_IDLE_TTL ||
           now - s->created > CP_ABSOLUTE_TTL || now < s->created - 60 ||
           ((s->state == CP_CODE || s->state == CP_ENROLL) &&
            now >= s->deadline);
}

/* Wipe a slot's session; tbl and the slot lock held. */
static void
wipe(slot *t)
{
    mfa_enrollment_free(&t->s.enr);
    cp_session_drop_codes(&t->s);
    sodium_memzero(&t->s, sizeof t->s);
    sodium_memzero(t->id, sizeof t->id);
    t->user[0] = '\0';
    t->used = 0;
    t->revoked = 0;
    t->gen++;
}

cp_session *
cp_session_acquire(const char *cookie, int64_t now, int *gone)
{
    pthread_once(&once, init_locks);
    *gone = 0;
    uint8_t id[CP_SESSION_IDBYTES];
    size_t n = 0;
    if (!cookie || strlen(cookie) != 2 * CP_SESSION_IDBYTES ||
        sodium_hex2bin(id, sizeof id, cookie, strlen(cookie), NULL, &n, NULL) !=
            0 ||
        n != sizeof id)
        return NULL;
    slot *found = NULL;
    pthread_mutex_lock(&tbl);
    /* Every slot is compared in full, so the time taken does not tell how
     * much of a guessed id matched. */
    for (size_t i = 0; i < CP_SESSIONS_MAX; i++) {
        int eq = sodium_memcmp(table[i].id, id, sizeof id) == 0;
        if (eq && table[i].used)
            found = &table[i];
    }
    uint64_t gen = found ? found->gen : 0;
    pthread_mutex_unlock(&tbl);
    if (!found)
        return NULL;
    /* A session busy for more than a second (another tab's request) gets
     * "try again": a user's parallel requests may not hold every thread. */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 1;
    if (pthread_mutex_timedlock(&found->lock, &until) != 0) {
        *gone = 2;
        return NULL;
    }
    pthread_mutex_lock(&tbl);
    if (found->gen != gen || !found->used ||
        sodium_memcmp(found->id, id, sizeof id) != 0) {
        /* Ended or replaced while this request waited for it. */
        pthread_mutex_unlock(&tbl);
        pthread_mutex_unlock(&found->lock);
        *gone = 1;
        return NULL;
    }
    if (found->revoked || expired(found, now)) {
        wipe(found);
        pthread_mutex_unlock(&tbl);
        pthread_mutex_unlock(&found->lock);
        *gone = 1;
        return NULL;
    }
    found->last_seen = now;
    pthread_mutex_unlock(&tbl);
    return &found->s;
}

/* A slot to reuse, locked; tbl held. */
static slot *
take_slot(const char *user, int64_t now)
{
    size_t mine = 0;
    slot *oldest_mine = NULL;
    for (size_t i = 0; i < CP_SESSIONS_MAX; i++) {
        slot *t = &table[i];
        if (t->used && strcmp(t->user, user) == 0) {
            mine++;
            if (!oldest_mine || t->last_seen < oldest_mine->last_seen)
                oldest_mine = t;
        }
    }
    if (mine >= CP_SESSIONS_PER_USER &&
        pthread_mutex_trylock(&oldest_mine->lock) == 0) {
        wipe(oldest_mine);
        return oldest_mine;
    }
    for (size_t i = 0; i < CP_SESSIONS_MAX; i++) {
        slot *t = &table[i];
        /* Locked first: a session's state is its request's to change. */
        if (pthread_mutex_trylock(&t->lock) != 0)
            continue; /* a request is using it: leave it */
        if (!t->used || t->revoked || expired(t, now)) {
            if (t->used)
                wipe(t);
            return t;
        }
        pthread_mutex_unlock(&t->lock);
    }
    return NULL;
}

cp_session *
cp_session_create(const char *user, cp_state st, int64_t now)
{
    pthread_once(&once, init_locks);
    pthread_mutex_lock(&tbl);
    slot *t = take_slot(user, now);
    if (t) {
        t->used = 1;
        t->gen++;
        t->last_seen = now;
        snprintf(t->user, sizeof t->user, "%s", user);
        randombytes_buf(t->id, sizeof t->id);
    }
    pthread_mutex_unlock(&tbl);
    if (!t)
        return NULL;
    cp_session *s = &t->s;
    s->state = st;
    s->created = now;
    snprintf(s->user, sizeof s->user, "%s", user);
    cp_session_rotate(s);
    return s;
}

void
cp_session_release(cp_session *s)
{
    if (s)
        pthread_mutex_unlock(&slot_of(s)->lock);
}

void
cp_session_rotate(cp_session *s)
{
    slot *t = slot_of(s);
    uint8_t csrf[CP_CSRF_BYTES];
    randombytes_buf(csrf, sizeof csrf);
    sodium_bin2hex(s->csrf, sizeof s->csrf, csrf, sizeof csrf);
    sodium_memzero(csrf, sizeof csrf);
    pthread_mutex_lock(&tbl);
    randombytes_buf(t->id, sizeof t->id);
    pthread_mutex_unlock(&tbl);
}

void
cp_session_end(cp_session *s)
{
    pthread_mutex_lock(&tbl);
    wipe(slot_of(s));
    pthread_mutex_unlock(&tbl);
}

void
cp_session_cookie(const cp_session *s, char out[2 * CP_SESSION_IDBYTES + 1])
{
    const slot *t =
        (const slot *)(const void *)((const char *)s - offsetof(slot, s));
    /* The id changes only under the slot lock, which the caller holds. */
    sodium_bin2hex(out, 2 * CP_SESSION_IDBYTES + 1, t->id, sizeof t->id);
}

int
cp_session_keep_codes(cp_session *s, char **codes, size_t n)
{
    cp_session_drop_codes(s);
    if (n > CP_CODES_MAX)
        return -1;
    size_t each = 32;
    s->codes = sodium_malloc(n * each);
    if (!s->codes)
        return -1;
    for (size_t i = 0; i < n; i++)
        snprintf(s->codes + i * each, each, "%s", codes[i]);
    s->ncodes = n;
    return 0;
}

void
cp_session_drop_codes(cp_session *s)
{
    if (s->codes)
        sodium_free(s->codes); /* wipes */
    s->codes = NULL;
    s->ncodes = 0;
}

void
cp_sessions_free_all(void)
{
    pthread_once(&once, init_locks);
    pthread_mutex_lock(&tbl);
    for (size_t i = 0; i < CP_SESSIONS_MAX; i++)
        if (table[i].used)
            wipe(&table[i]);
    pthread_mutex_unlock(&tbl);
}

void
cp_sessions_end_user(const char *user)
{
    /* Marked here, wiped by their next request or reuse: their slots may
     * be locked by requests running now. */
    pthread_mutex_lock(&tbl);
    for (size_t i = 0; i < CP_SESSIONS_MAX; i++)
        if (table[i].used && strcmp(table[i].user, user) == 0)
            table[i].revoked = 1;
    pthread_mutex_unlock(&tbl);
}
