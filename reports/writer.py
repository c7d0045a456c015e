"""Render tables in one format, to a string or to files: what ``nrbench report`` does.

:func:`report` is the whole command minus argument parsing: read the store,
aggregate with the protocol, build the tables (or the paper comparison) and
render them as LaTeX, Markdown or CSV.  With an output folder it writes

- ``<suite>-<tier>-<kind>.<ext>``: one file per table;
- ``tables.tex`` (LaTeX): a standalone document holding every table (pdflatex-ready);
- ``cells.csv`` (CSV): the aggregated numbers in tidy form (mean, std, n_ae, ...);
- ``comparison.csv`` (CSV with the paper comparison): the comparison in tidy form.

CSV without an output folder prints the tidy file (``cells.csv``, or ``comparison.csv`` with the
paper comparison): the tables have different columns, so printed one after the other they would
not parse as one CSV.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from benchmark.fileio import check_writable
from reports.catalog import TABLE_FORMATS
from reports.tables import Table

#: The tidy CSV files of ``--format csv --out DIR``: the aggregated cells, and the paper comparison.
CELLS_CSV = "cells.csv"
COMPARISON_CSV = "comparison.csv"


@dataclass
class ReportResult:
    """What :func:`report` produced: the rendered text and any files written."""

    text: str
    files: list[Path] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)


def render(table: Table, fmt: str) -> str:
    """One table in ``fmt`` (``latex``, ``md`` or ``csv``)."""
    if fmt == "latex":
        from reports.latex import render_latex

        return render_latex(table)
    if fmt == "md":
        from reports.markdown import render_markdown

        return render_markdown(table)
    if fmt == "csv":
        from reports.csvtable import table_csv

        return table_csv(table)
    raise ValueError(f"format must be one of {', '.join(TABLE_FORMATS)}; got {fmt!r}")


def check_suite(suite: str | None, frame: pd.DataFrame, store: str) -> None:
    """A ``--suite`` that is not stored: say whether it is unknown (list the suites) or just not run yet."""
    if suite is None:
        return
    stored = sorted(set(frame["suite"]))
    if suite in stored:
        return
    from benchmark.suites import available

    known = available()
    if suite not in known:
        raise ValueError(f"unknown suite {suite!r}; valid suites: {', '.join(known)}")
    raise ValueError(f"suite {suite!r} has no results in {store}; stored suites: {', '.join(stored) or '(none)'}"
                     f" (run `nrbench run {suite}`)")


def _cells_text(frame: Any, store: Any, suite: str | None, tier: str | None) -> str:
    """``cells.csv``: the tidy numbers of the same rows the tables use (the current configurations)."""
    from reports.aggregate import aggregate
    from reports.csvtable import cells_csv
    from reports.source import current_rows, normalise_frame, suite_configs
    from reports.tables import suite_progress

    configs = suite_configs(store)
    sub, _ = current_rows(normalise_frame(frame), configs)
    sub = sub[sub["suite"] == suite] if suite else sub
    sub = sub[sub["tier"] == tier] if tier else sub
    # the planned counts, as the captions' "Incomplete" sentence counts them
    return cells_csv(aggregate(sub, warn=False), suite_progress(sub, configs))


def _caption_notes(tables: list, frame: Any, cells: Any, configs: dict, other: dict) -> None:
    """Give the paper comparison the sentences the result tables carry, so a "reproduced" is read in context.

    The deviations (e.g. procedural stick figures, reduced budgets), an incomplete run, rows of
    other configurations left out, and the nrbench version(s).
    """
    from reports.source import other_config_text
    from reports.tables import _deviations_text, incomplete_text, mixed_versions_text, suite_datasets

    for t in tables:
        s, tr = t.suite, t.tier
        sub = cells[(cells["suite"] == s) & (cells["tier"] == tr)]
        labels = suite_datasets(configs.get((s, tr), {}))[1]  # the data sets as the result tables name them
        extra = [_deviations_text(sub, labels), incomplete_text(frame, s, tr, configs.get((s, tr), {})),
                 other_config_text(other[(s, tr)]) if other.get((s, tr)) else None,
                 mixed_versions_text(frame, s, tr)]
        t.caption += "".join(" " + x for x in extra if x)


def report(store: str | Path | None = None, suite: str | None = None, tier: str | None = None,
           fmt: str = "md", out: str | Path | None = None, compare_paper: bool = False) -> ReportResult:
    """Build the tables of a store (or the paper comparison) in ``fmt``; write them under ``out`` if given."""
    from reports.aggregate import aggregate
    from reports.source import current_rows, load_runs, normalise_frame, suite_configs
    from reports.tables import build_tables

    if fmt not in TABLE_FORMATS:
        raise ValueError(f"format must be one of {', '.join(TABLE_FORMATS)}; got {fmt!r}")
    frame = load_runs(store)
    check_suite(suite, frame, frame.attrs.get("store_path", str(store)))
    if frame.empty:
        raise ValueError(f"the store {frame.attrs.get('store_path')} holds no results yet (run `nrbench run SUITE`)")
    tidy: str | None = None  # the tidy CSV (comparison or cells) when fmt is csv
    if compare_paper:
        from reports.published import compare, comparison_tables
        from reports.source import no_current_rows_text

        sub, other = current_rows(normalise_frame(frame), suite_configs(store))
        sub = sub[sub["suite"] == suite] if suite else sub
        stale = [x for x in no_current_rows_text(sub, other) if suite is None or x.startswith(f"{suite} [")]
        if sub.empty and stale:
            raise ValueError("; ".join(stale))
        if tier is not None:
            if tier not in set(sub["tier"]):
                raise ValueError(f"tier {tier!r} has no results; stored tiers: {', '.join(sorted(set(sub['tier'])))}")
            sub = sub[sub["tier"] == tier]
        cells = aggregate(sub, warn=False)
        configs = suite_configs(store)
        tables = comparison_tables(cells, configs=configs)
        _caption_notes(tables, sub, cells, configs, other)
        if fmt == "csv":
            from reports.csvtable import comparison_csv

            tidy = comparison_csv(compare(cells, configs=configs))
    else:
        tables = build_tables(frame, suite, tier, configs=suite_configs(store))
        if fmt == "csv":
            tidy = _cells_text(frame, store, suite, tier)
    rendered = [render(t, fmt) for t in tables]
    # one CSV on stdout must parse: the tables have different columns, so print the tidy numbers
    # (every suite and tier, one header) instead of the tables one after the other
    text = tidy if tidy is not None else "\n\n".join(rendered)
    files: list[Path] = []
    if out is not None:
        out_dir = Path(out)
        if out_dir.exists() and not out_dir.is_dir():
            raise ValueError(f"--out {out_dir} is a file; it takes a folder for the table files")
        check_writable(out_dir, "--out folder")  # created; one line naming it when it cannot be
        ext = TABLE_FORMATS[fmt]
        for t, body in zip(tables, rendered):
            p = out_dir / f"{t.name}.{ext}"
            p.write_text(body, encoding="utf-8")
            files.append(p)
        if fmt == "latex":
            from reports.latex import latex_document

            p = out_dir / "tables.tex"
            p.write_text(latex_document(rendered), encoding="utf-8")
            files.append(p)
        if tidy is not None:
            p = out_dir / (COMPARISON_CSV if compare_paper else CELLS_CSV)
            p.write_text(tidy, encoding="utf-8")
            files.append(p)
    return ReportResult(text=text, files=files, tables=tables)
