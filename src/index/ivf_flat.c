/*
 * IndexIVFFlat: the IVF family whose codes are the vectors themselves, so
 * distances are exact and reconstruct returns what was added. Scoring runs on
 * the SIMD kernels: l2sqr_ny for one query against a run of codes, l2sqr_tile
 * for several queries against a list (each code is loaded once per four
 * queries). The two give bit-identical scores, so batch and single-query
 * searches agree exactly.
 *
 * Sketches (L2, d >= 256). A query alone reads whole lists: at nprobe 8 on
 * Fashion-MNIST that is ~580 vectors, 1.8 MB, and the time goes to moving
 * those bytes, not to arithmetic. So each code also carries a sketch: the
 * vector's projection on the p leading principal directions of the training
 * residuals (p ~ d/6). Projections on orthonormal directions shorten
 * distances, |P(q - x)|^2 <= |q - x|^2, so the sketch distance is a lower
 * bound of the true one. search_probed scores all sketches of the probed lists
 * first (p floats per vector), computes exact distances for the k best
 * sketches to get a tight heap, then reads the full vector only of the codes
 * whose bound does not exclude them: about a quarter of them on Fashion-MNIST,
 * where the residuals' leading 128 directions hold 70% of their variance.
 * The result is the exact k-NN of the probed lists, as a full scan gives
 * (bounded_knn.h). The lists to probe come from the core's sketched coarse
 * search (ivf_coarse.h).
 *
 * A code is [x: d floats | sketch: p floats]; p is fixed at construction so
 * that the code size never changes (vx_ivf_flat_sketch_dims overrides the
 * choice, for tests and experiments).
 */
#include <cblas.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../core/threads.h"
#include "../core/topk.h"
#include "../io/format.h"
#include "../io/registry.h"
#include "../quant/transforms.h"
#include "../simd/kernels.h"
#include "bounded_knn.h"
#include "ivf.h"
#include "ivf_flat.h"

int vx_ivf_flat_sketch_dims = -1; /* ivf_flat.h */

enum {
    SKETCH_MIN_D = 256,       /* below, vectors are small enough to read whole */
    SKETCH_MAX_DIMS = 256,
    SKETCH_TRAIN_POINTS = 4096, /* residuals sampled for the principal directions */
};

typedef struct flat_codec {
    size_t p;    /* sketch dimensions; 0: no sketches */
    float *proj; /* p x d, orthonormal rows (valid once trained) */
    float *bias; /* p: -proj * mean, so sketches are centred (any bias works) */
    bool trained;
} flat_codec;

static size_t sketch_dims_for(int d, vindex_metric metric)
{
    if (vx_ivf_flat_sketch_dims >= 0) {
        size_t p = ((size_t)vx_ivf_flat_sketch_dims + 15) / 16 * 16;
        return p > (size_t)d ? (size_t)d : p;
    }
    if (metric != VINDEX_METRIC_L2 || d < SKETCH_MIN_D)
        return 0;
    size_t p = (size_t)d / 6 / 16 * 16;
    return p > SKETCH_MAX_DIMS ? SKETCH_MAX_DIMS : p;
}

static const flat_codec *codec_of(const vx_ivf *ivf) { return ivf->codec; }

/* Floats per code: the vector, then its sketch. */
static size_t code_floats(const vx_ivf *ivf) { return ivf->code_size / sizeof(float); }

typedef struct flat_scanner {
    const float *query;
    size_t d, ldy;
    bool ip;
    const vx_kernel_table *kt;
} flat_scanner;

/* Sketches of n vectors into rows of ldo floats: out_i = proj x_i + bias. */
static void sketch_rows(const flat_codec *c, int d, size_t n, const float *x, float *out,
                        size_t ldo)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)c->p, d, 1.0f, x, d,
                c->proj, d, 0.0f, out, (int)ldo);
    for (size_t i = 0; i < n; i++)
        for (size_t r = 0; r < c->p; r++)
            out[i * ldo + r] += c->bias[r];
}

