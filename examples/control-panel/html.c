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

/* ---- the style sheet: one column on a phone, nothing wider than the screen */

const char cp_style_css[] =
    "*{box-sizing:border-box}"
    "html{-webkit-text-size-adjust:100%}"
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;"
    "margin:0;background:#f3f5f8;color:#1d2330;overflow-wrap:anywhere}"
    "header{background:#1f3a5f;color:#fff;padding:.6em 1em;display:flex;"
    "flex-wrap:wrap;align-items:center;gap:.4em 1.2em}"
    "header .brand{font-weight:600;font-size:1.1em}"
    "header nav{display:flex;flex-wrap:wrap;gap:.3em 1.2em;flex:1 1 auto}"
    "header a{color:#dfe8f5;text-decoration:none}"
    "header a:focus,header a:hover{text-decoration:underline}"
    "header form.logout{margin:0 0 0 auto}"
    "header button{background:none;border:1px solid #8aa4c8;color:#fff;"
    "padding:.3em .8em;border-radius:4px;cursor:pointer;margin:0;"
    "white-space:nowrap}"
    "main{max-width:54em;margin:1.5em auto;background:#fff;padding:1.5em 2em;"
    "border-radius:8px;box-shadow:0 1px 4px rgba(0,0,0,.12)}"
    "@media (max-width:40em){main{margin:0;border-radius:0;padding:1em}}"
    "h1{font-size:1.5em;margin-top:0}"
    "label{display:block;margin:.9em 0 .3em;font-weight:600}"
    "input[type=text],input[type=password],input[type=tel]{width:100%;"
    "max-width:22em;padding:.5em;font-size:1em;border:1px solid #b6bfcc;"
    "border-radius:4px}"
    "input[aria-invalid=true]{border:2px solid #b42828}"
    ":focus-visible{outline:3px solid #f0a500;outline-offset:2px}"
    "input.code{font-family:ui-monospace,monospace;font-size:1.4em;"
    "letter-spacing:.2em;max-width:9em}"
    "button,.button{display:inline-block;margin-top:1em;background:#2860b5;"
    "color:#fff;border:0;padding:.6em 1.2em;font-size:1em;border-radius:4px;"
    "cursor:pointer;text-decoration:none}"
    "button.secondary,.button.secondary{background:#e4e9f0;color:#1d2330}"
    "button.danger,.button.danger{background:#b42828;color:#fff}"
    ".error{background:#fde8e8;border:1px solid #e6a3a3;color:#7a1414;"
    "padding:.7em 1em;border-radius:4px}"
    ".notice{background:#e7f4ea;border:1px solid #9cc9a7;color:#134d22;"
    "padding:.7em 1em;border-radius:4px}"
    ".method{display:block;border:1px solid #c9d2de;border-radius:6px;"
    "padding:1em;margin:1em 0;width:100%;text-align:left;background:#fff;"
    "color:#1d2330;text-decoration:none;font-size:1em}"
    ".method strong{display:block;font-size:1.1em;color:#2860b5}"
    "ol.steps{list-style:none;padding:0}ol.steps>li{margin:1.2em 0}"
    "ol.steps h2{font-size:1.1em;margin:0 0 .4em}"
    ".qr img{image-rendering:pixelated;border:1px solid #dde2e9;"
    "max-width:100%;height:auto}"
    ".key{font-family:ui-monospace,monospace;font-size:1.2em;"
    "letter-spacing:.05em;background:#f3f5f8;padding:.4em .6em;"
    "border-radius:4px;display:inline-block;word-spacing:.3em;"
    "overflow-wrap:normal;white-space:normal}"
    "input.copy{font-family:ui-monospace,monospace;width:100%;max-width:26em}"
    "dl.details{display:grid;grid-template-columns:max-content minmax(0,1fr);"
    "gap:.3em 1em}dl.details dt{font-weight:600}dl.details dd{margin:0;"
    "min-width:0}@media (max-width:30em){dl.details{grid-template-columns:"
    "minmax(0,1fr)}dl.details dd{margin-bottom:.4em}}"
    "table{border-collapse:collapse;width:100%}"
    "th,td{text-align:left;padding:.5em;border-bottom:1px solid #e1e6ed}"
    "@media (max-width:40em){table.stack,table.stack tbody,table.stack tr,"
    "table.stack td{display:block;width:100%}table.stack tr:first-child"
    "{display:none}table.stack tr{border-bottom:1px solid #c9d2de;"
    "padding:.4em 0}table.stack td{border:0;padding:.2em 0}"
    "table.stack td[data-label]::before{content:attr(data-label) \": \";"
    "font-weight:600}}"
    "ul.codes{columns:2;font-family:ui-monospace,monospace;font-size:1.15em;"
    "padding-left:1.2em}"
    "@media (max-width:26em){ul.codes{columns:1}}"
    ".actions{display:flex;flex-wrap:wrap;gap:0 .8em;align-items:baseline}"
    ".links{margin-top:1.5em;display:flex;flex-wrap:wrap;gap:.5em 1.5em}"
    ".demo{border:2px dashed #c98a00;background:#fff8e5;padding:.7em 1em}"
    "td form{margin:0}td .button,td button{margin:0;padding:.35em .8em}"
    ".vh{position:absolute;width:1px;height:1px;overflow:hidden;"
    "clip:rect(0 0 0 0);white-space:nowrap}"
    "textarea.copy{position:absolute;left:-9999px}"
    ".muted{color:#5b6575}"
    ".check{display:flex;gap:.5em;align-items:center;margin-top:1em}"
    ".check label{display:inline;margin:0;font-weight:normal}"
    ".check input{width:1.2em;height:1.2em;margin:0}"
    "@media print{header,.noprint,.links,script{display:none}"
    "main{box-shadow:none;margin:0}}";

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
