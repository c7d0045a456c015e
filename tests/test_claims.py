"""Work claiming: concurrent runs of one suite on one store compute each fit once, and a dead run blocks nothing.

Fits are counted where they are computed (``counted-kmeans`` appends a line per fit to a file),
not from the runs' own summaries.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import harness_fixtures as hf
import pytest

from benchmark.claims import Owner, RunClaims
from benchmark.executors import DaskExecutor, LocalExecutor
from benchmark.protocol import build_tasks
from benchmark.runner import run_suite
from benchmark.store import KEY_COLUMNS, SCHEMA_VERSION, Store
from benchmark.suites import resolve

TESTS = Path(__file__).resolve().parent
#: `nrbench` that imports everything first, then marks itself ready in the folder argv[1] and waits until
#: argv[2] runs are, so that the runs really start together (not one done before the other imported torch).
SCRIPT = """
import os, sys, time
from pathlib import Path
import harness_fixtures as hf
hf.register()
from benchmark.cli import main
ready, n = Path(sys.argv.pop(1)), int(sys.argv.pop(1))
(ready / str(os.getpid())).touch()
while len(list(ready.iterdir())) < n:
    time.sleep(0.01)
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture(autouse=True)
def _fixtures():
    hf.register()


def _suite(tmp_path: Path, n_ae: int = 2, runs: int = 3, delay: float = 0.0, name: str = "claims") -> tuple:
    log = tmp_path / "fits.log"
    path = hf.write_suite(tmp_path / f"{name}.toml",
                          f'[methods.counted-kmeans]\nparams = {{ delay = {delay}, log = "{log}" }}',
                          n_ae=n_ae, runs=runs)
    return resolve(path, "quick"), log


