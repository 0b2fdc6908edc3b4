/*
 * The SQLite store, the embedded default.
 *
 * One connection per store handle, serialised by a mutex: threads of a
 * process share the handle, processes open their own.  Atomicity against
 * other connections comes from SQLite itself:
 * - compare-and-set operations are single statements (UPDATE ... WHERE
 *   last_step < ?, UPDATE ... WHERE used IS NULL, DELETE ... WHERE hash = ?)
 *   whose changes() tells who won;
 * - read-modify-write operations (throttle, out-of-band take, code set
 *   replacement, account reset, migration) run in BEGIN IMMEDIATE, which
 *   takes the write lock before the first read, so no other writer can slip
 *   in between and no snapshot upgrade can fail halfway.
 * The journal is WAL (readers never block the writer), synchronous=FULL
 * (a spent code stays spent across a power cut; docs/stores.md says why),
 * with a busy handler that waits up to the timeout (5 s) and then reports
 * MFA_ERR_BUSY.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <sqlite3.h>

#include <mfa/store.h>

#include "store_int.h"

#define SQ_TIMEOUT_MS 5000
#define SQ_PAGE 256 /* factors per page of factor_each */

/*
 * The schema, version by version: migration[i] takes the database from
 * version i to i + 1.  The same tables and columns as the PostgreSQL store
 * (which keeps them in a schema of its own instead of the mfa_ prefix);
 * docs/stores.md shows them.
 */
static const char *const migration[] = {
    /* 0 -> 1 */
    "CREATE TABLE mfa_factor ("
    " id TEXT NOT NULL PRIMARY KEY CHECK (length(id) = 16),"
    " account TEXT NOT NULL,"
    " label TEXT NOT NULL,"
    " type INTEGER NOT NULL CHECK (type IN (0, 1)),"
    " algorithm INTEGER NOT NULL CHECK (algorithm IN (0, 1, 2)),"
    " digits INTEGER NOT NULL,"
    " period INTEGER NOT NULL,"
    " t0 INTEGER NOT NULL,"
    " last_step INTEGER NOT NULL,"
    " drift INTEGER NOT NULL,"
    " status INTEGER NOT NULL CHECK (status IN (0, 1)),"
    " created INTEGER NOT NULL,"
    " confirmed INTEGER NOT NULL,"
    " last_used INTEGER NOT NULL,"
    " sealed BLOB NOT NULL);"
    "CREATE INDEX mfa_factor_account ON mfa_factor (account, created, id);"
    "CREATE INDEX mfa_factor_pending ON mfa_factor (created) WHERE status = 0;"
    "CREATE TABLE mfa_backup_code ("
    " account TEXT NOT NULL,"
    " hash BLOB NOT NULL CHECK (length(hash) = 32),"
    " key_id INTEGER NOT NULL,"
    " created INTEGER NOT NULL,"
    " used INTEGER," /* NULL while unused */
    " PRIMARY KEY (account, hash));"
    "CREATE TABLE mfa_throttle ("
    " account TEXT NOT NULL PRIMARY KEY,"
    " failures INTEGER NOT NULL,"
    " locked_until INTEGER NOT NULL);"
    "CREATE TABLE mfa_oob_challenge ("
    " account TEXT NOT NULL,"
    " purpose TEXT NOT NULL,"
    " hash BLOB NOT NULL CHECK (length(hash) = 32),"
    " key_id INTEGER NOT NULL,"
    " created INTEGER NOT NULL,"
    " expires INTEGER NOT NULL,"
    " attempts_left INTEGER NOT NULL,"
    " PRIMARY KEY (account, purpose));",
};
#define MIGRATIONS ((int)(sizeof(migration) / sizeof(migration[0])))

/* Tables that schema version 1 must have; one missing is MFA_ERR_SCHEMA. */
static const char *const tables[] = {"mfa_factor", "mfa_backup_code",
                                     "mfa_throttle", "mfa_oob_challenge"};

#define FACTOR_COLS                                                            \
    "id, account, label, type, algorithm, digits, period, t0, last_step, "     \
    "drift, status, created, confirmed, last_used, sealed"

enum {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_HAS_TABLE,
    ST_VERSION,
    ST_FACTOR_CREATE,
    ST_FACTOR_GET,
    ST_FACTOR_LIST,
    ST_FACTOR_EACH_FIRST,
    ST_FACTOR_EACH_NEXT,
    ST_FACTOR_ACTIVATE,
    ST_FACTOR_STATE,
    ST_FACTOR_RENAME,
    ST_FACTOR_REMOVE,
    ST_FACTOR_ADVANCE,
    ST_FACTOR_RESEAL,
    ST_FACTOR_EXPIRE,
    ST_THROTTLE_GET,
    ST_THROTTLE_SET,
    ST_THROTTLE_RESET,
    ST_BACKUP_DELETE,
    ST_BACKUP_INSERT,
    ST_BACKUP_LIST,
    ST_BACKUP_SPEND,
    ST_OOB_PUT,
    ST_OOB_GET,
    ST_OOB_DECREMENT,
    ST_OOB_SPEND,
    ST_RESET_FACTOR,
    ST_RESET_OOB,
    ST_COUNT
};

