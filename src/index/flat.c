/*
 * IndexFlat: exact search over vectors stored contiguously, in insertion order.
 * Labels are positions. For L2 the squared norm of every stored vector is kept
 * beside it, so that batched searches through BLAS need not recompute them.
 */
#include "flat.h"

#include <stdbool.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../simd/kernels.h"
#include "brute.h"
#include "index.h"

typedef struct flat {
    vindex base;
    float *vectors; /* cap x d */
    float *norms;   /* cap; L2 only */
    size_t cap;
    bool borrowed; /* vectors belong to the caller (vx_flat_borrow) */
} flat;

static const vx_index_ops flat_ops;
static void flat_reset(vindex *ix);

const float *vx_flat_vectors(const vindex *ix)
{
    return ix && ix->ops == &flat_ops ? ((const flat *)ix)->vectors : NULL;
}

/* Grows storage to hold `need` vectors; leaves the index as it was on failure. */
static vindex_status reserve(flat *f, size_t need)
{
    if (need <= f->cap)
        return VINDEX_OK;
    size_t d = (size_t)f->base.d;
    size_t cap = f->cap * 2 > need ? f->cap * 2 : need;
    size_t elems;
    if (!vx_mul_ok(cap, d, &elems))
        return vx_fail(VINDEX_ERR_NOMEM, "add: %zu vectors of dimension %zu overflow", cap, d);
    float *vectors = vx_alloc_big(elems, sizeof(float));
    float *norms = f->base.metric == VINDEX_METRIC_L2 ? vx_alloc(cap, sizeof(float)) : NULL;
    if (!vectors || (f->base.metric == VINDEX_METRIC_L2 && !norms)) {
        vx_free(vectors);
        vx_free(norms);
        return vx_fail(VINDEX_ERR_NOMEM, "add: out of memory for %zu vectors of dimension %zu",
                       cap, d);
    }
    size_t n = (size_t)f->base.ntotal;
    if (n) {
        memcpy(vectors, f->vectors, n * d * sizeof(float));
        if (norms)
            memcpy(norms, f->norms, n * sizeof(float));
    }
    vx_free(f->vectors);
    vx_free(f->norms);
    f->vectors = vectors;
    f->norms = norms;
    f->cap = cap;
    return VINDEX_OK;
}

void vx_flat_borrow(vindex *ix, const float *vectors, size_t n)
{
    flat *f = (flat *)ix;
    flat_reset(ix);
    if (vectors) {
        f->vectors = (float *)vectors; /* never written through: add refuses borrowed views */
        f->borrowed = true;
        ix->ntotal = (int64_t)n;
    }
}

static vindex_status flat_add(vindex *ix, size_t n, const float *x, const vindex_id *ids)
{
    (void)ids; /* never set: IndexFlat does not support ids */
    flat *f = (flat *)ix;
    size_t d = (size_t)ix->d, at = (size_t)ix->ntotal;
    if (f->borrowed)
        return vx_index_unsupported(ix, "add to a borrowed view");
    vindex_status st = reserve(f, at + n);
    if (st)
        return st;
    memcpy(f->vectors + at * d, x, n * d * sizeof(float));
    if (f->norms)
        vx_norms_sqr(f->norms + at, x, d, n);
    ix->ntotal += (int64_t)n;
    return VINDEX_OK;
}

static vx_brute brute_of(const flat *f, const vindex_search_params *p)
{
    vx_brute b = {f->vectors, (size_t)f->base.ntotal, f->base.d, f->base.metric, f->norms,
                  p ? p->sel : NULL};
    return b;
}

static vindex_status flat_search(const vindex *ix, size_t nq, const float *q, size_t k,
                                 const vindex_search_params *p, float *distances,
                                 vindex_id *labels)
{
    vx_brute b = brute_of((const flat *)ix, p);
    return vx_brute_knn(&b, nq, q, k, distances, labels);
}

static vindex_status flat_range_search(const vindex *ix, size_t nq, const float *q, float radius,
                                       const vindex_search_params *p, vx_range_list *lists)
{
    vx_brute b = brute_of((const flat *)ix, p);
    return vx_brute_range(&b, nq, q, radius, lists);
}

static vindex_status flat_reconstruct(const vindex *ix, vindex_id id, float *out)
{
    const flat *f = (const flat *)ix;
    if (id < 0 || id >= ix->ntotal)
        return vx_fail(VINDEX_ERR_NOT_FOUND, "reconstruct: id %lld is not in the index (0..%lld)",
                       (long long)id, (long long)ix->ntotal - 1);
    memcpy(out, f->vectors + (size_t)id * (size_t)ix->d, (size_t)ix->d * sizeof(float));
    return VINDEX_OK;
}

/* Compacts in place, keeping order: the vectors after a removed one move down
 * and their labels (positions) with them, as in Faiss. */
static vindex_status flat_remove_ids(vindex *ix, const vindex_selector *sel, size_t *n_removed)
{
    flat *f = (flat *)ix;
    size_t d = (size_t)ix->d, n = (size_t)ix->ntotal, kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (vindex_selector_contains(sel, (vindex_id)i))
            continue;
        if (kept != i) {
            memmove(f->vectors + kept * d, f->vectors + i * d, d * sizeof(float));
            if (f->norms)
                f->norms[kept] = f->norms[i];
        }
        kept++;
    }
    *n_removed = n - kept;
    ix->ntotal = (int64_t)kept;
    return VINDEX_OK;
}

static void flat_reset(vindex *ix)
{
    flat *f = (flat *)ix;
    if (!f->borrowed) {
        vx_free(f->vectors);
        vx_free(f->norms);
    }
    f->borrowed = false;
    f->vectors = f->norms = NULL;
    f->cap = 0;
    ix->ntotal = 0;
}

static void flat_destroy(vindex *ix)
{
    flat_reset(ix);
    vx_free(ix);
}

static size_t flat_memory(const vindex *ix)
{
    const flat *f = (const flat *)ix;
    return sizeof *f + f->cap * (size_t)ix->d * sizeof(float) + (f->norms ? f->cap * sizeof(float) : 0);
}

static const vx_index_ops flat_ops = {
    .type_name = "IndexFlat",
    .add = flat_add,
    .search = flat_search,
    .range_search = flat_range_search,
    .reconstruct = flat_reconstruct,
    .remove_ids = flat_remove_ids,
    .reset = flat_reset,
    .destroy = flat_destroy,
    .memory_bytes = flat_memory,
};

VINDEX_API vindex_status vindex_flat_new(vindex **out, int d, vindex_metric metric)
{
    vx_clear_error();
    vindex_status st = vx_check_new_args(out, d, metric, "IndexFlat");
    if (st)
        return st;
    flat *f = vx_calloc(1, sizeof *f);
    if (!f)
        return VINDEX_ERR_NOMEM;
    vx_index_init(&f->base, &flat_ops, d, metric, true);
    *out = &f->base;
    return VINDEX_OK;
}
