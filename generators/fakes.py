"""Small fake raw files in the real formats, for tests and offline demos (never used by the loaders).

``fake_idx_sources(data_dir, family)`` writes MNIST-style gzipped IDX files of
``n_train`` / ``n_test`` 28x28 images into ``<data_dir>/<folder>/`` and returns
:class:`~generators.sources.SourceFile` records with *their* checksums, to be
swapped into :data:`generators.sources.MNIST` / ``FMNIST`` (e.g. with
``monkeypatch.setitem``).  Image j of a part encodes its index in pixels
(0, 0) = j // 256 and (0, 1) = j % 256 and its label in pixel (0, 2), so a test
can trace every sample back to its source image.  ``fake_usps`` does the same
for the USPS HDF5 layout.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from generators.download import sha256_file
from generators.idx import IDX_DTYPES
from generators.sources import FMNIST, MNIST, USPS, SourceFile

_FAMILIES = {"mnist": MNIST, "fmnist": FMNIST}


def write_idx(path: Path, arr: np.ndarray) -> None:
    """Write ``arr`` as a gzipped IDX file (big-endian, as the format requires)."""
    codes = {np.dtype(v).newbyteorder("=").str[1:]: k for k, v in IDX_DTYPES.items()}
    key = f"{arr.dtype.kind}{arr.dtype.itemsize}"
    if key not in codes:
        raise ValueError(f"arr: dtype {arr.dtype} has no IDX type code")
    dt = arr.dtype.newbyteorder(">")
    header = bytes([0, 0, codes[key], arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as fh:
        fh.write(header + np.ascontiguousarray(arr, dtype=dt).tobytes())


def fake_images(n: int, seed: int, size: int = 28) -> tuple[np.ndarray, np.ndarray]:
    """n traceable uint8 images (n, size, size) and labels j % 10."""
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) % 10).astype(np.uint8)
    images = rng.integers(0, 256, size=(n, size, size), dtype=np.uint8)
    images[:, 0, 0] = np.arange(n) // 256
    images[:, 0, 1] = np.arange(n) % 256
    images[:, 0, 2] = labels
    return images, labels


def fake_idx_sources(data_dir: Path, family: str = "mnist", *, n_train: int = 60, n_test: int = 20,
                     seed: int = 0) -> dict[str, SourceFile]:
    """Write fake IDX files for ``family`` ("mnist"/"fmnist"); return the matching SourceFiles."""
    real = _FAMILIES[family]
    folder = Path(data_dir) / real["train-images"].folder
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for part, n in (("train", n_train), ("test", n_test)):
        images, labels = fake_images(n, seed + (part == "test"))
        for kind, arr in (("images", images), ("labels", labels)):
            src = real[f"{part}-{kind}"]
            path = folder / src.filename
            write_idx(path, arr)
            out[f"{part}-{kind}"] = SourceFile(src.folder, src.filename, sha256_file(path),
                                               path.stat().st_size, ())
    return out


def fake_usps(data_dir: Path, *, n_train: int = 30, n_test: int = 10, seed: int = 0) -> dict[str, SourceFile]:
    """Write a fake ``usps/usps.h5`` (float32 pixels in [0, 1]); return the matching SourceFile dict."""
    import h5py

    src = USPS["h5"]
    folder = Path(data_dir) / src.folder
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / src.filename
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:
        for part, n in (("train", n_train), ("test", n_test)):
            g = f.create_group(part)
            g.create_dataset("data", data=rng.random((n, 256), dtype=np.float32))
            g.create_dataset("target", data=(np.arange(n) % 10).astype(np.int32))
    return {"h5": SourceFile(src.folder, src.filename, sha256_file(path), path.stat().st_size, ())}
