"""DCN: planted clusters recovered, exact loss on a frozen run, determinism, early stop, +Aug, bad input, GPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from benchmark.metrics import nmi
from methods.base import DivergedError, encode_all
from methods.dcn import DCN

FIT = dict(max_iter=200, batch_size=100, device="cpu", progress=False)


def test_recovers_synth_clusters_and_improves_on_its_kmeans_init(synth2_ae) -> None:
    X, y, ae = synth2_ae
    m = DCN(4, ae, lambda_=1.0, random_state=0, **FIT).fit(X)
    # measured: k-means on the pretrained embedding 0.805, DCN 1.000
    assert nmi(y, m.init_labels_) < 0.85
    assert nmi(y, m.labels_) > 0.95
    assert m.labels_.shape == (600,) and m.labels_.dtype == np.int64
    assert m.cluster_centers_.shape == (4, 4)
    assert m.n_iter_ == 200 and not m.converged_
    np.testing.assert_array_equal(m.predict(X), m.labels_)
    Z = m.transform(X)
    assert Z.shape == (600, 4)
    np.testing.assert_array_equal(((Z[:, None] - m.cluster_centers_[None]) ** 2).sum(-1).argmin(1), m.labels_)


def test_zero_iterations_is_kmeans_on_embedding_with_exact_loss(synth2_ae) -> None:
    X, _, ae = synth2_ae
    lam = 0.7
    m = DCN(4, ae, lambda_=lam, random_state=3, **{**FIT, "max_iter": 0}).fit(X)
    Z = encode_all(ae, X).astype(np.float64)
    seed = int(np.random.default_rng(3).integers(2**31 - 1))
    km = KMeans(4, n_init=10, random_state=seed).fit(Z.astype(np.float32))
    np.testing.assert_array_equal(m.labels_, km.labels_)
    np.testing.assert_allclose(m.cluster_centers_, km.cluster_centers_, rtol=1e-6)
    comp = ((Z - m.cluster_centers_[m.labels_]) ** 2).sum(1).mean()
    with torch.no_grad():
        rec = float(((ae(torch.from_numpy(X)) - torch.from_numpy(X)) ** 2).sum(1).mean())
    assert m.loss_terms_["compression"] == pytest.approx(comp, rel=1e-5)
    assert m.loss_terms_["reconstruction"] == pytest.approx(rec, rel=1e-5)
    assert m.loss_ == pytest.approx(lam / 2 * comp + rec, rel=1e-6)


def test_deterministic_and_caller_network_untouched(synth2_ae) -> None:
    X, _, ae = synth2_ae
    before = {k: v.clone() for k, v in ae.state_dict().items()}
    a = DCN(4, ae, random_state=5, **{**FIT, "max_iter": 60}).fit(X)
    b = clone(a).fit(X)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    assert a.loss_ == b.loss_
    assert all(torch.equal(before[k], v) for k, v in ae.state_dict().items())
    assert a.autoencoder_ is not ae
    assert not all(torch.equal(before[k], v) for k, v in a.autoencoder_.state_dict().items())


def test_lambda_trades_compression_for_reconstruction(synth2_ae) -> None:
    X, _, ae = synth2_ae
    kw = {**FIT, "max_iter": 100}
    lo = DCN(4, ae, lambda_=0.1, random_state=0, **kw).fit(X)
    hi = DCN(4, ae, lambda_=10.0, random_state=0, **kw).fit(X)
    assert hi.loss_terms_["compression"] < 0.5 * lo.loss_terms_["compression"]
    assert hi.loss_terms_["reconstruction"] > lo.loss_terms_["reconstruction"]


def test_tolerance_stops_early(synth2_ae) -> None:
    X, _, ae = synth2_ae
    m = DCN(4, ae, random_state=0, tol=0.5, **{**FIT, "max_iter": 1000}).fit(X)
    assert m.converged_ and m.n_iter_ == 6  # checked every epoch = 600 // 100 iterations


def test_identity_augmentation_matches_plain_run(synth2_ae) -> None:
    X, _, ae = synth2_ae
    kw = {**FIT, "max_iter": 30}
    plain = DCN(4, ae, random_state=2, **kw).fit(X)
    ident = DCN(4, ae, random_state=2, augmentation=lambda x: x.clone(), **kw).fit(X)
    np.testing.assert_array_equal(plain.labels_, ident.labels_)
    np.testing.assert_allclose(plain.cluster_centers_, ident.cluster_centers_, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="augmentation must keep the batch shape"):
        DCN(4, ae, random_state=2, augmentation=lambda x: x[:, :2], **kw).fit(X)


def test_a_refit_with_a_seeded_augmenter_gives_the_same_labels(synth2_ae) -> None:
    # fit used to advance the Augmenter's own generator (a hyperparameter): a refit drew other augmentations
    from methods.augment import Augmenter

    X, _, ae = synth2_ae
    aug = Augmenter(seed=0, image_shape=(1, 2, 2))
    state = aug.generator.get_state().clone()
    m = DCN(4, ae, random_state=0, augmentation=aug, **{**FIT, "max_iter": 30})
    first = m.fit(X).labels_.copy(), m.loss_
    assert torch.equal(aug.generator.get_state(), state)  # the hyperparameter is left as it was
    np.testing.assert_array_equal(m.fit(X).labels_, first[0])
    assert m.loss_ == first[1] and clone(m).fit(X).loss_ == first[1]


def test_divergence_names_iteration_and_terms(synth2_ae) -> None:
    X, _, ae = synth2_ae
    with pytest.raises(DivergedError, match=r"diverged at iteration 2: compression=\S+, reconstruction=(inf|nan)"):
        DCN(4, ae, random_state=0, lr=1e36, **FIT).fit(X)


@pytest.mark.parametrize("kwargs,Xfun,match", [
    ({}, lambda X: (X * 10).astype(np.uint8), "uint8"),
    ({}, lambda X: np.where(np.arange(X.size).reshape(X.shape) == 5, np.nan, X), "NaN"),
    ({}, lambda X: X[:, :3], "input shape"),
    ({"n_clusters": 1}, None, "n_clusters"),
    ({"n_clusters": 601}, None, "n_clusters"),
    ({"lambda_": -1.0}, None, "lambda_"),
    ({"lr": 0.0}, None, "lr"),
    ({"batch_size": 0}, None, "batch_size"),
    ({"tol": 1.5}, None, "tol"),
    ({"autoencoder": None}, None, "autoencoder"),
    ({"augmentation": 3}, None, "augmentation"),
    ({"random_state": "abc"}, None, "random_state"),
    ({"device": "gpu0"}, None, "device='gpu0' is not a torch device"),
])
def test_bad_input(synth2_ae, kwargs, Xfun, match) -> None:
    X, _, ae = synth2_ae
    params = dict(n_clusters=4, autoencoder=ae, random_state=0, **FIT)
    params.update(kwargs)
    with pytest.raises(ValueError, match=match):
        DCN(**params).fit(Xfun(X) if Xfun else X)


def test_predict_before_fit() -> None:
    with pytest.raises(NotFittedError, match="not fitted"):
        DCN(3).predict(np.zeros((2, 2), np.float32))
    # scikit-learn's own check: lambda_ (the paper's name, a parameter) does not make DCN look fitted
    with pytest.raises(NotFittedError):
        check_is_fitted(DCN(3))


def test_a_diverged_fit_leaves_nothing_to_predict_with(synth2_ae) -> None:
    X, _, ae = synth2_ae
    m = DCN(4, ae, random_state=0, **FIT).fit(X)
    check_is_fitted(m)
    m.set_params(lr=1e36)
    with pytest.raises(DivergedError):
        m.fit(X)
    assert [k for k in vars(m) if k.endswith("_") and k != "lambda_"] == []
    with pytest.raises(NotFittedError):
        check_is_fitted(m)
    with pytest.raises(NotFittedError, match="not fitted"):
        m.predict(X)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch.cuda.is_available() is False)")
def test_dcn_on_cuda(synth2_ae) -> None:
    X, y, ae = synth2_ae
    m = DCN(4, ae, random_state=0, **{**FIT, "device": "cuda"}).fit(X)
    assert m.labels_.shape == (600,)
    assert next(m.autoencoder_.parameters()).device.type == "cuda"
    assert next(ae.parameters()).device.type == "cpu"  # the caller's copy stays where it was
    assert nmi(y, m.labels_) > 0.9
    np.testing.assert_array_equal(m.predict(X), m.labels_)
