/*
 * vindex bench: the seed's tables (memory, query time, recall) measured on real
 * data, for every index family, over a sweep of nprobe / efSearch.
 *
 * For each index: build (train on --train-size rows spread over the base, then
 * add all of it; the build time is both), then for each setting of the sweep:
 *  - a batch: the --nq queries in one vindex_search call (k = -k, 10) -> QPS;
 *  - one query per call for the first --nsingle queries -> QPS, mean ms per
 *    query, p50 and p99 latency;
 *  - recall@R = |first R results ∩ true R nearest| / R, averaged over the
 *    queries, for R = 1 and 10 from the batch, and R = 100 from one more
 *    (untimed) batch with k = 100 when the ground truth has 100 columns.
 * Ground truth: --gt, or exact search (vindex_knn) over the base.
 *
 * Indexes the factory refuses as VINDEX_ERR_UNSUPPORTED are skipped with a
 * note, and measured as soon as vindex_factory builds them; so is one whose
 * training the library refuses
 * for the data (too few vectors for the centroids, say).
 */
#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "formats.h"
#include "progress.h"
#include "timing.h"

extern char **environ;

static const char USAGE[] =
    "usage: vindex bench (--dataset fashion-mnist [--data-dir DIR] |\n"
    "                     --base B --queries Q [--gt GT])\n"
    "                    [--index SPEC]... [--nprobe LIST] [--ef LIST] [--nq N]\n"
    "                    [--nsingle N] [-k K] [--train-size N] [--metric l2|ip]\n"
    "                    [--repeat R] [--k-factor F]\n"
    "                    [--csv FILE] [--json FILE] [--markdown FILE] [--plot FILE.png]\n"
    "  Builds each index and measures memory, build time, QPS for a batch and for\n"
    "  one query per call, ms per query, p50/p99 latency and recall@1/10/100\n"
    "  against exact search, over a sweep of nprobe (IVF) or efSearch (HNSW).\n"
    "  Prints a Markdown table; --csv, --json and --markdown write the results,\n"
    "  --plot draws recall@10 against QPS (matplotlib, through tools/plot_bench.py\n"
    "  and /usr/bin/python3; VINDEX_PYTHON and VINDEX_PLOT_SCRIPT override them).\n"
    "  Defaults: the indexes Flat, IVF<nlist>,Flat, PQ<M>, IVF<nlist>,PQ<M>, LSH<2d>rt,\n"
    "  HNSW32, SQ8, IVF<nlist>,SQ8 and IVF<nlist>,PQ<2M>x4fs,RFlat (nlist: the\n"
    "  power of two nearest sqrt(n); M: a divisor of d near d/16, d/4 below 256\n"
    "  dimensions), --nprobe\n"
    "  1,2,4,8,16,32,64, --ef 16,32,64,128,256, --nq 1000, --nsingle 200, -k 10,\n"
    "  --train-size 20000 (0: all), --repeat 1 (batch QPS: the best of R runs),\n"
    "  --k-factor 4 (indexes with refinement re-rank k * F candidates).\n"
    "  --dataset fashion-mnist reads Debian's\n"
    "  dataset-fashion-mnist (/usr/share/datasets/fashion-mnist): base = the\n"
    "  60,000 training images, queries = the first --nq test images.\n"
    "  Timed searches use k = -k; recall@100 comes from one more, untimed, search\n"
    "  with k = 100 at the same setting (HNSW walks at least k candidates, so its\n"
    "  recall@100 is that of efSearch >= 100). Indexes this vindex cannot build yet\n"
    "  are listed as skipped.\n";

#define MAX_INDEXES 32
#define MAX_SWEEP 32
#define MAX_ROWS 1024

typedef struct {
    char index[128];
    char params[48];
    double build_s, memory_mb, qps_batch, qps_single, ms_per_query, p50_ms, p99_ms;
    double recall[3]; /* @1, @10, @100; NAN when not measured */
} row;

typedef struct {
    char index[128];
    char reason[512];
} skipped;

typedef struct {
    const float *xb, *xq;
    size_t nb, nq, nsingle, k, gt_k;
    int repeat; /* batch timings: the best of this many */
    int k_factor; /* refinement: re-rank k * k_factor candidates */
    int d;
    vindex_metric metric;
    const int32_t *gt; /* nq x gt_k */
    size_t train_size;
    const int *nprobe, *ef;
    int n_nprobe, n_ef;
    row *rows;
    int nrows;
    skipped *skips;
    int nskips;
} bench;

