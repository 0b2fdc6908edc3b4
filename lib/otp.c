/*
 * HOTP (RFC 4226) and TOTP (RFC 6238).
 *
 * The HMAC key schedule (inner and outer hash states) is computed once when
 * the key or algorithm is set; each candidate then costs two compression
 * functions for SHA-1/SHA-256 (three for SHA-512 blocks).  Verification
 * computes every candidate of the window, folds the comparisons with masks
 * and decides only at the end, so its running time depends on the window
 * size alone.  Dynamic truncation and the modulo reduction avoid
 * secret-dependent indexes and divisions.
 */
#include <limits.h>
#include <string.h>

#include <nettle/hmac.h>
#include <nettle/sha1.h>
#include <sodium.h>

#include <mfa/otp.h>

#include "ct.h"
#include "internal.h"

struct mfa_otp {
    union {
        struct {
            uint32_t inner[5]; /* SHA-1 state after key ^ ipad */
            uint32_t outer[5]; /* SHA-1 state after key ^ opad */
        } sha1;
        struct hmac_sha256_ctx sha256;
        struct hmac_sha512_ctx sha512;
    } hmac; /* key schedule, computed once */
    uint8_t key[MFA_KEY_MAX];
    size_t keylen;
    mfa_otp_type type;
    mfa_algorithm alg;
    unsigned digits;
    uint32_t period;
    int64_t t0;
    uint64_t counter;
    uint64_t modulus; /* 10^digits */
    uint64_t recip;   /* floor((2^64 - 1) / modulus) */
};

static const uint64_t pow10_table[MFA_DIGITS_MAX + 1] = {
    1ull,         10ull,         100ull,         1000ull,
    10000ull,     100000ull,     1000000ull,     10000000ull,
    100000000ull, 1000000000ull, 10000000000ull,
};

size_t
mfa_digits_min(void)
{
    return MFA_DIGITS_MIN;
}

size_t
mfa_digits_max(void)
{
    return MFA_DIGITS_MAX;
}

size_t
mfa_window_max(void)
{
    return MFA_WINDOW_MAX;
}

size_t
mfa_lookahead_max(void)
{
    return MFA_LOOKAHEAD_MAX;
}

size_t
mfa_resync_max(void)
{
    return MFA_RESYNC_MAX;
}

size_t
mfa_code_bufsize(void)
{
    return MFA_CODE_BUFSIZE;
}

static const uint32_t sha1_iv[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu,
                                    0x10325476u, 0xC3D2E1F0u};

/*
 * HMAC-SHA1 for SHA-1 keys of at most one block: the states after
 * compressing key ^ ipad and key ^ opad.  Each code then costs exactly two
 * compressions (nettle's, with SHA-NI where the CPU has it) and no context
 * bookkeeping; SHA-1 is the algorithm every authenticator app uses.
 */
static void
schedule_sha1(mfa_otp_t *o)
{
    uint8_t pad[64];

    memcpy(o->hmac.sha1.inner, sha1_iv, sizeof(sha1_iv));
    memcpy(o->hmac.sha1.outer, sha1_iv, sizeof(sha1_iv));
    memset(pad, 0x36, sizeof(pad));
    for (size_t i = 0; i < o->keylen; i++)
        pad[i] ^= o->key[i];
    nettle_sha1_compress(o->hmac.sha1.inner, pad);
    memset(pad, 0x5c, sizeof(pad));
    for (size_t i = 0; i < o->keylen; i++)
        pad[i] ^= o->key[i];
    nettle_sha1_compress(o->hmac.sha1.outer, pad);
    sodium_memzero(pad, sizeof(pad));
}

static void
schedule(mfa_otp_t *o)
{
    switch (o->alg) {
    case MFA_SHA256:
        hmac_sha256_set_key(&o->hmac.sha256, o->keylen, o->key);
        break;
    case MFA_SHA512:
        hmac_sha512_set_key(&o->hmac.sha512, o->keylen, o->key);
        break;
    case MFA_SHA1:
    default:
        schedule_sha1(o);
        break;
    }
}

