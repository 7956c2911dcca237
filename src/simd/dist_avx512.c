/* AVX-512F kernels: the only file compiled with -mavx512f. Masked loads make
 * the tail free of scalar loops. */
#include <immintrin.h>

#include "kernels.h"

#define VEC __m512
#define VW 16
#define V_ZERO() _mm512_setzero_ps()
#define V_LOAD(p) _mm512_loadu_ps(p)
#define V_TAIL_DECL(d) const __mmask16 tail = (__mmask16)((1u << ((d) % 16)) - 1)
#define V_LOAD_TAIL(p) _mm512_maskz_loadu_ps(tail, p)
#define V_SUB(a, b) _mm512_sub_ps(a, b)
#define V_ADD(a, b) _mm512_add_ps(a, b)
#define V_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define V_REDUCE(a) _mm512_reduce_add_ps(a)
#define V_SET1(f) _mm512_set1_ps(f)
#define V_LE_MASK(a, b) ((unsigned)_mm512_cmp_ps_mask(a, b, _CMP_LE_OQ))
#define VX_TABLE_NAME vx_kernels_avx512
#define VX_ISA_NAME "avx512"

#include "dist_template.h"
