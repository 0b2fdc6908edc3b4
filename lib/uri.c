/*
 * otpauth:// key URIs: building (strict, per docs/interop.md) and parsing
 * (tolerant of what real services emit, with warnings).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include <mfa/uri.h>

#include "enroll.h"
#include "internal.h"
#include "text.h"

struct mfa_uri {
    mfa_secret_t *secret;
    mfa_otp_type type;
    mfa_algorithm alg;
    unsigned digits;
    uint32_t period;
    uint64_t counter;
    char issuer[MFA_ISSUER_MAX + 1];
    char account[MFA_ACCOUNT_MAX + 1];
    char *image;       /* NULL when none */
    unsigned warnings; /* from mfa_uri_parse, for the lint */
};

static const char scheme[] = "otpauth://";
/* ':' and '/' are legal in a query (RFC 3986 3.4); keeping them leaves the
 * image URL readable and the URI short */
#define IMAGE_KEEP ":/@"

/* ---- field checks ------------------------------------------------------- */

static mfa_rc
check_field(const char *s, size_t max, int required)
{
    size_t n = strnlen(s, max + 1);
    mfa_rc rc;

    if (n > max)
        return MFA_ERR_TOO_LONG;
    if ((rc = mfa_int_text_check(s, n)) != MFA_OK)
        return rc;
    /* a colon splits the label in every parser; %3A is no way out
     * (FreeOTP refuses it, Aegis loses the issuer) */
    if (memchr(s, ':', n) != NULL)
        return MFA_ERR_COLON;
    if (required && n == 0)
        return MFA_ERR_EMPTY;
    return MFA_OK;
}

static mfa_rc
check_account(const char *s)
{
    mfa_rc rc = check_field(s, MFA_ACCOUNT_MAX, 1);

    /* readers following Google's key URI format strip spaces after the
     * issuer prefix, so such an account would not come back */
    if (rc == MFA_OK && s[0] == ' ')
        return MFA_ERR_LEADING_SPACE;
    return rc;
}

static mfa_rc
check_image(const char *url)
{
    size_t n = strnlen(url, MFA_IMAGE_MAX + 1), enc = 0;
    mfa_rc rc;

    if (n > MFA_IMAGE_MAX)
        return MFA_ERR_TOO_LONG;
    if ((rc = mfa_int_text_check(url, n)) != MFA_OK)
        return rc;
    if (n <= 8 || strncasecmp(url, "https://", 8) != 0 || url[8] == '/' ||
        memchr(url, ' ', n) != NULL)
        return MFA_ERR_IMAGE_URL;
    /* the limit holds for the URL as written in the URI too, so that every
     * URI this library accepts formats within MFA_URI_MAX */
    for (size_t i = 0; i < n; i++)
        if (!mfa_int_unreserved((unsigned char)url[i]) &&
            strchr(IMAGE_KEEP, url[i]) == NULL)
            enc += 2;
    if (n + enc > MFA_IMAGE_MAX)
        return MFA_ERR_TOO_LONG;
    return MFA_OK;
}

/* ---- construction ------------------------------------------------------- */

static mfa_rc
uri_alloc(mfa_uri_t **out)
{
    mfa_uri_t *u;

    if (mfa_int_init() != MFA_OK)
        return MFA_ERR_INTERNAL;
    if ((u = calloc(1, sizeof(*u))) == NULL)
        return MFA_ERR_NOMEM;
    u->type = MFA_TOTP;
    u->alg = MFA_SHA1;
    u->digits = MFA_DIGITS_DEFAULT;
    u->period = MFA_PERIOD_DEFAULT;
    *out = u;
    return MFA_OK;
}

void
mfa_uri_free(mfa_uri_t **u)
{
    if (u == NULL || *u == NULL)
        return;
    mfa_secret_free(&(*u)->secret);
    mfa_string_free(&(*u)->image);
    sodium_memzero(*u, sizeof(**u));
    free(*u);
    *u = NULL;
}

