"""CSV output: each table in its printed shape, and the aggregated cells as tidy numbers.

- :func:`table_csv`: the table as shown (text cells ``0.83 ± 0.04``, ``n.a.``,
  ``err[a]``, ``–``; subsets followed by ``*``), as plain text: no Markdown bold,
  so a spreadsheet or ``pandas.read_csv`` gets the values.  Which value is best, the
  caption and the notes are in the LaTeX and Markdown outputs; ``cells.csv`` has the numbers.
- :func:`cells_csv`: one line per (suite, tier, data set, method label, metric,
  clustering) with numeric ``mean``, ``std`` (over ``n_ae - n_na`` values), the counts below,
  ``runs_per_ae``, ``status``, ``marker`` and the deviations, for further analysis.

  ``n_ae``: autoencoders with a stored ``ok`` run (per autoencoder the protocol's selected run);
  ``n_ae_planned``: the autoencoders the suite's recorded plan has for the cell;
  ``n_missing = n_ae_planned - n_ae``: planned autoencoders without an ``ok`` run (not run yet,
  failed or skipped), i.e. missing data; ``n_na``: autoencoders whose selected run has no value
  because the value does not exist for it (a VI with fewer than two clusterings found, cluster
  dimensions of a method without a cluster space), so a cell shown ``n.a.`` has ``n_na = n_ae``
  and, when complete, ``n_missing = 0``; ``fits_stored`` / ``fits_planned``: the cell's planned
  fits with a stored row (any status) and all its planned fits
  (``reports.tables.cell_progress``).  Summed over a suite and tier's cells (one per data set
  and method label) they are the tables' caption "Incomplete: <stored> of the <planned> planned
  fits".  A planned cell with no stored fit yet has a line too, with ``status`` ``missing``.  The
  planned counts and ``n_missing`` are empty where no plan is recorded (a hand-made store).
- :func:`comparison_csv`: the paper comparison (``reports.published.compare``) in the same tidy
  form, one line per (suite, tier, published value), with numeric means, stds and differences.

Both tidy CSVs hold every suite and tier in one table (``suite`` and ``tier`` columns, one
header), so ``nrbench report --format csv`` prints one CSV that parses as such.
"""

from __future__ import annotations

import io
import json

import pandas as pd

from reports.tables import Cell, Table

CELLS_CSV_COLUMNS = ["suite", "tier", "dataset", "method", "label", "metric", "clustering", "mean", "std",
                     "n_ae", "n_ae_planned", "n_missing", "n_na", "fits_stored", "fits_planned", "runs_per_ae",
                     "status", "marker", "deviations", "errors", "reason"]

#: ``status`` of a planned cell none of whose fits is stored yet (``cells.csv`` only: tables show no such cell).
MISSING = "missing"

#: The metrics of every cell, in ``reports.aggregate.aggregate``'s order (NMI once per clustering).
_CELL_METRICS = ("nmi", "vi", "dims")


def plain_cell(cell: Cell) -> str:
    """One cell as plain text: the value, ``*`` for a subset or approximation, ``[a]`` note marks."""
    return cell.text + ("*" if cell.star else "") + "".join(f"[{m}]" for m in cell.notes)


def table_frame(table: Table) -> pd.DataFrame:
    """The table's grid as a DataFrame of plain display strings."""
    records = []
    for key, line in zip(table.rows, table.cells):
        rec = dict(zip(table.row_header, key))
        for col, cell in zip(table.columns, line):
            rec[col] = plain_cell(cell)
        records.append(rec)
    return pd.DataFrame.from_records(records, columns=[*table.row_header, *table.columns])


def table_csv(table: Table) -> str:
    """The table grid as CSV text."""
    buf = io.StringIO()
    table_frame(table).to_csv(buf, index=False)
    return buf.getvalue()


def cells_frame(cells: pd.DataFrame, progress: pd.DataFrame | None = None) -> pd.DataFrame:
    """Aggregated cells with the planned and stored counts of ``progress`` (``reports.tables.suite_progress``).

    Columns :data:`CELLS_CSV_COLUMNS` (their meaning is in the module docstring).  Cells of
    ``progress`` that ``cells`` lacks (nothing stored yet) are added with status :data:`MISSING`.
    """
    out = cells.copy()
    out["n_na"] = out["n_missing"].astype(int)  # aggregate's count: selected runs without the value
    plan = {} if progress is None else {
        (r.suite, r.tier, r.dataset, r.label): r for r in progress.itertuples(index=False)}
    keys = list(zip(out["suite"], out["tier"], out["dataset"], out["label"]))
    for col in ("n_ae_planned", "fits_stored", "fits_planned"):
        out[col] = pd.array([getattr(plan[k], col) if k in plan else pd.NA for k in keys], dtype="Int64")
    out["n_missing"] = out["n_ae_planned"] - pd.array(out["n_ae"].astype(int), dtype="Int64")
    have = set(keys)
    extra = []
    for key, r in plan.items():
        if key in have:
            continue
        base = {"suite": r.suite, "tier": r.tier, "dataset": r.dataset, "method": r.method, "label": r.label,
                "mean": float("nan"), "std": float("nan"), "n_ae": 0, "n_ae_planned": r.n_ae_planned,
                "n_missing": r.n_ae_planned, "n_na": 0, "fits_stored": r.fits_stored, "fits_planned": r.fits_planned,
                "runs_per_ae": 0, "status": MISSING, "marker": "", "deviations": (), "errors": (), "reason": ""}
        extra += [{**base, "metric": m, "clustering": c}
                  for m in _CELL_METRICS for c in (r.clusterings if m == "nmi" else [""])]
    if extra:
        out = pd.concat([out[CELLS_CSV_COLUMNS], pd.DataFrame(extra, columns=CELLS_CSV_COLUMNS)], ignore_index=True)
        for col in ("n_ae_planned", "n_missing", "fits_stored", "fits_planned"):
            out[col] = out[col].astype("Int64")
    return out[CELLS_CSV_COLUMNS].reset_index(drop=True)


def cells_csv(cells: pd.DataFrame, progress: pd.DataFrame | None = None) -> str:
    """Aggregated cells (``reports.aggregate.aggregate``) as tidy CSV text; ``progress`` as for :func:`cells_frame`."""
    out = cells_frame(cells, progress)
    out["deviations"] = [json.dumps(list(d), ensure_ascii=False) for d in out["deviations"]]
    out["errors"] = [json.dumps(list(e), ensure_ascii=False) for e in out["errors"]]
    buf = io.StringIO()
    out.to_csv(buf, index=False, float_format="%.6g")
    return buf.getvalue()


def comparison_csv(comparison: pd.DataFrame) -> str:
    """The paper comparison (``reports.published.compare``) as tidy CSV text: one header, every suite and tier."""
    from reports.published import COMPARE_COLUMNS

    buf = io.StringIO()
    comparison[COMPARE_COLUMNS].to_csv(buf, index=False, float_format="%.6g")
    return buf.getvalue()
