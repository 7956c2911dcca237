/* Sketched coarse search (see ivf_coarse.h). */
#include "ivf_coarse.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../core/threads.h"
#include "../core/topk.h"
#include "../quant/transforms.h"
#include "../simd/kernels.h"
#include "bounded_knn.h"
#include "ivf.h"

enum {
    COARSE_MIN_D = 256,   /* below, the quantizer's own scan is cheap enough */
    COARSE_MIN_NLIST = 64,
    COARSE_DIMS = 64,
    SAMPLE_QUERIES = 16, /* batch queries searched before the sketches are judged */
    BLOCK_QUERIES = 32,  /* a batch's queries sketched and bounded together (BLAS) */
};

struct vx_ivf_coarse {
    size_t dims;
    float *proj;      /* dims x d, orthonormal rows */
    float *bias;      /* dims */
    float *centroids; /* nlist x d: the quantizer's, in rows (its own layout may be split) */
    float *sketches;  /* nlist x dims */
    float *snorms;    /* nlist: |sketch|^2 */
    /* The part of a vector the sketch misses, t = |(I - P)(x - mu)| (P the
     * projection, mu the centroids' mean, bias = -P mu): for each centroid a
     * range [lo, hi] that holds it despite float rounding. */
    float *mean;      /* d: mu */
    float *tail_lo, *tail_hi; /* nlist each */
};

void vx_ivf_coarse_free(vx_ivf *ivf)
{
    vx_ivf_coarse *c = ivf->coarse;
    if (!c)
        return;
    vx_free(c->proj);
    vx_free(c->bias);
    vx_free(c->centroids);
    vx_free(c->sketches);
    vx_free(c->snorms);
    vx_free(c->mean);
    vx_free(c->tail_lo);
    vx_free(c->tail_hi);
    vx_free(c);
    ivf->coarse = NULL;
}

size_t vx_ivf_coarse_memory(const vx_ivf *ivf)
{
    const vx_ivf_coarse *c = ivf->coarse;
    if (!c)
        return 0;
    const size_t d = (size_t)ivf->base.d;
    return sizeof *c + (c->dims * (d + 1) + d) * sizeof(float) +
           ivf->nlist * (d + c->dims + 3) * sizeof(float);
}

static bool applies(const vx_ivf *ivf)
{
    const vindex *q = ivf->quantizer;
    return q && q->metric == VINDEX_METRIC_L2 && !strcmp(q->ops->type_name, "IndexFlat") &&
           q->is_trained && (size_t)q->ntotal == ivf->nlist && ivf->nlist >= COARSE_MIN_NLIST &&
           ivf->base.d >= COARSE_MIN_D;
}

/* How far float rounding may move a tail's square, relative to |x - mu|^2:
 * the sketch's dot products of d terms and the two sums of squares. */
static float tail_margin(size_t d, size_t dims)
{
    return 4.0f * (float)(d + dims) * FLT_EPSILON;
}

/* With the trained projection: the centroids' mean, a bias that centres on
 * it (bias = -P mu, so that sketch(x) = P (x - mu) as the tails assume), the
 * centroids' sketches and norms, and their tails' ranges. */
static void sketch_centroids(vx_ivf_coarse *c, size_t d, size_t nlist, size_t dims)
{
    for (size_t t = 0; t < d; t++) {
        double sum = 0;
        for (size_t l = 0; l < nlist; l++)
            sum += c->centroids[l * d + t];
        c->mean[t] = (float)(sum / (double)nlist);
    }
    for (size_t r = 0; r < dims; r++) {
        double dot = 0;
        for (size_t t = 0; t < d; t++)
            dot += (double)c->proj[r * d + t] * c->mean[t];
        c->bias[r] = (float)-dot;
    }
    const vx_kernel_table *kt = vx_kernels();
    const double margin = tail_margin(d, dims);
    for (size_t l = 0; l < nlist; l++) {
        const float *cl = c->centroids + l * d, *sl = c->sketches + l * dims;
        vx_sketch(kt, c->proj, c->bias, d, dims, cl, c->sketches + l * dims);
        double all = 0, in = 0;
        for (size_t t = 0; t < d; t++)
            all += ((double)cl[t] - c->mean[t]) * ((double)cl[t] - c->mean[t]);
        for (size_t r = 0; r < dims; r++)
            in += (double)sl[r] * sl[r];
        vx_tail_range(all, in, margin * all, &c->tail_lo[l], &c->tail_hi[l]);
    }
    vx_norms_sqr(c->snorms, c->sketches, dims, nlist);
}

