/*
 * IndexPQFastScan: IndexPQ with 4-bit codes stored in blocks of 32 and
 * scanned with 8-bit lookup tables held in SIMD registers (quant/fastscan.h,
 * simd/fastscan_*.c). Labels are positions, as IndexPQ.
 *
 * Search, per query: the float distance table (as IndexPQ), quantized to
 * bytes; every block scored by the fast-scan kernel (exact integer sums of
 * the bytes), turned into approximate scores, and the best k2 = 2k + 16 kept
 * in a heap. Then the candidates are rescored exactly from the float table
 * and the best k returned, so the distances are IndexPQ's to the bit and the
 * neighbours differ from IndexPQ's only where table quantization pushed a
 * true neighbour below the k2-th approximate score. Faiss returns the
 * approximate distances instead; the rescoring costs k2 x M table lookups
 * per query (PQ392x4, k 40: 35 k lookups, under a tenth of the scan of 60 k
 * codes) and makes the result independent of the quantization for all but
 * the borderline candidates. "rescore" = 0 turns it off (approximate
 * distances, top k straight from the heap, as Faiss).
 *
 * Work is cut into (query, segment of blocks) tasks; segment heaps are merged
 * before rescoring, and the (score, id) order is total, so results do not
 * depend on the thread count.
 */
#include <math.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../core/selector.h"
#include "../core/threads.h"
#include "../core/topk.h"
#include "../io/registry.h"
#include "../quant/fastscan.h"
#include "../quant/pq.h"
#include "../simd/kernels.h"
#include "index.h"

typedef struct pqfs_index {
    vindex base;
    vx_pq pq;
    uint8_t *blocks; /* cap slots (a multiple of 32), packed */
    size_t cap;
    int rescore; /* 1: candidates rescored from the float table */
} pqfs_index;

/* ---- train, add --------------------------------------------------------- */

static vindex_status pqfs_train(vindex *ix, size_t n, const float *x)
{
    pqfs_index *p = (pqfs_index *)ix;
    if (ix->ntotal > 0)
        return vx_fail(VINDEX_ERR_INVALID,
                       "train: IndexPQFastScan already holds %lld vectors; reset() it before "
                       "training again",
                       (long long)ix->ntotal);
    vindex_status st = vx_pq_train(&p->pq, n, x, "train");
    if (!st)
        ix->is_trained = true;
    return st;
}

static vindex_status pqfs_add(vindex *ix, size_t n, const float *x, const vindex_id *ids)
{
    (void)ids;
    pqfs_index *p = (pqfs_index *)ix;
    const size_t cs = p->pq.code_size, at = (size_t)ix->ntotal;
    uint8_t *codes = vx_alloc(n, cs);
    if (!codes)
        return vx_fail(VINDEX_ERR_NOMEM, "add: out of memory for %zu codes", n);
    vindex_status st = vx_pq_encode(&p->pq, n, x, codes);
    if (st) {
        vx_free(codes);
        return st;
    }
    if (at + n > p->cap) {
        size_t cap = vx_fs_round(p->cap * 2 > at + n ? p->cap * 2 : at + n);
        uint8_t *grown = vx_calloc(cap, cs); /* unused slots stay zero */
        if (!grown) {
            vx_free(codes);
            return vx_fail(VINDEX_ERR_NOMEM, "add: out of memory for %zu codes of %zu bytes",
                           cap, cs);
        }
        if (p->blocks)
            memcpy(grown, p->blocks, vx_fs_round(at) * cs);
        vx_free(p->blocks);
        p->blocks = grown;
        p->cap = cap;
    }
    for (size_t i = 0; i < n; i++)
        vx_fs_put(p->blocks, cs, at + i, codes + i * cs);
    vx_free(codes);
    ix->ntotal += (int64_t)n;
    return VINDEX_OK;
}

/* ---- k-NN search -------------------------------------------------------- */

enum {
    CHUNK_BLOCKS = 8,        /* blocks scored per kernel call (256 codes) */
    MIN_SEGMENT_BLOCKS = 128 /* blocks per task, at least */
};

