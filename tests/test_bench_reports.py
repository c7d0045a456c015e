"""Speed target: `nrbench report` on a store of 10,000 rows takes under 5 s (tox -e bench)."""

from __future__ import annotations

import pytest

from benchmark.cli import main
from reports.source import load_runs
from reports.synthetic import synthetic_rows, synthetic_store

N_ROWS = 10_000
TARGET_S = 5.0


@pytest.fixture(scope="module")
def big_store(tmp_path_factory):
    return str(synthetic_store(tmp_path_factory.mktemp("bench") / "big.sqlite", N_ROWS))


def test_synthetic_rows_count():
    assert len(synthetic_rows(N_ROWS)) == N_ROWS


@pytest.mark.benchmark
def test_report_10k_rows_under_5s(benchmark, big_store, tmp_path, capsys):
    assert len(load_runs(big_store)) == N_ROWS

    def run() -> int:
        return main(["report", "--store", big_store, "--format", "latex", "--out", str(tmp_path)])

    rc = benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)
    assert rc == 0
    assert (tmp_path / "tables.tex").is_file()
    assert benchmark.stats.stats.mean < TARGET_S, f"nrbench report took {benchmark.stats.stats.mean:.2f} s"
