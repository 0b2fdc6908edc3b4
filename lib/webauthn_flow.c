/*
 * The passkey service flows (mfa/webauthn.h, "the service flows"): passkeys
 * and security keys as factors of an account, with the ctx's store, key
 * ring, clock, throttle and events.
 *
 * Challenges are stateless: 45 bytes that the ctx makes and authenticates
 * with its key ring,
 *
 *   kind (1) | ring key id (4, BE) | expires (8, BE, Unix s) | nonce (16)
 *   | tag (16)
 *
 * kind 1 a registration, 2 a login for an account, 3 a login without a
 * name; tag = keyed BLAKE2b-128 (the ring key's backup subkey, personal
 * "mfa-wa-chal1") over the first 29 bytes and the account ("" for kind 3),
 * each part length-prefixed.  A begin writes nothing for its challenge (an
 * anonymous login begin touches no store at all); a finish checks the tag
 * in constant time, the kind, the account and the expiry, and spends the
 * nonce (webauthn_spend) in its one write transaction: a nonce spent
 * already is MFA_ERR_REPLAYED.  mfa_gc drops spent nonces past their
 * challenge's expiry, when the challenge is refused for that alone.
 *
 * A login finish is one mfa_int_attempt() like mfa_verify.  The response
 * is parsed once, and its clientDataJSON checked (type, challenge, origin,
 * crossOrigin), before the store is touched: a response that does not
 * parse, of the wrong type, or whose challenge this ctx did not make for
 * this account and kind, is refused with nothing counted or written; every
 * other refusal (origin, rp id, flags, signature, unknown credential, user
 * handle, expired, replayed, cloned) is an attempt counted in the bucket of
 * the account or of its known device.  Registration is not throttled (the
 * user is logged in) and writes only when it succeeds.
 *
 * Built without libfido2, libcbor or json-c, every function here returns
 * MFA_ERR_UNSUPPORTED.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <mfa/store-backend.h>
#include <mfa/webauthn.h>

#include "config.h"
#include "service_int.h"

#if MFA_HAVE_WEBAUTHN

#include "ct.h"
#include "internal.h"
#include "keyring.h"
#include "store/txn.h"
#include "text.h"
#include "webauthn_int.h"

#define CH_LEN MFA_WEBAUTHN_FLOW_CHALLENGE_LEN
#define CH_SIGNED 29 /* kind, key id, expires, nonce */
#define CH_TAG 16
#define CH_OFF_KID 1
#define CH_OFF_EXPIRES 5
#define CH_OFF_NONCE 13
_Static_assert(CH_OFF_NONCE + MFA_WEBAUTHN_NONCE_BYTES == CH_SIGNED,
               "challenge layout");
_Static_assert(CH_SIGNED + CH_TAG == CH_LEN, "challenge length");
_Static_assert(CH_LEN >= MFA_WEBAUTHN_CHALLENGE_MIN &&
                   CH_LEN <= MFA_WEBAUTHN_CHALLENGE_MAX,
               "challenge within the core's limits");
_Static_assert(MFA_WEBAUTHN_CREDS_MAX <= MFA_WEBAUTHN_LIST_MAX,
               "every passkey fits a descriptor list");

enum ch_kind { CH_REGISTER = 1, CH_LOGIN = 2, CH_LOGIN_ANY = 3 };

static const unsigned char
    ch_personal[crypto_generichash_blake2b_PERSONALBYTES] = "mfa-wa-chal1";

#define USER_HANDLE_BYTES 16 /* random, made on the first registration */
#define ID_TRIES 4

/* ---- challenges ---------------------------------------------------------- */

