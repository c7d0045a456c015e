"""ACe/DeC+DCN: a cluster space and a shared space in the embedding (Miklautz et al., IJCAI 2021).

ACe/DeC is the ENRC layer (:mod:`methods.clustering_layer`) with two spaces:
``beta_cs = sigmoid(b)`` weighs the cluster space and ``beta_ss = 1 - beta_cs``
the shared space (§2.1).  The cluster space holds k centres, the shared space one
centre, the data mean.  The loss (Eq. 5) has no trade-off hyperparameter:

    L = L_cluster + L_shared + L_rec
      = sum_k sum_{z in C_k} ||V^T z - V^T mu_k||^2_{beta_cs}
        + sum_z ||V^T z - V^T mu||^2_{beta_ss} + sum_x ||x - dec(V V^T z)||^2

(here as means over the mini-batch).  ``reduction`` sets the scale of the terms:
``"sum"`` (default) is Eq. (5) as printed, L_rec the squared L2 norm over the D_in
input values; ``"mean"`` is the scaling of the authors' implementation (ClustPy's
ENRC module, which ACe/DeC shares; read, not copied): L_rec is the mean squared error
over the input elements (``torch.nn.MSELoss``, i.e. divided by D_in) and
L_cluster + L_shared is divided by the number of spaces, 2.  Up to a constant factor,
which Adam ignores, "mean" weights L_rec by 2 / D_in against the space terms (1/392 on
MNIST): far more clustering pressure on the encoder.  Measured on MNIST-Full (the seed-0
FC AE, 8k + 2k pretraining, ``init="kmeans"``, 10,000 iterations, lr 1e-3 halved at 5,000;
``benchmark/scripts/quality_runs.py acedec-mnist --reduction ...``): "sum" NMI 0.833,
"mean" 0.632, down from 0.766 after the initialisation, so "sum" stays the default.

Centres live in the embedded space and enter rotated (``V^T mu_k``), as written in
Eq. (5); they follow the mini-batch k-means update (ENRC Eqs. 6-7, alpha = 0.5), the
shared centre included.

Initialisation (§2.2): V random orthogonal; shared centre = the mean of the
embedding; cluster centres from k-means (greedy weighted k-means++ and Lloyd, best
of ``kmeans_n_init``); then V and b are trained with the network and the centres
fixed (``init_max_iter`` steps of L_cluster + L_shared + L_rec).
``init_rounds > 1`` repeats this and keeps the lowest objective (ENRC's scheme; the
ACe/DeC paper describes one round).  Two variants of the first step:

- ``init="split"`` (default, the paper's text): every dimension randomly assigned to
  the cluster or the shared space (beta_cs = 0.9 or 0.1, the "strong" weight of ENRC
  §2.6; at least one dimension each) and k-means on the cluster-space dimensions.
- ``init="kmeans"`` (a deviation, for short budgets): beta_cs = 0.5 in every
  dimension and k-means on the whole rotated embedding; the split is then learnt.

How beta enters the distance (``beta_weighting``; the extracted paper text lacks the
formula of ``||h - g||^2_beta``).  "linear" (default) is ENRC Eq. 2,
``sum_i beta[i] (h[i] - g[i])^2``; "squared" is ``sum_i (beta[i] (h[i] - g[i]))^2``, what
the authors' implementation computes.  Under "linear" the gradient of the space terms
w.r.t. ``beta_cs[i]`` is ``W_i - T_i`` (within-cluster minus total scatter of rotated
dimension i), never positive, so every beta_cs grows and ``n_cluster_dims_`` ends at D;
under "squared" ``beta_cs[i]`` has the interior optimum ``T_i / (W_i + T_i)``
(tests/test_clustering_layer.py).  Measured, paper init (``init="split"``), 20,000
iterations, lr 1e-3 without decay, SYNTH-25 (2 cluster + 25 noise dimensions) on the
pretrained linear AEs of seeds 0-3 (``quality_runs.py acedec-synth --seeds 0 1 2 3 --iters 20000
--lr-step 20000 --beta-weighting linear|squared``):

=========  ================================  ===========================
weighting  NMI, AE seeds 0 / 1 / 2 / 3        n_cluster_dims_ (truth: 2)
=========  ================================  ===========================
linear     1.00 / 1.00 / 1.00 / 1.00          27 / 27 / 27 / 27
squared    0.09 / 0.05 / 0.49 / 0.09          2 / 2 / 1 / 2
=========  ================================  ===========================

("squared" with ``init="kmeans"``: NMI 0.37 / 0.30 / 0.51 / 0.50, 2 / 1 / 1 / 2 dimensions.)

So "squared" gets the number of cluster-space dimensions right but (our reading) settles
on the random initial split before the encoder has moved the clusters into it, and
"linear" recovers the clusters but cannot report a shared space.  On MNIST-Full
(seed-0 FC AE, ``init="kmeans"``, 10,000 iterations) both give NMI 0.83 and 10 of 10
cluster-space dimensions (beta_cs 0.61-0.80 under "squared", 0.98 under "linear"),
where ACe/DeC Table 3 reports 6.  Hence "linear" stays the default, and Table 3's
dimension counts are not reproduced.

Budget (measured; the paper states no iteration count for ACe/DeC).  SYNTH-25
(n = 12,000, generators/synth.py) on the project's pretrained linear AEs
(``pretrain(ds, "linear", seed, "quick")``; AE + k-means NMI 0.04 / 0.12 / 0.33 / 0.07
for seeds 0-3, like the paper's 0.11), lr 1e-3, no lr decay, batch 256:

======================================  ===========================  ===========
setting                                 NMI, AE seeds 0 / 1 / 2 / 3  wall / run
======================================  ===========================  ===========
split, 20,000 iterations                1.00 / 1.00 / 1.00 / 1.00    165-240 s*
kmeans, 20,000 iterations               1.00 / 0.50 / 0.51 / 1.00    240-300 s*
kmeans, 2,000 iterations (old default)  0.41 / 0.07                  14-23 s
======================================  ===========================  ===========

(* 2-core machine shared by 4-5 jobs; ~70 CPU-s per 20,000-iteration run.)  So
with the paper's init ACe/DeC reproduces the paper's SYNTH-25 1.00 +- 0.00, but
only at a budget of ~20,000 iterations (the ENRC joint-phase budget).  Our
reading (not separately measured): the joint phase must train the *encoder*
until the noise dimensions' image is orthogonal to the cluster subspace (the
pretrained AE's cluster and noise images have principal-angle cosines 0.2-0.3,
so no rotation V alone separates them), which is what the SP §1.6 argument ("the reconstruction error will force V to be
orthogonal") needs.  The suites therefore run SYNTH with ``max_iter = 20000``
and ``lr_step = 20000`` for ACe/DeC and, for the same budget, DCN.  Shorter
budgets need the "kmeans" init and an orthogonally initialised AE (the unit
tests).  Measured with throw-away scripts calling this class and ``pretrain``.

+Aug (§2.2, ``augmentation=f``): with ``x_aug = f(x)`` and ``z_aug = enc(x_aug)``,
the cluster loss also pulls ``V^T z_aug`` to the centre of the *original* point
(``dist_{beta_cs}(V^T z_aug, V^T mu_k)``).  "We reconstruct the augmented data point
x_aug from the shared space and the original x from the clustered space" is
implemented as a swap of the two spaces (our reading; the supplement with the
details is not available): ``x_aug`` is decoded from the original's cluster part
plus the augmented point's shared part, ``x`` from the augmented point's cluster
part plus its own shared part, the parts being ``beta_cs * V^T z`` and
``beta_ss * V^T z``.  So the cluster space must be invariant to the augmentation
and what the augmentation changes must live in the shared space.  Each loss term
is the mean of its original and augmented versions.  ``loss_`` is always the
objective without augmentation (deterministic, comparable across runs).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

import numpy as np
import torch

from methods.autoencoders import Autoencoder
from methods.base import DIVERGENCE_FACTOR, check_finite_loss, check_fit_input, minibatches
from methods.checkpoint import FitCheckpoint
from methods.clustering_layer import (
    STRONG_BETA,
    ClusteringLayer,
    SigmoidBetas,
    compression_terms,
    random_orthogonal,
    weighted_kmeans,
)
from methods.layer_estimator import LayerClusteringEstimator, reconstruction_error, squared_error
from methods.space_split import BETA_POWERS, CLUSTER_SPACE_THRESHOLD, DEFAULT_BETA_WEIGHTING, in_cluster_space

#: ``ACeDeC.reduction``: "sum" is Eq. (5) as printed, "mean" the authors' implementation's scaling.
REDUCTIONS = ("sum", "mean")


class ACeDeC(LayerClusteringEstimator):
    """ACe/DeC+DCN (IJCAI 2021): DCN with a learned cluster space and shared space.

    Parameters
    ----------
    n_clusters : int
        k, the number of clusters.
    autoencoder : Autoencoder
        The pretrained network (DEC's d-500-500-2000-10, or a linear AE for SYNTH).
    augmentation : callable or None
        ``f(x_batch) -> x_aug`` of the same shape (e.g. :class:`methods.augment.Augmenter`)
        for ACe/DeC+Aug.
    max_iter, batch_size : int
        Mini-batch iterations of the joint phase, and the batch size.
    lr, beta_lr : float
        Adam learning rates of the network and V, and of b.
    init : {"split", "kmeans"}
        First step of the §2.2 initialisation (see the module docstring): "split"
        (default) is the paper's random assignment of dimensions; "kmeans" starts from
        beta_cs = 0.5 and k-means on the whole rotated embedding (better at short budgets).
    kmeans_n_init : int
        Restarts of the initial k-means (best inertia kept).
    reduction : {"sum", "mean"}
        How the loss terms are scaled (see the module docstring): "sum" (default) is
        Eq. (5) as printed; "mean" is the authors' implementation (L_rec the mean over
        input elements, the two space terms averaged).
    beta_weighting : {"linear", "squared"}
        How beta enters the distance (:data:`methods.space_split.BETA_POWERS` and
        the module docstring): "linear" (default) is ``sum_i beta[i] diff[i]^2`` (ENRC
        Eq. 2 as printed), under which every beta_cs only grows, so the clustering is
        right but ``n_cluster_dims_`` ends at D; "squared" is ``sum_i (beta[i] diff[i])^2``
        (the authors' implementation), under which beta_cs[i] has the interior optimum
        ``T_i / (W_i + T_i)`` and dimensions without cluster structure stay shared.
    lr_step, lr_gamma, alpha, init_rounds, init_max_iter, reinit, reinit_sample,
    reinit_steps, tol, divergence_factor, warmup_iter, device, random_state, progress :
        As for :class:`methods.enrc.ENRC` (``warmup_iter`` defaults to 0 here: the paper's schedule).

    Attributes
    ----------
    labels_ : (n,) cluster labels (closest centre in the cluster space).
    betas_ : (2, D) rows beta_cs and beta_ss; betas_init_ the same after initialisation.
    n_cluster_dims_ : number of rotated dimensions with beta_cs > CLUSTER_SPACE_THRESHOLD
        (0.55, :mod:`methods.space_split`; ACe/DeC Table 3).
    cluster_centers_ : (k, D) centres in the rotated space (``V^T mu_k``, the space of ``transform``);
    shared_center_ : (D,) the shared-space centre there.
    V_, loss_, loss_terms_, init_loss_, n_iter_, reinit_events_, converged_, autoencoder_.
    """

    _per_cluster_mean = False
    _centers_space = "embedded"

    def __init__(self, n_clusters: int = 10, autoencoder: Autoencoder | None = None, *,
                 augmentation: Callable[[torch.Tensor], torch.Tensor] | None = None, max_iter: int = 2000,
                 batch_size: int = 256, lr: float = 1e-3, beta_lr: float = 1e-2, lr_step: int = 2000,
                 lr_gamma: float = 0.5, alpha: float = 0.5, init_rounds: int = 1, init_max_iter: int = 100,
                 reinit: bool = True, reinit_sample: int = 1000, reinit_steps: int = 10,
                 init: str = "split", kmeans_n_init: int = 10, reduction: str = "sum",
                 beta_weighting: str = DEFAULT_BETA_WEIGHTING, tol: float | None = None,
                 divergence_factor: float | None = DIVERGENCE_FACTOR, warmup_iter: int = 0,
                 device: str | None = None, random_state: int | None = None, progress: bool = True) -> None:
        self.n_clusters = n_clusters
        self.init = init
        self.kmeans_n_init = kmeans_n_init
        self.reduction = reduction
        self.beta_weighting = beta_weighting
        self.autoencoder = autoencoder
        self.augmentation = augmentation
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.lr = lr
        self.beta_lr = beta_lr
        self.lr_step = lr_step
        self.lr_gamma = lr_gamma
        self.alpha = alpha
        self.init_rounds = init_rounds
        self.init_max_iter = init_max_iter
        self.reinit = reinit
        self.reinit_sample = reinit_sample
        self.reinit_steps = reinit_steps
        self.tol = tol
        self.divergence_factor = divergence_factor
        self.warmup_iter = warmup_iter
        self.device = device
        self.random_state = random_state
        self.progress = progress

    def _cluster_counts(self) -> list[int]:
        k = self.n_clusters
        if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 2:
            raise ValueError(f"n_clusters must be an integer >= 2; got {k!r}")
        if self.init not in ("split", "kmeans"):
            raise ValueError(f"init must be 'split' (ACe/DeC §2.2) or 'kmeans'; got {self.init!r}")
        if self.beta_weighting not in BETA_POWERS:
            raise ValueError(f"beta_weighting must be one of {', '.join(map(repr, BETA_POWERS))}; "
                             f"got {self.beta_weighting!r}")
        if self.reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {', '.join(map(repr, REDUCTIONS))}; got {self.reduction!r}")
        if not isinstance(self.kmeans_n_init, numbers.Integral) or isinstance(self.kmeans_n_init, bool) \
                or self.kmeans_n_init < 1:
            raise ValueError(f"kmeans_n_init must be a positive integer; got {self.kmeans_n_init!r}")
        if self.augmentation is not None and not callable(self.augmentation):
            raise ValueError(f"augmentation must be None or a callable batch -> batch; got {self.augmentation!r}")
        if isinstance(self.autoencoder, Autoencoder) and self.autoencoder.embedding_dim < 2:
            raise ValueError("autoencoder: ACe/DeC needs an embedding of at least 2 dimensions "
                             f"(a cluster and a shared space); got {self.autoencoder.embedding_dim}")
        return [int(k), 1]

    def _set_scales(self, X: np.ndarray) -> None:
        """The weights of the space terms and of L_rec under ``reduction`` (see the module docstring)."""
        d_in = int(np.prod(X.shape[1:]))
        self._space_scale, self._rec_scale = (1.0, 1.0) if self.reduction == "sum" else (0.5, 1.0 / d_in)

    def _prepare_resume(self, X: np.ndarray) -> None:
        self._set_scales(X)

    # ------------------------------------------------------------- §2.2 initialisation
    def _initialize(self, ae: Autoencoder, X: np.ndarray, Z: np.ndarray, rng: np.random.Generator,
                    gen: torch.Generator, device: torch.device,
                    checkpoint: FitCheckpoint | None = None) -> ClusteringLayer:
        k = int(self.n_clusters)
        D, n = Z.shape[1], Z.shape[0]
        self._set_scales(X)
        cs_w, rec_w = self._space_scale, self._rec_scale
        Zt = torch.as_tensor(Z, device=device)
        for p in ae.parameters():
            p.requires_grad_(False)
        best: tuple[float, ClusteringLayer] | None = None
        losses = []
        try:
            for _ in range(int(self.init_rounds)):
                V0 = random_orthogonal(D, gen)
                if self.init == "split":
                    in_cs = rng.random(D) < 0.5
                    if not in_cs.any():
                        in_cs[rng.integers(D)] = True
                    if in_cs.all():
                        in_cs[rng.integers(D)] = False
                    beta_cs = np.where(in_cs, STRONG_BETA, 1.0 - STRONG_BETA)
                    km_weights = in_cs.astype(np.float64)
                else:  # "kmeans": no prior split, k-means on the whole embedding
                    beta_cs = np.full(D, 0.5)
                    km_weights = np.ones(D)
                Zr = Z.astype(np.float64) @ V0.double().numpy()
                _, lab, _ = weighted_kmeans(Zr, k, km_weights, rng, n_init=int(self.kmeans_n_init))
                C = np.stack([Z[lab == j].mean(0) if (lab == j).any() else Z[rng.integers(n)] for j in range(k)]
                             + [Z.mean(0)])
                layer = ClusteringLayer(V0, SigmoidBetas(beta_cs), [k, 1], torch.as_tensor(C, dtype=torch.float32),
                                        alpha=float(self.alpha), centers_space="embedded",
                                        beta_power=BETA_POWERS[self.beta_weighting]).to(device)
                opt = torch.optim.Adam([{"params": [layer.V], "lr": float(self.lr)},
                                        {"params": list(layer.betas.parameters()), "lr": float(self.beta_lr)}])
                batches = minibatches(n, int(self.batch_size), rng)
                Xt = torch.from_numpy(X)
                for t in range(1, int(self.init_max_iter) + 1):
                    idx = next(batches)
                    zb = Zt[torch.as_tensor(idx, device=device)]
                    xb = Xt[idx].to(device)
                    d = layer.distances(zb)
                    _, g = layer.assign(d)
                    terms = layer.compression_loss(d, g, per_cluster_mean=False, terms=True)
                    rec = squared_error(xb, ae.decode(layer.unrotate(layer.rotate(zb))))
                    check_finite_loss(t, {"init L_cluster": terms[0], "init L_shared": terms[1], "init L_rec": rec})
                    opt.zero_grad(set_to_none=True)
                    (cs_w * terms.sum() + rec_w * rec).backward()
                    opt.step()
                with torch.no_grad():
                    _, per_s = compression_terms(layer, Zt, per_cluster_mean=False)
                    total = cs_w * float(per_s.sum()) + rec_w * reconstruction_error(ae, layer, X, Zt)
                losses.append(total)
                if best is None or total < best[0]:
                    best = (total, layer)
        finally:
            for p in ae.parameters():
                p.requires_grad_(True)
        assert best is not None
        self.init_loss_ = best[0]
        self.init_losses_ = np.asarray(losses)
        return best[1]

    # ------------------------------------------------------------- Eq. (5)
    def _batch_loss(self, ae: Autoencoder, layer: ClusteringLayer, xb: torch.Tensor, z: torch.Tensor,
                    gidx: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        betas = layer.betas()
        terms = layer.compression_loss(layer.distances(z, betas), gidx, per_cluster_mean=False, terms=True)
        zr = layer.rotate(z)
        if self._augment is None:
            rec = squared_error(xb, ae.decode(layer.unrotate(zr)))
        else:
            x_aug = self._augment(xb)
            if tuple(x_aug.shape) != tuple(xb.shape):
                raise ValueError(f"augmentation must keep the batch shape {tuple(xb.shape)}; "
                                 f"got {tuple(x_aug.shape)}")
            z_aug = ae.encode(x_aug)
            # the augmented point is pulled to the centroid of the original point (gidx)
            terms_aug = layer.compression_loss(layer.distances(z_aug, betas), gidx, per_cluster_mean=False,
                                               terms=True)
            terms = (terms + terms_aug) / 2
            zr_aug = layer.rotate(z_aug)
            cs, ss = betas[0], betas[1]
            rec_x = squared_error(xb, ae.decode(layer.unrotate(cs * zr_aug + ss * zr)))
            rec_aug = squared_error(x_aug, ae.decode(layer.unrotate(cs * zr + ss * zr_aug)))
            rec = (rec_x + rec_aug) / 2
        terms = terms * self._space_scale
        rec = rec * self._rec_scale
        total = terms[0] + terms[1] + rec
        return total, {"L_cluster": terms[0], "L_shared": terms[1], "L_rec": rec}

    def _objective(self, per_clustering: np.ndarray, rec: float) -> dict[str, float]:
        cs = self._space_scale
        return {"L_cluster": cs * float(per_clustering[0]), "L_shared": cs * float(per_clustering[1]),
                "L_rec": self._rec_scale * float(rec)}

    def _publish(self, labels: np.ndarray) -> None:
        layer = self.clustering_layer_
        self.labels_ = labels[:, 0].astype(np.int64)
        self.betas_ = layer.betas().detach().cpu().numpy()
        self.n_cluster_dims_ = int(in_cluster_space(self.betas_[0]).sum())
        self.V_ = layer.V.detach().cpu().numpy().copy()
        C = layer.rotated_centers().detach().cpu().numpy()
        self.cluster_centers_ = C[:-1].copy()
        self.shared_center_ = C[-1].copy()

    def predict(self, X: np.ndarray) -> np.ndarray:
        """``(n,)`` cluster labels of new data (closest centre in the cluster space)."""
        return self._predict_all(X)[:, 0].astype(np.int64)

    # ------------------------------------------------------------- interpretability (Figs. 1b and 3)
    @torch.no_grad()
    def reconstruct_spaces(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """ACe/DeC Fig. 1b: reconstructions from the cluster space only and from the shared space only.

        The paper's Fig. 1b caption: "[middle] Cluster information: Reconstructions
        using only dimensions of the cluster space ... [bottom] Shared information:
        Reconstructions from the shared space dimensions".  The hardening of the
        soft split is in the paper's supplement (SP Sec. 1.4), which is not
        available; we use the same hard split as ``n_cluster_dims_`` (ACe/DeC Table
        3): a rotated dimension j belongs to the cluster space iff
        ``beta_cs[j] > CLUSTER_SPACE_THRESHOLD`` (0.55).  With ``P_cs`` the diagonal 0/1 mask of those
        dimensions, ``P_ss = I - P_cs`` and ``m = V^T mu`` the rotated shared centre
        (``shared_center_``; it starts as the data mean and follows the
        mini-batch mean of all points, ENRC Eqs. 6-7):

            x_cluster_only = dec(V (P_cs V^T z + P_ss m))
            x_shared_only  = dec(V (P_ss V^T z + P_cs m))

        i.e. the dimensions of the *other* space are not dropped (decoding zeros
        would leave the data manifold) but set to their centre, the coordinates
        every point shares.  Replacing the cluster part by the shared centre rather
        than by the point's own cluster centre keeps all cluster identity out of
        the shared-only image.  Hard 0/1 masks rather than beta-weighted mixing
        (``beta_cs * V^T z + beta_ss * m``) because betas near but not at 0/1 would
        leak a fraction of the other space's information into each image.
        The two codes are :func:`split_space_codes`.

        Returns two arrays shaped like the network's reconstruction of X (the
        input shape).  Raises ``ValueError`` if the model is not fitted.
        """
        self._check_fitted()
        X = check_fit_input(X, self.autoencoder_)
        layer = self.clustering_layer_
        Zr = self.transform(X)
        cs_code, ss_code = split_space_codes(Zr, self.betas_[0], self.shared_center_)
        ae = self.autoencoder_
        was = ae.training
        ae.eval()
        try:
            V = layer.V.detach()
            out = []
            for code in (cs_code, ss_code):
                z = torch.as_tensor(code, dtype=V.dtype, device=V.device) @ V.T
                out.append(ae.decode(z).cpu().numpy())
        finally:
            ae.train(was)
        return out[0], out[1]


def split_space_codes(Z_rot: np.ndarray, beta_cs: np.ndarray, center: np.ndarray,
                      threshold: float = CLUSTER_SPACE_THRESHOLD) -> tuple[np.ndarray, np.ndarray]:
    """Rotated codes of the Fig. 1b reconstructions (see :meth:`ACeDeC.reconstruct_spaces`).

    ``Z_rot`` ``(n, D)`` are rotated embeddings ``V^T z``, ``beta_cs`` ``(D,)`` the
    cluster-space weights, ``center`` ``(D,)`` the rotated shared centre ``V^T mu``.
    Returns ``(P_cs Z_rot + P_ss center, P_ss Z_rot + P_cs center)`` with ``P_cs``
    the dimensions where ``beta_cs > threshold``.
    """
    Z_rot = np.asarray(Z_rot, dtype=np.float64)
    beta_cs = np.asarray(beta_cs, dtype=np.float64).ravel()
    center = np.asarray(center, dtype=np.float64).ravel()
    if Z_rot.ndim != 2 or Z_rot.shape[1] != beta_cs.size or center.size != beta_cs.size:
        raise ValueError(f"Z_rot must be (n, D) with D = len(beta_cs) = len(center) = {beta_cs.size}; "
                         f"got Z_rot {Z_rot.shape}, center {center.shape}")
    in_cs = beta_cs > threshold
    return np.where(in_cs, Z_rot, center), np.where(in_cs, center, Z_rot)


def traversal_basis(Z_rot: np.ndarray, betas: np.ndarray) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """The two axes of the ACe/DeC Fig. 3 latent traversal, from rotated embeddings and the betas.

    "The y-axis is the dimension with the highest beta_cs; the x-axis is the first
    principal component of the shared space" (Fig. 3 caption).  The shared space
    is the dimensions outside the cluster space (``beta_cs <= CLUSTER_SPACE_THRESHOLD``)
    other than the y dimension (if there
    is none, the one with the highest ``beta_ss``).  Returns ``(top, shared,
    mean, pc)``: the y dimension, the shared dimensions' indices, the mean of
    ``Z_rot`` and PC1 (a unit vector over ``shared``; SVD of the centred shared
    coordinates).  A point's x coordinate is ``(Z_rot[:, shared] -
    mean[shared]) @ pc``, its y coordinate ``Z_rot[:, top]``.  One source of
    truth for ``benchmark.runner.acedec_traversal`` and the Fig. 3 scatter.
    """
    Zr = np.asarray(Z_rot, dtype=np.float64)
    b_cs, b_ss = np.asarray(betas[0]), np.asarray(betas[1])
    top = int(np.argmax(b_cs))
    shared = ([j for j in np.where(b_cs <= CLUSTER_SPACE_THRESHOLD)[0] if j != top]
              or [j for j in np.argsort(-b_ss) if j != top][:1])
    mean = Zr.mean(0)
    Zs = Zr[:, shared] - mean[shared]
    pc = np.linalg.svd(Zs, full_matrices=False)[2][0] if len(shared) > 1 else np.ones(1)
    return top, np.asarray(shared, dtype=np.int64), mean, pc
