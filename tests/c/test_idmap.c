/* IndexIDMap / IndexIDMap2 over Flat: arbitrary int64 ids through add, search,
 * range search, filtered search, remove and (IDMap2) reconstruct, checked
 * against a plain Flat index on the same vectors and the reference brute force. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { D = 12, N = 600, NQ = 25, K = 10 };

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const vindex_metric metrics[] = {VINDEX_METRIC_L2, VINDEX_METRIC_INNER_PRODUCT};

/* Distinct ids, never -1: extremes, negatives and scattered 64-bit values. */
static void make_ids(vindex_id *ids, size_t n, uint64_t seed)
{
    const vindex_id special[] = {INT64_MAX, INT64_MAX - 1, -2, INT64_MIN + 1, 0, 1, -3, (vindex_id)1 << 40};
    for (size_t i = 0; i < n; i++) {
        vindex_id v;
        int dup;
        do {
            v = i < COUNT(special) ? special[i] : (vindex_id)tu_rand_next(&seed);
            dup = v == -1 || v == INT64_MIN;
            for (size_t j = 0; j < i && !dup; j++)
                dup = ids[j] == v;
        } while (dup);
        ids[i] = v;
    }
}

static long pos_of(const vindex_id *ids, size_t n, vindex_id id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return (long)i;
    return -1;
}

static vindex *new_map(int two, vindex_metric m)
{
    vindex *sub = NULL, *ix = NULL;
    ASSERT_OK(vindex_flat_new(&sub, D, m));
    ASSERT_OK(two ? vindex_idmap2_new(&ix, sub) : vindex_idmap_new(&ix, sub));
    assert_string_equal(vindex_type_name(ix), two ? "IndexIDMap2" : "IndexIDMap");
    assert_int_equal(vindex_d(ix), D);
    assert_int_equal(vindex_metric_type(ix), m);
    assert_true(vindex_is_trained(ix));
    return ix;
}

/* Search of `ix` (ids) equals search of `flat` (positions) mapped through ids.
 * Distances are the same bit for bit when the vectors sit at the same positions
 * or the SIMD path scores them (a pair's score does not depend on its place in
 * a tile); sgemm over a differently laid out database may round differently. */
static void assert_same_as_flat(const vindex *ix, const vindex *flat, const vindex_id *ids,
                                size_t nq, const float *q, const vindex_search_params *p)
{
    float *d1 = malloc(nq * K * sizeof *d1), *d2 = malloc(nq * K * sizeof *d2);
    vindex_id *l1 = malloc(nq * K * sizeof *l1), *l2 = malloc(nq * K * sizeof *l2);
    ASSERT_OK(vindex_search(ix, nq, q, K, p, d1, l1));
    ASSERT_OK(vindex_search(flat, nq, q, K, NULL, d2, l2));
    int same_layout = vindex_ntotal(ix) == vindex_ntotal(flat) && (!p || !p->sel);
    if (same_layout || nq < vindex_get_blas_threshold())
        assert_memory_equal(d1, d2, nq * K * sizeof *d1);
    for (size_t i = 0; i < nq * K; i++) {
        assert_true(fabsf(d1[i] - d2[i]) <= 1e-5f * (1.0f + fabsf(d2[i])));
        assert_true(l1[i] == (l2[i] < 0 ? -1 : ids[l2[i]]));
    }
    free(d1);
    free(d2);
    free(l1);
    free(l2);
}

