"""C-MNIST builder (ENRC §3.1): layout, independent shuffles, determinism; real MNIST in `slow`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import chi2_contingency

from generators.cmnist import build_cmnist
from generators.fakes import fake_idx_sources
from generators.idx import read_idx
from generators.sources import MNIST


@pytest.fixture
def fake_mnist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key, src in fake_idx_sources(tmp_path, "mnist", n_train=500, n_test=40).items():
        monkeypatch.setitem(MNIST, key, src)
    return tmp_path


def _index(half: np.ndarray) -> np.ndarray:
    """Decode the source-image index that fake images carry in pixels (0, 0) and (0, 1)."""
    return half[:, 0, 0].astype(int) * 256 + half[:, 0, 1]


def test_layout_padding_and_traceability(fake_mnist: Path) -> None:
    ds = build_cmnist(split="train", seed=3, data_dir=fake_mnist, progress=False)
    assert ds.X.shape == (500, 1, 56, 56) and ds.X.dtype == np.uint8
    assert ds.clusterings == ("left", "right") and ds.name == "cmnist"
    assert not ds.X[:, :, :14].any() and not ds.X[:, :, 42:].any()  # 14 black rows top and bottom
    images = read_idx(fake_mnist / "mnist" / MNIST["train-images"].filename)
    digits = read_idx(fake_mnist / "mnist" / MNIST["train-labels"].filename)
    left, right = ds.X[:, 0, 14:42, :28], ds.X[:, 0, 14:42, 28:]
    li, ri = _index(left), _index(right)
    # every MNIST image is used exactly once on each side, unchanged, with its own label
    assert sorted(li) == list(range(500)) and sorted(ri) == list(range(500))
    assert np.array_equal(left, images[li]) and np.array_equal(right, images[ri])
    assert np.array_equal(ds.labels[:, 0], digits[li]) and np.array_equal(ds.labels[:, 1], digits[ri])


def test_left_and_right_shuffled_independently(fake_mnist: Path) -> None:
    ds = build_cmnist(seed=0, data_dir=fake_mnist, progress=False)
    assert np.mean(ds.labels[:, 0] == ds.labels[:, 1]) < 0.2  # ~0.1 for independent digits
    table = np.zeros((10, 10))
    np.add.at(table, (ds.labels[:, 0], ds.labels[:, 1]), 1)
    assert chi2_contingency(table).pvalue > 0.01  # no detectable dependence between the sides


def test_deterministic_and_seed_dependent(fake_mnist: Path) -> None:
    a = build_cmnist(seed=1, data_dir=fake_mnist, progress=False)
    b = build_cmnist(seed=1, data_dir=fake_mnist, progress=False)
    c = build_cmnist(seed=2, data_dir=fake_mnist, progress=False)
    assert a.checksum == b.checksum != c.checksum


def test_test_split_and_bad_split(fake_mnist: Path) -> None:
    ds = build_cmnist(split="test", data_dir=fake_mnist, progress=False)
    assert ds.n == 40 and ds.name == "cmnist-test"
    with pytest.raises(ValueError, match="split"):
        build_cmnist(split="full", data_dir=fake_mnist)


@pytest.mark.slow
def test_real_cmnist_test_split(real_data_dir: Path) -> None:
    ds = build_cmnist(split="test", seed=0, data_dir=real_data_dir, progress=False)
    assert ds.X.shape == (10000, 1, 56, 56)
    counts = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]  # MNIST-Test digit counts
    assert np.bincount(ds.labels[:, 0]).tolist() == counts
    assert np.bincount(ds.labels[:, 1]).tolist() == counts
    assert 0.05 < ds.X.mean() / 255 < 0.08  # ENRC's C-MNIST mean 0.0653 (padding included)
