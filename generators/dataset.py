"""The ``Dataset`` container shared by every generator, loader and the harness.

A data set is a frozen record of

- ``X``: uint8 or float32 samples, shape ``(n, *sample_shape)`` (images as CHW);
- ``labels``: int64 ground truth, shape ``(n, S)``, one column per clustering;
- ``clusterings``: the S clustering names, e.g. ``("color", "material", "shape")``;
- ``params``: everything that determined the data (generator arguments, seed,
  source-file checksums), JSON-serialisable;
- ``extras``: optional per-sample arrays of length n (e.g. render metadata).

``save`` writes a single compressed ``.npz`` that embeds the JSON metadata and a
SHA-256 of the arrays.  The write is atomic (temporary file in the same folder,
``fsync``, ``os.replace``), so a killed write never leaves a file that loads.
``load`` recomputes the SHA-256 and raises :class:`CorruptDatasetError` when it
does not match or the file cannot be read at all, so a cache can rebuild every
damaged entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.fileio import atomic_write, write_npz

FORMAT_VERSION = 1
_META_KEY = "__meta__"
_EXTRA_PREFIX = "extra__"


class DataFileError(ValueError):
    """A data file (a raw source file or a stored data set) is there, but its contents are not what they must be.

    A data error, not a usage error: the ``nrbench`` command exits 1 for it, as for a missing file or a
    checksum mismatch, and keeps 2 for bad arguments and parameters.  It is a ``ValueError`` so that
    code catching bad values catches it too.
    """


class CorruptDatasetError(DataFileError):
    """A stored data set is truncated, altered or unreadable."""


def array_sha256(*arrays: np.ndarray) -> str:
    """SHA-256 over dtype, shape and C-order bytes of each array, in order.

    Shape and dtype are hashed too, so a reshape or cast changes the checksum.
    """
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str(a.dtype.str).encode())
        h.update(repr(tuple(a.shape)).encode())
        h.update(memoryview(a).cast("B"))
    return h.hexdigest()


@dataclass(frozen=True, eq=False)
class Dataset:
    """A benchmark data set with one or more ground-truth clusterings."""

    name: str
    X: np.ndarray
    labels: np.ndarray
    clusterings: tuple[str, ...]
    params: Mapping[str, Any] = field(default_factory=dict)
    extras: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        X = np.asarray(self.X)
        labels = np.asarray(self.labels)
        if X.ndim < 2:
            raise ValueError(f"X must have shape (n, *sample_shape); got shape {X.shape}")
        if X.dtype not in (np.uint8, np.float32):
            raise ValueError(f"X must be uint8 or float32; got {X.dtype}")
        if labels.ndim == 1:
            labels = labels[:, None]
        if labels.ndim != 2 or labels.shape[0] != X.shape[0]:
            raise ValueError(
                f"labels must have shape (n, S) with n = {X.shape[0]}; got {labels.shape}"
            )
        clusterings = tuple(str(c) for c in self.clusterings)
        if len(clusterings) != labels.shape[1]:
            raise ValueError(
                f"clusterings names {clusterings} do not match labels with {labels.shape[1]} columns"
            )
        for key, arr in dict(self.extras).items():
            if len(np.asarray(arr)) != X.shape[0]:
                raise ValueError(f"extras[{key!r}] must have length n = {X.shape[0]}")
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "labels", labels.astype(np.int64, copy=False))
        object.__setattr__(self, "clusterings", clusterings)
        object.__setattr__(self, "params", dict(self.params))
        object.__setattr__(self, "extras", {k: np.asarray(v) for k, v in dict(self.extras).items()})

    # ------------------------------------------------------------------ info
    @property
    def n(self) -> int:
        """Number of samples."""
        return int(self.X.shape[0])

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """Shape of one sample, e.g. ``(1, 56, 56)``."""
        return tuple(int(s) for s in self.X.shape[1:])

    @property
    def n_clusters(self) -> list[int]:
        """Number of distinct labels per ground-truth clustering."""
        return [len(np.unique(self.labels[:, s])) for s in range(self.labels.shape[1])]

    @property
    def checksum(self) -> str:
        """SHA-256 of X, labels and the extras (sorted by key)."""
        extras = [self.extras[k] for k in sorted(self.extras)]
        return array_sha256(self.X, self.labels, *extras)

    def summary(self) -> str:
        """One line: name, size, sample shape and clusterings with their k."""
        parts = ", ".join(f"{c} ({k})" for c, k in zip(self.clusterings, self.n_clusters))
        return f"{self.name}: n={self.n}, sample {self.sample_shape} {self.X.dtype}, clusterings {parts}"

    # -------------------------------------------------------------- storage
    def save(self, path: str | os.PathLike) -> Path:
        """Atomically write this data set to ``path`` (a ``.npz``) and return it."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "clusterings": list(self.clusterings),
            "params": self.params,
            "extras": sorted(self.extras),
            "sha256": self.checksum,
        }
        arrays: dict[str, np.ndarray] = {"X": self.X, "labels": self.labels}
        for k, v in self.extras.items():
            arrays[_EXTRA_PREFIX + k] = v
        meta_bytes = np.frombuffer(json.dumps(meta, sort_keys=True, default=_json_default).encode(), dtype=np.uint8)
        arrays[_META_KEY] = meta_bytes
        atomic_write(path, lambda fh: write_npz(fh, arrays))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, verify: bool = True) -> Dataset:
        """Read a data set written by :meth:`save`; verify its SHA-256.

        Raises :class:`CorruptDatasetError` (a ``ValueError``) naming the file when
        it cannot be read for any reason (truncated, altered, not a data set, or its
        arrays do not match the checksum), so that every caller can treat the file as
        damaged and rebuild it: a damaged archive fails in many places (zipfile, zlib,
        numpy's header parser, JSON), each with its own exception type.  Only a
        :class:`MemoryError` on an archive whose CRCs all check out is re-raised as it
        is: the file is intact and the machine lacks the memory for it.
        """
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no data set file at {path}")
        try:
            # our own file handle: np.load(path) leaves its file open when the content is not an archive
            with open(path, "rb") as fh:
                z = np.load(fh, allow_pickle=False)
                if not hasattr(z, "files"):  # an NpzFile (numpy 1 and 2 alike)
                    raise ValueError("a single .npy array, not an .npz archive")
                with z:
                    meta = json.loads(bytes(z[_META_KEY]).decode())
                    if not isinstance(meta, dict):
                        raise ValueError(f"its metadata is a JSON {type(meta).__name__}, not an object")
                    X = z["X"]
                    labels = z["labels"]
                    extras = {k: z[_EXTRA_PREFIX + k] for k in meta.get("extras", [])}
            ds = cls(
                name=meta["name"],
                X=X,
                labels=labels,
                clusterings=tuple(meta["clusterings"]),
                params=meta.get("params", {}),
                extras=extras,
            )
        except MemoryError as exc:
            # a damaged header can announce an absurd array size; an intact archive really is too big
            if _archive_intact(path):
                raise
            raise _unreadable(path, exc) from exc
        except Exception as exc:  # whatever a damaged file raises, it is damaged (see above)
            raise _unreadable(path, exc) from exc
        if verify and ds.checksum != meta.get("sha256"):
            raise CorruptDatasetError(
                f"{path}: SHA-256 mismatch (stored {meta.get('sha256')}, computed {ds.checksum})"
            )
        return ds


def read_meta(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON metadata of a data-set file (name, clusterings, params, ...) without loading its arrays.

    Raises :class:`CorruptDatasetError` when the file is not a readable nrbench data set,
    whatever the reader raised (as :meth:`Dataset.load`).
    """
    try:
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:
            meta = json.loads(bytes(z[_META_KEY]).decode())
    except Exception as exc:  # a damaged file fails in many ways; all mean "unreadable"
        raise _unreadable(path, exc) from exc
    if not isinstance(meta, dict):
        raise _unreadable(path, ValueError(f"its metadata is a JSON {type(meta).__name__}, not an object"))
    return meta


def _unreadable(path: str | os.PathLike, exc: BaseException) -> CorruptDatasetError:
    """The error for a file that could not be read, naming it and what the reader raised."""
    return CorruptDatasetError(f"{path}: not a readable nrbench data set ({type(exc).__name__}: {exc})")


def _archive_intact(path: Path) -> bool:
    """Whether ``path`` is a zip archive whose members all pass their CRC-32 check."""
    try:
        with zipfile.ZipFile(path) as zf:
            return zf.testzip() is None
    except Exception:  # noqa: BLE001 - unreadable as a zip: not intact
        return False


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON-serialisable: {type(o).__name__}")
