/* Key ring: keys and ids, per-purpose subkeys, the file format and its
 * permission checks, save/load round trips. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <dirent.h>

#include <sodium.h>

#include <mfa.h>

#include "internal.h"
#include "keyring.h"
#include "testutil.h"

static const char hex_a[] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
static const char hex_b[] =
    "FFEEDDCCBBAA99887766554433221100ffeeddccbbaa99887766554433221100";

static char tmpdir[256];

static void
setup_dir(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/mfa-keyring-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
teardown_dir(void)
{
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    char p[512];

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof(p), "%s/%s", tmpdir, e->d_name);
        if (unlink(p) != 0)
            rmdir(p);
    }
    closedir(d);
    rmdir(tmpdir);
}

static void
path_in(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", tmpdir, name);
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    ck_assert_int_eq(fchmod(fd, mode), 0);
    close(fd);
}

static size_t
dir_entries(void)
{
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    size_t n = 0;

    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

/* Seal under a and open under b: proves the rings hold the same key. */
static void
assert_same_key(const mfa_keyring_t *a, const mfa_keyring_t *b)
{
    mfa_secret_t *s = NULL, *o = NULL;
    uint8_t blob[MFA_SEALED_MAX];
    size_t n = 0;

    ck_assert_int_eq(mfa_secret_new(&s, 0), MFA_OK);
    ck_assert_int_eq(mfa_seal(a, "acct", "f1", s, blob, sizeof(blob), &n),
                     MFA_OK);
    ck_assert_int_eq(mfa_unseal(b, "acct", "f1", blob, n, &o), MFA_OK);
    ck_assert_mem_eq(mfa_secret_bytes(o), mfa_secret_bytes(s),
                     mfa_secret_len(s));
    mfa_secret_free(&s);
    mfa_secret_free(&o);
}

START_TEST(constants_agree)
{
    ck_assert_uint_eq(mfa_keyring_keybytes(), MFA_KEYRING_KEYBYTES);
    ck_assert_uint_eq(mfa_sealed_max(), MFA_SEALED_MAX);
    ck_assert_uint_eq(MFA_SEALED_OVERHEAD,
                      1 + 4 + crypto_aead_xchacha20poly1305_ietf_npubbytes() +
                          crypto_aead_xchacha20poly1305_ietf_abytes());
    ck_assert_uint_eq(mfa_backup_hashbytes(), MFA_BACKUP_HASHBYTES);
    ck_assert_uint_eq(mfa_backup_bufsize(), MFA_BACKUP_BUFSIZE);
}
END_TEST

START_TEST(add_and_query)
{
    mfa_keyring_t *kr = NULL;
    uint8_t key[32] = {1};
    uint32_t id = 0;

    ck_assert_int_eq(mfa_keyring_new(NULL), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_keyring_new(&kr), MFA_OK);
    ck_assert_uint_eq(mfa_keyring_count(kr), 0);
    ck_assert_uint_eq(mfa_keyring_current(kr), 0);
    ck_assert_int_eq(mfa_keyring_add(kr, 0, key, 1), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_keyring_add(kr, 1, NULL, 1), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_keyring_add(NULL, 1, key, 1), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_keyring_add(kr, 7, key, 0), MFA_OK);
    ck_assert_uint_eq(mfa_keyring_current(kr), 0); /* opening only */
    ck_assert_int_eq(mfa_keyring_add(kr, 7, key, 1), MFA_ERR_KEY_EXISTS);
    ck_assert_uint_eq(mfa_keyring_current(kr), 0);
    ck_assert_int_eq(mfa_keyring_add(kr, 3, key, 1), MFA_OK);
    ck_assert_uint_eq(mfa_keyring_current(kr), 3);
    ck_assert_uint_eq(mfa_keyring_count(kr), 2);
    ck_assert(mfa_keyring_has(kr, 3));
    ck_assert(mfa_keyring_has(kr, 7));
    ck_assert(!mfa_keyring_has(kr, 0));
    ck_assert(!mfa_keyring_has(kr, 4));
    /* generate takes the next id after the largest and makes it current */
    ck_assert_int_eq(mfa_keyring_generate(kr, &id), MFA_OK);
    ck_assert_uint_eq(id, 8);
    ck_assert_uint_eq(mfa_keyring_current(kr), 8);
    ck_assert_uint_eq(mfa_keyring_count(kr), 3);
    /* many keys: the guarded array grows and keeps every key */
    for (uint32_t i = 100; i < 140; i++) {
        key[1] = (uint8_t)i;
        ck_assert_int_eq(mfa_keyring_add(kr, i, key, 0), MFA_OK);
    }
    ck_assert_uint_eq(mfa_keyring_count(kr), 43);
    for (uint32_t i = 100; i < 140; i++)
        ck_assert(mfa_keyring_has(kr, i));
    ck_assert_uint_eq(mfa_keyring_current(kr), 8);
    ck_assert_int_eq(mfa_keyring_add(kr, UINT32_MAX, key, 0), MFA_OK);
    ck_assert_int_eq(mfa_keyring_generate(kr, &id), MFA_ERR_INVALID);

    {
        uint32_t ids[64];
        size_t n = mfa_int_keyring_ids(kr, ids, 64);
        ck_assert_uint_eq(n, 44);
        for (size_t i = 1; i < n; i++)
            ck_assert_uint_lt(ids[i - 1], ids[i]);
    }
    mfa_keyring_free(&kr);
    ck_assert_ptr_null(kr);
    mfa_keyring_free(&kr);
    mfa_keyring_free(NULL);
    ck_assert_uint_eq(mfa_keyring_count(NULL), 0);
    ck_assert_uint_eq(mfa_keyring_current(NULL), 0);
    ck_assert(!mfa_keyring_has(NULL, 1));
}
END_TEST

