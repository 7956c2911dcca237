/* IndexIVFFlat's sketches (ivf_flat.c): searches of a few queries, which
 * prune codes by their sketches' lower bounds and find the nearest lists from
 * the centroids' sketches, give exactly what a full scan gives (ids and
 * distances, bit for bit) at every nprobe and k, with selectors, for trained
 * and pre-trained quantizers, after a round trip through a buffer and a
 * merge; sketches are on by default for L2 at d >= 256. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "index/ivf.h"
#include "index/ivf_coarse.h"
#include "index/ivf_flat.h"

enum { D = 64, N = 4000, NQ = 60, NLIST = 32 };

static vindex *trained_ivf(int sketch_dims, const float *x, size_t n, int d)
{
    vx_ivf_flat_sketch_dims = sketch_dims;
    vindex *q, *ix;
    ASSERT_OK(vindex_flat_new(&q, d, VINDEX_METRIC_L2));
    ASSERT_OK(vindex_ivf_flat_new(&ix, q, d, NLIST, VINDEX_METRIC_L2));
    vx_ivf_flat_sketch_dims = -1;
    ASSERT_OK(vindex_train(ix, n, x));
    ASSERT_OK(vindex_add(ix, n, x));
    return ix;
}

/* Queries one per call (the sketch path) against one batch call of the
 * reference index (a full scan by list): identical results. */
static void assert_same_results(vindex *sketched, vindex *reference, const float *q, size_t nq,
                                int d, size_t k, int nprobe, const vindex_selector *sel)
{
    vindex_search_params p;
    vindex_search_params_init(&p);
    p.nprobe = nprobe;
    p.sel = sel;
    float *want_d = malloc(nq * k * sizeof(float)), *got_d = malloc(nq * k * sizeof(float));
    vindex_id *want_i = malloc(nq * k * sizeof(vindex_id)),
              *got_i = malloc(nq * k * sizeof(vindex_id));
    ASSERT_OK(vindex_search(reference, nq, q, k, &p, want_d, want_i));
    for (size_t i = 0; i < nq; i++)
        ASSERT_OK(vindex_search(sketched, 1, q + i * (size_t)d, k, &p, got_d + i * k,
                                got_i + i * k));
    for (size_t t = 0; t < nq * k; t++)
        if (got_i[t] != want_i[t] || memcmp(&got_d[t], &want_d[t], sizeof(float)) != 0)
            fail_msg("nprobe %d k %zu query %zu rank %zu: (%lld, %.9g) != full scan (%lld, %.9g)",
                     nprobe, k, t / k, t % k, (long long)got_i[t], (double)got_d[t],
                     (long long)want_i[t], (double)want_d[t]);
    /* three queries in one call take the same path */
    ASSERT_OK(vindex_search(sketched, 3, q, k, &p, got_d, got_i));
    assert_memory_equal(got_i, want_i, 3 * k * sizeof(vindex_id));
    free(want_d);
    free(got_d);
    free(want_i);
    free(got_i);
}

static void sketched_search_equals_full_scan(void **state)
{
    (void)state;
    float *x = tu_clustered_vectors(N + NQ, D, 50, 7), *q = x + (size_t)N * D;
    vindex *sk = trained_ivf(16, x, N, D), *ref = trained_ivf(0, x, N, D);
    assert_true(vindex_memory_bytes(sk) >= vindex_memory_bytes(ref) + (size_t)N * 16 * 4);
    const int nprobes[] = {1, 3, 8, NLIST};
    const size_t ks[] = {1, 10, 300};
    for (size_t a = 0; a < 4; a++)
        for (size_t b = 0; b < 3; b++)
            assert_same_results(sk, ref, q, NQ, D, ks[b], nprobes[a], NULL);
    /* a selector: only odd ids below 3000 */
    vindex_selector *range, *bitmap;
    ASSERT_OK(vindex_selector_range(&range, 0, 3000));
    assert_same_results(sk, ref, q, NQ, D, 10, 4, range);
    uint8_t bits[N / 8];
    for (size_t i = 0; i < sizeof bits; i++)
        bits[i] = 0xaa;
    ASSERT_OK(vindex_selector_bitmap(&bitmap, N, bits));
    assert_same_results(sk, ref, q, NQ, D, 10, 4, bitmap);
    vindex_selector_free(range);
    vindex_selector_free(bitmap);
    vindex_free(sk);
    vindex_free(ref);
    free(x);
}

