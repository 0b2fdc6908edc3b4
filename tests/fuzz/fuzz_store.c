/*
 * Store row decoding: what the SQLite backend reads back from a database
 * file that was damaged or edited by hand.
 *
 * Each input is decoded into rows of the four tables and of the passkey
 * tables (every column a
 * "good" default, SQL NULL, an integer, text or a blob, as the input says)
 * and written with the raw SQLite handle, CHECK constraints off, so that
 * the rows are what a hostile or corrupt file could hold.  Then the store
 * reads them (factor get/list/each, throttle, backup codes, out-of-band
 * challenge, passkey get/list, user handle get/find, through the backend
 * and through the checked layer)
 * and the service runs its flows over them (verify with the
 * right code, recover with the right backup code, out-of-band verify with
 * the right code, list).
 *
 * Invariants: no crash, no leak; a decoded factor record is in range
 * (type, algorithm, digits, period, sealed length), and so is a decoded
 * passkey (lengths, algorithm, counts, bits, formats, times), and
 * undamaged passkey rows decode to exactly what was written; every call
 * returns
 * MFA_OK or an error, never a positive value; and a flow accepts only
 * what the rows make right.  Before each flow the rows are read back with
 * plain SQL and judged apart from the store's decoder (rows_allow_*): a
 * damaged row may make a flow refuse (MFA_ERR_CORRUPT or any other error)
 * but never accept.  When no column was damaged, all three flows must
 * accept.
 */
#include <mfa/service.h>
#include <mfa/store-backend.h>
#include <mfa/store.h>
#include <sqlite3.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "store/store_int.h"
#include "store/txn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define NOW 1111111109
#define FID "0123456789abcdef"
#define WID "0123456789abcde0" /* the passkey's factor id */

static mfa_store_t *store;
static sqlite3 *db;
static mfa_keyring_t *ring;
static mfa_ctx_t *ctx;
static uint8_t good_sealed[MFA_SEALED_MAX];
static size_t good_sealed_len;
static uint8_t good_hash[MFA_BACKUP_HASHBYTES];
static char good_code[MFA_CODE_BUFSIZE];
static const uint8_t secret[20] = "12345678901234567890";
static uint8_t good_oob_hash[MFA_BACKUP_HASHBYTES];
static char good_oob_code[MFA_CODE_BUFSIZE];
static int damaged; /* a column of this input is not its good default */
static sqlite3_stmt *ins[6];
/* the passkey row's good values */
static const uint8_t good_cred_id[32] = "credential id of 32 bytes, ok!!";
static uint8_t good_cose[77];
static const uint8_t good_aaguid[16] = "aaguid 16 bytes";
static const uint8_t good_handle[8] = {0x80, 1, 2, 3, 0, 5, 6, 0xff};
static int warming;

static int64_t
fixed_clock(void *arg)
{
    (void)arg;
    return NOW;
}

