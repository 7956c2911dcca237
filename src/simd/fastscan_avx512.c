/*
 * AVX-512 fast-scan kernel: two blocks (64 codes) per pass, block b in the low
 * 256 bits and block b + 1 in the high ones, the 16-entry tables broadcast to
 * all four 128-bit lanes; otherwise as the AVX2 kernel (16-bit sums, a - 256 b
 * for the even bytes, flushed into 32-bit lanes every VX_FS_FLUSH_PAIRS rows).
 * An odd last block runs with itself as the pair and half the result kept.
 */
#include <immintrin.h>

#include "fastscan_kernels.h"

/* 32-bit lanes after a fold, in 128-bit lanes [block 0 | block 1]:
 * acc[0] = vectors 0..7 and 16..23 of block 0, acc[1] = 8..15 and 24..31,
 * acc[2], acc[3] the same for block 1. */
static inline void fold(__m512i a, __m512i b, __m512i acc[4])
{
    __m512i even = _mm512_sub_epi16(a, _mm512_slli_epi16(b, 8));
    __m512i lo = _mm512_unpacklo_epi16(even, b); /* per block: 0..7 | 16..23 */
    __m512i hi = _mm512_unpackhi_epi16(even, b); /* per block: 8..15 | 24..31 */
    acc[0] = _mm512_add_epi32(acc[0], _mm512_cvtepu16_epi32(_mm512_castsi512_si256(lo)));
    acc[1] = _mm512_add_epi32(acc[1], _mm512_cvtepu16_epi32(_mm512_castsi512_si256(hi)));
    acc[2] = _mm512_add_epi32(acc[2], _mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(lo, 1)));
    acc[3] = _mm512_add_epi32(acc[3], _mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(hi, 1)));
}

static inline void store_block(uint32_t *o, __m512i x, __m512i y)
{
    _mm256_storeu_si256((__m256i *)(void *)o, _mm512_castsi512_si256(x));
    _mm256_storeu_si256((__m256i *)(void *)(o + 16), _mm512_extracti64x4_epi64(x, 1));
    _mm256_storeu_si256((__m256i *)(void *)(o + 8), _mm512_castsi512_si256(y));
    _mm256_storeu_si256((__m256i *)(void *)(o + 24), _mm512_extracti64x4_epi64(y, 1));
}

static void two_blocks(uint32_t *out, const uint8_t *lut, size_t npairs, const uint8_t *c0,
                       const uint8_t *c1, int both)
{
    const __m512i mask = _mm512_set1_epi8(0x0f);
    __m512i acc[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(),
                      _mm512_setzero_si512()};
    for (size_t p0 = 0; p0 < npairs; p0 += VX_FS_FLUSH_PAIRS) {
        size_t p1 = npairs - p0 < VX_FS_FLUSH_PAIRS ? npairs : p0 + VX_FS_FLUSH_PAIRS;
        __m512i a = _mm512_setzero_si512(), b = _mm512_setzero_si512();
        for (size_t p = p0; p < p1; p++) {
            __m512i c = _mm512_inserti64x4(
                _mm512_castsi256_si512(
                    _mm256_loadu_si256((const __m256i *)(const void *)(c0 + p * 32))),
                _mm256_loadu_si256((const __m256i *)(const void *)(c1 + p * 32)), 1);
            __m512i lo = _mm512_and_si512(c, mask);
            __m512i hi = _mm512_and_si512(_mm512_srli_epi16(c, 4), mask);
            __m512i t0 = _mm512_broadcast_i32x4(
                _mm_loadu_si128((const __m128i *)(const void *)(lut + p * 32)));
            __m512i t1 = _mm512_broadcast_i32x4(
                _mm_loadu_si128((const __m128i *)(const void *)(lut + p * 32 + 16)));
            __m512i r0 = _mm512_shuffle_epi8(t0, lo), r1 = _mm512_shuffle_epi8(t1, hi);
            a = _mm512_add_epi16(a, _mm512_add_epi16(r0, r1));
            b = _mm512_add_epi16(b, _mm512_add_epi16(_mm512_srli_epi16(r0, 8),
                                                     _mm512_srli_epi16(r1, 8)));
        }
        fold(a, b, acc);
    }
    store_block(out, acc[0], acc[1]);
    if (both)
        store_block(out + VX_FS_BLOCK, acc[2], acc[3]);
}

static void accumulate_avx512(uint32_t *out, const uint8_t *lut, size_t npairs,
                              const uint8_t *blocks, size_t nblocks)
{
    const size_t bb = npairs * VX_FS_BLOCK;
    size_t b = 0;
    for (; b + 2 <= nblocks; b += 2)
        two_blocks(out + b * VX_FS_BLOCK, lut, npairs, blocks + b * bb, blocks + (b + 1) * bb,
                   1);
    if (b < nblocks)
        two_blocks(out + b * VX_FS_BLOCK, lut, npairs, blocks + b * bb, blocks + b * bb, 0);
}

/* One row of 16 floats is one register; the same operations as the scalar
 * kernel, each rounded alike (separate multiply and add: no FMA). */
static float quantize_lut_avx512(const float *a, const float *b, size_t M, uint8_t *lut,
                                 float *bias)
{
    float span = 0, sum_min = 0;
    for (size_t m = 0; m < M; m++) {
        __m512 t = _mm512_loadu_ps(a + m * 16);
        if (b)
            t = _mm512_add_ps(t, _mm512_loadu_ps(b + m * 16));
        float lo = _mm512_reduce_min_ps(t), hi = _mm512_reduce_max_ps(t);
        span = hi - lo > span ? hi - lo : span;
        sum_min += lo;
    }
    const float scale = span > 0 ? 255.0f / span : 1.0f;
    const __m512 vs = _mm512_set1_ps(scale), half = _mm512_set1_ps(0.5f);
    const __m512i top = _mm512_set1_epi32(255);
    for (size_t m = 0; m < M; m++) {
        __m512 t = _mm512_loadu_ps(a + m * 16);
        if (b)
            t = _mm512_add_ps(t, _mm512_loadu_ps(b + m * 16));
        __m512 lo = _mm512_set1_ps(_mm512_reduce_min_ps(t));
        __m512 v = _mm512_add_ps(_mm512_mul_ps(_mm512_sub_ps(t, lo), vs), half);
        __m512i q = _mm512_min_epi32(_mm512_cvttps_epi32(v), top);
        _mm_storeu_si128((__m128i *)(void *)(lut + m * 16), _mm512_cvtepi32_epi8(q));
    }
    if (M & 1)
        _mm_storeu_si128((__m128i *)(void *)(lut + M * 16), _mm_setzero_si128());
    *bias = sum_min;
    return scale;
}

const vx_fs_kernel_table vx_fs_kernels_avx512 = {
    .name = "avx512",
    .accumulate = accumulate_avx512,
    .quantize_lut = quantize_lut_avx512,
};
