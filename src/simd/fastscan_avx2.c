/*
 * AVX2 fast-scan kernel: one block of 32 codes per pass. Per row of 32 bytes
 * (two sub-quantizers): split the nibbles, two vpshufb against the two
 * 16-entry tables (broadcast to both lanes), and add the 8-bit results into
 * 16-bit lanes: `a` adds each byte pair as one 16-bit word (even byte plus 256
 * times odd byte, modulo 2^16) and `b` the odd bytes alone, so the even sums
 * are a - 256 b, exact while they stay below 2^16 (Faiss's trick; flushing
 * every VX_FS_FLUSH_PAIRS rows into 32-bit lanes keeps them there).
 */
#include <immintrin.h>

#include "fastscan_kernels.h"

/* Adds the 16-bit sums (a: even + 256 odd, b: odd) into 32-bit lanes:
 * acc[0] vectors 0..7, acc[1] 8..15, acc[2] 16..23, acc[3] 24..31. */
static inline void fold(__m256i a, __m256i b, __m256i acc[4])
{
    __m256i even = _mm256_sub_epi16(a, _mm256_slli_epi16(b, 8));
    __m256i lo = _mm256_unpacklo_epi16(even, b); /* 0..7 | 16..23 */
    __m256i hi = _mm256_unpackhi_epi16(even, b); /* 8..15 | 24..31 */
    acc[0] = _mm256_add_epi32(acc[0], _mm256_cvtepu16_epi32(_mm256_castsi256_si128(lo)));
    acc[1] = _mm256_add_epi32(acc[1], _mm256_cvtepu16_epi32(_mm256_castsi256_si128(hi)));
    acc[2] = _mm256_add_epi32(acc[2], _mm256_cvtepu16_epi32(_mm256_extracti128_si256(lo, 1)));
    acc[3] = _mm256_add_epi32(acc[3], _mm256_cvtepu16_epi32(_mm256_extracti128_si256(hi, 1)));
}

static void accumulate_avx2(uint32_t *out, const uint8_t *lut, size_t npairs,
                            const uint8_t *blocks, size_t nblocks)
{
    const __m256i mask = _mm256_set1_epi8(0x0f);
    for (size_t blk = 0; blk < nblocks; blk++) {
        const uint8_t *codes = blocks + blk * npairs * VX_FS_BLOCK;
        __m256i acc[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(),
                          _mm256_setzero_si256(), _mm256_setzero_si256()};
        for (size_t p0 = 0; p0 < npairs; p0 += VX_FS_FLUSH_PAIRS) {
            size_t p1 = npairs - p0 < VX_FS_FLUSH_PAIRS ? npairs : p0 + VX_FS_FLUSH_PAIRS;
            __m256i a = _mm256_setzero_si256(), b = _mm256_setzero_si256();
            for (size_t p = p0; p < p1; p++) {
                __m256i c = _mm256_loadu_si256((const __m256i *)(const void *)(codes + p * 32));
                __m256i lo = _mm256_and_si256(c, mask);
                __m256i hi = _mm256_and_si256(_mm256_srli_epi16(c, 4), mask);
                __m256i t0 = _mm256_broadcastsi128_si256(
                    _mm_loadu_si128((const __m128i *)(const void *)(lut + p * 32)));
                __m256i t1 = _mm256_broadcastsi128_si256(
                    _mm_loadu_si128((const __m128i *)(const void *)(lut + p * 32 + 16)));
                __m256i r0 = _mm256_shuffle_epi8(t0, lo), r1 = _mm256_shuffle_epi8(t1, hi);
                a = _mm256_add_epi16(a, _mm256_add_epi16(r0, r1));
                b = _mm256_add_epi16(b, _mm256_add_epi16(_mm256_srli_epi16(r0, 8),
                                                         _mm256_srli_epi16(r1, 8)));
            }
            fold(a, b, acc);
        }
        uint32_t *o = out + blk * VX_FS_BLOCK;
        for (int q = 0; q < 4; q++)
            _mm256_storeu_si256((__m256i *)(void *)(o + q * 8), acc[q]);
    }
}

static inline float hmin(__m256 x)
{
    __m128 m = _mm_min_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    m = _mm_min_ps(m, _mm_movehl_ps(m, m));
    m = _mm_min_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}

