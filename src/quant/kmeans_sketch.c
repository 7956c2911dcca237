/* k-means assignment pruned by sketch bounds (see kmeans_sketch.h). */
#include "kmeans_sketch.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../core/threads.h"
#include "../index/bounded_knn.h"
#include "../simd/kernels.h"
#include "../simd/pq_kernels.h"
#include "transforms.h"

/* 64 directions: on Fashion-MNIST (784 dimensions, 1,024 centroids) the
 * bounds leave 3 to 16 candidates per point for 8% of the plain pass's
 * multiply-adds; 32 leave twice as many, 128 cost twice as much. Below 256
 * dimensions, or with few centroids, the plain sgemm pass is as fast. */
enum { DEFAULT_DIMS = 64, MIN_D = 256, MIN_K = 64, MIN_N = 4096, PCA_SAMPLE = 4096 };

/* Points per task: a tile of bounds (points x k floats) stays near 1 MB. */
enum { TILE_FLOATS = 1 << 18, MAX_BLOCK = 256, MIN_BLOCK = 8 };

/* How far rounding may move the residual's square |P'v|^2 (vx_tail_range),
 * relative to |v - m|^2 + |m|^2: sums of d and of dims products, the sketch
 * taken from uncentred vectors, directions orthonormal only to float
 * precision; a wide margin, so that the bound stays a bound. */
#define RESIDUAL_TOLERANCE 2e-3f

int vx_kmeans_sketch_dims = -1; /* kmeans_sketch.h */

struct vx_kmeans_sketch {
    size_t n, d, k, dims, block;
    const float *x;
    int nthreads;
    float *mean;          /* d: the data's mean m */
    float *proj;          /* dims x d: P, orthonormal rows */
    float *pmean;         /* dims: P m */
    float *xs;            /* n x width: the points' augmented sketches */
    const float *xn;      /* n: |x|^2 (the caller's) */
    float *zeros;         /* k zeros: the offsets of the argmin kernel */
    float *cs;            /* k x width: the centroids', per assignment */
    size_t width;         /* dims + 3 (see sketch_rows) */
    float *tiles;         /* nthreads x block x k bounds */
    float slack_base;     /* |m|^2: scales the residual's tolerance */
};

static size_t sketch_dims(void)
{
    return vx_kmeans_sketch_dims < 0 ? DEFAULT_DIMS : (size_t)vx_kmeans_sketch_dims;
}

bool vx_kmeans_sketch_applies(size_t n, size_t d, size_t k)
{
    size_t dims = sketch_dims();
    if (dims == 0 || dims >= d)
        return false;
    if (vx_kmeans_sketch_dims < 0) /* the default engages where it was measured to pay */
        return d >= MIN_D && k >= MIN_K && n >= MIN_N;
    return true;
}

void vx_kmeans_sketch_free(vx_kmeans_sketch *s)
{
    if (!s)
        return;
    vx_free(s->mean);
    vx_free(s->proj);
    vx_free(s->pmean);
    vx_free(s->xs);
    vx_free(s->zeros);
    vx_free(s->cs);
    vx_free(s->tiles);
    vx_free(s);
}

/* The sketch directions: principal components of an evenly strided sample
 * (the points may arrive sorted, by class say). */
static vindex_status train_directions(vx_kmeans_sketch *s)
{
    const size_t d = s->d, ns = s->n < PCA_SAMPLE ? s->n : PCA_SAMPLE;
    float *sample = vx_alloc(ns, d * sizeof(float)), *bias = vx_alloc(s->dims, sizeof(float));
    vindex_transform *pca = NULL;
    vindex_status st = VINDEX_ERR_NOMEM;
    if (sample && bias) {
        for (size_t i = 0; i < ns; i++)
            memcpy(sample + i * d, s->x + (i * s->n / ns) * d, d * sizeof(float));
        st = vindex_transform_pca_new(&pca, (int)d, (int)s->dims, 0.0f, 0);
        if (!st)
            st = vx_transform_train(pca, ns, sample);
        if (!st)
            st = vindex_transform_matrix(pca, s->proj, bias);
    }
    vindex_transform_free(pca);
    vx_free(sample);
    vx_free(bias);
    return st;
}

/* Augmented sketches of nv vectors v (nv x d) into vs (nv x width), laid out
 * so that one sgemm gives every bound: with u = P(v - m), r = |P'(v - m)| known
 * within [lo, hi], and the other side's u', r' likewise,
 *
 *   |u - u'|^2 + (r - r')^2 >= (|u|^2 + lo^2) + (|u'|^2 + lo'^2) - 2<u, u'> - 2 hi hi'
 *
 * a point is [u, hi, 1, -(|u|^2 + lo^2) / 2] and a centroid [u', hi',
 * -(|u'|^2 + lo'^2) / 2, 1], and the bound is -2 times their inner product. */
static void sketch_rows(const vx_kmeans_sketch *s, const float *v, size_t nv, float *vs,
                        bool is_point)
{
    const size_t d = s->d, dims = s->dims, w = s->width;
    const vx_kernel_table *kt = vx_kernels();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nv, (int)dims, (int)d, 1.0f, v,
                (int)d, s->proj, (int)d, 0.0f, vs, (int)w);
    for (size_t i = 0; i < nv; i++) {
        float *row = vs + i * w;
        for (size_t j = 0; j < dims; j++)
            row[j] -= s->pmean[j];
        float sn = kt->norm_sqr(row, dims);
        float e = kt->l2sqr(v + i * d, s->mean, d); /* |v - m|^2 */
        float lo, hi;
        vx_tail_range(e, sn, RESIDUAL_TOLERANCE * (e + s->slack_base), &lo, &hi);
        float half_const = -0.5f * (sn + lo * lo);
        row[dims] = hi;
        row[dims + 1] = is_point ? 1.0f : half_const;
        row[dims + 2] = is_point ? half_const : 1.0f;
    }
}

