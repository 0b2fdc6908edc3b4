/* UTF-8 validation and percent-encoding for key URIs. */
#include <stddef.h>
#include <string.h>

#include <mfa/backup.h>
#include <mfa/store.h>

#include "text.h"

static int
hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/*
 * General category Cf of Unicode 15.0 (UnicodeData.txt), sorted.  These
 * render as nothing or reorder what follows (U+200B, U+202E, U+FEFF), so
 * "adm\u200bin" would be another account that prints as "admin".
 * tests/test_uri.c checks the table against the system's UnicodeData.txt.
 */
static const struct {
    uint32_t lo, hi;
} format_chars[] = {
    {0x00ad, 0x00ad},   {0x0600, 0x0605},   {0x061c, 0x061c},
    {0x06dd, 0x06dd},   {0x070f, 0x070f},   {0x0890, 0x0891},
    {0x08e2, 0x08e2},   {0x180e, 0x180e},   {0x200b, 0x200f},
    {0x202a, 0x202e},   {0x2060, 0x2064},   {0x2066, 0x206f},
    {0xfeff, 0xfeff},   {0xfff9, 0xfffb},   {0x110bd, 0x110bd},
    {0x110cd, 0x110cd}, {0x13430, 0x1343f}, {0x1bca0, 0x1bca3},
    {0x1d173, 0x1d17a}, {0xe0001, 0xe0001}, {0xe0020, 0xe007f},
};

int
mfa_int_is_format_char(uint32_t cp)
{
    size_t lo = 0, hi = sizeof(format_chars) / sizeof(format_chars[0]);

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (cp < format_chars[mid].lo)
            hi = mid;
        else if (cp > format_chars[mid].hi)
            lo = mid + 1;
        else
            return 1;
    }
    return 0;
}

/* The 66 noncharacters: U+FDD0..U+FDEF and the last two of every plane. */
static int
is_noncharacter(uint32_t cp)
{
    return (cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffeu) == 0xfffeu;
}

mfa_rc
mfa_int_text_check(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < n) {
        unsigned char c = p[i];
        uint32_t cp;
        size_t len;

        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f)
                return MFA_ERR_CONTROL_CHAR;
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1fu;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0fu;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07u;
        } else {
            return MFA_ERR_UTF8;
        }
        if (n - i < len)
            return MFA_ERR_UTF8;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return MFA_ERR_UTF8;
            cp = (cp << 6) | (p[i + k] & 0x3fu);
        }
        /* overlong forms, UTF-16 surrogates, beyond Unicode */
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
            return MFA_ERR_UTF8;
        /* C1 controls render as nothing or garbage in every app */
        if (cp >= 0x80 && cp <= 0x9f)
            return MFA_ERR_CONTROL_CHAR;
        /* line and paragraph separators break a line like '\n' does */
        if (cp == 0x2028 || cp == 0x2029)
            return MFA_ERR_CONTROL_CHAR;
        if (mfa_int_is_format_char(cp))
            return MFA_ERR_FORMAT_CHAR;
        if (is_noncharacter(cp))
            return MFA_ERR_NONCHARACTER;
        i += len;
    }
    return MFA_OK;
}

mfa_rc
mfa_int_text_field(const char *s, size_t max, int required)
{
    size_t n;

    if (s == NULL)
        return MFA_ERR_INVALID;
    n = strnlen(s, max + 1);
    if (n > max)
        return MFA_ERR_TOO_LONG;
    if (n == 0)
        return required ? MFA_ERR_EMPTY : MFA_OK;
    return mfa_int_text_check(s, n);
}

int
mfa_int_factor_id_ok(const char *s)
{
    size_t i;

    if (s == NULL)
        return 0;
    for (i = 0; i < MFA_FACTOR_ID_LEN; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
    }
    return s[MFA_FACTOR_ID_LEN] == '\0';
}

mfa_rc
mfa_int_purpose_check(const char *p)
{
    size_t n;

    if (p == NULL)
        return MFA_ERR_INVALID;
    n = strnlen(p, MFA_OOB_PURPOSE_MAX + 1);
    if (n == 0)
        return MFA_ERR_EMPTY;
    if (n > MFA_OOB_PURPOSE_MAX)
        return MFA_ERR_TOO_LONG;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
            return MFA_ERR_INVALID;
    }
    return MFA_OK;
}

int
mfa_int_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
           c == '~';
}

size_t
mfa_int_pct_encoded_max(size_t n)
{
    return 3 * n + 1;
}

mfa_rc
mfa_int_pct_encode(const char *s, size_t n, const char *keep, char *out,
                   size_t outsize, size_t *outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (mfa_int_unreserved(c) ||
            (keep != NULL && c != '\0' && strchr(keep, c) != NULL)) {
            if (o + 1 >= outsize)
                return MFA_ERR_BUFFER;
            out[o++] = (char)c;
        } else {
            if (o + 3 >= outsize)
                return MFA_ERR_BUFFER;
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    if (o >= outsize)
        return MFA_ERR_BUFFER;
    out[o] = '\0';
    if (outlen != NULL)
        *outlen = o;
    return MFA_OK;
}

mfa_rc
mfa_int_pct_decode(const char *s, size_t n, char *out, size_t outsize,
                   size_t *outlen)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '%') {
            int hi, lo;

            if (n - i < 3)
                return MFA_ERR_URI_ENCODING;
            hi = hexval((unsigned char)s[i + 1]);
            lo = hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0)
                return MFA_ERR_URI_ENCODING;
            c = (unsigned char)(hi << 4 | lo);
            if (c == 0)
                return MFA_ERR_CONTROL_CHAR;
            i += 2;
        }
        if (o + 1 >= outsize)
            return MFA_ERR_BUFFER;
        out[o++] = (char)c;
    }
    if (o >= outsize)
        return MFA_ERR_BUFFER;
    out[o] = '\0';
    if (outlen != NULL)
        *outlen = o;
    return MFA_OK;
}
