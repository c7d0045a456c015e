"""Shared pytest fixtures: an isolated NRBENCH_HOME per test session, and real-data lookup."""

from __future__ import annotations

import os
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
