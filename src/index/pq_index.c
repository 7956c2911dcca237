/*
 * IndexPQ: every vector stored as its product-quantization code (see
 * quant/pq.h), searched exhaustively by asymmetric distances: a query's
 * distance table (M x 2^nbits) once, then M lookups per code. Labels are
 * positions, as IndexFlat.
 *
 * Search. Faiss scans the codes once per query. Here, for 8-bit codes and
 * batches, queries go in groups of 16 and their tables are stored transposed
 * (entry (m, c) of the 16 queries side by side, 64 bytes): one pass over the
 * codes then serves the whole group, each lookup a single vector load giving
 * 16 queries' terms, and one vector compare against the 16 heap thresholds
 * tells whether any query wants the code. For PQ16x8 the group's table is
 * 256 KiB and stays in L2. Single queries (and other code widths) scan with
 * one table. Both paths add a code's M terms in the same order, so a query
 * gets the same distances, bit for bit, alone or in a batch.
 *
 * Work is cut into (query group, code segment) tasks; with few groups the
 * codes are split into segments so that a single query uses every thread,
 * and per-segment heaps are merged (the (score, id) order is total, so the
 * result does not depend on the split).
 */
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../core/selector.h"
#include "../core/threads.h"
#include "../core/topk.h"
#include "../io/codecs.h"
#include "../io/registry.h"
#include "../quant/pq.h"
#include "../simd/kernels.h"
#include "../simd/pq_kernels.h"
#include "index.h"

typedef struct pq_index {
    vindex base;
    vx_pq pq;
    vx_codes codes; /* owned, or in place in a mapped file until written to */
} pq_index;

static const vx_index_ops pq_ops;

/* ---- train, add --------------------------------------------------------- */

static vindex_status pq_train(vindex *ix, size_t n, const float *x)
{
    pq_index *p = (pq_index *)ix;
    if (ix->ntotal > 0)
        return vx_fail(VINDEX_ERR_INVALID,
                       "train: IndexPQ already holds %lld vectors; reset() it before training "
                       "again",
                       (long long)ix->ntotal);
    vindex_status st = vx_pq_train(&p->pq, n, x, "train");
    if (!st)
        ix->is_trained = true;
    return st;
}

static vindex_status pq_add(vindex *ix, size_t n, const float *x, const vindex_id *ids)
{
    (void)ids;
    pq_index *p = (pq_index *)ix;
    const size_t cs = p->pq.code_size, at = (size_t)ix->ntotal;
    vindex_status st = vx_codes_reserve(&p->codes, at, at + n, cs, "add");
    if (st)
        return st;
    st = vx_pq_encode(&p->pq, n, x, p->codes.p + at * cs);
    if (st)
        return st; /* ntotal unchanged: nothing was added */
    ix->ntotal += (int64_t)n;
    return VINDEX_OK;
}

/* ---- k-NN search -------------------------------------------------------- */

enum {
    SCAN_CHUNK = 256,           /* codes scored per kernel call */
    MIN_SEGMENT = 4096,         /* codes per task, at least */
    TABLE_BUDGET = 1 << 22,     /* floats of tables per query block */
};

typedef struct search_job {
    const pq_index *p;
    const float *q;
    size_t nq, k;
    bool tq;            /* transposed tables, groups of VX_PQ_TQ queries */
    size_t group;       /* queries per group: VX_PQ_TQ or 1 */
    size_t ngroups, nseg, seg_len;
    const vindex_selector *sel;
    float *tables;      /* the block's tables (transposed per group with tq) */
    float *table_scratch;
    float *tmp_tables;  /* per worker: VX_PQ_TQ plain tables, before transposing */
    float *scores;      /* per worker: SCAN_CHUNK x group */
    uint32_t *hits;     /* per worker: SCAN_CHUNK */
    /* heaps: the output rows when nseg == 1, else nq x nseg x k */
    float *out_dis, *seg_dis;
    vindex_id *out_ids, *seg_ids;
} search_job;

static size_t table_floats(const vx_pq *pq) { return (size_t)pq->M * pq->ksub; }

