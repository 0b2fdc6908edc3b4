/*
 * The store conformance suite, unchanged, against the PostgreSQL store in
 * the throwaway cluster of scripts/test (MFA_PG_CONNINFO).  Every test gets
 * a schema of its own (a random name under this run's prefix); they are all
 * dropped at the end.
 */
#include <stdio.h>
#include <stdlib.h>

#include <mfa.h>

#include "pgtest.h"
#include "store_conformance.h"
#include "testutil.h"

static const char *conninfo;
static char run_prefix[32];  /* "mfa_t" and random hex, shared by children */
static char last_schema[64]; /* of the last open, in this (forked) test */

static mfa_rc
pg_open(mfa_store_t **out, void *arg)
{
    (void)arg;
    /* random, not a counter: Check forks each test from the same state */
    pgt_random_name(last_schema, sizeof(last_schema), run_prefix);
    return mfa_store_postgres_open(out, conninfo, last_schema);
}

static mfa_rc
pg_open_again(mfa_store_t **out, void *arg)
{
    (void)arg;
    return mfa_store_postgres_open(out, conninfo, last_schema);
}

static const mfa_conformance_backend backend = {
    .name = "postgres",
    .open = pg_open,
    .open_again = pg_open_again,
    .arg = NULL,
};

int
main(void)
{
    int rc;

    if (sodium_init() < 0)
        return EXIT_FAILURE;
    if ((conninfo = pgt_conninfo()) == NULL)
        return EXIT_FAILURE;
    pgt_random_name(run_prefix, sizeof(run_prefix), "mfa_t");
    run_prefix[strlen(run_prefix) - 4] = '\0'; /* room for the suffix */
    strcat(run_prefix, "_");
    rc = tu_run(mfa_conformance_suite(&backend));
    if (pgt_drop_schemas(conninfo, run_prefix) != 0) {
        fprintf(stderr, "could not drop the test schemas %s*\n", run_prefix);
        rc = EXIT_FAILURE;
    }
    return rc;
}
