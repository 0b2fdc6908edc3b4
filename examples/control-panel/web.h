/*
 * The web plumbing the flow files build on: the request, the session, the
 * page helpers.  Nothing here calls libmfa; an application on a web
 * framework has all of it already.
 */
#ifndef CP_WEB_H
#define CP_WEB_H

#include "cp.h"

#include <mfa/device.h>

/* ---- sessions (session.c) ------------------------------------------------
 * Only a correct password makes a session: anonymous visitors have none
 * (their forms carry a double-submit CSRF cookie instead), so nothing an
 * anonymous request does can push a session out. */

typedef enum cp_state {
    CP_CODE = 1, /* password accepted, second factor pending */
    CP_ENROLL,   /* password accepted, no MFA yet: must set it up */
    CP_FULL,     /* logged in */
} cp_state;

#define CP_SESSION_IDBYTES 32 /* 256 bits */
#define CP_CSRF_BYTES 32
#define CP_CSRF_HEX (2 * CP_CSRF_BYTES + 1)
#define CP_SESSIONS_MAX 4096
#define CP_SESSIONS_PER_USER 8 /* a user's own oldest gives way */
#define CP_HALF_TTL 300        /* seconds a password-only state lasts */
#define CP_ENROLL_TTL 600      /* seconds to finish the first set-up */
#define CP_IDLE_TTL 1800       /* idle seconds before a session ends */
#define CP_ABSOLUTE_TTL 43200  /* lifetime of any session */
#define CP_CODES_MAX 16

typedef struct cp_session {
    char csrf[CP_CSRF_HEX];
    cp_state state;
    char user[CP_USER_MAX + 1];
    int64_t created;
    int64_t deadline; /* end of a CP_CODE / CP_ENROLL state, else 0 */
    /* The enrollment shown on the set-up page until confirmed. */
    mfa_enrollment_t *enr;
    /* Backup codes shown until "Got it" (sodium_malloc'ed, wiped). */
    char *codes;
    size_t ncodes;
    int setup_first;   /* the done page follows the first set-up */
    int setup_passkey; /* ... and the method was a passkey */
    char setup_label[MFA_LABEL_MAX + 1]; /* the method just added */
    char notice[200];                    /* shown once on the next page */
    int notice_is_error;
} cp_session;

/*
 * The session of the cookie, locked for this request, or NULL.  *gone is
 * 1 when a session existed but ended (expired, reset by an administrator):
 * the pages then say so; 2 when it stayed busy with another request.
 */
cp_session *cp_session_acquire(const char *cookie, int64_t now, int *gone);
/* A new session for user, locked; NULL when the table is full of other
 * users' live sessions (the caller answers 503). */
cp_session *cp_session_create(const char *user, cp_state st, int64_t now);
void cp_session_release(cp_session *s);
/* A fresh id and CSRF token, on every change of privilege. */
void cp_session_rotate(cp_session *s);
/* Ends s (still locked by the caller: release it after). */
void cp_session_end(cp_session *s);
void cp_session_cookie(const cp_session *s,
                       char out[2 * CP_SESSION_IDBYTES + 1]);
/* Keeps the backup codes to show (copied into guarded memory). */
int cp_session_keep_codes(cp_session *s, char **codes, size_t n);
void cp_session_drop_codes(cp_session *s);
void cp_sessions_free_all(void);
/* Ends every other session of a user (after an administrator's reset). */
void cp_sessions_end_user(const char *user);

/* ---- requests (web.c) ---------------------------------------------------- */

#define CP_FIELDS_MAX 32
#define CP_HTTP_UNPROCESSABLE 422 /* a refused code: the form again */

typedef struct cp_field {
    const char *name;
    const char *value;
} cp_field;

typedef struct cp_req {
    struct MHD_Connection *conn;
    const char *url;
    const char *method;
    int64_t now;
    cp_buf body; /* the raw form, decoded in place */
    int too_big;
    int is_static;
    int json; /* a passkey endpoint: answers are JSON, not pages */
    cp_field fields[CP_FIELDS_MAX];
    size_t nfields;
    char cookie_in[2 * CP_SESSION_IDBYTES + 1]; /* as the browser sent it */
    char csrf_in[CP_CSRF_HEX];                  /* anonymous CSRF cookie */
    char anon_csrf[CP_CSRF_HEX];                /* ... to put on forms */
    char device_in[MFA_DEVICE_TOKEN_BUFSIZE];   /* the device cookie */
    char device_out[MFA_DEVICE_TOKEN_BUFSIZE];  /* ... to set, or "" */
    int device_drop;                            /* clear the cookie */
    cp_session *s;                              /* NULL: anonymous */
    int ended;                                  /* s ended on this request */
    int busy; /* the session stayed locked by another request */
} cp_req;