static const int AT[3] = {1, 10, 100};

static double recall_at(const vindex_id *got, size_t k, const int32_t *gt, size_t gt_k, size_t nq,
                        size_t r)
{
    size_t hits = 0;
    for (size_t i = 0; i < nq; i++)
        for (size_t a = 0; a < r; a++) {
            vindex_id id = got[i * k + a];
            if (id < 0)
                continue;
            for (size_t b = 0; b < r; b++)
                if (gt[i * gt_k + b] == id) {
                    hits++;
                    break;
                }
        }
    return (double)hits / (double)(nq * r);
}

static void skip(bench *b, const char *spec, const char *why)
{
    if (b->nskips == MAX_INDEXES)
        return;
    skipped *s = &b->skips[b->nskips++];
    snprintf(s->index, sizeof s->index, "%s", spec);
    snprintf(s->reason, sizeof s->reason, "%s", why);
}

/* Measures one index at one setting; -1 (message printed) on a search error. */
static int measure(bench *b, const vindex *ix, const vindex_search_params *sp, row *r,
                   float *dist, vindex_id *labels, double *lat)
{
    size_t k = b->k;
    double best = INFINITY;
    for (int rep = 0; rep < b->repeat; rep++) {
        double t0 = timing_now();
        if (vindex_search(ix, b->nq, b->xq, k, sp, dist, labels) != VINDEX_OK)
            goto fail;
        double t1 = timing_now();
        if (t1 - t0 < best)
            best = t1 - t0;
    }
    r->qps_batch = (double)b->nq / best;
    for (int a = 0; a < 3; a++)
        r->recall[a] = (size_t)AT[a] <= k && (size_t)AT[a] <= b->gt_k
                           ? recall_at(labels, k, b->gt, b->gt_k, b->nq, (size_t)AT[a])
                           : NAN;
    if (k < 100 && b->gt_k >= 100 && b->nb >= 100) { /* recall@100: one more batch */
        if (vindex_search(ix, b->nq, b->xq, 100, sp, dist, labels) != VINDEX_OK)
            goto fail;
        r->recall[2] = recall_at(labels, 100, b->gt, b->gt_k, b->nq, 100);
    }
    double total = 0;
    for (size_t i = 0; i < b->nsingle; i++) {
        double s0 = timing_now();
        if (vindex_search(ix, 1, b->xq + i * (size_t)b->d, k, sp, dist, labels) != VINDEX_OK)
            goto fail;
        lat[i] = timing_now() - s0;
        total += lat[i];
    }
    r->qps_single = b->nsingle ? (double)b->nsingle / total : NAN;
    r->ms_per_query = b->nsingle ? 1e3 * total / (double)b->nsingle : NAN;
    if (b->nsingle) {
        qsort(lat, b->nsingle, sizeof *lat, timing_cmp_double);
        r->p50_ms = 1e3 * lat[(b->nsingle - 1) / 2];
        r->p99_ms = 1e3 * lat[(size_t)ceil(0.99 * (double)b->nsingle) - 1];
    } else {
        r->p50_ms = r->p99_ms = NAN;
    }
    return 0;
fail:
    cli_error("search: %s", vindex_last_error());
    return -1;
}

