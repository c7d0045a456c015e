"""When spreading independent starts over processes pays: the measurement behind
:data:`benchmark.runner.PARALLEL_STARTS_MIN_WORK`.

Usage (from the repository root)::

    python benchmark/scripts/parallel_starts_cost.py                      # sizes 900, 12,000, 60,000
    python benchmark/scripts/parallel_starts_cost.py --n 900 60000 --jobs 4

For each size, NrKmeans ([3, 3] clusters, ``--n-init`` starts) is fitted on Gaussian noise of
``--dim`` features in a fresh Python process, serially and with ``--jobs`` processes, so that each
parallel time includes starting joblib's workers, as the first fit of a ``nrbench run`` process does
(later fits reuse them).  It prints both times, the kept start's cost (equal up to rounding: the
same start is kept) and the sample-starts (n x n_init) that the runner's threshold counts.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

_CHILD = """
import json, sys, time
import numpy as np
from baselines import NrKmeans
n, dim, n_init, jobs = json.loads(sys.argv[1])
X = np.random.default_rng(0).normal(size=(n, dim))
t = time.perf_counter()
est = NrKmeans([3, 3], n_init=n_init, random_state=0, progress=False, n_jobs=jobs).fit(X)
print(json.dumps({"s": time.perf_counter() - t, "cost": float(est.loss_)}))
"""


def time_fit(n: int, dim: int, n_init: int, jobs: int | None) -> dict[str, float]:
    """Seconds and kept cost of one NrKmeans fit in a fresh process (``jobs=None``: serial)."""
    out = subprocess.run([sys.executable, "-c", _CHILD, json.dumps([n, dim, n_init, jobs])], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, nargs="+", default=[900, 12_000, 60_000], help="sample counts")
    ap.add_argument("--dim", type=int, default=16, help="features (default 16, the ENRC embedding)")
    ap.add_argument("--n-init", type=int, default=10, help="starts per fit (default 10, NrKmeans' default)")
    ap.add_argument("--jobs", type=int, default=2, help="processes for the parallel fit (default 2)")
    args = ap.parse_args(argv)
    print(f"{'n':>8} {'sample-starts':>14} {'serial s':>9} {f'{args.jobs} procs s':>10} {'cost serial':>14} "
          f"{'cost parallel':>14}")
    for n in args.n:
        a = time_fit(n, args.dim, args.n_init, None)
        b = time_fit(n, args.dim, args.n_init, args.jobs)
        print(f"{n:>8} {n * args.n_init:>14,} {a['s']:>9.2f} {b['s']:>10.2f} {a['cost']:>14.6g} {b['cost']:>14.6g}",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
