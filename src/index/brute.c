#include "brute.h"

#include <cblas.h>
#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../core/selector.h"
#include "../core/threads.h"
#include "../core/topk.h"
#include "../simd/kernels.h"

/* Block sizes. sgemm needs many query rows per call to amortise packing the
 * database block (measured here: 139 GFLOP/s with 256 rows, 158 with 1,000),
 * and a wide database block packs the queries fewer times (1024 against 512:
 * 3% faster on Fashion-MNIST batches and k-means). The SIMD tile (4 queries x
 * 256 vectors) stays in L1. */
enum { BLAS_QB = 1024, BLAS_DB = 1024, SIMD_QB = 4, SIMD_DB = 256, SELECT_CHUNK = 64,
       PRUNED_DB = 256 };

static atomic_size_t blas_threshold = 20;

VINDEX_API void vindex_set_blas_threshold(size_t nq) { atomic_store(&blas_threshold, nq); }
VINDEX_API size_t vindex_get_blas_threshold(void) { return atomic_load(&blas_threshold); }

typedef struct job {
    const vx_brute *b;
    /* Queries in the stored layout: qhead is nq x hd; qtail nq x td (td = 0
     * when the base is contiguous). */
    const float *qhead, *qtail;
    size_t hd, td;
    float *qsplit;                  /* owned copy when the layout is split */
    size_t nq, k;
    bool blas;
    /* On a split base: score heads first, then the tails of candidates that
     * the head's partial distance does not rule out. Through BLAS the head
     * score is |yh|^2 - 2<xh,yh> + |xh|^2 (row_norms), a true partial
     * distance, so the pruning is the same as on the SIMD path. */
    bool complete_tail;
    float *row_norms;               /* |xh|^2 per query, BLAS on a split base */
    size_t qb, db;                  /* block sizes */
    size_t nqblocks, nseg, seg_len; /* database segments of seg_len vectors */
    const float *base_norms;        /* L2 with BLAS */
    float *query_norms;             /* L2 with BLAS on a whole base: added at the end */
    float *tiles;                   /* one qb x db tile per worker */
    uint32_t *picked;               /* db candidate indices per worker */
    /* k-NN: heaps of query i in segment s; written straight into the output
     * when there is one segment. */
    float *out_dis;
    vindex_id *out_ids;
    float *seg_dis;
    vindex_id *seg_ids;
    /* range */
    float radius;
    vx_range_list *lists;
    atomic_int status;
} job;

/* Scores of queries [q0, q0+nqb) against vectors [j0, j0+nbb): smaller is
 * better. For L2 via BLAS the score is |y|^2 - 2<x,y>, returned as the tile
 * (-2<x,y>) plus the per-vector *offset (|y|^2, added where it is read, which
 * saves a pass over the tile); |x|^2 is constant per query and added at the
 * end. IP scores are negated inner products. With complete_tail, the tile holds
 * only the head part of each squared distance (see tail_distance). */
static void score_tile(const job *jb, size_t q0, size_t nqb, size_t j0, size_t nbb, float *tile,
                       const float **offset)
{
    const vx_brute *b = jb->b;
    const size_t hd = jb->hd, td = jb->td;
    const float *x = jb->qhead + q0 * hd, *y = b->base + j0 * hd;
    const bool l2 = b->metric == VINDEX_METRIC_L2;
    *offset = NULL;
    if (jb->blas) {
        float alpha = l2 ? -2.0f : -1.0f;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nqb, (int)nbb, (int)hd, alpha,
                    x, (int)hd, y, (int)hd, 0.0f, tile, (int)nbb);
        if (td && !jb->complete_tail)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nqb, (int)nbb, (int)td,
                        alpha, jb->qtail + q0 * td, (int)td, b->tail + j0 * td, (int)td, 1.0f,
                        tile, (int)nbb);
        if (l2)
            *offset = jb->base_norms + j0;
    } else if (l2) {
        vx_kernels()->l2sqr_tile(tile, x, nqb, y, hd, nbb);
    } else {
        vx_kernels()->inner_product_tile(tile, x, nqb, y, hd, nbb);
        for (size_t i = 0; i < nqb * nbb; i++)
            tile[i] = -tile[i];
    }
}

