"""Where reports get their input: the result store's rows and the run artefacts.

Reports read only what the harness saved (DESIGN.md, "Data flows one way"): the
rows of ``benchmark.store.Store`` and the ``.npz`` artefacts beside it.  They
never run a method.  This module is the one place that knows

- the default store path (``<NRBENCH_HOME>/results/nrbench.sqlite``);
- how a row's ``artefact`` path resolves (relative to the store's folder);
- the resolved suite configurations kept in the store's ``suites`` table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.store import Store, default_store_path

#: Columns every frame handed to ``reports`` has (``Store.frame`` contract).
REQUIRED_COLUMNS = (
    "suite", "tier", "dataset", "method", "label", "params", "ae_seed", "run_seed",
    "status", "error", "loss", "nmi", "vi", "n_cluster_dims", "clusterings", "deviations", "artefact",
)


_NORMALISED = "nrbench_normalised"


class MissingArtefactError(RuntimeError):
    """A figure needs run artefacts (or rows) that the store does not hold."""


class Note(UserWarning):
    """Information the user should see on the terminal but that is not a problem (e.g. which tier a figure draws).

    A warning category, so library callers can filter it like any warning; the CLI prints it as
    ``nrbench: note: ...`` (``cli_label``) instead of ``warning``.
    """

    cli_label = "note"


def resolve_store_path(path: str | Path | None) -> Path:
    """The store file to read; a missing file is a one-line ``FileNotFoundError``."""
    p = Path(path).expanduser() if path is not None else default_store_path()
    if p.is_dir():
        raise FileNotFoundError(f"{p} is a directory; --store takes the store file (e.g. {p / 'nrbench.sqlite'})")
    if not p.is_file():
        raise FileNotFoundError(f"no result store at {p}: run `nrbench run SUITE` first (or pass --store PATH)")
    if p.stat().st_size == 0:  # reports never write: an empty file is not made into a store here
        raise FileNotFoundError(f"{p} is empty, not a result store: run `nrbench run SUITE --store {p}` first")
    return p


def load_runs(store: str | Path | None = None, suite: str | None = None, tier: str | None = None) -> pd.DataFrame:
    """All rows of the store (optionally one suite / tier) as ``Store.frame`` returns them.

    JSON columns are parsed (``nmi`` and ``clusterings`` lists, ``deviations``
    list, ``params`` dict).  The frame gains ``store_dir`` in ``attrs`` so that
    artefact paths can be resolved later.
    """
    path = resolve_store_path(store)
    with Store(path) as st:
        frame = st.frame(suite=suite, tier=tier)
    frame = normalise_frame(frame)
    frame.attrs["store_dir"] = str(path.parent)
    frame.attrs["store_path"] = str(path)
    return frame


def _as_list(v: Any) -> list:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return []
    if isinstance(v, str):
        v = json.loads(v) if v else []
    if isinstance(v, np.ndarray):
        return v.tolist()
    return list(v)


def _as_dict(v: Any) -> dict:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return {}
    if isinstance(v, str):
        return json.loads(v) if v else {}
    return dict(v)


def normalise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Check the contract columns and make list/dict columns Python objects.

    Accepts a frame whose JSON columns are still strings (a raw SQL read) as well
    as an already parsed one; a missing column is a ``ValueError`` naming it.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks the store column(s) {missing}; is this a Store.frame()?")
    if frame.attrs.get(_NORMALISED):
        return frame
    out = frame.copy()
    for col in ("nmi", "clusterings", "deviations"):
        out[col] = pd.Series([_as_list(v) for v in out[col].tolist()], index=out.index, dtype=object)
    out["params"] = pd.Series([_as_dict(v) for v in out["params"].tolist()], index=out.index, dtype=object)
    for col in ("loss", "vi", "n_cluster_dims"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    out["error"] = [("" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
                    for v in out["error"].tolist()]
    # Plain object columns: iterating pandas' string arrays row by row is several times slower.
    for col in ("suite", "tier", "dataset", "method", "label", "status", "error"):
        out[col] = out[col].astype(object)
    out.attrs[_NORMALISED] = True
    return out


def suite_configs(store: str | Path | None = None) -> dict[tuple[str, str], dict]:
    """The resolved suite configurations, keyed by (suite, tier); {} when none are stored."""
    with Store(resolve_store_path(store)) as st:
        return {(s["name"], s["tier"]): s["config"] for s in st.suites()}


def current_rows(frame: pd.DataFrame, configs: dict | None) -> tuple[pd.DataFrame, dict[tuple[str, str], int]]:
    """The rows that belong to their suite's recorded configuration, and per (suite, tier) how many do not.

    A suite run again after its file or settings changed keeps the old rows (nothing is
    deleted), under other keys: the key's ``params_hash`` covers the fit's whole
    configuration (:attr:`benchmark.protocol.FitTask.config`).  A table must not pool them
    with the current ones (one cell would mix configurations, or show a stale error), so
    only the rows whose key the recorded config plans are kept.  Pairs without a recorded
    config, and frames without ``params_hash`` (hand-made ones), are kept whole.
    """
    from types import SimpleNamespace

    from benchmark.protocol import build_tasks

    if not configs or frame.empty or "params_hash" not in frame.columns:
        return frame, {}
    keep = pd.Series(True, index=frame.index)
    dropped: dict[tuple[str, str], int] = {}
    for (s, t), config in configs.items():
        if not config or not config.get("datasets") or not config.get("methods"):
            continue
        mine = (frame["suite"] == s) & (frame["tier"] == t)
        if not mine.any():
            continue
        plan = SimpleNamespace(name=s, tier=t, datasets=config["datasets"], methods=config["methods"])
        planned = {f.key[2:] for f in build_tasks(plan)[1]}
        sub = frame[mine]
        ok = [(d, m, h, int(a), int(r)) in planned for d, m, h, a, r in
              zip(sub["dataset"], sub["method"], sub["params_hash"], sub["ae_seed"], sub["run_seed"])]
        ok_s = pd.Series(ok, index=sub.index, dtype=bool)
        if not ok_s.all():
            dropped[(s, t)] = int((~ok_s).sum())
            keep[sub.index] = ok_s
    out = frame[keep]
    out.attrs.update(frame.attrs)
    return out, dropped


def no_current_rows_text(frame: pd.DataFrame, other: dict[tuple[str, str], int]) -> list[str]:
    """One line per (suite, tier) whose stored rows all belong to other configurations.

    Such a pair has no table at all, so the caption note of :func:`other_config_text` has nowhere
    to go: the report says it instead (e.g. a store written before the key covered the data and
    autoencoder, or a run stopped before the first fit of a changed suite finished).
    """
    have = set(zip(frame["suite"], frame["tier"])) if not frame.empty else set()
    return [f"{s} [{t}]: none of its {n} stored rows belongs to the suite's current configuration (an earlier "
            "suite file or settings, or an nrbench release whose keys did not cover the data and autoencoder); "
            f"run `nrbench run {s} --tier {t}` to compute it (the old rows stay in the store)"
            for (s, t), n in sorted(other.items()) if (s, t) not in have]


def other_config_text(n: int) -> str:
    """The caption sentence for rows left out by :func:`current_rows`."""
    return (f"{n} stored row{'s' if n != 1 else ''} of this suite came from another configuration (an earlier "
            "suite file or settings, or an nrbench release whose keys did not cover the data and autoencoder) "
            "and are not used here; they stay in the store.")


def artefact_path(frame: pd.DataFrame, relpath: str) -> Path:
    """Absolute path of an artefact referenced by a row (relative to the store's folder)."""
    base = Path(frame.attrs.get("store_dir", "."))
    return base / relpath


def load_artefact(frame: pd.DataFrame, row: pd.Series) -> dict[str, np.ndarray]:
    """The arrays of a row's ``.npz`` artefact; a clear error when it is absent or unreadable."""
    rel = row.get("artefact")
    if not isinstance(rel, str) or not rel:
        raise MissingArtefactError(
            f"run {row['method']} on {row['dataset']} (ae_seed {row['ae_seed']}, run_seed {row['run_seed']}) "
            "has no artefact file"
        )
    path = artefact_path(frame, rel)
    if not path.is_file():
        raise MissingArtefactError(f"artefact file {path} referenced by the store is missing")
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def artefact_keys(frame: pd.DataFrame, row: pd.Series) -> set[str]:
    """Names of the arrays in a row's artefact (empty when it has none), without loading them."""
    rel = row.get("artefact")
    if not isinstance(rel, str) or not rel:
        return set()
    path = artefact_path(frame, rel)
    if not path.is_file():
        return set()
    with np.load(path, allow_pickle=False) as z:
        return set(z.files)
