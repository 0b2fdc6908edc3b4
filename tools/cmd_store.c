/*
 * The commands that administer accounts in a store through the service
 * layer: keyring, enroll, confirm, check, recover, backup-codes, list,
 * rename, remove, reset, rotate-keys, migrate.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"

/* Never echo the store spec: a PostgreSQL conninfo may hold a password. */
static const char *
store_kind(const char *spec)
{
    if (strncmp(spec, "sqlite:", 7) == 0)
        return "sqlite";
    if (strncmp(spec, "postgres:", 9) == 0)
        return "postgres";
    if (strncmp(spec, "memory:", 7) == 0)
        return "memory";
    return "unknown kind";
}

/*
 * Why a SQLite path cannot be opened, from the operating system: the file
 * or its directory missing, not accessible, or not writable.  "" when the
 * file looks fine (the store itself refused it).
 */
static void
sqlite_reason(const char *spec, char *out, size_t size)
{
    const char *path = spec + 7;
    char dir[1024];
    const char *slash;
    struct stat sb;

    out[0] = '\0';
    if (strchr(path, '?') != NULL)
        return; /* options: mfa_store_open checks them */
    slash = strrchr(path, '/');
    if (slash == NULL)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == path)
        snprintf(dir, sizeof(dir), "/");
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    if (stat(dir, &sb) != 0)
        snprintf(out, size, "directory %s: %s", dir, strerror(errno));
    else if (!S_ISDIR(sb.st_mode))
        snprintf(out, size, "%s is not a directory", dir);
    else if (stat(path, &sb) != 0)
        snprintf(out, size, "%s: %s", path, strerror(errno));
    else if (access(path, R_OK | W_OK) != 0)
        snprintf(out, size, "%s: %s", path, strerror(errno));
}

/*
 * Open the store of --store or $MFA_STORE; with create, create it when it
 * is missing and create or upgrade its schema (`mfa migrate`).  Opening
 * never creates: a missing or empty store is an error that says how to
 * create it.
 */
static int
open_store_as(cli *c, mfa_store_t **st, int create)
{
    char why[1200];
    mfa_rc rc;
    int sqlite;

    if (c->store_spec == NULL)
        return usage_error(c, "no store given: use --store sqlite:PATH or "
                              "--store postgres:CONNINFO, or set MFA_STORE");
    sqlite = strncmp(c->store_spec, "sqlite:", 7) == 0;
    if (!sqlite && strncmp(c->store_spec, "postgres:", 9) != 0 &&
        strncmp(c->store_spec, "memory:", 7) != 0)
        return usage_error(c, "--store (or MFA_STORE) must be sqlite:PATH or "
                              "postgres:CONNINFO");
    if (c->pg_schema != NULL) {
        if (strncmp(c->store_spec, "postgres:", 9) != 0)
            return usage_error(c, "--schema is for a postgres: store");
        rc =
            create
                ? mfa_store_postgres_create(st, c->store_spec + 9, c->pg_schema)
                : mfa_store_postgres_open(st, c->store_spec + 9, c->pg_schema);
    } else {
        rc = create ? mfa_store_create(st, c->store_spec)
                    : mfa_store_open(st, c->store_spec);
    }
    if (rc == MFA_OK)
        return 0;
    /* never echo a PostgreSQL conninfo: it may hold a password */
    why[0] = '\0';
    if (sqlite) {
        char os[1100];
        sqlite_reason(c->store_spec, os, sizeof(os));
        snprintf(why, sizeof(why), "store %s%s%s", c->store_spec + 7,
                 os[0] ? ": " : "", os);
    } else {
        snprintf(why, sizeof(why), "store (%s)", store_kind(c->store_spec));
    }
    if (rc == MFA_ERR_NO_STORE || rc == MFA_ERR_NO_SCHEMA ||
        rc == MFA_ERR_SCHEMA_OLD)
        return fail(c, rc, EXIT_STORE,
                    "%s: not usable as it is (mfa migrate creates or "
                    "upgrades it)",
                    why);
    return fail(c, rc, EXIT_STORE, "cannot %s the %s",
                create ? "create" : "open", why);
}

static int
open_store(cli *c, mfa_store_t **st)
{
    return open_store_as(c, st, 0);
}

