/*
 * Web plumbing: request bodies, form decoding, cookies, CSRF, responses
 * with the security headers, and the route table.  No libmfa call here.
 */
#include "web.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BODY_MAX 16384
/* A passkey endpoint's form: the browser's response JSON (at most
 * MFA_WEBAUTHN_JSON_MAX, and decoding only shrinks it) with the CSRF token
 * and a label around it. */
#define JSON_BODY_MAX (MFA_WEBAUTHN_JSON_MAX + 1024)

/* connect-src: the passkey script's fetch() to this origin only. */
static const char csp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'";

/*
 * The endpoints the passkey script calls with fetch(): forms like every
 * other POST (the CSRF token included), answered with JSON.
 */
static const char *const json_paths[] = {
    "/mfa/passkey/options", "/mfa/passkey/finish",    "/login/key/options",
    "/login/key/finish",    "/login/passkey/options", "/login/passkey/finish",
};

static int
json_endpoint(const char *url)
{
    for (size_t i = 0; i < sizeof json_paths / sizeof json_paths[0]; i++)
        if (strcmp(url, json_paths[i]) == 0)
            return 1;
    return 0;
}

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

/* The __Host- prefix pins a cookie to this host, path / and HTTPS. */
static const char *
cookie_name(void)
{
    return cp.secure_cookies ? "__Host-cp_session" : "cp_session";
}

static const char *
csrf_cookie_name(void)
{
    return cp.secure_cookies ? "__Host-cp_csrf" : "cp_csrf";
}

static const char *
device_cookie_name(void)
{
    return cp.secure_cookies ? "__Host-cp_device" : "cp_device";
}

/* max_age: -1 a browser-session cookie, 0 clear, else seconds. */
static void
set_cookie(struct MHD_Response *resp, const char *name, const char *value,
           long max_age)
{
    char cookie[256], age[40] = "";
    if (max_age >= 0)
        snprintf(age, sizeof age, "; Max-Age=%ld", max_age);
    snprintf(cookie, sizeof cookie,
             "%s=%s; Path=/; HttpOnly; SameSite=Strict%s%s", name, value,
             cp.secure_cookies ? "; Secure" : "", age);
    MHD_add_response_header(resp, "Set-Cookie", cookie);
    sodium_memzero(cookie, sizeof cookie);
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
        if (strcmp(id, r->cookie_in) != 0)
            set_cookie(resp, cookie_name(), id, -1);
        sodium_memzero(id, sizeof id);
    } else if (r->ended || (r->cookie_in[0] && !r->s && !r->busy)) {
        set_cookie(resp, cookie_name(), "", 0);
    }
    if (r->anon_csrf[0] && strcmp(r->anon_csrf, r->csrf_in) != 0)
        set_cookie(resp, csrf_cookie_name(), r->anon_csrf, -1);
    /* The device cookie outlives the trust it may carry (kept in the
     * store): a known device spends its own throttle budget. */
    if (r->device_out[0])
        set_cookie(resp, device_cookie_name(), r->device_out, 400L * 86400);
    else if (r->device_drop)
        set_cookie(resp, device_cookie_name(), "", 0);
    enum MHD_Result ret = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    log_request(r, status);
    return ret;
}

/* Send the buffer's bytes (taken over: *body is left empty) as `type`;
 * an empty buffer sends `empty`. */
static enum MHD_Result
send_buf(cp_req *r, unsigned status, cp_buf *body, const char *empty,
         const char *type)
{
    cp_buf *b = malloc(sizeof *b);
    if (!b || body->oom) {
        free(b);
        cp_buf_free(body);
        return MHD_NO;
    }
    *b = *body;
    memset(body, 0, sizeof *body);
    if (!b->p)
        cp_buf_puts(b, empty);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer_with_free_callback_cls(
            b->len, b->p, free_response_buf, b);
    if (!resp) {
        free_response_buf(b);
        return MHD_NO;
    }
    return queue(r, status, resp, type);
}

enum MHD_Result
cp_send_html(cp_req *r, unsigned status, cp_buf *html)
{
    return send_buf(r, status, html, "", "text/html; charset=utf-8");
}

