/*
 * Opening and creating stores.  Opening never creates: a missing SQLite
 * file, a database without libmfa's tables, or an older schema is an error
 * of its own, so that a moved, mistyped or lost store can never read as
 * "this account has no MFA".  Creating (and upgrading) is mfa_store_create,
 * called by deployment scripts and `mfa migrate`.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <mfa/store-backend.h>
#include <mfa/store.h>

#include "internal.h"
#include "store_int.h"

/* Wrap impl and check (open) or create/upgrade (create) its schema. */
static mfa_rc
finish_open(mfa_store_t **out, const mfa_store_backend *be, void *impl,
            int create)
{
    mfa_store_t *s = NULL;
    mfa_rc rc = mfa_store_new(&s, be, impl);

    if (rc != MFA_OK)
        return rc;
    rc = create ? mfa_store_migrate(s) : mfa_store_check(s);
    if (rc != MFA_OK) {
        mfa_store_free(&s);
        return rc;
    }
    *out = s;
    return MFA_OK;
}

static mfa_rc
memory_open(mfa_store_t **out)
{
    void *impl = NULL;
    mfa_rc rc;

    if (mfa_int_init() != MFA_OK)
        return MFA_ERR_INTERNAL;
    if ((rc = mfa_int_memory_connect(&impl)) != MFA_OK)
        return rc;
    return finish_open(out, &mfa_int_memory_backend, impl, 1);
}

mfa_rc
mfa_store_memory_new(mfa_store_t **out)
{
    if (out == NULL)
        return MFA_ERR_INVALID;
    *out = NULL;
    return memory_open(out);
}

/*
 * "PATH" or "PATH?synchronous=full|normal".  The option part is split off
 * into opts; *path gets a malloc'ed copy of the path.
 */
#if MFA_HAVE_SQLITE
static mfa_rc
sqlite_spec(const char *spec, char **path, mfa_int_sqlite_opts *opts)
{
    const char *q = strchr(spec, '?');
    size_t n = q != NULL ? (size_t)(q - spec) : strlen(spec);

    *path = NULL;
    if (n == 0)
        return MFA_ERR_INVALID;
    if (q != NULL) {
        if (strcmp(q + 1, "synchronous=normal") == 0)
            opts->sync_normal = 1;
        else if (strcmp(q + 1, "synchronous=full") == 0)
            opts->sync_normal = 0;
        else
            return MFA_ERR_INVALID; /* an option we do not know */
    }
    if ((*path = malloc(n + 1)) == NULL)
        return MFA_ERR_NOMEM;
    memcpy(*path, spec, n);
    (*path)[n] = '\0';
    return MFA_OK;
}

static mfa_rc
sqlite_open(mfa_store_t **out, const char *path, const mfa_int_sqlite_opts *o)
{
    void *impl = NULL;
    mfa_rc rc;

    if (mfa_int_init() != MFA_OK)
        return MFA_ERR_INTERNAL;
    if ((rc = mfa_int_sqlite_connect(&impl, path, o)) != MFA_OK)
        return rc;
    return finish_open(out, &mfa_int_sqlite_backend, impl, o->create);
}
#endif

mfa_rc
mfa_store_sqlite_open(mfa_store_t **out, const char *path)
{
    if (out == NULL)
        return MFA_ERR_INVALID;
    *out = NULL;
    if (path == NULL || path[0] == '\0')
        return MFA_ERR_INVALID;
#if MFA_HAVE_SQLITE
    {
        mfa_int_sqlite_opts o = {0, 0};
        return sqlite_open(out, path, &o);
    }
#else
    return MFA_ERR_UNSUPPORTED;
#endif
}

#if MFA_HAVE_POSTGRES
static mfa_rc
postgres_open(mfa_store_t **out, const char *conninfo, const char *schema,
              int create)
{
    void *impl = NULL;
    mfa_rc rc;

    if (mfa_int_init() != MFA_OK)
        return MFA_ERR_INTERNAL;
    if ((rc = mfa_int_postgres_connect(&impl, conninfo, schema)) != MFA_OK)
        return rc;
    return finish_open(out, &mfa_int_postgres_backend, impl, create);
}
#endif

/* The public PostgreSQL entry points: arguments, then open or create. */
static mfa_rc
postgres_entry(mfa_store_t **out, const char *conninfo, const char *schema,
               int create)
{
    if (out == NULL)
        return MFA_ERR_INVALID;
    *out = NULL;
    if (conninfo == NULL)
        return MFA_ERR_INVALID;
#if MFA_HAVE_POSTGRES
    return postgres_open(out, conninfo, schema, create);
#else
    (void)schema;
    (void)create;
    return MFA_ERR_UNSUPPORTED;
#endif
}

mfa_rc
mfa_store_postgres_open(mfa_store_t **out, const char *conninfo,
                        const char *schema)
{
    return postgres_entry(out, conninfo, schema, 0);
}

mfa_rc
mfa_store_postgres_create(mfa_store_t **out, const char *conninfo,
                          const char *schema)
{
    return postgres_entry(out, conninfo, schema, 1);
}

static mfa_rc
open_spec(mfa_store_t **out, const char *spec, int create)
{
    if (out == NULL)
        return MFA_ERR_INVALID;
    *out = NULL;
    if (spec == NULL)
        return MFA_ERR_INVALID;
    if (strcmp(spec, "memory:") == 0)
        return create ? memory_open(out) : MFA_ERR_NO_STORE;
    if (strncmp(spec, "sqlite:", 7) == 0) {
#if MFA_HAVE_SQLITE
        mfa_int_sqlite_opts o = {create, 0};
        char *path = NULL;
        mfa_rc rc = sqlite_spec(spec + 7, &path, &o);

        if (rc == MFA_OK)
            rc = sqlite_open(out, path, &o);
        free(path);
        return rc;
#else
        return MFA_ERR_UNSUPPORTED;
#endif
    }
    if (strncmp(spec, "postgres:", 9) == 0) {
#if MFA_HAVE_POSTGRES
        return postgres_open(out, spec + 9, NULL, create);
#else
        return MFA_ERR_UNSUPPORTED;
#endif
    }
    return MFA_ERR_INVALID;
}

mfa_rc
mfa_store_open(mfa_store_t **out, const char *spec)
{
    return open_spec(out, spec, 0);
}

mfa_rc
mfa_store_create(mfa_store_t **out, const char *spec)
{
    return open_spec(out, spec, 1);
}
