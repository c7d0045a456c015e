"""Speed, memory and scaling of mSC and ISAAC on full synthetic 16-d embeddings (no subsets).

Targets (2 CPU cores): mSC on 60,000 x 16 in < 10 min with peak RSS < 8 GB; ISAAC on
60,000 x 16 in < 15 min; scaling recorded at n = 3k, 12k, 60k.  Each fit runs in a fresh
subprocess so that its peak RSS (``ru_maxrss`` of RUSAGE_CHILDREN) is its own.

Run with ``tox -e bench`` (or ``pytest tests/test_bench_msc_isaac.py --benchmark-only
--benchmark-enable -m benchmark``); a single case can also be run directly:
``python tests/test_bench_msc_isaac.py msc 60000``.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

import pytest

#: The synthetic embedding: three planted clusterings of 4 dims each + 4 noise dims = 16 dims.
N_CLUSTERS = [5, 3, 2]
DIMS, NOISE = 4, 4
#: Targets of issue 3 on 2 CPU cores.
MSC_MAX_S, MSC_MAX_RSS_GB, ISAAC_MAX_S = 600.0, 8.0, 900.0
#: ISAAC (default max_dims = 5) must recover at least two planted views at this NMI.
ISAAC_MIN_NMI = 0.9

_CHILD = r"""
import json, sys, time, resource, warnings
import numpy as np
from generators.planted import make_planted
from benchmark.metrics import nmi_best_match
method, n = sys.argv[1], int(sys.argv[2])
ds = make_planted(n=n, n_clusters=%(k)r, dims_per_subspace=%(dims)d, noise_dims=%(noise)d, seed=0)
t0 = time.perf_counter()
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    if method == "msc":
        from baselines import MSC
        m = MSC(n_clusters=%(k)r, n_components=%(dims)d, n_init=int(sys.argv[3]), random_state=0,
                progress=False).fit(ds.X)
        extra = dict(approximation=m.approximation_, n_iter=m.n_iter_)
    else:
        from baselines import ISAAC
        m = ISAAC(random_state=0, progress=False).fit(ds.X)
        extra = dict(m=m.m_, k=m.n_clusters_, kde=m.kde_methods_, n_iter=m.n_iter_, em_iter=m.em_n_iter_,
                     max_dims=m.max_dims, pca_variance_kept=round(m.pca_variance_kept_, 4))
wall = time.perf_counter() - t0
print(json.dumps(dict(wall_s=wall, cpu_s=time.process_time(), nmi=nmi_best_match(ds.labels, m.labels_).round(3).tolist(),
                      self_rss_gb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, **extra)))
""" % dict(k=N_CLUSTERS, dims=DIMS, noise=NOISE)


def run_case(method: str, n: int, n_init: int = 3) -> dict:
    """Fit one method on an n x 16 planted embedding in a subprocess; wall time, peak RSS, NMI."""
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "2")
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", _CHILD, method, str(n), str(n_init)], env=env,
                         capture_output=True, text=True, check=True)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["process_s"] = time.perf_counter() - t0
    # ru_maxrss of RUSAGE_CHILDREN is the max over all waited-for children (KiB on Linux)
    res["peak_rss_gb"] = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before) / 1e6
    res.update(method=method, n=n, n_init=n_init, load_avg_after=os.getloadavg())
    return res


@pytest.mark.benchmark
@pytest.mark.parametrize("n", [3_000, 12_000, 60_000])
def test_bench_msc(benchmark, n):
    res = benchmark.pedantic(run_case, args=("msc", n), rounds=1, iterations=1)
    benchmark.extra_info.update(res)
    if n == 60_000:
        assert res["approximation"] is not None
        assert res["wall_s"] < MSC_MAX_S, res
        assert res["self_rss_gb"] < MSC_MAX_RSS_GB, res


@pytest.mark.benchmark
@pytest.mark.parametrize("n", [3_000, 12_000, 60_000])
def test_bench_isaac(benchmark, n):
    res = benchmark.pedantic(run_case, args=("isaac", n), rounds=1, iterations=1)
    benchmark.extra_info.update(res)
    # issue 3: ISAAC recovers at least two views (measured: all three, NMI >= 0.998, at every n)
    assert sum(v >= ISAAC_MIN_NMI for v in res["nmi"]) >= 2, res
    if n == 60_000:
        assert res["wall_s"] < ISAAC_MAX_S, res


if __name__ == "__main__":
    args = sys.argv[1:]
    print(json.dumps(run_case(args[0], int(args[1]), *(int(a) for a in args[2:3]))))