static int
open_keyring(cli *c, mfa_keyring_t **kr)
{
    mfa_rc rc;

    if (c->keyring_path == NULL)
        return usage_error(c, "--keyring FILE is required");
    {
        char why[1400];

        rc = mfa_keyring_load_why(kr, c->keyring_path, why, sizeof(why));
        if (rc != MFA_OK)
            return fail(c, rc, EXIT_STORE, "key ring %s",
                        why[0] ? why : c->keyring_path);
    }
    return 0;
}

static int64_t
fixed_clock(void *arg)
{
    return *(const int64_t *)arg;
}

void
session_close(session *s)
{
    mfa_ctx_free(&s->ctx);
    mfa_store_free(&s->store);
    mfa_keyring_free(&s->kr);
}

int
session_open(cli *c, session *s)
{
    int rc;
    mfa_rc mrc;

    memset(s, 0, sizeof(*s));
    /* check the command line before touching any file */
    if (c->store_spec == NULL || c->keyring_path == NULL)
        return c->store_spec == NULL ? open_store(c, &s->store)
                                     : open_keyring(c, &s->kr);
    if ((rc = open_keyring(c, &s->kr)) != 0)
        return rc;
    if ((rc = open_store(c, &s->store)) != 0) {
        session_close(s);
        return rc;
    }
    if ((mrc = mfa_ctx_new(&s->ctx, s->store, s->kr)) != MFA_OK) {
        session_close(s);
        return fail(c, mrc, EXIT_STORE, "context");
    }
    if (c->have_time)
        mfa_ctx_set_clock(s->ctx, fixed_clock, &c->time);
    return 0;
}

static int
want_args(cli *c, int n, const char *names)
{
    if (c->npos < n)
        return usage_error(c, "missing arguments: expected %s", names);
    if (c->npos > n)
        return usage_error(c, "too many arguments: expected %s", names);
    return 0;
}

/*
 * Print the outcome of a verification flow (check, confirm, recover) and
 * return its exit code.  With --json the result object is the output, also
 * on failure; the error text always goes to stderr.
 */
static int
report_result(cli *c, const char *what, mfa_rc rc, const mfa_result *res,
              int show_left)
{
    int code = exit_code_for(rc, EXIT_STORE);

    if (c->json) {
        json_open(NULL, '{');
        json_bool("ok", rc == MFA_OK);
        json_string("outcome", rc == MFA_OK ? "ok" : mfa_strerror_name(rc));
        if (rc != MFA_OK)
            json_string("message", mfa_strerror(rc));
        json_string("factor_id", res->factor_id[0] ? res->factor_id : NULL);
        json_int("offset", res->offset);
        json_int("failures", res->failures);
        json_int("retry_after", res->retry_after);
        if (show_left)
            json_int("backup_codes_left", res->backup_codes_left);
        json_string("device_id", res->device_id[0] ? res->device_id : NULL);
        json_string("device_token",
                    res->device_token[0] ? res->device_token : NULL);
        json_int("exit", code);
        json_close('}');
        json_done();
    }
    if (rc == MFA_ERR_THROTTLED) {
        fprintf(stderr, "mfa: %s: %s (retry in %u s)\n", what, mfa_strerror(rc),
                res->retry_after);
    } else if (rc != MFA_OK) {
        fprintf(stderr, "mfa: %s: %s\n", what, mfa_strerror(rc));
    } else if (!c->json) {
        if (show_left)
            printf("ok: %u backup codes left\n", res->backup_codes_left);
        else
            printf("ok: factor %s, offset %+d\n", res->factor_id, res->offset);
        if (res->device_token[0])
            printf("device-token: %s\n", res->device_token);
    }
    return code;
}

/* --device TOKEN, --label NAME, --remember DAYS of check and recover. */
static int
device_opts(cli *c, mfa_device_opts *o)
{
    int64_t days = 0;

    memset(o, 0, sizeof(*o));
    if (opt_int(c, "remember", 0, 3650, &days) < 0)
        return EXIT_USAGE;
    o->token = opt_str(c, "device");
    o->label = opt_str(c, "label");
    o->remember_days = (uint32_t)days;
    return 0;
}

/* ---- keyring ------------------------------------------------------------- */

