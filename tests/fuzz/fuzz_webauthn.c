/*
 * WebAuthn: mfa_webauthn_register_verify and mfa_webauthn_login_verify
 * (and mfa_webauthn_login_lookup) on any input.  The first byte picks
 * what the rest is:
 *   0  a registration response's JSON
 *   1  an assertion response's JSON
 *   2  id length L, L id bytes, an attestation object: wrapped in a
 *      registration response with a good clientDataJSON
 *   3  authenticator data length L, L bytes of it, a signature: wrapped
 *      in an assertion response with a good clientDataJSON
 *   4  the stored COSE key the seed login is checked against
 * Seeds: tests/fuzz/corpus/webauthn (softauth.py fuzz-seeds).
 *
 * Invariants: a refusal is a negative code and leaves the output zeroed;
 * an accepted registration's record is within its limits, consistent
 * (trust "none" exactly for format "none") and usable by a login; an
 * accepted assertion has a sign count above the stored 41.
 */
#include <mfa/webauthn.h>

#include "fuzz_common.h"
#include "fuzz_webauthn_seed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static mfa_webauthn_rp_t *rp;
static uint8_t challenge[32];
static const uint8_t user[16] = {0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
                                 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
                                 0x5a, 0x5a, 0x5a, 0x5a};
static mfa_webauthn_credential stored;
static char cd_create[256], cd_get[256]; /* base64url clientDataJSON */
static char seed_id_b64[64];

static void
b64(char *out, size_t size, const uint8_t *p, size_t n)
{
    if (sodium_base64_encoded_len(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING) >
        size)
        abort();
    sodium_bin2base64(out, size, p, n,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char ch[64], cd[256];

    (void)argc;
    (void)argv;
    for (size_t i = 0; i < sizeof(challenge); i++)
        challenge[i] = (uint8_t)(i + 1); /* softauth's FUZZ_CHALLENGE */
    b64(ch, sizeof(ch), challenge, sizeof(challenge));
    snprintf(cd, sizeof(cd),
             "{\"type\":\"webauthn.create\",\"challenge\":\"%s\","
             "\"origin\":\"https://example.com\"}",
             ch);
    b64(cd_create, sizeof(cd_create), (const uint8_t *)cd, strlen(cd));
    snprintf(cd, sizeof(cd),
             "{\"type\":\"webauthn.get\",\"challenge\":\"%s\","
             "\"origin\":\"https://example.com\"}",
             ch);
    b64(cd_get, sizeof(cd_get), (const uint8_t *)cd, strlen(cd));
    b64(seed_id_b64, sizeof(seed_id_b64), seed_cred_id, sizeof(seed_cred_id));
    if (mfa_webauthn_rp_new(&rp, "example.com", "Example") != MFA_OK)
        abort();
    memcpy(stored.id, seed_cred_id, sizeof(seed_cred_id));
    stored.id_len = sizeof(seed_cred_id);
    memcpy(stored.public_key, seed_cose, sizeof(seed_cose));
    stored.public_key_len = sizeof(seed_cose);
    stored.algorithm = MFA_WEBAUTHN_ES256;
    stored.sign_count = 41;
    memcpy(stored.user_handle, user, sizeof(user));
    stored.user_handle_len = sizeof(user);
    return 0;
}

static int
all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;

    for (size_t i = 0; i < n; i++)
        if (b[i] != 0)
            return 0;
    return 1;
}

static void
check_register(const char *json, size_t len)
{
    mfa_webauthn_credential c;
    mfa_webauthn_assertion a;
    mfa_rc rc;

    rc = mfa_webauthn_register_verify(rp, challenge, sizeof(challenge), user,
                                      sizeof(user), json, len, &c);
    if (rc != MFA_OK) {
        FUZZ_ASSERT(rc < 0);
        FUZZ_ASSERT(all_zero(&c, sizeof(c)));
        return;
    }
    FUZZ_ASSERT(c.id_len >= MFA_WEBAUTHN_CRED_ID_MIN &&
                c.id_len <= MFA_WEBAUTHN_CRED_ID_MAX);
    FUZZ_ASSERT(c.public_key_len > 0 &&
                c.public_key_len <= MFA_WEBAUTHN_PUBLIC_KEY_MAX);
    FUZZ_ASSERT(c.algorithm == MFA_WEBAUTHN_ES256 ||
                c.algorithm == MFA_WEBAUTHN_EDDSA ||
                c.algorithm == MFA_WEBAUTHN_RS256);
    FUZZ_ASSERT(mfa_webauthn_fmt_name(c.attestation_format) != NULL);
    FUZZ_ASSERT((c.attestation_trust == MFA_WEBAUTHN_TRUST_NONE) ==
                (c.attestation_format == MFA_WEBAUTHN_FMT_NONE));
    FUZZ_ASSERT(c.flags & MFA_WEBAUTHN_FLAG_UP);
    FUZZ_ASSERT(c.user_handle_len == sizeof(user));
    /* the record is usable: the seed login is not its credential's */
    rc = mfa_webauthn_login_verify(rp, challenge, sizeof(challenge), seed_login,
                                   strlen(seed_login), &c, 0, &a);
    FUZZ_ASSERT(
        rc == MFA_ERR_WEBAUTHN_UNKNOWN_CREDENTIAL ||
        (c.id_len == stored.id_len && memcmp(c.id, stored.id, c.id_len) == 0));
}

