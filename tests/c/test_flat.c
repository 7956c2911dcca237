/* IndexFlat against a plain double-precision brute force (tu_reference_knn):
 * L2 and IP, random and clustered data, both search paths (SIMD below the BLAS
 * threshold, sgemm at or above it), thread-count independence, range search,
 * remove / reconstruct / reset, vindex_knn and vindex_normalize_l2. */
#include "testutil.h"

#include "index/flat.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { K_MAX = 50 };

/* The largest base and query counts: 3000 and 300, or 500 and 40 in
 * small-data mode (tu_small; still both sides of the BLAS threshold of 20
 * queries, and every k). Set in main. */
static size_t nb_max, nq_max;

static const int dims[] = {1, 7, 33, 128};
static size_t nbs[] = {1, 100, 0 /* nb_max */};
static const size_t ks[] = {1, 10, K_MAX};
static size_t nqs[] = {1, 5, 19, 20, 0 /* nq_max */};
static const vindex_metric metrics[] = {VINDEX_METRIC_L2, VINDEX_METRIC_INNER_PRODUCT};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define NEVER_BLAS ((size_t)-1)

/* Database (nb_max) then queries (nq_max), all from one distribution. */
static float *make_data(int clustered, int d, uint64_t seed)
{
    size_t n = nb_max + nq_max;
    return clustered ? tu_clustered_vectors(n, d, 20, seed) : tu_random_vectors(n, d, seed);
}

static vindex *flat_with(int d, vindex_metric m, size_t n, const float *x)
{
    vindex *ix = NULL;
    ASSERT_OK(vindex_flat_new(&ix, d, m));
    ASSERT_OK(vindex_add(ix, n, x));
    assert_int_equal(vindex_ntotal(ix), (int64_t)n);
    return ix;
}

static void search_with_threshold(const vindex *ix, size_t threshold, size_t nq, const float *q,
                                  size_t k, float *dist, vindex_id *labels)
{
    size_t saved = vindex_get_blas_threshold();
    vindex_set_blas_threshold(threshold);
    vindex_status st = vindex_search(ix, nq, q, k, NULL, dist, labels);
    vindex_set_blas_threshold(saved);
    if (st != VINDEX_OK)
        fail_msg("search failed: %s", vindex_last_error());
}

static void search_matches_reference(void **state)
{
    (void)state;
    float *dist = malloc(nq_max * K_MAX * sizeof *dist);
    vindex_id *labels = malloc(nq_max * K_MAX * sizeof *labels);
    float *ref_d = malloc(nq_max * K_MAX * sizeof *ref_d);
    vindex_id *ref_i = malloc(nq_max * K_MAX * sizeof *ref_i);
    size_t searches = 0, ties = 0, exact = 0;
    for (int clustered = 0; clustered < 2; clustered++)
        for (size_t di = 0; di < COUNT(dims); di++) {
            int d = dims[di];
            float *data = make_data(clustered, d, 100 + (uint64_t)di + 10 * (uint64_t)clustered);
            const float *queries = data + (size_t)nb_max * d;
            for (size_t mi = 0; mi < COUNT(metrics); mi++)
                for (size_t bi = 0; bi < COUNT(nbs); bi++) {
                    size_t nb = nbs[bi];
                    vindex *ix = flat_with(d, metrics[mi], nb, data);
                    /* K_MAX columns for all queries; smaller k and nq are prefixes */
                    tu_reference_knn(queries, nq_max, data, nb, d, K_MAX, metrics[mi], ref_d,
                                     ref_i);
                    for (size_t ki = 0; ki < COUNT(ks); ki++)
                        for (size_t qi = 0; qi < COUNT(nqs); qi++) {
                            size_t k = ks[ki], nq = nqs[qi];
                            /* the default path, then the other one forced */
                            size_t paths[2] = {vindex_get_blas_threshold(),
                                               nq >= vindex_get_blas_threshold() ? NEVER_BLAS
                                                                                 : 1};
                            for (int p = 0; p < 2; p++) {
                                search_with_threshold(ix, paths[p], nq, queries, k, dist, labels);
                                size_t t = tu_check_knn(queries, nq, data, nb, d, k,
                                                        metrics[mi], dist, labels, ref_d, ref_i,
                                                        K_MAX, 1e-4);
                                ties += t;
                                exact += nq * (k < nb ? k : nb) - t;
                                searches++;
                            }
                        }
                    vindex_free(ix);
                }
            free(data);
        }
    assert_int_equal(searches, 2 * COUNT(dims) * COUNT(metrics) * COUNT(nbs) * COUNT(ks) *
                                   COUNT(nqs) * 2);
    /* near-ties are the exception, not the rule */
    assert_true(ties * 100 < exact);
    free(dist);
    free(labels);
    free(ref_d);
    free(ref_i);
}

