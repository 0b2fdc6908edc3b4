/*
 * Flow: administration.  The users with their MFA state, and "Reset MFA"
 * (after the administrator's own password or code) for a user who lost
 * every method: they set it up again at their next login.
 *
 * libmfa calls: mfa_factors_list, mfa_webauthn_list, mfa_backup_codes_left,
 * mfa_reset (passkeys too).
 */
#include "web.h"

#include <stdio.h>
#include <string.h>

typedef struct row_ctx {
    cp_buf *b;
    const cp_req *r;
    int failed;
} row_ctx;

static void
row(const cp_user *u, void *arg)
{
    row_ctx *a = arg;
    cp_methods m;
    if (cp_methods_of(u->name, &m) != 0) {
        a->failed = 1;
        return;
    }
    int on = m.apps > 0 || m.passkeys > 0 || m.phone;
    cp_buf_puts(a->b, "<tr data-user=\"");
    cp_buf_esc(a->b, u->name);
    cp_buf_puts(a->b, "\"><td data-label=\"User\">");
    cp_buf_esc(a->b, u->name);
    cp_buf_printf(a->b,
                  "</td><td data-label=\"Role\">%s</td><td class=\"mfa\" "
                  "data-label=\"MFA\">%s</td><td data-label=\"Authenticators\">"
                  "%zu</td><td class=\"keys\" data-label=\"Security keys\">"
                  "%zu</td><td data-label=\"Backup codes\">%zu</td>"
                  "<td data-label=\"Phone\">%s</td><td>",
                  u->is_admin ? "Administrator" : "User", on ? "On" : "Off",
                  m.apps, m.passkeys, m.codes_left, m.phone ? "Yes" : "No");
    if (strcmp(u->name, a->r->s->user) != 0 && on) {
        cp_buf_puts(a->b,
                    "<a class=\"button danger\" href=\"/admin/reset?user=");
        cp_buf_esc(a->b, u->name);
        cp_buf_puts(a->b, "\">Reset MFA<span class=\"vh\"> for ");
        cp_buf_esc(a->b, u->name);
        cp_buf_puts(a->b, "</span></a>");
    }
    cp_buf_puts(a->b, "</td></tr>");
}

enum MHD_Result
cp_admin_page(cp_req *r)
{
    cp_buf b = {0};
    cp_page_begin(&b, r, "Admin");
    cp_buf_puts(&b, "<h1>Users</h1>");
    cp_page_notice(&b, r);
    cp_buf_puts(&b, "<p>Resetting a user's MFA removes their authenticators, "
                    "security keys, passkeys, backup codes and phone number; "
                    "they set it up again at their next login.</p>"
                    "<table id=\"users\" class=\"stack\">"
                    "<tr><th>User</th><th>Role</th><th>MFA</th>"
                    "<th>Authenticators</th><th>Security keys</th>"
                    "<th>Backup codes</th>"
                    "<th>Phone</th><th><span class=\"vh\">Actions</span></th>"
                    "</tr>");
    row_ctx a = {&b, r, 0};
    if (cp_users_each(cp.users, row, &a) != 0 || a.failed) {
        cp_buf_free(&b);
        return cp_service_error(r, MFA_ERR_STORE);
    }
    cp_buf_puts(&b, "</table>");
    cp_page_end(&b);
    return cp_send_html(r, MHD_HTTP_OK, &b);
}

static enum MHD_Result
reset_step(cp_req *r, int submit)
{
    const char *name = submit ? cp_form(r, "user") : cp_query(r, "user");
    cp_user u;
    if (!cp_valid_username(name) || cp_users_get(cp.users, name, &u) != 0) {
        cp_notice_error(r, "No such user.");
        return cp_redirect(r, "/admin");
    }
    if (strcmp(name, r->s->user) == 0) {
        /* It would end this very session: Security settings is the place
         * for one's own methods. */
        cp_notice_error(r, "Change your own MFA in Security settings.");
        return cp_redirect(r, "/admin");
    }
    char title[CP_USER_MAX + 48], button[CP_USER_MAX + 24], msg[200];
    snprintf(title, sizeof title, "Reset the MFA of %s?", name);
    snprintf(button, sizeof button, "Reset MFA for %s", name);
    cp_confirm c = {title,
                    "Their authenticators, security keys, passkeys, backup "
                    "codes and phone number are removed and they are logged "
                    "out everywhere; they set up "
                    "MFA again at their next login. To confirm, enter your "
                    "own password or a current code.",
                    "/admin/reset",
                    "user",
                    name,
                    button,
                    "/admin"};
    if (!submit)
        return cp_confirm_page(r, &c, NULL);
    int k = cp_confirm_identity(r, msg, sizeof msg);
    if (k < 0)
        return cp_service_error(r, MFA_ERR_STORE);
    if (k > 0)
        return cp_confirm_page(r, &c, msg);
    mfa_rc rc = mfa_reset(cp.ctx, name);
    if (rc != MFA_OK)
        return cp_service_error(r, rc);
    if (cp_users_clear_phone(cp.users, name) != 0)
        return cp_service_error(r, MFA_ERR_STORE);
    cp_sessions_end_user(name);
    cp_log("administrator %s reset the MFA of %s", r->s->user, name);
    snprintf(msg, sizeof msg,
             "The MFA of %s has been reset. They set it up again at their "
             "next login.",
             name);
    cp_notice(r, msg);
    return cp_redirect(r, "/admin");
}

enum MHD_Result
cp_admin_reset_form(cp_req *r)
{
    return reset_step(r, 0);
}

enum MHD_Result
cp_admin_reset_submit(cp_req *r)
{
    return reset_step(r, 1);
}
