/*
 * The SQLite store: the conformance suite on a fresh file per test (with a
 * second connection for open_again), plus what only SQLite has: opening
 * never creates, the file's mode and settings, schema versions and the
 * upgrade from version 1, damaged rows, rollback of every kind of write,
 * isolation between two connections.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include <mfa.h>
#include <mfa/store-backend.h>

#include "store/schema.h"
#include "store/store_int.h"
#include "store/txn.h"
#include "store_conformance.h"
#include "testutil.h"

static char tmpdir[] = "/tmp/mfa-sqlite-XXXXXX";

typedef struct sq_arg {
    char path[512];
} sq_arg;

static sq_arg the_arg;

static void
fresh_path(char *out, size_t size)
{
    static unsigned n;
    snprintf(out, size, "%s/t-%ld-%u.db", tmpdir, (long)getpid(), n++);
}

static void
spec_of(char *out, size_t size, const char *path, const char *opts)
{
    snprintf(out, size, "sqlite:%s%s", path, opts != NULL ? opts : "");
}

static mfa_rc
open_fresh(mfa_store_t **out, void *arg)
{
    sq_arg *a = arg;
    char spec[1100];

    fresh_path(a->path, sizeof(a->path));
    spec_of(spec, sizeof(spec), a->path, NULL);
    return mfa_store_create(out, spec);
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

/* ---- helpers ------------------------------------------------------------- */

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

static void
raw_text(sqlite3 *db, const char *q, char *out, size_t size)
{
    sqlite3_stmt *s;

    ck_assert_int_eq(sqlite3_prepare_v2(db, q, -1, &s, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    snprintf(out, size, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
}

/*
 * Every row of every libmfa table, in key order, as one string: two dumps
 * are equal exactly when the stored data is.
 */
static char *
dump(sqlite3 *db)
{
    static const char *const q[] = {
        "SELECT * FROM mfa_factor ORDER BY id",
        "SELECT * FROM mfa_backup_code ORDER BY account, hash",
        "SELECT * FROM mfa_throttle ORDER BY account, bucket",
        "SELECT * FROM mfa_oob_challenge ORDER BY account, purpose",
        "SELECT * FROM mfa_device ORDER BY account, id",
        "SELECT * FROM mfa_webauthn_credential ORDER BY factor_id",
        "SELECT * FROM mfa_webauthn_user ORDER BY account",
        "SELECT * FROM mfa_webauthn_spent ORDER BY account, nonce",
    };
    sqlite3_str *str = sqlite3_str_new(db);

    for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
        sqlite3_stmt *s;
        ck_assert_int_eq(sqlite3_prepare_v2(db, q[i], -1, &s, NULL), SQLITE_OK);
        sqlite3_str_appendf(str, "[%d]", (int)i);
        while (sqlite3_step(s) == SQLITE_ROW) {
            for (int c = 0; c < sqlite3_column_count(s); c++) {
                const unsigned char *b = sqlite3_column_blob(s, c);
                int n = sqlite3_column_bytes(s, c);
                sqlite3_str_appendf(str, "%d:", sqlite3_column_type(s, c));
                for (int k = 0; k < n; k++)
                    sqlite3_str_appendf(str, "%02x", b[k]);
                sqlite3_str_appendchar(str, 1, ',');
            }
            sqlite3_str_appendchar(str, 1, ';');
        }
        sqlite3_finalize(s);
    }
    return sqlite3_str_finish(str);
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
    f.confirmed = 1001;
    f.last_used = 1002;
    f.sealed_len = 65;
    memset(f.sealed, 0xab, f.sealed_len);
    return f;
}

static void
some_hash(uint8_t h[MFA_BACKUP_HASHBYTES], uint8_t tag)
{
    memset(h, tag, MFA_BACKUP_HASHBYTES);
    h[0] = 0x42;
}

static mfa_oob_challenge
some_oob(const char *purpose)
{
    mfa_oob_challenge c;

    memset(&c, 0, sizeof(c));
    some_hash(c.hash, 0x77);
    c.key_id = 3;
    snprintf(c.purpose, sizeof(c.purpose), "%s", purpose);
    c.created = 1000;
    c.expires = 1300;
    c.attempts_left = 5;
    return c;
}

/*
 * A passkey of the account: the largest record there is (tag 0: a
 * 1023-byte credential id, a 512-byte key, a 64-byte user handle, the
 * highest sign count), or a small one (tag != 0), its bytes made from tag.
 */
static mfa_webauthn_rec
some_passkey(const char *factor_id, uint8_t tag)
{
    mfa_webauthn_rec r;
    mfa_webauthn_credential *c = &r.cred;

    memset(&r, 0, sizeof(r));
    snprintf(r.factor_id, sizeof(r.factor_id), "%s", factor_id);
    if (tag == 0) {
        memset(r.label, 'k', MFA_LABEL_MAX);
        c->id_len = MFA_WEBAUTHN_CRED_ID_MAX;
        c->public_key_len = MFA_WEBAUTHN_PUBLIC_KEY_MAX;
        c->user_handle_len = MFA_WEBAUTHN_USER_HANDLE_MAX;
        c->sign_count = UINT32_MAX;
        c->algorithm = MFA_WEBAUTHN_RS256;
        c->transports = 0x3f;
        c->flags = 0xff;
        c->attestation_format = MFA_WEBAUTHN_FMT_FIDO_U2F;
        c->attestation_trust = MFA_WEBAUTHN_TRUST_UNVERIFIED;
        r.created = 253402300799;
        r.last_used = 253402300799;
    } else {
        snprintf(r.label, sizeof(r.label), "key %u", tag);
        c->id_len = MFA_WEBAUTHN_CRED_ID_MIN;
        c->public_key_len = 77;
        c->user_handle_len = 1;
        c->sign_count = tag;
        c->algorithm = MFA_WEBAUTHN_ES256;
        c->transports = MFA_WEBAUTHN_TRANSPORT_USB;
        c->flags = MFA_WEBAUTHN_FLAG_UP | MFA_WEBAUTHN_FLAG_AT;
        r.created = 1000 + tag;
    }
    for (size_t i = 0; i < c->id_len; i++)
        c->id[i] = (uint8_t)(tag + i * 7);
    /* NUL bytes inside: blobs, never strings */
    c->id[1] = 0;
    for (size_t i = 0; i < c->public_key_len; i++)
        c->public_key[i] = (uint8_t)(tag ^ i);
    memset(c->aaguid, tag ^ 0x5a, sizeof(c->aaguid));
    c->aaguid[3] = 0;
    for (size_t i = 0; i < c->user_handle_len; i++)
        c->user_handle[i] = (uint8_t)(0x80 + tag + i);
    return r;
}

static void
assert_same_passkey(const mfa_webauthn_rec *a, const mfa_webauthn_rec *b)
{
    ck_assert_str_eq(a->factor_id, b->factor_id);
    ck_assert_str_eq(a->label, b->label);
    ck_assert_int_eq(a->created, b->created);
    ck_assert_int_eq(a->last_used, b->last_used);
    ck_assert_uint_eq(a->cred.id_len, b->cred.id_len);
    ck_assert_mem_eq(a->cred.id, b->cred.id, a->cred.id_len);
    ck_assert_uint_eq(a->cred.public_key_len, b->cred.public_key_len);
    ck_assert_mem_eq(a->cred.public_key, b->cred.public_key,
                     a->cred.public_key_len);
    ck_assert_int_eq(a->cred.algorithm, b->cred.algorithm);
    ck_assert_uint_eq(a->cred.sign_count, b->cred.sign_count);
    ck_assert_uint_eq(a->cred.transports, b->cred.transports);
    ck_assert_uint_eq(a->cred.flags, b->cred.flags);
    ck_assert_mem_eq(a->cred.aaguid, b->cred.aaguid, MFA_WEBAUTHN_AAGUID_BYTES);
    ck_assert_int_eq(a->cred.attestation_format, b->cred.attestation_format);
    ck_assert_int_eq(a->cred.attestation_trust, b->cred.attestation_trust);
    ck_assert_uint_eq(a->cred.user_handle_len, b->cred.user_handle_len);
    ck_assert_mem_eq(a->cred.user_handle, b->cred.user_handle,
                     a->cred.user_handle_len);
}

/* The backend of a store and a transaction on it. */
typedef struct bt {
    const mfa_store_backend *be;
    void *impl;
    mfa_store_txn *t;
} bt;

static bt
begin(mfa_store_t *s, const char *account, mfa_txn_mode mode)
{
    bt x;

    x.be = mfa_store_backend_of(s);
    x.impl = mfa_store_impl_of(s);
    ck_assert_ptr_nonnull(x.be);
    ck_assert_int_eq(x.be->begin(x.impl, account, mode, &x.t), MFA_OK);
    return x;
}

/* One factor, one throttle row, two backup codes (one used), one
 * challenge for alice, and a factor of bob's. */
static void
populate(mfa_store_t *s)
{
    bt x = begin(s, "alice", MFA_TXN_WRITE);
    mfa_factor_rec f = some_factor("alice", "00000000000000aa");
    mfa_throttle_rec r = {"", 2, 1500, 1400};
    mfa_backup_rec b = {{0}, 1};
    mfa_oob_challenge c = some_oob("sms");

    ck_assert_int_eq(x.be->factor_insert(x.t, &f), MFA_OK);
    ck_assert_int_eq(x.be->throttle_put(x.t, "alice", &r), MFA_OK);
    some_hash(b.hash, 1);
    ck_assert_int_eq(x.be->backup_insert(x.t, "alice", &b, 1000), MFA_OK);
    some_hash(b.hash, 2);
    ck_assert_int_eq(x.be->backup_insert(x.t, "alice", &b, 1000), MFA_OK);
    ck_assert_int_eq(x.be->backup_use(x.t, "alice", b.hash, 1100), MFA_OK);
    ck_assert_int_eq(x.be->oob_put(x.t, "alice", &c), MFA_OK);
    {
        mfa_webauthn_rec w = some_passkey("00000000000000a1", 1);
        uint8_t nonce[MFA_WEBAUTHN_NONCE_BYTES];

        ck_assert_int_eq(x.be->webauthn_insert(x.t, "alice", &w), MFA_OK);
        ck_assert_int_eq(
            x.be->webauthn_handle_put(x.t, "alice", w.cred.user_handle,
                                      w.cred.user_handle_len, 1000),
            MFA_OK);
        memset(nonce, 0x33, sizeof(nonce));
        ck_assert_int_eq(x.be->webauthn_spend(x.t, "alice", nonce, 1300),
                         MFA_OK);
    }
    ck_assert_int_eq(x.be->commit(x.t), MFA_OK);
    x = begin(s, "bob", MFA_TXN_WRITE);
    f = some_factor("bob", "00000000000000bb");
    ck_assert_int_eq(x.be->factor_insert(x.t, &f), MFA_OK);
    ck_assert_int_eq(x.be->commit(x.t), MFA_OK);
}

static mfa_store_t *
created_store(char *path, size_t size)
{
    char spec[1100];
    mfa_store_t *s = NULL;

    fresh_path(path, size);
    spec_of(spec, sizeof(spec), path, NULL);
    ck_assert_int_eq(mfa_store_create(&s, spec), MFA_OK);
    return s;
}

/* ---- opening never creates ------------------------------------------------
 */

START_TEST(missing_file_is_no_store_and_creates_nothing)
{
    char path[512], spec[1100], other[600];
    mfa_store_t *s = (mfa_store_t *)&s;
    struct stat st;

    fresh_path(path, sizeof(path));
    spec_of(spec, sizeof(spec), path, NULL);
    ck_assert_int_eq(mfa_store_open(&s, spec), MFA_ERR_NO_STORE);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(mfa_store_sqlite_open(&s, path), MFA_ERR_NO_STORE);
    ck_assert_ptr_null(s);
    spec_of(spec, sizeof(spec), path, "?synchronous=normal");
    ck_assert_int_eq(mfa_store_open(&s, spec), MFA_ERR_NO_STORE);
    ck_assert_int_eq(stat(path, &st), -1);
    ck_assert_int_eq(errno, ENOENT);
    snprintf(other, sizeof(other), "%s-wal", path);
    ck_assert_int_eq(stat(other, &st), -1);
    snprintf(other, sizeof(other), "%s-journal", path);
    ck_assert_int_eq(stat(other, &st), -1);

    /* in a directory that does not exist either */
    snprintf(other, sizeof(other), "%s/no-such-dir/x.db", tmpdir);
    ck_assert_int_eq(mfa_store_sqlite_open(&s, other), MFA_ERR_NO_STORE);
    /* create needs the directory: it fails and makes none */
    spec_of(spec, sizeof(spec), other, NULL);
    ck_assert_int_ne(mfa_store_create(&s, spec), MFA_OK);
    ck_assert_ptr_null(s);
    snprintf(other, sizeof(other), "%s/no-such-dir", tmpdir);
    ck_assert_int_eq(stat(other, &st), -1);
}
END_TEST

START_TEST(created_file_is_0600_whatever_the_umask)
{
    char path[512], side[600];
    mfa_store_t *s;
    struct stat st;
    mode_t old = umask(0);

    s = created_store(path, sizeof(path));
    umask(old);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0600);
    populate(s); /* the WAL and its index exist once written */
    snprintf(side, sizeof(side), "%s-wal", path);
    ck_assert_int_eq(stat(side, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0600);
    snprintf(side, sizeof(side), "%s-shm", path);
    ck_assert_int_eq(stat(side, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0600);
    mfa_store_free(&s);

    /* an existing file keeps the mode its owner gave it */
    fresh_path(path, sizeof(path));
    sqlite3_close(raw_open(path));
    ck_assert_int_eq(chmod(path, 0640), 0);
    {
        char spec[1100];
        spec_of(spec, sizeof(spec), path, NULL);
        ck_assert_int_eq(mfa_store_create(&s, spec), MFA_OK);
    }
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0640);
    mfa_store_free(&s);
}
END_TEST

START_TEST(empty_database_is_no_schema)
{
    char path[512], spec[1100], mode[16];
    mfa_store_t *s = (mfa_store_t *)&s;
    struct stat st;
    sqlite3 *db;
    int v = -1;

    /* a zero-byte file */
    fresh_path(path, sizeof(path));
    {
        FILE *fp = fopen(path, "w");
        ck_assert_ptr_nonnull(fp);
        fclose(fp);
    }
    spec_of(spec, sizeof(spec), path, NULL);
    ck_assert_int_eq(mfa_store_open(&s, spec), MFA_ERR_NO_SCHEMA);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_size, 0); /* nothing was written to it */

    /* an application's database without libmfa tables: left as it is */
    fresh_path(path, sizeof(path));
    db = raw_open(path);
    raw_exec(db, "CREATE TABLE users (name TEXT); INSERT INTO users VALUES "
                 "('alice')");
    sqlite3_close(db);
    spec_of(spec, sizeof(spec), path, NULL);
    ck_assert_int_eq(mfa_store_open(&s, spec), MFA_ERR_NO_SCHEMA);
    db = raw_open(path);
    raw_text(db, "PRAGMA journal_mode", mode, sizeof(mode));
    ck_assert_str_eq(mode, "delete");
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM sqlite_master WHERE "
                                 "name LIKE 'mfa_%'"),
                     0);
    sqlite3_close(db);

    /* created explicitly: libmfa's tables beside the application's */
    ck_assert_int_eq(mfa_store_create(&s, spec), MFA_OK);
    ck_assert_int_eq(mfa_store_schema_version(s, &v), MFA_OK);
    ck_assert_int_eq(v, MFA_SCHEMA_VERSION);
    ck_assert_int_eq(mfa_store_check(s), MFA_OK);
    mfa_store_free(&s);
    db = raw_open(path);
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM users"), 1);
    raw_text(db, "PRAGMA journal_mode", mode, sizeof(mode));
    ck_assert_str_eq(mode, "wal");
    sqlite3_close(db);
    ck_assert_int_eq(mfa_store_open(&s, spec), MFA_OK);
    mfa_store_free(&s);
}
END_TEST

