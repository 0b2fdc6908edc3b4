/*
 * The store conformance suite, unchanged, against the PostgreSQL store in
 * the throwaway cluster of scripts/test (MFA_PG_CONNINFO), then what only
 * PostgreSQL has: opening never creates (a schema, a database), migration
 * of a version-1 schema, the account lock (two writers of one account
 * serialise, of two accounts do not, and the lock writes no row), read
 * transactions, roles,
 * timeouts, fork.  Every test gets a schema of its own (a random name under
 * this run's prefix); they are all dropped at the end.
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
#include "store/schema.h"
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
    return pgt_create(out, conninfo, last_schema);
}

static mfa_rc
pg_open_again(mfa_store_t **out, void *arg)
{
    (void)arg;
    return mfa_store_postgres_open(out, conninfo, last_schema);
}

/* ---- helpers --------------------------------------------------------------
 */

#define ACCOUNT "carol@example.com"
#define T0 1700000000

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
    static char buf[4][1024];
    static int next;
    char *b = buf[next++ % 4];
    int n = snprintf(b, sizeof(buf[0]), "%s %s", conninfo, more);

    ck_assert_msg(n > 0 && (size_t)n < sizeof(buf[0]), "conninfo too long");
    return b;
}

/* A second handle on last_schema under its own application_name, so that
 * the test can find its connections among those of other tests. */
static mfa_store_t *
open_named(const char *app)
{
    char more[128];
    mfa_store_t *s = NULL;

    snprintf(more, sizeof(more), "application_name=%s", app);
    ck_assert_int_eq(
        mfa_store_postgres_open(&s, conninfo_with(more), last_schema), MFA_OK);
    return s;
}

static void
make_factor(mfa_factor_rec *f, const char *account, const char *id)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->id, sizeof(f->id), "%s", id);
    snprintf(f->account, sizeof(f->account), "%s", account);
    snprintf(f->label, sizeof(f->label), "phone");
    f->type = MFA_TOTP;
    f->algorithm = MFA_SHA1;
    f->digits = 6;
    f->period = 30;
    f->last_step = MFA_STEP_NONE;
    f->status = MFA_FACTOR_ACTIVE;
    f->created = T0;
    f->confirmed = T0;
    f->sealed_len = 40;
    randombytes_buf(f->sealed, f->sealed_len);
}

/* A passkey record; tag 0: the largest there is (1023-byte credential id,
 * 512-byte key, 64-byte user handle, the highest sign count). */
static mfa_webauthn_rec
make_passkey(const char *factor_id, uint8_t tag)
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
        c->algorithm = MFA_WEBAUTHN_EDDSA;
        c->transports = MFA_WEBAUTHN_TRANSPORT_HYBRID;
        c->flags = MFA_WEBAUTHN_FLAG_UP | MFA_WEBAUTHN_FLAG_BE;
        c->attestation_format = MFA_WEBAUTHN_FMT_PACKED;
        c->attestation_trust = MFA_WEBAUTHN_TRUST_SELF;
        r.created = T0 + tag;
    }
    for (size_t i = 0; i < c->id_len; i++)
        c->id[i] = (uint8_t)(tag + i * 7);
    c->id[1] = 0; /* bytes, not a string */
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

typedef struct wa_seen {
    size_t n, stop_after;
    char ids[8][MFA_FACTOR_ID_LEN + 1];
} wa_seen;

static mfa_rc
wa_collect(const mfa_webauthn_rec *r, void *arg)
{
    wa_seen *w = arg;

    if (w->n < 8)
        memcpy(w->ids[w->n], r->factor_id, sizeof(w->ids[0]));
    w->n++;
    return w->stop_after != 0 && w->n == w->stop_after ? MFA_ERR_STATE : MFA_OK;
}

/* One counted attempt, as the service counts it: read, +1, write, commit.
 * The count after it, or -1. */
static long long
bump(mfa_store_t *s, const char *account)
{
    const mfa_store_backend *be = PGT_BE(s);
    mfa_throttle_rec r;
    mfa_store_txn *t;
    mfa_rc rc;

    if (pgt_begin(s, account, MFA_TXN_WRITE, &t) != MFA_OK)
        return -1;
    rc = be->throttle_get(t, account, "", &r);
    if (rc == MFA_ERR_NOT_FOUND) {
        memset(&r, 0, sizeof(r));
        rc = MFA_OK;
    }
    r.failures++;
    r.updated = T0;
    if (rc == MFA_OK)
        rc = be->throttle_put(t, account, &r);
    if (rc != MFA_OK) {
        be->rollback(t);
        return -1;
    }
    return be->commit(t) == MFA_OK ? (long long)r.failures : -1;
}

/* Rows in every table of schema. */
static long long
rows_in(PGconn *c, const char *schema)
{
    char sql[1024];

    snprintf(sql, sizeof(sql),
             "SELECT (SELECT count(*) FROM \"%s\".factor) + (SELECT count(*) "
             "FROM \"%s\".backup_code) + (SELECT count(*) FROM "
             "\"%s\".throttle) + (SELECT count(*) FROM \"%s\".oob_challenge) "
             "+ (SELECT count(*) FROM \"%s\".device) + (SELECT count(*) FROM "
             "\"%s\".webauthn_credential) + (SELECT count(*) FROM "
             "\"%s\".webauthn_user) + (SELECT count(*) FROM "
             "\"%s\".webauthn_spent)",
             schema, schema, schema, schema, schema, schema, schema, schema);
    return pgt_scalar(c, sql);
}

static long long
schema_exists(PGconn *c, const char *schema)
{
    char sql[256];

    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_catalog.pg_namespace WHERE nspname = "
             "'%s'",
             schema);
    return pgt_scalar(c, sql);
}

/* ---- opening never creates ------------------------------------------------
 */

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
        ck_assert_int_eq(pgt_create(&s, conninfo, bad[i]), MFA_ERR_INVALID);
        ck_assert_ptr_null(s);
    }
    ck_assert_int_eq(mfa_store_postgres_open(&s, NULL, "mfa"), MFA_ERR_INVALID);
    ck_assert_int_eq(pg_open(&s, NULL), MFA_OK);
    ck_assert_str_eq(mfa_store_name(s), "postgres");
    mfa_store_free(&s);
}
END_TEST

START_TEST(open_missing_schema)
{
    mfa_store_t *s = NULL;
    PGconn *c = admin();
    int v = -1;

    pgt_random_name(last_schema, sizeof(last_schema), run_prefix);
    ck_assert_int_eq(mfa_store_postgres_open(&s, conninfo, last_schema),
                     MFA_ERR_NO_SCHEMA);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(schema_exists(c, last_schema), 0);
    /* the schema without libmfa's tables is no store either */
    {
        char sql[128];
        snprintf(sql, sizeof(sql), "CREATE SCHEMA \"%s\"", last_schema);
        ck_assert_int_eq(pgt_exec(c, sql), 0);
    }
    ck_assert_int_eq(mfa_store_postgres_open(&s, conninfo, last_schema),
                     MFA_ERR_NO_SCHEMA);
    ck_assert_ptr_null(s);
    {
        char sql[256];
        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname "
                 "= '%s'",
                 last_schema);
        ck_assert_int_eq(pgt_scalar(c, sql), 0);
    }
    /* created on request, then it opens */
    ck_assert_int_eq(pgt_create(&s, conninfo, last_schema), MFA_OK);
    ck_assert_int_eq(mfa_store_schema_version(s, &v), MFA_OK);
    ck_assert_int_eq(v, MFA_SCHEMA_VERSION);
    mfa_store_free(&s);
    ck_assert_int_eq(mfa_store_postgres_open(&s, conninfo, last_schema),
                     MFA_OK);
    mfa_store_free(&s);
    PQfinish(c);
}
END_TEST

/* The default schema through the application's calls, in a database of
 * its own: open refuses and creates nothing, mfa_store_create creates. */
