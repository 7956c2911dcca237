/*
 * IndexHNSWFlat: Hierarchical Navigable Small World graphs (Malkov and
 * Yashunin, "Efficient and robust approximate nearest neighbor search using
 * Hierarchical Navigable Small World graphs", 2016/2018).
 *
 * The algorithm
 * -------------
 * Every vector is a node of a proximity graph. Each node draws a top level
 * L = floor(-ln(U) * mL), U uniform in (0, 1], mL = 1 / ln(M), so that a
 * fraction 1/M of the nodes of a level also appear on the next one: the upper
 * levels are ever sparser copies of the graph, an express network over long
 * distances. On level 0 a node keeps up to M0 = 2M neighbours, above it up to
 * M. A search enters at the single node of the top level, walks greedily
 * (always to the nearest neighbour of the current node) down to level 1, and
 * on level 0 runs a beam search that keeps the efSearch nearest nodes seen so
 * far, expanding the nearest unexpanded one until none is left; the k best of
 * the beam are the answer. Inserting a node is a search for it (with a beam of
 * efConstruction on each of its levels) followed by linking it to the
 * neighbours the selection heuristic picks among the beam, and linking them
 * back to it, pruning their lists with the same heuristic when they are full.
 * The heuristic keeps a candidate only when no already kept neighbour is
 * nearer to it than the new node is: it spreads the links over directions
 * instead of spending them all on one dense cluster, which is what keeps the
 * graph navigable on clustered data.
 *
 * Where this implementation departs from the paper, and why
 * ---------------------------------------------------------
 * - The beam is one sorted array of efSearch entries (a "linear pool", as in
 *   NSG, glass and ParlayANN), not the paper's two heaps (candidates and
 *   results). Every node in the beam is a candidate until it has been
 *   expanded, marked by a bit in its slot number; the next to expand is the
 *   first unexpanded one. Insertion is a binary search and a memmove of a few
 *   hundred bytes, which beats heap sifting at the sizes used (ef <= a few
 *   hundred) and stops at the same point as the paper's rule (the nearest
 *   candidate is farther than the farthest result) because the array holds
 *   exactly the results.
 * - A new node selects M neighbours on every level, level 0 included; M0 = 2M
 *   bounds only how many links an existing node may collect (as hnswlib; the
 *   paper selects M0 on level 0). Fewer, better spread links from each new
 *   node cost less at search time for the same recall.
 * - No "extend candidates" and no "keep pruned connections" (the paper's
 *   options, off in its own experiments and in hnswlib and Faiss).
 * - Levels come from a hash of (seed, insertion number), not from a stream:
 *   the graph then depends only on the insertion order, and with one thread a
 *   build is exactly reproducible. Parallel builds (the thread pool, one spin
 *   lock per node, never two held at once) give graphs of the same quality
 *   but not bit-identical ones.
 * - Deletion really removes (the paper has none; hnswlib only marks). Every
 *   node that linked to a removed node gets its list rebuilt by the heuristic
 *   from its surviving neighbours plus the removed nodes' own neighbours (two
 *   hops, through chains of removed nodes); nodes left unreachable from the
 *   entry point are then linked again as if inserted. Slots of removed nodes
 *   are reused by later adds. See hnsw_delete.c.
 * - Filtered search estimates the filter's selectivity on a sample of slots and
 *   scans the allowed vectors exactly when that costs less than a graph search
 *   that would have to wade through disallowed nodes; a graph search that
 *   still finds fewer than k allowed results falls back to the scan, so a
 *   filter that allows k vectors always gets k. See hnsw_search.c.
 * - Range search runs the beam search, then grows the result by breadth-first
 *   expansion through nodes inside the radius (Faiss only filters the beam).
 *
 * Layout and memory
 * -----------------
 * Level-0 links are one block of fixed-size records (count + M0 slots); upper
 * levels, held by 1/M of the nodes, get one small array per node. Vectors live
 * behind a storage interface (hnsw.h: distance from a query to a node, between
 * two nodes): fp32 and SQ8 stores here, fp16 in hnsw_fp16.c, PQ codes in
 * hnsw_pq.c; each keeps its vectors in one huge-page block. Visited marks are 16-bit epochs in a
 * per-search scratch (never in the index), reused across searches from a free
 * list, cleared only when the epoch wraps.
 *
 * Labels: add() numbers vectors next_label, next_label + 1, ... (0..ntotal-1
 * as in Faiss while nothing has been removed); add_with_ids() takes the
 * caller's ids (unique, not -1). A label never changes while its vector is in
 * the index: removing renumbers nothing (unlike IndexFlat), which is what lets
 * remove_ids reuse slots. A hash maps labels to slots.
 */
#include "hnsw.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../io/format.h"
#include "../io/registry.h"
#include "../simd/hnsw_sq8.h"
#include "../simd/kernels.h"

/* ------------------------------------------------------------------------- */
/* fp32 storage                                                               */
/* ------------------------------------------------------------------------- */

vindex_status vx_hnsw_store_regrow(void **arr, size_t cap, size_t keep, size_t row_bytes)
{
    size_t bytes;
    if (!vx_mul_ok(cap, row_bytes, &bytes))
        return vx_fail(VINDEX_ERR_NOMEM, "add: %zu vectors of %zu bytes overflow", cap, row_bytes);
    void *p = vx_alloc_big(bytes ? bytes : 1, 1);
    if (!p)
        return vx_fail(VINDEX_ERR_NOMEM, "add: out of memory for %zu vectors of %zu bytes", cap,
                       row_bytes);
    if (keep)
        memcpy(p, *arr, keep * row_bytes);
    vx_free(*arr);
    *arr = p;
    return VINDEX_OK;
}

