/*
 * Constant-time test in the ctgrind style: run under
 *   valgrind --error-exitcode=1 --track-origins=yes
 * (tests/ct/meson.build does).  Secrets (OTP keys, key-ring keys, and so
 * everything derived from them: expected codes, backup-code hashes,
 * out-of-band hashes, sealing keys) are marked undefined with
 * VALGRIND_MAKE_MEM_UNDEFINED before the call; memcheck then reports every
 * conditional jump and every memory index that depends on them.  The only
 * values the library makes public are its verdicts, through MFA_CT_PUBLIC
 * (lib/ct.h), which this build turns on with -DMFA_CT_VALGRIND.
 *
 * Passkey logins (with the C software authenticator, where it is built):
 * the challenge's tag is made from a secret ring key, and the stored
 * credential ids are marked secret as the memory store hands them to the
 * flow, so the tag comparison and the comparison of the response's
 * credential id with every stored one are checked; `--canary-webauthn`
 * compares a marked id with an early exit where the flow compares it,
 * and must be caught the same way.
 *
 * Each case also checks the functional result (the right code is accepted,
 * a wrong one refused), so a case cannot pass by computing nothing.  A case
 * fails when memcheck's error count grows during it.  `--canary` runs a
 * deliberately leaky comparison instead, which memcheck must catch:
 * tests/ct/canary.sh passes only on memcheck's own error exit code, not
 * on any failure (`--canary-crash` crashes instead, to prove that).
 *
 * Prints "N passed, N failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <valgrind/memcheck.h>

#include <mfa/backup.h>
#include <mfa/otp.h>
#include <mfa/secret.h>
#include <mfa/service.h>
#include <mfa/store.h>
#ifdef CT_WEBAUTHN
#include <mfa/device.h>
#include <mfa/store-backend.h>
#include <mfa/webauthn.h>

#include "softauth_c.h"
#endif

#define SECRET(p, n) ((void)VALGRIND_MAKE_MEM_UNDEFINED((p), (n)))
#define PUBLIC(p, n) ((void)VALGRIND_MAKE_MEM_DEFINED((p), (n)))

static int case_ok; /* functional checks of the running case */

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            printf("  %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);  \
            case_ok = 0;                                                       \
        }                                                                      \
    } while (0)

/* The verdict is public: declassify before the test branches on it. */
static mfa_rc
verdict(mfa_rc rc)
{
    PUBLIC(&rc, sizeof(rc));
    return rc;
}

static void
fill(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed + 37u * i);
}

/* ---- OTP -------------------------------------------------------------- */

static mfa_otp_t *
secret_otp(mfa_algorithm alg, unsigned digits, size_t keylen)
{
    uint8_t key[MFA_KEY_MAX];
    mfa_otp_t *otp = NULL;

    fill(key, keylen, (uint8_t)(alg * 16 + keylen));
    SECRET(key, keylen);
    CHECK(verdict(mfa_otp_new(&otp, key, keylen)) == MFA_OK);
    if (otp != NULL) {
        CHECK(mfa_otp_set_algorithm(otp, alg) == MFA_OK);
        CHECK(mfa_otp_set_digits(otp, digits) == MFA_OK);
    }
    return otp;
}

/* The code the user's app shows for counter c: typed, hence public. */
static void
typed_code(const mfa_otp_t *otp, uint64_t c, char code[MFA_CODE_BUFSIZE])
{
    CHECK(verdict(mfa_otp_hotp(otp, c, code, MFA_CODE_BUFSIZE)) == MFA_OK);
    PUBLIC(code, MFA_CODE_BUFSIZE);
}

/* A well-formed code that is not the one at counter c. */
static void
wrong_code(const mfa_otp_t *otp, uint64_t c, char code[MFA_CODE_BUFSIZE])
{
    typed_code(otp, c, code);
    code[0] = code[0] == '9' ? '0' : (char)(code[0] + 1);
}