int
cmd_keyring(cli *c)
{
    const char *path;
    mfa_rc rc;

    if (c->npos == 0)
        return usage_error(c, "missing subcommand: mfa keyring new FILE");
    if (strcmp(c->pos[0], "new") != 0)
        return usage_error(c, "unknown subcommand 'keyring %s'", c->pos[0]);
    if (c->npos > 2)
        return usage_error(c, "too many arguments");
    path = c->npos == 2 ? c->pos[1] : c->keyring_path;
    if (path == NULL)
        return usage_error(c, "missing FILE: mfa keyring new FILE");
    if ((rc = mfa_keyring_create_file(path)) != MFA_OK)
        return fail(c, rc, EXIT_STORE, "key ring %s", path);
    if (c->json) {
        json_open(NULL, '{');
        json_bool("ok", 1);
        json_string("keyring", path);
        json_close('}');
        json_done();
    } else {
        printf("created key ring %s\n", path);
    }
    return EXIT_OK;
}

/* ---- enroll ----------------------------------------------------------------
 */

int
cmd_enroll(cli *c)
{
    const char *issuer = opt_str(c, "issuer");
    const char *label = opt_str(c, "label");
    const mfa_profile_t *profile = NULL;
    mfa_profile_t *custom = NULL;
    mfa_enrollment_t *e = NULL;
    mfa_qr_t *qr = NULL;
    char *qrtext = NULL;
    int64_t bytes = MFA_SECRET_DEFAULT;
    session s;
    int rc;
    mfa_rc mrc;

    if ((rc = want_args(c, 1, "ACCOUNT")) != 0)
        return rc;
    if (opt_int(c, "bytes", MFA_SECRET_MIN, MFA_SECRET_MAX, &bytes) < 0)
        return EXIT_USAGE;
    if (opt_flag(c, "counter"))
        return usage_error(c, "--counter is not used by enroll");
    if ((rc = choose_profile(c, (size_t)bytes, opt_flag(c, "bytes"), &profile,
                             &custom)) != 0)
        return rc;
    if ((rc = session_open(c, &s)) != 0) {
        mfa_profile_free(&custom);
        return rc;
    }
    if (issuer != NULL && (mrc = mfa_ctx_set_issuer(s.ctx, issuer)) != MFA_OK) {
        rc = fail(c, mrc, EXIT_INPUT, "issuer");
        goto out;
    }
    mrc = mfa_enroll_begin(s.ctx, c->pos[0], label, profile, &e);
    if (mrc != MFA_OK) {
        rc = fail(c, mrc, EXIT_STORE, "enroll %s", c->pos[0]);
        goto out;
    }
    if (!opt_flag(c, "no-qr") && !c->json) {
        mrc = mfa_enrollment_qr(e, &qr);
        if (mrc == MFA_OK)
            mrc = mfa_qr_text(
                qr, opt_flag(c, "invert") ? MFA_QR_TEXT_INVERT : 0, &qrtext);
        if (mrc != MFA_OK) {
            /* the factor is pending and harmless: it expires unconfirmed */
            rc = fail(c, mrc, EXIT_STORE, "QR code");
            goto out;
        }
    }
    if (c->json) {
        json_open(NULL, '{');
        json_bool("ok", 1);
        json_string("account", mfa_enrollment_account(e));
        json_string("issuer", mfa_enrollment_issuer(e));
        json_string("factor_id", mfa_enrollment_factor_id(e));
        json_string("status", "pending");
        json_string("uri", mfa_enrollment_uri(e));
        json_string("secret", mfa_enrollment_secret(e));
        json_string("manual_key", mfa_enrollment_manual_key(e));
        json_close('}');
        json_done();
    } else {
        if (qrtext != NULL) {
            fputs(qrtext, stdout);
            if (qrtext[0] != '\0' && qrtext[strlen(qrtext) - 1] != '\n')
                fputc('\n', stdout);
            printf("\nScan the QR code with the authenticator app, or enter "
                   "this key:\n\n");
        } else {
            printf("Enter this key in the authenticator app:\n\n");
        }
        printf("    %s\n\n", mfa_enrollment_manual_key(e));
        printf("Issuer:  %s\n", mfa_enrollment_issuer(e));
        printf("Account: %s\n", mfa_enrollment_account(e));
        printf("Factor:  %s (pending)\n", mfa_enrollment_factor_id(e));
        printf("Confirm: mfa confirm %s %s CODE\n", mfa_enrollment_account(e),
               mfa_enrollment_factor_id(e));
    }
    rc = EXIT_OK;
out:
    mfa_string_free(&qrtext);
    mfa_qr_free(&qr);
    mfa_enrollment_free(&e);
    mfa_profile_free(&custom);
    session_close(&s);
    return rc;
}

