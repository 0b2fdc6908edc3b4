/* Out-of-band codes: generation, binding, expiry and attempt limits with an
 * injected clock, format errors that change no state, uniform digits. */
#include <stdint.h>

#include <sodium.h>

#include <mfa.h>

#include "internal.h"
#include "keyring.h"
#include "testutil.h"

#define T0 1700000000

static mfa_keyring_t *
ring(uint32_t n)
{
    mfa_keyring_t *kr = NULL;
    ck_assert_int_eq(mfa_keyring_new(&kr), MFA_OK);
    for (uint32_t i = 0; i < n; i++)
        ck_assert_int_eq(mfa_keyring_generate(kr, NULL), MFA_OK);
    return kr;
}

/* A wrong code of the same length: the last digit changed. */
static void
wrong_of(const char *code, char *out)
{
    size_t n = strlen(code);
    memcpy(out, code, n + 1);
    out[n - 1] = out[n - 1] == '9' ? '0' : (char)(out[n - 1] + 1);
}

/* Field by field: struct copies need not carry the padding bytes. */
static void
assert_same(const mfa_oob_challenge *a, const mfa_oob_challenge *b)
{
    ck_assert_mem_eq(a->hash, b->hash, sizeof(a->hash));
    ck_assert_uint_eq(a->key_id, b->key_id);
    ck_assert_mem_eq(a->purpose, b->purpose, sizeof(a->purpose));
    ck_assert_int_eq(a->created, b->created);
    ck_assert_int_eq(a->expires, b->expires);
    ck_assert_int_eq(a->attempts_left, b->attempts_left);
}

static void
hash_field(crypto_generichash_state *st, const char *s)
{
    uint8_t len[8] = {0};
    uint64_t n = strlen(s);
    for (int i = 7; i >= 0; i--, n >>= 8)
        len[i] = (uint8_t)n;
    crypto_generichash_update(st, len, 8);
    crypto_generichash_update(st, (const uint8_t *)s, strlen(s));
}

START_TEST(new_fills_challenge)
{
    mfa_keyring_t *kr = ring(2);
    mfa_oob_challenge c;
    char code[16];
    uint8_t sub[32], want[32];
    crypto_generichash_state st;

    memset(&c, 0, sizeof(c));
    for (unsigned d = 6; d <= 8; d++) {
        ck_assert_int_eq(mfa_oob_challenge_new(kr, "alice", "sms", d, T0, 0, 0,
                                               &c, code, sizeof(code)),
                         MFA_OK);
        ck_assert_uint_eq(strlen(code), d);
        for (unsigned i = 0; i < d; i++)
            ck_assert(code[i] >= '0' && code[i] <= '9');
        ck_assert_uint_eq(c.key_id, 2);
        ck_assert_str_eq(c.purpose, "sms");
        ck_assert_int_eq(c.created, T0);
        ck_assert_int_eq(c.expires, T0 + MFA_OOB_TTL_DEFAULT);
        ck_assert_int_eq(c.attempts_left, MFA_OOB_ATTEMPTS_DEFAULT);
        /* the stored hash: keyed BLAKE2b-256 under the out-of-band subkey
         * over length-prefixed account, purpose and code */
        ck_assert_int_eq(
            mfa_int_keyring_subkey(kr, 2, MFA_INT_KEY_OOB, sub, NULL), MFA_OK);
        crypto_generichash_init(&st, sub, 32, 32);
        hash_field(&st, "alice");
        hash_field(&st, "sms");
        hash_field(&st, code);
        crypto_generichash_final(&st, want, 32);
        ck_assert_mem_eq(c.hash, want, 32);
        /* the code itself is nowhere in the challenge */
        for (size_t k = 0; k + d <= sizeof(c); k++)
            ck_assert(memcmp((const char *)&c + k, code, d) != 0);
    }
    /* digits 0 is the default, 6 */
    ck_assert_int_eq(mfa_oob_challenge_new(kr, "alice", "email", 0, T0, 60, 3,
                                           &c, code, sizeof(code)),
                     MFA_OK);
    ck_assert_uint_eq(strlen(code), MFA_OOB_DIGITS_DEFAULT);
    ck_assert_int_eq(c.expires, T0 + 60);
    ck_assert_int_eq(c.attempts_left, 3);
    sodium_memzero(sub, sizeof(sub));
    mfa_keyring_free(&kr);
}
END_TEST

