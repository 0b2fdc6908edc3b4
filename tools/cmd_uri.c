/* mfa uri, mfa qr, mfa inspect: key URIs and their QR codes. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"

/* in cmd_otp.c: --counter over 0..2^64-1, and its --json output */
int
cmd_uri(cli *c)
{
    const char *issuer = opt_str(c, "issuer");
    const char *account = opt_str(c, "account");
    const char *image = opt_str(c, "image");
    const mfa_profile_t *profile = NULL;
    mfa_profile_t *custom = NULL;
    mfa_secret_t *s = NULL;
    mfa_uri_t *u = NULL;
    char *text = NULL, *uri = NULL, *grouped = NULL;
    int64_t bytes = MFA_SECRET_DEFAULT;
    uint64_t counter = 0;
    int fresh = opt_flag(c, "new"), rc;
    size_t profile_bytes;
    mfa_rc mrc;

    if (c->npos != 0)
        return usage_error(c, "unexpected argument '%s'", c->pos[0]);
    if (account == NULL)
        return usage_error(c, "--account is required");
    if (issuer == NULL)
        return usage_error(c, "--issuer is required");
    if (opt_int(c, "bytes", MFA_SECRET_MIN, MFA_SECRET_MAX, &bytes) < 0 ||
        opt_counter(c, "counter", &counter) < 0)
        return EXIT_USAGE;
    if (opt_flag(c, "bytes") && !fresh)
        return usage_error(c, "--bytes needs --new");
    if (opt_flag(c, "counter") && !opt_flag(c, "hotp"))
        return usage_error(c, "--counter needs --hotp");
    if (opt_flag(c, "profile") &&
        (opt_flag(c, "algorithm") || opt_flag(c, "digits") ||
         opt_flag(c, "period")))
        return usage_error(c, "--profile excludes --algorithm, --digits "
                              "and --period");

    if (fresh) {
        mrc = mfa_secret_new(&s, (size_t)bytes);
        if (mrc != MFA_OK)
            return fail(c, mrc, EXIT_STORE, "secret");
    } else {
        uint8_t *key;
        size_t keylen = 0;

        if ((rc = read_secret_text(c, "Secret", &text)) != 0)
            return rc;
        /* typed by a person: 0 and 1 read as O and I, as Google
         * Authenticator's manual entry does; decoded in guarded memory */
        if ((key = sodium_malloc(MFA_BASE32_INPUT_MAX)) == NULL) {
            secure_free(&text);
            return fail(c, MFA_ERR_NOMEM, EXIT_STORE, "secret");
        }
        mrc = mfa_base32_decode_typed(text, key, MFA_BASE32_INPUT_MAX, &keylen);
        secure_free(&text);
        if (mrc == MFA_OK)
            mrc = mfa_secret_import(
                &s, key, keylen, opt_flag(c, "legacy") ? MFA_SECRET_LEGACY : 0);
        sodium_free(key);
        if (mrc != MFA_OK)
            return fail(c, mrc, EXIT_INPUT, "secret");
    }
    profile_bytes = mfa_secret_len(s);
    if (profile_bytes < MFA_SECRET_MIN)
        profile_bytes = MFA_SECRET_MIN;
    if ((rc = choose_profile(c, profile_bytes, 0, &profile, &custom)) != 0) {
        mfa_secret_free(&s);
        return rc;
    }
    mrc = mfa_uri_new(&u, profile, s, issuer, account);
    if (mrc == MFA_OK && image != NULL)
        mrc = mfa_uri_set_image(u, image);
    if (mrc == MFA_OK && opt_flag(c, "hotp"))
        mrc = mfa_uri_set_counter(u, counter);
    if (mrc == MFA_OK)
        mrc = mfa_uri_format(u, opt_flag(c, "explicit") ? MFA_URI_EXPLICIT : 0,
                             &uri);
    if (mrc == MFA_OK && fresh)
        mrc = mfa_secret_grouped(s, &grouped);
    mfa_uri_free(&u);
    mfa_profile_free(&custom);
    if (mrc != MFA_OK) {
        mfa_secret_free(&s);
        mfa_string_free(&uri);
        return fail(c, mrc, EXIT_INPUT, "uri");
    }
    if (c->json) {
        json_open(NULL, '{');
        json_string("uri", uri);
        if (fresh) {
            char *b32 = NULL;

            if (mfa_secret_base32(s, &b32) == MFA_OK)
                json_string("secret", b32);
            mfa_string_free(&b32);
            json_string("manual_key", grouped);
        }
        json_close('}');
        json_done();
    } else {
        printf("%s\n", uri);
        if (fresh)
            printf("key: %s\n", grouped);
    }
    mfa_secret_free(&s);
    mfa_string_free(&uri);
    mfa_string_free(&grouped);
    return EXIT_OK;
}

