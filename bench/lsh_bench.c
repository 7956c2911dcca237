/*
 * IndexLSH on Fashion-MNIST, timed: (train +) add, then a batch of --nq queries
 * in one call and --nsingle queries one per call, with recall@10 against exact
 * search. Prints one JSON object; bench/compare_lsh.py runs it beside Faiss and
 * computes the ratios. --dump-codes FILE writes the codes of the first 1,000
 * base vectors (to compare bits with Faiss's).
 *
 *   lsh_bench [--nbits 1024] [--rotate 1] [--train 0] [--nq 500] [--nsingle 100]
 *             [--repeat 5] [--dump-codes FILE]
 * Threads: VINDEX_NUM_THREADS. Build (see BENCHMARKS.md):
 *   cc -O2 -Iinclude -Itools bench/lsh_bench.c tools/dataset.c build-lsh/libvindex.a \
 *      $(pkg-config --libs openblas) -lz -lpthread -lm -o build-lsh/lsh_bench
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchutil.h"
#include "dataset.h"
#include "timing.h"
#include "vindex.h"

#define K 10

static void check(vindex_status st, const char *what) { bench_check("lsh_bench", st, what); }

static double recall(const vindex_id *got, const vindex_id *truth, size_t nq)
{
    return bench_recall(got, truth, nq, K);
}

int main(int argc, char **argv)
{
    size_t nq = 500, nsingle = 100;
    int repeat = 5, nbits = 1024, rotate = 1, train = 0;
    const char *dump = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--nq"))
            nq = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--nsingle"))
            nsingle = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--repeat"))
            repeat = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--nbits"))
            nbits = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--rotate"))
            rotate = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--train"))
            train = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--dump-codes"))
            dump = argv[i + 1];
    }
    if (repeat < 1 || repeat > 100) {
        fprintf(stderr, "lsh_bench: --repeat 1..100\n");
        return 1;
    }
    dataset base, queries;
    char err[512];
    if (dataset_fashion_mnist(NULL, &base, &queries, err, sizeof err) != 0) {
        fprintf(stderr, "lsh_bench: %s\n", err);
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

    double t0 = timing_now();
    vindex *ix;
    check(vindex_lsh_new(&ix, d, nbits, rotate, train), "lsh_new");
    double t1 = timing_now();
    if (train)
        check(vindex_train(ix, base.n, base.data), "train");
    double t2 = timing_now();
    check(vindex_add(ix, base.n, base.data), "add");
    double t3 = timing_now();
    if (dump) {
        size_t cs = ((size_t)nbits + 7) / 8, nd = base.n < 1000 ? base.n : 1000;
        uint8_t *codes = malloc(nd * cs);
        check(vindex_lsh_encode(ix, nd, base.data, codes), "encode");
        FILE *f = fopen(dump, "wb");
        if (!f || fwrite(codes, cs, nd, f) != nd) {
            fprintf(stderr, "lsh_bench: cannot write %s\n", dump);
            return 1;
        }
        fclose(f);
        free(codes);
    }

    double single[100], batch[100];
    double rs = 0, rb = 0;
    for (int r = 0; r < repeat; r++) {
        double s0 = timing_now();
        check(vindex_search(ix, nq, queries.data, K, NULL, dis, ids), "search");
        batch[r] = timing_now() - s0;
        rb = recall(ids, truth, nq);
        s0 = timing_now();
        for (size_t i = 0; i < nsingle; i++)
            check(vindex_search(ix, 1, queries.data + i * (size_t)d, K, NULL, dis + i * K,
                                ids + i * K),
                  "search");
        single[r] = timing_now() - s0;
        rs = recall(ids, truth, nsingle);
    }
    double ms = timing_median(single, repeat), mb = timing_median(batch, repeat);
    printf("{\"engine\": \"vindex %s\", \"simd\": \"%s\", \"threads\": %d, \"nbits\": %d, "
           "\"rotate\": %d, \"train_thresholds\": %d, \"n\": %zu, \"d\": %d, \"nq\": %zu, "
           "\"nsingle\": %zu, \"init_s\": %.6f, \"train_s\": %.6f, \"add_s\": %.6f, "
           "\"memory_bytes\": %zu, \"single_qps\": %.2f, \"batch_qps\": %.2f, "
           "\"single_recall\": %.4f, \"batch_recall\": %.4f}\n",
           vindex_version(), vindex_simd_level(), vindex_get_num_threads(), nbits, rotate, train,
           base.n, d, nq, nsingle, t1 - t0, t2 - t1, t3 - t2, vindex_memory_bytes(ix),
           (double)nsingle / ms, (double)nq / mb, rs, rb);
    vindex_free(ix);
    free(truth);
    free(dis);
    free(ids);
    free(base.data);
    free(queries.data);
    return 0;
}