START_TEST(new_refuses)
{
    mfa_keyring_t *kr = ring(1), *empty = ring(0);
    mfa_oob_challenge c, before;
    char code[16], purpose[40];

    memset(&c, 0x3c, sizeof(c));
    before = c;
    memset(code, 'x', sizeof(code));
#define NEW(kr_, acct, purp, d, now, ttl, att, sz)                             \
    mfa_oob_challenge_new(kr_, acct, purp, d, now, ttl, att, &c, code, sz)
    ck_assert_int_eq(NEW(kr, "a", "sms", 5, T0, 0, 0, 16), MFA_ERR_DIGITS);
    ck_assert_int_eq(NEW(kr, "a", "sms", 9, T0, 0, 0, 16), MFA_ERR_DIGITS);
    ck_assert_int_eq(NEW(kr, "a", "sms", 6, T0, 0, 0, 6), MFA_ERR_BUFFER);
    ck_assert_int_eq(NEW(kr, "a", "sms", 8, T0, 0, 0, 8), MFA_ERR_BUFFER);
    ck_assert_int_eq(NEW(kr, "a", "sms", 6, T0, -1, 0, 16), MFA_ERR_INVALID);
    ck_assert_int_eq(NEW(kr, "a", "sms", 6, T0, 0, -1, 16), MFA_ERR_INVALID);
    ck_assert_int_eq(NEW(kr, "a", "sms", 6, INT64_MAX, 1, 0, 16), MFA_ERR_TIME);
    ck_assert_int_eq(NEW(kr, "a", "", 6, T0, 0, 0, 16), MFA_ERR_INVALID);
    ck_assert_int_eq(NEW(kr, "a", "s m s", 6, T0, 0, 0, 16), MFA_ERR_INVALID);
    ck_assert_int_eq(NEW(kr, "a", "sms\n", 6, T0, 0, 0, 16), MFA_ERR_INVALID);
    memset(purpose, 'p', sizeof(purpose));
    purpose[MFA_OOB_PURPOSE_MAX + 1] = '\0';
    ck_assert_int_eq(NEW(kr, "a", purpose, 6, T0, 0, 0, 16), MFA_ERR_INVALID);
    ck_assert_int_eq(NEW(kr, NULL, "sms", 6, T0, 0, 0, 16), MFA_ERR_INVALID);
    ck_assert_int_eq(NEW(kr, "a", NULL, 6, T0, 0, 0, 16), MFA_ERR_INVALID);
    ck_assert_int_eq(NEW(NULL, "a", "sms", 6, T0, 0, 0, 16), MFA_ERR_INVALID);
    ck_assert_int_eq(NEW(empty, "a", "sms", 6, T0, 0, 0, 16),
                     MFA_ERR_KEYRING_EMPTY);
    /* nothing was written by any refusal */
    assert_same(&c, &before);
    for (size_t i = 0; i < sizeof(code); i++)
        ck_assert_int_eq(code[i], 'x');
    /* the longest purpose fits */
    purpose[MFA_OOB_PURPOSE_MAX] = '\0';
    ck_assert_int_eq(NEW(kr, "a", purpose, 6, T0, 0, 0, 16), MFA_OK);
    ck_assert_str_eq(c.purpose, purpose);
    ck_assert_int_eq(NEW(kr, "a", "e-mail_2.x", 6, T0, 0, 0, 7), MFA_OK);
#undef NEW
    mfa_keyring_free(&kr);
    mfa_keyring_free(&empty);
}
END_TEST

