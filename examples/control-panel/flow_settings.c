/*
 * Flow: the logged-in user's own security settings: the methods
 * (authenticator apps, security keys and passkeys), renaming or removing
 * one, new backup codes, the phone number.  Every destructive action asks
 * again for the password or a current code first.
 *
 * libmfa calls: mfa_factors_list, mfa_webauthn_list, mfa_backup_codes_left,
 * mfa_devices_list, mfa_verify_device (the confirmation), mfa_factor_rename
 * and mfa_factor_remove (apps and passkeys alike: one factor id space),
 * mfa_backup_codes_new, mfa_device_forget.
 */
#include "web.h"

#include <stdio.h>
#include <string.h>

/* ---- confirmation -----------------------------------------------------------
 */

static int
digits6(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (s[n] < '0' || s[n] > '9')
            return 0;
    return n == 6;
}

int
cp_confirm_identity(cp_req *r, char *msg, size_t size)
{
    const char *v = cp_form(r, "confirm");
    if (!v[0]) {
        snprintf(msg, size, "Enter your password or a current code.");
        return 1;
    }
    if (digits6(v)) {
        /* Passwords are at least 8 characters: six digits are a code. */
        mfa_result res;
        memset(&res, 0, sizeof res);
        /* With the device's token, whose trust stays as it is (0 days):
         * a plain verify would make a new device of this browser. */
        mfa_device_opts dev = {cp_device_token(r), NULL, 0};
        mfa_rc rc = mfa_verify_device(cp.ctx, r->s->user, v, &dev, &res);
        if (cp_device_bad(rc)) {
            cp_device_drop(r);
            dev.token = NULL;
            rc = mfa_verify_device(cp.ctx, r->s->user, v, &dev, &res);
        }
        cp_device_keep(r, &res);
        if (rc == MFA_OK)
            return 0;
        if (!cp_is_refusal(rc))
            return -1;
        cp_code_error(rc, &res, msg, size);
        return 1;
    }
    return cp_check_password(r, r->s->user, v, msg, size);
}

enum MHD_Result
cp_confirm_page(cp_req *r, const cp_confirm *c, const char *error)
{
    cp_methods m;
    if (cp_methods_of(r->s->user, &m) != 0)
        m.apps = 0;
    int has_app = m.apps > 0;
    cp_buf b = {0};
    cp_page_begin(&b, r, c->title);
    cp_buf_puts(&b, "<h1>");
    cp_buf_esc(&b, c->title);
    cp_buf_puts(&b, "</h1><p>");
    cp_buf_esc(&b, c->what);
    cp_buf_printf(&b, "</p><form method=\"post\" action=\"%s\" novalidate>",
                  c->action);
    cp_csrf_input(&b, r);
    if (c->hidden_name) {
        cp_buf_printf(&b, "<input type=\"hidden\" name=\"%s\" value=\"",
                      c->hidden_name);
        cp_buf_esc(&b, c->hidden_value);
        cp_buf_puts(&b, "\">");
    }
    cp_input in = {.id = "confirm",
                   .label = has_app ? "Your password, or a current code from "
                                      "your authenticator app"
                                    : "Your password",
                   .type = "password",
                   .autocomplete = "current-password",
                   .error = error,
                   .extra = "required autofocus"};
    cp_field_html(&b, &in);
    cp_buf_puts(&b, "<div class=\"actions\"><button type=\"submit\" "
                    "class=\"danger\" id=\"confirm-action\">");
    cp_buf_esc(&b, c->button);
    cp_buf_printf(&b, "</button><a href=\"%s\">Cancel</a></div></form>",
                  c->cancel);
    cp_page_end(&b);
    return cp_send_html(r, error ? CP_HTTP_UNPROCESSABLE : MHD_HTTP_OK, &b);
}

/* ---- the dashboard and the settings page --------------------------------- */

