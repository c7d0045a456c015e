"""The papers' aggregation protocol: best run by own loss per autoencoder, then mean ± std.

This is the single implementation of the evaluation protocol shared by ENRC
(AAAI 2020, Sec. 3.4: "We ran Nr-Kmeans, Orth1 and 2 ten times for each of the
ten autoencoders and averaged the best run in terms of their respective loss
function") and ACe/DeC (IJCAI 2021, Table 1: "NMI averages and standard
deviations over 10 (20 for SYNTH-25) pretrained AEs"):

1. for each (suite, tier, dataset, method label, ae_seed) keep the OK run with
   the lowest ``loss`` -- never the best NMI;
2. per ground-truth clustering, mean ± std of the NMI over the ae_seeds
   (the same for VI and the number of cluster dimensions).

Every table and figure goes through :func:`select_best` / :func:`aggregate`.

Cell status (one per dataset × method label):

- ``err``: at least one run of the cell failed (shown as ``err`` + footnote);
- ``skipped``: no OK run and at least one skipped one (shown as ``–`` with the reason);
- ``n.a.``: the value does not exist (VI with fewer than two found clusterings);
- ``ok`` otherwise.

The standard deviation is the population one (``STD_DDOF = 0``, as numpy's
default used by the papers' evaluation code); the papers do not state it.
"""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

#: ddof of the reported standard deviation (over autoencoders).
STD_DDOF = 0

#: Deviation prefixes that mark a cell with ``*`` (as the papers' "subset" star).
STAR_PREFIXES = ("subset", "approximation")

#: Deviation recorded when runs of one autoencoder have no loss to choose by.
NO_LOSS_DEVIATION = "selection: no loss stored, lowest run_seed kept"

CELL_KEYS = ["suite", "tier", "dataset", "label"]
SELECT_KEYS = CELL_KEYS + ["ae_seed"]

CELL_COLUMNS = [
    "suite", "tier", "dataset", "method", "label", "metric", "clustering",
    "mean", "std", "n_ae", "runs_per_ae", "status", "marker", "deviations",
    "errors", "n_err", "n_runs", "reason", "n_missing", "values", "params",
]


def is_starred(deviations: Iterable[str]) -> bool:
    """True when a deviation is a subset or an approximation (the tables' ``*``)."""
    return any(str(d).strip().lower().startswith(STAR_PREFIXES) for d in deviations)


def select_best(frame: pd.DataFrame, warn: bool = True) -> pd.DataFrame:
    """One OK row per (suite, tier, dataset, label, ae_seed): the one with the lowest loss.

    Ties and missing losses are broken by the lowest ``run_seed`` so the choice
    is deterministic.  Where an autoencoder has several OK runs but none has a
    loss, the choice cannot follow the protocol: the kept row gets the deviation
    :data:`NO_LOSS_DEVIATION` and a warning names the cell.
    """
    ok = frame[frame["status"] == "ok"]
    if ok.empty:
        return ok.copy()
    ordered = ok.sort_values(SELECT_KEYS + ["loss", "run_seed"], na_position="last", kind="mergesort")
    grouped = ordered.groupby(SELECT_KEYS, sort=False, dropna=False)
    n_runs = grouped["run_seed"].transform("size")
    n_loss = grouped["loss"].transform("count")
    best = ordered[~ordered.duplicated(SELECT_KEYS, keep="first")].copy()
    no_loss = (n_runs.loc[best.index] > 1) & (n_loss.loc[best.index] == 0)
    if no_loss.any():
        best["deviations"] = [
            list(d) + [NO_LOSS_DEVIATION] if flag else d for d, flag in zip(best["deviations"], no_loss)
        ]
        if warn:
            cells = sorted({f"{r.label} on {r.dataset}" for r in best[no_loss].itertuples()})
            warnings.warn(f"runs without a loss, lowest run_seed kept for: {', '.join(cells)}", stacklevel=2)
    return best


def _mean_std(values: list[float]) -> tuple[float, float]:
    a = np.asarray(values, dtype=float)
    return float(a.mean()), float(a.std(ddof=STD_DDOF))


def mean_ci95(values: Iterable[float]) -> tuple[float, float]:
    """Mean and half-width of the two-sided 95% t confidence interval (ACe/DeC Figs. 1a and 4).

    With a single value the interval does not exist and the half-width is NaN.
    """
    from scipy import stats

    a = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if a.size == 0:
        return float("nan"), float("nan")
    if a.size == 1:
        return float(a[0]), float("nan")
    half = stats.t.ppf(0.975, a.size - 1) * a.std(ddof=1) / math.sqrt(a.size)
    return float(a.mean()), float(half)


