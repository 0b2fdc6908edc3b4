/* Sealed secrets: format v1, tampering of every byte, binding to account
 * and factor id, unknown keys, lengths, rotation across key generations,
 * and where the plaintext lives. */
#include <errno.h>
#include <sys/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <stdint.h>

#include <sodium.h>

#include <mfa.h>

#include "internal.h"
#include "keyring.h"
#include "testutil.h"

static mfa_keyring_t *
ring_with(const uint32_t *ids, size_t n, uint32_t current)
{
    mfa_keyring_t *kr = NULL;

    ck_assert_int_eq(mfa_keyring_new(&kr), MFA_OK);
    for (size_t i = 0; i < n; i++) {
        uint8_t key[32];
        /* deterministic per id, so two rings can share a key by id */
        memset(key, 0, sizeof(key));
        key[0] = (uint8_t)ids[i];
        key[1] = (uint8_t)(ids[i] >> 8);
        key[31] = 0xa5;
        ck_assert_int_eq(mfa_keyring_add(kr, ids[i], key, ids[i] == current),
                         MFA_OK);
    }
    return kr;
}

static mfa_secret_t *
secret_of(size_t n, uint8_t fill)
{
    uint8_t b[MFA_SECRET_MAX];
    mfa_secret_t *s = NULL;

    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(fill + i * 7);
    ck_assert_int_eq(mfa_secret_import(&s, b, n, MFA_SECRET_LEGACY), MFA_OK);
    return s;
}

static void
assert_opens_to(const mfa_keyring_t *kr, const char *acct, const char *fid,
                const uint8_t *blob, size_t len, const mfa_secret_t *want)
{
    mfa_secret_t *o = NULL;

    ck_assert_int_eq(mfa_unseal(kr, acct, fid, blob, len, &o), MFA_OK);
    ck_assert_uint_eq(mfa_secret_len(o), mfa_secret_len(want));
    ck_assert_mem_eq(mfa_secret_bytes(o), mfa_secret_bytes(want),
                     mfa_secret_len(want));
    mfa_secret_free(&o);
}

START_TEST(round_trip_and_layout)
{
    static const uint32_t ids[] = {0x01020304};
    mfa_keyring_t *kr = ring_with(ids, 1, ids[0]);
    static const size_t lens[] = {10, 15, 16, 20, 32, 63, 64};

    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        mfa_secret_t *s = secret_of(lens[i], (uint8_t)i);
        uint8_t blob[MFA_SEALED_MAX], blob2[MFA_SEALED_MAX];
        size_t n = 0, n2 = 0;
        uint32_t id = 0;

        ck_assert_int_eq(
            mfa_seal(kr, "alice@example.com", "17", s, blob, sizeof(blob), &n),
            MFA_OK);
        ck_assert_uint_eq(n, MFA_SEALED_OVERHEAD + lens[i]);
        ck_assert_uint_eq(blob[0], 0x01);
        ck_assert_uint_eq(blob[1], 0x01);
        ck_assert_uint_eq(blob[2], 0x02);
        ck_assert_uint_eq(blob[3], 0x03);
        ck_assert_uint_eq(blob[4], 0x04);
        ck_assert_int_eq(mfa_sealed_key_id(blob, n, &id), MFA_OK);
        ck_assert_uint_eq(id, 0x01020304);
        /* the plaintext does not appear in the blob */
        for (size_t k = 0; k + 8 <= n; k++)
            ck_assert(memcmp(blob + k, mfa_secret_bytes(s), 8) != 0);
        assert_opens_to(kr, "alice@example.com", "17", blob, n, s);
        /* a fresh random nonce every time */
        ck_assert_int_eq(mfa_seal(kr, "alice@example.com", "17", s, blob2,
                                  sizeof(blob2), &n2),
                         MFA_OK);
        ck_assert_uint_eq(n2, n);
        ck_assert(memcmp(blob + 5, blob2 + 5, 24) != 0);
        ck_assert(memcmp(blob + 29, blob2 + 29, n - 29) != 0);
        assert_opens_to(kr, "alice@example.com", "17", blob2, n2, s);
        mfa_secret_free(&s);
    }
    mfa_keyring_free(&kr);
}
END_TEST