/* The tail parts of the squared distances between query q and the n vectors
 * from j. Always pair by pair through l2sqr (several accumulators, short
 * dependency chains: a lone tail is not latency bound), so a tail computed alone
 * or with its neighbours is the same float. */
static inline void tail_distances(const job *jb, size_t q, size_t j, size_t n, float *out)
{
    float (*l2sqr)(const float *, const float *, size_t) = vx_kernels()->l2sqr;
    const float *x = jb->qtail + q * jb->td, *y = jb->b->tail + j * jb->td;
    for (size_t i = 0; i < n; i++)
        out[i] = l2sqr(x, y + i * jb->td, jb->td);
}

static inline float tail_distance(const job *jb, size_t q, size_t j)
{
    float t;
    tail_distances(jb, q, j, 1, &t);
    return t;
}

static void heap_of(const job *jb, size_t query, size_t seg, float **dis, vindex_id **ids)
{
    if (jb->nseg == 1) {
        *dis = jb->out_dis + query * jb->k;
        *ids = jb->out_ids + query * jb->k;
    } else {
        size_t at = (query * jb->nseg + seg) * jb->k;
        *dis = jb->seg_dis + at;
        *ids = jb->seg_ids + at;
    }
}

static void block_range(const job *jb, size_t task, size_t *q0, size_t *nqb, size_t *j0,
                        size_t *j1)
{
    size_t qblock = task / jb->nseg, seg = task % jb->nseg;
    *q0 = qblock * jb->qb;
    *nqb = jb->nq - *q0 < jb->qb ? jb->nq - *q0 : jb->qb;
    *j0 = seg * jb->seg_len;
    *j1 = *j0 + jb->seg_len < jb->b->nb ? *j0 + jb->seg_len : jb->b->nb;
}

static void knn_task(void *ctx, size_t task, int worker)
{
    job *jb = ctx;
    const vx_brute *b = jb->b;
    size_t q0, nqb, j0, j1, seg = task % jb->nseg;
    block_range(jb, task, &q0, &nqb, &j0, &j1);
    float *tile = jb->tiles + (size_t)worker * jb->qb * jb->db;
    for (size_t a = 0; a < nqb; a++) {
        float *hd;
        vindex_id *hi;
        heap_of(jb, q0 + a, seg, &hd, &hi);
        vx_heap_init(hd, hi, jb->k);
    }
    uint32_t *picked = jb->picked + (size_t)worker * jb->db;
    size_t (*select_le)(uint32_t *, const float *, const float *, size_t, float) =
        vx_kernels()->select_le;
    for (size_t jb0 = j0; jb0 < j1; jb0 += jb->db) {
        size_t nbb = j1 - jb0 < jb->db ? j1 - jb0 : jb->db;
        const float *offset;
        score_tile(jb, q0, nqb, jb0, nbb, tile, &offset);
        for (size_t a = 0; a < nqb; a++) {
            float *hd;
            vindex_id *hi;
            heap_of(jb, q0 + a, seg, &hd, &hi);
            const float *row = tile + a * nbb;
            const float rn = jb->row_norms ? jb->row_norms[q0 + a] : 0.0f;
            /* Candidates that can beat the current worst, in chunks so that the
             * threshold tightens as the heap fills: on the first tile of a
             * query every score passes an empty heap's +inf. The root only
             * improves while candidates are pushed, so each chunk's list is a
             * superset of what enters (with rn folded into the threshold, a
             * little slack keeps it one despite rounding). */
            for (size_t c0 = 0; c0 < nbb; c0 += SELECT_CHUNK) {
                size_t len = nbb - c0 < SELECT_CHUNK ? nbb - c0 : SELECT_CHUNK;
                float threshold = rn == 0 ? hd[0] : hd[0] - rn + 1e-5f * (fabsf(hd[0]) + rn);
                size_t n = select_le(picked, row + c0, offset ? offset + c0 : NULL, len, threshold);
                /* When the heads rule out little (data whose variance is spread
                 * evenly, or a heap still filling), stream the chunk's tails in
                 * one pass rather than fetch them one by one. */
                float tails[SELECT_CHUNK];
                bool whole = jb->complete_tail && 2 * n > len;
                if (whole)
                    tail_distances(jb, q0 + a, jb0 + c0, len, tails);
                for (size_t c = 0; c < n; c++) {
                    size_t j = c0 + picked[c];
                    vindex_id id = (vindex_id)(jb0 + j);
                    float s = row[j] + (offset ? offset[j] : 0.0f) + rn;
                    if (s > hd[0])
                        continue;
                    if (jb->complete_tail)
                        s += whole ? tails[picked[c]] : tail_distance(jb, q0 + a, jb0 + j);
                    if (b->sel && !vindex_selector_contains(b->sel, id))
                        continue;
                    vx_heap_push(hd, hi, jb->k, s, id);
                }
            }
        }
    }
}

