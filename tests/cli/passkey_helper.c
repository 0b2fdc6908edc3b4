/*
 * For tests/cli/test_store.py: give an account of a store a passkey, as a
 * browser would through the service flows (tests/webauthn/softauth_c.h),
 * and log in with it once, so that `mfa passkeys`, `rename` and `remove`
 * have one to show.
 *
 *   passkey-helper STORE-SPEC KEYRING ACCOUNT UNIX-SECONDS LABEL [SCHEMA]
 *
 * SCHEMA: the PostgreSQL schema of a postgres:CONNINFO store (as the
 * CLI's --schema).
 * Prints the passkey's factor id; exit 0, or 1 with the error on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mfa.h>

#include "softauth_c.h"

#define ORIGIN "https://example.com"

static int64_t now;

static int64_t
clock_of(void *arg)
{
    (void)arg;
    return now;
}

static int
die(const char *what, mfa_rc rc)
{
    fprintf(stderr, "passkey-helper: %s: %s\n", what, mfa_strerror(rc));
    return 1;
}

int
main(int argc, char **argv)
{
    mfa_webauthn_rp_t *rp = NULL;
    mfa_keyring_t *kr = NULL;
    mfa_store_t *store = NULL;
    mfa_ctx_t *ctx = NULL;
    softauth *sa = NULL;
    char *opts = NULL, *resp = NULL;
    mfa_result r;
    mfa_rc rc;
    int out = 1;

    if (argc != 6 && argc != 7) {
        fprintf(stderr, "usage: passkey-helper STORE KEYRING ACCOUNT TIME "
                        "LABEL [SCHEMA]\n");
        return 2;
    }
    if (argc == 7 && strncmp(argv[1], "postgres:", 9) != 0) {
        fprintf(stderr, "passkey-helper: a schema is for a postgres: store\n");
        return 2;
    }
    now = strtoll(argv[4], NULL, 10);
    if ((rc = mfa_init()) != MFA_OK)
        return die("init", rc);
    if ((rc = mfa_keyring_load(&kr, argv[2])) != MFA_OK)
        return die("key ring", rc);
    rc = argc == 7 ? mfa_store_postgres_open(&store, argv[1] + 9, argv[6])
                   : mfa_store_open(&store, argv[1]);
    if (rc != MFA_OK) {
        mfa_keyring_free(&kr);
        return die("store", rc);
    }
    if ((rc = mfa_ctx_new(&ctx, store, kr)) != MFA_OK ||
        (rc = mfa_webauthn_rp_new(&rp, "example.com", "Example")) != MFA_OK ||
        (rc = mfa_ctx_set_webauthn(ctx, rp)) != MFA_OK) {
        die("ctx", rc);
        goto done;
    }
    mfa_ctx_set_clock(ctx, clock_of, NULL);
    if (softauth_new(&sa, MFA_WEBAUTHN_ES256) != 0) {
        fprintf(stderr, "passkey-helper: softauth_new failed\n");
        goto done;
    }
    if ((rc = mfa_webauthn_register_begin(ctx, argv[3], NULL, NULL, &opts)) !=
        MFA_OK) {
        die("register begin", rc);
        goto done;
    }
    if (softauth_register(sa, opts, NULL, ORIGIN, &resp) != 0) {
        fprintf(stderr, "passkey-helper: softauth_register failed\n");
        goto done;
    }
    if ((rc = mfa_webauthn_register_finish(ctx, argv[3], argv[5], resp,
                                           strlen(resp), &r)) != MFA_OK) {
        die("register finish", rc);
        goto done;
    }
    mfa_free(opts);
    free(resp);
    opts = resp = NULL;
    if ((rc = mfa_webauthn_login_begin(ctx, argv[3], &opts)) != MFA_OK) {
        die("login begin", rc);
        goto done;
    }
    if (softauth_assert(sa, opts, NULL, ORIGIN, &resp) != 0) {
        fprintf(stderr, "passkey-helper: softauth_assert failed\n");
        goto done;
    }
    if ((rc = mfa_webauthn_login_finish(ctx, argv[3], resp, strlen(resp), NULL,
                                        &r)) != MFA_OK) {
        die("login finish", rc);
        goto done;
    }
    printf("%s\n", r.factor_id);
    out = 0;
done:
    mfa_free(opts);
    free(resp);
    softauth_free(&sa);
    mfa_ctx_free(&ctx);
    mfa_webauthn_rp_free(&rp);
    mfa_store_free(&store);
    mfa_keyring_free(&kr);
    return out;
}
