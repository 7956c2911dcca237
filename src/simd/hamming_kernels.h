/*
 * Hamming-distance kernels over packed binary codes: one table per
 * instruction set (hamming_scalar.c, hamming_avx2.c, hamming_avx512.c), chosen
 * with vx_simd_level() like every other kernel family, so VINDEX_SIMD lowers
 * it too.
 *
 *   scalar  __builtin_popcountll on 64-bit words (the reference)
 *   avx2    the POPCNT instruction on 64-bit words (a function attribute: the
 *           AVX2 flag set of the build lacks -mpopcnt; the CPU bit is checked
 *           at dispatch, CPUID.1:ECX[23])
 *   avx512  VPOPCNTQ on 512-bit vectors, 64 bytes of code per instruction,
 *           masked loads for the last partial block (a function attribute:
 *           -mavx512vpopcntdq is not in the automatic flag set). Used only when
 *           the CPU has AVX512_VPOPCNTDQ (CPUID.7.0:ECX[14]); otherwise the
 *           avx512 level uses the avx2 table.
 *
 * Codes are contiguous, code j at codes + j * code_size, any code_size >= 1,
 * no alignment. Distances are exact integers, so every level gives the same
 * numbers, whatever the block sizes.
 */
#ifndef VX_HAMMING_KERNELS_H
#define VX_HAMMING_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct vx_hamming_kernel_table {
    const char *name; /* "scalar", "avx2", "avx512" */
    /* out[j] = popcount(q XOR code_j), j < n */
    void (*hamming_ny)(uint32_t *out, const uint8_t *q, const uint8_t *codes, size_t code_size,
                       size_t n);
    /* nq queries (contiguous codes) against n codes: out[i * n + j]. Each code
     * is loaded once for all nq queries (nq small: a tile). */
    void (*hamming_tile)(uint32_t *out, const uint8_t *q, size_t nq, const uint8_t *codes,
                         size_t code_size, size_t n);
} vx_hamming_kernel_table;

/* The table for the level in use. */
const vx_hamming_kernel_table *vx_hamming_kernels(void);
/* The table for a level (VX_LEVEL_*), or NULL when this build or CPU lacks the
 * level. The avx512 level without VPOPCNTDQ gives the avx2 table. */
const vx_hamming_kernel_table *vx_hamming_kernels_for_level(int level);

extern const vx_hamming_kernel_table vx_hamming_kernels_scalar;
#if defined(__x86_64__) || defined(_M_X64)
extern const vx_hamming_kernel_table vx_hamming_kernels_avx2;
extern const vx_hamming_kernel_table vx_hamming_kernels_avx512;
#endif

static inline uint64_t vx_load_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

#endif
