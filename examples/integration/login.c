/*
 * A login backend's MFA handlers, complete: start-up, enrollment (QR code
 * and typed key), confirmation, backup codes, login with a code, passkeys
 * and security keys (adding one, logging in with one, with or without a
 * user name), recovery with a backup code, the settings page and an
 * administrator's reset.
 *
 * docs/integration.md walks through this file; tests/check_doc_snippets.py
 * checks that every C block of the guide is copied from here, and the build
 * runs this program as a test (`meson test integration-example`), so the
 * guide cannot drift from code that compiles and works.
 *
 * The HTTP layer and the password check are the application's own and are
 * reduced to plain function calls here.  main() plays the user: it reads
 * the enrollment URI the way an authenticator app does and types codes,
 * and answers the passkey options as a browser with a passkey would.
 *
 *   login [STORE-SPEC]     e.g. "sqlite:/tmp/mfa.db"; default: a SQLite file
 *                          in a temporary directory, or memory without
 *                          SQLite
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* mkdtemp, also when built alone */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <sodium.h>

#include <mfa.h>

/* ---- start-up ----------------------------------------------------------- */

/* [doc:audit] */
/* Audit trail: every flow reports here.  Events never carry a secret or a
 * code, so they can go to the ordinary log. */
static void
audit(const mfa_event *ev, void *arg)
{
    (void)arg;
    syslog(LOG_AUTH | LOG_INFO, "mfa event=%s account=%s factor=%s rc=%s",
           mfa_event_name(ev->type), ev->account ? ev->account : "-",
           ev->factor_id ? ev->factor_id : "-", mfa_strerror_name(ev->rc));
    if (ev->type == MFA_EV_REPLAY)
        syslog(LOG_AUTH | LOG_WARNING, "mfa: a code was used twice for %s",
               ev->account ? ev->account : "-");
    if (ev->type == MFA_EV_WEBAUTHN_CLONED)
        syslog(LOG_AUTH | LOG_WARNING, "mfa: security key %s of %s copied?",
               ev->factor_id ? ev->factor_id : "-",
               ev->account ? ev->account : "-");
}
/* [/doc:audit] */

/* The example's clock, so that main() can let time pass; a real service
 * leaves the ctx on time(). */
static int64_t demo_now = 1767225600; /* 2026-01-01 */

static int64_t
demo_clock(void *arg)
{
    (void)arg;
    return demo_now;
}

/* The out-of-band sender: a real one sends an SMS to the number on file.
 * Here it keeps the last code so that main() can "read the phone". */
static char outbox[MFA_CODE_BUFSIZE];

static mfa_rc
send_sms(const char *account, const char *purpose, const char *code, void *arg)
{
    (void)account;
    (void)purpose;
    (void)arg;
    snprintf(outbox, sizeof(outbox), "%s", code);
    return MFA_OK;
}

typedef struct app {
    mfa_keyring_t *kr;
    mfa_store_t *store;
    mfa_ctx_t *ctx;
    mfa_webauthn_rp_t *rp; /* passkeys; NULL when not offered */
} app;

/* [doc:startup] */
/* Once, at start-up: key ring, store, context.  Any error here should stop
 * the service: running without MFA is not a fallback. */
static mfa_rc
app_open(app *a, const char *keyring_path, const char *store_spec)
{
    mfa_rc rc;

    memset(a, 0, sizeof(*a));
    if ((rc = mfa_init()) != MFA_OK)
        return rc;
    /* mode 0600, owned by the service account; created once by
     * `mfa keyring new` or mfa_keyring_create_file() */
    if ((rc = mfa_keyring_load(&a->kr, keyring_path)) != MFA_OK)
        return rc;
    /* "sqlite:/var/lib/example/mfa.db" or "postgres:host=db dbname=app" */
    if ((rc = mfa_store_open(&a->store, store_spec)) != MFA_OK)
        return rc;
    if ((rc = mfa_ctx_new(&a->ctx, a->store, a->kr)) != MFA_OK)
        return rc;
    /* the name the authenticator app shows above the code */
    if ((rc = mfa_ctx_set_issuer(a->ctx, "Example Mail")) != MFA_OK)
        return rc;
    mfa_ctx_set_event_cb(a->ctx, audit, NULL);
    mfa_ctx_set_oob_sender(a->ctx, send_sms, NULL);
    return MFA_OK;
}

static void
app_close(app *a)
{
    mfa_ctx_free(&a->ctx); /* the ctx first: it uses the others */
    mfa_webauthn_rp_free(&a->rp);
    mfa_store_free(&a->store);
    mfa_keyring_free(&a->kr);
}
/* [/doc:startup] */

/* ---- the session --------------------------------------------------------- */

/* Server-side session state (in a real service: the session store, keyed
 * by a cookie).  A user whose password was accepted is not logged in yet. */
typedef enum stage { ANONYMOUS, NEED_SECOND_FACTOR, LOGGED_IN } stage;

typedef struct session {
    char user[MFA_ACCOUNT_MAX + 1];
    stage stage;
    char pending_factor[MFA_FACTOR_ID_LEN + 1]; /* during set-up */
    /* The browser's long-lived "mfa_device" cookie, kept here for the
     * example's brevity: a real service reads it from the request. */
    char device_cookie[MFA_DEVICE_TOKEN_BUFSIZE];
} session;

/* What the handlers hand to the template engine. */
typedef struct page {
    int status;        /* HTTP status */
    char message[160]; /* shown to the user */
    char *qr_img;      /* <img src> of the QR code, or NULL */
    char manual_key[128];
    char **backup_codes; /* shown once, then freed */
    size_t n_backup_codes;
} page;

static void
page_clear(page *p)
{
    mfa_backup_codes_free(&p->backup_codes, p->n_backup_codes);
    mfa_string_free(&p->qr_img); /* it carries the secret */
    memset(p, 0, sizeof(*p));
}

