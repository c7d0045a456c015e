"""`nrbench list [datasets|suites|budgets]`: what can be generated and run, without building anything.

``datasets`` (the default) prints one row per catalogue entry
(:data:`generators.registry.CATALOG`): name, nominal size, sample shape,
clusterings with their number of clusters, where the data come from, and a
description.  ``suites`` prints :func:`benchmark.suites.describe_suites`;
``budgets`` the named autoencoder pretraining budgets of
:data:`methods.pretrain.BUDGETS` (the names suite files and ``pretrain()`` accept).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

HELP = "list the data sets (default), the suites or the pretraining budgets"
DESCRIPTION = """List what nrbench knows, without building or running anything.

  nrbench list              the data sets: size, sample shape, clusterings, source
  nrbench list datasets     the same
  nrbench list datasets synth   one data set's parameters (--param KEY=VALUE of generate) and defaults
  nrbench list suites       the comparison suites and tiers with their estimated cost
  nrbench list budgets      the named autoencoder pretraining budgets (procedure, iterations, rates)

Source: 'generated' (built here), 'real' (needs raw files in $NRBENCH_DATA,
downloaded where a public URL exists) or 'rendered' (needs Blender's bpy)."""

WHAT = ("datasets", "suites", "budgets")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``what``: datasets (default) or suites."""
    parser.add_argument("what", nargs="?", choices=WHAT, default="datasets",
                        help="what to list (default: datasets)")
    parser.add_argument("name", nargs="?", default=None,
                        help="with 'datasets': one data set, listed with its parameters and their defaults")


def format_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Left-aligned plain-text table with a dashed rule under the header."""
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def dataset_rows() -> list[list[str]]:
    """One row per catalogue entry: name, n, shape, clusterings, source, description."""
    from generators.registry import CATALOG

    rows = []
    for name in sorted(CATALOG):
        e = CATALOG[name]
        clust = ", ".join(f"{c} ({k})" for c, k in e.clusterings)
        shape = "x".join(str(s) for s in e.sample_shape)
        rows.append([name, f"{e.n:,}", shape, clust, e.source, e.description])
    return rows


def parameter_rows(name: str) -> list[list[str]]:
    """One row per builder parameter of data set ``name``: parameter, default (``required`` if none)."""
    import inspect

    from generators.registry import entry

    sig = inspect.signature(entry(name).load_builder())
    return [[k, "required" if p.default is inspect.Parameter.empty else repr(p.default)]
            for k, p in sig.parameters.items() if k != "progress"]


def run(args: argparse.Namespace) -> int:
    """Print the requested listing (data sets, budgets or suites)."""
    if args.name is not None and args.what != "datasets":
        raise ValueError(f"a NAME is only taken by 'nrbench list datasets'; got {args.what} {args.name}")
    if args.name is not None:
        rows = [r for r in dataset_rows() if r[0] == args.name]
        if not rows:
            from generators.registry import entry

            entry(args.name)  # raises ValueError listing the valid names
        print(format_table(["name", "n", "sample", "clusterings", "source", "description"], rows))
        print()
        print(format_table(["parameter", "default"], parameter_rows(args.name)))
        print(f"\nSet one with: nrbench generate {args.name} --param KEY=VALUE (or params = {{ ... }} in a suite)")
        return 0
    if args.what == "datasets":
        print(format_table(["name", "n", "sample", "clusterings", "source", "description"], dataset_rows()))
        print("\nn and sample are at the default parameters (e.g. synth's sample is 2 + k dimensions); "
              "'nrbench list datasets NAME' lists a data set's parameters.")
        return 0
    if args.what == "budgets":
        from methods.pretrain import BUDGETS

        print(format_table(["name", "pretraining"], [[k, BUDGETS[k].summary()] for k in sorted(BUDGETS)]))
        return 0
    from benchmark.suites import describe_suites

    suites = describe_suites()
    print(format_table(["name", "tier", "est. cost", "description"],
                       [[s["name"], s["tier"], s["est_cost"], s["description"]] for s in suites]))
    return 0