typedef struct flat_store {
    vx_hnsw_store base;
    float *x;
    size_t cap;
    float (*dist)(const float *, const float *, size_t);
    int pf_lines; /* cache lines of a vector prefetched ahead of its distance */
} flat_store;

static inline const float *fs_vec(const flat_store *f, uint32_t slot)
{
    return f->x + (size_t)slot * (size_t)f->base.d;
}

static inline void fs_prefetch_vec(const flat_store *f, uint32_t slot)
{
    const char *p = (const char *)fs_vec(f, slot);
    for (int l = 0; l < f->pf_lines; l++)
        __builtin_prefetch(p + 64 * l, 0, 3);
}

static vindex_status fs_reserve(vx_hnsw_store *s, size_t cap, size_t keep)
{
    flat_store *f = (flat_store *)s;
    vindex_status st = vx_hnsw_store_regrow((void **)&f->x, cap, keep,
                                            (size_t)s->d * sizeof(float));
    if (!st)
        f->cap = cap;
    return st;
}

static void fs_set(vx_hnsw_store *s, size_t slot, const float *x)
{
    flat_store *f = (flat_store *)s;
    memcpy(f->x + slot * (size_t)s->d, x, (size_t)s->d * sizeof(float));
}

static void fs_get(const vx_hnsw_store *s, size_t slot, float *out)
{
    const flat_store *f = (const flat_store *)s;
    memcpy(out, f->x + slot * (size_t)s->d, (size_t)s->d * sizeof(float));
}

static const void *fs_prepare(const vx_hnsw_store *s, const float *x, void *buf)
{
    (void)s;
    (void)buf;
    return x;
}

static void fs_dist_many_l2(const vx_hnsw_store *s, const void *q, const uint32_t *slots,
                            size_t n, float *out)
{
    const flat_store *f = (const flat_store *)s;
    size_t d = (size_t)s->d;
    if (n)
        fs_prefetch_vec(f, slots[0]);
    for (size_t j = 0; j < n; j++) {
        if (j + 1 < n)
            fs_prefetch_vec(f, slots[j + 1]);
        out[j] = f->dist((const float *)q, fs_vec(f, slots[j]), d);
    }
}

static void fs_dist_many_ip(const vx_hnsw_store *s, const void *q, const uint32_t *slots,
                            size_t n, float *out)
{
    const flat_store *f = (const flat_store *)s;
    size_t d = (size_t)s->d;
    if (n)
        fs_prefetch_vec(f, slots[0]);
    for (size_t j = 0; j < n; j++) {
        if (j + 1 < n)
            fs_prefetch_vec(f, slots[j + 1]);
        out[j] = -f->dist((const float *)q, fs_vec(f, slots[j]), d);
    }
}

static float fs_dist_one(const vx_hnsw_store *s, const void *q, uint32_t slot)
{
    const flat_store *f = (const flat_store *)s;
    float v = f->dist((const float *)q, fs_vec(f, slot), (size_t)s->d);
    return s->metric == VINDEX_METRIC_L2 ? v : -v;
}

static float fs_dist_pair(const vx_hnsw_store *s, uint32_t i, uint32_t j)
{
    const flat_store *f = (const flat_store *)s;
    float v = f->dist(fs_vec(f, i), fs_vec(f, j), (size_t)s->d);
    return s->metric == VINDEX_METRIC_L2 ? v : -v;
}

static void fs_prefetch(const vx_hnsw_store *s, uint32_t slot)
{
    fs_prefetch_vec((const flat_store *)s, slot);
}

static size_t fs_memory(const vx_hnsw_store *s)
{
    const flat_store *f = (const flat_store *)s;
    return sizeof *f + f->cap * (size_t)s->d * sizeof(float);
}

static void fs_clear(vx_hnsw_store *s)
{
    flat_store *f = (flat_store *)s;
    if (!s->borrowed)
        vx_free(f->x);
    s->borrowed = false;
    f->x = NULL;
    f->cap = 0;
}

static void fs_destroy(vx_hnsw_store *s)
{
    if (!s)
        return;
    fs_clear(s);
    vx_free(s);
}

#define TAG_HNSW_VECS VX_TAG('H', 'N', 'V', 'F')

static void fs_write(const vx_hnsw_store *s, vx_writer *w, size_t n)
{
    const flat_store *f = (const flat_store *)s;
    vx_writer_array(w, TAG_HNSW_VECS, f->x, n, (size_t)s->d * sizeof(float));
}

static vindex_status fs_read(vx_hnsw_store *s, vx_reader *r, size_t n, bool mapped)
{
    flat_store *f = (flat_store *)s;
    bool ip = false;
    void *p;
    vindex_status st = vx_reader_array(r, TAG_HNSW_VECS, n, (size_t)s->d * sizeof(float), &p,
                                       mapped ? &ip : NULL);
    if (st)
        return st;
    f->x = p;
    f->cap = n;
    s->borrowed = ip;
    return VINDEX_OK;
}

#define FLAT_STORE_OPS(dist_many_)                                                             \
    {                                                                                          \
        .name = "Flat", .reserve = fs_reserve, .set = fs_set, .get = fs_get,                   \
        .prepare = fs_prepare, .dist_many = dist_many_, .dist_one = fs_dist_one,               \
        .dist_pair = fs_dist_pair, .prefetch = fs_prefetch, .memory = fs_memory,               \
        .clear = fs_clear, .destroy = fs_destroy, .family_tag = VX_FAMILY_HNSW_FLAT,           \
        .write = fs_write, .read = fs_read                                                     \
    }