/* Builds spec and measures it over its sweep; 0 when done or skipped. */
static int bench_index(bench *b, const char *spec)
{
    vindex *ix;
    vindex_status st;
    double train_s, add_s;
    if (cli_build_index(&ix, spec, b->metric, b->xb, b->nb, b->d, NULL, b->train_size, &train_s,
                        &add_s, &st, 1) != 0) {
        if (st == VINDEX_ERR_UNSUPPORTED || st == VINDEX_ERR_INVALID) {
            /* not in this vindex yet, or not buildable on this data */
            const char *msg = vindex_last_error();
            skip(b, spec, *msg ? msg : vindex_status_string(st));
            if (st == VINDEX_ERR_INVALID)
                fprintf(stderr, "vindex bench: skipping %s: %s\n", spec, msg);
            return 0;
        }
        return -1;
    }
    double v;
    const int *sweep = NULL;
    int nsweep = 1;
    const char *pname = NULL;
    if (vindex_get_param(ix, "nprobe", &v) == VINDEX_OK) {
        sweep = b->nprobe;
        nsweep = b->n_nprobe;
        pname = "nprobe";
    } else if (vindex_get_param(ix, "efSearch", &v) == VINDEX_OK) {
        sweep = b->ef;
        nsweep = b->n_ef;
        pname = "efSearch";
    }
    /* refinement re-ranks k * k_factor candidates (Faiss's default k_factor 1
     * re-ranks only the k the base proposes) */
    const int refine = vindex_get_param(ix, "k_factor", &v) == VINDEX_OK;
    double nlist = 0;
    if (pname && !strcmp(pname, "nprobe"))
        vindex_get_param(ix, "nlist", &nlist);
    size_t cap = b->k > 100 ? b->k : 100;
    float *dist = malloc(b->nq * cap * sizeof *dist);
    vindex_id *labels = malloc(b->nq * cap * sizeof *labels);
    double *lat = malloc((b->nsingle + 1) * sizeof *lat);
    int rc = -1;
    if (!dist || !labels || !lat) {
        cli_error("out of memory for the results of %zu queries", b->nq);
        goto out;
    }
    char label[160];
    snprintf(label, sizeof label, "searching %s", spec);
    progress *p = progress_begin(label, (size_t)nsweep);
    for (int s = 0; s < nsweep; s++) {
        if (b->nrows == MAX_ROWS)
            break;
        if (pname && nlist > 0 && sweep[s] > nlist && s > 0 && sweep[s - 1] >= nlist)
            break; /* nprobe past nlist changes nothing */
        row *r = &b->rows[b->nrows];
        memset(r, 0, sizeof *r);
        snprintf(r->index, sizeof r->index, "%s", spec);
        vindex_search_params sp;
        vindex_search_params_init(&sp);
        if (pname) {
            int val = sweep[s];
            if (!strcmp(pname, "nprobe")) {
                if (nlist > 0 && val > nlist)
                    val = (int)nlist;
                sp.nprobe = val;
            } else {
                sp.ef_search = val;
            }
            snprintf(r->params, sizeof r->params, "%s=%d", pname, val);
        } else {
            snprintf(r->params, sizeof r->params, "-");
        }
        if (refine) {
            sp.k_factor = (float)b->k_factor;
            size_t used = pname ? strlen(r->params) : 0;
            snprintf(r->params + used, sizeof r->params - used, "%sk_factor=%d",
                     pname ? "," : "", b->k_factor);
        }
        r->build_s = train_s + add_s;
        r->memory_mb = (double)vindex_memory_bytes(ix) / (1024.0 * 1024.0);
        if (measure(b, ix, &sp, r, dist, labels, lat) != 0) {
            progress_end(p);
            goto out;
        }
        b->nrows++;
        progress_update(p, (size_t)s + 1);
    }
    progress_end(p);
    rc = 0;
out:
    free(dist);
    free(labels);
    free(lat);
    vindex_free(ix);
    return rc;
}

/* ---- output ------------------------------------------------------------- */

static void fmt_num(char *buf, size_t len, double v, int decimals)
{
    if (isnan(v))
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%.*f", decimals, v);
}

static void print_markdown(FILE *f, const bench *b, const char *title)
{
    fprintf(f, "%s\n\n", title);
    fprintf(f, "| Index | Params | Memory (MB) | Build (s) | QPS batch | QPS 1/call | ms/query "
               "| p50 (ms) | p99 (ms) | R@1 | R@10 | R@100 |\n");
    fprintf(f, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < b->nrows; i++) {
        const row *r = &b->rows[i];
        char c[12][32];
        fmt_num(c[0], 32, r->memory_mb, 1);
        fmt_num(c[1], 32, r->build_s, 2);
        fmt_num(c[2], 32, r->qps_batch, 0);
        fmt_num(c[3], 32, r->qps_single, 0);
        fmt_num(c[4], 32, r->ms_per_query, 3);
        fmt_num(c[5], 32, r->p50_ms, 3);
        fmt_num(c[6], 32, r->p99_ms, 3);
        for (int a = 0; a < 3; a++)
            fmt_num(c[7 + a], 32, r->recall[a], 4);
        fprintf(f, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r->index,
                r->params, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9]);
    }
    if (b->nskips) {
        fprintf(f, "\nSkipped:\n");
        for (int i = 0; i < b->nskips; i++)
            fprintf(f, "- %s: %s\n", b->skips[i].index, b->skips[i].reason);
    }
}