def _computed(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def _claims(path: Path) -> list[tuple]:
    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT * FROM claims ORDER BY run_seed").fetchall()
    finally:
        con.close()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _other(host: str | None = None, pid: int | None = None) -> Owner:
    """Another run's owner: by default on another host, so only its lease can end its claims."""
    return Owner(host or "another-host.example", pid or 1, "other-token")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    env.setdefault("OMP_NUM_THREADS", "1")
    env["NRBENCH_CLAIM_LEASE_S"] = "5"
    return env


def _put(path: Path, row: dict, owner: Owner) -> None:
    with Store(path) as st:
        st.put(row, owner=owner)


# --------------------------------------------------------------------------- the store's claims
def test_a_claim_is_exclusive_renewable_and_released_with_its_row(tmp_path):
    suite, _ = _suite(tmp_path)
    key = build_tasks(suite)[1][0].key
    me, other = Owner.current(), _other()
    with Store(tmp_path / "r.sqlite") as st:
        assert st.claim(key, other, lease_s=60).outcome == "claimed"
        res = st.claim(key, me, lease_s=60)
        assert (res.outcome, res.holder) == ("held", other)
        assert st.claim(key, other, lease_s=60).outcome == "claimed"  # its own claim: renewed
        assert [c.owner for c in st.live_claims()] == [other]
        row = dict(zip(KEY_COLUMNS, key),
                   label="x", params={}, status="error", error="boom")
        st.put(row, owner=other)  # the error row is written and the claim dropped in one transaction
        assert st.live_claims() == [] and st.count(status="error") == 1


def test_stale_claims_are_taken_over_live_ones_are_not(tmp_path):
    suite, _ = _suite(tmp_path)
    k0, k1, k2 = (f.key for f in build_tasks(suite)[1][:3])
    here = socket.gethostname()
    me = Owner.current()
    with Store(tmp_path / "r.sqlite") as st:
        # a run killed on this host (kill -9): its pid is gone, so its claim is taken over at once
        assert st.claim(k0, Owner(here, _dead_pid(), "killed"), lease_s=3600).outcome == "claimed"
        assert st.claim(k0, me, lease_s=60).outcome == "claimed"
        # a run on another host whose lease ran out (node lost): taken over
        assert st.claim(k1, _other(), lease_s=-1).outcome == "claimed"
        assert st.claim(k1, me, lease_s=60).outcome == "claimed"
        # a live run of this host (this very test process, another token), and one elsewhere within its lease
        assert st.claim(k2, Owner(here, os.getpid(), "alive"), lease_s=3600).outcome == "claimed"
        assert st.claim(k2, me, lease_s=60).outcome == "held"
        assert {c.key: c.owner.token for c in st.live_claims()} == {k0: me.token, k1: me.token, k2: "alive"}


def test_an_error_row_of_a_concurrent_run_is_not_retried_but_an_older_one_is(tmp_path):
    suite, _ = _suite(tmp_path)
    key = build_tasks(suite)[1][0].key
    row = dict(zip(KEY_COLUMNS, key),
               label="x", params={}, status="error", error="boom", timestamp="2000-01-01T00:00:00+00:00")
    with Store(tmp_path / "r.sqlite") as st:
        st.put(row)  # a failure of an earlier run: this run retries it
        assert st.claim(key, Owner.current(), lease_s=60, since=time.time()).outcome == "claimed"
        st.release_claims(Owner.current())
        since = time.time()
        st.put({**row, "timestamp": None}, owner=Owner.current())  # failed in a concurrent run, just now
        res = st.claim(key, Owner.current(), lease_s=60, since=since)
        assert (res.outcome, res.status, res.error) == ("done", "error", "boom")


def test_a_store_from_before_claims_opens_and_keeps_its_rows(tmp_path):
    path = tmp_path / "old.sqlite"
    suite, _ = _suite(tmp_path, n_ae=1, runs=2)
    with Store(path) as st:
        run_suite(suite, st, LocalExecutor(0), progress=False, log=lambda m: None)
    con = sqlite3.connect(path)
    con.execute("DROP TABLE claims")  # as written by the nrbench before this table
    con.commit()
    con.close()
    with Store(path) as st:
        assert st.count(status="ok") == 2 and st.live_claims() == []
        assert st._con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == SCHEMA_VERSION
        summary = run_suite(suite, st, LocalExecutor(0), progress=False, log=lambda m: None)
        assert (summary.already_done, summary.ok) == (2, 0)


def test_the_heartbeat_renews_a_running_fits_lease(tmp_path):
    suite, _ = _suite(tmp_path)
    key = build_tasks(suite)[1][0].key
    with Store(tmp_path / "r.sqlite") as st, RunClaims(st, lease_s=0.5) as claims:
        assert claims.claim(key).outcome == "claimed"
        first = st.live_claims()[0].expires_at
        deadline = time.time() + 30
        while st.live_claims()[0].expires_at == first and time.time() < deadline:
            time.sleep(0.05)
        assert st.live_claims()[0].expires_at > first
    with Store(tmp_path / "r.sqlite") as st:
        assert st.live_claims() == []  # released when the run ended


# --------------------------------------------------------------------------- runs
def test_two_real_runs_on_one_store_compute_each_fit_once(tmp_path):
    suite, log = _suite(tmp_path, n_ae=2, runs=4, delay=0.3)
    store = tmp_path / "shared.sqlite"
    n_fits = len(build_tasks(suite)[1])
    ready = tmp_path / "ready"
    ready.mkdir()
    cmd = [sys.executable, "-c", SCRIPT, str(ready), "2", "--quiet", "run", str(tmp_path / "claims.toml"),
           "--store", str(store)]
    procs = [subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e for _, e in outs]
    computed = _computed(log)
    assert len(computed) == n_fits  # not 2 * n_fits
    assert len({line.split()[0] for line in computed}) == 2  # and both runs did a share
    with Store(store) as st:
        assert st.count(status="ok") == n_fits and st.live_claims() == []
    for out, _ in outs:  # each run's summary counts its own fits as ok and the others' as another run's
        line = next(x for x in out.splitlines() if x.startswith("nrbench run:"))
        ok = int(line.split("nrbench run: ")[1].split(" ok")[0])
        other = int(line.split(", ")[4].split(" stored by another run")[0]) if "another run" in line else 0
        assert ok + other == n_fits and ok > 0, line


def _other_run_stores(path: Path, task, owner: Owner, said: list[str], status: str = "ok"):
    """A ``log`` for run_suite: once the run says it waits, the other run stores its fit (row + release)."""
    row = dict(zip(KEY_COLUMNS, task.key), label="other run", params=task.params, status=status, loss=1.0,
               error="boom" if status == "error" else None)

    def log(msg: str) -> None:
        said.append(msg)
        if "waiting for" in msg:
            _put(path, row, owner)
    return log


def test_a_run_leaves_a_fit_claimed_by_a_live_run_to_it_and_waits_for_its_row(tmp_path):
    suite, log = _suite(tmp_path, n_ae=1, runs=3)
    tasks = build_tasks(suite)[1]
    path = tmp_path / "r.sqlite"
    other = _other()
    said: list[str] = []
    with Store(path) as st:
        st.claim(tasks[1].key, other, lease_s=3600)
        summary = run_suite(suite, st, LocalExecutor(0), progress=False, lease_s=1.0,
                            log=_other_run_stores(path, tasks[1], other, said))
        assert (summary.ok, summary.by_other_run, summary.errors) == (2, 1, 0)
        assert st.count(status="ok") == 3 and st.live_claims() == []
    assert len(_computed(log)) == 2
    assert said == ["claims [quick]: waiting for 1 fit being computed by another run (pid 1 on host "
                    "another-host.example (1 fit)); Ctrl-C stops waiting and keeps every stored fit"]


def test_a_failure_in_the_other_run_is_reported_as_its_and_not_retried(tmp_path):
    suite, log = _suite(tmp_path, n_ae=1, runs=2)
    tasks = build_tasks(suite)[1]
    path = tmp_path / "r.sqlite"
    other = _other()
    with Store(path) as st:
        st.claim(tasks[0].key, other, lease_s=3600)
        summary = run_suite(suite, st, LocalExecutor(0), progress=False, lease_s=1.0,
                            log=_other_run_stores(path, tasks[0], other, [], status="error"))
        assert (summary.ok, summary.errors, summary.by_other_run) == (1, 0, 1)
        assert summary.other_failures == [(tasks[0].describe(), "boom")]
    assert len(_computed(log)) == 1


def test_a_waiting_run_takes_over_the_fits_of_a_run_killed_meanwhile(tmp_path):
    suite, fits_log = _suite(tmp_path, n_ae=1, runs=3)
    tasks = build_tasks(suite)[1]
    path = tmp_path / "r.sqlite"
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])  # the other run's process
    said: list[str] = []

    def log(msg: str) -> None:  # once this run waits for it, the other run is killed (kill -9)
        said.append(msg)
        if "waiting for" in msg:
            victim.kill()
            victim.wait()

    try:
        with Store(path) as st:
            st.claim(tasks[0].key, Owner(socket.gethostname(), victim.pid, "victim"), lease_s=3600)
            summary = run_suite(suite, st, LocalExecutor(0), progress=False, log=log, lease_s=1.0)
            assert (summary.ok, summary.by_other_run) == (3, 0)
            assert st.count(status="ok") == 3 and st.live_claims() == []
    finally:
        victim.kill()
        victim.wait()
    assert len(_computed(fits_log)) == 3  # its fit was computed here, once
    assert len(said) == 1 and f"pid {victim.pid} on host" in said[0]