static const vx_hnsw_store_ops flat_store_l2_ops = FLAT_STORE_OPS(fs_dist_many_l2);
static const vx_hnsw_store_ops flat_store_ip_ops = FLAT_STORE_OPS(fs_dist_many_ip);

vx_hnsw_store *vx_hnsw_store_flat_new(int d, vindex_metric metric)
{
    flat_store *f = vx_calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->base.ops = metric == VINDEX_METRIC_L2 ? &flat_store_l2_ops : &flat_store_ip_ops;
    f->base.d = d;
    f->base.metric = metric;
    f->dist = metric == VINDEX_METRIC_L2 ? vx_kernels()->l2sqr : vx_kernels()->inner_product;
    /* The hardware prefetcher follows a vector once its first lines are
     * asked for; asking for more than 8 lines ahead bought nothing on
     * Fashion-MNIST (784 floats = 49 lines). */
    size_t lines = ((size_t)d * sizeof(float) + 63) / 64;
    f->pf_lines = lines < 8 ? (int)lines : 8;
    return &f->base;
}

/* ------------------------------------------------------------------------- */
/* SQ8 storage                                                                */
/* ------------------------------------------------------------------------- */
/* One byte per dimension: c = round((x - vmin) / vdiff * 255), clamped. The
 * L2 distance of two codes, times (vdiff / 255)^2, approximates the distance
 * of the vectors (exactly for data that is itself 8-bit, as image pixels).
 * A quarter of fp32's memory traffic per distance, and integer arithmetic:
 * the graph walk is bound by both. Codes are stored biased (c - 128, signed)
 * with |c|^2 beside them, so that a query-to-code distance is a VNNI dot
 * product (see simd/hnsw_sq8.h). */

typedef struct sq8_store {
    vx_hnsw_store base;
    int8_t *codes;   /* biased: c - 128 */
    uint32_t *norms; /* |c|^2 of the unbiased code */
    size_t cap;
    float vmin, vdiff, scale2; /* scale2 = (vdiff / 255)^2 */
    const vx_sq8_kernels *k;
    int pf_lines;
} sq8_store;

/* The prepared query (in the scratch's query buffer, 4d + 128 bytes): the
 * constant part of the distance, then the code as unsigned bytes, and biased
 * as the stored ones (for d beyond one kernel block). */
typedef struct sq8_query {
    int64_t c;        /* |q|^2 - 256 sum(q) */
    int64_t pad[7];   /* the code starts 64 bytes in */
    uint8_t code[];   /* d bytes, then d biased bytes */
} sq8_query;

static inline const int8_t *sq_code(const sq8_store *q, uint32_t slot)
{
    return q->codes + (size_t)slot * (size_t)q->base.d;
}

static inline void sq_prefetch_code(const sq8_store *q, uint32_t slot)
{
    const char *p = (const char *)sq_code(q, slot);
    for (int l = 0; l < q->pf_lines; l++)
        __builtin_prefetch(p + 64 * l, 0, 3);
}

/* sum (a - b)^2 over biased codes, any d. */
static inline uint64_t sq_pair_int(const sq8_store *q, const int8_t *a, const int8_t *b)
{
    size_t d = (size_t)q->base.d;
    if (d <= VX_SQ8_MAX_BLOCK)
        return q->k->pair(a, b, d);
    uint64_t s = 0;
    for (size_t o = 0; o < d; o += VX_SQ8_MAX_BLOCK)
        s += q->k->pair(a + o, b + o, d - o < VX_SQ8_MAX_BLOCK ? d - o : VX_SQ8_MAX_BLOCK);
    return s;
}

static inline float sq_query_dist(const sq8_store *q, const sq8_query *qq, uint32_t slot)
{
    size_t d = (size_t)q->base.d;
    if (d > VX_SQ8_MAX_BLOCK)
        return (float)sq_pair_int(q, (const int8_t *)qq->code + d, sq_code(q, slot)) * q->scale2;
    int64_t v = qq->c + (int64_t)q->norms[slot] - 2 * (int64_t)q->k->dot(qq->code, sq_code(q, slot), d);
    return (float)v * q->scale2;
}

static void sq_encode(const sq8_store *q, const float *x, uint8_t *c)
{
    float inv = q->vdiff > 0 ? 255.0f / q->vdiff : 0.0f;
    for (int j = 0; j < q->base.d; j++) {
        float v = (x[j] - q->vmin) * inv;
        v = v < 0 ? 0 : v > 255 ? 255 : v;
        c[j] = (uint8_t)(v + 0.5f);
    }
}

