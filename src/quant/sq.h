/*
 * The scalar-quantizer codec (Faiss: ScalarQuantizer): training of the ranges,
 * encoding, decoding, and the per-query preparation that lets the kernels of
 * simd/sq_kernels.h score codes directly.
 *
 * 8-bit, 4-bit and 8-bit-uniform codes hold c in 0..L (L = 255 or 15) for
 * x in [vmin, vmin + vdiff]: c = floor((x - vmin) / vdiff * L) clamped, as
 * Faiss; the value a code stands for is the bucket centre
 *     x^ = vmin + (c + 0.5) / L * vdiff  =  c * scale + bias,
 * with scale = vdiff / L and bias = vmin + 0.5 * scale per dimension (the
 * uniform type repeats one range). Distances then need no decoding step:
 *     L2:  |q - x^|^2 = sum_t (c_t * scale_t - (q_t - bias_t))^2
 *     IP:  <q, x^>    = sum_t (q_t * scale_t) c_t + sum_t q_t bias_t
 * so a query is prepared once (q - bias, or q * scale and the constant) and
 * the kernels run on the raw codes. fp16 / bf16 codes are scored against the
 * query as it is.
 */
#ifndef VX_SQ_H
#define VX_SQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../simd/sq_kernels.h"
#include "vindex.h"

typedef struct vx_sq {
    vindex_sq_type type;
    int d;
    size_t code_size;
    /* 8-bit / 4-bit types: d entries each (NULL for fp16 / bf16) */
    float *vmin, *vdiff, *scale, *bias;
    bool trained;
} vx_sq;

/* Whether the type has a name; its name ("QT_8bit", ...). */
bool vx_sq_type_valid(vindex_sq_type type);
const char *vx_sq_type_name(vindex_sq_type type);
bool vx_sq_type_needs_training(vindex_sq_type type);

/* Sets up an untrained codec (trained at once for fp16 / bf16). */
vindex_status vx_sq_init(vx_sq *sq, vindex_sq_type type, int d);
void vx_sq_free(vx_sq *sq);
size_t vx_sq_memory(const vx_sq *sq);
/* Same type, dimension and ranges. */
bool vx_sq_equal(const vx_sq *a, const vx_sq *b);

/* Learns the ranges from n vectors (min-max), all or nothing. A no-op for
 * fp16 / bf16. */
vindex_status vx_sq_train(vx_sq *sq, size_t n, const float *x);

/* Encodes n vectors, x_i - sub (sub = NULL: nothing subtracted) into
 * codes + i * code_size. Never fails. */
void vx_sq_encode(const vx_sq *sq, size_t n, const float *x, const float *sub, uint8_t *codes);
/* Decodes n codes into out (n x d), adding `add` (may be NULL). */
void vx_sq_decode(const vx_sq *sq, size_t n, const uint8_t *codes, const float *add, float *out);

/* A query prepared for scoring: qbuf holds d floats owned by the caller. */
typedef struct vx_sq_query {
    const vx_sq *sq;
    const vx_sq_kernel_table *kt;
    bool ip;
    const float *qv; /* what the kernel takes: q - bias, q * scale, or q */
    float c0;        /* IP: constant added to every kernel result */
} vx_sq_query;

/* Prepares q (minus `sub` when not NULL, for residual codes under L2) for the
 * metric; qbuf is scratch of d floats that must live as long as the query. */
void vx_sq_query_prepare(vx_sq_query *sq_q, const vx_sq *sq, const vx_sq_kernel_table *kt,
                         vindex_metric metric, const float *q, const float *sub, float *qbuf);

/* Scores of n codes in the heap convention (smaller is better): squared L2
 * distances, or negated inner products plus `ip_bias` (the IP's constant part
 * from elsewhere, e.g. <q, centroid>). */
void vx_sq_query_scores(const vx_sq_query *sq_q, const uint8_t *codes, size_t n, float ip_bias,
                        float *out);

/* Float <-> half and bfloat16, as the codec rounds them. */
uint16_t vx_f32_to_f16(float f);
uint16_t vx_f32_to_bf16(float f);

#endif
