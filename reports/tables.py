"""The papers' result tables, built from aggregated cells, format-independent.

Four table kinds, each in the shape of a published table:

- ``nmi-by-clustering`` -- ENRC Table 1: rows data set × ground-truth clustering,
  columns methods; NMI mean ± std; best method per row in bold.
- ``vi`` -- ENRC Table 3: rows methods, columns data sets; mean VI ± std;
  ``n.a.`` where a method found fewer than two clusterings.  Not ranked (the
  paper bolds nothing: a higher VI means less redundant, not better).
- ``nmi-by-method`` -- ACe/DeC Table 1: rows methods, columns data sets; best
  method per column in bold.
- ``dims`` -- ACe/DeC Table 3: rows methods, columns data sets; the number of
  cluster-space dimensions found (mean ± std over the autoencoders).

A :class:`Table` holds display strings plus flags (bold, ``*``, footnote marks);
``reports.latex``, ``reports.markdown`` and ``reports.csvtable`` render it.
Cell text: ``0.83 ± 0.04``; ``n.a.``; ``err`` with a footnote letter naming the
error; ``–`` for a method skipped on a data set (reason in the notes).  Data
sets where every run was skipped are listed under the table with their reason.
The caption states the suite, tier, number of autoencoders and runs per
autoencoder, the selection rule, ``benchmark.metrics.NMI_CAPTION`` (or
``VI_CAPTION``) and every recorded deviation from the paper protocol.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pandas as pd

from benchmark.metrics import NMI_CAPTION, VI_CAPTION
from methods.space_split import CLUSTER_SPACE_THRESHOLD, DEFAULT_BETA_WEIGHTING
from reports.aggregate import STD_DDOF, aggregate

NMI_BY_CLUSTERING = "nmi-by-clustering"
VI = "vi"
NMI_BY_METHOD = "nmi-by-method"
DIMS = "dims"
KINDS = (NMI_BY_CLUSTERING, VI, NMI_BY_METHOD, DIMS)

#: Which tables a named paper suite produces (other suites: chosen from the data, see :func:`table_kinds`).
SUITE_TABLES: dict[str, tuple[str, ...]] = {
    "enrc-table1": (NMI_BY_CLUSTERING, VI),
    "enrc-table3": (VI,),
    "acedec-table1": (NMI_BY_METHOD,),
    "acedec-table1-aug": (NMI_BY_METHOD,),
    "acedec-table3": (DIMS,),
}

#: Paper-style display names of catalogue data sets (others are shown as stored).  ``synth`` is ``SYNTH-k`` only
#: where its parameters are not recorded; a suite config gives it its real k (:func:`suite_datasets`).
DATASET_LABELS: dict[str, str] = {
    "nrobjects": "NR-Objects", "gtsrb": "GTSRB", "stickfigures": "Stickfigures",
    "stickfigures-file": "Stickfigures", "cmnist": "C-MNIST", "synth": "SYNTH-k",
    "synth-25": "SYNTH-25", "fmnist": "FMNIST", "mnist": "MNIST-Full", "mnist-full": "MNIST-Full",
    "mnist-test": "MNIST-Test", "objects": "OBJECTS", "usps": "USPS",
}

#: Data-set order of the published tables, used when the suite config gives none.
ENRC_DATASET_ORDER = ("nrobjects", "gtsrb", "stickfigures", "stickfigures-file", "cmnist")
ACEDEC_DATASET_ORDER = ("synth-25", "synth", "fmnist", "mnist", "mnist-full", "mnist-test", "objects", "usps", "gtsrb")

#: Column order of methods (papers' order); unknown methods follow alphabetically.
METHOD_ORDER = ("enrc", "acedec", "acedec-aug", "dcn", "dcn-aug", "dec", "idec", "kmeans", "subkmeans",
                "ae-subkmeans", "ae-kmeans", "orth1", "orth2", "msc", "nrkmeans", "isaac")

#: Digits shown per metric.
DIGITS = {"nmi": 2, "vi": 2, "dims": 1}

PM = "±"
DASH = "–"


@dataclass
class Cell:
    """One table entry: its display text and flags (format-independent)."""

    text: str
    mean: float = float("nan")
    std: float = float("nan")
    kind: str = "value"  # value | n.a. | err | skipped | text (free text) | empty
    bold: bool = False
    star: bool = False
    notes: tuple[str, ...] = ()  # footnote marks, e.g. ("a",)


@dataclass
class Table:
    """A result table: row keys × columns of :class:`Cell`, with caption and notes."""

    name: str
    kind: str
    title: str
    row_header: list[str]
    rows: list[list[str]]
    columns: list[str]
    cells: list[list[Cell]]
    caption: str
    notes: list[str] = field(default_factory=list)
    suite: str = ""
    tier: str = ""


def dataset_label(name: str, labels: dict[str, str] | None = None) -> str:
    """Display name of a data set: the suite's label, else the papers' (``nrobjects`` -> ``NR-Objects``)."""
    label = (labels or {}).get(name)
    if label and label != name:  # resolved suites default the label to the id: keep the paper's name then
        return label
    if name in DATASET_LABELS:
        return DATASET_LABELS[name]
    m = re.fullmatch(r"synth[-_]k?(\d+)", name)
    return f"SYNTH-{m.group(1)}" if m else name


def _natural(name: str) -> tuple:
    """Sort key that orders ``synth-5`` before ``synth-10``."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