static void search_returns_caller_ids(void **state)
{
    (void)state;
    float *x = tu_random_vectors(N + NQ, D, 21);
    const float *q = x + (size_t)N * D;
    vindex_id *ids = malloc(N * sizeof *ids);
    make_ids(ids, N, 99);
    float *rd = malloc(NQ * K * sizeof *rd), *dist = malloc(NQ * K * sizeof *dist);
    vindex_id *ri = malloc(NQ * K * sizeof *ri), *lab = malloc(NQ * K * sizeof *lab);
    for (size_t mi = 0; mi < COUNT(metrics); mi++)
        for (int two = 0; two < 2; two++) {
            vindex *ix = new_map(two, metrics[mi]), *flat = NULL;
            ASSERT_OK(vindex_flat_new(&flat, D, metrics[mi]));
            /* uneven batches */
            const size_t batch[] = {1, 7, 200, 392};
            size_t at = 0;
            for (size_t b = 0; b < COUNT(batch); b++) {
                ASSERT_OK(vindex_add_with_ids(ix, batch[b], x + at * D, ids + at));
                at += batch[b];
                assert_int_equal(vindex_ntotal(ix), (int64_t)at);
            }
            ASSERT_OK(vindex_add(flat, N, x));
            assert_true(vindex_memory_bytes(ix) > vindex_memory_bytes(flat));
            /* both search paths */
            assert_same_as_flat(ix, flat, ids, 3, q, NULL);
            assert_same_as_flat(ix, flat, ids, NQ, q, NULL);
            /* and against the reference, labels mapped back to positions */
            ASSERT_OK(vindex_search(ix, NQ, q, K, NULL, dist, lab));
            for (size_t i = 0; i < NQ * K; i++) {
                long p = pos_of(ids, N, lab[i]);
                assert_true(p >= 0);
                lab[i] = p;
            }
            tu_reference_knn(q, NQ, x, N, D, K, metrics[mi], rd, ri);
            tu_check_knn(q, NQ, x, N, D, K, metrics[mi], dist, lab, rd, ri, K, 1e-4);
            /* each stored vector finds its own id first (L2) */
            if (metrics[mi] == VINDEX_METRIC_L2)
                for (size_t s = 0; s < 8; s++) {
                    float d1;
                    vindex_id l1;
                    ASSERT_OK(vindex_search(ix, 1, x + s * D, 1, NULL, &d1, &l1));
                    assert_true(l1 == ids[s]); /* includes INT64_MAX, INT64_MIN + 1, -2 */
                }
            vindex_free(ix);
            vindex_free(flat);
        }
    free(rd);
    free(dist);
    free(ri);
    free(lab);
    free(ids);
    free(x);
}

static void reconstruct_by_id(void **state)
{
    (void)state;
    float *x = tu_random_vectors(N, D, 22);
    vindex_id *ids = malloc(N * sizeof *ids);
    make_ids(ids, N, 7);
    vindex *ix = new_map(1, VINDEX_METRIC_L2);
    ASSERT_OK(vindex_add_with_ids(ix, N, x, ids));
    float v[D];
    for (size_t i = 0; i < N; i++) {
        ASSERT_OK(vindex_reconstruct(ix, ids[i], v));
        assert_memory_equal(v, x + i * D, sizeof v);
    }
    assert_int_equal(vindex_reconstruct(ix, -1, v), VINDEX_ERR_NOT_FOUND);
    assert_int_equal(vindex_reconstruct(ix, 12345, v), VINDEX_ERR_NOT_FOUND);
    /* reconstruct_n walks consecutive ids */
    vindex *seq = new_map(1, VINDEX_METRIC_L2);
    vindex_id cons[5] = {-2, 1, 0, 2, 3};
    ASSERT_OK(vindex_add_with_ids(seq, 5, x, cons));
    float out[4 * D];
    ASSERT_OK(vindex_reconstruct_n(seq, 0, 4, out));
    assert_memory_equal(out, x + 2 * D, D * sizeof(float));     /* id 0 */
    assert_memory_equal(out + D, x + 1 * D, D * sizeof(float)); /* id 1 */
    assert_memory_equal(out + 2 * D, x + 3 * D, D * sizeof(float)); /* id 2 */
    assert_memory_equal(out + 3 * D, x + 4 * D, D * sizeof(float)); /* id 3 */
    assert_int_equal(vindex_reconstruct_n(seq, 2, 3, out), VINDEX_ERR_NOT_FOUND);
    vindex_free(seq);
    vindex_free(ix);
    free(ids);
    free(x);
}

