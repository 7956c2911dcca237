"""Tests of the `vindex` command-line tool (tools/vindex.c), driven through
subprocess on small files written here or by `vindex synth`.

The binary: $VINDEX_CLI, else build/vindex of this checkout.
"""
import gzip
import json
import os
import struct
import subprocess

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI = os.environ.get("VINDEX_CLI") or os.path.join(ROOT, "build", "vindex")

# Skipped without a binary, unless one was named (make test names it: a missing
# binary there is a failure).
pytestmark = pytest.mark.skipif(not os.environ.get("VINDEX_CLI") and not os.path.exists(CLI),
                                reason="no vindex binary at " + CLI)


def run(*args, ok=True):
    p = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=120)
    if ok:
        assert p.returncode == 0, p.stderr
    return p


def fails(*args, out=None):
    """The command fails with one line on stderr and writes nothing."""
    p = run(*args, ok=False)
    assert p.returncode != 0
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("vindex"), p.stderr
    if out is not None:
        assert not os.path.exists(out)
        leftovers = [f for f in os.listdir(os.path.dirname(out)) if ".tmp" in f]
        assert not leftovers
    return lines[0]


# ---- independent readers and writers (the formats as documented) ----------


def write_vecs(path, x, dtype):
    x = np.ascontiguousarray(x, dtype=dtype)
    n, d = x.shape
    with open(path, "wb") as f:
        for row in x:
            f.write(struct.pack("<i", d))
            f.write(row.tobytes())


def read_vecs(path, dtype):
    raw = open(path, "rb").read()
    d = struct.unpack("<i", raw[:4])[0]
    es = np.dtype(dtype).itemsize
    a = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 4 + d * es)
    assert (a[:, :4].copy().view("<i4")[:, 0] == d).all()
    return a[:, 4:].copy().view(dtype)


def write_bin(path, x, dtype):
    x = np.ascontiguousarray(x, dtype=dtype)
    with open(path, "wb") as f:
        f.write(struct.pack("<II", *x.shape))
        f.write(x.tobytes())


def read_bin(path, dtype):
    raw = open(path, "rb").read()
    n, d = struct.unpack("<II", raw[:8])
    return np.frombuffer(raw[8:], dtype=dtype).reshape(n, d)


def write_idx(path, x, gz=False):
    x = np.ascontiguousarray(x)
    code = {np.uint8: 0x08, np.int32: 0x0C, np.float32: 0x0D}[x.dtype.type]
    data = struct.pack(">BBBB", 0, 0, code, x.ndim) + struct.pack(">" + "I" * x.ndim, *x.shape)
    data += x.astype(x.dtype.newbyteorder(">")).tobytes()
    open(path, "wb").write(gzip.compress(data) if gz else data)


def read_idx(path):
    raw = open(path, "rb").read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    code, ndim = raw[2], raw[3]
    shape = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    dt = {0x08: ">u1", 0x0C: ">i4", 0x0D: ">f4"}[code]
    return np.frombuffer(raw[4 + 4 * ndim:], dtype=dt).reshape(shape)


def knn(xb, xq, k):
    d = ((xq[:, None, :].astype(np.float64) - xb[None, :, :]) ** 2).sum(-1)
    return np.argsort(d, axis=1, kind="stable")[:, :k], np.sort(d, axis=1)[:, :k]


@pytest.fixture
def data(tmp_path):
    rng = np.random.default_rng(7)
    xb = rng.standard_normal((500, 12)).astype(np.float32)
    xq = rng.standard_normal((20, 12)).astype(np.float32)
    write_vecs(tmp_path / "base.fvecs", xb, np.float32)
    write_vecs(tmp_path / "q.fvecs", xq, np.float32)
    return tmp_path, xb, xq


# ---- synth ------------------------------------------------------------------