/* Every nprobe = nlist search is exact: the sketches never drop a neighbour. */
static void exact_with_all_lists(void **state)
{
    (void)state;
    enum { n = 3000, nq = 40, k = 25 };
    float *x = tu_clustered_vectors(n, D, 20, 11), *q = tu_random_vectors(nq, D, 12);
    vindex *sk = trained_ivf(32, x, n, D);
    float *ref_d = malloc(nq * k * sizeof(float)), *dis = malloc(nq * k * sizeof(float));
    vindex_id *ref_i = malloc(nq * k * sizeof(vindex_id)), *ids = malloc(nq * k * sizeof(vindex_id));
    tu_reference_knn(q, nq, x, n, D, k, VINDEX_METRIC_L2, ref_d, ref_i);
    vindex_search_params p;
    vindex_search_params_init(&p);
    p.nprobe = NLIST;
    for (size_t i = 0; i < nq; i++)
        ASSERT_OK(vindex_search(sk, 1, q + i * D, k, &p, dis + i * k, ids + i * k));
    tu_check_knn(q, nq, x, n, D, k, VINDEX_METRIC_L2, dis, ids, ref_d, ref_i, k, 1e-5);
    vindex_free(sk);
    free(x);
    free(q);
    free(ref_d);
    free(dis);
    free(ref_i);
    free(ids);
}

/* A quantizer trained beforehand makes the index trained at construction:
 * its codes are sketched by their first coordinates until a train(). */
static void pretrained_quantizer(void **state)
{
    (void)state;
    float *x = tu_clustered_vectors(N + NQ, D, 50, 8), *q = x + (size_t)N * D;
    vindex *ref = trained_ivf(0, x, N, D), *quantizer, *coarse, *sk;
    ASSERT_OK(vindex_ivf_quantizer(ref, &quantizer));
    float *centroids = malloc((size_t)NLIST * D * sizeof(float));
    for (int l = 0; l < NLIST; l++)
        ASSERT_OK(vindex_reconstruct(quantizer, l, centroids + (size_t)l * D));
    ASSERT_OK(vindex_flat_new(&coarse, D, VINDEX_METRIC_L2));
    ASSERT_OK(vindex_add(coarse, NLIST, centroids));
    vx_ivf_flat_sketch_dims = 16;
    ASSERT_OK(vindex_ivf_flat_new(&sk, coarse, D, NLIST, VINDEX_METRIC_L2));
    vx_ivf_flat_sketch_dims = -1;
    assert_true(vindex_is_trained(sk));
    ASSERT_OK(vindex_add(sk, N, x));
    assert_same_results(sk, ref, q, NQ, D, 10, 4, NULL);
    vindex_free(sk);
    vindex_free(ref);
    free(centroids);
    free(x);
}

/* Sketches survive a round trip; merging needs equal sketch directions. */
static void round_trip_and_merge(void **state)
{
    (void)state;
    float *x = tu_clustered_vectors(N + NQ, D, 50, 9), *q = x + (size_t)N * D;
    vindex *sk = trained_ivf(16, x, N, D), *ref = trained_ivf(0, x, N, D), *back;
    void *buf;
    size_t len;
    ASSERT_OK(vindex_serialize(sk, &buf, &len));
    ASSERT_OK(vindex_deserialize(&back, buf, len));
    vindex_buffer_free(buf);
    assert_int_equal(vindex_memory_bytes(back), vindex_memory_bytes(sk));
    assert_same_results(back, ref, q, NQ, D, 10, 4, NULL);

    /* a copy trained alike merges; one with other sketches does not */
    vindex *twin = trained_ivf(16, x, N, D);
    ASSERT_OK(vindex_reset(twin));
    ASSERT_OK(vindex_add(twin, 100, x));
    ASSERT_OK(vindex_ivf_merge_from(sk, twin, N));
    assert_int_equal(vindex_ntotal(sk), N + 100);
    vindex *other = trained_ivf(32, x, N, D);
    assert_int_equal(vindex_ivf_merge_from(sk, other, 0), VINDEX_ERR_INVALID);
    vindex_free(twin);
    vindex_free(other);
    vindex_free(sk);
    vindex_free(ref);
    vindex_free(back);
    free(x);
}

