/* Scalar quantizers: the SIMD kernels of every level against the scalar ones,
 * decode error bounds per type, search on codes = exact search over the
 * decoded vectors, recall against brute force, IndexIVFScalarQuantizer recall
 * at several nprobe, remove / reconstruct, range search, selectors, identical
 * results for any thread count, memory accounting and bad input. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant/sq.h"
#include "simd/kernels.h"
#include "simd/sq_kernels.h"

enum { K = 10 };

static const vindex_sq_type ALL_TYPES[] = {VINDEX_SQ_8BIT, VINDEX_SQ_4BIT, VINDEX_SQ_8BIT_UNIFORM,
                                           VINDEX_SQ_FP16, VINDEX_SQ_BF16};
#define NTYPES 5

static vindex *new_sq(int d, vindex_sq_type t, vindex_metric m, size_t n, const float *x)
{
    vindex *ix;
    ASSERT_OK(vindex_sq_new(&ix, d, t, m));
    ASSERT_OK(vindex_train(ix, n, x));
    ASSERT_OK(vindex_add(ix, n, x));
    return ix;
}

/* ---- kernels ------------------------------------------------------------ */

static void kernels_match_scalar(void **state)
{
    (void)state;
    const vx_sq_kernel_table *ref = vx_sq_kernels_for_level(VX_LEVEL_SCALAR);
    assert_non_null(ref);
    enum { DMAX = 140, NMAX = 9 };
    uint64_t seed = 7;
    uint8_t *codes = malloc(NMAX * 2 * 800 + 8);
    float *scale = malloc(800 * sizeof *scale), *q = malloc(800 * sizeof *q);
    float *qabs = malloc(800 * sizeof *qabs);
    float got[NMAX], want[NMAX];
    int levels_tested = 0;
    for (int level = VX_LEVEL_AVX2; level <= VX_LEVEL_AVX512; level++) {
        const vx_sq_kernel_table *kt = vx_sq_kernels_for_level(level);
        if (!kt)
            continue;
        levels_tested++;
        for (size_t d = 1; d <= 800; d = d < DMAX ? d + 1 : d + 331) {
            float qsum = 0;
            for (size_t t = 0; t < d; t++) {
                scale[t] = 0.01f + tu_uniform(&seed);
                q[t] = 4.0f * tu_uniform(&seed) - 1.0f;
                qabs[t] = fabsf(q[t]);
                qsum += qabs[t];
            }
            uint8_t *c = codes + 1; /* unaligned on purpose */
            for (size_t i = 0; i < NMAX * 2 * d; i++)
                c[i] = (uint8_t)tu_rand_next(&seed);
            /* half floats must be finite: write converted random floats */
            uint8_t *h = malloc(NMAX * 2 * d + 1), *hc = h + 1;
            uint8_t *b = malloc(NMAX * 2 * d + 1), *bc = b + 1;
            for (size_t i = 0; i < NMAX * d; i++) {
                uint16_t v = vx_f32_to_f16(8.0f * tu_uniform(&seed) - 4.0f);
                uint16_t w = vx_f32_to_bf16(8.0f * tu_uniform(&seed) - 4.0f);
                memcpy(hc + 2 * i, &v, 2);
                memcpy(bc + 2 * i, &w, 2);
            }
            for (size_t n = 1; n <= NMAX; n += (n < 5 ? 1 : 4)) {
                struct {
                    const char *what;
                    vx_sq_l2_fn l2, l2r;
                    vx_sq_dot_fn dot, dotr;
                    const uint8_t *codes;
                } cases[] = {{"u8", kt->l2_u8, ref->l2_u8, kt->dot_u8, ref->dot_u8, c},
                             {"u4", kt->l2_u4, ref->l2_u4, kt->dot_u4, ref->dot_u4, c},
                             {"f16", kt->l2_f16, ref->l2_f16, kt->dot_f16, ref->dot_f16, hc},
                             {"bf16", kt->l2_bf16, ref->l2_bf16, kt->dot_bf16, ref->dot_bf16, bc}};
                for (int k = 0; k < 4; k++) {
                    for (int dot = 0; dot < 2; dot++) {
                        if (dot) {
                            cases[k].dot(got, cases[k].codes, n, d, q);
                            cases[k].dotr(want, cases[k].codes, n, d, q);
                        } else {
                            cases[k].l2(got, cases[k].codes, n, d, scale, q);
                            cases[k].l2r(want, cases[k].codes, n, d, scale, q);
                        }
                        /* magnitude: the sum of the absolute terms. L2 terms
                         * are squares (the result itself); for dot products,
                         * |w| against the codes (values >= 0 for u8 / u4, at
                         * most 4 in magnitude for the half types) */
                        float mag[NMAX];
                        if (dot && k < 2) {
                            cases[k].dotr(mag, cases[k].codes, n, d, qabs);
                        } else {
                            for (size_t j = 0; j < n; j++)
                                mag[j] = dot ? 4.0f * qsum : want[j];
                        }
                        for (size_t j = 0; j < n; j++) {
                            double err = fabs((double)got[j] - want[j]);
                            if (!(err <= 1e-5 * mag[j] + 1e-30))
                                fail_msg("%s %s [%s] d=%zu n=%zu j=%zu: %.9g vs scalar %.9g",
                                         cases[k].what, dot ? "dot" : "l2", kt->name, d, n, j,
                                         (double)got[j], (double)want[j]);
                        }
                    }
                }
                /* a code scores the same alone as in a block */
                float one;
                kt->l2_u8(got, c, n, d, scale, q);
                kt->l2_u8(&one, c + (n - 1) * d, 1, d, scale, q);
                assert_true(one == got[n - 1]);
            }
            free(h);
            free(b);
        }
    }
    (void)levels_tested;
    free(codes);
    free(scale);
    free(q);
    free(qabs);
}

