"""SubKmeans (baselines/subkmeans.py): planted recovery, m <= k - 1, invariants, exact tiny case, real MNIST, errors."""

from __future__ import annotations

import numpy as np
import pytest

from baselines.subkmeans import SubKmeans
from benchmark.metrics import nmi
from generators.planted import make_planted


@pytest.fixture(scope="module")
def planted4():
    """4 clusters in 2 dims plus 18 Gaussian noise dims, randomly rotated (d = 20)."""
    return make_planted(n=800, n_clusters=(4,), dims_per_subspace=2, noise_dims=18, seed=3)


@pytest.fixture(scope="module")
def fitted4(planted4):
    return SubKmeans(4, n_init=3, random_state=0, progress=False).fit(planted4.X)


def test_recovers_planted_clusters_in_low_dimensional_space(planted4, fitted4):
    est = fitted4
    assert est.labels_.shape == (800,)
    assert nmi(planted4.labels[:, 0], est.labels_) >= 0.95
    assert 2 <= est.m_ <= 3  # the 2 planted dims (+ at most the sampling-noise direction of the 4 means)


def test_cluster_space_dimension_at_most_k_minus_one(planted4):
    rng = np.random.default_rng(1)
    for k in (2, 3, 6):
        est = SubKmeans(k, n_init=1, random_state=int(rng.integers(100)), progress=False).fit(planted4.X)
        assert 1 <= est.m_ <= k - 1


def test_m_is_scale_invariant(planted4):
    """BASELINES §2.4: an absolute threshold inflates m on data x 255; the relative one does not."""
    a = SubKmeans(4, n_init=1, random_state=5, progress=False).fit(planted4.X)
    b = SubKmeans(4, n_init=1, random_state=5, progress=False).fit(planted4.X.astype(np.float64) * 255.0)
    assert a.m_ == b.m_ <= 3
    np.testing.assert_array_equal(a.labels_, b.labels_)


def test_cost_invariants(planted4, fitted4):
    est = fitted4
    X = planted4.X.astype(np.float64)
    h = np.asarray(est.cost_history_)
    assert np.all(np.diff(h) <= 1e-10 * h[0])
    d = X.shape[1]
    assert np.abs(est.V_.T @ est.V_ - np.eye(d)).max() < 1e-8
    Vc, Vn = est.V_[:, : est.m_], est.V_[:, est.m_ :]
    direct = np.sum(((X - est.cluster_centers_[est.labels_]) @ Vc) ** 2) + np.sum(((X - X.mean(0)) @ Vn) ** 2)
    assert est.loss_ == pytest.approx(direct, rel=1e-9)
    assert est.loss_ == min(est.all_losses_)


def test_predict_and_transform(planted4, fitted4):
    np.testing.assert_array_equal(fitted4.predict(planted4.X), fitted4.labels_)
    assert fitted4.transform(planted4.X).shape == (800, fitted4.m_)


def test_fit_transform_is_fit_then_transform(planted4, fitted4):
    est = SubKmeans(**fitted4.get_params())
    np.testing.assert_array_equal(est.fit_transform(planted4.X), fitted4.transform(planted4.X))


def test_deterministic_under_random_state(planted4):
    a = SubKmeans(4, n_init=2, random_state=11, progress=False).fit(planted4.X)
    b = SubKmeans(4, n_init=2, random_state=11, progress=False).fit(planted4.X)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.loss_ == b.loss_ and a.m_ == b.m_


def test_exact_tiny_case_prefers_the_wider_split():
    """Points (+-1, +-3): a split by y leaves the x spread (SSE 4) in the noise space; a split by x leaves 36."""
    X = np.array([[-1.0, -3.0], [1.0, -3.0], [-1.0, 3.0], [1.0, 3.0]])
    est = SubKmeans(2, n_init=4, random_state=0, progress=False).fit(X)
    assert est.loss_ == pytest.approx(4.0, abs=1e-9)
    assert est.m_ == 1
    np.testing.assert_allclose(np.abs(est.V_[:, 0]), [0.0, 1.0], atol=1e-9)
    assert nmi(X[:, 1] > 0, est.labels_) == 1.0
    np.testing.assert_allclose(np.sort(est.cluster_centers_[:, 1]), [-3.0, 3.0])


@pytest.mark.slow
def test_real_mnist_test_split(real_data_dir, monkeypatch):
    """SubKmeans on raw MNIST-Test (10,000 x 784): a <= 9-dim cluster space and NMI well above chance."""
    import generators

    monkeypatch.setenv("NRBENCH_DATA", str(real_data_dir))
    ds = generators.get("mnist", split="test", progress=False)
    X = ds.X.reshape(len(ds.X), -1)[:3000]
    est = SubKmeans(10, n_init=1, max_iter=60, random_state=0, progress=False)
    est.fit(X)  # may warn that max_iter was reached; the cap keeps the test short
    assert 1 <= est.m_ <= 9
    assert nmi(ds.labels[:3000, 0], est.labels_) > 0.3


@pytest.mark.parametrize(
    ("X", "kwargs", "param"),
    [
        (np.array([[0.0, np.nan], [1.0, 2.0], [3.0, 1.0]]), {}, "X"),
        (np.array([[0.0, -np.inf], [1.0, 2.0], [3.0, 1.0]]), {}, "X"),
        (np.zeros((0, 3)), {}, "X"),
        (np.arange(6.0), {}, "X"),
        (np.arange(6.0)[:, None], {}, "X"),
        (np.random.default_rng(0).standard_normal((5, 3)), {"n_clusters": 6}, "n_clusters"),
        (np.random.default_rng(0).standard_normal((5, 3)), {"n_clusters": 1}, "n_clusters"),
        (np.random.default_rng(0).standard_normal((5, 3)), {"n_clusters": [2, 1]}, "n_clusters"),
        (np.random.default_rng(0).standard_normal((5, 3)), {"n_init": 0}, "n_init"),
        (np.random.default_rng(0).standard_normal((5, 3)), {"random_state": "seed"}, "random_state"),
        (np.random.default_rng(0).standard_normal((5, 3)), {"eig_tol": 2.0}, "eig_tol"),
    ],
)
def test_bad_input_raises_value_error_naming_parameter(X, kwargs, param):
    params = {"n_clusters": 2, "progress": False, **kwargs}
    with pytest.raises(ValueError, match=param):
        SubKmeans(**params).fit(X)


def test_equals_nrkmeans_with_a_noise_space(planted4):
    """SubKmeans is NrKmeans([k, 1]): same starts, same labels, cost and cluster space."""
    from baselines.nrkmeans import NrKmeans

    a = SubKmeans(4, n_init=2, random_state=9, progress=False).fit(planted4.X)
    b = NrKmeans([4, 1], n_init=2, random_state=9, progress=False).fit(planted4.X)
    np.testing.assert_array_equal(a.labels_, b.labels_[:, 0])
    assert a.loss_ == b.loss_ and [a.m_, planted4.X.shape[1] - a.m_] == b.m_
    np.testing.assert_array_equal(a.V_, b.V_)