START_TEST(subkeys_per_purpose)
{
    static const char *ctx[3] = {"mfaseal1", "mfabkup1", "mfaoob_1"};
    mfa_keyring_t *kr = NULL;
    uint8_t key[32], sub[3][32], want[32];
    uint32_t used = 0;
    const uint8_t *ref = NULL;

    randombytes_buf(key, sizeof(key));
    ck_assert_int_eq(mfa_keyring_new(&kr), MFA_OK);
    ck_assert_int_eq(
        mfa_int_keyring_subkey(kr, 0, MFA_INT_KEY_SEAL, sub[0], &used),
        MFA_ERR_KEYRING_EMPTY);
    ck_assert_int_eq(mfa_keyring_add(kr, 5, key, 1), MFA_OK);
    for (int p = 0; p < 3; p++) {
        ck_assert_int_eq(mfa_int_keyring_subkey(
                             kr, 0, (enum mfa_int_key_purpose)p, sub[p], &used),
                         MFA_OK);
        ck_assert_uint_eq(used, 5);
        /* a crypto_kdf subkey of the ring key, with its own context */
        ck_assert_int_eq(crypto_kdf_derive_from_key(want, 32, 1, ctx[p], key),
                         0);
        ck_assert_mem_eq(sub[p], want, 32);
        ck_assert(memcmp(sub[p], key, 32) != 0);
        ck_assert_int_eq(mfa_int_keyring_subkey_ref(
                             kr, 5, (enum mfa_int_key_purpose)p, &ref, NULL),
                         MFA_OK);
        ck_assert_mem_eq(ref, want, 32);
    }
    ck_assert(memcmp(sub[0], sub[1], 32) != 0);
    ck_assert(memcmp(sub[0], sub[2], 32) != 0);
    ck_assert(memcmp(sub[1], sub[2], 32) != 0);
    ck_assert_int_eq(
        mfa_int_keyring_subkey(kr, 6, MFA_INT_KEY_SEAL, sub[0], NULL),
        MFA_ERR_KEY_UNKNOWN);
    ck_assert_int_eq(mfa_int_keyring_subkey(kr, 5, (enum mfa_int_key_purpose)3,
                                            sub[0], NULL),
                     MFA_ERR_INVALID);
    mfa_keyring_free(&kr);
}
END_TEST