/* A form field, "" when absent; a query argument, "" when absent. */
const char *cp_form(const cp_req *r, const char *name);
const char *cp_query(const cp_req *r, const char *name);
/* Queue an HTML page; takes over html (freed, wiped if secret). */
enum MHD_Result cp_send_html(cp_req *r, unsigned status, cp_buf *html);
/* A download: text/plain, attachment with the file name; wiped after. */
enum MHD_Result cp_send_download(cp_req *r, cp_buf *text, const char *file);
enum MHD_Result cp_send_static(cp_req *r, const char *body, const char *type);
/* 303 See Other; on a JSON endpoint {"next": location} for the script. */
enum MHD_Result cp_redirect(cp_req *r, const char *location);
/* Queue a JSON answer (application/json); takes over json. */
enum MHD_Result cp_send_json(cp_req *r, unsigned status, cp_buf *json);
void cp_csrf_input(cp_buf *b, cp_req *r);
/* The notice shown on the next page (a session's, or a fixed one by key
 * in the query for an anonymous visitor: see html.c). */
void cp_notice(cp_req *r, const char *msg);
void cp_notice_error(cp_req *r, const char *msg);

/* The request handler given to libmicrohttpd, and its clean-up. */
enum MHD_Result cp_handle(void *cls, struct MHD_Connection *conn,
                          const char *url, const char *method,
                          const char *version, const char *upload_data,
                          size_t *upload_data_size, void **con_cls);
void cp_request_completed(void *cls, struct MHD_Connection *conn,
                          void **con_cls, enum MHD_RequestTerminationCode toe);

/*
 * The device cookie (remember this device): libmfa's token, HttpOnly,
 * SameSite=Strict, __Host- and Secure under TLS.  cp_device_token is NULL
 * without one; cp_device_keep takes the token a flow returned (and wipes
 * it from res); cp_device_drop clears a cookie libmfa did not know.
 */
#define CP_REMEMBER_DAYS 30
const char *cp_device_token(const cp_req *r);
void cp_device_keep(cp_req *r, mfa_result *res);
void cp_device_drop(cp_req *r);
/* "Firefox on Linux": a label from the User-Agent, for the device list. */
void cp_device_label(const cp_req *r, char *out, size_t size);
/* Whether a device error means "drop the cookie and go on without". */
int cp_device_bad(mfa_rc rc);

/* ---- pages (html.c) ------------------------------------------------------ */

void cp_page_begin(cp_buf *b, cp_req *r, const char *title);
void cp_page_end(cp_buf *b);
/* The one-time notice of the session, or the fixed one of ?n=. */
void cp_page_notice(cp_buf *b, cp_req *r);
/* A field with its label, and its error tied to it (aria-describedby). */
typedef struct cp_input {
    const char *id, *label, *type, *value, *autocomplete, *hint, *error;
    const char *extra; /* more attributes, trusted text */
} cp_input;
void cp_field_html(cp_buf *b, const cp_input *in);
/* A six-digit code field named "code". */
void cp_code_field(cp_buf *b, const char *label, const char *error);
/* The error page; on a JSON endpoint {"error": msg} with the status. */
enum MHD_Result cp_error_page(cp_req *r, unsigned status, const char *msg);
void cp_fmt_time(int64_t t, char *out, size_t size);
/* "ending in 34": never the whole number on a page. */
void cp_phone_tail(const char *phone, char out[8]);

/* ---- the flows (flow_*.c): one file each, the libmfa calls --------------- */

typedef enum MHD_Result (*cp_handler)(cp_req *r);

/* The route table (web.c) names these. */
enum MHD_Result cp_login_form(cp_req *r);
enum MHD_Result cp_login_submit(cp_req *r);
enum MHD_Result cp_signup_form(cp_req *r);
enum MHD_Result cp_signup_submit(cp_req *r);
enum MHD_Result cp_logout(cp_req *r);
enum MHD_Result cp_code_form(cp_req *r);
enum MHD_Result cp_code_submit(cp_req *r);

enum MHD_Result cp_choose_page(cp_req *r);
enum MHD_Result cp_app_begin(cp_req *r);
enum MHD_Result cp_app_setup_page(cp_req *r);
enum MHD_Result cp_app_confirm(cp_req *r);
enum MHD_Result cp_phone_form(cp_req *r);
enum MHD_Result cp_phone_begin(cp_req *r);
enum MHD_Result cp_phone_verify_form(cp_req *r);
enum MHD_Result cp_phone_confirm(cp_req *r);
enum MHD_Result cp_passkey_page(cp_req *r);
enum MHD_Result cp_passkey_options(cp_req *r);
enum MHD_Result cp_passkey_register(cp_req *r);
enum MHD_Result cp_done_page(cp_req *r);
enum MHD_Result cp_codes_page(cp_req *r);
enum MHD_Result cp_codes_download(cp_req *r);
enum MHD_Result cp_codes_done(cp_req *r);

