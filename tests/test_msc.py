"""mSC (baselines/msc.py) and the Stiefel-manifold step (baselines/stiefel.py)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from baselines import MSC
from baselines.stiefel import armijo_ascent_step, qr_retract, riemannian_grad
from benchmark.metrics import nmi_best_match
from generators.planted import make_planted


@pytest.fixture(scope="module")
def planted():
    return make_planted(n=400, n_clusters=[3, 3], dims_per_subspace=2, noise_dims=2, seed=0)


@pytest.fixture(scope="module")
def fitted(planted):
    return MSC(n_clusters=[3, 3], n_components=2, n_init=1, random_state=0, progress=False).fit(planted.X)


def test_exact_mode_recovers_two_planted_views(planted, fitted):
    assert fitted.approximation_ is None
    nmi = nmi_best_match(planted.labels, fitted.labels_)
    assert nmi.min() >= 0.9, nmi
    assert fitted.labels_.shape == (400, 2)


def test_projections_orthonormal(fitted):
    for W in fitted.W_:
        assert W.shape == (6, 2)
        np.testing.assert_allclose(W.T @ W, np.eye(2), atol=1e-8)
    for U in fitted.U_:
        np.testing.assert_allclose(U.T @ U, np.eye(U.shape[1]), atol=1e-8)


def test_objective_non_decreasing_over_w_steps(fitted):
    assert fitted.w_step_paths_ and any(len(p) > 1 for p in fitted.w_step_paths_)
    for path in fitted.w_step_paths_:
        assert all(b >= a for a, b in zip(path, path[1:])), path
    assert fitted.loss_ == -fitted.objective_


def test_objective_matches_naive_formula(planted, fitted):
    """spectral sum_v tr(U^T D^-1/2 K D^-1/2 U) - lambda sum_{v!=w} tr(K_v H K_w H)/(n-1)^2."""
    X = planted.X.astype(np.float64)
    n = X.shape[0]
    H = np.eye(n) - 1.0 / n
    Ks = []
    spec = 0.0
    for W, U, s in zip(fitted.W_, fitted.U_, fitted.sigma_):
        P = X @ W
        D2 = ((P[:, None, :] - P[None, :, :]) ** 2).sum(-1)
        K = np.exp(-D2 / (2 * s * s))
        dm = 1 / np.sqrt(K.sum(1))
        spec += np.trace(U.T @ (dm[:, None] * K * dm[None, :]) @ U)
        Ks.append(K)
    hsic = 2 * np.trace(Ks[0] @ H @ Ks[1] @ H) / (n - 1) ** 2
    assert fitted.spectral_term_ == pytest.approx(spec, rel=1e-9)
    assert fitted.hsic_term_ == pytest.approx(hsic, rel=1e-9)
    assert fitted.objective_ == pytest.approx(spec - fitted.lambda_ * hsic, rel=1e-9)


def test_landmark_mode_selected_above_bound_and_recovers_views():
    ds = make_planted(n=500, n_clusters=[3, 3], dims_per_subspace=2, noise_dims=2, seed=1)
    with pytest.warns(RuntimeWarning, match="approximate mode"):
        m = MSC(n_clusters=[3, 3], n_components=2, n_init=1, exact_max_n=200, n_landmarks=150,
                random_state=0, progress=False).fit(ds.X)
    assert m.approximation_ is not None and m.approximation_.startswith("nystrom")
    assert "m=150" in m.approximation_ and "exact_max_n=200" in m.approximation_
    assert nmi_best_match(ds.labels, m.labels_).min() >= 0.9
    for W in m.W_:
        np.testing.assert_allclose(W.T @ W, np.eye(2), atol=1e-8)
    for path in m.w_step_paths_:
        assert all(b >= a for a, b in zip(path, path[1:]))


def test_exact_below_bound_emits_no_warning():
    X = make_planted(n=60, n_clusters=[2, 2], dims_per_subspace=1, noise_dims=0, seed=0).X
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = MSC(n_clusters=[2, 2], n_components=1, n_init=1, max_iter=2, progress=False).fit(X)
    assert m.approximation_ is None


def test_deterministic_under_random_state():
    X = make_planted(n=150, n_clusters=[3, 2], dims_per_subspace=2, noise_dims=1, seed=2).X
    kw = dict(n_clusters=[3, 2], n_components=2, n_init=2, max_iter=4, random_state=5, progress=False)
    a, b = MSC(**kw).fit(X), MSC(**kw).fit(X)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.loss_ == b.loss_
    for Wa, Wb in zip(a.W_, b.W_):
        np.testing.assert_array_equal(Wa, Wb)


@pytest.mark.parametrize("X, match", [
    (np.array([[0.0, 1.0], [np.nan, 2.0], [1.0, 1.0]]), "X"),
    (np.array([[0.0, 1.0], [np.inf, 2.0], [1.0, 1.0]]), "X"),
    (np.zeros((0, 3)), "X"),
    (np.arange(10.0), "X"),
])
def test_bad_input_raises(X, match):
    with pytest.raises(ValueError, match=match):
        MSC(n_clusters=[2, 2], progress=False).fit(X)


@pytest.mark.parametrize("kw, match", [
    (dict(n_clusters=[2, 50]), "n_clusters"),
    (dict(n_clusters=[3]), "n_clusters"),
    (dict(n_clusters=[2, 2], n_components=9), "n_components"),
    (dict(n_clusters=[2, 2], mode="fast"), "mode"),
    (dict(n_clusters=[2, 2], lam=-1.0), "lam"),
    (dict(n_clusters=[2, 2], sigma="mean"), "sigma"),
    (dict(n_clusters=[2, 2], n_components=[2.7, 2]), "n_components"),  # never truncated to 2
    (dict(n_clusters=[2, 2], n_components=2.0), "n_components"),
    (dict(n_clusters=[2, 2], n_init=True), "n_init"),
    (dict(n_clusters=[2, 2], max_iter=False), "max_iter"),
    (dict(n_clusters=[2, 2], lam=True), "lam"),
    (dict(n_clusters=[2, 2], tol=float("inf")), "tol"),
    (dict(n_clusters=[2, 2], sigma=[1.0, float("nan")]), "sigma"),
    (dict(n_clusters=[2, 2], sigma=True), "sigma"),
    (dict(n_clusters=[2, 2], random_state="seed"), "random_state"),
])
def test_bad_parameters_raise(kw, match):
    X = np.random.default_rng(0).standard_normal((20, 4))
    with pytest.raises(ValueError, match=match):
        MSC(progress=False, **kw).fit(X)


# ----------------------------------------------------------------------------- Stiefel
def test_riemannian_gradient_is_tangent_and_retraction_orthonormal():
    g = torch.Generator().manual_seed(0)
    W = qr_retract(torch.randn(7, 3, generator=g, dtype=torch.float64))
    G = torch.randn(7, 3, generator=g, dtype=torch.float64)
    R = riemannian_grad(W, G)
    A = W.T @ R
    torch.testing.assert_close(A + A.T, torch.zeros(3, 3, dtype=torch.float64), atol=1e-12, rtol=0)
    W2 = qr_retract(W + 0.3 * R)
    torch.testing.assert_close(W2.T @ W2, torch.eye(3, dtype=torch.float64), atol=1e-12, rtol=0)


def test_armijo_ascent_finds_top_eigenspace():
    """max tr(W^T A W) over the Stiefel manifold = sum of the top-q eigenvalues of A."""
    A = torch.diag(torch.tensor([5.0, 3.0, 1.0, 0.5], dtype=torch.float64))
    g = torch.Generator().manual_seed(1)
    Ws = [qr_retract(torch.randn(4, 2, generator=g, dtype=torch.float64))]
    f = lambda V: torch.trace(V[0].T @ A @ V[0])
    tau, vals = None, []
    for _ in range(200):
        Ws, f0, f1, tau, ok, _ = armijo_ascent_step(f, Ws, None if tau is None else 2 * tau)
        vals.append(f1)
        assert f1 >= f0
        if not ok:
            break
    assert vals[-1] == pytest.approx(8.0, abs=1e-6)


def _trace_problem():
    A = torch.diag(torch.tensor([5.0, 3.0, 1.0, 0.5], dtype=torch.float64))
    g = torch.Generator().manual_seed(1)
    W0 = [qr_retract(torch.randn(4, 2, generator=g, dtype=torch.float64))]
    calls = []

    def f(V):
        calls.append(1)
        return torch.trace(V[0].T @ A @ V[0])

    return W0, f, calls


def test_armijo_passing_the_attached_value_saves_one_forward_per_step_with_the_same_steps():
    """value= reuses the accepted trial's graph: same iterates bit for bit, one f call fewer per step."""
    paths, n_calls = [], []
    for reuse in (False, True):
        Ws, f, calls = _trace_problem()
        tau, value, path = None, None, []
        for _ in range(10):
            Ws, f0, f1, tau, ok, value = armijo_ascent_step(f, Ws, None if tau is None else 2 * tau,
                                                            value if reuse else None)
            assert ok
            path.append((f0, f1, tau, Ws[0].detach().clone()))
        paths.append(path)
        n_calls.append(len(calls))
    for (a0, a1, at, aW), (b0, b1, bt, bW) in zip(*paths):
        assert (a0, a1, at) == (b0, b1, bt)
        assert torch.equal(aW, bW)
    assert n_calls[0] - n_calls[1] == 10 - 1  # the first step has no value to reuse


