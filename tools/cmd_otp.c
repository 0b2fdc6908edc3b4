/* mfa secret, mfa code, mfa verify: secrets and codes without a store. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sodium.h>

#include "cli.h"

/*
 * --name as a counter: 0..2^64-1 in plain decimal (the C API, the URI
 * parser and oathtool all take the full range; opt_int stops at 2^63-1).
 * Returns 0 when absent, 1 when parsed, -1 after a usage error.
 */
int
opt_counter(const cli *c, const char *name, uint64_t *out)
{
    const char *s = opt_str(c, name);
    uint64_t v = 0;
    size_t n;

    if (!opt_flag(c, name))
        return 0;
    n = s != NULL ? strlen(s) : 0;
    /* no sign, no spaces, no hex: strtoull would take " -1" as 2^64-1 */
    for (size_t i = 0; i < n && n <= 20; i++) {
        unsigned d = (unsigned)(s[i] - '0');

        if (d > 9 || v > (UINT64_MAX - d) / 10) {
            n = 0;
            break;
        }
        v = v * 10 + d;
    }
    if (n == 0 || n > 20) {
        usage_error(c, "--%s must be a whole number from 0 to %llu", name,
                    (unsigned long long)UINT64_MAX);
        return -1;
    }
    *out = v;
    return 1;
}

/* A counter in --json output: json_int would show 2^63 and up negative. */
void
json_counter(const char *key, uint64_t v)
{
    json_key(key);
    printf("%llu", (unsigned long long)v);
}

int
cmd_secret(cli *c)
{
    int64_t bytes = MFA_SECRET_DEFAULT;
    mfa_secret_t *s = NULL;
    char *b32 = NULL, *grouped = NULL;
    mfa_rc rc;

    if (c->npos != 0)
        return usage_error(c, "unexpected argument '%s'", c->pos[0]);
    if (opt_int(c, "bytes", MFA_SECRET_MIN, MFA_SECRET_MAX, &bytes) < 0)
        return EXIT_USAGE;
    if ((rc = mfa_secret_new(&s, (size_t)bytes)) != MFA_OK ||
        (rc = mfa_secret_base32(s, &b32)) != MFA_OK ||
        (rc = mfa_secret_grouped(s, &grouped)) != MFA_OK) {
        mfa_secret_free(&s);
        mfa_string_free(&b32);
        return fail(c, rc, EXIT_STORE, "secret");
    }
    if (c->json) {
        json_open(NULL, '{');
        json_string("secret", b32);
        json_string("grouped", grouped);
        json_int("bytes", bytes);
        json_close('}');
        json_done();
    } else {
        printf("%s\n", b32);
    }
    mfa_secret_free(&s);
    mfa_string_free(&b32);
    mfa_string_free(&grouped);
    return EXIT_OK;
}

/*
 * An mfa_otp_t from the secret on stdin (base32, or an otpauth:// URI) with
 * the command-line options applied over its parameters.
 */
