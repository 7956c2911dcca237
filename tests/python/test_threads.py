"""The GIL is released during searches and adds; the per-index lock keeps
concurrent adds and searches apart."""
import threading
import time

import numpy as np

import vindex as faiss


def test_concurrent_searches_agree(rng):
    xb = rng.standard_normal((5000, 32)).astype("float32")
    xq = rng.standard_normal((64, 32)).astype("float32")
    index = faiss.IndexFlatL2(32)
    index.add(xb)
    want = index.search(xq, 5)
    errors = []

    def worker():
        try:
            for _ in range(20):
                D, I = index.search(xq, 5)
                np.testing.assert_array_equal(I, want[1])
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_gil_released_during_search(rng):
    """While one thread runs a long search, another keeps running Python."""
    xb = rng.standard_normal((100000, 64)).astype("float32")
    xq = rng.standard_normal((2000, 64)).astype("float32")
    index = faiss.IndexFlatL2(64)
    index.add(xb)
    faiss.omp_set_num_threads(1)
    try:
        done = threading.Event()
        ticks = [0]

        def spin():
            while not done.is_set():
                ticks[0] += 1
                time.sleep(0.0005)

        t = threading.Thread(target=spin)
        t.start()
        time.sleep(0.01)
        before = ticks[0]
        t0 = time.perf_counter()
        index.search(xq, 10)  # a few hundred milliseconds
        took = time.perf_counter() - t0
        during = ticks[0] - before
        done.set()
        t.join()
    finally:
        faiss.omp_set_num_threads(0)
    # With the GIL held, the spinner could not tick during the search at all.
    assert during >= 5, (during, took)


def test_concurrent_add_and_search(rng):
    d = 16
    index = faiss.IndexIDMap2(faiss.IndexFlatL2(d))
    base = rng.standard_normal((50, d)).astype("float32")
    index.add_with_ids(base, np.arange(50))
    stop = threading.Event()
    errors = []

    def searcher():
        try:
            while not stop.is_set():
                n = index.ntotal
                D, I = index.search(base[:4], 3)
                assert (I[:, 0] == np.arange(4)).all()
                assert n >= 50
        except Exception as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=searcher) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for i in range(200):
            x = rng.standard_normal((20, d)).astype("float32") + 100  # far from base
            ids = np.arange(20) + 1000 + 20 * i
            index.add_with_ids(x, ids)
            if i % 4 == 3:
                index.remove_ids(faiss.IDSelectorRange(1000 + 20 * (i - 3), 1000 + 20 * (i - 2)))
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors
    assert index.ntotal == 50 + 200 * 20 - 50 * 20