/* Tables of one group of queries, transposed when tq. */
static void tables_task(void *ctx, size_t g, int worker)
{
    search_job *j = ctx;
    const vx_pq *pq = &j->p->pq;
    const size_t tf = table_floats(pq), d = (size_t)pq->d;
    const size_t q0 = g * j->group, nqg = j->nq - q0 < j->group ? j->nq - q0 : j->group;
    float *scratch = j->table_scratch + (size_t)worker * VX_PQ_TABLE_QB * (pq->dsub + 256);
    if (!j->tq) {
        vx_pq_tables(pq, nqg, j->q + q0 * d, j->p->base.metric, true, j->tables + q0 * tf,
                     scratch);
        return;
    }
    float *tmp = j->tmp_tables + (size_t)worker * VX_PQ_TQ * tf;
    vx_pq_tables(pq, nqg, j->q + q0 * d, j->p->base.metric, true, tmp, scratch);
    float *tt = j->tables + g * VX_PQ_TQ * tf;
    for (size_t e = 0; e < tf; e++) {
        float *dst = tt + e * VX_PQ_TQ;
        for (size_t a = 0; a < nqg; a++)
            dst[a] = tmp[a * tf + e];
        for (size_t a = nqg; a < VX_PQ_TQ; a++)
            dst[a] = 0; /* padding queries: never pushed (threshold -inf) */
    }
}

static void heap_of(const search_job *j, size_t qi, size_t seg, float **hd, vindex_id **hi)
{
    if (j->nseg == 1) {
        *hd = j->out_dis + qi * j->k;
        *hi = j->out_ids + qi * j->k;
    } else {
        size_t at = (qi * j->nseg + seg) * j->k;
        *hd = j->seg_dis + at;
        *hi = j->seg_ids + at;
    }
}

static void scan_task(void *ctx, size_t task, int worker)
{
    search_job *j = ctx;
    const pq_index *p = j->p;
    const vx_pq *pq = &p->pq;
    const size_t g = task / j->nseg, seg = task % j->nseg, k = j->k, cs = pq->code_size;
    const size_t tf = table_floats(pq);
    const size_t q0 = g * j->group, nqg = j->nq - q0 < j->group ? j->nq - q0 : j->group;
    const size_t c0 = seg * j->seg_len, ntot = (size_t)p->base.ntotal;
    const size_t c1 = c0 + j->seg_len < ntot ? c0 + j->seg_len : ntot;
    float *scores = j->scores + (size_t)worker * SCAN_CHUNK * j->group;
    uint32_t *hits = j->hits + (size_t)worker * SCAN_CHUNK;
    float *hd[VX_PQ_TQ];
    vindex_id *hi[VX_PQ_TQ];
    for (size_t a = 0; a < nqg; a++) {
        heap_of(j, q0 + a, seg, &hd[a], &hi[a]);
        vx_heap_init(hd[a], hi[a], k);
    }
    if (j->tq) {
        const vx_pq_kernel_table *kt = vx_pq_kernels();
        const float *tt = j->tables + g * VX_PQ_TQ * tf;
        float thr[VX_PQ_TQ];
        for (size_t a = 0; a < VX_PQ_TQ; a++)
            thr[a] = a < nqg ? hd[a][0] : -INFINITY;
        for (size_t b0 = c0; b0 < c1; b0 += SCAN_CHUNK) {
            size_t nb = c1 - b0 < SCAN_CHUNK ? c1 - b0 : SCAN_CHUNK;
            size_t nh = kt->scan8_tq(scores, hits, tt, (size_t)pq->M, p->codes.p + b0 * cs, nb,
                                     thr);
            for (size_t h = 0; h < nh; h++) {
                size_t jj = hits[h];
                vindex_id id = (vindex_id)(b0 + jj);
                const float *s = scores + jj * VX_PQ_TQ;
                bool checked = false, ok = true;
                for (size_t a = 0; a < nqg; a++) {
                    if (!(s[a] <= thr[a]))
                        continue;
                    if (j->sel && !checked) {
                        ok = vindex_selector_contains(j->sel, id);
                        checked = true;
                    }
                    if (!ok)
                        break;
                    vx_heap_push(hd[a], hi[a], k, s[a], id);
                    thr[a] = hd[a][0];
                }
            }
        }
        return;
    }
    /* one query */
    size_t (*select_le)(uint32_t *, const float *, const float *, size_t, float) =
        vx_kernels()->select_le;
    const float *table = j->tables + q0 * tf;
    for (size_t b0 = c0; b0 < c1; b0 += SCAN_CHUNK) {
        size_t nb = c1 - b0 < SCAN_CHUNK ? c1 - b0 : SCAN_CHUNK;
        vx_pq_scan(pq, table, nb, p->codes.p + b0 * cs, scores);
        size_t nh = select_le(hits, scores, NULL, nb, hd[0][0]);
        for (size_t h = 0; h < nh; h++) {
            size_t t = hits[h];
            if (scores[t] > hd[0][0] || !vx_selected(j->sel, (vindex_id)(b0 + t)))
                continue;
            vx_heap_push(hd[0], hi[0], k, scores[t], (vindex_id)(b0 + t));
        }
    }
}

