"""Pieces shared by every deep clustering method: input checks, batching, loss guards, centre updates.

One source of truth for

- :func:`check_fit_input`: X must be finite, non-empty, float32-convertible and
  match the autoencoder's input shape (uint8 images must go through a named
  preprocessing step first; they are never normalised silently);
- :func:`check_finite_loss`: a NaN/inf loss stops training with an error that
  names the iteration and the loss terms (never return labels from a diverged run);
- :class:`LossGrowthGuard`: the same error when a finite loss explodes
  (more than :data:`DIVERGENCE_FACTOR` times its initial value);
- :func:`baselines.fitted.unfitted_on_error`: every deep estimator's ``fit`` forgets an earlier
  fit first and leaves nothing fitted when it raises;
- :func:`encode_all`: the embedding of a whole array, in batches, without grad;
- :class:`MiniBatchCenters`: the per-centre learning-rate mini-batch k-means
  update of ENRC Eqs. (6)-(7) (alpha-discounted counts) and DCN's cumulative
  per-cluster counts (``alpha=None``);
- :func:`start_single_fit`: the fit preamble of the deep single-clustering
  estimators (DCN, DEC/IDEC): hyperparameter checks, device, a trainable copy of
  the network and the k-means initialisation on its embedding (with the
  parameter checks :func:`check_int`, :func:`check_real`, :func:`check_tol`,
  :func:`check_autoencoder`, :func:`check_n_clusters`), and their
  ``predict``/``transform`` plumbing (:class:`TrainedEmbeddingMixin`).
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.exceptions import NotFittedError

from baselines.initialisation import as_generator
from baselines.validation import check_int, check_not_sparse, check_real
from methods.autoencoders import Autoencoder
from methods.device import inference_rows, resolve_device


class DivergedError(RuntimeError):
    """Training produced a NaN or infinite loss, or a loss that grew without bound (:class:`LossGrowthGuard`)."""


def check_fit_input(X: object, autoencoder: Autoencoder | None = None, name: str = "X") -> np.ndarray:
    """Validate X for a deep method and return it as C-contiguous float32.

    Raises ``ValueError`` naming the parameter for: non-numeric, complex or empty X,
    uint8 X (must be preprocessed by a named step), NaN/inf, or a per-sample
    shape that does not match ``autoencoder.input_shape``.  C-contiguous float32
    input is returned as is (no copy); any other layout (a reversed or strided
    view, Fortran order) is copied, since torch refuses negative strides.
    """
    check_not_sparse(X, name)
    A = np.asarray(X)
    if A.dtype == np.uint8:
        raise ValueError(
            f"{name} is uint8: apply a named preprocessing step first "
            "(generators.preprocessing, e.g. 'scale01' or 'zscore'); nrbench never normalises silently"
        )
    if A.ndim < 2:
        raise ValueError(f"{name} must have shape (n, *sample_shape); got {A.shape}")
    if A.shape[0] == 0:
        raise ValueError(f"{name} is empty")
    if np.iscomplexobj(A):
        raise ValueError(f"{name} is complex; complex data is not supported")
    try:
        A = A.astype(np.float32, copy=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from exc
    if not np.isfinite(A).all():
        raise ValueError(f"{name} contains NaN or inf")
    if autoencoder is not None:
        autoencoder.check_input(A, name)
    return np.ascontiguousarray(A)


def check_finite_loss(iteration: int, terms: Mapping[str, torch.Tensor | float]) -> None:
    """Raise :class:`DivergedError` when any loss term is NaN or inf."""
    vals = {k: float(v.detach()) if isinstance(v, torch.Tensor) else float(v) for k, v in terms.items()}
    if not all(math.isfinite(v) for v in vals.values()):
        detail = ", ".join(f"{k}={v:.6g}" for k, v in vals.items())
        raise DivergedError(f"training diverged at iteration {iteration}: {detail}")


#: A training loss more than this many times its initial value counts as divergence (:class:`LossGrowthGuard`).
DIVERGENCE_FACTOR = 1e3


class LossGrowthGuard:
    """Stops a run whose loss explodes while staying finite (complements :func:`check_finite_loss`).

    The reference is the mean total loss of the first ``window`` iterations
    (default 1: the loss of the untouched initial model, since a step's loss is
    computed before its update; a longer window would let an early blow-up raise
    its own reference); from then on, a total above ``factor`` times the reference raises
    :class:`DivergedError` naming the iteration, the loss terms and the reference.
    ``factor=None`` disables the check.  A run that merely plateaus or decreases
    is never stopped.
    """

    def __init__(self, factor: float | None = DIVERGENCE_FACTOR, window: int = 1) -> None:
        if factor is not None and not (isinstance(factor, (int, float)) and factor > 1):
            raise ValueError(f"divergence_factor must be None or > 1; got {factor!r}")
        self.factor = None if factor is None else float(factor)
        self.window = int(window)
        self._first: list[float] = []
        self.reference: float | None = None

    def check(self, iteration: int, terms: Mapping[str, torch.Tensor | float]) -> None:
        """Record one iteration's loss terms; raise :class:`DivergedError` on runaway growth."""
        if self.factor is None:
            return
        vals = {k: float(v.detach()) if isinstance(v, torch.Tensor) else float(v) for k, v in terms.items()}
        total = sum(vals.values())
        if self.reference is None:
            self._first.append(total)
            if len(self._first) >= self.window:
                self.reference = max(float(np.mean(self._first)), np.finfo(np.float32).tiny)
            return
        if total > self.factor * self.reference:
            detail = ", ".join(f"{k}={v:.6g}" for k, v in vals.items())
            raise DivergedError(
                f"training diverged at iteration {iteration}: {detail} (total {total:.6g} > "
                f"{self.factor:g} x initial loss {self.reference:.6g})")

    def state(self) -> dict[str, Any]:
        """What :meth:`restore` needs to go on after a resumed run (:mod:`methods.checkpoint`)."""
        return {"first": list(self._first), "reference": self.reference}

    def restore(self, state: Mapping[str, Any]) -> None:
        """Go on from :meth:`state` (the reference stays that of the run's first iterations)."""
        self._first = [float(v) for v in state["first"]]
        self.reference = None if state["reference"] is None else float(state["reference"])


