/*
 * Flow: passkeys and security keys (WebAuthn).  Set one up (as the first
 * method, or another from the settings), use one as the second step after
 * the password, and sign in with a passkey alone.
 *
 * Each is a page with a button and two endpoints the page's script
 * (passkey.js) calls with fetch(): .../options answers the options libmfa
 * made for navigator.credentials.create or .get, .../finish takes the
 * browser's response (PublicKeyCredential.toJSON()) for libmfa to verify.
 * Both are forms with the CSRF token like every other POST (the response
 * in the field "response"); they answer JSON: {"options": ...},
 * {"next": URL} or {"error": "words for the user"}.
 *
 * libmfa calls: mfa_webauthn_register_begin / mfa_webauthn_register_finish
 * (a new passkey of the logged-in user), mfa_webauthn_login_begin /
 * mfa_webauthn_login_finish_device with the account (the second step; with
 * "Remember this device"), and the same without an account on cp.ctx_uv,
 * whose relying party requires user verification: a passkey unlocked by a
 * fingerprint, a face, a screen lock or a PIN is both factors at once, so
 * it logs in without the password.
 */
#include "web.h"

#include <stdio.h>
#include <string.h>

/* ---- the box the script drives ---------------------------------------------
 */

void
cp_passkey_box_begin(cp_buf *b, cp_req *r, const char *kind, const char *begin,
                     const char *finish)
{
    cp_buf_printf(b,
                  "<div class=\"passkey\" data-passkey=\"%s\" "
                  "data-begin=\"%s\" data-finish=\"%s\">",
                  kind, begin, finish);
    cp_csrf_input(b, r);
}

void
cp_passkey_box_end(cp_buf *b, const char *button, const char *id)
{
    cp_buf_printf(b,
                  "<div><button type=\"button\" id=\"%s\" hidden>%s</button>"
                  "</div><p class=\"muted\" id=\"passkey-status\" "
                  "role=\"status\"></p><p class=\"error\" id=\"passkey-error\" "
                  "role=\"alert\" hidden></p><p class=\"muted\" "
                  "data-passkey-nojs>Passkeys need JavaScript, which is off "
                  "in this browser.</p></div>"
                  "<script src=\"/static/passkey.js\" defer></script>",
                  id, button);
}

/* {"options": the JSON libmfa made}; frees json. */
static enum MHD_Result
send_options(cp_req *r, char *json)
{
    cp_buf b = {0};
    cp_buf_puts(&b, "{\"options\":");
    cp_buf_puts(&b, json);
    cp_buf_puts(&b, "}");
    mfa_free(json);
    return cp_send_json(r, MHD_HTTP_OK, &b);
}

/* The response the script posted; NULL (an answer queued in *ret) when
 * there is none.  The body's bound (web.c) keeps it under
 * MFA_WEBAUTHN_JSON_MAX; libmfa checks that again. */
static const char *
response_of(cp_req *r, size_t *len, enum MHD_Result *ret)
{
    const char *resp = cp_form(r, "response");
    *len = strlen(resp);
    if (!cp.passkeys) {
        *ret = cp_error_page(r, MHD_HTTP_NOT_FOUND,
                             "Passkeys are not available on this server.");
        return NULL;
    }
    if (*len == 0 || *len > MFA_WEBAUTHN_JSON_MAX) {
        *ret = cp_error_page(r, MHD_HTTP_BAD_REQUEST,
                             "Your browser sent no answer from the key. Try "
                             "again.");
        return NULL;
    }
    return resp;
}

/* A refusal of the user's key (words for them), not a failing service. */
static int
passkey_refusal(mfa_rc rc)
{
    /* the block of MFA_ERR_WEBAUTHN_* codes in mfa/err.h */
    if (rc <= MFA_ERR_WEBAUTHN_JSON && rc >= MFA_ERR_WEBAUTHN_PUBLIC_KEY)
        return 1;
    return rc == MFA_ERR_REPLAYED || rc == MFA_ERR_EXPIRED ||
           rc == MFA_ERR_THROTTLED || rc == MFA_ERR_NO_FACTOR ||
           rc == MFA_ERR_NOT_FOUND;
}