def _num(label: str) -> float:
    m = re.search(r"[-+]?\d*\.?\d+(?:e[-+]?\d+)?", label)
    return float(m.group()) if m else math.inf


def method_order(pairs: Iterable[tuple[str, str]]) -> list[str]:
    """Labels sorted by the papers' method order, then by the number in the label (λ=0.1 < 1.0 < 10.0)."""
    rank = {m: i for i, m in enumerate(METHOD_ORDER)}
    uniq = dict.fromkeys(pairs)
    key = lambda p: (rank.get(p[0], len(rank)), p[0], _num(p[1]), p[1])
    return list(dict.fromkeys(label for _, label in sorted(uniq, key=key)))


def format_value(mean: float, std: float, digits: int, n: int | None = None) -> str:
    """``mean ± std`` at ``digits`` decimals (``-0.00`` shown as ``0.00``).

    With ``n == 1`` (one autoencoder) only the value: "± 0.00" would claim a spread that was
    never measured.
    """
    m = f"{mean:.{digits}f}".replace("-0." + "0" * digits, "0." + "0" * digits)
    if n == 1:
        return m
    s = f"{std:.{digits}f}"
    return f"{m} {PM} {s}"


def _footnote_marks() -> Iterable[str]:
    for c in string.ascii_lowercase:
        yield c
    for c in string.ascii_lowercase:
        for d in string.ascii_lowercase:
            yield c + d


class _Notes:
    """Footnotes of one table: a letter per distinct error message or note, skip reasons with their cells."""

    def __init__(self) -> None:
        self._marks = _footnote_marks()
        self.errors: dict[str, str] = {}
        self.error_cells: dict[str, list[str]] = {}
        self.skips: dict[str, list[str]] = {}
        self.others: dict[str, str] = {}

    def error(self, message: str, where: str) -> str:
        first = message.strip().splitlines()[0] if message.strip() else "error"
        if first not in self.errors:
            self.errors[first] = next(self._marks)
            self.error_cells[first] = []
        if where not in self.error_cells[first]:
            self.error_cells[first].append(where)
        return self.errors[first]

    def note(self, text: str) -> str:
        """A footnote letter for a free-text note (e.g. a mean over fewer autoencoders)."""
        if text not in self.others:
            self.others[text] = next(self._marks)
        return self.others[text]

    def skip(self, reason: str, where: str) -> None:
        cells = self.skips.setdefault(reason or "no reason recorded", [])
        if where not in cells:
            cells.append(where)

    def lines(self) -> list[str]:
        """Lettered footnotes in letter order (errors and notes share one sequence), then the skips."""
        lettered = [(mark, f"({mark}) err: {msg} [{', '.join(self.error_cells[msg])}]")
                    for msg, mark in self.errors.items()]
        lettered += [(mark, f"({mark}) {text}") for text, mark in self.others.items()]
        out = [line for _, line in sorted(lettered, key=lambda m: (len(m[0]), m[0]))]
        out += [f"{DASH}: skipped: {reason} [{', '.join(w)}]" for reason, w in self.skips.items()]
        return out


