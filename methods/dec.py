"""DEC (Xie, Girshick, Farhadi, ICML 2016) and IDEC (Guo, Gao, Liu, Yin, IJCAI 2017).

DEC (Xie et al. §3.1):

- soft assignment by a Student's t kernel (Eq. 1):
  ``q_ij = (1 + ||z_i - mu_j||^2 / a)^(-(a+1)/2) / sum_j' (...)`` with ``a = alpha = 1``;
- target distribution (Eq. 3): ``p_ij = (q_ij^2 / f_j) / sum_j' (q_ij'^2 / f_j')``,
  ``f_j = sum_i q_ij`` (soft cluster frequencies);
- loss (Eq. 2): ``L_c = KL(P || Q) = sum_i sum_j p_ij log(p_ij / q_ij)``,
  minimised over the encoder and the centres ``mu``; the decoder is dropped.

P is held fixed between updates: every ``update_interval`` iterations it is
recomputed from Q on the full data (DEC §3.1.3; IDEC's ``T``), and training stops
when fewer than ``tol`` of the labels (``argmax_j q_ij``) changed between two
such updates (DEC's 0.1 % criterion).

IDEC (Guo et al. Eq. 5): ``L = L_r + gamma L_c`` with the reconstruction
``L_r = ||x - dec(z)||^2`` kept, so the embedding keeps the data's local
structure; ``gamma = 0.1`` as in IDEC.  ``L_r`` is the mean squared error over
the features (IDEC's Keras ``mse``, for which ``gamma = 0.1`` was chosen) and
``L_c`` the batch mean of the per-point KL (Keras ``kld``).

Both start from the pretrained network with centres from k-means on its
embedding (``kmeans_n_init`` = 20 as in DEC), train with Adam (ACe/DeC:
"all methods use the same training budget, learning rate and optimiser") and
keep the network in eval mode (dropout off, BatchNorm frozen).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from tqdm.auto import tqdm

from baselines.fitted import unfitted_on_error
from methods.autoencoders import Autoencoder
from methods.base import (
    TrainedEmbeddingMixin,
    batch,
    check_finite_loss,
    check_int,
    check_real,
    data_on_device,
    encode_all,
    minibatches,
    start_single_fit,
)
from methods.checkpoint import CHECKPOINT_EVERY_S, FitCheckpoint, record_resume, training
from methods.device import inference_rows


def soft_assignment(z: torch.Tensor, centers: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """Student's t soft assignments Q (DEC Eq. 1), rows sum to 1."""
    d2 = ((z[:, None, :] - centers[None, :, :]) ** 2).sum(-1)
    q = (1.0 + d2 / alpha).pow(-(alpha + 1.0) / 2.0)
    return q / q.sum(1, keepdim=True)


def target_distribution(q: torch.Tensor) -> torch.Tensor:
    """DEC's auxiliary target P (Eq. 3): square Q, divide by the soft cluster frequencies, renormalise rows."""
    w = q ** 2 / q.sum(0, keepdim=True)
    return w / w.sum(1, keepdim=True)