START_TEST(not_a_database_is_corrupt)
{
    char path[512], spec[1100];
    mfa_store_t *s = (mfa_store_t *)&s;
    FILE *fp;

    fresh_path(path, sizeof(path));
    fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    for (int i = 0; i < 200; i++)
        fputs("this is not a database, it is a text file. ", fp);
    fclose(fp);
    spec_of(spec, sizeof(spec), path, NULL);
    ck_assert_int_eq(mfa_store_open(&s, spec), MFA_ERR_CORRUPT);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(mfa_store_create(&s, spec), MFA_ERR_CORRUPT);
    ck_assert_ptr_null(s);
}
END_TEST

/* ---- versions --------------------------------------------------------------
 */

/* A version-1 file as libmfa 0.1 wrote it, with a row in every table. */
static void
make_v1(const char *path)
{
    sqlite3 *db = raw_open(path);
    char *v1 = mfa_int_schema_sql(MFA_DIALECT_SQLITE, 0);

    ck_assert_ptr_nonnull(v1);
    raw_exec(db, "PRAGMA journal_mode = WAL");
    raw_exec(db, "BEGIN");
    raw_exec(db, "CREATE TABLE mfa_schema (version INTEGER NOT NULL)");
    raw_exec(db, v1);
    raw_exec(db, "INSERT INTO mfa_schema VALUES (1)");
    raw_exec(db, "INSERT INTO mfa_factor VALUES ('00000000000000aa', "
                 "'alice', 'phone', 0, 0, 6, 30, 0, 55, -1, 1, 1000, 1001, "
                 "1002, x'0102030405060708090a0b0c0d0e0f1011121314')");
    raw_exec(db, "INSERT INTO mfa_backup_code VALUES ('alice', "
                 "x'4242424242424242424242424242424242424242424242424242424242"
                 "424242', 1, 1000, NULL)");
    raw_exec(db, "INSERT INTO mfa_throttle VALUES ('alice', 4, 1600)");
    raw_exec(db, "INSERT INTO mfa_oob_challenge VALUES ('alice', 'sms', "
                 "x'7777777777777777777777777777777777777777777777777777777777"
                 "777777', 3, 1000, 1300, 5)");
    raw_exec(db, "COMMIT");
    sqlite3_close(db);
    free(v1);
}

static void
check_v1_rows_upgraded(mfa_store_t *s)
{
    bt x = begin(s, "alice", MFA_TXN_READ);
    mfa_factor_rec f;
    mfa_throttle_rec r;
    mfa_backup_rec b[4];
    mfa_oob_challenge c;
    size_t n = 0;

    ck_assert_int_eq(x.be->factor_get(x.t, "alice", "00000000000000aa", &f),
                     MFA_OK);
    ck_assert_int_eq(f.last_step, 55);
    ck_assert_int_eq(f.drift, -1);
    ck_assert_uint_eq(f.sealed_len, 20);
    ck_assert_int_eq(x.be->throttle_get(x.t, "alice", "", &r), MFA_OK);
    ck_assert_str_eq(r.bucket, "");
    ck_assert_uint_eq(r.failures, 4);
    ck_assert_int_eq(r.locked_until, 1600);
    ck_assert_int_eq(x.be->backup_list(x.t, "alice", b, 4, &n), MFA_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(b[0].key_id, 1);
    ck_assert_int_eq(x.be->oob_get(x.t, "alice", "sms", &c), MFA_OK);
    ck_assert_int_eq(c.attempts_left, 5);
    ck_assert_int_eq(c.expires, 1300);
    ck_assert_int_eq(x.be->commit(x.t), MFA_OK);
}

START_TEST(version_1_is_old_and_create_upgrades_it)
{
    char path[512], spec[1100];
    mfa_store_t *s = (mfa_store_t *)&s;
    sqlite3 *db;
    int v = -1;

    fresh_path(path, sizeof(path));
    make_v1(path);
    spec_of(spec, sizeof(spec), path, NULL);
    ck_assert_int_eq(mfa_store_open(&s, spec), MFA_ERR_SCHEMA_OLD);
    ck_assert_ptr_null(s);
    /* refusing changed nothing */
    db = raw_open(path);
    ck_assert_int_eq(raw_int(db, "SELECT version FROM mfa_schema"), 1);
    ck_assert_int_eq(
        raw_int(db, "SELECT count(*) FROM pragma_table_info('mfa_throttle')"),
        3);
    sqlite3_close(db);

    ck_assert_int_eq(mfa_store_create(&s, spec), MFA_OK);
    ck_assert_int_eq(mfa_store_schema_version(s, &v), MFA_OK);
    ck_assert_int_eq(v, MFA_SCHEMA_VERSION);
    check_v1_rows_upgraded(s);
    mfa_store_free(&s);
    db = raw_open(path);
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM mfa_schema"), 1);
    ck_assert_int_eq(raw_int(db, "SELECT updated FROM mfa_throttle"), 1600);
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM sqlite_master WHERE "
                                 "name = 'mfa_throttle2'"),
                     0);
    sqlite3_close(db);
    ck_assert_int_eq(mfa_store_open(&s, spec), MFA_OK);
    check_v1_rows_upgraded(s);
    mfa_store_free(&s);
}
END_TEST

/* A version 2 file (throttle buckets, no device table) upgrades to 3: its
 * rows stay, the device table comes, empty and usable. */
