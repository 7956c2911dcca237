"""ProductQuantizer, IndexPQ and IndexIVFPQ: Faiss's names and behaviour,
checked against numpy (exact neighbours, decoded vectors, distance tables)."""
import numpy as np
import pytest

import vindex as faiss
from conftest import clustered, exact_knn, recall_at

D, M, NBITS = 32, 8, 6


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(99)
    xb = clustered(rng, 4000, D, 40, spread=0.4)
    xq = xb[rng.choice(len(xb), 50, replace=False)] + \
        0.05 * rng.standard_normal((50, D)).astype("float32")
    return xb, xq


@pytest.fixture(scope="module")
def pq(data):
    pq = faiss.ProductQuantizer(D, M, NBITS)
    pq.train(data[0])
    return pq


def rel_error(x, y):
    return float(((x - y) ** 2).sum() / (x ** 2).sum())


def test_codec_attributes(pq):
    assert (pq.d, pq.M, pq.nbits, pq.ksub, pq.dsub) == (D, M, NBITS, 64, 4)
    assert pq.code_size == (M * NBITS + 7) // 8 == 6
    assert pq.is_trained
    assert not faiss.ProductQuantizer(D, M, NBITS).is_trained
    assert "ProductQuantizer" in repr(pq)


def test_codes_and_decode(pq, data):
    xb = data[0]
    codes = pq.compute_codes(xb)
    assert codes.shape == (len(xb), pq.code_size) and codes.dtype == np.uint8
    x2 = pq.decode(codes)
    assert x2.shape == xb.shape and x2.dtype == np.float32
    # 64 centroids per 4-d sub-space on clustered data: a small relative error
    assert rel_error(xb, x2) < 0.12  # measured 0.092
    # decoding gives centroids, which code to themselves
    np.testing.assert_array_equal(pq.compute_codes(x2), codes)
    # each sub-vector of a decoded vector is a centroid of its sub-space
    cent = pq.centroids
    assert cent.shape == (M, pq.ksub, pq.dsub) and cent.dtype == np.float32
    sub = x2[:10].reshape(10, M, pq.dsub)
    for m in range(M):
        dist = ((sub[:, m, None, :] - cent[None, m]) ** 2).sum(-1)
        assert (dist.min(1) < 1e-10).all()


def test_untrained_codec_is_worse(data):
    """A codebook of random training points codes far worse than k-means."""
    xb = data[0]
    pq = faiss.ProductQuantizer(D, M, NBITS)
    pq.cp.niter = 0  # keep the random initial centroids
    assert pq.cp.niter == 0
    pq.train(xb)
    rough = rel_error(xb, pq.decode(pq.compute_codes(xb)))
    good = faiss.ProductQuantizer(D, M, NBITS)
    good.train(xb)
    assert rel_error(xb, good.decode(good.compute_codes(xb))) < 0.8 * rough


def test_vector_to_array_and_set_centroids(pq, data):
    cent = faiss.vector_to_array(pq.centroids).reshape(pq.M, pq.ksub, pq.dsub)
    np.testing.assert_array_equal(cent, pq.centroids)
    other = faiss.ProductQuantizer(D, M, NBITS)
    other.centroids = cent
    assert other.is_trained
    np.testing.assert_array_equal(other.compute_codes(data[1]), pq.compute_codes(data[1]))


def test_distance_tables(pq, data):
    xq = data[1][:5]
    codes = pq.compute_codes(data[0][:20])
    x2 = pq.decode(codes)
    t = pq.compute_distance_tables(xq)
    assert t.shape == (5, M, pq.ksub) and t.dtype == np.float32
    sub = np.unpackbits(codes, axis=1, bitorder="little")[:, :M * NBITS]
    ids = (sub.reshape(-1, M, NBITS) << np.arange(NBITS)).sum(-1)  # (20, M) sub-codes
    adc = np.stack([t[:, m, ids[:, m]] for m in range(M)]).sum(0)
    ref = ((xq[:, None, :] - x2[None]) ** 2).sum(-1)
    np.testing.assert_allclose(adc, ref, rtol=1e-4, atol=1e-4)
    ip = pq.compute_inner_prod_tables(xq)
    adc_ip = np.stack([ip[:, m, ids[:, m]] for m in range(M)]).sum(0)
    np.testing.assert_allclose(adc_ip, xq @ x2.T, rtol=1e-4, atol=1e-4)
    sdc = pq.compute_sdc_table()
    assert sdc.shape == (M, pq.ksub, pq.ksub)
    c = pq.centroids[0]
    np.testing.assert_allclose(sdc[0], ((c[:, None] - c[None]) ** 2).sum(-1), rtol=1e-4,
                               atol=1e-5)


def test_bad_codec_arguments(data):
    with pytest.raises(faiss.ArgumentError, match="nbits"):
        faiss.ProductQuantizer(D, M, 0)
    with pytest.raises(faiss.ArgumentError, match="nbits"):
        faiss.ProductQuantizer(D, M, 17)
    with pytest.raises(faiss.ArgumentError, match="M"):
        faiss.ProductQuantizer(30, 8, 8)  # 30 % 8 != 0
    pq = faiss.ProductQuantizer(D, M, 8)
    with pytest.raises(faiss.ArgumentError):
        pq.train(data[0][:100])  # fewer than 256 training points
    assert not pq.is_trained
    with pytest.raises(RuntimeError):
        pq.compute_codes(data[1])  # not trained
    with pytest.raises(faiss.ArgumentError):
        faiss.ProductQuantizer(D, M, NBITS).centroids = np.zeros(5, "float32")


