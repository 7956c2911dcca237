"""A failing call leaves no half-built index (docs/RELIABILITY.md): on every
family the factory builds, an add that fails part-way through its checks, a
bad add_with_ids and a damaged file raise, and the index answers exactly as
before."""
import numpy as np
import pytest

import vindex as faiss

from conftest import clustered

D = 16
SPECS = ["Flat", "IDMap2,Flat", "IVF8,Flat", "IVF8,PQ4x4", "IVF8,SQ8", "PQ4x4", "SQ8",
         "HNSW8", "LSH", "PQ4x4,RFlat", "PCA8,Flat"]


def _filled(spec, rng):
    train = clustered(rng, 600, D, 8)
    index = faiss.index_factory(D, spec)
    index.train(train)
    base = clustered(rng, 200, D, 8)
    if spec.startswith("IDMap"):
        index.add_with_ids(base, np.arange(200) * 2)
    else:
        index.add(base)
    return index, clustered(rng, 5, D, 8)


@pytest.mark.parametrize("spec", SPECS)
def test_failed_add_changes_nothing(rng, spec):
    index, xq = _filled(spec, rng)
    before = index.search(xq, 5)
    bad = clustered(rng, 50, D, 8)
    bad[37, 3] = np.nan  # the last rows are checked after the first ones
    with pytest.raises((ValueError, RuntimeError)):
        if spec.startswith("IDMap"):
            index.add_with_ids(bad, np.arange(50) + 10000)
        else:
            index.add(bad)
    assert index.ntotal == 200
    after = index.search(xq, 5)
    np.testing.assert_array_equal(before[0], after[0])
    np.testing.assert_array_equal(before[1], after[1])


def test_failed_add_with_ids_changes_nothing(rng):
    index, xq = _filled("IDMap2,Flat", rng)
    before = index.search(xq, 5)
    x = clustered(rng, 4, D, 8)
    with pytest.raises((ValueError, RuntimeError)):
        index.add_with_ids(x, np.array([5000, 5001, 5001, 5002]))  # a repeated id
    with pytest.raises((ValueError, RuntimeError)):
        index.add_with_ids(x, np.array([0, 7000, 7001, 7002]))  # 0 is there already
    assert index.ntotal == 200
    np.testing.assert_array_equal(before[1], index.search(xq, 5)[1])


def test_damaged_bytes_raise_and_build_nothing(rng):
    index, xq = _filled("IVF8,Flat", rng)
    data = faiss.serialize_index(index)
    for cut in (0, 10, len(data) // 2, len(data) - 1):
        with pytest.raises(RuntimeError):
            faiss.deserialize_index(data[:cut])
    flipped = np.array(data, dtype=np.uint8).copy()
    flipped[len(flipped) // 2] ^= 0x40
    with pytest.raises(RuntimeError):
        faiss.deserialize_index(flipped)
    again = faiss.deserialize_index(data)  # the intact bytes still read
    np.testing.assert_array_equal(index.search(xq, 5)[1], again.search(xq, 5)[1])