START_TEST(check_success_and_binding)
{
    mfa_keyring_t *kr = ring(1);
    mfa_oob_challenge c, c2;
    char code[16], spaced[32];

    ck_assert_int_eq(mfa_oob_challenge_new(kr, "alice", "sms", 6, T0, 0, 0, &c,
                                           code, sizeof(code)),
                     MFA_OK);
    c2 = c;
    ck_assert_int_eq(mfa_oob_challenge_check(kr, "alice", &c, code, T0 + 1),
                     MFA_OK);
    ck_assert_int_eq(c.attempts_left, MFA_OOB_ATTEMPTS_DEFAULT - 1);
    /* spaces are ignored */
    c = c2;
    snprintf(spaced, sizeof(spaced), " %.3s %s ", code, code + 3);
    ck_assert_int_eq(mfa_oob_challenge_check(kr, "alice", &c, spaced, T0),
                     MFA_OK);
    /* another account, or the same hash under another purpose */
    c = c2;
    ck_assert_int_eq(mfa_oob_challenge_check(kr, "alicf", &c, code, T0),
                     MFA_ERR_CODE_WRONG);
    ck_assert_int_eq(c.attempts_left, MFA_OOB_ATTEMPTS_DEFAULT - 1);
    ck_assert_int_eq(mfa_oob_challenge_check(kr, "", &c, code, T0),
                     MFA_ERR_CODE_WRONG);
    c = c2;
    strcpy(c.purpose, "email");
    ck_assert_int_eq(mfa_oob_challenge_check(kr, "alice", &c, code, T0),
                     MFA_ERR_CODE_WRONG);
    /* a tampered hash */
    c = c2;
    c.hash[0] ^= 1;
    ck_assert_int_eq(mfa_oob_challenge_check(kr, "alice", &c, code, T0),
                     MFA_ERR_CODE_WRONG);
    /* a challenge from one key still checks after rotation */
    c = c2;
    ck_assert_int_eq(mfa_keyring_generate(kr, NULL), MFA_OK);
    ck_assert_int_eq(mfa_oob_challenge_check(kr, "alice", &c, code, T0),
                     MFA_OK);
    mfa_keyring_free(&kr);
}
END_TEST

START_TEST(check_format_changes_nothing)
{
    static const char *bad[] = {
        "",       "12345",         "123456789", "12a456",
        "12-456", "１２３４５６",  "123456\n",  "+12345",
        "      ", "1234567890123",
    };
    mfa_keyring_t *kr = ring(1);
    mfa_oob_challenge c, c2;
    char code[16];

    ck_assert_int_eq(mfa_oob_challenge_new(kr, "bob", "sms", 6, T0, 0, 0, &c,
                                           code, sizeof(code)),
                     MFA_OK);
    c2 = c;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(mfa_oob_challenge_check(kr, "bob", &c, bad[i], T0) ==
                          MFA_ERR_CODE_FORMAT,
                      "case %zu", i);
        assert_same(&c, &c2);
    }
    /* well-formed of another length: counted, and wrong */
    ck_assert_int_eq(mfa_oob_challenge_check(kr, "bob", &c, "1234567", T0),
                     MFA_ERR_CODE_WRONG);
    ck_assert_int_eq(c.attempts_left, c2.attempts_left - 1);
    /* the right code still opens after a counted miss */
    ck_assert_int_eq(mfa_oob_challenge_check(kr, "bob", &c, code, T0), MFA_OK);
    /* a key the ring no longer has: refused before counting */
    {
        mfa_keyring_t *other = ring(0);
        uint8_t key[32] = {1};
        ck_assert_int_eq(mfa_keyring_add(other, 9, key, 1), MFA_OK);
        c = c2;
        ck_assert_int_eq(mfa_oob_challenge_check(other, "bob", &c, code, T0),
                         MFA_ERR_KEY_UNKNOWN);
        assert_same(&c, &c2);
        c.key_id = 0;
        ck_assert_int_eq(mfa_oob_challenge_check(kr, "bob", &c, code, T0),
                         MFA_ERR_KEY_UNKNOWN);
        mfa_keyring_free(&other);
    }
    c = c2;
    ck_assert_int_eq(mfa_oob_challenge_check(NULL, "bob", &c, code, T0),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_oob_challenge_check(kr, NULL, &c, code, T0),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_oob_challenge_check(kr, "bob", NULL, code, T0),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_oob_challenge_check(kr, "bob", &c, NULL, T0),
                     MFA_ERR_INVALID);
    /* a stored purpose without its NUL is corrupt input, not read past */
    memset(c.purpose, 'a', sizeof(c.purpose));
    ck_assert_int_eq(mfa_oob_challenge_check(kr, "bob", &c, code, T0),
                     MFA_ERR_INVALID);
    mfa_keyring_free(&kr);
}
END_TEST

