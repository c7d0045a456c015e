"""Memory: this process's peak resident set, and what the machine has available for a new build.

:func:`available_memory_bytes` is the one source of truth for "how much can still be allocated",
used by :func:`check_fits_in_memory` so that a generator asked for a huge size refuses at once,
naming the parameter, instead of failing late with a ``MemoryError`` or swapping for minutes.

Peak resident memory of the current process image: one definition for workers and benchmarks.

Why not ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` alone: on Linux it survives
``execve``, and a process started by ``subprocess``/``Popen`` (fork + exec) inherits
the high-water mark of its parent's address space at the fork.  A child started
from a pytest process that peaked at 1.5 GB reports 1.5 GB however little it used
(``tests/test_memory.py``: after the parent touches 300 MiB, a bare child Python's
``ru_maxrss`` is above 300 MiB and its ``VmHWM`` below 150).  ``VmHWM`` in
``/proc/self/status`` is the peak of the current address space, so it is the child's own.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

from benchmark.fileio import human_size


def peak_rss_mb() -> float:
    """This process image's peak resident set in MiB: ``VmHWM`` on Linux, else ``ru_maxrss``.

    The fallback (no ``/proc``, e.g. macOS, where ``ru_maxrss`` is in bytes) may
    include a parent's peak, as explained in the module docstring.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 1024.0


def available_memory_bytes() -> int | None:
    """Bytes that a new allocation can use now without swapping; None where this cannot be read.

    ``MemAvailable`` of ``/proc/meminfo`` (the kernel's estimate, reclaimable page cache
    included), lowered to what this process's cgroup v2 memory limit leaves (a container's
    limit, which ``/proc/meminfo`` does not show).  None without ``/proc`` (e.g. macOS): callers
    then skip their checks rather than guess.
    """
    try:
        with open("/proc/meminfo") as fh:
            avail = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError, IndexError):
        return None
    headroom = cgroup_memory_headroom()
    return avail if headroom is None else min(avail, headroom)


def cgroup_memory_headroom(proc_cgroup: Path = Path("/proc/self/cgroup"),
                           cgroup_root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """``memory.max`` less ``memory.current`` of this process's cgroup (v2); None when it has no limit.

    None too on cgroup v1 or when the files cannot be read.  The paths are parameters for tests.
    """
    try:
        with open(proc_cgroup) as fh:
            rel = next(line.split(":", 2)[2].strip() for line in fh if line.startswith("0::"))
        folder = cgroup_root / rel.lstrip("/")
        limit = (folder / "memory.max").read_text().strip()
        if limit == "max":
            return None
        return max(0, int(limit) - int((folder / "memory.current").read_text()))
    except (OSError, StopIteration, ValueError, IndexError):
        return None


def check_fits_in_memory(nbytes: int, what: str) -> None:
    """Raise ``ValueError`` when building something that needs about ``nbytes`` cannot fit in memory.

    ``what`` names the parameters that set the size, with their values (``"n=10000000000 and
    k=25"``); the message gives it, the estimate and the available memory.  Nothing is checked
    where the available memory cannot be read (:func:`available_memory_bytes`).
    """
    avail = available_memory_bytes()
    if avail is not None and nbytes > avail:
        raise ValueError(f"{what}: building this data set needs about {human_size(nbytes)} of memory, but only "
                         f"{human_size(avail)} is available; choose a smaller value")
