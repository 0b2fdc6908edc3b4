/*
 * WebAuthn relying party: configuration, options and the two verdicts.
 * The JSON is in webauthn_json.c, CBOR and signatures in webauthn_cose.c.
 *
 * Built without libfido2, libcbor or json-c (MFA_HAVE_WEBAUTHN == 0),
 * every function returns MFA_ERR_UNSUPPORTED (the rp constructor too), so
 * that the exported symbols are the same in every build.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <mfa/webauthn.h>

#include "config.h"
#include "internal.h"

const char *
mfa_webauthn_fmt_name(mfa_webauthn_fmt fmt)
{
    switch (fmt) {
    case MFA_WEBAUTHN_FMT_NONE:
        return "none";
    case MFA_WEBAUTHN_FMT_PACKED:
        return "packed";
    case MFA_WEBAUTHN_FMT_FIDO_U2F:
        return "fido-u2f";
    }
    return NULL;
}

mfa_rc
mfa_webauthn_challenge_new(uint8_t *buf, size_t len)
{
    if (buf == NULL || len < MFA_WEBAUTHN_CHALLENGE_MIN ||
        len > MFA_WEBAUTHN_CHALLENGE_MAX)
        return MFA_ERR_INVALID;
    if (mfa_int_init() != MFA_OK)
        return MFA_ERR_INTERNAL;
    randombytes_buf(buf, len);
    return MFA_OK;
}

#if MFA_HAVE_WEBAUTHN

#include <pthread.h>

#include <fido.h>

#include "ct.h"
#include "text.h"
#include "webauthn_int.h"

/* libfido2 asks for fido_init before any other of its calls */
static pthread_once_t fido_once = PTHREAD_ONCE_INIT;

static void
fido_setup(void)
{
    fido_init(0);
}

/* A DNS name (or "localhost"): labels of [a-z0-9-], not starting or
 * ending with '-', separated by single dots.  Lowercase only, since the
 * rp id hash is of the exact bytes. */
static int
rp_id_ok(const char *s)
{
    size_t n = strnlen(s, MFA_WEBAUTHN_RP_ID_MAX + 1), label = 0;

    if (n == 0 || n > MFA_WEBAUTHN_RP_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (c == '.') {
            if (label == 0 || s[i - 1] == '-')
                return 0;
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return 0;
        if (c == '-' && label == 0)
            return 0;
        if (++label > 63)
            return 0;
    }
    return label > 0 && s[n - 1] != '-';
}

mfa_rc
mfa_webauthn_rp_new(mfa_webauthn_rp_t **out, const char *rp_id,
                    const char *name)
{
    mfa_webauthn_rp_t *rp;
    mfa_rc rc;

    if (out == NULL)
        return MFA_ERR_INVALID;
    *out = NULL;
    if (rp_id == NULL || name == NULL || !rp_id_ok(rp_id))
        return MFA_ERR_INVALID;
    rc = mfa_int_text_field(name, MFA_WEBAUTHN_NAME_MAX, 1);
    if (rc != MFA_OK)
        return rc;
    if (mfa_int_init() != MFA_OK || pthread_once(&fido_once, fido_setup) != 0)
        return MFA_ERR_INTERNAL;
    rp = calloc(1, sizeof(*rp));
    if (rp == NULL)
        return MFA_ERR_NOMEM;
    memcpy(rp->rp_id, rp_id, strlen(rp_id) + 1);
    memcpy(rp->name, name, strlen(name) + 1);
    crypto_hash_sha256(rp->rp_id_hash, (const unsigned char *)rp->rp_id,
                       strlen(rp->rp_id));
    memcpy(rp->default_origin, "https://", 8);
    memcpy(rp->default_origin + 8, rp_id, strlen(rp_id) + 1);
    rp->uv = MFA_WEBAUTHN_UV_PREFERRED;
    rp->rk = MFA_WEBAUTHN_RK_PREFERRED;
    rp->conveyance = MFA_WEBAUTHN_CONVEY_NONE;
    rp->algs = MFA_WEBAUTHN_ALG_ALL;
    rp->timeout_ms = 300000;
    *out = rp;
    return MFA_OK;
}

void
mfa_webauthn_rp_free(mfa_webauthn_rp_t **rp)
{
    if (rp == NULL || *rp == NULL)
        return;
    free(*rp);
    *rp = NULL;
}

/*
 * scheme://host[:port] and nothing else; the host is the rp id or a name
 * under it; https, or http only on localhost (browsers treat it as a
 * secure context).
 */
static int
origin_ok(const char *rp_id, const char *o, size_t n)
{
    const char *host, *end;
    size_t host_len, id_len = strlen(rp_id);
    int http;

    if (n > 8 && memcmp(o, "https://", 8) == 0) {
        host = o + 8;
        http = 0;
    } else if (n > 7 && memcmp(o, "http://", 7) == 0) {
        host = o + 7;
        http = 1;
    } else {
        return 0;
    }
    end = memchr(host, ':', n - (size_t)(host - o));
    host_len = end != NULL ? (size_t)(end - host) : n - (size_t)(host - o);
    if (end != NULL) {
        const char *p = end + 1;
        size_t digits = n - (size_t)(p - o);

        if (digits == 0 || digits > 5)
            return 0;
        for (; p < o + n; p++)
            if (*p < '0' || *p > '9')
                return 0;
    }
    for (size_t i = 0; i < host_len; i++) {
        char c = host[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '.'))
            return 0;
    }
    if (http && !(host_len == 9 && memcmp(host, "localhost", 9) == 0))
        return 0;
    if (host_len == id_len)
        return memcmp(host, rp_id, id_len) == 0;
    return host_len > id_len + 1 &&
           memcmp(host + host_len - id_len, rp_id, id_len) == 0 &&
           host[host_len - id_len - 1] == '.';
}

