/* Threads: the thread-count setting, results that do not depend on it, and
 * concurrent const calls (search, range search, reconstruct) from several user
 * threads on one index, which must equal the same calls made serially. */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

enum { D = 24, N = 2500, NQ = 64, K = 8, NTHREADS = 4, ROUNDS = 3 };

static void set_and_get(void **state)
{
    (void)state;
    vindex_set_num_threads(3);
    assert_int_equal(vindex_get_num_threads(), 3);
    vindex_set_num_threads(1);
    assert_int_equal(vindex_get_num_threads(), 1);
    vindex_set_num_threads(0); /* back to the default */
    int def = vindex_get_num_threads();
    assert_true(def >= 1);
    const char *env = getenv("VINDEX_NUM_THREADS");
    if (!env || atoi(env) <= 0)
        assert_int_equal(def, (int)sysconf(_SC_NPROCESSORS_ONLN));
    else
        assert_int_equal(def, atoi(env));
    vindex_set_num_threads(-7); /* n <= 0 also restores the default */
    assert_int_equal(vindex_get_num_threads(), def);
    vindex_set_num_threads(1000000); /* capped, never more than asked */
    int big = vindex_get_num_threads();
    assert_true(big >= 1 && big <= 1000000);
    vindex_set_num_threads(0);
}

/* Everything one index answers for a fixed set of calls, for comparison. */
typedef struct answers {
    float dist[3][NQ * K];
    vindex_id lab[3][NQ * K];
    vindex_range_result *range[2];
} answers;

static const size_t nqs[3] = {1, 7, NQ}; /* split over the database, SIMD; BLAS */

static void answer(const vindex *ix, const float *q, const vindex_search_params *p, float radius,
                   answers *a)
{
    for (int c = 0; c < 3; c++)
        ASSERT_OK(vindex_search(ix, nqs[c], q, K, p, a->dist[c], a->lab[c]));
    ASSERT_OK(vindex_range_search(ix, 5, q, radius, p, &a->range[0]));
    ASSERT_OK(vindex_range_search(ix, NQ, q, radius, p, &a->range[1]));
}

static int same_range(const vindex_range_result *a, const vindex_range_result *b)
{
    if (a->nq != b->nq || memcmp(a->lims, b->lims, (a->nq + 1) * sizeof *a->lims))
        return 0;
    size_t n = a->lims[a->nq];
    return !memcmp(a->distances, b->distances, n * sizeof *a->distances) &&
           !memcmp(a->labels, b->labels, n * sizeof *a->labels);
}

static int same_answers(const answers *a, const answers *b)
{
    for (int c = 0; c < 3; c++)
        if (memcmp(a->dist[c], b->dist[c], nqs[c] * K * sizeof(float)) ||
            memcmp(a->lab[c], b->lab[c], nqs[c] * K * sizeof(vindex_id)))
            return 0;
    return same_range(a->range[0], b->range[0]) && same_range(a->range[1], b->range[1]);
}

static void free_answers(answers *a)
{
    vindex_range_result_free(a->range[0]);
    vindex_range_result_free(a->range[1]);
}

typedef struct fixture {
    float *x, *q;
    vindex *flat_l2, *flat_ip, *idmap2;
    vindex_id *ids;
    vindex_selector *sel;
    float radius_l2, radius_ip; /* about 50 hits for the first query */
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->x = tu_clustered_vectors(N + NQ, D, 12, 51);
    f->q = f->x + (size_t)N * D;
    f->ids = malloc(N * sizeof *f->ids);
    for (size_t i = 0; i < N; i++)
        f->ids[i] = (vindex_id)(i * 7919) - 100000;
    vindex *sub;
    if (vindex_flat_new(&f->flat_l2, D, VINDEX_METRIC_L2) ||
        vindex_flat_new(&f->flat_ip, D, VINDEX_METRIC_INNER_PRODUCT) ||
        vindex_flat_new(&sub, D, VINDEX_METRIC_L2) || vindex_idmap2_new(&f->idmap2, sub) ||
        vindex_add(f->flat_l2, N, f->x) || vindex_add(f->flat_ip, N, f->x) ||
        vindex_add_with_ids(f->idmap2, N, f->x, f->ids) ||
        vindex_selector_range(&f->sel, -100000, 7919 * 1000))
        return -1;
    float rd[50];
    vindex_id ri[50];
    tu_reference_knn(f->q, 1, f->x, N, D, 50, VINDEX_METRIC_L2, rd, ri);
    f->radius_l2 = rd[49];
    tu_reference_knn(f->q, 1, f->x, N, D, 50, VINDEX_METRIC_INNER_PRODUCT, rd, ri);
    f->radius_ip = rd[49];
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    vindex_free(f->flat_l2);
    vindex_free(f->flat_ip);
    vindex_free(f->idmap2);
    vindex_selector_free(f->sel);
    free(f->ids);
    free(f->x);
    free(f);
    vindex_set_num_threads(0);
    return 0;
}

