"""Resume after SIGKILL: a real `nrbench run` subprocess is killed mid-suite and restarted; nothing lost or duplicated."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import harness_fixtures as hf

TESTS = Path(__file__).resolve().parent
SCRIPT = "import sys, harness_fixtures as hf; hf.register(); from benchmark.cli import main; sys.exit(main(sys.argv[1:]))"
N_AE, RUNS = 2, 5


def _cmd(suite: Path, store: Path) -> list[str]:
    return [sys.executable, "-c", SCRIPT, "--quiet", "run", str(suite), "--store", str(store)]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def _ok_rows(store: Path) -> int:
    if not store.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute("SELECT COUNT(*) FROM runs WHERE status='ok'").fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:
        return 0


def _rows(store: Path) -> list[tuple]:
    con = sqlite3.connect(store)
    rows = con.execute("SELECT dataset, method, params_hash, ae_seed, run_seed, status, loss, metrics, artefact "
                       "FROM runs ORDER BY ae_seed, run_seed").fetchall()
    con.close()
    return rows


def test_sigkill_then_restart_finishes_with_no_lost_or_duplicated_rows(tmp_path):
    suite = hf.write_suite(tmp_path / "resume.toml", "[methods.slow-kmeans]\nparams = { delay = 0.4 }",
                           n_ae=N_AE, runs=RUNS)
    store = tmp_path / "killed.sqlite"
    proc = subprocess.Popen(_cmd(suite, store), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while _ok_rows(store) < 3 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = _ok_rows(store)
    assert 3 <= done_before < N_AE * RUNS

    res = subprocess.run(_cmd(suite, store), env=_env(), capture_output=True, text=True, timeout=300,
                         check=False)
    assert res.returncode == 0, res.stderr
    assert f"{done_before} already done" in res.stdout
    rows = _rows(store)
    keys = [r[:5] for r in rows]
    assert len(rows) == N_AE * RUNS and len(set(keys)) == len(keys)
    assert all(r[5] == "ok" for r in rows)
    for r in rows:  # every row's artefact was written before the row and is readable
        assert (store.parent / r[8]).is_file()

    # the killed-and-resumed store equals an uninterrupted run (same seeds, same results), run in-process
    from threadpoolctl import threadpool_limits

    from benchmark.executors import LocalExecutor
    from benchmark.runner import run_suite
    from benchmark.store import Store
    from benchmark.suites import resolve

    hf.register()
    clean = tmp_path / "clean.sqlite"
    # with the children's thread count: k-means' float32 inertia depends on its OpenMP reduction order
    with Store(clean) as st, threadpool_limits(int(_env()["OMP_NUM_THREADS"])):
        run_suite(resolve(suite, "quick"), st, LocalExecutor(0), progress=False, log=lambda m: None)
    assert [r[:8] for r in _rows(clean)] == [r[:8] for r in rows]
