"""The papers' published numbers, kept as data, and the paper-vs-nrbench comparison.

``benchmark/published/*.csv`` holds one file per published table (transcribed
from PROTOCOL.md and the papers' text; package data):

============================  ===============================================
``enrc_table1.csv``           ENRC (AAAI 2020) Table 1, NMI
``enrc_table3.csv``           ENRC Table 3, VI
``acedec_table1.csv``         ACe/DeC (IJCAI 2021) Table 1, NMI
``acedec_table1_aug.csv``     ACe/DeC Table 1, lower part (+Aug), NMI
``acedec_table3.csv``         ACe/DeC Table 3, cluster-space dimensions
============================  ===============================================

Columns: ``paper, table, metric, dataset`` (the nrbench data-set id),
``dataset_label, clustering`` (empty for single-clustering data), ``method``
(the ``benchmark.method_registry`` name), ``method_label`` (as printed),
``variant`` (``lambda=0.1``, ``aug``, ``aug;lambda=0.1``), ``mean, std``
(empty where the paper has no number) and ``marker`` (``*`` subset,
``n.a.`` no VI, ``–`` not run, ``N/A`` not applicable).

:func:`compare` lines the published values up with ours (after the protocol
aggregation) and judges each: *reproduced* when |ours − paper| ≤
max(:data:`ABS_TOL`, std_paper + std_ours), i.e. the one-std bands touch or the
difference is below rounding noise; otherwise *higher* or *lower*.

Which published data set a stored result is on comes from the data-set id and,
for SYNTH-k, from the parameters the suite config recorded (:func:`canonical_dataset`):
the paper's SYNTH-25 is the generator with k = 25 noise dimensions, not rotated
(``generators.synth.PAPER_K``); another k or a rotation is another data set and is
not compared.  Another number of points is a smaller or larger sample of SYNTH-25:
it is compared, and the row's ``data_note`` and the table's notes say so.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from importlib import resources
from typing import Any

import pandas as pd

from benchmark.metrics import NMI_CAPTION, VI_CAPTION
from reports.tables import DIGITS, PM, Cell, Table, format_value

PUBLISHED_COLUMNS = ["paper", "table", "metric", "dataset", "dataset_label", "clustering", "method",
                     "method_label", "variant", "mean", "std", "marker"]
PUBLISHED_FILES = ("enrc_table1.csv", "enrc_table3.csv", "acedec_table1.csv", "acedec_table1_aug.csv",
                   "acedec_table3.csv")

#: Differences below this count as reproduced whatever the stds (the papers round to 0.01).
ABS_TOL = 0.02

#: Data-set ids that name the same published data set whatever their parameters (canonical id on the right).
#: SYNTH-k is not here: which SYNTH-k a result is on depends on its parameters (:func:`canonical_dataset`).
DATASET_ALIASES = {"mnist-full": "mnist", "stickfigures-file": "stickfigures"}

#: A data-set id that names its number of noise dimensions (``synth-25``, ``synth_k10``), as tables read it.
_SYNTH_ID = re.compile(r"synth[-_]k?(\d+)")

#: Columns of :func:`compare` (and of the tidy comparison CSV, ``reports.csvtable.comparison_csv``).
COMPARE_COLUMNS = ["suite", "tier", "paper", "table", "metric", "dataset_label", "clustering", "method_label",
                   "paper_mean", "paper_std", "paper_marker", "ours_mean", "ours_std", "ours_label", "status",
                   "marker", "delta", "verdict", "data_note"]

#: Parameter names that carry DCN's λ, and augmentation switches, in stored params.
LAMBDA_KEYS = ("lambda_", "lambda", "lam", "lmbda")
AUG_KEYS = ("augmentation", "augment", "aug")


def load_published(paper: str | None = None) -> pd.DataFrame:
    """All published values (one row per table cell), optionally of one paper (``enrc``/``acedec``)."""
    base = resources.files("benchmark") / "published"
    frames = []
    for name in PUBLISHED_FILES:
        with resources.as_file(base / name) as path:
            df = pd.read_csv(path, dtype={"table": str, "clustering": str, "variant": str, "marker": str},
                             keep_default_na=False, na_values={"mean": [""], "std": [""]})
        if list(df.columns) != PUBLISHED_COLUMNS:
            raise ValueError(f"published/{name}: columns {list(df.columns)}; expected {PUBLISHED_COLUMNS}")
        df["source"] = name
        frames.append(df)
    out = pd.concat(frames, ignore_index=True)
    out["mean"] = pd.to_numeric(out["mean"], errors="raise")
    out["std"] = pd.to_numeric(out["std"], errors="raise")
    if paper is not None:
        papers = sorted(set(out["paper"]))
        hit = [p for p in papers if p == paper or p.split("-")[0] == paper]
        if not hit:
            raise ValueError(f"paper must be one of {', '.join(papers)} (or enrc, acedec); got {paper!r}")
        out = out[out["paper"].isin(hit)].reset_index(drop=True)
    return out


def canonical_dataset(name: str, params: Mapping[str, Any] | None = None, generator: str | None = None) -> str:
    """The published data-set id a data set corresponds to (``mnist-full`` -> ``mnist``; SYNTH by its parameters).

    ``params`` are the data set's builder parameters as a suite config records them (``{}``: the
    generator's defaults) and ``generator`` its catalogue name (default: the id).  A SYNTH-k data set
    is named by :func:`generators.synth.synth_name` of its k and rotation, so only k = 25 unrotated is
    ``synth-25``, the paper's column.  With ``params=None`` (not recorded) an id that names its k
    (``synth-25``) is taken at its word and a plain ``synth`` stays ``synth``, matching no published
    column: its k is unknown.  The published tables' own ids are read with ``params={}``: their
    ``synth`` is the generator's default data set, SYNTH-25.
    """
    n = str(name).strip().lower().replace("_", "-")
    if params is not None:
        full = _synth(name, params, generator)
        if full is not None:
            from generators.synth import synth_name

            return synth_name(full["k"], full["rotate"])
    else:
        m = _SYNTH_ID.fullmatch(n)
        if m:
            return f"synth-{int(m.group(1))}"
    return DATASET_ALIASES.get(n, n)


def _synth(name: str, params: Mapping[str, Any], generator: str | None) -> dict | None:
    """The full SYNTH-k parameters of a data set (``reports.tables.synth_params``), None when it is not SYNTH-k."""
    from reports.tables import synth_params

    gen = str(generator).strip().lower() if generator else str(name).strip().lower()
    return synth_params({"generator": gen, "params": dict(params)}, gen)


def data_note(params: Mapping[str, Any] | None, generator: str | None, name: str) -> str:
    """What differs from the published data set without making another one: SYNTH-25's number of points.

    ``""`` when nothing does, for data sets other than SYNTH-k, and when the parameters were not recorded.
    """
    full = _synth(name, params, generator) if params is not None else None
    if full is None:
        return ""
    from generators.synth import PAPER_N

    return "" if full["n"] == PAPER_N else f"n = {full['n']:,} points (the paper's SYNTH-25 has {PAPER_N:,})"


def _dataset_specs(configs: Mapping[tuple[str, str], Any] | None) -> dict[tuple[str, str, str], tuple[str, dict]]:
    """(generator, params) of every data set of the recorded suite configs, by (suite, tier, data-set id)."""
    from reports.tables import _dataset_entries

    out: dict[tuple[str, str, str], tuple[str, dict]] = {}
    for (suite, tier), config in (configs or {}).items():
        for ident, d in _dataset_entries(config):
            if d is not None and isinstance(d.get("params", {}), dict):
                out[(suite, tier, ident)] = (str(d.get("generator") or ident), dict(d.get("params") or {}))
    return out


def variant_of(method: str, label: str, params: Mapping[str, Any] | None) -> tuple[str, bool, float | None]:
    """(base method, augmentation?, λ or None) of a stored result, from its method id, params and label."""
    params = dict(params or {})
    base, aug = method, False
    if base.endswith("-aug"):
        base, aug = base[: -len("-aug")], True
    if any(params.get(k) for k in AUG_KEYS) or re.search(r"\+\s*aug\b", label, flags=re.IGNORECASE):
        aug = True
    lam = next((float(params[k]) for k in LAMBDA_KEYS if params.get(k) is not None), None)
    if lam is None:
        m = re.search(r"(?:λ|lambda)\s*=\s*([-+]?\d*\.?\d+(?:e[-+]?\d+)?)", label, flags=re.IGNORECASE)
        lam = float(m.group(1)) if m else None
    return base, aug, lam


def parse_variant(variant: str) -> tuple[bool, float | None]:
    """(augmentation?, λ or None) of a published ``variant`` string such as ``aug;lambda=0.1``."""
    aug, lam = False, None
    for part in filter(None, (p.strip() for p in str(variant or "").split(";"))):
        if part == "aug":
            aug = True
        elif part.startswith("lambda="):
            lam = float(part.split("=", 1)[1])
        else:
            raise ValueError(f"variant: unknown part {part!r} in {variant!r}")
    return aug, lam


def _matches(pub: Any, cell: Any) -> bool:
    base, aug, lam = variant_of(cell.method, cell.label, cell.params)
    p_aug, p_lam = parse_variant(pub.variant)
    if base != pub.method or aug != p_aug:
        return False
    if p_lam is not None and (lam is None or not math.isclose(lam, p_lam, rel_tol=1e-9)):
        return False
    # Stored grids over other hyperparameters (e.g. the learning rate of Fig. 4) are not the table's entry.
    extra = {k for k in (cell.params or {}) if k in ("lr", "learning_rate")}
    return not extra


def verdict(ours: float, our_std: float, paper: float, paper_std: float) -> str:
    """``reproduced`` / ``higher`` / ``lower`` (rule in the module docstring)."""
    tol = max(ABS_TOL, (0.0 if math.isnan(paper_std) else paper_std) + (0.0 if math.isnan(our_std) else our_std))
    d = ours - paper
    if abs(d) <= tol + 1e-12:
        return "reproduced"
    return "higher" if d > 0 else "lower"


def compare(cells: pd.DataFrame, published: pd.DataFrame | None = None,
            configs: Mapping[tuple[str, str], Any] | None = None) -> pd.DataFrame:
    """Published values beside ours: one row per (published cell, our suite/tier holding it).

    ``configs`` (``reports.source.suite_configs``) gives each data set's generator and parameters,
    which decide which SYNTH-k it is (:func:`canonical_dataset`); without a recorded config a plain
    ``synth`` is not compared.  Columns: :data:`COMPARE_COLUMNS`; ``data_note`` is :func:`data_note`
    (``""`` when the data set is the published one in every parameter).  Published cells nobody ran
    are left out (see :func:`unmatched`).
    """
    published = load_published() if published is None else published
    rows: list[dict[str, Any]] = []
    if cells.empty:
        return pd.DataFrame(rows, columns=COMPARE_COLUMNS)
    c = cells.copy()
    specs = _dataset_specs(configs)
    ident: dict[tuple[str, str, str], tuple[str, str]] = {}  # (canonical id, data note) per stored data set
    for key in dict.fromkeys(zip(c["suite"], c["tier"], c["dataset"])):
        gen, params = specs.get(key, (None, None))
        ident[key] = (canonical_dataset(key[2], params, gen), data_note(params, gen, key[2]))
    keys = list(zip(c["suite"], c["tier"], c["dataset"]))
    c["canon"] = [ident[k][0] for k in keys]
    c["data_note"] = [ident[k][1] for k in keys]
    by_key: dict[tuple, list] = {}
    n_cl = c[c["metric"] == "nmi"].groupby(["suite", "tier", "dataset"])["clustering"].nunique().to_dict()
    for cell in c.itertuples(index=False):
        by_key.setdefault((cell.metric, cell.canon), []).append(cell)
    for pub in published.itertuples(index=False):
        for cell in by_key.get((pub.metric, canonical_dataset(pub.dataset, {})), []):
            if pub.clustering and cell.clustering != pub.clustering:
                continue
            if not pub.clustering and pub.metric == "nmi" and n_cl.get((cell.suite, cell.tier, cell.dataset), 1) > 1:
                continue
            if not _matches(pub, cell):
                continue
            ok = cell.status == "ok" and len(cell.values) > 0
            has_paper = not math.isnan(pub.mean)
            rows.append({
                "suite": cell.suite, "tier": cell.tier, "paper": pub.paper, "table": pub.table,
                "metric": pub.metric, "dataset_label": pub.dataset_label, "clustering": pub.clustering,
                "method_label": pub.method_label, "paper_mean": pub.mean, "paper_std": pub.std,
                "paper_marker": pub.marker, "ours_mean": cell.mean if ok else math.nan,
                "ours_std": cell.std if ok else math.nan, "ours_label": cell.label, "status": cell.status,
                "marker": cell.marker,
                "delta": (cell.mean - pub.mean) if ok and has_paper else math.nan,
                "verdict": (verdict(cell.mean, cell.std, pub.mean, pub.std) if ok and has_paper
                            else ("no published value" if ok else cell.status)),
                "data_note": cell.data_note,
            })
    return pd.DataFrame(rows, columns=COMPARE_COLUMNS)


def unmatched(cells: pd.DataFrame, published: pd.DataFrame | None = None,
              configs: Mapping[tuple[str, str], Any] | None = None) -> pd.DataFrame:
    """Published cells with no nrbench result in ``cells`` (not run yet); ``configs`` as for :func:`compare`."""
    published = load_published() if published is None else published
    comp = compare(cells, published, configs)
    if comp.empty:
        return published
    done = set(zip(comp["paper"], comp["table"], comp["dataset_label"], comp["clustering"], comp["method_label"]))
    mask = [(r.paper, r.table, r.dataset_label, r.clustering, r.method_label) not in done
            for r in published.itertuples(index=False)]
    return published[mask]


def _table_name(paper: str, table: object) -> str:
    """``ENRC T1`` / ``ACe/DeC T1``: a published table as the comparison rows name it."""
    return f"{paper.split('-')[0].upper().replace('ACEDEC', 'ACe/DeC')} T{table}"


def comparison_tables(cells: pd.DataFrame, published: pd.DataFrame | None = None,
                      configs: Mapping[tuple[str, str], Any] | None = None) -> list[Table]:
    """One :class:`Table` per (suite, tier): published value, ours, the difference and the verdict.

    ``configs`` as for :func:`compare`; a data set that differs from the published one in a parameter
    that does not make it another data set (SYNTH-25's n) gets a note under the table.
    """
    published = load_published() if published is None else published
    comp = compare(cells, published, configs)
    if comp.empty:
        raise ValueError("none of the stored results corresponds to a published table cell "
                         "(run e.g. `nrbench run enrc-table1` or `nrbench run acedec-table1`; "
                         "SYNTH-k is compared only when its recorded parameters are the paper's SYNTH-25)")
    tables = []
    key = ["paper", "table", "dataset_label", "clustering", "method_label"]
    for (suite, tier), g in comp.groupby(["suite", "tier"], sort=False):
        rows, grid = [], []
        for r in g.itertuples(index=False):
            digits = DIGITS[r.metric]
            paper_txt = (format_value(r.paper_mean, r.paper_std, digits) if not math.isnan(r.paper_std)
                         else (f"{r.paper_mean:.{digits}f}" if not math.isnan(r.paper_mean) else r.paper_marker))
            if not math.isnan(r.paper_mean) and r.paper_marker not in ("", "N/A"):
                paper_txt += r.paper_marker.replace("n.a.", "")
            if r.status == "ok" and not math.isnan(r.ours_mean):
                ours = Cell(format_value(r.ours_mean, r.ours_std, digits), r.ours_mean, r.ours_std,
                            star=r.marker == "*")
            else:
                ours = Cell({"err": "err", "skipped": "–", "n.a.": "n.a."}.get(r.status, r.status), kind="text")
            # rounded first (+ 0.0 turns -0.0 into 0.0), so a difference below the shown digits is +0.00, not -0.00
            delta = Cell(f"{round(r.delta, digits) + 0.0:+.{digits}f}" if not math.isnan(r.delta) else "", kind="text")
            v = Cell(r.verdict, kind="text", bold=r.verdict == "reproduced")
            rows.append([_table_name(r.paper, r.table), r.dataset_label, r.clustering or "", r.method_label])
            grid.append([Cell(paper_txt, kind="text"), ours, delta, v])
        n_rep = int((g["verdict"] == "reproduced").sum())
        n_cmp = int(g["verdict"].isin(["reproduced", "higher", "lower"]).sum())
        metrics = set(g["metric"])
        caption = (
            f"Published values beside nrbench's (suite {suite}, tier {tier}); {n_rep} of {n_cmp} compared "
            f"values reproduced, i.e. |Δ| ≤ max({ABS_TOL}, std_paper + std_ours); Δ = ours − paper. "
            f"nrbench: mean {PM} std over the autoencoders of the run with the lowest own loss per autoencoder. "
            + (f"{NMI_CAPTION}. " if metrics & {"nmi"} else "")
            + (f"{VI_CAPTION}. " if "vi" in metrics else "")
            + ("A tier other than 'paper' runs reduced budgets, so differences are expected. " if tier != "paper" else "")
            + "*: subset or approximation."
        )
        # the published values of the tables this suite reproduces that it has no result for (this suite and tier)
        here = set(zip(g["paper"], g["table"]))
        done = set(zip(*(g[k] for k in key)))
        todo = [t for t in zip(*(published[k] for k in key)) if t[:2] in here and t not in done]
        names = ", ".join(_table_name(p, t) for p, t in sorted(here))
        notes = [f"{len(todo)} published value{'s' if len(todo) != 1 else ''} of {names} "
                 f"{'have' if len(todo) != 1 else 'has'} no result in this suite and tier (not run)."] if todo else []
        notes += [f"{label}: nrbench's data set differs from the paper's: {note}."
                  for label, note in dict.fromkeys(zip(g["dataset_label"], g["data_note"])) if note]
        tables.append(Table(name=f"{suite}-{tier}-vs-paper", kind="compare", title=f"Paper vs nrbench: {suite} ({tier})",
                            row_header=["Table", "Data set", "Clustering", "Method"], rows=rows,
                            columns=["Paper", "nrbench", "Δ", "Verdict"], cells=grid, caption=caption,
                            notes=notes, suite=suite, tier=tier))
    return tables


__all__ = [
    "COMPARE_COLUMNS",
    "canonical_dataset",
    "compare",
    "comparison_tables",
    "load_published",
    "unmatched",
    "variant_of",
    "verdict",
]
