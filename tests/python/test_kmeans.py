"""faiss.Kmeans from Python: results, determinism, the objective, spherical
clustering, the assignment index, log output, and bad input."""
import threading

import numpy as np
import pytest

import vindex as faiss
from conftest import clustered


@pytest.fixture(scope="module")
def x():
    return clustered(np.random.default_rng(11), 3000, 16, 10, spread=0.2)


def test_train_sets_centroids_obj_and_index(x):
    assert faiss.Kmeans(16, 10).cp.max_points_per_centroid == 256  # Faiss's default
    # no subsampling here (3000 points > 10 * 256 would be sampled)
    km = faiss.Kmeans(16, 10, niter=20, seed=5, max_points_per_centroid=1000)
    assert km.centroids is None and km.obj is None and km.index is None
    assert km.cp.niter == 20 and km.cp.nredo == 1 and km.cp.max_points_per_centroid == 1000
    obj = km.train(x)
    assert km.centroids.shape == (10, 16) and km.centroids.dtype == np.float32
    assert km.obj.shape == (20,)
    assert obj == km.obj[-1]
    # the objective is the sum of squared distances to the nearest centroid, at
    # the last assignment (the centroid update after it can only lower it)
    d2 = ((x[:, None, :].astype(np.float64) - km.centroids[None]) ** 2).sum(-1)
    assert d2.min(1).sum() <= obj * (1 + 1e-5)
    assert d2.min(1).sum() == pytest.approx(obj, rel=1e-2)
    # Lloyd iterations never make it worse
    assert (np.diff(km.obj) <= 1e-4 * km.obj[0]).all()
    assert km.obj[-1] < km.obj[0]
    # the index holds the centroids and assigns, as assign() does
    assert isinstance(km.index, faiss.IndexFlatL2) and km.index.ntotal == 10
    D, I = km.index.search(x, 1)
    D2, I2 = km.assign(x)
    assert D2.shape == I2.shape == (3000,)
    np.testing.assert_array_equal(I[:, 0], I2)
    np.testing.assert_array_equal(I2, d2.argmin(1))
    # 10 separated clouds: far below the spread around the overall mean
    assert len(np.unique(I2)) == 10
    assert obj < 0.2 * ((x - x.mean(0)) ** 2).sum()


def test_deterministic_for_a_seed(x):
    a = faiss.Kmeans(16, 12, niter=8, seed=42)
    b = faiss.Kmeans(16, 12, niter=8, seed=42)
    c = faiss.Kmeans(16, 12, niter=8, seed=43)
    a.train(x)
    b.train(x)
    c.train(x)
    np.testing.assert_array_equal(a.centroids, b.centroids)
    np.testing.assert_array_equal(a.obj, b.obj)
    assert not np.array_equal(a.centroids, c.centroids)


def test_same_result_for_any_thread_count(x):
    n = faiss.omp_get_max_threads()
    try:
        faiss.omp_set_num_threads(1)
        one = faiss.Kmeans(16, 8, niter=5).train(x), None
        a = faiss.Kmeans(16, 8, niter=5)
        a.train(x)
        faiss.omp_set_num_threads(3)
        b = faiss.Kmeans(16, 8, niter=5)
        b.train(x)
    finally:
        faiss.omp_set_num_threads(n)
    np.testing.assert_array_equal(a.centroids, b.centroids)
    assert one[0] == a.obj[-1]


def test_nredo_keeps_the_best_run(x):
    km = faiss.Kmeans(16, 10, niter=5, nredo=3, seed=1, max_points_per_centroid=1000)
    km.train(x)
    assert km.obj.shape == (15,)
    d2 = ((x[:, None, :].astype(np.float64) - km.centroids[None]) ** 2).sum(-1)
    best = min(km.obj[4], km.obj[9], km.obj[14])
    assert d2.min(1).sum() <= best * (1 + 1e-5)
    assert d2.min(1).sum() == pytest.approx(best, rel=2e-2)