START_TEST(buffer_valid_forms)
{
    char text[1024];
    mfa_keyring_t *kr = NULL, *ref = NULL;
    uint8_t key[32];
    size_t n;

    snprintf(text, sizeof(text),
             "libmfa-keyring 1\n# rotated 2026-01-01\n\nkey 1 %s\n"
             "key 42 %s\ncurrent 42\n",
             hex_a, hex_b);
    ck_assert_int_eq(mfa_keyring_load_buffer(&kr, text, strlen(text)), MFA_OK);
    ck_assert_uint_eq(mfa_keyring_count(kr), 2);
    ck_assert_uint_eq(mfa_keyring_current(kr), 42);
    ck_assert(mfa_keyring_has(kr, 1));
    /* the hex is the key: the same key added by hand opens the same seals */
    ck_assert_int_eq(mfa_keyring_new(&ref), MFA_OK);
    ck_assert_int_eq(sodium_hex2bin(key, 32, hex_b, 64, NULL, &n, NULL), 0);
    ck_assert_int_eq(mfa_keyring_add(ref, 42, key, 1), MFA_OK);
    assert_same_key(kr, ref);
    assert_same_key(ref, kr);
    mfa_keyring_free(&kr);
    mfa_keyring_free(&ref);

    /* no trailing newline, no current line: opening only */
    snprintf(text, sizeof(text), "libmfa-keyring 1\nkey 9 %s", hex_a);
    ck_assert_int_eq(mfa_keyring_load_buffer(&kr, text, strlen(text)), MFA_OK);
    ck_assert_uint_eq(mfa_keyring_count(kr), 1);
    ck_assert_uint_eq(mfa_keyring_current(kr), 0);
    mfa_keyring_free(&kr);

    /* current before the key it names; the largest id */
    snprintf(text, sizeof(text),
             "libmfa-keyring 1\ncurrent 4294967295\nkey 4294967295 %s\n",
             hex_a);
    ck_assert_int_eq(mfa_keyring_load_buffer(&kr, text, strlen(text)), MFA_OK);
    ck_assert_uint_eq(mfa_keyring_current(kr), 4294967295u);
    mfa_keyring_free(&kr);

    /* only the header: a valid empty ring */
    ck_assert_int_eq(mfa_keyring_load_buffer(&kr, "libmfa-keyring 1\n", 17),
                     MFA_OK);
    ck_assert_uint_eq(mfa_keyring_count(kr), 0);
    mfa_keyring_free(&kr);

    ck_assert_int_eq(mfa_keyring_load_buffer(NULL, text, 1), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_keyring_load_buffer(&kr, NULL, 1), MFA_ERR_INVALID);
}
END_TEST

START_TEST(buffer_format_errors)
{
    /* %A and %B stand for the two valid hex keys */
    static const char *bad[] = {
        "",
        "\n",
        "libmfa-keyring 2\n",
        "libmfa-keyring 1 \n",
        "LIBMFA-KEYRING 1\n",
        "# comment first\nlibmfa-keyring 1\n",
        "libmfa-keyring 1\r\nkey 1 %A\r\n",
        "libmfa-keyring 1\nkey 1 %A\r\n",
        "libmfa-keyring 1\nkey 1 %A \n",
        "libmfa-keyring 1\nkey  1 %A\n",
        "libmfa-keyring 1\n key 1 %A\n",
        "libmfa-keyring 1\nkey 1\t%A\n",
        "libmfa-keyring 1\nkey 0 %A\n",
        "libmfa-keyring 1\nkey 01 %A\n",
        "libmfa-keyring 1\nkey -1 %A\n",
        "libmfa-keyring 1\nkey +1 %A\n",
        "libmfa-keyring 1\nkey 4294967296 %A\n",
        "libmfa-keyring 1\nkey 99999999999 %A\n",
        "libmfa-keyring 1\nkey x %A\n",
        "libmfa-keyring 1\nkey 1\n",
        "libmfa-keyring 1\nkey 1 \n",
        "libmfa-keyring 1\nkey 1 00\n",
        "libmfa-keyring 1\nkey 1 %A00\n",
        "libmfa-keyring 1\nkey 1 %AG\n",
        "libmfa-keyring 1\nkey 1 "
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g\n",
        "libmfa-keyring 1\nkey 1 "
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e\n",
        "libmfa-keyring 1\nkey 1 %A\nkey 1 %B\n",
        "libmfa-keyring 1\nkey 1 %A\ncurrent 2\n",
        "libmfa-keyring 1\nkey 1 %A\ncurrent 1\ncurrent 1\n",
        "libmfa-keyring 1\nkey 1 %A\ncurrent\n",
        "libmfa-keyring 1\nkey 1 %A\ncurrent 0\n",
        "libmfa-keyring 1\nkey 1 %A\ncurrent \n",
        "libmfa-keyring 1\nkey 1 %A\ncurrent 1 \n",
        "libmfa-keyring 1\nkey 1 %A\nKEY 2 %B\n",
        "libmfa-keyring 1\nkey 1 %A\nsecret 2\n",
        "libmfa-keyring 1\nkey 1 %A\n \n",
    };
    char text[512];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        mfa_keyring_t *kr = (mfa_keyring_t *)&text; /* must be reset */
        size_t o = 0;

        for (const char *p = bad[i]; *p; p++) {
            if (p[0] == '%' && (p[1] == 'A' || p[1] == 'B')) {
                memcpy(text + o, p[1] == 'A' ? hex_a : hex_b, 64);
                o += 64;
                p++;
            } else {
                text[o++] = *p;
            }
        }
        text[o] = '\0';
        ck_assert_msg(mfa_keyring_load_buffer(&kr, text, o) ==
                          MFA_ERR_KEYRING_FORMAT,
                      "case %zu accepted", i);
        ck_assert_ptr_null(kr);
    }
    /* a NUL inside the text */
    {
        mfa_keyring_t *kr = NULL;
        char t[] = "libmfa-keyring 1\n\0ey 1\n";
        ck_assert_int_eq(mfa_keyring_load_buffer(&kr, t, sizeof(t) - 1),
                         MFA_ERR_KEYRING_FORMAT);
        ck_assert_int_eq(mfa_keyring_load_buffer(&kr, t, 2 * 1024 * 1024),
                         MFA_ERR_KEYRING_FORMAT); /* over the size limit */
    }
}
END_TEST

