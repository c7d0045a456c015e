"""SIGTERM as a clean stop of ``nrbench run``: the same path as Ctrl-C.

A cluster scheduler stops a job with SIGTERM (SLURM's ``scancel`` and its time limit send it, then
SIGKILL after a grace period).  Python's default action ends the process at once, so the run's claims
on its fits (:mod:`benchmark.claims`) would block other runs until their lease ran out, and no
summary would say what is kept.  Within :func:`sigterm_as_interrupt` the signal raises
:class:`Terminated`, a ``KeyboardInterrupt``, so the run goes the Ctrl-C way: every finished fit is
kept, its claims are released, pretraining in progress writes its snapshot
(:mod:`methods.checkpoint`), and ``nrbench`` exits with 143 (128 + SIGTERM).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: Exit status after SIGTERM (the shell's 128 + signal number).
EXIT_TERMINATED = 128 + int(signal.SIGTERM)


class Terminated(KeyboardInterrupt):
    """The process got SIGTERM; handled wherever Ctrl-C is."""


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block (main thread only), SIGTERM raises :class:`Terminated`; the old handler is put back."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise Terminated("terminated by SIGTERM")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


__all__ = ["EXIT_TERMINATED", "Terminated", "sigterm_as_interrupt"]