static const char *const sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_HAS_TABLE] =
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
    [ST_VERSION] = "SELECT max(version) FROM mfa_schema",
    [ST_FACTOR_CREATE] = "INSERT INTO mfa_factor (" FACTOR_COLS
                         ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
                         "?11, ?12, ?13, ?14, ?15)",
    [ST_FACTOR_GET] =
        "SELECT " FACTOR_COLS " FROM mfa_factor WHERE account = ?1 AND id = ?2",
    [ST_FACTOR_LIST] = "SELECT " FACTOR_COLS " FROM mfa_factor WHERE account "
                       "= ?1 ORDER BY created, id",
    [ST_FACTOR_EACH_FIRST] =
        "SELECT " FACTOR_COLS " FROM mfa_factor ORDER BY account, created, id "
        "LIMIT ?1",
    [ST_FACTOR_EACH_NEXT] =
        "SELECT " FACTOR_COLS " FROM mfa_factor WHERE (account, created, id) > "
        "(?2, ?3, ?4) ORDER BY account, created, id LIMIT ?1",
    [ST_FACTOR_ACTIVATE] =
        "UPDATE mfa_factor SET status = 1, last_step = ?3, drift = ?4, "
        "confirmed = ?5, last_used = ?5 WHERE account = ?1 AND id = ?2 AND "
        "status = 0 AND created >= ?6",
    [ST_FACTOR_STATE] =
        "SELECT status, created FROM mfa_factor WHERE account = ?1 AND id = ?2",
    [ST_FACTOR_RENAME] =
        "UPDATE mfa_factor SET label = ?3 WHERE account = ?1 AND id = ?2",
    [ST_FACTOR_REMOVE] =
        "DELETE FROM mfa_factor WHERE account = ?1 AND id = ?2",
    [ST_FACTOR_ADVANCE] =
        "UPDATE mfa_factor SET last_step = ?3, drift = ?4, last_used = ?5 "
        "WHERE account = ?1 AND id = ?2 AND status = 1 AND last_step < ?3",
    [ST_FACTOR_RESEAL] = "UPDATE mfa_factor SET sealed = ?4 WHERE account = ?1 "
                         "AND id = ?2 AND sealed = ?3",
    [ST_FACTOR_EXPIRE] =
        "DELETE FROM mfa_factor WHERE status = 0 AND created < ?1",
    [ST_THROTTLE_GET] =
        "SELECT failures, locked_until FROM mfa_throttle WHERE account = ?1",
    [ST_THROTTLE_SET] =
        "INSERT INTO mfa_throttle (account, failures, locked_until) VALUES "
        "(?1, ?2, ?3) ON CONFLICT (account) DO UPDATE SET failures = "
        "excluded.failures, locked_until = excluded.locked_until",
    [ST_THROTTLE_RESET] = "DELETE FROM mfa_throttle WHERE account = ?1",
    [ST_BACKUP_DELETE] = "DELETE FROM mfa_backup_code WHERE account = ?1",
    [ST_BACKUP_INSERT] = "INSERT INTO mfa_backup_code (account, hash, key_id, "
                         "created, used) VALUES (?1, ?2, ?3, ?4, NULL)",
    [ST_BACKUP_LIST] = "SELECT hash, key_id FROM mfa_backup_code WHERE "
                       "account = ?1 AND used IS NULL ORDER BY rowid LIMIT ?2",
    [ST_BACKUP_SPEND] = "UPDATE mfa_backup_code SET used = ?3 WHERE account = "
                        "?1 AND hash = ?2 AND used IS NULL",
    [ST_OOB_PUT] = "INSERT OR REPLACE INTO mfa_oob_challenge (account, "
                   "purpose, hash, key_id, created, expires, attempts_left) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_OOB_GET] = "SELECT hash, key_id, created, expires, attempts_left FROM "
                   "mfa_oob_challenge WHERE account = ?1 AND purpose = ?2",
    [ST_OOB_DECREMENT] =
        "UPDATE mfa_oob_challenge SET attempts_left = attempts_left - 1 "
        "WHERE account = ?1 AND purpose = ?2",
    [ST_OOB_SPEND] = "DELETE FROM mfa_oob_challenge WHERE account = ?1 AND "
                     "purpose = ?2 AND hash = ?3",
    [ST_RESET_FACTOR] = "DELETE FROM mfa_factor WHERE account = ?1",
    [ST_RESET_OOB] = "DELETE FROM mfa_oob_challenge WHERE account = ?1",
};

typedef struct sq_store {
    pthread_mutex_t mu;
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    int timeout_ms;
    struct timespec busy_since;
} sq_store;

/* ---- plumbing --------------------------------------------------------------
 */

static mfa_rc
map_rc(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return MFA_OK;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return MFA_ERR_BUSY;
    case SQLITE_READONLY:
    case SQLITE_FULL:
        return MFA_ERR_READONLY;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return MFA_ERR_CORRUPT;
    case SQLITE_NOMEM:
        return MFA_ERR_NOMEM;
    default:
        return MFA_ERR_STORE;
    }
}

