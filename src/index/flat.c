/*
 * IndexFlat: exact search over stored vectors, in insertion order. Labels are
 * positions.
 *
 * Layout. One query against the whole base reads every byte of it, so a single
 * query is bound by memory bandwidth (about 16 GB/s for one core here: 188 MB
 * of Fashion-MNIST per query). For L2 with d >= 64, when the first batch added
 * is too big for the caches (4 MiB), the vectors are therefore stored split: their dimensions reordered by decreasing variance (measured on
 * the first batch added) and cut into a head of about d/4 columns and a tail.
 * A small batch of queries scans the heads, and reads a vector's tail only when
 * the head's partial distance does not already exceed the current k-th best:
 * the sum of squares only grows, so the answer stays exact while most tails are
 * never read. On Fashion-MNIST about a tenth of the tails survive. Large batches
 * go through BLAS, as two sgemm calls (head and tail) per tile.
 *
 * For L2 the squared norm of every vector is kept beside it, so that batched
 * searches need not recompute them.
 */
#include "flat.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../io/registry.h"
#include "../simd/kernels.h"
#include "brute.h"
#include "index.h"

enum { SPLIT_MIN_DIM = 64 };


/* A base that fits in L2 is faster scanned whole (one reduction per vector
 * instead of two); from there up pruning pays, out of L3 (an IVF quantizer:
 * 1,024 x 784 searched in 38 us split, 103 us whole) as out of memory. Judged
 * on the first add, which fixes the layout; tests lower it to cover the split
 * path. */
size_t vx_flat_split_min_bytes = (size_t)256 << 10;
double vx_flat_split_min_head_share = 1.25; /* see choose_layout */

typedef struct flat {
    vindex base;
    float *head;     /* cap x head_dim; the whole vectors when not split */
    float *tail;     /* cap x (d - head_dim); NULL when not split */
    int32_t *perm;   /* stored dimension t is dimension perm[t]; NULL when not split */
    int head_dim;    /* d when not split */
    float *norms;    /* cap; L2 only */
    size_t cap;
    bool borrowed;   /* head belongs to the caller (vx_flat_borrow), or every array
                        lies in `map` (read with VINDEX_IO_MMAP): read-only */
    vx_mapping *map; /* the file mapping the arrays lie in, or NULL */
} flat;

static const vx_index_ops flat_ops;
static void flat_reset(vindex *ix);

const float *vx_flat_vectors(const vindex *ix)
{
    if (!ix || ix->ops != &flat_ops)
        return NULL;
    const flat *f = (const flat *)ix;
    return f->perm ? NULL : f->head;
}

typedef struct {
    double var;
    int32_t dim;
} dim_var;

static int by_variance_desc(const void *a, const void *b)
{
    const dim_var *x = a, *y = b;
    if (x->var != y->var)
        return x->var < y->var ? 1 : -1;
    return (x->dim > y->dim) - (x->dim < y->dim);
}

/* Chooses the layout at the first add: split for L2, d >= 64, a first batch of
 * at least vx_flat_split_min_bytes, and heads that carry at least
 * vx_flat_split_min_head_share times their share of the variance, with the
 * dimensions of largest variance in the head, where they rule out most. */