/* [doc:required] */
/* The application's own user record says whether the user turned MFA on:
 * a column of the users table, in the application's database, not in
 * libmfa's store.  Set when the first authenticator is confirmed, cleared
 * only by an administrator's reset.  One user in this example. */
static int alice_mfa_required;

static int
user_mfa_required(const char *user)
{
    (void)user;
    return alice_mfa_required;
}

static void
user_set_mfa_required(const char *user, int on)
{
    (void)user;
    alice_mfa_required = on;
}
/* [/doc:required] */

/* ---- enrollment ---------------------------------------------------------- */

/* [doc:setup] */
/* GET /settings/mfa/setup: "Use an authenticator app".  Shows the QR code
 * and the key for typing by hand; remembers the pending factor in the
 * session, never in the page. */
static mfa_rc
handle_setup_begin(app *a, session *s, const char *device_name, page *out)
{
    mfa_enrollment_t *e = NULL;
    mfa_qr_t *qr = NULL;
    mfa_rc rc;

    if (s->stage != LOGGED_IN)
        return MFA_ERR_STATE;
    rc = mfa_enroll_begin(a->ctx, s->user, device_name, NULL, &e);
    if (rc != MFA_OK) {
        out->status = rc == MFA_ERR_EXISTS ? 409 : 500;
        snprintf(out->message, sizeof(out->message), "%s",
                 rc == MFA_ERR_EXISTS ? "You have too many authenticators."
                                      : "Something went wrong.");
        return rc;
    }
    snprintf(s->pending_factor, sizeof(s->pending_factor), "%s",
             mfa_enrollment_factor_id(e));
    /* without libqrencode (MFA_ERR_UNSUPPORTED) the typed key still works */
    if (mfa_enrollment_qr(e, &qr) == MFA_OK &&
        mfa_qr_svg_data_uri(qr, &out->qr_img) != MFA_OK)
        out->qr_img = NULL;
    snprintf(out->manual_key, sizeof(out->manual_key), "%s",
             mfa_enrollment_manual_key(e));
    out->status = 200; /* send it with Cache-Control: no-store */
    mfa_qr_free(&qr);
    mfa_enrollment_free(&e);
    return MFA_OK;
}
/* [/doc:setup] */

/* [doc:confirm] */
/* POST /settings/mfa/setup: "Verify code".  The first code activates the
 * factor; then the user gets backup codes, shown once. */
static mfa_rc
handle_setup_confirm(app *a, session *s, const char *typed, page *out)
{
    mfa_result res;
    mfa_rc rc;

    if (s->stage != LOGGED_IN || s->pending_factor[0] == '\0')
        return MFA_ERR_STATE;
    rc = mfa_enroll_confirm(a->ctx, s->user, s->pending_factor, typed, &res);
    switch (rc) {
    case MFA_OK:
        break;
    case MFA_ERR_CODE_WRONG:
    case MFA_ERR_CODE_FORMAT:
    case MFA_ERR_REPLAYED:
        out->status = 400;
        snprintf(out->message, sizeof(out->message),
                 "That code didn't work. Enter the 6-digit code your app "
                 "shows now.");
        return rc;
    case MFA_ERR_THROTTLED:
        out->status = 429;
        snprintf(out->message, sizeof(out->message),
                 "Too many attempts. Try again in %u seconds.",
                 res.retry_after);
        return rc;
    case MFA_ERR_EXPIRED:
    case MFA_ERR_NOT_FOUND:
        s->pending_factor[0] = '\0';
        out->status = 410;
        snprintf(out->message, sizeof(out->message),
                 "The set-up took too long. Please start again.");
        return rc;
    default:
        out->status = 500;
        snprintf(out->message, sizeof(out->message), "Something went wrong.");
        return rc;
    }
    s->pending_factor[0] = '\0';
    user_set_mfa_required(s->user, 1); /* from now on, always a code */
    rc = mfa_backup_codes_new(a->ctx, s->user, 0, &out->backup_codes);
    if (rc != MFA_OK) {
        /* the authenticator works; the user can make codes later */
        out->status = 200;
        snprintf(out->message, sizeof(out->message),
                 "Your authenticator is set up. Make backup codes in "
                 "Settings.");
        return MFA_OK;
    }
    out->n_backup_codes = MFA_BACKUP_COUNT_DEFAULT;
    out->status = 200;
    snprintf(out->message, sizeof(out->message),
             "Your authenticator is set up. Save these backup codes: each "
             "works once if you lose your phone.");
    return MFA_OK;
}
/* [/doc:confirm] */

/* ---- login --------------------------------------------------------------- */

/* The application's own password check (Argon2id in the control-panel
 * example); every user's password is "correct horse" here. */
static int
password_ok(const char *user, const char *password)
{
    (void)user;
    return strcmp(password, "correct horse") == 0;
}

/* [doc:login] */
/* POST /login: the password first, throttled by libmfa per device.  With
 * MFA the session is only half logged in until a code is accepted, unless
 * this browser's device cookie says "remembered". */