enum MHD_Result
cp_dashboard(cp_req *r)
{
    cp_buf b = {0};
    cp_page_begin(&b, r, "Dashboard");
    cp_buf_puts(&b, "<h1>Dashboard</h1>");
    cp_page_notice(&b, r);
    cp_buf_puts(&b, "<p id=\"welcome\">Welcome, ");
    cp_buf_esc(&b, r->s->user);
    cp_buf_puts(&b, ". Multi-factor authentication is on for your account."
                    "</p>");
    size_t left = 0;
    if (mfa_backup_codes_left(cp.ctx, r->s->user, &left) == MFA_OK && left == 0)
        cp_buf_puts(&b, "<p>You have no backup codes. <a href=\"/settings\">"
                        "Create them in Security settings</a> in case you "
                        "lose your phone.</p>");
    cp_buf_puts(&b, "<table class=\"stack\"><tr><th>Site</th><th>Plan</th>"
                    "<th>Status</th></tr><tr><td data-label=\"Site\">"
                    "example.org</td><td data-label=\"Plan\">Basic</td>"
                    "<td data-label=\"Status\">Running</td></tr><tr>"
                    "<td data-label=\"Site\">shop.example.org</td>"
                    "<td data-label=\"Plan\">Business</td>"
                    "<td data-label=\"Status\">Running</td></tr></table>");
    cp_page_end(&b);
    return cp_send_html(r, MHD_HTTP_OK, &b);
}

/* This browser's device id, or "". */
static void
this_device(const cp_req *r, char id[MFA_DEVICE_ID_LEN + 1])
{
    const char *t = cp_device_token(r);
    if (!t || mfa_device_token_id(t, id) != MFA_OK)
        id[0] = '\0';
}

static void
device_name(const mfa_device_info *d, const char *here, char *out, size_t size)
{
    snprintf(out, size, "%s%s", d->label[0] ? d->label : "A browser",
             strcmp(d->id, here) == 0 ? " (this device)" : "");
}

static void
devices_section(cp_buf *b, cp_req *r)
{
    mfa_device_info *list = NULL;
    size_t n = 0;
    cp_buf_puts(b, "<h2>Devices</h2>");
    if (mfa_devices_list(cp.ctx, r->s->user, &list, &n) != MFA_OK) {
        cp_buf_puts(b, "<p>The list of devices is not available now.</p>");
        return;
    }
    char here[MFA_DEVICE_ID_LEN + 1];
    this_device(r, here);
    cp_buf_printf(b,
                  "<p>The browsers you logged in from. A remembered one "
                  "skips the code for %d days.</p><table id=\"devices\" "
                  "class=\"stack\"><tr><th>Device</th><th>Code at log in</th>"
                  "<th>Last used</th><th><span class=\"vh\">Actions"
                  "</span></th></tr>",
                  CP_REMEMBER_DAYS);
    for (size_t i = 0; i < n; i++) {
        char name[MFA_DEVICE_LABEL_MAX + 32], seen[40], until[40];
        device_name(&list[i], here, name, sizeof name);
        cp_fmt_time(list[i].last_seen, seen, sizeof seen);
        cp_buf_puts(b, "<tr><td class=\"label\" data-label=\"Device\">");
        cp_buf_esc(b, name);
        cp_buf_puts(b, "</td><td data-label=\"Code at log in\">");
        if (list[i].trusted_until > r->now) {
            cp_fmt_time(list[i].trusted_until, until, sizeof until);
            cp_buf_printf(b, "Remembered until %s", until);
        } else {
            cp_buf_puts(b, "Asked at every log in");
        }
        cp_buf_printf(b,
                      "</td><td data-label=\"Last used\">%s</td><td>"
                      "<a class=\"button secondary\" "
                      "href=\"/settings/devices/forget?device=%s\">Forget"
                      "<span class=\"vh\"> ",
                      seen, list[i].id);
        cp_buf_esc(b, name);
        /* Two "Chrome on Linux" are told apart by when they were used. */
        cp_buf_printf(b, ", last used %s</span></a></td></tr>", seen);
    }
    if (n == 0)
        cp_buf_puts(b, "<tr><td colspan=\"4\">None yet.</td></tr>");
    cp_buf_puts(b, "</table>");
    mfa_free(list);
}