static int64_t
ms_since(const struct timespec *t0)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)(t.tv_sec - t0->tv_sec) * 1000 +
           (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/*
 * Wait for another connection's lock.  SQLite's own handler sleeps up to
 * 100 ms at a time; short randomised sleeps keep many contending processes
 * moving without a convoy, and the total stays bounded by the timeout.
 */
static int
busy_handler(void *arg, int count)
{
    sq_store *q = arg;
    struct timespec ts;
    uint32_t cap_us;

    if (count == 0)
        clock_gettime(CLOCK_MONOTONIC, &q->busy_since);
    else if (ms_since(&q->busy_since) >= q->timeout_ms)
        return 0;
    cap_us = count < 6 ? 50u << count : 2000u;
    ts.tv_sec = 0;
    ts.tv_nsec = (long)(20 + randombytes_uniform(cap_us)) * 1000;
    nanosleep(&ts, NULL);
    return 1;
}

static sq_store *
lock(void *impl)
{
    sq_store *q = impl;
    pthread_mutex_lock(&q->mu);
    return q;
}

static void
unlock(sq_store *q)
{
    pthread_mutex_unlock(&q->mu);
}

/*
 * The prepared statement id, reset and ready for binding.  Statements are
 * prepared on first use and kept: a table missing at that moment is then
 * an error of the operation that needs it, not of the whole store.
 */
static mfa_rc
stmt(sq_store *q, int id, sqlite3_stmt **out)
{
    int rc;

    if (q->st[id] == NULL) {
        rc = sqlite3_prepare_v3(q->db, sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                &q->st[id], NULL);
        if (rc != SQLITE_OK) {
            q->st[id] = NULL;
            *out = NULL;
            /* "no such table" is a plain SQLITE_ERROR: MFA_ERR_STORE */
            return map_rc(rc);
        }
    }
    *out = q->st[id];
    return MFA_OK;
}

/* Reset after use: releases the read snapshot and the bound pointers. */
static void
done(sqlite3_stmt *s)
{
    if (s != NULL) {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
}

static int
bind_text(sqlite3_stmt *s, int i, const char *t)
{
    return sqlite3_bind_text(s, i, t, -1, SQLITE_STATIC);
}

static int
bind_blob(sqlite3_stmt *s, int i, const void *b, size_t n)
{
    return sqlite3_bind_blob(s, i, b, (int)n, SQLITE_STATIC);
}

/* Bind account (and id) as ?1 (and ?2). */
static int
bind_key(sqlite3_stmt *s, const char *account, const char *id)
{
    int rc = bind_text(s, 1, account);
    if (rc == SQLITE_OK && id != NULL)
        rc = bind_text(s, 2, id);
    return rc;
}

/* Run a statement with no result rows; *changes gets the rows changed. */
static mfa_rc
run(sq_store *q, sqlite3_stmt *s, int *changes)
{
    int rc = sqlite3_step(s);
    mfa_rc r = rc == SQLITE_DONE ? MFA_OK : map_rc(rc);

    if (rc == SQLITE_ROW)
        r = MFA_ERR_INTERNAL;
    if (changes != NULL)
        *changes = r == MFA_OK ? sqlite3_changes(q->db) : 0;
    done(s);
    return r;
}

static mfa_rc
simple(sq_store *q, int id)
{
    sqlite3_stmt *s;
    mfa_rc rc = stmt(q, id, &s);

    return rc != MFA_OK ? rc : run(q, s, NULL);
}

static mfa_rc
begin(sq_store *q)
{
    return simple(q, ST_BEGIN);
}

/*
 * End a transaction: commit when rc is MFA_OK, otherwise roll back.  SQLite
 * rolls back by itself after some errors (FULL, IOERR, NOMEM); a ROLLBACK
 * then finds no transaction, which is fine.
 */
static mfa_rc
finish(sq_store *q, mfa_rc rc)
{
    if (rc == MFA_OK) {
        rc = simple(q, ST_COMMIT);
        if (rc == MFA_OK)
            return MFA_OK;
    }
    if (!sqlite3_get_autocommit(q->db))
        (void)simple(q, ST_ROLLBACK);
    return rc;
}

/* Copy a text column into a fixed buffer; CORRUPT when it does not fit. */
static mfa_rc
col_text(sqlite3_stmt *s, int i, char *out, size_t size, int allow_empty)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    int n = sqlite3_column_bytes(s, i);

    if (t == NULL || n < 0 || (size_t)n >= size || (n == 0 && !allow_empty) ||
        memchr(t, '\0', (size_t)n) != NULL)
        return MFA_ERR_CORRUPT;
    memcpy(out, t, (size_t)n);
    out[n] = '\0';
    return MFA_OK;
}

static mfa_rc
col_blob(sqlite3_stmt *s, int i, uint8_t *out, size_t max, uint32_t *len)
{
    const void *b = sqlite3_column_blob(s, i);
    int n = sqlite3_column_bytes(s, i);

    if (sqlite3_column_type(s, i) != SQLITE_BLOB || n < 0 || (size_t)n > max)
        return MFA_ERR_CORRUPT;
    if (n > 0)
        memcpy(out, b, (size_t)n);
    *len = (uint32_t)n;
    return MFA_OK;
}

static int
col_range(sqlite3_stmt *s, int i, int64_t lo, int64_t hi, int64_t *v)
{
    if (sqlite3_column_type(s, i) != SQLITE_INTEGER)
        return 0;
    *v = sqlite3_column_int64(s, i);
    return *v >= lo && *v <= hi;
}

/*
 * A row of FACTOR_COLS, checked: a file edited by hand or damaged on disk
 * gives MFA_ERR_CORRUPT, never an out-of-range record.
 */
static mfa_rc
row_factor(sqlite3_stmt *s, mfa_factor_rec *f)
{
    int64_t v[12];
    mfa_rc rc;

    memset(f, 0, sizeof(*f));
    if ((rc = col_text(s, 0, f->id, sizeof(f->id), 0)) != MFA_OK ||
        (rc = col_text(s, 1, f->account, sizeof(f->account), 0)) != MFA_OK ||
        (rc = col_text(s, 2, f->label, sizeof(f->label), 1)) != MFA_OK ||
        (rc = col_blob(s, 14, f->sealed, sizeof(f->sealed), &f->sealed_len)) !=
            MFA_OK)
        return rc;
    if (!col_range(s, 3, 0, 1, &v[0]) || !col_range(s, 4, 0, 2, &v[1]) ||
        !col_range(s, 5, MFA_DIGITS_MIN, MFA_DIGITS_MAX, &v[2]) ||
        !col_range(s, 6, 0, MFA_PERIOD_MAX, &v[3]) ||
        !col_range(s, 7, 0, INT64_MAX, &v[4]) ||
        !col_range(s, 8, MFA_STEP_NONE, INT64_MAX, &v[5]) ||
        !col_range(s, 9, INT32_MIN, INT32_MAX, &v[6]) ||
        !col_range(s, 10, 0, 1, &v[7]) ||
        !col_range(s, 11, INT64_MIN, INT64_MAX, &v[8]) ||
        !col_range(s, 12, INT64_MIN, INT64_MAX, &v[9]) ||
        !col_range(s, 13, INT64_MIN, INT64_MAX, &v[10]) || f->sealed_len == 0)
        return MFA_ERR_CORRUPT;
    f->type = (mfa_otp_type)v[0];
    f->algorithm = (mfa_algorithm)v[1];
    f->digits = (uint32_t)v[2];
    f->period = (uint32_t)v[3];
    f->t0 = v[4];
    f->last_step = v[5];
    f->drift = (int32_t)v[6];
    f->status = (mfa_factor_status)v[7];
    f->created = v[8];
    f->confirmed = v[9];
    f->last_used = v[10];
    return MFA_OK;
}

/* ---- schema ----------------------------------------------------------------
 */

static mfa_rc
has_table(sq_store *q, const char *name, int *yes)
{
    sqlite3_stmt *s;
    mfa_rc rc = stmt(q, ST_HAS_TABLE, &s);
    int r;

    if (rc != MFA_OK)
        return rc;
    bind_text(s, 1, name);
    r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        *yes = sqlite3_column_int(s, 0) > 0;
        rc = MFA_OK;
    } else {
        rc = r == SQLITE_DONE ? MFA_ERR_STORE : map_rc(r);
    }
    done(s);
    return rc;
}

