/*
 * Nearest-centroid assignment for k-means in high dimensions, pruned by lower
 * bounds. Lloyd's assignment costs n x k x d multiply-adds per iteration (for
 * IVF1024 on 784-dimensional data, 95% of an IVF index's training). Here each
 * point and each centroid is summarised once per iteration by a short sketch:
 * its coordinates on the top principal directions of the data, plus the norm
 * of what those directions miss. For a point x and centroid c,
 *
 *   |x - c|^2 = |P(x - c)|^2 + |P'(x - c)|^2 >= |Px - Pc|^2 + (|P'x| - |P'c|)^2
 *
 * (P: the sketch directions, P': the rest, vectors taken from the data's
 * mean). The bounds of one point against all centroids come from one small
 * sgemm; the exact distance is computed only for centroids whose bound does
 * not rule them out (src/index/bounded_knn.h): on Fashion-MNIST with 64
 * directions, about 3 to 16 of 1,024. The assignment is Lloyd's, up to float
 * rounding on near-ties (exact distances are summed directly rather than as
 * |x|^2 + |c|^2 - 2<x, c>).
 */
#ifndef VX_KMEANS_SKETCH_H
#define VX_KMEANS_SKETCH_H

#include <stdbool.h>
#include <stddef.h>

#include "vindex.h"

/* Sketch directions (default when negative: see kmeans_sketch.c); 0 turns the
 * pruned assignment off. Tests set it to compare with the plain assignment. */
extern int vx_kmeans_sketch_dims;

typedef struct vx_kmeans_sketch vx_kmeans_sketch;

/* Whether the pruned assignment pays for n points of dimension d into k
 * centroids (L2 only). */
bool vx_kmeans_sketch_applies(size_t n, size_t d, size_t k);

/* The sketches of the n points x (n x d) whose squared norms are xnorms (both
 * kept by reference); NOMEM or a LAPACK failure are returned as statuses. */
vindex_status vx_kmeans_sketch_new(size_t n, size_t d, const float *x, const float *xnorms,
                                   size_t k, int nthreads, vx_kmeans_sketch **out);

/* Assigns every point to its nearest centroid (k x d): assign[i] and dis[i],
 * the exact squared distance. Deterministic whatever the thread count. */
vindex_status vx_kmeans_sketch_assign(vx_kmeans_sketch *s, const float *centroids, float *dis,
                                      vindex_id *assign);

void vx_kmeans_sketch_free(vx_kmeans_sketch *s);

#endif