static void range_task(void *ctx, size_t task, int worker)
{
    job *jb = ctx;
    const vx_brute *b = jb->b;
    size_t q0, nqb, j0, j1;
    block_range(jb, task, &q0, &nqb, &j0, &j1);
    float *tile = jb->tiles + (size_t)worker * jb->qb * jb->db;
    const bool l2 = b->metric == VINDEX_METRIC_L2;
    for (size_t jb0 = j0; jb0 < j1; jb0 += jb->db) {
        size_t nbb = j1 - jb0 < jb->db ? j1 - jb0 : jb->db;
        const float *offset;
        score_tile(jb, q0, nqb, jb0, nbb, tile, &offset);
        for (size_t a = 0; a < nqb; a++) {
            const float *row = tile + a * nbb;
            float qn = jb->query_norms ? jb->query_norms[q0 + a]
                                       : jb->row_norms ? jb->row_norms[q0 + a] : 0.0f;
            vx_range_list *list = &jb->lists[q0 + a];
            for (size_t j = 0; j < nbb; j++) {
                vindex_id id = (vindex_id)(jb0 + j);
                float dis = l2 ? row[j] + (offset ? offset[j] : 0.0f) + qn : -row[j];
                if (jb->complete_tail && dis < jb->radius) /* else the head alone is too far */
                    dis += tail_distance(jb, q0 + a, jb0 + j);
                if (l2 && dis < 0)
                    dis = 0; /* rounding in the norm expansion; before the test, so that
                              * radius 0 finds nothing, as "distance < radius" says */
                bool hit = l2 ? dis < jb->radius : dis > jb->radius;
                if (!hit || !vx_selected(b->sel, id))
                    continue;
                if (vx_range_push(list, dis, id) != VINDEX_OK) {
                    atomic_store(&jb->status, VINDEX_ERR_NOMEM);
                    return;
                }
            }
        }
    }
}

/* Sets up blocks, norms and scratch. `segments_allowed` is false for range
 * search, whose per-query lists must each belong to one task. */
