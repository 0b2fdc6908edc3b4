/*
 * HTTP plumbing: request bodies, form decoding, cookies, CSRF, responses
 * with the security headers, and the router.
 */
#include "http.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BODY_MAX 16384

static const char csp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'";

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode application/x-www-form-urlencoded text in place. */
static void
url_decode(char *s)
{
    char *o = s;
    for (; *s; s++) {
        if (*s == '+') {
            *o++ = ' ';
        } else if (*s == '%' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
            *o++ = (char)(hexval(s[1]) * 16 + hexval(s[2]));
            s += 2;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
}

static void
parse_form(cp_req *r)
{
    if (!r->body.p)
        return;
    char *p = r->body.p;
    while (*p && r->nfields < CP_FIELDS_MAX) {
        char *amp = strchr(p, '&');
        if (amp)
            *amp = '\0';
        char *eq = strchr(p, '=');
        if (eq) {
            *eq = '\0';
            url_decode(p);
            url_decode(eq + 1);
            r->fields[r->nfields].name = p;
            r->fields[r->nfields].value = eq + 1;
            r->nfields++;
        }
        if (!amp)
            break;
        p = amp + 1;
    }
}

const char *
cp_form(const cp_req *r, const char *name)
{
    for (size_t i = 0; i < r->nfields; i++)
        if (strcmp(r->fields[i].name, name) == 0)
            return r->fields[i].value;
    return "";
}

static const char *
cookie_name(void)
{
    /* The __Host- prefix pins the cookie to this host, path / and HTTPS. */
    return cp.secure_cookies ? "__Host-cp_session" : "cp_session";
}

static void
free_response_buf(void *cls)
{
    cp_buf *b = cls;
    cp_buf_free(b);
    free(b);
}

static void
log_request(const cp_req *r, unsigned status)
{
    char path[128];
    size_t i = 0;
    /* The path is the client's text: only printable ASCII reaches the log. */
    for (; r->url[i] && i < sizeof path - 1; i++) {
        unsigned char c = (unsigned char)r->url[i];
        path[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    path[i] = '\0';
    cp_log("%s %s %u", r->method, path, status);
}

static enum MHD_Result
queue(cp_req *r, unsigned status, struct MHD_Response *resp, const char *type)
{
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Security-Policy", csp);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    if (type)
        MHD_add_response_header(resp, "Content-Type", type);
    if (cp.secure_cookies)
        MHD_add_response_header(resp, "Strict-Transport-Security",
                                "max-age=31536000");
    if (!r->is_static)
        MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (r->s) {
        char id[2 * CP_SESSION_IDBYTES + 1];
        cp_session_cookie(r->s, id);
        if (strcmp(id, r->cookie_in) != 0) {
            char cookie[256];
            snprintf(cookie, sizeof cookie,
                     "%s=%s; Path=/; HttpOnly; SameSite=Strict%s",
                     cookie_name(), id, cp.secure_cookies ? "; Secure" : "");
            MHD_add_response_header(resp, "Set-Cookie", cookie);
        }
        sodium_memzero(id, sizeof id);
    }
    enum MHD_Result ret = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    log_request(r, status);
    return ret;
}

enum MHD_Result
cp_send_html(cp_req *r, unsigned status, cp_buf *html)
{
    cp_buf *b = malloc(sizeof *b);
    if (!b || html->oom) {
        free(b);
        cp_buf_free(html);
        return MHD_NO;
    }
    *b = *html;
    memset(html, 0, sizeof *html);
    if (!b->p)
        cp_buf_puts(b, "");
    struct MHD_Response *resp =
        MHD_create_response_from_buffer_with_free_callback_cls(
            b->len, b->p, free_response_buf, b);
    if (!resp) {
        free_response_buf(b);
        return MHD_NO;
    }
    return queue(r, status, resp, "text/html; charset=utf-8");
}

enum MHD_Result
cp_send_static(cp_req *r, const char *body, const char *type)
{
    r->is_static = 1;
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        strlen(body), (void *)(uintptr_t)body, MHD_RESPMEM_PERSISTENT);
    if (resp)
        MHD_add_response_header(resp, "Cache-Control", "max-age=3600");
    return queue(r, MHD_HTTP_OK, resp, type);
}

enum MHD_Result
cp_redirect(cp_req *r, const char *location)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        0, (void *)(uintptr_t) "", MHD_RESPMEM_PERSISTENT);
    if (resp)
        MHD_add_response_header(resp, "Location", location);
    return queue(r, MHD_HTTP_SEE_OTHER, resp, NULL);
}

void
cp_csrf_input(cp_buf *b, const cp_req *r)
{
    cp_buf_printf(b, "<input type=\"hidden\" name=\"csrf\" value=\"%s\">",
                  r->s->csrf);
}

static int
csrf_ok(const cp_req *r)
{
    const char *t = cp_form(r, "csrf");
    size_t n = strlen(r->s->csrf);
    return strlen(t) == n && n > 0 && sodium_memcmp(t, r->s->csrf, n) == 0;
}

enum MHD_Result
cp_handle(void *cls, struct MHD_Connection *conn, const char *url,
          const char *method, const char *version, const char *upload_data,
          size_t *upload_data_size, void **con_cls)
{
    (void)cls;
    (void)version;
    cp_req *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        r->body.secret = 1; /* passwords and codes pass through it */
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (r->body.len + *upload_data_size > BODY_MAX)
            r->too_big = 1;
        else
            cp_buf_putn(&r->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }

    r->conn = conn;
    r->url = url;
    r->method = method;
    r->now = cp_now();
    int is_post = strcmp(method, "POST") == 0;
    int is_get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (!is_get && !is_post)
        return cp_error_page(r, MHD_HTTP_METHOD_NOT_ALLOWED,
                             "That method is not allowed here.");
    if (strcmp(url, "/static/style.css") == 0)
        return cp_send_static(r, cp_style_css, "text/css; charset=utf-8");
    if (strcmp(url, "/static/app.js") == 0)
        return cp_send_static(r, cp_app_js, "text/javascript; charset=utf-8");

    const char *cookie =
        MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, cookie_name());
    if (cookie && strlen(cookie) < sizeof r->cookie_in)
        snprintf(r->cookie_in, sizeof r->cookie_in, "%s", cookie);
    r->s = cp_session_find(r->cookie_in, r->now);
    if (!r->s)
        r->s = cp_session_new(r->now);
    if (r->s->expired_now) {
        /* Its form carries the old CSRF token: send the user to log in
         * again with the notice rather than to a "form expired" error. */
        r->s->expired_now = 0;
        if (is_post)
            return cp_redirect(r, "/login");
    }

    if (is_post) {
        const char *type = MHD_lookup_connection_value(
            conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (r->too_big)
            return cp_error_page(r, MHD_HTTP_CONTENT_TOO_LARGE,
                                 "That form was too large.");
        if (!type ||
            strncasecmp(type, "application/x-www-form-urlencoded", 33) != 0)
            return cp_error_page(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                 "Unsupported form encoding.");
        parse_form(r);
        if (!csrf_ok(r))
            return cp_error_page(
                r, MHD_HTTP_FORBIDDEN,
                "This form has expired. Go back, reload the page and try "
                "again.");
    }
    return cp_route(r, is_post);
}

void
cp_request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                     enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    cp_req *r = *con_cls;
    if (!r)
        return;
    cp_buf_free(&r->body);
    sodium_memzero(r, sizeof *r);
    free(r);
    *con_cls = NULL;
}