static void ivf_flat_encode(const vx_ivf *ivf, size_t n, const float *x, const int64_t *lists,
                            uint8_t *codes)
{
    (void)lists;
    const flat_codec *c = codec_of(ivf);
    const size_t d = (size_t)ivf->base.d, cf = code_floats(ivf);
    float *out = (float *)(void *)codes;
    if (!c->p) {
        memcpy(codes, x, n * ivf->code_size);
        return;
    }
    for (size_t i = 0; i < n; i++)
        memcpy(out + i * cf, x + i * d, d * sizeof(float));
    vx_blas_single_thread();
    sketch_rows(c, (int)d, n, x, out + d, cf);
}

static void ivf_flat_decode(const vx_ivf *ivf, int64_t list, const uint8_t *code, float *out)
{
    (void)list;
    memcpy(out, code, (size_t)ivf->base.d * sizeof(float));
}

static void ivf_flat_scanner_init(const vx_ivf *ivf, void *scanner)
{
    flat_scanner *s = scanner;
    s->query = NULL;
    s->d = (size_t)ivf->base.d;
    s->ldy = code_floats(ivf);
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
        s->kt->l2sqr_ny_strided(out, s->query, y, s->d, s->ldy, n);
        return;
    }
    s->kt->inner_product_ny_strided(out, s->query, y, s->d, s->ldy, n);
    for (size_t j = 0; j < n; j++)
        out[j] = -out[j];
}

static void ivf_flat_score_tile(const vx_ivf *ivf, int64_t list, const float *q, size_t nq,
                                const uint8_t *codes, size_t n, float *out)
{
    (void)list;
    const float *y = (const float *)(const void *)codes;
    const size_t d = (size_t)ivf->base.d, ldy = code_floats(ivf);
    if (ivf->base.metric == VINDEX_METRIC_L2) {
        vx_kernels()->l2sqr_tile_strided(out, q, nq, y, d, ldy, n);
        return;
    }
    vx_kernels()->inner_product_tile_strided(out, q, nq, y, d, ldy, n);
    for (size_t j = 0; j < nq * n; j++)
        out[j] = -out[j];
}

/* ---- sketches: training and the single-query search ---------------------- */

/* The leading principal directions of the residuals (x - its centroid) of an
 * even sample of the training vectors. */
static vindex_status ivf_flat_train_codec(vx_ivf *ivf, size_t n, const float *x,
                                          const int64_t *lists)
{
    flat_codec *c = ivf->codec;
    if (!c->p)
        return VINDEX_OK;
    const size_t d = (size_t)ivf->base.d, p = c->p;
    const size_t m = n; /* at most SKETCH_TRAIN_POINTS (train_codec_max) */
    float *res = vx_alloc(m + 1, d * sizeof(float));
    float *proj = vx_calloc(p, d * sizeof(float));
    float *bias = vx_calloc(p, sizeof(float));
    vindex_transform *pca = NULL;
    vindex_status st = VINDEX_OK;
    if (!res || !proj || !bias) {
        st = VINDEX_ERR_NOMEM;
        goto done;
    }
    if (m < 2) { /* too few for directions: the first p coordinates bound as well */
        for (size_t r = 0; r < p; r++)
            proj[r * d + r] = 1.0f;
    } else {
        float *centroid = res + m * d;
        for (size_t i = 0; i < m && !st; i++) {
            st = vx_index_reconstruct(ivf->quantizer, lists[i], centroid);
            for (size_t t = 0; t < d; t++)
                res[i * d + t] = x[i * d + t] - centroid[t];
        }
        if (!st)
            st = vindex_transform_pca_new(&pca, (int)d, (int)p, 0.0f, 0);
        if (!st)
            st = vx_transform_train(pca, m, res);
        if (!st)
            st = vindex_transform_matrix(pca, proj, bias);
    }
    if (!st) {
        vx_free(c->proj);
        vx_free(c->bias);
        c->proj = proj;
        c->bias = bias;
        proj = bias = NULL;
        c->trained = true;
    }
done:
    vindex_transform_free(pca);
    vx_free(res);
    vx_free(proj);
    vx_free(bias);
    return st;
}

