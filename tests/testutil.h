/* Shared helpers for the Check suites. */
#ifndef MFA_TESTUTIL_H
#define MFA_TESTUTIL_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Open tests/vectors/NAME; the directory comes from MFA_VECTORS_DIR. */
static inline FILE *
tu_vector_open(const char *name)
{
    char path[4096];
    const char *dir = getenv("MFA_VECTORS_DIR");
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/vectors", name);
    f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open vector file %s", path);
    return f;
}

/* Next non-comment, non-empty line of a vector file, newline stripped. */
static inline int
tu_vector_line(FILE *f, char *buf, size_t size)
{
    while (fgets(buf, (int)size, f) != NULL) {
        size_t n = strlen(buf);
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
            buf[--n] = '\0';
        if (n == 0 || buf[0] == '#')
            continue;
        return 1;
    }
    return 0;
}

static inline size_t
tu_unhex(const char *hex, unsigned char *out, size_t max)
{
    size_t n = 0;
    while (hex[0] && hex[1] && n < max) {
        unsigned v;
        sscanf(hex, "%2x", &v);
        out[n++] = (unsigned char)v;
        hex += 2;
    }
    return n;
}

/* Run one suite; the exit status is non-zero when any check failed. */
static inline int
tu_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/*
 * Exit 77 (meson's skip), saying that prog is missing and which Debian
 * package provides it, unless prog is on PATH.  For the suites that compare
 * with an outside tool (oathtool, zbarimg): scripts/test installs them, and
 * fails on a skip.
 */
static inline void
tu_require_program(const char *prog, const char *package)
{
    const char *p = getenv("PATH");

    for (p = p != NULL ? p : "/usr/bin:/bin"; *p != '\0';) {
        size_t n = strcspn(p, ":");
        char full[4096];

        snprintf(full, sizeof(full), "%.*s/%s", n ? (int)n : 1, n ? p : ".",
                 prog);
        if (access(full, X_OK) == 0)
            return;
        p += n + (p[n] == ':');
    }
    printf("skipped: %s not found: apt-get install %s (scripts/deps.sh test "
           "installs it)\n",
           prog, package);
    fflush(stdout);
    exit(77);
}

#endif
