"""Executors: where the task graph runs (DESIGN.md "Executors").

The graph has two levels: pretraining a (data set, seed) autoencoder, then the
fits that depend on it (fits on raw data depend on nothing).  Every executor
calls the same worker functions of :mod:`benchmark.runner` and hands each
:class:`~benchmark.runner.FitResult` to the client's ``on_result`` callback,
which alone writes the store.

- :class:`LocalExecutor` with ``workers=0``: in-process and sequential, one
  autoencoder group at a time, with per-task progress bars;
- :class:`LocalExecutor` with ``workers=N``: a process pool (``spawn``; torch
  and fork do not mix); a fit is submitted when its autoencoder is ready;
- :class:`DaskExecutor`: ``dask.distributed``, on a ``LocalCluster`` (one
  thread per worker process by default) or an existing scheduler address.
  Fits are submitted with their pretraining *future* as an argument, so the
  dependency is resolved on the cluster; deep tasks carry
  ``resources={"GPU": 1}`` when the device is CUDA.

Under the same seeds all executors give the same rows (tests/test_executors.py).

Work sharing between concurrent runs (:mod:`benchmark.claims`): ``run`` takes a ``claim``
callback, called in the client just before a fit is handed out; a fit it refuses (another
run holds it, or has stored it) is dropped.  So that a second run finds fits left to
claim, the pool and Dask executors keep only as many fits in flight as there are workers
(Dask: worker threads), and hand out a fit only once its autoencoder is ready; pretrainings
are still all submitted at once (concurrent pretrainings of one autoencoder share its cache
entry, :mod:`methods.pretrain`).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from benchmark import runner
from benchmark.protocol import FitTask, PretrainTask

EXECUTORS = ("local", "dask")
#: Seconds between two looks at a Dask cluster's size (it may grow or shrink, e.g. dask-jobqueue).
_CAPACITY_REFRESH_S = 10.0
#: Seconds a Dask cluster may have no worker at all while a run waits on it before nrbench says so (the workers
#: died, or a SLURM job holding them ended: the scheduler then keeps the tasks, and the run would wait silently).
NO_WORKERS_WARN_S = 30.0
#: Seconds between two looks at whether the cluster has any worker.
_WORKERS_POLL_S = 2.0
#: After Ctrl-C, how long nrbench waits for the Dask workers' running training loops to save their snapshots.
SNAPSHOT_WAIT_S = 30.0

ClaimFn = Callable[[FitTask], bool]


def check_scheduler(address: str, timeout_s: float | None = None) -> None:
    """Raise ``ConnectionError`` naming ``address`` unless a Dask server there completes the handshake in time.

    ``distributed.Client(address)`` waits without a deadline for the server's first message, so
    an address whose port takes connections but does not speak Dask's protocol (the dashboard's
    port, 8787, given for the scheduler's 8786; a proxy) would hang ``nrbench run`` for ever, and
    one that answers other bytes fails with an absurd ``MemoryError``.  ``timeout_s`` (default:
    dask's ``distributed.comm.timeouts.connect``) bounds connecting (dask retries a refused
    connection that long), then the handshake again as long.
    """
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    import dask
    from dask.utils import parse_timedelta
    from distributed.comm import connect

    if timeout_s is None:
        timeout_s = parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"), default="seconds")

    async def handshake() -> None:
        comm = await connect(address, timeout=timeout_s)
        await comm.close()

    async def probe() -> None:
        await asyncio.wait_for(handshake(), 2 * timeout_s)

    with ThreadPoolExecutor(1) as pool:  # a loop of its own, even when the caller's thread runs one (a notebook)
        try:
            pool.submit(asyncio.run, probe()).result()
        except (asyncio.TimeoutError, TimeoutError):
            raise ConnectionError(f"no Dask scheduler answered at {address} within {2 * timeout_s:g} s: the port takes "
                                  "connections but does not speak Dask's protocol (a scheduler listens on 8786 by "
                                  "default; 8787 is its dashboard)") from None
        except OSError as exc:
            raise ConnectionError(f"no Dask scheduler at {address}: {exc}") from None
        except ValueError as exc:  # an address dask cannot parse
            raise ValueError(f"scheduler address {address!r}: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - whatever a server of another protocol sent back
            raise ConnectionError(f"the server at {address} is not a Dask scheduler (its answer is not Dask's "
                                  f"protocol: {type(exc).__name__})") from None


def _take_all(task: FitTask) -> bool:
    """The ``claim`` of a run without claims: every fit is ours."""
    return True


class _FitQueue:
    """The fits not yet handed out, in order; each is claimed only when it is about to be submitted."""

    def __init__(self, fits: Sequence[FitTask], claim: ClaimFn) -> None:
        self._fits = list(fits)
        self._claim = claim

    def __bool__(self) -> bool:
        return bool(self._fits)

    def needs(self, pretrain_key: tuple) -> bool:
        """Whether a fit still queued uses this autoencoder."""
        return any(f.pretrain_key == pretrain_key for f in self._fits)

    def take(self, ready: Callable[[tuple], bool]) -> FitTask | None:
        """The first queued fit whose autoencoder is ready (or that needs none) and that ``claim`` grants.

        Fits that ``claim`` refuses leave the queue; None when no fit can be handed out now.
        """
        i = 0
        while i < len(self._fits):
            f = self._fits[i]
            if f.pretrain_key is None or ready(f.pretrain_key):
                del self._fits[i]
                if self._claim(f):
                    return f
                continue
            i += 1
        return None


def torch_threads(workers: int) -> int:
    """torch threads of each of ``workers`` local worker processes: the cores shared out evenly, at least 1."""
    return max(1, (os.cpu_count() or 1) // max(workers, 1))


def _worker_init(threads: int) -> None:  # pragma: no cover - runs in the pool's processes
    import torch

    torch.set_num_threads(threads)


class LocalExecutor:
    """In-process (``workers=0``) or a local process pool (``workers >= 1``)."""

    def __init__(self, workers: int = 0) -> None:
        if workers < 0:
            raise ValueError(f"workers must be >= 0; got {workers}")
        self.workers = int(workers)

    def __repr__(self) -> str:
        return f"LocalExecutor(workers={self.workers})"

    def map_prepare(self, datasets: Sequence[dict[str, Any]]) -> list[Any]:
        """Build/load each data set (in this process: later fits reuse the cache)."""
        return [runner.prepare_dataset(d) for d in datasets]

    def run(self, pretrains: Sequence[PretrainTask], fits: Sequence[FitTask],
            on_result: Callable[[runner.FitResult], None], progress: bool = True,
            claim: ClaimFn | None = None) -> None:
        """Run the pretrainings and the fits; ``on_result`` gets every fit's result in the client.

        ``claim(fit)`` is asked just before each fit starts; a fit it refuses is not run.
        """
        if self.workers == 0:
            self._run_inline(pretrains, fits, on_result, progress, claim or _take_all)
        else:
            self._run_pool(pretrains, fits, on_result, claim or _take_all)

    def _run_inline(self, pretrains: Sequence[PretrainTask], fits: Sequence[FitTask],
                    on_result: Callable[[runner.FitResult], None], progress: bool, claim: ClaimFn) -> None:
        by_key = {p.key: p for p in pretrains}
        current: dict[tuple, Any] = {}
        for f in fits:  # ordered by data set and autoencoder seed: hold one network at a time
            if not claim(f):
                continue
            ae = None
            if f.pretrain_key is not None:
                if f.pretrain_key not in current:
                    current.clear()
                    current[f.pretrain_key] = runner.run_pretrain(by_key[f.pretrain_key], progress=progress)
                ae = current[f.pretrain_key]
            on_result(runner.run_fit(f, ae, progress=progress))

    def _run_pool(self, pretrains: Sequence[PretrainTask], fits: Sequence[FitTask],
                  on_result: Callable[[runner.FitResult], None], claim: ClaimFn) -> None:
        import multiprocessing as mp
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

        ctx = mp.get_context("spawn")
        with ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_worker_init,
                                 initargs=(torch_threads(self.workers),)) as pool:
            queue = _FitQueue(fits, claim)
            ready: dict[tuple, Any] = {}  # finished pretrainings still needed by a queued fit
            futs: dict[Any, tuple[str, Any]] = {}
            for p in pretrains:
                futs[pool.submit(runner.run_pretrain, p)] = ("pre", p)
            n_fits = 0
            while True:
                while n_fits < self.workers:  # one fit in flight per worker: the rest stays claimable
                    f = queue.take(ready.__contains__)
                    if f is None:
                        break
                    ae = ready.get(f.pretrain_key) if f.pretrain_key is not None else None
                    if isinstance(ae, runner.Failed):
                        on_result(runner.failed_result(f, ae))
                    else:
                        futs[pool.submit(runner.run_fit, f, ae)] = ("fit", f)
                        n_fits += 1
                for k in [k for k in ready if not queue.needs(k)]:
                    del ready[k]
                if not futs:
                    break
                done, _ = wait(list(futs), return_when=FIRST_COMPLETED)
                for fut in done:
                    kind, task = futs.pop(fut)
                    try:
                        value = fut.result()
                    except Exception as exc:  # noqa: BLE001 - a crashed worker process
                        value = runner.Failed(f"worker failed: {type(exc).__name__}: {exc}")
                    if kind == "pre":
                        ready[task.key] = value
                    else:
                        n_fits -= 1
                        if isinstance(value, runner.Failed):
                            value = runner.failed_result(task, value)
                        on_result(value)


class DaskExecutor:
    """``dask.distributed``: a ``LocalCluster`` (default) or the scheduler at ``scheduler``.

    ``processes=False`` runs the workers as threads of this process (fast to
    start; used by the tests).  With processes, each worker runs one task at a
    time (``threads_per_worker=1``) so torch's global seeding for layer
    initialisation cannot interleave between tasks.
    """

    def __init__(self, scheduler: str | None = None, n_workers: int | None = None, processes: bool = True,
                 device: str | None = None) -> None:
        self.scheduler = scheduler
        self.n_workers = n_workers
        self.processes = processes
        self.device = device
        self._client = None
        self._cluster = None
        self._capacity_at: tuple[float, int] | None = None  # (when, worker threads)

    def __repr__(self) -> str:
        where = self.scheduler or f"LocalCluster(n_workers={self.n_workers}, processes={self.processes})"
        return f"DaskExecutor({where})"

    def _gpu(self) -> bool:
        dev = self.device or os.environ.get("NRBENCH_DEVICE")
        if dev:
            return str(dev).startswith("cuda")
        import torch

        return bool(torch.cuda.is_available())

    def client(self) -> Any:
        """The ``distributed.Client`` (started on first use)."""
        if self._client is None:
            from distributed import Client, LocalCluster

            if self.scheduler:
                check_scheduler(self.scheduler)
                self._client = Client(self.scheduler)
            else:
                n = self.n_workers or max(1, min(4, os.cpu_count() or 1))
                kwargs: dict[str, Any] = {}
                if self._gpu():
                    import torch

                    kwargs["resources"] = {"GPU": max(1, torch.cuda.device_count())}
                # the worker processes start with Ctrl-C ignored (they inherit it): a Ctrl-C in the terminal then
                # reaches only nrbench, which reports what is kept and shuts the cluster down, instead of every
                # worker printing its own KeyboardInterrupt traceback
                main_thread = threading.current_thread() is threading.main_thread()
                previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main_thread else None
                try:
                    # no dashboard; the scheduler's HTTP server still starts, on any free port
                    # (its default, 8787, warns when another cluster holds it)
                    self._cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=self.processes,
                                                 dashboard_address=None,
                                                 scheduler_kwargs={"dashboard_address": ":0"}, **kwargs)
                finally:
                    if previous is not None:
                        signal.signal(signal.SIGINT, previous)
                self._client = Client(self._cluster)
        return self._client

    def close(self, interrupted: bool = False) -> None:
        """Shut down the client and the LocalCluster this executor started.

        ``interrupted``: after Ctrl-C, which the local workers got too, so their connections are already
        gone; distributed's logs and tracebacks about that are noise, and are silenced for the shutdown.
        """
        if interrupted:
            logging.getLogger("distributed").setLevel(logging.CRITICAL)
            if self._client is not None:
                self._snapshot_workers()
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def _snapshot_workers(self) -> None:
        """After Ctrl-C: every worker's running pretraining and fits write their snapshots and stop.

        The workers leave Ctrl-C to nrbench (see :meth:`client`), so no signal reaches
        their training loops; without this they would keep only their periodic
        snapshots (up to :data:`methods.checkpoint.CHECKPOINT_EVERY_S` old).
        """
        from methods.checkpoint import snapshot_running

        try:
            saved = self._client.run(snapshot_running, SNAPSHOT_WAIT_S, stop=True)
        except Exception as exc:  # noqa: BLE001 - workers already gone: their periodic snapshots remain
            print(f"nrbench run: the Dask workers could not be asked for snapshots ({type(exc).__name__}); "
                  f"their runs in progress resume from their latest periodic snapshots", file=sys.stderr)
            return
        n = sum(int(v) for v in saved.values())
        if n:
            print(f"nrbench run: {n} training run{'' if n == 1 else 's'} in progress on the Dask workers "
                  f"saved {'its snapshot' if n == 1 else 'their snapshots'}; a rerun resumes "
                  f"{'it' if n == 1 else 'them'}", file=sys.stderr)

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def map_prepare(self, datasets: Sequence[dict[str, Any]]) -> list[Any]:
        """Build/load each data set on the cluster; ``Failed`` for missing data."""
        c = self.client()
        futs = [c.submit(runner.prepare_dataset, d, pure=False) for d in datasets]
        return c.gather(futs)

    def _capacity(self) -> int:
        """How many fits to keep in flight: the cluster's worker threads (at least 1), re-read now and then."""
        now = time.monotonic()
        if self._capacity_at is None or now - self._capacity_at[0] > _CAPACITY_REFRESH_S:
            try:
                n = sum(self.client().nthreads().values())
            except Exception:  # noqa: BLE001 - a scheduler that does not answer: keep the last value
                n = self._capacity_at[1] if self._capacity_at else 1
            self._capacity_at = (now, max(1, int(n)))
        return self._capacity_at[1]

    def run(self, pretrains: Sequence[PretrainTask], fits: Sequence[FitTask],
            on_result: Callable[[runner.FitResult], None], progress: bool = True,
            claim: ClaimFn | None = None) -> None:
        """Submit the pretrainings, then each fit (with its pretraining future) once that one has finished
        and ``claim(fit)`` grants it, keeping as many fits in flight as the cluster has worker threads;
        write results as they finish."""
        import dask
        from distributed import as_completed

        c = self.client()
        gpu = self._gpu()
        ann = {"resources": {"GPU": 1}} if gpu else {}
        queue = _FitQueue(fits, claim or _take_all)
        pre_futs: dict[tuple, Any] = {}
        # the GPU resource is both annotated and passed to submit (submit's own argument is what the scheduler uses)
        with dask.annotate(**ann):
            for p in pretrains:
                pre_futs[p.key] = c.submit(runner.run_pretrain, p, pure=False,
                                           key=f"pretrain-{p.key[0]}-{p.key[1]}-{uuid.uuid4().hex[:8]}", **ann)
        pre_of = {fut: k for k, fut in pre_futs.items()}
        ready: set[tuple] = set()
        fit_futs: dict[Any, FitTask] = {}
        pending = as_completed(list(pre_futs.values()))

        def hand_out() -> None:
            while len(fit_futs) < self._capacity():
                f = queue.take(ready.__contains__)
                if f is None:
                    break
                if f.pretrain_key is not None:
                    with dask.annotate(**ann):
                        fut = c.submit(runner.run_fit, f, pre_futs[f.pretrain_key], pure=False, **ann)
                else:
                    fut = c.submit(runner.run_fit, f, None, pure=False)
                fit_futs[fut] = f
                pending.add(fut)
            for k in [k for k in ready if k in pre_futs and not queue.needs(k)]:
                pre_futs.pop(k).release()  # submitted fits keep their own reference on the cluster

        hand_out()
        stop = threading.Event()  # the watch of the cluster's workers, while this run waits on it
        threading.Thread(target=self._watch_workers, args=(stop,), name="nrbench-dask-workers", daemon=True).start()
        try:
            for fut in pending:
                if fut in pre_of:
                    ready.add(pre_of.pop(fut))  # its value stays on the cluster; a failure reaches the fits
                else:
                    task = fit_futs.pop(fut)
                    try:
                        res = fut.result()
                    except Exception as exc:  # noqa: BLE001 - a lost worker
                        res = runner.failed_result(task, runner.Failed(
                            f"dask task failed: {type(exc).__name__}: {exc}"))
                    on_result(res)
                    fut.release()
                hand_out()
        finally:
            stop.set()
        for fut in pre_futs.values():
            fut.release()

    def _watch_workers(self, stop: threading.Event) -> None:
        """Until ``stop``: one line on stderr when the cluster has had no worker for :data:`NO_WORKERS_WARN_S`
        seconds, and one when workers are back (the scheduler keeps the tasks for them, so the run goes on)."""
        where = f"the Dask scheduler at {self.scheduler}" if self.scheduler else "the local Dask cluster"
        empty_since: float | None = None
        told = False
        while not stop.wait(_WORKERS_POLL_S):
            try:
                n = len(self._client.nthreads())
            except Exception:  # noqa: BLE001, S112 - a scheduler that does not answer now: look again later
                continue
            if n:
                if told:
                    print(f"nrbench run: {where} has {n} worker{'' if n == 1 else 's'} again; the run goes on",
                          file=sys.stderr)
                empty_since, told = None, False
            elif empty_since is None:
                empty_since = time.monotonic()
            elif not told and time.monotonic() - empty_since >= NO_WORKERS_WARN_S:
                told = True
                print(f"nrbench run: {where} has had no workers for {NO_WORKERS_WARN_S:g} s; the run waits for "
                      "workers to join (Ctrl-C stops it and keeps every stored fit)", file=sys.stderr)


def check_executor(kind: str, scheduler: str | None = None) -> None:
    """Refuse an unknown executor name (listing the valid ones) or a scheduler address without dask."""
    if kind not in EXECUTORS:
        raise ValueError(f"unknown executor {kind!r}; valid: {', '.join(EXECUTORS)}")
    if kind == "local" and scheduler:
        raise ValueError("--scheduler needs --executor dask")


def make_executor(kind: str = "local", workers: int = 0, scheduler: str | None = None) -> Any:
    """An executor by name (:func:`check_executor`)."""
    check_executor(kind, scheduler)
    if kind == "local":
        return LocalExecutor(workers)
    return DaskExecutor(scheduler=scheduler, n_workers=workers or None)
