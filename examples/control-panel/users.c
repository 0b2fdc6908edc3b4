/*
 * The application's own users table (SQLite): names, Argon2id password
 * hashes (libsodium crypto_pwhash_str), the administrator flag and the
 * backup phone number.  MFA data lives in libmfa's store, not here.
 */
#include "cp.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cp_users {
    sqlite3 *db;
    /* Hash checked when the user name is unknown, so that a login for a
     * missing user costs the same time as one for an existing user. */
    char dummy[crypto_pwhash_STRBYTES];
};

static const char schema[] = "CREATE TABLE IF NOT EXISTS users ("
                             " name TEXT PRIMARY KEY,"
                             " pwhash TEXT NOT NULL,"
                             " is_admin INTEGER NOT NULL DEFAULT 0,"
                             " phone TEXT NOT NULL DEFAULT '',"
                             " phone_pending TEXT NOT NULL DEFAULT '',"
                             " created INTEGER NOT NULL)";

int
cp_users_open(cp_users **out, const char *path)
{
    cp_users *u = calloc(1, sizeof *u);
    if (!u)
        return -1;
    if (sqlite3_open_v2(path, &u->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                            SQLITE_OPEN_FULLMUTEX,
                        NULL) != SQLITE_OK ||
        sqlite3_busy_timeout(u->db, 5000) != SQLITE_OK ||
        sqlite3_exec(u->db, schema, NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "users: %s: %s\n", path,
                u->db ? sqlite3_errmsg(u->db) : "cannot open");
        sqlite3_close(u->db);
        free(u);
        return -1;
    }
    char pw[33];
    randombytes_buf(pw, sizeof pw - 1);
    for (size_t i = 0; i < sizeof pw - 1; i++)
        pw[i] = (char)('a' + (unsigned char)pw[i] % 26);
    pw[sizeof pw - 1] = '\0';
    if (crypto_pwhash_str(u->dummy, pw, strlen(pw),
                          crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        sqlite3_close(u->db);
        free(u);
        return -1;
    }
    sodium_memzero(pw, sizeof pw);
    *out = u;
    return 0;
}

void
cp_users_close(cp_users **u)
{
    if (!u || !*u)
        return;
    sqlite3_close((*u)->db);
    free(*u);
    *u = NULL;
}

static int
hash_password(const char *password, char out[crypto_pwhash_STRBYTES])
{
    return crypto_pwhash_str(out, password, strlen(password),
                             crypto_pwhash_OPSLIMIT_INTERACTIVE,
                             crypto_pwhash_MEMLIMIT_INTERACTIVE);
}

int
cp_users_create(cp_users *u, const char *name, const char *password,
                int is_admin)
{
    char h[crypto_pwhash_STRBYTES];
    if (hash_password(password, h) != 0)
        return -1;
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(u->db,
                           "INSERT INTO users(name, pwhash, is_admin, created)"
                           " VALUES(?1, ?2, ?3, ?4)",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, h, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, is_admin);
    sqlite3_bind_int64(st, 4, cp_now());
    int s = sqlite3_step(st);
    if (s == SQLITE_DONE)
        rc = 0;
    else if (s == SQLITE_CONSTRAINT)
        rc = 1;
    sqlite3_finalize(st);
    return rc;
}

int
cp_users_set_password(cp_users *u, const char *name, const char *password,
                      int is_admin)
{
    char h[crypto_pwhash_STRBYTES];
    if (hash_password(password, h) != 0)
        return -1;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(
            u->db,
            "INSERT INTO users(name, pwhash, is_admin, created)"
            " VALUES(?1, ?2, ?3, ?4) ON CONFLICT(name) DO UPDATE SET"
            " pwhash = excluded.pwhash, is_admin = excluded.is_admin",
            -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, h, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, is_admin);
    sqlite3_bind_int64(st, 4, cp_now());
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    return rc;
}

static void
copy_col(sqlite3_stmt *st, int col, char *out, size_t size)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(out, size, "%s", t ? (const char *)t : "");
}

static void
row_to_user(sqlite3_stmt *st, cp_user *out)
{
    memset(out, 0, sizeof *out);
    copy_col(st, 0, out->name, sizeof out->name);
    out->is_admin = sqlite3_column_int(st, 1);
    copy_col(st, 2, out->phone, sizeof out->phone);
    copy_col(st, 3, out->phone_pending, sizeof out->phone_pending);
}

int
cp_users_login(cp_users *u, const char *name, const char *password,
               cp_user *out)
{
    sqlite3_stmt *st = NULL;
    char h[crypto_pwhash_STRBYTES];
    int found = 0;
    if (sqlite3_prepare_v2(u->db,
                           "SELECT name, is_admin, phone, phone_pending, pwhash"
                           " FROM users WHERE name = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        row_to_user(st, out);
        copy_col(st, 4, h, sizeof h);
        found = 1;
    } else if (s != SQLITE_DONE) {
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    if (!found)
        memcpy(h, u->dummy, sizeof h);
    int ok = crypto_pwhash_str_verify(h, password, strlen(password)) == 0;
    return found && ok ? 0 : 1;
}

int
cp_users_get(cp_users *u, const char *name, cp_user *out)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(u->db,
                           "SELECT name, is_admin, phone, phone_pending"
                           " FROM users WHERE name = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int s = sqlite3_step(st), rc = -1;
    if (s == SQLITE_ROW) {
        row_to_user(st, out);
        rc = 0;
    } else if (s == SQLITE_DONE) {
        rc = 1;
    }
    sqlite3_finalize(st);
    return rc;
}

static int
exec2(cp_users *u, const char *sql, const char *a, const char *b)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(u->db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
    if (b)
        sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    return rc;
}

int
cp_users_set_phone_pending(cp_users *u, const char *name, const char *phone)
{
    return exec2(u, "UPDATE users SET phone_pending = ?2 WHERE name = ?1", name,
                 phone);
}

int
cp_users_confirm_phone(cp_users *u, const char *name)
{
    return exec2(u,
                 "UPDATE users SET phone = phone_pending, phone_pending = ''"
                 " WHERE name = ?1 AND phone_pending <> ''",
                 name, NULL);
}

int
cp_users_clear_phone(cp_users *u, const char *name)
{
    return exec2(u,
                 "UPDATE users SET phone = '', phone_pending = ''"
                 " WHERE name = ?1",
                 name, NULL);
}

int
cp_users_each(cp_users *u, cp_user_fn fn, void *arg)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(u->db,
                           "SELECT name, is_admin, phone, phone_pending"
                           " FROM users ORDER BY name",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        cp_user user;
        row_to_user(st, &user);
        fn(&user, arg);
    }
    sqlite3_finalize(st);
    return s == SQLITE_DONE ? 0 : -1;
}

int
cp_valid_username(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > CP_USER_MAX || !isalnum((unsigned char)s[0]))
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int
cp_valid_phone(const char *s)
{
    size_t n = strlen(s), digits = 0;
    if (n < 6 || n > CP_PHONE_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9')
            digits++;
        else if (!(c == ' ' || c == '-' || c == '(' || c == ')' ||
                   (c == '+' && i == 0)))
            return 0;
    }
    return digits >= 6 && digits <= 15;
}
