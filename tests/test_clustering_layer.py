"""The shared ENRC/ACe-DeC layer (methods/clustering_layer.py): exact outputs on tiny inputs and invariants."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from methods.clustering_layer import (
    ClusteringLayer,
    LostCenterMonitor,
    SigmoidBetas,
    SoftmaxBetas,
    compression_terms,
    enrc_initial_betas,
    orthogonality_error,
    random_orthogonal,
    reinitialize_center,
    weighted_kmeans,
)
from methods.device import torch_generator
from methods.space_split import BETA_POWERS


def test_enrc_initial_betas_exact():
    b = enrc_initial_betas(5, 2)
    np.testing.assert_allclose(b, [[0.9, 0.9, 0.1, 0.1, 0.5], [0.1, 0.1, 0.9, 0.9, 0.5]])
    b3 = enrc_initial_betas(6, 3)
    np.testing.assert_allclose(b3[:, 0], [0.9, 0.05, 0.05])
    np.testing.assert_allclose(b3[:, 5], [0.05, 0.05, 0.9])
    np.testing.assert_allclose(b3.sum(0), 1.0)
    np.testing.assert_allclose(enrc_initial_betas(4, 1), 1.0)


def test_beta_parametrisations():
    b0 = enrc_initial_betas(5, 2)
    np.testing.assert_allclose(SoftmaxBetas(b0)().detach().numpy(), b0, atol=1e-6)
    sb = SigmoidBetas(np.array([0.9, 0.1, 0.5]))()
    np.testing.assert_allclose(sb.detach().numpy(), [[0.9, 0.1, 0.5], [0.1, 0.9, 0.5]], atol=1e-6)


def test_random_orthogonal_is_orthogonal_and_seeded():
    Q = random_orthogonal(7, torch_generator(3))
    assert orthogonality_error(Q) < 1e-5
    assert torch.equal(Q, random_orthogonal(7, torch_generator(3)))
    assert not torch.equal(Q, random_orthogonal(7, torch_generator(4)))


def _layer(centers_space: str = "rotated", V: torch.Tensor | None = None) -> ClusteringLayer:
    # clustering 0: 2 centres, weights on dim 0; clustering 1: 1 centre, weights on dim 1
    betas = np.array([[1.0, 0.0], [0.0, 1.0]]) * (1 - 2e-6) + 1e-6
    C = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 5.0]])
    V = torch.eye(2) if V is None else V
    return ClusteringLayer(V, SoftmaxBetas(betas), [2, 1], C, alpha=0.5, centers_space=centers_space)


def test_distances_assign_and_eq4_loss_exact():
    layer = _layer()
    z = torch.tensor([[1.0, 2.0], [9.0, 4.0], [4.0, 5.0]])
    d = layer.distances(z)
    # weighted squared distances (Eq. 2) with beta_0 = (1, 0) for centres 0-1 and beta_1 = (0, 1) for centre 2
    np.testing.assert_allclose(d.detach().numpy(), [[1, 81, 9], [81, 1, 1], [16, 36, 0]], atol=1e-3)
    local, g = layer.assign(d)
    np.testing.assert_array_equal(local.numpy(), [[0, 0], [1, 0], [0, 0]])
    np.testing.assert_array_equal(g.numpy(), [[0, 2], [1, 2], [0, 2]])
    # Eq. (4): 1/S sum_s sum_k mean_{C_sk} d; clustering 0: C_00={0,2} mean (1+16)/2, C_01={1} 1 -> 9.5
    # clustering 1: one cluster, mean (9+1+0)/3 = 10/3
    eq4 = layer.compression_loss(d, g, per_cluster_mean=True, terms=True)
    np.testing.assert_allclose(eq4.detach().numpy(), [9.5, 10 / 3], atol=1e-3)
    assert float(layer.compression_loss(d, g).detach()) == pytest.approx((9.5 + 10 / 3) / 2, abs=1e-3)
    # ACe/DeC form: plain means over the batch
    sums = layer.compression_loss(d, g, per_cluster_mean=False, terms=True)
    np.testing.assert_allclose(sums.detach().numpy(), [(1 + 1 + 16) / 3, 10 / 3], atol=1e-3)


def test_embedded_centres_turn_with_v():
    V = random_orthogonal(2, torch_generator(0))
    rot, emb = _layer("rotated", V), _layer("embedded", V)
    z = torch.tensor([[1.0, 2.0], [9.0, 4.0]])
    W = rot.betas()[rot.owner].detach()
    # rotated: ||V^T z - mu||^2_beta; embedded: ||V^T (z - mu)||^2_beta
    expect_rot = (((z @ V)[:, None] - rot.centers[None]) ** 2 * W).sum(-1)
    expect_emb = ((((z[:, None] - emb.centers[None]) @ V)) ** 2 * W).sum(-1)
    torch.testing.assert_close(rot.distances(z).detach(), expect_rot)
    torch.testing.assert_close(emb.distances(z).detach(), expect_emb)


def test_update_centers_is_eqs_6_7_per_clustering():
    layer = _layer()
    z = torch.tensor([[1.0, 2.0], [9.0, 4.0], [4.0, 6.0]])
    _, g = layer.assign(layer.distances(z))
    counts = layer.update_centers(z, g)
    np.testing.assert_array_equal(counts.numpy(), [2, 1, 3])
    # centre 0: A = 0.5*1 + 0.5*2 = 1.5, eta = 2/3, batch mean (2.5, 4): mu = (1/3)*0 + (2/3)*mean
    np.testing.assert_allclose(layer.centers[0].numpy(), [2.5 * 2 / 3, 4 * 2 / 3], atol=1e-6)
    # centre 1: A = 1, eta = 1 -> the batch mean
    np.testing.assert_allclose(layer.centers[1].numpy(), [9.0, 4.0], atol=1e-6)
    # centre 2 (clustering 1, all 3 points): A = 2, eta = 1/2
    np.testing.assert_allclose(layer.centers[2].numpy(), [0.5 * 0 + 0.5 * 14 / 3, 0.5 * 5 + 0.5 * 4], atol=1e-6)


def test_lost_center_monitor_threshold_grows_with_sqrt_iter():
    mon = LostCenterMonitor(2)
    empty0 = torch.tensor([0, 5])
    due = [len(mon.update(empty0, it)) for it in range(1, 6)]
    # count after it: 1..5; threshold ceil(sqrt(it)): 1,2,2,2,3 -> due when count > threshold
    assert due == [0, 0, 1, 1, 1]
    mon.reset(0)
    assert mon.counts.tolist() == [0, 0]


def test_reinitialize_center_leaves_no_centre_empty():
    rng = np.random.default_rng(0)
    # three well separated blobs in 2-d; clustering 0 has centres on two of them and one far away (lost)
    Z = np.concatenate([rng.normal(m, 0.3, size=(100, 2)) for m in ([0, 0], [6, 0], [0, 6])]).astype(np.float32)
    C = torch.tensor([[0.0, 0.0], [3.0, 3.0], [100.0, 100.0]])
    layer = ClusteringLayer(torch.eye(2), SoftmaxBetas(np.ones((1, 2))), [3], C, alpha=0.5)
    layer.centers_mb.counts[2] = 7.0
    zs = torch.as_tensor(Z)
    _, g = layer.assign(layer.distances(zs))
    assert np.bincount(g[:, 0].numpy(), minlength=3)[2] == 0  # centre 2 is lost
    reinitialize_center(layer, 0, 2, zs, n_steps=10)
    local, _ = layer.assign(layer.distances(zs))
    counts = np.bincount(local[:, 0].numpy(), minlength=3)
    assert counts.min() > 0
    assert sorted(counts.tolist()) == [100, 100, 100]  # 10 weighted k-means steps separate the blobs
    assert float(layer.centers_mb.counts[2]) == 1.0


def test_weighted_kmeans_ignores_zero_weight_dims():
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1, 2], 60)
    Z = np.c_[y * 10.0 + rng.normal(0, 1, 180), rng.normal(0, 30, 180)]  # dim 1: large noise
    _C, lab, inertia = weighted_kmeans(Z, 3, np.array([1.0, 0.0]), rng)
    from benchmark.metrics import nmi

    assert nmi(y, lab) == pytest.approx(1.0)
    assert inertia < 180 * 2


def test_compression_terms_full_data_matches_batch_formula():
    layer = _layer()
    z = torch.tensor([[1.0, 2.0], [9.0, 4.0], [4.0, 5.0]])
    labels, per_s = compression_terms(layer, z, per_cluster_mean=True, chunk=2)
    np.testing.assert_array_equal(labels, [[0, 0], [1, 0], [0, 0]])
    np.testing.assert_allclose(per_s, [9.5, 10 / 3], atol=1e-3)


def test_squared_beta_weighting_exact():
    # (beta * diff)^2: beta_0 = (0.5, 0.5) on both dims of a 2-d point
    layer = ClusteringLayer(torch.eye(2), SoftmaxBetas(np.full((2, 2), 0.5)), [1, 1],
                            torch.tensor([[0.0, 0.0], [1.0, 1.0]]), beta_power=BETA_POWERS["squared"])
    d = layer.distances(torch.tensor([[2.0, 4.0]]))
    np.testing.assert_allclose(d.detach().numpy(), [[0.25 * (4 + 16), 0.25 * (1 + 9)]], atol=1e-6)
    np.testing.assert_allclose(layer.distance_weights().detach().numpy(), np.full((2, 2), 0.25), atol=1e-6)


def _fit_space_betas(beta_power: int, Z: torch.Tensor, labels: np.ndarray, steps: int = 3000) -> np.ndarray:
    """Train only b of an ACe/DeC layer (V = I, centres = the true cluster means and the data mean)."""
    k = int(labels.max()) + 1
    C = torch.stack([Z[torch.as_tensor(labels == j)].mean(0) for j in range(k)] + [Z.mean(0)])
    layer = ClusteringLayer(torch.eye(Z.shape[1]), SigmoidBetas(np.full(Z.shape[1], 0.5)), [k, 1], C,
                            centers_space="embedded", beta_power=beta_power)
    layer.V.requires_grad_(False)
    g = torch.stack([torch.as_tensor(labels), torch.full((len(Z),), k)], 1)
    opt = torch.optim.Adam(layer.betas.parameters(), lr=1e-2)
    for _ in range(steps):
        opt.zero_grad()
        layer.compression_loss(layer.distances(Z), g, per_cluster_mean=False).backward()
        opt.step()
    return layer.betas()[0].detach().numpy()


def test_space_betas_interior_optimum_only_with_squared_weighting():
    """ACe/DeC Eq. (5) space terms as a function of beta_cs alone (see BETA_POWERS).

    Dim 0 carries 4 well-separated clusters, dim 1 is noise.  With (beta diff)^2 the
    minimiser is beta_cs[i] = T_i / (W_i + T_i) (T: total, W: within-cluster scatter), so
    the noise dimension stays at about 0.5, out of the cluster space; with beta diff^2 the
    gradient W_i - T_i is never positive and both dimensions go to the cluster space.
    """
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 100)
    Z = np.stack([labels * 3.0 + rng.normal(0, 1, 400), rng.normal(0, 2, 400)], 1)
    Zt = torch.as_tensor(Z, dtype=torch.float32)
    means = np.stack([Z[labels == j].mean(0) for j in range(4)])
    W = ((Z - means[labels]) ** 2).sum(0)
    T = ((Z - Z.mean(0)) ** 2).sum(0)
    sq = _fit_space_betas(BETA_POWERS["squared"], Zt, labels)
    np.testing.assert_allclose(sq, T / (W + T), atol=2e-3)
    assert sq[0] > 0.9 and sq[1] < 0.55  # the noise dim stays shared (threshold CLUSTER_SPACE_THRESHOLD)
    lin = _fit_space_betas(BETA_POWERS["linear"], Zt, labels)
    assert lin[0] > 0.99 and lin[1] > sq[1] + 0.1  # linear: every beta_cs only grows


def test_bad_layer_arguments():
    with pytest.raises(ValueError, match="centers_space"):
        _layer("nowhere")
    with pytest.raises(ValueError, match="beta_power"):
        ClusteringLayer(torch.eye(2), SoftmaxBetas(np.ones((1, 2))), [2], torch.zeros(2, 2), beta_power=3)
    with pytest.raises(ValueError, match="centers must have shape"):
        ClusteringLayer(torch.eye(2), SoftmaxBetas(np.ones((1, 2))), [3], torch.zeros(2, 2))
    with pytest.raises(ValueError, match="alpha"):
        _layer().set_alpha(1.0)