/* The error one changed byte must give, from the format's rules. */
static mfa_rc
expected_for(const mfa_keyring_t *kr, const uint8_t *blob, size_t pos)
{
    if (pos == 0)
        return MFA_ERR_SEALED_FORMAT;
    if (pos <= 4) {
        uint32_t id = ((uint32_t)blob[1] << 24) | ((uint32_t)blob[2] << 16) |
                      ((uint32_t)blob[3] << 8) | blob[4];
        if (id == 0)
            return MFA_ERR_SEALED_FORMAT;
        return mfa_keyring_has(kr, id) ? MFA_ERR_SEALED_AUTH
                                       : MFA_ERR_KEY_UNKNOWN;
    }
    return MFA_ERR_SEALED_AUTH;
}

START_TEST(every_byte_change_refused)
{
    /* ids 3 and 257 are one bit flip of id 1 away: those flips hit a
     * known key and must fail authentication, not just the lookup */
    static const uint32_t ids[] = {1, 3, 257, 0x01000001};
    mfa_keyring_t *kr = ring_with(ids, 4, 1);
    mfa_secret_t *s = secret_of(20, 0x42), *o = NULL;
    uint8_t blob[MFA_SEALED_MAX], t[MFA_SEALED_MAX];
    size_t n = 0;
    unsigned counts[4] = {0}; /* FORMAT, UNKNOWN, AUTH, other */

    ck_assert_int_eq(mfa_seal(kr, "bob", "f-9", s, blob, sizeof(blob), &n),
                     MFA_OK);
    for (size_t pos = 0; pos < n; pos++) {
        for (unsigned x = 1; x < 256; x++) {
            mfa_rc want, got;

            memcpy(t, blob, n);
            t[pos] ^= (uint8_t)x;
            want = expected_for(kr, t, pos);
            o = (mfa_secret_t *)t; /* must come back NULL */
            got = mfa_unseal(kr, "bob", "f-9", t, n, &o);
            ck_assert_msg(got == want, "byte %zu ^ %02x: got %d, want %d", pos,
                          x, got, want);
            ck_assert_ptr_null(o);
            counts[got == MFA_ERR_SEALED_FORMAT ? 0
                   : got == MFA_ERR_KEY_UNKNOWN ? 1
                   : got == MFA_ERR_SEALED_AUTH ? 2
                                                : 3]++;
        }
    }
    ck_assert_uint_eq(counts[3], 0);
    ck_assert_uint_eq(counts[0], 255 + 1); /* version; id byte 4 -> 0 */
    ck_assert_uint_ge(counts[2], (n - 5) * 255 + 3); /* incl. 3 known ids */
    ck_assert_uint_gt(counts[1], 0);
    /* the original still opens */
    assert_opens_to(kr, "bob", "f-9", blob, n, s);
    mfa_secret_free(&s);
    mfa_keyring_free(&kr);
}
END_TEST

START_TEST(bound_to_row)
{
    static const uint32_t ids[] = {1};
    mfa_keyring_t *kr = ring_with(ids, 1, 1);
    mfa_secret_t *s = secret_of(20, 1), *o = NULL;
    uint8_t blob[MFA_SEALED_MAX];
    size_t n = 0;

    ck_assert_int_eq(mfa_seal(kr, "ab", "c", s, blob, sizeof(blob), &n),
                     MFA_OK);
    assert_opens_to(kr, "ab", "c", blob, n, s);
    /* another account, another factor, swapped or re-split fields */
    ck_assert_int_eq(mfa_unseal(kr, "abd", "c", blob, n, &o),
                     MFA_ERR_SEALED_AUTH);
    ck_assert_int_eq(mfa_unseal(kr, "AB", "c", blob, n, &o),
                     MFA_ERR_SEALED_AUTH);
    ck_assert_int_eq(mfa_unseal(kr, "ab", "d", blob, n, &o),
                     MFA_ERR_SEALED_AUTH);
    ck_assert_int_eq(mfa_unseal(kr, "a", "bc", blob, n, &o),
                     MFA_ERR_SEALED_AUTH);
    ck_assert_int_eq(mfa_unseal(kr, "abc", "", blob, n, &o),
                     MFA_ERR_SEALED_AUTH);
    ck_assert_int_eq(mfa_unseal(kr, "c", "ab", blob, n, &o),
                     MFA_ERR_SEALED_AUTH);
    ck_assert_int_eq(mfa_unseal(kr, "", "abc", blob, n, &o),
                     MFA_ERR_SEALED_AUTH);
    ck_assert_ptr_null(o);
    /* empty strings are fields like any other */
    ck_assert_int_eq(mfa_seal(kr, "", "", s, blob, sizeof(blob), &n), MFA_OK);
    assert_opens_to(kr, "", "", blob, n, s);
    ck_assert_int_eq(mfa_unseal(kr, "", "x", blob, n, &o), MFA_ERR_SEALED_AUTH);
    mfa_secret_free(&s);
    mfa_keyring_free(&kr);
}
END_TEST

