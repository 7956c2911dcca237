"""Fashion-MNIST loading for the Python benchmarks (Debian's dataset-fashion-mnist)."""
import gzip
import os

import numpy as np

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"


def read_idx_images(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if raw[:3] != b"\x00\x00\x08":
        raise ValueError(f"{path}: not an IDX file of unsigned bytes")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    n = dims[0]
    return data.reshape(n, -1).astype("float32")


def load(directory=FASHION_MNIST_DIR):
    """(base 60000 x 784, queries 10000 x 784), float32, raw pixel values."""
    base = read_idx_images(os.path.join(directory, "train-images-idx3-ubyte.gz"))
    queries = read_idx_images(os.path.join(directory, "t10k-images-idx3-ubyte.gz"))
    return base, queries
