/*
 * Kernels for 4-bit PQ fast-scan (after Andre, Kermarrec, Le Scouarnec 2015,
 * and Faiss's IndexPQFastScan): codes are stored in blocks of 32 vectors and
 * scored from a lookup table quantized to 8 bits, 16 entries per
 * sub-quantizer, so that one byte shuffle (pshufb) looks up 32 (AVX2) or 64
 * (AVX-512) codes at once.
 *
 * Block layout (quant/fastscan.h packs it): a block holds 32 vectors and
 * npairs = ceil(M / 2) rows of 32 bytes; byte j of row p carries sub-code 2p
 * of vector j in its low nibble and sub-code 2p + 1 in its high nibble. That
 * is byte p of the vector's ordinary 4-bit PQ code (Faiss's layout), so a
 * block is the transpose of 32 codes.
 *
 * Sums are exact integers on every level: the SIMD kernels add the 8-bit
 * entries in 16-bit lanes and flush them into 32-bit lanes every
 * VX_FS_FLUSH_PAIRS rows, before 2 x 255 x VX_FS_FLUSH_PAIRS could overflow,
 * so any M works and all levels give the same sums.
 */
#ifndef VX_FASTSCAN_KERNELS_H
#define VX_FASTSCAN_KERNELS_H

#include <stddef.h>
#include <stdint.h>

enum { VX_FS_BLOCK = 32, VX_FS_FLUSH_PAIRS = 128 };

typedef struct vx_fs_kernel_table {
    const char *name;
    /* nblocks blocks, each npairs * 32 bytes, one after the other; lut holds
     * 2 * npairs rows of 16 bytes. out[b * 32 + j] = the sum over m < 2 *
     * npairs of lut[m * 16 + (sub-code m of vector j of block b)]. */
    void (*accumulate)(uint32_t *out, const uint8_t *lut, size_t npairs, const uint8_t *blocks,
                       size_t nblocks);
    /* The 8-bit table of the float table t = a + b (b may be NULL: t = a),
     * M rows of 16 heap scores: row m's minimum lo_m is subtracted, every
     * entry multiplied by scale = 255 / (the largest max_m - lo_m; 1 when all
     * are 0) and rounded (truncating v + 0.5), lut gets ceil(M / 2) * 32
     * bytes (a zero row pads an odd M), *bias the sum of the lo_m
     * (vx_fs_sum_mins).
     * Returns scale. The same bits on every level. mins: M floats of scratch
     * (it gets the lo_m). */
    float (*quantize_lut)(const float *a, const float *b, size_t M, uint8_t *lut, float *bias,
                          float *mins);
    /* The float table of an L2 residual PQ for query x (d = M * dsub floats)
     * in the list of centroid c: t[m * 16 + j] = cn[m * 16 + j] - 2 <x_m -
     * c_m, codeword j of sub-quantizer m>, the residual's distance to the
     * codeword less |x_m - c_m|^2. ct holds the codebooks transposed and
     * multiplied by -2: ct[(m * dsub + s) * 16 + j] is -2 times coordinate s
     * of codeword j of sub-quantizer m (so it is exact); cn their squared
     * norms (M x 16). Per entry: r_s = x_s - c_s, the products r_s ct summed
     * in order of s, then cn + that sum, each operation rounded (no FMA):
     * the same bits on every level. */
    void (*residual_table)(float *t, const float *x, const float *c, const float *ct,
                           const float *cn, size_t M, size_t dsub);
} vx_fs_kernel_table;

/* The sum of M row minima in a fixed order that every level follows: 16
 * partial sums (minimum m goes to partial m mod 16, in order of m), then
 * halved pairwise (partial j += partial j + w for w = 8, 4, 2, 1). Short
 * dependency chains, where one running sum over M = 392 rows cost 4 cycles
 * per row. */
static inline float vx_fs_sum_mins(const float *mins, size_t M)
{
    float part[16] = {0};
    size_t m = 0;
    for (; m + 16 <= M; m += 16)
        for (int j = 0; j < 16; j++)
            part[j] += mins[m + (size_t)j];
    for (int j = 0; m + (size_t)j < M; j++)
        part[j] += mins[m + (size_t)j];
    for (int w = 8; w >= 1; w /= 2)
        for (int j = 0; j < w; j++)
            part[j] += part[j + w];
    return part[0];
}

/* The table for the level in use (vx_simd_level, VINDEX_SIMD). */
const vx_fs_kernel_table *vx_fs_kernels(void);
/* The table of a level (VX_LEVEL_*), or NULL when the build or CPU lacks it. */
const vx_fs_kernel_table *vx_fs_kernels_at(int level);

extern const vx_fs_kernel_table vx_fs_kernels_scalar;
#if defined(__x86_64__) || defined(_M_X64)
extern const vx_fs_kernel_table vx_fs_kernels_avx2;
extern const vx_fs_kernel_table vx_fs_kernels_avx512;
#endif

#endif
