/*
 * The product quantizer: training, encoding, decoding and distance tables
 * (see pq.h for the code layout), plus the public vindex_pq_codec API.
 *
 * Training runs one k-means per sub-space with Faiss's PQ parameters (25
 * iterations, seed 1234, at most 256 training points per centroid), the M
 * sub-quantizers as tasks on the pool; each k-means then runs on the thread
 * that took it (nested parallel calls run inline), and since vx_kmeans gives
 * the same centroids whatever the thread count, so does PQ training.
 *
 * Encoding a batch goes through BLAS when sub-vectors have 16 dimensions or
 * more: for a block of vectors and a sub-space, one sgemm gives every
 * <x_m, c> and the nearest centroid minimises |c|^2 - 2 <x_m, c>. vx_pq_encode_one (for IVF adds, which run inside pool
 * tasks and must not allocate) computes the distances with the SIMD kernels.
 */
#include "pq.h"

#include <cblas.h>
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../index/index.h"
#include "../core/threads.h"
#include "../simd/kernels.h"
#include "../simd/pq_kernels.h"
#include "kmeans.h"

/* ---- set-up ------------------------------------------------------------- */

vindex_status vx_pq_init(vx_pq *pq, int d, int M, int nbits, const char *what)
{
    memset(pq, 0, sizeof *pq);
    if (d <= 0)
        return vx_fail(VINDEX_ERR_INVALID, "%s: dimension %d must be positive", what, d);
    if (M <= 0)
        return vx_fail(VINDEX_ERR_INVALID, "%s: M = %d sub-quantizers must be at least 1", what,
                       M);
    if (d % M != 0)
        return vx_fail(VINDEX_ERR_INVALID,
                       "%s: the dimension d = %d is not a multiple of M = %d (each of the M "
                       "sub-vectors needs d / M dimensions)",
                       what, d, M);
    if (nbits < 1 || nbits > VX_PQ_MAX_NBITS)
        return vx_fail(VINDEX_ERR_INVALID, "%s: nbits = %d must be in 1..%d", what, nbits,
                       VX_PQ_MAX_NBITS);
    pq->d = d;
    pq->M = M;
    pq->nbits = nbits;
    pq->dsub = (size_t)(d / M);
    pq->ksub = (size_t)1 << nbits;
    pq->code_size = ((size_t)M * (size_t)nbits + 7) / 8;
    vindex_kmeans_params_init(&pq->cp); /* niter 25, seed 1234, 256 points per centroid */
    return VINDEX_OK;
}

void vx_pq_destroy(vx_pq *pq)
{
    vx_free(pq->centroids);
    vx_free(pq->cnorms);
    vx_free(pq->ctrans);
    pq->centroids = pq->cnorms = pq->ctrans = NULL;
    pq->trained = false;
}

size_t vx_pq_memory(const vx_pq *pq)
{
    if (!pq->centroids)
        return 0;
    size_t floats = (size_t)pq->M * pq->ksub * (pq->dsub + 1);
    if (pq->ctrans)
        floats += (size_t)pq->M * pq->ksub * pq->dsub;
    return floats * sizeof(float);
}

/* The arrays derived from a codebook (norms, and the transposed copy for
 * nbits 4), allocated before anything changes. */
typedef struct derived {
    float *cnorms, *ctrans;
} derived;

static vindex_status derived_alloc(const vx_pq *pq, derived *dv)
{
    const size_t nc = (size_t)pq->M * pq->ksub;
    dv->cnorms = vx_alloc(nc, sizeof(float));
    dv->ctrans = pq->ksub == 16 ? vx_alloc(nc, pq->dsub * sizeof(float)) : NULL;
    if (!dv->cnorms || (pq->ksub == 16 && !dv->ctrans)) {
        vx_free(dv->cnorms);
        vx_free(dv->ctrans);
        return VINDEX_ERR_NOMEM;
    }
    return VINDEX_OK;
}

/* Replaces the codebooks with c (M x ksub x dsub, taken over) and fills the
 * derived arrays. */
static void install(vx_pq *pq, float *c, const derived *dv)
{
    const size_t M = (size_t)pq->M, ksub = pq->ksub, dsub = pq->dsub;
    vx_pq_destroy(pq);
    pq->centroids = c;
    pq->cnorms = dv->cnorms;
    pq->ctrans = dv->ctrans;
    vx_norms_sqr(pq->cnorms, c, dsub, M * ksub);
    if (pq->ctrans)
        for (size_t m = 0; m < M; m++)
            for (size_t j = 0; j < ksub; j++)
                for (size_t s = 0; s < dsub; s++)
                    pq->ctrans[(m * dsub + s) * ksub + j] = -2.0f * c[(m * ksub + j) * dsub + s];
    pq->trained = true;
}