static mfa_rc
handle_login(app *a, session *s, const char *user, const char *password,
             page *out)
{
    char cookie[MFA_DEVICE_TOKEN_BUFSIZE];
    const char *dev;
    mfa_result res;
    int has = 0;
    mfa_rc rc;

    /* the browser's device cookie outlives the session */
    snprintf(cookie, sizeof(cookie), "%s", s->device_cookie);
    memset(s, 0, sizeof(*s));
    snprintf(s->device_cookie, sizeof(s->device_cookie), "%s", cookie);
    dev = s->device_cookie[0] ? s->device_cookie : NULL;
    rc = mfa_password_check(a->ctx, user, dev, &res);
    if (rc == MFA_ERR_DEVICE_UNKNOWN || rc == MFA_ERR_DEVICE_FORMAT) {
        /* a forgotten, rotated or forged cookie: clear it, and go on as
         * an unknown device */
        memset(s->device_cookie, 0, sizeof(s->device_cookie));
        dev = NULL;
        rc = mfa_password_check(a->ctx, user, dev, &res);
    }
    if (rc == MFA_ERR_THROTTLED) {
        out->status = 429;
        snprintf(out->message, sizeof(out->message),
                 "Too many attempts. Try again in %u seconds.",
                 res.retry_after);
        return rc;
    }
    if (rc == MFA_OK && !password_ok(user, password)) {
        rc = mfa_password_failed(a->ctx, user, dev, &res);
        out->status = rc == MFA_OK ? 401 : 503;
        snprintf(out->message, sizeof(out->message),
                 "Wrong user name or password.");
        return MFA_ERR_CODE_WRONG;
    }
    if (rc == MFA_OK)
        rc = mfa_password_ok(a->ctx, user, dev);
    snprintf(s->user, sizeof(s->user), "%s", user);
    if (rc == MFA_OK)
        rc = mfa_account_has_mfa(a->ctx, user, &has);
    /* The user record says MFA is on but the store knows no factor: the
     * store was emptied, replaced or restored from an old backup.  Fail
     * closed; never fall back to the password alone. */
    if (rc == MFA_OK && !has && user_mfa_required(user))
        rc = MFA_ERR_NO_FACTOR;
    if (rc != MFA_OK) {
        /* the store is down or lost: do not skip the second factor */
        out->status = 503;
        snprintf(out->message, sizeof(out->message),
                 "Sign-in is unavailable. Please try again shortly.");
        return rc;
    }
    /* "Remember this device": a trusted device skips the code; anything
     * else (untrusted, unknown, a store error) asks for it */
    if (has && dev != NULL &&
        mfa_device_check(a->ctx, user, dev, NULL) == MFA_OK)
        has = 0;
    s->stage = has ? NEED_SECOND_FACTOR : LOGGED_IN;
    out->status = has ? 303 : 200; /* 303: to the code form */
    return MFA_OK;
}

/* POST /login/code: "Enter the code from your authenticator app", with a
 * "Remember this device for 30 days" box. */
static mfa_rc
handle_login_code(app *a, session *s, const char *typed, int remember,
                  page *out)
{
    mfa_device_opts dev = {NULL, "web browser", remember ? 30 : 0};
    mfa_result res;
    mfa_rc rc;

    if (s->stage != NEED_SECOND_FACTOR)
        return MFA_ERR_STATE;
    /* a known device spends its own throttle budget: guesses sent by
     * someone who knows only the user name never lock it out */
    dev.token = s->device_cookie[0] ? s->device_cookie : NULL;
    rc = mfa_verify_device(a->ctx, s->user, typed, &dev, &res);
    if (rc == MFA_ERR_DEVICE_UNKNOWN || rc == MFA_ERR_DEVICE_FORMAT) {
        memset(s->device_cookie, 0, sizeof(s->device_cookie));
        dev.token = NULL;
        rc = mfa_verify_device(a->ctx, s->user, typed, &dev, &res);
    }
    if (rc == MFA_OK) {
        /* Set-Cookie: mfa_device=TOKEN; Secure; HttpOnly; SameSite=Lax;
         * Path=/login; Max-Age=31536000.  The token rotates at every
         * second factor: always store the new one. */
        snprintf(s->device_cookie, sizeof(s->device_cookie), "%s",
                 res.device_token);
        memset(&res, 0, sizeof(res)); /* the token is a secret */
        s->stage = LOGGED_IN;         /* and rotate the session id */
        out->status = 200;
        return MFA_OK;
    }
    if (rc == MFA_ERR_THROTTLED) {
        out->status = 429;
        snprintf(out->message, sizeof(out->message),
                 "Too many attempts. Try again in %u seconds.",
                 res.retry_after);
    } else if (rc == MFA_ERR_CODE_WRONG || rc == MFA_ERR_CODE_FORMAT ||
               rc == MFA_ERR_REPLAYED) {
        out->status = 401;
        snprintf(out->message, sizeof(out->message),
                 "That code didn't work. Wait for a new code and try "
                 "again.");
    } else {
        /* store or key ring trouble: never let the user in */
        out->status = 503;
        snprintf(out->message, sizeof(out->message),
                 "Sign-in is unavailable. Please try again shortly.");
    }
    return rc;
}
/* [/doc:login] */

/* [doc:recover] */
/* POST /login/backup-code: "Use a backup code instead". */
static mfa_rc
handle_login_backup_code(app *a, session *s, const char *typed, page *out)
{
    mfa_result res;
    mfa_rc rc;

    if (s->stage != NEED_SECOND_FACTOR)
        return MFA_ERR_STATE;
    rc = mfa_recover(a->ctx, s->user, typed, &res);
    if (rc == MFA_OK) {
        s->stage = LOGGED_IN;
        out->status = 200;
        if (res.backup_codes_left <= 2)
            snprintf(out->message, sizeof(out->message),
                     "You have %u backup codes left. Make new ones in "
                     "Settings.",
                     res.backup_codes_left);
        return MFA_OK;
    }
    out->status = rc == MFA_ERR_THROTTLED ? 429 : 401;
    snprintf(out->message, sizeof(out->message), "%s",
             rc == MFA_ERR_THROTTLED    ? "Too many attempts. Try later."
             : rc == MFA_ERR_NO_CODES   ? "You have no backup codes left."
             : rc == MFA_ERR_CODE_WRONG ? "That backup code didn't work."
             : rc == MFA_ERR_REPLAYED   ? "That backup code was already used."
             : rc == MFA_ERR_BACKUP_FORMAT
                 ? "Backup codes look like ABCD-EFGH-JKMN."
                 : "Sign-in is unavailable. Please try again shortly.");
    return rc;
}

