/*
 * Several application servers on one PostgreSQL database: 4 processes, each
 * with its own store connection and mfa_ctx, race
 *   - the same valid TOTP code, 1,000 rounds: exactly one acceptance each
 *     round, the others told it was replayed;
 *   - the same backup code, 1,000 rounds: exactly one acceptance each;
 *   - the same out-of-band (SMS) code, 1,000 rounds: exactly one each;
 *   - 1,000 wrong guesses in parallel: every one is counted, and the
 *     throttle lets only the free attempts (and the one that starts the
 *     delay) be checked.
 * A plain program: it prints "N passed, N failed" (one check per round).
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pthread.h>

#include <mfa.h>

#include "pgtest.h"

#define PROCS 4
#define ROUNDS 1000
#define CODES_PER_SET 25 /* backup codes per regeneration */
#define WRONG_EACH (1000 / PROCS)
#define T_START 1700000000

typedef struct shared {
    pthread_barrier_t bar;
    char backup[CODES_PER_SET][MFA_BACKUP_BUFSIZE];
    int16_t totp_rc[ROUNDS][PROCS];
    int16_t backup_rc[ROUNDS][PROCS];
    char oob_code[16];
    int16_t oob_rc[ROUNDS][PROCS];
    int16_t wrong_rc[PROCS][WRONG_EACH];
    int16_t child_fail[PROCS]; /* set-up failed in that child */
} shared;

static const char *conninfo;
static char schema[64];
static shared *sh;
static pgt_user user;
static mfa_keyring_t *kr;
static int passed, failed;

static void
check(int ok, const char *what)
{
    if (ok) {
        passed++;
    } else {
        failed++;
        fprintf(stderr, "FAIL: %s\n", what);
    }
}

static int64_t
round_time(int r)
{
    return T_START + 30 * (int64_t)(r + 1);
}

/* The application's SMS gateway: here, shared memory. */
static mfa_rc
send_sms(const char *account, const char *purpose, const char *code, void *arg)
{
    (void)account;
    (void)purpose;
    (void)arg;
    snprintf(sh->oob_code, sizeof(sh->oob_code), "%s", code);
    return MFA_OK;
}

static void
barrier(void)
{
    pthread_barrier_wait(&sh->bar);
}