vindex_status vx_pq_set_centroids(vx_pq *pq, const float *centroids)
{
    const size_t nc = (size_t)pq->M * pq->ksub;
    float *c = vx_alloc(nc, pq->dsub * sizeof(float));
    derived dv;
    if (!c || derived_alloc(pq, &dv)) {
        vx_free(c);
        return VINDEX_ERR_NOMEM;
    }
    memcpy(c, centroids, nc * pq->dsub * sizeof(float));
    install(pq, c, &dv);
    return VINDEX_OK;
}

/* ---- training ----------------------------------------------------------- */

typedef struct train_job {
    const vx_pq *pq;
    size_t n;
    const float *x;
    float *centroids;
    atomic_int status;
} train_job;

static void train_task(void *ctx, size_t m, int worker)
{
    (void)worker;
    train_job *j = ctx;
    const vx_pq *pq = j->pq;
    const size_t dsub = pq->dsub, d = (size_t)pq->d, n = j->n;
    if (atomic_load(&j->status) != VINDEX_OK)
        return;
    float *sub = vx_alloc_big(n, dsub * sizeof(float));
    if (!sub) {
        atomic_store(&j->status, VINDEX_ERR_NOMEM);
        return;
    }
    for (size_t i = 0; i < n; i++)
        memcpy(sub + i * dsub, j->x + i * d + m * dsub, dsub * sizeof(float));
    vindex_status st = vx_kmeans(n, (int)dsub, sub, pq->ksub, &pq->cp, VINDEX_METRIC_L2,
                                 j->centroids + m * pq->ksub * dsub, NULL, NULL);
    vx_free(sub);
    if (st) {
        int expected = VINDEX_OK;
        atomic_compare_exchange_strong(&j->status, &expected, (int)st);
    }
}

vindex_status vx_pq_train(vx_pq *pq, size_t n, const float *x, const char *what)
{
    if (n < pq->ksub)
        return vx_fail(VINDEX_ERR_INVALID,
                       "%s: %zu training vectors are too few: PQ with nbits = %d trains %zu "
                       "centroids per sub-quantizer and needs at least %zu training vectors",
                       what, n, pq->nbits, pq->ksub, pq->ksub);
    vindex_status st = vx_kmeans_check_params(&pq->cp, what);
    if (st)
        return st;
    const size_t nc = (size_t)pq->M * pq->ksub;
    float *c = vx_alloc(nc, pq->dsub * sizeof(float));
    derived dv;
    if (!c || derived_alloc(pq, &dv)) {
        vx_free(c);
        return VINDEX_ERR_NOMEM;
    }
    train_job j = {.pq = pq, .n = n, .x = x, .centroids = c};
    atomic_init(&j.status, VINDEX_OK);
    vx_parallel_for((size_t)pq->M, vx_num_threads(), train_task, &j);
    st = (vindex_status)atomic_load(&j.status);
    if (st) {
        vx_free(c);
        vx_free(dv.cnorms);
        vx_free(dv.ctrans);
        if (st == VINDEX_ERR_NOMEM)
            return vx_fail(st, "%s: out of memory training the sub-quantizers", what);
        return st; /* k-means set the message */
    }
    install(pq, c, &dv);
    return VINDEX_OK;
}

/* ---- encoding ----------------------------------------------------------- */

/* Short sub-vectors are encoded with exact distances (as Faiss does below 16
 * dimensions): the sgemm gains little there, and the norm expansion
 * |c|^2 - 2 <x, c> loses the small differences between large values. */
enum { ENC_CHUNK = 256, ENC_TILE_FLOATS = 1 << 18, ENC_BLAS_MIN_DSUB = 16 };

typedef struct enc_job {
    const vx_pq *pq;
    size_t n, rows; /* rows per task */
    const float *x;
    uint8_t *codes;
    float *scratch; /* per worker: rows x ksub */
} enc_job;

