#include "dataset.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

static int read_exact(gzFile f, void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n > 0) {
        unsigned chunk = n > (1u << 30) ? (1u << 30) : (unsigned)n;
        int got = gzread(f, p, chunk);
        if (got <= 0)
            return -1;
        p += got;
        n -= (size_t)got;
    }
    return 0;
}

static uint32_t be32(const unsigned char *b)
{
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}

int dataset_read_idx(const char *path, dataset *out, char *err, size_t errlen)
{
    out->data = NULL;
    out->n = 0;
    out->d = 0;
    gzFile f = gzopen(path, "rb"); /* also reads files that are not compressed */
    if (!f) {
        snprintf(err, errlen, "%s: cannot open", path);
        return -1;
    }
    unsigned char head[16];
    unsigned char *bytes = NULL;
    int rc = -1;
    if (read_exact(f, head, 4) != 0 || head[0] != 0 || head[1] != 0 || head[2] != 0x08) {
        snprintf(err, errlen, "%s: not an IDX file of unsigned bytes", path);
        goto done;
    }
    int ndim = head[3];
    if (ndim < 1 || ndim > 3 || read_exact(f, head + 4, 4u * (unsigned)ndim) != 0) {
        snprintf(err, errlen, "%s: bad IDX header", path);
        goto done;
    }
    size_t n = be32(head + 4), d = 1;
    for (int i = 1; i < ndim; i++)
        d *= be32(head + 4 + 4 * i);
    if (n == 0 || d == 0 || d > (1u << 20) || n > ((size_t)1 << 40) / d) {
        snprintf(err, errlen, "%s: implausible shape %zu x %zu", path, n, d);
        goto done;
    }
    bytes = malloc(n * d);
    out->data = malloc(n * d * sizeof(float));
    if (!bytes || !out->data) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto done;
    }
    if (read_exact(f, bytes, n * d) != 0) {
        snprintf(err, errlen, "%s: truncated (expected %zu x %zu bytes)", path, n, d);
        goto done;
    }
    for (size_t i = 0; i < n * d; i++)
        out->data[i] = (float)bytes[i];
    out->n = n;
    out->d = (int)d;
    rc = 0;
done:
    if (rc != 0) {
        free(out->data);
        out->data = NULL;
    }
    free(bytes);
    gzclose(f);
    return rc;
}

int dataset_fashion_mnist(const char *dir, dataset *train, dataset *test, char *err, size_t errlen)
{
    char path[1024];
    if (!dir)
        dir = FASHION_MNIST_DIR;
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", dir);
    if (dataset_read_idx(path, train, err, errlen) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte.gz", dir);
    if (dataset_read_idx(path, test, err, errlen) != 0) {
        free(train->data);
        train->data = NULL;
        return -1;
    }
    return 0;
}