/* Write data to path, created 0600 because a QR code carries the secret. */
static int
write_private_file(const cli *c, const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const unsigned char *p = data;

    if (fd < 0)
        goto err;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            close(fd);
            goto err;
        }
        p += n;
        len -= (size_t)n;
    }
    if (close(fd) != 0)
        goto err;
    return 0;
err:
    fprintf(stderr, "mfa: %s: %s\n", path, strerror(errno));
    (void)c;
    return EXIT_INPUT;
}

int
cmd_qr(cli *c)
{
    const char *format = opt_str(c, "format");
    const char *output = opt_str(c, "output");
    const char *ecc_name = opt_str(c, "ecc");
    mfa_qr_ecc ecc = MFA_QR_ECC_M;
    int64_t scale = 0;
    char *text = NULL, *rendered = NULL;
    uint8_t *png = NULL;
    size_t pnglen = 0;
    mfa_qr_t *qr = NULL;
    int rc = 0, is_png, is_svg;
    mfa_rc mrc;

    if (format == NULL)
        format = "text";
    is_png = strcmp(format, "png") == 0;
    is_svg = strcmp(format, "svg") == 0;
    if (!is_png && !is_svg && strcmp(format, "text") != 0)
        return usage_error(c, "--format must be text, svg or png");
    if (c->npos > 1)
        return usage_error(c, "too many arguments");
    if (ecc_name != NULL) {
        static const char names[] = "LMQH";
        const char *p =
            strlen(ecc_name) == 1 ? strchr(names, ecc_name[0] & ~0x20) : NULL;
        if (p == NULL || *p == '\0')
            return usage_error(c, "--ecc must be L, M, Q or H");
        ecc = (mfa_qr_ecc)(p - names);
    }
    if (opt_int(c, "scale", MFA_QR_PNG_SCALE_MIN, 64, &scale) < 0)
        return EXIT_USAGE;
    if (is_png && output == NULL && isatty(STDOUT_FILENO))
        return usage_error(c, "refusing to write a PNG to a terminal: use "
                              "--output FILE");
    if ((rc = read_arg_or_input(c, c->npos ? c->pos[0] : NULL, "URI", &text)) !=
        0)
        return rc;
    mrc = mfa_qr_new(&qr, text, ecc);
    secure_free(&text);
    if (mrc != MFA_OK)
        return fail(c, mrc, EXIT_INPUT, "qr");

    if (is_png)
        mrc = mfa_qr_png(qr, (unsigned)scale, &png, &pnglen);
    else if (is_svg)
        mrc = mfa_qr_svg(qr, &rendered);
    else
        mrc = mfa_qr_text(qr, opt_flag(c, "invert") ? MFA_QR_TEXT_INVERT : 0,
                          &rendered);
    if (mrc != MFA_OK) {
        mfa_qr_free(&qr);
        return fail(c, mrc, EXIT_INPUT, "qr");
    }
    if (output != NULL) {
        rc = is_png ? write_private_file(c, output, png, pnglen)
                    : write_private_file(c, output, rendered, strlen(rendered));
    } else if (is_png) {
        if (fwrite(png, 1, pnglen, stdout) != pnglen)
            rc = EXIT_STORE;
    } else if (!c->json) {
        fputs(rendered, stdout);
        if (!is_svg && rendered[0] != '\0' &&
            rendered[strlen(rendered) - 1] != '\n')
            fputc('\n', stdout);
    }
    if (c->json && rc == 0 && (output != NULL || !is_png)) {
        json_open(NULL, '{');
        json_string("format", format);
        json_int("version", mfa_qr_version(qr));
        json_int("modules", mfa_qr_size(qr));
        json_int("quiet_zone", MFA_QR_QUIET_ZONE);
        if (output != NULL)
            json_string("output", output);
        else
            json_string(is_svg ? "svg" : "text", rendered);
        json_close('}');
        json_done();
    }
    mfa_qr_free(&qr);
    mfa_string_free(&rendered);
    if (png != NULL) {
        sodium_memzero(png, pnglen);
        mfa_free(png);
    }
    return rc;
}

