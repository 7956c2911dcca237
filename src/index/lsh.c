/*
 * IndexLSH: locality-sensitive hashing by random hyperplanes (Faiss:
 * IndexLSH). A vector becomes nbits sign bits: optionally rotated first (a
 * random orthonormal matrix, Faiss's RandomRotationMatrix with the same seed
 * and the same draws, so that both libraries hash alike), optionally shifted
 * by per-bit thresholds learnt as medians. Two vectors at angle theta agree on
 * each random-hyperplane bit with probability 1 - theta / pi, so the Hamming
 * distance between codes estimates the angle; more bits, a finer estimate.
 *
 * The codes are searched by the shared Hamming engine (hamming_knn.c). Encoding
 * is one sgemm per chunk of vectors, chunks in parallel (fixed chunk
 * boundaries: the same bits whatever the thread count).
 *
 * The rotation reproduces Faiss's: float_randn (MT19937 streams, Marsaglia's
 * polar method, 1024 blocks) then LAPACK's QR (sgeqrf + sorgqr, here from
 * OpenBLAS, as Debian's Faiss uses). Codes then agree with Faiss's except for
 * components within rounding of a threshold.
 */
#include <cblas.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../core/threads.h"
#include "../io/codecs.h"
#include "../io/registry.h"
#include "hamming_knn.h"
#include "index.h"

/* LAPACK (Fortran interface, 32-bit integers), from OpenBLAS. */
extern void sgeqrf_(const int *m, const int *n, float *a, const int *lda, float *tau, float *work,
                    const int *lwork, int *info);
extern void sorgqr_(const int *m, const int *n, const int *k, float *a, const int *lda,
                    const float *tau, float *work, const int *lwork, int *info);

enum { CHUNK = 256, TRAIN_GROUP = 16, FAISS_SEED = 5 };

typedef struct lsh {
    vindex base;
    int nbits;
    size_t code_size;
    bool rotate, train_thr;
    float *A;          /* nbits x d, row i the direction of bit i (rotate only) */
    float *thresholds; /* nbits (train_thr only; set by train) */
    vx_codes codes;    /* owned, or in place in a mapped file until written to */
} lsh;

static const vx_index_ops lsh_ops;

/* ---- Faiss's random rotation ------------------------------------------------ */

typedef struct {
    uint32_t s[624];
    int next;
} mt19937;

static void mt_seed(mt19937 *m, uint32_t seed)
{
    m->s[0] = seed;
    for (uint32_t i = 1; i < 624; i++)
        m->s[i] = 1812433253u * (m->s[i - 1] ^ (m->s[i - 1] >> 30)) + i;
    m->next = 624;
}

