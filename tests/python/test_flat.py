"""IndexFlat / IndexFlatL2 / IndexFlatIP against numpy brute force."""
import numpy as np
import pytest

import vindex as faiss
from conftest import brute_force, check_knn


@pytest.mark.parametrize("d", [1, 3, 16, 33, 64, 130])
@pytest.mark.parametrize("metric", ["l2", "ip"])
def test_search_matches_brute_force(rng, d, metric):
    xb = rng.standard_normal((500, d)).astype("float32")
    xq = rng.standard_normal((37, d)).astype("float32")
    index = faiss.IndexFlatL2(d) if metric == "l2" else faiss.IndexFlatIP(d)
    index.add(xb)
    assert index.ntotal == 500 and index.d == d and index.is_trained
    for k in (1, 5, 20):
        D, I = index.search(xq, k)
        check_knn(D, I, xq, xb, k, metric)


def test_large_batch_blas_path(rng):
    # 200 queries go through sgemm (the BLAS threshold is 20).
    xb = rng.standard_normal((3000, 48)).astype("float32")
    xq = rng.standard_normal((200, 48)).astype("float32")
    index = faiss.IndexFlatL2(48)
    index.add(xb)
    D, I = index.search(xq, 10)
    check_knn(D, I, xq, xb, 10)


def test_index_flat_metric_argument(rng):
    xb = rng.standard_normal((100, 8)).astype("float32")
    l2 = faiss.IndexFlat(8)
    ip = faiss.IndexFlat(8, faiss.METRIC_INNER_PRODUCT)
    assert l2.metric_type == faiss.METRIC_L2
    assert ip.metric_type == faiss.METRIC_INNER_PRODUCT
    assert faiss.IndexFlatIP(8).metric_type == faiss.METRIC_INNER_PRODUCT
    assert isinstance(faiss.IndexFlatL2(8), faiss.IndexFlat)
    assert isinstance(faiss.IndexFlatL2(8), faiss.Index)
    ip.add(xb)
    D, I = ip.search(xb[:4], 3)
    check_knn(D, I, xb[:4], xb, 3, "ip")


def test_faiss_metric_values():
    # Faiss's own numbering (not the C library's): scripts may store them.
    assert faiss.METRIC_INNER_PRODUCT == 0 and faiss.METRIC_L2 == 1


def test_k_larger_than_ntotal_pads(rng):
    xb = rng.standard_normal((3, 4)).astype("float32")
    for index, metric in ((faiss.IndexFlatL2(4), "l2"), (faiss.IndexFlatIP(4), "ip")):
        index.add(xb)
        D, I = index.search(xb, 6)
        check_knn(D, I, xb, xb, 6, metric)


def test_empty_index_and_empty_queries():
    index = faiss.IndexFlatL2(5)
    D, I = index.search(np.zeros((2, 5), "float32"), 3)
    assert (I == -1).all() and np.isinf(D).all()
    D, I = index.search(np.zeros((0, 5), "float32"), 3)
    assert D.shape == (0, 3) and I.shape == (0, 3)
    index.add(np.zeros((0, 5), "float32"))
    assert index.ntotal == 0


def test_input_conversion(rng):
    """float64, non-contiguous arrays, Fortran order and lists are converted."""
    xb64 = rng.standard_normal((200, 12))
    index = faiss.IndexFlatL2(12)
    index.add(xb64)
    xb = xb64.astype("float32")
    np.testing.assert_array_equal(index.reconstruct_n(0, 200), xb)
    strided = xb64[::2]
    assert not strided.flags.c_contiguous
    D, I = index.search(strided, 3)
    check_knn(D, I, strided, xb, 3)
    fortran = np.asfortranarray(xb[:10])
    D2, I2 = index.search(fortran, 3)
    np.testing.assert_array_equal(I2[:, 0], np.arange(10))
    D3, I3 = index.search(xb[:2].tolist(), 3)
    np.testing.assert_array_equal(I3[:, 0], [0, 1])
    D4, I4 = index.search(xb[:2], np.int64(3))  # numpy integer k
    np.testing.assert_array_equal(I4, I3)