def _cell_from(row: dict | None, metric: str, notes: _Notes, where: str) -> Cell:
    """Turn one aggregated cell row into a display :class:`Cell`."""
    if row is None:
        return Cell("", kind="empty")
    digits = DIGITS[metric]
    star = row["marker"] == "*"
    if row["status"] == "err":
        msgs = row["errors"] or ("error",)
        marks = tuple(dict.fromkeys(notes.error(m, where) for m in msgs))
        return Cell("err", kind="err", notes=marks, star=star)
    if row["status"] == "skipped":
        notes.skip(row["reason"], where)
        return Cell(DASH, kind="skipped")
    if row["status"] == "n.a." or not row["values"]:
        return Cell("n.a.", kind="n.a.", star=star)
    cell = Cell(format_value(row["mean"], row["std"], digits, len(row["values"])), mean=row["mean"], std=row["std"],
                star=star)
    if row["n_missing"]:
        n = len(row["values"])
        line = (f"{where}: over {n} of {n + row['n_missing']} autoencoders "
                f"(the others found no {'second clustering' if metric == 'vi' else 'value'})")
        cell.notes = (notes.note(line),)
    return cell


def _bold_best(cells: Sequence[Cell], digits: int) -> None:
    """Bold every value equal (at the shown precision) to the highest in the group."""
    vals = [round(c.mean, digits) for c in cells if c.kind == "value" and not math.isnan(c.mean)]
    if not vals:
        return
    best = max(vals)
    for c in cells:
        if c.kind == "value" and round(c.mean, digits) == best:
            c.bold = True


def _join(items: Sequence[str]) -> str:
    return ", ".join(items)


def _counts_text(sub: pd.DataFrame, labels: dict[str, str]) -> str:
    """'mean ± std over N autoencoders, best of R runs per autoencoder ...', naming cells that differ."""
    ok = sub[sub["n_ae"] > 0].drop_duplicates(["dataset", "label"])
    if ok.empty:
        return "no completed runs"
    n_ae = int(ok["n_ae"].max())
    fewer = [f"{r.n_ae} for {r.label} on {dataset_label(r.dataset, labels)}"
             for r in ok.itertuples(index=False) if r.n_ae < n_ae]
    ae = f"{n_ae} autoencoder{'s' if n_ae != 1 else ''}" + (f" ({'; '.join(fewer)})" if fewer else "")
    order = method_order(zip(ok["method"], ok["label"]))
    per_label = ok.groupby("label")["runs_per_ae"].max()
    per: dict[int, list[str]] = {}
    for label in order:
        per.setdefault(int(per_label[label]), []).append(label)
    if len(per) == 1:
        r = next(iter(per))
        runs = f"best of {r} run{'s' if r != 1 else ''} per autoencoder"
    else:
        runs = "best of " + "; ".join(f"{r} ({_join(ls)})" for r, ls in sorted(per.items(), reverse=True)) \
            + " runs per autoencoder"
    single = " (a value from one autoencoder has no std)" if int(ok["n_ae"].min()) == 1 else ""
    return (f"mean {PM} std (ddof={STD_DDOF}) over {ae}{single}, {runs}, selected by the method's own loss "
            "(never by NMI)")


def _deviations_text(sub: pd.DataFrame, labels: dict[str, str]) -> str:
    """Every recorded deviation, with the cells it applies to unless it applies to all."""
    where: dict[str, list[str]] = {}
    cells = sub.drop_duplicates(["dataset", "label"])
    n_cells = len(cells)
    for r in cells.itertuples(index=False):
        for d in r.deviations:
            where.setdefault(d, []).append(f"{r.label} on {dataset_label(r.dataset, labels)}")
    if not where:
        return "Deviations from the paper protocol: none recorded."
    parts = []
    for d, cs in where.items():
        parts.append(d if len(cs) == n_cells else f"{d} ({_join(cs)})")
    return "Deviations from the paper protocol: " + "; ".join(parts) + "."


def _beta_weighting_text(sub: pd.DataFrame) -> str:
    """Which ``beta_weighting`` the ACe/DeC rows used, and what it implies for the count (methods.acedec)."""
    rows = sub[sub["method"] == "acedec"]
    used = sorted({(p if isinstance(p, dict) else {}).get("beta_weighting", DEFAULT_BETA_WEIGHTING)
                   for p in rows["params"]}) or [DEFAULT_BETA_WEIGHTING]
    text = "β weighting " + " and ".join(f"'{w}'" for w in used)
    if "linear" in used:
        text += ("; under 'linear' (Σ β(h−g)², ENRC Eq. 2) every β_cs only grows, so the count tends to the "
                 "embedding size")
    return text