mfa_rc
mfa_uri_new(mfa_uri_t **out, const mfa_profile_t *profile,
            const mfa_secret_t *secret, const char *issuer, const char *account)
{
    mfa_uri_t *u = NULL;
    mfa_rc rc;

    if (out == NULL)
        return MFA_ERR_INVALID;
    *out = NULL;
    if (secret == NULL || account == NULL)
        return MFA_ERR_INVALID;
    if (profile == NULL)
        profile = mfa_profile_default();
    if (issuer == NULL)
        issuer = "";
    if ((rc = check_field(issuer, MFA_ISSUER_MAX, 0)) != MFA_OK)
        return rc;
    if ((rc = check_account(account)) != MFA_OK)
        return rc;
    if ((rc = uri_alloc(&u)) != MFA_OK)
        return rc;
    /* the caller's secret may be a legacy one imported from an old URI */
    rc = mfa_secret_import(&u->secret, mfa_secret_bytes(secret),
                           mfa_secret_len(secret), MFA_SECRET_LEGACY);
    if (rc != MFA_OK) {
        mfa_uri_free(&u);
        return rc;
    }
    u->type = mfa_profile_type(profile);
    u->alg = mfa_profile_algorithm(profile);
    u->digits = mfa_profile_digits(profile);
    u->period = mfa_profile_period(profile);
    u->counter = 0;
    memcpy(u->issuer, issuer, strlen(issuer) + 1);
    memcpy(u->account, account, strlen(account) + 1);
    *out = u;
    return MFA_OK;
}

mfa_rc
mfa_uri_set_image(mfa_uri_t *u, const char *url)
{
    char *copy;
    mfa_rc rc;

    if (u == NULL)
        return MFA_ERR_INVALID;
    if (url == NULL) {
        mfa_string_free(&u->image);
        return MFA_OK;
    }
    if ((rc = check_image(url)) != MFA_OK)
        return rc;
    if ((copy = strdup(url)) == NULL)
        return MFA_ERR_NOMEM;
    mfa_string_free(&u->image);
    u->image = copy;
    return MFA_OK;
}

mfa_rc
mfa_uri_set_counter(mfa_uri_t *u, uint64_t counter)
{
    if (u == NULL)
        return MFA_ERR_INVALID;
    if (u->type != MFA_HOTP)
        return MFA_ERR_TYPE;
    u->counter = counter;
    return MFA_OK;
}

/* ---- accessors ---------------------------------------------------------- */

unsigned
mfa_int_uri_warnings(const mfa_uri_t *u)
{
    return u ? u->warnings : 0;
}

unsigned
mfa_uri_warnings(const mfa_uri_t *u)
{
    return u ? u->warnings : 0;
}

static const struct {
    unsigned bit;
    const char *text;
} warning_texts[] = {
    {MFA_URI_WARN_LOWERCASE_ALGORITHM,
     "algorithm is not uppercase (some apps refuse or misread it)"},
    {MFA_URI_WARN_PADDED_SECRET,
     "secret has '=' padding (fails in Google Authenticator)"},
    {MFA_URI_WARN_LOWERCASE_SECRET, "secret is lowercase base32"},
    {MFA_URI_WARN_ISSUER_PARAM_ONLY,
     "issuer only in the issuer= parameter, not in the label"},
    {MFA_URI_WARN_ISSUER_PREFIX_ONLY,
     "issuer only in the label prefix, no issuer= parameter"},
    {MFA_URI_WARN_ENCODED_COLON, "label separator written as %3A"},
    {MFA_URI_WARN_SHORT_SECRET, "secret is shorter than 16 bytes"},
    {MFA_URI_WARN_PLUS_SPACE,
     "'+' in the label, kept as '+' (apps show it literally)"},
    {MFA_URI_WARN_UPPERCASE_SCHEME,
     "scheme is not lowercase 'otpauth' (Google Authenticator refuses it)"},
    {MFA_URI_WARN_UPPERCASE_TYPE,
     "type is not lowercase 'totp' or 'hotp' (Google Authenticator "
     "refuses it)"},
    {MFA_URI_WARN_PLUS_IN_QUERY,
     "'+' in issuer= read as a space (form encoding, as Python's urlencode "
     "writes it); some apps show '+'"},
    {MFA_URI_WARN_EMPTY_ISSUER,
     "empty issuer= parameter ignored (apps that read only the parameter "
     "show no issuer)"},
    {MFA_URI_WARN_COLON,
     "':' inside the account or issuer (the label was split at the first "
     "one; FreeOTP refuses it)"},
    {MFA_URI_WARN_IMAGE_SPACES, "spaces in the image URL written as %20"},
    {MFA_URI_WARN_IMAGE_IGNORED,
     "image= is not a usable https URL and was ignored"},
};

