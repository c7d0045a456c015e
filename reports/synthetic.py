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
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

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
    """``n_rows`` rows: half an ENRC Table-1-like suite, half an ACe/DeC Table-1-like one.

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
    runs = max(1, -(-half // (len(enrc_ds) * len(enrc_m) * n_ae)))
    for ds, cls in enrc_ds.items():
        for m in enrc_m:
            for ae in range(n_ae):
                for rs in range(runs):
                    dev = ["subset: 10000 of 60000"] if ds == "cmnist" and m in ("msc", "isaac") else []
                    rows.append(run_row("enrc-table1", ds, m, ae, rs, tier=tier, label=m,
                                        nmi=rng.uniform(0, 1, len(cls)).round(4).tolist(), clusterings=cls,
                                        loss=float(rng.uniform(1, 2)), vi=float(rng.uniform(1, 3)),
                                        deviations=dev))
    rows = rows[:half]
    runs = max(1, -(-(n_rows - len(rows)) // (len(acedec_ds) * len(acedec_m) * n_ae)))
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
    return rows[:n_rows]


def synthetic_store(path: str | Path, n_rows: int = 10_000, seed: int = 0) -> Path:
    """Write :func:`synthetic_rows` to a new store at ``path``."""
    return write_rows(path, synthetic_rows(n_rows, seed))


# --------------------------------------------------------------------------- hand-made reference stores
def tiny_rows() -> list[dict[str, Any]]:
    """A hand-made store whose every table entry is known exactly (used by the tests).

    Suite ``enrc-table1`` (tier quick), Stickfigures (upper, lower):

    - ENRC: ae 0 keeps run 1 (loss 1.0, NMI .7/.6) over run 0 (loss 2.0, NMI .9/.8);
      ae 1 keeps run 0 (loss 0.5, NMI .5/.4) over run 1 (loss 3.0, NMI 1/1), so
      NMI 0.60 ± 0.10 and 0.50 ± 0.10, VI 2.10 ± 0.10;
    - NrKmeans: NMI .6/.3 on both AEs: 0.60 ± 0.00 (ties ENRC on upper), 0.30 ± 0.00;
    - ISAAC: a 500-point subset (``*``), one clustering found (VI ``n.a.``), NMI .2/.1;
    - Orth1: one failed run (``err``);
    - C-MNIST: every run skipped (listed with its reason).

    Suite ``acedec-table1`` (tier quick): SYNTH-25 and USPS; ACe/DeC+DCN with 3 and
    5 cluster dimensions, DCN λ=0.1, k-means; SubKmeans skipped on USPS (``–``).
    """
    rows: list[dict[str, Any]] = []
    sf = ("upper", "lower")
    e = dict(suite="enrc-table1", dataset="stickfigures", clusterings=sf)
    rows += [
        run_row(**e, method="enrc", label="ENRC", ae_seed=0, run_seed=0, loss=2.0, nmi=(0.9, 0.8), vi=2.5),
        run_row(**e, method="enrc", label="ENRC", ae_seed=0, run_seed=1, loss=1.0, nmi=(0.7, 0.6), vi=2.0),
        run_row(**e, method="enrc", label="ENRC", ae_seed=1, run_seed=0, loss=0.5, nmi=(0.5, 0.4), vi=2.2),
        run_row(**e, method="enrc", label="ENRC", ae_seed=1, run_seed=1, loss=3.0, nmi=(1.0, 1.0), vi=1.0),
        run_row(**e, method="nrkmeans", label="NrKmeans", ae_seed=0, loss=4.0, nmi=(0.6, 0.3), vi=1.5),
        run_row(**e, method="nrkmeans", label="NrKmeans", ae_seed=1, loss=4.0, nmi=(0.6, 0.3), vi=1.7),
        run_row(**e, method="isaac", label="ISAAC", ae_seed=0, loss=9.0, nmi=(0.2, 0.1), vi=None,
                deviations=["subset: 500 of 900"]),
        run_row(**e, method="isaac", label="ISAAC", ae_seed=1, loss=9.0, nmi=(0.2, 0.1), vi=None,
                deviations=["subset: 500 of 900"]),
        run_row(**e, method="orth1", label="Orth1", ae_seed=0, status="error", error="RuntimeError: boom"),
        run_row(**e, method="orth1", label="Orth1", ae_seed=1, loss=1.0, nmi=(0.4, 0.4), vi=1.9),
    ]
    for m, lab in (("enrc", "ENRC"), ("nrkmeans", "NrKmeans")):
        rows.append(run_row("enrc-table1", "cmnist", m, 0, label=lab, clusterings=("left", "right"),
                            status="skipped", error="raw MNIST files not found in NRBENCH_DATA"))
    a = dict(suite="acedec-table1", clusterings=("cluster",))
    for ds, base in (("synth", 0.9), ("usps", 0.6)):
        d = dict(a, dataset=ds, clusterings=("cluster",) if ds == "synth" else ("digit",))
        rows += [
            run_row(**d, method="acedec", label="ACe/DeC+DCN", ae_seed=0, loss=1.0, nmi=(base + 0.1,), n_cluster_dims=3),
            run_row(**d, method="acedec", label="ACe/DeC+DCN", ae_seed=1, loss=1.0, nmi=(base - 0.1,), n_cluster_dims=5),
            run_row(**d, method="dcn", label="DCN λ=0.1", params={"lambda_": 0.1}, ae_seed=0, loss=1.0, nmi=(0.3,)),
            run_row(**d, method="dcn", label="DCN λ=0.1", params={"lambda_": 0.1}, ae_seed=1, loss=1.0, nmi=(0.5,)),
            run_row(**d, method="kmeans", label="k-means", ae_seed=0, loss=1.0, nmi=(base,)),
            run_row(**d, method="kmeans", label="k-means", ae_seed=1, loss=1.0, nmi=(base,)),
        ]
    rows.append(run_row("acedec-table1", "synth", "subkmeans", 0, label="SubKmeans", clusterings=("cluster",),
                        loss=1.0, nmi=(0.8,), n_cluster_dims=2))
    rows.append(run_row("acedec-table1", "usps", "subkmeans", 0, label="SubKmeans", clusterings=("digit",),
                        status="skipped", error="stopped for run time"))
    return rows


def _square_images(k: int, side: int, rng: np.random.Generator) -> np.ndarray:
    """k distinct (1, side, side) images: a bright square whose position depends on the index."""
    imgs = rng.normal(0, 0.1, size=(k, 1, side, side)).astype(np.float32)
    for i in range(k):
        r, c = divmod(i, 3)
        imgs[i, 0, 2 + 5 * r: 6 + 5 * r, 2 + 5 * c: 6 + 5 * c] += 3.0
    return imgs


def figure_rows_and_artefacts(seed: int = 0) -> list[tuple[dict[str, Any], dict[str, np.ndarray] | None]]:
    """Rows (and artefacts) for every figure: ENRC case study, ACe/DeC Figs. 1a, 3 and 4.

    Planted so the figures show what the papers show: ENRC's β concentrate on
    two dimensions per clustering; DCN (at λ = 0.1, 1 and 10) loses NMI as the noise dimensions grow
    while ACe/DeC stays near 1; a traversal grid of distinct images.
    """
    rng = np.random.default_rng(seed)
    out: list[tuple[dict[str, Any], dict[str, np.ndarray] | None]] = []
    # ENRC case study on stickfigures: 2 clusterings x 3 clusters, D = 8.
    n, D = 300, 8
    truth = np.stack([rng.integers(0, 3, n), rng.integers(0, 3, n)], axis=1)
    Z = rng.normal(0, 0.3, size=(n, D)).astype(np.float32)
    Z[:, 1] += 3.0 * truth[:, 0]
    Z[:, 4] += 2.0 * (truth[:, 0] % 2)
    Z[:, 6] += 3.0 * truth[:, 1]
    Z[:, 2] += 2.0 * (truth[:, 1] == 1)
    betas_init = np.full((2, D), 0.1, dtype=np.float32)
    betas_init[0, :4], betas_init[1, 4:] = 0.9, 0.9
    betas = np.full((2, D), 0.5, dtype=np.float32)
    betas[0, [1, 4]], betas[1, [1, 4]] = 0.95, 0.05
    betas[1, [6, 2]], betas[0, [6, 2]] = 0.9, 0.1
    for ae in range(2):
        row = run_row("enrc-casestudy", "stickfigures", "enrc", ae, label="ENRC", clusterings=("upper", "lower"),
                      loss=1.0 + ae, nmi=(0.95, 0.9), vi=2.0)
        art = {"labels": truth.copy(), "betas_init": betas_init, "betas": betas, "Z_rot": Z,
               "Z_labels_true": truth, "Z_index": np.arange(n),
               "decoded_centers_0": _square_images(3, 20, rng), "decoded_centers_1": _square_images(3, 20, rng)}
        out.append((row, art))
    # ACe/DeC Fig. 1a: noise dims 0, 10, 25; 3 AEs.
    for k in (0, 10, 25):
        for ae in range(3):
            dcn = max(0.05, 1.0 - 0.03 * k + rng.normal(0, 0.05))
            ace = min(1.0, 0.98 + rng.normal(0, 0.01))
            for method, label, params, v in (("dcn", "DCN λ=1.0", {"lambda_": 1.0}, dcn),
                                             ("acedec", "ACe/DeC+DCN", {}, ace)):
                out.append((run_row("acedec-fig1a", f"synth-{k}", method, ae, label=label, params=params,
                                    clusterings=("cluster",), nmi=(round(float(v), 4),), loss=1.0), None))
    # ACe/DeC Fig. 4: lr grid on SYNTH-25, DCN per lambda and ACe/DeC; 3 AEs.
    for lr in (1e-4, 5e-4, 9e-4):
        for ae in range(3):
            for lam in (0.1, 1.0, 10.0):
                v = 0.5 + 0.3 * np.sin(lam + 3000 * lr) + rng.normal(0, 0.05)
                out.append((run_row("acedec-fig4", "synth", "dcn", ae, label=f"DCN λ={lam} lr={lr:g}",
                                    params={"lambda_": lam, "lr": lr}, clusterings=("cluster",),
                                    nmi=(round(float(np.clip(v, 0, 1)), 4),), loss=1.0), None))
            out.append((run_row("acedec-fig4", "synth", "acedec", ae, label=f"ACe/DeC+DCN lr={lr:g}",
                                params={"lr": lr}, clusterings=("cluster",),
                                nmi=(round(float(0.95 + rng.normal(0, 0.02)), 4),), loss=1.0), None))
    # ACe/DeC Fig. 1a's low and high lambda: DCN below ACe/DeC too (own generator: the rows above stay as they were)
    rng_lam = np.random.default_rng(seed + 1)
    for k in (0, 10, 25):
        for ae in range(3):
            for lam, slope in ((0.1, 0.02), (10.0, 0.035)):
                v = max(0.05, 1.0 - slope * k + rng_lam.normal(0, 0.05))
                out.append((run_row("acedec-fig1a", f"synth-{k}", "dcn", ae, label=f"DCN λ={lam}",
                                    params={"lambda_": lam}, clusterings=("cluster",), nmi=(round(float(v), 4),),
                                    loss=1.0), None))
    # ACe/DeC Fig. 3: a 4 x 5 traversal of 16 x 16 images.
    trav = np.stack([_square_images(5, 16, rng) * (1 + r) for r in range(4)])  # (4, 5, 1, 16, 16)
    axes = np.stack(np.meshgrid(np.linspace(-2, 2, 4), np.linspace(-3, 3, 5), indexing="ij"), axis=-1)
    out.append((run_row("acedec-table1", "mnist", "acedec", 0, label="ACe/DeC+DCN", clusterings=("digit",),
                        nmi=(0.9,), loss=1.0, n_cluster_dims=4),
                {"labels": np.zeros(10, dtype=int), "betas": _acedec_betas(), "traversal": trav,
                 "traversal_axes": axes, **_acedec_space_artefacts(rng)}))
    return out


def _acedec_betas() -> np.ndarray:
    """(2, 10) ACe/DeC betas: z0 (0.97) and z1 (0.8) in the cluster space, the rest shared."""
    cs = np.array([0.97, 0.8] + [0.1] * 8)
    return np.stack([cs, 1 - cs])


def _acedec_space_artefacts(rng: np.random.Generator, n: int = 200, D: int = 10) -> dict[str, np.ndarray]:
    """ACe/DeC Fig. 3 scatter points (3 clusters along z0, the top-β_cs dimension) and Fig. 1b reconstructions."""
    truth = rng.integers(0, 3, n)
    Z = rng.normal(0, 0.3, size=(n, D)).astype(np.float32)
    Z[:, 0] += 2.0 * truth - 2.0
    Z[:, 1:] += rng.normal(0, 1.0, size=(n, 1)) * np.linspace(1, 0.2, D - 1)  # a dominant shared direction
    shapes = _square_images(3, 16, rng)  # the "cluster" content
    light = np.linspace(0, 1, 16)[None, None, None, :] * np.array([0.5, 1.0, 1.5, 2.0])[:, None, None, None]
    x_cs = np.stack([shapes[i % 3] for i in range(4)])
    x_ss = np.broadcast_to(light, (4, 1, 16, 16)).astype(np.float32)
    return {"Z_rot": Z, "Z_labels_true": truth, "Z_index": np.arange(n),
            "recon_input": (x_cs + x_ss).astype(np.float32), "recon_cluster": x_cs, "recon_shared": x_ss}


def figure_store(path: str | Path, seed: int = 0) -> Path:
    """A store holding :func:`figure_rows_and_artefacts`, artefacts written through ``Store.write_artefact``."""
    from benchmark.store import params_hash, row_key

    path = Path(path)
    rows = []
    with Store(path) as st:
        for row, art in figure_rows_and_artefacts(seed):
            row = dict(row, params_hash=params_hash(row["params"]))
            if art is not None:
                row["artefact"] = st.write_artefact(row_key(row), art)
            rows.append(row)
    return write_rows(path, rows)
