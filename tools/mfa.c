/*
 * mfa: make secrets, print QR codes, compute and check codes, inspect key
 * URIs, and administer accounts in a store.  This file holds main, the
 * option parser, help, errors, secret input and JSON output; the commands
 * are in tools/cmd_*.c.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"

/* The account's passkeys and security keys (mfa_webauthn_list): the
 * command lives here, beside the table, as the one passkey command. */
static int cmd_passkeys(cli *c);

/* ---- commands and their help ------------------------------------------ */

#define OTP_OPTS "secret-file= hotp counter= algorithm= digits= period= t0="
#define PROFILE_OPTS "profile= hotp algorithm= digits= period= bytes="

struct command {
    const char *name;
    int (*fn)(cli *c);
    const char *options; /* allowed options; "name=" takes a value */
    const char *help;
};

static const struct command commands[] = {
    {"secret", cmd_secret, "bytes=",
     "Usage: mfa secret [--bytes N]\n"
     "Print a new random secret in base32 (N bytes, 16..64, default 20).\n"},
    {"uri", cmd_uri,
     "issuer= account= " PROFILE_OPTS
     " counter= new explicit image= secret-file= legacy",
     "Usage: mfa uri --issuer I --account A [--new [--bytes N]]\n"
     "               [--profile P | --algorithm ALG --digits N --period S |\n"
     "                --hotp --counter C] [--explicit] [--image URL]\n"
     "               [--secret-file FILE]\n"
     "Print the otpauth:// URI for the base32 secret read from standard\n"
     "input (or FILE), or for a new secret with --new, which also prints\n"
     "the secret's manual-entry form.  Profiles: universal (default),\n"
     "google, microsoft, authy.  --explicit spells out default parameters.\n"},
    {"qr", cmd_qr, "format= output= ecc= scale= invert secret-file=",
     "Usage: mfa qr [--format text|svg|png] [--output FILE] [--ecc L|M|Q|H]\n"
     "              [--scale N] [--invert] [--secret-file FILE] [URI|-]\n"
     "Draw the QR code of URI (default: read from standard input or FILE).\n"
     "text draws it in the terminal with half blocks (--invert for dark\n"
     "text on a light background); png needs --output or a redirected\n"
     "stdout.  "
     "Files are created with mode 0600: the URI holds the secret.\n"},
    {"code", cmd_code, OTP_OPTS,
     "Usage: mfa code [--hotp --counter C] [--algorithm SHA1|SHA256|SHA512]\n"
     "                [--digits N] [--period S] [--t0 T] [--time "
     "UNIX_SECONDS]\n"
     "                [--secret-file FILE]\n"
     "Print only the code for the secret read from standard input (base32\n"
     "or an otpauth:// URI, whose parameters the options override).\n"},
    {"verify", cmd_verify, OTP_OPTS " window=",
     "Usage: mfa verify [code options] [--window PAST:FUTURE] CODE\n"
     "Exit 0 and print the matched offset if CODE verifies for the secret\n"
     "on standard input; exit 1 otherwise.  The window counts time steps\n"
     "(default 1:1, each at most 10); for HOTP, FUTURE is the look-ahead.\n"},
    {"inspect", cmd_inspect, "show-secret secret-file=",
     "Usage: mfa inspect [--show-secret] [--secret-file FILE] [URI|-]\n"
     "Show the fields of a key URI (read from standard input or FILE by\n"
     "default), the parser's warnings and which authenticator apps read it\n"
     "right.  "
     "The secret is hidden unless --show-secret.\n"},
    {"keyring", cmd_keyring, "",
     "Usage: mfa keyring new FILE\n"
     "Create a key ring file (mode 0600) holding one fresh key.  It never\n"
     "overwrites an existing file.\n"},
    {"enroll", cmd_enroll, "label= issuer= invert no-qr " PROFILE_OPTS,
     "Usage: mfa --store S --keyring F enroll ACCOUNT [--label NAME]\n"
     "           [--issuer I] [--profile P] [--no-qr] [--invert]\n"
     "Start enrolling an authenticator: prints the QR code in the terminal,\n"
     "the key for manual entry and the pending factor's id.\n"},
    {"confirm", cmd_confirm, "",
     "Usage: mfa --store S --keyring F confirm ACCOUNT FACTOR CODE\n"
     "Activate a pending factor with the first code from the app.\n"},
    {"import", cmd_import, "format= account=",
     "Usage: mfa --store S --keyring F import --format FORMAT [--account A]\n"
     "           FILE|-\n"
     "Store the factors of another system as active ones, sealed like\n"
     "enrolled ones: google-authenticator (a ~/.google_authenticator file;\n"
     "--account names its user; its scratch codes become backup codes),\n"
     "oath-users (pam_oath's users.oath, every line's user) or uri (one\n"
     "otpauth:// URI a line; --account puts them all on one account).  A\n"
     "file with a bad line imports nothing and names the line.  See\n"
     "docs/migration.md.\n"},
    {"check", cmd_check, "device= remember= label=",
     "Usage: mfa --store S --keyring F check ACCOUNT CODE [--device TOKEN]\n"
     "           [--remember DAYS] [--label NAME]\n"
     "Verify a login code against the account's active factors.  On\n"
     "success prints the device token (a new one, or TOKEN's rotation);\n"
     "--remember lets the device skip the second factor for DAYS days.\n"},
    {"recover", cmd_recover, "device= remember= label=",
     "Usage: mfa --store S --keyring F recover ACCOUNT BACKUP-CODE\n"
     "           [--device TOKEN] [--remember DAYS] [--label NAME]\n"
     "Log in with a backup code (each works once); device token as check.\n"},
    {"backup-codes", cmd_backup_codes, "count= left",
     "Usage: mfa --store S --keyring F backup-codes ACCOUNT [--count N]\n"
     "       mfa --store S --keyring F backup-codes ACCOUNT --left\n"
     "Print a new set of N backup codes (default 10), replacing the old\n"
     "set, or with --left the number of unused codes.\n"},
    {"list", cmd_list, "",
     "Usage: mfa --store S --keyring F list ACCOUNT\n"
     "List the account's factors (no secrets).\n"},
    {"rename", cmd_rename, "",
     "Usage: mfa --store S --keyring F rename ACCOUNT FACTOR LABEL\n"
     "Change a factor's device name.\n"},
    {"remove", cmd_remove, "",
     "Usage: mfa --store S --keyring F remove ACCOUNT FACTOR\n"
     "Remove one factor of the account (an authenticator app, or a passkey\n"
     "by the id `mfa passkeys` shows).\n"},
    {"passkeys", cmd_passkeys, "",
     "Usage: mfa --store S --keyring F passkeys ACCOUNT\n"
     "List the account's passkeys and security keys (no key material):\n"
     "factor id, algorithm, synced or not, sign count, attestation, when\n"
     "added and last used, label.  Rename and remove them by factor id.\n"},
    {"reset", cmd_reset, "",
     "Usage: mfa --store S --keyring F reset ACCOUNT\n"
     "Delete every factor, backup code, challenge and the throttle state\n"
     "of the account.\n"},
    {"rotate-keys", cmd_rotate_keys, "reseal-only",
     "Usage: mfa --store S --keyring F rotate-keys [--reseal-only]\n"
     "Add a new current key to the key ring file, save it, then reseal\n"
     "every stored secret with it.  --reseal-only skips the new key (to\n"
     "finish an interrupted rotation).\n"},
    {"migrate", cmd_migrate, "",
     "Usage: mfa --store S migrate\n"
     "Create or upgrade the store's schema and print its version.\n"},
    {"device-check", cmd_device_check, "",
     "Usage: mfa --store S --keyring F device-check ACCOUNT TOKEN\n"
     "Exit 0 when the device may skip the second factor now, 1 when not.\n"},
    {"devices", cmd_devices, "",
     "Usage: mfa --store S --keyring F devices ACCOUNT\n"
     "List the account's known devices (never their tokens).\n"},
    {"device-forget", cmd_device_forget, "all",
     "Usage: mfa --store S --keyring F device-forget ACCOUNT DEVICE\n"
     "       mfa --store S --keyring F device-forget ACCOUNT --all\n"
     "Forget one known device, or every one of the account.\n"},
    {"gc", cmd_gc, "",
     "Usage: mfa --store S --keyring F gc\n"
     "Remove throttle and device rows of accounts without factors that\n"
     "have been idle for a day, and spent passkey challenges that expired.\n"},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char global_help[] =
    "Usage: mfa [GLOBAL OPTIONS] COMMAND [ARGS]\n"
    "\n"
    "Secrets and codes:\n"
    "  secret [--bytes N]            a new base32 secret\n"
    "  uri --issuer I --account A    the otpauth:// URI of a secret\n"
    "  qr [--format text|svg|png]    the QR code of a URI\n"
    "  code [options]                the current code of a secret\n"
    "  verify [options] CODE         check a code against a secret\n"
    "  inspect [URI|-]               parsed fields and app compatibility\n"
    "\n"
    "Accounts in a store (need --store and --keyring):\n"
    "  keyring new FILE              create a key ring file\n"
    "  enroll ACCOUNT                start enrolling an authenticator\n"
    "  confirm ACCOUNT FACTOR CODE   activate it with its first code\n"
    "  import --format F FILE        factors from google-authenticator,\n"
    "                                pam_oath (oath-users) or URI lists\n"
    "  check ACCOUNT CODE            verify a login code\n"
    "  recover ACCOUNT CODE          log in with a backup code\n"
    "  backup-codes ACCOUNT          a new set of backup codes\n"
    "  list ACCOUNT                  the account's factors\n"
    "  rename ACCOUNT FACTOR LABEL   rename a factor\n"
    "  remove ACCOUNT FACTOR         remove a factor or a passkey\n"
    "  passkeys ACCOUNT              the account's passkeys\n"
    "  reset ACCOUNT                 remove everything of the account\n"
    "  rotate-keys                   new key, reseal every secret\n"
    "  migrate                       create or upgrade the schema\n"
    "  device-check ACCOUNT TOKEN    may this device skip the second factor\n"
    "  devices ACCOUNT               the account's known devices\n"
    "  device-forget ACCOUNT ID      forget a device (--all: every one)\n"
    "  gc                            remove expired throttle and device rows\n"
    "\n"
    "Global options (also accepted after the command):\n"
    "  --store sqlite:PATH | postgres:CONNINFO   (default: $MFA_STORE)\n"
    "  --keyring FILE                            (default: $MFA_KEYRING)\n"
    "  --schema NAME   PostgreSQL schema (default: mfa)\n"
    "  --json          machine-readable output on stdout\n"
    "  --time SECONDS  the current time (Unix seconds), for tests\n"
    "  --help, --version\n"
    "\n"
    "Secrets are read from standard input or --secret-file FILE.\n"
    "Exit status: 0 success, 1 code rejected, 2 usage error, 3 throttled,\n"
    "4 store or key-ring error, 5 bad input data.  See mfa(1).\n";

/* ---- passkeys ----------------------------------------------------------- */

static const char *
alg_name(int32_t alg)
{
    switch (alg) {
    case MFA_WEBAUTHN_ES256:
        return "ES256";
    case MFA_WEBAUTHN_EDDSA:
        return "EdDSA";
    case MFA_WEBAUTHN_RS256:
        return "RS256";
    }
    return "?";
}

static const char *
trust_name(mfa_webauthn_trust t)
{
    switch (t) {
    case MFA_WEBAUTHN_TRUST_NONE:
        return "none";
    case MFA_WEBAUTHN_TRUST_SELF:
        return "self";
    case MFA_WEBAUTHN_TRUST_UNVERIFIED:
        return "unverified";
    }
    return "?";
}

static int
cmd_passkeys(cli *c)
{
    mfa_webauthn_info *list = NULL;
    char created[32], used[32], aaguid[2 * MFA_WEBAUTHN_AAGUID_BYTES + 1];
    size_t n = 0;
    session s;
    mfa_rc mrc;
    int rc;

    if (c->npos != 1)
        return usage_error(c, "%s arguments: expected ACCOUNT",
                           c->npos < 1 ? "missing" : "too many");
    if ((rc = session_open(c, &s)) != 0)
        return rc;
    mrc = mfa_webauthn_list(s.ctx, c->pos[0], &list, &n);
    if (mrc != MFA_OK) {
        rc = fail(c, mrc, EXIT_STORE, "passkeys of %s", c->pos[0]);
        session_close(&s);
        return rc;
    }
    if (c->json) {
        json_open(NULL, '{');
        json_string("account", c->pos[0]);
        json_open("passkeys", '[');
    } else if (n == 0) {
        printf("%s has no passkeys\n", c->pos[0]);
    } else {
        printf("%-16s  %-5s  %-6s  %-10s  %-8s  %-10s  %-20s  %-20s  %s\n",
               "FACTOR", "ALG", "SYNCED", "SIGN COUNT", "FORMAT", "TRUST",
               "CREATED", "LAST USED", "LABEL");
    }
    for (size_t i = 0; i < n; i++) {
        const mfa_webauthn_info *k = &list[i];
        const char *fmt = mfa_webauthn_fmt_name(k->attestation_format);
        int synced = (k->flags & MFA_WEBAUTHN_FLAG_BE) != 0;

        format_time(k->created, created, sizeof(created));
        format_time(k->last_used, used, sizeof(used));
        sodium_bin2hex(aaguid, sizeof(aaguid), k->aaguid, sizeof(k->aaguid));
        if (c->json) {
            json_open(NULL, '{');
            json_string("id", k->factor_id);
            json_string("label", k->label);
            json_string("algorithm", alg_name(k->algorithm));
            json_bool("synced", synced);
            json_bool("backed_up", (k->flags & MFA_WEBAUTHN_FLAG_BS) != 0);
            json_int("sign_count", k->sign_count);
            json_string("attestation", fmt != NULL ? fmt : "?");
            json_string("trust", trust_name(k->attestation_trust));
            json_string("aaguid", aaguid);
            json_int("transports", k->transports);
            json_int("created", k->created);
            json_int("last_used", k->last_used);
            json_close('}');
        } else {
            printf("%-16s  %-5s  %-6s  %-10u  %-8s  %-10s  %-20s  %-20s  %s\n",
                   k->factor_id, alg_name(k->algorithm), synced ? "yes" : "no",
                   (unsigned)k->sign_count, fmt != NULL ? fmt : "?",
                   trust_name(k->attestation_trust), created, used, k->label);
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

/* ---- options ------------------------------------------------------------ */

/* Whether `name` is in the space-separated list; *takes_value set. */
static int
option_allowed(const char *list, const char *name, size_t namelen,
               int *takes_value)
{
    const char *p = list;

    while (*p != '\0') {
        const char *end = strchr(p, ' ');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        int val = len > 0 && p[len - 1] == '=';
        size_t base = val ? len - 1 : len;

        if (base == namelen && strncmp(p, name, namelen) == 0) {
            *takes_value = val;
            return 1;
        }
        if (end == NULL)
            break;
        p = end + 1;
    }
    return 0;
}

static const char global_options[] = "store= keyring= schema= json time= help";

static int
set_global(cli *c, const char *name, const char *value)
{
    if (strcmp(name, "store") == 0)
        c->store_spec = value;
    else if (strcmp(name, "keyring") == 0)
        c->keyring_path = value;
    else if (strcmp(name, "schema") == 0)
        c->pg_schema = value;
    else if (strcmp(name, "json") == 0)
        c->json = 1;
    else if (strcmp(name, "time") == 0) {
        if (parse_int(value, INT64_MIN / 2, INT64_MAX / 2, &c->time) != 0)
            return usage_error(c, "--time: not a number of seconds: %s", value);
        c->have_time = 1;
    }
    return 0;
}

/*
 * Parse argv[i..argc) with the options of `list` and the global ones.
 * Returns 0, or an exit code after reporting.  *help is set for --help.
 */
static int
parse_args(cli *c, int argc, char **argv, int i, const char *list,
           int stop_at_positional, int *next, int *help)
{
    int only_pos = 0;

    for (; i < argc; i++) {
        const char *a = argv[i];
        const char *name, *eq, *value = NULL;
        size_t namelen;
        int takes = 0, global = 0;

        if (only_pos || a[0] != '-' || strcmp(a, "-") == 0) {
            if (stop_at_positional)
                break;
            if (c->npos == CLI_MAX_POS)
                return usage_error(c, "too many arguments");
            c->pos[c->npos++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (strcmp(a, "-h") == 0) {
            *help = 1;
            continue;
        }
        if (a[1] != '-')
            return usage_error(c, "unknown option %s", a);
        name = a + 2;
        eq = strchr(name, '=');
        namelen = eq ? (size_t)(eq - name) : strlen(name);
        if (option_allowed(global_options, name, namelen, &takes))
            global = 1;
        else if (!option_allowed(list, name, namelen, &takes))
            return usage_error(c, "unknown option --%.*s", (int)namelen, name);
        if (takes) {
            if (eq)
                value = eq + 1;
            else if (i + 1 < argc)
                value = argv[++i];
            else
                return usage_error(c, "option --%.*s needs a value",
                                   (int)namelen, name);
        } else if (eq) {
            return usage_error(c, "option --%.*s takes no value", (int)namelen,
                               name);
        }
        if (global) {
            int rc;
            char gname[16];

            snprintf(gname, sizeof(gname), "%.*s", (int)namelen, name);
            if (strcmp(gname, "help") == 0) {
                *help = 1;
                continue;
            }
            if ((rc = set_global(c, gname, value)) != 0)
                return rc;
            continue;
        }
        if (c->nopts == CLI_MAX_OPTS)
            return usage_error(c, "too many options");
        /* the name is not NUL-terminated when written --name=value */
        c->names[c->nopts] = name;
        c->values[c->nopts] = value;
        c->nopts++;
    }
    *next = i;
    return 0;
}

static int
name_matches(const char *stored, const char *name)
{
    size_t n = strlen(name);
    return strncmp(stored, name, n) == 0 &&
           (stored[n] == '\0' || stored[n] == '=');
}

int
opt_flag(const cli *c, const char *name)
{
    for (int i = 0; i < c->nopts; i++)
        if (name_matches(c->names[i], name))
            return 1;
    return 0;
}

const char *
opt_str(const cli *c, const char *name)
{
    const char *v = NULL;

    /* the last occurrence wins, as with most tools */
    for (int i = 0; i < c->nopts; i++)
        if (name_matches(c->names[i], name))
            v = c->values[i];
    return v;
}

int
parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    long long v;

    if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = (int64_t)v;
    return 0;
}

int
opt_int(const cli *c, const char *name, int64_t min, int64_t max, int64_t *out)
{
    const char *v = opt_str(c, name);

    if (!opt_flag(c, name))
        return 0;
    if (parse_int(v, min, max, out) != 0) {
        usage_error(c, "--%s must be a whole number from %lld to %lld", name,
                    (long long)min, (long long)max);
        return -1;
    }
    return 1;
}

/* ---- errors ------------------------------------------------------------- */

static void
json_error(const cli *c, const char *name, const char *message, int code)
{
    if (!c->json)
        return;
    json_open(NULL, '{');
    json_bool("ok", 0);
    json_string("error", name);
    json_string("message", message);
    json_int("exit", code);
    json_close('}');
    json_done();
}

int
usage_error(const cli *c, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "mfa: %s\n", msg);
    if (c->command)
        fprintf(stderr, "Try 'mfa %s --help'.\n", c->command);
    else
        fprintf(stderr, "Try 'mfa --help'.\n");
    json_error(c, "usage", msg, EXIT_USAGE);
    return EXIT_USAGE;
}

int
exit_code_for(mfa_rc rc, int fallback)
{
    switch (rc) {
    case MFA_OK:
        return EXIT_OK;
    case MFA_ERR_CODE_WRONG:
    case MFA_ERR_REPLAYED:
    case MFA_ERR_DEVICE_UNKNOWN:
    case MFA_ERR_DEVICE_UNTRUSTED:
    case MFA_ERR_EXPIRED:
    case MFA_ERR_ATTEMPTS:
    case MFA_ERR_NO_CODES:
        return EXIT_REJECTED;
    case MFA_ERR_THROTTLED:
        return EXIT_THROTTLED;
    case MFA_ERR_KEYRING_FORMAT:
    case MFA_ERR_KEYRING_PERMS:
    case MFA_ERR_KEYRING_OWNER:
    case MFA_ERR_KEYRING_WRITABLE:
    case MFA_ERR_KEYRING_EMPTY:
    case MFA_ERR_KEY_UNKNOWN:
    case MFA_ERR_SEALED_FORMAT:
    case MFA_ERR_SEALED_AUTH:
    case MFA_ERR_KEY_EXISTS:
    case MFA_ERR_STORE:
    case MFA_ERR_NOT_FOUND:
    case MFA_ERR_EXISTS:
    case MFA_ERR_SCHEMA:
    case MFA_ERR_STATE:
    case MFA_ERR_NO_FACTOR:
    case MFA_ERR_BUSY:
    case MFA_ERR_CORRUPT:
    case MFA_ERR_READONLY:
    case MFA_ERR_NOMEM:
    case MFA_ERR_INTERNAL:
    case MFA_ERR_UNSUPPORTED:
        return EXIT_STORE;
    case MFA_ERR_IO:
        return fallback;
    case MFA_ERR_CODE_FORMAT: /* malformed: refused before it is counted */
    case MFA_ERR_BACKUP_FORMAT:
    case MFA_ERR_DEVICE_FORMAT:
        return EXIT_INPUT;
    default:
        /* base32, secret sizes, URI and text-field errors, parameters */
        return rc >= -89 ? EXIT_INPUT : fallback;
    }
}

int
fail(const cli *c, mfa_rc rc, int fallback, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    int code = exit_code_for(rc, fallback);

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "mfa: %s: %s\n", msg, mfa_strerror(rc));
    if (c->json) {
        char full[700];

        snprintf(full, sizeof(full), "%s: %s", msg, mfa_strerror(rc));
        json_error(c, mfa_strerror_name(rc), full, code);
    }
    return code;
}

/* ---- secret input -------------------------------------------------------- */

#define SECRET_INPUT_MAX 8192

char *
secure_strdup(const char *s)
{
    size_t n = strlen(s);
    char *p = sodium_malloc(n + 1);

    if (p != NULL)
        memcpy(p, s, n + 1);
    return p;
}

void
secure_free(char **p)
{
    if (p == NULL || *p == NULL)
        return;
    sodium_free(*p); /* sodium_free wipes before unmapping */
    *p = NULL;
}

static int
read_fd_secure(const cli *c, int fd, const char *source, char **out)
{
    char *buf = sodium_malloc(SECRET_INPUT_MAX + 1);
    size_t len = 0;

    if (buf == NULL)
        return fail(c, MFA_ERR_NOMEM, EXIT_STORE, "reading %s", source);
    for (;;) {
        ssize_t n = read(fd, buf + len, SECRET_INPUT_MAX + 1 - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "mfa: %s: %s\n", source, strerror(errno));
            sodium_free(buf);
            json_error(c, "io", "cannot read input", EXIT_INPUT);
            return EXIT_INPUT;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > SECRET_INPUT_MAX) {
            sodium_free(buf);
            fprintf(stderr, "mfa: %s: input longer than %d bytes\n", source,
                    SECRET_INPUT_MAX);
            json_error(c, "input", "input too long", EXIT_INPUT);
            return EXIT_INPUT;
        }
        /* a terminal delivers one line per read: stop there */
        if (isatty(fd) && buf[len - 1] == '\n')
            break;
    }
    buf[len] = '\0';
    if (memchr(buf, '\0', len) != NULL) {
        sodium_free(buf);
        fprintf(stderr, "mfa: %s: input contains a NUL byte\n", source);
        json_error(c, "input", "input contains a NUL byte", EXIT_INPUT);
        return EXIT_INPUT;
    }
    while (len > 0 && isspace((unsigned char)buf[len - 1]))
        buf[--len] = '\0';
    if (len == 0) {
        sodium_free(buf);
        fprintf(stderr, "mfa: %s: no input\n", source);
        json_error(c, "input", "no input", EXIT_INPUT);
        return EXIT_INPUT;
    }
    *out = buf;
    return 0;
}

static int
read_stdin_secret(const cli *c, const char *what, char **out)
{
    struct termios old, quiet;
    int restore = 0, rc;

    if (isatty(STDIN_FILENO)) {
        /* echo off before the prompt, so nothing typed after it shows */
        if (tcgetattr(STDIN_FILENO, &old) == 0) {
            quiet = old;
            quiet.c_lflag &= ~(tcflag_t)ECHO;
            restore = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
        }
        fprintf(stderr, "%s: ", what);
        fflush(stderr);
    }
    rc = read_fd_secure(c, STDIN_FILENO, "standard input", out);
    if (restore) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    return rc;
}

int
read_secret_text(const cli *c, const char *what, char **out)
{
    const char *path = opt_str(c, "secret-file");
    int fd, rc;

    if (path == NULL || strcmp(path, "-") == 0)
        return read_stdin_secret(c, what, out);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        char msg[600];

        snprintf(msg, sizeof(msg), "%s: %s", path, strerror(errno));
        fprintf(stderr, "mfa: %s\n", msg);
        json_error(c, "io", msg, EXIT_INPUT);
        return EXIT_INPUT;
    }
    rc = read_fd_secure(c, fd, path, out);
    close(fd);
    return rc;
}

int
read_arg_or_input(const cli *c, const char *arg, const char *what, char **out)
{
    if (arg != NULL && strcmp(arg, "-") != 0) {
        if (opt_flag(c, "secret-file"))
            return usage_error(c,
                               "give the %s as an argument or with "
                               "--secret-file, not both",
                               what);
        if ((*out = secure_strdup(arg)) == NULL)
            return fail(c, MFA_ERR_NOMEM, EXIT_STORE, "%s", what);
        return 0;
    }
    return read_secret_text(c, what, out);
}

/* ---- JSON ---------------------------------------------------------------- */

static int json_depth;
static int json_first[16];

static void
json_sep(void)
{
    if (json_depth > 0) {
        if (!json_first[json_depth])
            fputc(',', stdout);
        json_first[json_depth] = 0;
    }
}

static void
json_put_string(const char *s)
{
    fputc('"', stdout);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", stdout);
        else if (*p < 0x20 || *p == 0x7f)
            printf("\\u%04x", *p);
        else
            fputc(*p, stdout);
    }
    fputc('"', stdout);
}

