/*
 * The schema of every SQL store, written once (lib/store/schema.c) and
 * rendered for each dialect, so that SQLite and PostgreSQL cannot drift
 * apart.  docs/stores.md shows the tables.
 */
#ifndef MFA_SCHEMA_H
#define MFA_SCHEMA_H

#include <stddef.h>

typedef enum mfa_int_dialect {
    MFA_DIALECT_SQLITE = 0, /* tables mfa_NAME in the main database */
    MFA_DIALECT_POSTGRES,   /* tables NAME in the store's own schema */
} mfa_int_dialect;

/* Number of migration steps: step i takes version i to i + 1. */
int mfa_int_schema_steps(void);

/*
 * The SQL of step `from` (0 <= from < steps) for the dialect, several
 * statements separated by ';', as a malloc'ed string the caller frees.
 * For PostgreSQL every table is written "@.NAME": the backend substitutes
 * its quoted schema name for '@'.  NULL when out of memory or from is out
 * of range.
 */
char *mfa_int_schema_sql(mfa_int_dialect d, int from);

/* The tables of the current version, without prefix ("factor", ...),
 * NULL-terminated. */
extern const char *const mfa_int_schema_tables[];
/* How many of those (the first ones) a schema of `version` has; 0: all. */
int mfa_int_schema_ntables(int version);

#endif
