/* Backup codes: generation (format, distinct, uniform), normalisation of
 * typed codes, keyed hashes, constant-time matching against a set. */
#include <stdint.h>

#include <sodium.h>

#include <mfa.h>

#include "internal.h"
#include "keyring.h"
#include "testutil.h"

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

static int
sym_index(char c)
{
    const char *p = strchr(crockford, c);
    return (p != NULL && c != '\0') ? (int)(p - crockford) : -1;
}

static mfa_keyring_t *
ring(uint32_t n)
{
    mfa_keyring_t *kr = NULL;
    ck_assert_int_eq(mfa_keyring_new(&kr), MFA_OK);
    for (uint32_t i = 0; i < n; i++)
        ck_assert_int_eq(mfa_keyring_generate(kr, NULL), MFA_OK);
    return kr;
}

START_TEST(generate_format)
{
    char **codes = NULL;
    char canon[MFA_BACKUP_CHARS + 1];

    ck_assert_int_eq(mfa_backup_codes_generate(0, &codes), MFA_OK);
    for (size_t i = 0; i < MFA_BACKUP_COUNT_DEFAULT; i++) {
        const char *c = codes[i];
        ck_assert_uint_eq(strlen(c), MFA_BACKUP_DISPLAY);
        for (size_t k = 0; k < MFA_BACKUP_DISPLAY; k++) {
            if (k == 4 || k == 9)
                ck_assert_int_eq(c[k], '-');
            else
                ck_assert_int_ge(sym_index(c[k]), 0);
        }
        /* the display form reads back as itself, hyphens dropped */
        ck_assert_int_eq(mfa_backup_normalize(c, canon), MFA_OK);
        ck_assert_uint_eq(strlen(canon), 12);
        ck_assert(memcmp(canon, c, 4) == 0);
        ck_assert(memcmp(canon + 4, c + 5, 4) == 0);
        ck_assert(memcmp(canon + 8, c + 10, 4) == 0);
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(codes[i], codes[j]);
    }
    mfa_backup_codes_free(&codes, MFA_BACKUP_COUNT_DEFAULT);
    ck_assert_ptr_null(codes);
    mfa_backup_codes_free(&codes, 0);
    mfa_backup_codes_free(NULL, 0);

    ck_assert_int_eq(mfa_backup_codes_generate(1, &codes), MFA_OK);
    ck_assert_uint_eq(strlen(codes[0]), 14);
    mfa_backup_codes_free(&codes, 1);
    ck_assert_int_eq(mfa_backup_codes_generate(MFA_BACKUP_COUNT_MAX, &codes),
                     MFA_OK);
    for (size_t i = 0; i < MFA_BACKUP_COUNT_MAX; i++)
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(codes[i], codes[j]);
    mfa_backup_codes_free(&codes, MFA_BACKUP_COUNT_MAX);
    codes = (char **)&canon;
    ck_assert_int_eq(
        mfa_backup_codes_generate(MFA_BACKUP_COUNT_MAX + 1, &codes),
        MFA_ERR_INVALID);
    ck_assert_ptr_null(codes);
    ck_assert_int_eq(mfa_backup_codes_generate(1, NULL), MFA_ERR_INVALID);
}
END_TEST

/*
 * Chi-square over (position, symbol): 12 positions x 32 symbols, each
 * position's 31 degrees of freedom summed: 372.  Mean 372, standard
 * deviation about 27; the threshold 620 is some nine deviations out, so an
 * honest generator never trips it, while a real bias does: one position
 * drawing from 16 symbols only adds about 32 * expected = 25000.
 */
START_TEST(generate_uniform)
{
    enum { SETS = 2500, PER = 10 };
    static unsigned long counts[MFA_BACKUP_CHARS][32];
    const double expected = (double)SETS * PER / 32.0;
    double chi = 0;

    memset(counts, 0, sizeof(counts));
    for (int s = 0; s < SETS; s++) {
        char **codes = NULL;
        ck_assert_int_eq(mfa_backup_codes_generate(PER, &codes), MFA_OK);
        for (int i = 0; i < PER; i++) {
            char canon[MFA_BACKUP_CHARS + 1];
            ck_assert_int_eq(mfa_backup_normalize(codes[i], canon), MFA_OK);
            for (int k = 0; k < MFA_BACKUP_CHARS; k++) {
                int v = sym_index(canon[k]);
                ck_assert_int_ge(v, 0);
                counts[k][v]++;
            }
        }
        mfa_backup_codes_free(&codes, PER);
    }
    for (int k = 0; k < MFA_BACKUP_CHARS; k++)
        for (int v = 0; v < 32; v++) {
            double d = (double)counts[k][v] - expected;
            ck_assert_uint_gt(counts[k][v], 0); /* every symbol occurs */
            chi += d * d / expected;
        }
    ck_assert_msg(chi < 620.0, "chi-square %.1f over 372 dof", chi);
}
END_TEST

