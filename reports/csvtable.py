"""CSV output: each table in its printed shape, and the aggregated cells as tidy numbers.

- :func:`table_csv`: the table as shown (text cells ``0.83 ± 0.04``, ``n.a.``,
  ``err[a]``, ``–``; subsets followed by ``*``), as plain text: no Markdown bold,
  so a spreadsheet or ``pandas.read_csv`` gets the values.  Which value is best, the
  caption and the notes are in the LaTeX and Markdown outputs; ``cells.csv`` has the numbers.
- :func:`cells_csv`: one line per (suite, tier, data set, method label, metric,
  clustering) with numeric ``mean``, ``std`` (over ``n_ae - n_missing`` values: ``n_missing``
  autoencoders have no value), ``n_ae``, ``runs_per_ae``,
  ``status``, ``marker`` and the deviations, for further analysis.
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
                     "n_ae", "n_missing", "runs_per_ae", "status", "marker", "deviations", "errors", "reason"]


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


def cells_csv(cells: pd.DataFrame) -> str:
    """Aggregated cells (``reports.aggregate.aggregate``) as tidy CSV text."""
    out = cells[CELLS_CSV_COLUMNS].copy()
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
