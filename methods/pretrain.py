"""Autoencoder pretraining with a one-cycle schedule, and its on-disk cache.

Procedure (ENRC §3.2 "super-convergence"; BASELINES.md §6.2; PROTOCOL.md "Autoencoder"):

1. ``budget.iterations`` mini-batch iterations in train mode (dropout and
   BatchNorm active) with Adam (``betas`` = (0.9, 0.99)) and decoupled weight
   decay (``weight_decay`` = 1e-3, as fastai v1's ``true_wd`` default that the
   authors' code used), under the one-cycle learning-rate schedule of Smith &
   Topin (``torch.optim.lr_scheduler.OneCycleLR``, peak ``max_lr`` = 0.01, cosine
   warm-up for 30 % of the steps then cosine annealing);
2. ``budget.finetune_iterations`` more at the constant ``finetune_lr`` (5e-3,
   "we halve the max-lr") in eval mode: dropout off and BatchNorm statistics frozen.
   The optimizer goes on from phase 1 with only its learning rate changed, as a fastai
   v1 ``Learner`` keeps its optimizer across ``fit`` calls (``Learner.fit``: "if not
   getattr(self, 'opt', False): self.create_opt(...) else: self.opt.lr = lr").  A fresh
   Adam would make a first step of about ``finetune_lr`` on every weight whatever its
   gradient; with BatchNorm frozen that can wreck the network (measured: a 300-iteration
   conv ResNet on Stickfigures went from loss 0.012 to 1e6 in one step).

A run whose loss grows past :data:`methods.base.DIVERGENCE_FACTOR` times its first
loss, or that ends with a worse reconstruction than the untrained network, raises
:class:`~methods.base.DivergedError` and is not cached.

The loss is the mean squared reconstruction error.  With an :class:`~methods.augment.Augmenter`
each batch is transformed first and the transformed image is both input and
target (BASELINES.md §6.2 "applied to both input and target").

Every pretrained network is cached under :func:`benchmark.paths.models_dir` by a
key made of the data checksum, the full architecture config, the seed, the
budget, the preprocessing steps and the augmentation settings
(:func:`cache_key`), so reruns and all methods of a protocol reuse it
(DESIGN.md "Data flows one way").  A cache entry is two files written
atomically (temporary file + ``os.replace``):

- ``<arch>-<key>.pt``: ``torch.save`` of the state dict;
- ``<arch>-<key>.json``: the architecture config, the key's ingredients, the
  training record and the SHA-256 of the ``.pt`` file (written last: it marks
  the entry complete).

A missing, truncated or altered entry is reported with a warning and retrained.

Concurrent pretrains of the same key serialise on a file lock, so the second
process loads what the first wrote.

DEC's own procedure for the feedforward network (greedy layer-wise denoising
pairs, then end-to-end SGD) is :mod:`methods.sae_pretrain`, selected by a
:class:`~methods.sae_pretrain.SAEBudget` (name ``"dec-sae"``); it shares this
cache and entry point.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from baselines.validation import check_int, check_not_sparse
from benchmark.fileio import atomic_write, file_lock
from benchmark.paths import models_dir
from generators.dataset import Dataset, array_sha256
from generators.preprocessing import apply as apply_preprocessing
from methods.autoencoders import ARCHITECTURES, Autoencoder, from_config
from methods.base import DivergedError, LossGrowthGuard, batch, check_finite_loss, data_on_device, minibatches
from methods.checkpoint import CHECKPOINT_EVERY_S, TrainingCheckpoint, checkpoint_path, rng_state, set_rng_state
from methods.device import inference_rows, resolve_device
from methods.sae_pretrain import PROCEDURE as SAE_PROCEDURE
from methods.sae_pretrain import SAEBudget, check_integer_fields, layer_pairs, train_stacked_autoencoder

#: Part of every cache key. 2: the fine-tuning phase continues phase 1's optimizer (before: a fresh one),
#: so networks cached under 1 are not reused.
CACHE_FORMAT_VERSION = 2


class CorruptModelError(ValueError):
    """A cached autoencoder is truncated, altered or unreadable."""


@dataclass(frozen=True)
class PretrainBudget:
    """How long and how hard to pretrain (ENRC §3.2, BASELINES.md §6.2-6.4).

    ``iterations``: one-cycle phase, train mode; ``finetune_iterations``: constant
    ``finetune_lr`` phase, eval mode; ``batch_size``; ``max_lr``: peak of the one
    cycle; ``weight_decay``: decoupled (AdamW); ``betas``: Adam's; ``pct_start``:
    fraction of the cycle spent warming up; ``div_factor``: initial lr =
    ``max_lr / div_factor`` (fastai's 25); ``corruption``: dropout rate on the
    *input* during the one-cycle phase, the network reconstructing the clean
    input (a denoising autoencoder, as DEC pretrains its FC network with input
    dropout 0.2; Xie et al. 2016 §3.2).  The fine-tuning phase sees clean inputs.
    ``corruption = 0`` (the default) leaves the cache key as it was before the
    field existed, so networks cached earlier stay valid.  Measured on MNIST-Full
    (FC d-500-500-2000-10, 8k + 2k iterations, seed 0): ``corruption = 0.2`` gave
    AE + k-means NMI 0.756 against 0.762 clean, and ACe/DeC 0.790 against 0.833,
    so no named budget uses it.
    """

    iterations: int = 10_000
    finetune_iterations: int = 5_000
    batch_size: int = 128
    max_lr: float = 1e-2
    finetune_lr: float = 5e-3
    weight_decay: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.99)
    pct_start: float = 0.3
    div_factor: float = 25.0
    corruption: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        check_integer_fields(self, ("iterations", "finetune_iterations", "batch_size"))
        if int(self.iterations) < 0:
            raise ValueError(f"budget.iterations must be >= 0; got {self.iterations}")
        if int(self.finetune_iterations) < 0:
            raise ValueError(f"budget.finetune_iterations must be >= 0; got {self.finetune_iterations}")
        if int(self.iterations) + int(self.finetune_iterations) == 0:
            raise ValueError("budget: iterations + finetune_iterations must be positive")
        if int(self.batch_size) <= 0:
            raise ValueError(f"budget.batch_size must be positive; got {self.batch_size}")
        for name in ("max_lr", "finetune_lr"):
            if not float(getattr(self, name)) > 0:
                raise ValueError(f"budget.{name} must be positive; got {getattr(self, name)}")
        if float(self.weight_decay) < 0:
            raise ValueError(f"budget.weight_decay must be >= 0; got {self.weight_decay}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"budget.betas must be two numbers in [0, 1); got {self.betas}")
        if not 0 < float(self.pct_start) < 1:
            raise ValueError(f"budget.pct_start must be in (0, 1); got {self.pct_start}")
        if not 0 <= float(self.corruption) < 1:
            raise ValueError(f"budget.corruption must be in [0, 1); got {self.corruption}")

    def summary(self) -> str:
        """One line for ``nrbench list budgets``: the procedure and its main numbers."""
        text = (f"one-cycle Adam: {self.iterations:,} + {self.finetune_iterations:,} fine-tuning iterations, "
                f"batch {self.batch_size}, max-lr {self.max_lr:g}, fine-tuning lr {self.finetune_lr:g}")
        return text + (f", input dropout {self.corruption:g}" if self.corruption else "")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable fields (part of the cache key)."""
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        if d["corruption"] == 0:
            del d["corruption"]  # cache keys of clean-input budgets are unchanged
        return d


#: Named budgets, the single source of truth that suite files refer to by name.
#: ``paper-enrc*`` follow BASELINES.md §6.2-6.4 (≈10k one-cycle + 5k fine-tuning
#: iterations; stickfigures 2k + 2k at batch 32; NR-Objects batch 64).
#: ``paper-dec`` is the FC d-500-500-2000-10 autoencoder of ACe/DeC ("trained as
#: in DEC"): DEC's 50k layer-wise + 100k end-to-end SGD iterations at batch 256
#: are replaced by the same one-cycle Adam procedure with 50k + 50k iterations
#: at batch 256 and max-lr 1e-3 (a deviation: one procedure for every architecture).
#: ``dec-sae`` is DEC's own procedure (:mod:`methods.sae_pretrain`: 4 x 50k greedy
#: layer-wise + 100k end-to-end SGD iterations), for the feedforward network only.
BUDGETS: dict[str, PretrainBudget | SAEBudget] = {
    "paper-enrc": PretrainBudget(iterations=10_000, finetune_iterations=5_000, batch_size=128),
    "paper-enrc-nrobjects": PretrainBudget(iterations=10_000, finetune_iterations=5_000, batch_size=64),
    "paper-enrc-stickfigures": PretrainBudget(iterations=2_000, finetune_iterations=2_000, batch_size=32),
    "paper-dec": PretrainBudget(iterations=50_000, finetune_iterations=50_000, batch_size=256,
                                max_lr=1e-3, finetune_lr=5e-4),
    "standard": PretrainBudget(iterations=2_000, finetune_iterations=1_000, batch_size=128),
    "quick": PretrainBudget(iterations=300, finetune_iterations=100, batch_size=128),
    # reduced tiers for the FC (DEC) network: max-lr 1e-3 as in "paper-dec"; on MNIST-Test with
    # 2k + 1k iterations max-lr 1e-2 gave AE+k-means NMI 0.45, max-lr 1e-3 gave 0.65.
    "standard-dec": PretrainBudget(iterations=2_000, finetune_iterations=1_000, batch_size=256,
                                   max_lr=1e-3, finetune_lr=5e-4),
    "quick-dec": PretrainBudget(iterations=300, finetune_iterations=100, batch_size=256,
                                max_lr=1e-3, finetune_lr=5e-4),
    "dec-sae": SAEBudget(),
}

#: What :func:`resolve_budget` returns: the one-cycle procedure or DEC's stacked autoencoder.
Budget = PretrainBudget | SAEBudget


def resolve_budget(budget: Budget | Mapping[str, Any] | str) -> Budget:
    """A budget from itself, a name in :data:`BUDGETS`, or a dict of its fields.

    A dict with ``"procedure": "dec-sae"`` gives a :class:`methods.sae_pretrain.SAEBudget`
    (DEC's stacked autoencoder); any other dict a one-cycle :class:`PretrainBudget`.
    """
    if isinstance(budget, (PretrainBudget, SAEBudget)):
        return budget
    if isinstance(budget, str):
        if budget not in BUDGETS:
            raise ValueError(f"unknown budget {budget!r}; valid: {', '.join(sorted(BUDGETS))}")
        return BUDGETS[budget]
    if isinstance(budget, Mapping):
        procedure = budget.get("procedure", "onecycle")
        if procedure not in ("onecycle", SAE_PROCEDURE):
            raise ValueError(f"budget.procedure must be 'onecycle' or {SAE_PROCEDURE!r}; got {procedure!r}")
        cls: type[PretrainBudget | SAEBudget] = SAEBudget if procedure == SAE_PROCEDURE else PretrainBudget
        given = {k: v for k, v in budget.items() if not (k == "procedure" and cls is PretrainBudget)}
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(given) - fields)
        if unknown:
            raise ValueError(f"budget ({procedure}) has unknown field(s) {unknown}; valid: {', '.join(sorted(fields))}")
        return cls(**given)
    raise ValueError(f"budget must be a PretrainBudget, a name or a dict; got {type(budget).__name__}")