static void
totp_case(mfa_algorithm alg, unsigned digits, size_t keylen)
{
    const int64_t now = 1111111109;
    const uint64_t step = (uint64_t)now / 30;
    mfa_otp_t *otp = secret_otp(alg, digits, keylen);
    char code[MFA_CODE_BUFSIZE];
    uint64_t matched = 0;
    int32_t off = 0;

    if (otp == NULL)
        return;
    /* right code now, early and late in the window */
    for (int d = -2; d <= 2; d++) {
        typed_code(otp, step + (uint64_t)(int64_t)d, code);
        CHECK(verdict(mfa_otp_totp_verify(otp, code, now, 2, 2, MFA_STEP_NONE,
                                          &matched, &off)) == MFA_OK);
        PUBLIC(&matched, sizeof(matched));
        PUBLIC(&off, sizeof(off));
        CHECK(matched == step + (uint64_t)(int64_t)d && off == d);
    }
    /* outside the window, wrong, replayed */
    typed_code(otp, step + 3, code);
    CHECK(verdict(mfa_otp_totp_verify(otp, code, now, 2, 2, MFA_STEP_NONE, NULL,
                                      NULL)) != MFA_OK);
    wrong_code(otp, step, code);
    CHECK(verdict(mfa_otp_totp_verify(otp, code, now, 2, 2, MFA_STEP_NONE, NULL,
                                      NULL)) != MFA_OK);
    typed_code(otp, step - 1, code);
    CHECK(verdict(mfa_otp_totp_verify(otp, code, now, 2, 2, (int64_t)step, NULL,
                                      NULL)) == MFA_ERR_REPLAYED);
    /* generation itself */
    CHECK(verdict(mfa_otp_totp(otp, now, code, sizeof(code))) == MFA_OK);
    mfa_otp_free(&otp);
}

static void
ct_totp_sha1(void)
{
    totp_case(MFA_SHA1, 6, 20);
}
static void
ct_totp_sha256(void)
{
    totp_case(MFA_SHA256, 8, 32);
}
static void
ct_totp_sha512(void)
{
    totp_case(MFA_SHA512, 10, 64);
}
static void
ct_totp_longkey(void)
{
    /* a key longer than the hash block is hashed first */
    totp_case(MFA_SHA1, 6, 64);
}

static void
ct_hotp(void)
{
    mfa_otp_t *otp = secret_otp(MFA_SHA1, 6, 20);
    char code[MFA_CODE_BUFSIZE];
    uint64_t next = 0;

    if (otp == NULL)
        return;
    CHECK(mfa_otp_set_type(otp, MFA_HOTP) == MFA_OK);
    for (uint64_t at = 0; at <= 10; at += 5) { /* first, middle, last */
        typed_code(otp, 100 + at, code);
        CHECK(verdict(mfa_otp_hotp_verify(otp, code, 100, 10, &next)) ==
              MFA_OK);
        PUBLIC(&next, sizeof(next));
        CHECK(next == 101 + at);
    }
    wrong_code(otp, 100, code);
    CHECK(verdict(mfa_otp_hotp_verify(otp, code, 100, 10, &next)) ==
          MFA_ERR_CODE_WRONG);
    mfa_otp_free(&otp);
}

static void
ct_resync(void)
{
    mfa_otp_t *otp = secret_otp(MFA_SHA1, 6, 20);
    char c1[MFA_CODE_BUFSIZE], c2[MFA_CODE_BUFSIZE];
    uint64_t next = 0;

    if (otp == NULL)
        return;
    CHECK(mfa_otp_set_type(otp, MFA_HOTP) == MFA_OK);
    typed_code(otp, 57, c1);
    typed_code(otp, 58, c2);
    CHECK(verdict(mfa_otp_hotp_resync(otp, c1, c2, 40, 30, &next)) == MFA_OK);
    PUBLIC(&next, sizeof(next));
    CHECK(next == 59);
    CHECK(verdict(mfa_otp_hotp_resync(otp, c2, c1, 40, 30, &next)) != MFA_OK);
    mfa_otp_free(&otp);
}

