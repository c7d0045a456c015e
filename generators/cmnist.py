"""C-MNIST (Concatenated-MNIST, ENRC §3.1; BASELINES.md §6.2).

Two MNIST digits side by side, 28x56, padded with 14 black rows at the top and
the bottom to 56x56 "to make it easier to use existing convolutional
architectures" (ENRC §3.1).  The left and the right slot draw from the same
MNIST split, each shuffled **independently** with the generator seeded by
``seed``, so the labels (left digit, right digit) are statistically independent
and every MNIST image appears exactly once on each side.  Both pools have the
split's size, so the authors' pad-the-smaller-pool step never applies.

``split="train"`` gives the paper's 60,000 images; ``split="test"`` builds from
MNIST-Test (10,000).  X is uint8 (n, 1, 56, 56); clusterings ``left``, ``right``.

Memory: the output (188 MB for 60,000) plus the MNIST images (47 MB); images
are written in chunks straight into the output, without temporaries of its size.
"""

from __future__ import annotations

import os

import numpy as np
from tqdm.auto import tqdm

from benchmark.memory import check_fits_in_memory
from generators.dataset import DataFileError, Dataset
from generators.mnist import read_idx_pair
from generators.sources import MNIST

#: The MNIST split each C-MNIST split is built from.
SPLITS: tuple[str, ...] = ("train", "test")
#: Black rows added above and below the 28x56 pair (ENRC §3.1).
PAD_ROWS = 14
_CHUNK = 10000


def concatenate_pairs(images: np.ndarray, left: np.ndarray, right: np.ndarray, *,
                      progress: bool = True) -> np.ndarray:
    """Images ``images[left[i]] | images[right[i]]`` padded to (n, 1, 2h, 2w) uint8."""
    n, h, w = len(left), images.shape[1], images.shape[2]
    check_fits_in_memory(n * (2 * w) ** 2 * images.dtype.itemsize, f"{n} C-MNIST images")
    pad = (2 * w - h) // 2
    X = np.zeros((n, 1, 2 * w, 2 * w), dtype=images.dtype)
    for start in tqdm(range(0, n, _CHUNK), desc="C-MNIST", disable=not progress, leave=False):
        stop = min(start + _CHUNK, n)
        X[start:stop, 0, pad:pad + h, :w] = images[left[start:stop]]
        X[start:stop, 0, pad:pad + h, w:] = images[right[start:stop]]
    return X


def build_cmnist(*, split: str = "train", seed: int = 0, data_dir: str | os.PathLike | None = None,
                 progress: bool = True) -> Dataset:
    """Build C-MNIST from the MNIST ``split`` ("train": 60,000; "test": 10,000)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    images, digits, sources = read_idx_pair(MNIST, split, data_dir, progress)
    if images.shape[1:] != (28, 28):
        raise DataFileError(f"MNIST images must be 28x28; got {images.shape[1:]}")
    rng = np.random.default_rng(seed)
    left = rng.permutation(len(images))
    right = rng.permutation(len(images))
    X = concatenate_pairs(images, left, right, progress=progress)
    labels = np.stack([digits[left], digits[right]], axis=1)
    name = "cmnist" if split == "train" else f"cmnist-{split}"
    return Dataset(name=name, X=X, labels=labels, clusterings=("left", "right"),
                   params={"split": split, "seed": int(seed), "pad_rows": PAD_ROWS, "sources": sources})