static void
set_digits(mfa_otp_t *o, unsigned digits)
{
    o->digits = digits;
    o->modulus = pow10_table[digits];
    o->recip = UINT64_MAX / o->modulus;
}

size_t
mfa_int_otp_size(void)
{
    return sizeof(struct mfa_otp);
}

mfa_rc
mfa_int_otp_init(mfa_otp_t *o, const uint8_t *key, size_t keylen)
{
    if (key == NULL || keylen < MFA_KEY_MIN)
        return MFA_ERR_SECRET_SHORT;
    if (keylen > MFA_KEY_MAX)
        return MFA_ERR_SECRET_LONG;
    memset(o, 0, sizeof(*o));
    memcpy(o->key, key, keylen);
    o->keylen = keylen;
    o->type = MFA_TOTP;
    o->alg = MFA_SHA1;
    o->period = MFA_PERIOD_DEFAULT;
    set_digits(o, MFA_DIGITS_DEFAULT);
    schedule(o);
    return MFA_OK;
}

mfa_rc
mfa_otp_new(mfa_otp_t **out, const uint8_t *key, size_t keylen)
{
    mfa_otp_t *o;
    mfa_rc rc;

    if (out == NULL)
        return MFA_ERR_INVALID;
    *out = NULL;
    if (key == NULL || keylen < MFA_KEY_MIN)
        return MFA_ERR_SECRET_SHORT;
    if (keylen > MFA_KEY_MAX)
        return MFA_ERR_SECRET_LONG;
    if (mfa_int_init() != MFA_OK)
        return MFA_ERR_INTERNAL;
    o = sodium_malloc(sizeof(*o));
    if (o == NULL)
        return MFA_ERR_NOMEM;
    if ((rc = mfa_int_otp_init(o, key, keylen)) != MFA_OK) {
        sodium_free(o);
        return rc;
    }
    *out = o;
    return MFA_OK;
}

void
mfa_otp_free(mfa_otp_t **otp)
{
    if (otp == NULL || *otp == NULL)
        return;
    /* sodium_free wipes the whole allocation before unmapping it */
    sodium_free(*otp);
    *otp = NULL;
}

mfa_rc
mfa_otp_set_type(mfa_otp_t *otp, mfa_otp_type type)
{
    if (otp == NULL || (type != MFA_TOTP && type != MFA_HOTP))
        return MFA_ERR_INVALID;
    otp->type = type;
    return MFA_OK;
}

mfa_rc
mfa_otp_set_algorithm(mfa_otp_t *otp, mfa_algorithm alg)
{
    if (otp == NULL)
        return MFA_ERR_INVALID;
    if (alg != MFA_SHA1 && alg != MFA_SHA256 && alg != MFA_SHA512)
        return MFA_ERR_ALGORITHM;
    if (otp->alg != alg) {
        otp->alg = alg;
        sodium_memzero(&otp->hmac, sizeof(otp->hmac));
        schedule(otp);
    }
    return MFA_OK;
}

mfa_rc
mfa_otp_set_digits(mfa_otp_t *otp, unsigned digits)
{
    if (otp == NULL)
        return MFA_ERR_INVALID;
    if (digits < MFA_DIGITS_MIN || digits > MFA_DIGITS_MAX)
        return MFA_ERR_DIGITS;
    set_digits(otp, digits);
    return MFA_OK;
}

mfa_rc
mfa_otp_set_period(mfa_otp_t *otp, uint32_t period)
{
    if (otp == NULL)
        return MFA_ERR_INVALID;
    if (period < 1 || period > MFA_PERIOD_MAX)
        return MFA_ERR_PERIOD;
    otp->period = period;
    return MFA_OK;
}

mfa_rc
mfa_otp_set_t0(mfa_otp_t *otp, int64_t t0)
{
    if (otp == NULL)
        return MFA_ERR_INVALID;
    otp->t0 = t0;
    return MFA_OK;
}

mfa_rc
mfa_otp_set_counter(mfa_otp_t *otp, uint64_t counter)
{
    if (otp == NULL)
        return MFA_ERR_INVALID;
    otp->counter = counter;
    return MFA_OK;
}

