/* IndexLSH: Faiss's codes on fixed inputs, recall growing with nbits, trained
 * thresholds, the search against its own codes, thread-count independence,
 * bad input. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Codes that Faiss 1.7.3 gives for the same calls (sa_encode). */
static void codes_match_faiss(void **state)
{
    (void)state;
    vindex *ix;
    uint8_t c[1];
    const float x8[8] = {1, -1, 0, -0.0f, 2, -3, 0.5f, -1};
    ASSERT_OK(vindex_lsh_new(&ix, 8, 8, 0, 0)); /* signs only; 0 and -0 count as >= 0 */
    ASSERT_OK(vindex_lsh_encode(ix, 1, x8, c));
    assert_int_equal(c[0], 93);
    float back[8];
    ASSERT_OK(vindex_add(ix, 1, x8));
    ASSERT_OK(vindex_reconstruct(ix, 0, back)); /* Faiss sa_decode: bits to +-1 */
    const float want[8] = {1, -1, 1, 1, 1, -1, 1, -1};
    assert_memory_equal(back, want, sizeof want);
    vindex_free(ix);

    /* IndexLSH(4, 8, rotate): Faiss's random rotation (seed 5) */
    const float x4[4] = {1, -2, 0, 3};
    ASSERT_OK(vindex_lsh_new(&ix, 4, 8, 1, 0));
    ASSERT_OK(vindex_lsh_encode(ix, 1, x4, c));
    assert_int_equal(c[0], 3);
    vindex_free(ix);
}

static void recall_grows_with_nbits(void **state)
{
    (void)state;
    const int d = 32;
    const size_t nb = 4000, nq = 60, k = 10;
    float *x = tu_clustered_vectors(nb + nq, d, 40, 2024);
    /* center the data so that sign bits split it */
    for (int t = 0; t < d; t++) {
        double m = 0;
        for (size_t i = 0; i < nb + nq; i++)
            m += x[i * d + t];
        m /= (double)(nb + nq);
        for (size_t i = 0; i < nb + nq; i++)
            x[i * d + t] -= (float)m;
    }
    const float *q = x + nb * d;
    float *rd = malloc(nq * k * sizeof *rd), *dis = malloc(nq * k * sizeof *dis);
    vindex_id *ri = malloc(nq * k * sizeof *ri), *ids = malloc(nq * k * sizeof *ids);
    tu_reference_knn(q, nq, x, nb, d, k, VINDEX_METRIC_L2, rd, ri);
    static const int nbits[] = {16, 64, 256};
    double rec[3];
    for (int b = 0; b < 3; b++) {
        vindex *ix;
        ASSERT_OK(vindex_lsh_new(&ix, d, nbits[b], 1, 0));
        assert_true(vindex_is_trained(ix));
        ASSERT_OK(vindex_add(ix, nb, x));
        ASSERT_OK(vindex_search(ix, nq, q, k, NULL, dis, ids));
        rec[b] = tu_recall(ids, ri, nq, k, k);
        /* distances are Hamming counts, sorted, ties by smaller label */
        for (size_t i = 0; i < nq; i++)
            for (size_t r = 0; r < k; r++) {
                float v = dis[i * k + r];
                assert_true(v >= 0 && v <= nbits[b] && v == floorf(v));
                if (r > 0)
                    assert_true(dis[i * k + r - 1] < v ||
                                (dis[i * k + r - 1] == v && ids[i * k + r - 1] < ids[i * k + r]));
            }
        vindex_free(ix);
    }
    print_message("LSH recall@10: 16 bits %.3f, 64 bits %.3f, 256 bits %.3f\n", rec[0], rec[1],
                  rec[2]);
    assert_true(rec[0] < rec[1] && rec[1] < rec[2]);
    assert_true(rec[2] > 0.3 && rec[2] > rec[0] + 0.1); /* random picks within a cluster: 0.1 */
    free(x);
    free(rd);
    free(dis);
    free(ri);
    free(ids);
}

static uint32_t popcount_bytes(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint32_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += (uint32_t)__builtin_popcount((unsigned)(a[i] ^ b[i]));
    return c;
}

/* The search returns the Hamming nearest of the codes encode() gives, with the
 * same answer at every thread count, batched or one query per call. */
