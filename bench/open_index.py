#!/usr/bin/python3
"""Time to open a Fashion-MNIST index: read_index with IO_FLAG_MMAP (arrays used in
place, every checksum verified) and without (arrays copied), best of 3.

    PYTHONPATH=python /usr/bin/python3 bench/open_index.py
"""
import sys, time
sys.path.insert(0, "bench"); sys.path.insert(0, "python")
import fmnist, vindex
xb, xq = fmnist.load()
for name, ix in (("Flat", vindex.IndexFlatL2(784)), ("HNSWFlat M16", vindex.IndexHNSWFlat(784, 16))):
    ix.add(xb)
    path = "/tmp/vindex-open-%s.vx" % name.split()[0]
    vindex.write_index(ix, path)
    for flags, label in ((vindex.IO_FLAG_MMAP, "mmap"), (0, "copy")):
        ts = []
        for r in range(3):
            t = time.perf_counter(); m = vindex.read_index(path, flags); ts.append(time.perf_counter() - t)
            del m
        print(name, label, "open ms: %.1f" % (min(ts) * 1e3))
