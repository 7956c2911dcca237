/*
 * PQ on Fashion-MNIST, timed: IndexPQ(784, M, nbits) (or IVF<nlist>,PQ<M>x<nbits>
 * with --nlist) train and add, then a batch of NQ queries in one call, with
 * recall@10 against exact search. Prints one JSON object; bench/compare_pq.py
 * runs it beside Faiss and computes the ratios.
 *
 *   pq_bench [--M 16] [--nbits 8] [--nlist 0] [--nprobe 1,8,...] [--nq 1000]
 *            [--repeat 3] [--train-repeat 1] [--ntrain 60000] [--no-search]
 *            [--ids-out FILE]
 * --ids-out writes the batch labels (int64: one nq x 10 block per nprobe, or
 * one block for IndexPQ). Threads: VINDEX_NUM_THREADS. Build:
 *   cc -O2 -Iinclude -Itools bench/pq_bench.c tools/dataset.c \
 *      build/libvindex.a -lopenblas -lpthread -lm -lz -o build/pq_bench
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchutil.h"
#include "dataset.h"
#include "timing.h"
#include "vindex.h"

#define K 10
#define MAXP 16

static void check(vindex_status st, const char *what) { bench_check("pq_bench", st, what); }

static double recall(const vindex_id *got, const vindex_id *truth, size_t nq)
{
    return bench_recall(got, truth, nq, K);
}

int main(int argc, char **argv)
{
    size_t nq = 1000, nlist = 0, ntrain = 0;
    int M = 16, nbits = 8, repeat = 3, train_repeat = 1, search = 1;
    int nprobes[MAXP] = {1}, np = 1;
    const char *ids_out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "0";
        if (!strcmp(a, "--no-search")) {
            search = 0;
            continue;
        }
        i++;
        if (!strcmp(a, "--nq"))
            nq = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--M"))
            M = atoi(v);
        else if (!strcmp(a, "--nbits"))
            nbits = atoi(v);
        else if (!strcmp(a, "--nlist"))
            nlist = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--ntrain"))
            ntrain = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--repeat"))
            repeat = atoi(v);
        else if (!strcmp(a, "--train-repeat"))
            train_repeat = atoi(v);
        else if (!strcmp(a, "--ids-out"))
            ids_out = v;
        else if (!strcmp(a, "--nprobe")) {
            np = 0;
            for (char *s = (char *)v; *s && np < MAXP;) {
                nprobes[np++] = (int)strtol(s, &s, 10);
                if (*s == ',')
                    s++;
            }
        } else {
            fprintf(stderr, "pq_bench: unknown option %s\n", a);
            return 1;
        }
    }
    if (repeat < 1 || repeat > 100 || train_repeat < 1 || train_repeat > 100) {
        fprintf(stderr, "pq_bench: --repeat and --train-repeat must be 1..100\n");
        return 1;
    }
    dataset base, queries;
    char err[512];
    if (dataset_fashion_mnist(NULL, &base, &queries, err, sizeof err) != 0) {
        fprintf(stderr, "pq_bench: %s\n", err);
        return 1;
    }
    if (nq > queries.n)
        nq = queries.n;
    if (ntrain == 0 || ntrain > base.n)
        ntrain = base.n;
    const int d = base.d;
    if (!nlist)
        np = 1;

    vindex_id *truth = malloc(nq * K * sizeof *truth);
    float *dis = malloc(nq * K * sizeof *dis);
    vindex_id *ids = malloc(nq * K * sizeof *ids);
    vindex_id *all_ids = malloc((size_t)np * nq * K * sizeof *all_ids);
    if (search)
        check(vindex_knn(nq, queries.data, base.n, base.data, d, K, VINDEX_METRIC_L2, dis, truth),
              "knn");

    double train_s[100], add_s[100];
    vindex *ix = NULL;
    for (int r = 0; r < train_repeat; r++) {
        vindex_free(ix);
        if (nlist) {
            vindex *quantizer;
            check(vindex_flat_new(&quantizer, d, VINDEX_METRIC_L2), "flat_new");
            check(vindex_ivfpq_new(&ix, quantizer, d, nlist, M, nbits, VINDEX_METRIC_L2),
                  "ivfpq_new");
        } else {
            check(vindex_pq_new(&ix, d, M, nbits, VINDEX_METRIC_L2), "pq_new");
        }
        double t0 = timing_now();
        check(vindex_train(ix, ntrain, base.data), "train");
        double t1 = timing_now();
        if (search)
            check(vindex_add(ix, base.n, base.data), "add");
        double t2 = timing_now();
        train_s[r] = t1 - t0;
        add_s[r] = t2 - t1;
    }
    printf("{\"engine\": \"vindex %s\", \"simd\": \"%s\", \"threads\": %d, \"nq\": %zu, "
           "\"M\": %d, \"nbits\": %d, \"nlist\": %zu, \"ntrain\": %zu, \"train_s\": %.6f, "
           "\"add_s\": %.6f, \"memory_bytes\": %zu, \"runs\": [",
           vindex_version(), vindex_simd_level(), vindex_get_num_threads(), nq, M, nbits, nlist,
           ntrain, timing_median(train_s, train_repeat), timing_median(add_s, train_repeat),
           vindex_memory_bytes(ix));
    for (int p = 0; search && p < np; p++) {
        vindex_search_params sp;
        vindex_search_params_init(&sp);
        sp.nprobe = nprobes[p];
        double batch[100];
        for (int r = 0; r < repeat; r++) {
            double t0 = timing_now();
            check(vindex_search(ix, nq, queries.data, K, &sp, dis, ids), "search");
            batch[r] = timing_now() - t0;
        }
        /* a few single queries must give the batch's results */
        for (size_t i = 0; i < 20 && i < nq; i++) {
            float d1[K];
            vindex_id i1[K];
            check(vindex_search(ix, 1, queries.data + i * (size_t)d, K, &sp, d1, i1), "search");
            if (memcmp(i1, ids + i * K, sizeof i1) || memcmp(d1, dis + i * K, sizeof d1)) {
                fprintf(stderr, "pq_bench: single and batch results differ (query %zu)\n", i);
                return 1;
            }
        }
        memcpy(all_ids + (size_t)p * nq * K, ids, nq * K * sizeof *ids);
        printf("%s{\"nprobe\": %d, \"batch_s\": %.6f, \"recall\": %.4f}", p ? ", " : "",
               nlist ? nprobes[p] : 0, timing_median(batch, repeat), recall(ids, truth, nq));
    }
    printf("]}\n");
    if (ids_out && search) {
        FILE *f = fopen(ids_out, "wb");
        if (!f || fwrite(all_ids, sizeof *all_ids, (size_t)np * nq * K, f) !=
                      (size_t)np * nq * K) {
            fprintf(stderr, "pq_bench: cannot write %s\n", ids_out);
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
