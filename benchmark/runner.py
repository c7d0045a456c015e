"""The runner: executes a resolved suite's task graph and writes one store row per fit.

Per data set (DESIGN.md "Data flows one way"):

1. **prepare**: build or load the data set (``generators.get``).  Missing real
   data (no raw files, no ``bpy`` for rendered sets) is not an error: every
   pending fit of that data set gets a ``skipped`` row with a one-line reason, so
   the table shows it, and the suite goes on;
2. **pretrain** autoencoder ``ae_seed`` for ``0..N-1`` (``methods.pretrain``,
   cached on disk; every method of the suite uses the same ones);
3. **fit** each method entry R times per autoencoder: preprocess (the suite's
   named steps), hand the method raw data, the embedding or the network (copied:
   deep methods fine-tune it), fit with ``random_state = fit_seed(ae, run)``,
   then evaluate with :func:`benchmark.metrics.evaluate` -- the only place where
   ground truth meets the predictions; methods never see labels.

Worker-side functions (:func:`prepare_dataset`, :func:`run_pretrain`,
:func:`run_fit`) never raise for a method's failure: they return a
:class:`Failed` or an ``error`` row, so one failing method does not stop the
suite.  They never touch the store: the client (:func:`run_suite`) writes each
result -- artefact first, atomically, then the row in its own transaction.

Concurrent runs of one suite on one store share its fits (:mod:`benchmark.claims`): the
client claims each fit just before its executor hands it out and skips fits another live
run holds.  When only those are left it waits for them, looking at the store every few
seconds, and takes over any whose run died, so that a finished ``nrbench run`` still means
"every fit of the suite is stored", whichever run computed it.
"""

from __future__ import annotations

import copy
import math
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.claims import ClaimResult, Owner, RunClaims
from benchmark.protocol import ARTEFACT_POINTS, FitTask, PretrainTask, build_tasks, fit_seed, subset_seed
from benchmark.store import Store, key_hash
from benchmark.suites import max_n_for

_MAX_ERROR = 2000


@dataclass
class Failed:
    """A failed (or skipped) upstream step; fits that depend on it record its message."""

    message: str
    skipped: bool = False


@dataclass
class FitResult:
    """What a fit task sends back to the client: the row and the artefact arrays."""

    key: tuple
    row: dict[str, Any]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class RunSummary:
    """Outcome of :func:`run_suite`."""

    suite: str
    tier: str
    total: int = 0
    already_done: int = 0
    by_other_run: int = 0  # stored by a concurrent run of the suite while this one ran (any status)
    left_to_other_run: int = 0  # with wait=False: fits another live run was computing when this one ended
    ok: int = 0
    errors: int = 0
    skipped: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (task, message)
    other_failures: list[tuple[str, str]] = field(default_factory=list)  # error rows of concurrent runs
    skip_reasons: dict[str, str] = field(default_factory=dict)  # dataset id -> reason
    wall_s: float = 0.0
    store_s: float = 0.0


def _describe_exc(exc: BaseException) -> str:
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" (at {os.path.basename(tb[-1].filename)}:{tb[-1].lineno} in {tb[-1].name})" if tb else ""
    return f"{type(exc).__name__}: {exc}{where}"[:_MAX_ERROR]


# --------------------------------------------------------------------------- data
_DATA_CACHE: dict[tuple, Any] = {}


def _data_key(d: dict[str, Any]) -> tuple:
    import json

    return (d["generator"], json.dumps(d["params"], sort_keys=True))


def load_dataset(d: dict[str, Any]) -> Any:
    """The ``generators.Dataset`` of a resolved data-set entry (kept in a small per-process cache)."""
    import generators

    key = _data_key(d)
    if key not in _DATA_CACHE:
        if len(_DATA_CACHE) >= 2:
            _DATA_CACHE.pop(next(iter(_DATA_CACHE)))
        _DATA_CACHE[key] = generators.get(d["generator"], progress=False, **d["params"])
    return _DATA_CACHE[key]