def resolve_arch(arch: str | Mapping[str, Any], input_shape: Sequence[int]) -> dict[str, Any]:
    """The full architecture config for data of per-sample shape ``input_shape``.

    ``arch`` is a name in :data:`methods.autoencoders.ARCHITECTURES` or a config
    dict with an ``"arch"`` key and constructor arguments; ``input_shape`` is
    filled in from the data.  The result is the network's own :meth:`config`
    (defaults included), so equal architectures give equal cache keys.
    """
    if isinstance(arch, str):
        cfg: dict[str, Any] = {"arch": arch}
    elif isinstance(arch, Mapping):
        cfg = dict(arch)
        if "arch" not in cfg:
            raise ValueError(f"arch config needs an 'arch' key naming one of {', '.join(sorted(ARCHITECTURES))}")
    else:
        raise ValueError(f"arch must be a name or a config dict; got {type(arch).__name__}")
    if cfg["arch"] not in ARCHITECTURES:
        raise ValueError(f"unknown arch {cfg['arch']!r}; valid: {', '.join(sorted(ARCHITECTURES))}")
    given = cfg.get("input_shape")
    if given is not None and tuple(int(s) for s in given) != tuple(input_shape):
        raise ValueError(f"arch input_shape {tuple(given)} does not match the data's sample shape {tuple(input_shape)}")
    cfg["input_shape"] = list(input_shape)
    try:
        with torch.random.fork_rng(devices=[]):  # building only to read the defaults; keep global RNG untouched
            return json.loads(json.dumps(from_config(cfg).config()))
    except TypeError as exc:  # an unknown constructor argument
        raise ValueError(f"arch config {dict(arch) if isinstance(arch, Mapping) else arch!r}: {exc}") from exc


