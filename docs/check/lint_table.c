/*
 * docs/app-compatibility.md shows the lint's verdicts for common parameter
 * choices.  This program computes each row with the library and checks that
 * the guide shows exactly that row, so the table cannot drift from the
 * lint.  With --print it prints the table instead (to paste after a change
 * of the lint rules).  Prints "N passed, N failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mfa.h>

typedef struct row {
    const char *name;
    mfa_otp_type type;
    mfa_algorithm alg;
    unsigned digits;
    uint32_t period;
} row;

static const row rows[] = {
    {"SHA256", MFA_TOTP, MFA_SHA256, 6, 30},
    {"SHA512", MFA_TOTP, MFA_SHA512, 6, 30},
    {"7 digits", MFA_TOTP, MFA_SHA1, 7, 30},
    {"8 digits", MFA_TOTP, MFA_SHA1, 8, 30},
    {"10 digits", MFA_TOTP, MFA_SHA1, 10, 30},
    {"period 60 s", MFA_TOTP, MFA_SHA1, 6, 60},
    {"period 15 s", MFA_TOTP, MFA_SHA1, 6, 15},
    {"HOTP (counter-based)", MFA_HOTP, MFA_SHA1, 6, 30},
};

static int
format_row(char *buf, size_t size, const char *name,
           const mfa_lint_entry lint[MFA_APP_COUNT])
{
    size_t used;
    int n = snprintf(buf, size, "| %s |", name);

    if (n < 0 || (size_t)n >= size)
        return -1;
    used = (size_t)n;
    for (int i = 0; i < MFA_APP_COUNT; i++) {
        n = snprintf(buf + used, size - used, " %s |",
                     mfa_verdict_name(lint[i].verdict));
        if (n < 0 || (size_t)n >= size - used)
            return -1;
        used += (size_t)n;
    }
    return 0;
}

static char *
read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long len;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 &&
        fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)len + 1)) != NULL) {
        if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
            free(buf);
            buf = NULL;
        } else {
            buf[len] = '\0';
        }
    }
    fclose(f);
    return buf;
}

/* line is a whole line of text */
static int
has_line(const char *text, const char *line)
{
    size_t n = strlen(line);

    for (const char *p = strstr(text, line); p != NULL; p = strstr(p + 1, line))
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return 1;
    return 0;
}

int
main(int argc, char **argv)
{
    int print = argc > 1 && strcmp(argv[1], "--print") == 0;
    unsigned passed = 0, failed = 0;
    char line[512], head[512];
    mfa_lint_entry lint[MFA_APP_COUNT];
    char *doc = NULL;
    size_t used;

    if (!print) {
        if (argc < 2 || (doc = read_file(argv[1])) == NULL) {
            fprintf(stderr, "usage: %s GUIDE.md | --print\n", argv[0]);
            return 2;
        }
    }
    used = (size_t)snprintf(head, sizeof(head), "| parameters |");
    for (int i = 0; i < MFA_APP_COUNT && used < sizeof(head); i++)
        used += (size_t)snprintf(head + used, sizeof(head) - used, " %s |",
                                 mfa_app_name((mfa_app)i));
    if (print)
        printf("%s\n", head);
    else if (has_line(doc, head))
        passed++;
    else {
        failed++;
        printf("FAILED: header row not in the guide: %s\n", head);
    }

    for (size_t r = 0; r <= sizeof(rows) / sizeof(rows[0]); r++) {
        const char *name;
        mfa_profile_t *p = NULL;
        mfa_rc rc;

        if (r == 0) {
            name = "universal (TOTP, SHA1, 6 digits, 30 s)";
            rc = mfa_lint_profile(mfa_profile_default(), lint);
        } else {
            const row *w = &rows[r - 1];
            name = w->name;
            rc = mfa_profile_custom_new(&p, w->type, w->alg, w->digits,
                                        w->period, 20);
            if (rc == MFA_OK)
                rc = mfa_lint_profile(p, lint);
            mfa_profile_free(&p);
        }
        if (rc != MFA_OK || format_row(line, sizeof(line), name, lint) != 0) {
            failed++;
            printf("FAILED: %s: %s\n", name, mfa_strerror(rc));
            continue;
        }
        if (print) {
            printf("%s\n", line);
        } else if (has_line(doc, line)) {
            passed++;
        } else {
            failed++;
            printf("FAILED: the lint now gives, and the guide lacks:\n%s\n",
                   line);
        }
    }
    free(doc);
    if (!print)
        printf("%u passed, %u failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
