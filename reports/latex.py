"""LaTeX rendering of :class:`reports.tables.Table`: booktabs, as in the papers.

Values are typeset as ``$0.83 \\pm 0.04$``, the best in ``\\mathbf``, subsets and
approximations with ``$^*$``, failed cells as ``err`` with a superscript letter
explained under the table, skipped cells as ``--``.  The caption sits above the
tabular (both papers' style).  :func:`latex_document` wraps tables in a minimal
standalone article that compiles with pdflatex from texlive-latex-base and
texlive-latex-recommended (packages: booktabs, graphicx).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from reports.tables import DASH, PM, Cell, Table

_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "|": r"$|$", "<": r"$<$", ">": r"$>$",  # OT1 text fonts have no such glyphs
}
_SYMBOLS = {
    "±": r"$\pm$", "–": "--", "—": "---", "×": r"$\times$", "≤": r"$\leq$", "≥": r"$\geq$",
    "→": r"$\rightarrow$", "…": r"\ldots{}", "∗": "*", "·": r"$\cdot$", "≈": r"$\approx$",
    "⁻": r"\textsuperscript{-}", "¹": r"\textsuperscript{1}", "²": r"\textsuperscript{2}",
    "³": r"\textsuperscript{3}", "‰": r"\textperthousand{}", "−": "-",
}


#: Greek capitals that LaTeX writes as the Latin letters they look like (there is no ``\Alpha``).
_LATIN_CAPITALS = {"alpha": "A", "beta": "B", "epsilon": "E", "zeta": "Z", "eta": "H", "iota": "I",
                   "kappa": "K", "mu": "M", "nu": "N", "omicron": "O", "rho": "P", "tau": "T", "chi": "X"}


def _greek(ch: str) -> str | None:
    try:
        name = unicodedata.name(ch)
    except ValueError:
        return None
    base = unicodedata.normalize("NFD", ch)[0]
    if base != ch:  # accented (tonos, dialytika): the plain letter
        return _greek(base)
    if name == "GREEK SMALL LETTER FINAL SIGMA":
        return r"$\varsigma$"
    m = re.fullmatch(r"GREEK (SMALL|CAPITAL) LETTER (\w+)", name)
    if not m:
        return None
    letter = m.group(2).lower().replace("lamda", "lambda")
    if m.group(1) == "CAPITAL":
        if letter in _LATIN_CAPITALS:  # LaTeX has no \Alpha: these capitals are Latin letters
            return _LATIN_CAPITALS[letter]
        letter = letter.capitalize()
    elif letter == "omicron":
        return "o"
    return f"$\\{letter}$"


def latex_escape(text: str) -> str:
    """Escape LaTeX specials and map Greek letters and common symbols to math (λ -> ``$\\lambda$``)."""
    out: list[str] = []
    math_open = False  # adjacent math symbols share one $...$
    for ch in str(text):
        if ch in _SPECIAL:
            tok = _SPECIAL[ch]
        elif ch in _SYMBOLS:
            tok = _SYMBOLS[ch]
        elif ord(ch) > 127 and (g := _greek(ch)) is not None:
            tok = g
        else:
            tok = ch
        is_math = tok.startswith("$") and tok.endswith("$") and len(tok) > 2
        if is_math and math_open:
            out[-1] = out[-1][:-1] + tok[1:]
        else:
            out.append(tok)
        math_open = is_math
    return "".join(out)


def latex_cell(cell: Cell) -> str:
    """One cell's LaTeX."""
    marks = "".join(rf"\textsuperscript{{{m}}}" for m in cell.notes)
    star = "$^*$" if cell.star else ""
    if cell.kind == "value":
        body = cell.text.replace(f" {PM} ", r" \pm ")
        body = rf"$\mathbf{{{body}}}$" if cell.bold else f"${body}$"
        return body + star + marks
    if cell.kind == "text":
        return (rf"\textbf{{{latex_escape(cell.text)}}}" if cell.bold else latex_escape(cell.text)) + star + marks
    if cell.kind == "err":
        return "err" + marks + star
    if cell.kind == "skipped":
        return "--"
    if cell.kind == "n.a.":
        return "n.a." + star
    return ""


def render_latex(table: Table, label: str | None = None) -> str:
    """A ``table`` float with a booktabs tabular, caption, label and notes."""
    n_key = len(table.row_header)
    spec = "l" * n_key + "c" * len(table.columns)
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{latex_escape(table.caption)}}}",
        rf"\label{{tab:{label or table.name}}}",
        r"\resizebox{\ifdim\width>\linewidth\linewidth\else\width\fi}{!}{%",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(latex_escape(h) for h in [*table.row_header, *table.columns]) + r" \\",
        r"\midrule",
    ]
    previous = None
    for key, line in zip(table.rows, table.cells):
        shown = list(key)
        if n_key > 1:
            if previous is not None and key[0] != previous:
                lines.append(r"\midrule")
            if key[0] == previous:
                shown[0] = ""
            previous = key[0]
        lines.append(" & ".join([*(latex_escape(k) for k in shown), *(latex_cell(c) for c in line)]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}}"]
    if table.notes:
        lines.append(r"\par\smallskip{\footnotesize")
        lines += [latex_escape(n) + r"\par" for n in table.notes]
        lines.append("}")
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def latex_document(tables: Iterable[Table] | Iterable[str]) -> str:
    """A standalone article holding the tables (``Table`` objects or rendered LaTeX strings)."""
    body = [t if isinstance(t, str) else render_latex(t) for t in tables]
    return "\n".join([
        r"\documentclass{article}",
        r"\usepackage[utf8]{inputenc}",
        r"\usepackage{booktabs}",
        r"\usepackage{graphicx}",
        r"\begin{document}",
        *body,
        r"\end{document}",
        "",
    ])


__all__ = ["DASH", "latex_cell", "latex_document", "latex_escape", "render_latex"]
