#!/usr/bin/python3
"""Exact search on Fashion-MNIST: vindex beside Debian's Faiss, in one run.

    /usr/bin/python3 bench/compare_flat.py [--build build] [--repeat 5]

Each engine runs in its own process with its thread count fixed before its
libraries load (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, VINDEX_NUM_THREADS), for
1 and 2 threads. Reports medians over repeats and the ratio vindex / Faiss.
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def faiss_worker(nq, nsingle, repeat, k):
    import numpy as np
    import faiss
    sys.path.insert(0, HERE)
    import fmnist
    base, queries = fmnist.load()
    index = faiss.IndexFlatL2(base.shape[1])
    index.add(base)
    xq = np.ascontiguousarray(queries[:nq])
    batch, single = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        index.search(xq, k)
        batch.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for i in range(nsingle):
            index.search(queries[i:i + 1], k)
        single.append(time.perf_counter() - t0)
    _, ids = index.search(queries[:1], k)
    print(json.dumps({"engine": "faiss " + faiss.__version__, "threads": faiss.omp_get_max_threads(),
                      "nq": nq, "nsingle": nsingle, "batch_s": float(np.median(batch)),
                      "single_s": float(np.median(single)), "first_ids": ids[0].tolist()}))


def run(cmd, threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               VINDEX_NUM_THREADS=str(threads))
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--nq", type=int, default=1000)
    ap.add_argument("--nsingle", type=int, default=300)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--faiss-worker", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.faiss_worker:
        faiss_worker(a.nq, a.nsingle, a.repeat, a.k)
        return
    common = ["--nq", str(a.nq), "--nsingle", str(a.nsingle), "--repeat", str(a.repeat),
              "--k", str(a.k)]
    rows = []
    for threads in (1, 2):
        v = run([os.path.join(a.build, "vindex_flat_bench")] + common, threads)
        f = run([sys.executable, os.path.abspath(__file__), "--faiss-worker"] + common, threads)
        if v["first_ids"] != f["first_ids"]:
            print(f"warning: first query's neighbours differ: {v['first_ids']} vs {f['first_ids']}")
        rows.append((threads, v, f))
    print(f"Fashion-MNIST 60,000 x 784, IndexFlatL2, k = {a.k}; medians of {a.repeat} runs; "
          f"vindex SIMD level {rows[0][1]['simd']}\n")
    print("| threads | mode | vindex QPS | Faiss QPS | vindex / Faiss |")
    print("|---|---|---|---|---|")
    for threads, v, f in rows:
        for mode, key, n in (("%d queries in one call" % a.nq, "batch_s", "nq"),
                             ("one query per call", "single_s", "nsingle")):
            qv = v[n] / v[key]
            qf = f[n] / f[key]
            print(f"| {threads} | {mode} | {qv:.1f} | {qf:.1f} | {qv / qf:.2f}x |")


if __name__ == "__main__":
    main()