static void
login_error(mfa_rc rc, const mfa_result *res, char *out, size_t size)
{
    switch (rc) {
    case MFA_ERR_THROTTLED:
        cp_code_error(rc, res, out, size);
        break;
    case MFA_ERR_REPLAYED:
        snprintf(out, size,
                 "That answer from your key was used already. Try "
                 "again.");
        break;
    case MFA_ERR_EXPIRED:
        snprintf(out, size, "That took too long. Try again.");
        break;
    case MFA_ERR_NO_FACTOR:
        snprintf(out, size,
                 "No security key or passkey is set up for this "
                 "account.");
        break;
    case MFA_ERR_WEBAUTHN_UNKNOWN_CREDENTIAL:
    case MFA_ERR_WEBAUTHN_USER_HANDLE:
    case MFA_ERR_NOT_FOUND:
        snprintf(out, size,
                 "That security key or passkey is not registered to "
                 "this account. Use another one, or another way to log in.");
        break;
    case MFA_ERR_WEBAUTHN_CLONED:
        snprintf(out, size,
                 "This security key or passkey looks copied, so it "
                 "cannot be used. Use another way to log in, then remove it "
                 "in Security settings.");
        break;
    case MFA_ERR_WEBAUTHN_USER_VERIFICATION:
        snprintf(out, size,
                 "Your key did not check your fingerprint, face, "
                 "screen lock or PIN. Try again and unlock it.");
        break;
    default:
        snprintf(out, size,
                 "That security key or passkey didn't work. Try "
                 "again, or use another way to log in.");
        break;
    }
}

/* ---- set one up
 * ---------------------------------------------------------------
 */

static const char *
back_to(const cp_req *r)
{
    return r->s->state == CP_FULL ? "/settings" : "/mfa/choose";
}

enum MHD_Result
cp_passkey_page(cp_req *r)
{
    if (!cp.passkeys)
        return cp_error_page(r, MHD_HTTP_NOT_FOUND,
                             "Passkeys are not available on this server.");
    mfa_webauthn_info *keys = NULL;
    size_t n = 0;
    mfa_rc rc = cp_passkeys_list(r->s->user, &keys, &n);
    mfa_free(keys);
    if (rc != MFA_OK)
        return cp_service_error(r, rc);
    int first = r->s->state != CP_FULL;
    const char *title = first ? "Set up a security key or passkey"
                              : "Add a security key or passkey";
    char def[40];
    if (n == 0)
        snprintf(def, sizeof def, "Security key");
    else
        snprintf(def, sizeof def, "Security key %zu", n + 1);
    cp_buf b = {0};
    cp_page_begin(&b, r, title);
    cp_buf_printf(&b, "<h1>%s</h1>", title);
    cp_page_notice(&b, r);
    cp_buf_puts(&b,
                "<p>A passkey logs you in with your fingerprint, your face "
                "or your screen lock, on this device or on your phone. A "
                "security key is a small USB or NFC key you touch. The key "
                "keeps its secret; we only keep a public key.</p><p>Choose "
                "<strong>Create a passkey</strong>: your browser asks where "
                "to save it. Follow its steps.</p>");
    cp_passkey_box_begin(&b, r, "register", "/mfa/passkey/options",
                         "/mfa/passkey/finish");
    cp_input in = {.id = "label",
                   .label = "Name for this key",
                   .value = def,
                   .hint = "To tell your keys apart, like \"Blue YubiKey\" "
                           "or \"Work laptop\".",
                   .extra = "maxlength=\"64\""};
    cp_field_html(&b, &in);
    cp_passkey_box_end(&b, "Create a passkey", "create-passkey");
    cp_buf_printf(&b, "<p class=\"links\"><a href=\"%s\">Cancel</a></p>",
                  back_to(r));
    cp_page_end(&b);
    return cp_send_html(r, MHD_HTTP_OK, &b);
}

enum MHD_Result
cp_passkey_options(cp_req *r)
{
    if (!cp.passkeys)
        return cp_error_page(r, MHD_HTTP_NOT_FOUND,
                             "Passkeys are not available on this server.");
    /* A name too long is said before the key does anything (the text
     * checks come with the finish). */
    if (strlen(cp_form(r, "label")) > MFA_LABEL_MAX)
        return cp_error_page(r, CP_HTTP_UNPROCESSABLE,
                             "That name cannot be used. Choose a shorter "
                             "name of letters, digits and spaces.");
    char *json = NULL;
    /* the account name is what the authenticator shows */
    mfa_rc rc =
        mfa_webauthn_register_begin(cp.ctx, r->s->user, NULL, NULL, &json);
    if (rc == MFA_ERR_EXISTS)
        return cp_error_page(r, MHD_HTTP_CONFLICT,
                             "You have the most security keys and passkeys "
                             "an account can have. Remove one first.");
    if (rc != MFA_OK)
        return cp_service_error(r, rc);
    return send_options(r, json);
}