START_TEST(create_default_schema)
{
    mfa_store_t *s = NULL;
    PGconn *c = admin(), *d;
    char db[40], sql[256], more[64], spec[1200];
    const char *ci;
    int v = -1;

    pgt_random_name(db, sizeof(db), "mfa_tdb_");
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db);
    ck_assert_int_eq(pgt_exec(c, sql), 0);
    snprintf(more, sizeof(more), "dbname=%s", db);
    ci = conninfo_with(more);
    snprintf(spec, sizeof(spec), "postgres:%s", ci);

    ck_assert_int_eq(mfa_store_postgres_open(&s, ci, NULL), MFA_ERR_NO_SCHEMA);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(mfa_store_open(&s, spec), MFA_ERR_NO_SCHEMA);
    ck_assert_ptr_null(s);
    d = pgt_connect(ci);
    ck_assert_ptr_nonnull(d);
    ck_assert_int_eq(schema_exists(d, "mfa"), 0);
    ck_assert_int_eq(pgt_scalar(d, "SELECT count(*) FROM pg_catalog.pg_tables "
                                   "WHERE schemaname NOT IN ('pg_catalog', "
                                   "'information_schema')"),
                     0);

    ck_assert_int_eq(mfa_store_create(&s, spec), MFA_OK);
    ck_assert_str_eq(mfa_store_name(s), "postgres");
    ck_assert_int_eq(mfa_store_schema_version(s, &v), MFA_OK);
    ck_assert_int_eq(v, MFA_SCHEMA_VERSION);
    mfa_store_free(&s);
    ck_assert_int_eq(schema_exists(d, "mfa"), 1);
    ck_assert_int_eq(rows_in(d, "mfa"), 0);
    ck_assert_int_eq(mfa_store_postgres_open(&s, ci, NULL), MFA_OK);
    mfa_store_free(&s);
    ck_assert_int_eq(mfa_store_open(&s, spec), MFA_OK);
    mfa_store_free(&s);
    /* creating again is harmless */
    ck_assert_int_eq(mfa_store_create(&s, spec), MFA_OK);
    mfa_store_free(&s);
    PQfinish(d);
    snprintf(sql, sizeof(sql), "DROP DATABASE %s WITH (FORCE)", db);
    ck_assert_int_eq(pgt_exec(c, sql), 0);
    PQfinish(c);
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

/* ---- versions ------------------------------------------------------------ */

/* Schema step 0 (version 1) in last_schema, by hand, with one row in
 * every table. */
static void
make_version1(PGconn *c)
{
    char *step = mfa_int_schema_sql(MFA_DIALECT_POSTGRES, 0);
    char quoted[80], sql[1024];
    size_t n, i, qlen;
    char *out, *o;

    ck_assert_ptr_nonnull(step);
    snprintf(quoted, sizeof(quoted), "\"%s\"", last_schema);
    qlen = strlen(quoted);
    for (n = 0, i = 0; step[i]; i++)
        n += step[i] == '@' ? qlen : 1;
    out = malloc(n + 1);
    ck_assert_ptr_nonnull(out);
    for (o = out, i = 0; step[i]; i++) {
        if (step[i] == '@') {
            memcpy(o, quoted, qlen);
            o += qlen;
        } else {
            *o++ = step[i];
        }
    }
    *o = '\0';
    snprintf(sql, sizeof(sql),
             "CREATE SCHEMA %s; CREATE TABLE %s.\"schema\" (version integer "
             "NOT NULL); INSERT INTO %s.\"schema\" VALUES (1)",
             quoted, quoted, quoted);
    ck_assert_int_eq(pgt_exec(c, sql), 0);
    ck_assert_int_eq(pgt_exec(c, out), 0);
    free(out);
    free(step);
    snprintf(sql, sizeof(sql),
             "INSERT INTO %s.factor VALUES ('00112233445566ff', '%s', "
             "'phone', 0, 0, 6, 30, 0, 56666666, 1, 1, %d, %d, %d, "
             "'\\x0102030405060708090a0b0c0d0e0f10111213141516171819');"
             "INSERT INTO %s.throttle VALUES ('%s', 7, %d);"
             "INSERT INTO %s.backup_code (account, hash, key_id, created) "
             "VALUES ('%s', '\\x%064d', 1, %d);"
             "INSERT INTO %s.oob_challenge VALUES ('%s', 'sms', '\\x%064d', 1, "
             "%d, %d, 3)",
             quoted, ACCOUNT, T0, T0, T0, quoted, ACCOUNT, T0 + 60, quoted,
             ACCOUNT, 7, T0, quoted, ACCOUNT, 9, T0, T0 + 600);
    ck_assert_int_eq(pgt_exec(c, sql), 0);
}

START_TEST(version1_migrates)
{
    mfa_store_t *s = NULL;
    const mfa_store_backend *be;
    mfa_store_txn *t;
    mfa_factor_rec f;
    mfa_throttle_rec th;
    mfa_backup_rec codes[4];
    mfa_oob_challenge oc;
    PGconn *c = admin();
    char sql[256];
    size_t n = 0;
    int v = -1;

    pgt_random_name(last_schema, sizeof(last_schema), run_prefix);
    make_version1(c);
    ck_assert_int_eq(mfa_store_postgres_open(&s, conninfo, last_schema),
                     MFA_ERR_SCHEMA_OLD);
    ck_assert_ptr_null(s);
    /* the open wrote nothing: still version 1, the old throttle table */
    snprintf(sql, sizeof(sql), "SELECT max(version) FROM \"%s\".\"schema\"",
             last_schema);
    ck_assert_int_eq(pgt_scalar(c, sql), 1);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM information_schema.columns WHERE "
             "table_schema = '%s' AND table_name = 'throttle'",
             last_schema);
    ck_assert_int_eq(pgt_scalar(c, sql), 3);

    ck_assert_int_eq(pgt_create(&s, conninfo, last_schema), MFA_OK);
    ck_assert_int_eq(mfa_store_schema_version(s, &v), MFA_OK);
    ck_assert_int_eq(v, MFA_SCHEMA_VERSION);
    be = PGT_BE(s);
    ck_assert_int_eq(pgt_begin(s, ACCOUNT, MFA_TXN_READ, &t), MFA_OK);
    ck_assert_int_eq(be->factor_get(t, ACCOUNT, "00112233445566ff", &f),
                     MFA_OK);
    ck_assert_int_eq(f.last_step, 56666666);
    ck_assert_uint_eq(f.sealed_len, 25);
    /* the account's throttle row is now its "" bucket */
    ck_assert_int_eq(be->throttle_get(t, ACCOUNT, "", &th), MFA_OK);
    ck_assert_uint_eq(th.failures, 7);
    ck_assert_int_eq(th.locked_until, T0 + 60);
    ck_assert_int_eq(th.updated, T0 + 60);
    ck_assert_int_eq(be->backup_list(t, ACCOUNT, codes, 4, &n), MFA_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(codes[0].hash[31], 7);
    ck_assert_int_eq(be->oob_get(t, ACCOUNT, "sms", &oc), MFA_OK);
    ck_assert_int_eq(oc.attempts_left, 3);
    ck_assert_int_eq(oc.expires, T0 + 600);
    ck_assert_int_eq(be->commit(t), MFA_OK);
    mfa_store_free(&s);
    ck_assert_int_eq(mfa_store_postgres_open(&s, conninfo, last_schema),
                     MFA_OK);
    mfa_store_free(&s);
    PQfinish(c);
}
END_TEST

/* Step 2 -> 3: a version 2 schema (made by step 1 on a version 1 one)
 * keeps its rows and gets the device table, empty and usable. */
