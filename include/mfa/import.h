/*
 * libmfa: importing existing factors.
 *
 * mfa_factor_import reads the file of another system and stores its
 * factors as active ones, sealed like enrolled ones, so that users keep
 * their authenticator app (docs/migration.md):
 *
 * - MFA_IMPORT_GOOGLE_AUTHENTICATOR: a ~/.google_authenticator file of
 *   google-authenticator-libpam (for the one account it belongs to): the
 *   secret, TOTP_AUTH or HOTP_COUNTER, STEP_SIZE, TIME_SKEW, the used steps
 *   of DISALLOW_REUSE, and the scratch codes, which become backup codes of
 *   the account (8 digits, each usable once with mfa_recover);
 * - MFA_IMPORT_OATH_USERS: pam_oath's users.oath (every line's account);
 * - MFA_IMPORT_URI: one otpauth:// URI a line.
 *
 * All or nothing: every line is read and checked before the store is
 * touched, a bad line imports nothing, and the report names it.  An
 * account never holds one secret twice: a secret already held by one of
 * the account's factors, or twice in the file for one account, is refused
 * (MFA_ERR_IMPORT_DUPLICATE), so one code can never log in twice through
 * two factors.  What the other system enforced and libmfa's policy does
 * not (a window wider than the ctx's, RATE_LIMIT, a static password) is
 * reported as a note.
 */
#ifndef MFA_IMPORT_H
#define MFA_IMPORT_H

#include <mfa/service.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mfa_import_format {
    MFA_IMPORT_GOOGLE_AUTHENTICATOR = 0, /* ~/.google_authenticator */
    MFA_IMPORT_OATH_USERS = 1,           /* pam_oath's users.oath */
    MFA_IMPORT_URI = 2,                  /* otpauth:// URIs, one a line */
} mfa_import_format;

/* Longest line read, and largest file (bytes). */
#define MFA_IMPORT_LINE_MAX 4096
#define MFA_IMPORT_FILE_MAX (64u * 1024u * 1024u)

/* "google-authenticator", "oath-users", "uri"; NULL for anything else. */
MFA_API const char *mfa_import_format_name(mfa_import_format f);
/* The inverse (exact); MFA_ERR_INVALID for an unknown name. */
MFA_API mfa_rc mfa_import_format_from_name(
    const char *name, mfa_import_format *f) MFA_WARN_UNUSED;

typedef struct mfa_import_report mfa_import_report_t;

/*
 * Import text[0..len) in the given format.  account: the account of a
 * google-authenticator file (required); for URIs, NULL keeps each URI's
 * account and a name puts every URI on that account; for oath-users it
 * must be NULL.  *report (may be NULL) gets what happened, also when the
 * import was refused for its input: free it with mfa_import_report_free.
 *
 * MFA_OK when every factor was stored.  MFA_ERR_IMPORT_LINE for a
 * malformed line (the report gives the line and the precise cause, e.g.
 * MFA_ERR_BASE32_CHAR), MFA_ERR_IMPORT_DUPLICATE, MFA_ERR_IMPORT_LIMIT (an
 * account beyond MFA_FACTORS_MAX factors or MFA_BACKUP_COUNT_MAX unused
 * backup codes), MFA_ERR_INVALID, MFA_ERR_TOO_LONG (above
 * MFA_IMPORT_FILE_MAX), MFA_ERR_EMPTY (no factor in the file), a key ring
 * error, or a store error.  On any error nothing is stored.
 */
MFA_API mfa_rc mfa_factor_import(mfa_ctx_t *ctx, mfa_import_format format,
                                 const char *account, const char *text,
                                 size_t len,
                                 mfa_import_report_t **report) MFA_WARN_UNUSED;

/* The line at fault (from 1), 0 when none or when the file as a whole is. */
MFA_API size_t mfa_import_report_line(const mfa_import_report_t *r);
/* What was wrong with it (MFA_ERR_BASE32_CHAR, ...); MFA_OK on success. */
MFA_API mfa_rc mfa_import_report_cause(const mfa_import_report_t *r);
/* One sentence for a person, without the line number; "" on success. */
MFA_API const char *mfa_import_report_message(const mfa_import_report_t *r);

/* The factors stored, in the file's order (none after an error). */
MFA_API size_t mfa_import_report_count(const mfa_import_report_t *r);
MFA_API const char *mfa_import_report_account(const mfa_import_report_t *r,
                                              size_t i);
MFA_API const char *mfa_import_report_factor_id(const mfa_import_report_t *r,
                                                size_t i);
MFA_API size_t mfa_import_report_factor_line(const mfa_import_report_t *r,
                                             size_t i);
/* Backup codes stored (google-authenticator scratch codes). */
MFA_API size_t mfa_import_report_backup_codes(const mfa_import_report_t *r);

/* Notes: what was mapped differently or not at all, with its line (or 0). */
MFA_API size_t mfa_import_report_notes(const mfa_import_report_t *r);
MFA_API const char *mfa_import_report_note(const mfa_import_report_t *r,
                                           size_t i);
MFA_API size_t mfa_import_report_note_line(const mfa_import_report_t *r,
                                           size_t i);

/* Free and set *r to NULL; NULL is fine.  The report holds no secret. */
MFA_API void mfa_import_report_free(mfa_import_report_t **r);

#ifdef __cplusplus
}
#endif

#endif /* MFA_IMPORT_H */
