/* AVX2 PQ kernels: a transposed table entry for 16 queries is two ymm. */
#include <immintrin.h>
#include <math.h>

#include "pq_kernels.h"

static void scan8_avx2(float *out, const float *table, size_t M, const uint8_t *codes, size_t n)
{
    vx_pq_kernels_scalar.scan8(out, table, M, codes, n);
}

static size_t scan8_tq_avx2(float *out, uint32_t *idx, const float *ttable, size_t M,
                            const uint8_t *codes, size_t n, const float *thr)
{
    const __m256 th0 = _mm256_loadu_ps(thr), th1 = _mm256_loadu_ps(thr + 8);
    size_t cnt = 0;
    for (size_t j = 0; j < n; j++) {
        const uint8_t *c = codes + j * M;
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        for (size_t m = 0; m < M; m++) {
            const float *t = ttable + ((m << 8) + c[m]) * VX_PQ_TQ;
            a0 = _mm256_add_ps(a0, _mm256_loadu_ps(t));
            a1 = _mm256_add_ps(a1, _mm256_loadu_ps(t + 8));
        }
        _mm256_storeu_ps(out + j * VX_PQ_TQ, a0);
        _mm256_storeu_ps(out + j * VX_PQ_TQ + 8, a1);
        __m256 h = _mm256_or_ps(_mm256_cmp_ps(a0, th0, _CMP_LE_OQ),
                                _mm256_cmp_ps(a1, th1, _CMP_LE_OQ));
        idx[cnt] = (uint32_t)j;
        cnt += _mm256_movemask_ps(h) != 0;
    }
    return cnt;
}

/* As the AVX-512 version, 8 lanes. */
static float argmin_offset_avx2(const float *row, const float *offset, size_t n, uint32_t *arg)
{
    __m256 best = _mm256_set1_ps(INFINITY);
    __m256i bidx = _mm256_setzero_si256();
    __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i step = _mm256_set1_epi32(8);
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 v = _mm256_add_ps(_mm256_loadu_ps(row + j), _mm256_loadu_ps(offset + j));
        __m256 lt = _mm256_cmp_ps(v, best, _CMP_LT_OQ);
        best = _mm256_blendv_ps(best, v, lt);
        bidx = _mm256_castps_si256(
            _mm256_blendv_ps(_mm256_castsi256_ps(bidx), _mm256_castsi256_ps(idx), lt));
        idx = _mm256_add_epi32(idx, step);
    }
    float lane_v[8];
    uint32_t lane_i[8];
    _mm256_storeu_ps(lane_v, best);
    _mm256_storeu_si256((__m256i *)(void *)lane_i, bidx);
    float m = INFINITY;
    uint32_t at = 0;
    for (int l = 0; l < 8; l++)
        if (lane_v[l] < m || (lane_v[l] == m && lane_v[l] != INFINITY && lane_i[l] < at)) {
            m = lane_v[l];
            at = lane_i[l];
        }
    for (; j < n; j++) { /* the tail comes after every lane's indices */
        float v = row[j] + offset[j];
        if (v < m) {
            m = v;
            at = (uint32_t)j;
        }
    }
    *arg = at;
    return m;
}

static float argmin2_offset_avx2(const float *row, const float *offset, size_t n, uint32_t *arg,
                                 float *second)
{
    return vx_pq_kernels_scalar.argmin2_offset(row, offset, n, arg, second);
}

static void sum_rows_avx2(double *acc, const float *x, size_t d, const size_t *rows, size_t n)
{
    size_t j0 = 0;
    for (; j0 + 16 <= d; j0 += 16) {
        __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
        for (size_t t = 0; t < n; t++) {
            const float *p = x + rows[t] * d + j0;
            a0 = _mm256_add_pd(a0, _mm256_cvtps_pd(_mm_loadu_ps(p)));
            a1 = _mm256_add_pd(a1, _mm256_cvtps_pd(_mm_loadu_ps(p + 4)));
            a2 = _mm256_add_pd(a2, _mm256_cvtps_pd(_mm_loadu_ps(p + 8)));
            a3 = _mm256_add_pd(a3, _mm256_cvtps_pd(_mm_loadu_ps(p + 12)));
        }
        _mm256_storeu_pd(acc + j0, a0);
        _mm256_storeu_pd(acc + j0 + 4, a1);
        _mm256_storeu_pd(acc + j0 + 8, a2);
        _mm256_storeu_pd(acc + j0 + 12, a3);
    }
    if (j0 < d) {
        for (size_t j = j0; j < d; j++)
            acc[j] = 0;
        for (size_t t = 0; t < n; t++) {
            const float *p = x + rows[t] * d;
            for (size_t j = j0; j < d; j++)
                acc[j] += p[j];
        }
    }
}

const vx_pq_kernel_table vx_pq_kernels_avx2 = {
    .name = "avx2",
    .scan8 = scan8_avx2,
    .scan8_tq = scan8_tq_avx2,
    .argmin_offset = argmin_offset_avx2,
    .argmin2_offset = argmin2_offset_avx2,
    .sum_rows = sum_rows_avx2,
};