/* ---- base32 reading of secrets ------------------------------------------ */

static void
base32_case(const char *text, size_t want_len, int grouped)
{
    char buf[MFA_BASE32_INPUT_MAX + 1];
    uint8_t out[MFA_BASE32_INPUT_MAX];
    mfa_secret_t *s = NULL;
    size_t n = 0, len = strlen(text);

    memcpy(buf, text, len + 1);
    /* the characters are secret; only the NUL ending them is not */
    SECRET(buf, len);
    CHECK(verdict(mfa_base32_decode(buf, out, sizeof(out), &n)) == MFA_OK);
    PUBLIC(&n, sizeof(n));
    CHECK(n == want_len);
    /* the manual-entry reader, with its 0 -> O and 1 -> I mapping */
    n = 0;
    CHECK(verdict(mfa_base32_decode_typed(buf, out, sizeof(out), &n)) ==
          MFA_OK);
    PUBLIC(&n, sizeof(n));
    CHECK(n == want_len);
    CHECK(verdict(mfa_secret_from_base32(&s, buf, MFA_SECRET_LEGACY)) ==
          MFA_OK);
    if (s != NULL) {
        char *again = NULL;
        /* and writing it back */
        CHECK(verdict(grouped ? mfa_secret_grouped(s, &again)
                              : mfa_secret_base32(s, &again)) == MFA_OK);
        mfa_string_free(&again);
    }
    mfa_secret_free(&s);
}

/* A typed key with 0 and 1 in it: the strict reader refuses it, the
 * manual-entry reader maps them, neither branches on which characters. */
static void
typed_case(const char *text, size_t want_len)
{
    char buf[MFA_BASE32_INPUT_MAX + 1];
    uint8_t out[MFA_BASE32_INPUT_MAX];
    size_t n = 0, len = strlen(text);

    memcpy(buf, text, len + 1);
    SECRET(buf, len);
    CHECK(verdict(mfa_base32_decode(buf, out, sizeof(out), &n)) ==
          MFA_ERR_BASE32_CHAR);
    CHECK(verdict(mfa_base32_decode_typed(buf, out, sizeof(out), &n)) ==
          MFA_OK);
    PUBLIC(&n, sizeof(n));
    CHECK(n == want_len);
}

static void
ct_base32(void)
{
    base32_case("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", 20, 0);
    base32_case("jbsw y3dp ehpk 3pxp", 10, 1);
    base32_case("GEZD-GNBV-GY3T-QOJQ-GEZD-GNBV-GY3T-QOJQ======", 20, 0);
    typed_case("GEZDGNBVGY3TQ0JQGEZDGNBVGY3TQOJ1", 20);
    typed_case("mzxw 6ytb 01", 6);
}

/* ---- key ring: backup codes, out-of-band codes, sealing ------------------ */

static mfa_keyring_t *
secret_ring(void)
{
    uint8_t key[MFA_KEYRING_KEYBYTES];
    mfa_keyring_t *kr = NULL;

    CHECK(mfa_keyring_new(&kr) == MFA_OK);
    if (kr == NULL)
        return NULL;
    for (uint32_t id = 1; id <= 2; id++) {
        fill(key, sizeof(key), (uint8_t)(0xa0 + id));
        SECRET(key, sizeof(key));
        CHECK(verdict(mfa_keyring_add(kr, id, key, id == 2)) == MFA_OK);
    }
    return kr;
}