enum MHD_Result
cp_passkey_register(cp_req *r)
{
    enum MHD_Result ret = MHD_NO;
    size_t len;
    const char *resp = response_of(r, &len, &ret);
    if (!resp)
        return ret;
    const char *label = cp_form(r, "label");
    if (!label[0])
        label = "Security key";
    mfa_result res;
    memset(&res, 0, sizeof res);
    mfa_rc rc = mfa_webauthn_register_finish(cp.ctx, r->s->user, label, resp,
                                             len, &res);
    if (rc == MFA_OK) {
        cp_log("passkey %s registered for %s", res.factor_id, r->s->user);
        snprintf(r->s->setup_label, sizeof r->s->setup_label, "%s", label);
        return cp_method_added(r, 1);
    }
    const char *msg;
    if (rc == MFA_ERR_EXISTS) {
        mfa_webauthn_info *keys = NULL;
        size_t n = 0;
        int full = cp_passkeys_list(r->s->user, &keys, &n) == MFA_OK &&
                   n >= MFA_WEBAUTHN_CREDS_MAX;
        mfa_free(keys);
        msg = full ? "You have the most security keys and passkeys an "
                     "account can have. Remove one first."
                   : "This security key or passkey is already registered "
                     "to your account.";
    } else if (cp_bad_label(rc)) {
        msg = "That name cannot be used. Choose a shorter name of letters, "
              "digits and spaces.";
    } else if (rc == MFA_ERR_EXPIRED) {
        msg = "That took too long. Try again.";
    } else if (rc == MFA_ERR_REPLAYED) {
        msg = "That answer from your key was used already. Try again.";
    } else if (passkey_refusal(rc)) {
        msg = "Your security key or passkey could not be set up. Try again, "
              "or use another one.";
    } else {
        return cp_service_error(r, rc);
    }
    cp_log("passkey refused for %s: %s", r->s->user, mfa_strerror_name(rc));
    return cp_error_page(r, CP_HTTP_UNPROCESSABLE, msg);
}

/* ---- the second step
 * ------------------------------------------------------------
 */

enum MHD_Result
cp_key_login_page(cp_req *r)
{
    cp_methods m;
    if (cp_methods_of(r->s->user, &m) != 0)
        return cp_service_error(r, MFA_ERR_STORE);
    if (!m.passkeys || !cp.passkeys)
        return cp_redirect(r,
                           m.apps || !m.phone ? "/login/code" : "/login/sms");
    cp_buf b = {0};
    cp_page_begin(&b, r, "Use your security key or passkey");
    cp_buf_puts(&b, "<h1>Use your security key or passkey</h1>");
    cp_page_notice(&b, r);
    cp_buf_puts(&b, "<p>Choose the button, then unlock your passkey with your "
                    "fingerprint, face, screen lock or PIN, or touch your "
                    "security key.</p>");
    cp_passkey_box_begin(&b, r, "login", "/login/key/options",
                         "/login/key/finish");
    cp_remember_box(&b);
    cp_passkey_box_end(&b, "Use your security key or passkey", "key-login");
    cp_other_ways(&b, r, "key");
    cp_page_end(&b);
    return cp_send_html(r, MHD_HTTP_OK, &b);
}

enum MHD_Result
cp_key_login_options(cp_req *r)
{
    if (!cp.passkeys)
        return cp_error_page(r, MHD_HTTP_NOT_FOUND,
                             "Passkeys are not available on this server.");
    char *json = NULL;
    mfa_rc rc = mfa_webauthn_login_begin(cp.ctx, r->s->user, &json);
    if (rc == MFA_ERR_NO_FACTOR)
        return cp_error_page(r, MHD_HTTP_CONFLICT,
                             "No security key or passkey is set up for this "
                             "account.");
    if (rc != MFA_OK)
        return cp_service_error(r, rc);
    return send_options(r, json);
}

