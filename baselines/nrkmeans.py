"""NrKmeans: non-redundant k-means clusterings in mutually orthogonal subspaces.

Mautz, Ye, Plant, Böhm, "Discovering Non-Redundant K-means Clusterings in Optimal
Subspaces", KDD 2018 (BASELINES.md §3).  A d x d orthogonal matrix V is split into
J column groups P_j (m_j columns each, sum m_j = d); subspace j holds its own
k-means clustering with k_j clusters.  The cost is

    J(V, P, labels) = sum_j sum_c sum_{x in C_jc} || P_j^T V^T (x - mu_jc) ||^2
                    = sum_j tr(P_j^T V^T S_j V P_j),                        (§3.1)

with S_j the full-dimensional within-cluster scatter of clustering j.  An optional
last entry k = 1 is the *noise space*: one cluster whose centre is the global mean
(S_noise = S_T), assigned once.

One iteration (§3.3) is (1) assign every point, in each subspace, to its nearest
centre; (2) recompute the full-d centres; stop when no label changed; (3) for every
pair j < l, eigen-decompose the symmetric matrix B^T (S_j - S_l) B with
B = V[:, P_j ∪ P_l], write B Q back into those columns and give the eigenvectors of
negative eigenvalue to j, the rest to l.  Within the fixed span of B the cost is
const + tr(A^T (S_j - S_l) A) over the columns A given to j, so each step is an
exact minimiser and J never increases (recorded in ``cost_history_``).

Implementation choices (each one stated because it differs from, or is not fixed
by, the paper / ClustPy):

- float64 throughout, data centred once; S_T computed once and every S_j obtained
  as S_T - S_B^(j) = S_T - M_j^T M_j with the k_j x d factor M_j (BASELINES §3.4),
  so S_j - S_l = M_l^T M_l - M_j^T M_j has rank <= k_j + k_l - 2.  The pairwise
  eigenproblem is solved in that low-rank span (a QR of the stacked factors plus a
  tiny eigh); the orthogonal complement has eigenvalue exactly 0.  This is exact,
  and it keeps SubKmeans on 784-d MNIST cheap.
- A *relative* eigenvalue tolerance: lambda < -eig_tol * tr(B^T (S_B^j + S_B^l) B)
  counts as negative, for every pair (ClustPy: -1e-7 absolute for noise pairs,
  strict < 0 otherwise).  The reference is the pair's total between-cluster scatter
  (>= max|lambda|, equal to it up to a factor <= k_j + k_l): like max|lambda| it is
  scale-free, but it also stays meaningful when S_j - S_l is numerically zero (two
  identical clusterings), where a tolerance relative to max|lambda| would let
  rounding noise decide.  Directions with lambda ~ 0 are directions along which the centres
  of both clusterings coincide; which side they go to changes neither the cost nor
  any assignment (§3.4), and the relative test makes m_ scale-invariant (§2.4).
  With this rule those directions always go to the later subspace l, so they end
  in the noise space when there is one.
- V is re-orthonormalised with a QR (signs fixed) every ``reorth_every``
  iterations and at the end.
- An empty cluster is RE-SEEDED with the point farthest from its own centre in
  that subspace (taken from a cluster with more than one point), never dropped:
  moving a point to a new singleton cluster cannot raise the cost.  The count is
  recorded in ``n_reseeded_``.
- A subspace that ends with m_j = 0 columns is *lost* (as in ClustPy); it is
  removed, reported in ``lost_subspaces_`` and warned about.
- ``n_init`` independent starts (Haar-random V, random column split
  floor(d/J) (+1), k-means++ centres in the full space per clustering, as ClustPy);
  the run with the lowest final cost J is kept (``loss_``).
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
from scipy.linalg import lapack
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted
from tqdm.auto import tqdm

from baselines.fitted import unfitted_on_error
from baselines.initialisation import as_generator, kmeans_plusplus, random_rotation, random_split
from baselines.scatter import between_factor, multi_cluster_sums, nearest_centre, total_scatter, within_scatter
from baselines.validation import check_n_clusters_list, check_positive_int, check_real, check_X

DEFAULT_EIG_TOL = 1e-10
"""Relative eigenvalue tolerance: lambda < -DEFAULT_EIG_TOL * (pair's between scatter) is negative (BASELINES §2.4)."""

LOW_RANK_MIN_DIM = 48
"""Pairs spanning more columns than this use the low-rank (QR + small eigh) rotation when it pays off."""


# ---------------------------------------------------------------------------
# the algorithm on centred data (shared with SubKmeans)
# ---------------------------------------------------------------------------


@dataclass
class SubspaceRun:
    """Result of one NrKmeans start on centred data (internal; the estimators unpack it)."""

    labels: np.ndarray  # (n, J) for every requested subspace; lost ones frozen at their last labels
    V: np.ndarray  # d x d, columns ordered subspace by subspace (surviving subspaces, in order)
    m: list[int]  # columns per surviving subspace
    subspaces: list[int]  # indices (into n_clusters) of the surviving subspaces
    lost: list[int]
    centres: dict[int, np.ndarray]  # full-d centres in centred coordinates, per subspace index
    factors: dict[int, np.ndarray]  # between factors M_j (k_j x d); (0 x d) for the noise space
    cost: float
    cost_history: list[float] = field(default_factory=list)
    n_iter: int = 0
    converged: bool = False
    n_reseeded: int = 0


def check_eig_tol(value: object) -> float:
    """Validate the relative eigenvalue tolerance (0 <= eig_tol < 1)."""
    v = check_real(value, "eig_tol", 0.0, strict=False)
    if v >= 1.0:
        raise ValueError(f"eig_tol must be in [0, 1); got {value!r}")
    return v


def _reseed_empty(lab: np.ndarray, D: np.ndarray, Yj: np.ndarray, k: int) -> int:
    """Give every empty cluster the point farthest from its own centre (in place); return how many."""
    counts = np.bincount(lab, minlength=k)
    empty = np.flatnonzero(counts == 0)
    if empty.size == 0:
        return 0
    n = lab.shape[0]
    own = D[np.arange(n), lab] + np.einsum("ij,ij->i", Yj, Yj)  # squared distance to the own centre
    for c in empty:
        movable = counts[lab] > 1
        i = int(np.argmax(np.where(movable, own, -np.inf)))
        counts[lab[i]] -= 1
        lab[i] = c
        counts[c] = 1
    return int(empty.size)


def _apply_householder(G: np.ndarray, B: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (B Q, R) for the full QR G^T = Q R (Q: p x p orthogonal, G: r x p with r < p).

    Q is applied in compact-WY form Q = I - W T W^T (Schreiber & Van Loan 1989)
    built from LAPACK's Householder reflectors, O(d p r) instead of the O(d p^2)
    product with an explicit p x p matrix.
    """
    qr, tau, _work, info = lapack.dgeqrf(np.asarray(G.T, dtype=np.float64))
    if info != 0:
        raise np.linalg.LinAlgError(f"dgeqrf failed (info={info})")
    r = tau.size
    W = np.tril(qr[:, :r], -1)
    W[np.arange(r), np.arange(r)] = 1.0
    WtW = W.T @ W
    T = np.zeros((r, r))
    for i in range(r):
        T[i, i] = tau[i]
        if i:
            T[:i, i] = -tau[i] * (T[:i, :i] @ WtW[:i, i])
    return B - ((B @ W) @ T) @ W.T, np.triu(qr[:r, :r])


def _rotate_pair(V: np.ndarray, P: dict[int, np.ndarray], a: int, b: int,
                 Ma: np.ndarray, Mb: np.ndarray, eig_tol: float) -> None:
    """Pairwise rotation of subspaces a < b (in place on V and P), §3.3 step 3.

    Solves the eigenproblem of B^T (S_a - S_b) B = G^T diag(+1_b, -1_a) G with
    G = [M_b B; M_a B].  Only the row space of G (dimension r0 <= k_a + k_b) carries
    non-zero eigenvalues; when the pair spans many more columns than r0, a QR of G^T
    reduces the problem to an r0 x r0 eigh (the complement has eigenvalue exactly 0).
    For small pairs a direct eigh of the (m_a + m_b)-square matrix is cheaper.
    """
    idx = np.concatenate([P[a], P[b]])
    dp = idx.size
    B = V[:, idx]
    G = np.vstack([Mb @ B, Ma @ B])
    sign = np.concatenate([np.ones(Mb.shape[0]), -np.ones(Ma.shape[0])])
    r0 = G.shape[0]
    if dp > LOW_RANK_MIN_DIM and 2 * r0 < dp:
        BQ, Rt = _apply_householder(G, B)  # B Q with G^T = Q R; then G Q[:, :r0] = R^T
        T = Rt @ (sign[:, None] * Rt.T)
        lam_small, U = np.linalg.eigh((T + T.T) / 2.0)
        lam = np.concatenate([lam_small, np.zeros(dp - r0)])
        newB = np.hstack([BQ[:, :r0] @ U, BQ[:, r0:]])
    else:
        T = G.T @ (sign[:, None] * G)
        lam, R = np.linalg.eigh((T + T.T) / 2.0)
        newB = B @ R
    # relative to the pair's total between-cluster scatter tr(B^T (S_B^a + S_B^b) B) = ||G||_F^2 >= max|lambda|:
    # scale-free, and rounding noise cannot pass for a direction when both scatters (nearly) coincide
    scale = float(np.einsum("ij,ij->", G, G))
    neg = lam < -eig_tol * scale
    order = np.concatenate([np.flatnonzero(neg), np.flatnonzero(~neg)])
    V[:, idx] = newB[:, order]
    n_neg = int(neg.sum())
    P[a] = idx[:n_neg]
    P[b] = idx[n_neg:]


def _full_sums(Xc: np.ndarray, labels: np.ndarray, clusters: list[int], ks: Sequence[int],
               sums: dict[int, np.ndarray], counts: dict[int, np.ndarray]) -> None:
    for j, (sj, cj) in zip(clusters, multi_cluster_sums(Xc, labels[:, clusters], [ks[j] for j in clusters])):
        sums[j] = sj
        counts[j] = cj


def _reorthonormalise(V: np.ndarray) -> np.ndarray:
    Q, R = np.linalg.qr(V)
    return Q * np.where(np.diag(R) < 0, -1.0, 1.0)


def run_subspace_kmeans(Xc: np.ndarray, S_T: np.ndarray, ks: Sequence[int], noise: bool,
                        rng: np.random.Generator, max_iter: int = 300, eig_tol: float = DEFAULT_EIG_TOL,
                        reorth_every: int = 10,
                        callback: Callable[[int, float], None] | None = None) -> SubspaceRun:
    """One NrKmeans start on centred float64 data ``Xc`` (rows sum to 0) with S_T = Xc^T Xc.

    ``ks`` are the cluster counts; with ``noise`` the last entry is the noise space
    (k = 1, centre = global mean = 0, labels all 0, never reassigned).
    """
    n, d = Xc.shape
    J = len(ks)
    is_noise = [noise and j == J - 1 for j in range(J)]
    V = random_rotation(d, rng)
    P = dict(enumerate(random_split(d, J, rng)))
    active = list(range(J))
    sq_norms = np.einsum("ij,ij->i", Xc, Xc)
    centres: dict[int, np.ndarray] = {}
    factors: dict[int, np.ndarray] = {}
    for j in range(J):
        if is_noise[j]:
            centres[j] = np.zeros((1, d))
            factors[j] = np.zeros((0, d))
        else:
            centres[j] = Xc[kmeans_plusplus(Xc, ks[j], rng, sq_norms)].copy()
            factors[j] = np.zeros((ks[j], d))
    labels = np.zeros((n, J), dtype=np.int64)
    sums: dict[int, np.ndarray] = {}
    counts: dict[int, np.ndarray] = {}
    trace_T = float(np.trace(S_T))
    lost: list[int] = []
    history: list[float] = []
    n_reseeded = 0
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        clusters = [j for j in active if not is_noise[j]]
        if not clusters:
            break
        # (1) assignment: one projection X V for all clustered subspaces
        cols = np.concatenate([P[j] for j in clusters])
        Y = (V[:, cols].T @ Xc.T).T  # this operand order is ~2x faster in OpenBLAS for skinny V
        off = 0
        moved: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for j in clusters:
            mj = P[j].size
            Yj = Y[:, off:off + mj]
            off += mj
            C = centres[j] @ V[:, P[j]]
            D = Yj @ (-2.0 * C.T)
            D += np.einsum("ij,ij->i", C, C)
            lab = D.argmin(1)
            n_reseeded += _reseed_empty(lab, D, Yj, ks[j])
            if it > 1:
                ch = np.flatnonzero(lab != labels[:, j])
                moved[j] = (ch, labels[ch, j], lab[ch])
            labels[:, j] = lab
        n_moved = sum(m[0].size for m in moved.values())
        if it > 1 and n_moved == 0:
            converged = True
            break
        # (2) full-d centres and between factors (S_j = S_T - M_j^T M_j); no cluster is empty here.
        # Sums are updated from the moved points only, and recomputed in full periodically.
        if it == 1 or it % reorth_every == 0 or 4 * n_moved > n:
            _full_sums(Xc, labels, clusters, ks, sums, counts)
        else:
            for j, (ch, old, new) in moved.items():
                if ch.size:
                    E = np.zeros((ch.size, ks[j]))
                    E[np.arange(ch.size), new] += 1.0
                    E[np.arange(ch.size), old] -= 1.0
                    sums[j] += E.T @ Xc[ch]
                    counts[j] += np.bincount(new, minlength=ks[j]) - np.bincount(old, minlength=ks[j])
        for j in clusters:
            centres[j] = sums[j] / counts[j][:, None]
            factors[j] = between_factor(centres[j], counts[j])
        # (3) pairwise rotations
        for a, b in combinations(active, 2):
            _rotate_pair(V, P, a, b, factors[a], factors[b], eig_tol)
        gone = [j for j in active if P[j].size == 0]
        if gone:
            lost.extend(gone)
            active = [j for j in active if P[j].size > 0]
        cost = trace_T - sum(float(np.sum((factors[j] @ V[:, P[j]]) ** 2)) for j in active)
        history.append(cost)
        if callback is not None:
            callback(it, cost)
        if it % reorth_every == 0:
            V = _reorthonormalise(V)
    # exact final centres (the incremental sums may carry rounding)
    clusters = [j for j in active if not is_noise[j]]
    if clusters and sums:
        _full_sums(Xc, labels, clusters, ks, sums, counts)
        for j in clusters:
            centres[j] = sums[j] / counts[j][:, None]
            factors[j] = between_factor(centres[j], counts[j])
    order = np.concatenate([P[j] for j in active]) if active else np.arange(0)
    V_out = _reorthonormalise(V[:, order]) if order.size == d else V[:, order]
    if not history:  # stopped before any rotation (no clustered subspace)
        history.append(trace_T)
    return SubspaceRun(
        labels=labels, V=V_out, m=[int(P[j].size) for j in active], subspaces=active, lost=lost,
        centres=centres, factors=factors, cost=history[-1], cost_history=history, n_iter=it,
        converged=converged, n_reseeded=n_reseeded,
    )


def run_state(run: SubspaceRun) -> dict[str, Any]:
    """One start's result as a snapshot entry (tensors and plain Python values: ``torch.load(weights_only=True)``)."""
    import torch

    return {"labels": torch.from_numpy(np.ascontiguousarray(run.labels)), "V": torch.from_numpy(np.ascontiguousarray(run.V)),
            "m": [int(v) for v in run.m], "subspaces": [int(v) for v in run.subspaces],
            "lost": [int(v) for v in run.lost],
            "centres": {int(j): torch.from_numpy(np.ascontiguousarray(c)) for j, c in run.centres.items()},
            "factors": {int(j): torch.from_numpy(np.ascontiguousarray(f)) for j, f in run.factors.items()},
            "cost": float(run.cost), "cost_history": [float(c) for c in run.cost_history],
            "n_iter": int(run.n_iter), "converged": bool(run.converged), "n_reseeded": int(run.n_reseeded)}


def run_from_state(state: dict[str, Any]) -> SubspaceRun:
    """The inverse of :func:`run_state` (the same arrays, bit for bit)."""
    return SubspaceRun(
        labels=state["labels"].numpy().copy(), V=state["V"].numpy().copy(), m=list(state["m"]),
        subspaces=list(state["subspaces"]), lost=list(state["lost"]),
        centres={int(j): c.numpy().copy() for j, c in state["centres"].items()},
        factors={int(j): f.numpy().copy() for j, f in state["factors"].items()},
        cost=float(state["cost"]), cost_history=list(state["cost_history"]), n_iter=int(state["n_iter"]),
        converged=bool(state["converged"]), n_reseeded=int(state["n_reseeded"]))


def best_of_runs(Xc: np.ndarray, S_T: np.ndarray, ks: Sequence[int], noise: bool, n_init: int,
                 random_state: object, max_iter: int, eig_tol: float, reorth_every: int,
                 progress: bool, desc: str, n_jobs: int | None = None, checkpoint: Any = None,
                 resume: dict[str, Any] | None = None) -> tuple[SubspaceRun, list[float]]:
    """``n_init`` independent starts (child generators of ``random_state``); keep the lowest cost.

    ``n_jobs`` (joblib's convention: ``None`` or 1 serial, -1 every core) runs the starts in
    worker processes.  Each start draws only from its own child generator and the results are
    taken in start order, so the kept start (the first of the lowest cost) and its labels are
    the same for any ``n_jobs``.  Costs agree to rounding, not bit for bit, when the workers
    run BLAS with fewer threads than the parent (joblib gives each cores / n_jobs), which sums
    in another order (``tox -e bench``, ``test_bench_nrkmeans_parallel_starts``: relative 8e-15).

    ``checkpoint`` (a :class:`methods.checkpoint.TrainingCheckpoint`) is told after every
    finished start (its ``step``): it snapshots the costs so far and the best start, every
    ``every_s`` seconds and at a deferred Ctrl-C / SIGTERM.  ``resume`` (such a snapshot)
    skips the starts it holds; because each start has its own child generator, the
    remaining ones are those an uninterrupted run makes, and so is the kept start.
    """
    rng = as_generator(random_state)
    best: SubspaceRun | None = None
    losses: list[float] = []
    children = rng.spawn(n_init)
    if resume is not None:
        losses = [float(c) for c in resume["losses"]]
        best = run_from_state(resume["best"])
        children = children[len(losses):]

    def state_of() -> dict[str, Any]:
        assert best is not None
        return {"losses": list(losses), "best": run_state(best)}

    if checkpoint is not None:
        from methods.checkpoint import signals_of
        deferred: Any = signals_of(checkpoint)
    else:
        deferred = contextlib.nullcontext()
    with tqdm(total=n_init, initial=len(losses), desc=desc, disable=not progress, leave=False) as bar, deferred:
        def report(it: int, cost: float) -> None:
            bar.set_postfix(iter=it, cost=f"{cost:.6g}", refresh=False)

        if n_jobs is None or n_jobs == 1:
            runs: Iterable[SubspaceRun] = (
                run_subspace_kmeans(Xc, S_T, ks, noise, child, max_iter, eig_tol, reorth_every,
                                    callback=report if progress else None) for child in children)
        else:
            from joblib import Parallel, delayed

            runs = Parallel(n_jobs=n_jobs, return_as="generator")(
                delayed(run_subspace_kmeans)(Xc, S_T, ks, noise, child, max_iter, eig_tol, reorth_every)
                for child in children)
        try:
            for run in runs:
                losses.append(float(run.cost))
                if best is None or run.cost < best.cost:
                    best = run
                bar.update(1)
                if checkpoint is not None:
                    checkpoint.step(len(losses), state_of)
        except BaseException:
            # a start failed, or worker processes died of the terminal's Ctrl-C before the deferred
            # signal could act here: keep the finished starts (and then let that signal act)
            if checkpoint is not None:
                checkpoint.act_on_pending_signal(len(losses), state_of if best is not None else None)
                if best is not None and checkpoint.saved_at != len(losses):
                    checkpoint.save(len(losses), state_of())
            raise
    assert best is not None
    return best, losses


def prepare(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre validated float64 X (never modifying the caller's array); return (Xc, mean, S_T)."""
    mean = X.mean(0)
    Xc = X - mean
    return Xc, mean, total_scatter(Xc)


class BestOfStarts:
    """The fit driver shared by :class:`NrKmeans` and :class:`baselines.subkmeans.SubKmeans`.

    Both validate X, their own ``n_clusters`` (:meth:`_subspaces`) and the same
    hyperparameters (``n_init``, ``max_iter``, ``reorth_every``, ``eig_tol``,
    ``random_state``, ``progress``), run :func:`best_of_runs` on the centred data
    and keep the same attributes of the kept start, and check X the same way in
    ``predict``/``transform`` (:meth:`_centred`); only the rest of the result differs
    (SubKmeans is NrKmeans with ``n_clusters = [k, 1]``).  The subclasses
    keep their own signatures (defaults differ) and store the hyperparameters here.
    """

    def __init__(self, *, n_clusters: object, n_init: int, max_iter: int, eig_tol: float, reorth_every: int,
                 random_state: object, progress: bool, n_jobs: int | None = None) -> None:
        self.n_clusters = n_clusters
        self.n_init = n_init
        self.max_iter = max_iter
        self.eig_tol = eig_tol
        self.reorth_every = reorth_every
        self.random_state = random_state
        self.progress = progress
        self.n_jobs = n_jobs

    def _subspaces(self, n: int, d: int) -> tuple[list[int], bool]:
        """Validated cluster counts per subspace and whether the last is a noise space."""
        raise NotImplementedError

    def _fit_starts(self, X: np.ndarray, checkpoint: str | os.PathLike | None = None,
                    checkpoint_every: float | None = None) -> tuple[SubspaceRun, list[int], bool, np.ndarray]:
        """Validate, run the ``n_init`` starts and set the common attributes of the kept one.

        Sets ``mean_``, ``loss_``, ``all_losses_``, ``cost_history_``, ``n_iter_``,
        ``converged_``, ``n_reseeded_``, ``V_``, ``resumed_from_`` and
        ``resumed_elapsed_s_``; returns ``(run, ks, noise, S_T)``.  ``checkpoint``:
        see the subclasses' ``fit``.
        """
        A = check_X(X)
        self.n_features_in_ = A.shape[1]
        ks, noise = self._subspaces(*A.shape)
        n_init = check_positive_int(self.n_init, "n_init")
        max_iter = check_positive_int(self.max_iter, "max_iter")
        reorth = check_positive_int(self.reorth_every, "reorth_every")
        tol = check_eig_tol(self.eig_tol)
        n_jobs = self.n_jobs
        if n_jobs is not None and (isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer))
                                   or n_jobs == 0):
            raise ValueError(f"n_jobs must be None or a nonzero int (-1: every core); got {n_jobs!r}")
        ckpt = resume = None
        if checkpoint is not None:
            from methods.checkpoint import CHECKPOINT_EVERY_S, FitCheckpoint

            every = CHECKPOINT_EVERY_S if checkpoint_every is None else checkpoint_every
            ckpt = FitCheckpoint(checkpoint, self, A, None, every, unit="start")
            resume = ckpt.resume(n_init)
        rng = as_generator(self.random_state)
        Xc, mean, S_T = prepare(A)
        del A  # keep one n x d float64 copy (the centred data) during the iterations
        run, losses = best_of_runs(Xc, S_T, ks, noise, n_init, rng, max_iter, tol, reorth,
                                   self.progress, type(self).__name__, n_jobs=n_jobs, checkpoint=ckpt,
                                   resume=resume)
        if ckpt is not None:
            from methods.checkpoint import record_resume

            ckpt.discard()
            record_resume(self, resume, ckpt)
        else:
            self.resumed_from_, self.resumed_elapsed_s_ = 0, 0.0
        self.mean_ = mean
        self.loss_ = float(run.cost)
        self.all_losses_ = losses
        self.cost_history_ = list(run.cost_history)
        self.n_iter_ = run.n_iter
        self.converged_ = run.converged
        self.n_reseeded_ = run.n_reseeded
        self.V_ = run.V
        return run, ks, noise, S_T

    def _centred(self, X: np.ndarray) -> np.ndarray:
        """X (validated, with the fitted number of features) minus ``mean_``, for predict/transform."""
        check_is_fitted(self, "labels_")
        A = check_X(X)
        if A.shape[1] != self.V_.shape[0]:
            raise ValueError(f"X has {A.shape[1]} features; the model was fitted on {self.V_.shape[0]}")
        return A - self.mean_

    def _warn_unconverged(self, run: SubspaceRun) -> None:
        """ConvergenceWarning, attributed to the caller of ``fit``, when the kept start hit ``max_iter``."""
        if not run.converged:
            warnings.warn(f"{type(self).__name__}: the kept start did not converge in max_iter="
                          f"{self.max_iter} iterations", ConvergenceWarning, stacklevel=3)


# ---------------------------------------------------------------------------
# the estimator
# ---------------------------------------------------------------------------


class NrKmeans(BestOfStarts, ClusterMixin, BaseEstimator):
    """NrKmeans (Mautz et al., KDD 2018): several k-means clusterings in orthogonal subspaces.

    Parameters
    ----------
    n_clusters : list of int
        Clusters per subspace; a final 1 adds a noise space (k = 1, centre = global mean).
    n_init : int
        Independent starts; the one with the lowest cost J (§3.1) is kept.  Default 10
        (ClustPy: 1; BASELINES §3.6 advises >= 10).
    max_iter : int
        Iterations per start (ClustPy default 300); a start that hits it warns.
    eig_tol : float
        Relative eigenvalue tolerance of the rotation step (see the module docstring).
    reorth_every : int
        Re-orthonormalise V with a QR every this many iterations.
    random_state : int, Generator or None
    progress : bool
        A tqdm bar over the starts.
    n_jobs : int or None
        Worker processes for the starts (joblib: ``None`` or 1 serial, -1 every core).  The
        result does not depend on it: each start has its own child generator.

    Attributes
    ----------
    labels_ : (n, S) int array, one column per surviving subspace (a noise space's column is all 0).
    loss_ : float, the final cost J of the kept start.  ``all_losses_`` has every start's.
    cost_history_ : J after each iteration of the kept start (non-increasing).
    n_iter_, converged_ : iterations of the kept start and whether its labels stopped changing.
    V_ : (d, d) orthogonal matrix, columns grouped subspace by subspace.
    m_ : list of int, columns per surviving subspace; ``P_`` the column indices of each in ``V_``.
    cluster_centers_ : list of (k_j, d) arrays in the input coordinates.
    scatter_matrices_ : list of (d, d) within-cluster scatters S_j (S_T for the noise space).
    n_clusters_ : cluster counts of the surviving subspaces; ``subspace_indices_`` their positions in
        ``n_clusters``; ``lost_subspaces_`` the positions of subspaces that ended with m_j = 0.
    has_noise_space_ : bool; ``n_reseeded_`` empty clusters re-seeded in the kept start; ``mean_``.
    """

    def __init__(self, n_clusters: Sequence[int] = (3, 3), n_init: int = 10, max_iter: int = 300,
                 eig_tol: float = DEFAULT_EIG_TOL, reorth_every: int = 10, random_state: object = None,
                 progress: bool = True, n_jobs: int | None = None) -> None:
        super().__init__(n_clusters=n_clusters, n_init=n_init, max_iter=max_iter, eig_tol=eig_tol,
                         reorth_every=reorth_every, random_state=random_state, progress=progress, n_jobs=n_jobs)

    def _subspaces(self, n: int, d: int) -> tuple[list[int], bool]:
        ks = check_n_clusters_list(self.n_clusters, n, allow_noise_last=True)
        noise = ks[-1] == 1
        if noise and len(ks) == 1:
            raise ValueError("n_clusters must contain at least one clustering with k >= 2 besides the noise space")
        if len(ks) > d:
            raise ValueError(f"n_clusters has {len(ks)} subspaces but X has only d = {d} features")
        return ks, noise

    @unfitted_on_error
    def fit(self, X: np.ndarray, y: object = None, *, checkpoint: str | os.PathLike | None = None,
            checkpoint_every: float | None = None) -> NrKmeans:
        """Run ``n_init`` starts of NrKmeans on X (n x d) and keep the one of lowest cost.

        ``checkpoint``: a file for snapshots of the starts done so far (their costs and
        the best start; :mod:`methods.checkpoint`), written every ``checkpoint_every``
        seconds (default ``methods.checkpoint.CHECKPOINT_EVERY_S``) and, in the main
        thread, at Ctrl-C / SIGTERM (deferred to the end of the current start).  A
        later fit of the same estimator on the same X with the same file runs only the
        remaining starts and keeps the start an uninterrupted fit keeps; the file is
        deleted when the fit ends.  ``resumed_from_`` is the number of starts taken
        from the snapshot (0: none), ``resumed_elapsed_s_`` how long they had run.
        """
        run, ks, noise, S_T = self._fit_starts(X, checkpoint, checkpoint_every)
        keep = run.subspaces
        self.labels_ = run.labels[:, keep]
        self.m_ = list(run.m)
        bounds = np.cumsum([0] + self.m_)
        self.P_ = [np.arange(bounds[i], bounds[i + 1]) for i in range(len(keep))]
        self.cluster_centers_ = [run.centres[j] + self.mean_ for j in keep]
        self.scatter_matrices_ = [within_scatter(S_T, run.factors[j]) for j in keep]
        self.n_clusters_ = [ks[j] for j in keep]
        self.subspace_indices_ = list(keep)
        self.lost_subspaces_ = list(run.lost)
        self.has_noise_space_ = noise and (len(ks) - 1) in keep
        if run.lost:
            warnings.warn(f"{type(self).__name__}: subspace(s) {run.lost} of n_clusters={ks} ended with 0 "
                          "dimensions (lost subspaces) and were removed from labels_", RuntimeWarning,
                          stacklevel=2)
        self._warn_unconverged(run)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Nearest centre in each subspace, shape (n, S) (the noise space's column is all 0)."""
        Xc = self._centred(X)
        out = np.zeros((Xc.shape[0], len(self.P_)), dtype=np.int64)
        for s, (cols, k) in enumerate(zip(self.P_, self.n_clusters_)):
            if k == 1:
                continue
            Vj = self.V_[:, cols]
            out[:, s] = nearest_centre(Xc @ Vj, (self.cluster_centers_[s] - self.mean_) @ Vj)
        return out

    def transform_subspace(self, X: np.ndarray, subspace: int) -> np.ndarray:
        """Coordinates of X in one surviving subspace: (X - mean_) V_[:, P_[subspace]]."""
        check_is_fitted(self, "labels_")
        if isinstance(subspace, bool) or not isinstance(subspace, (int, np.integer)) \
                or not 0 <= subspace < len(self.P_):
            raise ValueError(f"subspace must be an int in [0, {len(self.P_)}); got {subspace!r}")
        return self._centred(X) @ self.V_[:, self.P_[subspace]]
