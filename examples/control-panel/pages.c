/*
 * The pages.  Each handler checks the session state it needs, calls libmfa
 * for every MFA decision, and renders HTML with every user string escaped.
 */
#include "http.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- layout ------------------------------------------------------------- */

static void
page_begin(cp_buf *b, const cp_req *r, const char *title)
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
    cp_buf_puts(b, "</span>");
    const cp_session *s = r->s;
    if (s && s->state == CP_FULL) {
        cp_user u;
        cp_buf_puts(b, "<a href=\"/dashboard\">Dashboard</a>"
                       "<a href=\"/settings\">Security settings</a>");
        if (cp_users_get(cp.users, s->user, &u) == 0 && u.is_admin)
            cp_buf_puts(b, "<a href=\"/admin\">Admin</a>");
    }
    cp_buf_puts(b, "<a href=\"/outbox\">Outbox (demo)</a>");
    if (s && s->state != CP_ANON) {
        cp_buf_puts(b, "<form method=\"post\" action=\"/logout\">");
        cp_csrf_input(b, r);
        cp_buf_puts(b, "<button type=\"submit\" id=\"logout\">Log out</button>"
                       "</form>");
    }
    cp_buf_puts(b, "</header><main>");
}

static void
page_end(cp_buf *b)
{
    cp_buf_puts(b, "</main><script src=\"/static/app.js\"></script>"
                   "</body></html>\n");
}

/* Show and forget the session's one-time notice. */
static void
notice(cp_buf *b, cp_req *r)
{
    if (r->s && r->s->notice[0]) {
        cp_buf_puts(b, "<p class=\"notice\" role=\"status\">");
        cp_buf_esc(b, r->s->notice);
        cp_buf_puts(b, "</p>");
        r->s->notice[0] = '\0';
    }
}

static void
error_box(cp_buf *b, const char *msg)
{
    if (msg && msg[0]) {
        cp_buf_puts(b, "<p class=\"error\" role=\"alert\">");
        cp_buf_esc(b, msg);
        cp_buf_puts(b, "</p>");
    }
}

static void
set_notice(cp_req *r, const char *msg)
{
    snprintf(r->s->notice, sizeof r->s->notice, "%s", msg);
}

enum MHD_Result
cp_error_page(cp_req *r, unsigned status, const char *msg)
{
    cp_buf b = {0};
    page_begin(&b, r, "Error");
    cp_buf_puts(&b, "<h1>Something went wrong</h1>");
    error_box(&b, msg);
    cp_buf_puts(&b, "<p><a href=\"/\">Back to the start</a></p>");
    page_end(&b);
    return cp_send_html(r, status, &b);
}

static enum MHD_Result
service_error(cp_req *r, mfa_rc rc)
{
    /* The store's details stay in the log; the page says little. */
    cp_log("service error: %s", mfa_strerror_name(rc));
    return cp_error_page(r, MHD_HTTP_SERVICE_UNAVAILABLE,
                         "The sign-in service is not available right now. "
                         "Try again in a minute.");
}

static void
code_field(cp_buf *b, const char *label)
{
    cp_buf_puts(b, "<label for=\"code\">");
    cp_buf_esc(b, label);
    cp_buf_puts(b, "</label><input type=\"text\" id=\"code\" name=\"code\" "
                   "class=\"code\" inputmode=\"numeric\" "
                   "autocomplete=\"one-time-code\" maxlength=\"12\" "
                   "required autofocus>");
}

/* The message for a refused code; "" for codes the caller handles. */
static void
code_error(mfa_rc rc, const mfa_result *res, char *out, size_t size)
{
    switch (rc) {
    case MFA_ERR_THROTTLED:
        snprintf(out, size, "Too many attempts, try again in %u seconds.",
                 (unsigned)(res->retry_after ? res->retry_after : 1));
        break;
    case MFA_ERR_CODE_FORMAT:
        snprintf(out, size, "Enter the six-digit code, digits only.");
        break;
    case MFA_ERR_REPLAYED:
        snprintf(out, size,
                 "That code has already been used. Wait for the "
                 "next code in your app and enter it.");
        break;
    case MFA_ERR_EXPIRED:
    case MFA_ERR_ATTEMPTS:
        snprintf(out, size, "That code has expired. Ask for a new one.");
        break;
    case MFA_ERR_NO_FACTOR:
        snprintf(out, size,
                 "No authenticator app is set up for this "
                 "account.");
        break;
    default:
        snprintf(out, size,
                 "That code didn't work. Check the code and try "
                 "again.");
        break;
    }
}

/* Refused codes are the user's business; anything else is the service's. */
static int
is_refusal(mfa_rc rc)
{
    switch (rc) {
    case MFA_ERR_CODE_WRONG:
    case MFA_ERR_CODE_FORMAT:
    case MFA_ERR_REPLAYED:
    case MFA_ERR_THROTTLED:
    case MFA_ERR_EXPIRED:
    case MFA_ERR_ATTEMPTS:
    case MFA_ERR_NO_FACTOR:
    case MFA_ERR_NOT_FOUND:
    case MFA_ERR_BACKUP_FORMAT:
    case MFA_ERR_NO_CODES:
    case MFA_ERR_STATE:
        return 1;
    default:
        return 0;
    }
}

/* "ending in 34": never the whole number on a page behind a password only. */
static void
phone_tail(const char *phone, char out[8])
{
    size_t n = 0;
    char digits[CP_PHONE_MAX + 1];
    for (const char *p = phone; *p; p++)
        if (isdigit((unsigned char)*p))
            digits[n++] = *p;
    digits[n] = '\0';
    snprintf(out, 8, "%s", n >= 2 ? digits + n - 2 : digits);
}

static int
user_has_mfa(const char *user, int *has)
{
    cp_user u;
    int r = cp_users_get(cp.users, user, &u);
    if (r < 0)
        return MFA_ERR_STORE;
    mfa_rc rc = mfa_account_has_mfa(cp.ctx, user, has);
    if (rc != MFA_OK)
        return rc;
    if (r == 0 && u.phone[0])
        *has = 1;
    return MFA_OK;
}

/* Raise the session to fully logged in: a new id on every privilege change. */
static void
become_full(cp_req *r)
{
    r->s->state = CP_FULL;
    r->s->deadline = 0;
    cp_session_rotate(r->s);
}

/* ---- log in, sign up, log out ------------------------------------------ */

