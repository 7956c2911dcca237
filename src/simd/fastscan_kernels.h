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
     * bytes (a zero row pads an odd M), *bias the sum of the lo_m in order.
     * Returns scale. The same bits on every level. mins: M floats of scratch
     * (it gets the lo_m). */
    float (*quantize_lut)(const float *a, const float *b, size_t M, uint8_t *lut, float *bias,
                          float *mins);
} vx_fs_kernel_table;

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