static uint32_t mt_next(mt19937 *m)
{
    if (m->next >= 624) {
        for (int i = 0; i < 624; i++) {
            uint32_t y = (m->s[i] & 0x80000000u) | (m->s[(i + 1) % 624] & 0x7fffffffu);
            m->s[i] = m->s[(i + 397) % 624] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
        }
        m->next = 0;
    }
    uint32_t y = m->s[m->next++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    return y ^ (y >> 18);
}

/* Faiss's float_randn(x, n, seed): 1024 blocks (1 below 1024 values), block j
 * from a generator seeded a0 + j * b0, normal pairs by Marsaglia's method. */
static void faiss_float_randn(float *x, size_t n, int64_t seed)
{
    size_t nblock = n < 1024 ? 1 : 1024;
    mt19937 g;
    mt_seed(&g, (uint32_t)seed);
    int a0 = (int)(mt_next(&g) & 0x7fffffff), b0 = (int)(mt_next(&g) & 0x7fffffff);
    for (size_t j = 0; j < nblock; j++) {
        mt_seed(&g, (uint32_t)((int64_t)a0 + (int64_t)j * b0));
        double a = 0, b = 0, s = 0;
        int state = 0;
        size_t i0 = j * n / nblock, i1 = (j + 1) * n / nblock;
        for (size_t i = i0; i < i1; i++) {
            if (state == 0) {
                do {
                    a = 2.0 * (mt_next(&g) / 4294967295.0) - 1;
                    b = 2.0 * (mt_next(&g) / 4294967295.0) - 1;
                    s = a * a + b * b;
                } while (s >= 1.0);
                x[i] = (float)(a * sqrt(-2.0 * log(s) / s));
            } else {
                x[i] = (float)(b * sqrt(-2.0 * log(s) / s));
            }
            state = 1 - state;
        }
    }
}

/* Faiss's matrix_qr(m, n, a): a is column-major m x n (m >= n); replaced by
 * the Q of its QR factorisation (orthonormal columns). */
static vindex_status matrix_qr(int m, int n, float *a)
{
    int lwork = -1, info = 0;
    float wsize = 0;
    float *tau = vx_alloc((size_t)n, sizeof(float));
    if (!tau)
        return VINDEX_ERR_NOMEM;
    vx_blas_single_thread();
    sgeqrf_(&m, &n, a, &m, tau, &wsize, &lwork, &info);
    lwork = (int)wsize > n ? (int)wsize : n;
    float *work = info == 0 ? vx_alloc((size_t)lwork, sizeof(float)) : NULL;
    if (!work) {
        vx_free(tau);
        return info ? vx_fail(VINDEX_ERR_INVALID, "IndexLSH: sgeqrf failed (%d)", info)
                    : VINDEX_ERR_NOMEM;
    }
    sgeqrf_(&m, &n, a, &m, tau, work, &lwork, &info);
    if (info == 0)
        sorgqr_(&m, &n, &n, a, &m, tau, work, &lwork, &info);
    vx_free(work);
    vx_free(tau);
    if (info)
        return vx_fail(VINDEX_ERR_INVALID, "IndexLSH: the QR factorisation failed (%d)", info);
    return VINDEX_OK;
}

/* RandomRotationMatrix(d_in, d_out).init(seed): A is d_out x d_in, row-major. */
static vindex_status random_rotation(float *A, int d_in, int d_out, int64_t seed)
{
    if (d_out <= d_in) {
        faiss_float_randn(A, (size_t)d_out * (size_t)d_in, seed);
        return matrix_qr(d_in, d_out, A);
    }
    /* tall: a d_out x d_out rotation, keeping the first d_in columns of each row */
    float *q = vx_alloc((size_t)d_out * (size_t)d_out, sizeof(float));
    if (!q)
        return VINDEX_ERR_NOMEM;
    faiss_float_randn(q, (size_t)d_out * (size_t)d_out, seed);
    vindex_status st = matrix_qr(d_out, d_out, q);
    if (!st)
        for (size_t i = 0; i < (size_t)d_out; i++)
            memcpy(A + i * (size_t)d_in, q + i * (size_t)d_out, (size_t)d_in * sizeof(float));
    vx_free(q);
    return st;
}

/* ---- encoding ----------------------------------------------------------------- */

/* The projections of n vectors on bits [b0, b0+nb): out is n x nb. */
static void project(const lsh *l, size_t n, const float *x, int b0, int nb, float *out)
{
    size_t d = (size_t)l->base.d;
    if (l->rotate) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, nb, (int)d, 1.0f, x, (int)d,
                    l->A + (size_t)b0 * d, (int)d, 0.0f, out, nb);
    } else {
        for (size_t i = 0; i < n; i++)
            memcpy(out + i * (size_t)nb, x + i * d + b0, (size_t)nb * sizeof(float));
    }
}

/* Packs n rows of nbits projections into codes: bit j set when y_j >= t_j. */
static void pack_bits(const lsh *l, size_t n, const float *y, uint8_t *codes)
{
    size_t nbits = (size_t)l->nbits, cs = l->code_size;
    const float *t = l->train_thr ? l->thresholds : NULL;
    for (size_t i = 0; i < n; i++) {
        const float *row = y + i * nbits;
        uint8_t *c = codes + i * cs;
        memset(c, 0, cs);
        if (t) {
            for (size_t j = 0; j < nbits; j++)
                c[j >> 3] |= (uint8_t)((row[j] - t[j] >= 0) << (j & 7));
        } else {
            for (size_t j = 0; j < nbits; j++)
                c[j >> 3] |= (uint8_t)((row[j] >= 0) << (j & 7));
        }
    }
}

typedef struct encode_job {
    const lsh *l;
    size_t n;
    const float *x;
    uint8_t *codes;
    float *scratch; /* CHUNK x nbits per worker */
} encode_job;

