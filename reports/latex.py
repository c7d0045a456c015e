"""LaTeX rendering of :class:`reports.tables.Table`: booktabs, as in the papers.

Values are typeset as ``$0.83 \\pm 0.04$``, the best in ``\\mathbf``, subsets and
approximations with ``$^*$``, failed cells as ``err`` with a superscript letter
explained under the table, skipped cells as ``--``.  The caption sits above the
tabular (both papers' style).  :func:`latex_document` wraps tables in a minimal
standalone article that compiles with pdflatex from texlive-latex-base and
texlive-latex-recommended (packages: booktabs, graphicx).

Every emitted character is ASCII (:func:`latex_escape`), so a table file compiles inside
any paper's preamble that loads booktabs and graphicx (``\\resizebox``) with pdflatex, whatever its inputenc/fontenc, and with xelatex or
lualatex: Greek letters and math symbols become math, typography and accented letters
LaTeX kernel commands (2020 or later).  A character without a mapping is written as
``[U+XXXX]`` and warned about, never dropped and never an error: such text often comes from
an exception message stored hours earlier, and the report must still be produced.
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
#: Non-ASCII symbols and their LaTeX.  Only commands of the LaTeX kernel (2020 or later, which
#: includes textcomp) and plain math: a table file is ``\input`` into the user's paper, whose
#: preamble we do not know, so the output must not need amssymb, fontenc T1 or inputenc (every
#: token is ASCII).  Math tokens are ``$...$`` so that :func:`latex_escape` can join neighbours.
_SYMBOLS = {
    # math relations and operators
    "±": r"$\pm$", "∓": r"$\mp$", "×": r"$\times$", "÷": r"$\div$", "·": r"$\cdot$", "∘": r"$\circ$",
    "≤": r"$\leq$", "≥": r"$\geq$", "≠": r"$\neq$", "≈": r"$\approx$", "≡": r"$\equiv$", "∼": r"$\sim$",
    "≃": r"$\simeq$", "≅": r"$\cong$", "∝": r"$\propto$", "≪": r"$\ll$", "≫": r"$\gg$",
    "∞": r"$\infty$", "√": r"$\surd$", "∑": r"$\sum$", "∏": r"$\prod$", "∫": r"$\int$",
    "∂": r"$\partial$", "∇": r"$\nabla$", "∀": r"$\forall$", "∃": r"$\exists$", "∈": r"$\in$",
    "∉": r"$\notin$", "⊂": r"$\subset$", "⊆": r"$\subseteq$", "⊃": r"$\supset$", "⊇": r"$\supseteq$",
    "∩": r"$\cap$", "∪": r"$\cup$", "∅": r"$\emptyset$", "∧": r"$\wedge$", "∨": r"$\vee$",
    "¬": r"$\neg$", "⊕": r"$\oplus$", "⊗": r"$\otimes$", "∖": r"$\setminus$", "∣": r"$\mid$",
    "⊥": r"$\perp$", "∥": r"$\parallel$", "′": r"$'$", "″": r"$''$", "ℓ": r"$\ell$", "µ": r"$\mu$",
    "→": r"$\rightarrow$", "←": r"$\leftarrow$", "↔": r"$\leftrightarrow$", "↑": r"$\uparrow$",
    "↓": r"$\downarrow$", "⇒": r"$\Rightarrow$", "⇐": r"$\Leftarrow$", "⇔": r"$\Leftrightarrow$",
    "•": r"$\bullet$", "∗": "*", "−": "-",
    # check marks: amssymb's \checkmark would need a package the user's paper may not load
    "✓": r"$\surd$", "✔": r"$\surd$", "✗": r"$\times$", "✘": r"$\times$",
    # typography
    "–": "--", "—": "---", "‒": "--", "―": "---", "‐": "-", "‑": "-", "…": r"\ldots{}",
    "‘": "`", "’": "'", "‚": ",", "“": "``", "”": "''", "„": ",,",
    "\u00a0": "~", "\u2009": r"\,", "\u202f": r"\,", "\u2002": r"\enspace{}", "\u2003": r"\quad{}",
    "\u00ad": r"\-",
    "°": r"\textdegree{}", "‰": r"\textperthousand{}", "§": r"\S{}", "¶": r"\P{}", "©": r"\copyright{}",
    "®": r"\textregistered{}", "™": r"\texttrademark{}", "†": r"\dag{}", "‡": r"\ddag{}",
    "£": r"\pounds{}", "€": r"\texteuro{}", "¥": r"\textyen{}", "¢": r"\textcent{}",
    "¡": r"\textexclamdown{}", "¿": r"\textquestiondown{}",
    "½": r"\textonehalf{}", "¼": r"\textonequarter{}", "¾": r"\textthreequarters{}",
    # Latin letters that are not a base letter plus an accent
    "ß": r"\ss{}", "ẞ": "SS", "æ": r"\ae{}", "Æ": r"\AE{}", "œ": r"\oe{}", "Œ": r"\OE{}", "ø": r"\o{}",
    "Ø": r"\O{}", "ł": r"\l{}", "Ł": r"\L{}", "ı": r"\i{}", "ȷ": r"\j{}",
    "ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl",
    # super- and subscripts
    "⁻": r"\textsuperscript{-}", "⁺": r"\textsuperscript{+}", "₋": r"\textsubscript{-}", "₊": r"\textsubscript{+}",
    **{ch: rf"\textsuperscript{{{d}}}" for d, ch in enumerate("⁰¹²³⁴⁵⁶⁷⁸⁹")},
    **{ch: rf"\textsubscript{{{d}}}" for d, ch in enumerate("₀₁₂₃₄₅₆₇₈₉")},
}

#: Combining marks (what NFD splits an accented letter into) and the LaTeX accent for each.
#: The ogonek (\k) is left out: it exists only in the T1 font encoding, not in LaTeX's default OT1.
_ACCENTS = {
    "\u0300": "`", "\u0301": "'", "\u0302": "^", "\u0303": "~", "\u0304": "=", "\u0306": "u", "\u0307": ".",
    "\u0308": '"', "\u030a": "r", "\u030b": "H", "\u030c": "v", "\u0323": "d", "\u0327": "c", "\u0331": "b",
    "\u0326": "c",  # comma below (Romanian ș, ț): OT1 has no such accent; the cedilla is the usual stand-in
}
#: Accents placed below the letter; the others sit above, where i and j lose their dot (``\i``, ``\j``).
_BELOW = {"\u0323", "\u0326", "\u0327", "\u0331"}

#: How a character without a LaTeX mapping is written: visible in the PDF and searchable, never dropped.
UNKNOWN_FORMAT = "[U+{:04X}]"

#: Characters of the text shown either side of an unmapped one in the warning (a caption is long).
WARN_CONTEXT = 30


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


def _accented(ch: str) -> str | None:
    """A Latin letter with accents as LaTeX accent commands (é -> ``\\'{e}``, ǘ -> ``\\'{\\"{u}}``), else None."""
    base, *marks = unicodedata.normalize("NFD", ch)
    if not marks or not ("a" <= base.lower() <= "z") or any(m not in _ACCENTS for m in marks):
        return None
    tok = base
    if base in "ij" and any(m not in _BELOW for m in marks):
        tok = "\\" + base  # the dotless i / j under an accent above
    for m in marks:
        tok = f"\\{_ACCENTS[m]}{{{tok}}}"
    return tok


def _unknown(ch: str, text: str, i: int, where: str) -> str:
    """The visible stand-in of a character without a LaTeX mapping, with a warning naming it and its text.

    Not an error: such text often comes from an exception message or a user's label, after
    hours of runs, and one odd character must not stop the report; not dropped either, so the
    author sees in the PDF where it was (the warning says which character and which text:
    ``text`` around its position ``i``, cut to :data:`WARN_CONTEXT` characters either side).
    """
    import warnings

    name = unicodedata.name(ch, "unnamed character")
    lo, hi = max(0, i - WARN_CONTEXT), i + WARN_CONTEXT + 1
    excerpt = ("..." if lo > 0 else "") + text[lo:hi] + ("..." if hi < len(text) else "")
    stand_in = UNKNOWN_FORMAT.format(ord(ch))
    warnings.warn(f"LaTeX has no mapping for U+{ord(ch):04X} {name} ({ch!r}) in {where or 'the text'} {excerpt!r}; "
                  f"it is written as {stand_in}: change the label, or replace it in the .tex",
                  UserWarning, stacklevel=3)
    return stand_in


def latex_escape(text: str, where: str = "") -> str:
    """``text`` as LaTeX for any preamble: specials escaped, every other character made ASCII.

    Greek letters and common symbols become math (λ -> ``$\\lambda$``, ≠ -> ``$\\neq$``), typography
    and accented Latin letters text commands (– -> ``--``, é -> ``\\'{e}``, ß -> ``\\ss{}``).  The
    output is plain ASCII, so it compiles with pdflatex whether or not the document loads inputenc
    or fontenc (and with xelatex/lualatex).  A character with no mapping is written as
    :data:`UNKNOWN_FORMAT` (``[U+2603]``) with a warning naming it and ``where`` it came from.
    """
    out: list[str] = []
    math_open = False  # adjacent math symbols share one $...$
    text = unicodedata.normalize("NFC", str(text))  # a decomposed "e" + U+0301 is one é
    for i, ch in enumerate(text):
        if ch in _SPECIAL:
            tok = _SPECIAL[ch]
        elif ord(ch) < 128:
            tok = ch
        elif ch in _SYMBOLS:
            tok = _SYMBOLS[ch]
        else:
            tok = _greek(ch) or _accented(ch) or _unknown(ch, text, i, where)
        is_math = tok.startswith("$") and tok.endswith("$") and len(tok) > 2
        if is_math and math_open:
            out[-1] = out[-1][:-1] + tok[1:]
        else:
            out.append(tok)
        math_open = is_math
    return "".join(out)


def label_key(name: str) -> str:
    """``name`` as a ``\\label`` key: ASCII letters, digits and ``._:+-`` (accents dropped, others ``-``)."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    return re.sub(r"[^A-Za-z0-9._:+-]", "-", plain)


def latex_cell(cell: Cell, where: str = "") -> str:
    """One cell's LaTeX; ``where`` names the cell in a warning about its text (see :func:`latex_escape`)."""
    marks = "".join(rf"\textsuperscript{{{m}}}" for m in cell.notes)
    star = "$^*$" if cell.star else ""
    if cell.kind == "value":
        body = cell.text.replace(f" {PM} ", r" \pm ")
        body = rf"$\mathbf{{{body}}}$" if cell.bold else f"${body}$"
        return body + star + marks
    if cell.kind == "text":
        text = latex_escape(cell.text, where)
        return (rf"\textbf{{{text}}}" if cell.bold else text) + star + marks
    if cell.kind == "err":
        return "err" + marks + star
    if cell.kind == "skipped":
        return "--"
    if cell.kind == "n.a.":
        return "n.a." + star
    return ""


def _row(cells: list[str]) -> str:
    """One tabular row.  A first cell starting with ``[`` gets a ``{}`` before it: after ``\\\\`` or
    ``\\midrule`` LaTeX would read ``[...]`` as their optional length (an error, or a swallowed label)."""
    if cells and cells[0].startswith("["):
        cells = ["{}" + cells[0], *cells[1:]]
    return " & ".join(cells) + r" \\"


def render_latex(table: Table, label: str | None = None) -> str:
    """A ``table`` float with a booktabs tabular, caption, label and notes (ASCII; see :func:`latex_escape`)."""
    n_key = len(table.row_header)
    spec = "l" * n_key + "c" * len(table.columns)
    at = f"table {table.name}:"  # where a character without LaTeX mapping came from
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{latex_escape(table.caption, f'{at} the caption')}}}",
        rf"\label{{tab:{label_key(label or table.name)}}}",
        r"\resizebox{\ifdim\width>\linewidth\linewidth\else\width\fi}{!}{%",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        _row([latex_escape(h, f"{at} the column header") for h in [*table.row_header, *table.columns]]),
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
        row = " / ".join(map(str, key))
        lines.append(_row([*(latex_escape(k, f"{at} the row label") for k in shown),
                           *(latex_cell(c, f"{at} the cell of row {row!r}, column {col!r}")
                             for col, c in zip(table.columns, line))]))
    lines += [r"\bottomrule", r"\end{tabular}}"]
    if table.notes:
        lines.append(r"\par\smallskip{\footnotesize")
        lines += [latex_escape(n, f"{at} the note") + r"\par" for n in table.notes]
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


__all__ = ["DASH", "UNKNOWN_FORMAT", "label_key", "latex_cell", "latex_document", "latex_escape", "render_latex"]
