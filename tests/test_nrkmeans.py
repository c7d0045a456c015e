"""NrKmeans (baselines/nrkmeans.py): planted recovery, cost/orthogonality invariants, exact tiny cases, errors."""

from __future__ import annotations

import numpy as np
import pytest

from baselines.nrkmeans import NrKmeans, _reseed_empty, _rotate_pair
from benchmark.metrics import nmi, nmi_best_match
from generators.planted import make_planted


def _direct_cost(est: NrKmeans, X: np.ndarray) -> float:
    """J = sum_j sum_i ||P_j^T V^T (x_i - mu_{j, label})||^2, computed point by point (no scatter identities)."""
    X = np.asarray(X, dtype=np.float64)
    total = 0.0
    for s, cols in enumerate(est.P_):
        Vj = est.V_[:, cols]
        centres = est.cluster_centers_[s] if est.n_clusters_[s] > 1 else X.mean(0, keepdims=True)
        total += float(np.sum(((X - centres[est.labels_[:, s]]) @ Vj) ** 2))
    return total


@pytest.fixture(scope="module")
def planted33():
    return make_planted(n=600, n_clusters=(3, 3), dims_per_subspace=2, noise_dims=2, seed=0)


@pytest.fixture(scope="module")
def fitted33(planted33):
    return NrKmeans([3, 3, 1], n_init=10, random_state=0, progress=False).fit(planted33.X)


def test_recovers_two_planted_clusterings_with_noise_space(planted33, fitted33):
    est = fitted33
    assert est.labels_.shape == (600, 3)
    assert np.all(nmi_best_match(planted33.labels, est.labels_) >= 0.95)
    assert est.has_noise_space_ and np.all(est.labels_[:, 2] == 0)
    # 3 Gaussian clusters on a circle span 2 dims; the 2 noise dims end in the noise space
    assert est.m_ == [2, 2, 2]
    assert est.lost_subspaces_ == []


def test_recovers_three_planted_clusterings():
    ds = make_planted(n=600, n_clusters=(2, 2, 2), dims_per_subspace=1, noise_dims=1, seed=0)
    est = NrKmeans([2, 2, 2, 1], n_init=10, random_state=0, progress=False).fit(ds.X)
    assert np.all(nmi_best_match(ds.labels, est.labels_) >= 0.95)
    # each found clustering matches a different ground truth
    best = [max(range(3), key=lambda t: nmi(ds.labels[:, s], est.labels_[:, t])) for s in range(3)]
    assert sorted(best) == [0, 1, 2]


def test_cost_never_increases_and_V_stays_orthogonal(planted33, fitted33):
    est = fitted33
    h = np.asarray(est.cost_history_)
    assert len(h) == est.n_iter_ - 1 and est.converged_  # the last iteration only confirms convergence
    assert np.all(np.diff(h) <= 1e-10 * h[0])
    d = planted33.X.shape[1]
    assert np.abs(est.V_.T @ est.V_ - np.eye(d)).max() < 1e-8
    assert sum(est.m_) == d
    assert est.loss_ == pytest.approx(_direct_cost(est, planted33.X), rel=1e-9)
    assert est.loss_ == min(est.all_losses_) and len(est.all_losses_) == 10


def test_scatter_matrices_are_within_cluster_scatters(planted33, fitted33):
    est = fitted33
    X = planted33.X.astype(np.float64)
    for s in range(2):
        R = X - est.cluster_centers_[s][est.labels_[:, s]]
        np.testing.assert_allclose(est.scatter_matrices_[s], R.T @ R, rtol=1e-9, atol=1e-8)
    Xc = X - X.mean(0)
    np.testing.assert_allclose(est.scatter_matrices_[2], Xc.T @ Xc, rtol=1e-9, atol=1e-8)


def test_predict_reproduces_training_labels(planted33, fitted33):
    np.testing.assert_array_equal(fitted33.predict(planted33.X), fitted33.labels_)
    Z = fitted33.transform_subspace(planted33.X, 0)
    assert Z.shape == (600, fitted33.m_[0])


def test_deterministic_under_random_state(planted33):
    a = NrKmeans([3, 3, 1], n_init=3, random_state=7, progress=False).fit(planted33.X)
    b = NrKmeans([3, 3, 1], n_init=3, random_state=7, progress=False).fit(planted33.X)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.loss_ == b.loss_
    np.testing.assert_array_equal(a.V_, b.V_)