START_TEST(expiry_with_clock)
{
    mfa_keyring_t *kr = ring(1);
    mfa_oob_challenge c, c2;
    char code[16];

    ck_assert_int_eq(mfa_oob_challenge_new(kr, "carol", "email", 7, T0, 0, 0,
                                           &c, code, sizeof(code)),
                     MFA_OK);
    c2 = c;
    /* the last second inside the default ten minutes */
    ck_assert_int_eq(mfa_oob_challenge_check(kr, "carol", &c, code,
                                             T0 + MFA_OOB_TTL_DEFAULT - 1),
                     MFA_OK);
    /* at the expiry instant and after: expired, no attempt used */
    for (int64_t dt = 0; dt < 3; dt++) {
        c = c2;
        ck_assert_int_eq(mfa_oob_challenge_check(kr, "carol", &c, code,
                                                 T0 + MFA_OOB_TTL_DEFAULT + dt),
                         MFA_ERR_EXPIRED);
        assert_same(&c, &c2);
    }
    ck_assert_int_eq(
        mfa_oob_challenge_check(kr, "carol", &c, "garbage", T0 + 100000),
        MFA_ERR_EXPIRED);
    /* a custom ttl */
    ck_assert_int_eq(mfa_oob_challenge_new(kr, "carol", "email", 7, T0, 30, 0,
                                           &c, code, sizeof(code)),
                     MFA_OK);
    c2 = c;
    ck_assert_int_eq(mfa_oob_challenge_check(kr, "carol", &c, code, T0 + 29),
                     MFA_OK);
    c = c2;
    ck_assert_int_eq(mfa_oob_challenge_check(kr, "carol", &c, code, T0 + 30),
                     MFA_ERR_EXPIRED);
    mfa_keyring_free(&kr);
}
END_TEST

START_TEST(attempt_limit)
{
    mfa_keyring_t *kr = ring(1);
    mfa_oob_challenge c;
    char code[16], wrong[16];

    ck_assert_int_eq(mfa_oob_challenge_new(kr, "dave", "sms", 8, T0, 0, 0, &c,
                                           code, sizeof(code)),
                     MFA_OK);
    wrong_of(code, wrong);
    for (int i = 0; i < MFA_OOB_ATTEMPTS_DEFAULT; i++) {
        ck_assert_int_eq(mfa_oob_challenge_check(kr, "dave", &c, wrong, T0 + i),
                         MFA_ERR_CODE_WRONG);
        ck_assert_int_eq(c.attempts_left, MFA_OOB_ATTEMPTS_DEFAULT - 1 - i);
    }
    /* out of attempts: even the right code is refused, nothing changes */
    ck_assert_int_eq(mfa_oob_challenge_check(kr, "dave", &c, code, T0 + 10),
                     MFA_ERR_ATTEMPTS);
    ck_assert_int_eq(c.attempts_left, 0);
    /* expiry is reported first once both apply */
    ck_assert_int_eq(mfa_oob_challenge_check(kr, "dave", &c, code, T0 + 600),
                     MFA_ERR_EXPIRED);

    /* two attempts: the last one may succeed */
    ck_assert_int_eq(mfa_oob_challenge_new(kr, "dave", "sms", 6, T0, 0, 2, &c,
                                           code, sizeof(code)),
                     MFA_OK);
    wrong_of(code, wrong);
    ck_assert_int_eq(mfa_oob_challenge_check(kr, "dave", &c, wrong, T0),
                     MFA_ERR_CODE_WRONG);
    ck_assert_int_eq(mfa_oob_challenge_check(kr, "dave", &c, code, T0), MFA_OK);
    ck_assert_int_eq(c.attempts_left, 0);
    ck_assert_int_eq(mfa_oob_challenge_check(kr, "dave", &c, code, T0),
                     MFA_ERR_ATTEMPTS);
    /* a negative count from a corrupt row is "none left" */
    c.attempts_left = -3;
    ck_assert_int_eq(mfa_oob_challenge_check(kr, "dave", &c, code, T0),
                     MFA_ERR_ATTEMPTS);
    ck_assert_int_eq(c.attempts_left, -3);
    mfa_keyring_free(&kr);
}
END_TEST