class Minibatches(Iterator[np.ndarray]):
    """Endless stream of index batches: a fresh permutation per epoch, drawn from ``rng``.

    The permutation is drawn when the epoch's first batch is taken (as a generator
    function would), so ``rng``'s later draws (e.g. ENRC's reinitialisation
    samples, §2.8) interleave with it in the same order on every run.
    :meth:`state` / :meth:`restore` carry the current epoch's permutation and
    position, so a resumed fit (:mod:`methods.checkpoint`) continues the stream
    exactly; ``rng``'s own state is saved by the caller.
    """

    def __init__(self, n: int, batch_size: int, rng: np.random.Generator) -> None:
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive; got {batch_size}")
        self.n, self.b, self.rng = int(n), min(int(batch_size), int(n)), rng
        self._perm: np.ndarray | None = None
        self._pos = 0

    def __next__(self) -> np.ndarray:
        if self._perm is None or self._pos + self.b > self.n:
            self._perm, self._pos = self.rng.permutation(self.n), 0
        out = self._perm[self._pos:self._pos + self.b]
        self._pos += self.b
        return out

    def state(self) -> dict[str, Any]:
        """The current epoch's permutation (``None`` before the first batch) and position in it."""
        return {"perm": None if self._perm is None else torch.from_numpy(self._perm.copy()), "pos": self._pos}

    def restore(self, state: Mapping[str, Any]) -> None:
        """Continue from :meth:`state` (the permutation must be one of ``n`` points)."""
        perm = state["perm"]
        if perm is not None and len(perm) != self.n:
            raise ValueError(f"a batch stream over {len(perm)} points cannot continue over n = {self.n}")
        self._perm = None if perm is None else np.asarray(perm).astype(np.int64)
        self._pos = int(state["pos"])


def minibatches(n: int, batch_size: int, rng: np.random.Generator) -> Minibatches:
    """Endless stream of index batches, a fresh permutation per epoch from ``rng`` (:class:`Minibatches`)."""
    return Minibatches(n, batch_size, rng)


def data_on_device(X: np.ndarray, device: torch.device) -> torch.Tensor:
    """X as a float32 tensor to draw mini-batches from; moved to the GPU once on CUDA (no copy per batch)."""
    Xt = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
    return Xt.to(device) if device.type == "cuda" else Xt


def batch(Xt: torch.Tensor, idx: np.ndarray, device: torch.device) -> torch.Tensor:
    """Rows ``idx`` of ``Xt`` (from :func:`data_on_device`) on ``device``."""
    return Xt[torch.as_tensor(idx, device=Xt.device)].to(device)


