"""The render worker's sys.path filter (fast, no Blender)."""

from __future__ import annotations

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