START_TEST(version_2_is_old_and_create_upgrades_it)
{
    char path[512], spec[1100];
    mfa_store_t *s = NULL;
    mfa_throttle_rec r;
    mfa_device_rec d, got;
    sqlite3 *db;
    char *step;
    size_t n = 9;
    int v = -1;
    bt x;

    fresh_path(path, sizeof(path));
    make_v1(path);
    db = raw_open(path);
    step = mfa_int_schema_sql(MFA_DIALECT_SQLITE, 1);
    ck_assert_ptr_nonnull(step);
    raw_exec(db, "BEGIN");
    raw_exec(db, step);
    raw_exec(db, "UPDATE mfa_schema SET version = 2");
    raw_exec(db, "INSERT INTO mfa_throttle VALUES ('alice', "
                 "'00000000000000dd', 2, 0, 1700)");
    raw_exec(db, "COMMIT");
    free(step);
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM sqlite_master WHERE "
                                 "name = 'mfa_device'"),
                     0);
    sqlite3_close(db);
    spec_of(spec, sizeof(spec), path, NULL);
    ck_assert_int_eq(mfa_store_open(&s, spec), MFA_ERR_SCHEMA_OLD);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(mfa_store_create(&s, spec), MFA_OK);
    ck_assert_int_eq(mfa_store_schema_version(s, &v), MFA_OK);
    ck_assert_int_eq(v, MFA_SCHEMA_VERSION);
    check_v1_rows_upgraded(s);
    x = begin(s, "alice", MFA_TXN_WRITE);
    ck_assert_int_eq(x.be->throttle_get(x.t, "alice", "00000000000000dd", &r),
                     MFA_OK);
    ck_assert_uint_eq(r.failures, 2);
    ck_assert_int_eq(r.updated, 1700);
    ck_assert_int_eq(x.be->device_list(x.t, "alice", &got, 1, &n), MFA_OK);
    ck_assert_uint_eq(n, 0);
    memset(&d, 0, sizeof(d));
    memcpy(d.id, "00000000000000dd", 17);
    memcpy(d.label, "Firefox", 8);
    memset(d.hash, 0x5a, sizeof(d.hash));
    d.key_id = 1;
    d.created = d.last_seen = 1700;
    ck_assert_int_eq(x.be->device_put(x.t, "alice", &d), MFA_OK);
    ck_assert_int_eq(x.be->device_get(x.t, "alice", d.id, &got), MFA_OK);
    ck_assert_mem_eq(&got, &d, sizeof(d));
    ck_assert_int_eq(x.be->commit(x.t), MFA_OK);
    mfa_store_free(&s);
    db = raw_open(path);
    ck_assert_int_eq(raw_int(db, "SELECT version FROM mfa_schema"),
                     MFA_SCHEMA_VERSION);
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM mfa_device"), 1);
    sqlite3_close(db);
}
END_TEST

/*
 * A version-3 file: the steps up to 3 run by hand on the version-1 file,
 * with a known device and a device bucket (rows in every version-3 table).
 */
static void
make_v3(const char *path)
{
    sqlite3 *db;

    make_v1(path);
    db = raw_open(path);
    raw_exec(db, "BEGIN");
    for (int i = 1; i < 3; i++) {
        char *step = mfa_int_schema_sql(MFA_DIALECT_SQLITE, i);
        ck_assert_ptr_nonnull(step);
        raw_exec(db, step);
        free(step);
    }
    raw_exec(db, "UPDATE mfa_schema SET version = 3");
    raw_exec(db, "INSERT INTO mfa_throttle VALUES ('alice', "
                 "'00000000000000dd', 2, 0, 1700)");
    raw_exec(db, "INSERT INTO mfa_device VALUES ('alice', '00000000000000dd', "
                 "'Firefox', x'5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"
                 "5a5a5a5a5a5a5a5a5a', 1, 1700, 1701, 0)");
    raw_exec(db, "COMMIT");
    sqlite3_close(db);
}

/* A version-3 file is old until migrated; migrating keeps every row and
 * adds the passkey tables, empty and usable (the largest record). */
START_TEST(version_3_is_old_and_create_upgrades_it)
{
    char path[512], spec[1100];
    mfa_store_t *s = (mfa_store_t *)&s;
    mfa_webauthn_rec w = some_passkey("00000000000000a9", 0), got;
    mfa_device_rec d;
    uint8_t h[MFA_WEBAUTHN_USER_HANDLE_MAX];
    char acct[MFA_ACCOUNT_MAX + 1];
    size_t n = 0;
    char *before, *after;
    sqlite3 *db;
    int v = -1;
    bt x;

    fresh_path(path, sizeof(path));
    make_v3(path);
    spec_of(spec, sizeof(spec), path, NULL);
    db = raw_open(path);
    ck_assert_int_eq(mfa_store_open(&s, spec), MFA_ERR_SCHEMA_OLD);
    ck_assert_ptr_null(s);
    /* refusing changed nothing: no passkey table */
    ck_assert_int_eq(raw_int(db, "SELECT version FROM mfa_schema"), 3);
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM sqlite_master WHERE "
                                 "name LIKE 'mfa_webauthn%'"),
                     0);
    sqlite3_close(db);

    ck_assert_int_eq(mfa_store_create(&s, spec), MFA_OK);
    ck_assert_int_eq(mfa_store_schema_version(s, &v), MFA_OK);
    ck_assert_int_eq(v, MFA_SCHEMA_VERSION);
    ck_assert_int_eq(mfa_store_check(s), MFA_OK);
    check_v1_rows_upgraded(s);
    x = begin(s, "alice", MFA_TXN_WRITE);
    ck_assert_int_eq(x.be->device_get(x.t, "alice", "00000000000000dd", &d),
                     MFA_OK);
    ck_assert_str_eq(d.label, "Firefox");
    ck_assert_int_eq(d.last_seen, 1701);
    ck_assert_int_eq(x.be->webauthn_handle_get(x.t, "alice", h, &n),
                     MFA_ERR_NOT_FOUND);
    ck_assert_int_eq(x.be->webauthn_insert(x.t, "alice", &w), MFA_OK);
    ck_assert_int_eq(x.be->webauthn_handle_put(x.t, "alice", w.cred.user_handle,
                                               w.cred.user_handle_len, 1700),
                     MFA_OK);
    ck_assert_int_eq(x.be->commit(x.t), MFA_OK);
    mfa_store_free(&s);

    db = raw_open(path);
    ck_assert_int_eq(raw_int(db, "SELECT version FROM mfa_schema"),
                     MFA_SCHEMA_VERSION);
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM mfa_schema"), 1);
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM sqlite_master WHERE "
                                 "name LIKE 'mfa_webauthn%' AND type = "
                                 "'table'"),
                     3);
    before = dump(db);
    sqlite3_close(db);
    /* the next open reads it back whole; a second migrate is a no-op */
    ck_assert_int_eq(mfa_store_open(&s, spec), MFA_OK);
    ck_assert_int_eq(mfa_store_migrate(s), MFA_OK);
    x = begin(s, "alice", MFA_TXN_READ);
    ck_assert_int_eq(x.be->webauthn_get(x.t, "alice", w.factor_id, &got),
                     MFA_OK);
    assert_same_passkey(&got, &w);
    x.be->rollback(x.t);
    x = begin(s, NULL, MFA_TXN_READ);
    ck_assert_int_eq(x.be->webauthn_handle_find(x.t, w.cred.user_handle,
                                                w.cred.user_handle_len, acct),
                     MFA_OK);
    ck_assert_str_eq(acct, "alice");
    x.be->rollback(x.t);
    mfa_store_free(&s);
    db = raw_open(path);
    after = dump(db);
    ck_assert_str_eq(before, after);
    sqlite3_close(db);
    sqlite3_free(before);
    sqlite3_free(after);
}
END_TEST

/* mfa_store_migrate on a handle made from the backend alone (the path of a
 * third party's tool), twice: the second is a no-op. */
START_TEST(version_1_migrates_through_the_backend)
{
    char path[512];
    mfa_int_sqlite_opts o = {0, 0};
    mfa_store_t *s = NULL;
    void *impl = NULL;
    int v = -1;

    fresh_path(path, sizeof(path));
    make_v1(path);
    ck_assert_int_eq(mfa_int_sqlite_connect(&impl, path, &o), MFA_OK);
    ck_assert_int_eq(mfa_store_new(&s, &mfa_int_sqlite_backend, impl), MFA_OK);
    ck_assert_int_eq(mfa_store_schema_version(s, &v), MFA_OK);
    ck_assert_int_eq(v, 1);
    ck_assert_int_eq(mfa_store_check(s), MFA_ERR_SCHEMA_OLD);
    ck_assert_int_eq(mfa_store_migrate(s), MFA_OK);
    ck_assert_int_eq(mfa_store_migrate(s), MFA_OK);
    ck_assert_int_eq(mfa_store_check(s), MFA_OK);
    check_v1_rows_upgraded(s);
    mfa_store_free(&s);
}
END_TEST

START_TEST(newer_version_is_refused)
{
    char path[512], spec[1100];
    mfa_store_t *s;
    sqlite3 *db;
    char *before, *after;
    int v = 0;

    s = created_store(path, sizeof(path));
    populate(s);
    mfa_store_free(&s);
    db = raw_open(path);
    raw_exec(db, "UPDATE mfa_schema SET version = version + 1");
    before = dump(db);
    sqlite3_close(db);

    spec_of(spec, sizeof(spec), path, NULL);
    s = (mfa_store_t *)&s;
    ck_assert_int_eq(mfa_store_open(&s, spec), MFA_ERR_SCHEMA);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(mfa_store_create(&s, spec), MFA_ERR_SCHEMA);
    ck_assert_ptr_null(s);
    db = raw_open(path);
    after = dump(db);
    ck_assert_str_eq(before, after);
    ck_assert_int_eq(raw_int(db, "SELECT version FROM mfa_schema"),
                     MFA_SCHEMA_VERSION + 1);
    sqlite3_free(after);

    /* an open handle sees a later change through migrate and check */
    {
        char q[64];
        snprintf(q, sizeof(q), "UPDATE mfa_schema SET version = %d",
                 MFA_SCHEMA_VERSION);
        raw_exec(db, q);
    }
    ck_assert_int_eq(mfa_store_open(&s, spec), MFA_OK);
    raw_exec(db, "UPDATE mfa_schema SET version = 99");
    ck_assert_int_eq(mfa_store_schema_version(s, &v), MFA_OK);
    ck_assert_int_eq(v, 99);
    ck_assert_int_eq(mfa_store_migrate(s), MFA_ERR_SCHEMA);
    ck_assert_int_eq(mfa_store_check(s), MFA_ERR_SCHEMA);
    after = dump(db);
    ck_assert_str_eq(before, after);
    sqlite3_close(db);
    sqlite3_free(before);
    sqlite3_free(after);
    mfa_store_free(&s);
}
END_TEST

START_TEST(missing_table_is_a_schema_error)
{
    char path[512], spec[1100];
    mfa_store_t *s;
    sqlite3 *db;

    s = created_store(path, sizeof(path));
    mfa_store_free(&s);
    db = raw_open(path);
    raw_exec(db, "DROP TABLE mfa_oob_challenge");
    sqlite3_close(db);
    spec_of(spec, sizeof(spec), path, NULL);
    s = (mfa_store_t *)&s;
    ck_assert_int_eq(mfa_store_open(&s, spec), MFA_ERR_SCHEMA);
    ck_assert_ptr_null(s);

    /* tables without a version: not a store to build on either */
    db = raw_open(path);
    raw_exec(db, "DROP TABLE mfa_schema");
    sqlite3_close(db);
    ck_assert_int_eq(mfa_store_open(&s, spec), MFA_ERR_SCHEMA);
    ck_assert_int_eq(mfa_store_create(&s, spec), MFA_ERR_SCHEMA);
    ck_assert_ptr_null(s);
}
END_TEST

/* Eight processes create one store at once, from an empty file (_i 0),
 * from version 1 with rows (_i 1) or from version 3 with rows (_i 2): one
 * does the work, every one succeeds, the rows are there once. */
