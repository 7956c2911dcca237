"""Persistence: write_index / read_index (with and without IO_FLAG_MMAP),
serialize_index / deserialize_index, clone_index; every family comes back with
its class and bit-identical search results; bad input raises RuntimeError."""
import os
import subprocess
import sys

import numpy as np
import pytest

import vindex as faiss

D = 16
RNG = np.random.default_rng(7)
XB = RNG.random((300, D), dtype=np.float32)
XQ = RNG.random((9, D), dtype=np.float32)


def make(kind):
    if kind == "flat_l2":
        ix = faiss.IndexFlatL2(D)
        ix.add(XB)
    elif kind == "flat_ip":
        ix = faiss.IndexFlatIP(D)
        ix.add(XB)
    elif kind in ("idmap", "idmap2"):
        cls = faiss.IndexIDMap if kind == "idmap" else faiss.IndexIDMap2
        ix = cls(faiss.IndexFlatL2(D))
        ix.add_with_ids(XB, np.arange(len(XB), dtype=np.int64) * 3 + 11)
    elif kind in ("ivf", "ivf_ip_hash"):
        ip = kind == "ivf_ip_hash"
        q = faiss.IndexFlatIP(D) if ip else faiss.IndexFlatL2(D)
        ix = faiss.IndexIVFFlat(q, D, 8, faiss.METRIC_INNER_PRODUCT if ip else faiss.METRIC_L2)
        ix.train(XB)
        if ip:
            ix.add_with_ids(XB, np.arange(len(XB), dtype=np.int64) * 5 - 100)
            ix.set_direct_map_type(faiss.DirectMap.Hashtable)
        else:
            ix.add(XB)
            ix.make_direct_map()
        ix.nprobe = 3
    elif kind in ("hnsw", "hnsw_sq", "hnsw_fp16"):
        ix = faiss.IndexHNSWFlat(D, 8) if kind == "hnsw" else faiss.IndexHNSWSQ(
            D, faiss.ScalarQuantizer.QT_fp16 if kind == "hnsw_fp16"
            else faiss.ScalarQuantizer.QT_8bit_uniform, 8)
        ix.hnsw.efSearch = 24
        ix.train(XB)
        ix.add(XB)
        ix.remove_ids(np.arange(0, 300, 7))  # free slots travel too
    elif kind == "ivf_hnsw":
        ix = faiss.index_factory(D, "IVF8_HNSW8,Flat")
        ix.train(XB)
        ix.add(XB)
        ix.make_direct_map()
        ix.nprobe = 3
    else:
        spec, metric = SPECS[kind]
        ix = faiss.index_factory(D, spec, metric)
        ix.train(XB)
        if isinstance(ix, faiss.IndexIDMap):
            ix.add_with_ids(XB, np.arange(len(XB), dtype=np.int64) * 2 + 1)
        else:
            ix.add(XB)
        if isinstance(ix, faiss.IndexIVF):
            ix.nprobe = 2
            ix.set_direct_map_type(faiss.DirectMap.Hashtable)
    return ix


L2, IP = faiss.METRIC_L2, faiss.METRIC_INNER_PRODUCT
# The families built by index_factory: kind -> (factory string, metric). Add a
# row here (and in CLASSES) for a new family.
SPECS = {
    "pq": ("PQ4x4", L2),
    "pq_ip": ("PQ8", IP),
    "sq8": ("SQ8", L2),
    "sq4_ip": ("SQ4", IP),
    "sqfp16": ("SQfp16", L2),
    "sqbf16": ("SQbf16", IP),
    "ivfpq": ("IVF8,PQ4x4", L2),
    "ivfpq_ip": ("IVF8,PQ4", IP),
    "ivfsq8": ("IVF8,SQ8", L2),
    "ivfsq4_ip": ("IVF8,SQ4", IP),
    "lsh": ("LSH", L2),
    "lsh_rt": ("LSHrt", L2),
    "rflat": ("PQ4x4,RFlat", L2),
    "refine_sq": ("IVF8,PQ4,Refine(SQ8)", IP),
    "pca": ("PCA8,Flat", L2),
    "rr": ("RR16,SQ8", L2),
    "opq": ("OPQ4,IVF8,PQ4x4", L2),
    "l2norm_pcaw": ("L2norm,PCAW8,Flat", IP),
    "idmap_pca": ("IDMap2,PCAR8,SQfp16", L2),
    "pqfs": ("PQ4x4fs", L2),
    "ivfpqfs_ip": ("IVF8,PQ8x4fs", IP),
    "hnsw_pq": ("HNSW8_PQ4", L2),
}
KINDS = ["flat_l2", "flat_ip", "idmap", "idmap2", "ivf", "ivf_ip_hash", "hnsw", "hnsw_sq",
         "hnsw_fp16", "ivf_hnsw"] + list(SPECS)
