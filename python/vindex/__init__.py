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
  * IVF: index.invlists is a read-only view (list_size, get_ids returning an
    int64 array, imbalance_factor); nprobe <= 0 is refused with ArgumentError;
  * Kmeans.train has no `weights` or `init_centroids`; k-means warnings go to
    stderr and verbose progress to stdout through the library's log callback
    (set_log_callback redirects them).

Adding an index family (for the maintainers): one `_init_<family>` method in
_vindex.c that calls the C constructor (with adopt_begin/adopt_finish when the
new index takes a sub-index), then a class here whose __init__ calls it, plus
one `_param("name")` line per Faiss attribute that maps to
vindex_set_param/vindex_get_param (`_param_group` for nested ones such as
`index.hnsw.efSearch`). See IndexIDMap below for a wrapper.
"""
import operator as _operator
import sys as _sys
import threading as _threading

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
    "omp_get_max_threads", "get_num_gpus", "simd_level", "IndexIVF", "IndexIVFFlat",
    "DirectMap", "InvertedLists", "ClusteringParameters", "Kmeans", "extract_index_ivf",
    "set_log_callback", "ProductQuantizer", "IndexPQ", "IndexIVFPQ", "ScalarQuantizer",
    "IndexScalarQuantizer", "IndexIVFScalarQuantizer", "IndexHNSW", "IndexHNSWFlat",
    "IndexHNSWSQ", "index_factory", "reverse_index_factory", "vector_to_array",
    "IndexBinary", "IndexBinaryFlat", "IndexPQFastScan", "IndexIVFPQFastScan", "IndexHNSWPQ",
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

    __slots__ = ("_index", "_names", "_prefix")

    def __init__(self, index, names, prefix=""):
        object.__setattr__(self, "_index", index)
        object.__setattr__(self, "_names", names)
        object.__setattr__(self, "_prefix", prefix)

    def __getattr__(self, name):
        if name not in self._names:
            raise AttributeError(name)
        return self._names[name](self._index._get_param(self._prefix + name))

    def __setattr__(self, name, value):
        if name not in self._names:
            raise AttributeError(f"{name!r} is not a parameter vindex knows here")
        self._index._set_param(self._prefix + name, value)

    def __repr__(self):
        return "<" + ", ".join(f"{n}={getattr(self, n)!r}" for n in self._names) + ">"


def _param_group(_prefix="", _doc=None, **names):
    """A read-only property returning a _ParamGroup: `hnsw = _param_group(efSearch=int)`.
    With _prefix, attribute `x` is the tunable `_prefix + "x"` (`cp.niter`)."""
    return property(lambda self: _ParamGroup(self, names, _prefix), doc=_doc)


def _wrap_index_handle(index):
    """Gives a raw index handle the Python class of its C family, and returns it.

    `index` is an object of class Index that holds a `vindex *` but whose
    __init__ never ran: what `_vindex.factory(Index, d, spec, c_metric)`
    returns (and what an index reader should return too). Its class becomes
    the one named by vindex_type_name (IndexFlat becomes IndexFlatL2 or
    IndexFlatIP from the metric); for IndexIDMap / IndexIDMap2 the wrapped
    index is made readable as `.index` (a borrowed handle from
    `_idmap_index`), wrapped the same way. An IVF index's
    `.quantizer` is made on first use. A family without a Python class raises
    RuntimeError. Used by index_factory; meant for read_index / deserialize.
    """
    name = index._type_name
    if name == "IndexFlat":
        cls = IndexFlatL2 if index._metric == _vindex.C_METRIC_L2 else IndexFlatIP
    else:
        cls = globals().get(name)
        if not (isinstance(cls, type) and issubclass(cls, Index)):
            raise RuntimeError(f"vindex has no Python class for the index family {name!r}")
    index.__class__ = cls
    if issubclass(cls, IndexIDMap):
        index.__dict__["index"] = _wrap_index_handle(index._idmap_index(Index))
    return index


class _Bytes(int):
    """An int that can also be called (index.memory_bytes and
    index.memory_bytes() both give the number of bytes)."""

    def __call__(self):
        return int(self)


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

    @property
    def memory_bytes(self):
        """Bytes held by the index (vectors, codes, ids, graph, sub-indexes);
        usable as an attribute or called: index.memory_bytes()."""
        return _Bytes(_vindex.Index.memory_bytes.__get__(self))

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
# Inverted-file indexes
# ---------------------------------------------------------------------------


class DirectMap:
    """The kinds of id -> vector map an IVF index can keep for reconstruct()
    (Faiss: faiss.DirectMap): NoMap (none: reconstruct fails), Array (ids must
    be 0..ntotal-1, as after add() without ids; remove_ids is refused) and
    Hashtable (any unique ids; remove_ids works).

        index.set_direct_map_type(faiss.DirectMap.Hashtable)

    As an attribute of an index (`index.direct_map`), it tells the kind kept:
    `index.direct_map.type`, and `index.direct_map.no()` when there is none.
    """

    NoMap = 0
    Array = 1
    Hashtable = 2

    def __init__(self, type=0):
        self.type = type

    def no(self):
        """Whether no map is kept (type == NoMap)."""
        return self.type == DirectMap.NoMap

    def __repr__(self):
        names = {0: "NoMap", 1: "Array", 2: "Hashtable"}
        return f"<vindex.DirectMap {names.get(self.type, self.type)}>"


class InvertedLists:
    """A read-only view of the inverted lists of an IVF index (Faiss:
    index.invlists): `nlist`, `list_size(i)`, `get_ids(i)`,
    `imbalance_factor()`, `compute_ntotal()`. It reads the index live: sizes
    change as vectors are added or removed.

    Differences from Faiss: get_ids(i) returns an int64 numpy array (Faiss
    returns a pointer for rev_swig_ptr); list_sizes() (all sizes as one
    array) is a vindex extension.
    """

    __slots__ = ("_index",)

    def __init__(self, index):
        self._index = index

    @property
    def nlist(self):
        """The number of inverted lists."""
        return self._index.nlist

    def list_sizes(self):
        """The size of every list, as an (nlist,) uint64 array (vindex extension)."""
        return _np.frombuffer(self._index._list_sizes(), dtype=_np.uint64)

    def list_size(self, list_no):
        """The number of vectors in inverted list `list_no`."""
        sizes = self.list_sizes()
        i = _operator.index(list_no)
        if not 0 <= i < len(sizes):
            raise ArgumentError(f"list_size: list {i} is out of range 0..{len(sizes) - 1}")
        return int(sizes[i])

    def get_ids(self, list_no):
        """The ids stored in inverted list `list_no`, in list order (int64 array)."""
        return _np.frombuffer(self._index._list_ids(_operator.index(list_no)), dtype=_i64)

    def compute_ntotal(self):
        """The total number of vectors over all lists."""
        return int(self.list_sizes().sum())

    def imbalance_factor(self):
        """nlist * sum(size^2) / ntotal^2: 1.0 when the lists are all the same
        size, larger when they are uneven (0.0 for an empty index)."""
        return self._index._imbalance_factor()

    def __repr__(self):
        return f"<vindex.InvertedLists nlist={self.nlist}>"


class IndexIVF(Index):
    """The base of the inverted-file indexes (Faiss: faiss.IndexIVF). Not
    constructed directly: use IndexIVFFlat.

    The vectors are partitioned into `nlist` inverted lists, one per centroid
    of the coarse quantizer (trained by k-means in train()); a search visits
    the `nprobe` lists whose centroids are nearest to the query.

    Attributes: nlist (read only), nprobe (default 1; values above nlist are
    clamped at search time; 0 or negative is refused), quantizer, invlists,
    direct_map, cp (the clustering parameters of the next train(): niter,
    nredo, seed, spherical, max_points_per_centroid, min_points_per_centroid,
    verbose), verbose.
    """

    nprobe = _param("nprobe", int, "Inverted lists a search visits (default 1, at least 1; "
                                   "values above nlist are clamped at search time).")
    cp = _param_group("cp.", "The clustering parameters of the next train() (Faiss: "
                      "index.cp): niter (10), nredo, seed, spherical, max_points_per_centroid, "
                      "min_points_per_centroid, verbose.",
                      niter=int, nredo=int, seed=int, spherical=bool,
                      max_points_per_centroid=int, min_points_per_centroid=int, verbose=bool)
    verbose = _param("cp.verbose", bool, "Whether train() prints the k-means progress "
                                         "(to stdout, as Faiss).")

    @property
    def nlist(self):
        """The number of inverted lists (fixed at construction)."""
        return int(self._get_param("nlist"))

    @property
    def quantizer(self):
        """The coarse quantizer: the Flat index given to the constructor, which
        the IVF index owns. It stays usable for reading (search, ntotal,
        reconstruct: `index.quantizer.search(x, 1)` assigns vectors to lists);
        changes to it are refused."""
        q = self.__dict__.get("_quantizer")
        if q is None:  # IndexFlatL2 / IndexFlatIP, or IndexHNSWFlat (IVF<n>_HNSW<M>)
            q = _wrap_index_handle(self._ivf_quantizer(Index))
            self.__dict__["_quantizer"] = q
        return q

    @property
    def invlists(self):
        """The inverted lists (InvertedLists): list_size(i), imbalance_factor(), ..."""
        return InvertedLists(self)

    @property
    def direct_map(self):
        """The direct map kept for reconstruct(), as a DirectMap (its `type`)."""
        return DirectMap(self._direct_map_kind())

    def __repr__(self):
        try:
            return f"<vindex.{type(self).__name__} d={self.d} nlist={self.nlist} " \
                   f"nprobe={self.nprobe} ntotal={self.ntotal} " \
                   f"metric={_METRIC_NAMES[self.metric_type]}>"
        except RuntimeError:
            return f"<vindex.{type(self).__name__} (not initialised)>"

    def train(self, x):
        """Clusters the (n, d) vectors x into nlist centroids (k-means with
        `cp`: 10 iterations, at most 256 points per centroid, as Faiss) and
        stores them in the quantizer. Needs n >= nlist. Skipped when the
        quantizer already holds nlist vectors. Warnings (too few points per
        centroid) go to stderr, and the progress to stdout when `verbose`."""
        x = _asc(x, dtype=_f32)
        with _log_scope(self.verbose):
            self._train(x)

    def make_direct_map(self, new_maintain=True):
        """Builds the id -> vector map that reconstruct() needs (an array map:
        ids must be 0..ntotal-1, as after add() without ids) and keeps it up
        to date through later adds; make_direct_map(False) drops it. For other
        ids use set_direct_map_type(DirectMap.Hashtable)."""
        self._make_direct_map(DirectMap.Array if new_maintain else DirectMap.NoMap)

    def set_direct_map_type(self, type):
        """Keeps a direct map of the given kind: DirectMap.NoMap, DirectMap.Array
        (ids 0..ntotal-1) or DirectMap.Hashtable (any unique ids; remove_ids
        works)."""
        self._make_direct_map(_operator.index(type))

    def reconstruct(self, key, x=None):
        """The stored vector with id `key`, as a (d,) float32 array (into x if
        given). Needs a direct map: call make_direct_map() first (else
        RuntimeError)."""
        return super().reconstruct(key, x)

    def merge_from(self, otherIndex, add_id=0):
        """Moves every vector of otherIndex (an IVF index of the same kind,
        dimension, metric and nlist, with the same centroids) into this one,
        adding add_id to its ids; otherIndex ends empty."""
        self._merge_from(otherIndex, _operator.index(add_id))


class IndexIVFFlat(IndexIVF):
    """Inverted-file index storing the vectors uncompressed (Faiss:
    IndexIVFFlat(quantizer, d, nlist, metric=METRIC_L2)); distances are exact
    within the visited lists.

        quantizer = faiss.IndexFlatL2(d)
        index = faiss.IndexIVFFlat(quantizer, d, nlist)
        index.train(xb)
        index.add(xb)
        index.nprobe = 10
        D, I = index.search(xq, k)

    The index owns `quantizer` from then on, as in Faiss: it stays readable as
    `index.quantizer` (and through the object passed in), but changes to it
    are refused. With METRIC_INNER_PRODUCT, use an IndexFlatIP quantizer.
    """

    def __init__(self, quantizer, d, nlist, metric=METRIC_L2):
        self._init_ivf_flat(quantizer, _operator.index(d), _operator.index(nlist),
                            _c_metric(metric))
        self.__dict__["_quantizer"] = quantizer


# ---------------------------------------------------------------------------
# Product quantization
# ---------------------------------------------------------------------------


class _CodecClusteringParameters:
    """The k-means parameters a ProductQuantizer uses for its next train()
    (Faiss: pq.cp): niter (25), nredo (1), seed (1234), spherical,
    max_points_per_centroid (256), min_points_per_centroid (39), verbose.
    Reads and writes go to the codec directly."""

    _FIELDS = ("niter", "nredo", "seed", "spherical", "max_points_per_centroid",
               "min_points_per_centroid", "verbose")
    __slots__ = ("_pq",)

    def __init__(self, pq):
        object.__setattr__(self, "_pq", pq)

    def __getattr__(self, name):
        try:
            i = _CodecClusteringParameters._FIELDS.index(name)
        except ValueError:
            raise AttributeError(name) from None
        return self._pq._get_cp()[i]

    def __setattr__(self, name, value):
        if name not in self._FIELDS:
            raise AttributeError(f"ProductQuantizer.cp has no parameter {name!r}; vindex knows "
                                 f"{', '.join(self._FIELDS)}")
        values = list(self._pq._get_cp())
        i = self._FIELDS.index(name)
        values[i] = bool(value) if name in ("spherical", "verbose") else _operator.index(value)
        self._pq._set_cp(*values)

    def __repr__(self):
        return "<ClusteringParameters " + ", ".join(
            f"{n}={v!r}" for n, v in zip(self._FIELDS, self._pq._get_cp())) + ">"


class ProductQuantizer(_vindex.PQCodec):
    """A product quantizer (Faiss: ProductQuantizer(d, M, nbits)): cuts a
    d-dimensional vector into M sub-vectors of dsub = d / M components and
    codes each as the nearest of ksub = 2**nbits centroids learnt for its
    sub-space by k-means. A code is code_size = ceil(M * nbits / 8) bytes, in
    Faiss's bit layout.

        pq = faiss.ProductQuantizer(d, M, nbits)
        pq.train(x)                       # at least ksub vectors
        codes = pq.compute_codes(x)       # (n, code_size) uint8
        x2 = pq.decode(codes)             # (n, d) float32
        pq.centroids                      # (M, ksub, dsub) float32

    d must be a multiple of M and nbits in 1..16. The `pq` of an IndexPQ or
    IndexIVFPQ is the same class, owned by its index: readable (codes,
    centroids, tables), but train() and setting centroids are refused there.
    """

    def __init__(self, d, M, nbits=8):
        self._init(_operator.index(d), _operator.index(M), _operator.index(nbits))

    def __reduce__(self):
        raise TypeError("ProductQuantizer cannot be pickled or copied: save `centroids` and "
                        "build a new one with them")

    @property
    def d(self):
        """Dimension of the vectors."""
        return self._info()[0]

    @property
    def M(self):
        """Number of sub-quantizers (sub-vectors per vector)."""
        return self._info()[1]

    @property
    def nbits(self):
        """Bits per sub-code."""
        return self._info()[2]

    @property
    def code_size(self):
        """Bytes of one code: ceil(M * nbits / 8)."""
        return self._info()[3]

    @property
    def ksub(self):
        """Centroids per sub-quantizer: 2**nbits."""
        return 1 << self._info()[2]

    @property
    def dsub(self):
        """Components of one sub-vector: d // M."""
        d, M = self._info()[:2]
        return d // M

    @property
    def is_trained(self):
        """Whether the codebooks are learnt (train() or centroids set)."""
        return self._info()[4]

    @property
    def cp(self):
        """The k-means parameters of the next train() (niter, seed, ...)."""
        return _CodecClusteringParameters(self)

    @property
    def centroids(self):
        """The codebooks as a new (M, ksub, dsub) float32 array (Faiss keeps a
        flat vector: faiss.vector_to_array(pq.centroids).reshape(M, ksub,
        dsub) works on this too). Assigning an array of M * ksub * dsub values
        installs codebooks and marks the quantizer trained."""
        d, M, nbits = self._info()[:3]
        out = _empty(d << nbits, dtype=_f32)
        self._centroids(out)
        return out.reshape(M, 1 << nbits, d // M)

    @centroids.setter
    def centroids(self, value):
        self._set_centroids(_asc(value, dtype=_f32).reshape(-1))

    def train(self, x):
        """Learns the M codebooks from the (n, d) vectors x (n >= ksub); k-means
        per sub-space with `cp` (25 iterations, seed 1234)."""
        with _log_scope(self.cp.verbose):
            self._train(_asc(x, dtype=_f32))

    def compute_codes(self, x):
        """The codes of the (n, d) vectors x: an (n, code_size) uint8 array."""
        x = _asc(x, dtype=_f32)
        n = x.shape[0] if x.ndim == 2 else 0
        codes = _empty((n, self.code_size), dtype=_np.uint8)
        self._compute_codes(x, codes)
        return codes

    def decode(self, codes):
        """The vectors the (n, code_size) uint8 codes stand for: (n, d) float32
        (each sub-vector replaced by its centroid)."""
        codes = _asc(codes, dtype=_np.uint8)
        n = codes.shape[0] if codes.ndim == 2 else 0
        x = _empty((n, self.d), dtype=_f32)
        self._decode(codes, x)
        return x

    def _tables_of(self, x, c_metric):
        x = _asc(x, dtype=_f32)
        d, M, nbits = self._info()[:3]
        n = x.shape[0] if x.ndim == 2 else 0
        out = _empty(n * (M << nbits), dtype=_f32)
        self._tables(x, c_metric, out)
        return out.reshape(n, M, 1 << nbits)

    def compute_distance_tables(self, x):
        """Asymmetric distance tables of the (n, d) queries x: an (n, M, ksub)
        float32 array whose [i, m, c] is the squared L2 distance between
        sub-vector m of query i and centroid c of sub-space m. The distance to
        a code is the sum over m of the entries its sub-codes pick."""
        return self._tables_of(x, _vindex.C_METRIC_L2)

    def compute_inner_prod_tables(self, x):
        """As compute_distance_tables, with inner products instead of distances."""
        return self._tables_of(x, _vindex.C_METRIC_INNER_PRODUCT)

    def compute_sdc_table(self):
        """Symmetric table: an (M, ksub, ksub) float32 array of the squared L2
        distances between the centroids of each sub-space (Faiss keeps it as
        pq.sdc_table after this call)."""
        d, M, nbits = self._info()[:3]
        out = _empty(M << (2 * nbits), dtype=_f32)
        self._tables(None, -1, out)
        self.sdc_table = out.reshape(M, 1 << nbits, 1 << nbits)
        return self.sdc_table

    def __repr__(self):
        try:
            d, M, nbits, cs, trained = self._info()
        except RuntimeError:
            return "<vindex.ProductQuantizer (not initialised)>"
        return f"<vindex.ProductQuantizer d={d} M={M} nbits={nbits} code_size={cs} " \
               f"is_trained={trained}>"


def _index_pq(index):
    """The borrowed ProductQuantizer of an IndexPQ / IndexIVFPQ (cached)."""
    pq = index.__dict__.get("_pq")
    if pq is None:
        pq = index._pq_codec(ProductQuantizer)
        index.__dict__["_pq"] = pq
    return pq


class IndexPQ(Index):
    """Every vector stored as its product-quantizer code, searched
    exhaustively by asymmetric distances (Faiss: IndexPQ(d, M, nbits,
    metric=METRIC_L2)).

        index = faiss.IndexPQ(d, M, nbits)   # d % M == 0, nbits in 1..16
        index.train(xb)                      # at least 2**nbits vectors
        index.add(xb)
        D, I = index.search(xq, k)

    Labels are positions 0..ntotal-1, as IndexFlat. A trained index with no
    vectors answers searches with label -1. `pq` is the codec (read only:
    centroids, compute_codes, decode, cp before train).
    """

    def __init__(self, d, M, nbits=8, metric=METRIC_L2):
        self._init_coded("pq", _operator.index(d), _operator.index(M), _operator.index(nbits),
                         _c_metric(metric))

    @property
    def pq(self):
        """The ProductQuantizer inside the index (owned by it)."""
        return _index_pq(self)

    @property
    def code_size(self):
        """Bytes per stored vector."""
        return int(self._get_param("pq.code_size"))

    def train(self, x):
        """Learns the product quantizer from the (n, d) vectors x (n >= 2**nbits)."""
        with _log_scope(False):
            self._train(_asc(x, dtype=_f32))


class IndexIVFPQ(IndexIVF):
    """Inverted-file index whose lists hold PQ codes of the residuals (vector
    minus its list's centroid), as Faiss's IndexIVFPQ(quantizer, d, nlist, M,
    nbits, metric=METRIC_L2) with by_residual.

        quantizer = faiss.IndexFlatL2(d)
        index = faiss.IndexIVFPQ(quantizer, d, nlist, M, 8)
        index.train(xb)
        index.add(xb)
        index.nprobe = 10
        D, I = index.search(xq, k)

    Attributes: those of IndexIVF (nprobe, nlist, quantizer, invlists, cp,
    direct maps, merge_from), `pq` (the product quantizer, read only),
    `code_size`, `use_precomputed_table` (1: L2 searches use Faiss's
    precomputed per-list tables, the default; 0: a table per visited list),
    `by_residual` (always True).
    """

    by_residual = True

    def __init__(self, quantizer, d, nlist, M, nbits=8, metric=METRIC_L2):
        self._init_ivf_quantized("pq", quantizer, _operator.index(d), _operator.index(nlist),
                                 _operator.index(M), _operator.index(nbits), _c_metric(metric))
        self.__dict__["_quantizer"] = quantizer

    use_precomputed_table = _param("use_precomputed_table", int,
                                   "1: L2 searches use precomputed per-list tables (the "
                                   "default); 0: a residual table per visited list.")

    @property
    def pq(self):
        """The ProductQuantizer of the residuals (owned by the index)."""
        return _index_pq(self)

    @property
    def code_size(self):
        """Bytes per stored code."""
        return int(self._get_param("pq.code_size"))


def _check_bbs(bbs, what):
    if _operator.index(bbs) != 32:
        raise ArgumentError(f"{what}: bbs = {bbs}: vindex packs fast-scan codes in blocks "
                            f"of 32 only (bbs=32)")


class IndexPQFastScan(IndexPQ):
    """IndexPQ with 4-bit codes in blocks of 32, scanned with 8-bit lookup
    tables in SIMD registers (Faiss: IndexPQFastScan(d, M, nbits=4,
    metric=METRIC_L2, bbs=32)); nbits must be 4.

        index = faiss.IndexPQFastScan(d, M, 4)
        index.train(xb)
        index.add(xb)
        D, I = index.search(xq, k)

    The quantized scores pick 2k + 16 candidates that are rescored from the
    float tables, so distances are IndexPQ's; `rescore = 0` returns the
    approximate ones, as Faiss. `pq`, `code_size` as IndexPQ."""

    bbs = 32

    def __init__(self, d, M, nbits=4, metric=METRIC_L2, bbs=32):
        _check_bbs(bbs, "IndexPQFastScan")
        self._init_coded("pqfs", _operator.index(d), _operator.index(M), _operator.index(nbits),
                         _c_metric(metric))

    rescore = _param("rescore", int, "1: candidates rescored exactly (default); 0: the "
                     "approximate distances of the 8-bit tables.")


class IndexIVFPQFastScan(IndexIVFPQ):
    """IndexIVFPQ with each list's 4-bit codes in blocks of 32, scanned with
    8-bit lookup tables (Faiss: IndexIVFPQFastScan(quantizer, d, nlist, M,
    nbits=4, metric=METRIC_L2, bbs=32)); nbits must be 4.

        index = faiss.IndexIVFPQFastScan(faiss.IndexFlatL2(d), d, 1024, M, 4)
        index.train(xb)
        index.add(xb)
        index.nprobe = 8
        D, I = index.search(xq, k)

    Distances are the approximate ones of the 8-bit tables, as Faiss; for
    exact re-ranking build it as index_factory(d, "IVF1024,PQ392x4fs,RFlat")
    (an IndexRefineFlat; set its k_factor).
    Attributes as IndexIVFPQ."""

    bbs = 32

    def __init__(self, quantizer, d, nlist, M, nbits=4, metric=METRIC_L2, bbs=32):
        _check_bbs(bbs, "IndexIVFPQFastScan")
        self._init_ivf_quantized("pqfs", quantizer, _operator.index(d), _operator.index(nlist),
                                 _operator.index(M), _operator.index(nbits), _c_metric(metric))
        self.__dict__["_quantizer"] = quantizer


# ---------------------------------------------------------------------------
# Scalar quantization
# ---------------------------------------------------------------------------


class ScalarQuantizer:
    """The scalar quantizer types (Faiss: ScalarQuantizer.QT_*), with Faiss's
    values, for IndexScalarQuantizer, IndexIVFScalarQuantizer and IndexHNSWSQ:

      QT_8bit          1 byte per component, a [min, max] range per dimension
      QT_4bit          4 bits per component, a range per dimension
      QT_8bit_uniform  1 byte per component, one range for all dimensions
      QT_fp16          IEEE half precision (no training)
      QT_bf16          bfloat16 (no training)

    QT_4bit_uniform, QT_6bit, QT_8bit_direct and QT_8bit_direct_signed are
    defined so that code naming them imports; vindex refuses them when used.

    ScalarQuantizer(d, qtype) describes a quantizer (d, qtype, code_size), as
    `index.sq` does; vindex has no standalone scalar-quantizer codec, so its
    train / compute_codes / decode raise RuntimeError (use an
    IndexScalarQuantizer: add, then reconstruct decodes).
    """

    QT_8bit = 0
    QT_4bit = 1
    QT_8bit_uniform = 2
    QT_4bit_uniform = 3
    QT_fp16 = 4
    QT_8bit_direct = 5
    QT_6bit = 6
    QT_bf16 = 7
    QT_8bit_direct_signed = 8

    def __init__(self, d, qtype=QT_8bit):
        self.d = _operator.index(d)
        self.qtype = _operator.index(qtype)
        self.code_size = _vindex.sq_code_size(_sq_c_type(self.qtype, "ScalarQuantizer"), self.d)
        self.bits = {0: 8, 1: 4, 2: 8, 4: 16, 7: 16}[self.qtype]

    def _no_codec(self, op):
        raise RuntimeError(f"ScalarQuantizer.{op}: vindex has no standalone scalar quantizer; "
                           f"use IndexScalarQuantizer(d, qtype) (train, add, reconstruct)")

    def train(self, x):
        """Not available in vindex (RuntimeError): see the class notes."""
        self._no_codec("train")

    def compute_codes(self, x):
        """Not available in vindex (RuntimeError): see the class notes."""
        self._no_codec("compute_codes")

    def decode(self, codes):
        """Not available in vindex (RuntimeError): see the class notes."""
        self._no_codec("decode")

    def __repr__(self):
        return f"<vindex.ScalarQuantizer d={self.d} qtype={_SQ_NAMES.get(self.qtype)} " \
               f"code_size={self.code_size}>"


_SQ_NAMES = {0: "QT_8bit", 1: "QT_4bit", 2: "QT_8bit_uniform", 3: "QT_4bit_uniform",
             4: "QT_fp16", 5: "QT_8bit_direct", 6: "QT_6bit", 7: "QT_bf16",
             8: "QT_8bit_direct_signed"}
_SQ_TO_C = {0: _vindex.C_SQ_8BIT, 1: _vindex.C_SQ_4BIT, 2: _vindex.C_SQ_8BIT_UNIFORM,
            4: _vindex.C_SQ_FP16, 7: _vindex.C_SQ_BF16}
_SQ_FROM_C = {c: q for q, c in _SQ_TO_C.items()}


def _sq_c_type(qtype, op):
    """The C vindex_sq_type of a Faiss qtype, or ArgumentError naming it."""
    try:
        q = _operator.index(qtype)
    except TypeError:
        raise ArgumentError(f"{op}: qtype must be a ScalarQuantizer.QT_* constant, got "
                            f"{qtype!r}") from None
    if q in _SQ_TO_C:
        return _SQ_TO_C[q]
    what = f"ScalarQuantizer.{_SQ_NAMES[q]}" if q in _SQ_NAMES else f"qtype {q}"
    raise ArgumentError(f"{op}: {what} is not supported by vindex; use QT_8bit, QT_4bit, "
                        f"QT_8bit_uniform, QT_fp16 or QT_bf16")


class _SQIndexMixin:
    @property
    def sq(self):
        """The scalar quantizer's description: ScalarQuantizer (d, qtype, code_size)."""
        return ScalarQuantizer(self.d, _SQ_FROM_C[self._sq_type()])

    @property
    def code_size(self):
        """Bytes per stored vector."""
        return _vindex.sq_code_size(self._sq_type(), self.d)


class IndexScalarQuantizer(_SQIndexMixin, Index):
    """Every vector stored as a scalar-quantized code, searched exhaustively
    (Faiss: IndexScalarQuantizer(d, qtype, metric=METRIC_L2)).

        index = faiss.IndexScalarQuantizer(d, faiss.ScalarQuantizer.QT_8bit)
        index.train(xb)          # learns the ranges (QT_fp16 / QT_bf16 need none)
        index.add(xb)
        D, I = index.search(xq, k)

    Labels are positions 0..ntotal-1 (remove_ids renumbers, as Flat);
    reconstruct decodes. `sq` describes the quantizer, `code_size` the bytes
    per vector.
    """

    def __init__(self, d, qtype=ScalarQuantizer.QT_8bit, metric=METRIC_L2):
        self._init_coded("sq", _operator.index(d), _sq_c_type(qtype, "IndexScalarQuantizer"), 0,
                         _c_metric(metric))


class IndexIVFScalarQuantizer(_SQIndexMixin, IndexIVF):
    """Inverted-file index whose lists hold scalar-quantized residuals (Faiss:
    IndexIVFScalarQuantizer(quantizer, d, nlist, qtype, metric=METRIC_L2,
    encode_residual=True)). train() runs k-means, then learns the
    quantizer's ranges on the residuals (needed for every qtype).

    Attributes: those of IndexIVF, `sq`, `code_size`, `by_residual` (always
    True: encode_residual=False is refused).
    """

    by_residual = True

    def __init__(self, quantizer, d, nlist, qtype=ScalarQuantizer.QT_8bit, metric=METRIC_L2,
                 encode_residual=True):
        if not encode_residual:
            raise ArgumentError("IndexIVFScalarQuantizer: encode_residual=False is not "
                                "supported by vindex (its lists always hold residuals)")
        self._init_ivf_quantized("sq", quantizer, _operator.index(d), _operator.index(nlist),
                                 _sq_c_type(qtype, "IndexIVFScalarQuantizer"), 0,
                                 _c_metric(metric))
        self.__dict__["_quantizer"] = quantizer


# ---------------------------------------------------------------------------
# Graph indexes (HNSW)
# ---------------------------------------------------------------------------


class _HNSWParams(_ParamGroup):
    """index.hnsw (Faiss: faiss.HNSW): efSearch, efConstruction (read and
    write), max_level, entry_point (the label of the entry node; -1 when
    empty), M (vindex extension) read only, and nb_neighbors(level)."""

    __slots__ = ()

    def nb_neighbors(self, layer_no):
        """Links per node on level layer_no: 2 * M on level 0, M above."""
        M = int(self._index._get_param("M"))
        return 2 * M if _operator.index(layer_no) == 0 else M


class IndexHNSW(Index):
    """The base of the HNSW graph indexes (Faiss: IndexHNSW). Not constructed
    directly: use IndexHNSWFlat or IndexHNSWSQ.

    `index.hnsw.efSearch` (default 16; a search uses max(efSearch, k)),
    `index.hnsw.efConstruction` (default 40, before add), read only
    `index.hnsw.max_level` and `index.hnsw.entry_point`.
    SearchParametersHNSW(efSearch=...) sets efSearch for one call.

    Labels never change: add() numbers from a counter, add_with_ids() takes
    unique ids, remove_ids() really unlinks the nodes (repairing their
    neighbours) without renumbering anything.
    """

    @property
    def hnsw(self):
        """The graph's parameters (efSearch, efConstruction, max_level,
        entry_point, M, nb_neighbors(level))."""
        return _HNSWParams(self, {"efSearch": int, "efConstruction": int, "max_level": int,
                                  "entry_point": int, "M": int})

    def validate(self):
        """Checks the graph's invariants (degrees, links only to live nodes on
        their level, no self or duplicate links, the entry point on the top
        level). Returns (unreachable, report): the number of nodes not
        reachable from the entry point on level 0 and a one-line summary;
        raises RuntimeError naming the first violation (vindex extension)."""
        status, unreachable, report = self._hnsw_validate()
        if status:
            raise RuntimeError(f"validate: {report}")
        return unreachable, report

    def __repr__(self):
        try:
            return f"<vindex.{type(self).__name__} d={self.d} M={int(self._get_param('M'))} " \
                   f"ntotal={self.ntotal} metric={_METRIC_NAMES[self.metric_type]}>"
        except RuntimeError:
            return f"<vindex.{type(self).__name__} (not initialised)>"


class IndexHNSWFlat(IndexHNSW):
    """HNSW graph over the vectors stored uncompressed (Faiss:
    IndexHNSWFlat(d, M, metric=METRIC_L2)); M in 2..512 links per node
    (2 * M on level 0).

        index = faiss.IndexHNSWFlat(d, 32)
        index.hnsw.efConstruction = 40
        index.add(xb)
        index.hnsw.efSearch = 64
        D, I = index.search(xq, k)
    """

    def __init__(self, d, M=32, metric=METRIC_L2):
        self._init_coded("hnsw_flat", _operator.index(d), _operator.index(M), 0,
                         _c_metric(metric))


class IndexHNSWSQ(IndexHNSW):
    """HNSW graph over scalar-quantized vectors (Faiss: IndexHNSWSQ(d, qtype,
    M, metric=METRIC_L2)). vindex offers qtype ScalarQuantizer.QT_8bit_uniform
    (one byte a component, METRIC_L2 only, needs train() before add()) and
    ScalarQuantizer.QT_fp16 (half floats, L2 or inner product, no training).
    Distances are computed on the codes."""

    def __init__(self, d, qtype=ScalarQuantizer.QT_8bit_uniform, M=32, metric=METRIC_L2):
        q = _operator.index(qtype)
        kinds = {ScalarQuantizer.QT_8bit_uniform: "hnsw_sq8", ScalarQuantizer.QT_fp16: "hnsw_fp16"}
        if q not in kinds:
            raise ArgumentError(f"IndexHNSWSQ: qtype {_SQ_NAMES.get(q, q)} is not supported by "
                                f"vindex; use ScalarQuantizer.QT_8bit_uniform or QT_fp16")
        self._init_coded(kinds[q], _operator.index(d), _operator.index(M), 0,
                         _c_metric(metric))


class IndexHNSWPQ(IndexHNSW):
    """HNSW graph over product-quantizer codes (Faiss: IndexHNSWPQ(d, pq_m, M,
    pq_nbits=8)): pq_m bytes a vector (pq_m divides d), learnt by train()
    before add(); METRIC_L2. Distances are those of the codes. vindex offers
    pq_nbits = 8."""

    def __init__(self, d, pq_m, M=32, pq_nbits=8, metric=METRIC_L2):
        if _operator.index(pq_nbits) != 8:
            raise ArgumentError(f"IndexHNSWPQ: pq_nbits {pq_nbits} is not supported by vindex; "
                                f"only 8")
        self._init_coded("hnsw_pq", _operator.index(d), _operator.index(M),
                         _operator.index(pq_m), _c_metric(metric))


# ---------------------------------------------------------------------------
# Factory strings
# ---------------------------------------------------------------------------


class IndexBinary:
    """The base of the binary indexes (Faiss: IndexBinary): vectors are codes
    of d bits packed into d / 8 uint8 bytes (bit j is bit j % 8 of byte
    j // 8), distances are Hamming distances as int32. Not constructed
    directly: use IndexBinaryFlat."""

    __slots__ = ("_h",)

    @property
    def d(self):
        """Bits per code."""
        return _vindex.binary_info(self._h)[0]

    @property
    def code_size(self):
        """Bytes per code (d / 8)."""
        return _vindex.binary_info(self._h)[1]

    @property
    def ntotal(self):
        """Codes stored."""
        return _vindex.binary_info(self._h)[2]

    @property
    def is_trained(self):
        """Always True: binary flat indexes learn nothing."""
        return True

    def _codes(self, x, op):
        x = _asc(x, dtype=_np.uint8)
        if x.ndim != 2 or x.shape[1] != self.code_size:
            raise ArgumentError(f"{op}: codes must be a uint8 array of shape (n, "
                                f"{self.code_size}) (d = {self.d} bits), got shape {x.shape}")
        return x

    def train(self, x):
        """Nothing to learn (Faiss's IndexBinaryFlat ignores train too)."""
        self._codes(x, "train")

    def add(self, x):
        """Appends the (n, code_size) uint8 codes x, labels ntotal, ntotal+1, ..."""
        _vindex.binary_add(self._h, self._codes(x, "add"))

    def search(self, x, k):
        """The k nearest stored codes of each of the (n, code_size) uint8 query
        codes x: (D, I), (n, k) int32 Hamming distances and int64 labels,
        nearest first, ties by the smaller label; missing results have label
        -1 (and distance INT32_MAX)."""
        x = self._codes(x, "search")
        k = _k(k, "search")
        D = _empty((x.shape[0], k), dtype=_np.int32)
        I = _empty((x.shape[0], k), dtype=_i64)
        _vindex.binary_search(self._h, x, k, D, I)
        return D, I

    def reconstruct(self, key):
        """The stored code with label `key`, as a (code_size,) uint8 array."""
        out = _empty(self.code_size, dtype=_np.uint8)
        _vindex.binary_reconstruct(self._h, _operator.index(key), out)
        return out

    def remove_ids(self, x):
        """Removes the codes whose labels x selects (an IDSelector or an array
        of ids); the codes after them are renumbered (labels are positions).
        Returns how many were removed."""
        if not isinstance(x, _vindex.Selector):
            x = IDSelectorBatch(_ids(x, "remove_ids"))
        return _vindex.binary_remove_ids(self._h, x)

    def reset(self):
        """Removes every code."""
        _vindex.binary_reset(self._h)

    def __repr__(self):
        return f"<vindex.{type(self).__name__} d={self.d} ntotal={self.ntotal}>"


class IndexBinaryFlat(IndexBinary):
    """Exact Hamming k-NN over stored binary codes (Faiss:
    IndexBinaryFlat(d)); d is a positive multiple of 8 bits.

        index = faiss.IndexBinaryFlat(256)
        index.add(codes)            # uint8, shape (n, 32)
        D, I = index.search(q, 10)  # D int32 Hamming distances
    """

    __slots__ = ()

    def __init__(self, d):
        self._h = _vindex.binary_flat_new(_operator.index(d))


class IndexLSH(Index):
    """Locality-sensitive hashing (Faiss: IndexLSH(d, nbits, rotate_data=True,
    train_thresholds=False)): vectors become nbits sign bits of a random
    rotation (or of their first nbits components), searched by Hamming
    distance. With train_thresholds the per-bit thresholds are the medians of
    the training set, so train() is needed first. Codes are Faiss's, bit for
    bit.
    """

    def __new__(cls, d, nbits, rotate_data=True, train_thresholds=False):
        spec = "LSH%d%s%s" % (_operator.index(nbits), "r" if rotate_data else "",
                              "t" if train_thresholds else "")
        return index_factory(d, spec)

    def __init__(self, d, nbits, rotate_data=True, train_thresholds=False):
        pass  # built by __new__

    nbits = _param("nbits", int, "Bits per code (read only).")


class IndexPreTransform(Index):
    """An index that transforms vectors before they reach the index inside it
    (Faiss: IndexPreTransform): random rotation, PCA, OPQ or L2 normalisation.
    Built through index_factory for now, e.g. index_factory(d, "OPQ16,IVF256,PQ16")
    or index_factory(d, "PCA64,Flat")."""

    def __init__(self, *args, **kwargs):
        raise RuntimeError("IndexPreTransform: build it with index_factory, e.g. "
                           "index_factory(d, 'PCA64,Flat') or 'OPQ16,IVF256,PQ16'")


class IndexRefine(Index):
    """A base index whose candidates are re-ranked by exact distances from a
    second index (Faiss: IndexRefine / IndexRefineFlat): a search asks the base
    for k * k_factor candidates. Built through index_factory for now, e.g.
    index_factory(d, "IVF256,PQ16,RFlat") or "PQ16,Refine(SQfp16)"; k_factor is
    an attribute and, per call, IndexRefineSearchParameters(k_factor=...)."""

    def __init__(self, *args, **kwargs):
        raise RuntimeError("IndexRefine: build it with index_factory, e.g. "
                           "index_factory(d, 'IVF256,PQ16,RFlat')")

    k_factor = _param("k_factor", float, "Candidates asked of the base per result wanted "
                                         "(default 1, at least 1).")


class IndexRefineFlat(IndexRefine):
    """IndexRefine whose refinement index is a Flat (Faiss: IndexRefineFlat);
    index_factory(d, "<base>,RFlat")."""


def index_factory(d, description, metric=METRIC_L2):
    """Builds an index from a Faiss factory string (Faiss: index_factory):
    "Flat", "IVF1024,Flat", "IVF1024,PQ16x8", "IVF256,SQ8", "PQ16", "SQfp16",
    "HNSW32", "LSH", with prefixes "IDMap," / "IDMap2,", transforms "OPQ16,",
    "PCA64,", "RR64,", "L2norm," and suffixes ",RFlat" / ",Refine(...)".
    Returns an object of the
    matching class (IndexFlatL2 / IndexFlatIP, IndexIVFPQ, IndexIDMap over
    ...). An unknown token raises ArgumentError, one vindex lacks
    RuntimeError; both messages name the token and its position."""
    if not isinstance(description, str):
        raise TypeError(f"index_factory: description must be a str, got "
                        f"{type(description).__name__}")
    d, c_metric = _operator.index(d), _c_metric(metric)
    return _wrap_index_handle(_vindex.factory(Index, d, description, c_metric))


def reverse_index_factory(index):
    """The factory string that builds an index like `index` (Faiss:
    reverse_index_factory): index_factory(d, reverse_index_factory(ix))
    gives the same family and parameters."""
    return index._reverse_factory()


def vector_to_array(v):
    """A numpy copy of v (Faiss: vector_to_array of a C++ vector). vindex
    already exposes arrays (pq.centroids, ...) as numpy arrays, so this is the
    identity up to a copy; it exists so that Faiss code calling it runs."""
    return _np.array(v)


vector_float_to_array = vector_to_array


def extract_index_ivf(index):
    """The IVF index inside `index` (Faiss: extract_index_ivf): index itself
    when it is an IVF index, else the one a wrapper holds; ArgumentError when
    there is none."""
    seen = index
    while seen is not None:
        if isinstance(seen, IndexIVF):
            return seen
        seen = getattr(seen, "index", None) or getattr(seen, "base_index", None)
    raise ArgumentError(f"extract_index_ivf: {type(index).__name__} is not an IVF index and "
                        f"does not wrap one")


# ---------------------------------------------------------------------------
# Log messages (k-means notices and progress)
# ---------------------------------------------------------------------------

_log_lock = _threading.Lock()
_log_local = _threading.local()
_log_user = None   # the handler given to set_log_callback
_log_scopes = 0    # _log_scope blocks running now, in any thread


def _log_dispatch(level, message):
    handler = _log_user
    if handler is None:
        handler = getattr(_log_local, "handler", None)
    if handler is not None:
        handler(level, message)


def _log_install():
    """Installs the C log callback while anything listens (called under _log_lock)."""
    _vindex.set_log_callback(_log_dispatch if (_log_user is not None or _log_scopes) else None)


def set_log_callback(fn):
    """Sends the library's log messages to fn(level, message) (level 0: info,
    1: warning), from whichever thread logs; None stops that. Returns the
    previous handler. A vindex extension: without a handler, k-means and IVF
    training print as Faiss does (warnings to stderr, progress to stdout when
    verbose)."""
    global _log_user
    if fn is not None and not callable(fn):
        raise TypeError(f"set_log_callback: expected a callable or None, got {type(fn).__name__}")
    with _log_lock:
        prev, _log_user = _log_user, fn
        _log_install()
    return prev


class _log_scope:
    """During a training call of this thread: warnings to stderr, and info
    messages to stdout when verbose (as Faiss prints them)."""

    def __init__(self, verbose):
        self.verbose = bool(verbose)

    def _print(self, level, message):
        if level >= 1:
            print(f"WARNING: {message}", file=_sys.stderr, flush=True)
        elif self.verbose:
            print(message, flush=True)

    def __enter__(self):
        global _log_scopes
        self.prev = getattr(_log_local, "handler", None)
        _log_local.handler = self._print
        with _log_lock:
            _log_scopes += 1
            if _log_scopes == 1:
                _log_install()

    def __exit__(self, *exc):
        global _log_scopes
        _log_local.handler = self.prev
        with _log_lock:
            _log_scopes -= 1
            if _log_scopes == 0:
                _log_install()
        return False


# ---------------------------------------------------------------------------
# k-means
# ---------------------------------------------------------------------------


class ClusteringParameters:
    """Settings of a k-means run (Faiss: ClusteringParameters), with Faiss's
    defaults: niter=25, nredo=1, verbose=False, spherical=False, seed=1234,
    max_points_per_centroid=256 (larger training sets are subsampled),
    min_points_per_centroid=39 (fewer points per centroid give a warning).
    `init` ("random", the default, or "k-means++") is a vindex extension."""

    _FIELDS = ("niter", "nredo", "verbose", "spherical", "seed", "max_points_per_centroid",
               "min_points_per_centroid", "init")

    def __init__(self):
        self.niter = 25
        self.nredo = 1
        self.verbose = False
        self.spherical = False
        self.seed = 1234
        self.max_points_per_centroid = 256
        self.min_points_per_centroid = 39
        self.init = "random"

    def __setattr__(self, name, value):
        if name not in self._FIELDS:
            raise AttributeError(f"ClusteringParameters has no parameter {name!r}; vindex knows "
                                 f"{', '.join(self._FIELDS)}")
        object.__setattr__(self, name, value)

    def __repr__(self):
        return "ClusteringParameters(" + ", ".join(
            f"{n}={getattr(self, n)!r}" for n in self._FIELDS) + ")"


_KMEANS_INIT = {"random": _vindex.C_KMEANS_INIT_RANDOM,
                "k-means++": _vindex.C_KMEANS_INIT_PLUSPLUS,
                "kmeans++": _vindex.C_KMEANS_INIT_PLUSPLUS}


class Kmeans:
    """k-means clustering (Faiss: faiss.Kmeans).

        km = faiss.Kmeans(d, k, niter=25, nredo=1, seed=1234, spherical=False,
                          max_points_per_centroid=256, verbose=False)
        obj = km.train(x)           # x: (n, d), n >= k
        km.centroids                # (k, d) float32
        km.obj                      # the objective after each iteration
        D, I = km.index.search(x, 1)   # or D, I = km.assign(x)

    Keyword arguments set the ClusteringParameters `cp` (niter, nredo,
    verbose, spherical, seed, max_points_per_centroid,
    min_points_per_centroid, and the vindex extension init="k-means++");
    unknown ones raise AttributeError. The result depends on the seed only,
    never on the thread count.
    """

    def __init__(self, d, k, **kwargs):
        self.d = _operator.index(d)
        self.k = _operator.index(k)
        if self.d <= 0:
            raise ArgumentError(f"Kmeans: d must be at least 1, got {self.d}")
        if self.k <= 0:
            raise ArgumentError(f"Kmeans: k must be at least 1, got {self.k}")
        self.gpu = False
        self.cp = ClusteringParameters()
        for name, value in kwargs.items():
            if name == "gpu":
                if value not in (False, 0, None):
                    raise ArgumentError("Kmeans: vindex runs on the CPU only (gpu=False)")
                continue
            setattr(self.cp, name, value)
        self.centroids = None
        self.obj = None
        self.index = None

    def train(self, x, weights=None, init_centroids=None):
        """Clusters the (n, d) vectors x (n >= k) into k centroids. Sets
        `centroids` ((k, d) float32), `obj` (float64 array of the objective
        after each iteration of each run: sum of squared distances, or of inner
        products when spherical) and `index` (an IndexFlatL2, IndexFlatIP when
        spherical, holding the centroids). Returns the last objective."""
        if weights is not None:
            raise ArgumentError("Kmeans.train: weights are not supported by vindex")
        if init_centroids is not None:
            raise ArgumentError("Kmeans.train: init_centroids is not supported by vindex")
        x = _asc(x, dtype=_f32)
        if x.ndim != 2 or x.shape[1] != self.d:
            raise ArgumentError(f"Kmeans.train: x must have shape (n, d={self.d}), got "
                                f"{x.shape}")
        cp = self.cp
        try:
            init = _KMEANS_INIT[cp.init]
        except (KeyError, TypeError):
            raise ArgumentError(f"Kmeans: init {cp.init!r} must be 'random' or "
                                f"'k-means++'") from None
        niter, nredo = _operator.index(cp.niter), _operator.index(cp.nredo)
        centroids = _empty((self.k, self.d), dtype=_f32)
        obj = _empty(max(niter, 0) * max(nredo, 0), dtype=_f32)
        with _log_scope(cp.verbose):
            _vindex.kmeans(x, self.k, centroids, obj, niter, nredo, _operator.index(cp.seed),
                           bool(cp.spherical), _operator.index(cp.max_points_per_centroid),
                           _operator.index(cp.min_points_per_centroid), init, bool(cp.verbose))
        index = IndexFlatIP(self.d) if cp.spherical else IndexFlatL2(self.d)
        index.add(centroids)
        self.centroids = centroids
        self.obj = obj.astype(_np.float64)
        self.index = index
        return float(self.obj[-1]) if self.obj.size else 0.0

    def assign(self, x):
        """The nearest centroid of each of the (n, d) vectors x: (D, I), two
        1-d arrays (distances float32, centroid numbers int64), as Faiss."""
        if self.centroids is None:
            raise RuntimeError("Kmeans.assign: call train() first")
        D, I = self.index.search(_asc(x, dtype=_f32), 1)
        return D.ravel(), I.ravel()


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


# ---------------------------------------------------------------------------
# Persistence: index files and byte buffers (the format: docs/FORMAT.md)
# ---------------------------------------------------------------------------

IO_FLAG_READ_ONLY = 2              # Faiss's values; READ_ONLY changes nothing here
IO_FLAG_MMAP = 8 | 0x646f0000      # (Faiss: IO_FLAG_SKIP_IVF_DATA | 0x646f0000)

__all__ += ["write_index", "read_index", "serialize_index", "deserialize_index",
            "clone_index", "IO_FLAG_MMAP", "IO_FLAG_READ_ONLY"]


def write_index(index, path):
    """Writes `index` to the file `path` (a str or os.PathLike) (Faiss:
    write_index). Atomic: a temporary file in the same directory, fsync, then
    rename, so a crash never leaves a partial index under `path`. Families
    that cannot be written yet raise RuntimeError."""
    if not isinstance(index, _vindex.Index):
        raise TypeError(f"write_index: expected an index, got {type(index).__name__}")
    _vindex.write_index(index, path)


def read_index(path, flags=0):
    """Reads an index written by write_index (Faiss: read_index); returns an
    object of its class (IndexFlatL2, IndexIDMap2, IndexIVFFlat, ...).

    flags: 0, or IO_FLAG_MMAP to use the vectors of Flat indexes in place from
    a read-only mapping of the file (same search results; such an index
    refuses add and remove_ids with RuntimeError). A damaged, truncated or
    foreign file raises RuntimeError; so does a file from a newer format
    version (the message names both versions)."""
    flags = _operator.index(flags)
    known = IO_FLAG_MMAP | IO_FLAG_READ_ONLY
    if flags & ~known:
        raise ArgumentError(f"read_index: unknown flags {flags:#x} (IO_FLAG_MMAP is "
                            f"{IO_FLAG_MMAP:#x})")
    c_flags = _vindex.C_IO_MMAP if (flags & IO_FLAG_MMAP) == IO_FLAG_MMAP else 0
    return _wrap_index_handle(_vindex.read_index(Index, path, c_flags))


def serialize_index(index):
    """The bytes of write_index as a uint8 numpy array (Faiss:
    serialize_index)."""
    if not isinstance(index, _vindex.Index):
        raise TypeError(f"serialize_index: expected an index, got {type(index).__name__}")
    return _np.frombuffer(_vindex.serialize_index(index), dtype=_np.uint8)


def deserialize_index(data):
    """The index from serialize_index's bytes (Faiss: deserialize_index):
    a uint8 numpy array, bytes, bytearray or memoryview. The data is copied;
    errors as read_index."""
    if isinstance(data, _np.ndarray):
        if data.dtype != _np.uint8 or data.ndim != 1:
            raise ArgumentError(f"deserialize_index: expected a 1-d uint8 array, got "
                                f"{data.ndim}-d {data.dtype}")
        data = _np.ascontiguousarray(data)
    return _wrap_index_handle(_vindex.deserialize_index(Index, data))


def clone_index(index):
    """An independent copy of `index` (Faiss: clone_index), through
    serialize_index / deserialize_index."""
    return deserialize_index(serialize_index(index))


__all__ += ["set_read_limit", "get_read_limit"]


def set_read_limit(nbytes):
    """Caps the memory one read (read_index, deserialize_index, clone_index)
    may allocate, in bytes, for every thread (C: vindex_set_read_limit); 0,
    the default, means no cap beyond the reader's rule that no count in a file
    may ask for more than the file's size justifies. A read that would pass the
    cap raises MemoryError naming it and builds nothing. Parts of a file used
    in place (IO_FLAG_MMAP) do not count."""
    nbytes = _operator.index(nbytes)
    if nbytes < 0:
        raise ArgumentError(f"set_read_limit: nbytes must be >= 0 (0: no cap), got {nbytes}")
    _vindex.set_read_limit(nbytes)


def get_read_limit():
    """The cap set by set_read_limit, in bytes (0: none)."""
    return _vindex.get_read_limit()
