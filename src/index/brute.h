/*
 * Exact k-NN and range search over a contiguous block of vectors: the engine of
 * IndexFlat and vindex_knn, and later of coarse quantizers and k-means
 * assignment.
 *
 * Large query batches go through BLAS sgemm (scores = |y|^2 - 2<x,y>, the query
 * norm added at the end), small ones through the SIMD tile kernels. Work is cut
 * into (query block, database segment) tasks with per-task heaps merged at the
 * end; block sizes are fixed, so every (query, vector) score, and hence every
 * result, is the same whatever the thread count.
 */
#ifndef VX_BRUTE_H
#define VX_BRUTE_H

#include <stdbool.h>
#include <stdint.h>

#include "../core/range.h"
#include "vindex.h"

typedef struct vx_brute {
    const float *base;          /* nb vectors of d floats, or of head_dim when split */
    size_t nb;
    int d;
    vindex_metric metric;
    const float *base_norms;    /* |y|^2 of each vector for L2, or NULL to compute */
    const vindex_selector *sel; /* applied to positions 0..nb-1; NULL = all */
    /* The split layout (L2 only; see flat.c): the dimensions, reordered by perm
     * (stored dimension t is dimension perm[t] of the caller's vectors), are
     * kept as a head of head_dim columns in `base` and the rest in `tail`.
     * head_dim = 0 means one contiguous array. Small batches then read a
     * vector's tail only when its head distance alone does not already rule
     * it out: exact, because squared terms only add. */
    int head_dim;
    const float *tail;          /* nb x (d - head_dim) */
    const int32_t *perm;        /* d entries */
    /* Large batches (BLAS) only: score the k results kept again pair by pair
     * and re-sort them, so that the order promised for ties (smaller id
     * first) holds. The norm expansion's rounding depends on where a vector
     * sits in sgemm's blocks, so exact duplicates can otherwise differ in the
     * last bit (OpenBLAS's Haswell kernel). Left false by k-means. */
    bool exact_order;
} vx_brute;

vindex_status vx_brute_knn(const vx_brute *b, size_t nq, const float *queries, size_t k,
                           float *distances, vindex_id *labels);

vindex_status vx_brute_range(const vx_brute *b, size_t nq, const float *queries, float radius,
                             vx_range_list *lists);

#endif
