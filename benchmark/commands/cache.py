"""`nrbench cache`: what the cache home holds, by kind, and removing resumable snapshots."""

from __future__ import annotations

import argparse

HELP = "show what $NRBENCH_HOME holds (data sets, networks, snapshots, stores); remove snapshots"

DESCRIPTION = """\
Show the files nrbench keeps under $NRBENCH_HOME, by kind, with their count and size:
data sets, pretrained networks, snapshots of stopped pretraining runs and method fits,
the shards of stopped renders, result stores, raw downloads.

Snapshots are what a stopped run resumes from (Ctrl-C, SIGTERM, a crash): a rerun of
the same pretraining or suite goes on from them and deletes them when it finishes.  A
snapshot whose run is never repeated stays; --remove-snapshots deletes them, except
those written in the last 10 minutes, which a running `nrbench run` may still be
writing (--force deletes those too).  Nothing else is ever removed by this command.

Examples:
  nrbench cache
  nrbench cache --remove-snapshots
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `nrbench cache`."""
    parser.add_argument("--remove-snapshots", action="store_true",
                        help="delete the pretraining and fit snapshots (their runs then start from the beginning), "
                             "except those written in the last 10 minutes")
    parser.add_argument("--force", action="store_true",
                        help="with --remove-snapshots: also delete recent snapshots (stop every nrbench run first)")


def run(args: argparse.Namespace) -> int:
    """Print the inventory, or remove snapshots and say which."""
    from benchmark.cache_inventory import RECENT_S, inventory, remove_snapshots, total_size
    from benchmark.environment import require_environment
    from benchmark.fileio import human_size
    from benchmark.paths import nrbench_home

    if args.force and not args.remove_snapshots:
        raise ValueError("--force only applies to --remove-snapshots")
    require_environment()  # a file is not an empty cache; nothing is created here
    home = nrbench_home()
    if args.remove_snapshots:
        removed, kept = remove_snapshots(force=args.force)
        for p in removed:
            print(f"removed {p}")
        print(f"nrbench cache: removed {len(removed)} snapshot{'' if len(removed) == 1 else 's'}")
        if kept:
            print(f"nrbench cache: kept {len(kept)} written in the last {RECENT_S / 60:g} minutes "
                  f"(a run may be writing them; --force removes them too): "
                  f"{', '.join(str(p) for p in kept)}")
        return 0
    groups = inventory()
    print(f"nrbench cache: {home} ($NRBENCH_HOME)")
    if not any(g.files for g in groups):
        print("  (empty: nothing is cached yet)")
        return 0
    width = max(len(g.name) for g in groups)
    for g in groups:
        if g.files:
            n = len(g.files)
            print(f"  {g.name:<{width}}  {n:>6} file{' ' if n == 1 else 's'}  {human_size(g.size):>9}  {g.purpose}")
    every = [p for g in groups for p in g.files]
    n = len(every)
    print(f"  {'total':<{width}}  {n:>6} file{' ' if n == 1 else 's'}  {human_size(total_size(every)):>9}")
    return 0
