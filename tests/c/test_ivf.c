/* IndexIVFFlat and the IVF core: recall against brute force at several nprobe
 * (clustered data and a Fashion-MNIST sample), exact results at nprobe = nlist,
 * batch = single query = any thread count, ids, remove, reconstruct through the
 * direct map, merge, range search, selectors, parameters and bad input. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { D = 32, N = 8000, NQ = 200, NLIST = 64, K = 10 };

static vindex *new_ivf(int d, size_t nlist, vindex_metric metric)
{
    vindex *q, *ix;
    ASSERT_OK(vindex_flat_new(&q, d, metric));
    ASSERT_OK(vindex_ivf_flat_new(&ix, q, d, nlist, metric));
    return ix;
}

/* recall@K of `ix` at each nprobe against exact search over x */
static void check_recall(vindex *ix, const float *x, size_t n, const float *q, size_t nq, int d,
                         const int *nprobes, const double *minimum, int count)
{
    float *dis = malloc(nq * K * sizeof *dis);
    vindex_id *truth = malloc(nq * K * sizeof *truth), *ids = malloc(nq * K * sizeof *ids);
    ASSERT_OK(vindex_knn(nq, q, n, x, d, K, VINDEX_METRIC_L2, dis, truth));
    double prev = 0;
    for (int t = 0; t < count; t++) {
        vindex_search_params p;
        vindex_search_params_init(&p);
        p.nprobe = nprobes[t];
        ASSERT_OK(vindex_search(ix, nq, q, K, &p, dis, ids));
        double r = tu_recall(ids, truth, nq, K, K);
        if (getenv("TEST_IVF_VERBOSE"))
            printf("nprobe %d: recall@%d %.4f\n", nprobes[t], K, r);
        if (r < minimum[t] || r + 1e-9 < prev)
            fail_msg("nprobe %d: recall@%d %.4f (minimum %.4f, previous %.4f)", nprobes[t], K, r,
                     minimum[t], prev);
        prev = r;
    }
    free(dis);
    free(truth);
    free(ids);
}

static void recall_on_clusters(void **state)
{
    (void)state;
    float *x = tu_clustered_vectors(N + NQ, D, 100, 1); /* queries: the last NQ */
    float *q = x + (size_t)N * D;
    vindex *ix = new_ivf(D, NLIST, VINDEX_METRIC_L2);
    ASSERT_OK(vindex_train(ix, N, x));
    ASSERT_OK(vindex_add(ix, N, x));
    assert_int_equal(vindex_ntotal(ix), N);
    assert_string_equal(vindex_type_name(ix), "IndexIVFFlat");
    const int nprobes[] = {1, 2, 4, 16};
    const double minimum[] = {0.5, 0.7, 0.9, 0.99};
    check_recall(ix, x, N, q, NQ, D, nprobes, minimum, 4);
    vindex_free(ix);
    free(x);
}

/* nprobe = nlist visits every list: the result is exact. */
static void exact_when_all_lists_probed(void **state)
{
    (void)state;
    for (int m = 0; m < 2; m++) {
        vindex_metric metric = m ? VINDEX_METRIC_INNER_PRODUCT : VINDEX_METRIC_L2;
        enum { n = 3000, nq = 50, k = 20, nlist = 16 };
        float *x = tu_clustered_vectors(n, D, 30, 3), *q = tu_random_vectors(nq, D, 4);
        vindex *ix = new_ivf(D, nlist, metric);
        ASSERT_OK(vindex_train(ix, n, x));
        ASSERT_OK(vindex_add(ix, n, x));
        float *ref_d = malloc(nq * k * sizeof *ref_d), *dis = malloc(nq * k * sizeof *dis);
        vindex_id *ref_i = malloc(nq * k * sizeof *ref_i), *ids = malloc(nq * k * sizeof *ids);
        tu_reference_knn(q, nq, x, n, D, k, metric, ref_d, ref_i);
        ASSERT_OK(vindex_set_param(ix, "nprobe", nlist));
        ASSERT_OK(vindex_search(ix, nq, q, k, NULL, dis, ids));
        tu_check_knn(q, nq, x, n, D, k, metric, dis, ids, ref_d, ref_i, k, 1e-5);
        /* nprobe above nlist is clamped, as in Faiss */
        vindex_search_params p;
        vindex_search_params_init(&p);
        p.nprobe = 1000;
        ASSERT_OK(vindex_set_param(ix, "nprobe", 1));
        ASSERT_OK(vindex_search(ix, nq, q, k, &p, dis, ids));
        tu_check_knn(q, nq, x, n, D, k, metric, dis, ids, ref_d, ref_i, k, 1e-5);
        vindex_free(ix);
        free(x);
        free(q);
        free(ref_d);
        free(dis);
        free(ref_i);
        free(ids);
    }
}

