/* vindex info INDEX: what an index file holds. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static const char USAGE[] =
    "usage: vindex info INDEX\n"
    "  Reads INDEX (verifying the header, the section table and every section's\n"
    "  CRC-32 on the way) and prints its type as a factory string, dimension,\n"
    "  vector count, metric, bytes in memory and on disk, file format version,\n"
    "  section count and tunables.\n";

static uint32_t le32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

int cmd_info(int argc, char **argv)
{
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (cli_flag(argv[i], "--help") || cli_flag(argv[i], "-h")) {
            fputs(USAGE, stdout);
            return 0;
        }
        if (argv[i][0] == '-' && argv[i][1]) {
            cli_error("unknown option %s", argv[i]);
            return 2;
        }
        if (path) {
            cli_error("one INDEX file, please");
            return 2;
        }
        path = argv[i];
    }
    if (!path) {
        cli_error("needs an INDEX file");
        return 2;
    }
    vindex *ix;
    if (vindex_read(&ix, path, VINDEX_IO_MMAP) != VINDEX_OK) {
        cli_error("%s", vindex_last_error());
        return 1;
    }
    /* vindex_read verified everything; the header's fields are documented in
     * docs/FORMAT.md: magic (8 bytes), version (u32), ..., section count (u32
     * at byte 32). */
    unsigned char head[64] = {0};
    struct stat st = {0};
    FILE *f = fopen(path, "rb");
    if (f) {
        if (fread(head, 1, sizeof head, f) != sizeof head)
            memset(head, 0, sizeof head);
        fstat(fileno(f), &st);
        fclose(f);
    }
    char spec[256];
    if (vindex_reverse_factory(ix, spec, sizeof spec) != VINDEX_OK)
        snprintf(spec, sizeof spec, "(no factory string)");
    printf("file:           %s\n", path);
    printf("type:           %s (%s)\n", spec, vindex_type_name(ix));
    printf("dimension:      %d\n", vindex_d(ix));
    printf("count:          %lld\n", (long long)vindex_ntotal(ix));
    printf("metric:         %s\n", cli_metric_name(vindex_metric_type(ix)));
    printf("trained:        %s\n", vindex_is_trained(ix) ? "yes" : "no");
    /* read with VINDEX_IO_MMAP: vectors, codes and lists stay in the file's
     * pages, so memory is what the index holds beside the mapping */
    printf("memory bytes:   %zu\n", vindex_memory_bytes(ix));
    printf("mapped bytes:   %lld\n", (long long)st.st_size);
    printf("file bytes:     %lld\n", (long long)st.st_size);
    printf("format version: %u\n", le32(head + 8));
    printf("sections:       %u\n", le32(head + 32));
    printf("checksums:      verified (header, section table and every section, CRC-32)\n");
    static const char *const params[] = {"nlist", "nprobe", "efSearch", "efConstruction", "M",
                                         "pq.M", "pq.nbits"};
    for (size_t i = 0; i < sizeof params / sizeof params[0]; i++) {
        double val;
        char key[40];
        snprintf(key, sizeof key, "%s:", params[i]);
        if (vindex_get_param(ix, params[i], &val) == VINDEX_OK)
            printf("%-16s%g\n", key, val);
    }
    vindex_free(ix);
    return 0;
}