static void half_conversions(void **state)
{
    (void)state;
    /* every finite half round-trips exactly */
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7c00) == 0x7c00)
            continue;
        float f = vx_f16_to_f32((uint16_t)h);
        assert_int_equal(vx_f32_to_f16(f), h);
    }
    assert_int_equal(vx_f32_to_f16(65504.0f), 0x7bff);
    assert_int_equal(vx_f32_to_f16(70000.0f), 0x7c00);
    assert_int_equal(vx_f32_to_f16(1.0f + 2.0f / 4096), 0x3c00); /* ties to even */
    assert_int_equal(vx_f32_to_f16(1.0f + 6.0f / 4096), 0x3c02);
    assert_int_equal(vx_f32_to_f16(1.0f + 3.0f / 4096), 0x3c01);
    assert_true(vx_bf16_to_f32(vx_f32_to_bf16(1.0f)) == 1.0f);
    assert_true(vx_bf16_to_f32(vx_f32_to_bf16(-3.5f)) == -3.5f);
}

/* ---- codec through the index -------------------------------------------- */

static void decode_error_bounds(void **state)
{
    (void)state;
    enum { D = 37 };
    const int N = (int)tu_pick(2000, 800); /* small-data mode: tu_small */
    float *x = tu_random_vectors(N, D, 3);
    for (size_t i = 0; i < (size_t)N * D; i++)
        x[i] = x[i] * (3.0f + (float)(i % D)) - 1.0f; /* ranges differ per dimension */
    float *y = malloc((size_t)N * D * sizeof *y);
    for (int ti = 0; ti < NTYPES; ti++) {
        vindex_sq_type t = ALL_TYPES[ti];
        vindex *ix = new_sq(D, t, VINDEX_METRIC_L2, N, x);
        ASSERT_OK(vindex_reconstruct_n(ix, 0, N, y));
        double worst = 0;
        for (int j = 0; j < D; j++) {
            float lo = INFINITY, hi = -INFINITY, glo = INFINITY, ghi = -INFINITY;
            for (size_t i = 0; i < (size_t)N; i++) {
                lo = fminf(lo, x[i * D + j]);
                hi = fmaxf(hi, x[i * D + j]);
            }
            for (size_t i = 0; i < (size_t)N * D; i++) {
                glo = fminf(glo, x[i]);
                ghi = fmaxf(ghi, x[i]);
            }
            for (size_t i = 0; i < (size_t)N; i++) {
                double v = x[i * D + j], err = fabs(v - y[i * D + j]), bound;
                switch (t) {
                case VINDEX_SQ_8BIT:
                    bound = (hi - lo) / 510.0;
                    break;
                case VINDEX_SQ_4BIT:
                    bound = (hi - lo) / 30.0;
                    break;
                case VINDEX_SQ_8BIT_UNIFORM:
                    bound = (ghi - glo) / 510.0;
                    break;
                case VINDEX_SQ_FP16:
                    bound = fabs(v) / 2048.0 + 1e-7;
                    break;
                default:
                    bound = fabs(v) / 256.0;
                }
                if (err > bound * (1 + 1e-4) + 1e-6)
                    fail_msg("%s dim %d vector %zu: |%.7g - %.7g| = %.3g > %.3g",
                             vx_sq_type_name(t), j, i, v, (double)y[i * D + j], err, bound);
                worst = fmax(worst, err / (bound + 1e-30));
            }
        }
        /* the bound is reached (about half a bucket) for the integer types */
        if (t <= VINDEX_SQ_8BIT_UNIFORM)
            assert_true(worst > 0.8);
        /* values outside the trained range clamp to it */
        if (t == VINDEX_SQ_8BIT) {
            float far[D], back[D];
            for (int j = 0; j < D; j++)
                far[j] = j % 2 ? 1e6f : -1e6f;
            ASSERT_OK(vindex_add(ix, 1, far));
            ASSERT_OK(vindex_reconstruct(ix, N, back));
            for (int j = 0; j < D; j++)
                assert_true(back[j] > -2.0f && back[j] < 2.0f + (float)D + 3.0f);
        }
        vindex_free(ix);
    }
    free(x);
    free(y);
}