START_TEST(concurrent_create)
{
    char path[512], spec[1100];
    pid_t pids[8];
    sqlite3 *db;

    fresh_path(path, sizeof(path));
    if (_i == 0)
        sqlite3_close(raw_open(path)); /* an empty database file */
    else if (_i == 1)
        make_v1(path);
    else
        make_v3(path);
    spec_of(spec, sizeof(spec), path, NULL);
    for (int i = 0; i < 8; i++) {
        pids[i] = fork();
        ck_assert_int_ge(pids[i], 0);
        if (pids[i] == 0) {
            mfa_store_t *c = NULL;
            _exit(mfa_store_create(&c, spec) == MFA_OK ? 0 : 1);
        }
    }
    for (int i = 0; i < 8; i++) {
        int st = 0;
        ck_assert_int_eq(waitpid(pids[i], &st, 0), pids[i]);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %d: %d", i,
                      st);
    }
    db = raw_open(path);
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM mfa_schema"), 1);
    ck_assert_int_eq(raw_int(db, "SELECT version FROM mfa_schema"),
                     MFA_SCHEMA_VERSION);
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM mfa_throttle WHERE "
                                 "bucket = ''"),
                     _i > 0);
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM mfa_factor"), _i > 0);
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM mfa_device"), _i == 2);
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM sqlite_master WHERE "
                                 "name LIKE 'mfa_webauthn%' AND type = "
                                 "'table'"),
                     3);
    sqlite3_close(db);
}
END_TEST

/* ---- settings --------------------------------------------------------------
 */

START_TEST(settings)
{
    char path[512], spec[1100], mode[16];
    mfa_store_t *s;
    sqlite3 *db;

    s = created_store(path, sizeof(path));
    ck_assert_str_eq(mfa_store_name(s), "sqlite");
    db = mfa_int_store_sqlite_db(s);
    ck_assert_ptr_nonnull(db);
    ck_assert_int_eq(raw_int(db, "PRAGMA synchronous"), 2); /* FULL */
    ck_assert_int_eq(raw_int(db, "PRAGMA foreign_keys"), 1);
    ck_assert_int_eq(raw_int(db, "PRAGMA secure_delete"), 1);
    ck_assert_int_eq(raw_int(db, "PRAGMA trusted_schema"), 0);
    raw_text(db, "PRAGMA journal_mode", mode, sizeof(mode));
    ck_assert_str_eq(mode, "wal");
    mfa_store_free(&s);

    spec_of(spec, sizeof(spec), path, "?synchronous=normal");
    ck_assert_int_eq(mfa_store_open(&s, spec), MFA_OK);
    ck_assert_int_eq(raw_int(mfa_int_store_sqlite_db(s), "PRAGMA synchronous"),
                     1); /* NORMAL */
    mfa_store_free(&s);
    ck_assert_int_eq(mfa_store_sqlite_open(&s, path), MFA_OK);
    ck_assert_int_eq(raw_int(mfa_int_store_sqlite_db(s), "PRAGMA synchronous"),
                     2);
    mfa_store_free(&s);
    /* OFF can corrupt the file on a power cut: refused */
    spec_of(spec, sizeof(spec), path, "?synchronous=off");
    s = (mfa_store_t *)&s;
    ck_assert_int_eq(mfa_store_open(&s, spec), MFA_ERR_INVALID);
    ck_assert_ptr_null(s);
}
END_TEST

START_TEST(open_errors)
{
    mfa_store_t *s = (mfa_store_t *)&s;
    void *impl = &impl;
    mfa_int_sqlite_opts o = {0, 0};

    ck_assert_int_eq(mfa_store_sqlite_open(&s, ""), MFA_ERR_INVALID);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(mfa_store_sqlite_open(&s, NULL), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_store_sqlite_open(NULL, "/tmp/x"), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_int_sqlite_connect(&impl, "", &o), MFA_ERR_INVALID);
    ck_assert_ptr_null(impl);
    ck_assert_int_eq(mfa_int_sqlite_connect(NULL, "/tmp/x", &o),
                     MFA_ERR_INVALID);
    /* a directory is not a store file */
    ck_assert_int_eq(mfa_int_sqlite_connect(&impl, tmpdir, &o), MFA_ERR_STORE);
    ck_assert_ptr_null(impl);
    ck_assert_ptr_null(mfa_int_store_sqlite_db(NULL));
    ck_assert_int_eq(mfa_int_store_sqlite_set_timeout(NULL, 5),
                     MFA_ERR_INVALID);
    /* a memory store is not a SQLite one */
    ck_assert_int_eq(mfa_store_memory_new(&s), MFA_OK);
    ck_assert_ptr_null(mfa_int_store_sqlite_db(s));
    mfa_store_free(&s);
}
END_TEST

/* A relative path that starts like a URI is still a file name. */
START_TEST(file_colon_path_is_a_path)
{
    char cwd[4096], spec[64];
    mfa_store_t *s = NULL;
    struct stat st;

    ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
    ck_assert_int_eq(chdir(tmpdir), 0);
    ck_assert_int_eq(mfa_store_sqlite_open(&s, "file:x.db?mode=memory"),
                     MFA_ERR_NO_STORE);
    snprintf(spec, sizeof(spec), "sqlite:file:y.db");
    ck_assert_int_eq(mfa_store_create(&s, spec), MFA_OK);
    ck_assert_int_eq(stat("file:y.db", &st), 0);
    mfa_store_free(&s);
    ck_assert_int_eq(chdir(cwd), 0);
}
END_TEST

START_TEST(data_survives_reopen)
{
    char path[512], spec[1100];
    mfa_store_t *s;
    mfa_factor_rec g;
    bt x;

    s = created_store(path, sizeof(path));
    populate(s);
    x = begin(s, "alice", MFA_TXN_WRITE);
    ck_assert_int_eq(x.be->factor_get(x.t, "alice", "00000000000000aa", &g),
                     MFA_OK);
    g.last_step = 8;
    g.drift = 1;
    ck_assert_int_eq(x.be->factor_update(x.t, &g), MFA_OK);
    ck_assert_int_eq(x.be->commit(x.t), MFA_OK);
    mfa_store_free(&s);

    spec_of(spec, sizeof(spec), path, NULL);
    ck_assert_int_eq(mfa_store_open(&s, spec), MFA_OK);
    x = begin(s, "alice", MFA_TXN_READ);
    memset(&g, 0, sizeof(g));
    ck_assert_int_eq(x.be->factor_get(x.t, "alice", "00000000000000aa", &g),
                     MFA_OK);
    ck_assert_int_eq(g.last_step, 8);
    ck_assert_int_eq(g.drift, 1);
    ck_assert_int_eq(g.created, 1000);
    ck_assert_uint_eq(g.sealed_len, 65);
    x.be->rollback(x.t);
    mfa_store_free(&s);
}
END_TEST

/* ---- damaged rows
 * ------------------------------------------------------------ */

typedef enum {
    READ_FACTOR,
    READ_LIST,
    READ_SCAN,
    READ_THROTTLE,
    READ_BACKUP,
    READ_OOB,
    READ_WA_GET,
    READ_WA_LIST,
    READ_WA_HANDLE,
    READ_WA_FIND
} read_kind;

static const struct damage {
    const char *sql;
    read_kind read;
} damages[] = {
    {"UPDATE mfa_factor SET digits = 11", READ_FACTOR},
    {"UPDATE mfa_factor SET digits = 5", READ_LIST},
    {"UPDATE mfa_factor SET period = 86401", READ_FACTOR},
    {"UPDATE mfa_factor SET period = 'thirty'", READ_SCAN},
    {"UPDATE mfa_factor SET last_step = -2", READ_FACTOR},
    {"UPDATE mfa_factor SET drift = 4294967296", READ_FACTOR},
    {"UPDATE mfa_factor SET t0 = -1", READ_LIST},
    {"UPDATE mfa_factor SET created = 1.5", READ_FACTOR},
    {"UPDATE mfa_factor SET last_used = 253402300800", READ_FACTOR},
    {"UPDATE mfa_factor SET label = x'6869'", READ_FACTOR},
    {"UPDATE mfa_factor SET label = 'a' || char(0) || 'b'", READ_FACTOR},
    {"UPDATE mfa_factor SET label = printf('%.65c', 'x')", READ_LIST},
    {"UPDATE mfa_factor SET sealed = x''", READ_FACTOR},
    {"UPDATE mfa_factor SET sealed = 'text, not bytes'", READ_FACTOR},
    {"UPDATE mfa_factor SET sealed = zeroblob(10000)", READ_SCAN},
    {"UPDATE mfa_factor SET type = 2", READ_FACTOR},
    {"UPDATE mfa_factor SET id = 'short' WHERE account = 'alice'", READ_SCAN},
    {"UPDATE mfa_throttle SET failures = 4294967296", READ_THROTTLE},
    {"UPDATE mfa_throttle SET failures = 'many'", READ_THROTTLE},
    {"UPDATE mfa_throttle SET locked_until = -5", READ_THROTTLE},
    {"UPDATE mfa_throttle SET updated = 'x'", READ_THROTTLE},
    {"UPDATE mfa_backup_code SET key_id = -1", READ_BACKUP},
    {"UPDATE mfa_backup_code SET key_id = 'one'", READ_BACKUP},
    {"UPDATE mfa_oob_challenge SET attempts_left = -1", READ_OOB},
    {"UPDATE mfa_oob_challenge SET expires = 'soon'", READ_OOB},
    {"UPDATE mfa_oob_challenge SET key_id = 4294967296", READ_OOB},
    {"UPDATE mfa_webauthn_credential SET sign_count = 4294967296", READ_WA_GET},
    {"UPDATE mfa_webauthn_credential SET sign_count = -1", READ_WA_LIST},
    {"UPDATE mfa_webauthn_credential SET sign_count = 'x'", READ_WA_GET},
    {"UPDATE mfa_webauthn_credential SET algorithm = -9", READ_WA_GET},
    {"UPDATE mfa_webauthn_credential SET algorithm = -256", READ_WA_LIST},
    {"UPDATE mfa_webauthn_credential SET credential_id = zeroblob(15)",
     READ_WA_GET},
    {"UPDATE mfa_webauthn_credential SET credential_id = zeroblob(1024)",
     READ_WA_LIST},
    {"UPDATE mfa_webauthn_credential SET credential_id = "
     "'a text, not bytes, long enough'",
     READ_WA_GET},
    {"UPDATE mfa_webauthn_credential SET public_key = x''", READ_WA_GET},
    {"UPDATE mfa_webauthn_credential SET public_key = zeroblob(513)",
     READ_WA_LIST},
    {"UPDATE mfa_webauthn_credential SET aaguid = zeroblob(15)", READ_WA_GET},
    {"UPDATE mfa_webauthn_credential SET aaguid = zeroblob(17)", READ_WA_LIST},
    {"UPDATE mfa_webauthn_credential SET user_handle = zeroblob(65)",
     READ_WA_GET},
    {"UPDATE mfa_webauthn_credential SET user_handle = x''", READ_WA_LIST},
    {"UPDATE mfa_webauthn_credential SET transports = 64", READ_WA_GET},
    {"UPDATE mfa_webauthn_credential SET flags = 256", READ_WA_GET},
    {"UPDATE mfa_webauthn_credential SET flags = -1", READ_WA_LIST},
    {"UPDATE mfa_webauthn_credential SET att_format = 3", READ_WA_LIST},
    {"UPDATE mfa_webauthn_credential SET att_trust = -1", READ_WA_GET},
    {"UPDATE mfa_webauthn_credential SET created = -1", READ_WA_GET},
    {"UPDATE mfa_webauthn_credential SET last_used = 253402300800",
     READ_WA_LIST},
    {"UPDATE mfa_webauthn_credential SET label = printf('%.65c', 'x')",
     READ_WA_GET},
    {"UPDATE mfa_webauthn_credential SET factor_id = '00000000000000a1x'",
     READ_WA_LIST},
    {"UPDATE mfa_webauthn_user SET handle = zeroblob(65)", READ_WA_HANDLE},
    {"UPDATE mfa_webauthn_user SET handle = 'text'", READ_WA_HANDLE},
    {"UPDATE mfa_webauthn_user SET handle = x''", READ_WA_HANDLE},
    {"UPDATE mfa_webauthn_user SET account = printf('%.129c', 'a')",
     READ_WA_FIND},
    {"UPDATE mfa_webauthn_user SET account = ''", READ_WA_FIND},
};

