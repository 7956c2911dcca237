/* The IVF core's sketched coarse search for batches (ivf_coarse.h): where the
 * centroids' sketches prune well, a whole batch takes them and finds exactly
 * the quantizer's lists; where they prune badly (isotropic data, many probes),
 * a batch stops after its first queries and the rest go to the quantizer; and
 * either way a batch search returns what one query per call returns. The
 * quantizers hold chosen centroids (no k-means), so the test stays fast. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "index/ivf.h"
#include "index/ivf_coarse.h"

enum { D = 256, NLIST = 256, PER_LIST = 8, N = NLIST * PER_LIST, NQ = 100 };

/* An IndexIVFFlat over a Flat quantizer that holds `centroids`, filled with x. */
static vindex *ivf_over(const float *centroids, const float *x, size_t n)
{
    vindex *q, *ix;
    ASSERT_OK(vindex_flat_new(&q, D, VINDEX_METRIC_L2));
    ASSERT_OK(vindex_add(q, NLIST, centroids));
    ASSERT_OK(vindex_ivf_flat_new(&ix, q, D, NLIST, VINDEX_METRIC_L2));
    ASSERT_OK(vindex_train(ix, n, x));
    ASSERT_OK(vindex_add(ix, n, x));
    assert_non_null(((const vx_ivf *)ix)->coarse);
    return ix;
}

/* Points near the centroids (offsets of sd `spread` per coordinate). */
static float *near(const float *centroids, size_t n, float spread, uint64_t seed)
{
    float *x = malloc(n * D * sizeof(float));
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++)
        for (size_t t = 0; t < D; t++)
            x[i * D + t] = centroids[(i % NLIST) * D + t] + spread * (tu_uniform(&s) - 0.5f);
    return x;
}

/* The coarse search of the first `searched` queries equals the quantizer's. */
static void assert_quantizers_lists(const vindex *ix, const float *q, size_t searched,
                                    size_t nprobe, const float *got_d, const vindex_id *got_i)
{
    const vindex *qz = ((const vx_ivf *)ix)->quantizer;
    float *want_d = malloc(searched * nprobe * sizeof(float));
    vindex_id *want_i = malloc(searched * nprobe * sizeof(vindex_id));
    ASSERT_OK(vindex_search(qz, searched, q, nprobe, NULL, want_d, want_i));
    assert_memory_equal(got_i, want_i, searched * nprobe * sizeof(vindex_id));
    /* the quantizer's BLAS distances (|q|^2 + |c|^2 - 2 <q, c>, norms up to D)
     * are off by up to ~eps D; the sketches' are exact */
    for (size_t t = 0; t < searched * nprobe; t++)
        assert_true(fabsf(got_d[t] - want_d[t]) <= 1e-4f * want_d[t] + 1e-5f * D);
    free(want_d);
    free(want_i);
}

/* add() put each of the n vectors x (ids 0..n-1) in the quantizer's nearest
 * list: add assigns through the sketches too. */
static void assert_added_to_quantizers_lists(const vindex *ix, const float *x, size_t n)
{
    const vindex *qz = ((const vx_ivf *)ix)->quantizer;
    float *dist = malloc(n * sizeof *dist);
    vindex_id *want = malloc(n * sizeof *want), *ids = malloc(n * sizeof *ids);
    ASSERT_OK(vindex_search(qz, n, x, 1, NULL, dist, want));
    size_t sizes[NLIST], total = 0;
    ASSERT_OK(vindex_ivf_list_sizes(ix, sizes));
    for (size_t l = 0; l < NLIST; l++) {
        ASSERT_OK(vindex_ivf_list_ids(ix, l, ids));
        for (size_t t = 0; t < sizes[l]; t++)
            assert_int_equal(want[ids[t]], (vindex_id)l);
        total += sizes[l];
    }
    assert_int_equal(total, n);
    free(dist);
    free(want);
    free(ids);
}

/* A batch search equals one query per call (ids and distances), on one
 * thread and on three (the batch's coarse search runs in blocks on the pool). */
static void assert_batch_equals_single(const vindex *ix, const float *q, size_t nprobe)
{
    enum { K = 5 };
    vindex_search_params p;
    vindex_search_params_init(&p);
    p.nprobe = (int)nprobe;
    float bd[NQ * K], sd[NQ * K];
    vindex_id bi[NQ * K], si[NQ * K];
    const int threads_before = vindex_get_num_threads();
    for (size_t i = 0; i < NQ; i++)
        ASSERT_OK(vindex_search(ix, 1, q + i * D, K, &p, sd + i * K, si + i * K));
    for (int threads = 1; threads <= 3; threads += 2) {
        vindex_set_num_threads(threads);
        ASSERT_OK(vindex_search(ix, NQ, q, K, &p, bd, bi));
        assert_memory_equal(bi, si, sizeof bi);
        assert_memory_equal(bd, sd, sizeof bd);
    }
    vindex_set_num_threads(threads_before);
}

/* Centroids far apart, queries close to them, one probe: the bounds rule out
 * nearly every centroid, and the whole batch takes the sketches. */
static void batch_takes_the_sketches_where_they_prune(void **state)
{
    (void)state;
    float *centroids = tu_random_vectors(NLIST, D, 3);
    float *x = near(centroids, N, 0.05f, 5), *q = near(centroids, NQ, 0.05f, 7);
    vindex *ix = ivf_over(centroids, x, N);
    assert_added_to_quantizers_lists(ix, x, N);
    float cd[NQ];
    vindex_id ci[NQ];
    assert_int_equal(vx_ivf_coarse_search((const vx_ivf *)ix, NQ, q, 1, cd, ci), NQ);
    assert_quantizers_lists(ix, q, NQ, 1, cd, ci);
    assert_batch_equals_single(ix, q, 1);
    vindex_free(ix);
    free(centroids);
    free(x);
    free(q);
}

/* Uniform centroids and queries, many probes: the bounds rule out little, so
 * a batch stops after its first queries (a few queries never stop), and its
 * rest comes from the quantizer with the same results. */
static void batch_falls_back_to_the_quantizer(void **state)
{
    (void)state;
    enum { NPROBE = 16 };
    float *centroids = tu_random_vectors(NLIST, D, 11);
    float *x = tu_random_vectors(N, D, 13), *q = tu_random_vectors(NQ, D, 17);
    vindex *ix = ivf_over(centroids, x, N);
    assert_added_to_quantizers_lists(ix, x, N);
    float *cd = malloc(NQ * NPROBE * sizeof(float));
    vindex_id *ci = malloc(NQ * NPROBE * sizeof(vindex_id));
    size_t searched = vx_ivf_coarse_search((const vx_ivf *)ix, NQ, q, NPROBE, cd, ci);
    assert_true(searched > 0 && searched < NQ);
    assert_quantizers_lists(ix, q, searched, NPROBE, cd, ci);
    assert_int_equal(vx_ivf_coarse_search((const vx_ivf *)ix, VX_IVF_COARSE_FEW, q, NPROBE, cd,
                                          ci),
                     VX_IVF_COARSE_FEW);
    assert_quantizers_lists(ix, q, VX_IVF_COARSE_FEW, NPROBE, cd, ci);
    assert_batch_equals_single(ix, q, NPROBE);
    vindex_free(ix);
    free(centroids);
    free(x);
    free(q);
    free(cd);
    free(ci);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(batch_takes_the_sketches_where_they_prune),
        cmocka_unit_test(batch_falls_back_to_the_quantizer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
