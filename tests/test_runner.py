"""The runner: rows per fit, best-by-loss selection, error and skipped rows, artefacts, shared autoencoders."""

from __future__ import annotations

import json

import harness_fixtures as hf
import numpy as np
import pytest

from benchmark import method_registry as mr
from benchmark.executors import LocalExecutor
from benchmark.runner import run_suite
from benchmark.store import Store
from benchmark.suites import resolve
from reports.aggregate import select_best
from reports.tables import markdown_table


@pytest.fixture(autouse=True)
def _fixtures(monkeypatch):
    hf.register()
    monkeypatch.setitem(mr.METHODS, "emb-kmeans", mr.MethodSpec(
        "emb-kmeans", "EmbKM", "sklearn.cluster:KMeans", "embedding", "single", "k-means on the embedding",
        loss_attr="inertia_"))


def _run(tmp_path, methods, datasets=None, n_ae=2, runs=2, store=None):
    path = hf.write_suite(tmp_path / "tiny.toml", methods, datasets, n_ae=n_ae, runs=runs)
    suite = resolve(path, "quick")
    st = store or Store(tmp_path / "r.sqlite")
    summary = run_suite(suite, st, LocalExecutor(0), progress=False, log=lambda m: None)
    return suite, st, summary


def test_rows_metrics_and_artefacts(tmp_path):
    _suite, st, summary = _run(tmp_path, "[methods.kmeans]\nparams = { n_init = 3 }")
    assert (summary.total, summary.ok, summary.errors) == (4, 4, 0)
    f = st.frame()
    assert sorted(zip(f["ae_seed"], f["run_seed"])) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert (f["status"] == "ok").all() and all(c == ["view0", "view1"] for c in f["clusterings"])
    # k-means with k=3 on two planted 3-cluster views recovers exactly one of them
    assert f["nmi"].map(max).min() > 0.9 and f["n_found"].eq(1).all()
    assert (f["loss"] > 0).all() and (f["runtime_s"] >= 0).all() and f["device"].eq("cpu").all()
    for _, r in f.iterrows():
        arr = st.load_artefact(r["artefact"])
        assert arr["labels"].shape == (300,)
    # determinism: the same suite into a fresh store gives the same labels and losses
    _, st2, _ = _run(tmp_path, "[methods.kmeans]\nparams = { n_init = 3 }", store=Store(tmp_path / "r2.sqlite"))
    f2 = st2.frame()
    assert f2["loss"].tolist() == f["loss"].tolist() and f2["nmi"].tolist() == f["nmi"].tolist()


def test_best_run_is_chosen_by_loss_never_by_nmi(tmp_path):
    # LossyKMeans: even fit seeds are good (NMI 1 on one view) with loss 1.0; odd seeds random with loss 0.5
    suite, st, _ = _run(tmp_path, "[methods.lossy]", n_ae=2, runs=2)
    f = st.frame()
    assert f["nmi"].map(max).max() > 0.95  # a good run exists for every autoencoder ...
    table = markdown_table(f, suite=suite.name, tier=suite.tier, configs={(suite.name, suite.tier): suite.to_config()})
    row = next(ln for ln in table.splitlines() if ln.startswith("| planted | view0 |"))
    shown = float(row.split("|")[3].strip(" *").split(" ± ")[0])
    assert shown < 0.1  # ... but the table shows the selected (lowest-loss) runs, the random ones
    best = select_best(f, warn=False)
    assert (best["loss"] == 0.5).all() and best["nmi"].map(max).max() < 0.1


def test_failing_method_stores_error_rows_and_the_suite_goes_on(tmp_path):
    _, st, summary = _run(tmp_path, "[methods.fail]\n[methods.kmeans]\nparams = { n_init = 1 }", runs=1)
    assert summary.errors == 2 and summary.ok == 2 and len(summary.failures) == 2
    errs = st.frame()[lambda d: d["status"] == "error"]
    assert errs["error"].str.contains("RuntimeError: deliberate failure").all()
    assert errs["method"].eq("fail").all() and errs["artefact"].isna().all()


def test_missing_data_gives_skipped_rows_with_reason(tmp_path):
    datasets = """
[datasets.planted]
params = { n = 300, n_clusters = [3, 3], seed = 1 }
[datasets.missing-real]
"""
    _, st, summary = _run(tmp_path, "[methods.kmeans]", datasets, n_ae=1, runs=1)
    assert summary.skipped == 1 and summary.ok == 1 and summary.errors == 0
    assert "no raw files" in summary.skip_reasons["missing-real"]
    row = st.frame().set_index("dataset").loc["missing-real"]
    assert row["status"] == "skipped" and "data not found" in row["error"]


