/*
 * The public operations: every argument is checked here, once, with a message
 * that names the problem; then the call goes to the family's ops. Families can
 * therefore assume valid input (see index.h).
 */
#include <math.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "index.h"

/* ---- shared checks ------------------------------------------------------ */

static vindex_status check_index(const vindex *ix, const char *op)
{
    if (!ix)
        return vx_fail(VINDEX_ERR_INVALID, "%s: index is NULL", op);
    return VINDEX_OK;
}

/* The first non-finite value of n vectors, or false. Branch-free over each
 * vector so that the common (all finite) case runs at memory speed. */
static bool find_non_finite(size_t n, size_t d, const float *x, size_t *row, size_t *col)
{
    for (size_t i = 0; i < n; i++) {
        const uint32_t *bits = (const uint32_t *)(const void *)(x + i * d);
        uint32_t bad = 0;
        for (size_t j = 0; j < d; j++)
            bad |= ((bits[j] & 0x7f800000u) == 0x7f800000u);
        if (bad) {
            for (size_t j = 0; j < d; j++)
                if (!isfinite(x[i * d + j])) {
                    *row = i;
                    *col = j;
                    return true;
                }
        }
    }
    return false;
}

vindex_status vx_check_vectors(int d, const char *op, const char *what, size_t n, const float *x)
{
    size_t elems, bytes;
    if (!vx_mul_ok(n, (size_t)d, &elems) || !vx_mul_ok(elems, sizeof(float), &bytes) ||
        bytes > (SIZE_MAX >> 1))
        return vx_fail(VINDEX_ERR_INVALID, "%s: %zu %s of dimension %d overflow the address space",
                       op, n, what, d);
    if (n > 0 && !x)
        return vx_fail(VINDEX_ERR_INVALID, "%s: %s pointer is NULL", op, what);
    size_t row, col;
    if (find_non_finite(n, (size_t)d, x, &row, &col))
        return vx_fail(VINDEX_ERR_INVALID, "%s: %s %zu has a NaN or infinite value at component %zu",
                       op, what, row, col);
    return VINDEX_OK;
}

static vindex_status check_vectors(const vindex *ix, const char *op, const char *what, size_t n,
                                   const float *x)
{
    return vx_check_vectors(ix->d, op, what, n, x);
}

static vindex_status check_params(const vindex_search_params *p, const char *op)
{
    if (!p)
        return VINDEX_OK;
    if (p->nprobe < 0)
        return vx_fail(VINDEX_ERR_INVALID, "%s: nprobe %d must be positive", op, p->nprobe);
    if (p->ef_search < 0)
        return vx_fail(VINDEX_ERR_INVALID, "%s: efSearch %d must be positive", op, p->ef_search);
    if (!(p->k_factor >= 0) || isinf(p->k_factor))
        return vx_fail(VINDEX_ERR_INVALID, "%s: k_factor %g must be a positive number", op,
                       (double)p->k_factor);
    return VINDEX_OK;
}

static vindex_status check_trained(const vindex *ix, const char *op)
{
    if (!ix->is_trained)
        return vx_fail(VINDEX_ERR_NOT_TRAINED, "%s: %s is not trained; call train() first", op,
                       ix->ops->type_name);
    return VINDEX_OK;
}

/* ---- properties --------------------------------------------------------- */

VINDEX_API void vindex_free(vindex *ix)
{
    if (ix) {
        pthread_rwlock_destroy(&ix->lock);
        ix->ops->destroy(ix);
    }
}

/* d, metric and the type never change after construction; what add, train and
 * reset change is read under the shared lock. */