def test_synth_exact_ground_truth(tmp_path):
    run("synth", "-n", 800, "--nq", 15, "-d", 10, "--clusters", 5, "-k", 7,
        "--base", tmp_path / "b.fvecs", "--queries", tmp_path / "q.npy", "--gt", tmp_path / "gt.ivecs")
    xb = read_vecs(tmp_path / "b.fvecs", np.float32)
    xq = np.load(tmp_path / "q.npy")
    gt = read_vecs(tmp_path / "gt.ivecs", np.int32)
    assert xb.shape == (800, 10) and xq.shape == (15, 10) and gt.shape == (15, 7)
    _, dref = knn(xb, xq, 7)
    dgot = ((xq[:, None, :].astype(np.float64) - xb[gt]) ** 2).sum(-1)
    np.testing.assert_allclose(dgot, dref, rtol=1e-5, atol=1e-5)
    # reproducible from the seed
    run("synth", "-n", 800, "-d", 10, "--clusters", 5, "--base", tmp_path / "b2.fvecs")
    assert open(tmp_path / "b.fvecs", "rb").read() == open(tmp_path / "b2.fvecs", "rb").read()


def test_synth_uint8(tmp_path):
    run("synth", "-n", 300, "--nq", 5, "-d", 8, "-k", 3, "--uint8", "--base", tmp_path / "b.bvecs",
        "--queries", tmp_path / "q.npy", "--gt", tmp_path / "gt.ibin")
    xb = read_vecs(tmp_path / "b.bvecs", np.uint8)
    xq = np.load(tmp_path / "q.npy")
    assert xq.dtype == np.uint8 and xb.shape == (300, 8)
    gt = read_bin(tmp_path / "gt.ibin", np.int32)
    _, dref = knn(xb.astype(np.float32), xq.astype(np.float32), 3)
    dgot = ((xq[:, None, :].astype(np.float64) - xb[gt]) ** 2).sum(-1)
    np.testing.assert_allclose(dgot, dref)


# ---- convert: every format round trip --------------------------------------

FLOAT_FORMATS = ["fvecs", "fbin", "npy", "idx", "idx.gz"]
U8_FORMATS = ["bvecs", "u8bin", "npy", "idx", "idx.gz", "fvecs"]
I32_FORMATS = ["ivecs", "ibin", "npy", "idx", "fvecs"]


@pytest.mark.parametrize("fmt", FLOAT_FORMATS)
def test_convert_float_round_trip(tmp_path, fmt):
    x = np.random.default_rng(1).standard_normal((33, 7)).astype(np.float32)
    write_vecs(tmp_path / "a.fvecs", x, np.float32)
    run("convert", tmp_path / "a.fvecs", tmp_path / ("b." + fmt))
    run("convert", tmp_path / ("b." + fmt), tmp_path / "c.fvecs")
    np.testing.assert_array_equal(read_vecs(tmp_path / "c.fvecs", np.float32), x)
    # the intermediate file is what other tools read
    if fmt == "npy":
        np.testing.assert_array_equal(np.load(tmp_path / "b.npy"), x)
    elif fmt == "fbin":
        np.testing.assert_array_equal(read_bin(tmp_path / "b.fbin", np.float32), x)
    elif fmt.startswith("idx"):
        np.testing.assert_array_equal(read_idx(tmp_path / ("b." + fmt)), x)


@pytest.mark.parametrize("fmt", U8_FORMATS)
def test_convert_uint8_round_trip(tmp_path, fmt):
    x = np.random.default_rng(2).integers(0, 256, (40, 9)).astype(np.uint8)
    write_vecs(tmp_path / "a.bvecs", x, np.uint8)
    run("convert", tmp_path / "a.bvecs", tmp_path / ("b." + fmt))
    run("convert", tmp_path / ("b." + fmt), tmp_path / "c.bvecs")
    assert open(tmp_path / "a.bvecs", "rb").read() == open(tmp_path / "c.bvecs", "rb").read()
    if fmt == "npy":
        y = np.load(tmp_path / "b.npy")
        assert y.dtype == np.uint8
        np.testing.assert_array_equal(y, x)
    if fmt == "u8bin":
        np.testing.assert_array_equal(read_bin(tmp_path / "b.u8bin", np.uint8), x)


