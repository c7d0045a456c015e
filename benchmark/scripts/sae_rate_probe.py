"""Which loss scale and SGD rate DEC's greedy pairs train at on MNIST (the ``dec-sae`` deviation, methods/sae_pretrain.py).

Trains the first two greedy pairs (784-500, 500-500) of DEC's stacked autoencoder
for ``--iters`` iterations each (SGD, momentum 0.9, batch 256, dropout 0.2 as in
:mod:`methods.sae_pretrain`) under each ``LOSS:RATE`` setting and prints, per pair,
the iteration at which the loss became non-finite (if it did), the mean loss over
the first and last 100 iterations, the relative reconstruction error of the last
batch and the fraction of dead ReLU units.  ``euclid`` is Caffe's per-sample sum
``1/(2b) Σ ||x - y||²`` (DEC's), ``mse`` the per-element mean that ``dec-sae`` uses::

    NRBENCH_DATA=../shared/data python benchmark/scripts/sae_rate_probe.py euclid:0.1 euclid:0.01 mse:0.1 mse:1.0

``--scale dec`` feeds DEC's pixel scaling (uint8 x 0.02) instead of the z-transform,
``--init torch`` keeps torch's default initialisation instead of DEC's Gaussian (std 0.01).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch
from torch import nn

import generators
from generators.preprocessing import apply
from methods.sae_pretrain import INIT_STD, reconstruction_loss


def euclidean_loss(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Caffe's Euclidean loss, summed over features: ``1/(2b) Σ_i ||x_i - y_i||²``."""
    return 0.5 * torch.sum((y - x) ** 2) / x.shape[0]


LOSSES = {"euclid": euclidean_loss, "mse": reconstruction_loss}


def probe(X: torch.Tensor, loss_name: str, lr: float, iters: int, init: str, seed: int = 0) -> str:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    loss_fn = LOSSES[loss_name]
    H, dims, out = X, [X.shape[1], 500, 500], []
    for k in range(2):
        enc, dec = nn.Linear(dims[k], dims[k + 1]), nn.Linear(dims[k + 1], dims[k])
        if init == "dec":
            for m in (enc, dec):
                nn.init.normal_(m.weight, std=INIT_STD)
                nn.init.zeros_(m.bias)
        opt = torch.optim.SGD([*enc.parameters(), *dec.parameters()], lr=lr, momentum=0.9)
        losses: list[float] = []
        for _ in range(iters):
            xb = H[rng.choice(len(H), 256, replace=False)]
            h = torch.relu(enc(nn.functional.dropout(xb, 0.2 if k else 0.0)))
            y = dec(nn.functional.dropout(h, 0.2))
            y = torch.relu(y) if k else y
            loss = loss_fn(y, xb)
            if not torch.isfinite(loss):
                out.append(f"pair {k + 1}: non-finite loss at iteration {len(losses) + 1} (counting from 1)")
                return f"{loss_name}:{lr:g} " + " | ".join(out)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        rel = float(((y - xb) ** 2).sum() / (xb ** 2).sum())
        with torch.no_grad():
            H = torch.relu(enc(H))
        dead = float((H.amax(0) <= 0).float().mean())
        out.append(f"pair {k + 1}: loss {np.mean(losses[:100]):.3g} -> {np.mean(losses[-100:]):.3g}, "
                   f"relative error {rel:.3f}, dead units {dead:.2f}")
    return f"{loss_name}:{lr:g} " + " | ".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("settings", nargs="+", help="LOSS:RATE, LOSS one of " + ", ".join(LOSSES))
    p.add_argument("--iters", type=int, default=3000, help="iterations per pair (default 3000)")
    p.add_argument("--scale", choices=("zscore", "dec"), default="zscore")
    p.add_argument("--init", choices=("dec", "torch"), default="dec")
    args = p.parse_args(argv)
    ds = generators.get("mnist", progress=False)
    if args.scale == "dec":
        X = ds.X.reshape(len(ds.X), -1).astype(np.float32) * 0.02
    else:
        X = apply(ds.X, ["scale01", "zscore", "flatten"])
    X = torch.from_numpy(X)
    for s in args.settings:
        name, _, rate = s.partition(":")
        if name not in LOSSES or not rate:
            p.error(f"setting {s!r}: expected LOSS:RATE with LOSS one of {', '.join(LOSSES)}")
        print(f"scale={args.scale} init={args.init} " + probe(X, name, float(rate), args.iters, args.init), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