def test_armijo_value_without_its_leaves_is_refused():
    Ws, f, _ = _trace_problem()
    with pytest.raises(ValueError, match="leaf tensors"):
        armijo_ascent_step(f, Ws, None, f([W.clone().requires_grad_(True) for W in Ws]))


def test_neg_scaled_sq_dists_matches_the_definition():
    """-c ||p_i - z_j||^2 from one augmented product: exact on small integers, close on random data."""
    from baselines.msc import neg_scaled_sq_dists
    P = torch.tensor([[0.0, 0.0], [1.0, 2.0], [3.0, -1.0]], dtype=torch.float64)
    Z = torch.tensor([[1.0, 2.0], [0.0, 1.0]], dtype=torch.float64)
    expected = -0.5 * torch.tensor([[5.0, 1.0], [0.0, 2.0], [13.0, 13.0]], dtype=torch.float64)
    assert torch.equal(neg_scaled_sq_dists(P, Z, 0.5), expected)
    g = torch.Generator().manual_seed(0)
    P, Z = torch.randn(50, 4, generator=g), torch.randn(7, 4, generator=g)
    torch.testing.assert_close(neg_scaled_sq_dists(P, Z, 0.3), -0.3 * torch.cdist(P, Z) ** 2, atol=1e-5, rtol=1e-5)


