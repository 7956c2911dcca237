/* Bad input, one case per test: each call must fail with the documented status,
 * leave a message that names the problem in vindex_last_error(), and leave the
 * index exactly as it was. Edge cases that are not errors (n = 0, empty index,
 * k > ntotal) must succeed with the documented results. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { D = 6, N = 40, NQ = 3, K = 4 };

/* The call returns `want`, and the last error is non-empty and mentions `word`. */
#define EXPECT_ERR(call, want, word)                                                           \
    do {                                                                                       \
        vindex_status st_ = (call);                                                            \
        if (st_ != (want))                                                                     \
            fail_msg("%s returned %d (%s), expected %d; last error: '%s'", #call, (int)st_,   \
                     vindex_status_string(st_), (int)(want), vindex_last_error());             \
        const char *msg_ = vindex_last_error();                                                \
        if (!msg_ || !*msg_)                                                                   \
            fail_msg("%s: empty vindex_last_error()", #call);                                  \
        if (!strstr(msg_, (word)))                                                             \
            fail_msg("%s: last error '%s' does not mention '%s'", #call, msg_, (word));        \
    } while (0)

/* A successful call clears the previous message. */
#define EXPECT_OK_CLEAN(call)                                                                  \
    do {                                                                                       \
        ASSERT_OK(call);                                                                       \
        assert_string_equal(vindex_last_error(), "");                                          \
    } while (0)

typedef struct fixture {
    vindex *flat_l2, *flat_ip, *idmap, *idmap2;
    float *x, *q;
    vindex_id ids[N];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->x = tu_random_vectors(N, D, 1);
    f->q = tu_random_vectors(NQ, D, 2);
    for (int i = 0; i < N; i++)
        f->ids[i] = 1000 + 3 * i;
    vindex *sub1, *sub2;
    if (vindex_flat_new(&f->flat_l2, D, VINDEX_METRIC_L2) ||
        vindex_flat_new(&f->flat_ip, D, VINDEX_METRIC_INNER_PRODUCT) ||
        vindex_flat_new(&sub1, D, VINDEX_METRIC_L2) || vindex_flat_new(&sub2, D, VINDEX_METRIC_L2) ||
        vindex_idmap_new(&f->idmap, sub1) || vindex_idmap2_new(&f->idmap2, sub2) ||
        vindex_add(f->flat_l2, N, f->x) || vindex_add(f->flat_ip, N, f->x) ||
        vindex_add_with_ids(f->idmap, N, f->x, f->ids) ||
        vindex_add_with_ids(f->idmap2, N, f->x, f->ids))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    vindex_free(f->flat_l2);
    vindex_free(f->flat_ip);
    vindex_free(f->idmap);
    vindex_free(f->idmap2);
    free(f->x);
    free(f->q);
    free(f);
    return 0;
}

/* Search results of an index, to show that a failed call changed nothing. */
typedef struct snapshot {
    int64_t ntotal;
    float dist[NQ * K];
    vindex_id labels[NQ * K];
} snapshot;

static void take(const vindex *ix, const float *q, snapshot *s)
{
    s->ntotal = vindex_ntotal(ix);
    ASSERT_OK(vindex_search(ix, NQ, q, K, NULL, s->dist, s->labels));
}

static void assert_unchanged(const vindex *ix, const float *q, const snapshot *before)
{
    snapshot now;
    take(ix, q, &now);
    assert_int_equal(now.ntotal, before->ntotal);
    assert_memory_equal(now.dist, before->dist, sizeof now.dist);
    assert_memory_equal(now.labels, before->labels, sizeof now.labels);
}

/* ---- NULL pointers ------------------------------------------------------- */

static void null_pointers(void **state)
{
    fixture *f = *state;
    vindex *ix = f->flat_l2;
    float dist[NQ * K], v[D];
    vindex_id lab[NQ * K];
    vindex_range_result *res = NULL;
    vindex *out = (vindex *)&res; /* must be overwritten with NULL on failure */

    EXPECT_ERR(vindex_flat_new(NULL, D, VINDEX_METRIC_L2), VINDEX_ERR_INVALID, "NULL");
    EXPECT_ERR(vindex_idmap_new(NULL, f->flat_ip), VINDEX_ERR_INVALID, "NULL");
    EXPECT_ERR(vindex_idmap_new(&out, NULL), VINDEX_ERR_INVALID, "NULL");
    assert_null(out);
    EXPECT_ERR(vindex_idmap2_new(&out, NULL), VINDEX_ERR_INVALID, "NULL");

    EXPECT_ERR(vindex_train(NULL, 1, f->x), VINDEX_ERR_INVALID, "NULL");
    EXPECT_ERR(vindex_train(ix, 1, NULL), VINDEX_ERR_INVALID, "NULL");
    EXPECT_ERR(vindex_add(NULL, 1, f->x), VINDEX_ERR_INVALID, "NULL");
    EXPECT_ERR(vindex_add(ix, 1, NULL), VINDEX_ERR_INVALID, "NULL");
    EXPECT_ERR(vindex_add_with_ids(NULL, 1, f->x, f->ids), VINDEX_ERR_INVALID, "NULL");
    EXPECT_ERR(vindex_add_with_ids(f->idmap, 1, NULL, f->ids), VINDEX_ERR_INVALID, "NULL");
    EXPECT_ERR(vindex_add_with_ids(f->idmap, 1, f->x, NULL), VINDEX_ERR_INVALID, "NULL");

    EXPECT_ERR(vindex_search(NULL, 1, f->q, K, NULL, dist, lab), VINDEX_ERR_INVALID, "NULL");
    EXPECT_ERR(vindex_search(ix, 1, NULL, K, NULL, dist, lab), VINDEX_ERR_INVALID, "NULL");
    EXPECT_ERR(vindex_search(ix, 1, f->q, K, NULL, NULL, lab), VINDEX_ERR_INVALID, "NULL");
    EXPECT_ERR(vindex_search(ix, 1, f->q, K, NULL, dist, NULL), VINDEX_ERR_INVALID, "NULL");

    EXPECT_ERR(vindex_range_search(NULL, 1, f->q, 1.0f, NULL, &res), VINDEX_ERR_INVALID, "NULL");
    EXPECT_ERR(vindex_range_search(ix, 1, f->q, 1.0f, NULL, NULL), VINDEX_ERR_INVALID, "NULL");
    EXPECT_ERR(vindex_range_search(ix, 1, NULL, 1.0f, NULL, &res), VINDEX_ERR_INVALID, "NULL");
    assert_null(res);

    EXPECT_ERR(vindex_reconstruct(NULL, 0, v), VINDEX_ERR_INVALID, "NULL");
    EXPECT_ERR(vindex_reconstruct(ix, 0, NULL), VINDEX_ERR_INVALID, "NULL");
    EXPECT_ERR(vindex_reconstruct_n(NULL, 0, 1, v), VINDEX_ERR_INVALID, "NULL");
    EXPECT_ERR(vindex_reconstruct_n(ix, 0, 1, NULL), VINDEX_ERR_INVALID, "NULL");

    vindex_selector *sel = NULL;
    ASSERT_OK(vindex_selector_range(&sel, 0, 1));
    size_t removed = 77;
    EXPECT_ERR(vindex_remove_ids(NULL, sel, &removed), VINDEX_ERR_INVALID, "NULL");
    assert_int_equal(removed, 0);
    EXPECT_ERR(vindex_remove_ids(ix, NULL, &removed), VINDEX_ERR_INVALID, "NULL");
    vindex_selector_free(sel);
    EXPECT_ERR(vindex_reset(NULL), VINDEX_ERR_INVALID, "NULL");

    double value;
    EXPECT_ERR(vindex_set_param(NULL, "nprobe", 1), VINDEX_ERR_INVALID, "NULL");
    EXPECT_ERR(vindex_set_param(ix, NULL, 1), VINDEX_ERR_INVALID, "NULL");
    EXPECT_ERR(vindex_get_param(ix, "nprobe", NULL), VINDEX_ERR_INVALID, "NULL");
    EXPECT_ERR(vindex_get_param(ix, NULL, &value), VINDEX_ERR_INVALID, "NULL");

    EXPECT_ERR(vindex_selector_range(NULL, 0, 1), VINDEX_ERR_INVALID, "NULL");
    EXPECT_ERR(vindex_selector_batch(NULL, 0, NULL), VINDEX_ERR_INVALID, "NULL");
    EXPECT_ERR(vindex_selector_batch(&sel, 2, NULL), VINDEX_ERR_INVALID, "NULL");
    assert_null(sel);
    EXPECT_ERR(vindex_selector_bitmap(&sel, 8, NULL), VINDEX_ERR_INVALID, "NULL");
    EXPECT_ERR(vindex_selector_not(&sel, NULL), VINDEX_ERR_INVALID, "NULL");
    EXPECT_ERR(vindex_selector_not(NULL, sel), VINDEX_ERR_INVALID, "NULL");

    EXPECT_ERR(vindex_knn(1, f->q, N, NULL, D, K, VINDEX_METRIC_L2, dist, lab),
               VINDEX_ERR_INVALID, "NULL");
    EXPECT_ERR(vindex_knn(1, NULL, N, f->x, D, K, VINDEX_METRIC_L2, dist, lab),
               VINDEX_ERR_INVALID, "NULL");
    EXPECT_ERR(vindex_knn(1, f->q, N, f->x, D, K, VINDEX_METRIC_L2, NULL, lab),
               VINDEX_ERR_INVALID, "NULL");
    EXPECT_ERR(vindex_normalize_l2(1, D, NULL), VINDEX_ERR_INVALID, "NULL");

    /* NULL-safe no-ops and neutral getters */
    vindex_free(NULL);
    vindex_selector_free(NULL);
    vindex_range_result_free(NULL);
    vindex_search_params_init(NULL);
    assert_int_equal(vindex_d(NULL), 0);
    assert_int_equal(vindex_ntotal(NULL), 0);
    assert_int_equal(vindex_is_trained(NULL), 0);
    assert_string_equal(vindex_type_name(NULL), "");
    assert_int_equal(vindex_memory_bytes(NULL), 0);
    assert_true(vindex_selector_contains(NULL, 12345)); /* no selector selects all */
}

/* ---- dimensions and metric ---------------------------------------------- */

static void bad_dimension(void **state)
{
    (void)state;
    vindex *ix = (vindex *)state; /* any non-NULL value: must be reset to NULL */
    EXPECT_ERR(vindex_flat_new(&ix, 0, VINDEX_METRIC_L2), VINDEX_ERR_INVALID, "dimension");
    assert_null(ix);
    EXPECT_ERR(vindex_flat_new(&ix, -5, VINDEX_METRIC_INNER_PRODUCT), VINDEX_ERR_INVALID,
               "dimension");
    assert_null(ix);
    EXPECT_ERR(vindex_flat_new(&ix, 4, (vindex_metric)7), VINDEX_ERR_INVALID, "metric");
    assert_null(ix);
    float x[4] = {1, 2, 3, 4}, dist[1];
    vindex_id lab[1];
    EXPECT_ERR(vindex_knn(1, x, 1, x, 0, 1, VINDEX_METRIC_L2, dist, lab), VINDEX_ERR_INVALID,
               "dimension");
    EXPECT_ERR(vindex_knn(1, x, 1, x, -1, 1, VINDEX_METRIC_L2, dist, lab), VINDEX_ERR_INVALID,
               "dimension");
    EXPECT_ERR(vindex_normalize_l2(1, 0, x), VINDEX_ERR_INVALID, "dimension");
    EXPECT_ERR(vindex_normalize_l2(1, -4, x), VINDEX_ERR_INVALID, "dimension");
    assert_true(x[0] == 1 && x[3] == 4);
}

/* ---- n = 0 --------------------------------------------------------------- */

static void zero_count_is_a_no_op(void **state)
{
    fixture *f = *state;
    snapshot before;
    take(f->flat_l2, f->q, &before);
    EXPECT_OK_CLEAN(vindex_add(f->flat_l2, 0, NULL));
    EXPECT_OK_CLEAN(vindex_add(f->flat_l2, 0, f->x));
    EXPECT_OK_CLEAN(vindex_train(f->flat_l2, 0, NULL));
    EXPECT_OK_CLEAN(vindex_add_with_ids(f->idmap, 0, NULL, NULL));
    assert_int_equal(vindex_ntotal(f->idmap), N);
    EXPECT_OK_CLEAN(vindex_search(f->flat_l2, 0, NULL, K, NULL, NULL, NULL));
    EXPECT_OK_CLEAN(vindex_reconstruct_n(f->flat_l2, 0, 0, NULL));
    EXPECT_OK_CLEAN(vindex_normalize_l2(0, D, NULL));
    EXPECT_OK_CLEAN(vindex_knn(0, NULL, 0, NULL, D, K, VINDEX_METRIC_L2, NULL, NULL));
    vindex_range_result *res = NULL;
    EXPECT_OK_CLEAN(vindex_range_search(f->flat_l2, 0, NULL, 1.0f, NULL, &res));
    assert_int_equal(res->nq, 0);
    assert_int_equal(res->lims[0], 0);
    vindex_range_result_free(res);
    assert_unchanged(f->flat_l2, f->q, &before);
}

/* ---- k ------------------------------------------------------------------- */

static void k_zero(void **state)
{
    fixture *f = *state;
    float dist[NQ];
    vindex_id lab[NQ];
    EXPECT_ERR(vindex_search(f->flat_l2, NQ, f->q, 0, NULL, dist, lab), VINDEX_ERR_INVALID, "k");
    EXPECT_ERR(vindex_search(f->idmap, NQ, f->q, 0, NULL, dist, lab), VINDEX_ERR_INVALID, "k");
    EXPECT_ERR(vindex_knn(NQ, f->q, N, f->x, D, 0, VINDEX_METRIC_L2, dist, lab),
               VINDEX_ERR_INVALID, "k");
}

static void check_padding(const float *dist, const vindex_id *lab, size_t from, size_t k,
                          vindex_metric m)
{
    for (size_t r = from; r < k; r++) {
        assert_int_equal(lab[r], -1);
        assert_true(isinf(dist[r]));
        assert_true(m == VINDEX_METRIC_L2 ? dist[r] > 0 : dist[r] < 0);
    }
}

static void k_larger_than_ntotal_pads(void **state)
{
    fixture *f = *state;
    enum { BIG = N + 9 };
    const vindex *all[] = {f->flat_l2, f->flat_ip, f->idmap, f->idmap2};
    float *dist = malloc(25 * BIG * sizeof *dist);
    vindex_id *lab = malloc(25 * BIG * sizeof *lab);
    float *qs = tu_random_vectors(25, D, 3);
    for (size_t a = 0; a < 4; a++) {
        vindex_metric m = vindex_metric_type(all[a]);
        for (int blas = 0; blas < 2; blas++) {
            size_t nq = blas ? 25 : 2; /* 25 >= the default threshold of 20 */
            ASSERT_OK(vindex_search(all[a], nq, qs, BIG, NULL, dist, lab));
            for (size_t i = 0; i < nq; i++) {
                const vindex_id *li = lab + i * BIG;
                /* all N real results, each once, then padding */
                for (int r = 0; r < N; r++) {
                    assert_true(li[r] != -1);
                    for (int s = 0; s < r; s++)
                        assert_true(li[s] != li[r]);
                    assert_true(isfinite(dist[i * BIG + r]));
                }
                check_padding(dist + i * BIG, li, N, BIG, m);
            }
        }
    }
    free(qs);
    free(dist);
    free(lab);
}

/* ---- NaN and infinity ---------------------------------------------------- */

static void non_finite_vectors_refused(void **state)
{
    fixture *f = *state;
    const float bad_values[] = {NAN, INFINITY, -INFINITY};
    float *batch = tu_random_vectors(5, D, 4);
    vindex_id new_ids[5] = {1, 2, 3, 4, 5};
    vindex *targets[] = {f->flat_l2, f->flat_ip, f->idmap, f->idmap2};
    for (size_t t = 0; t < 4; t++) {
        snapshot before;
        take(targets[t], f->q, &before);
        for (size_t b = 0; b < 3; b++) {
            /* the bad value in the last vector of the batch, at its last component */
            float saved = batch[4 * D + D - 1];
            batch[4 * D + D - 1] = bad_values[b];
            if (t < 2)
                EXPECT_ERR(vindex_add(targets[t], 5, batch), VINDEX_ERR_INVALID, "NaN");
            else
                EXPECT_ERR(vindex_add_with_ids(targets[t], 5, batch, new_ids), VINDEX_ERR_INVALID,
                           "NaN");
            EXPECT_ERR(vindex_train(targets[t], 5, batch), VINDEX_ERR_INVALID, "NaN");
            batch[4 * D + D - 1] = saved;
            assert_unchanged(targets[t], f->q, &before);
        }
        if (t == 3) { /* none of the refused ids went in */
            float v[D];
            EXPECT_ERR(vindex_reconstruct(targets[t], 1, v), VINDEX_ERR_NOT_FOUND, "1");
        }
    }
    /* in the first vector, first component, too */
    snapshot before;
    take(f->flat_l2, f->q, &before);
    float saved = batch[0];
    batch[0] = NAN;
    EXPECT_ERR(vindex_add(f->flat_l2, 5, batch), VINDEX_ERR_INVALID, "NaN");
    batch[0] = saved;
    assert_unchanged(f->flat_l2, f->q, &before);
    free(batch);
}

static void non_finite_queries_refused(void **state)
{
    fixture *f = *state;
    float q[2 * D], dist[2 * K];
    vindex_id lab[2 * K];
    memcpy(q, f->q, sizeof q);
    q[D + 2] = NAN;
    EXPECT_ERR(vindex_search(f->flat_l2, 2, q, K, NULL, dist, lab), VINDEX_ERR_INVALID, "NaN");
    EXPECT_ERR(vindex_search(f->idmap, 2, q, K, NULL, dist, lab), VINDEX_ERR_INVALID, "NaN");
    vindex_range_result *res = NULL;
    EXPECT_ERR(vindex_range_search(f->flat_ip, 2, q, 0.5f, NULL, &res), VINDEX_ERR_INVALID,
               "NaN");
    assert_null(res);
    q[D + 2] = -INFINITY;
    EXPECT_ERR(vindex_search(f->flat_ip, 2, q, K, NULL, dist, lab), VINDEX_ERR_INVALID, "NaN");
    EXPECT_ERR(vindex_knn(2, q, N, f->x, D, K, VINDEX_METRIC_L2, dist, lab), VINDEX_ERR_INVALID,
               "NaN");
    /* knn's base vectors are checked as an add's would be */
    EXPECT_ERR(vindex_knn(1, f->x, 2, q, D, K, VINDEX_METRIC_L2, dist, lab), VINDEX_ERR_INVALID,
               "base vector 1");
}

/* ---- size overflow ------------------------------------------------------- */

static void size_overflow(void **state)
{
    fixture *f = *state;
    snapshot before;
    take(f->flat_l2, f->q, &before);
    float dist[4], v[D];
    vindex_id lab[4];
    const size_t huge[] = {SIZE_MAX / 8, SIZE_MAX / 4 + 1, SIZE_MAX / 2, SIZE_MAX};
    for (size_t h = 0; h < 4; h++) {
        size_t n = huge[h];
        /* n * D * 4 bytes cannot exist: refused before anything is read */
        EXPECT_ERR(vindex_add(f->flat_l2, n, f->x), VINDEX_ERR_INVALID, "overflow");
        EXPECT_ERR(vindex_add_with_ids(f->idmap, n, f->x, f->ids), VINDEX_ERR_INVALID,
                   "overflow");
        EXPECT_ERR(vindex_train(f->flat_l2, n, f->x), VINDEX_ERR_INVALID, "overflow");
        EXPECT_ERR(vindex_search(f->flat_l2, n, f->q, 1, NULL, dist, lab), VINDEX_ERR_INVALID,
                   "overflow");
        EXPECT_ERR(vindex_search(f->flat_l2, 1, f->q, n, NULL, dist, lab), VINDEX_ERR_INVALID,
                   "overflow");
        vindex_range_result *res = NULL;
        EXPECT_ERR(vindex_range_search(f->flat_l2, n, f->q, 1.0f, NULL, &res),
                   VINDEX_ERR_INVALID, "overflow");
        EXPECT_ERR(vindex_reconstruct_n(f->flat_l2, 0, n, v), VINDEX_ERR_INVALID, "overflow");
        EXPECT_ERR(vindex_normalize_l2(n, D, v), VINDEX_ERR_INVALID, "overflow");
        EXPECT_ERR(vindex_knn(1, f->q, n, f->x, D, 1, VINDEX_METRIC_L2, dist, lab),
                   VINDEX_ERR_INVALID, "overflow");
        EXPECT_ERR(vindex_knn(n, f->q, N, f->x, D, 1, VINDEX_METRIC_L2, dist, lab),
                   VINDEX_ERR_INVALID, "overflow");
    }
    assert_unchanged(f->flat_l2, f->q, &before);
    assert_int_equal(vindex_ntotal(f->idmap), N);
}

/* ---- ids ----------------------------------------------------------------- */

static void duplicate_ids_refused(void **state)
{
    fixture *f = *state;
    float *batch = tu_random_vectors(4, D, 5);
    vindex *maps[] = {f->idmap, f->idmap2};
    for (int m = 0; m < 2; m++) {
        vindex *ix = maps[m];
        snapshot before;
        take(ix, f->q, &before);
        const vindex_id within[4] = {-50, 7, 8, 7};          /* 7 twice in the batch */
        const vindex_id existing[4] = {-60, 9, 1000 + 3 * 5, 11}; /* 1015 is stored */
        const vindex_id twice_first[4] = {12, 12, 13, 14};
        EXPECT_ERR(vindex_add_with_ids(ix, 4, batch, within), VINDEX_ERR_INVALID, "duplicate");
        assert_unchanged(ix, f->q, &before);
        EXPECT_ERR(vindex_add_with_ids(ix, 4, batch, existing), VINDEX_ERR_INVALID, "duplicate");
        assert_unchanged(ix, f->q, &before);
        EXPECT_ERR(vindex_add_with_ids(ix, 4, batch, twice_first), VINDEX_ERR_INVALID,
                   "duplicate");
        assert_unchanged(ix, f->q, &before);
        if (m == 1) {
            /* the refused ids are not there, the stored one still maps to its vector */
            float v[D];
            EXPECT_ERR(vindex_reconstruct(ix, -50, v), VINDEX_ERR_NOT_FOUND, "-50");
            EXPECT_ERR(vindex_reconstruct(ix, -60, v), VINDEX_ERR_NOT_FOUND, "-60");
            EXPECT_ERR(vindex_reconstruct(ix, 12, v), VINDEX_ERR_NOT_FOUND, "12");
            ASSERT_OK(vindex_reconstruct(ix, 1015, v));
            assert_memory_equal(v, f->x + 5 * D, sizeof v);
        }
        /* the partially-entered ids were rolled back: the same ids, fixed, now go in */
        const vindex_id fixed[4] = {-50, 7, 8, 9};
        ASSERT_OK(vindex_add_with_ids(ix, 4, batch, fixed));
        assert_int_equal(vindex_ntotal(ix), N + 4);
        float dist[1];
        vindex_id lab[1];
        ASSERT_OK(vindex_search(ix, 1, batch + 3 * D, 1, NULL, dist, lab));
        assert_int_equal(lab[0], 9);
        /* and -1 (the "no result" label) is reserved */
        const vindex_id reserved[1] = {-1};
        EXPECT_ERR(vindex_add_with_ids(ix, 1, batch, reserved), VINDEX_ERR_INVALID, "reserved");
        assert_int_equal(vindex_ntotal(ix), N + 4);
        /* undo for the other tests */
        vindex_selector *sel = NULL;
        ASSERT_OK(vindex_selector_batch(&sel, 4, fixed));
        size_t removed;
        ASSERT_OK(vindex_remove_ids(ix, sel, &removed));
        assert_int_equal(removed, 4);
        vindex_selector_free(sel);
        assert_unchanged(ix, f->q, &before);
    }
    free(batch);
}

static void empty_index_search_pads(void **state)
{
    (void)state;
    const vindex_metric ms[] = {VINDEX_METRIC_L2, VINDEX_METRIC_INNER_PRODUCT};
    float *q = tu_random_vectors(25, D, 6);
    float dist[25 * K];
    vindex_id lab[25 * K];
    for (int m = 0; m < 2; m++) {
        vindex *flat, *sub, *map;
        ASSERT_OK(vindex_flat_new(&flat, D, ms[m]));
        ASSERT_OK(vindex_flat_new(&sub, D, ms[m]));
        ASSERT_OK(vindex_idmap2_new(&map, sub));
        vindex *both[] = {flat, map};
        for (int b = 0; b < 2; b++) {
            memset(lab, 0x55, sizeof lab);
            EXPECT_OK_CLEAN(vindex_search(both[b], 25, q, K, NULL, dist, lab));
            for (int i = 0; i < 25; i++)
                check_padding(dist + i * K, lab + i * K, 0, K, ms[m]);
            vindex_range_result *res = NULL;
            EXPECT_OK_CLEAN(vindex_range_search(both[b], 3, q, 10.0f, NULL, &res));
            assert_int_equal(res->lims[3], 0);
            vindex_range_result_free(res);
        }
        vindex_free(flat);
        vindex_free(map);
    }
    free(q);
}

static void reconstruct_missing_id(void **state)
{
    fixture *f = *state;
    float v[D];
    EXPECT_ERR(vindex_reconstruct(f->flat_l2, N, v), VINDEX_ERR_NOT_FOUND, "40");
    EXPECT_ERR(vindex_reconstruct(f->flat_l2, -2, v), VINDEX_ERR_NOT_FOUND, "-2");
    EXPECT_ERR(vindex_reconstruct(f->idmap2, 1001, v), VINDEX_ERR_NOT_FOUND, "1001");
    EXPECT_ERR(vindex_reconstruct(f->idmap2, 0, v), VINDEX_ERR_NOT_FOUND, "not");
    EXPECT_ERR(vindex_reconstruct_n(f->flat_l2, N - 1, 2, v), VINDEX_ERR_NOT_FOUND, "40");
}

static void range_radius_checks(void **state)
{
    fixture *f = *state;
    vindex_range_result *res = (vindex_range_result *)f; /* must become NULL */
    EXPECT_ERR(vindex_range_search(f->flat_l2, 1, f->q, -0.5f, NULL, &res), VINDEX_ERR_INVALID,
               "negative");
    assert_null(res);
    EXPECT_ERR(vindex_range_search(f->idmap, 1, f->q, -1.0f, NULL, &res), VINDEX_ERR_INVALID,
               "negative");
    EXPECT_ERR(vindex_range_search(f->flat_l2, 1, f->q, NAN, NULL, &res), VINDEX_ERR_INVALID,
               "NaN");
    EXPECT_ERR(vindex_range_search(f->flat_ip, 1, f->q, NAN, NULL, &res), VINDEX_ERR_INVALID,
               "NaN");
    /* a negative radius is meaningful for inner products */
    EXPECT_OK_CLEAN(vindex_range_search(f->flat_ip, 1, f->q, -0.5f, NULL, &res));
    assert_int_equal(res->lims[1], N); /* all products of [0,1) vectors are >= 0 */
    vindex_range_result_free(res);
}

/* ---- unsupported operations --------------------------------------------- */

static void unsupported_operations(void **state)
{
    fixture *f = *state;
    snapshot before;
    take(f->flat_l2, f->q, &before);
    EXPECT_ERR(vindex_add_with_ids(f->flat_l2, 2, f->x, f->ids), VINDEX_ERR_UNSUPPORTED,
               "IndexIDMap");
    assert_unchanged(f->flat_l2, f->q, &before);

    float v[D];
    EXPECT_ERR(vindex_reconstruct(f->idmap, f->ids[0], v), VINDEX_ERR_UNSUPPORTED,
               "reconstruct");
    EXPECT_ERR(vindex_reconstruct_n(f->idmap, f->ids[0], 1, v), VINDEX_ERR_UNSUPPORTED,
               "reconstruct");

    take(f->idmap, f->q, &before);
    EXPECT_ERR(vindex_add(f->idmap, 2, f->x), VINDEX_ERR_UNSUPPORTED, "add_with_ids");
    EXPECT_ERR(vindex_add(f->idmap2, 2, f->x), VINDEX_ERR_UNSUPPORTED, "add_with_ids");
    assert_unchanged(f->idmap, f->q, &before);

    /* wrapping: the sub-index must be empty, and not already an id map */
    vindex *out = NULL;
    EXPECT_ERR(vindex_idmap_new(&out, f->flat_l2), VINDEX_ERR_INVALID, "empty");
    assert_null(out);
    vindex *empty_map, *sub;
    ASSERT_OK(vindex_flat_new(&sub, D, VINDEX_METRIC_L2));
    ASSERT_OK(vindex_idmap_new(&empty_map, sub));
    EXPECT_ERR(vindex_idmap2_new(&out, empty_map), VINDEX_ERR_UNSUPPORTED, "IndexIDMap");
    assert_null(out);
    vindex_free(empty_map);

    /* Flat has no tunables */
    double value = 0;
    EXPECT_ERR(vindex_set_param(f->flat_l2, "nprobe", 4), VINDEX_ERR_NOT_FOUND, "nprobe");
    EXPECT_ERR(vindex_get_param(f->flat_l2, "efSearch", &value), VINDEX_ERR_NOT_FOUND,
               "efSearch");
    EXPECT_ERR(vindex_set_param(f->idmap, "nprobe", 4), VINDEX_ERR_NOT_FOUND, "nprobe");
    EXPECT_ERR(vindex_set_param(f->flat_l2, "nprobe", NAN), VINDEX_ERR_INVALID, "finite");
}

static void bad_search_params(void **state)
{
    fixture *f = *state;
    float dist[NQ * K];
    vindex_id lab[NQ * K];
    vindex_range_result *res = NULL;
    vindex_search_params p;
    const vindex *all[] = {f->flat_l2, f->idmap};
    for (int a = 0; a < 2; a++) {
        vindex_search_params_init(&p);
        p.nprobe = -1;
        EXPECT_ERR(vindex_search(all[a], NQ, f->q, K, &p, dist, lab), VINDEX_ERR_INVALID,
                   "nprobe");
        EXPECT_ERR(vindex_range_search(all[a], NQ, f->q, 1.0f, &p, &res), VINDEX_ERR_INVALID,
                   "nprobe");
        vindex_search_params_init(&p);
        p.ef_search = -16;
        EXPECT_ERR(vindex_search(all[a], NQ, f->q, K, &p, dist, lab), VINDEX_ERR_INVALID,
                   "efSearch");
        EXPECT_ERR(vindex_range_search(all[a], NQ, f->q, 1.0f, &p, &res), VINDEX_ERR_INVALID,
                   "efSearch");
        vindex_search_params_init(&p);
        p.k_factor = -2.0f;
        EXPECT_ERR(vindex_search(all[a], NQ, f->q, K, &p, dist, lab), VINDEX_ERR_INVALID,
                   "k_factor");
        p.k_factor = NAN;
        EXPECT_ERR(vindex_search(all[a], NQ, f->q, K, &p, dist, lab), VINDEX_ERR_INVALID,
                   "k_factor");
        p.k_factor = INFINITY;
        EXPECT_ERR(vindex_search(all[a], NQ, f->q, K, &p, dist, lab), VINDEX_ERR_INVALID,
                   "k_factor");
        /* zeros mean defaults, and parameters a family does not use are ignored */
        vindex_search_params_init(&p);
        assert_int_equal(p.nprobe, 0);
        assert_null(p.sel);
        snapshot plain;
        take(all[a], f->q, &plain);
        p.nprobe = 3;
        p.ef_search = 50;
        p.k_factor = 2.0f;
        EXPECT_OK_CLEAN(vindex_search(all[a], NQ, f->q, K, &p, dist, lab));
        assert_memory_equal(dist, plain.dist, sizeof dist);
        assert_memory_equal(lab, plain.labels, sizeof lab);
    }
}

static void status_strings(void **state)
{
    (void)state;
    for (int s = VINDEX_OK; s <= VINDEX_ERR_NOT_FOUND; s++) {
        const char *msg = vindex_status_string((vindex_status)s);
        assert_non_null(msg);
        assert_true(strlen(msg) > 1);
        for (int t = VINDEX_OK; t < s; t++)
            assert_string_not_equal(msg, vindex_status_string((vindex_status)t));
    }
    assert_non_null(vindex_status_string((vindex_status)99));
    assert_string_equal(vindex_version(), VINDEX_VERSION_STRING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(null_pointers, setup, teardown),
        cmocka_unit_test(bad_dimension),
        cmocka_unit_test_setup_teardown(zero_count_is_a_no_op, setup, teardown),
        cmocka_unit_test_setup_teardown(k_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(k_larger_than_ntotal_pads, setup, teardown),
        cmocka_unit_test_setup_teardown(non_finite_vectors_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(non_finite_queries_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(size_overflow, setup, teardown),
        cmocka_unit_test_setup_teardown(duplicate_ids_refused, setup, teardown),
        cmocka_unit_test(empty_index_search_pads),
        cmocka_unit_test_setup_teardown(reconstruct_missing_id, setup, teardown),
        cmocka_unit_test_setup_teardown(range_radius_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(unsupported_operations, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_search_params, setup, teardown),
        cmocka_unit_test(status_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
