"""Families built through index_factory: IndexPreTransform, IndexRefine /
IndexRefineFlat, and IndexLSH (which also has Faiss's constructor)."""
import numpy as np
import pytest

import vindex as faiss

D = 32


def _data(n=3000, nq=50, seed=3):
    rng = np.random.default_rng(seed)
    centres = rng.random((20, D)).astype("float32")
    lab = rng.integers(0, 20, n + nq)
    x = (centres[lab] + 0.05 * rng.standard_normal((n + nq, D))).astype("float32")
    return x[:n], x[n:]


def _recall(I, I_ref):
    return np.mean([len(set(a) & set(b)) / len(b) for a, b in zip(I, I_ref)])


def test_factory_gives_the_composite_classes():
    for spec, cls in [("OPQ4,IVF8,PQ4", faiss.IndexPreTransform),
                      ("PCA16,Flat", faiss.IndexPreTransform),
                      ("IVF8,PQ4,RFlat", faiss.IndexRefineFlat),
                      ("PQ4,Refine(SQfp16)", faiss.IndexRefine),
                      ("LSH64rt", faiss.IndexLSH)]:
        ix = faiss.index_factory(D, spec)
        assert isinstance(ix, cls), spec
        assert faiss.index_factory(D, faiss.reverse_index_factory(ix)).__class__ is cls


def test_refine_recall_grows_with_k_factor():
    xb, xq = _data()
    _, I_ref = faiss.knn(xq, xb, 10, faiss.METRIC_L2)
    ix = faiss.index_factory(D, "PQ8x4,RFlat")
    ix.train(xb)
    ix.add(xb)
    recalls = []
    for kf in (1, 4, 32):
        ix.k_factor = kf
        assert ix.k_factor == kf
        recalls.append(_recall(ix.search(xq, 10)[1], I_ref))
    assert recalls[0] < recalls[2] and recalls[2] > 0.95
    # per call, as the attribute
    ix.k_factor = 1
    p = faiss.IndexRefineSearchParameters(k_factor=32)
    assert _recall(ix.search(xq, 10, params=p)[1], I_ref) == pytest.approx(recalls[2])


def test_pretransform_rotation_keeps_neighbours():
    xb, xq = _data()
    _, I_ref = faiss.knn(xq, xb, 10, faiss.METRIC_L2)
    ix = faiss.index_factory(D, "RR32,Flat")
    ix.train(xb)
    ix.add(xb)
    assert _recall(ix.search(xq, 10)[1], I_ref) > 0.99


def test_lsh_constructor_and_training():
    xb, xq = _data()
    ix = faiss.IndexLSH(D, 128)
    assert ix.is_trained and ix.nbits == 128
    ix.add(xb)
    _, I = ix.search(xb[:5], 1)
    assert list(I[:, 0]) == [0, 1, 2, 3, 4]  # a vector's own code is at distance 0
    t = faiss.IndexLSH(D, 64, True, True)
    assert not t.is_trained
    with pytest.raises(RuntimeError):
        t.add(xb)
    t.train(xb)
    t.add(xb)
    assert t.ntotal == len(xb)


def test_composites_without_constructor_say_how_to_build_them():
    with pytest.raises(RuntimeError, match="index_factory"):
        faiss.IndexPreTransform(D)
    with pytest.raises(RuntimeError, match="index_factory"):
        faiss.IndexRefineFlat(faiss.IndexFlatL2(D))
