"""`nrbench run`: help, dry run, exit codes, failure listing, the final table, bad input."""

from __future__ import annotations

import re
import sqlite3

import harness_fixtures as hf
import pytest

from benchmark.cli import main
from benchmark.store import Store


@pytest.fixture(autouse=True)
def _fixtures():
    hf.register()


def test_help_explains_the_options(capsys):
    with pytest.raises(SystemExit) as ei:
        main(["run", "--help"])
    assert ei.value.code == 0
    out = capsys.readouterr().out
    for opt in ("--tier", "--executor", "--scheduler", "--workers", "--store", "--only-datasets", "--only-methods",
                "--dry-run", "lowest own loss", "kill -9"):
        assert opt in out


def test_dry_run_of_the_main_comparison_runs_nothing(tmp_path, capsys):
    store = tmp_path / "r.sqlite"
    assert main(["run", "quick", "--dry-run", "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert "enrc-table1 [quick]: 14 fits (0 done), 2 autoencoders" in out
    assert "acedec-table1 [quick]: 24 fits (0 done), 2 autoencoders" in out
    assert "deviation: autoencoders: 2 (paper 10)" in out
    # method deviations: once per suite, and under the data set where only some data sets have them
    assert "\n  deviation (ENRC): budget: init_rounds=2 (paper 100, the default)\n" in out
    assert "\n  deviation (NrKmeans, Orth1, Orth2): runs: 2 per autoencoder (paper 10)\n" in out
    assert not store.exists() and f"no result store at {store} yet" in out  # a dry run writes nothing
    # filtered to a method without an autoencoder: no AE count, and the cost estimate says whose it is
    assert main(["run", "acedec-table1", "--only-methods", "kmeans", "--dry-run", "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert "4 fits (0 done), 0 autoencoders" in out and "(the whole suite's)" in out
    assert "  synth (synth): k-means\n" in out
    # an existing store is read: what is done is counted
    main(["--quiet", "run", "acedec-table1", "--only-methods", "kmeans", "--store", str(store)])
    capsys.readouterr()
    assert main(["run", "acedec-table1", "--only-methods", "kmeans", "--dry-run", "--store", str(store)]) == 0
    assert "4 fits (4 done)" in capsys.readouterr().out
    assert Store(store).count() == 4


def test_failures_give_exit_1_listed_failures_and_the_table(tmp_path, capsys):
    suite = hf.write_suite(tmp_path / "t.toml", "[methods.kmeans]\nparams = { n_init = 1 }\n[methods.fail]", runs=1)
    store = tmp_path / "r.sqlite"
    assert main(["--quiet", "run", str(suite), "--store", str(store)]) == 1
    cap = capsys.readouterr()
    assert "2 task(s) failed" in cap.err and "planted/Fail ae=0 run=0: RuntimeError: deliberate failure" in cap.err
    assert "running the same command again retries the failed fits and keeps the others" in cap.err
    assert "| planted |" in cap.out and "k-means" in cap.out  # the Markdown table
    assert "2 ok, 2 failed, 0 skipped" in cap.out
    # only the failed tasks rerun; they fail again
    assert main(["--quiet", "run", str(suite), "--store", str(store), "--only-methods", "fail"]) == 1
    assert Store(store).count() == 4


def test_ctrl_c_exits_130_says_what_is_kept_and_the_rerun_resumes(tmp_path, capsys):
    suite = hf.write_suite(tmp_path / "t.toml", "[methods.kmeans]\nparams = { n_init = 1 }\n[methods.interrupt]",
                           runs=1)
    store = tmp_path / "r.sqlite"
    assert main(["--quiet", "run", str(suite), "--store", str(store)]) == 130
    err = capsys.readouterr().err
    assert "nrbench run: interrupted. Every finished fit is kept" in err
    # tasks go autoencoder by autoencoder: k-means on AE 0 finished, then Ctrl-C
    assert "t [quick]: 1 of 4 planned fits stored" in err and f"store: {store}" in err
    assert "Run the same command again to resume" in err and err.rstrip().endswith("nrbench: interrupted")
    assert Store(store).count() == 1
    # the rerun skips the kept fit
    assert main(["--quiet", "run", str(suite), "--store", str(store), "--only-methods", "kmeans"]) == 0
    assert "1 ok, 0 failed, 0 skipped, 1 already done" in capsys.readouterr().out


def test_clean_run_exits_0(tmp_path, capsys):
    suite = hf.write_suite(tmp_path / "t.toml", "[methods.kmeans]\nparams = { n_init = 1 }", runs=1)
    assert main(["--quiet", "run", str(suite), "--store", str(tmp_path / "r.sqlite")]) == 0
    out = capsys.readouterr().out
    assert "2 ok, 0 failed" in out
    assert re.search(r"s in the store \(\d+\.\d\d %\); store: ", out)  # the store's share of the fits' time
    # nothing left to do: no fit ran, so no share of a near-zero wall time (it printed e.g. "(33.98 %)")
    assert main(["--quiet", "run", str(suite), "--store", str(tmp_path / "r.sqlite")]) == 0
    out = capsys.readouterr().out
    assert "0 ok, 0 failed, 0 skipped, 2 already done" in out and re.search(r"s in the store; store: ", out)


def test_bad_input_is_a_usage_error_with_one_clear_line(tmp_path, capsys):
    assert main(["run", "enrc-tabel1", "--store", str(tmp_path / "r.sqlite")]) == 2
    assert "unknown suite 'enrc-tabel1'; valid: " in capsys.readouterr().err
    assert main(["run", "enrc-table1", "--only-methods", "kmeanz", "--dry-run"]) == 2
    assert "unknown method(s) ['kmeanz']" in capsys.readouterr().err
    assert main(["run", "--scheduler", "tcp://x:1", "--dry-run", "--store", str(tmp_path / "r.sqlite")]) == 2
    assert "--scheduler needs --executor dask" in capsys.readouterr().err
    assert main(["run", "acedec-table1", "acedec-table1", "--dry-run"]) == 2
    assert "SUITE acedec-table1 given more than once" in capsys.readouterr().err
    old = tmp_path / "old.sqlite"
    con = sqlite3.connect(old)
    con.execute("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT)")
    con.execute("INSERT INTO meta VALUES ('schema_version', '9')")
    con.commit()
    con.close()
    before = old.read_bytes()
    assert main(["run", "enrc-table1", "--dry-run", "--store", str(old)]) == 2
    assert "schema version '9'" in capsys.readouterr().err
    assert old.read_bytes() == before


def test_filters_over_several_suites_apply_to_the_suites_that_have_them(tmp_path, capsys):
    """The quick main comparison: stickfigures is only enrc-table1's, synth and DCN only acedec-table1's."""
    store = str(tmp_path / "r.sqlite")
    assert main(["run", "quick", "--only-datasets", "synth", "--dry-run", "--store", store]) == 0
    out = capsys.readouterr().out
    assert "enrc-table1 [quick]: not run, it has none of the selected data sets" in out
    assert "acedec-table1 [quick]: 24 fits (0 done)" in out
    assert main(["run", "quick", "--only-methods", "dcn", "nrkmeans", "--dry-run", "--store", store]) == 0
    out = capsys.readouterr().out
    assert "  stickfigures (stickfigures, 2 AEs): NrKmeans\n" in out
    assert "  synth (synth, 2 AEs): DCN λ=0.1, DCN λ=1.0, DCN λ=10.0\n" in out
    # an entry in none of the suites is an error naming the valid ones
    assert main(["run", "quick", "--only-datasets", "usps", "--dry-run", "--store", store]) == 2
    err = capsys.readouterr().err
    assert "--only-datasets: ['usps'] in none of the suites enrc-table1, acedec-table1" in err
    assert "valid: " in err and "stickfigures" in err and "synth" in err
    # each exists, but no suite has both together
    assert main(["run", "quick", "--only-datasets", "stickfigures", "--only-methods", "dcn", "--dry-run",
                 "--store", store]) == 2
    assert "no suite has the selected data sets and methods together" in capsys.readouterr().err


@pytest.mark.slow
def test_quick_main_comparison_end_to_end(tmp_path, capsys):
    """The README's main command: `nrbench run` (enrc-table1 + acedec-table1, quick tier) from a cold cache."""
    store = tmp_path / "quick.sqlite"
    assert main(["--quiet", "run", "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert "## enrc-table1 [quick]" in out and "## acedec-table1 [quick]" in out
    f = Store(store).frame()
    assert len(f) == 14 + 24 and (f["status"] == "ok").all()
    assert all("autoencoders: 2 (paper" in " ".join(d) for d in f["deviations"])
    # planted structure is found: k-means on SYNTH's raw data and the best non-redundant method on Stickfigures
    km = f[(f["suite"] == "acedec-table1") & (f["method"] == "kmeans")]
    assert km["nmi"].map(max).max() > 0.9
    sf = f[f["suite"] == "enrc-table1"]
    assert sf["nmi"].map(min).max() > 0.5


def test_dry_run_counts_one_autoencoder_in_the_singular(tmp_path, capsys):
    """A suite with one network per data set: "1 autoencoder" and "1 AE", not "1 AEs"."""
    datasets = """
[datasets.planted]
params = { n = 300, n_clusters = [3], seed = 1 }
preprocessing = ["zscore"]
autoencoder = { arch = "linear", budget = { iterations = 30, finetune_iterations = 10, batch_size = 100 } }
"""
    suite = hf.write_suite(tmp_path / "one.toml", "[methods.ae-kmeans]", datasets, n_ae=1, runs=1)
    assert main(["run", str(suite), "--dry-run", "--store", str(tmp_path / "r.sqlite")]) == 0
    out = capsys.readouterr().out
    assert "one [quick]: 1 fit (0 done), 1 autoencoder; " in out
    assert "  planted (planted, 1 AE): " in out


def test_a_tier_word_sets_the_tier_and_two_different_tiers_are_an_error(tmp_path, capsys):
    store = str(tmp_path / "r.sqlite")
    assert main(["run", "quick", "standard", "--dry-run", "--store", store]) == 2
    assert "SUITE names two tiers (quick, standard); give one tier" in capsys.readouterr().err
    # beside a suite name the tier word applies to that suite (documented in --help)
    assert main(["run", "standard", "acedec-table1", "--only-datasets", "synth", "--dry-run", "--store", store]) == 0
    out = capsys.readouterr().out
    assert "acedec-table1 [standard]:" in out and "enrc-table1" not in out


def test_dry_run_says_where_each_data_set_comes_from_and_what_would_be_skipped(tmp_path, capsys, monkeypatch):
    import generators.render.datasets as rd

    monkeypatch.setenv("NRBENCH_DATA", str(tmp_path / "no-such-folder"))
    monkeypatch.setattr(rd, "bpy_available", lambda: False)
    store = str(tmp_path / "r.sqlite")
    argv = ["run", "acedec-table1", "--tier", "standard", "--only-methods", "kmeans", "--dry-run", "--store", store]
    assert main(argv) == 0
    out = capsys.readouterr().out
    raw = tmp_path / "no-such-folder"
    assert "  synth (synth): k-means\n    data: generated on first use\n" in out
    # k-means differs from the paper only in its run count, and on every data set alike
    assert "    deviation (k-means): " not in out
    assert "\n  deviation (k-means): runs: 3 per autoencoder (paper 10)\n" in out
    assert (f"  usps (usps): k-means\n    data: the raw file is missing in {raw / 'usps'}; a run downloads and "
            "verifies it from raw.githubusercontent.com, and skips the data set if that fails\n") in out
    assert f"    data: 4 of 4 raw files are missing in {raw / 'mnist'}" in out
    assert f"    would be skipped: no GTSRB folder at {raw / 'gtsrb'} (it is not downloaded automatically)" in out
    assert "  objects (objects): k-means\n    would be skipped: not rendered yet and bpy (Blender" in out
    assert not raw.exists() and not (tmp_path / "r.sqlite").exists()  # a dry run creates nothing


def test_dry_run_finds_raw_files_that_are_there(tmp_path, capsys, monkeypatch):
    from generators.sources import USPS

    raw = tmp_path / "raw"
    (raw / "usps").mkdir(parents=True)
    with open(raw / "usps" / USPS["h5"].filename, "wb") as fh:  # presence and size are what a dry run checks
        fh.truncate(USPS["h5"].size)
    monkeypatch.setenv("NRBENCH_DATA", str(raw))
    argv = ["run", "acedec-table1", "--tier", "standard", "--only-datasets", "usps", "--only-methods", "kmeans",
            "--dry-run", "--store", str(tmp_path / "r.sqlite")]
    assert main(argv) == 0
    assert f"  usps (usps): k-means\n    data: raw files in {raw / 'usps'}\n" in capsys.readouterr().out


def test_dry_run_says_a_run_would_fail_on_a_truncated_raw_file(tmp_path, capsys, monkeypatch):
    """An interrupted download by hand left a short file; the dry run said "raw files in ..." and the
    overnight run then failed every fit of the data set on its SHA-256 check."""
    from generators.sources import MNIST

    folder = tmp_path / "raw" / "mnist"
    folder.mkdir(parents=True)
    for src in MNIST.values():
        with open(folder / src.filename, "wb") as fh:
            fh.truncate(src.size if src.filename != "t10k-labels-idx1-ubyte.gz" else 3000)
    monkeypatch.setenv("NRBENCH_DATA", str(tmp_path / "raw"))
    argv = ["run", "acedec-table1", "--tier", "standard", "--only-datasets", "mnist", "mnist-test",
            "--only-methods", "kmeans", "--dry-run", "--store", str(tmp_path / "r.sqlite")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    said = (f"    would fail: in {folder}: t10k-labels-idx1-ubyte.gz has 3,000 bytes, the published file 4,542. "
            "A run fails its SHA-256 check: delete it to download again, or put the original there\n")
    assert out.count(said) == 2  # MNIST-Full and MNIST-Test both read the test labels
    assert "raw files in" not in out
    from generators.availability import availability

    (folder / MNIST["train-labels"].filename).unlink()
    (folder / MNIST["train-labels"].filename).mkdir()  # a folder where the file should be
    got = availability("mnist", {"split": "train"})
    assert (got.status, got.text) == ("fail", f"in {folder}: train-labels-idx1-ubyte.gz is not a readable file. "
                                      "A run fails its SHA-256 check: delete it to download again, or put the "
                                      "original there")


def test_version_prints_the_code_version_that_rows_record(capsys):
    from benchmark.store import code_version

    with pytest.raises(SystemExit) as ei:
        main(["--version"])
    assert ei.value.code == 0
    out = capsys.readouterr().out.strip()
    assert out == code_version() and out.startswith("nrbench ")


def test_selection_takes_table_labels_in_any_case(tmp_path, capsys):
    store = str(tmp_path / "r.sqlite")
    assert main(["run", "--only-methods", "ENRC", "NrKmeans", "AE+k-means", "--dry-run", "--store", store]) == 0
    out = capsys.readouterr().out
    assert "  stickfigures (stickfigures, 2 AEs): ENRC, NrKmeans\n" in out
    assert "  synth (synth, 2 AEs): AE+k-means\n" in out
    argv = ["run", "acedec-table1", "--tier", "standard", "--only-datasets", "MNIST-Full", "--only-methods",
            "dcn λ=1.0", "--dry-run", "--store", store]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "acedec-table1 [standard]: 9 fits (0 done), 3 autoencoders" in out
    assert "  mnist (mnist, 3 AEs): DCN λ=1.0\n" in out and "mnist-test" not in out
    # a name that matches nothing still lists the ids
    assert main(["run", "enrc-table1", "--only-methods", "ENRK", "--dry-run", "--store", store]) == 2
    assert "unknown method(s) ['ENRK']" in capsys.readouterr().err


def test_an_unreachable_scheduler_fails_before_the_store_is_created(tmp_path, capsys):
    import dask
    import distributed  # noqa: F401 - loads its config first: set() would otherwise drop it on exit

    suite = hf.write_suite(tmp_path / "t.toml", "[methods.kmeans]", runs=1)
    store = tmp_path / "new" / "r.sqlite"
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        rc = main(["--quiet", "run", str(suite), "--store", str(store), "--executor", "dask",
                   "--scheduler", "tcp://127.0.0.1:1"])
    assert rc == 1 and "127.0.0.1:1" in capsys.readouterr().err
    assert not store.exists() and not store.parent.exists()


def _server(reply: bytes | None) -> tuple[str, object]:
    """A TCP server on a free local port that takes every connection and sends ``reply`` (None: nothing)."""
    import socket
    import threading

    srv = socket.create_server(("127.0.0.1", 0))
    held = []

    def serve() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:  # closed
                return
            held.append(conn)
            if reply is not None:
                conn.sendall(reply)

    threading.Thread(target=serve, daemon=True).start()
    return f"tcp://127.0.0.1:{srv.getsockname()[1]}", srv


@pytest.mark.parametrize("reply, message", [
    (None, "no Dask scheduler answered at {address} within 2 s: the port takes connections but does not speak "
           "Dask's protocol"),
    (b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", "the server at {address} is not a Dask scheduler"),
])
def test_a_scheduler_address_that_does_not_speak_dask_is_one_line_not_a_hang(tmp_path, capsys, reply, message):
    """E.g. the dashboard's port given for the scheduler's: distributed alone waits for ever (or fails with a
    MemoryError of exbibytes); nrbench names the address within the connect timeout, before creating the store."""
    import threading

    import dask
    import distributed  # noqa: F401 - loads its config first: set() would otherwise drop it on exit

    address, srv = _server(reply)
    suite = hf.write_suite(tmp_path / "t.toml", "[methods.kmeans]", runs=1)
    store = tmp_path / "new" / "r.sqlite"
    out: list[int] = []
    try:
        with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
            t = threading.Thread(target=lambda: out.append(main([
                "--quiet", "run", str(suite), "--store", str(store), "--executor", "dask", "--scheduler", address])),
                daemon=True)
            t.start()
            t.join(30)
    finally:
        srv.close()
    assert not t.is_alive(), "nrbench run hung on an address that is not a Dask scheduler"
    err = capsys.readouterr().err
    assert out == [1] and f"nrbench run: ConnectionError: {message.format(address=address)}" in err
    assert len(err.strip().splitlines()) == 1
    assert not store.exists() and not store.parent.exists()


_AE_DATASETS = """
[datasets.planted]
params = { n = 300, n_clusters = [3], seed = 1 }
preprocessing = ["zscore"]
autoencoder = { arch = "linear", budget = { iterations = 30, finetune_iterations = 10, batch_size = 100 } }
"""


@pytest.fixture
def no_cuda(monkeypatch):
    """A machine without CUDA, whatever this one has."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.mark.parametrize("variable, value, message", [
    ("NRBENCH_DEVICE", "bogus", "$NRBENCH_DEVICE='bogus' is not a torch device (e.g. 'cpu', 'cuda', 'cuda:1'): "),
    ("NRBENCH_DEVICE", "cuda", "$NRBENCH_DEVICE='cuda' was requested but CUDA is not available (valid here: 'cpu')"),
    ("NRBENCH_HOME", "FILE", "$NRBENCH_HOME {file} is a file, not a folder: point NRBENCH_HOME at a folder "
                             "(it is created if needed)"),
    ("NRBENCH_HOME", "FILE/sub", "$NRBENCH_HOME {file}/sub is inside {file}, which is a file, not a folder: "),
    ("NRBENCH_CLAIM_LEASE_S", "soon", "$NRBENCH_CLAIM_LEASE_S must be a number of seconds; got 'soon'"),
])
def test_an_environment_mistake_stops_a_run_before_anything_is_stored(tmp_path, capsys, monkeypatch, no_cuda,
                                                                      variable, value, message):
    """Every fit would fail the same way: one line naming the variable, exit 2, no store, no rows; the dry run
    prints the plan with the same problem as a warning."""
    file = tmp_path / "home-file"
    file.write_text("")
    monkeypatch.setenv(variable, value.replace("FILE", str(file)))
    suite = hf.write_suite(tmp_path / "t.toml", "[methods.ae-kmeans]\n[methods.kmeans]", _AE_DATASETS, n_ae=1, runs=1)
    store = tmp_path / "r.sqlite"
    assert main(["--quiet", "run", str(suite), "--store", str(store)]) == 2
    cap = capsys.readouterr()
    assert cap.err.startswith(f"nrbench run: error: {message.format(file=file)}") and cap.err.count("\n") == 1
    assert cap.out == "" and not store.exists()
    assert main(["run", str(suite), "--dry-run", "--store", str(store)]) == 0
    cap = capsys.readouterr()
    assert cap.err.startswith(f"nrbench run: warning: a real run would stop at once: {message.format(file=file)}")
    assert cap.err.count("\n") == 1
    assert "t [quick]: 2 fits (0 done), 1 autoencoder; " in cap.out and not store.exists()


def test_the_device_is_checked_only_where_it_is_used(tmp_path, capsys, monkeypatch, no_cuda):
    """No autoencoder to train: the device is not used, so it is not refused.  A remote Dask cluster's workers
    use their own CUDA: only the name is checked here."""
    from benchmark.environment import check_environment

    monkeypatch.setenv("NRBENCH_DEVICE", "cuda")
    suite = hf.write_suite(tmp_path / "t.toml", "[methods.kmeans]\nparams = { n_init = 1 }", n_ae=1, runs=1)
    assert main(["--quiet", "run", str(suite), "--store", str(tmp_path / "r.sqlite")]) == 0
    assert "1 ok, 0 failed" in capsys.readouterr().out
    assert check_environment(device=True, device_here=False) == []
    assert check_environment(device=True) == ["$NRBENCH_DEVICE='cuda' was requested but CUDA is not available "
                                              "(valid here: 'cpu')"]
    monkeypatch.setenv("NRBENCH_DEVICE", "gpu")
    assert check_environment(device=True, device_here=False)[0].startswith("$NRBENCH_DEVICE='gpu' is not a torch")


def test_a_home_that_cannot_be_written_is_named(tmp_path, capsys, monkeypatch):
    """/proc takes no new folders, even from root; the dry run probes without creating anything."""
    monkeypatch.setenv("NRBENCH_HOME", "/proc/nrbench-home")
    suite = hf.write_suite(tmp_path / "t.toml", "[methods.kmeans]", n_ae=1, runs=1)
    store = tmp_path / "r.sqlite"
    message = "$NRBENCH_HOME /proc/nrbench-home is not writable: "
    assert main(["--quiet", "run", str(suite), "--store", str(store)]) == 2
    assert capsys.readouterr().err.startswith(f"nrbench run: error: {message}")
    assert main(["run", str(suite), "--dry-run", "--store", str(store)]) == 0
    assert capsys.readouterr().err.startswith(f"nrbench run: warning: a real run would stop at once: {message}")
    assert not store.exists()


def test_a_store_that_cannot_be_created_is_one_line_naming_it(tmp_path, capsys):
    suite = hf.write_suite(tmp_path / "t.toml", "[methods.kmeans]", n_ae=1, runs=1)
    assert main(["--quiet", "run", str(suite), "--store", "/proc/nrbench-x.sqlite"]) == 2
    assert capsys.readouterr().err == (
        "nrbench run: error: cannot open or create the result store /proc/nrbench-x.sqlite: unable to open database "
        "file (its folder /proc is not writable: No such file or directory); choose another --store PATH\n")


def _loaded(monkeypatch, load: float, cores: int = 2, omp: str | None = None):
    """A machine with this 1-minute load average and core count, and OMP_NUM_THREADS as given."""
    import os

    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    if omp is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", omp)


@pytest.mark.parametrize("load, cores, omp, workers, expected", [
    (1.3, 2, None, None, "OMP_NUM_THREADS=1 (the idle cores)"),   # one of 2 cores busy
    (2.4, 8, None, None, "OMP_NUM_THREADS=6 (the idle cores)"),
    (9.0, 8, None, None, "OMP_NUM_THREADS=1 (the idle cores)"),   # never 0 or fewer
    (2.4, 8, None, 4, "runs each fit on 2 threads"),              # --workers 4 shares out the 8 cores
    (0.4, 2, None, None, None),                                   # idle enough: no note
    (3.0, 2, "1", None, None),                                    # the user chose the threads
    (3.0, 1, None, None, None),                                   # one core: nothing to wait for
])
def test_busy_cores_hint_suggests_the_idle_cores(monkeypatch, load, cores, omp, workers, expected):
    from benchmark.environment import busy_cores_hint

    _loaded(monkeypatch, load, cores, omp)
    hint = busy_cores_hint(workers and cores // workers)
    if expected is None:
        assert hint is None
    else:
        assert expected in hint and f"load average {load:.1f} on {cores} cores" in hint


def test_a_run_on_busy_cores_says_how_to_avoid_waiting_threads(tmp_path, capsys, monkeypatch):
    suite = hf.write_suite(tmp_path / "t.toml", "[methods.kmeans]\nparams = { n_init = 1 }", runs=1)
    _loaded(monkeypatch, 1.5)
    assert main(["--quiet", "run", str(suite), "--store", str(tmp_path / "r.sqlite")]) == 0
    cap = capsys.readouterr()
    assert "nrbench run: note: the machine is busy before this run (1-minute load average 1.5 on 2 cores)" in cap.err
    assert "2 ok, 0 failed" in cap.out
    _loaded(monkeypatch, 1.5, omp="1")  # a chosen thread count: no note
    assert main(["--quiet", "run", str(suite), "--store", str(tmp_path / "r2.sqlite")]) == 0
    assert "note:" not in capsys.readouterr().err
