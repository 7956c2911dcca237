/* Id selectors: what range, batch, bitmap and not select; and Flat searches,
 * range searches and removals through them. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const vindex_metric metrics[] = {VINDEX_METRIC_L2, VINDEX_METRIC_INNER_PRODUCT};

static void range_contains(void **state)
{
    (void)state;
    vindex_selector *s = NULL;
    ASSERT_OK(vindex_selector_range(&s, -5, 10));
    for (vindex_id id = -20; id < 30; id++)
        assert_int_equal(vindex_selector_contains(s, id) != 0, id >= -5 && id < 10);
    assert_false(vindex_selector_contains(s, INT64_MIN));
    assert_false(vindex_selector_contains(s, INT64_MAX));
    vindex_selector_free(s);
    ASSERT_OK(vindex_selector_range(&s, 7, 7)); /* empty */
    assert_false(vindex_selector_contains(s, 7));
    vindex_selector_free(s);
    ASSERT_OK(vindex_selector_range(&s, 9, 3)); /* reversed: empty */
    for (vindex_id id = 0; id < 12; id++)
        assert_false(vindex_selector_contains(s, id));
    vindex_selector_free(s);
    ASSERT_OK(vindex_selector_range(&s, INT64_MIN, INT64_MAX));
    assert_true(vindex_selector_contains(s, INT64_MIN));
    assert_true(vindex_selector_contains(s, INT64_MAX - 1));
    assert_false(vindex_selector_contains(s, INT64_MAX));
    vindex_selector_free(s);
}

static void batch_contains(void **state)
{
    (void)state;
    enum { N = 300 };
    vindex_id ids[N];
    uint64_t seed = 3;
    for (int i = 0; i < N; i++)
        ids[i] = (vindex_id)tu_rand_next(&seed) >> (i % 40); /* large and small */
    ids[10] = ids[11];                                      /* duplicates are fine */
    ids[20] = INT64_MIN;
    ids[21] = INT64_MAX;
    ids[22] = -1;
    vindex_selector *s = NULL;
    ASSERT_OK(vindex_selector_batch(&s, N, ids));
    vindex_id copy[N];
    memcpy(copy, ids, sizeof ids);
    memset(ids, 0, sizeof ids); /* the selector holds its own copy */
    for (int i = 0; i < N; i++)
        if (copy[i] != INT64_MIN)
            assert_true(vindex_selector_contains(s, copy[i]));
    assert_true(vindex_selector_contains(s, -1));
    int outside = 0;
    for (vindex_id probe = -1000; probe < 1000; probe++) {
        int in = 0;
        for (int i = 0; i < N; i++)
            in |= copy[i] == probe && probe != INT64_MIN;
        assert_int_equal(vindex_selector_contains(s, probe) != 0, in);
        outside += !in;
    }
    assert_true(outside > 1900);
    vindex_selector_free(s);
    ASSERT_OK(vindex_selector_batch(&s, 0, NULL)); /* selects nothing */
    assert_false(vindex_selector_contains(s, 0));
    vindex_selector_free(s);
}

static void bitmap_contains(void **state)
{
    (void)state;
    uint8_t bits[3] = {0x81, 0x00, 0xff}; /* ids 0, 7, 16..20 of nbits = 21 */
    vindex_selector *s = NULL;
    ASSERT_OK(vindex_selector_bitmap(&s, 21, bits));
    bits[1] = 0xff; /* copied */
    for (vindex_id id = -3; id < 40; id++) {
        int want = id == 0 || id == 7 || (id >= 16 && id < 21);
        assert_int_equal(vindex_selector_contains(s, id) != 0, want);
    }
    assert_false(vindex_selector_contains(s, INT64_MIN));
    vindex_selector_free(s);
    ASSERT_OK(vindex_selector_bitmap(&s, 0, NULL));
    assert_false(vindex_selector_contains(s, 0));
    vindex_selector_free(s);
}

