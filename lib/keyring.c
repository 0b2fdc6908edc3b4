/*
 * The key ring (keys with ids, one current for sealing), its file format,
 * per-purpose subkeys, and sealed secrets.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include <mfa/secret.h>
#include <mfa/store.h>
#include <mfa/uri.h>

#include "ct.h"
#include "internal.h"
#include "keyring.h"

/* A key ring file larger than this is not one: refuse it before reading. */
#define KEYRING_FILE_MAX (1024 * 1024)
#define KEYRING_MAGIC "libmfa-keyring 1"

#define SEALED_VERSION 0x01
#define SEALED_HDR (1 + 4 + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES)
#define SEALED_TAG crypto_aead_xchacha20poly1305_ietf_ABYTES

/* Checked at compile time so the public macros cannot drift from sodium. */
_Static_assert(MFA_SEALED_OVERHEAD == SEALED_HDR + SEALED_TAG,
               "MFA_SEALED_OVERHEAD");
_Static_assert(MFA_KEYRING_KEYBYTES == crypto_kdf_KEYBYTES, "kdf key size");
_Static_assert(MFA_KEYRING_KEYBYTES ==
                   crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
               "aead key size");

/* crypto_kdf contexts: exactly 8 characters, one per purpose. */
static const char kdf_context[MFA_INT_KEY_PURPOSES]
                             [crypto_kdf_CONTEXTBYTES + 1] = {
                                 "mfaseal1",
                                 "mfabkup1",
                                 "mfaoob_1",
};

struct key_entry {
    uint32_t id;
    uint8_t key[MFA_KEYRING_KEYBYTES];
    uint8_t sub[MFA_INT_KEY_PURPOSES][MFA_KEYRING_KEYBYTES];
};

/*
 * The ring itself holds no secret; the entries (keys and their derived
 * subkeys) live in one sodium_malloc'ed array, sorted by id.
 */
struct mfa_keyring {
    struct key_entry *keys;
    size_t count;
    size_t cap;
    uint32_t current;
};

size_t
mfa_keyring_keybytes(void)
{
    return MFA_KEYRING_KEYBYTES;
}

size_t
mfa_sealed_max(void)
{
    return MFA_SEALED_MAX;
}

mfa_rc
mfa_keyring_new(mfa_keyring_t **out)
{
    mfa_keyring_t *kr;

    if (out == NULL)
        return MFA_ERR_INVALID;
    *out = NULL;
    if (mfa_int_init() != MFA_OK)
        return MFA_ERR_INTERNAL;
    if ((kr = calloc(1, sizeof(*kr))) == NULL)
        return MFA_ERR_NOMEM;
    *out = kr;
    return MFA_OK;
}

void
mfa_keyring_free(mfa_keyring_t **kr)
{
    if (kr == NULL || *kr == NULL)
        return;
    if ((*kr)->keys != NULL)
        sodium_free((*kr)->keys); /* wipes */
    free(*kr);
    *kr = NULL;
}

static const struct key_entry *
find_key(const mfa_keyring_t *kr, uint32_t id)
{
    /* ids are public (they are written in every sealed blob) */
    for (size_t i = 0; i < kr->count; i++)
        if (kr->keys[i].id == id)
            return &kr->keys[i];
    return NULL;
}

static mfa_rc
grow(mfa_keyring_t *kr)
{
    struct key_entry *n;
    size_t cap;

    if (kr->count < kr->cap)
        return MFA_OK;
    cap = kr->cap ? kr->cap * 2 : 4;
    if (cap > SIZE_MAX / sizeof(*n))
        return MFA_ERR_NOMEM;
    /* guarded memory cannot be realloc'ed: copy, then let sodium_free wipe
     * the old array */
    if ((n = sodium_allocarray(cap, sizeof(*n))) == NULL)
        return MFA_ERR_NOMEM;
    if (kr->count > 0)
        memcpy(n, kr->keys, kr->count * sizeof(*n));
    if (kr->keys != NULL)
        sodium_free(kr->keys);
    kr->keys = n;
    kr->cap = cap;
    return MFA_OK;
}

