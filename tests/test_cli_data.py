"""`nrbench list` and `nrbench generate`: output, cache placement, exit codes."""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from benchmark.cli import main
from benchmark.commands.generate import parse_params
from generators import CATALOG, Dataset, cache_path, resolve_params


def run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_list_datasets_is_the_default_and_shows_every_entry(capsys) -> None:
    rc, out, _ = run(capsys, "list")
    assert rc == 0 and run(capsys, "list", "datasets")[1] == out
    table, note = out.split("\n\n")
    lines = {ln.split()[0]: ln for ln in table.splitlines()[2:]}
    assert set(lines) == set(CATALOG)
    assert "n and sample are at the default parameters (e.g. synth's sample is 2 + k dimensions)" in note
    assert "12,000" in lines["synth"] and "cluster (4)" in lines["synth"]
    assert "upper (3), lower (3)" in lines["stickfigures"] and "1x20x20" in lines["stickfigures"]
    assert "left (10), right (10)" in lines["cmnist"] and "60,000" in lines["cmnist"]


def test_list_one_data_set_shows_its_parameters_and_defaults(capsys) -> None:
    rc, out, _ = run(capsys, "list", "datasets", "synth")
    assert rc == 0
    params = {ln.split()[0]: ln.split()[1] for ln in out.split("parameter")[1].splitlines()[2:] if ln.strip()
              and not ln.startswith("Set one")}
    assert params == {"n": "12000", "k": "25", "seed": "0", "rotate": "False"}
    assert "nrbench generate synth --param KEY=VALUE" in out
    assert run(capsys, "list", "datasets", "stickfigures-file")[1].count("required") == 1  # path=
    rc, _, err = run(capsys, "list", "datasets", "synthh")
    assert rc == 2 and "unknown data set 'synthh'; available: " in err
    rc, _, err = run(capsys, "list", "suites", "enrc-table1")
    assert rc == 2 and "a NAME is only taken by 'nrbench list datasets'" in err


def test_list_does_not_build_anything(capsys) -> None:
    run(capsys, "list")
    assert not (Path(os.environ["NRBENCH_HOME"]) / "datasets").exists()


def test_list_suites_uses_describe_suites(capsys, monkeypatch) -> None:
    fake = types.ModuleType("benchmark.suites")
    fake.describe_suites = lambda: [{"name": "demo", "tier": "quick", "description": "a demo suite",
                                     "est_cost": "~1 min"}]
    monkeypatch.setitem(sys.modules, "benchmark.suites", fake)
    rc, out, _ = run(capsys, "list", "suites")
    assert rc == 0 and "demo" in out and "quick" in out and "~1 min" in out and "a demo suite" in out


def test_list_suites_without_the_module_is_one_line_exit_1(capsys, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "benchmark.suites", None)  # import raises ImportError
    rc, out, err = run(capsys, "list", "suites")
    assert rc == 1 and out == "" and len(err.strip().splitlines()) == 1 and "suites" in err


def test_list_budgets_names_every_budget_with_its_procedure(capsys) -> None:
    from methods.pretrain import BUDGETS

    rc, out, _ = run(capsys, "list", "budgets")
    lines = {ln.split()[0]: ln for ln in out.splitlines()[2:]}
    assert rc == 0 and set(lines) == set(BUDGETS)
    assert "one-cycle Adam: 10,000 + 5,000 fine-tuning iterations, batch 128, max-lr 0.01" in lines["paper-enrc"]
    assert ("DEC stacked autoencoder (SGD): 50,000 greedy iterations per layer pair (dropout 0.2) + 100,000 "
            "end-to-end, batch 256, lr 0.1 / 0.1 divided by 10 every 20,000") in lines["dec-sae"]


def test_parse_params_json_then_string() -> None:
    assert parse_params(["k=50", "rotate=true", "x=0.5", "split=test", "path=/a=b", "s=\"7\""]) == \
        {"k": 50, "rotate": True, "x": 0.5, "split": "test", "path": "/a=b", "s": "7"}
    with pytest.raises(ValueError, match="--param"):
        parse_params(["k"])