static void enc_task(void *ctx, size_t task, int worker)
{
    enc_job *j = ctx;
    const vx_pq *pq = j->pq;
    const size_t ksub = pq->ksub, dsub = pq->dsub, d = (size_t)pq->d, cs = pq->code_size;
    const size_t i0 = task * j->rows, nb = j->n - i0 < j->rows ? j->n - i0 : j->rows;
    float *ip = j->scratch + (size_t)worker * j->rows * ksub;
    uint8_t *codes = j->codes + i0 * cs;
    if (dsub < ENC_BLAS_MIN_DSUB) {
        for (size_t i = 0; i < nb; i++)
            vx_pq_encode_one(pq, j->x + (i0 + i) * d, NULL, codes + i * cs);
        return;
    }
    memset(codes, 0, nb * cs);
    for (int m = 0; m < pq->M; m++) {
        const float *cm = pq->centroids + (size_t)m * ksub * dsub;
        const float *nm = pq->cnorms + (size_t)m * ksub;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, (int)ksub, (int)dsub, -2.0f,
                    j->x + i0 * d + (size_t)m * dsub, (int)d, cm, (int)dsub, 0.0f, ip, (int)ksub);
        for (size_t i = 0; i < nb; i++) {
            const float *row = ip + i * ksub;
            float best = INFINITY;
            uint32_t arg = 0;
            for (size_t c = 0; c < ksub; c++) {
                float s = row[c] + nm[c];
                if (s < best) {
                    best = s;
                    arg = (uint32_t)c;
                }
            }
            vx_pq_put(codes + i * cs, pq->nbits, m, arg);
        }
    }
}

vindex_status vx_pq_encode(const vx_pq *pq, size_t n, const float *x, uint8_t *codes)
{
    if (n == 0)
        return VINDEX_OK;
    const int nthreads = vx_num_threads();
    size_t rows = ENC_TILE_FLOATS / pq->ksub;
    if (rows > ENC_CHUNK)
        rows = ENC_CHUNK;
    if (rows < 1)
        rows = 1;
    float *scratch = vx_alloc((size_t)nthreads * rows, pq->ksub * sizeof(float));
    if (!scratch)
        return vx_fail(VINDEX_ERR_NOMEM, "encode: out of memory for %d x %zu x %zu scores",
                       nthreads, rows, pq->ksub);
    vx_blas_single_thread();
    enc_job j = {.pq = pq, .n = n, .rows = rows, .x = x, .codes = codes, .scratch = scratch};
    vx_parallel_for((n + rows - 1) / rows, nthreads, enc_task, &j);
    vx_free(scratch);
    return VINDEX_OK;
}

/* Sub-vectors this short are compared inline (IVF1024,PQ392x4 on 784
 * dimensions: 2 each; adding Fashion-MNIST took 5.7 s through the kernels). */
enum { ONE_CHUNK = 256, SHORT_DSUB = 4 };

void vx_pq_encode_one(const vx_pq *pq, const float *x, const float *sub, uint8_t *code)
{
    const size_t ksub = pq->ksub, dsub = pq->dsub;
    void (*l2ny)(float *, const float *, const float *, size_t, size_t) = vx_kernels()->l2sqr_ny;
    float dis[ONE_CHUNK], res[ONE_CHUNK];
    memset(code, 0, pq->code_size);
    for (int m = 0; m < pq->M; m++) {
        const float *xm = x + (size_t)m * dsub;
        const float *cm = pq->centroids + (size_t)m * ksub * dsub;
        float best = INFINITY;
        uint32_t arg = 0;
        /* long sub-vectors (no room for the residual) subtract sub as they go */
        const float *sm = sub && dsub > ONE_CHUNK ? sub + (size_t)m * dsub : NULL;
        if (sub && !sm) {
            for (size_t t = 0; t < dsub; t++)
                res[t] = xm[t] - sub[(size_t)m * dsub + t];
            xm = res;
        }
        /* short ones are compared inline: a kernel call per sub-space costs more */
        if (sm || dsub <= SHORT_DSUB) {
            for (size_t c = 0; c < ksub; c++) {
                float s = 0;
                for (size_t t = 0; t < dsub; t++) {
                    float v = xm[t] - (sm ? sm[t] : 0.0f) - cm[c * dsub + t];
                    s += v * v;
                }
                if (s < best) {
                    best = s;
                    arg = (uint32_t)c;
                }
            }
            vx_pq_put(code, pq->nbits, m, arg);
            continue;
        }
        for (size_t c0 = 0; c0 < ksub; c0 += ONE_CHUNK) {
            size_t nc = ksub - c0 < ONE_CHUNK ? ksub - c0 : ONE_CHUNK;
            l2ny(dis, xm, cm + c0 * dsub, dsub, nc);
            for (size_t c = 0; c < nc; c++)
                if (dis[c] < best) {
                    best = dis[c];
                    arg = (uint32_t)(c0 + c);
                }
        }
        vx_pq_put(code, pq->nbits, m, arg);
    }
}

