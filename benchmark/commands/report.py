"""`nrbench report`: NMI/VI tables (LaTeX, Markdown, CSV) from the result store."""

from __future__ import annotations

import argparse
import sys

from benchmark.suites import TIERS
from reports.catalog import TABLE_FORMATS

HELP = "write the papers' NMI/VI tables (LaTeX, Markdown or CSV) from stored results"

DESCRIPTION = """\
Write the result tables of the stored runs, in the layouts of the papers:

  ENRC Table 1   NMI, rows data set x clustering, columns methods (multi-clustering suites)
  ENRC Table 3   VI between the found clusterings, rows methods, columns data sets
  ACe/DeC Table 1  NMI, rows methods, columns data sets (single-clustering suites)
  ACe/DeC Table 3  number of cluster-space dimensions found

Every cell follows the papers' protocol: per autoencoder the run with the lowest
own loss (never the best NMI), then mean +- std over the autoencoders.  The best
value per data set (and clustering) is bold; '*' marks subsets and approximations;
'n.a.' a VI that does not exist; 'err' a cell with failed runs (footnote); '-' a
method skipped on a data set.  Captions state the suite, tier, autoencoders, runs
per autoencoder, the NMI normalisation and every deviation from the paper.

--compare-paper prints the published numbers (benchmark/published/*.csv) beside
nrbench's with the difference and whether each one reproduces.

Reports only read the store; they never run a method.

examples:
  nrbench report                                  # Markdown of everything stored
  nrbench report --suite enrc-table1 --format latex --out paper/
  nrbench report --format csv --out results/      # one CSV per table + cells.csv
  nrbench report --compare-paper --format csv > comparison.csv   # one tidy CSV, every suite and tier
  nrbench report --compare-paper --tier paper
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `nrbench report`."""
    parser.add_argument("--store", metavar="PATH", default=None,
                        help="result store (default: $NRBENCH_HOME/results/nrbench.sqlite)")
    parser.add_argument("--suite", metavar="S", default=None, help="only this suite (default: every stored suite)")
    parser.add_argument("--tier", choices=TIERS, default=None,
                        help="only this tier (default: every stored tier)")
    parser.add_argument("--format", dest="fmt", choices=list(TABLE_FORMATS), default="md",
                        help="output format (default: md); csv without --out prints the tidy cells.csv "
                             "(one row per cell: suite, tier, data set, method, metric, mean, std, ...), or with "
                             "--compare-paper the tidy comparison.csv (one row per published value: suite, tier, "
                             "table, data set, method, paper and nrbench mean and std, difference, verdict), "
                             "either of which parses as one CSV")
    parser.add_argument("--out", metavar="DIR", default=None,
                        help="write one file per table into DIR (plus tables.tex for latex, cells.csv for csv, "
                             "comparison.csv for csv with --compare-paper) instead of printing")
    parser.add_argument("--compare-paper", action="store_true",
                        help="show the published numbers beside nrbench's, with the difference and a verdict")


def run(args: argparse.Namespace) -> int:
    """Build and print (or write) the tables."""
    from benchmark.environment import require_environment
    from reports.writer import report

    if args.store is None:  # the default store lives in $NRBENCH_HOME
        require_environment()
    result = report(store=args.store, suite=args.suite, tier=args.tier, fmt=args.fmt, out=args.out,
                    compare_paper=args.compare_paper)
    if args.out is None:
        sys.stdout.write(result.text.rstrip("\n") + "\n")
    else:
        for p in result.files:
            print(p)
    return 0
