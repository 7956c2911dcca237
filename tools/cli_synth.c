/*
 * vindex synth: clustered Gaussian data with exact ground truth, for tests and
 * benchmarks without a data set. Cluster centres are drawn from N(0, 1) in
 * every component; each vector is a centre (chosen uniformly) plus
 * N(0, spread^2) noise; queries are drawn the same way. The ground truth is
 * the exact k nearest base vectors of each query (vindex_knn), as int32 ids.
 * Everything derives from --seed.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "formats.h"

static const char USAGE[] =
    "usage: vindex synth -n N --nq NQ -d D --base FILE [--queries FILE] [--gt FILE]\n"
    "                    [--clusters C] [--spread S] [--seed S] [-k K] [--metric l2|ip]\n"
    "                    [--uint8]\n"
    "  N base vectors and NQ queries of dimension D around C cluster centres (N(0,1)\n"
    "  components) with N(0, S^2) noise (S = 0.3), and the exact K nearest base\n"
    "  vectors of every query as ground truth (K = 100, at most N). Formats come\n"
    "  from the file names (.fvecs, .npy, .ivecs, ...). --uint8 stores values as\n"
    "  bytes (128 + 40 x, rounded and clamped), for .bvecs/.u8bin; the ground\n"
    "  truth is computed on the stored values.\n"
    "  Defaults: -n 10000 --nq 100 -d 32 --clusters 16 --seed 1.\n";

/* splitmix64: tiny, good, reproducible everywhere */
static uint64_t next_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double uniform(uint64_t *s)
{
    return ((double)(next_u64(s) >> 11) + 0.5) / 9007199254740992.0;
}

static double gauss(uint64_t *s)
{
    return sqrt(-2.0 * log(uniform(s))) * cos(6.283185307179586 * uniform(s));
}

static void draw(float *out, size_t n, int d, const float *centres, long nc, double spread,
                 int u8, uint64_t *s)
{
    for (size_t i = 0; i < n; i++) {
        const float *c = centres + (size_t)(next_u64(s) % (uint64_t)nc) * (size_t)d;
        for (int j = 0; j < d; j++) {
            double v = c[j] + spread * gauss(s);
            if (u8) {
                v = floor(128.0 + 40.0 * v + 0.5);
                v = v < 0 ? 0 : v > 255 ? 255 : v;
            }
            out[i * (size_t)d + (size_t)j] = (float)v;
        }
    }
}

