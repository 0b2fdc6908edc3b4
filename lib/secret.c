/* Secrets in guarded memory: generation, import, base32 forms. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <mfa/secret.h>

#include "internal.h"

struct mfa_secret {
    size_t len;
    uint8_t bytes[MFA_SECRET_MAX];
};

size_t
mfa_secret_default_bytes(void)
{
    return MFA_SECRET_DEFAULT;
}

size_t
mfa_secret_min_bytes(void)
{
    return MFA_SECRET_MIN;
}

size_t
mfa_secret_max_bytes(void)
{
    return MFA_SECRET_MAX;
}

static mfa_rc
alloc_secret(mfa_secret_t **out)
{
    mfa_secret_t *s;

    if (mfa_int_init() != MFA_OK)
        return MFA_ERR_INTERNAL;
    s = sodium_malloc(sizeof(*s));
    if (s == NULL)
        return MFA_ERR_NOMEM;
    memset(s, 0, sizeof(*s));
    *out = s;
    return MFA_OK;
}

mfa_rc
mfa_int_secret_alloc(mfa_secret_t **out, size_t n, uint8_t **bytes)
{
    mfa_rc rc;

    if (n > MFA_SECRET_MAX)
        return MFA_ERR_SECRET_LONG;
    if ((rc = alloc_secret(out)) != MFA_OK)
        return rc;
    (*out)->len = n;
    *bytes = (*out)->bytes;
    return MFA_OK;
}

static mfa_rc
check_size(size_t n, unsigned flags)
{
    size_t min =
        (flags & MFA_SECRET_LEGACY) ? MFA_SECRET_LEGACY_MIN : MFA_SECRET_MIN;
    if (n < min)
        return MFA_ERR_SECRET_SHORT;
    if (n > MFA_SECRET_MAX)
        return MFA_ERR_SECRET_LONG;
    return MFA_OK;
}

mfa_rc
mfa_secret_new(mfa_secret_t **out, size_t nbytes)
{
    mfa_rc rc;

    if (out == NULL)
        return MFA_ERR_INVALID;
    *out = NULL;
    if (nbytes == 0)
        nbytes = MFA_SECRET_DEFAULT;
    if ((rc = check_size(nbytes, 0)) != MFA_OK)
        return rc;
    if ((rc = alloc_secret(out)) != MFA_OK)
        return rc;
    randombytes_buf((*out)->bytes, nbytes);
    (*out)->len = nbytes;
    return MFA_OK;
}

mfa_rc
mfa_secret_import(mfa_secret_t **out, const uint8_t *bytes, size_t n,
                  unsigned flags)
{
    mfa_rc rc;

    if (out == NULL)
        return MFA_ERR_INVALID;
    *out = NULL;
    if (bytes == NULL || (flags & ~MFA_SECRET_LEGACY) != 0)
        return MFA_ERR_INVALID;
    if ((rc = check_size(n, flags)) != MFA_OK)
        return rc;
    if ((rc = alloc_secret(out)) != MFA_OK)
        return rc;
    memcpy((*out)->bytes, bytes, n);
    (*out)->len = n;
    return MFA_OK;
}

mfa_rc
mfa_secret_from_base32(mfa_secret_t **out, const char *b32, unsigned flags)
{
    mfa_secret_t *s = NULL;
    uint8_t buf[MFA_BASE32_INPUT_MAX];
    size_t n = 0;
    mfa_rc rc;

    if (out == NULL)
        return MFA_ERR_INVALID;
    *out = NULL;
    if (b32 == NULL || (flags & ~MFA_SECRET_LEGACY) != 0)
        return MFA_ERR_INVALID;
    if ((rc = alloc_secret(&s)) != MFA_OK)
        return rc;
    /* decode straight into guarded memory when it fits; a longer secret
     * is decoded into a wiped stack buffer only to be refused */
    rc = mfa_base32_decode(b32, buf, sizeof(buf), &n);
    if (rc == MFA_OK)
        rc = check_size(n, flags);
    if (rc == MFA_OK) {
        memcpy(s->bytes, buf, n);
        s->len = n;
        *out = s;
        s = NULL;
    }
    sodium_memzero(buf, sizeof(buf));
    mfa_secret_free(&s);
    return rc;
}

void
mfa_secret_free(mfa_secret_t **s)
{
    if (s == NULL || *s == NULL)
        return;
    sodium_free(*s);
    *s = NULL;
}

const uint8_t *
mfa_secret_bytes(const mfa_secret_t *s)
{
    return s ? s->bytes : NULL;
}

size_t
mfa_secret_len(const mfa_secret_t *s)
{
    return s ? s->len : 0;
}

mfa_rc
mfa_secret_base32(const mfa_secret_t *s, char **out)
{
    size_t n;
    char *str;
    mfa_rc rc;

    if (out == NULL)
        return MFA_ERR_INVALID;
    *out = NULL;
    if (s == NULL)
        return MFA_ERR_INVALID;
    n = mfa_base32_encoded_len(s->len) + 1;
    if ((str = malloc(n)) == NULL)
        return MFA_ERR_NOMEM;
    if ((rc = mfa_base32_encode(s->bytes, s->len, str, n)) != MFA_OK) {
        sodium_memzero(str, n);
        free(str);
        return rc;
    }
    *out = str;
    return MFA_OK;
}

mfa_rc
mfa_secret_grouped(const mfa_secret_t *s, char **out)
{
    char *plain = NULL, *g;
    size_t n, o = 0;
    mfa_rc rc;

    if (out == NULL)
        return MFA_ERR_INVALID;
    *out = NULL;
    if ((rc = mfa_secret_base32(s, &plain)) != MFA_OK)
        return rc;
    /* the length from the secret's size: strlen would branch on each of
     * the key's characters */
    n = mfa_base32_encoded_len(s->len);
    if ((g = malloc(n + n / 4 + 1)) == NULL) {
        mfa_string_free(&plain);
        return MFA_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && i % 4 == 0)
            g[o++] = ' ';
        g[o++] = plain[i];
    }
    g[o] = '\0';
    mfa_string_free(&plain);
    *out = g;
    return MFA_OK;
}