mfa_rc
mfa_keyring_add(mfa_keyring_t *kr, uint32_t id,
                const uint8_t key[MFA_KEYRING_KEYBYTES], int current)
{
    struct key_entry *e;
    size_t pos;
    mfa_rc rc;

    if (kr == NULL || key == NULL || id == 0)
        return MFA_ERR_INVALID;
    if (find_key(kr, id) != NULL)
        return MFA_ERR_KEY_EXISTS;
    if ((rc = grow(kr)) != MFA_OK)
        return rc;
    for (pos = kr->count; pos > 0 && kr->keys[pos - 1].id > id; pos--)
        ;
    memmove(&kr->keys[pos + 1], &kr->keys[pos], (kr->count - pos) * sizeof(*e));
    e = &kr->keys[pos];
    e->id = id;
    memcpy(e->key, key, MFA_KEYRING_KEYBYTES);
    for (int p = 0; p < MFA_INT_KEY_PURPOSES; p++)
        if (crypto_kdf_derive_from_key(e->sub[p], MFA_KEYRING_KEYBYTES, 1,
                                       kdf_context[p], e->key) != 0) {
            memmove(&kr->keys[pos], &kr->keys[pos + 1],
                    (kr->count - pos) * sizeof(*e));
            sodium_memzero(&kr->keys[kr->count], sizeof(*e));
            return MFA_ERR_INTERNAL;
        }
    kr->count++;
    if (current)
        kr->current = id;
    return MFA_OK;
}

mfa_rc
mfa_keyring_generate(mfa_keyring_t *kr, uint32_t *id)
{
    uint8_t key[MFA_KEYRING_KEYBYTES];
    uint32_t next;
    mfa_rc rc;

    if (kr == NULL)
        return MFA_ERR_INVALID;
    /* sorted: the last id is the largest */
    next = kr->count ? kr->keys[kr->count - 1].id : 0;
    if (next == UINT32_MAX)
        return MFA_ERR_INVALID;
    next++;
    randombytes_buf(key, sizeof(key));
    rc = mfa_keyring_add(kr, next, key, 1);
    sodium_memzero(key, sizeof(key));
    if (rc == MFA_OK && id != NULL)
        *id = next;
    return rc;
}

uint32_t
mfa_keyring_current(const mfa_keyring_t *kr)
{
    return kr ? kr->current : 0;
}

size_t
mfa_keyring_count(const mfa_keyring_t *kr)
{
    return kr ? kr->count : 0;
}

int
mfa_keyring_has(const mfa_keyring_t *kr, uint32_t id)
{
    return kr != NULL && id != 0 && find_key(kr, id) != NULL;
}

size_t
mfa_int_keyring_ids(const mfa_keyring_t *kr, uint32_t *ids, size_t max)
{
    if (kr == NULL)
        return 0;
    for (size_t i = 0; i < kr->count && i < max; i++)
        ids[i] = kr->keys[i].id;
    return kr->count;
}

mfa_rc
mfa_int_keyring_subkey_ref(const mfa_keyring_t *kr, uint32_t id,
                           enum mfa_int_key_purpose purpose,
                           const uint8_t **key, uint32_t *used_id)
{
    const struct key_entry *e;

    if (kr == NULL || key == NULL || (unsigned)purpose >= MFA_INT_KEY_PURPOSES)
        return MFA_ERR_INVALID;
    *key = NULL;
    if (id == 0) {
        if (kr->current == 0)
            return MFA_ERR_KEYRING_EMPTY;
        id = kr->current;
    }
    if ((e = find_key(kr, id)) == NULL)
        return MFA_ERR_KEY_UNKNOWN;
    *key = e->sub[purpose];
    if (used_id != NULL)
        *used_id = id;
    return MFA_OK;
}

mfa_rc
mfa_int_keyring_subkey(const mfa_keyring_t *kr, uint32_t id,
                       enum mfa_int_key_purpose purpose,
                       uint8_t out[MFA_KEYRING_KEYBYTES], uint32_t *used_id)
{
    const uint8_t *k;
    mfa_rc rc;

    if (out == NULL)
        return MFA_ERR_INVALID;
    if ((rc = mfa_int_keyring_subkey_ref(kr, id, purpose, &k, used_id)) !=
        MFA_OK)
        return rc;
    memcpy(out, k, MFA_KEYRING_KEYBYTES);
    return MFA_OK;
}

/* ---- file format ------------------------------------------------------ */

/*
 * A decimal id: 1..4294967295, digits only, no sign, no leading zero.
 * Ids are not secret, so plain parsing is fine.
 */
static int
parse_id(const char *s, size_t n, uint32_t *id)
{
    uint64_t v = 0;

    if (n == 0 || n > 10 || s[0] == '0')
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v == 0 || v > UINT32_MAX)
        return 0;
    *id = (uint32_t)v;
    return 1;
}

