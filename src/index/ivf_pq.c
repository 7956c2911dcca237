/*
 * IndexIVFPQ: the IVF family whose codes are product-quantization codes of the
 * residuals r = x - c (c the centroid of x's list), as Faiss with by_residual.
 *
 * Distances (the scanner). With y = c + r the decoded vector:
 *
 *   L2:  |x - y|^2 = |x - c|^2  +  (|r|^2 + 2 <c, r>)  -  2 <x, r>
 *                    coarse        depends on the list    depends on the query
 *                    distance      only: precomputed      only: one table per
 *                                  at train time          query
 *
 *   and r's terms split over the M sub-spaces, so a list's table is the sum
 *   of the precomputed M x ksub table of that list and the query's table, and
 *   a code's distance is the coarse distance plus M lookups (Faiss:
 *   use_precomputed_table = 1). Without the precomputed tables (set
 *   use_precomputed_table = 0, or when they would exceed 2 GiB, Faiss's limit)
 *   each visited list gets the table of the residual x - c.
 *
 *   IP:  <x, y> = <x, c> + <x, r>: the coarse score plus lookups in the
 *   query's table, the same for every list.
 *
 * Encoding runs inside the core's add tasks, so it uses vx_pq_encode_one
 * (no allocation). The coarse centroids are copied into the codec at train
 * time for encoding, decoding and the tables.
 */
#include <math.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../core/threads.h"
#include "../io/codecs.h"
#include "../io/registry.h"
#include "../quant/pq.h"
#include "../simd/kernels.h"
#include "ivf.h"
#include "ivf_pq.h"

/* A list's table is built when a block has at least ksub / DIRECT_FACTOR
 * codes; smaller blocks are scored from the precomputed and query tables
 * directly (measured on IVF1024,PQ56: lists of ~60 codes). */
#define DIRECT_FACTOR 2

/* Faiss's precomputed_table_max_bytes */
#define PRECOMPUTED_MAX_BYTES ((size_t)1 << 31)

static ivfpq_codec *codec_of(const vx_ivf *ivf) { return ivf->codec; }

/* ---- precomputed tables ------------------------------------------------- */

typedef struct pre_job {
    const vx_ivf *ivf;
    float *table;
} pre_job;

/* table[l][m][c] = |r_mc|^2 + 2 <c_l sub-vector m, r_mc> */
static void precompute_task(void *ctx, size_t l, int worker)
{
    (void)worker;
    pre_job *j = ctx;
    const ivfpq_codec *c = codec_of(j->ivf);
    const vx_pq *pq = &c->pq;
    const size_t ksub = pq->ksub, dsub = pq->dsub, d = (size_t)pq->d;
    const vx_kernel_table *kt = vx_kernels();
    for (size_t m = 0; m < (size_t)pq->M; m++) {
        float *t = j->table + (l * (size_t)pq->M + m) * ksub;
        kt->inner_product_ny(t, c->centroids + l * d + m * dsub,
                             pq->centroids + m * ksub * dsub, dsub, ksub);
        const float *nrm = pq->cnorms + m * ksub;
        for (size_t e = 0; e < ksub; e++)
            t[e] = nrm[e] + 2.0f * t[e];
    }
}

static bool precomputed_fits(const vx_ivf *ivf, size_t *floats)
{
    const vx_pq *pq = &codec_of(ivf)->pq;
    size_t n;
    if (!vx_mul_ok(ivf->nlist, (size_t)pq->M * pq->ksub, &n) ||
        n > PRECOMPUTED_MAX_BYTES / sizeof(float))
        return false;
    *floats = n;
    return true;
}