@pytest.mark.parametrize("fmt", I32_FORMATS)
def test_convert_int32_round_trip(tmp_path, fmt):
    x = np.random.default_rng(3).integers(-1, 100000, (25, 4)).astype(np.int32)
    write_vecs(tmp_path / "a.ivecs", x, np.int32)
    run("convert", tmp_path / "a.ivecs", tmp_path / ("b." + fmt))
    run("convert", tmp_path / ("b." + fmt), tmp_path / "c.ivecs")
    np.testing.assert_array_equal(read_vecs(tmp_path / "c.ivecs", np.int32), x)
    if fmt == "ibin":
        np.testing.assert_array_equal(read_bin(tmp_path / "b.ibin", np.int32), x)


def test_convert_reads_numpy_and_mnist_files(tmp_path):
    x = np.random.default_rng(4).standard_normal((10, 3))
    np.save(tmp_path / "f64.npy", x)  # float64 is read as float32
    run("convert", tmp_path / "f64.npy", tmp_path / "a.fvecs")
    np.testing.assert_array_equal(read_vecs(tmp_path / "a.fvecs", np.float32), x.astype(np.float32))
    ids = np.arange(12, dtype=np.int64).reshape(3, 4)
    np.save(tmp_path / "i64.npy", ids)
    run("convert", tmp_path / "i64.npy", tmp_path / "a.ivecs")
    np.testing.assert_array_equal(read_vecs(tmp_path / "a.ivecs", np.int32), ids)
    # IDX images as in Fashion-MNIST: 3 dimensions, gzipped, rows of 28 x 28 pixels
    img = np.random.default_rng(5).integers(0, 256, (6, 28, 28)).astype(np.uint8)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", img, gz=True)
    run("convert", tmp_path / "train-images-idx3-ubyte.gz", tmp_path / "img.u8bin", "--rows", 4)
    np.testing.assert_array_equal(read_bin(tmp_path / "img.u8bin", np.uint8), img[:4].reshape(4, 784))


def test_convert_refuses_values_the_output_cannot_hold(tmp_path):
    write_vecs(tmp_path / "a.fvecs", np.array([[1.0, 2.5]], np.float32), np.float32)
    msg = fails("convert", tmp_path / "a.fvecs", tmp_path / "b.bvecs", out=tmp_path / "b.bvecs")
    assert "2.5" in msg and "uint8" in msg


# ---- build / search / info ----------------------------------------------------


def test_build_search_flat_matches_brute_force(data):
    tmp, xb, xq = data
    p = run("build", "--spec", "Flat", tmp / "base.fvecs", "-o", tmp / "flat.vx")
    assert "500 vectors" in p.stdout
    assert p.stderr == ""  # no progress bars when stderr is not a terminal
    p = run("search", tmp / "flat.vx", tmp / "q.fvecs", "-k", 5, "--json")
    lines = [json.loads(line) for line in p.stdout.splitlines()]
    assert [r["query"] for r in lines] == list(range(20))
    ids = np.array([r["ids"] for r in lines])
    dist = np.array([r["distances"] for r in lines])
    iref, dref = knn(xb, xq, 5)
    np.testing.assert_array_equal(ids, iref)
    np.testing.assert_allclose(dist, dref, rtol=1e-4, atol=1e-4)
    # text output: one line per query
    text = run("search", tmp / "flat.vx", tmp / "q.fvecs", "-k", 2).stdout.splitlines()
    assert len(text) == 20 and text[0].startswith("0: %d (" % iref[0, 0])


def test_search_pads_and_writes_ids(data):
    tmp, xb, xq = data
    write_vecs(tmp / "small.fvecs", xb[:3], np.float32)
    run("build", "--spec", "IDMap,Flat", tmp / "small.fvecs", "-o", tmp / "s.vx")
    p = run("search", tmp / "s.vx", tmp / "q.fvecs", "-k", 5, "--json", "--ids-out", tmp / "ids.ivecs")
    r = json.loads(p.stdout.splitlines()[0])
    assert r["ids"][3:] == [-1, -1] and r["distances"][3:] == [None, None]
    ids = read_vecs(tmp / "ids.ivecs", np.int32)
    assert ids.shape == (20, 5) and (ids[:, 3:] == -1).all()