CLASSES = {"flat_l2": faiss.IndexFlatL2, "flat_ip": faiss.IndexFlatIP,
           "idmap": faiss.IndexIDMap, "idmap2": faiss.IndexIDMap2,
           "ivf": faiss.IndexIVFFlat, "ivf_ip_hash": faiss.IndexIVFFlat,
           "hnsw": faiss.IndexHNSWFlat, "hnsw_sq": faiss.IndexHNSWSQ,
           "hnsw_fp16": faiss.IndexHNSWSQ, "hnsw_pq": faiss.IndexHNSWPQ,
           "ivf_hnsw": faiss.IndexIVFFlat,
           "pq": faiss.IndexPQ, "pq_ip": faiss.IndexPQ,
           "sq8": faiss.IndexScalarQuantizer, "sq4_ip": faiss.IndexScalarQuantizer,
           "sqfp16": faiss.IndexScalarQuantizer, "sqbf16": faiss.IndexScalarQuantizer,
           "ivfpq": faiss.IndexIVFPQ, "ivfpq_ip": faiss.IndexIVFPQ,
           "ivfsq8": faiss.IndexIVFScalarQuantizer,
           "ivfsq4_ip": faiss.IndexIVFScalarQuantizer,
           "lsh": faiss.IndexLSH, "lsh_rt": faiss.IndexLSH,
           "rflat": faiss.IndexRefineFlat, "refine_sq": faiss.IndexRefine,
           "pca": faiss.IndexPreTransform, "rr": faiss.IndexPreTransform,
           "opq": faiss.IndexPreTransform, "l2norm_pcaw": faiss.IndexPreTransform,
           "idmap_pca": faiss.IndexIDMap2,
           "pqfs": faiss.IndexPQFastScan, "ivfpqfs_ip": faiss.IndexIVFPQFastScan}


def reverse_spec(index):
    try:
        return faiss.reverse_index_factory(index)
    except RuntimeError as e:  # a shape with no factory string
        return str(e).split(":", 1)[1]


def assert_same(a, b):
    assert type(a) is type(b)
    assert (a.d, a.ntotal, a.metric_type, a.is_trained) == (b.d, b.ntotal, b.metric_type,
                                                            b.is_trained)
    Da, Ia = a.search(XQ, 10)
    Db, Ib = b.search(XQ, 10)
    assert Da.tobytes() == Db.tobytes()
    assert np.array_equal(Ia, Ib)
    assert reverse_spec(a) == reverse_spec(b)
    if isinstance(a, faiss.IndexIVF):
        assert a.nprobe == b.nprobe and a.nlist == b.nlist
        assert a.direct_map.type == b.direct_map.type
        assert np.array_equal(a.reconstruct(int(Ia[0, 0])), b.reconstruct(int(Ia[0, 0])))
        assert type(a.quantizer) is type(b.quantizer)
    if isinstance(a, faiss.IndexHNSW):
        for name in ("efSearch", "efConstruction", "max_level", "entry_point", "M"):
            assert getattr(a.hnsw, name) == getattr(b.hnsw, name)
        assert b.validate()[0] == 0
        assert np.array_equal(a.reconstruct(int(Ia[0, 0])), b.reconstruct(int(Ia[0, 0])))


