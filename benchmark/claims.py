"""Cross-process work claiming: concurrent ``nrbench run`` processes on one store share the fits.

Without claims, two runs of the same suite on the same store (two SLURM jobs, a second
terminal started "to go faster") would both compute every pending fit, and the store would
keep one row of each.  With claims, a run's driver (the process that owns the store, never a
Dask or pool worker) claims a fit's key in the store's ``claims`` table just before it hands
the fit out, inside a ``BEGIN IMMEDIATE`` transaction, so two processes can never hold one key.

A claim names its owner (host, pid and a random token) and carries a lease: ``expires_at``
is pushed forward every ``lease / HEARTBEAT_FRACTION`` seconds by a heartbeat thread while
the run lives, so a fit may take hours.  A claim is *stale*, and is taken over by the next
run that wants the fit, when its lease has expired (the owner was killed, its node lost) or,
at once, when the owner ran on this host and its pid no longer exists (``kill -9``).  A reused
pid only delays the takeover until the lease expires.

A claim is released in the transaction that writes its fit's row (``ok``, ``error`` or
``skipped``) and, for all of a run's claims, when the run ends (normally, by an exception or
Ctrl-C).  Read-only consumers (``report``, ``plot``, ``run --dry-run``) only read the table.

The lease defaults to :data:`DEFAULT_LEASE_S`; ``$NRBENCH_CLAIM_LEASE_S`` overrides it
(tests use a second or two).
"""

from __future__ import annotations

import os
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from benchmark.store import Store

#: Seconds a claim stays valid without a heartbeat (a killed run on another host blocks its fits this long).
DEFAULT_LEASE_S = 300.0
#: Environment variable overriding :data:`DEFAULT_LEASE_S` (seconds, > 0).
ENV_LEASE = "NRBENCH_CLAIM_LEASE_S"
#: The heartbeat refreshes the leases this many times per lease, so one late beat never lets a claim lapse.
HEARTBEAT_FRACTION = 5
#: Longest pause between two looks at the store while waiting for fits claimed by another run.
MAX_POLL_S = 5.0

Outcome = Literal["claimed", "held", "done"]


def lease_seconds() -> float:
    """The claim lease in seconds: ``$NRBENCH_CLAIM_LEASE_S`` or :data:`DEFAULT_LEASE_S`."""
    env = os.environ.get(ENV_LEASE)
    if not env:
        return DEFAULT_LEASE_S
    try:
        value = float(env)
    except ValueError:
        raise ValueError(f"${ENV_LEASE} must be a number of seconds; got {env!r}") from None
    if not value > 0:
        raise ValueError(f"${ENV_LEASE} must be > 0 seconds; got {env!r}")
    return value


def poll_seconds(lease_s: float) -> float:
    """How often a waiting run looks at the store: a tenth of the lease, at most :data:`MAX_POLL_S`."""
    return min(lease_s / 10, MAX_POLL_S)


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host (one owned by another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return True  # unknown: let the lease decide
    return True


@dataclass(frozen=True)
class Owner:
    """Who holds a claim: the run's host, pid and a random token (unique per run, even for a reused pid)."""

    host: str
    pid: int
    token: str

    @classmethod
    def current(cls) -> Owner:
        """A new owner for a run of this process."""
        return cls(socket.gethostname(), os.getpid(), secrets.token_hex(8))

    def describe(self) -> str:
        """``"pid 1234 on host node7"``."""
        return f"pid {self.pid} on host {self.host}"


@dataclass(frozen=True)
class Claim:
    """One row of the ``claims`` table."""

    key: tuple
    owner: Owner
    claimed_at: float
    expires_at: float

    def stale(self, now: float | None = None) -> bool:
        """Whether another run may take the claim over: its lease expired, or its owner died on this host."""
        now = time.time() if now is None else now
        if self.expires_at <= now:
            return True
        return self.owner.host == socket.gethostname() and not pid_alive(self.owner.pid)


@dataclass(frozen=True)
class ClaimResult:
    """What :meth:`benchmark.store.Store.claim` found.

    ``claimed``: the key is now (or was already) this run's; ``held``: another live run holds it
    (``holder``); ``done``: the fit needs no run from us: it has an ``ok`` row, or another run
    wrote an ``error`` row for it since this run started (``status``, ``error``: that row's).
    """

    outcome: Outcome
    holder: Owner | None = None
    status: str | None = None
    error: str | None = None


class Heartbeat:
    """A daemon thread that renews the leases of ``owner``'s claims in the store at ``path``.

    It uses its own SQLite connection (a connection belongs to one thread).  A failed renewal
    (e.g. the store locked for a long time) is reported once and retried at the next beat.
    """

    def __init__(self, path: os.PathLike | str, owner: Owner, lease_s: float) -> None:
        self.path, self.owner, self.lease_s = path, owner, lease_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="nrbench-claims-heartbeat", daemon=True)
        self._warned = False

    def start(self) -> Heartbeat:
        """Start beating; returns self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop beating (waits for the thread)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _loop(self) -> None:
        import sqlite3

        from benchmark.store import BUSY_TIMEOUT_S

        con = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            while not self._stop.wait(self.lease_s / HEARTBEAT_FRACTION):
                try:
                    con.execute("UPDATE claims SET expires_at=? WHERE owner=?",
                                (time.time() + self.lease_s, self.owner.token))
                except sqlite3.Error as exc:
                    if not self._warned:
                        self._warned = True
                        print(f"nrbench: could not renew this run's claims in {self.path} ({exc}); retrying",
                              file=sys.stderr)
        finally:
            con.close()


class RunClaims:
    """The claims of one run on one store: claim a fit before handing it out, release them all at the end.

    Use as a context manager: entering starts the heartbeat, leaving stops it and releases every
    claim this run still holds (also after an exception or Ctrl-C).  ``since`` (the run's start,
    epoch seconds) tells an ``error`` row written by a concurrent run during this one (not retried)
    from one of an earlier run (retried).
    """

    def __init__(self, store: Store, lease_s: float | None = None, owner: Owner | None = None) -> None:
        self.store = store
        self.lease_s = lease_seconds() if lease_s is None else float(lease_s)
        self.owner = owner or Owner.current()
        self.since = time.time()
        self._heartbeat: Heartbeat | None = None

    def __enter__(self) -> RunClaims:
        self._heartbeat = Heartbeat(self.store.path, self.owner, self.lease_s).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._heartbeat is not None:
            self._heartbeat.stop()
            self._heartbeat = None
        self.release_all()

    def claim(self, key: tuple) -> ClaimResult:
        """Claim ``key`` for this run (see :meth:`benchmark.store.Store.claim`)."""
        return self.store.claim(key, self.owner, self.lease_s, since=self.since)

    def release_all(self) -> None:
        """Drop every claim this run holds (its fits go back to whoever runs the suite next)."""
        self.store.release_claims(self.owner)

    def poll(self, wait: Callable[[float], object] = time.sleep) -> None:
        """Pause before the next look at the store (:func:`poll_seconds`)."""
        wait(poll_seconds(self.lease_s))