void vx_pq_decode(const vx_pq *pq, size_t n, const uint8_t *codes, float *x)
{
    const size_t dsub = pq->dsub, ksub = pq->ksub, d = (size_t)pq->d;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *code = codes + i * pq->code_size;
        for (int m = 0; m < pq->M; m++) {
            uint32_t c = vx_pq_get(code, pq->code_size, pq->nbits, m);
            memcpy(x + i * d + (size_t)m * dsub,
                   pq->centroids + ((size_t)m * ksub + c) * dsub, dsub * sizeof(float));
        }
    }
}

/* ---- distance tables ---------------------------------------------------- */

/* One row of a table for sub-vectors of 1..SHORT_DSUB dimensions: a loop per
 * width, so that the compiler vectorizes over the centroids. Terms are added
 * in dimension order from 0, as the generic loop would. */
static void short_table(const float *x, const float *c, size_t dsub, size_t ksub, bool l2,
                        bool negate, float *out)
{
#define TERM(t) (l2 ? (x[t] - c[j * dsub + t]) * (x[t] - c[j * dsub + t]) : x[t] * c[j * dsub + t])
    const float sign = negate ? -1.0f : 1.0f;
    switch (dsub) {
    case 1:
        for (size_t j = 0; j < ksub; j++)
            out[j] = sign * TERM(0);
        break;
    case 2:
        for (size_t j = 0; j < ksub; j++)
            out[j] = sign * (TERM(0) + TERM(1));
        break;
    case 3:
        for (size_t j = 0; j < ksub; j++)
            out[j] = sign * (TERM(0) + TERM(1) + TERM(2));
        break;
    default:
        for (size_t j = 0; j < ksub; j++)
            out[j] = sign * (TERM(0) + TERM(1) + TERM(2) + TERM(3));
        break;
    }
#undef TERM
}

void vx_pq_tables(const vx_pq *pq, size_t nq, const float *x, vindex_metric metric,
                  bool as_scores, float *tables, float *scratch)
{
    const size_t dsub = pq->dsub, ksub = pq->ksub, d = (size_t)pq->d, M = (size_t)pq->M;
    const vx_kernel_table *kt = vx_kernels();
    const bool l2 = metric == VINDEX_METRIC_L2;
    float *xs = scratch, *tile = scratch + VX_PQ_TABLE_QB * dsub;
    if (dsub <= SHORT_DSUB) { /* inline, as in encoding: a kernel call per row costs more */
        for (size_t i = 0; i < nq; i++)
            for (size_t m = 0; m < M; m++)
                short_table(x + i * d + m * dsub, pq->centroids + m * ksub * dsub, dsub, ksub, l2,
                            !l2 && as_scores, tables + i * M * ksub + m * ksub);
        return;
    }
    for (size_t q0 = 0; q0 < nq; q0 += VX_PQ_TABLE_QB) {
        size_t qb = nq - q0 < VX_PQ_TABLE_QB ? nq - q0 : VX_PQ_TABLE_QB;
        for (size_t m = 0; m < M; m++) {
            for (size_t a = 0; a < qb; a++)
                memcpy(xs + a * dsub, x + (q0 + a) * d + m * dsub, dsub * sizeof(float));
            const float *cm = pq->centroids + m * ksub * dsub;
            for (size_t c0 = 0; c0 < ksub; c0 += 256) {
                size_t nc = ksub - c0 < 256 ? ksub - c0 : 256;
                if (l2)
                    kt->l2sqr_tile(tile, xs, qb, cm + c0 * dsub, dsub, nc);
                else
                    kt->inner_product_tile(tile, xs, qb, cm + c0 * dsub, dsub, nc);
                for (size_t a = 0; a < qb; a++) {
                    float *dst = tables + (q0 + a) * M * ksub + m * ksub + c0;
                    const float *src = tile + a * nc;
                    if (!l2 && as_scores)
                        for (size_t c = 0; c < nc; c++)
                            dst[c] = -src[c];
                    else
                        memcpy(dst, src, nc * sizeof(float));
                }
            }
        }
    }
}