static vindex_status choose_layout(flat *f, size_t n, const float *x)
{
    size_t d = (size_t)f->base.d;
    f->head_dim = (int)d;
    if (f->base.metric != VINDEX_METRIC_L2 || d < SPLIT_MIN_DIM ||
        n * d * sizeof(float) < vx_flat_split_min_bytes)
        return VINDEX_OK;
    int32_t *perm = vx_alloc(d, sizeof *perm);
    dim_var *dv = vx_alloc(d, sizeof *dv);
    double *sum = vx_calloc(2 * d, sizeof *sum);
    if (!perm || !dv || !sum) {
        vx_free(perm);
        vx_free(dv);
        vx_free(sum);
        return VINDEX_ERR_NOMEM;
    }
    size_t sample = n < 10000 ? n : 10000;
    for (size_t i = 0; i < sample; i++)
        for (size_t t = 0; t < d; t++) {
            double v = x[i * d + t];
            sum[t] += v;
            sum[d + t] += v * v;
        }
    for (size_t t = 0; t < d; t++) {
        double mean = sum[t] / (double)sample;
        dv[t].var = sum[d + t] / (double)sample - mean * mean;
        dv[t].dim = (int32_t)t;
    }
    qsort(dv, d, sizeof *dv, by_variance_desc);
    size_t hd = (d / 4 + 15) / 16 * 16;
    double head_var = 0, total_var = 0;
    for (size_t t = 0; t < d; t++) {
        perm[t] = dv[t].dim;
        total_var += dv[t].var;
        if (t < hd)
            head_var += dv[t].var;
    }
    vx_free(dv);
    vx_free(sum);
    /* Heads rule out much only when they carry more than their share of the
     * variance (Fashion-MNIST: 41% in a quarter of the dimensions). On
     * isotropic data they carry their share, prune little, and the split only
     * adds a second reduction per vector: stay whole then (measured: uniform
     * 20,000 x 128 took 403 us split, 356 us whole). */
    if (!(head_var >= vx_flat_split_min_head_share * (double)hd / (double)d * total_var)) {
        vx_free(perm);
        return VINDEX_OK;
    }
    f->perm = perm;
    f->head_dim = (int)hd;
    return VINDEX_OK;
}

/* Grows storage to hold `need` vectors; leaves the index as it was on failure. */
static vindex_status reserve(flat *f, size_t need)
{
    if (need <= f->cap)
        return VINDEX_OK;
    size_t d = (size_t)f->base.d, hd = (size_t)f->head_dim, td = d - hd;
    size_t cap = f->cap * 2 > need ? f->cap * 2 : need;
    size_t elems;
    if (!vx_mul_ok(cap, d, &elems))
        return vx_fail(VINDEX_ERR_NOMEM, "add: %zu vectors of dimension %zu overflow", cap, d);
    bool l2 = f->base.metric == VINDEX_METRIC_L2;
    float *head = vx_alloc_big(cap * hd, sizeof(float));
    float *tail = td ? vx_alloc_big(cap * td, sizeof(float)) : NULL;
    float *norms = l2 ? vx_alloc(cap, sizeof(float)) : NULL;
    if (!head || (td && !tail) || (l2 && !norms)) {
        vx_free(head);
        vx_free(tail);
        vx_free(norms);
        return vx_fail(VINDEX_ERR_NOMEM, "add: out of memory for %zu vectors of dimension %zu",
                       cap, d);
    }
    size_t n = (size_t)f->base.ntotal;
    if (n) {
        memcpy(head, f->head, n * hd * sizeof(float));
        if (td)
            memcpy(tail, f->tail, n * td * sizeof(float));
        if (norms)
            memcpy(norms, f->norms, n * sizeof(float));
    }
    vx_free(f->head);
    vx_free(f->tail);
    vx_free(f->norms);
    f->head = head;
    f->tail = tail;
    f->norms = norms;
    f->cap = cap;
    return VINDEX_OK;
}

void vx_flat_borrow(vindex *ix, const float *vectors, size_t n)
{
    flat *f = (flat *)ix;
    flat_reset(ix);
    if (vectors) {
        f->head = (float *)vectors; /* never written through: add refuses borrowed views */
        f->head_dim = ix->d;
        f->borrowed = true;
        ix->ntotal = (int64_t)n;
    }
}

