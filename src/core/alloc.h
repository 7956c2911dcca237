/* Every allocation of the library goes through these, so that size arithmetic is
 * checked in one place and a failure-injection hook can be added here. The
 * allocating functions set the last error on failure. */
#ifndef VX_ALLOC_H
#define VX_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* a*b, or false when it overflows size_t. */
static inline bool vx_mul_ok(size_t a, size_t b, size_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

/* Cache-line aligned (64 bytes) memory; n * size bytes, checked. NULL with
 * VINDEX_ERR_NOMEM recorded on failure or overflow. */
void *vx_alloc(size_t n, size_t size);
void *vx_calloc(size_t n, size_t size);
/* Resizes a vx_alloc'd block from old_n to new_n elements, keeping the prefix. */
void *vx_realloc(void *p, size_t old_n, size_t new_n, size_t size);
void vx_free(void *p);

/* Large arrays: like vx_alloc, and asks the kernel for huge pages. */
void *vx_alloc_big(size_t n, size_t size);

/* a*b, or SIZE_MAX when it overflows: for a size passed on to vx_alloc, which
 * then refuses it (vx_alloc(vx_mul_sat(count, dim), sizeof(float))). */
static inline size_t vx_mul_sat(size_t a, size_t b)
{
    size_t r;
    return __builtin_mul_overflow(a, b, &r) ? SIZE_MAX : r;
}

/* A budget for the calling thread's allocations until vx_alloc_budget_end
 * (limit 0: none): past it, allocations fail with VINDEX_ERR_NOMEM. Used
 * around reads (vindex_set_read_limit); _end says whether it refused any. */
void vx_alloc_budget_begin(size_t limit);
bool vx_alloc_budget_end(void);

/* Copies of strings, from vx_alloc (free with vx_free). */
char *vx_strdup(const char *s);
char *vx_strndup(const char *s, size_t n);

/* Test hook (tests/c/test_alloc_failure.c): the n-th allocation from now fails
 * as if memory ran out (NULL, VINDEX_ERR_NOMEM recorded); only that one, and
 * n <= 0 turns the hook off. vx_alloc_failures() says whether it has fired
 * since. Every allocation of the library goes through vx_alloc / vx_alloc_big
 * (never malloc), so this reaches every failure path. */
void vx_alloc_fail_at(long n);
long vx_alloc_failures(void);

#endif