def test_build_with_ids(data):
    tmp, xb, xq = data
    ids = (np.arange(500, dtype=np.int32) * 3 + 1000).reshape(500, 1)
    np.save(tmp / "ids.npy", ids)
    run("build", "--spec", "IDMap,Flat", "--ids", tmp / "ids.npy", tmp / "base.fvecs", "-o", tmp / "m.vx")
    p = run("search", tmp / "m.vx", tmp / "q.fvecs", "-k", 3, "--json")
    got = np.array([json.loads(line)["ids"] for line in p.stdout.splitlines()])
    np.testing.assert_array_equal(got, ids[knn(xb, xq, 3)[0], 0])
    np.save(tmp / "few.npy", ids[:10])
    assert "500 ids" in fails("build", "--spec", "IDMap,Flat", "--ids", tmp / "few.npy",
                              tmp / "base.fvecs", "-o", tmp / "n.vx", out=tmp / "n.vx")


def test_ivf_nprobe_and_info(data):
    tmp, xb, xq = data
    run("build", "--spec", "IVF8,Flat", "--train-size", 400, tmp / "base.fvecs", "-o", tmp / "ivf.vx")
    full = run("search", tmp / "ivf.vx", tmp / "q.fvecs", "-k", 4, "--nprobe", 8, "--json").stdout
    ids = np.array([json.loads(line)["ids"] for line in full.splitlines()])
    np.testing.assert_array_equal(ids, knn(xb, xq, 4)[0])  # every list visited: exact
    one = run("search", tmp / "ivf.vx", tmp / "q.fvecs", "-k", 4, "--json").stdout
    assert one != full  # nprobe = 1 by default: approximate
    info = run("info", tmp / "ivf.vx").stdout
    fields = dict(line.split(":", 1) for line in info.splitlines())
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    assert fields["type"].startswith("IVF8,Flat")
    assert fields["dimension"] == "12" and fields["count"] == "500" and fields["metric"] == "L2"
    # read mapped: the lists stay in the file's pages
    assert int(fields["memory bytes"]) + int(fields["mapped bytes"]) >= 500 * 12 * 4
    assert int(fields["file bytes"]) == os.path.getsize(tmp / "ivf.vx")
    assert fields["format version"] == "1"
    assert fields["checksums"].startswith("verified")
    assert fields["nlist"] == "8"


@pytest.mark.parametrize("spec", ["PQ4x4", "SQ8", "SQ4", "IVF8,PQ4x4", "IVF8,SQfp16", "LSH",
                                  "PQ4x4,RFlat", "IVF8,SQ8,Refine(Flat)", "PCA8,Flat",
                                  "OPQ4,IVF8,PQ4x4", "RR12,SQ8", "L2norm,PCAW6,Flat",
                                  "PQ4x4fs", "IVF8,PQ6x4fs", "HNSW8"])
def test_every_family_builds_searches_and_infos(data, spec):
    """Every family with a serializer goes through build, search and info."""
    tmp, _, _ = data
    out = tmp / "family.vx"
    run("build", "--spec", spec, "--train-size", 400, tmp / "base.fvecs", "-o", out)
    res = run("search", out, tmp / "q.fvecs", "-k", 3, "--json").stdout
    assert all(len(json.loads(line)["ids"]) == 3 for line in res.splitlines())
    info = run("info", out).stdout
    fields = dict(line.split(":", 1) for line in info.splitlines())
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    assert fields["dimension"] == "12" and fields["count"] == "500"
    assert fields["trained"] == "yes" and fields["checksums"].startswith("verified")
    assert fields["type"].split(" ")[0] == spec


def test_threads_do_not_change_results(data):
    tmp, _, _ = data
    run("build", "--spec", "IVF8,Flat", "--threads", 1, tmp / "base.fvecs", "-o", tmp / "a.vx")
    run("--threads", 2, "build", "--spec", "IVF8,Flat", tmp / "base.fvecs", "-o", tmp / "b.vx")
    a = run("search", tmp / "a.vx", tmp / "q.fvecs", "-k", 5, "--nprobe", 2, "--threads", 1).stdout
    b = run("search", tmp / "b.vx", tmp / "q.fvecs", "-k", 5, "--nprobe", 2, "--threads=2").stdout
    assert a == b
    fails("search", tmp / "a.vx", tmp / "q.fvecs", "-k", 5, "--threads", 0)


