/* HNSW SQ8 distance, portable build (and the dispatch). See hnsw_sq8.h. */
#include "hnsw_sq8.h"

#include "kernels.h"

uint32_t vx_sq8_l2_scalar(const uint8_t *a, const uint8_t *b, size_t d) VX_SQ8_L2_BODY

vx_sq8_l2_fn vx_sq8_l2_kernel(void)
{
#if defined(__x86_64__) || defined(_M_X64)
    int level = vx_simd_level();
    if (level >= VX_LEVEL_AVX512)
        return vx_sq8_l2_avx512;
    if (level >= VX_LEVEL_AVX2)
        return vx_sq8_l2_avx2;
#endif
    return vx_sq8_l2_scalar;
}
