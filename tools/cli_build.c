/* vindex build --spec SPEC [--metric l2|ip] [--train-size N] BASE -o INDEX */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "formats.h"

static const char USAGE[] =
    "usage: vindex build --spec SPEC [--metric l2|ip] [--train-size N] [--ids FILE]\n"
    "                    BASE -o INDEX\n"
    "  Builds the index SPEC (a Faiss factory string: \"Flat\", \"IVF1024,Flat\",\n"
    "  \"IVF256,PQ16\", \"PQ16x8\", \"SQ8\", \"HNSW32\", \"IDMap,Flat\", ...) over the vectors\n"
    "  of BASE (any format vindex convert reads), trains it when it needs training\n"
    "  (on N rows spread over BASE; default all, which the library subsamples as\n"
    "  Faiss does), adds every vector (labels 0..n-1, or the ids of FILE, an int32\n"
    "  file of one column, for IDMap and IVF indexes) and writes it to INDEX.\n";

int cmd_build(int argc, char **argv)
{
    const char *spec = NULL, *base = NULL, *out = NULL, *ids_path = NULL, *v;
    vindex_metric metric = VINDEX_METRIC_L2;
    long train_size = 0;
    for (int i = 1; i < argc; i++) {
        int r;
        const char *a = argv[i];
        if (cli_flag(a, "--help") || cli_flag(a, "-h")) {
            fputs(USAGE, stdout);
            return 0;
        }
        if ((r = cli_opt(argc, argv, &i, "--spec", &v)) != 0) {
            if (r < 0)
                return 2;
            spec = v;
        } else if ((r = cli_opt(argc, argv, &i, "--metric", &v)) != 0) {
            if (r < 0 || cli_parse_metric(v, &metric) != 0)
                return 2;
        } else if ((r = cli_opt(argc, argv, &i, "--train-size", &v)) != 0) {
            if (r < 0 || cli_parse_long("--train-size", v, 1, 1L << 40, &train_size) != 0)
                return 2;
        } else if ((r = cli_opt(argc, argv, &i, "--ids", &v)) != 0) {
            if (r < 0)
                return 2;
            ids_path = v;
        } else if ((r = cli_opt(argc, argv, &i, "-o", &v)) != 0 ||
                   (r = cli_opt(argc, argv, &i, "--output", &v)) != 0) {
            if (r < 0)
                return 2;
            out = v;
        } else if (a[0] == '-' && a[1]) {
            cli_error("unknown option %s", a);
            return 2;
        } else if (!base) {
            base = a;
        } else {
            cli_error("unexpected argument %s (one BASE file)", a);
            return 2;
        }
    }
    if (!spec || !base || !out) {
        cli_error("needs --spec SPEC, a BASE file and -o INDEX");
        return 2;
    }
    matrix m;
    char err[1024];
    if (matrix_read_float(base, &m, err, sizeof err) != 0) {
        cli_error("%s", err);
        return 1;
    }
    int rc = 1;
    vindex *ix = NULL;
    matrix mi = {0};
    vindex_id *ids = NULL;
    if (ids_path) {
        if (matrix_read(ids_path, FMT_UNKNOWN, &mi, err, sizeof err) != 0 ||
            matrix_convert(&mi, ELEM_I32, err, sizeof err) != 0) {
            cli_error("%s", err);
            goto out;
        }
        if (mi.d != 1 || mi.n != m.n) {
            cli_error("%s: needs %zu ids in one column, holds %zu x %d", ids_path, m.n, mi.n,
                      mi.d);
            goto out;
        }
        ids = malloc(m.n * sizeof *ids);
        if (!ids) {
            cli_error("out of memory");
            goto out;
        }
        for (size_t i = 0; i < m.n; i++)
            ids[i] = ((const int32_t *)mi.data)[i];
    }
    size_t need = 0;
    double train_s = 0, add_s = 0;
    if (vindex_factory(&ix, m.d, spec, metric) != VINDEX_OK) {
        cli_error("%s", vindex_last_error());
        goto out;
    }
    if (vindex_serialize_into(ix, NULL, 0, &need) == VINDEX_ERR_UNSUPPORTED) {
        cli_error("%s", vindex_last_error());
        goto out;
    }
    vindex_free(ix);
    ix = NULL;
    if (cli_build_index(&ix, spec, metric, m.data, m.n, m.d, ids, (size_t)train_size, &train_s,
                        &add_s, NULL, 0) != 0)
        goto out;
    if (vindex_write(ix, out) != VINDEX_OK) {
        cli_error("%s", vindex_last_error());
        goto out;
    }
    char rev[256] = "";
    vindex_reverse_factory(ix, rev, sizeof rev);
    printf("%s: %lld vectors of dimension %d, %s, %.1f MB in memory; trained in %.2f s, added "
           "in %.2f s; written to %s\n",
           rev[0] ? rev : spec, (long long)vindex_ntotal(ix), vindex_d(ix), cli_metric_name(metric),
           (double)vindex_memory_bytes(ix) / 1e6, train_s, add_s, out);
    rc = 0;
out:
    vindex_free(ix);
    free(ids);
    matrix_free(&mi);
    matrix_free(&m);
    return rc;
}
