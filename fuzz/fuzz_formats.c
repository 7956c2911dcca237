/* libFuzzer target: the command-line tool's vector-file readers
 * (tools/formats.c: fvecs, bvecs, ivecs, fbin, u8bin, ibin, npy, IDX with or
 * without gzip). The first input byte picks the format, the rest is the file.
 * Any file must be read or refused with a message, never crash or allocate
 * more than its size justifies. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "formats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fd = -1;
static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (fd < 0) { /* one in-memory file, rewritten for each input */
        fd = memfd_create("vindex-fuzz", 0);
        if (fd < 0)
            abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    vec_format fmt = (vec_format)(1 + data[0] % FMT_IDX);
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data + 1, size - 1, 0) != (ssize_t)(size - 1))
        abort();
    matrix m = {0};
    char err[256];
    if (matrix_read(path, fmt, &m, err, sizeof err) == 0) {
        /* what the tool does next: convert to float32 and check it */
        if (matrix_convert(&m, ELEM_F32, err, sizeof err) == 0)
            (void)matrix_check_finite(&m, "fuzz", err, sizeof err);
        matrix_free(&m);
    }
    return 0;
}
