/*
 * libmfa: QR codes for key URIs (libqrencode): byte mode, error correction
 * M by default, a quiet zone of 4 modules.  Without libqrencode every
 * function returns MFA_ERR_UNSUPPORTED.
 */
#ifndef MFA_QR_H
#define MFA_QR_H

#include <mfa/err.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mfa_qr_ecc {
    MFA_QR_ECC_L = 0,
    MFA_QR_ECC_M = 1, /* default */
    MFA_QR_ECC_Q = 2,
    MFA_QR_ECC_H = 3,
} mfa_qr_ecc;

#define MFA_QR_QUIET_ZONE 4
#define MFA_QR_PNG_SCALE_DEFAULT 8 /* pixels per module */
#define MFA_QR_PNG_SCALE_MIN 4

/* mfa_qr_text flags */
#define MFA_QR_TEXT_INVERT 0x1u /* for dark-on-light terminals */

typedef struct mfa_qr mfa_qr_t;

/* Encode text (typically a key URI) in byte mode.  MFA_ERR_QR if too long. */
MFA_API mfa_rc mfa_qr_new(mfa_qr_t **out, const char *text,
                          mfa_qr_ecc ecc) MFA_WARN_UNUSED;
/* Wipe and free; NULL is fine. */
MFA_API void mfa_qr_free(mfa_qr_t **qr);

/* Modules per side without the quiet zone, and the symbol version. */
MFA_API int mfa_qr_size(const mfa_qr_t *qr);
MFA_API int mfa_qr_version(const mfa_qr_t *qr);
/* 1 when module (x, y) is dark, 0 when light (0 <= x, y < size). */
MFA_API int mfa_qr_module(const mfa_qr_t *qr, int x, int y);

/*
 * SVG: one compact path, viewBox including the quiet zone,
 * shape-rendering="crispEdges".  Free *out with mfa_string_free.
 */
MFA_API mfa_rc mfa_qr_svg(const mfa_qr_t *qr, char **out) MFA_WARN_UNUSED;
/*
 * PNG with `scale` pixels per module (0 means the default; at least
 * MFA_QR_PNG_SCALE_MIN).  *out is malloc'ed: free with mfa_free.
 */
MFA_API mfa_rc mfa_qr_png(const mfa_qr_t *qr, unsigned scale, uint8_t **out,
                          size_t *len) MFA_WARN_UNUSED;
/*
 * UTF-8 text for a terminal, two modules per character row (half blocks),
 * quiet zone included.  Default: light modules drawn as blocks (for
 * light-on-dark terminals); MFA_QR_TEXT_INVERT for dark-on-light ones.
 * Free *out with mfa_string_free.
 */
MFA_API mfa_rc mfa_qr_text(const mfa_qr_t *qr, unsigned flags,
                           char **out) MFA_WARN_UNUSED;
/* "data:image/svg+xml;base64,..." for an <img src>; free with mfa_string_free.
 */
MFA_API mfa_rc mfa_qr_svg_data_uri(const mfa_qr_t *qr,
                                   char **out) MFA_WARN_UNUSED;
/* "data:image/png;base64,..."; free with mfa_string_free. */
MFA_API mfa_rc mfa_qr_png_data_uri(const mfa_qr_t *qr, unsigned scale,
                                   char **out) MFA_WARN_UNUSED;

#ifdef __cplusplus
}
#endif

#endif /* MFA_QR_H */