static void
put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static uint64_t
get_be(const uint8_t *p, int n)
{
    uint64_t v = 0;

    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static void
hash_part(crypto_generichash_blake2b_state *st, const void *p, size_t n)
{
    uint8_t len[8];

    put_be(len, (uint64_t)n, 8);
    crypto_generichash_blake2b_update(st, len, sizeof(len));
    crypto_generichash_blake2b_update(st, p, n);
}

/* The tag of head[0..CH_SIGNED) for account under the ring key's subkey. */
static mfa_rc
ch_tag(const uint8_t *key, const uint8_t *head, const char *account,
       uint8_t tag[CH_TAG])
{
    crypto_generichash_blake2b_state st;

    if (crypto_generichash_blake2b_init_salt_personal(
            &st, key, MFA_KEYRING_KEYBYTES, CH_TAG, NULL, ch_personal) != 0)
        return MFA_ERR_INTERNAL;
    hash_part(&st, head, CH_SIGNED);
    hash_part(&st, account, strlen(account));
    crypto_generichash_blake2b_final(&st, tag, CH_TAG);
    sodium_memzero(&st, sizeof(st));
    return MFA_OK;
}

/* The challenge's lifetime: the rp's timeout, rounded up to seconds. */
static int64_t
ch_lifetime(const mfa_webauthn_rp_t *rp)
{
    return ((int64_t)rp->timeout_ms + 999) / 1000;
}

/* A fresh challenge of kind for account ("" for CH_LOGIN_ANY) at now. */
static mfa_rc
ch_make(const mfa_ctx_t *ctx, enum ch_kind kind, const char *account,
        int64_t now, uint8_t out[CH_LEN])
{
    const uint8_t *key = NULL;
    uint32_t kid = 0;
    mfa_rc rc;

    rc = mfa_int_keyring_subkey_ref(ctx->kr, 0, MFA_INT_KEY_BACKUP, &key, &kid);
    if (rc != MFA_OK)
        return rc;
    out[0] = (uint8_t)kind;
    put_be(out + CH_OFF_KID, kid, 4);
    put_be(out + CH_OFF_EXPIRES, (uint64_t)(now + ch_lifetime(ctx->webauthn)),
           8);
    randombytes_buf(out + CH_OFF_NONCE, MFA_WEBAUTHN_NONCE_BYTES);
    return ch_tag(key, out, account, out + CH_SIGNED);
}

/* What a finish expects of the challenge, and what it keeps of it. */
typedef struct ch_check {
    const mfa_ctx_t *ctx;
    enum ch_kind kind;
    const char *account; /* "" for CH_LOGIN_ANY */
    int64_t now;
    uint8_t nonce[MFA_WEBAUTHN_NONCE_BYTES];
    int64_t expires;
} ch_check;

/*
 * The challenge decision of mfa_int_wa_client_data_check_with: one this
 * ctx made (the tag, in constant time), of the kind and for the account
 * expected; MFA_ERR_WEBAUTHN_CHALLENGE otherwise.  MFA_ERR_EXPIRED when it
 * is ours but past its expiry.
 */
static mfa_rc
ch_verify(const uint8_t *got, size_t got_len, void *arg)
{
    ch_check *c = arg;
    uint8_t tag[CH_TAG];
    const uint8_t *key = NULL;
    int64_t expires;
    int eq;

    if (got_len != CH_LEN)
        return MFA_ERR_WEBAUTHN_CHALLENGE; /* its length is public */
    /* a key that left the ring: a challenge we can no longer vouch for */
    if (mfa_int_keyring_subkey_ref(c->ctx->kr,
                                   (uint32_t)get_be(got + CH_OFF_KID, 4),
                                   MFA_INT_KEY_BACKUP, &key, NULL) != MFA_OK ||
        ch_tag(key, got, c->account, tag) != MFA_OK)
        return MFA_ERR_WEBAUTHN_CHALLENGE;
    eq = crypto_verify_16(tag, got + CH_SIGNED) == 0;
    sodium_memzero(tag, sizeof(tag));
    MFA_CT_PUBLIC(eq); /* the verdict */
    if (!eq || got[0] != (uint8_t)c->kind)
        return MFA_ERR_WEBAUTHN_CHALLENGE;
    expires = (int64_t)get_be(got + CH_OFF_EXPIRES, 8);
    memcpy(c->nonce, got + CH_OFF_NONCE, MFA_WEBAUTHN_NONCE_BYTES);
    c->expires = expires;
    if (expires < 0 || c->now > expires)
        return MFA_ERR_EXPIRED;
    return MFA_OK;
}

/* The refusals of a response decided before anything is counted: it does
 * not parse, is of the wrong type, or answers a challenge that is not
 * ours for this account and kind. */
static int
refused_uncounted(mfa_rc rc)
{
    return rc == MFA_ERR_WEBAUTHN_JSON || rc == MFA_ERR_WEBAUTHN_TYPE ||
           rc == MFA_ERR_WEBAUTHN_CHALLENGE || rc == MFA_ERR_WEBAUTHN_TOO_LARGE;
}

/* ---- common checks ------------------------------------------------------- */

/* The ctx and its rp; the flow's error otherwise. */
static mfa_rc
ctx_ready(const mfa_ctx_t *ctx)
{
    if (ctx == NULL)
        return MFA_ERR_INVALID;
    return ctx->webauthn != NULL ? MFA_OK : MFA_ERR_STATE;
}

/* Constant-time equality of a credential id with a stored one: every
 * byte of want is looked at whatever differs (got's length is public). */
static int
cred_id_eq(const mfa_webauthn_credential *c, const uint8_t *got, size_t len)
{
    int eq = mfa_int_ct_equal(c->id, got, len) & (c->id_len == len);

    MFA_CT_PUBLIC(eq);
    return eq;
}

static void
descriptors_of(const mfa_webauthn_rec *recs, size_t n,
               mfa_webauthn_descriptor *d)
{
    for (size_t i = 0; i < n; i++) {
        d[i].id = recs[i].cred.id;
        d[i].id_len = recs[i].cred.id_len;
        d[i].transports = recs[i].cred.transports;
    }
}

/* The account's passkeys read into a fixed array (oldest first); n_all
 * counts them all, also past the array. */
typedef struct cred_set {
    mfa_webauthn_rec v[MFA_WEBAUTHN_CREDS_MAX];
    size_t n, n_all;
} cred_set;

static mfa_rc
set_push(const mfa_webauthn_rec *r, void *arg)
{
    cred_set *cs = arg;

    if (cs->n < MFA_WEBAUTHN_CREDS_MAX)
        cs->v[cs->n++] = *r;
    cs->n_all++;
    return MFA_OK;
}

static mfa_rc
read_creds(mfa_int_txn *x, cred_set *cs)
{
    cs->n = cs->n_all = 0;
    return mfa_int_txn_webauthn_list(x, set_push, cs);
}

/* ---- configuration ------------------------------------------------------- */

mfa_rc
mfa_ctx_set_webauthn(mfa_ctx_t *ctx, const mfa_webauthn_rp_t *rp)
{
    if (ctx == NULL)
        return MFA_ERR_INVALID;
    ctx->webauthn = rp;
    return MFA_OK;
}

/* ---- registration -------------------------------------------------------- */

typedef struct reg_begin_arg {
    uint8_t handle[MFA_WEBAUTHN_USER_HANDLE_MAX];
    size_t handle_len;
    int64_t now;
    cred_set cs;
} reg_begin_arg;

/* The account's user handle and passkeys; in a write transaction the
 * handle is made when the account has none. */
static mfa_rc
reg_begin_body(mfa_int_txn *x, int make, reg_begin_arg *a)
{
    mfa_rc rc = mfa_int_txn_webauthn_handle_get(x, a->handle, &a->handle_len);

    if (rc == MFA_ERR_NOT_FOUND && make) {
        rc = MFA_ERR_EXISTS;
        /* 128 random bits: taken by another account only if the RNG is
         * broken; tried again all the same */
        for (int t = 0; t < ID_TRIES && rc == MFA_ERR_EXISTS; t++) {
            randombytes_buf(a->handle, USER_HANDLE_BYTES);
            a->handle_len = USER_HANDLE_BYTES;
            rc = mfa_int_txn_webauthn_handle_put(x, a->handle, a->handle_len,
                                                 a->now);
        }
    }
    if (rc == MFA_ERR_NOT_FOUND) {
        a->handle_len = 0; /* none yet: made in a write transaction */
        rc = MFA_OK;
    }
    if (rc == MFA_OK)
        rc = read_creds(x, &a->cs);
    return rc;
}

static mfa_rc
reg_begin_txn(const mfa_ctx_t *ctx, const char *account, mfa_txn_mode mode,
              reg_begin_arg *a)
{
    mfa_int_txn x;
    mfa_rc rc = mfa_int_txn_begin(ctx->store, account, mode, &x);

    if (rc != MFA_OK)
        return rc;
    rc = reg_begin_body(&x, mode == MFA_TXN_WRITE, a);
    if (rc != MFA_OK) {
        mfa_int_txn_rollback(&x);
        return rc;
    }
    return mfa_int_txn_commit(&x);
}

mfa_rc
mfa_webauthn_register_begin(mfa_ctx_t *ctx, const char *account,
                            const char *user_name, const char *display_name,
                            char **options_json)
{
    mfa_webauthn_descriptor d[MFA_WEBAUTHN_CREDS_MAX];
    uint8_t ch[CH_LEN];
    reg_begin_arg *a = NULL;
    int64_t now = 0;
    mfa_rc rc;

    if (options_json == NULL)
        return MFA_ERR_INVALID;
    *options_json = NULL;
    if ((rc = ctx_ready(ctx)) != MFA_OK)
        return rc;
    now = mfa_int_ctx_now(ctx);
    if ((rc = mfa_int_check_account(account)) != MFA_OK)
        return rc;
    if (user_name == NULL)
        user_name = account;
    if (display_name == NULL)
        display_name = account;
    if ((rc = mfa_int_text_field(user_name, MFA_WEBAUTHN_NAME_MAX, 1)) !=
            MFA_OK ||
        (rc = mfa_int_text_field(display_name, MFA_WEBAUTHN_NAME_MAX, 1)) !=
            MFA_OK ||
        (rc = mfa_int_check_now(now)) != MFA_OK)
        return rc;
    if (mfa_keyring_current(ctx->kr) == 0)
        return MFA_ERR_KEYRING_EMPTY;
    a = malloc(sizeof(*a));
    if (a == NULL)
        return MFA_ERR_NOMEM;
    a->now = now;
    /* read only; one commit when the account gets its user handle */
    rc = reg_begin_txn(ctx, account, MFA_TXN_READ, a);
    if (rc == MFA_OK && a->handle_len == 0)
        rc = reg_begin_txn(ctx, account, MFA_TXN_WRITE, a);
    if (rc == MFA_OK && a->cs.n_all >= MFA_WEBAUTHN_CREDS_MAX)
        rc = MFA_ERR_EXISTS;
    if (rc == MFA_OK)
        rc = ch_make(ctx, CH_REGISTER, account, now, ch);
    if (rc == MFA_OK) {
        descriptors_of(a->cs.v, a->cs.n, d);
        rc = mfa_webauthn_register_options(
            ctx->webauthn, a->handle, a->handle_len, user_name, display_name,
            ch, sizeof(ch), d, a->cs.n, options_json);
    }
    if (mfa_int_is_store_error(rc))
        mfa_int_ctx_emit(ctx, MFA_EV_STORE_ERROR, account, NULL, rc, now, 0);
    sodium_memzero(ch, sizeof(ch));
    free(a);
    return rc;
}

typedef struct reg_finish_arg {
    mfa_webauthn_rec rec; /* filled but for the user handle and id */
    const ch_check *ch;
} reg_finish_arg;

/* The one write of a registration: the user handle, the cap, the
 * challenge spent, the credential inserted; any refusal rolls it all
 * back. */
static mfa_rc
reg_finish_body(mfa_int_txn *x, reg_finish_arg *a)
{
    mfa_webauthn_credential *c = &a->rec.cred;
    cred_set *cs = NULL;
    mfa_factor_rec f;
    size_t expired = 0;
    int dup = 0;
    mfa_rc rc;

    rc =
        mfa_int_txn_webauthn_handle_get(x, c->user_handle, &c->user_handle_len);
    if (rc == MFA_ERR_NOT_FOUND)
        rc = MFA_ERR_STATE; /* reset since begin: no handle to register to */
    if (rc != MFA_OK)
        return rc;
    rc = mfa_int_txn_webauthn_spent_expire(x, a->ch->now, &expired);
    if (rc != MFA_OK)
        return rc;
    rc = mfa_int_txn_webauthn_spend(x, a->ch->nonce, a->ch->expires);
    if (rc == MFA_ERR_EXISTS)
        return MFA_ERR_REPLAYED;
    if (rc != MFA_OK)
        return rc;
    cs = malloc(sizeof(*cs));
    if (cs == NULL)
        return MFA_ERR_NOMEM;
    rc = read_creds(x, cs);
    for (size_t i = 0; rc == MFA_OK && i < cs->n; i++)
        dup |= cred_id_eq(&cs->v[i].cred, c->id, c->id_len);
    if (rc == MFA_OK && (dup || cs->n_all >= MFA_WEBAUTHN_CREDS_MAX))
        rc = MFA_ERR_EXISTS;
    free(cs);
    if (rc != MFA_OK)
        return rc;
    /* a fresh id of the factor namespace; a taken one (64 random bits:
     * an RNG fault) is tried again, and so is EXISTS from the insert,
     * which also means that another account holds the credential id */
    rc = MFA_ERR_EXISTS;
    for (int t = 0; t < ID_TRIES && rc == MFA_ERR_EXISTS; t++) {
        mfa_int_new_factor_id(a->rec.factor_id);
        rc = mfa_int_txn_factor_get(x, a->rec.factor_id, &f);
        if (rc == MFA_OK) {
            rc = MFA_ERR_EXISTS;
            continue;
        }
        if (rc != MFA_ERR_NOT_FOUND)
            break;
        rc = mfa_int_txn_webauthn_insert(x, &a->rec);
        if (rc == MFA_ERR_EXISTS && t >= 1)
            break; /* twice: the credential id is taken */
    }
    sodium_memzero(&f, sizeof(f));
    return rc;
}

mfa_rc
mfa_webauthn_register_finish(mfa_ctx_t *ctx, const char *account,
                             const char *label, const char *response,
                             size_t response_len, mfa_result *res)
{
    struct mfa_int_wa_response *r = NULL;
    reg_finish_arg *a = NULL;
    mfa_result local;
    ch_check ch;
    mfa_int_txn x;
    int64_t now;
    mfa_rc rc;

    if (res == NULL)
        res = &local;
    memset(res, 0, sizeof(*res));
    if ((rc = ctx_ready(ctx)) != MFA_OK)
        return res->outcome = rc;
    now = mfa_int_ctx_now(ctx);
    if ((rc = mfa_int_check_account(account)) != MFA_OK) {
        mfa_int_ctx_emit(ctx, MFA_EV_WEBAUTHN_FAIL, NULL, NULL, rc, now, 0);
        return res->outcome = rc;
    }
    if (label == NULL)
        label = "";
    if ((rc = mfa_int_text_field(label, MFA_LABEL_MAX, 0)) != MFA_OK ||
        (rc = mfa_int_check_now(now)) != MFA_OK)
        goto done;
    if (response == NULL) {
        rc = MFA_ERR_INVALID;
        goto done;
    }
    r = malloc(sizeof(*r));
    a = calloc(1, sizeof(*a));
    if (r == NULL || a == NULL) {
        rc = MFA_ERR_NOMEM;
        goto done;
    }
    r->att_object = NULL;
    /* everything that can refuse the response runs before the store */
    rc =
        mfa_int_wa_response_parse(response, response_len, MFA_INT_WA_CREATE, r);
    if (rc != MFA_OK)
        goto done;
    ch.ctx = ctx;
    ch.kind = CH_REGISTER;
    ch.account = account;
    ch.now = now;
    rc = mfa_int_wa_client_data_check_with(ctx->webauthn, MFA_INT_WA_CREATE,
                                           ch_verify, &ch, r->client_data,
                                           r->client_data_len);
    if (rc != MFA_OK)
        goto done;
    /* libfido2 hashes clientDataJSON (SHA-256) for the signatures */
    rc = mfa_int_wa_attestation_verify(
        ctx->webauthn, r->att_object, r->att_object_len, r->client_data,
        r->client_data_len, r->raw_id, r->raw_id_len, &a->rec.cred);
    if (rc != MFA_OK)
        goto done;
    a->rec.cred.transports = r->transports;
    memcpy(a->rec.label, label, strlen(label) + 1);
    a->rec.created = now;
    a->rec.last_used = 0;
    a->ch = &ch;

    rc = mfa_int_txn_begin(ctx->store, account, MFA_TXN_WRITE, &x);
    if (rc != MFA_OK)
        goto done;
    rc = reg_finish_body(&x, a);
    if (rc != MFA_OK) {
        mfa_int_txn_rollback(&x);
        goto done;
    }
    /* nothing leaves the library before the commit */
    if ((rc = mfa_int_txn_commit(&x)) == MFA_OK)
        memcpy(res->factor_id, a->rec.factor_id, sizeof(res->factor_id));

done:
    mfa_int_ctx_emit_rc(ctx,
                        rc == MFA_OK             ? MFA_EV_WEBAUTHN_REGISTER
                        : rc == MFA_ERR_REPLAYED ? MFA_EV_REPLAY
                                                 : MFA_EV_WEBAUTHN_FAIL,
                        account, rc == MFA_OK ? res->factor_id : NULL, rc, now,
                        0);
    if (r != NULL) {
        mfa_int_wa_response_clear(r);
        free(r);
    }
    free(a);
    sodium_memzero(&ch, sizeof(ch));
    return res->outcome = rc;
}

/* ---- login --------------------------------------------------------------- */

typedef struct login_begin_arg {
    cred_set cs;
} login_begin_arg;

mfa_rc
mfa_webauthn_login_begin(mfa_ctx_t *ctx, const char *account,
                         char **options_json)
{
    mfa_webauthn_descriptor d[MFA_WEBAUTHN_CREDS_MAX];
    login_begin_arg *a = NULL;
    uint8_t ch[CH_LEN];
    size_t n = 0;
    int64_t now;
    mfa_rc rc;

    if (options_json == NULL)
        return MFA_ERR_INVALID;
    *options_json = NULL;
    if ((rc = ctx_ready(ctx)) != MFA_OK)
        return rc;
    now = mfa_int_ctx_now(ctx);
    if (account != NULL && (rc = mfa_int_check_account(account)) != MFA_OK)
        return rc;
    if ((rc = mfa_int_check_now(now)) != MFA_OK)
        return rc;
    if (account != NULL) {
        mfa_int_txn x;

        a = malloc(sizeof(*a));
        if (a == NULL)
            return MFA_ERR_NOMEM;
        rc = mfa_int_txn_begin(ctx->store, account, MFA_TXN_READ, &x);
        if (rc == MFA_OK) {
            rc = read_creds(&x, &a->cs);
            if (rc == MFA_OK)
                rc = mfa_int_txn_commit(&x);
            else
                mfa_int_txn_rollback(&x);
        }
        if (rc == MFA_OK && a->cs.n == 0)
            rc = MFA_ERR_NO_FACTOR;
        if (rc == MFA_OK) {
            n = a->cs.n;
            descriptors_of(a->cs.v, n, d);
        }
    }
    /* a login without a name: no store access at all */
    if (rc == MFA_OK)
        rc = ch_make(ctx, account != NULL ? CH_LOGIN : CH_LOGIN_ANY,
                     account != NULL ? account : "", now, ch);
    if (rc == MFA_OK)
        rc = mfa_webauthn_login_options(ctx->webauthn, ch, sizeof(ch), d, n,
                                        options_json);
    if (mfa_int_is_store_error(rc))
        mfa_int_ctx_emit(ctx, MFA_EV_STORE_ERROR, account, NULL, rc, now, 0);
    sodium_memzero(ch, sizeof(ch));
    free(a);
    return rc;
}

/* A login's state: the response parsed once, the challenge's verdict,
 * and the credential found for it. */
typedef struct login_arg {
    struct mfa_int_wa_response r;
    ch_check ch;
    mfa_rc cd_rc; /* the clientDataJSON's verdict, counted */
    mfa_webauthn_rec found;
    size_t n, hits;
    char factor_id[MFA_FACTOR_ID_LEN + 1]; /* for the events */
} login_arg;

/* Every credential of the account compared with the response's raw id,
 * in constant time, whatever matched before. */
static mfa_rc
find_push(const mfa_webauthn_rec *rec, void *arg)
{
    login_arg *la = arg;
    int eq = cred_id_eq(&rec->cred, la->r.raw_id, la->r.raw_id_len);

    la->n++;
    if (eq) {
        la->found = *rec;
        la->hits++;
    }
    return MFA_OK;
}

static mfa_rc
login_check(const mfa_ctx_t *ctx, mfa_int_txn *x, int64_t now, mfa_result *res,
            void *arg)
{
    login_arg *la = arg;
    mfa_webauthn_credential *c = &la->found.cred;
    uint32_t count = 0;
    size_t expired = 0;
    unsigned flags = 0;
    int eq;
    mfa_rc rc;

    if (la->cd_rc != MFA_OK)
        return la->cd_rc; /* origin, cross-origin, expired */
    la->n = la->hits = 0;
    rc = mfa_int_txn_webauthn_list(x, find_push, la);
    if (rc != MFA_OK)
        return rc;
    if (la->n == 0)
        return MFA_ERR_NO_FACTOR;
    if (la->hits != 1)
        return la->hits == 0 ? MFA_ERR_WEBAUTHN_UNKNOWN_CREDENTIAL
                             : MFA_ERR_CORRUPT; /* ids are unique */
    memcpy(la->factor_id, la->found.factor_id, sizeof(la->factor_id));
    rc = mfa_int_wa_assertion_verify(
        ctx->webauthn, la->r.auth_data, la->r.auth_data_len, la->r.client_data,
        la->r.client_data_len, la->r.sig, la->r.sig_len, c, &count, &flags);
    if (rc != MFA_OK)
        return rc;
    /* the user handle, when sent, is the account's (a discoverable login
     * found the account by it and checked its presence) */
    if (la->r.user_handle_len > 0) {
        eq = la->r.user_handle_len == c->user_handle_len &&
             mfa_int_ct_equal(la->r.user_handle, c->user_handle,
                              c->user_handle_len);
        MFA_CT_PUBLIC(eq);
        if (!eq)
            return MFA_ERR_WEBAUTHN_USER_HANDLE;
    }
    /* a signed answer to this challenge: spent, so that it counts once;
     * before the sign count, so that a captured assertion sent again is a
     * replay rather than a clone.  The account's nonces whose challenges
     * expired go first (an expired challenge is refused before this), so
     * an account keeps only the nonces of the challenges still alive. */
    rc = mfa_int_txn_webauthn_spent_expire(x, now, &expired);
    if (rc != MFA_OK)
        return rc;
    rc = mfa_int_txn_webauthn_spend(x, la->ch.nonce, la->ch.expires);
    if (rc == MFA_ERR_EXISTS)
        return MFA_ERR_REPLAYED;
    if (rc != MFA_OK)
        return rc;
    /* synced passkeys keep 0 forever; otherwise the count must grow.  The
     * credential is kept (its owner decides), the event says so. */
    if ((c->sign_count != 0 || count != 0) && count <= c->sign_count)
        return MFA_ERR_WEBAUTHN_CLONED;
    c->sign_count = count;
    la->found.last_used = now;
    rc = mfa_int_txn_webauthn_update(x, &la->found);
    if (rc == MFA_OK)
        memcpy(res->factor_id, la->found.factor_id, sizeof(res->factor_id));
    return rc;
}

/* Discoverable login: the account whose user handle the response names,
 * in a store-wide read. */
static mfa_rc
account_of_handle(const mfa_ctx_t *ctx, const uint8_t *h, size_t len,
                  char account[MFA_ACCOUNT_MAX + 1])
{
    mfa_int_txn x;
    mfa_rc rc = mfa_int_txn_begin(ctx->store, NULL, MFA_TXN_READ, &x);

    if (rc != MFA_OK)
        return rc;
    rc = mfa_int_txn_webauthn_handle_find(&x, h, len, account);
    if (rc != MFA_OK) {
        mfa_int_txn_rollback(&x);
        return rc;
    }
    return mfa_int_txn_commit(&x);
}

mfa_rc
mfa_webauthn_login_finish_device(mfa_ctx_t *ctx, const char *account,
                                 const char *response, size_t response_len,
                                 const mfa_device_opts *dev,
                                 char account_out[MFA_ACCOUNT_MAX + 1],
                                 mfa_result *res)
{
    char name[MFA_ACCOUNT_MAX + 1];
    mfa_int_attempt_spec sp;
    mfa_int_token tok;
    mfa_result local;
    login_arg la;
    int64_t now;
    mfa_rc rc;

    if (res == NULL)
        res = &local;
    memset(res, 0, sizeof(*res));
    if (account_out != NULL)
        memset(account_out, 0, MFA_ACCOUNT_MAX + 1);
    if ((rc = ctx_ready(ctx)) != MFA_OK)
        return res->outcome = rc;
    now = mfa_int_ctx_now(ctx);
    if (account != NULL && (rc = mfa_int_check_account(account)) != MFA_OK) {
        mfa_int_ctx_emit(ctx, MFA_EV_WEBAUTHN_FAIL, NULL, NULL, rc, now, 0);
        return res->outcome = rc;
    }
    if ((account == NULL && account_out == NULL) || response == NULL)
        rc = MFA_ERR_INVALID;
    else
        rc = mfa_int_check_now(now);
    /* parsed once, and the client data decided, before the store */
    if (rc == MFA_OK)
        rc = mfa_int_wa_response_parse(response, response_len, MFA_INT_WA_GET,
                                       &la.r);
    if (rc != MFA_OK) {
        mfa_int_ctx_emit(ctx, MFA_EV_WEBAUTHN_FAIL, account, NULL, rc, now, 0);
        return res->outcome = rc;
    }
    la.ch.ctx = ctx;
    la.ch.kind = account != NULL ? CH_LOGIN : CH_LOGIN_ANY;
    la.ch.account = account != NULL ? account : "";
    la.ch.now = now;
    la.factor_id[0] = '\0';
    la.cd_rc = mfa_int_wa_client_data_check_with(
        ctx->webauthn, MFA_INT_WA_GET, ch_verify, &la.ch, la.r.client_data,
        la.r.client_data_len);
    if (refused_uncounted(la.cd_rc)) {
        rc = la.cd_rc;
        goto refused;
    }
    if (account == NULL) {
        /* begun without a name: the user handle names the account */
        if (la.r.user_handle_len == 0) {
            rc = MFA_ERR_WEBAUTHN_USER_HANDLE;
            goto refused;
        }
        rc = account_of_handle(ctx, la.r.user_handle, la.r.user_handle_len,
                               name);
        if (rc == MFA_ERR_NOT_FOUND)
            rc = MFA_ERR_WEBAUTHN_UNKNOWN_CREDENTIAL; /* no account to count */
        if (rc != MFA_OK)
            goto refused;
        account = name;
    }
    sp.ok_event = MFA_EV_WEBAUTHN_OK;
    sp.fail_event = MFA_EV_WEBAUTHN_FAIL;
    sp.factor_id = la.factor_id;
    sp.check = login_check;
    sp.shape = NULL;
    sp.arg = &la;
    if ((rc = mfa_int_attempt_device(ctx, account, now, MFA_EV_WEBAUTHN_FAIL,
                                     dev, &sp, &tok)) == MFA_OK)
        rc = mfa_int_attempt(ctx, account, now, &sp, res);
    sodium_memzero(&tok, sizeof(tok));
    if (rc == MFA_OK && account_out != NULL)
        memcpy(account_out, account, strlen(account) + 1);
    mfa_int_wa_response_clear(&la.r);
    return res->outcome = rc;

refused:
    mfa_int_ctx_emit_rc(ctx, MFA_EV_WEBAUTHN_FAIL, account, NULL, rc, now, 0);
    mfa_int_wa_response_clear(&la.r);
    return res->outcome = rc;
}

/* ---- listing ------------------------------------------------------------- */

typedef struct info_vec {
    mfa_webauthn_info *v;
    size_t n, cap;
} info_vec;

static mfa_rc
info_push(const mfa_webauthn_rec *r, void *arg)
{
    info_vec *iv = arg;
    mfa_webauthn_info *o;

    if (iv->n == iv->cap) {
        size_t cap = iv->cap ? iv->cap * 2 : 4;
        mfa_webauthn_info *v = realloc(iv->v, cap * sizeof(*v));

        if (v == NULL)
            return MFA_ERR_NOMEM;
        iv->v = v;
        iv->cap = cap;
    }
    o = &iv->v[iv->n++];
    memset(o, 0, sizeof(*o));
    memcpy(o->factor_id, r->factor_id, sizeof(o->factor_id));
    memcpy(o->label, r->label, sizeof(o->label));
    o->algorithm = r->cred.algorithm;
    o->transports = r->cred.transports;
    o->flags = r->cred.flags;
    memcpy(o->aaguid, r->cred.aaguid, sizeof(o->aaguid));
    o->attestation_format = r->cred.attestation_format;
    o->attestation_trust = r->cred.attestation_trust;
    o->sign_count = r->cred.sign_count;
    o->created = r->created;
    o->last_used = r->last_used;
    return MFA_OK;
}

mfa_rc
mfa_webauthn_list(mfa_ctx_t *ctx, const char *account, mfa_webauthn_info **list,
                  size_t *n)
{
    info_vec iv = {NULL, 0, 0};
    mfa_int_txn x;
    mfa_rc rc;

    if (list == NULL || n == NULL)
        return MFA_ERR_INVALID;
    *list = NULL;
    *n = 0;
    if (ctx == NULL)
        return MFA_ERR_INVALID;
    if ((rc = mfa_int_check_account(account)) != MFA_OK)
        return rc;
    rc = mfa_int_txn_begin(ctx->store, account, MFA_TXN_READ, &x);
    if (rc != MFA_OK)
        return rc;
    rc = mfa_int_txn_webauthn_list(&x, info_push, &iv);
    if (rc == MFA_OK)
        rc = mfa_int_txn_commit(&x);
    else
        mfa_int_txn_rollback(&x);
    if (rc != MFA_OK) {
        free(iv.v);
        return rc;
    }
    *list = iv.v;
    *n = iv.n;
    return MFA_OK;
}

#else /* !MFA_HAVE_WEBAUTHN */

mfa_rc
mfa_ctx_set_webauthn(mfa_ctx_t *ctx, const mfa_webauthn_rp_t *rp)
{
    (void)ctx;
    (void)rp;
    return MFA_ERR_UNSUPPORTED;
}

mfa_rc
mfa_webauthn_register_begin(mfa_ctx_t *ctx, const char *account,
                            const char *user_name, const char *display_name,
                            char **options_json)
{
    (void)ctx;
    (void)account;
    (void)user_name;
    (void)display_name;
    if (options_json != NULL)
        *options_json = NULL;
    return MFA_ERR_UNSUPPORTED;
}

mfa_rc
mfa_webauthn_register_finish(mfa_ctx_t *ctx, const char *account,
                             const char *label, const char *response,
                             size_t response_len, mfa_result *res)
{
    (void)ctx;
    (void)account;
    (void)label;
    (void)response;
    (void)response_len;
    if (res != NULL) {
        memset(res, 0, sizeof(*res));
        res->outcome = MFA_ERR_UNSUPPORTED;
    }
    return MFA_ERR_UNSUPPORTED;
}

mfa_rc
mfa_webauthn_login_begin(mfa_ctx_t *ctx, const char *account,
                         char **options_json)
{
    (void)ctx;
    (void)account;
    if (options_json != NULL)
        *options_json = NULL;
    return MFA_ERR_UNSUPPORTED;
}

mfa_rc
mfa_webauthn_login_finish_device(mfa_ctx_t *ctx, const char *account,
                                 const char *response, size_t response_len,
                                 const mfa_device_opts *dev,
                                 char account_out[MFA_ACCOUNT_MAX + 1],
                                 mfa_result *res)
{
    (void)ctx;
    (void)account;
    (void)response;
    (void)response_len;
    (void)dev;
    if (account_out != NULL)
        memset(account_out, 0, MFA_ACCOUNT_MAX + 1);
    if (res != NULL) {
        memset(res, 0, sizeof(*res));
        res->outcome = MFA_ERR_UNSUPPORTED;
    }
    return MFA_ERR_UNSUPPORTED;
}

mfa_rc
mfa_webauthn_list(mfa_ctx_t *ctx, const char *account, mfa_webauthn_info **list,
                  size_t *n)
{
    (void)ctx;
    (void)account;
    if (list != NULL)
        *list = NULL;
    if (n != NULL)
        *n = 0;
    return MFA_ERR_UNSUPPORTED;
}

#endif /* MFA_HAVE_WEBAUTHN */

mfa_rc
mfa_webauthn_login_finish(mfa_ctx_t *ctx, const char *account,
                          const char *response, size_t response_len,
                          char account_out[MFA_ACCOUNT_MAX + 1],
                          mfa_result *res)
{
    return mfa_webauthn_login_finish_device(
        ctx, account, response, response_len, NULL, account_out, res);
}
