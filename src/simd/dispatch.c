/*
 * Choosing the kernels once per process.
 *
 * The CPU must report the instructions (cpuid) and the OS must save the wider
 * registers on context switches (xgetbv: XCR0 bits for the YMM state, and for
 * AVX-512 also the opmask and ZMM states). VINDEX_SIMD can only lower the level,
 * never force one the machine cannot run.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "vindex.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>

static unsigned long long read_xcr0(void)
{
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

/* 0 = scalar, 1 = avx2 (+fma), 2 = avx512 (F + DQ) */
static int cpu_level(void)
{
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    int osxsave = (c >> 27) & 1, fma = (c >> 12) & 1, avx = (c >> 28) & 1;
    if (!osxsave || !avx || !fma)
        return 0;
    unsigned long long xcr0 = read_xcr0();
    if ((xcr0 & 0x6) != 0x6) /* SSE and AVX state */
        return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return 0;
    int avx2 = (b >> 5) & 1, avx512f = (b >> 16) & 1, avx512dq = (b >> 17) & 1;
    if (!avx2)
        return 0;
    if (avx512f && avx512dq && (xcr0 & 0xe0) == 0xe0) /* opmask, ZMM_Hi256, Hi16_ZMM */
        return 2;
    return 1;
}

static const vx_kernel_table *const levels[] = {&vx_kernels_scalar, &vx_kernels_avx2,
                                                &vx_kernels_avx512};
#else
static int cpu_level(void) { return 0; }
static const vx_kernel_table *const levels[] = {&vx_kernels_scalar};
#endif

static const vx_kernel_table *chosen;
static int chosen_level;
static pthread_once_t chosen_once = PTHREAD_ONCE_INIT;

static int level_named(const char *name)
{
    for (int i = 0; i < (int)(sizeof levels / sizeof levels[0]); i++)
        if (strcmp(levels[i]->name, name) == 0)
            return i;
    return -1;
}

static void choose(void)
{
    int level = cpu_level();
    const char *env = getenv("VINDEX_SIMD");
    if (env && *env) {
        int wanted = level_named(env);
        if (wanted >= 0 && wanted < level)
            level = wanted;
    }
    chosen_level = level;
    chosen = levels[level];
}

int vx_simd_level(void)
{
    pthread_once(&chosen_once, choose);
    return chosen_level;
}

int vx_simd_level_available(int level)
{
    return level >= 0 && level < (int)(sizeof levels / sizeof levels[0]) && level <= cpu_level();
}

const vx_kernel_table *vx_kernels(void)
{
    pthread_once(&chosen_once, choose);
    return chosen;
}

const vx_kernel_table *vx_kernels_for(const char *name)
{
    int wanted = level_named(name);
    if (wanted < 0 || wanted > cpu_level())
        return NULL;
    return levels[wanted];
}

VINDEX_API const char *vindex_simd_level(void) { return vx_kernels()->name; }

void vx_norms_sqr(float *out, const float *x, size_t d, size_t n)
{
    float (*norm)(const float *, size_t) = vx_kernels()->norm_sqr;
    for (size_t i = 0; i < n; i++)
        out[i] = norm(x + i * d, d);
}
