"""ScalarQuantizer types, IndexScalarQuantizer and IndexIVFScalarQuantizer:
decode error per type, recall against numpy, code sizes and bad input."""
import numpy as np
import pytest

import vindex as faiss
from conftest import clustered, exact_knn, recall_at

SQ = faiss.ScalarQuantizer
D = 24


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(5)
    xb = clustered(rng, 3000, D, 30, spread=0.5)
    xq = xb[:40] + 0.05 * rng.standard_normal((40, D)).astype("float32")
    return xb, xq


# qtype, code size for D, bound on the max abs error relative to the range
TYPES = [(SQ.QT_8bit, D, 1 / 510), (SQ.QT_4bit, D // 2, 1 / 30),
         (SQ.QT_8bit_uniform, D, 1 / 510), (SQ.QT_fp16, 2 * D, 1e-3),
         (SQ.QT_bf16, 2 * D, 1e-2)]


@pytest.mark.parametrize("qtype,code_size,tol", TYPES)
def test_sq_types(data, qtype, code_size, tol):
    xb, xq = data
    index = faiss.IndexScalarQuantizer(D, qtype)
    assert index.code_size == code_size == index.sq.code_size
    assert index.sq.qtype == qtype and index.sq.d == D
    if qtype in (SQ.QT_fp16, SQ.QT_bf16):
        assert index.is_trained  # no training needed
    else:
        assert not index.is_trained
    index.train(xb)
    index.add(xb)
    rec = index.reconstruct_n(0, index.ntotal)
    err = np.abs(rec - xb)
    if qtype == SQ.QT_8bit_uniform:
        span = xb.max() - xb.min()
    elif qtype in (SQ.QT_fp16, SQ.QT_bf16):
        span = np.abs(xb).max()
    else:
        span = xb.max(0) - xb.min(0)
    assert (err <= tol * span + 1e-6).all()
    Dd, I = index.search(xq, 10)
    _, I_ref = exact_knn(xq, xb, 10)
    assert recall_at(I, I_ref) >= (0.7 if qtype == SQ.QT_4bit else 0.9)
    # distances are those to the decoded vectors
    np.testing.assert_allclose(Dd, ((xq[:, None] - rec[I]) ** 2).sum(-1), rtol=1e-3, atol=1e-3)
    assert index.memory_bytes() >= len(xb) * code_size


def test_sq_inner_product_and_remove(data):
    xb, xq = data
    index = faiss.IndexScalarQuantizer(D, SQ.QT_8bit, faiss.METRIC_INNER_PRODUCT)
    index.train(xb)
    index.add(xb)
    _, I_ref = exact_knn(xq, xb, 10, "ip")
    assert recall_at(index.search(xq, 10)[1], I_ref) >= 0.9
    assert index.remove_ids(np.arange(100)) == 100
    assert index.ntotal == len(xb) - 100  # labels renumbered, as Flat


def test_ivfsq(data):
    xb, xq = data
    index = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatL2(D), D, 8, SQ.QT_8bit)
    assert isinstance(index, faiss.IndexIVF) and index.by_residual
    assert index.sq.qtype == SQ.QT_8bit and index.code_size == D
    index.train(xb)
    index.add(xb)
    _, I_ref = exact_knn(xq, xb, 10)
    Dd, I = index.search(xq, 10, params=faiss.SearchParametersIVF(nprobe=8))
    assert recall_at(I, I_ref) >= 0.9
    index.nprobe = 100  # clamped to nlist
    np.testing.assert_array_equal(index.search(xq, 10)[1], I)
    # Faiss's 6-argument form
    faiss.IndexIVFScalarQuantizer(faiss.IndexFlatL2(D), D, 8, SQ.QT_fp16, faiss.METRIC_L2, True)


def test_sq_bad_input(data):
    with pytest.raises(faiss.ArgumentError, match="encode_residual"):
        faiss.IndexIVFScalarQuantizer(faiss.IndexFlatL2(D), D, 8, SQ.QT_8bit,
                                      faiss.METRIC_L2, False)
    with pytest.raises(faiss.ArgumentError, match="QT_6bit"):
        faiss.IndexScalarQuantizer(D, SQ.QT_6bit)
    with pytest.raises(faiss.ArgumentError, match="QT_4bit_uniform"):
        faiss.IndexIVFScalarQuantizer(faiss.IndexFlatL2(D), D, 8, SQ.QT_4bit_uniform)
    with pytest.raises(faiss.ArgumentError, match="qtype 42"):
        faiss.IndexScalarQuantizer(D, 42)
    index = faiss.IndexScalarQuantizer(D, SQ.QT_8bit)
    with pytest.raises(RuntimeError):
        index.add(data[0])  # not trained
    with pytest.raises(faiss.ArgumentError):
        index.train(data[0][:, :10])  # wrong width
    with pytest.raises(RuntimeError, match="IndexScalarQuantizer"):
        SQ(D, SQ.QT_8bit).train(data[0])  # no standalone codec in vindex
    assert SQ(D, SQ.QT_4bit).code_size == D // 2
