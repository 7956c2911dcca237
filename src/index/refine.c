/*
 * IndexRefine and IndexRefineFlat: a base index proposes candidates, a refine
 * index re-ranks them by exact (or more exact) distances.
 *
 * Both parts label vectors by position and always hold the same vectors in
 * the same order, so a label from the base search is a row of the refine
 * index. add() keeps that true all or nothing: the part that can take back
 * its tail (remove_ids over [ntotal, ntotal + n)) is added to first, so that
 * a failure of the second add is undone exactly. remove_ids is offered only
 * when both parts renumber the same way (families that label by position and
 * compact in order on removal).
 *
 * Search asks the base for k' = ceil(k * k_factor) candidates (at most
 * ntotal) per query, in chunks of queries so that the candidate buffers stay
 * bounded, then scores each candidate against the refine index: straight from
 * the stored rows when the refine index is a contiguous Flat (the common
 * IndexRefineFlat), else through reconstruct. The k best, ties broken by the
 * smaller label, come from the same heaps as every other family.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/chain.h"
#include "../core/error.h"
#include "../core/threads.h"
#include "../core/topk.h"
#include "../simd/kernels.h"
#include "../io/registry.h"
#include "composite.h"
#include "flat.h"
#include "index.h"

typedef struct refine {
    vindex base;
    vindex *coarse;  /* the base (filter) index */
    vindex *refine;  /* the index whose distances decide */
    float k_factor;  /* >= 1 */
} refine;

static const vx_index_ops refine_ops, refine_flat_ops;

static bool is_refine(const vindex *ix)
{
    return ix && (ix->ops == &refine_ops || ix->ops == &refine_flat_ops);
}

const vindex *vx_refine_base(const vindex *ix)
{
    return is_refine(ix) ? ((const refine *)ix)->coarse : NULL;
}

const vindex *vx_refine_refine(const vindex *ix)
{
    return is_refine(ix) ? ((const refine *)ix)->refine : NULL;
}

/* Labels by position and compacts in order on removal (the IDMap contract). */
static bool renumbers_on_remove(const vindex *ix)
{
    return !ix->ops->supports_ids && ix->ops->remove_ids;
}

/* ---- train, add --------------------------------------------------------- */

static vindex_status refine_train(vindex *ix, size_t n, const float *x)
{
    refine *r = (refine *)ix;
    vindex_status st = vx_index_train(r->coarse, n, x);
    if (!st && !r->refine->is_trained)
        st = vx_index_train(r->refine, n, x);
    ix->is_trained = r->coarse->is_trained && r->refine->is_trained;
    return st;
}

/* Removes positions [from, ix->ntotal) of a part: the undo of an add. */
static vindex_status drop_tail(vindex *part, int64_t from)
{
    vindex_selector *sel;
    vindex_status st = vindex_selector_range(&sel, from, INT64_MAX);
    if (st)
        return st;
    size_t removed = 0;
    st = vx_index_remove_ids(part, sel, &removed);
    vindex_selector_free(sel);
    return st;
}

static vindex_status refine_add(vindex *ix, size_t n, const float *x, const vindex_id *ids)
{
    (void)ids; /* never set: labels are positions */
    refine *r = (refine *)ix;
    const int64_t at = ix->ntotal;
    /* first the part whose tail can be dropped again, so a failure of the
     * second add leaves both as they were */
    vindex *first = r->refine, *second = r->coarse;
    if (!r->refine->ops->remove_ids && r->coarse->ops->remove_ids) {
        first = r->coarse;
        second = r->refine;
    }
    vindex_status st = vx_index_add(first, n, x, NULL);
    if (st)
        return st;
    st = vx_index_add(second, n, x, NULL);
    if (st) {
        char why[256]; /* the rollback may overwrite the message */
        snprintf(why, sizeof why, "%s", vindex_last_error());
        vindex_status undo = drop_tail(first, at);
        if (undo || first->ntotal != at)
            return vx_fail(st, "%s (and the add to %s could not be undone: the index is "
                               "inconsistent; reset it)", why, first->ops->type_name);
        return vx_fail(st, "%s", why);
    }
    ix->ntotal = r->refine->ntotal;
    return VINDEX_OK;
}

