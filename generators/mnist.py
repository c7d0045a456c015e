"""MNIST and Fashion-MNIST loaders (the ACe/DeC benchmarks MNIST-Full, MNIST-Test, FMNIST).

Both read the four standard gzipped IDX files from ``<data_dir>/mnist/`` or
``<data_dir>/fashion-mnist/`` (``data_dir`` defaults to ``$NRBENCH_DATA``),
verified against the published SHA-256 checksums in :mod:`generators.sources`
and downloaded from the official URLs when absent.

``split``: ``"full"`` = train (60,000) followed by test (10,000), i.e. the
70,000 samples of MNIST-Full; ``"train"``; ``"test"`` (10,000, MNIST-Test).
X is uint8 of shape (n, 1, 28, 28); one clustering (``digit`` / ``class``).
The source-file checksums are recorded in ``Dataset.params["sources"]``; Fashion-MNIST's class
names (label i is ``FMNIST_CLASSES[i]``, Xiao et al. 2017) in ``Dataset.params["label_names"]``.
"""

from __future__ import annotations

import os

import numpy as np
from tqdm.auto import tqdm

from generators.dataset import DataFileError, Dataset
from generators.download import ensure_file
from generators.idx import read_idx
from generators.sources import FMNIST, MNIST, SourceFile

#: Fashion-MNIST's ten classes in label order (Xiao, Rasul, Vollgraf 2017, Table 1).
FMNIST_CLASSES: tuple[str, ...] = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                                   "Sneaker", "Bag", "Ankle boot")

#: The valid values of ``split`` and the IDX parts each one concatenates.
SPLITS: dict[str, tuple[str, ...]] = {"full": ("train", "test"), "train": ("train",), "test": ("test",)}


def check_split(split: str) -> tuple[str, ...]:
    """Return the parts of ``split`` or raise a ValueError naming ``split``."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    return SPLITS[split]


def read_idx_pair(files: dict[str, SourceFile], part: str, data_dir: str | os.PathLike | None,
                  progress: bool = True) -> tuple[np.ndarray, np.ndarray, dict[str, str]]:
    """Verified images (n, 28, 28) uint8 and labels (n,) of one part ("train"/"test")."""
    img_src, lab_src = files[f"{part}-images"], files[f"{part}-labels"]
    img_path = ensure_file(img_src, data_dir, progress=progress)
    lab_path = ensure_file(lab_src, data_dir, progress=progress)
    images, labels = read_idx(img_path), read_idx(lab_path)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataFileError(f"{img_path}: images {images.shape} do not match labels {labels.shape}")
    return images, labels.astype(np.int64), {img_src.filename: img_src.sha256, lab_src.filename: lab_src.sha256}


def _load(family: str, files: dict[str, SourceFile], column: str, split: str,
          data_dir: str | os.PathLike | None, progress: bool, names: tuple[str, ...] | None = None) -> Dataset:
    parts = check_split(split)
    xs, ys, sources = [], [], {}
    for part in tqdm(parts, desc=f"{family} {split}", disable=not progress, leave=False):
        images, labels, sha = read_idx_pair(files, part, data_dir, progress)
        xs.append(images)
        ys.append(labels)
        sources.update(sha)
    X = xs[0] if len(xs) == 1 else np.concatenate(xs)
    y = ys[0] if len(ys) == 1 else np.concatenate(ys)
    name = family if split == "full" else f"{family}-{split}"
    params: dict = {"split": split, "sources": sources}
    if names is not None:
        params["label_names"] = {column: list(names)}
    return Dataset(name=name, X=X[:, None], labels=y[:, None], clusterings=(column,), params=params)


def load_mnist(*, split: str = "full", data_dir: str | os.PathLike | None = None,
               progress: bool = True) -> Dataset:
    """MNIST: ``full`` (70,000), ``train`` (60,000) or ``test`` (10,000); clustering ``digit``."""
    return _load("mnist", MNIST, "digit", split, data_dir, progress)


def load_fmnist(*, split: str = "full", data_dir: str | os.PathLike | None = None,
                progress: bool = True) -> Dataset:
    """Fashion-MNIST: ``full`` (70,000), ``train`` or ``test``; clustering ``class``."""
    return _load("fmnist", FMNIST, "class", split, data_dir, progress, names=FMNIST_CLASSES)
