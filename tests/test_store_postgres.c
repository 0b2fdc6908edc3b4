/*
 * The store conformance suite, unchanged, against the PostgreSQL store in
 * the throwaway cluster of scripts/test (MFA_PG_CONNINFO).  Every test gets
 * a schema of its own (a random name under this run's prefix); they are all
 * dropped at the end.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

/* ---- what only PostgreSQL has: schemas, roles, timeouts, migrations ---- */

#define ACCOUNT "carol@example.com"

static PGconn *
admin(void)
{
    PGconn *c = pgt_connect(conninfo);

    ck_assert_msg(c != NULL, "test connection");
    return c;
}

/* conninfo with more keywords appended (later ones win in libpq) */
static const char *
conninfo_with(const char *more)
{
    static char buf[1024];
    int n = snprintf(buf, sizeof(buf), "%s %s", conninfo, more);

    ck_assert_msg(n > 0 && (size_t)n < sizeof(buf), "conninfo too long");
    return buf;
}

START_TEST(schema_names)
{
    static const char *const bad[] = {
        "",
        "1abc",
        "pg_catalog",
        "a-b",
        "a\"b",
        "a b",
        "\xc3\xa9t\xc3\xa9",
        "x123456789012345678901234567890123456789012345678901234567890123",
    };
    mfa_store_t *s = NULL;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(mfa_store_postgres_open(&s, conninfo, bad[i]),
                         MFA_ERR_INVALID);
        ck_assert_ptr_null(s);
    }
    ck_assert_int_eq(mfa_store_postgres_open(&s, NULL, "mfa"), MFA_ERR_INVALID);
    /* "postgres:" through the generic opener lands in schema mfa; here it
     * only has to open (the schema is dropped by name at the end) */
    pgt_random_name(last_schema, sizeof(last_schema), run_prefix);
    ck_assert_int_eq(mfa_store_postgres_open(&s, conninfo, last_schema),
                     MFA_OK);
    ck_assert_str_eq(mfa_store_name(s), "postgres");
    mfa_store_free(&s);
}
END_TEST

START_TEST(newer_schema_refused)
{
    mfa_store_t *s = NULL;
    PGconn *c = admin();
    char sql[256];
    int v = 0;

    ck_assert_int_eq(pg_open(&s, NULL), MFA_OK);
    mfa_store_free(&s);
    snprintf(sql, sizeof(sql), "UPDATE \"%s\".\"schema\" SET version = %d",
             last_schema, MFA_SCHEMA_VERSION + 1);
    ck_assert_int_eq(pgt_exec(c, sql), 0);
    ck_assert_int_eq(mfa_store_postgres_open(&s, conninfo, last_schema),
                     MFA_ERR_SCHEMA);
    ck_assert_ptr_null(s);
    /* nothing was written into the schema it does not know */
    snprintf(sql, sizeof(sql), "SELECT max(version) FROM \"%s\".\"schema\"",
             last_schema);
    ck_assert_int_eq(pgt_scalar(c, sql), MFA_SCHEMA_VERSION + 1);
    (void)v;
    PQfinish(c);
}
END_TEST

START_TEST(missing_table)
{
    mfa_store_t *s = NULL, *s2 = NULL;
    mfa_throttle_policy p = {5, 30, 3600};
    mfa_throttle_state st;
    mfa_backup_rec codes[2];
    size_t n = 0;
    PGconn *c = admin();
    char sql[256];

    ck_assert_int_eq(pg_open(&s, NULL), MFA_OK);
    memset(codes, 0, sizeof(codes));
    codes[1].hash[0] = 1;
    snprintf(sql, sizeof(sql), "DROP TABLE \"%s\".throttle", last_schema);
    ck_assert_int_eq(pgt_exec(c, sql), 0);
    /* an open store: what needs the table fails, never accepts */
    ck_assert_int_eq(mfa_store_throttle_hit(s, ACCOUNT, 1000, &p, &st),
                     MFA_ERR_STORE);
    ck_assert_int_eq(mfa_store_backup_replace(s, ACCOUNT, codes, 2, 1000),
                     MFA_OK);
    ck_assert_int_eq(mfa_store_backup_list(s, ACCOUNT, codes, 2, &n), MFA_OK);
    ck_assert_uint_eq(n, 2);
    /* a new open: the schema is incomplete */
    ck_assert_int_eq(mfa_store_postgres_open(&s2, conninfo, last_schema),
                     MFA_ERR_SCHEMA);
    mfa_store_free(&s);
    PQfinish(c);
}
END_TEST