static enum MHD_Result
login_form(cp_req *r, const char *err, const char *name)
{
    cp_buf b = {0};
    page_begin(&b, r, "Log in");
    cp_buf_puts(&b, "<h1>Log in</h1>");
    notice(&b, r);
    error_box(&b, err);
    cp_buf_puts(&b, "<form method=\"post\" action=\"/login\">");
    cp_csrf_input(&b, r);
    cp_buf_puts(&b, "<label for=\"username\">User name</label>"
                    "<input type=\"text\" id=\"username\" name=\"username\" "
                    "autocomplete=\"username\" required value=\"");
    cp_buf_esc(&b, name);
    cp_buf_puts(&b,
                "\"><label for=\"password\">Password</label>"
                "<input type=\"password\" id=\"password\" name=\"password\" "
                "autocomplete=\"current-password\" required>"
                "<div><button type=\"submit\">Log in</button></div></form>"
                "<p class=\"links\"><a href=\"/signup\">Create an account"
                "</a></p>");
    page_end(&b);
    return cp_send_html(r, err ? MHD_HTTP_UNAUTHORIZED : MHD_HTTP_OK, &b);
}

static enum MHD_Result
where_to(cp_req *r)
{
    switch (r->s->state) {
    case CP_FULL:
        return cp_redirect(r, "/dashboard");
    case CP_CODE:
        return cp_redirect(r, "/login/code");
    case CP_ENROLL:
        return cp_redirect(r, "/mfa/choose");
    default:
        return cp_redirect(r, "/login");
    }
}

/*
 * Password guesses per user name, in memory: after PW_FREE failures each
 * further one waits twice as long (30 s, 60 s, ... up to 15 minutes).  The
 * second factor has libmfa's throttle; this one is the application's.
 */
#define PW_FREE 5
#define PW_BASE 30
#define PW_MAX 900
#define PW_SLOTS 1024

typedef struct pw_slot {
    char name[CP_USER_MAX + 1];
    uint32_t failures;
    int64_t until;
    int64_t seen;
} pw_slot;

static pw_slot pw_slots[PW_SLOTS];

static pw_slot *
pw_slot_for(const char *name, int create, int64_t now)
{
    pw_slot *oldest = &pw_slots[0];
    for (size_t i = 0; i < PW_SLOTS; i++) {
        if (strcmp(pw_slots[i].name, name) == 0)
            return &pw_slots[i];
        if (pw_slots[i].seen < oldest->seen)
            oldest = &pw_slots[i];
    }
    if (!create)
        return NULL;
    memset(oldest, 0, sizeof *oldest);
    snprintf(oldest->name, sizeof oldest->name, "%s", name);
    oldest->seen = now;
    return oldest;
}

static void
pw_failed(const char *name, int64_t now)
{
    pw_slot *p = pw_slot_for(name, 1, now);
    p->failures++;
    p->seen = now;
    if (p->failures > PW_FREE) {
        uint32_t n = p->failures - PW_FREE - 1, delay = PW_BASE;
        while (n-- > 0 && delay < PW_MAX)
            delay *= 2;
        p->until = now + (delay < PW_MAX ? delay : PW_MAX);
    }
}

static enum MHD_Result
do_login(cp_req *r)
{
    const char *name = cp_form(r, "username"), *pw = cp_form(r, "password");
    cp_user u;
    if (strlen(pw) > CP_PASSWORD_MAX || !cp_valid_username(name)) {
        cp_log("login refused: malformed user name or password");
        return login_form(r, "Incorrect user name or password.", "");
    }
    pw_slot *slot = pw_slot_for(name, 0, r->now);
    if (slot && r->now < slot->until) {
        char msg[96];
        snprintf(msg, sizeof msg,
                 "Too many attempts, try again in %lld seconds.",
                 (long long)(slot->until - r->now));
        cp_log("login refused for %s: password throttled", name);
        return login_form(r, msg, name);
    }
    int k = cp_users_login(cp.users, name, pw, &u);
    if (k < 0)
        return service_error(r, MFA_ERR_STORE);
    if (k != 0) {
        pw_failed(name, r->now);
        cp_log("login refused for %s: wrong password or unknown user", name);
        return login_form(r, "Incorrect user name or password.", name);
    }
    if (slot)
        memset(slot, 0, sizeof *slot);
    int has = 0;
    mfa_rc rc = user_has_mfa(name, &has);
    if (rc != MFA_OK)
        return service_error(r, rc);
    cp_session_reset(r->s);
    snprintf(r->s->user, sizeof r->s->user, "%s", name);
    if (has) {
        r->s->state = CP_CODE;
        r->s->deadline = r->now + CP_HALF_TTL;
        cp_log("password accepted for %s: second factor pending", name);
        int has_app = 0;
        if (mfa_account_has_mfa(cp.ctx, name, &has_app) == MFA_OK && !has_app)
            return cp_redirect(r, "/login/sms");
        return cp_redirect(r, "/login/code");
    }
    r->s->state = CP_ENROLL;
    r->s->deadline = r->now + CP_ENROLL_TTL;
    cp_log("password accepted for %s: MFA set-up required", name);
    return cp_redirect(r, "/mfa/choose");
}

static enum MHD_Result
signup_form(cp_req *r, const char *err, const char *name)
{
    cp_buf b = {0};
    page_begin(&b, r, "Create an account");
    cp_buf_puts(&b, "<h1>Create an account</h1>");
    error_box(&b, err);
    cp_buf_puts(&b, "<form method=\"post\" action=\"/signup\">");
    cp_csrf_input(&b, r);
    cp_buf_puts(&b, "<label for=\"username\">User name</label>"
                    "<input type=\"text\" id=\"username\" name=\"username\" "
                    "autocomplete=\"username\" required value=\"");
    cp_buf_esc(&b, name);
    cp_buf_puts(&b,
                "\"><p class=\"muted\">Lowercase letters, digits, dots, "
                "hyphens and underscores; up to 32.</p>"
                "<label for=\"password\">Password</label>"
                "<input type=\"password\" id=\"password\" name=\"password\" "
                "autocomplete=\"new-password\" required>"
                "<p class=\"muted\">At least 8 characters.</p>"
                "<div><button type=\"submit\">Create account</button></div>"
                "</form><p class=\"links\"><a href=\"/login\">Log in</a>"
                "</p>");
    page_end(&b);
    return cp_send_html(r, err ? MHD_HTTP_BAD_REQUEST : MHD_HTTP_OK, &b);
}

