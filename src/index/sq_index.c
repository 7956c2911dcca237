/*
 * IndexScalarQuantizer: every vector stored as a scalar-quantizer code (see
 * quant/sq.h), in insertion order; labels are positions, as IndexFlat.
 *
 * Search streams the codes: the kernels of simd/sq_kernels.h score a block of
 * codes against one prepared query straight from the code bytes, the SIMD
 * filter select_le keeps the few scores that can beat the heap's root, and
 * only those reach vx_heap_push. A single query over Fashion-MNIST (60,000 x
 * 784 bytes = 47 MB) is then bound by reading the codes and widening them.
 *
 * Threads: a batch is split over queries; when there are fewer queries than
 * threads, the base is also cut into segments with a heap each, merged at the
 * end. Every (query, code) score comes from the same kernel sequence wherever
 * the code falls, and the heaps keep the k best by (score, id), a total order,
 * so results do not depend on the thread count.
 */
#include <stdatomic.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../core/selector.h"
#include "../core/threads.h"
#include "../core/topk.h"
#include "../io/codecs.h"
#include "../io/registry.h"
#include "../quant/sq.h"
#include "../simd/kernels.h"
#include "index.h"
#include "sq_index.h"

enum {
    SCORE_BLOCK = 256,    /* codes scored per kernel call: the scores stay in L1 */
    MIN_SEGMENT = 8192,   /* a single query is split into segments of at least this */
    ENCODE_CHUNK = 1024,  /* vectors encoded per task in add */
};

typedef struct sq_index {
    vindex base;
    vx_sq sq;
    vx_codes codes; /* owned, or in place in a mapped file until written to */
} sq_index;

static const vx_index_ops sq_ops;

/* ---- train, add --------------------------------------------------------- */

static vindex_status sq_train(vindex *ix, size_t n, const float *x)
{
    sq_index *s = (sq_index *)ix;
    if (!vx_sq_type_needs_training(s->sq.type))
        return VINDEX_OK; /* fp16 / bf16: nothing to learn, as Faiss */
    if (ix->ntotal > 0)
        return vx_fail(VINDEX_ERR_INVALID,
                       "train: IndexScalarQuantizer already holds %lld codes made with the "
                       "current ranges; reset() it before training again",
                       (long long)ix->ntotal);
    vindex_status st = vx_sq_train(&s->sq, n, x);
    if (!st)
        ix->is_trained = true;
    return st;
}

typedef struct encode_job {
    const vx_sq *sq;
    const float *x;
    size_t n;
    uint8_t *codes;
} encode_job;

static void encode_task(void *ctx, size_t task, int worker)
{
    (void)worker;
    const encode_job *e = ctx;
    size_t i0 = task * ENCODE_CHUNK, m = e->n - i0 < ENCODE_CHUNK ? e->n - i0 : ENCODE_CHUNK;
    vx_sq_encode(e->sq, m, e->x + i0 * (size_t)e->sq->d, NULL, e->codes + i0 * e->sq->code_size);
}

static vindex_status sq_add(vindex *ix, size_t n, const float *x, const vindex_id *ids)
{
    (void)ids; /* never set: labels are positions */
    sq_index *s = (sq_index *)ix;
    const size_t at = (size_t)ix->ntotal;
    vindex_status st = vx_codes_reserve(&s->codes, at, at + n, s->sq.code_size, "add");
    if (st)
        return st;
    encode_job e = {&s->sq, x, n, s->codes.p + at * s->sq.code_size};
    size_t ntasks = (n + ENCODE_CHUNK - 1) / ENCODE_CHUNK;
    vx_parallel_for(ntasks, ntasks > 1 ? vx_num_threads() : 1, encode_task, &e);
    ix->ntotal += (int64_t)n;
    return VINDEX_OK;
}

/* ---- search ------------------------------------------------------------- */

typedef struct sq_job {
    const sq_index *s;
    const float *q;
    size_t nq, k;
    const vindex_selector *sel;
    const vx_sq_kernel_table *kt;
    size_t nseg, seg_len;
    int nthreads;
    float *qbufs;      /* per worker: d floats */
    float *scores;     /* per worker: SCORE_BLOCK */
    uint32_t *picked;  /* per worker: SCORE_BLOCK */
    float *out_dis;    /* k-NN heaps: the output when nseg == 1 */
    vindex_id *out_ids;
    float *seg_dis;    /* nq x nseg x k when nseg > 1 */
    vindex_id *seg_ids;
    float radius;      /* range search */
    vx_range_list *lists;
    atomic_int status;
} sq_job;

