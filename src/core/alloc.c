#include "alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "error.h"

enum { VX_ALIGN = 64, VX_HUGE_PAGE = 2u << 20 };

/* The failure-injection hook (alloc.h): allocations counted since the last
 * vx_alloc_fail_at, and the one to fail (0: none). Relaxed atomics: tests that
 * need a reproducible count run with one thread. */
static atomic_long alloc_count, alloc_fail_at, alloc_failed;

void vx_alloc_fail_at(long n)
{
    atomic_store_explicit(&alloc_count, 0, memory_order_relaxed);
    atomic_store_explicit(&alloc_failed, 0, memory_order_relaxed);
    atomic_store_explicit(&alloc_fail_at, n > 0 ? n : 0, memory_order_relaxed);
}

long vx_alloc_failures(void) { return atomic_load_explicit(&alloc_failed, memory_order_relaxed); }

/* The read budget (vx_alloc_budget_begin): this thread's allocations count
 * against it while it is on. */
static _Thread_local bool budget_on, budget_hit;
static _Thread_local size_t budget_left;

void vx_alloc_budget_begin(size_t limit)
{
    budget_on = limit > 0;
    budget_hit = false;
    budget_left = limit;
}

bool vx_alloc_budget_end(void)
{
    budget_on = false;
    return budget_hit;
}

static bool over_budget(size_t bytes)
{
    if (!budget_on)
        return false;
    if (bytes > budget_left) {
        budget_hit = true;
        vx_fail(VINDEX_ERR_NOMEM, "allocation of %zu bytes refused by the read limit", bytes);
        return true;
    }
    budget_left -= bytes;
    return false;
}

/* Whether this allocation is the one to fail; records the failure. */
static bool injected_failure(size_t bytes)
{
    long at = atomic_load_explicit(&alloc_fail_at, memory_order_relaxed);
    if (at == 0)
        return false;
    if (atomic_fetch_add_explicit(&alloc_count, 1, memory_order_relaxed) + 1 != at)
        return false;
    atomic_fetch_add_explicit(&alloc_failed, 1, memory_order_relaxed);
    vx_fail(VINDEX_ERR_NOMEM, "out of memory allocating %zu bytes (injected failure %ld)", bytes,
            at);
    return true;
}

void *vx_alloc(size_t n, size_t size)
{
    size_t bytes;
    if (!vx_mul_ok(n, size, &bytes) || bytes > (SIZE_MAX >> 1)) {
        vx_fail(VINDEX_ERR_NOMEM, "allocation of %zu x %zu bytes overflows", n, size);
        return NULL;
    }
    /* aligned_alloc wants a multiple of the alignment; never ask for 0 bytes. */
    if (injected_failure(bytes) || over_budget(bytes))
        return NULL;
    size_t rounded = (bytes + VX_ALIGN - 1) / VX_ALIGN * VX_ALIGN;
    if (rounded == 0)
        rounded = VX_ALIGN;
    void *p = aligned_alloc(VX_ALIGN, rounded);
    if (!p)
        vx_fail(VINDEX_ERR_NOMEM, "out of memory allocating %zu bytes", bytes);
    return p;
}

void *vx_calloc(size_t n, size_t size)
{
    void *p = vx_alloc(n, size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

void *vx_realloc(void *p, size_t old_n, size_t new_n, size_t size)
{
    void *q = vx_alloc(new_n, size);
    if (!q)
        return NULL;
    if (p) {
        memcpy(q, p, (old_n < new_n ? old_n : new_n) * size);
        free(p);
    }
    return q;
}

void vx_free(void *p) { free(p); }

void *vx_alloc_big(size_t n, size_t size)
{
    size_t bytes;
    if (!vx_mul_ok(n, size, &bytes) || bytes < VX_HUGE_PAGE)
        return vx_alloc(n, size);
    if (bytes > (SIZE_MAX >> 1)) {
        vx_fail(VINDEX_ERR_NOMEM, "allocation of %zu x %zu bytes overflows", n, size);
        return NULL;
    }
    /* Aligned to a huge page and rounded up to whole ones, so that the kernel can
     * back it with 2 MiB pages: streaming and random access into big vector and
     * graph arrays costs less with fewer TLB misses. The hint is ignored where
     * unsupported. */
    if (injected_failure(bytes) || over_budget(bytes))
        return NULL;
    size_t rounded = (bytes + VX_HUGE_PAGE - 1) / VX_HUGE_PAGE * VX_HUGE_PAGE;
    void *p = aligned_alloc(VX_HUGE_PAGE, rounded);
    if (!p) {
        vx_fail(VINDEX_ERR_NOMEM, "out of memory allocating %zu bytes", bytes);
        return NULL;
    }
#ifdef MADV_HUGEPAGE
    madvise(p, rounded, MADV_HUGEPAGE);
#endif
    return p;
}

char *vx_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = vx_alloc(n, 1);
    if (p)
        memcpy(p, s, n);
    return p;
}

char *vx_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = vx_alloc(len + 1, 1);
    if (p) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}