void
json_key(const char *key)
{
    json_sep();
    if (key != NULL) {
        json_put_string(key);
        fputc(':', stdout);
    }
}

void
json_open(const char *key, char brace)
{
    if (key != NULL)
        json_key(key);
    else
        json_sep();
    fputc(brace, stdout);
    if (json_depth < 15)
        json_depth++;
    json_first[json_depth] = 1;
}

void
json_close(char brace)
{
    fputc(brace, stdout);
    if (json_depth > 0)
        json_depth--;
}

void
json_string(const char *key, const char *value)
{
    json_key(key);
    if (value == NULL)
        fputs("null", stdout);
    else
        json_put_string(value);
}

void
json_int(const char *key, int64_t value)
{
    json_key(key);
    printf("%lld", (long long)value);
}

void
json_bool(const char *key, int value)
{
    json_key(key);
    fputs(value ? "true" : "false", stdout);
}

void
json_done(void)
{
    fputc('\n', stdout);
    json_depth = 0;
}

void
format_time(int64_t t, char *buf, size_t size)
{
    struct tm tm;
    time_t tt = (time_t)t;

    if (t == 0 || gmtime_r(&tt, &tm) == NULL) {
        snprintf(buf, size, "never");
        return;
    }
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- profiles --------------------------------------------------------------
 */

int
choose_profile(const cli *c, size_t secret_bytes, int force_custom,
               const mfa_profile_t **profile, mfa_profile_t **custom)
{
    const char *pname = opt_str(c, "profile");
    const char *alg_name = opt_str(c, "algorithm");
    const mfa_profile_t *base = mfa_profile_default();
    mfa_algorithm alg;
    int64_t digits, period;
    mfa_rc rc;

    *custom = NULL;
    if (pname != NULL && mfa_profile_get(pname, &base) != MFA_OK)
        return usage_error(c,
                           "unknown profile '%s' (universal, google, "
                           "microsoft, authy)",
                           pname);
    *profile = base;
    if (!force_custom && !opt_flag(c, "hotp") && alg_name == NULL &&
        !opt_flag(c, "digits") && !opt_flag(c, "period"))
        return 0;

    alg = mfa_profile_algorithm(base);
    digits = mfa_profile_digits(base);
    period = mfa_profile_period(base);
    if (alg_name != NULL) {
        char up[16];
        size_t i;

        for (i = 0; alg_name[i] != '\0' && i + 1 < sizeof(up); i++)
            up[i] = (char)toupper((unsigned char)alg_name[i]);
        up[i] = '\0';
        if (mfa_algorithm_from_name(up, &alg) != MFA_OK)
            return usage_error(c, "--algorithm must be SHA1, SHA256 or "
                                  "SHA512");
    }
    if (opt_int(c, "digits", MFA_DIGITS_MIN, MFA_DIGITS_MAX, &digits) < 0 ||
        opt_int(c, "period", 1, MFA_PERIOD_MAX, &period) < 0)
        return EXIT_USAGE;
    rc = mfa_profile_custom_new(
        custom, opt_flag(c, "hotp") ? MFA_HOTP : mfa_profile_type(base), alg,
        (unsigned)digits, (uint32_t)period, secret_bytes);
    if (rc != MFA_OK)
        return fail(c, rc, EXIT_USAGE, "profile");
    *profile = *custom;
    return 0;
}

/* ---- main ---------------------------------------------------------------- */

int
main(int argc, char **argv)
{
    cli c;
    const struct command *cmd = NULL;
    int next = 1, help = 0, rc;

    memset(&c, 0, sizeof(c));
    c.store_spec = getenv("MFA_STORE");
    c.keyring_path = getenv("MFA_KEYRING");

    /* global options before the command; --version only here */
    if ((rc = parse_args(&c, argc, argv, 1, "version", 1, &next, &help)) != 0)
        return rc;
    if (opt_flag(&c, "version")) {
        printf("mfa (libmfa) %s\n", mfa_version());
        return EXIT_OK;
    }
    c.nopts = 0;
    if (next >= argc) {
        if (help) {
            fputs(global_help, stdout);
            return EXIT_OK;
        }
        fputs(global_help, stderr);
        return EXIT_USAGE;
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, argv[next]) == 0)
            cmd = &commands[i];
    if (cmd == NULL && strcmp(argv[next], "help") == 0) {
        if (next + 1 >= argc) {
            fputs(global_help, stdout);
            return EXIT_OK;
        }
        for (size_t i = 0; i < NCOMMANDS; i++)
            if (strcmp(commands[i].name, argv[next + 1]) == 0) {
                fputs(commands[i].help, stdout);
                return EXIT_OK;
            }
    }
    if (cmd == NULL)
        return usage_error(&c, "unknown command '%s'", argv[next]);
    c.command = cmd->name;
    if (help) {
        fputs(cmd->help, stdout);
        return EXIT_OK;
    }
    if ((rc = parse_args(&c, argc, argv, next + 1, cmd->options, 0, &next,
                         &help)) != 0)
        return rc;
    if (help) {
        fputs(cmd->help, stdout);
        return EXIT_OK;
    }
    if (mfa_init() != MFA_OK) {
        fprintf(stderr, "mfa: cannot initialise libmfa\n");
        return EXIT_STORE;
    }
    rc = cmd->fn(&c);
    fflush(stdout);
    if (ferror(stdout)) {
        fprintf(stderr, "mfa: error writing output\n");
        return rc == 0 ? EXIT_STORE : rc;
    }
    return rc;
}
