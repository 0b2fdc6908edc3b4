/*
 * QR codes for key URIs: libqrencode for the symbol, our own renderers for
 * SVG, PNG (libpng), terminal text and data: URIs.  A QR code of a key URI
 * holds the secret, so every buffer it passes through is wiped.
 *
 * Built without libqrencode/libpng (MFA_HAVE_QRENCODE == 0), every function
 * returns MFA_ERR_UNSUPPORTED: callers fall back to the grouped key.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <mfa/qr.h>

#include "config.h"
#include "internal.h"

#if MFA_HAVE_QRENCODE

#include <errno.h>
#include <stdarg.h>
#include <png.h>
#include <qrencode.h>
#include <stdio.h>

/* Byte-mode capacity of version 40 at level L. */
#define QR_BYTES_MAX 2953
/* Largest PNG scale: a version 40 symbol then stays under 16k pixels. */
#define QR_PNG_SCALE_MAX 64

struct mfa_qr {
    int version;
    int size;
    uint8_t modules[]; /* size * size, 1 = dark */
};

mfa_rc
mfa_qr_new(mfa_qr_t **out, const char *text, mfa_qr_ecc ecc)
{
    static const QRecLevel levels[] = {QR_ECLEVEL_L, QR_ECLEVEL_M, QR_ECLEVEL_Q,
                                       QR_ECLEVEL_H};
    QRcode *code;
    mfa_qr_t *qr;
    size_t n, cells;

    if (out == NULL)
        return MFA_ERR_INVALID;
    *out = NULL;
    if (text == NULL || (unsigned)ecc > MFA_QR_ECC_H)
        return MFA_ERR_INVALID;
    n = strnlen(text, QR_BYTES_MAX + 1);
    if (n == 0)
        return MFA_ERR_INVALID;
    if (n > QR_BYTES_MAX)
        return MFA_ERR_QR;
    /* byte mode for all of it: apps read the URI exactly as given, with
     * no mode switching that older decoders get wrong */
    errno = 0;
    code =
        QRcode_encodeData((int)n, (const unsigned char *)text, 0, levels[ecc]);
    if (code == NULL)
        return errno == ENOMEM ? MFA_ERR_NOMEM : MFA_ERR_QR;
    cells = (size_t)code->width * (size_t)code->width;
    qr = malloc(sizeof(*qr) + cells);
    if (qr == NULL) {
        sodium_memzero(code->data, cells);
        QRcode_free(code);
        return MFA_ERR_NOMEM;
    }
    qr->version = code->version;
    qr->size = code->width;
    for (size_t i = 0; i < cells; i++)
        qr->modules[i] = code->data[i] & 1u;
    sodium_memzero(code->data, cells);
    QRcode_free(code);
    *out = qr;
    return MFA_OK;
}

void
mfa_qr_free(mfa_qr_t **qr)
{
    if (qr == NULL || *qr == NULL)
        return;
    sodium_memzero(*qr,
                   sizeof(**qr) + (size_t)(*qr)->size * (size_t)(*qr)->size);
    free(*qr);
    *qr = NULL;
}

int
mfa_qr_size(const mfa_qr_t *qr)
{
    return qr ? qr->size : 0;
}

int
mfa_qr_version(const mfa_qr_t *qr)
{
    return qr ? qr->version : 0;
}

int
mfa_qr_module(const mfa_qr_t *qr, int x, int y)
{
    if (qr == NULL || x < 0 || y < 0 || x >= qr->size || y >= qr->size)
        return 0;
    return qr->modules[(size_t)y * (size_t)qr->size + (size_t)x];
}

/* Module (x, y) in quiet-zone coordinates: 0 outside the symbol. */
static int
dark_q(const mfa_qr_t *qr, int x, int y)
{
    return mfa_qr_module(qr, x - MFA_QR_QUIET_ZONE, y - MFA_QR_QUIET_ZONE);
}

/* ---- a growable, wiped string ------------------------------------------ */

struct sbuf {
    char *p;
    size_t len, cap;
    int failed;
};

