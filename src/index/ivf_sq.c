/*
 * IndexIVFScalarQuantizer: the IVF family whose lists hold scalar-quantizer
 * codes of residuals (vector minus its list's centroid), as Faiss with
 * by_residual = true. Residuals are small and centred, so the ranges learned
 * on them are tighter than on the raw vectors and the same bits buy a smaller
 * error.
 *
 * The codec keeps its own copy of the centroids (taken from the coarse
 * quantizer when the codec is trained), so that encoding and scanning need no
 * call into the quantizer. Scoring, per (query, list):
 *   L2: |q - c - r^|^2: the query is prepared against q - c once per list
 *       (d operations), then the kernels run on the codes;
 *   IP: <q, c> + <q, r^>: the query is prepared once, <q, c> added per list.
 * Plugs into the generic core (ivf.c) through the scanner interface only.
 */
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../io/codecs.h"
#include "../io/registry.h"
#include "../quant/sq.h"
#include "../simd/kernels.h"
#include "ivf.h"
#include "sq_index.h"

typedef struct ivfsq_codec {
    vx_sq sq;
    float *centroids; /* nlist x d once trained */
} ivfsq_codec;

typedef struct ivfsq_scanner {
    const ivfsq_codec *cc;
    const vx_sq_kernel_table *kt;
    const vx_kernel_table *fkt;
    vindex_metric metric;
    size_t d;
    const float *query;
    vx_sq_query sqq;
    float ip_bias;
    float qbuf[]; /* d floats */
} ivfsq_scanner;

static const vx_index_ops ivf_sq_ops;

static vindex_status ivfsq_train_codec(vx_ivf *ivf, size_t n, const float *x,
                                       const int64_t *lists)
{
    ivfsq_codec *cc = ivf->codec;
    const size_t d = (size_t)ivf->base.d;
    float *cent = NULL;
    float *res = vx_sq_type_needs_training(cc->sq.type) ? vx_alloc(n, d * sizeof(float)) : NULL;
    vindex_status st = VINDEX_OK;
    if (vx_sq_type_needs_training(cc->sq.type) && !res) {
        st = VINDEX_ERR_NOMEM;
        goto done;
    }
    if ((st = vx_ivf_copy_centroids(ivf, &cent)))
        goto done;
    if (res) {
        for (size_t i = 0; i < n; i++) {
            const float *c = cent + (size_t)lists[i] * d;
            for (size_t t = 0; t < d; t++)
                res[i * d + t] = x[i * d + t] - c[t];
        }
        if ((st = vx_sq_train(&cc->sq, n, res)))
            goto done;
    }
    vx_free(cc->centroids);
    cc->centroids = cent;
    cent = NULL;
done:
    vx_free(cent);
    vx_free(res);
    return st;
}

static void ivfsq_encode(const vx_ivf *ivf, size_t n, const float *x, const int64_t *lists,
                         uint8_t *codes)
{
    const ivfsq_codec *cc = ivf->codec;
    const size_t d = (size_t)ivf->base.d, cs = ivf->code_size;
    for (size_t i = 0; i < n; i++)
        vx_sq_encode(&cc->sq, 1, x + i * d, cc->centroids + (size_t)lists[i] * d, codes + i * cs);
}

static void ivfsq_decode(const vx_ivf *ivf, int64_t list, const uint8_t *code, float *out)
{
    const ivfsq_codec *cc = ivf->codec;
    vx_sq_decode(&cc->sq, 1, code, cc->centroids + (size_t)list * (size_t)ivf->base.d, out);
}

static void ivfsq_scanner_init(const vx_ivf *ivf, void *scanner)
{
    ivfsq_scanner *s = scanner;
    s->cc = ivf->codec;
    s->kt = vx_sq_kernels();
    s->fkt = vx_kernels();
    s->metric = ivf->base.metric;
    s->d = (size_t)ivf->base.d;
    s->query = NULL;
    s->ip_bias = 0;
}

static void ivfsq_set_query(void *scanner, const float *query)
{
    ivfsq_scanner *s = scanner;
    s->query = query;
    if (s->metric == VINDEX_METRIC_INNER_PRODUCT)
        vx_sq_query_prepare(&s->sqq, &s->cc->sq, s->kt, s->metric, query, NULL, s->qbuf);
}

static void ivfsq_set_list(void *scanner, int64_t list, float coarse_score)
{
    (void)coarse_score; /* recomputed: the quantizer's metric may differ */
    ivfsq_scanner *s = scanner;
    const float *c = s->cc->centroids + (size_t)list * s->d;
    if (s->metric == VINDEX_METRIC_INNER_PRODUCT)
        s->ip_bias = s->fkt->inner_product(s->query, c, s->d);
    else
        vx_sq_query_prepare(&s->sqq, &s->cc->sq, s->kt, s->metric, s->query, c, s->qbuf);
}

static void ivfsq_scores(void *scanner, size_t n, const uint8_t *codes, float *out)
{
    const ivfsq_scanner *s = scanner;
    vx_sq_query_scores(&s->sqq, codes, n, s->ip_bias, out);
}

static bool ivfsq_codec_equal(const vx_ivf *a, const vx_ivf *b)
{
    const ivfsq_codec *ca = a->codec, *cb = b->codec;
    return vx_sq_equal(&ca->sq, &cb->sq);
}