static vindex_status job_init(job *jb, const vx_brute *b, size_t nq, const float *queries,
                              size_t k, bool segments_allowed, int nthreads, float **owned_norms)
{
    memset(jb, 0, sizeof *jb);
    jb->b = b;
    jb->nq = nq;
    jb->k = k;
    jb->blas = nq >= atomic_load(&blas_threshold);
    jb->qb = jb->blas ? BLAS_QB : SIMD_QB;
    jb->db = jb->blas ? BLAS_DB : SIMD_DB;
    /* Pruned scans read the tails of a block's survivors at random: keep the
     * block's tails in L2 (256 x 576 floats for Fashion-MNIST). */
    if (jb->blas && b->head_dim > 0 && (size_t)b->head_dim < (size_t)b->d)
        jb->db = PRUNED_DB;
    jb->nqblocks = (nq + jb->qb - 1) / jb->qb;
    size_t ndb = (b->nb + jb->db - 1) / jb->db;
    /* Split the database only as much as it takes to give every thread work.
     * Segments are whole blocks, so the scores do not change with the split. */
    size_t nseg = 1;
    if (segments_allowed && nthreads > 1 && jb->nqblocks < 4 * (size_t)nthreads) {
        nseg = (4 * (size_t)nthreads + jb->nqblocks - 1) / jb->nqblocks;
        if (nseg > ndb)
            nseg = ndb ? ndb : 1;
    }
    size_t blocks_per_seg = (ndb + nseg - 1) / nseg;
    if (blocks_per_seg == 0)
        blocks_per_seg = 1;
    jb->seg_len = blocks_per_seg * jb->db;
    jb->nseg = (b->nb + jb->seg_len - 1) / jb->seg_len;
    if (jb->nseg == 0)
        jb->nseg = 1;
    atomic_init(&jb->status, VINDEX_OK);

    *owned_norms = NULL;
    size_t d = (size_t)b->d;
    if (b->head_dim > 0 && (size_t)b->head_dim < d) {
        /* Queries into the stored order and split, like the base. */
        jb->hd = (size_t)b->head_dim;
        jb->td = d - jb->hd;
        jb->qsplit = vx_alloc(nq, d * sizeof(float));
        if (!jb->qsplit)
            return VINDEX_ERR_NOMEM;
        float *qh = jb->qsplit, *qt = jb->qsplit + nq * jb->hd;
        for (size_t i = 0; i < nq; i++) {
            const float *q = queries + i * d;
            for (size_t t = 0; t < jb->hd; t++)
                qh[i * jb->hd + t] = q[b->perm[t]];
            for (size_t t = 0; t < jb->td; t++)
                qt[i * jb->td + t] = q[b->perm[jb->hd + t]];
        }
        jb->qhead = qh;
        jb->qtail = qt;
        jb->complete_tail = true;
    } else {
        jb->qhead = queries;
        jb->hd = d;
    }
    if (jb->blas && b->metric == VINDEX_METRIC_L2) {
        vx_blas_single_thread();
        if (jb->complete_tail) {
            /* Head norms of the base (about 1% of the sgemm's work here, so
             * computed per call rather than stored) and of the queries. */
            *owned_norms = vx_alloc(b->nb ? b->nb : 1, sizeof(float));
            jb->row_norms = vx_alloc(nq, sizeof(float));
            if (!*owned_norms || !jb->row_norms)
                return VINDEX_ERR_NOMEM;
            vx_norms_sqr(*owned_norms, b->base, jb->hd, b->nb);
            vx_norms_sqr(jb->row_norms, jb->qhead, jb->hd, nq);
            jb->base_norms = *owned_norms;
        } else {
            jb->base_norms = b->base_norms;
            if (!jb->base_norms) {
                *owned_norms = vx_alloc(b->nb ? b->nb : 1, sizeof(float));
                if (!*owned_norms)
                    return VINDEX_ERR_NOMEM;
                vx_norms_sqr(*owned_norms, b->base, d, b->nb);
                jb->base_norms = *owned_norms;
            }
            jb->query_norms = vx_alloc(nq, sizeof(float));
            if (!jb->query_norms)
                return VINDEX_ERR_NOMEM;
            vx_norms_sqr(jb->query_norms, queries, d, nq);
        }
    } else if (jb->blas) {
        vx_blas_single_thread();
    }
    jb->tiles = vx_alloc((size_t)nthreads * jb->qb, jb->db * sizeof(float));
    jb->picked = vx_alloc((size_t)nthreads, jb->db * sizeof(uint32_t));
    if (!jb->tiles || !jb->picked)
        return VINDEX_ERR_NOMEM;
    return VINDEX_OK;
}

static void job_free(job *jb, float *owned_norms)
{
    vx_free(owned_norms);
    vx_free(jb->query_norms);
    vx_free(jb->row_norms);
    vx_free(jb->tiles);
    vx_free(jb->picked);
    vx_free(jb->qsplit);
    vx_free(jb->seg_dis);
    vx_free(jb->seg_ids);
}

/* Turns sorted BLAS scores into squared distances. Rounding in the norm
 * expansion can make a distance slightly negative; clamping those to 0 can tie
 * neighbours, so restore the smaller-id-first order among them. */
static void add_query_norm(float *dis, vindex_id *ids, size_t k, float query_norm)
{
    for (size_t j = 0; j < k; j++) {
        float v = dis[j] + query_norm;
        dis[j] = v < 0 ? 0 : v;
    }
    for (size_t j = 1; j < k && dis[j] == 0; j++)
        for (size_t i = j; i > 0 && (uint64_t)ids[i] < (uint64_t)ids[i - 1]; i--) {
            vindex_id t = ids[i];
            ids[i] = ids[i - 1];
            ids[i - 1] = t;
        }
}

/* exact_order: query i's k results (final distances, padded with -1) scored
 * again pair by pair in the stored layout, then sorted nearest first with
 * ties by the smaller id (insertion sort: the input is nearly sorted). */