def dataset_clusterings(frame: pd.DataFrame) -> dict[tuple[str, str, str], list[str]]:
    """Ground-truth clustering names per (suite, tier, dataset), from any row that has them."""
    out: dict[tuple[str, str, str], list[str]] = {}
    for key in zip(*(frame[c].tolist() for c in ("suite", "tier", "dataset", "clusterings"))):
        k, cl = key[:3], key[3]
        if k not in out and len(cl):
            out[k] = [str(c) for c in cl]
    return out


def aggregate(frame: pd.DataFrame, warn: bool = True) -> pd.DataFrame:
    """The table cells of a store frame: one row per (cell, metric, clustering).

    ``metric`` is ``nmi`` (one row per ground-truth clustering), ``vi`` and
    ``dims`` (number of cluster-space dimensions; ACe/DeC Table 3).  Columns
    are :data:`CELL_COLUMNS`; ``values`` holds the per-autoencoder values of the
    selected runs (ordered by ae_seed) for confidence intervals.
    """
    if frame.empty:
        return pd.DataFrame(columns=CELL_COLUMNS)
    best = select_best(frame, warn=warn)
    clusterings = dataset_clusterings(frame)

    # Per-cell bookkeeping over all rows (status, errors, deviations, run counts).
    info: dict[tuple, dict] = {}
    for r in _records(frame, CELL_KEYS + ["method", "status", "error", "deviations", "ae_seed", "params"]):
        key = (r.suite, r.tier, r.dataset, r.label)
        d = info.get(key)
        if d is None:
            d = info[key] = {"method": r.method, "params": r.params, "ok": 0, "error": 0, "skipped": 0,
                             "errors": [], "reasons": [], "deviations": [], "runs": defaultdict(int)}
        d[r.status if r.status in ("ok", "error", "skipped") else "error"] += 1
        if r.status == "error":
            msg = r.error or "error (no message stored)"
            if msg not in d["errors"]:
                d["errors"].append(msg)
        elif r.status == "skipped":
            if r.error and r.error not in d["reasons"]:
                d["reasons"].append(r.error)
        else:
            d["runs"][r.ae_seed] += 1
        if r.status != "skipped":  # a failed fit ran under the same planned deviations: a caption names them
            for dev in r.deviations:
                if dev not in d["deviations"]:
                    d["deviations"].append(str(dev))

    selected: dict[tuple, list] = defaultdict(list)
    for r in _records(best.sort_values("ae_seed", kind="mergesort"), list(best.columns)):
        selected[(r.suite, r.tier, r.dataset, r.label)].append(r)

    rows = []
    for key, d in info.items():
        suite, tier, dataset, label = key
        sel = selected.get(key, [])
        devs = list(d["deviations"])
        for r in sel:
            for dev in r.deviations:
                if dev not in devs:
                    devs.append(str(dev))
        if d["error"]:
            status = "err"
        elif not d["ok"] and d["skipped"]:
            status = "skipped"
        else:
            status = "ok"
        base = {
            "suite": suite, "tier": tier, "dataset": dataset, "method": d["method"], "label": label,
            "n_ae": len(sel), "runs_per_ae": max(d["runs"].values(), default=0),
            "marker": "*" if is_starred(devs) else "", "deviations": tuple(devs),
            "errors": tuple(d["errors"]), "n_err": d["error"], "n_runs": d["ok"] + d["error"] + d["skipped"],
            "reason": "; ".join(d["reasons"]), "params": d["params"],
        }
        names = clusterings.get((suite, tier, dataset), [""])
        for j, name in enumerate(names):
            vals = [float(r.nmi[j]) for r in sel if j < len(r.nmi) and r.nmi[j] is not None]
            rows.append(_cell(base, "nmi", name, vals, len(sel) - len(vals), status))
        for metric, col in (("vi", "vi"), ("dims", "n_cluster_dims")):
            vals = [float(getattr(r, col)) for r in sel if not math.isnan(getattr(r, col))]
            st = status if (status != "ok" or vals) else "n.a."
            rows.append(_cell(base, metric, "", vals, len(sel) - len(vals), st))
    return pd.DataFrame(rows, columns=CELL_COLUMNS)


def _records(frame: pd.DataFrame, columns: list[str]) -> Iterable[Any]:
    """Rows as named tuples, built from column lists (faster than ``itertuples`` on string arrays)."""
    from collections import namedtuple

    Rec = namedtuple("Rec", columns, rename=True)  # type: ignore[misc]
    return (Rec(*vals) for vals in zip(*(frame[c].tolist() for c in columns)))


def _cell(base: dict, metric: str, clustering: str, vals: list[float], n_missing: int, status: str) -> dict:
    mean, std = _mean_std(vals) if vals else (float("nan"), float("nan"))
    return {**base, "metric": metric, "clustering": clustering, "mean": mean, "std": std,
            "status": status, "n_missing": n_missing, "values": tuple(vals)}