static void
ct_backup(void)
{
    static const char *typed[4] = {"7K3M-9QXD-2VBN", "ABCD-EFGH-JKMN",
                                   "0123-4567-89AB", "ZZZZ-YYYY-XXXX"};
    uint8_t set[4][MFA_BACKUP_HASHBYTES], h[MFA_BACKUP_HASHBYTES];
    mfa_keyring_t *kr = secret_ring();
    size_t idx = 99;

    if (kr == NULL)
        return;
    for (size_t i = 0; i < 4; i++)
        CHECK(verdict(mfa_backup_hash(kr, 0, typed[i], set[i])) == MFA_OK);
    SECRET(set, sizeof(set)); /* stored hashes: secret as the keys */
    /* a typed code: public text, hashed under a secret key; the match at
     * the first, a middle and the last position, and none */
    for (size_t i = 0; i < 4; i += 3) {
        CHECK(verdict(mfa_backup_hash(kr, 0, typed[i], h)) == MFA_OK);
        CHECK(verdict(mfa_backup_match(h, (const uint8_t(*)[32])set, 4,
                                       &idx)) == MFA_OK);
        PUBLIC(&idx, sizeof(idx));
        CHECK(idx == i);
    }
    /* "7k3m 9qxd 2vbn" folds to the first code */
    CHECK(verdict(mfa_backup_hash(kr, 0, "7k3m 9qxd 2vbn", h)) == MFA_OK);
    CHECK(verdict(mfa_backup_match(h, (const uint8_t(*)[32])set, 4, &idx)) ==
          MFA_OK);
    CHECK(verdict(mfa_backup_hash(kr, 0, "7K3M-9QXD-2VBP", h)) == MFA_OK);
    CHECK(verdict(mfa_backup_match(h, (const uint8_t(*)[32])set, 4, &idx)) ==
          MFA_ERR_CODE_WRONG);
    mfa_keyring_free(&kr);
}

static void
ct_oob(void)
{
    mfa_keyring_t *kr = secret_ring();
    mfa_oob_challenge c;
    char code[16], wrong[16];

    if (kr == NULL)
        return;
    CHECK(verdict(mfa_oob_challenge_new(kr, "alice", "sms", 6, 1000, 0, 0, &c,
                                        code, sizeof(code))) == MFA_OK);
    /* the stored hash is secret; the code reaches the user and comes back
     * typed, public */
    SECRET(c.hash, sizeof(c.hash));
    PUBLIC(code, sizeof(code));
    memcpy(wrong, code, sizeof(code));
    wrong[5] = wrong[5] == '9' ? '0' : (char)(wrong[5] + 1);
    CHECK(verdict(mfa_oob_challenge_check(kr, "alice", &c, wrong, 1001)) ==
          MFA_ERR_CODE_WRONG);
    CHECK(verdict(mfa_oob_challenge_check(kr, "alice", &c, code, 1002)) ==
          MFA_OK);
    CHECK(verdict(mfa_oob_challenge_check(kr, "bob", &c, code, 1003)) ==
          MFA_ERR_CODE_WRONG);
    mfa_keyring_free(&kr);
}

static void
ct_sealed(void)
{
    uint8_t bytes[20], blob[MFA_SEALED_MAX], blob2[MFA_SEALED_MAX];
    mfa_keyring_t *kr = secret_ring();
    mfa_secret_t *s = NULL, *back = NULL;
    size_t len = 0, len2 = 0;

    if (kr == NULL)
        return;
    fill(bytes, sizeof(bytes), 7);
    SECRET(bytes, sizeof(bytes));
    CHECK(verdict(mfa_secret_import(&s, bytes, sizeof(bytes), 0)) == MFA_OK);
    CHECK(verdict(mfa_seal(kr, "alice", "f1", s, blob, sizeof(blob), &len)) ==
          MFA_OK);
    PUBLIC(&len, sizeof(len));
    /* the blob is what the database holds: public */
    PUBLIC(blob, len);
    CHECK(verdict(mfa_unseal(kr, "alice", "f1", blob, len, &back)) == MFA_OK);
    CHECK(back != NULL && mfa_secret_len(back) == 20);
    mfa_secret_free(&back);
    /* another row, a flipped ciphertext bit, a flipped tag bit */
    CHECK(verdict(mfa_unseal(kr, "alice", "f2", blob, len, &back)) ==
          MFA_ERR_SEALED_AUTH);
    blob[30] ^= 1;
    CHECK(verdict(mfa_unseal(kr, "alice", "f1", blob, len, &back)) ==
          MFA_ERR_SEALED_AUTH);
    blob[30] ^= 1;
    blob[len - 1] ^= 0x80;
    CHECK(verdict(mfa_unseal(kr, "alice", "f1", blob, len, &back)) ==
          MFA_ERR_SEALED_AUTH);
    blob[len - 1] ^= 0x80;
    /* resealing under the current key */
    CHECK(verdict(mfa_reseal(kr, "alice", "f1", blob, len, blob2, sizeof(blob2),
                             &len2)) == MFA_OK);
    CHECK(back == NULL);
    mfa_secret_free(&s);
    mfa_keyring_free(&kr);
}