/* ---- search ------------------------------------------------------------- */

static vindex_status effective_k_factor(const refine *r, const vindex_search_params *p,
                                        const char *op, float *kf)
{
    *kf = r->k_factor;
    if (p && p->k_factor > 0) {
        if (p->k_factor < 1)
            return vx_fail(VINDEX_ERR_INVALID,
                           "%s: k_factor %g must be at least 1 (0 = the index's %g)", op,
                           (double)p->k_factor, (double)r->k_factor);
        *kf = p->k_factor;
    }
    return VINDEX_OK;
}

/* The caller's params for the base search: its selector and probes, without
 * the k_factor that this level consumed. */
static const vindex_search_params *base_params(const vindex_search_params *p,
                                               vindex_search_params *copy)
{
    if (!p)
        return NULL;
    *copy = *p;
    copy->k_factor = 0;
    return copy;
}

typedef struct rerank_ctx {
    const refine *r;
    const float *q;          /* chunk queries */
    size_t k, kb;
    const vindex_id *cand;   /* chunk x kb base labels */
    float *distances;        /* chunk x k outputs */
    vindex_id *labels;
    const float *rows;       /* the refine Flat's vectors, or NULL: reconstruct */
    size_t m;                /* queries in the chunk */
    const uint32_t *order;   /* the order to re-rank them in, or NULL: as given */
    float *scratch;          /* d floats per worker */
    vindex_status *status;   /* per query */
} rerank_ctx;

enum {
    RERANK_QUERIES_PER_TASK = 16,
    /* re-ranking order (core/chain.h): chained when the chunk's queries
     * share each row at most this often on average ... */
    CHAIN_MAX_PER_ROW = 64,
    /* ... and ordered at all only for at most this many rows per candidate */
    ORDER_ROWS_PER_PAIR = 16,
};

static void rerank_task(void *arg, size_t task, int worker)
{
    rerank_ctx *c = arg;
    const vx_kernel_table *kt = vx_kernels();
    const size_t d = (size_t)c->r->base.d;
    const bool ip = c->r->base.metric == VINDEX_METRIC_INNER_PRODUCT;
    const int64_t ntotal = c->r->refine->ntotal;
    float *buf = c->scratch + (size_t)worker * d;
    size_t lo = task * RERANK_QUERIES_PER_TASK, hi = lo + RERANK_QUERIES_PER_TASK;
    for (size_t t = lo; t < hi && t < c->m; t++) {
        const size_t i = c->order ? c->order[t] : t;
        const float *q = c->q + i * d;
        float *hs = c->distances + i * c->k;
        vindex_id *hi_ = c->labels + i * c->k;
        vx_heap_init(hs, hi_, c->k);
        /* a split Flat is scored in its own layout: no reconstruct per candidate */
        const float *ql = c->rows ? NULL : vx_flat_query_layout(c->r->refine, q, buf);
        for (size_t j = 0; ql && j < 2 && j < c->kb; j++)
            if (c->cand[i * c->kb + j] >= 0 && c->cand[i * c->kb + j] < ntotal)
                vx_flat_prefetch(c->r->refine, c->cand[i * c->kb + j]);
        for (size_t j = 0; j < c->kb; j++) {
            vindex_id id = c->cand[i * c->kb + j];
            if (id < 0)
                continue;
            const float *y;
            if (id >= ntotal) {
                c->status[i] = VINDEX_ERR_CORRUPT;
                break;
            }
            if (ql) { /* candidates are scattered: fetch the one after next meanwhile */
                if (j + 2 < c->kb && c->cand[i * c->kb + j + 2] >= 0 &&
                    c->cand[i * c->kb + j + 2] < ntotal)
                    vx_flat_prefetch(c->r->refine, c->cand[i * c->kb + j + 2]);
                vx_heap_push(hs, hi_, c->k, vx_flat_score_one(c->r->refine, ql, id), id);
                continue;
            }
            if (c->rows) {
                y = c->rows + (size_t)id * d;
            } else {
                if (vx_index_reconstruct(c->r->refine, id, buf) != VINDEX_OK) {
                    c->status[i] = VINDEX_ERR_CORRUPT;
                    break;
                }
                y = buf;
            }
            float s = ip ? -kt->inner_product(q, y, d) : kt->l2sqr(q, y, d);
            vx_heap_push(hs, hi_, c->k, s, id);
        }
        vx_topk_finish(hs, hi_, c->k, c->r->base.metric);
    }
}

