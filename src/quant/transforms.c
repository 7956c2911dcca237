/*
 * Vector transforms (Faiss: VectorTransform): a random rotation, L2
 * normalisation, PCA and OPQ.
 *
 * The linear ones are y = A x + b with A d_out x d_in row-major, applied to
 * blocks of rows by sgemm (single-threaded BLAS inside our pool). When A has
 * orthonormal rows (or columns) the reverse is x = A^T (y - b), or for PCA
 * mean + A^T y (the same when d_out == d_in).
 *
 * The linear algebra that training needs (a symmetric eigendecomposition for
 * PCA, an SVD for OPQ's Procrustes step, both in double) comes from LAPACK:
 * Debian's OpenBLAS ships LAPACK inside libopenblas, so the Fortran symbols
 * (dsyevr_, dgesvd_) are reached through the BLAS we already link, with the
 * Fortran calling convention declared below (int is Debian's LP64 INTEGER,
 * hidden string lengths last).
 */
#include "transforms.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../core/threads.h"
#include "../index/index.h"
#include "../io/format.h"
#include "../simd/kernels.h"

extern void dsyevr_(const char *jobz, const char *range, const char *uplo, const int *n,
                    double *a, const int *lda, const double *vl, const double *vu, const int *il,
                    const int *iu, const double *abstol, int *m, double *w, double *z,
                    const int *ldz, int *isuppz, double *work, const int *lwork, int *iwork,
                    const int *liwork, int *info, size_t, size_t, size_t);
extern void dgesvd_(const char *jobu, const char *jobvt, const int *m, const int *n, double *a,
                    const int *lda, double *s, double *u, const int *ldu, double *vt,
                    const int *ldvt, double *work, const int *lwork, int *info, size_t, size_t);

typedef enum { TR_RR, TR_L2NORM, TR_PCA, TR_OPQ } tr_kind;

struct vindex_transform {
    tr_kind kind;
    int d_in, d_out;
    bool is_trained;
    bool orthonormal; /* reverse = A^T (y - b) */
    float *A;         /* d_out x d_in */
    float *b;         /* d_out, or NULL */
    float *c;         /* the reverse is y A - c: c = A^T b, or -mean for PCA */
    /* PCA */
    float eigen_power;
    bool random_rotation;
    float *eigenvalues; /* d_out, largest first */
    /* OPQ */
    int M;
    int niter, niter_pq, niter_pq_0;
};

enum { PCA_MAX_POINTS_PER_D = 1000, OPQ_MAX_TRAIN_POINTS = 256 * 256, ROWS_PER_TASK = 256 };

