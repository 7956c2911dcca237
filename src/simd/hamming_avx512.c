/* AVX-512 Hamming kernels: VPOPCNTQ counts 64 bytes of XORed code per
 * instruction. The file's automatic flags are avx512f/dq/bw/vl; VPOPCNTDQ is
 * asked for by attribute and dispatch uses this table only when the CPU has it
 * (hamming_scalar.c). The last partial 64-byte block goes through a masked
 * load (the bytes past the code are never read), so any code size works.
 *
 * Several codes are reduced together: the per-lane sums of 8 codes are folded
 * into one vector (three rounds of pairwise shuffles and adds) instead of 8
 * horizontal reductions, which on 128-byte codes is half the instructions. */
#include <immintrin.h>

#include "hamming_kernels.h"

#define VPOPCNT __attribute__((target("avx512vpopcntdq,avx512f,avx512bw")))

/* Per-lane popcount sums (8 x 64-bit) of a XOR b over cs bytes. */
VPOPCNT static inline __m512i lanes(const uint8_t *a, const uint8_t *b, size_t cs)
{
    __m512i acc = _mm512_setzero_si512();
    size_t t = 0;
    for (; t + 64 <= cs; t += 64) {
        __m512i x = _mm512_xor_si512(_mm512_loadu_si512((const void *)(a + t)),
                                     _mm512_loadu_si512((const void *)(b + t)));
        acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(x));
    }
    if (t < cs) {
        __mmask64 m = (1ULL << (cs - t)) - 1; /* 1..63 bytes left */
        __m512i x = _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, a + t),
                                     _mm512_maskz_loadu_epi8(m, b + t));
        acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(x));
    }
    return acc;
}

/* Reduces 8 lane-sum vectors to their 8 totals (as 32-bit values, in order).
 * Each round halves the partial sums per code and doubles the codes per
 * vector: unpack pairs 64-bit lanes (a[i], 128-bit block k: codes 2i, 2i+1),
 * then two rounds of 128-bit block shuffles pair blocks across vectors, ending
 * with block k holding the totals of codes 2k and 2k+1. */
VPOPCNT static inline __m256i fold8(const __m512i v[8])
{
    __m512i a[4], b[2];
    for (int i = 0; i < 4; i++)
        a[i] = _mm512_add_epi64(_mm512_unpacklo_epi64(v[2 * i], v[2 * i + 1]),
                                _mm512_unpackhi_epi64(v[2 * i], v[2 * i + 1]));
    for (int i = 0; i < 2; i++) /* blocks 0,1: codes 4i, 4i+1; blocks 2,3: 4i+2, 4i+3 */
        b[i] = _mm512_add_epi64(
            _mm512_shuffle_i64x2(a[2 * i], a[2 * i + 1], _MM_SHUFFLE(2, 0, 2, 0)),
            _mm512_shuffle_i64x2(a[2 * i], a[2 * i + 1], _MM_SHUFFLE(3, 1, 3, 1)));
    __m512i s = _mm512_add_epi64(_mm512_shuffle_i64x2(b[0], b[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                 _mm512_shuffle_i64x2(b[0], b[1], _MM_SHUFFLE(3, 1, 3, 1)));
    return _mm512_cvtepi64_epi32(s);
}

VPOPCNT static inline uint32_t reduce1(__m512i v) { return (uint32_t)_mm512_reduce_add_epi64(v); }

VPOPCNT static void hamming_ny(uint32_t *out, const uint8_t *q, const uint8_t *codes, size_t cs,
                               size_t n)
{
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m512i v[8];
        for (int c = 0; c < 8; c++)
            v[c] = lanes(q, codes + (j + (size_t)c) * cs, cs);
        _mm256_storeu_si256((__m256i *)(void *)(out + j), fold8(v));
    }
    for (; j < n; j++)
        out[j] = reduce1(lanes(q, codes + j * cs, cs));
}

VPOPCNT static void hamming_tile(uint32_t *out, const uint8_t *q, size_t nq, const uint8_t *codes,
                                 size_t cs, size_t n)
{
    /* 8 codes at a time (they stay in L1 while every query passes over them) */
    size_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (size_t i = 0; i < nq; i++) {
            __m512i v[8];
            for (int c = 0; c < 8; c++)
                v[c] = lanes(q + i * cs, codes + (j + (size_t)c) * cs, cs);
            _mm256_storeu_si256((__m256i *)(void *)(out + i * n + j), fold8(v));
        }
    for (; j < n; j++)
        for (size_t i = 0; i < nq; i++)
            out[i * n + j] = reduce1(lanes(q + i * cs, codes + j * cs, cs));
}

const vx_hamming_kernel_table vx_hamming_kernels_avx512 = {
    .name = "avx512",
    .hamming_ny = hamming_ny,
    .hamming_tile = hamming_tile,
};
