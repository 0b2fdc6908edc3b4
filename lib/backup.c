/*
 * Recovery codes: backup codes (Crockford base32, keyed BLAKE2b hashes) and
 * out-of-band numeric codes bound to an account and a purpose.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <mfa/backup.h>

#include "ct.h"
#include "internal.h"
#include "keyring.h"
#include "text.h"

_Static_assert(MFA_BACKUP_HASHBYTES >= crypto_generichash_BYTES_MIN &&
                   MFA_BACKUP_HASHBYTES <= crypto_generichash_BYTES_MAX,
               "hash size");
_Static_assert(MFA_KEYRING_KEYBYTES >= crypto_generichash_KEYBYTES_MIN &&
                   MFA_KEYRING_KEYBYTES <= crypto_generichash_KEYBYTES_MAX,
               "key size");

/* Longest typed backup code read: room for generous spacing, bounded work */
#define BACKUP_TYPED_MAX 64

size_t
mfa_backup_hashbytes(void)
{
    return MFA_BACKUP_HASHBYTES;
}

size_t
mfa_backup_bufsize(void)
{
    return MFA_BACKUP_BUFSIZE;
}

/* 1 when a >= b, for a, b < 2^31; no branch. */
static uint32_t
ct_ge(uint32_t a, uint32_t b)
{
    return 1u ^ ((a - b) >> 31);
}

/*
 * The Crockford symbol of a 5-bit value, computed without a table so that
 * no memory address depends on the code: 0-9, then A-Z skipping I, L, O, U.
 */
static char
crockford_char(uint32_t v)
{
    uint32_t c = '0' + v;
    c += 7u * ct_ge(v, 10); /* 10 -> 'A' */
    c += ct_ge(v, 18);      /* skip I */
    c += ct_ge(v, 20);      /* skip L */
    c += ct_ge(v, 22);      /* skip O */
    c += ct_ge(v, 27);      /* skip U */
    return (char)c;
}

/*
 * Map one typed character to its canonical symbol, branch-free: *sym gets
 * the upper-case symbol (look-alikes folded), the result is 1 when valid.
 */
static uint32_t
crockford_fold(uint32_t c, char *sym)
{
    uint32_t lower = mfa_int_ct_mask_range(c, 'a', 'z');
    uint32_t digit, letter, o, il, u, ok;

    c -= 32u & lower;
    o = mfa_int_ct_mask_eq32(c, 'O');
    il = mfa_int_ct_mask_eq32(c, 'I') | mfa_int_ct_mask_eq32(c, 'L');
    c = (c & ~o & ~il) | ('0' & o) | ('1' & il);
    digit = mfa_int_ct_mask_range(c, '0', '9');
    letter = mfa_int_ct_mask_range(c, 'A', 'Z');
    u = mfa_int_ct_mask_eq32(c, 'U');
    ok = digit | (letter & ~u);
    *sym = (char)(c & ok & 0xffu);
    return ok & 1u;
}

mfa_rc
mfa_backup_normalize(const char *typed, char out[MFA_BACKUP_CHARS + 1])
{
    char canon[MFA_BACKUP_CHARS], raw[MFA_BACKUP_CHARS];
    uint32_t ok = 1, digits = 1;
    size_t n, j = 0;

    if (typed == NULL || out == NULL)
        return MFA_ERR_INVALID;
    n = strnlen(typed, BACKUP_TYPED_MAX + 1);
    if (n > BACKUP_TYPED_MAX)
        return MFA_ERR_BACKUP_FORMAT;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = (uint32_t)(unsigned char)typed[i];
        char sym;
        /* separators are not secret: branching on them leaks only where
         * the user put spaces and hyphens */
        if (typed[i] == ' ' || typed[i] == '-')
            continue;
        if (j == MFA_BACKUP_CHARS) {
            j++;
            break;
        }
        ok &= crockford_fold(c, &sym);
        digits &= mfa_int_ct_mask_range(c, '0', '9') & 1u;
        canon[j] = sym;
        raw[j++] = (char)c;
    }
    /*
     * The count of symbols is public (it is how long the typed code is):
     * 12 is a native code, 8 a scratch code imported from
     * google-authenticator-libpam (digits only, no folding).  The two
     * never meet: their canonical forms differ in length, and so do the
     * inputs of their keyed hashes.
     */
    if (j == MFA_BACKUP_SCRATCH_CHARS && digits) {
        memcpy(out, raw, MFA_BACKUP_SCRATCH_CHARS);
        out[MFA_BACKUP_SCRATCH_CHARS] = '\0';
        sodium_memzero(canon, sizeof(canon));
        sodium_memzero(raw, sizeof(raw));
        return MFA_OK;
    }
    sodium_memzero(raw, sizeof(raw));
    if (!ok || j != MFA_BACKUP_CHARS) {
        sodium_memzero(canon, sizeof(canon));
        return MFA_ERR_BACKUP_FORMAT;
    }
    memcpy(out, canon, MFA_BACKUP_CHARS);
    out[MFA_BACKUP_CHARS] = '\0';
    sodium_memzero(canon, sizeof(canon));
    return MFA_OK;
}