/* One query per call, batches, and 1..3 threads give identical results. */
static void batch_single_and_threads_agree(void **state)
{
    (void)state;
    enum { n = 4000, nq = 64, k = 7 };
    float *x = tu_clustered_vectors(n, D, 50, 5), *q = tu_clustered_vectors(nq, D, 50, 6);
    vindex *ix = new_ivf(D, 32, VINDEX_METRIC_L2);
    ASSERT_OK(vindex_train(ix, n, x));
    ASSERT_OK(vindex_add(ix, n, x));
    vindex_search_params p;
    vindex_search_params_init(&p);
    p.nprobe = 5;
    float d1[nq * k], d2[nq * k];
    vindex_id i1[nq * k], i2[nq * k];
    vindex_set_num_threads(1);
    ASSERT_OK(vindex_search(ix, nq, q, k, &p, d1, i1));
    for (int t = 1; t <= 3; t++) {
        vindex_set_num_threads(t);
        ASSERT_OK(vindex_search(ix, nq, q, k, &p, d2, i2));
        assert_memory_equal(d1, d2, sizeof d1);
        assert_memory_equal(i1, i2, sizeof i1);
        for (int i = 0; i < nq; i++)
            ASSERT_OK(vindex_search(ix, 1, q + i * D, k, &p, d2 + i * k, i2 + i * k));
        assert_memory_equal(d1, d2, sizeof d1);
        assert_memory_equal(i1, i2, sizeof i1);
    }
    /* the index's nprobe and the per-call one agree */
    ASSERT_OK(vindex_set_param(ix, "nprobe", 5));
    ASSERT_OK(vindex_search(ix, nq, q, k, NULL, d2, i2));
    assert_memory_equal(i1, i2, sizeof i1);
    vindex_set_num_threads(0);
    vindex_free(ix);
    free(x);
    free(q);
}

