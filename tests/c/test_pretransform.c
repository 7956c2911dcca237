/* Vector transforms and IndexPreTransform: a random rotation preserves L2
 * distances, L2 normalisation + inner product ranks by cosine, PCA keeps
 * recall on data of low intrinsic dimension, OPQ lowers PQ error, shapes
 * round trip, ids / selectors / removal pass through, bad input. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { D = 32 };

/* max |M M^T - I| over an r x c matrix (rows) or M^T M (cols). */
static double orthonormality_error(const float *M, int r, int c, int by_rows)
{
    int n = by_rows ? r : c, len = by_rows ? c : r;
    double worst = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int t = 0; t < len; t++)
                s += by_rows ? (double)M[i * c + t] * M[j * c + t]
                             : (double)M[t * c + i] * M[t * c + j];
            double e = fabs(s - (i == j));
            worst = e > worst ? e : worst;
        }
    return worst;
}

static void random_rotation_preserves_l2(void **state)
{
    (void)state;
    enum { N = 1000, NQ = 30, K = 10 };
    float *x = tu_random_vectors(N, D, 1), *q = tu_random_vectors(NQ, D, 2);
    const int outs[] = {D, D + 16};
    for (int o = 0; o < 2; o++) {
        vindex_transform *t;
        ASSERT_OK(vindex_transform_random_rotation_new(&t, D, outs[o], 7));
        float *A = malloc((size_t)outs[o] * D * sizeof *A);
        ASSERT_OK(vindex_transform_matrix(t, A, NULL));
        assert_true(orthonormality_error(A, outs[o], D, outs[o] <= D) < 1e-5);
        free(A);
        vindex *flat, *ix;
        ASSERT_OK(vindex_flat_new(&flat, outs[o], VINDEX_METRIC_L2));
        ASSERT_OK(vindex_pretransform_new(&ix, t, flat));
        assert_string_equal(vindex_type_name(ix), "IndexPreTransform");
        assert_int_equal(vindex_d(ix), D);
        assert_true(vindex_is_trained(ix));
        ASSERT_OK(vindex_train(ix, N, x)); /* nothing to learn */
        ASSERT_OK(vindex_add(ix, N, x));
        float dist[NQ * K], ref_d[NQ * K];
        vindex_id ids[NQ * K], ref_i[NQ * K];
        ASSERT_OK(vindex_search(ix, NQ, q, K, NULL, dist, ids));
        tu_reference_knn(q, NQ, x, N, D, K, VINDEX_METRIC_L2, ref_d, ref_i);
        tu_check_knn(q, NQ, x, N, D, K, VINDEX_METRIC_L2, dist, ids, ref_d, ref_i, K, 1e-4);
        /* reconstruct reverses the rotation */
        float y[D];
        ASSERT_OK(vindex_reconstruct(ix, 123, y));
        for (int j = 0; j < D; j++)
            assert_true(fabsf(y[j] - x[123 * D + j]) < 1e-5f);
        vindex_free(ix);
    }
    /* d_out < d_in: orthonormal rows, the reverse is a projection */
    vindex_transform *t;
    ASSERT_OK(vindex_transform_random_rotation_new(&t, D, 8, 3));
    float A[8 * D], y[8], back[D], again[8];
    ASSERT_OK(vindex_transform_matrix(t, A, NULL));
    assert_true(orthonormality_error(A, 8, D, 1) < 1e-5);
    ASSERT_OK(vindex_transform_apply(t, 1, x, y));
    ASSERT_OK(vindex_transform_reverse(t, 1, y, back));
    ASSERT_OK(vindex_transform_apply(t, 1, back, again));
    for (int j = 0; j < 8; j++)
        assert_true(fabsf(again[j] - y[j]) < 1e-5f);
    vindex_transform_free(t);
    free(x);
    free(q);
}