def test_rendered_data_set_without_bpy_gives_skipped_rows_not_errors(tmp_path, monkeypatch):
    # `pip install .` has no bpy: a standard-tier suite with OBJECTS must skip it, not fail (exit 1)
    import generators.render.datasets as rd

    monkeypatch.setattr(rd, "bpy_available", lambda: False)
    datasets = """
[datasets.planted]
params = { n = 300, n_clusters = [3, 3], seed = 1 }
[datasets.objects]
params = { n = 6, resolution = 16, samples = 2 }
preprocessing = ["scale01", "flatten"]
"""
    _, st, summary = _run(tmp_path, "[methods.kmeans]", datasets, n_ae=1, runs=1)
    assert (summary.skipped, summary.ok, summary.errors) == (1, 1, 0)
    reason = summary.skip_reasons["objects"]
    assert "bpy" in reason and "pip install 'nrbench[render]'" in reason
    row = st.frame().set_index("dataset").loc["objects"]
    assert row["status"] == "skipped" and "bpy" in row["error"]


def test_rerun_skips_done_fits(tmp_path):
    _, st, s1 = _run(tmp_path, "[methods.kmeans]")
    _, _, s2 = _run(tmp_path, "[methods.kmeans]", store=st)
    assert s1.ok == 4 and (s2.already_done, s2.ok) == (4, 0) and st.count() == 4


def test_subset_is_recorded_as_deviation(tmp_path):
    _, st, _ = _run(tmp_path, "[methods.kmeans]\nmax_n = 100", n_ae=1, runs=1)
    r = st.frame().iloc[0]
    assert "subset: 100 of 300" in r["deviations"]
    assert st.load_artefact(r["artefact"])["labels"].shape == (100,)


def test_embedding_methods_share_one_pretrained_autoencoder_per_seed(tmp_path):
    from benchmark.paths import models_dir

    datasets = """
[datasets.planted]
params = { n = 300, n_clusters = [3], seed = 1 }
preprocessing = ["zscore"]
autoencoder = { arch = "linear", budget = { iterations = 30, finetune_iterations = 10, batch_size = 100 } }
"""
    _, st, summary = _run(tmp_path, "[methods.emb-kmeans]\nparams = { n_init = 10 }\n[methods.kmeans]", datasets,
                          n_ae=2, runs=1)
    assert summary.ok == 4 and summary.errors == 0, summary.failures
    assert len(list(models_dir().glob("*.pt"))) == 2  # one network per ae_seed, reused by every method
    f = st.frame()
    emb = f[f["method"] == "emb-kmeans"]
    assert emb["nmi"].map(max).min() > 0.9  # the linear AE's embedding keeps the planted structure


def test_projections_of_different_widths_are_stored_one_array_each(tmp_path):
    """ISAAC's V_ is one (d, m_j) matrix per subspace; a ragged list used to fail the fit's row."""
    _suite, st, summary = _run(tmp_path, "[methods.ragged]", n_ae=1, runs=1)
    assert (summary.total, summary.ok, summary.errors) == (1, 1, 0)
    arr = st.load_artefact(st.frame()["artefact"].iloc[0])
    assert "V" not in arr
    assert arr["V_0"].shape == (6, 1) and arr["V_1"].shape == (6, 2)
    assert np.array_equal(arr["V_1"], np.eye(6)[:, 1:3])


def test_a_table_of_a_stopped_run_says_it_is_incomplete(tmp_path):
    """Planned fits without a row (a run stopped half-way) are counted in the caption; a full run has no such note."""
    suite, st, _ = _run(tmp_path, "[methods.kmeans]\nparams = { n_init = 1 }")
    configs = {(suite.name, suite.tier): suite.to_config()}
    f = st.frame()
    assert "Incomplete" not in markdown_table(f, suite=suite.name, tier=suite.tier, configs=configs)
    stopped = f[f["ae_seed"] == 0]  # as if the run had been stopped after the first autoencoder's fits
    text = markdown_table(stopped, suite=suite.name, tier=suite.tier, configs=configs)
    assert f"Incomplete: 2 of the 4 planned fits are stored; running suite {suite.name} at tier quick again runs " \
        "the rest." in text


