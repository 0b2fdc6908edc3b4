/*
 * Flow: the other ways through the second step: a backup code, or a code
 * texted to the account's phone.
 *
 * libmfa calls: mfa_recover_device (a backup code, spent once),
 * mfa_oob_begin and mfa_oob_verify_device (purpose "sms"); both with
 * "Remember this device".
 */
#include "web.h"

#include <stdio.h>
#include <string.h>

static void
back_links(cp_buf *b, cp_req *r, int to_backup)
{
    cp_methods m;
    if (cp_methods_of(r->s->user, &m) != 0)
        memset(&m, 0, sizeof m);
    cp_buf_puts(b, "<div class=\"links\">");
    if (m.passkeys)
        cp_buf_puts(b, "<a href=\"/login/key\" id=\"use-key\">Use your "
                       "security key or passkey</a>");
    if (m.apps)
        cp_buf_puts(b, "<a href=\"/login/code\" id=\"use-app\">Use your "
                       "authenticator app</a>");
    if (to_backup && m.codes_left > 0)
        cp_buf_puts(b, "<a href=\"/login/backup\" id=\"use-backup\">Use a "
                       "backup code</a>");
    cp_buf_puts(b, "</div>");
}

/* ---- a backup code ----------------------------------------------------------
 */

static enum MHD_Result
backup_page(cp_req *r, const char *err)
{
    cp_buf b = {0};
    cp_page_begin(&b, r, "Use a backup code");
    cp_buf_puts(&b, "<h1>Use a backup code</h1><p>Enter one of the backup "
                    "codes you saved when you set up multi-factor "
                    "authentication. Each code works once.</p>"
                    "<form method=\"post\" action=\"/login/backup\">");
    cp_csrf_input(&b, r);
    cp_input in = {.id = "code",
                   .label = "Backup code",
                   .autocomplete = "off",
                   .error = err,
                   .extra = "class=\"code\" maxlength=\"32\" required "
                            "autofocus autocapitalize=\"characters\" "
                            "placeholder=\"XXXX-XXXX-XXXX\""};
    cp_field_html(&b, &in);
    cp_remember_box(&b);
    cp_buf_puts(&b, "<div><button type=\"submit\">Verify code</button></div>"
                    "</form>");
    back_links(&b, r, 0);
    cp_page_end(&b);
    return cp_send_html(r, err ? CP_HTTP_UNPROCESSABLE : MHD_HTTP_OK, &b);
}

enum MHD_Result
cp_backup_form(cp_req *r)
{
    return backup_page(r, NULL);
}

enum MHD_Result
cp_backup_submit(cp_req *r)
{
    mfa_result res;
    memset(&res, 0, sizeof res);
    mfa_device_opts dev;
    char label[MFA_DEVICE_LABEL_MAX + 1];
    cp_device_opts(r, &dev, label, sizeof label);
    mfa_rc rc =
        mfa_recover_device(cp.ctx, r->s->user, cp_form(r, "code"), &dev, &res);
    if (cp_device_bad(rc)) {
        cp_device_drop(r);
        dev.token = NULL;
        rc = mfa_recover_device(cp.ctx, r->s->user, cp_form(r, "code"), &dev,
                                &res);
    }
    cp_device_keep(r, &res);
    char msg[160];
    if (rc == MFA_OK) {
        snprintf(msg, sizeof msg,
                 "You logged in with a backup code. You have %u backup codes "
                 "left.",
                 (unsigned)res.backup_codes_left);
        cp_notice(r, msg);
        return cp_login_done(r, "backup code");
    }
    if (!cp_is_refusal(rc))
        return cp_service_error(r, rc);
    if (rc == MFA_ERR_BACKUP_FORMAT)
        snprintf(msg, sizeof msg, "Backup codes look like XXXX-XXXX-XXXX.");
    else if (rc == MFA_ERR_THROTTLED)
        cp_code_error(rc, &res, msg, sizeof msg);
    else
        snprintf(msg, sizeof msg,
                 "That backup code didn't work. Each code "
                 "works only once.");
    return backup_page(r, msg);
}

/* ---- a text message ---------------------------------------------------------
 */

static enum MHD_Result
sms_page(cp_req *r, const char *err)
{
    cp_user u;
    if (cp_users_get(cp.users, r->s->user, &u) != 0)
        return cp_service_error(r, MFA_ERR_STORE);
    if (!u.phone[0])
        return cp_redirect(r, "/login/code");
    char tail[8];
    cp_phone_tail(u.phone, tail);
    cp_buf b = {0};
    cp_page_begin(&b, r, "Enter the code we texted you");
    cp_buf_puts(&b, "<h1>Enter the code we texted you</h1>");
    cp_page_notice(&b, r);
    cp_buf_printf(&b,
                  "<p>We text codes to the phone number ending in %s.</p>"
                  "<form method=\"post\" action=\"/login/sms\">",
                  tail);
    cp_csrf_input(&b, r);
    cp_code_field(&b, "Code from the text message", err);
    cp_remember_box(&b);
    cp_buf_puts(&b, "<div><button type=\"submit\">Verify code</button></div>"
                    "</form><form method=\"post\" action=\"/login/sms/send\">");
    cp_csrf_input(&b, r);
    cp_buf_puts(&b, "<button type=\"submit\" class=\"secondary\" "
                    "id=\"send-code\">Send a new code</button></form>");
    back_links(&b, r, 1);
    cp_page_end(&b);
    return cp_send_html(r, err ? CP_HTTP_UNPROCESSABLE : MHD_HTTP_OK, &b);
}

enum MHD_Result
cp_sms_form(cp_req *r)
{
    return sms_page(r, NULL);
}

/* "Text me a code": sends at once, then the page to enter it. */
enum MHD_Result
cp_sms_send(cp_req *r)
{
    mfa_rc rc = mfa_oob_begin(cp.ctx, r->s->user, "sms");
    if (rc == MFA_ERR_THROTTLED) {
        cp_notice_error(r, "Too many codes sent. Wait a few minutes, or use "
                           "the last code we sent.");
        return cp_redirect(r, "/login/sms");
    }
    if (rc == MFA_ERR_NOT_FOUND)
        return cp_redirect(r, "/login/code");
    if (rc != MFA_OK)
        return cp_service_error(r, rc);
    cp_notice(r, "We sent you a code. It expires in 10 minutes.");
    return cp_redirect(r, "/login/sms");
}

enum MHD_Result
cp_sms_submit(cp_req *r)
{
    mfa_result res;
    memset(&res, 0, sizeof res);
    mfa_device_opts dev;
    char label[MFA_DEVICE_LABEL_MAX + 1];
    cp_device_opts(r, &dev, label, sizeof label);
    mfa_rc rc = mfa_oob_verify_device(cp.ctx, r->s->user, "sms",
                                      cp_form(r, "code"), &dev, &res);
    if (cp_device_bad(rc)) {
        cp_device_drop(r);
        dev.token = NULL;
        rc = mfa_oob_verify_device(cp.ctx, r->s->user, "sms",
                                   cp_form(r, "code"), &dev, &res);
    }
    cp_device_keep(r, &res);
    if (rc == MFA_OK)
        return cp_login_done(r, "text message");
    if (!cp_is_refusal(rc))
        return cp_service_error(r, rc);
    char msg[160];
    if (rc == MFA_ERR_NOT_FOUND)
        snprintf(msg, sizeof msg, "Ask for a new code first.");
    else
        cp_code_error(rc, &res, msg, sizeof msg);
    return sms_page(r, msg);
}