static void encode_task(void *ctx, size_t task, int worker)
{
    encode_job *e = ctx;
    const lsh *l = e->l;
    size_t i0 = task * CHUNK, n = e->n - i0 < CHUNK ? e->n - i0 : CHUNK;
    float *y = e->scratch + (size_t)worker * CHUNK * (size_t)l->nbits;
    project(l, n, e->x + i0 * (size_t)l->base.d, 0, l->nbits, y);
    pack_bits(l, n, y, e->codes + i0 * l->code_size);
}

static vindex_status encode(const lsh *l, size_t n, const float *x, uint8_t *codes)
{
    size_t ntasks = (n + CHUNK - 1) / CHUNK;
    int nthreads = ntasks > 1 ? vx_num_threads() : 1;
    encode_job e = {l, n, x, codes, NULL};
    e.scratch = vx_alloc((size_t)nthreads * CHUNK, (size_t)l->nbits * sizeof(float));
    if (!e.scratch)
        return VINDEX_ERR_NOMEM;
    if (l->rotate)
        vx_blas_single_thread();
    vx_parallel_for(ntasks, nthreads, encode_task, &e);
    vx_free(e.scratch);
    return VINDEX_OK;
}

/* ---- training: per-bit medians -------------------------------------------------- */

/* The k-th smallest of v[0..n) (v is reordered), as std::nth_element: Wirth's
 * selection (Hoare partitions around v[k], stopping on equal values, so runs
 * of equal values, common in image data, split evenly). */
static float select_kth(float *v, size_t n, size_t k)
{
    ptrdiff_t lo = 0, hi = (ptrdiff_t)n - 1, kk = (ptrdiff_t)k;
    while (lo < hi) {
        float x = v[kk];
        ptrdiff_t i = lo, j = hi;
        do {
            while (v[i] < x)
                i++;
            while (x < v[j])
                j--;
            if (i <= j) {
                float t = v[i];
                v[i] = v[j];
                v[j] = t;
                i++;
                j--;
            }
        } while (i <= j);
        if (j < kk)
            lo = i;
        if (kk < i)
            hi = j;
    }
    return v[kk];
}

typedef struct train_job {
    const lsh *l;
    size_t n;
    const float *x;
    float *thresholds;
    float *scratch; /* per worker: n x TRAIN_GROUP projections + n */
} train_job;

static void train_task(void *ctx, size_t task, int worker)
{
    train_job *t = ctx;
    const lsh *l = t->l;
    size_t n = t->n;
    int b0 = (int)task * TRAIN_GROUP;
    int nb = l->nbits - b0 < TRAIN_GROUP ? l->nbits - b0 : TRAIN_GROUP;
    float *y = t->scratch + (size_t)worker * n * (TRAIN_GROUP + 1), *col = y + n * TRAIN_GROUP;
    project(l, n, t->x, b0, nb, y);
    for (int b = 0; b < nb; b++) {
        for (size_t i = 0; i < n; i++)
            col[i] = y[i * (size_t)nb + (size_t)b];
        /* Faiss: the upper median, averaged with the lower one when n is even */
        float median = select_kth(col, n, n / 2);
        if (n % 2 == 0)
            median = (median + select_kth(col, n, n / 2 - 1)) / 2;
        t->thresholds[b0 + b] = median;
    }
}

static vindex_status lsh_train(vindex *ix, size_t n, const float *x)
{
    lsh *l = (lsh *)ix;
    if (!l->train_thr) {
        ix->is_trained = true;
        return VINDEX_OK;
    }
    if (n == 0)
        return vx_fail(VINDEX_ERR_INVALID, "train: IndexLSH needs at least one training vector");
    size_t ngroups = ((size_t)l->nbits + TRAIN_GROUP - 1) / TRAIN_GROUP;
    int nthreads = ngroups > 1 ? vx_num_threads() : 1;
    if ((size_t)nthreads > ngroups)
        nthreads = (int)ngroups;
    float *thr = vx_alloc((size_t)l->nbits, sizeof(float));
    float *scratch = vx_alloc((size_t)nthreads * n, (TRAIN_GROUP + 1) * sizeof(float));
    if (!thr || !scratch) {
        vx_free(thr);
        vx_free(scratch);
        return vx_fail(VINDEX_ERR_NOMEM, "train: out of memory for %zu training vectors", n);
    }
    if (l->rotate)
        vx_blas_single_thread();
    train_job t = {l, n, x, thr, scratch};
    vx_parallel_for(ngroups, nthreads, train_task, &t);
    vx_free(scratch);
    vx_free(l->thresholds);
    l->thresholds = thr;
    ix->is_trained = true;
    return VINDEX_OK;
}