static void search_job_free(search_job *j)
{
    vx_free(j->tables);
    vx_free(j->table_scratch);
    vx_free(j->tmp_tables);
    vx_free(j->scores);
    vx_free(j->hits);
    vx_free(j->seg_dis);
    vx_free(j->seg_ids);
}

static vindex_status pq_search(const vindex *ix, size_t nq, const float *q, size_t k,
                               const vindex_search_params *params, float *distances,
                               vindex_id *labels)
{
    const pq_index *p = (const pq_index *)ix;
    const vx_pq *pq = &p->pq;
    const size_t tf = table_floats(pq), d = (size_t)ix->d, ntot = (size_t)ix->ntotal;
    const int nthreads = vx_num_threads();
    const size_t nt = (size_t)nthreads;
    search_job j;
    memset(&j, 0, sizeof j);
    j.p = p;
    j.k = k;
    j.sel = params ? params->sel : NULL;
    j.tq = pq->nbits == 8 && nq >= 2;
    j.group = j.tq ? VX_PQ_TQ : 1;
    /* query block: tables within the budget, whole groups */
    size_t qb = TABLE_BUDGET / tf;
    qb = qb < j.group ? j.group : qb / j.group * j.group;
    if (qb > nq)
        qb = nq;
    const size_t max_groups = (qb + j.group - 1) / j.group;
    /* segments: enough tasks for every thread when there are few groups */
    size_t nseg = 1;
    if (max_groups < 2 * nt) {
        nseg = (2 * nt + max_groups - 1) / max_groups;
        size_t most = ntot / MIN_SEGMENT > 0 ? ntot / MIN_SEGMENT : 1;
        if (nseg > most)
            nseg = most;
    }
    j.nseg = nseg;
    j.seg_len = (ntot + nseg - 1) / nseg;
    vindex_status st = VINDEX_OK;
    j.tables = vx_alloc(max_groups * j.group, tf * sizeof(float));
    j.table_scratch = vx_alloc(nt * VX_PQ_TABLE_QB, (pq->dsub + 256) * sizeof(float));
    j.scores = vx_alloc(nt * SCAN_CHUNK, j.group * sizeof(float));
    j.hits = vx_alloc(nt * SCAN_CHUNK, sizeof(uint32_t));
    if (!j.tables || !j.table_scratch || !j.scores || !j.hits ||
        (j.tq && !(j.tmp_tables = vx_alloc(nt * VX_PQ_TQ, tf * sizeof(float))))) {
        st = VINDEX_ERR_NOMEM;
        goto done;
    }
    if (nseg > 1) {
        j.seg_dis = vx_alloc(qb * nseg, k * sizeof(float));
        j.seg_ids = vx_alloc(qb * nseg, k * sizeof(vindex_id));
        if (!j.seg_dis || !j.seg_ids) {
            st = VINDEX_ERR_NOMEM;
            goto done;
        }
    }
    for (size_t b0 = 0; b0 < nq; b0 += qb) {
        j.nq = nq - b0 < qb ? nq - b0 : qb;
        j.q = q + b0 * d;
        j.ngroups = (j.nq + j.group - 1) / j.group;
        j.out_dis = distances + b0 * k;
        j.out_ids = labels + b0 * k;
        vx_parallel_for(j.ngroups, nthreads, tables_task, &j);
        vx_parallel_for(j.ngroups * nseg, nthreads, scan_task, &j);
        for (size_t i = 0; i < j.nq; i++) {
            float *od = j.out_dis + i * k;
            vindex_id *oi = j.out_ids + i * k;
            if (nseg > 1)
                vx_heap_merge_segments(od, oi, k, j.seg_dis + i * nseg * k,
                                       j.seg_ids + i * nseg * k, nseg);
            vx_topk_finish(od, oi, k, ix->metric);
        }
    }
done:
    search_job_free(&j);
    return st;
}

