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
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Sequence
from typing import Any

from benchmark import runner
from benchmark.protocol import FitTask, PretrainTask

EXECUTORS = ("local", "dask")


def _torch_threads(workers: int) -> int:
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
            on_result: Callable[[runner.FitResult], None], progress: bool = True) -> None:
        """Run the pretrainings and the fits; ``on_result`` gets every fit's result in the client."""
        if self.workers == 0:
            self._run_inline(pretrains, fits, on_result, progress)
        else:
            self._run_pool(pretrains, fits, on_result)

    def _run_inline(self, pretrains: Sequence[PretrainTask], fits: Sequence[FitTask],
                    on_result: Callable[[runner.FitResult], None], progress: bool) -> None:
        by_key = {p.key: p for p in pretrains}
        current: dict[tuple, Any] = {}
        for f in fits:  # ordered by data set and autoencoder seed: hold one network at a time
            ae = None
            if f.pretrain_key is not None:
                if f.pretrain_key not in current:
                    current.clear()
                    current[f.pretrain_key] = runner.run_pretrain(by_key[f.pretrain_key], progress=progress)
                ae = current[f.pretrain_key]
            on_result(runner.run_fit(f, ae, progress=progress))

    def _run_pool(self, pretrains: Sequence[PretrainTask], fits: Sequence[FitTask],
                  on_result: Callable[[runner.FitResult], None]) -> None:
        import multiprocessing as mp
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

        ctx = mp.get_context("spawn")
        with ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_worker_init,
                                 initargs=(_torch_threads(self.workers),)) as pool:
            waiting: dict[tuple, list[FitTask]] = {}
            futs: dict[Any, tuple[str, Any]] = {}
            for p in pretrains:
                futs[pool.submit(runner.run_pretrain, p)] = ("pre", p)
            for f in fits:
                if f.pretrain_key is None:
                    futs[pool.submit(runner.run_fit, f, None)] = ("fit", f)
                else:
                    waiting.setdefault(f.pretrain_key, []).append(f)
            while futs:
                done, _ = wait(list(futs), return_when=FIRST_COMPLETED)
                for fut in done:
                    kind, task = futs.pop(fut)
                    try:
                        value = fut.result()
                    except Exception as exc:  # noqa: BLE001 - a crashed worker process
                        value = runner.Failed(f"worker failed: {type(exc).__name__}: {exc}")
                    if kind == "pre":
                        for f in waiting.pop(task.key, []):
                            if isinstance(value, runner.Failed):
                                on_result(runner.failed_result(f, value))
                            else:
                                futs[pool.submit(runner.run_fit, f, value)] = ("fit", f)
                    else:
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
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def map_prepare(self, datasets: Sequence[dict[str, Any]]) -> list[Any]:
        """Build/load each data set on the cluster; ``Failed`` for missing data."""
        c = self.client()
        futs = [c.submit(runner.prepare_dataset, d, pure=False) for d in datasets]
        return c.gather(futs)

    def run(self, pretrains: Sequence[PretrainTask], fits: Sequence[FitTask],
            on_result: Callable[[runner.FitResult], None], progress: bool = True) -> None:
        """Submit pretrainings, then fits that take the pretraining futures; write results as they finish."""
        import dask
        from distributed import as_completed

        c = self.client()
        gpu = self._gpu()
        ann = {"resources": {"GPU": 1}} if gpu else {}
        pre_futs = {}
        # the GPU resource is both annotated and passed to submit (submit's own argument is what the scheduler uses)
        with dask.annotate(**ann):
            for p in pretrains:
                pre_futs[p.key] = c.submit(runner.run_pretrain, p, pure=False, key=f"pretrain-{p.key[0]}-{p.key[1]}",
                                           **ann)
        fit_futs = {}
        for f in fits:
            if f.pretrain_key is not None:
                with dask.annotate(**ann):
                    fut = c.submit(runner.run_fit, f, pre_futs[f.pretrain_key], pure=False, **ann)
            else:
                fut = c.submit(runner.run_fit, f, None, pure=False)
            fit_futs[fut] = f
        for fut in as_completed(list(fit_futs)):
            task = fit_futs.pop(fut)
            try:
                res = fut.result()
            except Exception as exc:  # noqa: BLE001 - a lost worker
                res = runner.failed_result(task, runner.Failed(f"dask task failed: {type(exc).__name__}: {exc}"))
            on_result(res)
            fut.release()
        for fut in pre_futs.values():
            fut.release()


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
