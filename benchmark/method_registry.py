"""The method registry: every method and baseline a suite may name, the single source of truth.

Each :class:`MethodSpec` says

- which estimator class builds it (``"module:Class"``, imported lazily so that
  listing methods never imports torch);
- what it is fitted on (``input``):

  - ``"raw"``: the preprocessed data, flattened (k-means, SubKmeans on raw data);
  - ``"embedding"``: the pretrained autoencoder's embedding of the preprocessed
    data (the classical baselines in ENRC Table 1, run "on the autoencoder
    embeddings");
  - ``"autoencoder"``: the preprocessed data, with the pretrained network passed
    as ``autoencoder=`` (the deep methods: ENRC, ACe/DeC, DCN, DEC, IDEC and the
    AE+k-means / AE+SubKmeans pipelines).  The network is copied per fit,
    because deep methods fine-tune it;

- whether it finds one clustering (``"single"``: gets ``n_clusters = k`` of the
  data set's first evaluated ground truth) or several (``"multi"``: gets the list
  of k of every evaluated ground truth), as the papers give every method the
  true numbers of clusters;
- the arguments the runner supplies itself (``n_clusters``, ``autoencoder``,
  ``random_state``, ...), which a suite may therefore not set;
- the attribute holding the method's own loss (``loss_``; ``inertia_`` for
  scikit-learn's KMeans), by which the protocol picks the best run;
- for a method that keeps the best of several independent starts in worker processes
  (``n_jobs``), the parameter counting the starts (``starts_param``), from which the runner
  decides whether spreading them over the cores pays (:func:`benchmark.runner.parallel_starts`).

The valid hyperparameters of a method are its estimator's constructor
parameters (``get_params``) minus the supplied ones: the estimator itself is the
one source of truth, so a suite can never set a parameter that does not exist.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

INPUTS = ("raw", "embedding", "autoencoder")
CLUSTERINGS = ("single", "multi")

#: How hyperparameter names appear in result labels, e.g. "DCN λ=0.1".
PARAM_SYMBOLS: dict[str, str] = {"lambda_": "λ", "lr": "lr", "alpha": "α"}

#: Constructor parameters the runner sets on every fit (display options), so a suite may not set them.
RUNNER_SET = ("progress",)


@dataclass(frozen=True)
class MethodSpec:
    """How the runner builds, fits and reads one method."""

    name: str
    display: str
    factory: str  # "module:Class"
    input: str  # one of INPUTS
    clusterings: str  # one of CLUSTERINGS
    description: str
    supplied: tuple[str, ...] = ("n_clusters", "random_state")
    fixed: Mapping[str, Any] = field(default_factory=dict)  # set by the registry, not by suites
    loss_attr: str = "loss_"
    cluster_dims_attr: str | None = None  # attribute with the number of cluster-space dims (ACe/DeC Table 3)
    starts_param: str | None = None  # parameter counting the independent starts that ``n_jobs`` runs in parallel

    def load(self) -> type:
        """Import and return the estimator class; a missing module says which method needs it."""
        module, cls = self.factory.split(":")
        try:
            return getattr(importlib.import_module(module), cls)
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"method {self.name!r} needs {self.factory}, which is not available: {exc}") from exc

    @property
    def uses_autoencoder(self) -> bool:
        """Whether the method needs a pretrained autoencoder."""
        return self.input in ("embedding", "autoencoder")

    def valid_params(self) -> list[str]:
        """Hyperparameters a suite may set: the constructor's parameters minus supplied, fixed and runner-set ones."""
        cls = self.load()
        sig = inspect.signature(cls.__init__)
        names = [p for p in sig.parameters if p != "self"
                 and sig.parameters[p].kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)]
        return sorted(set(names) - set(self.supplied) - set(self.fixed) - set(RUNNER_SET))

    def check_params(self, params: Mapping[str, Any], where: str = "") -> None:
        """Raise ``ValueError`` listing the valid names when ``params`` has an unknown one."""
        valid = self.valid_params()
        unknown = sorted(set(params) - set(valid))
        loc = f"{where}: " if where else ""
        if unknown:
            raise ValueError(f"{loc}unknown parameter(s) {unknown} for method {self.name!r}; "
                             f"valid: {', '.join(valid) or '(none)'}")
        # values of the type the constructor's default has (a dry run catches max_iter = "x");
        # str defaults are skipped: they often stand for "auto"-or-a-number parameters
        sig = inspect.signature(self.load().__init__)
        for k, v in params.items():
            d = sig.parameters[k].default
            if isinstance(d, bool):
                ok = isinstance(v, bool)
            elif isinstance(d, int):
                ok = isinstance(v, int) and not isinstance(v, bool)
            elif isinstance(d, float):
                ok = isinstance(v, (int, float)) and not isinstance(v, bool)
            else:
                ok = True
            if not ok:
                raise ValueError(f"{loc}parameter {k!r} of method {self.name!r} must be a "
                                 f"{type(d).__name__} like its default {d!r}; got {v!r}")

    def label(self, params: Mapping[str, Any], shown: tuple[str, ...] = ()) -> str:
        """Display name with the ``shown`` hyperparameters, e.g. ``"DCN λ=0.1"``."""
        parts = [f"{PARAM_SYMBOLS.get(k, k)}={params[k]}" for k in shown if k in params]
        return " ".join([self.display, *parts])


