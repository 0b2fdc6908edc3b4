/*
 * The password step's throttle.  TODO(#14): libmfa's device-aware limiter
 * replaces this file.
 *
 * A counter exists only for an account that exists (the INSERT selects
 * from users), in users.db, and is never evicted: failed logins with
 * made-up names touch no row, so they cannot push a real account's
 * counter out.  The delay schedule is libmfa's (mfa_throttle_delay):
 * 5 free failures, then 30 s doubling to 15 minutes.
 */
#include "cp.h"

#include <pthread.h>
#include <string.h>

static const mfa_throttle_policy policy = {5, 30, 900};
static const char schema[] =
    "CREATE TABLE IF NOT EXISTS pw_throttle ("
    " name TEXT PRIMARY KEY REFERENCES users(name) ON DELETE CASCADE,"
    " failures INTEGER NOT NULL, until INTEGER NOT NULL)";

/* Check and count as one step, so that parallel guesses are all counted. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static int
run(sqlite3 *db, const char *sql, const char *name, int64_t a, int64_t b)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, a);
    sqlite3_bind_int64(st, 3, b);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    return rc;
}

int
cp_pw_begin(cp_users *u, const char *name, int64_t now, uint32_t *wait)
{
    sqlite3 *db = cp_users_db(u);
    sqlite3_stmt *st = NULL;
    int rc = -1;
    *wait = 0;
    pthread_mutex_lock(&lock);
    if (sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "SELECT failures, until FROM pw_throttle"
                           " WHERE name = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        goto out;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int s = sqlite3_step(st);
    int64_t failures = 0, until = 0;
    if (s == SQLITE_ROW) {
        failures = sqlite3_column_int64(st, 0);
        until = sqlite3_column_int64(st, 1);
    } else if (s != SQLITE_DONE) {
        goto out;
    }
    if (now < until) {
        *wait = (uint32_t)(until - now);
        rc = 0;
        goto out;
    }
    /* Counted now, cleared by cp_pw_passed: a guess counts as a failure
     * unless it turns out right.  No row appears for an unknown name. */
    failures++;
    int64_t next = now + mfa_throttle_delay(&policy, (uint32_t)failures);
    rc = run(db,
             "INSERT INTO pw_throttle(name, failures, until)"
             " SELECT name, ?2, ?3 FROM users WHERE name = ?1"
             " ON CONFLICT(name) DO UPDATE SET failures = excluded.failures,"
             " until = excluded.until",
             name, failures, next);
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&lock);
    return rc;
}

int
cp_pw_passed(cp_users *u, const char *name)
{
    pthread_mutex_lock(&lock);
    int rc = run(cp_users_db(u), "DELETE FROM pw_throttle WHERE name = ?1",
                 name, 0, 0);
    pthread_mutex_unlock(&lock);
    return rc;
}