static void remove_by_id(void **state)
{
    (void)state;
    float *x = tu_random_vectors(N + NQ, D, 23);
    const float *q = x + (size_t)N * D;
    vindex_id *ids = malloc(N * sizeof *ids);
    make_ids(ids, N, 5);
    for (size_t mi = 0; mi < COUNT(metrics); mi++)
        for (int two = 0; two < 2; two++) {
            vindex *ix = new_map(two, metrics[mi]);
            ASSERT_OK(vindex_add_with_ids(ix, N, x, ids));
            /* remove every third vector by id, plus ids that are not there */
            size_t nrem = 0;
            vindex_id *gone = malloc((N / 3 + 3) * sizeof *gone);
            for (size_t i = 0; i < N; i += 3)
                gone[nrem++] = ids[i];
            gone[nrem++] = -1;
            gone[nrem++] = 424242;
            vindex_selector *sel = NULL;
            ASSERT_OK(vindex_selector_batch(&sel, nrem, gone));
            size_t removed = 0;
            ASSERT_OK(vindex_remove_ids(ix, sel, &removed));
            assert_int_equal(removed, N / 3);
            assert_int_equal(vindex_ntotal(ix), N - N / 3);
            /* the rest, as a Flat index with its own ids */
            vindex *flat = NULL;
            ASSERT_OK(vindex_flat_new(&flat, D, metrics[mi]));
            vindex_id *kept = malloc(N * sizeof *kept);
            size_t nk = 0;
            for (size_t i = 0; i < N; i++)
                if (i % 3 != 0) {
                    ASSERT_OK(vindex_add(flat, 1, x + i * D));
                    kept[nk++] = ids[i];
                }
            assert_same_as_flat(ix, flat, kept, NQ, q, NULL);
            assert_same_as_flat(ix, flat, kept, 2, q, NULL);
            if (two) {
                float v[D];
                for (size_t i = 0; i < N; i++) {
                    vindex_status st = vindex_reconstruct(ix, ids[i], v);
                    if (i % 3 == 0) {
                        assert_int_equal(st, VINDEX_ERR_NOT_FOUND);
                    } else {
                        assert_int_equal(st, VINDEX_OK);
                        assert_memory_equal(v, x + i * D, sizeof v);
                    }
                }
            }
            /* removed ids can be added again, to new vectors */
            ASSERT_OK(vindex_add_with_ids(ix, 1, q, &ids[0]));
            float dd;
            vindex_id ll;
            if (metrics[mi] == VINDEX_METRIC_L2) {
                ASSERT_OK(vindex_search(ix, 1, q, 1, NULL, &dd, &ll));
                assert_true(ll == ids[0]);
            }
            /* a range selector over ids: everything in [0, INT64_MAX) */
            vindex_selector *nonneg = NULL;
            ASSERT_OK(vindex_selector_range(&nonneg, 0, INT64_MAX));
            size_t expect = 0;
            for (size_t i = 0; i < nk; i++)
                expect += kept[i] >= 0 && kept[i] != INT64_MAX;
            expect += ids[0] >= 0 && ids[0] != INT64_MAX;
            ASSERT_OK(vindex_remove_ids(ix, nonneg, &removed));
            assert_int_equal(removed, expect);
            assert_int_equal(vindex_ntotal(ix), (int64_t)(nk + 1 - expect));
            float *dist = malloc(NQ * K * sizeof *dist);
            vindex_id *lab = malloc(NQ * K * sizeof *lab);
            ASSERT_OK(vindex_search(ix, NQ, q, K, NULL, dist, lab));
            for (size_t i = 0; i < NQ * K; i++)
                assert_true(lab[i] == -1 || lab[i] < 0 || lab[i] == INT64_MAX);
            free(dist);
            free(lab);
            vindex_selector_free(nonneg);
            vindex_selector_free(sel);
            free(gone);
            free(kept);
            vindex_free(flat);
            vindex_free(ix);
        }
    free(ids);
    free(x);
}

