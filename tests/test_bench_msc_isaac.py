"""Speed, memory and scaling of mSC and ISAAC on full synthetic 16-d embeddings (no subsets).

Targets (2 CPU cores): mSC on 60,000 x 16 in < 10 min with peak RSS < 8 GB; ISAAC on
60,000 x 16 in < 15 min; scaling recorded at n = 3k, 12k, 60k.  Each fit runs in a fresh
subprocess, which reports its own peak RSS (:func:`benchmark.memory.peak_rss_mb`).
The peak-RSS figures recorded below before 2026-11-24 used ``ru_maxrss``, which also holds the
pytest process's high-water mark inherited at the fork: they are upper bounds.

mSC at its defaults (n_init = 3), idle 2 cores, 2026-11-24:

    n        wall s   CPU s   peak RSS GB   NMI per view (5/3/2 clusters)   outer iterations
    3,000      15.0    29.9      0.47          0.79 / 0.11 / 1.00               20
    12,000     62.1   123.8      0.76          0.59 / 0.58 / 0.52               20
    60,000    453.8   883.9      1.18          0.26 / 0.73 / 0.81               20

(``pytest tests/test_bench_msc_isaac.py -k test_bench_msc --benchmark-only --benchmark-enable
-m benchmark``.)  Before the W-step shared its forward passes (the U-step's kernels give the first
gradient, an accepted Armijo trial's graph gives the next; ``baselines.stiefel.armijo_ascent_step``)
and the kernels became one augmented product (``baselines.msc.neg_scaled_sq_dists``), the 60k case
took 630.1 s (1,215 CPU-s), over the < 10 min target, with the same NMI; after the first change
alone, 582.0 s.  The n_init = 1 tables below are older.

Run with ``tox -e bench`` (or ``pytest tests/test_bench_msc_isaac.py --benchmark-only
--benchmark-enable -m benchmark``); a single case can also be run directly:
``python tests/test_bench_msc_isaac.py msc 60000``.

ISAAC scaling (defaults: max_dims = 5, n_threads = 1; one run each, 2026-11-22 16:45-16:51 UTC,
``python tests/test_bench_msc_isaac.py isaac N`` with the harness's OMP_NUM_THREADS=2; the
2 cores were shared with other jobs, load average 4.9-6.3, so wall time is inflated and
CPU time (the whole child process, imports and data included) is the fairer figure):

    n        wall s   CPU s   peak RSS GB   load avg (1 min)   NMI per view (5/3/2 clusters)
    3,000      16.2    11.8      0.43          4.9 -> 5.5          1.00 / 1.00 / 0.998
    12,000     51.2    34.9      0.68          5.5 -> 6.3          1.00 / 1.00 / 1.00
    60,000    224.5   154.5      0.66          6.3 -> 5.8          1.00 / 1.00 / 1.00

On the idle machine (18:07-18:09 UTC, load 1.4 -> 1.0) the 60k case took 160.5 s wall, 162.1 CPU-s,
0.66 GB peak RSS, NMI 1.00 / 1.00 / 1.00 (target < 15 min).
Re-measured 2026-11-24 on idle cores, twice: 99.4 s and 99.1 s wall, 0.67 GB, NMI 1.00 / 1.00 / 1.00.

Subspaces found: [2, 2, 1] at every n, k = 5, 3, 2 (3 on the 1-d view at n = 3000); KDE exact
at n = 3000, binned (d <= 3) and reference (r = 2000, d = 4, 5) above.  CPU grows about
linearly in n (x4.4 from 12k to 60k); EMh is ~95% of it at 60k.  Same runs with
OMP_NUM_THREADS=1 in the environment (16:38-16:42, load 5.3-6.1): 10.0 / 31.1 / 166.0 s wall.
Before the n_threads limit, with 2 OpenMP threads (16:19-16:38, load 3.8-6.1): 289 / 371 /
499 s wall, CPU about equal to wall: barrier waits on the busy cores.  Before this round of
work (2 threads, unreduced 16-d input) n = 3000 took 96 s under cProfile at load ~1.5 and 305 s
under load, and found one 16-d subspace (NMI 0.00 / 0.58 / 0.52).  With max_dims=None (the
authors' algorithm on all 16 dims; /tmp script, OMP_NUM_THREADS=2 env, n_threads = 1,
16:50-16:54, load 5.4-5.8) n = 12,000 took 35.9 s wall / 35.1 s CPU (0.53 GB) and n = 60,000
185.9 s / 150.6 s (0.85 GB), each again one 16-d subspace: NMI 0.13 / 0.76 / 0.37 and
0.00 / 0.76 / 0.56.

mSC scaling (defaults: landmark mode above exact_max_n = 1000 with m = 250 landmarks, n_init = 1;
``python tests/test_bench_msc_isaac.py msc N 1`` with OMP_NUM_THREADS=2, 2026-11-22, the cores
shared with other jobs, load average 3.6-5):

    n        wall s   CPU s   peak RSS GB   NMI per view (5/3/2 clusters)   outer iterations
    3,000      69.9    68.5      0.44          0.33 / 0.75 / 0.42               20
    12,000    203.7   178.1      0.63          0.39 / 0.81 / 0.41               20
    60,000   1519.2   958.6      1.27          0.27 / 0.58 / 0.48               20

CPU grows sub-linearly (x5.4 from 12k to 60k for x5 n, the m = 250 landmark terms being
O(n m^2)); memory stays O(n m).  The 60k wall time above is inflated by the shared cores
(see ISAAC: barrier waits).  On the idle machine (17:26-17:32 UTC, load < 2) the same 60k
case took 347.0 s wall, 679.5 CPU-s, peak RSS 1.25 GB, identical NMI: the < 10 min and < 8 GB
targets hold.  mSC recovers
views only partly on this 16-d planted set (it does recover two views of the small planted
sets of tests/test_msc.py).
"""

