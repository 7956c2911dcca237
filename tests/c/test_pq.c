/* Product quantization: the codec (bit layout, decode error, tables against
 * decode-then-distance, symmetric tables, determinism), the PQ kernels at every
 * SIMD level against the scalar code, and IndexPQ (exact ADC search over the
 * decoded vectors, recall against brute force, batch = single = any thread
 * count, empty index, remove, range search, memory, bad input). */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant/pq.h"
#include "simd/kernels.h"
#include "simd/pq_kernels.h"

enum { D = 32, K = 10 };

static vindex_pq_codec *trained_codec(int d, int M, int nbits, size_t n, const float *x)
{
    vindex_pq_codec *c;
    ASSERT_OK(vindex_pq_codec_new(&c, d, M, nbits));
    ASSERT_OK(vindex_pq_codec_train(c, n, x));
    assert_true(vindex_pq_codec_is_trained(c));
    return c;
}

/* mean squared reconstruction error per vector */
static double decode_mse(const vindex_pq_codec *c, size_t n, int d, const float *x)
{
    size_t cs;
    ASSERT_OK(vindex_pq_codec_info(c, NULL, NULL, NULL, &cs));
    uint8_t *codes = malloc(n * cs);
    float *y = malloc(n * (size_t)d * sizeof *y);
    ASSERT_OK(vindex_pq_codec_compute_codes(c, n, x, codes));
    ASSERT_OK(vindex_pq_codec_decode(c, n, codes, y));
    double e = 0;
    for (size_t i = 0; i < n; i++)
        e += tu_distance(x + i * (size_t)d, y + i * (size_t)d, d, VINDEX_METRIC_L2);
    free(codes);
    free(y);
    return e / (double)n;
}

/* Decode error: far below the data's variance, smaller with more bits and
 * more sub-quantizers, and encode(decode(c)) == c. */
static void decode_error_within_expectation(void **state)
{
    (void)state;
    const size_t n = tu_pick(4000, 1500); /* small-data mode: tu_small */
    float *x = tu_random_vectors(n, D, 1);
    /* variance of uniform [0,1) is 1/12 per dimension */
    const double var = D / 12.0;
    vindex_pq_codec *c8 = trained_codec(D, 8, 8, n, x); /* 4 dims per 256 centroids */
    vindex_pq_codec *c4 = trained_codec(D, 8, 4, n, x);
    vindex_pq_codec *c16x4 = trained_codec(D, 16, 4, n, x);
    double e8 = decode_mse(c8, n, D, x), e4 = decode_mse(c4, n, D, x),
           e16 = decode_mse(c16x4, n, D, x);
    /* 4-d uniform cube, 256 cells: about var * 256^(-2/4) * 1.2 (k-means on
     * a training set this small does a little better on it) */
    if (!(e8 < 0.12 * var && e4 < 0.35 * var && e8 < e4 && e16 < e4))
        fail_msg("decode mse: 8x8 %.4f, 8x4 %.4f, 16x4 %.4f (variance %.4f)", e8, e4, e16, var);
    /* codes of decoded vectors are the same codes */
    size_t cs;
    ASSERT_OK(vindex_pq_codec_info(c8, NULL, NULL, NULL, &cs));
    assert_int_equal(cs, 8);
    uint8_t codes[100 * 8], again[100 * 8];
    float y[100 * D];
    ASSERT_OK(vindex_pq_codec_compute_codes(c8, 100, x, codes));
    ASSERT_OK(vindex_pq_codec_decode(c8, 100, codes, y));
    ASSERT_OK(vindex_pq_codec_compute_codes(c8, 100, y, again));
    assert_memory_equal(codes, again, sizeof codes);
    vindex_pq_codec_free(c8);
    vindex_pq_codec_free(c4);
    vindex_pq_codec_free(c16x4);
    free(x);
}

/* Faiss's packing: sub-code m at bits m*nbits.., least significant first. With
 * centroids chosen so that centroid v of every sub-space is (v, v, ...), the
 * vector (v_0.., v_1.., ...) encodes to exactly v_0, v_1, ... */
