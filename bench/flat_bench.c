/*
 * Exact search (IndexFlatL2) on Fashion-MNIST, timed: one batch of NQ queries
 * in one call, and queries one per call. Prints one JSON object; the driver
 * bench/compare_flat.py runs it beside Faiss and computes the ratios.
 *
 *   flat_bench [--nq 1000] [--nsingle 300] [--repeat 5] [--k 10]
 * Threads: VINDEX_NUM_THREADS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dataset.h"
#include "timing.h"
#include "vindex.h"

int main(int argc, char **argv)
{
    size_t nq = 1000, nsingle = 300, k = 10;
    int repeat = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--nq"))
            nq = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--nsingle"))
            nsingle = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--repeat"))
            repeat = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--k"))
            k = strtoul(argv[i + 1], NULL, 10);
    }
    if (repeat < 1 || repeat > 100) {
        fprintf(stderr, "flat_bench: --repeat must be 1..100\n");
        return 1;
    }
    dataset base, queries;
    char err[512];
    if (dataset_fashion_mnist(NULL, &base, &queries, err, sizeof err) != 0) {
        fprintf(stderr, "flat_bench: %s\n", err);
        return 1;
    }
    if (nq > queries.n)
        nq = queries.n;
    if (nsingle > queries.n)
        nsingle = queries.n;
    vindex *ix;
    if (vindex_flat_new(&ix, base.d, VINDEX_METRIC_L2) || vindex_add(ix, base.n, base.data)) {
        fprintf(stderr, "flat_bench: %s\n", vindex_last_error());
        return 1;
    }
    float *dist = malloc(nq * k * sizeof *dist);
    vindex_id *ids = malloc(nq * k * sizeof *ids);
    double batch[100], single[100];
    for (int r = 0; r < repeat; r++) {
        double t0 = timing_now();
        if (vindex_search(ix, nq, queries.data, k, NULL, dist, ids)) {
            fprintf(stderr, "flat_bench: %s\n", vindex_last_error());
            return 1;
        }
        batch[r] = timing_now() - t0;
        t0 = timing_now();
        for (size_t i = 0; i < nsingle; i++)
            vindex_search(ix, 1, queries.data + i * (size_t)base.d, k, NULL, dist, ids);
        single[r] = timing_now() - t0;
    }
    /* The first query's ids, so that the driver can check agreement with Faiss. */
    vindex_search(ix, 1, queries.data, k, NULL, dist, ids);
    printf("{\"engine\": \"vindex\", \"threads\": %d, \"simd\": \"%s\", \"nq\": %zu, "
           "\"nsingle\": %zu, \"batch_s\": %.6f, \"single_s\": %.6f, \"first_ids\": [",
           vindex_get_num_threads(), vindex_simd_level(), nq, nsingle, timing_median(batch, repeat),
           timing_median(single, repeat));
    for (size_t j = 0; j < k; j++)
        printf("%s%lld", j ? ", " : "", (long long)ids[j]);
    printf("]}\n");
    vindex_free(ix);
    free(base.data);
    free(queries.data);
    free(dist);
    free(ids);
    return 0;
}
