"""AE+k-means and AE+SubKmeans: exact equivalence with the classical method on the embedding, planted recovery."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.cluster import KMeans

from benchmark.metrics import nmi
from generators.planted import make_planted
from methods.autoencoders import LinearAutoencoder
from methods.base import encode_all
from methods.pipelines import AEKMeans, AESubKmeans


@pytest.fixture(scope="module")
def planted():
    """3 clusters in 2 of 6 dims (rotated), and a random (untrained) linear autoencoder of full rank.

    A full-rank linear map keeps the clusters separable, so k-means on the
    embedding must find them; no pretraining is needed for these tests.
    """
    ds = make_planted(n=300, n_clusters=(3,), dims_per_subspace=2, noise_dims=4, separation=10.0, seed=1)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        ae = LinearAutoencoder(6)
    with torch.no_grad():
        ae.encoder.weight.copy_(torch.linalg.qr(ae.encoder.weight)[0] * 2.0)  # a scaled rotation
    return ds.X, ds.labels[:, 0], ae


def test_ae_kmeans_is_kmeans_on_the_embedding(planted) -> None:
    X, y, ae = planted
    m = AEKMeans(3, ae, random_state=7).fit(X)
    Z = encode_all(ae, X)
    seed = int(np.random.default_rng(7).integers(2**31 - 1))
    km = KMeans(3, n_init=10, random_state=seed).fit(Z)
    np.testing.assert_array_equal(m.labels_, km.labels_)
    assert m.loss_ == pytest.approx(km.inertia_)
    assert nmi(y, m.labels_) > 0.99
    np.testing.assert_array_equal(m.predict(X), m.labels_)
    np.testing.assert_array_equal(clone(m).fit(X).labels_, m.labels_)


def test_ae_subkmeans_recovers_clusters_in_a_small_subspace(planted) -> None:
    X, y, ae = planted
    m = AESubKmeans(3, ae, n_init=3, random_state=0, progress=False).fit(X)
    assert nmi(y, m.labels_) > 0.99
    assert m.m_ == m.n_cluster_dims_ and 1 <= m.m_ <= 2  # m <= k - 1
    assert m.loss_ > 0 and m.cluster_centers_.shape == (3, 6)
    np.testing.assert_array_equal(m.predict(X), m.labels_)
    again = AESubKmeans(3, ae, n_init=3, random_state=0, progress=False).fit(X)
    np.testing.assert_array_equal(again.labels_, m.labels_)
    assert again.loss_ == m.loss_


def test_predict_uses_the_network_of_the_fit_not_a_later_parameter(planted) -> None:
    X, _, ae = planted
    m = AEKMeans(3, ae, random_state=7).fit(X)
    other = LinearAutoencoder(6)
    with torch.no_grad():
        other.encoder.weight.mul_(-50.0)  # an embedding whose k-means centres would not fit
    m.set_params(autoencoder=other)
    np.testing.assert_array_equal(m.predict(X), m.labels_)
    assert m.autoencoder_ is not ae  # a frozen copy, not the caller's object


def test_caller_network_untouched(planted) -> None:
    X, _, ae = planted
    before = {k: v.clone() for k, v in ae.state_dict().items()}
    ae.train()
    AEKMeans(3, ae, random_state=0).fit(X)
    assert ae.training  # mode restored / untouched
    assert all(torch.equal(before[k], v) for k, v in ae.state_dict().items())
    ae.eval()


@pytest.mark.parametrize("cls", [AEKMeans, AESubKmeans])
@pytest.mark.parametrize("kwargs,Xfun,match", [
    ({}, lambda X: (X * 10).astype(np.uint8), "uint8"),
    ({}, lambda X: np.vstack([X[:-1], np.full((1, 6), np.nan, np.float32)]), "NaN"),
    ({}, lambda X: X[:, :5], "input shape"),
    ({"n_clusters": 301}, None, "n_clusters"),
    ({"n_init": 0}, None, "n_init"),
    ({"autoencoder": None}, None, "autoencoder"),
])
def test_bad_input(planted, cls, kwargs, Xfun, match) -> None:
    X, _, ae = planted
    params = dict(n_clusters=3, autoencoder=ae, random_state=0)
    params.update(kwargs)
    with pytest.raises(ValueError, match=match):
        cls(**params).fit(Xfun(X) if Xfun else X)


@pytest.mark.slow
def test_real_usps_pretrain_then_ae_kmeans_and_dcn(real_data_dir, monkeypatch) -> None:
    """End to end on real USPS (9,298 digits): a small FC AE, AE+k-means, then DCN λ=0.1.

    Measured (300 + 100 pretraining iterations, hidden 128-64): AE+k-means NMI 0.597,
    DCN 0.597 -> 0.613 after 300 iterations; ACe/DeC Table 1 reports 0.65 / 0.71 with
    the full DEC budget.
    """
    import generators
    from generators.preprocessing import apply
    from methods.dcn import DCN
    from methods.pretrain import pretrain

    monkeypatch.setenv("NRBENCH_DATA", str(real_data_dir))
    if not (real_data_dir / "usps").is_dir():
        pytest.skip(f"USPS not found under {real_data_dir}")
    ds = generators.get("usps", progress=False)
    pre = ("scale01", "zscore", "flatten")
    X, y = apply(ds.X, pre), ds.labels[:, 0]
    ae = pretrain(ds, {"arch": "feedforward", "hidden": [128, 64], "embedding_dim": 10}, seed=0,
                  budget={"iterations": 300, "finetune_iterations": 100, "batch_size": 256}, preprocessing=pre,
                  device="cpu", progress=False)
    km = AEKMeans(10, ae, n_init=3, random_state=0).fit(X)
    assert nmi(y, km.labels_) > 0.55
    dcn = DCN(10, ae, lambda_=0.1, max_iter=300, kmeans_n_init=3, random_state=0, device="cpu",
              progress=False).fit(X)
    assert nmi(y, dcn.labels_) > 0.55
    assert nmi(y, dcn.labels_) >= nmi(y, dcn.init_labels_) - 0.02


@pytest.mark.parametrize("name", ["ENRC", "ACeDeC", "DCN", "DEC", "IDEC", "AEKMeans", "AESubKmeans"])
def test_unfitted_deep_estimators_raise_sklearns_not_fitted_error_and_are_clusterers(name) -> None:
    from sklearn.base import is_clusterer
    from sklearn.exceptions import NotFittedError

    import methods

    est = getattr(methods, name)()
    assert is_clusterer(est)  # the mixin comes before BaseEstimator, so sklearn's tags see a clusterer
    with pytest.raises(NotFittedError, match="not fitted yet"):
        est.predict(np.zeros((3, 4), np.float32))


#: Tiny settings of each deep estimator for the tests that only need a fit to happen.
_SMALL = {"ENRC": dict(n_clusters=[3, 2], max_iter=5, init_rounds=1, init_max_iter=5, progress=False),
          "ACeDeC": dict(n_clusters=3, max_iter=5, init_rounds=1, init_max_iter=5, progress=False),
          "DCN": dict(n_clusters=3, max_iter=5, kmeans_n_init=1, progress=False),
          "DEC": dict(n_clusters=3, max_iter=5, kmeans_n_init=1, progress=False),
          "IDEC": dict(n_clusters=3, max_iter=5, kmeans_n_init=1, progress=False),
          "AEKMeans": dict(n_clusters=3, n_init=1),
          "AESubKmeans": dict(n_clusters=3, n_init=1, progress=False)}


@pytest.mark.parametrize("name", ["ENRC", "ACeDeC", "DCN", "DEC", "IDEC", "AEKMeans", "AESubKmeans"])
def test_deep_estimators_take_a_reversed_view_of_x(planted, name) -> None:
    """X[::-1] (negative strides, which torch refuses) once raised torch's ValueError in every deep fit."""
    import methods

    X, _, ae = planted
    small = _SMALL[name]
    cls = getattr(methods, name)
    Xr = X.astype(np.float32)[::-1]
    fitted = cls(autoencoder=ae, random_state=0, device="cpu", **small).fit(Xr)
    expected = cls(autoencoder=ae, random_state=0, device="cpu", **small).fit(np.ascontiguousarray(Xr))
    np.testing.assert_array_equal(fitted.labels_, expected.labels_)
    np.testing.assert_array_equal(fitted.predict(Xr), expected.predict(np.ascontiguousarray(Xr)))


@pytest.mark.parametrize("name", ["ENRC", "ACeDeC", "DCN", "DEC", "IDEC"])
def test_deep_estimators_with_transform_have_fit_transform(planted, name) -> None:
    """They offer transform (their embedding), so scikit-learn's fit_transform is fit(X).transform(X)."""
    import methods

    X, _, ae = planted
    small = _SMALL[name]
    cls = getattr(methods, name)
    Xf = X.astype(np.float32)
    Z = cls(autoencoder=ae, random_state=0, device="cpu", **small).fit_transform(Xf)
    ref = cls(autoencoder=ae, random_state=0, device="cpu", **small).fit(Xf)
    np.testing.assert_array_equal(Z, ref.transform(Xf))
    assert Z.shape[0] == X.shape[0]