const char *
mfa_uri_warning_text(unsigned bit)
{
    for (size_t i = 0; i < sizeof(warning_texts) / sizeof(warning_texts[0]);
         i++)
        if (warning_texts[i].bit == bit)
            return warning_texts[i].text;
    return NULL;
}

const char *
mfa_uri_issuer(const mfa_uri_t *u)
{
    return u ? u->issuer : "";
}

const char *
mfa_uri_account(const mfa_uri_t *u)
{
    return u ? u->account : NULL;
}

const char *
mfa_uri_image(const mfa_uri_t *u)
{
    return u ? u->image : NULL;
}

const mfa_secret_t *
mfa_uri_secret(const mfa_uri_t *u)
{
    return u ? u->secret : NULL;
}

mfa_otp_type
mfa_uri_type(const mfa_uri_t *u)
{
    return u ? u->type : MFA_TOTP;
}

mfa_algorithm
mfa_uri_algorithm(const mfa_uri_t *u)
{
    return u ? u->alg : MFA_SHA1;
}

unsigned
mfa_uri_digits(const mfa_uri_t *u)
{
    return u ? u->digits : 0;
}

uint32_t
mfa_uri_period(const mfa_uri_t *u)
{
    return u ? u->period : 0;
}

uint64_t
mfa_uri_counter(const mfa_uri_t *u)
{
    return u ? u->counter : 0;
}

mfa_rc
mfa_uri_to_otp(const mfa_uri_t *u, mfa_otp_t **out)
{
    mfa_otp_t *o = NULL;
    mfa_rc rc;

    if (out == NULL)
        return MFA_ERR_INVALID;
    *out = NULL;
    if (u == NULL)
        return MFA_ERR_INVALID;
    rc =
        mfa_otp_new(&o, mfa_secret_bytes(u->secret), mfa_secret_len(u->secret));
    if (rc == MFA_OK)
        rc = mfa_otp_set_type(o, u->type);
    if (rc == MFA_OK)
        rc = mfa_otp_set_algorithm(o, u->alg);
    if (rc == MFA_OK)
        rc = mfa_otp_set_digits(o, u->digits);
    if (rc == MFA_OK)
        rc = mfa_otp_set_period(o, u->period);
    if (rc == MFA_OK)
        rc = mfa_otp_set_counter(o, u->counter);
    if (rc != MFA_OK) {
        mfa_otp_free(&o);
        return rc;
    }
    *out = o;
    return MFA_OK;
}

/* ---- formatting --------------------------------------------------------- */

/* An appending writer into a fixed, wiped buffer. */
struct sbuf {
    char *p;
    size_t len, cap;
    int overflow;
};

