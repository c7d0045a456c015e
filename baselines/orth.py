"""Orth1 and Orth2: non-redundant multi-view clustering via orthogonalization.

Cui, Fern, Dy, "Non-redundant Multi-view Clustering via Orthogonalization",
ICDM 2007 (BASELINES.md §1).  Both find T clusterings one after another: cluster
the current data with k-means, then remove the found structure from the data and
cluster what is left.

Naming (BASELINES §1.1; the paper lists its two methods in this order, and nrbench
follows ClustPy's names):

- **Orth1 = Method 1, "orthogonal clustering"**: every point is projected onto the
  orthogonal complement of *its own* cluster centre,
  x_i <- x_i - (mu_c^T x_i / mu_c^T mu_c) mu_c  for x_i in cluster c
  (one rank-1 deflation per cluster, so the overall map is not one linear map);
- **Orth2 = Method 2, "clustering in orthogonal subspaces"**: all points are
  projected onto the orthogonal complement of the subspace spanned by the centres,
  X <- X (I - A^T A), A the orthonormal basis of span{mu_c}.

Steps (§1.3): centre the data once; for each view t: (a) refit PCA on the current
data keeping ``explained_variance`` (default 0.9) of the variance (1.0 disables
PCA); (b) k-means with k_t clusters in that space; (c) the cluster means
**in the current full space** (not the PCA-space centres); (d) the projection.
After either projection every cluster mean of that view is exactly zero, i.e.
the view's between-cluster structure is gone (§1.5; :meth:`transform_views`
exposes the data to check it).

Choices that the paper / BASELINES leave open, fixed here and documented:

- exactly T = len(n_clusters) views (as ClustPy), no stopping rule;
- k-means is scikit-learn's ``KMeans`` with ``n_init`` k-means++ restarts *per
  view* (default 10; ClustPy's sklearn>=1.6 default means 1), best inertia kept
  per view, so the views are chosen greedily;
- ``loss_`` = the sum over views of that view's k-means SSE in its own (PCA) space;
- PCA is computed from the eigen-decomposition of the d x d covariance (float64),
  keeping the fewest components whose cumulative variance ratio exceeds
  ``explained_variance`` (the scikit-learn rule);
- Orth1 guards mu_c ~ 0 (a cluster at the global mean of the centred data): a
  centre with ||mu_c||^2 <= ``CENTRE_EPS`` x the mean squared norm of the data is
  not used for a projection; this is recorded in ``skipped_centres_`` and warned;
- Orth2's basis A holds the right singular vectors of the k x d centre matrix with
  singular value > ``RANK_TOL`` x the largest, at most k - 1 of them.  Because the
  data are centred, sum_c n_c mu_c = 0, so span{mu_c} equals the span of the
  centred centres ("PCA of the centres", ClustPy), whose rank is <= k - 1; zero
  singular directions are not removed, so the rank drops by exactly rank(M);
- :meth:`predict` replays *every* view, the first included (ClustPy's
  ``transform_subspace`` skips the first projection, BASELINES §1.5).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans
from sklearn.utils.validation import check_is_fitted
from tqdm.auto import tqdm

from baselines.fitted import unfitted_on_error
from baselines.initialisation import as_generator
from baselines.scatter import cluster_means, nearest_centre
from baselines.validation import check_n_clusters_list, check_positive_int, check_real, check_X

CENTRE_EPS = 1e-12
"""Orth1: a centre with ||mu||^2 <= CENTRE_EPS * mean ||x||^2 is treated as zero (not projected out)."""

RANK_TOL = 1e-10
"""Orth2: singular values of the centre matrix below RANK_TOL * the largest are treated as zero."""


def pca_fit(Xt: np.ndarray, explained_variance: float) -> tuple[np.ndarray, np.ndarray]:
    """PCA keeping the fewest leading components whose cumulative variance ratio exceeds the target.

    Returns (mean (d,), components (r, d) with orthonormal rows).  Data with zero
    variance keep one component.
    """
    mean = Xt.mean(0)
    Xc = Xt - mean
    cov = Xc.T @ Xc
    lam, vec = np.linalg.eigh((cov + cov.T) / 2.0)
    lam, vec = np.maximum(lam[::-1], 0.0), vec[:, ::-1]
    total = lam.sum()
    if total <= 0.0:
        r = 1
    else:
        ratio = np.cumsum(lam) / total
        r = int(min(np.searchsorted(ratio, explained_variance, side="right") + 1, lam.size))
        if explained_variance >= 1.0:
            r = lam.size
    return mean, vec[:, :r].T.copy()


class _Orth(ClusterMixin, BaseEstimator):
    """Shared machinery of Orth1 and Orth2; subclasses define the projection of step (d)."""

    _name = "Orth"

    def __init__(self, n_clusters: Sequence[int] = (3, 3), explained_variance: float = 0.9, n_init: int = 10,
                 max_iter: int = 300, random_state: object = None, progress: bool = True) -> None:
        self.n_clusters = n_clusters
        self.explained_variance = explained_variance
        self.n_init = n_init
        self.max_iter = max_iter
        self.random_state = random_state
        self.progress = progress

    # -- the projection of step (d), per method -------------------------------------------
    def _projection(self, Xt: np.ndarray, means: np.ndarray, view: int) -> np.ndarray:
        raise NotImplementedError

    def _apply(self, Xt: np.ndarray, labels: np.ndarray, proj: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # -- fitting ----------------------------------------------------------------------------
    def _check_params(self, n: int) -> tuple[list[int], float, int, int]:
        ks = check_n_clusters_list(self.n_clusters, n)
        ev = check_real(self.explained_variance, "explained_variance", 0.0)
        if ev > 1.0:
            raise ValueError(f"explained_variance must be in (0, 1]; got {self.explained_variance!r}")
        return ks, ev, check_positive_int(self.n_init, "n_init"), check_positive_int(self.max_iter, "max_iter")

    @unfitted_on_error
    def fit(self, X: np.ndarray, y: object = None) -> _Orth:
        """Find len(n_clusters) clusterings of X (n x d), one view after another."""
        A = check_X(X)
        self.n_features_in_ = A.shape[1]
        ks, ev, n_init, max_iter = self._check_params(A.shape[0])
        rng = as_generator(self.random_state)
        self.mean_ = A.mean(0)
        Xt = A - self.mean_
        labels, self.pca_means_, self.pca_components_, self.kmeans_centers_ = [], [], [], []
        self.cluster_centers_, self.projections_, self.view_losses_, self.n_iter_per_view_ = [], [], [], []
        self.skipped_centres_: list[np.ndarray] = []
        for t, k in enumerate(tqdm(ks, desc=self._name, disable=not self.progress, leave=False)):
            if ev < 1.0:
                pm, comps = pca_fit(Xt, ev)
                Z = (Xt - pm) @ comps.T
            else:
                pm, comps = None, None
                Z = Xt
            km = KMeans(n_clusters=k, n_init=n_init, max_iter=max_iter,
                        random_state=int(rng.integers(2**31 - 1))).fit(Z)
            lab = km.labels_.astype(np.int64)
            means, counts = cluster_means(Xt, lab, k)
            if (counts == 0).any():  # k-means leaves a cluster empty only when X has fewer distinct points than k
                n_distinct = len(np.unique(Z, axis=0))
                after = " after the projections of the earlier views" if t else ""
                raise ValueError(f"n_clusters[{t}] = {k}: view {t} has only {n_distinct} distinct point(s){after}, "
                                 "fewer than its k clusters (an empty cluster has no mean to project on)")
            proj = self._projection(Xt, means, t)
            Xt = self._apply(Xt, lab, proj)
            labels.append(lab)
            self.pca_means_.append(pm)
            self.pca_components_.append(comps)
            self.kmeans_centers_.append(km.cluster_centers_.copy())
            self.cluster_centers_.append(means)
            self.projections_.append(proj)
            self.view_losses_.append(float(km.inertia_))
            self.n_iter_per_view_.append(int(km.n_iter_))
        self.labels_ = np.stack(labels, 1)
        self.loss_ = float(sum(self.view_losses_))
        self.n_iter_ = int(sum(self.n_iter_per_view_))
        self.n_components_ = [Xt.shape[1] if c is None else c.shape[0] for c in self.pca_components_]
        return self

    # -- replay -----------------------------------------------------------------------------
    def _view_labels(self, Xt: np.ndarray, t: int) -> np.ndarray:
        comps = self.pca_components_[t]
        Z = Xt if comps is None else (Xt - self.pca_means_[t]) @ comps.T
        return nearest_centre(Z, self.kmeans_centers_[t])

    def transform_views(self, X: np.ndarray, labels: np.ndarray | None = None) -> list[np.ndarray]:
        """The data entering each view and the final residual: T + 1 arrays (n x d), centred coordinates.

        Element t is X^(t) (element 0 is the centred input); element t + 1 is X^(t)
        after view t's projection.  Each view's assignment is ``labels[:, t]`` when
        given (e.g. ``labels_`` for the training data), else the nearest k-means
        centre in that view's PCA space.
        """
        check_is_fitted(self, "labels_")
        A = check_X(X)
        if A.shape[1] != self.mean_.shape[0]:
            raise ValueError(f"X has {A.shape[1]} features; the model was fitted on {self.mean_.shape[0]}")
        T = len(self.projections_)
        if labels is not None:
            labels = np.asarray(labels)
            if labels.shape != (A.shape[0], T):
                raise ValueError(f"labels must have shape {(A.shape[0], T)}; got {labels.shape}")
        Xt = A - self.mean_
        out = [Xt]
        for t in range(T):
            lab = self._view_labels(Xt, t) if labels is None else labels[:, t].astype(np.int64)
            Xt = self._apply(Xt, lab, self.projections_[t])
            out.append(Xt)
        return out

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Labels of new points for every view (n, T), replaying the views in order from the first."""
        check_is_fitted(self, "labels_")
        A = check_X(X)
        if A.shape[1] != self.mean_.shape[0]:
            raise ValueError(f"X has {A.shape[1]} features; the model was fitted on {self.mean_.shape[0]}")
        Xt = A - self.mean_
        out = np.empty((A.shape[0], len(self.projections_)), dtype=np.int64)
        for t in range(len(self.projections_)):
            out[:, t] = self._view_labels(Xt, t)
            Xt = self._apply(Xt, out[:, t], self.projections_[t])
        return out