/* What kind of passkey: synced (backup eligible, the BE flag of its
 * registration) or bound to one device or key. */
static const char *
passkey_kind(const mfa_webauthn_info *k)
{
    if (k->flags & MFA_WEBAUTHN_FLAG_BE)
        return "Synced passkey";
    if (k->transports &
        (MFA_WEBAUTHN_TRANSPORT_INTERNAL | MFA_WEBAUTHN_TRANSPORT_HYBRID))
        return "Passkey on one device, not synced";
    return "Security key, not synced";
}

/* "Rename" and "Remove", heard as "Rename Blue key", "Remove Blue key". */
static void
factor_actions(cp_buf *b, const char *id, const char *label)
{
    cp_buf_puts(b, "<div class=\"actions\"><a class=\"button secondary\" "
                   "href=\"/settings/rename?factor=");
    cp_buf_esc(b, id);
    cp_buf_puts(b, "\">Rename<span class=\"vh\"> ");
    cp_buf_esc(b, label);
    cp_buf_puts(b, "</span></a><a class=\"button danger\" "
                   "href=\"/settings/remove?factor=");
    cp_buf_esc(b, id);
    cp_buf_puts(b, "\">Remove<span class=\"vh\"> ");
    cp_buf_esc(b, label);
    cp_buf_puts(b, "</span></a></div>");
}

static void
passkeys_section(cp_buf *b, cp_req *r)
{
    if (!cp.passkeys)
        return;
    mfa_webauthn_info *keys = NULL;
    size_t n = 0;
    cp_buf_puts(b, "<h2>Security keys and passkeys</h2>");
    if (cp_passkeys_list(r->s->user, &keys, &n) != MFA_OK) {
        cp_buf_puts(b, "<p>The list of security keys is not available now."
                       "</p>");
        return;
    }
    cp_buf_puts(b, "<table id=\"passkeys\" class=\"stack\"><tr><th>Name</th>"
                   "<th>Kind</th><th>Added</th><th>Last used</th><th><span "
                   "class=\"vh\">Actions</span></th></tr>");
    for (size_t i = 0; i < n; i++) {
        char added[40], used[40];
        cp_fmt_time(keys[i].created, added, sizeof added);
        cp_fmt_time(keys[i].last_used, used, sizeof used);
        cp_buf_puts(b, "<tr><td class=\"label\" data-label=\"Name\">");
        cp_buf_esc(b, keys[i].label);
        cp_buf_printf(b,
                      "</td><td class=\"kind\" data-label=\"Kind\">%s</td>"
                      "<td data-label=\"Added\">%s</td>"
                      "<td data-label=\"Last used\">%s</td><td>",
                      passkey_kind(&keys[i]), added, used);
        factor_actions(b, keys[i].factor_id, keys[i].label);
        cp_buf_puts(b, "</td></tr>");
    }
    if (n == 0)
        cp_buf_puts(b, "<tr><td colspan=\"5\">None yet.</td></tr>");
    cp_buf_puts(b, "</table><p><a class=\"button\" href=\"/mfa/passkey\" "
                   "id=\"add-passkey\">Add a security key or passkey</a></p>");
    mfa_free(keys);
}

