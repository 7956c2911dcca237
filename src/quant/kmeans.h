/*
 * k-means clustering (Lloyd), the trainer of IVF coarse quantizers and, later,
 * of PQ codebooks. The public entry point is vindex_kmeans() in vindex.h; the
 * library calls vx_kmeans(), which skips argument checks and lets the caller
 * choose the assignment metric (an IVF index with inner product clusters with
 * its own metric, as Faiss does).
 */
#ifndef VX_KMEANS_H
#define VX_KMEANS_H

#include <stddef.h>

#include "vindex.h"

/* Clusters n vectors x (n x d) into k centroids (k x d). Arguments are valid:
 * n >= k >= 1, d >= 1, params checked. Points are assigned to the nearest
 * centroid by `metric` (L2, or the largest inner product). iteration_obj, when
 * not NULL, receives niter * nredo objectives (all runs, in order); *final_obj,
 * when not NULL, the objective of the run that was kept. */
vindex_status vx_kmeans(size_t n, int d, const float *x, size_t k,
                        const vindex_kmeans_params *params, vindex_metric metric,
                        float *centroids, float *iteration_obj, double *final_obj);

/* Checks a parameter block; the message names the caller `what`. */
vindex_status vx_kmeans_check_params(const vindex_kmeans_params *p, const char *what);

#endif
