"""`nrbench generate NAME|all [--seed S] [--param key=value ...] [--out DIR] [--rebuild]`.

Builds one data set (with a progress bar) into the cache (``$NRBENCH_HOME``,
through :func:`generators.get`, so a valid cached copy is reused and a corrupted
one rebuilt) or into ``--out DIR`` (same file name, same locking), then prints
where it went, its SHA-256 and :meth:`Dataset.summary`.

``nrbench generate all`` (or ``--builtin``) builds the data sets that need no
raw files and no Blender (:data:`BUILTIN`: synth, stickfigures) and prints a
summary table.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import time
from pathlib import Path
from typing import Any

HELP = "build a data set into the cache (or --out) and print its checksum"
DESCRIPTION = """Build a data set and store it in the cache ($NRBENCH_HOME) or in --out DIR.

  nrbench generate synth --param k=50 --seed 3
  nrbench generate cmnist --param split=test
  nrbench generate stickfigures-file --param path=stickfigures.data
  nrbench generate all          # the built-in generated data sets, with a summary table

A cached copy with the same parameters is reused (--rebuild forces a new build).
Parameter values are parsed as JSON when possible (3, 0.5, true), else taken as
strings.  Prints the file, its SHA-256 and a summary.  nrobjects and objects are
rendered with Blender on first use (about 11 min for 10,000 64x64 images on 2
cores; 'nrbench render' offers the rendering options, workers and Dask).  'nrbench list' shows the
data sets and 'nrbench list datasets NAME' the parameters of one, with their defaults."""

#: Data sets built by ``nrbench generate all``: generated here, no raw files, no Blender.
BUILTIN: tuple[str, ...] = ("synth", "stickfigures")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """NAME, --builtin, --seed, --param, --out, --rebuild."""
    parser.add_argument("name", nargs="?", help="data set name (see 'nrbench list'), or 'all'")
    parser.add_argument("--builtin", action="store_true",
                        help=f"build the built-in generated data sets ({', '.join(BUILTIN)}); same as 'nrbench generate all'")
    parser.add_argument("--seed", type=int, default=None, help="the builder's seed parameter")
    parser.add_argument("--param", "-p", action="append", default=[], metavar="KEY=VALUE",
                        help="a builder parameter (repeatable); the value is parsed as JSON when possible")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="write the .npz into DIR instead of the cache")
    parser.add_argument("--rebuild", action="store_true", help="build even when a valid copy exists")


def parse_params(items: list[str], raw: tuple[str, ...] | list[str] = ()) -> dict[str, Any]:
    """``["k=25", "rotate=true", "split=test"]`` -> ``{"k": 25, "rotate": True, "split": "test"}``.

    Keys in ``raw`` (a data set's path parameters) keep their text, so ``path=123`` names
    the folder ``123``.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--param expects KEY=VALUE; got {item!r}")
        if key in out:
            raise ValueError(f"--param {key} is given twice")
        if key in raw:
            out[key] = value
            continue
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def generate_one(name: str, params: dict[str, Any], *, seed: int | None, out: Path | None,
                 rebuild: bool, progress: bool) -> tuple[Any, Path, float]:
    """Build (or reuse) one data set; returns (dataset, file, seconds)."""
    from benchmark.fileio import check_writable
    from generators.registry import cache_path, copy_without_source, entry, get, resolve_params

    params = dict(params)
    if seed is not None:
        sig = inspect.signature(entry(name).load_builder())
        if "seed" not in sig.parameters:
            raise ValueError(f"--seed: data set {name!r} has no seed parameter")
        if "seed" in params and params["seed"] != seed:
            raise ValueError(f"--seed {seed} conflicts with --param seed={params['seed']}")
        params["seed"] = seed
    full = resolve_params(name, **params)
    if out is not None:
        check_writable(out, "--out folder")
    t0 = time.perf_counter()
    ds = get(name, root=out, rebuild=rebuild, progress=progress, **full)
    path = cache_path(name, full, out)
    if not path.exists():  # its source files are absent: get() served a copy built from them earlier
        path = copy_without_source(name, full, path.parent) or path
    return ds, path, time.perf_counter() - t0


def run(args: argparse.Namespace) -> int:
    """Generate NAME (or the built-ins); exit 2 for an unknown name or bad parameters."""
    from benchmark.environment import require_environment
    from generators.registry import CATALOG, available

    require_environment(writable=True)  # the cache, or with --out the locks, live in $NRBENCH_HOME
    progress = not args.quiet
    name = args.name
    if args.builtin or name == "all":
        if name not in (None, "all"):
            raise ValueError(f"give either a NAME or --builtin, not both (got {name!r})")
        if args.param:
            raise ValueError("--param applies to one data set; it cannot be combined with 'all'")
        rows = []
        for n in BUILTIN:
            ds, path, secs = generate_one(n, {}, seed=args.seed, out=args.out, rebuild=args.rebuild,
                                          progress=progress)
            print(f"{ds.summary()}\n  file   {path}\n  sha256 {ds.checksum}")
            shape = "x".join(str(s) for s in ds.sample_shape)
            clust = ", ".join(f"{c} ({k})" for c, k in zip(ds.clusterings, ds.n_clusters))
            rows.append([n, f"{ds.n:,}", shape, clust, ds.checksum[:16], f"{secs:.1f}", str(path)])
        from benchmark.commands.list_cmd import format_table

        print()
        print(format_table(["name", "n", "sample", "clusterings", "sha256", "s", "file"], rows))
        return 0
    if name is None:
        print("nrbench generate: error: give a data set NAME or 'all' "
              f"(available: {', '.join(available())})", file=sys.stderr)
        return 2
    if name not in CATALOG:
        print(f"nrbench generate: error: unknown data set {name!r}; available: "
              f"{', '.join(available())}, or 'all'", file=sys.stderr)
        return 2
    from generators.registry import path_params

    ds, path, secs = generate_one(name, parse_params(args.param, path_params(name)), seed=args.seed, out=args.out,
                                  rebuild=args.rebuild, progress=progress)
    print(f"{ds.summary()}\n  file   {path}\n  sha256 {ds.checksum}\n  time   {secs:.1f} s")
    return 0
