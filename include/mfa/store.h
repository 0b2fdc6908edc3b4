/*
 * libmfa: stores, as an application sees them.
 *
 * A store keeps the data of DESIGN.md (factors, backup codes, throttle
 * state, out-of-band challenges).  Built-in backends: memory, SQLite (the
 * embedded default) and PostgreSQL (the engine for many servers).  An
 * application opens one, hands it to mfa_ctx_new and frees it after the
 * ctx; every read and write of its data goes through the service layer
 * (<mfa/service.h>), which runs each flow as one transaction.  Writing a
 * backend of your own: <mfa/store-backend.h>.
 *
 * Opening never creates: a missing SQLite file is MFA_ERR_NO_STORE, a
 * database without libmfa's tables MFA_ERR_NO_SCHEMA, an older schema
 * MFA_ERR_SCHEMA_OLD, a newer one MFA_ERR_SCHEMA.  A store is created or
 * upgraded only by an explicit mfa_store_create (or `mfa migrate`), so a
 * moved, mistyped or lost database can never read as "nobody has MFA".
 *
 * Threads: one mfa_store_t may be shared by every thread of a process
 * (each flow is a transaction of its own); open, create and free are not
 * concurrent with other calls on the same handle.  Processes open their
 * own handles (after fork(), the child opens its stores anew).
 */
#ifndef MFA_STORE_H
#define MFA_STORE_H

#include <mfa/err.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MFA_FACTOR_ID_LEN 16 /* lowercase hex of 8 random bytes */
#define MFA_LABEL_MAX 64     /* device name, bytes of UTF-8 */
#define MFA_SCHEMA_VERSION 4 /* schema this library reads and writes */

typedef enum mfa_factor_status {
    MFA_FACTOR_PENDING = 0, /* enrolled, waiting for the first code */
    MFA_FACTOR_ACTIVE = 1,
} mfa_factor_status;

typedef struct mfa_store mfa_store_t;

/*
 * Open an existing store by specification:
 *   "sqlite:PATH"                 a SQLite file (WAL, synchronous=FULL)
 *   "sqlite:PATH?synchronous=normal"
 *                                 the same with synchronous=NORMAL: a
 *                                 commit is durable once the next
 *                                 checkpoint has run, so a power cut may
 *                                 undo the last accepted codes (replayable
 *                                 again); docs/stores.md weighs it
 *   "postgres:CONNINFO"           a libpq connection string, tables in the
 *                                 schema "mfa" (",schema=NAME" is not a
 *                                 libpq option: use mfa_store_postgres_open)
 * "memory:" is refused here (MFA_ERR_NO_STORE): a memory store exists only
 * once created, by mfa_store_create or mfa_store_memory_new.
 * MFA_ERR_UNSUPPORTED for a backend not built in, MFA_ERR_INVALID for an
 * unknown prefix or option.
 */
MFA_API mfa_rc mfa_store_open(mfa_store_t **out,
                              const char *spec) MFA_WARN_UNUSED;
/*
 * Create the store when it is missing (a SQLite file, created 0600; its
 * directory must exist), create or upgrade its schema, and open it.  For
 * deployment scripts and `mfa migrate`, not for every start of a server.
 */
MFA_API mfa_rc mfa_store_create(mfa_store_t **out,
                                const char *spec) MFA_WARN_UNUSED;

/* A thread-safe store in this process's memory, new and empty. */
MFA_API mfa_rc mfa_store_memory_new(mfa_store_t **out) MFA_WARN_UNUSED;
/*
 * An existing SQLite database file, in WAL mode with a busy timeout; safe
 * for several threads and processes.  MFA_ERR_UNSUPPORTED when built
 * without SQLite.
 */
MFA_API mfa_rc mfa_store_sqlite_open(mfa_store_t **out,
                                     const char *path) MFA_WARN_UNUSED;
/*
 * A PostgreSQL database by libpq connection string, tables in schema
 * `schema` (NULL: "mfa").  MFA_ERR_UNSUPPORTED when built without libpq.
 */
MFA_API mfa_rc mfa_store_postgres_open(mfa_store_t **out, const char *conninfo,
                                       const char *schema) MFA_WARN_UNUSED;

/* The same, creating or upgrading the schema (mfa_store_create). */
MFA_API mfa_rc mfa_store_postgres_create(mfa_store_t **out,
                                         const char *conninfo,
                                         const char *schema) MFA_WARN_UNUSED;

/* Close and free; NULL is fine. */
MFA_API void mfa_store_free(mfa_store_t **s);

/* "memory", "sqlite", "postgres" or a third-party backend's name. */
MFA_API const char *mfa_store_name(const mfa_store_t *s);
/* Create or upgrade the schema of an open store; idempotent. */
MFA_API mfa_rc mfa_store_migrate(mfa_store_t *s) MFA_WARN_UNUSED;
/* The stored schema version (0: none). */
MFA_API mfa_rc mfa_store_schema_version(mfa_store_t *s,
                                        int *version) MFA_WARN_UNUSED;
/*
 * MFA_OK when the store holds the schema this library needs; otherwise
 * MFA_ERR_NO_SCHEMA, MFA_ERR_SCHEMA_OLD, MFA_ERR_SCHEMA or a store error.
 * The built-in open functions call it; call it after mfa_store_new.
 */
MFA_API mfa_rc mfa_store_check(mfa_store_t *s) MFA_WARN_UNUSED;

#ifdef __cplusplus
}
#endif

#endif /* MFA_STORE_H */
