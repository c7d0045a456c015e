"""Product-Gaussian kernel density estimates evaluated at the sample points (ISAAC's coding cost).

ISAAC (Ye et al., ICDM 2016, §5.1 of docs/BASELINES.md) codes a subspace with a
product-Gaussian KDE whose per-dimension bandwidths follow Silverman's rule,

    h_j = 0.9 * n^(-1/(d+4)) * min(std_j, IQR_j / 1.34),

evaluated at the sample points themselves (each point's own kernel included):

    f(x_i) = 1/n * sum_j prod_k N(x_ik - x_jk; 0, h_k^2).

The authors use Ihler's dual-tree KDE (Gray & Moore).  The naive sum is O(n^2 d),
far too slow at n = 60,000 for the hundreds of estimates stage A makes, so
:func:`kde_log2_density` picks one of three evaluations:

``"exact"``      the full O(n^2) sum, chunked, in float64 (n <= exact_max_n); only the
                 blocks on and above the diagonal of the symmetric kernel matrix are formed,
                 and the own kernel (= 1) keeps the plain sum of exponentials from underflowing;
``"binned"``     d <= 3: linear binning onto a regular grid, FFT convolution with the
                 sampled product kernel, multilinear interpolation back to the points.
                 Its error is O((grid step / h)^2); the grid is chosen so the step is
                 <= h / 3 in every dimension (otherwise it is not used);
``"reference"``  d > 3 and large n: the sum over all n points is replaced by an
                 unbiased Monte-Carlo estimate over ``n_reference`` random reference
                 points, while each point's own kernel (which dominates in high d) is
                 added exactly.  This is an approximation and is reported as such.

Every call returns the method actually used so callers can record it.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.signal import fftconvolve

#: Grid points per dimension for the binned estimate, by dimensionality.
BINNED_GRID = {1: 4096, 2: 512, 3: 128}
#: Largest grid step allowed for the binned estimate, as a fraction of the bandwidth.
BINNED_MAX_STEP = 1.0 / 3.0
#: The kernel is truncated at this many bandwidths in the binned estimate (exp(-32) ~ 1e-14).
KERNEL_RADIUS = 8.0
LOG2E = 1.0 / math.log(2.0)


def silverman_bandwidths(X: np.ndarray) -> np.ndarray:
    """Per-dimension Silverman bandwidths h_j = 0.9 n^(-1/(d+4)) min(std_j, IQR_j/1.34).

    A dimension with zero spread gets a tiny positive bandwidth (1e-12 times the
    largest absolute value, at least 1e-12) so the estimate stays finite.
    """
    n, d = X.shape
    std = X.std(axis=0, ddof=1) if n > 1 else np.zeros(d)
    q75, q25 = np.percentile(X, [75, 25], axis=0)
    iqr = (q75 - q25) / 1.34
    spread = np.where(iqr > 0, np.minimum(std, iqr), std)
    h = 0.9 * n ** (-1.0 / (d + 4)) * spread
    floor = np.maximum(1e-12 * np.abs(X).max(axis=0), 1e-12)
    return np.maximum(h, floor)


def _log_norm_const(h: np.ndarray) -> float:
    """log of the product-Gaussian normaliser prod_k (sqrt(2 pi) h_k)."""
    return float(np.sum(np.log(h)) + 0.5 * len(h) * math.log(2 * math.pi))


def _pairwise_kernel_sum(Y: torch.Tensor, R: torch.Tensor, chunk: int) -> torch.Tensor:
    """For each row y of Y: sum_r exp(-||y - r||^2 / 2) over the rows r of R (chunked).

    A plain sum of exponentials rather than a log-sum-exp: every term is <= 1, so nothing
    overflows, and in the exact estimate each point's own kernel (= 1) keeps the sum away
    from underflow.  ``-||y-r||^2/2 = y.r - |y|^2/2 - |r|^2/2`` is one ``addmm``.
    """
    out = torch.empty(Y.shape[0], dtype=Y.dtype)
    half_rsq = -0.5 * (R * R).sum(1)
    for i in range(0, Y.shape[0], chunk):
        q = Y[i:i + chunk]
        D = torch.addmm(half_rsq[None, :], q, R.T)
        D.add_(-0.5 * (q * q).sum(1, keepdim=True)).clamp_(max=0.0).exp_()
        out[i:i + chunk] = D.sum(1)
    return out


def _self_kernel_sum(Y: torch.Tensor, chunk: int) -> torch.Tensor:
    """sum_j exp(-||y_i - y_j||^2 / 2) for every row i of Y, over all rows j (own term included).

    The kernel matrix is symmetric, so only the blocks on and above the diagonal are formed:
    an off-diagonal block adds its row sums to its rows and its column sums to its columns.
    """
    n = Y.shape[0]
    out = torch.zeros(n, dtype=Y.dtype)
    half_sq = -0.5 * (Y * Y).sum(1)
    for i in range(0, n, chunk):
        q = Y[i:i + chunk]
        D = torch.addmm(half_sq[None, i:], q, Y[i:].T)
        D.add_(half_sq[i:i + chunk, None]).clamp_(max=0.0).exp_()
        out[i:i + chunk] += D.sum(1)
        if D.shape[1] > q.shape[0]:
            out[i + chunk:] += D[:, q.shape[0]:].sum(0)
    return out


def kde_log_density_exact(X: np.ndarray, h: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """Natural-log KDE density at every sample point, by the full O(n^2) sum (float64)."""
    n = X.shape[0]
    Y = torch.from_numpy(np.ascontiguousarray(X / h, dtype=np.float64))
    lse = torch.log(_self_kernel_sum(Y, chunk)).numpy()
    return lse - math.log(n) - _log_norm_const(h)


def kde_log_density_reference(X: np.ndarray, h: np.ndarray, n_reference: int,
                              rng: np.random.Generator, chunk: int = 2048) -> np.ndarray:
    """Natural-log KDE density with the other points' sum estimated from a random reference set.

    f(x_i) = 1/n [K(0) + (n-1)/r' * sum_{j in R, j != i} K(x_i - x_j)], with r' the number
    of reference points other than i: an unbiased estimate of the exact KDE in which the
    self term is exact.  float32 distances and sums, float64 afterwards.
    """
    n = X.shape[0]
    r = min(n_reference, n)
    ref_idx = np.sort(rng.choice(n, size=r, replace=False))
    Y = torch.from_numpy(np.ascontiguousarray(X / h, dtype=np.float32))
    R = Y[torch.from_numpy(ref_idx)]
    others = _pairwise_kernel_sum(Y, R, chunk).double().numpy()  # includes the self term for reference points
    is_ref = np.zeros(n, dtype=bool)
    is_ref[ref_idx] = True
    others = np.where(is_ref, np.maximum(others - 1.0, 0.0), others)
    r_other = np.where(is_ref, r - 1, r)
    total = 1.0 + (n - 1) / np.maximum(r_other, 1) * others
    return np.log(total) - math.log(n) - _log_norm_const(h)


def _binned_grid(X: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Grid origin and step per dimension for the binned estimate, or None if too coarse."""
    d = X.shape[1]
    G = BINNED_GRID[d]
    lo = X.min(0) - KERNEL_RADIUS * h
    hi = X.max(0) + KERNEL_RADIUS * h
    step = (hi - lo) / (G - 1)
    if np.any(step > BINNED_MAX_STEP * h):
        return None
    return lo, step


def kde_log_density_binned(X: np.ndarray, h: np.ndarray) -> np.ndarray | None:
    """Natural-log KDE density at the points by linear binning + FFT convolution (d <= 3).

    Returns None when the grid would be coarser than ``BINNED_MAX_STEP * h``.
    """
    n, d = X.shape
    grid = _binned_grid(X, h)
    if grid is None:
        return None
    lo, step = grid
    G = BINNED_GRID[d]
    pos = (X - lo) / step  # continuous grid coordinates
    base = np.clip(np.floor(pos).astype(np.int64), 0, G - 2)
    frac = pos - base
    counts = np.zeros(G ** d)
    corners = np.array(np.meshgrid(*[[0, 1]] * d, indexing="ij")).reshape(d, -1).T
    flat_corners, weights = [], []
    for c in corners:
        idx = np.zeros(n, dtype=np.int64)
        w = np.ones(n)
        for k in range(d):
            idx = idx * G + base[:, k] + c[k]
            w = w * (frac[:, k] if c[k] else 1.0 - frac[:, k])
        flat_corners.append(idx)
        weights.append(w)
        counts += np.bincount(idx, weights=w, minlength=G ** d)
    counts = counts.reshape((G,) * d)
    # sampled product kernel on integer grid offsets, truncated at KERNEL_RADIUS bandwidths
    kern = np.ones([1] * d)
    for k in range(d):
        L = int(min(math.ceil(KERNEL_RADIUS * h[k] / step[k]), G - 1))
        off = np.arange(-L, L + 1) * step[k]
        g = np.exp(-0.5 * (off / h[k]) ** 2)
        shape = [1] * d
        shape[k] = 2 * L + 1
        kern = kern * g.reshape(shape)
    dens = fftconvolve(counts, kern, mode="same")
    dens = np.maximum(dens, 0.0).ravel()
    f = np.zeros(n)
    for idx, w in zip(flat_corners, weights):
        f += w * dens[idx]
    # own kernel is at least exp(0)=1 in unnormalised units; FFT round-off can undershoot
    f = np.maximum(f, 1e-300)
    return np.log(f) - math.log(n) - _log_norm_const(h)


def kde_log2_density(X: np.ndarray, *, method: str = "auto", exact_max_n: int = 3000,
                     n_reference: int = 4000, rng: np.random.Generator | None = None,
                     h: np.ndarray | None = None) -> tuple[np.ndarray, str]:
    """log2 of the Silverman product-Gaussian KDE at each sample point, and the method used.

    ``method="auto"`` uses the exact sum for n <= ``exact_max_n``, the binned estimate for
    d <= 3 when its grid is fine enough, and the reference-set estimate otherwise.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"X must be a non-empty 2-D array; got shape {X.shape}")
    if method not in ("auto", "exact", "binned", "reference"):
        raise ValueError(f"method must be 'auto', 'exact', 'binned' or 'reference'; got {method!r}")
    n, d = X.shape
    if h is None:
        h = silverman_bandwidths(X)
    rng = np.random.default_rng(0) if rng is None else rng
    if method == "exact" or (method == "auto" and n <= exact_max_n):
        return kde_log_density_exact(X, h) * LOG2E, "exact"
    if method in ("auto", "binned") and d in BINNED_GRID:
        out = kde_log_density_binned(X, h)
        if out is not None:
            return out * LOG2E, "binned"
        if method == "binned":
            raise ValueError("method='binned': the grid would be coarser than h/3 for this X")
    if method == "binned":
        raise ValueError(f"method='binned' supports d <= {max(BINNED_GRID)}; got d = {d}")
    if n <= n_reference:
        return kde_log_density_exact(X, h) * LOG2E, "exact"
    return kde_log_density_reference(X, h, n_reference, rng) * LOG2E, f"reference(r={n_reference})"


def kde_cost_bits(X: np.ndarray, **kwargs: object) -> tuple[float, str]:
    """Coding cost -sum_i log2 f(x_i) in bits of the KDE of X, and the method used."""
    logf, how = kde_log2_density(X, **kwargs)  # type: ignore[arg-type]
    return float(-logf.sum()), how
