#!/usr/bin/python3
"""IVF1024,Flat on Fashion-MNIST: vindex beside Debian's Faiss, in one run.

    /usr/bin/python3 bench/ivf_flat_compare.py [--build build] [--repeat 3]

Base: the 60,000 training images; queries: the first 1,000 test images; k = 10.
Both engines run with one thread (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and
VINDEX_NUM_THREADS = 1, set before the libraries load). For each engine: train
+ add time, then for nprobe in 1..32 a batch of 1,000 queries in one call and
200 queries one per call, medians over --repeat runs; recall@10 of both is
scored here against the same exact ground truth (Faiss IndexFlatL2). vindex
runs as the C program bench/ivf_flat_bench.c, built by `make` as
BUILD/vindex_ivf_flat_bench.
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

NPROBES = [1, 2, 4, 8, 16, 32]
K = 10


def recall(ids, truth):
    return float(np.mean([len(set(a) & set(b)) / K for a, b in zip(ids, truth)]))


def run_faiss(base, xq, nsingle, repeat, train_repeat, nlist):
    faiss.omp_set_num_threads(1)
    train_s, add_s = [], []
    for _ in range(train_repeat):
        quantizer = faiss.IndexFlatL2(base.shape[1])
        index = faiss.IndexIVFFlat(quantizer, base.shape[1], nlist)
        t0 = time.perf_counter()
        index.train(base)
        t1 = time.perf_counter()
        index.add(base)
        t2 = time.perf_counter()
        train_s.append(t1 - t0)
        add_s.append(t2 - t1)
    runs, ids = [], []
    for nprobe in NPROBES:
        index.nprobe = nprobe
        batch, single = [], []
        for _ in range(repeat):
            t0 = time.perf_counter()
            _, I = index.search(xq, K)
            batch.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            for i in range(nsingle):
                index.search(xq[i:i + 1], K)
            single.append(time.perf_counter() - t0)
        ids.append(I)
        runs.append({"nprobe": nprobe, "batch_s": float(np.median(batch)),
                     "single_s": float(np.median(single))})
    return {"engine": "faiss " + faiss.__version__, "train_s": float(np.median(train_s)),
            "add_s": float(np.median(add_s)), "runs": runs}, ids


def bench_binary(build):
    exe = os.path.join(build, "vindex_ivf_flat_bench")
    if not os.path.exists(exe):
        sys.exit(f"{exe} not found: run `make` (or `make build BUILD={build}`) first")
    return exe


def run_vindex(build, nq, nsingle, repeat, train_repeat, nlist):
    exe = bench_binary(build)
    with tempfile.NamedTemporaryFile(suffix=".i64") as f:
        env = dict(os.environ, VINDEX_NUM_THREADS="1")
        out = subprocess.run([exe, "--nq", str(nq), "--nsingle", str(nsingle), "--repeat",
                              str(repeat), "--train-repeat", str(train_repeat), "--nlist",
                              str(nlist), "--ids-out", f.name],
                             env=env, check=True, capture_output=True, text=True).stdout
        res = json.loads(out.strip().splitlines()[-1])
        ids = np.fromfile(f.name, dtype=np.int64).reshape(len(NPROBES), nq, K)
    return res, ids


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--train-repeat", type=int, default=3)
    ap.add_argument("--nq", type=int, default=1000)
    ap.add_argument("--nsingle", type=int, default=200)
    ap.add_argument("--nlist", type=int, default=1024)
    a = ap.parse_args()

    base, queries = fmnist.load()
    xq = np.ascontiguousarray(queries[:a.nq])
    exact = faiss.IndexFlatL2(base.shape[1])
    exact.add(base)
    _, truth = exact.search(xq, K)

    f, f_ids = run_faiss(base, xq, a.nsingle, a.repeat, a.train_repeat, a.nlist)
    v, v_ids = run_vindex(a.build, a.nq, a.nsingle, a.repeat, a.train_repeat, a.nlist)

    ft, vt = f["train_s"] + f["add_s"], v["train_s"] + v["add_s"]
    print(f"IVF{a.nlist},Flat on Fashion-MNIST (60,000 x 784), {a.nq} queries, k = {K}, "
          f"1 thread; {f['engine']} vs {v['engine']} ({v['simd']}); medians of "
          f"{a.train_repeat} builds and {a.repeat} search runs\n")
    print("| | Faiss | vindex | vindex / Faiss |")
    print("|---|---:|---:|---:|")
    print(f"| train (s) | {f['train_s']:.2f} | {v['train_s']:.2f} | {v['train_s'] / f['train_s']:.2f}x |")
    print(f"| add (s) | {f['add_s']:.2f} | {v['add_s']:.2f} | {v['add_s'] / f['add_s']:.2f}x |")
    print(f"| train + add (s) | {ft:.2f} | {vt:.2f} | {vt / ft:.2f}x |\n")
    print("| nprobe | recall@10 Faiss | recall@10 vindex | batch QPS Faiss | batch QPS vindex "
          "| speed-up | 1-query QPS Faiss | 1-query QPS vindex | speed-up |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for p, (fr, vr) in enumerate(zip(f["runs"], v["runs"])):
        rf, rv = recall(f_ids[p], truth), recall(v_ids[p], truth)
        fb, vb = a.nq / fr["batch_s"], a.nq / vr["batch_s"]
        fs, vs = a.nsingle / fr["single_s"], a.nsingle / vr["single_s"]
        print(f"| {fr['nprobe']} | {rf:.4f} | {rv:.4f} | {fb:,.0f} | {vb:,.0f} | {vb / fb:.1f}x "
              f"| {fs:,.0f} | {vs:,.0f} | {vs / fs:.1f}x |")


if __name__ == "__main__":
    main()