static vindex_status sq_train(vx_hnsw_store *s, size_t n, const float *x)
{
    sq8_store *q = (sq8_store *)s;
    size_t total = n * (size_t)s->d;
    float lo = x[0], hi = x[0];
    for (size_t i = 1; i < total; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    q->vmin = lo;
    q->vdiff = hi - lo;
    float step = q->vdiff / 255.0f;
    q->scale2 = step * step;
    return VINDEX_OK;
}

static vindex_status sq_reserve(vx_hnsw_store *s, size_t cap, size_t keep)
{
    sq8_store *q = (sq8_store *)s;
    /* norms first: if the codes then fail, a longer norms array is harmless */
    vindex_status st = vx_hnsw_store_regrow((void **)&q->norms, cap, keep, sizeof *q->norms);
    if (!st)
        st = vx_hnsw_store_regrow((void **)&q->codes, cap, keep, (size_t)s->d);
    if (!st)
        q->cap = cap;
    return st;
}

static void sq_set(vx_hnsw_store *s, size_t slot, const float *x)
{
    sq8_store *q = (sq8_store *)s;
    size_t d = (size_t)s->d;
    int8_t *c = q->codes + slot * d;
    sq_encode(q, x, (uint8_t *)c);
    uint64_t n = 0;
    for (size_t j = 0; j < d; j++) {
        uint8_t u = (uint8_t)c[j];
        n += (uint64_t)u * u;
        c[j] = (int8_t)(u ^ 0x80);
    }
    q->norms[slot] = (uint32_t)n; /* wraps only past VX_SQ8_MAX_BLOCK, where it is unused */
}

static void sq_get(const vx_hnsw_store *s, size_t slot, float *out)
{
    const sq8_store *q = (const sq8_store *)s;
    const int8_t *c = q->codes + slot * (size_t)s->d;
    float step = q->vdiff / 255.0f;
    for (int j = 0; j < s->d; j++)
        out[j] = q->vmin + step * (float)((uint8_t)c[j] ^ 0x80);
}

static const void *sq_prepare(const vx_hnsw_store *s, const float *x, void *buf)
{
    const sq8_store *q = (const sq8_store *)s;
    size_t d = (size_t)s->d;
    sq8_query *qq = buf;
    sq_encode(q, x, qq->code);
    int64_t norm = 0, sum = 0;
    for (size_t j = 0; j < d; j++) {
        norm += (int64_t)qq->code[j] * qq->code[j];
        sum += qq->code[j];
        qq->code[d + j] = qq->code[j] ^ 0x80;
    }
    qq->c = norm - 256 * sum;
    return qq;
}

static void sq_dist_many(const vx_hnsw_store *s, const void *qc, const uint32_t *slots, size_t n,
                         float *out)
{
    const sq8_store *q = (const sq8_store *)s;
    if (n)
        sq_prefetch_code(q, slots[0]);
    for (size_t j = 0; j < n; j++) {
        if (j + 1 < n)
            sq_prefetch_code(q, slots[j + 1]);
        out[j] = sq_query_dist(q, qc, slots[j]);
    }
}

static float sq_dist_one(const vx_hnsw_store *s, const void *qc, uint32_t slot)
{
    return sq_query_dist((const sq8_store *)s, qc, slot);
}

static float sq_dist_pair(const vx_hnsw_store *s, uint32_t i, uint32_t j)
{
    const sq8_store *q = (const sq8_store *)s;
    return (float)sq_pair_int(q, sq_code(q, i), sq_code(q, j)) * q->scale2;
}

static void sq_prefetch(const vx_hnsw_store *s, uint32_t slot)
{
    sq_prefetch_code((const sq8_store *)s, slot);
}

static size_t sq_memory(const vx_hnsw_store *s)
{
    const sq8_store *q = (const sq8_store *)s;
    return sizeof *q + q->cap * ((size_t)s->d + sizeof *q->norms);
}

static void sq_clear(vx_hnsw_store *s)
{
    sq8_store *q = (sq8_store *)s;
    if (!s->borrowed)
        vx_free(q->codes);
    s->borrowed = false;
    vx_free(q->norms);
    q->codes = NULL;
    q->norms = NULL;
    q->cap = 0;
}

static void sq_destroy(vx_hnsw_store *s)
{
    if (!s)
        return;
    sq_clear(s);
    vx_free(s);
}

#define TAG_HNSW_SQ_RANGE VX_TAG('H', 'N', 'S', 'R')
#define TAG_HNSW_SQ_CODES VX_TAG('H', 'N', 'S', 'C')

/* The range, then the codes as stored (biased); |c|^2 is recomputed. */
static void sq_write(const vx_hnsw_store *s, vx_writer *w, size_t n)
{
    const sq8_store *q = (const sq8_store *)s;
    vx_writer_begin(w, TAG_HNSW_SQ_RANGE);
    vx_writer_f64(w, q->vmin);
    vx_writer_f64(w, q->vdiff);
    vx_writer_end(w);
    vx_writer_array(w, TAG_HNSW_SQ_CODES, q->codes, n, (size_t)s->d);
}

static vindex_status sq_read(vx_hnsw_store *s, vx_reader *r, size_t n, bool mapped)
{
    sq8_store *q = (sq8_store *)s;
    vx_cursor c;
    double vmin, vdiff;
    vindex_status st;
    if ((st = vx_reader_section(r, TAG_HNSW_SQ_RANGE, &c)) || (st = vx_cursor_f64(&c, &vmin)) ||
        (st = vx_cursor_f64(&c, &vdiff)) || (st = vx_cursor_done(&c)))
        return st;
    if (!isfinite(vmin) || !isfinite(vdiff) || vdiff < 0 || (float)vmin != vmin ||
        (float)vdiff != vdiff)
        return vx_io_corrupt("IndexHNSWSQ: bad range (%g, %g)", vmin, vdiff);
    q->vmin = (float)vmin;
    q->vdiff = (float)vdiff;
    float step = q->vdiff / 255.0f;
    q->scale2 = step * step;
    bool ip = false;
    void *p;
    size_t d = (size_t)s->d;
    if ((st = vx_reader_array(r, TAG_HNSW_SQ_CODES, n, d, &p, mapped ? &ip : NULL)))
        return st;
    q->codes = p;
    s->borrowed = ip;
    q->cap = n;
    if (!(q->norms = vx_alloc(n ? n : 1, sizeof *q->norms)))
        return VINDEX_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        const int8_t *code = q->codes + i * d;
        uint64_t sum = 0;
        for (size_t j = 0; j < d; j++) {
            uint32_t u = (uint8_t)code[j] ^ 0x80u;
            sum += u * u;
        }
        q->norms[i] = (uint32_t)sum;
    }
    return VINDEX_OK;
}

