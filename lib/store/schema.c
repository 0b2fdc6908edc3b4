/*
 * The schema, once.  Each migration step is a template rendered per
 * dialect:
 *   {T}      a table name's qualifier: "mfa_" (SQLite) or "@." (PostgreSQL)
 *   {N}      the prefix of a bare name (RENAME TO, index names): "mfa_" or ""
 *   {INT}    64-bit integer: INTEGER or bigint
 *   {KEY}    text compared bytewise: TEXT or text COLLATE "C"
 *   {TEXT}   text: TEXT or text
 *   {BLOB}   bytes: BLOB or bytea
 *   {LEN}    length of bytes: length or octet_length
 *   {SEQ}    PostgreSQL's issue-order column (SQLite has its rowid):
 *            "" or "seq bigserial NOT NULL,"
 *   {NOROWID} after a table of small rows read and written by its primary
 *            key only: " WITHOUT ROWID" (SQLite: the key is the table, one
 *            b-tree to write instead of two) or "" (PostgreSQL)
 */
#include <stdlib.h>
#include <string.h>

#include "schema.h"

static const char *const steps[] = {
    /* 0 -> 1: the first schema */
    "CREATE TABLE {T}factor ("
    " id {KEY} NOT NULL PRIMARY KEY CHECK ({LEN}(id) = 16),"
    " account {KEY} NOT NULL,"
    " label {TEXT} NOT NULL,"
    " type {INT} NOT NULL CHECK (type IN (0, 1)),"
    " algorithm {INT} NOT NULL CHECK (algorithm IN (0, 1, 2)),"
    " digits {INT} NOT NULL,"
    " period {INT} NOT NULL,"
    " t0 {INT} NOT NULL,"
    " last_step {INT} NOT NULL,"
    " drift {INT} NOT NULL,"
    " status {INT} NOT NULL CHECK (status IN (0, 1)),"
    " created {INT} NOT NULL,"
    " confirmed {INT} NOT NULL,"
    " last_used {INT} NOT NULL,"
    " sealed {BLOB} NOT NULL);"
    "CREATE INDEX {N}factor_account ON {T}factor (account, created, id);"
    "CREATE INDEX {N}factor_pending ON {T}factor (created) WHERE status = 0;"
    "CREATE TABLE {T}backup_code ("
    " {SEQ}"
    " account {KEY} NOT NULL,"
    " hash {BLOB} NOT NULL CHECK ({LEN}(hash) = 32),"
    " key_id {INT} NOT NULL,"
    " created {INT} NOT NULL,"
    " used {INT},"
    " PRIMARY KEY (account, hash));"
    "CREATE TABLE {T}throttle ("
    " account {KEY} NOT NULL PRIMARY KEY,"
    " failures {INT} NOT NULL,"
    " locked_until {INT} NOT NULL);"
    "CREATE TABLE {T}oob_challenge ("
    " account {KEY} NOT NULL,"
    " purpose {KEY} NOT NULL,"
    " hash {BLOB} NOT NULL CHECK ({LEN}(hash) = 32),"
    " key_id {INT} NOT NULL,"
    " created {INT} NOT NULL,"
    " expires {INT} NOT NULL,"
    " attempts_left {INT} NOT NULL,"
    " PRIMARY KEY (account, purpose))",

    /* 1 -> 2: throttle state per (account, bucket), with the time of the
     * last counted attempt (for expiry); existing rows become the
     * account's "" bucket */
    "CREATE TABLE {T}throttle2 ("
    " account {KEY} NOT NULL,"
    " bucket {KEY} NOT NULL,"
    " failures {INT} NOT NULL CHECK (failures >= 0),"
    " locked_until {INT} NOT NULL,"
    " updated {INT} NOT NULL,"
    " PRIMARY KEY (account, bucket));"
    "INSERT INTO {T}throttle2 (account, bucket, failures, locked_until, "
    "updated) SELECT account, '', failures, locked_until, locked_until FROM "
    "{T}throttle;"
    "DROP TABLE {T}throttle;"
    "ALTER TABLE {T}throttle2 RENAME TO {N}throttle;"
    "CREATE INDEX {N}throttle_updated ON {T}throttle (updated);"
    /* key rotation pages through factors by (account, id) */
    "CREATE INDEX {N}factor_account_id ON {T}factor (account, id)",

    /* 2 -> 3: known devices (mfa/device.h), a keyed hash per device */
    "CREATE TABLE {T}device ("
    " account {KEY} NOT NULL,"
    " id {KEY} NOT NULL CHECK ({LEN}(id) = 16),"
    " label {TEXT} NOT NULL,"
    " hash {BLOB} NOT NULL CHECK ({LEN}(hash) = 32),"
    " key_id {INT} NOT NULL,"
    " created {INT} NOT NULL,"
    " last_seen {INT} NOT NULL,"
    " trusted_until {INT} NOT NULL,"
    /* an account has a few devices: its rows by the key, sorted on read
     * (a second index would cost every login's insert) */
    " PRIMARY KEY (account, id))",

    /* 3 -> 4: passkeys and security keys (mfa/webauthn.h).  A login reads
     * the account's credentials (the index by account), updates one row's
     * sign count and last use (no indexed column: no index entry moves),
     * inserts its spent nonce and deletes the account's expired ones (both
     * by the spent table's key).  credential_id's unique index costs only
     * a registration; nothing has an index on a time. */
    "CREATE TABLE {T}webauthn_credential ("
    " factor_id {KEY} NOT NULL PRIMARY KEY CHECK ({LEN}(factor_id) = 16),"
    " account {KEY} NOT NULL,"
    " label {TEXT} NOT NULL,"
    " credential_id {BLOB} NOT NULL UNIQUE"
    " CHECK ({LEN}(credential_id) BETWEEN 16 AND 1023),"
    " public_key {BLOB} NOT NULL CHECK ({LEN}(public_key) BETWEEN 1 AND 512),"
    " algorithm {INT} NOT NULL CHECK (algorithm IN (-7, -8, -257)),"
    " sign_count {INT} NOT NULL CHECK (sign_count BETWEEN 0 AND 4294967295),"
    " transports {INT} NOT NULL CHECK (transports BETWEEN 0 AND 63),"
    " flags {INT} NOT NULL CHECK (flags BETWEEN 0 AND 255),"
    " aaguid {BLOB} NOT NULL CHECK ({LEN}(aaguid) = 16),"
    " att_format {INT} NOT NULL CHECK (att_format IN (0, 1, 2)),"
    " att_trust {INT} NOT NULL CHECK (att_trust IN (0, 1, 2)),"
    " user_handle {BLOB} NOT NULL CHECK ({LEN}(user_handle) BETWEEN 1 AND 64),"
    " created {INT} NOT NULL CHECK (created >= 0),"
    " last_used {INT} NOT NULL CHECK (last_used >= 0));"
    "CREATE INDEX {N}webauthn_credential_account ON {T}webauthn_credential"
    " (account, created, factor_id);"
    /* one random handle per account, found by handle for a login without
     * a name */
    "CREATE TABLE {T}webauthn_user ("
    " account {KEY} NOT NULL PRIMARY KEY,"
    " handle {BLOB} NOT NULL UNIQUE CHECK ({LEN}(handle) BETWEEN 1 AND 64),"
    " created {INT} NOT NULL CHECK (created >= 0)){NOROWID};"
    /* spent challenge nonces until they expire; the clean-up of every
     * account (mfa_gc) reads the whole table, which holds the logins of
     * one challenge lifetime plus what the last clean-up left */
    "CREATE TABLE {T}webauthn_spent ("
    " account {KEY} NOT NULL,"
    " nonce {BLOB} NOT NULL CHECK ({LEN}(nonce) = 16),"
    " expires {INT} NOT NULL CHECK (expires >= 0),"
    " PRIMARY KEY (account, nonce)){NOROWID}",
};