mfa_otp_type
mfa_otp_type_get(const mfa_otp_t *otp)
{
    return otp ? otp->type : MFA_TOTP;
}

mfa_algorithm
mfa_otp_algorithm(const mfa_otp_t *otp)
{
    return otp ? otp->alg : MFA_SHA1;
}

unsigned
mfa_otp_digits(const mfa_otp_t *otp)
{
    return otp ? otp->digits : 0;
}

uint32_t
mfa_otp_period(const mfa_otp_t *otp)
{
    return otp ? otp->period : 0;
}

int64_t
mfa_otp_t0(const mfa_otp_t *otp)
{
    return otp ? otp->t0 : 0;
}

uint64_t
mfa_otp_counter(const mfa_otp_t *otp)
{
    return otp ? otp->counter : 0;
}

const char *
mfa_algorithm_name(mfa_algorithm alg)
{
    switch (alg) {
    case MFA_SHA1:
        return "SHA1";
    case MFA_SHA256:
        return "SHA256";
    case MFA_SHA512:
        return "SHA512";
    default:
        return NULL;
    }
}

mfa_rc
mfa_algorithm_from_name(const char *name, mfa_algorithm *alg)
{
    static const mfa_algorithm all[] = {MFA_SHA1, MFA_SHA256, MFA_SHA512};

    if (name == NULL || alg == NULL)
        return MFA_ERR_INVALID;
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (strcmp(name, mfa_algorithm_name(all[i])) == 0) {
            *alg = all[i];
            return MFA_OK;
        }
    }
    return MFA_ERR_ALGORITHM;
}

mfa_rc
mfa_otp_step(const mfa_otp_t *otp, int64_t now, uint64_t *step)
{
    if (otp == NULL || step == NULL)
        return MFA_ERR_INVALID;
    if (now < otp->t0)
        return MFA_ERR_TIME;
    /* now >= t0, so the difference fits in 64 unsigned bits */
    *step = ((uint64_t)now - (uint64_t)otp->t0) / otp->period;
    return MFA_OK;
}

static void
put_be32(uint8_t *p, uint32_t v)
{
#if defined(__GNUC__) && defined(__BYTE_ORDER__) &&                            \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap32(v);
    memcpy(p, &v, 4);
#else
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
#endif
}

static void
put_be64(uint8_t *p, uint64_t v)
{
    put_be32(p, (uint32_t)(v >> 32));
    put_be32(p + 4, (uint32_t)v);
}

/* The two HMAC-SHA1 blocks with their padding; the data parts are written
 * per candidate.  Bit lengths: (64 + 8) * 8 = 576 and (64 + 20) * 8 = 672. */
static const uint8_t sha1_inner_pad[64] = {
    [8] = 0x80, [62] = 0x02, [63] = 0x40};
static const uint8_t sha1_outer_pad[64] = {
    [20] = 0x80, [62] = 0x02, [63] = 0xa0};

static void
sha1_scratch_init(union mfa_int_hmac_ctx *ctx)
{
    /* the states are written before they are read */
    memcpy(ctx->sha1.inner, sha1_inner_pad, 64);
    memcpy(ctx->sha1.outer, sha1_outer_pad, 64);
}

/* HMAC-SHA1 of the counter: two compressions; the MAC is left in
 * ctx->sha1.batch[0] as five big-endian words. */
static void
sha1_mac(const mfa_otp_t *o, union mfa_int_hmac_ctx *ctx, uint64_t counter)
{
    uint32_t *st = ctx->sha1.batch[0];

    put_be64(ctx->sha1.inner, counter);
    memcpy(st, o->hmac.sha1.inner, 20);
    nettle_sha1_compress(st, ctx->sha1.inner);
    for (int i = 0; i < 5; i++)
        put_be32(ctx->sha1.outer + (size_t)4 * (size_t)i, st[i]);
    memcpy(st, o->hmac.sha1.outer, 20);
    nettle_sha1_compress(st, ctx->sha1.outer);
}