typedef struct search_job {
    const pqfs_index *p;
    const float *q;
    size_t nq, k, k2, nseg, seg_blocks, nblocks;
    const vindex_selector *sel;
    float *tables;            /* nq x M x 16 */
    uint8_t *luts;            /* nq x code_size x 32 */
    float *bias, *scale;      /* nq */
    float *table_scratch;     /* per worker */
    float *mins;              /* per worker: M */
    uint32_t *sums;           /* per worker: CHUNK_BLOCKS x 32 */
    float *scores;            /* per worker: CHUNK_BLOCKS x 32 */
    uint32_t *hits;           /* per worker: CHUNK_BLOCKS x 32 */
    uint8_t *code;            /* per worker: code_size */
    float *cand_dis;          /* nq x nseg x k2 */
    vindex_id *cand_ids;
    float *out_dis;           /* nq x k */
    vindex_id *out_ids;
} search_job;

static size_t lut_bytes(const vx_pq *pq) { return pq->code_size * 32; }

static void table_task(void *ctx, size_t i, int worker)
{
    search_job *j = ctx;
    const vx_pq *pq = &j->p->pq;
    const size_t tf = (size_t)pq->M * 16;
    float *t = j->tables + i * tf;
    vx_pq_tables(pq, 1, j->q + i * (size_t)pq->d, j->p->base.metric, true, t,
                 j->table_scratch + (size_t)worker * VX_PQ_TABLE_QB * (pq->dsub + 256));
    j->scale[i] = vx_fs_quantize_lut(t, pq->M, j->luts + i * lut_bytes(pq), &j->bias[i],
                                     j->mins + (size_t)worker * (size_t)pq->M);
}

static void scan_task(void *ctx, size_t task, int worker)
{
    search_job *j = ctx;
    const pqfs_index *p = j->p;
    const size_t cs = p->pq.code_size, i = task / j->nseg, seg = task % j->nseg, k2 = j->k2;
    const size_t ntot = (size_t)p->base.ntotal, per = CHUNK_BLOCKS * VX_FS_BLOCK;
    const size_t b0 = seg * j->seg_blocks;
    const size_t b1 = b0 + j->seg_blocks < j->nblocks ? b0 + j->seg_blocks : j->nblocks;
    const vx_fs_kernel_table *kt = vx_fs_kernels();
    size_t (*select_le)(uint32_t *, const float *, const float *, size_t, float) =
        vx_kernels()->select_le;
    uint32_t *sums = j->sums + (size_t)worker * per, *hits = j->hits + (size_t)worker * per;
    float *scores = j->scores + (size_t)worker * per;
    const uint8_t *lut = j->luts + i * lut_bytes(&p->pq);
    float *hd = j->cand_dis + (i * j->nseg + seg) * k2;
    vindex_id *hi = j->cand_ids + (i * j->nseg + seg) * k2;
    vx_heap_init(hd, hi, k2);
    for (size_t b = b0; b < b1; b += CHUNK_BLOCKS) {
        size_t nb = b1 - b < CHUNK_BLOCKS ? b1 - b : CHUNK_BLOCKS;
        size_t first = b * VX_FS_BLOCK;
        size_t n = ntot - first < nb * VX_FS_BLOCK ? ntot - first : nb * VX_FS_BLOCK;
        vx_fs_scores(kt, lut, cs, j->bias[i], j->scale[i], p->blocks + first * cs, n, sums,
                     scores);
        size_t nh = select_le(hits, scores, NULL, n, hd[0]);
        for (size_t h = 0; h < nh; h++) {
            vindex_id id = (vindex_id)(first + hits[h]);
            if (scores[hits[h]] > hd[0] || !vx_selected(j->sel, id))
                continue;
            vx_heap_push(hd, hi, k2, scores[hits[h]], id);
        }
    }
}

/* Merges query i's segment heaps, rescores the candidates, writes its top k. */
static void finish_task(void *ctx, size_t i, int worker)
{
    search_job *j = ctx;
    const pqfs_index *p = j->p;
    const vx_pq *pq = &p->pq;
    const size_t k = j->k, k2 = j->k2, cs = pq->code_size;
    float *cd = j->cand_dis + i * j->nseg * k2;
    vindex_id *ci = j->cand_ids + i * j->nseg * k2;
    for (size_t seg = 1; seg < j->nseg; seg++) /* into segment 0's heap */
        vx_heap_merge(cd, ci, k2, cd + seg * k2, ci + seg * k2);
    float *od = j->out_dis + i * k;
    vindex_id *oi = j->out_ids + i * k;
    vx_heap_init(od, oi, k);
    const float *table = j->tables + i * (size_t)pq->M * 16;
    uint8_t *code = j->code + (size_t)worker * cs;
    for (size_t c = 0; c < k2; c++) {
        if (ci[c] < 0)
            continue;
        float s = cd[c];
        if (p->rescore) {
            vx_fs_get(p->blocks, cs, (size_t)ci[c], code);
            s = vx_fs_exact_score(table, pq->M, code);
        }
        vx_heap_push(od, oi, k, s, ci[c]);
    }
    vx_topk_finish(od, oi, k, p->base.metric);
}

