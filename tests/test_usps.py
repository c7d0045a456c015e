"""USPS loader: HDF5 layout, splits, checksum; the real file in a `slow` test."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from generators.download import ChecksumError
from generators.fakes import fake_usps
from generators.sources import USPS
from generators.usps import load_usps


@pytest.fixture
def fake_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setitem(USPS, "h5", fake_usps(tmp_path, n_train=30, n_test=10)["h5"])
    return tmp_path


def test_full_is_train_then_test_as_stored(fake_dir: Path) -> None:
    ds = load_usps(split="full", data_dir=fake_dir, progress=False)
    assert ds.X.shape == (40, 1, 16, 16) and ds.X.dtype == np.float32
    with h5py.File(fake_dir / "usps" / "usps.h5") as f:
        train, test = f["train"]["data"][()], f["test"]["data"][()]
        y = np.concatenate([f["train"]["target"][()], f["test"]["target"][()]])
    assert np.array_equal(ds.X.reshape(40, 256), np.concatenate([train, test]))  # row-major 16x16, unscaled
    assert np.array_equal(ds.labels[:, 0], y) and ds.clusterings == ("digit",)
    assert ds.params["sources"] == {"usps.h5": USPS["h5"].sha256}


@pytest.mark.parametrize("split, n", [("train", 30), ("test", 10)])
def test_splits(fake_dir: Path, split: str, n: int) -> None:
    ds = load_usps(split=split, data_dir=fake_dir, progress=False)
    assert ds.n == n and ds.name == f"usps-{split}"


def test_bad_split_and_altered_file(fake_dir: Path) -> None:
    with pytest.raises(ValueError, match="split"):
        load_usps(split="all", data_dir=fake_dir)
    path = fake_dir / "usps" / "usps.h5"
    with open(path, "r+b") as fh:
        fh.seek(200)
        fh.write(b"\xff\xff")
    with pytest.raises(ChecksumError, match=USPS["h5"].sha256):
        load_usps(data_dir=fake_dir, progress=False)


@pytest.mark.slow
def test_real_usps(real_data_dir: Path) -> None:
    ds = load_usps(split="full", data_dir=real_data_dir, progress=False)
    assert ds.X.shape == (9298, 1, 16, 16) and ds.X.dtype == np.float32
    assert 0.0 <= ds.X.min() and ds.X.max() <= 1.0
    assert np.bincount(ds.labels[:7291, 0]).tolist() == [1194, 1005, 731, 658, 652, 556, 664, 645, 542, 644]
    assert np.bincount(ds.labels[7291:, 0]).tolist() == [359, 264, 198, 166, 200, 160, 170, 147, 166, 177]