START_TEST(normalize_table)
{
    static const struct {
        const char *typed;
        const char *canon; /* NULL: MFA_ERR_BACKUP_FORMAT */
    } t[] = {
        {"ABCD-EFGH-JKMN", "ABCDEFGHJKMN"},
        {"abcd-efgh-jkmn", "ABCDEFGHJKMN"},
        {"AbCd-eFgH-jKmN", "ABCDEFGHJKMN"},
        {"ABCDEFGHJKMN", "ABCDEFGHJKMN"},
        {"abcd efgh jkmn", "ABCDEFGHJKMN"},
        {"  abcd - efgh - jkmn  ", "ABCDEFGHJKMN"},
        {"a-b-c-d-e-f-g-h-j-k-m-n", "ABCDEFGHJKMN"},
        {"--ABCDEFGHJKMN--", "ABCDEFGHJKMN"},
        {"0123-4567-89PQ", "0123456789PQ"},
        {"RSTV-WXYZ-0000", "RSTVWXYZ0000"},
        /* look-alikes: O -> 0, I and L -> 1, either case */
        {"OOOO-oooo-0000", "000000000000"},
        {"IIII-iiii-1111", "111111111111"},
        {"LLLL-llll-1111", "111111111111"},
        {"o1l1-I0Oi-LlOo", "011110011100"},
        /* U is not in the alphabet, nor is anything else */
        {"UUUU-UUUU-UUUU", NULL},
        {"ABCD-EFGH-JKMU", NULL},
        {"uBCD-EFGH-JKMN", NULL},
        {"ABCD_EFGH_JKMN", NULL},
        {"ABCD.EFGH.JKMN", NULL},
        {"ABCD\tEFGH\tJKMN", NULL},
        {"ABCD-EFGH-JKMN\n", NULL},
        {"ABCD-EFGH-JKM*", NULL},
        {"ABCD-EFGH-JKM=", NULL},
        {"\xc3\x89"
         "BCD-EFGH-JKM",
         NULL},
        {"ABCD-EFGH-JKM\xff", NULL},
        /* exactly 12 symbols */
        {"", NULL},
        {"----", NULL},
        {"           ", NULL},
        {"ABCD-EFGH-JKM", NULL},
        {"ABCD-EFGH-JKMNP", NULL},
        {"ABCD-EFGH-JKMN-ABCD-EFGH-JKMN", NULL},
        {"12345678901", NULL},
        /* 8 digits: a scratch code imported from google-authenticator */
        {"1234 5678", "12345678"},
        {"1234567O", NULL},
        {"1234567", NULL},
        {"1234567890123", NULL},
    };
    char out[MFA_BACKUP_CHARS + 1];

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        mfa_rc rc = mfa_backup_normalize(t[i].typed, out);
        if (t[i].canon != NULL) {
            ck_assert_msg(rc == MFA_OK, "case %zu refused: %d", i, rc);
            ck_assert_str_eq(out, t[i].canon);
        } else {
            ck_assert_msg(rc == MFA_ERR_BACKUP_FORMAT, "case %zu gave %d", i,
                          rc);
        }
    }
    /* every byte value as the last character of an otherwise valid code */
    for (int c = 1; c < 256; c++) {
        char typed[16] = "ABCD-EFGH-JKM";
        int ok;
        typed[13] = (char)c;
        typed[14] = '\0';
        if (c == ' ' || c == '-') {
            ck_assert_int_eq(mfa_backup_normalize(typed, out),
                             MFA_ERR_BACKUP_FORMAT); /* only 11 symbols */
            continue;
        }
        ok = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z' && c != 'U') ||
             (c >= 'a' && c <= 'z' && c != 'u');
        ck_assert_int_eq(mfa_backup_normalize(typed, out),
                         ok ? MFA_OK : MFA_ERR_BACKUP_FORMAT);
    }
    /* spacing is allowed but bounded: 64 bytes at most */
    {
        char typed[80];
        memset(typed, ' ', sizeof(typed));
        memcpy(typed + 52, "ABCDEFGHJKMN", 12);
        typed[64] = '\0';
        ck_assert_int_eq(mfa_backup_normalize(typed, out), MFA_OK);
        memset(typed, ' ', sizeof(typed));
        memcpy(typed + 53, "ABCDEFGHJKMN", 12);
        typed[65] = '\0';
        ck_assert_int_eq(mfa_backup_normalize(typed, out),
                         MFA_ERR_BACKUP_FORMAT);
    }
    ck_assert_int_eq(mfa_backup_normalize(NULL, out), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_backup_normalize("ABCDEFGHJKMN", NULL),
                     MFA_ERR_INVALID);
}
END_TEST