/* Sketches are the default at d >= 256 for L2 (and only there). */
static void default_on_for_large_d(void **state)
{
    (void)state;
    enum { d = 288, n = 2000, nq = 20 };
    float *x = tu_clustered_vectors(n + nq, d, 30, 13), *q = x + (size_t)n * d;
    vindex *sk = trained_ivf(-1, x, n, d), *ref = trained_ivf(0, x, n, d);
    /* d / 6 = 48 sketch floats per vector */
    assert_true(vindex_memory_bytes(sk) >= vindex_memory_bytes(ref) + (size_t)n * 48 * 4);
    assert_same_results(sk, ref, q, nq, d, 10, 3, NULL);
    vindex *qip, *ip;
    ASSERT_OK(vindex_flat_new(&qip, d, VINDEX_METRIC_INNER_PRODUCT));
    ASSERT_OK(vindex_ivf_flat_new(&ip, qip, d, NLIST, VINDEX_METRIC_INNER_PRODUCT));
    ASSERT_OK(vindex_train(ip, n, x));
    ASSERT_OK(vindex_add(ip, n, x));
    assert_true(vindex_memory_bytes(ip) < vindex_memory_bytes(ref) + (size_t)n * 8);
    vindex_free(ip);
    vindex_free(sk);
    vindex_free(ref);
    free(x);
}

/* The core's sketched coarse search (ivf_coarse.h) finds the lists the
 * quantizer finds, for any family; it exists for L2 Flat quantizers of d >= 256
 * and nlist >= 64 only. */
static void coarse_sketches_find_the_quantizers_lists(void **state)
{
    (void)state;
    enum { d = 256, n = 4000, nq = 40, nlist = 64 };
    float *x = tu_clustered_vectors(n + nq, d, 80, 21), *q = x + (size_t)n * d;
    vindex *qz, *ix, *sq;
    ASSERT_OK(vindex_flat_new(&qz, d, VINDEX_METRIC_L2));
    ASSERT_OK(vindex_ivf_flat_new(&ix, qz, d, nlist, VINDEX_METRIC_L2));
    ASSERT_OK(vindex_train(ix, n, x));
    ASSERT_OK(vindex_add(ix, n, x));
    const vx_ivf *ivf = (const vx_ivf *)ix;
    assert_non_null(ivf->coarse);
    float got_d[nlist], want_d[nlist];
    vindex_id got_i[nlist], want_i[nlist];
    const size_t nprobes[] = {1, 5, nlist};
    for (size_t a = 0; a < 3; a++)
        for (size_t i = 0; i < nq; i++) {
            const float *qi = q + i * d;
            assert_int_equal(vx_ivf_coarse_search(ivf, 1, qi, nprobes[a], got_d, got_i), 1);
            ASSERT_OK(vindex_search(qz, 1, qi, nprobes[a], NULL, want_d, want_i));
            assert_memory_equal(got_i, want_i, nprobes[a] * sizeof(vindex_id));
            for (size_t t = 0; t < nprobes[a]; t++)
                assert_true(fabsf(got_d[t] - want_d[t]) <= 1e-5f * (want_d[t] + 1.0f));
        }
    /* another family on the same quantizer: one query per call = the batch */
    vindex *qz2;
    ASSERT_OK(vindex_flat_new(&qz2, d, VINDEX_METRIC_L2));
    ASSERT_OK(vindex_ivfsq_new(&sq, qz2, d, nlist, VINDEX_SQ_8BIT, VINDEX_METRIC_L2));
    ASSERT_OK(vindex_train(sq, n, x));
    ASSERT_OK(vindex_add(sq, n, x));
    assert_non_null(((const vx_ivf *)sq)->coarse);
    assert_same_results(sq, sq, q, nq, d, 10, 4, NULL);
    vindex_free(sq);
    /* small nlist: the quantizer's own scan */
    vindex *qz3, *small;
    ASSERT_OK(vindex_flat_new(&qz3, d, VINDEX_METRIC_L2));
    ASSERT_OK(vindex_ivf_flat_new(&small, qz3, d, 16, VINDEX_METRIC_L2));
    ASSERT_OK(vindex_train(small, n, x));
    assert_null(((const vx_ivf *)small)->coarse);
    vindex_free(small);
    vindex_free(ix);
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sketched_search_equals_full_scan),
        cmocka_unit_test(exact_with_all_lists),
        cmocka_unit_test(pretrained_quantizer),
        cmocka_unit_test(round_trip_and_merge),
        cmocka_unit_test(default_on_for_large_d),
        cmocka_unit_test(coarse_sketches_find_the_quantizers_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