def test_a_table_of_rows_from_several_nrbench_versions_says_so(tmp_path):
    """A run resumed after an upgrade mixes versions in one table; the caption lists them with their row counts."""
    suite, st, _ = _run(tmp_path, "[methods.kmeans]\nparams = { n_init = 1 }")
    f = st.frame()
    assert f["code_version"].nunique() == 1 and f["code_version"].iloc[0].startswith("nrbench ")
    one = markdown_table(f, suite=suite.name, tier=suite.tier)
    assert "Mixed versions" not in one and f"Results of {f['code_version'].iloc[0]}." in one  # named, for reproduction
    resumed = f.copy()
    resumed.loc[resumed["ae_seed"] == 1, "code_version"] = "nrbench 0.9+gabc"  # as if written before an upgrade
    text = markdown_table(resumed, suite=suite.name, tier=suite.tier)
    current = f["code_version"].iloc[0]
    assert (f"Mixed versions: the rows come from 2 versions of nrbench ({current}: 2 rows; nrbench 0.9+gabc: 2 rows); "
            "rerun the suite into a new store for results from one version.") in text


@pytest.mark.parametrize("change", ["data", "preprocessing", "max_n"])
def test_a_changed_suite_file_makes_new_fits_and_tables_use_only_them(tmp_path, change):
    """The key covers the fit's whole configuration: a changed data set, preprocessing or subset is not 'done'."""
    _, st, s1 = _run(tmp_path, "[methods.kmeans]\nparams = { n_init = 1 }")
    datasets, methods = None, "[methods.kmeans]\nparams = { n_init = 1 }"
    if change == "data":
        datasets = "[datasets.planted]\nparams = { n = 150, n_clusters = [3, 3], seed = 2 }\npreprocessing = [\"zscore\"]\n"
    elif change == "preprocessing":
        datasets = "[datasets.planted]\nparams = { n = 300, n_clusters = [3, 3], seed = 1 }\npreprocessing = []\n"
    else:
        methods += "\nmax_n = 100"
    suite, _, s2 = _run(tmp_path, methods, datasets, store=st)
    assert (s1.ok, s2.already_done, s2.ok) == (4, 0, 4) and st.count() == 8  # nothing reused, nothing lost
    from reports.source import current_rows

    configs = {(x["name"], x["tier"]): x["config"] for x in st.suites()}
    cur, other = current_rows(st.frame(), configs)
    assert len(cur) == 4 and other == {(suite.name, "quick"): 4}
    expected_n = {"data": 150, "preprocessing": 300, "max_n": 100}[change]
    assert all(st.load_artefact(a)["labels"].shape == (expected_n,) for a in cur["artefact"])
    text = markdown_table(st.frame(), suite=suite.name, tier=suite.tier, configs=configs)
    assert "4 stored rows of this suite came from another configuration" in text


def test_changed_hyperparameters_are_not_pooled_into_one_cell(tmp_path):
    """Rows of an earlier setting of a method stay in the store but leave the table."""
    _, st, _ = _run(tmp_path, "[methods.kmeans]\nparams = { n_init = 1 }", n_ae=1, runs=1)
    _run(tmp_path, "[methods.kmeans]\nparams = { n_init = 3 }", n_ae=1, runs=1, store=st)
    configs = {(x["name"], x["tier"]): x["config"] for x in st.suites()}
    from reports.source import current_rows
    from reports.tables import build_tables

    (table, *_) = build_tables(st.frame(), configs=configs)
    assert "1 stored row of this suite came from another configuration" in table.caption
    cur, _ = current_rows(st.frame(), configs)
    assert st.count() == 2 and cur["params"].tolist() == [{"n_init": 3}]


def test_a_filtered_run_records_the_whole_suite_so_its_table_says_incomplete(tmp_path):
    from benchmark.commands.run import _print_table

    path = hf.write_suite(tmp_path / "two.toml", "[methods.kmeans]\n[methods.lossy]", n_ae=1, runs=1)
    whole = resolve(path, "quick")
    only = resolve(path, "quick", only_methods=["kmeans"])
    st = Store(tmp_path / "r.sqlite")
    run_suite(only, st, LocalExecutor(0), progress=False, log=lambda m: None, whole=whole)
    assert st.suites()[0]["config"] == json.loads(json.dumps(whole.to_config()))
    import io

    buf = io.StringIO()
    _print_table(st, [only], out=buf)
    assert "Incomplete: 1 of the 2 planned fits are stored" in buf.getvalue()


