"""Resumable training: snapshots of a pretraining run's or a method fit's whole state, and resuming from them.

Besides pretraining (below), the deep methods' fits (ENRC, ACe/DeC, DCN, DEC/IDEC)
use a :class:`FitCheckpoint` through ``fit(X, checkpoint=path)``.  Their snapshots
hold the network, the centres (with ENRC's Eq. (7) counts, DCN's cluster counts), the
optimiser and schedule, the batch stream's epoch and the numpy generator, and what
the loop carries (ENRC's lost-centre counts and the initialisation's results, DEC's
target distribution P, the labels of the last ``tol`` check, an augmentation's
generator).  NrKmeans and SubKmeans (``baselines``) use it for their starts: the costs of
the starts done and the best start so far (also ENRC's initialisation, in a file beside
the fit's: :func:`init_checkpoint_path`).  ``nrbench run`` gives each such fit a file
under ``$NRBENCH_HOME/checkpoints``.

Pretraining at the papers' budgets takes hours on a CPU (``paper-dec``: about
1.9 h on two threads; DEC's ``dec-sae`` schedule: 300,000 iterations), and a
cluster job can be pre-empted or hit its time limit.  Without snapshots every
interruption starts the network again from its random initialisation.

A :class:`TrainingCheckpoint` belongs to one cache entry of
:mod:`methods.pretrain` (file ``<arch>-<key>.partial.pt`` beside it, so only a
run of exactly the same data, architecture, seed, budget, preprocessing and
augmentation resumes from it).  The trainers save, at an iteration boundary:

- the network's, the optimizer's and the learning-rate schedule's state;
- the torch RNG state (dropout, input corruption) and the augmenter's generator;
- the loss history and the divergence guard's reference;
- the number of iterations done (the mini-batch stream is replayed up to it, as
  it comes from ``np.random.default_rng(seed)``).

So a resumed run on the same device gives the same network, bit for bit on CPU,
as an uninterrupted one (``tests/test_checkpoint.py``).  Snapshots are written
every :data:`CHECKPOINT_EVERY_S` seconds of training and, in the main thread,
when the run gets Ctrl-C (SIGINT) or SIGTERM: the signal is deferred to the end
of the current iteration, the snapshot written, and then the signal acts as
usual (``KeyboardInterrupt``; termination).  A second Ctrl-C interrupts at once.
The snapshot is deleted once the finished network is cached, or when the run
diverges (a rerun would only diverge again).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmark.fileio import atomic_write

#: Seconds of training between two snapshots (a stopped run loses at most this much work).
CHECKPOINT_EVERY_S = 300.0
#: Format of a snapshot file; a file of another format is ignored (with a warning) and overwritten.
CHECKPOINT_FORMAT = 1


def checkpoint_path(pt_path: Path) -> Path:
    """The snapshot file of the cache entry whose weights file is ``pt_path``."""
    return pt_path.with_suffix(".partial.pt")


def init_checkpoint_path(fit_path: str | os.PathLike) -> Path:
    """The snapshot file of a fit's initialisation (ENRC's NrKmeans starts), beside the fit's own.

    ``fit-<key>.partial.pt`` gives ``fit-<key>.init.partial.pt`` (still a ``*.partial.pt``
    snapshot for ``nrbench cache``); another name gets ``.init`` before its suffix.
    """
    p = Path(fit_path)
    if p.name.endswith(".partial.pt"):
        return p.with_name(p.name[: -len(".partial.pt")] + ".init.partial.pt")
    return p.with_name(f"{p.stem}.init{p.suffix}")


class TrainingCheckpoint:
    """Save and load one pretraining run's snapshot (see the module docstring).

    ``key``: the cache key of the run; a snapshot recorded under another key
    (a renamed file) is not used.  ``every_s``: seconds between periodic
    snapshots; ``0`` saves after every iteration (tests).
    """

    def __init__(self, path: str | os.PathLike, key: str, every_s: float = CHECKPOINT_EVERY_S,
                 what: str = "pretraining", unit: str = "iteration") -> None:
        if not float(every_s) >= 0:
            raise ValueError(f"checkpoint interval must be >= 0 seconds; got {every_s!r}")
        self.path = Path(path)
        self.key = str(key)
        self.every_s = float(every_s)
        self.what = str(what)
        self.unit = str(unit)  # what the loop counts, for the messages: "iteration", or NrKmeans' "start"
        self._requested = threading.Event()  # snapshot_running(): save at the end of the current iteration
        self._answered = threading.Event()  # set once a requested snapshot is written (or the loop ended)
        self._stop_after_snapshot = False
        self.saved_on_request = False
        self._last = time.monotonic()
        self._stop_signal: int | None = None
        self._latest: tuple[int, Callable[[], dict[str, Any]]] | None = None
        self.saved_at: int | None = None  # the iteration of the last snapshot written by this object

    # ------------------------------------------------------------------ file I/O
    def load(self) -> dict[str, Any] | None:
        """The stored snapshot, or ``None`` when there is none (or it is unusable: warned, then ignored)."""
        if not self.path.exists():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is started over
            warnings.warn(f"{self.path}: unreadable {self.what} snapshot ({type(exc).__name__}: {exc}); "
                          f"starting from the beginning", RuntimeWarning, stacklevel=2)
            return None
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT or state.get("key") != self.key:
            warnings.warn(f"{self.path}: the {self.what} snapshot belongs to another run or format; "
                          f"starting from the beginning", RuntimeWarning, stacklevel=2)
            return None
        return state

    def announce(self, iteration: int, total: int) -> None:
        """Tell the user (stderr) that the run goes on from a snapshot rather than from the start."""
        print(f"nrbench: resuming {self.what} from its snapshot at {self.unit} {iteration:,} of {total:,} "
              f"({self.path})", file=sys.stderr, flush=True)

    def save(self, iteration: int, state: dict[str, Any]) -> None:
        """Write the snapshot of the run after ``iteration`` iterations (atomically: no half-written file)."""
        record = {**state, "format": CHECKPOINT_FORMAT, "key": self.key, "iteration": int(iteration)}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, lambda fh: torch.save(record, fh))
        self._last = time.monotonic()
        self.saved_at = int(iteration)

    def discard(self) -> None:
        """Delete the snapshot (the run finished or diverged)."""
        self.path.unlink(missing_ok=True)

    # ------------------------------------------------------------------ during training
    def step(self, iteration: int, state_of: Callable[[], dict[str, Any]]) -> None:
        """Call after each completed iteration: save when due, and act on a deferred stop signal.

        ``state_of`` builds the state dict (only called when a snapshot is written).
        """
        self._latest = (iteration, state_of)
        if self._stop_signal is not None:
            self._act(iteration, state_of)
        elif self._requested.is_set():
            self._requested.clear()
            self.save(iteration, state_of())
            self.saved_on_request = True
            self._answered.set()
            if self._stop_after_snapshot:
                raise TrainingStopped(f"{self.what} stopped after {self.unit} {iteration} on request; "
                                      f"a rerun resumes from {self.path}")
        elif time.monotonic() - self._last >= self.every_s:
            self.save(iteration, state_of())

    def act_on_pending_signal(self, iteration: int, state_of: Callable[[], dict[str, Any]] | None) -> None:
        """If a deferred Ctrl-C / SIGTERM is pending, write the snapshot and let it act now (else nothing).

        For loops whose iteration was cut short by the same signal (NrKmeans' starts in
        worker processes, which get the terminal's Ctrl-C too): ``iteration`` is the
        last completed one; ``state_of`` ``None`` when nothing is done yet (no snapshot).
        """
        if self._stop_signal is None:
            return
        if state_of is not None:
            self._act(iteration, state_of)
            return
        stop, self._stop_signal = self._stop_signal, None
        if stop == signal.SIGINT:
            raise KeyboardInterrupt(f"{self.what} stopped before its first {self.unit} ended")
        os.kill(os.getpid(), int(stop))

    def request_snapshot(self, stop: bool = False) -> None:
        """Ask the training loop (another thread) to save at the end of its current iteration.

        ``stop``: then end the loop with :class:`TrainingStopped` instead of going on.
        """
        self.saved_on_request = False
        self._stop_after_snapshot = bool(stop)
        self._answered.clear()
        self._requested.set()

    def _act(self, iteration: int, state_of: Callable[[], dict[str, Any]]) -> None:
        """Write the snapshot, then let the deferred signal act (its previous handler is back)."""
        stop, self._stop_signal = self._stop_signal, None
        self.save(iteration, state_of())
        if stop == signal.SIGINT:
            raise KeyboardInterrupt(f"{self.what} stopped after {self.unit} {iteration}; "
                                    f"a rerun resumes from {self.path}")
        os.kill(os.getpid(), int(stop))  # type: ignore[arg-type]

    @contextmanager
    def deferring_signals(self) -> Iterator[None]:
        """The training loop's block: in the main thread, SIGINT and SIGTERM wait for the end of the iteration.

        The handler records the signal and restores the previous handlers, so a second
        signal acts at once; :meth:`step` then writes the snapshot and re-raises it.
        In any thread the loop is registered for :func:`snapshot_running` meanwhile.
        """
        with _running(self):
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            with self._signals_deferred():
                yield

    @contextmanager
    def _signals_deferred(self) -> Iterator[None]:
        # a signal the process ignores (SIG_IGN, e.g. Ctrl-C in a Dask worker) stays ignored
        signals = [s for s in (signal.SIGINT, signal.SIGTERM) if signal.getsignal(s) not in (None, signal.SIG_IGN)]
        previous = {s: signal.getsignal(s) for s in signals}

        def restore() -> None:
            for s, h in previous.items():
                signal.signal(s, h)

        def handler(signum: int, frame: Any) -> None:
            self._stop_signal = signum
            restore()

        for s in signals:
            signal.signal(s, handler)
        try:
            yield
        finally:
            restore()
        if self._stop_signal is not None and self._latest is not None:  # it came after the last iteration
            self._act(*self._latest)


class TrainingStopped(RuntimeError):
    """A training loop ended on request after writing its snapshot (:func:`snapshot_running` with ``stop``)."""


#: The training loops running in this process (inside ``deferring_signals``), for :func:`snapshot_running`.
_RUNNING: set[TrainingCheckpoint] = set()
_RUNNING_LOCK = threading.Lock()


@contextmanager
def _running(ckpt: TrainingCheckpoint) -> Iterator[None]:
    with _RUNNING_LOCK:
        _RUNNING.add(ckpt)
    try:
        yield
    finally:
        with _RUNNING_LOCK:
            _RUNNING.discard(ckpt)
        ckpt._answered.set()  # a loop that ended (or raised) answers any request: nothing left to save


def snapshot_running(timeout_s: float = 30.0, stop: bool = False) -> int:
    """Make every training loop running in this process write its snapshot now; returns how many did.

    Each loop saves at the end of its current iteration (so the snapshot is
    consistent), then goes on training, or with ``stop`` ends with
    :class:`TrainingStopped` (its snapshot kept for a rerun).  Used where no
    signal reaches the loop: a Dask worker runs fits in a worker thread and leaves
    Ctrl-C to ``nrbench``, which calls this with ``stop=True`` on every worker
    before it shuts the cluster down (:meth:`benchmark.executors.DaskExecutor.close`;
    a remote cluster's workers then stop the orphaned fits instead of finishing
    them for nobody).  Waits at most ``timeout_s`` seconds in all (one iteration of
    a loop, normally).
    """
    with _RUNNING_LOCK:
        running = list(_RUNNING)
    for c in running:
        c.request_snapshot(stop=stop)
    deadline = time.monotonic() + float(timeout_s)
    for c in running:
        c._answered.wait(max(0.0, deadline - time.monotonic()))
    return sum(c.saved_on_request for c in running)


def _param_text(value: Any) -> str:
    """A hyperparameter's text for :func:`fit_key`: a numpy generator by its state (its repr names an address)."""
    if isinstance(value, np.random.Generator):
        return f"Generator({value.bit_generator.state!r})"
    if isinstance(value, np.random.RandomState):
        kind, keys, pos, has_gauss, gauss = value.get_state(legacy=True)
        return f"RandomState({kind}, {hashlib.sha256(keys.tobytes()).hexdigest()}, {pos}, {has_gauss}, {gauss!r})"
    return repr(value)


def fit_key(estimator: Any, X: np.ndarray, autoencoder: torch.nn.Module | None = None) -> str:
    """What identifies a method fit for its snapshot: class, hyperparameters, the network's weights and X.

    Display and placement settings (``progress``, ``device``, ``n_jobs``) are left
    out: a fit stopped on one device may resume on another.  A ``random_state``
    that is a numpy generator counts by its state when the fit starts, so a rerun
    with a generator seeded the same way resumes.  ``autoencoder``: ``None`` for
    fits without a network (NrKmeans, SubKmeans).
    """
    h = hashlib.sha256(type(estimator).__name__.encode())
    params = estimator.get_params(deep=False)
    for name in sorted(set(params) - {"autoencoder", "progress", "device", "n_jobs"}):
        h.update(f"{name}={_param_text(params[name])};".encode())
    state = autoencoder.state_dict() if autoencoder is not None else {}
    for name, t in state.items():
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    h.update(repr(X.shape).encode())
    h.update(np.ascontiguousarray(X).tobytes())
    return h.hexdigest()[:24]


class FitCheckpoint(TrainingCheckpoint):
    """The snapshot file of one method fit (``fit(X, checkpoint=path)``), keyed by :func:`fit_key`.

    Also keeps the fit's elapsed time across resumptions (``elapsed()``: seconds
    of this fit, the stopped runs' included), which snapshots store as ``elapsed_s``.
    """

    def __init__(self, path: str | os.PathLike, estimator: Any, X: np.ndarray, autoencoder: torch.nn.Module | None,
                 every_s: float = CHECKPOINT_EVERY_S, unit: str = "iteration") -> None:
        super().__init__(path, fit_key(estimator, X, autoencoder), every_s=every_s,
                         what=f"the {type(estimator).__name__} fit", unit=unit)
        self._t0 = time.perf_counter()
        self.elapsed_before = 0.0

    def resume(self, total: int) -> dict[str, Any] | None:
        """The stored snapshot of this fit (announced on stderr), or ``None``: start from the beginning."""
        state = self.load()
        if state is not None:
            self.announce(int(state["iteration"]), int(total))
            self.elapsed_before = float(state["elapsed_s"])
        return state

    def elapsed(self) -> float:
        """Seconds this fit has run, those of the runs it resumed from included."""
        return self.elapsed_before + time.perf_counter() - self._t0

    def save(self, iteration: int, state: dict[str, Any]) -> None:
        """:meth:`TrainingCheckpoint.save`, with the elapsed time added as ``elapsed_s``."""
        super().save(iteration, {**state, "elapsed_s": self.elapsed()})


def record_resume(estimator: Any, resume: dict[str, Any] | None, ckpt: FitCheckpoint | None) -> None:
    """Set ``resumed_from_`` (iteration; 0: from the start) and ``resumed_elapsed_s_`` on a fitted estimator."""
    estimator.resumed_from_ = int(resume["iteration"]) if resume is not None else 0
    estimator.resumed_elapsed_s_ = ckpt.elapsed_before if ckpt is not None else 0.0


def augmentation_rng_state(augmentation: Any) -> torch.Tensor | None:
    """The state of an augmentation's own ``generator`` (:class:`methods.augment.Augmenter`); ``None`` without one."""
    gen = getattr(augmentation, "generator", None)
    return gen.get_state() if isinstance(gen, torch.Generator) else None


def set_augmentation_rng_state(augmentation: Any, state: torch.Tensor | None) -> None:
    """Restore :func:`augmentation_rng_state` (on the generator's own device)."""
    gen = getattr(augmentation, "generator", None)
    if isinstance(gen, torch.Generator) and state is not None:
        gen.set_state(state.to(gen.get_state().device))


def signals_of(ckpt: TrainingCheckpoint | None) -> contextlib.AbstractContextManager[None]:
    """Ctrl-C / SIGTERM deferred to the end of an iteration when there is a snapshot to write."""
    return ckpt.deferring_signals() if ckpt is not None else contextlib.nullcontext()


@contextlib.contextmanager
def training(ckpt: TrainingCheckpoint | None) -> Iterator[None]:
    """A fit's training loop: :func:`signals_of`, and the snapshot deleted when the fit diverges.

    A diverged fit's snapshot would only make a rerun diverge again (``DivergedError``).
    """
    from methods.base import DivergedError

    with signals_of(ckpt):
        try:
            yield
        except DivergedError:
            if ckpt is not None:
                ckpt.discard()
            raise


def rng_state(device: torch.device) -> dict[str, Any]:
    """The torch RNG states a training loop draws from on ``device`` (CPU, and the CUDA device's)."""
    state: dict[str, Any] = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
        state["device"] = str(device)
    return state


def set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    """Restore :func:`rng_state`; a CUDA state is restored only on the device type it came from."""
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


__all__ = [
    "CHECKPOINT_EVERY_S",
    "CHECKPOINT_FORMAT",
    "FitCheckpoint",
    "TrainingCheckpoint",
    "TrainingStopped",
    "augmentation_rng_state",
    "checkpoint_path",
    "fit_key",
    "init_checkpoint_path",
    "record_resume",
    "rng_state",
    "set_augmentation_rng_state",
    "set_rng_state",
    "signals_of",
    "snapshot_running",
    "training",
]