VINDEX_API int vindex_d(const vindex *ix) { return ix ? ix->d : 0; }
VINDEX_API int64_t vindex_ntotal(const vindex *ix)
{
    if (!ix)
        return 0;
    vx_index_lock_shared(ix);
    int64_t n = ix->ntotal;
    vx_index_unlock(ix);
    return n;
}
VINDEX_API vindex_metric vindex_metric_type(const vindex *ix)
{
    return ix ? ix->metric : VINDEX_METRIC_L2;
}
VINDEX_API int vindex_is_trained(const vindex *ix)
{
    if (!ix)
        return 0;
    vx_index_lock_shared(ix);
    int trained = ix->is_trained;
    vx_index_unlock(ix);
    return trained;
}
VINDEX_API const char *vindex_type_name(const vindex *ix)
{
    return ix ? ix->ops->type_name : "";
}
VINDEX_API size_t vindex_memory_bytes(const vindex *ix)
{
    if (!ix || !ix->ops->memory_bytes)
        return 0;
    vx_index_lock_shared(ix);
    size_t bytes = ix->ops->memory_bytes(ix);
    vx_index_unlock(ix);
    return bytes;
}

VINDEX_API vindex_status vindex_set_param(vindex *ix, const char *name, double value)
{
    vx_clear_error();
    vindex_status st = check_index(ix, "set_param");
    if (st)
        return st;
    if (!name)
        return vx_fail(VINDEX_ERR_INVALID, "set_param: name is NULL");
    if (!isfinite(value))
        return vx_fail(VINDEX_ERR_INVALID, "set_param: %s must be a finite number", name);
    vx_index_lock_exclusive(ix);
    st = ix->ops->set_param ? ix->ops->set_param(ix, name, value) : VINDEX_ERR_NOT_FOUND;
    vx_index_unlock(ix);
    if (st == VINDEX_ERR_NOT_FOUND)
        return vx_fail(st, "set_param: %s has no parameter '%s'", ix->ops->type_name, name);
    return st;
}

VINDEX_API vindex_status vindex_get_param(const vindex *ix, const char *name, double *value)
{
    vx_clear_error();
    vindex_status st = check_index(ix, "get_param");
    if (st)
        return st;
    if (!name || !value)
        return vx_fail(VINDEX_ERR_INVALID, "get_param: %s is NULL", name ? "value" : "name");
    vx_index_lock_shared(ix);
    st = ix->ops->get_param ? ix->ops->get_param(ix, name, value) : VINDEX_ERR_NOT_FOUND;
    vx_index_unlock(ix);
    if (st == VINDEX_ERR_NOT_FOUND)
        return vx_fail(st, "get_param: %s has no parameter '%s'", ix->ops->type_name, name);
    return st;
}

VINDEX_API void vindex_search_params_init(vindex_search_params *p)
{
    if (p)
        memset(p, 0, sizeof *p);
}

/* ---- operations --------------------------------------------------------- */

VINDEX_API vindex_status vindex_train(vindex *ix, size_t n, const float *x)
{
    vx_clear_error();
    vindex_status st = check_index(ix, "train");
    if (!st)
        st = check_vectors(ix, "train", "training vector", n, x);
    if (st)
        return st;
    vx_index_lock_exclusive(ix);
    st = vx_index_train(ix, n, x);
    vx_index_unlock(ix);
    return st;
}

/* Under the exclusive lock: checks that depend on the index's state, then the add. */
static vindex_status add_locked(vindex *ix, size_t n, const float *x, const vindex_id *ids,
                                const char *op)
{
    vindex_status st;
    if (n > (size_t)(INT64_MAX - ix->ntotal))
        return vx_fail(VINDEX_ERR_INVALID, "%s: %zu vectors would overflow the index count", op, n);
    /* The whole index's vectors must fit in half the address space, so that a
     * family's count x dimension x element sizes (capacity doubling included)
     * never overflow. */
    size_t total = (size_t)ix->ntotal + n, elems, bytes;
    if (!vx_mul_ok(total, (size_t)ix->d, &elems) || !vx_mul_ok(elems, sizeof(float), &bytes) ||
        bytes > (SIZE_MAX >> 2))
        return vx_fail(VINDEX_ERR_INVALID,
                       "%s: %lld + %zu vectors of dimension %d overflow the address space", op,
                       (long long)ix->ntotal, n, ix->d);
    if ((st = check_trained(ix, op)))
        return st;
    if (n == 0)
        return VINDEX_OK;
    return vx_index_add(ix, n, x, ids);
}