enum MHD_Result
cp_key_login_submit(cp_req *r)
{
    enum MHD_Result ret = MHD_NO;
    size_t len;
    const char *resp = response_of(r, &len, &ret);
    if (!resp)
        return ret;
    mfa_result res;
    memset(&res, 0, sizeof res);
    mfa_device_opts dev;
    char label[MFA_DEVICE_LABEL_MAX + 1];
    cp_device_opts(r, &dev, label, sizeof label);
    mfa_rc rc = mfa_webauthn_login_finish_device(cp.ctx, r->s->user, resp, len,
                                                 &dev, NULL, &res);
    if (cp_device_bad(rc)) {
        cp_device_drop(r);
        dev.token = NULL;
        rc = mfa_webauthn_login_finish_device(cp.ctx, r->s->user, resp, len,
                                              &dev, NULL, &res);
    }
    cp_device_keep(r, &res);
    if (rc == MFA_OK)
        return cp_login_done(r, "passkey");
    if (!passkey_refusal(rc))
        return cp_service_error(r, rc);
    cp_log("passkey refused for %s: %s", r->s->user, mfa_strerror_name(rc));
    char msg[200];
    login_error(rc, &res, msg, sizeof msg);
    return cp_error_page(r,
                         rc == MFA_ERR_THROTTLED ? MHD_HTTP_TOO_MANY_REQUESTS
                                                 : CP_HTTP_UNPROCESSABLE,
                         msg);
}

/* ---- a passkey alone
 * ------------------------------------------------------------
 */

enum MHD_Result
cp_passkey_signin_options(cp_req *r)
{
    if (!cp.passkeys)
        return cp_error_page(r, MHD_HTTP_NOT_FOUND,
                             "Passkeys are not available on this server.");
    /* No account: empty allowCredentials, and the store is not touched. */
    char *json = NULL;
    mfa_rc rc = mfa_webauthn_login_begin(cp.ctx_uv, NULL, &json);
    if (rc != MFA_OK)
        return cp_service_error(r, rc);
    return send_options(r, json);
}

enum MHD_Result
cp_passkey_signin(cp_req *r)
{
    enum MHD_Result ret = MHD_NO;
    size_t len;
    const char *resp = response_of(r, &len, &ret);
    if (!resp)
        return ret;
    mfa_result res;
    memset(&res, 0, sizeof res);
    char account[MFA_ACCOUNT_MAX + 1] = "";
    char label[MFA_DEVICE_LABEL_MAX + 1];
    /* The browser is recorded as a known device (its own throttle budget);
     * nothing to remember: the passkey is the whole log in. */
    cp_device_label(r, label, sizeof label);
    mfa_device_opts dev = {cp_device_token(r), label, 0};
    mfa_rc rc = mfa_webauthn_login_finish_device(cp.ctx_uv, NULL, resp, len,
                                                 &dev, account, &res);
    if (cp_device_bad(rc)) {
        cp_device_drop(r);
        dev.token = NULL;
        rc = mfa_webauthn_login_finish_device(cp.ctx_uv, NULL, resp, len, &dev,
                                              account, &res);
    }
    cp_device_keep(r, &res);
    cp_user u;
    if (rc == MFA_OK &&
        (!cp_valid_username(account) || cp_users_get(cp.users, account, &u))) {
        /* libmfa knows the account, the application does not (any more) */
        cp_log("passkey sign-in refused: no such user");
        return cp_error_page(r, CP_HTTP_UNPROCESSABLE,
                             "That passkey is not registered here.");
    }
    if (rc == MFA_OK) {
        r->s = cp_session_create(account, CP_FULL, r->now);
        if (!r->s)
            return cp_redirect(r, "/login?n=busy");
        cp_log("login completed for %s (passkey, no password)", account);
        return cp_redirect(r, "/dashboard");
    }
    if (!passkey_refusal(rc))
        return cp_service_error(r, rc);
    cp_log("passkey sign-in refused: %s", mfa_strerror_name(rc));
    char msg[200];
    if (rc == MFA_ERR_WEBAUTHN_UNKNOWN_CREDENTIAL ||
        rc == MFA_ERR_WEBAUTHN_USER_HANDLE || rc == MFA_ERR_NOT_FOUND ||
        rc == MFA_ERR_NO_FACTOR)
        snprintf(msg, sizeof msg,
                 "That passkey is not registered here. Log in with "
                 "your user name and password.");
    else if (rc == MFA_ERR_WEBAUTHN_USER_VERIFICATION)
        snprintf(msg, sizeof msg,
                 "A passkey alone logs you in only when it checks your "
                 "fingerprint, face, screen lock or PIN. Log in with your "
                 "user name and password, then use the key.");
    else
        login_error(rc, &res, msg, sizeof msg);
    return cp_error_page(r,
                         rc == MFA_ERR_THROTTLED ? MHD_HTTP_TOO_MANY_REQUESTS
                                                 : CP_HTTP_UNPROCESSABLE,
                         msg);
}