/* ---- small helpers ------------------------------------------------------- */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double gaussian(uint64_t *s)
{
    double u = ((double)(splitmix(s) >> 11) + 1.0) / 9007199254740993.0; /* (0, 1] */
    double v = (double)(splitmix(s) >> 11) / 9007199254740992.0;
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* An n x n orthogonal matrix (row-major, double) from a Gaussian one by
 * modified Gram-Schmidt, run twice per row for orthogonality to rounding. */
static vindex_status random_orthogonal(size_t n, uint64_t seed, double *Q)
{
    for (size_t i = 0; i < n * n; i++)
        Q[i] = gaussian(&seed);
    for (size_t i = 0; i < n; i++) {
        double *qi = Q + i * n;
        for (int pass = 0; pass < 2; pass++)
            for (size_t j = 0; j < i; j++) {
                const double *qj = Q + j * n;
                double dot = 0;
                for (size_t t = 0; t < n; t++)
                    dot += qi[t] * qj[t];
                for (size_t t = 0; t < n; t++)
                    qi[t] -= dot * qj[t];
            }
        double norm = 0;
        for (size_t t = 0; t < n; t++)
            norm += qi[t] * qi[t];
        norm = sqrt(norm);
        if (!(norm > 1e-12))
            return vx_fail(VINDEX_ERR_INVALID, "random rotation: degenerate draw");
        for (size_t t = 0; t < n; t++)
            qi[t] /= norm;
    }
    return VINDEX_OK;
}

/* A = the first d_out rows and d_in columns of a random orthogonal matrix of
 * max(d_in, d_out): orthonormal rows (d_out <= d_in) or columns. */
static vindex_status fill_random_rotation(float *A, int d_in, int d_out, uint64_t seed)
{
    size_t n = (size_t)(d_in > d_out ? d_in : d_out);
    double *Q = vx_alloc(n * n, sizeof(double));
    if (!Q)
        return VINDEX_ERR_NOMEM;
    vindex_status st = random_orthogonal(n, seed, Q);
    if (!st)
        for (size_t i = 0; i < (size_t)d_out; i++)
            for (size_t j = 0; j < (size_t)d_in; j++)
                A[i * (size_t)d_in + j] = (float)Q[i * n + j];
    vx_free(Q);
    return st;
}

/* c = A^T b, for the reverse. */
static vindex_status set_bias(vindex_transform *t, const double *b)
{
    size_t di = (size_t)t->d_in, dout = (size_t)t->d_out;
    if (!t->b && !(t->b = vx_alloc(dout, sizeof(float))))
        return VINDEX_ERR_NOMEM;
    if (!t->c && !(t->c = vx_alloc(di, sizeof(float))))
        return VINDEX_ERR_NOMEM;
    for (size_t i = 0; i < dout; i++)
        t->b[i] = (float)b[i];
    for (size_t j = 0; j < di; j++) {
        double s = 0;
        for (size_t i = 0; i < dout; i++)
            s += (double)t->A[i * di + j] * t->b[i];
        t->c[j] = (float)s;
    }
    return VINDEX_OK;
}

static vindex_transform *transform_alloc(tr_kind kind, int d_in, int d_out)
{
    vindex_transform *t = vx_calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->kind = kind;
    t->d_in = d_in;
    t->d_out = d_out;
    /* zeroed: an untrained transform's matrix is written to files as it is */
    if (kind != TR_L2NORM && !(t->A = vx_calloc((size_t)d_out, (size_t)d_in * sizeof(float)))) {
        vx_free(t);
        return NULL;
    }
    return t;
}

/* ---- apply / reverse ----------------------------------------------------- */

typedef struct apply_ctx {
    const vindex_transform *t;
    size_t n;
    const float *x;
    float *out;
    bool reverse;
} apply_ctx;

static void apply_task(void *arg, size_t task, int worker)
{
    (void)worker;
    const apply_ctx *c = arg;
    const vindex_transform *t = c->t;
    size_t lo = task * ROWS_PER_TASK, m = c->n - lo < ROWS_PER_TASK ? c->n - lo : ROWS_PER_TASK;
    const int di = t->d_in, dout = t->d_out;
    if (t->kind == TR_L2NORM) {
        const vx_kernel_table *kt = vx_kernels();
        for (size_t i = lo; i < lo + m; i++) {
            const float *x = c->x + i * (size_t)di;
            float *y = c->out + i * (size_t)di;
            float nrm = sqrtf(kt->norm_sqr(x, (size_t)di));
            float s = nrm > 0 ? 1.0f / nrm : 0.0f;
            for (int j = 0; j < di; j++)
                y[j] = c->reverse ? x[j] : x[j] * s;
        }
        return;
    }
    if (!c->reverse) { /* out = x A^T + b */
        const float *x = c->x + lo * (size_t)di;
        float *y = c->out + lo * (size_t)dout;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, dout, di, 1.0f, x, di,
                    t->A, di, 0.0f, y, dout);
        if (t->b)
            for (size_t i = 0; i < m; i++)
                for (int j = 0; j < dout; j++)
                    y[i * (size_t)dout + j] += t->b[j];
    } else { /* out = y A - A^T b */
        const float *y = c->x + lo * (size_t)dout;
        float *x = c->out + lo * (size_t)di;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, di, dout, 1.0f, y, dout,
                    t->A, di, 0.0f, x, di);
        if (t->c)
            for (size_t i = 0; i < m; i++)
                for (int j = 0; j < di; j++)
                    x[i * (size_t)di + j] -= t->c[j];
    }
}

static void run_apply(const vindex_transform *t, size_t n, const float *x, float *out,
                      bool reverse)
{
    if (n == 0)
        return;
    vx_blas_single_thread();
    apply_ctx c = {.t = t, .n = n, .x = x, .out = out, .reverse = reverse};
    vx_parallel_for((n + ROWS_PER_TASK - 1) / ROWS_PER_TASK, vx_num_threads(), apply_task, &c);
}

void vx_transform_apply(const vindex_transform *t, size_t n, const float *x, float *out)
{
    run_apply(t, n, x, out, false);
}

void vx_transform_reverse(const vindex_transform *t, size_t n, const float *y, float *out)
{
    run_apply(t, n, y, out, true);
}

/* ---- PCA ------------------------------------------------------------------ */

/* The `top` largest eigenpairs of the symmetric n x n matrix C (row-major,
 * destroyed): eigenvalues ascending into w[top], eigenvector i into column i of
 * Z (column-major n x top, i.e. row i of Z read as Z[i * n ..]). Asking LAPACK
 * for a subset skips the back-transformation of the others. */
