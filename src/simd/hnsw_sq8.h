/*
 * The kernels of HNSW's SQ8 storage. A stored code is kept biased, as signed
 * bytes c - 128, so that the distance from a query code (unsigned bytes) to a
 * stored one is one VNNI multiply-add per 64 dimensions (vpdpbusd: u8 x s8
 * summed into s32):
 *   |q - c|^2 = |q|^2 + |c|^2 - 2 q.c,   q.c = dot(q, c - 128) + 128 sum(q),
 * with |c|^2 kept per vector and |q|^2, sum(q) computed once per query. All in
 * integers, so the result is exactly sum (q_i - c_i)^2, as before.
 * Between two stored codes (the build's neighbour selection) the kernel is the
 * plain squared difference of the biased bytes, in 16-bit lanes.
 *
 * The portable loops are compiled once per instruction set (hnsw_sq8_scalar.c,
 * hnsw_sq8_avx2.c, hnsw_sq8_avx512.c: the file name gives the flags), where the
 * compiler vectorizes them; hnsw_sq8_avx512.c adds the VNNI versions, used when
 * the CPU has AVX512-VNNI. The level follows vx_simd_level(), as every kernel
 * family.
 */
#ifndef VX_HNSW_SQ8_H
#define VX_HNSW_SQ8_H

#include <stddef.h>
#include <stdint.h>

/* d <= VX_SQ8_MAX_BLOCK keeps every sum within 32 bits; longer vectors are cut
 * into blocks by the caller. */
#define VX_SQ8_MAX_BLOCK 65536
/* sum_i q[i] * b[i]: q unsigned query bytes, b biased stored bytes. */
typedef int32_t (*vx_sq8_dot_fn)(const uint8_t *q, const int8_t *b, size_t d);
/* sum_i (a[i] - b[i])^2 over biased bytes. */
typedef uint32_t (*vx_sq8_pair_fn)(const int8_t *a, const int8_t *b, size_t d);

typedef struct vx_sq8_kernels {
    const char *name;
    vx_sq8_dot_fn dot;
    vx_sq8_pair_fn pair;
} vx_sq8_kernels;

int32_t vx_sq8_dot_scalar(const uint8_t *q, const int8_t *b, size_t d);
uint32_t vx_sq8_pair_scalar(const int8_t *a, const int8_t *b, size_t d);
#if defined(__x86_64__) || defined(_M_X64)
int32_t vx_sq8_dot_avx2(const uint8_t *q, const int8_t *b, size_t d);
uint32_t vx_sq8_pair_avx2(const int8_t *a, const int8_t *b, size_t d);
int32_t vx_sq8_dot_avx512(const uint8_t *q, const int8_t *b, size_t d);
uint32_t vx_sq8_pair_avx512(const int8_t *a, const int8_t *b, size_t d);
int32_t vx_sq8_dot_vnni(const uint8_t *q, const int8_t *b, size_t d);
uint32_t vx_sq8_pair_vnni(const int8_t *a, const int8_t *b, size_t d);
/* Whether the CPU has AVX512-VNNI (and this build the VNNI kernels). */
int vx_sq8_vnni_available(void);
#endif

/* The kernels for the level in use. */
const vx_sq8_kernels *vx_sq8_kernels_get(void);
/* Every variant this build and CPU can run, scalar first, into out (room for
 * 4); returns the count (for tests comparing them). */
size_t vx_sq8_kernels_all(const vx_sq8_kernels **out);

#define VX_SQ8_DOT_BODY                                                                        \
    {                                                                                          \
        int32_t s = 0;                                                                         \
        for (size_t i = 0; i < d; i++)                                                         \
            s += (int32_t)q[i] * (int32_t)b[i];                                                \
        return s;                                                                              \
    }

#define VX_SQ8_PAIR_BODY                                                                       \
    {                                                                                          \
        uint32_t s = 0;                                                                        \
        for (size_t i = 0; i < d; i++) {                                                       \
            int t = (int)a[i] - (int)b[i];                                                     \
            s += (uint32_t)(t * t);                                                            \
        }                                                                                      \
        return s;                                                                              \
    }

#endif
