/* k-means: convergence on clustered data, determinism for a seed whatever the
 * thread count, subsampling notice, empty-cluster repair, spherical, k-means++,
 * the assignment pruned by sketch bounds against the plain one, bad input. */
#include "testutil.h"

#include "core/alloc.h"
#include "quant/kmeans_sketch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char logged[4096];
static void capture_log(int level, const char *message, void *user)
{
    (void)level;
    (void)user;
    size_t used = strlen(logged);
    snprintf(logged + used, sizeof logged - used, "%s\n", message);
}

static double objective(const float *x, size_t n, int d, const float *c, size_t k)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double best = INFINITY;
        for (size_t j = 0; j < k; j++) {
            double t = tu_distance(x + i * (size_t)d, c + j * (size_t)d, d, VINDEX_METRIC_L2);
            if (t < best)
                best = t;
        }
        s += best;
    }
    return s;
}

static double o_last(const float *obj) { return obj[74]; }

static void converges_on_clusters(void **state)
{
    (void)state;
    enum { N = 3000, D = 16, K = 20 };
    float *x = tu_clustered_vectors(N, D, K, 7);
    float *c = malloc(K * D * sizeof *c);
    vindex_kmeans_params p;
    vindex_kmeans_params_init(&p);
    assert_int_equal(p.niter, 25);
    assert_int_equal(p.max_points_per_centroid, 256);
    p.nredo = 3;
    float obj[75];
    ASSERT_OK(vindex_kmeans(N, D, x, K, &p, c, obj));
    for (int r = 0; r < 3; r++) {
        const float *o = obj + r * 25;
        assert_true(o[24] < o[0]);
        for (int i = 1; i < 25; i++) /* Lloyd never increases the objective */
            assert_true(o[i] <= o[i - 1] * (1 + 1e-4f));
    }
    /* points lie 0.05 (per coordinate) around their centres: d * 0.0025 each */
    double per_point = objective(x, N, D, c, K) / N;
    assert_true(per_point < 5.0 * D * 0.0025); /* a few merged clusters at worst */
    assert_true(per_point * N <= o_last(obj) * (1 + 1e-4));
    free(x);
    free(c);
}

static void deterministic_whatever_threads(void **state)
{
    (void)state;
    enum { N = 6000, D = 24, K = 50 };
    float *x = tu_clustered_vectors(N, D, 40, 11);
    float *c1 = malloc(K * D * sizeof *c1), *c2 = malloc(K * D * sizeof *c2);
    float o1[10], o2[10];
    vindex_kmeans_params p;
    vindex_kmeans_params_init(&p);
    p.niter = 10;
    p.seed = 99;
    for (int init = 0; init < 2; init++) {
        p.init = (vindex_kmeans_init)init;
        vindex_set_num_threads(1);
        ASSERT_OK(vindex_kmeans(N, D, x, K, &p, c1, o1));
        for (int t = 2; t <= 4; t++) {
            vindex_set_num_threads(t);
            ASSERT_OK(vindex_kmeans(N, D, x, K, &p, c2, o2));
            assert_memory_equal(c1, c2, K * D * sizeof *c1);
            assert_memory_equal(o1, o2, sizeof o1);
        }
    }
    /* another seed gives other centroids */
    p.seed = 100;
    ASSERT_OK(vindex_kmeans(N, D, x, K, &p, c2, NULL));
    assert_true(memcmp(c1, c2, K * D * sizeof *c1) != 0);
    vindex_set_num_threads(0);
    free(x);
    free(c1);
    free(c2);
}

static void subsamples_with_notice(void **state)
{
    (void)state;
    enum { N = 5000, D = 8, K = 10 };
    float *x = tu_clustered_vectors(N, D, K, 3);
    float *c = malloc(K * D * sizeof *c);
    vindex_kmeans_params p;
    vindex_kmeans_params_init(&p);
    p.max_points_per_centroid = 100;
    logged[0] = '\0';
    vindex_set_log_callback(capture_log, NULL);
    ASSERT_OK(vindex_kmeans(N, D, x, K, &p, c, NULL));
    assert_non_null(strstr(logged, "sampling 1000 of the 5000"));
    /* too few points per centroid: a warning */
    logged[0] = '\0';
    ASSERT_OK(vindex_kmeans(200, D, x, K, NULL, c, NULL));
    assert_non_null(strstr(logged, "advised"));
    vindex_set_log_callback(NULL, NULL);
    free(x);
    free(c);
}