@pytest.mark.parametrize("kind", KINDS)
def test_round_trips(kind, tmp_path):
    ix = make(kind)
    path = tmp_path / "x.index"
    faiss.write_index(ix, str(path))
    for flags in (0, faiss.IO_FLAG_MMAP):
        r = faiss.read_index(str(path), flags)
        assert type(r) is CLASSES[kind]
        assert_same(ix, r)
    r = faiss.read_index(path)  # os.PathLike
    assert_same(ix, r)
    buf = faiss.serialize_index(ix)
    assert buf.dtype == np.uint8 and buf.ndim == 1
    assert buf.tobytes() == path.read_bytes()
    for data in (buf, bytes(buf), bytearray(buf), memoryview(bytes(buf))):
        assert_same(ix, faiss.deserialize_index(data))
    c = faiss.clone_index(ix)
    assert_same(ix, c)
    if isinstance(ix, faiss.IndexIDMap):
        assert type(c.index) is type(ix.index) and c.index.ntotal == ix.ntotal
    if isinstance(ix, faiss.IndexIVF):
        assert c.quantizer.ntotal == ix.nlist
    if kind in SPECS:
        assert faiss.reverse_index_factory(c) == faiss.reverse_index_factory(ix) != ""


# Mapped code arrays are copied on the first write; a mapped Flat part or HNSW
# graph refuses writes instead (test_mmap_is_read_only).
CODE_KINDS = [k for k in SPECS if k not in ("rflat", "refine_sq", "pca", "l2norm_pcaw",
                                            "idmap_pca", "hnsw_pq")]


@pytest.mark.parametrize("kind", CODE_KINDS)
def test_mapped_codes_copy_on_write(kind, tmp_path):
    """A mapped index whose codes lie in the file takes adds and removals (its
    codes are copied first) and then matches an index changed the same way."""
    ix = make(kind)
    path = str(tmp_path / "m.index")
    faiss.write_index(ix, path)
    m = faiss.read_index(path, faiss.IO_FLAG_MMAP)
    os.unlink(path)
    assert_same(ix, m)
    for index in (ix, m):
        index.add(XQ)
        index.remove_ids(np.array([0, 5, 7], dtype=np.int64))
    assert_same(ix, m)


def test_clone_is_independent():
    ix = make("flat_l2")
    c = faiss.clone_index(ix)
    c.add(XQ)
    assert c.ntotal == ix.ntotal + len(XQ)
    ivf = make("ivf")
    c = faiss.clone_index(ivf)
    c.add(XQ)
    assert c.ntotal == ivf.ntotal + len(XQ)


def test_mmap_is_read_only(tmp_path):
    path = str(tmp_path / "flat.index")
    ix = make("idmap2")
    faiss.write_index(ix, path)
    m = faiss.read_index(path, faiss.IO_FLAG_MMAP)
    with pytest.raises(RuntimeError, match="IO_MMAP"):
        m.add_with_ids(XQ, np.arange(len(XQ)) + 10**6)
    with pytest.raises(RuntimeError, match="IO_MMAP"):
        m.remove_ids(np.array([11]))
    assert_same(ix, m)
    os.unlink(path)  # the mapping lives on
    assert_same(ix, m)
    # an HNSW graph is used in place too: searchable, not changeable
    path = str(tmp_path / "hnsw.index")
    ix = make("hnsw")
    faiss.write_index(ix, path)
    m = faiss.read_index(path, faiss.IO_FLAG_MMAP)
    with pytest.raises(RuntimeError, match="IO_MMAP"):
        m.add(XQ)
    with pytest.raises(RuntimeError, match="IO_MMAP"):
        m.remove_ids(np.array([1]))
    assert_same(ix, m)
    c = faiss.read_index(path)  # a copy takes changes
    c.add(XQ)
    assert c.ntotal == ix.ntotal + len(XQ)


def test_other_process(tmp_path):
    path = str(tmp_path / "child.index")
    code = ("import numpy as np, vindex as faiss, sys\n"
            "rng = np.random.default_rng(1)\n"
            "ix = faiss.IndexIDMap2(faiss.IndexFlatIP(8))\n"
            "ix.add_with_ids(rng.random((50, 8), dtype=np.float32), np.arange(50) * 7)\n"
            "faiss.write_index(ix, sys.argv[1])\n")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(faiss.__file__)))
    subprocess.run([sys.executable, "-c", code, path], check=True, env=env)
    r = faiss.read_index(path)
    rng = np.random.default_rng(1)
    ix = faiss.IndexIDMap2(faiss.IndexFlatIP(8))
    ix.add_with_ids(rng.random((50, 8), dtype=np.float32), np.arange(50) * 7)
    q = rng.random((4, 8), dtype=np.float32)
    assert type(r) is faiss.IndexIDMap2
    assert r.search(q, 5)[0].tobytes() == ix.search(q, 5)[0].tobytes()
    assert np.array_equal(r.search(q, 5)[1], ix.search(q, 5)[1])


