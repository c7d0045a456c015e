"""Input validation shared by the baselines: one clear ``ValueError`` naming the parameter."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse


def check_not_sparse(X: object, name: str = "X") -> None:
    """A ``ValueError`` naming the parameter for a SciPy sparse matrix or array (NumPy makes a 0-d object array of it)."""
    if scipy.sparse.issparse(X):
        raise ValueError(f"{name} is a sparse {type(X).__name__}; sparse input is not supported: "
                         f"pass a dense array ({name}.toarray())")


def check_X(X: object, *, min_samples: int = 1, name: str = "X") -> np.ndarray:
    """Return X as a float64 C-contiguous 2-D array, or raise ``ValueError``.

    Rejects: sparse, complex, not 2-D, empty, NaN or inf.
    """
    check_not_sparse(X, name)
    if np.iscomplexobj(X):
        raise ValueError(f"{name} is complex; complex data is not supported")
    try:
        A = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array: {exc}") from exc
    if A.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features); got {A.ndim}-D with shape {A.shape}")
    if A.shape[0] == 0 or A.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {A.shape})")
    if A.shape[0] < min_samples:
        raise ValueError(f"{name} has {A.shape[0]} samples; at least {min_samples} are needed")
    if not np.isfinite(A).all():
        raise ValueError(f"{name} contains NaN or inf")
    return np.ascontiguousarray(A)


def check_n_clusters_list(n_clusters: object, n_samples: int, *, name: str = "n_clusters",
                          allow_noise_last: bool = False) -> list[int]:
    """Validate a list of cluster counts for a multi-clustering method.

    Each count must be an int >= 2 and <= n_samples.  A count of 1 (a noise
    space) is accepted only as the last entry, and only when ``allow_noise_last``.
    """
    if isinstance(n_clusters, np.ndarray):
        ok = n_clusters.ndim == 1  # a 0-d array cannot be iterated, a 2-d one holds rows, not counts
    else:
        ok = isinstance(n_clusters, Sequence) and not isinstance(n_clusters, (str, bytes))
    if not ok:
        raise ValueError(f"{name} must be a list of cluster counts; got {n_clusters!r}")
    entries = list(n_clusters)  # type: ignore[call-overload]
    bad = [k for k in entries if isinstance(k, bool) or not isinstance(k, (int, np.integer))]
    if bad:
        raise ValueError(f"{name} entries must be integers; got {n_clusters!r}")
    ks = [int(k) for k in entries]
    if len(ks) == 0:
        raise ValueError(f"{name} must not be empty")
    for i, k in enumerate(ks):
        if k < 1:
            raise ValueError(f"{name}[{i}] = {k}: cluster counts must be >= 1")
        if k > n_samples:
            raise ValueError(f"{name}[{i}] = {k} exceeds the number of samples n = {n_samples}")
        if k == 1:
            if not allow_noise_last:
                raise ValueError(f"{name}[{i}] = 1: a single-cluster (noise) space is not supported here")
            if i != len(ks) - 1:
                raise ValueError(f"{name}[{i}] = 1: the noise space (k = 1) must be the last entry")
    return ks


def check_n_clusters(n_clusters: object, n_samples: int, *, name: str = "n_clusters") -> int:
    """Validate a single cluster count (int, 1 <= k <= n_samples; bools rejected: ``True`` is not a count)."""
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, (int, np.integer)):
        raise ValueError(f"{name} must be an int; got {n_clusters!r}")
    k = int(n_clusters)
    if k < 1:
        raise ValueError(f"{name} = {k} must be >= 1")
    if k > n_samples:
        raise ValueError(f"{name} = {k} exceeds the number of samples n = {n_samples}")
    return k


def check_positive_int(value: object, name: str) -> int:
    """Validate a positive integer hyperparameter such as ``n_init`` or ``max_iter`` (bools rejected)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < 1:
        raise ValueError(f"{name} must be a positive int; got {value!r}")
    return int(value)


def check_int(value: Any, name: str, minimum: int) -> int:
    """An integer ``>= minimum`` (bools refused) or a ``ValueError`` naming the parameter."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def check_real(value: Any, name: str, minimum: float = 0.0, strict: bool = True) -> float:
    """A finite real ``> minimum`` (``>=`` when not strict; bools and strings refused) or a ``ValueError``."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)
    if ok:
        ok = value > minimum if strict else value >= minimum
    if not ok:
        raise ValueError(f"{name} must be a finite number {'>' if strict else '>='} {minimum}; got {value!r}")
    return float(value)
