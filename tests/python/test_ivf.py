"""IndexIVFFlat from Python: recall against numpy brute force at several nprobe,
exact search at nprobe = nlist, ids, removal, direct maps, merging, per-call
nprobe, the inverted lists, the quantizer's ownership, and bad input."""
import gc
import weakref

import numpy as np
import pytest

import vindex as faiss
from conftest import check_knn, clustered, exact_knn, recall_at

D_ = 32
NLIST = 64


@pytest.fixture(scope="module")
def data():
    """Clustered base vectors (100 clouds, more than nlist) and queries near them."""
    rng = np.random.default_rng(1234)
    xb = clustered(rng, 6000, D_, 100, spread=0.8)
    xq = xb[rng.choice(len(xb), 200, replace=False)] + \
        0.3 * rng.standard_normal((200, D_)).astype("float32")
    return xb, xq


@pytest.fixture(scope="module")
def trained(data):
    """An IVF index trained and filled with data's base vectors (do not change it)."""
    xb, _ = data
    index = faiss.IndexIVFFlat(faiss.IndexFlatL2(D_), D_, NLIST)
    index.train(xb)
    index.add(xb)
    return index


def new_like(trained, metric=faiss.METRIC_L2):
    """An empty IVF index over a copy of trained's centroids (trained already)."""
    q = faiss.IndexFlatL2(D_) if metric == faiss.METRIC_L2 else faiss.IndexFlatIP(D_)
    q.add(trained.quantizer.reconstruct_n(0, trained.nlist))
    index = faiss.IndexIVFFlat(q, D_, trained.nlist, metric)
    assert index.is_trained  # the quantizer holds nlist centroids: no k-means needed
    return index


# ---------------------------------------------------------------------------
# search quality
# ---------------------------------------------------------------------------

# recall@10 on this data is about 0.91 / 0.97 / 0.998 at nprobe 1 / 4 / 16: the
# thresholds fail if nprobe is ignored (0.91 everywhere) or the lists are wrong.
@pytest.mark.parametrize("nprobe,min_recall", [(1, 0.85), (4, 0.95), (16, 0.99), (NLIST, 1.0)])
def test_recall_at_10_grows_with_nprobe(data, trained, nprobe, min_recall):
    xb, xq = data
    _, I_ref = exact_knn(xq, xb, 10)
    D, I = trained.search(xq, 10, params=faiss.SearchParametersIVF(nprobe=nprobe))
    assert D.shape == (200, 10) and I.dtype == np.int64 and D.dtype == np.float32
    assert recall_at(I, I_ref) >= min_recall
    assert (np.diff(D, axis=1) >= 0).all()  # nearest first


def test_nprobe_all_lists_is_exact_and_clamped(data, trained):
    xb, xq = data
    flat = faiss.IndexFlatL2(D_)
    flat.add(xb)
    D_ref, I_ref = flat.search(xq[:50], 10)
    for nprobe in (NLIST, NLIST + 1, 10 * NLIST):  # above nlist: clamped, as Faiss
        D, I = trained.search(xq[:50], 10, params=faiss.SearchParametersIVF(nprobe=nprobe))
        np.testing.assert_allclose(D, D_ref, rtol=1e-5, atol=1e-4)
        assert (I == I_ref).mean() > 0.99  # same up to ties
        check_knn(D[:5], I[:5], xq[:5], xb, 10)


def test_inner_product(data):
    xb, xq = data
    xb = xb / np.linalg.norm(xb, axis=1, keepdims=True)
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(D_), D_, 32, faiss.METRIC_INNER_PRODUCT)
    assert index.metric_type == faiss.METRIC_INNER_PRODUCT
    index.train(xb)
    index.add(xb)
    _, I_ref = exact_knn(xq, xb, 10, "ip")
    index.nprobe = 32
    D, I = index.search(xq, 10)
    assert recall_at(I, I_ref) > 0.99
    assert (np.diff(D, axis=1) <= 0).all()  # largest inner product first
    index.nprobe = 4
    assert recall_at(index.search(xq, 10)[1], I_ref) > 0.9


def test_nprobe_attribute_and_per_call_parameter_agree(data, trained):
    _, xq = data
    assert trained.nprobe == 1  # Faiss's default
    try:
        for nprobe in (1, 3, 8):
            trained.nprobe = nprobe
            assert trained.nprobe == nprobe
            D1, I1 = trained.search(xq, 5)
            trained.nprobe = 1
            D2, I2 = trained.search(xq, 5, params=faiss.SearchParametersIVF(nprobe=nprobe))
            assert trained.nprobe == 1  # the per-call setting does not stick
            np.testing.assert_array_equal(I1, I2)
            np.testing.assert_array_equal(D1, D2)
        # nprobe=0 in the parameters means the index's own setting
        trained.nprobe = 8
        D3, I3 = trained.search(xq, 5, params=faiss.SearchParametersIVF())
        np.testing.assert_array_equal(I3, trained.search(xq, 5)[1])
    finally:
        trained.nprobe = 1