/* ---- the whole login path ------------------------------------------------ */

static int64_t ct_now = 1111111109;

static int64_t
ct_clock(void *arg)
{
    (void)arg;
    return ct_now;
}

/* Enrollment, confirmation and login through mfa_ctx over the memory
 * store: the sealed secret is opened with secret ring keys into the
 * service's scratch, and verified there. */
static void
ct_service(void)
{
    mfa_keyring_t *kr = secret_ring();
    mfa_store_t *st = NULL;
    mfa_ctx_t *ctx = NULL;
    mfa_enrollment_t *e = NULL;
    mfa_secret_t *s = NULL;
    mfa_otp_t *otp = NULL;
    mfa_result res;
    char code[MFA_CODE_BUFSIZE], fid[MFA_FACTOR_ID_LEN + 1];

    if (kr == NULL)
        return;
    CHECK(mfa_store_memory_new(&st) == MFA_OK);
    CHECK(st != NULL && mfa_ctx_new(&ctx, st, kr) == MFA_OK);
    if (ctx == NULL)
        goto out;
    mfa_ctx_set_clock(ctx, ct_clock, NULL);
    CHECK(verdict(mfa_enroll_begin(ctx, "alice", "phone", NULL, &e)) == MFA_OK);
    if (e == NULL)
        goto out;
    snprintf(fid, sizeof(fid), "%s", mfa_enrollment_factor_id(e));
    /* the user's app has the secret: the codes it shows are typed */
    CHECK(mfa_secret_from_base32(&s, mfa_enrollment_secret(e), 0) == MFA_OK);
    CHECK(s != NULL &&
          mfa_otp_new(&otp, mfa_secret_bytes(s), mfa_secret_len(s)) == MFA_OK);
    mfa_enrollment_free(&e);
    if (otp == NULL)
        goto out;
    CHECK(verdict(mfa_otp_totp(otp, ct_now, code, sizeof(code))) == MFA_OK);
    PUBLIC(code, sizeof(code));
    CHECK(verdict(mfa_enroll_confirm(ctx, "alice", fid, code, &res)) == MFA_OK);
    ct_now += 30;
    CHECK(verdict(mfa_otp_totp(otp, ct_now, code, sizeof(code))) == MFA_OK);
    PUBLIC(code, sizeof(code));
    CHECK(verdict(mfa_verify(ctx, "alice", code, &res)) == MFA_OK);
    CHECK(verdict(mfa_verify(ctx, "alice", code, &res)) == MFA_ERR_REPLAYED);
    code[0] = code[0] == '9' ? '0' : (char)(code[0] + 1);
    CHECK(verdict(mfa_verify(ctx, "alice", code, &res)) == MFA_ERR_CODE_WRONG);
out:
    mfa_otp_free(&otp);
    mfa_secret_free(&s);
    mfa_ctx_free(&ctx);
    mfa_store_free(&st);
    mfa_keyring_free(&kr);
}

#ifdef CT_WEBAUTHN
/* ---- passkey login --------------------------------------------------------
 */

#define WA_ORIGIN "https://example.com"

