"""`nrbench report` and `nrbench plot` end to end on hand-made stores (in-process CLI)."""

from __future__ import annotations

import pandas as pd
import pytest

from benchmark.cli import main
from reports.synthetic import figure_store, tiny_rows, write_rows


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return str(write_rows(tmp_path_factory.mktemp("store") / "s.sqlite", tiny_rows()))


def test_report_markdown_to_stdout(store, capsys):
    assert main(["report", "--store", store, "--suite", "enrc-table1"]) == 0
    out = capsys.readouterr().out
    assert "| Stickfigures | upper | **0.60 ± 0.10** | err[a] | **0.60 ± 0.00** | 0.20 ± 0.00\\* |" in out
    assert "ENRC Table 3 layout" in out and "n.a.\\*" in out


def test_report_latex_files(store, tmp_path, capsys):
    assert main(["report", "--store", store, "--format", "latex", "--out", str(tmp_path)]) == 0
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["acedec-table1-quick-nmi-by-method.tex", "enrc-table1-quick-nmi-by-clustering.tex",
                       "enrc-table1-quick-vi.tex", "tables.tex"]
    doc = (tmp_path / "tables.tex").read_text()
    assert doc.startswith(r"\documentclass{article}") and doc.count(r"\begin{table}") == 3
    assert r"$\mathbf{0.60 \pm 0.10}$" in (tmp_path / "enrc-table1-quick-nmi-by-clustering.tex").read_text()
    assert str(tmp_path / "tables.tex") in capsys.readouterr().out


def test_report_csv_files(store, tmp_path):
    assert main(["report", "--store", store, "--suite", "acedec-table1", "--tier", "quick", "--format", "csv",
                 "--out", str(tmp_path)]) == 0
    grid = pd.read_csv(tmp_path / "acedec-table1-quick-nmi-by-method.csv")
    assert grid.set_index("Method").loc["SubKmeans", "USPS"] == "–"
    cells = pd.read_csv(tmp_path / "cells.csv", keep_default_na=False)
    assert set(cells["suite"]) == {"acedec-table1"}
    ace = cells[(cells["label"] == "ACe/DeC+DCN") & (cells["dataset"] == "synth") & (cells["metric"] == "nmi")]
    assert float(ace["mean"].iloc[0]) == pytest.approx(0.9)


def test_report_compare_paper(store, capsys):
    assert main(["report", "--store", store, "--suite", "enrc-table1", "--compare-paper"]) == 0
    out = capsys.readouterr().out
    assert "Paper vs nrbench: enrc-table1 (quick)" in out
    # a "reproduced" is read with what the result tables say: deviations and the nrbench version
    assert "Deviations from the paper protocol: subset: 500 of 900" in out
    assert "Results of nrbench" in out or "Mixed versions" in out
    assert "| ENRC T1 | Stickfigures | upper | ENRC | 1.00 ± 0.00 | 0.60 ± 0.10 | -0.40 | lower |" in out


def test_report_bad_suite_lists_valid_ones(store, capsys):
    assert main(["report", "--store", store, "--suite", "nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("nrbench report: error: unknown suite 'nope'; valid suites: ")
    assert "enrc-table1" in err and "acedec-table1" in err and "\n" not in err


def test_report_known_suite_not_run_yet(store, capsys):
    assert main(["report", "--store", store, "--suite", "acedec-fig1a"]) == 2
    err = capsys.readouterr().err
    assert "has no results" in err and "nrbench run acedec-fig1a" in err


def test_report_missing_store_and_bad_tier(store, tmp_path, capsys):
    assert main(["report", "--store", str(tmp_path / "none.sqlite")]) == 1
    assert "no result store at" in capsys.readouterr().err
    assert main(["report"]) == 1  # default store under the (empty) NRBENCH_HOME
    capsys.readouterr()
    assert main(["report", "--store", store, "--tier", "paper"]) == 2
    assert "stored tiers: quick" in capsys.readouterr().err
    with pytest.raises(SystemExit) as ei:  # not a tier at all: argparse's usage error
        main(["report", "--store", store, "--tier", "bogus"])
    assert ei.value.code == 2 and "invalid choice: 'bogus'" in capsys.readouterr().err
    assert main(["report", "--store", str(tmp_path)]) == 1
    assert f"{tmp_path} is a directory; --store takes the store file" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["report"], ["plot", "enrc-fig4"]])
def test_a_home_that_is_a_file_is_named_when_the_default_store_is_used(store, tmp_path, capsys, monkeypatch, argv):
    home = tmp_path / "home"
    home.write_text("")
    monkeypatch.setenv("NRBENCH_HOME", str(home))
    assert main(argv) == 2
    assert capsys.readouterr().err == (f"nrbench {argv[0]}: error: $NRBENCH_HOME {home} is a file, not a folder: "
                                       "point NRBENCH_HOME at a folder (it is created if needed)\n")
    assert main(["report", "--store", store, "--suite", "enrc-table1"]) == 0  # a given store does not need it


