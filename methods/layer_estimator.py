"""The fit pipeline shared by ENRC and ACe/DeC: checks, initialisation hook, joint training loop, final labels.

Both methods train an autoencoder together with a :class:`~methods.clustering_layer.ClusteringLayer`:

1. validate X and the network (``methods.base.check_fit_input``), copy the
   network (the caller's is never mutated) and embed the data with it frozen;
2. ``_initialize`` (method-specific: ENRC §2.6, ACe/DeC §2.2) builds the layer;
3. the joint phase: per mini-batch, assign (ENRC Eq. 5), update the centres
   (Eqs. 6-7), take an Adam step on the method's loss, and re-seed lost centres
   (ENRC §2.8);
4. the labels of the final network, V, beta and centres over the full data
   (Eq. 5; no re-clustering afterwards) and the final objective ``loss_``.

Learning rates follow the ENRC code (BASELINES.md §6.2): Adam, ``lr`` for the
network and V, ``beta_lr`` for beta's own parameters, StepLR(``lr_step``,
``lr_gamma``), and the centre discount alpha halved once at step ``lr_step``;
plus an optional linear warm-up of the network/V rate over ``warmup_iter``
iterations (a documented deviation, see :meth:`LayerClusteringEstimator._make_optimizer`).
A finite loss that runs away (``divergence_factor``) raises ``DivergedError`` like a NaN.

The network is kept in eval mode throughout (dropout off, BatchNorm statistics
frozen, as in the fine-tuning phase of the ENRC pretraining), which also makes
the embedding used for the assignments the same one the labels come from.
"""

from __future__ import annotations

import copy
import numbers
import os
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.exceptions import NotFittedError
from tqdm.auto import tqdm

from baselines.fitted import unfitted_on_error
from baselines.initialisation import as_generator
from methods.autoencoders import Autoencoder
from methods.base import (
    DivergedError,
    LossGrowthGuard,
    Minibatches,
    check_finite_loss,
    check_fit_input,
    check_real,
    encode_all,
    minibatches,
)
from methods.checkpoint import (
    CHECKPOINT_EVERY_S,
    FitCheckpoint,
    augmentation_rng_state,
    record_resume,
    set_augmentation_rng_state,
    signals_of,
)
from methods.clustering_layer import (
    ClusteringLayer,
    LostCenterMonitor,
    SigmoidBetas,
    SoftmaxBetas,
    compression_terms,
    reinitialize_center,
)
from methods.device import inference_rows, resolve_device, torch_generator


