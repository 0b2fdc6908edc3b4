/*
 * The README's ten-line example, compiled by the build so that it cannot
 * drift from the API: the ```c block of README.md is extracted into
 * readme_snippet.h and included as the body of a function.  It is only
 * compiled (its paths are the README's, not a test's); the same flow runs
 * for real in examples/integration/login.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <mfa.h>

static void
die(const char *msg)
{
    fprintf(stderr, "%s\n", msg);
    exit(1);
}

static void
login_ok(void)
{
    puts("welcome");
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
say(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

void readme_example(const char *user, const char *typed_code);

void
readme_example(const char *user, const char *typed_code)
{
#include "readme_snippet.h"
}

int
main(int argc, char **argv)
{
    if (argc == 3)
        readme_example(argv[1], argv[2]);
    return 0;
}
