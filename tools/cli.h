/*
 * mfa: the command-line tool.  Declarations shared by tools/mfa.c (option
 * parsing, output, errors, secret input) and the tools/cmd_*.c commands.
 * Nothing here is part of the library.
 */
#ifndef MFA_TOOL_CLI_H
#define MFA_TOOL_CLI_H

#include <stdint.h>
#include <stdio.h>

#include <mfa.h>

/* Exit codes (documented in mfa(1)); distinct so scripts can branch. */
enum {
    EXIT_OK = 0,
    EXIT_REJECTED = 1, /* a code or backup code was not accepted */
    EXIT_USAGE = 2,    /* wrong command line */
    EXIT_THROTTLED = 3,
    EXIT_STORE = 4, /* store, key ring or other system failure */
    EXIT_INPUT = 5, /* bad input data: secret, URI, file */
};

#define CLI_MAX_OPTS 32
#define CLI_MAX_POS 8

/* The parsed command line of one command. */
typedef struct cli {
    const char *command;      /* "secret", "keyring", ... */
    const char *store_spec;   /* --store or $MFA_STORE */
    const char *keyring_path; /* --keyring or $MFA_KEYRING */
    const char *pg_schema;    /* --schema: PostgreSQL schema, default mfa */
    int json;
    int have_time;
    int64_t time; /* --time, for `code`, `verify` and the service clock */
    const char *names[CLI_MAX_OPTS];
    const char *values[CLI_MAX_OPTS]; /* NULL for flags */
    int nopts;
    const char *pos[CLI_MAX_POS];
    int npos;
} cli;

/* Options: present, value (NULL when absent), parsed numbers. */
int opt_flag(const cli *c, const char *name);
const char *opt_str(const cli *c, const char *name);
/*
 * Parse --name as an integer in [min, max] into *out.  Returns 0 when
 * absent (out untouched), 1 when parsed, -1 after reporting a usage error.
 */
int opt_int(const cli *c, const char *name, int64_t min, int64_t max,
            int64_t *out);
int parse_int(const char *s, int64_t min, int64_t max, int64_t *out);

/* Errors.  Each prints "mfa: ..." on stderr and returns the exit code. */
int usage_error(const cli *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int fail(const cli *c, mfa_rc rc, int fallback, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* --name as an HOTP counter, 0..2^64-1 (cmd_otp.c): 0 when absent, 1 when
 * parsed, -1 after a usage error; and a counter in --json, unsigned. */
int opt_counter(const cli *c, const char *name, uint64_t *out);
void json_counter(const char *key, uint64_t v);
/* The exit code for rc; `fallback` for codes without a fixed class. */
int exit_code_for(mfa_rc rc, int fallback);

/*
 * Secret-bearing text from --secret-file FILE, or stdin ('-' or no
 * option), in sodium_malloc'ed memory with trailing whitespace removed.
 * Prompts without echo when stdin is a terminal.  Free with secure_free.
 */
int read_secret_text(const cli *c, const char *what, char **out);
/* Same, but from positional argument `arg` when it is present and not "-". */
int read_arg_or_input(const cli *c, const char *arg, const char *what,
                      char **out);
char *secure_strdup(const char *s);
void secure_free(char **p);

/* A minimal JSON writer on stdout. */
/* '{' or '['; key names it inside an object, NULL elsewhere. */
void json_open(const char *key, char brace);
void json_close(char brace);    /* '}' or ']' */
void json_key(const char *key); /* before a value inside an object */
void json_string(const char *key, const char *value); /* NULL -> null */
void json_int(const char *key, int64_t value);
void json_bool(const char *key, int value);
void json_done(void); /* newline after the top-level value */

/* "2026-11-28T19:49:03Z", or "never" for 0. */
void format_time(int64_t t, char *buf, size_t size);

/*
 * The profile chosen by --profile / --hotp / --algorithm / --digits /
 * --period (or always a custom one with force_custom); *custom is set when one
 * was built (free with mfa_profile_free).  secret_bytes is the secret size of a
 * custom profile.
 */
int choose_profile(const cli *c, size_t secret_bytes, int force_custom,
                   const mfa_profile_t **profile, mfa_profile_t **custom);

/*
 * The store, key ring and ctx of --store and --keyring (cmd_store.c), with
 * --time as the clock; on error it has reported and returns the exit code.
 */
typedef struct session {
    mfa_store_t *store;
    mfa_keyring_t *kr;
    mfa_ctx_t *ctx;
} session;
int session_open(cli *c, session *s);
void session_close(session *s);

/* Commands; each returns an exit code. */
int cmd_secret(cli *c);
int cmd_code(cli *c);
int cmd_verify(cli *c);
int cmd_uri(cli *c);
int cmd_qr(cli *c);
int cmd_inspect(cli *c);
int cmd_keyring(cli *c);
int cmd_enroll(cli *c);
int cmd_confirm(cli *c);
int cmd_check(cli *c);
int cmd_recover(cli *c);
int cmd_backup_codes(cli *c);
int cmd_list(cli *c);
int cmd_rename(cli *c);
int cmd_remove(cli *c);
int cmd_reset(cli *c);
int cmd_rotate_keys(cli *c);
int cmd_migrate(cli *c);
int cmd_import(cli *c);
int cmd_device_check(cli *c);
int cmd_devices(cli *c);
int cmd_device_forget(cli *c);
int cmd_gc(cli *c);

#endif /* MFA_TOOL_CLI_H */
