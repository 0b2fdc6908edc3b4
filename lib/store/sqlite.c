/*
 * The SQLite store, the embedded default.
 *
 * A backend of <mfa/store-backend.h>: transactions and plain row access,
 * no rules (those live in the service layer).  One connection per store
 * handle; a mutex held from begin to commit or rollback lets every thread
 * of a process share the handle, processes open their own.  Atomicity
 * against other connections comes from SQLite:
 * - a write transaction is BEGIN IMMEDIATE, which takes the database's
 *   write lock before the first read, so a read-decide-write sequence of
 *   the service cannot interleave with another writer and a snapshot never
 *   has to be upgraded halfway (which could fail with SQLITE_BUSY);
 * - a read transaction is a deferred BEGIN: a snapshot, no lock.
 * The journal is WAL (readers never block the writer), synchronous=FULL by
 * default (a spent code stays spent across a power cut; docs/stores.md
 * says why), with a busy handler that waits up to the timeout (5 s) and
 * then reports MFA_ERR_BUSY.  A write transaction costs one fsync of the
 * WAL at COMMIT; one that wrote nothing costs none (SQLite writes no frame
 * when no page is dirty).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include <mfa/store-backend.h>

#include "schema.h"
#include "store_int.h"

#define SQ_TIMEOUT_MS 5000
#define SQ_LIST_STACK 16 /* factors of one account read without malloc */

#define FACTOR_COLS                                                            \
    "id, account, label, type, algorithm, digits, period, t0, last_step, "     \
    "drift, status, created, confirmed, last_used, sealed"

enum {
    ST_BEGIN_WRITE,
    ST_BEGIN_READ,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_HAS_TABLE,
    ST_VERSION,
    ST_FACTOR_LIST,
    ST_FACTOR_GET,
    ST_FACTOR_INSERT,
    ST_FACTOR_ADVANCE,
    ST_FACTOR_UPDATE_SAME,
    ST_FACTOR_UPDATE,
    ST_FACTOR_DELETE,
    ST_FACTOR_SCAN,
    ST_FACTOR_EXPIRE,
    ST_THROTTLE_GET,
    ST_THROTTLE_PUT,
    ST_THROTTLE_DELETE,
    ST_BACKUP_LIST,
    ST_BACKUP_INSERT,
    ST_BACKUP_USE,
    ST_BACKUP_CLEAR,
    ST_OOB_GET,
    ST_OOB_PUT,
    ST_OOB_DELETE,
    ST_DEL_FACTORS,
    ST_DEL_THROTTLE,
    ST_DEL_OOB,
    ST_THROTTLE_LIST,
    ST_DEVICE_LIST,
    ST_DEVICE_GET,
    ST_DEVICE_PUT,
    ST_DEVICE_DELETE,
    ST_DEL_DEVICES,
    ST_STATE_SCAN,
    ST_WA_LIST,
    ST_WA_GET,
    ST_WA_INSERT,
    ST_WA_UPDATE_SAME,
    ST_WA_UPDATE,
    ST_WA_DELETE,
    ST_WA_HANDLE_GET,
    ST_WA_HANDLE_PUT,
    ST_WA_HANDLE_FIND,
    ST_WA_SPEND,
    ST_WA_EXPIRE,
    ST_WA_EXPIRE_ALL,
    ST_DEL_WA_CREDS,
    ST_DEL_WA_USER,
    ST_DEL_WA_SPENT,
    ST_COUNT
};

#define DEVICE_COLS "id, label, hash, key_id, created, last_seen, trusted_until"

/* ?1 is the account, these ?2..?15 */
#define WA_COLS                                                                \
    "factor_id, label, credential_id, public_key, algorithm, sign_count, "     \
    "transports, flags, aaguid, att_format, att_trust, user_handle, "          \
    "created, last_used"

static const char *const sql[ST_COUNT] = {
    [ST_BEGIN_WRITE] = "BEGIN IMMEDIATE",
    [ST_BEGIN_READ] = "BEGIN",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_HAS_TABLE] =
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
    [ST_VERSION] = "SELECT max(version) FROM mfa_schema",
    [ST_FACTOR_LIST] = "SELECT " FACTOR_COLS " FROM mfa_factor WHERE account "
                       "= ?1 ORDER BY created, id",
    [ST_FACTOR_GET] =
        "SELECT " FACTOR_COLS " FROM mfa_factor WHERE account = ?1 AND id = ?2",
    [ST_FACTOR_INSERT] = "INSERT INTO mfa_factor (" FACTOR_COLS
                         ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
                         "?11, ?12, ?13, ?14, ?15)",
    /*
     * The same parameter numbers as the insert; the key is not rewritten.
     * The common update (a spent step, a new label) keeps status and
     * created: naming them in SET would make SQLite rewrite the entries of
     * both indexes on every verify, a third of its cost.  So first the
     * update for a row whose status and created stay, then, when that
     * touched nothing, the whole row.
     */
    /* a verify's update: see sq_factor_update */
    [ST_FACTOR_ADVANCE] = "UPDATE mfa_factor SET last_step = ?3, drift = ?4, "
                          "last_used = ?5 WHERE id = ?1 AND account = ?2",
    [ST_FACTOR_UPDATE_SAME] =
        "UPDATE mfa_factor SET label = ?3, type = ?4, algorithm = ?5, "
        "digits = ?6, period = ?7, t0 = ?8, last_step = ?9, drift = ?10, "
        "confirmed = ?13, last_used = ?14, sealed = ?15 WHERE id = ?1 AND "
        "account = ?2 AND status = ?11 AND created = ?12",
    [ST_FACTOR_UPDATE] =
        "UPDATE mfa_factor SET label = ?3, type = ?4, algorithm = ?5, "
        "digits = ?6, period = ?7, t0 = ?8, last_step = ?9, drift = ?10, "
        "status = ?11, created = ?12, confirmed = ?13, last_used = ?14, "
        "sealed = ?15 WHERE id = ?1 AND account = ?2",
    /* ("", "") starts before every row: accounts are never empty */
    [ST_FACTOR_SCAN] = "SELECT " FACTOR_COLS " FROM mfa_factor WHERE "
                       "(account, id) > (?1, ?2) ORDER BY account, id LIMIT ?3",
    [ST_FACTOR_DELETE] =
        "DELETE FROM mfa_factor WHERE account = ?1 AND id = ?2",
    [ST_FACTOR_EXPIRE] =
        "DELETE FROM mfa_factor WHERE status = 0 AND created < ?1",
    [ST_THROTTLE_GET] = "SELECT failures, locked_until, updated FROM "
                        "mfa_throttle WHERE account = ?1 AND bucket = ?2",
    [ST_THROTTLE_PUT] =
        "INSERT INTO mfa_throttle (account, bucket, failures, locked_until, "
        "updated) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (account, bucket) "
        "DO UPDATE SET failures = excluded.failures, locked_until = "
        "excluded.locked_until, updated = excluded.updated",
    [ST_THROTTLE_DELETE] =
        "DELETE FROM mfa_throttle WHERE account = ?1 AND bucket = ?2",
    [ST_BACKUP_LIST] = "SELECT hash, key_id FROM mfa_backup_code WHERE "
                       "account = ?1 AND used IS NULL ORDER BY rowid LIMIT ?2",
    [ST_BACKUP_INSERT] = "INSERT INTO mfa_backup_code (account, hash, key_id, "
                         "created, used) VALUES (?1, ?2, ?3, ?4, NULL)",
    [ST_BACKUP_USE] = "UPDATE mfa_backup_code SET used = ?3 WHERE account = "
                      "?1 AND hash = ?2 AND used IS NULL",
    [ST_BACKUP_CLEAR] = "DELETE FROM mfa_backup_code WHERE account = ?1",
    [ST_OOB_GET] = "SELECT hash, key_id, created, expires, attempts_left FROM "
                   "mfa_oob_challenge WHERE account = ?1 AND purpose = ?2",
    [ST_OOB_PUT] =
        "INSERT INTO mfa_oob_challenge (account, purpose, hash, key_id, "
        "created, expires, attempts_left) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
        "ON CONFLICT (account, purpose) DO UPDATE SET hash = excluded.hash, "
        "key_id = excluded.key_id, created = excluded.created, expires = "
        "excluded.expires, attempts_left = excluded.attempts_left",
    [ST_OOB_DELETE] =
        "DELETE FROM mfa_oob_challenge WHERE account = ?1 AND purpose = ?2",
    [ST_DEL_FACTORS] = "DELETE FROM mfa_factor WHERE account = ?1",
    [ST_DEL_THROTTLE] = "DELETE FROM mfa_throttle WHERE account = ?1",
    [ST_DEL_OOB] = "DELETE FROM mfa_oob_challenge WHERE account = ?1",
    [ST_THROTTLE_LIST] = "SELECT bucket, failures, locked_until, updated FROM "
                         "mfa_throttle WHERE account = ?1 ORDER BY bucket "
                         "LIMIT ?2",
    [ST_DEVICE_LIST] = "SELECT " DEVICE_COLS " FROM mfa_device WHERE account "
                       "= ?1 ORDER BY created, id LIMIT ?2",
    [ST_DEVICE_GET] = "SELECT " DEVICE_COLS " FROM mfa_device WHERE account "
                      "= ?1 AND id = ?2",
    [ST_DEVICE_PUT] =
        "INSERT INTO mfa_device (account, " DEVICE_COLS
        ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (account, id) "
        "DO UPDATE SET label = excluded.label, hash = excluded.hash, key_id = "
        "excluded.key_id, created = excluded.created, last_seen = "
        "excluded.last_seen, trusted_until = excluded.trusted_until",
    [ST_DEVICE_DELETE] =
        "DELETE FROM mfa_device WHERE account = ?1 AND id = ?2",
    [ST_DEL_DEVICES] = "DELETE FROM mfa_device WHERE account = ?1",
    /* UNION removes duplicates; both sides use the (account, ...) keys */
    [ST_STATE_SCAN] =
        "SELECT account FROM mfa_throttle WHERE account > ?1 UNION SELECT "
        "account FROM mfa_device WHERE account > ?1 ORDER BY 1 LIMIT ?2",
    [ST_WA_LIST] = "SELECT " WA_COLS " FROM mfa_webauthn_credential WHERE "
                   "account = ?1 ORDER BY created, factor_id",
    [ST_WA_GET] = "SELECT " WA_COLS " FROM mfa_webauthn_credential WHERE "
                  "account = ?1 AND factor_id = ?2",
    [ST_WA_INSERT] = "INSERT INTO mfa_webauthn_credential (account, " WA_COLS
                     ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
                     "?12, ?13, ?14, ?15)",
    /*
     * The parameters of the insert.  A login changes the sign count and
     * the last use; an UPDATE naming no indexed column (credential_id,
     * created) leaves every index entry where it is, so it is tried
     * first, and the whole row only when that matched nothing.
     */
    [ST_WA_UPDATE_SAME] =
        "UPDATE mfa_webauthn_credential SET label = ?3, public_key = ?5, "
        "algorithm = ?6, sign_count = ?7, transports = ?8, flags = ?9, "
        "aaguid = ?10, att_format = ?11, att_trust = ?12, user_handle = ?13, "
        "last_used = ?15 WHERE factor_id = ?2 AND account = ?1 AND "
        "created = ?14 AND credential_id = ?4",
    [ST_WA_UPDATE] =
        "UPDATE mfa_webauthn_credential SET label = ?3, credential_id = ?4, "
        "public_key = ?5, algorithm = ?6, sign_count = ?7, transports = ?8, "
        "flags = ?9, aaguid = ?10, att_format = ?11, att_trust = ?12, "
        "user_handle = ?13, created = ?14, last_used = ?15 WHERE factor_id = "
        "?2 AND account = ?1",
    [ST_WA_DELETE] = "DELETE FROM mfa_webauthn_credential WHERE account = ?1 "
                     "AND factor_id = ?2",
    [ST_WA_HANDLE_GET] =
        "SELECT handle FROM mfa_webauthn_user WHERE account = ?1",
    [ST_WA_HANDLE_PUT] = "INSERT INTO mfa_webauthn_user (account, handle, "
                         "created) VALUES (?1, ?2, ?3)",
    [ST_WA_HANDLE_FIND] =
        "SELECT account FROM mfa_webauthn_user WHERE handle = ?1",
    [ST_WA_SPEND] = "INSERT INTO mfa_webauthn_spent (account, nonce, "
                    "expires) VALUES (?1, ?2, ?3)",
    [ST_WA_EXPIRE] = "DELETE FROM mfa_webauthn_spent WHERE account = ?1 AND "
                     "expires < ?2",
    [ST_WA_EXPIRE_ALL] = "DELETE FROM mfa_webauthn_spent WHERE expires < ?1",
    [ST_DEL_WA_CREDS] =
        "DELETE FROM mfa_webauthn_credential WHERE account = ?1",
    [ST_DEL_WA_USER] = "DELETE FROM mfa_webauthn_user WHERE account = ?1",
    [ST_DEL_WA_SPENT] = "DELETE FROM mfa_webauthn_spent WHERE account = ?1",
};

