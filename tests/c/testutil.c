#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bool tu_small(void)
{
    const char *v = getenv("VINDEX_TEST_SMALL");
    return v && *v && strcmp(v, "0") != 0;
}

size_t tu_pick(size_t normal, size_t small) { return tu_small() ? small : normal; }

uint64_t tu_rand_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

float tu_uniform(uint64_t *s) { return (float)(tu_rand_next(s) >> 40) / (float)(1 << 24); }

float *tu_random_vectors(size_t n, int d, uint64_t seed)
{
    float *x = malloc(n * (size_t)d * sizeof *x + 64);
    for (size_t i = 0; i < n * (size_t)d; i++)
        x[i] = tu_uniform(&seed);
    return x;
}

static float gaussian(uint64_t *s)
{
    float u = tu_uniform(s) + 1e-7f, v = tu_uniform(s);
    return sqrtf(-2.0f * logf(u)) * cosf(6.2831853f * v);
}

float *tu_clustered_vectors(size_t n, int d, int nclusters, uint64_t seed)
{
    float *centres = tu_random_vectors((size_t)nclusters, d, seed ^ 0x5555);
    float *x = malloc(n * (size_t)d * sizeof *x + 64);
    for (size_t i = 0; i < n; i++) {
        size_t c = tu_rand_next(&seed) % (uint64_t)nclusters;
        for (int j = 0; j < d; j++)
            x[i * (size_t)d + j] = centres[c * (size_t)d + j] + 0.05f * gaussian(&seed);
    }
    free(centres);
    return x;
}

double tu_distance(const float *a, const float *b, int d, vindex_metric metric)
{
    double s = 0;
    for (int j = 0; j < d; j++)
        s += metric == VINDEX_METRIC_L2 ? ((double)a[j] - b[j]) * ((double)a[j] - b[j])
                                        : (double)a[j] * b[j];
    return s;
}

void tu_reference_knn(const float *q, size_t nq, const float *x, size_t nx, int d, size_t k,
                      vindex_metric metric, float *dist, vindex_id *ids)
{
    double *best = malloc(k * sizeof *best);
    double sign = metric == VINDEX_METRIC_L2 ? 1.0 : -1.0;
    for (size_t i = 0; i < nq; i++) {
        vindex_id *out = ids + i * k;
        for (size_t j = 0; j < k; j++) {
            best[j] = INFINITY;
            out[j] = -1;
        }
        for (size_t p = 0; p < nx; p++) {
            double s = sign * tu_distance(q + i * (size_t)d, x + p * (size_t)d, d, metric);
            if (s < best[k - 1]) { /* strict: an equal later id never displaces */
                size_t j = k - 1;
                while (j > 0 && best[j - 1] > s) {
                    best[j] = best[j - 1];
                    out[j] = out[j - 1];
                    j--;
                }
                best[j] = s;
                out[j] = (vindex_id)p;
            }
        }
        for (size_t j = 0; j < k; j++)
            dist[i * k + j] = (float)(sign * best[j]);
    }
    free(best);
}

static double sq_norm(const float *v, int d)
{
    double s = 0;
    for (int j = 0; j < d; j++)
        s += (double)v[j] * v[j];
    return s;
}

/* The size of the terms that make up a distance between q and y: what its
 * rounding error scales with (the norm expansion on the BLAS path). */
static double term_magnitude(double qn2, const float *y, int d, int l2)
{
    double yn2 = sq_norm(y, d);
    return l2 ? qn2 + yn2 : sqrt(qn2 * yn2);
}

size_t tu_check_knn(const float *q, size_t nq, const float *x, size_t nx, int d, size_t k,
                    vindex_metric metric, const float *dist, const vindex_id *labels,
                    const float *ref_dist, const vindex_id *ref_ids, size_t ref_k, double rtol)
{
    const int l2 = metric == VINDEX_METRIC_L2;
    size_t near_ties = 0;
    for (size_t i = 0; i < nq; i++) {
        const float *qi = q + i * (size_t)d;
        double qn2 = sq_norm(qi, d);
        const float *di = dist + i * k;
        const vindex_id *li = labels + i * k;
        for (size_t r = 0; r < k; r++) {
            if (r >= nx) {
                if (li[r] != -1 || !isinf(di[r]) || (l2 ? di[r] < 0 : di[r] > 0))
                    fail_msg("query %zu rank %zu: expected padding (-1, %sinf), got (%lld, %g)", i,
                             r, l2 ? "+" : "-", (long long)li[r], (double)di[r]);
                continue;
            }
            if (li[r] < 0 || (size_t)li[r] >= nx)
                fail_msg("query %zu rank %zu: label %lld out of range (nx %zu)", i, r,
                         (long long)li[r], nx);
            for (size_t s = 0; s < r; s++)
                if (li[s] == li[r])
                    fail_msg("query %zu: label %lld returned twice", i, (long long)li[r]);
            vindex_id want_id = ref_ids[i * ref_k + r];
            const float *got_y = x + (size_t)li[r] * (size_t)d;
            double mag = term_magnitude(qn2, got_y, d, l2);
            if (want_id != li[r] && want_id >= 0) {
                double m2 = term_magnitude(qn2, x + (size_t)want_id * (size_t)d, d, l2);
                if (m2 > mag)
                    mag = m2;
            }
            double want = ref_dist[i * ref_k + r];
            double tol = rtol * fabs(want) + 1e-5 * mag + 1e-30;
            if (!(fabs(di[r] - want) <= tol))
                fail_msg("query %zu rank %zu: distance %.9g, reference %.9g (tol %.3g)", i, r,
                         (double)di[r], want, tol);
            if (r > 0 && (l2 ? di[r] < di[r - 1] : di[r] > di[r - 1]))
                fail_msg("query %zu: rank %zu (%.9g) is nearer than rank %zu (%.9g)", i, r,
                         (double)di[r], r - 1, (double)di[r - 1]);
            if (li[r] != want_id) {
                double truth = tu_distance(qi, got_y, d, metric);
                if (!(fabs(truth - want) <= tol))
                    fail_msg("query %zu rank %zu: label %lld (true distance %.9g) instead of %lld "
                             "(%.9g), not a near-tie (tol %.3g)",
                             i, r, (long long)li[r], truth, (long long)want_id, want, tol);
                near_ties++;
            }
        }
    }
    return near_ties;
}

double tu_recall(const vindex_id *labels, const vindex_id *ref_ids, size_t nq, size_t k,
                 size_t ref_k)
{
    size_t found = 0, total = 0;
    for (size_t i = 0; i < nq; i++)
        for (size_t r = 0; r < k; r++) {
            vindex_id want = ref_ids[i * ref_k + r];
            if (want < 0)
                continue;
            total++;
            for (size_t j = 0; j < k; j++)
                if (labels[i * k + j] == want) {
                    found++;
                    break;
                }
        }
    return total ? (double)found / (double)total : 1.0;
}
