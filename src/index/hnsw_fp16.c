/*
 * HNSW storage in IEEE half floats (IndexHNSWSQ with QT_fp16): two bytes a
 * dimension, half of fp32's memory traffic per distance, with the relative
 * error of fp16 (about 2^-11 per component) and no training. Query-to-code
 * distances run on the codes through the scalar-quantizer kernels
 * (simd/sq_kernels.h: F16C conversions in registers, FMA), with the query in
 * fp32; code-to-code distances (the build's neighbour selection) decode one
 * side in blocks on the stack. Every score is squared L2 or the negated inner
 * product, as for the other stores (hnsw.h).
 */
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../io/format.h"
#include "../io/registry.h"
#include "../quant/sq.h"
#include "../simd/sq_kernels.h"
#include "../simd/kernels.h"
#include "hnsw.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

/* Half floats to floats, 8 at a time (F16C, which the AVX2 level implies). */
__attribute__((target("avx,f16c"))) static void decode_f16c(const uint16_t *c, float *out,
                                                            size_t n)
{
    size_t t = 0;
    for (; t + 8 <= n; t += 8)
        _mm256_storeu_ps(out + t, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(c + t))));
    for (; t < n; t++)
        out[t] = vx_f16_to_f32(c[t]);
}
#endif

static void decode(const uint16_t *c, float *out, size_t n)
{
#if defined(__x86_64__) || defined(_M_X64)
    if (vx_simd_level() >= VX_LEVEL_AVX2) {
        decode_f16c(c, out, n);
        return;
    }
#endif
    for (size_t t = 0; t < n; t++)
        out[t] = vx_f16_to_f32(c[t]);
}

typedef struct f16_store {
    vx_hnsw_store base;
    uint16_t *codes;
    size_t cap;
    const vx_sq_kernel_table *k;
    int pf_lines;
} f16_store;

static inline const uint16_t *f16_code(const f16_store *f, uint32_t slot)
{
    return f->codes + (size_t)slot * (size_t)f->base.d;
}

static inline void f16_prefetch_code(const f16_store *f, uint32_t slot)
{
    const char *p = (const char *)f16_code(f, slot);
    for (int l = 0; l < f->pf_lines; l++)
        __builtin_prefetch(p + 64 * l, 0, 3);
}

/* score(query q in fp32, code) */
static inline float f16_score(const f16_store *f, const float *q, const uint16_t *code)
{
    float v;
    size_t d = (size_t)f->base.d;
    if (f->base.metric == VINDEX_METRIC_L2) {
        f->k->l2_f16(&v, (const uint8_t *)code, 1, d, NULL, q);
        return v;
    }
    f->k->dot_f16(&v, (const uint8_t *)code, 1, d, q);
    return -v;
}

static vindex_status f16_reserve(vx_hnsw_store *s, size_t cap, size_t keep)
{
    f16_store *f = (f16_store *)s;
    vindex_status st = vx_hnsw_store_regrow((void **)&f->codes, cap, keep,
                                            (size_t)s->d * sizeof(uint16_t));
    if (!st)
        f->cap = cap;
    return st;
}

static void f16_set(vx_hnsw_store *s, size_t slot, const float *x)
{
    f16_store *f = (f16_store *)s;
    uint16_t *c = f->codes + slot * (size_t)s->d;
    for (int j = 0; j < s->d; j++)
        c[j] = vx_f32_to_f16(x[j]);
}

static void f16_get(const vx_hnsw_store *s, size_t slot, float *out)
{
    const f16_store *f = (const f16_store *)s;
    decode(f->codes + slot * (size_t)s->d, out, (size_t)s->d);
}

static const void *f16_prepare(const vx_hnsw_store *s, const float *x, void *buf)
{
    (void)s;
    (void)buf;
    return x;
}

