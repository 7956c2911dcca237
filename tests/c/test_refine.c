/* IndexRefine / IndexRefineFlat: recall over coarse codes rises with k_factor
 * to exact search, the per-call k_factor equals the attribute, range search,
 * selectors, add/remove/reset keep both parts aligned, bad input. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { D = 32 };

/* A trained index from the factory with n vectors of x added. */
static vindex *refined(const char *base_spec, vindex_metric metric, size_t n, const float *x)
{
    vindex *base, *ix;
    ASSERT_OK(vindex_factory(&base, D, base_spec, metric));
    ASSERT_OK(vindex_refine_new(&ix, base, NULL));
    assert_string_equal(vindex_type_name(ix), "IndexRefineFlat");
    ASSERT_OK(vindex_train(ix, n, x));
    assert_true(vindex_is_trained(ix));
    ASSERT_OK(vindex_add(ix, n, x));
    assert_int_equal(vindex_ntotal(ix), (int64_t)n);
    return ix;
}

static double recall_at(vindex *ix, size_t nq, const float *q, size_t k, float kf,
                        const vindex_id *ref)
{
    float *dist = malloc(nq * k * sizeof *dist);
    vindex_id *ids = malloc(nq * k * sizeof *ids);
    vindex_search_params p;
    vindex_search_params_init(&p);
    p.k_factor = kf;
    ASSERT_OK(vindex_search(ix, nq, q, k, &p, dist, ids));
    double r = tu_recall(ids, ref, nq, k, k);
    free(dist);
    free(ids);
    return r;
}

static void recall_rises_with_k_factor(void **state)
{
    (void)state;
    enum { N = 4000, NQ = 100, K = 10 };
    const char *specs[] = {"PQ8x4", "SQ4"};
    float *x = tu_random_vectors(N, D, 11), *q = tu_random_vectors(NQ, D, 12);
    float *ref_d = malloc(NQ * K * sizeof *ref_d);
    vindex_id *ref_i = malloc(NQ * K * sizeof *ref_i);
    tu_reference_knn(q, NQ, x, N, D, K, VINDEX_METRIC_L2, ref_d, ref_i);
    for (size_t s = 0; s < 2; s++) {
        vindex *ix = refined(specs[s], VINDEX_METRIC_L2, N, x);
        const float kfs[] = {1, 2, 4, 16, 64};
        double prev = 0, r[5];
        for (int i = 0; i < 5; i++) {
            r[i] = recall_at(ix, NQ, q, K, kfs[i], ref_i);
            assert_true(r[i] >= prev - 0.02); /* rises (up to noise) */
            prev = r[i];
        }
        if (!(r[4] > r[0] + 0.05 && r[4] >= 0.97))
            fail_msg("%s: recall %.3f at k_factor 1, %.3f at 64", specs[s], r[0], r[4]);
        vindex_free(ix);
    }
    free(ref_d);
    free(ref_i);
    free(x);
    free(q);
}

/* With k * k_factor >= ntotal every vector is a candidate: exact search. */
static void exact_when_all_are_candidates(void **state)
{
    (void)state;
    enum { N = 300, NQ = 40, K = 7 };
    for (int m = 0; m < 2; m++) {
        vindex_metric metric = m ? VINDEX_METRIC_INNER_PRODUCT : VINDEX_METRIC_L2;
        float *x = tu_random_vectors(N, D, 21 + m), *q = tu_random_vectors(NQ, D, 31 + m);
        vindex *ix = refined("PQ4x4", metric, N, x);
        ASSERT_OK(vindex_set_param(ix, "k_factor", 50));
        float dist[NQ * K], ref_d[NQ * K];
        vindex_id ids[NQ * K], ref_i[NQ * K];
        ASSERT_OK(vindex_search(ix, NQ, q, K, NULL, dist, ids));
        tu_reference_knn(q, NQ, x, N, D, K, metric, ref_d, ref_i);
        tu_check_knn(q, NQ, x, N, D, K, metric, dist, ids, ref_d, ref_i, K, 1e-5);
        /* k larger than ntotal: padded */
        enum { BIG = N + 5 };
        float *bd = malloc(BIG * sizeof *bd);
        vindex_id *bi = malloc(BIG * sizeof *bi);
        ASSERT_OK(vindex_search(ix, 1, q, BIG, NULL, bd, bi));
        for (int i = N; i < BIG; i++) {
            assert_int_equal(bi[i], -1);
            assert_true(isinf(bd[i]));
        }
        for (int i = 1; i < N; i++)
            assert_true(m ? bd[i - 1] >= bd[i] : bd[i - 1] <= bd[i]);
        free(bd);
        free(bi);
        vindex_free(ix);
        free(x);
        free(q);
    }
}