static void bit_layout_as_faiss(void **state)
{
    (void)state;
    const int widths[] = {1, 3, 4, 5, 7, 8, 11, 12, 16};
    for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
        const int nbits = widths[w], M = 5, dsub = 2, d = M * dsub;
        const size_t ksub = (size_t)1 << nbits;
        vindex_pq_codec *c;
        ASSERT_OK(vindex_pq_codec_new(&c, d, M, nbits));
        float *cent = malloc((size_t)M * ksub * dsub * sizeof *cent);
        for (int m = 0; m < M; m++)
            for (size_t v = 0; v < ksub; v++)
                for (int t = 0; t < dsub; t++)
                    cent[((size_t)m * ksub + v) * dsub + t] = (float)v;
        ASSERT_OK(vindex_pq_codec_set_centroids(c, cent));
        size_t cs;
        ASSERT_OK(vindex_pq_codec_info(c, NULL, NULL, NULL, &cs));
        assert_int_equal(cs, (size_t)(M * nbits + 7) / 8);
        uint64_t seed = 7 + (uint64_t)w;
        for (int trial = 0; trial < 20; trial++) {
            uint32_t v[5];
            float x[10], y[10];
            for (int m = 0; m < M; m++) {
                v[m] = (uint32_t)(tu_rand_next(&seed) & (ksub - 1));
                x[m * dsub] = x[m * dsub + 1] = (float)v[m];
            }
            uint8_t code[16];
            ASSERT_OK(vindex_pq_codec_compute_codes(c, 1, x, code));
            for (int m = 0; m < M; m++) {
                uint32_t got = 0;
                for (int b = 0; b < nbits; b++) {
                    size_t bit = (size_t)(m * nbits + b);
                    got |= (uint32_t)((code[bit / 8] >> (bit % 8)) & 1) << b;
                }
                assert_int_equal(got, v[m]);
            }
            /* unused high bits of the last byte stay zero */
            if ((M * nbits) % 8)
                assert_int_equal(code[cs - 1] >> ((M * nbits) % 8), 0);
            ASSERT_OK(vindex_pq_codec_decode(c, 1, code, y));
            assert_memory_equal(x, y, sizeof x);
        }
        float *back = malloc((size_t)M * ksub * dsub * sizeof *back);
        ASSERT_OK(vindex_pq_codec_centroids(c, back));
        assert_memory_equal(cent, back, (size_t)M * ksub * dsub * sizeof *back);
        free(back);
        free(cent);
        vindex_pq_codec_free(c);
    }
}

/* sum of table lookups == distance to the decoded vector (L2 and IP), and the
 * symmetric table == distances between centroids */
static void tables_equal_decode_then_distance(void **state)
{
    (void)state;
    enum { nq = 20, M = 8, nbits = 6 };
    const size_t n = tu_pick(3000, 1000);
    const size_t ksub = 1 << nbits;
    float *x = tu_clustered_vectors(n, D, 40, 2), *q = tu_random_vectors(nq, D, 3);
    vindex_pq_codec *c = trained_codec(D, M, nbits, n, x);
    size_t cs;
    ASSERT_OK(vindex_pq_codec_info(c, NULL, NULL, NULL, &cs));
    uint8_t *codes = malloc(200 * cs);
    float *y = malloc(200 * D * sizeof *y);
    ASSERT_OK(vindex_pq_codec_compute_codes(c, 200, x, codes));
    ASSERT_OK(vindex_pq_codec_decode(c, 200, codes, y));
    float *tab = malloc(nq * M * ksub * sizeof *tab);
    for (int mt = 0; mt < 2; mt++) {
        vindex_metric metric = mt ? VINDEX_METRIC_INNER_PRODUCT : VINDEX_METRIC_L2;
        ASSERT_OK(vindex_pq_codec_compute_distance_tables(c, nq, q, metric, tab));
        for (int i = 0; i < nq; i++)
            for (int j = 0; j < 200; j++) {
                double s = 0;
                for (int m = 0; m < M; m++) {
                    uint32_t v = vx_pq_get(codes + (size_t)j * cs, cs, nbits, m);
                    s += tab[((size_t)i * M + (size_t)m) * ksub + v];
                }
                double want = tu_distance(q + i * D, y + j * D, D, metric);
                if (fabs(s - want) > 1e-4 * (1 + fabs(want)))
                    fail_msg("metric %d query %d code %d: table sum %.7g, distance %.7g", mt, i,
                             j, s, want);
            }
    }
    /* a batch's tables equal one query's */
    float one[M * 64];
    ASSERT_OK(vindex_pq_codec_compute_distance_tables(c, 1, q + 7 * D, VINDEX_METRIC_L2, one));
    ASSERT_OK(vindex_pq_codec_compute_distance_tables(c, nq, q, VINDEX_METRIC_L2, tab));
    assert_memory_equal(one, tab + 7 * M * ksub, sizeof one);
    /* symmetric */
    float *sdc = malloc(M * ksub * ksub * sizeof *sdc);
    float *cent = malloc(M * ksub * (D / M) * sizeof *cent);
    ASSERT_OK(vindex_pq_codec_compute_sdc_table(c, sdc));
    ASSERT_OK(vindex_pq_codec_centroids(c, cent));
    for (int m = 0; m < M; m++)
        for (size_t a = 0; a < ksub; a += 7)
            for (size_t b = 0; b < ksub; b++) {
                double want = tu_distance(cent + (m * ksub + a) * (D / M),
                                          cent + (m * ksub + b) * (D / M), D / M,
                                          VINDEX_METRIC_L2);
                assert_true(fabs(sdc[(m * ksub + a) * ksub + b] - want) <= 1e-5 * (1 + want));
            }
    free(sdc);
    free(cent);
    free(tab);
    free(codes);
    free(y);
    free(x);
    free(q);
    vindex_pq_codec_free(c);
}

