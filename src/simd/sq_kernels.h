/*
 * Scalar-quantizer distance kernels: one query against n codes, computed on
 * the codes (each dimension decoded in registers, never into a buffer). One
 * table per instruction set (sq_scalar.c, sq_avx2.c, sq_avx512.c), chosen
 * with vx_simd_level() so that SQ follows the same level and VINDEX_SIMD
 * override as the float kernels.
 *
 * Codes are contiguous, code j at codes + j * code_size, no alignment:
 *   u8   d bytes; the value of dimension t is c_t * scale_t (the caller folds
 *        the bias into the query, see quant/sq.h)
 *   u4   (d + 1) / 2 bytes; dimension t in the low nibble of byte t / 2 when t
 *        is even, the high nibble when odd
 *   f16  d IEEE half floats (2d bytes);  bf16  d bfloat16 (2d bytes)
 *
 * Kernels:
 *   l2_*   out[j] = sum_t (value_t(code_j) - q_t)^2
 *   dot_*  out[j] = sum_t w_t * value'_t(code_j), where value' is c_t for the
 *          integer codes (the caller folds the scale into w) and the float for
 *          f16 / bf16.
 * Within one table, a code's result never depends on n or on its position in
 * the block (several codes are processed at once, each with its own
 * accumulator and the same sequence of operations), so results do not depend
 * on how a search splits the base.
 */
#ifndef VX_SQ_KERNELS_H
#define VX_SQ_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef void (*vx_sq_l2_fn)(float *out, const uint8_t *codes, size_t n, size_t d,
                            const float *scale, const float *q);
typedef void (*vx_sq_dot_fn)(float *out, const uint8_t *codes, size_t n, size_t d,
                             const float *w);

typedef struct vx_sq_kernel_table {
    const char *name; /* "scalar", "avx2", "avx512" */
    vx_sq_l2_fn l2_u8, l2_u4, l2_f16, l2_bf16;     /* scale unused for f16/bf16 */
    vx_sq_dot_fn dot_u8, dot_u4, dot_f16, dot_bf16;
} vx_sq_kernel_table;

/* The table for the level in use. */
const vx_sq_kernel_table *vx_sq_kernels(void);
/* The table for a level (VX_LEVEL_*), or NULL when this build or CPU lacks it. */
const vx_sq_kernel_table *vx_sq_kernels_for_level(int level);

extern const vx_sq_kernel_table vx_sq_kernels_scalar;
#if defined(__x86_64__) || defined(_M_X64)
extern const vx_sq_kernel_table vx_sq_kernels_avx2;
extern const vx_sq_kernel_table vx_sq_kernels_avx512;
#endif

/* ---- scalar conversions, shared by the codec and the scalar kernels ---- */

static inline unsigned vx_sq_u4_at(const uint8_t *code, size_t t)
{
    return (code[t >> 1] >> ((t & 1) << 2)) & 0xfu;
}

static inline float vx_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, bits;
    if (e == 0) {
        float v = (float)m * (1.0f / 16777216.0f); /* subnormal: m * 2^-24, exact */
        return sign ? -v : v;
    }
    if (e == 31)
        bits = sign | 0x7f800000u | (m << 13);
    else
        bits = sign | ((e + 112) << 23) | (m << 13);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static inline float vx_bf16_to_f32(uint16_t b)
{
    uint32_t bits = (uint32_t)b << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static inline uint16_t vx_load_u16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

#endif