static void filtered_search_on_ids(void **state)
{
    (void)state;
    float *x = tu_random_vectors(N + NQ, D, 24);
    const float *q = x + (size_t)N * D;
    vindex_id *ids = malloc(N * sizeof *ids);
    make_ids(ids, N, 6);
    /* select the ids of positions 0, 5, 10, ... */
    size_t nsel = 0;
    vindex_id *chosen = malloc(N * sizeof *chosen);
    float *sub_x = malloc((size_t)N * D * sizeof *sub_x);
    for (size_t i = 0; i < N; i += 5) {
        chosen[nsel] = ids[i];
        memcpy(sub_x + nsel * D, x + i * D, D * sizeof(float));
        nsel++;
    }
    vindex_selector *sel = NULL, *not_sel = NULL;
    ASSERT_OK(vindex_selector_batch(&sel, nsel, chosen));
    ASSERT_OK(vindex_selector_not(&not_sel, sel));
    vindex_search_params p;
    vindex_search_params_init(&p);
    float *dist = malloc(NQ * K * sizeof *dist), *rd = malloc(NQ * K * sizeof *rd);
    vindex_id *lab = malloc(NQ * K * sizeof *lab), *ri = malloc(NQ * K * sizeof *ri);
    for (size_t mi = 0; mi < COUNT(metrics); mi++)
        for (int two = 0; two < 2; two++) {
            vindex *ix = new_map(two, metrics[mi]);
            ASSERT_OK(vindex_add_with_ids(ix, N, x, ids));
            /* the filtered result is the k-NN of the selected vectors alone */
            vindex *only = NULL;
            ASSERT_OK(vindex_flat_new(&only, D, metrics[mi]));
            ASSERT_OK(vindex_add(only, nsel, sub_x));
            p.sel = sel;
            assert_same_as_flat(ix, only, chosen, NQ, q, &p);
            assert_same_as_flat(ix, only, chosen, 4, q, &p);
            ASSERT_OK(vindex_search(ix, NQ, q, K, &p, dist, lab));
            for (size_t i = 0; i < NQ * K; i++) {
                long s = pos_of(chosen, nsel, lab[i]);
                assert_true(s >= 0); /* k selected ids exist, so no padding */
                lab[i] = s;
            }
            tu_reference_knn(q, NQ, sub_x, nsel, D, K, metrics[mi], rd, ri);
            tu_check_knn(q, NQ, sub_x, nsel, D, K, metrics[mi], dist, lab, rd, ri, K, 1e-4);
            /* the complement never returns a selected id */
            p.sel = not_sel;
            ASSERT_OK(vindex_search(ix, NQ, q, K, &p, dist, lab));
            for (size_t i = 0; i < NQ * K; i++) {
                assert_true(lab[i] != -1);
                assert_int_equal(vindex_selector_contains(sel, lab[i]), 0);
            }
            /* range search with the selector, against the unfiltered one */
            vindex_range_result *all = NULL, *filt = NULL;
            float radius = metrics[mi] == VINDEX_METRIC_L2 ? 0.8f : 3.5f;
            ASSERT_OK(vindex_range_search(ix, NQ, q, radius, NULL, &all));
            p.sel = sel;
            ASSERT_OK(vindex_range_search(ix, NQ, q, radius, &p, &filt));
            size_t nfilt = 0;
            for (size_t i = 0; i < NQ; i++) {
                size_t h = filt->lims[i];
                for (size_t a = all->lims[i]; a < all->lims[i + 1]; a++) {
                    assert_true(pos_of(ids, N, all->labels[a]) >= 0);
                    if (!vindex_selector_contains(sel, all->labels[a]))
                        continue;
                    assert_true(h < filt->lims[i + 1]);
                    assert_true(filt->labels[h] == all->labels[a]);
                    assert_true(filt->distances[h] == all->distances[a]);
                    h++;
                }
                assert_int_equal(h, filt->lims[i + 1]);
                nfilt += filt->lims[i + 1] - filt->lims[i];
            }
            assert_true(nfilt > 0);
            assert_true(nfilt < all->lims[NQ]);
            vindex_range_result_free(all);
            vindex_range_result_free(filt);
            /* fewer selected than k: the rest is padding */
            vindex_id two_ids[2] = {ids[3], ids[300]};
            vindex_selector *few = NULL;
            ASSERT_OK(vindex_selector_batch(&few, 2, two_ids));
            p.sel = few;
            ASSERT_OK(vindex_search(ix, 1, q, K, &p, dist, lab));
            assert_true((lab[0] == ids[3] && lab[1] == ids[300]) ||
                        (lab[0] == ids[300] && lab[1] == ids[3]));
            for (int r = 2; r < K; r++) {
                assert_int_equal(lab[r], -1);
                assert_true(isinf(dist[r]));
            }
            vindex_selector_free(few);
            vindex_free(only);
            vindex_free(ix);
        }
    vindex_selector_free(not_sel);
    vindex_selector_free(sel);
    free(dist);
    free(rd);
    free(lab);
    free(ri);
    free(chosen);
    free(sub_x);
    free(ids);
    free(x);
}

static void plain_add_refused_and_reset(void **state)
{
    (void)state;
    float *x = tu_random_vectors(10, D, 25);
    for (int two = 0; two < 2; two++) {
        vindex *ix = new_map(two, VINDEX_METRIC_L2);
        assert_int_equal(vindex_add(ix, 10, x), VINDEX_ERR_UNSUPPORTED);
        assert_non_null(strstr(vindex_last_error(), "add_with_ids"));
        assert_int_equal(vindex_ntotal(ix), 0);
        const vindex_id ids[3] = {5, 6, 7};
        ASSERT_OK(vindex_add_with_ids(ix, 3, x, ids));
        ASSERT_OK(vindex_reset(ix));
        assert_int_equal(vindex_ntotal(ix), 0);
        float dist[2];
        vindex_id lab[2];
        ASSERT_OK(vindex_search(ix, 1, x, 2, NULL, dist, lab));
        assert_int_equal(lab[0], -1);
        /* after reset the same ids are free again */
        ASSERT_OK(vindex_add_with_ids(ix, 3, x + 3 * D, ids));
        ASSERT_OK(vindex_search(ix, 1, x + 4 * D, 1, NULL, dist, lab));
        assert_int_equal(lab[0], 6);
        if (two) {
            float v[D];
            ASSERT_OK(vindex_reconstruct(ix, 7, v));
            assert_memory_equal(v, x + 5 * D, sizeof v);
        }
        vindex_free(ix);
    }
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(search_returns_caller_ids),
        cmocka_unit_test(reconstruct_by_id),
        cmocka_unit_test(remove_by_id),
        cmocka_unit_test(filtered_search_on_ids),
        cmocka_unit_test(plain_add_refused_and_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