static enum MHD_Result
do_signup(cp_req *r)
{
    const char *name = cp_form(r, "username"), *pw = cp_form(r, "password");
    if (!cp_valid_username(name))
        return signup_form(r,
                           "Choose a user name of lowercase letters, "
                           "digits, dots, hyphens and underscores.",
                           "");
    size_t n = strlen(pw);
    if (n < CP_PASSWORD_MIN || n > CP_PASSWORD_MAX)
        return signup_form(r, "Choose a password of 8 to 128 characters.",
                           name);
    int k = cp_users_create(cp.users, name, pw, 0);
    if (k < 0)
        return service_error(r, MFA_ERR_STORE);
    if (k > 0)
        return signup_form(r, "That user name is taken.", name);
    cp_log("account created: %s", name);
    set_notice(r, "Your account has been created. Log in to set up "
                  "multi-factor authentication.");
    return cp_redirect(r, "/login");
}

/* ---- choosing and setting up a method ----------------------------------- */

static enum MHD_Result
choose_page(cp_req *r)
{
    cp_buf b = {0};
    page_begin(&b, r, "Choose your multi-factor authentication method");
    cp_buf_puts(&b, "<h1>Choose your multi-factor authentication method</h1>");
    notice(&b, r);
    cp_buf_puts(&b, "<p>Your account needs a second step at log in. Choose "
                    "how you want to get your codes.</p>"
                    "<form method=\"post\" action=\"/mfa/authenticator\">");
    cp_csrf_input(&b, r);
    cp_buf_puts(&b, "<button type=\"submit\" class=\"method\" "
                    "id=\"use-authenticator\"><strong>Use an authenticator"
                    "</strong>Google Authenticator, Microsoft Authenticator, "
                    "Authy or any app that shows six-digit codes.</button>"
                    "</form><a class=\"method\" href=\"/mfa/phone\" "
                    "id=\"use-phone\"><strong>Use a backup phone number"
                    "</strong>We text you a code when you log in.</a>");
    page_end(&b);
    return cp_send_html(r, MHD_HTTP_OK, &b);
}

static enum MHD_Result
setup_page(cp_req *r, const char *err)
{
    const mfa_enrollment_t *e = r->s->enr;
    mfa_qr_t *qr = NULL;
    char *img = NULL;
    mfa_rc rc = mfa_enrollment_qr(e, &qr);
    if (rc == MFA_OK)
        rc = mfa_qr_png_data_uri(qr, 6, &img);
    int px = qr ? (mfa_qr_size(qr) + 2 * MFA_QR_QUIET_ZONE) * 6 : 0;
    mfa_qr_free(&qr);
    if (rc != MFA_OK) {
        mfa_string_free(&img);
        return service_error(r, rc);
    }
    cp_buf b = {0};
    b.secret = 1; /* the key and the QR code are the secret */
    page_begin(&b, r, "Set up your authenticator app");
    cp_buf_puts(&b, "<h1>Set up your authenticator app</h1>");
    error_box(&b, err);
    cp_buf_puts(&b, "<ol><li>Open your authenticator app and choose to add an "
                    "account.</li><li>Scan this QR code with the app.</li>"
                    "<li>Enter the six-digit code the app shows.</li></ol>");
    cp_buf_printf(&b,
                  "<div class=\"qr\"><img id=\"qr\" src=\"%s\" "
                  "width=\"%d\" height=\"%d\" alt=\"QR code to scan with "
                  "your authenticator app\"></div>",
                  img, px, px);
    mfa_string_free(&img);
    cp_buf_puts(&b, "<h2>Can't scan? Manually enter the secret key below</h2>"
                    "<dl class=\"details\"><dt>Account name</dt>"
                    "<dd id=\"account-name\">");
    cp_buf_esc(&b, mfa_enrollment_account(e));
    cp_buf_puts(&b, "</dd><dt>Issuer</dt><dd id=\"issuer\">");
    cp_buf_esc(&b, mfa_enrollment_issuer(e));
    cp_buf_puts(&b, "</dd><dt>Secret key</dt><dd><span class=\"key\" "
                    "id=\"secret-key\">");
    cp_buf_esc(&b, mfa_enrollment_manual_key(e));
    cp_buf_puts(&b,
                "</span></dd><dt>Type</dt><dd>Time based, six digits"
                "</dd></dl><label for=\"secret-plain\">The key without "
                "spaces, to copy</label><input type=\"text\" class=\"copy\" "
                "id=\"secret-plain\" readonly value=\"");
    cp_buf_esc(&b, mfa_enrollment_secret(e));
    cp_buf_puts(&b, "\"> <button type=\"button\" class=\"secondary\" "
                    "data-copy=\"secret-plain\" hidden>Copy</button>"
                    "<form method=\"post\" action=\"/mfa/setup\">");
    cp_csrf_input(&b, r);
    code_field(&b, "Enter the six-digit code from the app");
    cp_buf_puts(&b, "<div><button type=\"submit\">Verify code</button></div>"
                    "</form>");
    cp_buf_printf(&b, "<p class=\"links\"><a href=\"%s\">Cancel</a></p>",
                  r->s->state == CP_FULL ? "/settings" : "/mfa/choose");
    page_end(&b);
    return cp_send_html(r, err ? CP_HTTP_UNPROCESSABLE : MHD_HTTP_OK, &b);
}

/* Forget an unconfirmed enrollment, and its pending factor. */
static void
drop_enrollment(cp_req *r)
{
    if (!r->s->enr)
        return;
    char id[MFA_FACTOR_ID_LEN + 1];
    snprintf(id, sizeof id, "%s", mfa_enrollment_factor_id(r->s->enr));
    mfa_enrollment_free(&r->s->enr);
    mfa_rc rc = mfa_factor_remove(cp.ctx, r->s->user, id);
    if (rc != MFA_OK && rc != MFA_ERR_NOT_FOUND)
        cp_log("could not remove pending factor %s: %s", id,
               mfa_strerror_name(rc));
}

static enum MHD_Result
begin_authenticator(cp_req *r)
{
    const char *label = cp_form(r, "label");
    if (!label[0])
        label = "Authenticator app";
    if (strlen(label) > MFA_LABEL_MAX) {
        set_notice(r, "Choose a shorter device name.");
        return cp_redirect(r, "/settings");
    }
    drop_enrollment(r);
    mfa_rc rc = mfa_enroll_begin(cp.ctx, r->s->user, label, NULL, &r->s->enr);
    if (rc == MFA_ERR_EXISTS) {
        set_notice(r, "You have the most authenticators an account can have. "
                      "Remove one first.");
        return cp_redirect(r, "/settings");
    }
    if (rc != MFA_OK) {
        if (is_refusal(rc) || rc == MFA_ERR_UTF8 || rc == MFA_ERR_TOO_LONG ||
            rc == MFA_ERR_CONTROL_CHAR) {
            set_notice(r, "That device name cannot be used.");
            return cp_redirect(r, r->s->state == CP_FULL ? "/settings"
                                                         : "/mfa/choose");
        }
        return service_error(r, rc);
    }
    r->s->enr_from_settings = r->s->state == CP_FULL;
    return cp_redirect(r, "/mfa/setup");
}

