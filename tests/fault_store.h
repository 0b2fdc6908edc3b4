/*
 * A store backend for tests that wraps any store and fails one chosen call.
 * Every begin, row operation and commit counts as a call; the k-th call
 * after fault_store_arm returns the chosen error instead of reaching the
 * wrapped store (a failed commit rolls the wrapped transaction back, a
 * failed row operation leaves it open for the library to roll back, as an
 * engine error would).  rollback, close, schema_version and migrate are
 * passed through and not counted.
 */
#ifndef MFA_FAULT_STORE_H
#define MFA_FAULT_STORE_H

#include <mfa.h>
#include <mfa/store-backend.h>

typedef struct fault_store fault_store;

/*
 * A store over `inner`, which it owns from then on (freed with the outer
 * store); *fs gets the handle that arms faults, valid until the outer
 * store is freed.
 */
mfa_rc fault_store_wrap(mfa_store_t **out, mfa_store_t *inner,
                        fault_store **fs);
/* Fail the k-th counted call from now with err (k 0: never); counts anew. */
void fault_store_arm(fault_store *fs, unsigned k, mfa_rc err);
/* Counted calls since the last arm. */
unsigned fault_store_calls(const fault_store *fs);
/* Whether the armed fault has been injected. */
int fault_store_fired(const fault_store *fs);
/* The name of the call that was failed ("begin", "factor_list", ...). */
const char *fault_store_fired_at(const fault_store *fs);
/* The wrapped store (for reading it around the faults). */
mfa_store_t *fault_store_inner(const fault_store *fs);

#endif
