"""The render worker: the only code that imports Blender (``bpy``).

Three ways in, all rendering a *shard* (a list of :class:`ImageParams` plus the
render settings, as JSON):

- ``python -m generators.render.worker SHARD.json``: render one shard and write
  its ``.npz`` atomically to the path the shard names; exit 0.
- ``python -m generators.render.worker --serve``: the long-running local worker.
  It reads shard-file paths from stdin, one per line, and for each writes the
  shard file and reports on stdout (``img K`` after each image, ``done ID``
  after the shard) so the parent can show a progress bar.  The scene is built
  once and reused (RENDERING.md: start-up costs 1-2 s, the first image more).
  The ``done`` line carries the shard's wall and CPU seconds and the process's
  peak RSS as JSON.
- :func:`render_shard_arrays` inside a Dask worker process: same, but the pixels
  are returned to the client, so workers need no shared file system.

The parent never imports this module's ``bpy`` (a child that imports bpy after
the parent did fails with ``No module named '_bpy'``); ``scene`` is imported
lazily here.

Test hook: when ``NRBENCH_RENDER_CRASH_SHARD`` equals a shard id, the process
exits with code 3 before rendering that shard (simulates a crashed Blender).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.fileio import atomic_write, write_npz
from benchmark.memory import peak_rss_mb
from generators.render.spec import ImageParams, dataset_spec

CRASH_ENV = "NRBENCH_RENDER_CRASH_SHARD"
CRASH_EXIT_CODE = 3
SHARD_FORMAT = 1

_renderers: dict[tuple[str, int, int, int], Any] = {}
_lock = threading.Lock()  # bpy is not thread-safe: one render at a time per process


def _renderer(shard: dict[str, Any]) -> Any:
    """The process-wide renderer for these settings (built on first use, then reused)."""
    from generators.render.scene import Renderer

    key = (shard["dataset"], int(shard["resolution"]), int(shard["samples"]), int(shard["threads"]))
    r = _renderers.get(key)
    if r is None:
        for old in _renderers.values():
            old.close()
        _renderers.clear()
        r = Renderer(dataset_spec(key[0]), key[1], key[2], key[3])
        _renderers[key] = r
    return r


def _exit_now(code: int) -> None:
    """Leave at once (no half shard is written), removing the renderer's temporary folder."""
    for r in _renderers.values():
        r.close()
    os._exit(code)


def process_stats() -> dict[str, float]:
    """This process's peak resident memory (MB, :func:`peak_rss_mb`) and CPU seconds so far (all threads)."""
    import resource

    ru = resource.getrusage(resource.RUSAGE_SELF)
    return {"peak_rss_mb": peak_rss_mb(), "cpu_seconds": ru.ru_utime + ru.ru_stime}


def render_shard_arrays(shard: dict[str, Any], on_image: Callable[[int], None] | None = None,
                        timing: dict[str, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Render every image of ``shard``; return ``(X, index)`` (uint8 CHW stack, int64 indices).

    ``timing``, if given, receives the wall and CPU seconds of the image loop
    (scene building excluded) and the process's peak RSS.
    """
    crash = os.environ.get(CRASH_ENV)
    if crash is not None and crash.strip() == str(shard["shard"]):
        sys.stderr.write(f"nrbench render worker: {CRASH_ENV}={crash}: simulated crash\n")
        sys.stderr.flush()
        _exit_now(CRASH_EXIT_CODE)
    images = [ImageParams.from_json(d) for d in shard["images"]]
    with _lock:
        r = _renderer(shard)
        out = []
        t0, c0 = time.perf_counter(), process_stats()["cpu_seconds"]
        for k, p in enumerate(images):
            out.append(r.render(p))
            if on_image is not None:
                on_image(k + 1)
        if timing is not None:
            st = process_stats()
            timing.update(seconds=time.perf_counter() - t0, cpu_seconds=st["cpu_seconds"] - c0,
                          peak_rss_mb=st["peak_rss_mb"])
    X = np.stack(out) if out else np.zeros((0,), np.uint8)
    return X, np.array([p.index for p in images], dtype=np.int64)


def render_shard_timed(shard: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """:func:`render_shard_arrays` plus its timing dict (the Dask task).

    Blender prints a line per image on file descriptor 1; in a Dask worker that
    is the terminal, so fd 1 points at /dev/null while the shard renders.
    """
    timing: dict[str, float] = {}
    with blender_stdout_silenced():
        X, index = render_shard_arrays(shard, timing=timing)
    return X, index, timing


@contextmanager
def blender_stdout_silenced() -> Iterator[None]:
    """Point file descriptor 1 at /dev/null inside the block (Blender's per-image "Saved:" lines)."""
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        sys.stdout.flush()
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def write_shard_file(path: str | os.PathLike, X: np.ndarray, index: np.ndarray, digest: str) -> Path:
    """Atomically write a finished shard (temporary file, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"X": X, "index": index, "digest": np.frombuffer(digest.encode(), dtype=np.uint8),
              "format": np.array(SHARD_FORMAT)}
    atomic_write(path, lambda fh: write_npz(fh, arrays, compress=False))
    return path


def render_shard_file(spec_path: str | os.PathLike, on_image: Callable[[int], None] | None = None,
                      timing: dict[str, float] | None = None) -> Path:
    """Render the shard described by the JSON file ``spec_path`` into its ``out`` file."""
    shard = json.loads(Path(spec_path).read_text())
    X, index = render_shard_arrays(shard, on_image, timing)
    return write_shard_file(shard["out"], X, index, shard["digest"])


def _quiet_blender_stdout() -> int:
    """Send Blender's own chatter (fd 1) to stderr; return a private fd for the protocol."""
    proto = os.dup(1)
    os.dup2(2, 1)
    return proto


def serve() -> int:
    """Render shard files named on stdin until EOF (the local executor's worker)."""
    proto = os.fdopen(_quiet_blender_stdout(), "w", buffering=1)
    parent = os.getppid()

    def report(k: int) -> None:
        if os.getppid() != parent:  # the parent was killed: stop now, finished shards are on disk
            _exit_now(1)
        proto.write(f"img {k}\n")

    for line in sys.stdin:
        spec_path = line.strip()
        if not spec_path:
            continue
        timing: dict[str, float] = {}
        render_shard_file(spec_path, on_image=report, timing=timing)
        shard_id = json.loads(Path(spec_path).read_text())["shard"]
        proto.write(f"done {shard_id} {json.dumps(timing)}\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command-line entry (see the module docstring)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv == ["--serve"]:
        return serve()
    if len(argv) != 1:
        sys.stderr.write("usage: python -m generators.render.worker (SHARD.json | --serve)\n")
        return 2
    _quiet_blender_stdout()
    render_shard_file(argv[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
