/*
 * The outbox: the demo's stand-in for an SMS gateway.  The out-of-band
 * sender callback writes the text message here instead of handing it to an
 * SMS provider, and the /outbox page shows it.  It lives in memory only.
 */
#include "cp.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static cp_message ring[CP_OUTBOX_MAX];
static size_t count;
static size_t next;

void
cp_outbox_add(int64_t time, const char *to, const char *user, const char *text)
{
    cp_message *m = &ring[next];
    sodium_memzero(m, sizeof *m);
    m->time = time;
    snprintf(m->to, sizeof m->to, "%s", to);
    snprintf(m->user, sizeof m->user, "%s", user);
    snprintf(m->text, sizeof m->text, "%s", text);
    next = (next + 1) % CP_OUTBOX_MAX;
    if (count < CP_OUTBOX_MAX)
        count++;
}

size_t
cp_outbox_count(void)
{
    return count;
}

const cp_message *
cp_outbox_get(size_t i)
{
    if (i >= count)
        return NULL;
    return &ring[(next + CP_OUTBOX_MAX - 1 - i) % CP_OUTBOX_MAX];
}

void
cp_outbox_clear(void)
{
    sodium_memzero(ring, sizeof ring);
    count = next = 0;
}