static vindex_status flat_add(vindex *ix, size_t n, const float *x, const vindex_id *ids)
{
    (void)ids; /* never set: IndexFlat does not support ids */
    flat *f = (flat *)ix;
    size_t d = (size_t)ix->d, at = (size_t)ix->ntotal;
    if (f->map)
        return vx_fail(VINDEX_ERR_UNSUPPORTED,
                       "add: this IndexFlat was read with VINDEX_IO_MMAP and is read-only (its "
                       "vectors lie in the mapped file); read it without the flag to change it");
    if (f->borrowed)
        return vx_index_unsupported(ix, "add to a borrowed view");
    bool first = f->head_dim == 0;
    vindex_status st = first ? choose_layout(f, n, x) : VINDEX_OK;
    if (!st)
        st = reserve(f, at + n);
    if (st) {
        if (first) { /* as it was: no layout yet */
            vx_free(f->perm);
            f->perm = NULL;
            f->head_dim = 0;
        }
        return st;
    }
    size_t hd = (size_t)f->head_dim, td = d - hd;
    if (!f->perm) {
        memcpy(f->head + at * d, x, n * d * sizeof(float));
    } else {
        for (size_t i = 0; i < n; i++) {
            const float *v = x + i * d;
            float *h = f->head + (at + i) * hd, *t = f->tail + (at + i) * td;
            for (size_t c = 0; c < hd; c++)
                h[c] = v[f->perm[c]];
            for (size_t c = 0; c < td; c++)
                t[c] = v[f->perm[hd + c]];
        }
    }
    if (f->norms)
        vx_norms_sqr(f->norms + at, x, d, n);
    ix->ntotal += (int64_t)n;
    return VINDEX_OK;
}

static vx_brute brute_of(const flat *f, const vindex_search_params *p)
{
    vx_brute b = {f->head,
                  (size_t)f->base.ntotal,
                  f->base.d,
                  f->base.metric,
                  f->norms,
                  p ? p->sel : NULL,
                  f->perm ? f->head_dim : 0,
                  f->tail,
                  f->perm,
                  true /* exact_order: ties by the smaller label on the BLAS path too */};
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
    size_t d = (size_t)ix->d, hd = (size_t)f->head_dim, td = d - hd, i = (size_t)id;
    if (!f->perm) {
        memcpy(out, f->head + i * d, d * sizeof(float));
        return VINDEX_OK;
    }
    for (size_t c = 0; c < hd; c++)
        out[f->perm[c]] = f->head[i * hd + c];
    for (size_t c = 0; c < td; c++)
        out[f->perm[hd + c]] = f->tail[i * td + c];
    return VINDEX_OK;
}

const float *vx_flat_query_layout(const vindex *ix, const float *q, float *scratch)
{
    if (!ix || ix->ops != &flat_ops)
        return NULL;
    const flat *f = (const flat *)ix;
    if (!f->perm)
        return q;
    for (int c = 0; c < ix->d; c++)
        scratch[c] = q[f->perm[c]];
    return scratch;
}

float vx_flat_score_one(const vindex *ix, const float *q_layout, vindex_id id)
{
    const flat *f = (const flat *)ix;
    const vx_kernel_table *kt = vx_kernels();
    const size_t d = (size_t)ix->d, hd = (size_t)f->head_dim, i = (size_t)id;
    if (ix->metric == VINDEX_METRIC_INNER_PRODUCT) /* never split */
        return -kt->inner_product(q_layout, f->head + i * d, d);
    if (!f->perm)
        return kt->l2sqr(q_layout, f->head + i * d, d);
    return kt->l2sqr(q_layout, f->head + i * hd, hd) +
           kt->l2sqr(q_layout + hd, f->tail + i * (d - hd), d - hd);
}

/* Lines prefetched at the start of each part of a row: the L2 streamer
 * fetches the rest of the run without tying up the L1 fill buffers, which a
 * prefetch of every line (49 at d 784) stalls on. Measured on IndexRefineFlat
 * over Fashion-MNIST (k_factor 4): 49.4 -> 47.7 us per query; no prefetch at
 * all was as slow as a whole row. */
enum { PREFETCH_LINES = 2 };

void vx_flat_prefetch(const vindex *ix, vindex_id id)
{
    const flat *f = (const flat *)ix;
    const size_t d = (size_t)ix->d, hd = (size_t)f->head_dim, i = (size_t)id;
    const size_t lead = PREFETCH_LINES * 64;
    const char *h = (const char *)(f->head + i * (f->perm ? hd : d));
    for (size_t b = 0; b < (f->perm ? hd : d) * sizeof(float) && b < lead; b += 64)
        __builtin_prefetch(h + b);
    if (f->perm) {
        const char *t = (const char *)(f->tail + i * (d - hd));
        for (size_t b = 0; b < (d - hd) * sizeof(float) && b < lead; b += 64)
            __builtin_prefetch(t + b);
    }
}