static void ids_remove_and_selectors(void **state)
{
    (void)state;
    enum { n = 2000, k = 5 };
    float *x = tu_clustered_vectors(n, D, 20, 8);
    vindex_id *ids = malloc(n * sizeof *ids);
    for (int i = 0; i < n; i++)
        ids[i] = 1000000 + 3 * (vindex_id)i;
    vindex *ix = new_ivf(D, 8, VINDEX_METRIC_L2);
    ASSERT_OK(vindex_train(ix, n, x));
    ASSERT_OK(vindex_add_with_ids(ix, n, x, ids));
    ASSERT_OK(vindex_set_param(ix, "nprobe", 8));
    float dis[k];
    vindex_id got[k];
    ASSERT_OK(vindex_search(ix, 1, x + 17 * D, k, NULL, dis, got));
    assert_int_equal(got[0], ids[17]);
    assert_true(dis[0] == 0);

    /* a selector in the search parameters */
    vindex_selector *sel;
    ASSERT_OK(vindex_selector_range(&sel, 1000000, 1000000 + 3 * 1000));
    vindex_search_params p;
    vindex_search_params_init(&p);
    p.sel = sel;
    ASSERT_OK(vindex_search(ix, 1, x + 1500 * D, k, &p, dis, got));
    for (int j = 0; j < k; j++)
        assert_true(got[j] >= 1000000 && got[j] < 1000000 + 3 * 1000);

    /* remove the first 1000: they never come back */
    size_t removed;
    ASSERT_OK(vindex_remove_ids(ix, sel, &removed));
    assert_int_equal(removed, 1000);
    assert_int_equal(vindex_ntotal(ix), n - 1000);
    size_t sizes[8], total = 0;
    ASSERT_OK(vindex_ivf_list_sizes(ix, sizes));
    for (int l = 0; l < 8; l++)
        total += sizes[l];
    assert_int_equal(total, n - 1000);
    ASSERT_OK(vindex_search(ix, 1, x + 17 * D, k, NULL, dis, got));
    for (int j = 0; j < k; j++)
        assert_true(got[j] >= 1000000 + 3 * 1000);
    /* list ids are those remaining */
    for (int l = 0; l < 8; l++) {
        vindex_id *lids = malloc((sizes[l] + 1) * sizeof *lids);
        ASSERT_OK(vindex_ivf_list_ids(ix, (size_t)l, lids));
        for (size_t t = 0; t < sizes[l]; t++)
            assert_true(lids[t] >= 1000000 + 3 * 1000 && (lids[t] - 1000000) % 3 == 0);
        free(lids);
    }
    vindex_selector_free(sel);
    /* id -1 is refused, all or nothing */
    ids[5] = -1;
    assert_int_equal(vindex_add_with_ids(ix, 10, x, ids), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_ntotal(ix), n - 1000);
    /* reset keeps the training */
    ASSERT_OK(vindex_reset(ix));
    assert_int_equal(vindex_ntotal(ix), 0);
    assert_true(vindex_is_trained(ix));
    ASSERT_OK(vindex_add(ix, 10, x));
    assert_int_equal(vindex_ntotal(ix), 10);
    vindex_free(ix);
    free(ids);
    free(x);
}

static void reconstruct_through_direct_map(void **state)
{
    (void)state;
    enum { n = 1500 };
    float *x = tu_clustered_vectors(n, D, 20, 9);
    float out[D];
    vindex *ix = new_ivf(D, 16, VINDEX_METRIC_L2);
    ASSERT_OK(vindex_train(ix, n, x));
    ASSERT_OK(vindex_add(ix, n, x));
    /* before make_direct_map: an error that says what to do */
    assert_int_equal(vindex_reconstruct(ix, 3, out), VINDEX_ERR_UNSUPPORTED);
    assert_non_null(strstr(vindex_last_error(), "make_direct_map"));

    ASSERT_OK(vindex_ivf_make_direct_map(ix, VINDEX_DIRECT_MAP_ARRAY));
    vindex_direct_map kind;
    ASSERT_OK(vindex_ivf_direct_map_kind(ix, &kind));
    assert_int_equal(kind, VINDEX_DIRECT_MAP_ARRAY);
    for (int i = 0; i < n; i += 97) {
        ASSERT_OK(vindex_reconstruct(ix, i, out));
        assert_memory_equal(out, x + i * D, sizeof out);
    }
    assert_int_equal(vindex_reconstruct(ix, n, out), VINDEX_ERR_NOT_FOUND);
    /* later adds keep the map; arbitrary ids and removal need the hash kind */
    ASSERT_OK(vindex_add(ix, 10, x));
    ASSERT_OK(vindex_reconstruct(ix, n + 4, out));
    assert_memory_equal(out, x + 4 * D, sizeof out);
    vindex_id bad_ids[2] = {7, 8};
    assert_int_equal(vindex_add_with_ids(ix, 2, x, bad_ids), VINDEX_ERR_INVALID);
    vindex_selector *sel;
    ASSERT_OK(vindex_selector_range(&sel, 0, 100));
    size_t removed;
    assert_int_equal(vindex_remove_ids(ix, sel, &removed), VINDEX_ERR_UNSUPPORTED);

    ASSERT_OK(vindex_ivf_make_direct_map(ix, VINDEX_DIRECT_MAP_HASH));
    ASSERT_OK(vindex_remove_ids(ix, sel, &removed));
    assert_int_equal(removed, 100);
    assert_int_equal(vindex_reconstruct(ix, 50, out), VINDEX_ERR_NOT_FOUND);
    for (int i = 100; i < n; i += 61) { /* entries moved by the removal are found */
        ASSERT_OK(vindex_reconstruct(ix, i, out));
        assert_memory_equal(out, x + i * D, sizeof out);
    }
    /* an array map now fails (ids 0..99 are gone), the hash one stays */
    assert_int_equal(vindex_ivf_make_direct_map(ix, VINDEX_DIRECT_MAP_ARRAY),
                     VINDEX_ERR_INVALID);
    ASSERT_OK(vindex_ivf_direct_map_kind(ix, &kind));
    assert_int_equal(kind, VINDEX_DIRECT_MAP_HASH);
    vindex_id new_ids[2] = {5000, 200}; /* 200 is already there */
    assert_int_equal(vindex_add_with_ids(ix, 2, x, new_ids), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_reconstruct(ix, 5000, out), VINDEX_ERR_NOT_FOUND); /* undone */
    new_ids[1] = 5001;
    ASSERT_OK(vindex_add_with_ids(ix, 2, x, new_ids));
    ASSERT_OK(vindex_reconstruct(ix, 5001, out));
    assert_memory_equal(out, x + D, sizeof out);
    ASSERT_OK(vindex_ivf_make_direct_map(ix, VINDEX_DIRECT_MAP_NONE));
    assert_int_equal(vindex_reconstruct(ix, 5001, out), VINDEX_ERR_UNSUPPORTED);
    vindex_selector_free(sel);
    vindex_free(ix);
    free(x);
}