/* ---- range search ------------------------------------------------------- */

typedef struct range_job {
    const pq_index *p;
    const float *q;
    float radius;
    const vindex_selector *sel;
    float *tables, *scratch, *scores; /* per worker */
    vx_range_list *lists;
    atomic_int status;
} range_job;

static void range_task(void *ctx, size_t i, int worker)
{
    range_job *j = ctx;
    const pq_index *p = j->p;
    const vx_pq *pq = &p->pq;
    const size_t tf = table_floats(pq), cs = pq->code_size, ntot = (size_t)p->base.ntotal;
    const bool l2 = p->base.metric == VINDEX_METRIC_L2;
    float *table = j->tables + (size_t)worker * tf;
    float *scores = j->scores + (size_t)worker * SCAN_CHUNK;
    vx_pq_tables(pq, 1, j->q + i * (size_t)pq->d, p->base.metric, true, table,
                 j->scratch + (size_t)worker * VX_PQ_TABLE_QB * (pq->dsub + 256));
    for (size_t b0 = 0; b0 < ntot; b0 += SCAN_CHUNK) {
        size_t nb = ntot - b0 < SCAN_CHUNK ? ntot - b0 : SCAN_CHUNK;
        vx_pq_scan(pq, table, nb, p->codes.p + b0 * cs, scores);
        for (size_t t = 0; t < nb; t++) {
            float dis = l2 ? scores[t] : -scores[t];
            if (!(l2 ? dis < j->radius : dis > j->radius))
                continue;
            vindex_id id = (vindex_id)(b0 + t);
            if (!vx_selected(j->sel, id))
                continue;
            if (vx_range_push(&j->lists[i], dis, id) != VINDEX_OK) {
                atomic_store(&j->status, VINDEX_ERR_NOMEM);
                return;
            }
        }
    }
}

static vindex_status pq_range_search(const vindex *ix, size_t nq, const float *q, float radius,
                                     const vindex_search_params *params, vx_range_list *lists)
{
    const pq_index *p = (const pq_index *)ix;
    const int nthreads = vx_num_threads();
    const size_t nt = (size_t)nthreads;
    range_job j = {.p = p, .q = q, .radius = radius, .sel = params ? params->sel : NULL,
                   .lists = lists};
    atomic_init(&j.status, VINDEX_OK);
    j.tables = vx_alloc(nt, table_floats(&p->pq) * sizeof(float));
    j.scratch = vx_alloc(nt * VX_PQ_TABLE_QB, (p->pq.dsub + 256) * sizeof(float));
    j.scores = vx_alloc(nt * SCAN_CHUNK, sizeof(float));
    vindex_status st = VINDEX_OK;
    if (!j.tables || !j.scratch || !j.scores) {
        st = VINDEX_ERR_NOMEM;
    } else {
        vx_parallel_for(nq, nthreads, range_task, &j);
        st = (vindex_status)atomic_load(&j.status);
        if (st)
            vx_fail(st, "range_search: out of memory for results");
    }
    vx_free(j.tables);
    vx_free(j.scratch);
    vx_free(j.scores);
    return st;
}

/* ---- reconstruct, remove, reset ----------------------------------------- */

static vindex_status pq_reconstruct(const vindex *ix, vindex_id id, float *out)
{
    const pq_index *p = (const pq_index *)ix;
    if (id < 0 || id >= ix->ntotal)
        return vx_fail(VINDEX_ERR_NOT_FOUND, "reconstruct: id %lld is not in the index (0..%lld)",
                       (long long)id, (long long)ix->ntotal - 1);
    vx_pq_decode(&p->pq, 1, p->codes.p + (size_t)id * p->pq.code_size, out);
    return VINDEX_OK;
}

static vindex_status pq_remove_ids(vindex *ix, const vindex_selector *sel, size_t *n_removed)
{
    pq_index *p = (pq_index *)ix;
    const size_t cs = p->pq.code_size, n = (size_t)ix->ntotal;
    vindex_status st = vx_codes_reserve(&p->codes, n, n, cs, "remove_ids"); /* copy on write */
    if (st)
        return st;
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (vindex_selector_contains(sel, (vindex_id)i))
            continue;
        if (kept != i)
            memcpy(p->codes.p + kept * cs, p->codes.p + i * cs, cs);
        kept++;
    }
    *n_removed = n - kept;
    ix->ntotal = (int64_t)kept;
    return VINDEX_OK;
}