static void
put(struct sbuf *b, const char *s, size_t n)
{
    if (b->overflow || b->cap - b->len <= n) {
        b->overflow = 1;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void
puts_(struct sbuf *b, const char *s)
{
    put(b, s, strlen(s));
}

static void
put_uint(struct sbuf *b, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof(tmp);

    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    put(b, tmp + i, sizeof(tmp) - i);
}

static void
put_enc(struct sbuf *b, const char *s, const char *keep)
{
    size_t n;

    if (b->overflow)
        return;
    if (mfa_int_pct_encode(s, strlen(s), keep, b->p + b->len, b->cap - b->len,
                           &n) != MFA_OK) {
        b->overflow = 1;
        return;
    }
    b->len += n;
}

mfa_rc
mfa_uri_format(const mfa_uri_t *u, unsigned flags, char **out)
{
    int explicit_ = (flags & MFA_URI_EXPLICIT) != 0;
    struct sbuf b;
    char *b32 = NULL;
    mfa_rc rc;

    if (out == NULL)
        return MFA_ERR_INVALID;
    *out = NULL;
    if (u == NULL || (flags & ~MFA_URI_EXPLICIT) != 0)
        return MFA_ERR_INVALID;
    if ((rc = mfa_secret_base32(u->secret, &b32)) != MFA_OK)
        return rc;
    b.cap = MFA_URI_MAX + 1;
    b.len = 0;
    b.overflow = 0;
    if ((b.p = malloc(b.cap)) == NULL) {
        mfa_string_free(&b32);
        return MFA_ERR_NOMEM;
    }
    b.p[0] = '\0';

    puts_(&b, scheme);
    puts_(&b, u->type == MFA_HOTP ? "hotp/" : "totp/");
    /* only a parsed URI can hold a colon (MFA_URI_WARN_COLON); it is
     * written so that it reads back the same: %3A in the account, and an
     * issuer with one only in issuer= (as a prefix it would split there) */
    if (u->issuer[0] != '\0' && strchr(u->issuer, ':') == NULL) {
        put_enc(&b, u->issuer, NULL);
        puts_(&b, ":");
    }
    put_enc(&b, u->account, NULL);
    puts_(&b, "?secret=");
    puts_(&b, b32);
    mfa_string_free(&b32);
    if (u->issuer[0] != '\0') {
        puts_(&b, "&issuer=");
        put_enc(&b, u->issuer, NULL);
    }
    if (explicit_ || u->alg != MFA_SHA1) {
        puts_(&b, "&algorithm=");
        puts_(&b, mfa_algorithm_name(u->alg));
    }
    if (explicit_ || u->digits != MFA_DIGITS_DEFAULT) {
        puts_(&b, "&digits=");
        put_uint(&b, u->digits);
    }
    if (u->type == MFA_HOTP) {
        puts_(&b, "&counter=");
        put_uint(&b, u->counter);
    } else if (explicit_ || u->period != MFA_PERIOD_DEFAULT) {
        puts_(&b, "&period=");
        put_uint(&b, u->period);
    }
    if (u->image != NULL) {
        puts_(&b, "&image=");
        put_enc(&b, u->image, IMAGE_KEEP);
    }
    if (b.overflow) {
        sodium_memzero(b.p, b.cap);
        free(b.p);
        return MFA_ERR_URI_TOO_LONG;
    }
    *out = b.p;
    return MFA_OK;
}

/* ---- parsing ------------------------------------------------------------ */

/* A parameter seen in the query: its raw value (still percent-encoded). */
struct param {
    const char *v;
    size_t n;
    int seen;
};

enum {
    P_SECRET,
    P_ISSUER,
    P_ALGORITHM,
    P_DIGITS,
    P_PERIOD,
    P_COUNTER,
    P_IMAGE,
    P_COUNT
};

static const char *const param_names[P_COUNT] = {
    "secret", "issuer", "algorithm", "digits", "period", "counter", "image",
};

/* A plain decimal number: digits only, at most 20 of them, no overflow. */
static int
parse_uint(const char *s, size_t n, uint64_t *v)
{
    uint64_t x = 0;

    if (n == 0 || n > 20)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d;

        if (s[i] < '0' || s[i] > '9')
            return 0;
        d = (unsigned)(s[i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return 0;
        x = x * 10 + d;
    }
    *v = x;
    return 1;
}

/*
 * Decode a label part or parameter into a text field of at most max bytes.
 * With form != 0 a raw '+' is a space first (application/x-www-form-
 * urlencoded, what Python's urlencode writes in a query); %2B stays '+'.
 */
static mfa_rc
decode_field_as(const char *s, size_t n, char *out, size_t max, int *plus,
                int form)
{
    char tmp[MFA_URI_MAX + 1], raw[MFA_URI_MAX + 1];
    size_t len;
    mfa_rc rc;

    if (form) {
        if (n > MFA_URI_MAX)
            return MFA_ERR_URI_TOO_LONG;
        for (size_t i = 0; i < n; i++) {
            raw[i] = s[i];
            if (raw[i] == '+')
                raw[i] = ' ';
        }
        rc = mfa_int_pct_decode(raw, n, tmp, sizeof(tmp), &len);
    } else {
        rc = mfa_int_pct_decode(s, n, tmp, sizeof(tmp), &len);
    }
    if (rc == MFA_ERR_BUFFER)
        rc = MFA_ERR_URI_TOO_LONG;
    if (rc != MFA_OK)
        return rc;
    if ((rc = mfa_int_text_check(tmp, len)) != MFA_OK)
        return rc;
    if (len > max)
        return MFA_ERR_TOO_LONG;
    /* in the label a raw '+' was probably meant as a space by a form
     * encoder, but pyotp, otpauth and the apps show it literally, so it is
     * kept and reported */
    if (plus != NULL && memchr(s, '+', n) != NULL)
        *plus = 1;
    memcpy(out, tmp, len + 1);
    return MFA_OK;
}

static mfa_rc
decode_field(const char *s, size_t n, char *out, size_t max, int *plus)
{
    return decode_field_as(s, n, out, max, plus, 0);
}

/* Find the label separator: a raw ':' or %3A, the first one. */
static const char *
find_sep(const char *s, size_t n, size_t *seplen)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ':') {
            *seplen = 1;
            return s + i;
        }
        if (s[i] == '%' && n - i >= 3 && s[i + 1] == '3' &&
            (s[i + 2] == 'A' || s[i + 2] == 'a')) {
            *seplen = 3;
            return s + i;
        }
    }
    return NULL;
}