def _block_affinity(sizes, seed=0):
    """D^-1/2 K D^-1/2 of a graph of len(sizes) disconnected cliques: eigenvalue 1 len(sizes) times, 0 else."""
    from scipy.linalg import block_diag
    K = block_diag(*[np.ones((s, s)) for s in sizes])
    d = K.sum(1)
    return K / np.sqrt(d)[:, None] / np.sqrt(d)[None, :], d


def test_top_eigenvectors_on_a_degenerate_top_eigenvalue():
    """Four components, k = 3: any 3 orthonormal vectors of the eigenvalue-1 space are a valid answer."""
    from baselines.msc import top_eigenvectors
    L, _ = _block_affinity([200, 300, 150, 250])
    U = top_eigenvectors(L, 3)
    assert U.shape == (900, 3)
    np.testing.assert_allclose(L @ U, U, atol=1e-10)
    np.testing.assert_allclose(U.T @ U, np.eye(3), atol=1e-10)


def test_top_eigenvectors_falls_back_to_the_dense_solver_with_a_warning(monkeypatch):
    """Lanczos above DENSE_EIGH_MAX_N; when it does not converge, the dense solver answers and says so."""
    from scipy.sparse.linalg import ArpackNoConvergence

    import baselines.msc as msc_module

    def no_convergence(*args, **kwargs):
        raise ArpackNoConvergence("ARPACK error -1: No convergence", np.zeros(0), np.zeros((0, 0)))

    L, d = _block_affinity([40, 60, 50])
    monkeypatch.setattr(msc_module, "DENSE_EIGH_MAX_N", 10)
    U_lanczos = msc_module.top_eigenvectors(L, 2, v0=np.sqrt(d))
    np.testing.assert_allclose(L @ U_lanczos, U_lanczos, atol=1e-8)
    monkeypatch.setattr(msc_module, "eigsh", no_convergence)
    with pytest.warns(RuntimeWarning, match="Lanczos did not converge"):
        U = msc_module.top_eigenvectors(L, 2, v0=np.sqrt(d))
    np.testing.assert_allclose(L @ U, U, atol=1e-10)


