"""What nrbench keeps under ``$NRBENCH_HOME``, by kind, and the removal of resumable snapshots.

Long CPU runs leave snapshots behind on purpose (:mod:`methods.checkpoint`): a
pretraining run's ``models/*.partial.pt`` and a method fit's
``checkpoints/*.partial.pt``, kept until the same run finishes.  A snapshot whose
run is never repeated (the suite changed, the user gave up) stays on disk, so
``nrbench cache`` shows each kind's count and size, and removes snapshots only
when asked, never one written in the last :data:`RECENT_S` seconds (a live run
may be writing it) unless forced.

Lock files (``*.lock``, ``locks/``) are neither counted nor removed: deleting a
lock file another process waits on would let two processes write one entry.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from benchmark.paths import checkpoints_dir, datasets_dir, models_dir, nrbench_home, render_dir, results_dir
from methods.checkpoint import CHECKPOINT_EVERY_S

#: A snapshot younger than this may belong to a live run (they are rewritten every CHECKPOINT_EVERY_S).
RECENT_S = 2 * CHECKPOINT_EVERY_S
SNAPSHOT_SUFFIX = ".partial.pt"


@dataclass(frozen=True)
class CacheGroup:
    """One kind of cached file: its name, what it is for, and its files (sizes in bytes)."""

    name: str
    purpose: str
    files: tuple[Path, ...]

    @property
    def size(self) -> int:
        """Total bytes of the group's files."""
        return sum(_size(p) for p in self.files)


def _size(p: Path) -> int:
    try:
        return p.stat().st_size
    except FileNotFoundError:  # removed meanwhile (a run finished)
        return 0


def _is_lock(p: Path, home: Path) -> bool:
    return p.name.endswith(".lock") or (home / "locks") in p.parents


def _files(root: Path, home: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and not _is_lock(p, home))


def _is_snapshot(p: Path) -> bool:
    return p.name.endswith(SNAPSHOT_SUFFIX)


def inventory() -> list[CacheGroup]:
    """The files under ``$NRBENCH_HOME``, grouped by kind (locks left out); every file is in one group."""
    home = nrbench_home()
    models = _files(models_dir(), home)
    groups = [
        CacheGroup("data sets", "built and rendered data sets; rebuilt on demand", tuple(_files(datasets_dir(), home))),
        CacheGroup("pretrained networks", "the autoencoders every method and rerun share",
                   tuple(p for p in models if not _is_snapshot(p))),
        CacheGroup("pretraining snapshots", "stopped pretraining runs; resumed when the same run starts again",
                   tuple(p for p in models if _is_snapshot(p))),
        CacheGroup("fit snapshots", "stopped method fits of `nrbench run`; resumed by rerunning the suite",
                   tuple(p for p in _files(checkpoints_dir(), home) if _is_snapshot(p))),
        CacheGroup("render shards", "finished shards of a stopped `nrbench render`; the same render resumes from them",
                   tuple(_files(render_dir(), home))),
        CacheGroup("result stores", "SQLite result stores and their artefacts (the default store's folder)",
                   tuple(_files(results_dir(), home))),
        CacheGroup("raw downloads", "downloaded raw data (used when $NRBENCH_DATA is not set)",
                   tuple(_files(home / "raw", home))),
    ]
    seen = {p for g in groups for p in g.files}
    other = tuple(p for p in _files(home, home) if p not in seen)
    groups.append(CacheGroup("other", "anything else under the cache home", other))
    return groups


def snapshots() -> list[Path]:
    """Every pretraining and fit snapshot under ``$NRBENCH_HOME``."""
    return [p for g in inventory() if g.name.endswith("snapshots") for p in g.files]


def remove_snapshots(force: bool = False, now: float | None = None) -> tuple[list[Path], list[Path]]:
    """Delete the snapshots; returns (removed, kept).

    Without ``force``, a snapshot modified in the last :data:`RECENT_S` seconds is
    kept: a running pretraining or fit rewrites its snapshot every
    :data:`~methods.checkpoint.CHECKPOINT_EVERY_S`, and removing it would lose
    what that run could resume from.
    """
    now = time.time() if now is None else now
    removed, kept = [], []
    for p in snapshots():
        try:
            young = now - p.stat().st_mtime < RECENT_S
        except FileNotFoundError:
            continue
        if young and not force:
            kept.append(p)
            continue
        p.unlink(missing_ok=True)
        removed.append(p)
    return removed, kept


def total_size(files: Iterable[Path]) -> int:
    """Bytes of ``files`` (missing ones count 0)."""
    return sum(_size(p) for p in files)