def _caption(kind: str, sub: pd.DataFrame, suite: str, tier: str, labels: dict[str, str]) -> str:
    what = {
        NMI_BY_CLUSTERING: "NMI per data set and ground-truth clustering (ENRC Table 1 layout)",
        VI: "Average VI between the found clusterings; higher means less redundant (ENRC Table 3 layout)",
        NMI_BY_METHOD: "NMI per data set (ACe/DeC Table 1 layout)",
        DIMS: "Number of cluster-space dimensions found (ACe/DeC Table 3 layout)",
    }[kind]
    parts = [f"{what}. Suite {suite}, tier {tier}: {_counts_text(sub, labels)}."]
    if kind != DIMS:
        parts.append(f"{VI_CAPTION if kind == VI else NMI_CAPTION}.")
    else:
        parts.append(f"ACe/DeC: dimensions with β_cs > {CLUSTER_SPACE_THRESHOLD:g} ({_beta_weighting_text(sub)}); "
                     "SubKmeans: the cluster-space dimensionality m.")
    if kind == NMI_BY_CLUSTERING:
        parts.append("Best value per data set and clustering in bold.")
    elif kind == NMI_BY_METHOD:
        parts.append("Best value per data set in bold.")
    elif kind == VI and (sub["status"] == "n.a.").any():
        parts.append("n.a.: fewer than two clusterings found, so no VI exists.")
    if (sub["marker"] == "*").any():
        parts.append("*: run on a subset or with an approximation (see deviations).")
    if (sub["status"] == "err").any():
        parts.append("err: the cell had failed runs (see the notes).")
    parts.append(_deviations_text(sub, labels))
    return " ".join(parts)


def _split_skipped(sub: pd.DataFrame, labels: dict[str, str]) -> tuple[pd.DataFrame, list[str]]:
    """Remove data sets where every run was skipped; return them as note lines with their reason."""
    notes = []
    keep = []
    for ds, g in sub.groupby("dataset", sort=False):
        if (g["status"] == "skipped").all():
            reasons = [r for r in dict.fromkeys(g["reason"]) if r] or ["no reason recorded"]
            notes.append(f"Skipped data set {dataset_label(ds, labels)}: {'; '.join(reasons)}")
        else:
            keep.append(ds)
    return sub[sub["dataset"].isin(keep)], notes


def _ordered(sub: pd.DataFrame, order: Sequence[str] | None) -> tuple[list[str], list[str]]:
    datasets = list(dict.fromkeys(sub["dataset"]))
    if order:
        rank = {d: i for i, d in enumerate(order)}
        datasets.sort(key=lambda d: (rank.get(d, len(rank)), _natural(d)))
    labels = method_order(zip(sub["method"], sub["label"]))
    return datasets, labels


