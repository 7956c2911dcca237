/*
 * CRC-32 by folding (see crc32.h). The buffer is read 64 bytes at a time into
 * four 128-bit lanes; each lane is folded forward over the next 64 bytes by
 * two carry-less multiplications with x^(512+64) and x^512 mod P (reflected),
 * then the lanes fold into one (x^(128+64), x^128), the 128 bits shrink to 64
 * and 32, and a Barrett reduction gives the CRC. The constants are powers of
 * x modulo the CRC polynomial P = 0x104C11DB7, bit-reflected as the CRC is.
 */
#include "crc32.h"

#include <zlib.h>

uint32_t vx_crc32_zlib(uint32_t crc, const void *p, size_t n)
{
    const Bytef *b = p;
    while (n > 0) { /* zlib takes uInt lengths */
        uInt part = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = (uint32_t)crc32(crc, b, part);
        b += part;
        n -= part;
    }
    return crc;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define TARGET __attribute__((target("pclmul,sse4.1")))

/* (x^(4*128+32) mod P, x^(4*128-32) mod P), (x^(128+32), x^(128-32)), x^64,
 * and Barrett's (P, floor(x^64 / P)), all reflected */
#define K1 0x154442bd4ull
#define K2 0x1c6e41596ull
#define K3 0x1751997d0ull
#define K4 0x0ccaa009eull
#define K5 0x163cd6124ull
#define POLY 0x1db710641ull
#define MU 0x1f7011641ull

static inline TARGET __m128i fold(__m128i x, __m128i k, __m128i next)
{
    __m128i lo = _mm_clmulepi64_si128(x, k, 0x00), hi = _mm_clmulepi64_si128(x, k, 0x11);
    return _mm_xor_si128(_mm_xor_si128(lo, hi), next);
}

/* The internal (inverted) CRC state over n bytes, n >= 64 and a multiple of 16. */
static TARGET uint32_t crc_fold(uint32_t state, const uint8_t *p, size_t n)
{
    __m128i x0 = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i x1 = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
    __m128i x2 = _mm_loadu_si128((const __m128i *)(const void *)(p + 32));
    __m128i x3 = _mm_loadu_si128((const __m128i *)(const void *)(p + 48));
    x0 = _mm_xor_si128(x0, _mm_cvtsi32_si128((int)state));
    p += 64;
    n -= 64;
    const __m128i k12 = _mm_set_epi64x((long long)K2, (long long)K1);
    for (; n >= 64; p += 64, n -= 64) {
        x0 = fold(x0, k12, _mm_loadu_si128((const __m128i *)(const void *)p));
        x1 = fold(x1, k12, _mm_loadu_si128((const __m128i *)(const void *)(p + 16)));
        x2 = fold(x2, k12, _mm_loadu_si128((const __m128i *)(const void *)(p + 32)));
        x3 = fold(x3, k12, _mm_loadu_si128((const __m128i *)(const void *)(p + 48)));
    }
    const __m128i k34 = _mm_set_epi64x((long long)K4, (long long)K3);
    x0 = fold(x0, k34, x1);
    x0 = fold(x0, k34, x2);
    x0 = fold(x0, k34, x3);
    for (; n >= 16; p += 16, n -= 16)
        x0 = fold(x0, k34, _mm_loadu_si128((const __m128i *)(const void *)p));
    /* 128 bits to 64 */
    const __m128i mask32 = _mm_set_epi32(0, 0, 0, -1);
    __m128i t = _mm_srli_si128(x0, 8);
    x0 = _mm_clmulepi64_si128(x0, k34, 0x10);
    x0 = _mm_xor_si128(x0, t);
    /* 64 bits to 32 */
    t = _mm_srli_si128(x0, 4);
    x0 = _mm_clmulepi64_si128(_mm_and_si128(x0, mask32), _mm_set_epi64x(0, (long long)K5), 0x00);
    x0 = _mm_xor_si128(x0, t);
    /* Barrett reduction */
    const __m128i pu = _mm_set_epi64x((long long)MU, (long long)POLY);
    t = x0;
    x0 = _mm_clmulepi64_si128(_mm_and_si128(x0, mask32), pu, 0x10);
    x0 = _mm_clmulepi64_si128(_mm_and_si128(x0, mask32), pu, 0x00);
    x0 = _mm_xor_si128(x0, t);
    return (uint32_t)_mm_extract_epi32(x0, 1);
}

/* Reads the CPU model libgcc fills in before main: no state of ours, no race. */
static int has_pclmul(void)
{
    return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
}
#endif

uint32_t vx_crc32(uint32_t crc, const void *p, size_t n)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (n >= 64 && has_pclmul()) {
        size_t body = n & ~(size_t)15;
        crc = ~crc_fold(~crc, p, body);
        p = (const uint8_t *)p + body;
        n -= body;
    }
#endif
    return vx_crc32_zlib(crc, p, n);
}