static void f16_dist_many(const vx_hnsw_store *s, const void *q, const uint32_t *slots, size_t n,
                          float *out)
{
    const f16_store *f = (const f16_store *)s;
    if (n)
        f16_prefetch_code(f, slots[0]);
    for (size_t j = 0; j < n; j++) {
        if (j + 1 < n)
            f16_prefetch_code(f, slots[j + 1]);
        out[j] = f16_score(f, q, f16_code(f, slots[j]));
    }
}

static float f16_dist_one(const vx_hnsw_store *s, const void *q, uint32_t slot)
{
    const f16_store *f = (const f16_store *)s;
    return f16_score(f, q, f16_code(f, slot));
}

static float f16_dist_pair(const vx_hnsw_store *s, uint32_t i, uint32_t j)
{
    const f16_store *f = (const f16_store *)s;
    enum { BLOCK = 256 };
    float a[BLOCK], part, sum = 0;
    const uint16_t *ci = f16_code(f, i), *cj = f16_code(f, j);
    size_t d = (size_t)s->d;
    for (size_t o = 0; o < d; o += BLOCK) {
        size_t len = d - o < BLOCK ? d - o : BLOCK;
        decode(ci + o, a, len);
        if (s->metric == VINDEX_METRIC_L2)
            f->k->l2_f16(&part, (const uint8_t *)(cj + o), 1, len, NULL, a);
        else
            f->k->dot_f16(&part, (const uint8_t *)(cj + o), 1, len, a);
        sum += part;
    }
    return s->metric == VINDEX_METRIC_L2 ? sum : -sum;
}

static void f16_prefetch(const vx_hnsw_store *s, uint32_t slot)
{
    f16_prefetch_code((const f16_store *)s, slot);
}

static size_t f16_memory(const vx_hnsw_store *s)
{
    const f16_store *f = (const f16_store *)s;
    return sizeof *f + f->cap * (size_t)s->d * sizeof *f->codes;
}

static void f16_clear(vx_hnsw_store *s)
{
    f16_store *f = (f16_store *)s;
    if (!s->borrowed)
        vx_free(f->codes);
    s->borrowed = false;
    f->codes = NULL;
    f->cap = 0;
}

static void f16_destroy(vx_hnsw_store *s)
{
    if (!s)
        return;
    f16_clear(s);
    vx_free(s);
}

#define TAG_HNSW_F16_CODES VX_TAG('H', 'N', 'H', 'C')

static void f16_write(const vx_hnsw_store *s, vx_writer *w, size_t n)
{
    const f16_store *f = (const f16_store *)s;
    vx_writer_array(w, TAG_HNSW_F16_CODES, f->codes, n, (size_t)s->d * sizeof *f->codes);
}

static vindex_status f16_read(vx_hnsw_store *s, vx_reader *r, size_t n, bool mapped)
{
    f16_store *f = (f16_store *)s;
    bool ip = false;
    void *p;
    vindex_status st = vx_reader_array(r, TAG_HNSW_F16_CODES, n, (size_t)s->d * sizeof(uint16_t),
                                       &p, mapped ? &ip : NULL);
    if (st)
        return st;
    f->codes = p;
    f->cap = n;
    s->borrowed = ip;
    return VINDEX_OK;
}

static const vx_hnsw_store_ops f16_store_ops = {
    .name = "fp16", .reserve = f16_reserve, .set = f16_set, .get = f16_get,
    .prepare = f16_prepare, .dist_many = f16_dist_many, .dist_one = f16_dist_one,
    .dist_pair = f16_dist_pair, .prefetch = f16_prefetch, .memory = f16_memory,
    .clear = f16_clear, .destroy = f16_destroy, .family_tag = VX_FAMILY_HNSW_FP16,
    .write = f16_write, .read = f16_read};

vx_hnsw_store *vx_hnsw_store_fp16_new(int d, vindex_metric metric)
{
    f16_store *f = vx_calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->base.ops = &f16_store_ops;
    f->base.d = d;
    f->base.metric = metric;
    f->k = vx_sq_kernels();
    size_t lines = ((size_t)d * sizeof(uint16_t) + 63) / 64;
    f->pf_lines = lines < 8 ? (int)lines : 8;
    return &f->base;
}