/* Both paths give the same distances and ids up to rounding, and each is
 * bitwise the same for 1, 2 and 3 threads (fixed block sizes). */
static void results_independent_of_thread_count(void **state)
{
    (void)state;
    const int d = 33;
    float *data = make_data(0, d, 7);
    const float *queries = data + (size_t)nb_max * d;
    const size_t k = 10;
    const size_t cases[] = {1, 5, 19, 20, nq_max};
    float *d1 = malloc(nq_max * k * sizeof *d1), *dn = malloc(nq_max * k * sizeof *dn);
    vindex_id *l1 = malloc(nq_max * k * sizeof *l1), *ln = malloc(nq_max * k * sizeof *ln);
    for (size_t mi = 0; mi < COUNT(metrics); mi++) {
        vindex *ix = flat_with(d, metrics[mi], nb_max, data);
        for (size_t c = 0; c < COUNT(cases); c++)
            for (int blas = 0; blas < 2; blas++) {
                size_t nq = cases[c], thr = blas ? 1 : NEVER_BLAS;
                vindex_set_num_threads(1);
                search_with_threshold(ix, thr, nq, queries, k, d1, l1);
                for (int nt = 2; nt <= 3; nt++) {
                    vindex_set_num_threads(nt);
                    memset(dn, 0, nq * k * sizeof *dn);
                    search_with_threshold(ix, thr, nq, queries, k, dn, ln);
                    if (memcmp(d1, dn, nq * k * sizeof *d1) || memcmp(l1, ln, nq * k * sizeof *l1))
                        fail_msg("metric %d nq %zu %s: %d threads differ from 1", (int)metrics[mi],
                                 nq, blas ? "BLAS" : "SIMD", nt);
                }
            }
        vindex_free(ix);
    }
    vindex_set_num_threads(0);
    free(data);
    free(d1);
    free(dn);
    free(l1);
    free(ln);
}

/* Exact duplicates tie: the smaller label comes first, on both paths. */
static void ties_broken_by_smaller_label(void **state)
{
    (void)state;
    const int d = 8;
    enum { NB = 64, NQ = 24 };
    float *base = tu_random_vectors(NB, d, 5);
    /* vectors 40..63 repeat vectors 0..23 */
    memcpy(base + 40 * d, base, 24 * (size_t)d * sizeof *base);
    for (size_t mi = 0; mi < COUNT(metrics); mi++) {
        vindex *ix = flat_with(d, metrics[mi], NB, base);
        float dist[NQ * 4];
        vindex_id lab[NQ * 4];
        for (int blas = 0; blas < 2; blas++) {
            search_with_threshold(ix, blas ? 1 : NEVER_BLAS, NQ, base, 4, dist, lab);
            for (int i = 0; i < NQ; i++) {
                if (metrics[mi] == VINDEX_METRIC_L2) {
                    /* itself (i) and its copy (40 + i) are both nearest */
                    assert_int_equal(lab[i * 4], i);
                    assert_int_equal(lab[i * 4 + 1], 40 + i);
                    assert_true(dist[i * 4] == dist[i * 4 + 1]);
                    assert_true(dist[i * 4] <= 1e-5f);
                } else {
                    /* whoever is best, its copy ties with it and follows it */
                    vindex_id a = lab[i * 4], b = lab[i * 4 + 1];
                    if (a < 24 || (a >= 40 && a < 64)) {
                        assert_int_equal(b, a < 24 ? a + 40 : a);
                        assert_true(a < 24);
                        assert_true(dist[i * 4] == dist[i * 4 + 1]);
                    }
                }
            }
        }
        vindex_free(ix);
    }
    free(base);
}

