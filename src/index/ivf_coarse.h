/*
 * The coarse search without the quantizer's full scan. When
 * the quantizer is an L2 Flat index of nlist centroids in d >= 256 dimensions,
 * the IVF core keeps the centroids' sketches: their projections on the
 * leading principal directions of the centroids. A sketch distance is a lower
 * bound of the true distance, and so is that distance plus the squared gap
 * between the lengths of the two vectors' parts outside the sketch; a query
 * needs exact distances only for the centroids whose bound does not rule them
 * out (22 of 1024 per query on Fashion-MNIST at nprobe 8 with 64
 * dimensions), and gets the nprobe nearest lists exactly, as the quantizer
 * would, in a fraction of the time. Batches take the sketches too (cheaper
 * than the BLAS product of the batch with all centroids, and the probed
 * centroids are then in cache for the list scans), unless the first queries show that the bounds prune too
 * little on the data at hand. A batch's queries are sketched and bounded 32
 * at a time by two BLAS products (the bounds lowered by their rounding error)
 * in blocks on the thread pool; the exact distances decide, so the lists are
 * the same as for one query.
 */
#ifndef VX_IVF_COARSE_H
#define VX_IVF_COARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "vindex.h"

typedef struct vx_ivf vx_ivf;

/* (Re)builds the sketches for the quantizer's current centroids, or drops
 * them when they do not apply. Never fails: without memory the core simply
 * asks the quantizer. */
void vx_ivf_coarse_build(vx_ivf *ivf);
void vx_ivf_coarse_free(vx_ivf *ivf);
size_t vx_ivf_coarse_memory(const vx_ivf *ivf);

/* Up to this many queries always take the sketches when they apply. */
enum { VX_IVF_COARSE_FEW = 4 };

/* The nprobe nearest lists of each of the nq queries q (nq x d), best first,
 * into cdis/cidx (nq x nprobe, L2 distances), the same for a query whatever
 * the batch. Returns how many of the queries, from the first, it searched:
 * nq, or 0 when the sketches do not apply (or without memory), or fewer for
 * a batch of more than VX_IVF_COARSE_FEW queries whose first ones show that
 * the bounds rule out too few centroids on this data to beat one BLAS
 * product: the caller asks the quantizer for the rest. */
size_t vx_ivf_coarse_search(const vx_ivf *ivf, size_t nq, const float *q, size_t nprobe,
                            float *cdis, vindex_id *cidx);

#endif
