"""Where shards are rendered: local render subprocesses, or Dask workers.

``local`` (the default) starts ``workers`` long-running subprocesses
(``python -m generators.render.worker --serve``, 2 Cycles threads each) and
feeds them shard specs one at a time; each worker reports every finished image,
so the progress bar moves per image.  On one 2-core machine one worker is best
(RENDERING.md: one process with 2 threads beats two with one).

``dask`` submits one task per shard to a ``dask.distributed`` cluster: a
``LocalCluster`` with ``workers`` single-threaded worker processes, or the
scheduler at ``scheduler`` (e.g. one started by dask-jobqueue).  Each Dask
worker process imports bpy itself, builds the scene once and keeps it; the
pixels come back to this process, which writes the shard files, so workers need
no shared file system.

Neither executor imports bpy in this process.  A worker that dies is reported
as :class:`RenderWorkerError` with the shard it was rendering; finished shards
stay on disk, so running the same command again resumes.  On Ctrl-C the local
workers are killed and their temporary frame folders removed.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from generators.render.shards import RenderJob, Shard
from generators.render.worker import write_shard_file
from generators.render.worker_env import remove_tmp_of

EXECUTORS = ("local", "dask")


class RenderWorkerError(RuntimeError):
    """A render worker died or failed; names the shard and how to resume."""

    def __init__(self, job: RenderJob, shard: Shard, detail: str, resume_hint: str | None = None) -> None:
        done = len(job.shards) - len(job.pending())
        hint = resume_hint or "run the same command again"
        msg = (
            f"render worker failed on shard {shard.id} (images {shard.start}-{shard.stop - 1}) of "
            f"{job.name}: {detail}. {done} of {len(job.shards)} shards are done and kept in "
            f"{job.workdir}; to resume: {hint}"
        )
        super().__init__(msg)
        self.shard = shard


def _tail(path: Path, n_chars: int = 300) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    noise = ("Fra:", "Saved:", "Time:", "CUEW", "EGL_BAD_MATCH")
    lines = [ln.strip() for ln in text.strip().splitlines()
             if ln.strip() and not any(w in ln for w in noise)]
    return " | ".join(lines[-3:])[-n_chars:]


def run_local(job: RenderJob, shards: Sequence[Shard], *, workers: int = 1,
              on_images: Callable[[int], None] | None = None, resume_hint: str | None = None,
              stats: dict[str, float] | None = None) -> None:
    """Render ``shards`` with ``workers`` local render subprocesses.

    ``stats``, if given, receives the summed image-loop wall and CPU seconds of
    the workers and their largest peak RSS (MB).
    """
    if not shards:
        return
    job.workdir.mkdir(parents=True, exist_ok=True)
    for stale in job.workdir.glob(".shard-*.tmp"):  # half-written by a killed worker
        stale.unlink(missing_ok=True)
    todo: queue.Queue[Shard] = queue.Queue()
    for s in shards:
        todo.put(s)
    errors: list[RenderWorkerError] = []
    stop = threading.Event()
    procs: list[subprocess.Popen] = []
    lock = threading.Lock()
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(job.threads))

    def drive(k: int) -> None:
        log_path = job.workdir / f"worker-{k}.log"
        with open(log_path, "w") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "generators.render.worker", "--serve"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, bufsize=1, env=env,
            )
            with lock:
                procs.append(proc)
            assert proc.stdin is not None and proc.stdout is not None
            try:
                while not stop.is_set():
                    try:
                        shard = todo.get_nowait()
                    except queue.Empty:
                        break
                    spec_path = job.write_spec(shard)
                    try:
                        proc.stdin.write(f"{spec_path}\n")
                        proc.stdin.flush()
                    except (BrokenPipeError, OSError):
                        pass
                    while True:
                        line = proc.stdout.readline()
                        if not line:
                            rc = proc.wait()
                            remove_tmp_of(proc.pid)  # a killed worker (OOM) leaves its frame folder
                            errors.append(RenderWorkerError(
                                job, shard, f"worker process exited with code {rc}"
                                + (f" ({_tail(log_path)})" if _tail(log_path) else "")
                                + f"; log: {log_path}", resume_hint))
                            stop.set()
                            return
                        if line.startswith("img") and on_images is not None:
                            with lock:
                                on_images(1)
                        elif line.startswith("done"):
                            if stats is not None:
                                t = json.loads(line.split(" ", 2)[2])
                                with lock:
                                    for key in ("seconds", "cpu_seconds"):
                                        stats[key] = stats.get(key, 0.0) + t[key]
                                    stats["peak_rss_mb"] = max(stats.get("peak_rss_mb", 0.0), t["peak_rss_mb"])
                            break
                    spec_path.unlink(missing_ok=True)
            finally:
                try:
                    proc.stdin.close()
                except OSError:
                    pass
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                    remove_tmp_of(proc.pid)
                proc.stdout.close()

    threads = [threading.Thread(target=drive, args=(k,), daemon=True) for k in range(max(1, min(workers, len(shards))))]
    try:
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                t.join(timeout=0.5)
    except BaseException:  # Ctrl-C: stop the workers now; finished shards stay on disk
        stop.set()
        with lock:
            for p in procs:
                if p.poll() is None:
                    p.kill()
            for p in procs:
                p.wait()
                remove_tmp_of(p.pid)  # SIGKILL leaves no time for the worker's own clean-up
        raise
    if errors:
        raise errors[0]


def run_dask(job: RenderJob, shards: Sequence[Shard], *, workers: int = 1, scheduler: str | None = None,
             on_images: Callable[[int], None] | None = None, resume_hint: str | None = None,
             stats: dict[str, float] | None = None) -> None:
    """Render ``shards`` as Dask tasks (a LocalCluster, or the cluster at ``scheduler``)."""
    if not shards:
        return
    from dask.distributed import Client, LocalCluster, as_completed

    from generators.render.worker import render_shard_timed

    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    try:
        futures = {}
        for s in shards:
            spec = job.shard_spec(s)
            fut = client.submit(render_shard_timed, spec, pure=False,
                                key=f"nrbench-render-{job.name}-{job.key}-{s.id}-{os.getpid()}")
            futures[fut] = (s, spec["digest"])
        for fut in as_completed(list(futures)):
            s, digest = futures[fut]
            try:
                X, index, timing = fut.result()
            except Exception as exc:
                for f in futures:
                    f.cancel()
                raise RenderWorkerError(job, s, f"{type(exc).__name__}: {exc}", resume_hint) from exc
            write_shard_file(job.shard_path(s), X, index, digest)
            if stats is not None:
                for key in ("seconds", "cpu_seconds"):
                    stats[key] = stats.get(key, 0.0) + timing[key]
                stats["peak_rss_mb"] = max(stats.get("peak_rss_mb", 0.0), timing["peak_rss_mb"])
            if on_images is not None:
                on_images(s.size)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
