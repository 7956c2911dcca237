"""Shared helpers for the Python tests. Run from the repository root:

    PYTHONPATH=python /usr/bin/python3 -m pytest -q tests/python

(after `make python`), or with the package installed by pip.
"""
import os
import sys

import numpy as np
import pytest

try:
    import vindex  # noqa: F401
except ImportError:  # not installed and no PYTHONPATH: use the in-place build
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python"))
    import vindex  # noqa: F401


def brute_force(xq, xb, metric="l2"):
    """Exact distances (float64) of every query to every base vector."""
    xq = np.asarray(xq, dtype=np.float64)
    xb = np.asarray(xb, dtype=np.float64)
    if metric == "l2":
        return ((xq[:, None, :] - xb[None, :, :]) ** 2).sum(-1)
    return xq @ xb.T


def check_knn(D, I, xq, xb, k, metric="l2", labels=None, rtol=1e-4, atol=1e-3):
    """Checks a search result against numpy brute force, tolerant of near-ties:
    the distances must match the k best exact distances, and each returned
    label's exact distance must match the distance reported beside it."""
    ref = brute_force(xq, xb, metric)
    labels = np.arange(len(xb)) if labels is None else np.asarray(labels)
    pos = {int(l): p for p, l in enumerate(labels)}
    n_real = min(k, len(xb))
    order = np.sort(ref, axis=1) if metric == "l2" else -np.sort(-ref, axis=1)
    assert D.shape == (len(xq), k) and I.shape == (len(xq), k)
    assert D.dtype == np.float32 and I.dtype == np.int64
    np.testing.assert_allclose(D[:, :n_real], order[:, :n_real], rtol=rtol, atol=atol)
    for i in range(len(xq)):
        row = I[i, :n_real]
        assert len(set(row.tolist())) == n_real, "duplicate labels"
        got = np.array([ref[i, pos[int(l)]] for l in row])
        np.testing.assert_allclose(got, D[i, :n_real], rtol=rtol, atol=atol)
    if n_real < k:
        assert (I[:, n_real:] == -1).all()
        pad = np.inf if metric == "l2" else -np.inf
        assert (D[:, n_real:] == pad).all()


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def clustered(rng, n, d, nclusters, spread=0.15):
    """n float32 vectors around nclusters random centres (Gaussian clouds), the
    kind of data IVF partitions well."""
    centres = rng.standard_normal((nclusters, d))
    which = rng.integers(0, nclusters, size=n)
    return (centres[which] + spread * rng.standard_normal((n, d))).astype("float32")


def exact_knn(xq, xb, k, metric="l2"):
    """Exact k-NN labels and distances by numpy (float64), without an (nq, nb, d)
    temporary: (D, I) of shape (nq, k), nearest first."""
    xq = np.asarray(xq, dtype=np.float64)
    xb = np.asarray(xb, dtype=np.float64)
    ip = xq @ xb.T
    if metric == "l2":
        dis = (xq ** 2).sum(1)[:, None] + (xb ** 2).sum(1)[None, :] - 2 * ip
        I = np.argsort(dis, axis=1, kind="stable")[:, :k]
    else:
        dis = ip
        I = np.argsort(-dis, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(dis, I, 1), I


def recall_at(I, I_ref):
    """Fraction of the true k nearest (I_ref rows) found among the returned rows."""
    k = I_ref.shape[1]
    hits = sum(len(set(a.tolist()) & set(b.tolist())) for a, b in zip(I[:, :k], I_ref))
    return hits / I_ref.size
