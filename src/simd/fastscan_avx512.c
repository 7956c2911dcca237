/*
 * AVX-512 fast-scan kernel: two blocks (64 codes) per pass, block b in the low
 * 256 bits and block b + 1 in the high ones, the 16-entry tables broadcast to
 * all four 128-bit lanes; otherwise as the AVX2 kernel (16-bit sums, a - 256 b
 * for the even bytes, flushed into 32-bit lanes every VX_FS_FLUSH_PAIRS rows).
 * An odd last block runs with itself as the pair and half the result kept.
 */
#include <immintrin.h>
#include <string.h>

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

/* The minima (or maxima) of 16 rows of 16 floats at once: four levels of
 * lane shuffles halve the candidates per row, ending with row 4j + k at
 * element 4k + j, which one permute puts in row order. A quarter of the
 * shuffles of reducing each row on its own. */
#define TREE16(OP, r, out)                                                                   \
    do {                                                                                      \
        __m512 p_[8], q_[4], s_[2];                                                           \
        for (int i_ = 0; i_ < 8; i_++)                                                        \
            p_[i_] = OP(_mm512_shuffle_f32x4(r[2 * i_], r[2 * i_ + 1], 0x44),                 \
                        _mm512_shuffle_f32x4(r[2 * i_], r[2 * i_ + 1], 0xEE));                \
        for (int i_ = 0; i_ < 4; i_++)                                                        \
            q_[i_] = OP(_mm512_shuffle_f32x4(p_[2 * i_], p_[2 * i_ + 1], 0x88),               \
                        _mm512_shuffle_f32x4(p_[2 * i_], p_[2 * i_ + 1], 0xDD));              \
        for (int i_ = 0; i_ < 2; i_++)                                                        \
            s_[i_] = OP(_mm512_shuffle_ps(q_[2 * i_], q_[2 * i_ + 1], 0x44),                  \
                        _mm512_shuffle_ps(q_[2 * i_], q_[2 * i_ + 1], 0xEE));                 \
        out = _mm512_permutexvar_epi32(                                                       \
            row_order, _mm512_castps_si512(OP(_mm512_shuffle_ps(s_[0], s_[1], 0x88),          \
                                              _mm512_shuffle_ps(s_[0], s_[1], 0xDD))));       \
    } while (0)

static inline __m512 row(const float *a, const float *b, size_t m)
{
    __m512 t = _mm512_loadu_ps(a + m * 16);
    return b ? _mm512_add_ps(t, _mm512_loadu_ps(b + m * 16)) : t;
}

/* The scalar kernel's operations, each rounded alike (separate multiply and
 * add: no FMA); minima and maxima of 16 rows at a time (TREE16). */
static float quantize_lut_avx512(const float *a, const float *b, size_t M, uint8_t *lut,
                                 float *bias, float *mins)
{
    const __m512i row_order =
        _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    __m512 vspan = _mm512_setzero_ps();
    size_t m = 0;
    for (; m + 16 <= M; m += 16) {
        __m512 r[16];
        __m512i lo, hi;
        for (int i = 0; i < 16; i++)
            r[i] = row(a, b, m + (size_t)i);
        TREE16(_mm512_min_ps, r, lo);
        TREE16(_mm512_max_ps, r, hi);
        __m512 vlo = _mm512_castsi512_ps(lo);
        vspan = _mm512_max_ps(vspan, _mm512_sub_ps(_mm512_castsi512_ps(hi), vlo));
        _mm512_storeu_ps(mins + m, vlo);
    }
    float span = _mm512_reduce_max_ps(vspan);
    for (; m < M; m++) {
        __m512 t = row(a, b, m);
        float lo = _mm512_reduce_min_ps(t), hi = _mm512_reduce_max_ps(t);
        span = hi - lo > span ? hi - lo : span;
        mins[m] = lo;
    }
    const float scale = span > 0 ? 255.0f / span : 1.0f;
    const __m512 vs = _mm512_set1_ps(scale), half = _mm512_set1_ps(0.5f);
    const __m512i top = _mm512_set1_epi32(255);
    /* four rows at a time: two packs with unsigned saturation (the entries
     * are >= 0, so that is the min with 255) leave 4-byte pieces of the rows
     * interleaved by 128-bit lane, which row_order puts back in order */
    for (m = 0; m + 4 <= M; m += 4) {
        __m512i q[4];
        for (int i = 0; i < 4; i++) {
            __m512 lo = _mm512_set1_ps(mins[m + (size_t)i]);
            q[i] = _mm512_cvttps_epi32(_mm512_add_ps(
                _mm512_mul_ps(_mm512_sub_ps(row(a, b, m + (size_t)i), lo), vs), half));
        }
        __m512i bytes = _mm512_packus_epi16(_mm512_packus_epi32(q[0], q[1]),
                                            _mm512_packus_epi32(q[2], q[3]));
        _mm512_storeu_si512((void *)(lut + m * 16), _mm512_permutexvar_epi32(row_order, bytes));
    }
    for (; m < M; m++) {
        __m512 lo = _mm512_set1_ps(mins[m]);
        __m512 v = _mm512_add_ps(_mm512_mul_ps(_mm512_sub_ps(row(a, b, m), lo), vs), half);
        __m512i q = _mm512_min_epi32(_mm512_cvttps_epi32(v), top);
        _mm_storeu_si128((__m128i *)(void *)(lut + m * 16), _mm512_cvtepi32_epi8(q));
    }
    if (M & 1)
        _mm_storeu_si128((__m128i *)(void *)(lut + M * 16), _mm_setzero_si128());
    *bias = vx_fs_sum_mins(mins, M);
    return scale;
}

/* One sub-quantizer's 16 entries in one register, dsub a constant where it
 * is small (the loop over s unrolled); the scalar kernel's operations, each
 * rounded alike (no FMA). */
static inline __attribute__((always_inline)) void
residual_rows(float *t, const float *x, const float *c, const float *ct, const float *cn,
              size_t M, size_t dsub)
{
    for (size_t m = 0; m < M; m++) {
        const float *xm = x + m * dsub, *cm = c + m * dsub, *row = ct + m * dsub * 16;
        __m512 acc = _mm512_mul_ps(_mm512_set1_ps(xm[0] - cm[0]), _mm512_loadu_ps(row));
        for (size_t s = 1; s < dsub; s++)
            acc = _mm512_add_ps(acc, _mm512_mul_ps(_mm512_set1_ps(xm[s] - cm[s]),
                                                   _mm512_loadu_ps(row + s * 16)));
        _mm512_storeu_ps(t + m * 16, _mm512_add_ps(_mm512_loadu_ps(cn + m * 16), acc));
    }
}

static void residual_table_avx512(float *t, const float *x, const float *c, const float *ct,
                                  const float *cn, size_t M, size_t dsub)
{
    switch (dsub) {
    case 0: /* no dimensions: the norms alone (never: d >= M) */
        memcpy(t, cn, M * 16 * sizeof(float));
        break;
    case 1:
        residual_rows(t, x, c, ct, cn, M, 1);
        break;
    case 2:
        residual_rows(t, x, c, ct, cn, M, 2);
        break;
    case 4:
        residual_rows(t, x, c, ct, cn, M, 4);
        break;
    default:
        residual_rows(t, x, c, ct, cn, M, dsub);
    }
}

const vx_fs_kernel_table vx_fs_kernels_avx512 = {
    .name = "avx512",
    .accumulate = accumulate_avx512,
    .quantize_lut = quantize_lut_avx512,
    .residual_table = residual_table_avx512,
};
