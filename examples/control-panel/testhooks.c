/*
 * Test-only hooks, kept out of the flows.  Off unless the browser tests
 * (tests/e2e) set the variable; the server logs a warning when one is on.
 *
 * MFA_CP_TEST_CLOCK_FILE=PATH: seconds added to the real clock, re-read on
 * every call, so that a test moves time forward (the next 30-second code,
 * past a throttle's delay, past a session's deadline) without sleeping.
 * It is the one clock: the pages, the password throttle and libmfa
 * (mfa_ctx_set_clock in main.c) all read cp_now.
 */
#include "cp.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static const char *clock_file;

void
cp_test_hooks_init(void)
{
    clock_file = getenv("MFA_CP_TEST_CLOCK_FILE");
    if (clock_file && !clock_file[0])
        clock_file = NULL;
    if (clock_file)
        cp_log("warning: test clock enabled (MFA_CP_TEST_CLOCK_FILE)");
}

int64_t
cp_now(void)
{
    int64_t now = (int64_t)time(NULL);
    if (clock_file) {
        FILE *f = fopen(clock_file, "r");
        long long off = 0;
        if (f) {
            if (fscanf(f, "%lld", &off) != 1)
                off = 0;
            fclose(f);
        }
        now += (int64_t)off;
    }
    return now;
}
