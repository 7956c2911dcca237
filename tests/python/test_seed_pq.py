"""The seed document's PQ and IVFPQ examples (a Korean introduction to Faiss),
run as written after `import vindex as faiss` (its `import faiss` line gets
vindex), with data of our own at the document's scale: 10,000 x 128 clustered
float32 vectors, D = 128, m = 8, nbits = 8.

Blocks, in the document's order: "### IndexPQ 구현" (IndexPQ, is_trained
printed before training, a search before anything was added), the recall
comparison with IndexFlatL2 that follows it, "### IndexIVFPQ 구현" and
"### Optimizing nprobe value" (nprobe 2048 / 2 / 48, run on the IndexIVFPQ:
nprobe above nlist is clamped). They are read from ../shared/seed/ beside the
repository when it is there; the copies below (verbatim) stand in for them
elsewhere.
"""
import ast
import contextlib
import glob
import io
import os
import re
import sys
import textwrap

import numpy as np
import pytest

import vindex as faiss
from conftest import clustered, exact_knn, recall_at

SEED_GLOB = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "seed",
                         "000_*.txt")

PQ_BLOCK = """\
import faiss

D = xb.shape[1]
m = 8
assert D % m == 0
nbits = 8  # number of bits per subquantizer, k* = 2**nbits
index = faiss.IndexPQ(D, m, nbits)

print(index.is_trained)
# False

index.train(xb)  # PQ training can take some time when using large nbits

dist, I = index.search(xq, k)
index.search(xq, k)
# 1.49 ms ± 49.1 µs per loop (mean ± std. dev. of 7 runs, 1000 loops each)
"""

RECALL_BLOCK = """\
l2_index = faiss.IndexFlatL2(D)
l2_index.add(xb)

l2_dist, l2_I = l2_index.search(xq, k)
# CPU times: user 46.1 ms, sys: 15.1 ms, total: 61.2 ms
# Wall time: 15 ms

recall = sum([1 for i in I[0] if i in l2_I])
print(recall)
# 50
"""

NPROBE_BLOCK = """\
index.nprobe = 2048  # this is searching all Voronoi cells
dist, I = index.search(xq, k)
sum([1 for i in I[0] if i in l2_I])
# 52%

index.nprobe = 2
dist, I = index.search(xq, k)
sum([1 for i in I[0] if i in l2_I])
# 39%


index.nprobe = 48
dist, I = index.search(xq, k)
sum([1 for i in I[0] if i in l2_I])
# 52
"""

IVFPQ_BLOCK = """\
nlist = 100
m = 8
k = 4
quantizer = faiss.IndexFlatL2(d)  # this remains the same
index = faiss.IndexIVFPQ(quantizer, d, nlist, m, 8)
                                  # 8 specifies that each sub-vector is encoded as 8 bits
index.train(xb)
index.add(xb)
D, I = index.search(xb[:5], k) # sanity check
print(I)
print(D)
index.nprobe = 10              # make comparable with experiment above
D, I = index.search(xq, k)     # search
print(I[-5:])
"""


def seed_blocks(heading):
    """The ```python blocks between `heading` and the next heading of the seed
    (None when the seed is not there)."""
    for path in sorted(glob.glob(SEED_GLOB)):
        text = open(path, encoding="utf-8").read()
        at = text.find(heading)
        if at < 0:
            continue
        end = text.find("\n### ", at + len(heading))
        section = text[at:end if end >= 0 else len(text)]
        return [textwrap.dedent(b) for b in re.findall(r"```python\n(.*?)```", section, re.S)]
    return None


def pq_blocks():
    blocks = seed_blocks("### IndexPQ 구현")
    return (blocks[0], blocks[1]) if blocks else (PQ_BLOCK, RECALL_BLOCK)


def nprobe_block():
    blocks = seed_blocks("### Optimizing nprobe value")
    return blocks[0] if blocks else NPROBE_BLOCK


def ivfpq_block():
    blocks = seed_blocks("### IndexIVFPQ 구현")
    return blocks[0] if blocks else IVFPQ_BLOCK


def run(code, ns, name):
    """Runs code statement by statement as a notebook cell would; returns the
    values of its bare expressions (what a notebook shows), in order."""
    shown = []
    for stmt in ast.parse(code).body:
        if isinstance(stmt, ast.Expr):
            shown.append(eval(compile(ast.Expression(stmt.value), name, "eval"), ns))
        else:
            exec(compile(ast.Module([stmt], []), name, "exec"), ns)
    return shown


