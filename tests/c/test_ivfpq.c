/* IndexIVFPQ: with every list probed, the exact k nearest of the decoded
 * vectors (centroid + decoded residual), with and without precomputed tables,
 * for L2 and IP; recall against brute force rising with nprobe; batch = single
 * query = any thread count; reconstruct through the direct map; ids, remove,
 * merge, range search, memory and bad input. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { D = 32, M = 8, NBITS = 8, K = 10 };

static vindex *new_ivfpq(int d, size_t nlist, int m, int nbits, vindex_metric metric)
{
    vindex *q, *ix;
    ASSERT_OK(vindex_flat_new(&q, d, metric));
    ASSERT_OK(vindex_ivfpq_new(&ix, q, d, nlist, m, nbits, metric));
    return ix;
}

/* nprobe = nlist: the exact k-NN of the reconstructed vectors */
static void exact_adc_when_all_lists_probed(void **state)
{
    (void)state;
    enum { nq = 40, nlist = 16 };
    const int n = (int)tu_pick(4000, 1000); /* small-data mode: tu_small */
    for (int mt = 0; mt < 3; mt++)
        for (int pre = 1; pre >= 0; pre--) {
            /* L2 and IP with 8-bit codes, then L2 with 6-bit ones (generic path) */
            vindex_metric metric = mt == 1 ? VINDEX_METRIC_INNER_PRODUCT : VINDEX_METRIC_L2;
            float *x = tu_clustered_vectors(n + nq, D, 40, 20 + (uint64_t)mt);
            const float *q = x + (size_t)n * D;
            vindex *ix = new_ivfpq(D, nlist, M, mt == 2 ? 6 : NBITS, metric);
            assert_string_equal(vindex_type_name(ix), "IndexIVFPQ");
            ASSERT_OK(vindex_train(ix, n, x));
            ASSERT_OK(vindex_set_param(ix, "use_precomputed_table", pre));
            double v;
            ASSERT_OK(vindex_get_param(ix, "use_precomputed_table", &v));
            assert_true(v == (pre && metric == VINDEX_METRIC_L2));
            ASSERT_OK(vindex_ivf_make_direct_map(ix, VINDEX_DIRECT_MAP_ARRAY));
            ASSERT_OK(vindex_add(ix, n, x));
            float *recon = malloc((size_t)n * D * sizeof *recon);
            ASSERT_OK(vindex_reconstruct_n(ix, 0, n, recon));
            float *rd = malloc(nq * K * sizeof *rd), dis[nq * K];
            vindex_id *ri = malloc(nq * K * sizeof *ri), ids[nq * K];
            tu_reference_knn(q, nq, recon, n, D, K, metric, rd, ri);
            vindex_search_params p;
            vindex_search_params_init(&p);
            p.nprobe = nlist;
            ASSERT_OK(vindex_search(ix, nq, q, K, &p, dis, ids));
            tu_check_knn(q, nq, recon, n, D, K, metric, dis, ids, rd, ri, K, 1e-4);
            /* reconstruction error: far below the spread of the data */
            double err = 0;
            for (int i = 0; i < n; i++)
                err += tu_distance(x + i * D, recon + i * D, D, VINDEX_METRIC_L2);
            assert_true(err / n < 0.05 * D * 0.05 * 0.05 * 40);
            vindex_free(ix);
            free(recon);
            free(rd);
            free(ri);
            free(x);
        }
}

/* Recall against the true neighbours grows with nprobe; the per-call nprobe
 * and the index's agree; batch = single = 1..3 threads. */