static mfa_rc
no_wa_cb(const mfa_webauthn_rec *r, void *arg)
{
    (void)r;
    (void)arg;
    return MFA_OK;
}

static mfa_rc
no_cb(const mfa_factor_rec *f, void *arg)
{
    (void)f;
    (void)arg;
    return MFA_OK;
}

START_TEST(damaged_rows_are_corrupt)
{
    const struct damage *d = &damages[_i];
    char path[512];
    mfa_store_t *s;
    sqlite3 *db;
    mfa_factor_rec f[4];
    mfa_throttle_rec r;
    mfa_backup_rec b[4];
    mfa_oob_challenge c;
    mfa_webauthn_rec w;
    uint8_t h[MFA_WEBAUTHN_USER_HANDLE_MAX];
    char acct[MFA_ACCOUNT_MAX + 1];
    size_t n = 99;
    mfa_rc rc = MFA_OK;
    bt x;

    s = created_store(path, sizeof(path));
    populate(s);
    db = raw_open(path);
    /* the schema's CHECKs would refuse some of these: a damaged file has
     * none of them either */
    raw_exec(db, "PRAGMA ignore_check_constraints = ON");
    raw_exec(db, d->sql);
    ck_assert_int_ge(sqlite3_changes(db), 1);
    sqlite3_close(db);

    /* the backend's own decoding, before the generic layer's checks */
    x = begin(s, "alice", MFA_TXN_READ);
    switch (d->read) {
    case READ_FACTOR:
        rc = x.be->factor_get(x.t, "alice", "00000000000000aa", f);
        break;
    case READ_LIST:
        rc = x.be->factor_list(x.t, "alice", no_cb, NULL);
        break;
    case READ_SCAN:
        rc = x.be->factor_scan(x.t, "", "", f, 4, &n);
        ck_assert_uint_eq(n, 0);
        break;
    case READ_THROTTLE:
        rc = x.be->throttle_get(x.t, "alice", "", &r);
        break;
    case READ_BACKUP:
        rc = x.be->backup_list(x.t, "alice", b, 4, &n);
        ck_assert_uint_eq(n, 0);
        break;
    case READ_OOB:
        rc = x.be->oob_get(x.t, "alice", "sms", &c);
        break;
    case READ_WA_GET:
        rc = x.be->webauthn_get(x.t, "alice", "00000000000000a1", &w);
        break;
    case READ_WA_LIST:
        rc = x.be->webauthn_list(x.t, "alice", no_wa_cb, NULL);
        break;
    case READ_WA_HANDLE:
        rc = x.be->webauthn_handle_get(x.t, "alice", h, &n);
        ck_assert_uint_eq(n, 0);
        break;
    case READ_WA_FIND:
        h[0] = 0x81; /* populate's handle: one byte */
        rc = x.be->webauthn_handle_find(x.t, h, 1, acct);
        ck_assert_str_eq(acct, "");
        break;
    }
    ck_assert_msg(rc == MFA_ERR_CORRUPT, "%s: %s", d->sql,
                  mfa_strerror_name(rc));
    x.be->rollback(x.t);
    mfa_store_free(&s);
}
END_TEST

/* ---- transactions
 * ------------------------------------------------------------ */

typedef enum {
    W_FACTOR_INSERT,
    W_FACTOR_UPDATE,
    W_FACTOR_DELETE,
    W_FACTOR_EXPIRE,
    W_THROTTLE_PUT_NEW,
    W_THROTTLE_PUT_OVER,
    W_THROTTLE_DELETE,
    W_BACKUP_INSERT,
    W_BACKUP_USE,
    W_BACKUP_CLEAR,
    W_OOB_PUT_NEW,
    W_OOB_PUT_OVER,
    W_OOB_DELETE,
    W_ACCOUNT_DELETE,
    W_WA_INSERT,
    W_WA_UPDATE,
    W_WA_UPDATE_ALL,
    W_WA_DELETE,
    W_WA_HANDLE_PUT,
    W_WA_SPEND,
    W_WA_EXPIRE,
    W_WA_EXPIRE_ALL,
    W_COUNT
} write_kind;

/* The account a write kind's transaction is begun for (NULL: store-wide). */
static const char *
write_account(write_kind k)
{
    return k == W_FACTOR_EXPIRE || k == W_WA_EXPIRE_ALL ? NULL
           : k == W_WA_HANDLE_PUT                       ? "carol"
                                                        : "alice";
}

static void
do_write(bt *x, write_kind k)
{
    mfa_factor_rec f = some_factor("alice", "00000000000000cc");
    mfa_throttle_rec r = {"dev", 1, 0, 1500};
    mfa_backup_rec b = {{0}, 2};
    mfa_oob_challenge c = some_oob("email");
    mfa_webauthn_rec w;
    uint8_t nonce[MFA_WEBAUTHN_NONCE_BYTES];
    size_t n = 0;
    mfa_rc rc = MFA_ERR_INTERNAL;

    memset(nonce, 0x44, sizeof(nonce));
    switch (k) {
    case W_FACTOR_INSERT:
        rc = x->be->factor_insert(x->t, &f);
        break;
    case W_FACTOR_UPDATE:
        rc = x->be->factor_get(x->t, "alice", "00000000000000aa", &f);
        ck_assert_int_eq(rc, MFA_OK);
        f.last_step++;
        f.status = MFA_FACTOR_PENDING;
        f.label[0] = 'P';
        rc = x->be->factor_update(x->t, &f);
        break;
    case W_FACTOR_DELETE:
        rc = x->be->factor_delete(x->t, "alice", "00000000000000aa");
        break;
    case W_FACTOR_EXPIRE:
        f.status = MFA_FACTOR_PENDING;
        f.created = 10;
        rc = x->be->factor_insert(x->t, &f);
        ck_assert_int_eq(rc, MFA_OK);
        rc = x->be->factor_expire(x->t, 20, &n);
        ck_assert_uint_eq(n, 1);
        /* and one of bob's made pending by the same transaction */
        rc = x->be->factor_get(x->t, "bob", "00000000000000bb", &f);
        ck_assert_int_eq(rc, MFA_OK);
        f.status = MFA_FACTOR_PENDING;
        ck_assert_int_eq(x->be->factor_update(x->t, &f), MFA_OK);
        rc = x->be->factor_expire(x->t, 1001, &n);
        ck_assert_uint_eq(n, 1);
        break;
    case W_THROTTLE_PUT_NEW:
        rc = x->be->throttle_put(x->t, "alice", &r);
        break;
    case W_THROTTLE_PUT_OVER:
        r.bucket[0] = '\0';
        r.failures = 9;
        rc = x->be->throttle_put(x->t, "alice", &r);
        break;
    case W_THROTTLE_DELETE:
        rc = x->be->throttle_delete(x->t, "alice", "");
        break;
    case W_BACKUP_INSERT:
        some_hash(b.hash, 9);
        rc = x->be->backup_insert(x->t, "alice", &b, 1200);
        break;
    case W_BACKUP_USE:
        some_hash(b.hash, 1);
        rc = x->be->backup_use(x->t, "alice", b.hash, 1200);
        break;
    case W_BACKUP_CLEAR:
        rc = x->be->backup_clear(x->t, "alice");
        break;
    case W_OOB_PUT_NEW:
        rc = x->be->oob_put(x->t, "alice", &c);
        break;
    case W_OOB_PUT_OVER:
        snprintf(c.purpose, sizeof(c.purpose), "sms");
        c.attempts_left = 1;
        rc = x->be->oob_put(x->t, "alice", &c);
        break;
    case W_OOB_DELETE:
        rc = x->be->oob_delete(x->t, "alice", "sms");
        break;
    case W_ACCOUNT_DELETE:
        rc = x->be->account_delete(x->t, "alice");
        break;
    case W_WA_INSERT:
        w = some_passkey("00000000000000a2", 0);
        rc = x->be->webauthn_insert(x->t, "alice", &w);
        break;
    case W_WA_UPDATE:
    case W_WA_UPDATE_ALL:
        rc = x->be->webauthn_get(x->t, "alice", "00000000000000a1", &w);
        ck_assert_int_eq(rc, MFA_OK);
        w.cred.sign_count++;
        w.last_used = 1500;
        if (k == W_WA_UPDATE_ALL) {
            w.created--;
            w.cred.id[0] ^= 1;
        }
        rc = x->be->webauthn_update(x->t, "alice", &w);
        break;
    case W_WA_DELETE:
        rc = x->be->webauthn_delete(x->t, "alice", "00000000000000a1");
        break;
    case W_WA_HANDLE_PUT:
        rc = x->be->webauthn_handle_put(x->t, "carol", nonce, 16, 1200);
        break;
    case W_WA_SPEND:
        rc = x->be->webauthn_spend(x->t, "alice", nonce, 1400);
        break;
    case W_WA_EXPIRE:
    case W_WA_EXPIRE_ALL:
        rc = x->be->webauthn_spent_expire(
            x->t, k == W_WA_EXPIRE ? "alice" : NULL, 1301, &n);
        ck_assert_uint_eq(n, 1);
        break;
    case W_COUNT:
        break;
    }
    ck_assert_msg(rc == MFA_OK, "write %d: %s", (int)k, mfa_strerror_name(rc));
}

START_TEST(rollback_undoes_each_write)
{
    char path[512];
    mfa_store_t *s;
    sqlite3 *db, *other;
    char *before, *inside, *after, *seen;
    bt x;

    s = created_store(path, sizeof(path));
    populate(s);
    db = mfa_int_store_sqlite_db(s);
    other = raw_open(path);
    before = dump(other);

    x = begin(s, write_account((write_kind)_i), MFA_TXN_WRITE);
    do_write(&x, (write_kind)_i);
    inside = dump(db); /* the transaction sees its own write ... */
    ck_assert_str_ne(inside, before);
    seen = dump(other); /* ... and another connection does not */
    ck_assert_str_eq(seen, before);
    x.be->rollback(x.t);
    after = dump(db);
    ck_assert_str_eq(after, before);
    sqlite3_free(after);
    after = dump(other);
    ck_assert_str_eq(after, before);
    sqlite3_free(after);

    /* the same write committed is there for both connections */
    x = begin(s, write_account((write_kind)_i), MFA_TXN_WRITE);
    do_write(&x, (write_kind)_i);
    ck_assert_int_eq(x.be->commit(x.t), MFA_OK);
    after = dump(other);
    ck_assert_str_eq(after, inside);
    sqlite3_free(after);

    sqlite3_free(before);
    sqlite3_free(inside);
    sqlite3_free(seen);
    sqlite3_close(other);
    mfa_store_free(&s);
}
END_TEST