void vx_ivf_coarse_build(vx_ivf *ivf)
{
    vx_ivf_coarse_free(ivf);
    if (!applies(ivf))
        return;
    const size_t d = (size_t)ivf->base.d, nlist = ivf->nlist, dims = COARSE_DIMS;
    vx_ivf_coarse *c = vx_calloc(1, sizeof *c);
    vindex_transform *pca = NULL;
    bool ok = c && (c->proj = vx_alloc(dims, d * sizeof(float))) &&
              (c->bias = vx_alloc(dims, sizeof(float))) &&
              (c->centroids = vx_alloc(nlist, d * sizeof(float))) &&
              (c->sketches = vx_alloc(nlist, dims * sizeof(float))) &&
              (c->snorms = vx_alloc(nlist, sizeof(float))) &&
              (c->mean = vx_alloc(d, sizeof(float))) &&
              (c->tail_lo = vx_alloc(nlist, sizeof(float))) &&
              (c->tail_hi = vx_alloc(nlist, sizeof(float)));
    for (size_t l = 0; ok && l < nlist; l++)
        ok = vx_index_reconstruct(ivf->quantizer, (vindex_id)l, c->centroids + l * d) ==
             VINDEX_OK;
    /* the principal directions of the centroids: where they differ most */
    ok = ok && vindex_transform_pca_new(&pca, (int)d, (int)dims, 0.0f, 0) == VINDEX_OK &&
         vx_transform_train(pca, nlist, c->centroids) == VINDEX_OK &&
         vindex_transform_matrix(pca, c->proj, c->bias) == VINDEX_OK;
    if (ok)
        sketch_centroids(c, d, nlist, dims);
    vindex_transform_free(pca);
    if (!ok) {
        if (c) {
            ivf->coarse = c;
            vx_ivf_coarse_free(ivf);
        }
        vx_clear_error(); /* an optimisation that did not happen is no error */
        return;
    }
    c->dims = dims;
    ivf->coarse = c;
}

/* The most exact distances per query, on average over the first
 * SAMPLE_QUERIES of a batch, at which the sketches still beat the quantizer's
 * one BLAS product for the whole batch (nlist x d multiply-adds per query):
 * a sketch costs dims x (d + nlist) of them, and an exact distance d at
 * about a quarter of BLAS's speed per multiply-add (scattered centroids). */
static size_t exact_budget(size_t d, size_t nlist, size_t dims)
{
    size_t blas = nlist * d, fixed = dims * (d + nlist);
    return blas > fixed ? (blas - fixed) / (4 * d) : 0;
}

/* Per-thread scratch for a block of queries. */
typedef struct block_scratch {
    float *bound;      /* BLOCK_QUERIES x nlist */
    float *qs;         /* BLOCK_QUERIES x dims */
    float *best_bound; /* nprobe */
    vindex_id *best_pos;
} block_scratch;

static size_t scratch_floats(size_t nlist, size_t dims, size_t nprobe)
{
    /* best_bound, a float to align, best_pos (two floats each) */
    return BLOCK_QUERIES * (nlist + dims) + 3 * nprobe + 1;
}

static block_scratch scratch_at(float *base, size_t nlist, size_t dims, size_t nprobe)
{
    block_scratch b = {.bound = base, .qs = base + BLOCK_QUERIES * nlist};
    b.best_bound = b.qs + BLOCK_QUERIES * dims;
    b.best_pos = (vindex_id *)(void *)(b.best_bound + nprobe + (nprobe & 1));
    return b;
}

/* The sketches of nb queries and their bounds (squared sketch distances) to
 * every centroid: for one query the SIMD kernels; for several two BLAS
 * products, |qs|^2 + |cs|^2 - 2 <qs, cs>, lowered by a bound of that
 * expansion's rounding error (2 (dims + 2) eps (|qs|^2 + |cs|^2)) so that
 * they stay lower bounds within the slack that bounded_knn allows. */
static void block_bounds(const vx_ivf_coarse *c, const vx_kernel_table *kt, const float *x,
                         size_t nb, size_t d, size_t nlist, const block_scratch *b)
{
    const size_t dims = c->dims;
    if (nb == 1) {
        vx_sketch(kt, c->proj, c->bias, d, dims, x, b->qs);
        kt->l2sqr_ny(b->bound, b->qs, c->sketches, dims, nlist);
    } else {
        for (size_t i = 0; i < nb; i++)
            memcpy(b->qs + i * dims, c->bias, dims * sizeof(float));
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, (int)dims, (int)d, 1.0f,
                    x, (int)d, c->proj, (int)d, 1.0f, b->qs, (int)dims);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, (int)nlist, (int)dims,
                    -2.0f, b->qs, (int)dims, c->sketches, (int)dims, 0.0f, b->bound,
                    (int)nlist);
        const float keep = 1.0f - 2.0f * (float)(dims + 2) * FLT_EPSILON;
        for (size_t i = 0; i < nb; i++) {
            const float qn = kt->norm_sqr(b->qs + i * dims, dims);
            float *row = b->bound + i * nlist;
            for (size_t l = 0; l < nlist; l++)
                row[l] += (qn + c->snorms[l]) * keep;
        }
    }
    /* |q - c|^2 = |P(q - c)|^2 + |(I - P)(q - c)|^2, and the second is at
     * least (t_q - t_c)^2: the gap between the tails' ranges, squared */
    const float margin = tail_margin(d, dims);
    for (size_t i = 0; i < nb; i++) {
        const float all = kt->l2sqr(x + i * d, c->mean, d);
        float lo, hi;
        vx_tail_range(all, kt->norm_sqr(b->qs + i * dims, dims), margin * all, &lo, &hi);
        float *row = b->bound + i * nlist;
        for (size_t l = 0; l < nlist; l++) {
            float gap = fmaxf(fmaxf(lo - c->tail_hi[l], c->tail_lo[l] - hi), 0.0f);
            row[l] += gap * gap * (1 - 1e-6f);
        }
    }
}

