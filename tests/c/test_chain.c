/* Locality orders (core/chain.h): the grouping by key lists every (item,
 * key) pair once in increasing item order, keys out of range are ignored,
 * and the order is a permutation that follows shared keys: items that share
 * keys end up next to each other, whatever the input order. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "core/chain.h"

static void group_by_key_lists_every_pair(void **state)
{
    (void)state;
    /* 4 items, 2 keys each, 3 keys; -1 and 7 are no keys */
    const int64_t keys[] = {2, 0, 1, -1, 2, 7, 0, 2};
    size_t start[4];
    uint32_t members[8];
    vx_group_by_key(4, 2, keys, 3, start, members);
    const size_t want_start[] = {0, 2, 3, 6};
    const uint32_t want_members[] = {0, 3, 1, 0, 2, 3};
    assert_memory_equal(start, want_start, sizeof want_start);
    assert_memory_equal(members, want_members, sizeof want_members);
}

static void assert_permutation(const uint32_t *order, size_t n)
{
    uint8_t *seen = calloc(n, 1);
    for (size_t i = 0; i < n; i++) {
        assert_true(order[i] < n);
        assert_false(seen[order[i]]);
        seen[order[i]] = 1;
    }
    free(seen);
}

/* Items come in pairs sharing all their keys, scattered in the input: the
 * chained order puts each pair together; without chaining (max_per_key 0)
 * items are only grouped by first key, stably. */
static void chain_follows_shared_keys(void **state)
{
    (void)state;
    enum { PAIRS = 50, N = 2 * PAIRS, PER = 3, NKEYS = 3 * PAIRS };
    int64_t keys[N * PER];
    size_t pos[N];
    for (size_t i = 0; i < N; i++)
        pos[i] = i;
    uint64_t rng = 5;
    for (size_t i = N - 1; i > 0; i--) { /* item pos[i] gets pair i / 2 */
        size_t j = tu_rand_next(&rng) % (i + 1), t = pos[i];
        pos[i] = pos[j];
        pos[j] = t;
    }
    /* pair p holds keys p, PAIRS + p, 2 PAIRS + p; its first item leads with
     * p, its second with PAIRS + p, so grouping by first key alone would
     * put all first items before all second ones */
    for (size_t i = 0; i < N; i++)
        for (size_t r = 0; r < PER; r++)
            keys[pos[i] * PER + r] = (int64_t)(((i % 2 + r) % PER) * PAIRS + i / 2);
    uint32_t order[N];
    assert_true(vx_chain_order(N, PER, keys, NKEYS, 64, order));
    assert_permutation(order, N);
    for (size_t a = 0; a < N; a += 2)
        assert_int_equal(keys[order[a] * PER] % PAIRS, keys[order[a + 1] * PER] % PAIRS);
    /* grouped only: by first key, ties in input order */
    assert_true(vx_chain_order(N, PER, keys, NKEYS, 0, order));
    assert_permutation(order, N);
    for (size_t a = 1; a < N; a++) {
        assert_true(keys[order[a - 1] * PER] <= keys[order[a] * PER]);
        if (keys[order[a - 1] * PER] == keys[order[a] * PER])
            assert_true(order[a - 1] < order[a]);
    }
    /* no keys at all, or none per item: the input order */
    assert_true(vx_chain_order(N, 0, keys, NKEYS, 64, order));
    for (size_t a = 0; a < N; a++)
        assert_int_equal(order[a], a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(group_by_key_lists_every_pair),
        cmocka_unit_test(chain_follows_shared_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
