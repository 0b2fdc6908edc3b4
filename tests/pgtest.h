/*
 * Shared helpers of the PostgreSQL tests: the throwaway cluster that
 * scripts/test starts (scripts/pg-cluster.sh), a schema of each test's own
 * so that tests never see each other's rows, and cleaning up after.
 */
#ifndef MFA_PGTEST_H
#define MFA_PGTEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>
#include <sodium.h>

#include <mfa.h>
#include <mfa/store-backend.h>

/*
 * The connection string of the test cluster.  Without one the test exits
 * 77 (meson's skip) saying why and how to get one: scripts/test counts a
 * skip and fails on it (unless MFA_ALLOW_SKIPS=1), so a missing cluster is
 * never a silent pass.  Under CI it is a failure, for a CI that runs meson
 * test directly.
 */
static inline const char *
pgt_conninfo(void)
{
    const char *c = getenv("MFA_PG_CONNINFO");
    int ci = getenv("CI") != NULL;

    if (c != NULL && c[0] != '\0')
        return c;
    printf("skipped: no PostgreSQL cluster (MFA_PG_CONNINFO is not set): "
           "run scripts/test, or eval \"$(scripts/pg-cluster.sh start "
           "\"$(mktemp -d)\")\" and meson test again\n");
    if (ci) {
        printf("CI is set, so a missing cluster fails\n0 passed, 1 failed\n");
        return NULL;
    }
    fflush(stdout);
    exit(77);
}

/* prefix followed by 12 random lowercase hex digits. */
static inline void
pgt_random_name(char *buf, size_t size, const char *prefix)
{
    unsigned char r[6];
    char hex[13];

    randombytes_buf(r, sizeof(r));
    sodium_bin2hex(hex, sizeof(hex), r, sizeof(r));
    snprintf(buf, size, "%s%s", prefix, hex);
}

static inline void
pgt_quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

/* A connection of the test itself (not the store's); NULL on failure. */
static inline PGconn *
pgt_connect(const char *conninfo)
{
    const char *const keys[] = {"application_name", "dbname", NULL};
    const char *const vals[] = {"mfa-test", conninfo, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);

    if (c != NULL && PQstatus(c) == CONNECTION_OK)
        PQsetNoticeProcessor(c, pgt_quiet, NULL);
    else if (c != NULL) {
        fprintf(stderr, "test connection: %s", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* Run sql (no result wanted); 0 on success. */
static inline int
pgt_exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK ||
             PQresultStatus(r) == PGRES_TUPLES_OK;

    if (!ok)
        fprintf(stderr, "test SQL failed: %s: %s", sql,
                PQresultErrorMessage(r));
    PQclear(r);
    return ok ? 0 : -1;
}

/* The first column of the first row as a number, -1 on failure. */
static inline long long
pgt_scalar(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    long long v = -1;

    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) >= 1 &&
        !PQgetisnull(r, 0, 0))
        v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    else
        fprintf(stderr, "test SQL failed: %s: %s", sql,
                PQresultErrorMessage(r));
    PQclear(r);
    return v;
}

/* Drop every schema whose name starts with prefix; 0 on success. */
static inline int
pgt_drop_schemas(const char *conninfo, const char *prefix)
{
    PGconn *c = pgt_connect(conninfo);
    const char *vals[1];
    PGresult *r;
    int i, rc = 0;

    if (c == NULL)
        return -1;
    vals[0] = prefix;
    r = PQexecParams(c,
                     "SELECT nspname FROM pg_catalog.pg_namespace WHERE "
                     "left(nspname, length($1)) = $1",
                     1, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        PQfinish(c);
        return -1;
    }
    for (i = 0; i < PQntuples(r); i++) {
        char sql[256];
        snprintf(sql, sizeof(sql), "DROP SCHEMA \"%s\" CASCADE",
                 PQgetvalue(r, i, 0));
        if (pgt_exec(c, sql) != 0)
            rc = -1;
    }
    PQclear(r);
    PQfinish(c);
    return rc;
}

/* Create (or upgrade) the store in `schema` and open it. */
static inline mfa_rc
pgt_create(mfa_store_t **out, const char *conninfo, const char *schema)
{
    return mfa_store_postgres_create(out, conninfo, schema);
}

/* The backend's operations on an open store. */
#define PGT_BE(s) (mfa_store_backend_of(s))
#define PGT_IMPL(s) (mfa_store_impl_of(s))

static inline mfa_rc
pgt_begin(mfa_store_t *s, const char *account, mfa_txn_mode mode,
          mfa_store_txn **t)
{
    return PGT_BE(s)->begin(PGT_IMPL(s), account, mode, t);
}

