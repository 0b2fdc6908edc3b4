/*
 * The store conformance suite: every backend must pass it unchanged.
 * A backend's test program calls mfa_conformance_suite with a function that
 * opens a fresh, empty, migrated store (and a cleanup), and runs the suite.
 */
#ifndef MFA_STORE_CONFORMANCE_H
#define MFA_STORE_CONFORMANCE_H

#include <check.h>

#include <mfa.h>

typedef struct mfa_conformance_backend {
    const char *name;
    /* Open a fresh, empty, migrated store; called once per test. */
    mfa_rc (*open)(mfa_store_t **out, void *arg);
    /* Open a second handle on the same data as the last open (another
     * connection), or NULL when the backend has no such notion (memory). */
    mfa_rc (*open_again)(mfa_store_t **out, void *arg);
    void *arg;
} mfa_conformance_backend;

/* The suite, named after the backend.  `b` must outlive the run. */
Suite *mfa_conformance_suite(const mfa_conformance_backend *b);

#endif