/* 60 random bits as 12 canonical characters. */
static void
random_code(char canon[MFA_BACKUP_CHARS])
{
    uint8_t r[8];
    uint64_t v = 0;

    randombytes_buf(r, sizeof(r));
    for (size_t i = 0; i < sizeof(r); i++)
        v = (v << 8) | r[i];
    for (size_t i = 0; i < MFA_BACKUP_CHARS; i++)
        canon[i] = crockford_char((uint32_t)(v >> (5 * i)) & 31u);
    sodium_memzero(&v, sizeof(v));
    sodium_memzero(r, sizeof(r));
}

mfa_rc
mfa_backup_codes_generate(size_t n, char ***codes)
{
    char **ptrs, *text;
    size_t size;

    if (codes == NULL)
        return MFA_ERR_INVALID;
    *codes = NULL;
    if (n == 0)
        n = MFA_BACKUP_COUNT_DEFAULT;
    if (n > MFA_BACKUP_COUNT_MAX)
        return MFA_ERR_INVALID;
    if (mfa_int_init() != MFA_OK)
        return MFA_ERR_INTERNAL;
    /*
     * One guarded block: the pointer array, then the strings.  Rounded to
     * 16 bytes because sodium_malloc aligns the block's end, not its start.
     */
    size = n * sizeof(char *) + n * MFA_BACKUP_BUFSIZE;
    size = (size + 15u) & ~(size_t)15u;
    if ((ptrs = sodium_malloc(size)) == NULL)
        return MFA_ERR_NOMEM;
    memset(ptrs, 0, size);
    text = (char *)(ptrs + n);
    for (size_t i = 0; i < n; i++) {
        char canon[MFA_BACKUP_CHARS], *d = text + i * MFA_BACKUP_BUFSIZE;
        int dup;

        do {
            random_code(canon);
            for (size_t k = 0, o = 0; k < MFA_BACKUP_CHARS; k++) {
                if (k == 4 || k == 8)
                    d[o++] = '-';
                d[o++] = canon[k];
            }
            d[MFA_BACKUP_DISPLAY] = '\0';
            /* 60 bits make a repeat unlikely, but a set must be distinct */
            dup = 0;
            for (size_t k = 0; k < i; k++)
                dup |= sodium_memcmp(ptrs[k], d, MFA_BACKUP_DISPLAY) == 0;
        } while (dup);
        sodium_memzero(canon, sizeof(canon));
        ptrs[i] = d;
    }
    *codes = ptrs;
    return MFA_OK;
}

void
mfa_backup_codes_free(char ***codes, size_t n)
{
    (void)n; /* the block knows its size; n is kept for symmetry */
    if (codes == NULL || *codes == NULL)
        return;
    sodium_free(*codes); /* wipes pointers and codes */
    *codes = NULL;
}

mfa_rc
mfa_backup_hash(const mfa_keyring_t *kr, uint32_t key_id, const char *typed,
                uint8_t hash[MFA_BACKUP_HASHBYTES])
{
    char canon[MFA_BACKUP_CHARS + 1];
    const uint8_t *key;
    mfa_rc rc;

    if (kr == NULL || typed == NULL || hash == NULL)
        return MFA_ERR_INVALID;
    if ((rc = mfa_int_keyring_subkey_ref(kr, key_id, MFA_INT_KEY_BACKUP, &key,
                                         NULL)) != MFA_OK)
        return rc;
    if ((rc = mfa_backup_normalize(typed, canon)) != MFA_OK)
        return rc;
    if (crypto_generichash(hash, MFA_BACKUP_HASHBYTES, (const uint8_t *)canon,
                           strlen(canon), key, MFA_KEYRING_KEYBYTES) != 0)
        rc = MFA_ERR_INTERNAL;
    sodium_memzero(canon, sizeof(canon));
    return rc;
}