@torch.no_grad()
def encode_all(autoencoder: Autoencoder, X: np.ndarray, device: torch.device | str = "cpu",
               batch_size: int | None = None) -> np.ndarray:
    """Embeddings of every row of X as float32 numpy, in eval mode and batches.

    ``batch_size`` defaults to :func:`methods.device.inference_rows` for ``device``.
    """
    batch_size = batch_size or inference_rows(device)
    was_training = autoencoder.training
    autoencoder.eval()
    out = []
    for i in range(0, len(X), batch_size):
        xb = torch.as_tensor(np.asarray(X[i : i + batch_size], dtype=np.float32), device=device)
        out.append(autoencoder.encode(xb).float().cpu().numpy())
    autoencoder.train(was_training)
    return np.concatenate(out, 0)


class MiniBatchCenters:
    """Mini-batch k-means centre update with a per-centre learning rate (ENRC Eqs. 6-7).

    For each centre k with batch mean ``m_k`` of its ``c_k`` assigned points:

    - ``alpha`` given (ENRC, ACe/DeC): ``A_k <- (1 - alpha) A_k + alpha c_k`` (Eq. 7),
      ``eta_k = 1 / A_k`` clipped to at most 1, and
      ``mu_k <- (1 - eta_k) mu_k + eta_k m_k`` (Eq. 6);
    - ``alpha=None`` (DCN, Yang et al. 2017): ``A_k <- A_k + c_k`` (the total count)
      and the same convex update.

    A centre with no points in the batch is left unchanged.  ``counts`` starts at
    ``init_count`` (default 1) for every centre.
    """

    def __init__(self, centers: torch.Tensor, alpha: float | None = 0.5, init_count: float = 1.0) -> None:
        if alpha is not None and not (0.0 < alpha < 1.0):
            raise ValueError(f"alpha must be in (0, 1); got {alpha}")
        self.centers = centers.detach().clone()
        self.alpha = alpha
        self.counts = torch.full((centers.shape[0],), float(init_count), dtype=centers.dtype, device=centers.device)

    @torch.no_grad()
    def update(self, z: torch.Tensor, assign: torch.Tensor) -> torch.Tensor:
        """Apply one update from batch points ``z`` (b, D) with hard labels ``assign`` (b,); returns the centres."""
        k = self.centers.shape[0]
        z = z.detach()
        batch_counts = torch.bincount(assign, minlength=k).to(z.dtype)
        sums = torch.zeros_like(self.centers).index_add_(0, assign, z)
        present = batch_counts > 0
        if not bool(present.any()):
            return self.centers
        means = sums[present] / batch_counts[present, None]
        if self.alpha is None:
            self.counts[present] += batch_counts[present]
        else:
            self.counts[present] = (1 - self.alpha) * self.counts[present] + self.alpha * batch_counts[present]
        eta = torch.clamp(1.0 / self.counts[present], max=1.0)[:, None]
        self.centers[present] = (1 - eta) * self.centers[present] + eta * means
        return self.centers

    def reset_count(self, k: int, value: float = 1.0) -> None:
        """Reset centre k's count (after a lost-centre reinitialisation, ENRC §2.8)."""
        self.counts[k] = value


def kmeans_plusplus(Z: np.ndarray, k: int, rng: np.random.Generator,
                    weights: np.ndarray | None = None) -> np.ndarray:
    """k-means++ seeding (Arthur & Vassilvitskii 2007) under an optional per-dimension weighted distance (ENRC Eq. 2).

    Returns the indices of the k chosen rows of Z.
    """
    n = Z.shape[0]
    if k > n:
        raise ValueError(f"n_clusters = {k} exceeds the number of samples n = {n}")
    w = np.ones(Z.shape[1]) if weights is None else np.asarray(weights, dtype=np.float64)
    idx = [int(rng.integers(n))]
    d2 = ((Z - Z[idx[0]]) ** 2 * w).sum(1)
    for _ in range(1, k):
        total = d2.sum()
        if total <= 0:
            nxt = int(rng.integers(n))
        else:
            nxt = int(rng.choice(n, p=d2 / total))
        idx.append(nxt)
        d2 = np.minimum(d2, ((Z - Z[nxt]) ** 2 * w).sum(1))
    return np.asarray(idx)


# --------------------------------------------------------------------------- deep single-clustering fits
def check_tol(tol: Any) -> float | None:
    """``None`` (no early stop) or a fraction in [0, 1)."""
    if tol is None:
        return None
    if not isinstance(tol, numbers.Real) or isinstance(tol, bool) or not 0 <= tol < 1:
        raise ValueError(f"tol must be None or a fraction in [0, 1); got {tol!r}")
    return float(tol)


def check_autoencoder(ae: Any) -> Autoencoder:
    """The ``autoencoder`` argument must be a :class:`methods.autoencoders.Autoencoder`."""
    if not isinstance(ae, Autoencoder):
        raise ValueError(f"autoencoder must be a methods.autoencoders.Autoencoder (e.g. from methods.pretrain); "
                         f"got {type(ae).__name__}")
    return ae