/* Two indexes on the same trained quantizer, merged, answer as one index. */
static void merge_from_matches_single_index(void **state)
{
    (void)state;
    enum { n = 3000, nq = 30, k = 8, nlist = 16 };
    float *x = tu_clustered_vectors(n, D, 30, 12), *q = tu_random_vectors(nq, D, 13);
    vindex *a = new_ivf(D, nlist, VINDEX_METRIC_L2), *all = new_ivf(D, nlist, VINDEX_METRIC_L2);
    ASSERT_OK(vindex_train(a, n, x));
    /* copies of the trained quantizer: IVF indexes built on them need no training */
    vindex *qa, *qb, *qc;
    ASSERT_OK(vindex_ivf_quantizer(a, &qa));
    float *cent = malloc(nlist * D * sizeof *cent);
    ASSERT_OK(vindex_reconstruct_n(qa, 0, nlist, cent));
    ASSERT_OK(vindex_flat_new(&qb, D, VINDEX_METRIC_L2));
    ASSERT_OK(vindex_add(qb, nlist, cent));
    vindex *b;
    ASSERT_OK(vindex_ivf_flat_new(&b, qb, D, nlist, VINDEX_METRIC_L2));
    assert_true(vindex_is_trained(b));
    ASSERT_OK(vindex_flat_new(&qc, D, VINDEX_METRIC_L2));
    ASSERT_OK(vindex_add(qc, nlist, cent));
    vindex_free(all);
    ASSERT_OK(vindex_ivf_flat_new(&all, qc, D, nlist, VINDEX_METRIC_L2));

    ASSERT_OK(vindex_add(a, n / 2, x));
    ASSERT_OK(vindex_add(b, n - n / 2, x + (n / 2) * D));
    ASSERT_OK(vindex_add(all, n, x));
    ASSERT_OK(vindex_ivf_make_direct_map(a, VINDEX_DIRECT_MAP_HASH));
    ASSERT_OK(vindex_ivf_merge_from(a, b, n / 2));
    assert_int_equal(vindex_ntotal(a), n);
    assert_int_equal(vindex_ntotal(b), 0);
    float out[D];
    ASSERT_OK(vindex_reconstruct(a, n - 1, out));
    assert_memory_equal(out, x + (n - 1) * D, sizeof out);

    float d1[nq * k], d2[nq * k];
    vindex_id i1[nq * k], i2[nq * k];
    vindex_search_params p;
    vindex_search_params_init(&p);
    p.nprobe = 4;
    ASSERT_OK(vindex_search(a, nq, q, k, &p, d1, i1));
    ASSERT_OK(vindex_search(all, nq, q, k, &p, d2, i2));
    assert_memory_equal(d1, d2, sizeof d1);
    assert_memory_equal(i1, i2, sizeof i1);

    /* duplicates under the hash map are refused, all or nothing */
    ASSERT_OK(vindex_add(b, 5, x));
    assert_int_equal(vindex_ivf_merge_from(a, b, 0), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_ntotal(a), n);
    assert_int_equal(vindex_ntotal(b), 5);
    /* differently trained, or another dimension: refused */
    vindex *other = new_ivf(D, nlist, VINDEX_METRIC_L2);
    ASSERT_OK(vindex_train(other, n - 1, x + D)); /* another sample: other centroids */
    assert_int_equal(vindex_ivf_merge_from(a, other, 0), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_ivf_merge_from(a, a, 0), VINDEX_ERR_INVALID);
    vindex *flat;
    ASSERT_OK(vindex_flat_new(&flat, D, VINDEX_METRIC_L2));
    assert_int_equal(vindex_ivf_merge_from(a, flat, 0), VINDEX_ERR_UNSUPPORTED);
    vindex_free(flat);
    vindex_free(other);
    vindex_free(a);
    vindex_free(b);
    vindex_free(all);
    free(cent);
    free(x);
    free(q);
}