static void
sb_put(struct sbuf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->cap - b->len <= n) {
        size_t cap = (b->cap + n + 1) * 2;
        char *p = malloc(cap);

        if (p == NULL) {
            b->failed = 1;
            return;
        }
        if (b->p != NULL) {
            memcpy(p, b->p, b->len);
            sodium_memzero(b->p, b->cap);
            free(b->p);
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_printf(struct sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
sb_printf(struct sbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        b->failed = 1;
        return;
    }
    sb_put(b, tmp, (size_t)n);
}

static mfa_rc
sb_finish(struct sbuf *b, char **out)
{
    if (b->failed || b->p == NULL) {
        if (b->p != NULL) {
            sodium_memzero(b->p, b->cap);
            free(b->p);
        }
        return MFA_ERR_NOMEM;
    }
    *out = b->p;
    return MFA_OK;
}

/* ---- SVG ---------------------------------------------------------------- */

mfa_rc
mfa_qr_svg(const mfa_qr_t *qr, char **out)
{
    struct sbuf b = {NULL, 0, 0, 0};
    int total;

    if (out == NULL)
        return MFA_ERR_INVALID;
    *out = NULL;
    if (qr == NULL)
        return MFA_ERR_INVALID;
    total = qr->size + 2 * MFA_QR_QUIET_ZONE;
    sb_printf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    /* width/height give <img> a sensible intrinsic size; the viewBox in
     * modules lets CSS scale it to any size without blurring */
    sb_printf(&b,
              "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
              "viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
              "shape-rendering=\"crispEdges\">\n",
              total, total, total * MFA_QR_PNG_SCALE_DEFAULT,
              total * MFA_QR_PNG_SCALE_DEFAULT);
    sb_printf(&b, "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", total,
              total);
    sb_printf(&b, "<path fill=\"#000\" d=\"");
    /* one rectangle per horizontal run of dark modules */
    for (int y = 0; y < qr->size; y++) {
        int x = 0;
        while (x < qr->size) {
            int run;
            if (!mfa_qr_module(qr, x, y)) {
                x++;
                continue;
            }
            for (run = 1; x + run < qr->size && mfa_qr_module(qr, x + run, y);
                 run++)
                ;
            sb_printf(&b, "M%d %dh%dv1h-%dz", x + MFA_QR_QUIET_ZONE,
                      y + MFA_QR_QUIET_ZONE, run, run);
            x += run;
        }
    }
    sb_printf(&b, "\"/>\n</svg>\n");
    return sb_finish(&b, out);
}

/* ---- PNG ---------------------------------------------------------------- */

struct membuf {
    uint8_t *p;
    size_t len, cap;
    int failed;
};

static void
png_write_mem(png_structp png, png_bytep data, png_size_t n)
{
    struct membuf *m = png_get_io_ptr(png);

    if (m->failed)
        return;
    if (m->cap - m->len < n) {
        size_t cap = (m->cap + n) * 2;
        uint8_t *p = malloc(cap);

        if (p == NULL) {
            m->failed = 1;
            png_error(png, "out of memory");
        }
        if (m->p != NULL) {
            memcpy(p, m->p, m->len);
            sodium_memzero(m->p, m->cap);
            free(m->p);
        }
        m->p = p;
        m->cap = cap;
    }
    memcpy(m->p + m->len, data, n);
    m->len += n;
}

static void
png_flush_mem(png_structp png)
{
    (void)png;
}

/*
 * The libpng part, apart so that setjmp's longjmp cannot clobber the
 * caller's locals: returns 0 on success.
 */
static int
png_encode(const mfa_qr_t *qr, unsigned scale, struct membuf *m, uint8_t *row)
{
    png_structp png;
    png_infop info;
    png_uint_32 side = (png_uint_32)(qr->size + 2 * MFA_QR_QUIET_ZONE) * scale;

    png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    if (png == NULL)
        return -1;
    info = png_create_info_struct(png);
    if (info == NULL) {
        png_destroy_write_struct(&png, NULL);
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_set_write_fn(png, m, png_write_mem, png_flush_mem);
    /* 1-bit greyscale: two colours, no smoothing, smallest file */
    png_set_IHDR(png, info, side, side, 1, PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (png_uint_32 py = 0; py < side; py++) {
        int y = (int)(py / scale);
        memset(row, 0, (side + 7) / 8);
        for (png_uint_32 px = 0; px < side; px++) {
            int x = (int)(px / scale);
            /* a set bit is white in greyscale */
            if (!dark_q(qr, x, y))
                row[px / 8] |= (uint8_t)(0x80u >> (px % 8));
        }
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 0;
}

mfa_rc
mfa_qr_png(const mfa_qr_t *qr, unsigned scale, uint8_t **out, size_t *len)
{
    struct membuf m = {NULL, 0, 0, 0};
    size_t rowbytes;
    uint8_t *row;
    int r;

    if (out == NULL || len == NULL)
        return MFA_ERR_INVALID;
    *out = NULL;
    *len = 0;
    if (qr == NULL)
        return MFA_ERR_INVALID;
    if (scale == 0)
        scale = MFA_QR_PNG_SCALE_DEFAULT;
    if (scale < MFA_QR_PNG_SCALE_MIN || scale > QR_PNG_SCALE_MAX)
        return MFA_ERR_INVALID;
    rowbytes = ((size_t)(qr->size + 2 * MFA_QR_QUIET_ZONE) * scale + 7) / 8;
    if ((row = malloc(rowbytes)) == NULL)
        return MFA_ERR_NOMEM;
    r = png_encode(qr, scale, &m, row);
    sodium_memzero(row, rowbytes);
    free(row);
    if (r != 0 || m.failed) {
        if (m.p != NULL) {
            sodium_memzero(m.p, m.cap);
            free(m.p);
        }
        return m.failed ? MFA_ERR_NOMEM : MFA_ERR_INTERNAL;
    }
    *out = m.p;
    *len = m.len;
    return MFA_OK;
}

/* ---- terminal text ------------------------------------------------------ */

mfa_rc
mfa_qr_text(const mfa_qr_t *qr, unsigned flags, char **out)
{
    /* indexed by (top drawn) | (bottom drawn) << 1 */
    static const char *const glyph[4] = {" ", "\xe2\x96\x80", "\xe2\x96\x84",
                                         "\xe2\x96\x88"};
    struct sbuf b = {NULL, 0, 0, 0};
    int invert, total;

    if (out == NULL)
        return MFA_ERR_INVALID;
    *out = NULL;
    if (qr == NULL || (flags & ~MFA_QR_TEXT_INVERT) != 0)
        return MFA_ERR_INVALID;
    invert = (flags & MFA_QR_TEXT_INVERT) != 0;
    total = qr->size + 2 * MFA_QR_QUIET_ZONE;
    for (int y = 0; y < total; y += 2) {
        for (int x = 0; x < total; x++) {
            int top = dark_q(qr, x, y) == invert;
            /* below the last row the terminal's own background shows */
            int bottom = y + 1 < total && dark_q(qr, x, y + 1) == invert;
            sb_put(&b, glyph[top | bottom << 1],
                   strlen(glyph[top | bottom << 1]));
        }
        sb_put(&b, "\n", 1);
    }
    return sb_finish(&b, out);
}

/* ---- data: URIs --------------------------------------------------------- */

static mfa_rc
data_uri(const char *prefix, const uint8_t *bin, size_t n, char **out)
{
    size_t plen = strlen(prefix);
    size_t b64len =
        sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *s = malloc(plen + b64len);

    if (s == NULL)
        return MFA_ERR_NOMEM;
    memcpy(s, prefix, plen);
    sodium_bin2base64(s + plen, b64len, bin, n, sodium_base64_VARIANT_ORIGINAL);
    *out = s;
    return MFA_OK;
}

mfa_rc
mfa_qr_svg_data_uri(const mfa_qr_t *qr, char **out)
{
    char *svg = NULL;
    mfa_rc rc;

    if (out == NULL)
        return MFA_ERR_INVALID;
    *out = NULL;
    if ((rc = mfa_qr_svg(qr, &svg)) != MFA_OK)
        return rc;
    rc = data_uri("data:image/svg+xml;base64,", (const uint8_t *)svg,
                  strlen(svg), out);
    mfa_string_free(&svg);
    return rc;
}

mfa_rc
mfa_qr_png_data_uri(const mfa_qr_t *qr, unsigned scale, char **out)
{
    uint8_t *png = NULL;
    size_t n = 0;
    mfa_rc rc;

    if (out == NULL)
        return MFA_ERR_INVALID;
    *out = NULL;
    if ((rc = mfa_qr_png(qr, scale, &png, &n)) != MFA_OK)
        return rc;
    rc = data_uri("data:image/png;base64,", png, n, out);
    sodium_memzero(png, n);
    free(png);
    return rc;
}

#else /* !MFA_HAVE_QRENCODE */

mfa_rc
mfa_qr_new(mfa_qr_t **out, const char *text, mfa_qr_ecc ecc)
{
    (void)text;
    (void)ecc;
    if (out != NULL)
        *out = NULL;
    return MFA_ERR_UNSUPPORTED;
}

void
mfa_qr_free(mfa_qr_t **qr)
{
    if (qr != NULL)
        *qr = NULL;
}

int
mfa_qr_size(const mfa_qr_t *qr)
{
    (void)qr;
    return 0;
}

int
mfa_qr_version(const mfa_qr_t *qr)
{
    (void)qr;
    return 0;
}

int
mfa_qr_module(const mfa_qr_t *qr, int x, int y)
{
    (void)qr;
    (void)x;
    (void)y;
    return 0;
}

mfa_rc
mfa_qr_svg(const mfa_qr_t *qr, char **out)
{
    (void)qr;
    if (out != NULL)
        *out = NULL;
    return MFA_ERR_UNSUPPORTED;
}

mfa_rc
mfa_qr_png(const mfa_qr_t *qr, unsigned scale, uint8_t **out, size_t *len)
{
    (void)qr;
    (void)scale;
    if (out != NULL)
        *out = NULL;
    if (len != NULL)
        *len = 0;
    return MFA_ERR_UNSUPPORTED;
}

mfa_rc
mfa_qr_text(const mfa_qr_t *qr, unsigned flags, char **out)
{
    (void)qr;
    (void)flags;
    if (out != NULL)
        *out = NULL;
    return MFA_ERR_UNSUPPORTED;
}

mfa_rc
mfa_qr_svg_data_uri(const mfa_qr_t *qr, char **out)
{
    (void)qr;
    if (out != NULL)
        *out = NULL;
    return MFA_ERR_UNSUPPORTED;
}

mfa_rc
mfa_qr_png_data_uri(const mfa_qr_t *qr, unsigned scale, char **out)
{
    (void)qr;
    (void)scale;
    if (out != NULL)
        *out = NULL;
    return MFA_ERR_UNSUPPORTED;
}

#endif /* MFA_HAVE_QRENCODE */