static void
must(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz-store set-up: %s\n", what);
        abort();
    }
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char *sql[6] = {
        "INSERT INTO mfa_factor (id, account, label, type, algorithm, digits,"
        " period, t0, last_step, drift, status, created, confirmed,"
        " last_used, sealed) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        "INSERT INTO mfa_backup_code (account, hash, key_id, created, used)"
        " VALUES (?,?,?,?,?)",
        "INSERT INTO mfa_throttle (account, bucket, failures, locked_until,"
        " updated) VALUES (?,'',?,?,0)",
        "INSERT INTO mfa_oob_challenge (account, purpose, hash, key_id,"
        " created, expires, attempts_left) VALUES (?,?,?,?,?,?,?)",
        "INSERT INTO mfa_webauthn_credential (account, factor_id, label,"
        " credential_id, public_key, algorithm, sign_count, transports,"
        " flags, aaguid, att_format, att_trust, user_handle, created,"
        " last_used) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        "INSERT INTO mfa_webauthn_user (account, handle, created)"
        " VALUES (?,?,?)"};
    uint8_t key[MFA_KEYRING_KEYBYTES];
    mfa_oob_challenge ch;
    mfa_secret_t *s = NULL;
    int stray;
    mfa_otp_t *otp = NULL;

    (void)argc;
    (void)argv;
    memset(key, 0x42, sizeof(key));
    must(mfa_keyring_new(&ring) == MFA_OK, "keyring");
    must(mfa_keyring_add(ring, 1, key, 1) == MFA_OK, "key");
    must(mfa_secret_import(&s, secret, sizeof(secret), 0) == MFA_OK, "secret");
    must(mfa_seal(ring, "alice", FID, s, good_sealed, sizeof(good_sealed),
                  &good_sealed_len) == MFA_OK,
         "seal");
    mfa_secret_free(&s);
    must(mfa_otp_new(&otp, secret, sizeof(secret)) == MFA_OK, "otp");
    must(mfa_otp_totp(otp, NOW, good_code, sizeof(good_code)) == MFA_OK,
         "code");
    mfa_otp_free(&otp);
    must(mfa_backup_hash(ring, 1, "7K3M-9QXD-2VBN", good_hash) == MFA_OK,
         "backup hash");
    /* a real challenge's hash, so that the right code can be accepted */
    must(mfa_oob_challenge_new(ring, "alice", "sms", 6, NOW - 10, 600, 3, &ch,
                               good_oob_code, sizeof(good_oob_code)) == MFA_OK,
         "oob challenge");
    must(ch.key_id == 1, "oob key id");
    memcpy(good_oob_hash, ch.hash, sizeof(good_oob_hash));
    stray = access(":memory:", F_OK) != 0;
    must(mfa_store_create(&store, "sqlite::memory:") == MFA_OK, "create");
    /* mfa_store_create makes an empty file named ":memory:" in the working
     * directory before SQLite opens its in-memory database: not ours to
     * keep */
    if (stray)
        (void)unlink(":memory:");
    db = mfa_int_store_sqlite_db(store);
    must(db != NULL, "handle");
    for (int i = 0; i < 6; i++)
        must(sqlite3_prepare_v2(db, sql[i], -1, &ins[i], NULL) == SQLITE_OK,
             sql[i]);
    for (size_t i = 0; i < sizeof(good_cose); i++)
        good_cose[i] = (uint8_t)(0xa5 ^ i);
    must(mfa_ctx_new(&ctx, store, ring) == MFA_OK, "ctx");
    mfa_ctx_set_clock(ctx, fixed_clock, NULL);
    /* the service keeps one guarded scratch per thread, made on first
     * use and freed at thread exit: make it before counting */
    warming = 1;
    LLVMFuzzerTestOneInput((const uint8_t *)"", 0);
    warming = 0;
    return 0;
}

/* The input, read from the front; exhausted input reads as zeros. */
struct in {
    const uint8_t *p;
    size_t n;
};

static uint8_t
byte(struct in *in)
{
    uint8_t b = 0;
    if (in->n > 0) {
        b = *in->p++;
        in->n--;
    }
    return b;
}

/* Bind column i: tag 0..3 the good default (most likely), 4 NULL,
 * 5 an integer, 6 text, 7 a blob. */
static void
bind(sqlite3_stmt *st, int i, struct in *in, const char *text, int64_t num,
     const void *blob, size_t bloblen)
{
    uint8_t tag = byte(in) & 7;
    uint8_t buf[96];
    size_t len;

    if (tag > 3)
        damaged = 1;
    if (tag <= 3) {
        if (text != NULL)
            sqlite3_bind_text(st, i, text, -1, SQLITE_TRANSIENT);
        else if (blob != NULL)
            sqlite3_bind_blob(st, i, blob, (int)bloblen, SQLITE_TRANSIENT);
        else
            sqlite3_bind_int64(st, i, num);
        return;
    }
    if (tag == 4) {
        sqlite3_bind_null(st, i);
        return;
    }
    if (tag == 5) {
        uint64_t v = 0;
        uint8_t k = byte(in) % 9; /* small values are likelier */
        for (uint8_t j = 0; j < k; j++)
            v = (v << 8) | byte(in);
        if (byte(in) & 1)
            v = ~v;
        sqlite3_bind_int64(st, i, (int64_t)v);
        return;
    }
    len = byte(in) % sizeof(buf);
    for (size_t j = 0; j < len; j++)
        buf[j] = byte(in);
    if (tag == 6)
        sqlite3_bind_text(st, i, (const char *)buf, (int)len, SQLITE_TRANSIENT);
    else
        sqlite3_bind_blob(st, i, buf, (int)len, SQLITE_TRANSIENT);
}