static void
assert_same_factor(const mfa_factor_rec *a, const mfa_factor_rec *b)
{
    ck_assert_str_eq(a->id, b->id);
    ck_assert_str_eq(a->account, b->account);
    ck_assert_str_eq(a->label, b->label);
    ck_assert_int_eq(a->type, b->type);
    ck_assert_int_eq(a->algorithm, b->algorithm);
    ck_assert_uint_eq(a->digits, b->digits);
    ck_assert_uint_eq(a->period, b->period);
    ck_assert_int_eq(a->t0, b->t0);
    ck_assert_int_eq(a->last_step, b->last_step);
    ck_assert_int_eq(a->drift, b->drift);
    ck_assert_int_eq(a->status, b->status);
    ck_assert_int_eq(a->created, b->created);
    ck_assert_int_eq(a->confirmed, b->confirmed);
    ck_assert_int_eq(a->last_used, b->last_used);
    ck_assert_uint_eq(a->sealed_len, b->sealed_len);
    ck_assert_mem_eq(a->sealed, b->sealed, a->sealed_len);
}

/*
 * factor_update after a read in the same transaction writes only what
 * changed; whatever path it takes, the row afterwards is the record given,
 * also when the row read was deleted and another inserted under its id.
 */
START_TEST(update_after_read_writes_the_record)
{
    char path[512];
    mfa_store_t *s;
    mfa_factor_rec f, g, k, got;
    sqlite3 *other;
    bt x;

    s = created_store(path, sizeof(path));
    populate(s);
    other = raw_open(path);
    x = begin(s, "alice", MFA_TXN_WRITE);
    ck_assert_int_eq(x.be->factor_get(x.t, "alice", "00000000000000aa", &f),
                     MFA_OK);
    g = f;
    g.last_step += 5;
    g.drift = -2;
    g.last_used = 3000;
    ck_assert_int_eq(x.be->factor_update(x.t, &g), MFA_OK);
    ck_assert_int_eq(x.be->factor_get(x.t, "alice", f.id, &got), MFA_OK);
    assert_same_factor(&got, &g);
    /* a second change of the same row, now with the label too */
    g.last_step++;
    snprintf(g.label, sizeof(g.label), "tablet");
    ck_assert_int_eq(x.be->factor_update(x.t, &g), MFA_OK);
    ck_assert_int_eq(x.be->factor_get(x.t, "alice", f.id, &got), MFA_OK);
    assert_same_factor(&got, &g);
    /* the row read is deleted and another takes its id */
    ck_assert_int_eq(x.be->factor_delete(x.t, "alice", f.id), MFA_OK);
    k = some_factor("alice", "00000000000000aa");
    snprintf(k.label, sizeof(k.label), "other");
    memset(k.sealed, 0x11, k.sealed_len);
    ck_assert_int_eq(x.be->factor_insert(x.t, &k), MFA_OK);
    /* g as it was read (label "tablet", the old secret), a step on */
    g.last_step++;
    ck_assert_int_eq(x.be->factor_update(x.t, &g), MFA_OK);
    ck_assert_int_eq(x.be->commit(x.t), MFA_OK);
    sqlite3_close(other);

    x = begin(s, "alice", MFA_TXN_READ);
    ck_assert_int_eq(x.be->factor_get(x.t, "alice", f.id, &got), MFA_OK);
    x.be->rollback(x.t);
    assert_same_factor(&got, &g);
    /* and a step-only update of a row read in an earlier transaction */
    x = begin(s, "alice", MFA_TXN_WRITE);
    g.last_step++;
    ck_assert_int_eq(x.be->factor_update(x.t, &g), MFA_OK);
    ck_assert_int_eq(x.be->commit(x.t), MFA_OK);
    x = begin(s, "alice", MFA_TXN_READ);
    ck_assert_int_eq(x.be->factor_get(x.t, "alice", f.id, &got), MFA_OK);
    x.be->rollback(x.t);
    assert_same_factor(&got, &g);
    mfa_store_free(&s);
}
END_TEST

/* A failed insert changes nothing, and its transaction goes on. */
START_TEST(existing_keys_and_missing_rows)
{
    char path[512];
    mfa_store_t *s;
    mfa_factor_rec f = some_factor("carol", "00000000000000aa");
    mfa_backup_rec b = {{0}, 5};
    uint8_t h[MFA_BACKUP_HASHBYTES];
    char *before, *after;
    bt x;

    s = created_store(path, sizeof(path));
    populate(s);
    before = dump(mfa_int_store_sqlite_db(s));
    x = begin(s, "carol", MFA_TXN_WRITE);
    /* the id is alice's: ids are unique in the whole store */
    ck_assert_int_eq(x.be->factor_insert(x.t, &f), MFA_ERR_EXISTS);
    ck_assert_int_eq(x.be->factor_update(x.t, &f), MFA_ERR_NOT_FOUND);
    ck_assert_int_eq(x.be->factor_delete(x.t, "carol", f.id),
                     MFA_ERR_NOT_FOUND);
    some_hash(h, 3);
    ck_assert_int_eq(x.be->backup_use(x.t, "carol", h, 5), MFA_ERR_NOT_FOUND);
    ck_assert_int_eq(x.be->throttle_delete(x.t, "carol", ""), MFA_OK);
    ck_assert_int_eq(x.be->oob_delete(x.t, "carol", "sms"), MFA_OK);
    ck_assert_int_eq(x.be->backup_clear(x.t, "carol"), MFA_OK);
    ck_assert_int_eq(x.be->account_delete(x.t, "carol"), MFA_OK);
    ck_assert_int_eq(x.be->commit(x.t), MFA_OK);
    x = begin(s, "alice", MFA_TXN_WRITE);
    some_hash(b.hash, 2); /* used already: still taken */
    ck_assert_int_eq(x.be->backup_insert(x.t, "alice", &b, 5), MFA_ERR_EXISTS);
    ck_assert_int_eq(x.be->backup_use(x.t, "alice", b.hash, 5),
                     MFA_ERR_NOT_FOUND);
    ck_assert_int_eq(x.be->commit(x.t), MFA_OK);
    after = dump(mfa_int_store_sqlite_db(s));
    ck_assert_str_eq(before, after);
    sqlite3_free(before);
    sqlite3_free(after);
    mfa_store_free(&s);
}
END_TEST

/* A second handle: commits only, and it waits for (then gives up on) the
 * first one's write lock. */
START_TEST(second_connection_isolation)
{
    char path[512];
    mfa_store_t *s, *s2 = NULL;
    mfa_factor_rec f = some_factor("dave", "00000000000000dd"), g;
    mfa_store_txn *t2;
    bt x, y;

    s = created_store(path, sizeof(path));
    ck_assert_int_eq(mfa_store_sqlite_open(&s2, path), MFA_OK);
    ck_assert_int_eq(mfa_int_store_sqlite_set_timeout(s2, 100), MFA_OK);
    x = begin(s, "dave", MFA_TXN_WRITE);
    ck_assert_int_eq(x.be->factor_insert(x.t, &f), MFA_OK);

    y = begin(s2, "dave", MFA_TXN_READ);
    ck_assert_int_eq(y.be->factor_get(y.t, "dave", f.id, &g),
                     MFA_ERR_NOT_FOUND);
    ck_assert_int_eq(y.be->commit(y.t), MFA_OK);
    /* the write lock is taken at begin, before any read */
    ck_assert_int_eq(y.be->begin(y.impl, "dave", MFA_TXN_WRITE, &t2),
                     MFA_ERR_BUSY);
    ck_assert_ptr_null(t2);
    ck_assert_int_eq(x.be->commit(x.t), MFA_OK);

    y = begin(s2, "dave", MFA_TXN_READ);
    ck_assert_int_eq(y.be->factor_get(y.t, "dave", f.id, &g), MFA_OK);
    ck_assert_int_eq(g.last_step, f.last_step);
    y.be->rollback(y.t);
    /* and the other way round */
    y = begin(s2, "dave", MFA_TXN_WRITE);
    ck_assert_int_eq(y.be->factor_delete(y.t, "dave", f.id), MFA_OK);
    ck_assert_int_eq(y.be->commit(y.t), MFA_OK);
    x = begin(s, "dave", MFA_TXN_READ);
    ck_assert_int_eq(x.be->factor_get(x.t, "dave", f.id, &g),
                     MFA_ERR_NOT_FOUND);
    x.be->rollback(x.t);
    mfa_store_free(&s2);
    mfa_store_free(&s);
}
END_TEST

typedef struct waiter {
    mfa_store_t *s;
    mfa_rc rc;
} waiter;

static void *
wait_begin(void *arg)
{
    waiter *w = arg;
    bt x = {mfa_store_backend_of(w->s), mfa_store_impl_of(w->s), NULL};

    w->rc = x.be->begin(x.impl, "erin", MFA_TXN_WRITE, &x.t);
    if (w->rc == MFA_OK)
        w->rc = x.be->commit(x.t);
    return NULL;
}

/* Threads sharing the store wait for each other's transaction up to the
 * timeout, then get MFA_ERR_BUSY; a nested begin times out, never hangs. */