START_TEST(file_create_and_perms)
{
    char p[512], q[512];
    mfa_keyring_t *kr = NULL, *kr2 = NULL;
    struct stat st;
    uint8_t before[512], after[512];
    ssize_t nb, na;
    int fd;

    path_in(p, sizeof(p), "ring");
    ck_assert_int_eq(mfa_keyring_create_file(p), MFA_OK);
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0600);
    ck_assert(S_ISREG(st.st_mode));
    ck_assert_uint_eq(dir_entries(), 1); /* no temporary left behind */
    ck_assert_int_eq(mfa_keyring_load(&kr, p), MFA_OK);
    ck_assert_uint_eq(mfa_keyring_count(kr), 1);
    ck_assert_uint_eq(mfa_keyring_current(kr), 1);

    /* refuses to overwrite, and leaves the file as it was */
    fd = open(p, O_RDONLY);
    nb = read(fd, before, sizeof(before));
    close(fd);
    ck_assert_int_eq(mfa_keyring_create_file(p), MFA_ERR_IO);
    fd = open(p, O_RDONLY);
    na = read(fd, after, sizeof(after));
    close(fd);
    ck_assert_int_eq(nb, na);
    ck_assert_mem_eq(before, after, (size_t)nb);
    ck_assert_uint_eq(dir_entries(), 1);
    ck_assert_int_eq(mfa_keyring_load(&kr2, p), MFA_OK);
    assert_same_key(kr, kr2);
    mfa_keyring_free(&kr2);

    /* any group or world bit is refused, read or not; a write bit with
     * its own code */
    static const struct {
        mode_t mode;
        mfa_rc rc;
    } refused[] = {
        {0640, MFA_ERR_KEYRING_PERMS},    {0604, MFA_ERR_KEYRING_PERMS},
        {0660, MFA_ERR_KEYRING_WRITABLE}, {0606, MFA_ERR_KEYRING_WRITABLE},
        {0610, MFA_ERR_KEYRING_PERMS},    {0601, MFA_ERR_KEYRING_PERMS},
        {0620, MFA_ERR_KEYRING_WRITABLE}, {0602, MFA_ERR_KEYRING_WRITABLE},
        {0644, MFA_ERR_KEYRING_PERMS},    {0777, MFA_ERR_KEYRING_WRITABLE},
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        ck_assert_int_eq(chmod(p, refused[i].mode), 0);
        kr2 = (mfa_keyring_t *)p;
        ck_assert_msg(mfa_keyring_load(&kr2, p) == refused[i].rc, "mode %o",
                      (unsigned)refused[i].mode);
        ck_assert_ptr_null(kr2);
    }
    ck_assert_int_eq(chmod(p, 0400), 0);
    ck_assert_int_eq(mfa_keyring_load(&kr2, p), MFA_OK);
    mfa_keyring_free(&kr2);

    /* not a regular file */
    ck_assert_int_eq(mfa_keyring_load(&kr2, tmpdir), MFA_ERR_KEYRING_PERMS);
    path_in(q, sizeof(q), "fifo");
    ck_assert_int_eq(mkfifo(q, 0600), 0);
    ck_assert_int_eq(mfa_keyring_load(&kr2, q), MFA_ERR_KEYRING_PERMS);
    ck_assert_int_eq(mfa_keyring_load(&kr2, "/dev/null"),
                     MFA_ERR_KEYRING_PERMS);

    /* a symlink is followed; the target's mode is what counts */
    path_in(q, sizeof(q), "link");
    ck_assert_int_eq(symlink(p, q), 0);
    ck_assert_int_eq(mfa_keyring_load(&kr2, q), MFA_OK);
    mfa_keyring_free(&kr2);

    /* missing, or unreadable */
    path_in(q, sizeof(q), "missing");
    ck_assert_int_eq(mfa_keyring_load(&kr2, q), MFA_ERR_IO);
    if (geteuid() != 0) {
        ck_assert_int_eq(chmod(p, 0000), 0);
        ck_assert_int_eq(mfa_keyring_load(&kr2, p), MFA_ERR_IO);
    }
    ck_assert_int_eq(mfa_keyring_load(NULL, p), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_keyring_load(&kr2, NULL), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_keyring_create_file(NULL), MFA_ERR_INVALID);
    /* directory missing: nothing created */
    ck_assert_int_eq(mfa_keyring_create_file("/nonexistent-dir-mfa/ring"),
                     MFA_ERR_IO);
    mfa_keyring_free(&kr);
}
END_TEST

