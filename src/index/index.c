/* The common header and unchecked dispatch used by composite indexes. */
#include "index.h"

#include <math.h>

#include "../core/error.h"

void vx_index_init(vindex *ix, const vx_index_ops *ops, int d, vindex_metric metric,
                   bool is_trained)
{
    ix->ops = ops;
    ix->d = d;
    ix->metric = metric;
    ix->ntotal = 0;
    ix->is_trained = is_trained;
    /* Writers first: a steady stream of searches must not starve an add. */
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&ix->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
}

/* The lock is the one member a reader changes; the index stays logically const. */
static pthread_rwlock_t *lock_of(const vindex *ix) { return (pthread_rwlock_t *)&ix->lock; }

void vx_index_lock_shared(const vindex *ix) { pthread_rwlock_rdlock(lock_of(ix)); }
void vx_index_lock_exclusive(vindex *ix) { pthread_rwlock_wrlock(&ix->lock); }
void vx_index_unlock(const vindex *ix) { pthread_rwlock_unlock(lock_of(ix)); }

void vx_index_lock_pair(vindex *a, vindex *b)
{
    if (a == b) {
        vx_index_lock_exclusive(a);
        return;
    }
    vindex *first = (uintptr_t)a < (uintptr_t)b ? a : b;
    vx_index_lock_exclusive(first);
    vx_index_lock_exclusive(first == a ? b : a);
}

void vx_index_unlock_pair(vindex *a, vindex *b)
{
    vx_index_unlock(a);
    if (b != a)
        vx_index_unlock(b);
}

vindex_status vx_index_unsupported(const vindex *ix, const char *op)
{
    return vx_fail(VINDEX_ERR_UNSUPPORTED, "%s: not supported by %s", op, ix->ops->type_name);
}

vindex_status vx_index_train(vindex *ix, size_t n, const float *x)
{
    if (!ix->ops->train)
        return VINDEX_OK; /* nothing to learn, as Faiss's IndexFlat */
    return ix->ops->train(ix, n, x);
}

vindex_status vx_index_add(vindex *ix, size_t n, const float *x, const vindex_id *ids)
{
    if (!ix->ops->add)
        return vx_index_unsupported(ix, "add");
    return ix->ops->add(ix, n, x, ids);
}

vindex_status vx_index_search(const vindex *ix, size_t nq, const float *q, size_t k,
                              const vindex_search_params *p, float *distances, vindex_id *labels)
{
    if (!ix->ops->search)
        return vx_index_unsupported(ix, "search");
    return ix->ops->search(ix, nq, q, k, p, distances, labels);
}

vindex_status vx_index_range_search(const vindex *ix, size_t nq, const float *q, float radius,
                                    const vindex_search_params *p, vx_range_list *lists)
{
    if (!ix->ops->range_search)
        return vx_index_unsupported(ix, "range_search");
    return ix->ops->range_search(ix, nq, q, radius, p, lists);
}

vindex_status vx_index_reconstruct(const vindex *ix, vindex_id id, float *out)
{
    if (!ix->ops->reconstruct)
        return vx_index_unsupported(ix, "reconstruct");
    return ix->ops->reconstruct(ix, id, out);
}

vindex_status vx_index_remove_ids(vindex *ix, const vindex_selector *sel, size_t *n_removed)
{
    if (!ix->ops->remove_ids)
        return vx_index_unsupported(ix, "remove_ids");
    return ix->ops->remove_ids(ix, sel, n_removed);
}

void vx_fill_empty_results(size_t nq, size_t k, vindex_metric metric, float *distances,
                           vindex_id *labels)
{
    float pad = metric == VINDEX_METRIC_L2 ? INFINITY : -INFINITY;
    for (size_t i = 0; i < nq * k; i++) {
        distances[i] = pad;
        labels[i] = -1;
    }
}

vindex_status vx_check_new_args(vindex **out, int d, vindex_metric metric, const char *what)
{
    if (!out)
        return vx_fail(VINDEX_ERR_INVALID, "%s: out is NULL", what);
    *out = NULL;
    if (d <= 0)
        return vx_fail(VINDEX_ERR_INVALID, "%s: dimension %d must be positive", what, d);
    if (metric != VINDEX_METRIC_L2 && metric != VINDEX_METRIC_INNER_PRODUCT)
        return vx_fail(VINDEX_ERR_INVALID, "%s: unknown metric %d", what, (int)metric);
    return VINDEX_OK;
}