def test_claims_are_released_after_error_rows_and_after_ctrl_c(tmp_path):
    path = tmp_path / "r.sqlite"
    failing = resolve(hf.write_suite(tmp_path / "fail.toml", "[methods.fail]", n_ae=1, runs=2), "quick")
    with Store(path) as st:
        summary = run_suite(failing, st, LocalExecutor(0), progress=False, log=lambda m: None)
        assert summary.errors == 2 and st.live_claims() == [] and _claims(path) == []
    interrupted = resolve(hf.write_suite(tmp_path / "ctrlc.toml", "[methods.interrupt]", n_ae=1, runs=2), "quick")
    with Store(path) as st:
        with pytest.raises(KeyboardInterrupt):
            run_suite(interrupted, st, LocalExecutor(0), progress=False, log=lambda m: None)
        assert _claims(path) == []  # the next run does not wait for this one


#: Real components only (a spawned pool worker knows nothing registered by the tests), with autoencoders.
POOL_SUITE = """
[datasets.synth]
params = { n = 300, k = 2, seed = 0 }
preprocessing = ["zscore"]
autoencoder = { arch = "linear", budget = { iterations = 60, finetune_iterations = 20, batch_size = 100 } }
"""
POOL_METHODS = "[methods.kmeans]\nparams = { n_init = 1 }\n[methods.ae-kmeans]\n"


@pytest.mark.parametrize("executor", ["pool", "dask"])
def test_pool_and_dask_runs_claim_in_the_client_and_skip_a_held_fit(tmp_path, executor):
    import distributed  # noqa: F401 - before dask.config is touched (see tests/test_executors.py)

    suite = resolve(hf.write_suite(tmp_path / "claims.toml", POOL_METHODS, POOL_SUITE, n_ae=2, runs=2), "quick")
    tasks = build_tasks(suite)[1]
    held = next(f for f in tasks if f.pretrain_key is not None)
    path = tmp_path / "r.sqlite"
    other = _other()
    said: list[str] = []
    with Store(path) as st:
        st.claim(held.key, other, lease_s=3600)
        kw = dict(progress=False, lease_s=1.0, log=_other_run_stores(path, held, other, said))
        if executor == "pool":
            summary = run_suite(suite, st, LocalExecutor(2), **kw)
        else:
            with DaskExecutor(n_workers=2, processes=False) as ex:
                summary = run_suite(suite, st, ex, **kw)
        assert (summary.ok, summary.by_other_run, summary.errors) == (len(tasks) - 1, 1, 0)
        assert st.count(status="ok") == len(tasks) and _claims(path) == []
        # the held fit was not computed here: its row is the other run's, stored after this run began to wait
        assert [r["loss"] for r in st.rows() if r["label"] == "other run"] == [1.0]
        ours = [(r["method"], r["ae_seed"], r["run_seed"], r["loss"]) for r in st.rows() if r["label"] != "other run"]
    assert any("waiting for 1 fit" in m for m in said)
    with Store(tmp_path / "inline.sqlite") as st:  # every other fit ran as in an in-process run
        run_suite(suite, st, LocalExecutor(0), progress=False, log=lambda m: None)
        inline = [(r["method"], r["ae_seed"], r["run_seed"], r["loss"]) for r in st.rows()
                  if tuple(r[c] for c in KEY_COLUMNS) != held.key]
    # the same fits with the same seeds; float32 sums differ in the last digits with the workers' thread counts
    assert [r[:3] for r in ours] == [r[:3] for r in inline]
    assert [r[3] for r in ours] == pytest.approx([r[3] for r in inline], rel=1e-5)


