/*
 * Product quantization (Jegou, Douze, Schmid 2011), the codec of IndexPQ and
 * IndexIVFPQ; the public face is vindex_pq_codec in vindex.h.
 *
 * A vector of d dimensions is cut into M sub-vectors of dsub = d / M
 * dimensions; sub-space m has its own codebook of ksub = 2^nbits centroids
 * learnt by k-means, and a vector's code is the M indices of the nearest
 * centroid in each sub-space, packed nbits bits each in little-endian bit
 * order (sub-code m occupies bits m*nbits .. m*nbits+nbits-1 of the code, bit
 * 0 being the lowest bit of byte 0), exactly Faiss's layout, so codes are
 * interchangeable. code_size = ceil(M * nbits / 8) bytes.
 *
 * Distances to a query go through a table of M x ksub entries (the query's
 * sub-vector against every centroid of its sub-space): the distance to a code
 * is then the sum of M table lookups (asymmetric distance computation, ADC).
 * Tables here hold heap scores (core/topk.h: smaller is better), so inner
 * products are stored negated and one scan serves both metrics.
 */
#ifndef VX_PQ_H
#define VX_PQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vindex.h"

enum { VX_PQ_MAX_NBITS = 16 };

typedef struct vx_pq {
    int d, M, nbits;
    size_t dsub, ksub, code_size;
    float *centroids; /* M x ksub x dsub; NULL until trained */
    float *cnorms;    /* M x ksub: |centroid|^2 */
    float *ctrans;    /* nbits 4 only (else NULL): M x dsub x 16, each sub-quantizer's
                         codebook transposed (coordinate s of its 16 codewords in a row)
                         and multiplied by -2, for fast-scan's residual tables
                         (fastscan_kernels.h) */
    bool trained;
    vindex_kmeans_params cp; /* for train: Faiss's PQ defaults (25 iterations, 256 per centroid) */
} vx_pq;

/* Checks (d, M, nbits) and fills an untrained codec; `what` names the caller in
 * the error message. */
vindex_status vx_pq_init(vx_pq *pq, int d, int M, int nbits, const char *what);
void vx_pq_destroy(vx_pq *pq);
size_t vx_pq_memory(const vx_pq *pq);

/* Learns the M codebooks from n vectors (n >= ksub; the error names the
 * minimum otherwise). The sub-quantizers train in parallel on the pool. All or
 * nothing: on failure the codec is unchanged. */
vindex_status vx_pq_train(vx_pq *pq, size_t n, const float *x, const char *what);

/* Installs codebooks (M x ksub x dsub) and marks the codec trained. */
vindex_status vx_pq_set_centroids(vx_pq *pq, const float *centroids);

/* Encodes n vectors into n * code_size bytes, in parallel, through BLAS. */
vindex_status vx_pq_encode(const vx_pq *pq, size_t n, const float *x, uint8_t *codes);

/* Encodes one vector (x - sub when sub is not NULL: a residual) without
 * allocating; safe to call from pool tasks. */
void vx_pq_encode_one(const vx_pq *pq, const float *x, const float *sub, uint8_t *code);

/* Decodes n codes into n x d floats. */
void vx_pq_decode(const vx_pq *pq, size_t n, const uint8_t *codes, float *x);

/* The distance tables of nq queries, query i's M x ksub table at
 * tables + i * M * ksub. With as_scores, inner products are negated (heap
 * scores). Values do not depend on nq (a query's table is the same alone or in
 * a batch). Does not allocate: scratch holds VX_PQ_TABLE_QB * (dsub + 256)
 * floats. */
enum { VX_PQ_TABLE_QB = 16 };
void vx_pq_tables(const vx_pq *pq, size_t nq, const float *x, vindex_metric metric,
                  bool as_scores, float *tables, float *scratch);

/* Named tunables of the training parameters ("pq.cp.niter", "pq.cp.seed",
 * "pq.cp.max_points_per_centroid", ...) and, read only, "pq.M", "pq.nbits",
 * "pq.code_size". VINDEX_ERR_NOT_FOUND for other names. */
vindex_status vx_pq_set_cp_param(vx_pq *pq, const char *name, double value);
vindex_status vx_pq_get_cp_param(const vx_pq *pq, const char *name, double *value);

/* The codec of an IndexPQ, or NULL when ix is not one. */
struct vindex;
vx_pq *vx_pq_index_codec(struct vindex *ix);
/* The codec of an IndexPQFastScan, or NULL (index/pq_fastscan.c). */
vx_pq *vx_pqfs_index_codec(struct vindex *ix);

/* Sub-code m of a code. */
static inline uint32_t vx_pq_get(const uint8_t *code, size_t code_size, int nbits, int m)
{
    if (nbits == 8)
        return code[m];
    size_t bit = (size_t)m * (size_t)nbits, byte = bit >> 3;
    uint32_t w = 0;
    for (size_t b = 0; b < 3 && byte + b < code_size; b++)
        w |= (uint32_t)code[byte + b] << (8 * b);
    return (w >> (bit & 7)) & ((1u << nbits) - 1);
}

/* Writes sub-code m (the code must start zeroed). */
static inline void vx_pq_put(uint8_t *code, int nbits, int m, uint32_t v)
{
    if (nbits == 8) {
        code[m] = (uint8_t)v;
        return;
    }
    size_t bit = (size_t)m * (size_t)nbits;
    for (int b = 0; b < nbits; b++, bit++)
        code[bit >> 3] |= (uint8_t)(((v >> b) & 1u) << (bit & 7));
}

/* Score of one code from a table (M x ksub), summed in sub-space order (the
 * SIMD kernels keep this order, so every path gives the same bits). */
float vx_pq_score_generic(const vx_pq *pq, const float *table, const uint8_t *code);

/* n codes scored from one table into out[n] (nbits 8 through the SIMD
 * kernels; the other widths through vx_pq_score_generic). */
void vx_pq_scan(const vx_pq *pq, const float *table, size_t n, const uint8_t *codes, float *out);

#endif
