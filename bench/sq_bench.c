/*
 * IndexScalarQuantizer on Fashion-MNIST, timed: train + add, then queries one
 * per call (the first --nsingle test images) and a batch of --nq in one call,
 * with recall@10 against exact search. Prints one JSON object; bench/compare_sq.py
 * runs it beside Faiss and computes the ratios.
 *
 *   sq_bench [--type 8bit|4bit|8bit_uniform|fp16|bf16] [--nq 1000] [--nsingle 300]
 *            [--repeat 5]
 * Threads: VINDEX_NUM_THREADS. Build (see BENCHMARKS.md):
 *   cc -O2 -Iinclude -Itools bench/sq_bench.c tools/dataset.c build-sq/libvindex.a \
 *      $(pkg-config --libs openblas) -lz -lpthread -lm -o build-sq/sq_bench
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchutil.h"
#include "dataset.h"
#include "timing.h"
#include "vindex.h"

#define K 10

static void check(vindex_status st, const char *what) { bench_check("sq_bench", st, what); }

static double recall(const vindex_id *got, const vindex_id *truth, size_t nq)
{
    return bench_recall(got, truth, nq, K);
}

static const struct {
    const char *name;
    vindex_sq_type type;
} TYPES[] = {{"8bit", VINDEX_SQ_8BIT},
             {"4bit", VINDEX_SQ_4BIT},
             {"8bit_uniform", VINDEX_SQ_8BIT_UNIFORM},
             {"fp16", VINDEX_SQ_FP16},
             {"bf16", VINDEX_SQ_BF16}};

int main(int argc, char **argv)
{
    size_t nq = 1000, nsingle = 300;
    int repeat = 5;
    const char *tname = "8bit";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--nq"))
            nq = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--nsingle"))
            nsingle = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--repeat"))
            repeat = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--type"))
            tname = argv[i + 1];
    }
    int ti = -1;
    for (int t = 0; t < (int)(sizeof TYPES / sizeof TYPES[0]); t++)
        if (!strcmp(TYPES[t].name, tname))
            ti = t;
    if (ti < 0 || repeat < 1 || repeat > 100) {
        fprintf(stderr, "sq_bench: --type 8bit|4bit|8bit_uniform|fp16|bf16, --repeat 1..100\n");
        return 1;
    }
    dataset base, queries;
    char err[512];
    if (dataset_fashion_mnist(NULL, &base, &queries, err, sizeof err) != 0) {
        fprintf(stderr, "sq_bench: %s\n", err);
        return 1;
    }
    if (nq > queries.n)
        nq = queries.n;
    if (nsingle > queries.n)
        nsingle = queries.n;
    const int d = base.d;
    size_t nmax = nq > nsingle ? nq : nsingle;
    vindex_id *truth = malloc(nmax * K * sizeof *truth);
    float *dis = malloc(nmax * K * sizeof *dis);
    vindex_id *ids = malloc(nmax * K * sizeof *ids);
    check(vindex_knn(nmax, queries.data, base.n, base.data, d, K, VINDEX_METRIC_L2, dis, truth),
          "knn");

    vindex *ix;
    check(vindex_sq_new(&ix, d, TYPES[ti].type, VINDEX_METRIC_L2), "sq_new");
    double t0 = timing_now();
    check(vindex_train(ix, base.n, base.data), "train");
    double t1 = timing_now();
    check(vindex_add(ix, base.n, base.data), "add");
    double t2 = timing_now();

    double single[100], batch[100];
    double rs = 0, rb = 0;
    for (int r = 0; r < repeat; r++) {
        double s0 = timing_now();
        for (size_t i = 0; i < nsingle; i++)
            check(vindex_search(ix, 1, queries.data + i * (size_t)d, K, NULL, dis + i * K,
                                ids + i * K),
                  "search");
        single[r] = timing_now() - s0;
        rs = recall(ids, truth, nsingle);
        s0 = timing_now();
        check(vindex_search(ix, nq, queries.data, K, NULL, dis, ids), "search");
        batch[r] = timing_now() - s0;
        rb = recall(ids, truth, nq);
    }
    double ms = timing_median(single, repeat), mb = timing_median(batch, repeat);
    printf("{\"engine\": \"vindex %s\", \"simd\": \"%s\", \"threads\": %d, \"type\": \"%s\", "
           "\"n\": %zu, \"d\": %d, \"nq\": %zu, \"nsingle\": %zu, \"train_s\": %.6f, "
           "\"add_s\": %.6f, \"memory_bytes\": %zu, \"single_qps\": %.2f, \"batch_qps\": %.2f, "
           "\"single_recall\": %.4f, \"batch_recall\": %.4f}\n",
           vindex_version(), vindex_simd_level(), vindex_get_num_threads(), tname, base.n, d, nq,
           nsingle, t1 - t0, t2 - t1, vindex_memory_bytes(ix), (double)nsingle / ms,
           (double)nq / mb, rs, rb);
    vindex_free(ix);
    free(truth);
    free(dis);
    free(ids);
    free(base.data);
    free(queries.data);
    return 0;
}
