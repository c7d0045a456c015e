"""Named preprocessing steps, chosen by a suite's configuration and never baked into stored data.

``apply(X, ["scale01", "zscore"])`` runs the steps in order and returns float32.

Steps (the single source of truth for their names):

- ``scale01``: uint8 -> float32 in [0, 1] (x / 255); float input is left as is.
- ``zscore``: the channel-wise z-transform of both papers: for image data
  ``(n, C, H, W)`` each channel is shifted by its mean and divided by its
  standard deviation over all samples and pixels; for flat data ``(n, d)`` each
  feature is standardised.  Zero-variance channels are only centred.
- ``hist_equalize``: per-image, per-channel histogram equalisation of uint8
  images (ENRC §3.1 uses it for GTSRB); must come before ``scale01``.
- ``flatten``: ``(n, ...)`` -> ``(n, prod(...))``.
- ``downscale2``: 2 x 2 mean pooling of float images ``(n, C, H, W)`` -> ``(n, C, H/2, W/2)``
  (must come after ``scale01``).  A stated reduction for CPU budgets, e.g. NR-Objects at
  64 x 64 instead of the paper's 128 x 128: a conv autoencoder step costs about a quarter.
  Being a named step, it is part of the pretraining cache key and of every run's record.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


def scale01(X: np.ndarray) -> np.ndarray:
    """uint8 -> float32 / 255; float input is returned as float32 unchanged."""
    if X.dtype == np.uint8:
        return X.astype(np.float32) / np.float32(255.0)
    return X.astype(np.float32, copy=False)


def zscore(X: np.ndarray) -> np.ndarray:
    """Channel-wise z-transform (per channel over samples and pixels; per feature for flat data)."""
    A = X.astype(np.float32) if X.dtype == np.uint8 else X.astype(np.float32, copy=False)
    axes = (0,) + tuple(range(2, A.ndim)) if A.ndim > 2 else (0,)
    mean = A.mean(axis=axes, keepdims=True, dtype=np.float64).astype(np.float32)
    std = A.std(axis=axes, keepdims=True, dtype=np.float64).astype(np.float32)
    std[std == 0] = 1.0
    return (A - mean) / std


def hist_equalize(X: np.ndarray) -> np.ndarray:
    """Per-image, per-channel histogram equalisation of uint8 images; returns uint8."""
    if X.dtype != np.uint8:
        raise ValueError("hist_equalize needs uint8 images; put it before 'scale01' in the preprocessing steps")
    flat = X.reshape(X.shape[0] * (X.shape[1] if X.ndim == 4 else 1), -1)
    out = np.empty_like(flat)
    for i, row in enumerate(flat):
        hist = np.bincount(row, minlength=256)
        cdf = np.cumsum(hist)
        nz = cdf[cdf > 0]
        cmin = nz[0] if len(nz) else 0
        denom = cdf[-1] - cmin
        if denom <= 0:
            out[i] = row
            continue
        lut = np.clip(np.round((cdf - cmin) / denom * 255.0), 0, 255).astype(np.uint8)
        out[i] = lut[row]
    return out.reshape(X.shape)


def flatten(X: np.ndarray) -> np.ndarray:
    """(n, ...) -> (n, prod(...))."""
    return X.reshape(X.shape[0], -1)


def downscale2(X: np.ndarray) -> np.ndarray:
    """2 x 2 mean pooling of float images (n, C, H, W) with even H and W; returns float32."""
    if X.dtype == np.uint8:
        raise ValueError("downscale2 needs float images; put it after 'scale01' in the preprocessing steps")
    if X.ndim != 4 or X.shape[2] % 2 or X.shape[3] % 2:
        raise ValueError(f"downscale2 needs images (n, C, H, W) with even H and W; got shape {X.shape}")
    n, c, h, w = X.shape
    A = X.astype(np.float32, copy=False).reshape(n, c, h // 2, 2, w // 2, 2)
    return A.mean(axis=(3, 5), dtype=np.float32)


STEPS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "scale01": scale01,
    "zscore": zscore,
    "hist_equalize": hist_equalize,
    "flatten": flatten,
    "downscale2": downscale2,
}


def apply(X: np.ndarray, steps: Sequence[str]) -> np.ndarray:
    """Run the named steps in order; the result is float32 (uint8 is scaled to [0, 1] if no step did).

    The result never shares memory with ``X``: with steps that change nothing (float32 data and
    ``scale01``, ``flatten``, no steps) it is a copy, so a caller writing into it (an in-place
    normalisation, a noise augmentation) cannot alter the data set's arrays, which the cache and
    the harness share between fits.  When a step already made a new array, it is not copied again.
    """
    if isinstance(steps, str):
        steps = [steps]
    out = X
    for s in steps:
        if s not in STEPS:
            raise ValueError(f"unknown preprocessing step {s!r}; valid: {', '.join(STEPS)}")
        out = STEPS[s](out)
    if out.dtype == np.uint8:
        raise ValueError(
            "preprocessing left uint8 data: add 'scale01' or 'zscore' to the steps "
            f"(got {list(steps)})"
        )
    out = np.ascontiguousarray(out, dtype=np.float32)
    # may_share_memory compares address bounds only (cheap); a new array never overlaps the input's
    return out.copy() if np.may_share_memory(out, X) else out