def _augment_config(augment: Any) -> dict[str, Any] | None:
    if augment is None:
        return None
    from methods.augment import Augmenter

    if isinstance(augment, Augmenter):
        return augment.config()
    if isinstance(augment, Mapping):
        return Augmenter(**{k: v for k, v in augment.items() if k != "seed"}).config()
    raise ValueError(f"augment must be None, a dict of Augmenter settings or an Augmenter; got {type(augment).__name__}")


def cache_key(data_checksum: str, arch_config: Mapping[str, Any], seed: int, budget: Budget,
              preprocessing: Sequence[str], augment: Mapping[str, Any] | None) -> str:
    """Short SHA-256 of the canonical JSON of everything that determines the pretrained weights."""
    blob = json.dumps({
        "format": CACHE_FORMAT_VERSION,
        "data": data_checksum,
        "arch": dict(arch_config),
        "seed": int(seed),
        "budget": budget.to_dict(),
        "preprocessing": list(preprocessing),
        "augment": None if augment is None else dict(augment),
    }, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def cache_paths(key: str, arch: str, root: Path | None = None) -> tuple[Path, Path]:
    """The ``(.pt, .json)`` pair of a cache entry."""
    root = Path(root) if root is not None else models_dir()
    stem = root / f"{arch}-{key}"
    return stem.with_suffix(".pt"), stem.with_suffix(".json")


# --------------------------------------------------------------------------- training
def train_autoencoder(model: Autoencoder, X: np.ndarray, budget: PretrainBudget, seed: int,
                      device: torch.device, augmenter: Any = None, progress: bool = True,
                      checkpoint: TrainingCheckpoint | None = None) -> dict[str, Any]:
    """Run both pretraining phases on ``model`` in place; return the training record.

    Deterministic for a given seed on CPU: batches come from
    ``np.random.default_rng(seed)``, dropout from the torch RNG seeded inside a
    ``fork_rng`` block (the caller's global RNG state is left unchanged), and
    augmentation from the augmenter's own ``torch.Generator``.

    ``checkpoint``: snapshots of the run are saved to it, and a stored snapshot is
    resumed from (:mod:`methods.checkpoint`); the record's ``resumed_from`` says at
    which iteration (0: from the start).
    """
    rng = np.random.default_rng(seed)
    n = X.shape[0]
    Xt = data_on_device(X, device)
    model.to(device)
    total = budget.iterations + budget.finetune_iterations
    history: list[float] = []
    batches = minibatches(n, budget.batch_size, rng)
    guard = LossGrowthGuard()
    opt: torch.optim.Optimizer | None = None
    sched: Any = None
    fork_devices = [device.index or 0] if device.type == "cuda" else []
    resume = checkpoint.load() if checkpoint is not None else None
    start = int(resume["iteration"]) if resume is not None else 0
    with torch.random.fork_rng(devices=fork_devices), _signals(checkpoint):
        torch.manual_seed(int(seed))
        if resume is not None:
            checkpoint.announce(start, total)
            model.load_state_dict(resume["model"])
            history = list(resume["history"])
            guard.restore(resume["guard"])
            set_rng_state(resume["rng"], device)
            if augmenter is not None:
                augmenter.generator.set_state(resume["augmenter_rng"].to(augmenter.generator.get_state().device))
            for _ in range(start):  # the batch stream up to where the run stopped
                next(batches)

        def state_of() -> dict[str, Any]:
            return {"model": model.state_dict(), "optimizer": opt.state_dict() if opt is not None else None,
                    "scheduler": sched.state_dict() if sched is not None else None, "history": history,
                    "guard": guard.state(), "rng": rng_state(device),
                    "augmenter_rng": augmenter.generator.get_state() if augmenter is not None else None}

        bar = tqdm(total=total, initial=start, desc=f"pretrain {model.arch}", disable=not progress, leave=False)
        phases = [("onecycle", budget.iterations), ("finetune", budget.finetune_iterations)]
        it = 0
        for phase, steps in phases:
            if steps == 0:
                continue
            if it + steps <= start:  # done before the snapshot
                it += steps
                continue
            if phase == "onecycle":
                model.train()
                opt = torch.optim.AdamW(model.parameters(), lr=budget.max_lr / budget.div_factor,
                                        betas=budget.betas, weight_decay=budget.weight_decay)
                sched = torch.optim.lr_scheduler.OneCycleLR(
                    opt, max_lr=budget.max_lr, total_steps=steps, pct_start=budget.pct_start,
                    div_factor=budget.div_factor, anneal_strategy="cos", cycle_momentum=False)
            else:
                model.eval()  # dropout off, BatchNorm statistics frozen
                if opt is None:  # no phase 1, or resumed after it
                    opt = torch.optim.AdamW(model.parameters(), lr=budget.finetune_lr,
                                            betas=budget.betas, weight_decay=budget.weight_decay)
                sched = None
            if resume is not None and resume["optimizer"] is not None:  # resumed within or after this phase
                opt.load_state_dict(resume["optimizer"])
                if sched is not None and resume["scheduler"] is not None:
                    sched.load_state_dict(resume["scheduler"])
            if phase == "finetune":
                for group in opt.param_groups:  # phase 1's optimizer goes on (fastai v1), at the new rate
                    group["lr"] = budget.finetune_lr
            skip = max(0, start - it)
            it += skip
            resume = None
            for _ in range(steps - skip):
                idx = next(batches)
                xb = batch(Xt, idx, device)
                if augmenter is not None:
                    xb = augmenter(xb)
                xin = xb
                if phase == "onecycle" and budget.corruption > 0:
                    xin = torch.nn.functional.dropout(xb, p=float(budget.corruption), training=True)
                loss = torch.mean((model(xin) - xb) ** 2)
                try:
                    check_finite_loss(it, {"reconstruction": loss})
                    guard.check(it, {"reconstruction": loss})
                except DivergedError as exc:
                    raise DivergedError(
                        f"autoencoder pretraining ({phase} phase, seed {seed}): {exc}; nothing was cached. "
                        f"Try another seed, a longer budget or a lower {'finetune_lr' if phase == 'finetune' else 'max_lr'}"
                    ) from None
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if sched is not None:
                    sched.step()
                history.append(float(loss.detach()))
                it += 1
                bar.update(1)
                if it % 50 == 0:
                    bar.set_postfix(phase=phase, loss=f"{history[-1]:.4g}")
                if checkpoint is not None:
                    checkpoint.step(it, state_of)
        bar.close()
    model.eval()
    return {"history": history, "resumed_from": start}


def _signals(checkpoint: TrainingCheckpoint | None) -> Any:
    """Ctrl-C / SIGTERM deferred to the end of an iteration when there is a checkpoint to write."""
    return checkpoint.deferring_signals() if checkpoint is not None else contextlib.nullcontext()


@torch.no_grad()
def reconstruction_mse(model: Autoencoder, X: np.ndarray, device: torch.device | str = "cpu",
                       batch_size: int | None = None) -> float:
    """Mean squared reconstruction error of ``model`` on all of X, in eval mode.

    ``batch_size`` rows per pass; default :func:`methods.device.inference_rows` for ``device``.
    """
    batch_size = batch_size or inference_rows(device)
    was = model.training
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(X), batch_size):
        xb = torch.as_tensor(np.asarray(X[i:i + batch_size], dtype=np.float32), device=device)
        total += float(torch.sum((model(xb) - xb) ** 2).double())
        count += xb.numel()
    model.train(was)
    return total / max(count, 1)