static void repairs_empty_clusters(void **state)
{
    (void)state;
    /* 90 copies of one point and 10 others: random seeds repeat the copy, so
     * clusters go empty and must be split from the big one. */
    enum { N = 100, D = 4, K = 8 };
    float x[N * D];
    uint64_t s = 5;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < D; j++)
            x[i * D + j] = i < 90 ? 1.0f : tu_uniform(&s) * 10;
    float c[K * D], obj[5];
    vindex_kmeans_params p;
    vindex_kmeans_params_init(&p);
    p.niter = 5;
    p.verbose = 1;
    logged[0] = '\0';
    vindex_set_log_callback(capture_log, NULL);
    ASSERT_OK(vindex_kmeans(N, D, x, K, &p, c, obj));
    vindex_set_log_callback(NULL, NULL);
    assert_non_null(strstr(logged, "iteration 4"));
    for (int i = 0; i < K * D; i++)
        assert_true(isfinite(c[i]));
    for (int i = 0; i < 5; i++)
        assert_true(isfinite(obj[i]));
    /* n == k: every point its own centroid, objective 0 */
    float c2[N * D];
    ASSERT_OK(vindex_kmeans(N - 90 + 1, D, x + 89 * D, N - 90 + 1, &p, c2, obj));
    assert_true(obj[4] == 0);
}

static void spherical_centroids_are_unit(void **state)
{
    (void)state;
    enum { N = 2000, D = 12, K = 16 };
    float *x = tu_clustered_vectors(N, D, K, 21);
    float *c = malloc(K * D * sizeof *c);
    vindex_kmeans_params p;
    vindex_kmeans_params_init(&p);
    p.spherical = 1;
    float obj[25];
    ASSERT_OK(vindex_kmeans(N, D, x, K, &p, c, obj));
    for (int j = 0; j < K; j++) {
        double n2 = tu_distance(c + j * D, c + j * D, D, VINDEX_METRIC_INNER_PRODUCT);
        assert_true(fabs(n2 - 1) < 1e-4);
    }
    assert_true(obj[24] >= obj[0]); /* inner products grow */
    free(x);
    free(c);
}

static void plusplus_and_niter_zero(void **state)
{
    (void)state;
    enum { N = 2000, D = 8, K = 12 };
    float *x = tu_clustered_vectors(N, D, K, 33);
    float *c = malloc(K * D * sizeof *c);
    vindex_kmeans_params p;
    vindex_kmeans_params_init(&p);
    p.init = VINDEX_KMEANS_INIT_PLUSPLUS;
    ASSERT_OK(vindex_kmeans(N, D, x, K, &p, c, NULL));
    assert_true(objective(x, N, D, c, K) / N < 5.0 * D * 0.0025);
    /* niter = 0: the seeds are training points */
    p.niter = 0;
    p.init = VINDEX_KMEANS_INIT_RANDOM;
    ASSERT_OK(vindex_kmeans(N, D, x, K, &p, c, NULL));
    for (int j = 0; j < K; j++) {
        int found = 0;
        for (int i = 0; i < N && !found; i++)
            found = !memcmp(c + j * D, x + i * D, D * sizeof *x);
        assert_true(found);
    }
    free(x);
    free(c);
}

/* Runs k-means with vx_kmeans_sketch_dims = dims (0: the plain sgemm pass). */
static void kmeans_with_sketch(int dims, size_t n, int d, const float *x, size_t k, int threads,
                               float *c, float *obj)
{
    vindex_kmeans_params p;
    vindex_kmeans_params_init(&p);
    p.niter = 8;
    vx_kmeans_sketch_dims = dims;
    vindex_set_num_threads(threads);
    ASSERT_OK(vindex_kmeans(n, d, x, k, &p, c, obj));
    vindex_set_num_threads(0);
    vx_kmeans_sketch_dims = -1;
}

