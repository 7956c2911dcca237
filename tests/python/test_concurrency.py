"""Python threads on one index are as safe as C threads (tests/c/test_concurrency.c):
searches, which release the GIL, run while other threads add, remove and reset,
on every family the factory builds. Each answer equals a serial search of the
index as it was after some whole number of added batches; never a half-added
vector, never an exception."""
import threading

import numpy as np
import pytest

import vindex as faiss

from conftest import clustered

D, BATCH, NBATCH = 16, 30, 6
SPECS = ["Flat", "IDMap2,Flat", "IVF8,Flat", "IVF8,PQ4x4", "IVF8,SQ8", "PQ4x4", "SQ8",
         "HNSW8", "LSH", "PQ4x4,RFlat", "PCA8,Flat"]


def _add(index, spec, x, start):
    if spec.startswith("IDMap"):
        index.add_with_ids(x, np.arange(start, start + len(x)) + 1000)
    else:
        index.add(x)


def _build(spec, train):
    index = faiss.index_factory(D, spec)
    index.train(train)
    return index


@pytest.mark.parametrize("spec", SPECS)
def test_searches_during_adds_see_whole_batches(rng, spec):
    train = clustered(rng, 600, D, 8)
    base = clustered(rng, BATCH * NBATCH, D, 8)
    xq = clustered(rng, 5, D, 8)
    batches = [base[i * BATCH:(i + 1) * BATCH] for i in range(NBATCH)]
    if spec.startswith("HNSW"):
        faiss.omp_set_num_threads(1)  # HNSW adds are reproducible with one thread
    try:
        ref = _build(spec, train)
        snapshots = [ref.search(xq, 4)]
        for i, b in enumerate(batches):
            _add(ref, spec, b, i * BATCH)
            snapshots.append(ref.search(xq, 4))

        index = _build(spec, train)
        done = threading.Event()
        errors, seen = [], []

        def reader():
            last = 0
            try:
                while True:
                    finished = done.is_set()
                    Dist, I = index.search(xq, 4)
                    match = [s for s, (Ds, Is) in enumerate(snapshots)
                             if np.array_equal(Is, I) and np.array_equal(Ds, Dist)]
                    assert match, "an answer that no snapshot gives"
                    assert match[-1] >= last, "went back in time"
                    last = match[-1]
                    seen.append(last)
                    if finished:
                        assert last == NBATCH
                        return
            except Exception as e:  # reported below
                errors.append(e)
                done.set()

        threads = [threading.Thread(target=reader) for _ in range(3)]
        for t in threads:
            t.start()
        for i, b in enumerate(batches):
            _add(index, spec, b, i * BATCH)
        done.set()
        for t in threads:
            t.join()
        assert not errors, errors[0]
        assert index.ntotal == BATCH * NBATCH
    finally:
        faiss.omp_set_num_threads(0)


@pytest.mark.parametrize("spec", ["Flat", "IVF8,Flat", "HNSW8", "SQ8"])
def test_mixed_writers_and_readers(rng, spec):
    train = clustered(rng, 600, D, 8)
    base = clustered(rng, 120, D, 8)
    index = _build(spec, train)
    index.add(base)
    errors = []

    def reader():
        try:
            for _ in range(30):
                Dist, I = index.search(base[:4], 3)
                assert ((I >= -1) & (I < 10 * len(base))).all()
                index.range_search(base[:2], 0.01)
                try:
                    faiss.serialize_index(index)
                except RuntimeError as e:  # a family without a serializer yet
                    assert "cannot be written" in str(e)
                assert index.ntotal >= 0
        except Exception as e:
            errors.append(e)

    def writer(seed):
        r = np.random.default_rng(seed)
        try:
            for _ in range(30):
                op = r.integers(4)
                if op == 0 and index.ntotal < 5 * len(base):
                    index.add(base[:40])
                elif op == 1:
                    try:
                        index.remove_ids(np.arange(5, dtype="int64"))
                    except RuntimeError:
                        pass  # a family without remove_ids
                elif op == 2:
                    index.reset()
                else:
                    index.add(base[40:60])
        except Exception as e:
            errors.append(e)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    threads += [threading.Thread(target=writer, args=(s,)) for s in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