class Orth1(_Orth):
    """Orth1 = Cui et al. (2007) Method 1, "orthogonal clustering" (ClustPy's naming, BASELINES §1.1).

    After each view's k-means, every point is projected orthogonally to its own
    cluster's full-space centre: x <- x - (u_c^T x) u_c with u_c = mu_c / ||mu_c||,
    a rank-1 update per point (O(n d), no d x d matrices).

    Parameters: ``n_clusters`` (list, one k per view, default (3, 3)),
    ``explained_variance`` (PCA refitted per view, 0.9; 1.0 disables), ``n_init``
    (k-means restarts per view, 10), ``max_iter`` (k-means), ``random_state``, ``progress``.

    Attributes: ``labels_`` (n, T); ``loss_`` (sum of the views' k-means SSE in their PCA
    spaces; ``view_losses_`` each); ``n_iter_`` (k-means iterations, summed; per view in
    ``n_iter_per_view_``); ``cluster_centers_`` (per view, k x d full-space means of the
    centred, already projected data X^(t)); ``projections_`` (per view, k x d unit centre
    directions, a zero row for a skipped centre); ``skipped_centres_``; ``pca_means_``,
    ``pca_components_``, ``n_components_``, ``kmeans_centers_`` (PCA space); ``mean_``.
    """

    _name = "Orth1"

    def _projection(self, Xt: np.ndarray, means: np.ndarray, view: int) -> np.ndarray:
        sq = np.einsum("ij,ij->i", means, means)
        scale = float(np.einsum("ij,ij->", Xt, Xt)) / Xt.shape[0]
        skip = sq <= CENTRE_EPS * scale
        U = np.zeros_like(means)
        U[~skip] = means[~skip] / np.sqrt(sq[~skip])[:, None]
        self.skipped_centres_.append(np.flatnonzero(skip))
        if skip.any():
            warnings.warn(f"Orth1 view {view}: cluster(s) {np.flatnonzero(skip).tolist()} have a centre at the "
                          "global mean (||mu||^2 ~ 0); their points are not projected", RuntimeWarning,
                          stacklevel=3)
        return U

    def _apply(self, Xt: np.ndarray, labels: np.ndarray, proj: np.ndarray) -> np.ndarray:
        U = proj[labels]
        return Xt - np.einsum("ij,ij->i", Xt, U)[:, None] * U