/* One application server.  Exits without touching the parent's state. */
static void
server(int me)
{
    mfa_throttle_policy lenient = {1000000, 30, 3600};
    mfa_throttle_policy strict = {MFA_THROTTLE_FREE_DEFAULT,
                                  MFA_THROTTLE_BASE_DEFAULT,
                                  MFA_THROTTLE_MAX_DEFAULT};
    mfa_store_t *store = NULL;
    mfa_ctx_t *ctx = NULL;
    int64_t now = T_START;
    char code[16];
    mfa_result res;
    int r, i, bad = 0;

    alarm(240); /* a stuck peer must not hang the suite */
    if (mfa_store_postgres_open(&store, conninfo, schema) != MFA_OK ||
        mfa_ctx_new(&ctx, store, kr) != MFA_OK ||
        mfa_ctx_set_throttle(ctx, &lenient) != MFA_OK)
        bad = 1;
    else
        mfa_ctx_set_clock(ctx, pgt_clock, &now);
    sh->child_fail[me] = (int16_t)bad;

    /* the same valid code, raced */
    for (r = 0; r < ROUNDS; r++) {
        now = round_time(r);
        pgt_code(&user, now, code);
        barrier();
        sh->totp_rc[r][me] =
            (int16_t)(bad ? MFA_ERR_INTERNAL
                          : mfa_verify(ctx, user.account, code, &res));
    }

    /* the same backup code, raced; server 0 issues the codes */
    for (r = 0; r < ROUNDS; r++) {
        now = round_time(ROUNDS + r);
        barrier(); /* everyone is done with the previous code */
        if (me == 0 && r % CODES_PER_SET == 0 && !bad) {
            char **codes = NULL;
            if (mfa_backup_codes_new(ctx, user.account, CODES_PER_SET,
                                     &codes) == MFA_OK) {
                for (i = 0; i < CODES_PER_SET; i++)
                    memcpy(sh->backup[i], codes[i], MFA_BACKUP_BUFSIZE);
                mfa_backup_codes_free(&codes, CODES_PER_SET);
            } else {
                memset(sh->backup, 0, sizeof(sh->backup));
            }
        }
        barrier();
        sh->backup_rc[r][me] =
            (int16_t)(bad ? MFA_ERR_INTERNAL
                          : mfa_recover(ctx, user.account,
                                        sh->backup[r % CODES_PER_SET], &res));
    }

    /* the same SMS code, raced; server 0 sends a fresh one each round */
    if (!bad)
        mfa_ctx_set_oob_sender(ctx, send_sms, NULL);
    for (r = 0; r < ROUNDS; r++) {
        now = round_time(2 * ROUNDS + r);
        barrier();
        if (me == 0) {
            memset(sh->oob_code, 0, sizeof(sh->oob_code));
            if (!bad && mfa_oob_begin(ctx, user.account, "sms") != MFA_OK)
                memset(sh->oob_code, 0, sizeof(sh->oob_code));
        }
        barrier();
        sh->oob_rc[r][me] =
            (int16_t)(bad ? MFA_ERR_INTERNAL
                          : mfa_oob_verify(ctx, user.account, "sms",
                                           sh->oob_code, &res));
    }

    /* wrong guesses in parallel under the default throttle, at one instant */
    now = round_time(3 * ROUNDS);
    if (!bad && mfa_ctx_set_throttle(ctx, &strict) != MFA_OK)
        bad = 1;
    pgt_wrong_code(&user, now, code);
    barrier(); /* the backup races' losers were counted: start from zero */
    if (me == 0 && !bad) {
        /* the application's "unlock" of an administrator: SQL of its own */
        PGconn *c = pgt_connect(conninfo);
        char sql[256];
        snprintf(sql, sizeof(sql),
                 "DELETE FROM \"%s\".throttle WHERE account = '%s'", schema,
                 user.account);
        if (c == NULL || pgt_exec(c, sql) != 0)
            bad = 1;
        PQfinish(c);
    }
    barrier();
    for (i = 0; i < WRONG_EACH; i++)
        sh->wrong_rc[me][i] =
            (int16_t)(bad ? MFA_ERR_INTERNAL
                          : mfa_verify(ctx, user.account, code, &res));
    mfa_ctx_free(&ctx);
    mfa_store_free(&store);
    _exit(bad ? 2 : 0);
}

static int
count_rc(const int16_t *v, size_t n, mfa_rc rc)
{
    size_t i;
    int k = 0;

    for (i = 0; i < n; i++)
        k += v[i] == rc;
    return k;
}