/* Training gives the same codebooks with 1, 2 or 3 threads. */
static void training_independent_of_threads(void **state)
{
    (void)state;
    enum { M = 4, nbits = 5 };
    const size_t n = tu_pick(2000, 600);
    float *x = tu_clustered_vectors(n, D, 30, 9);
    const size_t nc = (size_t)M * 32 * (D / M);
    float *c1 = malloc(nc * sizeof *c1), *c2 = malloc(nc * sizeof *c2);
    for (int t = 1; t <= 3; t++) {
        vindex_set_num_threads(t);
        vindex_pq_codec *c = trained_codec(D, M, nbits, n, x);
        ASSERT_OK(vindex_pq_codec_centroids(c, t == 1 ? c1 : c2));
        if (t > 1)
            assert_memory_equal(c1, c2, nc * sizeof *c1);
        vindex_pq_codec_free(c);
    }
    vindex_set_num_threads(0);
    free(c1);
    free(c2);
    free(x);
}

/* The SIMD kernels give the scalar kernels' bits. */
static void kernels_match_scalar(void **state)
{
    (void)state;
    uint64_t seed = 11;
    const vx_pq_kernel_table *ref = vx_pq_kernels_at(VX_LEVEL_SCALAR);
    for (int level = VX_LEVEL_AVX2; level <= VX_LEVEL_AVX512; level++) {
        const vx_pq_kernel_table *kt = vx_pq_kernels_at(level);
        if (!kt)
            continue;
        for (size_t M = 1; M <= 20; M += 3) {
            enum { n = 37 };
            float *table = malloc(M * 256 * VX_PQ_TQ * sizeof *table);
            uint8_t *codes = malloc(n * M + 1);
            for (size_t i = 0; i < M * 256 * VX_PQ_TQ; i++)
                table[i] = tu_uniform(&seed) * 10 - 2;
            for (size_t i = 0; i < n * M; i++)
                codes[i] = (uint8_t)tu_rand_next(&seed);
            /* unaligned codes */
            memmove(codes + 1, codes, n * M);
            float o1[n], o2[n], t1[n * VX_PQ_TQ], t2[n * VX_PQ_TQ], thr[VX_PQ_TQ];
            ref->scan8(o1, table, M, codes + 1, n);
            kt->scan8(o2, table, M, codes + 1, n);
            assert_memory_equal(o1, o2, sizeof o1);
            for (int a = 0; a < VX_PQ_TQ; a++)
                thr[a] = (float)M * (a % 3 == 0 ? 2.5f : 3.5f);
            uint32_t h1[n], h2[n];
            size_t c1 = ref->scan8_tq(t1, h1, table, M, codes + 1, n, thr);
            size_t c2 = kt->scan8_tq(t2, h2, table, M, codes + 1, n, thr);
            assert_memory_equal(t1, t2, sizeof t1);
            assert_int_equal(c1, c2);
            assert_memory_equal(h1, h2, c1 * sizeof *h1);
            /* the transposed table of query a, read plainly, gives scan8's bits */
            for (int a = 0; a < VX_PQ_TQ; a += 5) {
                float *plain = malloc(M * 256 * sizeof *plain);
                for (size_t e = 0; e < M * 256; e++)
                    plain[e] = table[e * VX_PQ_TQ + a];
                ref->scan8(o1, plain, M, codes + 1, n);
                for (int j = 0; j < n; j++)
                    assert_true(o1[j] == t1[j * VX_PQ_TQ + a]);
                free(plain);
            }
            free(table);
            free(codes);
        }
        /* argmin: first minimum, ties and tails */
        for (size_t n = 1; n <= 70; n++) {
            float row[70], off[70];
            for (size_t j = 0; j < n; j++) {
                row[j] = (float)(tu_rand_next(&seed) % 5);
                off[j] = (float)(tu_rand_next(&seed) % 3);
            }
            uint32_t a1, a2, a3;
            float v1 = ref->argmin_offset(row, off, n, &a1);
            float v2 = kt->argmin_offset(row, off, n, &a2);
            assert_true(v1 == v2);
            assert_int_equal(a1, a2);
            float s1, s2;
            v1 = ref->argmin2_offset(row, off, n, &a1, &s1);
            v2 = kt->argmin2_offset(row, off, n, &a3, &s2);
            assert_true(v1 == v2 && s1 == s2 && v1 <= s1);
            assert_int_equal(a1, a2);
            assert_int_equal(a3, a2);
        }
        /* sums of rows in double, for every width up to a few registers */
        for (size_t d = 1; d <= 150; d += 7) {
            enum { nr = 9, nx = 20 };
            float *x = malloc(nx * d * sizeof *x);
            for (size_t i = 0; i < nx * d; i++)
                x[i] = tu_uniform(&seed) * 1000 - 300;
            size_t rows[nr];
            for (int t = 0; t < nr; t++)
                rows[t] = tu_rand_next(&seed) % nx;
            double s1[150], s2[150];
            ref->sum_rows(s1, x, d, rows, nr);
            kt->sum_rows(s2, x, d, rows, nr);
            assert_memory_equal(s1, s2, d * sizeof *s1);
            free(x);
        }
    }
}