def test_parallel_starts_give_the_identical_result(planted33):
    """n_jobs only spreads the starts over processes: each start has its own child generator."""
    a = NrKmeans([3, 3, 1], n_init=6, random_state=7, progress=False).fit(planted33.X)
    b = NrKmeans([3, 3, 1], n_init=6, random_state=7, progress=False, n_jobs=2).fit(planted33.X)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.V_, b.V_)
    assert a.all_losses_ == b.all_losses_ and a.loss_ == b.loss_
    assert a.cost_history_ == b.cost_history_


def test_subspace_sizes_are_scale_invariant(planted33):
    """The relative eigenvalue tolerance: multiplying X by 255 changes neither labels nor m (BASELINES §2.4)."""
    a = NrKmeans([3, 3, 1], n_init=3, random_state=1, progress=False).fit(planted33.X)
    b = NrKmeans([3, 3, 1], n_init=3, random_state=1, progress=False).fit(planted33.X.astype(np.float64) * 255.0)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.m_ == b.m_
    assert b.loss_ == pytest.approx(a.loss_ * 255.0**2, rel=1e-8)


def test_exact_axis_aligned_tiny_case():
    """Four points (+-1, +-5), twice each: clustering 1 along x, clustering 2 along y, cost exactly 0."""
    X = np.array([[-1, -5], [-1, 5], [1, -5], [1, 5]] * 2, dtype=np.float64)
    est = NrKmeans([2, 2], n_init=5, random_state=0, progress=False).fit(X)
    assert est.loss_ == pytest.approx(0.0, abs=1e-9)
    assert est.m_ == [1, 1]
    assert np.allclose(np.abs(est.V_), np.eye(2)) or np.allclose(np.abs(est.V_), np.eye(2)[::-1])
    truth = np.stack([X[:, 0] > 0, X[:, 1] > 0], 1).astype(int)
    assert np.all(nmi_best_match(truth, est.labels_) == 1.0)
    for s in range(2):  # centres are the exact group means
        for c in range(2):
            np.testing.assert_allclose(est.cluster_centers_[s][c], X[est.labels_[:, s] == c].mean(0))


def test_empty_cluster_is_reseeded_with_farthest_point():
    Yj = np.array([[0.0], [1.0], [10.0], [0.5]])
    C = np.array([[0.0], [100.0], [200.0]])
    D = Yj @ (-2.0 * C.T) + (C * C).sum(1)
    lab = D.argmin(1)
    assert np.all(lab == 0)
    assert _reseed_empty(lab, D, Yj, 3) == 2
    # the farthest point (10) goes to cluster 1, the next farthest (1.0) to cluster 2
    np.testing.assert_array_equal(lab, [0, 2, 1, 0])
    assert np.all(np.bincount(lab, minlength=3) >= 1)


