"""Resumable NrKmeans / SubKmeans starts (``fit(X, checkpoint=path)``) and ENRC's initialisation.

A stopped fit's snapshot holds the costs of the starts done and the best start so far.
Each case stops a fit after start ``k`` (the snapshot written there, as at a deferred
Ctrl-C), refits a fresh estimator with the same file, and requires the kept start,
its labels, V, costs and every start's cost to equal an uninterrupted fit's exactly.
"""

from __future__ import annotations

import os
import signal

import harness_fixtures as hf
import numpy as np
import pytest
import torch

import baselines.nrkmeans as nrk
from baselines.nrkmeans import NrKmeans, run_from_state, run_state
from baselines.subkmeans import SubKmeans
from benchmark.runner import fit_checkpoint_path, fit_has_snapshot
from methods.autoencoders import from_config
from methods.checkpoint import fit_key, init_checkpoint_path
from methods.enrc import ENRC
from methods.pretrain import resolve_arch

N_INIT = 8


@pytest.fixture(scope="module")
def X() -> np.ndarray:
    """Six blobs: a 3-cluster and a 2-cluster structure in different coordinates, plus noise dimensions."""
    rng = np.random.default_rng(0)
    return np.concatenate([rng.normal(size=(40, 5)) + [3 * i, 0, 3 * j, 0, 0] for i in range(3) for j in range(2)])


def _nr(**kw) -> NrKmeans:
    p = dict(n_clusters=[3, 2], n_init=N_INIT, random_state=3, progress=False)
    p.update(kw)
    return NrKmeans(**p)


def _stopped(fit, k: int) -> None:
    """Stop ``fit`` after NrKmeans start ``k``, its snapshot written (``harness_fixtures.stopped``)."""
    hf.stopped(fit, k, unit="start")


def _same_nrkmeans(a: NrKmeans, b: NrKmeans) -> None:
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.V_, b.V_)
    assert a.all_losses_ == b.all_losses_ and a.loss_ == b.loss_
    assert a.cost_history_ == b.cost_history_ and a.n_iter_ == b.n_iter_ and a.m_ == b.m_
    for ca, cb in zip(a.cluster_centers_, b.cluster_centers_):
        np.testing.assert_array_equal(ca, cb)