static mfa_rc
read_version(sq_store *q, int *version)
{
    sqlite3_stmt *s;
    int yes = 0, r;
    mfa_rc rc;

    *version = 0;
    if ((rc = has_table(q, "mfa_schema", &yes)) != MFA_OK || !yes)
        return rc;
    if ((rc = stmt(q, ST_VERSION, &s)) != MFA_OK)
        return rc;
    r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        int64_t v = sqlite3_column_int64(s, 0);
        /* an empty version table is version 0: nothing was created */
        if (sqlite3_column_type(s, 0) == SQLITE_NULL)
            v = 0;
        rc = v >= 0 && v <= 1000000 ? MFA_OK : MFA_ERR_CORRUPT;
        *version = (int)v;
    } else {
        rc = map_rc(r);
    }
    done(s);
    return rc;
}

/* Every table of the current schema is there. */
static mfa_rc
check_tables(sq_store *q)
{
    size_t i;
    int yes = 0;
    mfa_rc rc;

    for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        if ((rc = has_table(q, tables[i], &yes)) != MFA_OK)
            return rc;
        if (!yes)
            return MFA_ERR_SCHEMA;
    }
    return MFA_OK;
}

static mfa_rc
sq_migrate_locked(sq_store *q)
{
    int version;
    char *err = NULL;
    mfa_rc rc;

    /* the common case, a current schema, needs no write lock: a read-only
     * database opens */
    if ((rc = read_version(q, &version)) != MFA_OK)
        return rc;
    if (version > MFA_SCHEMA_VERSION)
        return MFA_ERR_SCHEMA;
    if (version == MFA_SCHEMA_VERSION)
        return check_tables(q);

    /* several processes may open a new file at once: the first to take the
     * write lock migrates, the others find the work done */
    if ((rc = begin(q)) != MFA_OK)
        return rc;
    rc = read_version(q, &version);
    if (rc == MFA_OK && version > MFA_SCHEMA_VERSION)
        rc = MFA_ERR_SCHEMA;
    if (rc == MFA_OK && version == 0)
        rc = map_rc(sqlite3_exec(q->db,
                                 "CREATE TABLE IF NOT EXISTS mfa_schema ("
                                 "version INTEGER NOT NULL)",
                                 NULL, NULL, NULL));
    for (; rc == MFA_OK && version < MFA_SCHEMA_VERSION && version < MIGRATIONS;
         version++) {
        rc = map_rc(sqlite3_exec(q->db, migration[version], NULL, NULL, &err));
        sqlite3_free(err);
        err = NULL;
    }
    if (rc == MFA_OK && version != MFA_SCHEMA_VERSION)
        rc = MFA_ERR_INTERNAL;
    if (rc == MFA_OK) {
        char stmt_text[96];
        int n = snprintf(stmt_text, sizeof(stmt_text),
                         "DELETE FROM mfa_schema; INSERT INTO mfa_schema "
                         "(version) VALUES (%d)",
                         MFA_SCHEMA_VERSION);
        rc = n < 0 || (size_t)n >= sizeof(stmt_text)
                 ? MFA_ERR_INTERNAL
                 : map_rc(sqlite3_exec(q->db, stmt_text, NULL, NULL, NULL));
    }
    if (rc == MFA_OK)
        rc = check_tables(q);
    return finish(q, rc);
}

static mfa_rc
sq_migrate(void *impl)
{
    sq_store *q = lock(impl);
    mfa_rc rc = sq_migrate_locked(q);

    unlock(q);
    return rc;
}

static mfa_rc
sq_schema_version(void *impl, int *version)
{
    sq_store *q = lock(impl);
    mfa_rc rc = read_version(q, version);

    unlock(q);
    return rc;
}

/* ---- factors ---------------------------------------------------------------
 */

static mfa_rc
sq_factor_create(void *impl, const mfa_factor_rec *f)
{
    sq_store *q = lock(impl);
    sqlite3_stmt *s;
    mfa_rc rc = stmt(q, ST_FACTOR_CREATE, &s);
    int r;

    if (rc == MFA_OK) {
        bind_text(s, 1, f->id);
        bind_text(s, 2, f->account);
        bind_text(s, 3, f->label);
        sqlite3_bind_int64(s, 4, f->type);
        sqlite3_bind_int64(s, 5, f->algorithm);
        sqlite3_bind_int64(s, 6, f->digits);
        sqlite3_bind_int64(s, 7, f->period);
        sqlite3_bind_int64(s, 8, f->t0);
        sqlite3_bind_int64(s, 9, f->last_step);
        sqlite3_bind_int64(s, 10, f->drift);
        sqlite3_bind_int64(s, 11, f->status);
        sqlite3_bind_int64(s, 12, f->created);
        sqlite3_bind_int64(s, 13, f->confirmed);
        sqlite3_bind_int64(s, 14, f->last_used);
        bind_blob(s, 15, f->sealed, f->sealed_len);
        r = sqlite3_step(s);
        if (r == SQLITE_DONE)
            rc = MFA_OK;
        else if (r == SQLITE_CONSTRAINT_PRIMARYKEY ||
                 r == SQLITE_CONSTRAINT_UNIQUE)
            rc = MFA_ERR_EXISTS;
        else
            rc = map_rc(r);
        done(s);
    }
    unlock(q);
    return rc;
}

static mfa_rc
sq_factor_get(void *impl, const char *account, const char *id,
              mfa_factor_rec *out)
{
    sq_store *q = lock(impl);
    sqlite3_stmt *s;
    mfa_rc rc = stmt(q, ST_FACTOR_GET, &s);
    int r;

    if (rc == MFA_OK) {
        bind_key(s, account, id);
        r = sqlite3_step(s);
        if (r == SQLITE_ROW)
            rc = row_factor(s, out);
        else
            rc = r == SQLITE_DONE ? MFA_ERR_NOT_FOUND : map_rc(r);
        done(s);
    }
    unlock(q);
    return rc;
}

typedef struct recs {
    mfa_factor_rec *v;
    size_t n, cap;
} recs;

static void
recs_free(recs *a)
{
    if (a->v != NULL) {
        sodium_memzero(a->v, a->cap * sizeof(*a->v));
        free(a->v);
    }
    memset(a, 0, sizeof(*a));
}