static void identical_for_1_2_4_threads(void **state)
{
    fixture *f = *state;
    vindex_search_params p;
    vindex_search_params_init(&p);
    p.sel = f->sel;
    const vindex *ixs[] = {f->flat_l2, f->flat_ip, f->idmap2, f->idmap2};
    const vindex_search_params *ps[] = {NULL, NULL, NULL, &p};
    const float radii[] = {f->radius_l2, f->radius_ip, f->radius_l2, f->radius_l2};
    answers *one = calloc(1, sizeof *one), *many = calloc(1, sizeof *many);
    for (size_t i = 0; i < COUNT(ixs); i++) {
        vindex_set_num_threads(1);
        answer(ixs[i], f->q, ps[i], radii[i], one);
        assert_true(one->range[1]->lims[NQ] > NQ); /* the radius finds something */
        assert_true(one->range[1]->lims[NQ] < (size_t)NQ * N / 4);
        const int counts[] = {2, 4};
        for (size_t c = 0; c < COUNT(counts); c++) {
            vindex_set_num_threads(counts[c]);
            answer(ixs[i], f->q, ps[i], radii[i], many);
            if (!same_answers(one, many))
                fail_msg("index %zu: %d threads differ from 1", i, counts[c]);
            free_answers(many);
        }
        free_answers(one);
    }
    free(one);
    free(many);
}

/* ---- concurrent searches ------------------------------------------------- */

typedef struct worker {
    const fixture *f;
    const vindex *ix;
    const vindex_search_params *p;
    float radius;
    const answers *expected;
    int mismatches;
    int errors;
    char error_seen[64];
} worker;

static void *run_worker(void *arg)
{
    worker *w = arg;
    answers *got = calloc(1, sizeof *got);
    for (int r = 0; r < ROUNDS; r++) {
        for (int c = 0; c < 3; c++)
            if (vindex_search(w->ix, nqs[c], w->f->q, K, w->p, got->dist[c], got->lab[c]))
                w->errors++;
        if (vindex_range_search(w->ix, 5, w->f->q, w->radius, w->p, &got->range[0]) ||
            vindex_range_search(w->ix, NQ, w->f->q, w->radius, w->p, &got->range[1])) {
            w->errors++;
            free_answers(got);
            memset(got, 0, sizeof *got);
            continue;
        }
        w->mismatches += !same_answers(w->expected, got);
        free_answers(got);
        /* the last error is per thread: a failure here is seen here only */
        float v[D];
        if (vindex_reconstruct(w->f->idmap2, 123, v) != VINDEX_ERR_NOT_FOUND)
            w->errors++;
        snprintf(w->error_seen, sizeof w->error_seen, "%s", vindex_last_error());
    }
    free(got);
    return NULL;
}

static void concurrent_searches_equal_serial(void **state)
{
    fixture *f = *state;
    vindex_search_params p;
    vindex_search_params_init(&p);
    p.sel = f->sel;
    /* several threads, each with its own index and parameters, two on the same
     * index with different parameters (per-call params share no state) */
    const vindex *ixs[NTHREADS] = {f->flat_l2, f->flat_ip, f->idmap2, f->idmap2};
    const vindex_search_params *ps[NTHREADS] = {NULL, NULL, NULL, &p};
    const float radii[NTHREADS] = {f->radius_l2, f->radius_ip, f->radius_l2, f->radius_l2};
    for (int pool = 1; pool <= 2; pool++) {
        vindex_set_num_threads(pool);
        answers *expected = calloc(NTHREADS, sizeof *expected);
        for (int t = 0; t < NTHREADS; t++)
            answer(ixs[t], f->q, ps[t], radii[t], &expected[t]);
        /* also all threads on one index: the L2 flat */
        for (int same = 0; same < 2; same++) {
            worker w[NTHREADS];
            pthread_t tid[NTHREADS];
            for (int t = 0; t < NTHREADS; t++) {
                int which = same ? 0 : t;
                w[t] = (worker){f, ixs[which], ps[which], radii[which], &expected[which], 0, 0, ""};
                assert_int_equal(pthread_create(&tid[t], NULL, run_worker, &w[t]), 0);
            }
            /* meanwhile the main thread makes a call that succeeds */
            float md[K];
            vindex_id ml[K];
            ASSERT_OK(vindex_search(f->flat_l2, 1, f->q, K, NULL, md, ml));
            assert_memory_equal(md, expected[0].dist[0], sizeof md);
            for (int t = 0; t < NTHREADS; t++) {
                assert_int_equal(pthread_join(tid[t], NULL), 0);
                assert_int_equal(w[t].errors, 0);
                assert_int_equal(w[t].mismatches, 0);
                assert_non_null(strstr(w[t].error_seen, "123"));
            }
            assert_string_equal(vindex_last_error(), "");
        }
        for (int t = 0; t < NTHREADS; t++)
            free_answers(&expected[t]);
        free(expected);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(set_and_get),
        cmocka_unit_test_setup_teardown(identical_for_1_2_4_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(concurrent_searches_equal_serial, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
