"""Where nrbench keeps things: the cache home and the raw-data folder.

This module is the single source of truth for the two environment variables of
DESIGN.md ("Paths and configuration"):

- ``NRBENCH_HOME``: the cache of built data sets, pretrained autoencoders and
  results.  Default: the platform's user cache directory (``platformdirs``).
- ``NRBENCH_DATA``: where raw downloaded data lives (MNIST IDX files, the
  GTSRB folder, ...).  Default: ``<NRBENCH_HOME>/raw``.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_HOME = "NRBENCH_HOME"
ENV_DATA = "NRBENCH_DATA"
ENV_DEVICE = "NRBENCH_DEVICE"


def nrbench_home() -> Path:
    """Return the cache root (``$NRBENCH_HOME`` or the user cache dir)."""
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env).expanduser().resolve()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("nrbench")).resolve()


def data_home() -> Path:
    """Return the raw-data root (``$NRBENCH_DATA`` or ``<home>/raw``)."""
    env = os.environ.get(ENV_DATA)
    if env:
        return Path(env).expanduser().resolve()
    return nrbench_home() / "raw"


def datasets_dir() -> Path:
    """Folder of cached built data sets (``<home>/datasets``)."""
    return nrbench_home() / "datasets"


def locks_dir() -> Path:
    """Folder of lock files for outputs outside the cache (``<home>/locks``)."""
    return nrbench_home() / "locks"


def models_dir() -> Path:
    """Folder of cached pretrained autoencoders (``<home>/models``)."""
    return nrbench_home() / "models"


def checkpoints_dir() -> Path:
    """Folder of snapshots of stopped method fits, resumed by a rerun (``<home>/checkpoints``)."""
    return nrbench_home() / "checkpoints"


def render_dir() -> Path:
    """Folder of the shards of unfinished renders, resumed by the same render (``<home>/render``)."""
    return nrbench_home() / "render"


def results_dir() -> Path:
    """Default folder of result stores (``<home>/results``)."""
    return nrbench_home() / "results"
