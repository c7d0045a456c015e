"""Planted non-redundant data: several clusterings in orthogonal subspaces plus noise, randomly rotated.

Used to test that a non-redundant method recovers every planted clustering.
Each clustering s lives in its own block of ``dims_per_subspace`` dimensions
with ``n_clusters[s]`` Gaussian clusters whose centres are drawn on a simplex-like
layout at distance ``separation`` (in units of the within-cluster std 1).
Labels of different clusterings are drawn independently.  ``noise_dims`` extra
dimensions are pure N(0, noise_std^2).  With ``rotate=True`` a Haar-random
orthogonal matrix mixes all dimensions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import ortho_group

from generators.dataset import Dataset


def make_planted(n: int = 600, n_clusters: Sequence[int] = (3, 3), dims_per_subspace: int = 2,
                 noise_dims: int = 2, separation: float = 8.0, noise_std: float = 1.0,
                 rotate: bool = True, seed: int = 0) -> Dataset:
    """Build a planted multi-clustering data set (float32 X of shape (n, S*dims + noise_dims))."""
    if n <= 0:
        raise ValueError(f"n must be positive; got {n}")
    if noise_dims < 0:
        raise ValueError(f"noise_dims must be >= 0; got {noise_dims}")
    if dims_per_subspace < 1:
        raise ValueError(f"dims_per_subspace must be >= 1; got {dims_per_subspace}")
    rng = np.random.default_rng(seed)
    blocks, labels = [], []
    for k in n_clusters:
        if k < 2:
            raise ValueError(f"n_clusters entries must be >= 2; got {k}")
        y = rng.permutation(np.arange(n) % k)
        angles = 2 * np.pi * np.arange(k) / k
        centres = np.zeros((k, dims_per_subspace))
        if dims_per_subspace == 1:
            centres[:, 0] = separation * np.arange(k)
        else:
            centres[:, 0] = separation * np.cos(angles)
            centres[:, 1] = separation * np.sin(angles)
        blocks.append(centres[y] + rng.standard_normal((n, dims_per_subspace)))
        labels.append(y)
    blocks.append(noise_std * rng.standard_normal((n, noise_dims)))
    X = np.concatenate(blocks, 1)
    if rotate:
        X = X @ ortho_group.rvs(X.shape[1], random_state=rng)
    return Dataset(
        name="planted",
        X=X.astype(np.float32),
        labels=np.stack(labels, 1),
        clusterings=tuple(f"view{i}" for i in range(len(n_clusters))),
        params=dict(n=n, n_clusters=list(n_clusters), dims_per_subspace=dims_per_subspace,
                    noise_dims=noise_dims, separation=separation, noise_std=noise_std, rotate=rotate, seed=seed),
    )
