/*
 * IVF1024,Flat on Fashion-MNIST, timed: train + add, then for each nprobe a
 * batch of NQ queries in one call and queries one per call, with recall@10
 * against exact search. Prints one JSON object; bench/ivf_flat_compare.py runs
 * it beside Faiss and computes the ratios.
 *
 *   ivf_flat_bench [--nq 1000] [--nsingle 200] [--repeat 3] [--nlist 1024]
 *                  [--train-repeat 1] [--ids-out FILE]
 * --ids-out writes the batch labels (int64, nprobe-major: 6 x nq x 10) so the
 * driver can score them against Faiss's ground truth. Threads:
 * VINDEX_NUM_THREADS. Build (see BENCHMARKS.md):
 *   cc -O2 -Iinclude -Itools bench/ivf_flat_bench.c tools/dataset.c \
 *      build/libvindex.a -lopenblas -lpthread -lm -lz -o build/ivf_flat_bench
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benchutil.h"
#include "dataset.h"
#include "timing.h"
#include "vindex.h"

#define K 10
static const int NPROBES[] = {1, 2, 4, 8, 16, 32};
#define NNPROBE ((int)(sizeof NPROBES / sizeof NPROBES[0]))

static void check(vindex_status st, const char *what) { bench_check("ivf_flat_bench", st, what); }

static double recall(const vindex_id *got, const vindex_id *truth, size_t nq)
{
    return bench_recall(got, truth, nq, K);
}

int main(int argc, char **argv)
{
    size_t nq = 1000, nsingle = 200, nlist = 1024;
    int repeat = 3, train_repeat = 1;
    const char *ids_out = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--nq"))
            nq = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--nsingle"))
            nsingle = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--repeat"))
            repeat = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--train-repeat"))
            train_repeat = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--nlist"))
            nlist = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--ids-out"))
            ids_out = argv[i + 1];
    }
    if (repeat < 1 || repeat > 100 || train_repeat < 1 || train_repeat > 100) {
        fprintf(stderr, "ivf_flat_bench: --repeat and --train-repeat must be 1..100\n");
        return 1;
    }
    dataset base, queries;
    char err[512];
    if (dataset_fashion_mnist(NULL, &base, &queries, err, sizeof err) != 0) {
        fprintf(stderr, "ivf_flat_bench: %s\n", err);
        return 1;
    }
    if (nq > queries.n)
        nq = queries.n;
    if (nsingle > nq)
        nsingle = nq;
    const int d = base.d;

    /* exact ground truth */
    vindex_id *truth = malloc(nq * K * sizeof *truth);
    float *dis = malloc(nq * K * sizeof *dis);
    vindex_id *ids = malloc(nq * K * sizeof *ids);
    vindex_id *all_ids = malloc((size_t)NNPROBE * nq * K * sizeof *all_ids);
    check(vindex_knn(nq, queries.data, base.n, base.data, d, K, VINDEX_METRIC_L2, dis, truth),
          "knn");

    double train_s[100], add_s[100];
    vindex *ix = NULL;
    for (int r = 0; r < train_repeat; r++) {
        vindex_free(ix);
        vindex *quantizer;
        check(vindex_flat_new(&quantizer, d, VINDEX_METRIC_L2), "flat_new");
        check(vindex_ivf_flat_new(&ix, quantizer, d, nlist, VINDEX_METRIC_L2), "ivf_flat_new");
        double t0 = timing_now();
        check(vindex_train(ix, base.n, base.data), "train");
        double t1 = timing_now();
        check(vindex_add(ix, base.n, base.data), "add");
        double t2 = timing_now();
        train_s[r] = t1 - t0;
        add_s[r] = t2 - t1;
    }
    double imbalance;
    check(vindex_ivf_imbalance_factor(ix, &imbalance), "imbalance");

    printf("{\"engine\": \"vindex %s\", \"simd\": \"%s\", \"threads\": %d, \"nq\": %zu, "
           "\"nsingle\": %zu, \"nlist\": %zu, \"train_s\": %.6f, \"add_s\": %.6f, "
           "\"imbalance\": %.6f, \"runs\": [",
           vindex_version(), vindex_simd_level(), vindex_get_num_threads(), nq, nsingle, nlist,
           timing_median(train_s, train_repeat), timing_median(add_s, train_repeat), imbalance);
    for (int p = 0; p < NNPROBE; p++) {
        vindex_search_params sp;
        vindex_search_params_init(&sp);
        sp.nprobe = NPROBES[p];
        double batch[100], single[100];
        for (int r = 0; r < repeat; r++) {
            double t0 = timing_now();
            check(vindex_search(ix, nq, queries.data, K, &sp, dis, ids), "search");
            batch[r] = timing_now() - t0;
            t0 = timing_now();
            for (size_t i = 0; i < nsingle; i++)
                check(vindex_search(ix, 1, queries.data + i * (size_t)d, K, &sp, dis,
                                    all_ids + (size_t)p * nq * K + i * K),
                      "search");
            single[r] = timing_now() - t0;
        }
        /* single-query results must equal the batch's */
        for (size_t i = 0; i < nsingle * K; i++)
            if (all_ids[(size_t)p * nq * K + i] != ids[i]) {
                fprintf(stderr, "ivf_flat_bench: single and batch results differ (nprobe %d)\n",
                        NPROBES[p]);
                return 1;
            }
        memcpy(all_ids + (size_t)p * nq * K, ids, nq * K * sizeof *ids);
        printf("%s{\"nprobe\": %d, \"batch_s\": %.6f, \"single_s\": %.6f, \"recall\": %.4f}",
               p ? ", " : "", NPROBES[p], timing_median(batch, repeat), timing_median(single, repeat),
               recall(ids, truth, nq));
    }
    printf("]}\n");
    if (ids_out) {
        FILE *f = fopen(ids_out, "wb");
        if (!f || fwrite(all_ids, sizeof *all_ids, (size_t)NNPROBE * nq * K, f) !=
                      (size_t)NNPROBE * nq * K) {
            fprintf(stderr, "ivf_flat_bench: cannot write %s\n", ids_out);
            return 1;
        }
        fclose(f);
    }
    vindex_free(ix);
    free(truth);
    free(dis);
    free(ids);
    free(all_ids);
    free(base.data);
    free(queries.data);
    return 0;
}
