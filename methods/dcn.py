"""DCN, the Deep Clustering Network (Yang, Fu, Sidiropoulos, Hong, ICML 2017), as compared in ACe/DeC.

Loss (ACe/DeC §2.1, "the loss function of DCN L = λ/2 L_comp + L_rec"; PROTOCOL.md):

- ``L_comp``: the squared distance of each embedded point ``z = enc(x)`` to its
  (hard-)assigned centre ``mu_{s(x)}``;
- ``L_rec``: the squared reconstruction error ``||x - dec(z)||^2``;

both summed over the features and averaged over the mini-batch (the papers'
sums over points divided by the batch size, as in :mod:`methods.layer_estimator`,
so λ weighs the same quantities as in ACe/DeC).

Optimisation: DCN alternates network updates (centres fixed) with assignment and
centre updates (network fixed).  Like ACe/DeC (§2.1, "an update without
alternation using mini-batch k-means"), each mini-batch iteration here

1. embeds the batch and assigns every point to its nearest centre;
2. updates the assigned centres with DCN's per-cluster-count step
   ``mu_k <- mu_k - (1/c_k)(mu_k - z)`` in its batch form (cumulative counts
   ``c_k``; :class:`methods.base.MiniBatchCenters` with ``alpha=None``);
3. takes one Adam step on ``λ/2 L_comp + L_rec`` against the updated centres.

Centres are initialised by k-means on the pretrained embedding.  The network is
kept in eval mode (dropout off, BatchNorm frozen), as in ACe/DeC's
implementation here, so the embedding that is trained is the one labelled.

With ``augmentation=f`` (ACe/DeC Table 1's "+Aug" rows for DCN): the augmented
point ``f(x)`` is pulled to the centre of the original point and reconstructed
too; each loss term is the mean of its original and augmented versions.
``loss_`` is always the objective without augmentation on the full data.

Also small helpers of the deep single-clustering estimators: nearest-centre
assignment in chunks and the squared reconstruction error.  The parameter checks
and the fit preamble shared with DEC/IDEC (device, network copy, k-means
initialisation) are :func:`methods.base.start_single_fit`.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from tqdm.auto import tqdm

from baselines.fitted import unfitted_on_error
from methods.autoencoders import Autoencoder
from methods.base import (
    MiniBatchCenters,
    TrainedEmbeddingMixin,
    batch,
    check_finite_loss,
    check_real,
    data_on_device,
    encode_all,
    minibatches,
    start_single_fit,
)
from methods.checkpoint import (
    CHECKPOINT_EVERY_S,
    FitCheckpoint,
    augmentation_rng_state,
    record_resume,
    set_augmentation_rng_state,
    training,
)
from methods.device import inference_rows


# --------------------------------------------------------------------------- shared helpers
@torch.no_grad()
def nearest_center(Z: torch.Tensor, centers: torch.Tensor, chunk: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """Index of the nearest centre of each row of Z and the squared distance to it (exact differences)."""
    labels, d2 = [], []
    for i in range(0, Z.shape[0], chunk):
        dist = ((Z[i:i + chunk, None, :] - centers[None, :, :]) ** 2).sum(-1)
        m, a = dist.min(1)
        labels.append(a)
        d2.append(m)
    return torch.cat(labels), torch.cat(d2)


def squared_error(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """Batch mean of the per-sample squared L2 error (summed over features)."""
    return ((x_hat.reshape(x.shape[0], -1) - x.reshape(x.shape[0], -1)) ** 2).sum(1).mean()


@torch.no_grad()
def reconstruction_sq_error(ae: Autoencoder, X: np.ndarray, device: torch.device, chunk: int | None = None) -> float:
    """Mean over all points of ``||x - dec(enc(x))||^2`` in eval mode (``chunk``: rows per pass)."""
    chunk = chunk or inference_rows(device)
    total = 0.0
    for i in range(0, len(X), chunk):
        xb = torch.as_tensor(X[i:i + chunk], device=device)
        total += float(squared_error(xb, ae(xb))) * len(xb)
    return total / len(X)


# --------------------------------------------------------------------------- DCN
class DCN(TrainedEmbeddingMixin, TransformerMixin, ClusterMixin, BaseEstimator):
    """Deep Clustering Network (Yang et al. 2017) with mini-batch centre updates.

    Parameters
    ----------
    n_clusters : int (>= 2).
    autoencoder : Autoencoder, the pretrained network (copied; never modified).
    lambda_ : float >= 0, the weight λ of ``λ/2 L_comp`` (ACe/DeC compares 0.1, 1, 10).
    augmentation : callable ``x_batch -> x_aug`` or None (DCN +Aug).
    max_iter : mini-batch iterations (ACe/DeC: the same budget for every method).
    batch_size : int.
    lr : Adam learning rate of the network (ACe/DeC Fig. 4 sweeps 1e-3·γ).
    kmeans_n_init : k-means restarts of the centre initialisation.
    tol : None, or stop when fewer than this fraction of labels changed over one
        epoch (checked every ``n // batch_size`` iterations).
    device : None (``$NRBENCH_DEVICE``, else CUDA when available), "cpu", "cuda".
    random_state : int or None (batch order and k-means seeding).
    progress : tqdm progress bar.

    Attributes
    ----------
    labels_ : (n,) nearest centre of the trained embedding.
    cluster_centers_ : (k, embedding_dim) centres in the embedding.
    loss_ : ``λ/2 L_comp + L_rec`` on the full data (no augmentation); ``loss_terms_`` the two terms.
    n_iter_, converged_ (tol met), autoencoder_ (the trained copy), init_labels_ (k-means on the pretrained embedding).
    """

    def __init__(self, n_clusters: int = 10, autoencoder: Autoencoder | None = None, *, lambda_: float = 1.0,
                 augmentation: Callable[[torch.Tensor], torch.Tensor] | None = None, max_iter: int = 2000,
                 batch_size: int = 256, lr: float = 1e-3, kmeans_n_init: int = 10, tol: float | None = None,
                 device: str | None = None, random_state: int | None = None, progress: bool = True) -> None:
        self.n_clusters = n_clusters
        self.autoencoder = autoencoder
        self.lambda_ = lambda_
        self.augmentation = augmentation
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.lr = lr
        self.kmeans_n_init = kmeans_n_init
        self.tol = tol
        self.device = device
        self.random_state = random_state
        self.progress = progress

    def __sklearn_is_fitted__(self) -> bool:
        """Fitted once ``fit`` has run; ``lambda_`` (the paper's name) is a parameter, not a fitted attribute."""
        return hasattr(self, "labels_")

    @unfitted_on_error
    def fit(self, X: np.ndarray, y: Any = None, *, checkpoint: str | os.PathLike | None = None,
            checkpoint_every: float = CHECKPOINT_EVERY_S) -> DCN:
        """k-means on the pretrained embedding, then ``max_iter`` joint mini-batch iterations.

        ``checkpoint``: a snapshot file, as for :meth:`methods.enrc.ENRC.fit` (the k-means
        initialisation runs again on resume; it is deterministic under ``random_state``).
        """
        lam = check_real(self.lambda_, "lambda_", 0.0, strict=False)
        if self.augmentation is not None and not callable(self.augmentation):
            raise ValueError(f"augmentation must be None or a callable batch -> batch; got {self.augmentation!r}")
        start = start_single_fit(self, X)
        X, ae, device, rng, tol = start.X, start.autoencoder, start.device, start.rng, start.tol
        n, max_iter, batch_size = X.shape[0], start.max_iter, start.batch_size
        self.init_labels_ = start.init_labels
        centers = MiniBatchCenters(start.init_centers, alpha=None)
        opt = torch.optim.Adam(ae.parameters(), lr=start.lr)
        Xt = data_on_device(X, device)
        batches = minibatches(n, batch_size, rng)
        # a copy: a stateful augmentation (its own generator) starts every fit from the same state
        augment = copy.deepcopy(self.augmentation)
        epoch = max(1, n // min(batch_size, n))
        prev = self.init_labels_
        ckpt = FitCheckpoint(checkpoint, self, X, self.autoencoder, checkpoint_every) if checkpoint is not None else None
        resume = ckpt.resume(max_iter) if ckpt is not None else None
        first = 0
        if resume is not None:
            ae.load_state_dict(resume["autoencoder"])
            centers.centers = resume["centers"].to(device)
            centers.counts = resume["counts"].to(device)
            opt.load_state_dict(resume["optimizer"])
            batches.restore(resume["batches"])
            rng.bit_generator.state = resume["rng"]
            prev = resume["prev"].numpy().copy()
            set_augmentation_rng_state(augment, resume["augment_rng"])
            first = int(resume["iteration"])

        def state_of() -> dict[str, Any]:
            return {"autoencoder": ae.state_dict(), "centers": centers.centers.clone(),
                    "counts": centers.counts.clone(), "optimizer": opt.state_dict(), "batches": batches.state(),
                    "rng": rng.bit_generator.state, "prev": torch.from_numpy(prev.copy()),
                    "augment_rng": augmentation_rng_state(augment)}

        converged = False
        it = first
        bar = tqdm(range(first + 1, max_iter + 1), desc="DCN", disable=not self.progress, leave=False,
                   initial=first, total=max_iter)
        with training(ckpt):
            for it in bar:
                xb = batch(Xt, next(batches), device)
                z = ae.encode(xb)
                with torch.no_grad():
                    assign, _ = nearest_center(z.detach(), centers.centers)
                    mu = centers.update(z.detach(), assign)[assign]
                comp = ((z - mu) ** 2).sum(1).mean()
                rec = squared_error(xb, ae.decode(z))
                if augment is not None:
                    x_aug = augment(xb)
                    if x_aug.shape != xb.shape:
                        raise ValueError(f"augmentation must keep the batch shape {tuple(xb.shape)}; "
                                         f"got {tuple(x_aug.shape)}")
                    z_aug = ae.encode(x_aug)
                    comp = 0.5 * (comp + ((z_aug - mu) ** 2).sum(1).mean())
                    rec = 0.5 * (rec + squared_error(x_aug, ae.decode(z_aug)))
                check_finite_loss(it, {"compression": comp, "reconstruction": rec})
                loss = 0.5 * lam * comp + rec
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if self.progress and it % 50 == 0:
                    bar.set_postfix(comp=f"{float(comp.detach()):.3g}", rec=f"{float(rec.detach()):.3g}")
                if tol is not None and it % epoch == 0:
                    labels = self._assign(ae, centers.centers, X, device)[0]
                    if float(np.mean(labels != prev)) < tol:
                        converged = True
                        break
                    prev = labels
                if ckpt is not None:
                    ckpt.step(it, state_of)
        bar.close()

        self.autoencoder_ = ae
        self.cluster_centers_ = centers.centers.cpu().numpy().copy()
        labels, d2 = self._assign(ae, centers.centers, X, device)
        rec_all = reconstruction_sq_error(ae, X, device)
        self.labels_ = labels
        self.loss_terms_ = {"compression": float(d2.mean()), "reconstruction": rec_all}
        self.loss_ = 0.5 * lam * self.loss_terms_["compression"] + rec_all
        self.n_iter_ = it
        self.converged_ = converged
        record_resume(self, resume, ckpt)
        if ckpt is not None:
            ckpt.discard()
        return self


    @staticmethod
    def _assign(ae: Autoencoder, centers: torch.Tensor, X: np.ndarray,
                device: torch.device) -> tuple[np.ndarray, np.ndarray]:
        Z = torch.as_tensor(encode_all(ae, X, device), device=device)
        lab, d2 = nearest_center(Z, centers)
        return lab.cpu().numpy().astype(np.int64), d2.double().cpu().numpy()

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Nearest centre of the trained embedding of X."""
        Xf, device, centers = self._fitted_input(X)
        return self._assign(self.autoencoder_, centers, Xf, device)[0]