def _unavailable_reason(exc: BaseException) -> str | None:
    """A one-line reason when ``exc`` means 'the data is not here' (skip), else None (error)."""
    if isinstance(exc, FileNotFoundError):
        return f"data not found: {exc}"
    if isinstance(exc, ModuleNotFoundError) and exc.name and not exc.name.split(".")[0] in (
            "generators", "benchmark", "methods", "baselines"):
        from generators.render.datasets import BpyMissingError

        if isinstance(exc, BpyMissingError):
            return str(exc)
        return f"needs the optional package {exc.name!r}, which is not installed"
    name = type(exc).__name__
    if name in ("DataUnavailableError", "MissingDataError", "RawDataMissing"):
        return str(exc).splitlines()[0] if str(exc) else name
    return None


def prepare_dataset(d: dict[str, Any]) -> dict[str, Any] | Failed:
    """Build/load the data set; return ``{n, clusterings}`` or a :class:`Failed` (``skipped`` when data is missing)."""
    try:
        ds = load_dataset(d)
    except Exception as exc:  # noqa: BLE001 - classified below
        reason = _unavailable_reason(exc)
        if reason is not None:
            return Failed(reason.splitlines()[0], skipped=True)
        return Failed(f"data set {d['id']!r} could not be built: {_describe_exc(exc)}")
    return {"n": ds.n, "clusterings": list(ds.clusterings)}


def _preprocessed(d: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, list[str], Any]:
    from generators.preprocessing import apply

    ds = load_dataset(d)
    key = ("pre", *_data_key(d), tuple(d["preprocessing"]))
    if key not in _DATA_CACHE:
        if len(_DATA_CACHE) >= 4:
            _DATA_CACHE.pop(next(iter(_DATA_CACHE)))
        _DATA_CACHE[key] = apply(ds.X, d["preprocessing"])
    X = _DATA_CACHE[key]
    names = list(ds.clusterings)
    wanted = d["clusterings"] or names
    cols = [names.index(c) for c in wanted]
    return X, ds.labels[:, cols], wanted, ds


# --------------------------------------------------------------------------- pretraining
def _arch_config(ae_cfg: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in ae_cfg.items() if k not in ("budget", "augment")}


def run_pretrain(task: PretrainTask, progress: bool = False, device: str | None = None) -> Any:
    """Pretrain or load autoencoder ``task.ae_seed`` of the data set; a :class:`Failed` on error."""
    try:
        from methods.pretrain import pretrain  # not `methods.pretrain`: the submodule shadows the function

        ds = load_dataset(task.dataset)
        cfg = task.dataset["autoencoder"]
        return pretrain(ds, arch=_arch_config(cfg), seed=task.ae_seed, budget=cfg.get("budget", "quick"),
                                augment=cfg.get("augment"), preprocessing=task.dataset["preprocessing"],
                                device=device, cache=True, progress=progress)
    except Exception as exc:  # noqa: BLE001 - dependent fits record it
        reason = _unavailable_reason(exc)
        if reason is not None:
            return Failed(reason, skipped=True)
        return Failed(f"pretraining autoencoder {task.ae_seed} of {task.dataset['id']!r} failed: "
                      f"{_describe_exc(exc)}")


# --------------------------------------------------------------------------- memory
class _PeakRSS:
    """Peak resident-set increase during a block, sampled every 10 ms from /proc (Linux) in a thread.

    It covers torch's and numpy's native allocations, which tracemalloc does not
    see for torch.  Elsewhere it falls back to ``ru_maxrss`` (a process-lifetime peak).
    """

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096

    def _rss(self) -> int:
        try:
            with open("/proc/self/statm") as fh:
                return int(fh.read().split()[1]) * self._page
        except OSError:
            import resource

            return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024

    def _loop(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self._rss())

    def __enter__(self) -> _PeakRSS:
        self.base = self._rss()
        self.peak = self.base
        self._t = threading.Thread(target=self._loop, daemon=True)
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, self._rss())

    @property
    def mb(self) -> float:
        """Peak increase over the start, in MiB."""
        return max(self.peak - self.base, 0) / 2**20


