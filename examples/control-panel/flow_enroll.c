/*
 * Flow: enrollment.  "Choose your multi-factor authentication method",
 * the authenticator app set-up (QR code, or the key typed into the app),
 * a phone for text messages, "completed successfully", and the backup
 * codes offered right away.
 *
 * libmfa calls: mfa_enroll_begin, mfa_enrollment_qr + mfa_qr_png_data_uri,
 * mfa_enrollment_manual_key, mfa_enroll_confirm_device, mfa_oob_begin +
 * mfa_oob_verify_device (purpose "phone-setup"), mfa_backup_codes_left +
 * mfa_backup_codes_new.  The _device variants make this browser a known
 * device (it never skips a code unless "Remember" was ticked at a login).
 */
#include "web.h"

#include <stdio.h>
#include <string.h>

/* ---- choose -----------------------------------------------------------------
 */

enum MHD_Result
cp_choose_page(cp_req *r)
{
    if (r->s->state == CP_FULL)
        return cp_redirect(r, "/settings");
    cp_buf b = {0};
    cp_page_begin(&b, r, "Choose your multi-factor authentication method");
    cp_buf_puts(&b, "<h1>Choose your multi-factor authentication method</h1>");
    cp_page_notice(&b, r);
    cp_buf_puts(&b, "<p>Your account needs a second step at log in. Choose "
                    "how you want to prove it is you.</p>"
                    "<form method=\"post\" action=\"/mfa/authenticator\">");
    cp_csrf_input(&b, r);
    cp_buf_puts(&b, "<button type=\"submit\" class=\"method\" "
                    "id=\"use-authenticator\"><strong>Authenticator app"
                    "</strong>Google Authenticator, Microsoft Authenticator, "
                    "Authy, Authy Desktop or any app that shows six-digit "
                    "codes.</button></form><a class=\"method\" "
                    "href=\"/mfa/phone\" id=\"use-phone\"><strong>Text message"
                    "</strong>We text a code to your phone each time you log "
                    "in.</a>");
    if (cp.passkeys)
        cp_buf_puts(&b, "<a class=\"method\" href=\"/mfa/passkey\" "
                        "id=\"use-passkey\"><strong>Security key or passkey"
                        "</strong>Use a security key or passkey: your "
                        "fingerprint, face or screen lock, or a USB or NFC "
                        "key you touch. Nothing to type.</a>");
    cp_page_end(&b);
    return cp_send_html(r, MHD_HTTP_OK, &b);
}

/* ---- the authenticator app ------------------------------------------------
 */

static const char *
back_to(const cp_req *r)
{
    return r->s->state == CP_FULL ? "/settings" : "/mfa/choose";
}

