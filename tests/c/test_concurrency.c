/* Concurrency: reader and writer threads on one index of every family, through
 * the public API only (the index's own readers-writer lock must make this safe;
 * include/vindex.h, "Thread safety"). Run under ThreadSanitizer by
 * `make check-tsan`.
 *
 * Phase 1, snapshots: one writer adds a fixed sequence of batches while readers
 * search. Every answer a reader gets must equal, bit for bit, the answer of a
 * serial search on the index as it was after some whole number of batches (a
 * "snapshot", computed beforehand on separately built indexes), and the
 * snapshots a reader sees never go back in time. A half-added vector would give
 * an answer that no snapshot has.
 *
 * Phase 2, mixed writes: writers add, remove, reset, retrain and change
 * parameters while readers search, range-search, reconstruct, read parameters
 * and serialize; every status must be one the operation can legitimately return
 * and every label one that was added. Bounded by iterations and by a deadline,
 * so the test takes about the same time under TSan.
 *
 * A new family is covered by adding it to `families` in families.h. */
#include "families.h"
#include "testutil.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
    D = FAMILY_D,
    NTRAIN = 600,
    BATCH = 24,
    NBATCH = 6,
    NBASE = BATCH * NBATCH,
    NQ = 6,
    K = 5,
    NREADERS = 3,
    NWRITERS = 2,
    ID_OFFSET = 1000, /* ids given by add_with_ids: ID_OFFSET + position */
};

typedef struct answer {
    float dist[NQ * K];
    vindex_id lab[NQ * K];
} answer;

typedef struct fixture {
    float *train, *base, *queries;
    vindex_id ids[NBASE];
} fixture;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->train = tu_clustered_vectors(NTRAIN, D, 8, 11);
    f->base = tu_clustered_vectors(NBASE, D, 8, 12);
    f->queries = tu_clustered_vectors(NQ, D, 8, 13);
    for (size_t i = 0; i < NBASE; i++)
        f->ids[i] = ID_OFFSET + (vindex_id)i;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    free(f->train);
    free(f->base);
    free(f->queries);
    free(f);
    return 0;
}

static vindex *make_trained(const family *fam, const fixture *f)
{
    vindex *ix;
    ASSERT_OK(family_new(fam, &ix));
    ASSERT_OK(vindex_train(ix, NTRAIN, f->train));
    return ix;
}

static vindex_status add_batch(vindex *ix, const family *fam, const fixture *f, size_t b)
{
    const float *x = f->base + b * BATCH * D;
    return fam->with_ids ? vindex_add_with_ids(ix, BATCH, x, f->ids + b * BATCH)
                         : vindex_add(ix, BATCH, x);
}

/* ---- phase 1: answers are always those of a snapshot -------------------- */

typedef struct phase1 {
    const family *fam;
    const fixture *f;
    vindex *ix;
    const answer *snap; /* NBATCH + 1 */
    atomic_bool writer_done;
    atomic_int mismatches, regressions;
    atomic_long searches;
} phase1;

static void *phase1_reader(void *arg)
{
    phase1 *p = arg;
    int last = 0;
    answer a;
    for (bool done = false; !done;) {
        done = atomic_load(&p->writer_done); /* one more search after the writer ends */
        if (vindex_search(p->ix, NQ, p->f->queries, K, NULL, a.dist, a.lab) != VINDEX_OK) {
            atomic_fetch_add(&p->mismatches, 1);
            continue;
        }
        atomic_fetch_add(&p->searches, 1);
        int found = -1;
        for (int s = NBATCH; s >= 0 && found < 0; s--)
            if (!memcmp(a.dist, p->snap[s].dist, sizeof a.dist) &&
                !memcmp(a.lab, p->snap[s].lab, sizeof a.lab))
                found = s;
        if (found < 0)
            atomic_fetch_add(&p->mismatches, 1);
        else if (found < last)
            atomic_fetch_add(&p->regressions, 1);
        else
            last = found;
        if (done && found != NBATCH)
            atomic_fetch_add(&p->mismatches, 1); /* the final state must be the last snapshot */
    }
    return NULL;
}

static void *phase1_writer(void *arg)
{
    phase1 *p = arg;
    for (size_t b = 0; b < NBATCH; b++) {
        ASSERT_OK(add_batch(p->ix, p->fam, p->f, b));
        struct timespec pause = {0, 200000}; /* let readers in between batches */
        nanosleep(&pause, NULL);
    }
    atomic_store(&p->writer_done, true);
    return NULL;
}

