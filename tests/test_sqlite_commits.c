/*
 * Durable commits per flow on the SQLite store (issue 13: one flow, one
 * transaction).  Two counters, both around each flow:
 * - commits: sqlite3_commit_hook on the store's connection, one per write
 *   transaction that ends in COMMIT;
 * - syncs: a VFS shim under the store that counts xSync, i.e. every
 *   fsync/fdatasync SQLite asks of the operating system (with WAL and
 *   synchronous=FULL, one per commit that wrote a page; none for a
 *   transaction that wrote nothing).
 * Every write flow must cost exactly one of each, read-only calls none;
 * with synchronous=NORMAL the commits stay and the syncs go.
 *
 * Not a Check suite: prints a table and "N passed, N failed".
 *   test-sqlite-commits [directory]   (default /var/tmp: fsync is real)
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include <mfa.h>
#include <mfa/store-backend.h>

#include "store/store_int.h"

/* ---- a VFS that counts syncs ------------------------------------------- */

static atomic_long syncs;

typedef struct cfile {
    sqlite3_file base;
    sqlite3_file *real; /* follows this struct in the same allocation */
} cfile;

#define REAL(f) (((cfile *)(f))->real)

static int
c_close(sqlite3_file *f)
{
    return REAL(f)->pMethods->xClose(REAL(f));
}
static int
c_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o)
{
    return REAL(f)->pMethods->xRead(REAL(f), b, n, o);
}
static int
c_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 o)
{
    return REAL(f)->pMethods->xWrite(REAL(f), b, n, o);
}
static int
c_truncate(sqlite3_file *f, sqlite3_int64 n)
{
    return REAL(f)->pMethods->xTruncate(REAL(f), n);
}
static int
c_sync(sqlite3_file *f, int flags)
{
    atomic_fetch_add(&syncs, 1);
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int
c_size(sqlite3_file *f, sqlite3_int64 *n)
{
    return REAL(f)->pMethods->xFileSize(REAL(f), n);
}
static int
c_lock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xLock(REAL(f), l);
}
static int
c_unlock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), l);
}
static int
c_reserved(sqlite3_file *f, int *r)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), r);
}
static int
c_control(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int
c_sector(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int
c_device(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int
c_shm_map(sqlite3_file *f, int pg, int sz, int extend, void volatile **p)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, extend, p);
}
static int
c_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
    return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}
static void
c_shm_barrier(sqlite3_file *f)
{
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int
c_shm_unmap(sqlite3_file *f, int del)
{
    return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}
static int
c_fetch(sqlite3_file *f, sqlite3_int64 o, int n, void **p)
{
    return REAL(f)->pMethods->xFetch(REAL(f), o, n, p);
}
static int
c_unfetch(sqlite3_file *f, sqlite3_int64 o, void *p)
{
    return REAL(f)->pMethods->xUnfetch(REAL(f), o, p);
}

static const sqlite3_io_methods c_methods = {
    3,         c_close,   c_read,     c_write,       c_truncate,  c_sync,
    c_size,    c_lock,    c_unlock,   c_reserved,    c_control,   c_sector,
    c_device,  c_shm_map, c_shm_lock, c_shm_barrier, c_shm_unmap, c_fetch,
    c_unfetch,
};

static sqlite3_vfs *real_vfs;
static sqlite3_vfs count_vfs;

static int
v_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out)
{
    cfile *c = (cfile *)f;
    int rc;

    (void)v;
    c->real = (sqlite3_file *)(c + 1);
    rc = real_vfs->xOpen(real_vfs, name, c->real, flags, out);
    /* the shim's methods only over a file that opened */
    c->base.pMethods = c->real->pMethods != NULL ? &c_methods : NULL;
    return rc;
}
static int
v_delete(sqlite3_vfs *v, const char *name, int dirsync)
{
    (void)v;
    return real_vfs->xDelete(real_vfs, name, dirsync);
}
static int
v_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
    (void)v;
    return real_vfs->xAccess(real_vfs, name, flags, out);
}
static int
v_full(sqlite3_vfs *v, const char *name, int n, char *out)
{
    (void)v;
    return real_vfs->xFullPathname(real_vfs, name, n, out);
}
static int
v_random(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return real_vfs->xRandomness(real_vfs, n, out);
}
static int
v_sleep(sqlite3_vfs *v, int us)
{
    (void)v;
    return real_vfs->xSleep(real_vfs, us);
}
static int
v_time(sqlite3_vfs *v, double *t)
{
    (void)v;
    return real_vfs->xCurrentTime(real_vfs, t);
}
static int
v_error(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return real_vfs->xGetLastError(real_vfs, n, out);
}
static int
v_time64(sqlite3_vfs *v, sqlite3_int64 *t)
{
    (void)v;
    return real_vfs->xCurrentTimeInt64(real_vfs, t);
}

