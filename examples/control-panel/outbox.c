/*
 * The outbox: the demo's stand-in for an SMS gateway.  The out-of-band
 * sender callback writes the text message here instead of handing it to an
 * SMS provider, and the /outbox page shows it.  It lives in memory only.
 */
#include "web.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

static cp_message ring[CP_OUTBOX_MAX];
static size_t count;
static size_t next;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

void
cp_outbox_add(int64_t time, const char *to, const char *user, const char *text)
{
    pthread_mutex_lock(&lock);
    cp_message *m = &ring[next];
    sodium_memzero(m, sizeof *m);
    m->time = time;
    snprintf(m->to, sizeof m->to, "%s", to);
    snprintf(m->user, sizeof m->user, "%s", user);
    snprintf(m->text, sizeof m->text, "%s", text);
    next = (next + 1) % CP_OUTBOX_MAX;
    if (count < CP_OUTBOX_MAX)
        count++;
    pthread_mutex_unlock(&lock);
}

int
cp_outbox_get(size_t i, cp_message *out)
{
    int rc = -1;
    pthread_mutex_lock(&lock);
    if (i < count) {
        *out = ring[(next + CP_OUTBOX_MAX - 1 - i) % CP_OUTBOX_MAX];
        rc = 0;
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

void
cp_outbox_clear(void)
{
    pthread_mutex_lock(&lock);
    sodium_memzero(ring, sizeof ring);
    count = next = 0;
    pthread_mutex_unlock(&lock);
}

enum MHD_Result
cp_outbox_page(cp_req *r)
{
    cp_buf b = {0};
    b.secret = 1;
    cp_page_begin(&b, r, "Outbox (demo)");
    cp_buf_puts(&b,
                "<h1>Outbox</h1><p class=\"demo\"><strong>Demo only.</strong>"
                " This page stands in for an SMS gateway: the text messages "
                "that the phone number feature would send are shown here "
                "instead. A real deployment hands them to an SMS provider, "
                "and no page shows them.</p><table id=\"outbox\" "
                "class=\"stack\"><tr><th>Sent</th><th>To</th><th>Account</th>"
                "<th>Message</th></tr>");
    cp_message m;
    size_t i = 0;
    for (; cp_outbox_get(i, &m) == 0; i++) {
        char when[40];
        cp_fmt_time(m.time, when, sizeof when);
        cp_buf_puts(&b, "<tr data-user=\"");
        cp_buf_esc(&b, m.user);
        cp_buf_printf(&b,
                      "\"><td data-label=\"Sent\">%s</td>"
                      "<td data-label=\"To\">",
                      when);
        cp_buf_esc(&b, m.to);
        cp_buf_puts(&b, "</td><td data-label=\"Account\">");
        cp_buf_esc(&b, m.user);
        cp_buf_puts(&b, "</td><td class=\"text\" data-label=\"Message\">");
        cp_buf_esc(&b, m.text);
        cp_buf_puts(&b, "</td></tr>");
    }
    sodium_memzero(&m, sizeof m);
    if (i == 0)
        cp_buf_puts(&b, "<tr><td colspan=\"4\">No messages yet.</td></tr>");
    cp_buf_puts(&b, "</table>");
    cp_page_end(&b);
    return cp_send_html(r, MHD_HTTP_OK, &b);
}