enum { ROWS_CHUNK = 1024 };

static void rows_task(void *ctx, size_t task, int worker)
{
    (void)worker;
    const vx_kmeans_sketch *s = ctx;
    size_t i0 = task * ROWS_CHUNK, m = s->n - i0 < ROWS_CHUNK ? s->n - i0 : ROWS_CHUNK;
    sketch_rows(s, s->x + i0 * s->d, m, s->xs + i0 * s->width, true);
}

vindex_status vx_kmeans_sketch_new(size_t n, size_t d, const float *x, const float *xnorms,
                                   size_t k, int nthreads, vx_kmeans_sketch **out)
{
    *out = NULL;
    vx_kmeans_sketch *s = vx_calloc(1, sizeof *s);
    if (!s)
        return VINDEX_ERR_NOMEM;
    s->n = n;
    s->d = d;
    s->k = k;
    s->x = x;
    s->xn = xnorms;
    s->dims = sketch_dims();
    s->nthreads = nthreads;
    size_t block = TILE_FLOATS / k;
    s->block = block > MAX_BLOCK ? MAX_BLOCK : block < MIN_BLOCK ? MIN_BLOCK : block;
    const size_t dims = s->dims;
    s->width = dims + 3;
    bool ok = (s->mean = vx_alloc(d, sizeof(float))) &&
              (s->proj = vx_alloc(dims, d * sizeof(float))) &&
              (s->pmean = vx_alloc(dims, sizeof(float))) &&
              (s->xs = vx_alloc_big(n, s->width * sizeof(float))) &&
              (s->cs = vx_alloc(k, s->width * sizeof(float))) &&
              (s->zeros = vx_calloc(k, sizeof(float))) &&
              (s->tiles = vx_alloc((size_t)nthreads * s->block, k * sizeof(float)));
    vindex_status st = ok ? train_directions(s) : VINDEX_ERR_NOMEM;
    if (st) {
        vx_kmeans_sketch_free(s);
        return st;
    }
    /* the mean in double, then its sketch P m */
    double *acc = vx_calloc(d, sizeof(double));
    if (!acc) {
        vx_kmeans_sketch_free(s);
        return VINDEX_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            acc[j] += x[i * d + j];
    for (size_t j = 0; j < d; j++)
        s->mean[j] = (float)(acc[j] / (double)n);
    vx_free(acc);
    const vx_kernel_table *kt = vx_kernels();
    kt->inner_product_ny(s->pmean, s->mean, s->proj, d, dims);
    s->slack_base = kt->norm_sqr(s->mean, d);

    vx_blas_single_thread();
    vx_parallel_for((n + ROWS_CHUNK - 1) / ROWS_CHUNK, nthreads, rows_task, s);
    *out = s;
    return VINDEX_OK;
}

typedef struct assign_job {
    vx_kmeans_sketch *s;
    const float *centroids;
    float *dis;
    vindex_id *assign;
} assign_job;

static void assign_task(void *ctx, size_t task, int worker)
{
    assign_job *a = ctx;
    const vx_kmeans_sketch *s = a->s;
    const size_t i0 = task * s->block, k = s->k, d = s->d, w = s->width;
    const size_t m = s->n - i0 < s->block ? s->n - i0 : s->block;
    float *tile = s->tiles + (size_t)worker * s->block * k;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)k, (int)w, -2.0f,
                s->xs + i0 * w, (int)w, s->cs, (int)w, 0.0f, tile, (int)k);
    const vx_kernel_table *kt = vx_kernels();
    vx_bound_segment seg = {.vecs = a->centroids, .stride = d, .ids = NULL, .n = k};
    float (*argmin)(const float *, const float *, size_t, uint32_t *) =
        vx_pq_kernels()->argmin_offset;
    for (size_t t = 0; t < m; t++) {
        size_t i = i0 + t;
        const float *x = s->x + i * d;
        float *b = tile + t * k;
        /* the smallest bound's centroid first: usually the nearest already */
        uint32_t j0;
        argmin(b, s->zeros, k, &j0);
        float hd = kt->l2sqr(x, a->centroids + (size_t)j0 * d, d);
        vindex_id hi = (vindex_id)j0;
        b[j0] = NAN;
        vx_bounded_knn kn = vx_bounded_knn_with_norm(kt, x, s->xn[i], d, w, 1, &hd, &hi);
        vx_bounded_knn_sweep(&kn, &seg, 1, b);
        a->assign[i] = hi;
        a->dis[i] = hd;
    }
}

vindex_status vx_kmeans_sketch_assign(vx_kmeans_sketch *s, const float *centroids, float *dis,
                                      vindex_id *assign)
{
    vx_blas_single_thread();
    sketch_rows(s, centroids, s->k, s->cs, false);
    assign_job a = {s, centroids, dis, assign};
    vx_parallel_for((s->n + s->block - 1) / s->block, s->nthreads, assign_task, &a);
    return VINDEX_OK;
}
