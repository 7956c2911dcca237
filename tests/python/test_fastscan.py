"""IndexPQFastScan and IndexIVFPQFastScan: Faiss's constructors and attributes,
the neighbours of the plain 4-bit PQ indexes on the same codes, refinement,
the factory strings, and bad input."""
import numpy as np
import pytest

import vindex as faiss
from conftest import clustered, exact_knn, recall_at

D, M, K = 32, 16, 10


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(5)
    xb = clustered(rng, 5000, D, 40, spread=0.4)
    xq = xb[rng.choice(len(xb), 50, replace=False)] + \
        0.05 * rng.standard_normal((50, D)).astype("float32")
    return xb, xq


def overlap(a, b):
    return float(np.mean([len(set(x) & set(y)) / len(x) for x, y in zip(a, b)]))


@pytest.mark.parametrize("metric", [faiss.METRIC_L2, faiss.METRIC_INNER_PRODUCT])
def test_pq_fastscan_matches_indexpq(data, metric):
    xb, xq = data
    fs = faiss.IndexPQFastScan(D, M, 4, metric)
    pq = faiss.IndexPQ(D, M, 4, metric)
    for ix in (fs, pq):
        ix.train(xb)
    _, I0 = fs.search(xq[:3], K)  # trained, empty: -1 as Faiss
    assert (I0 == -1).all()
    for ix in (fs, pq):
        ix.add(xb)
    Df, If = fs.search(xq, K)
    Dp, Ip = pq.search(xq, K)
    assert overlap(If, Ip) >= 0.95
    same = If == Ip
    assert same.mean() > 0.5
    np.testing.assert_array_equal(Df[same], Dp[same])  # rescored: IndexPQ's distances
    fs.rescore = 0
    Da, Ia = fs.search(xq, K)
    assert overlap(Ia, Ip) >= 0.9
    assert fs.rescore == 0 and fs.bbs == 32
    assert fs.pq.M == M and fs.pq.nbits == 4 and fs.code_size == M // 2
    assert fs.ntotal == len(xb) and fs.is_trained
    np.testing.assert_array_equal(fs.reconstruct(7), pq.reconstruct(7))


def test_ivfpq_fastscan_and_refine(data):
    xb, xq = data
    _, Iref = exact_knn(xq, xb, K)
    ivf = faiss.IndexIVFPQFastScan(faiss.IndexFlatL2(D), D, 16, M, 4)
    plain = faiss.IndexIVFPQ(faiss.IndexFlatL2(D), D, 16, M, 4)
    for ix in (ivf, plain):
        ix.train(xb)
        ix.add(xb)
        ix.nprobe = 4
    assert ivf.nprobe == 4 and ivf.nlist == 16 and ivf.bbs == 32
    _, If = ivf.search(xq, K)
    _, Ip = plain.search(xq, K)
    assert overlap(If, Ip) >= 0.9
    # per-call nprobe
    _, I1 = ivf.search(xq, K, params=faiss.SearchParametersIVF(nprobe=4))
    np.testing.assert_array_equal(I1, If)
    for ix in (ivf, plain):
        ix.set_direct_map_type(faiss.DirectMap.Hashtable)
    np.testing.assert_array_equal(ivf.reconstruct(11), plain.reconstruct(11))
    assert ivf.remove_ids(np.arange(100, dtype="int64")) == 100
    assert ivf.ntotal == len(xb) - 100

    rf = faiss.index_factory(D, "IVF16,PQ16x4fs,RFlat")
    assert isinstance(rf, faiss.IndexRefineFlat)
    rf.train(xb)
    rf.add(xb)
    rf._set_param("nprobe", 8)
    rf.k_factor = 1
    r1 = recall_at(rf.search(xq, K)[1], Iref)
    rf.k_factor = 8
    r8 = recall_at(rf.search(xq, K)[1], Iref)
    assert r8 >= 0.9 and r8 > r1


def test_factory_and_reverse():
    for spec, cls in [("PQ16x4fs", faiss.IndexPQFastScan),
                      ("IVF8,PQ8x4fs", faiss.IndexIVFPQFastScan),
                      ("PQ8x4fs,RFlat", faiss.IndexRefineFlat)]:
        ix = faiss.index_factory(D, spec)
        assert isinstance(ix, cls)
        assert faiss.reverse_index_factory(ix) == spec


def test_bad_input():
    with pytest.raises(faiss.ArgumentError, match="nbits = 4"):
        faiss.IndexPQFastScan(D, M, 8)
    with pytest.raises(faiss.ArgumentError, match="nbits = 4"):
        faiss.IndexIVFPQFastScan(faiss.IndexFlatL2(D), D, 8, M, 5)
    with pytest.raises(faiss.ArgumentError, match="multiple of M"):
        faiss.IndexPQFastScan(30, 8, 4)
    with pytest.raises(faiss.ArgumentError, match="bbs"):
        faiss.IndexPQFastScan(D, M, 4, bbs=64)
    ix = faiss.IndexPQFastScan(D, M, 4)
    with pytest.raises(faiss.ArgumentError, match="at least 16"):
        ix.train(np.zeros((10, D), "float32"))


def test_write_read_serialize(data, tmp_path):
    xb, xq = data
    for ix in (faiss.IndexPQFastScan(D, M, 4),
               faiss.IndexIVFPQFastScan(faiss.IndexFlatL2(D), D, 16, M, 4)):
        ix.train(xb)
        ix.add(xb)
        D0, I0 = ix.search(xq, K)
        path = str(tmp_path / "fs.vx")
        faiss.write_index(ix, path)
        for flags in (0, faiss.IO_FLAG_MMAP):
            back = faiss.read_index(path, flags)
            assert type(back) is type(ix)
            D1, I1 = back.search(xq, K)
            np.testing.assert_array_equal(I0, I1)
            np.testing.assert_array_equal(D0, D1)
        back = faiss.deserialize_index(faiss.serialize_index(ix))
        np.testing.assert_array_equal(back.search(xq, K)[1], I0)
