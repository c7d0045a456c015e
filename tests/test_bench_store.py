"""pytest-benchmark: the store's per-row cost (insert, skip-check), against the < 1 % overhead target.

A fit of the quick suite takes >= 1 s on 2 CPU cores, so the store stays under 1 % of
a suite's run time when one row (artefact + row, own fsynced transaction) costs
< 10 ms and the resume check of a whole suite is well under a second.
Run with ``tox -e bench`` (skipped in normal runs).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from benchmark.store import Store, params_hash

pytestmark = pytest.mark.benchmark

ROW = dict(suite="s", tier="quick", dataset="d", method="kmeans", label="k-means", params={"n_init": 1},
           run_seed=0, status="ok", loss=1.0, clusterings=["a", "b"], runtime_s=1.0, peak_mem_mb=1.0, device="cpu",
           metrics={"nmi": [0.5, 0.4], "ari": [0.1, 0.1], "ami": [0.2, 0.2], "vi": 1.2, "n_found": 2,
                    "n_cluster_dims": None}, deviations=["budget: quick"])


def test_bench_insert_row_with_artefact(benchmark, tmp_path):
    st = Store(tmp_path / "b.sqlite")
    counter = itertools.count()
    labels = np.random.default_rng(0).integers(0, 10, (2000, 2))

    def write():
        i = next(counter)
        key = ("s", "quick", "d", "kmeans", params_hash(ROW["params"]), i, 0)
        rel = st.write_artefact(key, {"labels": labels})
        st.put({**ROW, "ae_seed": i, "artefact": rel})

    benchmark.pedantic(write, rounds=200, iterations=1, warmup_rounds=5)
    assert st.count() == 205
    assert benchmark.stats.stats.mean < 0.010  # < 10 ms per result, i.e. < 1 % of a >= 1 s fit


def test_bench_resume_check_of_a_large_suite(benchmark, tmp_path):
    st = Store(tmp_path / "b.sqlite")
    for i in range(6200):  # the size of acedec-table1 at the paper tier
        st.put({**ROW, "ae_seed": i // 10, "run_seed": i % 10})
    keys = benchmark(st.done_keys, "s", "quick")
    assert len(keys) == 6200
    assert benchmark.stats.stats.mean < 0.5
    probe = benchmark.stats.stats.mean
    assert probe > 0
    assert st.is_done(("s", "quick", "d", "kmeans", params_hash(ROW["params"]), 3, 4))
