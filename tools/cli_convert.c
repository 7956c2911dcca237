/* vindex convert IN OUT [--rows N]: a vector file from one format to another. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "formats.h"

static const char USAGE[] =
    "usage: vindex convert IN OUT [--rows N]\n"
    "  Reads IN and writes OUT, each in the format its name gives (.fvecs .bvecs\n"
    "  .ivecs .fbin .u8bin .ibin .npy; IDX: names ending in ubyte or .idx, with .gz\n"
    "  for gzip). Values keep their type where the output format allows (npy and\n"
    "  IDX hold float32, uint8 or int32); a value the output type cannot hold\n"
    "  exactly (3.5 into .bvecs) is an error and nothing is written.\n"
    "  --rows N   only the first N rows\n";

int cmd_convert(int argc, char **argv)
{
    const char *in = NULL, *out = NULL, *v;
    long rows = 0;
    for (int i = 1; i < argc; i++) {
        int r;
        if (cli_flag(argv[i], "--help") || cli_flag(argv[i], "-h")) {
            fputs(USAGE, stdout);
            return 0;
        }
        if ((r = cli_opt(argc, argv, &i, "--rows", &v)) != 0) {
            if (r < 0 || cli_parse_long("--rows", v, 1, (long)1 << 40, &rows) != 0)
                return 2;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            cli_error("unknown option %s", argv[i]);
            return 2;
        } else if (!in) {
            in = argv[i];
        } else if (!out) {
            out = argv[i];
        } else {
            cli_error("too many arguments (IN OUT)");
            return 2;
        }
    }
    if (!in || !out) {
        cli_error("needs an input and an output file (vindex convert IN OUT)");
        return 2;
    }
    if (format_from_path(out) == FMT_UNKNOWN) { /* before reading anything big */
        char err[512];
        matrix none = {0};
        matrix_write(out, FMT_UNKNOWN, &none, err, sizeof err);
        cli_error("%s", err);
        return 1;
    }
    matrix m;
    char err[1024];
    if (matrix_read(in, FMT_UNKNOWN, &m, err, sizeof err) != 0) {
        cli_error("%s", err);
        return 1;
    }
    if (rows > 0 && (size_t)rows < m.n)
        m.n = (size_t)rows;
    int rc = 0;
    if (matrix_check_finite(&m, in, err, sizeof err) != 0 ||
        matrix_write(out, FMT_UNKNOWN, &m, err, sizeof err) != 0) {
        cli_error("%s", err);
        rc = 1;
    } else {
        printf("%s: %zu x %d %s -> %s (%s)\n", in, m.n, m.d, elem_name(m.type), out,
                format_name(format_from_path(out)));
    }
    matrix_free(&m);
    return rc;
}