# --------------------------------------------------------------------------- fitting
def _base_row(task: FitTask) -> dict[str, Any]:
    return {
        "suite": task.suite, "tier": task.tier, "dataset": task.dataset["id"], "method": task.method["method"],
        "label": task.method["label"], "params": task.params,
        "params_hash": task.key[4], "ae_seed": task.ae_seed, "run_seed": task.run_seed,
        "deviations": (list(task.dataset.get("deviations", [])) + list(task.method.get("deviations", []))
                       + list(task.method.get("dataset_deviations", {}).get(task.dataset["id"], []))),
    }


def failed_result(task: FitTask, failure: Failed) -> FitResult:
    """The row of a fit that could not run because an upstream step failed or was skipped."""
    row = _base_row(task)
    row["status"] = "skipped" if failure.skipped else "error"
    row["error"] = failure.message[:_MAX_ERROR]
    return FitResult(task.key, row)


def _n_cluster_dims(est: Any, attr: str | None) -> int | None:
    for a in ([attr] if attr else []) + ["n_cluster_dims_"]:
        if a and hasattr(est, a):
            v = getattr(est, a)
            if isinstance(v, (list, tuple, np.ndarray)):
                v = np.asarray(v).ravel()[0] if len(v) else None
            return None if v is None else int(v)
    return None


def _device_of(est: Any, ae: Any) -> str:
    dev = getattr(est, "device_", None)
    if dev is not None:
        return str(dev)
    if ae is not None:
        try:
            return str(next(ae.parameters()).device)
        except (StopIteration, AttributeError):
            pass
    return "cpu"


def _artefacts(est: Any, spec: Any, X: np.ndarray, labels_true: np.ndarray, labels_pred: np.ndarray,
               seed: int) -> dict[str, np.ndarray]:
    """Arrays the reports need so they never rerun a method (the H1/H2 contract)."""
    arrays: dict[str, np.ndarray] = {"labels": np.asarray(labels_pred)}
    hist = getattr(est, "loss_history_", None)
    if hist is not None:
        arrays["loss_history"] = np.asarray(hist, dtype=np.float64)
    for attr, key in (("betas_", "betas"), ("betas_init_", "betas_init"), ("V_", "V"),
                      ("clusterings_found_", "clusterings_found"), ("traversal_", "traversal"),
                      ("traversal_axes_", "traversal_axes")):
        if hasattr(est, attr) and getattr(est, attr) is not None:
            _put_array(arrays, key, _to_numpy(getattr(est, attr)))
    if spec.name == "enrc":
        n = X.shape[0]
        idx = np.sort(np.random.default_rng(seed).choice(n, size=min(n, ARTEFACT_POINTS), replace=False))
        if hasattr(est, "transform"):
            arrays["Z_rot"] = np.asarray(_to_numpy(est.transform(X[idx])), dtype=np.float32)
            arrays["Z_labels_true"] = labels_true[idx]
            arrays["Z_index"] = idx
        centers = None
        if hasattr(est, "decode_centers"):
            centers = est.decode_centers()
        elif hasattr(est, "decoded_centers_"):
            centers = est.decoded_centers_
        if centers is not None:
            for s, c in enumerate(centers):
                arrays[f"decoded_centers_{s}"] = np.asarray(_to_numpy(c), dtype=np.float32)
    if spec.name.startswith("acedec") and "traversal" not in arrays and hasattr(est, "transform"):
        trav, axes = acedec_traversal(est, X, seed)
        arrays["traversal"], arrays["traversal_axes"] = trav, axes
    if spec.name.startswith("acedec") and hasattr(est, "reconstruct_spaces"):
        # Fig. 3 scatter (same points as the traversal) and Fig. 1b reconstructions
        n = X.shape[0]
        idx = np.sort(np.random.default_rng(seed).choice(n, size=min(n, ARTEFACT_POINTS), replace=False))
        arrays["Z_rot"] = np.asarray(_to_numpy(est.transform(X[idx])), dtype=np.float32)
        arrays["Z_labels_true"] = labels_true[idx]
        arrays["Z_index"] = idx
        pick = idx[fig1b_picks(np.asarray(labels_pred).reshape(n, -1)[idx, 0])]
        x_cs, x_ss = est.reconstruct_spaces(X[pick])
        arrays["recon_input"] = np.asarray(X[pick], dtype=np.float32)
        arrays["recon_cluster"], arrays["recon_shared"] = x_cs.astype(np.float32), x_ss.astype(np.float32)
    if labels_pred.ndim == 2 and labels_pred.shape[1] > 1 and "clusterings_found" not in arrays:
        from benchmark.metrics import best_match_index

        arrays["clusterings_found"] = best_match_index(labels_true, labels_pred)
    return arrays


