/*
 * The fast-scan codec's sections (docs/FORMAT.md, "Fast-scan families"),
 * shared by IndexPQFastScan (index/pq_fastscan.c) and IndexIVFPQFastScan
 * (index/ivf_pq_fastscan.c):
 *
 *   FSPQ   u32 M, u32 nbits (4), u32 extra (the family's: rescore, or
 *          use_precomputed_table), u32 niter, u32 nredo,
 *          u32 max_points_per_centroid, u32 min_points_per_centroid, i64 seed
 *   FSCB   M x 16 x (d / M) f32: the codebooks, when the index is trained
 */
#include <math.h>
#include <string.h>

#include "../core/alloc.h"
#include "../quant/fastscan.h"
#include "../quant/pq.h"
#include "format.h"

#define TAG_FS_PQ VX_TAG('F', 'S', 'P', 'Q')
#define TAG_FS_CODEBOOKS VX_TAG('F', 'S', 'C', 'B')

void vx_fs_write_codec(vx_writer *w, const vx_pq *pq, uint32_t extra)
{
    vx_writer_begin(w, TAG_FS_PQ);
    vx_writer_u32(w, (uint32_t)pq->M);
    vx_writer_u32(w, (uint32_t)pq->nbits);
    vx_writer_u32(w, extra);
    vx_writer_u32(w, (uint32_t)pq->cp.niter);
    vx_writer_u32(w, (uint32_t)pq->cp.nredo);
    vx_writer_u32(w, (uint32_t)pq->cp.max_points_per_centroid);
    vx_writer_u32(w, (uint32_t)pq->cp.min_points_per_centroid);
    vx_writer_i64(w, pq->cp.seed);
    vx_writer_end(w);
    if (pq->trained)
        vx_writer_array(w, TAG_FS_CODEBOOKS, pq->centroids, (size_t)pq->M * pq->ksub * pq->dsub,
                        sizeof(float));
}

vindex_status vx_fs_read_codec(vx_reader *r, int d, bool trained, vx_pq *pq, uint32_t *extra,
                               float **centroids, const char *what)
{
    vx_cursor c;
    uint32_t M, nbits, niter, nredo, max_ppc, min_ppc;
    int64_t seed;
    vindex_status st;
    memset(pq, 0, sizeof *pq);
    *centroids = NULL;
    if ((st = vx_reader_section(r, TAG_FS_PQ, &c)) || (st = vx_cursor_u32(&c, &M)) ||
        (st = vx_cursor_u32(&c, &nbits)) || (st = vx_cursor_u32(&c, extra)) ||
        (st = vx_cursor_u32(&c, &niter)) || (st = vx_cursor_u32(&c, &nredo)) ||
        (st = vx_cursor_u32(&c, &max_ppc)) || (st = vx_cursor_u32(&c, &min_ppc)) ||
        (st = vx_cursor_i64(&c, &seed)) || (st = vx_cursor_done(&c)))
        return st;
    if (nbits != 4 || M == 0 || M > (uint32_t)d || d % (int)M != 0 || *extra > 1 ||
        niter > INT32_MAX || nredo == 0 || nredo > INT32_MAX || max_ppc == 0 ||
        max_ppc > INT32_MAX || min_ppc > INT32_MAX)
        return vx_io_corrupt("%s: bad codec fields (M %u, nbits %u, flag %u, niter %u, nredo "
                             "%u, points per centroid %u..%u) for d = %d",
                             what, M, nbits, *extra, niter, nredo, min_ppc, max_ppc, d);
    if ((st = vx_pq_init(pq, d, (int)M, 4, what)))
        return vx_io_corrupt("%s: bad codec (M %u for d = %d)", what, M, d);
    pq->cp.niter = (int)niter;
    pq->cp.nredo = (int)nredo;
    pq->cp.max_points_per_centroid = (int)max_ppc;
    pq->cp.min_points_per_centroid = (int)min_ppc;
    pq->cp.seed = seed;
    if (!trained)
        return VINDEX_OK;
    const size_t n = (size_t)pq->M * pq->ksub * pq->dsub;
    float *cb;
    if ((st = vx_reader_array(r, TAG_FS_CODEBOOKS, n, sizeof(float), (void **)&cb, NULL)))
        return st;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(cb[i])) {
            vx_free(cb);
            return vx_io_corrupt("%s: codebook entry %zu is not finite", what, i);
        }
    *centroids = cb;
    return VINDEX_OK;
}
