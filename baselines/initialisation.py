"""Random starting points shared by SubKmeans and NrKmeans.

- :func:`kmeans_plusplus`: k-means++ seeding (Arthur & Vassilvitskii 2007) in the
  **full** d-dimensional space, as ClustPy's NrKmeans does (BASELINES.md §3.6).
  It is the float64 NumPy twin of :func:`methods.base.kmeans_plusplus` (which serves
  the torch methods and supports ENRC's weighted distance): this one reuses the
  squared row norms (||x||^2 - 2 x.c + ||c||^2, one matrix-vector product per
  centre, no n x d temporaries) and does not import torch, because NrKmeans seeds
  n_init x J times per fit and the speed targets leave no room for the slower path.
- :func:`random_rotation`: a Haar-distributed orthogonal d x d matrix (V_init).
- :func:`random_split`: a random disjoint partition of the d columns of V into
  subspaces of floor(d/J) columns each, the remainder spread randomly (m_init, P_init).

All take an explicit ``numpy.random.Generator``; no global RNG state.
"""

from __future__ import annotations

import numpy as np

__all__ = ["as_generator", "kmeans_plusplus", "random_rotation", "random_split"]


def as_generator(random_state: object) -> np.random.Generator:
    """A ``numpy.random.Generator`` from None, an int, a Generator or a legacy ``RandomState``.

    A RandomState (the older scikit-learn convention) is not used as a global
    stream: one seed is drawn from it, so the fit stays reproducible given its state.
    """
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(int(random_state.randint(0, 2**31 - 1)))
    if random_state is not None and not isinstance(random_state, (int, np.integer, np.random.Generator)) \
            or isinstance(random_state, bool):
        raise ValueError(f"random_state must be None, an int, a numpy Generator or RandomState; got {random_state!r}")
    if isinstance(random_state, (int, np.integer)) and random_state < 0:
        raise ValueError(f"random_state must be a non-negative int; got {random_state!r}")
    return np.random.default_rng(random_state)  # type: ignore[arg-type]


def kmeans_plusplus(X: np.ndarray, k: int, rng: np.random.Generator,
                    sq_norms: np.ndarray | None = None) -> np.ndarray:
    """Indices of k rows of X chosen by k-means++ (each next row drawn with probability ~ D(x)^2).

    ``sq_norms`` (the squared row norms of X) may be passed to avoid recomputing them.
    When every remaining distance is 0 (duplicate points) the next row is drawn uniformly.
    """
    n = X.shape[0]
    if not 1 <= k <= n:
        raise ValueError(f"n_clusters = {k} must be in [1, n = {n}]")
    sq = np.einsum("ij,ij->i", X, X) if sq_norms is None else sq_norms
    idx = np.empty(k, dtype=np.int64)
    idx[0] = rng.integers(n)
    d2 = np.maximum(sq - 2.0 * (X @ X[idx[0]]) + sq[idx[0]], 0.0)
    for c in range(1, k):
        cum = np.cumsum(d2)
        total = cum[-1]
        if total <= 0.0:
            idx[c] = rng.integers(n)
        else:
            idx[c] = min(int(np.searchsorted(cum, rng.random() * total, side="right")), n - 1)
        d2 = np.minimum(d2, np.maximum(sq - 2.0 * (X @ X[idx[c]]) + sq[idx[c]], 0.0))
    return idx


def random_rotation(d: int, rng: np.random.Generator) -> np.ndarray:
    """Haar-random orthogonal matrix: QR of a Gaussian matrix with the signs of diag(R) fixed (Mezzadri 2007)."""
    Q, R = np.linalg.qr(rng.standard_normal((d, d)))
    return Q * np.sign(np.diag(R))


def random_split(d: int, n_parts: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Partition the column indices 0..d-1 at random into ``n_parts`` groups of floor(d/n_parts) (+1) columns."""
    if n_parts > d:
        raise ValueError(f"cannot split {d} dimensions into {n_parts} non-empty subspaces")
    sizes = np.full(n_parts, d // n_parts)
    sizes[rng.choice(n_parts, d % n_parts, replace=False)] += 1
    perm = rng.permutation(d)
    return np.split(perm, np.cumsum(sizes)[:-1])
