/*
 * 4-bit PQ fast-scan: the packed code layout and the 8-bit lookup tables,
 * shared by IndexPQFastScan (index/pq_fastscan.c) and IndexIVFPQFastScan
 * (index/ivf_pq_fastscan.c). The kernels are in simd/fastscan_*.c.
 *
 * Codes are ordinary 4-bit PQ codes (quant/pq.h, code_size = ceil(M / 2)
 * bytes) stored transposed in blocks of 32 vectors: byte p of vector j of a
 * block is at block + p * 32 + j. A block is 32 * code_size bytes; storage
 * is always whole blocks, the unused slots of the last block zero.
 *
 * Tables. A query's float table (M x 16 heap scores) becomes bytes: per
 * sub-quantizer its minimum is subtracted (and summed into a bias), then all
 * entries are multiplied by one global scale, 255 / (the largest range of any
 * sub-quantizer), and rounded. A code's approximate score is then
 * bias + (sum of its M bytes) / scale, within M / (2 scale) of the exact one.
 * Faiss also caps the scale so that the sum of M bytes fits in 16 bits, which
 * costs precision for large M (M = 392: about 7.4 bits per entry); the
 * kernels here flush their 16-bit sums to 32 bits instead and keep 8 bits.
 */
#ifndef VX_FASTSCAN_H
#define VX_FASTSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../simd/fastscan_kernels.h"
#include "vindex.h"

/* Slots rounded up to whole blocks. */
static inline size_t vx_fs_round(size_t n) { return (n + VX_FS_BLOCK - 1) / VX_FS_BLOCK * VX_FS_BLOCK; }

/* Writes / reads the code (code_size bytes) of slot i of packed storage. */
static inline void vx_fs_put(uint8_t *blocks, size_t code_size, size_t i, const uint8_t *code)
{
    uint8_t *b = blocks + (i / VX_FS_BLOCK) * VX_FS_BLOCK * code_size + i % VX_FS_BLOCK;
    for (size_t p = 0; p < code_size; p++)
        b[p * VX_FS_BLOCK] = code[p];
}

static inline void vx_fs_get(const uint8_t *blocks, size_t code_size, size_t i, uint8_t *code)
{
    const uint8_t *b = blocks + (i / VX_FS_BLOCK) * VX_FS_BLOCK * code_size + i % VX_FS_BLOCK;
    for (size_t p = 0; p < code_size; p++)
        code[p] = b[p * VX_FS_BLOCK];
}

/* Quantizes a float table of M x 16 heap scores into lut (code_size * 32
 * bytes: a zero row pads an odd M). Returns the scale; *bias gets the sum of
 * the per-sub-quantizer minima; mins: M floats of scratch. */
float vx_fs_quantize_lut(const float *table, int M, uint8_t *lut, float *bias, float *mins);

/* Approximate scores of the first n codes of packed storage (whole blocks are
 * read): out[j] = bias + sums[j] / scale. sums: vx_fs_round(n) entries. */
void vx_fs_scores(const vx_fs_kernel_table *kt, const uint8_t *lut, size_t code_size, float bias,
                  float scale, const uint8_t *blocks, size_t n, uint32_t *sums, float *out);

/* The exact score of a 4-bit code from the float table (M x 16), summed in
 * sub-quantizer order as vx_pq_score_generic does, so the bits are IndexPQ's. */
float vx_fs_exact_score(const float *table, int M, const uint8_t *code);

/* Persistence of a fast-scan codec (docs/FORMAT.md, "Fast-scan"): FSPQ (M,
 * nbits, one family value `extra`, the k-means parameters), then FSCB (the
 * codebooks) when trained. The reader fills an untrained codec of dimension d
 * (vx_pq_destroy it afterwards, also on failure) and leaves the codebooks in
 * *centroids (vx_free them; NULL when untrained). */
struct vx_pq;
typedef struct vx_writer vx_writer;
typedef struct vx_reader vx_reader;
void vx_fs_write_codec(vx_writer *w, const struct vx_pq *pq, uint32_t extra);
vindex_status vx_fs_read_codec(vx_reader *r, int d, bool trained, struct vx_pq *pq,
                               uint32_t *extra, float **centroids, const char *what);

/* VINDEX_OK for nbits 4, else an error naming `what` (both constructors). */
vindex_status vx_fs_check_nbits(int nbits, const char *what);

#endif