/* Dynamic truncation on the MAC's words (st[last] holds its last byte):
 * the offset's word and the next are selected with masks over the four
 * possible words, then shifted by a register amount (no branch, no secret
 * index). */
static uint32_t
words_truncate(const uint32_t *st, size_t last)
{
    uint32_t off = st[last] & 0x0fu, j = off >> 2, r = off & 3u, a = 0, b = 0;

    for (uint32_t k = 0; k < 4; k++) {
        uint32_t m = mfa_int_ct_mask_eq32(k, j);
        a |= st[k] & m;
        b |= st[k + 1] & m;
    }
    return (uint32_t)((((uint64_t)a << 32) | b) >> (32 - 8 * r)) & 0x7fffffffu;
}

void
mfa_int_otp_scratch_init(const mfa_otp_t *o, union mfa_int_hmac_ctx *ctx)
{
    if (o->alg == MFA_SHA1)
        sha1_scratch_init(ctx);
}

void
mfa_int_otp_scratch_wipe(const mfa_otp_t *o, union mfa_int_hmac_ctx *ctx)
{
    sodium_memzero(ctx, o->alg == MFA_SHA1 ? sizeof(ctx->sha1) : sizeof(*ctx));
}

/* HMAC of the big-endian counter into mac; returns the MAC's length. */
size_t
mfa_int_otp_hmac(const mfa_otp_t *o, union mfa_int_hmac_ctx *ctx,
                 uint64_t counter, uint8_t *mac)
{
    const uint64_t c = counter;
    uint8_t msg[8];

    for (int i = 7; i >= 0; i--) {
        msg[i] = (uint8_t)(counter & 0xff);
        counter >>= 8;
    }
    switch (o->alg) {
    case MFA_SHA256:
        memcpy(&ctx->sha256, &o->hmac.sha256, sizeof(ctx->sha256));
        hmac_sha256_update(&ctx->sha256, sizeof(msg), msg);
        hmac_sha256_digest(&ctx->sha256, SHA256_DIGEST_SIZE, mac);
        return SHA256_DIGEST_SIZE;
    case MFA_SHA512:
        memcpy(&ctx->sha512, &o->hmac.sha512, sizeof(ctx->sha512));
        hmac_sha512_update(&ctx->sha512, sizeof(msg), msg);
        hmac_sha512_digest(&ctx->sha512, SHA512_DIGEST_SIZE, mac);
        return SHA512_DIGEST_SIZE;
    case MFA_SHA1:
    default:
        sha1_scratch_init(ctx);
        sha1_mac(o, ctx, c);
        for (int i = 0; i < 5; i++)
            put_be32(mac + (size_t)4 * (size_t)i, ctx->sha1.batch[0][i]);
        return SHA1_DIGEST_SIZE;
    }
}

/* Dynamic truncation (RFC 4226 5.3): the 31 bits at the offset named by
 * the last nibble, selected with masks over all 16 possible offsets instead
 * of indexing by a secret. */
uint32_t
mfa_int_otp_truncate(const uint8_t *mac, size_t maclen)
{
    uint32_t off = mac[maclen - 1] & 0x0fu, bin = 0;

    for (uint32_t i = 0; i < 16; i++) {
        uint32_t word = ((uint32_t)mac[i] << 24) |
                        ((uint32_t)mac[i + 1] << 16) |
                        ((uint32_t)mac[i + 2] << 8) | (uint32_t)mac[i + 3];
        bin |= word & mfa_int_ct_mask_eq32(i, off);
    }
    return bin & 0x7fffffffu;
}

/*
 * One HOTP value: HMAC, truncation and reduction modulo 10^digits, without
 * secret-dependent branches or indexes.  `ctx` is scratch the caller wipes.
 */
/* x mod 10^digits by multiplying with a precomputed reciprocal: no
 * division instruction, whose latency may depend on its operands.
 * q = floor(x * recip / 2^64) is the quotient or one less. */