# --------------------------------------------------------------------------- cache I/O
def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_pretrained(model: Autoencoder, pt_path: Path, json_path: Path, meta: Mapping[str, Any]) -> None:
    """Atomically write the state dict, then the JSON sidecar holding its SHA-256."""
    pt_path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    atomic_write(pt_path, lambda fh: torch.save(state, fh))
    record = {**dict(meta), "config": model.config(), "weights_sha256": _file_sha256(pt_path),
              "format": CACHE_FORMAT_VERSION}
    atomic_write(json_path, lambda fh: fh.write(json.dumps(record, sort_keys=True, indent=1).encode()))


def load_pretrained(pt_path: str | os.PathLike, json_path: str | os.PathLike | None = None,
                    device: str | torch.device | None = None) -> Autoencoder:
    """Load a cached autoencoder (eval mode) and verify it; raise :class:`CorruptModelError` when it is damaged.

    The returned module has ``pretrain_info`` (the JSON record, with ``"cached": True``).
    """
    pt_path = Path(pt_path)
    json_path = Path(json_path) if json_path is not None else pt_path.with_suffix(".json")
    dev = resolve_device(device)
    try:
        record = json.loads(json_path.read_text())
    except (OSError, ValueError) as exc:
        raise CorruptModelError(f"{json_path}: unreadable autoencoder record ({exc})") from exc
    if not pt_path.exists():
        raise CorruptModelError(f"{pt_path}: weights file missing")
    digest = _file_sha256(pt_path)
    if digest != record.get("weights_sha256"):
        raise CorruptModelError(f"{pt_path}: SHA-256 mismatch (recorded {record.get('weights_sha256')}, file {digest})")
    try:
        state = torch.load(pt_path, map_location="cpu", weights_only=True)
        with torch.random.fork_rng(devices=[]):
            model = from_config(record["config"])
        model.load_state_dict(state, strict=True)
    except Exception as exc:
        raise CorruptModelError(f"{pt_path}: cannot rebuild the autoencoder ({exc})") from exc
    model.to(dev).eval()
    model.pretrain_info = {**record, "cached": True, "path": str(pt_path)}
    return model


