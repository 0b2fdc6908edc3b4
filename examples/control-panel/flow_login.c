/*
 * Flow: log in (password, then the code), sign up, log out.
 *
 * libmfa calls: mfa_password_check / _failed / _ok (the password's
 * throttle), mfa_factors_list and mfa_webauthn_list (is a second step due,
 * and which?), mfa_device_check (a remembered device skips it),
 * mfa_verify_device (the code, and "Remember this device"), mfa_oob_begin
 * (a text message at once when the account has only a phone).  The
 * passkey as the second step is in flow_passkey.c.
 */
#include "web.h"

#include <stdio.h>
#include <string.h>

enum MHD_Result
cp_service_error(cp_req *r, mfa_rc rc)
{
    /* The store's details stay in the log; the page says little. */
    cp_log("service error: %s", mfa_strerror_name(rc));
    return cp_error_page(r, MHD_HTTP_SERVICE_UNAVAILABLE,
                         "The sign-in service is not available right now. "
                         "Try again in a minute.");
}

mfa_rc
cp_passkeys_list(const char *user, mfa_webauthn_info **list, size_t *n)
{
    *list = NULL;
    *n = 0;
    if (!cp.passkeys)
        return MFA_OK;
    return mfa_webauthn_list(cp.ctx, user, list, n);
}

int
cp_methods_of(const char *user, cp_methods *m)
{
    memset(m, 0, sizeof *m);
    mfa_factor_info *apps = NULL;
    mfa_webauthn_info *keys = NULL;
    size_t n = 0;
    cp_user u;
    if (mfa_factors_list(cp.ctx, user, &apps, &n) != MFA_OK)
        return -1;
    for (size_t i = 0; i < n; i++)
        m->apps += apps[i].status == MFA_FACTOR_ACTIVE;
    mfa_free(apps);
    if (cp_passkeys_list(user, &keys, &m->passkeys) != MFA_OK)
        return -1;
    mfa_free(keys);
    if (mfa_backup_codes_left(cp.ctx, user, &m->codes_left) != MFA_OK)
        return -1;
    int k = cp_users_get(cp.users, user, &u);
    if (k < 0)
        return -1;
    m->phone = k == 0 && u.phone[0] != '\0';
    return 0;
}

int
cp_is_refusal(mfa_rc rc)
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

void
cp_code_error(mfa_rc rc, const mfa_result *res, char *out, size_t size)
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

/*
 * The password, throttled by libmfa's device-aware limiter: a browser with
 * a device cookie spends its own budget, one without spends the account's
 * "unknown devices" budget.  Failures are counted only for accounts that
 * exist, so made-up names write nothing anywhere.
 */
int
cp_check_password(cp_req *r, const char *name, const char *pw, char *msg,
                  size_t size)
{
    cp_user u;
    mfa_result res;
    memset(&res, 0, sizeof res);
    if (strlen(pw) > CP_PASSWORD_MAX || !cp_valid_username(name)) {
        snprintf(msg, size, "Incorrect user name or password.");
        return 1;
    }
    mfa_rc rc = mfa_password_check(cp.ctx, name, cp_device_token(r), &res);
    if (cp_device_bad(rc)) {
        cp_device_drop(r);
        rc = mfa_password_check(cp.ctx, name, NULL, &res);
    }
    if (rc == MFA_ERR_THROTTLED) {
        snprintf(msg, size, "Too many attempts, try again in %u seconds.",
                 (unsigned)(res.retry_after ? res.retry_after : 1));
        cp_log("password refused for %s: throttled", name);
        return 1;
    }
    if (rc != MFA_OK)
        return -1;
    int k = cp_users_login(cp.users, name, pw, &u);
    if (k < 0)
        return -1;
    if (k != 0) {
        snprintf(msg, size, "Incorrect user name or password.");
        cp_log("password refused for %s: wrong password or unknown user", name);
        int exists = cp_users_get(cp.users, name, &u);
        if (exists < 0)
            return -1;
        if (exists == 0 && mfa_password_failed(cp.ctx, name, cp_device_token(r),
                                               &res) != MFA_OK)
            return -1;
        return 1;
    }
    return mfa_password_ok(cp.ctx, name, cp_device_token(r)) == MFA_OK ? 0 : -1;
}

