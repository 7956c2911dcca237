"""IndexHNSWFlat and IndexHNSWSQ: recall against numpy, efSearch (index and
per call), the hnsw attributes, removal without renumbering, validate()."""
import numpy as np
import pytest

import vindex as faiss
from conftest import clustered, exact_knn, recall_at

D = 24


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    xb = clustered(rng, 3000, D, 30, spread=0.5)
    xq = xb[:50] + 0.05 * rng.standard_normal((50, D)).astype("float32")
    return xb, xq


@pytest.fixture(scope="module")
def hnsw(data):
    index = faiss.IndexHNSWFlat(D, 16)
    index.hnsw.efConstruction = 40
    index.add(data[0])
    return index


def test_hnsw_attributes(hnsw, data):
    assert isinstance(hnsw, faiss.IndexHNSW) and hnsw.is_trained
    assert hnsw.ntotal == len(data[0])
    h = hnsw.hnsw
    assert h.efConstruction == 40 and h.efSearch == 16 and h.M == 16
    assert h.max_level >= 1 and 0 <= h.entry_point < hnsw.ntotal
    assert h.nb_neighbors(0) == 32 and h.nb_neighbors(1) == 16
    with pytest.raises(RuntimeError):
        h.max_level = 3  # read only
    with pytest.raises(AttributeError):
        h.no_such_thing = 1
    assert faiss.IndexHNSWFlat(D, 8).hnsw.max_level == -1  # empty
    unreachable, report = hnsw.validate()
    assert unreachable == 0 and isinstance(report, str)


def test_hnsw_recall_and_ef(hnsw, data):
    xb, xq = data
    _, I_ref = exact_knn(xq, xb, 10)
    hnsw.hnsw.efSearch = 64
    Dd, I = hnsw.search(xq, 10)
    assert recall_at(I, I_ref) >= 0.95
    np.testing.assert_allclose(Dd, ((xq[:, None] - xb[I]) ** 2).sum(-1), rtol=1e-4, atol=1e-4)
    # per call: efSearch=1 (a search uses max(ef, k)) is no better than 64 and
    # leaves the index's own setting alone
    lo = hnsw.search(xq, 10, params=faiss.SearchParametersHNSW(efSearch=10))[1]
    hi = hnsw.search(xq, 10, params=faiss.SearchParametersHNSW(efSearch=200))[1]
    assert recall_at(hi, I_ref) >= max(recall_at(lo, I_ref), 0.97)
    assert hnsw.hnsw.efSearch == 64
    hnsw.hnsw.efSearch = 16


def test_hnsw_ids_and_remove(data):
    xb, xq = data
    index = faiss.IndexHNSWFlat(D, 8)
    ids = np.arange(len(xb)) * 10 + 7
    index.add_with_ids(xb, ids)
    Dd, I = index.search(xb[:5], 1)
    assert I[:, 0].tolist() == ids[:5].tolist()
    assert index.remove_ids(ids[:100]) == 100
    assert index.ntotal == len(xb) - 100
    index.validate()
    Dd, I = index.search(xb[:200], 5, params=faiss.SearchParametersHNSW(efSearch=64))
    assert not np.isin(I, ids[:100]).any()  # really removed
    assert (I[100:, 0] == ids[100:200]).mean() >= 0.95  # labels unchanged
    with pytest.raises(faiss.ArgumentError):
        index.add_with_ids(xb[:1], ids[150:151])  # duplicate id


def test_hnsw_sq(data):
    xb, xq = data
    index = faiss.IndexHNSWSQ(D, faiss.ScalarQuantizer.QT_8bit_uniform, 16)
    assert not index.is_trained
    index.train(xb)
    index.add(xb)
    index.hnsw.efSearch = 64
    _, I_ref = exact_knn(xq, xb, 10)
    assert recall_at(index.search(xq, 10)[1], I_ref) >= 0.85
    assert index.validate()[0] == 0
    assert index.memory_bytes() >= len(xb) * D  # one byte per component, and the graph
    with pytest.raises(faiss.ArgumentError, match="QT_8bit_uniform"):
        faiss.IndexHNSWSQ(D, faiss.ScalarQuantizer.QT_8bit, 16)
    with pytest.raises(RuntimeError):
        faiss.IndexHNSWSQ(D, faiss.ScalarQuantizer.QT_8bit_uniform, 16,
                          faiss.METRIC_INNER_PRODUCT)


