"""A tiny local autoencoder training loop shared by the method tests.

The tests train their small autoencoders here rather than through
:func:`methods.pretrain.pretrain` so that they depend neither on the pretraining
cache nor on its one-cycle schedule: plain Adam on random mini-batches of X.
"""

from __future__ import annotations

import numpy as np
import torch


def train_locally(ae: torch.nn.Module, X: np.ndarray, steps: int, lr: float, batch_size: int, seed: int,
                  per_sample_sum: bool = False) -> torch.nn.Module:
    """Train ``ae`` in place for ``steps`` Adam steps on reconstruction error; return it in eval mode.

    The loss is the elementwise mean squared error, or with ``per_sample_sum`` the
    batch mean of each sample's summed squared error (the methods' L_rec scale).
    Batches are drawn with replacement by ``np.random.default_rng(seed)``.
    """
    opt = torch.optim.Adam(ae.parameters(), lr)
    Xt = torch.from_numpy(X)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        xb = Xt[rng.integers(0, len(X), batch_size)]
        err = (ae(xb) - xb) ** 2
        loss = err.reshape(err.shape[0], -1).sum(1).mean() if per_sample_sum else err.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return ae.eval()