#: Number of inputs whose cluster-/shared-space reconstructions (ACe/DeC Fig. 1b) are stored per ACe/DeC run.
FIG1B_SAMPLES = 8


def fig1b_picks(labels: np.ndarray, m: int = FIG1B_SAMPLES) -> np.ndarray:
    """Positions of up to m points for Fig. 1b: round-robin over the predicted clusters (first points of each)."""
    labels = np.asarray(labels)
    per = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    out: list[int] = []
    for r in range(max((len(p) for p in per), default=0)):
        for p in per:
            if r < len(p) and len(out) < m:
                out.append(int(p[r]))
        if len(out) >= m:
            break
    return np.asarray(out, dtype=np.int64)


def acedec_traversal(est: Any, X: np.ndarray, seed: int, rows: int = 7, cols: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """ACe/DeC Fig. 3 latent traversal: decoded images on a grid in the rotated embedding.

    The y-axis is the cluster-space dimension with the highest beta_cs, the
    x-axis the first principal component of the shared space (the dimensions
    outside the cluster space, :mod:`methods.space_split`), both spanning the 5-95 % quantiles of the data (at most
    :data:`ARTEFACT_POINTS` points); all other coordinates stay at the data mean.
    Returns ``traversal`` ``(rows, cols, *input_shape)`` and ``traversal_axes``
    ``(2, max(rows, cols))``: row 0 the y values, row 1 the x values (NaN-padded).
    """
    import torch

    n = X.shape[0]
    idx = np.sort(np.random.default_rng(seed).choice(n, size=min(n, ARTEFACT_POINTS), replace=False))
    from methods.acedec import traversal_basis

    Zr = np.asarray(est.transform(X[idx]), dtype=np.float64)
    top, shared, mean, pc = traversal_basis(Zr, est.betas_)
    t = (Zr[:, shared] - mean[shared]) @ pc
    q_rows, q_cols = np.linspace(0.05, 0.95, rows), np.linspace(0.05, 0.95, cols)
    yv, xv = np.quantile(Zr[:, top], q_rows), np.quantile(t, q_cols)
    grid = np.repeat(mean[None, :], rows * cols, 0)
    for i in range(rows):
        for j in range(cols):
            g = grid[i * cols + j]
            g[shared] = mean[shared] + xv[j] * pc
            g[top] = yv[i]
    ae = est.autoencoder_
    V = np.asarray(est.V_, dtype=np.float64)
    dev = next(ae.parameters()).device
    with torch.no_grad():
        was = ae.training
        ae.eval()
        imgs = ae.decode(torch.as_tensor(grid @ V.T, dtype=torch.float32, device=dev)).cpu().numpy()
        ae.train(was)
    axes = np.full((2, max(rows, cols)), np.nan)
    axes[0, :rows], axes[1, :cols] = yv, xv
    return imgs.reshape(rows, cols, *imgs.shape[1:]).astype(np.float32), axes


def _put_array(arrays: dict[str, np.ndarray], key: str, value: Any) -> None:
    """Store ``value`` under ``key``; a list of arrays of different shapes (e.g. ISAAC's per-subspace
    projections ``V_``, one (d, m_j) matrix per subspace) as ``key_0``, ``key_1``, ... instead."""
    if isinstance(value, (list, tuple)) and len({np.shape(v) for v in value}) > 1:
        for i, v in enumerate(value):
            arrays[f"{key}_{i}"] = np.asarray(v)
    else:
        arrays[key] = np.asarray(value)


def _to_numpy(v: Any) -> Any:
    if hasattr(v, "detach"):
        return v.detach().cpu().numpy()
    if isinstance(v, (list, tuple)) and v and hasattr(v[0], "detach"):
        return [x.detach().cpu().numpy() for x in v]
    return v


def _build_estimator(spec: Any, params: dict[str, Any], n_clusters: list[int], ae: Any, seed: int,
                     task: FitTask) -> Any:
    import inspect

    cls = spec.load()
    accepted = set(inspect.signature(cls.__init__).parameters)
    kwargs = dict(spec.fixed)
    kwargs.update(params)
    supplied: dict[str, Any] = {
        "n_clusters": n_clusters if spec.clusterings == "multi" else n_clusters[0],
        "random_state": seed,
    }
    if spec.input == "autoencoder":
        supplied["autoencoder"] = ae
    if "augmentation" in spec.supplied and spec.name.endswith("-aug"):
        from methods.augment import Augmenter

        aug_cfg = dict(task.dataset["autoencoder"].get("augment") or {"rotation": 15.0, "shift": 0.1, "zoom": 0.0})
        shape = load_dataset(task.dataset).sample_shape
        supplied["augmentation"] = Augmenter(**aug_cfg, seed=seed, image_shape=shape)
    for k, v in supplied.items():
        if k in spec.supplied and k in accepted:
            kwargs[k] = v
    return cls(**kwargs)


def fit_checkpoint_path(key: tuple) -> Path:
    """The snapshot file of the fit with row key ``key`` (:mod:`methods.checkpoint`), under the cache home.

    Keyed by the row key (suite, tier, method, data set, parameters, seeds), so a
    rerun of the suite, or another run that takes the fit over after this one
    died, resumes a stopped fit (ENRC, ACe/DeC, DCN, DEC/IDEC, NrKmeans, SubKmeans) instead of starting it
    again.
    """
    from benchmark.paths import checkpoints_dir

    return checkpoints_dir() / f"fit-{key_hash(key)}.partial.pt"


def fit_has_snapshot(key: tuple) -> bool:
    """Whether the fit with row key ``key`` resumes from a snapshot: its own, or its initialisation's.

    ENRC's NrKmeans starts are snapshotted beside the fit's file
    (:func:`methods.checkpoint.init_checkpoint_path`) until the fit's first snapshot.
    """
    from methods.checkpoint import init_checkpoint_path

    path = fit_checkpoint_path(key)
    return path.exists() or init_checkpoint_path(path).exists()


def _fit_takes_checkpoint(est: Any) -> bool:
    import inspect

    return "checkpoint" in inspect.signature(est.fit).parameters


#: Samples x independent starts from which :func:`parallel_starts` runs a fit's starts in worker
#: processes.  Starting joblib's workers costs about 1.2 s, once per process (later fits reuse them).
#: NrKmeans' 10 starts on n x 16 on 2 idle cores, serial / 2 processes including that start-up, one BLAS
#: thread: n = 900 0.10 / 1.22 s, 6,000 0.84 / 1.67 s, 12,000 2.42 / 2.55 s, 60,000 21.2 / 11.7 s
#: (``OMP_NUM_THREADS=1 python benchmark/scripts/parallel_starts_cost.py --n 900 6000 12000 60000``), so
#: the break-even of a process's first fit is about 120,000 sample-starts.
PARALLEL_STARTS_MIN_WORK = 200_000


def parallel_starts(est: Any, spec: Any, n_samples: int, params: dict[str, Any]) -> int | None:
    """The ``n_jobs`` the runner gives a fit whose independent starts are worth spreading over the cores, or None.

    ENRC's NrKmeans initialisation (``init_rounds``, 100 in the paper's protocol) and the
    NrKmeans/SubKmeans baselines (``n_init``) keep the best of several independent starts; their
    ``n_jobs`` runs the starts in worker processes and keeps the same start and labels as a serial
    fit (``tests/test_nrkmeans.py``), so it changes the runtime, not the row, and is not part of the
    row key.  The runner sets it where the suite left ``n_jobs`` unset, the method has
    ``starts_param``, the work is at least :data:`PARALLEL_STARTS_MIN_WORK` sample-starts, and this is
    the main thread of a process that may start children (the local executor in-process or a
    ``--workers`` pool process, not a Dask worker's task thread): as many processes as this process
    has torch threads (its share of the cores), at most one per start.
    """
    import multiprocessing

    if spec.starts_param is None or "n_jobs" in params:
        return None
    got = est.get_params()
    if "n_jobs" not in got or got["n_jobs"] is not None:
        return None
    starts = int(got.get(spec.starts_param) or 1)
    if starts < 2 or n_samples * starts < PARALLEL_STARTS_MIN_WORK:
        return None
    if multiprocessing.current_process().daemon or threading.current_thread() is not threading.main_thread():
        return None
    import torch

    jobs = min(starts, torch.get_num_threads())
    return jobs if jobs > 1 else None


def run_fit(task: FitTask, ae: Any = None, progress: bool = False) -> FitResult:
    """Run one fit and evaluate it; every failure becomes an ``error`` row (never raises)."""
    from benchmark import method_registry
    from benchmark.metrics import evaluate

    if isinstance(ae, Failed):
        return failed_result(task, ae)
    row = _base_row(task)
    try:
        spec = method_registry.get(task.method["method"])
        X, labels_true, clusterings, _ds = _preprocessed(task.dataset)
        n_total = X.shape[0]
        max_n = max_n_for(task.method, task.dataset["id"])
        if max_n and max_n < n_total:
            idx = np.sort(np.random.default_rng(subset_seed(task.ae_seed)).choice(n_total, max_n, replace=False))
            X, labels_true = X[idx], labels_true[idx]
            row["deviations"].append(f"subset: {max_n} of {n_total}")
        n_clusters = [len(np.unique(labels_true[:, s])) for s in range(labels_true.shape[1])]
        seed = fit_seed(task.ae_seed, task.run_seed)
        model = None
        if spec.input == "raw":
            inputs = X.reshape(X.shape[0], -1)
        elif spec.input == "embedding":
            from methods.base import encode_all

            dev = next(ae.parameters()).device
            inputs = encode_all(ae, X, device=dev)
        else:
            model = copy.deepcopy(ae)
            inputs = X
        est = _build_estimator(spec, task.params, n_clusters, model, seed, task)
        jobs = parallel_starts(est, spec, inputs.shape[0], task.params)
        if jobs is not None:
            est.set_params(n_jobs=jobs)
        if progress and "progress" in est.get_params():
            est.set_params(progress=True)
        elif "progress" in est.get_params():
            est.set_params(progress=False)
        fit_kwargs: dict[str, Any] = {}
        if _fit_takes_checkpoint(est):
            fit_kwargs["checkpoint"] = fit_checkpoint_path(task.key)
        t0 = time.perf_counter()
        with _PeakRSS() as mem:
            est.fit(inputs, **fit_kwargs)
        # a fit resumed from its snapshot also ran before the stop: its runtime is the sum of both parts
        runtime = time.perf_counter() - t0 + float(getattr(est, "resumed_elapsed_s_", 0.0))
        labels_pred = np.asarray(est.labels_)
        loss = getattr(est, spec.loss_attr, None)
        metrics = evaluate(labels_true, labels_pred)
        metrics["n_cluster_dims"] = _n_cluster_dims(est, spec.cluster_dims_attr)
        approx = getattr(est, "approximation_", None)
        if approx:
            row["deviations"].append(f"approximation: {approx}" if not str(approx).startswith("approximation")
                                     else str(approx))
        for dev in getattr(est, "deviations_", None) or []:
            row["deviations"].append(str(dev))
        arrays = _artefacts(est, spec, inputs if spec.input != "raw" else X, labels_true, labels_pred, seed)
        row.update({
            "status": "ok", "error": None,
            "loss": None if loss is None or not math.isfinite(float(loss)) else float(loss),
            "metrics": metrics, "clusterings": clusterings, "runtime_s": runtime, "peak_mem_mb": mem.mb,
            "device": _device_of(est, model if model is not None else ae),
        })
        return FitResult(task.key, row, arrays)
    except Exception as exc:  # noqa: BLE001 - a failing method stores an error row, the suite goes on
        row["status"] = "error"
        row["error"] = _describe_exc(exc)
        return FitResult(task.key, row)


# --------------------------------------------------------------------------- client
def write_result(store: Store, result: FitResult, owner: Owner | None = None) -> bool:
    """Artefact first (atomic), then the row in its own transaction, which also drops ``owner``'s claim.

    Returns False when the store already held an ``ok`` row under the key (another run of the
    same suite on the same store finished this fit first, e.g. after taking over a claim that
    had looked stale); that row is kept.
    """
    row = dict(result.row)
    if store.is_done(result.key):
        if owner is not None:
            store.release_claims(owner, result.key)
        return False
    if result.arrays and row.get("status") == "ok":
        row["artefact"] = store.write_artefact(result.key, result.arrays)
    return store.put(row, owner=owner)


def _task_name(row: dict[str, Any]) -> str:
    return f"{row['dataset']}/{row['label']} ae={row['ae_seed']} run={row['run_seed']}"


def _holders(held: dict[tuple, Owner]) -> str:
    """``"pid 12 on host a (3 fits), pid 40 on host b (1 fit)"``."""
    counts: dict[Owner, int] = {}
    for o in held.values():
        counts[o] = counts.get(o, 0) + 1
    return ", ".join(f"{o.describe()} ({n} fit{'' if n == 1 else 's'})" for o, n in counts.items())


#: Seconds between two redraws of a suite's progress bar when stderr is not a terminal (a log file).
LOG_PROGRESS_INTERVAL_S = 30.0


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        return False


def run_suite(suite: Any, store: Store, executor: Any, progress: bool = True,
              log: Callable[[str], None] | None = None, whole: Any = None,
              lease_s: float | None = None, wait: bool = True) -> RunSummary:
    """Run every pending fit of ``suite`` on ``executor`` and write the results to ``store``.

    Fits whose ``ok`` row exists are skipped (resume); the rest run, pretraining
    only the autoencoders they need.  ``whole`` is the unfiltered suite when ``suite`` is a
    selection of it (``--only-*``): the store records the whole one, which the reports
    plan from.  Each fit is claimed in the store before it runs (``lease_s``: the claims'
    lease, default :func:`benchmark.claims.lease_seconds`); fits claimed by another live run
    are left to it and waited for; with ``wait=False`` they are left to it without waiting
    (counted in ``left_to_other_run``), so the run ends once nothing else is left to compute.
    ``progress``: the suite's bar, and each pretraining's and fit's own; when stderr is not a
    terminal (a SLURM or nohup log) only the suite's bar, redrawn at most every
    :data:`LOG_PROGRESS_INTERVAL_S` seconds, so the log gets a line of progress, not kilobytes
    of nested bars' cursor movements.  Returns the :class:`RunSummary`.
    """
    from tqdm.auto import tqdm

    log = log or (lambda msg: print(msg, file=sys.stderr))
    t_start = time.perf_counter()
    store_s0 = store.seconds_in_store
    store.register_suite(suite.name, suite.tier, (whole if whole is not None else suite).to_config())
    pretrains, fits = build_tasks(suite)
    done = store.done_keys(suite.name, suite.tier)
    pending = [f for f in fits if f.key not in done]
    summary = RunSummary(suite.name, suite.tier, total=len(fits), already_done=len(fits) - len(pending))
    if summary.already_done:
        log(f"{suite.name} [{suite.tier}]: {summary.already_done} of {len(fits)} fits already in the store, "
            f"{len(pending)} to run")
    terminal = _stderr_is_terminal()
    fit_progress = progress and terminal
    bar = tqdm(total=len(pending), desc=f"{suite.name} [{suite.tier}]", unit="fit", disable=not progress,
               dynamic_ncols=True, mininterval=0.1 if terminal else LOG_PROGRESS_INTERVAL_S)
    held: dict[tuple, Owner] = {}  # fits another live run holds: left to it, waited for

    def by_other_run(task: FitTask, res: ClaimResult) -> None:
        summary.by_other_run += 1
        if res.status == "error":
            summary.other_failures.append((task.describe(), res.error or ""))
        bar.update(1)

    def on_result(res: FitResult) -> None:
        written = write_result(store, res, claims.owner)
        st = res.row["status"]
        if not written:  # a concurrent run of this suite stored the fit first
            summary.by_other_run += 1
        elif st == "ok":
            summary.ok += 1
        elif st == "skipped":
            summary.skipped += 1
        else:
            summary.errors += 1
            summary.failures.append((_task_name(res.row), res.row.get("error") or ""))
        bar.update(1)
        bar.set_postfix(ok=summary.ok, failed=summary.errors, skipped=summary.skipped, refresh=False)

    def claim(task: FitTask) -> bool:
        res = claims.claim(task.key)
        if res.outcome == "held":
            held[task.key] = res.holder
            return False
        held.pop(task.key, None)
        if res.outcome == "done":
            by_other_run(task, res)
            return False
        return True

    failed_ds: dict[str, Failed] = {}  # data sets that could not be built: their fits get rows at once

    def run_fits(todo: list[FitTask]) -> None:
        for f in todo:
            if f.dataset["id"] in failed_ds and claim(f):
                on_result(failed_result(f, failed_ds[f.dataset["id"]]))
        rest = [f for f in todo if f.dataset["id"] not in failed_ds]
        if rest:
            needed_pre = {f.pretrain_key for f in rest if f.pretrain_key is not None}
            executor.run([p for p in pretrains if p.key in needed_pre], rest, on_result, progress=fit_progress,
                         claim=claim)

    with RunClaims(store, lease_s) as claims:
        if pending:
            needed_ds = {f.dataset["id"]: f.dataset for f in pending}
            infos = executor.map_prepare(list(needed_ds.values()))
            for did, info in zip(needed_ds, infos):
                if isinstance(info, Failed):
                    failed_ds[did] = info
                    if info.skipped:
                        summary.skip_reasons[did] = info.message
                        log(f"{suite.name} [{suite.tier}]: skipping data set {did!r}: {info.message}")
                    else:
                        log(f"{suite.name} [{suite.tier}]: data set {did!r} failed: {info.message}")
            run_fits(pending)
            if wait:
                _wait_for_other_runs(pending, held, claims, claim, run_fits, log, f"{suite.name} [{suite.tier}]")
            else:
                left = [f for f in pending if f.key in held]
                summary.left_to_other_run = len(left)
                if left:
                    log(f"{suite.name} [{suite.tier}]: not waiting (--no-wait) for {len(left)} "
                        f"fit{'' if len(left) == 1 else 's'} being computed by another run "
                        f"({_holders({f.key: held[f.key] for f in left})})")
    bar.close()
    summary.wall_s = time.perf_counter() - t_start
    summary.store_s = store.seconds_in_store - store_s0
    return summary


def _wait_for_other_runs(todo: list[FitTask], held: dict[tuple, Owner], claims: RunClaims,
                         claim: Callable[[FitTask], bool], run_fits: Callable[[list[FitTask]], None],
                         log: Callable[[str], None], name: str) -> None:
    """While fits of ``todo`` are held by other live runs: poll the store, run those that come free.

    A held fit leaves ``held`` when its run stores it (``claim`` counts it) or when its claim
    goes stale (the run died), and then this run claims and computes it.  Every change in the
    set of runs waited for is logged once, naming them (pid and host).
    """
    told: set[Owner] = set()
    while True:
        waiting = [f for f in todo if f.key in held]
        if waiting:  # a look first: fits refused during the executor's round may be stored or free by now
            live = {c.key for c in claims.store.live_claims(waiting[0].suite, waiting[0].tier)}
            free = [f for f in waiting if f.key not in live and claim(f)]  # stored meanwhile, or its run died
            if free:
                run_fits(free)
                continue
            waiting = [f for f in todo if f.key in held]
        if not waiting:
            return
        owners = {held[f.key] for f in waiting}
        if owners != told:  # once, and again when the set of runs waited for changes (not at every fit)
            told = owners
            log(f"{name}: waiting for {len(waiting)} fit{'' if len(waiting) == 1 else 's'} being computed by "
                f"another run ({_holders({f.key: held[f.key] for f in waiting})}); Ctrl-C stops waiting and "
                "keeps every stored fit")
        claims.poll()