float vx_pq_score_generic(const vx_pq *pq, const float *table, const uint8_t *code)
{
    float s = 0;
    for (int m = 0; m < pq->M; m++)
        s += table[(size_t)m * pq->ksub + vx_pq_get(code, pq->code_size, pq->nbits, m)];
    return s;
}

void vx_pq_scan(const vx_pq *pq, const float *table, size_t n, const uint8_t *codes, float *out)
{
    if (pq->nbits == 8) {
        vx_pq_kernels()->scan8(out, table, (size_t)pq->M, codes, n);
        return;
    }
    for (size_t j = 0; j < n; j++)
        out[j] = vx_pq_score_generic(pq, table, codes + j * pq->code_size);
}

/* ---- public codec API --------------------------------------------------- */

struct vindex_pq_codec {
    vx_pq pq;
};

static vindex_status check_codec(const vindex_pq_codec *c, const char *op, bool trained)
{
    if (!c)
        return vx_fail(VINDEX_ERR_INVALID, "%s: codec is NULL", op);
    if (trained && !c->pq.trained)
        return vx_fail(VINDEX_ERR_NOT_TRAINED, "%s: the product quantizer is not trained; call "
                       "train() first", op);
    return VINDEX_OK;
}

/* x (n x d) non-NULL when n > 0, finite, and n x d not overflowing. */
static vindex_status check_batch(size_t n, size_t d, const float *x, const char *op,
                                 const char *what, bool finite)
{
    if (finite) /* the library's one check of input vectors */
        return vx_check_vectors((int)d, op, what, n, x);
    size_t e;
    if (!vx_mul_ok(n, d, &e) || !vx_mul_ok(e, sizeof(float), &e))
        return vx_fail(VINDEX_ERR_INVALID, "%s: %zu x %zu overflows", op, n, d);
    if (n > 0 && !x)
        return vx_fail(VINDEX_ERR_INVALID, "%s: %s is NULL", op, what);
    return VINDEX_OK;
}

VINDEX_API vindex_status vindex_pq_codec_new(vindex_pq_codec **out, int d, int M, int nbits)
{
    vx_clear_error();
    if (!out)
        return vx_fail(VINDEX_ERR_INVALID, "ProductQuantizer: out is NULL");
    *out = NULL;
    vx_pq pq;
    vindex_status st = vx_pq_init(&pq, d, M, nbits, "ProductQuantizer");
    if (st)
        return st;
    vindex_pq_codec *c = vx_calloc(1, sizeof *c);
    if (!c)
        return VINDEX_ERR_NOMEM;
    c->pq = pq;
    *out = c;
    return VINDEX_OK;
}

VINDEX_API void vindex_pq_codec_free(vindex_pq_codec *codec)
{
    if (!codec)
        return;
    vx_pq_destroy(&codec->pq);
    vx_free(codec);
}

VINDEX_API vindex_status vindex_pq_codec_info(const vindex_pq_codec *codec, int *d, int *M,
                                              int *nbits, size_t *code_size)
{
    vx_clear_error();
    vindex_status st = check_codec(codec, "pq_codec_info", false);
    if (st)
        return st;
    if (d)
        *d = codec->pq.d;
    if (M)
        *M = codec->pq.M;
    if (nbits)
        *nbits = codec->pq.nbits;
    if (code_size)
        *code_size = codec->pq.code_size;
    return VINDEX_OK;
}

VINDEX_API int vindex_pq_codec_is_trained(const vindex_pq_codec *codec)
{
    return codec && codec->pq.trained;
}

VINDEX_API vindex_status vindex_pq_codec_set_kmeans_params(vindex_pq_codec *codec,
                                                           const vindex_kmeans_params *params)
{
    vx_clear_error();
    vindex_status st = check_codec(codec, "pq_codec_set_kmeans_params", false);
    if (st)
        return st;
    if (!params)
        return vx_fail(VINDEX_ERR_INVALID, "pq_codec_set_kmeans_params: params is NULL");
    if ((st = vx_kmeans_check_params(params, "pq_codec_set_kmeans_params")))
        return st;
    codec->pq.cp = *params;
    return VINDEX_OK;
}