def build_table(cells: pd.DataFrame, kind: str, suite: str, tier: str,
                dataset_order: Sequence[str] | None = None, dataset_labels: dict[str, str] | None = None) -> Table:
    """Build one table of ``kind`` for (suite, tier) from :func:`reports.aggregate.aggregate` cells.

    ``dataset_order`` and ``dataset_labels`` come from the suite config
    (:func:`suite_datasets`); without them the papers' order and names are used.
    """
    names = dict(dataset_labels or {})
    label_of = lambda d: dataset_label(d, names)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    metric = {NMI_BY_CLUSTERING: "nmi", NMI_BY_METHOD: "nmi", VI: "vi", DIMS: "dims"}[kind]
    sub = cells[(cells["suite"] == suite) & (cells["tier"] == tier) & (cells["metric"] == metric)]
    if sub.empty:
        raise ValueError(f"no results for suite {suite!r} tier {tier!r} in the store")
    sub, skipped_notes = _split_skipped(sub, names)
    notes = _Notes()
    if not dataset_order:
        dataset_order = ENRC_DATASET_ORDER if kind in (NMI_BY_CLUSTERING, VI) else ACEDEC_DATASET_ORDER
    datasets, labels = _ordered(sub, dataset_order)
    cols = list(sub.columns)
    index = {(r["dataset"], r["label"], r["clustering"]): r
             for r in (dict(zip(cols, vals)) for vals in zip(*(sub[c].tolist() for c in cols)))}
    lookup = lambda ds, lab, cl: index.get((ds, lab, cl))

    rows: list[list[str]] = []
    grid: list[list[Cell]] = []
    if kind == NMI_BY_CLUSTERING:
        row_header, columns = ["Data set", "Clustering"], labels
        for ds in datasets:
            for cl in dict.fromkeys(sub.loc[sub["dataset"] == ds, "clustering"]):
                line = [_cell_from(lookup(ds, lab, cl), metric, notes, f"{lab} on {label_of(ds)}")
                        for lab in labels]
                _bold_best(line, DIGITS[metric])
                rows.append([label_of(ds), cl])
                grid.append(line)
    else:
        row_header = ["Method"]
        col_keys: list[tuple[str, str]] = []
        for ds in datasets:
            cls = list(dict.fromkeys(sub.loc[sub["dataset"] == ds, "clustering"]))
            col_keys += [(ds, cl) for cl in cls]
        multi = {ds for ds in datasets if sum(1 for d, _ in col_keys if d == ds) > 1}
        columns = [label_of(ds) + (f" ({cl})" if ds in multi else "") for ds, cl in col_keys]
        for lab in labels:
            rows.append([lab])
            grid.append([_cell_from(lookup(ds, lab, cl), metric, notes, f"{lab} on {label_of(ds)}")
                         for ds, cl in col_keys])
        if kind == NMI_BY_METHOD:
            for j in range(len(col_keys)):
                _bold_best([line[j] for line in grid], DIGITS[metric])
        if kind == DIMS:  # methods without a cluster space (k-means, DCN) are not rows of ACe/DeC Table 3
            keep = [i for i, line in enumerate(grid) if any(c.kind not in ("n.a.", "empty") for c in line)]
            rows, grid = [rows[i] for i in keep], [grid[i] for i in keep]
    title = {NMI_BY_CLUSTERING: "NMI", VI: "VI", NMI_BY_METHOD: "NMI", DIMS: "Cluster-space dimensions"}[kind]
    return Table(
        name=f"{suite}-{tier}-{kind}", kind=kind, title=f"{title}: {suite} ({tier})",
        row_header=row_header, rows=rows, columns=columns, cells=grid,
        caption=_caption(kind, sub, suite, tier, names), notes=notes.lines() + skipped_notes, suite=suite, tier=tier,
    )


def table_kinds(suite: str, cells: pd.DataFrame) -> tuple[str, ...]:
    """The tables a suite produces: :data:`SUITE_TABLES` for the papers' table suites, else from the data.

    Data with several ground-truth clusterings per data set gets the ENRC
    layout (NMI per clustering, and VI); single-clustering data the ACe/DeC
    layout, plus the dimensions table when the methods report cluster dimensions.
    """
    if suite in SUITE_TABLES:
        return SUITE_TABLES[suite]
    sub = cells[cells["suite"] == suite]
    nmi = sub[sub["metric"] == "nmi"]
    multi = (nmi.groupby("dataset")["clustering"].nunique() > 1).any() if not nmi.empty else False
    if multi:
        return (NMI_BY_CLUSTERING, VI)
    dims = sub[(sub["metric"] == "dims") & (sub["status"] == "ok")]
    return (NMI_BY_METHOD, DIMS) if not dims.empty else (NMI_BY_METHOD,)


def build_tables(frame: pd.DataFrame, suite: str | None = None, tier: str | None = None,
                 kinds: Sequence[str] | None = None, configs: dict | None = None,
                 warn: bool = True) -> list[Table]:
    """All tables for the (suite, tier) pairs in a store frame (optionally filtered).

    ``configs`` (``reports.source.suite_configs``) supplies the suites' data-set
    order; ``kinds`` overrides :func:`table_kinds`.
    """
    from reports.source import current_rows, no_current_rows_text, normalise_frame, other_config_text

    known_suites = sorted(set(frame["suite"])) if "suite" in frame else []
    if suite is not None and suite not in known_suites:
        raise ValueError(f"suite {suite!r} has no results in the store; stored suites: "
                         f"{', '.join(known_suites) or '(none)'}")
    frame = normalise_frame(frame)
    if suite is not None:
        frame = frame[frame["suite"] == suite]
    if tier is not None:
        tiers = sorted(set(frame["tier"]))
        if tier not in tiers:
            raise ValueError(f"tier {tier!r} has no results{' for suite ' + repr(suite) if suite else ''}; "
                             f"stored tiers: {', '.join(tiers) or '(none)'}")
        frame = frame[frame["tier"] == tier]
    if kinds is not None:
        bad = [k for k in kinds if k not in KINDS]
        if bad:
            raise ValueError(f"kinds: unknown table kind(s) {bad}; valid: {', '.join(KINDS)}")
    frame, other = current_rows(frame, configs)
    stale = no_current_rows_text(frame, other)
    if frame.empty and stale:  # nothing to show: say why instead of printing no table at all
        raise ValueError("; ".join(stale))
    if warn:
        import warnings

        for line in stale:
            warnings.warn(line, UserWarning, stacklevel=2)
    cells = aggregate(frame, warn=warn)
    tables = []
    for (s, t) in dict.fromkeys(zip(cells["suite"], cells["tier"])):
        config = (configs or {}).get((s, t), {})
        order, labels, _ = suite_datasets(config)
        notes = [n for n in (incomplete_text(frame, s, t, config), mixed_versions_text(frame, s, t),
                             other_config_text(other[(s, t)]) if other.get((s, t)) else None) if n]
        for kind in (kinds or table_kinds(s, cells)):
            table = build_table(cells, kind, s, t, order, labels)
            for note in notes:
                table.caption += " " + note
            tables.append(table)
    return tables


