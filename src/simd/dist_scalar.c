/* The portable reference kernels. The others are tested against these. Loops
 * accumulate in 4 independent lanes so that compilers can pipeline them even
 * without vectorising the reduction (float addition is not associative). */
#include "kernels.h"

static float l2sqr(const float *x, const float *y, size_t d)
{
    float acc[4] = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= d; i += 4)
        for (int l = 0; l < 4; l++) {
            float t = x[i + l] - y[i + l];
            acc[l] += t * t;
        }
    for (; i < d; i++) {
        float t = x[i] - y[i];
        acc[0] += t * t;
    }
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

static float inner_product(const float *x, const float *y, size_t d)
{
    float acc[4] = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= d; i += 4)
        for (int l = 0; l < 4; l++)
            acc[l] += x[i + l] * y[i + l];
    for (; i < d; i++)
        acc[0] += x[i] * y[i];
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

static float norm_sqr(const float *x, size_t d) { return inner_product(x, x, d); }

static void l2sqr_ny_strided(float *out, const float *x, const float *y, size_t d, size_t ldy,
                             size_t ny)
{
    for (size_t j = 0; j < ny; j++)
        out[j] = l2sqr(x, y + j * ldy, d);
}

static void inner_product_ny_strided(float *out, const float *x, const float *y, size_t d,
                                     size_t ldy, size_t ny)
{
    for (size_t j = 0; j < ny; j++)
        out[j] = inner_product(x, y + j * ldy, d);
}

static void l2sqr_ny(float *out, const float *x, const float *y, size_t d, size_t ny)
{
    l2sqr_ny_strided(out, x, y, d, d, ny);
}

static void inner_product_ny(float *out, const float *x, const float *y, size_t d, size_t ny)
{
    inner_product_ny_strided(out, x, y, d, d, ny);
}

static void l2sqr_tile_strided(float *out, const float *x, size_t nq, const float *y, size_t d,
                               size_t ldy, size_t ny)
{
    for (size_t i = 0; i < nq; i++)
        l2sqr_ny_strided(out + i * ny, x + i * d, y, d, ldy, ny);
}

static void inner_product_tile_strided(float *out, const float *x, size_t nq, const float *y,
                                       size_t d, size_t ldy, size_t ny)
{
    for (size_t i = 0; i < nq; i++)
        inner_product_ny_strided(out + i * ny, x + i * d, y, d, ldy, ny);
}

static void l2sqr_tile(float *out, const float *x, size_t nq, const float *y, size_t d, size_t ny)
{
    l2sqr_tile_strided(out, x, nq, y, d, d, ny);
}

static void inner_product_tile(float *out, const float *x, size_t nq, const float *y, size_t d,
                               size_t ny)
{
    inner_product_tile_strided(out, x, nq, y, d, d, ny);
}

static void l2sqr_gather(float *out, const float *x, const float *const *ys, size_t d, size_t ny)
{
    for (size_t j = 0; j < ny; j++)
        out[j] = l2sqr(x, ys[j], d);
}

static size_t select_le(uint32_t *idx, const float *score, const float *offset, size_t n,
                        float threshold)
{
    size_t count = 0;
    for (size_t j = 0; j < n; j++)
        if (score[j] + (offset ? offset[j] : 0.0f) <= threshold)
            idx[count++] = (uint32_t)j;
    return count;
}

const vx_kernel_table vx_kernels_scalar = {
    "scalar", l2sqr,      inner_product,      norm_sqr, l2sqr_ny, inner_product_ny,
    l2sqr_tile, inner_product_tile, select_le, l2sqr_ny_strided, inner_product_ny_strided,
    l2sqr_tile_strided, inner_product_tile_strided, l2sqr_gather,
};