static int
load_otp(cli *c, mfa_otp_t **out)
{
    char *text = NULL;
    uint8_t *key = NULL;
    size_t keylen = 0;
    mfa_otp_t *otp = NULL;
    const char *alg_name = opt_str(c, "algorithm");
    int64_t v;
    int rc;
    mfa_rc mrc;

    if ((rc = read_secret_text(c, "Secret", &text)) != 0)
        return rc;
    if (strncasecmp(text, "otpauth:", 8) == 0) {
        mfa_uri_t *u = NULL;

        mrc = mfa_uri_parse(text, &u, NULL);
        if (mrc == MFA_OK)
            mrc = mfa_uri_to_otp(u, &otp);
        mfa_uri_free(&u);
        secure_free(&text);
        if (mrc != MFA_OK)
            return fail(c, mrc, EXIT_INPUT, "secret URI");
    } else {
        /* decoded into guarded memory; mfa_otp_new copies it again */
        key = sodium_malloc(MFA_BASE32_INPUT_MAX);
        if (key == NULL) {
            secure_free(&text);
            return fail(c, MFA_ERR_NOMEM, EXIT_STORE, "secret");
        }
        /* typed by a person: 0 and 1 read as O and I, as Google
         * Authenticator's manual entry does */
        mrc = mfa_base32_decode_typed(text, key, MFA_BASE32_INPUT_MAX, &keylen);
        secure_free(&text);
        if (mrc == MFA_OK && keylen > MFA_KEY_MAX)
            mrc = MFA_ERR_SECRET_LONG;
        if (mrc == MFA_OK)
            mrc = mfa_otp_new(&otp, key, keylen);
        sodium_free(key);
        if (mrc != MFA_OK)
            return fail(c, mrc, EXIT_INPUT, "secret");
    }

    /* the values were range-checked above the library, so a setter that
     * still refuses is reported as a usage error */
    if (opt_flag(c, "hotp"))
        mrc = mfa_otp_set_type(otp, MFA_HOTP);
    if (mrc == MFA_OK && opt_flag(c, "counter")) {
        if (mfa_otp_type_get(otp) != MFA_HOTP) {
            mfa_otp_free(&otp);
            return usage_error(c, "--counter needs --hotp");
        }
        uint64_t counter = 0;

        if (opt_counter(c, "counter", &counter) < 0) {
            mfa_otp_free(&otp);
            return EXIT_USAGE;
        }
        mrc = mfa_otp_set_counter(otp, counter);
    }
    if (mrc == MFA_OK && alg_name != NULL) {
        char up[16];
        size_t i;
        mfa_algorithm alg;

        for (i = 0; alg_name[i] != '\0' && i + 1 < sizeof(up); i++)
            up[i] = (char)toupper((unsigned char)alg_name[i]);
        up[i] = '\0';
        if (mfa_algorithm_from_name(up, &alg) != MFA_OK) {
            mfa_otp_free(&otp);
            return usage_error(c, "--algorithm must be SHA1, SHA256 or "
                                  "SHA512");
        }
        mrc = mfa_otp_set_algorithm(otp, alg);
    }
    rc = opt_int(c, "digits", MFA_DIGITS_MIN, MFA_DIGITS_MAX, &v);
    if (rc > 0 && mrc == MFA_OK)
        mrc = mfa_otp_set_digits(otp, (unsigned)v);
    if (rc >= 0 && (rc = opt_int(c, "period", 1, MFA_PERIOD_MAX, &v)) > 0 &&
        mrc == MFA_OK)
        mrc = mfa_otp_set_period(otp, (uint32_t)v);
    if (rc >= 0 &&
        (rc = opt_int(c, "t0", INT64_MIN / 2, INT64_MAX / 2, &v)) > 0 &&
        mrc == MFA_OK)
        mrc = mfa_otp_set_t0(otp, v);
    if (rc < 0) {
        mfa_otp_free(&otp);
        return EXIT_USAGE;
    }
    if (mrc != MFA_OK) {
        mfa_otp_free(&otp);
        return fail(c, mrc, EXIT_USAGE, "parameters");
    }
    *out = otp;
    return 0;
}

static int64_t
now_of(const cli *c)
{
    return c->have_time ? c->time : (int64_t)time(NULL);
}

int
cmd_code(cli *c)
{
    mfa_otp_t *otp = NULL;
    char code[MFA_CODE_BUFSIZE];
    uint64_t step = 0;
    int64_t now = now_of(c);
    int hotp, rc;
    mfa_rc mrc;

    if (c->npos != 0)
        return usage_error(c,
                           "unexpected argument '%s' (the secret is read "
                           "from standard input)",
                           c->pos[0]);
    if ((rc = load_otp(c, &otp)) != 0)
        return rc;
    hotp = mfa_otp_type_get(otp) == MFA_HOTP;
    if (hotp) {
        step = mfa_otp_counter(otp);
        mrc = mfa_otp_hotp(otp, step, code, sizeof(code));
    } else {
        mrc = mfa_otp_step(otp, now, &step);
        if (mrc == MFA_OK)
            mrc = mfa_otp_totp(otp, now, code, sizeof(code));
    }
    mfa_otp_free(&otp);
    if (mrc != MFA_OK)
        return fail(c, mrc, EXIT_INPUT, "code");
    if (c->json) {
        json_open(NULL, '{');
        json_string("code", code);
        json_string("type", hotp ? "hotp" : "totp");
        json_counter(hotp ? "counter" : "step", step);
        if (!hotp)
            json_int("time", now);
        json_close('}');
        json_done();
    } else {
        printf("%s\n", code);
    }
    sodium_memzero(code, sizeof(code));
    return EXIT_OK;
}

