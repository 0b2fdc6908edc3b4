/*
 * QR codes: structure of every output, and a real decoder (zbarimg, on the
 * PNG and on the SVG rasterised by rsvg-convert) reading back exactly the
 * URI, which parses to the same factor and gives codes that verify.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include <mfa.h>

#include "config.h"
#include "testutil.h"

#if MFA_HAVE_QRENCODE

#define URI_SHORT                                                              \
    "otpauth://totp/Example:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"     \
    "&issuer=Example"

static char tmpdir[1024];

/* Made in main, before Check forks, so that main can remove it. */
static int
make_tmpdir(void)
{
    const char *root = getenv("MFA_BUILD_ROOT");

    snprintf(tmpdir, sizeof(tmpdir), "%s/qr-test.XXXXXX", root ? root : "/tmp");
    return mkdtemp(tmpdir) != NULL;
}

static void
write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");

    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

/* Run a shell command; its stdout (at most size - 1 bytes) into out. */
static int
run(const char *cmd, char *out, size_t size)
{
    FILE *p = popen(cmd, "r");
    size_t n = 0, r;
    int st;

    ck_assert_ptr_nonnull(p);
    while (n + 1 < size && (r = fread(out + n, 1, size - 1 - n, p)) > 0)
        n += r;
    out[n] = '\0';
    st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The text of the QR code in a PNG or SVG file, read by a real decoder
 * through tests/qr_decode.sh (zbarimg; rsvg-convert for SVG). */
static void
qr_decode(const char *path, char *out, size_t size)
{
    const char *root = getenv("MFA_SOURCE_ROOT");
    char cmd[4096];

    snprintf(cmd, sizeof(cmd), "'%s/tests/qr_decode.sh' '%s'",
             root ? root : ".", path);
    ck_assert_msg(run(cmd, out, size) == 0, "no QR code read from %s", path);
}

/* Decode the PNG and the rasterised SVG of qr; both must give text. */
static void
decode_both(const mfa_qr_t *qr, const char *text, int idx)
{
    char path[2048], got[4096];
    uint8_t *png = NULL;
    char *svg = NULL;
    size_t n = 0;

    ck_assert_int_eq(mfa_qr_png(qr, 0, &png, &n), MFA_OK);
    snprintf(path, sizeof(path), "%s/%d.png", tmpdir, idx);
    write_file(path, png, n);
    sodium_memzero(png, n);
    mfa_free(png);
    qr_decode(path, got, sizeof(got));
    ck_assert_str_eq(got, text);
    unlink(path);

    ck_assert_int_eq(mfa_qr_svg(qr, &svg), MFA_OK);
    snprintf(path, sizeof(path), "%s/%d.svg", tmpdir, idx);
    write_file(path, svg, strlen(svg));
    mfa_string_free(&svg);
    qr_decode(path, got, sizeof(got));
    ck_assert_str_eq(got, text);
    unlink(path);
}

/* ---- random factors, as in test_uri.c ----------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t
rnd(uint32_t n)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 2685821657736338717ull) >> 32) % n;
}

static const char *const pieces[] = {
    "a",
    "Z",
    "7",
    " ",
    "&",
    "?",
    "#",
    "%",
    "+",
    "/",
    "=",
    "@",
    "\"",
    "'",
    "\xc3\xa9",
    "\xc3\xbc",
    "\xe6\x97\xa5",
    "\xe6\x9c\xac",
    "\xd0\x96",
    "\xf0\x9f\x98\x80",
    "\xe2\x82\xac",
    "Acme",
    "example.com",
};

static void
random_text(char *out, size_t want)
{
    size_t len = 0;

    out[0] = '\0';
    for (;;) {
        const char *p = pieces[rnd(sizeof(pieces) / sizeof(pieces[0]))];
        size_t pl = strlen(p);
        if (len + pl > want)
            break;
        if (len == 0 && p[0] == ' ')
            continue;
        memcpy(out + len, p, pl + 1);
        len += pl;
    }
    if (len == 0)
        memcpy(out, "x", 2);
}

/* The i-th of the test factors: several profiles, long Unicode labels. */
static mfa_uri_t *
factor(int i)
{
    char issuer[MFA_ISSUER_MAX + 1], account[MFA_ACCOUNT_MAX + 1];
    mfa_profile_t *p = NULL;
    mfa_secret_t *s = NULL;
    mfa_uri_t *u = NULL;
    int kind = i % 5;

    if (i < 10) {
        /* the longest labels: every byte used, multibyte characters */
        random_text(issuer, MFA_ISSUER_MAX);
        random_text(account, MFA_ACCOUNT_MAX);
    } else {
        random_text(issuer, 4 + rnd(30));
        random_text(account, 4 + rnd(40));
    }
    switch (kind) {
    case 0:
    case 1:
        break; /* universal */
    case 2:
        ck_assert_int_eq(
            mfa_profile_custom_new(&p, MFA_TOTP, MFA_SHA256, 8, 60, 32),
            MFA_OK);
        break;
    case 3:
        ck_assert_int_eq(
            mfa_profile_custom_new(&p, MFA_TOTP, MFA_SHA512, 10, 15, 64),
            MFA_OK);
        break;
    default:
        ck_assert_int_eq(
            mfa_profile_custom_new(&p, MFA_HOTP, MFA_SHA1, 6, 30, 20), MFA_OK);
        break;
    }
    /* The secret comes from the same seeded generator as the labels, so
     * every run tests the same 50 symbols.  With CSPRNG secrets one run in
     * a few hundred hit a zbar 0.23 misread: for one 379-byte version-15-M
     * symbol zbarimg printed "period=15805669" where the URI ends in
     * "period=15", while jsQR read it exactly and libqrencode's own
     * `qrencode -8 -l M` drew the same modules, so the symbol was right and
     * the decoder wrong.  A test must not fail on a decoder's bug at random;
     * tests/cli and the e2e tests decode other symbols with zbar and jsQR. */
    {
        uint8_t b[MFA_SECRET_MAX];
        size_t n = mfa_profile_secret_bytes(p ? p : mfa_profile_default());

        for (size_t k = 0; k < n; k++)
            b[k] = (uint8_t)rnd(256);
        ck_assert_int_eq(mfa_secret_import(&s, b, n, 0), MFA_OK);
    }
    ck_assert_int_eq(mfa_uri_new(&u, p, s, issuer, account), MFA_OK);
    if (kind == 4)
        ck_assert_int_eq(mfa_uri_set_counter(u, rnd(1000000)), MFA_OK);
    if (i % 7 == 3)
        ck_assert_int_eq(mfa_uri_set_image(u, "https://example.com/i/logo.png"),
                         MFA_OK);
    mfa_secret_free(&s);
    mfa_profile_free(&p);
    return u;
}

START_TEST(zbar_reads_back_50_uris)
{
    const int64_t now = 1700000000;
    int decoded = 0, max_version = 0;

    for (int i = 0; i < 50; i++) {
        mfa_uri_t *u = factor(i), *v = NULL;
        mfa_otp_t *mine = NULL, *theirs = NULL;
        mfa_qr_t *qr = NULL;
        char *text = NULL, code[MFA_CODE_BUFSIZE];
        unsigned warn = 1;

        ck_assert_int_eq(mfa_uri_format(u, i % 2 ? MFA_URI_EXPLICIT : 0, &text),
                         MFA_OK);
        ck_assert_int_eq(mfa_qr_new(&qr, text, MFA_QR_ECC_M), MFA_OK);
        if (mfa_qr_version(qr) > max_version)
            max_version = mfa_qr_version(qr);
        decode_both(qr, text, i);

        /* the scanned URI is the same factor: what an app would import */
        ck_assert_int_eq(mfa_uri_parse(text, &v, &warn), MFA_OK);
        ck_assert_uint_eq(warn, 0);
        ck_assert_str_eq(mfa_uri_issuer(v), mfa_uri_issuer(u));
        ck_assert_str_eq(mfa_uri_account(v), mfa_uri_account(u));
        ck_assert_int_eq(mfa_uri_type(v), mfa_uri_type(u));
        ck_assert_int_eq(mfa_uri_algorithm(v), mfa_uri_algorithm(u));
        ck_assert_uint_eq(mfa_uri_digits(v), mfa_uri_digits(u));
        ck_assert_uint_eq(mfa_uri_period(v), mfa_uri_period(u));
        ck_assert_uint_eq(mfa_uri_counter(v), mfa_uri_counter(u));
        ck_assert_uint_eq(mfa_secret_len(mfa_uri_secret(v)),
                          mfa_secret_len(mfa_uri_secret(u)));
        ck_assert_mem_eq(mfa_secret_bytes(mfa_uri_secret(v)),
                         mfa_secret_bytes(mfa_uri_secret(u)),
                         mfa_secret_len(mfa_uri_secret(u)));

        /* the app's code (from the scanned URI) verifies on the server */
        ck_assert_int_eq(mfa_uri_to_otp(v, &theirs), MFA_OK);
        ck_assert_int_eq(mfa_uri_to_otp(u, &mine), MFA_OK);
        if (mfa_uri_type(u) == MFA_TOTP) {
            uint64_t step;
            int32_t off;

            ck_assert_int_eq(mfa_otp_totp(theirs, now, code, sizeof(code)),
                             MFA_OK);
            ck_assert_uint_eq(strlen(code), mfa_uri_digits(u));
            ck_assert_int_eq(mfa_otp_totp_verify(mine, code, now, 1, 1,
                                                 MFA_STEP_NONE, &step, &off),
                             MFA_OK);
            ck_assert_int_eq(off, 0);
            code[0] = code[0] == '9' ? '0' : (char)(code[0] + 1);
            ck_assert_int_eq(mfa_otp_totp_verify(mine, code, now, 1, 1,
                                                 MFA_STEP_NONE, &step, &off),
                             MFA_ERR_CODE_WRONG);
        } else {
            uint64_t next;
            uint64_t c = mfa_uri_counter(u);

            ck_assert_int_eq(mfa_otp_hotp(theirs, c, code, sizeof(code)),
                             MFA_OK);
            ck_assert_int_eq(mfa_otp_hotp_verify(mine, code, c, 0, &next),
                             MFA_OK);
            ck_assert_uint_eq(next, c + 1);
        }
        decoded++;
        mfa_otp_free(&mine);
        mfa_otp_free(&theirs);
        mfa_qr_free(&qr);
        mfa_string_free(&text);
        mfa_uri_free(&u);
        mfa_uri_free(&v);
    }
    ck_assert_int_eq(decoded, 50);
    /* the longest labels really made big symbols */
    ck_assert_int_ge(max_version, 15);
}
END_TEST

START_TEST(zbar_reads_raw_utf8_and_min_scale)
{
    /* raw UTF-8 bytes (a URI as some services write it) stay exact */
    const char *text = "otpauth://totp/Soci\xc3\xa9t\xc3\xa9:\xe6\x97\xa5"
                       "\xe6\x9c\xac?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    char path[2048], got[4096];
    mfa_qr_t *qr = NULL;
    uint8_t *png = NULL;
    size_t n;

    ck_assert_int_eq(mfa_qr_new(&qr, text, MFA_QR_ECC_M), MFA_OK);
    decode_both(qr, text, 1000);
    mfa_qr_free(&qr);

    /* the smallest scale still scans, at every ECC level */
    for (int ecc = MFA_QR_ECC_L; ecc <= MFA_QR_ECC_H; ecc++) {
        ck_assert_int_eq(mfa_qr_new(&qr, URI_SHORT, (mfa_qr_ecc)ecc), MFA_OK);
        ck_assert_int_eq(mfa_qr_png(qr, MFA_QR_PNG_SCALE_MIN, &png, &n),
                         MFA_OK);
        snprintf(path, sizeof(path), "%s/min%d.png", tmpdir, ecc);
        write_file(path, png, n);
        mfa_free(png);
        qr_decode(path, got, sizeof(got));
        ck_assert_str_eq(got, URI_SHORT);
        unlink(path);
        mfa_qr_free(&qr);
    }
}
END_TEST

static uint32_t
be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

START_TEST(structure)
{
    mfa_qr_t *qr = NULL, *qh = NULL;
    uint8_t *png = NULL;
    size_t n = 0;
    int size;

    ck_assert_int_eq(mfa_qr_new(&qr, URI_SHORT, MFA_QR_ECC_M), MFA_OK);
    size = mfa_qr_size(qr);
    ck_assert_int_eq(size, 17 + 4 * mfa_qr_version(qr));
    /* INTEROP.md: about 100 bytes fit version 6 at level M */
    ck_assert_int_le(mfa_qr_version(qr), 6);
    /* finder patterns: dark corners, light separators */
    ck_assert_int_eq(mfa_qr_module(qr, 0, 0), 1);
    ck_assert_int_eq(mfa_qr_module(qr, 6, 6), 1);
    ck_assert_int_eq(mfa_qr_module(qr, 7, 7), 0);
    ck_assert_int_eq(mfa_qr_module(qr, 3, 3), 1);
    ck_assert_int_eq(mfa_qr_module(qr, 1, 1), 0);
    ck_assert_int_eq(mfa_qr_module(qr, size - 1, 0), 1);
    ck_assert_int_eq(mfa_qr_module(qr, 0, size - 1), 1);
    ck_assert_int_eq(mfa_qr_module(qr, size - 8, 7), 0);
    /* out of range reads light */
    ck_assert_int_eq(mfa_qr_module(qr, -1, 0), 0);
    ck_assert_int_eq(mfa_qr_module(qr, 0, size), 0);
    ck_assert_int_eq(mfa_qr_module(NULL, 0, 0), 0);
    ck_assert_int_eq(mfa_qr_size(NULL), 0);

    /* higher correction, bigger symbol */
    ck_assert_int_eq(mfa_qr_new(&qh, URI_SHORT, MFA_QR_ECC_H), MFA_OK);
    ck_assert_int_gt(mfa_qr_version(qh), mfa_qr_version(qr));
    mfa_qr_free(&qh);

    /* PNG: signature, IHDR size = (size + 2 * quiet zone) * scale */
    for (unsigned scale = 0; scale <= 10; scale += 5) {
        unsigned s = scale ? scale : MFA_QR_PNG_SCALE_DEFAULT;
        ck_assert_int_eq(mfa_qr_png(qr, scale, &png, &n), MFA_OK);
        ck_assert_uint_gt(n, 33);
        ck_assert_mem_eq(png, "\x89PNG\r\n\x1a\n", 8);
        ck_assert_mem_eq(png + 12, "IHDR", 4);
        ck_assert_uint_eq(be32(png + 16), (uint32_t)(size + 8) * s);
        ck_assert_uint_eq(be32(png + 20), (uint32_t)(size + 8) * s);
        ck_assert_uint_eq(png[24], 1); /* bit depth: two colours */
        mfa_free(png);
    }
    png = (uint8_t *)&n;
    ck_assert_int_eq(mfa_qr_png(qr, 3, &png, &n), MFA_ERR_INVALID);
    ck_assert_ptr_null(png);
    ck_assert_int_eq(mfa_qr_png(qr, 1000, &png, &n), MFA_ERR_INVALID);
    mfa_qr_free(&qr);
    ck_assert_ptr_null(qr);
    mfa_qr_free(&qr);
    mfa_qr_free(NULL);
}
END_TEST

START_TEST(svg_paints_the_modules)
{
    mfa_qr_t *qr = NULL;
    char *svg = NULL, want[256], *d, *end;
    int size, total;
    uint8_t *grid;

    ck_assert_int_eq(mfa_qr_new(&qr, URI_SHORT, MFA_QR_ECC_M), MFA_OK);
    ck_assert_int_eq(mfa_qr_svg(qr, &svg), MFA_OK);
    size = mfa_qr_size(qr);
    total = size + 2 * MFA_QR_QUIET_ZONE;
    ck_assert(strncmp(svg, "<?xml ", 6) == 0);
    snprintf(want, sizeof(want), "viewBox=\"0 0 %d %d\"", total, total);
    ck_assert_ptr_nonnull(strstr(svg, want));
    ck_assert_ptr_nonnull(strstr(svg, "shape-rendering=\"crispEdges\""));
    ck_assert_ptr_nonnull(strstr(svg, "xmlns=\"http://www.w3.org/2000/svg\""));
    /* one path */
    d = strstr(svg, "<path");
    ck_assert_ptr_nonnull(d);
    ck_assert_ptr_null(strstr(d + 1, "<path"));
    ck_assert_ptr_nonnull(strstr(svg, "</svg>"));

    /* paint the path's rectangles: exactly the dark modules, inside the
     * quiet zone */
    grid = calloc((size_t)total * (size_t)total, 1);
    ck_assert_ptr_nonnull(grid);
    d = strstr(d, " d=\"") + 4;
    end = strchr(d, '"');
    while (d < end) {
        int x, y, w, w2, used;
        ck_assert_int_eq(
            sscanf(d, "M%d %dh%dv1h-%dz%n", &x, &y, &w, &w2, &used), 4);
        ck_assert_int_eq(w, w2);
        ck_assert_int_ge(x, MFA_QR_QUIET_ZONE);
        ck_assert_int_ge(y, MFA_QR_QUIET_ZONE);
        ck_assert_int_le(x + w, total - MFA_QR_QUIET_ZONE);
        for (int k = 0; k < w; k++) {
            ck_assert_int_eq(grid[y * total + x + k], 0); /* no overlap */
            grid[y * total + x + k] = 1;
        }
        d += used;
    }
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++)
            ck_assert_int_eq(grid[(y + 4) * total + x + 4],
                             mfa_qr_module(qr, x, y));
    free(grid);
    mfa_string_free(&svg);
    mfa_qr_free(&qr);
}
END_TEST