/* Read every row of a prepared, bound SELECT of FACTOR_COLS into a. */
static mfa_rc
collect_rows(sqlite3_stmt *s, recs *a)
{
    mfa_rc rc = MFA_OK;
    int r;

    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        if (a->n == a->cap) {
            size_t cap = a->cap ? 2 * a->cap : 8;
            mfa_factor_rec *v = realloc(a->v, cap * sizeof(*v));
            if (v == NULL) {
                rc = MFA_ERR_NOMEM;
                break;
            }
            a->v = v;
            a->cap = cap;
        }
        if ((rc = row_factor(s, &a->v[a->n])) != MFA_OK)
            break;
        a->n++;
    }
    if (rc == MFA_OK && r != SQLITE_DONE)
        rc = map_rc(r);
    done(s);
    return rc;
}

/* Callbacks run without the lock, so that they may call the store. */
static mfa_rc
sq_factor_list(void *impl, const char *account, mfa_factor_cb cb, void *arg)
{
    sq_store *q = lock(impl);
    sqlite3_stmt *s;
    recs a = {NULL, 0, 0};
    mfa_rc rc = stmt(q, ST_FACTOR_LIST, &s);
    size_t i;

    if (rc == MFA_OK) {
        bind_key(s, account, NULL);
        rc = collect_rows(s, &a);
    }
    unlock(q);
    for (i = 0; rc == MFA_OK && i < a.n; i++)
        rc = cb(&a.v[i], arg);
    recs_free(&a);
    return rc;
}

/* Page by page in (account, created, id) order: a large table is never
 * held in memory, and no lock is held while the callback runs. */
static mfa_rc
sq_factor_each(void *impl, mfa_factor_cb cb, void *arg)
{
    sq_store *q = impl;
    mfa_factor_rec last;
    int first = 1;
    mfa_rc rc = MFA_OK;

    memset(&last, 0, sizeof(last));
    while (rc == MFA_OK) {
        recs a = {NULL, 0, 0};
        sqlite3_stmt *s;
        size_t i;

        lock(q);
        rc = stmt(q, first ? ST_FACTOR_EACH_FIRST : ST_FACTOR_EACH_NEXT, &s);
        if (rc == MFA_OK) {
            sqlite3_bind_int(s, 1, SQ_PAGE);
            if (!first) {
                bind_text(s, 2, last.account);
                sqlite3_bind_int64(s, 3, last.created);
                bind_text(s, 4, last.id);
            }
            rc = collect_rows(s, &a);
        }
        unlock(q);
        for (i = 0; rc == MFA_OK && i < a.n; i++)
            rc = cb(&a.v[i], arg);
        if (rc == MFA_OK && a.n > 0)
            last = a.v[a.n - 1];
        first = 0;
        i = a.n;
        recs_free(&a);
        if (i < SQ_PAGE)
            break;
    }
    sodium_memzero(&last, sizeof(last));
    return rc;
}

/* Why a conditional UPDATE touched no row. */
static mfa_rc
why_not(sq_store *q, const char *account, const char *id, int64_t *status,
        int64_t *created)
{
    sqlite3_stmt *s;
    mfa_rc rc = stmt(q, ST_FACTOR_STATE, &s);
    int r;

    if (rc != MFA_OK)
        return rc;
    bind_key(s, account, id);
    r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        *status = sqlite3_column_int64(s, 0);
        *created = sqlite3_column_int64(s, 1);
        rc = MFA_OK;
    } else {
        rc = r == SQLITE_DONE ? MFA_ERR_NOT_FOUND : map_rc(r);
    }
    done(s);
    return rc;
}

static mfa_rc
sq_factor_activate(void *impl, const char *account, const char *id,
                   int64_t step, int32_t drift, int64_t created_after,
                   int64_t now)
{
    sq_store *q = lock(impl);
    sqlite3_stmt *s;
    mfa_rc rc = stmt(q, ST_FACTOR_ACTIVATE, &s);
    int changes = 0;

    if (rc == MFA_OK) {
        bind_key(s, account, id);
        sqlite3_bind_int64(s, 3, step);
        sqlite3_bind_int64(s, 4, drift);
        sqlite3_bind_int64(s, 5, now);
        sqlite3_bind_int64(s, 6, created_after);
        rc = run(q, s, &changes);
    }
    if (rc == MFA_OK && changes == 0) {
        int64_t status = 0, created = 0;
        rc = why_not(q, account, id, &status, &created);
        if (rc == MFA_OK)
            rc = status != MFA_FACTOR_PENDING ? MFA_ERR_STATE
                 : created < created_after    ? MFA_ERR_EXPIRED
                                              : MFA_ERR_STATE;
    }
    unlock(q);
    return rc;
}

/* A single UPDATE/DELETE keyed by account and id: NOT_FOUND when it touched
 * nothing. */
static mfa_rc
keyed(sq_store *q, int id_stmt, const char *account, const char *id,
      const char *text3)
{
    sqlite3_stmt *s;
    mfa_rc rc = stmt(q, id_stmt, &s);
    int changes = 0;

    if (rc == MFA_OK) {
        bind_key(s, account, id);
        if (text3 != NULL)
            bind_text(s, 3, text3);
        rc = run(q, s, &changes);
    }
    return rc == MFA_OK && changes == 0 ? MFA_ERR_NOT_FOUND : rc;
}

static mfa_rc
sq_factor_rename(void *impl, const char *account, const char *id,
                 const char *label)
{
    sq_store *q = lock(impl);
    mfa_rc rc = keyed(q, ST_FACTOR_RENAME, account, id, label);

    unlock(q);
    return rc;
}

static mfa_rc
sq_factor_remove(void *impl, const char *account, const char *id)
{
    sq_store *q = lock(impl);
    mfa_rc rc = keyed(q, ST_FACTOR_REMOVE, account, id, NULL);

    unlock(q);
    return rc;
}

static mfa_rc
sq_factor_advance(void *impl, const char *account, const char *id, int64_t step,
                  int32_t drift, int64_t now)
{
    sq_store *q = lock(impl);
    sqlite3_stmt *s;
    mfa_rc rc = stmt(q, ST_FACTOR_ADVANCE, &s);
    int changes = 0;

    if (rc == MFA_OK) {
        bind_key(s, account, id);
        sqlite3_bind_int64(s, 3, step);
        sqlite3_bind_int64(s, 4, drift);
        sqlite3_bind_int64(s, 5, now);
        rc = run(q, s, &changes);
    }
    if (rc == MFA_OK && changes == 0) {
        int64_t status = 0, created = 0;
        /* the step was taken (or the factor is not active): either way this
         * caller did not win */
        rc = why_not(q, account, id, &status, &created);
        if (rc == MFA_OK)
            rc = status == MFA_FACTOR_ACTIVE ? MFA_ERR_REPLAYED : MFA_ERR_STATE;
    }
    unlock(q);
    return rc;
}

