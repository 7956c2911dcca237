/*
 * IndexIVFPQFastScan: IndexIVFPQ's codec (residual 4-bit PQ codes, its
 * training, precomputed L2 tables and float-table scanner; ivf_pq.h) with
 * each list's codes kept in blocks of 32 (quant/fastscan.h) and scanned by
 * the fast-scan kernels.
 *
 * Per (query, list) the scanner builds the list's float table, quantizes it
 * to bytes with its own scale, and scores whole blocks: score = bias + sum /
 * scale. Scales differ between lists, but scores are floats in the same
 * units, so the core's heap compares them across lists. For L2 the table is
 * computed from the residual r = x - c, entry |c_mj|^2 - 2 <r_m, c_mj> with
 * the coarse distance |x - c|^2 as bias (the residual kernel,
 * fastscan_kernels.h): that is IVFPQ's precomputed table plus the query's
 * table, the same sum, but 16 d multiply-adds on codebooks that stay in
 * cache cost less than reading the list's precomputed table (M x 16 floats,
 * 25 KB at M 392) from memory, which dominated the scan on Fashion-MNIST
 * (measured: 61 -> 50 us per query, IVF1024,PQ392x4fs nprobe 8). The
 * precomputed tables are then unused. For inner product the table is
 * IVFPQ's (the query's, the same for every list).
 *
 * The distances returned are these approximate scores, as Faiss's; wrap the
 * index in IndexRefineFlat for exact ones.
 */
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../io/registry.h"
#include "../quant/fastscan.h"
#include "../simd/kernels.h"
#include "ivf_pq.h"

typedef struct fs_scanner {
    void *inner;   /* IVFPQ's float-table scanner */
    uint8_t *lut;  /* code_size x 32 */
    uint32_t *sums; /* VX_IVF_SCAN_BLOCK */
    float *mins;    /* M: LUT scratch */
    float *table;   /* M x 16: a list's float table (residual tables) */
    const vx_fs_kernel_table *kt;
    const vx_kernel_table *fkt; /* float kernels: the coarse distance */
    const ivfpq_codec *c;
    const float *query;
    bool residual; /* L2 tables from the residual (see the top of the file) */
    size_t code_size;
    int M;
    float bias, scale;
} fs_scanner;

static size_t header_bytes(void) { return (sizeof(fs_scanner) + 63) / 64 * 64; }

static size_t table_bytes(const vx_pq *pq) { return ((size_t)pq->M * 16 * sizeof(float) + 63) / 64 * 64; }

static void fs_scanner_init(const vx_ivf *ivf, void *scanner)
{
    fs_scanner *s = scanner;
    const ivfpq_codec *c = ivf->codec;
    const vx_pq *pq = &c->pq;
    char *at = (char *)scanner + header_bytes();
    s->inner = at;
    at += (vx_ivfpq_scanner_bytes(pq) + 63) / 64 * 64;
    s->lut = (uint8_t *)at;
    at += (pq->code_size * 32 + 63) / 64 * 64;
    s->sums = (uint32_t *)(void *)at;
    at += VX_IVF_SCAN_BLOCK * sizeof(uint32_t);
    s->table = (float *)(void *)at;
    at += table_bytes(pq);
    s->mins = (float *)(void *)at;
    s->kt = vx_fs_kernels();
    s->fkt = vx_kernels();
    s->c = c;
    s->query = NULL;
    s->residual = ivf->base.metric == VINDEX_METRIC_L2 && pq->ctrans && c->centroids;
    s->code_size = pq->code_size;
    s->M = pq->M;
    vx_ivfpq_scanner_init(ivf, s->inner);
}

static size_t fs_scanner_bytes(const vx_pq *pq)
{
    return header_bytes() + (vx_ivfpq_scanner_bytes(pq) + 63) / 64 * 64 +
           (pq->code_size * 32 + 63) / 64 * 64 + VX_IVF_SCAN_BLOCK * sizeof(uint32_t) +
           table_bytes(pq) + (size_t)pq->M * sizeof(float);
}

static void fs_set_query(void *scanner, const float *query)
{
    fs_scanner *s = scanner;
    s->query = query;
    if (!s->residual) /* the residual tables need no query table */
        vx_ivfpq_set_query(s->inner, query);
}

static void fs_set_list(void *scanner, int64_t list, float coarse_score)
{
    fs_scanner *s = scanner;
    float bias, lut_bias;
    if (s->residual) {
        const vx_pq *pq = &s->c->pq;
        const size_t d = (size_t)pq->d;
        const float *cl = s->c->centroids + (size_t)list * d;
        (void)coarse_score; /* recomputed, as IVFPQ's scanner does */
        bias = s->fkt->l2sqr(s->query, cl, d);
        s->kt->residual_table(s->table, s->query, cl, pq->ctrans, pq->cnorms, (size_t)s->M,
                              pq->dsub);
        s->scale = s->kt->quantize_lut(s->table, NULL, (size_t)s->M, s->lut, &lut_bias, s->mins);
        s->bias = bias + lut_bias;
        return;
    }
    vx_ivfpq_set_list(s->inner, list, coarse_score);
    const float *second, *first = vx_ivfpq_list_terms(s->inner, &second, &bias);
    s->scale = s->kt->quantize_lut(first, second, (size_t)s->M, s->lut, &lut_bias, s->mins);
    s->bias = bias + lut_bias;
}

