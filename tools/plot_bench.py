#!/usr/bin/python3
"""Recall against QPS, one curve per index, from the CSV of `vindex bench`.

    /usr/bin/python3 tools/plot_bench.py RESULTS.csv OUT.png [TITLE]

Run by `vindex bench --plot` with Debian's interpreter (python3-matplotlib).
Each index is one curve over its sweep (nprobe or efSearch) of recall@10
against batch QPS (log scale); an index without a sweep is one point.
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(argv):
    if len(argv) < 3:
        sys.stderr.write("usage: plot_bench.py RESULTS.csv OUT.png [TITLE]\n")
        return 2
    curves = {}
    with open(argv[1], newline="") as f:
        for row in csv.DictReader(f):
            try:
                qps = float(row["qps_batch"])
                rec = float(row["recall@10"] or row["recall@1"])
            except (KeyError, ValueError):
                continue
            curves.setdefault(row["index"], []).append((rec, qps, row["params"]))
    if not curves:
        sys.stderr.write("plot_bench.py: no rows with recall and QPS in %s\n" % argv[1])
        return 1
    fig, ax = plt.subplots(figsize=(9, 6))
    for name, pts in curves.items():
        xs = [p[0] for p in pts]
        ys = [p[1] for p in pts]
        ax.plot(xs, ys, marker="o", markersize=4, label=name)
    ax.set_xlabel("recall@10")
    ax.set_ylabel("queries per second (batch)")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    if len(argv) > 3:
        ax.set_title(argv[3], fontsize=8, wrap=True)
    fig.tight_layout()
    fig.savefig(argv[2], dpi=120)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