static mfa_rc
parse_label(mfa_uri_t *u, const char *s, size_t n, unsigned *warn,
            int *has_prefix)
{
    const char *sep, *acc;
    size_t seplen = 0, accn;
    int plus = 0;
    mfa_rc rc;

    *has_prefix = 0;
    if (n == 0)
        return MFA_ERR_URI_LABEL;
    sep = find_sep(s, n, &seplen);
    if (sep != NULL) {
        size_t pn = (size_t)(sep - s);
        size_t dummy;

        if (pn == 0)
            return MFA_ERR_URI_LABEL;
        if (seplen == 3)
            *warn |= MFA_URI_WARN_ENCODED_COLON;
        acc = sep + seplen;
        accn = n - pn - seplen;
        /* two separators: the first one splits, the account keeps the
         * rest with its colons, as pyotp and otpauth read it; FreeOTP
         * refuses such a label, so it is reported */
        if (find_sep(acc, accn, &dummy) != NULL)
            *warn |= MFA_URI_WARN_COLON;
        rc = decode_field(s, pn, u->issuer, MFA_ISSUER_MAX, &plus);
        if (rc != MFA_OK)
            return rc;
        *has_prefix = 1;
        /* Google's key URI format allows spaces before the account */
        for (;;) {
            if (accn > 0 && acc[0] == ' ') {
                acc++;
                accn--;
            } else if (accn >= 3 && acc[0] == '%' && acc[1] == '2' &&
                       acc[2] == '0') {
                acc += 3;
                accn -= 3;
            } else {
                break;
            }
        }
    } else {
        acc = s;
        accn = n;
    }
    if (accn == 0)
        return MFA_ERR_URI_LABEL;
    rc = decode_field(acc, accn, u->account, MFA_ACCOUNT_MAX, &plus);
    if (rc != MFA_OK)
        return rc;
    if (plus)
        *warn |= MFA_URI_WARN_PLUS_SPACE;
    return MFA_OK;
}

