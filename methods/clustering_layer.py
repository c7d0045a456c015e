"""The soft-subspace clustering layer shared by ENRC and ACe/DeC, and the training-loop pieces around it.

ENRC (Miklautz et al., AAAI 2020) and ACe/DeC (Miklautz et al., IJCAI 2021) put
the same layer between encoder and decoder:

- a trainable ``D x D`` matrix ``V``; the rotated embedding is ``V^T z`` (a row
  vector ``z @ V``) and the decoder sees ``V V^T z`` (ENRC Eq. 1, ACe/DeC Eq. 5);
- per-clustering feature weights ``beta_s`` (S x D, non-negative, each column
  sums to 1) used in the weighted squared distance of ENRC Eq. 2;
  ENRC: ``beta = softmax(B)`` over the S clusterings (§2.2); ACe/DeC: S = 2,
  ``beta_cs = sigmoid(b)``, ``beta_ss = 1 - beta_cs`` (§2.1);
- S sets of centres; assignment is the closest centre under the beta_s-weighted
  distance in the rotated space (ENRC Eq. 5);
- the compression loss (ENRC Eq. 4 / ACe/DeC L_cluster + L_shared).

How beta enters the distance (``beta_power``): ENRC Eq. 2 as printed weights a
squared difference linearly, ``sum_i beta[i] (a[i] - b[i])^2`` (``beta_power=1``);
the authors' implementation (ClustPy's ``squared_euclidean_distance``, read, not
copied) weights the difference before squaring, ``sum_i (beta[i] (a[i] - b[i]))^2``
(``beta_power=2``).  The difference matters for ACe/DeC, see :data:`BETA_POWERS`.

ACe/DeC is this layer with ``n_clusters = [k, 1]``: the shared space is one
cluster whose centre models the data mean.

Where the centres live: ENRC's centres ``mu_{s,k}`` are points of the rotated
space (Eq. 4: "mu_{s,k} ... in the already V^T-transformed space", held constant
while V changes); ACe/DeC's are points of the embedded space and enter as
``V^T mu_k`` (Eq. 5), so they turn with V.  :class:`ClusteringLayer` supports both
(``centers_space="rotated"|"embedded"``); the mini-batch update (ENRC Eqs. 6-7)
then averages rotated or unrotated points respectively.

All distances are computed for every clustering at once (one broadcast over all
``K_total = sum_s K_s`` centres), so the layer costs little next to the
autoencoder (see tests/test_bench_enrc.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from methods.base import MiniBatchCenters
from methods.space_split import BETA_POWERS

#: ENRC §2.6: weight of a dimension for the clustering it is "strongly" assigned to at initialisation.
STRONG_BETA = 0.9


def random_orthogonal(D: int, generator: torch.Generator, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A Haar-random ``D x D`` orthogonal matrix (QR of a Gaussian matrix with the sign fix), on CPU."""
    A = torch.randn(D, D, generator=generator, dtype=torch.float64)
    Q, R = torch.linalg.qr(A)
    Q = Q * torch.sign(torch.diagonal(R)).where(torch.diagonal(R) != 0, torch.ones(()))[None, :]
    return Q.to(dtype)


def enrc_initial_betas(n_dims: int, n_clusterings: int, strong: float = STRONG_BETA) -> np.ndarray:
    """ENRC §2.6 initial feature weights ``(S, D)``.

    Block s of ``floor(D/S)`` dimensions gets ``beta_s = strong`` (0.9) and
    ``(1 - strong) / (S - 1)`` for every other clustering.  Dimensions left over
    when S does not divide D get the uniform weight ``1/S``.  Columns sum to 1.
    """
    S, D = int(n_clusterings), int(n_dims)
    if S == 1:
        return np.ones((1, D))
    betas = np.full((S, D), 1.0 / S)
    m = D // S
    for s in range(S):
        block = slice(s * m, (s + 1) * m)
        betas[:, block] = (1.0 - strong) / (S - 1)
        betas[s, block] = strong
    return betas


class SoftmaxBetas(nn.Module):
    """ENRC §2.2: ``beta_s[d] = exp(B[s, d]) / sum_i exp(B[i, d])`` over a trainable ``S x D`` matrix B."""

    def __init__(self, betas: np.ndarray | torch.Tensor) -> None:
        super().__init__()
        b = torch.as_tensor(np.asarray(betas, dtype=np.float64)).clamp_min(1e-12)
        self.B = nn.Parameter(torch.log(b).float())

    def forward(self) -> torch.Tensor:
        return torch.softmax(self.B, dim=0)


