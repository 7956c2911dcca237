/* AVX-512 PQ kernels: a transposed table entry for 16 queries is one zmm. */
#include <immintrin.h>
#include <math.h>

#include "pq_kernels.h"

static void scan8_avx512(float *out, const float *table, size_t M, const uint8_t *codes,
                         size_t n)
{
    vx_pq_kernels_scalar.scan8(out, table, M, codes, n);
}

static size_t scan8_tq_avx512(float *out, uint32_t *idx, const float *ttable, size_t M,
                              const uint8_t *codes, size_t n, const float *thr)
{
    const __m512 th = _mm512_loadu_ps(thr);
    size_t cnt = 0;
    size_t j = 0;
    /* two codes at a time: two independent add chains */
    for (; j + 2 <= n; j += 2) {
        const uint8_t *c0 = codes + j * M, *c1 = c0 + M;
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
        for (size_t m = 0; m < M; m++) {
            const float *t = ttable + (m << 8) * VX_PQ_TQ;
            a0 = _mm512_add_ps(a0, _mm512_loadu_ps(t + (size_t)c0[m] * VX_PQ_TQ));
            a1 = _mm512_add_ps(a1, _mm512_loadu_ps(t + (size_t)c1[m] * VX_PQ_TQ));
        }
        _mm512_storeu_ps(out + j * VX_PQ_TQ, a0);
        _mm512_storeu_ps(out + (j + 1) * VX_PQ_TQ, a1);
        __mmask16 h0 = _mm512_cmp_ps_mask(a0, th, _CMP_LE_OQ);
        __mmask16 h1 = _mm512_cmp_ps_mask(a1, th, _CMP_LE_OQ);
        idx[cnt] = (uint32_t)j;
        cnt += h0 != 0;
        idx[cnt] = (uint32_t)j + 1;
        cnt += h1 != 0;
    }
    for (; j < n; j++) {
        const uint8_t *c = codes + j * M;
        __m512 a = _mm512_setzero_ps();
        for (size_t m = 0; m < M; m++)
            a = _mm512_add_ps(a, _mm512_loadu_ps(ttable + ((m << 8) + c[m]) * VX_PQ_TQ));
        _mm512_storeu_ps(out + j * VX_PQ_TQ, a);
        idx[cnt] = (uint32_t)j;
        cnt += _mm512_cmp_ps_mask(a, th, _CMP_LE_OQ) != 0;
    }
    return cnt;
}

/* Per lane the first minimum (strict <, indices increasing), then the
 * smallest index among the lanes holding the overall minimum: the first
 * minimum of the row, as the scalar loop. */
static float argmin_offset_avx512(const float *row, const float *offset, size_t n, uint32_t *arg)
{
    __m512 best = _mm512_set1_ps(INFINITY);
    __m512i bidx = _mm512_setzero_si512();
    __m512i idx = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i step = _mm512_set1_epi32(16);
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512 v = _mm512_add_ps(_mm512_loadu_ps(row + j), _mm512_loadu_ps(offset + j));
        __mmask16 lt = _mm512_cmp_ps_mask(v, best, _CMP_LT_OQ);
        best = _mm512_mask_mov_ps(best, lt, v);
        bidx = _mm512_mask_mov_epi32(bidx, lt, idx);
        idx = _mm512_add_epi32(idx, step);
    }
    if (j < n) {
        __mmask16 tail = (__mmask16)((1u << (n - j)) - 1);
        __m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(tail, row + j),
                                 _mm512_maskz_loadu_ps(tail, offset + j));
        __mmask16 lt = _mm512_mask_cmp_ps_mask(tail, v, best, _CMP_LT_OQ);
        best = _mm512_mask_mov_ps(best, lt, v);
        bidx = _mm512_mask_mov_epi32(bidx, lt, idx);
    }
    float m = _mm512_reduce_min_ps(best);
    __mmask16 eq = _mm512_cmp_ps_mask(best, _mm512_set1_ps(m), _CMP_EQ_OQ);
    if (!eq) { /* every value NaN or +inf */
        *arg = 0;
        return m;
    }
    *arg = (uint32_t)_mm512_mask_reduce_min_epu32(eq, bidx);
    return m;
}