/* "PAST:FUTURE" or "N" (both sides N). */
static int
parse_window(const cli *c, const char *s, int64_t max, unsigned *past,
             unsigned *future)
{
    const char *colon = strchr(s, ':');
    char left[32];
    int64_t p, f;

    if (colon == NULL) {
        if (parse_int(s, 0, max, &p) != 0)
            goto bad;
        f = p;
    } else {
        size_t n = (size_t)(colon - s);
        if (n >= sizeof(left))
            goto bad;
        memcpy(left, s, n);
        left[n] = '\0';
        if (parse_int(left, 0, max, &p) != 0 ||
            parse_int(colon + 1, 0, max, &f) != 0)
            goto bad;
    }
    *past = (unsigned)p;
    *future = (unsigned)f;
    return 0;
bad:
    return usage_error(c, "--window must be PAST:FUTURE, each 0..%lld",
                       (long long)max);
}

int
cmd_verify(cli *c)
{
    mfa_otp_t *otp = NULL;
    const char *window = opt_str(c, "window");
    unsigned past = MFA_PAST_DEFAULT, future = MFA_FUTURE_DEFAULT;
    int64_t now = now_of(c);
    int32_t offset = 0;
    uint64_t matched = 0;
    int hotp, rc;
    mfa_rc mrc;

    if (c->npos != 1)
        return usage_error(c, c->npos == 0 ? "missing CODE"
                                           : "too many arguments");
    if ((rc = load_otp(c, &otp)) != 0)
        return rc;
    hotp = mfa_otp_type_get(otp) == MFA_HOTP;
    if (hotp) {
        past = 0;
        future = MFA_HOTP_LOOKAHEAD_DEFAULT;
    }
    if (window != NULL &&
        (rc = parse_window(c, window, hotp ? MFA_LOOKAHEAD_MAX : MFA_WINDOW_MAX,
                           &past, &future)) != 0) {
        mfa_otp_free(&otp);
        return rc;
    }
    if (hotp) {
        uint64_t counter = mfa_otp_counter(otp), next = 0;

        if (past != 0) {
            mfa_otp_free(&otp);
            return usage_error(c, "HOTP has no past window: use --window "
                                  "0:LOOKAHEAD");
        }
        mrc = mfa_otp_hotp_verify(otp, c->pos[0], counter, future, &next);
        if (mrc == MFA_OK) {
            matched = next - 1;
            offset = (int32_t)(matched - counter);
        }
    } else {
        mrc = mfa_otp_totp_verify(otp, c->pos[0], now, past, future,
                                  MFA_STEP_NONE, &matched, &offset);
    }
    mfa_otp_free(&otp);
    if (mrc != MFA_OK)
        return fail(c, mrc, EXIT_INPUT, "code rejected");
    if (c->json) {
        json_open(NULL, '{');
        json_bool("ok", 1);
        json_int("offset", offset);
        json_counter(hotp ? "counter" : "step", matched);
        json_close('}');
        json_done();
    } else if (hotp) {
        printf("ok: offset %d (counter %llu, next %llu)\n", offset,
               (unsigned long long)matched, (unsigned long long)matched + 1);
    } else {
        printf("ok: offset %+d (step %llu)\n", offset,
               (unsigned long long)matched);
    }
    return EXIT_OK;
}