/* ---- the index ------------------------------------------------------------------ */

static vindex_status lsh_add(vindex *ix, size_t n, const float *x, const vindex_id *ids)
{
    (void)ids;
    lsh *l = (lsh *)ix;
    size_t at = (size_t)ix->ntotal;
    vindex_status st = vx_codes_reserve(&l->codes, at, at + n, l->code_size, "add");
    if (!st)
        st = encode(l, n, x, l->codes.p + at * l->code_size);
    if (!st)
        ix->ntotal += (int64_t)n;
    return st;
}

static vindex_status lsh_search(const vindex *ix, size_t nq, const float *q, size_t k,
                                const vindex_search_params *p, float *distances,
                                vindex_id *labels)
{
    const lsh *l = (const lsh *)ix;
    uint8_t *qcodes = vx_alloc(nq, l->code_size);
    if (!qcodes)
        return VINDEX_ERR_NOMEM;
    vindex_status st = encode(l, nq, q, qcodes);
    if (!st) {
        vx_hamming_base b = {l->codes.p, (size_t)ix->ntotal, l->code_size, p ? p->sel : NULL};
        st = vx_hamming_knn(&b, nq, qcodes, k, distances, labels);
    }
    vx_free(qcodes);
    return st;
}

static vindex_status lsh_reconstruct(const vindex *ix, vindex_id id, float *out)
{
    const lsh *l = (const lsh *)ix;
    if (id < 0 || id >= ix->ntotal)
        return vx_fail(VINDEX_ERR_NOT_FOUND, "reconstruct: id %lld is not in the index (0..%lld)",
                       (long long)id, (long long)ix->ntotal - 1);
    size_t nbits = (size_t)l->nbits, d = (size_t)ix->d;
    float *y = vx_alloc(nbits, sizeof(float));
    if (!y)
        return VINDEX_ERR_NOMEM;
    const uint8_t *c = l->codes.p + (size_t)id * l->code_size;
    for (size_t j = 0; j < nbits; j++) {
        y[j] = ((c[j >> 3] >> (j & 7)) & 1) ? 1.0f : -1.0f;
        if (l->train_thr)
            y[j] += l->thresholds[j];
    }
    if (l->rotate) { /* x = A^T y */
        for (size_t t = 0; t < d; t++)
            out[t] = 0;
        for (size_t j = 0; j < nbits; j++)
            for (size_t t = 0; t < d; t++)
                out[t] += y[j] * l->A[j * d + t];
    } else {
        memcpy(out, y, nbits * sizeof(float));
        for (size_t t = nbits; t < d; t++)
            out[t] = 0;
    }
    vx_free(y);
    return VINDEX_OK;
}

static vindex_status lsh_remove_ids(vindex *ix, const vindex_selector *sel, size_t *n_removed)
{
    lsh *l = (lsh *)ix;
    size_t n = (size_t)ix->ntotal, kept = 0, cs = l->code_size;
    vindex_status st = vx_codes_reserve(&l->codes, n, n, cs, "remove_ids"); /* copy on write */
    if (st)
        return st;
    for (size_t i = 0; i < n; i++) {
        if (vindex_selector_contains(sel, (vindex_id)i))
            continue;
        if (kept != i)
            memmove(l->codes.p + kept * cs, l->codes.p + i * cs, cs);
        kept++;
    }
    *n_removed = n - kept;
    ix->ntotal = (int64_t)kept;
    return VINDEX_OK;
}

static void lsh_reset(vindex *ix)
{
    lsh *l = (lsh *)ix;
    vx_codes_free(&l->codes);
    ix->ntotal = 0;
}

static void lsh_destroy(vindex *ix)
{
    lsh *l = (lsh *)ix;
    lsh_reset(ix);
    vx_free(l->A);
    vx_free(l->thresholds);
    vx_free(l);
}

static size_t lsh_memory(const vindex *ix)
{
    const lsh *l = (const lsh *)ix;
    size_t nbits = (size_t)l->nbits;
    return sizeof *l + vx_codes_memory(&l->codes, l->code_size) + (l->A ? nbits * (size_t)ix->d * sizeof(float) : 0) +
           (l->thresholds ? nbits * sizeof(float) : 0);
}

