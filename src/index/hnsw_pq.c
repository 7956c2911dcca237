/*
 * HNSW storage in product-quantizer codes (IndexHNSWPQ, Faiss's
 * IndexHNSWPQ(d, pq_M, M)): pq_M bytes a vector (8-bit sub-codes), learnt by
 * train() with the PQ codec of src/quant/pq.c. A query-to-code distance is
 * pq_M lookups in the query's distance table (asymmetric distance, computed
 * once per query into the search's scratch); a code-to-code distance, which
 * the build's neighbour selection needs, is pq_M lookups in the symmetric
 * table of squared distances between the centroids of each sub-space
 * (pq_M x 256 x 256, computed after training, as Faiss does with
 * compute_sdc_table). L2 only. Distances reported are those of the codes.
 */
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../io/codecs.h"
#include "../io/registry.h"
#include "../quant/pq.h"
#include "../simd/kernels.h"
#include "hnsw.h"

typedef struct pq_store {
    vx_hnsw_store base;
    vx_pq pq;
    uint8_t *codes;
    size_t cap;
    float *sdc; /* M x ksub x ksub, after training */
} pq_store;

static inline const uint8_t *pq_code(const pq_store *p, uint32_t slot)
{
    return p->codes + (size_t)slot * p->pq.code_size;
}

static vindex_status pqs_reserve(vx_hnsw_store *s, size_t cap, size_t keep)
{
    pq_store *p = (pq_store *)s;
    vindex_status st = vx_hnsw_store_regrow((void **)&p->codes, cap, keep, p->pq.code_size);
    if (!st)
        p->cap = cap;
    return st;
}

static void pqs_set(vx_hnsw_store *s, size_t slot, const float *x)
{
    pq_store *p = (pq_store *)s;
    uint8_t *c = p->codes + slot * p->pq.code_size;
    memset(c, 0, p->pq.code_size);
    vx_pq_encode_one(&p->pq, x, NULL, c);
}

static void pqs_get(const vx_hnsw_store *s, size_t slot, float *out)
{
    const pq_store *p = (const pq_store *)s;
    vx_pq_decode(&p->pq, 1, pq_code(p, (uint32_t)slot), out);
}

/* The query's table (M x ksub floats), then the tables' scratch. */
static const void *pqs_prepare(const vx_hnsw_store *s, const float *x, void *buf)
{
    const pq_store *p = (const pq_store *)s;
    float *table = buf, *scratch = table + (size_t)p->pq.M * p->pq.ksub;
    vx_pq_tables(&p->pq, 1, x, VINDEX_METRIC_L2, true, table, scratch);
    return table;
}

static inline float pqs_score(const pq_store *p, const float *table, uint32_t slot)
{
    const uint8_t *c = pq_code(p, slot);
    const size_t ksub = p->pq.ksub;
    float v = 0;
    for (int m = 0; m < p->pq.M; m++) /* sub-space order, as vx_pq_score_generic */
        v += table[(size_t)m * ksub + c[m]];
    return v;
}

static void pqs_dist_many(const vx_hnsw_store *s, const void *q, const uint32_t *slots, size_t n,
                          float *out)
{
    const pq_store *p = (const pq_store *)s;
    for (size_t j = 0; j < n; j++)
        __builtin_prefetch(pq_code(p, slots[j]), 0, 3);
    for (size_t j = 0; j < n; j++)
        out[j] = pqs_score(p, q, slots[j]);
}

static float pqs_dist_one(const vx_hnsw_store *s, const void *q, uint32_t slot)
{
    return pqs_score((const pq_store *)s, q, slot);
}

static float pqs_dist_pair(const vx_hnsw_store *s, uint32_t i, uint32_t j)
{
    const pq_store *p = (const pq_store *)s;
    const uint8_t *a = pq_code(p, i), *b = pq_code(p, j);
    const size_t ksub = p->pq.ksub;
    float v = 0;
    for (int m = 0; m < p->pq.M; m++)
        v += p->sdc[((size_t)m * ksub + a[m]) * ksub + b[m]];
    return v;
}

static void pqs_prefetch(const vx_hnsw_store *s, uint32_t slot)
{
    __builtin_prefetch(pq_code((const pq_store *)s, slot), 0, 3);
}

static size_t pqs_memory(const vx_hnsw_store *s)
{
    const pq_store *p = (const pq_store *)s;
    size_t sdc = p->sdc ? (size_t)p->pq.M * p->pq.ksub * p->pq.ksub * sizeof(float) : 0;
    return sizeof *p + vx_pq_memory(&p->pq) + sdc + p->cap * p->pq.code_size;
}

static void pqs_clear(vx_hnsw_store *s)
{
    pq_store *p = (pq_store *)s;
    if (!s->borrowed)
        vx_free(p->codes);
    s->borrowed = false;
    p->codes = NULL;
    p->cap = 0;
}

static void pqs_destroy(vx_hnsw_store *s)
{
    if (!s)
        return;
    pq_store *p = (pq_store *)s;
    pqs_clear(s);
    vx_free(p->sdc);
    vx_pq_destroy(&p->pq);
    vx_free(p);
}

