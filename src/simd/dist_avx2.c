/* AVX2 + FMA kernels: the only file compiled with -mavx2 -mfma. The tail uses
 * vmaskmovps with a mask built from a sliding window over a constant table. */
#include <immintrin.h>
#include <stdint.h>

#include "kernels.h"

static const int32_t tail_masks[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

static inline float reduce256(__m256 a)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

#define VEC __m256
#define VW 8
#define V_ZERO() _mm256_setzero_ps()
#define V_LOAD(p) _mm256_loadu_ps(p)
#define V_TAIL_DECL(d)                                                                         \
    const __m256i tail = _mm256_loadu_si256((const __m256i *)(tail_masks + 8 - (d) % 8))
#define V_LOAD_TAIL(p) _mm256_maskload_ps(p, tail)
#define V_SUB(a, b) _mm256_sub_ps(a, b)
#define V_ADD(a, b) _mm256_add_ps(a, b)
#define V_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define V_REDUCE(a) reduce256(a)
#define V_SET1(f) _mm256_set1_ps(f)
#define V_LE_MASK(a, b) ((unsigned)_mm256_movemask_ps(_mm256_cmp_ps(a, b, _CMP_LE_OQ)))
#define VX_TABLE_NAME vx_kernels_avx2
#define VX_ISA_NAME "avx2"

#include "dist_template.h"