static uint64_t
reduce(const mfa_otp_t *o, uint64_t x)
{
    uint64_t lo = o->recip & 0xffffffffu, hi = o->recip >> 32;
    uint64_t t = x * lo, u = x * hi + (t >> 32), q = u >> 32;
    uint64_t r = x - q * o->modulus;

    r -= o->modulus & ~mfa_int_ct_mask_lt63(r, o->modulus);
    return r;
}

/*
 * HMAC-SHA256 straight on the compression function, as for SHA-1: the
 * key's inner and outer states come from nettle's key schedule, and each
 * candidate costs two compressions of blocks whose padding is set once.
 * Nettle 3.9 exports sha256_compress; before it, sha256_update of one
 * whole block at index 0 compresses the caller's block in place (no copy,
 * no digest bookkeeping), which is as good.
 */
static const uint8_t sha256_outer_pad[64] = {[32] = 0x80, [62] = 0x03};

typedef struct sha256_batch {
    struct sha256_ctx c[4]; /* states of independent candidates */
    uint8_t inner[64];      /* counter || padding */
    uint8_t outer[64];      /* inner digest || padding */
} sha256_batch;

static void
sha256_block(struct sha256_ctx *c, const uint32_t init[8],
             const uint8_t block[64])
{
    memcpy(c->state, init, 8 * sizeof(uint32_t));
#ifdef sha256_compress
    sha256_compress(c->state, block);
#else
    c->index = 0;
    sha256_update(c, 64, block);
#endif
}

/* HOTP values of n counters, four candidates at a time (inner blocks,
 * then outer blocks) so that independent compressions overlap. */
static void
values_sha256(const mfa_otp_t *o, const uint64_t *c, size_t n, uint64_t *v)
{
    const uint32_t *in = o->hmac.sha256.inner.state;
    const uint32_t *out = o->hmac.sha256.outer.state;
    sha256_batch b;

    memcpy(b.inner, sha1_inner_pad, 64); /* the same padding for 8 bytes */
    memcpy(b.outer, sha256_outer_pad, 64);
    for (size_t i = 0; i < n; i += 4) {
        size_t m = n - i < 4 ? n - i : 4;

        for (size_t j = 0; j < m; j++) {
            put_be64(b.inner, c[i + j]);
            sha256_block(&b.c[j], in, b.inner);
        }
        for (size_t j = 0; j < m; j++) {
            for (int w = 0; w < 8; w++)
                put_be32(b.outer + 4 * w, b.c[j].state[w]);
            sha256_block(&b.c[j], out, b.outer);
        }
        for (size_t j = 0; j < m; j++)
            v[i + j] = reduce(o, words_truncate(b.c[j].state, 7));
    }
    sodium_memzero(&b, sizeof(b));
}

static uint64_t
hotp_value(const mfa_otp_t *o, union mfa_int_hmac_ctx *ctx, uint64_t counter)
{
    uint8_t big[64];
    uint64_t x;

    if (o->alg == MFA_SHA256) {
        values_sha256(o, &counter, 1, &x);
        return x;
    }
    if (o->alg == MFA_SHA1) {
        /* the MAC stays in the scratch the caller wipes once */
        sha1_mac(o, ctx, counter);
        x = words_truncate(ctx->sha1.batch[0], 4);
    } else {
        size_t maclen = mfa_int_otp_hmac(o, ctx, counter, big);

        x = mfa_int_otp_truncate(big, maclen);
        sodium_memzero(big, sizeof(big));
    }

    return reduce(o, x);
}

/*
 * HOTP values of n counters.  For SHA-1 and SHA-256 the candidates go
 * through the compression function four at a time, inner blocks first and
 * outer blocks after, so that independent compressions overlap in the CPU
 * instead of waiting on each other; SHA-512 takes one at a time.
 */
