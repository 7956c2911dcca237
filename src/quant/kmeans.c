/*
 * k-means (Lloyd's algorithm), as Faiss's Clustering does it, with three
 * properties that Faiss lacks or leaves implicit:
 *
 *  - Deterministic for a seed whatever the thread count. Assignment is done
 *    point by point in fixed blocks (sgemm tiles with an argmin, Hamerly's
 *    bounds in low dimensions, sketch bounds in high ones: kmeans_sketch.h),
 *    so results do not depend on the split; the centroid update sums each
 *    cluster's points in increasing point order, one task per fixed range of
 *    centroids, in double precision.
 *  - Random numbers come from one splitmix64 stream per purpose (sampling,
 *    initialisation, splitting), derived from the seed and the run number.
 *  - The library never prints: notices (subsampling, too few points) and the
 *    verbose per-iteration lines go to the log callback.
 *
 * Initialisation is random by default (see vindex_kmeans_init in vindex.h for
 * why); k-means++ is available. Empty clusters are repaired after each update
 * by splitting a cluster chosen with probability proportional to its size, as
 * Faiss does: the empty centroid takes a copy of the big one, the two are
 * pushed apart by a relative 1/1024 in opposite directions, and each is
 * credited half the points.
 */
#include "kmeans.h"

#include <cblas.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../core/threads.h"
#include "../index/brute.h"
#include "../index/index.h"
#include "../simd/kernels.h"
#include "../simd/pq_kernels.h"
#include "kmeans_sketch.h"

/* ---- parameters --------------------------------------------------------- */

VINDEX_API void vindex_kmeans_params_init(vindex_kmeans_params *p)
{
    if (!p)
        return;
    memset(p, 0, sizeof *p);
    p->niter = 25;
    p->nredo = 1;
    p->seed = 1234;
    p->max_points_per_centroid = 256;
    p->min_points_per_centroid = 39;
    p->init = VINDEX_KMEANS_INIT_RANDOM;
}

vindex_status vx_kmeans_check_params(const vindex_kmeans_params *p, const char *what)
{
    if (p->niter < 0)
        return vx_fail(VINDEX_ERR_INVALID, "%s: niter %d must not be negative", what, p->niter);
    if (p->nredo < 1)
        return vx_fail(VINDEX_ERR_INVALID, "%s: nredo %d must be at least 1", what, p->nredo);
    if (p->max_points_per_centroid < 1)
        return vx_fail(VINDEX_ERR_INVALID, "%s: max_points_per_centroid %d must be at least 1",
                       what, p->max_points_per_centroid);
    if (p->min_points_per_centroid < 0)
        return vx_fail(VINDEX_ERR_INVALID, "%s: min_points_per_centroid %d must not be negative",
                       what, p->min_points_per_centroid);
    if (p->init != VINDEX_KMEANS_INIT_RANDOM && p->init != VINDEX_KMEANS_INIT_PLUSPLUS)
        return vx_fail(VINDEX_ERR_INVALID, "%s: unknown initialisation %d", what, (int)p->init);
    return VINDEX_OK;
}

/* ---- random numbers ----------------------------------------------------- */

typedef struct {
    uint64_t s;
} rng;

static rng rng_make(int64_t seed, uint64_t stream)
{
    rng r = {(uint64_t)seed * 0x9e3779b97f4a7c15ULL ^ (stream + 1) * 0xd1b54a32d192ed03ULL};
    return r;
}