static const vx_hnsw_store_ops sq8_store_ops = {
    .name = "SQ8", .reserve = sq_reserve, .set = sq_set, .get = sq_get, .prepare = sq_prepare,
    .dist_many = sq_dist_many, .dist_one = sq_dist_one, .dist_pair = sq_dist_pair,
    .prefetch = sq_prefetch, .memory = sq_memory, .clear = sq_clear, .destroy = sq_destroy,
    .family_tag = VX_FAMILY_HNSW_SQ8, .write = sq_write, .read = sq_read, .train = sq_train};

vx_hnsw_store *vx_hnsw_store_sq8_new(int d)
{
    sq8_store *q = vx_calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->base.ops = &sq8_store_ops;
    q->base.d = d;
    q->base.metric = VINDEX_METRIC_L2;
    q->k = vx_sq8_kernels_get();
    size_t lines = ((size_t)d + 63) / 64;
    q->pf_lines = lines < 8 ? (int)lines : 8;
    return &q->base;
}

/* ------------------------------------------------------------------------- */
/* Scratch                                                                    */
/* ------------------------------------------------------------------------- */

static void scratch_free(vx_hnsw_scratch *sc)
{
    if (!sc)
        return;
    vx_free(sc->visited);
    vx_free(sc->pool_d);
    vx_free(sc->pool_i);
    vx_free(sc->buf_i);
    vx_free(sc->buf_d);
    vx_free(sc->qbuf);
    vx_free(sc);
}

/* Grows sc to the sizes asked; false (NOMEM recorded) on failure, sc still
 * usable for what it had. */
static bool scratch_fit(const vx_hnsw *h, vx_hnsw_scratch *sc, size_t ef, size_t nbuf)
{
    if (sc->visited_cap < h->cap) {
        uint16_t *v = vx_calloc(h->cap, sizeof *v);
        if (!v)
            return false;
        vx_free(sc->visited);
        sc->visited = v;
        sc->visited_cap = h->cap;
        sc->epoch = 0;
    }
    if (sc->pool_cap < ef + 1) {
        float *d = vx_alloc(ef + 1, sizeof *d);
        uint32_t *i = vx_alloc(ef + 1, sizeof *i);
        if (!d || !i) {
            vx_free(d);
            vx_free(i);
            return false;
        }
        vx_free(sc->pool_d);
        vx_free(sc->pool_i);
        sc->pool_d = d;
        sc->pool_i = i;
        sc->pool_cap = ef + 1;
    }
    if (sc->buf_cap < nbuf) {
        float *d = vx_alloc(nbuf, sizeof *d);
        uint32_t *i = vx_alloc(nbuf, sizeof *i);
        if (!d || !i) {
            vx_free(d);
            vx_free(i);
            return false;
        }
        vx_free(sc->buf_d);
        vx_free(sc->buf_i);
        sc->buf_d = d;
        sc->buf_i = i;
        sc->buf_cap = nbuf;
    }
    size_t qb = (size_t)h->base.d * sizeof(float) + 128; /* room for sq8_query */
    if (qb < h->store->query_bytes)
        qb = h->store->query_bytes;
    if (sc->qbuf_cap < qb) {
        void *b = vx_alloc(qb, 1);
        if (!b)
            return false;
        vx_free(sc->qbuf);
        sc->qbuf = b;
        sc->qbuf_cap = qb;
    }
    return true;
}

vx_hnsw_scratch *vx_hnsw_scratch_get(const vx_hnsw *h, size_t ef, size_t nbuf)
{
    vx_hnsw *mh = (vx_hnsw *)h; /* the free list is the one mutable part, under its lock */
    pthread_mutex_lock(&mh->scratch_lock);
    vx_hnsw_scratch *sc = mh->scratch_free;
    if (sc)
        mh->scratch_free = sc->next;
    pthread_mutex_unlock(&mh->scratch_lock);
    if (!sc && !(sc = vx_calloc(1, sizeof *sc)))
        return NULL;
    size_t minbuf = (size_t)h->M0 * 2 + 2;
    if (!scratch_fit(h, sc, ef, nbuf > minbuf ? nbuf : minbuf)) {
        vx_hnsw_scratch_put(h, sc);
        return NULL;
    }
    return sc;
}

void vx_hnsw_scratch_put(const vx_hnsw *h, vx_hnsw_scratch *sc)
{
    if (!sc)
        return;
    vx_hnsw *mh = (vx_hnsw *)h;
    pthread_mutex_lock(&mh->scratch_lock);
    sc->next = mh->scratch_free;
    mh->scratch_free = sc;
    pthread_mutex_unlock(&mh->scratch_lock);
}

uint16_t vx_hnsw_new_epoch(vx_hnsw_scratch *sc)
{
    if (++sc->epoch == 0) {
        memset(sc->visited, 0, sc->visited_cap * sizeof *sc->visited);
        sc->epoch = 1;
    }
    return sc->epoch;
}

static void scratch_drop_all(vx_hnsw *h)
{
    vx_hnsw_scratch *sc = h->scratch_free;
    while (sc) {
        vx_hnsw_scratch *next = sc->next;
        scratch_free(sc);
        sc = next;
    }
    h->scratch_free = NULL;
}

/* ------------------------------------------------------------------------- */
/* Index operations                                                           */
/* ------------------------------------------------------------------------- */

static vindex_status hnsw_reconstruct(const vindex *ix, vindex_id id, float *out)
{
    const vx_hnsw *h = (const vx_hnsw *)ix;
    int64_t slot;
    if (!vx_idhash_get(&h->slot_of, id, &slot))
        return vx_fail(VINDEX_ERR_NOT_FOUND, "reconstruct: id %lld is not in the index",
                       (long long)id);
    h->store->ops->get(h->store, (size_t)slot, out);
    return VINDEX_OK;
}

