/* HNSW SQ8 distance compiled for AVX-512. See hnsw_sq8.h. */
#include "hnsw_sq8.h"

uint32_t vx_sq8_l2_avx512(const uint8_t *a, const uint8_t *b, size_t d) VX_SQ8_L2_BODY