/* Read the half-block text back into modules: drawn = (dark == invert). */
static void
check_text(const mfa_qr_t *qr, const char *txt, int invert)
{
    int size = mfa_qr_size(qr), total = size + 8, rows = 0;
    const char *p = txt;

    while (*p) {
        int col = 0;
        while (*p && *p != '\n') {
            int top, bottom, y = rows * 2, x = col;
            if (*p == ' ') {
                top = bottom = 0;
                p++;
            } else {
                ck_assert(strncmp(p, "\xe2\x96", 2) == 0);
                top = p[2] == '\x80' || p[2] == '\x88';
                bottom = p[2] == '\x84' || p[2] == '\x88';
                ck_assert(p[2] == '\x80' || p[2] == '\x84' || p[2] == '\x88');
                p += 3;
            }
            ck_assert_int_eq(top,
                             mfa_qr_module(qr, x - 4, y - 4) == invert ? 1 : 0);
            if (y + 1 < total)
                ck_assert_int_eq(
                    bottom,
                    mfa_qr_module(qr, x - 4, y + 1 - 4) == invert ? 1 : 0);
            else
                ck_assert_int_eq(bottom, 0);
            col++;
        }
        ck_assert_int_eq(col, total);
        ck_assert_int_eq(*p, '\n');
        p++;
        rows++;
    }
    ck_assert_int_eq(rows, (total + 1) / 2);
}

