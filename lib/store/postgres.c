/*
 * The PostgreSQL store (libpq): the engine for several application servers
 * sharing one database.
 *
 * Every operation is one statement or one short transaction whose atomicity
 * comes from PostgreSQL's row locks under READ COMMITTED: an UPDATE whose
 * WHERE clause holds the condition (`last_step < $step`, `used IS NULL`,
 * `attempts_left > 0`) re-checks it on the newest row version after waiting
 * for a concurrent writer, so of two servers racing for the same code
 * exactly one sees its UPDATE touch a row.
 *
 * Connections: a small pool, each connection used by one thread at a time,
 * statements prepared lazily once per connection.  A connection that broke
 * (server restart, pg_terminate_backend, network) is dropped and a new one
 * made on the next call; while the server is unreachable every call returns
 * MFA_ERR_STORE.  Nothing is ever accepted without the database.
 */
#include "config.h"

#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sodium.h>

#include <mfa/store.h>

#include "internal.h"
#include "store_int.h"

#define PG_POOL_MAX 8          /* connections per store */
#define PG_SCHEMA_MAX 63       /* PostgreSQL's NAMEDATALEN - 1 */
#define PG_EACH_BATCH "200"    /* factors per round trip of factor_each */
#define PG_EACH_BATCH_N 200    /* the same number, for C */
#define PG_LOCK_CLASS 0x6d6661 /* "mfa": advisory lock class of migrations */

/* ---- statements ---------------------------------------------------------- */

/*
 * SQL text with '@' standing for the quoted schema name.  Integer columns
 * are bigint throughout (uint32 values fit; decoding has one width).
 */
#define FACTOR_COLS                                                            \
    "id, account, label, type, algorithm, digits, period, t0, last_step, "     \
    "drift, status, created, confirmed, last_used, sealed"

enum {
    ST_FACTOR_CREATE,
    ST_FACTOR_GET,
    ST_FACTOR_LIST,
    ST_FACTOR_EACH,
    ST_FACTOR_ACTIVATE,
    ST_FACTOR_STATE,
    ST_FACTOR_RENAME,
    ST_FACTOR_REMOVE,
    ST_FACTOR_ADVANCE,
    ST_FACTOR_RESEAL,
    ST_FACTOR_EXPIRE,
    ST_THROTTLE_CREATE,
    ST_THROTTLE_HIT,
    ST_THROTTLE_RESET,
    ST_THROTTLE_GET,
    ST_BACKUP_DELETE,
    ST_BACKUP_INSERT,
    ST_BACKUP_LIST,
    ST_BACKUP_SPEND,
    ST_OOB_PUT,
    ST_OOB_TAKE,
    ST_OOB_GET,
    ST_OOB_SPEND,
    ST_ACCOUNT_RESET,
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_FACTOR_CREATE] =
        "INSERT INTO @.factor (" FACTOR_COLS ") VALUES ($1, $2, $3, $4, $5, "
        "$6, $7, $8, $9, $10, $11, $12, $13, $14, $15) "
        "ON CONFLICT (id) DO NOTHING RETURNING 1",
    [ST_FACTOR_GET] =
        "SELECT " FACTOR_COLS " FROM @.factor WHERE account = $1 AND id = $2",
    [ST_FACTOR_LIST] = "SELECT " FACTOR_COLS " FROM @.factor WHERE account = "
                       "$1 ORDER BY created, id",
    /* keyset pagination: no lock or cursor held while callbacks run */
    [ST_FACTOR_EACH] = "SELECT " FACTOR_COLS " FROM @.factor WHERE (account, "
                       "created, id) > ($1, $2, $3) ORDER BY account, "
                       "created, id LIMIT " PG_EACH_BATCH,
    [ST_FACTOR_ACTIVATE] =
        "UPDATE @.factor SET status = 1, last_step = $3, drift = $4, "
        "confirmed = $6, last_used = $6 WHERE account = $1 AND id = $2 AND "
        "status = 0 AND created >= $5 RETURNING 1",
    [ST_FACTOR_STATE] = "SELECT status, created, last_step FROM @.factor "
                        "WHERE account = $1 AND id = $2",
    [ST_FACTOR_RENAME] = "UPDATE @.factor SET label = $3 WHERE account = $1 "
                         "AND id = $2 RETURNING 1",
    [ST_FACTOR_REMOVE] =
        "DELETE FROM @.factor WHERE account = $1 AND id = $2 RETURNING 1",
    [ST_FACTOR_ADVANCE] =
        "UPDATE @.factor SET last_step = $3, drift = $4, last_used = $5 "
        "WHERE account = $1 AND id = $2 AND status = 1 AND last_step < $3 "
        "RETURNING 1",
    [ST_FACTOR_RESEAL] = "UPDATE @.factor SET sealed = $4 WHERE account = $1 "
                         "AND id = $2 AND sealed = $3 RETURNING 1",
    [ST_FACTOR_EXPIRE] =
        "DELETE FROM @.factor WHERE status = 0 AND created < $1",
    [ST_THROTTLE_CREATE] = "INSERT INTO @.throttle (account, failures, "
                           "locked_until) VALUES ($1, 0, 0) ON CONFLICT "
                           "(account) DO NOTHING",
    /*
     * Count an attempt in one statement.  The CTE locks the row and reads
     * its newest committed state (READ COMMITTED re-reads it after waiting
     * for a concurrent counter); the new values are computed from that
     * state only, and it is returned too, so the verdict (was it locked?)
     * is exact.  The delay is mfa_throttle_delay transcribed: $3 free
     * attempts, $4 base, $5 cap, every value a uint32 in a bigint, shifts
     * below 32, so base << over cannot pass the cap unnoticed.
     */
    [ST_THROTTLE_HIT] =
        "WITH old AS (SELECT failures, locked_until FROM @.throttle WHERE "
        "account = $1 FOR UPDATE), "
        "f AS (SELECT least(failures + 1, 4294967295) AS n, locked_until AS "
        "lu FROM old) "
        "UPDATE @.throttle AS t SET failures = f.n, locked_until = CASE "
        "WHEN $2::bigint < f.lu THEN f.lu "
        "WHEN f.n <= $3::bigint THEN $2::bigint "
        "WHEN f.n - $3::bigint - 1 >= 32 THEN $2::bigint + $5::bigint "
        "WHEN $4::bigint > ($5::bigint >> (f.n - $3::bigint - 1)::integer) "
        "THEN $2::bigint + $5::bigint "
        "ELSE $2::bigint + least($4::bigint << (f.n - $3::bigint - "
        "1)::integer, $5::bigint) END "
        "FROM f WHERE t.account = $1 RETURNING t.failures, t.locked_until, "
        "f.lu",
    [ST_THROTTLE_RESET] = "UPDATE @.throttle SET failures = 0, locked_until "
                          "= 0 WHERE account = $1",
    [ST_THROTTLE_GET] = "SELECT failures, locked_until FROM @.throttle WHERE "
                        "account = $1",
    [ST_BACKUP_DELETE] = "DELETE FROM @.backup_code WHERE account = $1",
    [ST_BACKUP_INSERT] = "INSERT INTO @.backup_code (account, hash, key_id, "
                         "created, used) VALUES ($1, $2, $3, $4, NULL)",
    [ST_BACKUP_LIST] = "SELECT hash, key_id FROM @.backup_code WHERE account "
                       "= $1 AND used IS NULL ORDER BY seq LIMIT $2",
    [ST_BACKUP_SPEND] =
        "UPDATE @.backup_code SET used = greatest($3, 1) WHERE account = "
        "$1 AND hash = $2 AND used IS NULL RETURNING 1",
    [ST_OOB_PUT] =
        "INSERT INTO @.oob_challenge (account, purpose, hash, key_id, "
        "created, expires, attempts_left) VALUES ($1, $2, $3, $4, $5, $6, "
        "$7) ON CONFLICT (account, purpose) DO UPDATE SET hash = "
        "excluded.hash, key_id = excluded.key_id, created = excluded.created, "
        "expires = excluded.expires, attempts_left = excluded.attempts_left",
    [ST_OOB_TAKE] = "UPDATE @.oob_challenge SET attempts_left = attempts_left "
                    "- 1 WHERE account = $1 AND purpose = $2 AND expires > $3 "
                    "AND attempts_left > 0 RETURNING hash, key_id, created, "
                    "expires, attempts_left + 1",
    [ST_OOB_GET] = "SELECT expires, attempts_left FROM @.oob_challenge WHERE "
                   "account = $1 AND purpose = $2",
    [ST_OOB_SPEND] = "DELETE FROM @.oob_challenge WHERE account = $1 AND "
                     "purpose = $2 AND hash = $3 RETURNING 1",
    /* one statement: every part of the account goes, or none */
    [ST_ACCOUNT_RESET] =
        "WITH f AS (DELETE FROM @.factor WHERE account = $1), "
        "b AS (DELETE FROM @.backup_code WHERE account = $1), "
        "o AS (DELETE FROM @.oob_challenge WHERE account = $1) "
        "DELETE FROM @.throttle WHERE account = $1",
};

