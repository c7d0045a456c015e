"""ISAAC (baselines/isaac.py) with its KDE (baselines/kde.py) and EMh/MDL (baselines/emh.py)."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
import torch

from baselines import ISAAC
from baselines.emh import mdl_cost_bits
from baselines.kde import kde_log2_density, silverman_bandwidths
from benchmark.metrics import nmi_best_match
from generators.planted import make_planted


@pytest.fixture(scope="module")
def planted():
    return make_planted(n=400, n_clusters=[3, 3], dims_per_subspace=2, noise_dims=2, seed=0)


@pytest.fixture(scope="module")
def fitted(planted):
    # max_dims=None: the authors' algorithm on all 6 dims (the default would PCA-reduce to 5)
    return ISAAC(random_state=0, max_dims=None, progress=False).fit(planted.X)


@pytest.fixture(scope="module")
def planted16():
    """A small version of the benchmark embedding: views of 5, 3, 2 clusters in 4 dims each + 4 noise dims."""
    return make_planted(n=600, n_clusters=[5, 3, 2], dims_per_subspace=4, noise_dims=4, seed=0)


@pytest.fixture(scope="module")
def fitted16(planted16):
    with pytest.warns(RuntimeWarning, match="reduced by PCA from 16 to 5 dims"):
        return ISAAC(random_state=0, progress=False).fit(planted16.X)


def test_recovers_two_planted_views(planted, fitted):
    nmi = nmi_best_match(planted.labels, fitted.labels_)
    assert nmi.min() >= 0.9, nmi
    assert fitted.labels_.shape[0] == 400
    assert sum(fitted.m_) == planted.X.shape[1]
    assert len(fitted.m_) == fitted.labels_.shape[1] == len(fitted.n_clusters_)


def test_chosen_k_has_cost_not_above_its_neighbours(fitted):
    for costs, lab in zip(fitted.cost_path_, fitted.labels_.T):
        k = min(costs, key=costs.get)
        assert len(np.unique(lab)) <= k
        for nb in (k - 1, k + 1):
            if nb in costs:
                assert costs[k] <= costs[nb]
        ks = sorted(costs)
        # greedy stop: every k before the last one tried did not increase the cost
        assert all(costs[a] >= costs[b] for a, b in itertools.pairwise(ks[:-1]))


def test_best_isa_configuration_has_lowest_cost(fitted):
    assert fitted.isa_cost_ == pytest.approx(min(c for _, c in fitted.isa_path_))
    assert fitted.isa_path_[0][0] == [1] * 6


def test_noise_views_are_constant_columns(fitted):
    for s in range(fitted.labels_.shape[1]):
        const = len(np.unique(fitted.labels_[:, s])) == 1
        assert const == (s in fitted.noise_views_)


def test_isa_sources_reconstruct_from_projections(planted, fitted):
    X = planted.X.astype(np.float64)
    S = (X - fitted.mean_) @ fitted.W_.T
    for g, V in zip(fitted.subspaces_, fitted.V_):
        np.testing.assert_allclose((X - fitted.mean_) @ V, S[:, g], atol=1e-10)


# ----------------------------------------------------------------------------- max_dims (PCA)
def test_planted_16d_recovers_every_view_after_pca(planted16, fitted16):
    nmi = nmi_best_match(planted16.labels, fitted16.labels_)
    assert (nmi >= 0.9).sum() >= 2, nmi
    assert nmi.min() >= 0.9, nmi  # measured 1.00 / 1.00 / 1.00 at n = 600 and 3000


def test_pca_reduction_is_recorded(planted16, fitted16):
    P = fitted16.pca_components_
    assert P.shape == (5, 16)
    np.testing.assert_allclose(P @ P.T, np.eye(5), atol=1e-10)
    assert sum(fitted16.m_) == 5 and fitted16.isa_path_[0][0] == [1] * 5
    assert any("reduced by PCA from 16 to 5 dims" in s for s in fitted16.deviations_)
    # the 5 leading PCs hold the planted centres: variance (4 * 33 + 65) / (4 * 33 + 65 + 11) ~ 0.95
    assert 0.9 < fitted16.pca_variance_kept_ < 1.0
    # W_ maps the centred 16-d input to the sources
    X = planted16.X.astype(np.float64)
    assert fitted16.W_.shape == (5, 16)
    S = (X - fitted16.mean_) @ fitted16.W_.T
    for g, V in zip(fitted16.subspaces_, fitted16.V_):
        assert V.shape == (16, len(g))
        np.testing.assert_allclose((X - fitted16.mean_) @ V, S[:, g], atol=1e-10)


def test_no_reduction_at_or_below_max_dims(fitted):
    assert fitted.pca_components_ is None and fitted.pca_variance_kept_ == 1.0
    assert not any("PCA" in s for s in fitted.deviations_)
    X = make_planted(n=150, n_clusters=[3], dims_per_subspace=2, noise_dims=1, seed=2).X
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = ISAAC(random_state=0, n_init=2, max_clusters=4, tol=1e-6, progress=False).fit(X)
    assert not any("PCA" in str(w.message) for w in caught)  # 3-d input, default max_dims = 5
    assert m.pca_components_ is None and sum(m.m_) == 3


def test_deterministic_with_pca_reduction():
    X = make_planted(n=200, n_clusters=[3, 2], dims_per_subspace=3, noise_dims=2, seed=4).X
    kw = {"random_state": 1, "n_init": 3, "max_clusters": 4, "tol": 1e-6, "max_dims": 3, "progress": False}
    with pytest.warns(RuntimeWarning, match="reduced by PCA from 8 to 3 dims"):
        a = ISAAC(**kw).fit(X)
    with pytest.warns(RuntimeWarning, match="reduced by PCA"):
        b = ISAAC(**kw).fit(X)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.W_, b.W_)
    assert a.loss_ == b.loss_


@pytest.mark.parametrize("bad", [0, -1, 1.0, "2", False])
def test_bad_n_threads_raises(bad):
    with pytest.raises(ValueError, match="n_threads"):
        ISAAC(n_threads=bad, progress=False).fit(np.random.default_rng(0).standard_normal((20, 3)))


def test_thread_limit_is_restored_after_fit():
    original = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        X = make_planted(n=120, n_clusters=[2], dims_per_subspace=1, noise_dims=1, seed=5).X
        ISAAC(random_state=0, n_init=2, max_clusters=3, tol=1e-6, n_threads=1, progress=False).fit(X)
        assert torch.get_num_threads() == 2
        with pytest.raises(ValueError):
            ISAAC(max_clusters=500, n_threads=1, progress=False).fit(X)  # an error inside fit restores too
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(original)


@pytest.mark.parametrize("bad", [0, -2, 2.5, "5", True])
def test_bad_max_dims_raises(bad):
    with pytest.raises(ValueError, match="max_dims"):
        ISAAC(max_dims=bad, progress=False).fit(np.random.default_rng(0).standard_normal((20, 3)))


def test_deterministic_under_random_state():
    X = make_planted(n=200, n_clusters=[3, 3], dims_per_subspace=2, noise_dims=1, seed=3).X
    kw = {"random_state": 7, "n_init": 3, "max_clusters": 4, "tol": 1e-6, "progress": False}
    a, b = ISAAC(**kw).fit(X), ISAAC(**kw).fit(X)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.loss_ == b.loss_


@pytest.mark.parametrize("X, name", [
    (np.array([[0.0, 1.0], [np.nan, 2.0], [1.0, 1.0]]), "X"),
    (np.array([[0.0, 1.0], [np.inf, 2.0], [1.0, 1.0]]), "X"),
    (np.zeros((0, 3)), "X"),
    (np.arange(10.0), "X"),
])
def test_bad_input_raises(X, name):
    with pytest.raises(ValueError, match=name):
        ISAAC(progress=False).fit(X)


@pytest.mark.parametrize("name, bad", [("n_init", True), ("max_iter", False), ("max_clusters", 2.0),
                                       ("kde_n_reference", "100"), ("tol", float("inf")), ("tol", -1.0),
                                       ("random_state", "seed")])
def test_bad_parameters_name_themselves(name, bad):
    with pytest.raises(ValueError, match=name):
        ISAAC(progress=False, **{name: bad}).fit(np.random.default_rng(0).standard_normal((20, 3)))


def test_max_clusters_above_n_raises():
    with pytest.raises(ValueError, match="max_clusters"):
        ISAAC(max_clusters=10, progress=False).fit(np.random.default_rng(0).standard_normal((5, 2)))


# ----------------------------------------------------------------------------- KDE
def _mixture(n: int, d: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.standard_normal((n // 2, d)), 0.3 * rng.standard_normal((n - n // 2, d)) + 3])


def test_silverman_bandwidth_exact():
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    std = np.std(X, ddof=1)
    iqr = (2.25 - 0.75) / 1.34
    assert silverman_bandwidths(X)[0] == pytest.approx(0.9 * 4 ** (-1 / 5) * min(std, iqr))


def test_exact_kde_on_two_points():
    X = np.array([[0.0], [1.0]])
    h = np.array([0.5])
    logf, how = kde_log2_density(X, method="exact", h=h)
    phi = lambda z: math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    expected = math.log2(0.5 * (phi(0) + phi(2.0)) / 0.5)
    assert how == "exact"
    np.testing.assert_allclose(logf, [expected, expected], rtol=1e-12)


@pytest.mark.parametrize("d, max_abs", [(1, 1e-3), (2, 1e-2), (3, 0.1)])
def test_binned_kde_agrees_with_exact(d, max_abs):
    X = _mixture(2000, d)
    exact, _ = kde_log2_density(X, method="exact")
    binned, how = kde_log2_density(X, method="binned")
    assert how == "binned"
    assert np.abs(binned - exact).max() < max_abs
    assert abs(binned.sum() - exact.sum()) < 5e-3 * abs(exact.sum())


def test_reference_kde_is_close_to_exact_in_higher_dimension():
    X = _mixture(2000, 5)
    exact, _ = kde_log2_density(X, method="exact")
    approx, how = kde_log2_density(X, method="reference", n_reference=1000, rng=np.random.default_rng(0))
    assert how.startswith("reference")
    assert abs(approx.mean() - exact.mean()) < 0.05  # bits per point
    assert np.median(np.abs(approx - exact)) < 0.3


def test_auto_kde_uses_fast_path_above_bound_and_is_reported():
    X = _mixture(500, 2)
    _, how = kde_log2_density(X, exact_max_n=100)
    assert how == "binned"
    _, how = kde_log2_density(_mixture(500, 4), exact_max_n=100, n_reference=200)
    assert how == "reference(r=200)"


def test_isaac_reports_approximate_kde():
    ds = make_planted(n=300, n_clusters=[3], dims_per_subspace=2, noise_dims=0, seed=1)
    with pytest.warns(RuntimeWarning, match="approximately"):
        m = ISAAC(random_state=0, n_init=2, max_clusters=4, tol=1e-6, kde_exact_max_n=100,
                  progress=False).fit(ds.X)
    assert any("binned" in s for s in m.deviations_)
    assert "d=2:binned" in m.kde_methods_
    assert nmi_best_match(ds.labels, m.labels_)[0] >= 0.9


# ----------------------------------------------------------------------------- MDL
def test_mdl_cost_exact_on_tiny_input():
    Y = np.array([[0.0], [2.0], [10.0], [12.0]])
    lab = torch.tensor([[0, 0, 1, 1]])
    cost = float(mdl_cost_bits(torch.from_numpy(Y), lab, 2)[0])
    # each cluster: mean +-1 around its centre, ML std 1
    data = 2 * 2 * (0.5 * math.log2(2 * math.pi) + 0.5 / math.log(2))
    idc = 2 * 2 * math.log2(2)
    par = 2 * (1 + 3) / 4 * math.log2(2)
    assert cost == pytest.approx(data + idc + par, rel=1e-12)


def test_emh_gemm_steps_match_direct_gaussian_formulas():
    """The [1, y, y_i y_j] expansion gives the same log-densities and moments as the direct forms."""
    from scipy.stats import multivariate_normal

    from baselines.emh import RIDGE, _e_coefficients, _features, _m_step

    rng = np.random.default_rng(0)
    Y = torch.from_numpy(rng.standard_normal((50, 3)) * [1.0, 2.0, 0.5] + 4.0)
    F, iu0, iu1 = _features(Y)
    resp = torch.from_numpy(rng.dirichlet(np.ones(2), size=(50, 1)))  # (n, R=1, k=2)
    logw, means, covs = _m_step(F, resp, 3, iu0, iu1)
    y, r = Y.numpy(), resp.numpy()[:, 0]
    for c in range(2):
        w = r[:, c]
        mu = w @ y / w.sum()
        cov = (w[:, None] * (y - mu)).T @ (y - mu) / w.sum() + RIDGE * np.eye(3)
        np.testing.assert_allclose(means[0, c].numpy(), mu, rtol=1e-12)
        np.testing.assert_allclose(covs[0, c].numpy(), cov, rtol=1e-10, atol=1e-12)
        assert float(logw[0, c]) == pytest.approx(math.log(w.sum() / 50), rel=1e-12)
        logp = (F @ _e_coefficients(logw, means, covs, iu0, iu1)).numpy()[:, c]
        expected = math.log(w.sum() / 50) + multivariate_normal(mu, cov).logpdf(y)
        np.testing.assert_allclose(logp, expected, rtol=1e-10)


def test_too_few_samples_for_the_ica_is_a_value_error_naming_x() -> None:
    import numpy as np
    import pytest

    from baselines import ISAAC

    X = np.random.default_rng(0).normal(size=(8, 10))
    with pytest.raises(ValueError, match="X has 8 samples for 10 dimensions"):
        ISAAC(max_clusters=2, n_init=1, max_dims=None, progress=False).fit(X)
    with pytest.raises(ValueError, match="X has 4 samples for 5 dimensions"):
        ISAAC(max_clusters=2, n_init=1, progress=False).fit(X[:4, :5])


def test_rank_deficient_input_stops_when_no_merge_lowers_the_cost() -> None:
    """Rank-2 data in 8 dims (PCA keeps 5, three of them ~0): a merge gain of exactly 0.0 once looped forever."""
    import signal

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 2)) @ rng.normal(size=(2, 8))

    def too_long(signum, frame):  # pragma: no cover - only on the bug
        raise TimeoutError("ISAAC stage A did not stop")

    old = signal.signal(signal.SIGALRM, too_long)
    signal.alarm(60)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            est = ISAAC(max_clusters=3, n_init=2, max_iter=20, random_state=0, progress=False).fit(X)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert est.labels_.shape[0] == 120
    assert sum(est.m_) == 5


@pytest.mark.parametrize("X", [np.ones((60, 3)),
                               np.c_[np.random.default_rng(0).normal(size=(60, 2)), np.full(60, 2.0)]])
def test_constant_feature_is_a_value_error_naming_x(X) -> None:
    """A constant feature made FastICA's whitening return NaN ('array must not contain infs or NaNs')."""
    with pytest.raises(ValueError, match=r"X has constant feature\(s\) \[(0, 1, )?2\]"):
        ISAAC(max_clusters=2, n_init=1, random_state=0, progress=False).fit(X)


def test_exactly_singular_input_is_a_value_error_naming_x() -> None:
    """Three identical columns taking two values: the covariance has exact zero eigenvalues, FastICA's
    whitening divided by them and scipy raised "A has a NaN entry" from deep inside the ICA."""
    X = np.repeat([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]], 20, axis=0)
    with pytest.raises(ValueError, match=r"X is rank-deficient: ISAAC's ICA could not whiten its 3 features"):
        ISAAC(max_clusters=4, n_init=2, random_state=0, progress=False).fit(X)
