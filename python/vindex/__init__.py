"""vindex: similarity search over dense float vectors, with the Faiss Python API.

    import vindex as faiss

    index = faiss.IndexFlatL2(d)      # exact search, squared L2 distances
    index.add(xb)                     # xb: (n, d) array
    D, I = index.search(xq, k)        # (nq, k) float32 distances, int64 labels

The classes and functions keep Faiss's names, arguments and return types, for
everything the C library implements. Inputs are converted with numpy as Faiss
does (float64 becomes float32, non-contiguous arrays are copied, ids become
int64); input that Faiss refuses (a 1-d array of vectors, a wrong width, ids of
the wrong length) raises `ArgumentError`, which is both a ValueError and a
RuntimeError, with a message that names the fix. Other failures raise
MemoryError or RuntimeError with the library's message.

Searches, adds and training release the GIL, so Python threads can search one
index in parallel; an internal readers-writer lock keeps an `add` in one thread
from running during a search in another.

Differences from Faiss worth knowing:
  * a search parameter left at 0 in SearchParametersIVF / SearchParametersHNSW
    means "the index's own setting" (Faiss uses nprobe=1 there);
  * rows with fewer than k results are padded with label -1 and distance +inf
    (L2) or -inf (inner product), where Faiss uses +-3.4e38;
  * threads are the library's own pool: omp_set_num_threads() sets its size.

Adding an index family (for the maintainers): one `_init_<family>` method in
_vindex.c that calls the C constructor (with adopt_begin/adopt_finish when the
new index takes a sub-index), then a class here whose __init__ calls it, plus
one `_param("name")` line per Faiss attribute that maps to
vindex_set_param/vindex_get_param (`_param_group` for nested ones such as
`index.hnsw.efSearch`). See IndexIDMap below for a wrapper.
"""
import operator as _operator

import numpy as _np

from . import _vindex
from ._vindex import ArgumentError

__version__ = _vindex.__version__

__all__ = [
    "ArgumentError", "METRIC_INNER_PRODUCT", "METRIC_L2", "Index", "IndexFlat", "IndexFlatL2",
    "IndexFlatIP", "IndexIDMap", "IndexIDMap2", "IDSelector", "IDSelectorRange",
    "IDSelectorBatch", "IDSelectorArray", "IDSelectorBitmap", "IDSelectorNot",
    "SearchParameters", "SearchParametersIVF", "SearchParametersHNSW",
    "IndexRefineSearchParameters", "knn", "normalize_L2", "omp_set_num_threads",
    "omp_get_max_threads", "get_num_gpus", "simd_level",
]

# ---------------------------------------------------------------------------
# Metrics: Faiss's values (METRIC_INNER_PRODUCT = 0, METRIC_L2 = 1), which are
# not the C library's; they are mapped at the boundary.
# ---------------------------------------------------------------------------

METRIC_INNER_PRODUCT = 0
METRIC_L2 = 1
METRIC_L1 = 2      # Faiss metrics that vindex does not implement: defined so that
METRIC_Linf = 3    # code naming them imports, refused when used.
METRIC_Lp = 4

_TO_C = {METRIC_L2: _vindex.C_METRIC_L2, METRIC_INNER_PRODUCT: _vindex.C_METRIC_INNER_PRODUCT}
_FROM_C = {c: m for m, c in _TO_C.items()}
_METRIC_NAMES = {METRIC_L2: "METRIC_L2", METRIC_INNER_PRODUCT: "METRIC_INNER_PRODUCT"}


def _c_metric(metric):
    try:
        return _TO_C[_operator.index(metric)]
    except (KeyError, TypeError):
        raise ArgumentError(f"metric {metric!r} is not supported; use METRIC_L2 ({METRIC_L2}) "
                            f"or METRIC_INNER_PRODUCT ({METRIC_INNER_PRODUCT})") from None


# ---------------------------------------------------------------------------
# Input conversion (the C layer checks dtype, shape and width, with messages)
# ---------------------------------------------------------------------------

_f32 = _np.float32
_i64 = _np.int64
_asc = _np.ascontiguousarray
_empty = _np.empty


def _k(k, op):
    """k as a positive int, or ArgumentError."""
    try:
        k = _operator.index(k)
    except TypeError:
        raise ArgumentError(f"{op}: k must be an integer, got {k!r}") from None
    if k <= 0:
        raise ArgumentError(f"{op}: k must be at least 1, got {k}")
    return k


def _ids(ids, op):
    """ids as a 1-d int64 C-contiguous array (converted as Faiss does)."""
    ids = _asc(ids, dtype=_i64)
    if ids.ndim != 1:
        raise ArgumentError(f"{op}: ids must be a 1-d array of int64, got shape {ids.shape}")
    return ids


