/* AVX2-level Hamming kernels: the POPCNT instruction on 64-bit words. The file
 * is compiled with the AVX2 flag set, which lacks -mpopcnt, so the functions
 * ask for it by attribute; dispatch checks the CPU bit (hamming_scalar.c). */
#include "hamming_kernels.h"

#define POPCNT __attribute__((target("popcnt")))

POPCNT static inline uint32_t hamming_one(const uint8_t *a, const uint8_t *b, size_t cs)
{
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t t = 0;
    for (; t + 32 <= cs; t += 32) {
        s0 += (uint64_t)__builtin_popcountll(vx_load_u64(a + t) ^ vx_load_u64(b + t));
        s1 += (uint64_t)__builtin_popcountll(vx_load_u64(a + t + 8) ^ vx_load_u64(b + t + 8));
        s2 += (uint64_t)__builtin_popcountll(vx_load_u64(a + t + 16) ^ vx_load_u64(b + t + 16));
        s3 += (uint64_t)__builtin_popcountll(vx_load_u64(a + t + 24) ^ vx_load_u64(b + t + 24));
    }
    for (; t + 8 <= cs; t += 8)
        s0 += (uint64_t)__builtin_popcountll(vx_load_u64(a + t) ^ vx_load_u64(b + t));
    if (t < cs) { /* the last 1..7 bytes, gathered into one word */
        uint64_t x = 0, y = 0;
        memcpy(&x, a + t, cs - t);
        memcpy(&y, b + t, cs - t);
        s1 += (uint64_t)__builtin_popcountll(x ^ y);
    }
    return (uint32_t)(s0 + s1 + s2 + s3);
}

POPCNT static void hamming_ny(uint32_t *out, const uint8_t *q, const uint8_t *codes, size_t cs,
                              size_t n)
{
    for (size_t j = 0; j < n; j++)
        out[j] = hamming_one(q, codes + j * cs, cs);
}

POPCNT static void hamming_tile(uint32_t *out, const uint8_t *q, size_t nq, const uint8_t *codes,
                                size_t cs, size_t n)
{
    for (size_t j = 0; j < n; j++)
        for (size_t i = 0; i < nq; i++)
            out[i * n + j] = hamming_one(q + i * cs, codes + j * cs, cs);
}

const vx_hamming_kernel_table vx_hamming_kernels_avx2 = {
    .name = "avx2",
    .hamming_ny = hamming_ny,
    .hamming_tile = hamming_tile,
};