START_TEST(file_format_errors)
{
    char p[512], text[256];
    mfa_keyring_t *kr = NULL;

    path_in(p, sizeof(p), "bad");
    write_file(p, "libmfa-keyring 1\nkey 1 zz\n", 0600);
    ck_assert_int_eq(mfa_keyring_load(&kr, p), MFA_ERR_KEYRING_FORMAT);
    ck_assert_ptr_null(kr);
    write_file(p, "", 0600);
    ck_assert_int_eq(mfa_keyring_load(&kr, p), MFA_ERR_KEYRING_FORMAT);
    snprintf(text, sizeof(text), "libmfa-keyring 1\nkey 3 %s\ncurrent 3\n",
             hex_a);
    write_file(p, text, 0600);
    ck_assert_int_eq(mfa_keyring_load(&kr, p), MFA_OK);
    ck_assert_uint_eq(mfa_keyring_current(kr), 3);
    mfa_keyring_free(&kr);
    /* the permission check comes first: a malformed file readable by
     * others is reported as a permission problem */
    write_file(p, "junk", 0644);
    ck_assert_int_eq(mfa_keyring_load(&kr, p), MFA_ERR_KEYRING_PERMS);
}
END_TEST

START_TEST(save_load_round_trip)
{
    char p[512], text[512];
    mfa_keyring_t *kr = NULL, *back = NULL;
    uint32_t id;
    struct stat st;
    FILE *f;
    size_t n;

    path_in(p, sizeof(p), "saved");
    ck_assert_int_eq(mfa_keyring_new(&kr), MFA_OK);
    ck_assert_int_eq(mfa_keyring_generate(kr, &id), MFA_OK);
    ck_assert_int_eq(mfa_keyring_generate(kr, &id), MFA_OK);
    ck_assert_int_eq(mfa_keyring_generate(kr, &id), MFA_OK);
    ck_assert_uint_eq(id, 3);
    ck_assert_int_eq(mfa_keyring_save(kr, p), MFA_OK);
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0600);
    ck_assert_int_eq(mfa_keyring_load(&back, p), MFA_OK);
    ck_assert_uint_eq(mfa_keyring_count(back), 3);
    ck_assert_uint_eq(mfa_keyring_current(back), 3);
    assert_same_key(kr, back);
    assert_same_key(back, kr);
    mfa_keyring_free(&back);

    /* the file is in the documented format */
    f = fopen(p, "r");
    ck_assert_ptr_nonnull(f);
    n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    ck_assert(strncmp(text, "libmfa-keyring 1\nkey 1 ", 23) == 0);
    ck_assert_ptr_nonnull(strstr(text, "\nkey 2 "));
    ck_assert_ptr_nonnull(strstr(text, "\nkey 3 "));
    ck_assert(n > 12 && strcmp(text + n - 11, "\ncurrent 3\n") == 0);
    ck_assert_uint_eq(n, 17 + 3 * (4 + 1 + 1 + 64 + 1) + 10);
    sodium_memzero(text, sizeof(text));

    /* saving over an existing (even loose) file replaces it with 0600 */
    ck_assert_int_eq(chmod(p, 0644), 0);
    ck_assert_int_eq(mfa_keyring_generate(kr, &id), MFA_OK);
    ck_assert_int_eq(mfa_keyring_save(kr, p), MFA_OK);
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0600);
    ck_assert_uint_eq(dir_entries(), 1);
    ck_assert_int_eq(mfa_keyring_load(&back, p), MFA_OK);
    ck_assert_uint_eq(mfa_keyring_count(back), 4);
    ck_assert_uint_eq(mfa_keyring_current(back), 4);
    assert_same_key(kr, back);
    mfa_keyring_free(&back);

    /* a ring without a current key saves and loads as one */
    {
        mfa_keyring_t *open_only = NULL;
        uint8_t key[32] = {9};
        ck_assert_int_eq(mfa_keyring_new(&open_only), MFA_OK);
        ck_assert_int_eq(mfa_keyring_add(open_only, 12, key, 0), MFA_OK);
        ck_assert_int_eq(mfa_keyring_save(open_only, p), MFA_OK);
        ck_assert_int_eq(mfa_keyring_load(&back, p), MFA_OK);
        ck_assert_uint_eq(mfa_keyring_count(back), 1);
        ck_assert_uint_eq(mfa_keyring_current(back), 0);
        mfa_keyring_free(&back);
        mfa_keyring_free(&open_only);
    }
    ck_assert_int_eq(mfa_keyring_save(kr, "/nonexistent-dir-mfa/ring"),
                     MFA_ERR_IO);
    ck_assert_int_eq(mfa_keyring_save(NULL, p), MFA_ERR_INVALID);
    ck_assert_int_eq(mfa_keyring_save(kr, NULL), MFA_ERR_INVALID);
    mfa_keyring_free(&kr);
}
END_TEST

