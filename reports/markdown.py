"""Markdown rendering of :class:`reports.tables.Table` (GitHub pipe tables).

Best values in ``**bold**``, ``*`` after subsets/approximations (escaped as
``\\*``), ``err`` with a footnote letter in brackets (``err[a]``), ``–`` for
skipped cells; the caption above and the notes below the table.
"""

from __future__ import annotations

from reports.tables import Cell, Table


def _md(text: str) -> str:
    return str(text).replace("|", "\\|")


def markdown_cell(cell: Cell) -> str:
    """One cell's Markdown."""
    text = f"**{cell.text}**" if cell.bold and cell.kind in ("value", "text") and cell.text else cell.text
    if cell.star:
        text += "\\*"
    if cell.notes:
        text += "".join(f"[{m}]" for m in cell.notes)
    return _md(text)


def render_markdown(table: Table, notes: bool = True, caption: bool = True) -> str:
    """The table as Markdown: a title line, the caption, the pipe table and its notes."""
    header = [*table.row_header, *table.columns]
    lines = [f"**{_md(table.title)}**", ""]
    if caption:
        lines += [_md(table.caption), ""]
    lines.append("| " + " | ".join(_md(h) for h in header) + " |")
    lines.append("|" + "|".join(["---"] * len(table.row_header) + [":---:"] * len(table.columns)) + "|")
    previous = None
    for key, line in zip(table.rows, table.cells):
        shown = list(key)
        if len(key) > 1:
            if key[0] == previous:
                shown[0] = ""
            previous = key[0]
        lines.append("| " + " | ".join([*(_md(k) for k in shown), *(markdown_cell(c) for c in line)]) + " |")
    if notes and table.notes:
        lines.append("")
        lines += [f"- {_md(n)}" for n in table.notes]
    return "\n".join(lines)