static mfa_rc
parse_query(const char *q, size_t n, struct param p[P_COUNT])
{
    size_t i = 0;

    while (i < n) {
        const char *seg = q + i, *amp, *eq;
        size_t segn, namen;

        amp = memchr(seg, '&', n - i);
        segn = amp ? (size_t)(amp - seg) : n - i;
        i += segn + 1;
        if (segn == 0)
            continue; /* "&&" or a trailing '&': harmless */
        eq = memchr(seg, '=', segn);
        if (eq == NULL)
            return MFA_ERR_URI_PARAM;
        namen = (size_t)(eq - seg);
        for (int k = 0; k < P_COUNT; k++) {
            if (strlen(param_names[k]) == namen &&
                memcmp(param_names[k], seg, namen) == 0) {
                /* a repeated parameter means two producers disagree, and
                 * apps differ on which one wins */
                if (p[k].seen)
                    return MFA_ERR_URI_PARAM;
                p[k].seen = 1;
                p[k].v = eq + 1;
                p[k].n = segn - namen - 1;
            }
        }
    }
    return MFA_OK;
}

static mfa_rc
parse_secret(mfa_uri_t *u, const struct param *p, unsigned *warn)
{
    char txt[MFA_BASE32_INPUT_MAX + 1];
    uint8_t buf[MFA_BASE32_INPUT_MAX];
    size_t len = 0, n = 0;
    unsigned lower = 0, pad = 0;
    mfa_rc rc;

    if (!p->seen || p->n == 0)
        return MFA_ERR_URI_SECRET;
    rc = mfa_int_pct_decode(p->v, p->n, txt, sizeof(txt), &len);
    if (rc == MFA_ERR_BUFFER) {
        rc = MFA_ERR_SECRET_LONG;
    } else if (rc == MFA_OK) {
        /* no branch on the secret's characters: the flags are summed */
        for (size_t i = 0; i < len; i++) {
            unsigned c = (unsigned char)txt[i];
            lower |= ((c - 'a') <= ('z' - 'a'));
            pad |= (c == '=');
        }
        rc = mfa_base32_decode(txt, buf, sizeof(buf), &n);
        if (rc == MFA_ERR_BASE32_CHAR || rc == MFA_ERR_BASE32_LENGTH)
            rc = MFA_ERR_URI_SECRET;
        else if (rc == MFA_OK && n < MFA_SECRET_LEGACY_MIN)
            rc = MFA_ERR_SECRET_SHORT;
        else if (rc == MFA_OK && n > MFA_SECRET_MAX)
            rc = MFA_ERR_SECRET_LONG;
        if (rc == MFA_OK)
            rc = mfa_secret_import(&u->secret, buf, n, MFA_SECRET_LEGACY);
    } else {
        rc = MFA_ERR_URI_SECRET;
    }
    sodium_memzero(txt, sizeof(txt));
    sodium_memzero(buf, sizeof(buf));
    if (rc != MFA_OK)
        return rc;
    if (lower)
        *warn |= MFA_URI_WARN_LOWERCASE_SECRET;
    if (pad)
        *warn |= MFA_URI_WARN_PADDED_SECRET;
    if (n < MFA_SECRET_MIN)
        *warn |= MFA_URI_WARN_SHORT_SECRET;
    return MFA_OK;
}

/*
 * image= is an extension most apps ignore, so it never costs the key: a
 * value that is not a usable https URL is dropped and reported.  Producers
 * rarely encode the URL a second time, so "image=https://x/my%20logo.png"
 * decodes to a URL with a space, which is put back as %20.
 */
static mfa_rc
parse_image(mfa_uri_t *u, const struct param *p, unsigned *warn)
{
    char img[MFA_URI_MAX + 1];
    char fixed[MFA_IMAGE_MAX + 1] = {0};
    size_t len, o = 0;
    int spaces = 0;
    mfa_rc rc;

    rc = mfa_int_pct_decode(p->v, p->n, img, sizeof(img), &len);
    if (rc != MFA_OK)
        return rc == MFA_ERR_BUFFER ? MFA_ERR_URI_TOO_LONG : rc;
    for (size_t i = 0; i < len && o < sizeof(fixed); i++) {
        if (img[i] != ' ') {
            fixed[o++] = img[i];
        } else if (sizeof(fixed) - o > 3) {
            memcpy(fixed + o, "%20", 3);
            o += 3;
            spaces = 1;
        } else {
            o = sizeof(fixed); /* too long either way */
        }
    }
    if (o < sizeof(fixed))
        fixed[o] = '\0';
    if (o >= sizeof(fixed) || check_image(fixed) != MFA_OK) {
        *warn |= MFA_URI_WARN_IMAGE_IGNORED;
        return MFA_OK;
    }
    if (spaces)
        *warn |= MFA_URI_WARN_IMAGE_SPACES;
    if ((u->image = strdup(fixed)) == NULL)
        return MFA_ERR_NOMEM;
    return MFA_OK;
}

