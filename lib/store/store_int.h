/* libmfa store internals shared by the generic layer and the built-in
 * backends; never installed. */
#ifndef MFA_STORE_INT_H
#define MFA_STORE_INT_H

#include "config.h"

#include <mfa/store-backend.h>
#include <mfa/store.h>

struct mfa_store {
    const mfa_store_backend *be;
    void *impl;
};

/* Times are Unix seconds from 0 to the end of year 9999. */
#define MFA_INT_TIME_MAX INT64_C(253402300799)

/* Record checks, applied by the generic layer to every record a backend
 * is given and to every record it returns (lib/store/store.c). */
mfa_rc mfa_int_factor_rec_check(const mfa_factor_rec *f);
mfa_rc mfa_int_throttle_rec_check(const mfa_throttle_rec *r);
mfa_rc mfa_int_oob_rec_check(const mfa_oob_challenge *c);
mfa_rc mfa_int_device_rec_check(const mfa_device_rec *d);
/* 1 for a device id: 16 lowercase hex digits. */
int mfa_int_device_id_ok(const char *id);
/* 1 for a throttle bucket name: "" or 1..MFA_BUCKET_MAX of [a-z0-9_-]. */
int mfa_int_bucket_ok(const char *b);

/* The built-in backends (lib/store/memory.c, sqlite.c, postgres.c). */
extern const mfa_store_backend mfa_int_memory_backend;
mfa_rc mfa_int_memory_connect(void **impl);

#if MFA_HAVE_SQLITE
typedef struct mfa_int_sqlite_opts {
    int create;      /* create the file (0600) when missing */
    int sync_normal; /* PRAGMA synchronous=NORMAL instead of FULL */
} mfa_int_sqlite_opts;
extern const mfa_store_backend mfa_int_sqlite_backend;
/* MFA_ERR_NO_STORE when the file is missing and create is 0. */
mfa_rc mfa_int_sqlite_connect(void **impl, const char *path,
                              const mfa_int_sqlite_opts *opts);
struct sqlite3;
/*
 * The connection of a SQLite store, or NULL when s is not one.  For the
 * reliability tests only (fault injection such as max_page_count, commit
 * hooks); the caller must not use the store concurrently meanwhile.
 */
struct sqlite3 *mfa_int_store_sqlite_db(mfa_store_t *s);
/* Override the busy timeout (milliseconds); tests shorten the 5 s default. */
mfa_rc mfa_int_store_sqlite_set_timeout(mfa_store_t *s, int ms);
#endif

#if MFA_HAVE_POSTGRES
extern const mfa_store_backend mfa_int_postgres_backend;
/* MFA_ERR_STORE when the server cannot be reached. */
mfa_rc mfa_int_postgres_connect(void **impl, const char *conninfo,
                                const char *schema);
#endif

#endif