START_TEST(unknown_key_and_empty_ring)
{
    static const uint32_t a[] = {1, 2}, b[] = {2, 3};
    mfa_keyring_t *ka = ring_with(a, 2, 1), *kb = ring_with(b, 2, 3);
    mfa_keyring_t *empty = NULL;
    mfa_secret_t *s = secret_of(20, 3), *o = NULL;
    uint8_t blob[MFA_SEALED_MAX];
    size_t n = 99;

    ck_assert_int_eq(mfa_seal(ka, "acct", "1", s, blob, sizeof(blob), &n),
                     MFA_OK);
    ck_assert_int_eq(mfa_unseal(kb, "acct", "1", blob, n, &o),
                     MFA_ERR_KEY_UNKNOWN);
    ck_assert_ptr_null(o);
    /* a ring with no current key opens but does not seal */
    ck_assert_int_eq(mfa_keyring_new(&empty), MFA_OK);
    ck_assert_int_eq(mfa_seal(empty, "acct", "1", s, blob, sizeof(blob), &n),
                     MFA_ERR_KEYRING_EMPTY);
    ck_assert_uint_eq(n, 0);
    {
        uint8_t key[32] = {1, 0};
        key[31] = 0xa5;
        ck_assert_int_eq(mfa_keyring_add(empty, 1, key, 0), MFA_OK);
        ck_assert_int_eq(mfa_seal(ka, "acct", "1", s, blob, sizeof(blob), &n),
                         MFA_OK);
        assert_opens_to(empty, "acct", "1", blob, n, s);
        ck_assert_int_eq(
            mfa_seal(empty, "acct", "1", s, blob, sizeof(blob), &n),
            MFA_ERR_KEYRING_EMPTY);
    }
    mfa_keyring_free(&empty);
    mfa_secret_free(&s);
    mfa_keyring_free(&ka);
    mfa_keyring_free(&kb);
}
END_TEST

START_TEST(lengths_refused)
{
    static const uint32_t ids[] = {1};
    mfa_keyring_t *kr = ring_with(ids, 1, 1);
    mfa_secret_t *s = secret_of(20, 5), *o = NULL;
    uint8_t blob[MFA_SEALED_MAX + 64], t[MFA_SEALED_MAX + 64];
    size_t n = 0;
    uint32_t id = 0;

    ck_assert_int_eq(mfa_seal(kr, "a", "f", s, blob, sizeof(blob), &n), MFA_OK);
    /* every truncation: too short for any secret is a format error, the
     * rest fail authentication */
    for (size_t len = 0; len < n; len++) {
        mfa_rc want = len < MFA_SEALED_OVERHEAD + MFA_SECRET_LEGACY_MIN
                          ? MFA_ERR_SEALED_FORMAT
                          : MFA_ERR_SEALED_AUTH;
        memcpy(t, blob, len);
        ck_assert_int_eq(mfa_unseal(kr, "a", "f", t, len, &o), want);
        ck_assert_ptr_null(o);
    }
    /* every extension, with zeros or with random bytes */
    for (size_t extra = 1; extra <= 64; extra++) {
        size_t len = n + extra;
        mfa_rc want =
            len > MFA_SEALED_MAX ? MFA_ERR_SEALED_FORMAT : MFA_ERR_SEALED_AUTH;
        memcpy(t, blob, n);
        memset(t + n, 0, extra);
        ck_assert_int_eq(mfa_unseal(kr, "a", "f", t, len, &o), want);
        randombytes_buf(t + n, extra);
        ck_assert_int_eq(mfa_unseal(kr, "a", "f", t, len, &o), want);
        ck_assert_ptr_null(o);
    }
    ck_assert_int_eq(mfa_sealed_key_id(blob, 5, &id), MFA_ERR_SEALED_FORMAT);
    ck_assert_int_eq(mfa_sealed_key_id(blob, MFA_SEALED_MAX + 1, &id),
                     MFA_ERR_SEALED_FORMAT);
    blob[0] = 2;
    ck_assert_int_eq(mfa_sealed_key_id(blob, n, &id), MFA_ERR_SEALED_FORMAT);
    ck_assert_int_eq(mfa_sealed_key_id(NULL, n, &id), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_sealed_key_id(blob, n, NULL), MFA_ERR_INVALID);

    /* output buffer one byte short: refused, nothing written */
    memset(t, 0xee, sizeof(t));
    ck_assert_int_eq(mfa_seal(kr, "a", "f", s, t, MFA_SEALED_OVERHEAD + 19, &n),
                     MFA_ERR_BUFFER);
    for (size_t i = 0; i < MFA_SEALED_OVERHEAD + 19; i++)
        ck_assert_uint_eq(t[i], 0xee);
    /* a secret shorter than any importable one (internal allocator) */
    {
        mfa_secret_t *tiny = NULL;
        uint8_t *bytes = NULL;
        ck_assert_int_eq(mfa_int_secret_alloc(&tiny, 9, &bytes), MFA_OK);
        memset(bytes, 1, 9);
        ck_assert_int_eq(mfa_seal(kr, "a", "f", tiny, t, sizeof(t), &n),
                         MFA_ERR_SECRET_SHORT);
        mfa_secret_free(&tiny);
    }
    ck_assert_int_eq(mfa_seal(kr, NULL, "f", s, t, sizeof(t), &n),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_seal(kr, "a", NULL, s, t, sizeof(t), &n),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_seal(kr, "a", "f", NULL, t, sizeof(t), &n),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_seal(NULL, "a", "f", s, t, sizeof(t), &n),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_seal(kr, "a", "f", s, t, sizeof(t), NULL),
                     MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_unseal(kr, "a", "f", t, 60, NULL), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_unseal(NULL, "a", "f", t, 60, &o), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_unseal(kr, "a", "f", NULL, 60, &o), MFA_ERR_INVALID);
    mfa_secret_free(&s);
    mfa_keyring_free(&kr);
}
END_TEST

