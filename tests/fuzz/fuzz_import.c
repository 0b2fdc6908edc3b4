/*
 * The import parsers (mfa_factor_import): google-authenticator files,
 * pam_oath's users.oath and otpauth:// URI lists.
 *
 * An input is a selector byte (format, and whether URIs keep their own
 * accounts) and the file's text.  Each input imports into an empty memory
 * store; the harness aborts when
 *   - the import fails with an error that is not about its input
 *     (MFA_ERR_INTERNAL, a store or key ring error),
 *   - a refused import stored anything (all or nothing: the store's
 *     factor count, seen through a key rotation that reseals nothing, and
 *     the account's backup codes stay 0), or its report lists factors,
 *   - an accepted import's report disagrees with the store: every factor
 *     it names is an active factor of the account it names, the store
 *     holds exactly that many, the scratch codes are that many backup
 *     codes,
 *   - importing the same text again is accepted, or changes the store (an
 *     account never holds one secret twice),
 *   - a report's message or note repeats what the input holds as a secret
 *     (16 hex or base32 characters or more): secrets never reach error
 *     messages.
 */
#include <ctype.h>
#include <strings.h>

#include <mfa/device.h>
#include <mfa/import.h>
#include <mfa/service.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static mfa_keyring_t *ring;
static const char *const account = "fuzz@example.com";

/* Shortest secret looked for in messages: shorter values could be any
 * word of a message. */
#define SECRET_MIN 16
#define SECRETS_MAX 64

typedef struct secrets {
    char v[SECRETS_MAX][MFA_IMPORT_LINE_MAX + 1];
    size_t n;
} secrets;

/* The characters of a hex (users.oath) or base32 secret. */
static int
secret_char(int c)
{
    return isxdigit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           c == '=';
}

/* How often needle[0..n) occurs in t[0..len). */
static size_t
occurrences(const char *t, size_t len, const char *needle, size_t n)
{
    size_t k = 0;

    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(t + i, needle, n) == 0)
            k++;
    return k;
}

/* A value is looked for only when the text holds it once: a secret that
 * is also part of a name (which a report may quote) proves nothing. */
static void
add_secret(secrets *s, const char *t, size_t len, const char *p, size_t n)
{
    if (n < SECRET_MIN || n > MFA_IMPORT_LINE_MAX || s->n == SECRETS_MAX)
        return;
    for (size_t i = 0; i < n; i++)
        if (!secret_char((unsigned char)p[i]))
            return; /* a file's words, not a secret */
    if (occurrences(t, len, p, n) != 1)
        return;
    memcpy(s->v[s->n], p, n);
    s->v[s->n][n] = '\0';
    /* a NUL inside it ends it early: still a prefix of the secret */
    if (strlen(s->v[s->n]) >= SECRET_MIN)
        s->n++;
}

/* What each format holds as a secret, from the text as it is: the first
 * line of a google-authenticator file, the fourth field of a users.oath
 * line, the value of every "secret=" of a URI. */
static void
find_secrets(mfa_import_format fmt, const char *t, size_t len, secrets *s)
{
    s->n = 0;
    if (fmt == MFA_IMPORT_GOOGLE_AUTHENTICATOR) {
        size_t n = 0;

        while (n < len && t[n] != '\n' && t[n] != '\r')
            n++;
        add_secret(s, t, len, t, n);
        return;
    }
    for (size_t i = 0; i < len;) {
        size_t eol = i;

        while (eol < len && t[eol] != '\n')
            eol++;
        if (fmt == MFA_IMPORT_OATH_USERS) {
            size_t p = i;

            for (int field = 0; field < 4 && p < eol; field++) {
                size_t b;

                while (p < eol && isspace((unsigned char)t[p]))
                    p++;
                b = p;
                while (p < eol && !isspace((unsigned char)t[p]))
                    p++;
                if (field == 3)
                    add_secret(s, t, len, t + b, p - b);
            }
        } else {
            size_t q = i;

            /* the parameters: after the line's first '?', each after a
             * '?' or '&' (the label may hold "secret=" as a name) */
            while (q < eol && t[q] != '?')
                q++;
            for (size_t p = q + 1; p + 7 <= eol; p++) {
                size_t b, e;

                if ((t[p - 1] != '?' && t[p - 1] != '&') ||
                    strncasecmp(t + p, "secret=", 7) != 0)
                    continue;
                b = e = p + 7;
                while (e < eol && t[e] != '&' && t[e] != '#' &&
                       !isspace((unsigned char)t[e]))
                    e++;
                add_secret(s, t, len, t + b, e - b);
            }
        }
        i = eol + 1;
    }
}

static int
repeats_secret(const char *msg, const secrets *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (strstr(msg, s->v[i]) != NULL)
            return 1;
    return 0;
}

static secrets found_secrets;

static void
report_clean(const mfa_import_report_t *r)
{
    if (r == NULL)
        return;
    FUZZ_ASSERT(!repeats_secret(mfa_import_report_message(r), &found_secrets));
    for (size_t i = 0; i < mfa_import_report_notes(r); i++)
        FUZZ_ASSERT(
            !repeats_secret(mfa_import_report_note(r, i), &found_secrets));
}

/* Factors in the whole store: a rotation to the ring's only key reseals
 * none and skips each. */
