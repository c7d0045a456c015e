"""`nrbench plot`: the papers' figures (PNG and PDF) from the result store."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmark.suites import TIERS
from reports.catalog import FIGURE_INFO

HELP = "draw a paper figure (PNG and PDF) from stored results"

DESCRIPTION = "Draw one of the papers' figures from stored results (reports never run a method).\n\nfigures:\n" + "\n".join(
    f"  {name:<13} {desc}\n  {'':<13} (inputs from: nrbench run {suite})" for name, (suite, desc) in FIGURE_INFO.items()
) + """

The NMI figures follow the protocol (per autoencoder the run with the lowest own
loss) and show the mean and the 95% t confidence interval over the autoencoders.
The case-study figures use the artefacts (betas, Z_rot, decoded centres,
traversal, cluster-/shared-space reconstructions) of the run with the lowest
loss.  A missing input is reported in one
line with the suite that produces it.

Without --tier an NMI figure draws the most complete stored tier (the largest
share of its planned fits stored; a tie goes to the higher tier: paper >
standard > quick), not simply the highest one, so a paper run stopped after a
few fits does not replace a complete standard figure.  With more than one tier
stored, a note says which tier is drawn and why, e.g.
  nrbench: note: drawing tier 'standard' (complete); tier 'paper' has 1 of 240 fits; ...

examples:
  nrbench plot enrc-fig4 --out figures/
  nrbench plot acedec-fig1a --tier quick
  nrbench plot acedec-fig1b --dataset objects
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `nrbench plot`."""
    parser.add_argument("figure", metavar="FIGURE", choices=list(FIGURE_INFO),
                        help="one of: " + ", ".join(FIGURE_INFO))
    parser.add_argument("--store", metavar="PATH", default=None,
                        help="result store (default: $NRBENCH_HOME/results/nrbench.sqlite)")
    parser.add_argument("--out", metavar="DIR", default="figures",
                        help="output folder for FIGURE.png and FIGURE.pdf (default: ./figures)")
    parser.add_argument("--suite", metavar="S", default=None,
                        help="read this suite's results (default: the figure's own suite when stored, else any)")
    parser.add_argument("--tier", choices=TIERS, default=None,
                        help="NMI figures: this tier (default: the most complete stored tier, i.e. the largest share "
                             "of its planned fits stored, a tie going to the higher tier; with several tiers stored "
                             "the choice and why is printed; a figure of an incomplete run says so under it)")
    parser.add_argument("--dataset", metavar="D", default=None,
                        help="case-study figures: this data set (default: the papers' choice when stored)")


def run(args: argparse.Namespace) -> int:
    """Draw the figure and write it."""
    from benchmark.environment import require_environment
    from benchmark.fileio import check_creatable
    from reports.figures import draw, save_figure
    from reports.source import load_runs, suite_configs

    if args.store is None:  # the default store lives in $NRBENCH_HOME
        require_environment()
    out = Path(args.out)
    if out.exists() and not out.is_dir():  # said before drawing, which may take a while
        raise ValueError(f"--out {out} is a file; it takes a folder for {args.figure}.png and {args.figure}.pdf")
    check_creatable(out, "--out folder")  # before drawing; created only when the figure is saved
    frame = load_runs(args.store)
    fig = draw(args.figure, frame, suite=args.suite, tier=args.tier, dataset=args.dataset,
               configs=suite_configs(args.store))
    from reports.figures import FIGURES
    from reports.source import current_rows

    suite = args.suite or FIGURES[args.figure].suite
    cur, _ = current_rows(frame, suite_configs(args.store))  # the rows the figure may draw
    rows = cur[cur["suite"] == suite] if (cur["suite"] == suite).any() else cur
    versions = ", ".join(sorted({str(v) for v in rows["code_version"].dropna()})) if "code_version" in rows else ""
    for p in save_figure(fig, args.out, args.figure, software=f"results of {versions}" if versions else None):
        print(p)
    return 0