# --------------------------------------------------------------------------- read-only consumers
def test_dry_run_and_report_read_claims_and_create_none(tmp_path, capsys):
    from benchmark.cli import main

    suite, _ = _suite(tmp_path, n_ae=1, runs=2)
    path = tmp_path / "r.sqlite"
    with Store(path) as st:
        run_suite(resolve(hf.write_suite(tmp_path / "other.toml", "[methods.kmeans]", n_ae=1, runs=1), "quick"),
                  st, LocalExecutor(0), progress=False, log=lambda m: None)
        st.claim(build_tasks(suite)[1][0].key, _other(), lease_s=3600)
    before = _claims(path)
    assert main(["run", str(tmp_path / "claims.toml"), "--store", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "2 fits (0 done, 1 being computed by another run (pid 1 on host another-host.example))" in out
    assert main(["report", "--store", str(path)]) in (0, 1)
    assert _claims(path) == before


def test_sigterm_stops_a_run_as_ctrl_c_does_and_releases_its_claims(tmp_path):
    """A scheduler's SIGTERM (scancel, a time limit): exit 143, the summary of what is kept, no claim left."""
    _, log = _suite(tmp_path, n_ae=1, runs=40, delay=0.2)
    store = tmp_path / "term.sqlite"
    ready = tmp_path / "ready"
    ready.mkdir()
    cmd = [sys.executable, "-c", SCRIPT, str(ready), "1", "--quiet", "run", str(tmp_path / "claims.toml"),
           "--store", str(store)]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while len(_computed(log)) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    proc.terminate()  # SIGTERM
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "nrbench run: terminated (SIGTERM). Every finished fit is kept" in err  # not "interrupted": no Ctrl-C
    assert "interrupted" not in err
    assert err.rstrip().endswith("nrbench: terminated (SIGTERM)")
    assert _claims(store) == []  # released: another run need not wait for the lease
    with Store(store) as st:  # a fit is logged when computed, before its row is stored: the last may be lost
        assert len(_computed(log)) - 1 <= st.count(status="ok") < 40


def test_no_wait_leaves_a_fit_claimed_by_a_live_run_to_it_and_ends(tmp_path):
    suite, log = _suite(tmp_path, n_ae=1, runs=3)
    tasks = build_tasks(suite)[1]
    path = tmp_path / "r.sqlite"
    other = _other()
    said: list[str] = []
    with Store(path) as st:
        st.claim(tasks[1].key, other, lease_s=3600)
        summary = run_suite(suite, st, LocalExecutor(0), progress=False, lease_s=1.0, wait=False,
                            log=said.append)
        assert (summary.ok, summary.by_other_run, summary.left_to_other_run, summary.errors) == (2, 0, 1, 0)
        assert st.count(status="ok") == 2
        assert [c.key for c in st.live_claims()] == [tasks[1].key]  # the other run's, untouched
    assert len(_computed(log)) == 2
    assert said == ["claims [quick]: not waiting (--no-wait) for 1 fit being computed by another run "
                    "(pid 1 on host another-host.example (1 fit))"]


def test_no_wait_on_the_command_line_says_what_it_left(tmp_path, capsys):
    from benchmark.cli import main

    suite, log = _suite(tmp_path, n_ae=1, runs=2)
    tasks = build_tasks(suite)[1]
    path = tmp_path / "r.sqlite"
    with Store(path) as st:
        st.claim(tasks[0].key, _other(), lease_s=3600)
    assert main(["run", str(tmp_path / "claims.toml"), "--store", str(path), "--no-wait"]) == 0
    out, err = capsys.readouterr()
    assert "1 ok, 0 failed, 0 skipped, 0 already done, 1 left to another run (--no-wait: not stored yet)" in out
    assert "not waiting (--no-wait) for 1 fit" in err
    assert len(_computed(log)) == 1