static vindex_status refine_search(const vindex *ix, size_t nq, const float *q, size_t k,
                                   const vindex_search_params *p, float *distances,
                                   vindex_id *labels)
{
    const refine *r = (const refine *)ix;
    float kf;
    vindex_status st = effective_k_factor(r, p, "search", &kf);
    if (st)
        return st;
    double want = ceil((double)k * (double)kf);
    size_t kb = want >= (double)ix->ntotal ? (size_t)ix->ntotal : (size_t)want;
    if (kb < 1)
        kb = 1;
    /* chunks of queries whose candidates fit in about 1M entries */
    size_t chunk = ((size_t)1 << 20) / kb;
    if (chunk < 1)
        chunk = 1;
    if (chunk > nq)
        chunk = nq;
    const size_t d = (size_t)ix->d;
    const int nthreads = vx_num_threads();
    float *cdist = vx_alloc(chunk, kb * sizeof(float));
    vindex_id *cand = vx_alloc(chunk, kb * sizeof(vindex_id));
    float *scratch = vx_alloc((size_t)nthreads, d * sizeof(float));
    vindex_status *qst = vx_alloc(chunk, sizeof(vindex_status));
    /* an order only where its counting sort over the rows costs little */
    const bool want_order = chunk >= 3 && (size_t)ix->ntotal <= ORDER_ROWS_PER_PAIR * chunk * kb;
    uint32_t *order = want_order ? vx_alloc(chunk, sizeof *order) : NULL;
    if (!cdist || !cand || !scratch || !qst || (want_order && !order)) {
        st = VINDEX_ERR_NOMEM;
        goto done;
    }
    vindex_search_params copy;
    const vindex_search_params *bp = base_params(p, &copy);
    for (size_t i0 = 0; i0 < nq; i0 += chunk) {
        size_t m = nq - i0 < chunk ? nq - i0 : chunk;
        if ((st = vx_index_search(r->coarse, m, q + i0 * d, kb, bp, cdist, cand)))
            goto done;
        for (size_t i = 0; i < m; i++)
            qst[i] = VINDEX_OK;
        /* queries that share candidates one after another: their rows are
         * then read once from memory (core/chain.h; on Fashion-MNIST with
         * k_factor 4 a fifth of a query's rows were the previous query's) */
        const bool ordered = order && m >= 3;
        if (ordered && !vx_chain_order(m, kb, cand, (size_t)r->refine->ntotal,
                                       CHAIN_MAX_PER_ROW, order)) {
            st = VINDEX_ERR_NOMEM;
            goto done;
        }
        rerank_ctx c = {.r = r, .q = q + i0 * d, .k = k, .kb = kb, .cand = cand,
                        .distances = distances + i0 * k, .labels = labels + i0 * k,
                        .rows = vx_flat_vectors(r->refine), .m = m,
                        .order = ordered ? order : NULL, .scratch = scratch, .status = qst};
        size_t ntasks = (m + RERANK_QUERIES_PER_TASK - 1) / RERANK_QUERIES_PER_TASK;
        vx_parallel_for(ntasks, nthreads, rerank_task, &c);
        for (size_t i = 0; i < m; i++)
            if (qst[i] != VINDEX_OK) {
                st = vx_fail(VINDEX_ERR_CORRUPT,
                             "search: the base index (%s) returned a label that the refine "
                             "index (%s, %lld vectors) cannot reconstruct",
                             r->coarse->ops->type_name, r->refine->ops->type_name,
                             (long long)r->refine->ntotal);
                goto done;
            }
    }
done:
    vx_free(cdist);
    vx_free(cand);
    vx_free(scratch);
    vx_free(qst);
    vx_free(order);
    return st;
}