/* ---- range search -------------------------------------------------------- */

static void check_range(const vindex_range_result *res, const float *q, size_t nq,
                        const float *x, size_t nx, int d, vindex_metric m, float radius,
                        const vindex_selector *sel, size_t *total_hits)
{
    const int l2 = m == VINDEX_METRIC_L2;
    assert_non_null(res);
    assert_int_equal(res->nq, nq);
    assert_int_equal(res->lims[0], 0);
    char *seen = calloc(nx, 1);
    for (size_t i = 0; i < nq; i++) {
        assert_true(res->lims[i] <= res->lims[i + 1]);
        memset(seen, 0, nx);
        const float *qi = q + i * (size_t)d;
        double qn = sqrt(tu_distance(qi, qi, d, VINDEX_METRIC_INNER_PRODUCT));
        for (size_t h = res->lims[i]; h < res->lims[i + 1]; h++) {
            vindex_id id = res->labels[h];
            assert_true(id >= 0 && (size_t)id < nx);
            assert_false(seen[id]);
            seen[id] = 1;
            if (sel)
                assert_true(vindex_selector_contains(sel, id));
            double truth = tu_distance(qi, x + (size_t)id * d, d, m);
            double tol = 1e-4 * fabs(truth) + 1e-5 * (l2 ? qn * qn + 2 * d : qn * sqrt(d));
            assert_true(fabs(res->distances[h] - truth) <= tol);
            assert_true(l2 ? truth < radius + tol : truth > radius - tol);
            if (h > res->lims[i]) { /* sorted nearest first, ties by label */
                float a = res->distances[h - 1], b = res->distances[h];
                assert_true(l2 ? a <= b : a >= b);
                if (a == b)
                    assert_true(res->labels[h - 1] < id);
            }
        }
        for (size_t p = 0; p < nx; p++) {
            if (seen[p] || (sel && !vindex_selector_contains(sel, (vindex_id)p)))
                continue;
            double truth = tu_distance(qi, x + p * d, d, m);
            double tol = 1e-4 * fabs(truth) + 1e-5 * (l2 ? qn * qn + 2 * d : qn * sqrt(d));
            /* a clear hit that is missing */
            if (l2 ? truth < radius - tol : truth > radius + tol)
                fail_msg("query %zu: vector %zu at %.9g within radius %g is missing", i, p, truth,
                         (double)radius);
        }
        *total_hits += res->lims[i + 1] - res->lims[i];
    }
    free(seen);
}

static void range_search_matches_reference(void **state)
{
    (void)state;
    enum { NQ = 40 };
    const size_t NB = tu_pick(2000, 400);
    for (int clustered = 0; clustered < 2; clustered++)
        for (size_t di = 1; di < COUNT(dims); di++) {
            int d = dims[di];
            float *x = clustered ? tu_clustered_vectors(NB + NQ, d, 10, 31 + di)
                                 : tu_random_vectors(NB + NQ, d, 31 + di);
            const float *q = x + (size_t)NB * d;
            for (size_t mi = 0; mi < COUNT(metrics); mi++) {
                vindex_metric m = metrics[mi];
                vindex *ix = flat_with(d, m, NB, x);
                /* a radius around the 20th neighbour of query 0 */
                float rd[20];
                vindex_id ri[20];
                tu_reference_knn(q, 1, x, NB, d, 20, m, rd, ri);
                float radius = rd[19];
                const size_t nqs_range[] = {1, 5, NQ};
                for (size_t c = 0; c < COUNT(nqs_range); c++)
                    for (int blas = 0; blas < 2; blas++) {
                        size_t saved = vindex_get_blas_threshold(), hits = 0;
                        vindex_set_blas_threshold(blas ? 1 : NEVER_BLAS);
                        vindex_range_result *res = NULL;
                        ASSERT_OK(vindex_range_search(ix, nqs_range[c], q, radius, NULL, &res));
                        vindex_set_blas_threshold(saved);
                        check_range(res, q, nqs_range[c], x, NB, d, m, radius, NULL, &hits);
                        assert_true(hits >= 15); /* query 0 alone has about 20 */
                        vindex_range_result_free(res);
                    }
                vindex_free(ix);
            }
            free(x);
        }
}