typedef struct opener {
    const char *schema;
    mfa_rc rc;
} opener;

static void *
open_thread(void *arg)
{
    opener *o = arg;
    mfa_store_t *s = NULL;

    o->rc = mfa_store_postgres_open(&s, conninfo, o->schema);
    mfa_store_free(&s);
    return NULL;
}

START_TEST(concurrent_first_open)
{
    pthread_t th[6];
    opener o[6];
    PGconn *c = admin();
    char sql[256];
    int i;

    pgt_random_name(last_schema, sizeof(last_schema), run_prefix);
    for (i = 0; i < 6; i++) {
        o[i].schema = last_schema;
        o[i].rc = MFA_ERR_INTERNAL;
        ck_assert_int_eq(pthread_create(&th[i], NULL, open_thread, &o[i]), 0);
    }
    for (i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(o[i].rc, MFA_OK);
    }
    snprintf(sql, sizeof(sql),
             "SELECT count(*) * 100 + max(version) FROM \"%s\".\"schema\"",
             last_schema);
    ck_assert_int_eq(pgt_scalar(c, sql), 100 + MFA_SCHEMA_VERSION);
    PQfinish(c);
}
END_TEST

/*
 * The deployment of docs/postgres.md: an owner role migrates, the
 * application's role has DML rights only and still opens the store.
 */
START_TEST(least_privilege_role)
{
    mfa_store_t *s = NULL;
    mfa_throttle_policy p = {5, 30, 3600};
    mfa_throttle_state st;
    mfa_backup_rec codes[1];
    PGconn *c = admin();
    char role[40], sql[1024], fresh[64], user[64];

    ck_assert_int_eq(pg_open(&s, NULL), MFA_OK); /* migrated by the owner */
    mfa_store_free(&s);
    pgt_random_name(role, sizeof(role), "mfa_app_");
    snprintf(sql, sizeof(sql),
             "CREATE ROLE %s LOGIN;"
             "GRANT USAGE ON SCHEMA \"%s\" TO %s;"
             "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "
             "\"%s\" TO %s;"
             "GRANT USAGE ON ALL SEQUENCES IN SCHEMA \"%s\" TO %s;",
             role, last_schema, role, last_schema, role, last_schema, role);
    ck_assert_int_eq(pgt_exec(c, sql), 0);
    snprintf(user, sizeof(user), "user=%s", role);
    ck_assert_int_eq(
        mfa_store_postgres_open(&s, conninfo_with(user), last_schema), MFA_OK);
    memset(codes, 7, sizeof(codes));
    ck_assert_int_eq(mfa_store_backup_replace(s, ACCOUNT, codes, 1, 1000),
                     MFA_OK);
    ck_assert_int_eq(mfa_store_backup_spend(s, ACCOUNT, codes[0].hash, 1001),
                     MFA_OK);
    ck_assert_int_eq(mfa_store_throttle_hit(s, ACCOUNT, 1000, &p, &st), MFA_OK);
    mfa_store_free(&s);
    /* it may not create a schema of its own: an error, not a half store */
    pgt_random_name(fresh, sizeof(fresh), run_prefix);
    ck_assert_int_eq(mfa_store_postgres_open(&s, conninfo_with(user), fresh),
                     MFA_ERR_STORE);
    ck_assert_ptr_null(s);
    snprintf(sql, sizeof(sql), "DROP OWNED BY %s; DROP ROLE %s;", role, role);
    ck_assert_int_eq(pgt_exec(c, sql), 0);
    PQfinish(c);
}
END_TEST

