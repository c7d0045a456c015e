"""Dancing stick figures (Günnemann et al. KDD 2014; ENRC §3.1; BASELINES.md §6.1).

Two sources:

- :func:`build_stickfigures` draws the figures procedurally.  The published
  file could not be redistributed here, so the sprites are our own, while the
  structure follows what was derived from the published file (BASELINES.md
  §6.1): 20x20 grayscale; 3 upper-body poses x 3 lower-body poses, 100 images
  of each of the 9 combinations; every image is the union of one upper-body
  sprite (rows 0-10: head, torso, arms) and one lower-body sprite (rows 10-19:
  hip, legs); row 10 (the hip) is identical in all figures, so rows 0-10 depend
  only on the upper label and rows 10-19 only on the lower label; the binary
  shape is identical for all 100 images of a combination (no geometric jitter).
  The noise is on intensity only:

  * per image a brightness b ~ U(8, 31) (the published per-image background
    means range from 8 to 31), offset d = b - 19.5;
  * background pixel = b + U(-8.5, 8.5) (within-image SD 4.9, published ~5),
    clipped to 0-39;
  * foreground pixel = 187 + d / 2 + U(-5, 5) (SD 2.9, published ~3), which
    stays within 175-199.

  The spectrum then has 5 large principal components, like the published one
  (SDs ~612, 512, 485, 451, 123, then ~5.5): the (3-1) + (3-1) additive pose
  directions and the brightness offset (SD of d = 6.6 over ~350 background
  pixels gives ~123), then the pixel noise.  Measured for the default build:
  403, 341, 335, 289, 130, then 7.8 (our one-pixel limbs differ in fewer pixels
  between poses than the published sprites, and the brightness direction
  varies a little with the shape because the foreground moves by d / 2).
- :func:`load_stickfigures_file` reads the published file (900 rows: 2 label
  columns, upper then lower, then the 400 pixels row-major; values 0-199;
  comma-, semicolon- or whitespace-separated).

X is uint8 (n, 1, 20, 20); clusterings ``upper``, ``lower``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from benchmark.memory import check_fits_in_memory
from generators.dataset import DataFileError, Dataset
from generators.download import sha256_file

SIZE = 20
#: Row shared by the upper and the lower body (the hip): identical in all figures.
HIP_ROW = 10
#: Intensity model (see the module docstring).
BRIGHTNESS_RANGE = (8.0, 31.0)
BACKGROUND_NOISE = 8.5  # half-width of the uniform per-pixel noise
BACKGROUND_MAX = 39
FOREGROUND_LEVEL = 187.0
FOREGROUND_OFFSET_GAIN = 0.5
FOREGROUND_NOISE = 5.0
FOREGROUND_RANGE = (175, 199)

Point = tuple[int, int]


def _line(mask: np.ndarray, a: Point, b: Point) -> None:
    """Set the pixels of the digital straight line from a to b (row, col), both included."""
    (r0, c0), (r1, c1) = a, b
    steps = max(abs(r1 - r0), abs(c1 - c0))
    for t in range(steps + 1):
        r = round(r0 + (r1 - r0) * t / steps) if steps else r0
        c = round(c0 + (c1 - c0) * t / steps) if steps else c0
        mask[r, c] = True


def _body() -> np.ndarray:
    """Head (a 4x4 ring without corners), torso (columns 9-10, rows 4-10)."""
    m = np.zeros((SIZE, SIZE), dtype=bool)
    m[0, 9:11] = m[3, 9:11] = True
    m[1:3, 8] = m[1:3, 11] = True
    m[4:HIP_ROW + 1, 9:11] = True
    return m


#: Arms from the shoulders (5, 8) and (5, 11): down, out, up.  Rows stay <= 9.
_ARMS: tuple[tuple[Point, Point], ...] = (((9, 4), (9, 15)), ((5, 1), (5, 18)), ((0, 4), (0, 15)))
#: Legs from (11, 9) and (11, 10): standing, wide, right leg kicked out.
_LEGS: tuple[tuple[Point, Point], ...] = (((19, 7), (19, 12)), ((19, 2), (19, 17)), ((19, 8), (14, 18)))


def upper_sprites() -> np.ndarray:
    """The 3 upper-body masks (3, 20, 20) bool; nonzero only in rows 0-10."""
    out = []
    for left, right in _ARMS:
        m = _body()
        m[HIP_ROW + 1:] = False
        _line(m, (5, 8), left)
        _line(m, (5, 11), right)
        out.append(m)
    return np.stack(out)


def lower_sprites() -> np.ndarray:
    """The 3 lower-body masks (3, 20, 20) bool; nonzero only in rows 10-19."""
    out = []
    for left, right in _LEGS:
        m = np.zeros((SIZE, SIZE), dtype=bool)
        m[HIP_ROW, 9:11] = True
        _line(m, (11, 9), left)
        _line(m, (11, 10), right)
        out.append(m)
    return np.stack(out)


def build_stickfigures(*, n_per_combination: int = 100, seed: int = 0, progress: bool = True) -> Dataset:
    """9 x ``n_per_combination`` noisy stick figures, ordered by (upper, lower); uint8 (n, 1, 20, 20)."""
    if isinstance(n_per_combination, bool) or not isinstance(n_per_combination, (int, np.integer)) \
            or n_per_combination <= 0:
        raise ValueError(f"n_per_combination must be a positive integer; got {n_per_combination!r}")
    m = int(n_per_combination)
    # the uint8 output and int64 labels of 9 m figures, plus one combination's four float64
    # (m, 20, 20) temporaries (measured: 4.6 bytes per output byte)
    check_fits_in_memory(9 * m * (SIZE * SIZE + 16) + 4 * 8 * m * SIZE * SIZE, f"n_per_combination={m}")
    rng = np.random.default_rng(seed)
    ups, lows = upper_sprites(), lower_sprites()
    X = np.empty((9 * m, 1, SIZE, SIZE), dtype=np.uint8)
    labels = np.empty((9 * m, 2), dtype=np.int64)
    lo_b, hi_b = BRIGHTNESS_RANGE
    mid_b = (lo_b + hi_b) / 2
    combos = [(u, low) for u in range(3) for low in range(3)]
    for i, (u, low) in enumerate(tqdm(combos, desc="stickfigures", disable=not progress, leave=False)):
        mask = ups[u] | lows[low]
        b = rng.uniform(lo_b, hi_b, size=(m, 1, 1))
        bg = b + rng.uniform(-BACKGROUND_NOISE, BACKGROUND_NOISE, size=(m, SIZE, SIZE))
        fg = FOREGROUND_LEVEL + FOREGROUND_OFFSET_GAIN * (b - mid_b) \
            + rng.uniform(-FOREGROUND_NOISE, FOREGROUND_NOISE, size=(m, SIZE, SIZE))
        bg = np.clip(np.rint(bg), 0, BACKGROUND_MAX)
        fg = np.clip(np.rint(fg), *FOREGROUND_RANGE)
        X[i * m:(i + 1) * m, 0] = np.where(mask, fg, bg).astype(np.uint8)
        labels[i * m:(i + 1) * m] = (u, low)
    return Dataset(name="stickfigures", X=X, labels=labels, clusterings=("upper", "lower"),
                   params={"n_per_combination": m, "seed": int(seed), "generator": "procedural"})


def source_fingerprint(params: dict[str, Any]) -> str | None:
    """SHA-256 of the file named by ``params["path"]`` (None when it is absent): a cache-key part,
    so an edited or replaced file is read again instead of served from the cache."""
    if params.get("path") is None:
        return None
    path = Path(params["path"])
    return sha256_file(path) if path.is_file() else None


def load_stickfigures_file(*, path: str | os.PathLike, progress: bool = True) -> Dataset:
    """Read the published stickfigures file: rows of 2 labels (upper, lower) + 400 pixels.

    Labels are mapped to 0..k-1 in sorted order (the file's values are kept in
    ``params["label_values"]``); pixels must be integers in 0-255.  A missing file raises
    ``FileNotFoundError``, a malformed one :class:`~generators.dataset.DataFileError`.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: no stickfigures file at {path}")
    try:
        text = path.read_text()
    except UnicodeDecodeError as exc:
        raise DataFileError(f"path: {path} is not a text file of rows of numbers ({exc})") from None
    rows = [ln.replace(",", " ").replace(";", " ").split() for ln in
            tqdm(text.splitlines(), desc="stickfigures file", disable=not progress, leave=False)]
    rows = [r for r in rows if r and not r[0].startswith("#")]
    width = 2 + SIZE * SIZE
    bad = [i for i, r in enumerate(rows) if len(r) != width]
    if not rows or bad:
        first = f"row {bad[0] + 1} has {len(rows[bad[0]])} values" if bad else "no rows"
        raise DataFileError(f"path: {path} must have rows of {width} values (2 labels + 400 pixels); {first}")
    try:
        A = np.array(rows, dtype=np.float64)
    except ValueError as exc:
        raise DataFileError(f"path: {path} has a non-numeric value ({exc})") from None
    if not np.all(np.isfinite(A)) or not np.array_equal(A, np.rint(A)):
        raise DataFileError(f"path: {path} has non-integer labels or pixels")
    pix = A[:, 2:]
    if pix.min() < 0 or pix.max() > 255:
        raise DataFileError(f"path: {path} has pixel values outside 0-255 ({pix.min():g}..{pix.max():g})")
    label_values, labels = [], []
    for s in range(2):
        values, inverse = np.unique(A[:, s].astype(np.int64), return_inverse=True)
        label_values.append(values.tolist())
        labels.append(inverse)
    X = pix.astype(np.uint8).reshape(-1, 1, SIZE, SIZE)
    return Dataset(name="stickfigures-file", X=X, labels=np.stack(labels, axis=1),
                   clusterings=("upper", "lower"),
                   params={"sources": {path.name: sha256_file(path)}, "label_values": label_values})