class LayerClusteringEstimator(TransformerMixin, ClusterMixin, BaseEstimator):
    """Base class of ENRC and ACe/DeC (not used directly).

    Subclasses set the hyperparameters in ``__init__`` (storing only) and implement
    ``_cluster_counts``, ``_initialize``, ``_batch_loss``, ``_objective`` and
    ``_publish``.
    """

    #: ENRC Eq. 4 (per-cluster means) vs ACe/DeC Eq. 5 (plain sums over points)
    _per_cluster_mean = True
    _centers_space = "rotated"

    # ------------------------------------------------------------- subclass hooks
    def _cluster_counts(self) -> list[int]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _initialize(self, ae: Autoencoder, X: np.ndarray, Z: np.ndarray, rng: np.random.Generator,
                    gen: torch.Generator, device: torch.device,
                    checkpoint: FitCheckpoint | None = None) -> ClusteringLayer:  # pragma: no cover
        raise NotImplementedError

    def _batch_loss(self, ae: Autoencoder, layer: ClusteringLayer, xb: torch.Tensor,
                    z: torch.Tensor, gidx: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        raise NotImplementedError  # pragma: no cover

    # ------------------------------------------------------------- checks
    def _check_common(self) -> None:
        for name in ("max_iter", "batch_size", "lr_step", "init_rounds", "init_max_iter", "reinit_sample",
                     "reinit_steps", "warmup_iter"):
            v = getattr(self, name)
            low = 0 if name in ("max_iter", "warmup_iter") else 1
            if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < low:
                what = "a non-negative" if low == 0 else "a positive"
                raise ValueError(f"{name} must be {what} integer; got {v!r}")
        if not isinstance(self.reinit, bool):
            raise ValueError(f"reinit must be True or False; got {self.reinit!r}")
        for name in ("lr", "beta_lr", "lr_gamma"):
            check_real(getattr(self, name), name)
        a = self.alpha
        if not isinstance(a, numbers.Real) or isinstance(a, bool) or not 0.0 < a < 1.0:
            raise ValueError(f"alpha must be a number in (0, 1); got {a!r}")
        if self.tol is not None and not (isinstance(self.tol, numbers.Real) and 0 <= self.tol < 1):
            raise ValueError(f"tol must be None or in [0, 1); got {self.tol!r}")
        f = self.divergence_factor
        if f is not None and (not isinstance(f, numbers.Real) or isinstance(f, bool) or not f > 1):
            raise ValueError(f"divergence_factor must be None or a number > 1; got {f!r}")
        if not isinstance(self.autoencoder, Autoencoder):
            raise ValueError(
                f"autoencoder must be a methods.autoencoders.Autoencoder; got {type(self.autoencoder).__name__}")

    # ------------------------------------------------------------- fit
    @unfitted_on_error
    def fit(self, X: np.ndarray, y: Any = None, *, checkpoint: str | os.PathLike | None = None,
            checkpoint_every: float = CHECKPOINT_EVERY_S) -> LayerClusteringEstimator:
        """Initialise the layer on the pretrained embedding, train jointly, and label every point.

        A fit that raises (bad input, a NaN or diverged loss) leaves the estimator
        unfitted (:func:`baselines.fitted.unfitted_on_error`): nothing of it can predict.

        ``checkpoint``: a file for snapshots of the fit (:mod:`methods.checkpoint`),
        written after the initialisation, every ``checkpoint_every`` seconds of the
        joint phase, and at Ctrl-C / SIGTERM (main thread: the signal waits for the
        end of the iteration).  ENRC's NrKmeans starts are snapshotted while they run,
        beside the file (:func:`methods.checkpoint.init_checkpoint_path`).  A later ``fit`` of the same estimator (the same
        hyperparameters, ``random_state``, network and X) with the same file resumes
        from it and ends with the labels of an uninterrupted fit (bit for bit on
        CPU); ``resumed_from_`` says at which iteration (0: from the start) and
        ``resumed_elapsed_s_`` how long the stopped fits had run (0.0).  A
        snapshot of another fit is ignored with a warning.  The file is deleted when
        the fit finishes, or when it diverges (a rerun would only diverge again).
        An ``augmentation``'s randomness is restored when it keeps it in a
        ``generator`` attribute, as :class:`methods.augment.Augmenter` does.
        """
        self._check_common()
        ks = self._cluster_counts()
        ae0: Autoencoder = self.autoencoder
        X = check_fit_input(X, ae0)
        n, D = X.shape[0], ae0.embedding_dim
        if len(ks) > D:
            raise ValueError(f"n_clusters: {len(ks)} clusterings need at least as many embedding dimensions; "
                             f"the autoencoder's embedding has {D}")
        if max(ks) > n:
            raise ValueError(f"n_clusters: {max(ks)} clusters exceed the number of samples n = {n}")
        device = resolve_device(self.device)
        ckpt = FitCheckpoint(checkpoint, self, X, ae0, checkpoint_every) if checkpoint is not None else None
        rng = as_generator(self.random_state)
        gen = torch_generator(int(rng.integers(2**62)))
        ae = copy.deepcopy(ae0).to(device).eval()
        for p in ae.parameters():
            p.requires_grad_(True)
        # a copy of a stateful augmentation (its own generator): every fit starts from the state the
        # hyperparameter holds, so a refit or a clone with the same random_state gives the same labels
        self._augment = copy.deepcopy(getattr(self, "augmentation", None))

        resume = ckpt.resume(int(self.max_iter)) if ckpt is not None else None
        if resume is None:
            Z = encode_all(ae, X, device)
            layer = self._initialize(ae, X, Z, rng, gen, device, ckpt).to(device)
            self.betas_init_ = layer.betas().detach().cpu().numpy()
            self.V_init_ = layer.V.detach().cpu().numpy().copy()
            labels_init, self.loss_terms_start_ = self._evaluate_with(ae, layer, X)
            self.labels_init_ = labels_init.astype(np.int64)
        else:
            layer = self._restore(resume, ae, X, device)
        try:
            self.n_iter_, self.reinit_events_, self.converged_ = self._joint_phase(
                ae, layer, X, rng, device, ckpt, resume)
            labels, terms = self._evaluate_with(ae, layer, X)
            self._check_final_growth(terms)
        except DivergedError:
            if ckpt is not None:
                ckpt.discard()
            raise
        record_resume(self, resume, ckpt)
        self.autoencoder_ = ae
        self.clustering_layer_ = layer
        self.loss_ = float(sum(terms.values()))
        self.loss_terms_ = terms
        self._publish(labels)
        if ckpt is not None:
            ckpt.discard()
        return self

    def _check_final_growth(self, terms: dict[str, float]) -> None:
        """Refuse to return labels when the full-data objective ended ``divergence_factor`` x above its start."""
        factor = self.divergence_factor
        start = float(sum(self.loss_terms_start_.values()))
        end = float(sum(terms.values()))
        check_finite_loss(self.n_iter_, terms)
        if factor is not None and end > float(factor) * max(start, np.finfo(np.float32).tiny):
            detail = ", ".join(f"{k}={v:.6g}" for k, v in terms.items())
            raise DivergedError(f"training diverged by iteration {self.n_iter_}: final {detail} (total {end:.6g} > "
                                f"{float(factor):g} x the loss after initialisation {start:.6g})")

    # ------------------------------------------------------------- snapshots (methods.checkpoint)
    #: attributes set by the initialisation that a resumed fit takes from the snapshot
    _init_attributes: tuple[str, ...] = ("betas_init_", "V_init_", "labels_init_", "loss_terms_start_",
                                         "init_loss_", "init_losses_")

    def _restore(self, state: dict[str, Any], ae: Autoencoder, X: np.ndarray,
                 device: torch.device) -> ClusteringLayer:
        """The network, the layer and the initialisation's attributes of a snapshot (the rest: ``_joint_phase``)."""
        ae.load_state_dict(state["autoencoder"])
        for name, value in state["init"].items():
            setattr(self, name, value.numpy() if isinstance(value, torch.Tensor) else value)
        self._prepare_resume(X)
        return layer_from_state(state["layer"]).to(device)

    def _prepare_resume(self, X: np.ndarray) -> None:
        """Subclass hook: derived settings the initialisation would have set (e.g. ACe/DeC's loss scales)."""

    def _snapshot(self, ae: Autoencoder, layer: ClusteringLayer, opt: torch.optim.Optimizer, sched: Any,
                  guard: LossGrowthGuard, monitor: LostCenterMonitor, batches: Minibatches,
                  rng: np.random.Generator, events: list[tuple[int, int, int]],
                  prev_labels: np.ndarray | None) -> dict[str, Any]:
        init = {name: torch.from_numpy(np.array(v)) if isinstance(v, np.ndarray) else v
                for name in self._init_attributes if (v := getattr(self, name, None)) is not None}
        return {
            "autoencoder": ae.state_dict(), "layer": layer_state(layer), "init": init,
            "optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "guard": guard.state(),
            "monitor": torch.from_numpy(monitor.counts.copy()), "batches": batches.state(),
            "rng": rng.bit_generator.state, "events": [list(e) for e in events],
            "prev_labels": None if prev_labels is None else torch.from_numpy(prev_labels.copy()),
            "augment_rng": augmentation_rng_state(self._augment),
        }

    def _joint_phase(self, ae: Autoencoder, layer: ClusteringLayer, X: np.ndarray, rng: np.random.Generator,
                     device: torch.device, ckpt: FitCheckpoint | None = None,
                     resume: dict[str, Any] | None = None) -> tuple[int, list[tuple[int, int, int]], bool]:
        """ENRC §2.7-2.8 / ACe/DeC §2.2's training loop; from ``resume`` (a snapshot) when given."""
        n = X.shape[0]
        opt, sched = self._make_optimizer(ae, layer)
        guard = LossGrowthGuard(self.divergence_factor)
        monitor = LostCenterMonitor(layer.centers.shape[0])
        batches = minibatches(n, int(self.batch_size), rng)
        Xt = torch.from_numpy(X)
        events: list[tuple[int, int, int]] = []
        epoch = max(1, n // min(int(self.batch_size), n))
        prev_labels: np.ndarray | None = None
        converged = False
        start = 0
        if resume is not None:
            opt.load_state_dict(resume["optimizer"])
            sched.load_state_dict(resume["scheduler"])
            guard.restore(resume["guard"])
            monitor.counts = resume["monitor"].numpy().astype(np.int64).copy()
            batches.restore(resume["batches"])
            rng.bit_generator.state = resume["rng"]
            events = [(int(a), int(b), int(c)) for a, b, c in resume["events"]]
            prev_labels = None if resume["prev_labels"] is None else resume["prev_labels"].numpy().copy()
            set_augmentation_rng_state(self._augment, resume["augment_rng"])
            start = int(resume["iteration"])

        def state_of() -> dict[str, Any]:
            return self._snapshot(ae, layer, opt, sched, guard, monitor, batches, rng, events, prev_labels)

        it = start
        owner = layer.owner.cpu().numpy()
        with signals_of(ckpt):
            if ckpt is not None and resume is None:
                ckpt.save(0, state_of())  # the initialisation (ENRC: 100 NrKmeans rounds) is not redone
            bar = tqdm(range(start + 1, int(self.max_iter) + 1), desc=type(self).__name__,
                       disable=not self.progress, leave=False, initial=start, total=int(self.max_iter))
            for it in bar:
                if it == int(self.lr_step) + 1:
                    layer.set_alpha(float(self.alpha) / 2)
                xb = Xt[next(batches)].to(device)
                terms, counts = self._train_step(ae, layer, opt, sched, xb, it)
                guard.check(it, terms)
                if self.reinit:
                    for g in monitor.update(counts, it):
                        s = int(owner[g])
                        k = int(g) - layer.offsets[s]
                        sample = rng.choice(n, size=min(int(self.reinit_sample), n), replace=False)
                        zs = torch.as_tensor(encode_all(ae, X[np.sort(sample)], device), device=device)
                        reinitialize_center(layer, s, k, zs, int(self.reinit_steps))
                        monitor.reset(int(g))
                        events.append((it, s, k))
                if self.progress and it % 50 == 0:
                    bar.set_postfix({k: f"{float(v.detach()):.3g}" for k, v in terms.items()})
                if self.tol is not None and it % epoch == 0:
                    labels = self._assign_all(ae, layer, X, device)
                    if prev_labels is not None and float((labels != prev_labels).any(1).mean()) < float(self.tol):
                        converged = True
                        break
                    prev_labels = labels
                if ckpt is not None:
                    ckpt.step(it, state_of)
            bar.close()
        return it, events, converged

    def _make_optimizer(self, ae: Autoencoder, layer: ClusteringLayer) -> tuple[torch.optim.Optimizer, Any]:
        """Adam with ``lr`` for the network and V and ``beta_lr`` for beta; StepLR(``lr_step``, ``lr_gamma``).

        The network/V rate is warmed up linearly over the first ``warmup_iter``
        iterations (``lr * t / warmup_iter``), then follows the StepLR schedule; beta's
        rate follows StepLR from the start.  Why: a fresh Adam's first step moves
        every weight by about ``lr`` whatever its gradient (``m_hat / sqrt(v_hat)`` is
        +-1 at step 1).  With the network in eval mode (BatchNorm statistics frozen)
        that is a large perturbation: on Stickfigures with the quick conv AE, one
        step at 2.5e-3 raised L_rec from 8 to 2,300 and scrambled the assignments to
        the (rotated-space, fixed) centres.  Warm-up removes that first-step jump
        but did not improve the measured NMI (ENRC docstring); ``warmup_iter=0``
        (the default) is the paper's plain schedule.
        """
        net = list(ae.parameters()) + [layer.V]
        opt = torch.optim.Adam([{"params": net, "lr": float(self.lr)},
                                {"params": list(layer.betas.parameters()), "lr": float(self.beta_lr)}])
        step, gamma, warm = int(self.lr_step), float(self.lr_gamma), int(self.warmup_iter)

        def net_factor(t: int) -> float:  # t = number of scheduler steps taken (0 before the first update)
            return min(1.0, (t + 1) / warm if warm > 0 else 1.0) * gamma ** (t // step)

        def beta_factor(t: int) -> float:
            return gamma ** (t // step)

        sched = torch.optim.lr_scheduler.LambdaLR(opt, [net_factor, beta_factor])
        return opt, sched

    def _train_step(self, ae: Autoencoder, layer: ClusteringLayer, opt: torch.optim.Optimizer, sched: Any,
                    xb: torch.Tensor, it: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """One joint-phase step: assign (Eq. 5), update centres (Eqs. 6-7), one optimiser step on the loss.

        Returns the loss terms and the per-centre batch counts (for the lost-centre monitor).
        """
        z = ae.encode(xb)
        with torch.no_grad():
            _, gidx = layer.assign(layer.distances(z.detach()))
            counts = layer.update_centers(z.detach(), gidx)
        total, terms = self._batch_loss(ae, layer, xb, z, gidx)
        check_finite_loss(it, terms)
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        sched.step()
        return terms, counts

    # ------------------------------------------------------------- evaluation
    @torch.no_grad()
    def _assign_all(self, ae: Autoencoder, layer: ClusteringLayer, X: np.ndarray,
                    device: torch.device, chunk: int = 2048) -> np.ndarray:
        Z = encode_all(ae, X, device)
        out = []
        for i in range(0, len(Z), chunk):
            zb = torch.as_tensor(Z[i:i + chunk], device=device)
            out.append(layer.assign(layer.distances(zb))[0].cpu().numpy())
        return np.concatenate(out, 0)

    @torch.no_grad()
    def _evaluate(self, X: np.ndarray, chunk: int | None = None) -> tuple[np.ndarray, dict[str, float]]:
        """Labels (Eq. 5) and the method's objective over the full data, with the trained network."""
        return self._evaluate_with(self.autoencoder_, self.clustering_layer_, X, chunk)

    @torch.no_grad()
    def _evaluate_with(self, ae: Autoencoder, layer: ClusteringLayer, X: np.ndarray,
                       chunk: int | None = None) -> tuple[np.ndarray, dict[str, float]]:
        device = layer.V.device
        Z = torch.as_tensor(encode_all(ae, X, device), device=device)
        labels, per_s = compression_terms(layer, Z, self._per_cluster_mean)
        return labels, self._objective(per_s, reconstruction_error(ae, layer, X, Z, chunk))

    def _objective(self, per_clustering: np.ndarray, rec: float) -> dict[str, float]:  # pragma: no cover
        raise NotImplementedError

    def _publish(self, labels: np.ndarray) -> None:  # pragma: no cover
        raise NotImplementedError

    # ------------------------------------------------------------- inference
    def _check_fitted(self) -> None:
        if not hasattr(self, "clustering_layer_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit(X) first")

    @torch.no_grad()
    def transform(self, X: np.ndarray) -> np.ndarray:
        """The rotated embedding ``V^T enc(x)`` (the space of ``cluster_centers_`` and of the beta weights)."""
        self._check_fitted()
        X = check_fit_input(X, self.autoencoder_)
        layer = self.clustering_layer_
        Z = encode_all(self.autoencoder_, X, layer.V.device)
        return (torch.as_tensor(Z, device=layer.V.device) @ layer.V).cpu().numpy()

    def _predict_all(self, X: np.ndarray) -> np.ndarray:
        self._check_fitted()
        X = check_fit_input(X, self.autoencoder_)
        return self._assign_all(self.autoencoder_, self.clustering_layer_, X, self.clustering_layer_.V.device)


def layer_state(layer: ClusteringLayer) -> dict[str, Any]:
    """Everything that rebuilds ``layer`` exactly (:func:`layer_from_state`), as tensors and plain values."""
    return {"betas_kind": type(layer.betas).__name__, "params": layer.state_dict(),
            "n_clusters": list(layer.n_clusters), "centers": layer.centers_mb.centers.clone(),
            "counts": layer.centers_mb.counts.clone(), "alpha": layer.centers_mb.alpha,
            "centers_space": layer.centers_space, "beta_power": layer.beta_power}


def layer_from_state(state: dict[str, Any]) -> ClusteringLayer:
    """The :class:`ClusteringLayer` saved by :func:`layer_state` (on the CPU)."""
    kinds = {cls.__name__: cls for cls in (SoftmaxBetas, SigmoidBetas)}
    params = state["params"]
    betas = kinds[state["betas_kind"]](np.full(tuple(next(
        v for k, v in params.items() if k.startswith("betas.")).shape), 0.5))
    layer = ClusteringLayer(params["V"], betas, state["n_clusters"], state["centers"], alpha=state["alpha"],
                            centers_space=state["centers_space"], beta_power=state["beta_power"])
    layer.load_state_dict(params)
    layer.centers_mb.counts = state["counts"].clone()
    return layer


@torch.no_grad()
def reconstruction_error(ae: Autoencoder, layer: ClusteringLayer, X: np.ndarray, Z: torch.Tensor,
                         chunk: int | None = None) -> float:
    """Mean over points of ``||x - dec(V V^T z)||^2`` (ENRC Eq. 1, ACe/DeC L_rec).

    ``chunk`` rows per decoder pass; default :func:`methods.device.inference_rows`.
    """
    chunk = chunk or inference_rows(Z.device)
    total = 0.0
    for i in range(0, len(X), chunk):
        xb = torch.as_tensor(X[i:i + chunk], device=Z.device)
        xr = ae.decode(layer.unrotate(layer.rotate(Z[i:i + chunk])))
        total += float(((xr.reshape(len(xb), -1) - xb.reshape(len(xb), -1)) ** 2).sum())
    return total / len(X)


def squared_error(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """Batch mean of the per-sample squared L2 reconstruction error (ENRC Eq. 1, ACe/DeC L_rec)."""
    return ((x_hat.reshape(x.shape[0], -1) - x.reshape(x.shape[0], -1)) ** 2).sum(1).mean()