static void search_is_hamming_over_codes(void **state)
{
    (void)state;
    const int d = 24, nbits = 100; /* tall rotation, a partial last byte */
    const size_t nb = 3000, nq = 40, k = 7, cs = 13;
    float *x = tu_random_vectors(nb + nq, d, 77);
    for (size_t i = 0; i < (nb + nq) * d; i++)
        x[i] -= 0.5f;
    const float *q = x + nb * d;
    vindex *ix;
    ASSERT_OK(vindex_lsh_new(&ix, d, nbits, 1, 0));
    ASSERT_OK(vindex_add(ix, nb, x));
    uint8_t *cx = malloc(nb * cs), *cq = malloc(nq * cs);
    ASSERT_OK(vindex_lsh_encode(ix, nb, x, cx));
    ASSERT_OK(vindex_lsh_encode(ix, nq, q, cq));
    vindex_binary *bf;
    ASSERT_OK(vindex_binary_flat_new(&bf, 104));
    ASSERT_OK(vindex_binary_add(bf, nb, cx));
    int32_t *bd = malloc(nq * k * sizeof *bd);
    vindex_id *bi = malloc(nq * k * sizeof *bi), *ids = malloc(nq * k * sizeof *ids);
    float *dis = malloc(nq * k * sizeof *dis);
    ASSERT_OK(vindex_binary_search(bf, nq, cq, k, bd, bi));
    for (int nt = 1; nt <= 4; nt += 3) {
        vindex_set_num_threads(nt);
        ASSERT_OK(vindex_search(ix, nq, q, k, NULL, dis, ids));
        for (size_t i = 0; i < nq * k; i++) {
            assert_int_equal(ids[i], bi[i]);
            assert_true(dis[i] == (float)bd[i]);
            assert_true(dis[i] ==
                        (float)popcount_bytes(cq + (i / k) * cs, cx + (size_t)ids[i] * cs, cs));
        }
        for (size_t i = 0; i < nq; i++)
            ASSERT_OK(vindex_search(ix, 1, q + i * d, k, NULL, dis + i * k, ids + i * k));
        for (size_t i = 0; i < nq * k; i++)
            assert_int_equal(ids[i], bi[i]);
    }
    vindex_set_num_threads(0);
    /* adds split across calls and thread counts encode alike */
    vindex *ix2;
    ASSERT_OK(vindex_lsh_new(&ix2, d, nbits, 1, 0));
    vindex_set_num_threads(3);
    ASSERT_OK(vindex_add(ix2, 1000, x));
    vindex_set_num_threads(1);
    ASSERT_OK(vindex_add(ix2, nb - 1000, x + 1000 * d));
    vindex_set_num_threads(0);
    ASSERT_OK(vindex_search(ix2, nq, q, k, NULL, dis, ids));
    for (size_t i = 0; i < nq * k; i++)
        assert_int_equal(ids[i], bi[i]);
    vindex_free(ix2);
    vindex_binary_free(bf);
    vindex_free(ix);
    free(x);
    free(cx);
    free(cq);
    free(bd);
    free(bi);
    free(ids);
    free(dis);
}

static void trained_thresholds_are_medians(void **state)
{
    (void)state;
    const int d = 16, nbits = 32;
    const size_t n = 1000; /* even: the threshold is between the two middle values */
    float *x = tu_random_vectors(n, d, 5);
    for (int rotate = 0; rotate <= 1; rotate++) {
        vindex *ix;
        int nb = rotate ? nbits : d;
        ASSERT_OK(vindex_lsh_new(&ix, d, nb, rotate, 1));
        assert_false(vindex_is_trained(ix));
        float dis[1];
        vindex_id id[1];
        assert_int_equal(vindex_add(ix, 1, x), VINDEX_ERR_NOT_TRAINED);
        assert_int_equal(vindex_search(ix, 1, x, 1, NULL, dis, id), VINDEX_ERR_NOT_TRAINED);
        uint8_t *codes = malloc(n * 4);
        assert_int_equal(vindex_lsh_encode(ix, 1, x, codes), VINDEX_ERR_NOT_TRAINED);
        ASSERT_OK(vindex_train(ix, n, x));
        assert_true(vindex_is_trained(ix));
        ASSERT_OK(vindex_lsh_encode(ix, n, x, codes));
        size_t cs = (size_t)(nb + 7) / 8;
        for (int b = 0; b < nb; b++) { /* exactly half of the training set above each median */
            size_t set = 0;
            for (size_t i = 0; i < n; i++)
                set += (codes[i * cs + (size_t)b / 8] >> (b % 8)) & 1;
            assert_int_equal(set, n / 2);
        }
        double v;
        ASSERT_OK(vindex_get_param(ix, "train_thresholds", &v));
        assert_true(v == 1);
        ASSERT_OK(vindex_get_param(ix, "nbits", &v));
        assert_true(v == nb);
        assert_int_equal(vindex_set_param(ix, "nbits", 8), VINDEX_ERR_INVALID);
        ASSERT_OK(vindex_add(ix, n, x));
        ASSERT_OK(vindex_search(ix, 1, x + 7 * d, 1, NULL, dis, id));
        assert_true(dis[0] == 0);
        free(codes);
        vindex_free(ix);
    }
    free(x);
}