static mfa_rc
sq_factor_reseal(void *impl, const char *account, const char *id,
                 const uint8_t *old, size_t oldlen, const uint8_t *sealed,
                 size_t len)
{
    sq_store *q = lock(impl);
    sqlite3_stmt *s;
    mfa_rc rc = stmt(q, ST_FACTOR_RESEAL, &s);
    int changes = 0;

    if (rc == MFA_OK) {
        bind_key(s, account, id);
        bind_blob(s, 3, old, oldlen);
        bind_blob(s, 4, sealed, len);
        rc = run(q, s, &changes);
    }
    if (rc == MFA_OK && changes == 0) {
        int64_t status = 0, created = 0;
        rc = why_not(q, account, id, &status, &created);
        if (rc == MFA_OK)
            rc = MFA_ERR_STATE; /* there, but resealed by someone else */
    }
    unlock(q);
    return rc;
}

static mfa_rc
sq_factor_expire(void *impl, int64_t before, size_t *n)
{
    sq_store *q = lock(impl);
    sqlite3_stmt *s;
    mfa_rc rc = stmt(q, ST_FACTOR_EXPIRE, &s);
    int changes = 0;

    if (rc == MFA_OK) {
        sqlite3_bind_int64(s, 1, before);
        rc = run(q, s, &changes);
    }
    *n = rc == MFA_OK ? (size_t)changes : 0;
    unlock(q);
    return rc;
}

/* ---- throttle --------------------------------------------------------------
 */

static mfa_rc
read_throttle(sq_store *q, const char *account, mfa_throttle_state *out)
{
    sqlite3_stmt *s;
    mfa_rc rc = stmt(q, ST_THROTTLE_GET, &s);
    int r;
    int64_t f, u;

    memset(out, 0, sizeof(*out));
    if (rc != MFA_OK)
        return rc;
    bind_key(s, account, NULL);
    r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        if (col_range(s, 0, 0, UINT32_MAX, &f) &&
            col_range(s, 1, INT64_MIN, INT64_MAX, &u)) {
            out->failures = (uint32_t)f;
            out->locked_until = u;
        } else {
            rc = MFA_ERR_CORRUPT;
        }
    } else if (r != SQLITE_DONE) {
        rc = map_rc(r);
    }
    done(s);
    return rc;
}

static mfa_rc
sq_throttle_hit(void *impl, const char *account, int64_t now,
                const mfa_throttle_policy *p, mfa_throttle_state *out)
{
    sq_store *q = lock(impl);
    mfa_throttle_state st;
    sqlite3_stmt *s;
    mfa_rc rc, verdict = MFA_OK;

    rc = begin(q);
    if (rc == MFA_OK)
        rc = read_throttle(q, account, &st);
    if (rc == MFA_OK) {
        if (st.failures < UINT32_MAX)
            st.failures++;
        if (now < st.locked_until)
            verdict = MFA_ERR_THROTTLED;
        else
            st.locked_until = now + mfa_throttle_delay(p, st.failures);
        rc = stmt(q, ST_THROTTLE_SET, &s);
    }
    if (rc == MFA_OK) {
        bind_key(s, account, NULL);
        sqlite3_bind_int64(s, 2, st.failures);
        sqlite3_bind_int64(s, 3, st.locked_until);
        rc = run(q, s, NULL);
    }
    rc = finish(q, rc);
    unlock(q);
    if (rc != MFA_OK)
        return rc;
    *out = st;
    return verdict;
}

static mfa_rc
sq_throttle_reset(void *impl, const char *account)
{
    sq_store *q = lock(impl);
    sqlite3_stmt *s;
    mfa_rc rc = stmt(q, ST_THROTTLE_RESET, &s);

    if (rc == MFA_OK) {
        bind_key(s, account, NULL);
        rc = run(q, s, NULL);
    }
    unlock(q);
    return rc;
}

static mfa_rc
sq_throttle_get(void *impl, const char *account, mfa_throttle_state *out)
{
    sq_store *q = lock(impl);
    mfa_rc rc = read_throttle(q, account, out);

    unlock(q);
    return rc;
}

/* ---- backup codes
 * ------------------------------------------------------------ */

static mfa_rc
sq_backup_replace(void *impl, const char *account, const mfa_backup_rec *codes,
                  size_t n, int64_t now)
{
    sq_store *q = lock(impl);
    sqlite3_stmt *s;
    size_t i;
    mfa_rc rc = begin(q);

    if (rc == MFA_OK && (rc = stmt(q, ST_BACKUP_DELETE, &s)) == MFA_OK) {
        bind_key(s, account, NULL);
        rc = run(q, s, NULL);
    }
    for (i = 0; rc == MFA_OK && i < n; i++) {
        if ((rc = stmt(q, ST_BACKUP_INSERT, &s)) != MFA_OK)
            break;
        bind_key(s, account, NULL);
        bind_blob(s, 2, codes[i].hash, MFA_BACKUP_HASHBYTES);
        sqlite3_bind_int64(s, 3, codes[i].key_id);
        sqlite3_bind_int64(s, 4, now);
        rc = run(q, s, NULL);
    }
    rc = finish(q, rc);
    unlock(q);
    return rc;
}

