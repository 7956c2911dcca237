"""Every kind of bad input gets a clear exception whose message names the fix."""
import numpy as np
import pytest

import vindex as faiss


@pytest.fixture
def index(rng):
    ix = faiss.IndexFlatL2(8)
    ix.add(rng.standard_normal((20, 8)).astype("float32"))
    return ix


def test_argument_error_is_value_and_runtime_error():
    assert issubclass(faiss.ArgumentError, ValueError)
    assert issubclass(faiss.ArgumentError, RuntimeError)


@pytest.mark.parametrize("op", ["add", "search", "train", "range_search"])
def test_one_d_vectors(index, op):
    x = np.zeros(8, "float32")
    call = {"add": lambda: index.add(x), "search": lambda: index.search(x, 1),
            "train": lambda: index.train(x), "range_search": lambda: index.range_search(x, 1.0)}
    with pytest.raises(ValueError, match=r"1-d array of shape \(8,\).*reshape\(1, -1\)"):
        call[op]()


@pytest.mark.parametrize("op", ["add", "search", "train", "range_search", "add_with_ids"])
def test_wrong_width(op, rng):
    index = faiss.IndexIDMap(faiss.IndexFlatL2(8)) if op == "add_with_ids" else faiss.IndexFlatL2(8)
    x = np.zeros((3, 7), "float32")
    call = {"add": lambda: index.add(x), "search": lambda: index.search(x, 1),
            "train": lambda: index.train(x), "range_search": lambda: index.range_search(x, 1.0),
            "add_with_ids": lambda: index.add_with_ids(x, [1, 2, 3])}
    with pytest.raises(ValueError, match=r"7 components but the index has d=8.*\(n, 8\)"):
        call[op]()
    assert index.ntotal == 0


def test_three_d_vectors(index):
    with pytest.raises(ValueError, match="2-d array"):
        index.search(np.zeros((2, 2, 8)), 1)
    with pytest.raises(ValueError, match="2-d array"):
        index.add(np.zeros((2, 2, 8)))


def test_scalar_input(index):
    with pytest.raises(ValueError):
        index.search(1.0, 1)


def test_non_numeric_input(index):
    with pytest.raises(ValueError):
        index.add([["a"] * 8])


def test_nan_and_inf_refused(index):
    x = np.zeros((2, 8), "float32")
    x[1, 3] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        index.add(x)
    with pytest.raises(ValueError, match="NaN or infinite"):
        index.search(x, 1)
    assert index.ntotal == 20
    big = np.full((1, 8), 1e300)  # float64 that overflows float32
    with np.errstate(over="ignore"), pytest.raises(ValueError, match="NaN or infinite"):
        index.add(big)


@pytest.mark.parametrize("k", [0, -1])
def test_bad_k(index, k):
    with pytest.raises(ValueError, match="k must be at least 1"):
        index.search(np.zeros((1, 8)), k)
    with pytest.raises(ValueError, match="k must be at least 1"):
        faiss.knn(np.zeros((1, 8)), np.zeros((3, 8)), k)


def test_non_integer_k(index):
    with pytest.raises(ValueError, match="integer"):
        index.search(np.zeros((1, 8)), 2.5)


def test_ids_wrong_length():
    index = faiss.IndexIDMap(faiss.IndexFlatL2(4))
    with pytest.raises(ValueError, match="got 2 ids for 3 vectors; pass one int64 id per vector"):
        index.add_with_ids(np.zeros((3, 4)), [1, 2])
    with pytest.raises(ValueError, match="1-d"):
        index.add_with_ids(np.zeros((3, 4)), [[1, 2, 3]])
    assert index.ntotal == 0


def test_duplicate_and_reserved_ids():
    index = faiss.IndexIDMap(faiss.IndexFlatL2(4))
    with pytest.raises(ValueError, match="duplicate id 5"):
        index.add_with_ids(np.zeros((2, 4)), [5, 5])
    with pytest.raises(ValueError, match="reserved"):
        index.add_with_ids(np.zeros((1, 4)), [-1])
    assert index.ntotal == 0
    index.add_with_ids(np.zeros((1, 4)), [5])
    with pytest.raises(ValueError, match="duplicate id 5"):
        index.add_with_ids(np.zeros((2, 4)), [6, 5])
    assert index.ntotal == 1


def test_bad_dimension_and_metric():
    with pytest.raises(ValueError):
        faiss.IndexFlatL2(0)
    with pytest.raises(ValueError):
        faiss.IndexFlatL2(-3)
    with pytest.raises(TypeError):
        faiss.IndexFlatL2(2.5)
    with pytest.raises(ValueError, match="METRIC_L2"):
        faiss.IndexFlat(4, faiss.METRIC_L1)
    with pytest.raises(ValueError, match="not supported"):
        faiss.knn(np.zeros((1, 4)), np.zeros((2, 4)), 1, metric=7)