static void recall_batch_single_threads(void **state)
{
    (void)state;
    enum { nq = 100, nlist = 32 };
    const int n = (int)tu_pick(8000, 2000);
    float *x = tu_clustered_vectors(n + nq, D, n / 8, 31); /* 8 points a cluster */
    const float *q = x + (size_t)n * D;
    vindex *ix = new_ivfpq(D, nlist, 16, NBITS, VINDEX_METRIC_L2);
    ASSERT_OK(vindex_train(ix, n, x));
    ASSERT_OK(vindex_add(ix, n, x));
    float *rd = malloc(nq * K * sizeof *rd), d1[nq * K], d2[nq * K];
    vindex_id *ri = malloc(nq * K * sizeof *ri), i1[nq * K], i2[nq * K];
    tu_reference_knn(q, nq, x, n, D, K, VINDEX_METRIC_L2, rd, ri);
    const int nprobes[] = {1, 4, 32};
    const double minimum[] = {0.65, 0.8, 0.88};
    double prev = 0;
    for (int t = 0; t < 3; t++) {
        vindex_search_params p;
        vindex_search_params_init(&p);
        p.nprobe = nprobes[t];
        ASSERT_OK(vindex_search(ix, nq, q, K, &p, d1, i1));
        double r = tu_recall(i1, ri, nq, K, K);
        if (getenv("TEST_PQ_VERBOSE"))
            print_message("nprobe %d: recall@%d %.3f\n", nprobes[t], K, r);
        if (r < minimum[t] || r + 1e-9 < prev)
            fail_msg("nprobe %d: recall@%d %.3f (minimum %.2f, previous %.3f)", nprobes[t], K, r,
                     minimum[t], prev);
        prev = r;
    }
    vindex_search_params p;
    vindex_search_params_init(&p);
    p.nprobe = 3;
    vindex_set_num_threads(1);
    ASSERT_OK(vindex_search(ix, nq, q, K, &p, d1, i1));
    for (int t = 1; t <= 3; t++) {
        vindex_set_num_threads(t);
        ASSERT_OK(vindex_search(ix, nq, q, K, &p, d2, i2));
        assert_memory_equal(d1, d2, sizeof d1);
        assert_memory_equal(i1, i2, sizeof i1);
        for (int i = 0; i < nq; i += 7)
            ASSERT_OK(vindex_search(ix, 1, q + i * D, K, &p, d2 + i * K, i2 + i * K));
        for (int i = 0; i < nq; i += 7) {
            assert_memory_equal(d1 + i * K, d2 + i * K, K * sizeof *d1);
            assert_memory_equal(i1 + i * K, i2 + i * K, K * sizeof *i1);
        }
    }
    vindex_set_num_threads(0);
    ASSERT_OK(vindex_set_param(ix, "nprobe", 3));
    ASSERT_OK(vindex_search(ix, nq, q, K, NULL, d2, i2));
    assert_memory_equal(i1, i2, sizeof i1);
    vindex_free(ix);
    free(rd);
    free(ri);
    free(x);
}

/* reconstruct = centroid + decoded residual; ids, remove, merge, range */
static void ids_remove_merge_range(void **state)
{
    (void)state;
    enum { nlist = 8 };
    const int n = (int)tu_pick(3000, 1000);
    float *x = tu_clustered_vectors(n, D, 20, 41);
    vindex_id *ids = malloc(n * sizeof *ids);
    for (int i = 0; i < n; i++)
        ids[i] = 5000 + 2 * (vindex_id)i;
    vindex *ix = new_ivfpq(D, nlist, M, NBITS, VINDEX_METRIC_L2);
    ASSERT_OK(vindex_train(ix, n, x));
    size_t mem0 = vindex_memory_bytes(ix);
    /* trained: the precomputed tables are counted */
    assert_true(mem0 >= (size_t)nlist * M * 256 * sizeof(float));
    ASSERT_OK(vindex_ivf_make_direct_map(ix, VINDEX_DIRECT_MAP_HASH));
    ASSERT_OK(vindex_add_with_ids(ix, n, x, ids));
    assert_true(vindex_memory_bytes(ix) >= mem0 + (size_t)n * (M + sizeof(vindex_id)));
    ASSERT_OK(vindex_set_param(ix, "nprobe", nlist));
    /* the nearest of a stored vector's reconstruction is itself, at the
     * distance the search reports */
    float r[D], dis[K];
    vindex_id got[K];
    ASSERT_OK(vindex_reconstruct(ix, ids[17], r));
    ASSERT_OK(vindex_search(ix, 1, r, K, NULL, dis, got));
    assert_true(dis[0] <= 1e-4f);
    assert_int_equal(vindex_reconstruct(ix, 5001, r), VINDEX_ERR_NOT_FOUND);
    /* range search agrees with k-NN */
    ASSERT_OK(vindex_search(ix, 1, x + 9 * D, K, NULL, dis, got));
    vindex_range_result *res;
    ASSERT_OK(vindex_range_search(ix, 1, x + 9 * D, dis[K - 1], NULL, &res));
    assert_true(res->lims[1] <= K);
    for (size_t t = 0; t < res->lims[1]; t++)
        assert_int_equal(res->labels[t], got[t]);
    vindex_range_result_free(res);
    /* remove the first half of the ids */
    vindex_selector *sel;
    ASSERT_OK(vindex_selector_range(&sel, 5000, 5000 + n));
    size_t removed;
    ASSERT_OK(vindex_remove_ids(ix, sel, &removed));
    assert_int_equal(removed, n / 2);
    assert_int_equal(vindex_ntotal(ix), n - n / 2);
    ASSERT_OK(vindex_search(ix, 1, x + 9 * D, K, NULL, dis, got));
    for (int j = 0; j < K; j++)
        assert_true(got[j] >= 5000 + n);
    assert_int_equal(vindex_reconstruct(ix, ids[17], r), VINDEX_ERR_NOT_FOUND);
    ASSERT_OK(vindex_reconstruct(ix, ids[n - 1], r));
    vindex_selector_free(sel);

    /* merge: an index on the same quantizer and codebooks */
    vindex *q2, *b;
    vindex *qa;
    ASSERT_OK(vindex_ivf_quantizer(ix, &qa));
    float *cent = malloc(nlist * D * sizeof *cent);
    ASSERT_OK(vindex_reconstruct_n(qa, 0, nlist, cent));
    ASSERT_OK(vindex_flat_new(&q2, D, VINDEX_METRIC_L2));
    ASSERT_OK(vindex_add(q2, nlist, cent));
    ASSERT_OK(vindex_ivfpq_new(&b, q2, D, nlist, M, NBITS, VINDEX_METRIC_L2));
    assert_false(vindex_is_trained(b)); /* the PQ still needs training */
    ASSERT_OK(vindex_train(b, n, x));   /* no k-means: the quantizer is trained */
    ASSERT_OK(vindex_add(b, 100, x));
    ASSERT_OK(vindex_ivf_merge_from(ix, b, 1000000));
    assert_int_equal(vindex_ntotal(ix), n - n / 2 + 100);
    ASSERT_OK(vindex_search(ix, 1, x + 50 * D, K, NULL, dis, got));
    assert_int_equal(got[0], 1000000 + 50);
    vindex_free(b);
    free(cent);
    vindex_free(ix);
    free(ids);
    free(x);
}

