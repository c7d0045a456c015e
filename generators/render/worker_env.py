"""The render worker process's surroundings: its ``sys.path`` and its private temporary folder.

Imports neither ``bpy`` nor numpy, so the parent process uses it too.

- :func:`is_inherited_bpy_script_path`: a child that imports bpy fails with
  ``No module named '_bpy'`` when it inherited the script folders that a parent's
  ``import bpy`` put on ``sys.path`` (RENDERING.md).  Only those folders are
  dropped: ``.../bpy/<version>/scripts/...`` inside the bpy package and Blender's
  user folder ``.../blender/<version>/scripts/...``.  (A substring test for
  "bpy"/"blender" and "scripts" also dropped a virtual environment or checkout
  that merely lives under a folder such as ``~/blender-scripts``, and the worker
  then could not import bpy at all.)
- :func:`make_tmp` / :func:`remove_tmp_of` / :func:`sweep_stale_tmp`: every
  render process writes its frames into ``nrbench-render-<pid>-*`` (in
  ``/dev/shm`` where there is one).  A worker killed with SIGKILL (the parent's
  Ctrl-C, the OOM killer) cannot remove it, so the parent removes the folder of
  a worker it killed, and every new render process removes the folders of
  processes that no longer run and that nothing wrote to for an hour (a process
  in another pid namespace sharing ``/dev/shm`` may look dead from here; a live
  renderer writes its folder at every image).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path, PurePath

TMP_PREFIX = "nrbench-render-"
_VERSION = re.compile(r"\d+\.\d+")
_TMP_NAME = re.compile(rf"{re.escape(TMP_PREFIX)}(\d+)-")
#: A stale folder is swept only when nothing in it changed for this long (seconds).
STALE_AFTER_S = 3600.0


def is_inherited_bpy_script_path(path: str) -> bool:
    """Whether ``path`` is one of Blender's script folders (``<bpy|blender*>/<X.Y>/scripts[/...]``)."""
    parts = PurePath(path).parts
    for i in range(2, len(parts)):
        if parts[i] == "scripts" and _VERSION.fullmatch(parts[i - 1]):
            owner = parts[i - 2].lower()
            if owner == "bpy" or owner.startswith("blender"):
                return True
    return False


def strip_inherited_bpy_paths(paths: list[str]) -> list[str]:
    """``paths`` without Blender's script folders (see :func:`is_inherited_bpy_script_path`)."""
    return [p for p in paths if not is_inherited_bpy_script_path(p)]


def tmp_base() -> Path:
    """Where render processes put their temporary folders: ``/dev/shm`` if writable, else the system's."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return shm
    return Path(tempfile.gettempdir())


def make_tmp() -> Path:
    """A new private temporary folder of this process (its pid in the name), after sweeping stale ones."""
    sweep_stale_tmp()
    return Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-", dir=tmp_base()))


def remove_tmp_of(pid: int) -> int:
    """Remove the temporary folders of render process ``pid`` (call once it has exited); return how many."""
    gone = 0
    for d in tmp_base().glob(f"{TMP_PREFIX}{int(pid)}-*"):
        shutil.rmtree(d, ignore_errors=True)
        gone += 1
    return gone


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _last_change(d: Path) -> float:
    return max([d.stat().st_mtime] + [f.stat().st_mtime for f in d.iterdir()])


def sweep_stale_tmp(stale_after_s: float = STALE_AFTER_S) -> int:
    """Remove the temporary folders of render processes that no longer run; return how many.

    Only this user's folders, named with a pid that does not run here, unchanged for ``stale_after_s``.
    """
    gone = 0
    now = time.time()
    for d in tmp_base().glob(f"{TMP_PREFIX}*"):
        m = _TMP_NAME.match(d.name)
        try:
            if m is None or not d.is_dir() or d.stat().st_uid != os.getuid():
                continue
            if _running(int(m.group(1))) or now - _last_change(d) < stale_after_s:
                continue
        except OSError:  # removed meanwhile
            continue
        shutil.rmtree(d, ignore_errors=True)
        gone += 1
    return gone
