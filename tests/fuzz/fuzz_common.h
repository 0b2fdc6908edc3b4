/*
 * Shared by the libFuzzer targets.
 *
 * Leak checking of guarded memory: sodium_malloc maps its own pages, which
 * LeakSanitizer does not track, so the targets are linked with
 * --wrap=sodium_malloc/--wrap=sodium_allocarray/--wrap=sodium_free and
 * every input must return the count of live guarded allocations to what it
 * was before (fuzz_guarded_check aborts otherwise).  Ordinary malloc leaks
 * are LeakSanitizer's job.
 */
#ifndef MFA_FUZZ_COMMON_H
#define MFA_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

void *__real_sodium_malloc(size_t size);
void *__real_sodium_allocarray(size_t count, size_t size);
void __real_sodium_free(void *ptr);
void *__wrap_sodium_malloc(size_t size);
void *__wrap_sodium_allocarray(size_t count, size_t size);
void __wrap_sodium_free(void *ptr);

static long fuzz_guarded_live;

void *
__wrap_sodium_malloc(size_t size)
{
    void *p = __real_sodium_malloc(size);
    if (p != NULL)
        fuzz_guarded_live++;
    return p;
}

void *
__wrap_sodium_allocarray(size_t count, size_t size)
{
    void *p = __real_sodium_allocarray(count, size);
    if (p != NULL)
        fuzz_guarded_live++;
    return p;
}

void
__wrap_sodium_free(void *ptr)
{
    if (ptr != NULL)
        fuzz_guarded_live--;
    __real_sodium_free(ptr);
}

/* Abort with a message: a broken invariant is a finding like a crash. */
#define FUZZ_ASSERT(cond)                                                      \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__,         \
                    __LINE__, #cond);                                          \
            abort();                                                           \
        }                                                                      \
    } while (0)

static inline long
fuzz_guarded_mark(void)
{
    return fuzz_guarded_live;
}

static inline void
fuzz_guarded_check(long mark)
{
    if (fuzz_guarded_live != mark) {
        fprintf(stderr,
                "guarded memory leak: %ld live allocations, %ld "
                "before the input\n",
                fuzz_guarded_live, mark);
        abort();
    }
}

/* A NUL-terminated copy of data (embedded NULs cut the string short, as
 * they would for any C caller). */
static inline char *
fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s == NULL)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

#endif /* MFA_FUZZ_COMMON_H */
