"""Test helpers for the harness tests: a tiny planted data set and fake methods, registered on demand.

``register()`` adds to the (module-level) catalogues, in this process only:

- data set ``planted``: :func:`generators.planted.make_planted` (two planted
  clusterings of 3 clusters, tiny and instant);
- method ``fail``: always raises, to test error rows;
- method ``lossy``: k-means whose reported ``loss_`` is *anti*-correlated with
  its quality, so best-by-loss and best-by-NMI pick different runs;
- method ``slow-kmeans``: k-means that sleeps ``delay`` seconds, to kill a run mid-way;
- method ``interrupt``: raises ``KeyboardInterrupt`` in fit, as Ctrl-C during a fit does;
- method ``ragged``: k-means with per-subspace projections ``V_`` of different widths, as
  ISAAC's when it finds subspaces of different dimensions;
- method ``counted-kmeans``: :class:`SlowKMeans` that also appends a line to the file ``log``
  at every fit, so tests count the fits really computed, across processes.

``write_suite(path, ...)`` writes a tiny suite file using them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans


class FailingEstimator(BaseEstimator, ClusterMixin):
    """Raises in fit (a broken method)."""

    def __init__(self, n_clusters: int = 2, random_state: int | None = None) -> None:
        self.n_clusters = n_clusters
        self.random_state = random_state

    def fit(self, X, y=None):
        raise RuntimeError("deliberate failure for the test")


class LossyKMeans(BaseEstimator, ClusterMixin):
    """k-means on the data whose quality depends on the seed; ``loss_`` rewards the *worse* run.

    Even seeds: labels of the planted clustering (k-means, good NMI), loss 1.0;
    odd seeds: random labels (bad NMI), loss 0.5 -- so min-loss must pick the bad one.
    """

    def __init__(self, n_clusters: int = 3, random_state: int | None = None) -> None:
        self.n_clusters = n_clusters
        self.random_state = random_state

    def fit(self, X, y=None):
        rng = np.random.default_rng(self.random_state)
        if int(self.random_state) % 2 == 0:
            self.labels_ = KMeans(self.n_clusters, n_init=5, random_state=0).fit(X).labels_
            self.loss_ = 1.0
        else:
            self.labels_ = rng.integers(0, self.n_clusters, len(X))
            self.loss_ = 0.5
        self.n_iter_ = 1
        return self


class SlowKMeans(BaseEstimator, ClusterMixin):
    """k-means that first sleeps ``delay`` seconds (so a run can be killed mid-way)."""

    def __init__(self, n_clusters: int = 3, random_state: int | None = None, delay: float = 0.3) -> None:
        self.n_clusters = n_clusters
        self.random_state = random_state
        self.delay = delay

    def fit(self, X, y=None):
        time.sleep(self.delay)
        km = KMeans(self.n_clusters, n_init=1, random_state=self.random_state).fit(X)
        self.labels_, self.loss_, self.n_iter_ = km.labels_, float(km.inertia_), km.n_iter_
        return self


class CountedKMeans(SlowKMeans):
    """:class:`SlowKMeans` that appends ``"<pid> <random_state>"`` to the file ``log`` when a fit starts."""

    def __init__(self, n_clusters: int = 3, random_state: int | None = None, delay: float = 0.0,
                 log: str = "") -> None:
        super().__init__(n_clusters, random_state, delay)
        self.log = log

    def fit(self, X, y=None):
        with open(self.log, "a") as fh:  # one short O_APPEND write per fit: lines never interleave
            fh.write(f"{os.getpid()} {self.random_state}\n")
        return super().fit(X, y)


class Interrupting(BaseEstimator, ClusterMixin):
    """Raises ``KeyboardInterrupt`` in fit (the user pressed Ctrl-C during this fit)."""

    def __init__(self, n_clusters: int = 2, random_state: int | None = None) -> None:
        self.n_clusters = n_clusters
        self.random_state = random_state

    def fit(self, X, y=None):
        raise KeyboardInterrupt


class RaggedProjections(BaseEstimator, ClusterMixin):
    """k-means that also sets ``V_`` = [first coordinate axis (d, 1), next two (d, 2)] (ISAAC's shape)."""

    def __init__(self, n_clusters: int = 3, random_state: int | None = None) -> None:
        self.n_clusters = n_clusters
        self.random_state = random_state

    def fit(self, X, y=None):
        km = KMeans(self.n_clusters, n_init=1, random_state=self.random_state).fit(X)
        self.labels_, self.loss_ = km.labels_, float(km.inertia_)
        eye = np.eye(X.shape[1])
        self.V_ = [eye[:, :1], eye[:, 1:3]]
        return self


def register() -> None:
    """Add ``planted`` to the data catalogue and the fake methods to the method registry (idempotent)."""
    from benchmark import method_registry as mr
    from generators import registry

    registry.CATALOG.setdefault("planted", registry.Entry(
        "planted", "generators.planted:make_planted", "planted test data", 600, (6,),
        (("view0", 3), ("view1", 3)), "generated"))
    registry.CATALOG.setdefault("missing-real", registry.Entry(
        "missing-real", "harness_fixtures:load_missing", "a real data set whose files are absent", 10, (2,),
        (("c", 2),), "real"))
    for spec in (
        mr.MethodSpec("fail", "Fail", "harness_fixtures:FailingEstimator", "raw", "single", "always fails"),
        mr.MethodSpec("lossy", "Lossy", "harness_fixtures:LossyKMeans", "raw", "single", "loss anti-NMI"),
        mr.MethodSpec("slow-kmeans", "SlowKM", "harness_fixtures:SlowKMeans", "raw", "single", "sleeps"),
        mr.MethodSpec("interrupt", "Ctrl-C", "harness_fixtures:Interrupting", "raw", "single", "Ctrl-C in fit"),
        mr.MethodSpec("ragged", "Ragged", "harness_fixtures:RaggedProjections", "raw", "single", "ragged V_"),
        mr.MethodSpec("counted-kmeans", "CountKM", "harness_fixtures:CountedKMeans", "raw", "single", "counts fits"),
    ):
        mr.METHODS.setdefault(spec.name, spec)


def load_missing(*, seed: int = 0):
    """A loader whose raw files are absent."""
    raise FileNotFoundError("no raw files for 'missing-real' under $NRBENCH_DATA/missing (test)")


#: ``datasets`` for :func:`write_suite`: the planted data set (300 points) and another of 200 points.
TWO_PLANTED = """
[datasets.planted]
params = { n = 300, n_clusters = [3, 3], seed = 1 }
[datasets.other]
generator = "planted"
params = { n = 200, n_clusters = [3, 3], seed = 2 }
"""


def write_suite(path: Path, methods: str, datasets: str | None = None, n_ae: int = 2, runs: int = 2,
                name: str | None = None) -> Path:
    """Write a tiny suite (planted data, n=300) with the given ``[methods.*]`` TOML text."""
    name = name or path.stem
    datasets = datasets if datasets is not None else """
[datasets.planted]
params = { n = 300, n_clusters = [3, 3], seed = 1 }
preprocessing = ["zscore"]
"""
    path.write_text(f"""
name = "{name}"
description = "tiny test suite"
[protocol]
n_autoencoders = {n_ae}
runs_per_autoencoder = {runs}
{datasets}
{methods}
[tiers.quick]
description = "tiny"
[tiers.paper]
""")
    return path


def stopped(fit: Callable[[], object], k: int, unit: str = "iteration") -> None:
    """Run ``fit`` so that its loop counting ``unit`` saves its snapshot after ``k`` and stops, as a deferred
    Ctrl-C does (``KeyboardInterrupt``); loops counting other units (ENRC's init starts) go on as usual."""
    import pytest

    from methods.checkpoint import TrainingCheckpoint

    real = TrainingCheckpoint.step

    def step(self, iteration, state_of):
        if self.unit == unit and iteration == k:
            self.save(iteration, state_of())
            raise KeyboardInterrupt
        return real(self, iteration, state_of)

    with pytest.MonkeyPatch.context() as m:
        m.setattr(TrainingCheckpoint, "step", step)
        with pytest.raises(KeyboardInterrupt):
            fit()

