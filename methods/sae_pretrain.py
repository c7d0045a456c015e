"""DEC's stacked denoising-autoencoder pretraining: greedy layer-wise, then end-to-end.

ACe/DeC §4 trains its d-500-500-2000-10 autoencoders "as in DEC".  DEC (Xie,
Girshick & Farhadi, ICML 2016, §3.2) initialises its network as a stacked
autoencoder (SAE):

1. **Greedy layer-wise.**  Each encoder layer ``i`` is paired with its mirror
   decoder layer and trained as a two-layer denoising autoencoder on the clean
   output of the (already trained) layers below it::

       h = g1(W1 · Dropout(x)),    y = g2(W2 · Dropout(h)),    loss ||x - y||²

   with dropout rate 0.2; as in DEC's released pretraining script, the first
   pair sees its input (the data) uncorrupted and the last pair's hidden units
   (the embedding) are not dropped.  ``g1``/``g2`` are ReLU except ``g2`` of the
   first pair (it reconstructs the input, which may be negative after a
   z-transform) and ``g1`` of the last pair (the embedding keeps full
   information): exactly the activations of
   :class:`methods.autoencoders.FeedforwardAutoencoder`, whose decoder layers
   mirror its encoder layers.  Each pair starts from Gaussian weights
   (std 0.01) and zero biases.  50,000 iterations per pair.
2. **End-to-end.**  The encoder layers in order, then the decoder layers in
   reverse training order (the network as built), are fine-tuned for 100,000
   iterations on the reconstruction loss without dropout.

Both phases: SGD with momentum 0.9 (DEC's Caffe solver), mini-batch 256, start
rate 0.1 divided by 10 every 20,000 iterations, weight decay 0.

**Deviation: the loss is the mean squared error per element**
(:func:`reconstruction_loss`), not Caffe's Euclidean loss ``1/(2b) Σ_batch ||x - y||²``
summed over the features, whose gradients are ``d/2`` times larger.  With the
summed loss DEC's rate 0.1 diverged within 13-105 iterations on the first MNIST
pair under every setting tried (z-scored or DEC's ×0.02-scaled pixels; torch's
default or DEC's Gaussian init), as did 0.05 and 0.03; 0.01 trained but left
85 % of the first layer's units dead after 3,000 iterations, and in a run of
10,000 iterations per pair the second pair collapsed (every unit zero on every
sample).  With the per-element mean, DEC's rate 0.1 trains both pairs with no
dead unit (3,000 iterations each: relative reconstruction error 0.100 and
0.103).  DEC's modified Caffe, its "momentum burn-in" and its doubled bias
learning rates are not reproduced.  These figures come from
``benchmark/scripts/sae_rate_probe.py`` (e.g. ``sae_rate_probe.py euclid:0.1 euclid:0.01
mse:0.1``; ``--scale dec`` and ``--init torch`` for the other settings).  A pair whose units all die stops the run
with :class:`methods.base.DivergedError` instead of handing a collapsed
network on.

Measured on MNIST-Full (seed 0, z-scored pixels, 2 CPU threads) at a fifth of DEC's
schedule (10,000 iterations per pair + 20,000 end-to-end, ``lr_step`` 8,000;
about 24 min): AE + k-means NMI 0.680 at DEC's rate 0.1 (reconstruction MSE
0.129) and 0.681 at rate 1.0 (MSE 0.082), against 0.754 for the one-cycle
procedure at 8k + 2k iterations and 0.762 at ``paper-dec``; ACe/DeC (10,000
iterations) on the rate-1.0 network gave 0.727, against 0.833 on the 8k + 2k one.  DEC's full
schedule (300,000 iterations) was not run.

This is an alternative to the one-cycle Adam procedure of
:mod:`methods.pretrain` (which every named budget of the comparison suites uses:
one procedure for every architecture, a stated deviation for the FC network).
Select it with a :class:`SAEBudget`, the budget name ``"dec-sae"`` (DEC's full
schedule) or a budget dict with ``"procedure": "dec-sae"``; the cache key holds
every field, so networks of the two procedures never mix.
"""

from __future__ import annotations