/* Compacts in place, keeping order: the vectors after a removed one move down
 * and their labels (positions) with them, as in Faiss. */
static vindex_status flat_remove_ids(vindex *ix, const vindex_selector *sel, size_t *n_removed)
{
    flat *f = (flat *)ix;
    if (f->map)
        return vx_fail(VINDEX_ERR_UNSUPPORTED,
                       "remove_ids: this IndexFlat was read with VINDEX_IO_MMAP and is "
                       "read-only (its vectors lie in the mapped file); read it without the "
                       "flag to change it");
    if (f->borrowed)
        return vx_index_unsupported(ix, "remove_ids from a borrowed view");
    size_t hd = (size_t)f->head_dim, td = (size_t)ix->d - hd;
    size_t n = (size_t)ix->ntotal, kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (vindex_selector_contains(sel, (vindex_id)i))
            continue;
        if (kept != i) {
            memmove(f->head + kept * hd, f->head + i * hd, hd * sizeof(float));
            if (td)
                memmove(f->tail + kept * td, f->tail + i * td, td * sizeof(float));
            if (f->norms)
                f->norms[kept] = f->norms[i];
        }
        kept++;
    }
    *n_removed = n - kept;
    ix->ntotal = (int64_t)kept;
    return VINDEX_OK;
}

/* Empties the index; the next add chooses the layout afresh. */
static void flat_reset(vindex *ix)
{
    flat *f = (flat *)ix;
    if (f->map) { /* every array lies in the mapping */
        vx_mapping_release(f->map);
        f->map = NULL;
    } else {
        if (!f->borrowed)
            vx_free(f->head);
        vx_free(f->tail);
        vx_free(f->norms);
        vx_free(f->perm);
    }
    f->head = f->tail = f->norms = NULL;
    f->perm = NULL;
    f->head_dim = 0;
    f->borrowed = false;
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
    return sizeof *f + f->cap * (size_t)ix->d * sizeof(float) +
           (f->norms ? f->cap * sizeof(float) : 0) + (f->perm ? (size_t)ix->d * sizeof(int32_t) : 0);
}

/* ---- persistence (docs/FORMAT.md, "IndexFlat") ---------------------------- */

#define TAG_FLAT_META VX_TAG('F', 'L', 'T', 'M')
#define TAG_FLAT_VECS VX_TAG('V', 'E', 'C', 'S')
#define TAG_FLAT_PERM VX_TAG('P', 'E', 'R', 'M')
#define TAG_FLAT_HEAD VX_TAG('H', 'E', 'A', 'D')
#define TAG_FLAT_TAIL VX_TAG('T', 'A', 'I', 'L')
#define TAG_FLAT_NORM VX_TAG('N', 'O', 'R', 'M')

static vindex_status flat_write(const vindex *ix, vx_writer *w)
{
    const flat *f = (const flat *)ix;
    size_t n = (size_t)ix->ntotal, d = (size_t)ix->d, hd = (size_t)f->head_dim;
    vx_io_write_index_header(w, ix, VX_FAMILY_FLAT);
    vx_writer_begin(w, TAG_FLAT_META);
    vx_writer_u32(w, (uint32_t)hd);
    vx_writer_u32(w, f->perm ? 1u : 0u);
    vx_writer_u32(w, f->norms ? 1u : 0u);
    vx_writer_end(w);
    if (f->perm) {
        vx_writer_array(w, TAG_FLAT_PERM, f->perm, d, sizeof(int32_t));
        vx_writer_array(w, TAG_FLAT_HEAD, f->head, n * hd, sizeof(float));
        vx_writer_array(w, TAG_FLAT_TAIL, f->tail, n * (d - hd), sizeof(float));
    } else {
        vx_writer_array(w, TAG_FLAT_VECS, f->head, n * d, sizeof(float));
    }
    if (f->norms)
        vx_writer_array(w, TAG_FLAT_NORM, f->norms, n, sizeof(float));
    return vx_writer_status(w);
}