static void
values_of(const mfa_otp_t *o, union mfa_int_hmac_ctx *ctx, const uint64_t *c,
          size_t n, uint64_t *v)
{
    if (o->alg == MFA_SHA256) {
        values_sha256(o, c, n, v);
        return;
    }
    if (o->alg != MFA_SHA1) {
        for (size_t i = 0; i < n; i++)
            v[i] = hotp_value(o, ctx, c[i]);
        return;
    }
    for (size_t i = 0; i < n; i += 4) {
        size_t m = n - i < 4 ? n - i : 4;
        uint32_t(*st)[5] = ctx->sha1.batch;

        for (size_t j = 0; j < m; j++) {
            put_be64(ctx->sha1.inner, c[i + j]);
            memcpy(st[j], o->hmac.sha1.inner, 20);
            nettle_sha1_compress(st[j], ctx->sha1.inner);
        }
        for (size_t j = 0; j < m; j++) {
            for (int w = 0; w < 5; w++)
                put_be32(ctx->sha1.outer + 4 * w, st[j][w]);
            memcpy(st[j], o->hmac.sha1.outer, 20);
            nettle_sha1_compress(st[j], ctx->sha1.outer);
        }
        for (size_t j = 0; j < m; j++)
            v[i + j] = reduce(o, words_truncate(st[j], 4));
    }
}

static void
format_code(uint64_t v, unsigned digits, char *code)
{
    for (unsigned i = digits; i > 0; i--) {
        code[i - 1] = (char)('0' + (v % 10));
        v /= 10;
    }
    code[digits] = '\0';
}

mfa_rc
mfa_otp_hotp(const mfa_otp_t *otp, uint64_t counter, char *code, size_t size)
{
    union mfa_int_hmac_ctx ctx;
    uint64_t v;

    if (otp == NULL || code == NULL)
        return MFA_ERR_INVALID;
    if (size < (size_t)otp->digits + 1)
        return MFA_ERR_BUFFER;
    mfa_int_otp_scratch_init(otp, &ctx);
    v = hotp_value(otp, &ctx, counter);
    mfa_int_otp_scratch_wipe(otp, &ctx);
    format_code(v, otp->digits, code);
    return MFA_OK;
}

mfa_rc
mfa_otp_totp(const mfa_otp_t *otp, int64_t now, char *code, size_t size)
{
    uint64_t step;
    mfa_rc rc;

    if (otp == NULL || code == NULL)
        return MFA_ERR_INVALID;
    rc = mfa_otp_step(otp, now, &step);
    if (rc != MFA_OK)
        return rc;
    return mfa_otp_hotp(otp, step, code, size);
}

/* Parse a typed code into its value: spaces dropped, exactly `digits`
 * digits.  The code is the caller's input; its format may be branched on. */
static mfa_rc
parse_code(const char *typed, unsigned digits, uint64_t *value)
{
    uint64_t v = 0;
    unsigned n = 0;

    if (typed == NULL)
        return MFA_ERR_CODE_FORMAT;
    for (const char *p = typed; *p != '\0'; p++) {
        if (*p == ' ')
            continue;
        if (*p < '0' || *p > '9' || n == digits)
            return MFA_ERR_CODE_FORMAT;
        v = v * 10 + (uint64_t)(*p - '0');
        n++;
        if (p - typed > 64)
            return MFA_ERR_CODE_FORMAT;
    }
    if (n != digits)
        return MFA_ERR_CODE_FORMAT;
    *value = v;
    return MFA_OK;
}

mfa_rc
mfa_code_canonical(const char *typed, unsigned digits, char *out, size_t size)
{
    uint64_t v;
    mfa_rc rc;

    if (out == NULL)
        return MFA_ERR_INVALID;
    if (digits < MFA_DIGITS_MIN || digits > MFA_DIGITS_MAX)
        return MFA_ERR_DIGITS;
    if (size < (size_t)digits + 1)
        return MFA_ERR_BUFFER;
    rc = parse_code(typed, digits, &v);
    if (rc != MFA_OK)
        return rc;
    format_code(v, digits, out);
    return MFA_OK;
}