enum MHD_Result
cp_settings(cp_req *r)
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
        return cp_service_error(r, rc);
    }
    cp_buf b = {0};
    cp_page_begin(&b, r, "Security settings");
    cp_buf_puts(&b, "<h1>Security settings</h1>");
    cp_page_notice(&b, r);
    cp_buf_puts(&b, "<h2>Authenticator apps</h2><table id=\"factors\" "
                    "class=\"stack\"><tr><th>Device</th><th>Status</th>"
                    "<th>Added</th><th>Last used</th><th><span class=\"vh\">"
                    "Actions</span></th></tr>");
    size_t active = 0;
    for (size_t i = 0; i < n; i++) {
        char added[40], used[40];
        cp_fmt_time(list[i].created, added, sizeof added);
        cp_fmt_time(list[i].last_used, used, sizeof used);
        active += list[i].status == MFA_FACTOR_ACTIVE;
        cp_buf_puts(&b, "<tr><td class=\"label\" data-label=\"Device\">");
        cp_buf_esc(&b, list[i].label);
        cp_buf_printf(&b,
                      "</td><td data-label=\"Status\">%s</td>"
                      "<td data-label=\"Added\">%s</td>"
                      "<td data-label=\"Last used\">%s</td><td>",
                      list[i].status == MFA_FACTOR_ACTIVE ? "Active"
                                                          : "Not finished",
                      added, used);
        factor_actions(&b, list[i].id, list[i].label);
        cp_buf_puts(&b, "</td></tr>");
    }
    if (n == 0)
        cp_buf_puts(&b, "<tr><td colspan=\"5\">None yet.</td></tr>");
    cp_buf_puts(&b,
                "</table><form method=\"post\" action=\"/mfa/authenticator\">");
    cp_csrf_input(&b, r);
    char def[40];
    snprintf(def, sizeof def, "Authenticator %zu", active + 1);
    cp_input label = {.id = "label",
                      .label = "Device name",
                      .value = def,
                      .extra = "maxlength=\"64\""};
    cp_field_html(&b, &label);
    cp_buf_puts(&b, "<div><button type=\"submit\" id=\"add-authenticator\">Add "
                    "another authenticator</button></div></form>");
    passkeys_section(&b, r);

    cp_buf_printf(&b,
                  "<h2>Backup codes</h2><p id=\"codes-left\">You have %zu "
                  "unused backup codes.</p><p><a class=\"button\" "
                  "href=\"/settings/backup-codes\" id=\"new-codes\">%s</a> "
                  "<span class=\"muted\">New codes replace the old ones."
                  "</span></p>",
                  left,
                  left ? "Create new backup codes" : "Create backup codes");

    devices_section(&b, r);
    cp_buf_puts(&b, "<h2>Phone number for text messages</h2>");
    if (u.phone[0]) {
        char tail[8];
        cp_phone_tail(u.phone, tail);
        cp_buf_printf(&b,
                      "<p id=\"phone\">Text messages go to the number "
                      "ending in %s.</p><a class=\"button secondary\" "
                      "href=\"/settings/phone/remove\" id=\"remove-phone\">"
                      "Remove the phone number</a>",
                      tail);
    } else {
        cp_buf_puts(&b, "<p>No phone number.</p><a class=\"button\" "
                        "href=\"/mfa/phone\" id=\"add-phone\">Add a backup "
                        "phone number</a>");
    }
    cp_page_end(&b);
    mfa_free(list);
    return cp_send_html(r, MHD_HTTP_OK, &b);
}

/* ---- remove or rename an authenticator or a passkey ------------------------
 */

/* The factor's label (an authenticator app's or a passkey's), whether it
 * is a passkey, and whether it is the last way in; 0 found, 1 not, -1
 * error. */
static int
find_factor(const char *user, const char *id, char label[MFA_LABEL_MAX + 1],
            int *is_key, int *last)
{
    mfa_factor_info *list = NULL;
    mfa_webauthn_info *keys = NULL;
    size_t n = 0, nk = 0, active = 0;
    int found = 0, target_active = 0;
    if (mfa_factors_list(cp.ctx, user, &list, &n) != MFA_OK)
        return -1;
    if (cp_passkeys_list(user, &keys, &nk) != MFA_OK) {
        mfa_free(list);
        return -1;
    }
    *is_key = 0;
    for (size_t i = 0; i < n; i++) {
        int act = list[i].status == MFA_FACTOR_ACTIVE;
        active += (size_t)act;
        if (strcmp(list[i].id, id) == 0) {
            found = 1;
            target_active = act;
            snprintf(label, MFA_LABEL_MAX + 1, "%s", list[i].label);
        }
    }
    active += nk; /* a passkey is active once registered */
    for (size_t i = 0; i < nk && !found; i++)
        if (strcmp(keys[i].factor_id, id) == 0) {
            found = target_active = *is_key = 1;
            snprintf(label, MFA_LABEL_MAX + 1, "%s", keys[i].label);
        }
    mfa_free(list);
    mfa_free(keys);
    cp_user u;
    int has_phone = cp_users_get(cp.users, user, &u) == 0 && u.phone[0];
    *last = target_active && active == 1 && !has_phone;
    return found ? 0 : 1;
}