/* The nprobe nearest lists of nb <= BLOCK_QUERIES queries; returns the number
 * of exact distances computed. */
static size_t search_block(const vx_ivf *ivf, const float *x, size_t nb, size_t nprobe,
                           float *cdis, vindex_id *cidx, const block_scratch *b)
{
    const vx_ivf_coarse *c = ivf->coarse;
    const vx_kernel_table *kt = vx_kernels();
    const size_t d = (size_t)ivf->base.d, nlist = ivf->nlist;
    size_t exact = 0;
    block_bounds(c, kt, x, nb, d, nlist, b);
    for (size_t i = 0; i < nb; i++) {
        float *dis = cdis + i * nprobe;
        vindex_id *idx = cidx + i * nprobe;
        vx_bound_segment seg = {.vecs = c->centroids, .stride = d, .ids = NULL, .n = nlist};
        vx_heap_init(dis, idx, nprobe);
        vx_bounded_knn s = vx_bounded_knn_for(kt, x + i * d, d, c->dims, nprobe, dis, idx);
        exact += vx_bounded_knn_run(&s, &seg, 1, b->bound + i * nlist, b->best_bound,
                                    b->best_pos);
        vx_topk_finish(dis, idx, nprobe, VINDEX_METRIC_L2);
    }
    return exact;
}

typedef struct coarse_job {
    const vx_ivf *ivf;
    const float *q; /* the queries after the sample */
    size_t nq, nprobe;
    float *cdis;
    vindex_id *cidx;
    float *scratch;
    size_t scratch_stride;
} coarse_job;

static void coarse_task(void *ctx, size_t task, int worker)
{
    coarse_job *j = ctx;
    const size_t d = (size_t)j->ivf->base.d, i0 = task * BLOCK_QUERIES;
    const size_t nb = j->nq - i0 < BLOCK_QUERIES ? j->nq - i0 : BLOCK_QUERIES;
    block_scratch b = scratch_at(j->scratch + (size_t)worker * j->scratch_stride,
                                 j->ivf->nlist, j->ivf->coarse->dims, j->nprobe);
    search_block(j->ivf, j->q + i0 * d, nb, j->nprobe, j->cdis + i0 * j->nprobe,
                 j->cidx + i0 * j->nprobe, &b);
}

size_t vx_ivf_coarse_search(const vx_ivf *ivf, size_t nq, const float *q, size_t nprobe,
                            float *cdis, vindex_id *cidx)
{
    const vx_ivf_coarse *c = ivf->coarse;
    if (!c || nq == 0 || (size_t)ivf->quantizer->ntotal != ivf->nlist) /* changed since */
        return 0;
    const size_t d = (size_t)ivf->base.d, nlist = ivf->nlist, dims = c->dims;
    const size_t budget = exact_budget(d, nlist, dims);
    const bool batch = nq > VX_IVF_COARSE_FEW;
    if (batch && budget == 0) /* BLAS wins whatever the bounds */
        return 0;
    const int nthreads = batch ? vx_num_threads() : 1;
    const size_t stride = (scratch_floats(nlist, dims, nprobe) + 15) / 16 * 16;
    float *scratch = vx_alloc((size_t)nthreads, stride * sizeof(float));
    if (!scratch)
        return 0;
    if (batch)
        vx_blas_single_thread(); /* block_bounds runs sgemm inside pool tasks */
    block_scratch b = scratch_at(scratch, nlist, dims, nprobe);
    size_t done = 0;
    if (!batch) { /* one at a time: the same lists alone or in a batch of few */
        for (; done < nq; done++)
            search_block(ivf, q + done * d, 1, nprobe, cdis + done * nprobe,
                         cidx + done * nprobe, &b);
    } else {
        /* the first queries judge the bounds on this data */
        done = SAMPLE_QUERIES < nq ? SAMPLE_QUERIES : nq;
        size_t exact = search_block(ivf, q, done, nprobe, cdis, cidx, &b);
        if (exact <= budget * done && done < nq) {
            coarse_job j = {ivf, q + done * d, nq - done, nprobe, cdis + done * nprobe,
                            cidx + done * nprobe, scratch, stride};
            vx_parallel_for((j.nq + BLOCK_QUERIES - 1) / BLOCK_QUERIES, nthreads, coarse_task,
                            &j);
            done = nq;
        }
    }
    vx_free(scratch);
    return done;
}
