"""The protocol aggregation: best run by own loss per autoencoder, then mean ± std over autoencoders."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from reports.aggregate import NO_LOSS_DEVIATION, aggregate, is_starred, mean_ci95, select_best
from reports.source import load_runs, normalise_frame
from reports.synthetic import run_row, tiny_rows, write_rows


@pytest.fixture
def tiny(tmp_path):
    return load_runs(write_rows(tmp_path / "s.sqlite", tiny_rows()))


def _cell(cells: pd.DataFrame, label: str, metric: str = "nmi", clustering: str = "",
          dataset: str | None = "stickfigures"):
    m = (cells["label"] == label) & (cells["metric"] == metric) & (cells["clustering"] == clustering)
    if dataset is not None:
        m &= cells["dataset"] == dataset
    sub = cells[m]
    assert len(sub) == 1, sub
    return sub.iloc[0]


def test_best_run_is_chosen_by_loss_not_by_nmi(tiny):
    best = select_best(tiny)
    enrc = best[(best["label"] == "ENRC")].sort_values("ae_seed")
    # ae 0: run 1 (loss 1.0) beats run 0 (loss 2.0, higher NMI); ae 1: run 0 (loss 0.5) beats run 1 (NMI 1.0).
    assert enrc["run_seed"].tolist() == [1, 0]
    assert [list(x) for x in enrc["nmi"]] == [[0.7, 0.6], [0.5, 0.4]]


def test_mean_and_std_over_autoencoders_exact(tiny):
    cells = aggregate(tiny)
    upper = _cell(cells, "ENRC", clustering="upper")
    lower = _cell(cells, "ENRC", clustering="lower")
    assert upper["mean"] == pytest.approx(0.6) and upper["std"] == pytest.approx(0.1)
    assert lower["mean"] == pytest.approx(0.5) and lower["std"] == pytest.approx(0.1)
    assert upper["n_ae"] == 2 and upper["runs_per_ae"] == 2
    assert upper["values"] == pytest.approx((0.7, 0.5))
    vi = _cell(cells, "ENRC", metric="vi")
    assert vi["mean"] == pytest.approx(2.1) and vi["std"] == pytest.approx(0.1)
    nrk = _cell(cells, "NrKmeans", clustering="lower")
    assert (nrk["mean"], nrk["std"]) == (pytest.approx(0.3), pytest.approx(0.0))


def test_statuses_na_err_skipped_and_star(tiny):
    cells = aggregate(tiny)
    isaac_vi = _cell(cells, "ISAAC", metric="vi")
    assert isaac_vi["status"] == "n.a." and isaac_vi["marker"] == "*"
    assert _cell(cells, "ISAAC", clustering="upper")["marker"] == "*"
    assert _cell(cells, "ENRC", clustering="upper", dataset="stickfigures")["marker"] == ""
    orth = _cell(cells, "Orth1", clustering="upper")
    assert orth["status"] == "err" and orth["errors"] == ("RuntimeError: boom",) and orth["n_err"] == 1
    skipped = _cell(cells, "ENRC", clustering="left", dataset="cmnist")
    assert skipped["status"] == "skipped" and "raw MNIST files not found" in skipped["reason"]
    sub_usps = _cell(cells, "SubKmeans", clustering="digit", dataset="usps")
    assert sub_usps["status"] == "skipped" and sub_usps["reason"] == "stopped for run time"


def test_dims_metric_for_acedec_table3(tiny):
    cells = aggregate(tiny)
    dims = _cell(cells, "ACe/DeC+DCN", metric="dims", dataset="synth")
    assert _cell(cells, "ACe/DeC+DCN", clustering="cluster", dataset="synth")["mean"] == pytest.approx(0.9)
    assert dims["mean"] == pytest.approx(4.0) and dims["std"] == pytest.approx(1.0)
    assert _cell(cells, "k-means", metric="dims", dataset="synth")["status"] == "n.a."


def test_runs_without_loss_keep_lowest_run_seed_and_say_so():
    rows = [run_row("s", "d", "m", 0, rs, loss=None, nmi=(v,)) for rs, v in ((1, 0.9), (0, 0.2))]
    frame = normalise_frame(pd.DataFrame([{**r, "nmi": r["metrics"]["nmi"], "vi": None, "n_cluster_dims": None}
                                          for r in rows]))
    with pytest.warns(UserWarning, match="lowest run_seed kept"):
        best = select_best(frame)
    assert best["run_seed"].tolist() == [0]
    assert NO_LOSS_DEVIATION in best["deviations"].iloc[0]
    cells = aggregate(frame, warn=False)
    assert NO_LOSS_DEVIATION in cells.iloc[0]["deviations"]


def test_mean_ci95_matches_t_interval():
    m, h = mean_ci95([1.0, 2.0, 3.0])
    # t_{0.975, 2} = 4.302652729..., s = 1, n = 3
    assert m == pytest.approx(2.0)
    assert h == pytest.approx(4.302652729911275 / math.sqrt(3))
    m1, h1 = mean_ci95([0.5])
    assert m1 == 0.5 and math.isnan(h1)


def test_is_starred():
    assert is_starred(["subset: 10000 of 60000"])
    assert is_starred(["approximation: Nyström 1000 landmarks"])
    assert not is_starred(["budget: quick (200 iterations, paper 20000)"])


def test_frame_missing_columns_is_a_clear_error():
    with pytest.raises(ValueError, match="lacks the store column"):
        normalise_frame(pd.DataFrame({"suite": ["a"]}))


def test_aggregation_is_independent_of_row_order(tiny):
    a = aggregate(tiny)
    b = aggregate(tiny.sample(frac=1.0, random_state=np.random.RandomState(3)).reset_index(drop=True))
    key = ["suite", "tier", "dataset", "label", "metric", "clustering"]
    a, b = a.sort_values(key).reset_index(drop=True), b.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a[key + ["mean", "std", "status"]], b[key + ["mean", "std", "status"]])


def test_a_cell_whose_fits_all_failed_still_names_its_deviations(tmp_path):
    from reports.source import load_runs
    from reports.synthetic import run_row, write_rows
    from reports.tables import build_tables

    rows = [run_row("x", "toy", "kmeans", ae, label="k-means", status="error", error="RuntimeError: boom",
                    deviations=("budget: max_iter=5 (paper 300)",)) for ae in range(2)]
    frame = load_runs(write_rows(tmp_path / "s.sqlite", rows))
    (table, *_) = build_tables(frame)
    assert "Deviations from the paper protocol: budget: max_iter=5 (paper 300)." in table.caption