enum MHD_Result cp_key_login_page(cp_req *r);
enum MHD_Result cp_key_login_options(cp_req *r);
enum MHD_Result cp_key_login_submit(cp_req *r);
enum MHD_Result cp_passkey_signin_options(cp_req *r);
enum MHD_Result cp_passkey_signin(cp_req *r);

enum MHD_Result cp_backup_form(cp_req *r);
enum MHD_Result cp_backup_submit(cp_req *r);
enum MHD_Result cp_sms_form(cp_req *r);
enum MHD_Result cp_sms_send(cp_req *r);
enum MHD_Result cp_sms_submit(cp_req *r);

enum MHD_Result cp_dashboard(cp_req *r);
enum MHD_Result cp_settings(cp_req *r);
enum MHD_Result cp_remove_form(cp_req *r);
enum MHD_Result cp_remove_submit(cp_req *r);
enum MHD_Result cp_rename_form(cp_req *r);
enum MHD_Result cp_rename_submit(cp_req *r);
enum MHD_Result cp_newcodes_form(cp_req *r);
enum MHD_Result cp_newcodes_submit(cp_req *r);
enum MHD_Result cp_phone_remove_form(cp_req *r);
enum MHD_Result cp_phone_remove_submit(cp_req *r);
enum MHD_Result cp_forget_form(cp_req *r);
enum MHD_Result cp_forget_submit(cp_req *r);

enum MHD_Result cp_admin_page(cp_req *r);
enum MHD_Result cp_admin_reset_form(cp_req *r);
enum MHD_Result cp_admin_reset_submit(cp_req *r);

enum MHD_Result cp_outbox_page(cp_req *r);

/* What an account can log in with (flow_login.c): active authenticator
 * apps, passkeys, backup codes left, a confirmed phone; 0 ok, -1 error. */
typedef struct cp_methods {
    size_t apps;
    size_t passkeys;
    size_t codes_left;
    int phone;
} cp_methods;
int cp_methods_of(const char *user, cp_methods *m);
/* The account's passkeys (an empty list when passkeys are off). */
mfa_rc cp_passkeys_list(const char *user, mfa_webauthn_info **list, size_t *n);
/* The passkey box (flow_passkey.c): passkey.js wires its button to the
 * begin and finish endpoints, and posts the box's inputs (the CSRF token,
 * a label, "remember") with the response; kind "register", "login" or
 * "signin".  Fields go between begin and end. */
void cp_passkey_box_begin(cp_buf *b, cp_req *r, const char *kind,
                          const char *begin, const char *finish);
void cp_passkey_box_end(cp_buf *b, const char *button, const char *id);
/* A method is in place (flow_enroll.c): fully logged in, backup codes made
 * after the first set-up, then the done page. */
enum MHD_Result cp_method_added(cp_req *r, int passkey);
/* Whether libmfa refused a label as text (too long, bad UTF-8, control
 * or format characters): the user's to fix (flow_enroll.c). */
int cp_bad_label(mfa_rc rc);

/* Shared by the flows (flow_login.c). */
/* The links to the other ways through the second step (here: the page's
 * own: "key", "code", "backup", "sms"). */
void cp_other_ways(cp_buf *b, cp_req *r, const char *here);
enum MHD_Result cp_service_error(cp_req *r, mfa_rc rc);
/* A refused code is the user's business; anything else the service's. */
int cp_is_refusal(mfa_rc rc);
void cp_code_error(mfa_rc rc, const mfa_result *res, char *out, size_t size);
/* The password check with its throttle: 0 ok, 1 refused (msg filled),
 * -1 service error. */
int cp_check_password(cp_req *r, const char *name, const char *pw, char *msg,
                      size_t size);
/* The second step passed: fully logged in, a new session id. */
enum MHD_Result cp_login_done(cp_req *r, const char *how);
/* "Remember this device for 30 days", and the options it gives a
 * _device flow (label filled from the User-Agent). */
void cp_remember_box(cp_buf *b);
void cp_device_opts(cp_req *r, mfa_device_opts *o, char *label, size_t size);
/* Where a session in this state belongs. */
enum MHD_Result cp_where_to(cp_req *r);
/* Confirmation before a destructive action (flow_settings.c): the user's
 * password or a current code; 0 ok, 1 refused (msg filled), -1 error. */
int cp_confirm_identity(cp_req *r, char *msg, size_t size);
/* The confirmation page: a title, what happens, the action's button. */
typedef struct cp_confirm {
    const char *title, *what, *action, *hidden_name, *hidden_value;
    const char *button, *cancel;
} cp_confirm;
enum MHD_Result cp_confirm_page(cp_req *r, const cp_confirm *c,
                                const char *error);

#endif /* CP_WEB_H */
