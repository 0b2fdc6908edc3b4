/*
 * The PostgreSQL store (libpq): the engine for several application servers
 * sharing one database.  It provides the transactions and row operations
 * of <mfa/store-backend.h>; every rule lives in the service layer.
 *
 * Transactions.  A write transaction on an account is BEGIN plus a
 * transaction-scoped advisory lock keyed by a 64-bit hash of (schema,
 * account), sent as one simple query: one round trip.  Two servers working
 * on one account queue on that lock, different accounts (different keys)
 * run in parallel, and the lock lives only in the server's lock table, so
 * an attacker inventing account names makes no row.  Statements run under
 * READ COMMITTED, each with a snapshot taken after the lock was granted, so
 * they see everything the previous holder committed (a REPEATABLE READ
 * snapshot would be taken by the lock statement itself, before the wait).
 * A read transaction is plain statements on a connection of its own, each
 * its own snapshot: no lock, no BEGIN or COMMIT round trips (the decisions
 * that need one consistent view all run in write transactions); its write
 * operations are refused here, before reaching the server.  A store-wide
 * write transaction is a plain READ COMMITTED one.  A transaction holds one
 * pooled connection from begin to commit or rollback, and a write flow
 * ends with exactly one COMMIT.
 *
 * Connections: a small pool, each connection used by one transaction at a
 * time, statements prepared lazily once per connection.  A connection that
 * broke (server restart, pg_terminate_backend, network) is dropped and a
 * new one made on the next begin; a transaction whose connection broke
 * returns MFA_ERR_STORE and is rolled back by the server.  While the
 * server is unreachable every call returns MFA_ERR_STORE: nothing is ever
 * accepted without the database.  A forked child forgets its parent's
 * connections and makes its own.
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

#include <mfa/store-backend.h>

#include "schema.h"
#include "store_int.h"

#define PG_POOL_MAX 8          /* connections per store */
#define PG_SCHEMA_MAX 63       /* PostgreSQL's NAMEDATALEN - 1 */
#define PG_LOCK_CLASS 0x6d6661 /* "mfa": advisory lock class of migrations */

/* ---- statements ---------------------------------------------------------- */

/*
 * SQL text with '@' standing for the quoted schema name.  Integer columns
 * are bigint throughout (uint32 values fit; decoding has one width).
 * Every operation is one statement: no operation makes the server abort
 * the transaction for an expected outcome (a taken key is ON CONFLICT DO
 * NOTHING), so the service may go on after EXISTS or NOT_FOUND.
 */
#define FACTOR_COLS                                                            \
    "id, account, label, type, algorithm, digits, period, t0, last_step, "     \
    "drift, status, created, confirmed, last_used, sealed"

#define DEVICE_COLS "id, label, hash, key_id, created, last_seen, trusted_until"

enum {
    ST_FACTOR_LIST,
    ST_FACTOR_GET,
    ST_FACTOR_INSERT,
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
    ST_ACCOUNT_DELETE,
    ST_THROTTLE_LIST,
    ST_DEVICE_LIST,
    ST_DEVICE_GET,
    ST_DEVICE_PUT,
    ST_DEVICE_DELETE,
    ST_STATE_SCAN,
    ST_WA_LIST,
    ST_WA_GET,
    ST_WA_INSERT,
    ST_WA_UPDATE,
    ST_WA_DELETE,
    ST_WA_HANDLE_GET,
    ST_WA_HANDLE_PUT,
    ST_WA_HANDLE_FIND,
    ST_WA_SPEND,
    ST_WA_EXPIRE,
    ST_WA_EXPIRE_ALL,
    ST_COUNT
};

/* $1 is the account, these $2..$15 */
#define WA_COLS                                                                \
    "factor_id, label, credential_id, public_key, algorithm, sign_count, "     \
    "transports, flags, aaguid, att_format, att_trust, user_handle, "          \
    "created, last_used"