/* The failures of the account's bucket bucket, read in a transaction of
 * its own; -1 on a store error, 0 without a row. */
static inline long long
pgt_failures(mfa_store_t *s, const char *account, const char *bucket)
{
    mfa_throttle_rec r;
    mfa_store_txn *t;
    mfa_rc rc;

    if (pgt_begin(s, account, MFA_TXN_READ, &t) != MFA_OK)
        return -1;
    rc = PGT_BE(s)->throttle_get(t, account, bucket, &r);
    PGT_BE(s)->rollback(t);
    if (rc == MFA_ERR_NOT_FOUND)
        return 0;
    return rc == MFA_OK ? (long long)r.failures : -1;
}

/* An atomic flag between a test and its threads. */
static inline void
pgt_flag_set(int *f)
{
    __atomic_store_n(f, 1, __ATOMIC_SEQ_CST);
}

static inline int
pgt_flag(int *f)
{
    return __atomic_load_n(f, __ATOMIC_SEQ_CST);
}

static inline void
pgt_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/*
 * Wait up to 10 s until a backend of application_name app waits for an
 * advisory lock (an account's); 1 when it does.  c must not be inside a
 * transaction (the activity view would be a snapshot).
 */
static inline int
pgt_wait_advisory(PGconn *c, const char *app)
{
    char sql[512];
    int i;

    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_stat_activity WHERE application_name "
             "= '%s' AND wait_event_type = 'Lock' AND wait_event = "
             "'advisory'",
             app);
    for (i = 0; i < 1000; i++) {
        if (pgt_scalar(c, sql) > 0)
            return 1;
        pgt_sleep_ms(10);
    }
    return 0;
}

/* ---- the service layer over PostgreSQL ----------------------------------- */

/* A ctx clock that reads an int64_t the test sets. */
static inline int64_t
pgt_clock(void *arg)
{
    return *(const int64_t *)arg;
}

/* An enrolled, confirmed TOTP factor and a generator of its codes. */
typedef struct pgt_user {
    char account[64];
    char factor[MFA_FACTOR_ID_LEN + 1];
    mfa_otp_t *otp;
} pgt_user;

/*
 * Enroll account through ctx at the ctx's current time *now and confirm it
 * with the code of that time (which spends its step).  0 on success.
 */
static inline int
pgt_enroll(mfa_ctx_t *ctx, const int64_t *now, const char *account, pgt_user *u)
{
    mfa_enrollment_t *e = NULL;
    mfa_secret_t *sec = NULL;
    mfa_result res;
    char code[16];
    mfa_rc rc;

    memset(u, 0, sizeof(*u));
    snprintf(u->account, sizeof(u->account), "%s", account);
    rc = mfa_enroll_begin(ctx, account, "phone", NULL, &e);
    if (rc != MFA_OK) {
        fprintf(stderr, "enroll_begin: %s\n", mfa_strerror_name(rc));
        return -1;
    }
    snprintf(u->factor, sizeof(u->factor), "%s", mfa_enrollment_factor_id(e));
    rc = mfa_secret_from_base32(&sec, mfa_enrollment_secret(e), 0);
    mfa_enrollment_free(&e);
    if (rc == MFA_OK)
        rc = mfa_otp_new(&u->otp, mfa_secret_bytes(sec), mfa_secret_len(sec));
    mfa_secret_free(&sec);
    if (rc == MFA_OK)
        rc = mfa_otp_totp(u->otp, *now, code, sizeof(code));
    if (rc == MFA_OK)
        rc = mfa_enroll_confirm(ctx, account, u->factor, code, &res);
    if (rc != MFA_OK) {
        fprintf(stderr, "enroll: %s\n", mfa_strerror_name(rc));
        mfa_otp_free(&u->otp);
        return -1;
    }
    return 0;
}

/* The valid code of time now. */
static inline void
pgt_code(const pgt_user *u, int64_t now, char code[16])
{
    if (mfa_otp_totp(u->otp, now, code, 16) != MFA_OK)
        code[0] = '\0'; /* rejected as malformed: a test sees it */
}

/* A well-formed code that matches no step within 10 of now. */
static inline void
pgt_wrong_code(const pgt_user *u, int64_t now, char code[16])
{
    char near[21][16];
    long guess;
    int i, clash;

    for (i = 0; i < 21; i++)
        pgt_code(u, now + (i - 10) * 30, near[i]);
    guess = (strtol(near[10], NULL, 10) + 500000) % 1000000;
    do {
        snprintf(code, 16, "%06ld", guess);
        for (clash = 0, i = 0; i < 21; i++)
            clash |= strcmp(code, near[i]) == 0;
        guess = (guess + 7919) % 1000000;
    } while (clash);
}

#endif