def test_a_fit_stored_meanwhile_by_a_concurrent_run_is_kept_and_not_counted_as_ours(tmp_path):
    from benchmark.protocol import build_tasks
    from benchmark.runner import FitResult, write_result

    suite, st, _ = _run(tmp_path, "[methods.kmeans]\nparams = { n_init = 1 }", n_ae=1, runs=1)
    task = build_tasks(suite)[1][0]
    before = st.frame().iloc[0]
    art = st.load_artefact(before["artefact"])
    late = FitResult(task.key, {**before.to_dict(), "params": task.params, "loss": -1.0, "metrics": None,
                                "clusterings": None, "deviations": []},
                     {"labels": np.zeros_like(art["labels"])})
    assert write_result(st, late) is False
    after = st.frame().iloc[0]
    assert after["loss"] == before["loss"]
    assert np.array_equal(st.load_artefact(after["artefact"])["labels"], art["labels"])  # not overwritten


def test_cells_csv_uses_the_same_rows_as_the_tables(tmp_path):
    import pandas as pd

    from reports.writer import report

    _, st, _ = _run(tmp_path, "[methods.kmeans]\nparams = { n_init = 1 }")
    datasets = "[datasets.planted]\nparams = { n = 150, n_clusters = [3, 3], seed = 2 }\npreprocessing = [\"zscore\"]\n"
    _run(tmp_path, "[methods.kmeans]\nparams = { n_init = 1 }", datasets, store=st)
    st.close()
    report(tmp_path / "r.sqlite", fmt="csv", out=tmp_path / "out")
    cells = pd.read_csv(tmp_path / "out" / "cells.csv")
    cells = cells[cells["metric"] == "nmi"]
    assert (cells["runs_per_ae"] == 2).all() and (cells["n_ae"] == 2).all() and (cells["n_missing"] == 0).all()


def test_a_value_from_one_autoencoder_is_shown_without_a_spread(tmp_path):
    suite, st, _ = _run(tmp_path, "[methods.kmeans]\nparams = { n_init = 1 }", n_ae=1, runs=1)
    text = markdown_table(st.frame(), suite=suite.name, tier=suite.tier)
    row = next(ln for ln in text.splitlines() if ln.startswith("| planted | view0 |"))
    assert "±" not in row and float(row.split("|")[3].strip(" *")) > 0.9
    assert "over 1 autoencoder (a value from one autoencoder has no std)" in text


def test_a_store_whose_rows_all_predate_the_current_key_says_so_instead_of_printing_nothing(tmp_path, capsys):
    """E.g. a store of an earlier release: no table can be built, and an empty report with exit 0 would hide it."""
    import sqlite3

    from benchmark.cli import main

    suite, st, _ = _run(tmp_path, "[methods.kmeans]\nparams = { n_init = 1 }")
    st.close()
    con = sqlite3.connect(tmp_path / "r.sqlite")
    con.execute("UPDATE runs SET params_hash = 'oldhash' || ae_seed || run_seed")  # keys of an older release
    con.commit()
    con.close()
    assert main(["report", "--store", str(tmp_path / "r.sqlite")]) == 2
    err = capsys.readouterr().err
    assert f"{suite.name} [quick]: none of its 4 stored rows belongs to the suite's current configuration" in err
    assert f"run `nrbench run {suite.name} --tier quick`" in err


@pytest.mark.parametrize("terminal", [True, False])
def test_a_log_file_gets_only_the_suite_bar_a_terminal_also_the_nested_ones(tmp_path, capsys, monkeypatch,
                                                                            terminal):
    from benchmark import runner

    monkeypatch.setattr(runner, "_stderr_is_terminal", lambda: terminal)
    datasets = """
[datasets.planted]
params = { n = 300, n_clusters = [3], seed = 1 }
preprocessing = ["zscore"]
autoencoder = { arch = "linear", budget = { iterations = 30, finetune_iterations = 10, batch_size = 100 } }
"""
    path = hf.write_suite(tmp_path / "bars.toml", "[methods.emb-kmeans]\nparams = { n_init = 2 }", datasets,
                          n_ae=1, runs=1)
    summary = run_suite(resolve(path, "quick"), Store(tmp_path / "r.sqlite"), LocalExecutor(0), progress=True,
                        log=lambda m: None)
    assert summary.ok == 1
    err = capsys.readouterr().err
    assert "bars [quick]" in err  # the suite's bar, either way
    assert ("pretrain linear" in err) is terminal  # the pretraining's own bar only on a terminal
    if not terminal:
        assert "\x1b[A" not in err  # no cursor movements of nested bars in a log file
        assert err.count("bars [quick]") <= 3  # drawn at start and end, not per update (30 s apart)


