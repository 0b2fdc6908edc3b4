/* Text buffers, HTML escaping, the page layout, and the static style
 * sheet and script.  No libmfa call here. */
#include "web.h"

#include <ctype.h>
#include <time.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
grow(cp_buf *b, size_t extra)
{
    if (b->oom)
        return -1;
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = malloc(cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    if (b->p) {
        memcpy(p, b->p, b->len);
        /* Copy instead of realloc so that an old block holding a secret
         * can be wiped before it is released. */
        if (b->secret)
            sodium_memzero(b->p, b->cap);
        free(b->p);
    }
    b->p = p;
    b->cap = cap;
    b->p[b->len] = '\0';
    return 0;
}

void
cp_buf_putn(cp_buf *b, const char *s, size_t n)
{
    if (grow(b, n) != 0)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void
cp_buf_puts(cp_buf *b, const char *s)
{
    cp_buf_putn(b, s, strlen(s));
}

void
cp_buf_printf(cp_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || grow(b, (size_t)n) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void
cp_buf_esc(cp_buf *b, const char *s)
{
    if (!s)
        return;
    const char *run = s;
    for (; *s; s++) {
        const char *rep = NULL;
        switch (*s) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        default:
            break;
        }
        if (rep) {
            cp_buf_putn(b, run, (size_t)(s - run));
            cp_buf_puts(b, rep);
            run = s + 1;
        }
    }
    cp_buf_putn(b, run, (size_t)(s - run));
}

void
cp_buf_json_str(cp_buf *b, const char *s)
{
    cp_buf_puts(b, "\"");
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            cp_buf_printf(b, "\\%c", c);
        else if (c < 0x20 || c == '<' || c == '>' || c == '&')
            cp_buf_printf(b, "\\u%04x", c); /* inert even inside HTML */
        else
            cp_buf_putn(b, s, 1);
    }
    cp_buf_puts(b, "\"");
}

void
cp_buf_free(cp_buf *b)
{
    if (b->p) {
        if (b->secret)
            sodium_memzero(b->p, b->cap);
        free(b->p);
    }
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ---- the layout -----------------------------------------------------------
 */

void
cp_page_begin(cp_buf *b, cp_req *r, const char *title)
{
    cp_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
                   "<meta charset=\"utf-8\">"
                   "<meta name=\"viewport\" content=\"width=device-width, "
                   "initial-scale=1\"><title>");
    cp_buf_esc(b, title);
    cp_buf_puts(b, " - ");
    cp_buf_esc(b, cp.issuer);
    cp_buf_puts(b,
                "</title><link rel=\"stylesheet\" href=\"/static/style.css\">"
                "</head><body><header><span class=\"brand\">");
    cp_buf_esc(b, cp.issuer);
    cp_buf_puts(b, "</span><nav aria-label=\"Main\">");
    const cp_session *s = r->s;
    if (s && s->state == CP_FULL) {
        cp_user u;
        cp_buf_puts(b, "<a href=\"/dashboard\">Dashboard</a>"
                       "<a href=\"/settings\">Security settings</a>");
        if (cp_users_get(cp.users, s->user, &u) == 0 && u.is_admin)
            cp_buf_puts(b, "<a href=\"/admin\">Admin</a>");
    }
    cp_buf_puts(b, "<a href=\"/outbox\">Outbox (demo)</a></nav>");
    if (s) {
        cp_buf_puts(b, "<form method=\"post\" action=\"/logout\" "
                       "class=\"logout\">");
        cp_csrf_input(b, r);
        cp_buf_puts(b, "<button type=\"submit\" id=\"logout\">Log out</button>"
                       "</form>");
    }
    cp_buf_puts(b, "</header><main id=\"main\">");
}

void
cp_page_end(cp_buf *b)
{
    cp_buf_puts(b, "</main><script src=\"/static/app.js\"></script>"
                   "</body></html>\n");
}

/* The fixed notices an anonymous visitor is sent to (?n=KEY): no session
 * to carry them, and no user text in a URL. */
static const struct {
    const char *key, *text;
    int error;
} fixed_notices[] = {
    {"logged-out", "You have logged out.", 0},
    {"created",
     "Your account has been created. Log in to set up multi-factor "
     "authentication.",
     0},
    {"first", "Log in first.", 0},
    {"ended", "Your sign-in has ended. Log in again.", 0},
    {"busy",
     "Too many people are signing in right now. Try again in a "
     "minute.",
     1},
};

void
cp_notice(cp_req *r, const char *msg)
{
    if (r->s) {
        snprintf(r->s->notice, sizeof r->s->notice, "%s", msg);
        r->s->notice_is_error = 0;
    }
}

void
cp_notice_error(cp_req *r, const char *msg)
{
    if (r->s) {
        snprintf(r->s->notice, sizeof r->s->notice, "%s", msg);
        r->s->notice_is_error = 1;
    }
}

static void
notice_html(cp_buf *b, const char *text, int error)
{
    cp_buf_puts(b, error ? "<p class=\"error\" role=\"alert\">"
                         : "<p class=\"notice\" role=\"status\">");
    cp_buf_esc(b, text);
    cp_buf_puts(b, "</p>");
}

void
cp_page_notice(cp_buf *b, cp_req *r)
{
    if (r->s && r->s->notice[0]) {
        notice_html(b, r->s->notice, r->s->notice_is_error);
        r->s->notice[0] = '\0';
        return;
    }
    const char *key = cp_query(r, "n");
    for (size_t i = 0; i < sizeof fixed_notices / sizeof fixed_notices[0]; i++)
        if (strcmp(key, fixed_notices[i].key) == 0)
            notice_html(b, fixed_notices[i].text, fixed_notices[i].error);
}

void
cp_field_html(cp_buf *b, const cp_input *in)
{
    cp_buf_printf(b, "<label for=\"%s\">", in->id);
    cp_buf_esc(b, in->label);
    cp_buf_puts(b, "</label>");
    if (in->hint) {
        cp_buf_printf(b, "<p class=\"muted\" id=\"%s-hint\">", in->id);
        cp_buf_esc(b, in->hint);
        cp_buf_puts(b, "</p>");
    }
    if (in->error && in->error[0]) {
        cp_buf_printf(b, "<p class=\"error\" id=\"%s-error\" role=\"alert\">",
                      in->id);
        cp_buf_esc(b, in->error);
        cp_buf_puts(b, "</p>");
    }
    cp_buf_printf(b, "<input type=\"%s\" id=\"%s\" name=\"%s\"",
                  in->type ? in->type : "text", in->id, in->id);
    if (in->autocomplete)
        cp_buf_printf(b, " autocomplete=\"%s\"", in->autocomplete);
    int err = in->error && in->error[0];
    if (err || in->hint) {
        cp_buf_puts(b, " aria-describedby=\"");
        if (err)
            cp_buf_printf(b, "%s-error%s", in->id, in->hint ? " " : "");
        if (in->hint)
            cp_buf_printf(b, "%s-hint", in->id);
        cp_buf_puts(b, "\"");
    }
    if (err)
        cp_buf_puts(b, " aria-invalid=\"true\"");
    if (err && !(in->extra && strstr(in->extra, "autofocus")))
        cp_buf_puts(b, " autofocus"); /* the field to fix gets the focus */
    if (in->value) {
        cp_buf_puts(b, " value=\"");
        cp_buf_esc(b, in->value);
        cp_buf_puts(b, "\"");
    }
    if (in->extra)
        cp_buf_printf(b, " %s", in->extra);
    cp_buf_puts(b, ">");
}

void
cp_code_field(cp_buf *b, const char *label, const char *error)
{
    cp_input in = {.id = "code",
                   .label = label,
                   .autocomplete = "one-time-code",
                   .error = error,
                   .extra = "class=\"code\" inputmode=\"numeric\" "
                            "maxlength=\"12\" required autofocus"};
    cp_field_html(b, &in);
}

enum MHD_Result
cp_error_page(cp_req *r, unsigned status, const char *msg)
{
    cp_buf b = {0};
    if (r->json) {
        cp_buf_puts(&b, "{\"error\":");
        cp_buf_json_str(&b, msg);
        cp_buf_puts(&b, "}");
        return cp_send_json(r, status, &b);
    }
    cp_page_begin(&b, r, "Error");
    cp_buf_puts(&b, "<h1>Something went wrong</h1>");
    notice_html(&b, msg, 1);
    cp_buf_puts(&b, "<p><a href=\"/\">Back to the start</a></p>");
    cp_page_end(&b);
    return cp_send_html(r, status, &b);
}

void
cp_fmt_time(int64_t t, char *out, size_t size)
{
    if (t <= 0) {
        snprintf(out, size, "never");
        return;
    }
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, size, "%Y-%m-%d %H:%M UTC", &tm);
}