@pytest.mark.parametrize("k", [1, 4, N_INIT - 1, N_INIT])
def test_a_stopped_nrkmeans_fit_runs_only_the_remaining_starts(X, tmp_path, capsys, monkeypatch, k):
    ref = _nr().fit(X)
    assert ref.resumed_from_ == 0 and ref.resumed_elapsed_s_ == 0.0
    assert len(set(ref.all_losses_)) > 1  # the starts differ, so which one is kept matters
    path = tmp_path / "nr.pt"
    _stopped(lambda: _nr().fit(X, checkpoint=path), k)
    state = torch.load(path, weights_only=True)
    assert state["iteration"] == k and len(state["losses"]) == k
    assert state["losses"] == ref.all_losses_[:k]
    calls = []
    real = nrk.run_subspace_kmeans
    monkeypatch.setattr(nrk, "run_subspace_kmeans", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    got = _nr().fit(X, checkpoint=path)
    assert len(calls) == N_INIT - k  # the snapshot's starts are not run again
    assert got.resumed_from_ == k and got.resumed_elapsed_s_ > 0
    assert f"resuming the NrKmeans fit from its snapshot at start {k} of {N_INIT}" in capsys.readouterr().err
    _same_nrkmeans(ref, got)
    assert not path.exists()  # a finished fit leaves no snapshot


def test_a_stopped_subkmeans_fit_resumes_to_the_uninterrupted_result(X, tmp_path):
    ref = SubKmeans(3, n_init=6, random_state=5, progress=False).fit(X)
    path = tmp_path / "sub.pt"
    _stopped(lambda: SubKmeans(3, n_init=6, random_state=5, progress=False).fit(X, checkpoint=path), 2)
    got = SubKmeans(3, n_init=6, random_state=5, progress=False).fit(X, checkpoint=path)
    assert got.resumed_from_ == 2
    np.testing.assert_array_equal(ref.labels_, got.labels_)
    np.testing.assert_array_equal(ref.V_, got.V_)
    np.testing.assert_array_equal(ref.cluster_centers_, got.cluster_centers_)
    assert ref.all_losses_ == got.all_losses_ and ref.m_ == got.m_
    assert not path.exists()


def test_the_best_start_round_trips_through_the_snapshot_bit_for_bit(X, tmp_path):
    Xc, _, S_T = nrk.prepare(X)
    run = nrk.run_subspace_kmeans(Xc, S_T, [3, 2], False, np.random.default_rng(1), 50, 1e-10, 10)
    path = tmp_path / "run.pt"
    torch.save(run_state(run), path)
    back = run_from_state(torch.load(path, weights_only=True))  # plain tensors and Python values only
    np.testing.assert_array_equal(back.labels, run.labels)
    np.testing.assert_array_equal(back.V, run.V)
    assert back.labels.dtype == run.labels.dtype and back.V.dtype == np.float64
    assert set(back.centres) == set(run.centres) and set(back.factors) == set(run.factors)
    for j in run.centres:
        np.testing.assert_array_equal(back.centres[j], run.centres[j])
        np.testing.assert_array_equal(back.factors[j], run.factors[j])
    assert (back.m, back.subspaces, back.lost, back.cost, back.cost_history, back.n_iter, back.converged,
            back.n_reseeded) == (run.m, run.subspaces, run.lost, run.cost, run.cost_history, run.n_iter,
                                 run.converged, run.n_reseeded)


@pytest.mark.filterwarnings("ignore:.*tasks have been successfully executed.*but not used:UserWarning")
def test_starts_snapshotted_by_worker_processes_resume_serially_to_the_same_start(X, tmp_path):
    # (joblib warns that the starts its workers ran ahead of the stop are dropped: the rerun makes them again)
    ref = _nr().fit(X)
    path = tmp_path / "par.pt"
    _stopped(lambda: _nr(n_jobs=2).fit(X, checkpoint=path), 3)
    got = _nr().fit(X, checkpoint=path)  # n_jobs is not part of the fit's identity
    assert got.resumed_from_ == 3
    np.testing.assert_array_equal(ref.labels_, got.labels_)
    np.testing.assert_allclose(got.all_losses_, ref.all_losses_, rtol=1e-12)


def test_a_real_sigint_during_a_start_snapshots_it_and_stops(X, tmp_path, monkeypatch, sigint_raises):
    ref = _nr().fit(X)
    path = tmp_path / "sigint.pt"
    real = nrk.run_subspace_kmeans
    calls = []
    before = signal.getsignal(signal.SIGINT)

    def run(*a, **kw):
        calls.append(1)
        if len(calls) == 5:
            os.kill(os.getpid(), signal.SIGINT)  # arrives inside start 5; acts after it
        return real(*a, **kw)
    with monkeypatch.context() as m:
        m.setattr(nrk, "run_subspace_kmeans", run)
        with pytest.raises(KeyboardInterrupt, match="stopped after start 5"):
            _nr().fit(X, checkpoint=path)
    assert signal.getsignal(signal.SIGINT) is before
    assert torch.load(path, weights_only=True)["iteration"] == 5
    got = _nr().fit(X, checkpoint=path)
    assert got.resumed_from_ == 5
    _same_nrkmeans(ref, got)


def _failing_start(m: pytest.MonkeyPatch, n: int, exc: BaseException, sigint: bool = False) -> None:
    """Start ``n`` raises ``exc`` (after a real SIGINT to this process when ``sigint``)."""
    real = nrk.run_subspace_kmeans
    calls = []

    def run(*a, **kw):
        calls.append(1)
        if len(calls) == n:
            if sigint:
                os.kill(os.getpid(), signal.SIGINT)
            raise exc
        return real(*a, **kw)
    m.setattr(nrk, "run_subspace_kmeans", run)


def test_a_failing_start_keeps_the_finished_starts(X, tmp_path):
    ref = _nr().fit(X)
    path = tmp_path / "crash.pt"
    with pytest.MonkeyPatch.context() as m:
        _failing_start(m, 6, MemoryError("killed"))
        with pytest.raises(MemoryError):
            _nr().fit(X, checkpoint=path)  # every_s = 300: no periodic snapshot was due
    assert torch.load(path, weights_only=True)["iteration"] == 5
    got = _nr().fit(X, checkpoint=path)
    assert got.resumed_from_ == 5
    _same_nrkmeans(ref, got)


def test_workers_killed_by_the_same_ctrl_c_still_leave_the_snapshot(X, tmp_path, sigint_raises):
    # with n_jobs the terminal's Ctrl-C also reaches joblib's workers, and the parent sees their failure
    # before the deferred signal could act after a start: it is acted on there, after the snapshot
    ref = _nr().fit(X)
    path = tmp_path / "workers.pt"
    before = signal.getsignal(signal.SIGINT)
    with pytest.MonkeyPatch.context() as m:
        _failing_start(m, 4, RuntimeError("a worker process died"), sigint=True)
        with pytest.raises(KeyboardInterrupt, match="stopped after start 3"):
            _nr().fit(X, checkpoint=path)
    assert signal.getsignal(signal.SIGINT) is before
    assert torch.load(path, weights_only=True)["iteration"] == 3
    _same_nrkmeans(ref, _nr().fit(X, checkpoint=path))


def test_a_ctrl_c_that_kills_the_first_start_is_a_keyboard_interrupt_without_a_snapshot(X, tmp_path,
                                                                                        sigint_raises):
    path = tmp_path / "first.pt"
    with pytest.MonkeyPatch.context() as m:
        _failing_start(m, 1, RuntimeError("a worker process died"), sigint=True)
        with pytest.raises(KeyboardInterrupt, match="stopped before its first start ended"):
            _nr().fit(X, checkpoint=path)
    assert not path.exists()


def test_a_snapshot_of_another_fit_is_ignored_with_a_warning(X, tmp_path):
    path = tmp_path / "other.pt"
    _stopped(lambda: _nr(random_state=4).fit(X, checkpoint=path), 2)
    ref = _nr().fit(X)
    with pytest.warns(RuntimeWarning, match="belongs to another run"):
        got = _nr().fit(X, checkpoint=path)
    assert got.resumed_from_ == 0
    _same_nrkmeans(ref, got)
    _stopped(lambda: _nr().fit(X, checkpoint=path), 2)
    with pytest.warns(RuntimeWarning, match="belongs to another run"):  # same estimator, other data
        _nr().fit(X[::-1], checkpoint=path)


def test_a_generator_random_state_keys_the_fit_by_its_state(X, tmp_path):
    a, b = _nr(random_state=np.random.default_rng(7)), _nr(random_state=np.random.default_rng(7))
    assert fit_key(a, X) == fit_key(b, X)  # its repr names an address; its state is what the fit draws from
    assert fit_key(a, X) != fit_key(_nr(random_state=np.random.default_rng(8)), X)
    advanced = np.random.default_rng(7)
    advanced.random()
    assert fit_key(a, X) != fit_key(_nr(random_state=advanced), X)
    ref = _nr(random_state=np.random.default_rng(7)).fit(X)
    path = tmp_path / "gen.pt"
    _stopped(lambda: _nr(random_state=np.random.default_rng(7)).fit(X, checkpoint=path), 3)
    got = _nr(random_state=np.random.default_rng(7)).fit(X, checkpoint=path)
    assert got.resumed_from_ == 3
    _same_nrkmeans(ref, got)


def test_a_negative_snapshot_interval_is_refused(X, tmp_path):
    with pytest.raises(ValueError, match="checkpoint interval"):
        _nr().fit(X, checkpoint=tmp_path / "x.pt", checkpoint_every=-1)


# --------------------------------------------------------------------------- ENRC's initialisation


@pytest.fixture(scope="module")
def Xf() -> np.ndarray:
    rng = np.random.default_rng(0)
    means = [np.r_[3 * i, 3 * j, 0, 0, 0, 0] for i in range(3) for j in range(2)]
    return np.concatenate([rng.normal(size=(50, 6)) + m for m in means]).astype(np.float32)


@pytest.fixture(scope="module")
def ae(Xf):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return from_config(resolve_arch({"arch": "feedforward", "hidden": [8], "embedding_dim": 4}, Xf.shape[1:]))


def _enrc(ae) -> ENRC:
    return ENRC([3, 2], ae, max_iter=30, batch_size=16, lr_step=15, init_rounds=6, reinit_sample=30,
                random_state=1, progress=False)


def test_an_enrc_fit_stopped_in_its_initialisation_runs_only_the_remaining_starts(Xf, ae, tmp_path, capsys,
                                                                                 monkeypatch):
    ref = _enrc(ae).fit(Xf)
    path = tmp_path / "fit-abc.partial.pt"
    init_path = init_checkpoint_path(path)
    assert init_path.name == "fit-abc.init.partial.pt"
    _stopped(lambda: _enrc(ae).fit(Xf, checkpoint=path), 4)
    assert init_path.exists() and not path.exists()  # the fit's own snapshot is written after the init
    calls = []
    real = nrk.run_subspace_kmeans
    monkeypatch.setattr(nrk, "run_subspace_kmeans", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    got = _enrc(ae).fit(Xf, checkpoint=path)
    assert len(calls) == 6 - 4
    assert "resuming the NrKmeans fit from its snapshot at start 4 of 6" in capsys.readouterr().err
    assert got.resumed_from_ == 0 and got.resumed_elapsed_s_ > 0  # the stopped run's starts count in its time
    np.testing.assert_array_equal(ref.init_losses_, got.init_losses_)
    np.testing.assert_array_equal(ref.labels_init_, got.labels_init_)
    np.testing.assert_array_equal(ref.labels_, got.labels_)
    np.testing.assert_array_equal(ref.V_, got.V_)
    assert ref.loss_ == got.loss_
    assert not path.exists() and not init_path.exists()


def test_init_snapshot_names_sit_beside_the_fit_and_count_as_its_snapshot(tmp_path, monkeypatch):
    assert init_checkpoint_path(tmp_path / "enrc.pt") == tmp_path / "enrc.init.pt"
    monkeypatch.setenv("NRBENCH_HOME", str(tmp_path))
    key = ("enrc-table1", "quick", "ENRC", "stickfigures", 0, 0)
    assert not fit_has_snapshot(key)
    p = init_checkpoint_path(fit_checkpoint_path(key))
    p.parent.mkdir(parents=True)
    p.write_bytes(b"x")
    assert fit_has_snapshot(key)  # `nrbench run --dry-run` counts it among the fits that resume


_CTRL_C_CHILD = """
import signal, sys
import numpy as np
signal.signal(signal.SIGINT, signal.default_int_handler)  # a shell's background jobs inherit SIG_IGN
from baselines.nrkmeans import NrKmeans
X = np.random.default_rng(0).normal(size=(3000, 8))
try:
    NrKmeans([4, 3], n_init=60, max_iter=40, random_state=0, progress=False, n_jobs=2).fit(
        X, checkpoint=sys.argv[1], checkpoint_every=0)
except KeyboardInterrupt as exc:
    print("KeyboardInterrupt:", exc)
"""


def test_ctrl_c_to_the_process_group_of_a_parallel_fit_leaves_a_resumable_snapshot(tmp_path):
    """The real case: the terminal's Ctrl-C reaches the parent and joblib's worker processes."""
    import subprocess
    import sys
    import time
    import warnings

    path = tmp_path / "group.pt"
    proc = subprocess.Popen([sys.executable, "-c", _CTRL_C_CHILD, str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    deadline = time.monotonic() + 120
    while not path.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert path.exists(), proc.communicate()[0]
    os.killpg(proc.pid, signal.SIGINT)
    out = proc.communicate(timeout=120)[0]
    assert "KeyboardInterrupt: the NrKmeans fit stopped after start" in out, out
    done = torch.load(path, weights_only=True)["iteration"]
    assert 1 <= done < 60
    Xg = np.random.default_rng(0).normal(size=(3000, 8))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kw = dict(n_clusters=[4, 3], n_init=60, max_iter=40, random_state=0, progress=False)
        ref = NrKmeans(**kw).fit(Xg)
        got = NrKmeans(**kw, n_jobs=2).fit(Xg, checkpoint=path)
    assert got.resumed_from_ == done
    np.testing.assert_array_equal(ref.labels_, got.labels_)
    np.testing.assert_allclose(got.all_losses_, ref.all_losses_, rtol=1e-12)