#: Columns of :func:`cell_progress`.
PROGRESS_COLUMNS = ["dataset", "method", "label", "n_ae_planned", "fits_stored", "fits_planned"]


def cell_progress(frame: pd.DataFrame, suite: str, tier: str, config: dict) -> pd.DataFrame | None:
    """Per planned cell (data set × method label) of (suite, tier): planned autoencoders, stored and planned fits.

    Columns :data:`PROGRESS_COLUMNS`, one row per cell the config plans, in plan order.  The planned
    fits are :func:`benchmark.protocol.build_tasks` of the config (the last run's, so the data sets
    and methods that run selected); a row of any status in ``frame`` counts as stored.  None without
    a plan (no config recorded, e.g. a hand-made store).  Summed over the cells these are
    :func:`fit_progress`, the count of the tables' "Incomplete" sentence.
    """
    from types import SimpleNamespace

    from benchmark.protocol import build_tasks

    if not config or not config.get("datasets") or not config.get("methods"):
        return None
    plan = SimpleNamespace(name=suite, tier=tier, datasets=config["datasets"], methods=config["methods"])
    rows = frame[(frame["suite"] == suite) & (frame["tier"] == tier)]
    stored = set(zip(rows["dataset"], rows["label"], rows["ae_seed"].astype(int), rows["run_seed"].astype(int)))
    cells: dict[tuple[str, str], dict] = {}
    for f in build_tasks(plan)[1]:
        key = (f.dataset["id"], f.method["label"])
        c = cells.setdefault(key, {"method": f.method["method"], "aes": set(), "fits": set()})
        c["aes"].add(int(f.ae_seed))
        c["fits"].add((*key, int(f.ae_seed), int(f.run_seed)))
    return pd.DataFrame([[d, c["method"], lab, len(c["aes"]), len(c["fits"] & stored), len(c["fits"])]
                         for (d, lab), c in cells.items()], columns=PROGRESS_COLUMNS)


def fit_progress(frame: pd.DataFrame, suite: str, tier: str, config: dict) -> tuple[int, int] | None:
    """(stored, planned): how many of the fits that (suite, tier)'s stored config plans have a row in ``frame``.

    The sums of :func:`cell_progress` over the cells (None without a plan).  The one count behind
    the tables' "Incomplete" sentence, ``cells.csv``'s ``fits_stored`` / ``fits_planned`` and the
    figures' choice of tier (:func:`choose_tier`).
    """
    cells = cell_progress(frame, suite, tier, config)
    if cells is None:
        return None
    return int(cells["fits_stored"].sum()), int(cells["fits_planned"].sum())


def suite_progress(frame: pd.DataFrame, configs: dict | None) -> pd.DataFrame:
    """:func:`cell_progress` of every (suite, tier) in ``frame`` that has a recorded plan, in one frame.

    Columns ``suite``, ``tier``, :data:`PROGRESS_COLUMNS` and ``clusterings`` (the data set's evaluated
    clusterings, :func:`planned_clusterings`, for cells with no stored row to take them from).
    """
    parts = []
    for s, t in dict.fromkeys(zip(frame["suite"], frame["tier"])):
        config = (configs or {}).get((s, t), {})
        cells = cell_progress(frame, s, t, config)
        if cells is None or cells.empty:
            continue
        names = {d: planned_clusterings(config, d) for d in dict.fromkeys(cells["dataset"])}
        parts.append(cells.assign(suite=s, tier=t, clusterings=[names[d] for d in cells["dataset"]]))
    columns = ["suite", "tier", *PROGRESS_COLUMNS, "clusterings"]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