static void l2norm_inner_product_is_cosine(void **state)
{
    (void)state;
    enum { N = 800, NQ = 20, K = 8 };
    float *x = tu_random_vectors(N, D, 11), *q = tu_random_vectors(NQ, D, 12);
    for (int i = 0; i < N * D; i++) /* uneven norms */
        x[i] = (x[i] - 0.4f) * (float)(1 + (i / D) % 7);
    vindex_transform *t;
    vindex *flat, *ix;
    ASSERT_OK(vindex_transform_l2norm_new(&t, D));
    ASSERT_OK(vindex_flat_new(&flat, D, VINDEX_METRIC_INNER_PRODUCT));
    ASSERT_OK(vindex_pretransform_new(&ix, t, flat));
    assert_int_equal(vindex_metric_type(ix), VINDEX_METRIC_INNER_PRODUCT);
    ASSERT_OK(vindex_add(ix, N, x));
    float dist[NQ * K], ref_d[NQ * K];
    vindex_id ids[NQ * K], ref_i[NQ * K];
    ASSERT_OK(vindex_search(ix, NQ, q, K, NULL, dist, ids));
    float *xn = malloc(N * D * sizeof *xn), *qn = malloc(NQ * D * sizeof *qn);
    memcpy(xn, x, N * D * sizeof *xn);
    memcpy(qn, q, NQ * D * sizeof *qn);
    ASSERT_OK(vindex_normalize_l2(N, D, xn));
    ASSERT_OK(vindex_normalize_l2(NQ, D, qn));
    tu_reference_knn(qn, NQ, xn, N, D, K, VINDEX_METRIC_INNER_PRODUCT, ref_d, ref_i);
    tu_check_knn(qn, NQ, xn, N, D, K, VINDEX_METRIC_INNER_PRODUCT, dist, ids, ref_d, ref_i, K,
                 1e-4);
    for (int i = 0; i < NQ * K; i++)
        assert_true(dist[i] <= 1.0001f);
    /* L2norm has no matrix; its reverse is the identity on the stored vector */
    assert_int_equal(vindex_transform_matrix(t, NULL, NULL), VINDEX_ERR_UNSUPPORTED);
    float y[D];
    ASSERT_OK(vindex_reconstruct(ix, 5, y));
    for (int j = 0; j < D; j++)
        assert_true(fabsf(y[j] - xn[5 * D + j]) < 1e-5f);
    vindex_free(ix);
    free(x);
    free(q);
    free(xn);
    free(qn);
}

/* n points on an intrinsic-dimension `latent` subspace of D, plus small noise. */
static float *low_rank_vectors(size_t n, int latent, uint64_t seed)
{
    float *basis = tu_random_vectors((size_t)latent, D, seed ^ 0x77);
    float *z = tu_clustered_vectors(n, latent, 10, seed);
    float *noise = tu_random_vectors(n, D, seed ^ 0x99);
    float *x = malloc(n * D * sizeof *x);
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < D; j++) {
            double s = 0.01 * (noise[i * D + j] - 0.5);
            for (int l = 0; l < latent; l++)
                s += (double)z[i * latent + l] * (basis[l * D + j] - 0.5);
            x[i * D + j] = (float)s + 3.0f; /* off-centre: PCA must subtract the mean */
        }
    free(basis);
    free(z);
    free(noise);
    return x;
}

static void pca_keeps_recall(void **state)
{
    (void)state;
    enum { N = 3000, NQ = 50, K = 10, DOUT = 12 };
    float *x = low_rank_vectors(N, 8, 21), *q = low_rank_vectors(NQ, 8, 22);
    vindex_transform *t;
    ASSERT_OK(vindex_transform_pca_new(&t, D, DOUT, 0, 0));
    int trained = 1;
    ASSERT_OK(vindex_transform_info(t, NULL, NULL, &trained));
    assert_int_equal(trained, 0);
    vindex *flat, *ix;
    ASSERT_OK(vindex_flat_new(&flat, DOUT, VINDEX_METRIC_L2));
    ASSERT_OK(vindex_pretransform_new(&ix, t, flat));
    assert_false(vindex_is_trained(ix));
    ASSERT_OK(vindex_train(ix, N, x));
    assert_true(vindex_is_trained(ix));
    ASSERT_OK(vindex_add(ix, N, x));
    float dist[NQ * K], ref_d[NQ * K];
    vindex_id ids[NQ * K], ref_i[NQ * K];
    ASSERT_OK(vindex_search(ix, NQ, q, K, NULL, dist, ids));
    tu_reference_knn(q, NQ, x, N, D, K, VINDEX_METRIC_L2, ref_d, ref_i);
    double r = tu_recall(ids, ref_i, NQ, K, K);
    if (r < 0.9)
        fail_msg("PCA%d recall %.3f", DOUT, r);
    /* orthonormal rows; reconstruct is close (the data is nearly rank 8) */
    float A[DOUT * D];
    ASSERT_OK(vindex_transform_matrix(t, A, NULL));
    assert_true(orthonormality_error(A, DOUT, D, 1) < 1e-4);
    float y[D];
    ASSERT_OK(vindex_reconstruct(ix, 17, y));
    for (int j = 0; j < D; j++)
        assert_true(fabsf(y[j] - x[17 * D + j]) < 0.02f);
    vindex_free(ix);

    /* PCA to the full dimension is a rotation about the mean: exact round trip */
    ASSERT_OK(vindex_transform_pca_new(&t, D, D, 0, 1));
    ASSERT_OK(vindex_transform_train(t, N, x));
    float z[D], back[D];
    ASSERT_OK(vindex_transform_apply(t, 1, x + 5 * D, z));
    ASSERT_OK(vindex_transform_reverse(t, 1, z, back));
    for (int j = 0; j < D; j++)
        assert_true(fabsf(back[j] - x[5 * D + j]) < 1e-3f);
    vindex_transform_free(t);

    /* whitening: unit variance per output, no reverse */
    ASSERT_OK(vindex_transform_pca_new(&t, D, 4, -0.5f, 0));
    ASSERT_OK(vindex_transform_train(t, N, x));
    float *w = malloc(N * 4 * sizeof *w);
    ASSERT_OK(vindex_transform_apply(t, N, x, w));
    for (int j = 0; j < 4; j++) {
        double s = 0, s2 = 0;
        for (int i = 0; i < N; i++) {
            s += w[i * 4 + j];
            s2 += (double)w[i * 4 + j] * w[i * 4 + j];
        }
        assert_true(fabs(s / N) < 1e-3);
        assert_true(fabs(s2 / N - 1) < 1e-2);
    }
    assert_int_equal(vindex_transform_reverse(t, 1, w, back), VINDEX_ERR_UNSUPPORTED);
    free(w);
    vindex_transform_free(t);
    free(x);
    free(q);
}

