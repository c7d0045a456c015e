"""Speed of ENRC and ACe/DeC on CPU (pytest-benchmark; run by ``tox -e bench``).

- The ENRC joint-phase step (assignment, centre update, Eq. 9 loss, Adam step) may
  cost at most 1.2x a plain autoencoder training step on the same batch and
  network: the clustering layer must stay cheap next to the autoencoder.
- Throughput in samples/s: ENRC with the conv ResNet AE on C-MNIST-shaped
  1x56x56 input, ACe/DeC+DCN with the FC 784-500-500-2000-10 AE.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable

import numpy as np
import pytest
import torch

from methods.acedec import ACeDeC
from methods.autoencoders import ConvResNetAutoencoder, FeedforwardAutoencoder
from methods.enrc import ENRC
from methods.layer_estimator import squared_error

pytestmark = pytest.mark.benchmark


def _fitted_state(model_cls, n_clusters, ae, X, batch_size):
    """A model after its initialisation only (max_iter=0), with a fresh joint-phase optimiser."""
    m = model_cls(n_clusters, ae, max_iter=0, init_rounds=1, init_max_iter=2, batch_size=batch_size,
                  progress=False, random_state=0, device="cpu").fit(X)
    ae_m, layer = m.autoencoder_, m.clustering_layer_
    opt, sched = m._make_optimizer(ae_m, layer)
    return m, ae_m, layer, opt, sched


def _best_times(fns: dict[str, Callable[[], None]], repeats: int) -> dict[str, float]:
    """Interleaved best-of-``repeats`` wall times (interleaving evens out load from other processes)."""
    best = {k: float("inf") for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - t)
    return best


def test_enrc_step_overhead_vs_plain_autoencoder_step(benchmark):
    torch.manual_seed(0)
    b = 64
    X = np.random.default_rng(0).standard_normal((4 * b, 1, 56, 56)).astype(np.float32)
    ae = ConvResNetAutoencoder((1, 56, 56))
    m, ae_m, layer, opt, sched = _fitted_state(ENRC, [10, 10], ae, X, b)
    xb = torch.from_numpy(X[:b])

    plain_ae = copy.deepcopy(ae).eval()
    plain_opt = torch.optim.Adam(plain_ae.parameters(), lr=2.5e-3)

    def plain_step() -> None:
        loss = squared_error(xb, plain_ae.decode(plain_ae.encode(xb)))
        plain_opt.zero_grad(set_to_none=True)
        loss.backward()
        plain_opt.step()

    def enrc_step() -> None:
        m._train_step(ae_m, layer, opt, sched, xb, 1)

    plain_step(), enrc_step()  # warm-up
    t = _best_times({"plain": plain_step, "enrc": enrc_step}, repeats=5)
    benchmark.pedantic(enrc_step, rounds=3, iterations=1)
    ratio = t["enrc"] / t["plain"]
    benchmark.extra_info.update(plain_step_s=t["plain"], enrc_step_s=t["enrc"], ratio=ratio, batch=b,
                                enrc_samples_per_s=b / t["enrc"])
    assert ratio <= 1.2, f"ENRC step {t['enrc']:.4f}s vs plain AE step {t['plain']:.4f}s (ratio {ratio:.2f})"


def test_acedec_throughput_fc_784(benchmark):
    torch.manual_seed(0)
    b = 256
    X = np.random.default_rng(0).standard_normal((4 * b, 784)).astype(np.float32)
    ae = FeedforwardAutoencoder(784, embedding_dim=10)
    m, ae_m, layer, opt, sched = _fitted_state(ACeDeC, 10, ae, X, b)
    xb = torch.from_numpy(X[:b])

    def step() -> None:
        m._train_step(ae_m, layer, opt, sched, xb, 1)

    step()
    benchmark.pedantic(step, rounds=5, iterations=1)
    t = benchmark.stats.stats.min
    benchmark.extra_info.update(samples_per_s=b / t, batch=b)
    assert b / t > 0
