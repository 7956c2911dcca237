#!/usr/bin/python3
"""4-bit PQ fast-scan on Fashion-MNIST: vindex beside Debian's Faiss, in one run.

    PYTHONPATH=python /usr/bin/python3 bench/compare_fastscan.py [--repeat 3] [--single 300]
                                                                [--skip-faiss] [--pq-only]

Indexes (both engines built the same way, through their Python APIs):
  * IVF1024,PQ392x4fs inside IndexRefineFlat, nprobe 8, k_factor 4 (Faiss:
    IndexRefineFlat(IndexIVFPQFastScan(IndexFlatL2(784), 784, 1024, 392, 4)),
    trained and added through the refine wrapper; vindex: index_factory(784,
    "IVF1024,PQ392x4fs,RFlat"));
  * IndexPQFastScan(784, 196, 4) alone (PQ196x4fs).
Base: the 60,000 training images; queries: the first 1,000 test images; k = 10.
One thread for both (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, VINDEX_NUM_THREADS
set before the libraries load). Reported per engine: train time (one run),
add time, 1,000 queries in one call (QPS, median of --repeat), one query per
call (QPS over the first --single queries, median of --repeat), each by wall
clock and by the process's CPU time (steadier on a shared machine), recall@10
against exact neighbours (Faiss IndexFlatL2), and the ratios vindex / Faiss.
Everything is trained in this run; nothing is cached.
"""
import argparse
import os
import sys
import time

os.environ["OMP_NUM_THREADS"] = "1"
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["VINDEX_NUM_THREADS"] = "1"

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "python"))
import fmnist  # noqa: E402
import vindex  # noqa: E402

K = 10


def recall(ids, truth):
    return float(np.mean([len(set(a) & set(b)) / K for a, b in zip(ids, truth)]))


def timed(fn):
    """(wall seconds, CPU seconds of this process) of fn(): on a busy machine
    the CPU time of a one-thread run is the steadier of the two."""
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w0, time.process_time() - c0, out


def measure(index, xq, truth, repeat, nsingle):
    batch, single = [], []
    for _ in range(repeat):
        w, c, (_, ids) = timed(lambda: index.search(xq, K))
        batch.append((w, c))
    for _ in range(repeat):
        w, c, _ = timed(lambda: [index.search(xq[i:i + 1], K) for i in range(nsingle)])
        single.append((w, c))
    med = lambda runs, j: float(np.median([r[j] for r in runs]))  # noqa: E731
    return {"batch_qps": len(xq) / med(batch, 0), "single_qps": nsingle / med(single, 0),
            "batch_qps_cpu": len(xq) / med(batch, 1), "single_qps_cpu": nsingle / med(single, 1),
            "recall": recall(ids, truth)}


def build(make, base):
    index = make()
    t0 = time.perf_counter()
    index.train(base)
    t1 = time.perf_counter()
    index.add(base)
    t2 = time.perf_counter()
    return index, {"train_s": t1 - t0, "add_s": t2 - t1}


def setups(lib, is_faiss):
    keep = []  # Faiss's Python objects must outlive the index that points to them

    def ivf():
        if is_faiss:
            keep.append(lib.IndexIVFPQFastScan(lib.IndexFlatL2(784), 784, 1024, 392, 4))
            return lib.IndexRefineFlat(keep[-1])
        return lib.index_factory(784, "IVF1024,PQ392x4fs,RFlat")

    def tune_ivf(index):
        if is_faiss:  # Faiss 1.7.3's extract_index_ivf does not look inside IndexRefine
            keep[-1].nprobe = 8
        else:  # IndexRefine passes tunables it does not know to its base
            index._set_param("nprobe", 8)
        index.k_factor = 4

    def pq():
        return lib.IndexPQFastScan(784, 196, 4)

    return [("IVF1024,PQ392x4fs,RFlat nprobe 8 k_factor 4", ivf, tune_ivf),
            ("PQ196x4fs", pq, lambda index: None)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--single", type=int, default=300)
    ap.add_argument("--skip-faiss", action="store_true")
    ap.add_argument("--faiss-only", action="store_true")
    ap.add_argument("--pq-only", action="store_true")
    ap.add_argument("--ivf-only", action="store_true")
    args = ap.parse_args()
    base, queries = fmnist.load()
    xq = np.ascontiguousarray(queries[:1000])
    engines = [] if args.faiss_only else [("vindex " + vindex.__version__, vindex, False)]
    if not args.skip_faiss:
        import faiss
        faiss.omp_set_num_threads(1)
        engines.append(("faiss " + faiss.__version__, faiss, True))
        flat = faiss.IndexFlatL2(784)
        flat.add(base)
        _, truth = flat.search(xq, K)
    else:
        flat = vindex.IndexFlatL2(784)
        flat.add(base)
        _, truth = flat.search(xq, K)
    vindex.omp_set_num_threads(1)
    rows = {}
    for name, lib, is_faiss in engines:
        for i, (label, make, tune) in enumerate(setups(lib, is_faiss)):
            if (args.pq_only and i == 0) or (args.ivf_only and i == 1):
                continue
            index, times = build(make, base)
            tune(index)
            res = measure(index, xq, truth, args.repeat, args.single)
            res.update(times)
            rows[(label, name)] = res
            print(f"{label:45s} {name:14s} train {res['train_s']:7.2f} s  add "
                  f"{res['add_s']:6.2f} s  batch {res['batch_qps']:8.0f} QPS "
                  f"({res['batch_qps_cpu']:.0f} by CPU time)  single "
                  f"{res['single_qps']:7.0f} QPS ({res['single_qps_cpu']:.0f})  recall@10 "
                  f"{res['recall']:.4f}", flush=True)
            del index
    if len(engines) == 2:
        for label, _, _ in setups(vindex, False):
            v = rows.get((label, engines[0][0]))
            f = rows.get((label, engines[1][0]))
            if not v or not f:
                continue
            print(f"{label:45s} vindex/faiss: train {f['train_s'] / v['train_s']:.2f}x faster, "
                  f"batch {v['batch_qps'] / f['batch_qps']:.2f}x "
                  f"({v['batch_qps_cpu'] / f['batch_qps_cpu']:.2f}x by CPU time), single "
                  f"{v['single_qps'] / f['single_qps']:.2f}x "
                  f"({v['single_qps_cpu'] / f['single_qps_cpu']:.2f}x), recall "
                  f"{v['recall'] - f['recall']:+.4f}")


if __name__ == "__main__":
    main()
