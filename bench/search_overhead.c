/*
 * The fixed cost of one search call, from C: a 1-vector k-NN search on a small
 * IndexFlatL2 (d=64, 1000 vectors by default), so that the call's fixed cost
 * is a visible part of the time. bench/python_overhead.py runs this beside the
 * same search through Python and reports the difference.
 *
 *   search_overhead [--d 64] [--n 1000] [--k 10] [--batches 200] [--per-batch 200]
 *
 * Each batch times `per-batch` consecutive calls (one clock read per batch, so
 * the clock's own cost stays out); the output is the median over batches of
 * the time per call, in nanoseconds, as one JSON object.
 * Build: cc -O2 -Iinclude bench/search_overhead.c -Lbuild -lvindex -Wl,-rpath,build
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vindex.h"

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e9 * (double)ts.tv_sec + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int arg(int argc, char **argv, const char *name, int dflt)
{
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], name))
            return atoi(argv[i + 1]);
    return dflt;
}

int main(int argc, char **argv)
{
    int d = arg(argc, argv, "--d", 64), n = arg(argc, argv, "--n", 1000);
    int k = arg(argc, argv, "--k", 10), batches = arg(argc, argv, "--batches", 200);
    int per = arg(argc, argv, "--per-batch", 200);
    float *xb = malloc((size_t)n * d * sizeof *xb), *q = malloc((size_t)d * sizeof *q);
    float *dist = malloc((size_t)k * sizeof *dist);
    vindex_id *lab = malloc((size_t)k * sizeof *lab);
    double *t = malloc((size_t)batches * sizeof *t);
    if (!xb || !q || !dist || !lab || !t)
        return 1;
    unsigned long long s = 12345;
    for (size_t i = 0; i < (size_t)n * d; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        xb[i] = (float)(s >> 40) / (float)(1 << 24);
    }
    memcpy(q, xb + (size_t)(n / 2) * d, (size_t)d * sizeof *q);
    vindex *ix;
    if (vindex_flat_new(&ix, d, VINDEX_METRIC_L2) || vindex_add(ix, (size_t)n, xb)) {
        fprintf(stderr, "search_overhead: %s\n", vindex_last_error());
        return 1;
    }
    for (int i = 0; i < per; i++) /* warm up */
        vindex_search(ix, 1, q, (size_t)k, NULL, dist, lab);
    for (int b = 0; b < batches; b++) {
        double t0 = now_ns();
        for (int i = 0; i < per; i++)
            if (vindex_search(ix, 1, q, (size_t)k, NULL, dist, lab)) {
                fprintf(stderr, "search_overhead: %s\n", vindex_last_error());
                return 1;
            }
        t[b] = (now_ns() - t0) / per;
    }
    qsort(t, (size_t)batches, sizeof *t, cmp_double);
    printf("{\"d\": %d, \"n\": %d, \"k\": %d, \"threads\": %d, \"simd\": \"%s\", "
           "\"median_ns\": %.1f, \"min_ns\": %.1f, \"label0\": %lld}\n",
           d, n, k, vindex_get_num_threads(), vindex_simd_level(), t[batches / 2], t[0],
           (long long)lab[0]);
    vindex_free(ix);
    free(xb);
    free(q);
    free(dist);
    free(lab);
    free(t);
    return 0;
}
