/* Top-k heaps: order, tie-breaking by smaller id, padding, merging. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>

#include "core/topk.h"

static void sorted_with_ties_by_id(void **state)
{
    (void)state;
    float s[4];
    vindex_id ids[4];
    vx_heap_init(s, ids, 4);
    const float in_s[] = {3, 1, 2, 1, 5, 0.5f, 2};
    const vindex_id in_id[] = {10, 7, 4, 3, 1, 9, 2};
    for (int i = 0; i < 7; i++)
        vx_heap_push(s, ids, 4, in_s[i], in_id[i]);
    vx_topk_finish(s, ids, 4, VINDEX_METRIC_L2);
    const float want_s[] = {0.5f, 1, 1, 2};
    const vindex_id want_id[] = {9, 3, 7, 2};
    for (int i = 0; i < 4; i++) {
        assert_true(s[i] == want_s[i]);
        assert_int_equal(ids[i], want_id[i]);
    }
}

static void pads_when_short(void **state)
{
    (void)state;
    float s[5];
    vindex_id ids[5];
    vx_heap_init(s, ids, 5);
    vx_heap_push(s, ids, 5, -2.0f, 4); /* IP score of inner product 2 */
    vx_heap_push(s, ids, 5, -3.0f, 8);
    vx_topk_finish(s, ids, 5, VINDEX_METRIC_INNER_PRODUCT);
    assert_true(s[0] == 3.0f && ids[0] == 8);
    assert_true(s[1] == 2.0f && ids[1] == 4);
    for (int i = 2; i < 5; i++) {
        assert_int_equal(ids[i], -1);
        assert_true(isinf(s[i]) && s[i] < 0);
    }
}

static void split_and_merge_match_one_heap(void **state)
{
    (void)state;
    enum { N = 5000, K = 17 };
    uint64_t seed = 42;
    float *scores = malloc(N * sizeof *scores);
    for (int i = 0; i < N; i++)
        scores[i] = (float)(tu_rand_next(&seed) % 300); /* many ties */
    float one_s[K], a_s[K], b_s[K];
    vindex_id one_i[K], a_i[K], b_i[K];
    vx_heap_init(one_s, one_i, K);
    for (int i = N - 1; i >= 0; i--) /* reverse order on purpose */
        vx_heap_push(one_s, one_i, K, scores[i], i);
    vx_heap_init(a_s, a_i, K);
    vx_heap_init(b_s, b_i, K);
    for (int i = 0; i < N / 3; i++)
        vx_heap_push(a_s, a_i, K, scores[i], i);
    for (int i = N / 3; i < N; i++)
        vx_heap_push(b_s, b_i, K, scores[i], i);
    vx_heap_merge(a_s, a_i, K, b_s, b_i);
    vx_topk_finish(one_s, one_i, K, VINDEX_METRIC_L2);
    vx_topk_finish(a_s, a_i, K, VINDEX_METRIC_L2);
    for (int i = 0; i < K; i++) {
        assert_true(one_s[i] == a_s[i]);
        assert_int_equal(one_i[i], a_i[i]);
        if (i > 0)
            assert_true(one_s[i - 1] < one_s[i] ||
                        (one_s[i - 1] == one_s[i] && one_i[i - 1] < one_i[i]));
    }
    free(scores);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sorted_with_ties_by_id),
        cmocka_unit_test(pads_when_short),
        cmocka_unit_test(split_and_merge_match_one_heap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