/* Frees the graph and the vectors; parameters (M, ef, seed) stay. A mapped
 * graph's arrays belong to the mapping, which is released. */
static void hnsw_clear(vx_hnsw *h)
{
    if (h->upper && !h->map)
        for (size_t s = 0; s < h->nslots; s++)
            vx_free(h->upper[s]);
    vx_free(h->upper);
    if (!h->map) {
        vx_free(h->levels);
        vx_free(h->links0);
        vx_free(h->labels);
    }
    if (h->map) {
        vx_mapping_release(h->map);
        h->map = NULL;
    }
    vx_free((void *)h->locks);
    vx_free(h->free_slots);
    vx_idhash_free(&h->slot_of);
    h->upper = NULL;
    h->levels = NULL;
    h->links0 = NULL;
    h->labels = NULL;
    h->locks = NULL;
    h->free_slots = NULL;
    h->nfree = h->free_cap = 0;
    h->cap = h->nslots = 0;
    h->entry = -1;
    h->max_level = -1;
    h->next_label = 0;
    h->ninserted = 0;
    h->base.ntotal = 0;
    scratch_drop_all(h);
}

static void hnsw_reset(vindex *ix)
{
    vx_hnsw *h = (vx_hnsw *)ix;
    h->store->ops->clear(h->store);
    hnsw_clear(h);
}

vindex_status vx_hnsw_refuse_mapped(const vx_hnsw *h, const char *op)
{
    return vx_fail(VINDEX_ERR_UNSUPPORTED,
                   "%s: this %s was read with VINDEX_IO_MMAP and is read-only (its graph and "
                   "vectors lie in the mapped file); read it without the flag to change it",
                   op, h->base.ops->type_name);
}

static void hnsw_destroy(vindex *ix)
{
    vx_hnsw *h = (vx_hnsw *)ix;
    h->store->ops->destroy(h->store); /* before the mapping it may point into goes */
    hnsw_clear(h);
    pthread_mutex_destroy(&h->entry_lock);
    pthread_mutex_destroy(&h->scratch_lock);
    vx_free(h);
}

static size_t hnsw_memory(const vindex *ix)
{
    const vx_hnsw *h = (const vx_hnsw *)ix;
    size_t bytes = sizeof *h + h->store->ops->memory(h->store);
    bytes += h->cap * ((size_t)(h->M0 + 1) * sizeof(uint32_t) + sizeof(int8_t) +
                       sizeof(uint32_t *) + sizeof(vindex_id) + sizeof(atomic_uchar));
    for (size_t s = 0; s < h->nslots; s++)
        if (h->levels[s] > 0)
            bytes += (size_t)h->levels[s] * (size_t)(h->M + 1) * sizeof(uint32_t);
    bytes += h->slot_of.cap * 2 * sizeof(int64_t) + h->free_cap * sizeof(uint32_t);
    return bytes;
}

static vindex_status int_param(const char *name, double value, double lo, double hi, int *out)
{
    if (value != floor(value) || value < lo || value > hi)
        return vx_fail(VINDEX_ERR_INVALID,
                       "set_param: %s must be an integer in %.0f..%.0f (got %g)", name, lo, hi,
                       value);
    *out = (int)value;
    return VINDEX_OK;
}

static vindex_status hnsw_set_param(vindex *ix, const char *name, double value)
{
    vx_hnsw *h = (vx_hnsw *)ix;
    if (!strcmp(name, "efSearch"))
        return int_param(name, value, 1, INT32_MAX, &h->ef_search);
    if (!strcmp(name, "efConstruction"))
        return int_param(name, value, 1, INT32_MAX, &h->ef_construction);
    if (!strcmp(name, "M") || !strcmp(name, "max_level") || !strcmp(name, "entry_point"))
        return vx_fail(VINDEX_ERR_INVALID, "set_param: %s is read only", name);
    if (!strcmp(name, "seed")) {
        if (value != floor(value) || value < 0 || value > 9007199254740992.0)
            return vx_fail(VINDEX_ERR_INVALID,
                           "set_param: seed must be a non-negative integer (got %g)", value);
        h->seed = (uint64_t)value;
        return VINDEX_OK;
    }
    return VINDEX_ERR_NOT_FOUND;
}

static vindex_status hnsw_get_param(const vindex *ix, const char *name, double *value)
{
    const vx_hnsw *h = (const vx_hnsw *)ix;
    if (!strcmp(name, "efSearch"))
        *value = h->ef_search;
    else if (!strcmp(name, "efConstruction"))
        *value = h->ef_construction;
    else if (!strcmp(name, "M"))
        *value = h->M;
    else if (!strcmp(name, "max_level"))
        *value = h->max_level;
    else if (!strcmp(name, "entry_point"))
        *value = h->entry < 0 ? -1.0 : (double)h->labels[h->entry];
    else if (!strcmp(name, "seed"))
        *value = (double)h->seed;
    else
        return VINDEX_ERR_NOT_FOUND;
    return VINDEX_OK;
}

/* Storages that learn (SQ8, PQ) train only while the index is empty. */
static vindex_status hnsw_train(vindex *ix, size_t n, const float *x)
{
    vx_hnsw *h = (vx_hnsw *)ix;
    if (ix->ntotal > 0)
        return vx_fail(VINDEX_ERR_INVALID, "train: %s already holds vectors; reset it first",
                       ix->ops->type_name);
    if (n == 0)
        return vx_fail(VINDEX_ERR_INVALID, "train: %s needs at least one training vector",
                       ix->ops->type_name);
    vindex_status st = h->store->ops->train(h->store, n, x);
    if (!st)
        ix->is_trained = true;
    return st;
}

