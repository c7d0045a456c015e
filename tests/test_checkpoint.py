"""Resumable pretraining (methods/checkpoint.py): a stopped run resumes to the same network, bit for bit on CPU.

Each case stops a run after iteration ``k`` (a snapshot is written there, as at Ctrl-C), resumes it
with a fresh network object, and compares the weights and loss history with an uninterrupted run.
The stop points cover: inside a phase, exactly at a phase boundary, inside the last phase, and after
the last iteration.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

import methods.pretrain as pt
from methods.augment import Augmenter
from methods.autoencoders import from_config
from methods.base import DivergedError
from methods.checkpoint import CHECKPOINT_FORMAT, TrainingCheckpoint, checkpoint_path
from methods.pretrain import PretrainBudget, pretrain, resolve_arch, train_autoencoder
from methods.sae_pretrain import SAEBudget, train_stacked_autoencoder

CPU = torch.device("cpu")
ONECYCLE = PretrainBudget(iterations=30, finetune_iterations=12, batch_size=16, corruption=0.2)
SAE = SAEBudget(layer_iterations=10, finetune_iterations=14, batch_size=16, lr_step=7)
FF = {"arch": "feedforward", "hidden": [12, 12], "embedding_dim": 3}
CONV = {"arch": "conv_resnet", "widths": [4, 4, 4, 4, 4], "dropout": 0.2}


class StopAfter(TrainingCheckpoint):
    """A checkpoint that, like a deferred Ctrl-C, writes its snapshot after iteration ``stop`` and interrupts."""

    def __init__(self, path: Path, key: str, stop: int) -> None:
        super().__init__(path, key, every_s=1e9)
        self.stop = stop

    def step(self, iteration: int, state_of) -> None:
        if iteration == self.stop:
            self.save(iteration, state_of())
            raise KeyboardInterrupt


@pytest.fixture(scope="module")
def flat() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(96, 8)).astype(np.float32)


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return np.random.default_rng(1).random((48, 1, 20, 20)).astype(np.float32)


def _net(arch: dict, X: np.ndarray) -> torch.nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        return from_config(resolve_arch(arch, X.shape[1:]))


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _train(kind: str, X: np.ndarray, arch: dict, checkpoint: TrainingCheckpoint | None, augment: bool):
    net = _net(arch, X)
    if kind == "sae":
        rec = train_stacked_autoencoder(net, X, SAE, seed=5, device=CPU, progress=False, checkpoint=checkpoint)
    else:
        aug = Augmenter(rotation=10, shift=0.1, zoom=0.1, lighting=0.1, seed=5) if augment else None
        rec = train_autoencoder(net, X, ONECYCLE, seed=5, device=CPU, augmenter=aug, progress=False,
                                checkpoint=checkpoint)
    return net, rec


@pytest.mark.parametrize(("kind", "arch", "augment", "stop"), [
    ("onecycle", FF, False, 7),     # inside the one-cycle phase (input corruption draws from the torch RNG)
    ("onecycle", FF, False, 30),    # exactly at the phase boundary
    ("onecycle", FF, False, 35),    # inside fine-tuning
    ("onecycle", FF, False, 42),    # after the last iteration, before the network was cached
    ("onecycle", CONV, True, 11),   # dropout, BatchNorm and the augmenter's own generator
    ("onecycle", CONV, True, 33),
    ("sae", FF, False, 4),          # inside the first greedy pair
    ("sae", FF, False, 10),         # between two pairs (the next pair's initialisation comes after it)
    ("sae", FF, False, 25),         # inside the last pair
    ("sae", FF, False, 36),         # inside the end-to-end phase, across an lr step
], ids=lambda v: v if isinstance(v, (str, int, bool)) else v["arch"])
def test_a_stopped_run_resumes_to_the_uninterrupted_network(tmp_path, flat, images, kind, arch, augment,
                                                            stop) -> None:
    X = images if arch is CONV else flat
    whole, whole_rec = _train(kind, X, arch, None, augment)
    path = tmp_path / "run.partial.pt"
    with pytest.raises(KeyboardInterrupt):
        _train(kind, X, arch, StopAfter(path, "k", stop), augment)
    assert torch.load(path, weights_only=True)["iteration"] == stop
    resumed, rec = _train(kind, X, arch, TrainingCheckpoint(path, "k", every_s=1e9), augment)
    assert rec["resumed_from"] == stop
    assert rec["history"] == whole_rec["history"]
    assert rec.get("phases") == whole_rec.get("phases")
    assert rec.get("dead_units") == whole_rec.get("dead_units")
    assert _same(resumed, whole)


def test_periodic_snapshots_hold_the_latest_iteration(tmp_path, flat) -> None:
    ck = TrainingCheckpoint(tmp_path / "p.partial.pt", "k", every_s=0)  # every iteration
    _train("onecycle", flat, FF, ck, False)
    state = ck.load()
    assert state is not None and state["iteration"] == 42 and len(state["history"]) == 42
    assert state["format"] == CHECKPOINT_FORMAT


def test_interval_must_be_non_negative(tmp_path) -> None:
    with pytest.raises(ValueError, match="checkpoint interval"):
        TrainingCheckpoint(tmp_path / "x", "k", every_s=-1)


def _pretrain(X: np.ndarray, **kw):
    return pretrain(X=X, arch=FF, seed=2, budget=ONECYCLE, preprocessing=(), device="cpu", progress=False, **kw)


def _sigint_at(monkeypatch, iteration: int) -> None:
    """Send a real SIGINT to this process while iteration ``iteration`` is being checkpointed."""
    original = TrainingCheckpoint.step

    def step(self, it, state_of):
        if it == iteration:
            os.kill(os.getpid(), signal.SIGINT)  # the deferring handler records it; step acts on it below
        return original(self, it, state_of)

    monkeypatch.setattr(TrainingCheckpoint, "step", step)


def test_ctrl_c_writes_a_snapshot_and_a_rerun_resumes_from_it(tmp_path, flat, monkeypatch, capsys,
                                                               sigint_raises) -> None:
    reference = _pretrain(flat, cache=False)
    with monkeypatch.context() as m:
        _sigint_at(m, 17)
        with pytest.raises(KeyboardInterrupt, match="resumes from"):
            _pretrain(flat)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is put back
    snaps = list(Path(os.environ["NRBENCH_HOME"]).rglob("*.partial.pt"))
    assert len(snaps) == 1 and torch.load(snaps[0], weights_only=True)["iteration"] == 17
    assert not list(Path(os.environ["NRBENCH_HOME"]).rglob("feedforward-*.json"))  # nothing cached
    capsys.readouterr()
    ae = _pretrain(flat)
    assert "resuming pretraining from its snapshot at iteration 17 of 42" in capsys.readouterr().err
    assert ae.pretrain_info["resumed_from"] == 17
    assert ae.pretrain_info["history"] == reference.pretrain_info["history"]
    assert _same(ae, reference)
    assert not snaps[0].exists()  # removed once the network is cached
    again = _pretrain(flat)  # from the cache now
    assert again.pretrain_info["cached"] and again.pretrain_info["resumed_from"] == 17


def test_sigterm_writes_a_snapshot_then_terminates(tmp_path, flat) -> None:
    np.save(tmp_path / "X.npy", flat)
    child = textwrap.dedent(f"""
        import os, signal, sys
        import numpy as np
        sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})
        import tests.test_checkpoint as t
        from methods.checkpoint import TrainingCheckpoint
        original = TrainingCheckpoint.step
        def step(self, it, state_of):
            if it == 9:
                os.kill(os.getpid(), signal.SIGTERM)
            return original(self, it, state_of)
        TrainingCheckpoint.step = step
        t._pretrain(np.load({str(tmp_path / "X.npy")!r}))
        print("not reached")
    """)
    env = {**os.environ, "NRBENCH_HOME": str(tmp_path / "home")}
    proc = subprocess.run([sys.executable, "-c", child], check=False, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGTERM, proc.stderr
    assert "not reached" not in proc.stdout
    snaps = list((tmp_path / "home").rglob("*.partial.pt"))
    assert len(snaps) == 1 and torch.load(snaps[0], weights_only=True)["iteration"] == 9


def test_a_snapshot_of_another_run_or_a_damaged_one_is_ignored_with_a_warning(tmp_path, flat) -> None:
    reference = _pretrain(flat, cache=False)
    key = reference.pretrain_info["key"]
    pt_path, _ = pt.cache_paths(key, "feedforward")
    snap = checkpoint_path(pt_path)
    TrainingCheckpoint(snap, "another-key").save(5, {"model": {}})
    with pytest.warns(RuntimeWarning, match="belongs to another run"):
        ae = _pretrain(flat)
    assert ae.pretrain_info["resumed_from"] == 0 and _same(ae, reference)
    pt_path.unlink()
    pt_path.with_suffix(".json").unlink()
    snap.write_bytes(b"not a torch file")
    with pytest.warns(RuntimeWarning, match="unreadable pretraining snapshot"):
        ae = _pretrain(flat)
    assert ae.pretrain_info["resumed_from"] == 0 and _same(ae, reference)
    assert not snap.exists()


def test_a_diverged_run_leaves_no_snapshot(tmp_path, flat, monkeypatch) -> None:
    def boom(*a, **k):
        raise DivergedError("training diverged at iteration 3")

    ck_dir = Path(os.environ["NRBENCH_HOME"])
    monkeypatch.setattr(pt, "train_autoencoder", lambda model, X, budget, seed, device, **kw: (
        kw["checkpoint"].save(3, {}), boom()))
    with pytest.raises(DivergedError):
        _pretrain(flat)
    assert not list(ck_dir.rglob("*.partial.pt"))


def test_no_snapshots_without_the_cache_or_with_checkpoint_every_none(flat) -> None:
    home = Path(os.environ["NRBENCH_HOME"])
    _pretrain(flat, cache=False)
    _pretrain(flat, checkpoint_every=None)
    assert not list(home.rglob("*.partial.pt"))