/* Checks vx_kmeans_sketch_assign against brute force in double precision:
 * every point goes to a centroid at the smallest distance up to float
 * rounding, with that distance; the same assignment at every thread count. */
static void check_sketch_assign(int dims, const float *x, size_t n, int d, const float *c,
                                size_t k)
{
    vx_kmeans_sketch_dims = dims;
    float *dis = malloc(n * sizeof *dis);
    vindex_id *assign = malloc(n * sizeof *assign), *first = malloc(n * sizeof *first);
    float *xnorms = malloc(n * sizeof *xnorms);
    for (size_t i = 0; i < n; i++)
        xnorms[i] = (float)tu_distance(x + i * (size_t)d, x + i * (size_t)d, d,
                                       VINDEX_METRIC_INNER_PRODUCT);
    for (int threads = 1; threads <= 2; threads++) {
        vx_kmeans_sketch *s;
        ASSERT_OK(vx_kmeans_sketch_new(n, (size_t)d, x, xnorms, k, threads, &s));
        ASSERT_OK(vx_kmeans_sketch_assign(s, c, dis, assign));
        vx_kmeans_sketch_free(s);
        if (threads == 1)
            memcpy(first, assign, n * sizeof *first);
        assert_memory_equal(first, assign, n * sizeof *first);
    }
    for (size_t i = 0; i < n; i++) {
        const float *xi = x + i * (size_t)d;
        double best = INFINITY;
        for (size_t j = 0; j < k; j++)
            best = fmin(best, tu_distance(xi, c + j * (size_t)d, d, VINDEX_METRIC_L2));
        assert_true(assign[i] >= 0 && (size_t)assign[i] < k);
        double mine = tu_distance(xi, c + (size_t)assign[i] * (size_t)d, d, VINDEX_METRIC_L2);
        assert_true(mine <= best * (1 + 1e-5) + 1e-6);
        assert_true(fabs(dis[i] - mine) <= 1e-5 * mine + 1e-6);
    }
    vx_kmeans_sketch_dims = -1;
    free(dis);
    free(assign);
    free(first);
    free(xnorms);
}

/* The pruned assignment is Lloyd's: exact against brute force on clustered
 * data (bounds prune almost everything) and on uniform data (they prune
 * little, near-ties abound), at every sketch size; and k-means through it
 * reaches the plain pass's objectives. */
static void sketched_assignment_is_lloyds(void **state)
{
    (void)state;
    /* the default engages in high dimensions with enough points and centroids */
    assert_true(vx_kmeans_sketch_applies(60000, 784, 1024));
    assert_false(vx_kmeans_sketch_applies(60000, 100, 1024));
    assert_false(vx_kmeans_sketch_applies(1000, 784, 1024));
    /* smaller here, sketch sizes set (valgrind runs this test) */
    enum { N = 1000, D = 128, K = 64 };
    float *x = tu_clustered_vectors(N, D, 90, 41);
    float *c = malloc(K * D * sizeof *c), *plain = malloc(K * D * sizeof *plain);
    for (size_t j = 0; j < K; j++) /* centroids: every 70th point, nudged */
        for (size_t t = 0; t < D; t++)
            c[j * D + t] = x[j * 15 * D + t] + 0.01f * (float)((t * 7 + j) % 5);
    const int dims[] = {4, 32};
    for (int t = 0; t < 2; t++)
        check_sketch_assign(dims[t], x, N, D, c, K);

    free(x);

    /* k-means through it, above Hamerly's dimensions (which would take over) */
    enum { DK = 144 };
    x = tu_clustered_vectors(N, DK, 90, 42);
    float *ck = malloc(K * DK * sizeof *ck), *pk = malloc(K * DK * sizeof *pk);
    float oplain[8], o[8];
    kmeans_with_sketch(0, N, DK, x, K, 1, pk, oplain);
    kmeans_with_sketch(32, N, DK, x, K, 2, ck, o);
    for (int i = 0; i < 8; i++)
        assert_true(fabsf(o[i] - oplain[i]) <= 1e-5f * oplain[i]);
    free(ck);
    free(pk);
    free(x);
    x = tu_random_vectors(N, D, 43);
    memcpy(c, x + 100 * D, K * D * sizeof *c);
    check_sketch_assign(16, x, N, D, c, K);
    check_sketch_assign(D - 8, x, N, D, c, K); /* tight bounds: any excess prunes wrongly */
    free(x);
    free(plain);
    free(c);
}

