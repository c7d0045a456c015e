"""Peak resident memory of the current process image: one definition for workers and benchmarks.

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