/* Mean squared PQ reconstruction error of x (n x d) with an M x 8-bit PQ. */
static double pq_error(size_t n, int d, const float *x, int M)
{
    vindex_pq_codec *pq;
    ASSERT_OK(vindex_pq_codec_new(&pq, d, M, 8));
    ASSERT_OK(vindex_pq_codec_train(pq, n, x));
    uint8_t *codes = malloc(n * (size_t)M);
    float *rec = malloc(n * (size_t)d * sizeof *rec);
    ASSERT_OK(vindex_pq_codec_compute_codes(pq, n, x, codes));
    ASSERT_OK(vindex_pq_codec_decode(pq, n, codes, rec));
    double e = 0;
    for (size_t i = 0; i < n * (size_t)d; i++)
        e += ((double)rec[i] - x[i]) * ((double)rec[i] - x[i]);
    vindex_pq_codec_free(pq);
    free(codes);
    free(rec);
    return e / (double)n;
}

static void opq_lowers_pq_error(void **state)
{
    (void)state;
    enum { DO = 16, M = 4 };
    /* OPQ's 50 rounds of PQ training dominate: 400 points in small-data mode */
    const int N = (int)tu_pick(2000, 400);
    /* correlated dimensions with all the variance in the first sub-space */
    uint64_t s = 31;
    float *x = malloc(N * DO * sizeof *x);
    for (int i = 0; i < N; i++) {
        float a = tu_uniform(&s) - 0.5f, b = tu_uniform(&s) - 0.5f, c = tu_uniform(&s) - 0.5f;
        for (int j = 0; j < DO; j++)
            x[i * DO + j] = (j < 4 ? 4.0f : 0.2f) * (j % 3 == 0 ? a : j % 3 == 1 ? b : c) +
                            0.05f * (tu_uniform(&s) - 0.5f);
    }
    vindex_transform *t;
    ASSERT_OK(vindex_transform_opq_new(&t, DO, 0, M));
    ASSERT_OK(vindex_transform_train(t, N, x));
    float A[DO * DO];
    ASSERT_OK(vindex_transform_matrix(t, A, NULL));
    assert_true(orthonormality_error(A, DO, DO, 1) < 1e-4);
    float *y = malloc(N * DO * sizeof *y);
    ASSERT_OK(vindex_transform_apply(t, N, x, y));
    double plain = pq_error(N, DO, x, M), rotated = pq_error(N, DO, y, M);
    if (getenv("TEST_PT_VERBOSE"))
        printf("OPQ: PQ error %.5f rotated vs %.5f plain\n", rotated, plain);
    if (!(rotated < 0.9 * plain))
        fail_msg("OPQ: PQ error %.5f rotated vs %.5f plain", rotated, plain);
    free(y);

    /* OPQ then PQ through the factory-like composite */
    vindex *pq, *ix;
    ASSERT_OK(vindex_pq_new(&pq, DO, M, 8, VINDEX_METRIC_L2));
    vindex_transform *t2;
    ASSERT_OK(vindex_transform_opq_new(&t2, DO, 8, 2)); /* OPQ2_8: 16 -> 8 */
    vindex_free(pq);
    ASSERT_OK(vindex_pq_new(&pq, 8, 2, 8, VINDEX_METRIC_L2));
    ASSERT_OK(vindex_pretransform_new(&ix, t2, pq));
    ASSERT_OK(vindex_train(ix, N, x));
    ASSERT_OK(vindex_add(ix, N, x));
    float dist[5];
    vindex_id ids[5];
    ASSERT_OK(vindex_search(ix, 1, x + 3 * DO, 5, NULL, dist, ids));
    assert_true(ids[0] >= 0);
    vindex_free(ix);
    vindex_transform_free(t);
    free(x);
}

