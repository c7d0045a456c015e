"""Synthetic result stores: rows in the store contract, for tests, benchmarks and demos.

Reports are tested on stores whose numbers are known exactly.  :func:`run_row`
builds one ``runs`` row (defaults for every column); :func:`write_rows` writes
rows through ``benchmark.store.Store``'s row encoding, in one transaction (the
harness writes one transaction per row for crash safety, which is needlessly
slow for 10,000 synthetic rows); :func:`synthetic_store` fills a store with an
ENRC-shaped and an ACe/DeC-shaped suite of any size.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from benchmark.store import RUN_COLUMNS, Store


def run_row(suite: str, dataset: str, method: str, ae_seed: int, run_seed: int = 0, *,
            tier: str = "quick", label: str | None = None, params: Mapping[str, Any] | None = None,
            status: str = "ok", loss: float | None = 1.0, nmi: Sequence[float] = (0.5,),
            clusterings: Sequence[str] = ("class",), vi: float | None = None,
            n_cluster_dims: int | None = None, deviations: Sequence[str] = (), error: str | None = None,
            artefact: str | None = None) -> dict[str, Any]:
    """One row of the ``runs`` table in the store contract (metrics as the runner writes them)."""
    metrics = None
    if status == "ok":
        metrics = {"nmi": list(nmi), "ari": list(nmi), "ami": list(nmi), "vi": vi,
                   "n_found": len(nmi), "n_cluster_dims": n_cluster_dims}
    return {
        "suite": suite, "tier": tier, "dataset": dataset, "method": method, "label": label or method,
        "params": dict(params or {}), "ae_seed": int(ae_seed), "run_seed": int(run_seed), "status": status,
        "error": error, "loss": loss if status == "ok" else None, "metrics": metrics,
        "clusterings": list(clusterings), "runtime_s": 1.0, "peak_mem_mb": 10.0, "device": "cpu",
        "deviations": list(deviations), "artefact": artefact,
    }


def write_rows(path: str | Path, rows: Iterable[Mapping[str, Any]],
               suites: Mapping[tuple[str, str], Mapping[str, Any]] | None = None) -> Path:
    """Create (or extend) a store at ``path`` with ``rows``, encoded exactly as ``Store.put`` encodes them."""
    path = Path(path)
    with Store(path) as st:
        for (name, tier), cfg in (suites or {}).items():
            st.register_suite(name, tier, cfg)
        encoded = [Store._encode(r) for r in rows]
    cols = ", ".join(RUN_COLUMNS)
    marks = ", ".join("?" for _ in RUN_COLUMNS)
    con = sqlite3.connect(str(path))
    try:
        with con:
            con.executemany(f"INSERT OR REPLACE INTO runs({cols}) VALUES ({marks})",
                            [[rec[c] for c in RUN_COLUMNS] for rec in encoded])
    finally:
        con.close()
    return path


def synthetic_rows(n_rows: int, seed: int = 0, tier: str = "quick") -> list[dict[str, Any]]:
    """About ``n_rows`` rows: half an ENRC Table-1-like suite, half an ACe/DeC Table-1-like one.

    NMIs are random but reproducible (``seed``); a few cells carry a subset
    deviation, an error and a skipped data set, so every table feature is exercised.
    """
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    enrc_ds = {"nrobjects": ("color", "material", "shape"), "gtsrb": ("type", "color"),
               "stickfigures": ("upper", "lower"), "cmnist": ("left", "right")}
    enrc_m = ["enrc", "orth1", "orth2", "msc", "nrkmeans", "isaac"]
    acedec_ds = ["synth", "fmnist", "mnist", "usps", "objects", "gtsrb"]
    acedec_m = [("acedec", "ACe/DeC+DCN", {}), ("dcn", "DCN λ=0.1", {"lambda": 0.1}),
                ("dcn", "DCN λ=1.0", {"lambda": 1.0}), ("dcn", "DCN λ=10.0", {"lambda": 10.0}),
                ("kmeans", "k-means", {}), ("ae-kmeans", "AE+k-means", {})]
    half = n_rows // 2
    n_ae = 10
    runs = max(1, half // (len(enrc_ds) * len(enrc_m) * n_ae))
    for ds, cls in enrc_ds.items():
        for m in enrc_m:
            for ae in range(n_ae):
                for rs in range(runs):
                    dev = ["subset: 10000 of 60000"] if ds == "cmnist" and m in ("msc", "isaac") else []
                    rows.append(run_row("enrc-table1", ds, m, ae, rs, tier=tier, label=m,
                                        nmi=rng.uniform(0, 1, len(cls)).round(4).tolist(), clusterings=cls,
                                        loss=float(rng.uniform(1, 2)), vi=float(rng.uniform(1, 3)),
                                        deviations=dev))
    runs = max(1, (n_rows - len(rows)) // (len(acedec_ds) * len(acedec_m) * n_ae))
    for ds in acedec_ds:
        for method, label, params in acedec_m:
            for ae in range(n_ae):
                for rs in range(runs):
                    if ds == "gtsrb":
                        rows.append(run_row("acedec-table1", ds, method, ae, rs, tier=tier, label=label,
                                            params=params, status="skipped", error="GTSRB files not found"))
                    elif ds == "usps" and method == "kmeans" and ae == 0 and rs == 0:
                        rows.append(run_row("acedec-table1", ds, method, ae, rs, tier=tier, label=label,
                                            params=params, status="error", error="MemoryError: synthetic"))
                    else:
                        rows.append(run_row("acedec-table1", ds, method, ae, rs, tier=tier, label=label,
                                            params=params, nmi=[round(float(rng.uniform(0, 1)), 4)],
                                            clusterings=("class",), loss=float(rng.uniform(1, 2)),
                                            n_cluster_dims=int(rng.integers(3, 10))))
    return rows


def synthetic_store(path: str | Path, n_rows: int = 10_000, seed: int = 0) -> Path:
    """Write :func:`synthetic_rows` to a new store at ``path``."""
    return write_rows(path, synthetic_rows(n_rows, seed))