static void knn_task(void *ctx, size_t task, int worker)
{
    sq_job *j = ctx;
    const sq_index *s = j->s;
    const size_t d = (size_t)s->base.d, cs = s->sq.code_size, k = j->k;
    const size_t i = task / j->nseg, seg = task % j->nseg;
    const size_t n = (size_t)s->base.ntotal;
    size_t j0 = seg * j->seg_len, j1 = j0 + j->seg_len < n ? j0 + j->seg_len : n;
    float *hd = j->nseg == 1 ? j->out_dis + i * k : j->seg_dis + task * k;
    vindex_id *hi = j->nseg == 1 ? j->out_ids + i * k : j->seg_ids + task * k;
    float *sc = j->scores + (size_t)worker * SCORE_BLOCK;
    uint32_t *picked = j->picked + (size_t)worker * SCORE_BLOCK;
    size_t (*select_le)(uint32_t *, const float *, const float *, size_t, float) =
        vx_kernels()->select_le;
    vx_sq_query sqq;
    vx_sq_query_prepare(&sqq, &s->sq, j->kt, s->base.metric, j->q + i * d, NULL,
                        j->qbufs + (size_t)worker * d);
    vx_heap_init(hd, hi, k);
    for (size_t b0 = j0; b0 < j1; b0 += SCORE_BLOCK) {
        size_t m = j1 - b0 < SCORE_BLOCK ? j1 - b0 : SCORE_BLOCK;
        vx_sq_query_scores(&sqq, s->codes.p + b0 * cs, m, 0.0f, sc);
        size_t np = select_le(picked, sc, NULL, m, hd[0]);
        for (size_t c = 0; c < np; c++) {
            vindex_id id = (vindex_id)(b0 + picked[c]);
            if (j->sel && !vindex_selector_contains(j->sel, id))
                continue;
            vx_heap_push(hd, hi, k, sc[picked[c]], id);
        }
    }
}

static void range_task(void *ctx, size_t i, int worker)
{
    sq_job *j = ctx;
    const sq_index *s = j->s;
    const size_t d = (size_t)s->base.d, cs = s->sq.code_size, n = (size_t)s->base.ntotal;
    const bool l2 = s->base.metric == VINDEX_METRIC_L2;
    float *sc = j->scores + (size_t)worker * SCORE_BLOCK;
    vx_sq_query sqq;
    vx_sq_query_prepare(&sqq, &s->sq, j->kt, s->base.metric, j->q + i * d, NULL,
                        j->qbufs + (size_t)worker * d);
    for (size_t b0 = 0; b0 < n; b0 += SCORE_BLOCK) {
        size_t m = n - b0 < SCORE_BLOCK ? n - b0 : SCORE_BLOCK;
        vx_sq_query_scores(&sqq, s->codes.p + b0 * cs, m, 0.0f, sc);
        for (size_t c = 0; c < m; c++) {
            float dis = l2 ? sc[c] : -sc[c];
            if (!(l2 ? dis < j->radius : dis > j->radius))
                continue;
            vindex_id id = (vindex_id)(b0 + c);
            if (!vx_selected(j->sel, id))
                continue;
            if (vx_range_push(&j->lists[i], dis, id) != VINDEX_OK) {
                atomic_store(&j->status, VINDEX_ERR_NOMEM);
                return;
            }
        }
    }
}

/* Below this many code bytes scored in all, waking the pool costs more than
 * it saves. */
#define SMALL_WORK ((size_t)1 << 20)