static void bad_input(void **state)
{
    (void)state;
    vindex_pq_codec *c;
    vindex *ix;
    assert_int_equal(vindex_pq_codec_new(&c, 32, 8, 0), VINDEX_ERR_INVALID);
    assert_non_null(strstr(vindex_last_error(), "nbits"));
    assert_int_equal(vindex_pq_codec_new(&c, 32, 8, 17), VINDEX_ERR_INVALID);
    assert_non_null(strstr(vindex_last_error(), "1..16"));
    assert_int_equal(vindex_pq_codec_new(&c, 30, 8, 8), VINDEX_ERR_INVALID);
    assert_non_null(strstr(vindex_last_error(), "not a multiple of M"));
    assert_int_equal(vindex_pq_codec_new(&c, 32, 0, 8), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_pq_new(&ix, 784, 15, 8, VINDEX_METRIC_L2), VINDEX_ERR_INVALID);
    assert_non_null(strstr(vindex_last_error(), "d = 784 is not a multiple of M = 15"));
    assert_null(ix);
    assert_int_equal(vindex_pq_new(&ix, 32, 8, 24, VINDEX_METRIC_L2), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_pq_new(&ix, 0, 8, 8, VINDEX_METRIC_L2), VINDEX_ERR_INVALID);
    /* too few training points: the message names the minimum */
    float *x = tu_random_vectors(300, D, 4);
    ASSERT_OK(vindex_pq_new(&ix, D, 8, 9, VINDEX_METRIC_L2));
    assert_int_equal(vindex_train(ix, 300, x), VINDEX_ERR_INVALID);
    assert_non_null(strstr(vindex_last_error(), "at least 512"));
    assert_false(vindex_is_trained(ix));
    /* untrained: add, search and codec operations refuse */
    float dis[K];
    vindex_id ids[K];
    assert_int_equal(vindex_add(ix, 10, x), VINDEX_ERR_NOT_TRAINED);
    assert_int_equal(vindex_search(ix, 1, x, K, NULL, dis, ids), VINDEX_ERR_NOT_TRAINED);
    ASSERT_OK(vindex_pq_codec_new(&c, D, 8, 8));
    uint8_t code[8];
    assert_int_equal(vindex_pq_codec_compute_codes(c, 1, x, code), VINDEX_ERR_NOT_TRAINED);
    assert_int_equal(vindex_pq_codec_train(c, 255, x), VINDEX_ERR_INVALID);
    assert_non_null(strstr(vindex_last_error(), "at least 256"));
    /* NaN */
    x[5] = NAN;
    assert_int_equal(vindex_pq_codec_train(c, 300, x), VINDEX_ERR_INVALID);
    assert_false(vindex_pq_codec_is_trained(c));
    /* add_with_ids: labels are positions (wrap in IDMap) */
    vindex_pq_codec_free(c);
    vindex_free(ix);
    free(x);
}

