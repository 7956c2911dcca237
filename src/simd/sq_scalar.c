/* Scalar scalar-quantizer kernels (the reference the SIMD levels are tested
 * against) and the choice of table. */
#include "kernels.h"
#include "sq_kernels.h"

static void l2_u8(float *out, const uint8_t *codes, size_t n, size_t d, const float *scale,
                  const float *q)
{
    for (size_t j = 0; j < n; j++) {
        const uint8_t *c = codes + j * d;
        float acc = 0;
        for (size_t t = 0; t < d; t++) {
            float df = (float)c[t] * scale[t] - q[t];
            acc += df * df;
        }
        out[j] = acc;
    }
}

static void dot_u8(float *out, const uint8_t *codes, size_t n, size_t d, const float *w)
{
    for (size_t j = 0; j < n; j++) {
        const uint8_t *c = codes + j * d;
        float acc = 0;
        for (size_t t = 0; t < d; t++)
            acc += w[t] * (float)c[t];
        out[j] = acc;
    }
}

static void l2_u4(float *out, const uint8_t *codes, size_t n, size_t d, const float *scale,
                  const float *q)
{
    const size_t cs = (d + 1) / 2;
    for (size_t j = 0; j < n; j++) {
        const uint8_t *c = codes + j * cs;
        float acc = 0;
        for (size_t t = 0; t < d; t++) {
            float df = (float)vx_sq_u4_at(c, t) * scale[t] - q[t];
            acc += df * df;
        }
        out[j] = acc;
    }
}

static void dot_u4(float *out, const uint8_t *codes, size_t n, size_t d, const float *w)
{
    const size_t cs = (d + 1) / 2;
    for (size_t j = 0; j < n; j++) {
        const uint8_t *c = codes + j * cs;
        float acc = 0;
        for (size_t t = 0; t < d; t++)
            acc += w[t] * (float)vx_sq_u4_at(c, t);
        out[j] = acc;
    }
}

#define HALF_KERNELS(NAME, CONV)                                                               \
    static void l2_##NAME(float *out, const uint8_t *codes, size_t n, size_t d,             \
                          const float *scale, const float *q)                                \
    {                                                                                          \
        (void)scale;                                                                           \
        for (size_t j = 0; j < n; j++) {                                                       \
            const uint8_t *c = codes + j * 2 * d;                                              \
            float acc = 0;                                                                     \
            for (size_t t = 0; t < d; t++) {                                                   \
                float df = CONV(vx_load_u16(c + 2 * t)) - q[t];                                \
                acc += df * df;                                                                \
            }                                                                                  \
            out[j] = acc;                                                                      \
        }                                                                                      \
    }                                                                                          \
    static void dot_##NAME(float *out, const uint8_t *codes, size_t n, size_t d, const float *w) \
    {                                                                                          \
        for (size_t j = 0; j < n; j++) {                                                       \
            const uint8_t *c = codes + j * 2 * d;                                              \
            float acc = 0;                                                                     \
            for (size_t t = 0; t < d; t++)                                                     \
                acc += w[t] * CONV(vx_load_u16(c + 2 * t));                                    \
            out[j] = acc;                                                                      \
        }                                                                                      \
    }

HALF_KERNELS(f16, vx_f16_to_f32)
HALF_KERNELS(bf16, vx_bf16_to_f32)

const vx_sq_kernel_table vx_sq_kernels_scalar = {
    .name = "scalar",
    .l2_u8 = l2_u8,
    .l2_u4 = l2_u4,
    .l2_f16 = l2_f16,
    .l2_bf16 = l2_bf16,
    .dot_u8 = dot_u8,
    .dot_u4 = dot_u4,
    .dot_f16 = dot_f16,
    .dot_bf16 = dot_bf16,
};

const vx_sq_kernel_table *vx_sq_kernels_for_level(int level)
{
    if (!vx_simd_level_available(level))
        return NULL;
#if defined(__x86_64__) || defined(_M_X64)
    if (level == VX_LEVEL_AVX512)
        return &vx_sq_kernels_avx512;
    if (level == VX_LEVEL_AVX2)
        return &vx_sq_kernels_avx2;
#endif
    return level == VX_LEVEL_SCALAR ? &vx_sq_kernels_scalar : NULL;
}

const vx_sq_kernel_table *vx_sq_kernels(void)
{
    const vx_sq_kernel_table *t = vx_sq_kernels_for_level(vx_simd_level());
    return t ? t : &vx_sq_kernels_scalar;
}