static void ids_selectors_remove_reset(void **state)
{
    (void)state;
    enum { N = 500, K = 4 };
    float *x = tu_random_vectors(N, D, 41);
    vindex_transform *t;
    vindex *flat, *pt, *ix;
    ASSERT_OK(vindex_transform_random_rotation_new(&t, D, D, 9));
    ASSERT_OK(vindex_flat_new(&flat, D, VINDEX_METRIC_L2));
    ASSERT_OK(vindex_pretransform_new(&pt, t, flat));
    ASSERT_OK(vindex_idmap2_new(&ix, pt)); /* labels by position: IDMap wraps it */
    vindex_id *ids = malloc(N * sizeof *ids);
    for (int i = 0; i < N; i++)
        ids[i] = 1000 + 3 * i;
    ASSERT_OK(vindex_add_with_ids(ix, N, x, ids));
    float dist[K], y[D];
    vindex_id got[K];
    ASSERT_OK(vindex_search(ix, 1, x + 10 * D, K, NULL, dist, got));
    assert_int_equal(got[0], 1030);
    vindex_selector *sel;
    ASSERT_OK(vindex_selector_range(&sel, 1000, 1030));
    vindex_search_params p;
    vindex_search_params_init(&p);
    p.sel = sel;
    ASSERT_OK(vindex_search(ix, 1, x + 10 * D, K, &p, dist, got));
    for (int i = 0; i < K; i++)
        assert_true(got[i] >= 1000 && got[i] < 1030);
    size_t removed;
    ASSERT_OK(vindex_remove_ids(ix, sel, &removed));
    assert_int_equal(removed, 10);
    assert_int_equal(vindex_ntotal(ix), N - 10);
    assert_int_equal(vindex_ntotal(pt), N - 10);
    ASSERT_OK(vindex_reconstruct(ix, 1030, y));
    for (int j = 0; j < D; j++)
        assert_true(fabsf(y[j] - x[10 * D + j]) < 1e-5f);
    vindex_selector_free(sel);
    ASSERT_OK(vindex_reset(ix));
    assert_int_equal(vindex_ntotal(pt), 0);
    vindex_free(ix);

    /* an inner index with ids (IVF) takes add_with_ids through the wrapper */
    vindex *ivf;
    ASSERT_OK(vindex_factory(&ivf, D, "IVF4,Flat", VINDEX_METRIC_L2));
    ASSERT_OK(vindex_transform_random_rotation_new(&t, D, D, 9));
    ASSERT_OK(vindex_pretransform_new(&ix, t, ivf));
    assert_false(vindex_is_trained(ix));
    ASSERT_OK(vindex_train(ix, N, x));
    ASSERT_OK(vindex_add_with_ids(ix, N, x, ids));
    ASSERT_OK(vindex_set_param(ix, "nprobe", 4));
    double v;
    ASSERT_OK(vindex_get_param(ix, "nprobe", &v));
    assert_true(v == 4);
    ASSERT_OK(vindex_search(ix, 1, x + 7 * D, K, NULL, dist, got));
    assert_int_equal(got[0], 1021);
    vindex_range_result *res;
    ASSERT_OK(vindex_range_search(ix, 1, x + 7 * D, 1e-3f, NULL, &res));
    assert_int_equal(res->lims[1], 1);
    assert_int_equal(res->labels[0], 1021);
    vindex_range_result_free(res);
    assert_true(vindex_memory_bytes(ix) > (size_t)N * D * 4);
    vindex_free(ix);
    free(ids);
    free(x);
}

