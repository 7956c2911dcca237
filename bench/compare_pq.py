#!/usr/bin/python3
"""PQ16x8 on Fashion-MNIST: vindex beside Debian's Faiss, in one run.

    /usr/bin/python3 bench/compare_pq.py [--build build] [--repeat 5] [--train-repeat 3]
                                         [--ivf] [--faiss-ivf]

Base: the 60,000 training images; queries: the first 1,000 test images; k = 10.
Both engines run with one thread (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and
VINDEX_NUM_THREADS = 1, set before the libraries load) and the same
parameters: IndexPQ(784, 16, 8), k-means per sub-space with 25 iterations and
at most 256 points per centroid (Faiss's defaults). Reported: train time, add
time, a batch of 1,000 queries in one call (QPS), recall@10 against the exact
neighbours (Faiss IndexFlatL2), medians over the repeats, and the ratios.
vindex runs as the C program bench/pq_bench.c (compiled here against
BUILD/libvindex.a when missing or older than the library).

--ivf adds IVF1024,PQ56 (train, add, nprobe sweep) for vindex; --faiss-ivf
also times Faiss on it (about 400 s to train here).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ["OMP_NUM_THREADS"] = "1"
os.environ["OPENBLAS_NUM_THREADS"] = "1"

import numpy as np  # noqa: E402
import faiss  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import fmnist  # noqa: E402

K = 10
NPROBES = [1, 2, 4, 8, 16, 32, 48]


def recall(ids, truth):
    return float(np.mean([len(set(a) & set(b)) / K for a, b in zip(ids, truth)]))


def run_faiss_pq(base, xq, M, nbits, repeat, train_repeat):
    faiss.omp_set_num_threads(1)
    train_s, add_s = [], []
    for _ in range(train_repeat):
        index = faiss.IndexPQ(base.shape[1], M, nbits)
        t0 = time.perf_counter()
        index.train(base)
        t1 = time.perf_counter()
        index.add(base)
        t2 = time.perf_counter()
        train_s.append(t1 - t0)
        add_s.append(t2 - t1)
    batch = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        _, I = index.search(xq, K)
        batch.append(time.perf_counter() - t0)
    mem = index.ntotal * index.code_size + index.pq.centroids.size() * 4
    return {"engine": "faiss " + faiss.__version__, "train_s": float(np.median(train_s)),
            "add_s": float(np.median(add_s)), "batch_s": float(np.median(batch)),
            "memory_bytes": int(mem)}, I


def run_faiss_ivfpq(base, xq, nlist, M, nbits, repeat):
    faiss.omp_set_num_threads(1)
    quantizer = faiss.IndexFlatL2(base.shape[1])
    index = faiss.IndexIVFPQ(quantizer, base.shape[1], nlist, M, nbits)
    t0 = time.perf_counter()
    index.train(base)
    t1 = time.perf_counter()
    index.add(base)
    t2 = time.perf_counter()
    runs, ids = [], []
    for nprobe in NPROBES:
        index.nprobe = nprobe
        batch = []
        for _ in range(repeat):
            t = time.perf_counter()
            _, I = index.search(xq, K)
            batch.append(time.perf_counter() - t)
        ids.append(I)
        runs.append({"nprobe": nprobe, "batch_s": float(np.median(batch))})
    return {"train_s": t1 - t0, "add_s": t2 - t1, "runs": runs}, ids


def bench_binary(build):
    exe = os.path.join(build, "pq_bench")
    lib = os.path.join(build, "libvindex.a")
    src = os.path.join(HERE, "pq_bench.c")
    if (not os.path.exists(exe) or os.path.getmtime(exe) < os.path.getmtime(lib)
            or os.path.getmtime(exe) < os.path.getmtime(src)):
        subprocess.run(["cc", "-O2", "-I" + os.path.join(ROOT, "include"),
                        "-I" + os.path.join(ROOT, "tools"), src,
                        os.path.join(ROOT, "tools", "dataset.c"), lib, "-lopenblas",
                        "-lpthread", "-lm", "-lz", "-o", exe], check=True)
    return exe


def run_vindex(build, args, nq, nblocks):
    exe = bench_binary(build)
    with tempfile.NamedTemporaryFile(suffix=".i64") as f:
        env = dict(os.environ, VINDEX_NUM_THREADS="1")
        out = subprocess.run([exe, "--nq", str(nq), "--ids-out", f.name] + args,
                             env=env, check=True, capture_output=True, text=True).stdout
        res = json.loads(out.strip().splitlines()[-1])
        ids = np.fromfile(f.name, dtype=np.int64).reshape(nblocks, nq, K)
    return res, ids


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--train-repeat", type=int, default=3)
    ap.add_argument("--nq", type=int, default=1000)
    ap.add_argument("--M", type=int, default=16)
    ap.add_argument("--nbits", type=int, default=8)
    ap.add_argument("--ivf", action="store_true", help="also IVF1024,PQ56 (vindex)")
    ap.add_argument("--faiss-ivf", action="store_true", help="and Faiss on IVF1024,PQ56")
    a = ap.parse_args()

    base, queries = fmnist.load()
    xq = np.ascontiguousarray(queries[:a.nq])
    exact = faiss.IndexFlatL2(base.shape[1])
    exact.add(base)
    _, truth = exact.search(xq, K)

    f, f_ids = run_faiss_pq(base, xq, a.M, a.nbits, a.repeat, a.train_repeat)
    v, v_ids = run_vindex(a.build, ["--M", str(a.M), "--nbits", str(a.nbits), "--repeat",
                                    str(a.repeat), "--train-repeat", str(a.train_repeat)],
                          a.nq, 1)
    vr = v["runs"][0]
    rf, rv = recall(f_ids, truth), recall(v_ids[0], truth)
    fq, vq = a.nq / f["batch_s"], a.nq / vr["batch_s"]
    print(f"IndexPQ(784, {a.M}, {a.nbits}) on Fashion-MNIST (60,000 x 784), {a.nq} queries in "
          f"one call, k = {K}, 1 thread; {f['engine']} vs {v['engine']} ({v['simd']}); "
          f"medians of {a.train_repeat} builds and {a.repeat} searches\n")
    print("| | Faiss | vindex | vindex / Faiss |")
    print("|---|---:|---:|---:|")
    print(f"| train (s) | {f['train_s']:.2f} | {v['train_s']:.2f} | "
          f"{v['train_s'] / f['train_s']:.2f}x |")
    print(f"| add (s) | {f['add_s']:.2f} | {v['add_s']:.2f} | {v['add_s'] / f['add_s']:.2f}x |")
    print(f"| search QPS | {fq:,.0f} | {vq:,.0f} | {vq / fq:.2f}x |")
    print(f"| recall@10 | {rf:.4f} | {rv:.4f} | {rv - rf:+.4f} |")
    print(f"| memory (bytes) | {f['memory_bytes']:,} | {v['memory_bytes']:,} | "
          f"{v['memory_bytes'] / f['memory_bytes']:.2f}x |")

    if not a.ivf:
        return
    nlist, M = 1024, 56
    v, v_ids = run_vindex(a.build, ["--M", str(M), "--nbits", "8", "--nlist", str(nlist),
                                    "--nprobe", ",".join(map(str, NPROBES)), "--repeat",
                                    str(a.repeat)], a.nq, len(NPROBES))
    fi = None
    if a.faiss_ivf:
        fi, fi_ids = run_faiss_ivfpq(base, xq, nlist, M, 8, a.repeat)
    print(f"\nIVF{nlist},PQ{M} (vindex{' beside Faiss' if fi else ''}), 1 thread\n")
    if fi:
        print("| | Faiss | vindex | vindex / Faiss |")
        print("|---|---:|---:|---:|")
        print(f"| train (s) | {fi['train_s']:.1f} | {v['train_s']:.1f} | "
              f"{v['train_s'] / fi['train_s']:.2f}x |")
        print(f"| add (s) | {fi['add_s']:.2f} | {v['add_s']:.2f} | "
              f"{v['add_s'] / fi['add_s']:.2f}x |\n")
        print("| nprobe | recall@10 Faiss | recall@10 vindex | QPS Faiss | QPS vindex | "
              "speed-up |")
        print("|---:|---:|---:|---:|---:|---:|")
        for p, (fr, vrr) in enumerate(zip(fi["runs"], v["runs"])):
            fq, vq = a.nq / fr["batch_s"], a.nq / vrr["batch_s"]
            print(f"| {fr['nprobe']} | {recall(fi_ids[p], truth):.4f} | "
                  f"{recall(v_ids[p], truth):.4f} | {fq:,.0f} | {vq:,.0f} | {vq / fq:.1f}x |")
    else:
        print(f"train {v['train_s']:.1f} s, add {v['add_s']:.2f} s, memory "
              f"{v['memory_bytes']:,} bytes\n")
        print("| nprobe | recall@10 vindex | QPS vindex |")
        print("|---:|---:|---:|")
        for p, vrr in enumerate(v["runs"]):
            print(f"| {vrr['nprobe']} | {recall(v_ids[p], truth):.4f} | "
                  f"{a.nq / vrr['batch_s']:,.0f} |")


if __name__ == "__main__":
    main()
