/* Sketched coarse search for a few queries (see ivf_coarse.h). */
#include "ivf_coarse.h"

#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
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
};

struct vx_ivf_coarse {
    size_t dims;
    float *proj;      /* dims x d, orthonormal rows */
    float *bias;      /* dims */
    float *centroids; /* nlist x d: the quantizer's, in rows (its own layout may be split) */
    float *sketches;  /* nlist x dims */
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
    vx_free(c);
    ivf->coarse = NULL;
}

size_t vx_ivf_coarse_memory(const vx_ivf *ivf)
{
    const vx_ivf_coarse *c = ivf->coarse;
    if (!c)
        return 0;
    const size_t d = (size_t)ivf->base.d;
    return sizeof *c + c->dims * (d + 1) * sizeof(float) +
           ivf->nlist * (d + c->dims) * sizeof(float);
}

static bool applies(const vx_ivf *ivf)
{
    const vindex *q = ivf->quantizer;
    return q && q->metric == VINDEX_METRIC_L2 && !strcmp(q->ops->type_name, "IndexFlat") &&
           q->is_trained && (size_t)q->ntotal == ivf->nlist && ivf->nlist >= COARSE_MIN_NLIST &&
           ivf->base.d >= COARSE_MIN_D;
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
              (c->sketches = vx_alloc(nlist, dims * sizeof(float)));
    for (size_t l = 0; ok && l < nlist; l++)
        ok = vx_index_reconstruct(ivf->quantizer, (vindex_id)l, c->centroids + l * d) ==
             VINDEX_OK;
    /* the principal directions of the centroids: where they differ most */
    ok = ok && vindex_transform_pca_new(&pca, (int)d, (int)dims, 0.0f, 0) == VINDEX_OK &&
         vx_transform_train(pca, nlist, c->centroids) == VINDEX_OK &&
         vindex_transform_matrix(pca, c->proj, c->bias) == VINDEX_OK;
    if (ok)
        vx_transform_apply(pca, nlist, c->centroids, c->sketches);
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

size_t vx_ivf_coarse_search(const vx_ivf *ivf, size_t nq, const float *q, size_t nprobe,
                            float *cdis, vindex_id *cidx)
{
    const vx_ivf_coarse *c = ivf->coarse;
    if (!c || nq == 0 || (size_t)ivf->quantizer->ntotal != ivf->nlist) /* changed since */
        return 0;
    const size_t d = (size_t)ivf->base.d, nlist = ivf->nlist, dims = c->dims;
    const size_t budget = exact_budget(d, nlist, dims);
    if (nq > VX_IVF_COARSE_FEW && budget == 0) /* BLAS wins whatever the bounds */
        return 0;
    float *bound = vx_alloc(nlist + dims + nprobe, sizeof(float));
    vindex_id *best_pos = vx_alloc(nprobe, sizeof(vindex_id));
    if (!bound || !best_pos) {
        vx_free(bound);
        vx_free(best_pos);
        return 0;
    }
    const vx_kernel_table *kt = vx_kernels();
    float *qs = bound + nlist, *best_bound = qs + dims;
    size_t done = 0, exact = 0;
    for (; done < nq; done++) {
        /* a batch whose first queries need too many exact distances goes to
         * the quantizer (a few queries never do: its scan costs them more) */
        if (done == SAMPLE_QUERIES && nq > VX_IVF_COARSE_FEW && exact > budget * done)
            break;
        const float *x = q + done * d;
        float *dis = cdis + done * nprobe;
        vindex_id *idx = cidx + done * nprobe;
        vx_sketch(kt, c->proj, c->bias, d, dims, x, qs);
        kt->l2sqr_ny(bound, qs, c->sketches, dims, nlist);
        vx_bound_segment seg = {.vecs = c->centroids, .stride = d, .ids = NULL, .n = nlist};
        vx_heap_init(dis, idx, nprobe);
        vx_bounded_knn s = vx_bounded_knn_for(kt, x, d, dims, nprobe, dis, idx);
        exact += vx_bounded_knn_run(&s, &seg, 1, bound, best_bound, best_pos);
        vx_topk_finish(dis, idx, nprobe, VINDEX_METRIC_L2);
    }
    vx_free(bound);
    vx_free(best_pos);
    return done;
}
