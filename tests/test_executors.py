"""Executors: a dask LocalCluster (2 workers) gives exactly the rows of a local in-process run under the same seeds."""

from __future__ import annotations

import harness_fixtures as hf
import pytest

from benchmark import method_registry as mr
from benchmark.executors import DaskExecutor, LocalExecutor, make_executor
from benchmark.runner import run_suite
from benchmark.store import Store
from benchmark.suites import resolve

DATASETS = """
[datasets.planted]
params = { n = 300, n_clusters = [3], seed = 1 }
preprocessing = ["zscore"]
autoencoder = { arch = "linear", budget = { iterations = 60, finetune_iterations = 20, batch_size = 100 } }
"""
METHODS = "[methods.kmeans]\nparams = { n_init = 2 }\n[methods.emb-kmeans]\nparams = { n_init = 2 }\n[methods.fail]\n"
COLS = ["dataset", "method", "params_hash", "ae_seed", "run_seed", "status", "loss", "metrics", "error"]


@pytest.fixture(autouse=True)
def _fixtures(monkeypatch):
    hf.register()
    monkeypatch.setitem(mr.METHODS, "emb-kmeans", mr.MethodSpec(
        "emb-kmeans", "EmbKM", "sklearn.cluster:KMeans", "embedding", "single", "k-means on the embedding",
        loss_attr="inertia_"))


def _rows(store: Store) -> list[tuple]:
    return [tuple(r[c] for c in COLS) for r in store.rows()]


def test_dask_local_cluster_equals_local_run(tmp_path):
    suite = resolve(hf.write_suite(tmp_path / "ex.toml", METHODS, DATASETS, n_ae=2, runs=2), "quick")
    local = Store(tmp_path / "local.sqlite")
    s_local = run_suite(suite, local, LocalExecutor(0), progress=False, log=lambda m: None)
    with DaskExecutor(n_workers=2, processes=False) as ex:
        dask_store = Store(tmp_path / "dask.sqlite")
        s_dask = run_suite(suite, dask_store, ex, progress=False, log=lambda m: None)
    assert (s_local.ok, s_local.errors) == (s_dask.ok, s_dask.errors) == (8, 4)
    assert _rows(dask_store) == _rows(local)
    # artefacts equal too (labels)
    for a, b in zip(local.rows(), dask_store.rows()):
        if a["artefact"]:
            assert (local.load_artefact(a["artefact"])["labels"] == dask_store.load_artefact(b["artefact"])["labels"]).all()


def test_make_executor_validates_its_arguments():
    assert isinstance(make_executor("local", workers=2), LocalExecutor)
    assert isinstance(make_executor("dask", scheduler="tcp://127.0.0.1:1"), DaskExecutor)
    with pytest.raises(ValueError, match="unknown executor 'slurm'; valid: local, dask"):
        make_executor("slurm")
    with pytest.raises(ValueError, match="--scheduler needs --executor dask"):
        make_executor("local", scheduler="tcp://x:1")
    with pytest.raises(ValueError, match="workers must be >= 0"):
        LocalExecutor(-1)


def _sigint_ignored() -> bool:
    import signal

    return signal.getsignal(signal.SIGINT) is signal.SIG_IGN


def test_dask_worker_processes_leave_ctrl_c_to_nrbench():
    """A terminal's Ctrl-C reaches the whole process group: the workers ignore it, nrbench reports and shuts down."""
    import signal

    # Python's own Ctrl-C handler, set explicitly: a test run started in the background of a
    # non-interactive shell (`cmd &`) inherits SIGINT ignored, and then "restored" would prove nothing
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with DaskExecutor(n_workers=1, processes=True) as ex:
            assert ex.client().submit(_sigint_ignored, pure=False).result(timeout=60) is True
            assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the parent's handler is restored
    finally:
        signal.signal(signal.SIGINT, inherited)


def test_a_local_cluster_does_not_fight_over_the_dashboard_port():
    """Another cluster on port 8787 (a second nrbench run, a notebook) must not make this one warn."""
    import warnings

    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":8787") as other:
        if other.scheduler_info["services"].get("dashboard") != 8787:
            pytest.skip("port 8787 is taken on this machine by something else")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with DaskExecutor(n_workers=1, processes=False) as ex:
                port = ex.client().scheduler_info()["services"].get("dashboard")
        assert port != 8787
        assert not [w for w in caught if "8787" in str(w.message)], [str(w.message) for w in caught]


def test_a_cluster_without_workers_is_reported_and_the_run_goes_on_when_one_joins(tmp_path, capsys, monkeypatch):
    """All workers gone (killed, their SLURM job ended): the scheduler keeps the tasks and the run would wait
    without a word; nrbench says so once, then again when a worker is back, and finishes with every row."""
    import threading
    import time

    from distributed import LocalCluster

    from benchmark import executors

    monkeypatch.setattr(executors, "NO_WORKERS_WARN_S", 0.5, raising=False)
    monkeypatch.setattr(executors, "_WORKERS_POLL_S", 0.1, raising=False)
    suite = resolve(hf.write_suite(tmp_path / "ex.toml", "[methods.kmeans]\nparams = { n_init = 2 }\n", n_ae=1,
                                   runs=2), "quick")
    with LocalCluster(n_workers=0, processes=False, dashboard_address=None) as cluster, \
            DaskExecutor(scheduler=cluster.scheduler_address) as ex:
        ex.map_prepare = LocalExecutor(0).map_prepare  # data prepared here: only the fits wait for a worker
        seen = threading.Event()

        def add_worker_once_reported() -> None:  # or after 20 s without the report: the test fails, never hangs
            deadline = time.monotonic() + 20
            while not seen.wait(0.1) and time.monotonic() < deadline:
                if "has had no workers for 0.5 s; the run waits for workers to join" in capsys.readouterr().err:
                    seen.set()
            cluster.scale(1)

        helper = threading.Thread(target=add_worker_once_reported, daemon=True)
        helper.start()
        summary = run_suite(suite, Store(tmp_path / "r.sqlite"), ex, progress=False, log=lambda m: None)
        helper.join(5)
    assert seen.is_set()
    assert summary.ok == 2
    assert f"the Dask scheduler at {cluster.scheduler_address} has 1 worker again; the run goes on" in \
        capsys.readouterr().err