static size_t
store_factors(mfa_ctx_t *ctx)
{
    size_t resealed = 99, skipped = 0;

    FUZZ_ASSERT(mfa_keyring_rotate(ctx, &resealed, &skipped) == MFA_OK);
    FUZZ_ASSERT(resealed == 0);
    return skipped;
}

static size_t
backup_left(mfa_ctx_t *ctx)
{
    size_t n = 0;
    mfa_rc rc = mfa_backup_codes_left(ctx, account, &n);

    FUZZ_ASSERT(rc == MFA_OK || rc == MFA_ERR_NO_CODES);
    return rc == MFA_OK ? n : 0;
}

/* The errors an import may give for its input. */
static int
input_error(mfa_rc rc)
{
    switch (rc) {
    case MFA_ERR_IMPORT_LINE:
    case MFA_ERR_IMPORT_DUPLICATE:
    case MFA_ERR_IMPORT_LIMIT:
    case MFA_ERR_TOO_LONG:
    case MFA_ERR_EMPTY:
    case MFA_ERR_INVALID:
        return 1;
    default:
        return 0;
    }
}

/* Every factor the report names is an active factor of its account. */
static void
report_matches_store(mfa_ctx_t *ctx, const mfa_import_report_t *r)
{
    for (size_t i = 0; i < mfa_import_report_count(r); i++) {
        const char *acct = mfa_import_report_account(r, i);
        const char *id = mfa_import_report_factor_id(r, i);
        mfa_factor_info *list = NULL;
        size_t n = 0, found = 0;

        FUZZ_ASSERT(acct != NULL && id != NULL);
        FUZZ_ASSERT(mfa_import_report_factor_line(r, i) > 0);
        FUZZ_ASSERT(mfa_factors_list(ctx, acct, &list, &n) == MFA_OK);
        for (size_t k = 0; k < n; k++)
            if (strcmp(list[k].id, id) == 0) {
                FUZZ_ASSERT(list[k].status == MFA_FACTOR_ACTIVE);
                found++;
            }
        mfa_free(list);
        FUZZ_ASSERT(found == 1);
    }
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    uint8_t key[MFA_KEYRING_KEYBYTES];

    (void)argc;
    (void)argv;
    memset(key, 0x5a, sizeof(key));
    if (mfa_keyring_new(&ring) != MFA_OK ||
        mfa_keyring_add(ring, 1, key, 1) != MFA_OK) {
        fprintf(stderr, "fuzz-import set-up: key ring\n");
        abort();
    }
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const mfa_import_format formats[3] = {
        MFA_IMPORT_GOOGLE_AUTHENTICATOR,
        MFA_IMPORT_OATH_USERS,
        MFA_IMPORT_URI,
    };
    mfa_import_report_t *rep = NULL, *again = NULL;
    mfa_store_t *store = NULL;
    mfa_ctx_t *ctx = NULL;
    mfa_import_format fmt;
    const char *acct, *text;
    size_t len, stored;
    long mark = fuzz_guarded_live;
    mfa_rc rc;

    if (size < 1)
        return 0;
    fmt = formats[data[0] % 3];
    acct = fmt == MFA_IMPORT_GOOGLE_AUTHENTICATOR          ? account
           : fmt == MFA_IMPORT_URI && (data[0] & 0x4) != 0 ? account
                                                           : NULL;
    text = (const char *)data + 1;
    len = size - 1;
    FUZZ_ASSERT(mfa_store_memory_new(&store) == MFA_OK);
    FUZZ_ASSERT(mfa_ctx_new(&ctx, store, ring) == MFA_OK);
    FUZZ_ASSERT(mfa_ctx_set_devices(ctx, 0, 0) == MFA_OK);

    find_secrets(fmt, text, len, &found_secrets);
    rc = mfa_factor_import(ctx, fmt, acct, text, len, &rep);
    FUZZ_ASSERT(rep != NULL);
    FUZZ_ASSERT(mfa_import_report_cause(rep) == MFA_OK || rc != MFA_OK);
    report_clean(rep);
    stored = store_factors(ctx);
    if (rc != MFA_OK) {
        FUZZ_ASSERT(input_error(rc));
        FUZZ_ASSERT(stored == 0);
        FUZZ_ASSERT(backup_left(ctx) == 0);
        FUZZ_ASSERT(mfa_import_report_count(rep) == 0);
        FUZZ_ASSERT(mfa_import_report_message(rep)[0] != '\0');
    } else {
        size_t codes = backup_left(ctx);

        FUZZ_ASSERT(mfa_import_report_count(rep) > 0);
        FUZZ_ASSERT(stored == mfa_import_report_count(rep));
        FUZZ_ASSERT(codes == mfa_import_report_backup_codes(rep));
        FUZZ_ASSERT(mfa_import_report_message(rep)[0] == '\0');
        report_matches_store(ctx, rep);

        /* the same secrets again: refused, nothing changed */
        rc = mfa_factor_import(ctx, fmt, acct, text, len, &again);
        FUZZ_ASSERT(rc == MFA_ERR_IMPORT_DUPLICATE ||
                    rc == MFA_ERR_IMPORT_LIMIT);
        report_clean(again);
        FUZZ_ASSERT(store_factors(ctx) == stored);
        FUZZ_ASSERT(backup_left(ctx) == codes);
        mfa_import_report_free(&again);
    }
    mfa_import_report_free(&rep);
    mfa_ctx_free(&ctx);
    mfa_store_free(&store);
    FUZZ_ASSERT(fuzz_guarded_live == mark);
    return 0;
}