START_TEST(rotation_three_generations)
{
    enum { N = 5 };
    mfa_keyring_t *kr = NULL, *only3 = NULL, *without1 = NULL;
    mfa_secret_t *s[N];
    uint8_t gen1[N][MFA_SEALED_MAX], blob[N][MFA_SEALED_MAX];
    size_t len1[N], len[N];
    char fid[N][8];
    uint32_t id = 0;

    ck_assert_int_eq(mfa_keyring_new(&kr), MFA_OK);
    ck_assert_int_eq(mfa_keyring_generate(kr, &id), MFA_OK);
    ck_assert_uint_eq(id, 1);
    for (int i = 0; i < N; i++) {
        snprintf(fid[i], sizeof(fid[i]), "%d", i + 1);
        ck_assert_int_eq(mfa_secret_new(&s[i], (size_t)16 + 12 * (size_t)i),
                         MFA_OK);
        ck_assert_int_eq(mfa_seal(kr, "carol", fid[i], s[i], gen1[i],
                                  MFA_SEALED_MAX, &len1[i]),
                         MFA_OK);
        memcpy(blob[i], gen1[i], len1[i]);
        len[i] = len1[i];
    }
    /* generations 2 and 3: reseal everything with the new current key,
     * in place (out aliases blob) */
    for (uint32_t gen = 2; gen <= 3; gen++) {
        ck_assert_int_eq(mfa_keyring_generate(kr, &id), MFA_OK);
        ck_assert_uint_eq(id, gen);
        for (int i = 0; i < N; i++) {
            uint32_t before = 0, after = 0;
            size_t n = 0;
            ck_assert_int_eq(mfa_sealed_key_id(blob[i], len[i], &before),
                             MFA_OK);
            ck_assert_uint_eq(before, gen - 1);
            ck_assert_int_eq(mfa_reseal(kr, "carol", fid[i], blob[i], len[i],
                                        blob[i], MFA_SEALED_MAX, &n),
                             MFA_OK);
            ck_assert_uint_eq(n, len[i]);
            ck_assert_int_eq(mfa_sealed_key_id(blob[i], n, &after), MFA_OK);
            ck_assert_uint_eq(after, gen);
            assert_opens_to(kr, "carol", fid[i], blob[i], n, s[i]);
        }
    }
    /* a ring holding only generation 3 (the saved file with the lines of
     * keys 1 and 2 removed) opens every resealed blob; the generation-1
     * blobs need key 1 */
    {
        char dir[] = "/tmp/mfa-seal-XXXXXX", path[64], text[1024], *p;
        FILE *f;
        size_t tl;
        mfa_secret_t *o = NULL;

        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/ring", dir);
        ck_assert_int_eq(mfa_keyring_save(kr, path), MFA_OK);
        f = fopen(path, "r");
        ck_assert_ptr_nonnull(f);
        tl = fread(text, 1, sizeof(text) - 1, f);
        fclose(f);
        unlink(path);
        rmdir(dir);
        text[tl] = '\0';
        ck_assert_int_eq(mfa_keyring_load_buffer(&without1, text, tl), MFA_OK);
        ck_assert_uint_eq(mfa_keyring_count(without1), 3);
        mfa_keyring_free(&without1);
        /* drop "key 1 ..." and "key 2 ..." (each 71 bytes, after the
         * 17-byte header) */
        p = text + 17;
        ck_assert(strncmp(p, "key 1 ", 6) == 0);
        ck_assert(strncmp(p + 71, "key 2 ", 6) == 0);
        memmove(p, p + 71, tl - 17 - 71 + 1);
        tl -= 71;
        ck_assert_int_eq(mfa_keyring_load_buffer(&without1, text, tl), MFA_OK);
        memmove(p, p + 71, tl - 17 - 71 + 1);
        tl -= 71;
        ck_assert_int_eq(mfa_keyring_load_buffer(&only3, text, tl), MFA_OK);
        sodium_memzero(text, sizeof(text));
        ck_assert_uint_eq(mfa_keyring_count(only3), 1);
        ck_assert_uint_eq(mfa_keyring_current(only3), 3);
        ck_assert_uint_eq(mfa_keyring_count(without1), 2);
        for (int i = 0; i < N; i++) {
            assert_opens_to(only3, "carol", fid[i], blob[i], len[i], s[i]);
            assert_opens_to(without1, "carol", fid[i], blob[i], len[i], s[i]);
            ck_assert_int_eq(
                mfa_unseal(only3, "carol", fid[i], gen1[i], len1[i], &o),
                MFA_ERR_KEY_UNKNOWN);
            ck_assert_int_eq(
                mfa_unseal(without1, "carol", fid[i], gen1[i], len1[i], &o),
                MFA_ERR_KEY_UNKNOWN);
            ck_assert_ptr_null(o);
        }
    }
    mfa_keyring_free(&only3);
    mfa_keyring_free(&without1);
    for (int i = 0; i < N; i++) {
        assert_opens_to(kr, "carol", fid[i], gen1[i], len1[i], s[i]);
        mfa_secret_free(&s[i]);
    }
    mfa_keyring_free(&kr);
}
END_TEST

