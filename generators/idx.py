"""Reader of the IDX format of MNIST and Fashion-MNIST (optionally gzipped).

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number
of dimensions), one big-endian uint32 per dimension, then the data in C order,
big-endian.  Only what MNIST-style files use is needed, but every type code of
the format is supported.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from generators.dataset import DataFileError

#: IDX type code -> numpy big-endian dtype.
IDX_DTYPES: dict[int, str] = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode the bytes of one (decompressed) IDX file into an array in native byte order.

    Malformed bytes raise :class:`~generators.dataset.DataFileError` naming ``name``.
    """
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in IDX_DTYPES:
        raise DataFileError(f"{name}: not an IDX file (magic {data[:4].hex() or 'empty'})")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataFileError(f"{name}: truncated IDX header")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(IDX_DTYPES[data[2]])
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        raise DataFileError(f"{name}: IDX payload has {len(data)} bytes, shape {shape} needs {expected}")
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="), copy=False) if dtype.itemsize > 1 else arr.copy()


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file; ``.gz`` files are decompressed on the fly."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        data = fh.read()
    return parse_idx(data, str(path))
