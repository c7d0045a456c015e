"""ISAAC stage B: hard-EM Gaussian mixtures ("EMh") and their MDL coding cost.

Follows the authors' MATLAB ``EMh.m`` / ``VAC.m`` as described in docs/BASELINES.md §5.2:

- full-covariance Gaussian-mixture EM, initialised from k random data points with
  nearest-point assignment, a 1e-6 ridge on every covariance, stopped when the relative
  log-likelihood gain falls below 1e-10 or after 500 iterations; components whose
  responsibility mass vanishes are dropped;
- hard labels = argmax responsibility;
- coding cost (bits) of a hard clustering of Y (n x d):

      sum_c [ sum_{x in c} sum_j -log2 N(x_j | mean_cj, std_cj)
              + n_c log2(n / n_c) + ((d^2 + 3d) / 4) log2 n_c ]

  (axis-parallel data term, cluster-id term, parameter term for d means and
  d(d+1)/2 covariance entries at 1/2 log2 n_c each).

The restarts of one k run together as a batch (tensor dimension R) so that small
problems are not dominated by Python overhead; a restart that has converged is frozen and
leaves the batch.  Each E-step and M-step is a single matrix product with the design
matrix F = [1, y, y_i y_j] (quadratic-form expansion of the Gaussian log-density and the
moment form of the covariance), so no (R, k, n, d) tensor is formed; this is exact
algebra, and only floating-point rounding differs from the direct (y - mean) form.
"""

from __future__ import annotations

import math

import numpy as np
import torch

#: Ridge added to every covariance (EMh.m).
RIDGE = 1e-6
#: Floor on a per-dimension cluster std in the coding cost (sqrt of the ridge), so a
#: cluster of identical points has a finite cost.
STD_FLOOR = math.sqrt(RIDGE)
#: A component whose responsibility mass falls below this is dropped (treated as empty).
EMPTY_MASS = 1e-8
#: Elements of the (n, R, k) responsibility tensor processed at once; restarts are chunked above it.
MAX_BATCH_ELEMENTS = 8_000_000

_LOG2 = math.log(2.0)


def mdl_cost_bits(Y: torch.Tensor, labels: torch.Tensor, k: int) -> torch.Tensor:
    """Coding cost in bits of hard clusterings; Y (n, d), labels (R, n) with values < k -> (R,)."""
    n, d = Y.shape
    onehot = torch.nn.functional.one_hot(labels, k).to(Y.dtype)  # (R, n, k)
    nc = onehot.sum(1)  # (R, k)
    s1 = torch.einsum("rnk,nd->rkd", onehot, Y)
    s2 = torch.einsum("rnk,nd->rkd", onehot, Y * Y)
    safe = nc.clamp(min=1.0)[..., None]
    mean = s1 / safe
    var = (s2 / safe - mean * mean).clamp(min=0.0)
    sd2 = var.clamp(min=STD_FLOOR ** 2)
    data = 0.5 * nc[..., None] * torch.log2(2 * math.pi * sd2) + nc[..., None] * var / (2 * sd2 * _LOG2)
    used = nc > 0
    idc = torch.where(used, nc * torch.log2(n / nc.clamp(min=1.0)), torch.zeros_like(nc))
    par = torch.where(used, (d * d + 3 * d) / 4.0 * torch.log2(nc.clamp(min=1.0)), torch.zeros_like(nc))
    return data.sum((1, 2)) + idc.sum(1) + par.sum(1)