static void rescore_kept(const job *jb, size_t i, float *dis, vindex_id *ids, size_t k)
{
    const vx_brute *b = jb->b;
    const bool l2 = b->metric == VINDEX_METRIC_L2;
    const float *qh = jb->qhead + i * jb->hd;
    size_t n = 0;
    while (n < k && ids[n] >= 0)
        n++;
    for (size_t j = 0; j < n; j++) {
        const float *yh = b->base + (size_t)ids[j] * jb->hd;
        if (!l2) {
            dis[j] = vx_kernels()->inner_product(qh, yh, jb->hd);
            continue;
        }
        dis[j] = vx_kernels()->l2sqr(qh, yh, jb->hd);
        if (jb->td)
            dis[j] += tail_distance(jb, i, (size_t)ids[j]);
    }
    for (size_t j = 1; j < n; j++) {
        float s = dis[j];
        vindex_id id = ids[j];
        size_t t = j;
        /* as vx_worse on scores where smaller is better */
        while (t > 0 && vx_worse(l2 ? dis[t - 1] : -dis[t - 1], ids[t - 1], l2 ? s : -s, id)) {
            dis[t] = dis[t - 1];
            ids[t] = ids[t - 1];
            t--;
        }
        dis[t] = s;
        ids[t] = id;
    }
}

/* Waking the pool costs microseconds; below this many multiply-adds (a
 * fraction of a millisecond of work) one thread finishes first. */
#define SMALL_WORK ((size_t)1 << 22)

static int threads_for(size_t nq, const vx_brute *b)
{
    size_t work;
    if (vx_mul_ok(nq, b->nb, &work) && vx_mul_ok(work, (size_t)b->d, &work) && work < SMALL_WORK)
        return 1;
    return vx_num_threads();
}

vindex_status vx_brute_knn(const vx_brute *b, size_t nq, const float *queries, size_t k,
                           float *distances, vindex_id *labels)
{
    int nthreads = threads_for(nq, b);
    float *owned_norms;
    job jb;
    vindex_status st = job_init(&jb, b, nq, queries, k, true, nthreads, &owned_norms);
    if (st != VINDEX_OK)
        goto done;
    jb.out_dis = distances;
    jb.out_ids = labels;
    if (jb.nseg > 1) {
        size_t n;
        if (!vx_mul_ok(nq * jb.nseg, k, &n)) {
            st = vx_fail(VINDEX_ERR_NOMEM, "search: nq * k too large");
            goto done;
        }
        jb.seg_dis = vx_alloc(n, sizeof(float));
        jb.seg_ids = vx_alloc(n, sizeof(vindex_id));
        if (!jb.seg_dis || !jb.seg_ids) {
            st = VINDEX_ERR_NOMEM;
            goto done;
        }
    }
    vx_parallel_for(jb.nqblocks * jb.nseg, nthreads, knn_task, &jb);

    for (size_t i = 0; i < nq; i++) {
        float *dis = distances + i * k;
        vindex_id *ids = labels + i * k;
        if (jb.nseg > 1)
            vx_heap_merge_segments(dis, ids, k, jb.seg_dis + i * jb.nseg * k,
                                   jb.seg_ids + i * jb.nseg * k, jb.nseg);
        vx_topk_finish(dis, ids, k, b->metric);
        if (jb.query_norms || jb.row_norms) /* clamps what rounding made negative */
            add_query_norm(dis, ids, k, jb.query_norms ? jb.query_norms[i] : 0.0f);
        if (jb.blas && b->exact_order)
            rescore_kept(&jb, i, dis, ids, k);
    }
done:
    job_free(&jb, owned_norms);
    return st;
}

vindex_status vx_brute_range(const vx_brute *b, size_t nq, const float *queries, float radius,
                             vx_range_list *lists)
{
    int nthreads = threads_for(nq, b);
    float *owned_norms;
    job jb;
    vindex_status st = job_init(&jb, b, nq, queries, 1, false, nthreads, &owned_norms);
    if (st == VINDEX_OK) {
        jb.radius = radius;
        jb.lists = lists;
        vx_parallel_for(jb.nqblocks * jb.nseg, nthreads, range_task, &jb);
        st = (vindex_status)atomic_load(&jb.status);
        if (st != VINDEX_OK)
            vx_fail(st, "range_search: out of memory for results");
    }
    job_free(&jb, owned_norms);
    return st;
}