# ---------------------------------------------------------------------------
# Index classes
# ---------------------------------------------------------------------------


def _param(name, cast=int, doc=None):
    """A property that reads and writes the index tunable `name` (a Faiss
    attribute name) through vindex_get_param / vindex_set_param."""

    def fget(self):
        return cast(self._get_param(name))

    def fset(self, value):
        self._set_param(name, value)

    return property(fget, fset, doc=doc or f"The index's {name!r} (a tunable of the C index).")


class _ParamGroup:
    """A stand-in for Faiss's nested objects (`index.hnsw.efSearch`): each
    attribute in `names` reads and writes the index tunable of that name."""

    __slots__ = ("_index", "_names")

    def __init__(self, index, names):
        object.__setattr__(self, "_index", index)
        object.__setattr__(self, "_names", names)

    def __getattr__(self, name):
        if name not in self._names:
            raise AttributeError(name)
        return self._names[name](self._index._get_param(name))

    def __setattr__(self, name, value):
        if name not in self._names:
            raise AttributeError(f"{name!r} is not a parameter vindex knows here")
        self._index._set_param(name, value)


def _param_group(**names):
    """A read-only property returning a _ParamGroup: `hnsw = _param_group(efSearch=int)`."""
    return property(lambda self: _ParamGroup(self, names))


class Index(_vindex.Index):
    """The base of every index (Faiss: faiss.Index). Not constructed directly.

    Attributes: d (dimension), ntotal (number of vectors), is_trained,
    metric_type (METRIC_L2 or METRIC_INNER_PRODUCT).
    """

    def __init__(self, *args, **kwargs):
        raise TypeError("Index is abstract: create an IndexFlatL2, IndexFlatIP, IndexFlat, ...")

    @property
    def metric_type(self):
        """METRIC_L2 or METRIC_INNER_PRODUCT (Faiss's values)."""
        return _FROM_C[self._metric]

    def __repr__(self):
        try:
            return f"<vindex.{type(self).__name__} d={self.d} ntotal={self.ntotal} " \
                   f"metric={_METRIC_NAMES[self.metric_type]}>"
        except RuntimeError:
            return f"<vindex.{type(self).__name__} (not initialised)>"

    def __reduce__(self):
        raise TypeError(f"{type(self).__name__} cannot be pickled or copied yet: the index "
                        f"lives in C (index files will come with write_index/read_index)")

    def train(self, x):
        """Trains the index on the (n, d) vectors x (a no-op for Flat)."""
        self._train(_asc(x, dtype=_f32))

    def add(self, x):
        """Adds the (n, d) vectors x; they get labels ntotal, ntotal+1, ...
        Indexes that need ids (IndexIDMap) refuse: use add_with_ids."""
        self._add(_asc(x, dtype=_f32))

    def add_with_ids(self, x, ids):
        """Adds the (n, d) vectors x with the n int64 labels ids (unique)."""
        self._add_with_ids(_asc(x, dtype=_f32), _ids(ids, "add_with_ids"))

    def search(self, x, k, *, params=None, D=None, I=None):
        """The k nearest stored vectors of each of the (n, d) queries x.

        Returns (D, I): (n, k) float32 distances (squared L2, or inner products)
        and (n, k) int64 labels, nearest first; missing results have label -1.
        params: a SearchParameters (per-call settings and a `sel` id filter).
        D, I: optional output arrays of those shapes and dtypes, filled in place.
        """
        x = _asc(x, dtype=_f32)
        if type(k) is not int or k <= 0:
            k = _k(k, "search")
        n = x.shape[0]
        if D is None:
            D = _empty((n, k), dtype=_f32)
        if I is None:
            I = _empty((n, k), dtype=_i64)
        self._search(x, k, params, D, I)
        return D, I

    def assign(self, x, k=1, labels=None):
        """The labels of the k nearest stored vectors of each query: (n, k) int64."""
        return self.search(x, k, I=labels)[1]

    def range_search(self, x, thresh, *, params=None):
        """Every stored vector within `thresh` of each of the (n, d) queries x:
        L2 distance < thresh, or inner product > thresh.

        Returns (lims, D, I): the results of query i are D[lims[i]:lims[i+1]]
        (float32) and I[lims[i]:lims[i+1]] (int64), nearest first; lims is
        uint64 with n + 1 entries.
        """
        lims, dist, lab = self._range_search(_asc(x, dtype=_f32), float(thresh), params)
        return (_np.frombuffer(lims, dtype=_np.uint64), _np.frombuffer(dist, dtype=_f32),
                _np.frombuffer(lab, dtype=_i64))

    def reconstruct(self, key, x=None):
        """The stored vector with label `key`, as a (d,) float32 array (into x if
        given). IndexIDMap cannot reconstruct (RuntimeError); IndexIDMap2 can."""
        if x is None:
            x = _empty(self.d, dtype=_f32)
        self._reconstruct(_operator.index(key), x)
        return x

    def reconstruct_n(self, n0=0, ni=-1, x=None):
        """The stored vectors with labels n0 .. n0+ni-1 as an (ni, d) float32
        array (into x if given); ni=-1 means up to ntotal."""
        n0, ni = _operator.index(n0), _operator.index(ni)
        if ni == -1:
            ni = max(self.ntotal - n0, 0)
        if x is None:
            if ni < 0:
                raise ArgumentError(f"reconstruct_n: ni {ni} is negative")
            x = _empty((ni, self.d), dtype=_f32)
        self._reconstruct_n(n0, ni, x)
        return x

    def reconstruct_batch(self, key, x=None):
        """The stored vectors with the given labels, as an (n, d) float32 array."""
        key = _ids(key, "reconstruct_batch")
        if x is None:
            x = _empty((len(key), self.d), dtype=_f32)
        for row, k in zip(x, key.tolist()):
            self._reconstruct(k, row)
        return x

    def remove_ids(self, x):
        """Removes the vectors whose labels x selects: an IDSelector, or an array
        of ids. Returns how many were removed. Flat indexes renumber the
        vectors that follow (labels are positions), as Faiss does."""
        if not isinstance(x, _vindex.Selector):
            try:
                ids = _ids(x, "remove_ids")
            except (TypeError, ValueError) as e:
                raise TypeError(f"remove_ids: expected an IDSelector or an array of ids, got "
                                f"{type(x).__name__} ({e})") from None
            x = IDSelectorBatch(ids)
        return self._remove_ids(x)

    def reset(self):
        """Removes every vector (training is kept)."""
        self._reset()