START_TEST(rotation_with_partial_rings)
{
    static const uint32_t all[] = {1, 2, 3}, only3[] = {3}, no1[] = {2, 3};
    mfa_keyring_t *k1 = ring_with(all, 1, 1); /* generation 1: key 1 */
    mfa_keyring_t *k2 = ring_with(all, 2, 2); /* keys 1, 2 */
    mfa_keyring_t *k3 = ring_with(all, 3, 3); /* keys 1, 2, 3 */
    mfa_keyring_t *r3 = ring_with(only3, 1, 3), *r23 = ring_with(no1, 2, 3);
    mfa_secret_t *s = secret_of(32, 9), *o = NULL;
    uint8_t b1[MFA_SEALED_MAX], b2[MFA_SEALED_MAX], b3[MFA_SEALED_MAX];
    size_t n1 = 0, n2 = 0, n3 = 0;

    ck_assert_int_eq(mfa_seal(k1, "dave", "7", s, b1, sizeof(b1), &n1), MFA_OK);
    ck_assert_int_eq(mfa_reseal(k2, "dave", "7", b1, n1, b2, sizeof(b2), &n2),
                     MFA_OK);
    ck_assert_int_eq(mfa_reseal(k3, "dave", "7", b2, n2, b3, sizeof(b3), &n3),
                     MFA_OK);
    /* the final blob needs only key 3 */
    assert_opens_to(r3, "dave", "7", b3, n3, s);
    /* the older generations need their own keys */
    ck_assert_int_eq(mfa_unseal(r3, "dave", "7", b2, n2, &o),
                     MFA_ERR_KEY_UNKNOWN);
    ck_assert_int_eq(mfa_unseal(r23, "dave", "7", b1, n1, &o),
                     MFA_ERR_KEY_UNKNOWN);
    assert_opens_to(r23, "dave", "7", b2, n2, s);
    /* resealing keeps the binding: another row cannot reseal it */
    ck_assert_int_eq(mfa_reseal(k3, "dave", "8", b2, n2, b3, sizeof(b3), &n3),
                     MFA_ERR_SEALED_AUTH);
    ck_assert_uint_eq(n3, 0);
    ck_assert_int_eq(mfa_reseal(r3, "dave", "7", b1, n1, b3, sizeof(b3), &n3),
                     MFA_ERR_KEY_UNKNOWN);
    ck_assert_int_eq(mfa_reseal(k3, "dave", "7", b1, n1, b3, n1 - 1, &n3),
                     MFA_ERR_BUFFER);
    ck_assert_int_eq(mfa_reseal(k3, "dave", "7", b1, n1, NULL, 0, &n3),
                     MFA_ERR_INVALID);
    ck_assert_ptr_null(o);
    mfa_secret_free(&s);
    mfa_keyring_free(&k1);
    mfa_keyring_free(&k2);
    mfa_keyring_free(&k3);
    mfa_keyring_free(&r3);
    mfa_keyring_free(&r23);
}
END_TEST

