#!/usr/bin/python3
"""What a search costs through Python beyond the C call itself.

A 1-vector k-NN search on a small IndexFlatL2 (d=64, 1000 vectors), so that the
fixed cost of a call is a visible part of its time, measured four ways on the
same data:

  C        bench/search_overhead.c calling vindex_search (compiled here with cc
           against the C library in --build, default build/)
  ext      the extension method index._search(x, k, None, D, I), outputs
           preallocated: the C extension's own cost (buffer checks, lock, GIL)
  python   index.search(x, k): the public method (numpy conversion and output
           arrays included); what users pay
  faiss    faiss.IndexFlatL2.search, when python3-faiss is installed, for scale

The C library in --build and the extension (python/vindex) must be built from
the same sources, or the comparison measures the change in between: `make`
builds both.

Each figure is the median over batches of the time per call (one clock read per
batch of calls). Run from the repository root after `make` (or `make python` and
`make build BUILD=...`):

    PYTHONPATH=python /usr/bin/python3 bench/python_overhead.py [--build build]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))
import vindex  # noqa: E402


def lcg_data(n, d):
    """The vectors bench/search_overhead.c makes: the same LCG, the same order."""
    s = 12345
    out = np.empty(n * d, dtype=np.float32)
    mask = (1 << 64) - 1
    for i in range(n * d):
        s = (s * 6364136223846793005 + 1442695040888963407) & mask
        out[i] = np.float32(s >> 40) / np.float32(1 << 24)
    return out.reshape(n, d)


def per_call_ns(fn, batches, per_batch):
    for _ in range(per_batch):  # warm up
        fn()
    times = []
    clock = time.perf_counter_ns
    for _ in range(batches):
        t0 = clock()
        for _ in range(per_batch):
            fn()
        times.append((clock() - t0) / per_batch)
    return statistics.median(times), min(times)


def run_c(args):
    lib = os.path.join(args.build, "libvindex.so")
    if not os.path.exists(lib):
        print(f"(no {lib}: build the C library first, e.g. `make build BUILD={args.build}`)",
              file=sys.stderr)
        return None
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "search_overhead")
        build = os.path.abspath(args.build)
        subprocess.run([args.cc, "-O2", "-std=c11", "-D_GNU_SOURCE",
                        "-I" + os.path.join(ROOT, "include"),
                        os.path.join(ROOT, "bench", "search_overhead.c"), "-L" + build,
                        "-lvindex", "-Wl,-rpath," + build, "-o", exe], check=True)
        out = subprocess.run([exe, "--d", str(args.d), "--n", str(args.n), "--k", str(args.k),
                              "--batches", str(args.batches), "--per-batch",
                              str(args.per_batch)], check=True, capture_output=True, text=True)
        return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build", help="CMake build dir with libvindex.so")
    ap.add_argument("--cc", default="cc")
    ap.add_argument("--d", type=int, default=64)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--batches", type=int, default=200)
    ap.add_argument("--per-batch", type=int, default=200)
    ap.add_argument("--json", action="store_true", help="print one JSON object only")
    args = ap.parse_args()

    xb = lcg_data(args.n, args.d)
    q = np.ascontiguousarray(xb[args.n // 2: args.n // 2 + 1])
    k = args.k
    index = vindex.IndexFlatL2(args.d)
    index.add(xb)
    D = np.empty((1, k), np.float32)
    I = np.empty((1, k), np.int64)
    res = {"d": args.d, "n": args.n, "k": k, "threads": vindex.omp_get_max_threads(),
           "simd": vindex.simd_level()}

    c = run_c(args)
    if c:
        assert c["label0"] == index.search(q, k)[1][0, 0]  # the same data and answer
        res["c_median_ns"], res["c_min_ns"] = c["median_ns"], c["min_ns"]
    res["ext_median_ns"], res["ext_min_ns"] = per_call_ns(
        lambda: index._search(q, k, None, D, I), args.batches, args.per_batch)
    res["python_median_ns"], res["python_min_ns"] = per_call_ns(
        lambda: index.search(q, k), args.batches, args.per_batch)
    try:
        import faiss
        findex = faiss.IndexFlatL2(args.d)
        findex.add(xb)
        res["faiss_median_ns"], res["faiss_min_ns"] = per_call_ns(
            lambda: findex.search(q, k), args.batches, args.per_batch)
        res["faiss_threads"] = faiss.omp_get_max_threads()
    except ImportError:
        pass
    if c:
        res["python_overhead_ns"] = res["python_median_ns"] - res["c_median_ns"]
        res["ext_overhead_ns"] = res["ext_median_ns"] - res["c_median_ns"]

    if args.json:
        print(json.dumps(res))
        return
    print(f"1-vector search, IndexFlatL2 d={args.d} n={args.n} k={k}, "
          f"{res['threads']} threads, {res['simd']}; median (min) per call")
    for key, label in (("c", "C vindex_search"), ("ext", "Python, index._search"),
                       ("python", "Python, index.search"), ("faiss", "faiss (Python)")):
        if f"{key}_median_ns" in res:
            print(f"  {label:24s} {res[key + '_median_ns'] / 1000:8.2f} us "
                  f"({res[key + '_min_ns'] / 1000:.2f})")
    if c:
        print(f"  Python overhead: {res['python_overhead_ns'] / 1000:.2f} us per call "
              f"({res['ext_overhead_ns'] / 1000:.2f} us of it in the extension)")


if __name__ == "__main__":
    main()