static uint64_t rng_next(rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, n), without modulo bias (Lemire's method). */
static size_t rng_below(rng *r, size_t n)
{
    uint64_t x = rng_next(r);
    __uint128_t m = (__uint128_t)x * n;
    uint64_t low = (uint64_t)m;
    if (low < n) {
        uint64_t t = -(uint64_t)n % n;
        while (low < t) {
            x = rng_next(r);
            m = (__uint128_t)x * n;
            low = (uint64_t)m;
        }
    }
    return (size_t)(m >> 64);
}

static double rng_uniform(rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

/* The Mersenne Twister MT19937 (Matsumoto and Nishimura), the generator behind
 * Faiss's RandomGenerator. Sampling, random initialisation and splitting draw
 * from it exactly as Faiss does, so that for one seed both libraries start from
 * the same points and end with nearly the same centroids: recall at equal
 * nprobe then compares the search, not the luck of the draw. */
typedef struct {
    uint32_t state[624];
    int next;
} mt19937;

static void mt_seed(mt19937 *m, uint32_t seed)
{
    m->state[0] = seed;
    for (uint32_t i = 1; i < 624; i++)
        m->state[i] = 1812433253u * (m->state[i - 1] ^ (m->state[i - 1] >> 30)) + i;
    m->next = 624;
}

static uint32_t mt_next(mt19937 *m)
{
    if (m->next >= 624) {
        for (int i = 0; i < 624; i++) {
            uint32_t y = (m->state[i] & 0x80000000u) | (m->state[(i + 1) % 624] & 0x7fffffffu);
            m->state[i] = m->state[(i + 397) % 624] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
        }
        m->next = 0;
    }
    uint32_t y = m->state[m->next++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    return y ^ (y >> 18);
}

/* The first m entries of Faiss's rand_perm(perm, n, seed): a Fisher-Yates
 * shuffle drawing mt() % (n - i) at step i from a generator seeded with the
 * seed truncated to 32 bits. */
static void faiss_perm_prefix(size_t *perm, size_t n, size_t m, int64_t seed)
{
    mt19937 g;
    mt_seed(&g, (uint32_t)seed);
    for (size_t i = 0; i < n; i++)
        perm[i] = i;
    for (size_t i = 0; i < m && i + 1 < n; i++) {
        size_t j = i + (size_t)mt_next(&g) % (n - i);
        size_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

/* Faiss draws the random seeds of run `redo` from this seed. */
static int64_t faiss_init_seed(int64_t seed, int redo) { return seed + 1 + redo * 15486557LL; }

enum { STREAM_PLUSPLUS = 1 }; /* k-means++ has no Faiss counterpart: our own stream */

/* ---- one run ------------------------------------------------------------ */

typedef struct run {
    size_t n, k;
    int d;
    const float *x;
    vindex_metric metric;
    int spherical;      /* normalise centroids after each update */
    float *centroids;   /* k x d */
    float *dis;         /* n: distance (L2) or inner product to the assigned centroid */
    vindex_id *assign;  /* n */
    size_t *count;      /* k */
    size_t *start;      /* k + 1: cluster c's points are order[start[c] .. start[c+1]) */
    size_t *order;      /* n: point indices grouped by cluster, increasing within one */
    double *acc;        /* nthreads x d */
    float *mind;        /* n: k-means++ only */
    float *xnorms;      /* n: |x|^2, for L2 assignment (NULL: through the k-NN engine) */
    float *cnorms;      /* k: |c|^2, L2 assignment by sgemm tiles */
    float *tiles;       /* nthreads sgemm tiles, the same (allocated once: fresh pages
                         * every iteration cost a quarter of the time in page faults) */
    /* Hamerly's bounds (L2, small d and k; see assign_task) */
    bool hamerly;
    bool bounded;       /* lower[] holds valid bounds for the current centroids */
    float *lower;       /* n: lower bound on the distance to the second nearest centroid */
    float *old;         /* k x d: the centroids before the update */
    float *half_sep;    /* k: half the distance from centroid j to its nearest other one */
    float *gather;      /* nthreads x ASSIGN_QB x d: points to reassign */
    uint32_t *todo;     /* nthreads x ASSIGN_QB */
    vx_kmeans_sketch *sketch; /* L2 in high dimensions: assignment pruned by bounds */
    int nthreads;
} run;

enum { UPDATE_CHUNK = 16, PP_CHUNK = 1024 };

static void update_task(void *ctx, size_t task, int worker)
{
    run *r = ctx;
    const size_t d = (size_t)r->d;
    double *acc = r->acc + (size_t)worker * d;
    size_t c1 = (task + 1) * UPDATE_CHUNK < r->k ? (task + 1) * UPDATE_CHUNK : r->k;
    for (size_t c = task * UPDATE_CHUNK; c < c1; c++) {
        size_t m = r->start[c + 1] - r->start[c];
        if (m == 0)
            continue; /* repaired afterwards */
        /* in point order, in double: the same bits at every SIMD level */
        vx_pq_kernels()->sum_rows(acc, r->x, d, r->order + r->start[c], m);
        float *cen = r->centroids + c * d;
        for (size_t j = 0; j < d; j++)
            cen[j] = (float)(acc[j] / (double)m);
    }
}

static void normalize_rows(float *v, size_t n, size_t d)
{
    for (size_t i = 0; i < n; i++) {
        float *row = v + i * d;
        float s = vx_kernels()->norm_sqr(row, d);
        if (s > 0) {
            float inv = 1.0f / sqrtf(s);
            for (size_t j = 0; j < d; j++)
                row[j] *= inv;
        }
    }
}

/* Assigns every point; returns the objective. For inner product: one exact
 * k-NN pass through the BLAS engine. */
static vindex_status assign_plain(run *r, double *obj)
{
    vx_brute b = {.base = r->centroids, .nb = r->k, .d = r->d, .metric = r->metric};
    vindex_status st = vx_brute_knn(&b, r->n, r->x, 1, r->dis, r->assign);
    if (st)
        return st;
    double s = 0;
    for (size_t i = 0; i < r->n; i++)
        s += r->dis[i];
    *obj = s;
    return VINDEX_OK;
}

/* L2 assignment without heaps: sgemm tiles of -2 <x, c> (the same blocks and
 * formula as the brute-force engine, so the same scores), |c|^2 added and the
 * first minimum taken by a SIMD kernel in one pass; |x|^2 (computed once per
 * run) is added for the objective. Three times faster than going through the
 * k-NN heaps with k = 1, which matters for PQ training: M k-means of 25
 * iterations each. */
enum { ASSIGN_QB = 1024, ASSIGN_CB = 512, HAMERLY_MAX_D = 128, HAMERLY_MAX_K = 4096 };

typedef struct assign_job {
    run *r;
    const float *cnorms;
    float *tiles; /* per worker: ASSIGN_QB x ASSIGN_CB */
    float (*argmin)(const float *, const float *, size_t, uint32_t *);
} assign_job;

/* Hamerly's k-means (SDM 2010): a point whose distance u to its centroid is
 * at most a lower bound on its distance to every other centroid (l, carried
 * from the last full assignment and lowered by how far centroids moved since),
 * or at most half the distance from its centroid to the nearest other one,
 * keeps its centroid without being compared to the others. Only the rest go
 * through sgemm. The result is Lloyd's (up to rounding on near-ties); in the
 * low dimensions of PQ sub-spaces most points are settled after a few
 * iterations, and assignment, two thirds of a PQ training, gets several
 * times cheaper. u is computed exactly for every point, so the objective is
 * exact too. */
static void assign_task_bounded(void *ctx, size_t task, int worker)
{
    assign_job *a = ctx;
    run *r = a->r;
    const size_t d = (size_t)r->d, q0 = task * ASSIGN_QB;
    const size_t nqb = r->n - q0 < ASSIGN_QB ? r->n - q0 : ASSIGN_QB;
    float *tile = a->tiles + (size_t)worker * ASSIGN_QB * ASSIGN_CB;
    float *g = r->gather + (size_t)worker * ASSIGN_QB * d;
    uint32_t *todo = r->todo + (size_t)worker * ASSIGN_QB;
    float (*l2sqr)(const float *, const float *, size_t) = vx_kernels()->l2sqr;
    float (*argmin2)(const float *, const float *, size_t, uint32_t *, float *) =
        vx_pq_kernels()->argmin2_offset;
    size_t nt = 0;
    for (size_t i = q0; i < q0 + nqb; i++) {
        if (r->bounded) {
            size_t c = (size_t)r->assign[i];
            float du = l2sqr(r->x + i * d, r->centroids + c * d, d);
            float u = sqrtf(du);
            if (u <= r->lower[i] || u <= r->half_sep[c]) {
                r->dis[i] = du;
                continue;
            }
        }
        memcpy(g + nt * d, r->x + i * d, d * sizeof(float));
        todo[nt++] = (uint32_t)i;
    }
    if (nt == 0)
        return;
    float best[ASSIGN_QB], next[ASSIGN_QB];
    for (size_t t = 0; t < nt; t++) {
        best[t] = next[t] = INFINITY;
        r->assign[todo[t]] = 0;
    }
    for (size_t c0 = 0; c0 < r->k; c0 += ASSIGN_CB) {
        size_t ncb = r->k - c0 < ASSIGN_CB ? r->k - c0 : ASSIGN_CB;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nt, (int)ncb, (int)d, -2.0f, g,
                    (int)d, r->centroids + c0 * d, (int)d, 0.0f, tile, (int)ncb);
        for (size_t t = 0; t < nt; t++) {
            uint32_t j;
            float v2, v = argmin2(tile + t * ncb, a->cnorms + c0, ncb, &j, &v2);
            if (v < best[t]) {
                next[t] = best[t] < v2 ? best[t] : v2;
                best[t] = v;
                r->assign[todo[t]] = (vindex_id)(c0 + j);
            } else if (v < next[t]) {
                next[t] = v;
            }
        }
    }
    for (size_t t = 0; t < nt; t++) {
        size_t i = todo[t];
        float xn = r->xnorms[i], v = best[t] + xn, w = next[t] + xn;
        r->dis[i] = v < 0 ? 0 : v;
        r->lower[i] = w > 0 ? sqrtf(w) : 0;
    }
}

static void assign_task(void *ctx, size_t task, int worker)
{
    assign_job *a = ctx;
    run *r = a->r;
    const size_t d = (size_t)r->d, q0 = task * ASSIGN_QB;
    const size_t nqb = r->n - q0 < ASSIGN_QB ? r->n - q0 : ASSIGN_QB;
    float *tile = a->tiles + (size_t)worker * ASSIGN_QB * ASSIGN_CB;
    float *best = r->dis + q0;
    vindex_id *arg = r->assign + q0;
    for (size_t i = 0; i < nqb; i++) {
        best[i] = INFINITY;
        arg[i] = 0;
    }
    for (size_t c0 = 0; c0 < r->k; c0 += ASSIGN_CB) {
        size_t ncb = r->k - c0 < ASSIGN_CB ? r->k - c0 : ASSIGN_CB;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nqb, (int)ncb, (int)d, -2.0f,
                    r->x + q0 * d, (int)d, r->centroids + c0 * d, (int)d, 0.0f, tile, (int)ncb);
        for (size_t i = 0; i < nqb; i++) {
            uint32_t j;
            float v = a->argmin(tile + i * ncb, a->cnorms + c0, ncb, &j);
            if (v < best[i]) {
                best[i] = v;
                arg[i] = (vindex_id)(c0 + j);
            }
        }
    }
    for (size_t i = 0; i < nqb; i++) {
        float v = best[i] + r->xnorms[q0 + i];
        best[i] = v < 0 ? 0 : v;
    }
}

static vindex_status assign_l2(run *r, double *obj)
{
    if (r->sketch) {
        vindex_status st = vx_kmeans_sketch_assign(r->sketch, r->centroids, r->dis, r->assign);
        if (st)
            return st;
    } else {
        vx_blas_single_thread();
        vx_norms_sqr(r->cnorms, r->centroids, (size_t)r->d, r->k);
        assign_job a = {r, r->cnorms, r->tiles, vx_pq_kernels()->argmin_offset};
        vx_parallel_for((r->n + ASSIGN_QB - 1) / ASSIGN_QB, r->nthreads,
                        r->hamerly ? assign_task_bounded : assign_task, &a);
        r->bounded = r->hamerly;
    }
    double s = 0;
    for (size_t i = 0; i < r->n; i++)
        s += r->dis[i];
    *obj = s;
    return VINDEX_OK;
}

static vindex_status assign_points(run *r, double *obj)
{
    return r->xnorms ? assign_l2(r, obj) : assign_plain(r, obj);
}

/* New centroids from the assignment; returns the number of empty clusters
 * repaired by splitting. */
static size_t update_centroids(run *r)
{
    const size_t n = r->n, k = r->k, d = (size_t)r->d;
    memset(r->count, 0, k * sizeof *r->count);
    for (size_t i = 0; i < n; i++)
        r->count[r->assign[i]]++;
    r->start[0] = 0;
    for (size_t c = 0; c < k; c++)
        r->start[c + 1] = r->start[c] + r->count[c];
    /* count[] doubles as the fill cursor, then is restored from start[] */
    for (size_t c = 0; c < k; c++)
        r->count[c] = r->start[c];
    for (size_t i = 0; i < n; i++)
        r->order[r->count[r->assign[i]]++] = i;
    for (size_t c = 0; c < k; c++)
        r->count[c] = r->start[c + 1] - r->start[c];

    vx_parallel_for((k + UPDATE_CHUNK - 1) / UPDATE_CHUNK, r->nthreads, update_task, r);

    /* Split big clusters into the empty ones, as Faiss's split_clusters does,
     * with its generator (seeded 1234 at every call) and float arithmetic. */
    const float eps = 1.0f / 1024;
    size_t nsplit = 0;
    mt19937 split_rng;
    bool seeded = false;
    for (size_t ci = 0; ci < k; ci++) {
        if (r->count[ci] != 0)
            continue;
        if (!seeded) {
            mt_seed(&split_rng, 1234);
            seeded = true;
        }
        size_t cj;
        for (cj = 0;; cj = (cj + 1) % k) {
            /* probability to pick this cluster: (size - 1) / (n - k) */
            float p = (float)(((double)r->count[cj] - 1.0) / (double)(float)(n - k));
            float u = (float)mt_next(&split_rng) / 4294967295.0f;
            if (u < p)
                break;
        }
        float *a = r->centroids + ci * d, *b = r->centroids + cj * d;
        memcpy(a, b, d * sizeof *a);
        for (size_t j = 0; j < d; j++) {
            if (j % 2 == 0) {
                a[j] *= 1 + eps;
                b[j] *= 1 - eps;
            } else {
                a[j] *= 1 - eps;
                b[j] *= 1 + eps;
            }
        }
        r->count[ci] = r->count[cj] / 2;
        r->count[cj] -= r->count[ci];
        nsplit++;
    }
    if (r->spherical)
        normalize_rows(r->centroids, k, d);
    return nsplit;
}

/* After the centroids moved from r->old: lowers every point's bound by the
 * largest move of a centroid other than its own, and recomputes half_sep. */
static void update_bounds(run *r)
{
    const size_t k = r->k, d = (size_t)r->d;
    const vx_kernel_table *kt = vx_kernels();
    float max1 = 0, max2 = 0;
    size_t arg1 = 0;
    for (size_t c = 0; c < k; c++) {
        float m = sqrtf(kt->l2sqr(r->old + c * d, r->centroids + c * d, d));
        if (m > max1) {
            max2 = max1;
            max1 = m;
            arg1 = c;
        } else if (m > max2) {
            max2 = m;
        }
    }
    for (size_t i = 0; i < r->n; i++)
        r->lower[i] -= (size_t)r->assign[i] == arg1 ? max2 : max1;
    /* half the distance to the nearest other centroid, k rows of k */
    float row[ASSIGN_CB];
    for (size_t c = 0; c < k; c++) {
        float best = INFINITY;
        for (size_t c0 = 0; c0 < k; c0 += ASSIGN_CB) {
            size_t nc = k - c0 < ASSIGN_CB ? k - c0 : ASSIGN_CB;
            kt->l2sqr_ny(row, r->centroids + c * d, r->centroids + c0 * d, d, nc);
            for (size_t j = 0; j < nc; j++)
                if (c0 + j != c && row[j] < best)
                    best = row[j];
        }
        r->half_sep[c] = 0.5f * sqrtf(best);
    }
}

/* ---- initialisation ----------------------------------------------------- */

typedef struct pp_job {
    run *r;
    const float *center;
} pp_job;

/* mind[i] = min(mind[i], |x_i - center|^2) over one chunk of points. */
static void pp_task(void *ctx, size_t task, int worker)
{
    (void)worker;
    pp_job *j = ctx;
    run *r = j->r;
    size_t i0 = task * PP_CHUNK, i1 = i0 + PP_CHUNK < r->n ? i0 + PP_CHUNK : r->n;
    float buf[PP_CHUNK];
    vx_kernels()->l2sqr_ny(buf, j->center, r->x + i0 * (size_t)r->d, (size_t)r->d, i1 - i0);
    for (size_t i = i0; i < i1; i++)
        if (buf[i - i0] < r->mind[i])
            r->mind[i] = buf[i - i0];
}

static void init_plusplus(run *r, rng *g)
{
    const size_t n = r->n, d = (size_t)r->d;
    size_t first = rng_below(g, n);
    memcpy(r->centroids, r->x + first * d, d * sizeof(float));
    for (size_t i = 0; i < n; i++)
        r->mind[i] = INFINITY;
    pp_job j = {r, r->centroids};
    size_t ntasks = (n + PP_CHUNK - 1) / PP_CHUNK;
    vx_parallel_for(ntasks, r->nthreads, pp_task, &j);
    for (size_t c = 1; c < r->k; c++) {
        double total = 0;
        for (size_t i = 0; i < n; i++)
            total += r->mind[i];
        size_t pick = 0;
        if (total > 0) {
            double u = rng_uniform(g) * total, s = 0;
            for (pick = 0; pick + 1 < n; pick++) {
                s += r->mind[pick];
                if (s > u)
                    break;
            }
        } else {
            pick = rng_below(g, n); /* all points coincide with a seed */
        }
        memcpy(r->centroids + c * d, r->x + pick * d, d * sizeof(float));
        j.center = r->centroids + c * d;
        vx_parallel_for(ntasks, r->nthreads, pp_task, &j);
    }
}

static vindex_status init_random(run *r, int64_t seed)
{
    const size_t d = (size_t)r->d;
    size_t *perm = vx_alloc(r->n, sizeof *perm);
    if (!perm)
        return VINDEX_ERR_NOMEM;
    faiss_perm_prefix(perm, r->n, r->k, seed);
    for (size_t c = 0; c < r->k; c++)
        memcpy(r->centroids + c * d, r->x + perm[c] * d, d * sizeof(float));
    vx_free(perm);
    return VINDEX_OK;
}

/* ---- driver ------------------------------------------------------------- */

static int better(double a, double b, vindex_metric metric)
{
    return metric == VINDEX_METRIC_L2 ? a < b : a > b;
}

vindex_status vx_kmeans(size_t n, int d, const float *x, size_t k,
                        const vindex_kmeans_params *params, vindex_metric metric,
                        float *centroids, float *iteration_obj, double *final_obj)
{
    const size_t dd = (size_t)d;
    vindex_status st = VINDEX_OK;
    run r;
    memset(&r, 0, sizeof r);
    float *sample = NULL, *best = NULL;
    size_t *perm = NULL;

    if (n < k)
        return vx_fail(VINDEX_ERR_INVALID,
                       "k-means: %zu training points are fewer than the %zu centroids", n, k);
    size_t max_points;
    if (!vx_mul_ok(k, (size_t)params->max_points_per_centroid, &max_points))
        max_points = SIZE_MAX;
    if (n > max_points) {
        vx_log(0, "k-means: sampling %zu of the %zu training points (%d per centroid)",
               max_points, n, params->max_points_per_centroid);
        perm = vx_alloc(n, sizeof *perm);
        sample = vx_alloc_big(max_points, dd * sizeof(float));
        if (!perm || !sample) {
            st = VINDEX_ERR_NOMEM;
            goto done;
        }
        faiss_perm_prefix(perm, n, max_points, params->seed);
        for (size_t i = 0; i < max_points; i++)
            memcpy(sample + i * dd, x + perm[i] * dd, dd * sizeof(float));
        vx_free(perm);
        perm = NULL;
        x = sample;
        n = max_points;
    } else if (n < k * (size_t)params->min_points_per_centroid) {
        vx_log(1,
               "k-means: clustering %zu points into %zu centroids; at least %zu points are "
               "advised",
               n, k, k * (size_t)params->min_points_per_centroid);
    }

    r.n = n;
    r.k = k;
    r.d = d;
    r.x = x;
    r.metric = metric;
    r.spherical = params->spherical || metric == VINDEX_METRIC_INNER_PRODUCT;
    r.nthreads = vx_num_threads();
    r.centroids = centroids;
    r.dis = vx_alloc(n, sizeof *r.dis);
    r.assign = vx_alloc(n, sizeof *r.assign);
    r.count = vx_alloc(k, sizeof *r.count);
    r.start = vx_alloc(k + 1, sizeof *r.start);
    r.order = vx_alloc(n, sizeof *r.order);
    r.acc = vx_alloc((size_t)r.nthreads, dd * sizeof(double));
    if (!r.dis || !r.assign || !r.count || !r.start || !r.order || !r.acc) {
        st = VINDEX_ERR_NOMEM;
        goto done;
    }
    if (params->init == VINDEX_KMEANS_INIT_PLUSPLUS && !(r.mind = vx_alloc(n, sizeof *r.mind))) {
        st = VINDEX_ERR_NOMEM;
        goto done;
    }
    /* Small sets keep the exact SIMD path of the k-NN engine (as its BLAS
     * threshold decides), so that, say, n == k gives objective 0 exactly. */
    if (metric == VINDEX_METRIC_L2 && n >= vindex_get_blas_threshold()) {
        r.xnorms = vx_alloc(n, sizeof *r.xnorms);
        /* Bounds pay in low dimensions (PQ sub-spaces) with k small enough for
         * the k x k separations; in high dimensions, sketch bounds do
         * (kmeans_sketch.h); the rest keeps the plain sgemm pass. */
        r.hamerly = d <= HAMERLY_MAX_D && k <= HAMERLY_MAX_K && !r.spherical;
        const bool sketched = !r.hamerly && vx_kmeans_sketch_applies(n, dd, k);
        if (!sketched) {
            r.cnorms = vx_alloc(k, sizeof *r.cnorms);
            r.tiles = vx_alloc((size_t)r.nthreads * ASSIGN_QB, ASSIGN_CB * sizeof(float));
        }
        if (r.hamerly) {
            r.lower = vx_alloc(n, sizeof *r.lower);
            r.old = vx_alloc(k, dd * sizeof(float));
            r.half_sep = vx_alloc(k, sizeof *r.half_sep);
            r.gather = vx_alloc((size_t)r.nthreads * ASSIGN_QB, dd * sizeof(float));
            r.todo = vx_alloc((size_t)r.nthreads * ASSIGN_QB, sizeof *r.todo);
            if (!r.lower || !r.old || !r.half_sep || !r.gather || !r.todo) {
                st = VINDEX_ERR_NOMEM;
                goto done;
            }
        }
        if (!r.xnorms || (!sketched && (!r.cnorms || !r.tiles))) {
            st = VINDEX_ERR_NOMEM;
            goto done;
        }
        vx_norms_sqr(r.xnorms, x, dd, n);
        if (sketched &&
            (st = vx_kmeans_sketch_new(n, dd, x, r.xnorms, k, r.nthreads, &r.sketch)))
            goto done;
    }
    if (params->nredo > 1 && !(best = vx_alloc(k, dd * sizeof(float)))) {
        st = VINDEX_ERR_NOMEM;
        goto done;
    }

    double best_obj = metric == VINDEX_METRIC_L2 ? INFINITY : -INFINITY;
    for (int redo = 0; redo < params->nredo; redo++) {
        rng g_init = rng_make(params->seed + redo, STREAM_PLUSPLUS);
        r.bounded = false;
        if (params->init == VINDEX_KMEANS_INIT_PLUSPLUS)
            init_plusplus(&r, &g_init);
        else if ((st = init_random(&r, faiss_init_seed(params->seed, redo))))
            goto done;
        if (r.spherical)
            normalize_rows(centroids, k, dd);

        double obj = 0;
        for (int it = 0; it < params->niter; it++) {
            if ((st = assign_points(&r, &obj)))
                goto done;
            if (iteration_obj)
                iteration_obj[(size_t)redo * (size_t)params->niter + (size_t)it] = (float)obj;
            if (r.bounded)
                memcpy(r.old, centroids, k * dd * sizeof(float));
            size_t nsplit = update_centroids(&r);
            if (r.bounded)
                update_bounds(&r);
            if (params->verbose)
                vx_log(0, "k-means: run %d iteration %d: objective %.6g, %zu empty clusters split",
                       redo, it, obj, nsplit);
        }
        if (params->niter == 0) /* the objective of the seeds themselves */
            if ((st = assign_points(&r, &obj)))
                goto done;
        if (!isfinite(obj)) {
            st = vx_fail(VINDEX_ERR_INVALID, "k-means: the objective is not finite (%g); are the "
                         "training vectors too large?", obj);
            goto done;
        }
        if (params->nredo > 1 && better(obj, best_obj, metric)) {
            best_obj = obj;
            memcpy(best, centroids, k * dd * sizeof(float));
        } else if (params->nredo == 1) {
            best_obj = obj;
        }
    }
    if (params->nredo > 1)
        memcpy(centroids, best, k * dd * sizeof(float));
    if (final_obj)
        *final_obj = best_obj;

done:
    vx_free(sample);
    vx_free(perm);
    vx_free(best);
    vx_free(r.dis);
    vx_free(r.assign);
    vx_free(r.count);
    vx_free(r.start);
    vx_free(r.order);
    vx_free(r.acc);
    vx_free(r.mind);
    vx_free(r.xnorms);
    vx_free(r.lower);
    vx_free(r.old);
    vx_free(r.half_sep);
    vx_free(r.gather);
    vx_free(r.todo);
    vx_free(r.cnorms);
    vx_free(r.tiles);
    vx_kmeans_sketch_free(r.sketch);
    return st;
}

/* ---- public entry point ------------------------------------------------- */

VINDEX_API vindex_status vindex_kmeans(size_t n, int d, const float *x, size_t k,
                                       const vindex_kmeans_params *params, float *centroids,
                                       float *iteration_obj)
{
    vx_clear_error();
    vindex_kmeans_params defaults;
    if (!params) {
        vindex_kmeans_params_init(&defaults);
        params = &defaults;
    }
    vindex_status st = vx_kmeans_check_params(params, "kmeans");
    if (st)
        return st;
    if (d <= 0)
        return vx_fail(VINDEX_ERR_INVALID, "kmeans: dimension %d must be positive", d);
    if (k == 0)
        return vx_fail(VINDEX_ERR_INVALID, "kmeans: k must be at least 1");
    if (!x || !centroids)
        return vx_fail(VINDEX_ERR_INVALID, "kmeans: %s is NULL", x ? "centroids" : "x");
    size_t elems;
    if (!vx_mul_ok(k, (size_t)d, &elems) || !vx_mul_ok(elems, sizeof(float), &elems))
        return vx_fail(VINDEX_ERR_INVALID, "kmeans: %zu centroids of dimension %d overflow", k, d);
    st = vx_check_vectors(d, "kmeans", "training vector", n, x);
    if (st)
        return st;
    return vx_kmeans(n, d, x, k, params,
                     params->spherical ? VINDEX_METRIC_INNER_PRODUCT : VINDEX_METRIC_L2, centroids,
                     iteration_obj, NULL);
}
