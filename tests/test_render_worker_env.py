"""The render worker's sys.path filter and temporary folders (fast, no Blender)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from generators.render import worker_env as W

#: What `import bpy` (5.0.1, in a venv) adds to sys.path, and Blender's user folders elsewhere.
BPY_SCRIPT_PATHS = [
    "/work/venv/lib/python3.11/site-packages/bpy/5.0/scripts/startup",
    "/work/venv/lib/python3.11/site-packages/bpy/5.0/scripts/modules",
    "/work/venv/lib/python3.11/site-packages/bpy/5.0/scripts/freestyle/modules",
    "/root/.config/blender/5.0/scripts/addons/modules",
    "/work/venv/lib/python3.11/site-packages/bpy/5.0/scripts/addons_core",
    "/Users/a/Library/Application Support/Blender/4.2/scripts/addons",
]
#: Folders that only happen to contain "blender"/"bpy" and "scripts": a worker needs them.
KEPT = [
    "/home/a/blender-scripts/venv/lib/python3.11/site-packages",
    "/home/a/scripts/bpy-tools/nrbench",
    "/home/nbpy/scripts",
    "/work/venv/lib/python3.11/site-packages",
    "",
]


def test_only_blenders_script_folders_are_dropped() -> None:
    assert W.strip_inherited_bpy_paths(BPY_SCRIPT_PATHS + KEPT) == KEPT
    assert all(W.is_inherited_bpy_script_path(p) for p in BPY_SCRIPT_PATHS)


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_sweep_removes_the_folders_of_exited_render_processes_only(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(W, "tmp_base", lambda: tmp_path)
    dead = _dead_pid()
    stale = tmp_path / f"{W.TMP_PREFIX}{dead}-abc"
    live = tmp_path / f"{W.TMP_PREFIX}{os.getpid()}-def"
    unnamed = tmp_path / f"{W.TMP_PREFIX}xyz"  # not ours to judge (no pid)
    other = tmp_path / "something-else"
    recent = tmp_path / f"{W.TMP_PREFIX}{dead}-ghi"  # written to lately: maybe another pid namespace's
    old = time.time() - 2 * W.STALE_AFTER_S
    for d in (stale, live, unnamed, other, recent):
        d.mkdir()
        (d / "frame.png").write_bytes(b"png")
        if d is not recent:
            os.utime(d / "frame.png", (old, old))
            os.utime(d, (old, old))
    assert W.sweep_stale_tmp() == 1
    assert not stale.exists() and live.exists() and unnamed.exists() and other.exists() and recent.exists()
    made = W.make_tmp()
    assert made.parent == tmp_path and made.name.startswith(f"{W.TMP_PREFIX}{os.getpid()}-")
    assert W.remove_tmp_of(os.getpid()) == 2 and not made.exists() and not live.exists()

