"""DEC / IDEC: soft assignment and target distribution on tiny inputs, planted clusters, determinism, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone

from benchmark.metrics import nmi
from methods.base import DivergedError
from methods.dec import DEC, IDEC, kl_divergence, soft_assignment, target_distribution

FIT = dict(max_iter=200, batch_size=100, update_interval=20, device="cpu", progress=False)


def test_soft_assignment_exact_values() -> None:
    """DEC Eq. 1 with alpha = 1: q proportional to 1 / (1 + d^2)."""
    z = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    mu = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
    q = soft_assignment(z, mu, alpha=1.0)
    # point 0: d^2 = 0, 4 -> 1, 1/5 ; point 1: d^2 = 2, 2 -> equal
    torch.testing.assert_close(q, torch.tensor([[5 / 6, 1 / 6], [0.5, 0.5]]))
    # alpha = 3: kernel (1 + d^2/3)^-2
    q3 = soft_assignment(z[:1], mu, alpha=3.0)
    w = torch.tensor([1.0, (1 + 4 / 3) ** -2])
    torch.testing.assert_close(q3, (w / w.sum())[None])


def test_target_distribution_exact_values_and_sharpening() -> None:
    """DEC Eq. 3: p_ij proportional to q_ij^2 / f_j."""
    q = torch.tensor([[0.8, 0.2], [0.4, 0.6], [0.5, 0.5]])
    f = q.sum(0)
    w = q ** 2 / f
    torch.testing.assert_close(target_distribution(q), w / w.sum(1, keepdim=True))
    p = target_distribution(q)
    assert p[0, 0] > q[0, 0] and p[1, 1] > q[1, 1]  # confident assignments get sharper
    torch.testing.assert_close(p.sum(1), torch.ones(3))


def test_kl_divergence_exact() -> None:
    p = torch.tensor([[1.0, 0.0], [0.5, 0.5]])
    q = torch.tensor([[0.5, 0.5], [0.25, 0.75]])
    expected = (np.log(2) + 0.5 * np.log(2) + 0.5 * np.log(0.5 / 0.75)) / 2
    assert float(kl_divergence(p, q)) == pytest.approx(expected, rel=1e-6)
    assert float(kl_divergence(q, q)) == pytest.approx(0.0, abs=1e-7)


def test_dec_recovers_synth_clusters(synth2_ae) -> None:
    X, y, ae = synth2_ae
    m = DEC(4, ae, random_state=0, **FIT).fit(X)
    # measured: k-means init 0.805, DEC 1.000
    assert nmi(y, m.init_labels_) < 0.85
    assert nmi(y, m.labels_) > 0.95
    assert m.cluster_centers_.shape == (4, 4)
    proba = m.predict_proba(X)
    assert proba.shape == (600, 4)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(m.predict(X), m.labels_)
    assert set(m.loss_terms_) == {"kl"} and m.loss_ == pytest.approx(m.loss_terms_["kl"])
    assert m.transform(X).shape == (600, 4)
    # predict_proba uses the kernel the model was trained with, not a hyperparameter changed after fit
    m.set_params(alpha=50.0)
    np.testing.assert_array_equal(m.predict_proba(X), proba)


def test_idec_keeps_reconstruction_and_recovers_clusters(synth2_ae) -> None:
    X, y, ae = synth2_ae
    dec = DEC(4, ae, random_state=0, **FIT).fit(X)
    idec = IDEC(4, ae, random_state=0, **FIT).fit(X)
    # measured: IDEC 0.987 (gamma 0.1 keeps it close to the pretrained embedding)
    assert nmi(y, idec.labels_) > 0.85
    assert nmi(y, idec.labels_) >= nmi(y, idec.init_labels_)
    assert set(idec.loss_terms_) == {"kl", "reconstruction"}
    assert idec.loss_ == pytest.approx(idec.loss_terms_["reconstruction"] + 0.1 * idec.loss_terms_["kl"])
    with torch.no_grad():
        Xt = torch.from_numpy(X)
        rec_dec = float(((dec.autoencoder_(Xt) - Xt) ** 2).mean())
    # DEC drops the decoder, so its encoder drifts away from what the decoder can invert
    assert idec.loss_terms_["reconstruction"] < rec_dec
    assert idec.get_params()["gamma"] == 0.1


def test_deterministic_and_caller_network_untouched(synth2_ae) -> None:
    X, _, ae = synth2_ae
    before = {k: v.clone() for k, v in ae.state_dict().items()}
    a = IDEC(4, ae, random_state=4, **{**FIT, "max_iter": 40}).fit(X)
    b = clone(a).fit(X)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    assert a.loss_ == b.loss_
    assert all(torch.equal(before[k], v) for k, v in ae.state_dict().items())


@pytest.mark.parametrize("shape", [(1, 4), (2, 2), (4, 1)])
def test_idec_gives_the_same_fit_for_any_accepted_shape_of_flat_input(synth2_ae, shape) -> None:
    # X reshaped to (n, 1, 4) broadcast against the (n, 4) reconstruction: a wrong loss (116.9 for 0.77)
    # and other labels; (n, 2, 2) and (n, 4, 1) raised a RuntimeError
    X, _, ae = synth2_ae
    kw = {**FIT, "max_iter": 30}
    flat = IDEC(4, ae, random_state=1, **kw).fit(X)
    other = IDEC(4, ae, random_state=1, **kw).fit(X.reshape(-1, *shape))
    np.testing.assert_array_equal(flat.labels_, other.labels_)
    assert other.loss_terms_["reconstruction"] == pytest.approx(flat.loss_terms_["reconstruction"], rel=1e-6)


def test_tolerance_stops_at_a_target_update(synth2_ae) -> None:
    X, _, ae = synth2_ae
    m = DEC(4, ae, random_state=0, **{**FIT, "max_iter": 2000, "tol": 0.5}).fit(X)
    assert m.converged_ and m.n_iter_ == 20  # first comparison is at the second P update
    never = DEC(4, ae, random_state=0, **{**FIT, "max_iter": 50, "tol": None}).fit(X)
    assert not never.converged_ and never.n_iter_ == 50


def test_divergence_names_iteration(synth2_ae) -> None:
    X, _, ae = synth2_ae
    with pytest.raises(DivergedError, match=r"diverged at iteration \d+: kl=\S+, reconstruction=(inf|nan)"):
        IDEC(4, ae, random_state=0, lr=1e36, **FIT).fit(X)


@pytest.mark.parametrize("cls,kwargs,Xfun,match", [
    (DEC, {}, lambda X: (X * 10).astype(np.uint8), "uint8"),
    (DEC, {}, lambda X: np.full_like(X, np.inf), "NaN or inf"),
    (DEC, {}, lambda X: X.reshape(300, 8), "input shape"),
    (DEC, {"n_clusters": 0}, None, "n_clusters"),
    (DEC, {"alpha": 0}, None, "alpha"),
    (DEC, {"update_interval": 0}, None, "update_interval"),
    (DEC, {"autoencoder": "net"}, None, "autoencoder"),
    (IDEC, {"gamma": -0.1}, None, "gamma"),
    (IDEC, {"max_iter": -1}, None, "max_iter"),
])
def test_bad_input(synth2_ae, cls, kwargs, Xfun, match) -> None:
    X, _, ae = synth2_ae
    params = dict(n_clusters=4, autoencoder=ae, random_state=0, **FIT)
    params.update(kwargs)
    with pytest.raises(ValueError, match=match):
        cls(**params).fit(Xfun(X) if Xfun else X)


@pytest.mark.parametrize("name", ["DEC", "IDEC", "DCN", "AEKMeans", "ENRC", "ACeDeC"])
def test_deep_estimators_record_n_features_in(synth2_ae, name) -> None:
    import methods

    X, _, ae = synth2_ae
    k = [2, 2] if name == "ENRC" else 4
    kw = {} if name == "AEKMeans" else {"max_iter": 2, "progress": False}
    est = getattr(methods, name)(k, ae, random_state=0, device="cpu", **kw)
    assert est.fit(X.reshape(len(X), 1, 4)).n_features_in_ == 4  # features per sample, whatever the shape
    with pytest.raises(ValueError):  # a failed refit leaves nothing of the fit, n_features_in_ included
        est.fit(X[:, :3])
    assert not hasattr(est, "n_features_in_")
