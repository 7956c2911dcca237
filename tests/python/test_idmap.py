"""IndexIDMap / IndexIDMap2: ids, remove, reconstruct, and who owns the sub-index."""
import gc
import weakref

import numpy as np
import pytest

import vindex as faiss
from conftest import check_knn


def make(cls, rng, n=300, d=16, metric="l2"):
    xb = rng.standard_normal((n, d)).astype("float32")
    ids = rng.choice(10**12, size=n, replace=False).astype("int64")
    sub = faiss.IndexFlatL2(d) if metric == "l2" else faiss.IndexFlatIP(d)
    index = cls(sub)
    index.add_with_ids(xb, ids)
    return index, xb, ids


@pytest.mark.parametrize("cls", [faiss.IndexIDMap, faiss.IndexIDMap2])
@pytest.mark.parametrize("metric", ["l2", "ip"])
def test_search_returns_ids(rng, cls, metric):
    index, xb, ids = make(cls, rng, metric=metric)
    assert index.ntotal == 300 and index.d == 16 and index.is_trained
    assert index.metric_type == (faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT)
    xq = rng.standard_normal((25, 16)).astype("float32")
    D, I = index.search(xq, 8)
    check_knn(D, I, xq, xb, 8, metric, labels=ids)


def test_range_search_returns_ids(rng):
    index, xb, ids = make(faiss.IndexIDMap, rng)
    lims, D, I = index.range_search(xb[:3], 1e-6)
    assert lims.tolist() == [0, 1, 2, 3]
    np.testing.assert_array_equal(I, ids[:3])


def test_idmap2_reconstructs_by_id(rng):
    index, xb, ids = make(faiss.IndexIDMap2, rng)
    np.testing.assert_array_equal(index.reconstruct(int(ids[17])), xb[17])
    np.testing.assert_array_equal(index.reconstruct_batch(ids[[5, 9]]), xb[[5, 9]])
    with pytest.raises(RuntimeError, match="not in the index"):
        index.reconstruct(-5)


def test_remove_ids_by_array_and_selectors(rng):
    index, xb, ids = make(faiss.IndexIDMap2, rng, n=100)
    assert index.remove_ids(ids[:10]) == 10
    assert index.ntotal == 90
    with pytest.raises(RuntimeError):
        index.reconstruct(int(ids[0]))
    np.testing.assert_array_equal(index.reconstruct(int(ids[50])), xb[50])
    # search after removal: only the remaining ids, still exact
    D, I = index.search(xb[:20], 3)
    check_knn(D, I, xb[:20], xb[10:], 3, labels=ids[10:])
    # a range selector on ids
    lo = int(np.sort(ids[10:])[40])
    want = int((ids[10:] < lo).sum())
    assert index.remove_ids(faiss.IDSelectorRange(-(2**62), lo)) == want
    assert index.ntotal == 90 - want
    assert index.remove_ids(faiss.IDSelectorArray(np.array([123]))) == 0


def test_add_after_remove_and_reset(rng):
    index, xb, ids = make(faiss.IndexIDMap, rng, n=50, d=4)
    index.remove_ids(ids[:5])
    index.add_with_ids(xb[:5], ids[:5])  # the ids are free again
    assert index.ntotal == 50
    index.reset()
    assert index.ntotal == 0 and index.index.ntotal == 0
    index.add_with_ids(xb[:3], [7, 8, 9])
    D, I = index.search(xb[:3], 1)
    assert I[:, 0].tolist() == [7, 8, 9]


def test_ids_are_converted_to_int64(rng):
    index = faiss.IndexIDMap(faiss.IndexFlatL2(4))
    x = rng.standard_normal((3, 4))
    index.add_with_ids(x, np.array([10, 20, 30], dtype=np.int32))
    index.add_with_ids(rng.standard_normal((2, 4)), [40, 50])  # a list
    assert index.ntotal == 5
    D, I = index.search(x, 1)
    assert I.dtype == np.int64 and I[:, 0].tolist() == [10, 20, 30]


# ---- ownership of the wrapped index ---------------------------------------------


def test_sub_index_dropped_immediately(rng):
    """The Faiss idiom: the sub-index object is a temporary."""
    xb = rng.standard_normal((40, 6)).astype("float32")
    index = faiss.IndexIDMap(faiss.IndexFlatL2(6))
    gc.collect()
    index.add_with_ids(xb, np.arange(40) + 1000)
    D, I = index.search(xb[:2], 1)
    assert I[:, 0].tolist() == [1000, 1001]


def test_sub_index_outlives_wrapper(rng):
    """Dropping the wrapper while holding the sub-index must not free the sub
    twice, nor leave it dangling."""
    xb = rng.standard_normal((40, 6)).astype("float32")
    sub = faiss.IndexFlatL2(6)
    index = faiss.IndexIDMap(sub)
    index.add_with_ids(xb, np.arange(40) * 2)
    wr = weakref.ref(index)
    del index
    gc.collect()
    # The sub keeps its owner alive (the memory is the owner's), and still works.
    assert sub.ntotal == 40
    D, I = sub.search(xb[:2], 1)
    assert I[:, 0].tolist() == [0, 1]  # positions inside the sub-index
    del sub
    gc.collect()
    assert wr() is None  # and both go away together


def test_wrapper_and_sub_are_collected(rng):
    sub = faiss.IndexFlatL2(6)
    index = faiss.IndexIDMap2(sub)
    wi, ws = weakref.ref(index), weakref.ref(sub)
    del index, sub
    gc.collect()
    assert wi() is None and ws() is None


def test_sub_index_is_read_only_through_its_own_object(rng):
    sub = faiss.IndexFlatL2(4)
    index = faiss.IndexIDMap(sub)
    assert index.index is sub and not sub._owned and index._owned
    x = rng.standard_normal((3, 4))
    index.add_with_ids(x, [1, 2, 3])
    for call in (lambda: sub.add(x), lambda: sub.reset(), lambda: sub.train(x),
                 lambda: sub.remove_ids([0])):
        with pytest.raises(RuntimeError, match="owned by the IndexIDMap that wraps it"):
            call()
    assert sub.ntotal == 3 and index.ntotal == 3
    np.testing.assert_array_equal(sub.reconstruct(1), x[1].astype("float32"))


def test_sub_index_cannot_be_wrapped_twice():
    sub = faiss.IndexFlatL2(4)
    faiss.IndexIDMap(sub)
    with pytest.raises(ValueError, match="already belongs to a IndexIDMap"):
        faiss.IndexIDMap2(sub)


def test_failed_wrap_leaves_ownership(rng):
    sub = faiss.IndexFlatL2(4)
    sub.add(rng.standard_normal((2, 4)))
    with pytest.raises(ValueError, match="must be empty"):
        faiss.IndexIDMap(sub)
    assert sub._owned
    sub.add(rng.standard_normal((2, 4)))  # still ours
    assert sub.ntotal == 4
    with pytest.raises(RuntimeError, match="cannot wrap"):
        faiss.IndexIDMap(faiss.IndexIDMap(faiss.IndexFlatL2(4)))
    with pytest.raises(TypeError):
        faiss.IndexIDMap("not an index")


def test_many_wrappers_no_leak_or_crash(rng):
    x = rng.standard_normal((10, 8)).astype("float32")
    for i in range(300):
        sub = faiss.IndexFlatL2(8)
        index = (faiss.IndexIDMap if i % 2 else faiss.IndexIDMap2)(sub)
        index.add_with_ids(x, np.arange(10))
        if i % 3 == 0:
            del index
        elif i % 3 == 1:
            del sub
    gc.collect()