/* Per lane the two smallest; then the first minimum as in argmin_offset, and
 * the second: the smallest of the winning lane's second and the other lanes'
 * minima. */
static float argmin2_offset_avx512(const float *row, const float *offset, size_t n,
                                   uint32_t *arg, float *second)
{
    const __m512 inf = _mm512_set1_ps(INFINITY);
    __m512 best = inf, next = inf;
    __m512i bidx = _mm512_setzero_si512();
    __m512i idx = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i step = _mm512_set1_epi32(16);
    for (size_t j = 0; j < n; j += 16) {
        __mmask16 live = n - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - j)) - 1);
        __m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(live, row + j),
                                 _mm512_maskz_loadu_ps(live, offset + j));
        v = _mm512_mask_mov_ps(inf, live, v);
        __mmask16 lt = _mm512_cmp_ps_mask(v, best, _CMP_LT_OQ);
        /* next = lt ? best : min(next, v) */
        next = _mm512_mask_mov_ps(_mm512_min_ps(next, v), lt, best);
        best = _mm512_mask_mov_ps(best, lt, v);
        bidx = _mm512_mask_mov_epi32(bidx, lt, idx);
        idx = _mm512_add_epi32(idx, step);
    }
    float m = _mm512_reduce_min_ps(best);
    __mmask16 eq = _mm512_cmp_ps_mask(best, _mm512_set1_ps(m), _CMP_EQ_OQ);
    if (!eq) {
        *arg = 0;
        *second = INFINITY;
        return m;
    }
    uint32_t at = (uint32_t)_mm512_mask_reduce_min_epu32(eq, bidx);
    __mmask16 win = _mm512_cmp_epi32_mask(bidx, _mm512_set1_epi32((int)at), _MM_CMPINT_EQ) & eq;
    float s_other = _mm512_mask_reduce_min_ps((__mmask16)~win, best);
    float s_win = _mm512_mask_reduce_min_ps(win, next);
    *arg = at;
    *second = s_other < s_win ? s_other : s_win;
    return m;
}

static void sum_rows_avx512(double *acc, const float *x, size_t d, const size_t *rows, size_t n)
{
    size_t j0 = 0;
    /* 64 columns at a time in eight registers */
    for (; j0 < d; j0 += 64) {
        size_t w = d - j0 < 64 ? d - j0 : 64;
        __m512d a[8];
        __mmask8 mk[8];
        for (int v = 0; v < 8; v++) {
            a[v] = _mm512_setzero_pd();
            size_t lo = (size_t)v * 8;
            mk[v] = lo >= w ? 0 : w - lo >= 8 ? (__mmask8)0xff : (__mmask8)((1u << (w - lo)) - 1);
        }
        for (size_t t = 0; t < n; t++) {
            const float *p = x + rows[t] * d + j0;
            if (t + 8 < n) { /* rows come in random order: fetch ahead */
                const char *f = (const char *)(x + rows[t + 8] * d + j0);
                for (size_t b = 0; b < w * sizeof(float); b += 64)
                    _mm_prefetch(f + b, _MM_HINT_T0);
            }
            for (int v = 0; v < 8; v++) {
                if (!mk[v])
                    break;
                __m256 f = _mm256_maskz_loadu_ps(mk[v], p + v * 8);
                a[v] = _mm512_add_pd(a[v], _mm512_cvtps_pd(f));
            }
        }
        for (int v = 0; v < 8 && mk[v]; v++)
            _mm512_mask_storeu_pd(acc + j0 + (size_t)v * 8, mk[v], a[v]);
    }
}

const vx_pq_kernel_table vx_pq_kernels_avx512 = {
    .name = "avx512",
    .scan8 = scan8_avx512,
    .scan8_tq = scan8_tq_avx512,
    .argmin_offset = argmin_offset_avx512,
    .argmin2_offset = argmin2_offset_avx512,
    .sum_rows = sum_rows_avx512,
};
