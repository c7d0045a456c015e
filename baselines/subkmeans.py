"""SubKmeans: k-means in an optimal cluster subspace plus a noise space.

Mautz, Ye, Plant, Böhm, "Towards an Optimal Subspace for K-Means", KDD 2017
(BASELINES.md §2).  An orthogonal d x d matrix V is split into a cluster space
(the first m columns, V_c) and a noise space (the other d - m).  The cost is

    J = sum_c sum_{x in C_c} ||V_c^T (x - mu_c)||^2 + sum_i ||V_n^T (x_i - x̄)||^2
      = tr(V_c^T (S_W - S_T) V_c) + tr(S_T),                                (§2.1)

minimised by alternating (1) nearest-centre assignment in the cluster space,
(2) full-d means, (3) V <- eigenvectors of S_W - S_T in ascending order, m <- the
number of negative eigenvalues.

Because S_W - S_T = -S_B (the between-cluster scatter, rank <= k - 1), the cluster
space is the span of the weighted centroid differences and **m <= k - 1 always**
(BASELINES §2.4).  A *relative* tolerance decides "negative": lambda <
-eig_tol * tr(S_B) (tr(S_B) = the sum of |lambda| >= max|lambda|), so m does not
depend on the scale of the data (an absolute
-1e-7 counts 22 instead of 3 dimensions on data scaled by 255, §2.4).

This is exactly NrKmeans with ``n_clusters = [k, 1]`` (a cluster space and the
noise space, whose single pairwise rotation is the eigen-decomposition above), so
the iteration, the low-rank eigen-solver, empty-cluster re-seeding and the
``n_init`` restarts are shared with :mod:`baselines.nrkmeans`.  Initialisation as
ClustPy: Haar-random V, m_init = floor(d/2) (the odd column to a random side),
k-means++ centres in the full space; the start of lowest J is kept.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin

from baselines.fitted import unfitted_on_error
from baselines.nrkmeans import DEFAULT_EIG_TOL, BestOfStarts
from baselines.scatter import nearest_centre
from baselines.validation import check_n_clusters


class SubKmeans(BestOfStarts, TransformerMixin, ClusterMixin, BaseEstimator):
    """SubKmeans (Mautz et al., KDD 2017): k-means in a learned (<= k-1)-dimensional subspace.

    Parameters
    ----------
    n_clusters : int (>= 2), default 8 (ClustPy's default).
    n_init : int, default 1 (ClustPy); starts of lowest cost J are kept.
    max_iter : int, default 300.
    eig_tol : float, relative eigenvalue tolerance for m (see the module docstring).
    reorth_every : int, re-orthonormalise V with a QR every this many iterations.
    random_state : int, Generator or None.
    progress : bool, a tqdm bar over the starts.
    n_jobs : int or None, worker processes for the starts (joblib: None or 1 serial, -1 every core);
        the result does not depend on it.

    Attributes
    ----------
    labels_ : (n,) int.  loss_ : final J (§2.1) of the kept start; ``all_losses_`` every start's.
    m_ : int, cluster-space dimensionality (<= k - 1).  V_ : (d, d) orthogonal, cluster space first.
    cluster_centers_ : (k, d) in input coordinates.  cost_history_, n_iter_, converged_, n_reseeded_, mean_.
    """

    def __init__(self, n_clusters: int = 8, n_init: int = 1, max_iter: int = 300,
                 eig_tol: float = DEFAULT_EIG_TOL, reorth_every: int = 10, random_state: object = None,
                 progress: bool = True, n_jobs: int | None = None) -> None:
        super().__init__(n_clusters=n_clusters, n_init=n_init, max_iter=max_iter, eig_tol=eig_tol,
                         reorth_every=reorth_every, random_state=random_state, progress=progress, n_jobs=n_jobs)

    def _subspaces(self, n: int, d: int) -> tuple[list[int], bool]:
        k = check_n_clusters(self.n_clusters, n)
        if k < 2:
            raise ValueError(f"n_clusters = {k} must be >= 2")
        if d < 2:
            raise ValueError(f"X has d = {d} feature; SubKmeans needs d >= 2 (a cluster and a noise space)")
        return [k, 1], True

    @unfitted_on_error
    def fit(self, X: np.ndarray, y: object = None, *, checkpoint: str | os.PathLike | None = None,
            checkpoint_every: float | None = None) -> SubKmeans:
        """Run ``n_init`` SubKmeans starts on X (n x d) and keep the one of lowest cost.

        ``checkpoint``, ``checkpoint_every``: resumable starts, as in :meth:`baselines.NrKmeans.fit`.
        """
        run, _ks, _noise, _S_T = self._fit_starts(X, checkpoint, checkpoint_every)
        self.labels_ = run.labels[:, 0].copy()
        self.m_ = int(run.m[0]) if 0 in run.subspaces else 0
        self.cluster_centers_ = run.centres[0] + self.mean_
        if self.m_ == 0:
            warnings.warn("SubKmeans: the cluster space ended with 0 dimensions (all centres coincide); "
                          "labels_ are those of the last assignment", RuntimeWarning, stacklevel=2)
        self._warn_unconverged(run)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Coordinates of X in the cluster space: (X - mean_) V_[:, :m_]."""
        return self._centred(X) @ self.V_[:, : self.m_]

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Nearest centre in the cluster space, shape (n,)."""
        Y = self.transform(X)
        return nearest_centre(Y, (self.cluster_centers_ - self.mean_) @ self.V_[:, : self.m_])
