"""Orth1 / Orth2 (baselines/orth.py): two different clusterings, zero cluster means after projection, tiny case."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from baselines.orth import Orth1, Orth2, pca_fit
from baselines.scatter import cluster_means
from benchmark.metrics import nmi_matrix, variation_of_information
from generators.planted import make_planted

METHODS = [Orth1, Orth2]


@pytest.fixture(scope="module")
def planted33():
    return make_planted(n=600, n_clusters=(3, 3), dims_per_subspace=2, noise_dims=2, seed=0)


@pytest.fixture(scope="module")
def fitted(planted33):
    return {cls: cls([3, 3], random_state=0, progress=False).fit(planted33.X) for cls in METHODS}


@pytest.mark.parametrize("cls", METHODS)
def test_two_views_find_two_different_planted_clusterings(cls, planted33, fitted):
    est = fitted[cls]
    assert est.labels_.shape == (600, 2)
    M = nmi_matrix(planted33.labels, est.labels_)  # (truth, view)
    assert M[0].argmax() != M[1].argmax()
    assert np.all(M.max(1) >= 0.95)
    # the two views are far from redundant: VI close to H(3 balanced clusters) * 2 = 2 ln 3
    assert variation_of_information(est.labels_[:, 0], est.labels_[:, 1]) > 0.9 * 2 * np.log(3)


@pytest.mark.parametrize("cls", METHODS)
def test_every_cluster_mean_is_zero_after_the_projection(cls, planted33, fitted):
    est = fitted[cls]
    views = est.transform_views(planted33.X, est.labels_)
    assert len(views) == 3
    scale = np.abs(views[0]).max()
    for t in range(2):
        means, _ = cluster_means(views[t + 1], est.labels_[:, t], 3)
        assert np.abs(means).max() < 1e-10 * scale
        # the full-space centres stored are the means of the data entering the view
        np.testing.assert_allclose(cluster_means(views[t], est.labels_[:, t], 3)[0], est.cluster_centers_[t],
                                   atol=1e-10 * scale)
        # the global mean stays zero
        assert np.abs(views[t + 1].mean(0)).max() < 1e-10 * scale


def test_orth1_points_are_orthogonal_to_their_own_centre(planted33, fitted):
    est = fitted[Orth1]
    views = est.transform_views(planted33.X, est.labels_)
    for t in range(2):
        U = est.projections_[t][est.labels_[:, t]]
        assert np.abs(np.einsum("ij,ij->i", views[t + 1], U)).max() < 1e-10 * np.abs(views[t]).max()
        # a per-point rank-1 deflation: nothing orthogonal to the own centre changes
        R = views[t + 1] - views[t]
        assert np.abs(R - np.einsum("ij,ij->i", R, U)[:, None] * U).max() < 1e-10 * np.abs(views[t]).max()


def test_orth2_removes_the_centre_span_cumulatively(planted33, fitted):
    est = fitted[Orth2]
    views = est.transform_views(planted33.X, est.labels_)
    d = planted33.X.shape[1]
    ranks = [np.linalg.matrix_rank(v, tol=1e-8 * np.abs(v).max()) for v in views]
    assert ranks == [d, d - 2, d - 4]  # k - 1 = 2 dimensions removed per view
    A0 = est.projections_[0]
    assert np.abs(views[2] @ A0.T).max() < 1e-10 * np.abs(views[0]).max()  # still orthogonal to view 0's centres


@pytest.mark.parametrize("cls", METHODS)
def test_predict_replays_every_view(cls, planted33, fitted):
    est = fitted[cls]
    np.testing.assert_array_equal(est.predict(planted33.X), est.labels_)
    assert est.loss_ == pytest.approx(sum(est.view_losses_))


@pytest.mark.parametrize("cls", METHODS)
def test_deterministic_under_random_state(cls, planted33):
    a = cls([3, 3], n_init=2, random_state=4, progress=False).fit(planted33.X)
    b = cls([3, 3], n_init=2, random_state=4, progress=False).fit(planted33.X)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.loss_ == b.loss_


@pytest.mark.parametrize("cls", METHODS)
def test_exact_tiny_case(cls):
    """(+-3, +-1): view 1 splits by x (SSE 4), the projection leaves (0, +-1), view 2 splits by y (SSE 0)."""
    X = np.array([[3.0, 1.0], [3.0, -1.0], [-3.0, 1.0], [-3.0, -1.0]])
    est = cls([2, 2], explained_variance=1.0, n_init=3, random_state=0, progress=False).fit(X)
    assert est.n_components_ == [2, 2]
    assert est.view_losses_ == pytest.approx([4.0, 0.0], abs=1e-12)
    assert est.labels_[0, 0] == est.labels_[1, 0] != est.labels_[2, 0] == est.labels_[3, 0]
    assert est.labels_[0, 1] == est.labels_[2, 1] != est.labels_[1, 1] == est.labels_[3, 1]
    views = est.transform_views(X, est.labels_)
    np.testing.assert_allclose(views[1], [[0.0, 1.0], [0.0, -1.0], [0.0, 1.0], [0.0, -1.0]], atol=1e-12)
    np.testing.assert_allclose(views[2], 0.0, atol=1e-12)


def test_pca_keeps_the_fewest_components_over_the_target():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((500, 4)) * np.array([10.0, 3.0, 1.0, 0.1])  # variance ratios ~ .908 .082 .009 .0001
    mean, comps = pca_fit(X, 0.9)
    assert comps.shape == (1, 4)
    assert pca_fit(X, 0.95)[1].shape == (2, 4)
    np.testing.assert_allclose(np.abs(comps[0]), [1, 0, 0, 0], atol=0.05)  # sampling noise ~ 1e-2
    np.testing.assert_allclose(mean, X.mean(0))


def test_orth1_skips_a_centre_at_the_global_mean():
    """Three clusters at x = -5, 0, 5 (symmetric in y): the middle centre is the global mean, mu = 0."""
    base = np.array([[-5.0, 1.0], [-5.0, -1.0], [0.0, 1.0], [0.0, -1.0], [5.0, 1.0], [5.0, -1.0]])
    X = np.repeat(base, 5, axis=0)
    with pytest.warns(RuntimeWarning, match="global mean"):
        est = Orth1([3, 2], explained_variance=1.0, n_init=5, random_state=0, progress=False).fit(X)
    middle = est.labels_[X[:, 0] == 0, 0][0]
    np.testing.assert_array_equal(est.skipped_centres_[0], [middle])
    assert np.all(est.projections_[0][middle] == 0.0)
    assert np.all(np.isfinite(est.transform_views(X, est.labels_)[1]))


@pytest.mark.parametrize("cls", METHODS)
@pytest.mark.parametrize(
    ("X", "kwargs", "param"),
    [
        (np.array([[0.0, np.nan], [1.0, 2.0], [3.0, 1.0]]), {}, "X"),
        (np.array([[0.0, np.inf], [1.0, 2.0], [3.0, 1.0]]), {}, "X"),
        (np.zeros((0, 3)), {}, "X"),
        (np.arange(6.0), {}, "X"),
        (np.random.default_rng(0).standard_normal((5, 3)), {"n_clusters": [2, 6]}, "n_clusters"),
        (np.random.default_rng(0).standard_normal((5, 3)), {"n_clusters": [2, 1]}, "n_clusters"),
        (np.random.default_rng(0).standard_normal((5, 3)), {"n_clusters": 2}, "n_clusters"),
        (np.random.default_rng(0).standard_normal((5, 3)), {"explained_variance": 0.0}, "explained_variance"),
        (np.random.default_rng(0).standard_normal((5, 3)), {"explained_variance": 1.5}, "explained_variance"),
        (np.random.default_rng(0).standard_normal((5, 3)), {"explained_variance": "0.5"}, "explained_variance"),
        (np.random.default_rng(0).standard_normal((5, 3)), {"explained_variance": float("nan")}, "explained_variance"),
        (np.random.default_rng(0).standard_normal((5, 3)), {"n_init": 0}, "n_init"),
        (np.random.default_rng(0).standard_normal((5, 3)), {"random_state": "seed"}, "random_state"),
    ],
)
def test_bad_input_raises_value_error_naming_parameter(cls, X, kwargs, param):
    params = {"n_clusters": [2, 2], "progress": False, **kwargs}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=param):
            cls(**params).fit(X)


@pytest.mark.filterwarnings("ignore:Number of distinct clusters:sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("cls", [Orth1, Orth2])
def test_fewer_distinct_points_than_k_is_a_value_error(cls) -> None:
    # k-means left a cluster empty: Orth1 stored NaN centres and projections, Orth2 raised LinAlgError
    X = np.repeat(np.random.default_rng(0).normal(size=(2, 4)), 25, axis=0)
    with pytest.raises(ValueError, match=r"n_clusters\[0\] = 3: view 0 has only 2 distinct point\(s\)"):
        cls([3, 2], n_init=1, progress=False).fit(X)
    with pytest.raises(ValueError, match="only 1 distinct point"):
        cls([2, 2], n_init=1, progress=False).fit(np.ones((50, 4)))