static void
insert(sqlite3_stmt *st)
{
    (void)sqlite3_step(st); /* NOT NULL or a duplicate key may refuse it */
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

static mfa_rc
check_rec(const mfa_factor_rec *f, void *arg)
{
    (void)arg;
    FUZZ_ASSERT(f->type == MFA_TOTP || f->type == MFA_HOTP);
    FUZZ_ASSERT(f->algorithm <= MFA_SHA512);
    FUZZ_ASSERT(f->digits >= MFA_DIGITS_MIN && f->digits <= MFA_DIGITS_MAX);
    FUZZ_ASSERT(f->period <= MFA_PERIOD_MAX);
    FUZZ_ASSERT(f->sealed_len <= MFA_SEALED_MAX);
    FUZZ_ASSERT(memchr(f->id, '\0', sizeof(f->id)) != NULL);
    FUZZ_ASSERT(memchr(f->account, '\0', sizeof(f->account)) != NULL);
    FUZZ_ASSERT(memchr(f->label, '\0', sizeof(f->label)) != NULL);
    return MFA_OK;
}

/* A decoded passkey record is in range, whatever the row held. */
static void
check_wa(const mfa_webauthn_rec *r)
{
    const mfa_webauthn_credential *c = &r->cred;

    FUZZ_ASSERT(strlen(r->factor_id) == MFA_FACTOR_ID_LEN);
    FUZZ_ASSERT(memchr(r->label, '\0', sizeof(r->label)) != NULL);
    FUZZ_ASSERT(c->id_len >= MFA_WEBAUTHN_CRED_ID_MIN &&
                c->id_len <= MFA_WEBAUTHN_CRED_ID_MAX);
    FUZZ_ASSERT(c->public_key_len >= 1 &&
                c->public_key_len <= MFA_WEBAUTHN_PUBLIC_KEY_MAX);
    FUZZ_ASSERT(c->user_handle_len >= 1 &&
                c->user_handle_len <= MFA_WEBAUTHN_USER_HANDLE_MAX);
    FUZZ_ASSERT(c->algorithm == MFA_WEBAUTHN_ES256 ||
                c->algorithm == MFA_WEBAUTHN_EDDSA ||
                c->algorithm == MFA_WEBAUTHN_RS256);
    FUZZ_ASSERT(c->transports <= 0x3f && c->flags <= 0xff);
    FUZZ_ASSERT(c->attestation_format <= MFA_WEBAUTHN_FMT_FIDO_U2F);
    FUZZ_ASSERT(c->attestation_trust <= MFA_WEBAUTHN_TRUST_UNVERIFIED);
    FUZZ_ASSERT(r->created >= 0 && r->created <= MFA_INT_TIME_MAX);
    FUZZ_ASSERT(r->last_used >= 0 && r->last_used <= MFA_INT_TIME_MAX);
}

static mfa_rc
check_wa_cb(const mfa_webauthn_rec *r, void *arg)
{
    (void)arg;
    check_wa(r);
    return MFA_OK;
}

/* The passkey row as written when no column was damaged. */
static void
check_wa_good(const mfa_webauthn_rec *r)
{
    const mfa_webauthn_credential *c = &r->cred;

    FUZZ_ASSERT(strcmp(r->factor_id, WID) == 0 && strcmp(r->label, "key") == 0);
    FUZZ_ASSERT(c->id_len == sizeof(good_cred_id) &&
                memcmp(c->id, good_cred_id, c->id_len) == 0);
    FUZZ_ASSERT(c->public_key_len == sizeof(good_cose) &&
                memcmp(c->public_key, good_cose, c->public_key_len) == 0);
    FUZZ_ASSERT(memcmp(c->aaguid, good_aaguid, sizeof(good_aaguid)) == 0);
    FUZZ_ASSERT(c->user_handle_len == sizeof(good_handle) &&
                memcmp(c->user_handle, good_handle, c->user_handle_len) == 0);
    FUZZ_ASSERT(c->algorithm == MFA_WEBAUTHN_ES256 &&
                c->sign_count == 0xffffffffu && c->transports == 0x21 &&
                c->flags == 0x45 &&
                c->attestation_format == MFA_WEBAUTHN_FMT_PACKED &&
                c->attestation_trust == MFA_WEBAUTHN_TRUST_SELF);
    FUZZ_ASSERT(r->created == 1000 && r->last_used == NOW);
}

/*
 * The passkey rows read back through the backend's own decoding: a
 * damaged column is MFA_ERR_CORRUPT or (a key column) NOT_FOUND, never a
 * record out of range; undamaged rows are what was written.
 */
static void
read_passkeys(int wa_damaged)
{
    const mfa_store_backend *be = mfa_store_backend_of(store);
    mfa_store_txn *t = NULL;
    mfa_webauthn_rec r;
    uint8_t h[MFA_WEBAUTHN_USER_HANDLE_MAX];
    char acct[MFA_ACCOUNT_MAX + 1];
    size_t n = 0;
    mfa_rc rc;

    FUZZ_ASSERT(be->begin(mfa_store_impl_of(store), "alice", MFA_TXN_READ,
                          &t) == MFA_OK);
    rc = be->webauthn_get(t, "alice", WID, &r);
    FUZZ_ASSERT(rc <= 0);
    if (rc == MFA_OK) {
        check_wa(&r);
        if (!wa_damaged)
            check_wa_good(&r);
    }
    FUZZ_ASSERT(wa_damaged || rc == MFA_OK);
    rc = be->webauthn_list(t, "alice", check_wa_cb, NULL);
    FUZZ_ASSERT(rc <= 0 && (wa_damaged || rc == MFA_OK));
    rc = be->webauthn_handle_get(t, "alice", h, &n);
    FUZZ_ASSERT(rc <= 0 && n <= MFA_WEBAUTHN_USER_HANDLE_MAX);
    FUZZ_ASSERT(rc != MFA_OK || n >= 1);
    FUZZ_ASSERT(wa_damaged || (rc == MFA_OK && n == sizeof(good_handle) &&
                               memcmp(h, good_handle, n) == 0));
    be->rollback(t);
    FUZZ_ASSERT(be->begin(mfa_store_impl_of(store), NULL, MFA_TXN_READ, &t) ==
                MFA_OK);
    rc = be->webauthn_handle_find(t, good_handle, sizeof(good_handle), acct);
    FUZZ_ASSERT(rc <= 0 && memchr(acct, '\0', sizeof(acct)) != NULL);
    FUZZ_ASSERT(rc != MFA_OK || acct[0] != '\0');
    FUZZ_ASSERT(wa_damaged || (rc == MFA_OK && strcmp(acct, "alice") == 0));
    be->rollback(t);
}

/* The same rows through the checked layer the service reads them with. */
static void
read_passkeys_checked(int wa_damaged)
{
    mfa_int_txn x;
    mfa_webauthn_rec r;
    uint8_t h[MFA_WEBAUTHN_USER_HANDLE_MAX];
    char acct[MFA_ACCOUNT_MAX + 1];
    size_t n = 0;
    mfa_rc rc;

    FUZZ_ASSERT(mfa_int_txn_begin(store, "alice", MFA_TXN_READ, &x) == MFA_OK);
    rc = mfa_int_txn_webauthn_get(&x, WID, &r);
    FUZZ_ASSERT(rc <= 0 && (wa_damaged || rc == MFA_OK));
    if (rc == MFA_OK) {
        check_wa(&r);
        if (!wa_damaged)
            check_wa_good(&r);
    }
    rc = mfa_int_txn_webauthn_list(&x, check_wa_cb, NULL);
    FUZZ_ASSERT(rc <= 0 && (wa_damaged || rc == MFA_OK));
    rc = mfa_int_txn_webauthn_handle_get(&x, h, &n);
    FUZZ_ASSERT(rc <= 0 && (wa_damaged || rc == MFA_OK));
    mfa_int_txn_rollback(&x);
    FUZZ_ASSERT(mfa_int_txn_begin(store, NULL, MFA_TXN_READ, &x) == MFA_OK);
    rc = mfa_int_txn_webauthn_handle_find(&x, good_handle, sizeof(good_handle),
                                          acct);
    FUZZ_ASSERT(rc <= 0 && (wa_damaged || rc == MFA_OK));
    mfa_int_txn_rollback(&x);
}

/* ---- the rows, judged apart from the store's decoder ------------------ */

static sqlite3_stmt *
query(const char *sql)
{
    sqlite3_stmt *st = NULL;

    must(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, sql);
    return st;
}

static int
int_col(sqlite3_stmt *st, int i, int64_t lo, int64_t hi, int64_t *v)
{
    if (sqlite3_column_type(st, i) != SQLITE_INTEGER)
        return 0;
    *v = sqlite3_column_int64(st, i);
    return *v >= lo && *v <= hi;
}

static int
blob_is(sqlite3_stmt *st, int i, const void *want, size_t len)
{
    return sqlite3_column_type(st, i) == SQLITE_BLOB &&
           (size_t)sqlite3_column_bytes(st, i) == len &&
           memcmp(sqlite3_column_blob(st, i), want, len) == 0;
}

/* No throttle row of alice's, or one that does not lock at NOW. */
static int
rows_unlocked(void)
{
    sqlite3_stmt *st = query("SELECT failures, locked_until FROM mfa_throttle"
                             " WHERE account = 'alice' AND bucket = ''");
    int64_t f, l;
    int ok = 1;

    if (sqlite3_step(st) == SQLITE_ROW)
        ok = int_col(st, 0, 0, UINT32_MAX, &f) &&
             int_col(st, 1, INT64_MIN, NOW, &l);
    sqlite3_finalize(st);
    return ok;
}

/* A factor row that is the sealed test secret, active, with parameters
 * under which good_code is a fresh code at NOW: TOTP in the window -1..+1
 * around the drift, HOTP in the 11 counters after the last one spent (the
 * default policy). */
static int
rows_allow_verify(void)
{
    sqlite3_stmt *st;
    int ok = 0;

    if (!rows_unlocked())
        return 0;
    st = query("SELECT id, type, algorithm, digits, period, t0, last_step,"
               " drift, status, sealed FROM mfa_factor WHERE account = "
               "'alice'");
    while (!ok && sqlite3_step(st) == SQLITE_ROW) {
        int64_t type, alg, digits, period = 0, t0 = 0, last, drift = 0, status;
        int64_t first, end;
        mfa_otp_t *o = NULL;

        if (sqlite3_column_type(st, 0) != SQLITE_TEXT ||
            strcmp((const char *)sqlite3_column_text(st, 0), FID) != 0 ||
            !int_col(st, 1, MFA_TOTP, MFA_HOTP, &type) ||
            !int_col(st, 2, MFA_SHA1, MFA_SHA512, &alg) ||
            !int_col(st, 3, MFA_DIGITS_MIN, MFA_DIGITS_MAX, &digits) ||
            !int_col(st, 6, MFA_STEP_NONE, INT64_MAX - 64, &last) ||
            !int_col(st, 8, MFA_FACTOR_ACTIVE, MFA_FACTOR_ACTIVE, &status) ||
            !blob_is(st, 9, good_sealed, good_sealed_len))
            continue;
        /* an HOTP factor reads none of these */
        if (type == MFA_TOTP &&
            (!int_col(st, 4, 1, MFA_PERIOD_MAX, &period) ||
             !int_col(st, 5, -((int64_t)1 << 40), NOW, &t0) ||
             !int_col(st, 7, INT32_MIN, INT32_MAX, &drift)))
            continue;
        (void)status;
        if (type == MFA_HOTP) {
            first = last + 1;
            end = first + MFA_HOTP_LOOKAHEAD_DEFAULT;
        } else {
            int64_t c =
                (NOW - t0) / period +
                (drift > MFA_DRIFT_MAX_DEFAULT    ? MFA_DRIFT_MAX_DEFAULT
                 : drift < -MFA_DRIFT_MAX_DEFAULT ? -MFA_DRIFT_MAX_DEFAULT
                                                  : drift);
            first = c - MFA_PAST_DEFAULT;
            end = c + MFA_FUTURE_DEFAULT;
        }
        must(mfa_otp_new(&o, secret, sizeof(secret)) == MFA_OK, "otp");
        must(mfa_otp_set_algorithm(o, (mfa_algorithm)alg) == MFA_OK &&
                 mfa_otp_set_digits(o, (unsigned)digits) == MFA_OK,
             "otp parameters");
        for (int64_t s = first; !ok && s <= end; s++) {
            char v[MFA_CODE_BUFSIZE];

            ok = s >= 0 && s > last &&
                 mfa_otp_hotp(o, (uint64_t)s, v, sizeof(v)) == MFA_OK &&
                 strcmp(v, good_code) == 0;
        }
        mfa_otp_free(&o);
    }
    sqlite3_finalize(st);
    return ok;
}

/* An unused row holding the hash of the typed code under key 1 (or 0,
 * which mfa_backup_hash reads as the current key: 1 here; the library
 * never writes it, but the hash is the right one). */
static int
rows_allow_recover(void)
{
    sqlite3_stmt *st;
    int ok = 0;
    int64_t kid;

    if (!rows_unlocked())
        return 0;
    st = query("SELECT hash, key_id FROM mfa_backup_code WHERE account ="
               " 'alice' AND used IS NULL");
    while (!ok && sqlite3_step(st) == SQLITE_ROW)
        ok = blob_is(st, 0, good_hash, sizeof(good_hash)) &&
             int_col(st, 1, 0, 1, &kid);
    sqlite3_finalize(st);
    return ok;
}

/* The challenge of the typed code, alive at NOW with an attempt left. */
static int
rows_allow_oob(void)
{
    sqlite3_stmt *st;
    int ok = 0;
    int64_t kid, exp, left;

    if (!rows_unlocked())
        return 0;
    st = query("SELECT hash, key_id, expires, attempts_left FROM"
               " mfa_oob_challenge WHERE account = 'alice' AND purpose ="
               " 'sms'");
    if (sqlite3_step(st) == SQLITE_ROW)
        ok = blob_is(st, 0, good_oob_hash, sizeof(good_oob_hash)) &&
             int_col(st, 1, 1, 1, &kid) &&
             int_col(st, 2, NOW + 1, INT64_MAX, &exp) &&
             int_col(st, 3, 1, INT32_MAX, &left);
    sqlite3_finalize(st);
    return ok;
}

static void
verdict(const char *flow, mfa_rc rc, int allowed)
{
    if (getenv("MFA_FUZZ_VERBOSE") != NULL) /* to check the seeds reach far */
        fprintf(stderr, "%s: %s (rows allow: %d)\n", flow,
                mfa_strerror_name(rc), allowed);
    FUZZ_ASSERT(rc <= 0);
    /* never accepted unless the rows make the code right */
    FUZZ_ASSERT(rc != MFA_OK || allowed);
    /* undamaged rows accept the right code */
    FUZZ_ASSERT(damaged || warming || rc == MFA_OK);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct in in = {data, size};
    mfa_factor_rec rec;
    mfa_throttle_rec th;
    mfa_factor_rec page[4];
    mfa_int_txn x;
    mfa_backup_rec codes[MFA_BACKUP_COUNT_MAX];
    mfa_oob_challenge ch;
    mfa_factor_info *list = NULL;
    mfa_result res;
    size_t n = 0;
    unsigned nfactors;
    long mark;
    int allowed, saved_damaged, wa_damaged;
    mfa_rc rc;

    must(sqlite3_exec(db,
                      "PRAGMA ignore_check_constraints = ON;"
                      "DELETE FROM mfa_factor; DELETE FROM mfa_backup_code;"
                      "DELETE FROM mfa_throttle;"
                      "DELETE FROM mfa_oob_challenge;"
                      "DELETE FROM mfa_webauthn_credential;"
                      "DELETE FROM mfa_webauthn_user;",
                      NULL, NULL, NULL) == SQLITE_OK,
         "reset");
    damaged = 0;
    nfactors = 1 + byte(&in) % 3;
    for (unsigned k = 0; k < nfactors; k++) {
        sqlite3_stmt *st = ins[0];
        bind(st, 1, &in, FID, 0, NULL, 0);
        bind(st, 2, &in, "alice", 0, NULL, 0);
        bind(st, 3, &in, "phone", 0, NULL, 0);
        bind(st, 4, &in, NULL, 0, NULL, 0);     /* type */
        bind(st, 5, &in, NULL, 0, NULL, 0);     /* algorithm */
        bind(st, 6, &in, NULL, 6, NULL, 0);     /* digits */
        bind(st, 7, &in, NULL, 30, NULL, 0);    /* period */
        bind(st, 8, &in, NULL, 0, NULL, 0);     /* t0 */
        bind(st, 9, &in, NULL, -1, NULL, 0);    /* last_step */
        bind(st, 10, &in, NULL, 0, NULL, 0);    /* drift */
        bind(st, 11, &in, NULL, 1, NULL, 0);    /* status */
        bind(st, 12, &in, NULL, 1000, NULL, 0); /* created */
        bind(st, 13, &in, NULL, 1000, NULL, 0); /* confirmed */
        bind(st, 14, &in, NULL, 0, NULL, 0);    /* last_used */
        bind(st, 15, &in, NULL, 0, good_sealed, good_sealed_len);
        insert(st);
    }
    bind(ins[1], 1, &in, "alice", 0, NULL, 0);
    bind(ins[1], 2, &in, NULL, 0, good_hash, sizeof(good_hash));
    bind(ins[1], 3, &in, NULL, 1, NULL, 0);
    bind(ins[1], 4, &in, NULL, 1000, NULL, 0);
    sqlite3_bind_null(ins[1], 5);
    if (byte(&in) & 1) {
        bind(ins[1], 5, &in, NULL, 1000, NULL, 0);
        damaged = 1; /* spent, or a damaged "used" */
    }
    insert(ins[1]);
    if (byte(&in) & 1) {
        bind(ins[2], 1, &in, "alice", 0, NULL, 0);
        bind(ins[2], 2, &in, NULL, 0, NULL, 0);
        bind(ins[2], 3, &in, NULL, 0, NULL, 0);
        insert(ins[2]);
    }
    bind(ins[3], 1, &in, "alice", 0, NULL, 0);
    bind(ins[3], 2, &in, "sms", 0, NULL, 0);
    bind(ins[3], 3, &in, NULL, 0, good_oob_hash, sizeof(good_oob_hash));
    bind(ins[3], 4, &in, NULL, 1, NULL, 0);
    bind(ins[3], 5, &in, NULL, NOW - 10, NULL, 0);
    bind(ins[3], 6, &in, NULL, NOW + 600, NULL, 0);
    bind(ins[3], 7, &in, NULL, 3, NULL, 0);
    insert(ins[3]);
    /* a passkey and the user handle, damaged apart from the rest */
    saved_damaged = damaged;
    damaged = 0;
    bind(ins[4], 1, &in, "alice", 0, NULL, 0);
    bind(ins[4], 2, &in, WID, 0, NULL, 0);
    bind(ins[4], 3, &in, "key", 0, NULL, 0);
    bind(ins[4], 4, &in, NULL, 0, good_cred_id, sizeof(good_cred_id));
    bind(ins[4], 5, &in, NULL, 0, good_cose, sizeof(good_cose));
    bind(ins[4], 6, &in, NULL, MFA_WEBAUTHN_ES256, NULL, 0);
    bind(ins[4], 7, &in, NULL, 0xffffffff, NULL, 0);
    bind(ins[4], 8, &in, NULL, 0x21, NULL, 0);
    bind(ins[4], 9, &in, NULL, 0x45, NULL, 0);
    bind(ins[4], 10, &in, NULL, 0, good_aaguid, sizeof(good_aaguid));
    bind(ins[4], 11, &in, NULL, MFA_WEBAUTHN_FMT_PACKED, NULL, 0);
    bind(ins[4], 12, &in, NULL, MFA_WEBAUTHN_TRUST_SELF, NULL, 0);
    bind(ins[4], 13, &in, NULL, 0, good_handle, sizeof(good_handle));
    bind(ins[4], 14, &in, NULL, 1000, NULL, 0);
    bind(ins[4], 15, &in, NULL, NOW, NULL, 0);
    insert(ins[4]);
    bind(ins[5], 1, &in, "alice", 0, NULL, 0);
    bind(ins[5], 2, &in, NULL, 0, good_handle, sizeof(good_handle));
    bind(ins[5], 3, &in, NULL, 1000, NULL, 0);
    insert(ins[5]);
    wa_damaged = damaged;
    damaged = saved_damaged;

    mark = fuzz_guarded_mark();
    /* every row read through the checked transactions: a damaged row is
     * MFA_ERR_CORRUPT, never a record out of range */
    FUZZ_ASSERT(mfa_int_txn_begin(store, "alice", MFA_TXN_READ, &x) == MFA_OK);
    rc = mfa_int_txn_factor_get(&x, FID, &rec);
    FUZZ_ASSERT(rc <= 0);
    if (rc == MFA_OK)
        check_rec(&rec, NULL);
    FUZZ_ASSERT(mfa_int_txn_factor_list(&x, check_rec, NULL) <= 0);
    FUZZ_ASSERT(mfa_int_txn_throttle_get(&x, "", &th) <= 0);
    FUZZ_ASSERT(mfa_int_txn_backup_list(&x, codes, MFA_BACKUP_COUNT_MAX, &n) <=
                0);
    FUZZ_ASSERT(mfa_int_txn_oob_get(&x, "sms", &ch) <= 0);
    mfa_int_txn_rollback(&x);
    FUZZ_ASSERT(mfa_int_txn_begin(store, NULL, MFA_TXN_READ, &x) == MFA_OK);
    rc = mfa_int_txn_factor_scan(&x, "", "", page, 4, &n);
    FUZZ_ASSERT(rc <= 0);
    for (size_t i = 0; rc == MFA_OK && i < n; i++)
        check_rec(&page[i], NULL);
    mfa_int_txn_rollback(&x);
    read_passkeys(wa_damaged);
    read_passkeys_checked(wa_damaged);

    FUZZ_ASSERT(mfa_factors_list(ctx, "alice", &list, &n) <= 0);
    mfa_free(list);
    memset(&res, 0, sizeof(res));
    allowed = rows_allow_verify();
    rc = mfa_verify(ctx, "alice", good_code, &res);
    verdict("verify", rc, allowed);
    allowed = rows_allow_recover();
    rc = mfa_recover(ctx, "alice", "7K3M-9QXD-2VBN", &res);
    verdict("recover", rc, allowed);
    allowed = rows_allow_oob();
    rc = mfa_oob_verify(ctx, "alice", "sms", good_oob_code, &res);
    verdict("oob_verify", rc, allowed);
    FUZZ_ASSERT(mfa_backup_codes_left(ctx, "alice", &n) <= 0);
    if (!warming)
        fuzz_guarded_check(mark);
    return 0;
}