/* Search on codes equals exact search over the decoded vectors. */
static void search_equals_decoded_brute_force(void **state)
{
    (void)state;
    enum { NQ = 40, D = 45 };
    const int N = (int)tu_pick(3000, 1000);
    float *x = tu_clustered_vectors(N + NQ, D, 10, 11), *q = x + (size_t)N * D;
    float *y = malloc((size_t)N * D * sizeof *y);
    float dis[NQ * K], rd[NQ * K];
    vindex_id ids[NQ * K], rids[NQ * K];
    for (int m = 0; m < 2; m++) {
        vindex_metric metric = m ? VINDEX_METRIC_INNER_PRODUCT : VINDEX_METRIC_L2;
        for (int ti = 0; ti < NTYPES; ti++) {
            vindex *ix = new_sq(D, ALL_TYPES[ti], metric, N, x);
            ASSERT_OK(vindex_reconstruct_n(ix, 0, N, y));
            ASSERT_OK(vindex_search(ix, NQ, q, K, NULL, dis, ids));
            tu_reference_knn(q, NQ, y, N, D, K, metric, rd, rids);
            tu_check_knn(q, NQ, y, N, D, K, metric, dis, ids, rd, rids, K, 1e-5);
            /* one query per call gives the batch's answer */
            for (size_t i = 0; i < NQ; i += 7) {
                float d1[K];
                vindex_id i1[K];
                ASSERT_OK(vindex_search(ix, 1, q + i * D, K, NULL, d1, i1));
                assert_memory_equal(i1, ids + i * K, sizeof i1);
                assert_memory_equal(d1, dis + i * K, sizeof d1);
            }
            vindex_free(ix);
        }
    }
    free(x);
    free(y);
}