VINDEX_API vindex_status vindex_pq_codec_get_kmeans_params(const vindex_pq_codec *codec,
                                                           vindex_kmeans_params *params)
{
    vx_clear_error();
    vindex_status st = check_codec(codec, "pq_codec_get_kmeans_params", false);
    if (st)
        return st;
    if (!params)
        return vx_fail(VINDEX_ERR_INVALID, "pq_codec_get_kmeans_params: params is NULL");
    *params = codec->pq.cp;
    return VINDEX_OK;
}

VINDEX_API vindex_status vindex_pq_codec_train(vindex_pq_codec *codec, size_t n, const float *x)
{
    vx_clear_error();
    vindex_status st = check_codec(codec, "pq_train", false);
    if (st || (st = check_batch(n, (size_t)codec->pq.d, x, "pq_train", "training vector", true)))
        return st;
    return vx_pq_train(&codec->pq, n, x, "pq_train");
}

VINDEX_API vindex_status vindex_pq_codec_compute_codes(const vindex_pq_codec *codec, size_t n,
                                                       const float *x, uint8_t *codes)
{
    vx_clear_error();
    vindex_status st = check_codec(codec, "compute_codes", true);
    if (st || (st = check_batch(n, (size_t)codec->pq.d, x, "compute_codes", "vector", true)))
        return st;
    if (n > 0 && !codes)
        return vx_fail(VINDEX_ERR_INVALID, "compute_codes: codes is NULL");
    size_t bytes;
    if (!vx_mul_ok(n, codec->pq.code_size, &bytes))
        return vx_fail(VINDEX_ERR_INVALID, "compute_codes: %zu codes overflow", n);
    return vx_pq_encode(&codec->pq, n, x, codes);
}

VINDEX_API vindex_status vindex_pq_codec_decode(const vindex_pq_codec *codec, size_t n,
                                                const uint8_t *codes, float *x)
{
    vx_clear_error();
    vindex_status st = check_codec(codec, "decode", true);
    if (st || (st = check_batch(n, (size_t)codec->pq.d, x, "decode", "output", false)))
        return st;
    if (n > 0 && !codes)
        return vx_fail(VINDEX_ERR_INVALID, "decode: codes is NULL");
    size_t bytes;
    if (!vx_mul_ok(n, codec->pq.code_size, &bytes))
        return vx_fail(VINDEX_ERR_INVALID, "decode: %zu codes overflow", n);
    /* Sub-codes past ksub cannot occur: nbits bits hold exactly ksub values. */
    vx_pq_decode(&codec->pq, n, codes, x);
    return VINDEX_OK;
}

VINDEX_API vindex_status vindex_pq_codec_centroids(const vindex_pq_codec *codec,
                                                   float *centroids)
{
    vx_clear_error();
    vindex_status st = check_codec(codec, "pq_centroids", true);
    if (st)
        return st;
    if (!centroids)
        return vx_fail(VINDEX_ERR_INVALID, "pq_centroids: centroids is NULL");
    const vx_pq *pq = &codec->pq;
    memcpy(centroids, pq->centroids, (size_t)pq->M * pq->ksub * pq->dsub * sizeof(float));
    return VINDEX_OK;
}

VINDEX_API vindex_status vindex_pq_codec_set_centroids(vindex_pq_codec *codec,
                                                       const float *centroids)
{
    vx_clear_error();
    vindex_status st = check_codec(codec, "pq_set_centroids", false);
    if (st || (st = check_batch((size_t)codec->pq.M * codec->pq.ksub, codec->pq.dsub, centroids,
                                "pq_set_centroids", "centroid", true)))
        return st;
    return vx_pq_set_centroids(&codec->pq, centroids);
}

VINDEX_API vindex_status vindex_pq_codec_compute_distance_tables(const vindex_pq_codec *codec,
                                                                 size_t n, const float *x,
                                                                 vindex_metric metric,
                                                                 float *tables)
{
    vx_clear_error();
    const char *op = "compute_distance_tables";
    vindex_status st = check_codec(codec, op, true);
    if (st || (st = check_batch(n, (size_t)codec->pq.d, x, op, "query", true)))
        return st;
    if (metric != VINDEX_METRIC_L2 && metric != VINDEX_METRIC_INNER_PRODUCT)
        return vx_fail(VINDEX_ERR_INVALID, "%s: unknown metric %d", op, (int)metric);
    const vx_pq *pq = &codec->pq;
    size_t e;
    if (!vx_mul_ok(n, (size_t)pq->M * pq->ksub, &e) || !vx_mul_ok(e, sizeof(float), &e))
        return vx_fail(VINDEX_ERR_INVALID, "%s: %zu tables overflow", op, n);
    if (n == 0)
        return VINDEX_OK;
    if (!tables)
        return vx_fail(VINDEX_ERR_INVALID, "%s: tables is NULL", op);
    float *scratch = vx_alloc(VX_PQ_TABLE_QB, (pq->dsub + 256) * sizeof(float));
    if (!scratch)
        return VINDEX_ERR_NOMEM;
    vx_pq_tables(pq, n, x, metric, false, tables, scratch);
    vx_free(scratch);
    return VINDEX_OK;
}