from __future__ import annotations

import json
import os
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
import json, sys, time, warnings
import numpy as np
from generators.planted import make_planted
from benchmark.memory import peak_rss_mb
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
                      self_rss_gb=peak_rss_mb() * 2**20 / 1e9, **extra)))
""" % dict(k=N_CLUSTERS, dims=DIMS, noise=NOISE)  # noqa: UP031 - the script has its own braces


def run_case(method: str, n: int, n_init: int = 3) -> dict:
    """Fit one method on an n x 16 planted embedding in a subprocess; wall time, peak RSS, NMI."""
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "2")
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", _CHILD, method, str(n), str(n_init)], env=env,
                         capture_output=True, text=True, check=True)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["process_s"] = time.perf_counter() - t0
    # the child's own peak (benchmark.memory: VmHWM), not RUSAGE_CHILDREN, which also holds the peak
    # of this pytest process's address space inherited at the fork and of every earlier child
    res["peak_rss_gb"] = res["self_rss_gb"]
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


def _affinity(n: int):
    """D^-1/2 K D^-1/2 of a Gaussian kernel on n standard-normal points in 4 dims (seed 0)."""
    import numpy as np

    X = np.random.default_rng(0).standard_normal((n, 4))
    K = np.exp(-((X[:, None] - X[None]) ** 2).sum(-1) / 2)
    d = K.sum(1)
    return K / np.sqrt(d)[:, None] / np.sqrt(d)[None, :], np.sqrt(d)


@pytest.mark.benchmark
@pytest.mark.parametrize("solver", ["subset", "lanczos"])
@pytest.mark.parametrize("n", [900, 2_000, 4_000])
def test_bench_msc_eigensolvers(benchmark, solver, n):
    """Where baselines.msc.DENSE_EIGH_MAX_N sits: LAPACK's subset solver against Lanczos, top 5 of n x n."""
    import numpy as np
    from scipy.linalg import eigh
    from scipy.sparse.linalg import eigsh

    L, v0 = _affinity(n)
    if solver == "subset":
        U = benchmark(lambda: eigh(L, subset_by_index=[n - 5, n - 1])[1])
    else:
        U = benchmark(lambda: eigsh(L, k=5, which="LA", v0=v0)[1])
    w = np.linalg.eigvalsh(L)[-5:]
    np.testing.assert_allclose(np.sort(np.diag(U.T @ L @ U)), w, atol=1e-8)