typedef struct sq_store sq_store;

/* The one transaction a connection can have; lives in the store and is
 * owned by whoever holds the mutex. */
struct mfa_store_txn {
    sq_store *q;
    int write;
    /* factors as this write transaction read them (sq_factor_update) */
    size_t nseen;
    mfa_factor_rec seen[SQ_LIST_STACK];
};

struct sq_store {
    pthread_mutex_t mu;
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    atomic_int timeout_ms; /* set_timeout may change it at any time */
    struct timespec busy_since;
    mfa_store_txn txn;
};

/* ---- plumbing ------------------------------------------------------------ */

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
    else if (ms_since(&q->busy_since) >= atomic_load(&q->timeout_ms))
        return 0;
    cap_us = count < 6 ? 50u << count : 2000u;
    ts.tv_sec = 0;
    ts.tv_nsec = (long)(20 + randombytes_uniform(cap_us)) * 1000;
    nanosleep(&ts, NULL);
    return 1;
}

/*
 * Take the store for one transaction (or a schema call): another thread's
 * transaction is waited for up to the timeout, like another process's
 * lock, then MFA_ERR_BUSY.  A nested begin in the same thread, which the
 * library never does, times out the same way instead of hanging.
 */
static mfa_rc
lock_store(sq_store *q)
{
    struct timespec until;
    int ms, r;

    if ((r = pthread_mutex_trylock(&q->mu)) == 0)
        return MFA_OK;
    if (r != EBUSY)
        return MFA_ERR_INTERNAL;
    ms = atomic_load(&q->timeout_ms);
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    r = pthread_mutex_timedlock(&q->mu, &until);
    return r == 0 ? MFA_OK : r == ETIMEDOUT ? MFA_ERR_BUSY : MFA_ERR_INTERNAL;
}

/*
 * A failed bind leaves its parameter NULL, and a statement run with a NULL
 * key would quietly match nothing.  The binds of this thread's statement
 * remember their first failure and step() reports it instead of running.
 */
static _Thread_local int bind_rc = SQLITE_OK;

/*
 * The prepared statement id, ready for binding.  Statements are prepared
 * on first use and kept: a table missing at that moment is then an error
 * of the operation that needs it ("no such table" is a plain SQLITE_ERROR:
 * MFA_ERR_STORE), not of the whole store.
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
            return map_rc(rc);
        }
    }
    *out = q->st[id];
    bind_rc = SQLITE_OK; /* its binds come next */
    return MFA_OK;
}

