/* Text buffers, HTML escaping, and the static style sheet and script. */
#include "cp.h"

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

const char cp_style_css[] =
    "*{box-sizing:border-box}"
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;"
    "margin:0;background:#f3f5f8;color:#1d2330}"
    "header{background:#1f3a5f;color:#fff;padding:.7em 1.5em;display:flex;"
    "align-items:center;gap:1.5em}"
    "header .brand{font-weight:600;font-size:1.1em}"
    "header a{color:#dfe8f5;text-decoration:none}"
    "header form{margin:0 0 0 auto}"
    "header button{background:none;border:1px solid #8aa4c8;color:#fff;"
    "padding:.3em .8em;border-radius:4px;cursor:pointer}"
    "main{max-width:54em;margin:2em auto;background:#fff;padding:2em 2.5em;"
    "border-radius:8px;box-shadow:0 1px 4px rgba(0,0,0,.12)}"
    "h1{font-size:1.5em;margin-top:0}"
    "label{display:block;margin:.9em 0 .3em;font-weight:600}"
    "input[type=text],input[type=password],input[type=tel]{width:100%;"
    "max-width:22em;padding:.5em;font-size:1em;border:1px solid #b6bfcc;"
    "border-radius:4px}"
    "input.code{font-family:ui-monospace,monospace;font-size:1.4em;"
    "letter-spacing:.2em;max-width:9em}"
    "button,.button{display:inline-block;margin-top:1em;background:#2860b5;"
    "color:#fff;border:0;padding:.6em 1.2em;font-size:1em;border-radius:4px;"
    "cursor:pointer;text-decoration:none}"
    "button.secondary{background:#e4e9f0;color:#1d2330}"
    "button.danger{background:#b42828}"
    ".error{background:#fde8e8;border:1px solid #e6a3a3;color:#7a1414;"
    "padding:.7em 1em;border-radius:4px}"
    ".notice{background:#e7f4ea;border:1px solid #9cc9a7;color:#134d22;"
    "padding:.7em 1em;border-radius:4px}"
    ".method{display:block;border:1px solid #c9d2de;border-radius:6px;"
    "padding:1em;margin:1em 0;width:100%;text-align:left;background:#fff;"
    "color:#1d2330;text-decoration:none;font-size:1em}"
    ".method strong{display:block;font-size:1.1em;color:#2860b5}"
    ".qr img{image-rendering:pixelated;border:1px solid #dde2e9}"
    ".key{font-family:ui-monospace,monospace;font-size:1.3em;"
    "letter-spacing:.05em;background:#f3f5f8;padding:.4em .6em;"
    "border-radius:4px;display:inline-block;white-space:nowrap}"
    "input.copy{font-family:ui-monospace,monospace;width:100%;max-width:26em}"
    "dl.details{display:grid;grid-template-columns:max-content auto;"
    "gap:.3em 1em}dl.details dt{font-weight:600}dl.details dd{margin:0}"
    "table{border-collapse:collapse;width:100%}"
    "th,td{text-align:left;padding:.5em;border-bottom:1px solid #e1e6ed}"
    "ul.codes{columns:2;font-family:ui-monospace,monospace;font-size:1.15em}"
    ".links{margin-top:1.5em}.links a{margin-right:1.5em}"
    ".demo{border:2px dashed #c98a00;background:#fff8e5;padding:.7em 1em}"
    "td form{margin:0}td button{margin:0;white-space:nowrap;padding:.35em .8em}"
    ".muted{color:#5b6575}";

/* Served as a file: the Content-Security-Policy forbids inline script. */
const char cp_app_js[] =
    "document.querySelectorAll('button[data-copy]').forEach(function(b){\n"
    "  b.hidden=false;\n"
    "  b.addEventListener('click',function(){\n"
    "    var t=document.getElementById(b.getAttribute('data-copy'));\n"
    "    t.select();\n"
    "    if(navigator.clipboard){navigator.clipboard.writeText(t.value);}\n"
    "    b.textContent='Copied';\n"
    "  });\n"
    "});\n";
