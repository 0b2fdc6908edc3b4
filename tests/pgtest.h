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

#include <libpq-fe.h>
#include <sodium.h>

/*
 * The connection string of the test cluster, or NULL after saying why.  A
 * missing cluster is a failure, never a skip: in CI the PostgreSQL store
 * must be tested, and locally a silent pass would hide that it was not.
 */
static inline const char *
pgt_conninfo(void)
{
    const char *c = getenv("MFA_PG_CONNINFO");

    if (c != NULL && c[0] != '\0')
        return c;
    fprintf(stderr,
            "MFA_PG_CONNINFO is not set, so the PostgreSQL store cannot be "
            "tested%s.\nRun the tests with scripts/test (it starts a "
            "throwaway cluster), or:\n  eval \"$(scripts/pg-cluster.sh start "
            "$(mktemp -d))\"\nthen meson test again.\n",
            getenv("CI") != NULL ? " (CI requires it)" : "");
    printf("0 passed, 1 failed\n");
    return NULL;
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

#endif