def test_a_subset_given_per_data_set_applies_to_that_data_set_only(tmp_path):
    datasets = hf.TWO_PLANTED
    _, st, summary = _run(tmp_path, "[methods.kmeans]\nmax_n = { planted = 100 }", datasets, n_ae=1, runs=1)
    assert summary.ok == 2
    f = st.frame().set_index("dataset")
    assert "subset: 100 of 300" in f.loc["planted", "deviations"]
    assert not [d for d in f.loc["other", "deviations"] if d.startswith("subset")]
    assert st.load_artefact(f.loc["planted", "artefact"])["labels"].shape == (100,)
    assert st.load_artefact(f.loc["other", "artefact"])["labels"].shape == (200,)


def _spec(name):
    return mr.get(name)


@pytest.mark.parametrize(("n", "params", "threads", "expected"), [
    (60_000, {}, 16, 10),               # paper-sized: one process per start, at most the threads
    (60_000, {}, 4, 4),                 # at most this process's share of the cores
    (900, {}, 16, None),                # quick-tier sized: joblib's start-up would cost more than it saves
    (60_000, {"n_jobs": 1}, 16, None),  # the suite chose
    (60_000, {}, 1, None),              # one thread: serial
])
def test_parallel_starts_spreads_only_large_starts_over_this_process_share_of_the_cores(monkeypatch, n, params,
                                                                                       threads, expected):
    import torch

    from baselines import NrKmeans
    from benchmark.runner import parallel_starts

    monkeypatch.setattr(torch, "get_num_threads", lambda: threads)
    est = NrKmeans([3, 3], n_init=10, **params)
    assert parallel_starts(est, _spec("nrkmeans"), n, params) == expected


def test_parallel_starts_leaves_single_start_fits_methods_without_starts_and_dask_threads_alone(monkeypatch):
    import threading

    import torch

    from baselines import NrKmeans, Orth1
    from benchmark.runner import parallel_starts

    monkeypatch.setattr(torch, "get_num_threads", lambda: 8)
    assert parallel_starts(NrKmeans([3, 3], n_init=1), _spec("nrkmeans"), 10**6, {}) is None
    assert parallel_starts(Orth1([3, 3]), _spec("orth1"), 10**6, {}) is None
    got = []  # a Dask worker runs each fit in a task thread, and its process may be daemonic
    t = threading.Thread(target=lambda: got.append(parallel_starts(NrKmeans([3, 3], n_init=10), _spec("nrkmeans"),
                                                                   10**6, {})))
    t.start()
    t.join()
    assert got == [None]


def test_a_fit_whose_starts_run_in_parallel_stores_the_rows_of_a_serial_run(tmp_path, monkeypatch):
    import torch

    from baselines.subkmeans import SubKmeans
    from benchmark import runner

    used: list = []
    real_fit = SubKmeans.fit

    def fit(self, X, *a, **k):
        used.append(self.n_jobs)
        return real_fit(self, X, *a, **k)

    monkeypatch.setattr(SubKmeans, "fit", fit)
    methods = "[methods.subkmeans]\nparams = { n_init = 4 }"
    _, serial, _ = _run(tmp_path, methods, n_ae=1, store=Store(tmp_path / "serial.sqlite"))
    assert used == [None, None]
    monkeypatch.setattr(runner, "PARALLEL_STARTS_MIN_WORK", 1)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    _, par, _ = _run(tmp_path, methods, n_ae=1, store=Store(tmp_path / "par.sqlite"))
    assert used[2:] == [2, 2]
    a, b = serial.frame(), par.frame()
    assert (a["status"] == "ok").all() and (b["status"] == "ok").all()
    assert b["nmi"].tolist() == a["nmi"].tolist()
    assert b["params_hash"].tolist() == a["params_hash"].tolist() and b["params"].tolist() == a["params"].tolist()
    assert np.allclose(b["loss"], a["loss"], rtol=1e-9)