static vindex_status sym_eigen(int n, int top, double *C, double *w, double *Z)
{
    int m = 0, info = 0, lwork = -1, liwork = -1, iwq = 0, il = n - top + 1;
    double vl = 0, vu = 0, abstol = 0, wq = 0;
    int *isuppz = vx_alloc(2 * (size_t)n, sizeof(int));
    if (!isuppz)
        return VINDEX_ERR_NOMEM;
    dsyevr_("V", "I", "U", &n, C, &n, &vl, &vu, &il, &n, &abstol, &m, w, Z, &n, isuppz, &wq,
            &lwork, &iwq, &liwork, &info, 1, 1, 1);
    vindex_status st = VINDEX_OK;
    double *work = NULL;
    int *iwork = NULL;
    if (info != 0) {
        st = vx_fail(VINDEX_ERR_INVALID, "PCA: LAPACK dsyevr workspace query failed (%d)", info);
        goto done;
    }
    lwork = (int)wq + 1;
    liwork = iwq + 1;
    work = vx_alloc((size_t)lwork, sizeof(double));
    iwork = vx_alloc((size_t)liwork, sizeof(int));
    if (!work || !iwork) {
        st = VINDEX_ERR_NOMEM;
        goto done;
    }
    dsyevr_("V", "I", "U", &n, C, &n, &vl, &vu, &il, &n, &abstol, &m, w, Z, &n, isuppz, work,
            &lwork, iwork, &liwork, &info, 1, 1, 1);
    if (info != 0 || m != top)
        st = vx_fail(VINDEX_ERR_INVALID, "PCA: LAPACK dsyevr failed (info %d, %d of %d values)",
                     info, m, top);
done:
    vx_free(isuppz);
    vx_free(work);
    vx_free(iwork);
    return st;
}

static vindex_status pca_train(vindex_transform *t, size_t n, const float *x)
{
    const size_t di = (size_t)t->d_in, dout = (size_t)t->d_out;
    if (n < 2)
        return vx_fail(VINDEX_ERR_INVALID, "PCA: training needs at least 2 vectors, got %zu", n);
    if (n > PCA_MAX_POINTS_PER_D * di)
        n = PCA_MAX_POINTS_PER_D * di; /* the first ones, as Faiss */
    enum { CHUNK = 1024 };
    double *mean = vx_calloc(di, sizeof(double));
    double *cov = vx_calloc(di * di, sizeof(double));
    double *chunk = vx_alloc(CHUNK * di, sizeof(double));
    double *w = vx_alloc(di, sizeof(double));
    double *Z = vx_alloc(di * di, sizeof(double));
    double *A = vx_alloc(dout * di, sizeof(double));
    double *b = vx_alloc(dout, sizeof(double));
    float *ev = vx_alloc(dout, sizeof(float));
    vindex_status st = VINDEX_OK;
    if (!mean || !cov || !chunk || !w || !Z || !A || !b || !ev) {
        st = VINDEX_ERR_NOMEM;
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < di; j++)
            mean[j] += x[i * di + j];
    for (size_t j = 0; j < di; j++)
        mean[j] /= (double)n;
    vx_blas_single_thread();
    for (size_t i0 = 0; i0 < n; i0 += CHUNK) {
        size_t m = n - i0 < CHUNK ? n - i0 : CHUNK;
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < di; j++)
                chunk[i * di + j] = (double)x[(i0 + i) * di + j] - mean[j];
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)di, (int)m, 1.0, chunk, (int)di,
                    1.0, cov, (int)di);
    }
    for (size_t i = 0; i < di; i++)
        for (size_t j = i; j < di; j++) {
            cov[i * di + j] /= (double)n;
            cov[j * di + i] = cov[i * di + j]; /* row-major upper = column-major lower */
        }
    if ((st = sym_eigen((int)di, (int)dout, cov, w, Z)))
        goto done;
    double top = w[dout - 1] > 0 ? w[dout - 1] : 1.0;
    for (size_t r = 0; r < dout; r++) {
        size_t col = dout - 1 - r; /* largest first */
        double lambda = w[col];
        ev[r] = (float)lambda;
        double f = 1.0;
        if (t->eigen_power != 0) {
            double l = lambda > 1e-12 * top ? lambda : 1e-12 * top;
            f = pow(l, (double)t->eigen_power);
        }
        for (size_t j = 0; j < di; j++)
            A[r * di + j] = f * Z[col * di + j];
    }
    if (t->random_rotation) {
        double *R = vx_alloc(dout * dout, sizeof(double));
        double *RA = vx_alloc(dout * di, sizeof(double));
        if (!R || !RA || (st = random_orthogonal(dout, 12345, R))) {
            vx_free(R);
            vx_free(RA);
            st = st ? st : VINDEX_ERR_NOMEM;
            goto done;
        }
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)dout, (int)di, (int)dout, 1.0,
                    R, (int)dout, A, (int)di, 0.0, RA, (int)di);
        memcpy(A, RA, dout * di * sizeof(double));
        vx_free(R);
        vx_free(RA);
    }
    for (size_t r = 0; r < dout; r++) {
        double s = 0;
        for (size_t j = 0; j < di; j++) {
            t->A[r * di + j] = (float)A[r * di + j];
            s += A[r * di + j] * mean[j];
        }
        b[r] = -s;
    }
    if ((st = set_bias(t, b)))
        goto done;
    /* the reverse maps back to mean + A^T y (the nearest point of the PCA
     * subspace through the mean), not A^T (y - b), which would drop the mean's
     * component outside the subspace */
    for (size_t j = 0; j < di; j++)
        t->c[j] = (float)-mean[j];
    vx_free(t->eigenvalues);
    t->eigenvalues = ev;
    ev = NULL;
    t->orthonormal = t->eigen_power == 0;
    t->is_trained = true;