/* Labels lie in [0, next_label) and are unique, so there are ntotal of them
 * there exactly when next_label == ntotal: 0..ntotal-1, as an IVF quantizer
 * needs (after add() alone, or ids that happen to be positions). */
static bool hnsw_labels_are_positions(const vindex *ix)
{
    return ((const vx_hnsw *)ix)->next_label == ix->ntotal;
}

#define HNSW_OPS_COMMON                                                                        \
    .add = vx_hnsw_add, .supports_ids = true, .search = vx_hnsw_search,                       \
    .labels_are_positions = hnsw_labels_are_positions,                                        \
    .range_search = vx_hnsw_range_search, .reconstruct = hnsw_reconstruct,                    \
    .remove_ids = vx_hnsw_remove_ids, .reset = hnsw_reset, .destroy = hnsw_destroy,           \
    .memory_bytes = hnsw_memory, .set_param = hnsw_set_param, .get_param = hnsw_get_param

static const vx_index_ops hnsw_flat_ops = {.type_name = "IndexHNSWFlat", .write = vx_hnsw_write,
                                           HNSW_OPS_COMMON};
static const vx_index_ops hnsw_sq_ops = {.type_name = "IndexHNSWSQ", .train = hnsw_train,
                                         .write = vx_hnsw_write, HNSW_OPS_COMMON};
/* fp16 needs no training: Faiss's IndexHNSWSQ with QT_fp16 */
static const vx_index_ops hnsw_fp16_ops = {.type_name = "IndexHNSWSQ", .write = vx_hnsw_write,
                                           HNSW_OPS_COMMON};
static const vx_index_ops hnsw_pq_ops = {.type_name = "IndexHNSWPQ", .train = hnsw_train,
                                         .write = vx_hnsw_write, HNSW_OPS_COMMON};

static vindex_status hnsw_new(vindex **out, int d, int M, vindex_metric metric,
                              const vx_index_ops *ops, int pq_M)
{
    vx_clear_error();
    vindex_status st = vx_check_new_args(out, d, metric, ops->type_name);
    if (st)
        return st;
    if (M < 2 || M > 512)
        return vx_fail(VINDEX_ERR_INVALID, "%s: M %d must be in 2..512", ops->type_name, M);
    if ((ops == &hnsw_sq_ops || ops == &hnsw_pq_ops) && metric != VINDEX_METRIC_L2)
        return vx_fail(VINDEX_ERR_UNSUPPORTED, "%s: only the L2 metric is supported",
                       ops->type_name);
    vx_hnsw *h = vx_calloc(1, sizeof *h);
    if (!h)
        return VINDEX_ERR_NOMEM;
    if (ops == &hnsw_pq_ops) {
        if ((st = vx_hnsw_store_pq_new(d, pq_M, &h->store))) {
            vx_free(h);
            return st;
        }
    } else {
        h->store = ops == &hnsw_sq_ops     ? vx_hnsw_store_sq8_new(d)
                   : ops == &hnsw_fp16_ops ? vx_hnsw_store_fp16_new(d, metric)
                                           : vx_hnsw_store_flat_new(d, metric);
    }
    if (!h->store) {
        vx_free(h);
        return VINDEX_ERR_NOMEM;
    }
    vx_index_init(&h->base, ops, d, metric, !ops->train);
    h->M = M;
    h->M0 = 2 * M;
    h->ef_construction = 40; /* Faiss's defaults */
    h->ef_search = 16;
    h->level_mult = 1.0 / log((double)M);
    h->seed = 12345;
    h->entry = -1;
    h->max_level = -1;
    vx_idhash_init(&h->slot_of);
    pthread_mutex_init(&h->entry_lock, NULL);
    pthread_mutex_init(&h->scratch_lock, NULL);
    *out = &h->base;
    return VINDEX_OK;
}

VINDEX_API vindex_status vindex_hnsw_flat_new(vindex **out, int d, int M, vindex_metric metric)
{
    return hnsw_new(out, d, M, metric, &hnsw_flat_ops, 0);
}

VINDEX_API vindex_status vindex_hnsw_sq8_new(vindex **out, int d, int M, vindex_metric metric)
{
    return hnsw_new(out, d, M, metric, &hnsw_sq_ops, 0);
}

VINDEX_API vindex_status vindex_hnsw_fp16_new(vindex **out, int d, int M, vindex_metric metric)
{
    return hnsw_new(out, d, M, metric, &hnsw_fp16_ops, 0);
}

VINDEX_API vindex_status vindex_hnsw_pq_new(vindex **out, int d, int pq_M, int M,
                                            vindex_metric metric)
{
    return hnsw_new(out, d, M, metric, &hnsw_pq_ops, pq_M);
}

/* ------------------------------------------------------------------------- */
/* Validation                                                                 */
/* ------------------------------------------------------------------------- */

static vindex_status invalid(char *report, size_t len, const char *fmt, ...) VX_PRINTF(3, 4);

static vindex_status invalid(char *report, size_t len, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (report && len)
        snprintf(report, len, "%s", msg);
    return vx_fail(VINDEX_ERR_CORRUPT, "hnsw_validate: %s", msg);
}

