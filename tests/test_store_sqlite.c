/*
 * The SQLite store: the conformance suite on a fresh file per test (with a
 * second connection for open_again), plus what only SQLite has: the file's
 * schema and settings, migration and versions, persistence across reopen,
 * mfa_store_open("sqlite:..."), read-only databases.
 */
#define _GNU_SOURCE
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include <mfa.h>

#include "store/store_int.h"
#include "store_conformance.h"
#include "testutil.h"

static char tmpdir[] = "/tmp/mfa-sqlite-XXXXXX";

typedef struct sq_arg {
    char path[512];
    unsigned n;
} sq_arg;

static sq_arg the_arg;

static void
fresh_path(char *out, size_t size)
{
    static unsigned n;
    snprintf(out, size, "%s/t-%ld-%u.db", tmpdir, (long)getpid(), n++);
}

static mfa_rc
open_fresh(mfa_store_t **out, void *arg)
{
    sq_arg *a = arg;

    fresh_path(a->path, sizeof(a->path));
    return mfa_store_sqlite_open(out, a->path);
}

static mfa_rc
open_same(mfa_store_t **out, void *arg)
{
    sq_arg *a = arg;

    return mfa_store_sqlite_open(out, a->path);
}

static const mfa_conformance_backend sqlite_backend = {
    .name = "sqlite",
    .open = open_fresh,
    .open_again = open_same,
    .arg = &the_arg,
};

/* ---- helpers ----------------------------------------------------------------
 */

static sqlite3 *
raw_open(const char *path)
{
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    return db;
}

static void
raw_exec(sqlite3 *db, const char *q)
{
    char *err = NULL;
    int rc = sqlite3_exec(db, q, NULL, NULL, &err);
    ck_assert_msg(rc == SQLITE_OK, "%s: %s", q, err ? err : "?");
    sqlite3_free(err);
}

