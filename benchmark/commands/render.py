"""`nrbench render nrobjects|objects`: render a Blender data set into the cache.

Imports nothing heavy at module level; bpy is imported only by the render
worker processes, never by this process.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from generators.dataset import Dataset

HELP = "render NR-Objects or OBJECTS with Blender (bpy) into the data-set cache"

DESCRIPTION = """\
Render NR-Objects (ENRC: colour x material x shape, RGBA) or OBJECTS (ACe/DeC:
grayscale shapes under random light) with Blender Cycles on the CPU, save the
data set where generators.get("nrobjects"|"objects", ...) finds it, and write a
labelled contact sheet (one example per label combination).

Rendering goes in shards kept under $NRBENCH_HOME/render: kill it at any time
and run the same command again to continue.  About 0.07 s per 64x64 image at
16 samples on 2 idle cores (1,000 images in 67 s), i.e. about 11 min for the
default 10,000 images; about 300 MB of memory per render process
(measured by `tox -e bench -- -k render`).
Needs the optional extra: pip install 'nrbench[render]'.

examples:
  nrbench render nrobjects
  nrbench render objects --n 1000 --resolution 32 --samples 8
  nrbench render nrobjects --executor dask --scheduler tcp://host:8786
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `nrbench render`."""
    parser.add_argument("name", choices=["nrobjects", "objects"], help="which data set to render")
    parser.add_argument("--n", type=int, default=10000, metavar="N", help="number of images (default 10000)")
    parser.add_argument("--resolution", type=int, default=64, metavar="PX", help="image width = height in pixels (default 64)")
    parser.add_argument("--samples", type=int, default=16, metavar="N", help="Cycles samples per pixel (default 16)")
    parser.add_argument("--seed", type=int, default=0, help="seed of labels and jitter (default 0)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="folder for the contact sheet and a copy of the data set "
                             "(default: the data-set cache, $NRBENCH_HOME/datasets)")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="render processes (default 1: one process with 2 threads is fastest on one machine)")
    parser.add_argument("--executor", choices=["local", "dask"], default="local",
                        help="local subprocesses (default) or dask.distributed")
    parser.add_argument("--scheduler", default=None, metavar="ADDR",
                        help="Dask scheduler address (with --executor dask; default: a LocalCluster)")
    parser.add_argument("--shard-size", type=int, default=250, metavar="N",
                        help="images per resumable shard (default 250)")


def _resume_command(args: argparse.Namespace) -> str:
    parts = ["nrbench", "render", args.name, "--n", str(args.n), "--resolution", str(args.resolution),
             "--samples", str(args.samples), "--seed", str(args.seed), "--shard-size", str(args.shard_size)]
    if args.out:
        parts += ["--out", args.out]
    if args.executor != "local":
        parts += ["--executor", args.executor]
    if args.scheduler:
        parts += ["--scheduler", args.scheduler]
    if args.workers != 1:
        parts += ["--workers", str(args.workers)]
    return shlex.join(parts)


def _load_or_render(args: argparse.Namespace, target: Path) -> Dataset | None:
    """The data set at ``target`` when it is there and intact, else rendered (and saved there) now.

    None, after one line saying so, when it must be rendered and bpy is missing.
    """
    import time
    import warnings

    from generators.dataset import CorruptDatasetError, Dataset
    from generators.render.datasets import BPY_MISSING, bpy_available, render_dataset

    quiet = bool(getattr(args, "quiet", False))
    ds = None
    if target.exists():
        try:
            ds = Dataset.load(target)
            print(f"nrbench render: already rendered: {target}", file=sys.stderr)
        except CorruptDatasetError as exc:
            print(f"nrbench render: corrupted cache file, rendering again: {exc}", file=sys.stderr)
    if ds is None:
        if not bpy_available():
            print(f"nrbench render: {BPY_MISSING}", file=sys.stderr)
            return None
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            ds = render_dataset(args.name, n=args.n, resolution=args.resolution, samples=args.samples,
                                seed=args.seed, progress=not quiet, executor=args.executor,
                                workers=args.workers, scheduler=args.scheduler, shard_size=args.shard_size,
                                resume_hint=_resume_command(args))
        for w in caught:  # e.g. "n=37 is not a multiple of the 36 label combinations ..."
            print(f"nrbench render: note: {w.message}", file=sys.stderr)
        from generators.render.spec import balance_note, dataset_spec

        balance = balance_note(dataset_spec(args.name), args.n)
        if balance and not any(str(w.message) == balance for w in caught):
            # the papers' own size: recorded in the data set, not warned about, but said once
            print(f"nrbench render: note: {balance}, as in the papers' data set", file=sys.stderr)
        took = time.perf_counter() - t0
        stats = ds.params.get("render_stats", {})
        k = stats.get("rendered_now", 0)
        if k:
            steady = stats.get("worker_image_seconds", 0.0) / k
            print(f"nrbench render: rendered {k} images in {took:.1f} s ({steady:.3f} s/image once started; "
                  f"render process peak RSS {stats.get('worker_peak_rss_mb', 0):.0f} MB)", file=sys.stderr)
    return ds


def run(args: argparse.Namespace) -> int:
    """Render, save to the cache, copy to --out, write the contact sheet."""
    from benchmark.environment import require_environment
    from benchmark.fileio import check_writable, file_lock
    from generators.registry import cache_path, resolve_params
    from generators.render.contact_sheet import write_contact_sheet
    from generators.render.spec import check_settings

    check_settings(args.n, args.resolution, args.samples, args.seed)
    require_environment(writable=True)  # the render and its shards are saved in $NRBENCH_HOME
    if args.scheduler and args.executor != "dask":
        raise ValueError("--scheduler needs --executor dask")
    params = resolve_params(args.name, n=args.n, resolution=args.resolution, samples=args.samples, seed=args.seed)
    target = cache_path(args.name, params)
    out = Path(args.out).expanduser() if args.out else target.parent
    # before any rendering starts
    check_writable(out, "--out folder" if args.out else "the data-set cache folder ($NRBENCH_HOME/datasets)")

    # One render of a data set at a time: another `nrbench render` of it, or generators.get() building
    # it (`nrbench run`, `nrbench generate`), holds this lock (the one get() takes) while it renders.
    # Both would otherwise render the same shards, and the first to finish would delete the shard
    # folder under the other, which then fails.  The one that waited loads the finished file.
    def waiting() -> None:
        print(f"nrbench render: another process is rendering {target.name}; waiting for it to finish",
              file=sys.stderr)

    with file_lock(target, on_wait=waiting):
        ds = _load_or_render(args, target)
    if ds is None:
        return 1
    copy = out / target.name
    if copy.resolve() != target.resolve():
        ds.save(copy)
    sheet = write_contact_sheet(ds, out / f"{target.stem}-contact.png")
    print(ds.summary())
    print(f"data set: {target}" + (f" (copy: {copy})" if copy.resolve() != target.resolve() else ""))
    print(f"contact sheet: {sheet}")
    return 0