static vindex_status job_init(sq_job *j, const sq_index *s, size_t nq, const float *q, size_t k,
                              const vindex_search_params *p)
{
    memset(j, 0, sizeof *j);
    const size_t n = (size_t)s->base.ntotal, d = (size_t)s->base.d;
    j->s = s;
    j->q = q;
    j->nq = nq;
    j->k = k;
    j->sel = p ? p->sel : NULL;
    j->kt = vx_sq_kernels();
    atomic_init(&j->status, VINDEX_OK);
    size_t work;
    j->nthreads = vx_num_threads();
    if (!vx_mul_ok(nq, n, &work) || !vx_mul_ok(work, s->sq.code_size, &work))
        work = SIZE_MAX;
    if (work < SMALL_WORK)
        j->nthreads = 1;
    j->nseg = 1;
    j->seg_len = n;
    if (k && nq < (size_t)j->nthreads) {
        /* too few queries for the threads: cut the base too (about two tasks
         * per thread, segments of at least MIN_SEGMENT codes) */
        size_t want = (2 * (size_t)j->nthreads + nq - 1) / nq, most = n / MIN_SEGMENT;
        j->nseg = want < most ? want : most;
        if (j->nseg < 1)
            j->nseg = 1;
        j->seg_len = (n + j->nseg - 1) / j->nseg;
        j->nseg = (n + j->seg_len - 1) / j->seg_len;
    }
    const size_t nt = (size_t)j->nthreads;
    j->qbufs = vx_alloc(nt, d * sizeof(float));
    j->scores = vx_alloc(nt, SCORE_BLOCK * sizeof(float));
    j->picked = vx_alloc(nt, SCORE_BLOCK * sizeof(uint32_t));
    if (!j->qbufs || !j->scores || !j->picked)
        return VINDEX_ERR_NOMEM;
    if (j->nseg > 1) {
        j->seg_dis = vx_alloc(nq * j->nseg, k * sizeof(float));
        j->seg_ids = vx_alloc(nq * j->nseg, k * sizeof(vindex_id));
        if (!j->seg_dis || !j->seg_ids)
            return VINDEX_ERR_NOMEM;
    }
    return VINDEX_OK;
}

static void job_free(sq_job *j)
{
    vx_free(j->qbufs);
    vx_free(j->scores);
    vx_free(j->picked);
    vx_free(j->seg_dis);
    vx_free(j->seg_ids);
}

static vindex_status sq_search(const vindex *ix, size_t nq, const float *q, size_t k,
                               const vindex_search_params *p, float *distances, vindex_id *labels)
{
    const sq_index *s = (const sq_index *)ix;
    sq_job j;
    vindex_status st = job_init(&j, s, nq, q, k, p);
    if (!st) {
        j.out_dis = distances;
        j.out_ids = labels;
        vx_parallel_for(nq * j.nseg, j.nthreads, knn_task, &j);
        for (size_t i = 0; i < nq; i++) {
            float *hd = distances + i * k;
            vindex_id *hi = labels + i * k;
            if (j.nseg > 1)
                vx_heap_merge_segments(hd, hi, k, j.seg_dis + i * j.nseg * k,
                                       j.seg_ids + i * j.nseg * k, j.nseg);
            vx_topk_finish(hd, hi, k, ix->metric);
        }
    }
    job_free(&j);
    return st;
}

static vindex_status sq_range_search(const vindex *ix, size_t nq, const float *q, float radius,
                                     const vindex_search_params *p, vx_range_list *lists)
{
    const sq_index *s = (const sq_index *)ix;
    sq_job j;
    vindex_status st = job_init(&j, s, nq, q, 0, p);
    if (!st) {
        j.radius = radius;
        j.lists = lists;
        vx_parallel_for(nq, j.nthreads, range_task, &j);
        st = (vindex_status)atomic_load(&j.status);
        if (st)
            vx_fail(st, "range_search: out of memory for results");
    }
    job_free(&j);
    return st;
}

/* ---- reconstruct, remove, reset ----------------------------------------- */

static vindex_status sq_reconstruct(const vindex *ix, vindex_id id, float *out)
{
    const sq_index *s = (const sq_index *)ix;
    if (id < 0 || id >= ix->ntotal)
        return vx_fail(VINDEX_ERR_NOT_FOUND, "reconstruct: id %lld is not in the index (0..%lld)",
                       (long long)id, (long long)ix->ntotal - 1);
    vx_sq_decode(&s->sq, 1, s->codes.p + (size_t)id * s->sq.code_size, NULL, out);
    return VINDEX_OK;
}

/* Compacts in place, keeping order: labels (positions) of later codes shift
 * down, as in Faiss. */
static vindex_status sq_remove_ids(vindex *ix, const vindex_selector *sel, size_t *n_removed)
{
    sq_index *s = (sq_index *)ix;
    const size_t cs = s->sq.code_size, n = (size_t)ix->ntotal;
    vindex_status st = vx_codes_reserve(&s->codes, n, n, cs, "remove_ids"); /* copy on write */
    if (st)
        return st;
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (vindex_selector_contains(sel, (vindex_id)i))
            continue;
        if (kept != i)
            memmove(s->codes.p + kept * cs, s->codes.p + i * cs, cs);
        kept++;
    }
    *n_removed = n - kept;
    ix->ntotal = (int64_t)kept;
    return VINDEX_OK;
}

static void sq_reset(vindex *ix)
{
    sq_index *s = (sq_index *)ix;
    vx_codes_free(&s->codes);
    ix->ntotal = 0;
}