const char *const mfa_int_schema_tables[] = {
    "factor",        "backup_code",    "throttle",
    "oob_challenge", "device",         "webauthn_credential",
    "webauthn_user", "webauthn_spent", NULL,
};

int
mfa_int_schema_ntables(int version)
{
    /* versions 1 and 2 have the first four; 3 added "device", 4 the
     * three passkey tables */
    if (version >= 1 && version < 3)
        return 4;
    return version == 3 ? 5 : 8;
}

int
mfa_int_schema_steps(void)
{
    return (int)(sizeof(steps) / sizeof(steps[0]));
}

static const char *
token(mfa_int_dialect d, const char *name, size_t n)
{
    static const struct {
        const char *name, *sqlite, *pg;
    } map[] = {
        {"T", "mfa_", "@."},
        {"N", "mfa_", ""},
        {"INT", "INTEGER", "bigint"},
        {"KEY", "TEXT", "text COLLATE \"C\""},
        {"TEXT", "TEXT", "text"},
        {"BLOB", "BLOB", "bytea"},
        {"LEN", "length", "octet_length"},
        {"SEQ", "", "seq bigserial NOT NULL,"},
        {"NOROWID", " WITHOUT ROWID", ""},
    };

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strlen(map[i].name) == n && memcmp(map[i].name, name, n) == 0)
            return d == MFA_DIALECT_SQLITE ? map[i].sqlite : map[i].pg;
    return NULL;
}

/* Render tpl into out (NULL: only measure); the rendered length, or
 * (size_t)-1 for an unknown token. */
static size_t
render(mfa_int_dialect d, const char *tpl, char *out)
{
    size_t len = 0;

    for (const char *p = tpl; *p != '\0';) {
        const char *end, *rep;

        if (*p != '{' || (end = strchr(p, '}')) == NULL) {
            if (out != NULL)
                out[len] = *p;
            len++;
            p++;
            continue;
        }
        rep = token(d, p + 1, (size_t)(end - p - 1));
        if (rep == NULL)
            return (size_t)-1;
        if (out != NULL)
            memcpy(out + len, rep, strlen(rep));
        len += strlen(rep);
        p = end + 1;
    }
    if (out != NULL)
        out[len] = '\0';
    return len;
}

char *
mfa_int_schema_sql(mfa_int_dialect d, int from)
{
    size_t n;
    char *s;

    if (from < 0 || from >= mfa_int_schema_steps())
        return NULL;
    n = render(d, steps[from], NULL);
    if (n == (size_t)-1 || (s = malloc(n + 1)) == NULL)
        return NULL;
    (void)render(d, steps[from], s);
    return s;
}