static void range_search_matches_flat(void **state)
{
    (void)state;
    enum { n = 2000, nq = 20, nlist = 8 };
    float *x = tu_clustered_vectors(n + nq, D, 10, 14), *q = x + (size_t)n * D;
    vindex *ix = new_ivf(D, nlist, VINDEX_METRIC_L2), *flat;
    ASSERT_OK(vindex_flat_new(&flat, D, VINDEX_METRIC_L2));
    ASSERT_OK(vindex_train(ix, n, x));
    ASSERT_OK(vindex_add(ix, n, x));
    ASSERT_OK(vindex_add(flat, n, x));
    vindex_search_params p;
    vindex_search_params_init(&p);
    p.nprobe = nlist;
    vindex_range_result *r1, *r2;
    ASSERT_OK(vindex_range_search(ix, nq, q, 0.3f, &p, &r1));
    ASSERT_OK(vindex_range_search(flat, nq, q, 0.3f, NULL, &r2));
    assert_true(r2->lims[nq] > 0);
    assert_int_equal(r1->lims[nq], r2->lims[nq]);
    for (size_t i = 0; i < nq; i++) {
        /* the same hits; the order of near-equal distances may differ (the
         * flat index computes them through BLAS) */
        assert_int_equal(r1->lims[i], r2->lims[i]);
        for (size_t t = r1->lims[i]; t < r1->lims[i + 1]; t++) {
            size_t u = r2->lims[i];
            while (u < r2->lims[i + 1] && r2->labels[u] != r1->labels[t])
                u++;
            assert_true(u < r2->lims[i + 1]);
            assert_true(fabsf(r1->distances[t] - r2->distances[u]) < 1e-4f);
            assert_true(t == r1->lims[i] || r1->distances[t] >= r1->distances[t - 1]);
        }
    }
    vindex_range_result_free(r1);
    /* fewer lists: a subset */
    p.nprobe = 1;
    ASSERT_OK(vindex_range_search(ix, nq, q, 0.3f, &p, &r1));
    for (size_t i = 0; i < nq; i++)
        assert_true(r1->lims[i + 1] - r1->lims[i] <= r2->lims[i + 1] - r2->lims[i]);
    vindex_range_result_free(r1);
    vindex_range_result_free(r2);
    vindex_free(ix);
    vindex_free(flat);
    free(x);
}