def planned_clusterings(config: dict, dataset: str) -> list[str]:
    """The ground-truth clusterings a suite config evaluates on a data set: its ``clusterings``, else all of the generator's.

    ``[""]`` when neither is known (an entry without a catalogue generator).
    """
    entry = dict(_dataset_entries(config)).get(dataset) or {}
    if isinstance(entry.get("clusterings"), list) and entry["clusterings"]:
        return [str(c) for c in entry["clusterings"]]
    from generators import entry as catalogue_entry

    try:
        return [name for name, _ in catalogue_entry(str(entry.get("generator") or dataset)).clusterings]
    except ValueError:
        return [""]


def incomplete_text(frame: pd.DataFrame, suite: str, tier: str, config: dict) -> str | None:
    """A caption sentence when fits that the suite's stored config plans have no row yet, else None.

    Counted by :func:`fit_progress`.  Without it, a table of a stopped run would read as the
    suite's result.
    """
    progress = fit_progress(frame, suite, tier, config)
    if progress is None or progress[0] == progress[1]:
        return None
    done, planned = progress
    # plain words, no command line: '--' would become a dash in the LaTeX caption
    return (f"Incomplete: {done} of the {planned} planned fits are stored; "
            f"running suite {suite} at tier {tier} again runs the rest.")


@dataclass(frozen=True)
class TierChoice:
    """The tier a figure draws when none is asked for, and why (``note``: None when only one is stored)."""

    tier: str
    note: str | None


def _tier_rank(tier: str) -> int:
    """Higher for a higher tier (paper > standard > quick); a tier nrbench does not define ranks lowest."""
    from benchmark.suites import TIERS

    return TIERS.index(tier) if tier in TIERS else -1


def choose_tier(candidates: pd.DataFrame, configs: dict | None, rows: pd.DataFrame | None = None) -> TierChoice:
    """The most complete tier of ``candidates`` (rows a figure could draw); a tie goes to the higher tier.

    Completeness is the share of a tier's planned fits that are stored (:func:`fit_progress`, the
    count of the tables' "Incomplete" sentence), summed over the suites ``candidates`` holds at that
    tier and counted in ``rows`` (default: ``candidates``; pass all rows of the suites so that fits
    of methods the figure does not draw count too).  A tier without a recorded plan counts as
    complete, as its tables carry no "Incomplete" sentence.  Why not simply the highest tier: a
    paper run stopped after one fit would replace a complete standard figure with one point.
    """
    rows = candidates if rows is None else rows
    progress: dict[str, tuple[int, int] | None] = {}
    for tier in dict.fromkeys(candidates["tier"]):
        counts = [fit_progress(rows, s, tier, (configs or {}).get((s, tier), {}))
                  for s in dict.fromkeys(candidates.loc[candidates["tier"] == tier, "suite"])]
        known = [c for c in counts if c is not None]
        progress[tier] = (sum(c[0] for c in known), sum(c[1] for c in known)) if known else None

    def share(tier: str) -> float:
        p = progress[tier]
        return 1.0 if p is None or p[1] == 0 else p[0] / p[1]

    def state(tier: str) -> str:
        p = progress[tier]
        if p is None:
            return "no recorded plan"
        return "complete" if p[0] == p[1] else f"{p[0]} of {p[1]} fits"

    order = sorted(progress, key=lambda t: (share(t), _tier_rank(t)), reverse=True)
    best, others = order[0], order[1:]
    if not others:
        return TierChoice(best, None)
    tied = [t for t in others if share(t) == share(best)]
    why = state(best)
    if tied:
        why += ", the higher of the equally complete tiers"
    elif share(best) < 1.0:
        why += ", the most complete"
    rest = [f"tier {t!r} {'is' if state(t) == 'complete' else 'has'} {state(t)}"
            for t in sorted(others, key=_tier_rank, reverse=True)]
    return TierChoice(best, f"drawing tier {best!r} ({why}); {', '.join(rest)}; choose another with --tier")


