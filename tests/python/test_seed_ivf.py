"""The seed document's IVF examples (a Korean introduction to Faiss), run as
written after `import vindex as faiss`, with data of our own: the IndexIVFFlat
block (is_trained False then True, search, nprobe = 10, search again) and the
reconstruction block (make_direct_map, then reconstruct(7460)[:100]).

The blocks are read from ../shared/seed/ beside the repository when it is
there; the copies below (verbatim) stand in for them elsewhere. The part of
the reconstruction block after "# the below will be printed." is the
document's printed output, not code: it is checked against what we print.
"""
import contextlib
import glob
import io
import os
import re
import textwrap

import numpy as np
import pytest

import vindex as faiss
from conftest import clustered, exact_knn, recall_at

SEED_GLOB = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "seed",
                         "000_*.txt")

IVF_BLOCK = """\
nlist = 50  # how many cells
quantizer = faiss.IndexFlatL2(d)
index = faiss.IndexIVFFlat(quantizer, d, nlist)

print(index.is_trained)  # False

index.train(sentence_embeddings)
print(index.is_trained)  # True

index.add(sentence_embeddings)

D, I = index.search(xq, k)  # search
print(I)
# [[ 9900  9309  9810 10048]
# [11055 10895 10812 11321]
# [11353 10164  9787 10719]
# [10571 10664 10632 10203]
# [ 9628  9554  9582 10304]]
# CPU times: user 3.83 ms, sys: 3.25 ms, total: 7.08 ms
# Wall time: 2.15 ms

index.nprobe = 10  # which defines how many nearby cells to search.

D, I = index.search(xq, k)  # search
print(I)
# [[ 9900 10500  9309  9831]
# [11055 10895 10812 11321]
# [11353 11103 10164  9787]
# [10571 10664 10632  9638]
# [ 9628  9554 10036  9582]]
# CPU times: user 5.29 ms, sys: 2.7 ms, total: 7.99 ms
# Wall time: 1.54 ms
"""

RECONSTRUCT_CODE = """\
index.make_direct_map()
index.reconstruct(7460)[:100]
"""

OUTPUT_MARK = "# the below will be printed."


def seed_block(heading):
    """The first ```python block after `heading` in the seed, or None."""
    for path in sorted(glob.glob(SEED_GLOB)):
        text = open(path, encoding="utf-8").read()
        at = text.find(heading)
        m = re.search(r"```python\n(.*?)```", text[at:], re.S) if at >= 0 else None
        if m:
            return textwrap.dedent(m.group(1))
    return None


def ivf_block():
    return seed_block("### IndexIVFFlat 구현") or IVF_BLOCK


def reconstruct_block():
    """(code, printed output) of the seed's reconstruction block."""
    block = seed_block("### IVF Index Reconstruction")
    if block is None:
        return RECONSTRUCT_CODE, None
    code, _, printed = block.partition(OUTPUT_MARK)
    return code, printed


@pytest.fixture(scope="module")
def run_ivf_block():
    """Runs the IVF block on 10,000 x 128 clustered float32 'sentence
    embeddings' (the document's scale); returns the namespace and its output."""
    rng = np.random.default_rng(2024)
    d = 128
    sentence_embeddings = clustered(rng, 10000, d, 200, spread=0.6)
    xq = sentence_embeddings[[9900, 1055, 1353, 571, 9628]] + \
        0.1 * rng.standard_normal((5, d)).astype("float32")
    ns = {"faiss": faiss, "d": d, "k": 4, "xq": xq, "sentence_embeddings": sentence_embeddings}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(ivf_block(), "seed-ivf-block", "exec"), ns)
    return ns, out.getvalue()


def test_seed_ivf_block_runs(run_ivf_block):
    ns, out = run_ivf_block
    lines = out.splitlines()
    assert lines[:2] == ["False", "True"]  # print(index.is_trained) before/after train
    index, xb, xq = ns["index"], ns["sentence_embeddings"], ns["xq"]
    assert isinstance(index, faiss.IndexIVFFlat)
    assert index.nlist == 50 and index.ntotal == 10000 and index.nprobe == 10
    assert ns["quantizer"].ntotal == 50
    I = ns["I"]
    assert I.shape == (5, 4) and ns["D"].shape == (5, 4)
    # print(I) printed both (5, 4) label arrays
    assert out.count("[[") == 2 and len(lines) == 2 + 2 * 5
    # nprobe = 10 finds (nearly) the exact neighbours; nprobe = 1 may miss some
    _, I_ref = exact_knn(xq, xb, 4)
    assert recall_at(I, I_ref) >= 0.95
    index.nprobe = 1
    assert recall_at(index.search(xq, 4)[1], I_ref) <= recall_at(I, I_ref)
    index.nprobe = 10


def test_seed_reconstruct_block_runs(run_ivf_block):
    ns, _ = run_ivf_block
    index, xb = ns["index"], ns["sentence_embeddings"]
    # "calling index.reconstruct(<vector_idx>) right away meets a RuntimeError"
    with pytest.raises(RuntimeError, match="make_direct_map"):
        index.reconstruct(7460)
    code, printed = reconstruct_block()
    assert "index.make_direct_map()" in code and "index.reconstruct(7460)[:100]" in code
    *stmts, last = [line for line in code.strip().splitlines() if line.strip()]
    exec(compile("\n".join(stmts), "seed-reconstruct-block", "exec"), ns)
    value = eval(compile(last, "seed-reconstruct-block", "eval"), ns)  # shown by the notebook
    assert value.shape == (100,) and value.dtype == np.float32
    np.testing.assert_array_equal(value, xb[7460][:100])
    if printed is not None:  # the document printed a float32 array of 100 values
        assert "dtype=float32" in printed
        numbers = re.findall(r"-?\d+\.\d+(?:e-?\d+)?", printed)
        assert len(numbers) == 100
        assert repr(value).startswith("array([") and repr(value).endswith("dtype=float32)")


def test_block_copies_match_seed_when_present():
    if glob.glob(SEED_GLOB):
        assert ivf_block().strip() == IVF_BLOCK.strip()
        assert reconstruct_block()[0].strip() == RECONSTRUCT_CODE.strip()