/* POST /login/sms: "Text me a code" (when the user registered a backup
 * phone number); then the code goes through mfa_oob_verify(). */
static mfa_rc
handle_login_sms(app *a, session *s, const char *typed, page *out)
{
    mfa_result res;
    mfa_rc rc;

    if (s->stage != NEED_SECOND_FACTOR)
        return MFA_ERR_STATE;
    if (typed == NULL)
        rc = mfa_oob_begin(a->ctx, s->user, "sms");
    else if ((rc = mfa_oob_verify(a->ctx, s->user, "sms", typed, &res)) ==
             MFA_OK)
        s->stage = LOGGED_IN;
    out->status = rc == MFA_OK ? 200 : 401;
    return rc;
}
/* [/doc:recover] */

/* ---- passkeys and security keys ----------------------------------------- */

/* [doc:passkeys] */
/* At start-up, after app_open: the relying party, the site's domain and
 * the exact origins of its pages.  A library built without libfido2
 * answers MFA_ERR_UNSUPPORTED: then the pages do not offer passkeys. */
static mfa_rc
app_passkeys_on(app *a)
{
    mfa_rc rc = mfa_webauthn_rp_new(&a->rp, "example.com", "Example Mail");

    if (rc == MFA_OK)
        rc = mfa_webauthn_rp_add_origin(a->rp, "https://mail.example.com");
    /* "Sign in with a passkey" (no user name, no password) replaces both
     * factors: the passkey must verify its user (PIN, fingerprint) */
    if (rc == MFA_OK)
        rc = mfa_webauthn_rp_set_user_verification(a->rp,
                                                   MFA_WEBAUTHN_UV_REQUIRED);
    if (rc == MFA_OK)
        rc = mfa_ctx_set_webauthn(a->ctx, a->rp);
    if (rc != MFA_OK)
        mfa_webauthn_rp_free(&a->rp);
    return rc;
}

/* POST /settings/passkey/begin: "Add a security key or passkey", for a
 * logged-in user.  The JSON goes to the page for
 * navigator.credentials.create(); nothing is kept in the session (the
 * challenge in it is signed by the key ring). */
static mfa_rc
handle_passkey_add_begin(app *a, session *s, char **options_json)
{
    if (s->stage != LOGGED_IN)
        return MFA_ERR_STATE;
    return mfa_webauthn_register_begin(a->ctx, s->user, NULL, NULL,
                                       options_json);
}

/* POST /settings/passkey/finish: the page posts credential.toJSON() and
 * the name the user gave the key. */
static mfa_rc
handle_passkey_add_finish(app *a, session *s, const char *body,
                          const char *label, page *out)
{
    mfa_result res;
    mfa_rc rc;

    if (s->stage != LOGGED_IN)
        return MFA_ERR_STATE;
    rc = mfa_webauthn_register_finish(a->ctx, s->user, label, body,
                                      strlen(body), &res);
    if (rc == MFA_OK) {
        user_set_mfa_required(s->user, 1); /* a second factor now */
        out->status = 200;
        snprintf(out->message, sizeof(out->message), "Passkey added.");
    } else if (rc == MFA_ERR_EXISTS) {
        out->status = 409;
        snprintf(out->message, sizeof(out->message),
                 "That key is registered already, or you have the most "
                 "keys allowed.");
    } else if (rc == MFA_ERR_STORE || rc == MFA_ERR_BUSY) {
        out->status = 503;
        snprintf(out->message, sizeof(out->message),
                 "Please try again shortly.");
    } else {
        /* expired (the dialog stayed open too long), cancelled, tampered */
        out->status = 400;
        snprintf(out->message, sizeof(out->message),
                 "That didn't work. Please try again.");
    }
    return rc;
}

/* POST /login/passkey/begin: "Use your security key or passkey" on the
 * second-factor page (after the password), or "Sign in with a passkey"
 * on the login page, where no user name was typed. */
static mfa_rc
handle_passkey_login_begin(app *a, session *s, char **options_json)
{
    const char *user = s->stage == NEED_SECOND_FACTOR ? s->user : NULL;

    return mfa_webauthn_login_begin(a->ctx, user, options_json);
}

/* POST /login/passkey/finish: the page posts assertion.toJSON().  One
 * flow like a code: counted, throttled per device, replays refused. */
static mfa_rc
handle_passkey_login_finish(app *a, session *s, const char *body, page *out)
{
    mfa_device_opts dev = {NULL, "web browser", 0};
    const char *user = s->stage == NEED_SECOND_FACTOR ? s->user : NULL;
    char account[MFA_ACCOUNT_MAX + 1];
    mfa_result res;
    mfa_rc rc;

    dev.token = s->device_cookie[0] ? s->device_cookie : NULL;
    rc = mfa_webauthn_login_finish_device(a->ctx, user, body, strlen(body),
                                          &dev, account, &res);
    if (rc == MFA_ERR_DEVICE_UNKNOWN || rc == MFA_ERR_DEVICE_FORMAT) {
        memset(s->device_cookie, 0, sizeof(s->device_cookie));
        dev.token = NULL;
        rc = mfa_webauthn_login_finish_device(a->ctx, user, body, strlen(body),
                                              &dev, account, &res);
    }
    if (rc == MFA_OK) {
        /* without a name typed, the passkey said whose it is */
        snprintf(s->user, sizeof(s->user), "%s", account);
        snprintf(s->device_cookie, sizeof(s->device_cookie), "%s",
                 res.device_token);
        memset(&res, 0, sizeof(res)); /* the token is a secret */
        s->stage = LOGGED_IN;         /* and rotate the session id */
        out->status = 200;
        return MFA_OK;
    }
    if (rc == MFA_ERR_THROTTLED) {
        out->status = 429;
        snprintf(out->message, sizeof(out->message),
                 "Too many attempts. Try again in %u seconds.",
                 res.retry_after);
    } else if (rc == MFA_ERR_WEBAUTHN_CLONED) {
        /* two devices hold one key: the event says which; tell the user */
        out->status = 401;
        snprintf(out->message, sizeof(out->message),
                 "This security key can't be used. Contact support.");
    } else if (rc == MFA_ERR_STORE || rc == MFA_ERR_BUSY ||
               rc == MFA_ERR_CORRUPT) {
        out->status = 503;
        snprintf(out->message, sizeof(out->message),
                 "Sign-in is unavailable. Please try again shortly.");
    } else {
        out->status = 401;
        snprintf(out->message, sizeof(out->message),
                 "That passkey didn't work. Try again or use another way.");
    }
    return rc;
}
/* [/doc:passkeys] */