VINDEX_API vindex_status vindex_pq_codec_compute_sdc_table(const vindex_pq_codec *codec,
                                                           float *table)
{
    vx_clear_error();
    vindex_status st = check_codec(codec, "compute_sdc_table", true);
    if (st)
        return st;
    if (!table)
        return vx_fail(VINDEX_ERR_INVALID, "compute_sdc_table: table is NULL");
    const vx_pq *pq = &codec->pq;
    const size_t ksub = pq->ksub, dsub = pq->dsub;
    size_t e;
    if (!vx_mul_ok((size_t)pq->M * ksub, ksub * sizeof(float), &e))
        return vx_fail(VINDEX_ERR_INVALID, "compute_sdc_table: %d x %zu x %zu entries overflow",
                       pq->M, ksub, ksub);
    const vx_kernel_table *kt = vx_kernels();
    for (int m = 0; m < pq->M; m++) {
        const float *cm = pq->centroids + (size_t)m * ksub * dsub;
        for (size_t i = 0; i < ksub; i++)
            kt->l2sqr_ny(table + ((size_t)m * ksub + i) * ksub, cm + i * dsub, cm, dsub, ksub);
    }
    return VINDEX_OK;
}

/* ---- training parameters as named tunables ------------------------------ */

vindex_status vx_pq_set_cp_param(vx_pq *pq, const char *name, double value)
{
    vindex_kmeans_params *cp = &pq->cp;
    int *field = NULL;
    double lo = 0, hi = INT32_MAX;
    if (!strcmp(name, "pq.cp.niter"))
        field = &cp->niter;
    else if (!strcmp(name, "pq.cp.nredo"))
        field = &cp->nredo, lo = 1;
    else if (!strcmp(name, "pq.cp.max_points_per_centroid"))
        field = &cp->max_points_per_centroid, lo = 1;
    else if (!strcmp(name, "pq.cp.min_points_per_centroid"))
        field = &cp->min_points_per_centroid;
    else if (!strcmp(name, "pq.cp.verbose"))
        field = &cp->verbose, hi = 1;
    else if (!strcmp(name, "pq.cp.seed")) {
        if (value != floor(value) || fabs(value) > 9007199254740992.0)
            return vx_fail(VINDEX_ERR_INVALID, "set_param: pq.cp.seed must be an integer (got %g)",
                           value);
        cp->seed = (int64_t)value;
        return VINDEX_OK;
    } else
        return VINDEX_ERR_NOT_FOUND;
    if (value != floor(value) || value < lo || value > hi)
        return vx_fail(VINDEX_ERR_INVALID, "set_param: %s must be an integer in %.0f..%.0f (got %g)",
                       name, lo, hi, value);
    *field = (int)value;
    return VINDEX_OK;
}

vindex_status vx_pq_get_cp_param(const vx_pq *pq, const char *name, double *value)
{
    const vindex_kmeans_params *cp = &pq->cp;
    if (!strcmp(name, "pq.cp.niter"))
        *value = cp->niter;
    else if (!strcmp(name, "pq.cp.nredo"))
        *value = cp->nredo;
    else if (!strcmp(name, "pq.cp.max_points_per_centroid"))
        *value = cp->max_points_per_centroid;
    else if (!strcmp(name, "pq.cp.min_points_per_centroid"))
        *value = cp->min_points_per_centroid;
    else if (!strcmp(name, "pq.cp.verbose"))
        *value = cp->verbose;
    else if (!strcmp(name, "pq.cp.seed"))
        *value = (double)cp->seed;
    else if (!strcmp(name, "pq.M"))
        *value = pq->M;
    else if (!strcmp(name, "pq.nbits"))
        *value = pq->nbits;
    else if (!strcmp(name, "pq.code_size"))
        *value = (double)pq->code_size;
    else
        return VINDEX_ERR_NOT_FOUND;
    return VINDEX_OK;
}