class IndexFlat(Index):
    """Exact search over the vectors as stored (Faiss: IndexFlat).

    IndexFlat(d, metric=METRIC_L2). Labels are positions 0..ntotal-1.
    """

    def __init__(self, d, metric=METRIC_L2):
        self._init_flat(d, _c_metric(metric))


class IndexFlatL2(IndexFlat):
    """Exact search by squared L2 distance (Faiss: IndexFlatL2(d))."""

    def __init__(self, d):
        self._init_flat(d, _vindex.C_METRIC_L2)


class IndexFlatIP(IndexFlat):
    """Exact search by inner product, larger first (Faiss: IndexFlatIP(d))."""

    def __init__(self, d):
        self._init_flat(d, _vindex.C_METRIC_INNER_PRODUCT)


class IndexIDMap(Index):
    """Gives the vectors of `index` (an empty IndexFlat) arbitrary int64 ids
    (Faiss: IndexIDMap). Add with add_with_ids; search returns those ids.

    The wrapper owns the wrapped index from then on, as in Faiss: `index`
    stays readable as the attribute `.index`, but changes (add, reset, ...)
    must go through the wrapper.
    """

    _two = False

    def __init__(self, index):
        self._init_idmap(index, self._two)
        self.index = index


class IndexIDMap2(IndexIDMap):
    """IndexIDMap that can also reconstruct vectors by id (Faiss: IndexIDMap2)."""

    _two = True


# ---------------------------------------------------------------------------
# Id selectors
# ---------------------------------------------------------------------------


class IDSelector(_vindex.Selector):
    """The base of the id selectors (Faiss: IDSelector): which ids a search may
    return (SearchParameters(sel=...)) or remove_ids removes.
    is_member(id) tells whether an id is selected."""

    def __init__(self, *args, **kwargs):
        raise TypeError("IDSelector is abstract: use IDSelectorRange, IDSelectorBatch, ...")


class IDSelectorRange(IDSelector):
    """The ids in [imin, imax) (Faiss: IDSelectorRange(imin, imax))."""

    def __init__(self, imin, imax, assume_sorted=False):
        self.imin, self.imax = _operator.index(imin), _operator.index(imax)
        self._init_range(self.imin, self.imax)


class IDSelectorBatch(IDSelector):
    """The ids listed (Faiss: IDSelectorBatch). IDSelectorBatch(ids) or, as in
    Faiss's C++ signature, IDSelectorBatch(n, ids) with the first n of ids.
    The ids are copied."""

    def __init__(self, *args):
        if len(args) == 1:
            ids = _ids(args[0], type(self).__name__)
        elif len(args) == 2:
            n = _operator.index(args[0])
            ids = _ids(args[1], type(self).__name__)
            if not 0 <= n <= len(ids):
                raise ArgumentError(f"{type(self).__name__}: n={n} but {len(ids)} ids given")
            ids = ids[:n]
        else:
            raise TypeError(f"{type(self).__name__}(ids) or {type(self).__name__}(n, ids)")
        self._init_batch(ids)