static void search_job_free(search_job *j)
{
    vx_free(j->tables);
    vx_free(j->luts);
    vx_free(j->bias);
    vx_free(j->scale);
    vx_free(j->table_scratch);
    vx_free(j->mins);
    vx_free(j->sums);
    vx_free(j->scores);
    vx_free(j->hits);
    vx_free(j->code);
    vx_free(j->cand_dis);
    vx_free(j->cand_ids);
}

enum { QUERY_BLOCK = 256 };

static vindex_status pqfs_search(const vindex *ix, size_t nq, const float *q, size_t k,
                                 const vindex_search_params *params, float *distances,
                                 vindex_id *labels)
{
    const pqfs_index *p = (const pqfs_index *)ix;
    const vx_pq *pq = &p->pq;
    const size_t d = (size_t)ix->d, tf = (size_t)pq->M * 16;
    const int nthreads = vx_num_threads();
    const size_t nt = (size_t)nthreads, per = CHUNK_BLOCKS * VX_FS_BLOCK;
    const size_t qb = nq < QUERY_BLOCK ? nq : QUERY_BLOCK;
    search_job j;
    memset(&j, 0, sizeof j);
    j.p = p;
    j.k = k;
    j.k2 = p->rescore ? 2 * k + 16 : k;
    j.sel = params ? params->sel : NULL;
    j.nblocks = vx_fs_round((size_t)ix->ntotal) / VX_FS_BLOCK;
    /* segments: enough tasks for every thread when there are few queries */
    size_t nseg = 1;
    if (qb < 2 * nt) {
        nseg = (2 * nt + qb - 1) / qb;
        size_t most = j.nblocks / MIN_SEGMENT_BLOCKS ? j.nblocks / MIN_SEGMENT_BLOCKS : 1;
        nseg = nseg < most ? nseg : most;
    }
    j.nseg = nseg;
    j.seg_blocks = (j.nblocks + nseg - 1) / nseg;
    j.seg_blocks = (j.seg_blocks + CHUNK_BLOCKS - 1) / CHUNK_BLOCKS * CHUNK_BLOCKS;
    vindex_status st = VINDEX_OK;
    j.tables = vx_alloc(qb, tf * sizeof(float));
    j.luts = vx_alloc(qb, lut_bytes(pq));
    j.bias = vx_alloc(qb, sizeof(float));
    j.scale = vx_alloc(qb, sizeof(float));
    j.table_scratch = vx_alloc(nt * VX_PQ_TABLE_QB, (pq->dsub + 256) * sizeof(float));
    j.mins = vx_alloc(nt, (size_t)pq->M * sizeof(float));
    j.sums = vx_alloc(nt * per, sizeof(uint32_t));
    j.scores = vx_alloc(nt * per, sizeof(float));
    j.hits = vx_alloc(nt * per, sizeof(uint32_t));
    j.code = vx_alloc(nt, pq->code_size);
    j.cand_dis = vx_alloc(qb * nseg, j.k2 * sizeof(float));
    j.cand_ids = vx_alloc(qb * nseg, j.k2 * sizeof(vindex_id));
    if (!j.tables || !j.luts || !j.bias || !j.scale || !j.table_scratch || !j.mins || !j.sums ||
        !j.scores || !j.hits || !j.code || !j.cand_dis || !j.cand_ids) {
        st = VINDEX_ERR_NOMEM;
        goto done;
    }
    for (size_t b0 = 0; b0 < nq; b0 += qb) {
        j.nq = nq - b0 < qb ? nq - b0 : qb;
        j.q = q + b0 * d;
        j.out_dis = distances + b0 * k;
        j.out_ids = labels + b0 * k;
        vx_parallel_for(j.nq, nthreads, table_task, &j);
        vx_parallel_for(j.nq * nseg, nthreads, scan_task, &j);
        vx_parallel_for(j.nq, nthreads, finish_task, &j);
    }
done:
    search_job_free(&j);
    return st;
}