static void run_phase1(const family *fam, const fixture *f)
{
    vindex_set_num_threads(fam->one_thread ? 1 : 2);
    /* The snapshots, from serial builds: after s batches, for s = 0..NBATCH. */
    answer *snap = calloc(NBATCH + 1, sizeof *snap);
    vindex *ref = make_trained(fam, f);
    for (size_t s = 0; s <= NBATCH; s++) {
        if (s > 0)
            ASSERT_OK(add_batch(ref, fam, f, s - 1));
        ASSERT_OK(vindex_search(ref, NQ, f->queries, K, NULL, snap[s].dist, snap[s].lab));
    }
    vindex_free(ref);

    phase1 p = {.fam = fam, .f = f, .ix = make_trained(fam, f), .snap = snap};
    pthread_t readers[NREADERS], writer;
    for (int i = 0; i < NREADERS; i++)
        assert_int_equal(pthread_create(&readers[i], NULL, phase1_reader, &p), 0);
    assert_int_equal(pthread_create(&writer, NULL, phase1_writer, &p), 0);
    pthread_join(writer, NULL);
    for (int i = 0; i < NREADERS; i++)
        pthread_join(readers[i], NULL);
    if (atomic_load(&p.mismatches) || atomic_load(&p.regressions))
        fail_msg("%s: %d of %ld concurrent searches matched no snapshot, %d went back in time",
                 fam->spec, atomic_load(&p.mismatches), atomic_load(&p.searches),
                 atomic_load(&p.regressions));
    assert_int_equal(vindex_ntotal(p.ix), NBASE);
    vindex_free(p.ix);
    free(snap);
    vindex_set_num_threads(0);
}

/* ---- phase 2: mixed writes and reads ------------------------------------ */

enum { PHASE2_ITERS = 60 };
static const double PHASE2_SECONDS = 0.5;

typedef struct phase2 {
    const family *fam;
    const fixture *f;
    vindex *ix;
    double deadline;
    atomic_int bad;
    char first_bad[256];
    pthread_mutex_t bad_lock;
} phase2;

static void report(phase2 *p, const char *what, vindex_status st)
{
    if (atomic_fetch_add(&p->bad, 1) == 0) {
        pthread_mutex_lock(&p->bad_lock);
        snprintf(p->first_bad, sizeof p->first_bad, "%s: %s -> %s (%s)", p->fam->spec, what,
                 vindex_status_string(st), vindex_last_error());
        pthread_mutex_unlock(&p->bad_lock);
    }
}

static bool label_ok(const phase2 *p, vindex_id l)
{
    if (l == -1)
        return true;
    return p->fam->with_ids ? l >= ID_OFFSET && l < ID_OFFSET + NBASE : l >= 0 && l < 4 * NBASE;
}

static void *phase2_reader(void *arg)
{
    phase2 *p = arg;
    answer a;
    float rec[D];
    for (int it = 0; it < PHASE2_ITERS && now_s() < p->deadline; it++) {
        vindex_status st = vindex_search(p->ix, NQ, p->f->queries, K, NULL, a.dist, a.lab);
        if (st)
            report(p, "search", st);
        for (size_t i = 0; !st && i < NQ * K; i++)
            if (!label_ok(p, a.lab[i]) || isnan(a.dist[i])) {
                report(p, "search label", VINDEX_ERR_INVALID);
                break;
            }
        vindex_range_result *res = NULL;
        st = vindex_range_search(p->ix, 2, p->f->queries, 0.05f, NULL, &res);
        if (st && st != VINDEX_ERR_UNSUPPORTED)
            report(p, "range_search", st);
        vindex_range_result_free(res);
        st = vindex_reconstruct(p->ix, p->fam->with_ids ? ID_OFFSET : 0, rec);
        if (st && st != VINDEX_ERR_NOT_FOUND && st != VINDEX_ERR_UNSUPPORTED &&
            st != VINDEX_ERR_INVALID)
            report(p, "reconstruct", st);
        double v;
        if (p->fam->param && (st = vindex_get_param(p->ix, p->fam->param, &v)))
            report(p, "get_param", st);
        if (vindex_ntotal(p->ix) < 0 || !vindex_is_trained(p->ix))
            report(p, "ntotal", VINDEX_ERR_INVALID);
        (void)vindex_memory_bytes(p->ix);
        void *buf = NULL;
        size_t len = 0;
        st = vindex_serialize(p->ix, &buf, &len);
        if (st && st != VINDEX_ERR_UNSUPPORTED)
            report(p, "serialize", st);
        vindex_buffer_free(buf);
    }
    return NULL;
}

