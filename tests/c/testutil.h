/* Shared helpers for the C tests: data generators and a reference brute force
 * written independently of the library (plain loops, double precision). */
#ifndef VX_TESTUTIL_H
#define VX_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "vindex.h"

/* Small-data mode, chosen by the environment variable VINDEX_TEST_SMALL (any
 * value but empty or "0"; `make check-valgrind` sets it): the larger tests
 * shrink their data sizes, iteration counts and case lists so that they run in
 * seconds under valgrind, while still reaching every code path they cover
 * (every family, every operation, every error path). Without it every test
 * runs at its full size and strictness. */
bool tu_small(void);
/* `normal`, or `small` in small-data mode. */
size_t tu_pick(size_t normal, size_t small);

/* Deterministic uniform floats in [0, 1). */
uint64_t tu_rand_next(uint64_t *state);
float tu_uniform(uint64_t *state);
float *tu_random_vectors(size_t n, int d, uint64_t seed);
/* n points around `nclusters` random centres (Gaussian, sd 0.05 in a unit cube). */
float *tu_clustered_vectors(size_t n, int d, int nclusters, uint64_t seed);

/* The k nearest by plain loops: ties by smaller id, pads -1 / +-inf. */
void tu_reference_knn(const float *q, size_t nq, const float *x, size_t nx, int d, size_t k,
                      vindex_metric metric, float *dist, vindex_id *ids);

double tu_distance(const float *a, const float *b, int d, vindex_metric metric);

/* Checks a k-NN result whose labels are positions in x (nx vectors) against a
 * reference from tu_reference_knn with ref_k >= k columns (its first k columns
 * are the k-NN). Per rank r of each query: the distance matches the reference
 * within tolerance; the label is the reference's, or (a near-tie) a different
 * valid label whose true distance is within tolerance of the reference's at
 * rank r; labels in a row are distinct; rows are sorted nearest first; ranks
 * past nx are padded with -1 and +inf (L2) / -inf (IP). The tolerance is
 * rtol * |reference distance| plus 1e-5 times the magnitude of the terms
 * (|q|^2 + |y|^2 for L2, |q| |y| for IP, y the returned or the reference
 * neighbour, whichever is larger). Fails the test otherwise;
 * returns the number of accepted near-tie mismatches. */
size_t tu_check_knn(const float *q, size_t nq, const float *x, size_t nx, int d, size_t k,
                    vindex_metric metric, const float *dist, const vindex_id *labels,
                    const float *ref_dist, const vindex_id *ref_ids, size_t ref_k, double rtol);

/* The fraction of the reference's first k ids (rows of ref_k) that appear in
 * the matching rows of labels (rows of k): recall@k. */
double tu_recall(const vindex_id *labels, const vindex_id *ref_ids, size_t nq, size_t k,
                 size_t ref_k);

#define ASSERT_OK(call)                                                                        \
    do {                                                                                       \
        vindex_status st_ = (call);                                                            \
        if (st_ != VINDEX_OK)                                                                  \
            fail_msg("%s failed: %s", #call, vindex_last_error());                             \
    } while (0)

#endif
