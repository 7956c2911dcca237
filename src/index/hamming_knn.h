/*
 * Exact k-NN by Hamming distance over packed binary codes: the engine of
 * IndexBinaryFlat and IndexLSH.
 *
 * Work is cut into (query block, database segment) tasks. A task scores a
 * tile of queries against a block of codes with the Hamming kernels
 * (simd/hamming_kernels.h), then offers to each query's heap only the
 * candidates that beat its current worst (the brute-force filter pattern):
 * most fail one integer compare. Batches are parallel over query blocks; a
 * small batch (one query) is cut into database segments with a heap each,
 * merged at the end. Distances are exact integers and the order (distance,
 * id) is total, so the result never depends on the thread count or the split.
 */
#ifndef VX_HAMMING_KNN_H
#define VX_HAMMING_KNN_H

#include <stddef.h>
#include <stdint.h>

#include "vindex.h"

typedef struct vx_hamming_base {
    const uint8_t *codes;       /* nb codes of code_size bytes */
    size_t nb;
    size_t code_size;
    const vindex_selector *sel; /* applied to positions 0..nb-1; NULL = all */
} vx_hamming_base;

/* The k nearest codes of each of nq query codes: distances[i*k + r] as floats
 * (exact counts), labels[i*k + r] positions, sorted nearest first, ties by
 * smaller position, padded with (+inf, -1). */
vindex_status vx_hamming_knn(const vx_hamming_base *b, size_t nq, const uint8_t *queries, size_t k,
                             float *distances, vindex_id *labels);

#endif