mfa_rc
mfa_webauthn_rp_add_origin(mfa_webauthn_rp_t *rp, const char *origin)
{
    size_t n;

    if (rp == NULL || origin == NULL)
        return MFA_ERR_INVALID;
    n = strnlen(origin, MFA_WEBAUTHN_ORIGIN_MAX + 1);
    if (n > MFA_WEBAUTHN_ORIGIN_MAX)
        return MFA_ERR_TOO_LONG;
    if (!origin_ok(rp->rp_id, origin, n))
        return MFA_ERR_INVALID;
    for (size_t i = 0; i < rp->n_origins; i++)
        if (strcmp(rp->origins[i], origin) == 0)
            return MFA_OK;
    if (rp->n_origins == MFA_WEBAUTHN_ORIGINS_MAX)
        return MFA_ERR_TOO_LONG;
    memcpy(rp->origins[rp->n_origins++], origin, n + 1);
    return MFA_OK;
}

mfa_rc
mfa_webauthn_rp_set_user_verification(mfa_webauthn_rp_t *rp, mfa_webauthn_uv uv)
{
    if (rp == NULL || (unsigned)uv > MFA_WEBAUTHN_UV_DISCOURAGED)
        return MFA_ERR_INVALID;
    rp->uv = uv;
    return MFA_OK;
}

mfa_rc
mfa_webauthn_rp_set_resident_key(mfa_webauthn_rp_t *rp,
                                 mfa_webauthn_resident_key rk)
{
    if (rp == NULL || (unsigned)rk > MFA_WEBAUTHN_RK_DISCOURAGED)
        return MFA_ERR_INVALID;
    rp->rk = rk;
    return MFA_OK;
}

mfa_rc
mfa_webauthn_rp_set_algorithms(mfa_webauthn_rp_t *rp, unsigned algs)
{
    if (rp == NULL || algs == 0 || (algs & ~MFA_WEBAUTHN_ALG_ALL) != 0)
        return MFA_ERR_INVALID;
    rp->algs = algs;
    return MFA_OK;
}

mfa_rc
mfa_webauthn_rp_set_attestation(mfa_webauthn_rp_t *rp,
                                mfa_webauthn_conveyance c)
{
    if (rp == NULL || (unsigned)c > MFA_WEBAUTHN_CONVEY_DIRECT)
        return MFA_ERR_INVALID;
    rp->conveyance = c;
    return MFA_OK;
}

mfa_rc
mfa_webauthn_rp_set_timeout(mfa_webauthn_rp_t *rp, uint32_t ms)
{
    if (rp == NULL || ms < 1000 || ms > 600000)
        return MFA_ERR_INVALID;
    rp->timeout_ms = ms;
    return MFA_OK;
}

static mfa_rc
check_descriptors(const mfa_webauthn_descriptor *d, size_t n)
{
    if (n > MFA_WEBAUTHN_LIST_MAX)
        return MFA_ERR_TOO_LONG;
    if (n > 0 && d == NULL)
        return MFA_ERR_INVALID;
    for (size_t i = 0; i < n; i++)
        if (d[i].id == NULL || d[i].id_len == 0 ||
            d[i].id_len > MFA_WEBAUTHN_CRED_ID_MAX)
            return MFA_ERR_INVALID;
    return MFA_OK;
}