START_TEST(hash_keyed)
{
    mfa_keyring_t *kr = ring(2), *other = ring(1), *empty = ring(0);
    uint8_t h1[32], h2[32], h3[32], want[32], sub[32];

    /* keyed BLAKE2b-256 of the canonical form under the backup subkey */
    ck_assert_int_eq(mfa_backup_hash(kr, 0, "abcd efgh jkmn", h1), MFA_OK);
    ck_assert_int_eq(
        mfa_int_keyring_subkey(kr, 2, MFA_INT_KEY_BACKUP, sub, NULL), MFA_OK);
    ck_assert_int_eq(crypto_generichash(want, 32,
                                        (const uint8_t *)"ABCDEFGHJKMN", 12,
                                        sub, 32),
                     0);
    ck_assert_mem_eq(h1, want, 32);
    /* every spelling of a code hashes alike; key 0 is the current key */
    ck_assert_int_eq(mfa_backup_hash(kr, 2, "ABCD-EFGH-JKMN", h2), MFA_OK);
    ck_assert_mem_eq(h1, h2, 32);
    ck_assert_int_eq(mfa_backup_hash(kr, 0, "abcdefghjkmn", h2), MFA_OK);
    ck_assert_mem_eq(h1, h2, 32);
    /* another key, another hash; no key serves two purposes */
    ck_assert_int_eq(mfa_backup_hash(kr, 1, "ABCD-EFGH-JKMN", h3), MFA_OK);
    ck_assert(memcmp(h1, h3, 32) != 0);
    ck_assert_int_eq(mfa_backup_hash(other, 0, "ABCD-EFGH-JKMN", h3), MFA_OK);
    ck_assert(memcmp(h1, h3, 32) != 0);
    for (int p = 0; p < 3; p++) {
        if (p == MFA_INT_KEY_BACKUP)
            continue;
        ck_assert_int_eq(mfa_int_keyring_subkey(
                             kr, 2, (enum mfa_int_key_purpose)p, sub, NULL),
                         MFA_OK);
        ck_assert_int_eq(crypto_generichash(h3, 32,
                                            (const uint8_t *)"ABCDEFGHJKMN", 12,
                                            sub, 32),
                         0);
        ck_assert(memcmp(h1, h3, 32) != 0);
    }
    /* a different code */
    ck_assert_int_eq(mfa_backup_hash(kr, 0, "ABCD-EFGH-JKMP", h3), MFA_OK);
    ck_assert(memcmp(h1, h3, 32) != 0);
    /* errors: nothing written */
    memset(h3, 0x77, 32);
    ck_assert_int_eq(mfa_backup_hash(kr, 3, "ABCD-EFGH-JKMN", h3),
                     MFA_ERR_KEY_UNKNOWN);
    ck_assert_int_eq(mfa_backup_hash(empty, 0, "ABCD-EFGH-JKMN", h3),
                     MFA_ERR_KEYRING_EMPTY);
    ck_assert_int_eq(mfa_backup_hash(kr, 0, "ABCD-EFGH-JKMU", h3),
                     MFA_ERR_BACKUP_FORMAT);
    ck_assert_int_eq(mfa_backup_hash(NULL, 0, "ABCD-EFGH-JKMN", h3),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_backup_hash(kr, 0, NULL, h3), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_backup_hash(kr, 0, "ABCD-EFGH-JKMN", NULL),
                     MFA_ERR_INVALID);
    for (int i = 0; i < 32; i++)
        ck_assert_uint_eq(h3[i], 0x77);
    sodium_memzero(sub, sizeof(sub));
    mfa_keyring_free(&kr);
    mfa_keyring_free(&other);
    mfa_keyring_free(&empty);
}
END_TEST