/* ---- verification flows
 * ------------------------------------------------------ */

int
cmd_confirm(cli *c)
{
    mfa_result res;
    session s;
    int rc;
    mfa_rc mrc;

    if ((rc = want_args(c, 3, "ACCOUNT FACTOR CODE")) != 0)
        return rc;
    if ((rc = session_open(c, &s)) != 0)
        return rc;
    memset(&res, 0, sizeof(res));
    mrc = mfa_enroll_confirm(s.ctx, c->pos[0], c->pos[1], c->pos[2], &res);
    if (mrc == MFA_OK && res.factor_id[0] == '\0')
        snprintf(res.factor_id, sizeof(res.factor_id), "%s", c->pos[1]);
    rc = report_result(c, "confirm", mrc, &res, 0);
    session_close(&s);
    return rc;
}

int
cmd_check(cli *c)
{
    mfa_result res;
    session s;
    int rc;
    mfa_rc mrc;

    mfa_device_opts o;

    if ((rc = want_args(c, 2, "ACCOUNT CODE")) != 0)
        return rc;
    if ((rc = device_opts(c, &o)) != 0)
        return rc;
    if ((rc = session_open(c, &s)) != 0)
        return rc;
    memset(&res, 0, sizeof(res));
    mrc = mfa_verify_device(s.ctx, c->pos[0], c->pos[1], &o, &res);
    rc = report_result(c, "check", mrc, &res, 0);
    sodium_memzero(&res, sizeof(res));
    session_close(&s);
    return rc;
}

int
cmd_recover(cli *c)
{
    mfa_result res;
    session s;
    int rc;
    mfa_rc mrc;

    mfa_device_opts o;

    if ((rc = want_args(c, 2, "ACCOUNT BACKUP-CODE")) != 0)
        return rc;
    if ((rc = device_opts(c, &o)) != 0)
        return rc;
    if ((rc = session_open(c, &s)) != 0)
        return rc;
    memset(&res, 0, sizeof(res));
    mrc = mfa_recover_device(s.ctx, c->pos[0], c->pos[1], &o, &res);
    rc = report_result(c, "recover", mrc, &res, 1);
    sodium_memzero(&res, sizeof(res));
    session_close(&s);
    return rc;
}

/* ---- backup codes
 * -------------------------------------------------------------- */

int
cmd_backup_codes(cli *c)
{
    int64_t count = MFA_BACKUP_COUNT_DEFAULT;
    char **codes = NULL;
    size_t left = 0;
    session s;
    int rc;
    mfa_rc mrc;

    if ((rc = want_args(c, 1, "ACCOUNT")) != 0)
        return rc;
    if (opt_int(c, "count", 1, MFA_BACKUP_COUNT_MAX, &count) < 0)
        return EXIT_USAGE;
    if (opt_flag(c, "left") && opt_flag(c, "count"))
        return usage_error(c, "--left and --count exclude each other");
    if ((rc = session_open(c, &s)) != 0)
        return rc;
    if (opt_flag(c, "left")) {
        mrc = mfa_backup_codes_left(s.ctx, c->pos[0], &left);
        if (mrc != MFA_OK) {
            rc = fail(c, mrc, EXIT_STORE, "backup codes of %s", c->pos[0]);
        } else if (c->json) {
            json_open(NULL, '{');
            json_int("backup_codes_left", (int64_t)left);
            json_close('}');
            json_done();
        } else {
            printf("%zu\n", left);
        }
        session_close(&s);
        return rc;
    }
    mrc = mfa_backup_codes_new(s.ctx, c->pos[0], (size_t)count, &codes);
    if (mrc != MFA_OK) {
        rc = fail(c, mrc, EXIT_STORE, "backup codes of %s", c->pos[0]);
        session_close(&s);
        return rc;
    }
    if (c->json) {
        json_open(NULL, '{');
        json_open("codes", '[');
        for (int64_t i = 0; i < count; i++)
            json_string(NULL, codes[i]);
        json_close(']');
        json_close('}');
        json_done();
    } else {
        for (int64_t i = 0; i < count; i++)
            printf("%s\n", codes[i]);
    }
    mfa_backup_codes_free(&codes, (size_t)count);
    session_close(&s);
    return EXIT_OK;
}