/* Reset after use: releases the statement's cursor and bound pointers. */
static void
done(sqlite3_stmt *s)
{
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

static void
bind_text(sqlite3_stmt *s, int i, const char *t)
{
    int r = sqlite3_bind_text(s, i, t, -1, SQLITE_STATIC);

    if (bind_rc == SQLITE_OK)
        bind_rc = r;
}

static void
bind_blob(sqlite3_stmt *s, int i, const void *b, size_t n)
{
    int r = n > INT32_MAX ? SQLITE_TOOBIG
                          : sqlite3_bind_blob(s, i, b, (int)n, SQLITE_STATIC);

    if (bind_rc == SQLITE_OK)
        bind_rc = r;
}

static int
step(sqlite3_stmt *s)
{
    int r = bind_rc;

    if (r != SQLITE_OK) {
        bind_rc = SQLITE_OK;
        return r;
    }
    return sqlite3_step(s);
}

/* Bind account (and a second key) as ?1 (and ?2). */
static void
bind_key(sqlite3_stmt *s, const char *account, const char *key2)
{
    bind_text(s, 1, account);
    if (key2 != NULL)
        bind_text(s, 2, key2);
}

/* Step a statement with no result rows; *changes gets the rows changed. */
static mfa_rc
run(sq_store *q, sqlite3_stmt *s, int *changes)
{
    int rc = step(s);
    mfa_rc r;

    if (rc == SQLITE_DONE)
        r = MFA_OK;
    else if (rc == SQLITE_ROW)
        r = MFA_ERR_INTERNAL;
    else if (rc == SQLITE_CONSTRAINT_PRIMARYKEY ||
             rc == SQLITE_CONSTRAINT_UNIQUE)
        r = MFA_ERR_EXISTS;
    else
        r = map_rc(rc);
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

/*
 * The transaction a row operation runs in, or an error.  SQLite ends a
 * transaction by itself after some errors (SQLITE_FULL, IOERR, NOMEM, some
 * BUSY); a later statement would then run in autocommit mode, durable at
 * once and outside the service's all-or-nothing.  Refusing every operation
 * of a transaction that is gone keeps it whole, and its commit then fails.
 */
static mfa_rc
live(mfa_store_txn *t, int write, sq_store **q)
{
    *q = t->q;
    if (sqlite3_get_autocommit(t->q->db))
        return MFA_ERR_STORE;
    if (write && !t->write)
        return MFA_ERR_INTERNAL; /* a write in a read transaction */
    return MFA_OK;
}

/* Copy a text column into a fixed buffer; CORRUPT when it does not fit. */
static mfa_rc
col_text(sqlite3_stmt *s, int i, char *out, size_t size, int allow_empty)
{
    const unsigned char *t;
    int n;

    if (sqlite3_column_type(s, i) != SQLITE_TEXT)
        return MFA_ERR_CORRUPT;
    t = sqlite3_column_text(s, i);
    n = sqlite3_column_bytes(s, i);
    if (t == NULL || n < 0 || (size_t)n >= size || (n == 0 && !allow_empty) ||
        memchr(t, '\0', (size_t)n) != NULL)
        return MFA_ERR_CORRUPT;
    memcpy(out, t, (size_t)n);
    out[n] = '\0';
    return MFA_OK;
}

/* A blob of 1..max bytes into out, its length into *len. */
static mfa_rc
col_blob(sqlite3_stmt *s, int i, uint8_t *out, size_t max, uint32_t *len)
{
    const void *b;
    int n;

    if (sqlite3_column_type(s, i) != SQLITE_BLOB)
        return MFA_ERR_CORRUPT;
    b = sqlite3_column_blob(s, i);
    n = sqlite3_column_bytes(s, i);
    if (b == NULL || n <= 0 || (size_t)n > max)
        return MFA_ERR_CORRUPT;
    memcpy(out, b, (size_t)n);
    *len = (uint32_t)n;
    return MFA_OK;
}

static mfa_rc
col_hash(sqlite3_stmt *s, int i, uint8_t out[MFA_BACKUP_HASHBYTES])
{
    uint32_t len = 0;
    mfa_rc rc = col_blob(s, i, out, MFA_BACKUP_HASHBYTES, &len);

    return rc == MFA_OK && len != MFA_BACKUP_HASHBYTES ? MFA_ERR_CORRUPT : rc;
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
 * gives MFA_ERR_CORRUPT, never an out-of-range record.  (The generic layer
 * checks the record again, as it does for every backend.)
 */
static mfa_rc
row_factor(sqlite3_stmt *s, mfa_factor_rec *f)
{
    int64_t v[11];
    mfa_rc rc;

    memset(f, 0, sizeof(*f));
    if ((rc = col_text(s, 0, f->id, sizeof(f->id), 0)) != MFA_OK ||
        (rc = col_text(s, 1, f->account, sizeof(f->account), 0)) != MFA_OK ||
        (rc = col_text(s, 2, f->label, sizeof(f->label), 1)) != MFA_OK ||
        (rc = col_blob(s, 14, f->sealed, sizeof(f->sealed), &f->sealed_len)) !=
            MFA_OK)
        return rc;
    if (strlen(f->id) != MFA_FACTOR_ID_LEN || !col_range(s, 3, 0, 1, &v[0]) ||
        !col_range(s, 4, 0, 2, &v[1]) ||
        !col_range(s, 5, MFA_DIGITS_MIN, MFA_DIGITS_MAX, &v[2]) ||
        !col_range(s, 6, 0, MFA_PERIOD_MAX, &v[3]) ||
        !col_range(s, 7, 0, MFA_INT_TIME_MAX, &v[4]) ||
        !col_range(s, 8, MFA_STEP_NONE, INT64_MAX, &v[5]) ||
        !col_range(s, 9, INT32_MIN, INT32_MAX, &v[6]) ||
        !col_range(s, 10, 0, 1, &v[7]) ||
        !col_range(s, 11, 0, MFA_INT_TIME_MAX, &v[8]) ||
        !col_range(s, 12, 0, MFA_INT_TIME_MAX, &v[9]) ||
        !col_range(s, 13, 0, MFA_INT_TIME_MAX, &v[10])) {
        sodium_memzero(f, sizeof(*f));
        return MFA_ERR_CORRUPT;
    }
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

/* Bind every column of f in FACTOR_COLS order as ?1..?15. */
static void
bind_factor(sqlite3_stmt *s, const mfa_factor_rec *f)
{
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
}

/* ---- schema -------------------------------------------------------------- */

static mfa_rc
has_table(sq_store *q, const char *name, int *yes)
{
    sqlite3_stmt *s;
    mfa_rc rc = stmt(q, ST_HAS_TABLE, &s);
    int r;

    *yes = 0;
    if (rc != MFA_OK)
        return rc;
    bind_text(s, 1, name);
    r = step(s);
    if (r == SQLITE_ROW)
        *yes = sqlite3_column_int(s, 0) > 0;
    else
        rc = r == SQLITE_DONE ? MFA_ERR_STORE : map_rc(r);
    done(s);
    return rc;
}

/* How many tables of the current schema the file has, of how many. */
static mfa_rc
count_tables(sq_store *q, int version, int *have, int *want)
{
    char name[64];
    int yes = 0, k = mfa_int_schema_ntables(version);
    mfa_rc rc;

    *have = *want = 0;
    for (int i = 0; i < k && mfa_int_schema_tables[i] != NULL; i++) {
        int n =
            snprintf(name, sizeof(name), "mfa_%s", mfa_int_schema_tables[i]);
        if (n < 0 || (size_t)n >= sizeof(name))
            return MFA_ERR_INTERNAL;
        if ((rc = has_table(q, name, &yes)) != MFA_OK)
            return rc;
        *have += yes;
        (*want)++;
    }
    return MFA_OK;
}

/*
 * The stored version: 0 when the file has no libmfa schema at all;
 * MFA_ERR_SCHEMA when the schema is damaged (a version without its tables,
 * or tables without a version).
 */
static mfa_rc
read_version(sq_store *q, int *version)
{
    sqlite3_stmt *s;
    int yes = 0, have = 0, want = 0, r;
    int64_t v = 0;
    mfa_rc rc;

    *version = 0;
    if ((rc = has_table(q, "mfa_schema", &yes)) != MFA_OK)
        return rc;
    if (yes) {
        if ((rc = stmt(q, ST_VERSION, &s)) != MFA_OK)
            return rc;
        r = step(s);
        if (r == SQLITE_ROW) {
            /* an empty version table: nothing was created */
            if (sqlite3_column_type(s, 0) != SQLITE_NULL &&
                !col_range(s, 0, 1, 1000000, &v))
                rc = MFA_ERR_CORRUPT;
        } else {
            rc = map_rc(r);
            if (rc == MFA_OK)
                rc = MFA_ERR_STORE;
        }
        done(s);
        if (rc != MFA_OK)
            return rc;
    }
    if ((rc = count_tables(q, v > 0 && v <= MFA_SCHEMA_VERSION ? (int)v : 0,
                           &have, &want)) != MFA_OK)
        return rc;
    /* the tables of that version, no fewer */
    if (v == 0 ? have != 0 : (v <= MFA_SCHEMA_VERSION && have != want))
        return MFA_ERR_SCHEMA;
    *version = (int)v;
    return MFA_OK;
}

static mfa_rc
sq_schema_version(void *impl, int *version)
{
    sq_store *q = impl;
    mfa_rc rc;

    *version = 0;
    if ((rc = lock_store(q)) != MFA_OK)
        return rc;
    rc = read_version(q, version);
    pthread_mutex_unlock(&q->mu);
    return rc;
}

/*
 * End a transaction begun outside begin() (migration): commit when rc is
 * MFA_OK, otherwise roll back.  After SQLITE_FULL and the like SQLite has
 * rolled back by itself; ROLLBACK is skipped then.
 */
static mfa_rc
finish(sq_store *q, mfa_rc rc)
{
    if (rc == MFA_OK && (rc = simple(q, ST_COMMIT)) == MFA_OK)
        return MFA_OK;
    if (!sqlite3_get_autocommit(q->db))
        (void)simple(q, ST_ROLLBACK);
    return rc;
}

static mfa_rc
exec(sq_store *q, const char *text)
{
    return map_rc(sqlite3_exec(q->db, text, NULL, NULL, NULL));
}

/*
 * WAL is a property of the file, set once; a read-only file keeps its
 * mode (its writes fail on their own).  Switching needs the file alone:
 * two processes that both read its header would wait for each other
 * forever, so SQLite fails one of them at once, without the busy handler
 * (concurrent creation hit it).  The wait is done here instead, with the
 * handler's sleeps and timeout.
 */
static mfa_rc
set_wal(sq_store *q)
{
    for (int tries = 0;; tries++) {
        sqlite3_stmt *s = NULL;
        int r = sqlite3_prepare_v2(q->db, "PRAGMA journal_mode = WAL", -1, &s,
                                   NULL);

        if (r == SQLITE_OK && (r = step(s)) == SQLITE_ROW)
            r = SQLITE_OK;
        sqlite3_finalize(s);
        if ((r & 0xff) != SQLITE_BUSY || !busy_handler(q, tries))
            return (r & 0xff) == SQLITE_READONLY ? MFA_OK : map_rc(r);
    }
}

/*
 * Version by version to MFA_SCHEMA_VERSION in one BEGIN IMMEDIATE: several
 * processes may migrate at once, the first to take the write lock does the
 * work and the others find it done.  DDL is transactional in SQLite, so a
 * failed step leaves the old version whole.
 */
static mfa_rc
sq_migrate(void *impl)
{
    sq_store *q = impl;
    int version = 0;
    mfa_rc rc;

    if ((rc = lock_store(q)) != MFA_OK)
        return rc;
    if ((rc = set_wal(q)) != MFA_OK ||
        (rc = simple(q, ST_BEGIN_WRITE)) != MFA_OK) {
        pthread_mutex_unlock(&q->mu);
        return rc;
    }
    rc = read_version(q, &version);
    if (rc == MFA_OK && version > MFA_SCHEMA_VERSION)
        rc = MFA_ERR_SCHEMA;
    if (rc == MFA_OK && version < MFA_SCHEMA_VERSION) {
        if (version == 0)
            rc = exec(q, "CREATE TABLE IF NOT EXISTS mfa_schema ("
                         "version INTEGER NOT NULL)");
        for (; rc == MFA_OK && version < MFA_SCHEMA_VERSION; version++) {
            char *step = version < mfa_int_schema_steps()
                             ? mfa_int_schema_sql(MFA_DIALECT_SQLITE, version)
                             : NULL;
            rc = step != NULL ? exec(q, step) : MFA_ERR_INTERNAL;
            free(step);
        }
        if (rc == MFA_OK) {
            char text[96];
            int n = snprintf(text, sizeof(text),
                             "DELETE FROM mfa_schema; INSERT INTO mfa_schema "
                             "(version) VALUES (%d)",
                             MFA_SCHEMA_VERSION);
            rc = n < 0 || (size_t)n >= sizeof(text) ? MFA_ERR_INTERNAL
                                                    : exec(q, text);
        }
        if (rc == MFA_OK)
            rc = read_version(q, &version);
        if (rc == MFA_OK && version != MFA_SCHEMA_VERSION)
            rc = MFA_ERR_INTERNAL;
    }
    rc = finish(q, rc);
    pthread_mutex_unlock(&q->mu);
    return rc;
}

/* ---- rows read in a write transaction ------------------------------------ */

/*
 * A write transaction holds the database's write lock: the rows it read
 * are what is stored until it writes them itself.  Knowing them lets
 * factor_update write only the columns that changed; a verify changes
 * three (last_step, drift, last_used), and an UPDATE of those three costs
 * about a fifth less than one that rewrites all thirteen.  Every other
 * factor write forgets what was seen.  The copies hold sealed secrets:
 * wiped when forgotten and at the end of the transaction.
 */
static void
seen_forget(mfa_store_txn *t)
{
    sodium_memzero(t->seen, t->nseen * sizeof(t->seen[0]));
    t->nseen = 0;
}

static mfa_factor_rec *
seen_find(mfa_store_txn *t, const char *id)
{
    for (size_t i = 0; i < t->nseen; i++)
        if (strcmp(t->seen[i].id, id) == 0)
            return &t->seen[i];
    return NULL;
}

static void
seen_add(mfa_store_txn *t, const mfa_factor_rec *f)
{
    mfa_factor_rec *e = seen_find(t, f->id);

    if (!t->write)
        return;
    if (e == NULL && t->nseen < SQ_LIST_STACK)
        e = &t->seen[t->nseen++];
    if (e != NULL)
        *e = *f;
}

/* f differs from the row a as stored in the replay state at most. */
static int
only_step_changed(const mfa_factor_rec *a, const mfa_factor_rec *f)
{
    return strcmp(a->account, f->account) == 0 &&
           strcmp(a->label, f->label) == 0 && a->type == f->type &&
           a->algorithm == f->algorithm && a->digits == f->digits &&
           a->period == f->period && a->t0 == f->t0 && a->status == f->status &&
           a->created == f->created && a->confirmed == f->confirmed &&
           a->sealed_len == f->sealed_len &&
           memcmp(a->sealed, f->sealed, f->sealed_len) == 0;
}

/* ---- transactions -------------------------------------------------------- */

/*
 * SQLite has one writer per database, so the account only scopes what the
 * library may touch; the lock is the file's.  The mutex serialises the
 * threads sharing this connection from begin to the end of the
 * transaction.
 */
static mfa_rc
sq_begin(void *impl, const char *account, mfa_txn_mode mode,
         mfa_store_txn **txn)
{
    sq_store *q = impl;
    mfa_rc rc;

    (void)account;
    *txn = NULL;
    if ((rc = lock_store(q)) != MFA_OK)
        return rc;
    rc = simple(q, mode == MFA_TXN_WRITE ? ST_BEGIN_WRITE : ST_BEGIN_READ);
    if (rc != MFA_OK) {
        if (!sqlite3_get_autocommit(q->db))
            (void)simple(q, ST_ROLLBACK);
        pthread_mutex_unlock(&q->mu);
        return rc;
    }
    q->txn.q = q;
    q->txn.write = mode == MFA_TXN_WRITE;
    q->txn.nseen = 0;
    *txn = &q->txn;
    return MFA_OK;
}

static mfa_rc
sq_commit(mfa_store_txn *t)
{
    sq_store *q = t->q;
    mfa_rc rc;

    /* a transaction SQLite ended on its own must not read as committed */
    rc = sqlite3_get_autocommit(q->db) ? MFA_ERR_STORE : simple(q, ST_COMMIT);
    if (rc != MFA_OK && !sqlite3_get_autocommit(q->db))
        (void)simple(q, ST_ROLLBACK);
    seen_forget(t);
    pthread_mutex_unlock(&q->mu);
    return rc;
}

static void
sq_rollback(mfa_store_txn *t)
{
    sq_store *q = t->q;

    if (!sqlite3_get_autocommit(q->db))
        (void)simple(q, ST_ROLLBACK);
    seen_forget(t);
    pthread_mutex_unlock(&q->mu);
}

/* ---- factors ------------------------------------------------------------- */

static mfa_rc
sq_factor_list(mfa_store_txn *t, const char *account, mfa_factor_cb cb,
               void *arg)
{
    /*
     * Rows are read first and the statement reset before any callback
     * runs, so that a callback may use the transaction (even list again).
     * An account has at most MFA_FACTORS_MAX factors: they fit on the
     * stack; more (another writer, a damaged limit) go to the heap.
     */
    mfa_factor_rec stack[SQ_LIST_STACK], *v = stack;
    size_t n = 0, cap = SQ_LIST_STACK;
    sqlite3_stmt *s;
    sq_store *q;
    mfa_rc rc = live(t, 0, &q);
    int r = SQLITE_DONE;

    if (rc == MFA_OK && (rc = stmt(q, ST_FACTOR_LIST, &s)) == MFA_OK) {
        bind_key(s, account, NULL);
        while ((r = step(s)) == SQLITE_ROW) {
            if (n == cap) {
                mfa_factor_rec *w = sodium_allocarray(2 * cap, sizeof(*w));
                if (w == NULL) {
                    rc = MFA_ERR_NOMEM;
                    break;
                }
                memcpy(w, v, n * sizeof(*v));
                sodium_memzero(v, n * sizeof(*v));
                if (v != stack)
                    sodium_free(v);
                v = w;
                cap *= 2;
            }
            if ((rc = row_factor(s, &v[n])) != MFA_OK)
                break;
            n++;
        }
        if (rc == MFA_OK && r != SQLITE_DONE)
            rc = map_rc(r) != MFA_OK ? map_rc(r) : MFA_ERR_STORE;
        done(s);
    }
    for (size_t i = 0; rc == MFA_OK && i < n; i++)
        seen_add(t, &v[i]);
    for (size_t i = 0; rc == MFA_OK && i < n; i++)
        rc = cb(&v[i], arg);
    sodium_memzero(v, n * sizeof(*v));
    if (v != stack)
        sodium_free(v);
    return rc;
}

static mfa_rc
sq_factor_get(mfa_store_txn *t, const char *account, const char *id,
              mfa_factor_rec *out)
{
    sqlite3_stmt *s;
    sq_store *q;
    mfa_rc rc = live(t, 0, &q);
    int r;

    if (rc != MFA_OK || (rc = stmt(q, ST_FACTOR_GET, &s)) != MFA_OK)
        return rc;
    bind_key(s, account, id);
    r = step(s);
    if (r == SQLITE_ROW) {
        if ((rc = row_factor(s, out)) == MFA_OK)
            seen_add(t, out);
    } else {
        rc = r == SQLITE_DONE ? MFA_ERR_NOT_FOUND : map_rc(r);
    }
    done(s);
    return rc;
}

static mfa_rc
sq_factor_insert(mfa_store_txn *t, const mfa_factor_rec *f)
{
    sqlite3_stmt *s;
    sq_store *q;
    mfa_rc rc = live(t, 1, &q);

    if (rc != MFA_OK || (rc = stmt(q, ST_FACTOR_INSERT, &s)) != MFA_OK)
        return rc;
    seen_forget(t);
    bind_factor(s, f);
    return run(q, s, NULL);
}

static mfa_rc
sq_factor_update(mfa_store_txn *t, const mfa_factor_rec *f)
{
    sqlite3_stmt *s;
    sq_store *q;
    mfa_rc rc = live(t, 1, &q);
    mfa_factor_rec *old;
    int changes = 0;

    if (rc != MFA_OK)
        return rc;
    old = seen_find(t, f->id);
    if (old != NULL && only_step_changed(old, f)) {
        if ((rc = stmt(q, ST_FACTOR_ADVANCE, &s)) != MFA_OK)
            return rc;
        bind_key(s, f->id, f->account);
        sqlite3_bind_int64(s, 3, f->last_step);
        sqlite3_bind_int64(s, 4, f->drift);
        sqlite3_bind_int64(s, 5, f->last_used);
        rc = run(q, s, &changes);
        if (rc == MFA_OK && changes == 1) {
            old->last_step = f->last_step;
            old->drift = f->drift;
            old->last_used = f->last_used;
            return MFA_OK;
        }
        if (rc != MFA_OK)
            return rc;
        /* not there after all: the general update says so */
    }
    seen_forget(t);
    if ((rc = stmt(q, ST_FACTOR_UPDATE_SAME, &s)) != MFA_OK)
        return rc;
    bind_factor(s, f);
    rc = run(q, s, &changes);
    if (rc != MFA_OK || changes > 0)
        return rc;
    if ((rc = stmt(q, ST_FACTOR_UPDATE, &s)) != MFA_OK)
        return rc;
    bind_factor(s, f);
    rc = run(q, s, &changes);
    return rc == MFA_OK && changes == 0 ? MFA_ERR_NOT_FOUND : rc;
}

/* A DELETE keyed by account (and a second key); *changes its count. */
static mfa_rc
keyed_delete(mfa_store_txn *t, int id, const char *account, const char *key2,
             int *changes)
{
    sqlite3_stmt *s;
    sq_store *q;
    mfa_rc rc = live(t, 1, &q);

    if (rc != MFA_OK || (rc = stmt(q, id, &s)) != MFA_OK)
        return rc;
    bind_key(s, account, key2);
    return run(q, s, changes);
}

static mfa_rc
sq_factor_delete(mfa_store_txn *t, const char *account, const char *id)
{
    int changes = 0;
    mfa_rc rc;

    seen_forget(t);
    rc = keyed_delete(t, ST_FACTOR_DELETE, account, id, &changes);

    return rc == MFA_OK && changes == 0 ? MFA_ERR_NOT_FOUND : rc;
}

static mfa_rc
sq_factor_scan(mfa_store_txn *t, const char *after_account,
               const char *after_id, mfa_factor_rec *out, size_t max, size_t *n)
{
    sqlite3_stmt *s;
    sq_store *q;
    mfa_rc rc = live(t, 0, &q);
    int r = SQLITE_DONE;

    *n = 0;
    if (rc != MFA_OK || (rc = stmt(q, ST_FACTOR_SCAN, &s)) != MFA_OK)
        return rc;
    bind_key(s, after_account, after_id);
    sqlite3_bind_int64(s, 3, max > INT32_MAX ? INT32_MAX : (sqlite3_int64)max);
    while (*n < max && (r = step(s)) == SQLITE_ROW) {
        if ((rc = row_factor(s, &out[*n])) != MFA_OK)
            break;
        (*n)++;
    }
    if (rc == MFA_OK && r != SQLITE_DONE && r != SQLITE_ROW)
        rc = map_rc(r) != MFA_OK ? map_rc(r) : MFA_ERR_STORE;
    done(s);
    if (rc != MFA_OK) {
        sodium_memzero(out, *n * sizeof(*out));
        *n = 0;
    }
    return rc;
}

static mfa_rc
sq_factor_expire(mfa_store_txn *t, int64_t before, size_t *n)
{
    sqlite3_stmt *s;
    sq_store *q;
    mfa_rc rc = live(t, 1, &q);
    int changes = 0;

    *n = 0;
    if (rc != MFA_OK || (rc = stmt(q, ST_FACTOR_EXPIRE, &s)) != MFA_OK)
        return rc;
    seen_forget(t);
    sqlite3_bind_int64(s, 1, before);
    rc = run(q, s, &changes);
    *n = rc == MFA_OK ? (size_t)changes : 0;
    return rc;
}

/* ---- throttle ------------------------------------------------------------ */

static mfa_rc
sq_throttle_get(mfa_store_txn *t, const char *account, const char *bucket,
                mfa_throttle_rec *out)
{
    sqlite3_stmt *s;
    sq_store *q;
    mfa_rc rc = live(t, 0, &q);
    int64_t f, lu, up;
    int r;

    memset(out, 0, sizeof(*out));
    if (rc != MFA_OK || (rc = stmt(q, ST_THROTTLE_GET, &s)) != MFA_OK)
        return rc;
    bind_key(s, account, bucket);
    r = step(s);
    if (r == SQLITE_ROW) {
        if (col_range(s, 0, 0, UINT32_MAX, &f) &&
            col_range(s, 1, 0, MFA_INT_TIME_MAX, &lu) &&
            col_range(s, 2, 0, MFA_INT_TIME_MAX, &up) &&
            strlen(bucket) < sizeof(out->bucket)) {
            memcpy(out->bucket, bucket, strlen(bucket) + 1);
            out->failures = (uint32_t)f;
            out->locked_until = lu;
            out->updated = up;
        } else {
            rc = MFA_ERR_CORRUPT;
        }
    } else {
        rc = r == SQLITE_DONE ? MFA_ERR_NOT_FOUND : map_rc(r);
    }
    done(s);
    return rc;
}

static mfa_rc
sq_throttle_put(mfa_store_txn *t, const char *account,
                const mfa_throttle_rec *r)
{
    sqlite3_stmt *s;
    sq_store *q;
    mfa_rc rc = live(t, 1, &q);

    if (rc != MFA_OK || (rc = stmt(q, ST_THROTTLE_PUT, &s)) != MFA_OK)
        return rc;
    bind_key(s, account, r->bucket);
    sqlite3_bind_int64(s, 3, r->failures);
    sqlite3_bind_int64(s, 4, r->locked_until);
    sqlite3_bind_int64(s, 5, r->updated);
    return run(q, s, NULL);
}

static mfa_rc
sq_throttle_delete(mfa_store_txn *t, const char *account, const char *bucket)
{
    return keyed_delete(t, ST_THROTTLE_DELETE, account, bucket, NULL);
}

static mfa_rc
sq_throttle_list(mfa_store_txn *t, const char *account, mfa_throttle_rec *out,
                 size_t max, size_t *n)
{
    sqlite3_stmt *s;
    sq_store *q;
    mfa_rc rc = live(t, 0, &q);
    int r = SQLITE_DONE;
    int64_t f, lu, up;

    *n = 0;
    if (rc != MFA_OK || (rc = stmt(q, ST_THROTTLE_LIST, &s)) != MFA_OK)
        return rc;
    bind_key(s, account, NULL);
    sqlite3_bind_int64(s, 2, max > INT32_MAX ? INT32_MAX : (sqlite3_int64)max);
    while (*n < max && (r = step(s)) == SQLITE_ROW) {
        mfa_throttle_rec *o = &out[*n];

        memset(o, 0, sizeof(*o));
        if ((rc = col_text(s, 0, o->bucket, sizeof(o->bucket), 1)) != MFA_OK)
            break;
        if (!col_range(s, 1, 0, UINT32_MAX, &f) ||
            !col_range(s, 2, 0, MFA_INT_TIME_MAX, &lu) ||
            !col_range(s, 3, 0, MFA_INT_TIME_MAX, &up)) {
            rc = MFA_ERR_CORRUPT;
            break;
        }
        o->failures = (uint32_t)f;
        o->locked_until = lu;
        o->updated = up;
        (*n)++;
    }
    if (rc == MFA_OK && r != SQLITE_DONE && r != SQLITE_ROW)
        rc = map_rc(r) != MFA_OK ? map_rc(r) : MFA_ERR_STORE;
    done(s);
    if (rc != MFA_OK)
        *n = 0;
    return rc;
}

/* ---- known devices ------------------------------------------------------- */

static mfa_rc
row_device(sqlite3_stmt *s, mfa_device_rec *d)
{
    int64_t kid, cr, ls, tu;
    mfa_rc rc;

    memset(d, 0, sizeof(*d));
    if ((rc = col_text(s, 0, d->id, sizeof(d->id), 0)) != MFA_OK ||
        (rc = col_text(s, 1, d->label, sizeof(d->label), 1)) != MFA_OK ||
        (rc = col_hash(s, 2, d->hash)) != MFA_OK)
        return rc;
    if (!col_range(s, 3, 1, UINT32_MAX, &kid) ||
        !col_range(s, 4, 0, MFA_INT_TIME_MAX, &cr) ||
        !col_range(s, 5, 0, MFA_INT_TIME_MAX, &ls) ||
        !col_range(s, 6, 0, MFA_INT_TIME_MAX, &tu)) {
        sodium_memzero(d, sizeof(*d));
        return MFA_ERR_CORRUPT;
    }
    d->key_id = (uint32_t)kid;
    d->created = cr;
    d->last_seen = ls;
    d->trusted_until = tu;
    return MFA_OK;
}

static mfa_rc
sq_device_list(mfa_store_txn *t, const char *account, mfa_device_rec *out,
               size_t max, size_t *n)
{
    sqlite3_stmt *s;
    sq_store *q;
    mfa_rc rc = live(t, 0, &q);
    int r = SQLITE_DONE;

    *n = 0;
    if (rc != MFA_OK || (rc = stmt(q, ST_DEVICE_LIST, &s)) != MFA_OK)
        return rc;
    bind_key(s, account, NULL);
    sqlite3_bind_int64(s, 2, max > INT32_MAX ? INT32_MAX : (sqlite3_int64)max);
    while (*n < max && (r = step(s)) == SQLITE_ROW) {
        if ((rc = row_device(s, &out[*n])) != MFA_OK)
            break;
        (*n)++;
    }
    if (rc == MFA_OK && r != SQLITE_DONE && r != SQLITE_ROW)
        rc = map_rc(r) != MFA_OK ? map_rc(r) : MFA_ERR_STORE;
    done(s);
    if (rc != MFA_OK) {
        sodium_memzero(out, *n * sizeof(*out));
        *n = 0;
    }
    return rc;
}

static mfa_rc
sq_device_get(mfa_store_txn *t, const char *account, const char *id,
              mfa_device_rec *out)
{
    sqlite3_stmt *s;
    sq_store *q;
    mfa_rc rc = live(t, 0, &q);
    int r;

    memset(out, 0, sizeof(*out));
    if (rc != MFA_OK || (rc = stmt(q, ST_DEVICE_GET, &s)) != MFA_OK)
        return rc;
    bind_key(s, account, id);
    r = step(s);
    if (r == SQLITE_ROW)
        rc = row_device(s, out);
    else
        rc = r == SQLITE_DONE ? MFA_ERR_NOT_FOUND : map_rc(r);
    done(s);
    return rc;
}

static mfa_rc
sq_device_put(mfa_store_txn *t, const char *account, const mfa_device_rec *d)
{
    sqlite3_stmt *s;
    sq_store *q;
    mfa_rc rc = live(t, 1, &q);

    if (rc != MFA_OK || (rc = stmt(q, ST_DEVICE_PUT, &s)) != MFA_OK)
        return rc;
    bind_key(s, account, d->id);
    bind_text(s, 3, d->label);
    bind_blob(s, 4, d->hash, MFA_DEVICE_HASHBYTES);
    sqlite3_bind_int64(s, 5, d->key_id);
    sqlite3_bind_int64(s, 6, d->created);
    sqlite3_bind_int64(s, 7, d->last_seen);
    sqlite3_bind_int64(s, 8, d->trusted_until);
    return run(q, s, NULL);
}

static mfa_rc
sq_device_delete(mfa_store_txn *t, const char *account, const char *id)
{
    int changes = 0;
    mfa_rc rc = keyed_delete(t, ST_DEVICE_DELETE, account, id, &changes);

    return rc == MFA_OK && changes == 0 ? MFA_ERR_NOT_FOUND : rc;
}

static mfa_rc
sq_state_scan(mfa_store_txn *t, const char *after,
              char (*out)[MFA_ACCOUNT_MAX + 1], size_t max, size_t *n)
{
    sqlite3_stmt *s;
    sq_store *q;
    mfa_rc rc = live(t, 0, &q);
    int r = SQLITE_DONE;

    *n = 0;
    if (rc != MFA_OK || (rc = stmt(q, ST_STATE_SCAN, &s)) != MFA_OK)
        return rc;
    bind_key(s, after, NULL);
    sqlite3_bind_int64(s, 2, max > INT32_MAX ? INT32_MAX : (sqlite3_int64)max);
    while (*n < max && (r = step(s)) == SQLITE_ROW) {
        if ((rc = col_text(s, 0, out[*n], MFA_ACCOUNT_MAX + 1, 0)) != MFA_OK)
            break;
        (*n)++;
    }
    if (rc == MFA_OK && r != SQLITE_DONE && r != SQLITE_ROW)
        rc = map_rc(r) != MFA_OK ? map_rc(r) : MFA_ERR_STORE;
    done(s);
    if (rc != MFA_OK)
        *n = 0;
    return rc;
}

/* ---- backup codes -------------------------------------------------------- */

static mfa_rc
sq_backup_list(mfa_store_txn *t, const char *account, mfa_backup_rec *out,
               size_t max, size_t *n)
{
    sqlite3_stmt *s;
    sq_store *q;
    mfa_rc rc = live(t, 0, &q);
    int r = SQLITE_DONE;
    int64_t kid;

    *n = 0;
    if (rc != MFA_OK || (rc = stmt(q, ST_BACKUP_LIST, &s)) != MFA_OK)
        return rc;
    bind_key(s, account, NULL);
    sqlite3_bind_int64(s, 2, max > INT32_MAX ? INT32_MAX : (sqlite3_int64)max);
    while (*n < max && (r = step(s)) == SQLITE_ROW) {
        if ((rc = col_hash(s, 0, out[*n].hash)) != MFA_OK)
            break;
        if (!col_range(s, 1, 0, UINT32_MAX, &kid)) {
            rc = MFA_ERR_CORRUPT;
            break;
        }
        out[(*n)++].key_id = (uint32_t)kid;
    }
    if (rc == MFA_OK && r != SQLITE_DONE && r != SQLITE_ROW)
        rc = map_rc(r) != MFA_OK ? map_rc(r) : MFA_ERR_STORE;
    done(s);
    if (rc != MFA_OK) {
        sodium_memzero(out, *n * sizeof(*out));
        *n = 0;
    }
    return rc;
}

static mfa_rc
sq_backup_insert(mfa_store_txn *t, const char *account, const mfa_backup_rec *r,
                 int64_t now)
{
    sqlite3_stmt *s;
    sq_store *q;
    mfa_rc rc = live(t, 1, &q);

    if (rc != MFA_OK || (rc = stmt(q, ST_BACKUP_INSERT, &s)) != MFA_OK)
        return rc;
    bind_key(s, account, NULL);
    bind_blob(s, 2, r->hash, MFA_BACKUP_HASHBYTES);
    sqlite3_bind_int64(s, 3, r->key_id);
    sqlite3_bind_int64(s, 4, now);
    return run(q, s, NULL);
}

static mfa_rc
sq_backup_use(mfa_store_txn *t, const char *account,
              const uint8_t hash[MFA_BACKUP_HASHBYTES], int64_t now)
{
    sqlite3_stmt *s;
    sq_store *q;
    mfa_rc rc = live(t, 1, &q);
    int changes = 0;

    if (rc != MFA_OK || (rc = stmt(q, ST_BACKUP_USE, &s)) != MFA_OK)
        return rc;
    bind_key(s, account, NULL);
    bind_blob(s, 2, hash, MFA_BACKUP_HASHBYTES);
    sqlite3_bind_int64(s, 3, now);
    rc = run(q, s, &changes);
    return rc == MFA_OK && changes == 0 ? MFA_ERR_NOT_FOUND : rc;
}

static mfa_rc
sq_backup_clear(mfa_store_txn *t, const char *account)
{
    return keyed_delete(t, ST_BACKUP_CLEAR, account, NULL, NULL);
}

/* ---- out-of-band challenges ---------------------------------------------- */

static mfa_rc
sq_oob_get(mfa_store_txn *t, const char *account, const char *purpose,
           mfa_oob_challenge *c)
{
    sqlite3_stmt *s;
    sq_store *q;
    mfa_rc rc = live(t, 0, &q);
    int64_t kid, cr, ex, att;
    int r;

    memset(c, 0, sizeof(*c));
    if (rc != MFA_OK || (rc = stmt(q, ST_OOB_GET, &s)) != MFA_OK)
        return rc;
    bind_key(s, account, purpose);
    r = step(s);
    if (r == SQLITE_ROW) {
        rc = col_hash(s, 0, c->hash);
        if (rc == MFA_OK && (!col_range(s, 1, 0, UINT32_MAX, &kid) ||
                             !col_range(s, 2, 0, MFA_INT_TIME_MAX, &cr) ||
                             !col_range(s, 3, 0, MFA_INT_TIME_MAX, &ex) ||
                             !col_range(s, 4, 0, INT32_MAX, &att) ||
                             strlen(purpose) >= sizeof(c->purpose)))
            rc = MFA_ERR_CORRUPT;
        if (rc == MFA_OK) {
            c->key_id = (uint32_t)kid;
            c->created = cr;
            c->expires = ex;
            c->attempts_left = (int32_t)att;
            memcpy(c->purpose, purpose, strlen(purpose) + 1);
        } else {
            sodium_memzero(c, sizeof(*c));
        }
    } else {
        rc = r == SQLITE_DONE ? MFA_ERR_NOT_FOUND : map_rc(r);
    }
    done(s);
    return rc;
}

static mfa_rc
sq_oob_put(mfa_store_txn *t, const char *account, const mfa_oob_challenge *c)
{
    sqlite3_stmt *s;
    sq_store *q;
    mfa_rc rc = live(t, 1, &q);

    if (rc != MFA_OK || (rc = stmt(q, ST_OOB_PUT, &s)) != MFA_OK)
        return rc;
    bind_key(s, account, c->purpose);
    bind_blob(s, 3, c->hash, MFA_BACKUP_HASHBYTES);
    sqlite3_bind_int64(s, 4, c->key_id);
    sqlite3_bind_int64(s, 5, c->created);
    sqlite3_bind_int64(s, 6, c->expires);
    sqlite3_bind_int64(s, 7, c->attempts_left);
    return run(q, s, NULL);
}

static mfa_rc
sq_oob_delete(mfa_store_txn *t, const char *account, const char *purpose)
{
    return keyed_delete(t, ST_OOB_DELETE, account, purpose, NULL);
}

/* ---- passkeys and security keys ------------------------------------------ */

/* A blob of min..max bytes into out, its length into *len. */
static mfa_rc
col_bytes(sqlite3_stmt *s, int i, uint8_t *out, size_t min, size_t max,
          size_t *len)
{
    const void *b;
    int n;

    *len = 0;
    if (sqlite3_column_type(s, i) != SQLITE_BLOB)
        return MFA_ERR_CORRUPT;
    b = sqlite3_column_blob(s, i);
    n = sqlite3_column_bytes(s, i);
    if (b == NULL || n < 0 || (size_t)n < min || (size_t)n > max)
        return MFA_ERR_CORRUPT;
    memcpy(out, b, (size_t)n);
    *len = (size_t)n;
    return MFA_OK;
}

static int
col_alg(sqlite3_stmt *s, int i, int64_t *v)
{
    return col_range(s, i, MFA_WEBAUTHN_RS256, MFA_WEBAUTHN_ES256, v) &&
           (*v == MFA_WEBAUTHN_ES256 || *v == MFA_WEBAUTHN_EDDSA ||
            *v == MFA_WEBAUTHN_RS256);
}

/* A row of WA_COLS (columns 0..13), checked like row_factor. */
static mfa_rc
row_webauthn(sqlite3_stmt *s, mfa_webauthn_rec *r)
{
    mfa_webauthn_credential *c = &r->cred;
    int64_t v[8];
    size_t aaguid_len = 0;
    mfa_rc rc;

    memset(r, 0, sizeof(*r));
    if ((rc = col_text(s, 0, r->factor_id, sizeof(r->factor_id), 0)) !=
            MFA_OK ||
        (rc = col_text(s, 1, r->label, sizeof(r->label), 1)) != MFA_OK ||
        (rc = col_bytes(s, 2, c->id, MFA_WEBAUTHN_CRED_ID_MIN,
                        MFA_WEBAUTHN_CRED_ID_MAX, &c->id_len)) != MFA_OK ||
        (rc = col_bytes(s, 3, c->public_key, 1, MFA_WEBAUTHN_PUBLIC_KEY_MAX,
                        &c->public_key_len)) != MFA_OK ||
        (rc = col_bytes(s, 8, c->aaguid, MFA_WEBAUTHN_AAGUID_BYTES,
                        MFA_WEBAUTHN_AAGUID_BYTES, &aaguid_len)) != MFA_OK ||
        (rc = col_bytes(s, 11, c->user_handle, 1, MFA_WEBAUTHN_USER_HANDLE_MAX,
                        &c->user_handle_len)) != MFA_OK) {
        memset(r, 0, sizeof(*r));
        return rc;
    }
    if (strlen(r->factor_id) != MFA_FACTOR_ID_LEN || !col_alg(s, 4, &v[0]) ||
        !col_range(s, 5, 0, UINT32_MAX, &v[1]) ||
        !col_range(s, 6, 0, 0x3f, &v[2]) || !col_range(s, 7, 0, 0xff, &v[3]) ||
        !col_range(s, 9, 0, 2, &v[4]) || !col_range(s, 10, 0, 2, &v[5]) ||
        !col_range(s, 12, 0, MFA_INT_TIME_MAX, &v[6]) ||
        !col_range(s, 13, 0, MFA_INT_TIME_MAX, &v[7])) {
        memset(r, 0, sizeof(*r));
        return MFA_ERR_CORRUPT;
    }
    c->algorithm = (int32_t)v[0];
    c->sign_count = (uint32_t)v[1];
    c->transports = (unsigned)v[2];
    c->flags = (unsigned)v[3];
    c->attestation_format = (mfa_webauthn_fmt)v[4];
    c->attestation_trust = (mfa_webauthn_trust)v[5];
    r->created = v[6];
    r->last_used = v[7];
    return MFA_OK;
}

/* Bind account as ?1 and r in WA_COLS order as ?2..?15. */
static void
bind_webauthn(sqlite3_stmt *s, const char *account, const mfa_webauthn_rec *r)
{
    const mfa_webauthn_credential *c = &r->cred;

    bind_key(s, account, r->factor_id);
    bind_text(s, 3, r->label);
    bind_blob(s, 4, c->id, c->id_len);
    bind_blob(s, 5, c->public_key, c->public_key_len);
    sqlite3_bind_int64(s, 6, c->algorithm);
    sqlite3_bind_int64(s, 7, c->sign_count);
    sqlite3_bind_int64(s, 8, c->transports);
    sqlite3_bind_int64(s, 9, c->flags);
    bind_blob(s, 10, c->aaguid, MFA_WEBAUTHN_AAGUID_BYTES);
    sqlite3_bind_int64(s, 11, c->attestation_format);
    sqlite3_bind_int64(s, 12, c->attestation_trust);
    bind_blob(s, 13, c->user_handle, c->user_handle_len);
    sqlite3_bind_int64(s, 14, r->created);
    sqlite3_bind_int64(s, 15, r->last_used);
}

static mfa_rc
sq_webauthn_list(mfa_store_txn *t, const char *account, mfa_webauthn_cb cb,
                 void *arg)
{
    /*
     * As factor_list: every row is read and the statement reset before a
     * callback runs.  Records are large (about 1.7 KiB) and nothing in
     * them is secret: the heap, grown as needed (an account holds at most
     * MFA_WEBAUTHN_CREDS_MAX).
     */
    mfa_webauthn_rec *v = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *s;
    sq_store *q;
    mfa_rc rc = live(t, 0, &q);
    int r = SQLITE_DONE;

    if (rc == MFA_OK && (rc = stmt(q, ST_WA_LIST, &s)) == MFA_OK) {
        bind_key(s, account, NULL);
        while ((r = step(s)) == SQLITE_ROW) {
            if (n == cap) {
                size_t ncap = cap == 0 ? 4 : 2 * cap;
                mfa_webauthn_rec *w = ncap > SIZE_MAX / sizeof(*w)
                                          ? NULL
                                          : realloc(v, ncap * sizeof(*w));
                if (w == NULL) {
                    rc = MFA_ERR_NOMEM;
                    break;
                }
                v = w;
                cap = ncap;
            }
            if ((rc = row_webauthn(s, &v[n])) != MFA_OK)
                break;
            n++;
        }
        if (rc == MFA_OK && r != SQLITE_DONE)
            rc = map_rc(r) != MFA_OK ? map_rc(r) : MFA_ERR_STORE;
        done(s);
    }
    for (size_t i = 0; rc == MFA_OK && i < n; i++)
        rc = cb(&v[i], arg);
    free(v);
    return rc;
}

static mfa_rc
sq_webauthn_get(mfa_store_txn *t, const char *account, const char *factor_id,
                mfa_webauthn_rec *out)
{
    sqlite3_stmt *s;
    sq_store *q;
    mfa_rc rc = live(t, 0, &q);
    int r;

    memset(out, 0, sizeof(*out));
    if (rc != MFA_OK || (rc = stmt(q, ST_WA_GET, &s)) != MFA_OK)
        return rc;
    bind_key(s, account, factor_id);
    r = step(s);
    if (r == SQLITE_ROW)
        rc = row_webauthn(s, out);
    else
        rc = r == SQLITE_DONE ? MFA_ERR_NOT_FOUND : map_rc(r);
    done(s);
    return rc;
}

static mfa_rc
sq_webauthn_insert(mfa_store_txn *t, const char *account,
                   const mfa_webauthn_rec *r)
{
    sqlite3_stmt *s;
    sq_store *q;
    mfa_rc rc = live(t, 1, &q);

    if (rc != MFA_OK || (rc = stmt(q, ST_WA_INSERT, &s)) != MFA_OK)
        return rc;
    bind_webauthn(s, account, r);
    return run(q, s, NULL);
}

static mfa_rc
sq_webauthn_update(mfa_store_txn *t, const char *account,
                   const mfa_webauthn_rec *r)
{
    sqlite3_stmt *s;
    sq_store *q;
    mfa_rc rc = live(t, 1, &q);
    int changes = 0;

    if (rc != MFA_OK || (rc = stmt(q, ST_WA_UPDATE_SAME, &s)) != MFA_OK)
        return rc;
    bind_webauthn(s, account, r);
    rc = run(q, s, &changes);
    if (rc != MFA_OK || changes > 0)
        return rc;
    if ((rc = stmt(q, ST_WA_UPDATE, &s)) != MFA_OK)
        return rc;
    bind_webauthn(s, account, r);
    rc = run(q, s, &changes);
    return rc == MFA_OK && changes == 0 ? MFA_ERR_NOT_FOUND : rc;
}

static mfa_rc
sq_webauthn_delete(mfa_store_txn *t, const char *account, const char *factor_id)
{
    int changes = 0;
    mfa_rc rc = keyed_delete(t, ST_WA_DELETE, account, factor_id, &changes);

    return rc == MFA_OK && changes == 0 ? MFA_ERR_NOT_FOUND : rc;
}

static mfa_rc
sq_webauthn_handle_get(mfa_store_txn *t, const char *account,
                       uint8_t out[MFA_WEBAUTHN_USER_HANDLE_MAX], size_t *len)
{
    sqlite3_stmt *s;
    sq_store *q;
    mfa_rc rc = live(t, 0, &q);
    int r;

    *len = 0;
    if (rc != MFA_OK || (rc = stmt(q, ST_WA_HANDLE_GET, &s)) != MFA_OK)
        return rc;
    bind_key(s, account, NULL);
    r = step(s);
    if (r == SQLITE_ROW)
        rc = col_bytes(s, 0, out, 1, MFA_WEBAUTHN_USER_HANDLE_MAX, len);
    else
        rc = r == SQLITE_DONE ? MFA_ERR_NOT_FOUND : map_rc(r);
    done(s);
    return rc;
}

static mfa_rc
sq_webauthn_handle_put(mfa_store_txn *t, const char *account,
                       const uint8_t *handle, size_t len, int64_t now)
{
    sqlite3_stmt *s;
    sq_store *q;
    mfa_rc rc = live(t, 1, &q);

    if (rc != MFA_OK || (rc = stmt(q, ST_WA_HANDLE_PUT, &s)) != MFA_OK)
        return rc;
    bind_key(s, account, NULL);
    bind_blob(s, 2, handle, len);
    sqlite3_bind_int64(s, 3, now);
    return run(q, s, NULL);
}

static mfa_rc
sq_webauthn_handle_find(mfa_store_txn *t, const uint8_t *handle, size_t len,
                        char account[MFA_ACCOUNT_MAX + 1])
{
    sqlite3_stmt *s;
    sq_store *q;
    mfa_rc rc = live(t, 0, &q);
    int r;

    account[0] = '\0';
    if (rc != MFA_OK || (rc = stmt(q, ST_WA_HANDLE_FIND, &s)) != MFA_OK)
        return rc;
    bind_blob(s, 1, handle, len);
    r = step(s);
    if (r == SQLITE_ROW)
        rc = col_text(s, 0, account, MFA_ACCOUNT_MAX + 1, 0);
    else
        rc = r == SQLITE_DONE ? MFA_ERR_NOT_FOUND : map_rc(r);
    done(s);
    if (rc != MFA_OK)
        account[0] = '\0';
    return rc;
}

static mfa_rc
sq_webauthn_spend(mfa_store_txn *t, const char *account,
                  const uint8_t nonce[MFA_WEBAUTHN_NONCE_BYTES],
                  int64_t expires)
{
    sqlite3_stmt *s;
    sq_store *q;
    mfa_rc rc = live(t, 1, &q);

    if (rc != MFA_OK || (rc = stmt(q, ST_WA_SPEND, &s)) != MFA_OK)
        return rc;
    bind_key(s, account, NULL);
    bind_blob(s, 2, nonce, MFA_WEBAUTHN_NONCE_BYTES);
    sqlite3_bind_int64(s, 3, expires);
    return run(q, s, NULL);
}

static mfa_rc
sq_webauthn_spent_expire(mfa_store_txn *t, const char *account, int64_t before,
                         size_t *n)
{
    sqlite3_stmt *s;
    sq_store *q;
    mfa_rc rc = live(t, 1, &q);
    int changes = 0;

    *n = 0;
    if (rc != MFA_OK ||
        (rc = stmt(q, account != NULL ? ST_WA_EXPIRE : ST_WA_EXPIRE_ALL, &s)) !=
            MFA_OK)
        return rc;
    if (account != NULL) {
        bind_key(s, account, NULL);
        sqlite3_bind_int64(s, 2, before);
    } else {
        sqlite3_bind_int64(s, 1, before);
    }
    rc = run(q, s, &changes);
    *n = rc == MFA_OK ? (size_t)changes : 0;
    return rc;
}

/* ---- account ------------------------------------------------------------- */

static mfa_rc
sq_account_delete(mfa_store_txn *t, const char *account)
{
    static const int dels[] = {ST_DEL_FACTORS, ST_BACKUP_CLEAR, ST_DEL_THROTTLE,
                               ST_DEL_OOB,     ST_DEL_DEVICES,  ST_DEL_WA_CREDS,
                               ST_DEL_WA_USER, ST_DEL_WA_SPENT};
    mfa_rc rc = MFA_OK;

    seen_forget(t);
    for (size_t i = 0; rc == MFA_OK && i < sizeof(dels) / sizeof(dels[0]); i++)
        rc = keyed_delete(t, dels[i], account, NULL, NULL);
    return rc;
}

/* ---- open and close ------------------------------------------------------ */

static void
sq_close(void *impl)
{
    sq_store *q = impl;

    if (q == NULL)
        return;
    for (size_t i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(q->st[i]);
    /* close_v2: never fails on a statement left open by an error path */
    sqlite3_close_v2(q->db);
    pthread_mutex_destroy(&q->mu);
    free(q);
}

const mfa_store_backend mfa_int_sqlite_backend = {
    .abi = MFA_STORE_BACKEND_ABI,
    .name = "sqlite",
    .close = sq_close,
    .schema_version = sq_schema_version,
    .migrate = sq_migrate,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .factor_list = sq_factor_list,
    .factor_get = sq_factor_get,
    .factor_insert = sq_factor_insert,
    .factor_update = sq_factor_update,
    .factor_delete = sq_factor_delete,
    .factor_scan = sq_factor_scan,
    .factor_expire = sq_factor_expire,
    .throttle_get = sq_throttle_get,
    .throttle_put = sq_throttle_put,
    .throttle_delete = sq_throttle_delete,
    .backup_list = sq_backup_list,
    .backup_insert = sq_backup_insert,
    .backup_use = sq_backup_use,
    .backup_clear = sq_backup_clear,
    .oob_get = sq_oob_get,
    .oob_put = sq_oob_put,
    .oob_delete = sq_oob_delete,
    .throttle_list = sq_throttle_list,
    .device_list = sq_device_list,
    .device_get = sq_device_get,
    .device_put = sq_device_put,
    .device_delete = sq_device_delete,
    .state_scan = sq_state_scan,
    .account_delete = sq_account_delete,
    .webauthn_list = sq_webauthn_list,
    .webauthn_get = sq_webauthn_get,
    .webauthn_insert = sq_webauthn_insert,
    .webauthn_update = sq_webauthn_update,
    .webauthn_delete = sq_webauthn_delete,
    .webauthn_handle_get = sq_webauthn_handle_get,
    .webauthn_handle_put = sq_webauthn_handle_put,
    .webauthn_handle_find = sq_webauthn_handle_find,
    .webauthn_spend = sq_webauthn_spend,
    .webauthn_spent_expire = sq_webauthn_spent_expire,
};

/*
 * Connection settings, each for a reason:
 * - synchronous=FULL: each commit is fsynced, so a spent code, an advanced
 *   step or a counted failure survives a power cut (NORMAL could lose the
 *   last commits and reopen a replay window); NORMAL only when asked.
 * - foreign_keys: enforced for later schema versions.
 * - secure_delete: removed secrets and hashes are overwritten in the file.
 * - trusted_schema off: no SQL functions run from the file's schema.
 * WAL is set by migrate (and kept by the file), not here: opening an
 * application's database that has no libmfa schema changes nothing in it.
 */
static mfa_rc
configure(sq_store *q, const mfa_int_sqlite_opts *opts)
{
    const char *const pragmas[] = {
        opts != NULL && opts->sync_normal ? "PRAGMA synchronous = NORMAL"
                                          : "PRAGMA synchronous = FULL",
        "PRAGMA foreign_keys = ON",
        "PRAGMA secure_delete = ON",
        "PRAGMA trusted_schema = OFF",
        /* reads the header: a file that is not a database fails here */
        "SELECT count(*) FROM sqlite_master",
    };
    int yes = 0;
    mfa_rc rc;

    for (size_t i = 0; i < sizeof(pragmas) / sizeof(pragmas[0]); i++)
        if ((rc = exec(q, pragmas[i])) != MFA_OK)
            return rc;
    /* a libmfa store that lost its WAL setting (copied, restored) gets it
     * back */
    if ((rc = has_table(q, "mfa_schema", &yes)) != MFA_OK)
        return rc;
    return yes ? set_wal(q) : MFA_OK;
}

/* Create the file 0600 whatever the umask (SQLite would create it 0644
 * minus the umask); its -wal and -shm files get the same mode from SQLite.
 * An existing file is left as it is. */
static mfa_rc
create_file(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    mfa_rc rc = MFA_OK;

    if (fd < 0) {
        if (errno == EEXIST)
            return MFA_OK;
        return errno == EACCES || errno == EROFS || errno == EPERM
                   ? MFA_ERR_READONLY
                   : MFA_ERR_IO;
    }
    if (fchmod(fd, 0600) != 0)
        rc = MFA_ERR_IO;
    if (close(fd) != 0 && rc == MFA_OK)
        rc = MFA_ERR_IO;
    return rc;
}

mfa_rc
mfa_int_sqlite_connect(void **impl, const char *path,
                       const mfa_int_sqlite_opts *opts)
{
    char *local = NULL;
    sq_store *q;
    mfa_rc rc;
    int r;

    if (impl == NULL)
        return MFA_ERR_INVALID;
    *impl = NULL;
    if (path == NULL || path[0] == '\0')
        return MFA_ERR_INVALID;
    if (sodium_init() < 0)
        return MFA_ERR_INTERNAL;
    /* ":memory:" is SQLite's name for a database in memory, not a file */
    if (opts != NULL && opts->create && strcmp(path, ":memory:") != 0 &&
        (rc = create_file(path)) != MFA_OK)
        return rc;
    /* a path is a path, also when SQLite was built to read "file:" URIs */
    if (strncmp(path, "file:", 5) == 0) {
        size_t n = strlen(path);
        if ((local = malloc(n + 3)) == NULL)
            return MFA_ERR_NOMEM;
        memcpy(local, "./", 2);
        memcpy(local + 2, path, n + 1);
    }
    q = calloc(1, sizeof(*q));
    if (q == NULL) {
        free(local);
        return MFA_ERR_NOMEM;
    }
    if (pthread_mutex_init(&q->mu, NULL) != 0) {
        free(q);
        free(local);
        return MFA_ERR_INTERNAL;
    }
    atomic_init(&q->timeout_ms, SQ_TIMEOUT_MS);
    /* never SQLITE_OPEN_CREATE: a missing store must not read as an empty
     * one; our mutex serialises the connection, SQLite's is not needed */
    r = sqlite3_open_v2(local != NULL ? local : path, &q->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    free(local);
    if (r != SQLITE_OK) {
        if (q->db == NULL)
            rc = MFA_ERR_NOMEM;
        else if ((r & 0xff) == SQLITE_CANTOPEN)
            rc = sqlite3_system_errno(q->db) == ENOENT ? MFA_ERR_NO_STORE
                                                       : MFA_ERR_STORE;
        else
            rc = map_rc(r) != MFA_OK ? map_rc(r) : MFA_ERR_STORE;
        sq_close(q);
        return rc;
    }
    sqlite3_extended_result_codes(q->db, 1);
    sqlite3_busy_handler(q->db, busy_handler, q);
    rc = configure(q, opts);
    if (rc != MFA_OK) {
        sq_close(q);
        return rc;
    }
    *impl = q;
    return MFA_OK;
}

sqlite3 *
mfa_int_store_sqlite_db(mfa_store_t *s)
{
    if (s == NULL || s->be != &mfa_int_sqlite_backend)
        return NULL;
    return ((sq_store *)s->impl)->db;
}

mfa_rc
mfa_int_store_sqlite_set_timeout(mfa_store_t *s, int ms)
{
    sq_store *q;

    if (s == NULL || s->be != &mfa_int_sqlite_backend || ms < 0)
        return MFA_ERR_INVALID;
    q = s->impl;
    atomic_store(&q->timeout_ms, ms);
    return MFA_OK;
}
