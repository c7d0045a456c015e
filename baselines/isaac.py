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

Known behaviour (faithful, not a deviation): the KDE includes each point's own kernel, and
in many dimensions that term dominates, so joint coding of a large group looks cheap.  On a
16-d planted embedding (n = 3000) stage A keeps one 16-d subspace.  The authors ran ISAAC
on <= 5-d inputs (e.g. a 5-d PCA of Stickfigures); reduce high-dimensional inputs first.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.decomposition import FastICA
from sklearn.exceptions import ConvergenceWarning
from tqdm.auto import tqdm

from baselines.emh import emh_best
from baselines.kde import kde_cost_bits
from baselines.validation import check_X


class ISAAC(BaseEstimator, ClusterMixin):
    """Parameter-free independent-subspace clustering (Ye et al. 2016).

    Parameters
    ----------
    max_clusters : largest k tried per subspace (the paper's 10).
    n_init : EMh restarts per k (the paper's 10).
    max_iter : EMh iteration cap (500); ``tol`` its relative log-likelihood tolerance (1e-10).
    kde_exact_max_n : up to this n every KDE is the exact O(n^2) sum.
    kde_n_reference : reference-set size of the approximate KDE for d > 3 at larger n.
    ica_max_iter : FastICA iteration cap.
    random_state : seed for FastICA, the KDE reference sets and the EMh initialisations.
    progress : show tqdm progress bars.
    """

    def __init__(self, max_clusters: int = 10, n_init: int = 10, max_iter: int = 500, tol: float = 1e-10,
                 kde_exact_max_n: int = 3000, kde_n_reference: int = 2000, ica_max_iter: int = 1000,
                 random_state: int | None = None, progress: bool = True) -> None:
        self.max_clusters = max_clusters
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.kde_exact_max_n = kde_exact_max_n
        self.kde_n_reference = kde_n_reference
        self.ica_max_iter = ica_max_iter
        self.random_state = random_state
        self.progress = progress

    # ------------------------------------------------------------------ checks
    def _check_params(self, n: int) -> None:
        for name in ("max_clusters", "n_init", "max_iter", "kde_exact_max_n", "kde_n_reference", "ica_max_iter"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name} must be a positive int; got {v!r}")
        if self.max_clusters > n:
            raise ValueError(f"max_clusters = {self.max_clusters} exceeds the number of samples n = {n}")
        if not (isinstance(self.tol, (int, float)) and self.tol >= 0):
            raise ValueError(f"tol must be a non-negative number; got {self.tol!r}")

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
    def fit(self, X: object, y: object = None) -> "ISAAC":
        """Find independent subspaces (stage A) and one MDL-chosen clustering per subspace (stage B)."""
        X = check_X(X, min_samples=2)
        n, m = X.shape
        self._check_params(n)
        self._rng = np.random.default_rng(self.random_state)
        self._kde_methods: set[str] = set()
        self._source_cost: dict[tuple[int, ...], float] = {}
        deviations = [
            "ISA: sklearn FastICA + greedy grouping of components by KDE mutual information "
            "(replaces the ITE toolbox's KCCA ISA)",
            "cluster std floored at 1e-3 in the coding cost",
        ]

        # ---- ISA sources (FastICA once; grouping depends on d)
        self.mean_ = X.mean(0)
        if m == 1:
            W = np.array([[1.0 / max(X.std(), 1e-12)]])
        else:
            ica = FastICA(n_components=m, whiten="unit-variance", max_iter=self.ica_max_iter,
                          random_state=int(self._rng.integers(2**31 - 1)))
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConvergenceWarning)
                ica.fit(X)
            if any(issubclass(w.category, ConvergenceWarning) for w in caught):
                msg = f"FastICA did not converge in ica_max_iter = {self.ica_max_iter} iterations"
                warnings.warn(f"ISAAC: {msg}", RuntimeWarning, stacklevel=2)
                deviations.append(msg)
            W = ica.components_
        S = (X - self.mean_) @ W.T
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
                          RuntimeWarning, stacklevel=2)
        self.kde_methods_ = sorted(self._kde_methods)
        self.deviations_ = deviations
        if self.noise_views_ and self.progress:
            print(f"ISAAC: subspaces {self.noise_views_} have k = 1 (noise views; constant label columns)")
        del self._rng, self._kde_methods, self._source_cost
        return self

    def fit_predict(self, X: object, y: object = None) -> np.ndarray:  # type: ignore[override]
        """Fit and return ``labels_`` of shape (n, number of subspaces)."""
        return self.fit(X).labels_
