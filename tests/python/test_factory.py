"""index_factory / reverse_index_factory: the right Python class for every
spec, the right parameters, round trips, and errors naming the token."""
import numpy as np
import pytest

import vindex as faiss
from conftest import clustered, exact_knn, recall_at

D = 16

SPECS = [
    ("Flat", faiss.IndexFlatL2),
    ("IVF8,Flat", faiss.IndexIVFFlat),
    ("IVF8,PQ4x6", faiss.IndexIVFPQ),
    ("IVF8,SQ8", faiss.IndexIVFScalarQuantizer),
    ("PQ4", faiss.IndexPQ),
    ("SQ4", faiss.IndexScalarQuantizer),
    ("SQfp16", faiss.IndexScalarQuantizer),
    ("HNSW16", faiss.IndexHNSWFlat),
    ("HNSW16_SQ8", faiss.IndexHNSWSQ),
    ("HNSW16_SQfp16", faiss.IndexHNSWSQ),
    ("HNSW16_PQ4", faiss.IndexHNSWPQ),
    ("IDMap,Flat", faiss.IndexIDMap),
    ("IDMap2,Flat", faiss.IndexIDMap2),
]


@pytest.mark.parametrize("spec,cls", SPECS)
def test_factory_class_and_round_trip(spec, cls):
    index = faiss.index_factory(D, spec)
    assert type(index) is cls and index.d == D and index.ntotal == 0
    back = faiss.reverse_index_factory(index)
    again = faiss.index_factory(D, back)
    assert type(again) is cls
    assert faiss.reverse_index_factory(again) == back


def test_factory_parameters():
    ivfpq = faiss.index_factory(D, "IVF8,PQ4x6")
    assert ivfpq.nlist == 8 and ivfpq.pq.M == 4 and ivfpq.pq.nbits == 6
    assert type(ivfpq.quantizer) is faiss.IndexFlatL2
    sq = faiss.index_factory(D, "IVF8,SQ8")
    assert sq.sq.qtype == faiss.ScalarQuantizer.QT_8bit
    assert faiss.index_factory(D, "SQ4").sq.qtype == faiss.ScalarQuantizer.QT_4bit
    assert faiss.index_factory(D, "HNSW16").hnsw.M == 16
    ip = faiss.index_factory(D, "Flat", faiss.METRIC_INNER_PRODUCT)
    assert type(ip) is faiss.IndexFlatIP and ip.metric_type == faiss.METRIC_INNER_PRODUCT
    assert isinstance(ip, faiss.IndexFlat)


def test_factory_idmap_wraps_the_right_class():
    index = faiss.index_factory(D, "IDMap2,PQ4x6")
    assert type(index) is faiss.IndexIDMap2
    assert type(index.index) is faiss.IndexPQ and index.index.pq.nbits == 6
    sq = faiss.index_factory(D, "IDMap,SQ8")
    assert type(sq) is faiss.IndexIDMap and type(sq.index) is faiss.IndexScalarQuantizer
    with pytest.raises(RuntimeError, match="IndexIDMap2"):
        index.index.add(np.zeros((1, D), "float32"))  # owned by the wrapper


def test_factory_index_works():
    rng = np.random.default_rng(3)
    xb = clustered(rng, 2000, D, 20, spread=0.4)
    index = faiss.index_factory(D, "IDMap,SQfp16")
    index.add_with_ids(xb, np.arange(len(xb)) + 1000)
    Dd, I = index.search(xb[:20], 5)
    _, I_ref = exact_knn(xb[:20], xb, 5)
    assert recall_at(I - 1000, I_ref) >= 0.95
    ivf = faiss.index_factory(D, "IVF8,Flat")
    ivf.train(xb)
    ivf.add(xb)
    ivf.nprobe = 8
    assert recall_at(ivf.search(xb[:20], 5)[1], I_ref) == 1.0


def test_factory_errors():
    with pytest.raises(faiss.ArgumentError, match="Bogus"):
        faiss.index_factory(D, "IVF8,Bogus")
    # a Faiss token vindex does not offer yet: refused, naming the token
    with pytest.raises(RuntimeError, match="RQ4"):
        faiss.index_factory(D, "IVF8,RQ4")
    with pytest.raises(faiss.ArgumentError):
        faiss.index_factory(D, "")
    with pytest.raises(faiss.ArgumentError):
        faiss.index_factory(15, "PQ4")  # 15 % 4 != 0
    with pytest.raises(TypeError):
        faiss.index_factory(D, None)
    with pytest.raises(faiss.ArgumentError):
        faiss.index_factory(D, "Flat", faiss.METRIC_L1)
