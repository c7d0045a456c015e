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


#: The quick tier (``nrbench run``, 2 cores) with one of the 2 cores kept busy by another process: 56.2 s with
#: torch's default 2 threads, 20.6 s with ``OMP_NUM_THREADS=1`` (22.3 s and 20.1 s on idle cores), measured
#: with ``/usr/bin/time env OMP_NUM_THREADS=N nrbench run`` beside ``python -c "while True: pass"``.
BUSY_CORES_LOAD = 1.0


def busy_cores_hint(threads_per_process: int | None = None) -> str | None:
    """A note for a run whose cores are already busy, or None.

    torch's CPU kernels split their work over ``threads_per_process`` threads (default: every
    core) and wait at the end of each kernel for the slowest; a thread that shares its core with
    another process is the slowest every time, so on a loaded machine a fit can run several times
    slower than with fewer threads (:data:`BUSY_CORES_LOAD`'s measurement).  The note is given when
    the 1-minute load average before the run is at least ``BUSY_CORES_LOAD`` and the thread count
    was not chosen (``OMP_NUM_THREADS`` unset); it suggests the number of idle cores.
    """
    if os.environ.get("OMP_NUM_THREADS") or not hasattr(os, "getloadavg"):
        return None
    cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except OSError:
        return None
    if cores < 2 or load < BUSY_CORES_LOAD:
        return None
    threads = threads_per_process or cores
    idle = max(1, cores - round(load))
    return (f"the machine is busy before this run (1-minute load average {load:.1f} on {cores} cores), and torch "
            f"runs each fit on {threads} threads that wait for each other on busy cores, which can make fits several "
            f"times slower; if the load stays, set OMP_NUM_THREADS={idle} (the idle cores)")


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
