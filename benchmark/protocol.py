"""The comparison protocol as tasks: which fits a resolved suite runs, with which seeds.

PROTOCOL.md "Evaluation protocol" and both papers: for each data set, N
autoencoders are pretrained once (seeds ``0..N-1``) and every method and
baseline uses the same ones; each method runs R times per autoencoder (run
seeds ``0..R-1``); the reports keep, per autoencoder, the run with the lowest
own loss (never the best NMI) and average over the autoencoders.

Seeds: the estimator's ``random_state`` is :func:`fit_seed` ``(ae_seed, run_seed)``,
so every (autoencoder, run) pair has its own stream and a rerun reproduces it.
Methods that use no autoencoder (k-means, SubKmeans on raw data) still use
``ae_seed`` as their repetition group, so their mean ± std is taken over the
same number of groups as the deep methods.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from benchmark.store import params_hash
from benchmark.suites import max_n_for

#: The only selection rule of both papers: best run by the method's own loss.
SELECTION = "min-loss"
#: Where Z_rot and other per-point artefacts are subsampled to (reports need no more).
ARTEFACT_POINTS = 2000


def fit_seed(ae_seed: int, run_seed: int) -> int:
    """``random_state`` of the fit for (autoencoder, run): distinct and stable for every pair."""
    return 1_000_003 * int(ae_seed) + int(run_seed)


def subset_seed(ae_seed: int) -> int:
    """Seed of the ``max_n`` subset: fixed per autoencoder, so every run of a group sees the same points."""
    return 7919 + int(ae_seed)


@dataclass(frozen=True)
class PretrainTask:
    """Pretrain (or load from the cache) autoencoder ``ae_seed`` of a data set."""

    dataset: dict[str, Any] = field(hash=False, compare=False)
    ae_seed: int = 0

    @property
    def key(self) -> tuple[str, int]:
        """(data-set id, seed)."""
        return (self.dataset["id"], self.ae_seed)


@dataclass(frozen=True)
class FitTask:
    """One fit: a method entry on a data set with an autoencoder seed and a run seed."""

    suite: str
    tier: str
    dataset: dict[str, Any] = field(hash=False, compare=False)
    method: dict[str, Any] = field(hash=False, compare=False)
    ae_seed: int = 0
    run_seed: int = 0
    uses_autoencoder: bool = False

    @property
    def params(self) -> dict[str, Any]:
        """The hyperparameters of this fit: the entry's params with its per-data-set overrides."""
        return {**self.method["params"], **self.method.get("dataset_params", {}).get(self.dataset["id"], {})}

    @property
    def config(self) -> dict[str, Any]:
        """Everything besides the seeds that determines this fit's result.

        The hyperparameters, the data (generator, its parameters, preprocessing, clusterings),
        the ``max_n`` subset and, for methods on an embedding, the autoencoder.  A suite file
        that changes any of them makes new fits instead of resuming into the old rows.
        """
        d = self.dataset
        return {"params": self.params,
                "data": {k: d.get(k) for k in ("generator", "params", "preprocessing", "clusterings")},
                "max_n": max_n_for(self.method, self.dataset["id"]),
                "autoencoder": d.get("autoencoder") if self.uses_autoencoder else None}

    @property
    def key(self) -> tuple:
        """The store's unique key: (suite, tier, dataset, method, params_hash, ae_seed, run_seed).

        ``params_hash`` hashes the whole :attr:`config`, not only the hyperparameters.
        """
        return (self.suite, self.tier, self.dataset["id"], self.method["method"],
                params_hash(self.config), int(self.ae_seed), int(self.run_seed))

    @property
    def pretrain_key(self) -> tuple[str, int] | None:
        """The (data-set id, seed) of the autoencoder this fit needs, or None."""
        return (self.dataset["id"], self.ae_seed) if self.uses_autoencoder else None

    def describe(self) -> str:
        """Short human-readable name, e.g. ``stickfigures/ENRC ae=0 run=1``."""
        return f"{self.dataset['id']}/{self.method['label']} ae={self.ae_seed} run={self.run_seed}"


def build_tasks(suite: Any) -> tuple[list[PretrainTask], list[FitTask]]:
    """All pretraining and fit tasks of a :class:`benchmark.suites.ResolvedSuite`, in a stable order.

    Fits are ordered by data set, then autoencoder seed, then method, then run,
    so a sequential run finishes whole autoencoder groups early.
    """
    from benchmark import method_registry

    pre: dict[tuple[str, int], PretrainTask] = {}
    fits: list[FitTask] = []
    for d in suite.datasets:
        methods = [m for m in suite.methods if d["id"] in m["datasets"]]
        for ae_seed in range(d["n_autoencoders"]):
            for m in methods:
                uses_ae = method_registry.get(m["method"]).uses_autoencoder
                if uses_ae and (d["id"], ae_seed) not in pre:
                    pre[(d["id"], ae_seed)] = PretrainTask(d, ae_seed)
                for r in range(m["runs_per_autoencoder"]):
                    fits.append(FitTask(suite.name, suite.tier, d, m, ae_seed, r, uses_ae))
    return list(pre.values()), fits