static void ivfsq_destroy_codec(vx_ivf *ivf)
{
    ivfsq_codec *cc = ivf->codec;
    if (!cc)
        return;
    vx_sq_free(&cc->sq);
    vx_free(cc->centroids);
    vx_free(cc);
    ivf->codec = NULL;
}

static size_t ivfsq_codec_memory(const vx_ivf *ivf)
{
    const ivfsq_codec *cc = ivf->codec;
    return sizeof *cc + vx_sq_memory(&cc->sq) +
           (cc->centroids ? ivf->nlist * (size_t)ivf->base.d * sizeof(float) : 0);
}

static const vx_index_ops ivf_sq_ops = VX_IVF_OPS("IndexIVFScalarQuantizer");

/* ---- persistence (docs/FORMAT.md, "IndexIVFScalarQuantizer") -------------- */

/* The SQ codec sections; the coarse centroids are rebuilt on reading. */
static vindex_status ivfsq_write_codec(const vx_ivf *ivf, vx_writer *w)
{
    vx_io_write_sq(w, &((const ivfsq_codec *)ivf->codec)->sq);
    return vx_writer_status(w);
}

static vindex_status ivfsq_make(vx_reader *r, const vx_io_index_header *h, vindex *quantizer,
                                size_t nlist, vindex **out)
{
    vx_sq sq;
    vindex_status st = vx_io_read_sq(r, h->d, &sq, "IndexIVFScalarQuantizer");
    if (!st && vx_sq_type_needs_training(sq.type) && sq.trained != h->is_trained)
        st = vx_io_corrupt("IndexIVFScalarQuantizer: ranges trained %d, index trained %d",
                           (int)sq.trained, (int)h->is_trained);
    if (!st)
        st = vindex_ivfsq_new(out, quantizer, h->d, nlist, sq.type, h->metric);
    if (st) {
        vx_sq_free(&sq);
        return st;
    }
    vx_ivf *ivf = (vx_ivf *)*out;
    ivfsq_codec *cc = ivf->codec;
    vx_sq_free(&cc->sq);
    cc->sq = sq;
    if (h->is_trained) {
        if ((st = vx_ivf_copy_centroids(ivf, &cc->centroids))) {
            ivf->quantizer = NULL; /* stays the caller's */
            vindex_free(*out);
            *out = NULL;
            return st;
        }
        ivf->base.is_trained = true;
    }
    return VINDEX_OK;
}

vindex_status vx_ivf_sq_read(vx_reader *r, const vx_io_index_header *h, vindex **out)
{
    return vx_ivf_read(r, h, ivfsq_make, out);
}

static const vx_ivf_family ivf_sq_family = {
    .ops = &ivf_sq_ops,
    .train_codec = ivfsq_train_codec,
    .encode = ivfsq_encode,
    .decode = ivfsq_decode,
    .scanner_init = ivfsq_scanner_init,
    .set_query = ivfsq_set_query,
    .set_list = ivfsq_set_list,
    .scores = ivfsq_scores,
    .codec_equal = ivfsq_codec_equal,
    .destroy_codec = ivfsq_destroy_codec,
    .codec_memory = ivfsq_codec_memory,
    .io_tag = VX_FAMILY_IVF_SQ,
    .write_codec = ivfsq_write_codec,
};

bool vx_ivf_sq_type(const vindex *ix, vindex_sq_type *type)
{
    if (!ix || ix->ops != &ivf_sq_ops)
        return false;
    *type = ((const ivfsq_codec *)((const vx_ivf *)ix)->codec)->sq.type;
    return true;
}

VINDEX_API vindex_status vindex_ivfsq_new(vindex **out, vindex *quantizer, int d, size_t nlist,
                                          vindex_sq_type type, vindex_metric metric)
{
    vx_clear_error();
    vindex_status st = vx_check_new_args(out, d, metric, "IndexIVFScalarQuantizer");
    if (st)
        return st;
    if (!vx_sq_type_valid(type))
        return vx_fail(VINDEX_ERR_INVALID,
                       "IndexIVFScalarQuantizer: unknown quantizer type %d (0 8bit, 1 4bit, "
                       "2 8bit_uniform, 3 fp16, 4 bf16)",
                       (int)type);
    vx_ivf *ivf = vx_calloc(1, sizeof *ivf);
    ivfsq_codec *cc = vx_calloc(1, sizeof *cc);
    if (!ivf || !cc || vx_sq_init(&cc->sq, type, d)) {
        if (cc)
            vx_sq_free(&cc->sq);
        vx_free(cc);
        vx_free(ivf);
        return VINDEX_ERR_NOMEM;
    }
    if ((st = vx_ivf_init(ivf, &ivf_sq_family, quantizer, d, nlist, metric))) {
        vx_sq_free(&cc->sq);
        vx_free(cc);
        vx_free(ivf->lists);
        vx_free(ivf);
        return st;
    }
    ivf->codec = cc;
    ivf->code_size = cc->sq.code_size;
    ivf->scanner_bytes = sizeof(ivfsq_scanner) + (size_t)d * sizeof(float);
    /* Always trained by train(), as Faiss: the codec needs the centroids (and,
     * for the integer types, ranges learned on the residuals). */
    ivf->base.is_trained = false;
    *out = &ivf->base;
    return VINDEX_OK;
}