void
cp_phone_tail(const char *phone, char out[8])
{
    size_t n = 0;
    char digits[CP_PHONE_MAX + 1];
    for (const char *p = phone; *p && n < CP_PHONE_MAX; p++)
        if (isdigit((unsigned char)*p))
            digits[n++] = *p;
    digits[n] = '\0';
    snprintf(out, 8, "%s", n >= 2 ? digits + n - 2 : digits);
}

/* The style sheet is style.css, embedded at build time (embed.py). */

/* Served as a file: the Content-Security-Policy forbids inline script. */
const char cp_app_js[] =
    "document.querySelectorAll('button[data-copy]').forEach(function(b){\n"
    "  b.hidden=false;\n"
    "  b.addEventListener('click',function(){\n"
    "    var t=document.getElementById(b.getAttribute('data-copy'));\n"
    "    var text=t.value!==undefined?t.value:t.textContent;\n"
    "    if(t.select)t.select();\n"
    "    if(navigator.clipboard){navigator.clipboard.writeText(text);}\n"
    "    else{document.execCommand('copy');}\n"
    "    b.textContent='Copied';\n"
    "  });\n"
    "});\n"
    "document.querySelectorAll('button[data-print]').forEach(function(b){\n"
    "  b.hidden=false;\n"
    "  b.addEventListener('click',function(){window.print();});\n"
    "});\n";
