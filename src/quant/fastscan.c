/* Fast-scan lookup tables and scores (see fastscan.h). */
#include "fastscan.h"

#include <string.h>

float vx_fs_quantize_lut(const float *table, int M, uint8_t *lut, float *bias, float *mins)
{
    return vx_fs_kernels()->quantize_lut(table, NULL, (size_t)M, lut, bias, mins);
}

void vx_fs_scores(const vx_fs_kernel_table *kt, const uint8_t *lut, size_t code_size, float bias,
                  float scale, const uint8_t *blocks, size_t n, uint32_t *sums, float *out)
{
    const float inv = 1.0f / scale;
    kt->accumulate(sums, lut, code_size, blocks, vx_fs_round(n) / VX_FS_BLOCK);
    for (size_t j = 0; j < n; j++)
        out[j] = bias + (float)sums[j] * inv;
}

float vx_fs_exact_score(const float *table, int M, const uint8_t *code)
{
    float s = 0;
    for (int m = 0; m < M; m++) {
        uint8_t byte = code[m >> 1];
        s += table[(size_t)m * 16 + ((m & 1) ? byte >> 4 : byte & 15)];
    }
    return s;
}
