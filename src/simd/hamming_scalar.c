/* Scalar Hamming kernels (the reference the SIMD levels are tested against)
 * and the choice of table. */
#include "hamming_kernels.h"
#include "kernels.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#endif

static uint32_t hamming_one(const uint8_t *a, const uint8_t *b, size_t cs)
{
    uint32_t acc = 0;
    size_t t = 0;
    for (; t + 8 <= cs; t += 8)
        acc += (uint32_t)__builtin_popcountll(vx_load_u64(a + t) ^ vx_load_u64(b + t));
    for (; t < cs; t++)
        acc += (uint32_t)__builtin_popcount((unsigned)(a[t] ^ b[t]));
    return acc;
}

static void hamming_ny(uint32_t *out, const uint8_t *q, const uint8_t *codes, size_t cs, size_t n)
{
    for (size_t j = 0; j < n; j++)
        out[j] = hamming_one(q, codes + j * cs, cs);
}

static void hamming_tile(uint32_t *out, const uint8_t *q, size_t nq, const uint8_t *codes,
                         size_t cs, size_t n)
{
    for (size_t j = 0; j < n; j++)
        for (size_t i = 0; i < nq; i++)
            out[i * n + j] = hamming_one(q + i * cs, codes + j * cs, cs);
}

const vx_hamming_kernel_table vx_hamming_kernels_scalar = {
    .name = "scalar",
    .hamming_ny = hamming_ny,
    .hamming_tile = hamming_tile,
};

#if defined(__x86_64__) || defined(_M_X64)
static int cpu_has_popcnt(void)
{
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && ((c >> 23) & 1);
}

static int cpu_has_vpopcntdq(void)
{
    unsigned a, b, c, d;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && ((c >> 14) & 1);
}
#endif

const vx_hamming_kernel_table *vx_hamming_kernels_for_level(int level)
{
    if (!vx_simd_level_available(level))
        return NULL;
#if defined(__x86_64__) || defined(_M_X64)
    if (level == VX_LEVEL_AVX512 && cpu_has_vpopcntdq())
        return &vx_hamming_kernels_avx512;
    if (level >= VX_LEVEL_AVX2 && cpu_has_popcnt())
        return &vx_hamming_kernels_avx2;
#endif
    return &vx_hamming_kernels_scalar;
}

const vx_hamming_kernel_table *vx_hamming_kernels(void)
{
    static const vx_hamming_kernel_table *chosen; /* the same answer from any thread */
    const vx_hamming_kernel_table *t = __atomic_load_n(&chosen, __ATOMIC_ACQUIRE);
    if (!t) {
        t = vx_hamming_kernels_for_level(vx_simd_level());
        if (!t)
            t = &vx_hamming_kernels_scalar;
        __atomic_store_n(&chosen, t, __ATOMIC_RELEASE);
    }
    return t;
}