def check_n_clusters(k: Any, n: int) -> int:
    """``n_clusters`` must be an integer in [2, n]."""
    k = check_int(k, "n_clusters", 2)
    if k > n:
        raise ValueError(f"n_clusters = {k} exceeds the number of samples n = {n}")
    return k


def copy_network(ae: Autoencoder, device: torch.device) -> Autoencoder:
    """A trainable deep copy on ``device`` in eval mode; the caller's network is never mutated."""
    net = copy.deepcopy(ae).to(device).eval()
    for p in net.parameters():
        p.requires_grad_(True)
    return net


def kmeans_init(Z: np.ndarray, k: int, n_init: int, rng: np.random.Generator) -> KMeans:
    """k-means (k-means++ seeding, ``n_init`` restarts) on the pretrained embedding, seeded from ``rng``."""
    return KMeans(n_clusters=k, n_init=n_init, random_state=int(rng.integers(2**31 - 1))).fit(Z)


@dataclass
class SingleFitStart:
    """What :func:`start_single_fit` hands to a deep single-clustering fit."""

    X: np.ndarray  #: validated float32 data
    n_clusters: int
    max_iter: int
    batch_size: int
    lr: float
    tol: float | None
    device: torch.device
    rng: np.random.Generator  #: seeded from ``random_state``; one draw already spent on the k-means seed
    autoencoder: Autoencoder  #: the trainable copy (:func:`copy_network`)
    init_labels: np.ndarray  #: (n,) int64 k-means labels of the pretrained embedding
    init_centers: torch.Tensor  #: (k, embedding_dim) float32 k-means centres on ``device``


def start_single_fit(estimator: Any, X: Any) -> SingleFitStart:
    """The fit preamble shared by DCN and DEC/IDEC (one source of truth for their common steps).

    Reads the estimator's hyperparameters of the same names: ``autoencoder``,
    ``max_iter`` (>= 0), ``batch_size`` (>= 1), ``lr`` (> 0), ``kmeans_n_init`` (>= 1),
    ``tol`` (:func:`check_tol`), ``n_clusters`` (in [2, n]), ``device``, ``random_state``.
    Validates them and X (:func:`check_fit_input`), resolves the device, makes a
    trainable copy of the network (the caller's is never modified) and initialises
    the centres by k-means on its embedding (:func:`kmeans_init`; DCN, DEC §3.2 and
    IDEC all start from k-means on the pretrained embedding).  Method-specific
    parameters are checked by the caller.
    """
    ae0 = check_autoencoder(estimator.autoencoder)
    max_iter = check_int(estimator.max_iter, "max_iter", 0)
    batch_size = check_int(estimator.batch_size, "batch_size", 1)
    lr = check_real(estimator.lr, "lr")
    n_init = check_int(estimator.kmeans_n_init, "kmeans_n_init", 1)
    tol = check_tol(estimator.tol)
    Xf = check_fit_input(X, ae0)
    k = check_n_clusters(estimator.n_clusters, Xf.shape[0])
    device = resolve_device(estimator.device)
    rng = as_generator(estimator.random_state)
    ae = copy_network(ae0, device)
    km = kmeans_init(encode_all(ae, Xf, device), k, n_init, rng)
    return SingleFitStart(
        X=Xf, n_clusters=k, max_iter=max_iter, batch_size=batch_size, lr=lr, tol=tol, device=device, rng=rng,
        autoencoder=ae, init_labels=km.labels_.astype(np.int64),
        init_centers=torch.as_tensor(km.cluster_centers_, dtype=torch.float32, device=device))


class TrainedEmbeddingMixin:
    """``transform`` and the input handling of ``predict`` for an estimator that keeps its trained
    network in ``autoencoder_`` and its centres (in the embedding) in ``cluster_centers_`` (DCN, DEC/IDEC)."""

    def _fitted_input(self, X: Any) -> tuple[np.ndarray, torch.device, torch.Tensor]:
        """Validated X, the trained network's device and the centres on it; unfitted: ``ValueError``."""
        if not hasattr(self, "autoencoder_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit(X) first")
        Xf = check_fit_input(X, self.autoencoder_)
        device = next(self.autoencoder_.parameters()).device
        return Xf, device, torch.as_tensor(self.cluster_centers_, device=device)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """The trained embedding ``enc(X)`` (the space of ``cluster_centers_``)."""
        Xf, device, _ = self._fitted_input(X)
        return encode_all(self.autoencoder_, Xf, device)