done:
    vx_free(mean);
    vx_free(cov);
    vx_free(chunk);
    vx_free(w);
    vx_free(Z);
    vx_free(A);
    vx_free(b);
    vx_free(ev);
    return st;
}

/* ---- OPQ ------------------------------------------------------------------ */

/* R (d2 x d, orthonormal rows) maximising tr(R C) for C (d x d2, row-major):
 * with C = U S V^T, R = V U^T (the orthogonal Procrustes solution). */
static vindex_status procrustes(int d, int d2, double *C, double *R)
{
    /* C row-major d x d2 is C^T column-major (d2 x d): C^T = U' S V'^T with
     * U' = V and V'^T = U^T, so R = U' V'^T. */
    int m = d2, n = d, info = 0, lwork = -1, k = d2 < d ? d2 : d;
    double wq = 0;
    double *s = vx_alloc((size_t)k, sizeof(double));
    double *u = vx_alloc((size_t)m * (size_t)m, sizeof(double));
    double *vt = vx_alloc((size_t)k * (size_t)n, sizeof(double));
    double *work = NULL;
    vindex_status st = VINDEX_OK;
    if (!s || !u || !vt) {
        st = VINDEX_ERR_NOMEM;
        goto done;
    }
    dgesvd_("A", "S", &m, &n, C, &m, s, u, &m, vt, &k, &wq, &lwork, &info, 1, 1);
    lwork = (int)wq + 1;
    if (info != 0 || !(work = vx_alloc((size_t)lwork, sizeof(double)))) {
        st = info ? vx_fail(VINDEX_ERR_INVALID, "OPQ: LAPACK dgesvd query failed (%d)", info)
                  : VINDEX_ERR_NOMEM;
        goto done;
    }
    dgesvd_("A", "S", &m, &n, C, &m, s, u, &m, vt, &k, work, &lwork, &info, 1, 1);
    if (info != 0) {
        st = vx_fail(VINDEX_ERR_INVALID, "OPQ: LAPACK dgesvd failed (%d)", info);
        goto done;
    }
    /* R[i][j] = sum_t u[i + t*m] * vt[t + j*k], i < d2, j < d */
    for (int i = 0; i < d2; i++)
        for (int j = 0; j < d; j++) {
            double acc = 0;
            for (int t = 0; t < k; t++)
                acc += u[i + (size_t)t * m] * vt[t + (size_t)j * k];
            R[(size_t)i * d + j] = acc;
        }
done:
    vx_free(s);
    vx_free(u);
    vx_free(vt);
    vx_free(work);
    return st;
}