static mfa_rc
sq_backup_list(void *impl, const char *account, mfa_backup_rec *out, size_t max,
               size_t *n)
{
    sq_store *q = lock(impl);
    sqlite3_stmt *s;
    mfa_rc rc = stmt(q, ST_BACKUP_LIST, &s);
    int r = SQLITE_DONE;

    *n = 0;
    if (rc == MFA_OK) {
        bind_key(s, account, NULL);
        sqlite3_bind_int64(s, 2, (sqlite3_int64)max);
        while (rc == MFA_OK && *n < max &&
               (r = sqlite3_step(s)) == SQLITE_ROW) {
            uint32_t len = 0;
            int64_t kid;
            rc = col_blob(s, 0, out[*n].hash, MFA_BACKUP_HASHBYTES, &len);
            if (rc == MFA_OK && (len != MFA_BACKUP_HASHBYTES ||
                                 !col_range(s, 1, 0, UINT32_MAX, &kid)))
                rc = MFA_ERR_CORRUPT;
            if (rc == MFA_OK)
                out[(*n)++].key_id = (uint32_t)kid;
        }
        if (rc == MFA_OK && r != SQLITE_DONE && r != SQLITE_ROW)
            rc = map_rc(r);
        done(s);
    }
    if (rc != MFA_OK)
        *n = 0;
    unlock(q);
    return rc;
}

static mfa_rc
sq_backup_spend(void *impl, const char *account,
                const uint8_t hash[MFA_BACKUP_HASHBYTES], int64_t now)
{
    sq_store *q = lock(impl);
    sqlite3_stmt *s;
    mfa_rc rc = stmt(q, ST_BACKUP_SPEND, &s);
    int changes = 0;

    if (rc == MFA_OK) {
        bind_key(s, account, NULL);
        bind_blob(s, 2, hash, MFA_BACKUP_HASHBYTES);
        sqlite3_bind_int64(s, 3, now);
        rc = run(q, s, &changes);
    }
    unlock(q);
    return rc == MFA_OK && changes != 1 ? MFA_ERR_NOT_FOUND : rc;
}

/* ---- out-of-band challenges ------------------------------------------------
 */

static mfa_rc
sq_oob_put(void *impl, const char *account, const mfa_oob_challenge *c)
{
    sq_store *q = lock(impl);
    sqlite3_stmt *s;
    mfa_rc rc = stmt(q, ST_OOB_PUT, &s);

    if (rc == MFA_OK) {
        bind_key(s, account, c->purpose);
        bind_blob(s, 3, c->hash, MFA_BACKUP_HASHBYTES);
        sqlite3_bind_int64(s, 4, c->key_id);
        sqlite3_bind_int64(s, 5, c->created);
        sqlite3_bind_int64(s, 6, c->expires);
        sqlite3_bind_int64(s, 7, c->attempts_left);
        rc = run(q, s, NULL);
    }
    unlock(q);
    return rc;
}

static mfa_rc
read_oob(sq_store *q, const char *account, const char *purpose,
         mfa_oob_challenge *c)
{
    sqlite3_stmt *s;
    mfa_rc rc = stmt(q, ST_OOB_GET, &s);
    int64_t kid, cr, ex, att;
    uint32_t len = 0;
    int r;

    if (rc != MFA_OK)
        return rc;
    bind_key(s, account, purpose);
    r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        rc = col_blob(s, 0, c->hash, MFA_BACKUP_HASHBYTES, &len);
        if (rc == MFA_OK && (len != MFA_BACKUP_HASHBYTES ||
                             !col_range(s, 1, 0, UINT32_MAX, &kid) ||
                             !col_range(s, 2, INT64_MIN, INT64_MAX, &cr) ||
                             !col_range(s, 3, INT64_MIN, INT64_MAX, &ex) ||
                             !col_range(s, 4, INT32_MIN, INT32_MAX, &att)))
            rc = MFA_ERR_CORRUPT;
        if (rc == MFA_OK) {
            c->key_id = (uint32_t)kid;
            c->created = cr;
            c->expires = ex;
            c->attempts_left = (int32_t)att;
            memcpy(c->purpose, purpose, strlen(purpose) + 1);
        }
    } else {
        rc = r == SQLITE_DONE ? MFA_ERR_NOT_FOUND : map_rc(r);
    }
    done(s);
    return rc;
}

static mfa_rc
sq_oob_take(void *impl, const char *account, const char *purpose, int64_t now,
            mfa_oob_challenge *out)
{
    sq_store *q = lock(impl);
    mfa_oob_challenge c;
    sqlite3_stmt *s;
    mfa_rc rc = begin(q), verdict = MFA_OK;

    memset(&c, 0, sizeof(c));
    if (rc == MFA_OK)
        rc = read_oob(q, account, purpose, &c);
    if (rc == MFA_OK) {
        if (now >= c.expires)
            verdict = MFA_ERR_EXPIRED;
        else if (c.attempts_left <= 0)
            verdict = MFA_ERR_ATTEMPTS;
        else if ((rc = stmt(q, ST_OOB_DECREMENT, &s)) == MFA_OK) {
            bind_key(s, account, purpose);
            rc = run(q, s, NULL);
        }
    }
    /* refusals change nothing, but end the transaction the same way */
    rc = finish(q, rc);
    unlock(q);
    if (rc == MFA_OK && verdict == MFA_OK)
        *out = c;
    sodium_memzero(&c, sizeof(c));
    return rc != MFA_OK ? rc : verdict;
}

static mfa_rc
sq_oob_spend(void *impl, const char *account, const char *purpose,
             const uint8_t hash[MFA_BACKUP_HASHBYTES])
{
    sq_store *q = lock(impl);
    sqlite3_stmt *s;
    mfa_rc rc = stmt(q, ST_OOB_SPEND, &s);
    int changes = 0;

    if (rc == MFA_OK) {
        bind_key(s, account, purpose);
        bind_blob(s, 3, hash, MFA_BACKUP_HASHBYTES);
        rc = run(q, s, &changes);
    }
    unlock(q);
    return rc == MFA_OK && changes != 1 ? MFA_ERR_NOT_FOUND : rc;
}

/* ---- account
 * ----------------------------------------------------------------- */

static mfa_rc
sq_account_reset(void *impl, const char *account)
{
    static const int dels[] = {ST_RESET_FACTOR, ST_BACKUP_DELETE,
                               ST_THROTTLE_RESET, ST_RESET_OOB};
    sq_store *q = lock(impl);
    sqlite3_stmt *s;
    size_t i;
    mfa_rc rc = begin(q);

    for (i = 0; rc == MFA_OK && i < sizeof(dels) / sizeof(dels[0]); i++) {
        if ((rc = stmt(q, dels[i], &s)) != MFA_OK)
            break;
        bind_key(s, account, NULL);
        rc = run(q, s, NULL);
    }
    rc = finish(q, rc);
    unlock(q);
    return rc;
}