def test_index_pq_search(data):
    xb, xq = data
    index = faiss.IndexPQ(D, M, 8)
    assert not index.is_trained
    with pytest.raises(RuntimeError):
        index.add(xb)
    index.train(xb)
    assert index.is_trained
    # trained but empty: every label is -1, as Faiss
    Dd, I = index.search(xq, 5)
    assert (I == -1).all()
    index.add(xb)
    assert index.ntotal == len(xb) and index.code_size == M
    Dd, I = index.search(xq, 10)
    _, I_ref = exact_knn(xq, xb, 10)
    assert recall_at(I, I_ref) >= 0.45  # measured 0.57 (random: 0.003)
    # distances are the exact query against the decoded base
    pq = index.pq
    assert (pq.M, pq.nbits) == (M, 8)
    dec = pq.decode(pq.compute_codes(xb))
    np.testing.assert_allclose(Dd, ((xq[:, None] - dec[I]) ** 2).sum(-1), rtol=1e-3, atol=1e-3)
    np.testing.assert_array_equal(index.reconstruct(7), dec[7])
    assert index.memory_bytes() >= len(xb) * M
    # the index's codec is read only
    with pytest.raises(RuntimeError, match="IndexPQ"):
        pq.train(xb)
    with pytest.raises(RuntimeError):
        pq.centroids = pq.centroids


def test_index_pq_inner_product(data):
    xb, xq = data
    index = faiss.IndexPQ(D, M, 8, faiss.METRIC_INNER_PRODUCT)
    index.train(xb)
    index.add(xb)
    Dd, I = index.search(xq, 10)
    _, I_ref = exact_knn(xq, xb, 10, "ip")
    assert recall_at(I, I_ref) >= 0.45  # measured 0.57 (random: 0.003)
    assert (np.diff(Dd, axis=1) <= 1e-5).all()  # largest first


@pytest.fixture(scope="module")
def ivfpq(data):
    xb = data[0]
    index = faiss.IndexIVFPQ(faiss.IndexFlatL2(D), D, 16, M, 8)
    index.train(xb)
    index.add(xb)
    return index


def test_ivfpq_search(ivfpq, data):
    xb, xq = data
    assert ivfpq.nlist == 16 and ivfpq.ntotal == len(xb) and ivfpq.code_size == M
    assert isinstance(ivfpq, faiss.IndexIVF) and ivfpq.by_residual
    assert ivfpq.use_precomputed_table == 1
    _, I_ref = exact_knn(xq, xb, 10)
    ivfpq.nprobe = 1
    r1 = recall_at(ivfpq.search(xq, 10)[1], I_ref)
    ivfpq.nprobe = 16
    Dall, Iall = ivfpq.search(xq, 10)
    assert recall_at(Iall, I_ref) >= 0.5 and recall_at(Iall, I_ref) >= r1
    # nprobe above nlist is clamped
    ivfpq.nprobe = 2048
    Dc, Ic = ivfpq.search(xq, 10)
    np.testing.assert_array_equal(Ic, Iall)
    # per-call nprobe
    ivfpq.nprobe = 1
    Dp, Ip = ivfpq.search(xq, 10, params=faiss.SearchParametersIVF(nprobe=16))
    np.testing.assert_array_equal(Ip, Iall)
    # without precomputed tables: the same neighbours
    ivfpq.use_precomputed_table = 0
    try:
        Dn, In = ivfpq.search(xq, 10, params=faiss.SearchParametersIVF(nprobe=16))
    finally:
        ivfpq.use_precomputed_table = 1
    np.testing.assert_allclose(Dn, Dall, rtol=1e-3, atol=1e-3)


def test_ivfpq_codec_and_reconstruct(ivfpq, data):
    xb = data[0]
    pq = ivfpq.pq
    assert (pq.d, pq.M, pq.nbits) == (D, M, 8) and pq.is_trained
    ivfpq.make_direct_map()
    try:
        rec = ivfpq.reconstruct(11)
    finally:
        ivfpq.make_direct_map(False)
    # centroid + decoded residual: close to the vector
    assert ((rec - xb[11]) ** 2).sum() < 0.2 * (xb[11] ** 2).sum()
    assert ivfpq.quantizer.ntotal == 16


def test_ivfpq_bad_arguments():
    with pytest.raises(faiss.ArgumentError, match="M"):
        faiss.IndexIVFPQ(faiss.IndexFlatL2(30), 30, 4, 8, 8)
    with pytest.raises(faiss.ArgumentError, match="nbits"):
        faiss.IndexIVFPQ(faiss.IndexFlatL2(D), D, 4, M, 20)
    index = faiss.IndexIVFPQ(faiss.IndexFlatL2(D), D, 4, M, 8)
    with pytest.raises(faiss.ArgumentError):
        index.train(np.zeros((10, D), "float32") + np.arange(10)[:, None])
    assert not index.is_trained