def test_range_search_matches_brute_force(data, trained):
    xb, xq = data
    Dk, _ = exact_knn(xq[:20], xb, 5)
    radius = float(np.median(Dk[:, -1]))
    lims, D, I = trained.range_search(xq[:20], radius,
                                      params=faiss.SearchParametersIVF(nprobe=NLIST))
    assert lims.dtype == np.uint64 and len(lims) == 21
    ref = ((xq[:20, None, :].astype(np.float64) - xb[None]) ** 2).sum(-1)
    for i in range(20):
        want = set(np.nonzero(ref[i] < radius)[0].tolist())
        got = I[lims[i]:lims[i + 1]].tolist()
        # allow vectors within float rounding of the radius to differ
        near = set(np.nonzero(np.abs(ref[i] - radius) < 1e-3 * radius)[0].tolist())
        assert set(got) ^ want <= near
    lims1, _, _ = trained.range_search(xq[:20], radius)  # nprobe 1: a subset
    assert (lims1[1:] - lims1[:-1] <= lims[1:] - lims[:-1]).all()


# ---------------------------------------------------------------------------
# inverted lists
# ---------------------------------------------------------------------------


def test_invlists_sizes_ids_and_imbalance(data, trained):
    xb, _ = data
    inv = trained.invlists
    assert trained.nlist == NLIST == inv.nlist
    sizes = np.array([inv.list_size(i) for i in range(NLIST)])
    assert sizes.sum() == trained.ntotal == len(xb) == inv.compute_ntotal()
    np.testing.assert_array_equal(sizes, inv.list_sizes())
    expect = NLIST * (sizes.astype(np.float64) ** 2).sum() / len(xb) ** 2
    assert inv.imbalance_factor() == pytest.approx(expect)
    assert 1.0 <= inv.imbalance_factor() < 3.0
    # each vector sits in the list of its nearest centroid
    ids = np.concatenate([inv.get_ids(i) for i in range(NLIST)])
    assert sorted(ids.tolist()) == list(range(len(xb)))
    _, assign = trained.quantizer.search(xb[:300], 1)
    for l in np.unique(assign[:, 0])[:10]:
        members = set(inv.get_ids(int(l)).tolist())
        assert set(np.nonzero(assign[:, 0] == l)[0].tolist()) <= members
    with pytest.raises(ValueError, match="out of range"):
        inv.list_size(NLIST)
    with pytest.raises(ValueError, match="out of range"):
        inv.get_ids(-1)
    assert faiss.extract_index_ivf(trained) is trained


def test_extract_index_ivf_refuses_other_indexes():
    with pytest.raises(RuntimeError, match="not an IVF index"):
        faiss.extract_index_ivf(faiss.IndexFlatL2(4))


# ---------------------------------------------------------------------------
# ids, removal, reconstruction, merging, reset
# ---------------------------------------------------------------------------


def test_add_with_ids(data, trained):
    xb, xq = data
    index = new_like(trained)
    ids = np.random.default_rng(3).choice(10**12, size=2000, replace=False)
    index.add_with_ids(xb[:2000], ids)
    assert index.ntotal == 2000
    index.nprobe = NLIST
    D, I = index.search(xq[:20], 5)
    check_knn(D, I, xq[:20], xb[:2000], 5, labels=ids)


def test_remove_ids(data, trained):
    xb, xq = data
    index = new_like(trained)
    index.add(xb[:1000])
    assert index.remove_ids(np.arange(0, 1000, 2)) == 500
    assert index.ntotal == 500 == index.invlists.compute_ntotal()
    assert index.remove_ids(faiss.IDSelectorRange(0, 100)) == 50
    assert index.remove_ids(np.array([0, 2, 4])) == 0  # already gone
    index.nprobe = NLIST
    keep = np.arange(101, 1000, 2)
    D, I = index.search(xq[:20], 5)
    check_knn(D, I, xq[:20], xb[keep], 5, labels=keep)
    index.add(xb[:3])  # labels continue from ntotal
    assert index.ntotal == 453