static void csv_num(FILE *f, double v, int decimals)
{
    if (isnan(v))
        fputs(",", f);
    else
        fprintf(f, ",%.*f", decimals, v);
}

static void print_csv(FILE *f, const bench *b)
{
    fprintf(f, "index,params,build_s,memory_mb,qps_batch,qps_single,ms_per_query,p50_ms,p99_ms,"
               "recall@1,recall@10,recall@100\n");
    for (int i = 0; i < b->nrows; i++) {
        const row *r = &b->rows[i];
        fprintf(f, "\"%s\",%s", r->index, r->params);
        csv_num(f, r->build_s, 4);
        csv_num(f, r->memory_mb, 3);
        csv_num(f, r->qps_batch, 1);
        csv_num(f, r->qps_single, 1);
        csv_num(f, r->ms_per_query, 5);
        csv_num(f, r->p50_ms, 5);
        csv_num(f, r->p99_ms, 5);
        for (int a = 0; a < 3; a++)
            csv_num(f, r->recall[a], 5);
        fputc('\n', f);
    }
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void json_num(FILE *f, const char *key, double v, int decimals)
{
    if (isnan(v))
        fprintf(f, ", \"%s\": null", key);
    else
        fprintf(f, ", \"%s\": %.*f", key, decimals, v);
}

static void print_json(FILE *f, const bench *b, const char *dataset)
{
    fprintf(f, "{\"dataset\": ");
    json_str(f, dataset);
    fprintf(f, ", \"nb\": %zu, \"nq\": %zu, \"nsingle\": %zu, \"d\": %d, \"k\": %zu, "
               "\"metric\": \"%s\", \"threads\": %d, \"simd\": \"%s\", \"vindex\": \"%s\",\n",
            b->nb, b->nq, b->nsingle, b->d, b->k, b->metric == VINDEX_METRIC_L2 ? "l2" : "ip",
            vindex_get_num_threads(), vindex_simd_level(), vindex_version());
    fprintf(f, " \"results\": [");
    for (int i = 0; i < b->nrows; i++) {
        const row *r = &b->rows[i];
        fprintf(f, "%s\n  {\"index\": ", i ? "," : "");
        json_str(f, r->index);
        fprintf(f, ", \"params\": ");
        json_str(f, r->params);
        json_num(f, "build_s", r->build_s, 4);
        json_num(f, "memory_mb", r->memory_mb, 3);
        json_num(f, "qps_batch", r->qps_batch, 1);
        json_num(f, "qps_single", r->qps_single, 1);
        json_num(f, "ms_per_query", r->ms_per_query, 5);
        json_num(f, "p50_ms", r->p50_ms, 5);
        json_num(f, "p99_ms", r->p99_ms, 5);
        json_num(f, "recall@1", r->recall[0], 5);
        json_num(f, "recall@10", r->recall[1], 5);
        json_num(f, "recall@100", r->recall[2], 5);
        fputc('}', f);
    }
    fprintf(f, "],\n \"skipped\": [");
    for (int i = 0; i < b->nskips; i++) {
        fprintf(f, "%s{\"index\": ", i ? ", " : "");
        json_str(f, b->skips[i].index);
        fprintf(f, ", \"reason\": ");
        json_str(f, b->skips[i].reason);
        fputc('}', f);
    }
    fprintf(f, "]}\n");
}

/* Writes what `emit` prints to path, through a temporary file renamed over it. */
static int write_file(const char *path, void (*emit)(FILE *, const bench *, const char *),
                      const bench *b, const char *arg)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        cli_error("%s: %s", path, strerror(errno));
        return -1;
    }
    emit(f, b, arg);
    if (ferror(f) | fclose(f) || rename(tmp, path) != 0) {
        cli_error("%s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

static void emit_csv(FILE *f, const bench *b, const char *unused)
{
    (void)unused;
    print_csv(f, b);
}

static void emit_markdown(FILE *f, const bench *b, const char *title)
{
    print_markdown(f, b, title);
}

/* The plotting script: VINDEX_PLOT_SCRIPT, the source tree's tools/ (known at
 * build time), or tools/ next to the directory of the executable. */
static int find_plot_script(char *out, size_t len)
{
    const char *env = getenv("VINDEX_PLOT_SCRIPT");
    if (env && *env) {
        snprintf(out, len, "%s", env);
        return cli_exists(out) ? 0 : -1;
    }
#ifdef VINDEX_TOOLS_DIR
    snprintf(out, len, "%s/plot_bench.py", VINDEX_TOOLS_DIR);
    if (cli_exists(out))
        return 0;
#endif
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            snprintf(out, len, "%s/../tools/plot_bench.py", exe);
            if (cli_exists(out))
                return 0;
        }
    }
    return -1;
}