def kl_divergence(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Batch mean of ``sum_j p_ij log(p_ij / q_ij)`` (DEC Eq. 2); 0 log 0 = 0."""
    eps = torch.finfo(q.dtype).tiny
    return (p * (torch.log(p.clamp_min(eps)) - torch.log(q.clamp_min(eps)))).sum(1).mean()


def _flat_diff(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """x_hat − x per sample as (n, features): X may come as (n, d), (n, 1, d) or images for a flat AE,
    and the decoder's output shape need not match it (broadcasting would compute a wrong loss)."""
    return x_hat.reshape(x.shape[0], -1) - x.reshape(x.shape[0], -1)


class DEC(TrainedEmbeddingMixin, TransformerMixin, ClusterMixin, BaseEstimator):
    """Deep Embedded Clustering (Xie et al. 2016).

    Parameters
    ----------
    n_clusters : int (>= 2).
    autoencoder : Autoencoder, pretrained (copied; never modified). DEC trains its encoder only.
    alpha : degrees of freedom of the Student's t kernel (1, as in DEC).
    max_iter, batch_size, lr : mini-batch iterations, batch size, Adam learning rate.
    update_interval : iterations between target-distribution updates (IDEC's T = 140).
    tol : stop when fewer than this fraction of labels changed between two target updates
        (DEC: 0.001); None never stops early.
    kmeans_n_init : k-means restarts for the initial centres (DEC: 20).
    device, random_state, progress : as for :class:`methods.dcn.DCN`.

    Attributes
    ----------
    labels_ : (n,) ``argmax_j q_ij`` of the trained model.
    cluster_centers_ : (k, embedding_dim).
    loss_ : the objective on the full data with P from the final Q (DEC: KL(P||Q)); ``loss_terms_``.
    alpha_ : the Student-t degrees of freedom the model was trained with; :meth:`predict_proba` uses it.
    n_iter_, converged_, autoencoder_, init_labels_.
    """

    _uses_reconstruction = False

    def __init__(self, n_clusters: int = 10, autoencoder: Autoencoder | None = None, *, alpha: float = 1.0,
                 max_iter: int = 2000, batch_size: int = 256, lr: float = 1e-3, update_interval: int = 140,
                 tol: float | None = 0.001, kmeans_n_init: int = 20, device: str | None = None,
                 random_state: int | None = None, progress: bool = True) -> None:
        self.n_clusters = n_clusters
        self.autoencoder = autoencoder
        self.alpha = alpha
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.lr = lr
        self.update_interval = update_interval
        self.tol = tol
        self.kmeans_n_init = kmeans_n_init
        self.device = device
        self.random_state = random_state
        self.progress = progress

    def _gamma(self) -> float:
        return 1.0

    def _terms(self, ae: Autoencoder, xb: torch.Tensor, z: torch.Tensor, p: torch.Tensor,
               centers: torch.Tensor, alpha: float) -> dict[str, torch.Tensor]:
        terms = {"kl": kl_divergence(p, soft_assignment(z, centers, alpha))}
        if self._uses_reconstruction:
            terms["reconstruction"] = torch.mean(_flat_diff(ae.decode(z), xb) ** 2)
        return terms

    def _total(self, terms: dict[str, Any]) -> Any:
        total = self._gamma() * terms["kl"]
        if "reconstruction" in terms:
            total = total + terms["reconstruction"]
        return total

    @unfitted_on_error
    def fit(self, X: np.ndarray, y: Any = None, *, checkpoint: str | os.PathLike | None = None,
            checkpoint_every: float = CHECKPOINT_EVERY_S) -> DEC:
        """k-means on the pretrained embedding, then self-training on the target distribution.

        ``checkpoint``: a snapshot file, as for :meth:`methods.enrc.ENRC.fit` (the k-means
        initialisation runs again on resume; it is deterministic under ``random_state``).
        """
        alpha = check_real(self.alpha, "alpha")
        interval = check_int(self.update_interval, "update_interval", 1)
        self._gamma()  # validates IDEC's gamma
        start = start_single_fit(self, X)
        X, ae, device, tol, n = start.X, start.autoencoder, start.device, start.tol, start.X.shape[0]
        self.init_labels_ = start.init_labels
        centers = torch.nn.Parameter(start.init_centers)
        opt = torch.optim.Adam([*ae.parameters(), centers], lr=start.lr)
        Xt = data_on_device(X, device)
        rng = start.rng
        batches = minibatches(n, start.batch_size, rng)
        P = torch.empty(0)
        prev: np.ndarray | None = None
        converged = False
        ckpt = FitCheckpoint(checkpoint, self, X, self.autoencoder, checkpoint_every) if checkpoint is not None else None
        resume = ckpt.resume(start.max_iter) if ckpt is not None else None
        first = 0
        if resume is not None:
            ae.load_state_dict(resume["autoencoder"])
            with torch.no_grad():
                centers.copy_(resume["centers"])
            opt.load_state_dict(resume["optimizer"])
            batches.restore(resume["batches"])
            rng.bit_generator.state = resume["rng"]
            P = resume["P"].to(device)
            prev = None if resume["prev"] is None else resume["prev"].numpy().copy()
            first = int(resume["iteration"])

        def state_of() -> dict[str, Any]:
            return {"autoencoder": ae.state_dict(), "centers": centers.detach().clone(), "optimizer": opt.state_dict(),
                    "batches": batches.state(), "rng": rng.bit_generator.state, "P": P.detach().cpu().clone(),
                    "prev": None if prev is None else torch.from_numpy(prev.copy())}

        it = first
        bar = tqdm(range(first + 1, start.max_iter + 1), desc=type(self).__name__, disable=not self.progress,
                   leave=False, initial=first, total=start.max_iter)
        with training(ckpt):
            for it in bar:
                if (it - 1) % interval == 0:  # DEC §3.1.3: refresh P from the full data
                    Q = self._soft_all(ae, centers.detach(), X, device, alpha)
                    labels = Q.argmax(1).cpu().numpy()
                    if tol is not None and prev is not None and float(np.mean(labels != prev)) < tol:
                        converged = True
                        it -= 1
                        break
                    prev = labels
                    P = target_distribution(Q)
                idx = next(batches)
                xb = batch(Xt, idx, device)
                z = ae.encode(xb)
                terms = self._terms(ae, xb, z, P[torch.as_tensor(idx, device=device)], centers, alpha)
                check_finite_loss(it, terms)
                loss = self._total(terms)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if self.progress and it % 50 == 0:
                    bar.set_postfix({k_: f"{float(v.detach()):.3g}" for k_, v in terms.items()})
                if ckpt is not None:
                    ckpt.step(it, state_of)
        bar.close()

        self.autoencoder_ = ae
        self.alpha_ = alpha  # the kernel the centres were trained under; predict_proba uses it, not a later set_params
        self.cluster_centers_ = centers.detach().cpu().numpy().copy()
        with torch.no_grad():
            Q = self._soft_all(ae, centers.detach(), X, device, alpha)
            self.labels_ = Q.argmax(1).cpu().numpy().astype(np.int64)
            terms_all = {"kl": float(kl_divergence(target_distribution(Q), Q))}
            if self._uses_reconstruction:
                sq, count = 0.0, 0
                rows = inference_rows(device)
                for i in range(0, n, rows):
                    xb = torch.as_tensor(X[i:i + rows], device=device)
                    sq += float((_flat_diff(ae(xb), xb) ** 2).sum())
                    count += xb.numel()
                terms_all["reconstruction"] = sq / count
        self.loss_terms_ = terms_all
        self.loss_ = float(self._total(terms_all))
        self.n_iter_ = it
        self.converged_ = converged
        record_resume(self, resume, ckpt)
        if ckpt is not None:
            ckpt.discard()
        return self

    @staticmethod
    @torch.no_grad()
    def _soft_all(ae: Autoencoder, centers: torch.Tensor, X: np.ndarray, device: torch.device,
                  alpha: float) -> torch.Tensor:
        Z = torch.as_tensor(encode_all(ae, X, device), device=device)
        return torch.cat([soft_assignment(Z[i:i + 4096], centers, alpha) for i in range(0, len(Z), 4096)])

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Soft assignments Q (DEC Eq. 1) of X under the trained model, shape (n, k)."""
        Xf, device, centers = self._fitted_input(X)
        return self._soft_all(self.autoencoder_, centers, Xf, device, self.alpha_).cpu().numpy()

    def predict(self, X: np.ndarray) -> np.ndarray:
        """``argmax_j q_ij`` of X."""
        return self.predict_proba(X).argmax(1).astype(np.int64)


class IDEC(DEC):
    """Improved DEC (Guo et al. 2017): DEC plus the reconstruction loss, ``L = L_r + gamma L_c`` (Eq. 5).

    ``gamma`` (default 0.1, IDEC's value) weighs the clustering loss; every other
    parameter and attribute is as for :class:`DEC`; ``loss_terms_`` has ``kl`` and
    ``reconstruction``.
    """

    _uses_reconstruction = True

    def __init__(self, n_clusters: int = 10, autoencoder: Autoencoder | None = None, *, gamma: float = 0.1,
                 alpha: float = 1.0, max_iter: int = 2000, batch_size: int = 256, lr: float = 1e-3,
                 update_interval: int = 140, tol: float | None = 0.001, kmeans_n_init: int = 20,
                 device: str | None = None, random_state: int | None = None, progress: bool = True) -> None:
        super().__init__(n_clusters, autoencoder, alpha=alpha, max_iter=max_iter, batch_size=batch_size, lr=lr,
                         update_interval=update_interval, tol=tol, kmeans_n_init=kmeans_n_init, device=device,
                         random_state=random_state, progress=progress)
        self.gamma = gamma

    def _gamma(self) -> float:
        return check_real(self.gamma, "gamma", 0.0, strict=False)
