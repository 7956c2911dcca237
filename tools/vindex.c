/*
 * vindex: the command-line tool over the public API.
 *
 *   vindex build --spec SPEC [--metric l2|ip] [--train-size N] BASE -o INDEX
 *   vindex search INDEX QUERIES -k K [--nprobe N] [--ef N] [--json] [--ids-out FILE]
 *   vindex info INDEX
 *   vindex bench (--dataset fashion-mnist | --base B --queries Q [--gt GT]) [...]
 *   vindex synth -n N --nq NQ -d D [...] --base B [--queries Q] [--gt GT]
 *   vindex convert IN OUT [--rows N]
 *
 * Global options, anywhere on the line: --threads N, --quiet (no progress
 * bars; they are drawn only when stderr is a terminal anyway).
 * Each subcommand lives in tools/cli_<name>.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "progress.h"

static const char USAGE[] =
    "usage: vindex <command> [options]\n"
    "\n"
    "commands:\n"
    "  build   --spec SPEC [--metric l2|ip] [--train-size N] BASE -o INDEX\n"
    "          build an index from a factory string (\"Flat\", \"IVF1024,Flat\", \"HNSW32\", ...)\n"
    "  search  INDEX QUERIES -k K [--nprobe N] [--ef N] [--json] [--ids-out FILE]\n"
    "          the k nearest of each query\n"
    "  info    INDEX\n"
    "          type, dimension, count, metric, bytes, format version, checksums\n"
    "  bench   --dataset fashion-mnist | --base B --queries Q [--gt GT]\n"
    "          [--index SPEC]... [--csv F] [--json F] [--plot F.png] ...\n"
    "          memory, build time, QPS, latency and recall of several indexes\n"
    "  synth   -n N --nq NQ -d D [--clusters C] [--seed S] [-k K] [--uint8]\n"
    "          --base B [--queries Q] [--gt GT]\n"
    "          clustered Gaussian data with exact ground truth\n"
    "  convert IN OUT [--rows N]\n"
    "          between .fvecs .bvecs .ivecs .fbin .u8bin .ibin .npy and IDX\n"
    "\n"
    "global options: --threads N, --quiet, --help, --version\n"
    "`vindex <command> --help` describes a command.\n";

int main(int argc, char **argv)
{
    /* global options, anywhere: removed from argv */
    int quiet = 0, n = 1;
    long threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int r = cli_opt(argc, argv, &i, "--threads", &v);
        if (r < 0)
            return 2;
        if (r > 0) {
            if (cli_parse_long("--threads", v, 1, 4096, &threads) != 0)
                return 2;
            continue;
        }
        if (cli_flag(argv[i], "--quiet") || cli_flag(argv[i], "-q")) {
            quiet = 1;
            continue;
        }
        argv[n++] = argv[i];
    }
    argc = n;
    argv[argc] = NULL;
    progress_init(quiet);
    if (threads > 0)
        vindex_set_num_threads((int)threads);

    if (argc < 2 || cli_flag(argv[1], "--help") || cli_flag(argv[1], "-h") ||
        cli_flag(argv[1], "help")) {
        fputs(USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (cli_flag(argv[1], "--version")) {
        printf("vindex %s (SIMD %s)\n", vindex_version(), vindex_simd_level());
        return 0;
    }
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {{"build", cmd_build},     {"search", cmd_search}, {"info", cmd_info},
                {"bench", cmd_bench},     {"synth", cmd_synth},   {"convert", cmd_convert}};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(argv[1], cmds[i].name)) {
            cli_cmd = cmds[i].name;
            return cmds[i].fn(argc - 1, argv + 1);
        }
    fprintf(stderr, "vindex: unknown command \"%s\" (build, search, info, bench, synth, convert)\n",
            argv[1]);
    return 2;
}