/* ---- settings and administration ----------------------------------------- */

/* [doc:admin] */
/* GET /settings/mfa: the user's authenticators, and backup codes left. */
static mfa_rc
handle_settings(app *a, session *s, size_t *n_factors, size_t *codes_left)
{
    mfa_factor_info *f = NULL;
    mfa_rc rc;

    if (s->stage != LOGGED_IN)
        return MFA_ERR_STATE;
    if ((rc = mfa_factors_list(a->ctx, s->user, &f, n_factors)) != MFA_OK)
        return rc;
    for (size_t i = 0; i < *n_factors; i++)
        if (f[i].status == MFA_FACTOR_ACTIVE)
            printf("  authenticator %s \"%s\"\n", f[i].id, f[i].label);
    mfa_free(f);
    /* passkeys and security keys have a list of their own; their factor
     * ids go to mfa_factor_rename() and mfa_factor_remove() as well */
    if (a->rp != NULL) {
        mfa_webauthn_info *k = NULL;
        size_t n = 0;

        if ((rc = mfa_webauthn_list(a->ctx, s->user, &k, &n)) != MFA_OK)
            return rc;
        for (size_t i = 0; i < n; i++)
            printf("  passkey %s \"%s\"%s\n", k[i].factor_id, k[i].label,
                   (k[i].flags & MFA_WEBAUTHN_FLAG_BE) ? " (synced)" : "");
        mfa_free(k);
    }
    return mfa_backup_codes_left(a->ctx, s->user, codes_left);
}

/* The support console, after the user's identity was checked another way:
 * every factor and backup code of the account goes; the user enrolls
 * again at the next login.  Tell the user by e-mail that it happened. */
static mfa_rc
handle_admin_reset(app *a, const char *user)
{
    mfa_rc rc = mfa_reset(a->ctx, user);

    if (rc == MFA_OK)
        user_set_mfa_required(user, 0);
    return rc;
}
/* [/doc:admin] */

/* ---- main: the user's side ----------------------------------------------- */

static unsigned passed, failed;

static void
expect(int ok, const char *what)
{
    if (ok) {
        passed++;
    } else {
        failed++;
        printf("FAILED: %s\n", what);
    }
}

/* What an authenticator app does with the scanned key: parse the URI from
 * the QR code (here: rebuilt from the typed key) and show codes. */
static int
phone_code(const char *manual_key, int64_t now, char code[MFA_CODE_BUFSIZE])
{
    mfa_secret_t *sec = NULL;
    mfa_otp_t *otp = NULL;
    int ok;

    ok = mfa_secret_from_base32(&sec, manual_key, 0) == MFA_OK &&
         mfa_otp_new(&otp, mfa_secret_bytes(sec), mfa_secret_len(sec)) ==
             MFA_OK &&
         mfa_otp_totp(otp, now, code, MFA_CODE_BUFSIZE) == MFA_OK;
    mfa_otp_free(&otp);
    mfa_secret_free(&sec);
    return ok;
}

/* What the browser and a passkey do with the options
 * (navigator.credentials.create() and .get(), then toJSON()), reduced to
 * an Ed25519 key of libsodium's.  A real service never has this code. */
typedef struct demo_passkey {
    uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    uint8_t id[16], handle[64];
    size_t handle_len;
    uint32_t count;
} demo_passkey;