mfa_rc
mfa_backup_match(const uint8_t hash[MFA_BACKUP_HASHBYTES],
                 const uint8_t (*set)[MFA_BACKUP_HASHBYTES], size_t n,
                 size_t *index)
{
    uint64_t found = 0, idx = 0;

    if (hash == NULL || index == NULL || (set == NULL && n > 0))
        return MFA_ERR_INVALID;
    /* every entry is compared and the index picked with masks: the time
     * does not depend on which entry matched, or whether one did */
    for (size_t i = 0; i < n; i++) {
        uint64_t eq =
            (uint64_t)(sodium_memcmp(hash, set[i], MFA_BACKUP_HASHBYTES) == 0);
        uint64_t m = (uint64_t)0 - (eq & ~found & 1u);
        idx = (idx & ~m) | ((uint64_t)i & m);
        found |= eq;
    }
    /* the verdict and the matched entry are the function's public result */
    MFA_CT_PUBLIC(found);
    MFA_CT_PUBLIC(idx);
    if (!found)
        return MFA_ERR_CODE_WRONG;
    *index = (size_t)idx;
    return MFA_OK;
}

/* ---- out-of-band codes ------------------------------------------------- */

static int
purpose_ok(const char *p)
{
    return mfa_int_purpose_check(p) == MFA_OK;
}

static void
hash_field(crypto_generichash_state *st, const char *s, size_t n)
{
    uint8_t len[8];
    uint64_t v = n;

    for (int i = 7; i >= 0; i--) {
        len[i] = (uint8_t)v;
        v >>= 8;
    }
    crypto_generichash_update(st, len, sizeof(len));
    crypto_generichash_update(st, (const uint8_t *)s, n);
}

/* Keyed BLAKE2b over (account, purpose, code), each length-prefixed. */
static mfa_rc
oob_hash(const uint8_t *key, const char *account, const char *purpose,
         const char *code, size_t codelen, uint8_t out[MFA_BACKUP_HASHBYTES])
{
    crypto_generichash_state st;
    int r;

    if (crypto_generichash_init(&st, key, MFA_KEYRING_KEYBYTES,
                                MFA_BACKUP_HASHBYTES) != 0)
        return MFA_ERR_INTERNAL;
    hash_field(&st, account, strlen(account));
    hash_field(&st, purpose, strlen(purpose));
    hash_field(&st, code, codelen);
    r = crypto_generichash_final(&st, out, MFA_BACKUP_HASHBYTES);
    sodium_memzero(&st, sizeof(st));
    return r == 0 ? MFA_OK : MFA_ERR_INTERNAL;
}