static void recall_against_brute_force(void **state)
{
    (void)state;
    enum { NQ = 100, D = 32 };
    const int N = (int)tu_pick(6000, 1500);
    /* minimum recall@10 per type, about 0.05 under what was measured (the
     * lower of L2 and IP: 0.964, 0.560, 0.962, 0.994, 0.972); SQ_TEST_VERBOSE=1
     * prints the values */
    static const double minimum[NTYPES] = {0.92, 0.50, 0.92, 0.98, 0.94};
    float *x = tu_clustered_vectors(N + NQ, D, 20, 21), *q = x + (size_t)N * D;
    float dis[NQ * K], rd[NQ * K];
    vindex_id ids[NQ * K], truth[NQ * K];
    for (int m = 0; m < 2; m++) {
        vindex_metric metric = m ? VINDEX_METRIC_INNER_PRODUCT : VINDEX_METRIC_L2;
        tu_reference_knn(q, NQ, x, N, D, K, metric, rd, truth);
        for (int ti = 0; ti < NTYPES; ti++) {
            vindex *ix = new_sq(D, ALL_TYPES[ti], metric, N, x);
            ASSERT_OK(vindex_search(ix, NQ, q, K, NULL, dis, ids));
            double r = tu_recall(ids, truth, NQ, K, K);
            if (getenv("SQ_TEST_VERBOSE"))
                fprintf(stderr, "%s %s recall %.3f\n", vx_sq_type_name(ALL_TYPES[ti]),
                        m ? "IP" : "L2", r);
            if (r < minimum[ti])
                fail_msg("%s %s: recall@10 %.3f < %.3f", vx_sq_type_name(ALL_TYPES[ti]),
                         m ? "IP" : "L2", r, minimum[ti]);
            vindex_free(ix);
        }
    }
    free(x);
}

static void remove_reconstruct_reset(void **state)
{
    (void)state;
    enum { N = 500, D = 19 };
    float *x = tu_random_vectors(N, D, 5);
    vindex *ix = new_sq(D, VINDEX_SQ_4BIT, VINDEX_METRIC_L2, N, x);
    float a[D], b[D];
    ASSERT_OK(vindex_reconstruct(ix, 30, a));
    vindex_selector *sel;
    ASSERT_OK(vindex_selector_range(&sel, 10, 20));
    size_t removed;
    ASSERT_OK(vindex_remove_ids(ix, sel, &removed));
    assert_int_equal(removed, 10);
    assert_int_equal(vindex_ntotal(ix), N - 10);
    ASSERT_OK(vindex_reconstruct(ix, 20, b)); /* old 30 moved down by 10 */
    assert_memory_equal(a, b, sizeof a);
    assert_int_equal(vindex_reconstruct(ix, N - 10, b), VINDEX_ERR_NOT_FOUND);
    /* a selector restricts search results */
    float dis[K];
    vindex_id ids[K];
    vindex_search_params p;
    vindex_search_params_init(&p);
    p.sel = sel;
    ASSERT_OK(vindex_search(ix, 1, x, K, &p, dis, ids));
    for (int j = 0; j < K; j++)
        assert_true(ids[j] >= 10 && ids[j] < 20);
    vindex_selector_free(sel);
    size_t mem = vindex_memory_bytes(ix);
    assert_true(mem >= (size_t)(N - 10) * ((D + 1) / 2));
    ASSERT_OK(vindex_reset(ix));
    assert_int_equal(vindex_ntotal(ix), 0);
    assert_true(vindex_is_trained(ix));
    ASSERT_OK(vindex_add(ix, N, x)); /* training kept */
    ASSERT_OK(vindex_reconstruct(ix, 30, b));
    assert_memory_equal(a, b, sizeof a);
    vindex_free(ix);
    free(x);
}

