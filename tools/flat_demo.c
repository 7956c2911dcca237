/*
 * The main job, for now: exact search on Fashion-MNIST (60,000 base vectors,
 * 10,000 queries, 784 dimensions), printing memory, query time and recall.
 * Recall is measured against an independent double-precision brute force on a
 * sample of the queries, so it checks the library rather than restating it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dataset.h"
#include "timing.h"
#include "vindex.h"

/* The k nearest of one query, by plain double-precision loops. */
static void reference_knn(const float *q, const dataset *base, int k, vindex_id *out)
{
    double *best = malloc((size_t)k * sizeof *best);
    for (int j = 0; j < k; j++) {
        best[j] = INFINITY;
        out[j] = -1;
    }
    for (size_t i = 0; i < base->n; i++) {
        double s = 0;
        const float *x = base->data + i * (size_t)base->d;
        for (int t = 0; t < base->d; t++)
            s += ((double)q[t] - x[t]) * ((double)q[t] - x[t]);
        if (s < best[k - 1]) {
            int j = k - 1;
            while (j > 0 && best[j - 1] > s) {
                best[j] = best[j - 1];
                out[j] = out[j - 1];
                j--;
            }
            best[j] = s;
            out[j] = (vindex_id)i;
        }
    }
    free(best);
}

static double recall_at(const vindex_id *got, const vindex_id *truth, size_t nq, int k, int at)
{
    size_t hits = 0;
    for (size_t i = 0; i < nq; i++)
        for (int a = 0; a < at; a++)
            for (int b = 0; b < at; b++)
                if (got[i * (size_t)k + a] == truth[i * (size_t)k + b]) {
                    hits++;
                    break;
                }
    return (double)hits / (double)(nq * (size_t)at);
}

#define CHECK(call)                                                                            \
    do {                                                                                       \
        if ((call) != VINDEX_OK) {                                                             \
            fprintf(stderr, "vindex: %s\n", vindex_last_error());                              \
            return 1;                                                                          \
        }                                                                                      \
    } while (0)

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : NULL;
    dataset base, queries;
    char err[512];
    if (dataset_fashion_mnist(dir, &base, &queries, err, sizeof err) != 0) {
        fprintf(stderr, "vindex: %s (install Debian's dataset-fashion-mnist)\n", err);
        return 1;
    }
    const int k = 10;
    printf("vindex %s, SIMD %s, %d threads\n", vindex_version(), vindex_simd_level(),
           vindex_get_num_threads());
    printf("Fashion-MNIST: %zu base vectors, %zu queries, d = %d, k = %d\n\n", base.n, queries.n,
           base.d, k);

    vindex *ix;
    CHECK(vindex_flat_new(&ix, base.d, VINDEX_METRIC_L2));
    double t0 = timing_now();
    CHECK(vindex_add(ix, base.n, base.data));
    double build_s = timing_now() - t0;

    size_t nq = queries.n;
    float *dist = malloc(nq * k * sizeof *dist);
    vindex_id *ids = malloc(nq * k * sizeof *ids);
    t0 = timing_now();
    CHECK(vindex_search(ix, nq, queries.data, k, NULL, dist, ids));
    double batch_s = timing_now() - t0;

    size_t nsingle = 500;
    float *d1 = malloc(nsingle * k * sizeof *d1);
    vindex_id *i1 = malloc(nsingle * k * sizeof *i1);
    t0 = timing_now();
    for (size_t i = 0; i < nsingle; i++)
        CHECK(vindex_search(ix, 1, queries.data + i * (size_t)base.d, k, NULL, d1 + i * k,
                            i1 + i * k));
    double single_s = timing_now() - t0;

    size_t ncheck = 100;
    vindex_id *truth = malloc(ncheck * k * sizeof *truth);
    for (size_t i = 0; i < ncheck; i++)
        reference_knn(queries.data + i * (size_t)base.d, &base, k, truth + i * k);

    double *lat = malloc(nsingle * sizeof *lat);
    for (size_t i = 0; i < nsingle; i++) {
        double s = timing_now();
        CHECK(vindex_search(ix, 1, queries.data + i * (size_t)base.d, k, NULL, d1, i1));
        lat[i] = timing_now() - s;
    }
    qsort(lat, nsingle, sizeof *lat, timing_cmp_double);

    printf("| Index | Memory (MB) | Build (s) | QPS, %zu queries in one call | QPS, one query per call "
           "| p50 latency (ms) | Recall@1 | Recall@10 |\n",
           nq);
    printf("|---|---|---|---|---|---|---|---|\n");
    printf("| IndexFlatL2 | %.1f | %.3f | %.0f | %.1f | %.2f | %.3f | %.3f |\n",
           (double)vindex_memory_bytes(ix) / 1e6, build_s, (double)nq / batch_s,
           (double)nsingle / single_s, 1e3 * lat[nsingle / 2], recall_at(ids, truth, ncheck, k, 1),
           recall_at(ids, truth, ncheck, k, 10));
    printf("\nRecall is against a double-precision brute force over the first %zu queries.\n",
           ncheck);

    vindex_free(ix);
    free(base.data);
    free(queries.data);
    free(dist);
    free(ids);
    free(d1);
    free(i1);
    free(truth);
    free(lat);
    return 0;
}
