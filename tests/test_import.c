/*
 * Imports (mfa_factor_import): the sample files of tests/import/ (written
 * by google-authenticator 20191231 itself, and from liboath's documented
 * users.oath format), each imported factor checked against the codes
 * oathtool computes for the same secret and counter or time; scratch codes
 * usable once; duplicates refused across factors, formats and enrollment;
 * bad lines, limits and store failures importing nothing.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#ifdef HAVE_LIBOATH
#include <liboath/oath.h>
#endif

#include <mfa.h>

#include "fault_store.h"
#include "testutil.h"

#define T 1700000000 /* the ctx's clock: step 56666666 of 30 s */

static struct {
    mfa_store_t *store;
    mfa_keyring_t *kr;
    mfa_ctx_t *ctx;
    fault_store *fs;
    int64_t now;
    size_t nimport, nother;
    char last_id[MFA_FACTOR_ID_LEN + 1];
} F;

static int64_t
clock_fn(void *arg)
{
    (void)arg;
    return F.now;
}

static void
on_event(const mfa_event *ev, void *arg)
{
    (void)arg;
    if (ev->type == MFA_EV_FACTOR_IMPORT && ev->rc == MFA_OK) {
        ck_assert_ptr_nonnull(ev->account);
        ck_assert_ptr_nonnull(ev->factor_id);
        snprintf(F.last_id, sizeof(F.last_id), "%s", ev->factor_id);
        F.nimport++;
    } else {
        F.nother++;
    }
}

static void
setup(void)
{
    mfa_store_t *inner = NULL;

    memset(&F, 0, sizeof(F));
    F.now = T;
    ck_assert_int_eq(mfa_store_memory_new(&inner), MFA_OK);
    ck_assert_int_eq(fault_store_wrap(&F.store, inner, &F.fs), MFA_OK);
    ck_assert_int_eq(mfa_keyring_new(&F.kr), MFA_OK);
    ck_assert_int_eq(mfa_keyring_generate(F.kr, NULL), MFA_OK);
    ck_assert_int_eq(mfa_ctx_new(&F.ctx, F.store, F.kr), MFA_OK);
    mfa_ctx_set_clock(F.ctx, clock_fn, NULL);
    mfa_ctx_set_event_cb(F.ctx, on_event, NULL);
}

static void
teardown(void)
{
    mfa_ctx_free(&F.ctx);
    mfa_store_free(&F.store);
    mfa_keyring_free(&F.kr);
}

/* ---- helpers ------------------------------------------------------------ */

static char *
sample(const char *name, size_t *len)
{
    const char *root = getenv("MFA_SOURCE_ROOT");
    char path[4096];
    FILE *f;
    char *buf;
    long n;

    snprintf(path, sizeof(path), "%s/tests/import/%s", root ? root : ".", name);
    f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* The first line oathtool prints for args. */
static void
oathtool(char *out, size_t size, const char *fmt, ...)
{
    char args[512], cmd[600];
    va_list ap;
    FILE *p;

    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof(cmd), "oathtool %s", args);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(fgets(out, (int)size, p));
    ck_assert_int_eq(pclose(p), 0);
    out[strcspn(out, "\n")] = '\0';
    ck_assert_uint_ge(strlen(out), 6);
}

static mfa_rc
import_text(mfa_import_format fmt, const char *account, const char *text,
            mfa_import_report_t **r)
{
    return mfa_factor_import(F.ctx, fmt, account, text, strlen(text), r);
}

static mfa_rc
import_sample(mfa_import_format fmt, const char *account, const char *name,
              mfa_import_report_t **r)
{
    size_t len;
    char *text = sample(name, &len);
    mfa_rc rc = mfa_factor_import(F.ctx, fmt, account, text, len, r);

    free(text);
    return rc;
}

static size_t
nfactors(const char *account)
{
    mfa_factor_info *list = NULL;
    size_t n = 0;

    ck_assert_int_eq(mfa_factors_list(F.ctx, account, &list, &n), MFA_OK);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(list[i].status, MFA_FACTOR_ACTIVE);
    mfa_free(list);
    return n;
}

static size_t
ncodes(const char *account)
{
    size_t n = 99;

    ck_assert_int_eq(mfa_backup_codes_left(F.ctx, account, &n), MFA_OK);
    return n;
}

static int
has_note(const mfa_import_report_t *r, const char *part, size_t line)
{
    for (size_t i = 0; i < mfa_import_report_notes(r); i++)
        if (strstr(mfa_import_report_note(r, i), part) != NULL &&
            mfa_import_report_note_line(r, i) == line)
            return 1;
    return 0;
}

static mfa_rc
check(const char *account, const char *code)
{
    mfa_result res;

    return mfa_verify(F.ctx, account, code, &res);
}

/* Refused with the line and cause given, and nothing stored anywhere. */
static void
expect_refused(mfa_rc rc, mfa_import_report_t **rp, mfa_rc want, size_t line,
               mfa_rc cause)
{
    const mfa_import_report_t *r = *rp; /* read after the call set it */

    ck_assert_msg(rc == want, "rc %s, wanted %s (%s)", mfa_strerror_name(rc),
                  mfa_strerror_name(want), mfa_import_report_message(r));
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(mfa_import_report_line(r), line);
    ck_assert_msg(mfa_import_report_cause(r) == cause, "cause %s, wanted %s",
                  mfa_strerror_name(mfa_import_report_cause(r)),
                  mfa_strerror_name(cause));
    ck_assert_str_ne(mfa_import_report_message(r), "");
    ck_assert_uint_eq(mfa_import_report_count(r), 0);
}

#define GA_TOTP_SECRET "ZBP3UBM4BLG7SANGILDTZD4TGA"

/* ---- google-authenticator-libpam ---------------------------------------- */

