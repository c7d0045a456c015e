"""mSC: Niu, Dy, Jordan, "Multiple Non-Redundant Spectral Clustering Views", ICML 2010.

Objective (docs/BASELINES.md §4.1): for T views with projections W_v (d x q_v, W_v^T W_v = I),
spectral embeddings U_v (n x c_v, U_v^T U_v = I) and Gaussian kernels K_v on W_v^T x,

    max  sum_v tr(U_v^T D_v^{-1/2} K_v D_v^{-1/2} U_v) - lambda sum_{v != w} HSIC(W_v^T x, W_w^T x),

with D_v = diag(K_v 1) and HSIC = (n-1)^-2 tr(K_v H K_w H) (each unordered pair counted twice;
the same kernels in both terms).  Optimised by alternation (§4.2):

- U-step: U_v = top c_v eigenvectors of D_v^{-1/2} K_v D_v^{-1/2} (Ng-Jordan-Weiss);
- W-step: ``w_steps`` Riemannian gradient-ascent steps on the product of Stiefel manifolds
  with QR retraction and Armijo backtracking (:mod:`baselines.stiefel`), autograd for the
  Euclidean gradient; the paper's right-multiplied matrix exponential is not used (it is
  dimensionally ill-posed, §4.2);
  the kernels depend on W only, so the U-step's kernels (autograd on) give the first step's
  objective and gradient, and each accepted trial point's graph gives the next step's;
- stop when the relative change of the objective between outer iterations is < ``tol``;
- labels: k-means with c_v clusters on the row-normalised U_v (used only for this step).

Choices the paper leaves open (documented defaults):

- kernel width sigma_v: the median pairwise distance of the projected data X W_v at the
  PCA-block reference projection (below; on a 1000-point sample when n > 1000), fixed for the
  whole fit so that the objective is one function of W for all starts (re-estimating it every
  iteration lets the views drift to low-variance directions where a small sigma inflates the
  spectral term, and makes objectives of different starts incomparable).  A view whose
  reference projection is constant (its PCA block lies in the null space of rank-deficient
  data, e.g. fewer points than dimensions) has a median of rounding size (< ``FLAT_VIEW_TOL``
  x the unprojected data's median distance); it gets that unprojected median instead;
- lambda: scale-free.  ``lam`` is multiplied by sum_v c_v / sum_{v != w} sqrt(HSIC_vv HSIC_ww)
  evaluated at the PCA-block W (Cauchy-Schwarz bounds HSIC_vw by sqrt(HSIC_vv HSIC_ww)), so
  ``lam = 1`` means fully redundant views cost as much as the largest possible spectral
  term.  The effective value is ``lambda_``;
- q_v (``n_components``): default d // T per view, as the paper's feature partition into
  T groups;
- initial W: the first of ``n_init`` starts uses PCA blocks (consecutive principal axes per
  view), the others random orthonormal matrices (QR of Gaussians); the start with the
  highest final objective wins (``loss_`` = -objective).

Scalable mode (n > ``exact_max_n`` with ``mode="auto"``, or ``mode="nystrom"``), on the FULL data:
both terms use one landmark kernel (Chen & Cai 2011 style, dense).  With m landmark points z_l
(a random sample) and C_v(i, l) = exp(-||W_v^T (x_i - z_l)||^2 / sigma_v^2) (width sigma_v / sqrt(2),
so the two-step kernel below has width ~ sigma_v),

    K~_v = C_v Lambda_v^{-1} C_v^T,  Lambda_v = diag(C_v^T 1),  so  D_v = diag(C_v 1) exactly,

a non-negative PSD affinity of rank <= m.  With G_v = C_v Lambda_v^{-1/2}: the U-step is an SVD of
D_v^{-1/2} G_v (O(n m^2)), the spectral term is ||U_v^T D_v^{-1/2} G_v||_F^2 and
HSIC = (n-1)^-2 ||(H G_v)^T G_w||_F^2 (O(n m^2)): memory O(n m), no n x n matrix.
The mode is reported in ``approximation_`` (None when exact) and warned about.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence

import numpy as np
import torch
from scipy.linalg import eigh as dense_eigh
from scipy.sparse.linalg import ArpackNoConvergence, eigsh
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans
from tqdm.auto import tqdm

from baselines.fitted import unfitted_on_error
from baselines.initialisation import as_generator
from baselines.stiefel import armijo_ascent_step, qr_retract
from baselines.validation import check_n_clusters_list, check_positive_int, check_real, check_X

#: Points used to compute the median pairwise distance (kernel width) for large n.
SIGMA_SAMPLE = 1000
#: A view whose median projected distance is below this fraction of the unprojected data's is
#: constant up to rounding: its median (~1e-16) would make a degenerate kernel width.
FLAT_VIEW_TOL = 1e-10
#: Up to this n the exact U-step uses LAPACK's dense subset solver, above it Lanczos (eigsh).
#: Lanczos is faster (tests/test_bench_msc_isaac.py::test_bench_msc_eigensolvers, 2 cores, top 5,
#: median: 3.8 / 71 / 177 ms at n = 900 / 2,000 / 4,000 against 20 / 158 / 1,432 ms), but it does
#: not converge on repeated top eigenvalues (see top_eigenvectors).  The bound is the default
#: exact_max_n, so a default fit's exact mode always takes the robust solver, at 20 ms a call.
DENSE_EIGH_MAX_N = 1000


def top_eigenvectors(L: np.ndarray, k: int, v0: np.ndarray | None = None) -> np.ndarray:
    """The eigenvectors of the k largest eigenvalues of the symmetric matrix L, as columns (n, k).

    LAPACK's subset solver up to ``DENSE_EIGH_MAX_N`` rows, Lanczos (``eigsh``) above.  Both
    can fail when the top eigenvalues are (nearly) equal: the normalised affinity of a graph
    that falls apart into k or more components has eigenvalue 1 that many times, and mSC's
    spectral term drives the views towards such graphs.  Measured on AE embeddings of
    Stickfigures (900 points): Lanczos stops without converging, and the subset solver returns
    fewer than k vectors (1 of 3 with ``evr``, 0 with ``evx``) when six eigenvalues equal 1.
    Either failure is caught and the full dense eigendecomposition answers instead (any
    orthonormal basis of a repeated eigenvalue's space is as valid as another); leaving
    Lanczos is warned about, as it costs O(n^3).
    """
    n = L.shape[0]
    if n <= DENSE_EIGH_MAX_N:
        U = dense_eigh(L, subset_by_index=[n - k, n - 1])[1]
        if U.shape[1] == k:
            return U
    else:
        try:
            return eigsh(L, k=k, which="LA", v0=v0)[1]
        except ArpackNoConvergence:
            warnings.warn(f"MSC: Lanczos did not converge on the {n} x {n} affinity (its top eigenvalues are "
                          "nearly equal); using the full dense eigendecomposition for this U-step",
                          RuntimeWarning, stacklevel=2)
    return np.linalg.eigh(L)[1][:, -k:]


def neg_scaled_sq_dists(P: torch.Tensor, Z: torch.Tensor, c: float) -> torch.Tensor:
    """The (n, m) matrix -c ||p_i - z_j||^2 as one product of augmented matrices.

    [2c P, -c |p|^2, -1] [Z, 1, c |z|^2]^T: a single pass over the n x m result, forward and
    backward, where the expanded form with broadcast adds, scaling and a clamp costs several
    (the kernels' elementwise passes were half of a landmark-mode gradient step at n = 60,000).
    Entries that should be 0 (p = z) come out within round-off of it, positive or negative.
    """
    one_p = torch.ones(P.shape[0], 1, dtype=P.dtype)
    one_z = torch.ones(Z.shape[0], 1, dtype=Z.dtype)
    Pa = torch.cat([P * (2.0 * c), (P * P).sum(1, keepdim=True) * -c, -one_p], 1)
    Za = torch.cat([Z, one_z, (Z * Z).sum(1, keepdim=True) * c], 1)
    return Pa @ Za.T


class MSC(ClusterMixin, BaseEstimator):
    """Multiple non-redundant spectral clustering views (Niu, Dy, Jordan 2010).

    Parameters
    ----------
    n_clusters : clusters per view, e.g. [3, 3]; its length is the number of views T.
    n_components : dimensions q_v per view (int for all views, or a list); None = d // T.
    lam : scale-free HSIC weight (see module docstring); the effective weight is ``lambda_``.
    sigma : "median" (rule above) or a positive float / list of floats per view.
    mode : "auto" (exact up to ``exact_max_n`` points, landmark mode above), "exact" or "nystrom".
    exact_max_n : size bound of the exact mode under ``mode="auto"``.
    n_landmarks : landmarks m of the scalable mode.
    max_iter : outer (U-step + W-step) iterations; ``w_steps`` gradient steps per W-step.
    tol : relative objective change that stops the outer loop.
    n_init : number of starts (first: PCA blocks, others random orthonormal).
    random_state : seed of the random starts, landmarks, sigma samples and k-means.
    progress : show a tqdm progress bar.
    """

    def __init__(self, n_clusters: Sequence[int] = (2, 2), n_components: int | Sequence[int] | None = None,
                 lam: float = 1.0, sigma: str | float | Sequence[float] = "median", mode: str = "auto",
                 exact_max_n: int = 1000, n_landmarks: int = 250, max_iter: int = 20, w_steps: int = 5,
                 tol: float = 1e-4, n_init: int = 3, random_state: int | None = None,
                 progress: bool = True) -> None:
        self.n_clusters = n_clusters
        self.n_components = n_components
        self.lam = lam
        self.sigma = sigma
        self.mode = mode
        self.exact_max_n = exact_max_n
        self.n_landmarks = n_landmarks
        self.max_iter = max_iter
        self.w_steps = w_steps
        self.tol = tol
        self.n_init = n_init
        self.random_state = random_state
        self.progress = progress

    # ------------------------------------------------------------------ checks
    def _check_params(self, n: int, d: int) -> tuple[list[int], list[int]]:
        ks = check_n_clusters_list(self.n_clusters, n)
        if any(k < 2 for k in ks):
            raise ValueError(f"n_clusters entries must be >= 2; got {ks}")
        T = len(ks)
        if T < 2:
            raise ValueError(f"n_clusters must name at least two views; got {ks}")
        if self.n_components is None:
            qs = [max(1, d // T)] * T
        else:
            nc = self.n_components
            given = list(nc) if isinstance(nc, (Sequence, np.ndarray)) else [nc] * T
            if len(given) != T or not all(isinstance(q, numbers.Integral) and not isinstance(q, bool) and 1 <= q <= d
                                          for q in given):
                raise ValueError(f"n_components must be one int or {T} ints in [1, d = {d}]; "
                                 f"got {self.n_components!r}")
            qs = [int(q) for q in given]
        if self.mode not in ("auto", "exact", "nystrom"):
            raise ValueError(f"mode must be 'auto', 'exact' or 'nystrom'; got {self.mode!r}")
        for name in ("exact_max_n", "n_landmarks", "max_iter", "w_steps", "n_init"):
            check_positive_int(getattr(self, name), name)
        check_real(self.lam, "lam", 0.0, strict=False)
        check_real(self.tol, "tol", 0.0, strict=False)
        if isinstance(self.sigma, str):
            if self.sigma != "median":
                raise ValueError(f"sigma must be 'median' or positive floats; got {self.sigma!r}")
        else:
            sig = [self.sigma] * T if not isinstance(self.sigma, (Sequence, np.ndarray)) else list(self.sigma)
            if len(sig) != T or not all(isinstance(s, numbers.Real) and not isinstance(s, bool) and math.isfinite(s)
                                        and s > 0 for s in sig):
                raise ValueError(f"sigma must be 'median' or {T} positive floats; got {self.sigma!r}")
        return ks, qs

    # ------------------------------------------------------------------ kernels
    def _sigmas(self, Ws: list[torch.Tensor]) -> list[float]:
        if not isinstance(self.sigma, str):
            T = len(Ws)
            scalar = isinstance(self.sigma, numbers.Real)  # numpy scalars too, as _check_params accepts them
            return [float(s) for s in ([self.sigma] * T if scalar else self.sigma)]
        out = []
        Xs = self._X[self._sigma_idx].double()
        iu = torch.triu_indices(Xs.shape[0], Xs.shape[0], 1)

        def median_distance(P: torch.Tensor) -> float:
            return float(torch.median(torch.cdist(P, P)[iu[0], iu[1]]))

        full = median_distance(Xs)
        fallback = full if full > 0 else 1.0
        for W in Ws:
            med = median_distance(Xs @ W)
            out.append(med if med > FLAT_VIEW_TOL * fallback else fallback)
        return out

    def _kernel_parts(self, W: torch.Tensor, sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact: (K, degrees).  Landmark mode: (G = C Lambda^-1/2, degrees = C 1)."""
        P = self._X @ W.to(self._X.dtype)
        if self.approximation_ is None:
            K = torch.exp(neg_scaled_sq_dists(P, P, 0.5 / sigma ** 2))
            return K, K.sum(1)
        C = torch.exp(neg_scaled_sq_dists(P, P[self._landmarks], 1.0 / sigma ** 2))
        lam = C.sum(0)
        return C * torch.rsqrt(lam)[None, :], C.sum(1)

    def _parts(self, Ws: Sequence[torch.Tensor], sigmas: Sequence[float]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Kernel parts of every view; they depend on W only, so the U-step and the objective share them."""
        return [self._kernel_parts(W, s) for W, s in zip(Ws, sigmas)]

    def _terms(self, parts: Sequence[tuple[torch.Tensor, torch.Tensor]],
               Us: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(spectral term, sum_{v != w} HSIC) from the views' kernel parts and spectral embeddings."""
        n = self._X.shape[0]
        spec = torch.zeros((), dtype=torch.float64)
        for (A, deg), U in zip(parts, Us):
            Ut = U.to(A.dtype) / torch.sqrt(deg)[:, None]
            if self.approximation_ is None:
                spec = spec + (Ut * (A @ Ut)).sum()
            else:
                spec = spec + ((Ut.T @ A) ** 2).sum().double()
        hsic = torch.zeros((), dtype=torch.float64)
        for v in range(len(parts)):
            for w in range(v + 1, len(parts)):
                hsic = hsic + 2 * self._hsic_pair(parts[v], parts[w]) / (n - 1) ** 2
        return spec, hsic

    def _hsic_pair(self, a: tuple[torch.Tensor, torch.Tensor], b: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """tr(K_a H K_b H) without forming centred copies.

        Exact: sum(K_a * K_b) - (2/n) (K_a 1)^T (K_b 1) + (1^T K_a 1)(1^T K_b 1) / n^2.
        Landmark (K = G G^T): ||G_a^T G_b - (G_a^T 1)(G_b^T 1)^T / n||_F^2.
        """
        (A, da), (B, db) = a, b
        n = A.shape[0]
        if self.approximation_ is None:
            return ((A * B).sum() - 2.0 / n * (da * db).sum() + da.sum() * db.sum() / n ** 2).double()
        M = A.T @ B - torch.outer(A.sum(0), B.sum(0)) / n
        return (M * M).sum().double()

    def _self_hsic(self, Ws: Sequence[torch.Tensor], sigmas: Sequence[float]) -> list[float]:
        out = []
        n = self._X.shape[0]
        for W, s in zip(Ws, sigmas):
            p = self._kernel_parts(W, s)
            # tr(K H K H) = ||H K H||_F^2 >= 0; a constant kernel gives 0, which rounding can make negative
            out.append(max(float(self._hsic_pair(p, p)), 0.0) / (n - 1) ** 2)
        return out

    def _u_step(self, parts: list[tuple[torch.Tensor, torch.Tensor]], ks: list[int]) -> list[torch.Tensor]:
        """U_v = top c_v eigenvectors of D^-1/2 K D^-1/2 (exact) or left singular vectors of D^-1/2 G."""
        Us = []
        for (A, deg), k in zip(parts, ks):
            A, deg = A.detach().double(), deg.detach().double()
            s = 1.0 / torch.sqrt(deg)
            if self.approximation_ is None:
                L = (s[:, None] * A * s[None, :]).numpy()
                L = 0.5 * (L + L.T)
                U = top_eigenvectors(L, k, v0=np.sqrt(deg.numpy()))
                Us.append(torch.from_numpy(np.ascontiguousarray(U)))
            else:
                F = s[:, None] * A
                evals, evecs = torch.linalg.eigh(F.T @ F)
                top = evecs[:, -k:]
                U = F @ top / torch.sqrt(evals[-k:].clamp(min=1e-300))[None, :]
                U, _ = torch.linalg.qr(U)  # re-orthonormalise against round-off
                Us.append(U)
        return Us

    # ------------------------------------------------------------------ fit
    def _objective(self, Ws: Sequence[torch.Tensor], Us: Sequence[torch.Tensor], sigmas: Sequence[float]) -> torch.Tensor:
        return self._objective_of(self._parts(Ws, sigmas), Us)

    def _objective_of(self, parts: Sequence[tuple[torch.Tensor, torch.Tensor]],
                      Us: Sequence[torch.Tensor]) -> torch.Tensor:
        spec, hsic = self._terms(parts, Us)
        return spec - self.lambda_ * hsic

    def _pca_init(self, qs: list[int]) -> list[torch.Tensor]:
        Xc = self._X.double() - self._X.double().mean(0, keepdim=True)
        d = self._X.shape[1]
        # with fewer samples than features the thin SVD has only n rows: complete the basis to d
        _, _, Vh = torch.linalg.svd(Xc, full_matrices=Xc.shape[0] < d)
        Ws, start = [], 0
        for q in qs:
            cols = [(start + j) % d for j in range(q)]
            Ws.append(qr_retract(Vh[cols].T.contiguous()))
            start += q
        return Ws

    def _run(self, W0: list[torch.Tensor], ks: list[int], sigmas: list[float], bar: tqdm) -> dict:
        Ws = W0
        history: list[float] = []
        w_paths: list[list[float]] = []
        prev = None
        tau: float | None = None
        n_iter = 0
        for it in range(self.max_iter):
            n_iter = it + 1
            # the kernel parts depend on W only: computed once with autograd on, they give the
            # U-step (detached) and the first W-step's objective and gradient
            Ws = [W.detach().clone().requires_grad_(True) for W in Ws]
            parts = self._parts(Ws, sigmas)
            Us = self._u_step(parts, ks)
            value: torch.Tensor | None = self._objective_of(parts, Us)
            del parts
            path = []
            for _ in range(self.w_steps):
                f = lambda V: self._objective(V, Us, sigmas)  # noqa: B023 - called within this iteration
                Ws, f0, f1, tau, ok, value = armijo_ascent_step(f, Ws, None if tau is None else 2 * tau, value)
                if not path:
                    path.append(f0)
                if not ok:
                    break
                path.append(f1)
            del value
            Ws = [W.detach() for W in Ws]
            w_paths.append(path)
            cur = path[-1]
            history.append(cur)
            bar.update(1)
            if prev is not None and abs(cur - prev) <= self.tol * max(abs(prev), 1e-12):
                break
            prev = cur
        with torch.no_grad():
            parts = self._parts(Ws, sigmas)
            Us = self._u_step(parts, ks)
            spec, hsic = self._terms(parts, Us)
        obj = float(spec - self.lambda_ * hsic)
        return dict(W=Ws, U=Us, sigma=sigmas, obj=obj, spec=float(spec), hsic=float(hsic),
                    history=history, w_paths=w_paths, n_iter=n_iter)

    @unfitted_on_error
    def fit(self, X: object, y: object = None) -> MSC:
        """Alternate U- and W-steps from ``n_init`` starts; keep the start of highest objective."""
        Xa = check_X(X, min_samples=2)
        self.n_features_in_ = Xa.shape[1]
        n, d = Xa.shape
        ks, qs = self._check_params(n, d)
        rng = as_generator(self.random_state)
        exact = self.mode == "exact" or (self.mode == "auto" and n <= self.exact_max_n)
        # float64 in the exact mode; float32 kernels (float64 W, objective and sums) in the
        # landmark mode, where the O(n m^2) products dominate the run time
        self._X = torch.from_numpy(Xa if exact else Xa.astype(np.float32))
        self._sigma_idx = torch.from_numpy(np.sort(rng.choice(n, size=min(n, SIGMA_SAMPLE), replace=False)))
        if exact:
            self.approximation_ = None
        else:
            m = min(self.n_landmarks, n)
            self._landmarks = torch.from_numpy(np.sort(rng.choice(n, size=m, replace=False)))
            self.approximation_ = (
                f"nystrom: landmark kernel C Lambda^-1 C^T with m={m} random landmarks for the spectral "
                f"term and HSIC (n={n}" + (f" > exact_max_n={self.exact_max_n}" if self.mode == "auto" else "")
                + f"); kernel width from a {min(n, SIGMA_SAMPLE)}-point sample")
            warnings.warn(f"MSC: approximate mode: {self.approximation_}", RuntimeWarning, stacklevel=2)

        # scale-free lambda at the PCA-block reference projection
        W_ref = self._pca_init(qs)
        s_ref = self._sigmas(W_ref)
        with torch.no_grad():
            self_h = self._self_hsic(W_ref, s_ref)
        denom = sum(2 * math.sqrt(self_h[v] * self_h[w]) for v in range(len(ks)) for w in range(v + 1, len(ks)))
        self.lambda_ = float(self.lam * sum(ks) / denom) if denom > 0 else float(self.lam)

        best = None
        bar = tqdm(total=self.n_init * self.max_iter, desc="mSC", disable=not self.progress, leave=False)
        for i in range(self.n_init):
            if i == 0:
                W0 = W_ref
            else:
                W0 = [qr_retract(torch.from_numpy(rng.standard_normal((d, q)))) for q in qs]
            res = self._run(W0, ks, s_ref, bar)
            if best is None or res["obj"] > best["obj"]:
                best = res
        bar.close()
        assert best is not None

        labels = []
        for U, k in zip(best["U"], ks):
            Un = U.numpy()
            Un = Un / np.maximum(np.linalg.norm(Un, axis=1, keepdims=True), 1e-12)
            km = KMeans(n_clusters=k, n_init=10, random_state=int(rng.integers(2**31 - 1))).fit(Un)
            labels.append(km.labels_)
        self.labels_ = np.stack(labels, 1).astype(np.int64)
        self.W_ = [W.numpy().copy() for W in best["W"]]
        self.m_ = qs
        self.U_ = [U.numpy().copy() for U in best["U"]]
        self.sigma_ = best["sigma"]
        self.objective_ = best["obj"]
        self.spectral_term_ = best["spec"]
        self.hsic_term_ = best["hsic"]
        self.loss_ = -best["obj"]
        self.n_iter_ = best["n_iter"]
        self.objective_path_ = best["history"]
        self.w_step_paths_ = best["w_paths"]
        self.cluster_centers_ = [np.stack([Xa[lab == c].mean(0) @ W for c in range(k) if np.any(lab == c)])
                                 for lab, W, k in zip(labels, self.W_, ks)]
        del self._X, self._sigma_idx
        if not exact:
            del self._landmarks
        return self

    def fit_predict(self, X: object, y: object = None) -> np.ndarray:  # type: ignore[override]
        """Fit and return ``labels_`` of shape (n, T)."""
        return self.fit(X).labels_