START_TEST(threads_wait_for_the_store)
{
    char path[512];
    mfa_store_t *s;
    mfa_store_txn *t2 = (mfa_store_txn *)&t2;
    pthread_t th;
    waiter w;
    bt x;

    s = created_store(path, sizeof(path));
    ck_assert_int_eq(mfa_int_store_sqlite_set_timeout(s, 100), MFA_OK);
    x = begin(s, "dave", MFA_TXN_WRITE);
    ck_assert_int_eq(x.be->begin(x.impl, "dave", MFA_TXN_READ, &t2),
                     MFA_ERR_BUSY);
    ck_assert_ptr_null(t2);
    w.s = s;
    w.rc = MFA_ERR_INTERNAL;
    ck_assert_int_eq(pthread_create(&th, NULL, wait_begin, &w), 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_int_eq(w.rc, MFA_ERR_BUSY);
    /* released within the timeout: the waiter goes on */
    ck_assert_int_eq(mfa_int_store_sqlite_set_timeout(s, 5000), MFA_OK);
    w.rc = MFA_ERR_INTERNAL;
    ck_assert_int_eq(pthread_create(&th, NULL, wait_begin, &w), 0);
    usleep(50000);
    ck_assert_int_eq(x.be->commit(x.t), MFA_OK);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_int_eq(w.rc, MFA_OK);
    mfa_store_free(&s);
}
END_TEST

/*
 * A key that cannot be bound (here: longer than the connection's length
 * limit) is an error of the operation; run with a NULL key instead, a
 * delete would match nothing and report success.
 */
START_TEST(failed_bind_is_an_error)
{
    char path[512];
    mfa_store_t *s;
    mfa_factor_rec f;
    char *before, *after;
    mfa_rc rc;
    bt x;

    s = created_store(path, sizeof(path));
    populate(s);
    before = dump(mfa_int_store_sqlite_db(s));
    sqlite3_limit(mfa_int_store_sqlite_db(s), SQLITE_LIMIT_LENGTH, 3);
    x = begin(s, "alice", MFA_TXN_WRITE);
    rc = x.be->throttle_delete(x.t, "alice", "");
    ck_assert_msg(mfa_int_is_store_error(rc), "throttle_delete: %s",
                  mfa_strerror_name(rc));
    rc = x.be->factor_delete(x.t, "alice", "00000000000000aa");
    ck_assert_msg(mfa_int_is_store_error(rc), "factor_delete: %s",
                  mfa_strerror_name(rc));
    rc = x.be->factor_get(x.t, "alice", "00000000000000aa", &f);
    ck_assert_msg(mfa_int_is_store_error(rc), "factor_get: %s",
                  mfa_strerror_name(rc));
    rc = x.be->account_delete(x.t, "alice");
    ck_assert_msg(mfa_int_is_store_error(rc), "account_delete: %s",
                  mfa_strerror_name(rc));
    x.be->rollback(x.t);
    sqlite3_limit(mfa_int_store_sqlite_db(s), SQLITE_LIMIT_LENGTH, 1000000000);
    after = dump(mfa_int_store_sqlite_db(s));
    ck_assert_str_eq(before, after);
    sqlite3_free(before);
    sqlite3_free(after);
    /* and the next statement of the thread runs normally */
    x = begin(s, "alice", MFA_TXN_WRITE);
    ck_assert_int_eq(x.be->throttle_delete(x.t, "alice", ""), MFA_OK);
    ck_assert_int_eq(x.be->commit(x.t), MFA_OK);
    mfa_store_free(&s);
}
END_TEST

/* A transaction SQLite ended by itself refuses further writes and does not
 * commit (they would otherwise run, and stay, in autocommit mode). */
START_TEST(transaction_ended_underneath_is_refused)
{
    char path[512];
    mfa_store_t *s;
    mfa_throttle_rec r = {"", 1, 0, 1500};
    char *before, *after;
    bt x;

    s = created_store(path, sizeof(path));
    populate(s);
    before = dump(mfa_int_store_sqlite_db(s));
    x = begin(s, "alice", MFA_TXN_WRITE);
    ck_assert_int_eq(x.be->throttle_put(x.t, "alice", &r), MFA_OK);
    raw_exec(mfa_int_store_sqlite_db(s), "ROLLBACK");
    ck_assert_int_eq(x.be->throttle_put(x.t, "alice", &r), MFA_ERR_STORE);
    ck_assert_int_eq(x.be->backup_clear(x.t, "alice"), MFA_ERR_STORE);
    ck_assert_int_ne(x.be->commit(x.t), MFA_OK);
    after = dump(mfa_int_store_sqlite_db(s));
    ck_assert_str_eq(before, after);
    sqlite3_free(before);
    sqlite3_free(after);
    /* the store works on */
    x = begin(s, "alice", MFA_TXN_WRITE);
    ck_assert_int_eq(x.be->throttle_put(x.t, "alice", &r), MFA_OK);
    ck_assert_int_eq(x.be->commit(x.t), MFA_OK);
    mfa_store_free(&s);
}
END_TEST

/* ---- passkeys ------------------------------------------------------------ */

typedef struct wa_seen {
    size_t n, stop_after;
    char ids[8][MFA_FACTOR_ID_LEN + 1];
    bt *x; /* when set, each callback reads its row again */
} wa_seen;

static mfa_rc
wa_collect(const mfa_webauthn_rec *r, void *arg)
{
    wa_seen *w = arg;

    if (w->x != NULL) {
        mfa_webauthn_rec again;
        ck_assert_int_eq(
            w->x->be->webauthn_get(w->x->t, "alice", r->factor_id, &again),
            MFA_OK);
        assert_same_passkey(&again, r);
    }
    if (w->n < 8)
        memcpy(w->ids[w->n], r->factor_id, sizeof(w->ids[0]));
    w->n++;
    return w->stop_after != 0 && w->n == w->stop_after ? MFA_ERR_STATE : MFA_OK;
}

/*
 * Every passkey operation on the file: the largest record round trip,
 * the list order, taken keys (factor id and credential id, by any
 * account), missing rows, the user handle found bytewise and whole, spent
 * nonces per account, and account_delete over the three tables.
 */
START_TEST(webauthn_rows)
{
    char path[512], acct[MFA_ACCOUNT_MAX + 1];
    mfa_store_t *s;
    mfa_webauthn_rec big = some_passkey("00000000000000b0", 0);
    mfa_webauthn_rec a = some_passkey("00000000000000b2", 2);
    mfa_webauthn_rec b = some_passkey("00000000000000b1", 2), got, k;
    uint8_t h[MFA_WEBAUTHN_USER_HANDLE_MAX], h2[MFA_WEBAUTHN_USER_HANDLE_MAX];
    uint8_t nonce[MFA_WEBAUTHN_NONCE_BYTES];
    wa_seen seen;
    char *before, *after;
    size_t n = 0;
    bt x;

    s = created_store(path, sizeof(path));
    b.cred.id[0] ^= 0xff; /* same created as a: ordered by factor id */
    x = begin(s, "alice", MFA_TXN_WRITE);
    ck_assert_int_eq(x.be->webauthn_insert(x.t, "alice", &big), MFA_OK);
    ck_assert_int_eq(x.be->webauthn_insert(x.t, "alice", &a), MFA_OK);
    ck_assert_int_eq(x.be->webauthn_insert(x.t, "alice", &b), MFA_OK);
    ck_assert_int_eq(x.be->webauthn_get(x.t, "alice", big.factor_id, &got),
                     MFA_OK);
    assert_same_passkey(&got, &big);
    ck_assert_uint_eq(got.cred.sign_count, 0xffffffffu);
    ck_assert_uint_eq(got.cred.id_len, 1023);
    ck_assert_uint_eq(got.cred.public_key_len, 512);
    ck_assert_uint_eq(got.cred.user_handle_len, 64);
    memset(h, 0xee, sizeof(h));
    ck_assert_int_eq(x.be->webauthn_handle_get(x.t, "alice", h, &n),
                     MFA_ERR_NOT_FOUND);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(x.be->webauthn_handle_put(x.t, "alice", h, sizeof(h), 5),
                     MFA_OK);
    memset(nonce, 0x11, sizeof(nonce));
    ck_assert_int_eq(x.be->webauthn_spend(x.t, "alice", nonce, 100), MFA_OK);
    ck_assert_int_eq(x.be->commit(x.t), MFA_OK);

    /* oldest first, then by factor id; a callback may use the transaction,
     * and its error stops the list */
    x = begin(s, "alice", MFA_TXN_READ);
    memset(&seen, 0, sizeof(seen));
    seen.x = &x;
    ck_assert_int_eq(x.be->webauthn_list(x.t, "alice", wa_collect, &seen),
                     MFA_OK);
    ck_assert_uint_eq(seen.n, 3);
    ck_assert_str_eq(seen.ids[0], b.factor_id);
    ck_assert_str_eq(seen.ids[1], a.factor_id);
    ck_assert_str_eq(seen.ids[2], big.factor_id);
    memset(&seen, 0, sizeof(seen));
    seen.stop_after = 1;
    ck_assert_int_eq(x.be->webauthn_list(x.t, "alice", wa_collect, &seen),
                     MFA_ERR_STATE);
    ck_assert_uint_eq(seen.n, 1);
    memset(&seen, 0, sizeof(seen));
    ck_assert_int_eq(x.be->webauthn_list(x.t, "bob", wa_collect, &seen),
                     MFA_OK);
    ck_assert_uint_eq(seen.n, 0);
    /* another account's factor id is not found through this one */
    ck_assert_int_eq(x.be->webauthn_get(x.t, "bob", a.factor_id, &got),
                     MFA_ERR_NOT_FOUND);
    ck_assert_int_eq(x.be->webauthn_handle_get(x.t, "alice", h2, &n), MFA_OK);
    ck_assert_uint_eq(n, sizeof(h));
    ck_assert_mem_eq(h2, h, sizeof(h));
    x.be->rollback(x.t);

    /* taken keys and missing rows change nothing, and the transaction
     * goes on */
    before = dump(mfa_int_store_sqlite_db(s));
    x = begin(s, "bob", MFA_TXN_WRITE);
    k = some_passkey(a.factor_id, 9); /* alice's factor id */
    ck_assert_int_eq(x.be->webauthn_insert(x.t, "bob", &k), MFA_ERR_EXISTS);
    k = a; /* alice's credential id under a new factor id */
    memcpy(k.factor_id, "00000000000000c1", MFA_FACTOR_ID_LEN + 1);
    ck_assert_int_eq(x.be->webauthn_insert(x.t, "bob", &k), MFA_ERR_EXISTS);
    ck_assert_int_eq(x.be->webauthn_update(x.t, "bob", &a), MFA_ERR_NOT_FOUND);
    ck_assert_int_eq(x.be->webauthn_delete(x.t, "bob", a.factor_id),
                     MFA_ERR_NOT_FOUND);
    /* alice's handle is taken; bob has none */
    ck_assert_int_eq(x.be->webauthn_handle_put(x.t, "bob", h, sizeof(h), 6),
                     MFA_ERR_EXISTS);
    ck_assert_int_eq(x.be->webauthn_handle_get(x.t, "bob", h2, &n),
                     MFA_ERR_NOT_FOUND);
    /* a nonce is spent per account */
    ck_assert_int_eq(x.be->commit(x.t), MFA_OK);
    x = begin(s, "alice", MFA_TXN_WRITE);
    ck_assert_int_eq(x.be->webauthn_spend(x.t, "alice", nonce, 200),
                     MFA_ERR_EXISTS);
    ck_assert_int_eq(x.be->webauthn_handle_put(x.t, "alice", h, 1, 6),
                     MFA_ERR_EXISTS);
    ck_assert_int_eq(x.be->commit(x.t), MFA_OK);
    after = dump(mfa_int_store_sqlite_db(s));
    ck_assert_str_eq(before, after);
    sqlite3_free(before);
    sqlite3_free(after);

    /* the handle is compared whole: a prefix or a longer one is no match;
     * the find is store-wide */
    x = begin(s, NULL, MFA_TXN_READ);
    ck_assert_int_eq(x.be->webauthn_handle_find(x.t, h, sizeof(h), acct),
                     MFA_OK);
    ck_assert_str_eq(acct, "alice");
    ck_assert_int_eq(x.be->webauthn_handle_find(x.t, h, sizeof(h) - 1, acct),
                     MFA_ERR_NOT_FOUND);
    ck_assert_str_eq(acct, "");
    h2[0] = 0xef;
    memcpy(h2 + 1, h + 1, sizeof(h) - 1);
    ck_assert_int_eq(x.be->webauthn_handle_find(x.t, h2, sizeof(h2), acct),
                     MFA_ERR_NOT_FOUND);
    x.be->rollback(x.t);

    /* updates: a login's (sign count, last use), then every field */
    x = begin(s, "bob", MFA_TXN_WRITE);
    ck_assert_int_eq(x.be->webauthn_spend(x.t, "bob", nonce, 100), MFA_OK);
    memset(nonce, 0x22, sizeof(nonce));
    ck_assert_int_eq(x.be->webauthn_spend(x.t, "bob", nonce, 300), MFA_OK);
    k = some_passkey("00000000000000c2", 3);
    ck_assert_int_eq(x.be->webauthn_insert(x.t, "bob", &k), MFA_OK);
    ck_assert_int_eq(x.be->webauthn_handle_put(x.t, "bob", h2, 3, 7), MFA_OK);
    ck_assert_int_eq(x.be->commit(x.t), MFA_OK);
    x = begin(s, "alice", MFA_TXN_WRITE);
    a.cred.sign_count = 0;
    a.last_used = 4000;
    ck_assert_int_eq(x.be->webauthn_update(x.t, "alice", &a), MFA_OK);
    ck_assert_int_eq(x.be->webauthn_get(x.t, "alice", a.factor_id, &got),
                     MFA_OK);
    assert_same_passkey(&got, &a);
    k = some_passkey(a.factor_id, 5); /* everything else, created too */
    k.created = 3000;
    ck_assert_int_eq(x.be->webauthn_update(x.t, "alice", &k), MFA_OK);
    ck_assert_int_eq(x.be->webauthn_get(x.t, "alice", a.factor_id, &got),
                     MFA_OK);
    assert_same_passkey(&got, &k);
    memset(&seen, 0, sizeof(seen));
    ck_assert_int_eq(x.be->webauthn_list(x.t, "alice", wa_collect, &seen),
                     MFA_OK);
    ck_assert_uint_eq(seen.n, 3);
    ck_assert_str_eq(seen.ids[0], b.factor_id);
    ck_assert_str_eq(seen.ids[1], a.factor_id);
    /* expiry: before the time, not at it; the account's only */
    ck_assert_int_eq(x.be->webauthn_spent_expire(x.t, "alice", 100, &n),
                     MFA_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(x.be->webauthn_spent_expire(x.t, "alice", 101, &n),
                     MFA_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(x.be->webauthn_spend(x.t, "alice", nonce, 400), MFA_OK);
    ck_assert_int_eq(x.be->webauthn_delete(x.t, "alice", b.factor_id), MFA_OK);
    ck_assert_int_eq(x.be->webauthn_delete(x.t, "alice", b.factor_id),
                     MFA_ERR_NOT_FOUND);
    ck_assert_int_eq(x.be->commit(x.t), MFA_OK);
    x = begin(s, NULL, MFA_TXN_WRITE);
    ck_assert_int_eq(x.be->webauthn_spent_expire(x.t, NULL, 301, &n), MFA_OK);
    ck_assert_uint_eq(n, 2); /* bob's two */
    ck_assert_int_eq(x.be->commit(x.t), MFA_OK);

    /* account_delete: every row of alice's in the three tables, none of
     * bob's */
    x = begin(s, "alice", MFA_TXN_WRITE);
    ck_assert_int_eq(x.be->account_delete(x.t, "alice"), MFA_OK);
    ck_assert_int_eq(x.be->commit(x.t), MFA_OK);
    {
        sqlite3 *db = mfa_int_store_sqlite_db(s);
        ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM "
                                     "mfa_webauthn_credential WHERE account "
                                     "= 'alice'"),
                         0);
        ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM mfa_webauthn_user "
                                     "WHERE account = 'alice'"),
                         0);
        ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM mfa_webauthn_spent "
                                     "WHERE account = 'alice'"),
                         0);
        ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM "
                                     "mfa_webauthn_credential"),
                         1);
        ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM mfa_webauthn_user"),
                         1);
    }
    /* alice's credential id and handle are free again */
    x = begin(s, "dave", MFA_TXN_WRITE);
    ck_assert_int_eq(x.be->webauthn_insert(x.t, "dave", &big), MFA_OK);
    ck_assert_int_eq(x.be->webauthn_handle_put(x.t, "dave", h, sizeof(h), 8),
                     MFA_OK);
    ck_assert_int_eq(x.be->commit(x.t), MFA_OK);
    /* a read transaction refuses every write */
    x = begin(s, "dave", MFA_TXN_READ);
    ck_assert_int_ne(x.be->webauthn_spend(x.t, "dave", nonce, 9), MFA_OK);
    ck_assert_int_ne(x.be->webauthn_delete(x.t, "dave", big.factor_id), MFA_OK);
    x.be->rollback(x.t);
    mfa_store_free(&s);
}
END_TEST

