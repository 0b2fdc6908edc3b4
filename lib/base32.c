/*
 * RFC 4648 base32 without secret-dependent branches or table lookups.
 *
 * Characters map to values with arithmetic masks (as libsodium does for
 * base64).  Separators and padding are public formatting, but branching on
 * "is this a separator" still branches on the secret's bytes, so the
 * classification is folded into masks and only the totals are looked at.
 * When separators are present the data characters are compacted with an
 * O(n^2) masked scan (n <= MFA_BASE32_INPUT_MAX), which keeps positions
 * out of memory indexes.
 */
#include <string.h>

#include <sodium.h>

#include <mfa/secret.h>

#include "ct.h"
#include "internal.h"

size_t
mfa_base32_encoded_len(size_t n)
{
    return (n / 5) * 8 + ((n % 5) * 8 + 4) / 5;
}

size_t
mfa_base32_decoded_maxlen(size_t n)
{
    return n * 5 / 8;
}

/* 0..25 -> 'A'..'Z', 26..31 -> '2'..'7' */
static char
enc_char(uint32_t v)
{
    uint32_t digit = mfa_int_ct_mask_range(v, 26, 31);
    return (char)(v + 'A' + (digit & (uint32_t)('2' - 'A' - 26)));
}

mfa_rc
mfa_base32_encode(const uint8_t *in, size_t inlen, char *out, size_t outsize)
{
    size_t need, o = 0;
    uint32_t acc = 0;
    unsigned bits = 0;

    if ((in == NULL && inlen > 0) || out == NULL)
        return MFA_ERR_INVALID;
    need = mfa_base32_encoded_len(inlen);
    if (outsize < need + 1)
        return MFA_ERR_BUFFER;
    for (size_t i = 0; i < inlen; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out[o++] = enc_char((acc >> bits) & 31u);
        }
        acc &= (1u << bits) - 1u;
    }
    if (bits > 0)
        out[o++] = enc_char((acc << (5 - bits)) & 31u);
    out[o] = '\0';
    /* a plain `acc = 0` is a dead store the compiler drops */
    sodium_memzero(&acc, sizeof(acc));
    return MFA_OK;
}

/*
 * With typed set (all ones), '0' reads as 'O' and '1' as 'I', exactly what
 * Google Authenticator's manual entry does before decoding (and nothing
 * more: no 8 for B, no lowercase l).  Masked, so no branch on the key.
 */
static uint32_t
typed_char(uint32_t c, uint32_t typed)
{
    uint32_t zero = mfa_int_ct_mask_eq32(c, '0') & typed;
    uint32_t one = mfa_int_ct_mask_eq32(c, '1') & typed;

    return (c & ~(zero | one)) | ((uint32_t)'O' & zero) | ((uint32_t)'I' & one);
}

static mfa_rc
base32_decode_masked(const char *in, uint8_t *out, size_t outsize,
                     size_t *outlen, uint32_t typed)
{
    uint8_t vals[MFA_BASE32_INPUT_MAX];
    uint32_t bad = 0, seen_pad = 0, misplaced = 0, any_fmt = 0;
    size_t len, ndata = 0, nbytes, o = 0;
    uint32_t acc = 0;
    unsigned bits = 0, r;
    mfa_rc rc = MFA_OK;

    if (in == NULL || outlen == NULL || (out == NULL && outsize > 0))
        return MFA_ERR_INVALID;
    *outlen = 0;
    len = strnlen(in, MFA_BASE32_INPUT_MAX + 1);
    if (len == 0 || len > MFA_BASE32_INPUT_MAX)
        return MFA_ERR_BASE32_LENGTH;

    memset(vals, 0, sizeof(vals));
    for (size_t i = 0; i < len; i++) {
        uint32_t c = typed_char((uint8_t)in[i], typed);
        uint32_t up = mfa_int_ct_mask_range(c, 'A', 'Z');
        uint32_t lo = mfa_int_ct_mask_range(c, 'a', 'z');
        uint32_t dg = mfa_int_ct_mask_range(c, '2', '7');
        uint32_t sep =
            mfa_int_ct_mask_eq32(c, ' ') | mfa_int_ct_mask_eq32(c, '-');
        uint32_t pad = mfa_int_ct_mask_eq32(c, '=');
        uint32_t data = up | lo | dg;
        uint32_t v =
            (up & (c - 'A')) | (lo & (c - 'a')) | (dg & (c - '2' + 26));

        bad |= ~(data | sep | pad);
        misplaced |= seen_pad & data;
        seen_pad |= pad;
        any_fmt |= sep | pad;
        ndata += data & 1u;
        vals[i] = (uint8_t)(v & data);
    }
    /* Only aggregate facts are branched on from here: validity, the
     * number of data characters (the key's length) and whether separators
     * or padding occur at all, not where. */
    MFA_CT_PUBLIC(bad);
    MFA_CT_PUBLIC(misplaced);
    MFA_CT_PUBLIC(ndata);
    MFA_CT_PUBLIC(any_fmt);
    if (bad) {
        rc = MFA_ERR_BASE32_CHAR;
        goto done;
    }
    r = (unsigned)(ndata % 8);
    if (misplaced || ndata == 0 || r == 1 || r == 3 || r == 6) {
        rc = MFA_ERR_BASE32_LENGTH;
        goto done;
    }
    nbytes = ndata * 5 / 8;
    if (outsize < nbytes || out == NULL) { /* nbytes >= 1 here */
        rc = MFA_ERR_BUFFER;
        goto done;
    }

    if (any_fmt) {
        /* Compact: data character i goes to slot pos(i), the number of data
         * characters before it, selected by mask over every slot. */
        uint8_t packed[MFA_BASE32_INPUT_MAX];
        uint32_t pos = 0;

        memset(packed, 0, sizeof(packed));
        for (size_t i = 0; i < len; i++) {
            uint32_t c = typed_char((uint8_t)in[i], typed);
            uint32_t data = mfa_int_ct_mask_range(c, 'A', 'Z') |
                            mfa_int_ct_mask_range(c, 'a', 'z') |
                            mfa_int_ct_mask_range(c, '2', '7');
            for (size_t k = 0; k < len; k++)
                packed[k] |=
                    (uint8_t)(vals[i] &
                              (mfa_int_ct_mask_eq32((uint32_t)k, pos) & data));
            pos += data & 1u;
        }
        memcpy(vals, packed, sizeof(vals));
        sodium_memzero(packed, sizeof(packed));
    }

    for (size_t i = 0; i < ndata; i++) {
        acc = (acc << 5) | vals[i];
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1u;
        }
    }
    /* leftover bits (< 5) of the last character are ignored */
    *outlen = nbytes;
done:
    sodium_memzero(&acc, sizeof(acc));
    sodium_memzero(vals, sizeof(vals));
    return rc;
}

mfa_rc
mfa_base32_decode(const char *in, uint8_t *out, size_t outsize, size_t *outlen)
{
    return base32_decode_masked(in, out, outsize, outlen, 0);
}

mfa_rc
mfa_base32_decode_typed(const char *in, uint8_t *out, size_t outsize,
                        size_t *outlen)
{
    return base32_decode_masked(in, out, outsize, outlen, UINT32_MAX);
}
