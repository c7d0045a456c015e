"""USPS handwritten digits (ACe/DeC benchmark), from the Kaggle-style ``usps.h5``.

The HDF5 file has groups ``train`` (7,291) and ``test`` (2,007), each with
``data`` (float32, 256 = 16x16 pixels in [0, 1]) and ``target`` (int).  It is
looked up in ``<data_dir>/usps/usps.h5``, verified by SHA-256
(:mod:`generators.sources`) and downloaded when absent.

``split``: ``"full"`` (train then test, 9,298), ``"train"`` or ``"test"``.
X is float32 of shape (n, 1, 16, 16), stored as in the file (not rescaled).
"""

from __future__ import annotations

import os

import h5py
import numpy as np
from tqdm.auto import tqdm

from generators.dataset import DataFileError, Dataset
from generators.download import ensure_file
from generators.mnist import check_split
from generators.sources import USPS


def load_usps(*, split: str = "full", data_dir: str | os.PathLike | None = None,
              progress: bool = True) -> Dataset:
    """USPS as float32 (n, 1, 16, 16) with clustering ``digit``."""
    parts = check_split(split)
    src = USPS["h5"]
    path = ensure_file(src, data_dir, progress=progress)
    xs, ys = [], []
    with h5py.File(path, "r") as f:
        for part in tqdm(parts, desc=f"usps {split}", disable=not progress, leave=False):
            data = np.asarray(f[part]["data"], dtype=np.float32)
            target = np.asarray(f[part]["target"]).astype(np.int64).ravel()
            if data.ndim != 2 or data.shape[1] != 256 or len(data) != len(target):
                raise DataFileError(f"{path}: group {part!r} has data {data.shape}, target {target.shape}; "
                                 "expected (n, 256) and (n,)")
            xs.append(data.reshape(-1, 1, 16, 16))
            ys.append(target)
    X = np.concatenate(xs) if len(xs) > 1 else xs[0]
    y = np.concatenate(ys) if len(ys) > 1 else ys[0]
    name = "usps" if split == "full" else f"usps-{split}"
    return Dataset(name=name, X=np.ascontiguousarray(X), labels=y[:, None], clusterings=("digit",),
                   params={"split": split, "sources": {src.filename: src.sha256}})