@pytest.fixture(scope="module")
def seed_run():
    """Runs the PQ block, the recall block, the IVFPQ block and the nprobe
    sweep in one namespace; returns the namespace, the printed output and the
    values the blocks show."""
    rng = np.random.default_rng(31)
    d = 128
    xb = clustered(rng, 10000, d, 100, spread=0.5)
    xq = xb[rng.choice(len(xb), 20, replace=False)] + \
        0.05 * rng.standard_normal((20, d)).astype("float32")
    ns = {"faiss": faiss, "d": d, "k": 10, "xb": xb, "xq": xq}
    out, shown = io.StringIO(), {}
    saved = sys.modules.get("faiss")
    sys.modules["faiss"] = faiss  # the block's `import faiss` gets vindex
    try:
        with contextlib.redirect_stdout(out):
            pq_code, recall_code = pq_blocks()
            shown["pq"] = run(pq_code, ns, "seed-pq-block")
            ns["pq_index"] = ns["index"]
            shown["recall"] = run(recall_code, ns, "seed-recall-block")
            shown["ivfpq"] = run(ivfpq_block(), ns, "seed-ivfpq-block")
            shown["nprobe"] = run(nprobe_block(), ns, "seed-nprobe-block")
    finally:
        if saved is None:
            del sys.modules["faiss"]
        else:
            sys.modules["faiss"] = saved
    return ns, out.getvalue(), shown


def test_pq_block(seed_run):
    ns, out, shown = seed_run
    lines = out.splitlines()
    assert lines[0] == "False"  # print(index.is_trained) before train
    index = ns["pq_index"]
    assert isinstance(index, faiss.IndexPQ) and index.is_trained
    assert index.d == 128 and index.pq.M == 8 and index.pq.nbits == 8  # (D was reused later)
    # searched before anything was added: every label is -1, as in Faiss
    assert index.ntotal == 0
    dist2, I2 = shown["pq"][-1]  # the bare index.search(xq, k)
    assert I2.shape == (20, 10) and (I2 == -1).all()
    # the recall block: no hits for an empty index
    assert lines[1] == "0" and ns["recall"] == 0
    # once vectors are added, IndexPQ finds most true neighbours
    index.add(ns["xb"])
    _, I = index.search(ns["xq"], 10)
    _, I_ref = exact_knn(ns["xq"], ns["xb"], 10)
    assert recall_at(I, I_ref) >= 0.15  # measured 0.245: 8-byte codes of 128-d (random: 0.001)
    # memory: 8-byte codes for 10,000 vectors, far below Flat's 5 MB
    assert 80_000 <= index.memory_bytes() < ns["l2_index"].memory_bytes() / 10


def test_ivfpq_block(seed_run):
    ns, out, shown = seed_run
    index, xb, xq = ns["index"], ns["xb"], ns["xq"]
    assert isinstance(index, faiss.IndexIVFPQ)
    assert index.nlist == 100 and index.ntotal == 10000 and ns["quantizer"].ntotal == 100
    # print(I); print(D) of the sanity check, then print(I[-5:])
    lines = out.splitlines()[2:]
    assert out.count("[[") == 3 and len(lines) == 15
    I5 = np.array([[int(v) for v in re.findall(r"-?\d+", line)] for line in lines[:5]])
    assert I5.shape == (5, 4) and I5[:, 0].tolist() == [0, 1, 2, 3, 4]
    assert index.memory_bytes() < ns["l2_index"].memory_bytes() / 4


def test_nprobe_block(seed_run):
    ns, _, shown = seed_run
    index, xq, l2_I = ns["index"], ns["xq"], ns["l2_I"]
    hits_all, hits_2, hits_48 = shown["nprobe"]
    assert index.nprobe == 48
    assert 0 <= hits_2 <= hits_all <= 4 and 0 <= hits_48 <= 4
    # nprobe 2048 > nlist = 100 is clamped: the same as visiting every list
    index.nprobe = 2048
    I_all = index.search(xq, 4)[1]
    index.nprobe = 100
    np.testing.assert_array_equal(index.search(xq, 4)[1], I_all)
    _, I_ref = exact_knn(xq, ns["xb"], 4)
    index.nprobe = 2
    r2 = recall_at(index.search(xq, 4)[1], I_ref)
    assert recall_at(I_all, I_ref) >= max(r2, 0.35)  # measured 0.44 (8-byte codes of 128-d)
    index.nprobe = 48


def test_block_copies_match_seed_when_present():
    if glob.glob(SEED_GLOB):
        pq_code, recall_code = pq_blocks()
        assert pq_code.strip() == PQ_BLOCK.strip()
        assert recall_code.strip() == RECALL_BLOCK.strip()
        assert nprobe_block().strip() == NPROBE_BLOCK.strip()
        assert ivfpq_block().strip() == IVFPQ_BLOCK.strip()