static const char *const stmt_sql[ST_COUNT] = {
    [ST_FACTOR_LIST] = "SELECT " FACTOR_COLS " FROM @.factor WHERE account = "
                       "$1 ORDER BY created, id",
    [ST_FACTOR_GET] =
        "SELECT " FACTOR_COLS " FROM @.factor WHERE account = $1 AND id = $2",
    [ST_FACTOR_INSERT] =
        "INSERT INTO @.factor (" FACTOR_COLS ") VALUES ($1, $2, $3, $4, $5, "
        "$6, $7, $8, $9, $10, $11, $12, $13, $14, $15) "
        "ON CONFLICT (id) DO NOTHING RETURNING 1",
    /* the parameters of the insert, in the same order */
    [ST_FACTOR_UPDATE] =
        "UPDATE @.factor SET label = $3, type = $4, algorithm = $5, digits = "
        "$6, period = $7, t0 = $8, last_step = $9, drift = $10, status = $11, "
        "created = $12, confirmed = $13, last_used = $14, sealed = $15 WHERE "
        "id = $1 AND account = $2 RETURNING 1",
    [ST_FACTOR_DELETE] =
        "DELETE FROM @.factor WHERE account = $1 AND id = $2 RETURNING 1",
    /* keys are COLLATE "C": the order of bytes, as in every backend */
    [ST_FACTOR_SCAN] = "SELECT " FACTOR_COLS " FROM @.factor WHERE (account, "
                       "id) > ($1, $2) ORDER BY account, id LIMIT $3",
    [ST_FACTOR_EXPIRE] =
        "DELETE FROM @.factor WHERE status = 0 AND created < $1",
    [ST_THROTTLE_GET] = "SELECT failures, locked_until, updated FROM "
                        "@.throttle WHERE account = $1 AND bucket = $2",
    [ST_THROTTLE_PUT] =
        "INSERT INTO @.throttle (account, bucket, failures, locked_until, "
        "updated) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account, bucket) "
        "DO UPDATE SET failures = excluded.failures, locked_until = "
        "excluded.locked_until, updated = excluded.updated",
    [ST_THROTTLE_DELETE] =
        "DELETE FROM @.throttle WHERE account = $1 AND bucket = $2",
    [ST_BACKUP_LIST] = "SELECT hash, key_id FROM @.backup_code WHERE account "
                       "= $1 AND used IS NULL ORDER BY seq LIMIT $2",
    [ST_BACKUP_INSERT] = "INSERT INTO @.backup_code (account, hash, key_id, "
                         "created, used) VALUES ($1, $2, $3, $4, NULL) ON "
                         "CONFLICT (account, hash) DO NOTHING RETURNING 1",
    [ST_BACKUP_USE] = "UPDATE @.backup_code SET used = $3 WHERE account = $1 "
                      "AND hash = $2 AND used IS NULL RETURNING 1",
    [ST_BACKUP_CLEAR] = "DELETE FROM @.backup_code WHERE account = $1",
    [ST_OOB_GET] = "SELECT hash, key_id, created, expires, attempts_left FROM "
                   "@.oob_challenge WHERE account = $1 AND purpose = $2",
    [ST_OOB_PUT] =
        "INSERT INTO @.oob_challenge (account, purpose, hash, key_id, "
        "created, expires, attempts_left) VALUES ($1, $2, $3, $4, $5, $6, "
        "$7) ON CONFLICT (account, purpose) DO UPDATE SET hash = "
        "excluded.hash, key_id = excluded.key_id, created = excluded.created, "
        "expires = excluded.expires, attempts_left = excluded.attempts_left",
    [ST_OOB_DELETE] =
        "DELETE FROM @.oob_challenge WHERE account = $1 AND purpose = $2",
    [ST_ACCOUNT_DELETE] =
        "WITH f AS (DELETE FROM @.factor WHERE account = $1), "
        "b AS (DELETE FROM @.backup_code WHERE account = $1), "
        "o AS (DELETE FROM @.oob_challenge WHERE account = $1), "
        "d AS (DELETE FROM @.device WHERE account = $1), "
        "wc AS (DELETE FROM @.webauthn_credential WHERE account = $1), "
        "wu AS (DELETE FROM @.webauthn_user WHERE account = $1), "
        "ws AS (DELETE FROM @.webauthn_spent WHERE account = $1) "
        "DELETE FROM @.throttle WHERE account = $1",
    [ST_THROTTLE_LIST] =
        "SELECT bucket, failures, locked_until, updated FROM "
        "@.throttle WHERE account = $1 ORDER BY bucket LIMIT $2",
    [ST_DEVICE_LIST] = "SELECT " DEVICE_COLS " FROM @.device WHERE account = "
                       "$1 ORDER BY created, id LIMIT $2",
    [ST_DEVICE_GET] = "SELECT " DEVICE_COLS " FROM @.device WHERE account = "
                      "$1 AND id = $2",
    [ST_DEVICE_PUT] =
        "INSERT INTO @.device (account, " DEVICE_COLS ") VALUES ($1, $2, $3, "
        "$4, $5, $6, $7, $8) ON CONFLICT (account, id) DO UPDATE SET label = "
        "excluded.label, hash = excluded.hash, key_id = excluded.key_id, "
        "created = excluded.created, last_seen = excluded.last_seen, "
        "trusted_until = excluded.trusted_until",
    [ST_DEVICE_DELETE] =
        "DELETE FROM @.device WHERE account = $1 AND id = $2 RETURNING 1",
    /* keys are COLLATE "C": bytewise order, as in every backend */
    [ST_STATE_SCAN] =
        "SELECT account FROM @.throttle WHERE account > $1 UNION SELECT "
        "account FROM @.device WHERE account > $1 ORDER BY 1 LIMIT $2",
    [ST_WA_LIST] = "SELECT " WA_COLS " FROM @.webauthn_credential WHERE "
                   "account = $1 ORDER BY created, factor_id",
    [ST_WA_GET] = "SELECT " WA_COLS " FROM @.webauthn_credential WHERE "
                  "account = $1 AND factor_id = $2",
    /* no conflict target: a taken factor id and a taken credential id
     * are both "exists" */
    [ST_WA_INSERT] = "INSERT INTO @.webauthn_credential (account, " WA_COLS
                     ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "
                     "$12, $13, $14, $15) ON CONFLICT DO NOTHING RETURNING 1",
    /* a login's update changes no indexed value: a HOT update, no index
     * entry written (when the page has room) */
    [ST_WA_UPDATE] =
        "UPDATE @.webauthn_credential SET label = $3, credential_id = $4, "
        "public_key = $5, algorithm = $6, sign_count = $7, transports = $8, "
        "flags = $9, aaguid = $10, att_format = $11, att_trust = $12, "
        "user_handle = $13, created = $14, last_used = $15 WHERE account = $1 "
        "AND factor_id = $2 RETURNING 1",
    [ST_WA_DELETE] = "DELETE FROM @.webauthn_credential WHERE account = $1 "
                     "AND factor_id = $2 RETURNING 1",
    [ST_WA_HANDLE_GET] = "SELECT handle FROM @.webauthn_user WHERE account "
                         "= $1",
    [ST_WA_HANDLE_PUT] = "INSERT INTO @.webauthn_user (account, handle, "
                         "created) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING "
                         "RETURNING 1",
    [ST_WA_HANDLE_FIND] = "SELECT account FROM @.webauthn_user WHERE handle "
                          "= $1",
    [ST_WA_SPEND] = "INSERT INTO @.webauthn_spent (account, nonce, expires) "
                    "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING 1",
    [ST_WA_EXPIRE] = "DELETE FROM @.webauthn_spent WHERE account = $1 AND "
                     "expires < $2",
    [ST_WA_EXPIRE_ALL] = "DELETE FROM @.webauthn_spent WHERE expires < $1",
};

/* ---- the store object ---------------------------------------------------- */

typedef struct pg_conn pg_conn;
typedef struct pg_store pg_store;

/* A transaction is its connection's: no allocation per flow. */
struct mfa_store_txn {
    pg_store *st;
    pg_conn *pc;
    int read;   /* MFA_TXN_READ: plain statements, no transaction */
    int failed; /* a statement failed: commit is refused */
};

struct pg_conn {
    PGconn *c;                        /* NULL: (re)connect before use */
    unsigned char prepared[ST_COUNT]; /* on this connection */
    pg_conn *next;                    /* idle list */
    struct mfa_store_txn txn;
};

struct pg_store {
    char *conninfo;
    char schema[PG_SCHEMA_MAX + 1];
    char *sql[ST_COUNT]; /* with the schema substituted */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pg_conn *idle;
    unsigned total; /* connections made, idle or in use */
    pid_t pid;      /* the process whose connections these are */
};

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
 * Session settings: READ COMMITTED whatever the server's default (see the
 * top of the file), and timeouts unless the role, the database or the
 * connection string chose their own: a lock held elsewhere makes begin
 * MFA_ERR_BUSY after lock_timeout, and a transaction left open (a stuck
 * application thread) is ended by the server.
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
 * the end of the stream.  Dropping it here spares the next begin an error.
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