import contextlib
import dataclasses
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from methods.autoencoders import Autoencoder, FeedforwardAutoencoder
from methods.base import DivergedError, batch, check_finite_loss, data_on_device, minibatches
from methods.checkpoint import TrainingCheckpoint, rng_state, set_rng_state
from methods.device import inference_rows

#: The ``procedure`` value that selects this module (budget dicts and cache keys).
PROCEDURE = "dec-sae"
#: Standard deviation of the Gaussian initial weights of each greedy pair (DEC's script).
INIT_STD = 0.01


def check_integer_fields(budget: Any, names: tuple[str, ...]) -> None:
    """``ValueError`` naming ``budget.<field>`` when a count (iterations, batch size) is not an integer.

    ``int()`` would otherwise truncate 1.5 to 1 while the cache key kept 1.5, or hand
    2.5 iterations to torch's scheduler, whose error does not name the field.
    """
    for name in names:
        value = getattr(budget, name)
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ValueError(f"budget.{name} must be an integer; got {value!r}")


@dataclass(frozen=True)
class SAEBudget:
    """DEC's stacked-autoencoder schedule (Xie et al. 2016 §3.2); the defaults are DEC's.

    ``layer_iterations``: greedy iterations per encoder/decoder pair;
    ``finetune_iterations``: end-to-end iterations; ``batch_size``; ``lr`` /
    ``finetune_lr``: SGD start rate of the greedy / end-to-end phase; ``lr_step``
    / ``lr_gamma``: the rate is multiplied by ``lr_gamma`` every ``lr_step``
    iterations of a phase; ``momentum``;
    ``weight_decay``; ``corruption``: dropout rate on a pair's input (not the
    first pair's) and hidden units (not the last pair's) in the greedy phase;
    the end-to-end phase uses none.
    """

    layer_iterations: int = 50_000
    finetune_iterations: int = 100_000
    batch_size: int = 256
    lr: float = 0.1
    finetune_lr: float = 0.1
    lr_step: int = 20_000
    lr_gamma: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 0.0
    corruption: float = 0.2
    procedure: str = PROCEDURE

    def __post_init__(self) -> None:
        if self.procedure != PROCEDURE:
            raise ValueError(f"SAEBudget.procedure must be {PROCEDURE!r}; got {self.procedure!r}")
        check_integer_fields(self, ("layer_iterations", "finetune_iterations", "batch_size", "lr_step"))
        for name in ("layer_iterations", "finetune_iterations"):
            if int(getattr(self, name)) < 0:
                raise ValueError(f"budget.{name} must be >= 0; got {getattr(self, name)}")
        if int(self.layer_iterations) + int(self.finetune_iterations) == 0:
            raise ValueError("budget: layer_iterations + finetune_iterations must be positive")
        for name in ("batch_size", "lr_step"):
            if int(getattr(self, name)) <= 0:
                raise ValueError(f"budget.{name} must be positive; got {getattr(self, name)}")
        for name in ("lr", "finetune_lr"):
            if not float(getattr(self, name)) > 0:
                raise ValueError(f"budget.{name} must be positive; got {getattr(self, name)}")
        if not 0 < float(self.lr_gamma) <= 1:
            raise ValueError(f"budget.lr_gamma must be in (0, 1]; got {self.lr_gamma}")
        if not 0 <= float(self.momentum) < 1:
            raise ValueError(f"budget.momentum must be in [0, 1); got {self.momentum}")
        if float(self.weight_decay) < 0:
            raise ValueError(f"budget.weight_decay must be >= 0; got {self.weight_decay}")
        if not 0 <= float(self.corruption) < 1:
            raise ValueError(f"budget.corruption must be in [0, 1); got {self.corruption}")

    def summary(self) -> str:
        """One line for ``nrbench list budgets``: the procedure and its main numbers."""
        return (f"DEC stacked autoencoder (SGD): {self.layer_iterations:,} greedy iterations per layer pair "
                f"(dropout {self.corruption:g}) + {self.finetune_iterations:,} end-to-end, batch {self.batch_size}, "
                f"lr {self.lr:g} / {self.finetune_lr:g} divided by {1 / self.lr_gamma:g} every {self.lr_step:,}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable fields, ``procedure`` included (part of the cache key)."""
        return dataclasses.asdict(self)


def reconstruction_loss(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Mean squared error over every element of the batch (the loss of :mod:`methods.pretrain` too).

    Per element rather than Caffe's per-sample sum ``1/(2b) Σ_i ||x_i - y_i||²``: see the module's
    "Deviation" for why.
    """
    return torch.mean((y - x) ** 2)


def layer_pairs(model: Autoencoder) -> list[tuple[nn.Linear, nn.Linear, bool, bool]]:
    """``(encoder layer, mirror decoder layer, g1 is ReLU, g2 is ReLU)`` per pair, bottom pair first.

    Only :class:`FeedforwardAutoencoder` is a stack of such pairs; any other
    architecture raises ``ValueError``.
    """
    if not isinstance(model, FeedforwardAutoencoder):
        raise ValueError(f"procedure {PROCEDURE!r} (DEC's stacked autoencoder) needs the 'feedforward' "
                         f"architecture; got {model.arch!r}")
    enc = [m for m in model.encoder if isinstance(m, nn.Linear)]
    dec = [m for m in model.decoder if isinstance(m, nn.Linear)][::-1]
    n = len(enc)
    return [(enc[i], dec[i], i < n - 1, i > 0) for i in range(n)]


@torch.no_grad()
def _encode_layer(layer: nn.Linear, relu: bool, H: torch.Tensor, rows: int) -> torch.Tensor:
    out = torch.empty(H.shape[0], layer.out_features, dtype=H.dtype, device=H.device)
    for i in range(0, H.shape[0], rows):
        h = layer(H[i:i + rows].to(layer.weight.device))
        out[i:i + rows] = (torch.relu(h) if relu else h).to(H.device)
    return out


def _sgd(params: Any, budget: SAEBudget, lr: float) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.StepLR]:
    opt = torch.optim.SGD(params, lr=lr, momentum=budget.momentum, weight_decay=budget.weight_decay)
    return opt, torch.optim.lr_scheduler.StepLR(opt, step_size=budget.lr_step, gamma=budget.lr_gamma)


def train_stacked_autoencoder(model: Autoencoder, X: np.ndarray, budget: SAEBudget, seed: int,
                              device: torch.device, progress: bool = True,
                              checkpoint: TrainingCheckpoint | None = None) -> dict[str, Any]:
    """Run DEC's greedy layer-wise then end-to-end pretraining on ``model`` in place.

    Returns ``{"history": [...], "phases": [[name, iterations], ...], "dead_units": {...},
    "resumed_from": i}`` (per ReLU layer, the fraction of units that are zero on every
    sample); the history holds every iteration's loss (:func:`reconstruction_loss`)
    in phase order.  Deterministic for a given seed on CPU: batches come from
    ``np.random.default_rng(seed)``, dropout from the torch RNG seeded inside a
    ``fork_rng`` block (the caller's global RNG is left unchanged).  A NaN or
    infinite loss raises :class:`methods.base.DivergedError` naming the iteration.
    ``checkpoint``: snapshots are saved to it and a stored one is resumed from
    (:mod:`methods.checkpoint`); ``resumed_from`` is its iteration (0: from the start).
    """
    pairs = layer_pairs(model)
    rng = np.random.default_rng(seed)
    n = X.shape[0]
    model.to(device)
    H = data_on_device(X, device).reshape(n, -1)
    rows = inference_rows(device)
    p = float(budget.corruption)
    history: list[float] = []
    phases: list[list[Any]] = []
    dead_units: dict[str, float] = {}
    total = len(pairs) * budget.layer_iterations + budget.finetune_iterations
    batches = minibatches(n, budget.batch_size, rng)
    fork_devices = [device.index or 0] if device.type == "cuda" else []
    resume = checkpoint.load() if checkpoint is not None else None
    start = int(resume["iteration"]) if resume is not None else 0
    signals = checkpoint.deferring_signals() if checkpoint is not None else contextlib.nullcontext()
    with torch.random.fork_rng(devices=fork_devices), signals:
        torch.manual_seed(int(seed))
        if resume is not None:
            checkpoint.announce(start, total)
            model.load_state_dict(resume["model"])
            history = list(resume["history"])
            phases = [list(ph) for ph in resume["phases"]]
            set_rng_state(resume["rng"], device)
            for _ in range(start):  # the batch stream up to where the run stopped
                next(batches)
        bar = tqdm(total=total, initial=start, desc=f"pretrain {model.arch} ({PROCEDURE})",
                   disable=not progress, leave=False)
        done = 0  # iterations of the phases before the current one

        def run_phase(name: str, params: Any, lr: float, steps: int, data: torch.Tensor,
                      loss_of: Any) -> None:
            """``steps`` SGD iterations of ``loss_of(batch)`` on ``params``; losses appended to ``history``.

            Iterations already done before a resumed snapshot are skipped.
            """
            nonlocal done
            opt, sched = _sgd(params, budget, lr)
            skip = min(steps, max(0, start - done))
            if 0 < skip < steps:  # the snapshot was taken within this phase
                opt.load_state_dict(resume["optimizer"])
                sched.load_state_dict(resume["scheduler"])

            def state_of() -> dict[str, Any]:
                return {"model": model.state_dict(), "optimizer": opt.state_dict(),
                        "scheduler": sched.state_dict(), "history": history, "phases": phases,
                        "rng": rng_state(device)}

            for _ in range(steps - skip):
                loss = loss_of(batch(data, next(batches), device))
                check_finite_loss(len(history), {f"{name}_reconstruction": loss})
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                history.append(float(loss.detach()))
                bar.update(1)
                if len(history) % 50 == 0:
                    bar.set_postfix(phase=name, loss=f"{history[-1]:.4g}")
                if len(history) == done + steps:  # the phase is complete before its snapshot
                    phases.append([name, steps])
                if checkpoint is not None:
                    checkpoint.step(len(history), state_of)
            done += steps

        model.train()
        last = len(pairs) - 1
        for k, (enc, dec, g1_relu, g2_relu) in enumerate(pairs):
            if budget.layer_iterations > 0:
                if done >= start:  # not restored from a snapshot
                    with torch.no_grad():
                        for layer in (enc, dec):
                            layer.weight.normal_(0.0, INIT_STD)
                            layer.bias.zero_()
                p_in = 0.0 if k == 0 else p
                p_hidden = 0.0 if k == last else p

                def pair_loss(xb: torch.Tensor, enc: nn.Linear = enc, dec: nn.Linear = dec, g1: bool = g1_relu,
                              g2: bool = g2_relu, p_in: float = p_in, p_hidden: float = p_hidden) -> torch.Tensor:
                    h = enc(nn.functional.dropout(xb, p=p_in, training=True))
                    h = torch.relu(h) if g1 else h
                    y = dec(nn.functional.dropout(h, p=p_hidden, training=True))
                    return reconstruction_loss(torch.relu(y) if g2 else y, xb)

                run_phase(f"layer{k + 1}", [*enc.parameters(), *dec.parameters()], budget.lr,
                          budget.layer_iterations, H, pair_loss)
            if k < last:
                H = _encode_layer(enc, g1_relu, H, rows)  # the clean input of the next pair
                dead = float((H.amax(0) <= 0).float().mean())
                dead_units[f"layer{k + 1}"] = dead
                if dead == 1.0:
                    raise DivergedError(f"{PROCEDURE} pretraining: layer {k + 1} collapsed after its greedy phase "
                                        f"(all {H.shape[1]} ReLU units are zero on every sample); lower budget.lr")
        del H
        if budget.finetune_iterations > 0:
            model.eval()  # no dropout layers in the network; eval for clarity
            run_phase("finetune", model.parameters(), budget.finetune_lr, budget.finetune_iterations,
                      data_on_device(X, device).reshape(n, -1),
                      lambda xb: reconstruction_loss(model(xb).reshape(xb.shape[0], -1), xb))
        bar.close()
    model.eval()
    return {"history": history, "phases": phases, "dead_units": dead_units, "resumed_from": start}


__all__ = ["INIT_STD", "PROCEDURE", "SAEBudget", "layer_pairs", "reconstruction_loss", "train_stacked_autoencoder"]
