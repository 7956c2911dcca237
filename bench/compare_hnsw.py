#!/usr/bin/python3
"""HNSW on Fashion-MNIST: vindex beside Debian's hnswlib (python3-hnswlib), in one run.

    /usr/bin/python3 bench/compare_hnsw.py [--build build] [--repeat 3] [--nq 1000]

Both build with M = 16, efConstruction = 200 on one thread, then answer the
first nq test images one query per call (k = 10) for each efSearch of a sweep.
Recall@10 is measured against the same exact neighbours for both (numpy,
float64, computed once here and handed to both). QPS at recall
0.95 and 0.99 is interpolated linearly on each engine's recall-QPS curve.
vindex runs three times: IndexHNSWFlat (fp32), IndexHNSWSQ with 8-bit codes
(exact on these 8-bit pixels) and IndexHNSWSQ with fp16 codes. Memory: the growth of the process's resident set over the
build (all), and vindex_memory_bytes. Each engine runs in its own process with one thread.
The C side is bench/hnsw_bench.c, built as <build>/vindex_hnsw_bench or, when
that is missing, compiled here against <build>/libvindex.a.
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
EFS = [10, 16, 24, 32, 48, 64, 96, 128, 192, 256]


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def ground_truth(base, queries, k):
    """Exact k-NN in float64, ties by smaller index."""
    import numpy as np
    b = base.astype(np.float64)
    bn = (b * b).sum(1)
    out = []
    for i in range(0, len(queries), 100):
        q = queries[i:i + 100].astype(np.float64)
        d = (q * q).sum(1)[:, None] + bn[None, :] - 2.0 * q @ b.T
        out.append(np.argsort(d, axis=1, kind="stable")[:, :k])
    return np.concatenate(out).astype(np.int64)


def recall(labels, gt):
    k = gt.shape[1]
    return sum(len(set(labels[i]) & set(gt[i])) for i in range(len(gt))) / (len(gt) * k)


def hnswlib_worker(a):
    import numpy as np
    import hnswlib
    sys.path.insert(0, HERE)
    import fmnist
    base, queries = fmnist.load()
    queries = np.ascontiguousarray(queries[:a.nq])
    gt = np.fromfile(a.gt, dtype=np.int64).reshape(a.nq, a.k)
    rss0 = rss_bytes()
    index = hnswlib.Index(space="l2", dim=base.shape[1])
    index.set_num_threads(1)
    t0 = time.perf_counter()
    index.init_index(max_elements=base.shape[0], M=a.M, ef_construction=a.efc, random_seed=100)
    index.add_items(base, np.arange(base.shape[0]), num_threads=1)
    build_s = time.perf_counter() - t0
    rss1 = rss_bytes()
    sweep = []
    for ef in EFS:
        index.set_ef(ef)
        times = []
        labels = np.zeros((a.nq, a.k), dtype=np.int64)
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            for i in range(a.nq):
                lab, _ = index.knn_query(queries[i:i + 1], k=a.k, num_threads=1)
                labels[i] = lab[0]
            times.append(time.perf_counter() - t0)
        sweep.append({"ef": ef, "qps": a.nq / float(np.median(times)),
                      "recall": recall(labels, gt)})
    print(json.dumps({"engine": "hnswlib", "version": getattr(hnswlib, "__version__", "0.6.2"),
                      "build_s": build_s, "rss_growth_bytes": rss1 - rss0, "sweep": sweep}))


def vindex_bench_binary(build):
    exe = os.path.join(ROOT, build, "vindex_hnsw_bench")
    if os.path.exists(exe):
        return exe
    exe = os.path.join(ROOT, build, "hnsw_bench")
    libs = subprocess.run(["pkg-config", "--libs", "openblas"], capture_output=True, text=True,
                          check=True).stdout.split()
    subprocess.run(["cc", "-O2", "-I" + os.path.join(ROOT, "include"), "-I" + os.path.join(ROOT, "tools"),
                    os.path.join(HERE, "hnsw_bench.c"), os.path.join(ROOT, "tools", "dataset.c"),
                    os.path.join(ROOT, build, "libvindex.a")] + libs + ["-lz", "-lpthread", "-lm",
                                                                        "-o", exe], check=True)
    return exe


def run(cmd):
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", VINDEX_NUM_THREADS="1")
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def at_recall(sweep, target):
    """QPS where the recall-QPS curve crosses `target` (linear between sweep points)."""
    pts = sorted((s["recall"], s["qps"]) for s in sweep)
    best = None
    for (r0, q0), (r1, q1) in zip(pts, pts[1:]):
        if r0 <= target <= r1 and r1 > r0:
            q = q0 + (q1 - q0) * (target - r0) / (r1 - r0)
            best = q if best is None else max(best, q)
    if best is None and pts and pts[0][0] >= target:
        best = max(q for r, q in pts)  # every point is above the target
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--nq", type=int, default=1000)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--M", type=int, default=16)
    ap.add_argument("--efc", type=int, default=200)
    ap.add_argument("--gt", help=argparse.SUPPRESS)
    ap.add_argument("--hnswlib-worker", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.hnswlib_worker:
        hnswlib_worker(a)
        return
    import tempfile
    import numpy as np
    sys.path.insert(0, HERE)
    import fmnist
    base, queries = fmnist.load()
    gt_file = tempfile.NamedTemporaryFile(suffix=".gt", delete=False)
    ground_truth(base, queries[:a.nq], a.k).tofile(gt_file.name)
    del base, queries
    common = ["--repeat", str(a.repeat), "--nq", str(a.nq), "--k", str(a.k), "--M", str(a.M),
              "--gt", gt_file.name]
    h = run([sys.executable, os.path.abspath(__file__), "--hnswlib-worker", "--efc", str(a.efc)]
            + common)
    exe = vindex_bench_binary(a.build)
    sweep = ["--efc", str(a.efc), "--ef", ",".join(map(str, EFS))]
    engines = [("HNSWFlat", run([exe] + sweep + common)),
               ("HNSWSQ8", run([exe, "--sq8", "1"] + sweep + common)),
               ("HNSWSQfp16", run([exe, "--fp16", "1"] + sweep + common))]
    os.unlink(gt_file.name)
    print(json.dumps({"hnswlib": h, **{name: e for name, e in engines}}))
    print()
    print("| efSearch | hnswlib recall | hnswlib QPS | "
          + " | ".join(f"{n} recall | {n} QPS" for n, _ in engines) + " |")
    print("|---:|---:|---:|" + "---:|---:|" * len(engines))
    for i, sh in enumerate(h["sweep"]):
        cells = " | ".join(f"{e['sweep'][i]['recall']:.4f} | {e['sweep'][i]['qps']:.0f}"
                           for _, e in engines)
        print(f"| {sh['ef']} | {sh['recall']:.4f} | {sh['qps']:.0f} | {cells} |")
    print()

    def fmt(x):
        return f"{x:.0f}" if x else "n/a"

    def ratio(x, y):
        return f"{x / y:.2f}x" if x and y else "n/a"

    print("| | hnswlib 0.6.2 (Debian) | "
          + " | ".join(f"vindex {n} | ratio" for n, _ in engines) + " |")
    print("|---|---:|" + "---:|---:|" * len(engines))
    for target in (0.95, 0.99):
        qh = at_recall(h["sweep"], target)
        cells = " | ".join(f"{fmt(q)} | {ratio(q, qh)}"
                           for q in (at_recall(e["sweep"], target) for _, e in engines))
        print(f"| QPS at recall@10 = {target} | {fmt(qh)} | {cells} |")
    cells = " | ".join(f"{e['build_s']:.1f} | {ratio(e['build_s'], h['build_s'])}"
                       for _, e in engines)
    print(f"| build time (s), 1 thread | {h['build_s']:.1f} | {cells} |")
    hm = h["rss_growth_bytes"] / 1e6
    cells = " | ".join(f"{e['rss_growth_bytes'] / 1e6:.1f} | {e['rss_growth_bytes'] / 1e6 / hm:.2f}x"
                       for _, e in engines)
    print(f"| memory: RSS growth over the build (MB) | {hm:.1f} | {cells} |")
    cells = " | ".join(f"{e['memory_bytes'] / 1e6:.1f} | " for _, e in engines)
    print(f"| vindex_memory_bytes (MB) | | {cells} |")


if __name__ == "__main__":
    main()