enum MHD_Result
cp_where_to(cp_req *r)
{
    if (!r->s)
        return cp_redirect(r, "/login");
    switch (r->s->state) {
    case CP_FULL:
        return cp_redirect(r, "/dashboard");
    case CP_CODE:
        return cp_redirect(r, "/login/code");
    default:
        return cp_redirect(r, "/mfa/choose");
    }
}

/* ---- log in ---------------------------------------------------------------
 */

static enum MHD_Result
login_page(cp_req *r, const char *err, const char *name)
{
    cp_buf b = {0};
    cp_page_begin(&b, r, "Log in");
    cp_buf_puts(&b, "<h1>Log in</h1>");
    cp_page_notice(&b, r);
    cp_buf_puts(&b, "<form method=\"post\" action=\"/login\" novalidate>");
    cp_csrf_input(&b, r);
    cp_input user = {.id = "username",
                     .label = "User name",
                     .value = name,
                     .autocomplete = "username",
                     .error = err,
                     .extra = "required autocapitalize=\"none\""};
    cp_field_html(&b, &user);
    cp_input pw = {.id = "password",
                   .label = "Password",
                   .type = "password",
                   .autocomplete = "current-password",
                   .extra = "required"};
    cp_field_html(&b, &pw);
    cp_buf_puts(&b,
                "<div><button type=\"submit\">Log in</button></div></form>");
    if (cp.passkeys) {
        /* flow_passkey.c: the passkey alone, both factors */
        cp_buf_puts(&b, "<h2>Or sign in with a passkey</h2><p class=\"muted\">"
                        "No user name or password: your passkey knows your "
                        "account, and your fingerprint, face, screen lock or "
                        "PIN unlocks it.</p>");
        cp_passkey_box_begin(&b, r, "signin", "/login/passkey/options",
                             "/login/passkey/finish");
        cp_passkey_box_end(&b, "Sign in with a passkey", "passkey-signin");
    }
    cp_buf_puts(&b, "<p class=\"links\"><a href=\"/signup\">Create an account"
                    "</a></p>");
    cp_page_end(&b);
    return cp_send_html(r, err ? MHD_HTTP_UNAUTHORIZED : MHD_HTTP_OK, &b);
}

enum MHD_Result
cp_login_form(cp_req *r)
{
    return login_page(r, NULL, "");
}

enum MHD_Result
cp_login_submit(cp_req *r)
{
    const char *name = cp_form(r, "username"), *pw = cp_form(r, "password");
    char msg[120];
    int k = cp_check_password(r, name, pw, msg, sizeof msg);
    if (k < 0)
        return cp_service_error(r, MFA_ERR_STORE);
    if (k > 0)
        return login_page(r, msg, cp_valid_username(name) ? name : "");

    cp_methods m;
    mfa_rc rc;
    if (cp_methods_of(name, &m) != 0)
        return cp_service_error(r, MFA_ERR_STORE);
    cp_state st = m.apps || m.passkeys || m.phone ? CP_CODE : CP_ENROLL;
    if (st == CP_CODE && cp_device_token(r)) {
        /* A remembered device skips the code until its trust ends. */
        rc = mfa_device_check(cp.ctx, name, cp_device_token(r), NULL);
        if (rc == MFA_OK)
            st = CP_FULL;
        else if (cp_device_bad(rc))
            cp_device_drop(r);
        else if (rc != MFA_ERR_DEVICE_UNTRUSTED)
            return cp_service_error(r, rc);
    }
    r->s = cp_session_create(name, st, r->now);
    if (!r->s)
        return cp_redirect(r, "/login?n=busy");
    if (st == CP_FULL) {
        cp_log("login completed for %s (remembered device)", name);
        return cp_redirect(r, "/dashboard");
    }
    r->s->deadline = r->now + (st == CP_CODE ? CP_HALF_TTL : CP_ENROLL_TTL);
    if (st == CP_ENROLL) {
        cp_log("password accepted for %s: MFA set-up required", name);
        return cp_redirect(r, "/mfa/choose");
    }
    cp_log("password accepted for %s: second factor pending", name);
    /* The passkey first when there is one: nothing to type. */
    if (m.passkeys)
        return cp_redirect(r, "/login/key");
    if (m.apps)
        return cp_redirect(r, "/login/code");
    /* Only a phone: the text goes out now, not after another click. */
    return cp_sms_send(r);
}