static int
count_stmt(unsigned type, void *arg, void *p, void *x)
{
    (void)p;
    (void)x;
    if (type == SQLITE_TRACE_STMT)
        (*(int *)arg)++;
    return 0;
}

static int
count_commit(void *arg)
{
    (*(int *)arg)++;
    return 0;
}

/*
 * What a passkey login costs the file: the steps of its transaction (the
 * account's credentials, the sign count, the spent nonce, the expired
 * nonces) are one statement each, and the transaction one commit.
 */
START_TEST(webauthn_login_statements)
{
    char path[512];
    mfa_store_t *s;
    mfa_webauthn_rec w = some_passkey("00000000000000b0", 4), got;
    uint8_t nonce[MFA_WEBAUTHN_NONCE_BYTES];
    wa_seen seen;
    sqlite3 *db;
    int stmts = 0, commits = 0, at;
    size_t n;
    bt x;

    s = created_store(path, sizeof(path));
    populate(s);
    x = begin(s, "alice", MFA_TXN_WRITE);
    ck_assert_int_eq(x.be->webauthn_insert(x.t, "alice", &w), MFA_OK);
    ck_assert_int_eq(x.be->commit(x.t), MFA_OK);
    db = mfa_int_store_sqlite_db(s);
    ck_assert_int_eq(
        sqlite3_trace_v2(db, SQLITE_TRACE_STMT, count_stmt, &stmts), SQLITE_OK);
    sqlite3_commit_hook(db, count_commit, &commits);
    for (int round = 0; round < 3; round++) {
        stmts = 0;
        commits = 0;
        x = begin(s, "alice", MFA_TXN_WRITE);
        ck_assert_int_eq(stmts, 1); /* BEGIN IMMEDIATE */
        at = stmts;
        memset(&seen, 0, sizeof(seen));
        ck_assert_int_eq(x.be->webauthn_list(x.t, "alice", wa_collect, &seen),
                         MFA_OK);
        ck_assert_uint_eq(seen.n, 2);
        ck_assert_int_eq(stmts - at, 1);
        at = stmts;
        ck_assert_int_eq(x.be->webauthn_get(x.t, "alice", w.factor_id, &got),
                         MFA_OK);
        ck_assert_int_eq(stmts - at, 1);
        at = stmts;
        got.cred.sign_count++;
        got.last_used = 2000 + round;
        ck_assert_int_eq(x.be->webauthn_update(x.t, "alice", &got), MFA_OK);
        ck_assert_int_eq(stmts - at, 1);
        at = stmts;
        memset(nonce, round, sizeof(nonce));
        ck_assert_int_eq(x.be->webauthn_spend(x.t, "alice", nonce, 2300),
                         MFA_OK);
        ck_assert_int_eq(stmts - at, 1);
        at = stmts;
        ck_assert_int_eq(x.be->webauthn_spent_expire(x.t, "alice", 2000, &n),
                         MFA_OK);
        ck_assert_uint_eq(n, round == 0 ? 1 : 0); /* populate's nonce */
        ck_assert_int_eq(stmts - at, 1);
        ck_assert_int_eq(commits, 0);
        ck_assert_int_eq(x.be->commit(x.t), MFA_OK);
        ck_assert_int_eq(stmts, 7);
        ck_assert_int_eq(commits, 1);
    }
    sqlite3_trace_v2(db, 0, NULL, NULL);
    sqlite3_commit_hook(db, NULL, NULL);
    mfa_store_free(&s);
}
END_TEST

/* factor_scan pages through many factors in (account, id) order. */
START_TEST(scan_pages_through_many)
{
    char path[512], acct[MFA_ACCOUNT_MAX + 1] = "";
    char id[MFA_FACTOR_ID_LEN + 1] = "";
    mfa_factor_rec page[64];
    mfa_store_t *s;
    size_t n, total = 0;
    bt x;

    s = created_store(path, sizeof(path));
    x = begin(s, NULL, MFA_TXN_WRITE);
    for (unsigned i = 0; i < 1000; i++) {
        char fid[MFA_FACTOR_ID_LEN + 1], a[16];
        mfa_factor_rec f;
        snprintf(fid, sizeof(fid), "%016x", (i * 7919u) % 1000u);
        snprintf(a, sizeof(a), "u%u", i % 13);
        f = some_factor(a, fid);
        f.created = 2000 - i; /* creation order is not scan order */
        ck_assert_int_eq(x.be->factor_insert(x.t, &f), MFA_OK);
    }
    ck_assert_int_eq(x.be->commit(x.t), MFA_OK);

    x = begin(s, NULL, MFA_TXN_READ);
    do {
        ck_assert_int_eq(x.be->factor_scan(x.t, acct, id, page, 64, &n),
                         MFA_OK);
        for (size_t i = 0; i < n; i++) {
            int c = strcmp(page[i].account, acct);
            ck_assert(c > 0 || (c == 0 && strcmp(page[i].id, id) > 0));
            snprintf(acct, sizeof(acct), "%s", page[i].account);
            memcpy(id, page[i].id, sizeof(id));
        }
        total += n;
    } while (n == 64);
    x.be->rollback(x.t);
    ck_assert_uint_eq(total, 1000);
    mfa_store_free(&s);
}
END_TEST

static Suite *
sqlite_suite(void)
{
    Suite *s = suite_create("sqlite file");
    TCase *tc = tcase_create("file");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, missing_file_is_no_store_and_creates_nothing);
    tcase_add_test(tc, created_file_is_0600_whatever_the_umask);
    tcase_add_test(tc, empty_database_is_no_schema);
    tcase_add_test(tc, not_a_database_is_corrupt);
    tcase_add_test(tc, version_1_is_old_and_create_upgrades_it);
    tcase_add_test(tc, version_2_is_old_and_create_upgrades_it);
    tcase_add_test(tc, version_3_is_old_and_create_upgrades_it);
    tcase_add_test(tc, version_1_migrates_through_the_backend);
    tcase_add_test(tc, newer_version_is_refused);
    tcase_add_test(tc, missing_table_is_a_schema_error);
    tcase_add_loop_test(tc, concurrent_create, 0, 3);
    tcase_add_test(tc, settings);
    tcase_add_test(tc, open_errors);
    tcase_add_test(tc, file_colon_path_is_a_path);
    tcase_add_test(tc, data_survives_reopen);
    tcase_add_loop_test(tc, damaged_rows_are_corrupt, 0,
                        (int)(sizeof(damages) / sizeof(damages[0])));
    tcase_add_loop_test(tc, rollback_undoes_each_write, 0, W_COUNT);
    tcase_add_test(tc, existing_keys_and_missing_rows);
    tcase_add_test(tc, update_after_read_writes_the_record);
    tcase_add_test(tc, second_connection_isolation);
    tcase_add_test(tc, threads_wait_for_the_store);
    tcase_add_test(tc, failed_bind_is_an_error);
    tcase_add_test(tc, transaction_ended_underneath_is_refused);
    tcase_add_test(tc, scan_pages_through_many);
    tcase_add_test(tc, webauthn_rows);
    tcase_add_test(tc, webauthn_login_statements);
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
