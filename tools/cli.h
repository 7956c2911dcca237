/*
 * The `vindex` command-line tool: one file per subcommand (cli_<name>.c), the
 * shared pieces in cli_common.c. Everything goes through the public API
 * (vindex.h) and the file formats of formats.h.
 *
 * Conventions: a subcommand returns 0 on success; on bad input it prints one
 * line on stderr ("vindex <subcommand>: what went wrong"), writes nothing, and
 * returns 1 (2 for a usage error). Results go to stdout or to the files named
 * on the command line; progress bars to stderr (progress.h).
 */
#ifndef VX_TOOLS_CLI_H
#define VX_TOOLS_CLI_H

#include <stddef.h>

#include "vindex.h"

int cmd_build(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_convert(int argc, char **argv);

/* The subcommand running, for messages. */
extern const char *cli_cmd;

/* Prints "vindex <cmd>: <message>" and a newline on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Option parsing over argv[*i]: when it is `name` ("--spec VALUE" or
 * "--spec=VALUE"), sets *val, advances *i past the value and returns 1; returns
 * 0 when argv[*i] is another argument, -1 (message printed) when the value is
 * missing. */
int cli_opt(int argc, char **argv, int *i, const char *name, const char **val);
/* Flags without a value: 1 when argv[i] is name. */
int cli_flag(const char *arg, const char *name);

/* Integer / float option values in [lo, hi]; -1 with a message otherwise. */
int cli_parse_long(const char *opt, const char *s, long lo, long hi, long *out);
int cli_parse_double(const char *opt, const char *s, double lo, double hi, double *out);
/* A comma-separated list of positive integers ("1,2,4,8"); -1 with a message. */
int cli_parse_int_list(const char *opt, const char *s, int *out, int max, int *n);
int cli_parse_metric(const char *s, vindex_metric *m);
const char *cli_metric_name(vindex_metric m);

/* Builds an index from spec over n vectors x (n x d): factory, train on
 * train_size rows spread evenly over x (0 = all of them) when the index needs
 * training, add in chunks with a progress bar, with the
 * ids given (NULL: 0..n-1, passed explicitly to an IDMap, which needs them). Times go to *train_s and
 * *add_s (may be NULL). On failure prints the library's message and returns
 * -1 with *out NULL; the status (for skipping unsupported specs) goes to *st
 * when not NULL. quiet_unsupported: return VINDEX_ERR_UNSUPPORTED from the
 * factory without printing. */
int cli_build_index(vindex **out, const char *spec, vindex_metric metric, const float *x,
                    size_t n, int d, const vindex_id *ids, size_t train_size, double *train_s,
                    double *add_s, vindex_status *st, int quiet_unsupported);

/* Exact k nearest neighbours (ground truth) of nq queries, in chunks with a
 * progress bar. */
int cli_ground_truth(const float *q, size_t nq, const float *base, size_t nb, int d, size_t k,
                     vindex_metric metric, vindex_id *labels);

/* 1 when the file exists. */
int cli_exists(const char *path);

#endif