def test_search_into_given_arrays(rng):
    xb = rng.standard_normal((50, 6)).astype("float32")
    index = faiss.IndexFlatL2(6)
    index.add(xb)
    D = np.empty((4, 2), "float32")
    I = np.empty((4, 2), "int64")
    D2, I2 = index.search(xb[:4], 2, D=D, I=I)
    assert D2 is D and I2 is I
    np.testing.assert_array_equal(I[:, 0], np.arange(4))
    np.testing.assert_array_equal(index.assign(xb[:4], 2), I)


def test_add_twice_continues_labels(rng):
    xb = rng.standard_normal((20, 4)).astype("float32")
    index = faiss.IndexFlatL2(4)
    index.add(xb[:10])
    index.add(xb[10:])
    D, I = index.search(xb[15:16], 1)
    assert I[0, 0] == 15


def test_reconstruct(rng):
    xb = rng.standard_normal((30, 7)).astype("float32")
    index = faiss.IndexFlatIP(7)
    index.add(xb)
    np.testing.assert_array_equal(index.reconstruct(4), xb[4])
    assert index.reconstruct(4).shape == (7,) and index.reconstruct(4).dtype == np.float32
    np.testing.assert_array_equal(index.reconstruct(np.int64(29)), xb[29])
    np.testing.assert_array_equal(index.reconstruct_n(5, 10), xb[5:15])
    np.testing.assert_array_equal(index.reconstruct_n(), xb)
    np.testing.assert_array_equal(index.reconstruct_n(25), xb[25:])
    np.testing.assert_array_equal(index.reconstruct_batch([3, 1]), xb[[3, 1]])
    out = np.empty(7, "float32")
    assert index.reconstruct(2, out) is out
    with pytest.raises(RuntimeError, match="30"):
        index.reconstruct(30)
    with pytest.raises(RuntimeError):
        index.reconstruct(-1)
    with pytest.raises(RuntimeError):
        index.reconstruct_n(25, 10)


def test_range_search(rng):
    xb = rng.standard_normal((400, 10)).astype("float32")
    xq = rng.standard_normal((9, 10)).astype("float32")
    for metric, index, radius in (("l2", faiss.IndexFlatL2(10), 9.0),
                                  ("ip", faiss.IndexFlatIP(10), 4.0)):
        index.add(xb)
        lims, D, I = index.range_search(xq, radius)
        assert lims.dtype == np.uint64 and D.dtype == np.float32 and I.dtype == np.int64
        assert lims.shape == (10,) and lims[0] == 0 and lims[-1] == len(D) == len(I)
        ref = brute_force(xq, xb, metric)
        for i in range(len(xq)):
            ids = I[lims[i]:lims[i + 1]]
            dist = D[lims[i]:lims[i + 1]]
            want = np.nonzero(ref[i] < radius if metric == "l2" else ref[i] > radius)[0]
            # Ignore vectors within float rounding of the radius.
            near = np.abs(ref[i] - radius) < 1e-3
            assert set(ids.tolist()) - set(np.nonzero(near)[0]) == set(want) - set(np.nonzero(near)[0])
            np.testing.assert_allclose(dist, ref[i, ids], rtol=1e-4, atol=1e-3)
            # sorted nearest first
            assert (np.diff(dist) >= 0).all() if metric == "l2" else (np.diff(dist) <= 0).all()


def test_range_search_empty():
    index = faiss.IndexFlatL2(3)
    lims, D, I = index.range_search(np.zeros((2, 3)), 1.0)
    assert lims.tolist() == [0, 0, 0] and len(D) == 0 and len(I) == 0
    lims, D, I = index.range_search(np.zeros((0, 3)), 1.0)
    assert lims.tolist() == [0]


