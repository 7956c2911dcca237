/* Loading real data sets for the tools: IDX files (Fashion-MNIST, gzipped or
 * not) as float32 rows. */
#ifndef VX_TOOLS_DATASET_H
#define VX_TOOLS_DATASET_H

#include <stddef.h>

typedef struct {
    float *data; /* n x d, row-major; free() it */
    size_t n;
    int d;
} dataset;

/* Reads an IDX image file (magic 0x00000803, unsigned bytes). Returns 0, or -1
 * with a message in err. */
int dataset_read_idx(const char *path, dataset *out, char *err, size_t errlen);

/* Fashion-MNIST from Debian's dataset-fashion-mnist: train (60,000) and test
 * (10,000) images of 784 dimensions. dir NULL = the Debian location. */
int dataset_fashion_mnist(const char *dir, dataset *train, dataset *test, char *err, size_t errlen);

#define FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

#endif
