#!/usr/bin/python3
"""IndexLSH on Fashion-MNIST: vindex beside Debian's Faiss, in one run.

    /usr/bin/python3 bench/compare_lsh.py [--build build-lsh] [--nbits 1024] [--rotate 1]
                                          [--train 0] [--repeat 5] [--nq 500] [--nsingle 100]

Base: the 60,000 training images; queries: the first --nq test images in one
call, and the first --nsingle one per call; recall@10 against exact search
(Faiss IndexFlatL2 / vindex_knn). Each engine runs in its own process, 1 thread
(OMP_NUM_THREADS=1 and OPENBLAS_NUM_THREADS=1 set before Faiss loads,
VINDEX_NUM_THREADS=1). The vindex side is bench/lsh_bench.c, built by this
script against <build>/libvindex.a. Medians over --repeat runs; ratios are
vindex / Faiss from the same run. Also reports how many bits of the first 1,000
base codes differ between the two libraries (same rotation, same seed).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def recall(got, truth):
    hits = sum(len(set(g) & set(t)) for g, t in zip(got.tolist(), truth.tolist()))
    return hits / truth.size


def faiss_worker(a):
    import numpy as np
    import faiss
    sys.path.insert(0, HERE)
    import fmnist
    base, queries = fmnist.load()
    d = base.shape[1]
    k = a.k
    nmax = max(a.nq, a.nsingle)
    flat = faiss.IndexFlatL2(d)
    flat.add(base)
    _, truth = flat.search(queries[:nmax], k)
    t0 = time.perf_counter()
    index = faiss.IndexLSH(d, a.nbits, bool(a.rotate), bool(a.train))
    t1 = time.perf_counter()
    if a.train:
        index.train(base)
    t2 = time.perf_counter()
    index.add(base)
    t3 = time.perf_counter()
    if a.codes_out:
        cs = index.code_size
        faiss.vector_to_array(index.codes)[:1000 * cs].tofile(a.codes_out)
    xq = np.ascontiguousarray(queries[:a.nq])
    single, batch = [], []
    ids1 = np.zeros((a.nsingle, k), dtype="int64")
    for _ in range(a.repeat):
        s0 = time.perf_counter()
        _, idsb = index.search(xq, k)
        batch.append(time.perf_counter() - s0)
        s0 = time.perf_counter()
        for i in range(a.nsingle):
            _, ids1[i:i + 1] = index.search(queries[i:i + 1], k)
        single.append(time.perf_counter() - s0)
    print(json.dumps({
        "engine": "faiss " + faiss.__version__, "threads": faiss.omp_get_max_threads(),
        "init_s": t1 - t0, "train_s": t2 - t1, "add_s": t3 - t2,
        "single_qps": a.nsingle / float(np.median(single)),
        "batch_qps": a.nq / float(np.median(batch)),
        "single_recall": recall(ids1, truth[:a.nsingle]), "batch_recall": recall(idsb, truth[:a.nq]),
        "code_size": int(index.code_size)}))


def run(cmd):
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", VINDEX_NUM_THREADS="1")
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def build_bench(build):
    exe = os.path.join(build, "lsh_bench")
    libs = subprocess.run(["pkg-config", "--libs", "openblas"], check=True, capture_output=True,
                          text=True).stdout.split()
    subprocess.run(["cc", "-O2", "-I" + os.path.join(ROOT, "include"), "-I" + os.path.join(ROOT, "tools"),
                    os.path.join(HERE, "lsh_bench.c"), os.path.join(ROOT, "tools", "dataset.c"),
                    os.path.join(build, "libvindex.a")] + libs + ["-lz", "-lpthread", "-lm", "-o", exe],
                   check=True)
    return exe


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build-lsh")
    ap.add_argument("--nbits", type=int, default=1024)
    ap.add_argument("--rotate", type=int, default=1)
    ap.add_argument("--train", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--nq", type=int, default=500)
    ap.add_argument("--nsingle", type=int, default=100)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--codes-out", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--faiss-worker", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.faiss_worker:
        faiss_worker(a)
        return
    exe = build_bench(a.build)
    common = ["--nbits", str(a.nbits), "--rotate", str(a.rotate), "--train", str(a.train),
              "--nq", str(a.nq), "--nsingle", str(a.nsingle), "--repeat", str(a.repeat)]
    with tempfile.TemporaryDirectory() as tmp:
        fcodes, vcodes = os.path.join(tmp, "faiss.bin"), os.path.join(tmp, "vindex.bin")
        f = run([sys.executable, os.path.abspath(__file__), "--faiss-worker", "--codes-out", fcodes]
                + common)
        v = run([exe, "--dump-codes", vcodes] + common)
        import numpy as np
        fc, vc = np.fromfile(fcodes, dtype=np.uint8), np.fromfile(vcodes, dtype=np.uint8)
        differ = int(np.unpackbits(fc ^ vc).sum()) if fc.size == vc.size else -1
    print(json.dumps({"faiss": f, "vindex": v, "code_bits_differing": differ}), file=sys.stderr)
    spec = f"IndexLSH(784, {a.nbits}, rotate_data={bool(a.rotate)}, train_thresholds={bool(a.train)})"
    print(f"{spec}, 60,000 base vectors, k = 10, 1 thread; bits differing between the two "
          f"libraries' codes of the first 1,000 base vectors: {differ} of {fc.size * 8}\n")
    print(f"| engine | {a.nq} queries in one call: QPS | 1 query/call QPS | recall@10 "
          "(batch / single) | add s |")
    print("|---|---:|---:|---|---:|")
    for name, r in (("Faiss " + f["engine"].split()[-1], f), ("vindex (" + v["simd"] + ")", v)):
        print(f"| {name} | {r['batch_qps']:.1f} | {r['single_qps']:.1f} | "
              f"{r['batch_recall']:.4f} / {r['single_recall']:.4f} | {r['add_s']:.3f} |")
    print(f"| **ratio vindex / Faiss** | **{v['batch_qps'] / f['batch_qps']:.1f}x** | "
          f"**{v['single_qps'] / f['single_qps']:.1f}x** | | |")


if __name__ == "__main__":
    main()