int
main(void)
{
    pthread_barrierattr_t ba;
    mfa_store_t *store = NULL;
    mfa_ctx_t *ctx = NULL;
    int64_t now = T_START;
    pid_t pids[PROCS];
    char what[128];
    int i, r, status, ok_all;
    uint32_t kid;

    if (mfa_init() != MFA_OK)
        return EXIT_FAILURE;
    if ((conninfo = pgt_conninfo()) == NULL)
        return EXIT_FAILURE;
    pgt_random_name(schema, sizeof(schema), "mfa_s_");

    sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED)
        return EXIT_FAILURE;
    memset(sh, 0, sizeof(*sh));
    pthread_barrierattr_init(&ba);
    pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED);
    pthread_barrier_init(&sh->bar, &ba, PROCS);

    /* enroll with a store of the parent's, closed before forking so that
     * no connection is shared with a child */
    check(mfa_keyring_new(&kr) == MFA_OK &&
              mfa_keyring_generate(kr, &kid) == MFA_OK,
          "key ring");
    check(pgt_create(&store, conninfo, schema) == MFA_OK, "create the store");
    if (store == NULL) {
        printf("%d passed, %d failed\n", passed, failed);
        return EXIT_FAILURE;
    }
    check(mfa_ctx_new(&ctx, store, kr) == MFA_OK, "ctx");
    mfa_ctx_set_clock(ctx, pgt_clock, &now);
    check(pgt_enroll(ctx, &now, "alice@example.com", &user) == 0, "enroll");
    mfa_ctx_free(&ctx);
    mfa_store_free(&store);

    for (i = 0; i < PROCS; i++) {
        pids[i] = fork();
        if (pids[i] == 0)
            server(i);
        check(pids[i] > 0, "fork");
    }
    ok_all = 1;
    for (i = 0; i < PROCS; i++) {
        if (pids[i] <= 0)
            continue;
        waitpid(pids[i], &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            ok_all = 0;
    }
    check(ok_all, "every server ran to the end");

    for (r = 0; r < ROUNDS; r++) {
        int ok = count_rc(sh->totp_rc[r], PROCS, MFA_OK);
        int replayed = count_rc(sh->totp_rc[r], PROCS, MFA_ERR_REPLAYED);
        snprintf(what, sizeof(what),
                 "TOTP round %d: %d accepted, %d replayed (want 1, %d)", r, ok,
                 replayed, PROCS - 1);
        check(ok == 1 && replayed == PROCS - 1, what);
    }
    for (r = 0; r < ROUNDS; r++) {
        int ok = count_rc(sh->backup_rc[r], PROCS, MFA_OK);
        /* a loser saw the code spent (or, for the last of a set, no
         * code left) */
        int lost = count_rc(sh->backup_rc[r], PROCS, MFA_ERR_REPLAYED) +
                   count_rc(sh->backup_rc[r], PROCS, MFA_ERR_CODE_WRONG) +
                   count_rc(sh->backup_rc[r], PROCS, MFA_ERR_NO_CODES);
        snprintf(what, sizeof(what),
                 "backup round %d: %d accepted, %d refused (want 1, %d)", r, ok,
                 lost, PROCS - 1);
        check(ok == 1 && lost == PROCS - 1, what);
    }

    for (r = 0; r < ROUNDS; r++) {
        int ok = count_rc(sh->oob_rc[r], PROCS, MFA_OK);
        int lost = count_rc(sh->oob_rc[r], PROCS, MFA_ERR_REPLAYED) +
                   count_rc(sh->oob_rc[r], PROCS, MFA_ERR_NOT_FOUND);
        snprintf(what, sizeof(what),
                 "SMS round %d: %d accepted, %d refused (want 1, %d)", r, ok,
                 lost, PROCS - 1);
        check(ok == 1 && lost == PROCS - 1, what);
    }

    /* the wrong guesses: all counted, only the free ones (+1) checked */
    {
        int wrong = count_rc(&sh->wrong_rc[0][0], PROCS * WRONG_EACH,
                             MFA_ERR_CODE_WRONG);
        int throttled = count_rc(&sh->wrong_rc[0][0], PROCS * WRONG_EACH,
                                 MFA_ERR_THROTTLED);

        snprintf(what, sizeof(what),
                 "wrong guesses: %d checked, %d throttled (want %d, %d)", wrong,
                 throttled, MFA_THROTTLE_FREE_DEFAULT + 1,
                 PROCS * WRONG_EACH - MFA_THROTTLE_FREE_DEFAULT - 1);
        check(wrong == MFA_THROTTLE_FREE_DEFAULT + 1 &&
                  throttled ==
                      PROCS * WRONG_EACH - MFA_THROTTLE_FREE_DEFAULT - 1,
              what);
    }
    {
        PGconn *c = pgt_connect(conninfo);
        char sql[512];
        long long n;

        check(c != NULL, "connect to check");
        snprintf(sql, sizeof(sql),
                 "SELECT coalesce(sum(failures), 0) FROM \"%s\".throttle "
                 "WHERE account = '%s'",
                 schema, user.account);
        n = c != NULL ? pgt_scalar(c, sql) : -1;
        snprintf(what, sizeof(what), "failures counted: %lld (want %d)", n,
                 PROCS * WRONG_EACH);
        check(n == PROCS * WRONG_EACH, what);
        /* the replay state is the last round's step, nothing beyond */
        snprintf(sql, sizeof(sql),
                 "SELECT last_step FROM \"%s\".factor WHERE id = '%s'", schema,
                 user.factor);
        n = c != NULL ? pgt_scalar(c, sql) : -1;
        check(n == round_time(ROUNDS - 1) / 30,
              "last accepted step is the last round's");
        PQfinish(c);
    }

    mfa_otp_free(&user.otp);
    mfa_keyring_free(&kr);
    if (pgt_drop_schemas(conninfo, schema) != 0)
        check(0, "drop the test schema");
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