static int
install_vfs(void)
{
    real_vfs = sqlite3_vfs_find(NULL);
    if (real_vfs == NULL || real_vfs->iVersion < 2)
        return -1;
    memset(&count_vfs, 0, sizeof(count_vfs));
    count_vfs.iVersion = 2;
    count_vfs.szOsFile = (int)sizeof(cfile) + real_vfs->szOsFile;
    count_vfs.mxPathname = real_vfs->mxPathname;
    count_vfs.zName = "mfa-count-syncs";
    count_vfs.xOpen = v_open;
    count_vfs.xDelete = v_delete;
    count_vfs.xAccess = v_access;
    count_vfs.xFullPathname = v_full;
    count_vfs.xRandomness = v_random;
    count_vfs.xSleep = v_sleep;
    count_vfs.xCurrentTime = v_time;
    count_vfs.xGetLastError = v_error;
    count_vfs.xCurrentTimeInt64 = v_time64;
    /* the default: the store opens its file through it */
    return sqlite3_vfs_register(&count_vfs, 1) == SQLITE_OK ? 0 : -1;
}

/* ---- the flows ----------------------------------------------------------- */

static long commits;
static int passed, failed;
static int64_t clock_now = 1700000000;

static int
on_commit(void *arg)
{
    (void)arg;
    commits++;
    return 0; /* 0: let the commit go on */
}

static int64_t
clock_fn(void *arg)
{
    (void)arg;
    return clock_now;
}

static char oob_code[32];

static mfa_rc
oob_send(const char *account, const char *purpose, const char *code, void *arg)
{
    (void)account;
    (void)purpose;
    (void)arg;
    snprintf(oob_code, sizeof(oob_code), "%s", code);
    return MFA_OK;
}

typedef struct counts {
    long commits, syncs;
} counts;

static counts start;

static void
begin_count(void)
{
    start.commits = commits;
    start.syncs = atomic_load(&syncs);
}

/* The flow's outcome must be `want`, its cost commits and syncs. */
static void
end_count(const char *mode, const char *flow, mfa_rc rc, mfa_rc want,
          long want_commits, long want_syncs)
{
    long c = commits - start.commits, s = atomic_load(&syncs) - start.syncs;
    int ok = rc == want && c == want_commits && s == want_syncs;

    printf("%-4s %-6s %-28s %-22s %7ld %6ld\n", ok ? "ok" : "FAIL", mode, flow,
           mfa_strerror_name(rc), c, s);
    if (!ok && rc != want)
        printf("     want %s\n", mfa_strerror_name(want));
    if (ok)
        passed++;
    else
        failed++;
}

#define FLOW(mode, name, want, wc, ws, call)                                   \
    do {                                                                       \
        mfa_rc rc_;                                                            \
        begin_count();                                                         \
        rc_ = (call);                                                          \
        end_count(mode, name, rc_, want, wc, ws);                              \
    } while (0)

static void
code_at(mfa_otp_t *o, int64_t t, char *code, size_t size)
{
    if (mfa_otp_totp(o, t, code, size) != MFA_OK)
        abort();
}