/* ---- reconstruct, remove, reset ----------------------------------------- */

static vindex_status pqfs_reconstruct(const vindex *ix, vindex_id id, float *out)
{
    const pqfs_index *p = (const pqfs_index *)ix;
    if (id < 0 || id >= ix->ntotal)
        return vx_fail(VINDEX_ERR_NOT_FOUND, "reconstruct: id %lld is not in the index (0..%lld)",
                       (long long)id, (long long)ix->ntotal - 1);
    uint8_t *code = vx_alloc(1, p->pq.code_size);
    if (!code)
        return VINDEX_ERR_NOMEM;
    vx_fs_get(p->blocks, p->pq.code_size, (size_t)id, code);
    vx_pq_decode(&p->pq, 1, code, out);
    vx_free(code);
    return VINDEX_OK;
}

static vindex_status pqfs_remove_ids(vindex *ix, const vindex_selector *sel, size_t *n_removed)
{
    pqfs_index *p = (pqfs_index *)ix;
    const size_t cs = p->pq.code_size, n = (size_t)ix->ntotal;
    uint8_t *code = vx_alloc(1, cs);
    if (!code)
        return VINDEX_ERR_NOMEM;
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (vindex_selector_contains(sel, (vindex_id)i))
            continue;
        if (kept != i) {
            vx_fs_get(p->blocks, cs, i, code);
            vx_fs_put(p->blocks, cs, kept, code);
        }
        kept++;
    }
    memset(code, 0, cs); /* freed slots back to zero */
    for (size_t i = kept; i < vx_fs_round(n); i++)
        vx_fs_put(p->blocks, cs, i, code);
    vx_free(code);
    *n_removed = n - kept;
    ix->ntotal = (int64_t)kept;
    return VINDEX_OK;
}

static void pqfs_reset(vindex *ix)
{
    pqfs_index *p = (pqfs_index *)ix;
    vx_free(p->blocks);
    p->blocks = NULL;
    p->cap = 0;
    ix->ntotal = 0;
}

static void pqfs_destroy(vindex *ix)
{
    pqfs_index *p = (pqfs_index *)ix;
    vx_free(p->blocks);
    vx_pq_destroy(&p->pq);
    vx_free(p);
}

static size_t pqfs_memory(const vindex *ix)
{
    const pqfs_index *p = (const pqfs_index *)ix;
    return sizeof *p + p->cap * p->pq.code_size + vx_pq_memory(&p->pq);
}

/* ---- parameters --------------------------------------------------------- */

static vindex_status pqfs_set_param(vindex *ix, const char *name, double value)
{
    pqfs_index *p = (pqfs_index *)ix;
    if (!strcmp(name, "rescore")) {
        if (value != 0 && value != 1)
            return vx_fail(VINDEX_ERR_INVALID, "set_param: rescore must be 0 or 1 (got %g)",
                           value);
        p->rescore = (int)value;
        return VINDEX_OK;
    }
    return vx_pq_set_cp_param(&p->pq, name, value);
}

static vindex_status pqfs_get_param(const vindex *ix, const char *name, double *value)
{
    const pqfs_index *p = (const pqfs_index *)ix;
    if (!strcmp(name, "rescore")) {
        *value = p->rescore;
        return VINDEX_OK;
    }
    if (!strcmp(name, "bbs")) { /* Faiss's block size */
        *value = VX_FS_BLOCK;
        return VINDEX_OK;
    }
    return vx_pq_get_cp_param(&p->pq, name, value);
}

/* ---- persistence (docs/FORMAT.md) ------------------------------------------ */

#define TAG_FS_CODES VX_TAG('F', 'S', 'C', 'O')

static vindex_status pqfs_write(const vindex *ix, vx_writer *w)
{
    const pqfs_index *p = (const pqfs_index *)ix;
    vx_io_write_index_header(w, ix, VX_FAMILY_PQ_FASTSCAN);
    vx_fs_write_codec(w, &p->pq, (uint32_t)p->rescore);
    /* whole blocks, unused slots zero: the layout searches read */
    vx_writer_array(w, TAG_FS_CODES, p->blocks, vx_fs_round((size_t)ix->ntotal),
                    p->pq.code_size);
    return vx_writer_status(w);
}

static const vx_index_ops pqfs_ops;