mfa_rc
mfa_otp_totp_verify(const mfa_otp_t *otp, const char *code, int64_t now,
                    unsigned past, unsigned future, int64_t last_step,
                    uint64_t *matched_step, int32_t *offset)
{
    union mfa_int_hmac_ctx ctx;
    uint64_t want, step, ok = 0, replayed = 0, sel_step = 0, sel_off = 0;
    uint64_t cand[2 * MFA_WINDOW_MAX + 1], vals[2 * MFA_WINDOW_MAX + 1];
    int64_t koff[2 * MFA_WINDOW_MAX + 1];
    size_t n = 0;
    unsigned span;
    mfa_rc rc;

    if (otp == NULL)
        return MFA_ERR_INVALID;
    if (otp->type != MFA_TOTP)
        return MFA_ERR_TYPE;
    if (past > MFA_WINDOW_MAX || future > MFA_WINDOW_MAX)
        return MFA_ERR_WINDOW;
    if (last_step < MFA_STEP_NONE)
        return MFA_ERR_INVALID;
    rc = parse_code(code, otp->digits, &want);
    if (rc != MFA_OK)
        return rc;
    rc = mfa_otp_step(otp, now, &step);
    if (rc != MFA_OK)
        return rc;

    /* Candidates in order of distance from now: 0, -1, +1, -2, +2, ...
     * (which ones exist depends on public values only).  All are computed,
     * then the first fresh match wins, chosen with masks. */
    span = past > future ? past : future;
    for (unsigned d = 0; d <= span; d++) {
        for (int sign = -1; sign <= 1; sign += 2) {
            if (d == 0 && sign == 1)
                continue;
            if ((sign < 0 && d > past) || (sign > 0 && d > future))
                continue;
            if (sign < 0 && step < d)
                continue; /* before T0 */
            if (sign > 0 && step > UINT64_MAX - d)
                continue;
            cand[n] = sign < 0 ? step - d : step + d;
            koff[n++] = (int64_t)sign * (int64_t)d;
        }
    }
    mfa_int_otp_scratch_init(otp, &ctx);
    values_of(otp, &ctx, cand, n, vals);
    for (size_t i = 0; i < n; i++) {
        uint64_t s = cand[i], eq, fresh, take;

        eq = mfa_int_ct_mask_eq64(vals[i], want);
        /* freshness is a function of public values only */
        fresh = (last_step < 0 || s > (uint64_t)last_step) ? ~0ull : 0;
        take = eq & fresh & ~ok;
        sel_step |= s & take;
        sel_off |= (uint64_t)koff[i] & take;
        ok |= take;
        replayed |= eq & ~fresh;
    }
    sodium_memzero(vals, n * sizeof(vals[0]));
    mfa_int_otp_scratch_wipe(otp, &ctx);
    want = 0;

    /* the verdict and the step it names are the result: public */
    MFA_CT_PUBLIC(ok);
    MFA_CT_PUBLIC(replayed);
    MFA_CT_PUBLIC(sel_step);
    MFA_CT_PUBLIC(sel_off);
    if (ok) {
        if (matched_step)
            *matched_step = sel_step;
        if (offset)
            *offset = (int32_t)(int64_t)sel_off;
        return MFA_OK;
    }
    return replayed ? MFA_ERR_REPLAYED : MFA_ERR_CODE_WRONG;
}

mfa_rc
mfa_otp_hotp_verify(const mfa_otp_t *otp, const char *code, uint64_t counter,
                    unsigned lookahead, uint64_t *next_counter)
{
    union mfa_int_hmac_ctx ctx;
    uint64_t want, ok = 0, sel = 0;
    mfa_rc rc;

    if (otp == NULL)
        return MFA_ERR_INVALID;
    if (otp->type != MFA_HOTP)
        return MFA_ERR_TYPE;
    if (lookahead > MFA_LOOKAHEAD_MAX)
        return MFA_ERR_WINDOW;
    rc = parse_code(code, otp->digits, &want);
    if (rc != MFA_OK)
        return rc;
    mfa_int_otp_scratch_init(otp, &ctx);
    for (unsigned i = 0; i <= lookahead; i++) {
        uint64_t c, take;

        if (counter > UINT64_MAX - i)
            break; /* public: the counter space ends here */
        c = counter + i;
        take = mfa_int_ct_mask_eq64(hotp_value(otp, &ctx, c), want) & ~ok;
        sel |= c & take;
        ok |= take;
    }
    mfa_int_otp_scratch_wipe(otp, &ctx);
    MFA_CT_PUBLIC(ok); /* the verdict and the matched counter: public */
    MFA_CT_PUBLIC(sel);
    if (!ok)
        return MFA_ERR_CODE_WRONG;
    if (sel == UINT64_MAX)
        return MFA_ERR_COUNTER;
    if (next_counter)
        *next_counter = sel + 1;
    return MFA_OK;
}