/*
 * The memory store behind a pass-through backend whose webauthn_list
 * marks each stored credential id secret (on a copy) while wa_mark is
 * set: the ids reach the flow's comparison as undefined memory.  The
 * record the flow writes back (webauthn_update) is the one that matched
 * the response's public id, and is declassified on the way in.  In canary
 * mode it also compares the marked id with the response's the way
 * liboath compares codes, which memcheck must report.
 */
static const mfa_store_backend *wa_inner;
static mfa_store_backend wa_backend;
static int wa_mark, wa_canary;
static uint8_t wa_sent_id[MFA_WEBAUTHN_CRED_ID_MAX];
static size_t wa_sent_len;

typedef struct wa_list_arg {
    mfa_webauthn_cb cb;
    void *arg;
} wa_list_arg;

__attribute__((noinline)) static int
leaky_bytes_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

static mfa_rc
wa_list_cb(const mfa_webauthn_rec *r, void *arg)
{
    wa_list_arg *w = arg;
    mfa_webauthn_rec copy = *r;

    if (wa_mark) {
        SECRET(copy.cred.id, copy.cred.id_len);
        if (wa_canary && copy.cred.id_len == wa_sent_len)
            printf("  leaky id comparison says %d\n",
                   leaky_bytes_equal(copy.cred.id, wa_sent_id, wa_sent_len));
    }
    return w->cb(&copy, w->arg);
}

static mfa_rc
wa_list(mfa_store_txn *t, const char *account, mfa_webauthn_cb cb, void *arg)
{
    wa_list_arg w = {cb, arg};

    return wa_inner->webauthn_list(t, account, wa_list_cb, &w);
}

/* The flow found the credential and writes it back: its id equals the
 * response's, which is public. */
static mfa_rc
wa_update(mfa_store_txn *t, const char *account, const mfa_webauthn_rec *r)
{
    mfa_webauthn_rec copy = *r;

    PUBLIC(copy.cred.id, sizeof(copy.cred.id));
    return wa_inner->webauthn_update(t, account, &copy);
}

static void
wa_close(void *impl)
{
    (void)impl; /* the memory store underneath closes it */
}

/* The credential id of a response: public, it came from the browser. */
static void
wa_response_id(const char *json)
{
    mfa_webauthn_lookup l;

    CHECK(mfa_webauthn_login_lookup(json, strlen(json), &l) == MFA_OK);
    memcpy(wa_sent_id, l.credential_id, l.credential_id_len);
    wa_sent_len = l.credential_id_len;
}

static mfa_rc
wa_login(mfa_ctx_t *ctx, const char *account, const char *json)
{
    char who[MFA_ACCOUNT_MAX + 1];
    mfa_result res;
    mfa_rc rc;

    wa_response_id(json);
    wa_mark = 1;
    rc = mfa_webauthn_login_finish(ctx, account, json, strlen(json),
                                   account == NULL ? who : NULL, &res);
    wa_mark = 0;
    return verdict(rc);
}

/* A new assertion for a fresh challenge of the login begun for account
 * (NULL: without a name). */
static char *
wa_assertion(mfa_ctx_t *ctx, softauth *sa, const char *account)
{
    char *opts = NULL, *json = NULL;

    CHECK(verdict(mfa_webauthn_login_begin(ctx, account, &opts)) == MFA_OK);
    /* the options go to the browser: public, the challenge with them */
    if (opts != NULL)
        PUBLIC(opts, strlen(opts) + 1);
    CHECK(opts != NULL &&
          softauth_assert(sa, opts, NULL, WA_ORIGIN, &json) == 0);
    mfa_free(opts);
    return json;
}

/*
 * Register a passkey for alice with a secret key ring (the challenge tag
 * is keyed by it), then log in: accepted; the same assertion again
 * (spent); the challenge of a login without a name sent as alice's (a
 * tag that does not match); another passkey's id (every stored id
 * compared, none equal); a login without a name.
 */
