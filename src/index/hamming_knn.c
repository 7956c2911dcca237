#include "hamming_knn.h"

#include <math.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../core/threads.h"
#include "../core/topk.h"
#include "../simd/hamming_kernels.h"

/* A tile of QB queries x DB codes. 32 queries make the base stream from memory
 * once per 32 queries; 256 codes of 128 bytes (32 KiB) stay in L1/L2 while the
 * queries pass over them; the tile of distances is 32 KiB. */
enum { QB = 32, DB = 256 };

typedef struct job {
    const vx_hamming_base *b;
    const uint8_t *queries;
    size_t nq, k, qb;
    size_t nqblocks, nseg, seg_len;
    uint32_t *tiles; /* qb x DB per worker */
    float *out_dis;
    vindex_id *out_ids;
    float *seg_dis; /* (query, segment) heaps when nseg > 1 */
    vindex_id *seg_ids;
    const vx_hamming_kernel_table *kern;
} job;

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

/* The heap's worst distance as an integer bound: a candidate enters only when
 * strictly nearer (an equal distance comes later in the scan, so with a larger
 * id, and loses the tie). Empty slots hold +inf. */
static inline uint32_t bound_of(const float *heap)
{
    return isinf(heap[0]) ? UINT32_MAX : (uint32_t)heap[0];
}

static void knn_task(void *ctx, size_t task, int worker)
{
    job *jb = ctx;
    const vx_hamming_base *b = jb->b;
    const size_t cs = b->code_size, k = jb->k;
    size_t qblock = task / jb->nseg, seg = task % jb->nseg;
    size_t q0 = qblock * jb->qb, nqb = jb->nq - q0 < jb->qb ? jb->nq - q0 : jb->qb;
    size_t j0 = seg * jb->seg_len, j1 = j0 + jb->seg_len < b->nb ? j0 + jb->seg_len : b->nb;
    uint32_t *tile = jb->tiles + (size_t)worker * jb->qb * DB;
    for (size_t a = 0; a < nqb; a++) {
        float *hd;
        vindex_id *hi;
        heap_of(jb, q0 + a, seg, &hd, &hi);
        vx_heap_init(hd, hi, k);
    }
    for (size_t jb0 = j0; jb0 < j1; jb0 += DB) {
        size_t nbb = j1 - jb0 < DB ? j1 - jb0 : DB;
        jb->kern->hamming_tile(tile, jb->queries + q0 * cs, nqb, b->codes + jb0 * cs, cs, nbb);
        for (size_t a = 0; a < nqb; a++) {
            float *hd;
            vindex_id *hi;
            heap_of(jb, q0 + a, seg, &hd, &hi);
            const uint32_t *row = tile + a * nbb;
            uint32_t bound = bound_of(hd);
            for (size_t j = 0; j < nbb; j++) {
                if (row[j] >= bound)
                    continue;
                vindex_id id = (vindex_id)(jb0 + j);
                if (b->sel && !vindex_selector_contains(b->sel, id))
                    continue;
                vx_heap_replace_top(hd, hi, k, (float)row[j], id);
                bound = bound_of(hd);
            }
        }
    }
}

/* Below this many code bytes compared, waking the pool costs more than the
 * scan. */
#define SMALL_WORK ((size_t)1 << 21)

vindex_status vx_hamming_knn(const vx_hamming_base *b, size_t nq, const uint8_t *queries, size_t k,
                             float *distances, vindex_id *labels)
{
    job jb;
    memset(&jb, 0, sizeof jb);
    jb.b = b;
    jb.queries = queries;
    jb.nq = nq;
    jb.k = k;
    jb.out_dis = distances;
    jb.out_ids = labels;
    jb.kern = vx_hamming_kernels();
    jb.qb = nq < QB ? nq : QB;
    jb.nqblocks = (nq + jb.qb - 1) / jb.qb;

    size_t work;
    int nthreads = vx_num_threads();
    if (vx_mul_ok(nq, b->nb, &work) && vx_mul_ok(work, b->code_size, &work) && work < SMALL_WORK)
        nthreads = 1;
    size_t ndb = (b->nb + DB - 1) / DB, nseg = 1;
    if (nthreads > 1 && jb.nqblocks < 4 * (size_t)nthreads) {
        nseg = (4 * (size_t)nthreads + jb.nqblocks - 1) / jb.nqblocks;
        if (nseg > ndb)
            nseg = ndb ? ndb : 1;
    }
    size_t per = (ndb + nseg - 1) / nseg;
    jb.seg_len = (per ? per : 1) * DB;
    jb.nseg = (b->nb + jb.seg_len - 1) / jb.seg_len;
    if (jb.nseg == 0)
        jb.nseg = 1;

    vindex_status st = VINDEX_OK;
    jb.tiles = vx_alloc((size_t)nthreads * jb.qb, DB * sizeof(uint32_t));
    if (!jb.tiles) {
        st = VINDEX_ERR_NOMEM;
        goto done;
    }
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
        vx_topk_finish(dis, ids, k, VINDEX_METRIC_L2);
    }
done:
    vx_free(jb.tiles);
    vx_free(jb.seg_dis);
    vx_free(jb.seg_ids);
    return st;
}