/* radius 0 on L2: a distance is never < 0, not even for the query itself,
 * whatever rounding does to the norm expansion on the BLAS path. */
static void range_search_radius_zero_is_empty(void **state)
{
    (void)state;
    enum { NB = 500, NQ = 50 };
    for (size_t di = 0; di < COUNT(dims); di++) {
        int d = dims[di];
        float *x = tu_random_vectors(NB, d, 77 + di);
        for (size_t i = 0; i < (size_t)NB * d; i++)
            x[i] = x[i] * 100.0f + 50.0f; /* large norms, so rounding shows */
        vindex *ix = flat_with(d, VINDEX_METRIC_L2, NB, x);
        for (int blas = 0; blas < 2; blas++) {
            size_t saved = vindex_get_blas_threshold();
            vindex_set_blas_threshold(blas ? 1 : NEVER_BLAS);
            vindex_range_result *res = NULL;
            ASSERT_OK(vindex_range_search(ix, NQ, x, 0.0f, NULL, &res));
            vindex_set_blas_threshold(saved);
            assert_int_equal(res->nq, NQ);
            if (res->lims[NQ] != 0)
                fail_msg("d=%d %s: radius 0 returned %zu hits (first: label %lld dist %g)", d,
                         blas ? "BLAS" : "SIMD", res->lims[NQ], (long long)res->labels[0],
                         (double)res->distances[0]);
            vindex_range_result_free(res);
            if (blas)
                continue; /* BLAS rounding may put a self-distance above a tiny radius */
            /* a tiny radius finds each query itself (SIMD scores it exactly 0) */
            vindex_set_blas_threshold(NEVER_BLAS);
            ASSERT_OK(vindex_range_search(ix, NQ, x, 1e-30f, NULL, &res));
            vindex_set_blas_threshold(saved);
            for (size_t i = 0; i < NQ; i++) {
                int found = 0;
                for (size_t h = res->lims[i]; h < res->lims[i + 1]; h++)
                    found |= res->labels[h] == (vindex_id)i;
                assert_true(found);
            }
            vindex_range_result_free(res);
        }
        vindex_free(ix);
        free(x);
    }
}

