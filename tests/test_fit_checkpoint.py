"""Resumable ENRC and ACe/DeC fits (``fit(X, checkpoint=path)``): a stopped fit resumes to the same result.

Each case stops a fit after joint-phase iteration ``k`` (the snapshot is written there, as at a
deferred Ctrl-C), refits a fresh estimator with the same file, and compares labels, V, beta, the
centres, the loss and the reinitialisation events with an uninterrupted fit, exactly (CPU).  The
stop points cover: right after the initialisation, before and after the step at ``lr_step`` (alpha
halved, learning rates decayed), after a lost-centre reinitialisation, inside ``tol``'s epoch
comparison, and after the last iteration; ACe/DeC also with augmentation (its own generator).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import harness_fixtures as hf
import numpy as np
import pytest
import torch

from benchmark import method_registry as mr
from benchmark.executors import LocalExecutor
from benchmark.runner import fit_checkpoint_path, run_suite
from benchmark.store import Store
from benchmark.suites import resolve
from methods.acedec import ACeDeC
from methods.augment import Augmenter
from methods.autoencoders import from_config
from methods.base import DivergedError
from methods.dcn import DCN
from methods.dec import DEC, IDEC
from methods.enrc import ENRC
from methods.layer_estimator import LayerClusteringEstimator
from methods.pretrain import resolve_arch


def _blobs(n_per: int = 50) -> np.ndarray:
    rng = np.random.default_rng(0)
    means = [np.r_[3 * i, 3 * j, 0, 0, 0, 0] for i in range(3) for j in range(2)]
    return np.concatenate([rng.normal(size=(n_per, 6)) + m for m in means]).astype(np.float32)


@pytest.fixture(scope="module")
def X() -> np.ndarray:
    return _blobs()


@pytest.fixture(scope="module")
def ae(X):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return from_config(resolve_arch({"arch": "feedforward", "hidden": [8], "embedding_dim": 4}, X.shape[1:]))


def _enrc(ae, **kw) -> ENRC:
    p = dict(n_clusters=[3, 2], max_iter=40, batch_size=16, lr_step=20, init_rounds=2, reinit_sample=30,
             random_state=1, progress=False)
    p.update(kw)
    return ENRC(autoencoder=ae, **p)


def _acedec(ae, aug: bool = False, **kw) -> ACeDeC:
    p = dict(n_clusters=6, max_iter=40, batch_size=16, lr_step=20, random_state=1, progress=False,
             augmentation=Augmenter(rotation=0, shift=0, zoom=0.3, lighting=0.2, seed=4, image_shape=(2, 3))
             if aug else None)
    p.update(kw)
    return ACeDeC(autoencoder=ae, **p)


def _stopped(fit, k: int) -> None:
    """Stop ``fit`` after joint-phase iteration ``k``, its snapshot written (``harness_fixtures.stopped``).

    ENRC's initialisation (NrKmeans starts, counted in starts: ``tests/test_starts_checkpoint.py``) goes on.
    """
    hf.stopped(fit, k, unit="iteration")


def _same_fit(a: LayerClusteringEstimator, b: LayerClusteringEstimator) -> None:
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.V_, b.V_)
    np.testing.assert_array_equal(a.betas_, b.betas_)
    for ca, cb in zip(a.cluster_centers_, b.cluster_centers_):
        np.testing.assert_array_equal(ca, cb)
    assert a.loss_ == b.loss_ and a.n_iter_ == b.n_iter_ and a.reinit_events_ == b.reinit_events_
    np.testing.assert_array_equal(a.labels_init_, b.labels_init_)
    np.testing.assert_array_equal(a.betas_init_, b.betas_init_)
    assert a.loss_terms_start_ == b.loss_terms_start_
    np.testing.assert_array_equal(a.init_losses_, b.init_losses_)
    sa, sb = a.autoencoder_.state_dict(), b.autoencoder_.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("k", [1, 19, 20, 21, 33, 40])
def test_a_stopped_enrc_fit_resumes_to_the_uninterrupted_result(X, ae, tmp_path, capsys, k):
    ref = _enrc(ae).fit(X)
    assert ref.resumed_from_ == 0
    path = tmp_path / "enrc.pt"
    _stopped(lambda: _enrc(ae).fit(X, checkpoint=path), k)
    assert path.exists()
    assert torch.load(path, weights_only=True)["iteration"] == k
    got = _enrc(ae).fit(X, checkpoint=path)
    assert got.resumed_from_ == k and got.resumed_elapsed_s_ > 0
    assert f"resuming the ENRC fit from its snapshot at iteration {k} of 40" in capsys.readouterr().err
    _same_fit(ref, got)
    assert not path.exists()  # a finished fit leaves no snapshot


def test_the_stop_points_fall_around_the_lr_step_and_a_reinitialisation(X, ae):
    events = [e[0] for e in _enrc(ae).fit(X).reinit_events_]
    assert any(21 < it <= 33 for it in events), events  # stops 1-21 come before it, 33 and 40 after


@pytest.mark.parametrize("aug", [False, True])
@pytest.mark.parametrize("k", [7, 26])
def test_a_stopped_acedec_fit_resumes_to_the_uninterrupted_result(X, ae, tmp_path, k, aug):
    ref = _acedec(ae, aug).fit(X)
    path = tmp_path / "acedec.pt"
    _stopped(lambda: _acedec(ae, aug).fit(X, checkpoint=path), k)
    got = _acedec(ae, aug).fit(X, checkpoint=path)
    assert got.resumed_from_ == k
    _same_fit(ref, got)
    assert got.n_cluster_dims_ == ref.n_cluster_dims_
    np.testing.assert_array_equal(got.shared_center_, ref.shared_center_)


@pytest.mark.parametrize("k", [12])
def test_tol_early_stopping_resumes_with_its_previous_epoch_labels(X, ae, tmp_path, k):
    ref = _enrc(ae, tol=0.5, max_iter=200).fit(X)
    assert ref.converged_ and k < ref.n_iter_ < 200  # stopped by tol, after the stop point
    path = tmp_path / "tol.pt"
    _stopped(lambda: _enrc(ae, tol=0.5, max_iter=200).fit(X, checkpoint=path), k)
    got = _enrc(ae, tol=0.5, max_iter=200).fit(X, checkpoint=path)
    assert got.converged_ and got.resumed_from_ == k
    _same_fit(ref, got)


def test_a_snapshot_right_after_the_initialisation_skips_it(X, ae, tmp_path, monkeypatch):
    """The ENRC init (NrKmeans rounds) is saved before the first iteration and not redone on resume."""
    ref = _enrc(ae).fit(X)
    path = tmp_path / "init.pt"

    def crash(*a, **k):
        raise RuntimeError("node lost")
    with monkeypatch.context() as m:
        m.setattr(LayerClusteringEstimator, "_train_step", crash)
        with pytest.raises(RuntimeError, match="node lost"):
            _enrc(ae).fit(X, checkpoint=path)
    assert torch.load(path, weights_only=True)["iteration"] == 0
    with monkeypatch.context() as m:
        m.setattr(ENRC, "_initialize", crash)  # would raise if the init ran again
        got = _enrc(ae).fit(X, checkpoint=path)
    assert got.resumed_from_ == 0
    _same_fit(ref, got)


def test_periodic_snapshots_survive_a_crash(X, ae, tmp_path, monkeypatch):
    """checkpoint_every=0 saves after every iteration: a crash in iteration 23 resumes from 22."""
    ref = _enrc(ae).fit(X)
    path = tmp_path / "crash.pt"
    real = LayerClusteringEstimator._train_step

    def step(self, ae_, layer, opt, sched, xb, it):
        if it == 23:
            raise MemoryError("killed")
        return real(self, ae_, layer, opt, sched, xb, it)
    with monkeypatch.context() as m:
        m.setattr(LayerClusteringEstimator, "_train_step", step)
        with pytest.raises(MemoryError):
            _enrc(ae).fit(X, checkpoint=path, checkpoint_every=0)
    assert torch.load(path, weights_only=True)["iteration"] == 22
    got = _enrc(ae).fit(X, checkpoint=path)
    assert got.resumed_from_ == 22
    _same_fit(ref, got)


def test_a_real_sigint_writes_the_snapshot_at_the_end_of_the_iteration(X, ae, tmp_path, monkeypatch,
                                                                       sigint_raises):
    ref = _enrc(ae).fit(X)
    path = tmp_path / "sigint.pt"
    real = LayerClusteringEstimator._train_step
    before = signal.getsignal(signal.SIGINT)

    def step(self, ae_, layer, opt, sched, xb, it):
        out = real(self, ae_, layer, opt, sched, xb, it)
        if it == 17:
            os.kill(os.getpid(), signal.SIGINT)  # arrives mid-iteration; acts after it
        return out
    with monkeypatch.context() as m:
        m.setattr(LayerClusteringEstimator, "_train_step", step)
        with pytest.raises(KeyboardInterrupt, match="stopped after iteration 17"):
            _enrc(ae).fit(X, checkpoint=path, checkpoint_every=1e9)
    assert signal.getsignal(signal.SIGINT) is before
    assert torch.load(path, weights_only=True)["iteration"] == 17
    _same_fit(ref, _enrc(ae).fit(X, checkpoint=path))


def test_a_snapshot_of_another_fit_is_ignored_with_a_warning(X, ae, tmp_path):
    path = tmp_path / "other.pt"
    with pytest.raises(RuntimeError):
        class Boom(ENRC):
            def _train_step(self, *a, **k):
                raise RuntimeError("stop")
        Boom(autoencoder=ae, n_clusters=[3, 2], max_iter=40, batch_size=16, lr_step=20, init_rounds=2,
             reinit_sample=30, random_state=1, progress=False).fit(X, checkpoint=path)
    assert path.exists()  # a snapshot of random_state=1 (and of class Boom)
    with pytest.warns(RuntimeWarning, match="belongs to another run"):
        got = _enrc(ae, random_state=2).fit(X, checkpoint=path)
    assert got.resumed_from_ == 0
    _same_fit(_enrc(ae, random_state=2).fit(X), got)
    path.write_bytes(b"not a snapshot")
    with pytest.warns(RuntimeWarning, match="unreadable"):
        assert _enrc(ae).fit(X, checkpoint=path).resumed_from_ == 0


def test_a_diverged_fit_leaves_no_snapshot(X, ae, tmp_path):
    path = tmp_path / "div.pt"
    with pytest.raises(DivergedError):
        _enrc(ae, lr=1e6, divergence_factor=2.0).fit(X, checkpoint=path, checkpoint_every=0)
    assert not path.exists()


def test_without_checkpoint_nothing_is_written(X, ae, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _enrc(ae).fit(X)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- DCN, DEC, IDEC
def _single(kind: str, ae, **kw):
    if kind == "dcn":
        return DCN(4, ae, max_iter=45, batch_size=64, random_state=3, progress=False, **kw)
    if kind == "dcn-aug":
        return DCN(4, ae, max_iter=45, batch_size=64, random_state=3, progress=False,
                   augmentation=Augmenter(rotation=0, shift=0, zoom=0.3, lighting=0.2, seed=4, image_shape=(2, 2)),
                   **kw)
    cls = DEC if kind == "dec" else IDEC
    return cls(4, ae, max_iter=45, batch_size=64, update_interval=10, tol=None, random_state=3, progress=False, **kw)


def _same_single(a, b) -> None:
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    np.testing.assert_array_equal(a.init_labels_, b.init_labels_)
    assert a.loss_ == b.loss_ and a.n_iter_ == b.n_iter_ and a.converged_ == b.converged_
    sa, sb = a.autoencoder_.state_dict(), b.autoencoder_.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


# 10 and 11: just before and after DEC's target-distribution refresh at iteration 11 (update_interval 10)
@pytest.mark.parametrize("k", [1, 10, 11, 29, 45])
@pytest.mark.parametrize("kind", ["dcn", "dcn-aug", "dec", "idec"])
def test_a_stopped_dcn_dec_or_idec_fit_resumes_to_the_uninterrupted_result(synth2_ae, tmp_path, capsys, kind, k):
    X, _, ae = synth2_ae
    ref = _single(kind, ae).fit(X)
    path = tmp_path / f"{kind}.pt"
    _stopped(lambda: _single(kind, ae).fit(X, checkpoint=path), k)
    got = _single(kind, ae).fit(X, checkpoint=path)
    assert got.resumed_from_ == k and ref.resumed_from_ == 0
    name = {"dcn": "DCN", "dcn-aug": "DCN", "dec": "DEC", "idec": "IDEC"}[kind]
    assert f"resuming the {name} fit from its snapshot at iteration {k} of 45" in capsys.readouterr().err
    _same_single(ref, got)
    assert not path.exists()


# the stop falls in the last epoch before the check that meets tol, so the resumed fit needs the
# previous check's labels (``prev``) to stop where the uninterrupted one does
@pytest.mark.parametrize("kind, k", [("dcn", 60), ("dec", 43)])
def test_dcn_and_dec_resume_inside_tol_early_stopping(synth2_ae, tmp_path, kind, k):
    X, _, ae = synth2_ae
    kw = {"max_iter": 400, "tol": 0.005}  # converges at iteration 63 (DCN) and 45 (DEC)
    if kind == "dec":
        kw["update_interval"] = 5
    make = (lambda: DCN(4, ae, batch_size=64, random_state=3, progress=False, **kw)) if kind == "dcn" else \
        (lambda: DEC(4, ae, batch_size=64, random_state=3, progress=False, **kw))
    ref = make().fit(X)
    assert ref.converged_ and ref.n_iter_ == {"dcn": 63, "dec": 45}[kind]
    path = tmp_path / "tol.pt"
    _stopped(lambda: make().fit(X, checkpoint=path), k)
    got = make().fit(X, checkpoint=path)
    assert got.resumed_from_ == k
    _same_single(ref, got)


# --------------------------------------------------------------------------- the harness
DATASETS = """
[datasets.planted]
params = { n = 300, n_clusters = [3, 3], seed = 1 }
preprocessing = ["zscore"]
autoencoder = { arch = "linear", budget = { iterations = 30, finetune_iterations = 10, batch_size = 100 } }
"""
ENRC_METHOD = "[methods.enrc]\nparams = { max_iter = 30, init_rounds = 2, batch_size = 32, reinit_sample = 50 }"


@pytest.mark.parametrize("k", [11])
def test_a_suite_rerun_resumes_its_stopped_enrc_fit(tmp_path, capsys, k):
    """Ctrl-C in an ENRC fit of `nrbench run` keeps a snapshot under NRBENCH_HOME; the rerun resumes it
    and stores what an uninterrupted run stores, with the runtime of both parts."""
    hf.register()
    suite = resolve(hf.write_suite(tmp_path / "t.toml", ENRC_METHOD, DATASETS, n_ae=1, runs=1), "quick")
    # the first fit is the pretraining-free reference run, in its own store; the second is stopped
    ref = Store(tmp_path / "ref.sqlite")
    run_suite(suite, ref, LocalExecutor(0), progress=False, log=lambda m: None)
    st = Store(tmp_path / "r.sqlite")
    _stopped(lambda: run_suite(suite, st, LocalExecutor(0), progress=False, log=lambda m: None), k)
    (task,) = [t for t in _fit_tasks(suite)]
    assert fit_checkpoint_path(task.key).exists() and len(st.frame()) == 0
    from benchmark.cli import main

    assert main(["run", str(tmp_path / "t.toml"), "--dry-run", "--store", str(tmp_path / "r.sqlite")]) == 0
    assert "t [quick]: 1 fit (0 done, 1 resumes from its snapshot), 1 autoencoder" in capsys.readouterr().out
    summary = run_suite(suite, st, LocalExecutor(0), progress=False, log=lambda m: None)
    assert summary.ok == 1, summary.failures
    assert f"resuming the ENRC fit from its snapshot at iteration {k} of 30" in capsys.readouterr().err
    assert not fit_checkpoint_path(task.key).exists()
    a, b = ref.frame().iloc[0], st.frame().iloc[0]
    assert a["nmi"] == b["nmi"] and a["loss"] == b["loss"]
    assert b["runtime_s"] > 0


def _fit_tasks(suite):
    from benchmark.protocol import build_tasks

    return build_tasks(suite)[1]


def test_the_registry_deep_methods_take_a_checkpoint():
    import inspect

    for name in ("enrc", "acedec", "acedec-aug", "dcn", "dcn-aug", "dec", "idec"):
        assert "checkpoint" in inspect.signature(mr.get(name).load().fit).parameters


def test_fit_checkpoint_paths_are_per_row_key_under_the_home(tmp_path):
    from benchmark.paths import checkpoints_dir

    a = fit_checkpoint_path(("s", "quick", "enrc", "d", "h", 0, 0))
    b = fit_checkpoint_path(("s", "quick", "enrc", "d", "h", 0, 1))
    assert a != b and a.parent == b.parent == checkpoints_dir()
    assert Path(os.environ["NRBENCH_HOME"]) in a.parents


# --------------------------------------------------------------------------- snapshots on request (Dask workers)
def _long_enrc_fit(X, ae, path: str) -> int:
    est = _enrc(ae, max_iter=6000).fit(X, checkpoint=path)
    return est.n_iter_


def _wait_for(path: Path, timeout_s: float = 120.0) -> None:
    t0 = time.monotonic()
    while not path.exists():
        assert time.monotonic() - t0 < timeout_s, f"{path} never appeared"
        time.sleep(0.02)


def test_snapshot_running_makes_a_loop_in_another_thread_save_and_go_on(X, ae, tmp_path):
    from methods.checkpoint import snapshot_running

    assert snapshot_running(timeout_s=1) == 0  # nothing running: returns at once
    path = tmp_path / "thread.pt"
    out: dict = {}
    t = threading.Thread(target=lambda: out.update(n=_long_enrc_fit(X, ae, str(path))))
    t.start()
    _wait_for(path)  # the snapshot after the initialisation (iteration 0)
    time.sleep(0.3)
    assert snapshot_running() == 1
    it = torch.load(path, weights_only=True)["iteration"]
    t.join()
    assert 0 < it < 6000 and out["n"] == 6000  # saved mid-fit, and the fit went on to the end
    assert not path.exists()


def test_snapshot_running_with_stop_ends_the_loop_and_a_refit_resumes_it(X, ae, tmp_path):
    from methods.checkpoint import TrainingStopped, snapshot_running

    path = tmp_path / "stop.pt"
    out: dict = {}

    def work():
        try:
            _long_enrc_fit(X, ae, str(path))
        except TrainingStopped as exc:
            out["exc"] = exc
    t = threading.Thread(target=work)
    t.start()
    _wait_for(path)
    time.sleep(0.3)
    assert snapshot_running(stop=True) == 1
    t.join()
    it = torch.load(path, weights_only=True)["iteration"]
    assert 0 < it < 6000 and "on request; a rerun resumes from" in str(out["exc"])
    got = _enrc(ae, max_iter=6000).fit(X, checkpoint=path)
    assert got.resumed_from_ == it
    _same_fit(_enrc(ae, max_iter=6000).fit(X), got)


def test_ctrl_c_on_a_dask_run_makes_the_workers_save_and_stop_their_running_fits(X, ae, tmp_path, capsys):
    """Dask workers ignore Ctrl-C; nrbench has them save and stop their fits before it shuts the cluster down."""
    import distributed  # noqa: F401 - before dask's config is read

    from benchmark.executors import DaskExecutor

    path = tmp_path / "dask.pt"
    ex = DaskExecutor(n_workers=1, processes=False)
    ex.client().submit(_long_enrc_fit, X, ae, str(path), pure=False)
    _wait_for(path)
    time.sleep(0.3)
    t0 = time.monotonic()
    ex.close(interrupted=True)
    assert time.monotonic() - t0 < 20  # the fit stopped; close did not wait for its 6,000 iterations
    assert 0 < torch.load(path, weights_only=True)["iteration"] < 6000  # kept for the rerun
    assert "nrbench run: 1 training run in progress on the Dask workers saved its snapshot; a rerun resumes it" \
        in capsys.readouterr().err


# --------------------------------------------------------------------------- the batch stream
def test_the_batch_stream_continues_exactly_from_its_state():
    """Minibatches draws a permutation per epoch from rng (the last partial batch dropped); state() +
    the generator's state continue the stream exactly, mid-epoch and at an epoch boundary."""
    from methods.base import minibatches

    rng = np.random.default_rng(7)
    perm1 = np.random.default_rng(7).permutation(10)
    s = minibatches(10, 3, rng)
    assert [next(s).tolist() for _ in range(3)] == [perm1[0:3].tolist(), perm1[3:6].tolist(), perm1[6:9].tolist()]
    for taken in (1, 3):  # mid-epoch, and at the boundary (the next batch starts a new epoch)
        a = minibatches(10, 3, np.random.default_rng(1))
        for _ in range(taken):
            next(a)
        state, rng_state = a.state(), a.rng.bit_generator.state
        want = [next(a).tolist() for _ in range(7)]
        b = minibatches(10, 3, np.random.default_rng(99))
        b.restore(state)
        b.rng.bit_generator.state = rng_state
        assert [next(b).tolist() for _ in range(7)] == want
    with pytest.raises(ValueError, match="cannot continue over n = 11"):
        minibatches(11, 3, np.random.default_rng(0)).restore(state)
    with pytest.raises(ValueError, match="batch_size must be positive"):
        minibatches(10, 0, np.random.default_rng(0))
