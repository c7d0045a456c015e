"""Published numbers as data (benchmark/published/*.csv) and the paper-vs-nrbench comparison."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from reports.aggregate import aggregate
from reports.markdown import render_markdown
from reports.published import (
    PUBLISHED_COLUMNS,
    canonical_dataset,
    compare,
    comparison_tables,
    load_published,
    parse_variant,
    unmatched,
    variant_of,
    verdict,
)
from reports.source import load_runs
from reports.synthetic import run_row, tiny_rows, write_rows


@pytest.fixture(scope="module")
def published() -> pd.DataFrame:
    return load_published()


def _one(df: pd.DataFrame, **eq) -> pd.Series:
    m = pd.Series(True, index=df.index)
    for k, v in eq.items():
        m &= df[k] == v
    sub = df[m]
    assert len(sub) == 1, sub
    return sub.iloc[0]


def test_csvs_parse_with_the_expected_shape(published):
    assert list(published.columns) == PUBLISHED_COLUMNS + ["source"]
    counts = published.groupby("source").size().to_dict()
    assert counts == {"enrc_table1.csv": 54, "enrc_table3.csv": 24, "acedec_table1.csv": 56,
                      "acedec_table1_aug.csv": 28, "acedec_table3.csv": 12}
    assert set(published["metric"]) == {"nmi", "vi", "dims"}
    numeric = published.dropna(subset=["mean"])
    assert numeric["mean"].between(0, 10).all()


def test_spot_values(published):
    enrc = _one(published, paper="enrc-aaai2020", table="1", dataset="nrobjects", clustering="color", method="enrc")
    assert (enrc["mean"], enrc["std"]) == (1.00, 0.00)
    ace = _one(published, paper="acedec-ijcai2021", table="1", dataset="mnist", method="acedec")
    assert (ace["mean"], ace["std"]) == (0.89, 0.01) and ace["dataset_label"] == "MNIST-Full"
    msc = _one(published, table="1", dataset="cmnist", clustering="left", method="msc")
    assert msc["mean"] == 0.07 and msc["marker"] == "*"
    isaac = _one(published, table="3", metric="vi", dataset="gtsrb", method="isaac")
    assert math.isnan(isaac["mean"]) and isaac["marker"] == "n.a."
    sub = _one(published, table="1", dataset="objects", method="subkmeans")
    assert math.isnan(sub["mean"]) and sub["marker"] == "–"
    dcn = _one(published, table="1", dataset="gtsrb", method="dcn", variant="lambda=10.0")
    assert (dcn["mean"], dcn["std"]) == (0.24, 0.19)
    aug = _one(published, table="1 (+Aug)", dataset="usps", method="dcn", variant="aug;lambda=10.0")
    assert (aug["mean"], aug["std"]) == (0.78, 0.05)
    dims = _one(published, table="3", metric="dims", dataset="mnist", method="acedec")
    assert dims["mean"] == 6


def test_filter_by_paper(published):
    assert set(load_published("enrc")["paper"]) == {"enrc-aaai2020"}
    with pytest.raises(ValueError, match="paper must be one of"):
        load_published("nope")


def test_variants_and_datasets():
    assert variant_of("dcn", "DCN λ=0.1", {"lambda_": 0.1}) == ("dcn", False, 0.1)
    assert variant_of("dcn", "DCN λ=10.0", {}) == ("dcn", False, 10.0)
    assert variant_of("acedec-aug", "ACe/DeC+DCN +Aug", {}) == ("acedec", True, None)
    assert variant_of("dcn-aug", "DCN +Aug λ=1.0", {"lambda_": 1.0}) == ("dcn", True, 1.0)
    assert parse_variant("aug;lambda=0.1") == (True, 0.1)
    with pytest.raises(ValueError, match="variant"):
        parse_variant("beta=3")
    # SYNTH-k is the paper's SYNTH-25 only with k = 25 unrotated: the recorded params ({} = the generator's
    # defaults) decide, not the id; a plain "synth" whose params were not recorded is not known to be SYNTH-25
    assert canonical_dataset("synth", {}) == canonical_dataset("synth-25") == "synth-25"
    assert canonical_dataset("synth", {"k": 25, "n": 400}) == "synth-25"
    assert canonical_dataset("synth", {"n": 400, "k": 2}) == "synth-2"
    assert canonical_dataset("synth", {"rotate": True}) == "synth-25-rot"
    assert canonical_dataset("noise25", {"k": 25}, generator="synth") == "synth-25"
    assert canonical_dataset("synth-25", {"k": 10}, generator="synth") == "synth-10"
    assert canonical_dataset("synth") == "synth"
    assert canonical_dataset("mnist-full") == "mnist"


def test_verdict_rule():
    assert verdict(0.85, 0.01, 0.87, 0.02) == "reproduced"  # within std_paper + std_ours
    assert verdict(0.70, 0.0, 0.89, 0.01) == "lower"
    assert verdict(0.99, 0.0, 0.89, 0.01) == "higher"
    assert verdict(0.885, 0.0, 0.89, 0.0) == "reproduced"  # below rounding noise


def test_compare_lines_up_ours_with_the_paper(tmp_path):
    rows = [
        run_row("acedec-table1", "mnist", "acedec", ae, label="ACe/DeC+DCN", clusterings=("digit",), nmi=(v,))
        for ae, v in enumerate((0.88, 0.90))
    ] + [
        run_row("acedec-table1", "mnist", "dcn", ae, label="DCN λ=10.0", params={"lambda_": 10.0},
                clusterings=("digit",), nmi=(0.40,))
        for ae in range(2)
    ] + [
        run_row("acedec-fig4", "mnist", "dcn", 0, label="DCN λ=10.0 lr=0.0001", params={"lambda_": 10.0, "lr": 1e-4},
                clusterings=("digit",), nmi=(0.1,)),
    ]
    cells = aggregate(load_runs(write_rows(tmp_path / "s.sqlite", rows)))
    comp = compare(cells)
    assert set(comp["suite"]) == {"acedec-table1"}  # the learning-rate grid is not a table entry
    ace = _one(comp, method_label="ACe/DeC+DCN", table="1")
    assert ace["paper_mean"] == 0.89 and ace["ours_mean"] == pytest.approx(0.89)
    assert ace["delta"] == pytest.approx(0.0) and ace["verdict"] == "reproduced"
    dcn = _one(comp, method_label="DCN λ=10.0", table="1")
    assert dcn["delta"] == pytest.approx(-0.30) and dcn["verdict"] == "lower"
    dims = _one(comp, method_label="ACe/DeC+DCN", table="3")  # no dimensions stored: shown, not compared
    assert dims["verdict"] == "n.a." and math.isnan(dims["delta"])
    assert len(unmatched(cells)) == len(load_published()) - 3

    t = comparison_tables(cells)[0]
    assert t.columns == ["Paper", "nrbench", "Δ", "Verdict"]
    md = render_markdown(t)
    assert "| ACE/DeC T1 |" not in md
    assert "| ACe/DeC T1 | MNIST-Full |  | ACe/DeC+DCN | 0.89 ± 0.01 | 0.89 ± 0.01 | +0.00 | **reproduced** |" in md
    assert "| -0.30 | lower |" in md
    assert "1 of 2 compared values reproduced" in t.caption
    # the note counts what is missing from the tables this suite reproduces, not from every paper table
    here = set(zip(comp["paper"], comp["table"]))
    pub = load_published()
    n_here = sum((p, tb) in here for p, tb in zip(pub["paper"], pub["table"]))
    assert 3 < n_here < len(pub)
    assert t.notes == [f"{n_here - 3} published values of ACe/DeC T1, ACe/DeC T3 have no result in this suite "
                       "and tier (not run)."]


def test_compare_enrc_multi_clustering_and_vi(tmp_path):
    frame = load_runs(write_rows(tmp_path / "s.sqlite", tiny_rows()))
    comp = compare(aggregate(frame))
    upper = _one(comp, method_label="ENRC", clustering="upper", metric="nmi")
    assert upper["paper_mean"] == 1.00 and upper["ours_mean"] == pytest.approx(0.6)
    vi = _one(comp, method_label="ENRC", metric="vi", dataset_label="Stickfigures")
    assert vi["paper_mean"] == 2.20 and vi["ours_mean"] == pytest.approx(2.1) and vi["verdict"] == "reproduced"
    isaac_vi = _one(comp, method_label="ISAAC", metric="vi", dataset_label="Stickfigures")
    assert isaac_vi["verdict"] == "n.a."
    orth = _one(comp, method_label="Orth1", clustering="upper")
    assert orth["verdict"] == "err" and math.isnan(orth["delta"])


def test_no_overlap_is_a_clear_error(tmp_path):
    rows = [run_row("x", "toy", "kmeans", 0, label="k-means")]
    cells = aggregate(load_runs(write_rows(tmp_path / "s.sqlite", rows)))
    with pytest.raises(ValueError, match="corresponds to a published"):
        comparison_tables(cells)


def test_a_difference_below_the_shown_digits_is_not_minus_zero(tmp_path):
    rows = [run_row("acedec-table1", "mnist", "acedec", ae, label="ACe/DeC+DCN", clusterings=("digit",), nmi=(v,))
            for ae, v in enumerate((0.878, 0.90))]  # mean 0.889 against the paper's 0.89: Δ = -0.001
    md = render_markdown(comparison_tables(aggregate(load_runs(write_rows(tmp_path / "s.sqlite", rows))))[0])
    assert "| 0.89 ± 0.01 | 0.89 ± 0.01 | +0.00 | **reproduced** |" in md and "-0.00" not in md


def _suite_store(tmp_path, params: str, nmi: float = 1.0, methods: tuple[str, ...] = ("kmeans",),
                 deviations: dict[str, list[str]] | None = None):
    """A store of a custom suite (SYNTH with ``params``, ``methods``, 2 AEs) as `nrbench run` records it.

    The suite config and one row per planned fit; ``deviations`` (method -> list) are stored with its rows.
    """
    from benchmark.protocol import build_tasks
    from benchmark.suites import resolve

    path = tmp_path / "my.toml"
    path.write_text(f'name = "my"\ndescription = "custom SYNTH"\n[datasets.synth]\nparams = {params}\n'
                    'preprocessing = []\n' + "".join(f"[methods.{m}]\n" for m in methods) + '[tiers.quick]\n'
                    'protocol = { n_autoencoders = 2, runs_per_autoencoder = 1 }\n[tiers.paper]\n')
    suite = resolve(path, "quick")
    rows = [dict(run_row(t.suite, t.dataset["id"], t.method["method"], t.ae_seed, t.run_seed, label=t.method["label"],
                         params=t.params, clusterings=("cluster",), nmi=(nmi,),
                         deviations=(deviations or {}).get(t.method["method"], ())), params_hash=t.key[4])
            for t in build_tasks(suite)[1]]
    return write_rows(tmp_path / "s.sqlite", rows, suites={("my", "quick"): suite.to_config()})


def test_synth_with_another_k_is_not_compared_with_synth25(tmp_path, capsys):
    """The audit's repro: SYNTH with k = 2 was judged against the paper's SYNTH-25 ("reproduced")."""
    from benchmark.cli import main
    from reports.source import suite_configs

    store = _suite_store(tmp_path, "{ n = 400, k = 2 }")
    cells = aggregate(load_runs(store))
    assert compare(cells, configs=suite_configs(store)).empty
    assert main(["report", "--store", str(store), "--compare-paper", "--suite", "my"]) == 2
    err = capsys.readouterr().err
    assert "none of the stored results corresponds to a published table cell" in err
    assert "SYNTH-k is compared only when its recorded parameters are the paper's SYNTH-25" in err
    # the result table names the data set by its real k
    assert main(["report", "--store", str(store), "--suite", "my"]) == 0
    assert "| Method | SYNTH-2 |" in capsys.readouterr().out


@pytest.mark.parametrize("params", ["{ k = 25, rotate = true }", "{ k = 10 }"])
def test_other_synth_data_sets_are_not_compared(tmp_path, params):
    from reports.source import suite_configs

    store = _suite_store(tmp_path, params)
    assert compare(aggregate(load_runs(store)), configs=suite_configs(store)).empty


def test_synth25_with_fewer_points_is_compared_with_a_note(tmp_path):
    from reports.source import suite_configs

    store = _suite_store(tmp_path, "{ n = 400, k = 25 }", nmi=0.9)
    configs = suite_configs(store)
    cells = aggregate(load_runs(store))
    row = _one(compare(cells, configs=configs), method_label="k-means", table="1")
    assert row["dataset_label"] == "SYNTH-25" and row["verdict"] == "reproduced"
    assert row["data_note"] == "n = 400 points (the paper's SYNTH-25 has 12,000)"
    t = comparison_tables(cells, configs=configs)[0]
    assert t.notes[-1] == "SYNTH-25: nrbench's data set differs from the paper's: n = 400 points (the paper's SYNTH-25 has 12,000)."
    md = render_markdown(t)
    assert "| ACe/DeC T1 | SYNTH-25 |  | k-means | 0.90 ± 0.16 | 0.90 ± 0.00 | +0.00 | **reproduced** |" in md
    assert "- SYNTH-25: nrbench's data set differs from the paper's: n = 400 points" in md


def test_the_paper_synth25_is_compared_without_a_note(tmp_path):
    from reports.source import suite_configs

    store = _suite_store(tmp_path, "{}")  # the generator's defaults: SYNTH-25 as published
    configs = suite_configs(store)
    cells = aggregate(load_runs(store))
    row = _one(compare(cells, configs=configs), method_label="k-means", table="1")
    assert row["data_note"] == "" and row["paper_mean"] == 0.90
    assert not any("differs from the paper" in n for n in comparison_tables(cells, configs=configs)[0].notes)


def test_synth_without_recorded_parameters_is_not_compared(tmp_path):
    """A hand-made store has no suite config: a plain ``synth`` may be any SYNTH-k, so it is not judged."""
    rows = [run_row("acedec-table1", "synth", "kmeans", ae, label="k-means", clusterings=("cluster",), nmi=(0.9,))
            for ae in range(2)]
    cells = aggregate(load_runs(write_rows(tmp_path / "s.sqlite", rows)))
    assert compare(cells).empty


def test_the_comparison_caption_names_synth_as_the_result_tables_do(tmp_path):
    """The deviations sentence of the comparison named the data set 'SYNTH-k' whatever its k."""
    from reports.writer import report

    store = _suite_store(tmp_path, "{ n = 400, k = 25 }", methods=("kmeans", "subkmeans"),
                         deviations={"subkmeans": ["budget: max_iter=10 (paper 100)"]})
    caption = report(store, suite="my", compare_paper=True).tables[0].caption
    assert "budget: max_iter=10 (paper 100) (SubKmeans on SYNTH-25)" in caption and "SYNTH-k" not in caption


SUITE_OF_TABLE = {("enrc-aaai2020", "1"): "enrc-table1", ("enrc-aaai2020", "3"): "enrc-table1",
                  ("acedec-ijcai2021", "1"): "acedec-table1", ("acedec-ijcai2021", "1 (+Aug)"): "acedec-table1-aug",
                  ("acedec-ijcai2021", "3"): "acedec-table3"}


def test_every_published_value_is_planned_by_its_suites_paper_tier():
    """Each published number (not '–' or 'N/A') has a data set, clustering and method entry in the paper tier
    of the suite that reproduces its table, so a paper-tier run can put a value beside it."""
    import generators
    from benchmark.suites import resolve
    from reports.published import canonical_dataset, parse_variant, variant_of

    pub = load_published()
    assert set(zip(pub["paper"], pub["table"])) == set(SUITE_OF_TABLE)
    suites = {name: resolve(name, "paper", check=False) for name in set(SUITE_OF_TABLE.values())}
    missing = []
    for p in pub[pub["mean"].notna()].itertuples(index=False):
        s = suites[SUITE_OF_TABLE[(p.paper, p.table)]]
        aug, lam = parse_variant(p.variant)
        found = False
        for d, m in s.pairs():
            if canonical_dataset(d["id"], d["params"], d["generator"]) != canonical_dataset(p.dataset, {}):
                continue
            names = d["clusterings"] or [c for c, _ in generators.entry(d["generator"]).clusterings]
            if p.clustering and p.clustering not in names:
                continue
            base, m_aug, m_lam = variant_of(m["method"], m["label"], m["params"])
            if base == p.method and m_aug == aug and (lam is None or m_lam == lam):
                found = True
        if not found:
            missing.append(f"{p.table} {p.dataset_label} {p.clustering} {p.method_label}")
    assert not missing, missing