/*
 * What can honestly be shown about freed secrets: an unsealed secret lives
 * in guarded memory that sodium_free wipes and then unmaps, so no leftover
 * plaintext can be read from it.  mincore() tells whether a page is mapped
 * without touching it (no signal, so this works under ASan and valgrind).
 */
static int
page_mapped(const volatile void *p)
{
    long ps = sysconf(_SC_PAGESIZE);
    unsigned char vec[1];
    void *page = (void *)((uintptr_t)p & ~((uintptr_t)ps - 1));

    if (mincore(page, (size_t)ps, vec) == 0)
        return 1;
    ck_assert_int_eq(errno, ENOMEM);
    return 0;
}

START_TEST(freed_secret_is_unmapped)
{
    static const uint32_t ids[] = {1};
    mfa_keyring_t *kr = ring_with(ids, 1, 1);
    mfa_secret_t *s = secret_of(20, 0x5a), *o = NULL;
    uint8_t blob[MFA_SEALED_MAX];
    const volatile uint8_t *p;
    size_t n = 0;

    ck_assert_int_eq(mfa_seal(kr, "eve", "1", s, blob, sizeof(blob), &n),
                     MFA_OK);
    ck_assert_int_eq(mfa_unseal(kr, "eve", "1", blob, n, &o), MFA_OK);
    p = mfa_secret_bytes(o);
    ck_assert_uint_eq(p[0], 0x5a);
    ck_assert(page_mapped(p));
    mfa_secret_free(&o);
    ck_assert_ptr_null(o);
    ck_assert_msg(!page_mapped(p), "freed secret memory is still mapped");
    mfa_secret_free(&s);
    mfa_keyring_free(&kr);
}
END_TEST

START_TEST(freed_ring_is_unmapped)
{
    mfa_keyring_t *kr = NULL;
    const uint8_t *sub = NULL;

    ck_assert_int_eq(mfa_keyring_new(&kr), MFA_OK);
    ck_assert_int_eq(mfa_keyring_generate(kr, NULL), MFA_OK);
    ck_assert_int_eq(
        mfa_int_keyring_subkey_ref(kr, 0, MFA_INT_KEY_SEAL, &sub, NULL),
        MFA_OK);
    ck_assert(page_mapped(sub));
    mfa_keyring_free(&kr);
    ck_assert_msg(!page_mapped(sub), "freed key ring memory is still mapped");
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("seal");
    TCase *tc = tcase_create("seal");
    TCase *tm = tcase_create("memory");

    tcase_add_test(tc, round_trip_and_layout);
    tcase_add_test(tc, every_byte_change_refused);
    tcase_add_test(tc, bound_to_row);
    tcase_add_test(tc, unknown_key_and_empty_ring);
    tcase_add_test(tc, lengths_refused);
    tcase_add_test(tc, rotation_three_generations);
    tcase_add_test(tc, rotation_with_partial_rings);
    tcase_add_test(tm, freed_secret_is_unmapped);
    tcase_add_test(tm, freed_ring_is_unmapped);
    suite_add_tcase(s, tc);
    suite_add_tcase(s, tm);
    return tu_run(s);
}