/*
 * Uniform digits.  Per position, 10 bins: 6 positions x 9 degrees of
 * freedom = 54 (mean 54, sd ~10.4; threshold 150 is ~9 sd).  The leading
 * two digits as one value, 100 bins: 99 dof (sd ~14; threshold 250).
 * Gross faults push these into the thousands: a 16-bit source (codes
 * above 65535 never drawn), a stuck or missing digit, a digit written
 * from the wrong position.  The 1-in-4295 bias of a plain `% 10^6` on 32
 * bits is far too small for any feasible sample; it is excluded by
 * construction (randombytes_uniform), not by this test.
 */
START_TEST(digits_uniform)
{
    enum { DRAWS = 60000 };
    static unsigned long pos[8][10], lead[100];
    mfa_keyring_t *kr = ring(1);
    double chi_pos = 0, chi_lead = 0, e;

    for (unsigned digits = 6; digits <= 8; digits += 2) {
        unsigned draws = digits == 6 ? DRAWS : DRAWS / 4;
        memset(pos, 0, sizeof(pos));
        memset(lead, 0, sizeof(lead));
        chi_pos = chi_lead = 0;
        for (unsigned i = 0; i < draws; i++) {
            mfa_oob_challenge c;
            char code[16];
            ck_assert_int_eq(mfa_oob_challenge_new(kr, "u", "sms", digits, T0,
                                                   0, 0, &c, code,
                                                   sizeof(code)),
                             MFA_OK);
            for (unsigned k = 0; k < digits; k++)
                pos[k][code[k] - '0']++;
            lead[(code[0] - '0') * 10 + (code[1] - '0')]++;
        }
        e = draws / 10.0;
        for (unsigned k = 0; k < digits; k++)
            for (int v = 0; v < 10; v++)
                chi_pos += (pos[k][v] - e) * (pos[k][v] - e) / e;
        e = draws / 100.0;
        for (int v = 0; v < 100; v++)
            chi_lead += (lead[v] - e) * (lead[v] - e) / e;
        ck_assert_msg(chi_pos < (digits == 6 ? 150.0 : 190.0),
                      "%u digits: per-position chi-square %.1f", digits,
                      chi_pos);
        ck_assert_msg(chi_lead < 250.0, "%u digits: leading chi-square %.1f",
                      digits, chi_lead);
    }
    mfa_keyring_free(&kr);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("oob");
    TCase *tc = tcase_create("oob");

    tcase_add_test(tc, new_fills_challenge);
    tcase_add_test(tc, new_refuses);
    tcase_add_test(tc, check_success_and_binding);
    tcase_add_test(tc, check_format_changes_nothing);
    tcase_add_test(tc, expiry_with_clock);
    tcase_add_test(tc, attempt_limit);
    tcase_add_test(tc, digits_uniform);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
