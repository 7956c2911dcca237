/*
 * IndexIVFFlat: the IVF family whose codes are the vectors themselves
 * (d float32, 4d bytes), so distances are exact and reconstruct returns what
 * was added. Scoring runs on the SIMD kernels: l2sqr_ny for one query against a
 * run of codes, l2sqr_tile for several queries against a list (each code is
 * loaded once per four queries). The two give bit-identical scores, so batch
 * and single-query searches agree exactly.
 */
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../io/registry.h"
#include "../simd/kernels.h"
#include "ivf.h"

typedef struct flat_scanner {
    const float *query;
    size_t d;
    bool ip;
    const vx_kernel_table *kt;
} flat_scanner;

static void ivf_flat_encode(const vx_ivf *ivf, size_t n, const float *x, const int64_t *lists,
                            uint8_t *codes)
{
    (void)lists;
    memcpy(codes, x, n * ivf->code_size);
}

static void ivf_flat_decode(const vx_ivf *ivf, int64_t list, const uint8_t *code, float *out)
{
    (void)list;
    memcpy(out, code, ivf->code_size);
}

static void ivf_flat_scanner_init(const vx_ivf *ivf, void *scanner)
{
    flat_scanner *s = scanner;
    s->query = NULL;
    s->d = (size_t)ivf->base.d;
    s->ip = ivf->base.metric == VINDEX_METRIC_INNER_PRODUCT;
    s->kt = vx_kernels();
}

static void ivf_flat_set_query(void *scanner, const float *query)
{
    ((flat_scanner *)scanner)->query = query;
}

static void ivf_flat_set_list(void *scanner, int64_t list, float coarse_score)
{
    (void)scanner;
    (void)list;
    (void)coarse_score;
}

static void ivf_flat_scores(void *scanner, size_t n, const uint8_t *codes, float *out)
{
    const flat_scanner *s = scanner;
    const float *y = (const float *)(const void *)codes;
    if (!s->ip) {
        s->kt->l2sqr_ny(out, s->query, y, s->d, n);
        return;
    }
    s->kt->inner_product_ny(out, s->query, y, s->d, n);
    for (size_t j = 0; j < n; j++)
        out[j] = -out[j];
}

static void ivf_flat_score_tile(const vx_ivf *ivf, int64_t list, const float *q, size_t nq,
                                const uint8_t *codes, size_t n, float *out)
{
    (void)list;
    const float *y = (const float *)(const void *)codes;
    const size_t d = (size_t)ivf->base.d;
    if (ivf->base.metric == VINDEX_METRIC_L2) {
        vx_kernels()->l2sqr_tile(out, q, nq, y, d, n);
        return;
    }
    vx_kernels()->inner_product_tile(out, q, nq, y, d, n);
    for (size_t j = 0; j < nq * n; j++)
        out[j] = -out[j];
}

static const vx_index_ops ivf_flat_ops = VX_IVF_OPS("IndexIVFFlat");

static const vx_ivf_family ivf_flat_family = {
    .ops = &ivf_flat_ops,
    .encode = ivf_flat_encode,
    .decode = ivf_flat_decode,
    .scanner_init = ivf_flat_scanner_init,
    .set_query = ivf_flat_set_query,
    .set_list = ivf_flat_set_list,
    .scores = ivf_flat_scores,
    .score_tile = ivf_flat_score_tile,
    .io_tag = VX_FAMILY_IVF_FLAT,
};

/* No codec state: the IVF core's sections are the whole index. */
static vindex_status ivf_flat_make(vx_reader *r, const vx_io_index_header *h, vindex *quantizer,
                                   size_t nlist, vindex **out)
{
    (void)r;
    return vindex_ivf_flat_new(out, quantizer, h->d, nlist, h->metric);
}

vindex_status vx_ivf_flat_read(vx_reader *r, const vx_io_index_header *h, vindex **out)
{
    return vx_ivf_read(r, h, ivf_flat_make, out);
}

VINDEX_API vindex_status vindex_ivf_flat_new(vindex **out, vindex *quantizer, int d,
                                             size_t nlist, vindex_metric metric)
{
    vx_clear_error();
    vindex_status st = vx_check_new_args(out, d, metric, "IndexIVFFlat");
    if (st)
        return st;
    vx_ivf *ivf = vx_calloc(1, sizeof *ivf);
    if (!ivf)
        return VINDEX_ERR_NOMEM;
    if ((st = vx_ivf_init(ivf, &ivf_flat_family, quantizer, d, nlist, metric))) {
        vx_free(ivf->lists);
        vx_free(ivf);
        return st;
    }
    ivf->code_size = (size_t)d * sizeof(float);
    ivf->scanner_bytes = sizeof(flat_scanner);
    *out = &ivf->base;
    return VINDEX_OK;
}
