"""pytest-benchmark: the fixed costs of a resumable fit (``fit(X, checkpoint=...)``), which every `nrbench run` deep fit pays.

- ``fit_key`` hashes X and the network once per fit: on C-MNIST's full 70,000 x 1 x 28 x 56
  float32 array (439 MB) it must stay far below the fit itself (minutes to hours), target < 2 s.
- a snapshot of ENRC's C-MNIST network (the paper's conv ResNet, 16-d embedding) with its Adam
  state, written every 5 minutes: target < 1 s, i.e. < 0.4 % of the interval.
Run with ``tox -e bench`` (skipped in normal runs).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from methods.autoencoders import from_config
from methods.checkpoint import FitCheckpoint, fit_key
from methods.enrc import ENRC
from methods.pretrain import resolve_arch

pytestmark = pytest.mark.benchmark


@pytest.fixture(scope="module")
def cmnist_sized() -> np.ndarray:
    return np.random.default_rng(0).random((70_000, 1, 28, 56), dtype=np.float32)


@pytest.fixture(scope="module")
def conv_ae():
    torch.manual_seed(0)
    return from_config(resolve_arch({"arch": "conv_resnet", "embedding_dim": 16}, (1, 28, 56)))


def test_bench_fit_key_on_cmnist(benchmark, cmnist_sized, conv_ae):
    est = ENRC(n_clusters=[10, 10], autoencoder=conv_ae)
    key = benchmark.pedantic(fit_key, args=(est, cmnist_sized, conv_ae), rounds=3, iterations=1)
    assert len(key) == 24 and key == fit_key(est, cmnist_sized, conv_ae)
    assert benchmark.stats.stats.mean < 2.0


def test_bench_enrc_cmnist_snapshot_write(benchmark, tmp_path, conv_ae):
    opt = torch.optim.Adam(conv_ae.parameters())
    conv_ae(torch.zeros(2, 1, 28, 56)).sum().backward()
    opt.step()  # Adam's moment buffers exist, as in a running fit
    X = np.zeros((4, 1, 28, 56), np.float32)
    ckpt = FitCheckpoint(tmp_path / "s.pt", ENRC(autoencoder=conv_ae), X, conv_ae)
    state = {"autoencoder": conv_ae.state_dict(), "optimizer": opt.state_dict()}
    benchmark.pedantic(ckpt.save, args=(1, state), rounds=10, iterations=1)
    assert torch.load(ckpt.path, weights_only=True)["iteration"] == 1
    assert benchmark.stats.stats.mean < 1.0