static enum MHD_Result
remove_page(cp_req *r, const char *id, const char *label, int is_key,
            const char *err)
{
    char title[MFA_LABEL_MAX + 32], button[MFA_LABEL_MAX + 16];
    snprintf(title, sizeof title, "Remove %s?", label);
    snprintf(button, sizeof button, "Remove %s", label);
    cp_confirm c = {title,
                    is_key ? "It will no longer log you in, and the key "
                             "itself may keep it until you delete it there. "
                             "To confirm, enter your password or a current "
                             "code."
                           : "Its codes will no longer work. To confirm, "
                             "enter your password or a current code.",
                    "/settings/remove",
                    "factor",
                    id,
                    button,
                    "/settings"};
    return cp_confirm_page(r, &c, err);
}

static enum MHD_Result
remove_step(cp_req *r, int submit)
{
    const char *id = submit ? cp_form(r, "factor") : cp_query(r, "factor");
    char label[MFA_LABEL_MAX + 1] = "";
    int last = 0, is_key = 0;
    int k = strlen(id) == MFA_FACTOR_ID_LEN
                ? find_factor(r->s->user, id, label, &is_key, &last)
                : 1;
    if (k < 0)
        return cp_service_error(r, MFA_ERR_STORE);
    if (k > 0) {
        cp_notice_error(r, "No such authenticator.");
        return cp_redirect(r, "/settings");
    }
    if (last) {
        cp_notice_error(r, "This is your only way to log in with a second "
                           "step. Add another authenticator, a security key "
                           "or a phone number before you remove it.");
        return cp_redirect(r, "/settings");
    }
    if (!submit)
        return remove_page(r, id, label, is_key, NULL);
    char msg[160];
    k = cp_confirm_identity(r, msg, sizeof msg);
    if (k < 0)
        return cp_service_error(r, MFA_ERR_STORE);
    if (k > 0)
        return remove_page(r, id, label, is_key, msg);
    mfa_rc rc = mfa_factor_remove(cp.ctx, r->s->user, id);
    if (rc != MFA_OK && rc != MFA_ERR_NOT_FOUND)
        return cp_service_error(r, rc);
    snprintf(msg, sizeof msg,
             is_key ? "%s has been removed. It no longer logs you in."
                    : "%s has been removed. Its codes no longer work.",
             label);
    cp_notice(r, msg);
    return cp_redirect(r, "/settings");
}

enum MHD_Result
cp_remove_form(cp_req *r)
{
    return remove_step(r, 0);
}

enum MHD_Result
cp_remove_submit(cp_req *r)
{
    return remove_step(r, 1);
}

static enum MHD_Result
rename_page(cp_req *r, const char *id, const char *label, const char *value,
            const char *err)
{
    char title[MFA_LABEL_MAX + 16];
    snprintf(title, sizeof title, "Rename %s", label);
    cp_buf b = {0};
    cp_page_begin(&b, r, title);
    cp_buf_puts(&b, "<h1>");
    cp_buf_esc(&b, title);
    cp_buf_puts(&b, "</h1><form method=\"post\" action=\"/settings/rename\" "
                    "novalidate>");
    cp_csrf_input(&b, r);
    cp_buf_puts(&b, "<input type=\"hidden\" name=\"factor\" value=\"");
    cp_buf_esc(&b, id);
    cp_buf_puts(&b, "\">");
    cp_input in = {.id = "label",
                   .label = "New name",
                   .value = value,
                   .error = err,
                   .extra = "maxlength=\"64\" required autofocus"};
    cp_field_html(&b, &in);
    cp_buf_puts(&b, "<div class=\"actions\"><button type=\"submit\" "
                    "id=\"rename-save\">Save</button><a href=\"/settings\">"
                    "Cancel</a></div></form>");
    cp_page_end(&b);
    return cp_send_html(r, err ? CP_HTTP_UNPROCESSABLE : MHD_HTTP_OK, &b);
}

