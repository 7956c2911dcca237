/*
 * Distance kernels, one implementation per instruction set, picked once at
 * start-up (see dispatch.c). Everything that computes float distances calls
 * through vx_kernels(); the files dist_<isa>.c are the only ones compiled with
 * ISA flags.
 *
 * Layout conventions: a block of vectors is row-major and contiguous, vector j
 * at y + j*d (the _strided kernels take a row stride). No alignment is
 * required and any d >= 1 works.
 */
#ifndef VX_KERNELS_H
#define VX_KERNELS_H

#include <stddef.h>
#include <stdint.h>

typedef struct vx_kernel_table {
    const char *name; /* "scalar", "avx2", "avx512" */
    float (*l2sqr)(const float *x, const float *y, size_t d);
    float (*inner_product)(const float *x, const float *y, size_t d);
    float (*norm_sqr)(const float *x, size_t d);
    /* One query against ny vectors: out[j] = dist(x, y_j). */
    void (*l2sqr_ny)(float *out, const float *x, const float *y, size_t d, size_t ny);
    void (*inner_product_ny)(float *out, const float *x, const float *y, size_t d, size_t ny);
    /* A block of nq queries against ny vectors: out[i*ny + j] = dist(x_i, y_j).
     * Each y_j is loaded once for several queries. */
    void (*l2sqr_tile)(float *out, const float *x, size_t nq, const float *y, size_t d, size_t ny);
    void (*inner_product_tile)(float *out, const float *x, size_t nq, const float *y, size_t d,
                               size_t ny);
    /* Writes to idx the j < n with score[j] + offset[j] <= threshold (offset may
     * be NULL: 0), in increasing order, and returns how many. The filter in
     * front of every top-k heap: most candidates fail it. */
    size_t (*select_le)(uint32_t *idx, const float *score, const float *offset, size_t n,
                        float threshold);
    /* The _ny and _tile kernels over vectors that are rows of ldy >= d floats
     * (vector j at y + j*ldy; its first d floats are used), for codes that
     * carry more than the vector. Same scores, bit for bit. */
    void (*l2sqr_ny_strided)(float *out, const float *x, const float *y, size_t d, size_t ldy,
                             size_t ny);
    void (*inner_product_ny_strided)(float *out, const float *x, const float *y, size_t d,
                                     size_t ldy, size_t ny);
    void (*l2sqr_tile_strided)(float *out, const float *x, size_t nq, const float *y, size_t d,
                               size_t ldy, size_t ny);
    void (*inner_product_tile_strided)(float *out, const float *x, size_t nq, const float *y,
                                       size_t d, size_t ldy, size_t ny);
    /* l2sqr_ny over vectors anywhere in memory: out[j] = |x - ys[j]|^2, the
     * same bits as l2sqr_ny gives; several misses in flight at once. */
    void (*l2sqr_gather)(float *out, const float *x, const float *const *ys, size_t d,
                         size_t ny);
} vx_kernel_table;

/* Instruction-set levels. Other kernel families (PQ, SQ, Hamming, ...) keep their
 * own tables in their own files and pick one with these, so that every family
 * follows the same choice and the same VINDEX_SIMD override. */
enum { VX_LEVEL_SCALAR = 0, VX_LEVEL_AVX2 = 1, VX_LEVEL_AVX512 = 2 };
/* The level in use (the CPU's best, lowered by VINDEX_SIMD). */
int vx_simd_level(void);
/* Whether this build and CPU can run `level` (for tests comparing levels). */
int vx_simd_level_available(int level);

/* The table in use (chosen once, thread-safe). */
const vx_kernel_table *vx_kernels(void);

/* The table for a named level, or NULL when this build or this CPU lacks it.
 * For tests that compare every level against the scalar code. */
const vx_kernel_table *vx_kernels_for(const char *level);

extern const vx_kernel_table vx_kernels_scalar;
#if defined(__x86_64__) || defined(_M_X64)
extern const vx_kernel_table vx_kernels_avx2;
extern const vx_kernel_table vx_kernels_avx512;
#endif

/* Squared norms of n vectors: out[i] = |x_i|^2. */
void vx_norms_sqr(float *out, const float *x, size_t d, size_t n);

#endif