int
cmd_inspect(cli *c)
{
    char *text = NULL, *b32 = NULL;
    mfa_uri_t *u = NULL;
    unsigned warnings = 0;
    mfa_lint_entry lint[MFA_APP_COUNT];
    int show = opt_flag(c, "show-secret"), hotp, rc;
    const mfa_secret_t *s;
    const char *image;
    mfa_rc mrc;

    if (c->npos > 1)
        return usage_error(c, "too many arguments");
    if ((rc = read_arg_or_input(c, c->npos ? c->pos[0] : NULL, "URI", &text)) !=
        0)
        return rc;
    mrc = mfa_uri_parse(text, &u, NULL);
    secure_free(&text);
    if (mrc != MFA_OK)
        return fail(c, mrc, EXIT_INPUT, "not a valid key URI");
    /* the list kept on the parsed object */
    warnings = mfa_uri_warnings(u);
    if ((mrc = mfa_lint_uri(u, lint)) != MFA_OK) {
        mfa_uri_free(&u);
        return fail(c, mrc, EXIT_INPUT, "lint");
    }
    s = mfa_uri_secret(u);
    if (show && (mrc = mfa_secret_base32(s, &b32)) != MFA_OK) {
        mfa_uri_free(&u);
        return fail(c, mrc, EXIT_INPUT, "secret");
    }
    hotp = mfa_uri_type(u) == MFA_HOTP;
    image = mfa_uri_image(u);

    if (c->json) {
        json_open(NULL, '{');
        json_string("type", hotp ? "hotp" : "totp");
        json_string("issuer", mfa_uri_issuer(u));
        json_string("account", mfa_uri_account(u));
        json_int("secret_bytes", (int64_t)mfa_secret_len(s));
        if (show)
            json_string("secret", b32);
        json_string("algorithm", mfa_algorithm_name(mfa_uri_algorithm(u)));
        json_int("digits", mfa_uri_digits(u));
        if (hotp)
            json_counter("counter", mfa_uri_counter(u));
        else
            json_int("period", mfa_uri_period(u));
        json_string("image", image);
        json_open("warnings", '[');
        for (unsigned bit = 1; bit != 0; bit <<= 1)
            if ((warnings & bit) && mfa_uri_warning_text(bit) != NULL)
                json_string(NULL, mfa_uri_warning_text(bit));
        json_close(']');
        json_open("apps", '[');
        for (int i = 0; i < MFA_APP_COUNT; i++) {
            json_open(NULL, '{');
            json_string("app", mfa_app_name(lint[i].app));
            json_string("verdict", mfa_verdict_name(lint[i].verdict));
            json_string("reason", lint[i].reason);
            json_close('}');
        }
        json_close(']');
        json_close('}');
        json_done();
    } else {
        printf("type:       %s\n", hotp ? "hotp" : "totp");
        printf("issuer:     %s\n", mfa_uri_issuer(u));
        printf("account:    %s\n", mfa_uri_account(u));
        if (show)
            printf("secret:     %s (%zu bytes)\n", b32, mfa_secret_len(s));
        else
            printf("secret:     (hidden, %zu bytes; --show-secret shows it)\n",
                   mfa_secret_len(s));
        printf("algorithm:  %s\n", mfa_algorithm_name(mfa_uri_algorithm(u)));
        printf("digits:     %u\n", mfa_uri_digits(u));
        if (hotp)
            printf("counter:    %llu\n",
                   (unsigned long long)mfa_uri_counter(u));
        else
            printf("period:     %u\n", mfa_uri_period(u));
        if (image != NULL)
            printf("image:      %s\n", image);
        for (unsigned bit = 1; bit != 0; bit <<= 1)
            if ((warnings & bit) && mfa_uri_warning_text(bit) != NULL)
                printf("warning:    %s\n", mfa_uri_warning_text(bit));
        printf("\n%-26s %-12s %s\n", "APP", "VERDICT", "REASON");
        for (int i = 0; i < MFA_APP_COUNT; i++)
            printf("%-26s %-12s %s\n", mfa_app_name(lint[i].app),
                   mfa_verdict_name(lint[i].verdict), lint[i].reason);
    }
    mfa_string_free(&b32);
    mfa_uri_free(&u);
    return EXIT_OK;
}
