/*
 * IndexPreTransform: a vector transform (random rotation, L2 normalisation,
 * PCA, OPQ) in front of any index. The wrapper's d is the transform's input
 * dimension; the inner index sees d_out.
 *
 * Batches are transformed in chunks of rows (CHUNK_FLOATS floats of output at
 * most), so memory stays bounded whatever n is. add() of several chunks stays
 * all or nothing by dropping the tail the earlier chunks added when a later
 * one fails (the inner index labels by position or keeps caller ids; either
 * way a selector over the added labels undoes it); small adds are one chunk
 * and need no undo. Searches transform a chunk of queries and pass it on with
 * the caller's params (selector, nprobe, k_factor) unchanged.
 */
#include <stdio.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../io/registry.h"
#include "../quant/transforms.h"
#include "composite.h"
#include "index.h"

typedef struct pretransform {
    vindex base;
    vindex_transform *t;
    vindex *index;
} pretransform;

enum { CHUNK_FLOATS = 1 << 20 }; /* 4 MiB of transformed vectors per chunk */

static const vx_index_ops pt_ops, pt_ids_ops;

static bool is_pretransform(const vindex *ix)
{
    return ix && (ix->ops == &pt_ops || ix->ops == &pt_ids_ops);
}

const vindex_transform *vx_pretransform_transform(const vindex *ix)
{
    return is_pretransform(ix) ? ((const pretransform *)ix)->t : NULL;
}

const vindex *vx_pretransform_index(const vindex *ix)
{
    return is_pretransform(ix) ? ((const pretransform *)ix)->index : NULL;
}

/* Rows per chunk so that a chunk's transformed vectors hold CHUNK_FLOATS. */
static size_t chunk_rows(const pretransform *p, size_t n)
{
    size_t width = (size_t)vx_transform_d_out(p->t);
    size_t rows = CHUNK_FLOATS / width;
    if (rows < 1)
        rows = 1;
    return rows < n ? rows : n;
}

static vindex_status pt_train(vindex *ix, size_t n, const float *x)
{
    pretransform *p = (pretransform *)ix;
    vindex_status st = VINDEX_OK;
    if (!vx_transform_is_trained(p->t) && (st = vx_transform_train(p->t, n, x)))
        return st;
    if (p->index->ops->train) {
        /* the inner index trains on all n transformed vectors at once, as
         * training needs them together */
        float *y = vx_alloc(n, (size_t)vx_transform_d_out(p->t) * sizeof(float));
        if (!y)
            return VINDEX_ERR_NOMEM;
        vx_transform_apply(p->t, n, x, y);
        st = vx_index_train(p->index, n, y);
        vx_free(y);
    }
    ix->is_trained = vx_transform_is_trained(p->t) && p->index->is_trained;
    return st;
}

static vindex_status pt_add(vindex *ix, size_t n, const float *x, const vindex_id *ids)
{
    pretransform *p = (pretransform *)ix;
    const size_t rows = chunk_rows(p, n), d = (size_t)ix->d;
    const int64_t at = p->index->ntotal;
    float *y = vx_alloc(rows, (size_t)vx_transform_d_out(p->t) * sizeof(float));
    if (!y)
        return VINDEX_ERR_NOMEM;
    vindex_status st = VINDEX_OK;
    size_t done = 0;
    while (done < n) {
        size_t m = n - done < rows ? n - done : rows;
        vx_transform_apply(p->t, m, x + done * d, y);
        if ((st = vx_index_add(p->index, m, y, ids ? ids + done : NULL)))
            break;
        done += m;
    }
    vx_free(y);
    if (st && done > 0) { /* undo the chunks that went in */
        char why[256];
        snprintf(why, sizeof why, "%s", vindex_last_error());
        vindex_selector *sel = NULL;
        size_t removed = 0;
        vindex_status undo = ids ? vindex_selector_batch(&sel, done, ids)
                                 : vindex_selector_range(&sel, at, INT64_MAX);
        if (!undo)
            undo = vx_index_remove_ids(p->index, sel, &removed);
        vindex_selector_free(sel);
        if (undo || p->index->ntotal != at)
            st = vx_fail(st, "%s (and the %zu vectors added before could not be removed again)",
                         why, done);
        else
            st = vx_fail(st, "%s", why);
    }
    ix->ntotal = p->index->ntotal;
    return st;
}

static vindex_status pt_search(const vindex *ix, size_t nq, const float *q, size_t k,
                               const vindex_search_params *params, float *distances,
                               vindex_id *labels)
{
    const pretransform *p = (const pretransform *)ix;
    const size_t rows = chunk_rows(p, nq), d = (size_t)ix->d;
    float *y = vx_alloc(rows, (size_t)vx_transform_d_out(p->t) * sizeof(float));
    if (!y)
        return VINDEX_ERR_NOMEM;
    vindex_status st = VINDEX_OK;
    for (size_t i0 = 0; i0 < nq && !st; i0 += rows) {
        size_t m = nq - i0 < rows ? nq - i0 : rows;
        vx_transform_apply(p->t, m, q + i0 * d, y);
        st = vx_index_search(p->index, m, y, k, params, distances + i0 * k, labels + i0 * k);
    }
    vx_free(y);
    return st;
}

static vindex_status pt_range_search(const vindex *ix, size_t nq, const float *q, float radius,
                                     const vindex_search_params *params, vx_range_list *lists)
{
    const pretransform *p = (const pretransform *)ix;
    const size_t rows = chunk_rows(p, nq), d = (size_t)ix->d;
    float *y = vx_alloc(rows, (size_t)vx_transform_d_out(p->t) * sizeof(float));
    if (!y)
        return VINDEX_ERR_NOMEM;
    vindex_status st = VINDEX_OK;
    for (size_t i0 = 0; i0 < nq && !st; i0 += rows) {
        size_t m = nq - i0 < rows ? nq - i0 : rows;
        vx_transform_apply(p->t, m, q + i0 * d, y);
        st = vx_index_range_search(p->index, m, y, radius, params, lists + i0);
    }
    vx_free(y);
    return st;
}