/*
 * Migrations: migration[i] takes the schema from version i to i + 1.  Run
 * in one transaction under an advisory lock, so servers starting together
 * migrate once.  The same tables, columns and checks as the SQLite store
 * (docs/stores.md), unprefixed in a schema of their own: mfa_factor is
 * factor, mfa_schema is "schema".  bigint is SQLite's 64-bit INTEGER, bytea
 * its BLOB; backup_code.seq stands for SQLite's implicit rowid (the order
 * codes were issued in).  Keys are compared bytewise (COLLATE "C"), like
 * SQLite, whatever the database's locale.
 */
static const char *const migration[] = {
    /* 0 -> 1 */
    "CREATE TABLE @.factor ("
    " id text COLLATE \"C\" NOT NULL PRIMARY KEY CHECK (length(id) = 16),"
    " account text COLLATE \"C\" NOT NULL,"
    " label text NOT NULL,"
    " type bigint NOT NULL CHECK (type IN (0, 1)),"
    " algorithm bigint NOT NULL CHECK (algorithm IN (0, 1, 2)),"
    " digits bigint NOT NULL,"
    " period bigint NOT NULL,"
    " t0 bigint NOT NULL,"
    " last_step bigint NOT NULL,"
    " drift bigint NOT NULL,"
    " status bigint NOT NULL CHECK (status IN (0, 1)),"
    " created bigint NOT NULL,"
    " confirmed bigint NOT NULL,"
    " last_used bigint NOT NULL,"
    " sealed bytea NOT NULL);"
    "CREATE INDEX factor_account ON @.factor (account, created, id);"
    "CREATE INDEX factor_pending ON @.factor (created) WHERE status = 0;"
    "CREATE TABLE @.backup_code ("
    " seq bigserial NOT NULL,"
    " account text COLLATE \"C\" NOT NULL,"
    " hash bytea NOT NULL CHECK (octet_length(hash) = 32),"
    " key_id bigint NOT NULL,"
    " created bigint NOT NULL,"
    " used bigint,"
    " PRIMARY KEY (account, hash));"
    "CREATE TABLE @.throttle ("
    " account text COLLATE \"C\" NOT NULL PRIMARY KEY,"
    " failures bigint NOT NULL,"
    " locked_until bigint NOT NULL);"
    "CREATE TABLE @.oob_challenge ("
    " account text COLLATE \"C\" NOT NULL,"
    " purpose text COLLATE \"C\" NOT NULL,"
    " hash bytea NOT NULL CHECK (octet_length(hash) = 32),"
    " key_id bigint NOT NULL,"
    " created bigint NOT NULL,"
    " expires bigint NOT NULL,"
    " attempts_left bigint NOT NULL,"
    " PRIMARY KEY (account, purpose));",
};
#define MIGRATIONS ((int)(sizeof(migration) / sizeof(migration[0])))

/* Tables that schema version 1 must have; one missing is MFA_ERR_SCHEMA. */
static const char tables_sql[] =
    "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = $1 AND "
    "tablename IN ('factor', 'backup_code', 'throttle', 'oob_challenge')";
#define TABLES 4

/* ---- the store object ---------------------------------------------------- */

typedef struct pg_conn {
    PGconn *c;                        /* NULL: (re)connect before use */
    unsigned char prepared[ST_COUNT]; /* on this connection */
    struct pg_conn *next;             /* idle list */
} pg_conn;

typedef struct pg_store {
    char *conninfo;
    char schema[PG_SCHEMA_MAX + 1];
    char *sql[ST_COUNT]; /* with the schema substituted */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pg_conn *idle;
    unsigned total; /* connections made, idle or in use */
    pid_t pid;      /* the process whose connections these are */
} pg_store;