/* Builds the precomputed tables when they are wanted and missing. */
static vindex_status build_precomputed(vx_ivf *ivf)
{
    ivfpq_codec *c = codec_of(ivf);
    size_t floats;
    if (ivf->base.metric != VINDEX_METRIC_L2 || !c->use_precomputed || c->precomputed ||
        !c->pq.trained)
        return VINDEX_OK;
    if (!precomputed_fits(ivf, &floats)) {
        vx_log(1, "IndexIVFPQ: precomputed tables for nlist %zu x M %d x %zu would exceed "
               "2 GiB; residual tables are computed per list instead",
               ivf->nlist, c->pq.M, c->pq.ksub);
        return VINDEX_OK;
    }
    float *t = vx_alloc_big(floats, sizeof(float));
    if (!t)
        return vx_fail(VINDEX_ERR_NOMEM, "IndexIVFPQ: out of memory for %zu precomputed table "
                       "entries", floats);
    pre_job j = {ivf, t};
    vx_parallel_for(ivf->nlist, vx_num_threads(), precompute_task, &j);
    c->precomputed = t;
    return VINDEX_OK;
}

/* Installs trained codebooks in the codec of a new index whose quantizer
 * holds its nlist centroids (a file being read), as training would leave it:
 * the coarse centroids copied, the precomputed tables built. */
vindex_status vx_ivfpq_restore(vx_ivf *ivf, const float *codebooks)
{
    ivfpq_codec *c = codec_of(ivf);
    float *cent = NULL;
    vindex_status st = vx_ivf_copy_centroids(ivf, &cent);
    if (!st && codebooks) /* NULL: the codec's own, already installed */
        st = vx_pq_set_centroids(&c->pq, codebooks);
    if (st) {
        vx_free(cent);
        return st;
    }
    vx_free(c->centroids);
    c->centroids = cent;
    if ((st = build_precomputed(ivf)))
        return st;
    ivf->base.is_trained = true;
    return VINDEX_OK;
}

/* ---- train, encode, decode ---------------------------------------------- */

vindex_status vx_ivfpq_train_codec(vx_ivf *ivf, size_t n, const float *x,
                                       const int64_t *lists)
{
    ivfpq_codec *c = codec_of(ivf);
    const size_t d = (size_t)ivf->base.d;
    vindex_status st;
    if (n < c->pq.ksub)
        return vx_fail(VINDEX_ERR_INVALID,
                       "train: %zu training vectors are too few: PQ with nbits = %d trains %zu "
                       "centroids per sub-quantizer and needs at least %zu training vectors",
                       n, c->pq.nbits, c->pq.ksub, c->pq.ksub);
    float *cent = NULL;
    float *res = vx_alloc_big(n, d * sizeof(float));
    if (!res) {
        st = VINDEX_ERR_NOMEM;
        goto done;
    }
    if ((st = vx_ivf_copy_centroids(ivf, &cent)))
        goto done;
    for (size_t i = 0; i < n; i++) {
        const float *ci = cent + (size_t)lists[i] * d;
        for (size_t t = 0; t < d; t++)
            res[i * d + t] = x[i * d + t] - ci[t];
    }
    if ((st = vx_pq_train(&c->pq, n, res, "train")))
        goto done;
    vx_free(c->centroids);
    c->centroids = cent;
    cent = NULL;
    vx_free(c->precomputed);
    c->precomputed = NULL;
    st = build_precomputed(ivf);
done:
    vx_free(cent);
    vx_free(res);
    return st;
}

void vx_ivfpq_encode(const vx_ivf *ivf, size_t n, const float *x, const int64_t *lists,
                         uint8_t *codes)
{
    const ivfpq_codec *c = codec_of(ivf);
    const size_t d = (size_t)ivf->base.d, cs = c->pq.code_size;
    for (size_t i = 0; i < n; i++)
        vx_pq_encode_one(&c->pq, x + i * d, c->centroids + (size_t)lists[i] * d, codes + i * cs);
}

void vx_ivfpq_decode(const vx_ivf *ivf, int64_t list, const uint8_t *code, float *out)
{
    const ivfpq_codec *c = codec_of(ivf);
    const size_t d = (size_t)ivf->base.d;
    vx_pq_decode(&c->pq, 1, code, out);
    const float *cl = c->centroids + (size_t)list * d;
    for (size_t t = 0; t < d; t++)
        out[t] += cl[t];
}

/* ---- scanner ------------------------------------------------------------ */