/* IndexPQ returns the exact k nearest of the decoded vectors (ADC), for L2 and
 * IP, batches and single queries alike, with any thread count; recall against
 * the true neighbours is high on clustered data. */
static void index_search_is_exact_adc(void **state)
{
    (void)state;
    enum { nq = 70 };
    const int n = (int)tu_pick(6000, 1500);
    const int widths[] = {8, 5};
    for (int w = 0; w < 2; w++)
        for (int mt = 0; mt < 2; mt++) {
            vindex_metric metric = mt ? VINDEX_METRIC_INNER_PRODUCT : VINDEX_METRIC_L2;
            float *x = tu_clustered_vectors(n + nq, D, 60, 5 + (uint64_t)w);
            const float *q = x + (size_t)n * D;
            vindex *ix;
            ASSERT_OK(vindex_pq_new(&ix, D, 16, widths[w], metric));
            assert_string_equal(vindex_type_name(ix), "IndexPQ");
            ASSERT_OK(vindex_train(ix, n, x));
            /* trained and empty: -1 everywhere, as Faiss */
            float dis[nq * K], d2[nq * K];
            vindex_id ids[nq * K], i2[nq * K];
            ASSERT_OK(vindex_search(ix, 2, q, K, NULL, dis, ids));
            for (int j = 0; j < 2 * K; j++)
                assert_int_equal(ids[j], -1);
            size_t mem0 = vindex_memory_bytes(ix);
            ASSERT_OK(vindex_add(ix, n / 2, x));
            ASSERT_OK(vindex_add(ix, n - n / 2, x + (size_t)(n / 2) * D));
            assert_int_equal(vindex_ntotal(ix), n);
            assert_true(vindex_memory_bytes(ix) >= mem0 + (size_t)n * 16 * (size_t)widths[w] / 8);
            float *recon = malloc((size_t)n * D * sizeof *recon);
            ASSERT_OK(vindex_reconstruct_n(ix, 0, n, recon));
            float *rd = malloc(nq * K * sizeof *rd);
            vindex_id *ri = malloc(nq * K * sizeof *ri);
            tu_reference_knn(q, nq, recon, n, D, K, metric, rd, ri);
            vindex_set_num_threads(1);
            ASSERT_OK(vindex_search(ix, nq, q, K, NULL, dis, ids));
            tu_check_knn(q, nq, recon, n, D, K, metric, dis, ids, rd, ri, K, 1e-4);
            for (int t = 1; t <= 3; t++) {
                vindex_set_num_threads(t);
                ASSERT_OK(vindex_search(ix, nq, q, K, NULL, d2, i2));
                assert_memory_equal(dis, d2, sizeof dis);
                assert_memory_equal(ids, i2, sizeof ids);
                for (int i = 0; i < nq; i += 3)
                    ASSERT_OK(vindex_search(ix, 1, q + i * D, K, NULL, d2 + i * K, i2 + i * K));
                for (int i = 0; i < nq; i += 3) {
                    assert_memory_equal(dis + i * K, d2 + i * K, K * sizeof *dis);
                    assert_memory_equal(ids + i * K, i2 + i * K, K * sizeof *ids);
                }
            }
            vindex_set_num_threads(0);
            /* recall against the true neighbours */
            tu_reference_knn(q, nq, x, n, D, K, metric, rd, ri);
            double r = tu_recall(ids, ri, nq, K, K);
            double want = widths[w] == 8 ? 0.6 : 0.25;
            if (getenv("TEST_PQ_VERBOSE"))
                print_message("nbits %d metric %d: recall@%d %.3f\n", widths[w], mt, K, r);
            if (r < want)
                fail_msg("nbits %d metric %d: recall@%d %.3f < %.2f", widths[w], mt, K, r, want);
            free(recon);
            free(rd);
            free(ri);
            free(x);
            vindex_free(ix);
        }
}

