"""Shared pytest fixtures: an isolated NRBENCH_HOME per test session, real-data lookup, and the
SYNTH-2 data with a small pretrained FC autoencoder that the DCN and DEC/IDEC tests share."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own empty NRBENCH_HOME; NRBENCH_DATA is kept (real data is read-only)."""
    home = tmp_path_factory.mktemp("nrbench-home")
    monkeypatch.setenv("NRBENCH_HOME", str(home))
    return home


@pytest.fixture
def real_data_dir() -> Path:
    """The folder of real MNIST/FMNIST/USPS files (NRBENCH_DATA or ../shared/data); skips if absent."""
    env = os.environ.get("NRBENCH_DATA")
    path = Path(env) if env else SHARED_DATA
    if not (path / "mnist").is_dir():
        pytest.skip(f"real data not found at {path} (set NRBENCH_DATA)")
    return path


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def synth2_ae() -> tuple[np.ndarray, np.ndarray, object]:
    """SYNTH-2 (600 points, 4 clusters in 2 of 4 dims), z-scored, its labels and a small pretrained FC autoencoder.

    Shared by the DCN and DEC/IDEC tests (the methods copy the network and never
    modify it; their tests assert that).  generators.build (not get): a session
    fixture runs outside the per-test NRBENCH_HOME.
    """
    import generators
    from generators.preprocessing import apply
    from methods.pretrain import pretrain

    ds = generators.build("synth", n=600, k=2, seed=0, progress=False)
    X = apply(ds.X, ("zscore",))
    # a briefly pretrained network whose embedding k-means clusters imperfectly (NMI 0.805), so that the
    # methods' own training has something to improve (measured: DCN 1.000, DEC 1.000, IDEC 0.987)
    ae = pretrain(X=X, arch={"arch": "feedforward", "hidden": [32, 32], "embedding_dim": 4}, seed=2,
                  budget={"iterations": 80, "finetune_iterations": 20, "batch_size": 100}, preprocessing=(),
                  device="cpu", cache=False, progress=False)
    return X, ds.labels[:, 0], ae


@pytest.fixture
def sigint_raises() -> Iterator[None]:
    """Python's own SIGINT handler (``KeyboardInterrupt``) for the test, restored after it.

    pytest started from a background shell (``nohup``, ``cmd &``, some CI runners) inherits
    SIGINT *ignored*, and the snapshot code rightly leaves an ignored signal alone (a Dask
    worker's Ctrl-C); tests that send themselves a real SIGINT need it to act.
    """
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)