static void pq_reset(vindex *ix)
{
    pq_index *p = (pq_index *)ix;
    vx_codes_free(&p->codes);
    ix->ntotal = 0;
}

static void pq_destroy(vindex *ix)
{
    pq_index *p = (pq_index *)ix;
    vx_codes_free(&p->codes);
    vx_pq_destroy(&p->pq);
    vx_free(p);
}

static size_t pq_memory(const vindex *ix)
{
    const pq_index *p = (const pq_index *)ix;
    return sizeof *p + vx_codes_memory(&p->codes, p->pq.code_size) + vx_pq_memory(&p->pq);
}

/* ---- parameters: the PQ training parameters ----------------------------- */

static vindex_status pq_set_param(vindex *ix, const char *name, double value)
{
    return vx_pq_set_cp_param(&((pq_index *)ix)->pq, name, value);
}

static vindex_status pq_get_param(const vindex *ix, const char *name, double *value)
{
    return vx_pq_get_cp_param(&((const pq_index *)ix)->pq, name, value);
}

/* ---- persistence (docs/FORMAT.md, "IndexPQ") ------------------------------ */

#define TAG_CODES VX_TAG('C', 'O', 'D', 'E')

static vindex_status pq_write(const vindex *ix, vx_writer *w)
{
    const pq_index *p = (const pq_index *)ix;
    vx_io_write_index_header(w, ix, VX_FAMILY_PQ);
    vx_io_write_pq(w, &p->pq);
    vx_io_write_codes(w, TAG_CODES, &p->codes, (size_t)ix->ntotal, p->pq.code_size);
    return vx_writer_status(w);
}

vindex_status vx_pq_index_read(vx_reader *r, const vx_io_index_header *h, vindex **out)
{
    vx_pq pq;
    vindex_status st = vx_io_read_pq(r, h->d, &pq, "IndexPQ");
    if (!st && (pq.trained != h->is_trained || (h->ntotal > 0 && !pq.trained)))
        st = vx_io_corrupt("IndexPQ: is_trained %d but the codebooks are %s", (int)h->is_trained,
                           pq.trained ? "trained" : "missing");
    if (!st)
        st = vindex_pq_new(out, h->d, pq.M, pq.nbits, h->metric);
    if (st) {
        vx_pq_destroy(&pq);
        return st;
    }
    pq_index *p = (pq_index *)*out; /* freed by the caller on failure */
    vx_pq_destroy(&p->pq);
    p->pq = pq;
    p->base.is_trained = pq.trained;
    if ((st = vx_io_read_codes(r, TAG_CODES, (size_t)h->ntotal, pq.code_size, &p->codes)))
        return st;
    p->base.ntotal = h->ntotal;
    return VINDEX_OK;
}

static const vx_index_ops pq_ops = {
    .type_name = "IndexPQ",
    .train = pq_train,
    .add = pq_add,
    .supports_ids = false,
    .search = pq_search,
    .range_search = pq_range_search,
    .reconstruct = pq_reconstruct,
    .remove_ids = pq_remove_ids,
    .reset = pq_reset,
    .destroy = pq_destroy,
    .memory_bytes = pq_memory,
    .set_param = pq_set_param,
    .get_param = pq_get_param,
    .write = pq_write,
};

vx_pq *vx_pq_index_codec(vindex *ix)
{
    return ix && ix->ops == &pq_ops ? &((pq_index *)ix)->pq : NULL;
}

VINDEX_API vindex_status vindex_pq_new(vindex **out, int d, int M, int nbits, vindex_metric metric)
{
    vx_clear_error();
    vindex_status st = vx_check_new_args(out, d, metric, "IndexPQ");
    if (st)
        return st;
    vx_pq pq;
    if ((st = vx_pq_init(&pq, d, M, nbits, "IndexPQ")))
        return st;
    pq_index *p = vx_calloc(1, sizeof *p);
    if (!p)
        return VINDEX_ERR_NOMEM;
    vx_index_init(&p->base, &pq_ops, d, metric, false);
    p->pq = pq;
    *out = &p->base;
    return VINDEX_OK;
}