static void params_and_bad_input(void **state)
{
    (void)state;
    float *x = tu_random_vectors(100, D, 16);
    float dis[K];
    vindex_id ids[K];
    vindex *ix = new_ivf(D, 20, VINDEX_METRIC_L2);
    assert_false(vindex_is_trained(ix));
    /* search and add before train */
    assert_int_equal(vindex_search(ix, 1, x, K, NULL, dis, ids), VINDEX_ERR_NOT_TRAINED);
    assert_int_equal(vindex_add(ix, 1, x), VINDEX_ERR_NOT_TRAINED);
    /* fewer training points than lists */
    assert_int_equal(vindex_train(ix, 10, x), VINDEX_ERR_INVALID);
    assert_non_null(strstr(vindex_last_error(), "fewer than nlist"));
    assert_false(vindex_is_trained(ix));
    /* nprobe */
    double v;
    ASSERT_OK(vindex_get_param(ix, "nprobe", &v));
    assert_true(v == 1);
    ASSERT_OK(vindex_get_param(ix, "nlist", &v));
    assert_true(v == 20);
    assert_int_equal(vindex_set_param(ix, "nprobe", 0), VINDEX_ERR_INVALID);
    assert_non_null(strstr(vindex_last_error(), "nprobe"));
    assert_int_equal(vindex_set_param(ix, "nprobe", -3), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_set_param(ix, "nprobe", 2.5), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_set_param(ix, "nlist", 10), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_set_param(ix, "efSearch", 10), VINDEX_ERR_NOT_FOUND);
    ASSERT_OK(vindex_set_param(ix, "cp.niter", 5));
    ASSERT_OK(vindex_get_param(ix, "cp.niter", &v));
    assert_true(v == 5);
    ASSERT_OK(vindex_set_param(ix, "cp.seed", 77));
    ASSERT_OK(vindex_train(ix, 100, x));
    assert_true(vindex_is_trained(ix));
    ASSERT_OK(vindex_add(ix, 100, x));
    /* training again over data: refused */
    assert_int_equal(vindex_train(ix, 100, x), VINDEX_ERR_INVALID);
    vindex_search_params p;
    vindex_search_params_init(&p);
    p.nprobe = -1;
    assert_int_equal(vindex_search(ix, 1, x, K, &p, dis, ids), VINDEX_ERR_INVALID);
    size_t sizes[20];
    double imb;
    ASSERT_OK(vindex_ivf_list_sizes(ix, sizes));
    ASSERT_OK(vindex_ivf_imbalance_factor(ix, &imb));
    double tot = 0, sq = 0;
    for (int l = 0; l < 20; l++) {
        tot += (double)sizes[l];
        sq += (double)sizes[l] * (double)sizes[l];
    }
    assert_true(tot == 100 && fabs(imb - sq * 20 / (tot * tot)) < 1e-12 && imb >= 1);
    assert_int_equal(vindex_ivf_list_ids(ix, 20, ids), VINDEX_ERR_INVALID);
    assert_true(vindex_memory_bytes(ix) > 100 * D * sizeof(float));
    vindex_free(ix);

    /* constructor checks; the quantizer stays the caller's on failure */
    vindex *q, *out;
    ASSERT_OK(vindex_flat_new(&q, D, VINDEX_METRIC_L2));
    assert_int_equal(vindex_ivf_flat_new(&out, q, D + 1, 4, VINDEX_METRIC_L2), VINDEX_ERR_DIM);
    assert_null(out);
    assert_int_equal(vindex_ivf_flat_new(&out, q, D, 0, VINDEX_METRIC_L2), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_ivf_flat_new(&out, NULL, D, 4, VINDEX_METRIC_L2), VINDEX_ERR_INVALID);
    vindex *idmap;
    ASSERT_OK(vindex_idmap_new(&idmap, q));
    assert_int_equal(vindex_ivf_flat_new(&out, idmap, D, 4, VINDEX_METRIC_L2),
                     VINDEX_ERR_UNSUPPORTED);
    assert_int_equal(vindex_ivf_list_sizes(idmap, sizes), VINDEX_ERR_UNSUPPORTED);
    vindex_free(idmap);
    free(x);
}