def mixed_versions_text(frame: pd.DataFrame, suite: str, tier: str) -> str | None:
    """The caption sentence naming the nrbench version that wrote the suite's rows ("Mixed versions" for several).

    A run resumed after an upgrade mixes rows of both versions in one table; when the
    new version changed a procedure (e.g. pretraining, f987c2e) the numbers are not
    comparable, and the table must not read as one experiment.  Versions are the
    stored ``code_version`` (release and git commit), listed with their row counts.
    """
    if "code_version" not in frame:
        return None
    rows = frame[(frame["suite"] == suite) & (frame["tier"] == tier)]
    counts = rows["code_version"].fillna("unknown").value_counts().sort_index().sort_values(ascending=False, kind="stable")
    if len(counts) == 1 and counts.index[0] != "unknown":
        # one version: named, so a reader of the paper's table can reproduce it with that release and commit
        return f"Results of {counts.index[0]}."
    if len(counts) < 2:
        return None
    listed = "; ".join(f"{v}: {n} rows" for v, n in counts.items())
    return (f"Mixed versions: the rows come from {len(counts)} versions of nrbench ({listed}); "
            f"rerun the suite into a new store for results from one version.")


def _dataset_entries(config: dict) -> list[tuple[str, dict | None]]:
    """(data-set id, its entry or None) of a resolved suite config, in suite order (lists, dicts and bare ids)."""
    ds = config.get("datasets") if isinstance(config, dict) else None
    items = ds.items() if isinstance(ds, dict) else ((None, d) for d in (ds or []))
    out: list[tuple[str, dict | None]] = []
    for key, d in items:
        if isinstance(d, str):
            out.append((d, None))
            continue
        if not isinstance(d, dict):
            continue
        ident = key or d.get("id") or d.get("name")
        if isinstance(ident, str):
            out.append((ident, d))
    return out


def synth_params(entry: dict | None, ident: str) -> dict | None:
    """The full builder parameters (n, k, seed, rotate) of a SYNTH-k entry of a suite config, defaults filled in.

    None when the entry is not SYNTH-k (its ``generator``, default the id, is not ``synth``), when there
    is no entry (the parameters were not recorded), or when its parameters are not valid ones.  This is
    how reports know which SYNTH-k a stored result is: the rows do not hold the data's parameters, the
    suite config recorded with them does.
    """
    if not isinstance(entry, dict) or (entry.get("generator") or ident) != "synth":
        return None
    params = entry.get("params") or {}
    if not isinstance(params, dict):
        return None
    from generators import resolve_params

    try:
        return resolve_params("synth", **params)
    except (ValueError, TypeError):
        return None


def synth_label(params: dict) -> str:
    """Display name of SYNTH-k with its real parameters: ``SYNTH-2``, ``SYNTH-25``, ``SYNTH-25 (rotated)``."""
    return f"SYNTH-{int(params['k'])}" + (" (rotated)" if params.get("rotate") else "")


def suite_datasets(config: dict) -> tuple[list[str] | None, dict[str, str], dict[str, dict]]:
    """From a resolved suite config: data-set ids in suite order, their display labels and their params.

    A SYNTH-k entry without a label of its own is labelled with its real k (:func:`synth_label`), so
    results for different k can be told apart; without a recorded config it stays ``SYNTH-k``.
    """
    order: list[str] = []
    labels: dict[str, str] = {}
    params: dict[str, dict] = {}
    for ident, d in _dataset_entries(config):
        order.append(ident)
        if d is None:
            continue
        if isinstance(d.get("label"), str) and d["label"] != ident:
            labels[ident] = d["label"]
        elif (synth := synth_params(d, ident)) is not None:
            labels[ident] = synth_label(synth)
        elif isinstance(d.get("label"), str):
            labels[ident] = d["label"]
        if isinstance(d.get("params"), dict):
            params[ident] = d["params"]
    return (order or None), labels, params


def markdown_table(frame: pd.DataFrame, suite: str | None = None, tier: str | None = None,
                   kinds: Sequence[str] | None = None, notes: bool = True, configs: dict | None = None) -> str:
    """Markdown of the tables for a store frame: what ``nrbench run`` prints at the end.

    ``frame`` is ``Store.frame(...)`` (raw rows); the protocol aggregation is applied here.
    ``configs`` (``{(suite, tier): resolved config}``) supplies the suites' data-set order and labels.
    """
    from reports.markdown import render_markdown

    if frame.empty:
        return "(no results)"
    tables = build_tables(frame, suite, tier, kinds, configs=configs, warn=False)
    return "\n\n".join(render_markdown(t, notes=notes) for t in tables)