static bool ivf_flat_probed_applies(const vx_ivf *ivf)
{
    const flat_codec *c = codec_of(ivf);
    return c->p > 0 && c->trained;
}

/* One query's probed lists, split into groups of lists that threads search
 * into heaps of their own (merged at the end: the k best by (score, id) do not
 * depend on the split). */
typedef struct probed_job {
    const vx_ivf *ivf;
    const vx_kernel_table *kt;
    const float *q, *qs; /* the query and its sketch */
    size_t k, p;
    const vindex_selector *sel;
    const vx_bound_segment *seg; /* the non-empty probed lists */
    const size_t *pos;           /* each segment's first position in bound */
    const size_t *group;         /* segments group[g] .. group[g + 1] - 1 */
    float *bound;                /* all positions */
    float *heap_d, *best_bound;  /* k per group */
    vindex_id *heap_i, *best_pos;
} probed_job;

static void probed_group(void *ctx, size_t g, int worker)
{
    (void)worker;
    const probed_job *j = ctx;
    const size_t s0 = j->group[g], s1 = j->group[g + 1], k = j->k;
    const size_t d = (size_t)j->ivf->base.d;
    for (size_t t = s0; t < s1; t++)
        j->kt->l2sqr_ny_strided(j->bound + j->pos[t], j->qs, j->seg[t].vecs + d, j->p,
                                j->seg[t].stride, j->seg[t].n);
    float *hd = j->heap_d + g * k;
    vindex_id *hi = j->heap_i + g * k;
    vx_heap_init(hd, hi, k);
    vx_bounded_knn s = vx_bounded_knn_for(j->kt, j->q, d, j->p, k, hd, hi);
    s.sel = j->sel;
    vx_bounded_knn_run(&s, j->seg + s0, s1 - s0, j->bound + j->pos[s0], j->best_bound + g * k,
                       j->best_pos + g * k);
}

enum { PROBED_MIN_PER_THREAD = 512 }; /* codes worth a thread */

static bool ivf_flat_search_probed(const vx_ivf *ivf, const float *q, size_t nprobe,
                                   const vindex_id *lists, size_t k, const vindex_selector *sel,
                                   float *hd, vindex_id *hi)
{
    const flat_codec *c = codec_of(ivf);
    if (!c->p || !c->trained)
        return false;
    const size_t d = (size_t)ivf->base.d, ldy = code_floats(ivf);
    size_t total = 0, nseg = 0;
    for (size_t r = 0; r < nprobe; r++)
        if (lists[r] >= 0 && ivf->lists[lists[r]].n) {
            total += ivf->lists[lists[r]].n;
            nseg++;
        }
    if (total == 0)
        return true;
    size_t ngroups = (size_t)vx_num_threads();
    if (ngroups > nseg)
        ngroups = nseg;
    if (ngroups > total / PROBED_MIN_PER_THREAD)
        ngroups = total / PROBED_MIN_PER_THREAD ? total / PROBED_MIN_PER_THREAD : 1;
    /* bounds of every code, the query's sketch, per group two heaps of k */
    float *fbuf = vx_alloc(total + c->p + 2 * ngroups * k, sizeof(float));
    vindex_id *ibuf = vx_alloc(2 * ngroups * k, sizeof(vindex_id));
    vx_bound_segment *seg = vx_alloc(nseg, sizeof *seg);
    size_t *pos = vx_alloc(2 * nseg + ngroups + 1, sizeof(size_t));
    if (!fbuf || !ibuf || !seg || !pos) {
        vx_free(fbuf);
        vx_free(ibuf);
        vx_free(seg);
        vx_free(pos);
        return false;
    }
    probed_job j = {.ivf = ivf, .kt = vx_kernels(), .q = q, .k = k, .p = c->p, .sel = sel,
                    .seg = seg, .pos = pos, .group = pos + nseg, .bound = fbuf,
                    .heap_d = fbuf + total + c->p, .heap_i = ibuf};
    j.best_bound = j.heap_d + ngroups * k;
    j.best_pos = ibuf + ngroups * k;
    float *qs = fbuf + total;
    vx_sketch(j.kt, c->proj, c->bias, d, c->p, q, qs);
    j.qs = qs;
    size_t at = 0, t = 0;
    for (size_t r = 0; r < nprobe; r++) {
        if (lists[r] < 0 || ivf->lists[lists[r]].n == 0)
            continue;
        const vx_ivf_list *L = &ivf->lists[lists[r]];
        seg[t] = (vx_bound_segment){.vecs = (const float *)(const void *)L->codes,
                                    .stride = ldy, .ids = L->ids, .n = L->n};
        pos[t++] = at;
        at += L->n;
    }
    /* groups of consecutive lists holding about total / ngroups codes each */
    size_t *group = pos + nseg, g = 0;
    group[0] = 0;
    for (t = 0; t + 1 < nseg && g + 1 < ngroups; t++) /* no empty last group */
        if (pos[t] + seg[t].n >= (g + 1) * total / ngroups)
            group[++g] = t + 1;
    ngroups = g + 1;
    group[ngroups] = nseg;
    vx_parallel_for(ngroups, vx_num_threads(), probed_group, &j);
    for (g = 0; g < ngroups; g++)
        vx_heap_merge(hd, hi, k, j.heap_d + g * k, j.heap_i + g * k);
    vx_free(fbuf);
    vx_free(ibuf);
    vx_free(seg);
    vx_free(pos);
    return true;
}