def test_unsupported_operations_raise_runtime_error(rng):
    flat = faiss.IndexFlatL2(4)
    with pytest.raises(RuntimeError, match="IndexIDMap"):
        flat.add_with_ids(np.zeros((1, 4)), [3])
    idmap = faiss.IndexIDMap(faiss.IndexFlatL2(4))
    with pytest.raises(RuntimeError, match="add_with_ids"):
        idmap.add(np.zeros((1, 4)))
    idmap.add_with_ids(np.zeros((1, 4)), [3])
    with pytest.raises(RuntimeError):
        idmap.reconstruct(3)  # IDMap (not IDMap2) cannot reconstruct, as in Faiss
    with pytest.raises(RuntimeError):
        flat._get_param("nprobe")
    with pytest.raises(RuntimeError, match="nprobe"):
        flat._set_param("nprobe", 3)


def test_abstract_classes():
    with pytest.raises(TypeError):
        faiss.Index()
    with pytest.raises(TypeError):
        faiss.IDSelector()


def test_uninitialised_subclass_is_refused():
    class Broken(faiss.Index):
        def __init__(self):
            pass

    b = Broken()
    with pytest.raises(RuntimeError, match="not initialised"):
        b.ntotal
    with pytest.raises(RuntimeError, match="not initialised"):
        b.search(np.zeros((1, 4)), 1)
    assert "not initialised" in repr(b)


def test_double_init_refused():
    index = faiss.IndexFlatL2(4)
    with pytest.raises(RuntimeError, match="already initialised"):
        index._init_flat(4, 0)


def test_extension_checks_dtype_and_contiguity(index):
    """The C layer checks what the Python layer normally converts."""
    D = np.empty((1, 1), "float32")
    I = np.empty((1, 1), "int64")
    with pytest.raises(ValueError, match="float32 items, got format 'd'.*np.ascontiguousarray"):
        index._search(np.zeros((1, 8)), 1, None, D, I)
    with pytest.raises(ValueError, match="C-contiguous"):
        index._search(np.zeros((8, 2), "float32").T, 1, None, D, I)
    with pytest.raises(ValueError, match="int64"):
        index._search(np.zeros((1, 8), "float32"), 1, None, D, np.empty((1, 1), "int32"))
    with pytest.raises(ValueError, match="writable"):
        ro = np.empty((1, 1), "float32")
        ro.flags.writeable = False
        index._search(np.zeros((1, 8), "float32"), 1, None, ro, I)
    with pytest.raises(ValueError, match="shape"):
        index._search(np.zeros((2, 8), "float32"), 1, None, D, I)
    with pytest.raises(ValueError, match="int64"):
        index._add_with_ids(np.zeros((1, 8), "float32"), np.zeros(1, "float64"))
    with pytest.raises(ValueError):
        index._add(b"\x00" * 32)  # a bytes buffer is 1-d uint8


def test_bad_output_arrays(index):
    with pytest.raises(ValueError, match=r"shape \(n, k=2\)"):
        index.search(np.zeros((1, 8)), 2, D=np.empty((1, 3), "float32"))
    with pytest.raises(ValueError, match="float32"):
        index.search(np.zeros((1, 8)), 2, D=np.empty((1, 2), "float64"))
    with pytest.raises(ValueError, match="d=8"):
        index.reconstruct(0, np.empty(4, "float32"))


def test_bad_params_type(index):
    with pytest.raises(TypeError, match="SearchParameters"):
        index.search(np.zeros((1, 8)), 1, params={"nprobe": 3})
    with pytest.raises(TypeError, match="IDSelector"):
        faiss.SearchParameters(sel=[1, 2])
    with pytest.raises(TypeError):
        faiss.SearchParameters(nprobe=3)  # only SearchParametersIVF has nprobe
    with pytest.raises(ValueError):
        faiss.SearchParametersIVF(nprobe=-1)
    with pytest.raises(ValueError):
        faiss.IndexRefineSearchParameters(k_factor=float("nan"))
    with pytest.raises(TypeError, match="IDSelector"):
        index.remove_ids(faiss.SearchParameters())


def test_bad_range_search_radius(index):
    with pytest.raises(ValueError, match="negative"):
        index.range_search(np.zeros((1, 8)), -1.0)
    with pytest.raises(ValueError, match="NaN"):
        index.range_search(np.zeros((1, 8)), float("nan"))


def test_normalize_L2_refuses_copies():
    with pytest.raises(ValueError, match="in place"):
        faiss.normalize_L2(np.ones((2, 3)))  # float64
    with pytest.raises(ValueError, match="in place"):
        faiss.normalize_L2(np.ones((3, 2), "float32").T)
    with pytest.raises(ValueError, match="in place"):
        faiss.normalize_L2([[1.0, 2.0]])


def test_bad_selectors():
    with pytest.raises(ValueError, match="1-d"):
        faiss.IDSelectorBatch(np.zeros((2, 2), "int64"))
    with pytest.raises(ValueError, match="n=5"):
        faiss.IDSelectorBatch(5, [1, 2])
    with pytest.raises(TypeError):
        faiss.IDSelectorNot([1, 2])
    with pytest.raises(ValueError):
        faiss.IDSelectorBitmap(4, np.zeros(2, "uint8"))


def test_reconstruct_key_must_be_integer(index):
    with pytest.raises(TypeError):
        index.reconstruct(1.5)


def test_copy_and_pickle_refused(index):
    import copy
    import pickle
    with pytest.raises(TypeError, match="cannot be pickled or copied"):
        copy.deepcopy(index)
    with pytest.raises(TypeError, match="cannot be pickled or copied"):
        pickle.dumps(index)
