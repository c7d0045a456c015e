"""ACe/DeC+DCN (methods/acedec.py): recovery, the two spaces, +Aug, determinism, bad input, GPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ae_training import train_locally
from sklearn.cluster import KMeans

from benchmark.metrics import nmi
from generators.planted import make_planted
from methods.acedec import CLUSTER_SPACE_THRESHOLD, ACeDeC
from methods.autoencoders import LinearAutoencoder
from methods.base import DivergedError, encode_all
from methods.dcn import DCN
from methods.space_split import BETA_POWERS

FAST = dict(batch_size=64, progress=False)


def _linear_ae(X: np.ndarray, steps: int = 200, seed: int = 0) -> LinearAutoencoder:
    """A linear AE (embedding = input size, as for SYNTH in ACe/DeC §4) trained by a tiny local loop."""
    torch.manual_seed(seed)
    return train_locally(LinearAutoencoder(X.shape[1]), X, steps, 1e-2, 64, seed, per_sample_sum=True)


@pytest.fixture(scope="module")
def planted():
    """4 clusters in a 2-d subspace + 4 noise dims, rotated; a linear AE."""
    ds = make_planted(n=400, n_clusters=(4,), dims_per_subspace=2, noise_dims=4, separation=8.0, seed=2)
    return ds, _linear_ae(ds.X)


@pytest.fixture(scope="module")
def planted_fit(planted):
    ds, ae = planted
    return ACeDeC(4, ae, max_iter=300, random_state=0, **FAST).fit(ds.X)


def test_recovers_planted_clusters(planted, planted_fit):
    ds, _ = planted
    assert nmi(ds.labels[:, 0], planted_fit.labels_) >= 0.95


def test_fitted_attributes(planted, planted_fit):
    ds, ae = planted
    m, D = planted_fit, ae.embedding_dim
    assert m.labels_.shape == (len(ds.X),)
    assert m.betas_.shape == m.betas_init_.shape == (2, D)
    np.testing.assert_allclose(m.betas_.sum(0), 1.0, atol=1e-6)  # beta_cs + beta_ss = 1
    assert m.n_cluster_dims_ == int((m.betas_[0] > CLUSTER_SPACE_THRESHOLD).sum())
    assert 1 <= m.n_cluster_dims_ <= D
    assert m.cluster_centers_.shape == (4, D) and m.shared_center_.shape == (D,)
    assert np.bincount(m.labels_, minlength=4).min() > 0
    assert set(m.loss_terms_) == {"L_cluster", "L_shared", "L_rec"}
    assert m.loss_ == pytest.approx(sum(m.loss_terms_.values()))
    np.testing.assert_array_equal(m.predict(ds.X), m.labels_)
    # labels are the closest centre under the beta_cs-weighted distance in the rotated space
    Zr = m.transform(ds.X)
    np.testing.assert_allclose(Zr, encode_all(m.autoencoder_, ds.X) @ m.V_, rtol=1e-4, atol=1e-4)
    w = m.betas_[0] ** BETA_POWERS[m.beta_weighting]
    d = (((Zr[:, None, :] - m.cluster_centers_[None]) ** 2) * w).sum(-1)
    assert (d.argmin(1) == m.labels_).mean() > 0.99


def test_deterministic_and_seeded(planted, planted_fit):
    ds, ae = planted
    b = ACeDeC(4, ae, max_iter=300, random_state=0, **FAST).fit(ds.X)
    np.testing.assert_array_equal(b.labels_, planted_fit.labels_)
    np.testing.assert_array_equal(b.betas_, planted_fit.betas_)
    c0 = ACeDeC(4, ae, max_iter=0, init_max_iter=5, random_state=0, **FAST).fit(ds.X)
    c1 = ACeDeC(4, ae, max_iter=0, init_max_iter=5, random_state=1, **FAST).fit(ds.X)
    assert not np.array_equal(c0.V_init_, c1.V_init_)


def test_split_init_assigns_each_dimension_to_one_space(planted):
    ds, ae = planted
    m = ACeDeC(4, ae, init="split", max_iter=0, init_max_iter=1, random_state=3, **FAST).fit(ds.X)
    # §2.2: each dimension starts strongly in the cluster or the shared space (one Adam step later)
    b = m.betas_init_[0]
    assert ((b > 0.85) | (b < 0.15)).all()
    assert (b > 0.5).any() and (b < 0.5).any()


def test_a_refit_with_a_seeded_augmenter_gives_the_same_labels(planted):
    from methods.augment import Augmenter

    ds, ae = planted
    aug = Augmenter(rotation=0, shift=0, zoom=0, lighting=0.3, seed=0, image_shape=(1, 2, 3))  # 6 features
    state = aug.generator.get_state().clone()
    m = ACeDeC(4, ae, augmentation=aug, max_iter=40, random_state=0, **FAST)
    first = m.fit(ds.X).labels_.copy(), m.loss_
    assert torch.equal(aug.generator.get_state(), state)
    np.testing.assert_array_equal(m.fit(ds.X).labels_, first[0])
    assert m.loss_ == first[1]


def test_augmentation_pulls_augmented_points_to_the_original_centroid(planted):
    ds, ae = planted
    calls = []

    def jitter(x: torch.Tensor) -> torch.Tensor:
        calls.append(x.shape)
        g = torch.Generator().manual_seed(len(calls))
        return x + 0.1 * torch.randn(x.shape, generator=g)

    m = ACeDeC(4, ae, augmentation=jitter, max_iter=300, random_state=0, **FAST).fit(ds.X)
    assert len(calls) == 300 and calls[0] == (64, ds.X.shape[1])
    assert nmi(ds.labels[:, 0], m.labels_) >= 0.95
    with pytest.raises(ValueError, match="augmentation must keep the batch shape"):
        ACeDeC(4, ae, augmentation=lambda x: x[:, :2], max_iter=2, random_state=0, **FAST).fit(ds.X)
    with pytest.raises(ValueError, match="augmentation must be None or a callable"):
        ACeDeC(4, ae, augmentation="rotate", **FAST).fit(ds.X)


def test_bad_input(planted):
    ds, ae = planted
    for k in (1, 0, 2.5, [4]):
        with pytest.raises(ValueError, match="n_clusters"):
            ACeDeC(k, ae, **FAST).fit(ds.X)
    with pytest.raises(ValueError, match="n_clusters: 500 clusters exceed"):
        ACeDeC(500, ae, **FAST).fit(ds.X)
    X = ds.X.copy()
    X[0, 0] = np.inf
    with pytest.raises(ValueError, match="X contains NaN or inf"):
        ACeDeC(4, ae, **FAST).fit(X)
    with pytest.raises(ValueError, match="uint8"):
        ACeDeC(4, ae, **FAST).fit(ds.X.astype(np.uint8))
    with pytest.raises(ValueError, match="autoencoder"):
        ACeDeC(4, ae, **FAST).fit(ds.X[:, :3])
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        ACeDeC(4, LinearAutoencoder(6, embedding_dim=1), **FAST).fit(ds.X)
    with pytest.raises(ValueError, match="init must be"):
        ACeDeC(4, ae, init="pca", **FAST).fit(ds.X)
    with pytest.raises(ValueError, match="reduction must be one of 'sum', 'mean'"):
        ACeDeC(4, ae, reduction="avg", **FAST).fit(ds.X)
    with pytest.raises(ValueError, match="beta_weighting"):
        ACeDeC(4, ae, beta_weighting="cubic", **FAST).fit(ds.X)
    for name, val in [("kmeans_n_init", True), ("reinit", "no")]:  # both were accepted
        with pytest.raises(ValueError, match=name):
            ACeDeC(4, ae, **{**FAST, name: val}).fit(ds.X)


def test_mean_reduction_scales_the_terms_exactly(planted):
    """reduction="mean" (the authors' scaling): L_rec / D_in and the two space terms / 2, batch and full data."""
    ds, ae = planted
    d_in = ds.X.shape[1]
    m = ACeDeC(4, ae, max_iter=5, init_max_iter=2, random_state=0, **FAST).fit(ds.X)
    xb = torch.as_tensor(ds.X[:32])
    z = m.autoencoder_.encode(xb)
    layer = m.clustering_layer_
    gidx = layer.assign(layer.distances(z))[1]
    with torch.no_grad():
        labels_s, full_s = m._evaluate(ds.X)
        tot_s, batch_s = m._batch_loss(m.autoencoder_, layer, xb, z, gidx)
        m.reduction = "mean"
        m._set_scales(ds.X)  # what fit does first; the fitted network and layer stay as they are
        labels_m, full_m = m._evaluate(ds.X)
        tot_m, batch_m = m._batch_loss(m.autoencoder_, layer, xb, z, gidx)
    np.testing.assert_array_equal(labels_s, labels_m)  # the scaling never changes an assignment
    # the full-data objective and the mini-batch loss, each as "sum" -> "mean"
    for by_sum, by_mean in ((full_s, full_m), ({k: float(v) for k, v in batch_s.items()},
                                               {k: float(v) for k, v in batch_m.items()})):
        assert by_mean["L_rec"] == pytest.approx(by_sum["L_rec"] / d_in, rel=1e-6)
        assert by_mean["L_cluster"] == pytest.approx(by_sum["L_cluster"] / 2, rel=1e-6)
        assert by_mean["L_shared"] == pytest.approx(by_sum["L_shared"] / 2, rel=1e-6)
    assert float(tot_m) == pytest.approx(sum(float(v) for v in batch_m.values()), rel=1e-6)
    assert float(tot_s) == pytest.approx(sum(float(v) for v in batch_s.values()), rel=1e-6)


def test_diverging_loss_names_iteration_and_terms(planted):
    ds, ae = planted
    bad = LinearAutoencoder(ae.input_shape)
    bad.load_state_dict(ae.state_dict())
    with torch.no_grad():
        bad.decoder.weight[0, 0] = float("inf")
    with pytest.raises(DivergedError, match=r"iteration 1: init L_cluster=.*init L_rec=(nan|inf)"):
        ACeDeC(4, bad, max_iter=3, random_state=0, **FAST).fit(ds.X)


def _orthogonal_linear_ae(X: np.ndarray, seed: int, steps: int = 200) -> LinearAutoencoder:
    """A linear AE (d = D, ACe/DeC §4) from an orthogonal init (encoder Q, decoder Q^T), then briefly trained."""
    torch.manual_seed(seed)
    ae = LinearAutoencoder(X.shape[1])
    torch.nn.init.orthogonal_(ae.encoder.weight)
    with torch.no_grad():
        ae.decoder.weight.copy_(ae.encoder.weight.T)
        ae.encoder.bias.zero_()
        ae.decoder.bias.zero_()
    return train_locally(ae, X, steps, 1e-3, 128, seed)


@pytest.fixture(scope="module")
def synth():
    """SYNTH-25 (4 clusters in 2 dims + 25 noise dims), reduced to n = 2000, with a linear AE (ACe/DeC §4).

    At this short budget (1,000 iterations) the "kmeans" init on an orthogonally
    initialised AE is needed: with the orthogonally initialised AEs of seeds 0-3
    it reaches 0.76 / 1.00 / 1.00 / 1.00 (DCN lambda=1: 0.54 / 0.77 / 0.82 / 0.75);
    the test uses seed 1 (AE + k-means 0.24).  The paper's setting (split init,
    a pretrained AE that hides the clusters from k-means, 20,000 iterations) is
    the slow test below.
    """
    from generators.synth import build_synth

    ds = build_synth(n=2000, k=25, seed=0, progress=False)
    return ds, _orthogonal_linear_ae(ds.X, seed=1)


def test_synth25_recovered_and_dcn_measurably_worse(synth):
    """ACe/DeC Table 1 / Fig. 1a: with 25 noise dimensions DCN degrades, ACe/DeC+DCN does not."""
    ds, ae = synth
    y = ds.labels[:, 0]
    m = ACeDeC(4, ae, init="kmeans", max_iter=1000, random_state=1, progress=False).fit(ds.X)
    assert nmi(y, m.labels_) >= 0.95
    assert m.n_cluster_dims_ >= 1
    d = DCN(4, ae, lambda_=1.0, max_iter=1000, random_state=1, progress=False).fit(ds.X)
    assert nmi(y, d.labels_) <= nmi(y, m.labels_) - 0.1


@pytest.mark.slow
def test_synth25_paper_init_and_budget_on_pretrained_linear_ae():
    """ACe/DeC Table 1, SYNTH-25 column, on the project's own pretrained linear AE.

    The paper's §2.2 init (random split of the dimensions) at the suites' SYNTH
    budget (20,000 iterations, lr 1e-3, no decay) on the full SYNTH-25 (n = 12,000)
    with ``pretrain(.., "linear", seed=1, "quick")``, whose AE + k-means NMI is
    ~0.1 (paper: 0.11).  Measured 1.00 for AE seeds 0-3 (ACeDeC docstring);
    DCN (lambda = 1) with the same AE and budget must stay clearly below.
    """
    import generators
    from methods.pretrain import pretrain

    ds = generators.get("synth", k=25, progress=False)
    y = ds.labels[:, 0]
    ae = pretrain(ds, "linear", 1, "quick", preprocessing=(), progress=False)
    km = KMeans(4, n_init=1, random_state=1).fit_predict(encode_all(ae, ds.X))
    assert nmi(y, km) < 0.5  # the AE really hides the clusters from k-means
    budget = dict(max_iter=20_000, lr_step=20_000)
    m = ACeDeC(4, ae, init="split", random_state=1, progress=False, **budget).fit(ds.X)
    assert nmi(y, m.labels_) >= 0.95
    d = DCN(4, ae, lambda_=1.0, max_iter=20_000, random_state=1, progress=False).fit(ds.X)
    assert nmi(y, d.labels_) <= nmi(y, m.labels_) - 0.1


@pytest.mark.gpu
def test_gpu(planted):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine")
    ds, ae = planted
    m = ACeDeC(4, ae, max_iter=300, random_state=0, device="cuda", **FAST).fit(ds.X)
    assert m.clustering_layer_.V.device.type == "cuda"
    assert nmi(ds.labels[:, 0], m.labels_) >= 0.95
