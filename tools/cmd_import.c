/*
 * mfa import: the factors of a google-authenticator-libpam file, a pam_oath
 * users.oath or a list of otpauth:// URIs, into the store
 * (mfa_factor_import; docs/migration.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"

/* The whole file (it holds secrets) in guarded memory; *len its size. */
static int
read_import_file(const cli *c, const char *path, char **out, size_t *len)
{
    size_t cap = 64 * 1024, n = 0;
    char *buf = sodium_malloc(cap);
    int fd = STDIN_FILENO;

    if (buf == NULL)
        return fail(c, MFA_ERR_NOMEM, EXIT_STORE, "reading %s", path);
    if (strcmp(path, "-") != 0 && (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        const char *why = strerror(errno);

        fprintf(stderr, "mfa: %s: %s\n", path, why);
        sodium_free(buf);
        if (c->json) {
            json_open(NULL, '{');
            json_bool("ok", 0);
            json_string("error", "io");
            json_string("message", why);
            json_int("exit", EXIT_INPUT);
            json_close('}');
            json_done();
        }
        return EXIT_INPUT;
    }
    for (;;) {
        ssize_t got;

        if (n == cap) {
            /* guarded memory cannot grow: copy into a larger block */
            char *bigger;

            if (cap >= MFA_IMPORT_FILE_MAX) {
                fprintf(stderr, "mfa: %s: larger than %u bytes\n", path,
                        MFA_IMPORT_FILE_MAX);
                sodium_free(buf);
                if (fd != STDIN_FILENO)
                    close(fd);
                return EXIT_INPUT;
            }
            bigger = sodium_malloc(cap * 2);
            if (bigger == NULL) {
                sodium_free(buf);
                if (fd != STDIN_FILENO)
                    close(fd);
                return fail(c, MFA_ERR_NOMEM, EXIT_STORE, "reading %s", path);
            }
            memcpy(bigger, buf, n);
            sodium_free(buf);
            buf = bigger;
            cap *= 2;
        }
        got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            fprintf(stderr, "mfa: %s: %s\n", path, strerror(errno));
            sodium_free(buf);
            if (fd != STDIN_FILENO)
                close(fd);
            return EXIT_INPUT;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    if (fd != STDIN_FILENO)
        close(fd);
    *out = buf;
    *len = n;
    return 0;
}

static void
print_notes(const cli *c, const char *path, const mfa_import_report_t *r)
{
    size_t n = mfa_import_report_notes(r);

    if (c->json) {
        json_open("notes", '[');
        for (size_t i = 0; i < n; i++) {
            json_open(NULL, '{');
            json_int("line", (int64_t)mfa_import_report_note_line(r, i));
            json_string("text", mfa_import_report_note(r, i));
            json_close('}');
        }
        json_close(']');
        return;
    }
    for (size_t i = 0; i < n; i++) {
        size_t line = mfa_import_report_note_line(r, i);

        if (line > 0)
            fprintf(stderr, "mfa: %s:%zu: note: %s\n", path, line,
                    mfa_import_report_note(r, i));
        else
            fprintf(stderr, "mfa: %s: note: %s\n", path,
                    mfa_import_report_note(r, i));
    }
}

static int
report_failure(const cli *c, const char *path, mfa_rc rc,
               const mfa_import_report_t *r)
{
    int code = exit_code_for(rc, EXIT_INPUT);
    size_t line = mfa_import_report_line(r);
    mfa_rc cause = r != NULL ? mfa_import_report_cause(r) : rc;
    const char *msg = r != NULL ? mfa_import_report_message(r) : "";

    if (msg[0] == '\0')
        msg = mfa_strerror(rc);
    if (line > 0)
        fprintf(stderr, "mfa: %s:%zu: %s (%s); nothing imported\n", path, line,
                msg, mfa_strerror_name(cause));
    else
        fprintf(stderr, "mfa: %s: %s (%s); nothing imported\n", path, msg,
                mfa_strerror_name(cause));
    if (c->json) {
        json_open(NULL, '{');
        json_bool("ok", 0);
        json_string("error", mfa_strerror_name(rc));
        json_string("cause", mfa_strerror_name(cause));
        json_string("message", msg);
        json_string("file", path);
        json_int("line", (int64_t)line);
        json_int("exit", code);
        if (r != NULL)
            print_notes(c, path, r);
        json_close('}');
        json_done();
    } else if (r != NULL) {
        print_notes(c, path, r);
    }
    return code;
}

int
cmd_import(cli *c)
{
    const char *fname = opt_str(c, "format");
    const char *account = opt_str(c, "account");
    mfa_import_report_t *r = NULL;
    mfa_import_format format;
    char *text = NULL;
    size_t len = 0;
    session s;
    int rc;
    mfa_rc mrc;

    if (c->npos != 1)
        return usage_error(c, c->npos == 0 ? "missing FILE (or - for standard "
                                             "input)"
                                           : "too many arguments: one FILE");
    if (fname == NULL || mfa_import_format_from_name(fname, &format) != MFA_OK)
        return usage_error(c, "--format must be google-authenticator, "
                              "oath-users or uri");
    if (format == MFA_IMPORT_GOOGLE_AUTHENTICATOR && account == NULL)
        return usage_error(c, "--format google-authenticator needs --account "
                              "(the user the file belongs to)");
    if (format == MFA_IMPORT_OATH_USERS && account != NULL)
        return usage_error(c, "--account is not used with oath-users: each "
                              "line names its user");
    if ((rc = session_open(c, &s)) != 0)
        return rc;
    if ((rc = read_import_file(c, c->pos[0], &text, &len)) != 0) {
        session_close(&s);
        return rc;
    }
    mrc = mfa_factor_import(s.ctx, format, account, text, len, &r);
    sodium_free(text);
    if (mrc != MFA_OK) {
        rc = report_failure(c, c->pos[0], mrc, r);
    } else if (c->json) {
        json_open(NULL, '{');
        json_bool("ok", 1);
        json_string("format", mfa_import_format_name(format));
        json_open("factors", '[');
        for (size_t i = 0; i < mfa_import_report_count(r); i++) {
            json_open(NULL, '{');
            json_string("account", mfa_import_report_account(r, i));
            json_string("factor_id", mfa_import_report_factor_id(r, i));
            json_int("line", (int64_t)mfa_import_report_factor_line(r, i));
            json_close('}');
        }
        json_close(']');
        json_int("backup_codes", (int64_t)mfa_import_report_backup_codes(r));
        print_notes(c, c->pos[0], r);
        json_close('}');
        json_done();
        rc = EXIT_OK;
    } else {
        print_notes(c, c->pos[0], r);
        for (size_t i = 0; i < mfa_import_report_count(r); i++)
            printf("%s %s (line %zu)\n", mfa_import_report_account(r, i),
                   mfa_import_report_factor_id(r, i),
                   mfa_import_report_factor_line(r, i));
        printf("imported %zu factor%s", mfa_import_report_count(r),
               mfa_import_report_count(r) == 1 ? "" : "s");
        if (mfa_import_report_backup_codes(r) > 0)
            printf(" and %zu backup codes", mfa_import_report_backup_codes(r));
        printf(" from %s\n", c->pos[0]);
        rc = EXIT_OK;
    }
    mfa_import_report_free(&r);
    session_close(&s);
    return rc;
}