def test_remove_ids_renumbers(rng):
    xb = rng.standard_normal((20, 5)).astype("float32")
    index = faiss.IndexFlatL2(5)
    index.add(xb)
    assert index.remove_ids(np.array([0, 5, 19, 100])) == 3
    assert index.ntotal == 17
    kept = np.delete(xb, [0, 5, 19], axis=0)
    np.testing.assert_array_equal(index.reconstruct_n(0, 17), kept)
    assert index.remove_ids(faiss.IDSelectorRange(0, 2)) == 2
    np.testing.assert_array_equal(index.reconstruct_n(0, 15), kept[2:])
    assert index.remove_ids(faiss.IDSelectorBatch([])) == 0
    assert index.remove_ids([]) == 0
    assert index.remove_ids(faiss.IDSelectorNot(faiss.IDSelectorRange(0, 5))) == 10
    assert index.ntotal == 5


def test_reset(rng):
    index = faiss.IndexFlatL2(4)
    index.add(rng.standard_normal((10, 4)))
    index.reset()
    assert index.ntotal == 0 and index.is_trained
    index.add(rng.standard_normal((3, 4)))
    assert index.ntotal == 3


def test_train_is_a_noop_for_flat(rng):
    index = faiss.IndexFlatL2(4)
    index.train(rng.standard_normal((10, 4)))
    assert index.is_trained and index.ntotal == 0


def test_knn_function(rng):
    xb = rng.standard_normal((300, 20)).astype("float32")
    xq = rng.standard_normal((15, 20))
    D, I = faiss.knn(xq, xb, 7)
    check_knn(D, I, xq, xb, 7, "l2")
    D, I = faiss.knn(xq, xb, 7, faiss.METRIC_INNER_PRODUCT)
    check_knn(D, I, xq, xb, 7, "ip")
    D, I = faiss.knn(xq, xb, 7, metric=faiss.METRIC_L2)
    check_knn(D, I, xq, xb, 7, "l2")


def test_normalize_L2(rng):
    x = rng.standard_normal((10, 9)).astype("float32")
    x[3] = 0
    want = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-30)
    faiss.normalize_L2(x)
    np.testing.assert_allclose(x, want, rtol=1e-5, atol=1e-6)
    assert (x[3] == 0).all()
    v = np.array([3, 4], "float32")
    faiss.normalize_L2(v)
    np.testing.assert_allclose(v, [0.6, 0.8], rtol=1e-6)


def test_threads_api():
    n = faiss.omp_get_max_threads()
    assert n >= 1
    faiss.omp_set_num_threads(1)
    assert faiss.omp_get_max_threads() == 1
    faiss.omp_set_num_threads(3)
    assert faiss.omp_get_max_threads() == 3
    faiss.omp_set_num_threads(0)  # back to the default
    assert faiss.omp_get_max_threads() == n


def test_results_do_not_depend_on_threads(rng):
    xb = rng.standard_normal((2000, 32)).astype("float32")
    xq = rng.standard_normal((100, 32)).astype("float32")
    index = faiss.IndexFlatL2(32)
    index.add(xb)
    try:
        faiss.omp_set_num_threads(1)
        D1, I1 = index.search(xq, 10)
        faiss.omp_set_num_threads(4)
        D4, I4 = index.search(xq, 10)
    finally:
        faiss.omp_set_num_threads(0)
    np.testing.assert_array_equal(I1, I4)
    np.testing.assert_array_equal(D1, D4)


def test_misc():
    assert faiss.get_num_gpus() == 0
    assert faiss.simd_level() in ("scalar", "avx2", "avx512")
    assert faiss.__version__.count(".") == 2
    index = faiss.IndexFlatL2(4)
    assert "IndexFlatL2" in repr(index) and "d=4" in repr(index)
    assert index.memory_bytes >= 0
    index.my_attribute = 1  # Faiss objects take attributes; so do ours