enum MHD_Result
cp_send_json(cp_req *r, unsigned status, cp_buf *json)
{
    return send_buf(r, status, json, "{}", "application/json");
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
    if (r->json) {
        /* fetch() would follow a 303 to a page: the script goes there */
        cp_buf b = {0};
        cp_buf_puts(&b, "{\"next\":");
        cp_buf_json_str(&b, location);
        cp_buf_puts(&b, "}");
        return cp_send_json(r, MHD_HTTP_OK, &b);
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        0, (void *)(uintptr_t) "", MHD_RESPMEM_PERSISTENT);
    if (resp)
        MHD_add_response_header(resp, "Location", location);
    return queue(r, MHD_HTTP_SEE_OTHER, resp, NULL);
}

/*
 * A session's forms carry its token.  An anonymous visitor has no session:
 * its forms carry the value of a random cookie (double submit), which a
 * page of another site can neither read nor set.
 */
void
cp_csrf_input(cp_buf *b, cp_req *r)
{
    const char *t = r->s ? r->s->csrf : r->anon_csrf;
    if (!r->s && !r->anon_csrf[0]) {
        if (strlen(r->csrf_in) == 2 * CP_CSRF_BYTES) {
            memcpy(r->anon_csrf, r->csrf_in, sizeof r->anon_csrf);
        } else {
            uint8_t raw[CP_CSRF_BYTES];
            randombytes_buf(raw, sizeof raw);
            sodium_bin2hex(r->anon_csrf, sizeof r->anon_csrf, raw, sizeof raw);
        }
    }
    cp_buf_printf(b, "<input type=\"hidden\" name=\"csrf\" value=\"%s\">", t);
}

static int
csrf_ok(const cp_req *r)
{
    const char *t = cp_form(r, "csrf");
    const char *want = r->s ? r->s->csrf : r->csrf_in;
    size_t n = strlen(want);
    return n == 2 * CP_CSRF_BYTES && strlen(t) == n &&
           sodium_memcmp(t, want, n) == 0;
}

const char *
cp_query(const cp_req *r, const char *name)
{
    const char *v =
        MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
    return v ? v : "";
}

enum MHD_Result
cp_send_download(cp_req *r, cp_buf *text, const char *file)
{
    cp_buf *b = malloc(sizeof *b);
    if (!b || text->oom) {
        free(b);
        cp_buf_free(text);
        return MHD_NO;
    }
    *b = *text;
    memset(text, 0, sizeof *text);
    if (!b->p)
        cp_buf_puts(b, "");
    struct MHD_Response *resp =
        MHD_create_response_from_buffer_with_free_callback_cls(
            b->len, b->p, free_response_buf, b);
    if (!resp) {
        free_response_buf(b);
        return MHD_NO;
    }
    char disp[128];
    snprintf(disp, sizeof disp, "attachment; filename=\"%s\"", file);
    MHD_add_response_header(resp, "Content-Disposition", disp);
    return queue(r, MHD_HTTP_OK, resp, "text/plain; charset=utf-8");
}

const char *
cp_device_token(const cp_req *r)
{
    if (r->device_out[0])
        return r->device_out;
    return r->device_in[0] && !r->device_drop ? r->device_in : NULL;
}

void
cp_device_keep(cp_req *r, mfa_result *res)
{
    if (res->device_token[0]) {
        snprintf(r->device_out, sizeof r->device_out, "%s", res->device_token);
        r->device_drop = 0;
    }
    sodium_memzero(res->device_token, sizeof res->device_token);
}

void
cp_device_drop(cp_req *r)
{
    sodium_memzero(r->device_in, sizeof r->device_in);
    sodium_memzero(r->device_out, sizeof r->device_out);
    r->device_drop = 1;
}

int
cp_device_bad(mfa_rc rc)
{
    return rc == MFA_ERR_DEVICE_FORMAT || rc == MFA_ERR_DEVICE_UNKNOWN;
}