/* Runs k-means with each allocation failing in turn until one run reaches
 * none: every failed run returns NOMEM (the sanitizers and valgrind see
 * nothing leaked), the last gives the objectives of a run that never failed.
 * Returns how many allocations a run makes. */
static long allocations_failing_in_turn(int dims, const float *x, size_t n, int d, size_t k)
{
    float *c = malloc(k * (size_t)d * sizeof *c), ref[8], o[8];
    vindex_kmeans_params p;
    vindex_kmeans_params_init(&p);
    p.niter = 8;
    vx_kmeans_sketch_dims = dims;
    vindex_set_num_threads(1);
    ASSERT_OK(vindex_kmeans(n, d, x, k, &p, c, ref));
    long at = 1;
    for (;; at++) {
        vx_alloc_fail_at(at);
        vindex_status st = vindex_kmeans(n, d, x, k, &p, c, o);
        bool fired = vx_alloc_failures() > 0;
        vx_alloc_fail_at(0);
        if (!fired) {
            ASSERT_OK(st);
            break;
        }
        assert_int_equal(st, VINDEX_ERR_NOMEM);
    }
    assert_memory_equal(ref, o, sizeof o);
    vx_kmeans_sketch_dims = -1;
    vindex_set_num_threads(0);
    free(c);
    return at - 1;
}

static void sketch_allocation_failures(void **state)
{
    (void)state;
    enum { N = 600, D = 144, K = 16 }; /* above Hamerly's dimensions */
    float *x = tu_clustered_vectors(N, D, 20, 51);
    long plain = allocations_failing_in_turn(0, x, N, D, K);
    long sketched = allocations_failing_in_turn(8, x, N, D, K);
    assert_true(sketched > plain + 5); /* the sketch's own allocations were reached */
    free(x);
}

static void bad_input(void **state)
{
    (void)state;
    float x[40] = {0}, c[40];
    assert_int_equal(vindex_kmeans(5, 4, x, 10, NULL, c, NULL), VINDEX_ERR_INVALID);
    assert_non_null(strstr(vindex_last_error(), "fewer than the 10 centroids"));
    assert_int_equal(vindex_kmeans(10, 4, x, 0, NULL, c, NULL), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_kmeans(10, 0, x, 2, NULL, c, NULL), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_kmeans(10, 4, NULL, 2, NULL, c, NULL), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_kmeans(10, 4, x, 2, NULL, NULL, NULL), VINDEX_ERR_INVALID);
    vindex_kmeans_params p;
    vindex_kmeans_params_init(&p);
    p.nredo = 0;
    assert_int_equal(vindex_kmeans(10, 4, x, 2, &p, c, NULL), VINDEX_ERR_INVALID);
    vindex_kmeans_params_init(&p);
    p.max_points_per_centroid = 0;
    assert_int_equal(vindex_kmeans(10, 4, x, 2, &p, c, NULL), VINDEX_ERR_INVALID);
    x[7] = NAN;
    assert_int_equal(vindex_kmeans(10, 4, x, 2, NULL, c, NULL), VINDEX_ERR_INVALID);
    assert_non_null(strstr(vindex_last_error(), "NaN"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(converges_on_clusters),
        cmocka_unit_test(deterministic_whatever_threads),
        cmocka_unit_test(subsamples_with_notice),
        cmocka_unit_test(repairs_empty_clusters),
        cmocka_unit_test(spherical_centroids_are_unit),
        cmocka_unit_test(plusplus_and_niter_zero),
        cmocka_unit_test(sketched_assignment_is_lloyds),
        cmocka_unit_test(sketch_allocation_failures),
        cmocka_unit_test(bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