static vindex_status opq_train(vindex_transform *t, size_t n, const float *x)
{
    const int d = t->d_in, d2 = t->d_out;
    const size_t dd = (size_t)d, dd2 = (size_t)d2;
    if (n < 256)
        return vx_fail(VINDEX_ERR_INVALID,
                       "OPQ: training needs at least 256 vectors (an 8-bit PQ), got %zu", n);
    if (n > OPQ_MAX_TRAIN_POINTS)
        n = OPQ_MAX_TRAIN_POINTS; /* the first ones */
    float *A = vx_alloc(dd2, dd * sizeof(float));
    float *xr = vx_alloc(n, dd2 * sizeof(float));
    float *rec = vx_alloc(n, dd2 * sizeof(float));
    uint8_t *codes = vx_alloc(n, (size_t)t->M);
    float *Cf = vx_alloc(dd, dd2 * sizeof(float));
    double *C = vx_alloc(dd * dd2, sizeof(double));
    double *R = vx_alloc(dd2 * dd, sizeof(double));
    vindex_pq_codec *pq = NULL;
    vindex_status st = VINDEX_OK;
    if (!A || !xr || !rec || !codes || !Cf || !C || !R) {
        st = VINDEX_ERR_NOMEM;
        goto done;
    }
    if ((st = fill_random_rotation(A, d, d2, 1234)))
        goto done;
    vx_blas_single_thread();
    for (int iter = 0; iter < t->niter; iter++) {
        /* rotate, train a PQ on the rotated data, reconstruct */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, d2, d, 1.0f, x, d, A, d,
                    0.0f, xr, d2);
        vindex_pq_codec_free(pq);
        pq = NULL;
        vindex_kmeans_params kp;
        vindex_kmeans_params_init(&kp);
        kp.niter = iter == 0 ? t->niter_pq_0 : t->niter_pq;
        kp.seed = 1234 + iter;
        if ((st = vindex_pq_codec_new(&pq, d2, t->M, 8)) ||
            (st = vindex_pq_codec_set_kmeans_params(pq, &kp)) ||
            (st = vindex_pq_codec_train(pq, n, xr)) ||
            (st = vindex_pq_codec_compute_codes(pq, n, xr, codes)) ||
            (st = vindex_pq_codec_decode(pq, n, codes, rec)))
            goto done;
        /* C = X^T rec (d x d2); R = argmax tr(R C) */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d, d2, (int)n, 1.0f, x, d, rec, d2,
                    0.0f, Cf, d2);
        for (size_t i = 0; i < dd * dd2; i++)
            C[i] = Cf[i];
        if ((st = procrustes(d, d2, C, R)))
            goto done;
        for (size_t i = 0; i < dd2 * dd; i++)
            A[i] = (float)R[i];
    }
    memcpy(t->A, A, dd2 * dd * sizeof(float));
    t->orthonormal = true;
    t->is_trained = true;
done:
    vindex_pq_codec_free(pq);
    vx_free(A);
    vx_free(xr);
    vx_free(rec);
    vx_free(codes);
    vx_free(Cf);
    vx_free(C);
    vx_free(R);
    return st;
}

/* ---- internal entry points ------------------------------------------------ */

int vx_transform_d_in(const vindex_transform *t) { return t->d_in; }
int vx_transform_d_out(const vindex_transform *t) { return t->d_out; }
bool vx_transform_is_trained(const vindex_transform *t) { return t->is_trained; }

bool vx_transform_has_reverse(const vindex_transform *t)
{
    return t->is_trained && (t->kind == TR_L2NORM || t->orthonormal);
}

vindex_status vx_transform_train(vindex_transform *t, size_t n, const float *x)
{
    switch (t->kind) {
    case TR_PCA: return pca_train(t, n, x);
    case TR_OPQ: return opq_train(t, n, x);
    default: return VINDEX_OK; /* trained on creation */
    }
}

size_t vx_transform_memory(const vindex_transform *t)
{
    size_t m = sizeof *t;
    if (t->A)
        m += (size_t)t->d_out * (size_t)t->d_in * sizeof(float);
    if (t->b)
        m += (size_t)(t->d_out + t->d_in) * sizeof(float);
    if (t->eigenvalues)
        m += (size_t)t->d_out * sizeof(float);
    return m;
}

bool vx_transform_token(const vindex_transform *t, char *buf, size_t len)
{
    int n;
    switch (t->kind) {
    case TR_RR: n = snprintf(buf, len, "RR%d", t->d_out); break;
    case TR_L2NORM: n = snprintf(buf, len, "L2norm"); break;
    case TR_PCA:
        n = snprintf(buf, len, "PCA%s%s%d",
                     t->eigen_power == -0.5f ? "W" : "", t->random_rotation ? "R" : "", t->d_out);
        if (t->eigen_power != 0 && t->eigen_power != -0.5f)
            return false;
        break;
    case TR_OPQ:
        n = t->d_out == t->d_in ? snprintf(buf, len, "OPQ%d", t->M)
                                : snprintf(buf, len, "OPQ%d_%d", t->M, t->d_out);
        break;
    default: return false;
    }
    return n > 0 && (size_t)n < len;
}

/* ---- persistence (docs/FORMAT.md, "IndexPreTransform") ---------------------- */