START_TEST(ga_totp)
{
    mfa_import_report_t *r = NULL;
    mfa_factor_info *list = NULL;
    mfa_result res;
    char code[16];
    size_t n = 0;

    ck_assert_int_eq(
        import_sample(MFA_IMPORT_GOOGLE_AUTHENTICATOR, "alice", "ga-totp", &r),
        MFA_OK);
    ck_assert_uint_eq(mfa_import_report_count(r), 1);
    ck_assert_str_eq(mfa_import_report_account(r, 0), "alice");
    ck_assert_uint_eq(mfa_import_report_factor_line(r, 0), 1);
    ck_assert_uint_eq(mfa_import_report_backup_codes(r), 5);
    ck_assert_int_eq(mfa_import_report_cause(r), MFA_OK);
    ck_assert_uint_eq(mfa_import_report_line(r), 0);
    /* RATE_LIMIT cannot be kept per account: reported, with its line */
    ck_assert(has_note(r, "RATE_LIMIT 3 30", 2));
    /* WINDOW_SIZE 3 is the ctx's default window: nothing to report */
    ck_assert(!has_note(r, "WINDOW_SIZE", 3));
    ck_assert_uint_eq(F.nimport, 1);
    ck_assert_str_eq(F.last_id, mfa_import_report_factor_id(r, 0));

    ck_assert_int_eq(mfa_factors_list(F.ctx, "alice", &list, &n), MFA_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(list[0].type, MFA_TOTP);
    ck_assert_int_eq(list[0].status, MFA_FACTOR_ACTIVE);
    ck_assert_uint_eq(list[0].period, 30);
    ck_assert_uint_eq(list[0].digits, 6);
    ck_assert_str_eq(list[0].label, "google-authenticator");
    ck_assert_str_eq(list[0].id, mfa_import_report_factor_id(r, 0));
    mfa_free(list);

    oathtool(code, sizeof(code), "--totp -b -N @%d %s", T, GA_TOTP_SECRET);
    ck_assert_int_eq(mfa_verify(F.ctx, "alice", code, &res), MFA_OK);
    ck_assert_str_eq(res.factor_id, mfa_import_report_factor_id(r, 0));
    ck_assert_int_eq(check("alice", code), MFA_ERR_REPLAYED);
    oathtool(code, sizeof(code), "--totp -b -N @%d %s", T + 30, GA_TOTP_SECRET);
    F.now = T + 30;
    ck_assert_int_eq(check("alice", code), MFA_OK);

    /* the scratch codes: each once, typed with or without a space */
    ck_assert_uint_eq(ncodes("alice"), 5);
    ck_assert_int_eq(mfa_recover(F.ctx, "alice", "23283907", &res), MFA_OK);
    ck_assert_uint_eq(res.backup_codes_left, 4);
    ck_assert_int_eq(mfa_recover(F.ctx, "alice", "23283907", &res),
                     MFA_ERR_CODE_WRONG);
    ck_assert_int_eq(mfa_recover(F.ctx, "alice", "8894 0074", &res), MFA_OK);
    ck_assert_int_eq(mfa_recover(F.ctx, "alice", "88940075", &res),
                     MFA_ERR_CODE_WRONG);
    ck_assert_uint_eq(ncodes("alice"), 3);
    mfa_import_report_free(&r);
    mfa_import_report_free(&r); /* NULL after the first free */
}
END_TEST

START_TEST(ga_hotp)
{
    mfa_import_report_t *r = NULL;
    char code[16];
    const char *secret = "YA7PE4SSNDMJLWFLXTWDSSYKGM";

    ck_assert_int_eq(
        import_sample(MFA_IMPORT_GOOGLE_AUTHENTICATOR, "bob", "ga-hotp", &r),
        MFA_OK);
    ck_assert_uint_eq(mfa_import_report_backup_codes(r), 3);
    /* 5 counters before, 11 here (the ctx's look-ahead 10) */
    ck_assert(has_note(r, "WINDOW_SIZE 5", 2));
    /* HOTP_COUNTER 1 is the next counter to accept: 0 counts as spent */
    oathtool(code, sizeof(code), "--hotp -b -c 0 %s", secret);
    ck_assert_int_eq(check("bob", code), MFA_ERR_REPLAYED);
    oathtool(code, sizeof(code), "--hotp -b -c 1 %s", secret);
    ck_assert_int_eq(check("bob", code), MFA_OK);
    ck_assert_int_eq(check("bob", code), MFA_ERR_REPLAYED);
    oathtool(code, sizeof(code), "--hotp -b -c 4 %s", secret);
    ck_assert_int_eq(check("bob", code), MFA_OK);
    mfa_import_report_free(&r);
}
END_TEST

START_TEST(ga_step_60)
{
    mfa_import_report_t *r = NULL;
    mfa_factor_info *list = NULL;
    char code[16];
    size_t n = 0;

    ck_assert_int_eq(import_sample(MFA_IMPORT_GOOGLE_AUTHENTICATOR, "carol",
                                   "ga-totp60", &r),
                     MFA_OK);
    ck_assert_uint_eq(mfa_import_report_backup_codes(r), 10);
    ck_assert_uint_eq(ncodes("carol"), 10);
    /* reuse was allowed there, never here */
    ck_assert(has_note(r, "DISALLOW_REUSE", 0));
    ck_assert_int_eq(mfa_factors_list(F.ctx, "carol", &list, &n), MFA_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(list[0].period, 60);
    mfa_free(list);
    oathtool(code, sizeof(code), "--totp -b -s 60 -N @%d %s", T,
             "HMSBFTUP5AIEOI27QKJGBJOGWM");
    ck_assert_int_eq(check("carol", code), MFA_OK);
    mfa_import_report_free(&r);
}
END_TEST

/* CRLF, trailing blanks, no newline at the end, a skew, used steps. */
START_TEST(ga_crlf_skew_reuse)
{
    mfa_import_report_t *r = NULL;
    char code[16];

    ck_assert_int_eq(
        import_sample(MFA_IMPORT_GOOGLE_AUTHENTICATOR, "dave", "ga-crlf", &r),
        MFA_OK);
    ck_assert_uint_eq(mfa_import_report_backup_codes(r), 5);
    /* the last scratch code has no newline after it */
    {
        mfa_result res;
        ck_assert_int_eq(mfa_recover(F.ctx, "dave", "88940074", &res), MFA_OK);
    }
    /* TIME_SKEW -2 centres the window on step 56666664; 56666665 was used */
    oathtool(code, sizeof(code), "--totp -b -N @%d %s", T - 30, GA_TOTP_SECRET);
    ck_assert_int_eq(check("dave", code), MFA_ERR_REPLAYED);
    oathtool(code, sizeof(code), "--totp -b -N @%d %s", T - 90, GA_TOTP_SECRET);
    ck_assert_int_eq(check("dave", code), MFA_ERR_REPLAYED);
    /* two steps later the skewed window reaches the current step */
    F.now = T + 60;
    oathtool(code, sizeof(code), "--totp -b -N @%d %s", T, GA_TOTP_SECRET);
    ck_assert_int_eq(check("dave", code), MFA_OK);
    mfa_import_report_free(&r);
}
END_TEST

START_TEST(ga_legacy_10_bytes)
{
    mfa_import_report_t *r = NULL;
    char code[16];

    ck_assert_int_eq(
        import_sample(MFA_IMPORT_GOOGLE_AUTHENTICATOR, "erin", "ga-legacy", &r),
        MFA_OK);
    /* "1234567890": the 80-bit secrets of old google-authenticator */
    oathtool(code, sizeof(code), "--totp -N @%d 31323334353637383930", T);
    ck_assert_int_eq(check("erin", code), MFA_OK);
    ck_assert_uint_eq(ncodes("erin"), 2);
    mfa_import_report_free(&r);
}
END_TEST

START_TEST(ga_bad_files)
{
    static const struct {
        const char *text;
        size_t line;
        mfa_rc rc, cause;
    } t[] = {
        {"JBSWY3DPEHPK3PXP\n\" OTP_DISABLED\n\" TOTP_AUTH\n", 2,
         MFA_ERR_IMPORT_LINE, MFA_ERR_STATE},
        {"JBSWY3DPEHPK3PXP\n\" TOTP_AUTH\n\" TOTP_AUTH\n", 3,
         MFA_ERR_IMPORT_LINE, MFA_ERR_URI_PARAM},
        {"JBSWY3DPEHPK3PXP\n12345678\n", 0, MFA_ERR_IMPORT_LINE, MFA_ERR_TYPE},
        {"JBSWY3DPEHPK3PXP\n\" HOTP_COUNTER 0\n", 2, MFA_ERR_IMPORT_LINE,
         MFA_ERR_COUNTER},
        {"JBSWY3DPEHPK3PXP\n\" HOTP_COUNTER 9223372036854775708\n", 2,
         MFA_ERR_IMPORT_LINE, MFA_ERR_COUNTER},
        {"JBSWY3DPEHPK3PXP\n\" WINDOW_SIZE 101\n\" TOTP_AUTH\n", 2,
         MFA_ERR_IMPORT_LINE, MFA_ERR_WINDOW},
        {"JBSWY3DPEHPK3PXP\n\" STEP_SIZE 61\n\" TOTP_AUTH\n", 2,
         MFA_ERR_IMPORT_LINE, MFA_ERR_PERIOD},
        {"JBSWY3DPEHPK3PXP\n\" RATE_LIMIT 0 30\n\" TOTP_AUTH\n", 2,
         MFA_ERR_IMPORT_LINE, MFA_ERR_INVALID},
        {"JBSWY3DPEHPK3PXP\n\" TOTP_AUTH\n# a comment\n", 3,
         MFA_ERR_IMPORT_LINE, MFA_ERR_INVALID},
        {"JBSWY3DPEHPK3PXP\n\" TOTP_AUTH\n12345678\n12345678\n", 4,
         MFA_ERR_IMPORT_DUPLICATE, MFA_ERR_IMPORT_DUPLICATE},
        {"JBSWY3DPEHPK3PXP\n\"TOTP_AUTH\n", 2, MFA_ERR_IMPORT_LINE,
         MFA_ERR_INVALID},
        /* far ahead of the clock's step 56666666 */
        {"JBSWY3DPEHPK3PXP\n\" DISALLOW_REUSE 99999999\n\" TOTP_AUTH\n", 2,
         MFA_ERR_IMPORT_LINE, MFA_ERR_TIME},
        {"JBSWY3DP\n\" TOTP_AUTH\n", 1, MFA_ERR_IMPORT_LINE,
         MFA_ERR_SECRET_SHORT},
        {"", 1, MFA_ERR_IMPORT_LINE, MFA_ERR_EMPTY},
    };
    mfa_import_report_t *r = NULL;
    mfa_result res;

    /* what the account had stays as it was */
    ck_assert_int_eq(
        import_sample(MFA_IMPORT_GOOGLE_AUTHENTICATOR, "alice", "ga-totp", &r),
        MFA_OK);
    mfa_import_report_free(&r);
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        mfa_rc rc = import_text(MFA_IMPORT_GOOGLE_AUTHENTICATOR, "alice",
                                t[i].text, &r);
        ck_assert_msg(rc == t[i].rc && mfa_import_report_line(r) == t[i].line &&
                          mfa_import_report_cause(r) == t[i].cause,
                      "case %zu: %s line %zu cause %s (%s)", i,
                      mfa_strerror_name(rc), mfa_import_report_line(r),
                      mfa_strerror_name(mfa_import_report_cause(r)),
                      mfa_import_report_message(r));
        mfa_import_report_free(&r);
        ck_assert_uint_eq(nfactors("alice"), 1);
        ck_assert_uint_eq(ncodes("alice"), 5);
    }
    expect_refused(import_sample(MFA_IMPORT_GOOGLE_AUTHENTICATOR, "bob",
                                 "ga-bad-secret", &r),
                   &r, MFA_ERR_IMPORT_LINE, 1, MFA_ERR_BASE32_CHAR);
    mfa_import_report_free(&r);
    expect_refused(import_sample(MFA_IMPORT_GOOGLE_AUTHENTICATOR, "bob",
                                 "ga-bad-scratch", &r),
                   &r, MFA_ERR_IMPORT_LINE, 5, MFA_ERR_BACKUP_FORMAT);
    mfa_import_report_free(&r);
    ck_assert_uint_eq(nfactors("bob"), 0);
    ck_assert_uint_eq(ncodes("bob"), 0);
    /* the scratch code before the bad line was not stored either */
    ck_assert_int_eq(mfa_recover(F.ctx, "bob", "39542745", &res),
                     MFA_ERR_NO_CODES);
    /* the account is the caller's: required, and checked */
    ck_assert_int_eq(
        import_sample(MFA_IMPORT_GOOGLE_AUTHENTICATOR, NULL, "ga-totp", &r),
        MFA_ERR_INVALID);
    mfa_import_report_free(&r);
    ck_assert_int_eq(
        import_sample(MFA_IMPORT_GOOGLE_AUTHENTICATOR, "a\x01", "ga-totp", &r),
        MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_import_report_cause(r), MFA_ERR_CONTROL_CHAR);
    mfa_import_report_free(&r);
}
END_TEST

/* ---- pam_oath's users.oath ----------------------------------------------- */

static void
check_users_oath(const char *name)
{
    mfa_import_report_t *r = NULL;
    char code[16];

    ck_assert_int_eq(import_sample(MFA_IMPORT_OATH_USERS, NULL, name, &r),
                     MFA_OK);
    ck_assert_uint_eq(mfa_import_report_count(r), 6);
    ck_assert_uint_eq(F.nimport, 6);
    ck_assert_str_eq(mfa_import_report_account(r, 0), "alice");
    ck_assert_uint_eq(mfa_import_report_factor_line(r, 0), 3);
    ck_assert_str_eq(mfa_import_report_account(r, 5), "erin");
    ck_assert_uint_eq(mfa_import_report_factor_line(r, 5), 12);
    /* bob's static password is not imported, and that is said */
    ck_assert(has_note(r, "static password", 6));
    ck_assert_uint_eq(mfa_import_report_backup_codes(r), 0);

    /* a fresh counter is the next one to use */
    oathtool(code, sizeof(code),
             "--hotp -c 0 3132333435363738393031323334353637383930");
    ck_assert_int_eq(check("alice", code), MFA_OK);
    oathtool(code, sizeof(code),
             "--hotp -d 8 -c 4 00112233445566778899aabbccddeeff00112233");
    ck_assert_int_eq(check("bob", code), MFA_ERR_REPLAYED);
    oathtool(code, sizeof(code),
             "--hotp -d 8 -c 5 00112233445566778899aabbccddeeff00112233");
    ck_assert_int_eq(check("bob", code), MFA_OK);
    /* a line with a last OTP has spent its counter */
    ck_assert_int_eq(check("carol", "022339"), MFA_ERR_REPLAYED);
    oathtool(code, sizeof(code),
             "--hotp -c 8 a1b2c3d4e5f60718293a4b5c6d7e8f9001122334");
    ck_assert_int_eq(check("carol", code), MFA_OK);
    /* time-based: the last OTP's step (T - 30) is spent, T's is not */
    oathtool(code, sizeof(code),
             "--totp -N @%d deadbeefcafebabe0123456789abcdeffedcba98", T - 30);
    ck_assert_int_eq(check("dave", code), MFA_ERR_REPLAYED);
    oathtool(code, sizeof(code),
             "--totp -N @%d deadbeefcafebabe0123456789abcdeffedcba98", T);
    ck_assert_int_eq(check("dave", code), MFA_OK);
    /* two tokens of one user: both work */
    oathtool(code, sizeof(code),
             "--totp -s 60 -d 8 -N @%d "
             "0f1e2d3c4b5a69788796a5b4c3d2e1f0ffeeddcc",
             T);
    ck_assert_int_eq(check("erin", code), MFA_OK);
    oathtool(code, sizeof(code),
             "--hotp -c 41 5566778899aabbccddeeff001122334455667788");
    ck_assert_int_eq(check("erin", code), MFA_OK);
    ck_assert_uint_eq(nfactors("erin"), 2);
    mfa_import_report_free(&r);
}

START_TEST(oath_users)
{
    check_users_oath("users.oath");
}
END_TEST

START_TEST(oath_users_crlf)
{
    check_users_oath("users-crlf.oath");
}
END_TEST

#ifdef HAVE_LIBOATH
/*
 * liboath itself spends a users.oath line (oath_authenticate_usersfile
 * writes the counter and the OTP it accepted, and the time); the imported
 * factor then refuses those codes and takes the next ones.
 */
START_TEST(oath_spent_by_liboath)
{
    const char *hk = "3132333435363738393031323334353637383930";
    const char *tk = "00112233445566778899aabbccddeeff00112233";
    mfa_import_report_t *r = NULL;
    char path[] = "/tmp/mfa-import-oath-XXXXXX";
    char code[16], now_code[16];
    time_t last = 0;
    FILE *f;
    size_t len;
    char *text;
    int fd;

    ck_assert_int_eq(oath_init(), OATH_OK);
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    f = fdopen(fd, "w");
    fprintf(f, "HOTP\tlina\t-\t%s\nHOTP/T30\tmax\t-\t%s\n", hk, tk);
    fclose(f);
    /* lina logs in with counter 2's code (0 and 1 never used) */
    oathtool(code, sizeof(code), "--hotp -c 2 %s", hk);
    ck_assert_int_eq(
        oath_authenticate_usersfile(path, "lina", code, 5, NULL, &last),
        OATH_OK);
    /* max logs in now, on liboath's clock */
    F.now = (int64_t)time(NULL);
    oathtool(now_code, sizeof(now_code), "--totp -N @%lld %s", (long long)F.now,
             tk);
    ck_assert_int_eq(
        oath_authenticate_usersfile(path, "max", now_code, 1, NULL, &last),
        OATH_OK);
    {
        FILE *in = fopen(path, "rb");
        char *buf = calloc(1, 4096);

        ck_assert_ptr_nonnull(in);
        len = fread(buf, 1, 4095, in);
        fclose(in);
        text = buf;
    }
    unlink(path);
    ck_assert_int_eq(
        mfa_factor_import(F.ctx, MFA_IMPORT_OATH_USERS, NULL, text, len, &r),
        MFA_OK);
    ck_assert_uint_eq(mfa_import_report_count(r), 2);
    mfa_import_report_free(&r);
    free(text);
    ck_assert_int_eq(check("lina", code), MFA_ERR_REPLAYED);
    oathtool(code, sizeof(code), "--hotp -c 1 %s", hk);
    ck_assert_int_eq(check("lina", code), MFA_ERR_REPLAYED);
    oathtool(code, sizeof(code), "--hotp -c 3 %s", hk);
    ck_assert_int_eq(check("lina", code), MFA_OK);
    ck_assert_int_eq(check("max", now_code), MFA_ERR_REPLAYED);
    F.now += 30;
    oathtool(code, sizeof(code), "--totp -N @%lld %s", (long long)F.now, tk);
    ck_assert_int_eq(check("max", code), MFA_OK);
}
END_TEST
#endif

START_TEST(oath_counters_near_2_64)
{
    mfa_import_report_t *r = NULL;
    char code[16];

    expect_refused(import_sample(MFA_IMPORT_OATH_USERS, NULL,
                                 "users-counter-max.oath", &r),
                   &r, MFA_ERR_IMPORT_LINE, 1, MFA_ERR_COUNTER);
    mfa_import_report_free(&r);
    /* the highest counter the store can hold with room for the look-ahead */
    ck_assert_int_eq(import_sample(MFA_IMPORT_OATH_USERS, NULL,
                                   "users-counter-high.oath", &r),
                     MFA_OK);
    mfa_import_report_free(&r);
    oathtool(code, sizeof(code),
             "--hotp -c 9223372036854775707 "
             "a1b2c3d4e5f60718293a4b5c6d7e8f9001122334");
    ck_assert_int_eq(check("carol", code), MFA_OK);
    expect_refused(
        import_text(MFA_IMPORT_OATH_USERS, NULL,
                    "HOTP dan - 3132333435363738393031323334353637383930 "
                    "9223372036854775708\n",
                    &r),
        &r, MFA_ERR_IMPORT_LINE, 1, MFA_ERR_COUNTER);
    mfa_import_report_free(&r);
    expect_refused(
        import_text(MFA_IMPORT_OATH_USERS, NULL,
                    "HOTP dan - 3132333435363738393031323334353637383930 "
                    "18446744073709551616\n",
                    &r),
        &r, MFA_ERR_IMPORT_LINE, 1, MFA_ERR_COUNTER);
    mfa_import_report_free(&r);
}
END_TEST

START_TEST(oath_bad_lines)
{
    static const struct {
        const char *line;
        mfa_rc cause;
    } t[] = {
        {"HOTP/T45 zed - 3132333435363738393031323334353637383930",
         MFA_ERR_TYPE},
        {"HOTP zed - 313233343536373839303132333435363738393",
         MFA_ERR_BASE32_CHAR},
        {"HOTP zed - 31323334353637383930313233343536373839zz",
         MFA_ERR_BASE32_CHAR},
        {"HOTP zed - "
         "313233343536373839303132333435363738393031323334353637383930313233",
         MFA_ERR_SECRET_LONG},
        {"HOTP zed - 313233343536373839", MFA_ERR_SECRET_SHORT},
        {"HOTP zed - 3132333435363738393031323334353637383930 -1",
         MFA_ERR_COUNTER},
        {"HOTP zed - 3132333435363738393031323334353637383930 1 12345",
         MFA_ERR_CODE_FORMAT},
        {"HOTP zed - 3132333435363738393031323334353637383930 1 123456 "
         "2023-11-14 22:13:20",
         MFA_ERR_TIME},
        {"HOTP zed - 3132333435363738393031323334353637383930 1 123456 "
         "2023-11-14T22:13:20L extra",
         MFA_ERR_INVALID},
        {"HOTP zed -", MFA_ERR_EMPTY},
        {"HOTP", MFA_ERR_EMPTY},
    };
    mfa_import_report_t *r = NULL;
    char text[1024];

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        /* good lines before and after: the file imports nothing */
        snprintf(text, sizeof(text),
                 "HOTP amy - 00112233445566778899aabbccddeeff00112233\r\n"
                 "# comment\n"
                 "%s\n"
                 "HOTP ben - a1b2c3d4e5f60718293a4b5c6d7e8f9001122334\n",
                 t[i].line);
        expect_refused(import_text(MFA_IMPORT_OATH_USERS, NULL, text, &r), &r,
                       MFA_ERR_IMPORT_LINE, 3, t[i].cause);
        mfa_import_report_free(&r);
        ck_assert_uint_eq(nfactors("amy"), 0);
        ck_assert_uint_eq(nfactors("ben"), 0);
    }
    ck_assert_uint_eq(F.nimport, 0);
    /* the accounts come from the file */
    ck_assert_int_eq(
        import_sample(MFA_IMPORT_OATH_USERS, "alice", "users.oath", &r),
        MFA_ERR_INVALID);
    mfa_import_report_free(&r);
}
END_TEST

