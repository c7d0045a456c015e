"""GTSRB 4-class loader on small fixture folders of both public layouts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from generators.dataset import DataFileError
from generators.download import DataUnavailableError
from generators.gtsrb import CLASSES, TRAINING_COUNTS, load_gtsrb
from generators.sources import GTSRB_URL

#: (class id, number of images); class 1 is not in the subset and must be ignored.
FIXTURE = [(1, 2), (4, 3), (9, 2), (35, 2), (38, 3)]
HEADER = ["Width", "Height", "Roi.X1", "Roi.Y1", "Roi.X2", "Roi.Y2", "ClassId"]


def _colour(c: int, j: int) -> tuple[int, int, int]:
    return (c * 5 % 256, 10 + j, 200 - c)


def _images(rng: np.random.Generator):
    """Per image: noisy border around a solid ROI of a (class, index)-specific colour."""
    for c, m in FIXTURE:
        for j in range(m):
            w, h = int(rng.integers(30, 50)), int(rng.integers(30, 50))
            a = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
            x1, y1, x2, y2 = 5, 6, w - 6, h - 5  # inclusive corners
            a[y1:y2 + 1, x1:x2 + 1] = _colour(c, j)
            yield c, j, Image.fromarray(a), (w, h, x1, y1, x2, y2)


def make_official(root: Path, seed: int = 0) -> Path:
    base = root / "GTSRB" / "Final_Training" / "Images"
    rows: dict[int, list[str]] = {}
    for c, j, im, (w, h, x1, y1, x2, y2) in _images(np.random.default_rng(seed)):
        folder = base / f"{c:05d}"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"00000_{j:05d}.ppm"
        im.save(folder / name)
        rows.setdefault(c, []).append(";".join(map(str, [name, w, h, x1, y1, x2, y2, c])))
    for c, lines in rows.items():
        (base / f"{c:05d}" / f"GT-{c:05d}.csv").write_text(
            ";".join(["Filename"] + HEADER) + "\n" + "\n".join(lines) + "\n")
    return root


def make_png(root: Path, seed: int = 0) -> Path:
    lines = [",".join(HEADER + ["Path"])]
    for c, j, im, (w, h, x1, y1, x2, y2) in _images(np.random.default_rng(seed)):
        rel = f"Train/{c}/{c:05d}_00000_{j:05d}.png"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        im.save(root / rel)
        lines.append(",".join(map(str, [w, h, x1, y1, x2, y2, c, rel])))
    (root / "Train.csv").write_text("\n".join(lines) + "\n")
    return root


@pytest.mark.parametrize("maker, layout", [(make_official, "official"), (make_png, "png")])
def test_layout_labels_and_roi_crop(tmp_path: Path, maker, layout: str) -> None:
    ds = load_gtsrb(path=maker(tmp_path), check_counts=False, progress=False)
    assert ds.params["layout"] == layout
    assert ds.X.shape == (10, 3, 32, 32) and ds.X.dtype == np.uint8
    assert ds.clusterings == ("type", "color")
    assert ds.labels[:, 0].tolist() == [0, 0, 0, 1, 1, 2, 2, 3, 3, 3]  # class 1 dropped, class order
    assert ds.labels[:, 1].tolist() == [0] * 5 + [1] * 5  # red 4, 9; blue 35, 38
    assert ds.params["class_counts"] == {"4": 3, "9": 2, "35": 2, "38": 3}
    # cropped to the ROI: the noisy border is gone, only the solid colour remains
    expected = [_colour(c, j) for c, m in FIXTURE if c in CLASSES for j in range(m)]
    for x, col in zip(ds.X, expected):
        assert (x.reshape(3, -1).T == col).all()


def test_both_layouts_give_identical_arrays(tmp_path: Path) -> None:
    a = load_gtsrb(path=make_official(tmp_path / "a", seed=3), layout="official", size=16, check_counts=False,
                  progress=False)
    b = load_gtsrb(path=make_png(tmp_path / "b", seed=3), layout="png", size=16, check_counts=False, progress=False)
    assert a.X.shape == (10, 3, 16, 16)
    assert np.array_equal(a.X, b.X) and np.array_equal(a.labels, b.labels)


def test_deterministic(tmp_path: Path) -> None:
    root = make_png(tmp_path)
    a, b = (load_gtsrb(path=root, check_counts=False, progress=False) for _ in range(2))
    assert a.checksum == b.checksum and a.params["source_sha256"] == b.params["source_sha256"]


def test_default_path_is_under_nrbench_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_official(tmp_path / "gtsrb")
    monkeypatch.setenv("NRBENCH_DATA", str(tmp_path))
    assert load_gtsrb(check_counts=False, progress=False).n == 10


def test_bad_arguments(tmp_path: Path) -> None:
    root = make_png(tmp_path)
    with pytest.raises(ValueError, match="layout"):
        load_gtsrb(path=root, layout="kaggle")
    with pytest.raises(ValueError, match="size"):
        load_gtsrb(path=root, size=0)
    with pytest.raises(DataUnavailableError, match="layout='official'"):
        load_gtsrb(path=root, layout="official", progress=False)


def test_missing_folder_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(DataUnavailableError) as err:
        load_gtsrb(path=tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(err.value) and GTSRB_URL in str(err.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataUnavailableError, match="neither the official layout"):
        load_gtsrb(path=tmp_path / "empty")


@pytest.mark.parametrize("maker", [make_official, make_png])
def test_an_incomplete_training_set_is_refused_by_default(tmp_path: Path, maker) -> None:
    # the fixture's 3 / 2 / 2 / 3 images are not the official 1,980 / 1,470 / 1,200 / 2,070
    with pytest.raises(DataUnavailableError) as err:
        load_gtsrb(path=maker(tmp_path), progress=False)
    msg = str(err.value)
    assert "class 4: 3 (expected 1980)" in msg and "class 38: 3 (expected 2070)" in msg
    assert "check_counts=False" in msg and GTSRB_URL in msg
    assert TRAINING_COUNTS == {4: 1980, 9: 1470, 35: 1200, 38: 2070} and sum(TRAINING_COUNTS.values()) == 6720


def test_the_official_counts_are_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import generators.gtsrb as g

    monkeypatch.setattr(g, "TRAINING_COUNTS", {4: 3, 9: 2, 35: 2, 38: 3})  # the fixture's own counts
    ds = load_gtsrb(path=make_png(tmp_path), progress=False)
    assert ds.n == 10 and ds.params["check_counts"] is True


def test_a_missing_class_folder_is_named(tmp_path: Path) -> None:
    import shutil

    root = make_official(tmp_path)
    shutil.rmtree(root / "GTSRB" / "Final_Training" / "Images" / "00004")
    with pytest.raises(DataUnavailableError, match=r"class folder .*00004 is missing"):
        load_gtsrb(path=root, progress=False)


@pytest.mark.parametrize("maker", [make_official, make_png])
def test_a_malformed_annotation_csv_is_a_data_error_naming_file_and_line(tmp_path: Path, maker) -> None:
    """A damaged raw file: DataFileError (nrbench exits 1) naming the CSV and the line, not a bare ValueError
    (exit 2, as if a parameter were wrong) or a KeyError."""
    root = maker(tmp_path)
    csv = (root / "Train.csv" if maker is make_png
           else root / "GTSRB" / "Final_Training" / "Images" / "00009" / "GT-00009.csv")
    lines = csv.read_text().splitlines()
    sep = "," if maker is make_png else ";"
    fields = lines[-1].split(sep)  # of class 9 (official) / 38 (PNG), both in the subset
    fields[3] = "six"  # Roi.X1 (official) / Roi.Y1 (PNG): not a number
    csv.write_text("\n".join([*lines[:-1], sep.join(fields)]) + "\n")
    with pytest.raises(DataFileError, match=f"^{csv}, line {len(lines)}: could not convert string to float: 'six'$"):
        load_gtsrb(path=root, check_counts=False, progress=False)
    csv.write_text(lines[0].replace("ClassId", "Class").replace("Filename", "File") + "\n" + "\n".join(lines[1:]))
    with pytest.raises(DataFileError, match=f"^{csv}, line 2: no column '(ClassId|Filename)'"):
        load_gtsrb(path=root, check_counts=False, progress=False)
