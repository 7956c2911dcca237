/* Allocation failure: for every family (families.h) and every operation that
 * allocates (train, add, search, range search, read from a buffer, remove_ids), the
 * operation runs with the N-th allocation failing (the vx_alloc_fail_at hook,
 * src/core/alloc.h), for N = 1, 2, ... until it runs without reaching an N-th
 * allocation. Each run that hit the failure must return VINDEX_ERR_NOMEM and
 * leave the index exactly as it was: same ntotal and training state, the same
 * search results, bit for bit. The run that succeeds must give the same
 * results as an index that never saw a failure, so a failed attempt left
 * nothing behind either. */
#include "families.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

enum { D = FAMILY_D, NTRAIN = 300, BATCH = 40, NQ = 4, K = 5, MAX_N = 100000 };

typedef struct data {
    float *train, *base, *queries;
    vindex_id ids[2 * BATCH];
} data;

typedef struct state {
    int64_t ntotal;
    int trained;
    float dist[NQ * K];
    vindex_id lab[NQ * K];
} state;

static int setup(void **st)
{
    data *x = calloc(1, sizeof *x);
    x->train = tu_clustered_vectors(NTRAIN, D, 8, 21);
    x->base = tu_clustered_vectors(2 * BATCH, D, 8, 22);
    x->queries = tu_clustered_vectors(NQ, D, 8, 23);
    for (size_t i = 0; i < 2 * BATCH; i++)
        x->ids[i] = 500 + 3 * (vindex_id)i;
    *st = x;
    vindex_set_num_threads(1); /* a reproducible count of allocations */
    return 0;
}

static int teardown(void **st)
{
    data *x = *st;
    free(x->train);
    free(x->base);
    free(x->queries);
    free(x);
    vindex_set_num_threads(0);
    return 0;
}

static void snapshot(const vindex *ix, const data *x, state *s)
{
    memset(s, 0, sizeof *s);
    s->ntotal = vindex_ntotal(ix);
    s->trained = vindex_is_trained(ix);
    if (s->trained)
        ASSERT_OK(vindex_search(ix, NQ, x->queries, K, NULL, s->dist, s->lab));
}

static void assert_same(const state *a, const state *b, const char *what, const char *spec,
                        long n)
{
    if (a->ntotal != b->ntotal || a->trained != b->trained ||
        memcmp(a->dist, b->dist, sizeof a->dist) || memcmp(a->lab, b->lab, sizeof a->lab))
        fail_msg("%s: %s with allocation %ld failing changed the index (ntotal %lld -> %lld, "
                 "trained %d -> %d%s)",
                 spec, what, n, (long long)a->ntotal, (long long)b->ntotal, a->trained,
                 b->trained,
                 memcmp(a->lab, b->lab, sizeof a->lab) || memcmp(a->dist, b->dist, sizeof a->dist)
                     ? ", search results differ"
                     : "");
}

static vindex *make(const family *fam)
{
    vindex *ix;
    ASSERT_OK(family_new(fam, &ix));
    return ix;
}

static vindex_status add_part(vindex *ix, const family *fam, const data *x, int part)
{
    const float *v = x->base + (size_t)part * BATCH * D;
    return fam->with_ids ? vindex_add_with_ids(ix, BATCH, v, x->ids + part * BATCH)
                         : vindex_add(ix, BATCH, v);
}

/* An operation on ix that may allocate; returns its status. */
typedef vindex_status (*op_fn)(vindex *ix, const family *fam, const data *x, void *out);

/* Runs op with allocation N failing, N = 1, 2, ..., checking each failure as
 * the header says; returns how many allocations the operation makes. */
static long each_failure(vindex *ix, const family *fam, const data *x, const char *what, op_fn op,
                         void *out)
{
    state before, after;
    snapshot(ix, x, &before);
    for (long n = 1; n < MAX_N; n++) {
        vx_alloc_fail_at(n);
        vindex_status st = op(ix, fam, x, out);
        long failed = vx_alloc_failures();
        vx_alloc_fail_at(0);
        if (!failed) {
            if (st != VINDEX_OK)
                fail_msg("%s: %s failed without an allocation failure: %s", fam->spec, what,
                         vindex_last_error());
            return n - 1;
        }
        if (st != VINDEX_ERR_NOMEM)
            fail_msg("%s: %s with allocation %ld failing returned %s (%s), not NOMEM", fam->spec,
                     what, n, vindex_status_string(st), vindex_last_error());
        snapshot(ix, x, &after);
        assert_same(&before, &after, what, fam->spec, n);
    }
    fail_msg("%s: %s never succeeded", fam->spec, what);
    return 0;
}

static vindex_status op_train(vindex *ix, const family *fam, const data *x, void *out)
{
    return vindex_train(ix, NTRAIN, x->train);
}

static vindex_status op_add(vindex *ix, const family *fam, const data *x, void *out)
{
    return add_part(ix, fam, x, 1);
}

static vindex_status op_search(vindex *ix, const family *fam, const data *x, void *out)
{
    state *s = out;
    return vindex_search(ix, NQ, x->queries, K, NULL, s->dist, s->lab);
}