class SigmoidBetas(nn.Module):
    """ACe/DeC §2.1: ``beta_cs = sigmoid(b)``, ``beta_ss = 1 - beta_cs``; returns the ``(2, D)`` stack."""

    def __init__(self, beta_cs: np.ndarray | torch.Tensor) -> None:
        super().__init__()
        p = torch.as_tensor(np.asarray(beta_cs, dtype=np.float64)).clamp(1e-6, 1 - 1e-6)
        self.b = nn.Parameter(torch.logit(p).float())

    def forward(self) -> torch.Tensor:
        cs = torch.sigmoid(self.b)
        return torch.stack([cs, 1.0 - cs])


class ClusteringLayer(nn.Module):
    """V, the beta weights and S sets of centres (ENRC §2.2-2.5; ACe/DeC §2.1).

    ``centers`` is ``(K_total, D)``: the centres of clustering 0, then of 1, ...
    They are a buffer (not trained by gradient); :meth:`update_centers` applies the
    mini-batch k-means rule of ENRC Eqs. (6)-(7).  ``beta_power`` is the exponent of
    beta in the distance (1: ENRC Eq. 2 as printed; 2: the authors' implementation;
    see :data:`BETA_POWERS`).
    """

    def __init__(self, V: torch.Tensor, betas: nn.Module, n_clusters: Sequence[int], centers: torch.Tensor,
                 alpha: float = 0.5, centers_space: str = "rotated", beta_power: int = 1) -> None:
        super().__init__()
        if centers_space not in ("rotated", "embedded"):
            raise ValueError(f"centers_space must be 'rotated' or 'embedded'; got {centers_space!r}")
        if beta_power not in BETA_POWERS.values():
            raise ValueError(f"beta_power must be one of {sorted(BETA_POWERS.values())}; got {beta_power!r}")
        self.beta_power = int(beta_power)
        self.n_clusters = [int(k) for k in n_clusters]
        self.S = len(self.n_clusters)
        self.centers_space = centers_space
        self.V = nn.Parameter(V.detach().clone().float())
        self.betas = betas
        K = sum(self.n_clusters)
        if tuple(centers.shape) != (K, V.shape[0]):
            raise ValueError(f"centers must have shape ({K}, {V.shape[0]}); got {tuple(centers.shape)}")
        offsets = np.concatenate([[0], np.cumsum(self.n_clusters)])
        self.offsets = [int(o) for o in offsets]
        owner = torch.as_tensor(np.repeat(np.arange(self.S), self.n_clusters))
        kmax = max(self.n_clusters)
        # pad_idx[s, j] = global index of centre j of clustering s, or K (a +inf column) beyond K_s
        pad = np.full((self.S, kmax), K)
        for s, k in enumerate(self.n_clusters):
            pad[s, :k] = np.arange(offsets[s], offsets[s] + k)
        self.register_buffer("owner", owner)
        self.register_buffer("pad_idx", torch.as_tensor(pad))
        self.register_buffer("offset_t", torch.as_tensor(offsets[:-1]))
        self.centers_mb = MiniBatchCenters(centers.float(), alpha=alpha)

    def _apply(self, fn, recurse=True):  # type: ignore[no-untyped-def]
        # .to(device) / .double() also move the centres and their Eq. (7) counts
        super()._apply(fn, recurse)
        self.centers_mb.centers = fn(self.centers_mb.centers)
        self.centers_mb.counts = fn(self.centers_mb.counts)
        return self

    # ----------------------------------------------------------------- geometry
    @property
    def centers(self) -> torch.Tensor:
        """The ``(K_total, D)`` centres in ``centers_space``."""
        return self.centers_mb.centers

    def rotate(self, z: torch.Tensor) -> torch.Tensor:
        """``V^T z`` for a batch of row vectors."""
        return z @ self.V

    def unrotate(self, zr: torch.Tensor) -> torch.Tensor:
        """``V zr`` for a batch of row vectors (back to the embedded space)."""
        return zr @ self.V.T

    def rotated_centers(self) -> torch.Tensor:
        """The centres in the rotated space (``mu`` for ENRC, ``V^T mu`` for ACe/DeC)."""
        c = self.centers
        return c if self.centers_space == "rotated" else c @ self.V

    def distance_weights(self, betas: torch.Tensor | None = None) -> torch.Tensor:
        """``(S, D)`` per-dimension weights of the distance: ``beta ** beta_power``."""
        if betas is None:
            betas = self.betas()
        return betas if self.beta_power == 1 else betas ** self.beta_power

    def distances(self, z: torch.Tensor, betas: torch.Tensor | None = None) -> torch.Tensor:
        """``(b, K_total)`` weighted squared distances (ENRC Eq. 2) of the embedded batch z to every centre.

        Centre g of clustering s is measured with ``beta_s ** beta_power``.
        Differentiable in z, V and beta; the centres are constants (ENRC §2.3).
        """
        W = self.distance_weights(betas)[self.owner]  # (K, D)
        diff = self.rotate(z)[:, None, :] - self.rotated_centers()[None, :, :]
        return (diff * diff * W[None]).sum(-1)

    def assign(self, dist: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ENRC Eq. (5): per clustering the closest centre.

        Returns ``(labels (b, S), global index (b, S))`` where the global index
        addresses ``centers``.
        """
        d = dist.detach()
        inf = torch.full((d.shape[0], 1), float("inf"), dtype=d.dtype, device=d.device)
        padded = torch.cat([d, inf], 1)[:, self.pad_idx]  # (b, S, Kmax)
        local = padded.argmin(-1)
        return local, local + self.offset_t[None, :]

    def compression_loss(self, dist: torch.Tensor, gidx: torch.Tensor, per_cluster_mean: bool = True,
                         terms: bool = False) -> torch.Tensor:
        """The compression loss of the hard assignment ``gidx``.

        ``per_cluster_mean=True`` is ENRC Eq. (4):
        ``1/S sum_s sum_k 1/|C_sk| sum_{z in C_sk} ||V^T z - mu_sk||^2_{beta_s}``.
        ``per_cluster_mean=False`` is the ACe/DeC form (Eq. 5) divided by the batch
        size: ``1/b sum_z ||V^T z - V^T mu_{c(z)}||^2_{beta_s}`` per clustering,
        returned per clustering as ``(S,)`` when ``terms=True`` (else summed).
        """
        b = dist.shape[0]
        dmin = dist.gather(1, gidx)  # (b, S)
        if per_cluster_mean:
            K = dist.shape[1]
            sums = torch.zeros(K, dtype=dist.dtype, device=dist.device).index_add(0, gidx.reshape(-1),
                                                                                   dmin.reshape(-1))
            counts = torch.bincount(gidx.reshape(-1), minlength=K).to(dist.dtype)
            per_cluster = sums / counts.clamp_min(1.0)
            per_s = torch.zeros(self.S, dtype=dist.dtype, device=dist.device).index_add(0, self.owner, per_cluster)
            return per_s if terms else per_s.mean()
        per_s = dmin.sum(0) / b
        return per_s if terms else per_s.sum()

    # ----------------------------------------------------------------- centres
    @torch.no_grad()
    def update_centers(self, z: torch.Tensor, gidx: torch.Tensor) -> torch.Tensor:
        """Mini-batch k-means step (ENRC Eqs. 6-7) for every clustering at once; returns batch counts ``(K_total,)``."""
        pts = self.rotate(z) if self.centers_space == "rotated" else z
        pts = pts.detach()
        rep = pts.repeat(self.S, 1)  # clustering s uses rows s*b..(s+1)*b
        flat = gidx.T.reshape(-1)
        self.centers_mb.update(rep, flat)
        return torch.bincount(gidx.reshape(-1), minlength=self.centers.shape[0])

    def set_alpha(self, alpha: float) -> None:
        """Change the discount alpha of Eq. (7) (ENRC's code halves it at step 2000, BASELINES §6.2)."""
        if not (0.0 < alpha < 1.0):
            raise ValueError(f"alpha must be in (0, 1); got {alpha}")
        self.centers_mb.alpha = float(alpha)


@torch.no_grad()
def compression_terms(layer: ClusteringLayer, Z: torch.Tensor, per_cluster_mean: bool,
                      chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Labels ``(n, S)`` (Eq. 5) and the per-clustering compression loss ``(S,)`` over all of Z (embedded).

    ``per_cluster_mean`` as in :meth:`ClusteringLayer.compression_loss`, with the
    clusters taken over the whole data rather than a batch.
    """
    K = layer.centers.shape[0]
    sums = torch.zeros(K, dtype=torch.float64, device=Z.device)
    counts = torch.zeros(K, dtype=torch.float64, device=Z.device)
    betas = layer.betas()
    labels = []
    for i in range(0, Z.shape[0], chunk):
        d = layer.distances(Z[i:i + chunk], betas)
        local, g = layer.assign(d)
        labels.append(local.cpu().numpy())
        sums.index_add_(0, g.reshape(-1), d.gather(1, g).reshape(-1).double())
        counts += torch.bincount(g.reshape(-1), minlength=K).double()
    per_cluster = sums / counts.clamp_min(1.0) if per_cluster_mean else sums / Z.shape[0]
    per_s = torch.zeros(layer.S, dtype=torch.float64, device=Z.device).index_add_(0, layer.owner, per_cluster)
    return np.concatenate(labels, 0), per_s.cpu().numpy()


def weighted_lloyd(Z: np.ndarray, centers: np.ndarray, weights: np.ndarray, n_iter: int) -> tuple[np.ndarray,
                                                                                                 np.ndarray]:
    """``n_iter`` k-means (Lloyd) steps under the weighted distance of ENRC Eq. (2).

    Assignment uses the weights; a centre is the plain mean of its points (the
    minimiser of the weighted within-cluster distance).  A centre that loses all
    its points is kept where it was.  Returns ``(centers, labels)``.
    """
    C = np.array(centers, dtype=np.float64, copy=True)
    w = np.asarray(weights, dtype=np.float64)
    Z = np.asarray(Z, dtype=np.float64)
    labels = _weighted_assign(Z, C, w)
    for _ in range(int(n_iter)):
        for k in range(C.shape[0]):
            m = labels == k
            if m.any():
                C[k] = Z[m].mean(0)
        new = _weighted_assign(Z, C, w)
        if np.array_equal(new, labels):
            break
        labels = new
    return C, labels


def _weighted_assign(Z: np.ndarray, C: np.ndarray, w: np.ndarray) -> np.ndarray:
    d = ((Z[:, None, :] - C[None, :, :]) ** 2 * w).sum(-1)
    return d.argmin(1)


def greedy_kmeans_plusplus(Z: np.ndarray, k: int, rng: np.random.Generator, weights: np.ndarray,
                           n_trials: int | None = None) -> np.ndarray:
    """Greedy k-means++ seeding under the weighted distance (ENRC Eq. 2): indices of k rows of Z.

    As in Arthur & Vassilvitskii (2007, §5): each new centre is the best (lowest
    resulting potential) of ``n_trials = 2 + floor(ln k)`` candidates drawn with
    probability proportional to the current squared distance.  The plain variant
    (one candidate, :func:`methods.base.kmeans_plusplus`) more often seeds two
    centres in one cluster when many dimensions carry only noise.
    """
    n = Z.shape[0]
    if k > n:
        raise ValueError(f"n_clusters = {k} exceeds the number of samples n = {n}")
    trials = n_trials if n_trials is not None else 2 + int(np.log(k))
    w = np.asarray(weights, dtype=np.float64)
    idx = [int(rng.integers(n))]
    d2 = ((Z - Z[idx[0]]) ** 2 * w).sum(1)
    for _ in range(1, k):
        total = d2.sum()
        if total <= 0:
            cand = rng.integers(n, size=trials)
        else:
            cand = rng.choice(n, size=trials, p=d2 / total)
        dc = ((Z[None, :, :] - Z[cand][:, None, :]) ** 2 * w).sum(-1)  # (trials, n)
        pots = np.minimum(d2[None, :], dc).sum(1)
        j = int(pots.argmin())
        idx.append(int(cand[j]))
        d2 = np.minimum(d2, dc[j])
    return np.asarray(idx)


def weighted_kmeans(Z: np.ndarray, k: int, weights: np.ndarray, rng: np.random.Generator, n_init: int = 3,
                    max_iter: int = 100) -> tuple[np.ndarray, np.ndarray, float]:
    """Weighted k-means: greedy k-means++ seeding (weighted, ENRC Eq. 2) + Lloyd, best of ``n_init`` by inertia.

    Returns ``(centers (k, D), labels (n,), inertia)``.
    """
    w = np.asarray(weights, dtype=np.float64)
    best: tuple[np.ndarray, np.ndarray, float] | None = None
    for _ in range(max(1, int(n_init))):
        idx = greedy_kmeans_plusplus(Z, k, rng, weights=w)
        C, lab = weighted_lloyd(Z, Z[idx], w, max_iter)
        inertia = float((((Z - C[lab]) ** 2) * w).sum())
        if best is None or inertia < best[2]:
            best = (C, lab, inertia)
    assert best is not None
    return best


class LostCenterMonitor:
    """Counts how often each centre got no points in a mini-batch (ENRC §2.8).

    A centre is reinitialised when its count exceeds the threshold ``ceil(sqrt(iter))``
    (iter counted from 1), which grows during training so that early, rapid
    assignment changes do not trigger needless reinitialisations.
    """

    def __init__(self, n_centers: int) -> None:
        self.counts = np.zeros(int(n_centers), dtype=np.int64)

    def update(self, batch_counts: torch.Tensor, iteration: int) -> np.ndarray:
        """Record one batch; returns the global indices of centres due for reinitialisation."""
        empty = batch_counts.detach().cpu().numpy() == 0
        self.counts[empty] += 1
        threshold = math.ceil(math.sqrt(max(int(iteration), 1)))
        return np.flatnonzero(self.counts > threshold)

    def reset(self, g: int) -> None:
        """After reinitialising centre g its count starts again at zero."""
        self.counts[g] = 0


@torch.no_grad()
def reinitialize_center(layer: ClusteringLayer, s: int, k: int, z_sample: torch.Tensor, n_steps: int = 10) -> int:
    """ENRC §2.8: re-seed lost centre k of clustering s from a sample of embedded points.

    ``z_sample`` are embedded (unrotated) points, e.g. n_s = 1000 drawn from the
    data.  Among clustering s's clusters on that sample, the one with the highest
    compression loss (its term of Eq. 4: mean weighted distance to its centre) is
    chosen; its point farthest from that centre becomes centre k; then ``n_steps``
    (l = 10) weighted k-means steps run on the sample in clustering s's space.
    The centre's Eq. (7) count is reset to 1.  Returns the index of the cluster that
    was split.
    """
    lo, hi = layer.offsets[s], layer.offsets[s + 1]
    beta = layer.distance_weights()[s].detach().double().cpu().numpy()
    space = layer.rotate(z_sample) if layer.centers_space == "rotated" else z_sample
    P = space.detach().double().cpu().numpy()
    C = layer.centers[lo:hi].detach().double().cpu().numpy()
    if layer.centers_space == "embedded":
        # distances are measured after rotation: ||V^T (z - mu)||^2_beta = (z - mu)^T (V diag(beta) V^T) (z - mu)
        Vn = layer.V.detach().double().cpu().numpy()
        P, C = P @ Vn, C @ Vn
    d = ((P[:, None, :] - C[None, :, :]) ** 2 * beta).sum(-1)
    lab = d.argmin(1)
    dmin = d[np.arange(len(P)), lab]
    loss = np.array([dmin[lab == j].mean() if (lab == j).any() else -np.inf for j in range(hi - lo)])
    worst = int(loss.argmax())
    members = np.flatnonzero(lab == worst)
    far = members[dmin[members].argmax()]
    C[k] = P[far]
    C, _ = weighted_lloyd(P, C, beta, n_steps)
    if layer.centers_space == "embedded":
        C = C @ np.linalg.pinv(Vn)  # back to the embedded space
    layer.centers_mb.centers[lo:hi] = torch.as_tensor(C, dtype=layer.centers.dtype, device=layer.centers.device)
    layer.centers_mb.reset_count(lo + k)
    return worst


def orthogonality_error(V: torch.Tensor) -> float:
    """``||V^T V - I||_F``: how far V is from a rotation/reflection."""
    I = torch.eye(V.shape[1], dtype=V.dtype, device=V.device)
    return float(torch.linalg.norm(V.T @ V - I))
