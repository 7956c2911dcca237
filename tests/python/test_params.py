"""SearchParameters objects and id selectors in searches."""
import numpy as np
import pytest

import vindex as faiss
from conftest import check_knn


@pytest.fixture
def data(rng):
    xb = rng.standard_normal((200, 12)).astype("float32")
    xq = rng.standard_normal((10, 12)).astype("float32")
    return xb, xq


@pytest.mark.parametrize("metric", ["l2", "ip"])
def test_selectors_filter_flat(data, metric):
    xb, xq = data
    index = faiss.IndexFlatL2(12) if metric == "l2" else faiss.IndexFlatIP(12)
    index.add(xb)
    cases = {
        "range": (faiss.IDSelectorRange(50, 120), np.arange(50, 120)),
        "batch": (faiss.IDSelectorBatch(np.array([3, 9, 150, 151, 199])),
                  np.array([3, 9, 150, 151, 199])),
        "array": (faiss.IDSelectorArray(3, np.array([4, 5, 6, 7])), np.array([4, 5, 6])),
        "not": (faiss.IDSelectorNot(faiss.IDSelectorRange(10, 200)), np.arange(10)),
    }
    bitmap = np.zeros(25, "uint8")
    bitmap[2] = 0b10100001  # ids 16, 21, 23
    bitmap[24] = 0b10000000  # id 199
    cases["bitmap"] = (faiss.IDSelectorBitmap(bitmap), np.array([16, 21, 23, 199]))
    cases["bitmap_n"] = (faiss.IDSelectorBitmap(3, bitmap), np.array([16, 21, 23]))
    for name, (sel, keep) in cases.items():
        for i in keep:
            assert sel.is_member(int(i)), name
        assert sel.is_member(-7) == (name == "not")
        for k in (1, 4, 8):
            D, I = index.search(xq, k, params=faiss.SearchParameters(sel=sel))
            check_knn(D, I, xq, xb[keep], k, metric, labels=keep)
        lims, D, I = index.range_search(xq, 1e9 if metric == "l2" else -1e9,
                                        params=faiss.SearchParameters(sel=sel))
        for i in range(len(xq)):
            assert sorted(I[lims[i]:lims[i + 1]].tolist()) == sorted(keep.tolist()), name


def test_selector_with_idmap_uses_ids(data):
    xb, xq = data
    ids = np.arange(200) * 7 + 3
    index = faiss.IndexIDMap(faiss.IndexFlatL2(12))
    index.add_with_ids(xb, ids)
    keep = np.arange(0, 200, 3)
    sel = faiss.IDSelectorBatch(ids[keep])
    D, I = index.search(xq, 5, params=faiss.SearchParameters(sel=sel))
    check_knn(D, I, xq, xb[keep], 5, labels=ids[keep])
    sel = faiss.IDSelectorRange(ids[100], ids[120])
    D, I = index.search(xq, 5, params=faiss.SearchParameters(sel=sel))
    check_knn(D, I, xq, xb[100:120], 5, labels=ids[100:120])


def test_selector_empty_result(data):
    xb, xq = data
    index = faiss.IndexFlatL2(12)
    index.add(xb)
    D, I = index.search(xq, 3, params=faiss.SearchParameters(sel=faiss.IDSelectorRange(5, 5)))
    assert (I == -1).all() and np.isinf(D).all()


def test_params_objects():
    p = faiss.SearchParameters()
    assert p.sel is None
    sel = faiss.IDSelectorRange(0, 3)
    p.sel = sel
    assert p.sel is sel
    p.sel = None
    assert p.sel is None
    ivf = faiss.SearchParametersIVF(nprobe=7, sel=sel)
    assert ivf.nprobe == 7 and ivf.sel is sel and isinstance(ivf, faiss.SearchParameters)
    ivf.nprobe = 9
    assert ivf.nprobe == 9
    h = faiss.SearchParametersHNSW(efSearch=64)
    assert h.efSearch == 64 and h.sel is None
    r = faiss.IndexRefineSearchParameters(k_factor=2.5)
    assert r.k_factor == 2.5


def test_flat_ignores_family_params(data):
    xb, xq = data
    index = faiss.IndexFlatL2(12)
    index.add(xb)
    D0, I0 = index.search(xq, 4)
    for p in (faiss.SearchParametersIVF(nprobe=3), faiss.SearchParametersHNSW(efSearch=5),
              faiss.IndexRefineSearchParameters(k_factor=3)):
        D, I = index.search(xq, 4, params=p)
        np.testing.assert_array_equal(I, I0)


def test_selector_kept_alive_by_params(data):
    import gc
    xb, xq = data
    index = faiss.IndexFlatL2(12)
    index.add(xb)
    p = faiss.SearchParameters(sel=faiss.IDSelectorNot(faiss.IDSelectorRange(0, 190)))
    gc.collect()
    D, I = index.search(xq, 3, params=p)
    assert ((I >= 190) & (I < 200)).all()