/* A row locked elsewhere for longer than the timeout: MFA_ERR_BUSY, and the
 * attempt is not let through. */
static void
locked_row_times_out(const char *more, double min_s, double max_s)
{
    mfa_store_t *s = NULL;
    mfa_throttle_policy p = {5, 30, 3600};
    mfa_throttle_state st;
    struct timespec t0, t1;
    PGconn *c = admin();
    char sql[256];
    double took;

    ck_assert_int_eq(pg_open(&s, NULL), MFA_OK);
    ck_assert_int_eq(mfa_store_throttle_hit(s, ACCOUNT, 1000, &p, &st), MFA_OK);
    mfa_store_free(&s);
    ck_assert_int_eq(
        mfa_store_postgres_open(&s, conninfo_with(more), last_schema), MFA_OK);
    ck_assert_int_eq(pgt_exec(c, "BEGIN"), 0);
    snprintf(sql, sizeof(sql),
             "SELECT * FROM \"%s\".throttle WHERE account = '%s' FOR UPDATE",
             last_schema, ACCOUNT);
    ck_assert_int_eq(pgt_exec(c, sql), 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(mfa_store_throttle_hit(s, ACCOUNT, 1000, &p, &st),
                     MFA_ERR_BUSY);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    took = (double)(t1.tv_sec - t0.tv_sec) +
           (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    ck_assert_msg(took >= min_s && took < max_s, "timed out after %.2f s",
                  took);
    ck_assert_int_eq(pgt_exec(c, "ROLLBACK"), 0);
    ck_assert_int_eq(mfa_store_throttle_get(s, ACCOUNT, &st), MFA_OK);
    ck_assert_uint_eq(st.failures, 1);
    mfa_store_free(&s);
    PQfinish(c);
}

START_TEST(statement_timeout_configured)
{
    /* the connection string's own timeout wins over the default */
    locked_row_times_out("options='-c statement_timeout=300'", 0.25, 3.0);
}
END_TEST

START_TEST(default_timeouts)
{
    /* nothing configured: the store's defaults still bound the wait */
    locked_row_times_out("", 1.0, 10.0);
}
END_TEST

START_TEST(server_unreachable)
{
    mfa_store_t *s = NULL;

    ck_assert_int_eq(mfa_store_postgres_open(
                         &s, "host=/nonexistent-mfa-dir port=1 dbname=x", NULL),
                     MFA_ERR_STORE);
    ck_assert_ptr_null(s);
}
END_TEST

/*
 * The delay is computed in SQL (one statement per attempt): it must equal
 * mfa_throttle_delay for every policy, from the first failure to the
 * saturated count, including the edges of uint32.
 */
START_TEST(throttle_delay_matches_c)
{
    static const uint32_t frees[] = {0, 5, 4294967000u};
    static const uint32_t bases[] = {0, 1, 30, 4294967295u};
    static const uint32_t maxes[] = {0, 3600, 4294967295u};
    mfa_store_t *s = NULL;
    PGconn *c = admin();
    char sql[512];
    size_t a, b, m, k;
    int i, checks = 0;

    ck_assert_int_eq(pg_open(&s, NULL), MFA_OK);
    for (a = 0; a < 3; a++)
        for (b = 0; b < 4; b++)
            for (m = 0; m < 3; m++) {
                mfa_throttle_policy p = {frees[a], bases[b], maxes[m]};
                int64_t starts[3] = {0, (int64_t)frees[a] + 28,
                                     4294967295LL - 3};
                for (k = 0; k < 3; k++) {
                    mfa_throttle_state st;
                    int64_t now = 1000;
                    uint32_t want = (uint32_t)starts[k];

                    snprintf(sql, sizeof(sql),
                             "DELETE FROM \"%s\".throttle; INSERT INTO "
                             "\"%s\".throttle VALUES ('%s', %lld, 0)",
                             last_schema, last_schema, ACCOUNT,
                             (long long)starts[k]);
                    ck_assert_int_eq(pgt_exec(c, sql), 0);
                    for (i = 0; i < 36; i++) {
                        if (want < UINT32_MAX)
                            want++;
                        ck_assert_int_eq(
                            mfa_store_throttle_hit(s, ACCOUNT, now, &p, &st),
                            MFA_OK);
                        ck_assert_uint_eq(st.failures, want);
                        ck_assert_msg(st.locked_until ==
                                          now + mfa_throttle_delay(&p, want),
                                      "policy %u/%u/%u, failures %u: %lld, "
                                      "want %lld",
                                      p.free_attempts, p.base_delay,
                                      p.max_delay, want,
                                      (long long)(st.locked_until - now),
                                      (long long)mfa_throttle_delay(&p, want));
                        /* locked: counted, not let through, unchanged */
                        if (st.locked_until > now) {
                            int64_t until = st.locked_until;
                            ck_assert_int_eq(mfa_store_throttle_hit(s, ACCOUNT,
                                                                    until - 1,
                                                                    &p, &st),
                                             MFA_ERR_THROTTLED);
                            if (want < UINT32_MAX)
                                want++;
                            ck_assert_uint_eq(st.failures, want);
                            ck_assert_int_eq(st.locked_until, until);
                        }
                        now = st.locked_until;
                        checks++;
                    }
                }
            }
    ck_assert_int_eq(checks, 3 * 4 * 3 * 3 * 36);
    mfa_store_free(&s);
    PQfinish(c);
}
END_TEST

/* A pre-forking server: the child uses the store it inherited; both it
 * and the parent keep working, neither ends the other's sessions. */
START_TEST(fork_child_reconnects)
{
    mfa_store_t *s = NULL;
    mfa_throttle_policy p = {5, 30, 3600};
    mfa_throttle_state st;
    pid_t pid;
    int status;

    ck_assert_int_eq(pg_open(&s, NULL), MFA_OK);
    ck_assert_int_eq(mfa_store_throttle_hit(s, ACCOUNT, 1000, &p, &st), MFA_OK);
    pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        int ok = mfa_store_throttle_hit(s, ACCOUNT, 1000, &p, &st) == MFA_OK &&
                 st.failures == 2;
        mfa_store_free(&s);
        _exit(ok ? 0 : 1);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* the parent's pooled connection survived the child's exit */
    ck_assert_int_eq(mfa_store_throttle_hit(s, ACCOUNT, 1000, &p, &st), MFA_OK);
    ck_assert_uint_eq(st.failures, 3);
    mfa_store_free(&s);
}
END_TEST

static Suite *
postgres_suite(void)
{
    Suite *su = suite_create("postgres-specific");
    TCase *tc = tcase_create("postgres");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, schema_names);
    tcase_add_test(tc, newer_schema_refused);
    tcase_add_test(tc, missing_table);
    tcase_add_test(tc, concurrent_first_open);
    tcase_add_test(tc, least_privilege_role);
    tcase_add_test(tc, statement_timeout_configured);
    tcase_add_test(tc, default_timeouts);
    tcase_add_test(tc, server_unreachable);
    tcase_add_test(tc, fork_child_reconnects);
    tcase_add_test(tc, throttle_delay_matches_c);
    suite_add_tcase(su, tc);
    return su;
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
    {
        SRunner *sr = srunner_create(mfa_conformance_suite(&backend));
        srunner_add_suite(sr, postgres_suite());
        srunner_run_all(sr, CK_NORMAL);
        rc = srunner_ntests_failed(sr) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
        srunner_free(sr);
    }
    if (pgt_drop_schemas(conninfo, run_prefix) != 0) {
        fprintf(stderr, "could not drop the test schemas %s*\n", run_prefix);
        rc = EXIT_FAILURE;
    }
    return rc;
}