#define TAG_TR_META VX_TAG('T', 'R', 'F', 'M')
#define TAG_TR_MATRIX VX_TAG('T', 'R', 'F', 'A')
#define TAG_TR_BIAS VX_TAG('T', 'R', 'F', 'B')
#define TAG_TR_REVERSE_BIAS VX_TAG('T', 'R', 'F', 'C')
#define TAG_TR_EIGEN VX_TAG('T', 'R', 'E', 'V')

void vx_transform_write(vx_writer *w, const vindex_transform *t)
{
    vx_writer_begin(w, TAG_TR_META);
    vx_writer_u32(w, (uint32_t)t->kind);
    vx_writer_u32(w, (uint32_t)t->d_in);
    vx_writer_u32(w, (uint32_t)t->d_out);
    vx_writer_u32(w, t->is_trained ? 1u : 0u);
    vx_writer_u32(w, t->orthonormal ? 1u : 0u);
    vx_writer_f64(w, t->eigen_power);
    vx_writer_u32(w, t->random_rotation ? 1u : 0u);
    vx_writer_u32(w, (uint32_t)t->M);
    vx_writer_u32(w, (uint32_t)t->niter);
    vx_writer_u32(w, (uint32_t)t->niter_pq);
    vx_writer_u32(w, (uint32_t)t->niter_pq_0);
    vx_writer_u32(w, t->b ? 1u : 0u);
    vx_writer_u32(w, t->eigenvalues ? 1u : 0u);
    vx_writer_end(w);
    const size_t di = (size_t)t->d_in, dout = (size_t)t->d_out;
    if (t->A) /* also untrained (zeros): its size is what justifies the allocation */
        vx_writer_array(w, TAG_TR_MATRIX, t->A, dout * di, sizeof(float));
    if (t->b) {
        vx_writer_array(w, TAG_TR_BIAS, t->b, dout, sizeof(float));
        vx_writer_array(w, TAG_TR_REVERSE_BIAS, t->c, di, sizeof(float));
    }
    if (t->eigenvalues)
        vx_writer_array(w, TAG_TR_EIGEN, t->eigenvalues, dout, sizeof(float));
}

vindex_status vx_transform_read(vx_reader *r, vindex_transform **out)
{
    *out = NULL;
    vx_cursor c;
    uint32_t f[13];
    double eigen_power = 0;
    vindex_status st = vx_reader_section(r, TAG_TR_META, &c);
    for (int i = 0; i < 5 && !st; i++)
        st = vx_cursor_u32(&c, &f[i]);
    if (!st)
        st = vx_cursor_f64(&c, &eigen_power);
    for (int i = 6; i < 13 && !st; i++)
        st = vx_cursor_u32(&c, &f[i]);
    if (st || (st = vx_cursor_done(&c)))
        return st;
    const uint32_t kind = f[0], di = f[1], dout = f[2], trained = f[3], ortho = f[4];
    const uint32_t rr = f[6], M = f[7], has_b = f[11], has_ev = f[12];
    bool ok = kind <= TR_OPQ && di >= 1 && di <= 65536 && dout >= 1 && dout <= 65536 &&
              trained <= 1 && ortho <= 1 && rr <= 1 && has_b <= 1 && has_ev <= 1 &&
              f[8] <= INT32_MAX && f[9] <= INT32_MAX && f[10] <= INT32_MAX;
    if (ok) {
        const bool pca = kind == TR_PCA;
        switch (kind) {
        case TR_RR: ok = trained && ortho; break;
        case TR_L2NORM: ok = trained && di == dout && !ortho; break;
        case TR_PCA:
            ok = dout <= di && eigen_power >= -1 && eigen_power <= 0 &&
                 (float)eigen_power == eigen_power && (!ortho || eigen_power == 0);
            break;
        default: ok = dout <= di && M >= 1 && dout % M == 0; break; /* OPQ */
        }
        /* PCA's bias and eigenvalues exist once trained, nothing else has them */
        ok = ok && has_b == (pca && trained) && has_ev == (pca && trained) &&
             (trained || !ortho);
    }
    if (!ok)
        return vx_io_corrupt("transform: inconsistent fields (kind %u, %u -> %u, trained %u, "
                             "eigen_power %g, M %u)",
                             kind, di, dout, trained, eigen_power, M);
    /* the matrix first: its exact size in the file justifies the allocations */
    float *A = NULL;
    if (kind != TR_L2NORM &&
        (st = vx_reader_floats(r, TAG_TR_MATRIX, (size_t)dout * di, "transform", &A)))
        return st;
    vindex_transform *t = transform_alloc(TR_L2NORM, (int)di, (int)dout); /* no matrix */
    if (!t) {
        vx_free(A);
        return VINDEX_ERR_NOMEM;
    }
    t->kind = (tr_kind)kind;
    t->A = A;
    t->is_trained = trained != 0;
    t->orthonormal = ortho != 0;
    t->eigen_power = (float)eigen_power;
    t->random_rotation = rr != 0;
    t->M = (int)M;
    t->niter = (int)f[8];
    t->niter_pq = (int)f[9];
    t->niter_pq_0 = (int)f[10];
    if ((has_b && ((st = vx_reader_floats(r, TAG_TR_BIAS, dout, "transform", &t->b)) ||
                   (st = vx_reader_floats(r, TAG_TR_REVERSE_BIAS, di, "transform", &t->c)))) ||
        (has_ev &&
         (st = vx_reader_floats(r, TAG_TR_EIGEN, dout, "transform", &t->eigenvalues)))) {
        vindex_transform_free(t);
        return st;
    }
    *out = t;
    return VINDEX_OK;
}