static void not_contains(void **state)
{
    (void)state;
    vindex_selector *r = NULL, *n = NULL, *nn = NULL;
    ASSERT_OK(vindex_selector_range(&r, 3, 6));
    ASSERT_OK(vindex_selector_not(&n, r));
    ASSERT_OK(vindex_selector_not(&nn, n));
    for (vindex_id id = -2; id < 10; id++) {
        int in = id >= 3 && id < 6;
        assert_int_equal(vindex_selector_contains(n, id) != 0, !in);
        assert_int_equal(vindex_selector_contains(nn, id) != 0, in);
    }
    vindex_selector_free(nn);
    vindex_selector_free(n);
    vindex_selector_free(r);
}

/* ---- selectors in Flat ----------------------------------------------------- */

enum { D = 10, N = 1200, NQ = 30, K = 15 };

/* Searches `ix` with `sel` and checks the result against the reference over
 * the selected vectors alone, on both search paths. */
static void check_filtered(const vindex *ix, const float *x, const float *q, size_t nq,
                           vindex_metric m, const vindex_selector *sel)
{
    float *sub = malloc((size_t)N * D * sizeof *sub);
    vindex_id *pos = malloc(N * sizeof *pos);
    size_t ns = 0;
    for (size_t i = 0; i < N; i++)
        if (vindex_selector_contains(sel, (vindex_id)i)) {
            memcpy(sub + ns * D, x + i * D, D * sizeof(float));
            pos[ns++] = (vindex_id)i;
        }
    float *dist = malloc(nq * K * sizeof *dist), *rd = malloc(nq * K * sizeof *rd);
    vindex_id *lab = malloc(nq * K * sizeof *lab), *ri = malloc(nq * K * sizeof *ri);
    tu_reference_knn(q, nq, sub, ns, D, K, m, rd, ri);
    vindex_search_params p;
    vindex_search_params_init(&p);
    p.sel = sel;
    size_t saved = vindex_get_blas_threshold();
    for (int blas = 0; blas < 2; blas++) {
        vindex_set_blas_threshold(blas ? 1 : (size_t)-1);
        vindex_status st = vindex_search(ix, nq, q, K, &p, dist, lab);
        vindex_set_blas_threshold(saved);
        ASSERT_OK(st);
        for (size_t i = 0; i < nq * K; i++) {
            if (lab[i] == -1)
                continue; /* padding: tu_check_knn wants it where ns < K */
            assert_true(vindex_selector_contains(sel, lab[i]));
            /* position in the index -> index in the subset */
            size_t lo = 0, hi = ns;
            while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (pos[mid] < lab[i])
                    lo = mid + 1;
                else
                    hi = mid;
            }
            assert_true(lo < ns && pos[lo] == lab[i]);
            lab[i] = (vindex_id)lo;
        }
        tu_check_knn(q, nq, sub, ns, D, K, m, dist, lab, rd, ri, K, 1e-4);
    }
    free(sub);
    free(pos);
    free(dist);
    free(rd);
    free(lab);
    free(ri);
}

static void flat_search_with_selectors(void **state)
{
    (void)state;
    float *x = tu_random_vectors(N + NQ, D, 41);
    const float *q = x + (size_t)N * D;
    uint8_t *bits = calloc(N / 8, 1);
    for (size_t i = 0; i < N; i += 7)
        bits[i / 8] |= (uint8_t)(1u << (i % 8));
    vindex_id batch_ids[] = {5, 17, 900, 1199, 1200, -4, 333, 334, 335};
    for (size_t mi = 0; mi < COUNT(metrics); mi++) {
        vindex *ix = NULL;
        ASSERT_OK(vindex_flat_new(&ix, D, metrics[mi]));
        ASSERT_OK(vindex_add(ix, N, x));
        vindex_selector *range, *batch, *bitmap, *not_bitmap, *few, *none;
        ASSERT_OK(vindex_selector_range(&range, 100, 400));
        ASSERT_OK(vindex_selector_batch(&batch, COUNT(batch_ids), batch_ids)); /* 7 exist: < K */
        ASSERT_OK(vindex_selector_bitmap(&bitmap, N, bits));
        ASSERT_OK(vindex_selector_not(&not_bitmap, bitmap));
        ASSERT_OK(vindex_selector_range(&few, N - 3, N + 50)); /* 3 exist */
        ASSERT_OK(vindex_selector_range(&none, N, N + 50));
        const vindex_selector *all[] = {range, batch, bitmap, not_bitmap, few, none};
        for (size_t s = 0; s < COUNT(all); s++) {
            check_filtered(ix, x, q, 1, metrics[mi], all[s]);
            check_filtered(ix, x, q, NQ, metrics[mi], all[s]);
        }
        /* none selected: only padding */
        vindex_search_params p;
        vindex_search_params_init(&p);
        p.sel = none;
        float dist[K];
        vindex_id lab[K];
        ASSERT_OK(vindex_search(ix, 1, q, K, &p, dist, lab));
        for (int r = 0; r < K; r++)
            assert_int_equal(lab[r], -1);
        vindex_selector_free(not_bitmap);
        vindex_selector_free(range);
        vindex_selector_free(batch);
        vindex_selector_free(bitmap);
        vindex_selector_free(few);
        vindex_selector_free(none);
        vindex_free(ix);
    }
    free(bits);
    free(x);
}