static void per_call_equals_attribute(void **state)
{
    (void)state;
    enum { N = 2000, NQ = 50, K = 5 };
    float *x = tu_clustered_vectors(N, D, 20, 41), *q = tu_clustered_vectors(NQ, D, 20, 42);
    vindex *ix = refined("PQ8x4", VINDEX_METRIC_L2, N, x);
    double v;
    ASSERT_OK(vindex_get_param(ix, "k_factor", &v));
    assert_true(v == 1.0); /* Faiss's default */
    float d1[NQ * K], d2[NQ * K];
    vindex_id i1[NQ * K], i2[NQ * K];
    ASSERT_OK(vindex_set_param(ix, "k_factor", 3.5));
    ASSERT_OK(vindex_search(ix, NQ, q, K, NULL, d1, i1));
    ASSERT_OK(vindex_set_param(ix, "k_factor", 1));
    vindex_search_params p;
    vindex_search_params_init(&p);
    p.k_factor = 3.5f;
    ASSERT_OK(vindex_search(ix, NQ, q, K, &p, d2, i2));
    assert_memory_equal(i1, i2, sizeof i1);
    assert_memory_equal(d1, d2, sizeof d1);
    ASSERT_OK(vindex_get_param(ix, "k_factor", &v));
    assert_true(v == 1.0); /* the call did not touch the attribute */
    /* other names reach the base index */
    ASSERT_OK(vindex_get_param(ix, "pq.M", &v));
    assert_true(v == 8);
    vindex_free(ix);
    free(x);
    free(q);
}

/* A refine index that is not a Flat (reconstruct path) ranks the same as a
 * Flat holding the same vectors. */
static void general_refine_index(void **state)
{
    (void)state;
    enum { N = 1500, NQ = 30, K = 5 };
    float *x = tu_random_vectors(N, D, 51), *q = tu_random_vectors(NQ, D, 52);
    vindex *base, *rsq, *ix;
    ASSERT_OK(vindex_factory(&base, D, "SQ4", VINDEX_METRIC_L2));
    ASSERT_OK(vindex_factory(&rsq, D, "SQfp16", VINDEX_METRIC_L2));
    ASSERT_OK(vindex_refine_new(&ix, base, rsq));
    assert_string_equal(vindex_type_name(ix), "IndexRefine");
    assert_false(vindex_is_trained(ix));
    ASSERT_OK(vindex_train(ix, N, x));
    ASSERT_OK(vindex_add(ix, N, x));
    ASSERT_OK(vindex_set_param(ix, "k_factor", 8));
    float dist[NQ * K], ref_d[NQ * K];
    vindex_id ids[NQ * K], ref_i[NQ * K];
    ASSERT_OK(vindex_search(ix, NQ, q, K, NULL, dist, ids));
    /* distances are those to the fp16 vectors */
    float y[D];
    for (int i = 0; i < NQ * K; i++) {
        ASSERT_OK(vindex_reconstruct(ix, ids[i], y));
        double want = tu_distance(q + (i / K) * D, y, D, VINDEX_METRIC_L2);
        assert_true(fabs(want - dist[i]) <= 1e-4 * (1 + want));
    }
    tu_reference_knn(q, NQ, x, N, D, K, VINDEX_METRIC_L2, ref_d, ref_i);
    assert_true(tu_recall(ids, ref_i, NQ, K, K) >= 0.95);
    assert_true(vindex_memory_bytes(ix) > (size_t)N * D * 2);
    vindex_free(ix);
    free(x);
    free(q);
}

