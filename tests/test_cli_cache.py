"""`nrbench cache`: the inventory of $NRBENCH_HOME by kind, and removing snapshots (never recent ones unforced)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from benchmark.cache_inventory import RECENT_S, inventory, remove_snapshots
from benchmark.cli import main
from benchmark.fileio import human_size


def _file(path: Path, size: int, age_s: float = 0.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    if age_s:
        t = time.time() - age_s
        os.utime(path, (t, t))
    return path


@pytest.fixture
def home(_isolated_home: Path) -> Path:
    h = _isolated_home
    _file(h / "datasets" / "mnist-abc.npz", 2_000_000)
    _file(h / "datasets" / "mnist-abc.npz.lock", 0)
    _file(h / "datasets" / "nrobjects-1" / "img_00001.png", 1_000)
    _file(h / "models" / "feedforward-k1.pt", 500_000)
    _file(h / "models" / "feedforward-k1.json", 1_000)
    _file(h / "models" / "feedforward-k1.pt.lock", 0)
    _file(h / "models" / "feedforward-k2.partial.pt", 300_000, age_s=3 * 3600)  # an abandoned pretraining
    _file(h / "checkpoints" / "fit-old.partial.pt", 40_000, age_s=2 * RECENT_S)
    _file(h / "checkpoints" / "fit-live.partial.pt", 60_000, age_s=30)  # a running fit's
    _file(h / "results" / "nrbench.sqlite", 10_000)
    _file(h / "locks" / "out.123.lock", 0)
    _file(h / "notes.txt", 7)
    return h


def test_the_inventory_puts_every_file_in_one_kind_and_leaves_locks_out(home):
    groups = {g.name: g for g in inventory()}
    assert {k: len(g.files) for k, g in groups.items()} == {
        "data sets": 2, "pretrained networks": 2, "pretraining snapshots": 1, "fit snapshots": 2,
        "render shards": 0, "result stores": 1, "raw downloads": 0, "other": 1}
    assert {k: g.size for k, g in groups.items()} == {
        "data sets": 2_001_000, "pretrained networks": 501_000, "pretraining snapshots": 300_000,
        "fit snapshots": 100_000, "render shards": 0, "result stores": 10_000, "raw downloads": 0, "other": 7}
    assert not any(p.name.endswith(".lock") for g in groups.values() for p in g.files)


def test_cache_prints_counts_and_sizes_per_kind(home, capsys):
    assert main(["cache"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"nrbench cache: {home} ($NRBENCH_HOME)"
    assert "  data sets                   2 files     2.0 MB  built and rendered data sets" in out
    assert "  pretraining snapshots       1 file    300.0 kB  stopped pretraining runs" in out
    assert "  fit snapshots               2 files   100.0 kB" in out
    assert "raw downloads" not in out  # an empty kind is not listed
    assert "  total                       9 files     2.9 MB" in out


def test_the_shards_of_a_stopped_render_are_their_own_kind_and_stay(_isolated_home, capsys):
    """They were listed as "other: anything else under the cache home"."""
    from generators.render.shards import RenderJob

    job = RenderJob("objects", 6, 16, 1, 0, shard_size=3)
    _file(job.shard_path(job.shards[0]), 4_000, age_s=3 * 3600)
    _file(job.workdir / "worker-0.log", 200)
    assert main(["cache"]) == 0
    out = capsys.readouterr().out
    assert ("  render shards               2 files     4.2 kB  finished shards of a stopped `nrbench render`; "
            "the same render resumes from them") in out
    assert "other" not in out
    assert main(["cache", "--remove-snapshots"]) == 0  # not a snapshot of a pretraining run or a fit
    assert job.shard_path(job.shards[0]).is_file()


def test_one_cached_file_is_one_file_in_the_total_too(_isolated_home, capsys):
    _file(_isolated_home / "datasets" / "synth-abc.npz", 1_500)
    assert main(["cache"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1:] == ["  data sets                   1 file      1.5 kB  built and rendered data sets; rebuilt on demand",
                       "  total                       1 file      1.5 kB"]  # it said "1 files"


def test_remove_snapshots_keeps_recent_ones_unless_forced(home, capsys):
    assert main(["cache", "--remove-snapshots"]) == 0
    out = capsys.readouterr().out
    assert f"removed {home / 'models' / 'feedforward-k2.partial.pt'}" in out
    assert f"removed {home / 'checkpoints' / 'fit-old.partial.pt'}" in out
    assert "nrbench cache: removed 2 snapshots" in out
    assert "kept 1 written in the last 10 minutes" in out and "fit-live.partial.pt" in out
    assert (home / "checkpoints" / "fit-live.partial.pt").exists()
    # nothing but snapshots is touched
    assert (home / "models" / "feedforward-k1.pt").exists() and (home / "datasets" / "mnist-abc.npz").exists()
    assert (home / "models" / "feedforward-k1.pt.lock").exists()
    assert main(["cache", "--remove-snapshots", "--force"]) == 0
    assert "nrbench cache: removed 1 snapshot\n" in capsys.readouterr().out
    assert not (home / "checkpoints" / "fit-live.partial.pt").exists()
    assert [g.files for g in inventory() if g.name.endswith("snapshots")] == [(), ()]


def test_remove_snapshots_returns_what_it_removed_and_kept(home):
    removed, kept = remove_snapshots(now=time.time() + 2 * RECENT_S)  # later: every snapshot is old
    assert len(removed) == 3 and kept == []


def test_an_empty_home_says_so(_isolated_home, capsys):
    assert main(["cache"]) == 0
    assert "(empty: nothing is cached yet)" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["cache"], ["cache", "--remove-snapshots"]])
def test_a_home_that_is_a_file_is_an_error_not_an_empty_cache(tmp_path, capsys, monkeypatch, argv):
    home = tmp_path / "home"
    home.write_text("")
    monkeypatch.setenv("NRBENCH_HOME", str(home))
    assert main(argv) == 2
    cap = capsys.readouterr()
    assert cap.out == ""
    assert cap.err == (f"nrbench cache: error: $NRBENCH_HOME {home} is a file, not a folder: point NRBENCH_HOME at a "
                       "folder (it is created if needed)\n")


def test_force_alone_is_a_usage_error(capsys):
    assert main(["cache", "--force"]) == 2
    assert "--force only applies to --remove-snapshots" in capsys.readouterr().err


def test_a_real_pretraining_snapshot_is_found_under_its_kind(_isolated_home, capsys):
    """The names the trainers write (methods.checkpoint / benchmark.runner) are the names counted."""
    from benchmark.paths import models_dir
    from benchmark.runner import fit_checkpoint_path
    from methods.checkpoint import checkpoint_path

    _file(checkpoint_path(models_dir() / "conv_resnet-abc.pt"), 10)
    _file(fit_checkpoint_path(("s", "quick", "enrc", "d", "h", 0, 0)), 20)
    sizes = {g.name: g.size for g in inventory()}
    assert sizes["pretraining snapshots"] == 10 and sizes["fit snapshots"] == 20


@pytest.mark.parametrize("n, text", [(0, "0 B"), (999, "999 B"), (1000, "1.0 kB"), (2_500_000, "2.5 MB"),
                                     (3 * 10**12, "3.0 TB"), (5 * 10**15, "5000.0 TB")])
def test_human_size(n, text):
    assert human_size(n) == text


def test_cache_help_explains_snapshots(capsys):
    with pytest.raises(SystemExit):
        main(["cache", "--help"])
    out = capsys.readouterr().out
    assert "resume" in out and "--remove-snapshots" in out and "last 10 minutes" in out