/* ---- trust: owners and modes of the file and the directories above ---- */

static char trust_root[256];

/* rm -r without following links; modes are reset so everything goes */
static void
rm_tree(const char *path)
{
    struct stat st;
    DIR *d;
    struct dirent *e;
    char p[1024];

    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        chmod(path, 0700);
        if ((d = opendir(path)) != NULL) {
            while ((e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                    continue;
                snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
                rm_tree(p);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

static void
setup_trust(void)
{
    snprintf(trust_root, sizeof(trust_root), "/tmp/mfa-trust-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(trust_root));
}

static void
teardown_trust(void)
{
    rm_tree(trust_root);
}

/* trust_root/rel, made a valid key ring file of mode 0600 */
static void
ring_at(const char *rel, char *out, size_t size)
{
    mfa_keyring_t *kr = NULL;

    snprintf(out, size, "%s/%s", trust_root, rel);
    ck_assert_int_eq(mfa_keyring_new(&kr), MFA_OK);
    ck_assert_int_eq(mfa_keyring_generate(kr, NULL), MFA_OK);
    ck_assert_int_eq(mfa_keyring_save(kr, out), MFA_OK);
    mfa_keyring_free(&kr);
}

static void
dir_at(const char *rel, mode_t mode)
{
    char p[512];

    snprintf(p, sizeof(p), "%s/%s", trust_root, rel);
    ck_assert_int_eq(mkdir(p, 0700), 0);
    ck_assert_int_eq(chmod(p, mode), 0);
}

static void
chmod_at(const char *rel, mode_t mode)
{
    char p[512];

    snprintf(p, sizeof(p), "%s/%s", trust_root, rel);
    ck_assert_int_eq(chmod(p, mode), 0);
}

static void
chown_at(const char *rel, uid_t uid)
{
    char p[512];

    snprintf(p, sizeof(p), "%s/%s", trust_root, rel);
    ck_assert_int_eq(lchown(p, uid, (gid_t)-1), 0);
}

/* Load path; expect rc, and a reason naming `names` (NULL: no check). */
static void
expect_load(const char *path, mfa_rc rc, const char *names)
{
    mfa_keyring_t *kr = (mfa_keyring_t *)&kr;
    char why[1024];
    mfa_rc got = mfa_keyring_load_why(&kr, path, why, sizeof(why));

    ck_assert_msg(got == rc, "%s: %s (%s), want %s", path,
                  mfa_strerror_name(got), why, mfa_strerror_name(rc));
    if (rc == MFA_OK) {
        ck_assert_ptr_nonnull(kr);
        ck_assert_str_eq(why, "");
        mfa_keyring_free(&kr);
    } else {
        ck_assert_ptr_null(kr);
        ck_assert_msg(why[0] != '\0', "%s: no reason given", path);
        if (names != NULL)
            ck_assert_msg(strstr(why, names) != NULL, "'%s' does not name '%s'",
                          why, names);
    }
    /* the plain loader agrees */
    got = mfa_keyring_load(&kr, path);
    ck_assert_int_eq(got, rc);
    mfa_keyring_free(&kr);
}

#define NOBODY ((uid_t)65534)

START_TEST(trust_file_owner)
{
    char p[512];

    if (geteuid() != 0) {
        printf("trust_file_owner: not root, cannot chown; skipped\n");
        return;
    }
    ring_at("ring", p, sizeof(p));
    expect_load(p, MFA_OK, NULL);
    chown_at("ring", NOBODY);
    expect_load(p, MFA_ERR_KEYRING_OWNER, "uid 65534");
    /* the owner check comes before the mode check */
    chmod_at("ring", 0666);
    expect_load(p, MFA_ERR_KEYRING_OWNER, p);
    chown_at("ring", 0);
    expect_load(p, MFA_ERR_KEYRING_WRITABLE, "mode 0666");
    chmod_at("ring", 0600);
    expect_load(p, MFA_OK, NULL);
}
END_TEST

START_TEST(trust_directories)
{
    char p[512], d[512];

    dir_at("a", 0755);
    dir_at("a/b", 0700);
    ring_at("a/b/ring", p, sizeof(p));
    expect_load(p, MFA_OK, NULL);

    /* the key ring's own directory: no group or other write, sticky or not */
    snprintf(d, sizeof(d), "%s/a/b", trust_root);
    chmod_at("a/b", 0770);
    expect_load(p, MFA_ERR_KEYRING_WRITABLE, d);
    chmod_at("a/b", 0702);
    expect_load(p, MFA_ERR_KEYRING_WRITABLE, "mode 0702");
    chmod_at("a/b", 01777);
    expect_load(p, MFA_ERR_KEYRING_WRITABLE, "key ring's directory");
    chmod_at("a/b", 0755); /* readable and searchable is fine */
    expect_load(p, MFA_OK, NULL);

    /* a directory further up: writable refused, sticky writable allowed */
    snprintf(d, sizeof(d), "%s/a", trust_root);
    chmod_at("a", 0777);
    expect_load(p, MFA_ERR_KEYRING_WRITABLE, d);
    chmod_at("a", 0775);
    expect_load(p, MFA_ERR_KEYRING_WRITABLE, "not sticky");
    chmod_at("a", 01777);
    expect_load(p, MFA_OK, NULL);
    /* every load here also passes /tmp, sticky and world-writable */
    chmod_at("a", 0755);
    expect_load(p, MFA_OK, NULL);

    if (geteuid() == 0) {
        /* a directory owned by someone else, however strict its mode */
        chown_at("a/b", NOBODY);
        expect_load(p, MFA_ERR_KEYRING_OWNER, d);
        chown_at("a/b", 0);
        chown_at("a", NOBODY);
        chmod_at("a", 01777); /* sticky does not excuse another owner */
        expect_load(p, MFA_ERR_KEYRING_OWNER, "uid 65534");
        chown_at("a", 0);
        chmod_at("a", 0755);
        expect_load(p, MFA_OK, NULL);
    }
}
END_TEST

START_TEST(trust_symlinks)
{
    char p[512], l[512], target[512], cwd[512];

    dir_at("keys", 0700);
    ring_at("keys/ring", p, sizeof(p));
    dir_at("etc", 0755);
    dir_at("open", 0777);

    /* a link is followed and its target checked */
    snprintf(l, sizeof(l), "%s/etc/ring", trust_root);
    ck_assert_int_eq(symlink(p, l), 0);
    expect_load(l, MFA_OK, NULL);
    chmod_at("keys/ring", 0620);
    expect_load(l, MFA_ERR_KEYRING_WRITABLE, p); /* the target is named */
    chmod_at("keys/ring", 0600);
    chmod_at("keys", 0775);
    expect_load(l, MFA_ERR_KEYRING_WRITABLE, "keys");
    chmod_at("keys", 0700);

    /* a relative link, and a chain of two */
    snprintf(l, sizeof(l), "%s/etc/rel", trust_root);
    ck_assert_int_eq(symlink("../keys/./ring", l), 0);
    expect_load(l, MFA_OK, NULL);
    snprintf(target, sizeof(target), "%s/etc/chain", trust_root);
    ck_assert_int_eq(symlink("rel", target), 0);
    expect_load(target, MFA_OK, NULL);

    /* whoever can replace the link can redirect it: its directory counts */
    snprintf(l, sizeof(l), "%s/open/ring", trust_root);
    ck_assert_int_eq(symlink(p, l), 0);
    expect_load(l, MFA_ERR_KEYRING_WRITABLE, "open");

    /* a directory reached through a link is checked too */
    snprintf(l, sizeof(l), "%s/etc/keydir", trust_root);
    ck_assert_int_eq(symlink("../keys", l), 0);
    snprintf(target, sizeof(target), "%s/etc/keydir/ring", trust_root);
    expect_load(target, MFA_OK, NULL);
    chmod_at("keys", 0777);
    expect_load(target, MFA_ERR_KEYRING_WRITABLE, "keys");
    chmod_at("keys", 0700);

    if (geteuid() == 0) {
        chown_at("keys/ring", NOBODY);
        snprintf(l, sizeof(l), "%s/etc/ring", trust_root);
        expect_load(l, MFA_ERR_KEYRING_OWNER, "uid 65534");
        chown_at("keys/ring", 0);
    }

    /* dangling links and loops are I/O errors with a reason */
    snprintf(l, sizeof(l), "%s/etc/dangling", trust_root);
    ck_assert_int_eq(symlink("nothing-here", l), 0);
    expect_load(l, MFA_ERR_IO, "nothing-here");
    snprintf(l, sizeof(l), "%s/etc/loop", trust_root);
    ck_assert_int_eq(symlink("loop", l), 0);
    expect_load(l, MFA_ERR_IO, "too many symbolic links");

    /* a relative path from the working directory */
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
    snprintf(l, sizeof(l), "%s/etc", trust_root);
    ck_assert_int_eq(chdir(l), 0);
    expect_load("ring", MFA_OK, NULL);
    expect_load("../keys/ring", MFA_OK, NULL);
    expect_load("../open/ring", MFA_ERR_KEYRING_WRITABLE, "open");
    ck_assert_int_eq(chdir(cwd), 0);
}
END_TEST

START_TEST(trust_not_a_file)
{
    char p[512];

    dir_at("d", 0700);
    snprintf(p, sizeof(p), "%s/d", trust_root);
    expect_load(p, MFA_ERR_KEYRING_PERMS, "not a regular file");
    snprintf(p, sizeof(p), "%s/d/", trust_root);
    expect_load(p, MFA_ERR_KEYRING_PERMS, "not a regular file");
    snprintf(p, sizeof(p), "%s/d/fifo", trust_root);
    ck_assert_int_eq(mkfifo(p, 0600), 0);
    expect_load(p, MFA_ERR_KEYRING_PERMS, "fifo");
    /* /dev is root's and 0755, /dev/null a character device */
    expect_load("/dev/null", MFA_ERR_KEYRING_PERMS, "/dev/null");
    snprintf(p, sizeof(p), "%s/d/missing", trust_root);
    expect_load(p, MFA_ERR_IO, "missing");
    /* a file in place of a directory */
    ring_at("d/ring", p, sizeof(p));
    snprintf(p, sizeof(p), "%s/d/ring/x", trust_root);
    expect_load(p, MFA_ERR_IO, "ring");
    /* a malformed file is named as such */
    snprintf(p, sizeof(p), "%s/d/junk", trust_root);
    write_file(p, "junk\n", 0600);
    expect_load(p, MFA_ERR_KEYRING_FORMAT, "junk");
    {
        mfa_keyring_t *kr = NULL;
        char tiny[8];

        /* a short buffer is cut, still terminated; NULL is fine */
        ck_assert_int_eq(mfa_keyring_load_why(&kr, "/dev/null", tiny, 4),
                         MFA_ERR_KEYRING_PERMS);
        ck_assert_uint_eq(strlen(tiny), 3);
        ck_assert_int_eq(mfa_keyring_load_why(&kr, "/dev/null", NULL, 99),
                         MFA_ERR_KEYRING_PERMS);
        ck_assert_int_eq(mfa_keyring_load_why(NULL, "/dev/null", tiny, 8),
                         MFA_ERR_INVALID);
        ck_assert_int_eq(mfa_keyring_load_why(&kr, NULL, tiny, 8),
                         MFA_ERR_INVALID);
    }
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("keyring");
    TCase *tc = tcase_create("ring");
    TCase *tf = tcase_create("file");
    TCase *tt = tcase_create("trust");

    tcase_add_test(tc, constants_agree);
    tcase_add_test(tc, add_and_query);
    tcase_add_test(tc, subkeys_per_purpose);
    tcase_add_test(tc, buffer_valid_forms);
    tcase_add_test(tc, buffer_format_errors);
    tcase_add_checked_fixture(tf, setup_dir, teardown_dir);
    tcase_add_test(tf, file_create_and_perms);
    tcase_add_test(tf, file_format_errors);
    tcase_add_test(tf, save_load_round_trip);
    tcase_add_checked_fixture(tt, setup_trust, teardown_trust);
    tcase_add_test(tt, trust_file_owner);
    tcase_add_test(tt, trust_directories);
    tcase_add_test(tt, trust_symlinks);
    tcase_add_test(tt, trust_not_a_file);
    suite_add_tcase(s, tc);
    suite_add_tcase(s, tf);
    suite_add_tcase(s, tt);
    return tu_run(s);
}