static enum MHD_Result
confirm_authenticator(cp_req *r)
{
    mfa_result res;
    memset(&res, 0, sizeof res);
    char id[MFA_FACTOR_ID_LEN + 1];
    snprintf(id, sizeof id, "%s", mfa_enrollment_factor_id(r->s->enr));
    mfa_rc rc =
        mfa_enroll_confirm(cp.ctx, r->s->user, id, cp_form(r, "code"), &res);
    if (rc == MFA_OK) {
        mfa_enrollment_free(&r->s->enr);
        if (r->s->state != CP_FULL)
            become_full(r);
        return cp_redirect(r, "/mfa/done");
    }
    if (rc == MFA_ERR_EXPIRED) {
        mfa_enrollment_free(&r->s->enr);
        set_notice(r, "The set-up took too long. Start again.");
        return cp_redirect(r, r->s->state == CP_FULL ? "/settings"
                                                     : "/mfa/choose");
    }
    if (!is_refusal(rc))
        return service_error(r, rc);
    char msg[160];
    code_error(rc, &res, msg, sizeof msg);
    return setup_page(r, msg);
}

static enum MHD_Result
done_page(cp_req *r)
{
    cp_buf b = {0};
    page_begin(&b, r, "Setup complete");
    cp_buf_puts(&b, "<h1>Multi-factor authentication setup completed "
                    "successfully</h1><p>From now on you log in with your "
                    "password and a code from your authenticator app or "
                    "phone.</p><p>Create backup codes in Security settings so "
                    "that you can log in if you lose your phone.</p>"
                    "<a class=\"button\" href=\"/dashboard\" id=\"got-it\">"
                    "Got it</a>");
    page_end(&b);
    return cp_send_html(r, MHD_HTTP_OK, &b);
}

/* ---- the backup phone number -------------------------------------------- */

static enum MHD_Result
phone_page(cp_req *r, const char *err)
{
    cp_buf b = {0};
    page_begin(&b, r, "Add a backup phone number");
    cp_buf_puts(&b, "<h1>Add a backup phone number</h1>");
    error_box(&b, err);
    cp_buf_puts(&b, "<p>We text a six-digit code to this number when you ask "
                    "for one at log in.</p><form method=\"post\" "
                    "action=\"/mfa/phone\">");
    cp_csrf_input(&b, r);
    cp_buf_puts(&b, "<label for=\"phone\">Phone number</label><input "
                    "type=\"tel\" id=\"phone\" name=\"phone\" "
                    "autocomplete=\"tel\" required placeholder=\"+1 555 0100 "
                    "123\"><div><button type=\"submit\">Text me a code</button>"
                    "</div></form>");
    page_end(&b);
    return cp_send_html(r, err ? MHD_HTTP_BAD_REQUEST : MHD_HTTP_OK, &b);
}

static enum MHD_Result
phone_begin(cp_req *r)
{
    const char *phone = cp_form(r, "phone");
    if (!cp_valid_phone(phone))
        return phone_page(r, "Enter a phone number with its country code, "
                             "like +1 555 0100 123.");
    if (cp_users_set_phone_pending(cp.users, r->s->user, phone) != 0)
        return service_error(r, MFA_ERR_STORE);
    mfa_rc rc = mfa_oob_begin(cp.ctx, r->s->user, "phone-setup");
    if (rc == MFA_ERR_THROTTLED)
        return phone_page(r, "Too many attempts. Try again later.");
    if (rc != MFA_OK)
        return service_error(r, rc);
    return cp_redirect(r, "/mfa/phone/verify");
}

static enum MHD_Result
phone_verify_page(cp_req *r, const char *err)
{
    cp_user u;
    if (cp_users_get(cp.users, r->s->user, &u) != 0 || !u.phone_pending[0])
        return cp_redirect(r, "/mfa/phone");
    char tail[8];
    phone_tail(u.phone_pending, tail);
    cp_buf b = {0};
    page_begin(&b, r, "Confirm your phone number");
    cp_buf_puts(&b, "<h1>Confirm your phone number</h1>");
    error_box(&b, err);
    cp_buf_printf(&b,
                  "<p>We texted a code to the number ending in %s.</p>"
                  "<form method=\"post\" action=\"/mfa/phone/verify\">",
                  tail);
    cp_csrf_input(&b, r);
    code_field(&b, "Enter the code from the text message");
    cp_buf_puts(&b, "<div><button type=\"submit\">Verify code</button></div>"
                    "</form><p class=\"links\"><a href=\"/mfa/phone\">Send a "
                    "new code</a></p>");
    page_end(&b);
    return cp_send_html(r, err ? CP_HTTP_UNPROCESSABLE : MHD_HTTP_OK, &b);
}

static enum MHD_Result
phone_confirm(cp_req *r)
{
    mfa_result res;
    memset(&res, 0, sizeof res);
    mfa_rc rc = mfa_oob_verify(cp.ctx, r->s->user, "phone-setup",
                               cp_form(r, "code"), &res);
    if (rc == MFA_OK) {
        if (cp_users_confirm_phone(cp.users, r->s->user) != 0)
            return service_error(r, MFA_ERR_STORE);
        cp_log("backup phone number confirmed for %s", r->s->user);
        if (r->s->state != CP_FULL) {
            become_full(r);
            return cp_redirect(r, "/mfa/done");
        }
        set_notice(r, "Your backup phone number has been added.");
        return cp_redirect(r, "/settings");
    }
    if (!is_refusal(rc))
        return service_error(r, rc);
    char msg[160];
    code_error(rc, &res, msg, sizeof msg);
    return phone_verify_page(r, msg);
}

/* ---- the second step of the login --------------------------------------- */

static void
login_links(cp_buf *b, const char *user, const char *here)
{
    cp_user u;
    int has_phone = cp_users_get(cp.users, user, &u) == 0 && u.phone[0];
    int has_app = 0;
    if (mfa_account_has_mfa(cp.ctx, user, &has_app) != MFA_OK)
        has_app = 0;
    cp_buf_puts(b, "<p class=\"links\">");
    if (has_app && strcmp(here, "code") != 0)
        cp_buf_puts(b,
                    "<a href=\"/login/code\">Use your authenticator app</a>");
    if (strcmp(here, "backup") != 0)
        cp_buf_puts(b, "<a href=\"/login/backup\" id=\"use-backup\">Use a "
                       "backup code</a>");
    if (has_phone && strcmp(here, "sms") != 0)
        cp_buf_puts(b, "<a href=\"/login/sms\" id=\"text-me\">Text me a "
                       "code</a>");
    cp_buf_puts(b, "</p>");
}