void
cp_device_label(const cp_req *r, char *out, size_t size)
{
    const char *ua = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_USER_AGENT);
    static const char *const browsers[][2] = {{"Firefox/", "Firefox"},
                                              {"Edg/", "Edge"},
                                              {"Chrome/", "Chrome"},
                                              {"Chromium/", "Chromium"},
                                              {"Safari/", "Safari"}};
    static const char *const systems[][2] = {
        {"Android", "Android"}, {"iPhone", "iPhone"}, {"iPad", "iPad"},
        {"Windows", "Windows"}, {"Mac OS", "macOS"},  {"Linux", "Linux"}};
    const char *b = "A browser", *o = NULL;
    for (size_t i = 0; ua && i < sizeof browsers / sizeof browsers[0]; i++)
        if (strstr(ua, browsers[i][0])) {
            b = browsers[i][1];
            break;
        }
    for (size_t i = 0; ua && i < sizeof systems / sizeof systems[0]; i++)
        if (strstr(ua, systems[i][0])) {
            o = systems[i][1];
            break;
        }
    if (o)
        snprintf(out, size, "%s on %s", b, o);
    else
        snprintf(out, size, "%s", b);
}

/* ---- the route table ------------------------------------------------------
 */

/* Which sessions a page is for. */
enum need { ANON, CODE, ENROLL, FULL, ADMIN, ANYONE };

typedef struct route {
    const char *method, *path;
    enum need need;
    cp_handler fn;
} route;

static const route routes[] = {
    {"GET", "/login", ANON, cp_login_form},
    {"POST", "/login", ANON, cp_login_submit},
    {"GET", "/signup", ANON, cp_signup_form},
    {"POST", "/signup", ANON, cp_signup_submit},
    /* a passkey alone: both factors (flow_passkey.c) */
    {"POST", "/login/passkey/options", ANON, cp_passkey_signin_options},
    {"POST", "/login/passkey/finish", ANON, cp_passkey_signin},
    {"POST", "/logout", ANYONE, cp_logout},
    {"GET", "/outbox", ANYONE, cp_outbox_page},
    /* the second step */
    {"GET", "/login/code", CODE, cp_code_form},
    {"POST", "/login/code", CODE, cp_code_submit},
    {"GET", "/login/key", CODE, cp_key_login_page},
    {"POST", "/login/key/options", CODE, cp_key_login_options},
    {"POST", "/login/key/finish", CODE, cp_key_login_submit},
    {"GET", "/login/backup", CODE, cp_backup_form},
    {"POST", "/login/backup", CODE, cp_backup_submit},
    {"GET", "/login/sms", CODE, cp_sms_form},
    {"POST", "/login/sms", CODE, cp_sms_submit},
    {"POST", "/login/sms/send", CODE, cp_sms_send},
    /* enrollment: the first set-up, or another method from the settings */
    {"GET", "/mfa/choose", ENROLL, cp_choose_page},
    {"POST", "/mfa/authenticator", ENROLL, cp_app_begin},
    {"GET", "/mfa/setup", ENROLL, cp_app_setup_page},
    {"POST", "/mfa/setup", ENROLL, cp_app_confirm},
    {"GET", "/mfa/phone", ENROLL, cp_phone_form},
    {"POST", "/mfa/phone", ENROLL, cp_phone_begin},
    {"GET", "/mfa/phone/verify", ENROLL, cp_phone_verify_form},
    {"POST", "/mfa/phone/verify", ENROLL, cp_phone_confirm},
    {"GET", "/mfa/passkey", ENROLL, cp_passkey_page},
    {"POST", "/mfa/passkey/options", ENROLL, cp_passkey_options},
    {"POST", "/mfa/passkey/finish", ENROLL, cp_passkey_register},
    {"GET", "/mfa/done", FULL, cp_done_page},
    {"GET", "/backup-codes", FULL, cp_codes_page},
    {"GET", "/backup-codes.txt", FULL, cp_codes_download},
    {"POST", "/backup-codes/done", FULL, cp_codes_done},
    /* logged in */
    {"GET", "/dashboard", FULL, cp_dashboard},
    {"GET", "/settings", FULL, cp_settings},
    {"GET", "/settings/remove", FULL, cp_remove_form},
    {"POST", "/settings/remove", FULL, cp_remove_submit},
    {"GET", "/settings/rename", FULL, cp_rename_form},
    {"POST", "/settings/rename", FULL, cp_rename_submit},
    {"GET", "/settings/backup-codes", FULL, cp_newcodes_form},
    {"POST", "/settings/backup-codes", FULL, cp_newcodes_submit},
    {"GET", "/settings/phone/remove", FULL, cp_phone_remove_form},
    {"POST", "/settings/phone/remove", FULL, cp_phone_remove_submit},
    {"GET", "/settings/devices/forget", FULL, cp_forget_form},
    {"POST", "/settings/devices/forget", FULL, cp_forget_submit},
    {"GET", "/admin", ADMIN, cp_admin_page},
    {"GET", "/admin/reset", ADMIN, cp_admin_reset_form},
    {"POST", "/admin/reset", ADMIN, cp_admin_reset_submit},
};