/* ---- codec lifecycle ----------------------------------------------------- */

static bool ivf_flat_codec_equal(const vx_ivf *a, const vx_ivf *b)
{
    const flat_codec *ca = codec_of(a), *cb = codec_of(b);
    if (ca->p != cb->p || ca->trained != cb->trained)
        return false;
    if (!ca->p || !ca->trained)
        return true;
    const size_t d = (size_t)a->base.d;
    return !memcmp(ca->proj, cb->proj, ca->p * d * sizeof(float)) &&
           !memcmp(ca->bias, cb->bias, ca->p * sizeof(float));
}

static void ivf_flat_destroy_codec(vx_ivf *ivf)
{
    flat_codec *c = ivf->codec;
    if (!c)
        return;
    vx_free(c->proj);
    vx_free(c->bias);
    vx_free(c);
    ivf->codec = NULL;
}

static size_t ivf_flat_codec_memory(const vx_ivf *ivf)
{
    const flat_codec *c = codec_of(ivf);
    return sizeof *c + (c->trained ? c->p * ((size_t)ivf->base.d + 1) * sizeof(float) : 0);
}

/* ---- persistence: FLSK (p, trained), then SKPR (p x d) and SKBI (p) when
 * trained with p > 0 ------------------------------------------------------- */

#define TAG_SKETCH VX_TAG('F', 'L', 'S', 'K')
#define TAG_SKETCH_PROJ VX_TAG('S', 'K', 'P', 'R')
#define TAG_SKETCH_BIAS VX_TAG('S', 'K', 'B', 'I')

static vindex_status ivf_flat_write_codec(const vx_ivf *ivf, vx_writer *w)
{
    const flat_codec *c = codec_of(ivf);
    vx_writer_begin(w, TAG_SKETCH);
    vx_writer_u64(w, c->p);
    vx_writer_u32(w, c->trained);
    vx_writer_end(w);
    if (c->p && c->trained) {
        vx_writer_array(w, TAG_SKETCH_PROJ, c->proj, c->p * (size_t)ivf->base.d, sizeof(float));
        vx_writer_array(w, TAG_SKETCH_BIAS, c->bias, c->p, sizeof(float));
    }
    return vx_writer_status(w);
}

static const vx_index_ops ivf_flat_ops = VX_IVF_OPS("IndexIVFFlat");