def test_build_inner_product(data):
    tmp, xb, xq = data
    run("build", "--spec", "Flat", "--metric", "ip", tmp / "base.fvecs", "-o", tmp / "ip.vx")
    assert "inner product" in run("info", tmp / "ip.vx").stdout
    p = run("search", tmp / "ip.vx", tmp / "q.fvecs", "-k", 3, "--json")
    ids = np.array([json.loads(line)["ids"] for line in p.stdout.splitlines()])
    np.testing.assert_array_equal(ids, np.argsort(-(xq @ xb.T), axis=1, kind="stable")[:, :3])


def test_info_detects_damage(data):
    tmp, _, _ = data
    run("build", "--spec", "Flat", tmp / "base.fvecs", "-o", tmp / "f.vx")
    raw = bytearray(open(tmp / "f.vx", "rb").read())
    raw[-5] ^= 0xFF
    open(tmp / "bad.vx", "wb").write(raw)
    assert "checksum" in fails("info", tmp / "bad.vx")
    assert "checksum" in fails("search", tmp / "bad.vx", tmp / "q.fvecs", "-k", 1)


# ---- bench ------------------------------------------------------------------


def test_bench_on_files(tmp_path):
    run("synth", "-n", 1500, "--nq", 40, "-d", 16, "-k", 100, "--base", tmp_path / "b.fvecs",
        "--queries", tmp_path / "q.fvecs", "--gt", tmp_path / "gt.ivecs")
    p = run("bench", "--base", tmp_path / "b.fvecs", "--queries", tmp_path / "q.fvecs",
            "--gt", tmp_path / "gt.ivecs", "--index", "Flat", "--index", "IVF16,Flat",
            "--index", "HNSW16", "--index", "LSH", "--nprobe", "1,4,16", "--ef", "16,64",
            "--nsingle", 10, "--csv", tmp_path / "r.csv", "--json", tmp_path / "r.json",
            "--markdown", tmp_path / "r.md")
    assert "| Index | Params |" in p.stdout
    import csv
    rows = list(csv.DictReader(open(tmp_path / "r.csv")))
    for col in ["index", "params", "build_s", "memory_mb", "qps_batch", "qps_single",
                "ms_per_query", "recall@1", "recall@10", "recall@100"]:
        assert col in rows[0]
    by = {(r["index"], r["params"]): r for r in rows}
    assert float(by[("Flat", "-")]["recall@10"]) == 1.0
    assert float(by[("Flat", "-")]["recall@100"]) == 1.0
    assert float(by[("IVF16,Flat", "nprobe=16")]["recall@100"]) == 1.0
    assert float(by[("IVF16,Flat", "nprobe=1")]["recall@10"]) < 1.0
    assert ("HNSW16", "efSearch=64") in by
    res = json.load(open(tmp_path / "r.json"))
    assert len(res["results"]) == len(rows) and res["nb"] == 1500
    lsh_done = any(r["index"] == "LSH" for r in rows)
    assert lsh_done or [s["index"] for s in res["skipped"]] == ["LSH"]
    assert open(tmp_path / "r.md").read().strip() in p.stdout


