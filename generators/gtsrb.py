"""GTSRB 4-class subset (ENRC §3.1; ACe/DeC §4): 70 km/h, no passing, ahead only, keep right.

Houben et al. (2013), German Traffic Sign Recognition Benchmark, training set.
ENRC uses the classes 4 (speed limit 70 km/h), 9 (no passing), 35 (ahead
only) and 38 (keep right), 6,720 images, with two clusterings: ``type`` (4)
and ``color`` (2: the red-bordered signs 4 and 9 vs the blue signs 35 and 38).

Two public layouts are read (``layout``):

- ``"official"``: ``Final_Training/Images/000NN/*.ppm`` with one
  ``GT-000NN.csv`` per class (semicolon-separated: Filename; Width; Height;
  Roi.X1; Roi.Y1; Roi.X2; Roi.Y2; ClassId);
- ``"png"``: the PNG re-release, ``Train/<class>/*.png`` with one ``Train.csv``
  (comma-separated: Width, Height, Roi.X1, Roi.Y1, Roi.X2, Roi.Y2, ClassId, Path);
- ``"auto"``: whichever of the two is found under ``path``.

Each image is cropped to its ROI when the CSV gives one (corners taken as
inclusive pixel coordinates, clamped to the image), converted to RGB and
resized to ``size`` x ``size`` with Pillow's bilinear filter (antialiased when
shrinking).  X is uint8 (n, 3, size, size), ordered by class then CSV row.
Histogram equalisation (ENRC §3.1) is a separate preprocessing step
(``generators.preprocessing.hist_equalize``), not baked in.

``path`` defaults to ``<NRBENCH_DATA>/gtsrb``; the data are not downloaded
automatically (see :data:`generators.sources.GTSRB_URL`).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from benchmark.paths import ENV_DATA, data_home
from generators.dataset import DataFileError, Dataset
from generators.download import DataUnavailableError
from generators.sources import GTSRB_URL

#: GTSRB class ids of the subset, in label order for the ``type`` clustering.
CLASSES: tuple[int, ...] = (4, 9, 35, 38)
#: ``color`` label per class: 0 = red-bordered (4, 9), 1 = blue (35, 38).
COLORS: dict[int, int] = {4: 0, 9: 0, 35: 1, 38: 1}
#: Images per class in the official training set (both layouts); they sum to the papers' 6,720.
TRAINING_COUNTS: dict[int, int] = {4: 1980, 9: 1470, 35: 1200, 38: 2070}
LAYOUTS: tuple[str, ...] = ("auto", "official", "png")


@dataclass(frozen=True)
class _Item:
    file: Path
    class_id: int
    roi: tuple[int, int, int, int] | None  # x1, y1, x2, y2 inclusive


def _official_root(path: Path) -> Path | None:
    """The folder holding the ``000NN`` class folders: one of the subset's classes suffices to find it
    (a missing one is then named by :func:`_items_official`)."""
    for cand in (path / "Final_Training" / "Images", path / "GTSRB" / "Final_Training" / "Images",
                 path / "Images", path):
        if cand.is_dir() and any((cand / f"{c:05d}").is_dir() for c in CLASSES):
            return cand
    return None


def _png_root(path: Path) -> Path | None:
    for cand in (path, path / "GTSRB"):
        if (cand / "Train.csv").is_file():
            return cand
    return None


def _roi(row: dict[str, str]) -> tuple[int, int, int, int] | None:
    keys = ("Roi.X1", "Roi.Y1", "Roi.X2", "Roi.Y2")
    if not all(row.get(k, "").strip() for k in keys):
        return None
    return tuple(int(float(row[k])) for k in keys)  # type: ignore[return-value]


@contextlib.contextmanager
def _csv_row(path: Path, line: int) -> Iterator[None]:
    """Turn a missing column or a malformed number in row ``line`` of an annotation CSV into a
    :class:`DataFileError` naming the file and the line (a damaged raw file, not a bad parameter)."""
    try:
        yield
    except KeyError as exc:
        raise DataFileError(f"{path}, line {line}: no column {exc}; is it a GTSRB annotation file?") from None
    except ValueError as exc:
        raise DataFileError(f"{path}, line {line}: {exc}") from None


def _items_official(root: Path) -> list[_Item]:
    items = []
    for c in CLASSES:
        folder = root / f"{c:05d}"
        gt = folder / f"GT-{c:05d}.csv"
        if gt.is_file():
            with open(gt, newline="") as fh:
                reader = csv.DictReader(fh, delimiter=";", restval="")  # a short row: empty fields
                for row in reader:
                    with _csv_row(gt, reader.line_num):
                        row = {k.strip(): v for k, v in row.items() if k}
                        items.append(_Item(folder / row["Filename"].strip(), c, _roi(row)))
        elif folder.is_dir():  # no annotation file: whole images, in name order
            items.extend(_Item(f, c, None) for f in sorted(folder.glob("*.ppm")))
        else:
            raise DataUnavailableError(
                f"GTSRB class folder {folder} is missing (the subset needs the class folders "
                f"{', '.join(f'{k:05d}' for k in CLASSES)} of the training set)")
    return items


def source_fingerprint(params: dict[str, Any]) -> str | None:
    """A cheap fingerprint of the GTSRB folder ``params["path"]`` (default ``$NRBENCH_DATA/gtsrb``).

    Part of the cache key: the resolved folder and, of every file in the subset's class folders
    and ``Train.csv``, its relative name, size and modification time.  So a folder that was
    fixed, replaced or pointed to by another ``$NRBENCH_DATA`` is read again.  None when the
    folder is absent (the loader then says what is missing).
    """
    root = Path(params["path"]).expanduser() if params.get("path") is not None else data_home() / "gtsrb"
    if not root.is_dir():
        return None
    root = root.resolve()
    h = hashlib.sha256(str(root).encode())
    bases = [b for b in (_official_root(root), _png_root(root)) if b is not None]
    for base in bases:
        files = ([base / "Train.csv"] + [base / f"{c:05d}" for c in CLASSES]  # official layout
                 + [base / "Train" / str(c) for c in CLASSES])  # PNG layout
        for f in files:
            for e in sorted(f.iterdir()) if f.is_dir() else [f] if f.is_file() else []:
                try:
                    st = e.stat()
                    sig = f"{st.st_size}\0{st.st_mtime_ns}"
                except OSError:  # a dangling link or an unreadable entry: the loader says what is wrong
                    sig = "unreadable"
                h.update(f"{e.relative_to(root)}\0{sig}\n".encode())
    return h.hexdigest()[:16]


def _check_counts(root: Path, cls: np.ndarray) -> None:
    """Refuse a folder that is not the complete training set of the four classes.

    A partial download, a test split or a folder with missing CSV rows would otherwise give a
    data set of another size (or with fewer clusters) under GTSRB's name.
    """
    got = {c: int((cls == c).sum()) for c in CLASSES}
    if got != TRAINING_COUNTS:
        diff = ", ".join(f"class {c}: {got[c]} (expected {TRAINING_COUNTS[c]})"
                         for c in CLASSES if got[c] != TRAINING_COUNTS[c])
        raise DataUnavailableError(
            f"{root} does not hold GTSRB's complete training set of the classes {CLASSES}: {diff}. "
            f"Unpack {GTSRB_URL} there again, or pass check_counts=False to load what is there "
            "(the counts are recorded in the data set's params)")


def _items_png(root: Path) -> list[_Item]:
    by_class: dict[int, list[_Item]] = {c: [] for c in CLASSES}
    with open(root / "Train.csv", newline="") as fh:
        reader = csv.DictReader(fh, restval="")
        for r in reader:
            with _csv_row(root / "Train.csv", reader.line_num):
                row = {k.strip(): v for k, v in r.items() if k}
                c = int(row["ClassId"])
                if c in by_class:
                    by_class[c].append(_Item(root / row["Path"].strip(), c, _roi(row)))
    return [it for c in CLASSES for it in by_class[c]]


def _read(item: _Item, size: int) -> np.ndarray:
    with Image.open(item.file) as im:
        im = im.convert("RGB")
        if item.roi is not None:
            x1, y1, x2, y2 = item.roi
            box = (max(0, x1), max(0, y1), min(im.width, x2 + 1), min(im.height, y2 + 1))
            if box[2] > box[0] and box[3] > box[1]:
                im = im.crop(box)
        im = im.resize((size, size), Image.BILINEAR)
        return np.asarray(im, dtype=np.uint8).transpose(2, 0, 1)


def load_gtsrb(*, path: str | os.PathLike | None = None, layout: str = "auto", size: int = 32,
               check_counts: bool = True, progress: bool = True) -> Dataset:
    """The 4-class GTSRB subset as uint8 (n, 3, size, size), clusterings ``type`` and ``color``.

    With ``check_counts`` (the default) the folder must hold the official training set's
    1,980 / 1,470 / 1,200 / 2,070 images of the classes 4 / 9 / 35 / 38 (6,720, the papers'
    n); anything else raises :class:`DataUnavailableError` naming the classes that differ.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}; got {layout!r}")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size <= 0:
        raise ValueError(f"size must be a positive integer; got {size!r}")
    root = Path(path).expanduser() if path is not None else data_home() / "gtsrb"
    if not root.is_dir():
        raise DataUnavailableError(
            f"no GTSRB folder at {root}: download and unpack {GTSRB_URL} there (official layout), "
            f"or the PNG release with Train.csv, or pass path= / set ${ENV_DATA}"
        )
    official, png = _official_root(root), _png_root(root)
    if layout == "auto":
        layout = "official" if official is not None else "png" if png is not None else ""
        if not layout:
            raise DataUnavailableError(
                f"{root} has neither the official layout (Final_Training/Images/000NN/GT-000NN.csv) "
                "nor the PNG layout (Train.csv with Train/<class>/*.png)"
            )
    if layout == "official":
        if official is None:
            raise DataUnavailableError(f"{root}: no Final_Training/Images/{CLASSES[0]:05d} folder (layout='official')")
        items = _items_official(official)
    else:
        if png is None:
            raise DataUnavailableError(f"{root}: no Train.csv (layout='png')")
        items = _items_png(png)
    if not items:
        raise DataUnavailableError(f"{root}: no images of the classes {CLASSES}")
    if check_counts:
        _check_counts(root, np.array([it.class_id for it in items]))
    X = np.empty((len(items), 3, size, size), dtype=np.uint8)
    digest = hashlib.sha256()
    for i, item in enumerate(tqdm(items, desc="GTSRB", disable=not progress, leave=False)):
        if not item.file.is_file():
            raise DataUnavailableError(f"GTSRB image {item.file} listed in the CSV is missing")
        digest.update(item.file.name.encode())
        digest.update(item.file.read_bytes())
        X[i] = _read(item, size)
    cls = np.array([it.class_id for it in items])
    labels = np.stack([np.searchsorted(CLASSES, cls), np.array([COLORS[c] for c in cls])], axis=1)
    counts = {str(c): int((cls == c).sum()) for c in CLASSES}  # str keys: JSON-stable
    return Dataset(name="gtsrb", X=X, labels=labels, clusterings=("type", "color"),
                   params={"layout": layout, "size": int(size), "check_counts": bool(check_counts),
                           "classes": list(CLASSES),
                           "class_counts": counts, "source_sha256": digest.hexdigest()})