/* ---- public API ------------------------------------------------------------ */

static vindex_status check_dims(vindex_transform **out, const char *what, int d_in, int d_out)
{
    if (!out)
        return vx_fail(VINDEX_ERR_INVALID, "%s: out is NULL", what);
    *out = NULL;
    if (d_in <= 0 || d_out <= 0)
        return vx_fail(VINDEX_ERR_INVALID, "%s: dimensions %d -> %d must be positive", what, d_in,
                       d_out);
    if (d_in > 65536 || d_out > 65536)
        return vx_fail(VINDEX_ERR_INVALID, "%s: dimensions %d -> %d exceed 65536", what, d_in,
                       d_out);
    return VINDEX_OK;
}

VINDEX_API vindex_status vindex_transform_random_rotation_new(vindex_transform **out, int d_in,
                                                              int d_out, uint64_t seed)
{
    vx_clear_error();
    vindex_status st = check_dims(out, "RandomRotationMatrix", d_in, d_out);
    if (st)
        return st;
    vindex_transform *t = transform_alloc(TR_RR, d_in, d_out);
    if (!t)
        return VINDEX_ERR_NOMEM;
    if ((st = fill_random_rotation(t->A, d_in, d_out, seed))) {
        vindex_transform_free(t);
        return st;
    }
    t->orthonormal = true;
    t->is_trained = true;
    *out = t;
    return VINDEX_OK;
}

VINDEX_API vindex_status vindex_transform_l2norm_new(vindex_transform **out, int d)
{
    vx_clear_error();
    vindex_status st = check_dims(out, "NormalizationTransform", d, d);
    if (st)
        return st;
    vindex_transform *t = transform_alloc(TR_L2NORM, d, d);
    if (!t)
        return VINDEX_ERR_NOMEM;
    t->is_trained = true;
    *out = t;
    return VINDEX_OK;
}

VINDEX_API vindex_status vindex_transform_pca_new(vindex_transform **out, int d_in, int d_out,
                                                  float eigen_power, int random_rotation)
{
    vx_clear_error();
    vindex_status st = check_dims(out, "PCAMatrix", d_in, d_out);
    if (st)
        return st;
    if (d_out > d_in)
        return vx_fail(VINDEX_ERR_INVALID, "PCAMatrix: d_out %d must not exceed d_in %d", d_out,
                       d_in);
    if (!isfinite(eigen_power) || eigen_power > 0 || eigen_power < -1)
        return vx_fail(VINDEX_ERR_INVALID, "PCAMatrix: eigen_power %g must be in [-1, 0]",
                       (double)eigen_power);
    vindex_transform *t = transform_alloc(TR_PCA, d_in, d_out);
    if (!t)
        return VINDEX_ERR_NOMEM;
    t->eigen_power = eigen_power;
    t->random_rotation = random_rotation != 0;
    *out = t;
    return VINDEX_OK;
}

VINDEX_API vindex_status vindex_transform_opq_new(vindex_transform **out, int d_in, int d_out,
                                                  int M)
{
    vx_clear_error();
    if (d_out == 0)
        d_out = d_in;
    vindex_status st = check_dims(out, "OPQMatrix", d_in, d_out);
    if (st)
        return st;
    if (d_out > d_in)
        return vx_fail(VINDEX_ERR_INVALID, "OPQMatrix: d_out %d must not exceed d_in %d", d_out,
                       d_in);
    if (M <= 0 || d_out % M != 0)
        return vx_fail(VINDEX_ERR_INVALID, "OPQMatrix: M %d must divide the dimension %d", M,
                       d_out);
    vindex_transform *t = transform_alloc(TR_OPQ, d_in, d_out);
    if (!t)
        return VINDEX_ERR_NOMEM;
    t->M = M;
    t->niter = 50; /* Faiss's OPQMatrix defaults */
    t->niter_pq = 4;
    t->niter_pq_0 = 40;
    *out = t;
    return VINDEX_OK;
}