/* The refined distance between q and stored vector id, into *out. */
static vindex_status exact_distance(const refine *r, const float *q, vindex_id id, float *buf,
                                    float *out)
{
    const size_t d = (size_t)r->base.d;
    const float *rows = vx_flat_vectors(r->refine);
    const float *y = buf;
    if (id < 0 || id >= r->refine->ntotal)
        return VINDEX_ERR_CORRUPT;
    if (rows)
        y = rows + (size_t)id * d;
    else if (vx_index_reconstruct(r->refine, id, buf) != VINDEX_OK)
        return VINDEX_ERR_CORRUPT;
    const vx_kernel_table *kt = vx_kernels();
    *out = r->base.metric == VINDEX_METRIC_L2 ? kt->l2sqr(q, y, d) : kt->inner_product(q, y, d);
    return VINDEX_OK;
}

static vindex_status refine_range_search(const vindex *ix, size_t nq, const float *q,
                                         float radius, const vindex_search_params *p,
                                         vx_range_list *lists)
{
    const refine *r = (const refine *)ix;
    float kf;
    vindex_status st = effective_k_factor(r, p, "range_search", &kf);
    if (st)
        return st;
    const size_t d = (size_t)ix->d;
    vx_range_list *cands = vx_range_lists_new(nq);
    float *buf = vx_alloc(d, sizeof(float));
    if (!cands || !buf) {
        st = VINDEX_ERR_NOMEM;
        goto done;
    }
    vindex_search_params copy;
    if ((st = vx_index_range_search(r->coarse, nq, q, radius, base_params(p, &copy), cands)))
        goto done;
    const bool l2 = ix->metric == VINDEX_METRIC_L2;
    for (size_t i = 0; i < nq; i++)
        for (size_t j = 0; j < cands[i].n; j++) {
            float dis;
            vindex_id id = cands[i].ids[j];
            if (exact_distance(r, q + i * d, id, buf, &dis) != VINDEX_OK) {
                st = vx_fail(VINDEX_ERR_CORRUPT,
                             "range_search: the base index returned label %lld that the refine "
                             "index cannot reconstruct", (long long)id);
                goto done;
            }
            if (l2 ? dis < radius : dis > radius)
                if ((st = vx_range_push(&lists[i], dis, id)))
                    goto done;
        }
done:
    if (cands)
        vx_range_lists_free(cands, nq);
    vx_free(buf);
    return st;
}

/* ---- the rest ------------------------------------------------------------ */

static vindex_status refine_reconstruct(const vindex *ix, vindex_id id, float *out)
{
    return vx_index_reconstruct(((const refine *)ix)->refine, id, out);
}

static vindex_status refine_remove_ids(vindex *ix, const vindex_selector *sel, size_t *n_removed)
{
    refine *r = (refine *)ix;
    if (!renumbers_on_remove(r->coarse) || !renumbers_on_remove(r->refine))
        return vx_fail(VINDEX_ERR_UNSUPPORTED,
                       "remove_ids: %s over %s and %s: both parts must label vectors by "
                       "position and renumber on removal to stay aligned",
                       ix->ops->type_name, r->coarse->ops->type_name, r->refine->ops->type_name);
    size_t removed_base = 0, removed = 0;
    vindex_status st = vx_index_remove_ids(r->refine, sel, &removed);
    if (st)
        return st;
    st = vx_index_remove_ids(r->coarse, sel, &removed_base);
    if (st || removed_base != removed || r->coarse->ntotal != r->refine->ntotal)
        return vx_fail(st ? st : VINDEX_ERR_CORRUPT,
                       "remove_ids: the base index removed %zu vectors and the refine index "
                       "%zu: the index is inconsistent; reset it",
                       removed_base, removed);
    ix->ntotal = r->refine->ntotal;
    *n_removed = removed;
    return VINDEX_OK;
}