static void bad_input(void **state)
{
    (void)state;
    vindex *q, *ix = NULL;
    ASSERT_OK(vindex_flat_new(&q, D, VINDEX_METRIC_L2));
    assert_int_equal(vindex_ivfpq_new(&ix, q, D, 16, 5, 8, VINDEX_METRIC_L2), VINDEX_ERR_INVALID);
    assert_non_null(strstr(vindex_last_error(), "not a multiple of M"));
    assert_int_equal(vindex_ivfpq_new(&ix, q, D, 16, 8, 0, VINDEX_METRIC_L2), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_ivfpq_new(&ix, q, D, 16, 8, 17, VINDEX_METRIC_L2),
                     VINDEX_ERR_INVALID);
    assert_non_null(strstr(vindex_last_error(), "nbits"));
    assert_int_equal(vindex_ivfpq_new(&ix, q, 2 * D, 16, 8, 8, VINDEX_METRIC_L2), VINDEX_ERR_DIM);
    assert_null(ix);
    /* the caller still owns q after failures */
    ASSERT_OK(vindex_ivfpq_new(&ix, q, D, 16, 8, 8, VINDEX_METRIC_L2));
    float *x = tu_random_vectors(200, D, 3);
    assert_int_equal(vindex_train(ix, 200, x), VINDEX_ERR_INVALID);
    assert_non_null(strstr(vindex_last_error(), "at least 256"));
    assert_false(vindex_is_trained(ix));
    assert_int_equal(vindex_set_param(ix, "use_precomputed_table", 2), VINDEX_ERR_INVALID);
    ASSERT_OK(vindex_set_param(ix, "pq.cp.niter", 5));
    double v;
    ASSERT_OK(vindex_get_param(ix, "pq.cp.niter", &v));
    assert_true(v == 5);
    ASSERT_OK(vindex_get_param(ix, "nprobe", &v));
    assert_true(v == 1);
    float dis[K];
    vindex_id ids[K];
    assert_int_equal(vindex_search(ix, 1, x, K, NULL, dis, ids), VINDEX_ERR_NOT_TRAINED);
    vindex_pq_codec *c;
    ASSERT_OK(vindex_pq_codec_of(ix, &c));
    assert_false(vindex_pq_codec_is_trained(c));
    vindex *flat;
    ASSERT_OK(vindex_flat_new(&flat, D, VINDEX_METRIC_L2));
    assert_int_equal(vindex_pq_codec_of(flat, &c), VINDEX_ERR_UNSUPPORTED);
    vindex_free(flat);
    vindex_free(ix);
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exact_adc_when_all_lists_probed),
        cmocka_unit_test(recall_batch_single_threads),
        cmocka_unit_test(ids_remove_merge_range),
        cmocka_unit_test(bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