static void range_search_matches_decoded(void **state)
{
    (void)state;
    enum { NQ = 10, D = 24 };
    const int N = (int)tu_pick(2000, 800);
    float *x = tu_clustered_vectors(N + NQ, D, 8, 9), *q = x + (size_t)N * D;
    float *y = malloc((size_t)N * D * sizeof *y);
    for (int m = 0; m < 2; m++) {
        vindex_metric metric = m ? VINDEX_METRIC_INNER_PRODUCT : VINDEX_METRIC_L2;
        vindex *ix = new_sq(D, VINDEX_SQ_8BIT, metric, N, x);
        ASSERT_OK(vindex_reconstruct_n(ix, 0, N, y));
        float radius = m ? 7.0f : 0.08f;
        vindex_range_result *res;
        ASSERT_OK(vindex_range_search(ix, NQ, q, radius, NULL, &res));
        size_t total = 0;
        for (size_t i = 0; i < NQ; i++) {
            size_t expect = 0, near = 0;
            for (size_t v = 0; v < (size_t)N; v++) {
                double dd = tu_distance(q + i * D, y + v * D, D, metric);
                bool in = m ? dd > radius : dd < radius;
                expect += in;
                near += fabs(dd - radius) < 1e-4 * (fabs(radius) + 1);
            }
            size_t got = res->lims[i + 1] - res->lims[i];
            assert_true(got + near >= expect && got <= expect + near);
            for (size_t h = res->lims[i]; h < res->lims[i + 1]; h++) {
                double dd = tu_distance(q + i * D, y + res->labels[h] * D, D, metric);
                assert_true(fabs(dd - res->distances[h]) <= 1e-4 * (fabs(dd) + 1));
            }
            total += got;
        }
        assert_true(total > NQ); /* the radius catches something */
        vindex_range_result_free(res);
        vindex_free(ix);
    }
    free(x);
    free(y);
}

static void same_results_for_any_thread_count(void **state)
{
    (void)state;
    enum { N = 20000, NQ = 7, D = 64 };
    float *x = tu_clustered_vectors(N + NQ, D, 30, 13), *q = x + (size_t)N * D;
    vindex *ix = new_sq(D, VINDEX_SQ_8BIT, VINDEX_METRIC_L2, N, x);
    float d1[NQ * K], dn[NQ * K];
    vindex_id i1[NQ * K], in[NQ * K];
    vindex_set_num_threads(1);
    ASSERT_OK(vindex_search(ix, NQ, q, K, NULL, d1, i1));
    static const int counts[] = {2, 3, 4};
    for (int c = 0; c < 3; c++) {
        vindex_set_num_threads(counts[c]);
        ASSERT_OK(vindex_search(ix, NQ, q, K, NULL, dn, in));
        assert_memory_equal(d1, dn, sizeof d1);
        assert_memory_equal(i1, in, sizeof i1);
        for (size_t i = 0; i < NQ; i++) { /* single queries: split over segments */
            ASSERT_OK(vindex_search(ix, 1, q + i * D, K, NULL, dn, in));
            assert_memory_equal(d1 + i * K, dn, K * sizeof *dn);
            assert_memory_equal(i1 + i * K, in, K * sizeof *in);
        }
    }
    vindex_set_num_threads(0);
    vindex_free(ix);
    free(x);
}

/* ---- IVF ------------------------------------------------------------------ */

static vindex *new_ivfsq(int d, size_t nlist, vindex_sq_type t, vindex_metric m)
{
    vindex *q, *ix;
    ASSERT_OK(vindex_flat_new(&q, d, m));
    ASSERT_OK(vindex_ivfsq_new(&ix, q, d, nlist, t, m));
    return ix;
}

/* Recall of IVFSQ at several nprobe. How many true neighbours the probed lists
 * hold depends on the clustering (on the seed's luck as much as on the code),
 * so at nprobe < nlist each type is held against an IndexIVFFlat trained the
 * same way: the codes may lose only what the type's precision explains. At
 * nprobe = nlist the search is exhaustive and absolute minima apply. */