/* ---- sign up, log out -----------------------------------------------------
 */

static enum MHD_Result
signup_page(cp_req *r, const char *name_err, const char *pw_err,
            const char *name)
{
    cp_buf b = {0};
    cp_page_begin(&b, r, "Create an account");
    cp_buf_puts(&b, "<h1>Create an account</h1>"
                    "<form method=\"post\" action=\"/signup\" novalidate>");
    cp_csrf_input(&b, r);
    cp_input user = {.id = "username",
                     .label = "User name",
                     .value = name,
                     .autocomplete = "username",
                     .hint = "Lowercase letters, digits, dots, hyphens and "
                             "underscores; up to 32.",
                     .error = name_err,
                     .extra = "required autocapitalize=\"none\""};
    cp_field_html(&b, &user);
    cp_input pw = {.id = "password",
                   .label = "Password",
                   .type = "password",
                   .autocomplete = "new-password",
                   .hint = "At least 8 characters.",
                   .error = pw_err,
                   .extra = "required"};
    cp_field_html(&b, &pw);
    cp_buf_puts(&b, "<div><button type=\"submit\">Create account</button></div>"
                    "</form><p class=\"links\"><a href=\"/login\">Log in</a>"
                    "</p>");
    cp_page_end(&b);
    return cp_send_html(
        r, name_err || pw_err ? MHD_HTTP_BAD_REQUEST : MHD_HTTP_OK, &b);
}

enum MHD_Result
cp_signup_form(cp_req *r)
{
    return signup_page(r, NULL, NULL, "");
}

enum MHD_Result
cp_signup_submit(cp_req *r)
{
    const char *name = cp_form(r, "username"), *pw = cp_form(r, "password");
    if (!cp_valid_username(name))
        return signup_page(r,
                           "Choose a user name of lowercase letters, digits, "
                           "dots, hyphens and underscores.",
                           NULL, strlen(name) <= CP_USER_MAX ? name : "");
    size_t n = strlen(pw);
    if (n < CP_PASSWORD_MIN || n > CP_PASSWORD_MAX)
        return signup_page(r, NULL, "Choose a password of 8 to 128 characters.",
                           name);
    int k = cp_users_create(cp.users, name, pw, 0);
    if (k < 0)
        return cp_service_error(r, MFA_ERR_STORE);
    if (k > 0)
        return signup_page(r, "That user name is taken.", NULL, name);
    cp_log("account created: %s", name);
    return cp_redirect(r, "/login?n=created");
}

enum MHD_Result
cp_logout(cp_req *r)
{
    if (r->s) {
        cp_log("logout: %s", r->s->user);
        cp_session_end(r->s);
        cp_session_release(r->s);
        r->s = NULL;
        r->ended = 1;
    }
    return cp_redirect(r, "/login?n=logged-out");
}

/* ---- the code -------------------------------------------------------------
 */

