"""Does pretraining's fine-tuning phase keep the network?  Carried optimizer (now) against a fresh one (before f987c2e).

Usage (from the repository root)::

    python benchmark/scripts/finetune_stability.py
    python benchmark/scripts/finetune_stability.py --iterations 60 150 --seeds 0 1 --finetune 20

On the generated Stickfigures (scale01 + zscore), for each conv ResNet width setting,
one-cycle length and seed, the same network from the same initialisation is trained
twice with :func:`methods.pretrain.train_autoencoder`'s phase 1, then fine-tuned in
eval mode (BatchNorm frozen) at ``finetune_lr`` on the same batches:

- ``carried``: :func:`methods.pretrain.train_autoencoder` itself, whose phase 2
  continues phase 1's AdamW (fastai v1 keeps a Learner's optimizer across ``fit`` calls);
- ``fresh``: phase 1 alone, then a new AdamW for phase 2, as before f987c2e.

It prints phase 1's last loss, the largest fine-tuning loss (its ratio to the former is
the spike) and the final eval-mode reconstruction MSE on all images.  A run that the
divergence guard stops is printed as such.
"""

from __future__ import annotations

import argparse
import copy
import itertools

import numpy as np
import torch

import generators
from generators.preprocessing import apply
from methods.autoencoders import from_config
from methods.base import DivergedError, batch, minibatches
from methods.pretrain import PretrainBudget, reconstruction_mse, resolve_arch, train_autoencoder

WIDTHS = {"small": [4, 8, 8, 8, 8], "enrc": [8, 16, 32, 64, 128]}


def fresh_finetune(model: torch.nn.Module, X: np.ndarray, budget: PretrainBudget, seed: int) -> list[float]:
    """Phase 1 as in train_autoencoder, then ``finetune_iterations`` with a new AdamW (the pre-f987c2e phase 2)."""
    device = torch.device("cpu")
    phase1 = PretrainBudget(**{**budget.to_dict(), "betas": tuple(budget.betas), "finetune_iterations": 0})
    history = train_autoencoder(model, X, phase1, seed, device, progress=False)["history"]
    batches = minibatches(len(X), budget.batch_size, np.random.default_rng(seed))
    for _ in range(budget.iterations):  # the batches phase 1 used: phase 2 sees the same ones as 'carried'
        next(batches)
    Xt = torch.as_tensor(X)
    model.eval()
    opt = torch.optim.AdamW(model.parameters(), lr=budget.finetune_lr, betas=budget.betas,
                            weight_decay=budget.weight_decay)
    for _ in range(budget.finetune_iterations):
        xb = batch(Xt, next(batches), device)
        loss = torch.mean((model(xb) - xb) ** 2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        history.append(float(loss.detach()))
    return history


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--widths", nargs="+", choices=sorted(WIDTHS), default=["small", "enrc"])
    ap.add_argument("--iterations", nargs="+", type=int, default=[60, 150], help="one-cycle iterations")
    ap.add_argument("--finetune", type=int, default=20, help="fine-tuning iterations")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    ap.add_argument("--batch-size", type=int, default=128)
    args = ap.parse_args()

    X = apply(generators.build("stickfigures", progress=False).X, ("scale01", "zscore"))
    print(f"{'widths':6} {'iters':>5} {'seed':>4} | {'mode':7} {'phase-1 end':>11} {'max fine-tune':>13} "
          f"{'spike':>7} {'final MSE':>9}")
    for w, it, seed in itertools.product(args.widths, args.iterations, args.seeds):
        arch = resolve_arch({"arch": "conv_resnet", "widths": WIDTHS[w], "embedding_dim": 16}, X.shape[1:])
        budget = PretrainBudget(iterations=it, finetune_iterations=args.finetune, batch_size=args.batch_size)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            init = from_config(arch)
        for mode in ("fresh", "carried"):
            model = copy.deepcopy(init)
            try:
                if mode == "carried":
                    h = train_autoencoder(model, X, budget, seed, torch.device("cpu"), progress=False)["history"]
                else:
                    h = fresh_finetune(model, X, budget, seed)
            except DivergedError as exc:
                print(f"{w:6} {it:5d} {seed:4d} | {mode:7} stopped: {exc}")
                continue
            end1, peak = h[it - 1], max(h[it:])
            print(f"{w:6} {it:5d} {seed:4d} | {mode:7} {end1:11.4g} {peak:13.4g} {peak / end1:6.1f}x "
                  f"{reconstruction_mse(model, X):9.4g}", flush=True)


if __name__ == "__main__":
    main()