static void refine_reset(vindex *ix)
{
    refine *r = (refine *)ix;
    if (r->coarse->ops->reset)
        r->coarse->ops->reset(r->coarse);
    if (r->refine->ops->reset)
        r->refine->ops->reset(r->refine);
    ix->ntotal = 0;
}

static void refine_destroy(vindex *ix)
{
    refine *r = (refine *)ix;
    vindex_free(r->coarse);
    vindex_free(r->refine);
    vx_free(r);
}

static size_t refine_memory(const vindex *ix)
{
    const refine *r = (const refine *)ix;
    return sizeof *r + vindex_memory_bytes(r->coarse) + vindex_memory_bytes(r->refine);
}

static vindex_status refine_set_param(vindex *ix, const char *name, double value)
{
    refine *r = (refine *)ix;
    if (!strcmp(name, "k_factor")) {
        if (!(value >= 1) || value > 1e6)
            return vx_fail(VINDEX_ERR_INVALID, "set_param: k_factor %g must be in [1, 1e6]",
                           value);
        r->k_factor = (float)value;
        return VINDEX_OK;
    }
    return vindex_set_param(r->coarse, name, value);
}

static vindex_status refine_get_param(const vindex *ix, const char *name, double *value)
{
    const refine *r = (const refine *)ix;
    if (!strcmp(name, "k_factor")) {
        *value = r->k_factor;
        return VINDEX_OK;
    }
    return vindex_get_param(r->coarse, name, value);
}

/* ---- persistence (docs/FORMAT.md, "IndexRefine") -------------------------- */

#define TAG_REFINE_META VX_TAG('R', 'F', 'N', 'M')

static vindex_status refine_write(const vindex *ix, vx_writer *w)
{
    const refine *r = (const refine *)ix;
    vx_io_write_index_header(w, ix, ix->ops == &refine_flat_ops ? VX_FAMILY_REFINE_FLAT
                                                                : VX_FAMILY_REFINE);
    vx_writer_begin(w, TAG_REFINE_META);
    vx_writer_f64(w, r->k_factor);
    vx_writer_end(w);
    vindex_status st = vx_io_write_index(w, r->coarse);
    return st ? st : vx_io_write_index(w, r->refine);
}

vindex_status vx_refine_read(vx_reader *r, const vx_io_index_header *h, vindex **out)
{
    vx_cursor c;
    double k_factor;
    vindex_status st;
    if ((st = vx_reader_section(r, TAG_REFINE_META, &c)) || (st = vx_cursor_f64(&c, &k_factor)) ||
        (st = vx_cursor_done(&c)))
        return st;
    if (!(k_factor >= 1 && k_factor <= 1e6) || (float)k_factor != k_factor)
        return vx_io_corrupt("IndexRefine: k_factor %g is not a float in [1, 1e6]", k_factor);
    const bool flat = h->family == VX_FAMILY_REFINE_FLAT;
    vindex *base = NULL, *rix = NULL;
    if ((st = vx_io_read_index(r, &base)) || (st = vx_io_read_index(r, &rix))) {
        vindex_free(base);
        return st;
    }
    /* the constructor's checks (same d, metric and vectors; a refine index
     * that labels by position and reconstructs); IndexRefineFlat's own
     * refine index is a Flat */
    if ((flat && strcmp(rix->ops->type_name, "IndexFlat") != 0) ||
        (st = vindex_refine_new(out, base, rix))) {
        if (st == VINDEX_ERR_NOMEM) {
            vindex_free(base);
            vindex_free(rix);
            return st;
        }
        char msg[256];
        snprintf(msg, sizeof msg, "%s", flat && strcmp(rix->ops->type_name, "IndexFlat")
                                            ? "its refine index is not an IndexFlat"
                                            : vindex_last_error());
        vindex_free(base);
        vindex_free(rix);
        return vx_io_corrupt("%s: %s", flat ? "IndexRefineFlat" : "IndexRefine", msg);
    }
    refine *ref = (refine *)*out;
    if (flat)
        ref->base.ops = &refine_flat_ops;
    ref->k_factor = (float)k_factor;
    return VINDEX_OK;
}