# --------------------------------------------------------------------------- entry point
def pretrain(dataset: Dataset | None = None, arch: str | Mapping[str, Any] = "feedforward", seed: int = 0,
             budget: Budget | Mapping[str, Any] | str = "quick", augment: Any = None,
             preprocessing: Sequence[str] = ("scale01",), device: str | torch.device | None = None,
             cache: bool = True, progress: bool = True, *, X: np.ndarray | None = None,
             checkpoint_every: float | None = CHECKPOINT_EVERY_S) -> Autoencoder:
    """Pretrain (or load from the cache) an autoencoder on a data set.

    Parameters
    ----------
    dataset: a :class:`generators.Dataset`; its ``checksum`` keys the cache.
    arch: ``"feedforward"``, ``"conv_resnet"``, ``"linear"`` or a config dict such as
        ``{"arch": "feedforward", "embedding_dim": 10}``; ``input_shape`` comes from the data.
    seed: initialisation, batch order, dropout and augmentation seed.
    budget: a :class:`PretrainBudget` (one-cycle Adam), a
        :class:`methods.sae_pretrain.SAEBudget` (DEC's stacked autoencoder, feedforward
        networks only), a name in :data:`BUDGETS` or a dict of either's fields.
    augment: ``None``, a dict of :class:`methods.augment.Augmenter` settings
        (``rotation``, ``shift``, ``zoom``, ``lighting``) or an ``Augmenter``; its
        RNG is seeded from ``seed``.
    preprocessing: named steps of :mod:`generators.preprocessing` applied to
        ``dataset.X`` before training (the methods must be given the same
        preprocessed X).
    device: ``None`` (``$NRBENCH_DEVICE``, else CUDA when available), ``"cpu"``, ``"cuda"``.
    cache: load from / store to ``models_dir()``; ``False`` always trains and writes nothing.
    X: instead of ``dataset``, a float32 array (already preprocessed unless
        ``preprocessing`` says otherwise); the cache is keyed by its SHA-256.
    checkpoint_every: with ``cache``, seconds of training between snapshots of the
        run (``<arch>-<key>.partial.pt`` beside the cache entry), which a rerun
        resumes from after Ctrl-C, SIGTERM or a crash (:mod:`methods.checkpoint`);
        ``None``: no snapshots and no resuming.

    Returns the network in eval mode on ``device`` with a ``pretrain_info`` dict:
    the cache key and ingredients, ``recon_mse_before`` / ``recon_mse_after`` (on
    all of the preprocessed data, eval mode), the per-iteration training loss
    ``history``, ``resumed_from`` (the iteration a snapshot resumed from; 0: none),
    ``cached`` (whether it was loaded) and ``path``.
    """
    if (dataset is None) == (X is None):
        raise ValueError("pass exactly one of dataset= or X=")
    if dataset is not None:
        if not isinstance(dataset, Dataset):
            raise ValueError(f"dataset must be a generators.Dataset; got {type(dataset).__name__} (use X= for arrays)")
        raw, checksum = dataset.X, dataset.checksum
    else:
        check_not_sparse(X)
        raw = np.asarray(X)
        if np.iscomplexobj(raw):  # the estimators refuse it too; a cast would drop the imaginary part
            raise ValueError("X is complex; complex data is not supported")
        if raw.ndim < 2 or raw.shape[0] == 0:
            raise ValueError(f"X must have shape (n, *sample_shape) with n > 0; got {raw.shape}")
        checksum = array_sha256(raw)
    if isinstance(preprocessing, str):
        preprocessing = (preprocessing,)
    preprocessing = tuple(preprocessing)
    seed = check_int(seed, "seed", 0)  # int() made 1.7 seed 1 and -1 numpy's 'expected non-negative integer'
    bud = resolve_budget(budget)
    dev = resolve_device(device)
    Xp = apply_preprocessing(raw, preprocessing)
    if not np.isfinite(Xp).all():
        raise ValueError("X contains NaN or inf after preprocessing")
    arch_cfg = resolve_arch(arch, Xp.shape[1:])
    aug_cfg = _augment_config(augment)
    if aug_cfg is not None and isinstance(bud, SAEBudget):
        raise ValueError(f"augment: the {SAE_PROCEDURE!r} procedure (DEC's stacked autoencoder) takes no augmentation")
    if aug_cfg is not None and Xp.ndim == 2 and "image_shape" not in aug_cfg:
        raise ValueError("augment: the data are flat (n, d); give the Augmenter image_shape=(C, H, W)")
    key = cache_key(checksum, arch_cfg, seed, bud, preprocessing, aug_cfg)
    pt_path, json_path = cache_paths(key, arch_cfg["arch"])
    meta = {"key": key, "data_checksum": checksum, "arch": arch_cfg, "seed": seed, "budget": bud.to_dict(),
            "preprocessing": list(preprocessing), "augment": aug_cfg,
            "dataset": dataset.name if dataset is not None else None, "n": int(Xp.shape[0])}

    if cache:
        model = _try_load(pt_path, json_path, dev)
        if model is not None:
            return model
        with file_lock(pt_path):
            model = _try_load(pt_path, json_path, dev, quiet=True)  # another process may have finished
            if model is not None:
                return model
            ckpt = None
            if checkpoint_every is not None:
                ckpt = TrainingCheckpoint(checkpoint_path(pt_path), key, every_s=checkpoint_every)
            try:
                model = _train_new(Xp, arch_cfg, seed, bud, aug_cfg, dev, progress, meta, ckpt)
            except DivergedError:
                if ckpt is not None:
                    ckpt.discard()  # a rerun from it would only diverge again
                raise
            save_pretrained(model, pt_path, json_path, {**meta, **_record(model)})
            if ckpt is not None:
                ckpt.discard()
            model.pretrain_info["path"] = str(pt_path)
            return model
    return _train_new(Xp, arch_cfg, seed, bud, aug_cfg, dev, progress, meta)