/* Parse one "key ID HEX64" line body (after "key "). */
static mfa_rc
parse_key_line(mfa_keyring_t *kr, const char *s, size_t n)
{
    uint8_t key[MFA_KEYRING_KEYBYTES];
    const char *sp = memchr(s, ' ', n), *hex, *end = NULL;
    size_t binlen = 0;
    uint32_t id;
    mfa_rc rc;

    if (sp == NULL || !parse_id(s, (size_t)(sp - s), &id))
        return MFA_ERR_KEYRING_FORMAT;
    hex = sp + 1;
    if ((size_t)(s + n - hex) != 2 * MFA_KEYRING_KEYBYTES)
        return MFA_ERR_KEYRING_FORMAT;
    /* sodium_hex2bin runs in constant time with respect to the digits */
    if (sodium_hex2bin(key, sizeof(key), hex, 2 * MFA_KEYRING_KEYBYTES, NULL,
                       &binlen, &end) != 0 ||
        binlen != sizeof(key) || end != hex + 2 * MFA_KEYRING_KEYBYTES) {
        sodium_memzero(key, sizeof(key));
        return MFA_ERR_KEYRING_FORMAT;
    }
    rc = mfa_keyring_add(kr, id, key, 0);
    sodium_memzero(key, sizeof(key));
    if (rc == MFA_ERR_KEY_EXISTS)
        return MFA_ERR_KEYRING_FORMAT; /* a duplicate id in the file */
    return rc;
}

static mfa_rc
parse(mfa_keyring_t *kr, const char *text, size_t len)
{
    size_t pos = 0, lineno = 0;
    uint32_t current = 0;
    int seen_current = 0;
    mfa_rc rc;

    while (pos < len) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - line) : len - pos;

        pos += n + (nl ? 1 : 0);
        if (memchr(line, '\0', n) != NULL)
            return MFA_ERR_KEYRING_FORMAT;
        if (lineno++ == 0) {
            if (n != sizeof(KEYRING_MAGIC) - 1 ||
                memcmp(line, KEYRING_MAGIC, n) != 0)
                return MFA_ERR_KEYRING_FORMAT;
            continue;
        }
        if (n == 0 || line[0] == '#')
            continue;
        if (n > 4 && memcmp(line, "key ", 4) == 0) {
            if ((rc = parse_key_line(kr, line + 4, n - 4)) != MFA_OK)
                return rc;
        } else if (n > 8 && memcmp(line, "current ", 8) == 0) {
            if (seen_current || !parse_id(line + 8, n - 8, &current))
                return MFA_ERR_KEYRING_FORMAT;
            seen_current = 1;
        } else {
            return MFA_ERR_KEYRING_FORMAT;
        }
    }
    if (lineno == 0)
        return MFA_ERR_KEYRING_FORMAT;
    if (seen_current) {
        if (find_key(kr, current) == NULL)
            return MFA_ERR_KEYRING_FORMAT;
        kr->current = current;
    }
    return MFA_OK;
}

mfa_rc
mfa_keyring_load_buffer(mfa_keyring_t **out, const char *text, size_t len)
{
    mfa_keyring_t *kr = NULL;
    mfa_rc rc;

    if (out == NULL)
        return MFA_ERR_INVALID;
    *out = NULL;
    if (text == NULL)
        return MFA_ERR_INVALID;
    if (len > KEYRING_FILE_MAX)
        return MFA_ERR_KEYRING_FORMAT;
    if ((rc = mfa_keyring_new(&kr)) != MFA_OK)
        return rc;
    if ((rc = parse(kr, text, len)) != MFA_OK) {
        mfa_keyring_free(&kr);
        return rc;
    }
    *out = kr;
    return MFA_OK;
}

/* ---- trusting the file (like sshd's StrictModes) -------------------------
 *
 * Whoever can write the key ring, or replace it or any directory on the way
 * to it, can make the service seal secrets under a key they know.  So the
 * file and every directory passed on the way there (after following
 * symbolic links, each link's own directory included) must belong to this
 * process's effective user or root and be writable by nobody else.  A
 * directory above the key ring's own may be world-writable when it is
 * sticky (/tmp): then nobody else can rename or remove what is in it, so
 * the subtree below stays ours.  The key ring's own directory never may, as
 * sshd refuses it: others could plant files next to it.
 */

#define LINKS_MAX 40