static int64_t
raw_int(sqlite3 *db, const char *q)
{
    sqlite3_stmt *s;
    int64_t v;

    ck_assert_int_eq(sqlite3_prepare_v2(db, q, -1, &s, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

static mfa_factor_rec
some_factor(const char *account, const char *id)
{
    mfa_factor_rec f;

    memset(&f, 0, sizeof(f));
    snprintf(f.id, sizeof(f.id), "%s", id);
    snprintf(f.account, sizeof(f.account), "%s", account);
    snprintf(f.label, sizeof(f.label), "phone");
    f.type = MFA_TOTP;
    f.algorithm = MFA_SHA1;
    f.digits = 6;
    f.period = 30;
    f.last_step = 7;
    f.status = MFA_FACTOR_ACTIVE;
    f.created = 1000;
    f.sealed_len = 65;
    memset(f.sealed, 0xab, f.sealed_len);
    return f;
}

/* ---- tests ----------------------------------------------------------------
 */

START_TEST(file_schema_and_settings)
{
    char path[512];
    mfa_store_t *s = NULL;
    sqlite3 *db;

    fresh_path(path, sizeof(path));
    ck_assert_int_eq(mfa_store_sqlite_open(&s, path), MFA_OK);
    ck_assert_str_eq(mfa_store_name(s), "sqlite");
    db = mfa_int_store_sqlite_db(s);
    ck_assert_ptr_nonnull(db);
    ck_assert_int_eq(raw_int(db, "PRAGMA synchronous"), 2); /* FULL */
    ck_assert_int_eq(raw_int(db, "PRAGMA foreign_keys"), 1);
    ck_assert_int_eq(raw_int(db, "PRAGMA secure_delete"), 1);
    mfa_store_free(&s);

    db = raw_open(path);
    {
        sqlite3_stmt *st;
        ck_assert_int_eq(
            sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL),
            SQLITE_OK);
        ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
        ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
        sqlite3_finalize(st);
    }
    ck_assert_int_eq(raw_int(db, "SELECT version FROM mfa_schema"),
                     MFA_SCHEMA_VERSION);
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM mfa_schema"), 1);
    /* the tables and columns of docs/stores.md */
    ck_assert_int_eq(
        raw_int(db, "SELECT count(*) FROM pragma_table_info('mfa_factor') "
                    "WHERE name IN ('id', 'account', 'label', 'type', "
                    "'algorithm', 'digits', 'period', 't0', 'last_step', "
                    "'drift', 'status', 'created', 'confirmed', 'last_used', "
                    "'sealed')"),
        15);
    ck_assert_int_eq(
        raw_int(db, "SELECT count(*) FROM pragma_table_info('mfa_backup_code') "
                    "WHERE name IN ('account', 'hash', 'key_id', 'created', "
                    "'used')"),
        5);
    ck_assert_int_eq(
        raw_int(db, "SELECT count(*) FROM pragma_table_info('mfa_throttle') "
                    "WHERE name IN ('account', 'failures', 'locked_until')"),
        3);
    ck_assert_int_eq(
        raw_int(db,
                "SELECT count(*) FROM pragma_table_info('mfa_oob_challenge') "
                "WHERE name IN ('account', 'purpose', 'hash', 'key_id', "
                "'created', 'expires', 'attempts_left')"),
        7);
    sqlite3_close(db);
}
END_TEST

START_TEST(data_survives_reopen)
{
    char path[512];
    mfa_store_t *s = NULL;
    mfa_factor_rec f = some_factor("alice", "0123456789abcdef"), g;
    mfa_backup_rec c = {{1, 2, 3}, 9};
    size_t n = 0;

    fresh_path(path, sizeof(path));
    ck_assert_int_eq(mfa_store_sqlite_open(&s, path), MFA_OK);
    ck_assert_int_eq(mfa_store_factor_create(s, &f), MFA_OK);
    ck_assert_int_eq(mfa_store_backup_replace(s, "alice", &c, 1, 5), MFA_OK);
    ck_assert_int_eq(mfa_store_factor_advance(s, "alice", f.id, 8, 1, 6),
                     MFA_OK);
    mfa_store_free(&s);

    {
        char spec[600];
        snprintf(spec, sizeof(spec), "sqlite:%s", path);
        ck_assert_int_eq(mfa_store_open(&s, spec), MFA_OK);
    }
    ck_assert_int_eq(mfa_store_factor_get(s, "alice", f.id, &g), MFA_OK);
    ck_assert_int_eq(g.last_step, 8);
    ck_assert_int_eq(g.drift, 1);
    ck_assert_mem_eq(g.sealed, f.sealed, f.sealed_len);
    ck_assert_int_eq(mfa_store_factor_advance(s, "alice", f.id, 8, 1, 7),
                     MFA_ERR_REPLAYED);
    ck_assert_int_eq(mfa_store_backup_list(s, "alice", &c, 1, &n), MFA_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(c.key_id, 9);
    mfa_store_free(&s);
}
END_TEST

START_TEST(newer_schema_is_refused)
{
    char path[512];
    mfa_store_t *s = NULL;
    sqlite3 *db;
    int v = 0;

    fresh_path(path, sizeof(path));
    ck_assert_int_eq(mfa_store_sqlite_open(&s, path), MFA_OK);
    mfa_store_free(&s);
    db = raw_open(path);
    raw_exec(db, "UPDATE mfa_schema SET version = version + 1");
    sqlite3_close(db);

    s = (mfa_store_t *)&s;
    ck_assert_int_eq(mfa_store_sqlite_open(&s, path), MFA_ERR_SCHEMA);
    ck_assert_ptr_null(s);

    /* an open handle sees the change through migrate and schema_version */
    db = raw_open(path);
    raw_exec(db, "UPDATE mfa_schema SET version = 1");
    sqlite3_close(db);
    ck_assert_int_eq(mfa_store_sqlite_open(&s, path), MFA_OK);
    db = raw_open(path);
    raw_exec(db, "UPDATE mfa_schema SET version = 99");
    sqlite3_close(db);
    ck_assert_int_eq(mfa_store_schema_version(s, &v), MFA_OK);
    ck_assert_int_eq(v, 99);
    ck_assert_int_eq(mfa_store_migrate(s), MFA_ERR_SCHEMA);
    mfa_store_free(&s);
}
END_TEST

START_TEST(migrates_an_empty_file_and_foreign_tables_stay)
{
    char path[512];
    mfa_store_t *s = NULL;
    sqlite3 *db;
    int v = -1;

    /* an application's own database: libmfa adds its tables beside */
    fresh_path(path, sizeof(path));
    db = raw_open(path);
    raw_exec(db, "CREATE TABLE users (name TEXT); INSERT INTO users VALUES "
                 "('alice')");
    sqlite3_close(db);
    ck_assert_int_eq(mfa_store_sqlite_open(&s, path), MFA_OK);
    ck_assert_int_eq(mfa_store_schema_version(s, &v), MFA_OK);
    ck_assert_int_eq(v, MFA_SCHEMA_VERSION);
    ck_assert_int_eq(mfa_store_migrate(s), MFA_OK);
    mfa_store_free(&s);
    db = raw_open(path);
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM users"), 1);
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM mfa_schema"), 1);
    sqlite3_close(db);
}
END_TEST

START_TEST(missing_table_at_open_is_a_schema_error)
{
    char path[512];
    mfa_store_t *s = NULL;
    sqlite3 *db;

    fresh_path(path, sizeof(path));
    ck_assert_int_eq(mfa_store_sqlite_open(&s, path), MFA_OK);
    mfa_store_free(&s);
    db = raw_open(path);
    raw_exec(db, "DROP TABLE mfa_throttle");
    sqlite3_close(db);
    ck_assert_int_eq(mfa_store_sqlite_open(&s, path), MFA_ERR_SCHEMA);
    ck_assert_ptr_null(s);
}
END_TEST

START_TEST(read_only_uri)
{
    char path[512], uri[600];
    mfa_store_t *s = NULL;
    mfa_factor_rec f = some_factor("alice", "00000000000000aa"), g;
    mfa_throttle_state st;
    const mfa_throttle_policy p = {5, 30, 3600};

    fresh_path(path, sizeof(path));
    ck_assert_int_eq(mfa_store_sqlite_open(&s, path), MFA_OK);
    ck_assert_int_eq(mfa_store_factor_create(s, &f), MFA_OK);
    mfa_store_free(&s);

    snprintf(uri, sizeof(uri), "file:%s?mode=ro", path);
    ck_assert_int_eq(mfa_store_sqlite_open(&s, uri), MFA_OK);
    ck_assert_int_eq(mfa_store_factor_get(s, "alice", f.id, &g), MFA_OK);
    /* writes are refused as read-only, and nothing is accepted */
    ck_assert_int_eq(mfa_store_factor_advance(s, "alice", f.id, 100, 0, 5),
                     MFA_ERR_READONLY);
    ck_assert_int_eq(mfa_store_throttle_hit(s, "alice", 5, &p, &st),
                     MFA_ERR_READONLY);
    ck_assert_int_eq(mfa_store_factor_get(s, "alice", f.id, &g), MFA_OK);
    ck_assert_int_eq(g.last_step, f.last_step);
    mfa_store_free(&s);

    /* a new, empty read-only file cannot be migrated */
    fresh_path(path, sizeof(path));
    {
        FILE *fp = fopen(path, "w");
        ck_assert_ptr_nonnull(fp);
        fclose(fp);
    }
    snprintf(uri, sizeof(uri), "file:%s?mode=ro", path);
    ck_assert_int_eq(mfa_store_sqlite_open(&s, uri), MFA_ERR_READONLY);
    ck_assert_ptr_null(s);
}
END_TEST

START_TEST(synchronous_uri_parameter)
{
    char path[512], uri[600];
    mfa_store_t *s = (mfa_store_t *)&s;

    fresh_path(path, sizeof(path));
    snprintf(uri, sizeof(uri), "file:%s?synchronous=normal", path);
    ck_assert_int_eq(mfa_store_sqlite_open(&s, uri), MFA_OK);
    ck_assert_int_eq(raw_int(mfa_int_store_sqlite_db(s), "PRAGMA synchronous"),
                     1); /* NORMAL */
    mfa_store_free(&s);
    snprintf(uri, sizeof(uri), "file:%s?synchronous=FULL", path);
    ck_assert_int_eq(mfa_store_sqlite_open(&s, uri), MFA_OK);
    ck_assert_int_eq(raw_int(mfa_int_store_sqlite_db(s), "PRAGMA synchronous"),
                     2);
    mfa_store_free(&s);
    /* OFF can corrupt the file on a power cut: refused */
    snprintf(uri, sizeof(uri), "file:%s?synchronous=off", path);
    s = (mfa_store_t *)&s;
    ck_assert_int_eq(mfa_store_sqlite_open(&s, uri), MFA_ERR_INVALID);
    ck_assert_ptr_null(s);
}
END_TEST

START_TEST(open_errors)
{
    mfa_store_t *s = (mfa_store_t *)&s;

    ck_assert_int_eq(mfa_store_sqlite_open(&s, ""), MFA_ERR_INVALID);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(mfa_store_sqlite_open(&s, NULL), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_store_sqlite_open(NULL, "/tmp/x"), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_store_sqlite_open(&s, "/nonexistent-dir/x/y.db"),
                     MFA_ERR_STORE);
    ck_assert_ptr_null(s);
    ck_assert_ptr_null(mfa_int_store_sqlite_db(NULL));
}
END_TEST

/* Many factors: factor_each pages through them all, in order. */
static mfa_rc
count_each(const mfa_factor_rec *f, void *arg)
{
    size_t *n = arg;
    char want[MFA_FACTOR_ID_LEN + 1];

    snprintf(want, sizeof(want), "%016zx", *n);
    ck_assert_str_eq(f->id, want);
    (*n)++;
    return MFA_OK;
}

START_TEST(each_pages_through_many)
{
    char path[512];
    mfa_store_t *s = NULL;
    size_t i, n = 0;

    fresh_path(path, sizeof(path));
    ck_assert_int_eq(mfa_store_sqlite_open(&s, path), MFA_OK);
    raw_exec(mfa_int_store_sqlite_db(s), "BEGIN");
    for (i = 0; i < 1000; i++) {
        char id[MFA_FACTOR_ID_LEN + 1];
        mfa_factor_rec f;
        snprintf(id, sizeof(id), "%016zx", i);
        f = some_factor("acct", id);
        f.created = 5; /* one account, one time: the id orders */
        ck_assert_int_eq(mfa_store_factor_create(s, &f), MFA_OK);
    }
    raw_exec(mfa_int_store_sqlite_db(s), "COMMIT");
    ck_assert_int_eq(mfa_store_factor_each(s, count_each, &n), MFA_OK);
    ck_assert_uint_eq(n, 1000);
    mfa_store_free(&s);
}
END_TEST

static Suite *
sqlite_suite(void)
{
    Suite *s = suite_create("sqlite file");
    TCase *tc = tcase_create("file");

    tcase_add_test(tc, file_schema_and_settings);
    tcase_add_test(tc, data_survives_reopen);
    tcase_add_test(tc, newer_schema_is_refused);
    tcase_add_test(tc, migrates_an_empty_file_and_foreign_tables_stay);
    tcase_add_test(tc, missing_table_at_open_is_a_schema_error);
    tcase_add_test(tc, read_only_uri);
    tcase_add_test(tc, synchronous_uri_parameter);
    tcase_add_test(tc, open_errors);
    tcase_add_test(tc, each_pages_through_many);
    suite_add_tcase(s, tc);
    return s;
}

static int
rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

int
main(void)
{
    SRunner *sr;
    int failed;

    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return EXIT_FAILURE;
    }
    sr = srunner_create(sqlite_suite());
    srunner_add_suite(sr, mfa_conformance_suite(&sqlite_backend));
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
