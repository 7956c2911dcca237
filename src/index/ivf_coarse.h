/*
 * The coarse search of a few queries without the quantizer's full scan. When
 * the quantizer is an L2 Flat index of nlist centroids in d >= 256 dimensions,
 * the IVF core keeps the centroids' sketches: their projections on the
 * leading principal directions of the centroids. A sketch distance is a lower
 * bound of the true distance, so a query needs exact distances only for the
 * centroids whose bound does not rule them out (~3% at nlist 1024 on
 * Fashion-MNIST with 64 dimensions), and gets the nprobe nearest lists exactly,
 * as the quantizer would, in a fraction of the time. Batches keep asking the
 * quantizer (one BLAS product serves them all).
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

/* The nprobe nearest lists of query q, best first, into cdis/cidx (L2
 * distances). False when the sketches do not apply (then nothing is written
 * that matters): the caller asks the quantizer. */
bool vx_ivf_coarse_search(const vx_ivf *ivf, const float *q, size_t nprobe, float *cdis,
                          vindex_id *cidx);

#endif