typedef struct pq_scanner {
    const vx_ivf *ivf;
    const ivfpq_codec *c;
    const float *query;
    bool l2, precomp;
    float bias;          /* added to every code's lookups: the coarse term */
    const float *table;  /* the table scores come from (NULL: not built yet) */
    const float *pre;    /* the list's precomputed table */
    float *qtable;       /* M x ksub: the query's term */
    float *ltable;       /* M x ksub: the list's table */
    float *scratch;      /* VX_PQ_TABLE_QB x (dsub + 256) */
    float *res;          /* d: the residual (no precomputed tables) */
} pq_scanner;

static size_t scanner_floats(const vx_pq *pq)
{
    return 2 * (size_t)pq->M * pq->ksub + VX_PQ_TABLE_QB * (pq->dsub + 256) + (size_t)pq->d;
}

size_t vx_ivfpq_scanner_bytes(const vx_pq *pq)
{
    return (sizeof(pq_scanner) + 63) / 64 * 64 + scanner_floats(pq) * sizeof(float);
}

void vx_ivfpq_scanner_init(const vx_ivf *ivf, void *scanner)
{
    pq_scanner *s = scanner;
    const ivfpq_codec *c = codec_of(ivf);
    const size_t tf = (size_t)c->pq.M * c->pq.ksub;
    float *f = (float *)(void *)((char *)scanner + (sizeof *s + 63) / 64 * 64);
    s->ivf = ivf;
    s->c = c;
    s->query = NULL;
    s->l2 = ivf->base.metric == VINDEX_METRIC_L2;
    s->precomp = s->l2 && c->precomputed;
    s->bias = 0;
    s->qtable = f;
    s->ltable = f + tf;
    s->scratch = f + 2 * tf;
    s->res = s->scratch + VX_PQ_TABLE_QB * (c->pq.dsub + 256);
    s->table = s->qtable;
}

void vx_ivfpq_set_query(void *scanner, const float *query)
{
    pq_scanner *s = scanner;
    const vx_pq *pq = &s->c->pq;
    s->query = query;
    if (s->l2 && !s->precomp)
        return; /* tables per list */
    if (!s->l2) { /* -<x, r>: heap scores */
        vx_pq_tables(pq, 1, query, VINDEX_METRIC_INNER_PRODUCT, true, s->qtable, s->scratch);
        return;
    }
    /* -2 <x, r> */
    vx_pq_tables(pq, 1, query, VINDEX_METRIC_INNER_PRODUCT, false, s->qtable, s->scratch);
    const size_t tf = (size_t)pq->M * pq->ksub;
    for (size_t e = 0; e < tf; e++)
        s->qtable[e] *= -2.0f;
}

void vx_ivfpq_set_list(void *scanner, int64_t list, float coarse_score)
{
    pq_scanner *s = scanner;
    const vx_pq *pq = &s->c->pq;
    const size_t tf = (size_t)pq->M * pq->ksub, d = (size_t)pq->d;
    /* The coarse term is recomputed here rather than taken from coarse_score:
     * the quantizer computes it through BLAS for batches and exactly for
     * single queries, and a query must get the same distances either way. */
    (void)coarse_score;
    const float *cl = s->c->centroids + (size_t)list * d;
    if (!s->l2) {
        s->bias = -vx_kernels()->inner_product(s->query, cl, d); /* -<x, c> */
        s->table = s->qtable;
        return;
    }
    if (s->precomp) {
        /* the list's table is built lazily, in scores(): short lists are
         * cheaper to score from the two tables directly */
        s->pre = s->c->precomputed + (size_t)list * tf;
        s->table = NULL;
        s->bias = vx_kernels()->l2sqr(s->query, cl, d); /* |x - c|^2 */
        return;
    }
    for (size_t t = 0; t < d; t++)
        s->res[t] = s->query[t] - cl[t];
    vx_pq_tables(pq, 1, s->res, VINDEX_METRIC_L2, true, s->ltable, s->scratch);
    s->bias = 0;
    s->table = s->ltable;
}