def test_hnsw_sq_fp16(data):
    """IndexHNSWSQ(d, QT_fp16, M): no training, recall and distances as fp32
    within half precision, both metrics."""
    xb, xq = data
    _, I_ref = exact_knn(xq, xb, 10)
    for ef in (16, 64):
        index = faiss.IndexHNSWSQ(D, faiss.ScalarQuantizer.QT_fp16, 16)
        assert index.is_trained
        index.add(xb)
        index.hnsw.efSearch = ef
        Dd, I = index.search(xq, 10)
        assert recall_at(I, I_ref) >= 0.98  # measured 1.0 at both
        np.testing.assert_allclose(Dd, ((xq[:, None] - xb[I]) ** 2).sum(-1), rtol=2e-3, atol=1e-3)
    assert index.validate()[0] == 0
    assert D * 2 * len(xb) <= index.memory_bytes() < D * 4 * len(xb) + 200 * len(xb)
    np.testing.assert_allclose(index.reconstruct(5), xb[5], rtol=1e-3, atol=1e-6)
    ip = faiss.IndexHNSWSQ(D, faiss.ScalarQuantizer.QT_fp16, 16, faiss.METRIC_INNER_PRODUCT)
    ip.add(xb)
    ip.hnsw.efSearch = 128
    _, I_ip = exact_knn(xq, xb, 10, "ip")
    assert recall_at(ip.search(xq, 10)[1], I_ip) >= 0.97  # measured 0.998


def test_hnsw_bad_input():
    with pytest.raises(faiss.ArgumentError, match="M"):
        faiss.IndexHNSWFlat(D, 1)
    with pytest.raises(faiss.ArgumentError):
        faiss.IndexHNSWFlat(D, 16).search(np.zeros((1, D), "float32"), 0)
    with pytest.raises(faiss.ArgumentError):
        faiss.SearchParametersHNSW(efSearch=-1)


def test_ivf_with_hnsw_quantizer(data):
    """faiss.IndexIVFFlat(faiss.IndexHNSWFlat(d, 32), d, nlist): train puts the
    centroids into the graph, searches probe through it; recall as with an
    exact quantizer. The factory's IVF<n>_HNSW<M> builds the same."""
    xb, xq = data
    _, I_ref = exact_knn(xq, xb, 10)
    nlist = 64
    hq = faiss.IndexHNSWFlat(D, 32)
    ivf = faiss.IndexIVFFlat(hq, D, nlist)
    ivf.train(xb)
    assert hq.ntotal == nlist and ivf.quantizer is hq
    ivf.add(xb)
    flat = faiss.IndexIVFFlat(faiss.IndexFlatL2(D), D, nlist)
    flat.train(xb)
    flat.add(xb)
    for nprobe in (1, 8, 32):
        ivf.nprobe = flat.nprobe = nprobe
        r, rf = recall_at(ivf.search(xq, 10)[1], I_ref), recall_at(flat.search(xq, 10)[1], I_ref)
        assert r >= rf - 0.02, (nprobe, r, rf)
    assert r >= 0.98
    f = faiss.index_factory(D, f"IVF{nlist}_HNSW16,Flat")
    assert isinstance(f, faiss.IndexIVFFlat)
    assert isinstance(f.quantizer, faiss.IndexHNSWFlat) and f.quantizer.hnsw.M == 16
    assert faiss.reverse_index_factory(f) == f"IVF{nlist}_HNSW16,Flat"
    f.train(xb)
    f.add(xb)
    f.nprobe = 32
    assert recall_at(f.search(xq, 10)[1], I_ref) >= 0.98
    # a graph whose labels are not positions cannot hand out list numbers
    custom = faiss.IndexHNSWFlat(D, 16)
    custom.add_with_ids(xb[:4], np.array([3, 9, 20, 40]))
    with pytest.raises(RuntimeError):
        faiss.IndexIVFFlat(custom, D, 4)


def test_hnsw_pq(data):
    """IndexHNSWPQ(d, pq_m, M): trained codes; at a wide beam the graph finds
    what an exhaustive IndexPQ scan of the same codes finds."""
    xb, xq = data
    index = faiss.IndexHNSWPQ(D, 6, 16)
    assert isinstance(index, faiss.IndexHNSW) and not index.is_trained
    with pytest.raises(RuntimeError):
        index.add(xb)
    index.train(xb)
    index.add(xb)
    index.hnsw.efSearch = 128
    pq = faiss.IndexPQ(D, 6, 8)
    pq.train(xb)
    pq.add(xb)
    Dg, Ig = index.search(xq, 10)
    Dp, Ip = pq.search(xq, 10)
    assert recall_at(Ig, Ip) >= 0.95
    _, I_ref = exact_knn(xq, xb, 10)
    assert recall_at(Ig, I_ref) >= 0.5  # measured 0.612: the codes' own limit
    assert index.validate()[0] == 0
    with pytest.raises(faiss.ArgumentError):
        faiss.IndexHNSWPQ(D, 5, 16)  # 5 does not divide 24
    with pytest.raises(faiss.ArgumentError):
        faiss.IndexHNSWPQ(D, 6, 16, pq_nbits=4)
