/*
 * The one kernel of HNSW's SQ8 storage: squared L2 distance between two 8-bit
 * codes, in integers. The same plain loop is compiled once per instruction set
 * (hnsw_sq8_scalar.c, hnsw_sq8_avx2.c, hnsw_sq8_avx512.c: the file name gives
 * the flags), where the compiler turns it into widening subtracts and
 * multiply-adds (vpsubw + vpmaddwd: 32 dimensions per instruction with
 * AVX-512BW). The level follows vx_simd_level(), as every kernel family.
 */
#ifndef VX_HNSW_SQ8_H
#define VX_HNSW_SQ8_H

#include <stddef.h>
#include <stdint.h>

/* d <= VX_SQ8_MAX_BLOCK (the sum then fits 32 bits); longer vectors are cut
 * into blocks by the caller. */
#define VX_SQ8_MAX_BLOCK 65536
typedef uint32_t (*vx_sq8_l2_fn)(const uint8_t *a, const uint8_t *b, size_t d);

uint32_t vx_sq8_l2_scalar(const uint8_t *a, const uint8_t *b, size_t d);
#if defined(__x86_64__) || defined(_M_X64)
uint32_t vx_sq8_l2_avx2(const uint8_t *a, const uint8_t *b, size_t d);
uint32_t vx_sq8_l2_avx512(const uint8_t *a, const uint8_t *b, size_t d);
#endif

/* The kernel for the level in use. */
vx_sq8_l2_fn vx_sq8_l2_kernel(void);

#define VX_SQ8_L2_BODY                                                                         \
    {                                                                                          \
        uint32_t s = 0;                                                                        \
        for (size_t i = 0; i < d; i++) {                                                       \
            int t = (int)a[i] - (int)b[i];                                                     \
            s += (uint32_t)(t * t);                                                            \
        }                                                                                      \
        return s;                                                                              \
    }

#endif
