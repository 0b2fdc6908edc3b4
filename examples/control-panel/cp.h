/*
 * mfa-control-panel: a small hosted-control-panel web application whose
 * users turn on multi-factor authentication.  The application is thin:
 * every MFA decision is a libmfa call, made in the flow_*.c files; the
 * rest (web.c, session.c, html.c) is web plumbing any framework gives.
 *
 * Requests run on libmicrohttpd's thread pool at the same time: the
 * mfa_ctx is thread-safe once configured, the users database is a
 * serialized SQLite connection, and the sessions and the outbox lock.
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

/* JSON-escape s into b as a quoted string (html.c). */
void cp_buf_json_str(cp_buf *b, const char *s);

extern const char cp_style_css[];
extern const char cp_app_js[];
/* The passkey pages' script (passkey.js, embedded at build time). */
extern const char cp_passkey_js[];

/* ---- the users table (users.c), the application's own data ------------- */

#define CP_USER_MAX 32
#define CP_PASSWORD_MIN 8
#define CP_PASSWORD_MAX 128
#define CP_PHONE_MAX 24

typedef struct cp_user {
    char name[CP_USER_MAX + 1];
    int is_admin;
    char phone[CP_PHONE_MAX + 1];         /* verified number, or "" */
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
/* Pending number becomes the verified number. */
int cp_users_confirm_phone(cp_users *u, const char *name);
int cp_users_clear_phone(cp_users *u, const char *name);
typedef void (*cp_user_fn)(const cp_user *user, void *arg);
int cp_users_each(cp_users *u, cp_user_fn fn, void *arg);

/* Valid user name: 1..32 of [a-z0-9._-], starting with a letter or digit. */
int cp_valid_username(const char *s);
/* Valid phone number: +, digits, spaces, hyphens, parentheses; 6..15 digits. */
int cp_valid_phone(const char *s);

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
/* Copy of message i, newest first (0 is the latest); 0 ok, -1 past the end.
 * The caller wipes *out. */
int cp_outbox_get(size_t i, cp_message *out);
void cp_outbox_clear(void);

/* ---- the application (main.c) ------------------------------------------- */

typedef struct cp_app {
    mfa_store_t *store;
    mfa_keyring_t *keyring;
    mfa_ctx_t *ctx;
    /*
     * Passkeys (main.c): the relying party of the ctx's passkey flows, and a
     * second ctx on the same store and key ring whose relying party requires
     * user verification, for the sign-in without a password (a passkey
     * unlocked by a fingerprint, a face or a PIN is both factors).  passkeys
     * is 0 when libmfa was built without WebAuthn: the pages then offer none.
     */
    mfa_webauthn_rp_t *rp;
    mfa_webauthn_rp_t *rp_uv;
    mfa_ctx_t *ctx_uv;
    int passkeys;
    cp_users *users;
    const char *issuer;
    int secure_cookies; /* TLS: Secure cookies with the __Host- prefix */
} cp_app;

extern cp_app cp;

/* The one clock of the pages and of libmfa (testhooks.c). */
int64_t cp_now(void);
/* Log a line to stderr with the time; never pass a secret or a code. */
void cp_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- test-only hooks (testhooks.c), off unless the variable is set ------ */

/* MFA_CP_TEST_CLOCK_FILE: a file of seconds added to the real clock. */
void cp_test_hooks_init(void);

#endif /* CP_H */