/* ---- open and close --------------------------------------------------------
 */

static void
sq_close(void *impl)
{
    sq_store *q = impl;
    size_t i;

    if (q == NULL)
        return;
    for (i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(q->st[i]);
    /* close_v2: never fails on a statement left open by an error path */
    sqlite3_close_v2(q->db);
    pthread_mutex_destroy(&q->mu);
    free(q);
}

static const mfa_store_ops sqlite_ops = {
    .abi = MFA_STORE_ABI,
    .name = "sqlite",
    .close = sq_close,
    .migrate = sq_migrate,
    .schema_version = sq_schema_version,
    .factor_create = sq_factor_create,
    .factor_get = sq_factor_get,
    .factor_list = sq_factor_list,
    .factor_each = sq_factor_each,
    .factor_activate = sq_factor_activate,
    .factor_rename = sq_factor_rename,
    .factor_remove = sq_factor_remove,
    .factor_advance = sq_factor_advance,
    .factor_reseal = sq_factor_reseal,
    .factor_expire = sq_factor_expire,
    .throttle_hit = sq_throttle_hit,
    .throttle_reset = sq_throttle_reset,
    .throttle_get = sq_throttle_get,
    .backup_replace = sq_backup_replace,
    .backup_list = sq_backup_list,
    .backup_spend = sq_backup_spend,
    .oob_put = sq_oob_put,
    .oob_take = sq_oob_take,
    .oob_spend = sq_oob_spend,
    .account_reset = sq_account_reset,
};

/*
 * Connection settings, each for a reason:
 * - WAL: readers do not block the writer nor each other; commits append.
 * - synchronous=FULL: each commit is fsynced, so a spent code, an advanced
 *   step or a counted failure survives a power cut (NORMAL could lose the
 *   last commits and reopen a replay window).  A file: URI may ask for
 *   NORMAL, for 20-50 times the write rate.
 * - foreign_keys: enforced for later schema versions.
 * - secure_delete: removed secrets and hashes are overwritten in the file.
 * - trusted_schema off: no SQL functions run from the file's schema.
 */
static mfa_rc
configure(sq_store *q)
{
    static const char *const pragmas[] = {
        "PRAGMA foreign_keys = ON",
        "PRAGMA secure_delete = ON",
        "PRAGMA trusted_schema = OFF",
    };
    sqlite3_stmt *s = NULL;
    const char *sync;
    size_t i;
    int r;
    mfa_rc rc;

    /*
     * file: URIs may trade durability for write throughput with
     * ?synchronous=normal (docs/stores.md); OFF, which can corrupt the file
     * on a power cut, is refused.
     */
    sync = sqlite3_uri_parameter(sqlite3_db_filename(q->db, "main"),
                                 "synchronous");
    if (sync == NULL || sqlite3_stricmp(sync, "full") == 0)
        sync = "PRAGMA synchronous = FULL";
    else if (sqlite3_stricmp(sync, "normal") == 0)
        sync = "PRAGMA synchronous = NORMAL";
    else
        return MFA_ERR_INVALID;
    if ((rc = map_rc(sqlite3_exec(q->db, sync, NULL, NULL, NULL))) != MFA_OK)
        return rc;

    /* reading the header here also detects a file that is not a database */
    r = sqlite3_prepare_v2(q->db, "PRAGMA journal_mode = WAL", -1, &s, NULL);
    if (r == SQLITE_OK) {
        r = sqlite3_step(s);
        /* a read-only database keeps its mode; writes then fail alone */
        if (r == SQLITE_ROW)
            r = SQLITE_OK;
    }
    sqlite3_finalize(s);
    if (r != SQLITE_OK && (r & 0xff) != SQLITE_READONLY)
        return map_rc(r);
    for (i = 0; i < sizeof(pragmas) / sizeof(pragmas[0]); i++) {
        rc = map_rc(sqlite3_exec(q->db, pragmas[i], NULL, NULL, NULL));
        if (rc != MFA_OK)
            return rc;
    }
    return MFA_OK;
}

mfa_rc
mfa_store_sqlite_open(mfa_store_t **out, const char *path)
{
    sq_store *q;
    mfa_rc rc;
    int r;

    if (out == NULL)
        return MFA_ERR_INVALID;
    *out = NULL;
    if (path == NULL || path[0] == '\0')
        return MFA_ERR_INVALID;
    if (sodium_init() < 0)
        return MFA_ERR_INTERNAL;
    q = calloc(1, sizeof(*q));
    if (q == NULL)
        return MFA_ERR_NOMEM;
    if (pthread_mutex_init(&q->mu, NULL) != 0) {
        free(q);
        return MFA_ERR_INTERNAL;
    }
    q->timeout_ms = SQ_TIMEOUT_MS;
    /* our mutex serialises the connection: SQLite's own is not needed */
    r = sqlite3_open_v2(path, &q->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                            SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI,
                        NULL);
    if (r != SQLITE_OK) {
        rc = q->db != NULL ? map_rc(sqlite3_extended_errcode(q->db))
                           : MFA_ERR_NOMEM;
        if (rc == MFA_OK)
            rc = MFA_ERR_STORE;
        sq_close(q);
        return rc;
    }
    sqlite3_extended_result_codes(q->db, 1);
    sqlite3_busy_handler(q->db, busy_handler, q);
    rc = configure(q);
    if (rc == MFA_OK)
        rc = sq_migrate_locked(q);
    if (rc == MFA_OK)
        rc = mfa_store_new(out, &sqlite_ops, q);
    if (rc != MFA_OK)
        sq_close(q);
    return rc;
}

sqlite3 *
mfa_int_store_sqlite_db(mfa_store_t *s)
{
    if (s == NULL || s->ops != &sqlite_ops)
        return NULL;
    return ((sq_store *)s->impl)->db;
}

mfa_rc
mfa_int_store_sqlite_set_timeout(mfa_store_t *s, int ms)
{
    sq_store *q;

    if (s == NULL || s->ops != &sqlite_ops || ms < 0)
        return MFA_ERR_INVALID;
    q = lock(s->impl);
    q->timeout_ms = ms;
    unlock(q);
    return MFA_OK;
}
