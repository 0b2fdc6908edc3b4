/* libmfa store internals shared by the wrapper and the built-in backends;
 * never installed. */
#ifndef MFA_STORE_INT_H
#define MFA_STORE_INT_H

#include "config.h"

#include <mfa/store.h>

struct mfa_store {
    const mfa_store_ops *ops;
    void *impl;
};

/* The built-in backends' tables, for mfa_store_new. */
extern const mfa_store_ops mfa_int_memory_ops;

/*
 * True when s is a 16-character lowercase hex factor id.  Used by the
 * wrapper; exposed for the backends' own defensive checks.
 */
int mfa_int_store_id_ok(const char *s);

#if MFA_HAVE_SQLITE
struct sqlite3;
/*
 * The connection of a SQLite store, or NULL when s is not one.  For the
 * reliability tests only (fault injection such as max_page_count); the
 * caller must not use the store concurrently while it touches the handle.
 */
struct sqlite3 *mfa_int_store_sqlite_db(mfa_store_t *s);
/* Override the busy timeout (milliseconds); tests shorten the 5 s default. */
mfa_rc mfa_int_store_sqlite_set_timeout(mfa_store_t *s, int ms);
#endif

#endif