/* The symmetric table of a trained codec into sdc (M x ksub x ksub). */
static void fill_sdc(const vx_pq *pq, float *sdc)
{
    const size_t M = (size_t)pq->M, ksub = pq->ksub, dsub = pq->dsub;
    const vx_kernel_table *kt = vx_kernels();
    for (size_t m = 0; m < M; m++) {
        const float *cm = pq->centroids + m * ksub * dsub;
        for (size_t i = 0; i < ksub; i++)
            kt->l2sqr_ny(sdc + (m * ksub + i) * ksub, cm + i * dsub, cm, dsub, ksub);
    }
}

/* Learns the codebooks, then the symmetric table. All or nothing. */
static vindex_status pqs_train(vx_hnsw_store *s, size_t n, const float *x)
{
    pq_store *p = (pq_store *)s;
    const size_t M = (size_t)p->pq.M, ksub = p->pq.ksub;
    float *sdc = vx_alloc_big(M * ksub * ksub, sizeof *sdc);
    if (!sdc)
        return VINDEX_ERR_NOMEM;
    vindex_status st = vx_pq_train(&p->pq, n, x, "train");
    if (st) {
        vx_free(sdc);
        return st;
    }
    fill_sdc(&p->pq, sdc);
    vx_free(p->sdc);
    p->sdc = sdc;
    return VINDEX_OK;
}

/* Persistence (docs/FORMAT.md, "IndexHNSWPQ"): the PQ codec's shared sections
 * (PQCD, PQCB), then the codes by slot (HNPC); the symmetric table is
 * recomputed. */
#define TAG_HNSW_PQ_CODES VX_TAG('H', 'N', 'P', 'C')

static void pqs_write(const vx_hnsw_store *s, vx_writer *w, size_t n)
{
    const pq_store *p = (const pq_store *)s;
    vx_io_write_pq(w, &p->pq);
    vx_writer_array(w, TAG_HNSW_PQ_CODES, p->codes, n, p->pq.code_size);
}

/* Into the store made with a placeholder codec (M = 1): the codec read
 * replaces it. */
static vindex_status pqs_read(vx_hnsw_store *s, vx_reader *r, size_t n, bool mapped)
{
    pq_store *p = (pq_store *)s;
    vx_pq pq;
    vindex_status st = vx_io_read_pq(r, s->d, &pq, "IndexHNSWPQ");
    if (!st && (pq.nbits != 8 || !pq.centroids))
        st = vx_io_corrupt("IndexHNSWPQ: needs a trained 8-bit product quantizer (nbits %d)",
                           pq.nbits);
    float *sdc = NULL;
    if (!st && !(sdc = vx_alloc_big((size_t)pq.M * pq.ksub * pq.ksub, sizeof *sdc)))
        st = VINDEX_ERR_NOMEM;
    if (st) {
        vx_pq_destroy(&pq);
        return st;
    }
    fill_sdc(&pq, sdc);
    vx_pq_destroy(&p->pq);
    p->pq = pq;
    vx_free(p->sdc);
    p->sdc = sdc;
    bool in_place = false;
    void *codes;
    if ((st = vx_reader_array(r, TAG_HNSW_PQ_CODES, n, p->pq.code_size, &codes,
                              mapped ? &in_place : NULL)))
        return st;
    p->codes = codes;
    s->borrowed = in_place;
    p->cap = n;
    return VINDEX_OK;
}

static const vx_hnsw_store_ops pq_store_ops = {
    .name = "PQ", .reserve = pqs_reserve, .set = pqs_set, .get = pqs_get,
    .prepare = pqs_prepare, .dist_many = pqs_dist_many, .dist_one = pqs_dist_one,
    .dist_pair = pqs_dist_pair, .prefetch = pqs_prefetch, .memory = pqs_memory,
    .clear = pqs_clear, .destroy = pqs_destroy, .train = pqs_train,
    .family_tag = VX_FAMILY_HNSW_PQ, .write = pqs_write, .read = pqs_read};

vindex_status vx_hnsw_store_pq_new(int d, int pq_M, vx_hnsw_store **out)
{
    *out = NULL;
    pq_store *p = vx_calloc(1, sizeof *p);
    if (!p)
        return VINDEX_ERR_NOMEM;
    vindex_status st = vx_pq_init(&p->pq, d, pq_M, 8, "IndexHNSWPQ");
    if (st) {
        vx_free(p);
        return st;
    }
    p->base.ops = &pq_store_ops;
    p->base.d = d;
    p->base.metric = VINDEX_METRIC_L2;
    p->base.query_bytes =
        ((size_t)pq_M * p->pq.ksub + VX_PQ_TABLE_QB * (p->pq.dsub + 256)) * sizeof(float);
    *out = &p->base;
    return VINDEX_OK;
}

int vx_hnsw_store_pq_m(const vx_hnsw_store *s) { return (int)((const pq_store *)s)->pq.M; }
