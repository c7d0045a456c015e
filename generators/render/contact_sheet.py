"""A labelled contact sheet: one example per label combination, for a person to check at a glance.

For NR-Objects the grid has one row per colour and one column per (material,
shape) pair, 36 tiles; for OBJECTS one row of several examples per shape.  Each
tile is the first image of its combination, scaled up with nearest-neighbour
sampling so the pixels stay honest, and captioned with its label names.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from benchmark.fileio import atomic_write
from generators.dataset import Dataset
from generators.render.spec import dataset_spec


def _tile(x: np.ndarray) -> np.ndarray:
    """CHW uint8 -> HWC uint8 RGB (alpha dropped: it is opaque)."""
    if x.shape[0] == 1:
        return np.repeat(x, 3, axis=0).transpose(1, 2, 0)
    return x[:3].transpose(1, 2, 0)


def write_contact_sheet(ds: Dataset, path: str | os.PathLike, *, per_shape: int = 6,
                        tile_px: int = 96) -> Path:
    """Write a PNG with one labelled example per label combination of ``ds``; return its path.

    ``per_shape`` is the number of examples per shape for single-clustering
    data sets (OBJECTS); ``tile_px`` the displayed size of each image.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    spec = dataset_spec(ds.name)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if len(spec.clusterings) == 3:
        ci, mi, si = (spec.clusterings.index(c) for c in ("color", "material", "shape"))
        rows = [(c,) for c in range(len(spec.factors[ci]))]
        cols = [(m, s) for m in range(len(spec.factors[mi])) for s in range(len(spec.factors[si]))]

        def pick(r: int, c: int) -> tuple[int | None, str]:
            want = {ci: rows[r][0], mi: cols[c][0], si: cols[c][1]}
            mask = np.all([ds.labels[:, k] == v for k, v in want.items()], axis=0)
            hit = np.flatnonzero(mask)
            label = f"{spec.factors[ci][want[ci]]}\n{spec.factors[mi][want[mi]]} {spec.factors[si][want[si]]}"
            return (int(hit[0]) if len(hit) else None), label
    else:
        rows = [(s,) for s in range(len(spec.factors[0]))]
        counts = [int((ds.labels[:, 0] == s).sum()) for (s,) in rows]
        cols = list(range(max(1, min(per_shape, max(counts)))))  # a small data set: no columns of blanks

        def pick(r: int, c: int) -> tuple[int | None, str]:
            hit = np.flatnonzero(ds.labels[:, 0] == rows[r][0])
            if c >= len(hit):  # this shape has fewer examples than the row has tiles
                return None, ""
            return int(hit[c]), f"{spec.factors[0][rows[r][0]]} #{int(hit[c])}"

    dpi = 100
    fig, axes = plt.subplots(len(rows), len(cols), squeeze=False,
                             figsize=(len(cols) * tile_px * 1.1 / dpi, len(rows) * tile_px * 1.45 / dpi), dpi=dpi)
    for r in range(len(rows)):
        for c in range(len(cols)):
            ax = axes[r, c]
            idx, label = pick(r, c)
            ax.set_xticks([])
            ax.set_yticks([])
            if idx is None:
                if label:  # a label combination the data set lacks
                    ax.set_title(label + "\n(missing)", fontsize=7, color="red")
                else:
                    ax.set_axis_off()
                continue
            ax.imshow(_tile(ds.X[idx]), interpolation="nearest")
            ax.set_title(label, fontsize=7)
    res = ds.X.shape[-1]
    if len(spec.clusterings) > 1:
        what = "one example per label combination"
    else:
        k = len(cols)
        what = f"{'' if min(counts) >= k else 'up to '}{k} example{'s' if k != 1 else ''} per shape"
    fig.suptitle(f"{ds.name}: {what} ({res}x{res}, n={ds.n})", fontsize=9)
    fig.tight_layout()
    try:  # through a temporary file of its own: two renders of one data set may write the sheet at once
        atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=dpi))
    finally:
        plt.close(fig)
    return path