def test_spherical(x):
    km = faiss.Kmeans(16, 6, niter=10, spherical=True)
    km.train(x)
    np.testing.assert_allclose(np.linalg.norm(km.centroids, axis=1), 1, rtol=1e-5)
    assert isinstance(km.index, faiss.IndexFlatIP)
    _, I = km.assign(x)
    np.testing.assert_array_equal(I, (x @ km.centroids.T).argmax(1))


def test_kmeans_plusplus_and_niter_zero(x):
    km = faiss.Kmeans(16, 10, niter=10, init="k-means++")
    km.train(x)
    assert km.obj.shape == (10,)
    km0 = faiss.Kmeans(16, 10, niter=0)
    assert km0.train(x) == 0.0  # no iterations: no objective (as Faiss)
    assert km0.obj.shape == (0,) and km0.centroids.shape == (10, 16)
    # the seeds are training points
    assert all((x == c).all(1).any() for c in km0.centroids)


def test_subsampling_uses_max_points_per_centroid(x, capsys):
    km = faiss.Kmeans(16, 4, niter=3, max_points_per_centroid=50, verbose=True)
    km.train(x)
    out = capsys.readouterr().out
    assert "sampling 200 of the 3000" in out
    assert out.count("iteration") == 3


def test_verbose_false_prints_nothing_and_warnings_go_to_stderr(x, capsys):
    faiss.Kmeans(16, 4, niter=3).train(x)
    assert capsys.readouterr().out == ""
    faiss.Kmeans(16, 20, niter=2).train(x[:100])  # fewer than 39 points per centroid
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "WARNING" in captured.err and "780" in captured.err


def test_log_callback(x):
    got = []
    prev = faiss.set_log_callback(lambda level, msg: got.append((level, msg)))
    try:
        faiss.Kmeans(16, 4, niter=2, verbose=True).train(x[:500])
    finally:
        assert faiss.set_log_callback(prev) is not None
    assert [level for level, _ in got] == [0, 0]
    assert all("iteration" in msg for _, msg in got)
    with pytest.raises(TypeError):
        faiss.set_log_callback(3)


def test_verbose_in_threads(x, capsys):
    """Two trainings at once in two threads (the GIL is released during the C
    call; the log callback takes it back)."""
    results = {}

    def run(seed):
        km = faiss.Kmeans(16, 5, niter=4, seed=seed, verbose=True)
        results[seed] = km.train(x)

    threads = [threading.Thread(target=run, args=(s,)) for s in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(results) == {1, 2}
    assert capsys.readouterr().out.count("iteration") == 8


def test_bad_input(x):
    with pytest.raises(ValueError, match="fewer than the 20 centroids"):
        faiss.Kmeans(16, 20).train(x[:10])
    with pytest.raises(ValueError, match=r"shape \(n, d=16\)"):
        faiss.Kmeans(16, 4).train(x[:, :8])
    with pytest.raises(ValueError):
        faiss.Kmeans(16, 0)
    with pytest.raises(ValueError, match="niter"):
        faiss.Kmeans(16, 4, niter=-1).train(x)
    with pytest.raises(ValueError, match="nredo"):
        faiss.Kmeans(16, 4, nredo=0).train(x)
    with pytest.raises(AttributeError, match="no_such"):
        faiss.Kmeans(16, 4, no_such=1)
    with pytest.raises(ValueError, match="init"):
        faiss.Kmeans(16, 4, init="fancy").train(x)
    with pytest.raises(ValueError, match="NaN"):
        bad = x[:100].copy()
        bad[3, 3] = np.nan
        faiss.Kmeans(16, 4).train(bad)
    with pytest.raises(RuntimeError, match="train"):
        faiss.Kmeans(16, 4).assign(x)
    km = faiss.Kmeans(16, 4, niter=2)
    km.train(x)
    before = km.centroids.copy()
    with pytest.raises(ValueError):
        km.train(x[:2])  # a failed train leaves the previous result
    np.testing.assert_array_equal(km.centroids, before)