static inline float hmax(__m256 x)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}

/* A row of 16 floats in two registers; the scalar kernel's operations, each
 * rounded alike (separate multiply and add: no FMA). */
static float quantize_lut_avx2(const float *a, const float *b, size_t M, uint8_t *lut,
                               float *bias, float *mins)
{
    float span = 0;
    for (size_t m = 0; m < M; m++) {
        __m256 t0 = _mm256_loadu_ps(a + m * 16), t1 = _mm256_loadu_ps(a + m * 16 + 8);
        if (b) {
            t0 = _mm256_add_ps(t0, _mm256_loadu_ps(b + m * 16));
            t1 = _mm256_add_ps(t1, _mm256_loadu_ps(b + m * 16 + 8));
        }
        float lo = hmin(_mm256_min_ps(t0, t1)), hi = hmax(_mm256_max_ps(t0, t1));
        span = hi - lo > span ? hi - lo : span;
        mins[m] = lo;
    }
    const float scale = span > 0 ? 255.0f / span : 1.0f;
    const __m256 vs = _mm256_set1_ps(scale), half = _mm256_set1_ps(0.5f);
    const __m256i top = _mm256_set1_epi32(255);
    for (size_t m = 0; m < M; m++) {
        __m256 t0 = _mm256_loadu_ps(a + m * 16), t1 = _mm256_loadu_ps(a + m * 16 + 8);
        if (b) {
            t0 = _mm256_add_ps(t0, _mm256_loadu_ps(b + m * 16));
            t1 = _mm256_add_ps(t1, _mm256_loadu_ps(b + m * 16 + 8));
        }
        __m256 lo = _mm256_set1_ps(mins[m]);
        __m256i q0 = _mm256_min_epi32(
            _mm256_cvttps_epi32(_mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(t0, lo), vs), half)),
            top);
        __m256i q1 = _mm256_min_epi32(
            _mm256_cvttps_epi32(_mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(t1, lo), vs), half)),
            top);
        /* 16 x 32-bit -> 16 bytes: packs work per 128-bit lane, then fix the order */
        __m256i w = _mm256_permute4x64_epi64(_mm256_packus_epi32(q0, q1), 0xd8);
        __m128i bytes = _mm_packus_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
        _mm_storeu_si128((__m128i *)(void *)(lut + m * 16), bytes);
    }
    if (M & 1)
        _mm_storeu_si128((__m128i *)(void *)(lut + M * 16), _mm_setzero_si128());
    *bias = vx_fs_sum_mins(mins, M);
    return scale;
}

/* One sub-quantizer's 16 entries in two registers; the scalar kernel's
 * operations, each rounded alike (no FMA). */
static void residual_table_avx2(float *t, const float *x, const float *c, const float *ct,
                                const float *cn, size_t M, size_t dsub)
{
    for (size_t m = 0; m < M; m++) {
        const float *xm = x + m * dsub, *cm = c + m * dsub, *row = ct + m * dsub * 16;
        __m256 a0 = _mm256_loadu_ps(cn + m * 16), a1 = _mm256_loadu_ps(cn + m * 16 + 8);
        if (dsub) {
            __m256 r = _mm256_set1_ps(xm[0] - cm[0]);
            __m256 p0 = _mm256_mul_ps(r, _mm256_loadu_ps(row));
            __m256 p1 = _mm256_mul_ps(r, _mm256_loadu_ps(row + 8));
            for (size_t s = 1; s < dsub; s++) {
                r = _mm256_set1_ps(xm[s] - cm[s]);
                p0 = _mm256_add_ps(p0, _mm256_mul_ps(r, _mm256_loadu_ps(row + s * 16)));
                p1 = _mm256_add_ps(p1, _mm256_mul_ps(r, _mm256_loadu_ps(row + s * 16 + 8)));
            }
            a0 = _mm256_add_ps(a0, p0);
            a1 = _mm256_add_ps(a1, p1);
        }
        _mm256_storeu_ps(t + m * 16, a0);
        _mm256_storeu_ps(t + m * 16 + 8, a1);
    }
}

const vx_fs_kernel_table vx_fs_kernels_avx2 = {
    .name = "avx2",
    .accumulate = accumulate_avx2,
    .quantize_lut = quantize_lut_avx2,
    .residual_table = residual_table_avx2,
};