def test_fit_on_an_embedding_whose_views_fall_apart():
    """Regression: on this Stickfigures AE embedding (900 x 16; AE seed 0 of the enrc-table1 standard
    tier) the second view's affinity ends with six eigenvalues equal to 1.  Lanczos did not converge
    there and LAPACK's subset solver returned 0 of 3 eigenvectors, so every fit failed."""
    from pathlib import Path
    X = np.load(Path(__file__).parent / "data" / "msc_stickfigures_embedding.npz")["X"]
    m = MSC(n_clusters=[3, 3], n_init=1, max_iter=10, random_state=0, progress=False).fit(X)
    assert m.labels_.shape == (900, 2)
    assert [len(np.unique(col)) for col in m.labels_.T] == [3, 3]
    for U in m.U_:
        assert U.shape == (900, 3)
        np.testing.assert_allclose(U.T @ U, np.eye(3), atol=1e-8)


def test_fewer_samples_than_features_and_numpy_scalar_sigma() -> None:
    # the thin SVD of an 8 x 10 X has 8 rows: the PCA init indexed row 8 (IndexError);
    # np.float32 sigma passed the parameter check and then raised TypeError
    import numpy as np

    from baselines import MSC

    X = np.random.default_rng(0).normal(size=(8, 10))
    kw = dict(n_init=1, max_iter=2, w_steps=1, progress=False, random_state=0)
    assert MSC([2, 2], **kw).fit(X).labels_.shape == (8, 2)
    a = MSC([2, 2], sigma=np.float32(2.0), **kw).fit(X)
    b = MSC([2, 2], sigma=2.0, **kw).fit(X)
    np.testing.assert_array_equal(a.labels_, b.labels_)


def test_a_view_whose_reference_projection_is_constant_gets_a_data_scale_sigma() -> None:
    """Rank-1 data in 4 dims: view 1's PCA block (PCs 3-4) lies in the null space of the centred data.

    Its projection is constant up to rounding, so its median distance was ~2e-16 (not 0, which the
    old guard caught) and became the kernel width.  On rank-1 Gaussian data in 5 dims the kernel
    then underflowed to a zero degree and the U-step raised "array must not contain infs or NaNs".
    """
    rng = np.random.default_rng(0)
    t = np.r_[rng.normal(-3.0, 0.3, 30), rng.normal(3.0, 0.3, 30)]
    u = np.array([1.0, 2.0, -2.0, 4.0]) / 5.0
    X = t[:, None] * u[None, :]
    m = MSC([2, 2], n_init=1, max_iter=3, random_state=0, progress=False).fit(X)
    dists = np.sort(np.abs(t[:, None] - t[None, :])[np.triu_indices(60, 1)])
    scale = dists[(dists.size - 1) // 2]  # the (lower) median pairwise distance of the data, all along u
    assert m.sigma_[0] == pytest.approx(scale, rel=1e-9)  # view 0 holds u: the ordinary median rule
    assert m.sigma_[1] == pytest.approx(scale, rel=1e-9)  # view 1: the unprojected data's median, not ~1e-16
    assert np.isfinite(m.objective_)
    assert nmi_best_match((t > 0)[:, None].astype(int), m.labels_[:, :1])[0] == 1.0
    rng = np.random.default_rng(0)
    R = rng.standard_normal((40, 1)) @ rng.standard_normal((1, 5))
    m = MSC([2, 2], n_init=2, max_iter=3, random_state=0, progress=False).fit(R)
    assert np.isfinite(m.objective_) and min(m.sigma_) > 1e-3 * max(m.sigma_)


def test_fewer_samples_than_the_pca_blocks_need() -> None:
    """3 points in 5 dims: the second view's PCA block is in the null space; its self-HSIC came out
    slightly negative by rounding and sqrt() raised "math domain error" when scaling lambda."""
    X = np.random.default_rng(305).standard_normal((3, 5))
    m = MSC([2, 2], n_init=2, max_iter=3, random_state=0, progress=False).fit(X)
    assert m.labels_.shape == (3, 2)
    assert np.isfinite(m.objective_) and np.isfinite(m.lambda_) and m.lambda_ >= 0