static vindex_status lsh_get_param(const vindex *ix, const char *name, double *value)
{
    const lsh *l = (const lsh *)ix;
    if (!strcmp(name, "nbits"))
        *value = l->nbits;
    else if (!strcmp(name, "rotate_data"))
        *value = l->rotate;
    else if (!strcmp(name, "train_thresholds"))
        *value = l->train_thr;
    else if (!strcmp(name, "code_size"))
        *value = (double)l->code_size;
    else
        return VINDEX_ERR_NOT_FOUND;
    return VINDEX_OK;
}

static vindex_status lsh_set_param(vindex *ix, const char *name, double value)
{
    (void)value;
    double v;
    if (lsh_get_param(ix, name, &v) == VINDEX_OK)
        return vx_fail(VINDEX_ERR_INVALID, "set_param: '%s' of IndexLSH is read only", name);
    return VINDEX_ERR_NOT_FOUND;
}

/* ---- persistence (docs/FORMAT.md, "IndexLSH") ---------------------------------- */

#define TAG_LSH_META VX_TAG('L', 'S', 'H', 'M')
#define TAG_LSH_ROTATION VX_TAG('L', 'S', 'H', 'R')
#define TAG_LSH_THRESHOLDS VX_TAG('L', 'S', 'H', 'T')
#define TAG_CODES VX_TAG('C', 'O', 'D', 'E')

static vindex_status lsh_write(const vindex *ix, vx_writer *w)
{
    const lsh *l = (const lsh *)ix;
    const size_t nbits = (size_t)l->nbits;
    vx_io_write_index_header(w, ix, VX_FAMILY_LSH);
    vx_writer_begin(w, TAG_LSH_META);
    vx_writer_u32(w, (uint32_t)l->nbits);
    vx_writer_u32(w, l->rotate ? 1u : 0u);
    vx_writer_u32(w, l->train_thr ? 1u : 0u);
    vx_writer_end(w);
    if (l->rotate) /* stored, not redrawn: the file alone decides the codes */
        vx_writer_array(w, TAG_LSH_ROTATION, l->A, nbits * (size_t)ix->d, sizeof(float));
    if (l->train_thr && ix->is_trained)
        vx_writer_array(w, TAG_LSH_THRESHOLDS, l->thresholds, nbits, sizeof(float));
    vx_io_write_codes(w, TAG_CODES, &l->codes, (size_t)ix->ntotal, l->code_size);
    return vx_writer_status(w);
}

vindex_status vx_lsh_read(vx_reader *r, const vx_io_index_header *h, vindex **out)
{
    vx_cursor c;
    uint32_t nbits, rotate, train_thr;
    vindex_status st;
    if ((st = vx_reader_section(r, TAG_LSH_META, &c)) || (st = vx_cursor_u32(&c, &nbits)) ||
        (st = vx_cursor_u32(&c, &rotate)) || (st = vx_cursor_u32(&c, &train_thr)) ||
        (st = vx_cursor_done(&c)))
        return st;
    const size_t d = (size_t)h->d;
    /* without a rotation, nbits <= d; with one, the rotation's nbits x d floats
     * are in the file (checked by their exact size below) */
    if (h->metric != VINDEX_METRIC_L2 || nbits == 0 || nbits > INT32_MAX || rotate > 1 ||
        train_thr > 1 || (!rotate && nbits > d) ||
        (!train_thr && !h->is_trained) ||
        (h->ntotal > 0 && !h->is_trained))
        return vx_io_corrupt("IndexLSH: nbits %u, rotate %u, train_thresholds %u, trained %d "
                             "(d %zu, metric %d)",
                             nbits, rotate, train_thr, (int)h->is_trained, d, (int)h->metric);
    lsh *l = vx_calloc(1, sizeof *l);
    if (!l)
        return VINDEX_ERR_NOMEM;
    vx_index_init(&l->base, &lsh_ops, h->d, VINDEX_METRIC_L2, h->is_trained);
    l->nbits = (int)nbits;
    l->code_size = ((size_t)nbits + 7) / 8;
    l->rotate = rotate != 0;
    l->train_thr = train_thr != 0;
    *out = &l->base; /* freed by the caller on failure */
    if ((rotate &&
         (st = vx_reader_floats(r, TAG_LSH_ROTATION, (size_t)nbits * d, "IndexLSH", &l->A))) ||
        (train_thr && h->is_trained &&
         (st = vx_reader_floats(r, TAG_LSH_THRESHOLDS, nbits, "IndexLSH", &l->thresholds))) ||
        (st = vx_io_read_codes(r, TAG_CODES, (size_t)h->ntotal, l->code_size, &l->codes)))
        return st;
    if (nbits % 8) { /* the bits past nbits are zero, as encoding leaves them */
        const uint8_t mask = (uint8_t)(0xffu << (nbits % 8));
        for (size_t i = 0; i < (size_t)h->ntotal; i++)
            if (l->codes.p[i * l->code_size + l->code_size - 1] & mask)
                return vx_io_corrupt("IndexLSH: code %zu has bits set past bit %u", i, nbits);
    }
    l->base.ntotal = h->ntotal;
    return VINDEX_OK;
}