int
cp_bad_label(mfa_rc rc)
{
    return rc == MFA_ERR_UTF8 || rc == MFA_ERR_TOO_LONG ||
           rc == MFA_ERR_CONTROL_CHAR || rc == MFA_ERR_FORMAT_CHAR ||
           rc == MFA_ERR_NONCHARACTER || rc == MFA_ERR_EMPTY;
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

enum MHD_Result
cp_app_begin(cp_req *r)
{
    const char *label = cp_form(r, "label");
    if (!label[0])
        label = "Authenticator app";
    drop_enrollment(r);
    mfa_rc rc = mfa_enroll_begin(cp.ctx, r->s->user, label, NULL, &r->s->enr);
    if (rc == MFA_ERR_EXISTS) {
        cp_notice_error(r, "You have the most authenticators an account can "
                           "have. Remove one first.");
        return cp_redirect(r, back_to(r));
    }
    if (cp_bad_label(rc) || rc == MFA_ERR_INVALID) {
        cp_notice_error(r, "That device name cannot be used. Choose a "
                           "shorter name of letters, digits and spaces.");
        return cp_redirect(r, back_to(r));
    }
    if (rc != MFA_OK)
        return cp_service_error(r, rc);
    snprintf(r->s->setup_label, sizeof r->s->setup_label, "%s", label);
    return cp_redirect(r, "/mfa/setup");
}

static enum MHD_Result
setup_page(cp_req *r, const char *err)
{
    const mfa_enrollment_t *e = r->s->enr;
    mfa_qr_t *qr = NULL;
    char *img = NULL;
    mfa_rc rc = mfa_enrollment_qr(e, &qr);
    if (rc == MFA_OK)
        rc = mfa_qr_png_data_uri(qr, 5, &img);
    int px = qr ? (mfa_qr_size(qr) + 2 * MFA_QR_QUIET_ZONE) * 5 : 0;
    mfa_qr_free(&qr);
    if (rc != MFA_OK) {
        mfa_string_free(&img);
        return cp_service_error(r, rc);
    }
    cp_buf b = {0};
    b.secret = 1; /* the key and the QR code are the secret */
    cp_page_begin(&b, r, "Set up your authenticator app");
    cp_buf_puts(&b, "<h1>Set up your authenticator app</h1><ol class=\"steps\">"
                    "<li><h2>Step 1 - Install an authenticator app</h2><p>On "
                    "your phone: Google Authenticator, Microsoft "
                    "Authenticator or Authy. On a computer: Authy Desktop, "
                    "1Password, KeePassXC or another app that shows "
                    "six-digit codes.</p></li>"
                    "<li><h2>Step 2 - Scan the QR code with the app</h2>"
                    "<p>In the app, choose to add an account, then scan this "
                    "code.</p>");
    cp_buf_printf(&b,
                  "<div class=\"qr\"><img id=\"qr\" src=\"%s\" "
                  "width=\"%d\" height=\"%d\" alt=\"QR code to scan with "
                  "your authenticator app\"></div></li>",
                  img, px, px);
    mfa_string_free(&img);
    cp_buf_puts(&b, "<li><h2>Step 3 - Manually enter the secret key below in "
                    "the app</h2><p>If you cannot scan, or you use Authy "
                    "Desktop or another app on a computer: choose to enter a "
                    "key by hand, and enter these details.</p>"
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
                    "data-copy=\"secret-plain\" hidden>Copy the key</button>"
                    "</li><li><h2>Step 4 - Verify code</h2>"
                    "<form method=\"post\" action=\"/mfa/setup\">");
    cp_csrf_input(&b, r);
    cp_code_field(&b, "Enter the six-digit code from the app", err);
    cp_buf_puts(&b, "<div><button type=\"submit\">Verify code</button></div>"
                    "</form></li></ol>");
    cp_buf_printf(&b, "<p class=\"links\"><a href=\"%s\">Cancel</a></p>",
                  back_to(r));
    cp_page_end(&b);
    return cp_send_html(r, err ? CP_HTTP_UNPROCESSABLE : MHD_HTTP_OK, &b);
}

enum MHD_Result
cp_app_setup_page(cp_req *r)
{
    if (!r->s->enr)
        return cp_redirect(r, back_to(r));
    return setup_page(r, NULL);
}

/*
 * A method is in place: the session is fully logged in, and after the
 * first set-up (no backup codes yet) a set is made to show at once.
 */
enum MHD_Result
cp_method_added(cp_req *r, int passkey)
{
    r->s->setup_first = r->s->state != CP_FULL;
    r->s->setup_passkey = passkey;
    if (r->s->setup_first) {
        r->s->state = CP_FULL;
        r->s->deadline = 0;
        cp_session_rotate(r->s);
    }
    size_t left = 0;
    mfa_rc rc = mfa_backup_codes_left(cp.ctx, r->s->user, &left);
    if (rc != MFA_OK)
        return cp_service_error(r, rc);
    if (left == 0) {
        char **codes = NULL;
        size_t n = MFA_BACKUP_COUNT_DEFAULT;
        rc = mfa_backup_codes_new(cp.ctx, r->s->user, n, &codes);
        if (rc != MFA_OK)
            return cp_service_error(r, rc);
        int k = cp_session_keep_codes(r->s, codes, n);
        mfa_backup_codes_free(&codes, n);
        if (k != 0)
            return cp_service_error(r, MFA_ERR_NOMEM);
        cp_log("backup codes made for %s after set-up", r->s->user);
    }
    return cp_redirect(r, "/mfa/done");
}

enum MHD_Result
cp_app_confirm(cp_req *r)
{
    if (!r->s->enr)
        return cp_redirect(r, back_to(r));
    mfa_result res;
    memset(&res, 0, sizeof res);
    char id[MFA_FACTOR_ID_LEN + 1];
    snprintf(id, sizeof id, "%s", mfa_enrollment_factor_id(r->s->enr));
    mfa_device_opts dev;
    char label[MFA_DEVICE_LABEL_MAX + 1];
    cp_device_opts(r, &dev, label, sizeof label);
    mfa_rc rc = mfa_enroll_confirm_device(cp.ctx, r->s->user, id,
                                          cp_form(r, "code"), &dev, &res);
    if (cp_device_bad(rc)) {
        cp_device_drop(r);
        dev.token = NULL;
        rc = mfa_enroll_confirm_device(cp.ctx, r->s->user, id,
                                       cp_form(r, "code"), &dev, &res);
    }
    cp_device_keep(r, &res);
    if (rc == MFA_OK) {
        mfa_enrollment_free(&r->s->enr);
        return cp_method_added(r, 0);
    }
    if (rc == MFA_ERR_EXPIRED) {
        mfa_enrollment_free(&r->s->enr);
        cp_notice_error(r, "The set-up took too long. Start again.");
        return cp_redirect(r, back_to(r));
    }
    if (!cp_is_refusal(rc))
        return cp_service_error(r, rc);
    char msg[160];
    cp_code_error(rc, &res, msg, sizeof msg);
    return setup_page(r, msg);
}

/* ---- a phone for text messages ------------------------------------------- */

static enum MHD_Result
phone_page(cp_req *r, const char *err, const char *value)
{
    int first = r->s->state != CP_FULL;
    const char *title = first ? "Set up text message verification"
                              : "Add a backup phone number";
    cp_buf b = {0};
    cp_page_begin(&b, r, title);
    cp_buf_printf(&b, "<h1>%s</h1>", title);
    cp_buf_puts(&b, first ? "<p>We text a six-digit code to this number each "
                            "time you log in.</p>"
                          : "<p>We text a six-digit code to this number when "
                            "you ask for one at log in.</p>");
    cp_buf_puts(&b, "<form method=\"post\" action=\"/mfa/phone\" novalidate>");
    cp_csrf_input(&b, r);
    cp_input in = {.id = "phone",
                   .label = "Phone number",
                   .type = "tel",
                   .value = value,
                   .autocomplete = "tel",
                   .hint = "With the country code, like +1 555 0100 123.",
                   .error = err,
                   .extra = "required"};
    cp_field_html(&b, &in);
    cp_buf_puts(&b, "<div><button type=\"submit\">Text me a code</button>"
                    "</div></form>");
    cp_buf_printf(&b, "<p class=\"links\"><a href=\"%s\">Cancel</a></p>",
                  back_to(r));
    cp_page_end(&b);
    return cp_send_html(r, err ? MHD_HTTP_BAD_REQUEST : MHD_HTTP_OK, &b);
}

enum MHD_Result
cp_phone_form(cp_req *r)
{
    return phone_page(r, NULL, "");
}

enum MHD_Result
cp_phone_begin(cp_req *r)
{
    const char *phone = cp_form(r, "phone");
    if (!cp_valid_phone(phone))
        return phone_page(r,
                          "Enter a phone number with its country code, like "
                          "+1 555 0100 123.",
                          strlen(phone) <= CP_PHONE_MAX ? phone : "");
    if (cp_users_set_phone_pending(cp.users, r->s->user, phone) != 0)
        return cp_service_error(r, MFA_ERR_STORE);
    mfa_rc rc = mfa_oob_begin(cp.ctx, r->s->user, "phone-setup");
    if (rc == MFA_ERR_THROTTLED)
        return phone_page(r, "Too many codes sent. Try again later.", phone);
    if (rc != MFA_OK)
        return cp_service_error(r, rc);
    return cp_redirect(r, "/mfa/phone/verify");
}

static enum MHD_Result
phone_verify_page(cp_req *r, const char *err)
{
    cp_user u;
    if (cp_users_get(cp.users, r->s->user, &u) != 0 || !u.phone_pending[0])
        return cp_redirect(r, "/mfa/phone");
    char tail[8];
    cp_phone_tail(u.phone_pending, tail);
    cp_buf b = {0};
    cp_page_begin(&b, r, "Confirm your phone number");
    cp_buf_puts(&b, "<h1>Confirm your phone number</h1>");
    cp_buf_printf(&b,
                  "<p>We texted a code to the number ending in %s.</p>"
                  "<form method=\"post\" action=\"/mfa/phone/verify\">",
                  tail);
    cp_csrf_input(&b, r);
    cp_code_field(&b, "Enter the code from the text message", err);
    cp_buf_puts(&b, "<div><button type=\"submit\">Verify code</button></div>"
                    "</form><p class=\"links\"><a href=\"/mfa/phone\">Use "
                    "another number or send a new code</a></p>");
    cp_page_end(&b);
    return cp_send_html(r, err ? CP_HTTP_UNPROCESSABLE : MHD_HTTP_OK, &b);
}

enum MHD_Result
cp_phone_verify_form(cp_req *r)
{
    return phone_verify_page(r, NULL);
}

enum MHD_Result
cp_phone_confirm(cp_req *r)
{
    mfa_result res;
    memset(&res, 0, sizeof res);
    mfa_device_opts dev;
    char label[MFA_DEVICE_LABEL_MAX + 1];
    cp_device_opts(r, &dev, label, sizeof label);
    mfa_rc rc = mfa_oob_verify_device(cp.ctx, r->s->user, "phone-setup",
                                      cp_form(r, "code"), &dev, &res);
    if (cp_device_bad(rc)) {
        cp_device_drop(r);
        dev.token = NULL;
        rc = mfa_oob_verify_device(cp.ctx, r->s->user, "phone-setup",
                                   cp_form(r, "code"), &dev, &res);
    }
    cp_device_keep(r, &res);
    if (rc == MFA_OK) {
        if (cp_users_confirm_phone(cp.users, r->s->user) != 0)
            return cp_service_error(r, MFA_ERR_STORE);
        cp_log("phone number confirmed for %s", r->s->user);
        snprintf(r->s->setup_label, sizeof r->s->setup_label, "text messages");
        return cp_method_added(r, 0);
    }
    if (!cp_is_refusal(rc))
        return cp_service_error(r, rc);
    char msg[160];
    cp_code_error(rc, &res, msg, sizeof msg);
    return phone_verify_page(r, msg);
}

/* ---- done, and the backup codes -------------------------------------------
 */

/* The codes, with download, copy and print. */
static void
codes_block(cp_buf *b, const cp_session *s)
{
    cp_buf_puts(b, "<ul class=\"codes\" id=\"backup-codes\">");
    for (size_t i = 0; i < s->ncodes; i++) {
        cp_buf_puts(b, "<li>");
        cp_buf_esc(b, s->codes + i * 32);
        cp_buf_puts(b, "</li>");
    }
    cp_buf_puts(b, "</ul><textarea class=\"copy\" id=\"codes-text\" readonly "
                   "tabindex=\"-1\" aria-hidden=\"true\">");
    for (size_t i = 0; i < s->ncodes; i++) {
        cp_buf_esc(b, s->codes + i * 32);
        cp_buf_puts(b, "\n");
    }
    cp_buf_puts(b, "</textarea><div class=\"actions noprint\">"
                   "<a class=\"button secondary\" href=\"/backup-codes.txt\" "
                   "download id=\"download-codes\">Download</a>"
                   "<button type=\"button\" class=\"secondary\" "
                   "data-copy=\"codes-text\" id=\"copy-codes\" hidden>Copy"
                   "</button><button type=\"button\" class=\"secondary\" "
                   "data-print id=\"print-codes\" hidden>Print</button></div>");
}

static void
codes_done_form(cp_buf *b, cp_req *r, const char *label)
{
    cp_buf_puts(b, "<form method=\"post\" action=\"/backup-codes/done\" "
                   "class=\"noprint\">");
    cp_csrf_input(b, r);
    cp_buf_printf(b, "<button type=\"submit\" id=\"got-it\">%s</button></form>",
                  label);
}

enum MHD_Result
cp_done_page(cp_req *r)
{
    cp_buf b = {0};
    b.secret = 1;
    cp_page_begin(&b, r, "Setup complete");
    cp_buf_puts(&b, "<h1>Multi-factor authentication setup completed "
                    "successfully</h1>");
    if (r->s->setup_first && r->s->setup_passkey)
        cp_buf_puts(&b, "<p>From now on you log in with your password and "
                        "your security key or passkey.</p>");
    else if (r->s->setup_first)
        cp_buf_puts(&b, "<p>From now on you log in with your password and a "
                        "code.</p>");
    else {
        cp_buf_puts(&b, "<p>You can log in with ");
        cp_buf_esc(&b,
                   r->s->setup_label[0] ? r->s->setup_label : "the new method");
        cp_buf_puts(&b, " too.</p>");
    }
    if (r->s->ncodes) {
        cp_buf_puts(&b, "<h2>Save your backup codes</h2><p>If you lose your "
                        "phone or your key, each of these codes logs you in "
                        "once. Keep "
                        "them somewhere safe: <strong>this is the only time "
                        "they are shown.</strong></p>");
        codes_block(&b, r->s);
    }
    codes_done_form(&b, r, "Got it");
    cp_page_end(&b);
    return cp_send_html(r, MHD_HTTP_OK, &b);
}

enum MHD_Result
cp_codes_page(cp_req *r)
{
    if (!r->s->ncodes)
        return cp_redirect(r, "/settings");
    cp_buf b = {0};
    b.secret = 1;
    cp_page_begin(&b, r, "Your backup codes");
    cp_buf_puts(&b,
                "<h1>Your backup codes</h1><p>Each code logs you in once "
                "if you cannot use your phone. Save them somewhere safe "
                "now: <strong>this is the only time they are shown.</strong>"
                " Your old codes no longer work.</p>");
    codes_block(&b, r->s);
    codes_done_form(&b, r, "I have saved them");
    cp_page_end(&b);
    return cp_send_html(r, MHD_HTTP_OK, &b);
}

enum MHD_Result
cp_codes_download(cp_req *r)
{
    if (!r->s->ncodes)
        return cp_error_page(r, MHD_HTTP_NOT_FOUND,
                             "These backup codes are no longer shown. Create "
                             "new ones in Security settings.");
    cp_buf t = {0};
    t.secret = 1;
    cp_buf_printf(&t, "Backup codes for %s at %s\n", r->s->user, cp.issuer);
    cp_buf_puts(&t, "Each code logs you in once. Keep this file safe.\n\n");
    for (size_t i = 0; i < r->s->ncodes; i++)
        cp_buf_printf(&t, "%s\n", r->s->codes + i * 32);
    return cp_send_download(r, &t, "backup-codes.txt");
}

enum MHD_Result
cp_codes_done(cp_req *r)
{
    int first = r->s->setup_first;
    cp_session_drop_codes(r->s);
    r->s->setup_first = 0;
    return cp_redirect(r, first ? "/dashboard" : "/settings");
}