static void flat_range_search_with_selector(void **state)
{
    (void)state;
    float *x = tu_random_vectors(N + NQ, D, 42);
    const float *q = x + (size_t)N * D;
    vindex_selector *sel = NULL;
    ASSERT_OK(vindex_selector_range(&sel, 200, 800));
    vindex_search_params p;
    vindex_search_params_init(&p);
    p.sel = sel;
    for (size_t mi = 0; mi < COUNT(metrics); mi++) {
        vindex *ix = NULL;
        ASSERT_OK(vindex_flat_new(&ix, D, metrics[mi]));
        ASSERT_OK(vindex_add(ix, N, x));
        float radius = metrics[mi] == VINDEX_METRIC_L2 ? 0.6f : 3.0f;
        vindex_range_result *all = NULL, *filt = NULL;
        ASSERT_OK(vindex_range_search(ix, NQ, q, radius, NULL, &all));
        ASSERT_OK(vindex_range_search(ix, NQ, q, radius, &p, &filt));
        size_t nfilt = 0;
        for (size_t i = 0; i < NQ; i++) {
            size_t h = filt->lims[i];
            for (size_t a = all->lims[i]; a < all->lims[i + 1]; a++) {
                if (all->labels[a] < 200 || all->labels[a] >= 800)
                    continue;
                assert_true(h < filt->lims[i + 1]);
                assert_int_equal(filt->labels[h], all->labels[a]);
                assert_true(filt->distances[h] == all->distances[a]);
                h++;
            }
            assert_int_equal(h, filt->lims[i + 1]);
            nfilt += h - filt->lims[i];
        }
        assert_true(nfilt > 0 && nfilt < all->lims[NQ]);
        vindex_range_result_free(all);
        vindex_range_result_free(filt);
        vindex_free(ix);
    }
    vindex_selector_free(sel);
    free(x);
}

static void remove_with_not_keeps_selected(void **state)
{
    (void)state;
    float *x = tu_random_vectors(N, D, 43);
    vindex *ix = NULL;
    ASSERT_OK(vindex_flat_new(&ix, D, VINDEX_METRIC_L2));
    ASSERT_OK(vindex_add(ix, N, x));
    const vindex_id keep[] = {3, 500, 501, 1100};
    vindex_selector *k = NULL, *drop = NULL;
    ASSERT_OK(vindex_selector_batch(&k, COUNT(keep), keep));
    ASSERT_OK(vindex_selector_not(&drop, k));
    size_t removed = 0;
    ASSERT_OK(vindex_remove_ids(ix, drop, &removed));
    assert_int_equal(removed, N - COUNT(keep));
    assert_int_equal(vindex_ntotal(ix), COUNT(keep));
    float out[4 * D];
    ASSERT_OK(vindex_reconstruct_n(ix, 0, COUNT(keep), out));
    for (size_t i = 0; i < COUNT(keep); i++)
        assert_memory_equal(out + i * D, x + (size_t)keep[i] * D, D * sizeof(float));
    vindex_selector_free(drop);
    vindex_selector_free(k);
    vindex_free(ix);
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(range_contains),
        cmocka_unit_test(batch_contains),
        cmocka_unit_test(bitmap_contains),
        cmocka_unit_test(not_contains),
        cmocka_unit_test(flat_search_with_selectors),
        cmocka_unit_test(flat_range_search_with_selector),
        cmocka_unit_test(remove_with_not_keeps_selected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