START_TEST(text_half_blocks)
{
    mfa_qr_t *qr = NULL;
    char *txt = NULL, *inv = NULL;

    ck_assert_int_eq(mfa_qr_new(&qr, URI_SHORT, MFA_QR_ECC_M), MFA_OK);
    ck_assert_int_eq(mfa_qr_text(qr, 0, &txt), MFA_OK);
    ck_assert_int_eq(mfa_qr_text(qr, MFA_QR_TEXT_INVERT, &inv), MFA_OK);
    /* light-on-dark default: the quiet zone is drawn, as full blocks */
    ck_assert(strncmp(txt, "\xe2\x96\x88\xe2\x96\x88\xe2\x96\x88", 9) == 0);
    ck_assert(strncmp(inv, "    ", 4) == 0);
    check_text(qr, txt, 0);
    check_text(qr, inv, 1);
    mfa_string_free(&txt);
    ck_assert_int_eq(mfa_qr_text(qr, 0x2, &txt), MFA_ERR_INVALID);
    ck_assert_ptr_null(txt);
    mfa_string_free(&inv);
    mfa_qr_free(&qr);
}
END_TEST

START_TEST(data_uris)
{
    mfa_qr_t *qr = NULL;
    char *svg = NULL, *uri = NULL;
    uint8_t *png = NULL, bin[65536];
    size_t n = 0, binlen = 0;
    const char *b64;

    ck_assert_int_eq(mfa_qr_new(&qr, URI_SHORT, MFA_QR_ECC_M), MFA_OK);
    ck_assert_int_eq(mfa_qr_svg_data_uri(qr, &uri), MFA_OK);
    ck_assert(strncmp(uri, "data:image/svg+xml;base64,", 26) == 0);
    b64 = uri + 26;
    ck_assert_int_eq(sodium_base642bin(bin, sizeof(bin), b64, strlen(b64), NULL,
                                       &binlen, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    ck_assert_int_eq(mfa_qr_svg(qr, &svg), MFA_OK);
    ck_assert_uint_eq(binlen, strlen(svg));
    ck_assert_mem_eq(bin, svg, binlen);
    mfa_string_free(&svg);
    mfa_string_free(&uri);

    ck_assert_int_eq(mfa_qr_png_data_uri(qr, 6, &uri), MFA_OK);
    ck_assert(strncmp(uri, "data:image/png;base64,", 22) == 0);
    b64 = uri + 22;
    ck_assert_int_eq(sodium_base642bin(bin, sizeof(bin), b64, strlen(b64), NULL,
                                       &binlen, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    ck_assert_int_eq(mfa_qr_png(qr, 6, &png, &n), MFA_OK);
    ck_assert_uint_eq(binlen, n);
    ck_assert_mem_eq(bin, png, n);
    mfa_free(png);
    mfa_string_free(&uri);
    ck_assert_int_eq(mfa_qr_png_data_uri(qr, 2, &uri), MFA_ERR_INVALID);
    ck_assert_ptr_null(uri);
    mfa_qr_free(&qr);
}
END_TEST

START_TEST(limits)
{
    static char big[3001];
    mfa_qr_t *qr = NULL;

    /* 2953 bytes: the byte-mode capacity of version 40 at level L */
    memset(big, 'a', 2953);
    big[2953] = '\0';
    ck_assert_int_eq(mfa_qr_new(&qr, big, MFA_QR_ECC_L), MFA_OK);
    ck_assert_int_eq(mfa_qr_version(qr), 40);
    mfa_qr_free(&qr);
    ck_assert_int_eq(mfa_qr_new(&qr, big, MFA_QR_ECC_M), MFA_ERR_QR);
    ck_assert_ptr_null(qr);
    memset(big, 'a', 3000);
    big[3000] = '\0';
    ck_assert_int_eq(mfa_qr_new(&qr, big, MFA_QR_ECC_L), MFA_ERR_QR);
    ck_assert_int_eq(mfa_qr_new(&qr, "", MFA_QR_ECC_M), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_qr_new(&qr, NULL, MFA_QR_ECC_M), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_qr_new(&qr, "x", (mfa_qr_ecc)4), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_qr_new(NULL, "x", MFA_QR_ECC_M), MFA_ERR_INVALID);
}
END_TEST

static void
cleanup(void)
{
    if (tmpdir[0] != '\0')
        rmdir(tmpdir);
}

int
main(void)
{
    Suite *s = suite_create("qr");
    TCase *tc = tcase_create("qr");
    int rc;

    tu_require_program("zbarimg", "zbar-tools");
    tu_require_program("rsvg-convert", "librsvg2-bin");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, structure);
    tcase_add_test(tc, svg_paints_the_modules);
    tcase_add_test(tc, text_half_blocks);
    tcase_add_test(tc, data_uris);
    tcase_add_test(tc, limits);
    tcase_add_test(tc, zbar_reads_raw_utf8_and_min_scale);
    tcase_add_test(tc, zbar_reads_back_50_uris);
    suite_add_tcase(s, tc);
    if (!make_tmpdir()) {
        perror("mkdtemp");
        return EXIT_FAILURE;
    }
    rc = tu_run(s);
    cleanup();
    return rc;
}

#else /* !MFA_HAVE_QRENCODE */

/* Built without libqrencode: the documented feature-off behaviour. */
START_TEST(unsupported)
{
    mfa_qr_t *qr = (mfa_qr_t *)&qr;
    char *s = (char *)&s;
    uint8_t *png = (uint8_t *)&png;
    size_t n = 1;

    ck_assert_int_eq(mfa_qr_new(&qr, "otpauth://totp/a", MFA_QR_ECC_M),
                     MFA_ERR_UNSUPPORTED);
    ck_assert_ptr_null(qr);
    ck_assert_int_eq(mfa_qr_svg(NULL, &s), MFA_ERR_UNSUPPORTED);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(mfa_qr_png(NULL, 0, &png, &n), MFA_ERR_UNSUPPORTED);
    ck_assert_ptr_null(png);
    ck_assert_int_eq(mfa_qr_text(NULL, 0, &s), MFA_ERR_UNSUPPORTED);
    ck_assert_int_eq(mfa_qr_svg_data_uri(NULL, &s), MFA_ERR_UNSUPPORTED);
    ck_assert_int_eq(mfa_qr_png_data_uri(NULL, 0, &s), MFA_ERR_UNSUPPORTED);
    ck_assert_int_eq(mfa_qr_size(NULL), 0);
    mfa_qr_free(&qr);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("qr");
    TCase *tc = tcase_create("qr-disabled");

    tcase_add_test(tc, unsupported);
    suite_add_tcase(s, tc);
    return tu_run(s);
}

#endif