def test_compare_with_peers(tmp_path):
    """bench/compare runs the sweep through vindex bench, Faiss and hnswlib and
    reports both recalls and the vindex / peer ratios."""
    pytest.importorskip("faiss")
    pytest.importorskip("hnswlib")
    rng = np.random.default_rng(5)
    centers = rng.normal(size=(20, 24)).astype("float32") * 4
    base = centers[rng.integers(0, 20, 1200)] + rng.normal(size=(1200, 24)).astype("float32")
    queries = centers[rng.integers(0, 20, 30)] + rng.normal(size=(30, 24)).astype("float32")
    np.save(tmp_path / "b.npy", base)
    np.save(tmp_path / "q.npy", queries)
    args = [os.path.join(ROOT, "bench", "compare"), "--vindex", CLI,
            "--base", tmp_path / "b.npy", "--queries", tmp_path / "q.npy", "--index", "Flat",
            "--index", "IVF16,Flat", "--index", "HNSW8", "--nprobe", "2,16", "--ef", "32",
            "--nsingle", 5, "--repeat", 1, "--train-size", 0, "--json", tmp_path / "c.json"]
    p = subprocess.run(["/usr/bin/python3", *map(str, args)], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr
    rows = json.load(open(tmp_path / "c.json"))["rows"]
    by = {(r["index"], r["params"]): r for r in rows}
    assert set(by) == {("Flat", "-"), ("IVF16,Flat", "nprobe=2"), ("IVF16,Flat", "nprobe=16"),
                       ("HNSW8", "efSearch=32")}
    assert by[("Flat", "-")]["peer"]["peer"] == "faiss"
    assert by[("HNSW8", "efSearch=32")]["peer"]["peer"] == "hnswlib"
    for key in [("Flat", "-"), ("IVF16,Flat", "nprobe=16")]:  # exact on both sides
        assert by[key]["vindex"]["recall@10"] == 1.0 and by[key]["peer"]["recall@10"] == 1.0
    # the same training, the same lists: the same recall
    low = by[("IVF16,Flat", "nprobe=2")]
    assert low["vindex"]["recall@10"] == pytest.approx(low["peer"]["recall@10"], abs=0.02)
    assert "| batch x |" in p.stdout


def test_bench_plot(tmp_path):
    pytest.importorskip("matplotlib")
    run("synth", "-n", 600, "--nq", 20, "-d", 8, "--base", tmp_path / "b.fvecs",
        "--queries", tmp_path / "q.fvecs")
    run("bench", "--base", tmp_path / "b.fvecs", "--queries", tmp_path / "q.fvecs",
        "--index", "Flat", "--index", "IVF8,Flat", "--nprobe", "1,2", "--nsingle", 5,
        "--plot", tmp_path / "r.png")
    assert open(tmp_path / "r.png", "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert [f for f in os.listdir(tmp_path) if ".tmp" in f] == []


# ---- bad input: one line on stderr, a non-zero status, nothing written ------


def test_missing_files(data):
    tmp, _, _ = data
    out = tmp / "out.vx"
    assert "nope.fvecs" in fails("build", "--spec", "Flat", tmp / "nope.fvecs", "-o", out, out=out)
    assert "nope.vx" in fails("search", tmp / "nope.vx", tmp / "q.fvecs", "-k", 1)
    assert "nope.vx" in fails("info", tmp / "nope.vx")
    assert "nope.fvecs" in fails("convert", tmp / "nope.fvecs", tmp / "o.npy", out=tmp / "o.npy")
    fails("bench", "--base", tmp / "nope.fvecs", "--queries", tmp / "q.fvecs",
          "--csv", tmp / "r.csv", out=tmp / "r.csv")


def test_unknown_formats(data):
    tmp, _, _ = data
    open(tmp / "x.txt", "w").write("1 2 3\n")
    assert "unknown" in fails("build", "--spec", "Flat", tmp / "x.txt", "-o", tmp / "o.vx",
                              out=tmp / "o.vx")
    assert "unknown" in fails("convert", tmp / "base.fvecs", tmp / "o.csv", out=tmp / "o.csv")
    assert "unknown" in fails("synth", "-n", 10, "--base", tmp / "o.dat", out=tmp / "o.dat")
    # a file that is not what its name says
    open(tmp / "junk.npy", "wb").write(b"not numpy at all")
    fails("convert", tmp / "junk.npy", tmp / "o.fvecs", out=tmp / "o.fvecs")
    assert "not a vindex index" in fails("info", tmp / "base.fvecs")


def test_hostile_headers_fail_without_huge_allocations(tmp_path):
    with open(tmp_path / "h.fbin", "wb") as f:
        f.write(struct.pack("<II", 0xFFFFFFFF, 0xFFFF) + b"\0" * 64)
    assert "header says" in fails("convert", tmp_path / "h.fbin", tmp_path / "o.fvecs")
    with open(tmp_path / "h.fvecs", "wb") as f:
        f.write(struct.pack("<i", 1 << 30) + b"\0" * 12)
    fails("convert", tmp_path / "h.fvecs", tmp_path / "o.fvecs")
    with open(tmp_path / "r.fvecs", "wb") as f:  # rows of different dimensions
        f.write(struct.pack("<i", 2) + b"\0" * 8 + struct.pack("<i", 1) + b"\0" * 4 + b"\0" * 4)
    fails("convert", tmp_path / "r.fvecs", tmp_path / "o.npy")
    hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (100000000, 100000), }"
    with open(tmp_path / "h.npy", "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode() + b"\0" * 16)
    fails("convert", tmp_path / "h.npy", tmp_path / "o.fvecs")
    idx = struct.pack(">BBBBIII", 0, 0, 8, 3, 1 << 30, 28, 28) + b"\0" * 100
    open(tmp_path / "h-idx3-ubyte.gz", "wb").write(gzip.compress(idx))
    assert "truncated" in fails("convert", tmp_path / "h-idx3-ubyte.gz", tmp_path / "o.fvecs")
    assert not os.path.exists(tmp_path / "o.fvecs") and not os.path.exists(tmp_path / "o.npy")


def test_dimension_mismatch_names_both(data):
    tmp, xb, _ = data
    run("build", "--spec", "Flat", tmp / "base.fvecs", "-o", tmp / "f.vx")
    write_vecs(tmp / "q7.fvecs", xb[:4, :7], np.float32)
    msg = fails("search", tmp / "f.vx", tmp / "q7.fvecs", "-k", 3)
    assert "7" in msg and "12" in msg
    msg = fails("bench", "--base", tmp / "base.fvecs", "--queries", tmp / "q7.fvecs",
                "--index", "Flat", "--csv", tmp / "r.csv", out=tmp / "r.csv")
    assert "7" in msg and "12" in msg


def test_non_finite_values(data):
    tmp, xb, xq = data
    bad = xb.copy()
    bad[17, 3] = np.nan
    write_vecs(tmp / "nan.fvecs", bad, np.float32)
    msg = fails("build", "--spec", "Flat", tmp / "nan.fvecs", "-o", tmp / "o.vx", out=tmp / "o.vx")
    assert "row 17" in msg and "column 3" in msg
    run("build", "--spec", "Flat", tmp / "base.fvecs", "-o", tmp / "f.vx")
    q = xq.copy()
    q[2, 0] = np.inf
    np.save(tmp / "inf.npy", q)
    assert "non-finite" in fails("search", tmp / "f.vx", tmp / "inf.npy", "-k", 2)


def test_bad_k(data):
    tmp, _, _ = data
    run("build", "--spec", "Flat", tmp / "base.fvecs", "-o", tmp / "f.vx")
    for k in ["0", "-1", "x"]:
        assert "-k" in fails("search", tmp / "f.vx", tmp / "q.fvecs", "-k", k)
    fails("search", tmp / "f.vx", tmp / "q.fvecs")


def test_unknown_spec(data):
    tmp, _, _ = data
    out = tmp / "o.vx"
    assert "Bogus" in fails("build", "--spec", "IVF8,Bogus", tmp / "base.fvecs", "-o", out, out=out)
    fails("build", "--spec", "", tmp / "base.fvecs", "-o", out, out=out)
    fails("build", "--spec", "IVF,Flat", tmp / "base.fvecs", "-o", out, out=out)


def test_usage_errors(data):
    tmp, _, _ = data
    fails("frobnicate")
    fails("build", "--spec", "Flat", tmp / "base.fvecs")  # no -o
    fails("build", "--spec", "Flat", "--metric", "cosine", tmp / "base.fvecs", "-o", tmp / "o.vx")
    fails("bench", "--dataset", "mnist-digits")
    fails("search", tmp / "x.vx", tmp / "q.fvecs", "-k", 1, "--bogus")
    assert run("--help").stdout.startswith("usage: vindex")
    for cmd in ["build", "search", "info", "bench", "synth", "convert"]:
        assert run(cmd, "--help").stdout.startswith("usage: vindex " + cmd)