def test_every_family_in_another_process(tmp_path):
    """One process writes an index of every family with its search results;
    this one reads each index and gets the same results (builds that use
    threads need not be identical across processes, so the child's own
    results are the reference)."""
    code = ("import sys\n"
            "sys.path.insert(0, sys.argv[2])\n"
            "import numpy as np, test_io, vindex as faiss\n"
            "for kind in test_io.KINDS:\n"
            "    ix, out = test_io.make(kind), sys.argv[1] + '/' + kind\n"
            "    faiss.write_index(ix, out + '.index')\n"
            "    D, I = ix.search(test_io.XQ, 10)\n"
            "    np.save(out + '.D.npy', D)\n"
            "    np.save(out + '.I.npy', I)\n")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(faiss.__file__)))
    subprocess.run([sys.executable, "-c", code, str(tmp_path), os.path.dirname(__file__)],
                   check=True, env=env, capture_output=True)
    for kind in KINDS:
        r = faiss.read_index(str(tmp_path / (kind + ".index")), faiss.IO_FLAG_MMAP)
        assert type(r) is CLASSES[kind]
        D, I = r.search(XQ, 10)
        assert D.tobytes() == np.load(tmp_path / (kind + ".D.npy")).tobytes(), kind
        assert np.array_equal(I, np.load(tmp_path / (kind + ".I.npy"))), kind


def test_bad_input(tmp_path):
    buf = faiss.serialize_index(make("ivf")).copy()
    with pytest.raises(RuntimeError, match="magic"):
        faiss.deserialize_index(b"not an index at all")
    with pytest.raises(RuntimeError, match="truncated"):
        faiss.deserialize_index(buf[:len(buf) // 2])
    for i in range(0, len(buf), 97):
        bad = buf.copy()
        bad[i] ^= 0x10
        with pytest.raises(RuntimeError):
            faiss.deserialize_index(bad)
    newer = buf.copy()
    newer[8] = 9
    with pytest.raises(RuntimeError, match="version 9.*version 1"):
        faiss.deserialize_index(newer)
    with pytest.raises(RuntimeError):
        faiss.read_index(str(tmp_path / "missing.index"))
    with pytest.raises(faiss.ArgumentError):
        faiss.deserialize_index(np.zeros((2, 2), dtype=np.uint8))
    with pytest.raises(TypeError):
        faiss.write_index("not an index", str(tmp_path / "x"))
    with pytest.raises(faiss.ArgumentError):
        faiss.read_index(str(tmp_path / "x"), 1)


def test_read_limit(tmp_path):
    """set_read_limit caps what a read may allocate: under a tiny cap the read
    raises MemoryError naming the cap and builds nothing; the file and the
    index written are untouched, and read fine once the cap is raised."""
    ix = make("ivf")
    path = str(tmp_path / "ivf.index")
    faiss.write_index(ix, path)
    data = faiss.serialize_index(ix)
    assert faiss.get_read_limit() == 0  # the default: no cap
    try:
        faiss.set_read_limit(1024)  # less than the vectors alone (300 x 16 floats)
        assert faiss.get_read_limit() == 1024
        with pytest.raises(MemoryError, match="read_limit"):
            faiss.read_index(path)
        with pytest.raises(MemoryError, match="read_limit"):
            faiss.deserialize_index(data)
        with pytest.raises(MemoryError, match="read_limit"):
            faiss.clone_index(ix)
        assert ix.ntotal == len(XB)  # the source index is unchanged
        faiss.set_read_limit(len(data) * 4)  # ample
        assert_same(ix, faiss.read_index(path))
        assert_same(ix, faiss.deserialize_index(data))
    finally:
        faiss.set_read_limit(0)
    assert faiss.get_read_limit() == 0
    assert_same(ix, faiss.read_index(path))
    with pytest.raises(faiss.ArgumentError, match="nbytes"):
        faiss.set_read_limit(-1)
    with pytest.raises(TypeError):
        faiss.set_read_limit(1.5)
    assert faiss.get_read_limit() == 0
