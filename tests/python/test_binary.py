"""IndexBinaryFlat (Faiss's: IndexBinaryFlat(d_bits)): uint8 codes in,
exact Hamming k-NN out as int32 distances, against numpy."""
import numpy as np
import pytest

import vindex as faiss

DBITS = 128


def hamming_ref(q, b):
    x = np.bitwise_xor(q[:, None, :], b[None, :, :])
    return np.unpackbits(x, axis=2).sum(axis=2).astype(np.int32)


@pytest.fixture(scope="module")
def codes():
    rng = np.random.default_rng(5)
    xb = rng.integers(0, 256, size=(2000, DBITS // 8), dtype=np.uint8)
    xq = xb[:40].copy()
    xq[:, 0] ^= 0x11  # two bits away from their source
    return xb, xq


def test_binary_flat_search_matches_numpy(codes):
    xb, xq = codes
    index = faiss.IndexBinaryFlat(DBITS)
    assert isinstance(index, faiss.IndexBinary)
    assert index.d == DBITS and index.code_size == DBITS // 8 and index.ntotal == 0
    assert index.is_trained
    index.add(xb)
    assert index.ntotal == len(xb)
    D, I = index.search(xq, 5)
    assert D.dtype == np.int32 and I.dtype == np.int64 and D.shape == (40, 5)
    ref = hamming_ref(xq, xb)
    order = np.lexsort((np.arange(len(xb))[None, :].repeat(len(xq), 0), ref), axis=1)[:, :5]
    np.testing.assert_array_equal(I, order)
    np.testing.assert_array_equal(D, np.take_along_axis(ref, order, 1))
    assert (I[:, 0] == np.arange(40)).all() and (D[:, 0] == 2).all()
    np.testing.assert_array_equal(index.reconstruct(7), xb[7])


def test_binary_flat_padding_remove_reset(codes):
    xb, xq = codes
    index = faiss.IndexBinaryFlat(DBITS)
    index.add(xb[:3])
    D, I = index.search(xq[:2], 5)
    assert (I[:, 3:] == -1).all() and (D[:, 3:] == np.iinfo(np.int32).max).all()
    assert index.remove_ids(np.array([0])) == 1
    assert index.ntotal == 2
    np.testing.assert_array_equal(index.reconstruct(0), xb[1])  # renumbered
    index.reset()
    assert index.ntotal == 0


def test_binary_flat_bad_input(codes):
    xb, _ = codes
    with pytest.raises(faiss.ArgumentError):
        faiss.IndexBinaryFlat(12)  # not a multiple of 8
    index = faiss.IndexBinaryFlat(DBITS)
    with pytest.raises(faiss.ArgumentError):
        index.add(xb[:, :3])
    with pytest.raises(faiss.ArgumentError):
        index.search(xb[:2], 0)
    index.add(xb[:2])
    with pytest.raises(RuntimeError):
        index.reconstruct(5)
    assert index.ntotal == 2