static vindex_status op_range_search(vindex *ix, const family *fam, const data *x, void *out)
{
    vindex_range_result *res = NULL;
    vindex_status st = vindex_range_search(ix, NQ, x->queries, 0.5f, NULL, &res);
    if (st == VINDEX_ERR_UNSUPPORTED)
        st = VINDEX_OK;
    vindex_range_result_free(res);
    return st;
}

static vindex_status op_remove(vindex *ix, const family *fam, const data *x, void *out)
{
    size_t n;
    return vindex_remove_ids(ix, out, &n);
}

typedef struct buffer {
    const void *buf;
    size_t len;
    vindex *read;
} buffer;

static vindex_status op_read(vindex *ix, const family *fam, const data *x, void *out)
{
    buffer *b = out;
    vindex_status st = vindex_deserialize(&b->read, b->buf, b->len);
    if (st && b->read)
        fail_msg("%s: a failed read returned an index", fam->spec);
    return st;
}

static void one_family(const family *fam, const data *x)
{
    /* The reference: the same calls, no failure. */
    vindex *ref = make(fam);
    ASSERT_OK(vindex_train(ref, NTRAIN, x->train));
    ASSERT_OK(add_part(ref, fam, x, 0));
    state ref_half;
    snapshot(ref, x, &ref_half);
    ASSERT_OK(add_part(ref, fam, x, 1));
    state ref_full;
    snapshot(ref, x, &ref_full);

    vindex *ix = make(fam);
    long ntrain = each_failure(ix, fam, x, "train", op_train, NULL);
    ASSERT_OK(add_part(ix, fam, x, 0));
    state s;
    snapshot(ix, x, &s);
    assert_same(&ref_half, &s, "train (then add)", fam->spec, 0);
    long nadd = each_failure(ix, fam, x, "add", op_add, NULL);
    assert_true(nadd > 0); /* every add allocates: else the hook does not reach it */
    snapshot(ix, x, &s);
    assert_same(&ref_full, &s, "add (then search)", fam->spec, 0);
    state out;
    long nsearch = each_failure(ix, fam, x, "search", op_search, &out);
    if (memcmp(out.dist, ref_full.dist, sizeof out.dist) || memcmp(out.lab, ref_full.lab, sizeof out.lab))
        fail_msg("%s: search after failed searches gives other results", fam->spec);
    long nrange = each_failure(ix, fam, x, "range_search", op_range_search, NULL);

    long nread = -1;
    buffer b = {0};
    void *buf;
    if (vindex_serialize(ix, &buf, &b.len) == VINDEX_OK) {
        b.buf = buf;
        nread = each_failure(ix, fam, x, "read", op_read, &b);
        snapshot(b.read, x, &s);
        assert_same(&ref_full, &s, "read (then search)", fam->spec, 0);
        vindex_free(b.read);
        vindex_buffer_free(buf);
    }
    /* remove_ids, where the family has it: ids 10..19 (500.. with ids) */
    long nremove = -1;
    vindex_selector *sel;
    vindex_id lo = fam->with_ids ? x->ids[10] : 10;
    ASSERT_OK(vindex_selector_range(&sel, lo, lo + 30));
    size_t removed;
    vindex_status rst = vindex_remove_ids(ref, sel, &removed);
    if (rst == VINDEX_OK) {
        snapshot(ref, x, &ref_full);
        nremove = each_failure(ix, fam, x, "remove_ids", op_remove, sel);
        snapshot(ix, x, &s);
        assert_same(&ref_full, &s, "remove_ids (then search)", fam->spec, 0);
    } else if (rst != VINDEX_ERR_UNSUPPORTED) {
        fail_msg("%s: remove_ids: %s", fam->spec, vindex_last_error());
    }
    vindex_selector_free(sel);
    printf("%-14s allocations: train %ld, add %ld, search %ld, range_search %ld, read %ld, "
           "remove_ids %ld\n",
           fam->spec, ntrain, nadd, nsearch, nrange, nread, nremove);
    vindex_free(ix);
    vindex_free(ref);
}

static void every_family(void **st)
{
    const data *x = *st;
    for (size_t i = 0; i < NFAMILIES; i++)
        one_family(&families[i], x);
}

/* The hook itself: it fails exactly the n-th allocation, once. */
static void hook_fails_the_nth_allocation(void **st)
{
    vx_alloc_fail_at(2);
    void *a = vx_alloc(1, 8), *b = vx_alloc(1, 8), *c = vx_alloc(1, 8);
    assert_non_null(a);
    assert_null(b);
    assert_non_null(c);
    assert_int_equal(vx_alloc_failures(), 1);
    vx_alloc_fail_at(0);
    vx_free(a);
    vx_free(c);
    vx_alloc_fail_at(1);
    void *big = vx_alloc_big(4u << 20, 1);
    assert_null(big);
    vx_alloc_fail_at(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hook_fails_the_nth_allocation),
        cmocka_unit_test(every_family),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
