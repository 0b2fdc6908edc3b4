/*
 * mfa-control-panel: a small hosted-control-panel web application whose
 * users turn on multi-factor authentication.  The application is thin:
 * HTTP, HTML and sessions; every MFA decision is a libmfa call.
 *
 * One request is handled at a time (libmicrohttpd's internal polling
 * thread), so the session table, the users database and the outbox need no
 * locks.  A production application would use a thread pool and lock them.
 */
#ifndef CP_H
#define CP_H

#include <mfa.h>

#include <microhttpd.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* ---- growable text buffer (html.c) -------------------------------------- */

typedef struct cp_buf {
    char *p;
    size_t len;
    size_t cap;
    int oom;
    int secret; /* wiped when freed: it held a key or a code */
} cp_buf;

void cp_buf_puts(cp_buf *b, const char *s);
void cp_buf_putn(cp_buf *b, const char *s, size_t n);
void cp_buf_printf(cp_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* HTML-escape s (& < > " ') into b: safe in text and quoted attributes. */
void cp_buf_esc(cp_buf *b, const char *s);
/* Wipe (when b->secret) and free the contents. */
void cp_buf_free(cp_buf *b);

extern const char cp_style_css[];
extern const char cp_app_js[];

/* ---- the users table (users.c), the application's own data ------------- */

#define CP_USER_MAX 32
#define CP_PASSWORD_MIN 8
#define CP_PASSWORD_MAX 128
#define CP_PHONE_MAX 24

typedef struct cp_user {
    char name[CP_USER_MAX + 1];
    int is_admin;
    char phone[CP_PHONE_MAX + 1];         /* verified backup number, or "" */
    char phone_pending[CP_PHONE_MAX + 1]; /* number being verified, or "" */
} cp_user;

typedef struct cp_users cp_users;

int cp_users_open(cp_users **out, const char *path);
void cp_users_close(cp_users **u);
/* 0 ok, 1 name taken, -1 error. */
int cp_users_create(cp_users *u, const char *name, const char *password,
                    int is_admin);
/* Creates or updates the user with a new password; 0 ok, -1 error. */
int cp_users_set_password(cp_users *u, const char *name, const char *password,
                          int is_admin);
/* 0 when name exists and the password matches (*out filled), 1 when not,
 * -1 on error.  An unknown name costs the same hashing as a known one. */
int cp_users_login(cp_users *u, const char *name, const char *password,
                   cp_user *out);
/* 0 found, 1 not found, -1 error. */
int cp_users_get(cp_users *u, const char *name, cp_user *out);
int cp_users_set_phone_pending(cp_users *u, const char *name,
                               const char *phone);
/* Pending number becomes the backup number. */
int cp_users_confirm_phone(cp_users *u, const char *name);
int cp_users_clear_phone(cp_users *u, const char *name);
typedef void (*cp_user_fn)(const cp_user *user, void *arg);
int cp_users_each(cp_users *u, cp_user_fn fn, void *arg);

/* Valid user name: 1..32 of [a-z0-9._-], starting with a letter or digit. */
int cp_valid_username(const char *s);
/* Valid phone number: +, digits, spaces, hyphens, parentheses; 6..15 digits. */
int cp_valid_phone(const char *s);

/* ---- sessions (session.c) ----------------------------------------------- */

typedef enum cp_state {
    CP_ANON = 0, /* nobody logged in */
    CP_CODE,     /* password accepted, second factor pending */
    CP_ENROLL,   /* password accepted, no MFA yet: must set it up */
    CP_FULL,     /* logged in */
} cp_state;

#define CP_SESSION_IDBYTES 32 /* 256 bits */
#define CP_CSRF_BYTES 32
#define CP_SESSIONS_MAX 4096
#define CP_HALF_TTL 300       /* seconds a password-only state lasts */
#define CP_ENROLL_TTL 600     /* seconds to finish the first set-up */
#define CP_IDLE_TTL 1800      /* idle seconds before a session ends */
#define CP_ABSOLUTE_TTL 43200 /* lifetime of any session */

typedef struct cp_session {
    int used;
    uint8_t id[CP_SESSION_IDBYTES];
    char csrf[2 * CP_CSRF_BYTES + 1];
    cp_state state;
    char user[CP_USER_MAX + 1];
    int64_t created;
    int64_t last_seen;
    int64_t deadline; /* end of a CP_CODE / CP_ENROLL state, else 0 */
    /* The enrollment shown on the set-up page until confirmed. */
    mfa_enrollment_t *enr;
    int enr_from_settings;
    char notice[200]; /* shown once on the next page */
    int expired_now;  /* the half-logged-in state ended on this request */
} cp_session;

/* Session for the cookie value (hex), or NULL when unknown or expired. */
cp_session *cp_session_find(const char *cookie, int64_t now);
/* A new anonymous session. */
cp_session *cp_session_new(int64_t now);
/* A fresh id and CSRF token for s, on every change of privilege. */
void cp_session_rotate(cp_session *s);
/* Back to anonymous (enrollment freed), keeping the slot. */
void cp_session_reset(cp_session *s);
void cp_session_destroy(cp_session *s);
void cp_session_cookie(const cp_session *s,
                       char out[2 * CP_SESSION_IDBYTES + 1]);
void cp_sessions_free_all(void);
/* Ends every session of a user (after an administrator's reset). */
void cp_sessions_end_user(const char *user);

/* ---- the outbox (outbox.c): the demo's stand-in for an SMS gateway ----- */

#define CP_OUTBOX_MAX 50

typedef struct cp_message {
    int64_t time;
    char to[CP_PHONE_MAX + 1];
    char user[CP_USER_MAX + 1];
    char text[160];
} cp_message;

void cp_outbox_add(int64_t time, const char *to, const char *user,
                   const char *text);
size_t cp_outbox_count(void);
/* Message i, newest first (0 is the latest); NULL past the end. */
const cp_message *cp_outbox_get(size_t i);
void cp_outbox_clear(void);

/* ---- the application (main.c, pages.c) ---------------------------------- */

typedef struct cp_app {
    mfa_store_t *store;
    mfa_keyring_t *keyring;
    mfa_ctx_t *ctx;
    cp_users *users;
    const char *issuer;
    int secure_cookies;     /* TLS: cookies get the Secure attribute */
    const char *clock_file; /* test-only clock offset, or NULL */
} cp_app;

extern cp_app cp;

int64_t cp_now(void);
/* Log a line to stderr with the time; never pass a secret or a code. */
void cp_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The request handler given to libmicrohttpd. */
enum MHD_Result cp_handle(void *cls, struct MHD_Connection *conn,
                          const char *url, const char *method,
                          const char *version, const char *upload_data,
                          size_t *upload_data_size, void **con_cls);
void cp_request_completed(void *cls, struct MHD_Connection *conn,
                          void **con_cls, enum MHD_RequestTerminationCode toe);

#endif /* CP_H */
