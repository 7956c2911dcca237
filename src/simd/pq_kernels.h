/*
 * Kernels for 8-bit product-quantization codes: sums of table lookups.
 * One table per instruction set (pq_scalar.c, pq_avx2.c, pq_avx512.c), chosen
 * with vx_simd_level() so that PQ follows the distance kernels' level and the
 * VINDEX_SIMD override.
 *
 * Every kernel sums a code's M lookups in sub-space order starting from 0, so
 * all levels and both layouts give bit-identical scores.
 */
#ifndef VX_PQ_KERNELS_H
#define VX_PQ_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Queries per transposed table (one AVX-512 register, two AVX2 ones). */
enum { VX_PQ_TQ = 16 };

typedef struct vx_pq_kernel_table {
    const char *name;
    /* One query: table is M x 256; codes are n rows of M bytes.
     * out[j] = sum over m of table[m * 256 + codes[j * M + m]]. */
    void (*scan8)(float *out, const float *table, size_t M, const uint8_t *codes, size_t n);
    /* VX_PQ_TQ queries at once from a transposed table: entry (m, c) of query
     * q is ttable[(m * 256 + c) * VX_PQ_TQ + q], so one code costs M vector
     * loads for all the queries. Scores go to out[j * VX_PQ_TQ + q]; idx gets,
     * in increasing order, every j for which some query q has
     * out[j * VX_PQ_TQ + q] <= thr[q]; returns how many. */
    size_t (*scan8_tq)(float *out, uint32_t *idx, const float *ttable, size_t M,
                       const uint8_t *codes, size_t n, const float *thr);
    /* The smallest row[j] + offset[j] over j < n (n >= 1), its first index
     * into *arg: k-means assignment (PQ training) after an sgemm tile. */
    float (*argmin_offset)(const float *row, const float *offset, size_t n, uint32_t *arg);
    /* As argmin_offset, and *second gets the second smallest value (equal to
     * the smallest on a tie; +inf when n == 1). */
    float (*argmin2_offset)(const float *row, const float *offset, size_t n, uint32_t *arg,
                            float *second);
    /* acc[j] = sum over t < n of x[rows[t] * d + j], in double, rows in order
     * (k-means centroid update; the same bits at every level). */
    void (*sum_rows)(double *acc, const float *x, size_t d, const size_t *rows, size_t n);
} vx_pq_kernel_table;

/* The table for the level in use. */
const vx_pq_kernel_table *vx_pq_kernels(void);
/* The table of a level (VX_LEVEL_*), or NULL when the build or CPU lacks it. */
const vx_pq_kernel_table *vx_pq_kernels_at(int level);

extern const vx_pq_kernel_table vx_pq_kernels_scalar;
#if defined(__x86_64__) || defined(_M_X64)
extern const vx_pq_kernel_table vx_pq_kernels_avx2;
extern const vx_pq_kernel_table vx_pq_kernels_avx512;
#endif

#endif
