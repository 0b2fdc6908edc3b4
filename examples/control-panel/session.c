/*
 * Server-side sessions.  The cookie carries only a 256-bit random id; the
 * state (who, how far through the login, the pending enrollment) stays
 * here and expires.
 */
#include "cp.h"

#include <sodium.h>
#include <string.h>

static cp_session table[CP_SESSIONS_MAX];

static void
free_enrollment(cp_session *s)
{
    mfa_enrollment_free(&s->enr);
    s->enr_from_settings = 0;
}

static int
expired(const cp_session *s, int64_t now)
{
    return now - s->last_seen > CP_IDLE_TTL ||
           now - s->created > CP_ABSOLUTE_TTL || now < s->created - 60;
}

cp_session *
cp_session_find(const char *cookie, int64_t now)
{
    uint8_t id[CP_SESSION_IDBYTES];
    size_t n = 0;
    if (!cookie || strlen(cookie) != 2 * CP_SESSION_IDBYTES ||
        sodium_hex2bin(id, sizeof id, cookie, strlen(cookie), NULL, &n, NULL) !=
            0 ||
        n != sizeof id)
        return NULL;
    cp_session *found = NULL;
    /* Every slot is compared in full, so the time taken does not tell how
     * much of a guessed id matched. */
    for (size_t i = 0; i < CP_SESSIONS_MAX; i++) {
        int eq = sodium_memcmp(table[i].id, id, sizeof id) == 0;
        if (eq && table[i].used)
            found = &table[i];
    }
    if (!found)
        return NULL;
    if (expired(found, now)) {
        cp_session_destroy(found);
        return NULL;
    }
    if ((found->state == CP_CODE || found->state == CP_ENROLL) &&
        now >= found->deadline) {
        cp_session_reset(found);
        found->expired_now = 1;
        snprintf(found->notice, sizeof found->notice,
                 "Your sign-in took too long. Log in again.");
    }
    found->last_seen = now;
    return found;
}

cp_session *
cp_session_new(int64_t now)
{
    cp_session *slot = NULL;
    for (size_t i = 0; i < CP_SESSIONS_MAX && !slot; i++)
        if (!table[i].used || expired(&table[i], now))
            slot = &table[i];
    if (!slot) {
        /* Full: the least recently seen session gives way. */
        slot = &table[0];
        for (size_t i = 1; i < CP_SESSIONS_MAX; i++)
            if (table[i].last_seen < slot->last_seen)
                slot = &table[i];
    }
    cp_session_destroy(slot);
    slot->used = 1;
    slot->created = slot->last_seen = now;
    cp_session_rotate(slot);
    return slot;
}

void
cp_session_rotate(cp_session *s)
{
    uint8_t csrf[CP_CSRF_BYTES];
    randombytes_buf(s->id, sizeof s->id);
    randombytes_buf(csrf, sizeof csrf);
    sodium_bin2hex(s->csrf, sizeof s->csrf, csrf, sizeof csrf);
    sodium_memzero(csrf, sizeof csrf);
}

void
cp_session_reset(cp_session *s)
{
    free_enrollment(s);
    s->state = CP_ANON;
    s->user[0] = '\0';
    s->deadline = 0;
    cp_session_rotate(s);
}

void
cp_session_destroy(cp_session *s)
{
    free_enrollment(s);
    sodium_memzero(s, sizeof *s);
}

void
cp_session_cookie(const cp_session *s, char out[2 * CP_SESSION_IDBYTES + 1])
{
    sodium_bin2hex(out, 2 * CP_SESSION_IDBYTES + 1, s->id, sizeof s->id);
}

void
cp_sessions_free_all(void)
{
    for (size_t i = 0; i < CP_SESSIONS_MAX; i++)
        cp_session_destroy(&table[i]);
}

void
cp_sessions_end_user(const char *user)
{
    for (size_t i = 0; i < CP_SESSIONS_MAX; i++)
        if (table[i].used && strcmp(table[i].user, user) == 0)
            cp_session_destroy(&table[i]);
}