static void ivfsq_recall_at_nprobe(void **state)
{
    (void)state;
    enum { NQ = 100, D = 32, NLIST = 32 };
    const int N = (int)tu_pick(8000, 2000);
    float *x = tu_clustered_vectors(N + NQ, D, 40, 31), *q = x + (size_t)N * D;
    float dis[NQ * K];
    vindex_id ids[NQ * K], truth[NQ * K];
    static const int nprobes[] = {1, 4, NLIST};
    /* recall the codes may lose against IVFFlat, and the exhaustive minimum
     * (about 0.05 under what was measured, the lower of L2 and IP) */
    static const double loss[NTYPES] = {0.06, 0.45, 0.08, 0.02, 0.03};
    static const double exhaustive[NTYPES] = {0.93, 0.58, 0.92, 0.98, 0.94};
    for (int m = 0; m < 2; m++) {
        vindex_metric metric = m ? VINDEX_METRIC_INNER_PRODUCT : VINDEX_METRIC_L2;
        tu_reference_knn(q, NQ, x, N, D, K, metric, dis, truth);
        double flat_recall[3];
        vindex *flat_q, *flat;
        ASSERT_OK(vindex_flat_new(&flat_q, D, metric));
        ASSERT_OK(vindex_ivf_flat_new(&flat, flat_q, D, NLIST, metric));
        ASSERT_OK(vindex_train(flat, N, x));
        ASSERT_OK(vindex_add(flat, N, x));
        for (int p = 0; p < 3; p++) {
            vindex_search_params sp;
            vindex_search_params_init(&sp);
            sp.nprobe = nprobes[p];
            ASSERT_OK(vindex_search(flat, NQ, q, K, &sp, dis, ids));
            flat_recall[p] = tu_recall(ids, truth, NQ, K, K);
        }
        vindex_free(flat);
        for (int ti = 0; ti < NTYPES; ti++) {
            vindex *ix = new_ivfsq(D, NLIST, ALL_TYPES[ti], metric);
            assert_false(vindex_is_trained(ix));
            ASSERT_OK(vindex_train(ix, N, x));
            ASSERT_OK(vindex_add(ix, N, x));
            double prev = 0;
            for (int p = 0; p < 3; p++) {
                vindex_search_params sp;
                vindex_search_params_init(&sp);
                sp.nprobe = nprobes[p];
                ASSERT_OK(vindex_search(ix, NQ, q, K, &sp, dis, ids));
                double r = tu_recall(ids, truth, NQ, K, K);
                double minimum = nprobes[p] == NLIST ? exhaustive[ti] : flat_recall[p] - loss[ti];
                if (getenv("SQ_TEST_VERBOSE"))
                    fprintf(stderr, "IVF %s %s nprobe %d recall %.3f (IVFFlat %.3f)\n",
                            vx_sq_type_name(ALL_TYPES[ti]), m ? "IP" : "L2", nprobes[p], r,
                            flat_recall[p]);
                if (r < minimum || r + 0.02 < prev)
                    fail_msg("IVF %s %s nprobe %d: recall %.3f (minimum %.3f, previous %.3f)",
                             vx_sq_type_name(ALL_TYPES[ti]), m ? "IP" : "L2", nprobes[p], r,
                             minimum, prev);
                prev = r;
                /* single queries agree with the batch */
                float d1[K];
                vindex_id i1[K];
                ASSERT_OK(vindex_search(ix, 1, q + 5 * D, K, &sp, d1, i1));
                assert_memory_equal(i1, ids + 5 * K, sizeof i1);
            }
            vindex_free(ix);
        }
    }
    free(x);
}

/* At nprobe = nlist, IVFSQ is exact search over its decoded vectors
 * (centroid + decoded residual). */
static void ivfsq_exact_over_decoded(void **state)
{
    (void)state;
    enum { NQ = 20, D = 40, NLIST = 16 };
    const int N = (int)tu_pick(3000, 1000);
    float *x = tu_clustered_vectors(N + NQ, D, 12, 41), *q = x + (size_t)N * D;
    float *y = malloc((size_t)N * D * sizeof *y);
    float dis[NQ * K], rd[NQ * K];
    vindex_id ids[NQ * K], rids[NQ * K];
    for (int m = 0; m < 2; m++) {
        vindex_metric metric = m ? VINDEX_METRIC_INNER_PRODUCT : VINDEX_METRIC_L2;
        for (int ti = 0; ti < NTYPES; ti++) {
            vindex *ix = new_ivfsq(D, NLIST, ALL_TYPES[ti], metric);
            ASSERT_OK(vindex_train(ix, N, x));
            ASSERT_OK(vindex_add(ix, N, x));
            ASSERT_OK(vindex_ivf_make_direct_map(ix, VINDEX_DIRECT_MAP_ARRAY));
            ASSERT_OK(vindex_reconstruct_n(ix, 0, N, y));
            ASSERT_OK(vindex_set_param(ix, "nprobe", NLIST));
            ASSERT_OK(vindex_search(ix, NQ, q, K, NULL, dis, ids));
            tu_reference_knn(q, NQ, y, N, D, K, metric, rd, rids);
            tu_check_knn(q, NQ, y, N, D, K, metric, dis, ids, rd, rids, K, 1e-5);
            /* residual codes: the reconstruction is close to the vector */
            double worst = 0;
            for (size_t i = 0; i < (size_t)N * D; i++)
                worst = fmax(worst, fabs(x[i] - y[i]));
            assert_true(worst < (ALL_TYPES[ti] == VINDEX_SQ_4BIT ? 0.05 : 0.01));
            vindex_free(ix);
        }
    }
    free(x);
    free(y);
}

