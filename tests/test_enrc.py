"""ENRC (methods/enrc.py): planted structure recovered, invariants, determinism, bad input, GPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ae_training import train_locally
from sklearn.exceptions import NotFittedError

from benchmark.metrics import nmi_best_match
from generators.planted import make_planted
from generators.preprocessing import apply
from methods.autoencoders import FeedforwardAutoencoder, LinearAutoencoder
from methods.base import DivergedError, LossGrowthGuard, encode_all
from methods.clustering_layer import orthogonality_error
from methods.enrc import ENRC

FAST = dict(batch_size=64, progress=False)


def _train_ae(make, X: np.ndarray, steps: int, lr: float, seed: int = 0) -> torch.nn.Module:
    """A tiny local pretraining loop (MSE, Adam) so the tests do not depend on the pretrain cache."""
    torch.manual_seed(seed)  # layer initialisation uses torch's global RNG: seed it for reproducible tests
    return train_locally(make(), X, steps, lr, 64, seed)


@pytest.fixture(scope="module")
def stick():
    """Generated stickfigures (270 images, upper x lower body) with a small pretrained FC autoencoder."""
    from generators.stickfigures import build_stickfigures

    ds = build_stickfigures(n_per_combination=30, seed=0, progress=False)
    X = apply(ds.X, ["scale01", "zscore"])
    ae = _train_ae(lambda: FeedforwardAutoencoder(X.shape[1:], embedding_dim=8, hidden=(64,)), X, 400, 1e-3)
    return ds, X, ae


@pytest.fixture(scope="module")
def planted():
    """Two planted 3-cluster views in 2 dims each + 2 noise dims, rotated; a linear AE."""
    ds = make_planted(n=240, n_clusters=(3, 3), dims_per_subspace=2, noise_dims=2, separation=8.0, seed=1)
    ae = _train_ae(lambda: LinearAutoencoder(ds.X.shape[1]), ds.X, 200, 1e-2)
    return ds, ae


@pytest.fixture(scope="module")
def stick_fit(stick):
    _ds, X, ae = stick
    return ENRC([3, 3], ae, max_iter=600, init_rounds=10, init_max_iter=50, random_state=0, **FAST).fit(X)


def test_recovers_both_stickfigure_clusterings(stick, stick_fit):
    ds, X, _ = stick
    nmi = nmi_best_match(ds.labels, stick_fit.labels_)
    assert nmi.min() >= 0.95, nmi
    # the two found clusterings are non-redundant: they are matched to different views
    assert stick_fit.labels_.shape == (len(X), 2)


def test_fitted_attributes_and_invariants(stick, stick_fit):
    _ds, X, ae = stick
    m = stick_fit
    D = ae.embedding_dim
    assert m.betas_.shape == m.betas_init_.shape == (2, D)
    np.testing.assert_allclose(m.betas_.sum(0), 1.0, atol=1e-5)  # Eq. (3)
    np.testing.assert_allclose(m.betas_init_.sum(0), 1.0, atol=1e-5)
    assert (m.betas_ >= 0).all()
    assert m.V_.shape == m.V_init_.shape == (D, D)
    assert [c.shape for c in m.cluster_centers_] == [(3, D), (3, D)]
    # no centre is left empty on the data
    for s in range(2):
        assert np.bincount(m.labels_[:, s], minlength=3).min() > 0
    assert np.isfinite(m.loss_) and m.loss_ == pytest.approx(sum(m.loss_terms_.values()))
    assert m.n_iter_ == 600
    assert len(m.init_losses_) == 10 and m.init_loss_ == pytest.approx(m.init_losses_.min())
    # predict reproduces ENRC's own assignment; transform is V^T enc(x)
    np.testing.assert_array_equal(m.predict(X), m.labels_)
    Zr = m.transform(X)
    np.testing.assert_allclose(Zr, encode_all(m.autoencoder_, X) @ m.V_, rtol=1e-4, atol=1e-4)
    imgs = m.decode_centers()
    assert [im.shape for im in imgs] == [(3, 1, 20, 20), (3, 1, 20, 20)]


def test_caller_autoencoder_not_mutated(planted):
    ds, ae = planted
    before = {k: v.clone() for k, v in ae.state_dict().items()}
    m = ENRC([3, 3], ae, max_iter=20, init_rounds=1, init_max_iter=10, random_state=0, **FAST).fit(ds.X)
    for k, v in ae.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert m.autoencoder_ is not ae


@pytest.fixture(scope="module")
def planted_fit(planted):
    ds, ae = planted
    return ENRC([3, 3], ae, max_iter=150, init_rounds=5, init_max_iter=200, random_state=0, **FAST).fit(ds.X)


def test_planted_views_recovered_and_v_near_orthogonal_after_init(planted, planted_fit):
    ds, _ae = planted
    m = planted_fit
    assert nmi_best_match(ds.labels, m.labels_).min() >= 0.95
    # Eq. (8) keeps V from degenerating during the init phase: V^T V ~ I (L_comp shrinks it a little)
    sv = np.linalg.svd(m.V_init_, compute_uv=False)
    assert sv.min() > 0.7 and sv.max() < 1.1, sv
    assert orthogonality_error(torch.as_tensor(m.V_init_)) < 0.7


def test_sgd_init_recovers_planted_views_and_keeps_v_near_orthogonal(planted):
    """§2.6 as printed: random orthogonal V, then Adam on L_comp + L_orth; Eq. (8) stops V degenerating."""
    ds, ae = planted
    m = ENRC([3, 3], ae, init="sgd", max_iter=150, init_rounds=5, init_max_iter=200, random_state=0,
             **FAST).fit(ds.X)
    assert nmi_best_match(ds.labels, m.labels_).min() >= 0.95
    sv = np.linalg.svd(m.V_init_, compute_uv=False)
    assert sv.min() > 0.7 and sv.max() < 1.1, sv
    assert orthogonality_error(torch.as_tensor(m.V_init_)) < 0.7
    assert len(m.init_losses_) == 5 and m.init_loss_ == pytest.approx(m.init_losses_.min())


def test_nrkmeans_init_is_nrkmeans_on_the_embedding(planted):
    """init="nrkmeans": V is NrKmeans's rotation (exactly orthogonal), beta 0.9 on each clustering's subspace,
    and the assignments before the joint phase already recover the planted views."""
    ds, ae = planted
    m = ENRC([3, 3], ae, init="nrkmeans", max_iter=0, init_rounds=4, init_max_iter=50, random_state=0,
             **FAST).fit(ds.X)
    assert orthogonality_error(torch.as_tensor(m.V_init_)) < 1e-5
    b = m.betas_init_
    np.testing.assert_allclose(b.sum(0), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.sort(b.ravel()), np.repeat([0.1, 0.9], b.size // 2), atol=1e-6)
    assert (b[0] > 0.5).sum() >= 1 and (b[1] > 0.5).sum() >= 1  # every clustering owns a subspace
    assert nmi_best_match(ds.labels, m.labels_init_).min() >= 0.95
    assert len(m.init_losses_) == 4 and m.init_loss_ == pytest.approx(m.init_losses_.min())
    # max_iter=0: no joint phase, the published labels are the init's
    np.testing.assert_array_equal(m.labels_, m.labels_init_)


def test_nrkmeans_init_centres_are_the_cluster_means_and_empty_clusters_raise(planted, monkeypatch):
    """The init's centres are NrKmeans's own centres in the rotated space (the cluster means), and an
    empty NrKmeans cluster (an invariant NrKmeans keeps by re-seeding) is an error, never a random centre."""
    import baselines.nrkmeans as nrk

    ds, ae = planted
    m = ENRC([3, 3], ae, init="nrkmeans", max_iter=0, init_rounds=2, init_max_iter=50, random_state=0,
             **FAST)
    Z = encode_all(ae, ds.X.astype(np.float32), torch.device("cpu"))
    layer = m._initialize(ae, ds.X, Z, np.random.default_rng(0), torch.Generator(), torch.device("cpu"))
    nr = nrk.NrKmeans([3, 3], n_init=2, max_iter=50, random_state=int(np.random.default_rng(0).integers(2**31)),
                      progress=False).fit(Z.astype(np.float64))
    want = np.concatenate([c @ nr.V_ for c in nr.cluster_centers_])
    np.testing.assert_allclose(layer.centers.detach().numpy(), want, atol=1e-4)

    real_fit = nrk.NrKmeans.fit

    def fit_with_empty_cluster(self, X, y=None):
        real_fit(self, X, y)
        self.labels_[:, 1][self.labels_[:, 1] == 2] = 0  # cluster 2 of clustering 1 left empty
        return self

    monkeypatch.setattr(nrk.NrKmeans, "fit", fit_with_empty_cluster)
    with pytest.raises(RuntimeError, match=r"empty cluster\(s\) \[2\] in clustering 1"):
        m.fit(ds.X)


def test_unknown_init_is_a_value_error(planted):
    ds, ae = planted
    with pytest.raises(ValueError, match="init must be one of"):
        ENRC([3, 3], ae, init="random", max_iter=1, **FAST).fit(ds.X)


def test_deterministic_under_seed(planted, planted_fit):
    ds, ae = planted
    b = ENRC([3, 3], ae, max_iter=150, init_rounds=5, init_max_iter=200, random_state=0, **FAST).fit(ds.X)
    np.testing.assert_array_equal(planted_fit.labels_, b.labels_)
    np.testing.assert_array_equal(planted_fit.betas_, b.betas_)
    assert planted_fit.loss_ == b.loss_
    cheap = dict(max_iter=0, init_rounds=2, init_max_iter=10, **FAST)
    c0 = ENRC([3, 3], ae, random_state=0, **cheap).fit(ds.X)
    c1 = ENRC([3, 3], ae, random_state=1, **cheap).fit(ds.X)
    assert not np.array_equal(c0.init_losses_, c1.init_losses_)  # the seed is honoured
    c0_par = ENRC([3, 3], ae, random_state=0, n_jobs=2, **cheap).fit(ds.X)  # init starts in 2 processes
    np.testing.assert_array_equal(c0.init_losses_, c0_par.init_losses_)
    np.testing.assert_array_equal(c0.labels_init_, c0_par.labels_init_)
    np.testing.assert_array_equal(c0.V_, c0_par.V_)


def test_single_clustering_and_three_clusterings(planted):
    ds, ae = planted
    m = ENRC([3], ae, max_iter=10, init_rounds=1, init_max_iter=5, random_state=0, **FAST).fit(ds.X)
    assert m.labels_.shape == (len(ds.X), 1) and m.betas_.shape == (1, ae.embedding_dim)
    np.testing.assert_allclose(m.betas_, 1.0)
    m3 = ENRC([3, 3, 2], ae, max_iter=10, init_rounds=1, init_max_iter=5, random_state=0, **FAST).fit(ds.X)
    assert m3.labels_.shape == (len(ds.X), 3)
    np.testing.assert_allclose(m3.betas_.sum(0), 1.0, atol=1e-5)


@pytest.mark.parametrize("n_clusters, match", [
    ([], "n_clusters"),
    (3, "n_clusters"),
    ([3, 0], "n_clusters"),
    ([2] * 7, "n_clusters: 7 clusterings"),  # 6-d embedding
    ([300, 2], "n_clusters: 300 clusters exceed"),
    ([1], r"at least one clustering with k >= 2"),
    ([1, 2], r"n_clusters\[0\] = 1: the noise space \(k = 1\) must be the last entry"),
])
@pytest.mark.parametrize("init", ["nrkmeans", "sgd"])
def test_bad_n_clusters(planted, n_clusters, match, init):
    # the k = 1 rules held only for the NrKmeans init; init="sgd" fitted [1] with every label 0
    ds, ae = planted
    with pytest.raises(ValueError, match=match):
        ENRC(n_clusters, ae, **{**FAST, "init": init}).fit(ds.X)


def test_bad_input(planted):
    ds, ae = planted
    X = ds.X.copy()
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        ENRC([3, 3], ae, **FAST).fit(X)
    with pytest.raises(ValueError, match="uint8"):
        ENRC([3, 3], ae, **FAST).fit(np.zeros((20, 6), np.uint8))
    with pytest.raises(ValueError, match="autoencoder"):
        ENRC([3, 3], ae, **FAST).fit(np.zeros((20, 5), np.float32))
    with pytest.raises(ValueError, match="autoencoder must be"):
        ENRC([3, 3], None, **FAST).fit(ds.X)
    for name, val in [("batch_size", 0), ("lr", -1.0), ("alpha", 1.5), ("init_rounds", 0), ("tol", 2.0),
                      ("rec_weight", -1.0), ("divergence_factor", 1.0), ("rec_weight", float("nan")),
                      ("lr", float("inf")), ("beta_lr", True), ("alpha", "0.3"), ("alpha", None),
                      ("random_state", "abc"), ("device", "gpu0"), ("reinit", "no"), ("random_state", -1),
                      ("max_iter", -1)]:
        with pytest.raises(ValueError, match=name):
            ENRC([3, 3], ae, **{**FAST, name: val}).fit(ds.X)
    with pytest.raises(ValueError, match="max_iter must be a non-negative integer"):  # 0 is allowed
        ENRC([3, 3], ae, **{**FAST, "max_iter": -1}).fit(ds.X)
    with pytest.raises(NotFittedError, match="not fitted"):
        ENRC([3, 3], ae).predict(ds.X)


def test_diverging_loss_stops_with_iteration_and_terms(planted):
    ds, ae = planted
    bad = LinearAutoencoder(ae.input_shape)
    bad.load_state_dict(ae.state_dict())
    with torch.no_grad():
        bad.decoder.bias[0] = float("nan")  # L_rec is NaN from the first joint step
    with pytest.raises(DivergedError, match=r"iteration 1: L_comp=[-0-9.e+]+, L_rec=nan"):
        ENRC([3, 3], bad, max_iter=5, init_rounds=1, init_max_iter=5, random_state=0, **FAST).fit(ds.X)


def test_exploding_finite_loss_raises_instead_of_returning_labels(planted):
    """A run whose loss runs away while staying finite must raise, naming iteration and terms.

    The learning rate triples every step (StepLR(1, 3)), so the joint phase runs away; the initialisation
    (its own fixed rates) is unaffected."""
    ds, ae = planted
    with pytest.raises(DivergedError, match=r"diverged at iteration \d+: L_comp=\S+, L_rec=\S+ "
                                            r"\(total \S+ > 1000 x initial loss \S+\)"):
        ENRC([3, 3], ae, lr_step=1, lr_gamma=3.0, max_iter=30, init_rounds=1, init_max_iter=5, random_state=0,
             **FAST).fit(ds.X)
    # the same run with the check switched off returns finite but meaningless results: that is what the guard stops
    m = ENRC([3, 3], ae, lr_step=1, lr_gamma=3.0, max_iter=30, init_rounds=1, init_max_iter=5, random_state=0,
             divergence_factor=None, **FAST).fit(ds.X)
    assert m.loss_ > 1e3 * sum(m.loss_terms_start_.values())


def test_a_diverged_fit_leaves_nothing_to_predict_with(planted):
    """After DivergedError no labels, network or layer remain, not even those of an earlier good fit."""
    ds, ae = planted
    m = ENRC([3, 3], ae, max_iter=30, init_rounds=1, init_max_iter=5, random_state=0, **FAST).fit(ds.X)
    assert m.labels_.shape == (len(ds.X), 2)
    m.set_params(lr_step=1, lr_gamma=3.0)
    with pytest.raises(DivergedError):
        m.fit(ds.X)
    fitted = [k for k in vars(m) if k.endswith("_") and not k.startswith("_")]
    assert fitted == []
    with pytest.raises(NotFittedError, match="not fitted"):
        m.predict(ds.X)


def test_loss_growth_guard_exact():
    g = LossGrowthGuard(factor=10.0, window=2)
    g.check(1, {"a": 1.0, "b": 2.0})
    g.check(2, {"a": 1.0, "b": 0.0})  # reference = mean(3, 1) = 2
    assert g.reference == 2.0
    g.check(3, {"a": 19.0, "b": 1.0})  # 20 = 10 x 2 is not above the bound
    with pytest.raises(DivergedError, match=r"iteration 4: a=20, b=0.5 \(total 20.5 > 10 x initial loss 2\)"):
        g.check(4, {"a": 20.0, "b": 0.5})
    LossGrowthGuard(factor=None).check(1, {"a": float("1e30")})  # disabled: never raises
    with pytest.raises(ValueError, match="divergence_factor"):
        LossGrowthGuard(factor=0.5)


def test_early_stop_with_tol(planted):
    ds, ae = planted
    m = ENRC([3, 3], ae, max_iter=2000, tol=0.01, init_rounds=2, init_max_iter=30, random_state=0,
             **FAST).fit(ds.X)
    assert m.converged_ and m.n_iter_ < 2000
    assert m.n_iter_ % (len(ds.X) // 64) == 0


def test_sklearn_api(planted):
    _ds, ae = planted
    m = ENRC([3, 3], ae, lr=1e-3)
    assert m.get_params()["lr"] == 1e-3
    assert m.set_params(lr=2e-3) is m and m.lr == 2e-3
    assert not hasattr(m, "labels_")  # the constructor only stores


@pytest.mark.gpu
def test_gpu_matches_cpu_quality(planted):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine")
    ds, ae = planted
    m = ENRC([3, 3], ae, max_iter=150, init_rounds=5, init_max_iter=200, random_state=0, device="cuda",
             **FAST).fit(ds.X)
    assert m.clustering_layer_.V.device.type == "cuda"
    assert nmi_best_match(ds.labels, m.labels_).min() >= 0.95
