"""`nrbench render`: bad input and a missing bpy fail fast with one line; a tiny real render via the CLI and Dask."""

from __future__ import annotations

import numpy as np
import pytest

import generators
from benchmark.cli import main
from generators.render.datasets import bpy_available


def needs_bpy(func):
    """Mark a test as a real (tiny) render: ``render`` + ``slow``, skipped without bpy."""
    for mark in (pytest.mark.render, pytest.mark.slow,
                 pytest.mark.skipif(not bpy_available(), reason="bpy not installed (pip install 'nrbench[render]')")):
        func = mark(func)
    return func


def _no_render(*a, **k):
    raise AssertionError("must fail before rendering")


@pytest.mark.parametrize(
    ("argv", "param"),
    [
        (["--resolution", "7"], "resolution"),
        (["--samples", "0"], "samples"),
        (["--n", "0"], "n"),
        (["--workers", "0"], "workers"),
    ],
)
def test_bad_input_is_a_usage_error_naming_the_parameter(argv, param, capsys, monkeypatch) -> None:
    import generators.render.executors as ex

    monkeypatch.setattr(ex, "run_local", _no_render)
    rc = main(["render", "objects", "--n", "6", *argv] if "--n" not in argv else ["render", "objects", *argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and f"error: {param} " in err[0]


def test_help_names_values_as_the_other_commands_and_the_readme_do(capsys) -> None:
    """`--out DIR`, `--workers N`, `--scheduler ADDR` (as `nrbench run`/`plot` and the README), not argparse's
    upper-cased option names (`--out OUT`, `--scheduler SCHEDULER`)."""
    with pytest.raises(SystemExit):
        main(["render", "--help"])
    usage = " ".join(capsys.readouterr().out.split("positional arguments")[0].split())
    for shown in ("--n N", "--resolution PX", "--samples N", "--out DIR", "--workers N", "--scheduler ADDR",
                  "--shard-size N"):
        assert f"[{shown}]" in usage, shown


def test_unwritable_out_fails_before_rendering(tmp_path, capsys, monkeypatch) -> None:
    import generators.render.executors as ex

    monkeypatch.setattr(ex, "run_local", _no_render)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    rc = main(["render", "nrobjects", "--n", "36", "--out", str(blocker / "sub")])
    err = capsys.readouterr().err
    assert rc == 2 and "--out folder" in err and "not writable" in err
    assert not (tmp_path / "render").exists()


def test_missing_bpy_says_so_in_one_line(capsys, monkeypatch) -> None:
    import generators.render.datasets as rd

    monkeypatch.setattr(rd, "bpy_available", lambda: False)
    rc = main(["render", "objects", "--n", "6", "--resolution", "16"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1
    assert len(err) == 1 and "bpy" in err[0] and "pip install 'nrbench[render]'" in err[0]


@needs_bpy
def test_cli_renders_into_the_cache_with_contact_sheet(tmp_path, capsys) -> None:
    out = tmp_path / "out"
    argv = ["render", "objects", "--n", "7", "--resolution", "16", "--samples", "2", "--seed", "3",
            "--shard-size", "4", "--out", str(out), "-q"]
    assert main(argv) == 0
    cap = capsys.readouterr()
    notes = [ln for ln in cap.err.splitlines() if "note:" in ln]
    assert len(notes) == 1 and "n=7 is not a multiple of the 3 label combinations" in notes[0]
    assert "objects: n=7, sample (1, 16, 16) uint8, clusterings shape (3)" in cap.out
    ds = generators.get("objects", n=7, resolution=16, samples=2, seed=3)
    assert ds.X.shape == (7, 1, 16, 16) and sorted(np.bincount(ds.labels[:, 0])) == [2, 2, 3]
    assert "1 combination appears 3 times and 2 appear 2 times" in ds.params["label_balance"]
    assert ds.params["label_names"] == {"shape": ["cube", "sphere", "cylinder"]}
    sheets = list(out.glob("objects-*-contact.png"))
    copies = list(out.glob("objects-*.npz"))
    assert len(sheets) == 1 and len(copies) == 1
    from PIL import Image

    with Image.open(sheets[0]) as im:
        assert im.size[0] > 300 and im.size[1] > 150
    assert generators.Dataset.load(copies[0]).checksum == ds.checksum
    # a second run finds the finished data set and renders nothing
    assert main(argv) == 0
    assert "already rendered" in capsys.readouterr().err


@needs_bpy
def test_dask_executor_renders_the_same_data_as_local(tmp_path, monkeypatch) -> None:
    from generators.render.datasets import render_dataset

    kw = dict(n=6, resolution=16, samples=2, seed=0, shard_size=3, progress=False, save=False)
    monkeypatch.setenv("NRBENCH_HOME", str(tmp_path / "a"))
    local = render_dataset("objects", **kw)
    monkeypatch.setenv("NRBENCH_HOME", str(tmp_path / "b"))
    dask = render_dataset("objects", executor="dask", workers=1, **kw)
    assert np.array_equal(dask.labels, local.labels)
    assert np.array_equal(dask.X, local.X)  # bit-identical, whichever executor rendered them
    assert dask.params["render_stats"]["executor"] == "dask"


def test_a_second_render_of_the_same_data_set_waits_for_the_first_instead_of_rendering_again(
        capsys, monkeypatch) -> None:
    """Two `nrbench render` of one data set at once (or one beside a generators.get building it):
    the second waits for the first and loads its file; both rendering the same shards made the first
    to finish delete the shard folder under the other, which then failed."""
    import threading
    import time

    import generators.render.datasets as rd
    from generators.registry import cache_path, resolve_params

    argv = ["render", "objects", "--n", "3", "--resolution", "8", "--samples", "1", "-q"]
    target = cache_path("objects", resolve_params("objects", n=3, resolution=8, samples=1, seed=0))
    first_started = threading.Event()
    calls = []

    def fake_render(name, **kw):  # renders for a second, then saves where the real one saves
        calls.append(name)
        first_started.set()
        time.sleep(1.0)
        ds = generators.Dataset(name, np.full((3, 1, 8, 8), len(calls), np.uint8), np.arange(3), ("shape",),
                                params={"n": 3, "resolution": 8, "samples": 1, "seed": 0})
        ds.save(target)
        return ds

    monkeypatch.setattr(rd, "bpy_available", lambda: True)
    monkeypatch.setattr(rd, "render_dataset", fake_render)
    # the command itself, not main(): main() swaps warnings.formatwarning, which two threads would leak
    from benchmark.cli import build_parser

    args = build_parser().parse_args(argv)
    codes = []
    first = threading.Thread(target=lambda: codes.append(args._module.run(args)))
    first.start()
    assert first_started.wait(30)
    codes.append(args._module.run(args))  # starts while the first is rendering
    first.join(30)
    err = capsys.readouterr().err
    assert codes == [0, 0]
    assert calls == ["objects"]  # rendered once
    assert "another process is rendering" in err and "already rendered" in err
    assert generators.Dataset.load(target).X.max() == 1