static void
wa_case(int canary)
{
    mfa_keyring_t *kr = secret_ring();
    mfa_store_t *mem = NULL, *st = NULL;
    mfa_webauthn_rp_t *rp = NULL;
    mfa_ctx_t *ctx = NULL;
    softauth *sa = NULL, *other = NULL;
    char *opts = NULL, *json = NULL, *again = NULL;
    mfa_result res;

    if (kr == NULL)
        return;
    wa_canary = canary;
    CHECK(mfa_store_memory_new(&mem) == MFA_OK);
    if (mem == NULL)
        goto out;
    wa_inner = mfa_store_backend_of(mem);
    wa_backend = *wa_inner;
    wa_backend.webauthn_list = wa_list;
    wa_backend.webauthn_update = wa_update;
    wa_backend.close = wa_close;
    CHECK(mfa_store_new(&st, &wa_backend, mfa_store_impl_of(mem)) == MFA_OK);
    CHECK(st != NULL && mfa_ctx_new(&ctx, st, kr) == MFA_OK);
    CHECK(mfa_webauthn_rp_new(&rp, "example.com", "Example") == MFA_OK);
    CHECK(softauth_new(&sa, MFA_WEBAUTHN_ES256) == 0);
    CHECK(softauth_new(&other, MFA_WEBAUTHN_ES256) == 0);
    if (ctx == NULL || rp == NULL || sa == NULL || other == NULL)
        goto out;
    mfa_ctx_set_clock(ctx, ct_clock, NULL);
    CHECK(mfa_webauthn_rp_add_origin(rp, WA_ORIGIN) == MFA_OK);
    CHECK(mfa_ctx_set_webauthn(ctx, rp) == MFA_OK);
    CHECK(mfa_ctx_set_devices(ctx, 0, 0) == MFA_OK);
    CHECK(verdict(mfa_webauthn_register_begin(ctx, "alice", NULL, NULL,
                                              &opts)) == MFA_OK);
    if (opts != NULL)
        PUBLIC(opts, strlen(opts) + 1);
    CHECK(opts != NULL &&
          softauth_register(sa, opts, NULL, WA_ORIGIN, &json) == 0);
    mfa_free(opts);
    opts = NULL;
    CHECK(json != NULL &&
          verdict(mfa_webauthn_register_finish(ctx, "alice", "key", json,
                                               strlen(json), &res)) == MFA_OK);
    free(json);
    json = NULL;
    if (canary) {
        /* one login, where the canary compares */
        json = wa_assertion(ctx, sa, "alice");
        if (json != NULL)
            CHECK(wa_login(ctx, "alice", json) == MFA_OK);
        goto out;
    }
    /* accepted, then the same response once more */
    json = wa_assertion(ctx, sa, "alice");
    if (json != NULL) {
        CHECK(wa_login(ctx, "alice", json) == MFA_OK);
        CHECK(wa_login(ctx, "alice", json) == MFA_ERR_REPLAYED);
    }
    free(json);
    /* the challenge of a login begun without a name, answered for alice:
     * its tag is not the one for alice (nor is its kind) */
    json = wa_assertion(ctx, sa, NULL);
    if (json != NULL)
        CHECK(wa_login(ctx, "alice", json) == MFA_ERR_WEBAUTHN_CHALLENGE);
    free(json);
    /* an id alice does not hold, the same length as hers */
    again = wa_assertion(ctx, other, "alice");
    if (again != NULL)
        CHECK(wa_login(ctx, "alice", again) ==
              MFA_ERR_WEBAUTHN_UNKNOWN_CREDENTIAL);
    /* usernameless: the user handle names alice */
    json = wa_assertion(ctx, sa, NULL);
    if (json != NULL)
        CHECK(wa_login(ctx, NULL, json) == MFA_OK);
out:
    free(json);
    free(again);
    softauth_free(&sa);
    softauth_free(&other);
    mfa_ctx_free(&ctx);
    mfa_webauthn_rp_free(&rp);
    mfa_store_free(&st);
    mfa_store_free(&mem);
    mfa_keyring_free(&kr);
}