/* ---- otpauth URIs -------------------------------------------------------- */

START_TEST(uri_file)
{
    mfa_import_report_t *r = NULL;
    char code[16];

    ck_assert_int_eq(import_sample(MFA_IMPORT_URI, NULL, "uris.txt", &r),
                     MFA_OK);
    ck_assert_uint_eq(mfa_import_report_count(r), 4);
    ck_assert_str_eq(mfa_import_report_account(r, 0), "alice@example.com");
    ck_assert_uint_eq(mfa_import_report_factor_line(r, 1), 4);
    ck_assert_str_eq(mfa_import_report_account(r, 2), "bob");
    /* the parser's warnings, on their line */
    ck_assert_uint_ge(mfa_import_report_notes(r), 2);
    for (size_t i = 0; i < mfa_import_report_notes(r); i++)
        ck_assert_uint_eq(mfa_import_report_note_line(r, i), 5);
    mfa_import_report_free(&r);

    oathtool(code, sizeof(code), "--totp -b -N @%d %s", T,
             "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP");
    ck_assert_int_eq(check("alice@example.com", code), MFA_OK);
    /* counter=5: the app's next code is counter 5's */
    oathtool(code, sizeof(code), "--hotp -b -c 5 %s",
             "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    ck_assert_int_eq(check("alice@example.com", code), MFA_OK);
    oathtool(code, sizeof(code), "--totp=sha256 -d 8 -s 60 -b -N @%d %s", T,
             "MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U");
    ck_assert_int_eq(check("bob", code), MFA_OK);
    oathtool(code, sizeof(code), "--totp -b -N @%d %s", T,
             "KRSXG5DTMVRXEZLUKRSXG5DTMVRXEZLU");
    ck_assert_int_eq(check("carol", code), MFA_OK);
}
END_TEST

START_TEST(uri_account_override)
{
    mfa_import_report_t *r = NULL;

    ck_assert_int_eq(import_sample(MFA_IMPORT_URI, "zed", "uris.txt", &r),
                     MFA_OK);
    for (size_t i = 0; i < mfa_import_report_count(r); i++)
        ck_assert_str_eq(mfa_import_report_account(r, i), "zed");
    mfa_import_report_free(&r);
    ck_assert_uint_eq(nfactors("zed"), 4);
    ck_assert_uint_eq(nfactors("bob"), 0);
}
END_TEST

START_TEST(uri_bad)
{
    mfa_import_report_t *r = NULL;
    char big[MFA_IMPORT_LINE_MAX + 200];

    expect_refused(import_sample(MFA_IMPORT_URI, NULL, "uris-bad.txt", &r), &r,
                   MFA_ERR_IMPORT_LINE, 2, MFA_ERR_URI_SECRET);
    mfa_import_report_free(&r);
    ck_assert_uint_eq(nfactors("alice"), 0);
    /* an oversized line */
    memset(big, 'A', sizeof(big));
    memcpy(big, "# ok\n", 5);
    big[sizeof(big) - 1] = '\0';
    expect_refused(import_text(MFA_IMPORT_URI, NULL, big, &r), &r,
                   MFA_ERR_IMPORT_LINE, 2, MFA_ERR_TOO_LONG);
    mfa_import_report_free(&r);
    /* a URI over the URI limit, within the line limit */
    memset(big, 'A', sizeof(big));
    memcpy(big, "otpauth://totp/x:y?secret=", 26);
    big[MFA_URI_MAX + 10] = '\0';
    expect_refused(import_text(MFA_IMPORT_URI, NULL, big, &r), &r,
                   MFA_ERR_IMPORT_LINE, 1, MFA_ERR_URI_TOO_LONG);
    mfa_import_report_free(&r);
    /* a NUL inside the text */
    {
        static const char nul[] =
            "otpauth://totp/x:y?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP\n"
            "otpauth://totp/x:z?sec\0ret=JBSWY3DPEHPK3PXP\n";
        ck_assert_int_eq(mfa_factor_import(F.ctx, MFA_IMPORT_URI, NULL, nul,
                                           sizeof(nul) - 1, &r),
                         MFA_ERR_IMPORT_LINE);
        ck_assert_uint_eq(mfa_import_report_line(r), 2);
        ck_assert_int_eq(mfa_import_report_cause(r), MFA_ERR_CONTROL_CHAR);
        mfa_import_report_free(&r);
    }
    /* comments only */
    ck_assert_int_eq(import_text(MFA_IMPORT_URI, NULL, "# nothing\n\n", &r),
                     MFA_ERR_EMPTY);
    mfa_import_report_free(&r);
    ck_assert_int_eq(
        mfa_factor_import(F.ctx, (mfa_import_format)7, NULL, "", 0, &r),
        MFA_ERR_INVALID);
    ck_assert_ptr_null(r);
    ck_assert_int_eq(mfa_factor_import(NULL, MFA_IMPORT_URI, NULL, "", 0, &r),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(
        mfa_factor_import(F.ctx, MFA_IMPORT_URI, NULL, NULL, 0, &r),
        MFA_ERR_INVALID);
    ck_assert_uint_eq(F.nimport, 0);
}
END_TEST

/* ---- one secret, one factor ---------------------------------------------- */

START_TEST(duplicate_secret)
{
    mfa_import_report_t *r = NULL;
    mfa_enrollment_t *e = NULL;
    char text[512];

    ck_assert_int_eq(
        import_sample(MFA_IMPORT_GOOGLE_AUTHENTICATOR, "alice", "ga-totp", &r),
        MFA_OK);
    mfa_import_report_free(&r);
    /* the same file again, and its secret in another format */
    expect_refused(
        import_sample(MFA_IMPORT_GOOGLE_AUTHENTICATOR, "alice", "ga-crlf", &r),
        &r, MFA_ERR_IMPORT_DUPLICATE, 1, MFA_ERR_IMPORT_DUPLICATE);
    mfa_import_report_free(&r);
    expect_refused(
        import_text(
            MFA_IMPORT_URI, NULL,
            "otpauth://totp/x:bob?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP\n"
            "otpauth://hotp/x:alice?secret=" GA_TOTP_SECRET "&counter=3\n",
            &r),
        &r, MFA_ERR_IMPORT_DUPLICATE, 2, MFA_ERR_IMPORT_DUPLICATE);
    mfa_import_report_free(&r);
    ck_assert_uint_eq(nfactors("alice"), 1);
    ck_assert_uint_eq(nfactors("bob"), 0);
    ck_assert_uint_eq(ncodes("alice"), 5);

    /* keys equal but for trailing zero bytes give the same HMAC codes */
    expect_refused(
        import_text(
            MFA_IMPORT_OATH_USERS, NULL,
            "HOTP eve - 3132333435363738393031323334353637383930\n"
            "HOTP/T30 eve - 313233343536373839303132333435363738393000\n",
            &r),
        &r, MFA_ERR_IMPORT_DUPLICATE, 2, MFA_ERR_IMPORT_DUPLICATE);
    mfa_import_report_free(&r);

    /* a pending enrollment's secret counts too */
    ck_assert_int_eq(mfa_enroll_begin(F.ctx, "carol", NULL, NULL, &e), MFA_OK);
    snprintf(text, sizeof(text), "otpauth://totp/x:carol?secret=%s\n",
             mfa_enrollment_secret(e));
    expect_refused(import_text(MFA_IMPORT_URI, NULL, text, &r), &r,
                   MFA_ERR_IMPORT_DUPLICATE, 1, MFA_ERR_IMPORT_DUPLICATE);
    mfa_import_report_free(&r);
    mfa_enrollment_free(&e);

    /* one secret in two accounts: stored, and said */
    ck_assert_int_eq(
        import_text(MFA_IMPORT_OATH_USERS, NULL,
                    "HOTP fay - 3132333435363738393031323334353637383930\n"
                    "HOTP gus - 3132333435363738393031323334353637383930\n",
                    &r),
        MFA_OK);
    ck_assert(has_note(r, "one code logs in to both", 2));
    mfa_import_report_free(&r);
}
END_TEST

START_TEST(limits)
{
    mfa_import_report_t *r = NULL;
    char *text = calloc(1, 64 * 1024);
    char **codes = NULL;
    size_t off = 0;

    ck_assert_ptr_nonnull(text);
    for (int i = 0; i < MFA_FACTORS_MAX + 1; i++) {
        uint8_t k[20];
        char hex[41];

        randombytes_buf(k, sizeof(k));
        sodium_bin2hex(hex, sizeof(hex), k, sizeof(k));
        off += (size_t)snprintf(text + off, 64 * 1024 - off, "HOTP amy - %s\n",
                                hex);
    }
    expect_refused(import_text(MFA_IMPORT_OATH_USERS, NULL, text, &r), &r,
                   MFA_ERR_IMPORT_LIMIT, MFA_FACTORS_MAX + 1,
                   MFA_ERR_IMPORT_LIMIT);
    mfa_import_report_free(&r);
    ck_assert_uint_eq(nfactors("amy"), 0);
    /* 15 stored and 2 more: the 2nd is over */
    for (int i = 0; i < 3; i++)
        *strrchr(text, '\n') = '\0';
    ck_assert_int_eq(import_text(MFA_IMPORT_OATH_USERS, NULL, text, &r),
                     MFA_OK);
    ck_assert_uint_eq(mfa_import_report_count(r), MFA_FACTORS_MAX - 1);
    mfa_import_report_free(&r);
    expect_refused(
        import_text(MFA_IMPORT_OATH_USERS, NULL,
                    "HOTP amy - 3132333435363738393031323334353637383930\n"
                    "HOTP amy - 00112233445566778899aabbccddeeff00112233\n",
                    &r),
        &r, MFA_ERR_IMPORT_LIMIT, 2, MFA_ERR_IMPORT_LIMIT);
    mfa_import_report_free(&r);
    ck_assert_uint_eq(nfactors("amy"), MFA_FACTORS_MAX - 1);

    /* 30 unused backup codes and 5 scratch codes: over 32 */
    ck_assert_int_eq(mfa_backup_codes_new(F.ctx, "alice", 30, &codes), MFA_OK);
    mfa_backup_codes_free(&codes, 30);
    expect_refused(
        import_sample(MFA_IMPORT_GOOGLE_AUTHENTICATOR, "alice", "ga-totp", &r),
        &r, MFA_ERR_IMPORT_LIMIT, 8, MFA_ERR_IMPORT_LIMIT);
    mfa_import_report_free(&r);
    ck_assert_uint_eq(nfactors("alice"), 0);
    ck_assert_uint_eq(ncodes("alice"), 30);
    free(text);
}
END_TEST

/* ---- backup codes: the imported form beside the native one --------------- */

START_TEST(scratch_form)
{
    char out[MFA_BACKUP_CHARS + 1];
    char **codes = NULL;
    mfa_result res;
    uint8_t h8[MFA_BACKUP_HASHBYTES], h12[MFA_BACKUP_HASHBYTES];

    ck_assert_int_eq(mfa_backup_normalize("1234 5678", out), MFA_OK);
    ck_assert_str_eq(out, "12345678");
    /* no folding in the 8-digit form, and exactly 8 */
    ck_assert_int_eq(mfa_backup_normalize("1234567O", out),
                     MFA_ERR_BACKUP_FORMAT);
    ck_assert_int_eq(mfa_backup_normalize("1234567", out),
                     MFA_ERR_BACKUP_FORMAT);
    ck_assert_int_eq(mfa_backup_normalize("123456789", out),
                     MFA_ERR_BACKUP_FORMAT);
    /* 12 digits are a native code, hashed apart from the 8-digit form */
    ck_assert_int_eq(mfa_backup_hash(F.kr, 0, "12345678", h8), MFA_OK);
    ck_assert_int_eq(mfa_backup_hash(F.kr, 0, "123456780000", h12), MFA_OK);
    ck_assert(memcmp(h8, h12, sizeof(h8)) != 0);

    /* an account with native codes only: 8 digits match nothing */
    ck_assert_int_eq(mfa_backup_codes_new(F.ctx, "nat", 3, &codes), MFA_OK);
    ck_assert_int_eq(mfa_recover(F.ctx, "nat", "12345678", &res),
                     MFA_ERR_CODE_WRONG);
    ck_assert_int_eq(mfa_recover(F.ctx, "nat", codes[0], &res), MFA_OK);
    mfa_backup_codes_free(&codes, 3);
}
END_TEST

/* ---- the store failing anywhere ------------------------------------------ */

START_TEST(store_failures)
{
    mfa_import_report_t *r = NULL;
    mfa_store_t *inner = fault_store_inner(F.fs);
    const char *accounts[] = {"alice", "bob", "carol", "dave", "erin"};
    unsigned calls, fired = 0;
    size_t len;
    char *text = sample("users.oath", &len);

    fault_store_arm(F.fs, 0, MFA_OK);
    /* a dry run counts the calls of a whole import, then it is undone */
    {
        mfa_store_t *mem = NULL;
        fault_store *fs2 = NULL;
        mfa_store_t *wrapped = NULL;
        mfa_ctx_t *ctx = NULL;

        ck_assert_int_eq(mfa_store_memory_new(&mem), MFA_OK);
        ck_assert_int_eq(fault_store_wrap(&wrapped, mem, &fs2), MFA_OK);
        ck_assert_int_eq(mfa_ctx_new(&ctx, wrapped, F.kr), MFA_OK);
        mfa_ctx_set_clock(ctx, clock_fn, NULL);
        fault_store_arm(fs2, 0, MFA_OK);
        ck_assert_int_eq(mfa_factor_import(ctx, MFA_IMPORT_OATH_USERS, NULL,
                                           text, len, NULL),
                         MFA_OK);
        calls = fault_store_calls(fs2);
        mfa_ctx_free(&ctx);
        mfa_store_free(&wrapped);
    }
    ck_assert_uint_gt(calls, 10);
    for (unsigned k = 1; k <= calls; k++) {
        mfa_rc rc;

        fault_store_arm(F.fs, k, MFA_ERR_STORE);
        rc = mfa_factor_import(F.ctx, MFA_IMPORT_OATH_USERS, NULL, text, len,
                               &r);
        ck_assert_msg(rc == MFA_ERR_STORE, "call %u (%s): %s", k,
                      fault_store_fired_at(F.fs), mfa_strerror_name(rc));
        fired += (unsigned)fault_store_fired(F.fs);
        ck_assert_uint_eq(mfa_import_report_count(r), 0);
        mfa_import_report_free(&r);
        fault_store_arm(F.fs, 0, MFA_OK);
        for (size_t a = 0; a < sizeof(accounts) / sizeof(accounts[0]); a++) {
            mfa_factor_info *list = NULL;
            size_t n = 9;
            mfa_ctx_t *ctx = NULL;

            ck_assert_int_eq(mfa_ctx_new(&ctx, inner, F.kr), MFA_OK);
            ck_assert_int_eq(mfa_factors_list(ctx, accounts[a], &list, &n),
                             MFA_OK);
            ck_assert_msg(n == 0, "call %u (%s): %s kept %zu factors", k,
                          fault_store_fired_at(F.fs), accounts[a], n);
            mfa_free(list);
            mfa_ctx_free(&ctx);
        }
    }
    ck_assert_uint_eq(fired, calls);
    ck_assert_uint_eq(F.nimport, 0);
    free(text);
}
END_TEST

/* ---- mutated samples ----------------------------------------------------- */

static uint64_t
next_rand(uint64_t *x)
{
    /* xorshift64*: reproducible runs, the seed is printed on failure */
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    return *x * UINT64_C(2685821657736338717);
}

/*
 * Every sample, mutated a few hundred times (a byte changed, inserted or
 * removed, a line doubled, the end cut): the import either stores what it
 * reports or refuses with a known error and a line within the file, and
 * a refusal leaves the store empty (key rotation counts every factor).
 */
START_TEST(mutated_samples)
{
    static const struct {
        const char *name;
        mfa_import_format fmt;
        const char *account;
    } t[] = {
        {"ga-totp", MFA_IMPORT_GOOGLE_AUTHENTICATOR, "acct"},
        {"ga-hotp", MFA_IMPORT_GOOGLE_AUTHENTICATOR, "acct"},
        {"ga-crlf", MFA_IMPORT_GOOGLE_AUTHENTICATOR, "acct"},
        {"users.oath", MFA_IMPORT_OATH_USERS, NULL},
        {"users-crlf.oath", MFA_IMPORT_OATH_USERS, NULL},
        {"uris.txt", MFA_IMPORT_URI, NULL},
    };
    static const char alphabet[] = "\n\r\t \"#-+=:/?&%0123456789abcdefAZ";
    uint64_t seed = UINT64_C(0x9e3779b97f4a7c15), x = seed;
    size_t accepted = 0, refused = 0;

    for (size_t s = 0; s < sizeof(t) / sizeof(t[0]); s++) {
        size_t len;
        char *orig = sample(t[s].name, &len);

        for (int it = 0; it < 300; it++) {
            char *buf = malloc(2 * len + 8);
            size_t n = len, lines = 1, stored = 0, skipped = 0;
            mfa_import_report_t *r = NULL;
            mfa_store_t *st = NULL;
            mfa_ctx_t *ctx = NULL;
            mfa_rc rc;

            memcpy(buf, orig, len);
            for (int k = 0, nm = 1 + (int)(next_rand(&x) % 3); k < nm; k++) {
                size_t at = n ? (size_t)(next_rand(&x) % n) : 0;
                char c = alphabet[next_rand(&x) % (sizeof(alphabet) - 1)];

                switch (next_rand(&x) % 5) {
                case 0:
                    if (n)
                        buf[at] = c;
                    break;
                case 1:
                    memmove(buf + at + 1, buf + at, n - at);
                    buf[at] = c;
                    n++;
                    break;
                case 2:
                    if (n) {
                        memmove(buf + at, buf + at + 1, n - at - 1);
                        n--;
                    }
                    break;
                case 3:
                    n = at;
                    break;
                default: {
                    /* the line at `at` once more, right after it */
                    size_t b = at, e = at, l;
                    while (b > 0 && buf[b - 1] != '\n')
                        b--;
                    while (e < n && buf[e] != '\n')
                        e++;
                    l = e - b + 1; /* the line and its newline */
                    if (e < n && n + l <= 2 * len + 1) {
                        memmove(buf + e + 1 + l, buf + e + 1, n - e - 1);
                        memcpy(buf + e + 1, buf + b, l);
                        n += l;
                    }
                    break;
                }
                }
            }
            for (size_t i = 0; i < n; i++)
                lines += buf[i] == '\n';
            ck_assert_int_eq(mfa_store_memory_new(&st), MFA_OK);
            ck_assert_int_eq(mfa_ctx_new(&ctx, st, F.kr), MFA_OK);
            mfa_ctx_set_clock(ctx, clock_fn, NULL);
            rc = mfa_factor_import(ctx, t[s].fmt, t[s].account, buf, n, &r);
            ck_assert_int_eq(mfa_keyring_rotate(ctx, &stored, &skipped),
                             MFA_OK);
            ck_assert_uint_eq(stored, 0); /* sealed under the current key */
            if (rc == MFA_OK) {
                ck_assert_uint_eq(skipped, mfa_import_report_count(r));
                ck_assert_uint_gt(skipped, 0);
                accepted++;
            } else {
                refused++;
                ck_assert_msg(
                    rc == MFA_ERR_IMPORT_LINE ||
                        rc == MFA_ERR_IMPORT_DUPLICATE ||
                        rc == MFA_ERR_IMPORT_LIMIT || rc == MFA_ERR_EMPTY,
                    "%s, seed %llx, round %d: %s", t[s].name,
                    (unsigned long long)seed, it, mfa_strerror_name(rc));
                ck_assert_uint_le(mfa_import_report_line(r), lines);
                ck_assert_uint_eq(skipped, 0);
                ck_assert_uint_eq(mfa_import_report_count(r), 0);
            }
            mfa_import_report_free(&r);
            mfa_ctx_free(&ctx);
            mfa_store_free(&st);
            free(buf);
        }
        free(orig);
    }
    /* the mutations reach both sides */
    printf("mutated samples: %zu imported, %zu refused\n", accepted, refused);
    ck_assert_uint_gt(accepted, 100);
    ck_assert_uint_gt(refused, 100);
}
END_TEST

START_TEST(format_names)
{
    mfa_import_format f = MFA_IMPORT_URI;

    ck_assert_int_eq(mfa_import_format_from_name("google-authenticator", &f),
                     MFA_OK);
    ck_assert_int_eq(f, MFA_IMPORT_GOOGLE_AUTHENTICATOR);
    ck_assert_int_eq(mfa_import_format_from_name("oath-users", &f), MFA_OK);
    ck_assert_int_eq(f, MFA_IMPORT_OATH_USERS);
    ck_assert_str_eq(mfa_import_format_name(MFA_IMPORT_URI), "uri");
    ck_assert_int_eq(mfa_import_format_from_name("URI", &f), MFA_ERR_INVALID);
    ck_assert_ptr_null(mfa_import_format_name((mfa_import_format)3));
    ck_assert_str_eq(mfa_event_name(MFA_EV_FACTOR_IMPORT), "factor_import");
    ck_assert_str_eq(mfa_strerror_name(MFA_ERR_IMPORT_LINE),
                     "MFA_ERR_IMPORT_LINE");
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("import");
    TCase *tc = tcase_create("import");

    tu_require_program("oathtool", "oathtool");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, ga_totp);
    tcase_add_test(tc, ga_hotp);
    tcase_add_test(tc, ga_step_60);
    tcase_add_test(tc, ga_crlf_skew_reuse);
    tcase_add_test(tc, ga_legacy_10_bytes);
    tcase_add_test(tc, ga_bad_files);
    tcase_add_test(tc, oath_users);
    tcase_add_test(tc, oath_users_crlf);
#ifdef HAVE_LIBOATH
    tcase_add_test(tc, oath_spent_by_liboath);
#else
    printf("note: liboath-dev not found at build time: the users.oath lines "
           "spent by liboath itself are not tested (apt-get install "
           "liboath-dev)\n");
#endif
    tcase_add_test(tc, oath_counters_near_2_64);
    tcase_add_test(tc, oath_bad_lines);
    tcase_add_test(tc, uri_file);
    tcase_add_test(tc, uri_account_override);
    tcase_add_test(tc, uri_bad);
    tcase_add_test(tc, duplicate_secret);
    tcase_add_test(tc, limits);
    tcase_add_test(tc, scratch_form);
    tcase_add_test(tc, store_failures);
    tcase_add_test(tc, mutated_samples);
    tcase_add_test(tc, format_names);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
