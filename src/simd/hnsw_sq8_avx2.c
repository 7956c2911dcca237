/* HNSW SQ8 kernels compiled for AVX2. See hnsw_sq8.h. */
#include "hnsw_sq8.h"

int32_t vx_sq8_dot_avx2(const uint8_t *q, const int8_t *b, size_t d) VX_SQ8_DOT_BODY
uint32_t vx_sq8_pair_avx2(const int8_t *a, const int8_t *b, size_t d) VX_SQ8_PAIR_BODY