/* Back to the pool, with no transaction left open on it. */
static void
release(pg_store *st, pg_conn *pc)
{
    if (pc->c != NULL && PQstatus(pc->c) == CONNECTION_OK &&
        PQtransactionStatus(pc->c) != PQTRANS_IDLE) {
        PGresult *r = PQexec(pc->c, "ROLLBACK");
        if (PQresultStatus(r) != PGRES_COMMAND_OK ||
            PQtransactionStatus(pc->c) != PQTRANS_IDLE) {
            /* a connection in an unknown state is never reused */
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

/*
 * Parameters of one statement: text for numbers and strings, binary for
 * bytea.  Results come back in binary.
 */
#define PG_PARAMS_MAX 15

typedef struct pg_params {
    int n;
    const char *val[PG_PARAMS_MAX];
    int len[PG_PARAMS_MAX];
    int fmt[PG_PARAMS_MAX];
    char num[PG_PARAMS_MAX][24];
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

/* The statements that write: refused in a read transaction. */
static int
writes(int which)
{
    return which != ST_FACTOR_LIST && which != ST_FACTOR_GET &&
           which != ST_FACTOR_SCAN && which != ST_THROTTLE_GET &&
           which != ST_BACKUP_LIST && which != ST_OOB_GET &&
           which != ST_THROTTLE_LIST && which != ST_DEVICE_LIST &&
           which != ST_DEVICE_GET && which != ST_STATE_SCAN &&
           which != ST_WA_LIST && which != ST_WA_GET &&
           which != ST_WA_HANDLE_GET && which != ST_WA_HANDLE_FIND;
}

static mfa_rc run_once(mfa_store_txn *t, int which, const pg_params *p,
                       PGresult **out);

/*
 * Run statement `which` in transaction t (preparing it on first use on
 * this connection).  *out gets the result on MFA_OK (PQclear it).  A read
 * outside a transaction whose connection turns out dead is run once more
 * on a fresh one: it changed nothing and is not part of anything.
 */
static mfa_rc
run(mfa_store_txn *t, int which, const pg_params *p, PGresult **out)
{
    pg_conn *pc = t->pc;
    mfa_rc rc;

    *out = NULL;
    if (t->read && writes(which)) {
        t->failed = 1;
        return MFA_ERR_READONLY;
    }
    rc = run_once(t, which, p, out);
    if (rc != MFA_OK && t->read && PQstatus(pc->c) != CONNECTION_OK) {
        PQfinish(pc->c);
        memset(pc->prepared, 0, sizeof(pc->prepared));
        pc->c = connect_db(t->st);
        if (pc->c != NULL)
            rc = run_once(t, which, p, out);
    }
    if (rc != MFA_OK)
        t->failed = 1;
    return rc;
}

static mfa_rc
run_once(mfa_store_txn *t, int which, const pg_params *p, PGresult **out)
{
    pg_conn *pc = t->pc;
    char name[16];
    PGresult *r;
    ExecStatusType s;

    *out = NULL;
    if (pc->c == NULL)
        return MFA_ERR_STORE;
    (void)snprintf(name, sizeof(name), "mfa_%d", which);
    if (!pc->prepared[which]) {
        r = PQprepare(pc->c, name, t->st->sql[which], p->n, NULL);
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

/* run() for a statement whose result is not needed. */
static mfa_rc
run_void(mfa_store_txn *t, int which, const pg_params *p)
{
    PGresult *r;
    mfa_rc rc = run(t, which, p, &r);

    PQclear(r);
    return rc;
}

/* run() for a statement whose RETURNING says whether it hit one row:
 * `miss` when it did not. */
static mfa_rc
run_hit(mfa_store_txn *t, int which, const pg_params *p, mfa_rc miss)
{
    PGresult *r;
    mfa_rc rc;

    if ((rc = run(t, which, p, &r)) != MFA_OK)
        return rc;
    rc = PQntuples(r) == 1 ? MFA_OK : miss;
    PQclear(r);
    return rc;
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

/* Exactly MFA_BACKUP_HASHBYTES of bytea. */
static void
get_hash(const PGresult *r, int row, int col, uint8_t *dst, int *ok)
{
    if (PQgetisnull(r, row, col) ||
        PQgetlength(r, row, col) != MFA_BACKUP_HASHBYTES) {
        *ok = 0;
        memset(dst, 0, MFA_BACKUP_HASHBYTES);
        return;
    }
    memcpy(dst, PQgetvalue(r, row, col), MFA_BACKUP_HASHBYTES);
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
        sodium_memzero(f, sizeof(*f));
        return MFA_ERR_CORRUPT;
    }
    return MFA_OK;
}

/* ---- schema and migrations ----------------------------------------------- */

/* Run sql_at ('@' for the schema), possibly several statements. */
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

/* The stored version, 0 without a version table; on an open connection. */
static mfa_rc
read_version(pg_store *st, pg_conn *pc, int *version)
{
    const char *vals[1];
    char sql[256];
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
    n = PQntuples(r);
    PQclear(r);
    if (n == 0)
        return MFA_OK;
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

/* A schema with a version but without one of its tables: MFA_ERR_SCHEMA.
 * A version has the first mfa_int_schema_ntables(version) names. */
static mfa_rc
check_tables(pg_store *st, pg_conn *pc, int version)
{
    int k = mfa_int_schema_ntables(version);
    char list[256];
    const char *vals[2];
    size_t len = 1;
    PGresult *r;
    mfa_rc rc = MFA_OK;
    int i;

    list[0] = '{';
    for (i = 0; i < k && mfa_int_schema_tables[i] != NULL; i++) {
        size_t n = strlen(mfa_int_schema_tables[i]);
        if (len + n + 3 > sizeof(list))
            return MFA_ERR_INTERNAL;
        if (i > 0)
            list[len++] = ',';
        memcpy(list + len, mfa_int_schema_tables[i], n);
        len += n;
    }
    list[len++] = '}';
    list[len] = '\0';
    vals[0] = st->schema;
    vals[1] = list;
    r = PQexecParams(pc->c,
                     "SELECT count(*) FROM pg_catalog.pg_tables WHERE "
                     "schemaname = $1 AND tablename = ANY ($2::text[])",
                     2, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        rc = map_error(pc->c, r);
    else if (strtol(PQgetvalue(r, 0, 0), NULL, 10) != i)
        rc = MFA_ERR_SCHEMA;
    PQclear(r);
    return rc;
}

/* One simple command (BEGIN, COMMIT, a lock): MFA_OK when it ran. */
static mfa_rc
simple(pg_conn *pc, const char *sql)
{
    PGresult *r = PQexec(pc->c, sql);
    ExecStatusType s = PQresultStatus(r);
    mfa_rc rc = MFA_OK;

    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
        rc = map_error(pc->c, r);
    PQclear(r);
    return rc;
}

/* Steps from `version` up, version table rewritten, in pc's open
 * transaction. */
static mfa_rc
upgrade(pg_store *st, pg_conn *pc, int version)
{
    char sql[64];
    int i;
    mfa_rc rc;

    for (i = version; i < mfa_int_schema_steps(); i++) {
        char *step = mfa_int_schema_sql(MFA_DIALECT_POSTGRES, i);
        if (step == NULL)
            return MFA_ERR_NOMEM;
        rc = exec_sql(st, pc, step);
        free(step);
        if (rc != MFA_OK)
            return rc;
    }
    if ((rc = exec_sql(st, pc, "DELETE FROM @.\"schema\"")) != MFA_OK)
        return rc;
    /* a small int in 64 bytes */
    (void)snprintf(sql, sizeof(sql), "INSERT INTO @.\"schema\" VALUES (%d)",
                   MFA_SCHEMA_VERSION);
    return exec_sql(st, pc, sql);
}

static mfa_rc
pg_migrate(void *impl)
{
    pg_store *st = impl;
    pg_conn *pc;
    const char *vals[1];
    char lock[128];
    PGresult *r;
    int version, exists, n;
    mfa_rc rc;

    if (mfa_int_schema_steps() != MFA_SCHEMA_VERSION)
        return MFA_ERR_INTERNAL;
    if ((rc = acquire(st, &pc)) != MFA_OK)
        return rc;
    /* a current schema is checked without a lock or any DDL, so that a
     * role with no right to create anything (the application's) may call
     * migrate and get MFA_OK */
    if ((rc = read_version(st, pc, &version)) != MFA_OK)
        goto out;
    if (version > MFA_SCHEMA_VERSION) {
        rc = MFA_ERR_SCHEMA;
        goto out;
    }
    if (version == MFA_SCHEMA_VERSION) {
        rc = check_tables(st, pc, version);
        goto out;
    }
    /* servers migrating together: one migrates, the others wait and find
     * nothing left to do (the two-key lock space is not the one of the
     * account locks) */
    n = snprintf(lock, sizeof(lock),
                 "BEGIN; SELECT pg_advisory_xact_lock(%d, hashtext('%s'))",
                 PG_LOCK_CLASS, st->schema);
    if (n < 0 || (size_t)n >= sizeof(lock)) {
        rc = MFA_ERR_INTERNAL;
        goto out;
    }
    if ((rc = simple(pc, lock)) != MFA_OK)
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
    if (version > MFA_SCHEMA_VERSION) {
        rc = MFA_ERR_SCHEMA;
        goto out;
    }
    if (version < MFA_SCHEMA_VERSION &&
        (rc = upgrade(st, pc, version)) != MFA_OK)
        goto out;
    if ((rc = check_tables(st, pc, MFA_SCHEMA_VERSION)) != MFA_OK)
        goto out;
    r = PQexec(pc->c, "COMMIT");
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = map_error(pc->c, r);
    else if (strcmp(PQcmdStatus(r), "COMMIT") != 0)
        rc = MFA_ERR_STORE;
    PQclear(r);
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
    if (rc == MFA_OK && *version > 0 && *version <= MFA_SCHEMA_VERSION)
        rc = check_tables(st, pc, *version);
    if (rc != MFA_OK)
        *version = 0;
    release(st, pc);
    return rc;
}

/* ---- transactions -------------------------------------------------------- */

/*
 * The advisory lock key of an account: SipHash-2-4 of (schema, account)
 * under a fixed key, so that every process and every server computes the
 * same one; the top bit cleared, so that the key is a bigint literal.  It
 * must never change between library versions that may share a database.
 * A collision only makes two accounts wait for each other.
 */
static int64_t
lock_key(const pg_store *st, const char *account)
{
    static const unsigned char key[crypto_shorthash_KEYBYTES] =
        "libmfa pg lock1";
    unsigned char buf[PG_SCHEMA_MAX + 1 + MFA_ACCOUNT_MAX + 1];
    unsigned char h[crypto_shorthash_BYTES];
    size_t ns = strlen(st->schema), na = strlen(account);
    uint64_t v = 0;
    int i;

    if (na > MFA_ACCOUNT_MAX)
        na = MFA_ACCOUNT_MAX; /* the library checked it; never overrun */
    memcpy(buf, st->schema, ns);
    buf[ns] = 0;
    memcpy(buf + ns + 1, account, na);
    (void)crypto_shorthash(h, buf, ns + 1 + na, key);
    for (i = 0; i < 8; i++)
        v = (v << 8) | h[i];
    return (int64_t)(v >> 1);
}

static mfa_rc
pg_begin(void *impl, const char *account, mfa_txn_mode mode,
         mfa_store_txn **out)
{
    pg_store *st = impl;
    char sql[128];
    int tries, n;

    *out = NULL;
    if (mode == MFA_TXN_WRITE && account != NULL) {
        n = snprintf(sql, sizeof(sql),
                     "BEGIN ISOLATION LEVEL READ COMMITTED; "
                     "SELECT pg_advisory_xact_lock(%lld)",
                     (long long)lock_key(st, account));
        if (n < 0 || (size_t)n >= sizeof(sql))
            return MFA_ERR_INTERNAL;
    } else if (mode == MFA_TXN_WRITE) {
        (void)snprintf(sql, sizeof(sql),
                       "BEGIN ISOLATION LEVEL READ COMMITTED");
    } else if (mode == MFA_TXN_READ) {
        pg_conn *pc;
        mfa_rc rc = acquire(st, &pc);

        if (rc != MFA_OK)
            return rc;
        pc->txn.st = st;
        pc->txn.pc = pc;
        pc->txn.read = 1;
        pc->txn.failed = 0;
        *out = &pc->txn;
        return MFA_OK;
    } else {
        return MFA_ERR_INVALID;
    }
    /*
     * A connection the server closed since it was last used and that
     * conn_dead could not tell yet (the close raced the poll) fails here
     * with nothing done: one more try on a fresh connection.
     */
    for (tries = 0;; tries++) {
        pg_conn *pc;
        PGresult *r;
        ExecStatusType s;
        mfa_rc rc;
        int broken;

        if ((rc = acquire(st, &pc)) != MFA_OK)
            return rc;
        r = PQexec(pc->c, sql);
        s = PQresultStatus(r);
        if ((s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) &&
            PQtransactionStatus(pc->c) == PQTRANS_INTRANS) {
            PQclear(r);
            pc->txn.st = st;
            pc->txn.pc = pc;
            pc->txn.read = 0;
            pc->txn.failed = 0;
            *out = &pc->txn;
            return MFA_OK;
        }
        rc = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK
                 ? MFA_ERR_STORE
                 : map_error(pc->c, r);
        PQclear(r);
        broken = PQstatus(pc->c) != CONNECTION_OK;
        release(st, pc);
        if (!broken || tries > 0)
            return rc;
    }
}

static mfa_rc
pg_commit(mfa_store_txn *t)
{
    pg_conn *pc = t->pc;
    PGresult *r;
    mfa_rc rc = MFA_OK;

    if (t->read) {
        rc = t->failed ? MFA_ERR_STORE : MFA_OK;
        release(t->st, pc);
        return rc;
    }
    /*
     * A failed transaction answers COMMIT with ROLLBACK, not an error.  A
     * connection lost during COMMIT leaves the outcome unknown: an error,
     * so nothing is accepted (at worst a spent step or a counted attempt
     * without a verdict).
     */
    r = PQexec(pc->c, "COMMIT");
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = map_error(pc->c, r);
    else if (strcmp(PQcmdStatus(r), "COMMIT") != 0 || t->failed)
        rc = MFA_ERR_STORE;
    PQclear(r);
    release(t->st, pc);
    return rc;
}

static void
pg_rollback(mfa_store_txn *t)
{
    release(t->st, t->pc);
}

/* ---- factors ------------------------------------------------------------- */

static void
factor_params(pg_params *p, const mfa_factor_rec *f)
{
    p_text(p, f->id);
    p_text(p, f->account);
    p_text(p, f->label);
    p_int(p, f->type);
    p_int(p, f->algorithm);
    p_int(p, f->digits);
    p_int(p, f->period);
    p_int(p, f->t0);
    p_int(p, f->last_step);
    p_int(p, f->drift);
    p_int(p, f->status);
    p_int(p, f->created);
    p_int(p, f->confirmed);
    p_int(p, f->last_used);
    p_bytes(p, f->sealed, f->sealed_len);
}

static mfa_rc
pg_factor_list(mfa_store_txn *t, const char *account, mfa_factor_cb cb,
               void *arg)
{
    pg_params p = {0};
    mfa_factor_rec f;
    PGresult *r;
    mfa_rc rc;
    int i;

    p_text(&p, account);
    if ((rc = run(t, ST_FACTOR_LIST, &p, &r)) != MFA_OK)
        return rc;
    /* the whole result is here: a callback may run other statements */
    for (i = 0; i < PQntuples(r) && rc == MFA_OK; i++) {
        rc = decode_factor(r, i, &f);
        if (rc == MFA_OK)
            rc = cb(&f, arg);
    }
    sodium_memzero(&f, sizeof(f));
    PQclear(r);
    return rc;
}

static mfa_rc
pg_factor_get(mfa_store_txn *t, const char *account, const char *id,
              mfa_factor_rec *out)
{
    pg_params p = {0};
    PGresult *r;
    mfa_rc rc;

    p_text(&p, account);
    p_text(&p, id);
    if ((rc = run(t, ST_FACTOR_GET, &p, &r)) != MFA_OK)
        return rc;
    rc = PQntuples(r) == 1 ? decode_factor(r, 0, out) : MFA_ERR_NOT_FOUND;
    PQclear(r);
    return rc;
}

static mfa_rc
pg_factor_insert(mfa_store_txn *t, const mfa_factor_rec *f)
{
    pg_params p = {0};

    factor_params(&p, f);
    return run_hit(t, ST_FACTOR_INSERT, &p, MFA_ERR_EXISTS);
}

static mfa_rc
pg_factor_update(mfa_store_txn *t, const mfa_factor_rec *f)
{
    pg_params p = {0};

    factor_params(&p, f);
    return run_hit(t, ST_FACTOR_UPDATE, &p, MFA_ERR_NOT_FOUND);
}

static mfa_rc
pg_factor_delete(mfa_store_txn *t, const char *account, const char *id)
{
    pg_params p = {0};

    p_text(&p, account);
    p_text(&p, id);
    return run_hit(t, ST_FACTOR_DELETE, &p, MFA_ERR_NOT_FOUND);
}

static mfa_rc
pg_factor_scan(mfa_store_txn *t, const char *after_account,
               const char *after_id, mfa_factor_rec *out, size_t max, size_t *n)
{
    pg_params p = {0};
    PGresult *r;
    mfa_rc rc = MFA_OK;
    int i, rows;

    *n = 0;
    if (max == 0)
        return MFA_OK;
    if (max > INT_MAX)
        max = INT_MAX;
    p_text(&p, after_account);
    p_text(&p, after_id);
    p_int(&p, (int64_t)max);
    if ((rc = run(t, ST_FACTOR_SCAN, &p, &r)) != MFA_OK)
        return rc;
    rows = PQntuples(r);
    for (i = 0; i < rows && (size_t)i < max && rc == MFA_OK; i++)
        rc = decode_factor(r, i, &out[i]);
    PQclear(r);
    if (rc != MFA_OK) {
        sodium_memzero(out, (size_t)i * sizeof(*out));
        return rc;
    }
    *n = (size_t)i;
    return MFA_OK;
}

static mfa_rc
pg_factor_expire(mfa_store_txn *t, int64_t before, size_t *n)
{
    pg_params p = {0};
    PGresult *r;
    mfa_rc rc;

    *n = 0;
    p_int(&p, before);
    if ((rc = run(t, ST_FACTOR_EXPIRE, &p, &r)) != MFA_OK)
        return rc;
    *n = (size_t)strtoul(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return MFA_OK;
}

/* ---- throttle ------------------------------------------------------------ */

static mfa_rc
pg_throttle_get(mfa_store_txn *t, const char *account, const char *bucket,
                mfa_throttle_rec *out)
{
    pg_params p = {0};
    PGresult *r;
    mfa_rc rc;
    int ok = 1;

    memset(out, 0, sizeof(*out));
    p_text(&p, account);
    p_text(&p, bucket);
    if ((rc = run(t, ST_THROTTLE_GET, &p, &r)) != MFA_OK)
        return rc;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return MFA_ERR_NOT_FOUND;
    }
    /* the caller checked the bucket name's length */
    (void)snprintf(out->bucket, sizeof(out->bucket), "%s", bucket);
    out->failures = get_u32(r, 0, 0, &ok);
    out->locked_until = get_i64(r, 0, 1, &ok);
    out->updated = get_i64(r, 0, 2, &ok);
    PQclear(r);
    if (!ok) {
        memset(out, 0, sizeof(*out));
        return MFA_ERR_CORRUPT;
    }
    return MFA_OK;
}

static mfa_rc
pg_throttle_put(mfa_store_txn *t, const char *account,
                const mfa_throttle_rec *rec)
{
    pg_params p = {0};

    p_text(&p, account);
    p_text(&p, rec->bucket);
    p_int(&p, rec->failures);
    p_int(&p, rec->locked_until);
    p_int(&p, rec->updated);
    return run_void(t, ST_THROTTLE_PUT, &p);
}

static mfa_rc
pg_throttle_delete(mfa_store_txn *t, const char *account, const char *bucket)
{
    pg_params p = {0};

    p_text(&p, account);
    p_text(&p, bucket);
    return run_void(t, ST_THROTTLE_DELETE, &p);
}

static mfa_rc
pg_throttle_list(mfa_store_txn *t, const char *account, mfa_throttle_rec *out,
                 size_t max, size_t *n)
{
    pg_params p = {0};
    PGresult *r;
    mfa_rc rc;
    int i, rows, ok = 1;

    *n = 0;
    if (max == 0)
        return MFA_OK;
    if (max > INT_MAX)
        max = INT_MAX;
    p_text(&p, account);
    p_int(&p, (int64_t)max);
    if ((rc = run(t, ST_THROTTLE_LIST, &p, &r)) != MFA_OK)
        return rc;
    rows = PQntuples(r);
    for (i = 0; i < rows && (size_t)i < max && ok; i++) {
        memset(&out[i], 0, sizeof(out[i]));
        get_text(r, i, 0, out[i].bucket, sizeof(out[i].bucket), &ok);
        out[i].failures = get_u32(r, i, 1, &ok);
        out[i].locked_until = get_i64(r, i, 2, &ok);
        out[i].updated = get_i64(r, i, 3, &ok);
    }
    PQclear(r);
    if (!ok)
        return MFA_ERR_CORRUPT;
    *n = (size_t)i;
    return MFA_OK;
}

/* ---- known devices ------------------------------------------------------- */

static int
decode_device(const PGresult *r, int row, mfa_device_rec *d)
{
    int ok = 1;

    memset(d, 0, sizeof(*d));
    get_text(r, row, 0, d->id, sizeof(d->id), &ok);
    get_text(r, row, 1, d->label, sizeof(d->label), &ok);
    get_hash(r, row, 2, d->hash, &ok);
    d->key_id = get_u32(r, row, 3, &ok);
    d->created = get_i64(r, row, 4, &ok);
    d->last_seen = get_i64(r, row, 5, &ok);
    d->trusted_until = get_i64(r, row, 6, &ok);
    if (!ok)
        sodium_memzero(d, sizeof(*d));
    return ok;
}

static mfa_rc
pg_device_list(mfa_store_txn *t, const char *account, mfa_device_rec *out,
               size_t max, size_t *n)
{
    pg_params p = {0};
    PGresult *r;
    mfa_rc rc;
    int i, rows, ok = 1;

    *n = 0;
    if (max == 0)
        return MFA_OK;
    if (max > INT_MAX)
        max = INT_MAX;
    p_text(&p, account);
    p_int(&p, (int64_t)max);
    if ((rc = run(t, ST_DEVICE_LIST, &p, &r)) != MFA_OK)
        return rc;
    rows = PQntuples(r);
    for (i = 0; i < rows && (size_t)i < max && ok; i++)
        ok = decode_device(r, i, &out[i]);
    PQclear(r);
    if (!ok) {
        sodium_memzero(out, (size_t)i * sizeof(*out));
        return MFA_ERR_CORRUPT;
    }
    *n = (size_t)i;
    return MFA_OK;
}

static mfa_rc
pg_device_get(mfa_store_txn *t, const char *account, const char *id,
              mfa_device_rec *out)
{
    pg_params p = {0};
    PGresult *r;
    mfa_rc rc;

    memset(out, 0, sizeof(*out));
    p_text(&p, account);
    p_text(&p, id);
    if ((rc = run(t, ST_DEVICE_GET, &p, &r)) != MFA_OK)
        return rc;
    if (PQntuples(r) != 1)
        rc = MFA_ERR_NOT_FOUND;
    else if (!decode_device(r, 0, out))
        rc = MFA_ERR_CORRUPT;
    PQclear(r);
    return rc;
}

static mfa_rc
pg_device_put(mfa_store_txn *t, const char *account, const mfa_device_rec *d)
{
    pg_params p = {0};

    p_text(&p, account);
    p_text(&p, d->id);
    p_text(&p, d->label);
    p_bytes(&p, d->hash, MFA_DEVICE_HASHBYTES);
    p_int(&p, d->key_id);
    p_int(&p, d->created);
    p_int(&p, d->last_seen);
    p_int(&p, d->trusted_until);
    return run_void(t, ST_DEVICE_PUT, &p);
}

static mfa_rc
pg_device_delete(mfa_store_txn *t, const char *account, const char *id)
{
    pg_params p = {0};

    p_text(&p, account);
    p_text(&p, id);
    return run_hit(t, ST_DEVICE_DELETE, &p, MFA_ERR_NOT_FOUND);
}

static mfa_rc
pg_state_scan(mfa_store_txn *t, const char *after,
              char (*out)[MFA_ACCOUNT_MAX + 1], size_t max, size_t *n)
{
    pg_params p = {0};
    PGresult *r;
    mfa_rc rc;
    int i, rows, ok = 1;

    *n = 0;
    if (max == 0)
        return MFA_OK;
    if (max > INT_MAX)
        max = INT_MAX;
    p_text(&p, after);
    p_int(&p, (int64_t)max);
    if ((rc = run(t, ST_STATE_SCAN, &p, &r)) != MFA_OK)
        return rc;
    rows = PQntuples(r);
    for (i = 0; i < rows && (size_t)i < max && ok; i++)
        get_text(r, i, 0, out[i], MFA_ACCOUNT_MAX + 1, &ok);
    PQclear(r);
    if (!ok)
        return MFA_ERR_CORRUPT;
    *n = (size_t)i;
    return MFA_OK;
}

/* ---- backup codes -------------------------------------------------------- */

static mfa_rc
pg_backup_list(mfa_store_txn *t, const char *account, mfa_backup_rec *out,
               size_t max, size_t *n)
{
    pg_params p = {0};
    PGresult *r;
    mfa_rc rc;
    int i, rows, ok = 1;

    *n = 0;
    if (max == 0)
        return MFA_OK;
    if (max > INT_MAX)
        max = INT_MAX;
    p_text(&p, account);
    p_int(&p, (int64_t)max);
    if ((rc = run(t, ST_BACKUP_LIST, &p, &r)) != MFA_OK)
        return rc;
    rows = PQntuples(r);
    for (i = 0; i < rows && (size_t)i < max && ok; i++) {
        get_hash(r, i, 0, out[i].hash, &ok);
        out[i].key_id = get_u32(r, i, 1, &ok);
    }
    PQclear(r);
    if (!ok) {
        sodium_memzero(out, (size_t)i * sizeof(*out));
        return MFA_ERR_CORRUPT;
    }
    *n = (size_t)i;
    return MFA_OK;
}

static mfa_rc
pg_backup_insert(mfa_store_txn *t, const char *account,
                 const mfa_backup_rec *rec, int64_t now)
{
    pg_params p = {0};

    p_text(&p, account);
    p_bytes(&p, rec->hash, MFA_BACKUP_HASHBYTES);
    p_int(&p, rec->key_id);
    p_int(&p, now);
    return run_hit(t, ST_BACKUP_INSERT, &p, MFA_ERR_EXISTS);
}

static mfa_rc
pg_backup_use(mfa_store_txn *t, const char *account,
              const uint8_t hash[MFA_BACKUP_HASHBYTES], int64_t now)
{
    pg_params p = {0};

    p_text(&p, account);
    p_bytes(&p, hash, MFA_BACKUP_HASHBYTES);
    p_int(&p, now);
    return run_hit(t, ST_BACKUP_USE, &p, MFA_ERR_NOT_FOUND);
}

static mfa_rc
pg_backup_clear(mfa_store_txn *t, const char *account)
{
    pg_params p = {0};

    p_text(&p, account);
    return run_void(t, ST_BACKUP_CLEAR, &p);
}

/* ---- out-of-band challenges ---------------------------------------------- */

static mfa_rc
pg_oob_get(mfa_store_txn *t, const char *account, const char *purpose,
           mfa_oob_challenge *out)
{
    pg_params p = {0};
    PGresult *r;
    mfa_rc rc;
    int ok = 1;

    memset(out, 0, sizeof(*out));
    p_text(&p, account);
    p_text(&p, purpose);
    if ((rc = run(t, ST_OOB_GET, &p, &r)) != MFA_OK)
        return rc;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return MFA_ERR_NOT_FOUND;
    }
    get_hash(r, 0, 0, out->hash, &ok);
    out->key_id = get_u32(r, 0, 1, &ok);
    /* the caller checked the purpose's length */
    (void)snprintf(out->purpose, sizeof(out->purpose), "%s", purpose);
    out->created = get_i64(r, 0, 2, &ok);
    out->expires = get_i64(r, 0, 3, &ok);
    out->attempts_left = get_i32(r, 0, 4, &ok);
    PQclear(r);
    if (!ok) {
        sodium_memzero(out, sizeof(*out));
        return MFA_ERR_CORRUPT;
    }
    return MFA_OK;
}

static mfa_rc
pg_oob_put(mfa_store_txn *t, const char *account, const mfa_oob_challenge *c)
{
    pg_params p = {0};

    p_text(&p, account);
    p_text(&p, c->purpose);
    p_bytes(&p, c->hash, MFA_BACKUP_HASHBYTES);
    p_int(&p, c->key_id);
    p_int(&p, c->created);
    p_int(&p, c->expires);
    p_int(&p, c->attempts_left);
    return run_void(t, ST_OOB_PUT, &p);
}

static mfa_rc
pg_oob_delete(mfa_store_txn *t, const char *account, const char *purpose)
{
    pg_params p = {0};

    p_text(&p, account);
    p_text(&p, purpose);
    return run_void(t, ST_OOB_DELETE, &p);
}

/* ---- passkeys and security keys ------------------------------------------ */

/* min..max bytes of bytea into dst, the length into *len. */
static void
get_bytes(const PGresult *r, int row, int col, uint8_t *dst, size_t min,
          size_t max, size_t *len, int *ok)
{
    int n = PQgetlength(r, row, col);

    *len = 0;
    if (PQgetisnull(r, row, col) || n < 0 || (size_t)n < min ||
        (size_t)n > max) {
        *ok = 0;
        return;
    }
    memcpy(dst, PQgetvalue(r, row, col), (size_t)n);
    *len = (size_t)n;
}

/* A row of WA_COLS, checked: out of range is MFA_ERR_CORRUPT. */
static mfa_rc
decode_webauthn(const PGresult *r, int row, mfa_webauthn_rec *w)
{
    mfa_webauthn_credential *c = &w->cred;
    size_t aaguid_len = 0;
    int ok = 1;
    int64_t v;

    memset(w, 0, sizeof(*w));
    get_text(r, row, 0, w->factor_id, sizeof(w->factor_id), &ok);
    if (strlen(w->factor_id) != MFA_FACTOR_ID_LEN)
        ok = 0;
    get_text(r, row, 1, w->label, sizeof(w->label), &ok);
    get_bytes(r, row, 2, c->id, MFA_WEBAUTHN_CRED_ID_MIN,
              MFA_WEBAUTHN_CRED_ID_MAX, &c->id_len, &ok);
    get_bytes(r, row, 3, c->public_key, 1, MFA_WEBAUTHN_PUBLIC_KEY_MAX,
              &c->public_key_len, &ok);
    v = get_i64(r, row, 4, &ok);
    if (v != MFA_WEBAUTHN_ES256 && v != MFA_WEBAUTHN_EDDSA &&
        v != MFA_WEBAUTHN_RS256)
        ok = 0;
    else
        c->algorithm = (int32_t)v;
    c->sign_count = get_u32(r, row, 5, &ok);
    v = get_i64(r, row, 6, &ok);
    if (v < 0 || v > 0x3f)
        ok = 0;
    else
        c->transports = (unsigned)v;
    v = get_i64(r, row, 7, &ok);
    if (v < 0 || v > 0xff)
        ok = 0;
    else
        c->flags = (unsigned)v;
    get_bytes(r, row, 8, c->aaguid, MFA_WEBAUTHN_AAGUID_BYTES,
              MFA_WEBAUTHN_AAGUID_BYTES, &aaguid_len, &ok);
    v = get_i64(r, row, 9, &ok);
    if (v != MFA_WEBAUTHN_FMT_NONE && v != MFA_WEBAUTHN_FMT_PACKED &&
        v != MFA_WEBAUTHN_FMT_FIDO_U2F)
        ok = 0;
    else
        c->attestation_format = (mfa_webauthn_fmt)v;
    v = get_i64(r, row, 10, &ok);
    if (v != MFA_WEBAUTHN_TRUST_NONE && v != MFA_WEBAUTHN_TRUST_SELF &&
        v != MFA_WEBAUTHN_TRUST_UNVERIFIED)
        ok = 0;
    else
        c->attestation_trust = (mfa_webauthn_trust)v;
    get_bytes(r, row, 11, c->user_handle, 1, MFA_WEBAUTHN_USER_HANDLE_MAX,
              &c->user_handle_len, &ok);
    w->created = get_i64(r, row, 12, &ok);
    w->last_used = get_i64(r, row, 13, &ok);
    if (w->created < 0 || w->created > MFA_INT_TIME_MAX || w->last_used < 0 ||
        w->last_used > MFA_INT_TIME_MAX)
        ok = 0;
    if (!ok) {
        memset(w, 0, sizeof(*w));
        return MFA_ERR_CORRUPT;
    }
    return MFA_OK;
}

static void
webauthn_params(pg_params *p, const char *account, const mfa_webauthn_rec *w)
{
    const mfa_webauthn_credential *c = &w->cred;

    p_text(p, account);
    p_text(p, w->factor_id);
    p_text(p, w->label);
    p_bytes(p, c->id, c->id_len);
    p_bytes(p, c->public_key, c->public_key_len);
    p_int(p, c->algorithm);
    p_int(p, c->sign_count);
    p_int(p, c->transports);
    p_int(p, c->flags);
    p_bytes(p, c->aaguid, MFA_WEBAUTHN_AAGUID_BYTES);
    p_int(p, c->attestation_format);
    p_int(p, c->attestation_trust);
    p_bytes(p, c->user_handle, c->user_handle_len);
    p_int(p, w->created);
    p_int(p, w->last_used);
}

static mfa_rc
pg_webauthn_list(mfa_store_txn *t, const char *account, mfa_webauthn_cb cb,
                 void *arg)
{
    pg_params p = {0};
    mfa_webauthn_rec *w;
    PGresult *r;
    mfa_rc rc;
    int i;

    /* a record is large (about 1.7 KiB): one on the heap, reused */
    if ((w = malloc(sizeof(*w))) == NULL)
        return MFA_ERR_NOMEM;
    p_text(&p, account);
    if ((rc = run(t, ST_WA_LIST, &p, &r)) != MFA_OK) {
        free(w);
        return rc;
    }
    /* the whole result is here: a callback may run other statements */
    for (i = 0; i < PQntuples(r) && rc == MFA_OK; i++) {
        rc = decode_webauthn(r, i, w);
        if (rc == MFA_OK)
            rc = cb(w, arg);
    }
    PQclear(r);
    free(w);
    return rc;
}

static mfa_rc
pg_webauthn_get(mfa_store_txn *t, const char *account, const char *factor_id,
                mfa_webauthn_rec *out)
{
    pg_params p = {0};
    PGresult *r;
    mfa_rc rc;

    memset(out, 0, sizeof(*out));
    p_text(&p, account);
    p_text(&p, factor_id);
    if ((rc = run(t, ST_WA_GET, &p, &r)) != MFA_OK)
        return rc;
    rc = PQntuples(r) == 1 ? decode_webauthn(r, 0, out) : MFA_ERR_NOT_FOUND;
    PQclear(r);
    return rc;
}

static mfa_rc
pg_webauthn_insert(mfa_store_txn *t, const char *account,
                   const mfa_webauthn_rec *w)
{
    pg_params p = {0};

    webauthn_params(&p, account, w);
    return run_hit(t, ST_WA_INSERT, &p, MFA_ERR_EXISTS);
}

static mfa_rc
pg_webauthn_update(mfa_store_txn *t, const char *account,
                   const mfa_webauthn_rec *w)
{
    pg_params p = {0};

    webauthn_params(&p, account, w);
    return run_hit(t, ST_WA_UPDATE, &p, MFA_ERR_NOT_FOUND);
}

static mfa_rc
pg_webauthn_delete(mfa_store_txn *t, const char *account, const char *factor_id)
{
    pg_params p = {0};

    p_text(&p, account);
    p_text(&p, factor_id);
    return run_hit(t, ST_WA_DELETE, &p, MFA_ERR_NOT_FOUND);
}

static mfa_rc
pg_webauthn_handle_get(mfa_store_txn *t, const char *account,
                       uint8_t out[MFA_WEBAUTHN_USER_HANDLE_MAX], size_t *len)
{
    pg_params p = {0};
    PGresult *r;
    mfa_rc rc;
    int ok = 1;

    *len = 0;
    p_text(&p, account);
    if ((rc = run(t, ST_WA_HANDLE_GET, &p, &r)) != MFA_OK)
        return rc;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return MFA_ERR_NOT_FOUND;
    }
    get_bytes(r, 0, 0, out, 1, MFA_WEBAUTHN_USER_HANDLE_MAX, len, &ok);
    PQclear(r);
    return ok ? MFA_OK : MFA_ERR_CORRUPT;
}

static mfa_rc
pg_webauthn_handle_put(mfa_store_txn *t, const char *account,
                       const uint8_t *handle, size_t len, int64_t now)
{
    pg_params p = {0};

    p_text(&p, account);
    p_bytes(&p, handle, len);
    p_int(&p, now);
    return run_hit(t, ST_WA_HANDLE_PUT, &p, MFA_ERR_EXISTS);
}

static mfa_rc
pg_webauthn_handle_find(mfa_store_txn *t, const uint8_t *handle, size_t len,
                        char account[MFA_ACCOUNT_MAX + 1])
{
    pg_params p = {0};
    PGresult *r;
    mfa_rc rc;
    int ok = 1;

    account[0] = '\0';
    p_bytes(&p, handle, len);
    if ((rc = run(t, ST_WA_HANDLE_FIND, &p, &r)) != MFA_OK)
        return rc;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return MFA_ERR_NOT_FOUND;
    }
    get_text(r, 0, 0, account, MFA_ACCOUNT_MAX + 1, &ok);
    PQclear(r);
    if (!ok || account[0] == '\0') {
        account[0] = '\0';
        return MFA_ERR_CORRUPT;
    }
    return MFA_OK;
}

static mfa_rc
pg_webauthn_spend(mfa_store_txn *t, const char *account,
                  const uint8_t nonce[MFA_WEBAUTHN_NONCE_BYTES],
                  int64_t expires)
{
    pg_params p = {0};

    p_text(&p, account);
    p_bytes(&p, nonce, MFA_WEBAUTHN_NONCE_BYTES);
    p_int(&p, expires);
    return run_hit(t, ST_WA_SPEND, &p, MFA_ERR_EXISTS);
}

static mfa_rc
pg_webauthn_spent_expire(mfa_store_txn *t, const char *account, int64_t before,
                         size_t *n)
{
    pg_params p = {0};
    PGresult *r;
    mfa_rc rc;

    *n = 0;
    if (account != NULL)
        p_text(&p, account);
    p_int(&p, before);
    rc = run(t, account != NULL ? ST_WA_EXPIRE : ST_WA_EXPIRE_ALL, &p, &r);
    if (rc != MFA_OK)
        return rc;
    *n = (size_t)strtoul(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return MFA_OK;
}

static mfa_rc
pg_account_delete(mfa_store_txn *t, const char *account)
{
    pg_params p = {0};

    p_text(&p, account);
    return run_void(t, ST_ACCOUNT_DELETE, &p);
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

const mfa_store_backend mfa_int_postgres_backend = {
    .abi = MFA_STORE_BACKEND_ABI,
    .name = "postgres",
    .close = pg_close,
    .schema_version = pg_schema_version,
    .migrate = pg_migrate,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .factor_list = pg_factor_list,
    .factor_get = pg_factor_get,
    .factor_insert = pg_factor_insert,
    .factor_update = pg_factor_update,
    .factor_delete = pg_factor_delete,
    .factor_scan = pg_factor_scan,
    .factor_expire = pg_factor_expire,
    .throttle_get = pg_throttle_get,
    .throttle_put = pg_throttle_put,
    .throttle_delete = pg_throttle_delete,
    .backup_list = pg_backup_list,
    .backup_insert = pg_backup_insert,
    .backup_use = pg_backup_use,
    .backup_clear = pg_backup_clear,
    .oob_get = pg_oob_get,
    .oob_put = pg_oob_put,
    .oob_delete = pg_oob_delete,
    .throttle_list = pg_throttle_list,
    .device_list = pg_device_list,
    .device_get = pg_device_get,
    .device_put = pg_device_put,
    .device_delete = pg_device_delete,
    .state_scan = pg_state_scan,
    .account_delete = pg_account_delete,
    .webauthn_list = pg_webauthn_list,
    .webauthn_get = pg_webauthn_get,
    .webauthn_insert = pg_webauthn_insert,
    .webauthn_update = pg_webauthn_update,
    .webauthn_delete = pg_webauthn_delete,
    .webauthn_handle_get = pg_webauthn_handle_get,
    .webauthn_handle_put = pg_webauthn_handle_put,
    .webauthn_handle_find = pg_webauthn_handle_find,
    .webauthn_spend = pg_webauthn_spend,
    .webauthn_spent_expire = pg_webauthn_spent_expire,
};

mfa_rc
mfa_int_postgres_connect(void **impl, const char *conninfo, const char *schema)
{
    pg_store *st;
    pg_conn *pc;
    mfa_rc rc;
    int i;

    if (impl == NULL)
        return MFA_ERR_INVALID;
    *impl = NULL;
    if (conninfo == NULL)
        return MFA_ERR_INVALID;
    if (schema == NULL)
        schema = "mfa";
    if (!schema_ok(schema))
        return MFA_ERR_INVALID;
    if (sodium_init() < 0)
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
    /* reach the server now: a wrong connection string fails the open, not
     * the first login */
    if ((rc = acquire(st, &pc)) != MFA_OK) {
        pg_close(st);
        return rc;
    }
    release(st, pc);
    *impl = st;
    return MFA_OK;
}
