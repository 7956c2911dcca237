/* Portable PQ kernels and the choice of level (see pq_kernels.h). */
#include "pq_kernels.h"

#include <math.h>

#include "kernels.h"

static void scan8_scalar(float *out, const float *table, size_t M, const uint8_t *codes,
                         size_t n)
{
    size_t j = 0;
    /* four codes at a time: four independent chains of loads and adds */
    for (; j + 4 <= n; j += 4) {
        const uint8_t *c0 = codes + j * M, *c1 = c0 + M, *c2 = c1 + M, *c3 = c2 + M;
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (size_t m = 0; m < M; m++) {
            const float *t = table + m * 256;
            s0 += t[c0[m]];
            s1 += t[c1[m]];
            s2 += t[c2[m]];
            s3 += t[c3[m]];
        }
        out[j] = s0;
        out[j + 1] = s1;
        out[j + 2] = s2;
        out[j + 3] = s3;
    }
    for (; j < n; j++) {
        const uint8_t *c = codes + j * M;
        float s = 0;
        for (size_t m = 0; m < M; m++)
            s += table[m * 256 + c[m]];
        out[j] = s;
    }
}

static size_t scan8_tq_scalar(float *out, uint32_t *idx, const float *ttable, size_t M,
                              const uint8_t *codes, size_t n, const float *thr)
{
    size_t cnt = 0;
    for (size_t j = 0; j < n; j++) {
        float acc[VX_PQ_TQ] = {0};
        const uint8_t *c = codes + j * M;
        for (size_t m = 0; m < M; m++) {
            const float *t = ttable + ((m << 8) + c[m]) * VX_PQ_TQ;
            for (int q = 0; q < VX_PQ_TQ; q++)
                acc[q] += t[q];
        }
        int hit = 0;
        for (int q = 0; q < VX_PQ_TQ; q++) {
            out[j * VX_PQ_TQ + q] = acc[q];
            hit |= acc[q] <= thr[q];
        }
        if (hit)
            idx[cnt++] = (uint32_t)j;
    }
    return cnt;
}

static float argmin_offset_scalar(const float *row, const float *offset, size_t n, uint32_t *arg)
{
    float best = INFINITY;
    uint32_t at = 0;
    for (size_t j = 0; j < n; j++) {
        float v = row[j] + offset[j];
        if (v < best) {
            best = v;
            at = (uint32_t)j;
        }
    }
    *arg = at;
    return best;
}

static float argmin2_offset_scalar(const float *row, const float *offset, size_t n,
                                   uint32_t *arg, float *second)
{
    float best = INFINITY, next = INFINITY;
    uint32_t at = 0;
    for (size_t j = 0; j < n; j++) {
        float v = row[j] + offset[j];
        if (v < best) {
            next = best;
            best = v;
            at = (uint32_t)j;
        } else if (v < next) {
            next = v;
        }
    }
    *arg = at;
    *second = next;
    return best;
}

static void sum_rows_scalar(double *acc, const float *x, size_t d, const size_t *rows, size_t n)
{
    for (size_t j = 0; j < d; j++)
        acc[j] = 0;
    for (size_t t = 0; t < n; t++) {
        const float *p = x + rows[t] * d;
        for (size_t j = 0; j < d; j++)
            acc[j] += p[j];
    }
}

const vx_pq_kernel_table vx_pq_kernels_scalar = {
    .name = "scalar",
    .scan8 = scan8_scalar,
    .scan8_tq = scan8_tq_scalar,
    .argmin_offset = argmin_offset_scalar,
    .argmin2_offset = argmin2_offset_scalar,
    .sum_rows = sum_rows_scalar,
};

const vx_pq_kernel_table *vx_pq_kernels_at(int level)
{
    if (!vx_simd_level_available(level))
        return NULL;
#if defined(__x86_64__) || defined(_M_X64)
    if (level == VX_LEVEL_AVX512)
        return &vx_pq_kernels_avx512;
    if (level == VX_LEVEL_AVX2)
        return &vx_pq_kernels_avx2;
#endif
    return &vx_pq_kernels_scalar;
}

const vx_pq_kernel_table *vx_pq_kernels(void)
{
    static const vx_pq_kernel_table *chosen;
    const vx_pq_kernel_table *t = __atomic_load_n(&chosen, __ATOMIC_ACQUIRE);
    if (!t) {
        t = vx_pq_kernels_at(vx_simd_level());
        __atomic_store_n(&chosen, t, __ATOMIC_RELEASE);
    }
    return t;
}