class Orth2(_Orth):
    """Orth2 = Cui et al. (2007) Method 2, "clustering in orthogonal subspaces" (ClustPy's naming, §1.1).

    After each view's k-means, all points are projected onto the orthogonal
    complement of the span of the full-space cluster centres: X <- X - (X A^T) A
    (O(n d k)).  The views are cumulative: view t's data lie in the complement of
    every earlier centre subspace.  The rank drops by up to k - 1 per view, so later
    views on low-rank data cluster noise (BASELINES §1.5); that is expected.

    Parameters and attributes as :class:`Orth1`, except ``projections_`` (per view,
    an r x d orthonormal basis A of the centre span, r <= k - 1) and
    ``skipped_centres_`` (always empty).
    """

    _name = "Orth2"

    def _projection(self, Xt: np.ndarray, means: np.ndarray, view: int) -> np.ndarray:
        self.skipped_centres_.append(np.arange(0))
        _u, s, vt = np.linalg.svd(means, full_matrices=False)
        if s.size == 0 or s[0] <= 0.0:
            return np.zeros((0, means.shape[1]))
        r = min(int(np.sum(s > RANK_TOL * s[0])), means.shape[0] - 1)
        return vt[:r].copy()

    def _apply(self, Xt: np.ndarray, labels: np.ndarray, proj: np.ndarray) -> np.ndarray:
        return Xt - (Xt @ proj.T) @ proj