int cmd_synth(int argc, char **argv)
{
    long n = 10000, nq = 100, d = 32, nc = 16, seed = 1, k = 100;
    double spread = 0.3;
    int u8 = 0;
    vindex_metric metric = VINDEX_METRIC_L2;
    const char *base = NULL, *queries = NULL, *gt = NULL, *v;
    for (int i = 1; i < argc; i++) {
        int r;
        const char *a = argv[i];
        if (cli_flag(a, "--help") || cli_flag(a, "-h")) {
            fputs(USAGE, stdout);
            return 0;
        }
        if (cli_flag(a, "--uint8")) {
            u8 = 1;
            continue;
        }
#define OPT(name, code)                                                                        \
    if ((r = cli_opt(argc, argv, &i, name, &v)) != 0) {                                        \
        if (r < 0 || (code) != 0)                                                              \
            return 2;                                                                          \
        continue;                                                                              \
    }
        OPT("-n", cli_parse_long("-n", v, 1, 1L << 31, &n))
        OPT("--nq", cli_parse_long("--nq", v, 1, 1L << 31, &nq))
        OPT("-d", cli_parse_long("-d", v, 1, 1 << 16, &d))
        OPT("--clusters", cli_parse_long("--clusters", v, 1, 1 << 24, &nc))
        OPT("--seed", cli_parse_long("--seed", v, 0, 0x7fffffffffffffffL, &seed))
        OPT("-k", cli_parse_long("-k", v, 1, 1 << 20, &k))
        OPT("--spread", cli_parse_double("--spread", v, 0, 1e6, &spread))
        OPT("--metric", cli_parse_metric(v, &metric))
        OPT("--base", (base = v, 0))
        OPT("--queries", (queries = v, 0))
        OPT("--gt", (gt = v, 0))
#undef OPT
        cli_error("unknown argument %s", a);
        return 2;
    }
    if (!base) {
        cli_error("--base FILE is required");
        return 2;
    }
    if (gt && !queries) {
        cli_error("--gt needs --queries");
        return 2;
    }
    const char *outs[3] = {base, queries, gt};
    for (int i = 0; i < 3; i++)
        if (outs[i] && format_from_path(outs[i]) == FMT_UNKNOWN) {
            cli_error("%s: unknown output format (.fvecs .bvecs .ivecs .fbin .u8bin .ibin .npy "
                      ".idx)", outs[i]);
            return 1;
        }
    if (gt && k > n) {
        cli_error("-k %ld is more than the %ld base vectors", k, n);
        return 1;
    }
    uint64_t s = (uint64_t)seed * 0x2545F4914F6CDD1Dull + 12345;
    float *centres = malloc((size_t)nc * (size_t)d * sizeof(float));
    float *xb = malloc((size_t)n * (size_t)d * sizeof(float));
    float *xq = queries ? malloc((size_t)nq * (size_t)d * sizeof(float)) : NULL;
    vindex_id *labels = gt ? malloc((size_t)nq * (size_t)k * sizeof(vindex_id)) : NULL;
    int32_t *gt32 = gt ? malloc((size_t)nq * (size_t)k * sizeof(int32_t)) : NULL;
    int rc = 1;
    char err[1024];
    if (!centres || !xb || (queries && !xq) || (gt && (!labels || !gt32))) {
        cli_error("out of memory");
        goto out;
    }
    for (size_t i = 0; i < (size_t)nc * (size_t)d; i++)
        centres[i] = (float)gauss(&s);
    draw(xb, (size_t)n, (int)d, centres, nc, spread, u8, &s);
    if (xq)
        draw(xq, (size_t)nq, (int)d, centres, nc, spread, u8, &s);
    if (gt) {
        if (cli_ground_truth(xq, (size_t)nq, xb, (size_t)n, (int)d, (size_t)k, metric, labels))
            goto out;
        for (size_t i = 0; i < (size_t)nq * (size_t)k; i++)
            gt32[i] = (int32_t)labels[i];
    }
    matrix mb = {ELEM_F32, (size_t)n, (int)d, xb};
    matrix mq = {ELEM_F32, (size_t)nq, (int)d, xq};
    if (u8) { /* exact: the values are whole numbers in 0..255 */
        int bad = matrix_convert(&mb, ELEM_U8, err, sizeof err);
        xb = mb.data; /* the old buffer is freed on success */
        if (!bad && xq) {
            bad = matrix_convert(&mq, ELEM_U8, err, sizeof err);
            xq = mq.data;
        }
        if (bad) {
            cli_error("%s", err);
            goto out;
        }
    }
    if (matrix_write(base, FMT_UNKNOWN, &mb, err, sizeof err) != 0) {
        cli_error("%s", err);
        goto out;
    }
    if (xq) {
        if (matrix_write(queries, FMT_UNKNOWN, &mq, err, sizeof err) != 0) {
            cli_error("%s", err);
            remove(base);
            goto out;
        }
    }
    if (gt) {
        matrix mg = {ELEM_I32, (size_t)nq, (int)k, gt32};
        if (matrix_write(gt, FMT_UNKNOWN, &mg, err, sizeof err) != 0) {
            cli_error("%s", err);
            remove(base);
            remove(queries);
            goto out;
        }
    }
    printf("synth: %ld base vectors%s%s of dimension %ld in %ld clusters%s\n", n,
           xq ? ", queries" : "", gt ? ", ground truth" : "", d, nc, u8 ? " (uint8 values)" : "");
    rc = 0;
out:
    free(centres);
    free(xb);
    free(xq);
    free(labels);
    free(gt32);
    return rc;
}