static void ivfsq_remove_merge_memory(void **state)
{
    (void)state;
    enum { N = 2000, D = 16, NLIST = 8 };
    float *x = tu_clustered_vectors(N, D, 8, 43);
    vindex *a = new_ivfsq(D, NLIST, VINDEX_SQ_8BIT, VINDEX_METRIC_L2);
    ASSERT_OK(vindex_train(a, N, x));
    ASSERT_OK(vindex_ivf_make_direct_map(a, VINDEX_DIRECT_MAP_HASH));
    ASSERT_OK(vindex_add(a, N, x));
    float r1[D], r2[D];
    ASSERT_OK(vindex_reconstruct(a, 1500, r1));
    vindex_selector *sel;
    ASSERT_OK(vindex_selector_range(&sel, 0, 1000));
    size_t removed;
    ASSERT_OK(vindex_remove_ids(a, sel, &removed));
    assert_int_equal(removed, 1000);
    assert_int_equal(vindex_reconstruct(a, 10, r2), VINDEX_ERR_NOT_FOUND);
    ASSERT_OK(vindex_reconstruct(a, 1500, r2));
    assert_memory_equal(r1, r2, sizeof r1);
    vindex_selector_free(sel);
    vindex_sq_type t;
    ASSERT_OK(vindex_sq_type_of(a, &t));
    assert_int_equal(t, VINDEX_SQ_8BIT);
    assert_string_equal(vindex_type_name(a), "IndexIVFScalarQuantizer");
    assert_true(vindex_memory_bytes(a) >= 1000 * (D + sizeof(vindex_id)));
    /* a differently trained index does not merge */
    vindex *b = new_ivfsq(D, NLIST, VINDEX_SQ_8BIT, VINDEX_METRIC_L2);
    ASSERT_OK(vindex_train(b, N / 2, x + (size_t)N / 2 * D));
    ASSERT_OK(vindex_add(b, 10, x));
    assert_int_not_equal(vindex_ivf_merge_from(a, b, 100000), VINDEX_OK);
    vindex_free(b);
    vindex_free(a);
    free(x);
}

/* ---- properties and bad input ------------------------------------------ */