static void remove_reset_reconstruct(void **state)
{
    (void)state;
    const int d = 8;
    float *x = tu_random_vectors(10, d, 9);
    for (int i = 0; i < 10 * d; i++)
        x[i] -= 0.5f;
    vindex *ix;
    ASSERT_OK(vindex_lsh_new(&ix, d, 64, 1, 0));
    ASSERT_OK(vindex_add(ix, 10, x));
    float dis[1], back[8];
    vindex_id id[1];
    vindex_selector *sel;
    ASSERT_OK(vindex_selector_range(&sel, 0, 5));
    size_t removed;
    ASSERT_OK(vindex_remove_ids(ix, sel, &removed));
    assert_int_equal(removed, 5);
    ASSERT_OK(vindex_search(ix, 1, x + 7 * d, 1, NULL, dis, id));
    assert_int_equal(id[0], 2); /* 7 moved down to 2 */
    assert_true(dis[0] == 0);
    /* decoding a 64-bit code of an 8-dim vector points the same way */
    ASSERT_OK(vindex_reconstruct(ix, 2, back));
    double dot = 0, n1 = 0, n2 = 0;
    for (int t = 0; t < d; t++) {
        dot += back[t] * x[7 * d + t];
        n1 += back[t] * back[t];
        n2 += x[7 * d + t] * x[7 * d + t];
    }
    assert_true(dot / sqrt(n1 * n2) > 0.8);
    assert_int_equal(vindex_reconstruct(ix, 5, back), VINDEX_ERR_NOT_FOUND);
    assert_true(vindex_memory_bytes(ix) > 64 * 8 * sizeof(float));
    assert_string_equal(vindex_type_name(ix), "IndexLSH");
    ASSERT_OK(vindex_reset(ix));
    assert_int_equal(vindex_ntotal(ix), 0);
    vindex_selector_free(sel);
    vindex_free(ix);
    free(x);
}

static void bad_input(void **state)
{
    (void)state;
    vindex *ix = (vindex *)1;
    assert_int_equal(vindex_lsh_new(&ix, 16, 0, 1, 0), VINDEX_ERR_INVALID);
    assert_null(ix);
    assert_int_equal(vindex_lsh_new(&ix, 16, -3, 1, 0), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_lsh_new(&ix, 16, 32, 0, 0), VINDEX_ERR_INVALID); /* nbits > d */
    assert_int_equal(vindex_lsh_new(&ix, 0, 8, 1, 0), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_lsh_new(NULL, 16, 8, 1, 0), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_lsh_new(&ix, 16, 1 << 30, 1, 0), VINDEX_ERR_INVALID);
    vindex *flat;
    ASSERT_OK(vindex_flat_new(&flat, 4, VINDEX_METRIC_L2));
    float x[4] = {1, 2, 3, 4};
    uint8_t c[1];
    assert_int_equal(vindex_lsh_encode(flat, 1, x, c), VINDEX_ERR_INVALID); /* not an LSH */
    vindex_free(flat);
    ASSERT_OK(vindex_lsh_new(&ix, 4, 8, 1, 0));
    assert_int_equal(vindex_lsh_encode(ix, 1, x, NULL), VINDEX_ERR_INVALID);
    x[2] = NAN;
    assert_int_equal(vindex_add(ix, 1, x), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_lsh_encode(ix, 1, x, c), VINDEX_ERR_INVALID);
    assert_int_equal(vindex_ntotal(ix), 0);
    vindex_free(ix);
    ASSERT_OK(vindex_lsh_new(&ix, 4, 4, 0, 1));
    assert_int_equal(vindex_train(ix, 0, x), VINDEX_ERR_INVALID); /* no training vectors */
    assert_false(vindex_is_trained(ix));
    vindex_free(ix);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(codes_match_faiss),
        cmocka_unit_test(recall_grows_with_nbits),
        cmocka_unit_test(search_is_hamming_over_codes),
        cmocka_unit_test(trained_thresholds_are_medians),
        cmocka_unit_test(remove_reset_reconstruct),
        cmocka_unit_test(bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