static mfa_rc
parse_params(mfa_uri_t *u, struct param p[P_COUNT], int has_prefix,
             unsigned *warn)
{
    uint64_t v;
    mfa_rc rc;

    if ((rc = parse_secret(u, &p[P_SECRET], warn)) != MFA_OK)
        return rc;

    if (p[P_ISSUER].seen && p[P_ISSUER].n == 0) {
        /* "issuer=": pyotp drops it, otpauth falls back to the prefix */
        *warn |= MFA_URI_WARN_EMPTY_ISSUER;
        if (!has_prefix)
            u->issuer[0] = '\0';
    } else if (p[P_ISSUER].seen) {
        char iss[MFA_ISSUER_MAX + 1], lit[MFA_ISSUER_MAX + 1];
        int plus = 0;

        /* a query is form-encoded: '+' is a space (pyotp reads it so, and
         * Python's urlencode writes it so) */
        rc = decode_field_as(p[P_ISSUER].v, p[P_ISSUER].n, iss, MFA_ISSUER_MAX,
                             &plus, 1);
        if (rc != MFA_OK)
            return rc;
        if (has_prefix) {
            /* equal to the prefix read either way: a producer that wrote
             * '+' literally in both places meant the same name twice */
            if (strcmp(iss, u->issuer) == 0) {
                if (plus)
                    *warn |= MFA_URI_WARN_PLUS_IN_QUERY;
            } else if (plus &&
                       decode_field(p[P_ISSUER].v, p[P_ISSUER].n, lit,
                                    MFA_ISSUER_MAX, NULL) == MFA_OK &&
                       strcmp(lit, u->issuer) == 0) {
                *warn |= MFA_URI_WARN_PLUS_SPACE;
            } else {
                return MFA_ERR_URI_ISSUER;
            }
        } else {
            memcpy(u->issuer, iss, sizeof(iss));
            if (plus)
                *warn |= MFA_URI_WARN_PLUS_IN_QUERY;
            /* pyotp and otpauth keep it; FreeOTP and Aegis split on it */
            if (strchr(iss, ':') != NULL)
                *warn |= MFA_URI_WARN_COLON;
            if (iss[0] != '\0')
                *warn |= MFA_URI_WARN_ISSUER_PARAM_ONLY;
        }
    } else if (has_prefix) {
        *warn |= MFA_URI_WARN_ISSUER_PREFIX_ONLY;
    }

    if (p[P_ALGORITHM].seen) {
        char name[8];
        size_t n = p[P_ALGORITHM].n;

        if (n == 0 || n >= sizeof(name))
            return MFA_ERR_ALGORITHM;
        memcpy(name, p[P_ALGORITHM].v, n);
        name[n] = '\0';
        if (mfa_algorithm_from_name(name, &u->alg) != MFA_OK) {
            for (size_t i = 0; i < n; i++)
                if (name[i] >= 'a' && name[i] <= 'z')
                    name[i] = (char)(name[i] - 'a' + 'A');
            if (mfa_algorithm_from_name(name, &u->alg) != MFA_OK)
                return MFA_ERR_ALGORITHM;
            *warn |= MFA_URI_WARN_LOWERCASE_ALGORITHM;
        }
    }
    if (p[P_DIGITS].seen) {
        if (!parse_uint(p[P_DIGITS].v, p[P_DIGITS].n, &v))
            return MFA_ERR_URI_PARAM;
        if (v < MFA_DIGITS_MIN || v > MFA_DIGITS_MAX)
            return MFA_ERR_DIGITS;
        u->digits = (unsigned)v;
    }
    if (p[P_PERIOD].seen) {
        if (!parse_uint(p[P_PERIOD].v, p[P_PERIOD].n, &v))
            return MFA_ERR_URI_PARAM;
        if (v == 0 || v > MFA_PERIOD_MAX)
            return MFA_ERR_PERIOD;
        u->period = (uint32_t)v;
    }
    if (u->type == MFA_HOTP) {
        if (!p[P_COUNTER].seen ||
            !parse_uint(p[P_COUNTER].v, p[P_COUNTER].n, &v))
            return MFA_ERR_URI_COUNTER;
        u->counter = v;
    }
    if (p[P_IMAGE].seen)
        return parse_image(u, &p[P_IMAGE], warn);
    return MFA_OK;
}