static void
b64(const uint8_t *p, size_t n, char *out, size_t max)
{
    sodium_bin2base64(out, max, p, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* The base64url string value of "key", the first after `after`. */
static int
json_b64(const char *json, const char *after, const char *key, uint8_t *out,
         size_t max, size_t *len)
{
    const char *p = after != NULL ? strstr(json, after) : json, *end;
    char pat[32];

    snprintf(pat, sizeof(pat), "\"%s\":\"", key);
    if (p == NULL || (p = strstr(p, pat)) == NULL)
        return 0;
    p += strlen(pat);
    if ((end = strchr(p, '"')) == NULL)
        return 0;
    return sodium_base642bin(out, max, p, (size_t)(end - p), NULL, len, NULL,
                             sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0;
}

static size_t
demo_client_data(const char *type, const uint8_t *ch, size_t ch_len, char *out,
                 size_t max)
{
    char c[100];

    b64(ch, ch_len, c, sizeof(c));
    snprintf(out, max,
             "{\"type\":\"%s\",\"challenge\":\"%s\","
             "\"origin\":\"https://mail.example.com\",\"crossOrigin\":false}",
             type, c);
    return strlen(out);
}

/* rpIdHash | flags | signCount */
static void
demo_auth_data(uint8_t ad[37], uint8_t flags, uint32_t count)
{
    crypto_hash_sha256(ad, (const unsigned char *)"example.com", 11);
    ad[32] = flags;
    for (int i = 0; i < 4; i++)
        ad[33 + i] = (uint8_t)(count >> (24 - 8 * i));
}

/* navigator.credentials.create(): a new key, attestation "none" */
static int
demo_passkey_create(demo_passkey *k, const char *options, char *out, size_t max)
{
    /* COSE_Key {1: 1 (OKP), 3: -8 (EdDSA), -1: 6 (Ed25519), -2: x} */
    static const uint8_t cose[] = {0xa4, 0x01, 0x01, 0x03, 0x27,
                                   0x20, 0x06, 0x21, 0x58, 0x20};
    /* {"fmt": "none", "attStmt": {}, "authData": bytes(113)} */
    static const uint8_t head[] = {0xa3, 0x63, 'f',  'm',  't',  0x64, 'n', 'o',
                                   'n',  'e',  0x67, 'a',  't',  't',  'S', 't',
                                   'm',  't',  0xa0, 0x68, 'a',  'u',  't', 'h',
                                   'D',  'a',  't',  'a',  0x58, 113};
    uint8_t ch[64], ad[113], att[sizeof(head) + sizeof(ad)];
    char cd[256], b_cd[360], b_att[200], b_id[32];
    size_t ch_len = 0, cd_len;

    if (!json_b64(options, NULL, "challenge", ch, sizeof(ch), &ch_len) ||
        !json_b64(options, "\"user\":", "id", k->handle, sizeof(k->handle),
                  &k->handle_len))
        return 0;
    crypto_sign_keypair(k->pk, k->sk);
    randombytes_buf(k->id, sizeof(k->id));
    k->count = 0;
    cd_len = demo_client_data("webauthn.create", ch, ch_len, cd, sizeof(cd));
    demo_auth_data(ad, 0x45, 0); /* UP, UV, AT */
    memset(ad + 37, 0, 16);      /* AAGUID */
    ad[53] = 0;
    ad[54] = sizeof(k->id);
    memcpy(ad + 55, k->id, sizeof(k->id));
    memcpy(ad + 71, cose, sizeof(cose));
    memcpy(ad + 81, k->pk, sizeof(k->pk));
    memcpy(att, head, sizeof(head));
    memcpy(att + sizeof(head), ad, sizeof(ad));
    b64((const uint8_t *)cd, cd_len, b_cd, sizeof(b_cd));
    b64(att, sizeof(att), b_att, sizeof(b_att));
    b64(k->id, sizeof(k->id), b_id, sizeof(b_id));
    snprintf(out, max,
             "{\"id\":\"%s\",\"rawId\":\"%s\",\"type\":\"public-key\","
             "\"response\":{\"clientDataJSON\":\"%s\","
             "\"attestationObject\":\"%s\",\"transports\":[\"internal\"]}}",
             b_id, b_id, b_cd, b_att);
    return 1;
}

/* navigator.credentials.get(): a signature over the challenge */
static int
demo_passkey_get(demo_passkey *k, const char *options, char *out, size_t max)
{
    uint8_t ch[64], ad[37], msg[37 + 32], sig[crypto_sign_BYTES];
    char cd[256], b_cd[360], b_ad[60], b_sig[100], b_id[32], b_uh[100];
    size_t ch_len = 0, cd_len;

    if (!json_b64(options, NULL, "challenge", ch, sizeof(ch), &ch_len))
        return 0;
    cd_len = demo_client_data("webauthn.get", ch, ch_len, cd, sizeof(cd));
    demo_auth_data(ad, 0x05, ++k->count); /* UP, UV */
    memcpy(msg, ad, sizeof(ad));
    crypto_hash_sha256(msg + sizeof(ad), (const unsigned char *)cd, cd_len);
    crypto_sign_detached(sig, NULL, msg, sizeof(msg), k->sk);
    b64((const uint8_t *)cd, cd_len, b_cd, sizeof(b_cd));
    b64(ad, sizeof(ad), b_ad, sizeof(b_ad));
    b64(sig, sizeof(sig), b_sig, sizeof(b_sig));
    b64(k->id, sizeof(k->id), b_id, sizeof(b_id));
    b64(k->handle, k->handle_len, b_uh, sizeof(b_uh));
    snprintf(out, max,
             "{\"id\":\"%s\",\"rawId\":\"%s\",\"type\":\"public-key\","
             "\"response\":{\"clientDataJSON\":\"%s\","
             "\"authenticatorData\":\"%s\",\"signature\":\"%s\","
             "\"userHandle\":\"%s\"}}",
             b_id, b_id, b_cd, b_ad, b_sig, b_uh);
    return 1;
}

int
main(int argc, char **argv)
{
    char dir[] = "/tmp/mfa-integration.XXXXXX";
    char keyring[64], db[80], spec[96], code[MFA_CODE_BUFSIZE];
    char saved_key[128], backup[2][MFA_BACKUP_BUFSIZE];
    char cookie_of_alice[MFA_DEVICE_TOKEN_BUFSIZE] = "";
    const char *user = "alice@example.com";
    size_t n_factors = 0, left = 0;
    session s;
    page p;
    app a;
    mfa_rc rc;

    memset(&p, 0, sizeof(p));
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(keyring, sizeof(keyring), "%s/mfa.keyring", dir);
    snprintf(db, sizeof(db), "%s/mfa.db", dir);
    snprintf(spec, sizeof(spec), "sqlite:%s", db);
    if (argc > 1)
        snprintf(spec, sizeof(spec), "%s", argv[1]);

    /* what an operator does once: `mfa keyring new PATH`, and before the
     * store exists, the service refuses to start */
    expect(mfa_keyring_create_file(keyring) == MFA_OK, "create key ring");
    rc = app_open(&a, keyring, spec);
    app_close(&a);
    if (rc == MFA_ERR_UNSUPPORTED && argc == 1) {
        printf("built without SQLite: skipped\n");
        return 77;
    }
    expect(argc > 1 || rc == MFA_ERR_NO_STORE,
           "no store yet: the service does not start");
    {
        /* `mfa migrate --store SPEC`, at deployment */
        mfa_store_t *st = NULL;
        expect(mfa_store_create(&st, spec) == MFA_OK, "mfa migrate");
        mfa_store_free(&st);
    }
    rc = app_open(&a, keyring, spec);
    expect(rc == MFA_OK, "app_open");
    if (rc != MFA_OK) {
        printf("app_open: %s\n", mfa_strerror(rc));
        printf("%u passed, %u failed\n", passed, failed + 1);
        return 1;
    }
    mfa_ctx_set_clock(a.ctx, demo_clock, NULL);
    printf("store: %s\n", mfa_store_name(a.store));

    /* 1. no MFA yet: the password alone logs in */
    expect(handle_login(&a, &s, user, "correct horse", &p) == MFA_OK &&
               s.stage == LOGGED_IN,
           "login without MFA");
    expect(handle_login(&a, &s, user, "wrong", &p) != MFA_OK &&
               s.stage == ANONYMOUS,
           "wrong password refused");
    expect(handle_login(&a, &s, user, "correct horse", &p) == MFA_OK,
           "login again");

    /* 2. set-up: QR code and key; a wrong code; the right one */
    page_clear(&p);
    expect(handle_setup_begin(&a, &s, "Alice's phone", &p) == MFA_OK,
           "setup begin");
    expect(p.manual_key[0] != '\0', "typed key shown");
    expect(p.qr_img != NULL ||
               mfa_qr_new(NULL, "", MFA_QR_ECC_M) == MFA_ERR_UNSUPPORTED,
           "QR code shown (when built with libqrencode)");
    snprintf(saved_key, sizeof(saved_key), "%s", p.manual_key);
    page_clear(&p);
    expect(handle_setup_confirm(&a, &s, "000000", &p) != MFA_OK &&
               p.status == 400,
           "wrong first code refused");
    demo_now += 30;
    expect(phone_code(saved_key, demo_now, code), "phone shows a code");
    page_clear(&p);
    expect(handle_setup_confirm(&a, &s, code, &p) == MFA_OK, "setup confirm");
    expect(p.backup_codes != NULL && p.n_backup_codes == 10,
           "ten backup codes shown");
    if (p.backup_codes != NULL) {
        snprintf(backup[0], sizeof(backup[0]), "%s", p.backup_codes[0]);
        snprintf(backup[1], sizeof(backup[1]), "%s", p.backup_codes[1]);
    }
    page_clear(&p);

    /* 3. login: password, then a code; the same code again is refused */
    expect(handle_login(&a, &s, user, "correct horse", &p) == MFA_OK &&
               s.stage == NEED_SECOND_FACTOR,
           "password accepted, code needed");
    demo_now += 30;
    expect(phone_code(saved_key, demo_now, code), "phone shows a code");
    expect(handle_login_code(&a, &s, code, 0, &p) == MFA_OK &&
               s.stage == LOGGED_IN &&
               strlen(s.device_cookie) == MFA_DEVICE_TOKEN_LEN,
           "login with code: a device cookie");
    snprintf(cookie_of_alice, sizeof(cookie_of_alice), "%s", s.device_cookie);
    expect(handle_login(&a, &s, user, "correct horse", &p) == MFA_OK,
           "second login: password");
    expect(handle_login_code(&a, &s, code, 0, &p) == MFA_ERR_REPLAYED &&
               s.stage == NEED_SECOND_FACTOR,
           "the same code again is a replay");
    expect(handle_login_code(&a, &s, "12345", 0, &p) == MFA_ERR_CODE_FORMAT,
           "five digits refused");

    /* 4. lost phone: a backup code (typed sloppily) works once */
    expect(handle_login_backup_code(&a, &s, backup[0], &p) == MFA_OK &&
               s.stage == LOGGED_IN,
           "login with a backup code");
    expect(handle_login(&a, &s, user, "correct horse", &p) == MFA_OK,
           "third login: password");
    expect(handle_login_backup_code(&a, &s, backup[0], &p) ==
               MFA_ERR_CODE_WRONG,
           "a used backup code is refused");
    for (char *c = backup[1]; *c != '\0'; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a'); /* typed in lowercase */
    expect(handle_login_backup_code(&a, &s, backup[1], &p) == MFA_OK,
           "lowercase backup code accepted");
    expect(handle_settings(&a, &s, &n_factors, &left) == MFA_OK &&
               n_factors == 1 && left == 8,
           "settings: one authenticator, eight codes left");

    /* 5. a code by SMS */
    expect(handle_login(&a, &s, user, "correct horse", &p) == MFA_OK,
           "fourth login: password");
    expect(handle_login_sms(&a, &s, NULL, &p) == MFA_OK && outbox[0] != '\0',
           "SMS code sent");
    expect(handle_login_sms(&a, &s, outbox, &p) == MFA_OK &&
               s.stage == LOGGED_IN,
           "login with the SMS code");

    /* 6. guessing is throttled: after the free attempts, a wait */
    expect(handle_login(&a, &s, user, "correct horse", &p) == MFA_OK,
           "fifth login: password");
    rc = MFA_OK;
    memset(s.device_cookie, 0, sizeof(s.device_cookie)); /* another browser */
    for (int i = 0; i < 8 && rc != MFA_ERR_THROTTLED; i++)
        rc = handle_login_code(&a, &s, "000000", 0, &p);
    expect(rc == MFA_ERR_THROTTLED && p.status == 429, "guessing is throttled");

    /* 6b. the user's own browser: "remember this device" skips the code
     * for 30 days, and the guessing above does not lock it out */
    {
        session mine;

        memset(&mine, 0, sizeof(mine));
        snprintf(mine.device_cookie, sizeof(mine.device_cookie), "%s",
                 cookie_of_alice);
        demo_now += 30;
        expect(handle_login(&a, &mine, user, "correct horse", &p) == MFA_OK &&
                   mine.stage == NEED_SECOND_FACTOR,
               "known browser: password, then a code");
        expect(phone_code(saved_key, demo_now, code), "phone shows a code");
        expect(handle_login_code(&a, &mine, code, 1, &p) == MFA_OK,
               "a known device is not locked out by the guessing");
        expect(handle_login(&a, &mine, user, "correct horse", &p) == MFA_OK &&
                   mine.stage == LOGGED_IN,
               "remembered: no code asked");
        demo_now += 31 * 86400;
        expect(handle_login(&a, &mine, user, "correct horse", &p) == MFA_OK &&
                   mine.stage == NEED_SECOND_FACTOR,
               "after 30 days the code is asked again");
        snprintf(mine.device_cookie, sizeof(mine.device_cookie), "%s",
                 "0123456789abcdef.forged");
        expect(handle_login(&a, &mine, user, "correct horse", &p) == MFA_OK &&
                   mine.stage == NEED_SECOND_FACTOR &&
                   mine.device_cookie[0] == '\0',
               "a forged cookie is dropped");
    }

    /* 6c. a passkey: added in the settings, then the second factor after
     * the password, then a sign-in without a user name */
    rc = app_passkeys_on(&a);
    expect(rc == MFA_OK || rc == MFA_ERR_UNSUPPORTED, "passkeys on");
    if (rc == MFA_OK) {
        demo_passkey key;
        char *opts = NULL, body[2048], used[2048];
        session anon;

        expect(handle_login(&a, &s, user, "correct horse", &p) == MFA_OK &&
                   s.stage == NEED_SECOND_FACTOR,
               "passkeys: password, then a code");
        expect(phone_code(saved_key, demo_now, code) &&
                   handle_login_code(&a, &s, code, 0, &p) == MFA_OK,
               "logged in to add a passkey");
        expect(handle_passkey_add_begin(&a, &s, &opts) == MFA_OK &&
                   demo_passkey_create(&key, opts, body, sizeof(body)),
               "the browser makes a passkey");
        mfa_free(opts);
        expect(handle_passkey_add_finish(&a, &s, body, "YubiKey", &p) ==
                       MFA_OK &&
                   p.status == 200,
               "passkey added");
        expect(handle_passkey_add_finish(&a, &s, body, "YubiKey", &p) ==
                       MFA_ERR_REPLAYED &&
                   p.status == 400,
               "the same answer twice adds nothing");
        expect(handle_settings(&a, &s, &n_factors, &left) == MFA_OK,
               "settings list the passkey");

        expect(handle_login(&a, &s, user, "correct horse", &p) == MFA_OK &&
                   s.stage == NEED_SECOND_FACTOR,
               "password, then the passkey");
        expect(handle_passkey_login_begin(&a, &s, &opts) == MFA_OK &&
                   demo_passkey_get(&key, opts, body, sizeof(body)),
               "the browser signs the challenge");
        mfa_free(opts);
        expect(handle_passkey_login_finish(&a, &s, body, &p) == MFA_OK &&
                   s.stage == LOGGED_IN,
               "logged in with the passkey");
        snprintf(used, sizeof(used), "%s", body);
        expect(handle_login(&a, &s, user, "correct horse", &p) == MFA_OK,
               "password again");
        expect(handle_passkey_login_finish(&a, &s, used, &p) ==
                       MFA_ERR_REPLAYED &&
                   s.stage == NEED_SECOND_FACTOR && p.status == 401,
               "a captured answer sent again is refused");

        memset(&anon, 0, sizeof(anon)); /* no user name typed */
        expect(handle_passkey_login_begin(&a, &anon, &opts) == MFA_OK &&
                   demo_passkey_get(&key, opts, body, sizeof(body)),
               "sign in with a passkey: the browser signs");
        mfa_free(opts);
        expect(handle_passkey_login_finish(&a, &anon, body, &p) == MFA_OK &&
                   anon.stage == LOGGED_IN && strcmp(anon.user, user) == 0,
               "the passkey said whose it is");
    }

    /* 7. the store is replaced by an empty one (a mistyped path, a restore
     * gone wrong): the user record still says MFA, so no login */
    if (argc == 1) {
        char other[128];
        mfa_store_t *st = NULL;
        app b;

        snprintf(other, sizeof(other), "sqlite:%s/empty.db", dir);
        expect(mfa_store_create(&st, other) == MFA_OK, "an empty store");
        mfa_store_free(&st);
        expect(app_open(&b, keyring, other) == MFA_OK, "opened the wrong one");
        mfa_ctx_set_clock(b.ctx, demo_clock, NULL);
        expect(handle_login(&b, &s, user, "correct horse", &p) ==
                       MFA_ERR_NO_FACTOR &&
                   p.status == 503 && s.stage != LOGGED_IN,
               "an empty store never logs in on the password alone");
        app_close(&b);
        for (int k = 0; k < 3; k++) {
            static const char *const ext[] = {"", "-wal", "-shm"};
            snprintf(other, sizeof(other), "%s/empty.db%s", dir, ext[k]);
            unlink(other);
        }
    }

    /* 8. lost phone and codes: the administrator's reset */
    expect(handle_admin_reset(&a, user) == MFA_OK, "admin reset");
    expect(handle_login(&a, &s, user, "correct horse", &p) == MFA_OK &&
               s.stage == LOGGED_IN,
           "after the reset the password alone logs in");

    app_close(&a);
    page_clear(&p);
    unlink(keyring);
    unlink(db);
    {
        char side[96];
        snprintf(side, sizeof(side), "%s-wal", db);
        unlink(side);
        snprintf(side, sizeof(side), "%s-shm", db);
        unlink(side);
    }
    rmdir(dir);
    printf("%u passed, %u failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