/* ---- administration
 * -------------------------------------------------------------- */

int
cmd_list(cli *c)
{
    mfa_factor_info *list = NULL;
    size_t n = 0;
    session s;
    int rc;
    mfa_rc mrc;
    char created[32], confirmed[32], used[32];

    if ((rc = want_args(c, 1, "ACCOUNT")) != 0)
        return rc;
    if ((rc = session_open(c, &s)) != 0)
        return rc;
    mrc = mfa_factors_list(s.ctx, c->pos[0], &list, &n);
    if (mrc != MFA_OK) {
        rc = fail(c, mrc, EXIT_STORE, "factors of %s", c->pos[0]);
        session_close(&s);
        return rc;
    }
    if (c->json) {
        json_open(NULL, '{');
        json_string("account", c->pos[0]);
        json_open("factors", '[');
    } else if (n == 0) {
        printf("%s has no factors\n", c->pos[0]);
    } else {
        printf("%-16s  %-7s  %-4s  %-6s  %-6s  %-6s  %-20s  %-20s  %s\n",
               "FACTOR", "STATUS", "TYPE", "ALG", "DIGITS", "PERIOD", "CREATED",
               "LAST USED", "LABEL");
    }
    for (size_t i = 0; i < n; i++) {
        const mfa_factor_info *f = &list[i];
        const char *status =
            f->status == MFA_FACTOR_ACTIVE ? "active" : "pending";
        const char *type = f->type == MFA_HOTP ? "hotp" : "totp";

        format_time(f->created, created, sizeof(created));
        format_time(f->confirmed, confirmed, sizeof(confirmed));
        format_time(f->last_used, used, sizeof(used));
        if (c->json) {
            json_open(NULL, '{');
            json_string("id", f->id);
            json_string("label", f->label);
            json_string("status", status);
            json_string("type", type);
            json_string("algorithm", mfa_algorithm_name(f->algorithm));
            json_int("digits", f->digits);
            json_int("period", f->period);
            json_int("created", f->created);
            json_int("confirmed", f->confirmed);
            json_int("last_used", f->last_used);
            json_close('}');
        } else {
            printf("%-16s  %-7s  %-4s  %-6s  %-6u  %-6u  %-20s  %-20s  %s\n",
                   f->id, status, type, mfa_algorithm_name(f->algorithm),
                   f->digits, f->period, created, used, f->label);
        }
    }
    if (c->json) {
        json_close(']');
        json_close('}');
        json_done();
    }
    mfa_free(list);
    session_close(&s);
    return EXIT_OK;
}

/* A store operation with no output but "ok". */
static int
simple_done(cli *c, const char *verb, const char *factor)
{
    if (c->json) {
        json_open(NULL, '{');
        json_bool("ok", 1);
        json_close('}');
        json_done();
    } else if (factor != NULL) {
        printf("%s factor %s of %s\n", verb, factor, c->pos[0]);
    } else {
        printf("%s %s\n", verb, c->pos[0]);
    }
    return EXIT_OK;
}

int
cmd_rename(cli *c)
{
    session s;
    int rc;
    mfa_rc mrc;

    if ((rc = want_args(c, 3, "ACCOUNT FACTOR LABEL")) != 0)
        return rc;
    if ((rc = session_open(c, &s)) != 0)
        return rc;
    mrc = mfa_factor_rename(s.ctx, c->pos[0], c->pos[1], c->pos[2]);
    if (mrc != MFA_OK)
        rc = fail(c, mrc, EXIT_STORE, "rename factor %s", c->pos[1]);
    else
        rc = simple_done(c, "renamed", c->pos[1]);
    session_close(&s);
    return rc;
}

int
cmd_remove(cli *c)
{
    session s;
    int rc;
    mfa_rc mrc;

    if ((rc = want_args(c, 2, "ACCOUNT FACTOR")) != 0)
        return rc;
    if ((rc = session_open(c, &s)) != 0)
        return rc;
    mrc = mfa_factor_remove(s.ctx, c->pos[0], c->pos[1]);
    if (mrc != MFA_OK)
        rc = fail(c, mrc, EXIT_STORE, "remove factor %s", c->pos[1]);
    else
        rc = simple_done(c, "removed", c->pos[1]);
    session_close(&s);
    return rc;
}