class IDSelectorArray(IDSelectorBatch):
    """The ids listed (Faiss: IDSelectorArray); the same as IDSelectorBatch here."""


class IDSelectorBitmap(IDSelector):
    """Id i is selected when bit i % 8 of bitmap[i // 8] is set (Faiss:
    IDSelectorBitmap). IDSelectorBitmap(bitmap) or IDSelectorBitmap(n, bitmap)
    with n the number of bytes, as in Faiss. The bitmap is copied."""

    def __init__(self, *args):
        if len(args) == 1:
            bitmap = _asc(args[0], dtype=_np.uint8)
            nbytes = bitmap.size
        elif len(args) == 2:
            nbytes = _operator.index(args[0])
            bitmap = _asc(args[1], dtype=_np.uint8)
        else:
            raise TypeError("IDSelectorBitmap(bitmap) or IDSelectorBitmap(n, bitmap)")
        self._init_bitmap(nbytes * 8, bitmap.reshape(-1))


class IDSelectorNot(IDSelector):
    """Every id that `sel` does not select (Faiss: IDSelectorNot(sel))."""

    def __init__(self, sel):
        self._init_not(sel)


# ---------------------------------------------------------------------------
# Per-call search parameters
# ---------------------------------------------------------------------------


class SearchParameters(_vindex.SearchParams):
    """Per-call search settings (Faiss: SearchParameters): `sel`, an IDSelector
    that restricts the results to the ids it selects.

        D, I = index.search(xq, k, params=SearchParameters(sel=IDSelectorRange(0, 100)))

    The settings travel with the call: searches with different parameters can
    run at once in several threads.
    """

    def __init__(self, *, sel=None):
        self.sel = sel


class SearchParametersIVF(SearchParameters):
    """Search settings for IVF indexes: nprobe (0: the index's own nprobe) and sel."""

    def __init__(self, *, sel=None, nprobe=0):
        self.sel = sel
        self.nprobe = nprobe


class SearchParametersHNSW(SearchParameters):
    """Search settings for HNSW indexes: efSearch (0: the index's own) and sel."""

    def __init__(self, *, sel=None, efSearch=0):
        self.sel = sel
        self.efSearch = efSearch


class IndexRefineSearchParameters(SearchParameters):
    """Search settings for IndexRefine: k_factor (0: the index's own) and sel."""

    def __init__(self, *, sel=None, k_factor=0.0):
        self.sel = sel
        self.k_factor = k_factor


# ---------------------------------------------------------------------------
# Functions
# ---------------------------------------------------------------------------


def knn(xq, xb, k, metric=METRIC_L2):
    """Exact k nearest neighbours of the queries xq among xb, without an index.
    Returns (D, I) of shape (len(xq), k), as Index.search."""
    xq = _asc(xq, dtype=_f32)
    xb = _asc(xb, dtype=_f32)
    k = _k(k, "knn")
    D = _empty((xq.shape[0], k), dtype=_f32)
    I = _empty((xq.shape[0], k), dtype=_i64)
    _vindex.knn(xq, xb, k, _c_metric(metric), D, I)
    return D, I


def normalize_L2(x):
    """Scales each row of x to unit L2 norm, in place (zero rows stay zero).
    x must be a writable C-contiguous float32 array (1 or 2 dimensions)."""
    if not (isinstance(x, _np.ndarray) and x.dtype == _f32 and x.flags.c_contiguous
            and x.flags.writeable):
        raise ArgumentError(
            "normalize_L2 works in place, so x must be a writable C-contiguous float32 numpy "
            "array; convert first: x = np.ascontiguousarray(x, dtype='float32')")
    _vindex.normalize_L2(x)


def omp_set_num_threads(n):
    """Sets the number of threads of the library's pool (Faiss: the OpenMP
    threads). n <= 0 restores the default (VINDEX_NUM_THREADS, else all cores)."""
    _vindex.set_num_threads(_operator.index(n))


def omp_get_max_threads():
    """The number of threads of the library's pool."""
    return _vindex.get_num_threads()


def get_num_gpus():
    """0: vindex runs on the CPU (Faiss: get_num_gpus)."""
    return 0


def simd_level():
    """The instruction set of the distance kernels: "scalar", "avx2" or "avx512"."""
    return _vindex.simd_level()