/* The other ways in: only those the account has. */
void
cp_other_ways(cp_buf *b, cp_req *r, const char *here)
{
    cp_methods m;
    if (cp_methods_of(r->s->user, &m) != 0)
        memset(&m, 0, sizeof m);
    cp_buf_puts(b, "<h2 class=\"vh\">Other ways to log in</h2>"
                   "<div class=\"links\">");
    if (m.passkeys && strcmp(here, "key") != 0)
        cp_buf_puts(b, "<a href=\"/login/key\" id=\"use-key\">Use your "
                       "security key or passkey</a>");
    if (m.apps && strcmp(here, "code") != 0)
        cp_buf_puts(b, "<a href=\"/login/code\" id=\"use-app\">Use your "
                       "authenticator app</a>");
    if (m.codes_left > 0 && strcmp(here, "backup") != 0)
        cp_buf_puts(b, "<a href=\"/login/backup\" id=\"use-backup\">Use a "
                       "backup code</a>");
    if (m.phone && strcmp(here, "sms") != 0) {
        cp_buf_puts(b, "<form method=\"post\" action=\"/login/sms/send\">");
        cp_csrf_input(b, r);
        cp_buf_puts(b, "<button type=\"submit\" class=\"secondary\" "
                       "id=\"text-me\">Text me a code</button></form>");
    }
    cp_buf_puts(b, "</div>");
}

static enum MHD_Result
code_page(cp_req *r, const char *err)
{
    cp_buf b = {0};
    cp_page_begin(&b, r, "Enter your code");
    cp_buf_puts(&b, "<h1>Enter the code from your authenticator app</h1>");
    cp_page_notice(&b, r);
    cp_buf_puts(&b, "<p>Open your authenticator app and enter the code it "
                    "shows for <strong>");
    cp_buf_esc(&b, cp.issuer);
    cp_buf_puts(&b, "</strong> (");
    cp_buf_esc(&b, r->s->user);
    cp_buf_puts(&b, ").</p><form method=\"post\" action=\"/login/code\">");
    cp_csrf_input(&b, r);
    cp_code_field(&b, "Six-digit code", err);
    cp_remember_box(&b);
    cp_buf_puts(&b, "<div><button type=\"submit\">Verify code</button></div>"
                    "</form>");
    cp_other_ways(&b, r, "code");
    cp_page_end(&b);
    return cp_send_html(r, err ? CP_HTTP_UNPROCESSABLE : MHD_HTTP_OK, &b);
}

void
cp_remember_box(cp_buf *b)
{
    cp_buf_printf(b,
                  "<div class=\"check\"><input type=\"checkbox\" "
                  "id=\"remember\" name=\"remember\" value=\"1\"><label "
                  "for=\"remember\">Remember this device for %d days</label>"
                  "</div>",
                  CP_REMEMBER_DAYS);
}

void
cp_device_opts(cp_req *r, mfa_device_opts *o, char *label, size_t size)
{
    cp_device_label(r, label, size);
    o->token = cp_device_token(r);
    o->label = label;
    o->remember_days = cp_form(r, "remember")[0] ? CP_REMEMBER_DAYS : 0;
}

enum MHD_Result
cp_login_done(cp_req *r, const char *how)
{
    cp_log("login completed for %s (%s)", r->s->user, how);
    r->s->state = CP_FULL;
    r->s->deadline = 0;
    cp_session_rotate(r->s); /* a new id on every privilege change */
    return cp_redirect(r, "/dashboard");
}

enum MHD_Result
cp_code_form(cp_req *r)
{
    cp_methods m;
    if (cp_methods_of(r->s->user, &m) == 0 && !m.apps)
        return cp_redirect(r, m.passkeys ? "/login/key" : "/login/sms");
    return code_page(r, NULL);
}

enum MHD_Result
cp_code_submit(cp_req *r)
{
    mfa_result res;
    memset(&res, 0, sizeof res);
    mfa_device_opts dev;
    char label[MFA_DEVICE_LABEL_MAX + 1];
    cp_device_opts(r, &dev, label, sizeof label);
    mfa_rc rc =
        mfa_verify_device(cp.ctx, r->s->user, cp_form(r, "code"), &dev, &res);
    if (cp_device_bad(rc)) {
        cp_device_drop(r);
        dev.token = NULL;
        rc = mfa_verify_device(cp.ctx, r->s->user, cp_form(r, "code"), &dev,
                               &res);
    }
    cp_device_keep(r, &res);
    if (rc == MFA_OK)
        return cp_login_done(r, "authenticator");
    if (!cp_is_refusal(rc))
        return cp_service_error(r, rc);
    char msg[160];
    cp_code_error(rc, &res, msg, sizeof msg);
    return code_page(r, msg);
}
