"""The seed document's Flat example (a Korean introduction to Faiss), run as
written after `import vindex as faiss`, with data of our own.

The code block is read from ../shared/seed/ beside the repository when it is
there; the copy below (verbatim) stands in for it elsewhere.
"""
import glob
import os
import re
import textwrap

import numpy as np

import vindex as faiss
from conftest import check_knn

SEED_GLOB = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "seed",
                         "000_*.txt")

FLAT_BLOCK = """\
index = faiss.IndexFlatL2(d)   # build the index
print(index.is_trained)        # True will be printed
index.add(xb)                  # add vectors to the index

k = 4                          # we want to see 4 nearest neighbors
D, I = index.search(xb[:5], k) # sanity check
"""


def flat_block():
    """The first ```python block after the "IndexFlatL2" heading of the seed."""
    for path in sorted(glob.glob(SEED_GLOB)):
        text = open(path, encoding="utf-8").read()
        at = text.find("### IndexFlatL2")
        m = re.search(r"```python\n(.*?)```", text[at:], re.S) if at >= 0 else None
        if m:
            return textwrap.dedent(m.group(1))
    return FLAT_BLOCK


def test_seed_flat_block_runs(capsys):
    code = flat_block()
    assert "faiss.IndexFlatL2(d)" in code and "index.search(xb[:5], k)" in code
    rng = np.random.default_rng(7)
    d = 128
    xb = rng.random((10000, d)).astype("float32")  # the document's scale: 10k x 128
    ns = {"faiss": faiss, "d": d, "xb": xb}
    exec(compile(code, "seed-flat-block", "exec"), ns)
    assert capsys.readouterr().out.strip() == "True"  # print(index.is_trained)
    D, I = ns["D"], ns["I"]
    assert ns["index"].ntotal == 10000 and ns["k"] == 4
    assert D.shape == (5, 4) and I.shape == (5, 4)
    assert I[:, 0].tolist() == [0, 1, 2, 3, 4]  # each vector finds itself first
    assert (D[:, 0] == 0).all()
    check_knn(D, I, xb[:5], xb, 4)


def test_block_copy_matches_seed_when_present():
    if glob.glob(SEED_GLOB):
        assert flat_block().strip() == FLAT_BLOCK.strip()