static enum MHD_Result
code_page(cp_req *r, const char *err)
{
    cp_buf b = {0};
    page_begin(&b, r, "Enter your code");
    cp_buf_puts(&b, "<h1>Enter the code from your authenticator app</h1>");
    notice(&b, r);
    error_box(&b, err);
    cp_buf_puts(&b, "<p>Open your authenticator app and enter the code it "
                    "shows for <strong>");
    cp_buf_esc(&b, cp.issuer);
    cp_buf_puts(&b, "</strong> (");
    cp_buf_esc(&b, r->s->user);
    cp_buf_puts(&b, ").</p><form method=\"post\" action=\"/login/code\">");
    cp_csrf_input(&b, r);
    code_field(&b, "Six-digit code");
    cp_buf_puts(&b, "<div><button type=\"submit\">Verify code</button></div>"
                    "</form>");
    login_links(&b, r->s->user, "code");
    page_end(&b);
    return cp_send_html(r, err ? CP_HTTP_UNPROCESSABLE : MHD_HTTP_OK, &b);
}

static enum MHD_Result
login_done(cp_req *r, const char *how)
{
    cp_log("login completed for %s (%s)", r->s->user, how);
    become_full(r);
    return cp_redirect(r, "/dashboard");
}

static enum MHD_Result
code_submit(cp_req *r)
{
    mfa_result res;
    memset(&res, 0, sizeof res);
    mfa_rc rc = mfa_verify(cp.ctx, r->s->user, cp_form(r, "code"), &res);
    if (rc == MFA_OK)
        return login_done(r, "authenticator");
    if (!is_refusal(rc))
        return service_error(r, rc);
    char msg[160];
    code_error(rc, &res, msg, sizeof msg);
    return code_page(r, msg);
}

static enum MHD_Result
backup_page(cp_req *r, const char *err)
{
    cp_buf b = {0};
    page_begin(&b, r, "Use a backup code");
    cp_buf_puts(&b, "<h1>Use a backup code</h1>");
    error_box(&b, err);
    cp_buf_puts(&b, "<p>Enter one of the backup codes you saved when you set "
                    "up multi-factor authentication. Each code works once."
                    "</p><form method=\"post\" action=\"/login/backup\">");
    cp_csrf_input(&b, r);
    cp_buf_puts(&b, "<label for=\"code\">Backup code</label><input "
                    "type=\"text\" id=\"code\" name=\"code\" class=\"code\" "
                    "autocomplete=\"off\" maxlength=\"32\" required autofocus "
                    "placeholder=\"XXXX-XXXX-XXXX\"><div><button "
                    "type=\"submit\">Verify code</button></div></form>");
    login_links(&b, r->s->user, "backup");
    page_end(&b);
    return cp_send_html(r, err ? CP_HTTP_UNPROCESSABLE : MHD_HTTP_OK, &b);
}

static enum MHD_Result
backup_submit(cp_req *r)
{
    mfa_result res;
    memset(&res, 0, sizeof res);
    mfa_rc rc = mfa_recover(cp.ctx, r->s->user, cp_form(r, "code"), &res);
    if (rc == MFA_OK) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "You logged in with a backup code. You have %u backup codes "
                 "left.",
                 (unsigned)res.backup_codes_left);
        set_notice(r, msg);
        return login_done(r, "backup code");
    }
    if (!is_refusal(rc))
        return service_error(r, rc);
    char msg[160];
    if (rc == MFA_ERR_BACKUP_FORMAT)
        snprintf(msg, sizeof msg, "Backup codes look like XXXX-XXXX-XXXX.");
    else if (rc == MFA_ERR_THROTTLED)
        code_error(rc, &res, msg, sizeof msg);
    else
        snprintf(msg, sizeof msg,
                 "That backup code didn't work. Each code "
                 "works only once.");
    return backup_page(r, msg);
}

static enum MHD_Result
sms_page(cp_req *r, const char *err)
{
    cp_user u;
    if (cp_users_get(cp.users, r->s->user, &u) != 0)
        return service_error(r, MFA_ERR_STORE);
    cp_buf b = {0};
    page_begin(&b, r, "Text me a code");
    cp_buf_puts(&b, "<h1>Text me a code</h1>");
    notice(&b, r);
    error_box(&b, err);
    if (!u.phone[0]) {
        cp_buf_puts(&b, "<p>No backup phone number is set up for this "
                        "account.</p>");
    } else {
        char tail[8];
        phone_tail(u.phone, tail);
        cp_buf_printf(&b,
                      "<p>We text a six-digit code to the phone number "
                      "ending in %s.</p><form method=\"post\" "
                      "action=\"/login/sms/send\">",
                      tail);
        cp_csrf_input(&b, r);
        cp_buf_puts(&b, "<button type=\"submit\" class=\"secondary\" "
                        "id=\"send-code\">Send a code</button></form>"
                        "<form method=\"post\" action=\"/login/sms\">");
        cp_csrf_input(&b, r);
        code_field(&b, "Code from the text message");
        cp_buf_puts(&b, "<div><button type=\"submit\">Verify code</button>"
                        "</div></form>");
    }
    login_links(&b, r->s->user, "sms");
    page_end(&b);
    return cp_send_html(r, err ? CP_HTTP_UNPROCESSABLE : MHD_HTTP_OK, &b);
}

static enum MHD_Result
sms_send(cp_req *r)
{
    mfa_rc rc = mfa_oob_begin(cp.ctx, r->s->user, "sms");
    if (rc == MFA_ERR_THROTTLED)
        return sms_page(r, "Too many attempts. Try again later.");
    if (rc == MFA_ERR_NOT_FOUND)
        return sms_page(r, "No backup phone number is set up.");
    if (rc != MFA_OK)
        return service_error(r, rc);
    set_notice(r, "We sent you a code. It expires in 10 minutes.");
    return cp_redirect(r, "/login/sms");
}

