"""Writes the fuzzers' seed corpora under fuzz/corpus/<target>/ (kept in the
repository; rerun after a family gains a serializer or a factory token):

    make && PYTHONPATH=python /usr/bin/python3 fuzz/make_corpus.py

read_index: a small valid file of every factory spec that serializes (others
are skipped until their family can be written); factory: one factory string
per file, after a metric byte; formats: small vector files in every format the
command-line tool reads, after the byte that picks the format (fuzz_formats.c).
Files that a fuzzer once crashed on live in the same folders under names
starting with "crash-"; this script never touches them.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

import vindex

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CLI = os.environ.get("VINDEX_CLI", os.path.join(ROOT, "build", "vindex"))

D = 8
SPECS = [
    "Flat", "IDMap,Flat", "IDMap2,Flat", "IVF4,Flat", "IVF4,PQ2x4", "IVF4,SQ8", "IVF4,SQ4",
    "IVF4,SQfp16", "IVF4,SQbf16", "PQ2x4", "PQ4", "SQ8", "SQ4", "SQfp16", "SQbf16",
    "HNSW4", "HNSW4,Flat", "HNSW4_SQ8", "LSH", "PQ2x4,RFlat", "PQ2x4,Refine(SQ8)",
    "PCA4,Flat", "RR8,Flat", "L2norm,Flat", "OPQ2,PQ2x4", "IDMap,IVF4,Flat", "PQ2x4fs",
    "IVF4,PQ2x4fs", "IVF4_HNSW4,Flat", "HNSW4_PQ2",
]
FACTORY_EXTRA = ["", ",", "IVF", "IVF0,Flat", "PQ3", "Refine(", "IDMap,", "HNSW4_SQ8,RFlat",
                 "OPQ4_16,IVF4,PQ4", "PCA64,Flat", "IVF4,PQ4x9", "IDMap2,PCA4,IVF4,SQ8,RFlat"]
# fuzz_formats.c: format = 1 + first byte % 8
FORMATS = ["fvecs", "bvecs", "ivecs", "fbin", "u8bin", "ibin", "npy", "idx"]


def clean(target):
    path = os.path.join(HERE, "corpus", target)
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if not name.startswith("crash-"):
            os.remove(os.path.join(path, name))
    return path


def safe(name):
    return "".join(c if c.isalnum() else "_" for c in name) or "empty"


def read_index_corpus(rng):
    out = clean("read_index")
    x = rng.standard_normal((60, D)).astype("float32")
    written = []
    for spec in SPECS:
        for metric in (vindex.METRIC_L2, vindex.METRIC_INNER_PRODUCT):
            try:
                index = vindex.index_factory(D, spec, metric)
                index.train(x)
                if spec.startswith("IDMap"):
                    index.add_with_ids(x[:40], np.arange(40) * 3 + 7)
                else:
                    index.add(x[:40])
                data = bytes(vindex.serialize_index(index))
            except (RuntimeError, ValueError):
                continue  # no such family yet, or no serializer yet
            name = safe(spec) + ("_ip" if metric else "") + ".vx"
            with open(os.path.join(out, name), "wb") as f:
                f.write(data)
            written.append(name)
    print("read_index:", " ".join(written))


def factory_corpus():
    out = clean("factory")
    for i, spec in enumerate(SPECS + FACTORY_EXTRA):
        with open(os.path.join(out, "%02d_%s" % (i, safe(spec))), "wb") as f:
            f.write(bytes([i & 1]) + spec.encode())
    print("factory: %d strings" % len(SPECS + FACTORY_EXTRA))


def formats_corpus(rng):
    out = clean("formats")
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "x.ivecs")  # small integers: every format holds them
        x = rng.integers(0, 200, size=(5, 6)).astype("int32")
        with open(src, "wb") as f:
            for row in x:
                np.array([len(row)], "int32").tofile(f)
                row.tofile(f)
        names = {"idx": ["x.idx", "x-ubyte.gz"]}
        for byte, fmt in enumerate(FORMATS):
            for name in names.get(fmt, ["x." + fmt]):
                path = os.path.join(tmp, name)
                subprocess.run([CLI, "convert", src, path, "--quiet"], check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                with open(path, "rb") as f:
                    data = f.read()
                with open(os.path.join(out, safe(name)), "wb") as f:
                    f.write(bytes([byte]) + data)
        # npy and IDX hold float32 too
        np.save(os.path.join(tmp, "f.npy"), x.astype("float32"))
        with open(os.path.join(tmp, "f.npy"), "rb") as f:
            data = f.read()
        with open(os.path.join(out, "f_npy"), "wb") as f:
            f.write(bytes([FORMATS.index("npy")]) + data)
    print("formats:", " ".join(sorted(os.listdir(out))))


def main():
    if not os.path.exists(CLI):
        sys.exit("make_corpus: %s is missing; run make first" % CLI)
    rng = np.random.default_rng(7)
    read_index_corpus(rng)
    factory_corpus()
    formats_corpus(rng)


if __name__ == "__main__":
    main()