static void remove_range_reset_and_params(void **state)
{
    (void)state;
    const int n = (int)tu_pick(1500, 800);
    float *x = tu_clustered_vectors(n, D, 20, 12);
    vindex *ix;
    ASSERT_OK(vindex_pq_new(&ix, D, 4, 8, VINDEX_METRIC_L2));
    double v;
    ASSERT_OK(vindex_get_param(ix, "pq.cp.niter", &v));
    assert_true(v == 25);
    ASSERT_OK(vindex_get_param(ix, "pq.cp.max_points_per_centroid", &v));
    assert_true(v == 256);
    ASSERT_OK(vindex_set_param(ix, "pq.cp.niter", 10));
    assert_int_equal(vindex_set_param(ix, "pq.cp.niter", -1), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_set_param(ix, "nprobe", 3), VINDEX_ERR_NOT_FOUND);
    ASSERT_OK(vindex_get_param(ix, "pq.code_size", &v));
    assert_true(v == 4);
    ASSERT_OK(vindex_train(ix, n, x));
    ASSERT_OK(vindex_add(ix, n, x));
    /* the codec of the index: its codes are what the index stores */
    vindex_pq_codec *c;
    ASSERT_OK(vindex_pq_codec_of(ix, &c));
    float r1[D], r2[D];
    uint8_t code[4];
    ASSERT_OK(vindex_pq_codec_compute_codes(c, 1, x + 33 * D, code));
    ASSERT_OK(vindex_pq_codec_decode(c, 1, code, r1));
    ASSERT_OK(vindex_reconstruct(ix, 33, r2));
    assert_memory_equal(r1, r2, sizeof r1);
    assert_int_equal(vindex_reconstruct(ix, n, r2), VINDEX_ERR_NOT_FOUND);
    /* range search agrees with k-NN */
    float dis[K];
    vindex_id ids[K];
    ASSERT_OK(vindex_search(ix, 1, x + 5 * D, K, NULL, dis, ids));
    vindex_range_result *res;
    ASSERT_OK(vindex_range_search(ix, 1, x + 5 * D, dis[K - 1], NULL, &res));
    assert_true(res->lims[1] >= 1 && res->lims[1] <= K);
    for (size_t t = 0; t < res->lims[1]; t++) {
        assert_int_equal(res->labels[t], ids[t]);
        assert_true(res->distances[t] == dis[t]);
    }
    vindex_range_result_free(res);
    /* remove the first half: labels renumber, as IndexFlat */
    vindex_selector *sel;
    ASSERT_OK(vindex_selector_range(&sel, 0, n / 2));
    size_t removed;
    ASSERT_OK(vindex_remove_ids(ix, sel, &removed));
    assert_int_equal(removed, n / 2);
    assert_int_equal(vindex_ntotal(ix), n - n / 2);
    ASSERT_OK(vindex_reconstruct(ix, 0, r2));
    ASSERT_OK(vindex_pq_codec_compute_codes(c, 1, x + (n / 2) * D, code));
    ASSERT_OK(vindex_pq_codec_decode(c, 1, code, r1));
    assert_memory_equal(r1, r2, sizeof r1);
    /* a selector in the search */
    vindex_search_params p;
    vindex_search_params_init(&p);
    p.sel = sel; /* [0, n/2) */
    ASSERT_OK(vindex_search(ix, 1, x + 5 * D, K, &p, dis, ids));
    for (int j = 0; j < K; j++)
        assert_true(ids[j] >= 0 && ids[j] < n / 2);
    vindex_selector_free(sel);
    /* training again needs an empty index */
    assert_int_equal(vindex_train(ix, n, x), VINDEX_ERR_INVALID);
    ASSERT_OK(vindex_reset(ix));
    assert_int_equal(vindex_ntotal(ix), 0);
    assert_true(vindex_is_trained(ix));
    vindex_free(ix);
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decode_error_within_expectation),
        cmocka_unit_test(bit_layout_as_faiss),
        cmocka_unit_test(tables_equal_decode_then_distance),
        cmocka_unit_test(training_independent_of_threads),
        cmocka_unit_test(kernels_match_scalar),
        cmocka_unit_test(bad_input),
        cmocka_unit_test(index_search_is_exact_adc),
        cmocka_unit_test(remove_range_reset_and_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
