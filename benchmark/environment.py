"""Checks of nrbench's environment variables, run by the commands before they start any work.

A mistake in ``$NRBENCH_HOME``, ``$NRBENCH_DEVICE`` or ``$NRBENCH_CLAIM_LEASE_S`` would
otherwise show up in every task of a run (one ``error`` row per fit: hundreds on a paper
suite), or as an empty cache.  Each check reuses the function that reads its variable
(:func:`benchmark.paths.nrbench_home`, :func:`methods.device.resolve_device`,
:func:`benchmark.claims.lease_seconds`), so the rules live in one place.
"""

from __future__ import annotations

import os
from pathlib import Path

from benchmark.paths import ENV_HOME, nrbench_home


def home_problem(writable: bool = False, create: bool = True) -> str | None:
    """What is wrong with the cache home (``$NRBENCH_HOME``), or None.

    The home, or its nearest existing ancestor where it does not exist yet, must be a
    folder.  With ``writable`` a file must also be writable there, as every building command
    needs: with ``create`` the home is created if needed and probed
    (:func:`benchmark.fileio.write_error`); without, the nearest existing folder is probed and
    nothing is left behind (a dry run).  Read-only commands pass neither.
    """
    home = nrbench_home()
    what = f"${ENV_HOME}" if os.environ.get(ENV_HOME) else "the cache home (the default of $NRBENCH_HOME)"
    existing = home
    while not _exists(existing) and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        whose = "is" if existing == home else f"is inside {existing}, which is"
        return f"{what} {home} {whose} a file, not a folder: point {ENV_HOME} at a folder (it is created if needed)"
    if writable:
        from benchmark.fileio import write_error

        reason = write_error(home if create else existing, create=create)
        if reason is not None:
            return f"{what} {home} is not writable: {reason}: point {ENV_HOME} at a folder you can write to"
    return None


def _exists(path: Path) -> bool:
    """``path.exists()``, False also where a parent is a file (``NotADirectoryError``) or unreadable."""
    try:
        path.stat()
    except OSError:
        return False
    return True


def device_problem(here: bool = True) -> str | None:
    """What is wrong with ``$NRBENCH_DEVICE``, or None (also when it is not set).

    ``here``: the deep methods will run on this machine, so the device must exist here
    (CUDA available, the index present); else (a remote Dask cluster) only its name is checked.
    """
    from benchmark.paths import ENV_DEVICE

    if not os.environ.get(ENV_DEVICE):
        return None
    from methods.device import resolve_device

    try:
        resolve_device(None, check_available=here)
    except ValueError as exc:
        return str(exc)
    return None


def lease_problem() -> str | None:
    """What is wrong with ``$NRBENCH_CLAIM_LEASE_S``, or None."""
    from benchmark.claims import lease_seconds

    try:
        lease_seconds()
    except ValueError as exc:
        return str(exc)
    return None


def check_environment(*, home: bool = True, writable: bool = False, create: bool = True, device: bool = False,
                      device_here: bool = True, lease: bool = False) -> list[str]:
    """The problems found by the chosen checks, in that order (empty: all is well).

    ``home``, ``writable``, ``create``: :func:`home_problem`; ``device``, ``device_here``:
    :func:`device_problem`; ``lease``: :func:`lease_problem`.
    """
    found = []
    if home:
        found.append(home_problem(writable, create))
    if device:
        found.append(device_problem(device_here))
    if lease:
        found.append(lease_problem())
    return [p for p in found if p is not None]


def require_environment(**checks: bool) -> None:
    """:func:`check_environment`, raising ``ValueError`` (the CLI's exit 2, one line) with every problem found."""
    problems = check_environment(**checks)
    if problems:
        raise ValueError("; ".join(problems))