VINDEX_API vindex_status vindex_transform_train(vindex_transform *t, size_t n, const float *x)
{
    vx_clear_error();
    if (!t)
        return vx_fail(VINDEX_ERR_INVALID, "transform_train: transform is NULL");
    vindex_status st = vx_check_vectors(t->d_in, "transform_train", "training vector", n, x);
    if (st)
        return st;
    return vx_transform_train(t, n, x);
}

VINDEX_API vindex_status vindex_transform_apply(const vindex_transform *t, size_t n,
                                                const float *x, float *out)
{
    vx_clear_error();
    if (!t)
        return vx_fail(VINDEX_ERR_INVALID, "transform_apply: transform is NULL");
    if (!t->is_trained)
        return vx_fail(VINDEX_ERR_NOT_TRAINED, "transform_apply: the transform is not trained");
    vindex_status st = vx_check_vectors(t->d_in, "transform_apply", "vector", n, x);
    if (st)
        return st;
    size_t elems;
    if (!vx_mul_ok(n, (size_t)t->d_out, &elems) || elems > (SIZE_MAX >> 3))
        return vx_fail(VINDEX_ERR_INVALID, "transform_apply: %zu outputs overflow", n);
    if (n > 0 && !out)
        return vx_fail(VINDEX_ERR_INVALID, "transform_apply: out is NULL");
    vx_transform_apply(t, n, x, out);
    return VINDEX_OK;
}

VINDEX_API vindex_status vindex_transform_reverse(const vindex_transform *t, size_t n,
                                                  const float *y, float *out)
{
    vx_clear_error();
    if (!t)
        return vx_fail(VINDEX_ERR_INVALID, "transform_reverse: transform is NULL");
    if (!t->is_trained)
        return vx_fail(VINDEX_ERR_NOT_TRAINED, "transform_reverse: the transform is not trained");
    if (!vx_transform_has_reverse(t))
        return vx_fail(VINDEX_ERR_UNSUPPORTED,
                       "transform_reverse: this transform is not orthonormal (PCA with "
                       "eigen_power %g)", (double)t->eigen_power);
    vindex_status st = vx_check_vectors(t->d_out, "transform_reverse", "vector", n, y);
    if (st)
        return st;
    size_t elems;
    if (!vx_mul_ok(n, (size_t)t->d_in, &elems) || elems > (SIZE_MAX >> 3))
        return vx_fail(VINDEX_ERR_INVALID, "transform_reverse: %zu outputs overflow", n);
    if (n > 0 && !out)
        return vx_fail(VINDEX_ERR_INVALID, "transform_reverse: out is NULL");
    vx_transform_reverse(t, n, y, out);
    return VINDEX_OK;
}

VINDEX_API vindex_status vindex_transform_info(const vindex_transform *t, int *d_in, int *d_out,
                                               int *is_trained)
{
    vx_clear_error();
    if (!t)
        return vx_fail(VINDEX_ERR_INVALID, "transform_info: transform is NULL");
    if (d_in)
        *d_in = t->d_in;
    if (d_out)
        *d_out = t->d_out;
    if (is_trained)
        *is_trained = t->is_trained;
    return VINDEX_OK;
}

VINDEX_API vindex_status vindex_transform_matrix(const vindex_transform *t, float *A, float *b)
{
    vx_clear_error();
    if (!t)
        return vx_fail(VINDEX_ERR_INVALID, "transform_matrix: transform is NULL");
    if (t->kind == TR_L2NORM)
        return vx_fail(VINDEX_ERR_UNSUPPORTED, "transform_matrix: L2 normalisation is not linear");
    if (!t->is_trained)
        return vx_fail(VINDEX_ERR_NOT_TRAINED, "transform_matrix: the transform is not trained");
    if (A)
        memcpy(A, t->A, (size_t)t->d_out * (size_t)t->d_in * sizeof(float));
    if (b) {
        if (t->b)
            memcpy(b, t->b, (size_t)t->d_out * sizeof(float));
        else
            memset(b, 0, (size_t)t->d_out * sizeof(float));
    }
    return VINDEX_OK;
}

VINDEX_API void vindex_transform_free(vindex_transform *t)
{
    if (!t)
        return;
    vx_free(t->A);
    vx_free(t->b);
    vx_free(t->c);
    vx_free(t->eigenvalues);
    vx_free(t);
}