static void *phase2_writer(void *arg)
{
    phase2 *p = arg;
    uint64_t rng = (uint64_t)(uintptr_t)arg ^ (uint64_t)pthread_self();
    for (int it = 0; it < PHASE2_ITERS && now_s() < p->deadline; it++) {
        vindex_status st = VINDEX_OK;
        const char *op = "";
        switch (tu_rand_next(&rng) % 6) {
        case 0:
        case 1:
            op = "add";
            if (vindex_ntotal(p->ix) < 3 * NBASE) /* else the next add would break label_ok */
                st = add_batch(p->ix, p->fam, p->f, tu_rand_next(&rng) % NBATCH);
            if (st == VINDEX_ERR_INVALID && p->fam->with_ids)
                st = VINDEX_OK; /* the batch's ids are there already */
            break;
        case 2: {
            op = "remove_ids";
            vindex_selector *sel;
            vindex_id lo = (vindex_id)(tu_rand_next(&rng) % NBASE) + (p->fam->with_ids ? ID_OFFSET : 0);
            ASSERT_OK(vindex_selector_range(&sel, lo, lo + 5));
            size_t n;
            st = vindex_remove_ids(p->ix, sel, &n);
            if (st == VINDEX_ERR_UNSUPPORTED)
                st = VINDEX_OK;
            vindex_selector_free(sel);
            break;
        }
        case 3:
            op = "reset";
            st = vindex_reset(p->ix);
            break;
        case 4:
            op = "train";
            st = vindex_train(p->ix, NTRAIN, p->f->train);
            if (st == VINDEX_ERR_INVALID || st == VINDEX_ERR_UNSUPPORTED)
                st = VINDEX_OK; /* some families refuse to retrain a filled index */
            break;
        default:
            op = "set_param";
            if (p->fam->param)
                st = vindex_set_param(p->ix, p->fam->param, (double)(1 + tu_rand_next(&rng) % 8));
            break;
        }
        if (st)
            report(p, op, st);
    }
    return NULL;
}

static void run_phase2(const family *fam, const fixture *f)
{
    vindex_set_num_threads(2);
    phase2 p = {.fam = fam, .f = f, .ix = make_trained(fam, f),
                .deadline = now_s() + PHASE2_SECONDS};
    pthread_mutex_init(&p.bad_lock, NULL);
    ASSERT_OK(add_batch(p.ix, fam, f, 0));
    pthread_t t[NREADERS + NWRITERS];
    for (int i = 0; i < NREADERS + NWRITERS; i++)
        assert_int_equal(
            pthread_create(&t[i], NULL, i < NREADERS ? phase2_reader : phase2_writer, &p), 0);
    for (int i = 0; i < NREADERS + NWRITERS; i++)
        pthread_join(t[i], NULL);
    if (atomic_load(&p.bad))
        fail_msg("%d bad results; first: %s", atomic_load(&p.bad), p.first_bad);
    pthread_mutex_destroy(&p.bad_lock);
    vindex_free(p.ix);
    vindex_set_num_threads(0);
}

static void every_family(void **state)
{
    const fixture *f = *state;
    for (size_t i = 0; i < NFAMILIES; i++) {
        run_phase1(&families[i], f);
        run_phase2(&families[i], f);
    }
}

/* Two threads merging two IVF indexes into each other at once: the pair lock
 * takes the locks in address order, so this finishes. */
static void *merge_into(void *arg)
{
    vindex **pair = arg;
    for (int i = 0; i < 20; i++)
        ASSERT_OK(vindex_ivf_merge_from(pair[0], pair[1], 0));
    return NULL;
}

static void crossed_merges_do_not_deadlock(void **state)
{
    const fixture *f = *state;
    const family fam = {.spec = "IVF8,Flat"};
    vindex *a = make_trained(&fam, f), *b; /* b: a copy, so the same centroids */
    void *buf;
    size_t len;
    ASSERT_OK(vindex_serialize(a, &buf, &len));
    ASSERT_OK(vindex_deserialize(&b, buf, len));
    vindex_buffer_free(buf);
    ASSERT_OK(vindex_add(a, NBASE, f->base));
    ASSERT_OK(vindex_add(b, NBASE, f->base));
    vindex *ab[2] = {a, b}, *ba[2] = {b, a};
    pthread_t t1, t2;
    assert_int_equal(pthread_create(&t1, NULL, merge_into, ab), 0);
    assert_int_equal(pthread_create(&t2, NULL, merge_into, ba), 0);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    assert_int_equal(vindex_ntotal(a) + vindex_ntotal(b), 2 * NBASE);
    vindex_free(a);
    vindex_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_family),
        cmocka_unit_test(crossed_merges_do_not_deadlock),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