/* n rows of `width` floats: the element count and row size, or CORRUPT. */
static vindex_status rows_array(vx_reader *r, uint32_t tag, size_t n, size_t width, bool *ip,
                                float **out)
{
    void *p;
    vindex_status st = vx_reader_array(r, tag, n, width * sizeof(float), &p, ip);
    *out = p;
    if (!st && !vx_io_all_finite(*out, n * width))
        st = vx_io_corrupt("IndexFlat: a stored vector has a NaN or infinite component");
    return st;
}

vindex_status vx_flat_read(vx_reader *r, const vx_io_index_header *h, vindex **out)
{
    vx_cursor c;
    uint32_t hd, split, has_norms;
    vindex_status st;
    if ((st = vx_reader_section(r, TAG_FLAT_META, &c)) || (st = vx_cursor_u32(&c, &hd)) ||
        (st = vx_cursor_u32(&c, &split)) || (st = vx_cursor_u32(&c, &has_norms)) ||
        (st = vx_cursor_done(&c)))
        return st;
    const size_t n = (size_t)h->ntotal, d = (size_t)h->d;
    const bool l2 = h->metric == VINDEX_METRIC_L2;
    if (!h->is_trained || split > 1 || has_norms > 1 || (has_norms && !l2) || hd > d ||
        (hd == 0 && (n > 0 || split)) || (split && (hd == d || !l2)) ||
        (!split && hd != 0 && hd != d))
        return vx_io_corrupt("IndexFlat: inconsistent layout (d %zu, head_dim %u, split %u, "
                             "norms %u, ntotal %zu)",
                             d, hd, split, has_norms, n);
    if ((st = vindex_flat_new(out, h->d, h->metric)))
        return st;
    flat *f = (flat *)*out;
    /* In place only when every array is non-empty, so that all or none are. */
    bool mapped = vx_reader_in_place(r) && n > 0, ip = false;
    bool *want = mapped ? &ip : NULL;
    f->head_dim = (int)hd;
    if (split) {
        void *perm;
        if ((st = vx_reader_array(r, TAG_FLAT_PERM, d, sizeof(int32_t), &perm, want)))
            goto fail;
        f->perm = perm;
        /* a permutation of 0..d-1, or reconstruct would write out of bounds */
        uint8_t *seen = vx_calloc(d, 1);
        if (!seen) {
            st = VINDEX_ERR_NOMEM;
            goto fail;
        }
        for (size_t t = 0; t < d && !st; t++) {
            int32_t v = f->perm[t];
            if (v < 0 || (size_t)v >= d || seen[v])
                st = vx_io_corrupt("IndexFlat: the dimension order is not a permutation");
            else
                seen[v] = 1;
        }
        vx_free(seen);
        if (st || (st = rows_array(r, TAG_FLAT_HEAD, n, hd, want, &f->head)) ||
            (st = rows_array(r, TAG_FLAT_TAIL, n, d - hd, want, &f->tail)))
            goto fail;
    } else if ((st = rows_array(r, TAG_FLAT_VECS, n, d, want, &f->head))) {
        goto fail;
    }
    if (has_norms) {
        void *norms;
        if ((st = vx_reader_array(r, TAG_FLAT_NORM, n, sizeof(float), &norms, want)))
            goto fail;
        f->norms = norms;
    }
    if (mapped) {
        f->map = vx_mapping_ref(vx_reader_mapping(r));
        f->borrowed = true;
    } else {
        f->cap = n;
    }
    (*out)->ntotal = (int64_t)n;
    return VINDEX_OK;
fail:
    if (mapped) { /* nothing of the mapping is ours to free */
        f->head = f->tail = f->norms = NULL;
        f->perm = NULL;
    }
    vindex_free(*out);
    *out = NULL;
    return st;
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
    .write = flat_write,
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
