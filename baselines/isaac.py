"""ISAAC: Ye, Maurus, Hubig, Plant, "Generalized Independent Subspace Clustering", ICDM 2016.

ISAAC is parameter-free: it finds independent subspaces with an MDL-driven ISA and
then clusters each subspace, choosing k by MDL.  Implemented from docs/BASELINES.md §5
(the authors' MATLAB code and supplement, described there in our own words).

Stage A (subspaces)
    Attribute groups start as singletons.  Each round computes the merge gain
    CM(a_i, a_j) = L_KDE(a_i u a_j) - L_KDE(a_i) - L_KDE(a_j) for every pair of groups on
    the *original* attributes (as the official code does), stops when min CM > 0, and
    otherwise greedily merges the non-overlapping pairs with CM < 0 in ascending order.
    The group sizes give the dimension vector d, ISA(X, d) gives sources S, and the
    MDL cost (§5.1, item 5)

        L_I = sum_s [ -sum_i log2 f_s(s_i) + (d_s/2) log2 n ] + 1/2 log2(m^2)
              + sum_s (d_s/2) log2(m / d_s)

    is recorded; the lowest L_I over all rounds (including d = (1,...,1)) wins.
    f_s is the Silverman product-Gaussian KDE of :mod:`baselines.kde`.

Stage B (clusterings)
    In every subspace of the best configuration, EMh (:mod:`baselines.emh`) with
    ``n_init`` restarts for k = 1, 2, ..., ``max_clusters``; the cheapest restart per k by
    the coding cost; stop at the first k whose cost exceeds that of k - 1; keep the k of
    minimum cost.  A subspace whose best k is 1 is a noise view: it stays in ``labels_``
    (a constant column) and is listed in ``noise_views_``.

Deviations from the original (also listed, per fit, in ``deviations_``)
    - PCA reduction (``max_dims``, default ``MAX_DIMS_DEFAULT`` = 5): an input with more
      than ``max_dims`` dimensions is centred and projected onto its leading ``max_dims``
      principal components before stage A; the PCA scores are then stage A's "attributes".
      ``pca_components_`` (max_dims x m) and ``pca_variance_kept_`` record it, a
      RuntimeWarning announces it, and ``W_``/``V_`` map the centred *input* to the sources.
      ``max_dims=None`` runs the authors' algorithm on every dimension.
      Why: the KDE includes each point's own kernel (faithful, see below), and in many
      dimensions that term dominates, so the joint coding of a large attribute group looks
      cheap and stage A merges everything into one subspace.  The authors ran ISAAC on
      <= 5-d inputs only (their Stickfigures file is a 5-d PCA of the images).
      Measured on the 16-d planted embedding of tests/test_bench_msc_isaac.py (views of
      5, 3, 2 clusters in 4 dims each + 4 noise dims, rotated; n = 3000, data seed 0,
      random_state 0; NMI per view, best match):
          max_dims=None  subspaces [16]             NMI 0.00 / 0.58 / 0.52
          max_dims=12    [11, 1]                    NMI 0.00 / 1.00 / 1.00
          max_dims=10    [2, 2, 2, 2, 1, 1]         NMI 1.00 / 1.00 / 1.00
          max_dims=8     [2, 2, 2, 1, 1]            NMI 1.00 / 1.00 / 1.00
          max_dims=6     [2, 2, 1, 1]               NMI 1.00 / 1.00 / 1.00
          max_dims=5     [2, 2, 1]                  NMI 1.00 / 1.00 / 1.00 (also data seeds 1, 2)
      (1.00 means >= 0.998.)  max_dims=None at n = 12,000 / 60,000: again one 16-d subspace,
      NMI 0.13 / 0.76 / 0.37 and 0.00 / 0.76 / 0.56.  So the effect is not tied to 5 exactly: 5 to 10 dims all
      recover every view here, and it breaks down from about 12.  On this data the 5
      leading PCs span exactly the planted centres (variance 65 + 4 x 33 against 1 for
      each of the 11 other directions), which favours 5; data whose clusters need more
      than 5 directions should raise ``max_dims``.  At n = 600 (the unit test) max_dims=5
      gives 1.00 / 1.00 / 1.00 for data seeds 0 and 1 and 1.00 / 0.99 / 1.00 for seed 2,
      max_dims=None at most one view (0.01 / 1.00 / 0.00).  Reduction also makes the fit
      far cheaper (stage A on 5 attributes instead of 16, EMh in <= 5-d subspaces).
    - ISA solver: the ITE toolbox's KCCA-based ISA is replaced by sklearn FastICA followed
      by a greedy grouping of the ICA components under the size vector d: the groups are
      filled largest first, each seeded with the most dependent free pair and grown by the
      free component of highest summed dependence, where the dependence of two components
      is their KDE mutual information L(s_i) + L(s_j) - L(s_i, s_j) (ISA separation
      principle, Szabo et al. 2012).  FastICA runs once; only the grouping depends on d.
    - KDE: Ihler's dual-tree KDE is replaced by the exact sum (n <= ``kde_exact_max_n``),
      a binned FFT estimate (d <= 3) or, for d > 3 at large n, a reference-set estimate
      with an exact self term (see :mod:`baselines.kde`); the methods used are recorded.
    - The std of a cluster in the coding cost is floored at 1e-3 (sqrt of the EM ridge).

Differences from the authors' MATLAB code that docs/BASELINES.md does not record (found in an
audit; kept, because the implementation follows BASELINES.md's wording):
    - Merge round of stage A: a pair with CM < 0 is merged unless one of its groups was already
      merged this round (BASELINES.md §5.1).  ``isaac.m`` also skips a pair that shares a group
      with any better-ranked CM < 0 pair that was itself skipped, so it merges fewer pairs per
      round.  Measured with that rule (random_state 0, default max_dims) on make_planted(n=600)
      for data seeds 0-2 and two layouts ([5, 3, 2] clusters in 4 dims each + 4 noise dims;
      [3, 3] in 2 dims each + 2): three of the six fits end with other subspaces ([2, 1, 1, 1]
      instead of [2, 2, 1]), and on [5, 3, 2], seed 0 the NMI drops from 1.00 / 1.00 / 1.00 to
      0.79 / 1.00 / 1.00.
    - Coding cost: the per-dimension cluster std is the maximum-likelihood one (divide by n_c);
      MATLAB's ``std`` divides by n_c - 1 (about 0.004 bits per dimension for a 100-point
      cluster; one-point clusters, where MATLAB's ``mean``/``std`` of a single row run along the
      row, are not comparable).
    - EMh (:mod:`baselines.emh`): a component is dropped when its responsibility mass vanishes,
      ``EMh.m`` drops one that no point has as its argmax; ``EMh.m`` also redraws the k initial
      points until each has a point (only duplicated points can leave one empty here).

Known behaviour (faithful, not a deviation): the KDE includes each point's own kernel, and
in many dimensions that term dominates, so joint coding of a large group looks cheap.  On a
16-d planted embedding (n = 3000) with ``max_dims=None`` stage A keeps one 16-d subspace.

Threads (``n_threads``, default ``N_THREADS_DEFAULT`` = 1): the fit is tens of thousands of
small tensor operations, and on a shared 2-core machine an OpenMP barrier waits for a
descheduled thread at every one of them.  Measured with the benchmark harness on the
16-d planted embedding (default max_dims), load average 4.5-5.3 from other processes:
n = 3000 took 289 s wall / 286 s CPU with OMP_NUM_THREADS=2 against 11.4 s / 12.3 s with 1
thread; n = 12000 took 371 s / 367 s against 31.1 s single-threaded.  ``fit`` therefore sets
torch's intra-op threads and the BLAS/OpenMP pools (threadpoolctl) to ``n_threads`` and
restores them afterwards; ``n_threads=None`` leaves the process settings alone.

Speed: stage-A costs are cached per attribute group (a pair's merge gain is recomputed only
when one of its groups changed), per source group and for the component dependences; the
exact KDE uses the symmetric half of the kernel matrix; EMh runs its restarts as a batch of
single matrix products (:mod:`baselines.emh`).  Scaling at n = 3k, 12k, 60k is recorded in
tests/test_bench_msc_isaac.py.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.decomposition import FastICA
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from baselines.emh import emh_best
from baselines.fitted import unfitted_on_error
from baselines.initialisation import as_generator
from baselines.kde import kde_cost_bits
from baselines.validation import check_positive_int, check_real, check_X

#: Default ``max_dims``: inputs with more dimensions are reduced by PCA to this many before
#: ISA.  The authors ran ISAAC on <= 5-d inputs (their Stickfigures file is a 5-d PCA).
MAX_DIMS_DEFAULT = 5
#: Default ``n_threads``: torch/BLAS/OpenMP threads during ``fit``.  ISAAC makes tens of
#: thousands of small tensor operations (EMh iterations, KDE blocks); on a busy 2-core machine
#: every OpenMP barrier waits for a descheduled thread, and 2 threads were 11-25x slower
#: than 1 (see the module docstring).
N_THREADS_DEFAULT = 1


@contextmanager
def _thread_limit(n_threads: int | None) -> Iterator[None]:
    """Limit torch intra-op threads and the BLAS/OpenMP pools to n_threads (None: leave them)."""
    if n_threads is None:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        with threadpool_limits(limits=n_threads):
            yield
    finally:
        torch.set_num_threads(old)


class ISAAC(ClusterMixin, BaseEstimator):
    """Parameter-free independent-subspace clustering (Ye et al. 2016).

    Parameters
    ----------
    max_clusters : largest k tried per subspace (the paper's 10).
    n_init : EMh restarts per k (the paper's 10).
    max_iter : EMh iteration cap (500); ``tol`` its relative log-likelihood tolerance (1e-10).
    kde_exact_max_n : up to this n every KDE is the exact O(n^2) sum.
    kde_n_reference : reference-set size of the approximate KDE for d > 3 at larger n.
    max_dims : an input with more than ``max_dims`` dimensions is first projected onto its
        leading ``max_dims`` principal components (default ``MAX_DIMS_DEFAULT`` = 5; None
        keeps every dimension).  A deviation, recorded in ``deviations_`` and warned about;
        see the module docstring for why and for its measured effect.
    ica_max_iter : FastICA iteration cap.
    n_threads : torch intra-op and BLAS/OpenMP threads used during ``fit`` (default
        ``N_THREADS_DEFAULT`` = 1; restored afterwards); None leaves the process settings.
    random_state : seed for FastICA, the KDE reference sets and the EMh initialisations.
    progress : show tqdm progress bars.

    Fitted attributes
    -----------------
    labels_ (n, S), n_clusters_, noise_views_, cluster_centers_ (in source coordinates),
    subspaces_ (source indices per subspace), m_ (their dimensions), W_ (demixing of the
    centred input, S = (X - mean_) @ W_.T), V_ (per-subspace projections of the centred
    input), pca_components_ (None when no PCA reduction) and pca_variance_kept_,
    isa_cost_ / isa_path_ (stage A), subspace_costs_ / cost_path_ (stage B), loss_, n_iter_
    (merge rounds), em_n_iter_, kde_methods_ and deviations_.
    """

    def __init__(self, max_clusters: int = 10, n_init: int = 10, max_iter: int = 500, tol: float = 1e-10,
                 kde_exact_max_n: int = 3000, kde_n_reference: int = 2000,
                 max_dims: int | None = MAX_DIMS_DEFAULT, ica_max_iter: int = 1000,
                 n_threads: int | None = N_THREADS_DEFAULT, random_state: int | None = None,
                 progress: bool = True) -> None:
        self.max_clusters = max_clusters
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.kde_exact_max_n = kde_exact_max_n
        self.kde_n_reference = kde_n_reference
        self.max_dims = max_dims
        self.ica_max_iter = ica_max_iter
        self.n_threads = n_threads
        self.random_state = random_state
        self.progress = progress

    # ------------------------------------------------------------------ checks
    def _check_params(self, n: int) -> None:
        for name in ("max_clusters", "n_init", "max_iter", "kde_exact_max_n", "kde_n_reference", "ica_max_iter"):
            check_positive_int(getattr(self, name), name)
        if self.max_clusters > n:
            raise ValueError(f"max_clusters = {self.max_clusters} exceeds the number of samples n = {n}")
        check_real(self.tol, "tol", 0.0, strict=False)
        if self.max_dims is not None and (isinstance(self.max_dims, bool)
                                          or not isinstance(self.max_dims, (int, np.integer)) or self.max_dims < 1):
            raise ValueError(f"max_dims must be None or a positive int; got {self.max_dims!r}")

    def _reduce(self, Xc: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, float]:
        """Leading ``max_dims`` principal components of the centred Xc: (scores, components, variance kept).

        Components (q x m) come from the eigen-decomposition of the m x m covariance in
        float64, each signed so that its largest-magnitude loading is positive (deterministic).
        Returns (Xc, None, 1.0) when no reduction applies.
        """
        m = Xc.shape[1]
        if self.max_dims is None or m <= self.max_dims:
            return Xc, None, 1.0
        evals, evecs = np.linalg.eigh(Xc.T @ Xc)
        order = np.argsort(evals)[::-1][: self.max_dims]
        P = evecs[:, order].T
        P *= np.sign(P[np.arange(len(P)), np.abs(P).argmax(1)])[:, None]
        kept = float(evals[order].sum() / max(evals.sum(), 1e-300))
        return Xc @ P.T, P, kept

    # ------------------------------------------------------------------ helpers
    def _kde_cost(self, Y: np.ndarray) -> float:
        cost, how = kde_cost_bits(Y, exact_max_n=self.kde_exact_max_n, n_reference=self.kde_n_reference,
                                  rng=self._rng)
        self._kde_methods.add(f"d={Y.shape[1]}:{how}")
        return cost

    def _isa_groups(self, sizes: list[int], dep: np.ndarray) -> list[list[int]]:
        """Group the m ICA components into subspaces of the given sizes by greedy dependence."""
        m = dep.shape[0]
        free = set(range(m))
        groups: list[list[int]] = []
        for s in sorted(sizes, reverse=True):
            if s == 1:
                continue
            pairs = [(dep[i, j], -i, -j) for i, j in itertools.combinations(sorted(free), 2)]
            _, i, j = max(pairs)
            g = [-i, -j]
            free -= set(g)
            while len(g) < s:
                c = max(sorted(free), key=lambda c: dep[c, g].sum())
                g.append(c)
                free.remove(c)
            groups.append(sorted(g))
        groups.extend([c] for c in sorted(free))
        return groups

    def _isa_cost(self, S: np.ndarray, groups: list[list[int]]) -> float:
        """L_I of §5.1 item 5 for the given grouping of the sources S."""
        n, m = S.shape
        cost = 0.5 * math.log2(m * m)
        for g in groups:
            key = tuple(g)
            if key not in self._source_cost:
                self._source_cost[key] = self._kde_cost(S[:, g])
            ds = len(g)
            cost += self._source_cost[key] + 0.5 * ds * math.log2(n) + 0.5 * ds * math.log2(m / ds)
        return cost

    # ------------------------------------------------------------------ fit
    @unfitted_on_error
    def fit(self, X: object, y: object = None) -> ISAAC:
        """Find independent subspaces (stage A) and one MDL-chosen clustering per subspace (stage B)."""
        if self.n_threads is not None and (isinstance(self.n_threads, bool)
                                           or not isinstance(self.n_threads, (int, np.integer))
                                           or self.n_threads < 1):
            raise ValueError(f"n_threads must be None or a positive int; got {self.n_threads!r}")
        with _thread_limit(self.n_threads):
            return self._fit(X)

    def _fit(self, X: object) -> ISAAC:
        X = check_X(X, min_samples=2)
        self.n_features_in_ = X.shape[1]
        n, m_in = X.shape
        self._check_params(n)
        self._rng = as_generator(self.random_state)
        self._kde_methods: set[str] = set()
        self._source_cost: dict[tuple[int, ...], float] = {}
        deviations = [
            ("ISA: sklearn FastICA + greedy grouping of components by KDE mutual information "
             "(replaces the ITE toolbox's KCCA ISA)"),
            "cluster std floored at 1e-3 in the coding cost",
        ]

        # ---- optional PCA reduction (max_dims); the attributes of stage A are then the scores
        self.mean_ = X.mean(0)
        X, P, kept = self._reduce(X - self.mean_)
        n, m = X.shape
        self.pca_components_ = P
        self.pca_variance_kept_ = kept
        if P is not None:
            msg = (f"input reduced by PCA from {m_in} to {m} dims (max_dims = {self.max_dims}; "
                   f"{100 * kept:.1f}% of the variance kept) before ISA")
            warnings.warn(f"ISAAC: {msg}; see deviations_", RuntimeWarning, stacklevel=3)
            deviations.append(msg)

        # ---- ISA sources (FastICA once; grouping depends on d)
        if m > 1 and n <= m:  # centred data of n points spans at most n - 1 directions: no m ICA components
            raise ValueError(f"X has {n} samples for {m} dimensions{' after the PCA reduction' if P is not None else ''}; "
                             f"ISAAC's ICA needs more samples than dimensions (lower max_dims, or add samples)")
        if m == 1:
            W = np.array([[1.0 / max(X.std(), 1e-12)]])
        else:
            constant = np.flatnonzero(np.ptp(X, axis=0) == 0).tolist()
            if constant:  # FastICA's whitening divides by their zero variance: NaN deep inside scipy
                where = "PCA component" if P is not None else "feature"
                raise ValueError(f"X has constant {where}(s) {constant}; ISAAC's ICA needs every {where} "
                                 "to vary (drop constant features first)")
            ica = FastICA(n_components=m, whiten="unit-variance", max_iter=self.ica_max_iter,
                          random_state=int(self._rng.integers(2**31 - 1)))
            with warnings.catch_warnings(record=True) as caught, np.errstate(divide="ignore", invalid="ignore"):
                warnings.simplefilter("always", ConvergenceWarning)
                try:
                    ica.fit(X)
                    whitened = bool(np.isfinite(ica.components_).all())
                except (ValueError, np.linalg.LinAlgError):  # NaN from the whitening, seen by scipy
                    whitened = False
            if not whitened:
                where = "PCA components" if P is not None else "features"
                raise ValueError(f"X is rank-deficient: ISAAC's ICA could not whiten its {m} {where} (their "
                                 "covariance is singular: linearly dependent or duplicated columns); drop them first")
            if any(issubclass(w.category, ConvergenceWarning) for w in caught):
                msg = f"FastICA did not converge in ica_max_iter = {self.ica_max_iter} iterations"
                warnings.warn(f"ISAAC: {msg}", RuntimeWarning, stacklevel=3)
                deviations.append(msg)
            W = ica.components_
        S = X @ W.T  # X is centred
        bar = tqdm(total=m, desc="ISAAC stage A", disable=not self.progress, leave=False)
        # dependence between ICA components: KDE mutual information in bits
        single = np.array([self._kde_cost(S[:, [i]]) for i in range(m)])
        dep = np.zeros((m, m))
        for i, j in itertools.combinations(range(m), 2):
            dep[i, j] = dep[j, i] = single[i] + single[j] - self._kde_cost(S[:, [i, j]])

        # ---- stage A: MDL-driven merging of attribute groups
        attr_cost: dict[tuple[int, ...], float] = {}

        def acost(g: tuple[int, ...]) -> float:
            if g not in attr_cost:
                attr_cost[g] = self._kde_cost(X[:, list(g)])
            return attr_cost[g]

        groups_a: list[tuple[int, ...]] = [(i,) for i in range(m)]
        best_groups = [[i] for i in range(m)]
        best_cost = self._isa_cost(S, best_groups)
        path = [([1] * m, best_cost)]
        rounds = 0
        while len(groups_a) > 1:
            cm = []
            for gi, gj in itertools.combinations(groups_a, 2):
                joint = tuple(sorted(gi + gj))
                cm.append((acost(joint) - acost(gi) - acost(gj), gi, gj))
            if min(c[0] for c in cm) > 0:
                break
            cm.sort(key=lambda t: (t[0], t[1], t[2]))
            merged: set[tuple[int, ...]] = set()
            new_groups: list[tuple[int, ...]] = []
            for c, gi, gj in cm:
                if c >= 0:
                    break
                if gi in merged or gj in merged:
                    continue
                merged.update((gi, gj))
                new_groups.append(tuple(sorted(gi + gj)))
            if not merged:  # no pair lowers the cost (e.g. a gain of exactly 0.0 or -0.0): stop, never loop
                break
            new_groups.extend(g for g in groups_a if g not in merged)
            groups_a = sorted(new_groups)
            sizes = sorted((len(g) for g in groups_a), reverse=True)
            groups_s = self._isa_groups(sizes, dep)
            cost = self._isa_cost(S, groups_s)
            path.append((sizes, cost))
            rounds += 1
            bar.update(m - len(groups_a) - bar.n)
            if cost < best_cost:
                best_cost, best_groups = cost, groups_s
        bar.close()

        # ---- stage B: clustering per subspace
        labels, ks, centers, sub_costs, cost_paths, em_iters = [], [], [], [], [], 0
        for g in tqdm(best_groups, desc="ISAAC stage B", disable=not self.progress, leave=False):
            Y = S[:, g]
            costs: dict[int, float] = {}
            results: dict[int, np.ndarray] = {}
            for k in range(1, self.max_clusters + 1):
                lab, c, it = emh_best(Y, k, self.n_init, self._rng, max_iter=self.max_iter, tol=self.tol)
                em_iters += it
                costs[k], results[k] = c, lab
                if k > 1 and c > costs[k - 1]:
                    break
            kbest = min(costs, key=lambda k: (costs[k], k))
            lab = results[kbest]
            labels.append(lab)
            ks.append(int(lab.max()) + 1)
            centers.append(np.stack([Y[lab == c].mean(0) for c in range(ks[-1])]))
            sub_costs.append(costs[kbest])
            cost_paths.append(costs)

        if P is not None:
            W = W @ P  # demixing of the centred *input*: S = (X_in - mean_) @ W_.T
        self.W_ = W
        self.subspaces_ = [np.asarray(g) for g in best_groups]
        self.V_ = [W[g].T for g in best_groups]
        self.m_ = [len(g) for g in best_groups]
        self.labels_ = np.stack(labels, 1)
        self.n_clusters_ = ks
        self.noise_views_ = [s for s, k in enumerate(ks) if k == 1]
        self.cluster_centers_ = centers
        self.subspace_costs_ = sub_costs
        self.cost_path_ = cost_paths
        self.isa_cost_ = best_cost
        self.isa_path_ = path
        model_cost = 0.5 * math.log2(m * m) + sum(0.5 * d * math.log2(n) + 0.5 * d * math.log2(m / d)
                                                  for d in self.m_)
        self.loss_ = float(sum(sub_costs) + model_cost)
        self.n_iter_ = rounds
        self.em_n_iter_ = em_iters
        approx = sorted(h for h in self._kde_methods if not h.endswith(":exact"))
        if approx:
            deviations.append("KDE evaluated approximately: " + ", ".join(approx))
            warnings.warn("ISAAC: KDE evaluated approximately (" + ", ".join(approx) + "); see deviations_",
                          RuntimeWarning, stacklevel=3)
        self.kde_methods_ = sorted(self._kde_methods)
        self.deviations_ = deviations
        if self.noise_views_ and self.progress:
            print(f"ISAAC: subspaces {self.noise_views_} have k = 1 (noise views; constant label columns)")
        del self._rng, self._kde_methods, self._source_cost
        return self

    def fit_predict(self, X: object, y: object = None) -> np.ndarray:  # type: ignore[override]
        """Fit and return ``labels_`` of shape (n, number of subspaces)."""
        return self.fit(X).labels_