/* ---- Fashion-MNIST sample ------------------------------------------------ */

#define FMNIST "/usr/share/datasets/fashion-mnist"

/* The first n images of a gzipped IDX file, as floats (NULL when unavailable).
 * gzip -dc through popen keeps the tests free of a zlib dependency. */
static float *read_idx_gz(const char *path, size_t n, int *d)
{
    FILE *probe = fopen(path, "rb");
    if (!probe)
        return NULL;
    fclose(probe);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "gzip -dc '%s' 2>/dev/null", path);
    FILE *f = popen(cmd, "r");
    if (!f)
        return NULL;
    unsigned char head[16];
    float *x = NULL;
    if (fread(head, 1, 16, f) == 16 && head[2] == 8 && head[3] == 3) {
        size_t count = (size_t)head[4] << 24 | (size_t)head[5] << 16 | (size_t)head[6] << 8 | head[7];
        size_t rows = (size_t)head[8] << 24 | (size_t)head[9] << 16 | (size_t)head[10] << 8 | head[11];
        size_t cols = (size_t)head[12] << 24 | (size_t)head[13] << 16 | (size_t)head[14] << 8 | head[15];
        *d = (int)(rows * cols);
        if (n <= count) {
            unsigned char *raw = malloc(n * (size_t)*d);
            x = malloc(n * (size_t)*d * sizeof *x);
            if (fread(raw, 1, n * (size_t)*d, f) == n * (size_t)*d) {
                for (size_t i = 0; i < n * (size_t)*d; i++)
                    x[i] = raw[i];
            } else {
                free(x);
                x = NULL;
            }
            free(raw);
        }
    }
    /* read to the end so that gzip exits quietly */
    char sink[65536];
    while (fread(sink, 1, sizeof sink, f) > 0) {
    }
    pclose(f);
    return x;
}

static void recall_on_fashion_mnist(void **state)
{
    (void)state;
    /* small-data mode (tu_small): 2,000 images in 16 lists, 50 queries */
    const size_t nb = tu_pick(10000, 2000), nq = tu_pick(200, 50);
    const int nlist = tu_small() ? 16 : 64;
    int d = 0, dq = 0;
    float *x = read_idx_gz(FMNIST "/train-images-idx3-ubyte.gz", nb, &d);
    float *q = read_idx_gz(FMNIST "/t10k-images-idx3-ubyte.gz", nq, &dq);
    if (!x || !q || d != 784 || dq != 784) {
        free(x);
        free(q);
        skip(); /* the data set is not installed */
    }
    vindex *ix = new_ivf(d, nlist, VINDEX_METRIC_L2);
    ASSERT_OK(vindex_train(ix, nb, x));
    ASSERT_OK(vindex_add(ix, nb, x));
    double imb;
    ASSERT_OK(vindex_ivf_imbalance_factor(ix, &imb));
    assert_true(imb >= 1 && imb < 2);
    const int nprobes[] = {1, 4, 16, nlist};
    const double minimum[] = {0.55, 0.88, 0.99, 1.0};
    check_recall(ix, x, nb, q, nq, d, nprobes, minimum, 4);
    vindex_free(ix);
    free(x);
    free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(recall_on_clusters),
        cmocka_unit_test(exact_when_all_lists_probed),
        cmocka_unit_test(batch_single_and_threads_agree),
        cmocka_unit_test(ids_remove_and_selectors),
        cmocka_unit_test(reconstruct_through_direct_map),
        cmocka_unit_test(merge_from_matches_single_index),
        cmocka_unit_test(range_search_matches_flat),
        cmocka_unit_test(params_and_bad_input),
        cmocka_unit_test(recall_on_fashion_mnist),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