static void fs_prefetch(void *scanner, int64_t list, const uint8_t *codes, size_t bytes)
{
    fs_scanner *s = scanner;
    if (s->residual) { /* the list's centroid */
        const size_t d = (size_t)s->c->pq.d;
        const char *cl = (const char *)(s->c->centroids + (size_t)list * d);
        for (size_t b = 0; b < d * sizeof(float); b += 64)
            __builtin_prefetch(cl + b);
    } else {
        vx_ivfpq_prefetch_list(s->inner, list);
    }
    for (size_t b = 0; b < bytes; b += 64)
        __builtin_prefetch(codes + b);
}

static void fs_scores(void *scanner, size_t n, const uint8_t *codes, float *out)
{
    fs_scanner *s = scanner;
    vx_fs_scores(s->kt, s->lut, s->code_size, s->bias, s->scale, codes, n, s->sums, out);
}

static void fs_get_code(const uint8_t *list_codes, size_t code_size, size_t slot, uint8_t *code)
{
    vx_fs_get(list_codes, code_size, slot, code);
}

static void fs_put_code(uint8_t *list_codes, size_t code_size, size_t slot, const uint8_t *code)
{
    vx_fs_put(list_codes, code_size, slot, code);
}

/* ---- persistence: the IVF core's sections with the codec's (FSPQ, FSCB) --- */

static vindex_status fs_write_codec(const vx_ivf *ivf, vx_writer *w)
{
    const ivfpq_codec *c = ivf->codec;
    vx_fs_write_codec(w, &c->pq, (uint32_t)c->use_precomputed);
    return vx_writer_status(w);
}

static vindex_status fs_make(vx_reader *r, const vx_io_index_header *h, vindex *quantizer,
                             size_t nlist, vindex **out)
{
    const char *what = "IndexIVFPQFastScan";
    vx_pq pq;
    uint32_t use_pre;
    float *cb;
    vindex_status st = vx_fs_read_codec(r, h->d, h->is_trained, &pq, &use_pre, &cb, what);
    if (!st && h->is_trained &&
        (!quantizer->is_trained || (size_t)quantizer->ntotal != nlist))
        st = vx_io_corrupt("%s: a trained index whose quantizer holds %lld centroids for nlist "
                           "%zu", what, (long long)quantizer->ntotal, nlist);
    if (!st)
        st = vindex_ivfpq_fastscan_new(out, quantizer, h->d, nlist, pq.M, 4, h->metric);
    if (!st) {
        vx_ivf *ivf = (vx_ivf *)*out;
        ivfpq_codec *c = ivf->codec;
        c->use_precomputed = (int)use_pre;
        c->pq.cp = pq.cp;
        if (cb && (st = vx_ivfpq_restore(ivf, cb))) {
            ivf->quantizer = NULL; /* the caller still owns it on failure */
            vindex_free(*out);
            *out = NULL;
        }
    }
    vx_pq_destroy(&pq);
    vx_free(cb);
    return st;
}

vindex_status vx_ivfpqfs_read(vx_reader *r, const vx_io_index_header *h, vindex **out)
{
    return vx_ivf_read(r, h, fs_make, out);
}

static const vx_index_ops ivfpqfs_ops = {
    .type_name = "IndexIVFPQFastScan", .train = vx_ivf_train, .add = vx_ivf_add,
    .supports_ids = true, .search = vx_ivf_search,
    .reconstruct = vx_ivf_reconstruct, .remove_ids = vx_ivf_remove_ids,
    .reset = vx_ivf_reset, .destroy = vx_ivf_destroy, .memory_bytes = vx_ivf_memory,
    .set_param = vx_ivfpq_set_param, .get_param = vx_ivfpq_get_param, .write = vx_ivf_write,
};

static const vx_ivf_family ivfpqfs_family = {
    .ops = &ivfpqfs_ops,
    .train_codec = vx_ivfpq_train_codec,
    /* the 16-centroid k-means sample 4,096 points each: assigning 16,384
     * training vectors to lists (not all: 60,000 x 1,024 centroids on
     * Fashion-MNIST) leaves them a choice */
    .train_codec_max = 16384,
    .encode = vx_ivfpq_encode,
    .decode = vx_ivfpq_decode,
    .scanner_init = fs_scanner_init,
    .set_query = fs_set_query,
    .set_list = fs_set_list,
    .scores = fs_scores,
    .prefetch = fs_prefetch,
    .codec_equal = vx_ivfpq_codec_equal,
    .destroy_codec = vx_ivfpq_destroy_codec,
    .codec_memory = vx_ivfpq_codec_memory,
    .block = VX_FS_BLOCK,
    .get_code = fs_get_code,
    .put_code = fs_put_code,
    .io_tag = VX_FAMILY_IVFPQ_FASTSCAN,
    .write_codec = fs_write_codec,
};

VINDEX_API vindex_status vindex_ivfpq_fastscan_new(vindex **out, vindex *quantizer, int d,
                                                   size_t nlist, int M, int nbits,
                                                   vindex_metric metric)
{
    vx_clear_error();
    const char *what = "IndexIVFPQFastScan";
    vindex_status st = vx_check_new_args(out, d, metric, what);
    if (st || (st = vx_fs_check_nbits(nbits, what)))
        return st;
    if ((st = vx_ivfpq_make(out, quantizer, d, nlist, M, nbits, metric, &ivfpqfs_family)))
        return st;
    vx_ivf *ivf = (vx_ivf *)*out;
    ivfpq_codec *c = ivf->codec;
    ivf->scanner_bytes = fs_scanner_bytes(&c->pq);
    return VINDEX_OK;
}