static const vx_ivf_family ivf_flat_family = {
    .ops = &ivf_flat_ops,
    .train_codec = ivf_flat_train_codec,
    .train_codec_max = SKETCH_TRAIN_POINTS,
    .encode = ivf_flat_encode,
    .decode = ivf_flat_decode,
    .scanner_init = ivf_flat_scanner_init,
    .set_query = ivf_flat_set_query,
    .set_list = ivf_flat_set_list,
    .scores = ivf_flat_scores,
    .score_tile = ivf_flat_score_tile,
    .probed_applies = ivf_flat_probed_applies,
    .search_probed = ivf_flat_search_probed,
    .codec_equal = ivf_flat_codec_equal,
    .destroy_codec = ivf_flat_destroy_codec,
    .codec_memory = ivf_flat_codec_memory,
    .io_tag = VX_FAMILY_IVF_FLAT,
    .write_codec = ivf_flat_write_codec,
};

static vindex_status ivf_flat_create(vindex **out, vindex *quantizer, int d, size_t nlist,
                                     vindex_metric metric, size_t sketch_dims)
{
    vx_ivf *ivf = vx_calloc(1, sizeof *ivf);
    flat_codec *c = vx_calloc(1, sizeof *c);
    vindex_status st = ivf && c ? VINDEX_OK : VINDEX_ERR_NOMEM;
    if (!st)
        st = vx_ivf_init(ivf, &ivf_flat_family, quantizer, d, nlist, metric);
    if (st) {
        if (ivf)
            vx_free(ivf->lists);
        vx_free(ivf);
        vx_free(c);
        return st;
    }
    c->p = sketch_dims;
    ivf->codec = c;
    if (sketch_dims && ivf->base.is_trained) {
        /* Trained already (the quantizer holds nlist centroids), so vectors
         * may be added before any train(): sketch them by their first p
         * coordinates, a valid if weaker bound, until a train() finds better. */
        c->proj = vx_calloc(sketch_dims, (size_t)d * sizeof(float));
        c->bias = vx_calloc(sketch_dims, sizeof(float));
        if (!c->proj || !c->bias) {
            ivf->quantizer = NULL; /* the caller keeps it */
            vx_ivf_destroy(&ivf->base);
            return VINDEX_ERR_NOMEM;
        }
        for (size_t r = 0; r < sketch_dims; r++)
            c->proj[r * (size_t)d + r] = 1.0f;
        c->trained = true;
    }
    ivf->code_size = ((size_t)d + sketch_dims) * sizeof(float);
    ivf->scanner_bytes = sizeof(flat_scanner);
    *out = &ivf->base;
    return VINDEX_OK;
}

static vindex_status ivf_flat_make(vx_reader *r, const vx_io_index_header *h, vindex *quantizer,
                                   size_t nlist, vindex **out)
{
    vx_cursor cur;
    uint64_t p;
    uint32_t trained;
    vindex_status st;
    if ((st = vx_reader_section(r, TAG_SKETCH, &cur)) || (st = vx_cursor_u64(&cur, &p)) ||
        (st = vx_cursor_u32(&cur, &trained)) || (st = vx_cursor_done(&cur)))
        return st;
    if (p > (uint64_t)h->d || trained > 1 || (p && h->is_trained && !trained))
        return vx_io_corrupt("IndexIVFFlat: sketch of %llu dimensions (trained %u) for d = %d",
                             (unsigned long long)p, trained, h->d);
    float *proj = NULL, *bias = NULL;
    if (p && trained &&
        ((st = vx_reader_array(r, TAG_SKETCH_PROJ, (size_t)p * (size_t)h->d, sizeof(float),
                               (void **)&proj, NULL)) ||
         (st = vx_reader_array(r, TAG_SKETCH_BIAS, (size_t)p, sizeof(float), (void **)&bias,
                               NULL)))) {
        vx_free(proj);
        return st;
    }
    if ((st = ivf_flat_create(out, quantizer, h->d, nlist, h->metric, (size_t)p))) {
        vx_free(proj);
        vx_free(bias);
        return st;
    }
    flat_codec *c = ((vx_ivf *)*out)->codec;
    vx_free(c->proj);
    vx_free(c->bias);
    c->proj = proj;
    c->bias = bias;
    c->trained = p && trained;
    return VINDEX_OK;
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
    return ivf_flat_create(out, quantizer, d, nlist, metric, sketch_dims_for(d, metric));
}
