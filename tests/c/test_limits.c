/* Limits: the bounds on k, nprobe, efSearch and k_factor, and the cap on the
 * memory a read may allocate (vindex_set_read_limit). */
#include "testutil.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { D = 16, N = 1000, NQ = 5, K = 10 };

static void k_is_bounded(void **state)
{
    (void)state;
    vindex *ix;
    ASSERT_OK(vindex_flat_new(&ix, D, VINDEX_METRIC_L2));
    float q[D] = {0}, dist[1];
    vindex_id lab[1];
    /* refused before anything is written: the buffers are too small on purpose */
    assert_int_equal(vindex_search(ix, 1, q, VINDEX_MAX_K + 1, NULL, dist, lab),
                     VINDEX_ERR_INVALID);
    assert_non_null(strstr(vindex_last_error(), "VINDEX_MAX_K"));
    assert_int_equal(vindex_search(ix, 1, q, 0, NULL, dist, lab), VINDEX_ERR_INVALID);
    vindex_free(ix);
}

/* nprobe and efSearch beyond what the index has mean all of it: the same
 * answers as the largest meaningful value, never an error or a huge buffer. */
static void huge_search_parameters_mean_everything(void **state)
{
    (void)state;
    float *x = tu_clustered_vectors(N, D, 8, 5), *q = tu_clustered_vectors(NQ, D, 8, 6);
    const char *specs[] = {"IVF8,Flat", "HNSW8", "PQ4x4,RFlat"};
    for (int s = 0; s < 3; s++) {
        vindex *ix;
        ASSERT_OK(vindex_factory(&ix, D, specs[s], VINDEX_METRIC_L2));
        ASSERT_OK(vindex_train(ix, N, x));
        ASSERT_OK(vindex_add(ix, N, x));
        vindex_search_params big, enough;
        vindex_search_params_init(&big);
        vindex_search_params_init(&enough);
        big.nprobe = INT32_MAX;
        big.ef_search = INT32_MAX;
        big.k_factor = 1e30f;
        enough.nprobe = 8;
        enough.ef_search = N;
        enough.k_factor = (float)N / K;
        float d1[NQ * K], d2[NQ * K];
        vindex_id l1[NQ * K], l2[NQ * K];
        ASSERT_OK(vindex_search(ix, NQ, q, K, &big, d1, l1));
        ASSERT_OK(vindex_search(ix, NQ, q, K, &enough, d2, l2));
        assert_memory_equal(l1, l2, sizeof l1);
        assert_memory_equal(d1, d2, sizeof d1);
        big.nprobe = -1;
        assert_int_equal(vindex_search(ix, NQ, q, K, &big, d1, l1), VINDEX_ERR_INVALID);
        assert_non_null(strstr(vindex_last_error(), "nprobe"));
        vindex_free(ix);
    }
    free(x);
    free(q);
}

static void read_limit(void **state)
{
    (void)state;
    float *x = tu_random_vectors(N, D, 7);
    vindex *ix, *back;
    ASSERT_OK(vindex_flat_new(&ix, D, VINDEX_METRIC_L2));
    ASSERT_OK(vindex_add(ix, N, x));
    void *buf;
    size_t len;
    ASSERT_OK(vindex_serialize(ix, &buf, &len));
    assert_int_equal(vindex_get_read_limit(), 0);

    vindex_set_read_limit(len / 4); /* less than the vectors alone */
    assert_int_equal(vindex_get_read_limit(), len / 4);
    back = (vindex *)1;
    assert_int_equal(vindex_deserialize(&back, buf, len), VINDEX_ERR_NOMEM);
    assert_null(back);
    assert_non_null(strstr(vindex_last_error(), "read limit"));

    vindex_set_read_limit(4 * len + (1 << 20)); /* enough */
    ASSERT_OK(vindex_deserialize(&back, buf, len));
    assert_int_equal(vindex_ntotal(back), N);
    vindex_free(back);

    /* only reads count: with the limit on, an add of more is fine */
    vindex_set_read_limit(1024);
    ASSERT_OK(vindex_add(ix, N, x));
    vindex_set_read_limit(0);
    ASSERT_OK(vindex_deserialize(&back, buf, len));
    vindex_free(back);
    vindex_buffer_free(buf);
    vindex_free(ix);
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(k_is_bounded),
        cmocka_unit_test(huge_search_parameters_mean_everything),
        cmocka_unit_test(read_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