/* '@' -> "schema" in sql; NULL when out of memory. */
static char *
expand(const pg_store *st, const char *sql)
{
    size_t n = 0, slen = strlen(st->schema);
    const char *p;
    char *out, *o;

    for (p = sql; *p; p++)
        n += *p == '@' ? slen + 2 : 1;
    out = malloc(n + 1);
    if (out == NULL)
        return NULL;
    for (p = sql, o = out; *p; p++) {
        if (*p == '@') {
            *o++ = '"';
            memcpy(o, st->schema, slen);
            o += slen;
            *o++ = '"';
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return out;
}

/*
 * The schema name is spliced into SQL, so it is restricted to what needs
 * no escaping at all: ASCII letters, digits and '_', not starting with a
 * digit, and no "pg_" prefix (reserved by PostgreSQL).
 */
static int
schema_ok(const char *s)
{
    size_t i, n = strlen(s);

    if (n == 0 || n > PG_SCHEMA_MAX || (s[0] >= '0' && s[0] <= '9'))
        return 0;
    if (strncmp(s, "pg_", 3) == 0)
        return 0;
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return 1;
}

/* Notices ("schema exists, skipping") are not errors: keep stderr quiet. */
static void
quiet_notices(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

/* SQLSTATE -> mfa_rc, for a failed statement on connection c. */
static mfa_rc
map_error(PGconn *c, const PGresult *r)
{
    const char *state;

    if (c == NULL || PQstatus(c) != CONNECTION_OK || r == NULL)
        return MFA_ERR_STORE;
    state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (getenv("MFA_PG_DEBUG") != NULL)
        (void)fprintf(stderr, "mfa postgres: %s %s", state ? state : "?",
                      PQresultErrorMessage(r));
    if (state == NULL)
        return MFA_ERR_STORE;
    if (strcmp(state, "23505") == 0) /* unique_violation */
        return MFA_ERR_EXISTS;
    if (strcmp(state, "57014") == 0 || /* statement timeout */
        strcmp(state, "55P03") == 0 || /* lock timeout */
        strcmp(state, "40001") == 0 || /* serialization failure */
        strcmp(state, "40P01") == 0 || /* deadlock */
        strcmp(state, "53300") == 0)   /* too many connections */
        return MFA_ERR_BUSY;
    if (strcmp(state, "25006") == 0 || /* read-only transaction (standby) */
        strcmp(state, "53100") == 0)   /* disk full */
        return MFA_ERR_READONLY;
    return MFA_ERR_STORE;
}

/*
 * Session settings: READ COMMITTED whatever the server's default (the
 * compare-and-set statements rely on its re-check of the WHERE clause; a
 * stricter level would turn lost races into errors), and timeouts unless
 * the role, the database or the connection string chose their own.
 */
static const char session_sql[] =
    "SET default_transaction_isolation = 'read committed';"
    "SELECT set_config('statement_timeout', '5s', false) "
    " WHERE current_setting('statement_timeout') = '0';"
    "SELECT set_config('lock_timeout', '4s', false) "
    " WHERE current_setting('lock_timeout') = '0';"
    "SELECT set_config('idle_in_transaction_session_timeout', '30s', false) "
    " WHERE current_setting('idle_in_transaction_session_timeout') = '0';";

static PGconn *
connect_db(const pg_store *st)
{
    /*
     * Defaults come before "dbname" (which expands the connection string),
     * so that the string can override them.
     */
    const char *const keys[] = {"connect_timeout", "tcp_user_timeout",
                                "keepalives_idle", "fallback_application_name",
                                "dbname",          NULL};
    const char *const vals[] = {"10",     "10000",      "30",
                                "libmfa", st->conninfo, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    PGresult *r;

    if (c == NULL)
        return NULL;
    if (PQstatus(c) != CONNECTION_OK) {
        if (getenv("MFA_PG_DEBUG") != NULL)
            (void)fprintf(stderr, "mfa postgres: connect: %s",
                          PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeProcessor(c, quiet_notices, NULL);
    r = PQexec(c, session_sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK &&
        PQresultStatus(r) != PGRES_COMMAND_OK) {
        PQclear(r);
        PQfinish(c);
        return NULL;
    }
    PQclear(r);
    return c;
}

/*
 * An idle connection has nothing to read (this library never LISTENs): a
 * readable socket means the server closed it or is closing it (restart,
 * pg_terminate_backend), with an error message possibly still ahead of
 * the end of the stream.  Dropping it here spares the next statement an
 * error.
 */
static int
conn_dead(PGconn *c)
{
    struct pollfd pfd;

    if (PQstatus(c) != CONNECTION_OK)
        return 1;
    pfd.fd = PQsocket(c);
    pfd.events = POLLIN;
    pfd.revents = 0;
    if (pfd.fd < 0)
        return 1;
    return poll(&pfd, 1, 0) != 0;
}

static mfa_rc
acquire(pg_store *st, pg_conn **out)
{
    pg_conn *pc;

    *out = NULL;
    pthread_mutex_lock(&st->mu);
    if (st->pid != getpid()) {
        /*
         * A child of fork() (a pre-forking server): the sockets it
         * inherited belong to the parent's sessions, and even PQfinish
         * would end them (it tells the server goodbye).  Forget them, at
         * the cost of a little memory, and connect afresh.
         */
        st->idle = NULL;
        st->total = 0;
        st->pid = getpid();
    }
    while (st->idle == NULL && st->total >= PG_POOL_MAX)
        pthread_cond_wait(&st->cv, &st->mu);
    if (st->idle != NULL) {
        pc = st->idle;
        st->idle = pc->next;
        pthread_mutex_unlock(&st->mu);
    } else {
        st->total++;
        pthread_mutex_unlock(&st->mu);
        pc = calloc(1, sizeof(*pc));
        if (pc == NULL) {
            pthread_mutex_lock(&st->mu);
            st->total--;
            pthread_cond_signal(&st->cv);
            pthread_mutex_unlock(&st->mu);
            return MFA_ERR_NOMEM;
        }
    }
    pc->next = NULL;
    if (pc->c != NULL && conn_dead(pc->c)) {
        PQfinish(pc->c);
        pc->c = NULL;
    }
    if (pc->c == NULL) {
        memset(pc->prepared, 0, sizeof(pc->prepared));
        pc->c = connect_db(st);
        if (pc->c == NULL) {
            /* back to the pool unconnected; the next call tries again */
            pthread_mutex_lock(&st->mu);
            pc->next = st->idle;
            st->idle = pc;
            pthread_cond_signal(&st->cv);
            pthread_mutex_unlock(&st->mu);
            return MFA_ERR_STORE;
        }
    }
    *out = pc;
    return MFA_OK;
}

static void
release(pg_store *st, pg_conn *pc)
{
    if (pc->c != NULL && PQstatus(pc->c) == CONNECTION_OK &&
        PQtransactionStatus(pc->c) != PQTRANS_IDLE) {
        /* an operation failed inside its transaction: undo it whole */
        PGresult *r = PQexec(pc->c, "ROLLBACK");
        if (PQresultStatus(r) != PGRES_COMMAND_OK ||
            PQtransactionStatus(pc->c) != PQTRANS_IDLE) {
            PQfinish(pc->c);
            pc->c = NULL;
        }
        PQclear(r);
    }
    if (pc->c != NULL && PQstatus(pc->c) != CONNECTION_OK) {
        PQfinish(pc->c);
        pc->c = NULL;
    }
    pthread_mutex_lock(&st->mu);
    pc->next = st->idle;
    st->idle = pc;
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

/* A simple command (BEGIN, COMMIT) */
static mfa_rc
simple(pg_conn *pc, const char *sql)
{
    PGresult *r = PQexec(pc->c, sql);
    mfa_rc rc = MFA_OK;

    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = map_error(pc->c, r);
    /* COMMIT of a failed transaction answers ROLLBACK, not an error */
    else if (strcmp(sql, "COMMIT") == 0 &&
             strcmp(PQcmdStatus(r), "COMMIT") != 0)
        rc = MFA_ERR_STORE;
    PQclear(r);
    return rc;
}

/*
 * Parameters of one statement: text for numbers and strings, binary for
 * bytea.  Results come back in binary.
 */
typedef struct pg_params {
    int n;
    const char *val[16];
    int len[16];
    int fmt[16];
    char num[16][24];
} pg_params;

static void
p_text(pg_params *p, const char *s)
{
    p->val[p->n] = s;
    p->len[p->n] = 0;
    p->fmt[p->n] = 0;
    p->n++;
}

static void
p_int(pg_params *p, int64_t v)
{
    /* 21 bytes hold any int64 */
    (void)snprintf(p->num[p->n], sizeof(p->num[p->n]), "%lld", (long long)v);
    p_text(p, p->num[p->n]);
}

static void
p_bytes(pg_params *p, const uint8_t *b, size_t n)
{
    p->val[p->n] = (const char *)b;
    p->len[p->n] = (int)n;
    p->fmt[p->n] = 1;
    p->n++;
}

/*
 * Run prepared statement `st` (preparing it on first use on this
 * connection).  *out gets the result on MFA_OK (PQclear it).
 */
static mfa_rc
run(pg_store *st, pg_conn *pc, int which, const pg_params *p, PGresult **out)
{
    char name[16];
    PGresult *r;
    ExecStatusType s;

    *out = NULL;
    (void)snprintf(name, sizeof(name), "mfa_%d", which);
    if (!pc->prepared[which]) {
        r = PQprepare(pc->c, name, st->sql[which], p->n, NULL);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            mfa_rc rc = map_error(pc->c, r);
            PQclear(r);
            return rc;
        }
        PQclear(r);
        pc->prepared[which] = 1;
    }
    r = PQexecPrepared(pc->c, name, p->n, p->val, p->len, p->fmt, 1);
    s = PQresultStatus(r);
    if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK) {
        mfa_rc rc = map_error(pc->c, r);
        PQclear(r);
        return rc;
    }
    *out = r;
    return MFA_OK;
}

/* run() on a connection of its own, for single-statement operations. */
static mfa_rc
run1(pg_store *st, int which, const pg_params *p, PGresult **out)
{
    pg_conn *pc;
    mfa_rc rc;

    *out = NULL;
    if ((rc = acquire(st, &pc)) != MFA_OK)
        return rc;
    rc = run(st, pc, which, p, out);
    release(st, pc);
    return rc;
}

/* run1() for a statement whose RETURNING says whether it hit one row. */
static mfa_rc
run1_hit(pg_store *st, int which, const pg_params *p, int *hit)
{
    PGresult *r;
    mfa_rc rc;

    *hit = 0;
    if ((rc = run1(st, which, p, &r)) != MFA_OK)
        return rc;
    *hit = PQntuples(r) == 1;
    PQclear(r);
    return MFA_OK;
}

/* ---- decoding binary results --------------------------------------------- */

static int64_t
get_i64(const PGresult *r, int row, int col, int *ok)
{
    const unsigned char *b;
    uint64_t v = 0;
    int i;

    if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 8) {
        *ok = 0;
        return 0;
    }
    b = (const unsigned char *)PQgetvalue(r, row, col);
    for (i = 0; i < 8; i++)
        v = (v << 8) | b[i];
    return (int64_t)v;
}

/* A NUL-terminated copy into dst[size]; fails when it does not fit. */
static void
get_text(const PGresult *r, int row, int col, char *dst, size_t size, int *ok)
{
    int n = PQgetlength(r, row, col);

    if (PQgetisnull(r, row, col) || n < 0 || (size_t)n >= size) {
        *ok = 0;
        dst[0] = '\0';
        return;
    }
    memcpy(dst, PQgetvalue(r, row, col), (size_t)n);
    dst[n] = '\0';
}

static uint32_t
get_u32(const PGresult *r, int row, int col, int *ok)
{
    int64_t v = get_i64(r, row, col, ok);

    if (v < 0 || v > (int64_t)UINT32_MAX) {
        *ok = 0;
        return 0;
    }
    return (uint32_t)v;
}

static int32_t
get_i32(const PGresult *r, int row, int col, int *ok)
{
    int64_t v = get_i64(r, row, col, ok);

    if (v < INT32_MIN || v > INT32_MAX) {
        *ok = 0;
        return 0;
    }
    return (int32_t)v;
}

static mfa_rc
decode_factor(const PGresult *r, int row, mfa_factor_rec *f)
{
    int ok = 1, n;
    int64_t v;

    memset(f, 0, sizeof(*f));
    get_text(r, row, 0, f->id, sizeof(f->id), &ok);
    get_text(r, row, 1, f->account, sizeof(f->account), &ok);
    get_text(r, row, 2, f->label, sizeof(f->label), &ok);
    v = get_i64(r, row, 3, &ok);
    if (v != MFA_TOTP && v != MFA_HOTP)
        ok = 0;
    f->type = v == MFA_HOTP ? MFA_HOTP : MFA_TOTP;
    v = get_i64(r, row, 4, &ok);
    if (v != MFA_SHA1 && v != MFA_SHA256 && v != MFA_SHA512)
        ok = 0;
    f->algorithm = v == MFA_SHA256   ? MFA_SHA256
                   : v == MFA_SHA512 ? MFA_SHA512
                                     : MFA_SHA1;
    f->digits = get_u32(r, row, 5, &ok);
    f->period = get_u32(r, row, 6, &ok);
    f->t0 = get_i64(r, row, 7, &ok);
    f->last_step = get_i64(r, row, 8, &ok);
    f->drift = get_i32(r, row, 9, &ok);
    v = get_i64(r, row, 10, &ok);
    if (v != MFA_FACTOR_PENDING && v != MFA_FACTOR_ACTIVE)
        ok = 0;
    f->status = v == MFA_FACTOR_ACTIVE ? MFA_FACTOR_ACTIVE : MFA_FACTOR_PENDING;
    f->created = get_i64(r, row, 11, &ok);
    f->confirmed = get_i64(r, row, 12, &ok);
    f->last_used = get_i64(r, row, 13, &ok);
    n = PQgetlength(r, row, 14);
    if (PQgetisnull(r, row, 14) || n <= 0 || n > MFA_SEALED_MAX) {
        ok = 0;
    } else {
        memcpy(f->sealed, PQgetvalue(r, row, 14), (size_t)n);
        f->sealed_len = (uint32_t)n;
    }
    if (!ok) {
        memset(f, 0, sizeof(*f));
        return MFA_ERR_CORRUPT;
    }
    return MFA_OK;
}

/* ---- migrations ---------------------------------------------------------- */

/* The stored version, 0 without a version table; on an open connection. */
static mfa_rc
read_version(pg_store *st, pg_conn *pc, int *version)
{
    char sql[256];
    const char *vals[1];
    PGresult *r;
    mfa_rc rc = MFA_OK;
    int n;

    *version = 0;
    vals[0] = st->schema;
    r = PQexecParams(pc->c,
                     "SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = "
                     "$1 AND tablename = 'schema'",
                     1, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = map_error(pc->c, r);
        PQclear(r);
        return rc;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        return MFA_OK;
    }
    PQclear(r);
    n = snprintf(sql, sizeof(sql),
                 "SELECT coalesce(max(version), 0) FROM \"%s\".\"schema\"",
                 st->schema);
    if (n < 0 || (size_t)n >= sizeof(sql))
        return MFA_ERR_INTERNAL;
    r = PQexec(pc->c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        rc = map_error(pc->c, r);
    } else {
        long v = strtol(PQgetvalue(r, 0, 0), NULL, 10);
        if (v < 0 || v > INT_MAX)
            rc = MFA_ERR_CORRUPT;
        else
            *version = (int)v;
    }
    PQclear(r);
    return rc;
}

static mfa_rc
exec_sql(pg_store *st, pg_conn *pc, const char *sql_at)
{
    char *sql = expand(st, sql_at);
    PGresult *r;
    mfa_rc rc = MFA_OK;

    if (sql == NULL)
        return MFA_ERR_NOMEM;
    r = PQexec(pc->c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK &&
        PQresultStatus(r) != PGRES_TUPLES_OK)
        rc = map_error(pc->c, r);
    PQclear(r);
    free(sql);
    return rc;
}

/* A version-1 schema missing one of its tables is MFA_ERR_SCHEMA. */
static mfa_rc
check_tables(pg_store *st, pg_conn *pc)
{
    const char *vals[1];
    PGresult *r;
    mfa_rc rc = MFA_OK;

    vals[0] = st->schema;
    r = PQexecParams(pc->c, tables_sql, 1, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        rc = map_error(pc->c, r);
    else if (strtol(PQgetvalue(r, 0, 0), NULL, 10) != TABLES)
        rc = MFA_ERR_SCHEMA;
    PQclear(r);
    return rc;
}

static mfa_rc
pg_migrate(void *impl)
{
    pg_store *st = impl;
    pg_conn *pc;
    const char *vals[1];
    char lock[128];
    PGresult *r;
    int version, i, exists, n;
    mfa_rc rc;

    if ((rc = acquire(st, &pc)) != MFA_OK)
        return rc;
    /* a current schema is checked without a lock or any DDL, so that a
     * role with no right to create anything (the application's) opens it */
    if ((rc = read_version(st, pc, &version)) != MFA_OK)
        goto out;
    if (version > MFA_SCHEMA_VERSION) {
        rc = MFA_ERR_SCHEMA;
        goto out;
    }
    if (version == MFA_SCHEMA_VERSION) {
        rc = check_tables(st, pc);
        goto out;
    }
    if ((rc = simple(pc, "BEGIN")) != MFA_OK)
        goto out;
    /* servers starting together: one migrates, the others wait and see */
    n = snprintf(lock, sizeof(lock),
                 "SELECT pg_advisory_xact_lock(%d, hashtext('%s'))",
                 PG_LOCK_CLASS, st->schema);
    rc = n < 0 || (size_t)n >= sizeof(lock) ? MFA_ERR_INTERNAL : MFA_OK;
    if (rc != MFA_OK || (rc = exec_sql(st, pc, lock)) != MFA_OK)
        goto out;
    /* CREATE SCHEMA needs the CREATE privilege even with IF NOT EXISTS: a
     * role given an existing schema by its DBA must not need it */
    vals[0] = st->schema;
    r = PQexecParams(pc->c,
                     "SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = "
                     "$1",
                     1, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = map_error(pc->c, r);
        PQclear(r);
        goto out;
    }
    exists = PQntuples(r) > 0;
    PQclear(r);
    if (!exists && (rc = exec_sql(st, pc, "CREATE SCHEMA @")) != MFA_OK)
        goto out;
    if ((rc = exec_sql(st, pc,
                       "CREATE TABLE IF NOT EXISTS @.\"schema\" ("
                       "version integer NOT NULL)")) != MFA_OK)
        goto out;
    if ((rc = read_version(st, pc, &version)) != MFA_OK)
        goto out;
    if (version > MFA_SCHEMA_VERSION || version > MIGRATIONS) {
        rc = MFA_ERR_SCHEMA;
        goto out;
    }
    for (i = version; i < MIGRATIONS && i < MFA_SCHEMA_VERSION; i++)
        if ((rc = exec_sql(st, pc, migration[i])) != MFA_OK)
            goto out;
    if (version < MFA_SCHEMA_VERSION) {
        char sql[64];
        if ((rc = exec_sql(st, pc, "DELETE FROM @.\"schema\"")) != MFA_OK)
            goto out;
        /* a small int in 64 bytes */
        (void)snprintf(sql, sizeof(sql), "INSERT INTO @.\"schema\" VALUES (%d)",
                       MFA_SCHEMA_VERSION);
        if ((rc = exec_sql(st, pc, sql)) != MFA_OK)
            goto out;
    }
    if ((rc = check_tables(st, pc)) != MFA_OK)
        goto out;
    rc = simple(pc, "COMMIT");
out:
    release(st, pc); /* rolls back what an error left open */
    return rc;
}

static mfa_rc
pg_schema_version(void *impl, int *version)
{
    pg_store *st = impl;
    pg_conn *pc;
    mfa_rc rc;

    *version = 0;
    if ((rc = acquire(st, &pc)) != MFA_OK)
        return rc;
    rc = read_version(st, pc, version);
    release(st, pc);
    return rc;
}

/* ---- factors ------------------------------------------------------------- */

static mfa_rc
pg_factor_create(void *impl, const mfa_factor_rec *f)
{
    pg_params p = {0};
    PGresult *r;
    mfa_rc rc;

    p_text(&p, f->id);
    p_text(&p, f->account);
    p_text(&p, f->label);
    p_int(&p, f->type);
    p_int(&p, f->algorithm);
    p_int(&p, f->digits);
    p_int(&p, f->period);
    p_int(&p, f->t0);
    p_int(&p, f->last_step);
    p_int(&p, f->drift);
    p_int(&p, f->status);
    p_int(&p, f->created);
    p_int(&p, f->confirmed);
    p_int(&p, f->last_used);
    p_bytes(&p, f->sealed, f->sealed_len);
    if ((rc = run1(impl, ST_FACTOR_CREATE, &p, &r)) != MFA_OK)
        return rc;
    rc = PQntuples(r) == 1 ? MFA_OK : MFA_ERR_EXISTS;
    PQclear(r);
    return rc;
}

static mfa_rc
pg_factor_get(void *impl, const char *account, const char *id,
              mfa_factor_rec *out)
{
    pg_params p = {0};
    PGresult *r;
    mfa_rc rc;

    p_text(&p, account);
    p_text(&p, id);
    if ((rc = run1(impl, ST_FACTOR_GET, &p, &r)) != MFA_OK)
        return rc;
    rc = PQntuples(r) == 1 ? decode_factor(r, 0, out) : MFA_ERR_NOT_FOUND;
    PQclear(r);
    return rc;
}

/* Callbacks run on a decoded copy, with no connection held. */
static mfa_rc
each_row(const PGresult *r, mfa_factor_cb cb, void *arg)
{
    mfa_factor_rec f;
    mfa_rc rc = MFA_OK;
    int i;

    for (i = 0; i < PQntuples(r) && rc == MFA_OK; i++) {
        rc = decode_factor(r, i, &f);
        if (rc == MFA_OK)
            rc = cb(&f, arg);
    }
    sodium_memzero(&f, sizeof(f));
    return rc;
}

static mfa_rc
pg_factor_list(void *impl, const char *account, mfa_factor_cb cb, void *arg)
{
    pg_params p = {0};
    PGresult *r;
    mfa_rc rc;

    p_text(&p, account);
    if ((rc = run1(impl, ST_FACTOR_LIST, &p, &r)) != MFA_OK)
        return rc;
    rc = each_row(r, cb, arg);
    PQclear(r);
    return rc;
}

static mfa_rc
pg_factor_each(void *impl, mfa_factor_cb cb, void *arg)
{
    char account[MFA_ACCOUNT_MAX + 1] = "", id[MFA_FACTOR_ID_LEN + 1] = "";
    int64_t created = INT64_MIN;
    PGresult *r;
    mfa_rc rc;
    int n;

    do {
        pg_params p = {0};
        int ok = 1;

        p_text(&p, account);
        p_int(&p, created);
        p_text(&p, id);
        if ((rc = run1(impl, ST_FACTOR_EACH, &p, &r)) != MFA_OK)
            return rc;
        n = PQntuples(r);
        if (n > 0) {
            get_text(r, n - 1, 1, account, sizeof(account), &ok);
            created = get_i64(r, n - 1, 11, &ok);
            get_text(r, n - 1, 0, id, sizeof(id), &ok);
        }
        rc = ok ? each_row(r, cb, arg) : MFA_ERR_CORRUPT;
        PQclear(r);
    } while (rc == MFA_OK && n == PG_EACH_BATCH_N);
    return rc;
}

/* Status, created and last step of a factor, to explain a refused update. */
static mfa_rc
factor_state(pg_store *st, const char *account, const char *id, int64_t *status,
             int64_t *created, int64_t *last_step)
{
    pg_params p = {0};
    PGresult *r;
    mfa_rc rc;
    int ok = 1;

    p_text(&p, account);
    p_text(&p, id);
    if ((rc = run1(st, ST_FACTOR_STATE, &p, &r)) != MFA_OK)
        return rc;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return MFA_ERR_NOT_FOUND;
    }
    *status = get_i64(r, 0, 0, &ok);
    *created = get_i64(r, 0, 1, &ok);
    *last_step = get_i64(r, 0, 2, &ok);
    PQclear(r);
    return ok ? MFA_OK : MFA_ERR_CORRUPT;
}

static mfa_rc
pg_factor_activate(void *impl, const char *account, const char *id,
                   int64_t step, int32_t drift, int64_t created_after,
                   int64_t now)
{
    pg_params p = {0};
    int64_t status, created, last;
    mfa_rc rc;
    int hit;

    p_text(&p, account);
    p_text(&p, id);
    p_int(&p, step);
    p_int(&p, drift);
    p_int(&p, created_after);
    p_int(&p, now);
    if ((rc = run1_hit(impl, ST_FACTOR_ACTIVATE, &p, &hit)) != MFA_OK)
        return rc;
    if (hit)
        return MFA_OK;
    /* refused: say why (the row may change meanwhile; any answer is a
     * refusal, which is what matters) */
    if ((rc = factor_state(impl, account, id, &status, &created, &last)) !=
        MFA_OK)
        return rc;
    if (status != MFA_FACTOR_PENDING)
        return MFA_ERR_STATE;
    if (created < created_after)
        return MFA_ERR_EXPIRED;
    return MFA_ERR_STORE; /* pending and young: it changed under us */
}

static mfa_rc
pg_factor_rename(void *impl, const char *account, const char *id,
                 const char *label)
{
    pg_params p = {0};
    int hit;
    mfa_rc rc;

    p_text(&p, account);
    p_text(&p, id);
    p_text(&p, label);
    if ((rc = run1_hit(impl, ST_FACTOR_RENAME, &p, &hit)) != MFA_OK)
        return rc;
    return hit ? MFA_OK : MFA_ERR_NOT_FOUND;
}

static mfa_rc
pg_factor_remove(void *impl, const char *account, const char *id)
{
    pg_params p = {0};
    int hit;
    mfa_rc rc;

    p_text(&p, account);
    p_text(&p, id);
    if ((rc = run1_hit(impl, ST_FACTOR_REMOVE, &p, &hit)) != MFA_OK)
        return rc;
    return hit ? MFA_OK : MFA_ERR_NOT_FOUND;
}

static mfa_rc
pg_factor_advance(void *impl, const char *account, const char *id, int64_t step,
                  int32_t drift, int64_t now)
{
    pg_params p = {0};
    int64_t status, created, last;
    mfa_rc rc;
    int hit;

    p_text(&p, account);
    p_text(&p, id);
    p_int(&p, step);
    p_int(&p, drift);
    p_int(&p, now);
    if ((rc = run1_hit(impl, ST_FACTOR_ADVANCE, &p, &hit)) != MFA_OK)
        return rc;
    if (hit)
        return MFA_OK;
    if ((rc = factor_state(impl, account, id, &status, &created, &last)) !=
        MFA_OK)
        return rc;
    if (status != MFA_FACTOR_ACTIVE)
        return MFA_ERR_STATE;
    return MFA_ERR_REPLAYED;
}

static mfa_rc
pg_factor_reseal(void *impl, const char *account, const char *id,
                 const uint8_t *old, size_t oldlen, const uint8_t *sealed,
                 size_t len)
{
    pg_params p = {0};
    int64_t status, created, last;
    mfa_rc rc;
    int hit;

    p_text(&p, account);
    p_text(&p, id);
    p_bytes(&p, old, oldlen);
    p_bytes(&p, sealed, len);
    if ((rc = run1_hit(impl, ST_FACTOR_RESEAL, &p, &hit)) != MFA_OK)
        return rc;
    if (hit)
        return MFA_OK;
    if ((rc = factor_state(impl, account, id, &status, &created, &last)) !=
        MFA_OK)
        return rc;
    return MFA_ERR_STATE; /* resealed by someone else meanwhile */
}

static mfa_rc
pg_factor_expire(void *impl, int64_t before, size_t *n)
{
    pg_params p = {0};
    PGresult *r;
    mfa_rc rc;

    *n = 0;
    p_int(&p, before);
    if ((rc = run1(impl, ST_FACTOR_EXPIRE, &p, &r)) != MFA_OK)
        return rc;
    *n = (size_t)strtoul(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return MFA_OK;
}

/* ---- throttle ------------------------------------------------------------ */

static mfa_rc
pg_throttle_hit(void *impl, const char *account, int64_t now,
                const mfa_throttle_policy *pol, mfa_throttle_state *out)
{
    pg_store *st = impl;
    pg_params p = {0};
    PGresult *r;
    int64_t before;
    mfa_rc rc;
    int ok = 1, tries;

    p_text(&p, account);
    p_int(&p, now);
    p_int(&p, pol->free_attempts);
    p_int(&p, pol->base_delay);
    p_int(&p, pol->max_delay);
    /* the account's first attempt creates its row, then counts */
    for (tries = 0; tries < 3; tries++) {
        pg_params q = {0};

        if ((rc = run1(st, ST_THROTTLE_HIT, &p, &r)) != MFA_OK)
            return rc;
        if (PQntuples(r) == 1)
            break;
        PQclear(r);
        p_text(&q, account);
        if ((rc = run1(st, ST_THROTTLE_CREATE, &q, &r)) != MFA_OK)
            return rc;
        PQclear(r);
    }
    if (tries == 3)
        return MFA_ERR_BUSY; /* reset between create and count, thrice */
    out->failures = get_u32(r, 0, 0, &ok);
    out->locked_until = get_i64(r, 0, 1, &ok);
    before = get_i64(r, 0, 2, &ok);
    PQclear(r);
    if (!ok) {
        out->failures = 0;
        out->locked_until = 0;
        return MFA_ERR_CORRUPT;
    }
    return now < before ? MFA_ERR_THROTTLED : MFA_OK;
}

static mfa_rc
pg_throttle_reset(void *impl, const char *account)
{
    pg_params p = {0};
    PGresult *r;
    mfa_rc rc;

    p_text(&p, account);
    if ((rc = run1(impl, ST_THROTTLE_RESET, &p, &r)) != MFA_OK)
        return rc;
    PQclear(r);
    return MFA_OK;
}

static mfa_rc
pg_throttle_get(void *impl, const char *account, mfa_throttle_state *out)
{
    pg_params p = {0};
    PGresult *r;
    mfa_rc rc = MFA_OK;
    int ok = 1;

    out->failures = 0;
    out->locked_until = 0;
    p_text(&p, account);
    if ((rc = run1(impl, ST_THROTTLE_GET, &p, &r)) != MFA_OK)
        return rc;
    if (PQntuples(r) == 1) {
        out->failures = get_u32(r, 0, 0, &ok);
        out->locked_until = get_i64(r, 0, 1, &ok);
        if (!ok) {
            out->failures = 0;
            out->locked_until = 0;
            rc = MFA_ERR_CORRUPT;
        }
    }
    PQclear(r);
    return rc;
}

/* ---- backup codes -------------------------------------------------------- */

static mfa_rc
pg_backup_replace(void *impl, const char *account, const mfa_backup_rec *codes,
                  size_t n, int64_t now)
{
    pg_store *st = impl;
    pg_params p = {0};
    pg_conn *pc;
    PGresult *r;
    size_t i;
    mfa_rc rc;

    if ((rc = acquire(st, &pc)) != MFA_OK)
        return rc;
    if ((rc = simple(pc, "BEGIN")) != MFA_OK)
        goto out;
    p_text(&p, account);
    if ((rc = run(st, pc, ST_BACKUP_DELETE, &p, &r)) != MFA_OK)
        goto out;
    PQclear(r);
    for (i = 0; i < n; i++) {
        pg_params q = {0};
        p_text(&q, account);
        p_bytes(&q, codes[i].hash, MFA_BACKUP_HASHBYTES);
        p_int(&q, codes[i].key_id);
        p_int(&q, now);
        if ((rc = run(st, pc, ST_BACKUP_INSERT, &q, &r)) != MFA_OK)
            goto out;
        PQclear(r);
    }
    rc = simple(pc, "COMMIT");
out:
    release(st, pc);
    return rc;
}

static mfa_rc
pg_backup_list(void *impl, const char *account, mfa_backup_rec *out, size_t max,
               size_t *n)
{
    pg_params p = {0};
    PGresult *r;
    mfa_rc rc = MFA_OK;
    int i, rows, ok = 1;

    *n = 0;
    if (max > MFA_BACKUP_COUNT_MAX * 4)
        max = MFA_BACKUP_COUNT_MAX * 4;
    p_text(&p, account);
    p_int(&p, (int64_t)max);
    if ((rc = run1(impl, ST_BACKUP_LIST, &p, &r)) != MFA_OK)
        return rc;
    rows = PQntuples(r);
    for (i = 0; i < rows && (size_t)i < max; i++) {
        if (PQgetlength(r, i, 0) != MFA_BACKUP_HASHBYTES) {
            ok = 0;
            break;
        }
        memcpy(out[i].hash, PQgetvalue(r, i, 0), MFA_BACKUP_HASHBYTES);
        out[i].key_id = get_u32(r, i, 1, &ok);
    }
    PQclear(r);
    if (!ok)
        return MFA_ERR_CORRUPT;
    *n = (size_t)i;
    return rc;
}

static mfa_rc
pg_backup_spend(void *impl, const char *account,
                const uint8_t hash[MFA_BACKUP_HASHBYTES], int64_t now)
{
    pg_params p = {0};
    int hit;
    mfa_rc rc;

    p_text(&p, account);
    p_bytes(&p, hash, MFA_BACKUP_HASHBYTES);
    p_int(&p, now);
    if ((rc = run1_hit(impl, ST_BACKUP_SPEND, &p, &hit)) != MFA_OK)
        return rc;
    return hit ? MFA_OK : MFA_ERR_NOT_FOUND;
}

/* ---- out-of-band challenges ---------------------------------------------- */

static mfa_rc
pg_oob_put(void *impl, const char *account, const mfa_oob_challenge *c)
{
    pg_params p = {0};
    PGresult *r;
    mfa_rc rc;

    p_text(&p, account);
    p_text(&p, c->purpose);
    p_bytes(&p, c->hash, MFA_BACKUP_HASHBYTES);
    p_int(&p, c->key_id);
    p_int(&p, c->created);
    p_int(&p, c->expires);
    p_int(&p, c->attempts_left);
    if ((rc = run1(impl, ST_OOB_PUT, &p, &r)) != MFA_OK)
        return rc;
    PQclear(r);
    return MFA_OK;
}

static mfa_rc
pg_oob_take(void *impl, const char *account, const char *purpose, int64_t now,
            mfa_oob_challenge *out)
{
    pg_params p = {0};
    PGresult *r;
    mfa_rc rc;
    int ok = 1;

    p_text(&p, account);
    p_text(&p, purpose);
    p_int(&p, now);
    if ((rc = run1(impl, ST_OOB_TAKE, &p, &r)) != MFA_OK)
        return rc;
    if (PQntuples(r) == 1) {
        memset(out, 0, sizeof(*out));
        if (PQgetlength(r, 0, 0) != MFA_BACKUP_HASHBYTES)
            ok = 0;
        else
            memcpy(out->hash, PQgetvalue(r, 0, 0), MFA_BACKUP_HASHBYTES);
        out->key_id = get_u32(r, 0, 1, &ok);
        /* the wrapper checked purpose's length */
        (void)snprintf(out->purpose, sizeof(out->purpose), "%s", purpose);
        out->created = get_i64(r, 0, 2, &ok);
        out->expires = get_i64(r, 0, 3, &ok);
        out->attempts_left = get_i32(r, 0, 4, &ok);
        PQclear(r);
        return ok ? MFA_OK : MFA_ERR_CORRUPT;
    }
    PQclear(r);
    /* refused: not there, expired or out of attempts */
    {
        pg_params q = {0};
        int64_t expires;

        p_text(&q, account);
        p_text(&q, purpose);
        if ((rc = run1(impl, ST_OOB_GET, &q, &r)) != MFA_OK)
            return rc;
        if (PQntuples(r) != 1) {
            PQclear(r);
            return MFA_ERR_NOT_FOUND;
        }
        expires = get_i64(r, 0, 0, &ok);
        PQclear(r);
        if (!ok)
            return MFA_ERR_CORRUPT;
        return now >= expires ? MFA_ERR_EXPIRED : MFA_ERR_ATTEMPTS;
    }
}

static mfa_rc
pg_oob_spend(void *impl, const char *account, const char *purpose,
             const uint8_t hash[MFA_BACKUP_HASHBYTES])
{
    pg_params p = {0};
    int hit;
    mfa_rc rc;

    p_text(&p, account);
    p_text(&p, purpose);
    p_bytes(&p, hash, MFA_BACKUP_HASHBYTES);
    if ((rc = run1_hit(impl, ST_OOB_SPEND, &p, &hit)) != MFA_OK)
        return rc;
    return hit ? MFA_OK : MFA_ERR_NOT_FOUND;
}

static mfa_rc
pg_account_reset(void *impl, const char *account)
{
    pg_params p = {0};
    PGresult *r;
    mfa_rc rc;

    p_text(&p, account);
    if ((rc = run1(impl, ST_ACCOUNT_RESET, &p, &r)) != MFA_OK)
        return rc;
    PQclear(r);
    return MFA_OK;
}

/* ---- open and close ------------------------------------------------------ */

static void
pg_close(void *impl)
{
    pg_store *st = impl;
    pg_conn *pc;
    int i;

    if (st == NULL)
        return;
    if (st->pid != getpid())
        st->idle = NULL; /* the parent's connections: not ours to end */
    while ((pc = st->idle) != NULL) {
        st->idle = pc->next;
        if (pc->c != NULL)
            PQfinish(pc->c);
        free(pc);
    }
    for (i = 0; i < ST_COUNT; i++)
        free(st->sql[i]);
    if (st->conninfo != NULL) {
        /* it may carry a password */
        sodium_memzero(st->conninfo, strlen(st->conninfo));
        free(st->conninfo);
    }
    pthread_cond_destroy(&st->cv);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

static const mfa_store_ops pg_ops = {
    .abi = MFA_STORE_ABI,
    .name = "postgres",
    .close = pg_close,
    .migrate = pg_migrate,
    .schema_version = pg_schema_version,
    .factor_create = pg_factor_create,
    .factor_get = pg_factor_get,
    .factor_list = pg_factor_list,
    .factor_each = pg_factor_each,
    .factor_activate = pg_factor_activate,
    .factor_rename = pg_factor_rename,
    .factor_remove = pg_factor_remove,
    .factor_advance = pg_factor_advance,
    .factor_reseal = pg_factor_reseal,
    .factor_expire = pg_factor_expire,
    .throttle_hit = pg_throttle_hit,
    .throttle_reset = pg_throttle_reset,
    .throttle_get = pg_throttle_get,
    .backup_replace = pg_backup_replace,
    .backup_list = pg_backup_list,
    .backup_spend = pg_backup_spend,
    .oob_put = pg_oob_put,
    .oob_take = pg_oob_take,
    .oob_spend = pg_oob_spend,
    .account_reset = pg_account_reset,
};

mfa_rc
mfa_store_postgres_open(mfa_store_t **out, const char *conninfo,
                        const char *schema)
{
    pg_store *st;
    mfa_rc rc;
    int i;

    if (out == NULL)
        return MFA_ERR_INVALID;
    *out = NULL;
    if (conninfo == NULL)
        return MFA_ERR_INVALID;
    if (schema == NULL)
        schema = "mfa";
    if (!schema_ok(schema))
        return MFA_ERR_INVALID;
    if (mfa_int_init() != MFA_OK)
        return MFA_ERR_INTERNAL;
    st = calloc(1, sizeof(*st));
    if (st == NULL)
        return MFA_ERR_NOMEM;
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cv, NULL);
    st->pid = getpid();
    /* the schema name was checked against its size above */
    (void)snprintf(st->schema, sizeof(st->schema), "%s", schema);
    st->conninfo = strdup(conninfo);
    if (st->conninfo == NULL) {
        pg_close(st);
        return MFA_ERR_NOMEM;
    }
    for (i = 0; i < ST_COUNT; i++) {
        st->sql[i] = expand(st, stmt_sql[i]);
        if (st->sql[i] == NULL) {
            pg_close(st);
            return MFA_ERR_NOMEM;
        }
    }
    if ((rc = pg_migrate(st)) != MFA_OK) {
        pg_close(st);
        return rc;
    }
    if ((rc = mfa_store_new(out, &pg_ops, st)) != MFA_OK) {
        pg_close(st);
        return rc;
    }
    return MFA_OK;
}