static int run_plot(const char *csv, const char *png, const char *title)
{
    char script[4200];
    if (find_plot_script(script, sizeof script) != 0) {
        cli_error("--plot: tools/plot_bench.py not found (set VINDEX_PLOT_SCRIPT)");
        return -1;
    }
    const char *py = getenv("VINDEX_PYTHON");
    if (!py || !*py)
        py = "/usr/bin/python3";
    char *args[] = {(char *)py, script, (char *)csv, (char *)png, (char *)title, NULL};
    pid_t pid;
    int err = posix_spawn(&pid, py, NULL, NULL, args, environ);
    if (err != 0) {
        cli_error("--plot: cannot run %s: %s", py, strerror(err));
        return -1;
    }
    int status;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        cli_error("--plot: %s %s failed (matplotlib from Debian's python3-matplotlib is needed)",
                  py, script);
        return -1;
    }
    return 0;
}

/* The directory of path exists (so the file can be written at the end). */
static int check_writable(const char *opt, const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return 0;
    if (slash == dir)
        slash[1] = 0;
    else
        *slash = 0;
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        cli_error("%s %s: the directory %s does not exist", opt, path, dir);
        return -1;
    }
    return 0;
}

/* nlist: the power of two nearest sqrt(n); M: the divisor of d nearest target. */
static int default_nlist(size_t n)
{
    double l = round(log2(sqrt((double)n)));
    if (l < 0)
        l = 0;
    if (l > 16)
        l = 16;
    return 1 << (int)l;
}

static int divisor_near(int d, double target)
{
    int best = 1;
    for (int m = 1; m <= d; m++)
        if (d % m == 0 && fabs(m - target) < fabs(best - target))
            best = m;
    return best;
}