mfa_rc
mfa_uri_parse(const char *text, mfa_uri_t **out, unsigned *warnings)
{
    struct param p[P_COUNT];
    const char *s, *label, *q, *end;
    size_t n, labeln, sl = sizeof(scheme) - 1;
    unsigned warn = 0;
    int has_prefix = 0;
    mfa_uri_t *u = NULL;
    mfa_rc rc;

    if (warnings != NULL)
        *warnings = 0;
    if (out == NULL)
        return MFA_ERR_INVALID;
    *out = NULL;
    if (text == NULL)
        return MFA_ERR_INVALID;
    n = strnlen(text, MFA_URI_MAX + 1);
    if (n > MFA_URI_MAX)
        return MFA_ERR_URI_TOO_LONG;
    /* raw bytes are checked after decoding; raw controls never belong */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x20 || c == 0x7f)
            return MFA_ERR_CONTROL_CHAR;
    }
    /* RFC 3986: scheme and (here) host are case-insensitive */
    if (n < sl || strncasecmp(text, scheme, sl) != 0)
        return MFA_ERR_URI_SCHEME;
    s = text + sl;
    end = memchr(text, '#', n); /* a fragment is not part of the key */
    if (end == NULL)
        end = text + n;
    if (s + 4 > end ||
        (strncasecmp(s, "totp", 4) != 0 && strncasecmp(s, "hotp", 4) != 0) ||
        (s + 4 < end && s[4] != '/' && s[4] != '?'))
        return MFA_ERR_URI_TYPE;
    /* read either way, but Google Authenticator compares both exactly */
    if (memcmp(text, scheme, sl) != 0)
        warn |= MFA_URI_WARN_UPPERCASE_SCHEME;
    if (memcmp(s, "totp", 4) != 0 && memcmp(s, "hotp", 4) != 0)
        warn |= MFA_URI_WARN_UPPERCASE_TYPE;
    if ((rc = uri_alloc(&u)) != MFA_OK)
        return rc;
    u->type = (s[0] == 'h' || s[0] == 'H') ? MFA_HOTP : MFA_TOTP;
    s += 4;
    if (s == end || *s != '/') {
        mfa_uri_free(&u);
        return MFA_ERR_URI_LABEL;
    }
    label = s + 1;
    q = memchr(label, '?', (size_t)(end - label));
    labeln = (size_t)((q ? q : end) - label);

    rc = parse_label(u, label, labeln, &warn, &has_prefix);
    memset(p, 0, sizeof(p));
    if (rc == MFA_OK && q == NULL)
        rc = MFA_ERR_URI_SECRET;
    if (rc == MFA_OK)
        rc = parse_query(q + 1, (size_t)(end - q - 1), p);
    if (rc == MFA_OK)
        rc = parse_params(u, p, has_prefix, &warn);
    if (rc == MFA_OK && u->account[0] == ' ')
        rc = MFA_ERR_LEADING_SPACE;
    if (rc != MFA_OK) {
        mfa_uri_free(&u);
        return rc;
    }
    if (warnings != NULL)
        *warnings = warn;
    u->warnings = warn;
    *out = u;
    return MFA_OK;
}