def test_pairwise_rotation_gives_negative_directions_to_first_subspace():
    """B^T(S_a - S_b)B = M_b^T M_b - M_a^T M_a: a gets the directions where its between scatter dominates."""
    V = np.eye(3)
    P = {0: np.array([0, 1]), 1: np.array([2])}
    Ma = np.array([[0.0, 3.0, 0.0], [0.0, -3.0, 0.0]])  # between scatter of a along e_2
    Mb = np.array([[2.0, 0.0, 0.0], [-2.0, 0.0, 0.0]])  # of b along e_1
    _rotate_pair(V, P, 0, 1, Ma, Mb, 1e-10)
    assert P[0].size == 1 and P[1].size == 2
    np.testing.assert_allclose(np.abs(V[:, P[0]][:, 0]), [0.0, 1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(V.T @ V, np.eye(3), atol=1e-12)


def test_low_rank_rotation_matches_direct_eigendecomposition():
    """The QR/compact-WY path (large pairs) spans the same negative eigenspace as a dense eigh."""
    rng = np.random.default_rng(0)
    d = 80
    V = np.linalg.qr(rng.standard_normal((d, d)))[0]
    P = {0: np.arange(0, 40), 1: np.arange(40, 80)}
    Ma, Mb = rng.standard_normal((4, d)), rng.standard_normal((3, d))
    S = Mb.T @ Mb - Ma.T @ Ma
    lam, Q = np.linalg.eigh(V.T @ S @ V)
    expected = V @ Q[:, lam < -1e-10 * np.abs(lam).max()]
    V2 = V.copy()
    _rotate_pair(V2, P, 0, 1, Ma, Mb, 1e-10)
    got = V2[:, P[0]]
    assert got.shape == expected.shape == (d, 4)
    np.testing.assert_allclose(got @ got.T, expected @ expected.T, atol=1e-10)
    np.testing.assert_allclose(V2.T @ V2, np.eye(d), atol=1e-12)


@pytest.mark.parametrize(
    ("X", "kwargs", "param"),
    [
        (np.array([[0.0, np.nan], [1.0, 2.0], [3.0, 1.0]]), {}, "X"),
        (np.array([[0.0, np.inf], [1.0, 2.0], [3.0, 1.0]]), {}, "X"),
        (np.zeros((0, 3)), {}, "X"),
        (np.arange(6.0), {}, "X"),
        (np.random.default_rng(0).standard_normal((5, 3)), {"n_clusters": [3, 6]}, "n_clusters"),
        (np.random.default_rng(0).standard_normal((5, 3)), {"n_clusters": [1, 2]}, "n_clusters"),
        (np.random.default_rng(0).standard_normal((5, 3)), {"n_clusters": [2, 2, 2, 2]}, "n_clusters"),
        (np.random.default_rng(0).standard_normal((5, 3)), {"n_clusters": [1]}, "n_clusters"),
        (np.random.default_rng(0).standard_normal((5, 3)), {"n_clusters": 3}, "n_clusters"),
        (np.random.default_rng(0).standard_normal((5, 3)), {"n_init": 0}, "n_init"),
        (np.random.default_rng(0).standard_normal((5, 3)), {"random_state": "seed"}, "random_state"),
        (np.random.default_rng(0).standard_normal((5, 3)), {"max_iter": 0}, "max_iter"),
        (np.random.default_rng(0).standard_normal((5, 3)), {"eig_tol": -1.0}, "eig_tol"),
        (np.random.default_rng(0).standard_normal((5, 3)), {"eig_tol": 1.0}, "eig_tol"),
        (np.random.default_rng(0).standard_normal((5, 3)), {"eig_tol": "1e-3"}, "eig_tol"),
        (np.random.default_rng(0).standard_normal((5, 3)), {"n_jobs": 0}, "n_jobs"),
        (np.random.default_rng(0).standard_normal((5, 3)), {"n_jobs": 1.5}, "n_jobs"),
    ],
)
def test_bad_input_raises_value_error_naming_parameter(X, kwargs, param):
    params = {"n_clusters": [2, 2], "progress": False, **kwargs}
    with pytest.raises(ValueError, match=param):
        NrKmeans(**params).fit(X)


def test_predict_rejects_wrong_width(planted33, fitted33):
    with pytest.raises(ValueError, match="features"):
        fitted33.predict(planted33.X[:, :3])


def test_lost_subspace_is_removed_reported_and_warned():
    """Two subspaces but one 1-D structure: both find the same split, S_0 - S_1 = 0, subspace 0 gets no dims."""
    rng = np.random.default_rng(0)
    X = np.concatenate([np.c_[rng.normal(-5, 1, 100), rng.normal(0, 0.1, 100)],
                        np.c_[rng.normal(5, 1, 100), rng.normal(0, 0.1, 100)]])
    with pytest.warns(RuntimeWarning, match="lost subspaces"):
        est = NrKmeans([2, 2], n_init=1, random_state=0, progress=False).fit(X)
    assert est.lost_subspaces_ == [0]
    assert est.subspace_indices_ == [1] and est.n_clusters_ == [2] and est.m_ == [2]
    assert est.labels_.shape == (200, 1)
    assert nmi(X[:, 0] > 0, est.labels_[:, 0]) == 1.0
    np.testing.assert_array_equal(est.predict(X), est.labels_)


def test_sklearn_estimator_api(planted33):
    from sklearn.base import clone

    est = NrKmeans([3, 3, 1], n_init=2, random_state=3, progress=False)
    assert clone(est).get_params() == est.get_params()
    labels = est.fit_predict(planted33.X)
    np.testing.assert_array_equal(labels, est.labels_)


def test_legacy_randomstate_is_accepted_and_reproducible(planted33):
    a = NrKmeans([3, 3, 1], n_init=2, random_state=np.random.RandomState(5), progress=False).fit(planted33.X)
    b = NrKmeans([3, 3, 1], n_init=2, random_state=np.random.RandomState(5), progress=False).fit(planted33.X)
    np.testing.assert_array_equal(a.labels_, b.labels_)