static int
challenge_ok(const uint8_t *c, size_t n)
{
    return c != NULL && n >= MFA_WEBAUTHN_CHALLENGE_MIN &&
           n <= MFA_WEBAUTHN_CHALLENGE_MAX;
}

mfa_rc
mfa_webauthn_register_options(const mfa_webauthn_rp_t *rp,
                              const uint8_t *user_handle,
                              size_t user_handle_len, const char *user_name,
                              const char *display_name,
                              const uint8_t *challenge, size_t challenge_len,
                              const mfa_webauthn_descriptor *exclude,
                              size_t n_exclude, char **json)
{
    mfa_rc rc;

    if (json == NULL)
        return MFA_ERR_INVALID;
    *json = NULL;
    if (rp == NULL || user_handle == NULL || user_handle_len == 0 ||
        user_handle_len > MFA_WEBAUTHN_USER_HANDLE_MAX ||
        !challenge_ok(challenge, challenge_len))
        return MFA_ERR_INVALID;
    rc = mfa_int_text_field(user_name, MFA_WEBAUTHN_NAME_MAX, 1);
    if (rc == MFA_OK)
        rc = mfa_int_text_field(display_name, MFA_WEBAUTHN_NAME_MAX, 1);
    if (rc == MFA_OK)
        rc = check_descriptors(exclude, n_exclude);
    if (rc != MFA_OK)
        return rc;
    return mfa_int_wa_creation_json(rp, user_handle, user_handle_len, user_name,
                                    display_name, challenge, challenge_len,
                                    exclude, n_exclude, json);
}

mfa_rc
mfa_webauthn_login_options(const mfa_webauthn_rp_t *rp,
                           const uint8_t *challenge, size_t challenge_len,
                           const mfa_webauthn_descriptor *allow, size_t n_allow,
                           char **json)
{
    mfa_rc rc;

    if (json == NULL)
        return MFA_ERR_INVALID;
    *json = NULL;
    if (rp == NULL || !challenge_ok(challenge, challenge_len))
        return MFA_ERR_INVALID;
    rc = check_descriptors(allow, n_allow);
    if (rc != MFA_OK)
        return rc;
    return mfa_int_wa_request_json(rp, challenge, challenge_len, allow, n_allow,
                                   json);
}

mfa_rc
mfa_webauthn_register_verify(const mfa_webauthn_rp_t *rp,
                             const uint8_t *challenge, size_t challenge_len,
                             const uint8_t *user_handle, size_t user_handle_len,
                             const char *response, size_t response_len,
                             mfa_webauthn_credential *out)
{
    struct mfa_int_wa_response r;
    mfa_rc rc;

    if (out == NULL)
        return MFA_ERR_INVALID;
    memset(out, 0, sizeof(*out));
    if (rp == NULL || !challenge_ok(challenge, challenge_len) ||
        user_handle == NULL || user_handle_len == 0 ||
        user_handle_len > MFA_WEBAUTHN_USER_HANDLE_MAX || response == NULL)
        return MFA_ERR_INVALID;
    rc = mfa_int_wa_response_parse(response, response_len, MFA_INT_WA_CREATE,
                                   &r);
    if (rc != MFA_OK)
        return rc;
    rc = mfa_int_wa_client_data_check(rp, MFA_INT_WA_CREATE, challenge,
                                      challenge_len, r.client_data,
                                      r.client_data_len);
    if (rc == MFA_OK) {
        /* libfido2 hashes clientDataJSON (SHA-256) for the signatures */
        rc = mfa_int_wa_attestation_verify(rp, r.att_object, r.att_object_len,
                                           r.client_data, r.client_data_len,
                                           r.raw_id, r.raw_id_len, out);
    }
    if (rc == MFA_OK) {
        out->transports = r.transports;
        memcpy(out->user_handle, user_handle, user_handle_len);
        out->user_handle_len = user_handle_len;
    } else {
        memset(out, 0, sizeof(*out));
    }
    mfa_int_wa_response_clear(&r);
    return rc;
}