static void range_search_empty_and_nq_zero(void **state)
{
    (void)state;
    vindex *ix = NULL;
    ASSERT_OK(vindex_flat_new(&ix, 4, VINDEX_METRIC_INNER_PRODUCT));
    float q[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    vindex_range_result *res = NULL;
    ASSERT_OK(vindex_range_search(ix, 2, q, -1e30f, NULL, &res)); /* IP: negative is fine */
    assert_int_equal(res->nq, 2);
    assert_int_equal(res->lims[0], 0);
    assert_int_equal(res->lims[1], 0);
    assert_int_equal(res->lims[2], 0);
    vindex_range_result_free(res);
    ASSERT_OK(vindex_add(ix, 2, q));
    ASSERT_OK(vindex_range_search(ix, 0, NULL, 0.0f, NULL, &res));
    assert_int_equal(res->nq, 0);
    assert_int_equal(res->lims[0], 0);
    vindex_range_result_free(res);
    /* IP with a very negative radius returns everything, best first */
    ASSERT_OK(vindex_range_search(ix, 1, q, -1e30f, NULL, &res));
    assert_int_equal(res->lims[1], 2);
    assert_int_equal(res->labels[0], 1);
    assert_true(res->distances[0] == 70.0f);
    assert_int_equal(res->labels[1], 0);
    assert_true(res->distances[1] == 30.0f);
    vindex_range_result_free(res);
    vindex_range_result_free(NULL);
    vindex_free(ix);
}

/* ---- remove, reconstruct, reset ----------------------------------------- */

static void assert_vec_equal(const float *a, const float *b, int d)
{
    assert_memory_equal(a, b, (size_t)d * sizeof(float));
}

static void remove_by_range_renumbers(void **state)
{
    (void)state;
    const int d = 9;
    enum { N = 100 };
    float *x = tu_random_vectors(N, d, 3);
    for (size_t mi = 0; mi < COUNT(metrics); mi++) {
        vindex *ix = flat_with(d, metrics[mi], N, x);
        vindex_selector *sel = NULL;
        ASSERT_OK(vindex_selector_range(&sel, 10, 20));
        size_t removed = 999;
        ASSERT_OK(vindex_remove_ids(ix, sel, &removed));
        assert_int_equal(removed, 10);
        assert_int_equal(vindex_ntotal(ix), N - 10);
        float v[9];
        for (vindex_id i = 0; i < N - 10; i++) {
            ASSERT_OK(vindex_reconstruct(ix, i, v));
            assert_vec_equal(v, x + (size_t)(i < 10 ? i : i + 10) * d, d);
        }
        assert_int_equal(vindex_reconstruct(ix, N - 10, v), VINDEX_ERR_NOT_FOUND);
        /* searches see the new labels: old vector 50 is now 40; old 15 is gone */
        if (metrics[mi] == VINDEX_METRIC_L2) {
            float dist[2];
            vindex_id lab[2];
            ASSERT_OK(vindex_search(ix, 1, x + 50 * d, 1, NULL, dist, lab));
            assert_int_equal(lab[0], 40);
            assert_true(dist[0] <= 1e-6f);
            ASSERT_OK(vindex_search(ix, 1, x + 15 * d, 1, NULL, dist, lab));
            assert_true(dist[0] > 1e-3f);
            /* the stored norms moved with the vectors: BLAS and SIMD agree */
            float *q = x + 50 * d;
            float qs[20 * 9];
            for (int r = 0; r < 20; r++)
                memcpy(qs + r * d, q, (size_t)d * sizeof *q);
            float bd[20];
            vindex_id bl[20];
            ASSERT_OK(vindex_search(ix, 20, qs, 1, NULL, bd, bl));
            assert_int_equal(bl[0], 40);
            assert_true(bd[0] <= 1e-5f);
        }
        /* the same selector again removes the vectors that now carry labels 10..19 */
        ASSERT_OK(vindex_remove_ids(ix, sel, &removed));
        assert_int_equal(removed, 10); /* old 20..29 */
        assert_int_equal(vindex_ntotal(ix), N - 20);
        ASSERT_OK(vindex_reconstruct(ix, 10, v));
        assert_vec_equal(v, x + 30 * d, d);
        vindex_selector_free(sel);
        ASSERT_OK(vindex_selector_range(&sel, 1000, 2000)); /* selects nothing */
        ASSERT_OK(vindex_remove_ids(ix, sel, NULL));
        assert_int_equal(vindex_ntotal(ix), N - 20);
        vindex_selector_free(sel);
        vindex_free(ix);
    }
    free(x);
}

static void remove_by_batch_renumbers(void **state)
{
    (void)state;
    const int d = 5;
    enum { N = 50 };
    float *x = tu_random_vectors(N, d, 4);
    vindex *ix = flat_with(d, VINDEX_METRIC_L2, N, x);
    const vindex_id gone[] = {0, 7, 7, 49, 1000, -3};
    vindex_selector *sel = NULL;
    ASSERT_OK(vindex_selector_batch(&sel, 6, gone));
    size_t removed = 0;
    ASSERT_OK(vindex_remove_ids(ix, sel, &removed));
    assert_int_equal(removed, 3);
    assert_int_equal(vindex_ntotal(ix), N - 3);
    /* kept: old 1..6, 8..48 in order */
    float *all = malloc((N - 3) * (size_t)d * sizeof *all);
    ASSERT_OK(vindex_reconstruct_n(ix, 0, N - 3, all));
    size_t at = 0;
    for (size_t i = 0; i < N; i++) {
        if (i == 0 || i == 7 || i == 49)
            continue;
        assert_vec_equal(all + at * d, x + i * d, d);
        at++;
    }
    assert_int_equal(at, N - 3);
    /* search labels follow: old 8 is now 6 */
    float dist[3];
    vindex_id lab[3];
    ASSERT_OK(vindex_search(ix, 1, x + 8 * d, 3, NULL, dist, lab));
    assert_int_equal(lab[0], 6);
    /* a bitmap selector too: remove new labels 0 and 2 */
    uint8_t bits[1] = {0x05};
    vindex_selector *bm = NULL;
    ASSERT_OK(vindex_selector_bitmap(&bm, 3, bits));
    ASSERT_OK(vindex_remove_ids(ix, bm, &removed));
    assert_int_equal(removed, 2);
    float v[5];
    ASSERT_OK(vindex_reconstruct(ix, 0, v));
    assert_vec_equal(v, x + 2 * d, d); /* old 1 and 3 gone, old 2 first */
    ASSERT_OK(vindex_reconstruct(ix, 1, v));
    assert_vec_equal(v, x + 4 * d, d);
    vindex_selector_free(bm);
    vindex_selector_free(sel);
    free(all);
    vindex_free(ix);
    free(x);
}

static void reconstruct_returns_stored_vectors(void **state)
{
    (void)state;
    const int d = 33;
    enum { N = 257 };
    float *x = tu_random_vectors(N, d, 6);
    vindex *ix = NULL;
    ASSERT_OK(vindex_flat_new(&ix, d, VINDEX_METRIC_INNER_PRODUCT));
    /* added in uneven batches, so storage grows several times */
    size_t batches[] = {1, 2, 60, 0, 194};
    size_t at = 0;
    for (size_t b = 0; b < COUNT(batches); b++) {
        ASSERT_OK(vindex_add(ix, batches[b], x + at * d));
        at += batches[b];
        assert_int_equal(vindex_ntotal(ix), (int64_t)at);
    }
    float *out = malloc((size_t)N * d * sizeof *out);
    ASSERT_OK(vindex_reconstruct_n(ix, 0, N, out));
    assert_memory_equal(out, x, (size_t)N * d * sizeof *x);
    ASSERT_OK(vindex_reconstruct_n(ix, 100, 5, out));
    assert_memory_equal(out, x + 100 * d, 5 * (size_t)d * sizeof *x);
    ASSERT_OK(vindex_reconstruct_n(ix, 3, 0, NULL));
    float v[33];
    ASSERT_OK(vindex_reconstruct(ix, N - 1, v));
    assert_vec_equal(v, x + (size_t)(N - 1) * d, d);
    assert_int_equal(vindex_reconstruct(ix, N, v), VINDEX_ERR_NOT_FOUND);
    assert_int_equal(vindex_reconstruct(ix, -1, v), VINDEX_ERR_NOT_FOUND);
    assert_int_equal(vindex_reconstruct_n(ix, N - 2, 3, out), VINDEX_ERR_NOT_FOUND);
    /* a negative start is a valid id elsewhere (IDMap2), just not here */
    assert_int_equal(vindex_reconstruct_n(ix, -1, 2, out), VINDEX_ERR_NOT_FOUND);
    /* memory grows with the content */
    assert_true(vindex_memory_bytes(ix) >= (size_t)N * d * sizeof(float));
    assert_string_equal(vindex_type_name(ix), "IndexFlat");
    assert_int_equal(vindex_d(ix), d);
    assert_int_equal(vindex_metric_type(ix), VINDEX_METRIC_INNER_PRODUCT);
    assert_true(vindex_is_trained(ix));
    free(out);
    vindex_free(ix);
    free(x);
}

static void batches_equal_one_add(void **state)
{
    (void)state;
    const int d = 16;
    enum { N = 700, NQ = 30, K = 7 };
    float *x = tu_random_vectors(N + NQ, d, 8);
    vindex *one = flat_with(d, VINDEX_METRIC_L2, N, x);
    vindex *many = NULL;
    ASSERT_OK(vindex_flat_new(&many, d, VINDEX_METRIC_L2));
    for (size_t at = 0; at < N; at += 99)
        ASSERT_OK(vindex_add(many, at + 99 <= N ? 99 : N - at, x + at * d));
    float d1[NQ * K], d2[NQ * K];
    vindex_id l1[NQ * K], l2[NQ * K];
    for (int blas = 0; blas < 2; blas++) {
        search_with_threshold(one, blas ? 1 : NEVER_BLAS, NQ, x + (size_t)N * d, K, d1, l1);
        search_with_threshold(many, blas ? 1 : NEVER_BLAS, NQ, x + (size_t)N * d, K, d2, l2);
        assert_memory_equal(d1, d2, sizeof d1);
        assert_memory_equal(l1, l2, sizeof l1);
    }
    vindex_free(one);
    vindex_free(many);
    free(x);
}

static void reset_empties(void **state)
{
    (void)state;
    const int d = 4;
    float *x = tu_random_vectors(30, d, 9);
    for (size_t mi = 0; mi < COUNT(metrics); mi++) {
        vindex *ix = flat_with(d, metrics[mi], 30, x);
        ASSERT_OK(vindex_reset(ix));
        assert_int_equal(vindex_ntotal(ix), 0);
        float dist[6];
        vindex_id lab[6];
        ASSERT_OK(vindex_search(ix, 2, x, 3, NULL, dist, lab));
        for (int i = 0; i < 6; i++) {
            assert_int_equal(lab[i], -1);
            assert_true(isinf(dist[i]));
            assert_true(metrics[mi] == VINDEX_METRIC_L2 ? dist[i] > 0 : dist[i] < 0);
        }
        float v[4];
        assert_int_equal(vindex_reconstruct(ix, 0, v), VINDEX_ERR_NOT_FOUND);
        /* usable again; labels restart at 0 */
        ASSERT_OK(vindex_add(ix, 2, x + 10 * d));
        ASSERT_OK(vindex_reconstruct(ix, 1, v));
        assert_vec_equal(v, x + 11 * d, d);
        ASSERT_OK(vindex_search(ix, 1, x + 10 * d, 3, NULL, dist, lab));
        if (metrics[mi] == VINDEX_METRIC_L2)
            assert_int_equal(lab[0], 0);
        assert_int_equal(lab[2], -1);
        vindex_free(ix);
    }
    free(x);
}

/* ---- index-free helpers -------------------------------------------------- */

static void knn_equals_flat_search(void **state)
{
    (void)state;
    const int d = 20;
    enum { K = 12 };
    const size_t NB = tu_pick(1500, 300);
    float *x = tu_random_vectors(NB + nq_max, d, 12);
    const float *q = x + (size_t)NB * d;
    float *d1 = malloc(nq_max * K * sizeof *d1), *d2 = malloc(nq_max * K * sizeof *d2);
    vindex_id *l1 = malloc(nq_max * K * sizeof *l1), *l2 = malloc(nq_max * K * sizeof *l2);
    const size_t nqs_knn[] = {3, 40};
    for (size_t mi = 0; mi < COUNT(metrics); mi++) {
        vindex *ix = flat_with(d, metrics[mi], NB, x);
        for (size_t c = 0; c < COUNT(nqs_knn); c++) {
            size_t nq = nqs_knn[c];
            ASSERT_OK(vindex_search(ix, nq, q, K, NULL, d1, l1));
            ASSERT_OK(vindex_knn(nq, q, NB, x, d, K, metrics[mi], d2, l2));
            assert_memory_equal(d1, d2, nq * K * sizeof *d1);
            assert_memory_equal(l1, l2, nq * K * sizeof *l1);
        }
        /* an empty base pads */
        ASSERT_OK(vindex_knn(1, q, 0, NULL, d, K, metrics[mi], d2, l2));
        assert_int_equal(l2[0], -1);
        assert_true(isinf(d2[K - 1]));
        vindex_free(ix);
    }
    assert_int_equal(vindex_knn(1, q, NB, x, 0, K, VINDEX_METRIC_L2, d2, l2), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_knn(1, q, NB, NULL, d, K, VINDEX_METRIC_L2, d2, l2),
                     VINDEX_ERR_INVALID);
    assert_int_equal(vindex_knn(1, q, NB, x, d, 0, VINDEX_METRIC_L2, d2, l2), VINDEX_ERR_INVALID);
    free(d1);
    free(d2);
    free(l1);
    free(l2);
    free(x);
}

static void normalize_l2_gives_unit_vectors(void **state)
{
    (void)state;
    enum { N = 40 };
    const int d = 19;
    float *x = tu_random_vectors(N, d, 13);
    for (int j = 0; j < d; j++)
        x[5 * d + j] = 0.0f; /* a zero vector stays zero */
    for (int j = 0; j < d; j++)
        x[6 * d + j] = 1e-20f; /* tiny, but not zero: still scaled to unit length */
    float *orig = malloc((size_t)N * d * sizeof *orig);
    memcpy(orig, x, (size_t)N * d * sizeof *x);
    ASSERT_OK(vindex_normalize_l2(N, d, x));
    for (size_t i = 0; i < N; i++) {
        double n2 = tu_distance(x + i * d, x + i * d, d, VINDEX_METRIC_INNER_PRODUCT);
        double on = sqrt(tu_distance(orig + i * d, orig + i * d, d, VINDEX_METRIC_INNER_PRODUCT));
        if (i == 5) {
            assert_true(n2 == 0.0);
            continue;
        }
        if (i == 6)
            continue; /* its square underflows float: checked below for direction only */
        assert_true(fabs(n2 - 1.0) < 1e-5);
        for (int j = 0; j < d; j++) /* same direction */
            assert_true(fabs(x[i * d + j] - orig[i * d + j] / on) < 1e-5);
    }
    for (int j = 0; j < d; j++)
        assert_true(x[6 * d + j] >= 0.0f && isfinite(x[6 * d + j]));
    ASSERT_OK(vindex_normalize_l2(0, d, NULL));
    assert_int_equal(vindex_normalize_l2(1, 0, x), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_normalize_l2(1, d, NULL), VINDEX_ERR_INVALID);
    free(orig);
    free(x);
}

int main(void)
{
    nb_max = tu_pick(3000, 500);
    nq_max = tu_pick(300, 40);
    nbs[COUNT(nbs) - 1] = nb_max;
    nqs[COUNT(nqs) - 1] = nq_max;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(search_matches_reference),
        cmocka_unit_test(results_independent_of_thread_count),
        cmocka_unit_test(ties_broken_by_smaller_label),
        cmocka_unit_test(range_search_matches_reference),
        cmocka_unit_test(range_search_radius_zero_is_empty),
        cmocka_unit_test(range_search_empty_and_nq_zero),
        cmocka_unit_test(remove_by_range_renumbers),
        cmocka_unit_test(remove_by_batch_renumbers),
        cmocka_unit_test(reconstruct_returns_stored_vectors),
        cmocka_unit_test(batches_equal_one_add),
        cmocka_unit_test(reset_empties),
        cmocka_unit_test(knn_equals_flat_search),
        cmocka_unit_test(normalize_l2_gives_unit_vectors),
    };
    /* Twice: with the layouts as chosen in use (small bases stay contiguous),
     * then with every L2 base of d >= 64 split into head and tail, so that the
     * pruned scan is checked on the same cases. */
    int failed = cmocka_run_group_tests_name("flat, default layout", tests, NULL, NULL);
    vx_flat_split_min_bytes = 0;
    vx_flat_split_min_head_share = 0;
    failed += cmocka_run_group_tests_name("flat, split layout", tests, NULL, NULL);
    return failed;
}