def test_reconstruct_needs_make_direct_map(data, trained):
    xb, _ = data
    index = new_like(trained)
    index.add(xb[:500])
    assert index.direct_map.type == faiss.DirectMap.NoMap and index.direct_map.no()
    with pytest.raises(RuntimeError, match="make_direct_map"):
        index.reconstruct(7)
    index.make_direct_map()
    assert index.direct_map.type == faiss.DirectMap.Array
    np.testing.assert_array_equal(index.reconstruct(7), xb[7])
    np.testing.assert_array_equal(index.reconstruct_n(10, 5), xb[10:15])
    index.add(xb[500:600])  # the map follows later adds
    np.testing.assert_array_equal(index.reconstruct(550), xb[550])
    with pytest.raises(RuntimeError, match="not in the index"):
        index.reconstruct(600)
    with pytest.raises(RuntimeError, match="array direct map"):
        index.remove_ids(np.array([1]))
    index.make_direct_map(False)
    with pytest.raises(RuntimeError, match="make_direct_map"):
        index.reconstruct(7)


def test_hashtable_direct_map_with_ids(data, trained):
    xb, _ = data
    index = new_like(trained)
    ids = np.arange(300) * 1000 + 17
    index.add_with_ids(xb[:300], ids)
    with pytest.raises(ValueError, match="0..ntotal-1"):
        index.make_direct_map()  # an array map needs ids 0..ntotal-1
    index.set_direct_map_type(faiss.DirectMap.Hashtable)
    assert index.direct_map.type == faiss.DirectMap.Hashtable
    np.testing.assert_array_equal(index.reconstruct(int(ids[123])), xb[123])
    assert index.remove_ids(ids[:10]) == 10
    with pytest.raises(RuntimeError):
        index.reconstruct(int(ids[0]))
    np.testing.assert_array_equal(index.reconstruct(int(ids[200])), xb[200])
    with pytest.raises(ValueError, match="DirectMap"):
        index.set_direct_map_type(7)


def test_merge_from(data, trained):
    xb, xq = data
    a, b, whole = new_like(trained), new_like(trained), new_like(trained)
    a.add(xb[:1500])
    b.add(xb[1500:3000])
    whole.add(xb[:3000])
    a.merge_from(b, 1500)
    assert a.ntotal == 3000 and b.ntotal == 0
    for index in (a, whole):
        index.nprobe = 8
    Da, Ia = a.search(xq, 10)
    Dw, Iw = whole.search(xq, 10)
    np.testing.assert_allclose(Da, Dw, rtol=1e-6)
    np.testing.assert_array_equal(Ia, Iw)
    with pytest.raises(ValueError):
        a.merge_from(a)
    other = faiss.IndexIVFFlat(faiss.IndexFlatL2(D_), D_, NLIST)
    other.train(xb[:2000])  # other centroids
    with pytest.raises(ValueError):
        a.merge_from(other)
    with pytest.raises(TypeError):
        a.merge_from(xb)


def test_reset_keeps_training(data, trained):
    xb, xq = data
    index = new_like(trained)
    index.add(xb[:100])
    index.reset()
    assert index.ntotal == 0 and index.is_trained
    assert index.invlists.imbalance_factor() == 0.0
    index.add(xb[:100])
    D, I = index.search(xb[:5], 1)
    assert I[:, 0].tolist() == [0, 1, 2, 3, 4]


def test_train_builds_centroids_in_the_quantizer(data):
    xb, _ = data
    quantizer = faiss.IndexFlatL2(D_)
    index = faiss.IndexIVFFlat(quantizer, D_, 16)
    assert not index.is_trained and index.ntotal == 0
    index.cp.niter = 5
    index.cp.seed = 99
    assert index.cp.niter == 5 and index.cp.seed == 99
    index.train(xb[:2000])
    assert index.is_trained and quantizer.ntotal == 16 and quantizer.is_trained
    # the quantizer assigns each vector to its list
    index.add(xb[:2000])
    _, assign = index.quantizer.search(xb[:2000], 1)
    counts = np.bincount(assign[:, 0], minlength=16)
    np.testing.assert_array_equal(counts, index.invlists.list_sizes())


def test_verbose_train_prints_progress(data, capsys):
    xb, _ = data
    index = faiss.IndexIVFFlat(faiss.IndexFlatL2(D_), D_, 8)
    index.verbose = True
    index.cp.niter = 3
    index.train(xb[:1000])
    assert capsys.readouterr().out.count("iteration") == 3
    quiet = faiss.IndexIVFFlat(faiss.IndexFlatL2(D_), D_, 8)
    quiet.train(xb[:1000])
    assert capsys.readouterr().out == ""


# ---------------------------------------------------------------------------
# the quantizer object: owned by the IVF index, still readable
# ---------------------------------------------------------------------------