static void
ct_webauthn(void)
{
    wa_case(0);
}
#endif

/* ---- the canary -----------------------------------------------------------
 */

/* What liboath does: compare codes with an early exit.  memcheck must
 * report it, or this test proves nothing. */
__attribute__((noinline)) static int
leaky_equal(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

static void
ct_canary(void)
{
    mfa_otp_t *otp = secret_otp(MFA_SHA1, 6, 20);
    char expected[MFA_CODE_BUFSIZE];

    if (otp == NULL)
        return;
    CHECK(verdict(mfa_otp_hotp(otp, 1, expected, sizeof(expected))) == MFA_OK);
    /* expected is still secret here */
    printf("  leaky comparison says %d\n",
           leaky_equal(expected, "123456", 6) ? 1 : 0);
    mfa_otp_free(&otp);
}

/* ----------------------------------------------------------------------------
 */

struct ct_case {
    const char *name;
    void (*fn)(void);
};

static const struct ct_case cases[] = {
    {"totp-sha1", ct_totp_sha1},
    {"totp-sha256", ct_totp_sha256},
    {"totp-sha512", ct_totp_sha512},
    {"totp-long-key", ct_totp_longkey},
    {"hotp", ct_hotp},
    {"hotp-resync", ct_resync},
    {"base32-secret", ct_base32},
    {"backup-codes", ct_backup},
    {"oob-codes", ct_oob},
    {"sealed-secret", ct_sealed},
    {"service-login", ct_service},
#ifdef CT_WEBAUTHN
    {"passkey-login", ct_webauthn},
#endif
};

static int
run(const struct ct_case *c, unsigned *passed, unsigned *failed)
{
    unsigned long before = VALGRIND_COUNT_ERRORS, errors;

    case_ok = 1;
    c->fn();
    errors = VALGRIND_COUNT_ERRORS - before;
    if (case_ok && errors == 0) {
        printf("ok   %s\n", c->name);
        (*passed)++;
        return 1;
    }
    printf("FAIL %s: %lu memcheck error(s)%s\n", c->name, errors,
           case_ok ? "" : ", wrong results");
    (*failed)++;
    return 0;
}

int
main(int argc, char **argv)
{
    unsigned passed = 0, failed = 0;
    const char *only = NULL;

    if (!RUNNING_ON_VALGRIND) {
        printf("skipped: not under valgrind (memcheck): run meson test "
               "--suite ct, which runs it there (apt-get install valgrind)\n");
        return 77;
    }
    if (sodium_init() < 0)
        return 1;
    if (argc > 1 && (strcmp(argv[1], "--canary") == 0 ||
                     strcmp(argv[1], "--canary-webauthn") == 0 ||
                     strcmp(argv[1], "--canary-crash") == 0)) {
        unsigned long before = VALGRIND_COUNT_ERRORS, n;

        /* the check of the check: a canary that crashes before its
         * comparison (as a broken library would) must not pass for a
         * caught one (tests/ct/canary.sh) */
        if (strcmp(argv[1], "--canary-crash") == 0)
            abort();
        case_ok = 1;
#ifdef CT_WEBAUTHN
        if (strcmp(argv[1], "--canary-webauthn") == 0)
            wa_case(1);
        else
#endif
            ct_canary();
        n = VALGRIND_COUNT_ERRORS - before;
        printf("canary: %lu memcheck error(s) in the leaky comparison (%s)\n",
               n, n > 0 ? "caught, as it must be" : "NOT CAUGHT");
        /* memcheck's exit code is the verdict: CT_CANARY_EXIT (set with
         * --error-exitcode) when caught, 3 when not, a signal on a crash */
        return n > 0 && case_ok ? 0 : 3;
    }
    if (argc > 1)
        only = argv[1];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (only == NULL || strcmp(only, cases[i].name) == 0)
            run(&cases[i], &passed, &failed);
    printf("%u passed, %u failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