def test_report_bad_format_is_a_usage_error(store, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["report", "--store", store, "--format", "docx"])
    assert exc.value.code == 2
    assert "invalid choice: 'docx'" in capsys.readouterr().err


def test_plot_writes_png_and_pdf(tmp_path, capsys):
    fstore = figure_store(tmp_path / "f.sqlite")
    out = tmp_path / "figs"
    assert main(["plot", "enrc-fig4", "--store", str(fstore), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["enrc-fig4.pdf", "enrc-fig4.png"]
    assert str(out / "enrc-fig4.png") in capsys.readouterr().out
    # the files say which nrbench wrote the plotted rows
    from PIL import Image

    from benchmark.store import Store

    with Store(fstore) as st:
        versions = sorted({r["code_version"] for r in st.rows("enrc-casestudy")})
    with Image.open(out / "enrc-fig4.png") as im:
        assert im.info.get("Software") == f"results of {', '.join(versions)}"
    assert f"results of {', '.join(versions)}".encode() in (out / "enrc-fig4.pdf").read_bytes()


def test_plot_unknown_figure_lists_valid_ones(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["plot", "fig9"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'fig9'" in err and "acedec-fig1a" in err and "enrc-fig3" in err


def test_plot_missing_artefacts_one_line(store, tmp_path, capsys):
    assert main(["plot", "enrc-fig3", "--store", store, "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "MissingArtefactError" in err and "nrbench run enrc-casestudy" in err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("dataset", [None, "mnist"])
def test_plot_says_the_artefact_files_are_missing_and_what_works(tmp_path, capsys, dataset):
    """A store copied without artefacts/: "produce it with nrbench run" was wrong, as that run finds every fit done."""
    import shutil

    fstore = figure_store(tmp_path / "f.sqlite")
    shutil.rmtree(tmp_path / "artefacts")
    extra = ["--dataset", dataset] if dataset else []
    assert main(["plot", "acedec-fig1b", "--store", str(fstore), "--out", str(tmp_path / "figs"), *extra]) == 1
    err = capsys.readouterr().err
    new = tmp_path / "recomputed.sqlite"
    assert err == (
        "nrbench plot: MissingArtefactError: acedec-fig1b needs artefact(s) recon_input, recon_cluster, recon_shared "
        f"of a run of acedec or acedec-aug, but the artefact files of the 1 run of {fstore} it could draw are missing "
        f"from {tmp_path / 'artefacts'} (was the store copied without its artefacts folder?); a run into this store "
        "would not write them again, as it takes those fits as done. Put the artefacts folder written beside the "
        f"original store back at {tmp_path / 'artefacts'}, or recompute into a new store: `nrbench run acedec-table1 "
        f"--tier quick --store {new}`, then `nrbench plot acedec-fig1b --store {new}"
        + (f" --dataset {dataset}" if dataset else "") + "`\n")
    assert not (tmp_path / "figs").exists()


def test_help_texts(capsys):
    for cmd in ("report", "plot"):
        with pytest.raises(SystemExit) as exc:
            main([cmd, "--help"])
        assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--compare-paper" in out and "lowest" in out and "{latex,md,csv}" in out
    assert "acedec-fig1a" in out and "enrc-casestudy" in out


def test_report_never_turns_an_empty_file_into_a_store(tmp_path, capsys):
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    assert main(["report", "--store", str(empty)]) != 0
    assert "is empty, not a result store" in capsys.readouterr().err
    assert empty.stat().st_size == 0 and sorted(p.name for p in tmp_path.iterdir()) == ["empty.sqlite"]


@pytest.mark.parametrize("argv", [["report", "--format", "csv"], ["plot", "acedec-fig1a"]])
def test_an_out_path_that_is_a_file_is_a_clear_error(store, tmp_path, capsys, argv):
    f = tmp_path / "taken"
    f.write_text("mine")
    assert main([*argv, "--store", store, "--out", str(f)]) == 2
    assert f"--out {f} is a file" in capsys.readouterr().err and f.read_text() == "mine"


@pytest.mark.parametrize("argv", [["report", "--format", "latex"], ["plot", "enrc-fig4"]])
def test_an_out_folder_that_cannot_be_created_is_one_line_exit_2(store, tmp_path, capsys, argv):
    """As `generate --out`: the folder and the OS's reason, no FileNotFoundError traceback line."""
    fstore = str(figure_store(tmp_path / "f.sqlite")) if argv[0] == "plot" else store
    assert main([*argv, "--store", fstore, "--out", "/proc/nrbench-audit"]) == 2
    cap = capsys.readouterr()
    assert cap.err == f"nrbench {argv[0]}: error: --out folder /proc/nrbench-audit is not writable: No such file or " \
                      "directory\n"
    assert cap.out == ""


def test_csv_on_stdout_parses_as_one_table(store, capsys):
    import io

    assert main(["report", "--store", store, "--format", "csv"]) == 0
    cells = pd.read_csv(io.StringIO(capsys.readouterr().out), keep_default_na=False)
    assert {"suite", "tier", "dataset", "label", "metric", "mean", "std", "n_ae", "n_missing"} <= set(cells.columns)
    assert set(cells["suite"]) == {"enrc-table1", "acedec-table1"}


def test_compare_paper_csv_on_stdout_is_one_tidy_csv(store, capsys):
    """It printed one block per suite, each with its own header and no suite or tier column."""
    import io

    assert main(["report", "--store", store, "--compare-paper", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert "\n\n" not in out and out.count("suite,tier,") == 1
    comp = pd.read_csv(io.StringIO(out), keep_default_na=False)
    assert list(comp.columns[:2]) == ["suite", "tier"] and {"paper_mean", "ours_mean", "delta", "verdict"} <= set(comp)
    assert set(comp["suite"]) == {"enrc-table1", "acedec-table1"} and set(comp["tier"]) == {"quick"}
    enrc = comp[(comp["suite"] == "enrc-table1") & (comp["method_label"] == "ENRC") & (comp["clustering"] == "upper")
                & (comp["metric"] == "nmi")]
    assert len(enrc) == 1
    assert (float(enrc["paper_mean"].iloc[0]), float(enrc["ours_mean"].iloc[0])) == (1.0, pytest.approx(0.6))
    assert float(enrc["delta"].iloc[0]) == pytest.approx(-0.4) and enrc["verdict"].iloc[0] == "lower"
    usps = comp[(comp["suite"] == "acedec-table1") & (comp["method_label"] == "k-means") & (comp["metric"] == "nmi")]
    assert usps["dataset_label"].tolist() == ["USPS"] and float(usps["ours_mean"].iloc[0]) == pytest.approx(0.6)


def test_compare_paper_csv_files(store, tmp_path, capsys):
    """--out keeps one table file per suite and tier, and writes the tidy comparison.csv that stdout would show."""
    assert main(["report", "--store", store, "--compare-paper", "--format", "csv", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["acedec-table1-quick-vs-paper.csv", "comparison.csv",
                                                          "enrc-table1-quick-vs-paper.csv"]
    capsys.readouterr()
    assert main(["report", "--store", store, "--compare-paper", "--format", "csv"]) == 0
    assert (tmp_path / "comparison.csv").read_text(encoding="utf-8") == capsys.readouterr().out
    grid = pd.read_csv(tmp_path / "enrc-table1-quick-vs-paper.csv", keep_default_na=False)
    assert list(grid.columns) == ["Table", "Data set", "Clustering", "Method", "Paper", "nrbench", "Δ", "Verdict"]


def _planned_store(tmp_path, suite_name: str, n_fits: int | None = None):
    """A store of a shipped suite's quick tier as `nrbench run` records it, holding its first ``n_fits`` fits."""
    from benchmark.protocol import build_tasks
    from benchmark.suites import resolve
    from reports.synthetic import run_row

    suite = resolve(suite_name, "quick")
    rows = [dict(run_row(t.suite, t.dataset["id"], t.method["method"], t.ae_seed, t.run_seed, label=t.method["label"],
                         params=t.params, clusterings=("cluster",), nmi=(0.5 + 0.1 * t.ae_seed,),
                         n_cluster_dims=3 + t.ae_seed, loss=1.0 + t.run_seed), params_hash=t.key[4])
            for t in build_tasks(suite)[1][:n_fits]]
    return str(write_rows(tmp_path / "s.sqlite", rows, suites={(suite.name, "quick"): suite.to_config()}))


def _cells(argv, capsys) -> pd.DataFrame:
    """The CSV `nrbench report ... --format csv` prints, as read back (empty fields as "")."""
    import io

    assert main(argv) == 0
    return pd.read_csv(io.StringIO(capsys.readouterr().out), keep_default_na=False)


def _at(cells: pd.DataFrame, label: str, metric: str) -> pd.Series:
    """The one line of ``cells`` of a method label and metric."""
    sub = cells[(cells["label"] == label) & (cells["metric"] == metric)]
    assert len(sub) == 1, sub
    return sub.iloc[0]


def test_cells_csv_of_an_interrupted_run_carries_the_planned_counts(tmp_path, capsys):
    """The audit's repro: 4 of acedec-table3's 12 quick fits stored; the CSV said n_ae=1, n_missing=0."""
    store = _planned_store(tmp_path, "acedec-table3", n_fits=4)  # AE 0: SubKmeans and AE+SubKmeans, 2 runs each
    assert main(["report", "--store", store]) == 0
    assert "Incomplete: 4 of the 12 planned fits are stored" in capsys.readouterr().out
    cells = _cells(["report", "--store", store, "--format", "csv"], capsys)
    cols = ["n_ae", "n_ae_planned", "n_missing", "n_na", "fits_stored", "fits_planned", "status"]
    assert _at(cells, "SubKmeans", "dims")[cols].tolist() == [1, 2, 1, 0, 2, 4, "ok"]
    assert _at(cells, "AE+SubKmeans", "nmi")[cols].tolist() == [1, 2, 1, 0, 2, 4, "ok"]
    # ACe/DeC has not started: its cell is there, as missing, not left out
    ace = cells[cells["label"] == "ACe/DeC+DCN"]
    assert ace["metric"].tolist() == ["nmi", "vi", "dims"] and ace["clustering"].tolist() == ["cluster", "", ""]
    assert ace[cols].values.tolist() == [[0, 2, 2, 0, 0, 4, "missing"]] * 3 and (ace["mean"] == "").all()
    # the per-cell counts add up to the caption's
    per_cell = cells.drop_duplicates(["suite", "tier", "dataset", "label"])
    assert (per_cell["fits_stored"].sum(), per_cell["fits_planned"].sum()) == (4, 12)


def test_cells_csv_tells_not_applicable_from_missing(tmp_path, capsys):
    """A VI that cannot exist (shown n.a.) read as missing data: n_missing was n_ae."""
    store = _planned_store(tmp_path, "acedec-table3")  # complete: 12 of 12
    cells = _cells(["report", "--store", store, "--format", "csv"], capsys)
    cols = ["n_ae", "n_ae_planned", "n_missing", "n_na", "fits_stored", "fits_planned", "status"]
    assert _at(cells, "SubKmeans", "vi")[cols].tolist() == [2, 2, 0, 2, 4, 4, "n.a."]
    assert _at(cells, "SubKmeans", "dims")[cols].tolist() == [2, 2, 0, 0, 4, 4, "ok"]
    assert float(_at(cells, "SubKmeans", "dims")["mean"]) == pytest.approx(3.5)
    assert set(cells["status"]) == {"ok", "n.a."} and (cells["n_missing"] == 0).all()


def test_cells_csv_without_a_recorded_plan_leaves_the_planned_counts_empty(store, capsys):
    cells = _cells(["report", "--store", store, "--suite", "enrc-table1", "--format", "csv"], capsys)
    row = _at(cells, "ISAAC", "vi")
    assert (row["n_ae"], row["n_na"], row["status"]) == (2, 2, "n.a.")
    assert (row["n_ae_planned"], row["n_missing"], row["fits_stored"], row["fits_planned"]) == ("", "", "", "")


def test_plot_says_which_tier_it_draws_and_why(tmp_path, capsys):
    """quick complete, paper barely started: the complete tier is drawn and the terminal says why."""
    from benchmark.protocol import build_tasks
    from benchmark.suites import resolve
    from reports.synthetic import run_row

    rows, configs = [], {}
    for tier, n in (("quick", None), ("paper", 1)):
        suite = resolve("acedec-fig1a", tier)
        configs[("acedec-fig1a", tier)] = suite.to_config()
        rows += [dict(run_row(t.suite, t.dataset["id"], t.method["method"], t.ae_seed, t.run_seed, tier=tier,
                              label=t.method["label"], params=t.method["params"], nmi=(0.7,)), params_hash=t.key[4])
                 for t in build_tasks(suite)[1][:n]]
    path = write_rows(tmp_path / "t.sqlite", rows, suites=configs)
    # a subprocess: pytest records warnings in-process, the CLI prints them on stderr
    import os
    import subprocess
    import sys

    env = dict(os.environ, NRBENCH_HOME=str(tmp_path))
    argv = [sys.executable, "-m", "benchmark.cli", "plot", "acedec-fig1a", "--store", str(path),
            "--out", str(tmp_path / "figs")]
    res = subprocess.run(argv, capture_output=True, env=env, text=True, timeout=300, check=False)
    assert res.returncode == 0, res.stderr
    assert res.stderr == ("nrbench: note: drawing tier 'quick' (complete); tier 'paper' has 1 of 480 fits; choose "
                          "another with --tier\n")
    assert res.stdout.splitlines() == [str(tmp_path / "figs" / f"acedec-fig1a.{x}") for x in ("png", "pdf")]
    res = subprocess.run([*argv, "--tier", "quick"], capture_output=True, env=env, text=True, timeout=300, check=False)
    assert res.returncode == 0 and res.stderr == "", res.stderr


def test_plot_help_names_the_default_tier_rule(capsys):
    with pytest.raises(SystemExit):
        main(["plot", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "default: the most complete stored tier" in out and "a tie going to the higher tier" in out
    assert "the highest stored" not in out