/* Not destructive: no confirmation, the CSRF token is enough. */
static enum MHD_Result
rename_step(cp_req *r, int submit)
{
    const char *id = submit ? cp_form(r, "factor") : cp_query(r, "factor");
    char label[MFA_LABEL_MAX + 1] = "";
    int last = 0, is_key = 0;
    int k = strlen(id) == MFA_FACTOR_ID_LEN
                ? find_factor(r->s->user, id, label, &is_key, &last)
                : 1;
    if (k < 0)
        return cp_service_error(r, MFA_ERR_STORE);
    if (k > 0) {
        cp_notice_error(r, "No such authenticator or key.");
        return cp_redirect(r, "/settings");
    }
    if (!submit)
        return rename_page(r, id, label, label, NULL);
    const char *name = cp_form(r, "label");
    if (!name[0])
        return rename_page(r, id, label, "", "Enter a name.");
    mfa_rc rc = mfa_factor_rename(cp.ctx, r->s->user, id, name);
    if (cp_bad_label(rc) || rc == MFA_ERR_INVALID)
        return rename_page(r, id, label,
                           strlen(name) <= MFA_LABEL_MAX ? name : "",
                           "That name cannot be used. Choose a shorter name "
                           "of letters, digits and spaces.");
    if (rc == MFA_ERR_NOT_FOUND) {
        cp_notice_error(r, "No such authenticator or key.");
        return cp_redirect(r, "/settings");
    }
    if (rc != MFA_OK)
        return cp_service_error(r, rc);
    char msg[MFA_LABEL_MAX * 2 + 40];
    snprintf(msg, sizeof msg, "%s is now called %s.", label, name);
    cp_notice(r, msg);
    return cp_redirect(r, "/settings");
}

enum MHD_Result
cp_rename_form(cp_req *r)
{
    return rename_step(r, 0);
}

enum MHD_Result
cp_rename_submit(cp_req *r)
{
    return rename_step(r, 1);
}

/* ---- new backup codes -------------------------------------------------------
 */

static const cp_confirm newcodes = {
    "Create new backup codes?",
    "Your old backup codes will stop working. To confirm, enter your "
    "password or a current code.",
    "/settings/backup-codes",
    NULL,
    NULL,
    "Create new backup codes",
    "/settings"};

enum MHD_Result
cp_newcodes_form(cp_req *r)
{
    return cp_confirm_page(r, &newcodes, NULL);
}

enum MHD_Result
cp_newcodes_submit(cp_req *r)
{
    char msg[160];
    int k = cp_confirm_identity(r, msg, sizeof msg);
    if (k < 0)
        return cp_service_error(r, MFA_ERR_STORE);
    if (k > 0)
        return cp_confirm_page(r, &newcodes, msg);
    char **codes = NULL;
    size_t n = MFA_BACKUP_COUNT_DEFAULT;
    mfa_rc rc = mfa_backup_codes_new(cp.ctx, r->s->user, n, &codes);
    if (rc != MFA_OK)
        return cp_service_error(r, rc);
    k = cp_session_keep_codes(r->s, codes, n);
    mfa_backup_codes_free(&codes, n);
    if (k != 0)
        return cp_service_error(r, MFA_ERR_NOMEM);
    r->s->setup_first = 0;
    cp_log("new backup codes for %s", r->s->user);
    return cp_redirect(r, "/backup-codes");
}

/* ---- the phone number
 * -------------------------------------------------------- */

static const cp_confirm phone_remove = {
    "Remove the phone number?",
    "Codes will no longer be texted to it. To confirm, enter your password "
    "or a current code.",
    "/settings/phone/remove",
    NULL,
    NULL,
    "Remove the phone number",
    "/settings"};

