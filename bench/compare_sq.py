#!/usr/bin/python3
"""IndexScalarQuantizer on Fashion-MNIST: vindex beside Debian's Faiss, in one run.

    /usr/bin/python3 bench/compare_sq.py [--build build-sq] [--types 8bit,fp16,4bit]
                                         [--repeat 5] [--nq 1000] [--nsingle 300]

Base: the 60,000 training images; queries: the first --nsingle test images one
per call, and the first --nq in one call; recall@10 against exact search (Faiss
IndexFlatL2 for Faiss, vindex_knn for vindex; both exact). Each engine runs in
its own process, 1 thread (OMP_NUM_THREADS=1 and OPENBLAS_NUM_THREADS=1 set
before Faiss loads, VINDEX_NUM_THREADS=1). The vindex side is bench/sq_bench.c,
built by this script against <build>/libvindex.a. Medians over --repeat runs;
ratios are vindex / Faiss from the same run.
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FAISS_TYPES = {"8bit": "QT_8bit", "4bit": "QT_4bit", "8bit_uniform": "QT_8bit_uniform",
               "fp16": "QT_fp16", "bf16": "QT_bf16"}


def recall(got, truth):
    hits = sum(len(set(g) & set(t)) for g, t in zip(got.tolist(), truth.tolist()))
    return hits / truth.size


def faiss_worker(qtype, nq, nsingle, repeat, k):
    import numpy as np
    import faiss
    sys.path.insert(0, HERE)
    import fmnist
    base, queries = fmnist.load()
    d = base.shape[1]
    nmax = max(nq, nsingle)
    flat = faiss.IndexFlatL2(d)
    flat.add(base)
    _, truth = flat.search(queries[:nmax], k)
    qt = getattr(faiss.ScalarQuantizer, FAISS_TYPES[qtype], None)
    if qt is None:
        print(json.dumps({"engine": "faiss " + faiss.__version__, "type": qtype,
                          "unsupported": True}))
        return
    index = faiss.IndexScalarQuantizer(d, qt)
    t0 = time.perf_counter()
    index.train(base)
    t1 = time.perf_counter()
    index.add(base)
    t2 = time.perf_counter()
    xq = np.ascontiguousarray(queries[:nq])
    single, batch = [], []
    ids1 = np.zeros((nsingle, k), dtype="int64")
    for _ in range(repeat):
        t0s = time.perf_counter()
        for i in range(nsingle):
            _, ids1[i:i + 1] = index.search(queries[i:i + 1], k)
        single.append(time.perf_counter() - t0s)
        t0s = time.perf_counter()
        _, idsb = index.search(xq, k)
        batch.append(time.perf_counter() - t0s)
    print(json.dumps({
        "engine": "faiss " + faiss.__version__, "threads": faiss.omp_get_max_threads(),
        "type": qtype, "train_s": t1 - t0, "add_s": t2 - t1,
        "single_qps": nsingle / float(np.median(single)), "batch_qps": nq / float(np.median(batch)),
        "single_recall": recall(ids1, truth[:nsingle]), "batch_recall": recall(idsb, truth[:nq]),
        "code_size": int(index.code_size)}))


def run(cmd):
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", VINDEX_NUM_THREADS="1")
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def build_bench(build):
    exe = os.path.join(build, "sq_bench")
    libs = subprocess.run(["pkg-config", "--libs", "openblas"], check=True, capture_output=True,
                          text=True).stdout.split()
    subprocess.run(["cc", "-O2", "-I" + os.path.join(ROOT, "include"), "-I" + os.path.join(ROOT, "tools"),
                    os.path.join(HERE, "sq_bench.c"), os.path.join(ROOT, "tools", "dataset.c"),
                    os.path.join(build, "libvindex.a")] + libs + ["-lz", "-lpthread", "-lm", "-o", exe],
                   check=True)
    return exe


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build-sq")
    ap.add_argument("--types", default="8bit,fp16,4bit")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--nq", type=int, default=1000)
    ap.add_argument("--nsingle", type=int, default=300)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--faiss-worker", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.faiss_worker:
        faiss_worker(a.faiss_worker, a.nq, a.nsingle, a.repeat, a.k)
        return
    exe = build_bench(a.build)
    rows = []
    for t in a.types.split(","):
        f = run([sys.executable, os.path.abspath(__file__), "--faiss-worker", t, "--nq", str(a.nq),
                 "--nsingle", str(a.nsingle), "--repeat", str(a.repeat)])
        v = run([exe, "--type", t, "--nq", str(a.nq), "--nsingle", str(a.nsingle),
                 "--repeat", str(a.repeat)])
        rows.append((t, f, v))
        print(json.dumps({"faiss": f, "vindex": v}), file=sys.stderr)
    print("| type | engine | 1 query/call QPS | 1000/call QPS | recall@10 (single / batch) "
          "| train s | add s |")
    print("|---|---|---:|---:|---|---:|---:|")
    for t, f, v in rows:
        for name, r in (("Faiss " + f["engine"].split()[-1], f), ("vindex (" + v["simd"] + ")", v)):
            if r.get("unsupported"):
                print(f"| {t} | {name} | (no {FAISS_TYPES[t]}) | | | | |")
                continue
            print(f"| {t} | {name} | {r['single_qps']:.1f} | {r['batch_qps']:.1f} | "
                  f"{r['single_recall']:.4f} / {r['batch_recall']:.4f} | {r['train_s']:.3f} | "
                  f"{r['add_s']:.3f} |")
        if not f.get("unsupported"):
            print(f"| {t} | **ratio vindex / Faiss** | **{v['single_qps'] / f['single_qps']:.1f}x** | "
                  f"**{v['batch_qps'] / f['batch_qps']:.1f}x** | | | |")


if __name__ == "__main__":
    main()