/* Adds and searches of more rows than one chunk (chunks of 2^20 floats). */
static void many_rows_in_chunks(void **state)
{
    (void)state;
    enum { DD = 4, N = (1 << 18) + 77 };
    float *x = tu_random_vectors(N, DD, 51);
    vindex_transform *t;
    vindex *flat, *ix;
    ASSERT_OK(vindex_transform_random_rotation_new(&t, DD, DD, 5));
    ASSERT_OK(vindex_flat_new(&flat, DD, VINDEX_METRIC_L2));
    ASSERT_OK(vindex_pretransform_new(&ix, t, flat));
    ASSERT_OK(vindex_add(ix, N, x));
    assert_int_equal(vindex_ntotal(ix), N);
    float y[DD];
    ASSERT_OK(vindex_reconstruct(ix, N - 1, y));
    for (int j = 0; j < DD; j++)
        assert_true(fabsf(y[j] - x[(size_t)(N - 1) * DD + j]) < 1e-5f);
    vindex_free(ix);
    free(x);
}

static void bad_input(void **state)
{
    (void)state;
    vindex_transform *t = (vindex_transform *)0x1;
    vindex *flat, *ix = (vindex *)0x1;
    assert_int_equal(vindex_transform_random_rotation_new(&t, 0, 4, 1), VINDEX_ERR_INVALID);
    assert_null(t);
    assert_int_equal(vindex_transform_random_rotation_new(NULL, 4, 4, 1), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_transform_l2norm_new(&t, -1), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_transform_pca_new(&t, 8, 16, 0, 0), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_transform_pca_new(&t, 8, 4, 0.5f, 0), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_transform_pca_new(&t, 8, 4, NAN, 0), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_transform_opq_new(&t, 16, 0, 3), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_transform_opq_new(&t, 16, 32, 4), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_transform_apply(NULL, 1, NULL, NULL), VINDEX_ERR_INVALID);

    /* dimension mismatch: the caller keeps both */
    ASSERT_OK(vindex_transform_random_rotation_new(&t, D, 16, 1));
    ASSERT_OK(vindex_flat_new(&flat, D, VINDEX_METRIC_L2));
    assert_int_equal(vindex_pretransform_new(&ix, t, flat), VINDEX_ERR_DIM);
    assert_null(ix);
    assert_non_null(strstr(vindex_last_error(), "dim"));
    assert_int_equal(vindex_pretransform_new(&ix, NULL, flat), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_pretransform_new(&ix, t, NULL), VINDEX_ERR_INVALID);
    vindex_transform_free(t);
    vindex_free(flat);

    /* untrained PCA: apply refused, search refused until train */
    float *x = tu_random_vectors(10, D, 61), out[D];
    ASSERT_OK(vindex_transform_pca_new(&t, D, 8, 0, 0));
    assert_int_equal(vindex_transform_apply(t, 1, x, out), VINDEX_ERR_NOT_TRAINED);
    assert_int_equal(vindex_transform_train(t, 1, x), VINDEX_ERR_INVALID); /* n < 2 */
    x[3] = NAN;
    assert_int_equal(vindex_transform_train(t, 10, x), VINDEX_ERR_INVALID);
    x[3] = 0.5f;
    ASSERT_OK(vindex_flat_new(&flat, 8, VINDEX_METRIC_L2));
    ASSERT_OK(vindex_pretransform_new(&ix, t, flat));
    float dist[1];
    vindex_id id[1];
    assert_int_equal(vindex_search(ix, 1, x, 1, NULL, dist, id), VINDEX_ERR_NOT_TRAINED);
    assert_int_equal(vindex_add(ix, 1, x), VINDEX_ERR_NOT_TRAINED);
    ASSERT_OK(vindex_train(ix, 10, x));
    ASSERT_OK(vindex_add(ix, 10, x));
    assert_int_equal(vindex_add_with_ids(ix, 1, x, id), VINDEX_ERR_UNSUPPORTED);
    assert_int_equal(vindex_reconstruct(ix, 99, out), VINDEX_ERR_NOT_FOUND);
    vindex_free(ix);

    /* OPQ needs 256 training vectors */
    ASSERT_OK(vindex_transform_opq_new(&t, D, 0, 4));
    assert_int_equal(vindex_transform_train(t, 10, x), VINDEX_ERR_INVALID);
    vindex_transform_free(t);
    vindex_transform_free(NULL);
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_rotation_preserves_l2),
        cmocka_unit_test(l2norm_inner_product_is_cosine),
        cmocka_unit_test(pca_keeps_recall),
        cmocka_unit_test(opq_lowers_pq_error),
        cmocka_unit_test(ids_selectors_remove_reset),
        cmocka_unit_test(many_rows_in_chunks),
        cmocka_unit_test(bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
