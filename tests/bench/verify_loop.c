/*
 * N wrong-code verifies through the memory store on one factor, for
 * instruction counts under callgrind: a count is repeatable where wall
 * time on a shared machine is not, and the same source builds against an
 * older libmfa to compare.
 *
 *   valgrind --tool=callgrind ./build/tests/bench/verify-loop 1000
 *   valgrind --tool=callgrind ./build/tests/bench/verify-loop 3000
 *   (Collected at 3000 - Collected at 1000) / 2000 = instructions per verify
 */
#include <stdio.h>
#include <stdlib.h>

#include <mfa.h>

static int64_t now = 1700000000;

static int64_t
fixed_clock(void *arg)
{
    (void)arg;
    return now;
}

int
main(int argc, char **argv)
{
    /* every guess checked: the loop measures verification, not the lock */
    const mfa_throttle_policy lenient = {1000000000u, 1, 1};
    mfa_store_t *store = NULL;
    mfa_keyring_t *kr = NULL;
    mfa_ctx_t *ctx = NULL;
    mfa_enrollment_t *e = NULL;
    mfa_secret_t *sec = NULL;
    mfa_otp_t *app = NULL;
    char code[MFA_CODE_BUFSIZE], wrong[MFA_CODE_BUFSIZE];
    int n = argc > 1 ? atoi(argv[1]) : 1000;
    uint32_t id;
    mfa_result r;

    if (mfa_store_memory_new(&store) != MFA_OK ||
        mfa_keyring_new(&kr) != MFA_OK ||
        mfa_keyring_generate(kr, &id) != MFA_OK ||
        mfa_ctx_new(&ctx, store, kr) != MFA_OK ||
        mfa_ctx_set_throttle(ctx, &lenient) != MFA_OK)
        return 1;
    mfa_ctx_set_clock(ctx, fixed_clock, NULL);
    if (mfa_enroll_begin(ctx, "alice", NULL, NULL, &e) != MFA_OK ||
        mfa_secret_from_base32(&sec, mfa_enrollment_secret(e), 0) != MFA_OK ||
        mfa_otp_new(&app, mfa_secret_bytes(sec), mfa_secret_len(sec)) !=
            MFA_OK ||
        mfa_otp_totp(app, now, code, sizeof(code)) != MFA_OK ||
        mfa_enroll_confirm(ctx, "alice", mfa_enrollment_factor_id(e), code,
                           &r) != MFA_OK)
        return 2;
    /* a code three days away: no step of the window gives it */
    if (mfa_otp_totp(app, now + 3 * 86400, wrong, sizeof(wrong)) != MFA_OK)
        return 3;
    for (int i = 0; i < n; i++)
        if (mfa_verify(ctx, "alice", wrong, &r) != MFA_ERR_CODE_WRONG)
            return 4;
    printf("%d wrong-code verifies\n", n);
    mfa_otp_free(&app);
    mfa_secret_free(&sec);
    mfa_enrollment_free(&e);
    mfa_ctx_free(&ctx);
    mfa_store_free(&store);
    mfa_keyring_free(&kr);
    return 0;
}