void vx_ivfpq_scores(void *scanner, size_t n, const uint8_t *codes, float *out)
{
    pq_scanner *s = scanner;
    const vx_pq *pq = &s->c->pq;
    if (!s->table) {
        /* precomputed tables: building the list's table costs M * ksub adds;
         * scoring a code from the two tables costs M extra lookups and adds.
         * The entry pre + q is the same float either way, summed in the
         * same order, so both give the same bits. */
        const size_t tf = (size_t)pq->M * pq->ksub;
        if (n * DIRECT_FACTOR < pq->ksub) {
            const size_t ksub = pq->ksub, cs = pq->code_size;
            for (size_t j = 0; j < n; j++) {
                const uint8_t *code = codes + j * cs;
                float acc = 0;
                for (int m = 0; m < pq->M; m++) {
                    size_t e = (size_t)m * ksub + vx_pq_get(code, cs, pq->nbits, m);
                    acc += s->pre[e] + s->qtable[e];
                }
                out[j] = acc + s->bias;
            }
            return;
        }
        for (size_t e = 0; e < tf; e++)
            s->ltable[e] = s->pre[e] + s->qtable[e];
        s->table = s->ltable;
    }
    vx_pq_scan(pq, s->table, n, codes, out);
    if (s->bias != 0)
        for (size_t j = 0; j < n; j++)
            out[j] += s->bias;
}

const float *vx_ivfpq_list_terms(void *scanner, const float **second, float *bias)
{
    pq_scanner *s = scanner;
    *bias = s->bias;
    *second = s->table ? NULL : s->qtable;
    return s->table ? s->table : s->pre;
}

void vx_ivfpq_prefetch_list(void *scanner, int64_t list)
{
    const pq_scanner *s = scanner;
    const size_t d = (size_t)s->c->pq.d, tf = (size_t)s->c->pq.M * s->c->pq.ksub;
    const char *cl = (const char *)(s->c->centroids + (size_t)list * d);
    for (size_t b = 0; b < d * sizeof(float); b += 64)
        __builtin_prefetch(cl + b);
    if (s->precomp) {
        const char *pre = (const char *)(s->c->precomputed + (size_t)list * tf);
        for (size_t b = 0; b < tf * sizeof(float); b += 64)
            __builtin_prefetch(pre + b);
    }
}

/* ---- codec bookkeeping -------------------------------------------------- */

bool vx_ivfpq_codec_equal(const vx_ivf *a, const vx_ivf *b)
{
    const vx_pq *pa = &codec_of(a)->pq, *pb = &codec_of(b)->pq;
    if (pa->M != pb->M || pa->nbits != pb->nbits || !pa->trained || !pb->trained)
        return false;
    return memcmp(pa->centroids, pb->centroids,
                  (size_t)pa->M * pa->ksub * pa->dsub * sizeof(float)) == 0;
}

void vx_ivfpq_destroy_codec(vx_ivf *ivf)
{
    ivfpq_codec *c = codec_of(ivf);
    if (!c)
        return;
    vx_pq_destroy(&c->pq);
    vx_free(c->centroids);
    vx_free(c->precomputed);
    vx_free(c);
    ivf->codec = NULL;
}

size_t vx_ivfpq_codec_memory(const vx_ivf *ivf)
{
    const ivfpq_codec *c = codec_of(ivf);
    size_t bytes = sizeof *c + vx_pq_memory(&c->pq);
    if (c->centroids)
        bytes += ivf->nlist * (size_t)ivf->base.d * sizeof(float);
    if (c->precomputed)
        bytes += ivf->nlist * (size_t)c->pq.M * c->pq.ksub * sizeof(float);
    return bytes;
}

/* ---- parameters --------------------------------------------------------- */

vindex_status vx_ivfpq_set_param(vindex *ix, const char *name, double value)
{
    vx_ivf *ivf = (vx_ivf *)ix;
    ivfpq_codec *c = codec_of(ivf);
    if (!strcmp(name, "use_precomputed_table")) {
        if (value != 0 && value != 1)
            return vx_fail(VINDEX_ERR_INVALID,
                           "set_param: use_precomputed_table must be 0 or 1 (got %g)", value);
        c->use_precomputed = (int)value;
        if (!c->use_precomputed) {
            vx_free(c->precomputed);
            c->precomputed = NULL;
            return VINDEX_OK;
        }
        return build_precomputed(ivf);
    }
    if (!strncmp(name, "pq.", 3)) {
        vindex_status st = vx_pq_set_cp_param(&c->pq, name, value);
        if (st != VINDEX_ERR_NOT_FOUND)
            return st;
    }
    return vx_ivf_set_param(ix, name, value);
}

