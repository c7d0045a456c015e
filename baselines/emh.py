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
problems are not dominated by Python overhead; a restart that has converged is frozen.
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
#: Elements of the (R, k, n, d) work tensor processed at once; restarts are chunked above it.
MAX_BATCH_ELEMENTS = 20_000_000

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


def _log_gauss(Y: torch.Tensor, means: torch.Tensor, covs: torch.Tensor) -> torch.Tensor:
    """log N(y | mean_c, cov_c) for all restarts/components/points -> (R, k, n)."""
    d = Y.shape[1]
    L = torch.linalg.cholesky(covs)  # (R, k, d, d)
    Linv = torch.linalg.inv(L)  # small d x d inverses; batched triangular solves are slow in torch
    diff = Y[None, None] - means[:, :, None, :]  # (R, k, n, d)
    z = torch.matmul(diff, Linv.transpose(-1, -2))  # rows: L^-1 (y - mean)
    maha = (z * z).sum(-1)  # (R, k, n)
    logdet = 2 * torch.log(torch.diagonal(L, dim1=-2, dim2=-1)).sum(-1)  # (R, k)
    return -0.5 * (maha + logdet[..., None] + d * math.log(2 * math.pi))


def _m_step(Y: torch.Tensor, resp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Weights, means, covariances (with ridge) from responsibilities resp (R, n, k)."""
    n, d = Y.shape
    nk = resp.sum(1)  # (R, k)
    alive = nk > EMPTY_MASS
    safe = nk.clamp(min=EMPTY_MASS)
    rT = resp.transpose(1, 2)  # (R, k, n)
    means = torch.matmul(rT, Y) / safe[..., None]  # (R, k, d)
    diff = Y[None, None] - means[:, :, None, :]  # (R, k, n, d)
    covs = torch.matmul((diff * rT[..., None]).transpose(-1, -2), diff) / safe[..., None, None]
    eye = torch.eye(d, dtype=Y.dtype)
    covs = covs + RIDGE * eye
    covs = torch.where(alive[..., None, None], covs, eye.expand_as(covs))
    logw = torch.where(alive, torch.log(safe / n), torch.full_like(nk, -math.inf))
    return logw, means, covs


def _emh_batch(Y: torch.Tensor, init_idx: np.ndarray, max_iter: int, tol: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Run EMh for a batch of restarts; init_idx (R, k) row indices of the initial means.

    Returns hard labels (R, n) and the number of EM iterations per restart (R,).
    """
    n, d = Y.shape
    R, k = init_idx.shape
    mu0 = Y[torch.from_numpy(init_idx)]  # (R, k, d)
    dist = torch.cdist(Y[None].expand(R, n, d), mu0)  # (R, n, k)
    resp = torch.nn.functional.one_hot(dist.argmin(-1), k).to(Y.dtype)
    logw, means, covs = _m_step(Y, resp)
    prev_ll = torch.full((R,), -math.inf, dtype=Y.dtype)
    active = torch.ones(R, dtype=torch.bool)
    iters = torch.zeros(R, dtype=torch.long)
    for _ in range(max_iter):
        logp = _log_gauss(Y, means, covs) + logw[..., None]  # (R, k, n)
        norm = torch.logsumexp(logp, dim=1)  # (R, n)
        ll = norm.sum(1)
        gain = (ll - prev_ll) / ll.abs().clamp(min=1e-300)
        newly_done = active & torch.isfinite(prev_ll) & (gain < tol)
        active = active & ~newly_done
        if not bool(active.any()):
            break
        iters += active.long()
        prev_ll = torch.where(active, ll, prev_ll)
        resp = torch.exp(logp - norm[:, None, :]).transpose(1, 2)  # (R, n, k)
        nlogw, nmeans, ncovs = _m_step(Y, resp)
        a = active
        logw = torch.where(a[:, None], nlogw, logw)
        means = torch.where(a[:, None, None], nmeans, means)
        covs = torch.where(a[:, None, None, None], ncovs, covs)
    logp = _log_gauss(Y, means, covs) + logw[..., None]
    return logp.argmax(1), iters


def emh_best(Y: np.ndarray, k: int, n_restarts: int, rng: np.random.Generator, *,
             max_iter: int = 500, tol: float = 1e-10) -> tuple[np.ndarray, float, int]:
    """Best of ``n_restarts`` EMh runs with k components by MDL cost.

    Returns (labels relabelled 0..k_eff-1, cost in bits, total EM iterations).
    """
    n, d = Y.shape
    T = torch.from_numpy(np.ascontiguousarray(Y, dtype=np.float64))
    if k == 1:
        lab = torch.zeros((1, n), dtype=torch.long)
        return np.zeros(n, dtype=np.int64), float(mdl_cost_bits(T, lab, 1)[0]), 0
    init = np.stack([rng.choice(n, size=k, replace=False) for _ in range(n_restarts)])
    chunk = max(1, MAX_BATCH_ELEMENTS // (k * n * d))
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