static vindex_status add_common(vindex *ix, size_t n, const float *x, const vindex_id *ids,
                                const char *op)
{
    vindex_status st = check_index(ix, op);
    if (!st)
        st = check_vectors(ix, op, "vector", n, x);
    if (st)
        return st;
    vx_index_lock_exclusive(ix);
    st = add_locked(ix, n, x, ids, op);
    vx_index_unlock(ix);
    return st;
}

VINDEX_API vindex_status vindex_add(vindex *ix, size_t n, const float *x)
{
    vx_clear_error();
    return add_common(ix, n, x, NULL, "add");
}

VINDEX_API vindex_status vindex_add_with_ids(vindex *ix, size_t n, const float *x,
                                             const vindex_id *ids)
{
    vx_clear_error();
    vindex_status st = check_index(ix, "add_with_ids");
    if (st)
        return st;
    if (!ix->ops->supports_ids)
        return vx_fail(VINDEX_ERR_UNSUPPORTED,
                       "add_with_ids: %s labels vectors by position; wrap it in IndexIDMap "
                       "to choose ids",
                       ix->ops->type_name);
    if (n > 0 && !ids)
        return vx_fail(VINDEX_ERR_INVALID, "add_with_ids: ids is NULL");
    return add_common(ix, n, x, ids, "add_with_ids");
}

static vindex_status search_locked(const vindex *ix, size_t nq, const float *queries, size_t k,
                                   const vindex_search_params *params, float *distances,
                                   vindex_id *labels)
{
    vindex_status st = check_trained(ix, "search");
    if (st || nq == 0)
        return st;
    if (ix->ntotal == 0) {
        vx_fill_empty_results(nq, k, ix->metric, distances, labels);
        return VINDEX_OK;
    }
    return vx_index_search(ix, nq, queries, k, params, distances, labels);
}

VINDEX_API vindex_status vindex_search(const vindex *ix, size_t nq, const float *queries,
                                       size_t k, const vindex_search_params *params,
                                       float *distances, vindex_id *labels)
{
    vx_clear_error();
    vindex_status st = check_index(ix, "search");
    if (st)
        return st;
    if (k == 0)
        return vx_fail(VINDEX_ERR_INVALID, "search: k must be at least 1");
    size_t nres;
    if (!vx_mul_ok(nq, k, &nres) || nres > (SIZE_MAX >> 4))
        return vx_fail(VINDEX_ERR_INVALID, "search: %zu queries x k=%zu results overflow", nq, k);
    if (k > VINDEX_MAX_K)
        return vx_fail(VINDEX_ERR_INVALID, "search: k=%zu is more than VINDEX_MAX_K (%zu)", k,
                       VINDEX_MAX_K);
    if (nq > 0 && (!distances || !labels))
        return vx_fail(VINDEX_ERR_INVALID, "search: %s output is NULL",
                       distances ? "labels" : "distances");
    if ((st = check_vectors(ix, "search", "query", nq, queries)) || (st = check_params(params, "search")))
        return st;
    vx_index_lock_shared(ix);
    st = search_locked(ix, nq, queries, k, params, distances, labels);
    vx_index_unlock(ix);
    return st;
}