def test_a_numeric_path_names_a_folder(capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_params(["path=123", "size=16"], raw=["path"]) == {"path": "123", "size": 16}
    (tmp_path / "123").mkdir()
    monkeypatch.chdir(tmp_path)
    rc, _, err = run(capsys, "-q", "generate", "gtsrb", "--param", "path=123")
    # the folder named 123 is looked into (and found empty), instead of a TypeError about an int
    assert rc == 1 and f"{tmp_path / '123'} has neither the official layout" in err


def test_generate_into_cache_prints_file_checksum_summary(capsys) -> None:
    rc, out, _ = run(capsys, "-q", "generate", "synth", "--seed", "3", "--param", "n=400", "--param", "k=2")
    assert rc == 0
    path = cache_path("synth", resolve_params("synth", n=400, k=2, seed=3))
    ds = Dataset.load(path)
    assert str(path) in out and ds.checksum in out and ds.summary() in out
    assert ds.params["seed"] == 3 and ds.X.shape == (400, 4)


def test_generate_names_the_cached_copy_it_used_when_the_source_file_is_gone(capsys, tmp_path: Path) -> None:
    """Served from a copy built when the file was there, generate printed a file name that did not exist."""
    src = tmp_path / "sticks.csv"
    rows = [[u, low] + [9] * 400 for u in range(3) for low in range(3)]
    src.write_text("\n".join(",".join(map(str, r)) for r in rows))
    rc, out, _ = run(capsys, "-q", "generate", "stickfigures-file", "--param", f"path={src}")
    built = [ln.split()[1] for ln in out.splitlines() if ln.strip().startswith("file ")]
    assert rc == 0 and len(built) == 1 and Path(built[0]).is_file()
    src.unlink()
    with pytest.warns(UserWarning, match="its source files are absent here; using the cached copy"):
        rc, out, _ = run(capsys, "-q", "generate", "stickfigures-file", "--param", f"path={src}")
    assert rc == 0
    assert [ln.split()[1] for ln in out.splitlines() if ln.strip().startswith("file ")] == built
    assert Dataset.load(built[0]).checksum in out


def test_generate_out_dir_and_rebuild(capsys, tmp_path: Path) -> None:
    rc, out, _ = run(capsys, "-q", "generate", "stickfigures", "--param", "n_per_combination=2", "--out", str(tmp_path))
    assert rc == 0
    files = list(tmp_path.glob("stickfigures-*.npz"))
    assert len(files) == 1 and str(files[0]) in out
    assert [p.name for p in tmp_path.iterdir()] == [files[0].name]  # no .lock file in the user's folder
    before = files[0].stat().st_mtime_ns
    run(capsys, "-q", "generate", "stickfigures", "--param", "n_per_combination=2", "--out", str(tmp_path))
    assert files[0].stat().st_mtime_ns == before  # reused
    run(capsys, "-q", "generate", "stickfigures", "--param", "n_per_combination=2", "--out", str(tmp_path),
        "--rebuild")
    assert files[0].stat().st_mtime_ns != before
    assert not (Path(os.environ["NRBENCH_HOME"]) / "datasets").exists()  # nothing in the cache


def test_generate_all_builds_builtins_with_a_table(capsys, monkeypatch) -> None:
    from generators import synth

    monkeypatch.setattr(synth, "build_synth", _small_synth(synth.build_synth))  # keep the test quick
    rc, out, _ = run(capsys, "-q", "generate", "all")
    assert rc == 0
    table = out[out.index("name "):].splitlines()
    assert table[2].startswith("synth") and table[3].startswith("stickfigures")
    ds = Dataset.load(cache_path("stickfigures", resolve_params("stickfigures")))
    assert ds.checksum[:16] in table[3] and ds.n == 900
    assert run(capsys, "-q", "generate", "--builtin")[0] == 0


def _small_synth(real):
    import functools

    @functools.wraps(real)
    def small(**kw):
        return real(**{**kw, "n": 300})
    return small


@pytest.mark.parametrize("argv, needle", [
    (["generate", "nosuch"], "available: cmnist"),
    (["generate"], "available"),
    (["generate", "synth", "--param", "k=-2"], "k (the number of noise dimensions)"),
    (["generate", "synth", "--param", "bogus=1"], "unknown parameter"),
    (["generate", "usps", "--seed", "1"], "--seed"),
    (["generate", "all", "--param", "k=2"], "--param"),
    (["generate", "synth", "--seed", "-1"], "parameter 'seed' must be >= 0; got -1"),
    (["generate", "synth", "--param", "rotate=maybe"], "parameter 'rotate' must be true or false; got 'maybe'"),
    (["generate", "synth", "--param", "k=2.5"], "parameter 'k' must be an integer; got 2.5"),
    (["generate", "synth", "--param", "n=3"], "n must be an integer >= 4"),
    (["generate", "synth", "--param", "k=3", "--param", "k=4"], "--param k is given twice"),
    (["generate", "cmnist", "--param", "split=1"], "parameter 'split' must be a string; got 1"),
])
def test_generate_usage_errors_exit_2(capsys, argv, needle) -> None:
    rc, _, err = run(capsys, "-q", *argv)
    assert rc == 2 and needle in err and "Traceback" not in err


@pytest.mark.parametrize("param, named", [
    ("n=1000000000000", "n=1000000000000 and k=25"),
    ("n_per_combination=1000000000000", "n_per_combination=1000000000000"),
])
def test_generate_a_size_that_cannot_fit_is_refused_up_front(capsys, param, named) -> None:
    """A huge n is a parameter mistake named in one line (exit 2), not a MemoryError after allocating."""
    name = "synth" if param.startswith("n=") else "stickfigures"
    rc, out, err = run(capsys, "-q", "generate", name, "--param", param)
    assert (rc, out) == (2, "")
    assert err.startswith(f"nrbench generate: error: {named}: building this data set needs about ")
    assert " TB of memory, but only " in err and " is available; choose a smaller value" in err
    assert err.count("\n") == 1


def test_generate_out_that_is_a_file_is_refused_before_building(capsys, tmp_path: Path) -> None:
    f = tmp_path / "afile"
    f.write_text("x")
    rc, _, err = run(capsys, "-q", "generate", "synth", "--out", str(f))
    assert rc == 2 and f"--out folder {f} is a file, not a folder" in err and f.read_text() == "x"


@pytest.mark.parametrize("out", [False, True])
def test_generate_with_a_home_that_is_a_file_is_one_line_exit_2(capsys, tmp_path: Path, monkeypatch, out) -> None:
    """With --out too: its lock lives in $NRBENCH_HOME/locks (it was a NotADirectoryError, exit 1)."""
    home = tmp_path / "home"
    home.write_text("")
    monkeypatch.setenv("NRBENCH_HOME", str(home))
    rc, stdout, err = run(capsys, "generate", "synth", "-p", "n=40", *(["--out", str(tmp_path / "o")] if out else []))
    assert (rc, stdout) == (2, "")
    assert err == (f"nrbench generate: error: $NRBENCH_HOME {home} is a file, not a folder: point NRBENCH_HOME at a "
                   "folder (it is created if needed)\n")
    assert not (tmp_path / "o").exists()


def test_generate_missing_raw_data_exits_1(capsys, tmp_path: Path, monkeypatch) -> None:
    from generators import download

    monkeypatch.setenv("NRBENCH_DATA", str(tmp_path))
    monkeypatch.setattr(download, "fetch", lambda *a, **k: (_ for _ in ()).throw(OSError("offline")))
    rc, _, err = run(capsys, "-q", "generate", "mnist", "--param", "split=test")
    assert rc == 1 and "DataUnavailableError" in err and str(tmp_path / "mnist") in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("content, message", [
    (b"1 2 3\n", "must have rows of 402 values (2 labels + 400 pixels); row 1 has 3 values"),
    (b"a b " + b" 1" * 400 + b"\n", "has a non-numeric value"),
    (bytes([0xC1, 0xFF, 0x00]) * 100, "is not a text file of rows of numbers"),
])
def test_generate_a_malformed_raw_file_is_a_data_error_exit_1(capsys, tmp_path: Path, content, message) -> None:
    """A file whose contents are wrong is a data error, as a missing file or a checksum mismatch: exit 1, one
    line (it was 2, the status of a command-line mistake)."""
    src = tmp_path / "sticks.data"
    src.write_bytes(content)
    rc, out, err = run(capsys, "-q", "generate", "stickfigures-file", "--param", f"path={src}")
    assert (rc, out) == (1, "")
    assert err.startswith(f"nrbench generate: error: path: {src} {message}") and err.count("\n") == 1


def test_generate_a_damaged_cached_copy_without_its_source_is_a_data_error_exit_1(capsys, tmp_path: Path) -> None:
    """The source file is gone and its cached copy is damaged: nothing to rebuild from, a data error (exit 1)."""
    src = tmp_path / "sticks.csv"
    src.write_text("\n".join(",".join(map(str, [u, low] + [9] * 400)) for u in range(3) for low in range(3)))
    rc, out, _ = run(capsys, "-q", "generate", "stickfigures-file", "--param", f"path={src}")
    built = Path(next(ln.split()[1] for ln in out.splitlines() if ln.strip().startswith("file ")))
    src.unlink()
    with np.load(built) as z:  # altered pixels under the recorded metadata: its SHA-256 no longer matches
        arrays = {k: z[k] for k in z.files}
    arrays["X"] = arrays["X"] + 1
    np.savez_compressed(built, **arrays)
    rc, out, err = run(capsys, "-q", "generate", "stickfigures-file", "--param", f"path={src}")
    assert (rc, out) == (1, "")
    assert err.startswith(f"nrbench generate: error: {built}: ") and "SHA-256 mismatch" in err and err.count("\n") == 1
    assert "cannot be rebuilt here because the source files of stickfigures-file are absent" in err


def test_help_lists_the_exit_statuses(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps the epilog
    assert exc.value.code == 0
    assert ("exit status: 0 done; 1 a failure: a fit or task failed, or a data error (a missing, corrupt or altered "
            "file, a checksum mismatch); 2 a usage error: a bad argument, parameter or environment variable;") in out


@pytest.mark.slow
def test_generate_cmnist_test_from_real_data(capsys, real_data_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("NRBENCH_DATA", str(real_data_dir))
    rc, out, _ = run(capsys, "-q", "generate", "cmnist", "--param", "split=test")
    assert rc == 0 and "cmnist-test: n=10000, sample (1, 56, 56) uint8, clusterings left (10), right (10)" in out
    ds = Dataset.load(cache_path("cmnist", resolve_params("cmnist", split="test")))
    assert np.bincount(ds.labels[:, 0]).sum() == 10000


@pytest.mark.parametrize("unbuffered", [False, True])
def test_a_reader_that_goes_away_stops_nrbench_quietly(tmp_path, unbuffered) -> None:
    """`nrbench list suites | true` (the README's example: the reader is gone before nrbench writes): no
    BrokenPipeError traceback, the shell's SIGPIPE status 141.

    Buffered (the output is flushed at the end) and unbuffered (PYTHONUNBUFFERED: written at once).
    """
    import subprocess

    env = dict(os.environ, NRBENCH_HOME=str(tmp_path))
    env.pop("PYTHONUNBUFFERED", None)
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    r, w = os.pipe()
    os.close(r)  # the reader is gone before nrbench writes anything
    try:
        res = subprocess.run([sys.executable, "-m", "benchmark.cli", "list", "suites"], stdout=w,
                             stderr=subprocess.PIPE, env=env, text=True, timeout=120, check=False)
    finally:
        os.close(w)
    assert res.returncode == 141, res.stderr
    assert res.stderr == ""


def test_a_corrupted_cache_file_is_one_warning_line_and_rebuilt(tmp_path) -> None:
    """The CLI prints a warning as one `nrbench: warning:` line (Python's format adds file, line and source),
    and a corrupted cache file is reported once (it was three times: the warning and two prints)."""
    import subprocess

    env = dict(os.environ, NRBENCH_HOME=str(tmp_path))
    argv = [sys.executable, "-m", "benchmark.cli", "-q", "generate", "synth", "--param", "k=1", "--param", "n=40"]
    first = subprocess.run(argv, capture_output=True, env=env, text=True, timeout=120, check=True)
    path = next((tmp_path / "datasets").glob("synth-*.npz"))
    path.write_bytes(b"not a zip file")
    res = subprocess.run(argv, capture_output=True, env=env, text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stderr
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith(f"nrbench: warning: corrupted cache file, rebuilding: {path}: not a readable ")
    sha = [ln for ln in first.stdout.splitlines() if "sha256" in ln]
    assert sha and sha == [ln for ln in res.stdout.splitlines() if "sha256" in ln]  # the same data again


#: Runs the CLI with Python's own SIGINT handler: a child of a background shell inherits SIGINT ignored.
_WITH_CTRL_C = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
                "from benchmark.cli import main; sys.exit(main(sys.argv[1:]))")


def test_ctrl_c_while_a_data_set_is_saved_is_one_line_and_leaves_no_file(tmp_path) -> None:
    """Ctrl-C in the middle of writing the archive: `nrbench: interrupted`, status 130, no traceback of
    numpy's unclosed ZipFile ("Exception ignored ... seek of closed file"), no partial or temporary file."""
    import signal
    import subprocess
    import time

    env = dict(os.environ, NRBENCH_HOME=str(tmp_path), OMP_NUM_THREADS="1")
    folder = tmp_path / "datasets"
    # 500,000 x 27 float32 (54 MB): about 2 s of compression on one idle core, so the write is caught mid-way
    proc = subprocess.Popen([sys.executable, "-c", _WITH_CTRL_C, "-q", "generate", "synth", "-p", "n=500000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            tmp = [f for f in folder.glob(".synth-*.tmp") if f.stat().st_size > 1 << 20] if folder.is_dir() else []
            if tmp:  # the archive is being written
                os.killpg(proc.pid, signal.SIGINT)
                break
            time.sleep(0.005)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert tmp, f"the save ended before it could be interrupted (exit {proc.returncode}): {err}"
    assert (proc.returncode, err) == (130, "nrbench: interrupted\n")
    assert out == ""
    assert [f.name for f in folder.iterdir() if not f.name.endswith(".lock")] == []


def test_the_cli_warning_format_does_not_outlive_the_command(capsys) -> None:
    import warnings

    before = warnings.formatwarning
    assert main(["list"]) == 0
    assert warnings.formatwarning is before  # python -c "main(...); warnings.warn(...)" keeps Python's format
