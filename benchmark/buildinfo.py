"""Which commit of nrbench is running: the git commit that ``nrbench --version`` and every stored row name.

A git checkout (a clone, an editable install) asks git.  An installed copy (``pip install .``) lies in
site-packages without a ``.git`` of its own, so the build step (``setup.py``) records the commit of the tree
it was built from in :data:`BUILD_COMMIT_FILE` inside the package.  Standard library only: ``setup.py``
loads this file by path, before any of nrbench's dependencies are installed.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

#: Written by ``setup.py`` into the built package (``benchmark/_build_commit.txt``): ``g<sha>[.dirty]``.
BUILD_COMMIT_FILE = "_build_commit.txt"


def git_commit(root: Path) -> str | None:
    """``g<12-hex sha>`` (``.dirty`` added when tracked files changed) of the git checkout rooted at ``root``.

    None when ``root`` is not itself the top of a checkout (no ``.git`` there), so that a copy installed into
    a virtual environment inside some other repository never reports that repository's commit; None too
    when git is missing or fails.
    """
    if not (Path(root) / ".git").exists():  # a folder in a clone, a file in a worktree
        return None
    try:
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
                             capture_output=True, text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"g{sha}{'.dirty' if dirty else ''}" if sha else None


def write_build_commit(source_root: Path, package_dir: Path) -> str | None:
    """Record ``git_commit(source_root)`` in ``package_dir / BUILD_COMMIT_FILE`` (the build step); returns it.

    Writes nothing when the source is not a git checkout (e.g. an unpacked source archive).
    """
    commit = git_commit(source_root)
    if commit:
        Path(package_dir).mkdir(parents=True, exist_ok=True)
        (Path(package_dir) / BUILD_COMMIT_FILE).write_text(commit + "\n", encoding="utf-8")
    return commit


def installed_commit(root: Path) -> str | None:
    """The commit of the nrbench tree at ``root`` (the folder holding ``benchmark/``), or None if unknown.

    Asks git when ``root`` is a checkout, else reads what the build step recorded.
    """
    commit = git_commit(root)
    if commit:
        return commit
    try:
        return (Path(root) / "benchmark" / BUILD_COMMIT_FILE).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None