static void sq_destroy(vindex *ix)
{
    sq_index *s = (sq_index *)ix;
    sq_reset(ix);
    vx_sq_free(&s->sq);
    vx_free(s);
}

static size_t sq_memory(const vindex *ix)
{
    const sq_index *s = (const sq_index *)ix;
    return sizeof *s + vx_codes_memory(&s->codes, s->sq.code_size) + vx_sq_memory(&s->sq);
}

static vindex_status sq_get_param(const vindex *ix, const char *name, double *value)
{
    const sq_index *s = (const sq_index *)ix;
    if (!strcmp(name, "code_size")) {
        *value = (double)s->sq.code_size;
        return VINDEX_OK;
    }
    return VINDEX_ERR_NOT_FOUND;
}

/* ---- persistence (docs/FORMAT.md, "IndexScalarQuantizer") ---------------- */

#define TAG_CODES VX_TAG('C', 'O', 'D', 'E')

static vindex_status sq_write(const vindex *ix, vx_writer *w)
{
    const sq_index *s = (const sq_index *)ix;
    vx_io_write_index_header(w, ix, VX_FAMILY_SQ);
    vx_io_write_sq(w, &s->sq);
    vx_io_write_codes(w, TAG_CODES, &s->codes, (size_t)ix->ntotal, s->sq.code_size);
    return vx_writer_status(w);
}

vindex_status vx_sq_index_read(vx_reader *r, const vx_io_index_header *h, vindex **out)
{
    vx_sq sq;
    vindex_status st = vx_io_read_sq(r, h->d, &sq, "IndexScalarQuantizer");
    if (!st && (sq.trained != h->is_trained || (h->ntotal > 0 && !sq.trained)))
        st = vx_io_corrupt("IndexScalarQuantizer: is_trained %d but the ranges are %s",
                           (int)h->is_trained, sq.trained ? "trained" : "untrained");
    if (!st)
        st = vindex_sq_new(out, h->d, sq.type, h->metric);
    if (st) {
        vx_sq_free(&sq);
        return st;
    }
    sq_index *s = (sq_index *)*out; /* freed by the caller on failure */
    vx_sq_free(&s->sq);
    s->sq = sq;
    s->base.is_trained = sq.trained;
    if ((st = vx_io_read_codes(r, TAG_CODES, (size_t)h->ntotal, sq.code_size, &s->codes)))
        return st;
    s->base.ntotal = h->ntotal;
    return VINDEX_OK;
}

static const vx_index_ops sq_ops = {
    .type_name = "IndexScalarQuantizer",
    .train = sq_train,
    .add = sq_add,
    .search = sq_search,
    .range_search = sq_range_search,
    .reconstruct = sq_reconstruct,
    .remove_ids = sq_remove_ids,
    .reset = sq_reset,
    .destroy = sq_destroy,
    .memory_bytes = sq_memory,
    .get_param = sq_get_param,
    .write = sq_write,
};

VINDEX_API vindex_status vindex_sq_new(vindex **out, int d, vindex_sq_type type,
                                       vindex_metric metric)
{
    vx_clear_error();
    vindex_status st = vx_check_new_args(out, d, metric, "IndexScalarQuantizer");
    if (st)
        return st;
    if (!vx_sq_type_valid(type))
        return vx_fail(VINDEX_ERR_INVALID,
                       "IndexScalarQuantizer: unknown quantizer type %d (0 8bit, 1 4bit, "
                       "2 8bit_uniform, 3 fp16, 4 bf16)",
                       (int)type);
    sq_index *s = vx_calloc(1, sizeof *s);
    if (!s)
        return VINDEX_ERR_NOMEM;
    if ((st = vx_sq_init(&s->sq, type, d))) {
        vx_free(s);
        return st;
    }
    vx_index_init(&s->base, &sq_ops, d, metric, s->sq.trained);
    *out = &s->base;
    return VINDEX_OK;
}

VINDEX_API vindex_status vindex_sq_type_of(const vindex *ix, vindex_sq_type *type)
{
    vx_clear_error();
    if (!ix || !type)
        return vx_fail(VINDEX_ERR_INVALID, "sq_type_of: %s is NULL", ix ? "type" : "index");
    if (ix->ops == &sq_ops) {
        *type = ((const sq_index *)ix)->sq.type;
        return VINDEX_OK;
    }
    if (vx_ivf_sq_type(ix, type))
        return VINDEX_OK;
    return vx_fail(VINDEX_ERR_UNSUPPORTED, "sq_type_of: %s is not a scalar-quantizer index",
                   ix->ops->type_name);
}
