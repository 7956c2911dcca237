/* HNSW SQ8 kernels, portable build, and the dispatch. See hnsw_sq8.h. */
#include "hnsw_sq8.h"

#include "kernels.h"

int32_t vx_sq8_dot_scalar(const uint8_t *q, const int8_t *b, size_t d) VX_SQ8_DOT_BODY
uint32_t vx_sq8_pair_scalar(const int8_t *a, const int8_t *b, size_t d) VX_SQ8_PAIR_BODY

static const vx_sq8_kernels scalar = {"scalar", vx_sq8_dot_scalar, vx_sq8_pair_scalar};
#if defined(__x86_64__) || defined(_M_X64)
static const vx_sq8_kernels avx2 = {"avx2", vx_sq8_dot_avx2, vx_sq8_pair_avx2};
static const vx_sq8_kernels avx512 = {"avx512", vx_sq8_dot_avx512, vx_sq8_pair_avx512};
static const vx_sq8_kernels vnni = {"avx512vnni", vx_sq8_dot_vnni, vx_sq8_pair_vnni};
#endif

const vx_sq8_kernels *vx_sq8_kernels_get(void)
{
#if defined(__x86_64__) || defined(_M_X64)
    int level = vx_simd_level();
    if (level >= VX_LEVEL_AVX512)
        return vx_sq8_vnni_available() ? &vnni : &avx512;
    if (level >= VX_LEVEL_AVX2)
        return &avx2;
#endif
    return &scalar;
}

size_t vx_sq8_kernels_all(const vx_sq8_kernels **out)
{
    size_t c = 0;
    out[c++] = &scalar;
#if defined(__x86_64__) || defined(_M_X64)
    if (vx_simd_level_available(VX_LEVEL_AVX2))
        out[c++] = &avx2;
    if (vx_simd_level_available(VX_LEVEL_AVX512)) {
        out[c++] = &avx512;
        if (vx_sq8_vnni_available())
            out[c++] = &vnni;
    }
#endif
    return c;
}