int
cmd_reset(cli *c)
{
    session s;
    int rc;
    mfa_rc mrc;

    if ((rc = want_args(c, 1, "ACCOUNT")) != 0)
        return rc;
    if ((rc = session_open(c, &s)) != 0)
        return rc;
    mrc = mfa_reset(s.ctx, c->pos[0]);
    if (mrc != MFA_OK)
        rc = fail(c, mrc, EXIT_STORE, "reset %s", c->pos[0]);
    else
        rc = simple_done(c, "reset", NULL);
    session_close(&s);
    return rc;
}

int
cmd_rotate_keys(cli *c)
{
    size_t resealed = 0, skipped = 0;
    uint32_t id = 0;
    session s;
    int rc;
    mfa_rc mrc;

    if ((rc = want_args(c, 0, "no arguments")) != 0)
        return rc;
    if ((rc = session_open(c, &s)) != 0)
        return rc;
    if (!opt_flag(c, "reseal-only")) {
        /* the ring is saved before any secret is resealed with the new
         * key, so a crash never leaves secrets under a key not on disk */
        if ((mrc = mfa_keyring_generate(s.kr, &id)) != MFA_OK ||
            (mrc = mfa_keyring_save(s.kr, c->keyring_path)) != MFA_OK) {
            rc = fail(c, mrc, EXIT_STORE, "key ring %s", c->keyring_path);
            session_close(&s);
            return rc;
        }
    }
    id = mfa_keyring_current(s.kr);
    mrc = mfa_keyring_rotate(s.ctx, &resealed, &skipped);
    if (mrc != MFA_OK) {
        rc = fail(c, mrc, EXIT_STORE,
                  "rotation to key %u stopped (run again with "
                  "--reseal-only)",
                  id);
        session_close(&s);
        return rc;
    }
    if (c->json) {
        json_open(NULL, '{');
        json_bool("ok", 1);
        json_int("key_id", id);
        json_int("resealed", (int64_t)resealed);
        json_int("skipped", (int64_t)skipped);
        json_close('}');
        json_done();
    } else {
        printf("current key %u: %zu secrets resealed, %zu already current\n",
               id, resealed, skipped);
    }
    session_close(&s);
    return EXIT_OK;
}

int
cmd_migrate(cli *c)
{
    mfa_store_t *st = NULL;
    int version = 0, rc;
    mfa_rc mrc;

    if ((rc = want_args(c, 0, "no arguments")) != 0)
        return rc;
    if ((rc = open_store_as(c, &st, 1)) != 0)
        return rc;
    if ((mrc = mfa_store_schema_version(st, &version)) != MFA_OK) {
        rc = fail(c, mrc, EXIT_STORE, "migrate");
        mfa_store_free(&st);
        return rc;
    }
    if (c->json) {
        json_open(NULL, '{');
        json_bool("ok", 1);
        json_string("store", mfa_store_name(st));
        json_int("schema_version", version);
        json_close('}');
        json_done();
    } else {
        printf("%s store at schema version %d\n", mfa_store_name(st), version);
    }
    mfa_store_free(&st);
    return EXIT_OK;
}

/* ---- known devices ------------------------------------------------------- */

int
cmd_device_check(cli *c)
{
    mfa_device_info info;
    char until[32];
    session s;
    int rc;
    mfa_rc mrc;

    if ((rc = want_args(c, 2, "ACCOUNT TOKEN")) != 0)
        return rc;
    if ((rc = session_open(c, &s)) != 0)
        return rc;
    mrc = mfa_device_check(s.ctx, c->pos[0], c->pos[1], &info);
    rc = exit_code_for(mrc, EXIT_STORE);
    format_time(info.trusted_until, until, sizeof(until));
    if (c->json) {
        json_open(NULL, '{');
        json_bool("skip", mrc == MFA_OK);
        json_string("outcome", mrc == MFA_OK ? "ok" : mfa_strerror_name(mrc));
        json_string("device_id", info.id[0] ? info.id : NULL);
        json_int("trusted_until", info.trusted_until);
        json_int("exit", rc);
        json_close('}');
        json_done();
    } else if (mrc == MFA_OK) {
        printf("skip: device %s trusted until %s\n", info.id, until);
    } else if (mrc == MFA_ERR_DEVICE_UNTRUSTED) {
        fprintf(stderr, "mfa: device-check: %s (device %s)\n",
                mfa_strerror(mrc), info.id);
    } else {
        fprintf(stderr, "mfa: device-check: %s\n", mfa_strerror(mrc));
    }
    session_close(&s);
    return rc;
}

