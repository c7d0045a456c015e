"""Two-step pipelines of ACe/DeC Table 1: cluster the pretrained embedding with a classical method.

- :class:`AEKMeans` ("AE+k-means"): k-means on ``enc(X)``;
- :class:`AESubKmeans` ("AE+SubKmeans"): SubKmeans (Mautz et al. 2017,
  :class:`baselines.subkmeans.SubKmeans`) on ``enc(X)``; its cluster-space
  dimensionality is ACe/DeC Table 3's "AE+SubKmeans" row (``n_cluster_dims_``).

Each class is named after the estimator it wraps, spelled as that estimator is:
scikit-learn's ``KMeans`` and this package's ``SubKmeans`` (Mautz et al.'s spelling).

The network is only used for encoding (eval mode, no gradient) and is never
modified; it is copied to the chosen device.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans
from sklearn.exceptions import NotFittedError

from baselines.fitted import unfitted_on_error
from baselines.initialisation import as_generator
from methods.autoencoders import Autoencoder
from methods.base import (
    check_autoencoder,
    check_fit_input,
    check_int,
    check_n_clusters,
    encode_all,
)
from methods.device import resolve_device


def _frozen_copy(autoencoder: Any, device: Any) -> Autoencoder:
    """An eval-mode copy of the pretrained network on the resolved device (the caller's is never moved)."""
    ae0 = check_autoencoder(autoencoder)
    return copy.deepcopy(ae0).to(resolve_device(device)).eval()


def _embed(ae: Autoencoder, X: Any) -> np.ndarray:
    return encode_all(ae, check_fit_input(X, ae), next(ae.parameters()).device)


class _EmbeddingPipeline(ClusterMixin, BaseEstimator):
    """What both pipelines share: their hyperparameters, the steps before clustering and ``predict``.

    A subclass implements ``fit`` with :meth:`_start` and names its fitted
    clusterer's attribute in ``_fitted`` (``predict`` uses that clusterer's).
    """

    _fitted = ""

    def __init__(self, n_clusters: int = 10, autoencoder: Autoencoder | None = None, *, n_init: int = 10,
                 max_iter: int = 300, device: str | None = None, random_state: int | None = None) -> None:
        self.n_clusters = n_clusters
        self.autoencoder = autoencoder
        self.n_init = n_init
        self.max_iter = max_iter
        self.device = device
        self.random_state = random_state

    def _start(self, X: Any) -> tuple[np.ndarray, int, int, int, int]:
        """Check ``n_init`` and ``max_iter``, embed X, check ``n_clusters`` against n and draw the
        clusterer's seed from ``random_state``; returns ``(Z, n_clusters, n_init, max_iter, seed)``."""
        n_init = check_int(self.n_init, "n_init", 1)
        max_iter = check_int(self.max_iter, "max_iter", 1)
        self.autoencoder_ = _frozen_copy(self.autoencoder, self.device)
        Z = _embed(self.autoencoder_, X)
        k = check_n_clusters(self.n_clusters, Z.shape[0])
        seed = int(as_generator(self.random_state).integers(2**31 - 1))
        return Z, k, n_init, max_iter, seed

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Labels of ``enc(X)`` from the fitted clusterer (nearest centre in its space).

        Uses the network copied at ``fit`` (``autoencoder_``), so ``set_params`` after
        ``fit`` cannot change what a fitted pipeline predicts.
        """
        if not hasattr(self, self._fitted):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit(X) first")
        return np.asarray(getattr(self, self._fitted).predict(_embed(self.autoencoder_, X)), dtype=np.int64)


class AEKMeans(_EmbeddingPipeline):
    """k-means on the pretrained embedding (ACe/DeC Table 1, "AE+k-means").

    Attributes: ``labels_``, ``cluster_centers_`` (in the embedding), ``loss_`` (the
    k-means objective, sklearn's ``inertia_``), ``n_iter_``, ``kmeans_``, ``autoencoder_``
    (the frozen copy of the network used); ``predict`` gives the nearest centre of ``enc(X)``.
    """

    _fitted = "kmeans_"

    @unfitted_on_error
    def fit(self, X: np.ndarray, y: Any = None) -> AEKMeans:
        """Embed X with the pretrained encoder and run k-means (best of ``n_init`` by inertia)."""
        Z, k, n_init, max_iter, seed = self._start(X)
        km = KMeans(n_clusters=k, n_init=n_init, max_iter=max_iter, random_state=seed).fit(Z)
        self.labels_ = km.labels_.astype(np.int64)
        self.cluster_centers_ = km.cluster_centers_
        self.loss_ = float(km.inertia_)
        self.n_iter_ = int(km.n_iter_)
        self.kmeans_ = km
        return self


class AESubKmeans(_EmbeddingPipeline):
    """SubKmeans on the pretrained embedding (ACe/DeC Tables 1 and 3, "AE+SubKmeans").

    Attributes: ``labels_``, ``m_`` = ``n_cluster_dims_`` (cluster-space dimensions),
    ``loss_`` (SubKmeans' cost J), ``n_iter_``, ``cluster_centers_`` (in the
    embedding), ``subkmeans_`` (the fitted :class:`baselines.subkmeans.SubKmeans`);
    ``predict`` gives the nearest centre in SubKmeans' cluster space of ``enc(X)``.
    """

    _fitted = "subkmeans_"

    def __init__(self, n_clusters: int = 10, autoencoder: Autoencoder | None = None, *, n_init: int = 10,
                 max_iter: int = 300, device: str | None = None, random_state: int | None = None,
                 progress: bool = True) -> None:
        super().__init__(n_clusters, autoencoder, n_init=n_init, max_iter=max_iter, device=device,
                         random_state=random_state)
        self.progress = progress

    @unfitted_on_error
    def fit(self, X: np.ndarray, y: Any = None) -> AESubKmeans:
        """Embed X with the pretrained encoder and run SubKmeans (best of ``n_init`` by its cost)."""
        from baselines.subkmeans import SubKmeans  # lazily: the classical baselines are a separate package

        Z, k, n_init, max_iter, seed = self._start(X)
        sk = SubKmeans(n_clusters=k, n_init=n_init, max_iter=max_iter, random_state=seed,
                       progress=self.progress).fit(Z)
        self.subkmeans_ = sk
        self.labels_ = np.asarray(sk.labels_, dtype=np.int64)
        self.m_ = int(sk.m_)
        self.n_cluster_dims_ = self.m_
        self.loss_ = float(sk.loss_)
        self.n_iter_ = int(sk.n_iter_)
        self.cluster_centers_ = sk.cluster_centers_
        return self