mfa_rc
mfa_webauthn_login_lookup(const char *response, size_t response_len,
                          mfa_webauthn_lookup *out)
{
    struct mfa_int_wa_response r;
    mfa_rc rc;

    if (out == NULL)
        return MFA_ERR_INVALID;
    memset(out, 0, sizeof(*out));
    if (response == NULL)
        return MFA_ERR_INVALID;
    rc = mfa_int_wa_response_parse(response, response_len, MFA_INT_WA_GET, &r);
    if (rc != MFA_OK)
        return rc;
    memcpy(out->credential_id, r.raw_id, r.raw_id_len);
    out->credential_id_len = r.raw_id_len;
    memcpy(out->user_handle, r.user_handle, r.user_handle_len);
    out->user_handle_len = r.user_handle_len;
    mfa_int_wa_response_clear(&r);
    return MFA_OK;
}

static int
stored_ok(const mfa_webauthn_credential *c)
{
    return c != NULL && c->id_len > 0 &&
           c->id_len <= MFA_WEBAUTHN_CRED_ID_MAX && c->public_key_len > 0 &&
           c->public_key_len <= MFA_WEBAUTHN_PUBLIC_KEY_MAX &&
           c->user_handle_len <= MFA_WEBAUTHN_USER_HANDLE_MAX;
}

mfa_rc
mfa_webauthn_login_verify(const mfa_webauthn_rp_t *rp, const uint8_t *challenge,
                          size_t challenge_len, const char *response,
                          size_t response_len,
                          const mfa_webauthn_credential *stored, unsigned flags,
                          mfa_webauthn_assertion *out)
{
    struct mfa_int_wa_response r;
    uint32_t count = 0;
    unsigned ad_flags = 0;
    int eq;
    mfa_rc rc;

    if (out == NULL)
        return MFA_ERR_INVALID;
    memset(out, 0, sizeof(*out));
    if (rp == NULL || !challenge_ok(challenge, challenge_len) ||
        response == NULL || !stored_ok(stored) ||
        (flags & ~MFA_WEBAUTHN_LOGIN_DISCOVERABLE) != 0)
        return MFA_ERR_INVALID;
    rc = mfa_int_wa_response_parse(response, response_len, MFA_INT_WA_GET, &r);
    if (rc != MFA_OK)
        return rc;
    /* the credential the caller looked up must be the one that signed */
    eq = r.raw_id_len == stored->id_len &&
         mfa_int_ct_equal(r.raw_id, stored->id, stored->id_len);
    MFA_CT_PUBLIC(eq);
    if (!eq) {
        rc = MFA_ERR_WEBAUTHN_UNKNOWN_CREDENTIAL;
        goto out;
    }
    rc = mfa_int_wa_client_data_check(rp, MFA_INT_WA_GET, challenge,
                                      challenge_len, r.client_data,
                                      r.client_data_len);
    if (rc != MFA_OK)
        goto out;
    rc = mfa_int_wa_assertion_verify(rp, r.auth_data, r.auth_data_len,
                                     r.client_data, r.client_data_len, r.sig,
                                     r.sig_len, stored, &count, &ad_flags);
    if (rc != MFA_OK)
        goto out;
    /* the user handle, when sent, is the account's; a discoverable login
     * has no other way to name the account */
    if (r.user_handle_len > 0) {
        eq = r.user_handle_len == stored->user_handle_len &&
             mfa_int_ct_equal(r.user_handle, stored->user_handle,
                              stored->user_handle_len);
        MFA_CT_PUBLIC(eq);
        if (!eq) {
            rc = MFA_ERR_WEBAUTHN_USER_HANDLE;
            goto out;
        }
    } else if (flags & MFA_WEBAUTHN_LOGIN_DISCOVERABLE) {
        rc = MFA_ERR_WEBAUTHN_USER_HANDLE;
        goto out;
    }
    /* synced passkeys keep 0 forever; otherwise the count must grow */
    if ((stored->sign_count != 0 || count != 0) &&
        count <= stored->sign_count) {
        rc = MFA_ERR_WEBAUTHN_CLONED;
        goto out;
    }
    out->sign_count = count;
    out->flags = ad_flags;
    memcpy(out->user_handle, r.user_handle, r.user_handle_len);
    out->user_handle_len = r.user_handle_len;
out:
    mfa_int_wa_response_clear(&r);
    return rc;
}

#else /* !MFA_HAVE_WEBAUTHN */

mfa_rc
mfa_webauthn_rp_new(mfa_webauthn_rp_t **out, const char *rp_id,
                    const char *name)
{
    (void)rp_id;
    (void)name;
    if (out != NULL)
        *out = NULL;
    return MFA_ERR_UNSUPPORTED;
}