START_TEST(version2_migrates)
{
    mfa_store_t *s = NULL;
    const mfa_store_backend *be;
    mfa_store_txn *t;
    mfa_throttle_rec th;
    mfa_device_rec d, got;
    PGconn *c = admin();
    char *step = mfa_int_schema_sql(MFA_DIALECT_POSTGRES, 1);
    char quoted[80], sql[512], *out, *o;
    size_t n = 9, i, len = 0, qlen;
    int v = -1;

    pgt_random_name(last_schema, sizeof(last_schema), run_prefix);
    make_version1(c);
    ck_assert_ptr_nonnull(step);
    snprintf(quoted, sizeof(quoted), "\"%s\"", last_schema);
    qlen = strlen(quoted);
    for (i = 0; step[i]; i++)
        len += step[i] == '@' ? qlen : 1;
    out = malloc(len + 1);
    ck_assert_ptr_nonnull(out);
    for (o = out, i = 0; step[i]; i++) {
        if (step[i] == '@') {
            memcpy(o, quoted, qlen);
            o += qlen;
        } else {
            *o++ = step[i];
        }
    }
    *o = '\0';
    ck_assert_int_eq(pgt_exec(c, out), 0);
    free(out);
    free(step);
    snprintf(sql, sizeof(sql),
             "UPDATE %s.\"schema\" SET version = 2; INSERT INTO %s.throttle "
             "VALUES ('%s', '00000000000000dd', 2, 0, %d)",
             quoted, quoted, ACCOUNT, T0);
    ck_assert_int_eq(pgt_exec(c, sql), 0);
    ck_assert_int_eq(mfa_store_postgres_open(&s, conninfo, last_schema),
                     MFA_ERR_SCHEMA_OLD);
    ck_assert_ptr_null(s);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = "
             "'%s' AND tablename = 'device'",
             last_schema);
    ck_assert_int_eq(pgt_scalar(c, sql), 0);

    ck_assert_int_eq(pgt_create(&s, conninfo, last_schema), MFA_OK);
    ck_assert_int_eq(mfa_store_schema_version(s, &v), MFA_OK);
    ck_assert_int_eq(v, MFA_SCHEMA_VERSION);
    be = PGT_BE(s);
    ck_assert_int_eq(pgt_begin(s, ACCOUNT, MFA_TXN_WRITE, &t), MFA_OK);
    ck_assert_int_eq(be->throttle_get(t, ACCOUNT, "", &th), MFA_OK);
    ck_assert_uint_eq(th.failures, 7);
    ck_assert_int_eq(be->throttle_get(t, ACCOUNT, "00000000000000dd", &th),
                     MFA_OK);
    ck_assert_uint_eq(th.failures, 2);
    ck_assert_int_eq(be->device_list(t, ACCOUNT, &got, 1, &n), MFA_OK);
    ck_assert_uint_eq(n, 0);
    memset(&d, 0, sizeof(d));
    memcpy(d.id, "00000000000000dd", 17);
    memcpy(d.label, "Firefox", 8);
    memset(d.hash, 0x5a, sizeof(d.hash));
    d.key_id = 1;
    d.created = d.last_seen = T0;
    ck_assert_int_eq(be->device_put(t, ACCOUNT, &d), MFA_OK);
    ck_assert_int_eq(be->device_get(t, ACCOUNT, d.id, &got), MFA_OK);
    ck_assert_mem_eq(&got, &d, sizeof(d));
    ck_assert_int_eq(be->commit(t), MFA_OK);
    mfa_store_free(&s);
    ck_assert_int_eq(mfa_store_postgres_open(&s, conninfo, last_schema),
                     MFA_OK);
    mfa_store_free(&s);
    PQfinish(c);
}
END_TEST

/* Rows in the tables of a version-3 schema (last_schema). */
static long long
rows_in_v3(PGconn *c)
{
    char sql[1024];
    const char *q = last_schema;

    snprintf(sql, sizeof(sql),
             "SELECT (SELECT count(*) FROM \"%s\".factor) + (SELECT count(*) "
             "FROM \"%s\".backup_code) + (SELECT count(*) FROM "
             "\"%s\".throttle) + (SELECT count(*) FROM \"%s\".oob_challenge) "
             "+ (SELECT count(*) FROM \"%s\".device)",
             q, q, q, q, q);
    return pgt_scalar(c, sql);
}

START_TEST(newer_schema_refused)
{
    mfa_store_t *s = NULL;
    PGconn *c = admin();
    char sql[256];

    ck_assert_int_eq(pg_open(&s, NULL), MFA_OK);
    mfa_store_free(&s);
    snprintf(sql, sizeof(sql), "UPDATE \"%s\".\"schema\" SET version = %d",
             last_schema, MFA_SCHEMA_VERSION + 1);
    ck_assert_int_eq(pgt_exec(c, sql), 0);
    ck_assert_int_eq(mfa_store_postgres_open(&s, conninfo, last_schema),
                     MFA_ERR_SCHEMA);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(pgt_create(&s, conninfo, last_schema), MFA_ERR_SCHEMA);
    ck_assert_ptr_null(s);
    /* nothing was written into the schema it does not know */
    snprintf(sql, sizeof(sql),
             "SELECT count(*) * 100 + max(version) FROM \"%s\".\"schema\"",
             last_schema);
    ck_assert_int_eq(pgt_scalar(c, sql), 100 + MFA_SCHEMA_VERSION + 1);
    PQfinish(c);
}
END_TEST