vindex_status vx_ivfpq_get_param(const vindex *ix, const char *name, double *value)
{
    const vx_ivf *ivf = (const vx_ivf *)ix;
    const ivfpq_codec *c = codec_of(ivf);
    if (!strcmp(name, "use_precomputed_table")) {
        /* what searches use: 1 only when the tables exist (L2, trained, fitting) */
        *value = c->precomputed ? 1 : c->use_precomputed && !c->pq.trained &&
                                          ix->metric == VINDEX_METRIC_L2;
        return VINDEX_OK;
    }
    if (!strncmp(name, "pq.", 3)) {
        vindex_status st = vx_pq_get_cp_param(&c->pq, name, value);
        if (st != VINDEX_ERR_NOT_FOUND)
            return st;
    }
    return vx_ivf_get_param(ix, name, value);
}

/* ---- persistence (docs/FORMAT.md, "IndexIVFPQ") --------------------------- */

#define TAG_IVFPQ_META VX_TAG('I', 'P', 'Q', 'M')

static const vx_ivf_family ivfpq_family;

/* The PQ codec sections, then use_precomputed_table. The coarse centroids and
 * the precomputed tables are derived state, rebuilt on reading. */
vindex_status vx_ivfpq_write_codec(const vx_ivf *ivf, vx_writer *w)
{
    const ivfpq_codec *c = codec_of(ivf);
    vx_io_write_pq(w, &c->pq);
    vx_writer_begin(w, TAG_IVFPQ_META);
    vx_writer_u32(w, (uint32_t)c->use_precomputed);
    vx_writer_end(w);
    return vx_writer_status(w);
}

vindex_status vx_ivfpq_read_codec(vx_reader *r, const vx_io_index_header *h, vindex *quantizer,
                                  size_t nlist, const vx_ivf_family *fam, vindex **out)
{
    const char *what = fam->ops->type_name;
    vx_pq pq;
    vx_cursor cur;
    uint32_t use_pre = 0;
    vindex_status st = vx_io_read_pq(r, h->d, &pq, what);
    if (!st && !(st = vx_reader_section(r, TAG_IVFPQ_META, &cur)) &&
        !(st = vx_cursor_u32(&cur, &use_pre)) && !(st = vx_cursor_done(&cur)) &&
        (use_pre > 1 || pq.trained != h->is_trained))
        st = vx_io_corrupt("%s: use_precomputed_table %u, PQ trained %d, index trained %d",
                           what, use_pre, (int)pq.trained, (int)h->is_trained);
    if (!st)
        st = vx_ivfpq_make(out, quantizer, h->d, nlist, pq.M, pq.nbits, h->metric, fam);
    if (st) {
        vx_pq_destroy(&pq);
        return st;
    }
    vx_ivf *ivf = (vx_ivf *)*out;
    ivfpq_codec *c = codec_of(ivf);
    vx_pq_destroy(&c->pq);
    c->pq = pq;
    c->use_precomputed = (int)use_pre;
    if (h->is_trained)
        st = vx_ivfpq_restore(ivf, NULL);
    if (st) { /* the quantizer stays the caller's */
        ivf->quantizer = NULL;
        vindex_free(*out);
        *out = NULL;
    }
    return st;
}

static vindex_status ivfpq_make(vx_reader *r, const vx_io_index_header *h, vindex *quantizer,
                                size_t nlist, vindex **out)
{
    return vx_ivfpq_read_codec(r, h, quantizer, nlist, &ivfpq_family, out);
}

vindex_status vx_ivf_pq_read(vx_reader *r, const vx_io_index_header *h, vindex **out)
{
    return vx_ivf_read(r, h, ivfpq_make, out);
}

static const vx_index_ops ivfpq_ops = {
    .type_name = "IndexIVFPQ", .train = vx_ivf_train, .add = vx_ivf_add, .supports_ids = true,
    .search = vx_ivf_search, .range_search = vx_ivf_range_search,
    .reconstruct = vx_ivf_reconstruct, .remove_ids = vx_ivf_remove_ids,
    .reset = vx_ivf_reset, .destroy = vx_ivf_destroy, .memory_bytes = vx_ivf_memory,
    .set_param = vx_ivfpq_set_param, .get_param = vx_ivfpq_get_param, .write = vx_ivf_write,
};