void
mfa_webauthn_rp_free(mfa_webauthn_rp_t **rp)
{
    if (rp != NULL)
        *rp = NULL;
}

mfa_rc
mfa_webauthn_rp_add_origin(mfa_webauthn_rp_t *rp, const char *origin)
{
    (void)rp;
    (void)origin;
    return MFA_ERR_UNSUPPORTED;
}

mfa_rc
mfa_webauthn_rp_set_user_verification(mfa_webauthn_rp_t *rp, mfa_webauthn_uv uv)
{
    (void)rp;
    (void)uv;
    return MFA_ERR_UNSUPPORTED;
}

mfa_rc
mfa_webauthn_rp_set_resident_key(mfa_webauthn_rp_t *rp,
                                 mfa_webauthn_resident_key rk)
{
    (void)rp;
    (void)rk;
    return MFA_ERR_UNSUPPORTED;
}

mfa_rc
mfa_webauthn_rp_set_algorithms(mfa_webauthn_rp_t *rp, unsigned algs)
{
    (void)rp;
    (void)algs;
    return MFA_ERR_UNSUPPORTED;
}

mfa_rc
mfa_webauthn_rp_set_attestation(mfa_webauthn_rp_t *rp,
                                mfa_webauthn_conveyance c)
{
    (void)rp;
    (void)c;
    return MFA_ERR_UNSUPPORTED;
}

mfa_rc
mfa_webauthn_rp_set_timeout(mfa_webauthn_rp_t *rp, uint32_t ms)
{
    (void)rp;
    (void)ms;
    return MFA_ERR_UNSUPPORTED;
}

mfa_rc
mfa_webauthn_register_options(const mfa_webauthn_rp_t *rp,
                              const uint8_t *user_handle,
                              size_t user_handle_len, const char *user_name,
                              const char *display_name,
                              const uint8_t *challenge, size_t challenge_len,
                              const mfa_webauthn_descriptor *exclude,
                              size_t n_exclude, char **json)
{
    (void)rp;
    (void)user_handle;
    (void)user_handle_len;
    (void)user_name;
    (void)display_name;
    (void)challenge;
    (void)challenge_len;
    (void)exclude;
    (void)n_exclude;
    if (json != NULL)
        *json = NULL;
    return MFA_ERR_UNSUPPORTED;
}

mfa_rc
mfa_webauthn_login_options(const mfa_webauthn_rp_t *rp,
                           const uint8_t *challenge, size_t challenge_len,
                           const mfa_webauthn_descriptor *allow, size_t n_allow,
                           char **json)
{
    (void)rp;
    (void)challenge;
    (void)challenge_len;
    (void)allow;
    (void)n_allow;
    if (json != NULL)
        *json = NULL;
    return MFA_ERR_UNSUPPORTED;
}

mfa_rc
mfa_webauthn_register_verify(const mfa_webauthn_rp_t *rp,
                             const uint8_t *challenge, size_t challenge_len,
                             const uint8_t *user_handle, size_t user_handle_len,
                             const char *response, size_t response_len,
                             mfa_webauthn_credential *out)
{
    (void)rp;
    (void)challenge;
    (void)challenge_len;
    (void)user_handle;
    (void)user_handle_len;
    (void)response;
    (void)response_len;
    if (out != NULL)
        memset(out, 0, sizeof(*out));
    return MFA_ERR_UNSUPPORTED;
}

mfa_rc
mfa_webauthn_login_lookup(const char *response, size_t response_len,
                          mfa_webauthn_lookup *out)
{
    (void)response;
    (void)response_len;
    if (out != NULL)
        memset(out, 0, sizeof(*out));
    return MFA_ERR_UNSUPPORTED;
}

mfa_rc
mfa_webauthn_login_verify(const mfa_webauthn_rp_t *rp, const uint8_t *challenge,
                          size_t challenge_len, const char *response,
                          size_t response_len,
                          const mfa_webauthn_credential *stored, unsigned flags,
                          mfa_webauthn_assertion *out)
{
    (void)rp;
    (void)challenge;
    (void)challenge_len;
    (void)response;
    (void)response_len;
    (void)stored;
    (void)flags;
    if (out != NULL)
        memset(out, 0, sizeof(*out));
    return MFA_ERR_UNSUPPORTED;
}

#endif /* MFA_HAVE_WEBAUTHN */