static enum MHD_Result
sms_submit(cp_req *r)
{
    mfa_result res;
    memset(&res, 0, sizeof res);
    mfa_rc rc =
        mfa_oob_verify(cp.ctx, r->s->user, "sms", cp_form(r, "code"), &res);
    if (rc == MFA_OK)
        return login_done(r, "text message");
    if (!is_refusal(rc))
        return service_error(r, rc);
    char msg[160];
    if (rc == MFA_ERR_NOT_FOUND)
        snprintf(msg, sizeof msg, "Ask for a code first.");
    else
        code_error(rc, &res, msg, sizeof msg);
    return sms_page(r, msg);
}

/* ---- the logged-in pages ------------------------------------------------ */

static enum MHD_Result
dashboard(cp_req *r)
{
    cp_buf b = {0};
    page_begin(&b, r, "Dashboard");
    cp_buf_puts(&b, "<h1>Dashboard</h1>");
    notice(&b, r);
    cp_buf_puts(&b, "<p id=\"welcome\">Welcome, ");
    cp_buf_esc(&b, r->s->user);
    cp_buf_puts(&b, ". Multi-factor authentication is on for your account."
                    "</p>");
    size_t left = 0;
    if (mfa_backup_codes_left(cp.ctx, r->s->user, &left) == MFA_OK && left == 0)
        cp_buf_puts(&b, "<p>You have no backup codes. <a href=\"/settings\">"
                        "Create them in Security settings</a> in case you "
                        "lose your phone.</p>");
    cp_buf_puts(&b, "<table><tr><th>Site</th><th>Plan</th><th>Status</th></tr>"
                    "<tr><td>example.org</td><td>Basic</td><td>Running</td>"
                    "</tr><tr><td>shop.example.org</td><td>Business</td>"
                    "<td>Running</td></tr></table>");
    page_end(&b);
    return cp_send_html(r, MHD_HTTP_OK, &b);
}

static void
fmt_time(int64_t t, char *out, size_t size)
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

static enum MHD_Result
settings(cp_req *r)
{
    mfa_factor_info *list = NULL;
    size_t n = 0, left = 0;
    mfa_rc rc = mfa_factors_list(cp.ctx, r->s->user, &list, &n);
    if (rc == MFA_OK)
        rc = mfa_backup_codes_left(cp.ctx, r->s->user, &left);
    cp_user u;
    if (rc == MFA_OK && cp_users_get(cp.users, r->s->user, &u) != 0)
        rc = MFA_ERR_STORE;
    if (rc != MFA_OK) {
        mfa_free(list);
        return service_error(r, rc);
    }
    cp_buf b = {0};
    page_begin(&b, r, "Security settings");
    cp_buf_puts(&b, "<h1>Security settings</h1>");
    notice(&b, r);
    cp_buf_puts(&b, "<h2>Authenticator apps</h2><table id=\"factors\"><tr>"
                    "<th>Device</th><th>Status</th><th>Added</th>"
                    "<th>Last used</th><th></th></tr>");
    size_t active = 0;
    for (size_t i = 0; i < n; i++)
        if (list[i].status == MFA_FACTOR_ACTIVE)
            active++;
    for (size_t i = 0; i < n; i++) {
        char added[40], used[40];
        fmt_time(list[i].created, added, sizeof added);
        fmt_time(list[i].last_used, used, sizeof used);
        cp_buf_puts(&b, "<tr><td class=\"label\">");
        cp_buf_esc(&b, list[i].label);
        cp_buf_printf(&b, "</td><td>%s</td><td>%s</td><td>%s</td><td>",
                      list[i].status == MFA_FACTOR_ACTIVE ? "Active"
                                                          : "Not finished",
                      added, used);
        cp_buf_puts(&b, "<form method=\"post\" action=\"/settings/remove\">");
        cp_csrf_input(&b, r);
        cp_buf_puts(&b, "<input type=\"hidden\" name=\"factor\" value=\"");
        cp_buf_esc(&b, list[i].id);
        cp_buf_puts(&b, "\"><button type=\"submit\" class=\"danger\">Remove"
                        "</button></form></td></tr>");
    }
    if (n == 0)
        cp_buf_puts(&b, "<tr><td colspan=\"5\">None yet.</td></tr>");
    cp_buf_puts(&b,
                "</table><form method=\"post\" action=\"/mfa/authenticator\">");
    cp_csrf_input(&b, r);
    cp_buf_printf(&b,
                  "<label for=\"label\">Device name</label><input "
                  "type=\"text\" id=\"label\" name=\"label\" "
                  "maxlength=\"64\" value=\"Authenticator %zu\">",
                  active + 1);
    cp_buf_puts(&b, "<div><button type=\"submit\" id=\"add-authenticator\">Add "
                    "another authenticator</button></div></form>");

    cp_buf_printf(&b,
                  "<h2>Backup codes</h2><p id=\"codes-left\">You have %zu "
                  "unused backup codes.</p><form method=\"post\" "
                  "action=\"/settings/backup-codes\">",
                  left);
    cp_csrf_input(&b, r);
    cp_buf_printf(&b,
                  "<button type=\"submit\" id=\"new-codes\">%s</button> "
                  "<span class=\"muted\">New codes replace the old ones."
                  "</span></form>",
                  left ? "Create new backup codes" : "Create backup codes");

    cp_buf_puts(&b, "<h2>Backup phone number</h2>");
    if (u.phone[0]) {
        char tail[8];
        phone_tail(u.phone, tail);
        cp_buf_printf(&b,
                      "<p id=\"phone\">Text messages go to the number "
                      "ending in %s.</p><form method=\"post\" "
                      "action=\"/settings/phone/remove\">",
                      tail);
        cp_csrf_input(&b, r);
        cp_buf_puts(&b, "<button type=\"submit\" class=\"secondary\">Remove "
                        "the backup phone number</button></form>");
    } else {
        cp_buf_puts(&b, "<p>No backup phone number.</p><a class=\"button\" "
                        "href=\"/mfa/phone\" id=\"add-phone\">Add a backup "
                        "phone number</a>");
    }
    page_end(&b);
    mfa_free(list);
    return cp_send_html(r, MHD_HTTP_OK, &b);
}

static int
valid_factor_id(const char *s)
{
    if (strlen(s) != MFA_FACTOR_ID_LEN)
        return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return 0;
    return 1;
}

