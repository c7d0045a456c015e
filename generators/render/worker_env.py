"""The render worker process's surroundings: which ``sys.path`` entries it drops before importing bpy.

Imports neither ``bpy`` nor numpy, so the parent process can use it too.

:func:`is_inherited_bpy_script_path`: a child that imports bpy fails with
``No module named '_bpy'`` when it inherited the script folders that a parent's
``import bpy`` put on ``sys.path`` (RENDERING.md).  Only those folders are
dropped: ``.../bpy/<version>/scripts/...`` inside the bpy package and Blender's
user folder ``.../blender/<version>/scripts/...``.  (A substring test for
"bpy"/"blender" and "scripts" also dropped a virtual environment or checkout
that merely lives under a folder such as ``~/blender-scripts``, and the worker
then could not import bpy at all.)
"""

from __future__ import annotations

import re
from pathlib import PurePath

_VERSION = re.compile(r"\d+\.\d+")


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