static void
check_login(const char *json, size_t len, const mfa_webauthn_credential *s)
{
    mfa_webauthn_assertion a;
    mfa_webauthn_lookup l;
    mfa_rc rc;

    rc = mfa_webauthn_login_verify(rp, challenge, sizeof(challenge), json, len,
                                   s, 0, &a);
    if (rc != MFA_OK) {
        FUZZ_ASSERT(rc < 0);
        FUZZ_ASSERT(all_zero(&a, sizeof(a)));
    } else {
        FUZZ_ASSERT(a.sign_count > s->sign_count);
        FUZZ_ASSERT(a.flags & MFA_WEBAUTHN_FLAG_UP);
    }
    rc = mfa_webauthn_login_lookup(json, len, &l);
    if (rc != MFA_OK) {
        FUZZ_ASSERT(rc < 0);
        FUZZ_ASSERT(all_zero(&l, sizeof(l)));
    } else {
        FUZZ_ASSERT(l.credential_id_len <= MFA_WEBAUTHN_CRED_ID_MAX);
        FUZZ_ASSERT(l.user_handle_len <= MFA_WEBAUTHN_USER_HANDLE_MAX);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mfa_webauthn_credential s = stored;
    long mark = fuzz_guarded_mark();
    size_t n, cap;
    char *json, *a, *b;

    if (size < 1 || size > 40000)
        return 0;
    switch (data[0]) {
    case 0:
    case 1:
        /* the text as given, not NUL-terminated: the length is the API's */
        json = malloc(size - 1 + 1);
        if (json == NULL)
            abort();
        memcpy(json, data + 1, size - 1);
        if (data[0] == 0)
            check_register(json, size - 1);
        else
            check_login(json, size - 1, &stored);
        free(json);
        break;
    case 2:
    case 3:
        if (size < 2 || (n = data[1]) > size - 2)
            return 0;
        cap = 2 * size + 1024;
        a = malloc(cap);
        b = malloc(cap);
        json = malloc(2 * cap);
        if (a == NULL || b == NULL || json == NULL)
            abort();
        b64(a, cap, data + 2, n);
        b64(b, cap, data + 2 + n, size - 2 - n);
        if (data[0] == 2)
            snprintf(json, 2 * cap,
                     "{\"id\":\"%s\",\"rawId\":\"%s\",\"type\":\"public-key\","
                     "\"response\":{\"clientDataJSON\":\"%s\","
                     "\"attestationObject\":\"%s\"}}",
                     a, a, cd_create, b);
        else
            snprintf(json, 2 * cap,
                     "{\"id\":\"%s\",\"rawId\":\"%s\",\"type\":\"public-key\","
                     "\"response\":{\"clientDataJSON\":\"%s\","
                     "\"authenticatorData\":\"%s\",\"signature\":\"%s\"}}",
                     seed_id_b64, seed_id_b64, cd_get, a, b);
        if (data[0] == 2)
            check_register(json, strlen(json));
        else
            check_login(json, strlen(json), &stored);
        free(a);
        free(b);
        free(json);
        break;
    case 4:
        n = size - 1 < sizeof(s.public_key) ? size - 1 : sizeof(s.public_key);
        memcpy(s.public_key, data + 1, n);
        s.public_key_len = n;
        check_login(seed_login, strlen(seed_login), &s);
        break;
    default:
        return 0;
    }
    fuzz_guarded_check(mark);
    return 0;
}