START_TEST(missing_table)
{
    mfa_store_t *s = NULL, *s2 = NULL;
    const mfa_store_backend *be;
    mfa_store_txn *t;
    mfa_throttle_rec th;
    mfa_backup_rec code;
    size_t n = 0;
    PGconn *c = admin();
    char sql[256];

    ck_assert_int_eq(pg_open(&s, NULL), MFA_OK);
    be = PGT_BE(s);
    snprintf(sql, sizeof(sql), "DROP TABLE \"%s\".throttle", last_schema);
    ck_assert_int_eq(pgt_exec(c, sql), 0);
    /* an open store: what needs the table fails, and the transaction
     * cannot commit after it */
    ck_assert_int_eq(pgt_begin(s, ACCOUNT, MFA_TXN_WRITE, &t), MFA_OK);
    memset(&code, 3, sizeof(code));
    ck_assert_int_eq(be->backup_insert(t, ACCOUNT, &code, T0), MFA_OK);
    ck_assert_int_eq(be->throttle_get(t, ACCOUNT, "", &th), MFA_ERR_STORE);
    ck_assert_int_eq(be->commit(t), MFA_ERR_STORE);
    /* nothing of it was kept; the connection serves the next transaction */
    ck_assert_int_eq(pgt_begin(s, ACCOUNT, MFA_TXN_READ, &t), MFA_OK);
    ck_assert_int_eq(be->backup_list(t, ACCOUNT, &code, 1, &n), MFA_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(be->commit(t), MFA_OK);
    /* a new open: the schema is incomplete */
    ck_assert_int_eq(mfa_store_postgres_open(&s2, conninfo, last_schema),
                     MFA_ERR_SCHEMA);
    ck_assert_ptr_null(s2);
    mfa_store_free(&s);
    PQfinish(c);
}
END_TEST

typedef struct creator {
    const char *schema;
    mfa_rc rc;
} creator;

static void *
create_thread(void *arg)
{
    creator *o = arg;
    mfa_store_t *s = NULL;

    o->rc = pgt_create(&s, conninfo, o->schema);
    mfa_store_free(&s);
    return NULL;
}

START_TEST(concurrent_create)
{
    pthread_t th[6];
    creator o[6];
    PGconn *c = admin();
    char sql[256];
    int i;

    pgt_random_name(last_schema, sizeof(last_schema), run_prefix);
    for (i = 0; i < 6; i++) {
        o[i].schema = last_schema;
        o[i].rc = MFA_ERR_INTERNAL;
        ck_assert_int_eq(pthread_create(&th[i], NULL, create_thread, &o[i]), 0);
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

/* Schema step `i` in last_schema, by hand. */
static void
run_step(PGconn *c, int i)
{
    char *step = mfa_int_schema_sql(MFA_DIALECT_POSTGRES, i);
    char quoted[80], *out, *o;
    size_t len = 0, qlen, k;

    ck_assert_ptr_nonnull(step);
    snprintf(quoted, sizeof(quoted), "\"%s\"", last_schema);
    qlen = strlen(quoted);
    for (k = 0; step[k]; k++)
        len += step[k] == '@' ? qlen : 1;
    out = malloc(len + 1);
    ck_assert_ptr_nonnull(out);
    for (o = out, k = 0; step[k]; k++) {
        if (step[k] == '@') {
            memcpy(o, quoted, qlen);
            o += qlen;
        } else {
            *o++ = step[k];
        }
    }
    *o = '\0';
    ck_assert_int_eq(pgt_exec(c, out), 0);
    free(out);
    free(step);
}

/* A version 3 schema in last_schema with a row in every table: version 1
 * by hand, steps 1 and 2, a known device and its bucket. */
static void
make_version3(PGconn *c)
{
    char sql[512];

    make_version1(c);
    run_step(c, 1);
    run_step(c, 2);
    snprintf(sql, sizeof(sql),
             "UPDATE \"%s\".\"schema\" SET version = 3; INSERT INTO "
             "\"%s\".throttle VALUES ('%s', '00000000000000dd', 2, 0, %d); "
             "INSERT INTO \"%s\".device VALUES ('%s', '00000000000000dd', "
             "'Firefox', '\\x%064d', 1, %d, %d, 0)",
             last_schema, last_schema, ACCOUNT, T0, last_schema, ACCOUNT, 5, T0,
             T0 + 1);
    ck_assert_int_eq(pgt_exec(c, sql), 0);
}

static long long
passkey_tables(PGconn *c)
{
    char sql[256];

    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = "
             "'%s' AND tablename LIKE 'webauthn%%'",
             last_schema);
    return pgt_scalar(c, sql);
}

/* Step 3 -> 4: a version 3 schema is old until migrated, keeps its rows
 * and gets the three passkey tables, empty and usable. */
START_TEST(version3_migrates)
{
    mfa_store_t *s = NULL;
    const mfa_store_backend *be;
    mfa_store_txn *t;
    mfa_factor_rec f;
    mfa_throttle_rec th;
    mfa_device_rec d;
    mfa_webauthn_rec w = make_passkey("00000000000000a9", 0), got;
    uint8_t h[MFA_WEBAUTHN_USER_HANDLE_MAX];
    char acct[MFA_ACCOUNT_MAX + 1];
    PGconn *c = admin();
    size_t n = 0;
    int v = -1;

    pgt_random_name(last_schema, sizeof(last_schema), run_prefix);
    make_version3(c);
    ck_assert_int_eq(mfa_store_postgres_open(&s, conninfo, last_schema),
                     MFA_ERR_SCHEMA_OLD);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(passkey_tables(c), 0);
    ck_assert_int_eq(rows_in_v3(c), 6);

    ck_assert_int_eq(pgt_create(&s, conninfo, last_schema), MFA_OK);
    ck_assert_int_eq(mfa_store_schema_version(s, &v), MFA_OK);
    ck_assert_int_eq(v, MFA_SCHEMA_VERSION);
    ck_assert_int_eq(passkey_tables(c), 3);
    ck_assert_int_eq(rows_in(c, last_schema), 6);
    be = PGT_BE(s);
    ck_assert_int_eq(pgt_begin(s, ACCOUNT, MFA_TXN_WRITE, &t), MFA_OK);
    ck_assert_int_eq(be->factor_get(t, ACCOUNT, "00112233445566ff", &f),
                     MFA_OK);
    ck_assert_int_eq(f.last_step, 56666666);
    ck_assert_int_eq(be->throttle_get(t, ACCOUNT, "00000000000000dd", &th),
                     MFA_OK);
    ck_assert_uint_eq(th.failures, 2);
    ck_assert_int_eq(be->device_get(t, ACCOUNT, "00000000000000dd", &d),
                     MFA_OK);
    ck_assert_str_eq(d.label, "Firefox");
    ck_assert_int_eq(d.last_seen, T0 + 1);
    ck_assert_int_eq(be->webauthn_handle_get(t, ACCOUNT, h, &n),
                     MFA_ERR_NOT_FOUND);
    ck_assert_int_eq(be->webauthn_insert(t, ACCOUNT, &w), MFA_OK);
    ck_assert_int_eq(be->webauthn_handle_put(t, ACCOUNT, w.cred.user_handle,
                                             w.cred.user_handle_len, T0),
                     MFA_OK);
    ck_assert_int_eq(be->commit(t), MFA_OK);
    mfa_store_free(&s);

    ck_assert_int_eq(mfa_store_postgres_open(&s, conninfo, last_schema),
                     MFA_OK);
    ck_assert_int_eq(mfa_store_migrate(s), MFA_OK); /* current: nothing */
    ck_assert_int_eq(pgt_begin(s, ACCOUNT, MFA_TXN_READ, &t), MFA_OK);
    ck_assert_int_eq(be->webauthn_get(t, ACCOUNT, w.factor_id, &got), MFA_OK);
    assert_same_passkey(&got, &w);
    ck_assert_int_eq(be->commit(t), MFA_OK);
    ck_assert_int_eq(pgt_begin(s, NULL, MFA_TXN_READ, &t), MFA_OK);
    ck_assert_int_eq(be->webauthn_handle_find(t, w.cred.user_handle,
                                              w.cred.user_handle_len, acct),
                     MFA_OK);
    ck_assert_str_eq(acct, ACCOUNT);
    ck_assert_int_eq(be->commit(t), MFA_OK);
    mfa_store_free(&s);
    ck_assert_int_eq(rows_in(c, last_schema), 8);
    PQfinish(c);
}
END_TEST

/* Six servers migrate the same version-3 schema at once: one does the
 * work, every one succeeds, the rows are there once. */
START_TEST(concurrent_migrate_from_3)
{
    pthread_t th[6];
    creator o[6];
    PGconn *c = admin();
    char sql[256];
    int i;

    pgt_random_name(last_schema, sizeof(last_schema), run_prefix);
    make_version3(c);
    for (i = 0; i < 6; i++) {
        o[i].schema = last_schema;
        o[i].rc = MFA_ERR_INTERNAL;
        ck_assert_int_eq(pthread_create(&th[i], NULL, create_thread, &o[i]), 0);
    }
    for (i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(o[i].rc, MFA_OK);
    }
    snprintf(sql, sizeof(sql),
             "SELECT count(*) * 100 + max(version) FROM \"%s\".\"schema\"",
             last_schema);
    ck_assert_int_eq(pgt_scalar(c, sql), 100 + MFA_SCHEMA_VERSION);
    ck_assert_int_eq(passkey_tables(c), 3);
    ck_assert_int_eq(rows_in(c, last_schema), 6);
    PQfinish(c);
}
END_TEST

/*
 * Every passkey operation: the largest record round trip, the list order,
 * taken keys by any account (which, with ON CONFLICT DO NOTHING, leave
 * the transaction usable), missing rows, the handle found bytewise and
 * whole in a store-wide transaction, spent nonces per account, expiry,
 * and account_delete over the three tables.
 */
START_TEST(webauthn_rows)
{
    mfa_store_t *s = NULL;
    const mfa_store_backend *be;
    mfa_store_txn *t;
    mfa_webauthn_rec big = make_passkey("00000000000000b0", 0);
    mfa_webauthn_rec a = make_passkey("00000000000000b2", 2);
    mfa_webauthn_rec b = make_passkey("00000000000000b1", 2), got, k;
    uint8_t h[MFA_WEBAUTHN_USER_HANDLE_MAX], h2[MFA_WEBAUTHN_USER_HANDLE_MAX];
    uint8_t nonce[MFA_WEBAUTHN_NONCE_BYTES];
    char acct[MFA_ACCOUNT_MAX + 1], sql[256];
    PGconn *c = admin();
    wa_seen seen;
    size_t n = 0;

    ck_assert_int_eq(pg_open(&s, NULL), MFA_OK);
    be = PGT_BE(s);
    b.cred.id[0] ^= 0xff; /* same created as a: ordered by factor id */
    memset(h, 0xee, sizeof(h));
    memset(nonce, 0x11, sizeof(nonce));
    ck_assert_int_eq(pgt_begin(s, ACCOUNT, MFA_TXN_WRITE, &t), MFA_OK);
    ck_assert_int_eq(be->webauthn_insert(t, ACCOUNT, &big), MFA_OK);
    ck_assert_int_eq(be->webauthn_insert(t, ACCOUNT, &a), MFA_OK);
    ck_assert_int_eq(be->webauthn_insert(t, ACCOUNT, &b), MFA_OK);
    ck_assert_int_eq(be->webauthn_get(t, ACCOUNT, big.factor_id, &got), MFA_OK);
    assert_same_passkey(&got, &big);
    ck_assert_uint_eq(got.cred.sign_count, 0xffffffffu);
    ck_assert_int_eq(be->webauthn_handle_get(t, ACCOUNT, h2, &n),
                     MFA_ERR_NOT_FOUND);
    ck_assert_int_eq(be->webauthn_handle_put(t, ACCOUNT, h, sizeof(h), T0),
                     MFA_OK);
    ck_assert_int_eq(be->webauthn_spend(t, ACCOUNT, nonce, 100), MFA_OK);
    /* taken: the same nonce, a second handle, the factor id, the
     * credential id; the transaction goes on and commits the rest */
    ck_assert_int_eq(be->webauthn_spend(t, ACCOUNT, nonce, 200),
                     MFA_ERR_EXISTS);
    ck_assert_int_eq(be->webauthn_handle_put(t, ACCOUNT, h, 1, T0),
                     MFA_ERR_EXISTS);
    k = make_passkey(a.factor_id, 9);
    ck_assert_int_eq(be->webauthn_insert(t, ACCOUNT, &k), MFA_ERR_EXISTS);
    ck_assert_int_eq(be->commit(t), MFA_OK);
    ck_assert_int_eq(rows_in(c, last_schema), 5);

    ck_assert_int_eq(pgt_begin(s, "bob", MFA_TXN_WRITE, &t), MFA_OK);
    k = a; /* alice's credential id under a new factor id */
    memcpy(k.factor_id, "00000000000000c1", MFA_FACTOR_ID_LEN + 1);
    ck_assert_int_eq(be->webauthn_insert(t, "bob", &k), MFA_ERR_EXISTS);
    k = make_passkey(big.factor_id, 7); /* the factor id */
    ck_assert_int_eq(be->webauthn_insert(t, "bob", &k), MFA_ERR_EXISTS);
    ck_assert_int_eq(be->webauthn_update(t, "bob", &a), MFA_ERR_NOT_FOUND);
    ck_assert_int_eq(be->webauthn_delete(t, "bob", a.factor_id),
                     MFA_ERR_NOT_FOUND);
    ck_assert_int_eq(be->webauthn_get(t, "bob", a.factor_id, &got),
                     MFA_ERR_NOT_FOUND);
    ck_assert_int_eq(be->webauthn_handle_put(t, "bob", h, sizeof(h), T0),
                     MFA_ERR_EXISTS);
    ck_assert_int_eq(be->webauthn_spend(t, "bob", nonce, 100), MFA_OK);
    memset(nonce, 0x22, sizeof(nonce));
    ck_assert_int_eq(be->webauthn_spend(t, "bob", nonce, 300), MFA_OK);
    k = make_passkey("00000000000000c2", 3);
    ck_assert_int_eq(be->webauthn_insert(t, "bob", &k), MFA_OK);
    ck_assert_int_eq(be->webauthn_handle_put(t, "bob", h, 3, T0), MFA_OK);
    ck_assert_int_eq(be->commit(t), MFA_OK);
    ck_assert_int_eq(rows_in(c, last_schema), 9);

    /* oldest first, then by factor id; a callback's error stops it */
    ck_assert_int_eq(pgt_begin(s, ACCOUNT, MFA_TXN_READ, &t), MFA_OK);
    memset(&seen, 0, sizeof(seen));
    ck_assert_int_eq(be->webauthn_list(t, ACCOUNT, wa_collect, &seen), MFA_OK);
    ck_assert_uint_eq(seen.n, 3);
    ck_assert_str_eq(seen.ids[0], b.factor_id);
    ck_assert_str_eq(seen.ids[1], a.factor_id);
    ck_assert_str_eq(seen.ids[2], big.factor_id);
    memset(&seen, 0, sizeof(seen));
    seen.stop_after = 1;
    ck_assert_int_eq(be->webauthn_list(t, ACCOUNT, wa_collect, &seen),
                     MFA_ERR_STATE);
    ck_assert_uint_eq(seen.n, 1);
    ck_assert_int_eq(be->webauthn_handle_get(t, ACCOUNT, h2, &n), MFA_OK);
    ck_assert_uint_eq(n, sizeof(h));
    ck_assert_mem_eq(h2, h, sizeof(h));
    /* a read transaction refuses the writes */
    ck_assert_int_eq(be->webauthn_spend(t, ACCOUNT, h, 1), MFA_ERR_READONLY);
    be->rollback(t);

    /* the store-wide find: whole, bytewise */
    ck_assert_int_eq(pgt_begin(s, NULL, MFA_TXN_READ, &t), MFA_OK);
    ck_assert_int_eq(be->webauthn_handle_find(t, h, sizeof(h), acct), MFA_OK);
    ck_assert_str_eq(acct, ACCOUNT);
    ck_assert_int_eq(be->webauthn_handle_find(t, h, 3, acct), MFA_OK);
    ck_assert_str_eq(acct, "bob");
    ck_assert_int_eq(be->webauthn_handle_find(t, h, 2, acct),
                     MFA_ERR_NOT_FOUND);
    ck_assert_str_eq(acct, "");
    ck_assert_int_eq(be->webauthn_handle_find(t, h, sizeof(h) - 1, acct),
                     MFA_ERR_NOT_FOUND);
    ck_assert_int_eq(be->commit(t), MFA_OK);

    /* a login's update, then every field (created too) */
    ck_assert_int_eq(pgt_begin(s, ACCOUNT, MFA_TXN_WRITE, &t), MFA_OK);
    a.cred.sign_count = 0;
    a.last_used = T0 + 50;
    ck_assert_int_eq(be->webauthn_update(t, ACCOUNT, &a), MFA_OK);
    ck_assert_int_eq(be->webauthn_get(t, ACCOUNT, a.factor_id, &got), MFA_OK);
    assert_same_passkey(&got, &a);
    k = make_passkey(a.factor_id, 5);
    k.created = T0 + 3000;
    ck_assert_int_eq(be->webauthn_update(t, ACCOUNT, &k), MFA_OK);
    ck_assert_int_eq(be->webauthn_get(t, ACCOUNT, a.factor_id, &got), MFA_OK);
    assert_same_passkey(&got, &k);
    ck_assert_int_eq(be->webauthn_spent_expire(t, ACCOUNT, 100, &n), MFA_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(be->webauthn_spent_expire(t, ACCOUNT, 101, &n), MFA_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(be->webauthn_delete(t, ACCOUNT, b.factor_id), MFA_OK);
    ck_assert_int_eq(be->webauthn_delete(t, ACCOUNT, b.factor_id),
                     MFA_ERR_NOT_FOUND);
    ck_assert_int_eq(be->commit(t), MFA_OK);
    ck_assert_int_eq(pgt_begin(s, NULL, MFA_TXN_WRITE, &t), MFA_OK);
    ck_assert_int_eq(be->webauthn_spent_expire(t, NULL, 301, &n), MFA_OK);
    ck_assert_uint_eq(n, 2); /* bob's */
    ck_assert_int_eq(be->commit(t), MFA_OK);

    /* account_delete: the account's rows of the three tables only */
    ck_assert_int_eq(pgt_begin(s, ACCOUNT, MFA_TXN_WRITE, &t), MFA_OK);
    ck_assert_int_eq(be->account_delete(t, ACCOUNT), MFA_OK);
    ck_assert_int_eq(be->commit(t), MFA_OK);
    ck_assert_int_eq(rows_in(c, last_schema), 2); /* bob's key and handle */
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM \"%s\".webauthn_user WHERE account = 'bob'",
             last_schema);
    ck_assert_int_eq(pgt_scalar(c, sql), 1);
    /* the credential id and the handle are free again */
    ck_assert_int_eq(pgt_begin(s, "dave", MFA_TXN_WRITE, &t), MFA_OK);
    ck_assert_int_eq(be->webauthn_insert(t, "dave", &big), MFA_OK);
    ck_assert_int_eq(be->webauthn_handle_put(t, "dave", h, sizeof(h), T0),
                     MFA_OK);
    ck_assert_int_eq(be->commit(t), MFA_OK);
    mfa_store_free(&s);
    PQfinish(c);
}
END_TEST

/* Rows no record can hold (the CHECKs dropped, as a hand edit or another
 * tool might): MFA_ERR_CORRUPT from the backend's own decoding. */
START_TEST(webauthn_damaged_rows)
{
    static const char *const damage[] = {
        "sign_count = 4294967296",
        "sign_count = -1",
        "algorithm = -9",
        "credential_id = '\\x00'",
        "public_key = ''",
        "public_key = decode(repeat('00', 513), 'hex')",
        "aaguid = '\\x0000'",
        "user_handle = decode(repeat('00', 65), 'hex')",
        "transports = 64",
        "flags = 256",
        "att_format = 3",
        "att_trust = -1",
        "created = -1",
        "last_used = 253402300800",
        "label = repeat('x', 65)",
    };
    mfa_store_t *s = NULL;
    const mfa_store_backend *be;
    mfa_store_txn *t;
    mfa_webauthn_rec w = make_passkey("00000000000000b0", 1), got;
    uint8_t h[MFA_WEBAUTHN_USER_HANDLE_MAX];
    char sql[512], acct[MFA_ACCOUNT_MAX + 1];
    PGconn *c = admin();
    wa_seen seen;
    size_t i, n = 0;

    ck_assert_int_eq(pg_open(&s, NULL), MFA_OK);
    be = PGT_BE(s);
    snprintf(sql, sizeof(sql),
             "DO $$ DECLARE r record; BEGIN FOR r IN SELECT conrelid::regclass "
             "AS t, conname FROM pg_constraint WHERE contype = 'c' AND "
             "connamespace = '%s'::regnamespace LOOP EXECUTE format('ALTER "
             "TABLE %%s DROP CONSTRAINT %%I', r.t, r.conname); END LOOP; END "
             "$$",
             last_schema);
    ck_assert_int_eq(pgt_exec(c, sql), 0);
    for (i = 0; i < sizeof(damage) / sizeof(damage[0]); i++) {
        ck_assert_int_eq(pgt_begin(s, ACCOUNT, MFA_TXN_WRITE, &t), MFA_OK);
        ck_assert_int_eq(be->account_delete(t, ACCOUNT), MFA_OK);
        ck_assert_int_eq(be->webauthn_insert(t, ACCOUNT, &w), MFA_OK);
        ck_assert_int_eq(be->commit(t), MFA_OK);
        snprintf(sql, sizeof(sql), "UPDATE \"%s\".webauthn_credential SET %s",
                 last_schema, damage[i]);
        ck_assert_int_eq(pgt_exec(c, sql), 0);
        ck_assert_int_eq(pgt_begin(s, ACCOUNT, MFA_TXN_READ, &t), MFA_OK);
        ck_assert_msg(be->webauthn_get(t, ACCOUNT, w.factor_id, &got) ==
                          MFA_ERR_CORRUPT,
                      "get: %s", damage[i]);
        memset(&seen, 0, sizeof(seen));
        ck_assert_msg(be->webauthn_list(t, ACCOUNT, wa_collect, &seen) ==
                          MFA_ERR_CORRUPT,
                      "list: %s", damage[i]);
        ck_assert_uint_eq(seen.n, 0);
        be->rollback(t);
    }
    /* a handle longer than any, and an account no record can hold */
    snprintf(sql, sizeof(sql),
             "INSERT INTO \"%s\".webauthn_user VALUES ('%s', "
             "decode(repeat('01', 65), 'hex'), 0), (repeat('a', 129), "
             "'\\x02', 0)",
             last_schema, ACCOUNT);
    ck_assert_int_eq(pgt_exec(c, sql), 0);
    ck_assert_int_eq(pgt_begin(s, NULL, MFA_TXN_READ, &t), MFA_OK);
    ck_assert_int_eq(be->webauthn_handle_get(t, ACCOUNT, h, &n),
                     MFA_ERR_CORRUPT);
    ck_assert_uint_eq(n, 0);
    h[0] = 2;
    ck_assert_int_eq(be->webauthn_handle_find(t, h, 1, acct), MFA_ERR_CORRUPT);
    ck_assert_str_eq(acct, "");
    be->rollback(t);
    mfa_store_free(&s);
    PQfinish(c);
}
END_TEST

/*
 * The deployment of docs/postgres.md: an owner role creates the store, the
 * application's role has DML rights only and still opens and uses it.
 */
START_TEST(least_privilege_role)
{
    mfa_store_t *s = NULL;
    const mfa_store_backend *be;
    mfa_store_txn *t;
    mfa_throttle_rec th;
    mfa_backup_rec code;
    mfa_factor_rec f;
    PGconn *c = admin();
    char role[40], sql[1024], fresh[64], user[64];

    ck_assert_int_eq(pg_open(&s, NULL), MFA_OK); /* created by the owner */
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
    ck_assert_int_eq(mfa_store_migrate(s), MFA_OK); /* current: no DDL */
    be = PGT_BE(s);
    ck_assert_int_eq(pgt_begin(s, ACCOUNT, MFA_TXN_WRITE, &t), MFA_OK);
    make_factor(&f, ACCOUNT, "0123456789abcdef");
    ck_assert_int_eq(be->factor_insert(t, &f), MFA_OK);
    memset(&code, 7, sizeof(code));
    ck_assert_int_eq(be->backup_insert(t, ACCOUNT, &code, T0), MFA_OK);
    ck_assert_int_eq(be->backup_use(t, ACCOUNT, code.hash, T0 + 1), MFA_OK);
    memset(&th, 0, sizeof(th));
    th.failures = 1;
    th.updated = T0;
    ck_assert_int_eq(be->throttle_put(t, ACCOUNT, &th), MFA_OK);
    {
        mfa_webauthn_rec w = make_passkey("00000000000000b0", 1);
        uint8_t nonce[MFA_WEBAUTHN_NONCE_BYTES] = {1};
        size_t n = 0;

        ck_assert_int_eq(be->webauthn_insert(t, ACCOUNT, &w), MFA_OK);
        w.cred.sign_count++;
        ck_assert_int_eq(be->webauthn_update(t, ACCOUNT, &w), MFA_OK);
        ck_assert_int_eq(be->webauthn_handle_put(t, ACCOUNT, nonce, 16, T0),
                         MFA_OK);
        ck_assert_int_eq(be->webauthn_spend(t, ACCOUNT, nonce, T0 + 60),
                         MFA_OK);
        ck_assert_int_eq(be->webauthn_spent_expire(t, ACCOUNT, T0 + 61, &n),
                         MFA_OK);
        ck_assert_uint_eq(n, 1);
    }
    ck_assert_int_eq(be->account_delete(t, ACCOUNT), MFA_OK);
    ck_assert_int_eq(be->commit(t), MFA_OK);
    mfa_store_free(&s);
    /* it may not create a store of its own: an error, not a half store */
    pgt_random_name(fresh, sizeof(fresh), run_prefix);
    ck_assert_int_eq(pgt_create(&s, conninfo_with(user), fresh), MFA_ERR_STORE);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(schema_exists(c, fresh), 0);
    snprintf(sql, sizeof(sql), "DROP OWNED BY %s; DROP ROLE %s;", role, role);
    ck_assert_int_eq(pgt_exec(c, sql), 0);
    PQfinish(c);
}
END_TEST

/*
 * The upgrade 3 -> 4 of docs/postgres.md with the two roles: the
 * application role cannot migrate (an error, the schema still 3), the
 * owner migrates, and the default privileges give the application role
 * the new tables.
 */
START_TEST(least_privilege_upgrade_from_3)
{
    mfa_store_t *s = NULL;
    const mfa_store_backend *be;
    mfa_store_txn *t;
    mfa_webauthn_rec w = make_passkey("00000000000000b0", 1);
    uint8_t nonce[MFA_WEBAUTHN_NONCE_BYTES] = {9};
    PGconn *c = admin();
    char role[40], sql[1024], user[64];
    size_t n = 0;

    pgt_random_name(last_schema, sizeof(last_schema), run_prefix);
    make_version3(c);
    pgt_random_name(role, sizeof(role), "mfa_app_");
    snprintf(sql, sizeof(sql),
             "CREATE ROLE %s LOGIN;"
             "GRANT USAGE ON SCHEMA \"%s\" TO %s;"
             "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "
             "\"%s\" TO %s;"
             "GRANT USAGE ON ALL SEQUENCES IN SCHEMA \"%s\" TO %s;"
             "ALTER DEFAULT PRIVILEGES IN SCHEMA \"%s\" GRANT SELECT, "
             "INSERT, UPDATE, DELETE ON TABLES TO %s;",
             role, last_schema, role, last_schema, role, last_schema, role,
             last_schema, role);
    ck_assert_int_eq(pgt_exec(c, sql), 0);
    snprintf(user, sizeof(user), "user=%s", role);
    ck_assert_int_eq(
        mfa_store_postgres_open(&s, conninfo_with(user), last_schema),
        MFA_ERR_SCHEMA_OLD);
    ck_assert_int_eq(pgt_create(&s, conninfo_with(user), last_schema),
                     MFA_ERR_STORE);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(passkey_tables(c), 0);
    snprintf(sql, sizeof(sql), "SELECT max(version) FROM \"%s\".\"schema\"",
             last_schema);
    ck_assert_int_eq(pgt_scalar(c, sql), 3);

    ck_assert_int_eq(pgt_create(&s, conninfo, last_schema), MFA_OK);
    mfa_store_free(&s);
    ck_assert_int_eq(
        mfa_store_postgres_open(&s, conninfo_with(user), last_schema), MFA_OK);
    be = PGT_BE(s);
    ck_assert_int_eq(pgt_begin(s, ACCOUNT, MFA_TXN_WRITE, &t), MFA_OK);
    ck_assert_int_eq(be->webauthn_insert(t, ACCOUNT, &w), MFA_OK);
    ck_assert_int_eq(be->webauthn_handle_put(t, ACCOUNT, nonce, 16, T0),
                     MFA_OK);
    ck_assert_int_eq(be->webauthn_spend(t, ACCOUNT, nonce, T0 + 60), MFA_OK);
    ck_assert_int_eq(be->webauthn_spent_expire(t, ACCOUNT, T0 + 61, &n),
                     MFA_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(be->account_delete(t, ACCOUNT), MFA_OK);
    ck_assert_int_eq(be->commit(t), MFA_OK);
    mfa_store_free(&s);
    snprintf(sql, sizeof(sql), "DROP OWNED BY %s; DROP ROLE %s;", role, role);
    ck_assert_int_eq(pgt_exec(c, sql), 0);
    PQfinish(c);
}
END_TEST

/* ---- the account lock ---------------------------------------------------- */

typedef struct writer {
    mfa_store_t *s;
    const char *account;
    int began, done; /* flags */
    mfa_rc rc;
    long long seen; /* failures read inside the transaction */
} writer;

/* One counted attempt, with flags telling how far it got. */
static void *
writer_thread(void *arg)
{
    writer *w = arg;
    const mfa_store_backend *be = PGT_BE(w->s);
    mfa_throttle_rec r;
    mfa_store_txn *t;
    mfa_rc rc;

    rc = pgt_begin(w->s, w->account, MFA_TXN_WRITE, &t);
    pgt_flag_set(&w->began);
    if (rc == MFA_OK) {
        rc = be->throttle_get(t, w->account, "", &r);
        if (rc == MFA_ERR_NOT_FOUND) {
            memset(&r, 0, sizeof(r));
            rc = MFA_OK;
        }
        w->seen = rc == MFA_OK ? (long long)r.failures : -1;
        r.failures++;
        if (rc == MFA_OK)
            rc = be->throttle_put(t, w->account, &r);
        if (rc == MFA_OK)
            rc = be->commit(t);
        else
            be->rollback(t);
    }
    w->rc = rc;
    pgt_flag_set(&w->done);
    return NULL;
}

/* Hold a write transaction on ACCOUNT that counted one attempt. */
static mfa_store_txn *
hold(mfa_store_t *s)
{
    mfa_throttle_rec r;
    mfa_store_txn *t;

    ck_assert_int_eq(pgt_begin(s, ACCOUNT, MFA_TXN_WRITE, &t), MFA_OK);
    memset(&r, 0, sizeof(r));
    r.failures = 1;
    r.updated = T0;
    ck_assert_int_eq(PGT_BE(s)->throttle_put(t, ACCOUNT, &r), MFA_OK);
    return t;
}

START_TEST(same_account_serialises)
{
    mfa_store_t *s1 = NULL, *s2;
    mfa_store_txn *t;
    writer w = {0};
    pthread_t th;
    char app[40];
    PGconn *c = admin();

    ck_assert_int_eq(pg_open(&s1, NULL), MFA_OK);
    pgt_random_name(app, sizeof(app), "mfa_tw_");
    s2 = open_named(app); /* another application server */
    t = hold(s1);
    w.s = s2;
    w.account = ACCOUNT;
    ck_assert_int_eq(pthread_create(&th, NULL, writer_thread, &w), 0);
    /* the second writer waits on the account's advisory lock ... */
    ck_assert_msg(pgt_wait_advisory(c, app), "the second writer never waited");
    ck_assert_int_eq(pgt_flag(&w.began), 0);
    /* ... until the first commits, then sees its write */
    ck_assert_int_eq(PGT_BE(s1)->commit(t), MFA_OK);
    pthread_join(th, NULL);
    ck_assert_int_eq(w.rc, MFA_OK);
    ck_assert_int_eq(w.seen, 1);
    ck_assert_int_eq(pgt_failures(s1, ACCOUNT, ""), 2);

    /* and after a rollback, it sees that nothing happened */
    memset(&w, 0, sizeof(w));
    w.s = s2;
    w.account = ACCOUNT;
    t = hold(s1);
    ck_assert_int_eq(pthread_create(&th, NULL, writer_thread, &w), 0);
    ck_assert_msg(pgt_wait_advisory(c, app), "the second writer never waited");
    ck_assert_int_eq(pgt_flag(&w.began), 0);
    PGT_BE(s1)->rollback(t);
    pthread_join(th, NULL);
    ck_assert_int_eq(w.rc, MFA_OK);
    ck_assert_int_eq(w.seen, 2);
    ck_assert_int_eq(pgt_failures(s1, ACCOUNT, ""), 3);
    mfa_store_free(&s2);
    mfa_store_free(&s1);
    PQfinish(c);
}
END_TEST

START_TEST(other_accounts_run_in_parallel)
{
    static const char *const others[] = {"dave@example.com", "erin@example.com",
                                         "frank@example.com"};
    mfa_store_t *s1 = NULL, *s2;
    const mfa_store_backend *be;
    mfa_store_txn *t, *r;
    mfa_factor_rec f;
    writer w[3];
    pthread_t th[3];
    char app[40];
    int i, k, n = 0;

    ck_assert_int_eq(pg_open(&s1, NULL), MFA_OK);
    be = PGT_BE(s1);
    pgt_random_name(app, sizeof(app), "mfa_tp_");
    s2 = open_named(app);
    t = hold(s1);
    /* other accounts, from another server and from this one's other
     * threads, while ACCOUNT stays locked */
    memset(w, 0, sizeof(w));
    for (i = 0; i < 3; i++) {
        w[i].s = i == 0 ? s1 : s2;
        w[i].account = others[i];
        ck_assert_int_eq(pthread_create(&th[i], NULL, writer_thread, &w[i]), 0);
    }
    for (k = 0; k < 1000 && n < 3; k++) {
        for (n = 0, i = 0; i < 3; i++)
            n += pgt_flag(&w[i].done);
        if (n < 3)
            pgt_sleep_ms(10);
    }
    ck_assert_msg(n == 3, "%d of 3 writers of other accounts finished", n);
    for (i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(w[i].rc, MFA_OK);
    }
    /* a reader of the locked account does not wait either */
    ck_assert_int_eq(pgt_begin(s2, ACCOUNT, MFA_TXN_READ, &r), MFA_OK);
    ck_assert_int_eq(be->factor_get(r, ACCOUNT, "0123456789abcdef", &f),
                     MFA_ERR_NOT_FOUND);
    be->rollback(r);
    ck_assert_int_eq(be->commit(t), MFA_OK);
    for (i = 0; i < 3; i++)
        ck_assert_int_eq(pgt_failures(s1, others[i], ""), 1);
    mfa_store_free(&s2);
    mfa_store_free(&s1);
}
END_TEST

/* An attacker trying invented names: the locks leave no row behind. */
START_TEST(lock_writes_no_row)
{
    mfa_store_t *s = NULL;
    const mfa_store_backend *be;
    mfa_store_txn *t;
    mfa_throttle_rec th;
    mfa_factor_rec f;
    PGconn *c = admin();
    char account[64], sql[512], app[40];
    int i;

    ck_assert_int_eq(pg_open(&s, NULL), MFA_OK);
    mfa_store_free(&s);
    pgt_random_name(app, sizeof(app), "mfa_tl_");
    s = open_named(app);
    be = PGT_BE(s);
    for (i = 0; i < 200; i++) {
        snprintf(account, sizeof(account), "invented-%d@example.com", i);
        ck_assert_int_eq(pgt_begin(s, account, MFA_TXN_WRITE, &t), MFA_OK);
        ck_assert_int_eq(be->throttle_get(t, account, "", &th),
                         MFA_ERR_NOT_FOUND);
        ck_assert_int_eq(be->factor_get(t, account, "0123456789abcdef", &f),
                         MFA_ERR_NOT_FOUND);
        ck_assert_int_eq(be->commit(t), MFA_OK);
    }
    ck_assert_int_eq(rows_in(c, last_schema), 0);
    /* while held, the lock is an advisory one of this connection */
    ck_assert_int_eq(pgt_begin(s, "invented@example.com", MFA_TXN_WRITE, &t),
                     MFA_OK);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING "
             "(pid) WHERE a.application_name = '%s' AND l.locktype = "
             "'advisory' AND l.granted",
             app);
    ck_assert_int_eq(pgt_scalar(c, sql), 1);
    be->rollback(t);
    ck_assert_int_eq(pgt_scalar(c, sql), 0);
    ck_assert_int_eq(rows_in(c, last_schema), 0);
    mfa_store_free(&s);
    PQfinish(c);
}
END_TEST

/* A read transaction sees what was committed before each of its reads,
 * and its writes are refused without reaching the server. */
START_TEST(read_refuses_writes)
{
    mfa_store_t *s1 = NULL, *s2 = NULL;
    const mfa_store_backend *be;
    mfa_store_txn *r, *w;
    mfa_factor_rec f, g;
    mfa_throttle_rec th;
    PGconn *c = admin();

    ck_assert_int_eq(pg_open(&s1, NULL), MFA_OK);
    ck_assert_int_eq(pg_open_again(&s2, NULL), MFA_OK);
    be = PGT_BE(s1);
    ck_assert_int_eq(pgt_begin(s1, ACCOUNT, MFA_TXN_READ, &r), MFA_OK);
    ck_assert_int_eq(be->factor_get(r, ACCOUNT, "0123456789abcdef", &g),
                     MFA_ERR_NOT_FOUND);
    ck_assert_int_eq(pgt_begin(s2, ACCOUNT, MFA_TXN_WRITE, &w), MFA_OK);
    make_factor(&f, ACCOUNT, "0123456789abcdef");
    ck_assert_int_eq(be->factor_insert(w, &f), MFA_OK);
    ck_assert_int_eq(be->commit(w), MFA_OK);
    ck_assert_int_eq(be->factor_get(r, ACCOUNT, "0123456789abcdef", &g),
                     MFA_OK);
    ck_assert_int_eq(memcmp(g.sealed, f.sealed, f.sealed_len), 0);
    ck_assert_int_eq(be->factor_delete(r, ACCOUNT, "0123456789abcdef"),
                     MFA_ERR_READONLY);
    memset(&th, 0, sizeof(th));
    th.failures = 1;
    ck_assert_int_eq(be->throttle_put(r, ACCOUNT, &th), MFA_ERR_READONLY);
    /* a transaction with a refused operation does not commit */
    ck_assert_int_eq(be->commit(r), MFA_ERR_STORE);
    ck_assert_int_eq(rows_in(c, last_schema), 1);
    ck_assert_int_eq(pgt_begin(s1, ACCOUNT, MFA_TXN_READ, &r), MFA_OK);
    ck_assert_int_eq(be->factor_get(r, ACCOUNT, "0123456789abcdef", &g),
                     MFA_OK);
    ck_assert_int_eq(be->commit(r), MFA_OK);
    mfa_store_free(&s2);
    mfa_store_free(&s1);
    PQfinish(c);
}
END_TEST

/* An account locked elsewhere for longer than the timeout: MFA_ERR_BUSY,
 * and nothing of the refused transaction remains. */
static void
locked_account_times_out(const char *more, double min_s, double max_s)
{
    mfa_store_t *s = NULL, *s2 = NULL;
    mfa_store_txn *t, *t2 = NULL;
    struct timespec a, b;
    double took;

    ck_assert_int_eq(pg_open(&s, NULL), MFA_OK);
    ck_assert_int_eq(
        mfa_store_postgres_open(&s2, conninfo_with(more), last_schema), MFA_OK);
    t = hold(s);
    clock_gettime(CLOCK_MONOTONIC, &a);
    ck_assert_int_eq(pgt_begin(s2, ACCOUNT, MFA_TXN_WRITE, &t2), MFA_ERR_BUSY);
    clock_gettime(CLOCK_MONOTONIC, &b);
    ck_assert_ptr_null(t2);
    took =
        (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    ck_assert_msg(took >= min_s && took < max_s, "timed out after %.2f s",
                  took);
    ck_assert_int_eq(PGT_BE(s)->commit(t), MFA_OK);
    /* the same handle works once the lock is free */
    ck_assert_int_eq(bump(s2, ACCOUNT), 2);
    mfa_store_free(&s2);
    mfa_store_free(&s);
}

START_TEST(statement_timeout_configured)
{
    /* the connection string's own timeout wins over the default */
    locked_account_times_out("options='-c statement_timeout=300'", 0.25, 3.0);
}
END_TEST

START_TEST(default_timeouts)
{
    /* nothing configured: the store's defaults still bound the wait */
    locked_account_times_out("", 1.0, 10.0);
}
END_TEST

/* A pre-forking server: the child uses the store it inherited; both it
 * and the parent keep working, neither ends the other's sessions. */
START_TEST(fork_child_reconnects)
{
    mfa_store_t *s = NULL;
    pid_t pid;
    int status;

    ck_assert_int_eq(pg_open(&s, NULL), MFA_OK);
    ck_assert_int_eq(bump(s, ACCOUNT), 1);
    pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        int ok = bump(s, ACCOUNT) == 2;
        mfa_store_free(&s);
        _exit(ok ? 0 : 1);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* the parent's pooled connection survived the child's exit */
    ck_assert_int_eq(bump(s, ACCOUNT), 3);
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
    tcase_add_test(tc, open_missing_schema);
    tcase_add_test(tc, create_default_schema);
    tcase_add_test(tc, server_unreachable);
    tcase_add_test(tc, version1_migrates);
    tcase_add_test(tc, version2_migrates);
    tcase_add_test(tc, newer_schema_refused);
    tcase_add_test(tc, missing_table);
    tcase_add_test(tc, concurrent_create);
    tcase_add_test(tc, version3_migrates);
    tcase_add_test(tc, concurrent_migrate_from_3);
    tcase_add_test(tc, webauthn_rows);
    tcase_add_test(tc, webauthn_damaged_rows);
    tcase_add_test(tc, least_privilege_role);
    tcase_add_test(tc, least_privilege_upgrade_from_3);
    tcase_add_test(tc, same_account_serialises);
    tcase_add_test(tc, other_accounts_run_in_parallel);
    tcase_add_test(tc, lock_writes_no_row);
    tcase_add_test(tc, read_refuses_writes);
    tcase_add_test(tc, statement_timeout_configured);
    tcase_add_test(tc, default_timeouts);
    tcase_add_test(tc, fork_child_reconnects);
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