START_TEST(match_index)
{
    enum { N = MFA_BACKUP_COUNT_DEFAULT };
    mfa_keyring_t *kr = ring(1);
    uint8_t set[N][MFA_BACKUP_HASHBYTES], h[32];
    char **codes = NULL;
    size_t idx;

    ck_assert_int_eq(mfa_backup_codes_generate(N, &codes), MFA_OK);
    for (size_t i = 0; i < N; i++)
        ck_assert_int_eq(mfa_backup_hash(kr, 0, codes[i], set[i]), MFA_OK);
    /* each code, typed sloppily, finds its own index */
    for (size_t i = 0; i < N; i++) {
        char typed[32];
        size_t o = 0;
        for (const char *p = codes[i]; *p; p++) {
            char c = *p == '-' ? ' ' : *p;
            if (c == '0' && i % 2)
                c = 'o';
            else if (c == '1' && i % 3 == 0)
                c = 'l';
            else if (c >= 'A' && c <= 'Z')
                c = (char)(c + 32);
            typed[o++] = c;
        }
        typed[o] = '\0';
        ck_assert_int_eq(mfa_backup_hash(kr, 0, typed, h), MFA_OK);
        idx = 999;
        ck_assert_int_eq(
            mfa_backup_match(h, (const uint8_t(*)[32])set, N, &idx), MFA_OK);
        ck_assert_uint_eq(idx, i);
        /* a prefix of the set without it does not match */
        idx = 999;
        ck_assert_int_eq(
            mfa_backup_match(h, (const uint8_t(*)[32])set, i, &idx),
            MFA_ERR_CODE_WRONG);
        ck_assert_uint_eq(idx, 999);
        /* the set after it does not either; the index counts from set */
        ck_assert_int_eq(
            mfa_backup_match(h, (const uint8_t(*)[32])set + i, N - i, &idx),
            MFA_OK);
        ck_assert_uint_eq(idx, 0);
    }
    /* a code not in the set */
    ck_assert_int_eq(mfa_backup_hash(kr, 0, "0000-0000-0000", h), MFA_OK);
    idx = 999;
    ck_assert_int_eq(mfa_backup_match(h, (const uint8_t(*)[32])set, N, &idx),
                     MFA_ERR_CODE_WRONG);
    ck_assert_uint_eq(idx, 999);
    /* a hash differing in its last byte only */
    memcpy(h, set[7], 32);
    h[31] ^= 1;
    ck_assert_int_eq(mfa_backup_match(h, (const uint8_t(*)[32])set, N, &idx),
                     MFA_ERR_CODE_WRONG);
    /* a repeated entry: the first index is reported */
    memcpy(set[9], set[4], 32);
    ck_assert_int_eq(
        mfa_backup_match(set[4], (const uint8_t(*)[32])set, N, &idx), MFA_OK);
    ck_assert_uint_eq(idx, 4);
    /* empty set and bad arguments */
    ck_assert_int_eq(mfa_backup_match(h, NULL, 0, &idx), MFA_ERR_CODE_WRONG);
    ck_assert_int_eq(mfa_backup_match(h, NULL, 1, &idx), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_backup_match(NULL, (const uint8_t(*)[32])set, N, &idx),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_backup_match(h, (const uint8_t(*)[32])set, N, NULL),
                     MFA_ERR_INVALID);
    mfa_backup_codes_free(&codes, N);
    mfa_keyring_free(&kr);
}
END_TEST

/* Codes hashed under an old key still match once that key is no longer
 * current, as long as the hash is taken with the key id stored alongside. */
START_TEST(hash_after_rotation)
{
    mfa_keyring_t *kr = ring(1);
    uint8_t set[3][32], h[32];
    char **codes = NULL;
    size_t idx = 0;

    ck_assert_int_eq(mfa_backup_codes_generate(3, &codes), MFA_OK);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(mfa_backup_hash(kr, 0, codes[i], set[i]), MFA_OK);
    ck_assert_int_eq(mfa_keyring_generate(kr, NULL), MFA_OK);
    ck_assert_int_eq(mfa_backup_hash(kr, 0, codes[2], h), MFA_OK);
    ck_assert_int_eq(mfa_backup_match(h, (const uint8_t(*)[32])set, 3, &idx),
                     MFA_ERR_CODE_WRONG);
    ck_assert_int_eq(mfa_backup_hash(kr, 1, codes[2], h), MFA_OK);
    ck_assert_int_eq(mfa_backup_match(h, (const uint8_t(*)[32])set, 3, &idx),
                     MFA_OK);
    ck_assert_uint_eq(idx, 2);
    mfa_backup_codes_free(&codes, 3);
    mfa_keyring_free(&kr);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("backup");
    TCase *tc = tcase_create("backup");

    tcase_add_test(tc, generate_format);
    tcase_add_test(tc, generate_uniform);
    tcase_add_test(tc, normalize_table);
    tcase_add_test(tc, hash_keyed);
    tcase_add_test(tc, match_index);
    tcase_add_test(tc, hash_after_rotation);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