static void selector_and_range_search(void **state)
{
    (void)state;
    enum { N = 1000, NQ = 10, K = 10 };
    float *x = tu_random_vectors(N, D, 61), *q = tu_random_vectors(NQ, D, 62);
    vindex *ix = refined("PQ8x4", VINDEX_METRIC_L2, N, x);
    vindex_selector *sel;
    ASSERT_OK(vindex_selector_range(&sel, 100, 200));
    vindex_search_params p;
    vindex_search_params_init(&p);
    p.sel = sel;
    p.k_factor = 20;
    float dist[NQ * K], ref_d[NQ * K];
    vindex_id ids[NQ * K], ref_i[NQ * K];
    ASSERT_OK(vindex_search(ix, NQ, q, K, &p, dist, ids));
    tu_reference_knn(q, NQ, x + 100 * D, 100, D, K, VINDEX_METRIC_L2, ref_d, ref_i);
    for (int i = 0; i < NQ * K; i++) {
        assert_true(ids[i] >= 100 && ids[i] < 200);
        ids[i] -= 100;
    }
    tu_check_knn(q, NQ, x + 100 * D, 100, D, K, VINDEX_METRIC_L2, dist, ids, ref_d, ref_i, K,
                 1e-5);
    vindex_selector_free(sel);

    /* range search: every hit is a true one with its exact distance; over a
     * Flat base it is exactly the Flat's range search */
    float radius = 3.0f;
    vindex_range_result *res;
    ASSERT_OK(vindex_range_search(ix, NQ, q, radius, NULL, &res));
    for (size_t i = 0; i < NQ; i++)
        for (size_t j = res->lims[i]; j < res->lims[i + 1]; j++) {
            double want = tu_distance(q + i * D, x + res->labels[j] * D, D, VINDEX_METRIC_L2);
            assert_true(fabs(want - res->distances[j]) <= 1e-4 * want);
            assert_true(res->distances[j] < radius);
        }
    vindex_range_result_free(res);
    vindex_free(ix);

    vindex *flat_ref = refined("Flat", VINDEX_METRIC_L2, N, x), *flat;
    ASSERT_OK(vindex_factory(&flat, D, "Flat", VINDEX_METRIC_L2));
    ASSERT_OK(vindex_add(flat, N, x));
    vindex_range_result *a, *b;
    ASSERT_OK(vindex_range_search(flat_ref, NQ, q, radius, NULL, &a));
    ASSERT_OK(vindex_range_search(flat, NQ, q, radius, NULL, &b));
    assert_memory_equal(a->lims, b->lims, (NQ + 1) * sizeof(size_t));
    assert_true(a->lims[NQ] > 0);
    assert_memory_equal(a->labels, b->labels, a->lims[NQ] * sizeof(vindex_id));
    vindex_range_result_free(a);
    vindex_range_result_free(b);
    vindex_free(flat_ref);
    vindex_free(flat);
    free(x);
    free(q);
}

static void add_remove_reset_stay_aligned(void **state)
{
    (void)state;
    enum { N = 600, K = 3 };
    float *x = tu_random_vectors(N, D, 71);
    vindex *ix = refined("SQ8", VINDEX_METRIC_L2, N / 2, x);
    ASSERT_OK(vindex_add(ix, N / 2, x + (N / 2) * D));
    assert_int_equal(vindex_ntotal(ix), N);
    float y[D];
    ASSERT_OK(vindex_reconstruct(ix, 450, y));
    assert_memory_equal(y, x + 450 * D, sizeof y);

    vindex_selector *sel;
    ASSERT_OK(vindex_selector_range(&sel, 0, 100));
    size_t removed;
    ASSERT_OK(vindex_remove_ids(ix, sel, &removed));
    vindex_selector_free(sel);
    assert_int_equal(removed, 100);
    assert_int_equal(vindex_ntotal(ix), N - 100);
    /* vector 100 is now label 0, in both parts */
    ASSERT_OK(vindex_reconstruct(ix, 0, y));
    assert_memory_equal(y, x + 100 * D, sizeof y);
    float dist[K];
    vindex_id ids[K];
    ASSERT_OK(vindex_set_param(ix, "k_factor", 4));
    ASSERT_OK(vindex_search(ix, 1, x + 300 * D, K, NULL, dist, ids));
    assert_int_equal(ids[0], 200);
    assert_true(dist[0] == 0.0f);

    ASSERT_OK(vindex_reset(ix));
    assert_int_equal(vindex_ntotal(ix), 0);
    assert_true(vindex_is_trained(ix));
    ASSERT_OK(vindex_search(ix, 1, x, K, NULL, dist, ids));
    assert_int_equal(ids[0], -1);
    ASSERT_OK(vindex_add(ix, 10, x));
    ASSERT_OK(vindex_search(ix, 1, x + 5 * D, K, NULL, dist, ids));
    assert_int_equal(ids[0], 5);
    vindex_free(ix);

    /* an IVF base keeps its labels on removal while a Flat renumbers: refused */
    vindex *ivf;
    ASSERT_OK(vindex_factory(&ivf, D, "IVF4,Flat", VINDEX_METRIC_L2));
    ASSERT_OK(vindex_refine_new(&ix, ivf, NULL));
    ASSERT_OK(vindex_train(ix, N, x));
    ASSERT_OK(vindex_add(ix, N, x));
    ASSERT_OK(vindex_set_param(ix, "nprobe", 4)); /* reaches the IVF */
    ASSERT_OK(vindex_search(ix, 1, x + 7 * D, K, NULL, dist, ids));
    assert_int_equal(ids[0], 7);
    ASSERT_OK(vindex_selector_range(&sel, 0, 10));
    assert_int_equal(vindex_remove_ids(ix, sel, NULL), VINDEX_ERR_UNSUPPORTED);
    vindex_selector_free(sel);
    assert_int_equal(vindex_ntotal(ix), N);
    vindex_free(ix);
    free(x);
}

