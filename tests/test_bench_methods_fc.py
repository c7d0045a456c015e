"""Throughput of the FC (DEC) autoencoder and of DCN on MNIST-sized input, on CPU (pytest-benchmark; `tox -e bench`).

- one pretraining step of the d-500-500-2000-10 autoencoder (784-d, batch 256,
  AdamW + MSE, as in :func:`methods.pretrain.train_autoencoder`): > 500 samples/s;
- one DCN mini-batch iteration (same network, batch 256, λ = 1): > 400 samples/s.

The targets are floors for a 2-core CI machine; the measured samples/s of the
fastest round and the CPU seconds are recorded in ``extra_info``.  Wall time on
a shared machine mostly measures the neighbours.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from methods.autoencoders import FeedforwardAutoencoder
from methods.dcn import DCN

pytestmark = pytest.mark.benchmark

BATCH, DIM = 256, 784
AE_SAMPLES_PER_S, DCN_SAMPLES_PER_S = 500.0, 400.0


def _net() -> FeedforwardAutoencoder:
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return FeedforwardAutoencoder(DIM, embedding_dim=10)


def test_fc_autoencoder_training_step_throughput(benchmark) -> None:
    ae = _net().train()
    opt = torch.optim.AdamW(ae.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=1e-3)
    x = torch.rand(BATCH, DIM, generator=torch.Generator().manual_seed(0))
    steps = 10

    cpu: list[float] = []

    def run() -> float:
        c = time.process_time()
        for _ in range(steps):
            loss = torch.mean((ae(x) - x) ** 2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        cpu.append(time.process_time() - c)
        return float(loss)

    run()  # warm-up (allocator, threads)
    benchmark.pedantic(run, rounds=5, iterations=1)
    best = benchmark.stats.stats.min
    rate = steps * BATCH / best
    benchmark.extra_info.update(samples_per_s=round(rate), step_ms=round(1000 * best / steps, 2),
                                samples_per_cpu_s=round(steps * BATCH / min(cpu[1:])),
                                threads=torch.get_num_threads())
    assert rate > AE_SAMPLES_PER_S


def test_dcn_iteration_throughput(benchmark) -> None:
    ae = _net().eval()
    rng = np.random.default_rng(0)
    X = rng.random((2048, DIM), dtype=np.float32)
    iters = 20
    common = dict(batch_size=BATCH, kmeans_n_init=1, device="cpu", random_state=0, progress=False)
    t = time.perf_counter()
    DCN(10, ae, max_iter=0, **common).fit(X)  # k-means init + final evaluation only
    overhead = time.perf_counter() - t

    benchmark.pedantic(lambda: DCN(10, ae, max_iter=iters, **common).fit(X), rounds=3, iterations=1)
    per_iter = max(benchmark.stats.stats.min - overhead, 1e-9) / iters
    rate = BATCH / per_iter
    benchmark.extra_info.update(samples_per_s=round(rate), iteration_ms=round(1000 * per_iter, 2),
                                overhead_s=round(overhead, 3), threads=torch.get_num_threads())
    assert rate > DCN_SAMPLES_PER_S