VINDEX_API vindex_status vindex_range_search(const vindex *ix, size_t nq, const float *queries,
                                             float radius, const vindex_search_params *params,
                                             vindex_range_result **out)
{
    vx_clear_error();
    vindex_status st = check_index(ix, "range_search");
    if (st)
        return st;
    if (!out)
        return vx_fail(VINDEX_ERR_INVALID, "range_search: out is NULL");
    *out = NULL;
    if (isnan(radius))
        return vx_fail(VINDEX_ERR_INVALID, "range_search: radius is NaN");
    if (ix->metric == VINDEX_METRIC_L2 && radius < 0)
        return vx_fail(VINDEX_ERR_INVALID,
                       "range_search: radius %g is negative; L2 distances are never negative",
                       (double)radius);
    if ((st = check_vectors(ix, "range_search", "query", nq, queries)) ||
        (st = check_params(params, "range_search")))
        return st;
    vx_range_list *lists = vx_range_lists_new(nq);
    if (!lists)
        return VINDEX_ERR_NOMEM;
    vx_index_lock_shared(ix);
    st = check_trained(ix, "range_search");
    if (!st && nq > 0 && ix->ntotal > 0)
        st = vx_index_range_search(ix, nq, queries, radius, params, lists);
    vx_index_unlock(ix);
    if (!st)
        st = vx_range_pack(lists, nq, ix->metric, out);
    vx_range_lists_free(lists, nq);
    return st;
}

VINDEX_API vindex_status vindex_reconstruct(const vindex *ix, vindex_id id, float *out)
{
    vx_clear_error();
    vindex_status st = check_index(ix, "reconstruct");
    if (st)
        return st;
    if (!out)
        return vx_fail(VINDEX_ERR_INVALID, "reconstruct: out is NULL");
    vx_index_lock_shared(ix);
    st = vx_index_reconstruct(ix, id, out);
    vx_index_unlock(ix);
    return st;
}

VINDEX_API vindex_status vindex_reconstruct_n(const vindex *ix, vindex_id i0, size_t n,
                                              float *out)
{
    vx_clear_error();
    vindex_status st = check_index(ix, "reconstruct_n");
    if (st)
        return st;
    size_t elems, bytes;
    if (!vx_mul_ok(n, (size_t)ix->d, &elems) || !vx_mul_ok(elems, sizeof(float), &bytes) ||
        bytes > (SIZE_MAX >> 1))
        return vx_fail(VINDEX_ERR_INVALID, "reconstruct_n: %zu vectors of dimension %d overflow",
                       n, ix->d);
    if (n > 0 && !out)
        return vx_fail(VINDEX_ERR_INVALID, "reconstruct_n: out is NULL");
    /* ids may be negative (IDMap2); only the range's end must not overflow
     * (n - 1 fits in int64: n * d * 4 bytes fit in half the address space) */
    if (n > 0 && i0 > INT64_MAX - (vindex_id)(n - 1))
        return vx_fail(VINDEX_ERR_INVALID, "reconstruct_n: range %lld + %zu is out of bounds",
                       (long long)i0, n);
    vx_index_lock_shared(ix); /* one snapshot for the whole range */
    for (size_t i = 0; i < n && !st; i++)
        st = vx_index_reconstruct(ix, i0 + (vindex_id)i, out + i * (size_t)ix->d);
    vx_index_unlock(ix);
    return st;
}

VINDEX_API vindex_status vindex_remove_ids(vindex *ix, const vindex_selector *sel,
                                           size_t *n_removed)
{
    vx_clear_error();
    if (n_removed)
        *n_removed = 0;
    vindex_status st = check_index(ix, "remove_ids");
    if (st)
        return st;
    if (!sel)
        return vx_fail(VINDEX_ERR_INVALID, "remove_ids: selector is NULL");
    size_t removed = 0;
    vx_index_lock_exclusive(ix);
    st = vx_index_remove_ids(ix, sel, &removed);
    vx_index_unlock(ix);
    if (!st && n_removed)
        *n_removed = removed;
    return st;
}

VINDEX_API vindex_status vindex_reset(vindex *ix)
{
    vx_clear_error();
    vindex_status st = check_index(ix, "reset");
    if (st)
        return st;
    if (!ix->ops->reset)
        return vx_index_unsupported(ix, "reset");
    vx_index_lock_exclusive(ix);
    ix->ops->reset(ix);
    vx_index_unlock(ix);
    return VINDEX_OK;
}