static int
phone_is_last(cp_req *r, int *last)
{
    cp_methods m;
    if (cp_methods_of(r->s->user, &m) != 0)
        return -1;
    *last = !m.apps && !m.passkeys;
    return 0;
}

enum MHD_Result
cp_phone_remove_form(cp_req *r)
{
    int last = 0;
    if (phone_is_last(r, &last) != 0)
        return cp_service_error(r, MFA_ERR_STORE);
    if (last) {
        cp_notice_error(r, "Add an authenticator or a security key before "
                           "you remove your only phone number.");
        return cp_redirect(r, "/settings");
    }
    return cp_confirm_page(r, &phone_remove, NULL);
}

enum MHD_Result
cp_phone_remove_submit(cp_req *r)
{
    int last = 0;
    if (phone_is_last(r, &last) != 0)
        return cp_service_error(r, MFA_ERR_STORE);
    if (last)
        return cp_phone_remove_form(r);
    char msg[160];
    int k = cp_confirm_identity(r, msg, sizeof msg);
    if (k < 0)
        return cp_service_error(r, MFA_ERR_STORE);
    if (k > 0)
        return cp_confirm_page(r, &phone_remove, msg);
    if (cp_users_clear_phone(cp.users, r->s->user) != 0)
        return cp_service_error(r, MFA_ERR_STORE);
    cp_notice(r, "The phone number has been removed.");
    return cp_redirect(r, "/settings");
}

/* ---- forget a device
 * ---------------------------------------------------------- */

static int
valid_device_id(const char *s)
{
    if (strlen(s) != MFA_DEVICE_ID_LEN)
        return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return 0;
    return 1;
}

static enum MHD_Result
forget_step(cp_req *r, int submit)
{
    const char *id = submit ? cp_form(r, "device") : cp_query(r, "device");
    mfa_device_info *list = NULL;
    size_t n = 0;
    char name[MFA_DEVICE_LABEL_MAX + 32] = "", here[MFA_DEVICE_ID_LEN + 1];
    if (!valid_device_id(id)) {
        cp_notice_error(r, "No such device.");
        return cp_redirect(r, "/settings");
    }
    mfa_rc rc = mfa_devices_list(cp.ctx, r->s->user, &list, &n);
    if (rc != MFA_OK)
        return cp_service_error(r, rc);
    this_device(r, here);
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i].id, id) == 0)
            device_name(&list[i], here, name, sizeof name);
    mfa_free(list);
    if (!name[0]) {
        cp_notice_error(r, "No such device.");
        return cp_redirect(r, "/settings");
    }
    char title[sizeof name + 16], button[sizeof name + 16], msg[200];
    snprintf(title, sizeof title, "Forget %s?", name);
    snprintf(button, sizeof button, "Forget %s", name);
    cp_confirm c = {title,
                    "It will be asked for a code at its next log in. To "
                    "confirm, enter your password or a current code.",
                    "/settings/devices/forget",
                    "device",
                    id,
                    button,
                    "/settings"};
    if (!submit)
        return cp_confirm_page(r, &c, NULL);
    int k = cp_confirm_identity(r, msg, sizeof msg);
    if (k < 0)
        return cp_service_error(r, MFA_ERR_STORE);
    if (k > 0)
        return cp_confirm_page(r, &c, msg);
    /* The confirmation may have rotated this browser's token, not its id. */
    rc = mfa_device_forget(cp.ctx, r->s->user, id);
    if (rc != MFA_OK && rc != MFA_ERR_NOT_FOUND)
        return cp_service_error(r, rc);
    if (strcmp(id, here) == 0)
        cp_device_drop(r);
    snprintf(msg, sizeof msg, "%s has been forgotten.", name);
    cp_notice(r, msg);
    return cp_redirect(r, "/settings");
}

enum MHD_Result
cp_forget_form(cp_req *r)
{
    return forget_step(r, 0);
}

enum MHD_Result
cp_forget_submit(cp_req *r)
{
    return forget_step(r, 1);
}
