/*
 * Declassification points for the constant-time test (tests/ct).
 *
 * The ctgrind test marks keys, expected codes and hashes as undefined
 * memory; memcheck then reports every branch and memory index that depends
 * on them.  A verification must in the end decide, so its verdict (and the
 * facts it reports: the matched step, a secret's length, whether a base32
 * text was valid) is made public on purpose with MFA_CT_PUBLIC right before
 * it is branched on.  Each call is a reviewed statement "this value may
 * leak"; everything computed before it must not.
 *
 * Outside the test build (-DMFA_CT_VALGRIND) the macro is empty.
 */
#ifndef MFA_CT_H
#define MFA_CT_H

#ifdef MFA_CT_VALGRIND
#include <valgrind/memcheck.h>
#define MFA_CT_PUBLIC(x) ((void)VALGRIND_MAKE_MEM_DEFINED(&(x), sizeof(x)))
#else
#define MFA_CT_PUBLIC(x) ((void)0)
#endif

#endif /* MFA_CT_H */
