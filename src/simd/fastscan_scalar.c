/* Portable fast-scan kernel and the choice of level (see fastscan_kernels.h). */
#include "fastscan_kernels.h"

#include <string.h>

#include "kernels.h"

static void accumulate_scalar(uint32_t *out, const uint8_t *lut, size_t npairs,
                              const uint8_t *blocks, size_t nblocks)
{
    for (size_t b = 0; b < nblocks; b++) {
        const uint8_t *codes = blocks + b * npairs * VX_FS_BLOCK;
        uint32_t acc[VX_FS_BLOCK];
        memset(acc, 0, sizeof acc);
        for (size_t p = 0; p < npairs; p++) {
            const uint8_t *row = codes + p * VX_FS_BLOCK, *lo = lut + p * 32, *hi = lo + 16;
            for (size_t j = 0; j < VX_FS_BLOCK; j++)
                acc[j] += (uint32_t)lo[row[j] & 15] + hi[row[j] >> 4];
        }
        memcpy(out + b * VX_FS_BLOCK, acc, sizeof acc);
    }
}

/* Rows of 16 so that the compiler can vectorize them; entries are
 * non-negative, so truncating v + 0.5 rounds (no libm call). */
static float quantize_lut_scalar(const float *a, const float *b, size_t M, uint8_t *lut,
                                 float *bias, float *mins)
{
    float span = 0, t[16];
    for (size_t m = 0; m < M; m++) {
        for (int c = 0; c < 16; c++)
            t[c] = b ? a[m * 16 + c] + b[m * 16 + c] : a[m * 16 + c];
        float lo = t[0], hi = t[0];
        for (int c = 1; c < 16; c++) {
            lo = t[c] < lo ? t[c] : lo;
            hi = t[c] > hi ? t[c] : hi;
        }
        span = hi - lo > span ? hi - lo : span;
        mins[m] = lo;
    }
    const float scale = span > 0 ? 255.0f / span : 1.0f;
    for (size_t m = 0; m < M; m++) {
        for (int c = 0; c < 16; c++)
            t[c] = b ? a[m * 16 + c] + b[m * 16 + c] : a[m * 16 + c];
        float lo = mins[m];
        for (int c = 0; c < 16; c++) {
            int32_t v = (int32_t)((t[c] - lo) * scale + 0.5f);
            lut[m * 16 + c] = (uint8_t)(v > 255 ? 255 : v);
        }
    }
    if (M & 1)
        memset(lut + M * 16, 0, 16);
    *bias = vx_fs_sum_mins(mins, M);
    return scale;
}

static void residual_table_scalar(float *t, const float *x, const float *c, const float *ct,
                                  const float *cn, size_t M, size_t dsub)
{
    for (size_t m = 0; m < M; m++) {
        float acc[16];
        for (size_t s = 0; s < dsub; s++) {
            const float r = x[m * dsub + s] - c[m * dsub + s], *row = ct + (m * dsub + s) * 16;
            for (int j = 0; j < 16; j++) {
                float p = r * row[j];
                acc[j] = s ? acc[j] + p : p;
            }
        }
        for (int j = 0; j < 16; j++)
            t[m * 16 + j] = dsub ? cn[m * 16 + j] + acc[j] : cn[m * 16 + j];
    }
}

const vx_fs_kernel_table vx_fs_kernels_scalar = {
    .name = "scalar",
    .accumulate = accumulate_scalar,
    .quantize_lut = quantize_lut_scalar,
    .residual_table = residual_table_scalar,
};

const vx_fs_kernel_table *vx_fs_kernels_at(int level)
{
    if (!vx_simd_level_available(level))
        return NULL;
#if defined(__x86_64__) || defined(_M_X64)
    if (level == VX_LEVEL_AVX512)
        return &vx_fs_kernels_avx512;
    if (level == VX_LEVEL_AVX2)
        return &vx_fs_kernels_avx2;
#endif
    return &vx_fs_kernels_scalar;
}

const vx_fs_kernel_table *vx_fs_kernels(void)
{
    static const vx_fs_kernel_table *chosen;
    const vx_fs_kernel_table *t = __atomic_load_n(&chosen, __ATOMIC_ACQUIRE);
    if (!t) {
        t = vx_fs_kernels_at(vx_simd_level());
        __atomic_store_n(&chosen, t, __ATOMIC_RELEASE);
    }
    return t;
}
