#include "testutil.h"

#include <math.h>
#include <stdlib.h>

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