static enum MHD_Result
remove_factor(cp_req *r)
{
    const char *id = cp_form(r, "factor");
    if (!valid_factor_id(id)) {
        set_notice(r, "No such authenticator.");
        return cp_redirect(r, "/settings");
    }
    mfa_factor_info *list = NULL;
    size_t n = 0, active = 0;
    int target_active = 0, found = 0;
    mfa_rc rc = mfa_factors_list(cp.ctx, r->s->user, &list, &n);
    if (rc != MFA_OK)
        return service_error(r, rc);
    for (size_t i = 0; i < n; i++) {
        int act = list[i].status == MFA_FACTOR_ACTIVE;
        active += (size_t)act;
        if (strcmp(list[i].id, id) == 0) {
            found = 1;
            target_active = act;
        }
    }
    mfa_free(list);
    cp_user u;
    int has_phone = cp_users_get(cp.users, r->s->user, &u) == 0 && u.phone[0];
    if (!found) {
        set_notice(r, "No such authenticator.");
        return cp_redirect(r, "/settings");
    }
    if (target_active && active == 1 && !has_phone) {
        set_notice(r, "This is your only way to log in with a second step. "
                      "Add another authenticator or a backup phone number "
                      "before you remove it.");
        return cp_redirect(r, "/settings");
    }
    rc = mfa_factor_remove(cp.ctx, r->s->user, id);
    if (rc != MFA_OK && rc != MFA_ERR_NOT_FOUND)
        return service_error(r, rc);
    set_notice(r, "The authenticator has been removed. Its codes no longer "
                  "work.");
    return cp_redirect(r, "/settings");
}

static enum MHD_Result
new_backup_codes(cp_req *r)
{
    char **codes = NULL;
    size_t n = MFA_BACKUP_COUNT_DEFAULT;
    mfa_rc rc = mfa_backup_codes_new(cp.ctx, r->s->user, n, &codes);
    if (rc != MFA_OK)
        return service_error(r, rc);
    cp_buf b = {0};
    b.secret = 1;
    page_begin(&b, r, "Your backup codes");
    cp_buf_puts(&b,
                "<h1>Your backup codes</h1><p>Each code logs you in once "
                "if you cannot use your phone. Save them somewhere safe "
                "now: <strong>this is the only time they are shown.</strong>"
                " Your old codes no longer work.</p><ul class=\"codes\" "
                "id=\"backup-codes\">");
    for (size_t i = 0; i < n; i++) {
        cp_buf_puts(&b, "<li>");
        cp_buf_esc(&b, codes[i]);
        cp_buf_puts(&b, "</li>");
    }
    mfa_backup_codes_free(&codes, n);
    cp_buf_puts(&b, "</ul><a class=\"button\" href=\"/settings\">I have saved "
                    "them</a>");
    page_end(&b);
    cp_log("new backup codes for %s", r->s->user);
    return cp_send_html(r, MHD_HTTP_OK, &b);
}

static enum MHD_Result
remove_phone(cp_req *r)
{
    int has_app = 0;
    mfa_rc rc = mfa_account_has_mfa(cp.ctx, r->s->user, &has_app);
    if (rc != MFA_OK)
        return service_error(r, rc);
    if (!has_app) {
        set_notice(r, "Add an authenticator before you remove your only "
                      "backup phone number.");
        return cp_redirect(r, "/settings");
    }
    if (cp_users_clear_phone(cp.users, r->s->user) != 0)
        return service_error(r, MFA_ERR_STORE);
    set_notice(r, "The backup phone number has been removed.");
    return cp_redirect(r, "/settings");
}

/* ---- administration ----------------------------------------------------- */

typedef struct admin_row_ctx {
    cp_buf *b;
    const cp_req *r;
    int failed;
} admin_row_ctx;

static void
admin_row(const cp_user *u, void *arg)
{
    admin_row_ctx *a = arg;
    mfa_factor_info *list = NULL;
    size_t n = 0, active = 0, left = 0;
    if (mfa_factors_list(cp.ctx, u->name, &list, &n) != MFA_OK ||
        mfa_backup_codes_left(cp.ctx, u->name, &left) != MFA_OK) {
        a->failed = 1;
        mfa_free(list);
        return;
    }
    for (size_t i = 0; i < n; i++)
        active += list[i].status == MFA_FACTOR_ACTIVE;
    mfa_free(list);
    int on = active > 0 || u->phone[0];
    cp_buf_puts(a->b, "<tr data-user=\"");
    cp_buf_esc(a->b, u->name);
    cp_buf_puts(a->b, "\"><td>");
    cp_buf_esc(a->b, u->name);
    cp_buf_printf(a->b,
                  "</td><td>%s</td><td class=\"mfa\">%s</td><td>%zu</td>"
                  "<td>%zu</td><td>%s</td><td>",
                  u->is_admin ? "Administrator" : "User", on ? "On" : "Off",
                  active, left, u->phone[0] ? "Yes" : "No");
    if (strcmp(u->name, a->r->s->user) != 0 && on) {
        cp_buf_puts(a->b, "<form method=\"post\" action=\"/admin/reset\">");
        cp_csrf_input(a->b, a->r);
        cp_buf_puts(a->b, "<input type=\"hidden\" name=\"user\" value=\"");
        cp_buf_esc(a->b, u->name);
        cp_buf_puts(a->b, "\"><button type=\"submit\" class=\"danger\">Reset "
                          "MFA</button></form>");
    }
    cp_buf_puts(a->b, "</td></tr>");
}

static int
is_admin(const cp_req *r)
{
    cp_user u;
    return cp_users_get(cp.users, r->s->user, &u) == 0 && u.is_admin;
}

static enum MHD_Result
admin_page(cp_req *r)
{
    cp_buf b = {0};
    page_begin(&b, r, "Admin");
    cp_buf_puts(&b, "<h1>Users</h1>");
    notice(&b, r);
    cp_buf_puts(&b, "<p>Resetting a user's MFA removes their authenticators, "
                    "backup codes and backup phone number; they set it up "
                    "again at their next login.</p><table id=\"users\"><tr>"
                    "<th>User</th><th>Role</th><th>MFA</th>"
                    "<th>Authenticators</th><th>Backup codes</th>"
                    "<th>Backup phone</th><th></th></tr>");
    admin_row_ctx a = {&b, r, 0};
    if (cp_users_each(cp.users, admin_row, &a) != 0 || a.failed) {
        cp_buf_free(&b);
        return service_error(r, MFA_ERR_STORE);
    }
    cp_buf_puts(&b, "</table>");
    page_end(&b);
    return cp_send_html(r, MHD_HTTP_OK, &b);
}