def _features(Y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Design matrix F = [1, y, y_i y_j (i <= j)] (n, 1 + d + d(d+1)/2) and the upper-triangle indices.

    Every E-step log-density and every M-step moment is one GEMM with F, so no (R, k, n, d)
    work tensor is formed.
    """
    n, d = Y.shape
    iu = torch.triu_indices(d, d)
    F = torch.cat([torch.ones(n, 1, dtype=Y.dtype), Y, Y[:, iu[0]] * Y[:, iu[1]]], 1)
    return F, iu[0], iu[1]


def _e_coefficients(logw: torch.Tensor, means: torch.Tensor, covs: torch.Tensor,
                    iu0: torch.Tensor, iu1: torch.Tensor) -> torch.Tensor:
    """Coefficients A (1 + d + d(d+1)/2, R*k) with F @ A = log w_c + log N(y | mean_c, cov_c).

    -1/2 (y-mu)' P (y-mu) = -1/2 y'Py + y'P mu - 1/2 mu'P mu, with P = cov^-1 from a Cholesky
    factor (the same factor gives log det cov).
    """
    R, k, d = means.shape
    L = torch.linalg.cholesky(covs)  # (R, k, d, d)
    P = torch.cholesky_inverse(L)
    logdet = 2 * torch.log(torch.diagonal(L, dim1=-2, dim2=-1)).sum(-1)  # (R, k)
    Pmu = torch.matmul(P, means[..., None])[..., 0]  # (R, k, d)
    const = -0.5 * ((means * Pmu).sum(-1) + logdet + d * math.log(2 * math.pi)) + logw
    quad = P[..., iu0, iu1] * torch.where(iu0 == iu1, -0.5, -1.0).to(P.dtype)
    A = torch.cat([const[..., None], Pmu, quad], -1)  # (R, k, 1 + d + q)
    return A.reshape(R * k, -1).T


def _e_step(F: torch.Tensor, A: torch.Tensor, R: int, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-likelihood per point and restart (n, R) and responsibilities (n, R, k)."""
    logp = (F @ A).view(-1, R, k)
    mx = logp.amax(-1, keepdim=True)  # finite: every restart has a live component
    e = logp.sub_(mx).exp_()  # in place: logp is not needed again
    s = e.sum(-1, keepdim=True)
    return (mx + torch.log(s))[..., 0], e.div_(s)


def _m_step(F: torch.Tensor, resp: torch.Tensor, d: int, iu0: torch.Tensor,
            iu1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Log-weights (R, k), means (R, k, d), covariances with ridge (R, k, d, d) from resp (n, R, k)."""
    n, R, k = resp.shape
    mom = (resp.reshape(n, R * k).T @ F).view(R, k, -1)  # zeroth, first, second moments
    nk = mom[..., 0]
    alive = nk > EMPTY_MASS
    safe = nk.clamp(min=EMPTY_MASS)[..., None]
    means = mom[..., 1:1 + d] / safe
    second = torch.zeros(R, k, d, d, dtype=F.dtype)
    second[..., iu0, iu1] = mom[..., 1 + d:] / safe
    second[..., iu1, iu0] = mom[..., 1 + d:] / safe
    eye = torch.eye(d, dtype=F.dtype)
    covs = second - means[..., :, None] * means[..., None, :] + RIDGE * eye
    covs = torch.where(alive[..., None, None], covs, eye.expand_as(covs))
    logw = torch.where(alive, torch.log(safe[..., 0] / n), torch.full_like(nk, -math.inf))
    return logw, means, covs


def _emh_batch(Y: torch.Tensor, init_idx: np.ndarray, max_iter: int, tol: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Run EMh for a batch of restarts; init_idx (R, k) row indices of the initial means.

    A restart stops when its relative log-likelihood gain falls below ``tol`` (its parameters
    are then frozen and it leaves the batch) or after ``max_iter`` iterations.
    Returns hard labels (R, n) and the number of EM iterations per restart (R,).
    """
    n, d = Y.shape
    R, k = init_idx.shape
    F, iu0, iu1 = _features(Y)
    mu0 = Y[torch.from_numpy(init_idx)]  # (R, k, d)
    dist = torch.cdist(Y[None].expand(R, n, d), mu0)  # (R, n, k)
    resp = torch.nn.functional.one_hot(dist.argmin(-1), k).to(Y.dtype).transpose(0, 1)  # (n, R, k)
    logw, means, covs = _m_step(F, resp, d, iu0, iu1)
    del dist, resp
    prev_ll = torch.full((R,), -math.inf, dtype=Y.dtype)
    iters = torch.zeros(R, dtype=torch.long)
    act = torch.arange(R)  # restarts still iterating
    for _ in range(max_iter):
        a = len(act)
        ll_pts, resp = _e_step(F, _e_coefficients(logw[act], means[act], covs[act], iu0, iu1), a, k)
        ll = ll_pts.sum(0)
        prev = prev_ll[act]
        gain = (ll - prev) / ll.abs().clamp(min=1e-300)
        keep = ~(torch.isfinite(prev) & (gain < tol))
        if not bool(keep.any()):
            break
        act = act[keep]
        iters[act] += 1
        prev_ll[act] = ll[keep]
        if not bool(keep.all()):
            resp = resp[:, keep]
        logw[act], means[act], covs[act] = _m_step(F, resp, d, iu0, iu1)
    logp = (F @ _e_coefficients(logw, means, covs, iu0, iu1)).view(n, R, k)
    return logp.argmax(-1).T.contiguous(), iters


def emh_best(Y: np.ndarray, k: int, n_restarts: int, rng: np.random.Generator, *,
             max_iter: int = 500, tol: float = 1e-10) -> tuple[np.ndarray, float, int]:
    """Best of ``n_restarts`` EMh runs with k components by MDL cost.

    Returns (labels relabelled 0..k_eff-1, cost in bits, total EM iterations).
    """
    n = Y.shape[0]
    T = torch.from_numpy(np.ascontiguousarray(Y, dtype=np.float64))
    if k == 1:
        lab = torch.zeros((1, n), dtype=torch.long)
        return np.zeros(n, dtype=np.int64), float(mdl_cost_bits(T, lab, 1)[0]), 0
    init = np.stack([rng.choice(n, size=k, replace=False) for _ in range(n_restarts)])
    chunk = max(1, MAX_BATCH_ELEMENTS // (k * n))
    best_cost, best_lab, total_iter = math.inf, None, 0
    for i in range(0, n_restarts, chunk):
        labels, iters = _emh_batch(T, init[i:i + chunk], max_iter, tol)
        costs = mdl_cost_bits(T, labels, k)
        total_iter += int(iters.sum())
        j = int(torch.argmin(costs))
        if float(costs[j]) < best_cost:
            best_cost, best_lab = float(costs[j]), labels[j].numpy()
    _, lab = np.unique(best_lab, return_inverse=True)
    return lab.astype(np.int64), best_cost, total_iter