#define REFINE_OPS(name_)                                                                      \
    {                                                                                          \
        .type_name = name_, .train = refine_train, .add = refine_add, .supports_ids = false,   \
        .search = refine_search, .range_search = refine_range_search,                         \
        .reconstruct = refine_reconstruct, .remove_ids = refine_remove_ids,                    \
        .reset = refine_reset, .destroy = refine_destroy, .memory_bytes = refine_memory,       \
        .set_param = refine_set_param, .get_param = refine_get_param, .write = refine_write,   \
    }

static const vx_index_ops refine_ops = REFINE_OPS("IndexRefine");
static const vx_index_ops refine_flat_ops = REFINE_OPS("IndexRefineFlat");

VINDEX_API vindex_status vindex_refine_new(vindex **out, vindex *base, vindex *refine_ix)
{
    vx_clear_error();
    if (!out)
        return vx_fail(VINDEX_ERR_INVALID, "IndexRefine: out is NULL");
    *out = NULL;
    if (!base)
        return vx_fail(VINDEX_ERR_INVALID, "IndexRefine: the base index is NULL");
    if (refine_ix == base)
        return vx_fail(VINDEX_ERR_INVALID, "IndexRefine: the base and refine indexes are the "
                                           "same object");
    if (refine_ix) {
        if (refine_ix->d != base->d)
            return vx_fail(VINDEX_ERR_DIM, "IndexRefine: refine index dim %d != base index dim %d",
                           refine_ix->d, base->d);
        if (refine_ix->metric != base->metric)
            return vx_fail(VINDEX_ERR_INVALID,
                           "IndexRefine: the base and refine indexes have different metrics");
        if (refine_ix->ntotal != base->ntotal)
            return vx_fail(VINDEX_ERR_INVALID,
                           "IndexRefine: the base index holds %lld vectors and the refine index "
                           "%lld; they must hold the same ones",
                           (long long)base->ntotal, (long long)refine_ix->ntotal);
        if (refine_ix->ops->supports_ids || !refine_ix->ops->reconstruct)
            return vx_fail(VINDEX_ERR_UNSUPPORTED,
                           "IndexRefine: %s cannot refine (it must label vectors by position "
                           "and reconstruct them)", refine_ix->ops->type_name);
    } else if (base->ntotal != 0) {
        return vx_fail(VINDEX_ERR_INVALID,
                       "IndexRefineFlat: the base index must be empty (it holds %lld)",
                       (long long)base->ntotal);
    }
    if (!base->ops->search)
        return vx_fail(VINDEX_ERR_UNSUPPORTED, "IndexRefine: %s cannot search",
                       base->ops->type_name);
    vindex *made = NULL;
    if (!refine_ix) {
        vindex_status st = vindex_flat_new(&made, base->d, base->metric);
        if (st)
            return st;
    }
    refine *r = vx_calloc(1, sizeof *r);
    if (!r) {
        vindex_free(made);
        return VINDEX_ERR_NOMEM;
    }
    vindex *rix = refine_ix ? refine_ix : made;
    vx_index_init(&r->base, refine_ix ? &refine_ops : &refine_flat_ops, base->d, base->metric,
                  base->is_trained && rix->is_trained);
    r->base.ntotal = base->ntotal;
    r->coarse = base;
    r->refine = rix;
    r->k_factor = 1;
    *out = &r->base;
    return VINDEX_OK;
}