static vindex_status pt_reconstruct(const vindex *ix, vindex_id id, float *out)
{
    const pretransform *p = (const pretransform *)ix;
    if (!vx_transform_has_reverse(p->t))
        return vx_fail(VINDEX_ERR_UNSUPPORTED,
                       "reconstruct: the transform of this IndexPreTransform has no reverse");
    float *y = vx_alloc((size_t)vx_transform_d_out(p->t), sizeof(float));
    if (!y)
        return VINDEX_ERR_NOMEM;
    vindex_status st = vx_index_reconstruct(p->index, id, y);
    if (!st)
        vx_transform_reverse(p->t, 1, y, out);
    vx_free(y);
    return st;
}

static vindex_status pt_remove_ids(vindex *ix, const vindex_selector *sel, size_t *n_removed)
{
    pretransform *p = (pretransform *)ix;
    vindex_status st = vx_index_remove_ids(p->index, sel, n_removed);
    ix->ntotal = p->index->ntotal;
    return st;
}

static void pt_reset(vindex *ix)
{
    pretransform *p = (pretransform *)ix;
    if (p->index->ops->reset)
        p->index->ops->reset(p->index);
    ix->ntotal = p->index->ntotal;
}

static void pt_destroy(vindex *ix)
{
    pretransform *p = (pretransform *)ix;
    vindex_free(p->index);
    vindex_transform_free(p->t);
    vx_free(p);
}

static size_t pt_memory(const vindex *ix)
{
    const pretransform *p = (const pretransform *)ix;
    return sizeof *p + vx_transform_memory(p->t) + vindex_memory_bytes(p->index);
}

static vindex_status pt_set_param(vindex *ix, const char *name, double value)
{
    return vindex_set_param(((pretransform *)ix)->index, name, value);
}

static vindex_status pt_get_param(const vindex *ix, const char *name, double *value)
{
    return vindex_get_param(((const pretransform *)ix)->index, name, value);
}

/* ---- persistence (docs/FORMAT.md, "IndexPreTransform") -------------------- */

static vindex_status pt_write(const vindex *ix, vx_writer *w)
{
    const pretransform *p = (const pretransform *)ix;
    vx_io_write_index_header(w, ix, VX_FAMILY_PRETRANSFORM);
    vx_transform_write(w, p->t);
    return vx_io_write_index(w, p->index);
}

vindex_status vx_pretransform_read(vx_reader *r, const vx_io_index_header *h, vindex **out)
{
    (void)h; /* d (the transform's input), metric, ntotal: checked by the caller */
    vindex_transform *t = NULL;
    vindex *inner = NULL;
    vindex_status st = vx_transform_read(r, &t);
    if (!st && !(st = vx_io_read_index(r, &inner)) &&
        (st = vindex_pretransform_new(out, t, inner)) && st != VINDEX_ERR_NOMEM) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", vindex_last_error());
        st = vx_io_corrupt("IndexPreTransform: %s", msg);
    }
    if (st) {
        vindex_free(inner);
        vindex_transform_free(t);
    }
    return st;
}

/* Two tables: ids are accepted exactly when the inner index accepts them, so
 * that the wrapper labels by position (and IDMap can wrap it) when the inner
 * index does. */
#define PT_OPS(ids_)                                                                           \
    {                                                                                          \
        .type_name = "IndexPreTransform", .train = pt_train, .add = pt_add,                   \
        .supports_ids = ids_, .search = pt_search, .range_search = pt_range_search,           \
        .reconstruct = pt_reconstruct, .remove_ids = pt_remove_ids, .reset = pt_reset,         \
        .destroy = pt_destroy, .memory_bytes = pt_memory, .set_param = pt_set_param,          \
        .get_param = pt_get_param, .write = pt_write,                                          \
    }

static const vx_index_ops pt_ops = PT_OPS(false);
static const vx_index_ops pt_ids_ops = PT_OPS(true);

VINDEX_API vindex_status vindex_pretransform_new(vindex **out, vindex_transform *t,
                                                 vindex *index)
{
    vx_clear_error();
    if (!out)
        return vx_fail(VINDEX_ERR_INVALID, "IndexPreTransform: out is NULL");
    *out = NULL;
    if (!t || !index)
        return vx_fail(VINDEX_ERR_INVALID, "IndexPreTransform: the %s is NULL",
                       t ? "index" : "transform");
    if (vx_transform_d_out(t) != index->d)
        return vx_fail(VINDEX_ERR_DIM,
                       "IndexPreTransform: transform output dim %d != index dim %d",
                       vx_transform_d_out(t), index->d);
    if (index->ntotal != 0 && !vx_transform_is_trained(t))
        return vx_fail(VINDEX_ERR_INVALID,
                       "IndexPreTransform: the index holds vectors but the transform is not "
                       "trained");
    pretransform *p = vx_calloc(1, sizeof *p);
    if (!p)
        return VINDEX_ERR_NOMEM;
    vx_index_init(&p->base, index->ops->supports_ids ? &pt_ids_ops : &pt_ops,
                  vx_transform_d_in(t), index->metric,
                  vx_transform_is_trained(t) && index->is_trained);
    p->base.ntotal = index->ntotal;
    p->t = t;
    p->index = index;
    *out = &p->base;
    return VINDEX_OK;
}