static vindex_status hnsw_validate_unlocked(const vindex *ix, int64_t *unreachable, char *report, size_t len)
{
    vx_clear_error();
    if (unreachable)
        *unreachable = 0;
    if (report && len)
        report[0] = '\0';
    if (!ix)
        return vx_fail(VINDEX_ERR_INVALID, "hnsw_validate: index is NULL");
    if (ix->ops != &hnsw_flat_ops && ix->ops != &hnsw_sq_ops && ix->ops != &hnsw_fp16_ops &&
        ix->ops != &hnsw_pq_ops)
        return vx_fail(VINDEX_ERR_INVALID, "hnsw_validate: %s is not an HNSW index",
                       ix->ops->type_name);
    const vx_hnsw *h = (const vx_hnsw *)ix;
    size_t live = 0;
    int top = -1;
    uint8_t *seen = vx_calloc(h->nslots ? h->nslots : 1, 1);
    uint32_t *queue = vx_alloc(h->nslots ? h->nslots : 1, sizeof *queue);
    vindex_status st = VINDEX_OK;
    size_t edges0 = 0;
    if (!seen || !queue) {
        st = VINDEX_ERR_NOMEM;
        goto done;
    }
    for (size_t s = 0; s < h->nslots && !st; s++) {
        int L = h->levels[s];
        if (L < 0) {
            if (h->links0[s * (size_t)(h->M0 + 1)] != 0)
                st = invalid(report, len, "free slot %zu still has links", s);
            continue;
        }
        live++;
        if (L > top)
            top = L;
        if (L > VX_HNSW_MAX_LEVEL || (L > 0 && !h->upper[s]))
            st = invalid(report, len, "slot %zu has a bad level %d", s, L);
        int64_t back;
        if (!st && (!vx_idhash_get(&h->slot_of, h->labels[s], &back) || back != (int64_t)s))
            st = invalid(report, len, "label %lld of slot %zu does not map back to it",
                         (long long)h->labels[s], s);
        for (int l = 0; l <= L && !st; l++) {
            const uint32_t *ln = vx_hnsw_links(h, (uint32_t)s, l);
            uint32_t cnt = ln[0];
            if (cnt > (uint32_t)vx_hnsw_max_degree(h, l)) {
                st = invalid(report, len, "slot %zu has %u links on level %d (max %d)", s, cnt,
                             l, vx_hnsw_max_degree(h, l));
                break;
            }
            if (l == 0)
                edges0 += cnt;
            for (uint32_t j = 0; j < cnt && !st; j++) {
                uint32_t v = ln[1 + j];
                if (v >= h->nslots || h->levels[v] < l)
                    st = invalid(report, len,
                                 "slot %zu links on level %d to slot %u, which is %s", s, l, v,
                                 v >= h->nslots ? "out of range"
                                 : h->levels[v] < 0 ? "free" : "not on that level");
                else if (v == s)
                    st = invalid(report, len, "slot %zu links to itself on level %d", s, l);
                for (uint32_t i = 0; i < j && !st; i++)
                    if (ln[1 + i] == v)
                        st = invalid(report, len, "slot %zu links twice to %u on level %d", s,
                                     v, l);
            }
        }
    }
    if (st)
        goto done;
    if ((int64_t)live != ix->ntotal || h->slot_of.count != live) {
        st = invalid(report, len, "%zu live slots, %zu labels, but ntotal %lld", live,
                     h->slot_of.count, (long long)ix->ntotal);
        goto done;
    }
    if (live == 0 ? (h->entry != -1 || h->max_level != -1)
                  : (h->entry < 0 || (size_t)h->entry >= h->nslots ||
                     h->levels[h->entry] != h->max_level || h->max_level != top)) {
        st = invalid(report, len, "entry point %lld at level %d, but the top level is %d",
                     (long long)h->entry, h->max_level, top);
        goto done;
    }
    /* Reachability on level 0 from the entry point (every node is on level 0). */
    size_t reached = 0;
    if (live) {
        size_t head = 0, tail = 0;
        queue[tail++] = (uint32_t)h->entry;
        seen[h->entry] = 1;
        while (head < tail) {
            uint32_t u = queue[head++];
            const uint32_t *ln = vx_hnsw_links(h, u, 0);
            for (uint32_t j = 0; j < ln[0]; j++)
                if (!seen[ln[1 + j]]) {
                    seen[ln[1 + j]] = 1;
                    queue[tail++] = ln[1 + j];
                }
        }
        reached = tail;
    }
    if (unreachable)
        *unreachable = (int64_t)(live - reached);
    if (report && len)
        snprintf(report, len,
                 "%zu nodes, %zu free slots, top level %d, entry label %lld, %zu unreachable, "
                 "mean level-0 degree %.2f",
                 live, h->nfree, top, live ? (long long)h->labels[h->entry] : -1LL,
                 live - reached, live ? (double)edges0 / (double)live : 0.0);
done:
    vx_free(seen);
    vx_free(queue);
    return st;
}

/* The public entry points above, under the index lock (index.h). */

VINDEX_API vindex_status vindex_hnsw_validate(const vindex *ix, int64_t *unreachable,
                                              char *report, size_t len)
{
    if (!ix)
        return hnsw_validate_unlocked(ix, unreachable, report, len);
    vx_index_lock_shared(ix);
    vindex_status st = hnsw_validate_unlocked(ix, unreachable, report, len);
    vx_index_unlock(ix);
    return st;
}

const char *vx_hnsw_storage(const vindex *ix, int *pq_M)
{
    if (!ix || (ix->ops != &hnsw_flat_ops && ix->ops != &hnsw_sq_ops &&
                ix->ops != &hnsw_fp16_ops && ix->ops != &hnsw_pq_ops))
        return NULL;
    const vx_hnsw_store *s = ((const vx_hnsw *)ix)->store;
    if (pq_M)
        *pq_M = ix->ops == &hnsw_pq_ops ? vx_hnsw_store_pq_m(s) : 0;
    return s->ops->name;
}