static const vx_ivf_family ivfpq_family = {
    .ops = &ivfpq_ops,
    .train_codec = vx_ivfpq_train_codec,
    .encode = vx_ivfpq_encode,
    .decode = vx_ivfpq_decode,
    .scanner_init = vx_ivfpq_scanner_init,
    .set_query = vx_ivfpq_set_query,
    .set_list = vx_ivfpq_set_list,
    .scores = vx_ivfpq_scores,
    .codec_equal = vx_ivfpq_codec_equal,
    .destroy_codec = vx_ivfpq_destroy_codec,
    .codec_memory = vx_ivfpq_codec_memory,
    .io_tag = VX_FAMILY_IVF_PQ,
    .write_codec = vx_ivfpq_write_codec,
};

vindex_status vx_ivfpq_make(vindex **out, vindex *quantizer, int d, size_t nlist, int M,
                           int nbits, vindex_metric metric, const vx_ivf_family *fam)
{
    const char *what = fam->ops->type_name;
    vx_pq pq;
    vindex_status st = vx_pq_init(&pq, d, M, nbits, what);
    if (st)
        return st;
    size_t tf;
    if (!vx_mul_ok((size_t)M, pq.ksub, &tf) || tf > (SIZE_MAX / 4 - (size_t)d) / 4)
        return vx_fail(VINDEX_ERR_INVALID, "%s: M %d x 2^%d table entries overflow", what, M,
                       nbits);
    vx_ivf *ivf = vx_calloc(1, sizeof *ivf);
    ivfpq_codec *c = vx_calloc(1, sizeof *c);
    if (!ivf || !c) {
        vx_free(ivf);
        vx_free(c);
        return VINDEX_ERR_NOMEM;
    }
    if ((st = vx_ivf_init(ivf, fam, quantizer, d, nlist, metric))) {
        vx_free(ivf->lists);
        vx_free(ivf);
        vx_free(c);
        return st;
    }
    c->pq = pq;
    c->use_precomputed = 1;
    ivf->codec = c;
    ivf->base.is_trained = false; /* the PQ needs training even with a trained quantizer */
    ivf->code_size = pq.code_size;
    ivf->scanner_bytes = vx_ivfpq_scanner_bytes(&pq);
    *out = &ivf->base;
    return VINDEX_OK;
}

VINDEX_API vindex_status vindex_ivfpq_new(vindex **out, vindex *quantizer, int d, size_t nlist,
                                          int M, int nbits, vindex_metric metric)
{
    vx_clear_error();
    vindex_status st = vx_check_new_args(out, d, metric, "IndexIVFPQ");
    if (st)
        return st;
    return vx_ivfpq_make(out, quantizer, d, nlist, M, nbits, metric, &ivfpq_family);
}

/* ---- the codec of a PQ index -------------------------------------------- */

VINDEX_API vindex_status vindex_pq_codec_of(vindex *ix, vindex_pq_codec **out)
{
    vx_clear_error();
    if (!ix || !out)
        return vx_fail(VINDEX_ERR_INVALID, "pq_codec_of: %s is NULL", ix ? "out" : "index");
    vx_pq *pq = vx_pq_index_codec(ix);
    if (!pq)
        pq = vx_pqfs_index_codec(ix);
    if (!pq && ix->ops->train == vx_ivf_train &&
        ((vx_ivf *)ix)->fam->train_codec == vx_ivfpq_train_codec) /* IVFPQ, fast-scan too */
        pq = &codec_of((vx_ivf *)ix)->pq;
    if (!pq)
        return vx_fail(VINDEX_ERR_UNSUPPORTED, "pq_codec_of: %s has no product quantizer",
                       ix->ops->type_name);
    /* struct vindex_pq_codec is { vx_pq pq; } (pq.c): the codec starts with it */
    *out = (vindex_pq_codec *)(void *)pq;
    return VINDEX_OK;
}
