"""Cluster means, scatter matrices and nearest-centre assignment for the k-means baselines (one source of truth).

Notation of BASELINES.md: for data X (n x d) with mean x̄ and a clustering with
means mu_c and sizes n_c,

- total scatter        S_T = sum_i (x_i - x̄)(x_i - x̄)^T,
- between scatter      S_B = sum_c n_c (mu_c - x̄)(mu_c - x̄)^T = M^T M with rows
  M_c = sqrt(n_c) (mu_c - x̄)  (the "between factor"),
- within scatter       S_W = S_T - S_B.

SubKmeans (Mautz et al. 2017) and NrKmeans (Mautz et al. 2018) only ever need
S_W through S_T - S_B: S_T is computed once (O(n d^2)) and each iteration needs
only the k x d factor M (O(n d) for the means), never an O(n d^2) rescan of the
points.  Keeping M instead of S_B also exposes the low rank (<= k - 1) of S_B,
which the rotation step exploits.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.linalg import blas


def total_scatter(Xc: np.ndarray) -> np.ndarray:
    """S_T = Xc^T Xc of already centred data Xc (rows sum to zero); O(n d^2).

    BLAS ``syrk`` computes one triangle only (half the flops of a general product,
    which matters for 70,000 x 784 MNIST) and the result is exactly symmetric.
    """
    A = np.asarray(Xc, dtype=np.float64)
    upper = blas.dsyrk(1.0, A.T, trans=0, lower=0)  # A.T is F-contiguous for C-ordered A: no copy
    return np.triu(upper) + np.triu(upper, 1).T


def cluster_sums(X: np.ndarray, labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-cluster row sums (k x d) and sizes (k,) of X for integer labels in [0, k)."""
    (sums, counts), = multi_cluster_sums(X, labels[:, None], [k])
    return sums, counts


def multi_cluster_sums(X: np.ndarray, labels: np.ndarray, ks: Sequence[int]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Row sums and sizes of X for several clusterings at once (labels is n x J, clustering j has ks[j]).

    One dense one-hot matrix E (n x sum k_j) and one BLAS product E^T X: O(n d sum k_j)
    flops but a single multithreaded call, much faster in practice than a sparse
    product or a Python loop for the small k of these methods.
    """
    n = X.shape[0]
    offsets = np.concatenate([[0], np.cumsum(ks)])
    E = np.zeros((n, int(offsets[-1])))
    rows = np.arange(n)
    for j in range(len(ks)):
        E[rows, offsets[j] + labels[:, j]] = 1.0
    sums = E.T @ X
    return [(sums[offsets[j]:offsets[j + 1]], np.bincount(labels[:, j], minlength=ks[j]).astype(np.int64))
            for j in range(len(ks))]


def cluster_means(X: np.ndarray, labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-cluster means (k x d) and sizes (k,); an empty cluster's mean is NaN (callers re-seed first)."""
    sums, counts = cluster_sums(X, labels, k)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts[:, None]
    return means, counts


def between_factor(means: np.ndarray, counts: np.ndarray, global_mean: np.ndarray | None = None) -> np.ndarray:
    """M with rows sqrt(n_c) (mu_c - x̄), so that S_B = M^T M (x̄ = 0 when omitted)."""
    centred = means if global_mean is None else means - global_mean
    return np.sqrt(counts.astype(np.float64))[:, None] * centred


def within_scatter(S_T: np.ndarray, M: np.ndarray) -> np.ndarray:
    """S_W = S_T - M^T M (the S_T - S_B identity), symmetrised."""
    S = S_T - M.T @ M
    return (S + S.T) / 2.0


def nearest_centre(Y: np.ndarray, C: np.ndarray) -> np.ndarray:
    """argmin_c ||y_i - C_c||^2 for points Y (n x m) and centres C (k x m); ||y_i||^2 is dropped (constant per row)."""
    D = Y @ (-2.0 * C.T)
    D += np.einsum("ij,ij->i", C, C)
    return D.argmin(1)