static const vx_index_ops lsh_ops = {
    .type_name = "IndexLSH",
    .train = lsh_train,
    .add = lsh_add,
    .search = lsh_search,
    .reconstruct = lsh_reconstruct,
    .remove_ids = lsh_remove_ids,
    .reset = lsh_reset,
    .destroy = lsh_destroy,
    .memory_bytes = lsh_memory,
    .set_param = lsh_set_param,
    .get_param = lsh_get_param,
    .write = lsh_write,
};

VINDEX_API vindex_status vindex_lsh_new(vindex **out, int d, int nbits, int rotate_data,
                                        int train_thresholds)
{
    vx_clear_error();
    vindex_status st = vx_check_new_args(out, d, VINDEX_METRIC_L2, "IndexLSH");
    if (st)
        return st;
    if (nbits <= 0)
        return vx_fail(VINDEX_ERR_INVALID, "IndexLSH: nbits = %d must be positive", nbits);
    if (!rotate_data && nbits > d)
        return vx_fail(VINDEX_ERR_INVALID,
                       "IndexLSH: nbits = %d > d = %d needs rotate_data (without it the code "
                       "takes the first nbits components)",
                       nbits, d);
    int big = nbits > d ? nbits : d;
    if (rotate_data && (int64_t)big * nbits > INT32_MAX)
        return vx_fail(VINDEX_ERR_INVALID,
                       "IndexLSH: a %d x %d rotation is too large for the QR factorisation",
                       nbits, big);
    lsh *l = vx_calloc(1, sizeof *l);
    if (!l)
        return VINDEX_ERR_NOMEM;
    vx_index_init(&l->base, &lsh_ops, d, VINDEX_METRIC_L2, !train_thresholds);
    l->nbits = nbits;
    l->code_size = ((size_t)nbits + 7) / 8;
    l->rotate = rotate_data != 0;
    l->train_thr = train_thresholds != 0;
    if (l->rotate) {
        l->A = vx_alloc((size_t)nbits * (size_t)d, sizeof(float));
        st = l->A ? random_rotation(l->A, d, nbits, FAISS_SEED) : VINDEX_ERR_NOMEM;
        if (st) {
            lsh_destroy(&l->base);
            return st;
        }
    }
    *out = &l->base;
    return VINDEX_OK;
}

static vindex_status lsh_encode_unlocked(const vindex *ix, size_t n, const float *x, uint8_t *codes)
{
    vx_clear_error();
    if (!ix || ix->ops != &lsh_ops)
        return vx_fail(VINDEX_ERR_INVALID, "lsh_encode: %s", ix ? "not an IndexLSH" : "index is NULL");
    vindex_status st = vx_check_vectors(ix->d, "lsh_encode", "vector", n, x);
    if (st)
        return st;
    if (n > 0 && !codes)
        return vx_fail(VINDEX_ERR_INVALID, "lsh_encode: codes is NULL");
    if (!ix->is_trained)
        return vx_fail(VINDEX_ERR_NOT_TRAINED, "lsh_encode: IndexLSH is not trained; call train() first");
    return n ? encode((const lsh *)ix, n, x, codes) : VINDEX_OK;
}

/* The public entry points above, under the index lock (index.h). */

VINDEX_API vindex_status vindex_lsh_encode(const vindex *ix, size_t n, const float *x,
                                           uint8_t *codes)
{
    if (!ix)
        return lsh_encode_unlocked(ix, n, x, codes);
    vx_index_lock_shared(ix);
    vindex_status st = lsh_encode_unlocked(ix, n, x, codes);
    vx_index_unlock(ix);
    return st;
}