static enum MHD_Result
admin_reset(cp_req *r)
{
    const char *name = cp_form(r, "user");
    cp_user u;
    if (!cp_valid_username(name) || cp_users_get(cp.users, name, &u) != 0) {
        set_notice(r, "No such user.");
        return cp_redirect(r, "/admin");
    }
    if (strcmp(name, r->s->user) == 0) {
        /* It would end this very session; Security settings is the place
         * for one's own factors. */
        set_notice(r, "Change your own MFA in Security settings.");
        return cp_redirect(r, "/admin");
    }
    mfa_rc rc = mfa_reset(cp.ctx, name);
    if (rc != MFA_OK)
        return service_error(r, rc);
    if (cp_users_clear_phone(cp.users, name) != 0)
        return service_error(r, MFA_ERR_STORE);
    cp_sessions_end_user(name);
    cp_log("administrator %s reset the MFA of %s", r->s->user, name);
    char msg[160];
    snprintf(msg, sizeof msg,
             "The MFA of %s has been reset. They set it up again at their "
             "next login.",
             name);
    set_notice(r, msg);
    return cp_redirect(r, "/admin");
}

/* ---- the outbox --------------------------------------------------------- */

static enum MHD_Result
outbox_page(cp_req *r)
{
    cp_buf b = {0};
    b.secret = 1;
    page_begin(&b, r, "Outbox (demo)");
    cp_buf_puts(&b,
                "<h1>Outbox</h1><p class=\"demo\"><strong>Demo only.</strong>"
                " This page stands in for an SMS gateway: the text messages "
                "that the backup phone number feature would send are shown "
                "here instead. A real deployment hands them to an SMS "
                "provider, and no page shows them.</p><table id=\"outbox\">"
                "<tr><th>Sent</th><th>To</th><th>Account</th>"
                "<th>Message</th></tr>");
    size_t n = cp_outbox_count();
    for (size_t i = 0; i < n; i++) {
        const cp_message *m = cp_outbox_get(i);
        char when[40];
        fmt_time(m->time, when, sizeof when);
        cp_buf_puts(&b, "<tr data-user=\"");
        cp_buf_esc(&b, m->user);
        cp_buf_printf(&b, "\"><td>%s</td><td>", when);
        cp_buf_esc(&b, m->to);
        cp_buf_puts(&b, "</td><td>");
        cp_buf_esc(&b, m->user);
        cp_buf_puts(&b, "</td><td class=\"text\">");
        cp_buf_esc(&b, m->text);
        cp_buf_puts(&b, "</td></tr>");
    }
    if (n == 0)
        cp_buf_puts(&b, "<tr><td colspan=\"4\">No messages yet.</td></tr>");
    cp_buf_puts(&b, "</table>");
    page_end(&b);
    return cp_send_html(r, MHD_HTTP_OK, &b);
}

/* ---- routing ------------------------------------------------------------ */

/* The page needs a later login state than the session has. */
static enum MHD_Result
need(cp_req *r)
{
    if (r->s->state == CP_ANON)
        set_notice(r, "Log in first.");
    return where_to(r);
}

enum MHD_Result
cp_route(cp_req *r, int post)
{
    const char *u = r->url;
    cp_state st = r->s->state;
    int full = st == CP_FULL, enroll_ok = st == CP_ENROLL || st == CP_FULL;

    if (strcmp(u, "/") == 0 && !post)
        return where_to(r);
    if (strcmp(u, "/outbox") == 0 && !post)
        return outbox_page(r);
    if (strcmp(u, "/logout") == 0 && post) {
        if (r->s->user[0])
            cp_log("logout: %s", r->s->user);
        cp_session_reset(r->s);
        set_notice(r, "You have logged out.");
        return cp_redirect(r, "/login");
    }
    if (strcmp(u, "/login") == 0) {
        if (post)
            return do_login(r);
        return st == CP_ANON ? login_form(r, NULL, "") : where_to(r);
    }
    if (strcmp(u, "/signup") == 0) {
        if (st != CP_ANON)
            return where_to(r);
        return post ? do_signup(r) : signup_form(r, NULL, "");
    }

    if (strcmp(u, "/login/code") == 0 || strcmp(u, "/login/backup") == 0 ||
        strcmp(u, "/login/sms") == 0 || strcmp(u, "/login/sms/send") == 0) {
        if (st != CP_CODE)
            return where_to(r);
        if (strcmp(u, "/login/code") == 0)
            return post ? code_submit(r) : code_page(r, NULL);
        if (strcmp(u, "/login/backup") == 0)
            return post ? backup_submit(r) : backup_page(r, NULL);
        if (strcmp(u, "/login/sms") == 0)
            return post ? sms_submit(r) : sms_page(r, NULL);
        if (post)
            return sms_send(r);
        return cp_redirect(r, "/login/sms");
    }

    if (strncmp(u, "/mfa/", 5) == 0) {
        if (!enroll_ok)
            return need(r);
        if (strcmp(u, "/mfa/choose") == 0 && !post)
            return full ? cp_redirect(r, "/settings") : choose_page(r);
        if (strcmp(u, "/mfa/authenticator") == 0 && post)
            return begin_authenticator(r);
        if (strcmp(u, "/mfa/setup") == 0) {
            if (!r->s->enr)
                return cp_redirect(r, full ? "/settings" : "/mfa/choose");
            return post ? confirm_authenticator(r) : setup_page(r, NULL);
        }
        if (strcmp(u, "/mfa/done") == 0 && !post)
            return full ? done_page(r) : where_to(r);
        if (strcmp(u, "/mfa/phone") == 0)
            return post ? phone_begin(r) : phone_page(r, NULL);
        if (strcmp(u, "/mfa/phone/verify") == 0)
            return post ? phone_confirm(r) : phone_verify_page(r, NULL);
    }

    if (strcmp(u, "/dashboard") == 0 || strncmp(u, "/settings", 9) == 0 ||
        strncmp(u, "/admin", 6) == 0) {
        if (!full)
            return need(r);
        if (strcmp(u, "/dashboard") == 0 && !post)
            return dashboard(r);
        if (strcmp(u, "/settings") == 0 && !post)
            return settings(r);
        if (strcmp(u, "/settings/remove") == 0 && post)
            return remove_factor(r);
        if (strcmp(u, "/settings/backup-codes") == 0 && post)
            return new_backup_codes(r);
        if (strcmp(u, "/settings/phone/remove") == 0 && post)
            return remove_phone(r);
        if (strncmp(u, "/admin", 6) == 0) {
            if (!is_admin(r))
                return cp_error_page(r, MHD_HTTP_FORBIDDEN,
                                     "Only administrators can see this page.");
            if (strcmp(u, "/admin") == 0 && !post)
                return admin_page(r);
            if (strcmp(u, "/admin/reset") == 0 && post)
                return admin_reset(r);
        }
    }
    return cp_error_page(r, MHD_HTTP_NOT_FOUND, "There is no such page.");
}