_AE = ("n_clusters", "autoencoder", "random_state")

METHODS: dict[str, MethodSpec] = {
    s.name: s
    for s in [
        MethodSpec("enrc", "ENRC", "methods.enrc:ENRC", "autoencoder", "multi",
                   "Embedded non-redundant clustering (ENRC, AAAI 2020)", supplied=_AE,
                   starts_param="init_rounds"),
        MethodSpec("acedec", "ACe/DeC+DCN", "methods.acedec:ACeDeC", "autoencoder", "single",
                   "Autoencoder-based cluster-space/shared-space DCN (ACe/DeC, IJCAI 2021)",
                   supplied=(*_AE, "augmentation"), cluster_dims_attr="n_cluster_dims_"),
        MethodSpec("acedec-aug", "ACe/DeC+DCN +Aug", "methods.acedec:ACeDeC", "autoencoder", "single",
                   "ACe/DeC with augmentation (random rotation and shift, ACe/DeC §2.2)",
                   supplied=(*_AE, "augmentation"), cluster_dims_attr="n_cluster_dims_"),
        MethodSpec("dcn", "DCN", "methods.dcn:DCN", "autoencoder", "single",
                   "Deep clustering network (Yang et al. 2017)", supplied=(*_AE, "augmentation")),
        MethodSpec("dcn-aug", "DCN +Aug", "methods.dcn:DCN", "autoencoder", "single",
                   "DCN with augmentation (ACe/DeC Table 1, +Aug rows)", supplied=(*_AE, "augmentation")),
        MethodSpec("dec", "DEC", "methods.dec:DEC", "autoencoder", "single",
                   "Deep embedded clustering (Xie et al. 2016)", supplied=_AE),
        MethodSpec("idec", "IDEC", "methods.dec:IDEC", "autoencoder", "single",
                   "Improved DEC with reconstruction (Guo et al. 2017)", supplied=_AE),
        MethodSpec("ae-kmeans", "AE+k-means", "methods.pipelines:AEKMeans", "autoencoder", "single",
                   "k-means on the pretrained embedding", supplied=_AE),
        MethodSpec("ae-subkmeans", "AE+SubKmeans", "methods.pipelines:AESubKmeans", "autoencoder", "single",
                   "SubKmeans on the pretrained embedding", supplied=_AE, cluster_dims_attr="n_cluster_dims_"),
        MethodSpec("kmeans", "k-means", "sklearn.cluster:KMeans", "raw", "single",
                   "scikit-learn k-means on the preprocessed raw data", loss_attr="inertia_"),
        MethodSpec("subkmeans", "SubKmeans", "baselines.subkmeans:SubKmeans", "raw", "single",
                   "SubKmeans (Mautz et al. 2017) on the preprocessed raw data", cluster_dims_attr="m_",
                   starts_param="n_init"),
        MethodSpec("orth1", "Orth1", "baselines.orth:Orth1", "embedding", "multi",
                   "Orthogonal clustering (Cui et al. 2007, method 1) on the embedding"),
        MethodSpec("orth2", "Orth2", "baselines.orth:Orth2", "embedding", "multi",
                   "Clustering in orthogonal subspaces (Cui et al. 2007, method 2) on the embedding"),
        MethodSpec("nrkmeans", "NrKmeans", "baselines.nrkmeans:NrKmeans", "embedding", "multi",
                   "Non-redundant k-means (Mautz et al. 2018) on the embedding", starts_param="n_init"),
        MethodSpec("msc", "mSC", "baselines.msc:MSC", "embedding", "multi",
                   "Multiple non-redundant spectral clustering (Niu et al. 2010) on the embedding"),
        MethodSpec("isaac", "ISAAC", "baselines.isaac:ISAAC", "embedding", "multi",
                   "Generalized independent subspace clustering (Ye et al. 2016) on the embedding",
                   supplied=("random_state",)),
    ]
}


def available() -> list[str]:
    """Names of every registered method, sorted."""
    return sorted(METHODS)


def get(name: str) -> MethodSpec:
    """The spec of ``name``; an unknown name lists the valid ones."""
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; valid: {', '.join(available())}") from None