vindex_status vx_pqfs_read(vx_reader *r, const vx_io_index_header *h, vindex **out)
{
    const char *what = "IndexPQFastScan";
    vx_pq pq;
    uint32_t rescore;
    float *cb = NULL;
    uint8_t *blocks = NULL;
    pqfs_index *p = NULL;
    vindex_status st = vx_fs_read_codec(r, h->d, h->is_trained, &pq, &rescore, &cb, what);
    if (st)
        goto fail;
    if (h->ntotal > 0 && !h->is_trained) {
        st = vx_io_corrupt("%s: %lld vectors in an untrained index", what, (long long)h->ntotal);
        goto fail;
    }
    const size_t slots = vx_fs_round((size_t)h->ntotal);
    if ((st = vx_reader_array(r, TAG_FS_CODES, slots, pq.code_size, (void **)&blocks, NULL)))
        goto fail;
    if (!(p = vx_calloc(1, sizeof *p))) {
        st = VINDEX_ERR_NOMEM;
        goto fail;
    }
    if (cb && (st = vx_pq_set_centroids(&pq, cb)))
        goto fail;
    vx_index_init(&p->base, &pqfs_ops, h->d, h->metric, h->is_trained);
    p->pq = pq;
    p->rescore = (int)rescore;
    p->blocks = blocks;
    p->cap = slots;
    p->base.ntotal = h->ntotal;
    /* slots past ntotal must be zero (searches read them; files are canonical) */
    uint8_t *zero = vx_calloc(1, pq.code_size), *code = vx_alloc(1, pq.code_size);
    if (!zero || !code) {
        vx_free(zero);
        vx_free(code);
        vx_free(cb);
        vindex_free(&p->base);
        return VINDEX_ERR_NOMEM;
    }
    for (size_t i = (size_t)h->ntotal; i < slots && !st; i++) {
        vx_fs_get(blocks, pq.code_size, i, code);
        if (memcmp(code, zero, pq.code_size))
            st = vx_io_corrupt("%s: unused code slot %zu is not zero", what, i);
    }
    vx_free(zero);
    vx_free(code);
    vx_free(cb);
    if (st) {
        vindex_free(&p->base);
        return st;
    }
    *out = &p->base;
    return VINDEX_OK;
fail:
    vx_pq_destroy(&pq);
    vx_free(cb);
    vx_free(blocks);
    vx_free(p);
    return st;
}

static const vx_index_ops pqfs_ops = {
    .type_name = "IndexPQFastScan",
    .train = pqfs_train,
    .add = pqfs_add,
    .supports_ids = false,
    .search = pqfs_search,
    .reconstruct = pqfs_reconstruct,
    .remove_ids = pqfs_remove_ids,
    .reset = pqfs_reset,
    .destroy = pqfs_destroy,
    .memory_bytes = pqfs_memory,
    .set_param = pqfs_set_param,
    .get_param = pqfs_get_param,
    .write = pqfs_write,
};

vx_pq *vx_pqfs_index_codec(vindex *ix)
{
    return ix && ix->ops == &pqfs_ops ? &((pqfs_index *)ix)->pq : NULL;
}

/* The checks shared by both fast-scan constructors. */
vindex_status vx_fs_check_nbits(int nbits, const char *what)
{
    if (nbits != 4)
        return vx_fail(VINDEX_ERR_INVALID,
                       "%s: nbits = %d, but fast-scan works on 4-bit codes only (nbits = 4); "
                       "use IndexPQ / IndexIVFPQ for other widths",
                       what, nbits);
    return VINDEX_OK;
}

VINDEX_API vindex_status vindex_pq_fastscan_new(vindex **out, int d, int M, int nbits,
                                                vindex_metric metric)
{
    vx_clear_error();
    const char *what = "IndexPQFastScan";
    vindex_status st = vx_check_new_args(out, d, metric, what);
    if (st || (st = vx_fs_check_nbits(nbits, what)))
        return st;
    vx_pq pq;
    if ((st = vx_pq_init(&pq, d, M, nbits, what)))
        return st;
    pqfs_index *p = vx_calloc(1, sizeof *p);
    if (!p)
        return VINDEX_ERR_NOMEM;
    vx_index_init(&p->base, &pqfs_ops, d, metric, false);
    p->pq = pq;
    p->rescore = 1;
    *out = &p->base;
    return VINDEX_OK;
}