/* A code of the same length that is not the code of any step in the
 * window around t. */
static void
wrong_code(mfa_otp_t *o, int64_t t, char *code, size_t size)
{
    char near[3][MFA_CODE_BUFSIZE];

    for (int i = 0; i < 3; i++)
        code_at(o, t + 30 * (i - 1), near[i], sizeof(near[i]));
    for (unsigned v = 0;; v++) {
        snprintf(code, size, "%06u", v);
        if (strcmp(code, near[0]) && strcmp(code, near[1]) &&
            strcmp(code, near[2]))
            return;
    }
}

static void
run_mode(const char *dir, int normal)
{
    const char *mode = normal ? "NORMAL" : "FULL";
    const long sync1 = normal ? 0 : 1; /* syncs of one write commit */
    const mfa_throttle_policy p = {2, 60, 3600};
    char path[512], spec[600], code[MFA_CODE_BUFSIZE];
    mfa_store_t *s = NULL;
    mfa_keyring_t *kr = NULL;
    mfa_ctx_t *ctx = NULL;
    mfa_enrollment_t *e = NULL;
    mfa_uri_t *u = NULL;
    mfa_otp_t *o = NULL;
    mfa_result res;
    char **codes = NULL;
    size_t ncodes = 0, left = 0;
    uint32_t kid;
    int has = 0;
    sqlite3 *db;

    snprintf(path, sizeof(path), "%s/mfa-commits-%ld-%d.db", dir,
             (long)getpid(), normal);
    snprintf(spec, sizeof(spec), "sqlite:%s%s", path,
             normal ? "?synchronous=normal" : "");
    if (mfa_store_create(&s, spec) != MFA_OK ||
        mfa_keyring_new(&kr) != MFA_OK ||
        mfa_keyring_generate(kr, &kid) != MFA_OK ||
        mfa_ctx_new(&ctx, s, kr) != MFA_OK ||
        mfa_ctx_set_throttle(ctx, &p) != MFA_OK) {
        printf("FAIL setup %s\n", mode);
        failed++;
        return;
    }
    mfa_ctx_set_clock(ctx, clock_fn, NULL);
    mfa_ctx_set_oob_sender(ctx, oob_send, NULL);
    db = mfa_int_store_sqlite_db(s);
    sqlite3_commit_hook(db, on_commit, NULL);

    FLOW(mode, "enroll_begin", MFA_OK, 1, sync1,
         mfa_enroll_begin(ctx, "alice", "phone", NULL, &e));
    if (e == NULL || mfa_uri_parse(mfa_enrollment_uri(e), &u, NULL) != MFA_OK ||
        mfa_uri_to_otp(u, &o) != MFA_OK) {
        printf("FAIL no enrollment\n");
        failed++;
        goto out;
    }
    code_at(o, clock_now, code, sizeof(code));
    FLOW(mode, "enroll_confirm", MFA_OK, 1, sync1,
         mfa_enroll_confirm(ctx, "alice", mfa_enrollment_factor_id(e), code,
                            &res));
    FLOW(mode, "account_has_mfa (read)", MFA_OK, 0, 0,
         mfa_account_has_mfa(ctx, "alice", &has));

    clock_now += 30;
    code_at(o, clock_now, code, sizeof(code));
    FLOW(mode, "verify right", MFA_OK, 1, sync1,
         mfa_verify(ctx, "alice", code, &res));
    FLOW(mode, "verify replay", MFA_ERR_REPLAYED, 1, sync1,
         mfa_verify(ctx, "alice", code, &res));
    clock_now += 30;
    wrong_code(o, clock_now, code, sizeof(code));
    FLOW(mode, "verify wrong", MFA_ERR_CODE_WRONG, 1, sync1,
         mfa_verify(ctx, "alice", code, &res));
    /* the third failure in a row (two are free) starts a delay */
    FLOW(mode, "verify wrong (sets a delay)", MFA_ERR_CODE_WRONG, 1, sync1,
         mfa_verify(ctx, "alice", code, &res));
    code_at(o, clock_now, code, sizeof(code));
    FLOW(mode, "verify throttled", MFA_ERR_THROTTLED, 1, sync1,
         mfa_verify(ctx, "alice", code, &res));
    clock_now += 7200;
    code_at(o, clock_now, code, sizeof(code));
    FLOW(mode, "verify right after a delay", MFA_OK, 1, sync1,
         mfa_verify(ctx, "alice", code, &res));

    FLOW(mode, "backup_codes_new", MFA_OK, 1, sync1,
         mfa_backup_codes_new(ctx, "alice", 0, &codes));
    ncodes = MFA_BACKUP_COUNT_DEFAULT; /* what n = 0 asked for */
    FLOW(mode, "backup_codes_left (read)", MFA_OK, 0, 0,
         mfa_backup_codes_left(ctx, "alice", &left));
    if (codes != NULL) {
        FLOW(mode, "recover right", MFA_OK, 1, sync1,
             mfa_recover(ctx, "alice", codes[0], &res));
        FLOW(mode, "recover spent code", MFA_ERR_CODE_WRONG, 1, sync1,
             mfa_recover(ctx, "alice", codes[0], &res));
        mfa_backup_codes_free(&codes, ncodes);
    }

    FLOW(mode, "oob_begin", MFA_OK, 1, sync1,
         mfa_oob_begin(ctx, "alice", "sms"));
    {
        char bad[32];
        snprintf(bad, sizeof(bad), "%s", oob_code);
        bad[0] = bad[0] == '9' ? '0' : (char)(bad[0] + 1);
        FLOW(mode, "oob_verify wrong", MFA_ERR_CODE_WRONG, 1, sync1,
             mfa_oob_verify(ctx, "alice", "sms", bad, &res));
    }
    FLOW(mode, "oob_verify right", MFA_OK, 1, sync1,
         mfa_oob_verify(ctx, "alice", "sms", oob_code, &res));

    /* below the service: a write transaction that wrote nothing */
    {
        const mfa_store_backend *be = mfa_store_backend_of(s);
        mfa_store_txn *t = NULL;
        mfa_throttle_rec r;
        mfa_rc rc;

        begin_count();
        rc = be->begin(mfa_store_impl_of(s), "alice", MFA_TXN_WRITE, &t);
        if (rc == MFA_OK) {
            (void)be->throttle_get(t, "alice", "", &r);
            rc = be->commit(t);
        }
        /* the commit hook sees the write transaction; no page, no sync */
        end_count(mode, "backend: write txn, no write", rc, MFA_OK, 1, 0);
    }
out:
    sqlite3_commit_hook(db, NULL, NULL);
    mfa_otp_free(&o);
    mfa_uri_free(&u);
    mfa_enrollment_free(&e);
    mfa_ctx_free(&ctx);
    mfa_store_free(&s);
    mfa_keyring_free(&kr);
    {
        char side[600];
        unlink(path);
        snprintf(side, sizeof(side), "%s-wal", path);
        unlink(side);
        snprintf(side, sizeof(side), "%s-shm", path);
        unlink(side);
    }
}

int
main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "/var/tmp";

    if (install_vfs() != 0) {
        fprintf(stderr, "cannot install the counting VFS\n");
        return EXIT_FAILURE;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("store files in %s\n", dir);
    printf("%-4s %-6s %-28s %-22s %7s %6s\n", "", "sync", "flow", "outcome",
           "commits", "syncs");
    run_mode(dir, 0);
    run_mode(dir, 1);
    /* tests/sqlite_commits_strace.sh compares this with the system calls */
    printf("syncs in all: %ld\n", atomic_load(&syncs));
    printf("%d passed, %d failed\n", passed, failed);
    sqlite3_vfs_unregister(&count_vfs);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