def test_quantizer_stays_readable_and_is_freed_once(data):
    xb, _ = data
    quantizer = faiss.IndexFlatL2(D_)
    index = faiss.IndexIVFFlat(quantizer, D_, 8)
    assert index.quantizer is quantizer and not quantizer._owned
    index.train(xb[:500])
    index.add(xb[:500])
    assert quantizer.ntotal == 8
    D, I = quantizer.search(xb[:10], 1)
    assert I.shape == (10, 1) and (I >= 0).all() and (I < 8).all()
    with pytest.raises(RuntimeError, match="owned by the IndexIVFFlat"):
        quantizer.add(xb[:1])
    with pytest.raises(RuntimeError, match="owned by the IndexIVFFlat"):
        quantizer.reset()
    with pytest.raises(ValueError, match="already belongs"):
        faiss.IndexIVFFlat(quantizer, D_, 8)
    # dropping the index keeps the quantizer usable (it holds its owner) ...
    ref = weakref.ref(index)
    del index
    gc.collect()
    assert ref() is not None
    assert quantizer.search(xb[:10], 1)[1].tolist() == I.tolist()
    # ... and dropping both frees the tree once
    del quantizer
    gc.collect()
    assert ref() is None


def test_quantizer_dropped_first(data):
    xb, _ = data
    quantizer = faiss.IndexFlatL2(D_)
    index = faiss.IndexIVFFlat(quantizer, D_, 8)
    del quantizer
    gc.collect()
    index.train(xb[:500])
    index.add(xb[:500])
    assert index.quantizer.ntotal == 8
    assert index.search(xb[:3], 1)[1][:, 0].tolist() == [0, 1, 2]


def test_failed_constructor_leaves_the_quantizer_usable():
    quantizer = faiss.IndexFlatL2(8)
    with pytest.raises(ValueError, match="dimension"):
        faiss.IndexIVFFlat(quantizer, 16, 4)
    with pytest.raises(ValueError, match="nlist"):
        faiss.IndexIVFFlat(quantizer, 8, 0)
    assert quantizer._owned
    quantizer.add(np.zeros((2, 8), dtype="float32"))
    assert quantizer.ntotal == 2


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------


def test_search_and_add_before_train_fail(data):
    xb, _ = data
    index = faiss.IndexIVFFlat(faiss.IndexFlatL2(D_), D_, 8)
    with pytest.raises(RuntimeError, match="train"):
        index.search(xb[:2], 1)
    with pytest.raises(RuntimeError, match="train"):
        index.add(xb[:2])
    assert index.ntotal == 0


def test_train_with_fewer_points_than_nlist(data):
    xb, _ = data
    index = faiss.IndexIVFFlat(faiss.IndexFlatL2(D_), D_, 50)
    with pytest.raises(ValueError, match="nlist = 50"):
        index.train(xb[:30])
    assert not index.is_trained


@pytest.mark.parametrize("bad", [0, -1])
def test_nprobe_must_be_positive(trained, bad):
    with pytest.raises(ValueError, match="nprobe"):
        trained.nprobe = bad
    assert trained.nprobe == 1
    with pytest.raises(ValueError):
        faiss.SearchParametersIVF(nprobe=-1)


def test_nlist_is_read_only(trained):
    with pytest.raises(AttributeError):
        trained.nlist = 3


def test_wrong_shapes(trained):
    with pytest.raises(ValueError, match="components"):
        trained.search(np.zeros((2, D_ + 1), dtype="float32"), 1)
    with pytest.raises(ValueError, match="components"):
        trained.train(np.zeros((100, 3), dtype="float32"))


def test_quantizer_handle_made_from_the_index(data):
    """index.quantizer when the Python quantizer object is not at hand (as for
    an index read from a file): a borrowed IndexFlatL2/IP handle on it."""
    xb, _ = data
    for metric, cls in ((faiss.METRIC_L2, faiss.IndexFlatL2),
                        (faiss.METRIC_INNER_PRODUCT, faiss.IndexFlatIP)):
        index = faiss.IndexIVFFlat(cls(D_), D_, 8, metric)
        index.train(xb[:400])
        del index.__dict__["_quantizer"]
        gc.collect()
        q = index.quantizer
        assert type(q) is cls and q is index.quantizer and not q._owned
        assert q.ntotal == 8 and q.search(xb[:2], 1)[1].shape == (2, 1)
        with pytest.raises(RuntimeError, match="owned by the IndexIVFFlat"):
            q.add(xb[:1])
        del index
        gc.collect()
        assert q.ntotal == 8  # q keeps its owner alive
