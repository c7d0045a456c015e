"""Stickfigures: pose structure, intensity model, spectrum, determinism; the published-file loader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from generators.dataset import DataFileError
from generators.stickfigures import (
    BACKGROUND_MAX,
    FOREGROUND_RANGE,
    HIP_ROW,
    build_stickfigures,
    load_stickfigures_file,
    lower_sprites,
    upper_sprites,
)


@pytest.fixture(scope="module")
def sticks():
    return build_stickfigures(progress=False)


def test_shape_and_exact_label_balance(sticks) -> None:
    assert sticks.X.shape == (900, 1, 20, 20) and sticks.X.dtype == np.uint8
    assert sticks.clusterings == ("upper", "lower")
    combos = sticks.labels[:, 0] * 3 + sticks.labels[:, 1]
    assert np.bincount(combos).tolist() == [100] * 9


def test_sprites_are_distinct_and_confined(sticks) -> None:
    ups, lows = upper_sprites(), lower_sprites()
    assert not ups[:, HIP_ROW + 1:].any() and not lows[:, :HIP_ROW].any()
    assert all(not np.array_equal(ups[i], ups[j]) for i in range(3) for j in range(i + 1, 3))
    assert all(not np.array_equal(lows[i], lows[j]) for i in range(3) for j in range(i + 1, 3))
    assert all(np.array_equal(ups[i, HIP_ROW], lows[j, HIP_ROW]) for i in range(3) for j in range(3))


def test_upper_rows_depend_only_on_upper_label_and_vice_versa(sticks) -> None:
    mask = sticks.X[:, 0] >= 100  # foreground >= 175, background <= 39
    u, low = sticks.labels[:, 0], sticks.labels[:, 1]
    for i in range(3):
        top = mask[u == i, :HIP_ROW + 1]
        assert (top == top[0]).all()  # same upper pose -> identical rows 0-10, whatever the legs
        bottom = mask[low == i, HIP_ROW:]
        assert (bottom == bottom[0]).all()
    assert (mask[:, HIP_ROW] == mask[0, HIP_ROW]).all()  # row 10 identical in all figures
    # and the binary shape is the same for all 100 images of a combination, distinct across the 9
    shapes = {mask[(u == i) & (low == j)].tobytes() for i in range(3) for j in range(3)}
    assert len(shapes) == 9


def test_intensity_ranges_and_brightness(sticks) -> None:
    X = sticks.X[:, 0]
    fg = X >= 100
    assert FOREGROUND_RANGE[0] <= X[fg].min() and X[fg].max() <= FOREGROUND_RANGE[1]
    assert X[~fg].max() <= BACKGROUND_MAX
    bg_means = np.array([x[x < 100].mean() for x in X])
    assert 6 < bg_means.min() < 10 and 29 < bg_means.max() < 33  # published: 8 .. 31
    within_sd = np.median([x[x < 100].std() for x in X])
    assert 4 < within_sd < 6  # published: about 5


def test_pca_has_five_large_components(sticks) -> None:
    A = sticks.X.reshape(900, -1).astype(np.float64)
    sd = np.linalg.svd(A - A.mean(axis=0), compute_uv=False) / np.sqrt(899)
    assert sd[4] > 10 * sd[5]  # 4 pose directions + brightness, then pixel noise
    assert sd[3] > 2 * sd[4]  # the brightness component is the smallest of the five
    assert sd[5] < 10


def test_deterministic_and_seeded() -> None:
    a = build_stickfigures(n_per_combination=5, seed=1, progress=False)
    b = build_stickfigures(n_per_combination=5, seed=1, progress=False)
    c = build_stickfigures(n_per_combination=5, seed=2, progress=False)
    assert a.checksum == b.checksum != c.checksum
    assert a.n == 45


@pytest.mark.parametrize("bad", [0, -3, 2.5])
def test_bad_n_per_combination(bad) -> None:
    with pytest.raises(ValueError, match="n_per_combination"):
        build_stickfigures(n_per_combination=bad)


# ------------------------------------------------------------------ published file
def _write(path: Path, labels: np.ndarray, X: np.ndarray, sep: str) -> None:
    rows = np.hstack([labels, X.reshape(len(X), -1).astype(np.int64)])
    path.write_text("\n".join(sep.join(str(v) for v in r) for r in rows) + "\n")


@pytest.mark.parametrize("sep", [",", " ", "\t"])
def test_file_roundtrip(tmp_path: Path, sep: str) -> None:
    sub = build_stickfigures(n_per_combination=3, seed=5, progress=False)
    path = tmp_path / "stickfigures.data"
    _write(path, sub.labels + 1, sub.X, sep)  # 1-based labels in the file
    ds = load_stickfigures_file(path=path, progress=False)
    assert np.array_equal(ds.X, sub.X) and np.array_equal(ds.labels, sub.labels)
    assert ds.params["label_values"] == [[1, 2, 3], [1, 2, 3]]
    assert len(ds.params["sources"]["stickfigures.data"]) == 64


def test_file_float_pixels_are_accepted_when_integral(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("0,2," + ",".join(["17.0"] * 400) + "\n1,0," + ",".join(["199.0"] * 400) + "\n")
    ds = load_stickfigures_file(path=path, progress=False)
    assert ds.X.dtype == np.uint8 and ds.X[0].max() == 17 and ds.X[1].min() == 199
    assert ds.labels.tolist() == [[0, 1], [1, 0]]


@pytest.mark.parametrize("content, msg", [
    ("1 2 3\n", "402 values"),
    ("0 0 " + " ".join(["300"] * 400) + "\n", "outside 0-255"),
    ("0 0 " + " ".join(["1.5"] * 400) + "\n", "non-integer"),
    ("a b " + " ".join(["1"] * 400) + "\n", "non-numeric"),
    ("", "no rows"),
])
def test_file_rejects_malformed(tmp_path: Path, content: str, msg: str) -> None:
    """A data error (DataFileError: nrbench exits 1), not a bad parameter."""
    path = tmp_path / "bad.txt"
    path.write_text(content)
    with pytest.raises(DataFileError, match=msg):
        load_stickfigures_file(path=path, progress=False)


def test_file_missing_names_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="path"):
        load_stickfigures_file(path=tmp_path / "nope.data")


def test_file_that_is_not_text_is_a_clear_value_error(tmp_path: Path) -> None:
    path = tmp_path / "garbage.data"
    path.write_bytes(bytes([0xC1, 0xFF, 0x00]) * 100)
    with pytest.raises(DataFileError, match=f"path: {path} is not a text file of rows of numbers"):
        load_stickfigures_file(path=path, progress=False)