static void properties_and_bad_input(void **state)
{
    (void)state;
    vindex *ix = NULL, *flat;
    float v[8] = {0};
    float dis[1];
    vindex_id id[1];
    assert_int_equal(vindex_sq_code_size(VINDEX_SQ_8BIT, 784), 784);
    assert_int_equal(vindex_sq_code_size(VINDEX_SQ_4BIT, 7), 4);
    assert_int_equal(vindex_sq_code_size(VINDEX_SQ_FP16, 5), 10);
    assert_int_equal(vindex_sq_code_size(VINDEX_SQ_BF16, 5), 10);
    assert_int_equal(vindex_sq_code_size((vindex_sq_type)9, 5), 0);
    assert_int_equal(vindex_sq_code_size(VINDEX_SQ_8BIT, 0), 0);
    assert_int_equal(vindex_sq_new(&ix, 8, (vindex_sq_type)9, VINDEX_METRIC_L2),
                     VINDEX_ERR_INVALID);
    assert_non_null(strstr(vindex_last_error(), "type"));
    assert_int_equal(vindex_sq_new(&ix, 0, VINDEX_SQ_8BIT, VINDEX_METRIC_L2), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_sq_new(NULL, 8, VINDEX_SQ_8BIT, VINDEX_METRIC_L2), VINDEX_ERR_INVALID);
    /* 8-bit needs training; fp16 does not */
    ASSERT_OK(vindex_sq_new(&ix, 8, VINDEX_SQ_8BIT, VINDEX_METRIC_L2));
    assert_false(vindex_is_trained(ix));
    assert_string_equal(vindex_type_name(ix), "IndexScalarQuantizer");
    assert_int_equal(vindex_add(ix, 1, v), VINDEX_ERR_NOT_TRAINED);
    ASSERT_OK(vindex_train(ix, 1, v));
    ASSERT_OK(vindex_add(ix, 1, v));
    assert_int_equal(vindex_train(ix, 1, v), VINDEX_ERR_INVALID); /* codes would go stale */
    v[3] = NAN;
    assert_int_equal(vindex_add(ix, 1, v), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_ntotal(ix), 1);
    v[3] = 0;
    assert_int_equal(vindex_search(ix, 1, v, 1, NULL, dis, id), VINDEX_OK);
    assert_int_equal(id[0], 0);
    assert_int_equal(vindex_reconstruct(ix, 5, v), VINDEX_ERR_NOT_FOUND);
    vindex_sq_type t;
    ASSERT_OK(vindex_sq_type_of(ix, &t));
    assert_int_equal(t, VINDEX_SQ_8BIT);
    assert_int_equal(vindex_sq_type_of(ix, NULL), VINDEX_ERR_INVALID);
    vindex_free(ix);
    ASSERT_OK(vindex_sq_new(&ix, 8, VINDEX_SQ_FP16, VINDEX_METRIC_INNER_PRODUCT));
    assert_true(vindex_is_trained(ix));
    ASSERT_OK(vindex_train(ix, 1, v)); /* a no-op */
    vindex_free(ix);
    /* not an SQ index */
    ASSERT_OK(vindex_flat_new(&flat, 8, VINDEX_METRIC_L2));
    assert_int_equal(vindex_sq_type_of(flat, &t), VINDEX_ERR_UNSUPPORTED);
    /* IVF constructor checks */
    assert_int_equal(vindex_ivfsq_new(&ix, NULL, 8, 4, VINDEX_SQ_8BIT, VINDEX_METRIC_L2),
                     VINDEX_ERR_INVALID);
    assert_int_equal(vindex_ivfsq_new(&ix, flat, 8, 4, (vindex_sq_type)-1, VINDEX_METRIC_L2),
                     VINDEX_ERR_INVALID);
    assert_int_equal(vindex_ivfsq_new(&ix, flat, 9, 4, VINDEX_SQ_8BIT, VINDEX_METRIC_L2),
                     VINDEX_ERR_DIM);
    assert_int_equal(vindex_ivfsq_new(&ix, flat, 8, 0, VINDEX_SQ_8BIT, VINDEX_METRIC_L2),
                     VINDEX_ERR_INVALID);
    ASSERT_OK(vindex_ivfsq_new(&ix, flat, 8, 4, VINDEX_SQ_FP16, VINDEX_METRIC_L2));
    assert_false(vindex_is_trained(ix)); /* as Faiss: train() is needed */
    assert_int_equal(vindex_search(ix, 1, v, 1, NULL, dis, id), VINDEX_ERR_NOT_TRAINED);
    vindex_free(ix); /* frees flat too */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kernels_match_scalar),
        cmocka_unit_test(half_conversions),
        cmocka_unit_test(decode_error_bounds),
        cmocka_unit_test(search_equals_decoded_brute_force),
        cmocka_unit_test(recall_against_brute_force),
        cmocka_unit_test(remove_reconstruct_reset),
        cmocka_unit_test(range_search_matches_decoded),
        cmocka_unit_test(same_results_for_any_thread_count),
        cmocka_unit_test(ivfsq_recall_at_nprobe),
        cmocka_unit_test(ivfsq_exact_over_decoded),
        cmocka_unit_test(ivfsq_remove_merge_memory),
        cmocka_unit_test(properties_and_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