/* A base add that fails after the refine add is undone: nothing is added. */
static void failed_add_adds_nothing(void **state)
{
    (void)state;
    float *x = tu_random_vectors(20, D, 81);
    vindex *flat, *idmap, *ix;
    ASSERT_OK(vindex_flat_new(&flat, D, VINDEX_METRIC_L2));
    ASSERT_OK(vindex_idmap_new(&idmap, flat)); /* refuses add without ids */
    ASSERT_OK(vindex_refine_new(&ix, idmap, NULL));
    assert_int_equal(vindex_add(ix, 20, x), VINDEX_ERR_UNSUPPORTED);
    assert_int_equal(vindex_ntotal(ix), 0);
    float y[D];
    assert_int_equal(vindex_reconstruct(ix, 0, y), VINDEX_ERR_NOT_FOUND);
    vindex_free(ix);
    free(x);
}

static void bad_input(void **state)
{
    (void)state;
    vindex *base, *other, *ix = (vindex *)0x1;
    ASSERT_OK(vindex_flat_new(&base, D, VINDEX_METRIC_L2));
    ASSERT_OK(vindex_flat_new(&other, D + 1, VINDEX_METRIC_L2));
    assert_int_equal(vindex_refine_new(&ix, base, other), VINDEX_ERR_DIM);
    assert_null(ix);
    assert_non_null(strstr(vindex_last_error(), "dim"));
    vindex_free(other); /* the caller keeps both on failure */
    ASSERT_OK(vindex_flat_new(&other, D, VINDEX_METRIC_INNER_PRODUCT));
    assert_int_equal(vindex_refine_new(&ix, base, other), VINDEX_ERR_INVALID);
    vindex_free(other);
    ASSERT_OK(vindex_flat_new(&other, D, VINDEX_METRIC_L2));
    float *x = tu_random_vectors(10, D, 91);
    ASSERT_OK(vindex_add(other, 10, x));
    assert_int_equal(vindex_refine_new(&ix, base, other), VINDEX_ERR_INVALID); /* ntotal */
    assert_int_equal(vindex_refine_new(&ix, base, base), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_refine_new(&ix, NULL, other), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_refine_new(NULL, base, other), VINDEX_ERR_INVALID);
    vindex_free(other);

    ASSERT_OK(vindex_refine_new(&ix, base, NULL));
    ASSERT_OK(vindex_add(ix, 10, x));
    /* k_factor below 1 is refused (Faiss needs k * k_factor >= k) */
    assert_int_equal(vindex_set_param(ix, "k_factor", 0.5), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_set_param(ix, "k_factor", 0), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_set_param(ix, "k_factor", -2), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_set_param(ix, "no_such", 1), VINDEX_ERR_NOT_FOUND);
    double v;
    ASSERT_OK(vindex_get_param(ix, "k_factor", &v));
    assert_true(v == 1.0);
    vindex_search_params p;
    vindex_search_params_init(&p);
    float dist[2];
    vindex_id ids[2];
    p.k_factor = 0.5f;
    assert_int_equal(vindex_search(ix, 1, x, 2, &p, dist, ids), VINDEX_ERR_INVALID);
    p.k_factor = -1;
    assert_int_equal(vindex_search(ix, 1, x, 2, &p, dist, ids), VINDEX_ERR_INVALID);
    p.k_factor = 0; /* the attribute */
    ASSERT_OK(vindex_search(ix, 1, x, 2, &p, dist, ids));
    assert_int_equal(ids[0], 0);
    assert_int_equal(vindex_add_with_ids(ix, 1, x, ids), VINDEX_ERR_UNSUPPORTED);
    vindex_free(ix);

    /* RefineFlat over a base that already holds vectors: no refine copy of them */
    ASSERT_OK(vindex_flat_new(&base, D, VINDEX_METRIC_L2));
    ASSERT_OK(vindex_add(base, 10, x));
    assert_int_equal(vindex_refine_new(&ix, base, NULL), VINDEX_ERR_INVALID);
    vindex_free(base);
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(recall_rises_with_k_factor),
        cmocka_unit_test(exact_when_all_are_candidates),
        cmocka_unit_test(per_call_equals_attribute),
        cmocka_unit_test(general_refine_index),
        cmocka_unit_test(selector_and_range_search),
        cmocka_unit_test(add_remove_reset_stay_aligned),
        cmocka_unit_test(failed_add_adds_nothing),
        cmocka_unit_test(bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
