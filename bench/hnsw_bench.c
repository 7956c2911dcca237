/*
 * IndexHNSWFlat on Fashion-MNIST: build time, then for each efSearch the
 * throughput of one query per call and recall@k against exact search. Prints
 * one JSON object; bench/compare_hnsw.py runs it beside hnswlib.
 *
 *   hnsw_bench [--M 16] [--efc 200] [--nq 1000] [--k 10] [--repeat 3]
 *              [--ef 10,16,24,32,48,64,96,128,192,256] [--gt FILE] [--sq8 1] [--fp16 1]
 * --sq8 1: IndexHNSWSQ (8-bit codes, trained on the base) instead of IndexHNSWFlat;
 * --fp16 1: IndexHNSWSQ with half floats.
 * --gt: exact neighbours, nq x k int64 (bench/compare_hnsw.py writes it); by
 * default they come from IndexFlatL2.
 * Threads: VINDEX_NUM_THREADS (the build uses them; searches are one per call).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dataset.h"
#include "vindex.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Resident set size, from /proc/self/statm. */
static long rss_bytes(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * sysconf(_SC_PAGESIZE);
}

static int die(const char *what)
{
    fprintf(stderr, "hnsw_bench: %s: %s\n", what, vindex_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    int M = 16, efc = 200, repeat = 3;
    size_t nq = 1000, k = 10;
    char efs_arg[256] = "10,16,24,32,48,64,96,128,192,256";
    const char *gt_path = NULL;
    int sq8 = 0, fp16 = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--M"))
            M = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--efc"))
            efc = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--nq"))
            nq = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--k"))
            k = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--repeat"))
            repeat = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--sq8"))
            sq8 = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--fp16"))
            fp16 = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--gt"))
            gt_path = argv[i + 1];
        else if (!strcmp(argv[i], "--ef"))
            snprintf(efs_arg, sizeof efs_arg, "%s", argv[i + 1]);
    }
    if (repeat < 1 || repeat > 50 || k < 1 || k > 1000)
        return fprintf(stderr, "hnsw_bench: bad --repeat or --k\n"), 1;
    dataset base, queries;
    char err[512];
    if (dataset_fashion_mnist(NULL, &base, &queries, err, sizeof err) != 0) {
        fprintf(stderr, "hnsw_bench: %s\n", err);
        return 1;
    }
    if (nq > queries.n)
        nq = queries.n;
    int d = base.d;

    /* exact ground truth */
    vindex *flat;
    vindex_id *gt = malloc(nq * k * sizeof *gt);
    float *gd = malloc(nq * k * sizeof *gd);
    if (gt_path) {
        FILE *f = fopen(gt_path, "rb");
        if (!f || fread(gt, sizeof *gt, nq * k, f) != nq * k)
            return fprintf(stderr, "hnsw_bench: cannot read %zu x %zu ids from %s\n", nq, k,
                           gt_path), 1;
        fclose(f);
    } else {
        if (vindex_flat_new(&flat, d, VINDEX_METRIC_L2) || vindex_add(flat, base.n, base.data) ||
            vindex_search(flat, nq, queries.data, k, NULL, gd, gt))
            return die("ground truth");
        vindex_free(flat);
    }

    vindex *ix;
    if ((sq8    ? vindex_hnsw_sq8_new(&ix, d, M, VINDEX_METRIC_L2)
         : fp16 ? vindex_hnsw_fp16_new(&ix, d, M, VINDEX_METRIC_L2)
                : vindex_hnsw_flat_new(&ix, d, M, VINDEX_METRIC_L2)) ||
        vindex_set_param(ix, "efConstruction", efc))
        return die("new");
    long rss0 = rss_bytes();
    double t0 = now();
    if ((sq8 && vindex_train(ix, base.n, base.data)) || vindex_add(ix, base.n, base.data))
        return die("add");
    double build_s = now() - t0;
    long rss_growth = rss_bytes() - rss0;
    char report[256];
    if (vindex_hnsw_validate(ix, NULL, report, sizeof report))
        return die("validate");

    printf("{\"engine\": \"vindex %s%s\", \"simd\": \"%s\", \"threads\": %d, \"M\": %d, "
           "\"efConstruction\": %d, \"n\": %zu, \"d\": %d, \"nq\": %zu, \"k\": %zu, "
           "\"build_s\": %.4f, \"rss_growth_bytes\": %ld, \"memory_bytes\": %zu, \"graph\": \"%s\", \"sweep\": [",
           vindex_type_name(ix), sq8 ? " SQ8" : fp16 ? " fp16" : "", vindex_simd_level(), vindex_get_num_threads(), M, efc, base.n, d, nq, k, build_s, rss_growth,
           vindex_memory_bytes(ix), report);
    float *dist = malloc(k * sizeof *dist);
    vindex_id *lab = malloc(nq * k * sizeof *lab);
    int first = 1;
    for (char *tok = strtok(efs_arg, ","); tok; tok = strtok(NULL, ",")) {
        int ef = atoi(tok);
        vindex_search_params p;
        vindex_search_params_init(&p);
        p.ef_search = ef;
        double times[50];
        for (int r = 0; r < repeat; r++) {
            t0 = now();
            for (size_t i = 0; i < nq; i++)
                if (vindex_search(ix, 1, queries.data + i * (size_t)d, k, &p, dist, lab + i * k))
                    return die("search");
            times[r] = now() - t0;
        }
        qsort(times, (size_t)repeat, sizeof *times, cmp_double);
        double med = repeat % 2 ? times[repeat / 2]
                                : 0.5 * (times[repeat / 2 - 1] + times[repeat / 2]);
        size_t hit = 0;
        for (size_t i = 0; i < nq; i++)
            for (size_t a = 0; a < k; a++)
                for (size_t b = 0; b < k; b++)
                    if (lab[i * k + b] == gt[i * k + a]) {
                        hit++;
                        break;
                    }
        printf("%s{\"ef\": %d, \"qps\": %.1f, \"recall\": %.4f}", first ? "" : ", ", ef,
               (double)nq / med, (double)hit / (double)(nq * k));
        first = 0;
        fflush(stdout);
    }
    printf("]}\n");
    vindex_free(ix);
    free(dist);
    free(lab);
    free(gt);
    free(gd);
    free(base.data);
    free(queries.data);
    return 0;
}
