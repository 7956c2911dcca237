/* Shared pieces of the command-line tool (see cli.h). */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "progress.h"
#include "timing.h"

const char *cli_cmd = "";

void cli_error(const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* one line, whatever the library's message holds */
    for (char *c = msg; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
    if (progress_enabled())
        fprintf(stderr, "\r\033[K");
    fprintf(stderr, "vindex%s%s: %s\n", *cli_cmd ? " " : "", cli_cmd, msg);
}

int cli_flag(const char *arg, const char *name)
{
    return !strcmp(arg, name);
}

int cli_opt(int argc, char **argv, int *i, const char *name, const char **val)
{
    const char *a = argv[*i];
    size_t len = strlen(name);
    if (strncmp(a, name, len) != 0)
        return 0;
    if (a[len] == '=') {
        *val = a + len + 1;
        return 1;
    }
    if (a[len] != 0)
        return 0;
    if (*i + 1 >= argc) {
        cli_error("%s needs a value", name);
        return -1;
    }
    *val = argv[++*i];
    return 1;
}

int cli_parse_long(const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno) {
        cli_error("%s: \"%s\" is not an integer", opt, s);
        return -1;
    }
    if (v < lo || v > hi) {
        cli_error("%s must be between %ld and %ld, not %ld", opt, lo, hi, v);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_double(const char *opt, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v)) {
        cli_error("%s: \"%s\" is not a number", opt, s);
        return -1;
    }
    if (v < lo || v > hi) {
        cli_error("%s must be between %g and %g, not %g", opt, lo, hi, v);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_int_list(const char *opt, const char *s, int *out, int max, int *n)
{
    *n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v <= 0 || v > 1000000 || (*end && *end != ',')) {
            cli_error("%s: \"%s\" is not a list of positive integers", opt, s);
            return -1;
        }
        if (*n == max) {
            cli_error("%s: at most %d values", opt, max);
            return -1;
        }
        out[(*n)++] = (int)v;
        p = *end ? end + 1 : end;
    }
    if (*n == 0) {
        cli_error("%s: empty list", opt);
        return -1;
    }
    return 0;
}

int cli_parse_metric(const char *s, vindex_metric *m)
{
    if (!strcmp(s, "l2") || !strcmp(s, "L2")) {
        *m = VINDEX_METRIC_L2;
        return 0;
    }
    if (!strcmp(s, "ip") || !strcmp(s, "IP") || !strcmp(s, "inner_product")) {
        *m = VINDEX_METRIC_INNER_PRODUCT;
        return 0;
    }
    cli_error("--metric: \"%s\" is not l2 or ip", s);
    return -1;
}

const char *cli_metric_name(vindex_metric m)
{
    return m == VINDEX_METRIC_L2 ? "L2" : "inner product";
}

int cli_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int cli_build_index(vindex **out, const char *spec, vindex_metric metric, const float *x,
                    size_t n, int d, const vindex_id *ids, size_t train_size, double *train_s,
                    double *add_s, vindex_status *stp, int quiet_unsupported)
{
    *out = NULL;
    vindex *ix = NULL;
    float *sample = NULL;
    char label[96];
    vindex_status st = vindex_factory(&ix, d, spec, metric);
    if (stp)
        *stp = st;
    if (st) {
        if (!(quiet_unsupported && st == VINDEX_ERR_UNSUPPORTED))
            cli_error("%s", vindex_last_error());
        return -1;
    }
    double t0 = timing_now();
    if (!vindex_is_trained(ix)) {
        const float *tx = x;
        size_t tn = n;
        if (train_size > 0 && train_size < n) { /* rows spread evenly over the base */
            sample = malloc(train_size * (size_t)d * sizeof *sample);
            if (!sample) {
                cli_error("out of memory for %zu training vectors", train_size);
                st = VINDEX_ERR_NOMEM;
                goto fail;
            }
            for (size_t i = 0; i < train_size; i++)
                memcpy(sample + i * (size_t)d, x + (size_t)((double)i * n / train_size) * d,
                       (size_t)d * sizeof *sample);
            tx = sample;
            tn = train_size;
        }
        snprintf(label, sizeof label, "training %s on %zu vectors", spec, tn);
        progress *p = progress_begin(label, 0);
        st = vindex_train(ix, tn, tx);
        progress_end(p);
        if (st) {
            cli_error("training %s: %s", spec, vindex_last_error());
            goto fail;
        }
    }
    double t1 = timing_now();
    vindex_id *seq = NULL;
    if (!ids && !strncmp(vindex_type_name(ix), "IndexIDMap", 10)) {
        seq = malloc((n ? n : 1) * sizeof *seq); /* an IDMap takes ids only explicitly */
        if (!seq) {
            cli_error("out of memory for %zu ids", n);
            st = VINDEX_ERR_NOMEM;
            goto fail;
        }
        for (size_t i = 0; i < n; i++)
            seq[i] = (vindex_id)i;
        ids = seq;
    }
    snprintf(label, sizeof label, "adding to %s", spec);
    progress *p = progress_begin(label, n);
    size_t chunk = n / 50 > 1000 ? n / 50 : 1000;
    if (!p)
        chunk = n; /* one call when nobody watches */
    for (size_t at = 0; at < n; at += chunk) {
        size_t c = n - at < chunk ? n - at : chunk;
        st = ids ? vindex_add_with_ids(ix, c, x + at * (size_t)d, ids + at)
                 : vindex_add(ix, c, x + at * (size_t)d);
        if (st)
            break;
        progress_update(p, at + c);
    }
    progress_end(p);
    free(seq);
    if (st) {
        cli_error("adding to %s: %s", spec, vindex_last_error());
        goto fail;
    }
    double t2 = timing_now();
    if (train_s)
        *train_s = t1 - t0;
    if (add_s)
        *add_s = t2 - t1;
    if (stp)
        *stp = VINDEX_OK;
    free(sample);
    *out = ix;
    return 0;
fail:
    if (stp)
        *stp = st;
    free(sample);
    vindex_free(ix);
    return -1;
}

int cli_ground_truth(const float *q, size_t nq, const float *base, size_t nb, int d, size_t k,
                     vindex_metric metric, vindex_id *labels)
{
    float *dist = malloc(nq * k * sizeof *dist);
    if (!dist) {
        cli_error("out of memory for the ground truth");
        return -1;
    }
    progress *p = progress_begin("ground truth", nq);
    size_t chunk = p ? 64 : nq;
    vindex_status st = VINDEX_OK;
    for (size_t at = 0; at < nq && !st; at += chunk) {
        size_t c = nq - at < chunk ? nq - at : chunk;
        st = vindex_knn(c, q + at * (size_t)d, nb, base, d, k, metric, dist + at * k,
                        labels + at * k);
        progress_update(p, at + c);
    }
    progress_end(p);
    free(dist);
    if (st) {
        cli_error("ground truth: %s", vindex_last_error());
        return -1;
    }
    return 0;
}