mfa_rc
mfa_oob_challenge_new(const mfa_keyring_t *kr, const char *account,
                      const char *purpose, unsigned digits, int64_t now,
                      int64_t ttl, int32_t attempts, mfa_oob_challenge *c,
                      char *code, size_t size)
{
    static const uint32_t pow10[] = {1000000u, 10000000u, 100000000u};
    mfa_oob_challenge tmp;
    const uint8_t *key;
    char buf[8 + 1];
    uint32_t v, id = 0;
    mfa_rc rc;

    if (kr == NULL || account == NULL || purpose == NULL || c == NULL ||
        code == NULL)
        return MFA_ERR_INVALID;
    if (digits == 0)
        digits = MFA_OOB_DIGITS_DEFAULT;
    if (digits < 6 || digits > 8)
        return MFA_ERR_DIGITS;
    if (size < (size_t)digits + 1)
        return MFA_ERR_BUFFER;
    if (ttl == 0)
        ttl = MFA_OOB_TTL_DEFAULT;
    if (attempts == 0)
        attempts = MFA_OOB_ATTEMPTS_DEFAULT;
    if (ttl < 0 || attempts < 0 || !purpose_ok(purpose))
        return MFA_ERR_INVALID;
    if (now > INT64_MAX - ttl)
        return MFA_ERR_TIME;
    if ((rc = mfa_int_keyring_subkey_ref(kr, 0, MFA_INT_KEY_OOB, &key, &id)) !=
        MFA_OK)
        return rc;

    /* randombytes_uniform rejects the biased tail: every code is equally
     * likely, leading zeros included */
    v = randombytes_uniform(pow10[digits - 6]);
    for (unsigned i = digits; i > 0; i--) {
        buf[i - 1] = (char)('0' + v % 10u);
        v /= 10u;
    }
    buf[digits] = '\0';

    memset(&tmp, 0, sizeof(tmp));
    if ((rc = oob_hash(key, account, purpose, buf, digits, tmp.hash)) !=
        MFA_OK) {
        sodium_memzero(buf, sizeof(buf));
        return rc;
    }
    tmp.key_id = id;
    memcpy(tmp.purpose, purpose, strlen(purpose) + 1);
    tmp.created = now;
    tmp.expires = now + ttl;
    tmp.attempts_left = attempts;
    memcpy(c, &tmp, sizeof(tmp)); /* padding included: no stack bytes */
    memcpy(code, buf, (size_t)digits + 1);
    sodium_memzero(buf, sizeof(buf));
    return MFA_OK;
}

/* Spaces removed, then 6..8 ASCII digits; *n gets the count. */
static mfa_rc
oob_canonical(const char *typed, char out[8 + 1], size_t *n)
{
    size_t j = 0, len = strnlen(typed, 64 + 1);
    uint32_t bad = 0;

    if (len > 64)
        return MFA_ERR_CODE_FORMAT;
    for (size_t i = 0; i < len; i++) {
        uint32_t c = (uint32_t)(unsigned char)typed[i];
        if (c == ' ')
            continue;
        if (j == 8) {
            sodium_memzero(out, 9);
            return MFA_ERR_CODE_FORMAT;
        }
        bad |= ~mfa_int_ct_mask_range(c, '0', '9');
        out[j++] = (char)c;
    }
    out[j] = '\0';
    if (bad || j < 6) {
        sodium_memzero(out, 9);
        return MFA_ERR_CODE_FORMAT;
    }
    *n = j;
    return MFA_OK;
}

mfa_rc
mfa_oob_challenge_check(const mfa_keyring_t *kr, const char *account,
                        mfa_oob_challenge *c, const char *code, int64_t now)
{
    uint8_t h[MFA_BACKUP_HASHBYTES];
    const uint8_t *key;
    char canon[8 + 1];
    size_t n = 0;
    int eq;
    mfa_rc rc;

    if (kr == NULL || account == NULL || c == NULL || code == NULL)
        return MFA_ERR_INVALID;
    if (memchr(c->purpose, '\0', sizeof(c->purpose)) == NULL ||
        !purpose_ok(c->purpose))
        return MFA_ERR_INVALID;
    if (c->key_id == 0)
        return MFA_ERR_KEY_UNKNOWN; /* a stored challenge always names one */
    if (now >= c->expires)
        return MFA_ERR_EXPIRED;
    if (c->attempts_left <= 0)
        return MFA_ERR_ATTEMPTS;
    /* bad input and a missing key change no state: checked before the
     * attempt is counted */
    if ((rc = oob_canonical(code, canon, &n)) != MFA_OK)
        return rc;
    if ((rc = mfa_int_keyring_subkey_ref(kr, c->key_id, MFA_INT_KEY_OOB, &key,
                                         NULL)) != MFA_OK) {
        sodium_memzero(canon, sizeof(canon));
        return rc;
    }
    c->attempts_left--;
    rc = oob_hash(key, account, c->purpose, canon, n, h);
    sodium_memzero(canon, sizeof(canon));
    if (rc != MFA_OK)
        return rc;
    eq = sodium_memcmp(h, c->hash, MFA_BACKUP_HASHBYTES) == 0;
    sodium_memzero(h, sizeof(h));
    MFA_CT_PUBLIC(eq); /* the verdict */
    return eq ? MFA_OK : MFA_ERR_CODE_WRONG;
}