int cmd_bench(int argc, char **argv)
{
    const char *dataset = NULL, *data_dir = "/usr/share/datasets/fashion-mnist", *base_path = NULL,
               *query_path = NULL, *gt_path = NULL, *csv = NULL, *json = NULL, *plot = NULL,
               *md = NULL, *v;
    const char *specs[MAX_INDEXES];
    int nspecs = 0;
    int nprobe[MAX_SWEEP] = {1, 2, 4, 8, 16, 32, 64}, n_nprobe = 7;
    int ef[MAX_SWEEP] = {16, 32, 64, 128, 256}, n_ef = 5;
    long nq = 1000, nsingle = 200, k = 10, train_size = 20000, repeat = 1, k_factor = 4;
    vindex_metric metric = VINDEX_METRIC_L2;
    for (int i = 1; i < argc; i++) {
        int r;
        const char *a = argv[i];
        if (cli_flag(a, "--help") || cli_flag(a, "-h")) {
            fputs(USAGE, stdout);
            return 0;
        }
#define OPT(name, code)                                                                        \
    if ((r = cli_opt(argc, argv, &i, name, &v)) != 0) {                                        \
        if (r < 0 || (code) != 0)                                                              \
            return 2;                                                                          \
        continue;                                                                              \
    }
        OPT("--dataset", (dataset = v, 0))
        OPT("--data-dir", (data_dir = v, 0))
        OPT("--base", (base_path = v, 0))
        OPT("--queries", (query_path = v, 0))
        OPT("--gt", (gt_path = v, 0))
        OPT("--csv", (csv = v, 0))
        OPT("--json", (json = v, 0))
        OPT("--plot", (plot = v, 0))
        OPT("--markdown", (md = v, 0))
        OPT("--nq", cli_parse_long("--nq", v, 1, 1L << 30, &nq))
        OPT("--nsingle", cli_parse_long("--nsingle", v, 0, 1L << 30, &nsingle))
        OPT("-k", cli_parse_long("-k", v, 1, 1 << 16, &k))
        OPT("--train-size", cli_parse_long("--train-size", v, 0, 1L << 40, &train_size))
        OPT("--metric", cli_parse_metric(v, &metric))
        OPT("--repeat", cli_parse_long("--repeat", v, 1, 1000, &repeat))
        OPT("--k-factor", cli_parse_long("--k-factor", v, 1, 1000, &k_factor))
        OPT("--nprobe", cli_parse_int_list("--nprobe", v, nprobe, MAX_SWEEP, &n_nprobe))
        OPT("--ef", cli_parse_int_list("--ef", v, ef, MAX_SWEEP, &n_ef))
        if ((r = cli_opt(argc, argv, &i, "--index", &v)) != 0) {
            if (r < 0)
                return 2;
            if (nspecs == MAX_INDEXES) {
                cli_error("at most %d --index options", MAX_INDEXES);
                return 2;
            }
            specs[nspecs++] = v;
            continue;
        }
#undef OPT
        cli_error("unknown argument %s", a);
        return 2;
    }
    if (dataset && strcmp(dataset, "fashion-mnist") != 0) {
        cli_error("--dataset: unknown data set \"%s\" (fashion-mnist; or --base/--queries/--gt)",
                  dataset);
        return 2;
    }
    if (!dataset == !base_path || (base_path && !query_path) || (dataset && (query_path || gt_path))) {
        cli_error("needs --dataset fashion-mnist, or --base B --queries Q [--gt GT]");
        return 2;
    }
    const char *outs[4][2] = {{"--csv", csv}, {"--json", json}, {"--plot", plot}, {"--markdown", md}};
    for (int i = 0; i < 4; i++)
        if (outs[i][1] && check_writable(outs[i][0], outs[i][1]) != 0)
            return 1;

    char err[1024], path_b[4096], path_q[4096];
    if (dataset) {
        snprintf(path_b, sizeof path_b, "%s/train-images-idx3-ubyte.gz", data_dir);
        snprintf(path_q, sizeof path_q, "%s/t10k-images-idx3-ubyte.gz", data_dir);
        base_path = path_b;
        query_path = path_q;
        if (!cli_exists(path_b)) {
            cli_error("%s: no such file (install Debian's dataset-fashion-mnist, or give "
                      "--data-dir)", path_b);
            return 1;
        }
    }
    matrix mb = {0}, mq = {0}, mg = {0};
    vindex_id *gt64 = NULL;
    int rc = 1;
    bench b = {0};
    b.rows = calloc(MAX_ROWS, sizeof *b.rows);
    b.skips = calloc(MAX_INDEXES, sizeof *b.skips);
    char (*spec_buf)[128] = calloc(MAX_INDEXES, sizeof *spec_buf);
    if (!b.rows || !b.skips || !spec_buf) {
        cli_error("out of memory");
        goto out;
    }
    if (matrix_read_float(base_path, &mb, err, sizeof err) != 0 ||
        matrix_read_float(query_path, &mq, err, sizeof err) != 0) {
        cli_error("%s", err);
        goto out;
    }
    if (mq.d != mb.d) {
        cli_error("the queries %s have dimension %d but the base vectors %s have dimension %d",
                  query_path, mq.d, base_path, mb.d);
        goto out;
    }
    b.nq = (size_t)nq < mq.n ? (size_t)nq : mq.n;
    b.nsingle = (size_t)nsingle < b.nq ? (size_t)nsingle : b.nq;
    b.xb = mb.data;
    b.xq = mq.data;
    b.nb = mb.n;
    b.d = mb.d;
    b.k = (size_t)k < mb.n ? (size_t)k : mb.n;
    b.metric = metric;
    b.train_size = (size_t)train_size;
    b.repeat = (int)repeat;
    b.k_factor = (int)k_factor;
    b.nprobe = nprobe;
    b.n_nprobe = n_nprobe;
    b.ef = ef;
    b.n_ef = n_ef;
    if (gt_path) {
        if (matrix_read(gt_path, FMT_UNKNOWN, &mg, err, sizeof err) != 0 ||
            matrix_convert(&mg, ELEM_I32, err, sizeof err) != 0) {
            cli_error("%s", err);
            goto out;
        }
        if (mg.n < b.nq) {
            cli_error("the ground truth %s has %zu rows for %zu queries", gt_path, mg.n, b.nq);
            goto out;
        }
        const int32_t *g = mg.data;
        for (size_t i = 0; i < b.nq * (size_t)mg.d; i++)
            if (g[i] < -1 || (size_t)g[i] >= b.nb) {
                cli_error("the ground truth %s holds id %d at row %zu, outside the %zu base "
                          "vectors", gt_path, g[i], i / (size_t)mg.d, b.nb);
                goto out;
            }
        b.gt = mg.data;
        b.gt_k = (size_t)mg.d;
    } else {
        b.gt_k = b.nb < 100 ? b.nb : 100;
        gt64 = malloc(b.nq * b.gt_k * sizeof *gt64);
        mg.data = malloc(b.nq * b.gt_k * sizeof(int32_t));
        if (!gt64 || !mg.data) {
            cli_error("out of memory for the ground truth");
            goto out;
        }
        if (cli_ground_truth(b.xq, b.nq, b.xb, b.nb, b.d, b.gt_k, metric, gt64) != 0)
            goto out;
        for (size_t i = 0; i < b.nq * b.gt_k; i++)
            ((int32_t *)mg.data)[i] = (int32_t)gt64[i];
        b.gt = mg.data;
    }

    if (nspecs == 0) { /* the default list, sized for the data */
        int nlist = default_nlist(b.nb);
        int M = divisor_near(b.d, b.d >= 256 ? b.d / 16.0 : b.d / 4.0);
        int M2 = b.d % (2 * M) == 0 ? 2 * M : M;
        snprintf(spec_buf[0], 128, "Flat");
        snprintf(spec_buf[1], 128, "IVF%d,Flat", nlist);
        snprintf(spec_buf[2], 128, "PQ%d", M);
        snprintf(spec_buf[3], 128, "IVF%d,PQ%d", nlist, M);
        snprintf(spec_buf[4], 128, "LSH%drt", 2 * b.d); /* 2d bits, rotated, median thresholds */
        snprintf(spec_buf[5], 128, "HNSW32");
        snprintf(spec_buf[6], 128, "SQ8");
        snprintf(spec_buf[7], 128, "IVF%d,SQ8", nlist);
        snprintf(spec_buf[8], 128, "IVF%d,PQ%dx4fs,RFlat", nlist, M2);
        for (nspecs = 0; nspecs < 9; nspecs++)
            specs[nspecs] = spec_buf[nspecs];
    }
    for (int i = 0; i < nspecs; i++)
        if (bench_index(&b, specs[i]) != 0)
            goto out;

    char title[1024];
    snprintf(title, sizeof title,
             "vindex %s bench: %.300s, %zu base vectors of dimension %d, %zu queries (%zu one per "
             "call), k = %zu, %s; %d threads, SIMD %s",
             vindex_version(), dataset ? dataset : base_path, b.nb, b.d, b.nq, b.nsingle, b.k,
             cli_metric_name(metric), vindex_get_num_threads(), vindex_simd_level());
    print_markdown(stdout, &b, title);
    fflush(stdout);
    if (csv && write_file(csv, emit_csv, &b, NULL) != 0)
        goto out;
    if (md && write_file(md, emit_markdown, &b, title) != 0)
        goto out;
    if (json && write_file(json, print_json, &b, dataset ? dataset : base_path) != 0)
        goto out;
    if (plot) {
        char tmpcsv[4200];
        const char *src = csv;
        if (!src) {
            snprintf(tmpcsv, sizeof tmpcsv, "%s.csv.tmp%ld", plot, (long)getpid());
            if (write_file(tmpcsv, emit_csv, &b, NULL) != 0)
                goto out;
            src = tmpcsv;
        }
        int prc = run_plot(src, plot, title);
        if (!csv)
            unlink(tmpcsv);
        if (prc != 0)
            goto out;
    }
    rc = 0;
out:
    matrix_free(&mb);
    matrix_free(&mq);
    matrix_free(&mg);
    free(gt64);
    free(b.rows);
    free(b.skips);
    free(spec_buf);
    return rc;
}
