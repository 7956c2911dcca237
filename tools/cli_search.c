/* vindex search INDEX QUERIES -k K [--nprobe N] [--ef N] [--json] [--ids-out FILE] */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "formats.h"

static const char USAGE[] =
    "usage: vindex search INDEX QUERIES -k K [--nprobe N] [--ef N] [--json]\n"
    "                     [--ids-out FILE]\n"
    "  The K nearest indexed vectors of every query in QUERIES (any vector file),\n"
    "  nearest first. Prints one line per query: \"i: id (distance), ...\", or with\n"
    "  --json one object per line: {\"query\": i, \"ids\": [...], \"distances\": [...]}\n"
    "  (a missing result, when the index holds fewer than K, is id -1 and distance\n"
    "  null). --nprobe (IVF) and --ef (HNSW efSearch) apply to this search only;\n"
    "  an index that does not use one ignores it. --ids-out FILE also writes the\n"
    "  ids as an int32 matrix (.ivecs, .ibin, .npy), one row per query.\n";

int cmd_search(int argc, char **argv)
{
    const char *index_path = NULL, *qpath = NULL, *ids_out = NULL, *v;
    long k = -1, nprobe = 0, ef = 0;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        int r;
        const char *a = argv[i];
        if (cli_flag(a, "--help") || cli_flag(a, "-h")) {
            fputs(USAGE, stdout);
            return 0;
        }
        if (cli_flag(a, "--json")) {
            json = 1;
        } else if ((r = cli_opt(argc, argv, &i, "-k", &v)) != 0) {
            if (r < 0 || cli_parse_long("-k", v, 1, 1 << 20, &k) != 0)
                return 2;
        } else if ((r = cli_opt(argc, argv, &i, "--nprobe", &v)) != 0) {
            if (r < 0 || cli_parse_long("--nprobe", v, 1, 1 << 30, &nprobe) != 0)
                return 2;
        } else if ((r = cli_opt(argc, argv, &i, "--ef", &v)) != 0 ||
                   (r = cli_opt(argc, argv, &i, "--efSearch", &v)) != 0) {
            if (r < 0 || cli_parse_long("--ef", v, 1, 1 << 30, &ef) != 0)
                return 2;
        } else if ((r = cli_opt(argc, argv, &i, "--ids-out", &v)) != 0) {
            if (r < 0)
                return 2;
            ids_out = v;
        } else if (a[0] == '-' && a[1]) {
            cli_error("unknown option %s", a);
            return 2;
        } else if (!index_path) {
            index_path = a;
        } else if (!qpath) {
            qpath = a;
        } else {
            cli_error("unexpected argument %s (INDEX QUERIES)", a);
            return 2;
        }
    }
    if (!index_path || !qpath) {
        cli_error("needs an INDEX and a QUERIES file");
        return 2;
    }
    if (k < 0) {
        cli_error("needs -k K (the number of neighbours, at least 1)");
        return 2;
    }
    if (ids_out && format_fixed_elem(format_from_path(ids_out)) != ELEM_I32 &&
        format_from_path(ids_out) != FMT_NPY) {
        cli_error("%s: --ids-out needs an int32 format (.ivecs, .ibin or .npy)", ids_out);
        return 1;
    }

    vindex *ix = NULL;
    if (vindex_read(&ix, index_path, VINDEX_IO_MMAP) != VINDEX_OK) {
        cli_error("%s", vindex_last_error());
        return 1;
    }
    matrix q = {0};
    char err[1024];
    int rc = 1;
    float *dist = NULL;
    vindex_id *labels = NULL;
    int32_t *all_ids = NULL;
    if (matrix_read_float(qpath, &q, err, sizeof err) != 0) {
        cli_error("%s", err);
        goto out;
    }
    if (q.d != vindex_d(ix)) {
        cli_error("%s has vectors of dimension %d but the index %s has dimension %d", qpath, q.d,
                  index_path, vindex_d(ix));
        goto out;
    }
    vindex_search_params params;
    vindex_search_params_init(&params);
    params.nprobe = (int)nprobe;
    params.ef_search = (int)ef;
    size_t kk = (size_t)k, block = 4096;
    if (block > q.n)
        block = q.n;
    dist = malloc(block * kk * sizeof *dist);
    labels = malloc(block * kk * sizeof *labels);
    if (ids_out)
        all_ids = malloc(q.n * kk * sizeof *all_ids);
    if (!dist || !labels || (ids_out && !all_ids)) {
        cli_error("out of memory for %zu x %ld results", block, k);
        goto out;
    }
    const float *x = q.data;
    for (size_t at = 0; at < q.n; at += block) {
        size_t c = q.n - at < block ? q.n - at : block;
        if (vindex_search(ix, c, x + at * (size_t)q.d, kk, &params, dist, labels) != VINDEX_OK) {
            cli_error("%s", vindex_last_error());
            goto out;
        }
        for (size_t i = 0; i < c; i++) {
            const vindex_id *li = labels + i * kk;
            const float *di = dist + i * kk;
            if (all_ids)
                for (size_t j = 0; j < kk; j++)
                    all_ids[(at + i) * kk + j] = (int32_t)li[j];
            if (json) {
                printf("{\"query\": %zu, \"ids\": [", at + i);
                for (size_t j = 0; j < kk; j++)
                    printf("%s%lld", j ? ", " : "", (long long)li[j]);
                printf("], \"distances\": [");
                for (size_t j = 0; j < kk; j++) {
                    if (li[j] < 0 || !isfinite(di[j]))
                        printf("%snull", j ? ", " : "");
                    else
                        printf("%s%.9g", j ? ", " : "", (double)di[j]);
                }
                printf("]}\n");
            } else {
                printf("%zu:", at + i);
                for (size_t j = 0; j < kk; j++)
                    printf("%s %lld (%.6g)", j ? "," : "", (long long)li[j], (double)di[j]);
                printf("\n");
            }
        }
    }
    if (fflush(stdout) != 0) {
        cli_error("cannot write the results");
        goto out;
    }
    if (ids_out) {
        matrix mi = {ELEM_I32, q.n, (int)kk, all_ids};
        if (matrix_write(ids_out, FMT_UNKNOWN, &mi, err, sizeof err) != 0) {
            cli_error("%s", err);
            goto out;
        }
    }
    rc = 0;
out:
    free(dist);
    free(labels);
    free(all_ids);
    matrix_free(&q);
    vindex_free(ix);
    return rc;
}
