"""Tables in the papers' layouts from a hand-made store: values, bold, *, n.a., err, skipped, formats."""

from __future__ import annotations

import io
import shutil
import subprocess

import pandas as pd
import pytest

from benchmark.metrics import NMI_CAPTION, VI_CAPTION
from reports import tables as T
from reports.aggregate import aggregate
from reports.csvtable import cells_csv, table_csv
from reports.latex import latex_document, latex_escape, render_latex
from reports.markdown import render_markdown
from reports.source import load_runs
from reports.synthetic import tiny_rows, write_rows


@pytest.fixture(scope="module")
def frame(tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "s.sqlite"
    return load_runs(write_rows(path, tiny_rows()))


@pytest.fixture(scope="module")
def tables(frame):
    return {t.kind + ":" + t.suite: t for t in T.build_tables(frame)}


def _grid(table: T.Table) -> dict[tuple, T.Cell]:
    return {(tuple(r), c): cell for r, line in zip(table.rows, table.cells) for c, cell in zip(table.columns, line)}


def test_enrc_table1_layout_values_bold_star_err(tables):
    t = tables["nmi-by-clustering:enrc-table1"]
    assert t.row_header == ["Data set", "Clustering"]
    assert t.rows == [["Stickfigures", "upper"], ["Stickfigures", "lower"]]
    assert t.columns == ["ENRC", "Orth1", "NrKmeans", "ISAAC"]  # the paper's column order
    g = _grid(t)
    up, lo = ("Stickfigures", "upper"), ("Stickfigures", "lower")
    assert g[(up, "ENRC")].text == "0.60 ± 0.10" and g[(up, "ENRC")].bold
    assert g[(up, "NrKmeans")].text == "0.60 ± 0.00" and g[(up, "NrKmeans")].bold  # a tie: both bold
    assert g[(lo, "ENRC")].text == "0.50 ± 0.10" and g[(lo, "ENRC")].bold
    assert not g[(lo, "NrKmeans")].bold and g[(lo, "NrKmeans")].text == "0.30 ± 0.00"
    assert g[(up, "ISAAC")].star and not g[(up, "ISAAC")].bold and g[(up, "ISAAC")].text == "0.20 ± 0.00"
    assert g[(up, "Orth1")].kind == "err" and g[(up, "Orth1")].notes == ("a",)
    assert any(n.startswith("(a) err: RuntimeError: boom") for n in t.notes)
    assert any("Skipped data set C-MNIST: raw MNIST files not found" in n for n in t.notes)


def test_enrc_caption_states_protocol_and_deviations(tables):
    cap = tables["nmi-by-clustering:enrc-table1"].caption
    assert "tier quick" in cap
    assert "over 2 autoencoders (1 for Orth1 on Stickfigures)" in cap  # Orth1 lost one AE to an error
    assert "best of 2 (ENRC); 1 (Orth1, NrKmeans, ISAAC) runs per autoencoder" in cap
    assert "selected by the method's own loss (never by NMI)" in cap and NMI_CAPTION in cap
    assert "subset: 500 of 900 (ISAAC on Stickfigures)" in cap


def test_vi_table_na_and_no_bold(tables):
    t = tables["vi:enrc-table1"]
    assert t.row_header == ["Method"] and t.columns == ["Stickfigures"]
    g = _grid(t)
    assert g[(("ENRC",), "Stickfigures")].text == "2.10 ± 0.10"
    assert g[(("NrKmeans",), "Stickfigures")].text == "1.60 ± 0.10"
    isaac = g[(("ISAAC",), "Stickfigures")]
    assert isaac.text == "n.a." and isaac.kind == "n.a." and isaac.star
    assert not any(c.bold for c in g.values())
    assert VI_CAPTION in t.caption


def test_acedec_table1_columns_bold_and_skipped_cell(tables):
    t = tables["nmi-by-method:acedec-table1"]
    assert [r[0] for r in t.rows] == ["ACe/DeC+DCN", "DCN λ=0.1", "k-means", "SubKmeans"]
    assert t.columns == ["SYNTH-k", "USPS"]
    g = _grid(t)
    assert g[(("ACe/DeC+DCN",), "SYNTH-k")].text == "0.90 ± 0.10"
    assert g[(("k-means",), "SYNTH-k")].text == "0.90 ± 0.00"
    assert g[(("ACe/DeC+DCN",), "SYNTH-k")].bold and g[(("k-means",), "SYNTH-k")].bold
    assert not g[(("SubKmeans",), "SYNTH-k")].bold  # 0.80
    assert g[(("SubKmeans",), "USPS")].text == "–" and g[(("SubKmeans",), "USPS")].kind == "skipped"
    assert any("skipped: stopped for run time [SubKmeans on USPS]" in n for n in t.notes)
    assert "Best value per data set in bold" in t.caption


def test_dims_table(frame):
    cells = aggregate(frame)
    t = T.build_table(cells, T.DIMS, "acedec-table1", "quick")
    g = _grid(t)
    assert g[(("ACe/DeC+DCN",), "SYNTH-k")].text == "4.0 ± 1.0"
    assert g[(("SubKmeans",), "SYNTH-k")].text == "2.0"  # one autoencoder: no "± 0.0" spread
    assert [r[0] for r in t.rows] == ["ACe/DeC+DCN", "SubKmeans"]  # no cluster space: no row
    assert NMI_CAPTION not in t.caption and "β_cs > 0.5" in t.caption
    # the beta weighting is named, with what "linear" implies for the count
    assert "β weighting 'linear'" in t.caption and "tends to the embedding size" in t.caption
    sq = frame.copy()
    sq["params"] = [{"beta_weighting": "squared"} if m == "acedec" else p for m, p in zip(sq["method"], sq["params"])]
    t2 = T.build_table(aggregate(sq), T.DIMS, "acedec-table1", "quick")
    assert "β weighting 'squared'" in t2.caption and "embedding size" not in t2.caption


def test_suite_config_sets_dataset_order_and_labels(frame):
    cfg = {("acedec-table1", "quick"): {"datasets": [{"id": "usps", "label": "USPS"},
                                                     {"id": "synth", "label": "SYNTH-25"}]}}
    t = T.build_tables(frame, "acedec-table1", "quick", configs=cfg)[0]
    assert t.columns == ["USPS", "SYNTH-25"]


def test_latex_booktabs_bold_marks_and_compiles(tables, tmp_path):
    tex = render_latex(tables["nmi-by-clustering:enrc-table1"])
    for token in (r"\toprule", r"\midrule", r"\bottomrule", r"$\mathbf{0.60 \pm 0.10}$", r"$0.30 \pm 0.00$",
                  r"err\textsuperscript{a}", r"$0.20 \pm 0.00$$^*$", r"\caption{", r"\label{tab:enrc-table1-quick"):
        assert token in tex, token
    assert "n.a.$^*$" in render_latex(tables["vi:enrc-table1"])
    assert r"DCN $\lambda$=0.1" in render_latex(tables["nmi-by-method:acedec-table1"])
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex not installed (CI installs texlive-latex-base + texlive-latex-recommended)")
    (tmp_path / "t.tex").write_text(latex_document(tables.values()), encoding="utf-8")
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert (tmp_path / "t.pdf").stat().st_size > 1000


def test_latex_escape():
    assert latex_escape("a_b & 50% #1 {x}") == r"a\_b \& 50\% \#1 \{x\}"
    assert latex_escape("λ=0.1 ± β") == r"$\lambda$=0.1 $\pm$ $\beta$"
    assert latex_escape("λβ") == r"$\lambda\beta$"
    assert latex_escape("|Δ| ≤ 0.02 < 1") == r"$|\Delta|$ $\leq$ 0.02 $<$ 1"


def test_every_greek_letter_compiles(tmp_path):
    """A user's label or an error message may hold any Greek letter; LaTeX has no \\Alpha or \\omicron."""
    import unicodedata

    greek = "".join(chr(c) for c in range(0x391, 0x3CA) if unicodedata.name(chr(c), "").startswith("GREEK"))
    assert latex_escape("ΑΒΟ ο ς Ω") == r"ABO o $\varsigma$ $\Omega$"
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex not installed (CI installs texlive-latex-base + texlive-latex-recommended)")
    (tmp_path / "g.tex").write_text("\\documentclass{article}\\begin{document}" + latex_escape(greek)
                                    + "\\end{document}\n", encoding="utf-8")
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "g.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:]


def test_markdown_contents(tables):
    md = render_markdown(tables["nmi-by-clustering:enrc-table1"])
    assert "| Data set | Clustering | ENRC | Orth1 | NrKmeans | ISAAC |" in md
    assert "| Stickfigures | upper | **0.60 ± 0.10** | err[a] | **0.60 ± 0.00** | 0.20 ± 0.00\\* |" in md
    assert "|  | lower | **0.50 ± 0.10** |" in md
    assert "- (a) err: RuntimeError: boom [Orth1 on Stickfigures]" in md


def test_csv_contents(tables, frame):
    grid = pd.read_csv(io.StringIO(table_csv(tables["nmi-by-clustering:enrc-table1"])))
    assert list(grid.columns) == ["Data set", "Clustering", "ENRC", "Orth1", "NrKmeans", "ISAAC"]
    # plain values (no Markdown bold, which the Markdown table above has), '*' for the subset
    assert grid.loc[0, "ENRC"] == "0.60 ± 0.10" and grid.loc[0, "ISAAC"] == "0.20 ± 0.00*"
    assert not grid.map(lambda v: "**" in str(v)).any().any()
    assert grid.loc[1, "Orth1"] == "err[a]"
    tidy = pd.read_csv(io.StringIO(cells_csv(aggregate(frame))), keep_default_na=False)
    row = tidy[(tidy["label"] == "ENRC") & (tidy["metric"] == "nmi") & (tidy["clustering"] == "upper")
               & (tidy["dataset"] == "stickfigures")].iloc[0]
    assert float(row["mean"]) == pytest.approx(0.6) and float(row["std"]) == pytest.approx(0.1)
    assert int(row["n_ae"]) == 2 and row["status"] == "ok"


def test_markdown_table_for_nrbench_run(frame):
    md = T.markdown_table(frame, suite="enrc-table1")
    assert "ENRC Table 1 layout" in md and "ENRC Table 3 layout" in md and "ACe/DeC" not in md
    assert T.markdown_table(frame.iloc[0:0]) == "(no results)"
    cfg = {("acedec-table1", "quick"): {"datasets": [{"id": "synth", "label": "SYNTH-25"}]}}
    assert "| Method | SYNTH-25 | USPS |" in T.markdown_table(frame, suite="acedec-table1", configs=cfg)


def test_synth_is_labelled_with_its_real_k():
    """SYNTH-k results for different k must be told apart: the recorded params give the label."""
    def labels(*entries):
        return T.suite_datasets({"datasets": list(entries)})[1]

    assert labels({"id": "synth", "label": "synth", "generator": "synth", "params": {"n": 400, "k": 2}}) == {
        "synth": "SYNTH-2"}
    assert labels({"id": "synth", "label": "synth", "generator": "synth", "params": {}}) == {"synth": "SYNTH-25"}
    assert labels({"id": "synth", "params": {"k": 25, "rotate": True}}) == {"synth": "SYNTH-25 (rotated)"}
    assert labels({"id": "noise", "label": "noise", "generator": "synth", "params": {"k": 10}}) == {"noise": "SYNTH-10"}
    # a label the suite gives is kept; without recorded params the k is unknown
    assert labels({"id": "synth", "label": "My SYNTH", "generator": "synth", "params": {"k": 2}}) == {
        "synth": "My SYNTH"}
    assert T.dataset_label("synth") == "SYNTH-k"


def test_tables_of_two_synth_suites_name_their_k(frame):
    cfg = {("acedec-table1", "quick"): {"datasets": [{"id": "synth", "label": "synth", "generator": "synth",
                                                      "params": {"k": 2}}]}}
    t = T.build_tables(frame, "acedec-table1", "quick", configs=cfg)[0]
    assert t.columns == ["SYNTH-2", "USPS"]


def test_dataset_labels_and_natural_order():
    assert T.dataset_label("synth-10") == "SYNTH-10" and T.dataset_label("nrobjects") == "NR-Objects"
    assert T.dataset_label("mnist-test", {"mnist-test": "MNIST-Test"}) == "MNIST-Test"
    assert T.dataset_label("cmnist", {"cmnist": "cmnist"}) == "C-MNIST"
    assert sorted(["synth-25", "synth-100", "synth-5"], key=T._natural) == ["synth-5", "synth-25", "synth-100"]


def test_table_kinds(frame):
    cells = aggregate(frame)
    assert T.table_kinds("enrc-table1", cells) == (T.NMI_BY_CLUSTERING, T.VI)
    assert T.table_kinds("acedec-table3", cells) == (T.DIMS,)
    other = cells.assign(suite="my-suite")
    assert T.table_kinds("my-suite", other[other["dataset"] == "stickfigures"]) == (T.NMI_BY_CLUSTERING, T.VI)
    assert T.table_kinds("my-suite", other[other["dataset"] == "synth"]) == (T.NMI_BY_METHOD, T.DIMS)


def test_bad_input_names_the_parameter(frame):
    with pytest.raises(ValueError, match="stored suites: acedec-table1, enrc-table1"):
        T.build_tables(frame, suite="nope")
    with pytest.raises(ValueError, match="stored tiers: quick"):
        T.build_tables(frame, suite="enrc-table1", tier="paper")
    with pytest.raises(ValueError, match="kind must be one of"):
        T.build_table(aggregate(frame), "table9", "enrc-table1", "quick")


def test_vi_over_fewer_autoencoders_is_footnoted(tmp_path):
    from reports.synthetic import run_row

    rows = [run_row("enrc-table1", "gtsrb", "isaac", ae, label="ISAAC", clusterings=("type", "color"),
                    nmi=(0.5, 0.5), vi=v) for ae, v in enumerate((1.25, None, 1.75))]
    t = T.build_tables(load_runs(write_rows(tmp_path / "s.sqlite", rows)), kinds=[T.VI])[0]
    assert t.cells[0][0].text == "1.50 ± 0.25" and t.cells[0][0].notes == ("a",)
    assert "(a) ISAAC on GTSRB: over 2 of 3 autoencoders (the others found no second clustering)" in t.notes
    assert r"$1.50 \pm 0.25$\textsuperscript{a}" in render_latex(t)


def test_footnotes_are_listed_in_letter_order():
    notes = T._Notes()
    assert notes.note("over 1 of 2 autoencoders") == "a"
    assert notes.error("RuntimeError: boom", "X on Y") == "b"
    notes.skip("no raw files", "Z")
    assert notes.lines() == ["(a) over 1 of 2 autoencoders", "(b) err: RuntimeError: boom [X on Y]",
                             "–: skipped: no raw files [Z]"]


#: Characters a user or an error message may put into a label, caption or note (the brief's list and more).
NON_ASCII = "≠ √ ∞ ✓ ≈ ≤ ≥ × ° … – — ‘’ “” é ü ß ï ç ǘ ș Ø æ œ ł µ ½ ± € ™ x₀ x⁵ ﬁ → ⇒ ∈ ∅ ¬ · • ′ −"


def test_latex_escape_non_ascii_exact():
    """Math symbols as math, typography and accented letters as kernel commands: exact strings."""
    assert latex_escape("a ≠ b") == r"a $\neq$ b"
    assert latex_escape("√∞") == r"$\surd\infty$"  # adjacent math shares one $...$
    assert latex_escape("✓") == r"$\surd$"  # amssymb's \checkmark would need a package the paper may not load
    assert latex_escape("10° – 20°") == r"10\textdegree{} -- 20\textdegree{}"
    assert latex_escape("a—b…") == r"a---b\ldots{}"
    assert latex_escape("“it’s”") == "``it's''"
    assert latex_escape("Café Zürich Straße") == r"Caf\'{e} Z\"{u}rich Stra\ss{}e"
    assert latex_escape("naïve") == r"na\"{\i}ve"  # the dotless i under an accent
    assert latex_escape("ǘ") == r"\'{\"{u}}"
    assert latex_escape("e\u0301") == r"\'{e}"  # decomposed input: one letter
    assert latex_escape("λ≠β") == r"$\lambda\neq\beta$"
    assert latex_escape("x₀ x²") == r"x\textsubscript{0} x\textsuperscript{2}"
    assert latex_escape("a\u00a0b") == "a~b"
    assert latex_escape("≈ ≤ ≥ ×") == r"$\approx$ $\leq$ $\geq$ $\times$"


def test_latex_escape_output_is_ascii_for_every_mapped_character():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # none of these may fall through to the stand-in
        out = latex_escape(NON_ASCII)
    assert out.isascii(), [c for c in out if not c.isascii()]
    assert "[U+" not in out


def test_a_character_without_mapping_is_shown_and_warned_not_dropped():
    with pytest.warns(UserWarning, match=r"U\+2603 SNOWMAN \('☃'\) in a label 'snow☃man'; it is written as "
                                         r"\[U\+2603\]"):
        assert latex_escape("snow☃man", "a label") == "snow[U+2603]man"
    long = "x" * 100 + "☃" + "y" * 100  # a long caption: the warning quotes the part around the character
    with pytest.warns(UserWarning, match=r"in a caption '\.\.\.x{30}☃y{30}\.\.\.'; it is written as"):
        assert latex_escape(long, "a caption") == "x" * 100 + "[U+2603]" + "y" * 100
    table = T.Table(name="s-quick-nmi", kind="nmi", title="t", row_header=["Method"], rows=[["A☃"]],
                    columns=["X"], cells=[[T.Cell("0.50", kind="value")]], caption="c")
    with pytest.warns(UserWarning, match=r"in table s-quick-nmi: the row label 'A☃'"):
        tex = render_latex(table)
    assert "A[U+2603] &" in tex


def test_label_key_is_ascii():
    from reports.latex import label_key

    assert label_key("enrc-table1-quick-nmi-by-clustering") == "enrc-table1-quick-nmi-by-clustering"
    assert label_key("my_suite-quick") == "my_suite-quick"
    assert label_key("Zürich ☃ & 1") == "Zurich-----1"


def test_a_table_of_non_ascii_labels_compiles(tmp_path):
    """Every character of NON_ASCII in a caption, header, row label, text cell and note; the unknown ☃ too."""
    chars = NON_ASCII.split() + ["☃"]
    table = T.Table(
        name="süite-quick-nmi", kind="nmi", title="t", row_header=["Méthode ≠"], rows=[[c] for c in chars],
        columns=["λ ✓ é", "Straße"],
        cells=[[T.Cell("0.50 ± 0.01", kind="value"), T.Cell(f"{c} text", kind="text", bold=True)] for c in chars],
        caption=f"Caption {NON_ASCII}.", notes=[f"(a) err: ValueError: {NON_ASCII} ☃"])
    with pytest.warns(UserWarning, match="U\\+2603 SNOWMAN"):
        tex = render_latex(table)
    assert tex.isascii() and r"\label{tab:suite-quick-nmi}" in tex
    assert "\n{}[U+2603] & " in tex  # a row starting with "[" is not read as the optional length of \\
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex not installed (CI installs texlive-latex-base + texlive-latex-recommended)")
    # the caption is a moving argument: \listoftables writes it to the .aux and reads it back on the second pass
    doc = latex_document([tex]).replace(r"\begin{document}", "\\begin{document}\n\\listoftables", 1)
    (tmp_path / "u.tex").write_text(doc, encoding="ascii")
    for _ in range(2):
        proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "u.tex"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stdout[-2000:]
    log = (tmp_path / "u.log").read_text(errors="replace")
    assert "Missing character" not in log  # no glyph silently dropped by the font
    # and inside a paper that loads nothing at all (the tables are \input into unknown preambles)
    bare = "\\documentclass{article}\n\\usepackage{booktabs,graphicx}\n\\begin{document}\n" + tex + "\\end{document}\n"
    (tmp_path / "b.tex").write_text(bare, encoding="ascii")
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "b.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:]