int
cmd_devices(cli *c)
{
    mfa_device_info *list = NULL;
    char created[32], seen[32], until[32];
    size_t n = 0;
    session s;
    int rc;
    mfa_rc mrc;

    if ((rc = want_args(c, 1, "ACCOUNT")) != 0)
        return rc;
    if ((rc = session_open(c, &s)) != 0)
        return rc;
    mrc = mfa_devices_list(s.ctx, c->pos[0], &list, &n);
    if (mrc != MFA_OK) {
        rc = fail(c, mrc, EXIT_STORE, "devices of %s", c->pos[0]);
        session_close(&s);
        return rc;
    }
    if (c->json) {
        json_open(NULL, '{');
        json_string("account", c->pos[0]);
        json_open("devices", '[');
    } else if (n == 0) {
        printf("%s has no known devices\n", c->pos[0]);
    } else {
        printf("%-16s  %-20s  %-20s  %-20s  %s\n", "DEVICE", "CREATED",
               "LAST SEEN", "TRUSTED UNTIL", "LABEL");
    }
    for (size_t i = 0; i < n; i++) {
        const mfa_device_info *d = &list[i];

        format_time(d->created, created, sizeof(created));
        format_time(d->last_seen, seen, sizeof(seen));
        format_time(d->trusted_until, until, sizeof(until));
        if (c->json) {
            json_open(NULL, '{');
            json_string("id", d->id);
            json_string("label", d->label);
            json_int("created", d->created);
            json_int("last_seen", d->last_seen);
            json_int("trusted_until", d->trusted_until);
            json_close('}');
        } else {
            printf("%-16s  %-20s  %-20s  %-20s  %s\n", d->id, created, seen,
                   d->trusted_until ? until : "-", d->label);
        }
    }
    if (c->json) {
        json_close(']');
        json_close('}');
        json_done();
    }
    mfa_free(list);
    session_close(&s);
    return EXIT_OK;
}

int
cmd_device_forget(cli *c)
{
    int all = opt_flag(c, "all");
    size_t n = 0;
    session s;
    int rc;
    mfa_rc mrc;

    if ((rc = want_args(c, all ? 1 : 2,
                        all ? "ACCOUNT --all" : "ACCOUNT DEVICE")) != 0)
        return rc;
    if ((rc = session_open(c, &s)) != 0)
        return rc;
    if (all) {
        mrc = mfa_devices_forget_all(s.ctx, c->pos[0], &n);
    } else {
        mrc = mfa_device_forget(s.ctx, c->pos[0], c->pos[1]);
        n = mrc == MFA_OK;
    }
    if (mrc != MFA_OK) {
        rc = fail(c, mrc, EXIT_STORE, "forget devices of %s", c->pos[0]);
    } else if (c->json) {
        json_open(NULL, '{');
        json_bool("ok", 1);
        json_int("forgotten", (int64_t)n);
        json_close('}');
        json_done();
    } else {
        printf("forgot %zu device%s of %s\n", n, n == 1 ? "" : "s", c->pos[0]);
    }
    session_close(&s);
    return rc;
}

int
cmd_gc(cli *c)
{
    size_t removed = 0;
    session s;
    int rc;
    mfa_rc mrc;

    if ((rc = want_args(c, 0, "no arguments")) != 0)
        return rc;
    if ((rc = session_open(c, &s)) != 0)
        return rc;
    mrc = mfa_gc(s.ctx, &removed);
    if (mrc != MFA_OK) {
        rc = fail(c, mrc, EXIT_STORE, "gc");
    } else if (c->json) {
        json_open(NULL, '{');
        json_bool("ok", 1);
        json_int("removed", (int64_t)removed);
        json_close('}');
        json_done();
    } else {
        printf("removed %zu expired rows\n", removed);
    }
    session_close(&s);
    return rc;
}