static void why_set(char *why, size_t whysize, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
why_set(char *why, size_t whysize, const char *fmt, ...)
{
    va_list ap;

    if (why == NULL || whysize == 0)
        return;
    va_start(ap, fmt);
    (void)vsnprintf(why, whysize, fmt, ap);
    va_end(ap);
}

static int
trusted_owner(uid_t uid)
{
    return uid == 0 || uid == geteuid();
}

/* A directory passed on the way (own != 0: the one holding the file). */
static mfa_rc
check_dir(const char *dir, const struct stat *st, int own, char *why,
          size_t whysize)
{
    unsigned mode = (unsigned)(st->st_mode & 07777);

    if (!trusted_owner(st->st_uid)) {
        why_set(why, whysize,
                "%s: directory owned by uid %u, not by this process's user "
                "(uid %u) or root",
                dir, (unsigned)st->st_uid, (unsigned)geteuid());
        return MFA_ERR_KEYRING_OWNER;
    }
    if ((mode & 022) != 0 && (own || (mode & S_ISVTX) == 0)) {
        why_set(why, whysize,
                own ? "%s: the key ring's directory is writable by group or "
                      "others (mode %04o)"
                    : "%s: directory writable by group or others and not "
                      "sticky (mode %04o)",
                dir, mode);
        return MFA_ERR_KEYRING_WRITABLE;
    }
    return MFA_OK;
}

static mfa_rc
check_file(const char *path, const struct stat *st, char *why, size_t whysize)
{
    unsigned mode = (unsigned)(st->st_mode & 07777);

    if (!S_ISREG(st->st_mode)) {
        why_set(why, whysize, "%s: not a regular file", path);
        return MFA_ERR_KEYRING_PERMS;
    }
    if (!trusted_owner(st->st_uid)) {
        why_set(why, whysize,
                "%s: owned by uid %u, not by this process's user (uid %u) "
                "or root",
                path, (unsigned)st->st_uid, (unsigned)geteuid());
        return MFA_ERR_KEYRING_OWNER;
    }
    if ((mode & 022) != 0) {
        why_set(why, whysize,
                "%s: writable by group or others (mode %04o; chmod 600)", path,
                mode);
        return MFA_ERR_KEYRING_WRITABLE;
    }
    if ((mode & 077) != 0) {
        why_set(why, whysize,
                "%s: accessible by group or others (mode %04o; chmod 600)",
                path, mode);
        return MFA_ERR_KEYRING_PERMS;
    }
    return MFA_OK;
}

/* Append "/name" (n bytes) to the resolved prefix cur. */
static int
path_push(char *cur, const char *name, size_t n)
{
    size_t len = strlen(cur);

    if (len + 1 + n >= PATH_MAX)
        return 0;
    if (len > 1)
        cur[len++] = '/';
    memcpy(cur + len, name, n);
    cur[len + n] = '\0';
    return 1;
}

static void
path_pop(char *cur)
{
    char *slash = strrchr(cur, '/');

    if (slash == cur)
        cur[1] = '\0';
    else if (slash != NULL)
        *slash = '\0';
}

/*
 * Resolve path component by component into resolved[PATH_MAX], checking
 * each directory on the way and the file at the end; *fst gets the file's
 * lstat.  No component is trusted before the directory holding it is.
 */
static mfa_rc
trust_walk(const char *path, char *resolved, struct stat *fst, char *why,
           size_t whysize)
{
    char *rest = NULL, *target = NULL;
    struct stat st;
    size_t pos = 0, links = 0;
    mfa_rc rc = MFA_OK;

    rest = malloc(PATH_MAX);
    target = malloc(PATH_MAX);
    if (rest == NULL || target == NULL) {
        rc = MFA_ERR_NOMEM;
        goto done;
    }
    if (path[0] == '/') {
        if (strlen(path) >= PATH_MAX)
            goto too_long;
        memcpy(rest, path, strlen(path) + 1);
    } else {
        if (getcwd(rest, PATH_MAX) == NULL) {
            why_set(why, whysize, "%s: current directory: %s", path,
                    strerror(errno));
            rc = MFA_ERR_IO;
            goto done;
        }
        {
            size_t rl = strlen(rest), pl = strlen(path);

            if (rl + 1 + pl >= PATH_MAX)
                goto too_long;
            rest[rl] = '/';
            memcpy(rest + rl + 1, path, pl + 1);
        }
    }
    memcpy(resolved, "/", 2);
    if (lstat("/", &st) != 0) {
        why_set(why, whysize, "/: %s", strerror(errno));
        rc = MFA_ERR_IO;
        goto done;
    }
    if ((rc = check_dir("/", &st, 0, why, whysize)) != MFA_OK)
        goto done;

    for (;;) {
        const char *name;
        size_t n;
        int last;

        while (rest[pos] == '/')
            pos++;
        if (rest[pos] == '\0') {
            /* "dir/" or "/": what is left is a directory, not a file */
            why_set(why, whysize, "%s: not a regular file", path);
            rc = MFA_ERR_KEYRING_PERMS;
            goto done;
        }
        name = rest + pos;
        n = strcspn(name, "/");
        pos += n;
        last = rest[pos] == '\0';
        while (rest[pos] == '/')
            pos++;
        if (n == 1 && name[0] == '.' && !last)
            continue;
        if (n == 2 && name[0] == '.' && name[1] == '.' && !last) {
            path_pop(resolved);
            continue;
        }
        if (!path_push(resolved, name, n))
            goto too_long;
        if (lstat(resolved, &st) != 0) {
            why_set(why, whysize, "%s: %s", resolved, strerror(errno));
            rc = MFA_ERR_IO;
            goto done;
        }
        if (S_ISLNK(st.st_mode)) {
            ssize_t tl;

            if (++links > LINKS_MAX) {
                why_set(why, whysize, "%s: too many symbolic links", path);
                rc = MFA_ERR_IO;
                goto done;
            }
            tl = readlink(resolved, target, PATH_MAX - 1);
            if (tl <= 0) {
                why_set(why, whysize, "%s: %s", resolved,
                        tl < 0 ? strerror(errno) : "empty symbolic link");
                rc = MFA_ERR_IO;
                goto done;
            }
            if ((size_t)tl + 1 + strlen(rest + pos) >= PATH_MAX)
                goto too_long;
            /* the link's directory was checked; go on from its target */
            target[tl] = '\0';
            if (rest[pos] != '\0') {
                size_t rl = strlen(rest + pos);

                /* fits: checked against PATH_MAX above */
                target[tl] = '/';
                memcpy(target + tl + 1, rest + pos, rl + 1);
            }
            memcpy(rest, target, strlen(target) + 1);
            pos = 0;
            path_pop(resolved);
            if (rest[0] == '/')
                memcpy(resolved, "/", 2);
            continue;
        }
        if (last) {
            char dir[PATH_MAX];
            struct stat dst;

            if ((rc = check_file(resolved, &st, why, whysize)) != MFA_OK)
                goto done;
            /* the directory that holds the file, held to the strict rule */
            memcpy(dir, resolved, strlen(resolved) + 1);
            path_pop(dir);
            if (lstat(dir, &dst) != 0) {
                why_set(why, whysize, "%s: %s", dir, strerror(errno));
                rc = MFA_ERR_IO;
                goto done;
            }
            if ((rc = check_dir(dir, &dst, 1, why, whysize)) != MFA_OK)
                goto done;
            *fst = st;
            goto done;
        }
        if (!S_ISDIR(st.st_mode)) {
            why_set(why, whysize, "%s: %s", resolved, strerror(ENOTDIR));
            rc = MFA_ERR_IO;
            goto done;
        }
        if ((rc = check_dir(resolved, &st, 0, why, whysize)) != MFA_OK)
            goto done;
    }
too_long:
    why_set(why, whysize, "%s: %s", path, strerror(ENAMETOOLONG));
    rc = MFA_ERR_IO;
done:
    free(rest);
    free(target);
    return rc;
}

mfa_rc
mfa_keyring_load_why(mfa_keyring_t **out, const char *path, char *why,
                     size_t whysize)
{
    struct stat st, lst;
    char *resolved = NULL, *buf = NULL;
    size_t len = 0, cap;
    int fd;
    mfa_rc rc;

    if (why != NULL && whysize > 0)
        why[0] = '\0';
    if (out == NULL)
        return MFA_ERR_INVALID;
    *out = NULL;
    if (path == NULL)
        return MFA_ERR_INVALID;
    if (mfa_int_init() != MFA_OK)
        return MFA_ERR_INTERNAL;
    if ((resolved = malloc(PATH_MAX)) == NULL)
        return MFA_ERR_NOMEM;
    if ((rc = trust_walk(path, resolved, &lst, why, whysize)) != MFA_OK) {
        free(resolved);
        return rc;
    }
    /* O_NOFOLLOW: the walk resolved every link, so a link here now is a
     * swap after the check; O_NONBLOCK: a FIFO put there must not hang */
    fd = open(resolved,
              O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        why_set(why, whysize, "%s: %s", resolved, strerror(errno));
        free(resolved);
        return MFA_ERR_IO;
    }
    /* fstat on the open descriptor: what is checked is what is read */
    if (fstat(fd, &st) != 0) {
        why_set(why, whysize, "%s: %s", resolved, strerror(errno));
        rc = MFA_ERR_IO;
        goto done;
    }
    if (st.st_dev != lst.st_dev || st.st_ino != lst.st_ino) {
        why_set(why, whysize, "%s: replaced while being checked", resolved);
        rc = MFA_ERR_IO;
        goto done;
    }
    if ((rc = check_file(resolved, &st, why, whysize)) != MFA_OK)
        goto done;
    if (st.st_size < 0 || st.st_size > KEYRING_FILE_MAX) {
        why_set(why, whysize, "%s: larger than a key ring can be", resolved);
        rc = MFA_ERR_KEYRING_FORMAT;
        goto done;
    }
    /* one more byte than the limit, to notice a file that grew meanwhile */
    cap = (size_t)st.st_size + 1;
    if ((buf = sodium_malloc(cap)) == NULL) {
        rc = MFA_ERR_NOMEM;
        goto done;
    }
    for (;;) {
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            why_set(why, whysize, "%s: %s", resolved, strerror(errno));
            rc = MFA_ERR_IO;
            goto done;
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (len == cap) {
            why_set(why, whysize, "%s: changed while being read", resolved);
            rc = MFA_ERR_IO;
            goto done;
        }
    }
    rc = mfa_keyring_load_buffer(out, buf, len);
    if (rc == MFA_ERR_KEYRING_FORMAT)
        why_set(why, whysize, "%s: not a libmfa key ring (see docs/keyring.md)",
                resolved);
done:
    close(fd);
    if (buf != NULL)
        sodium_free(buf); /* wipes the key material read */
    free(resolved);
    return rc;
}

mfa_rc
mfa_keyring_load(mfa_keyring_t **out, const char *path)
{
    return mfa_keyring_load_why(out, path, NULL, 0);
}

/* "key 4294967295 " + 64 hex + "\n" */
#define KEY_LINE_MAX (4 + 10 + 1 + 2 * MFA_KEYRING_KEYBYTES + 1)
#define CURRENT_LINE_MAX (8 + 10 + 1)

static size_t
put_uint(char *p, uint32_t v)
{
    char tmp[10];
    size_t n = 0, i;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (i = 0; i < n; i++)
        p[i] = tmp[n - 1 - i];
    return n;
}

/* Render the ring into guarded memory; the caller sodium_frees *out. */
static mfa_rc
render(const mfa_keyring_t *kr, char **out, size_t *outlen)
{
    size_t cap =
        sizeof(KEYRING_MAGIC) + kr->count * KEY_LINE_MAX + CURRENT_LINE_MAX + 1;
    size_t o = 0;
    char *buf;

    if ((buf = sodium_malloc(cap)) == NULL)
        return MFA_ERR_NOMEM;
    memcpy(buf, KEYRING_MAGIC "\n", sizeof(KEYRING_MAGIC));
    o = sizeof(KEYRING_MAGIC);
    for (size_t i = 0; i < kr->count; i++) {
        memcpy(buf + o, "key ", 4);
        o += 4;
        o += put_uint(buf + o, kr->keys[i].id);
        buf[o++] = ' ';
        /* sodium_bin2hex is constant time; it writes a NUL we overwrite */
        sodium_bin2hex(buf + o, 2 * MFA_KEYRING_KEYBYTES + 1, kr->keys[i].key,
                       MFA_KEYRING_KEYBYTES);
        o += 2 * MFA_KEYRING_KEYBYTES;
        buf[o++] = '\n';
    }
    if (kr->current != 0) {
        memcpy(buf + o, "current ", 8);
        o += 8;
        o += put_uint(buf + o, kr->current);
        buf[o++] = '\n';
    }
    *out = buf;
    *outlen = o;
    return MFA_OK;
}

static int
write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* fsync the directory holding path, so the rename or link is durable. */
static void
sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    int fd;

    if (slash == NULL) {
        dir = strdup(".");
    } else if (slash == path) {
        dir = strdup("/");
    } else {
        dir = strndup(path, (size_t)(slash - path));
    }
    if (dir == NULL)
        return;
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/*
 * Write the ring into a fresh temporary file next to path (mode 0600,
 * synced).  *tmp gets its name, to be renamed or linked into place.
 */
static mfa_rc
write_temp(const mfa_keyring_t *kr, const char *path, char **tmp)
{
    static const char suffix[] = ".tmp.XXXXXX";
    size_t plen = strlen(path), len = 0;
    char *name, *text = NULL;
    mfa_rc rc;
    int fd;

    *tmp = NULL;
    if ((name = malloc(plen + sizeof(suffix))) == NULL)
        return MFA_ERR_NOMEM;
    memcpy(name, path, plen);
    memcpy(name + plen, suffix, sizeof(suffix));
    if ((rc = render(kr, &text, &len)) != MFA_OK) {
        free(name);
        return rc;
    }
    /* mkstemp creates the file 0600 with O_EXCL; fchmod makes sure */
    if ((fd = mkstemp(name)) < 0) {
        sodium_free(text);
        free(name);
        return MFA_ERR_IO;
    }
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    if (fchmod(fd, S_IRUSR | S_IWUSR) != 0 || write_all(fd, text, len) != 0 ||
        fsync(fd) != 0) {
        rc = MFA_ERR_IO;
    }
    if (close(fd) != 0)
        rc = MFA_ERR_IO;
    sodium_free(text);
    if (rc != MFA_OK) {
        (void)unlink(name);
        free(name);
        return rc;
    }
    *tmp = name;
    return MFA_OK;
}

mfa_rc
mfa_keyring_save(const mfa_keyring_t *kr, const char *path)
{
    char *tmp = NULL;
    mfa_rc rc;

    if (kr == NULL || path == NULL || path[0] == '\0')
        return MFA_ERR_INVALID;
    if ((rc = write_temp(kr, path, &tmp)) != MFA_OK)
        return rc;
    if (rename(tmp, path) != 0) {
        (void)unlink(tmp);
        free(tmp);
        return MFA_ERR_IO;
    }
    free(tmp);
    sync_dir(path);
    return MFA_OK;
}

mfa_rc
mfa_keyring_create_file(const char *path)
{
    mfa_keyring_t *kr = NULL;
    char *tmp = NULL;
    mfa_rc rc;

    if (path == NULL || path[0] == '\0')
        return MFA_ERR_INVALID;
    if ((rc = mfa_keyring_new(&kr)) != MFA_OK)
        return rc;
    if ((rc = mfa_keyring_generate(kr, NULL)) == MFA_OK)
        rc = write_temp(kr, path, &tmp);
    mfa_keyring_free(&kr);
    if (rc != MFA_OK)
        return rc;
    /* link() fails when path exists: a complete file appears atomically,
     * or nothing is touched */
    if (link(tmp, path) != 0)
        rc = MFA_ERR_IO;
    (void)unlink(tmp);
    free(tmp);
    if (rc == MFA_OK)
        sync_dir(path);
    return rc;
}

/* ---- sealed secrets --------------------------------------------------- */

static void
put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t
get_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static void
put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

/*
 * Associated data: version, key id, then account and factor id each with a
 * 64-bit length in front, so ("ab", "c") and ("a", "bc") differ.
 * Not secret: plain malloc.
 */
/* Room for the associated data of any account and factor id the service
 * stores, so that unsealing at login allocates nothing; longer inputs (the
 * sealing API takes any strings) fall back to malloc. */
#define AD_STACK (1 + 4 + 8 + MFA_ACCOUNT_MAX + 8 + MFA_FACTOR_ID_LEN)
static mfa_rc
make_ad(uint32_t key_id, const char *account, const char *factor_id,
        uint8_t *stack, uint8_t **ad, size_t *adlen)
{
    size_t alen = strlen(account), flen = strlen(factor_id), n;
    uint8_t *p;

    if (alen > SIZE_MAX / 2 - 64 || flen > SIZE_MAX / 2 - 64)
        return MFA_ERR_INVALID;
    n = 1 + 4 + 8 + alen + 8 + flen;
    if (n <= AD_STACK)
        p = stack;
    else if ((p = malloc(n)) == NULL)
        return MFA_ERR_NOMEM;
    p[0] = SEALED_VERSION;
    put_be32(p + 1, key_id);
    put_be64(p + 5, alen);
    memcpy(p + 13, account, alen);
    put_be64(p + 13 + alen, flen);
    memcpy(p + 21 + alen, factor_id, flen);
    *ad = p;
    *adlen = n;
    return MFA_OK;
}

mfa_rc
mfa_seal(const mfa_keyring_t *kr, const char *account, const char *factor_id,
         const mfa_secret_t *s, uint8_t *out, size_t outsize, size_t *outlen)
{
    const uint8_t *key;
    uint8_t *ad = NULL, adbuf[AD_STACK];
    size_t adlen = 0, mlen;
    unsigned long long clen = 0;
    uint32_t id = 0;
    mfa_rc rc;

    if (outlen != NULL)
        *outlen = 0;
    if (kr == NULL || account == NULL || factor_id == NULL || s == NULL ||
        out == NULL || outlen == NULL)
        return MFA_ERR_INVALID;
    mlen = mfa_secret_len(s);
    if (mlen > MFA_SECRET_MAX)
        return MFA_ERR_SECRET_LONG;
    /* unseal refuses blobs too short for any secret: never make one */
    if (mlen < MFA_SECRET_LEGACY_MIN)
        return MFA_ERR_SECRET_SHORT;
    if (outsize < MFA_SEALED_OVERHEAD + mlen)
        return MFA_ERR_BUFFER;
    if ((rc = mfa_int_keyring_subkey_ref(kr, 0, MFA_INT_KEY_SEAL, &key, &id)) !=
        MFA_OK)
        return rc;
    if ((rc = make_ad(id, account, factor_id, adbuf, &ad, &adlen)) != MFA_OK)
        return rc;
    out[0] = SEALED_VERSION;
    put_be32(out + 1, id);
    /* 192-bit random nonces: no counter to keep, no realistic collision */
    randombytes_buf(out + 5, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    if (crypto_aead_xchacha20poly1305_ietf_encrypt(
            out + SEALED_HDR, &clen, mfa_secret_bytes(s), mlen, ad, adlen, NULL,
            out + 5, key) != 0 ||
        clen != mlen + SEALED_TAG) {
        sodium_memzero(out, outsize);
        if (ad != adbuf)
            free(ad);
        return MFA_ERR_INTERNAL;
    }
    if (ad != adbuf)
        free(ad);
    *outlen = SEALED_HDR + (size_t)clen;
    return MFA_OK;
}

/* Version and length checks shared by unseal and key_id. */
static mfa_rc
check_blob(const uint8_t *blob, size_t len, uint32_t *id)
{
    if (len < MFA_SEALED_OVERHEAD + MFA_SECRET_LEGACY_MIN ||
        len > MFA_SEALED_MAX || blob[0] != SEALED_VERSION)
        return MFA_ERR_SEALED_FORMAT;
    *id = get_be32(blob + 1);
    if (*id == 0)
        return MFA_ERR_SEALED_FORMAT; /* no ring key has id 0 */
    return MFA_OK;
}

mfa_rc
mfa_sealed_key_id(const uint8_t *blob, size_t len, uint32_t *id)
{
    uint32_t v = 0;
    mfa_rc rc;

    if (blob == NULL || id == NULL)
        return MFA_ERR_INVALID;
    if ((rc = check_blob(blob, len, &v)) != MFA_OK)
        return rc;
    *id = v;
    return MFA_OK;
}

mfa_rc
mfa_int_unseal_into(const mfa_keyring_t *kr, const char *account,
                    const char *factor_id, const uint8_t *blob, size_t len,
                    uint8_t *plain, size_t size, size_t *plainlen)
{
    const uint8_t *key;
    uint8_t *ad = NULL, adbuf[AD_STACK];
    size_t adlen = 0, mlen;
    unsigned long long got = 0;
    uint32_t id = 0;
    int dec;
    mfa_rc rc;

    *plainlen = 0;
    if (kr == NULL || account == NULL || factor_id == NULL || blob == NULL)
        return MFA_ERR_INVALID;
    if ((rc = check_blob(blob, len, &id)) != MFA_OK)
        return rc;
    mlen = len - MFA_SEALED_OVERHEAD;
    if (mlen > size)
        return MFA_ERR_BUFFER;
    if ((rc = mfa_int_keyring_subkey_ref(kr, id, MFA_INT_KEY_SEAL, &key,
                                         NULL)) != MFA_OK)
        return rc;
    if ((rc = make_ad(id, account, factor_id, adbuf, &ad, &adlen)) != MFA_OK)
        return rc;
    dec = crypto_aead_xchacha20poly1305_ietf_decrypt(
        plain, &got, NULL, blob + SEALED_HDR, len - SEALED_HDR, ad, adlen,
        blob + 5, key);
    /* the verdict and the plaintext's length are the public result */
    MFA_CT_PUBLIC(dec);
    MFA_CT_PUBLIC(got);
    if (dec != 0 || got != mlen) {
        if (ad != adbuf)
            free(ad);
        sodium_memzero(plain, mlen);
        return MFA_ERR_SEALED_AUTH;
    }
    if (ad != adbuf)
        free(ad);
    *plainlen = mlen;
    return MFA_OK;
}

mfa_rc
mfa_unseal(const mfa_keyring_t *kr, const char *account, const char *factor_id,
           const uint8_t *blob, size_t len, mfa_secret_t **out)
{
    mfa_secret_t *s = NULL;
    uint8_t *plain = NULL;
    size_t mlen = 0;
    uint32_t id = 0;
    mfa_rc rc;

    if (out == NULL)
        return MFA_ERR_INVALID;
    *out = NULL;
    if (kr == NULL || account == NULL || factor_id == NULL || blob == NULL)
        return MFA_ERR_INVALID;
    if ((rc = check_blob(blob, len, &id)) != MFA_OK)
        return rc;
    /* the plaintext goes straight into the secret's guarded buffer */
    if ((rc = mfa_int_secret_alloc(&s, len - MFA_SEALED_OVERHEAD, &plain)) !=
        MFA_OK)
        return rc;
    rc = mfa_int_unseal_into(kr, account, factor_id, blob, len, plain,
                             len - MFA_SEALED_OVERHEAD, &mlen);
    if (rc != MFA_OK) {
        mfa_secret_free(&s); /* sodium_free wipes whatever was written */
        return rc;
    }
    *out = s;
    return MFA_OK;
}

mfa_rc
mfa_reseal(const mfa_keyring_t *kr, const char *account, const char *factor_id,
           const uint8_t *blob, size_t len, uint8_t *out, size_t outsize,
           size_t *outlen)
{
    mfa_secret_t *s = NULL;
    mfa_rc rc;

    if (outlen != NULL)
        *outlen = 0;
    if (out == NULL || outlen == NULL)
        return MFA_ERR_INVALID;
    /* opened completely before out is written, so out may alias blob */
    if ((rc = mfa_unseal(kr, account, factor_id, blob, len, &s)) != MFA_OK)
        return rc;
    rc = mfa_seal(kr, account, factor_id, s, out, outsize, outlen);
    mfa_secret_free(&s);
    return rc;
}