/* Scan counters first .. first + n: report the first c with code1 at c and
 * code2 at c + 1.  Every value is computed once; no early exit. */
static int
scan_pair(const mfa_otp_t *o, uint64_t w1, uint64_t w2, uint64_t first,
          uint64_t n, uint64_t *found)
{
    union mfa_int_hmac_ctx ctx;
    uint64_t ok = 0, sel = 0, prev_eq1 = 0;

    mfa_int_otp_scratch_init(o, &ctx);
    for (uint64_t i = 0; i <= n + 1; i++) {
        uint64_t c = first + i, v, take;

        if (first > UINT64_MAX - i)
            break;
        v = hotp_value(o, &ctx, c);
        /* value at c matches code2 and the one before matched code1 */
        take = prev_eq1 & mfa_int_ct_mask_eq64(v, w2) & ~ok;
        sel |= (c - 1) & take;
        ok |= take;
        prev_eq1 = (i <= n) ? mfa_int_ct_mask_eq64(v, w1) : 0;
    }
    mfa_int_otp_scratch_wipe(o, &ctx);
    MFA_CT_PUBLIC(ok); /* the verdict and the matched counter: public */
    MFA_CT_PUBLIC(sel);
    *found = sel;
    return ok != 0;
}

mfa_rc
mfa_otp_totp_resync(const mfa_otp_t *otp, const char *code1, const char *code2,
                    int64_t now, unsigned range, uint64_t *matched_step,
                    int32_t *offset)
{
    uint64_t w1, w2, step, first, found;
    mfa_rc rc;

    if (otp == NULL)
        return MFA_ERR_INVALID;
    if (otp->type != MFA_TOTP)
        return MFA_ERR_TYPE;
    if (range > MFA_RESYNC_MAX)
        return MFA_ERR_WINDOW;
    if ((rc = parse_code(code1, otp->digits, &w1)) != MFA_OK ||
        (rc = parse_code(code2, otp->digits, &w2)) != MFA_OK)
        return rc;
    rc = mfa_otp_step(otp, now, &step);
    if (rc != MFA_OK)
        return rc;
    first = step > range ? step - range : 0;
    if (!scan_pair(otp, w1, w2, first, (step - first) + range, &found))
        return MFA_ERR_CODE_WRONG;
    if (matched_step)
        *matched_step = found + 1;
    if (offset)
        *offset = (int32_t)((int64_t)(found + 1 - step));
    return MFA_OK;
}

mfa_rc
mfa_otp_hotp_resync(const mfa_otp_t *otp, const char *code1, const char *code2,
                    uint64_t counter, unsigned range, uint64_t *next_counter)
{
    uint64_t w1, w2, found;
    mfa_rc rc;

    if (otp == NULL)
        return MFA_ERR_INVALID;
    if (otp->type != MFA_HOTP)
        return MFA_ERR_TYPE;
    if (range > MFA_RESYNC_MAX)
        return MFA_ERR_WINDOW;
    if ((rc = parse_code(code1, otp->digits, &w1)) != MFA_OK ||
        (rc = parse_code(code2, otp->digits, &w2)) != MFA_OK)
        return rc;
    if (!scan_pair(otp, w1, w2, counter, range, &found))
        return MFA_ERR_CODE_WRONG;
    if (found >= UINT64_MAX - 1)
        return MFA_ERR_COUNTER;
    if (next_counter)
        *next_counter = found + 2;
    return MFA_OK;
}
