/*
 * Exact L2 k-NN over candidates that come with lower bounds of their scores
 * (sketch distances: see ivf_flat.c and ivf_coarse.c). The k candidates with
 * the smallest bounds are scored first, which makes the heap nearly final;
 * then every candidate whose bound does not rule it out is scored. Exact
 * scores are computed eight at a time (the gather kernel) so that their cache
 * misses overlap; that kernel sums like the list kernels, so every score is
 * bit-identical to what a full scan computes, and the heap ends as a full
 * scan's would.
 */
#ifndef VX_BOUNDED_KNN_H
#define VX_BOUNDED_KNN_H

#include <math.h>
#include <stddef.h>

#include "../simd/kernels.h"
#include "vindex.h"

/* A run of candidates: rows `stride` floats apart, ids from `ids` (NULL: the
 * row number). */
typedef struct vx_bound_segment {
    const float *vecs;
    size_t stride;
    const vindex_id *ids;
    size_t n;
} vx_bound_segment;

typedef struct vx_bounded_knn {
    const vx_kernel_table *kt;
    const float *q;
    size_t d, k;
    const vindex_selector *sel; /* or NULL */
    float *hd;                  /* the heap (core/topk.h), k entries */
    vindex_id *hi;
    /* A candidate may be skipped when its bound exceeds thr + slack * (qn2 +
     * thr) (thr: the heap's worst score). The slack covers float rounding in
     * the bound and in the exact distance, which grows with the magnitudes
     * involved: |q|^2, and |x|^2 <= 2|q|^2 + 2 thr for candidates that matter. */
    float slack, qn2;
} vx_bounded_knn;

/* Bounds may add the gap between the parts that the sketch misses: for x
 * with all = |x - m|^2 and in = |P(x - m)|^2 (P: orthonormal rows), the tail
 * |(I - P)(x - m)| is sqrt(all - in), a difference that loses the rounding of
 * both terms. Given `slack`, how far rounding may move all - in, [*lo, *hi]
 * holds the tail (ivf_coarse.c, quant/kmeans_sketch.c). */
static inline void vx_tail_range(double all, double in, double slack, float *lo, float *hi)
{
    *lo = (float)(sqrt(fmax(all - in - slack, 0.0)) * (1 - 1e-6));
    *hi = (float)(sqrt(fmax(all - in + slack, 0.0)) * (1 + 1e-6));
}

/* The sketch of vector q (d floats) on `dims` directions: out = proj q + bias
 * (proj: dims x d, row-major). */
void vx_sketch(const vx_kernel_table *kt, const float *proj, const float *bias, size_t d,
               size_t dims, const float *q, float *out);

/* The state for query q (d floats) whose bounds come from sketches of
 * `sketch_dims` dimensions, into the heap hd/hi of k entries. */
vx_bounded_knn vx_bounded_knn_for(const vx_kernel_table *kt, const float *q, size_t d,
                                  size_t sketch_dims, size_t k, float *hd, vindex_id *hi);

/* As vx_bounded_knn_for, with |q|^2 known (qn2). */
vx_bounded_knn vx_bounded_knn_with_norm(const vx_kernel_table *kt, const float *q, float qn2,
                                        size_t d, size_t sketch_dims, size_t k, float *hd,
                                        vindex_id *hi);

/* Runs over nseg segments; bound holds the candidates' bounds, segment after
 * segment (overwritten); best_bound/best_pos: room for k entries. Returns how
 * many candidates were scored exactly (what the bounds did not rule out). */
size_t vx_bounded_knn_run(const vx_bounded_knn *s, const vx_bound_segment *seg, size_t nseg,
                        float *bound, float *best_bound, vindex_id *best_pos);

/* The second half of a run, for callers that fill the heap themselves: scores
 * every candidate whose bound does not rule it out. Candidates already in the
 * heap must have NaN bounds (NaN is never selected). Returns how many were
 * scored. */
size_t vx_bounded_knn_sweep(const vx_bounded_knn *s, const vx_bound_segment *seg, size_t nseg,
                            const float *bound);

#endif
