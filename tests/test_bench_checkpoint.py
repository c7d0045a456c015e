"""pytest-benchmark: the fixed costs of a resumable fit (``fit(X, checkpoint=...)``), which every `nrbench run` deep fit pays.

- ``fit_key`` hashes X and the network once per fit: on C-MNIST's full 70,000 x 1 x 28 x 56
  float32 array (439 MB) it must stay far below the fit itself (minutes to hours), target < 2 s.
- a snapshot of ENRC's C-MNIST network (the paper's conv ResNet, 16-d embedding) with its Adam
  state, written every 5 minutes: target < 1 s, i.e. < 0.4 % of the interval.
- NrKmeans with resumable starts (``fit(X, checkpoint=...)``, as ``nrbench run`` and ENRC's
  initialisation run it) on C-MNIST's 60,000 x 16 embedding, 10 starts: the key, the per-start
  bookkeeping and the closing delete against a plain fit, target at most 5 % slower.  A snapshot
  of the starts (written every 5 minutes, or at Ctrl-C) is timed on its own: target < 0.1 s.
Run with ``tox -e bench`` (skipped in normal runs).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from baselines.nrkmeans import NrKmeans, run_state
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


@pytest.fixture(scope="module")
def embedding() -> np.ndarray:
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=4.0, size=(10, 16))
    return centres[rng.integers(10, size=60_000)] + rng.normal(size=(60_000, 16))


def _nrkmeans() -> NrKmeans:
    return NrKmeans([10, 10], n_init=10, max_iter=20, random_state=0, progress=False)


@pytest.mark.parametrize("resumable", [False, True])
def test_bench_nrkmeans_starts_with_and_without_snapshots(benchmark, tmp_path, embedding, resumable):
    """Compare the two cases' means (same data, same starts): the resumable one within 5 %."""
    import warnings

    kw = {"checkpoint": tmp_path / "nr.pt"} if resumable else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a start that hits max_iter warns; irrelevant to the timing
        m = benchmark.pedantic(lambda: _nrkmeans().fit(embedding, **kw), rounds=5, iterations=1)
    assert len(m.all_losses_) == 10 and not (tmp_path / "nr.pt").exists()
    benchmark.extra_info["resumable"] = resumable


def test_bench_nrkmeans_starts_snapshot_write(benchmark, tmp_path, embedding):
    from baselines.nrkmeans import best_of_runs, prepare
    from methods.checkpoint import FitCheckpoint

    est = _nrkmeans()
    Xc, _, S_T = prepare(embedding)
    best, losses = best_of_runs(Xc, S_T, [10, 10], False, 1, 0, 20, 1e-10, 10, False, "x")
    ckpt = FitCheckpoint(tmp_path / "s.pt", est, embedding, None, unit="start")
    state = {"losses": losses, "best": run_state(best)}
    benchmark.pedantic(ckpt.save, args=(1, state), rounds=10, iterations=1)
    assert torch.load(ckpt.path, weights_only=True)["iteration"] == 1
    assert benchmark.stats.stats.mean < 0.1