static int
allowed(const cp_req *r, enum need need)
{
    cp_state st = r->s ? r->s->state : 0;
    cp_user u;
    switch (need) {
    case ANON:
        return !r->s;
    case CODE:
        return st == CP_CODE;
    case ENROLL:
        return st == CP_ENROLL || st == CP_FULL;
    case FULL:
        return st == CP_FULL;
    case ADMIN:
        return st == CP_FULL && cp_users_get(cp.users, r->s->user, &u) == 0 &&
               u.is_admin;
    default:
        return 1;
    }
}

static enum MHD_Result
route_request(cp_req *r)
{
    const char *m = strcmp(r->method, "HEAD") == 0 ? "GET" : r->method;
    if (strcmp(r->url, "/") == 0 && strcmp(m, "GET") == 0)
        return cp_where_to(r);
    int path_known = 0;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const route *rt = &routes[i];
        if (strcmp(rt->path, r->url) != 0)
            continue;
        path_known = 1;
        if (strcmp(rt->method, m) != 0)
            continue;
        if (allowed(r, rt->need))
            return rt->fn(r);
        if (rt->need == ADMIN && r->s && r->s->state == CP_FULL)
            return cp_error_page(r, MHD_HTTP_FORBIDDEN,
                                 "Only administrators can see this page.");
        if (!r->s && !r->ended)
            return cp_redirect(r, "/login?n=first");
        return cp_where_to(r);
    }
    if (path_known)
        return cp_error_page(r, MHD_HTTP_METHOD_NOT_ALLOWED,
                             "That method is not allowed here.");
    return cp_error_page(r, MHD_HTTP_NOT_FOUND, "There is no such page.");
}

static enum MHD_Result with_session(cp_req *r, int is_post, int gone);

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
        r->json = json_endpoint(url);
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (r->body.len + *upload_data_size >
            (r->json ? JSON_BODY_MAX : BODY_MAX))
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
    if (strcmp(url, "/static/passkey.js") == 0)
        return cp_send_static(r, cp_passkey_js,
                              "text/javascript; charset=utf-8");

    const char *cookie =
        MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, cookie_name());
    if (cookie && strlen(cookie) < sizeof r->cookie_in)
        snprintf(r->cookie_in, sizeof r->cookie_in, "%s", cookie);
    const char *csrf =
        MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, csrf_cookie_name());
    if (csrf && strlen(csrf) < sizeof r->csrf_in)
        snprintf(r->csrf_in, sizeof r->csrf_in, "%s", csrf);
    const char *dev = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND,
                                                  device_cookie_name());
    if (dev && strlen(dev) < sizeof r->device_in)
        snprintf(r->device_in, sizeof r->device_in, "%s", dev);
    int gone = 0;
    r->s = cp_session_acquire(r->cookie_in, r->now, &gone);
    enum MHD_Result ret = with_session(r, is_post, gone);
    /* The response is queued and holds copies: the session is free. */
    cp_session_release(r->s);
    r->s = NULL;
    return ret;
}

static enum MHD_Result
with_session(cp_req *r, int is_post, int gone)
{
    struct MHD_Connection *conn = r->conn;
    r->busy = gone == 2; /* keep its cookie: the session lives on */
    if (r->busy)
        return cp_error_page(r, MHD_HTTP_SERVICE_UNAVAILABLE,
                             "Another page of yours is still loading. Try "
                             "again in a moment.");
    if (gone) {
        /* Its forms carry the old token: to the log-in page with a word
         * rather than to a "form expired" error. */
        r->ended = 1;
        return cp_redirect(r, "/login?n=ended");
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
    return route_request(r);
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