def _record(model: Autoencoder) -> dict[str, Any]:
    info = model.pretrain_info
    return {k: info[k] for k in ("recon_mse_before", "recon_mse_after", "history", "phases", "dead_units", "device",
                                 "resumed_from")
            if k in info}


def _train_new(Xp: np.ndarray, arch_cfg: dict[str, Any], seed: int, bud: Budget,
               aug_cfg: dict[str, Any] | None, dev: torch.device, progress: bool,
               meta: dict[str, Any], checkpoint: TrainingCheckpoint | None = None) -> Autoencoder:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = from_config(arch_cfg)
    model.to(dev)
    augmenter = None
    if aug_cfg is not None:
        from methods.augment import Augmenter

        augmenter = Augmenter(**aug_cfg, seed=seed, device=dev)
    if isinstance(bud, SAEBudget):
        layer_pairs(model)  # a clear error for a non-feedforward network, before any work
    before = reconstruction_mse(model, Xp, dev)
    if isinstance(bud, SAEBudget):
        rec = train_stacked_autoencoder(model, Xp, bud, seed, dev, progress=progress, checkpoint=checkpoint)
    else:
        rec = train_autoencoder(model, Xp, bud, seed, dev, augmenter=augmenter, progress=progress,
                                checkpoint=checkpoint)
    after = reconstruction_mse(model, Xp, dev)
    if not after < before:
        raise DivergedError(
            f"autoencoder pretraining (seed {seed}, budget: {bud.summary()}) left the network worse than its "
            f"initialisation: reconstruction MSE {before:.6g} -> {after:.6g}; nothing was cached. "
            f"Try a longer budget or a lower max_lr / finetune_lr.")
    model.eval()
    model.pretrain_info = {**meta, "recon_mse_before": before, "recon_mse_after": after,
                           "history": rec["history"], "device": str(dev), "cached": False, "path": None}
    for extra in ("phases", "dead_units", "resumed_from"):  # "phases", "dead_units": the stacked procedure's
        if extra in rec:
            model.pretrain_info[extra] = rec[extra]
    return model


def _try_load(pt_path: Path, json_path: Path, dev: torch.device, quiet: bool = False) -> Autoencoder | None:
    if not json_path.exists() and not pt_path.exists():
        return None
    try:
        return load_pretrained(pt_path, json_path, dev)
    except CorruptModelError as exc:
        if not quiet:
            warnings.warn(f"corrupted autoencoder cache entry, retraining: {exc}", RuntimeWarning, stacklevel=3)
        return None


__all__ = [
    "BUDGETS",
    "Budget",
    "CorruptModelError",
    "PretrainBudget",
    "SAEBudget",
    "cache_key",
    "cache_paths",
    "load_pretrained",
    "pretrain",
    "reconstruction_mse",
    "resolve_arch",
    "resolve_budget",
    "train_autoencoder",
]
