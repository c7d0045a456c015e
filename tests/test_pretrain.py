"""Pretraining: loss goes down, determinism, the on-disk cache (hit, corruption, key), budgets, bad input."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

import methods.pretrain as pt
from generators.planted import make_planted
from methods.base import DivergedError, encode_all
from methods.pretrain import BUDGETS, PretrainBudget, pretrain

TINY = {"iterations": 60, "finetune_iterations": 20, "batch_size": 32}
FF = {"arch": "feedforward", "hidden": [24, 24], "embedding_dim": 3}


@pytest.fixture(scope="module")
def planted():
    return make_planted(n=240, n_clusters=(3,), noise_dims=3, seed=0)


def _weights_equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k].cpu(), sb[k].cpu()) for k in sa)


def test_pretraining_reduces_reconstruction_loss(planted) -> None:
    ae = pretrain(planted, FF, seed=0, budget=TINY, preprocessing=("zscore",), device="cpu", progress=False)
    info = ae.pretrain_info
    assert info["recon_mse_before"] > 0.9  # untrained net on z-scored data
    assert info["recon_mse_after"] < 0.5 * info["recon_mse_before"]
    assert len(info["history"]) == 80
    assert not ae.training  # returned in eval mode


def test_conv_resnet_pretraining_with_augmentation_reduces_loss() -> None:
    rng = np.random.default_rng(0)
    X = np.zeros((64, 1, 20, 20), np.float32)
    for i in range(64):  # a bright square at a random place
        r, c = rng.integers(2, 12, 2)
        X[i, 0, r:r + 6, c:c + 6] = 1.0
    arch = {"arch": "conv_resnet", "widths": [4, 8, 8, 8, 8], "dropout": 0.1}
    # 40 fine-tuning iterations: with phase 1's optimizer carried on, fine-tuning takes small steps (at 10 the MSE
    # was 0.078; the 0.070 a fresh optimizer reached there came from its large first steps, which wreck bigger nets)
    ae = pretrain(X=X, arch=arch, seed=1, budget={"iterations": 40, "finetune_iterations": 40, "batch_size": 16},
                  augment={"rotation": 10, "shift": 0.05, "zoom": 0.05}, preprocessing=(), device="cpu",
                  progress=False)
    info = ae.pretrain_info
    assert info["augment"] == {"rotation": 10.0, "shift": 0.05, "zoom": 0.05, "lighting": 0.0}
    # measured: eval-mode MSE 0.086 -> 0.061
    assert info["recon_mse_after"] < 0.9 * info["recon_mse_before"]
    hist = info["history"]
    assert np.mean(hist[-5:]) < 0.2 * np.mean(hist[:5])


def test_same_seed_identical_weights_and_embeddings(planted) -> None:
    kw = dict(arch=FF, budget=TINY, preprocessing=("zscore",), device="cpu", progress=False, cache=False)
    a = pretrain(planted, seed=3, **kw)
    b = pretrain(planted, seed=3, **kw)
    c = pretrain(planted, seed=4, **kw)
    assert _weights_equal(a, b)
    assert not _weights_equal(a, c)
    X = pt.apply_preprocessing(planted.X, ("zscore",))
    np.testing.assert_array_equal(encode_all(a, X), encode_all(b, X))


def test_pretrain_leaves_global_rng_untouched(planted) -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    pretrain(planted, FF, seed=0, budget=TINY, preprocessing=("zscore",), device="cpu", progress=False, cache=False)
    torch.testing.assert_close(torch.rand(3), expected)


def test_second_call_loads_from_cache_with_identical_embeddings(planted, monkeypatch) -> None:
    kw = dict(arch=FF, seed=0, budget=TINY, preprocessing=("zscore",), device="cpu", progress=False)
    a = pretrain(planted, **kw)
    assert a.pretrain_info["cached"] is False
    pt_path, json_path = pt.cache_paths(a.pretrain_info["key"], "feedforward")
    assert pt_path.exists() and json_path.exists()

    def _fail(*args, **kwargs):
        raise AssertionError("pretrain retrained although the cache holds this autoencoder")

    monkeypatch.setattr(pt, "train_autoencoder", _fail)
    b = pretrain(planted, **kw)
    assert b.pretrain_info["cached"] is True
    assert b.pretrain_info["recon_mse_after"] == a.pretrain_info["recon_mse_after"]
    X = pt.apply_preprocessing(planted.X, ("zscore",))
    np.testing.assert_array_equal(encode_all(a, X), encode_all(b, X))
    assert _weights_equal(a, b)


def test_cache_key_changes_with_every_ingredient(planted) -> None:
    arch = pt.resolve_arch(FF, (7,))
    bud = pt.resolve_budget(TINY)
    base = pt.cache_key("abc", arch, 0, bud, ["zscore"], None)
    assert base == pt.cache_key("abc", dict(arch), 0, PretrainBudget(**TINY), ("zscore",), None)
    variants = [
        pt.cache_key("abd", arch, 0, bud, ["zscore"], None),
        pt.cache_key("abc", {**arch, "embedding_dim": 4}, 0, bud, ["zscore"], None),
        pt.cache_key("abc", arch, 1, bud, ["zscore"], None),
        pt.cache_key("abc", arch, 0, PretrainBudget(**{**TINY, "max_lr": 0.02}), ["zscore"], None),
        pt.cache_key("abc", arch, 0, bud, ["scale01"], None),
        pt.cache_key("abc", arch, 0, bud, ["zscore"], {"rotation": 15.0, "shift": 0.1, "zoom": 0.1, "lighting": 0.0}),
        pt.cache_key("abc", arch, 0, PretrainBudget(**{**TINY, "corruption": 0.2}), ["zscore"], None),
    ]
    assert len({base, *variants}) == len(variants) + 1
    # the full config (defaults filled in) is what is keyed: "feedforward" == its explicit defaults
    assert pt.resolve_arch("feedforward", (7,)) == pt.resolve_arch(
        {"arch": "feedforward", "embedding_dim": 10, "hidden": [500, 500, 2000]}, (7,))


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete_json", "bad_json"])
def test_corrupted_cache_is_detected_and_retrained(planted, damage, capsys) -> None:
    kw = dict(arch=FF, seed=0, budget=TINY, preprocessing=("zscore",), device="cpu", progress=False)
    a = pretrain(planted, **kw)
    pt_path, json_path = pt.cache_paths(a.pretrain_info["key"], "feedforward")
    if damage == "truncate":
        pt_path.write_bytes(pt_path.read_bytes()[:100])
    elif damage == "flip":
        raw = bytearray(pt_path.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        pt_path.write_bytes(bytes(raw))
    elif damage == "delete_json":
        json_path.unlink()
    else:
        json_path.write_text("{not json")
    with pytest.warns(RuntimeWarning, match="corrupted autoencoder cache entry, retraining") as record:
        b = pretrain(planted, **kw)
    assert len(record) == 1
    assert b.pretrain_info["cached"] is False
    assert _weights_equal(a, b)  # retrained deterministically
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c = pretrain(planted, **kw)  # the repaired entry loads cleanly
    assert c.pretrain_info["cached"] is True
    record = json.loads(json_path.read_text())
    assert record["key"] == a.pretrain_info["key"] and record["config"]["arch"] == "feedforward"


def test_cache_false_writes_nothing(planted) -> None:
    pretrain(planted, FF, seed=0, budget=TINY, preprocessing=("zscore",), device="cpu", progress=False, cache=False)
    assert not pt.models_dir().exists() or not any(pt.models_dir().glob("*.pt"))


def test_divergence_names_iteration(planted) -> None:
    X = pt.apply_preprocessing(planted.X, ("zscore",)) * 1e30
    with pytest.raises(DivergedError, match=r"pretraining \(onecycle phase, seed 0\): .*iteration 0: reconstruction=inf.*; nothing was cached. Try another seed, a longer budget or a lower max_lr"):
        pretrain(X=X, arch=FF, seed=0, budget=TINY, preprocessing=(), device="cpu", progress=False, cache=False)


def test_finetuning_continues_the_one_cycle_optimizer_and_keeps_the_network(monkeypatch) -> None:
    """Phase 2 goes on with phase 1's Adam state (fastai v1 keeps a Learner's optimizer across fit calls).

    A fresh Adam steps every weight by about the learning rate, whatever its gradient; with
    BatchNorm frozen (eval mode) that wrecked the conv ResNet. Measured on this network (60 + 20
    iterations): a fresh optimizer spiked the fine-tuning loss to 3.71 from 0.612 at the end of
    phase 1 and ended at MSE 0.523; the carried one stays below 0.612 and ends at 0.337.
    """
    import generators
    from generators.preprocessing import apply

    made = []
    real_adamw = torch.optim.AdamW

    def counting_adamw(*args, **kwargs):
        made.append(kwargs.get("lr"))
        return real_adamw(*args, **kwargs)

    monkeypatch.setattr(torch.optim, "AdamW", counting_adamw)
    X = apply(generators.build("stickfigures", progress=False).X, ("scale01", "zscore"))
    ae = pretrain(X=X, arch={"arch": "conv_resnet", "widths": [4, 8, 8, 8, 8]}, seed=0,
                  budget={"iterations": 60, "finetune_iterations": 20, "batch_size": 128}, preprocessing=(),
                  device="cpu", cache=False, progress=False)
    assert len(made) == 1  # one optimizer for both phases
    hist = ae.pretrain_info["history"]
    assert max(hist[60:]) < 1.1 * hist[59]
    assert ae.pretrain_info["recon_mse_after"] < 0.4


def test_a_network_worse_than_its_initialisation_is_an_error_and_not_cached(planted, monkeypatch) -> None:
    mses = iter([0.5, 0.9])  # before, after
    monkeypatch.setattr(pt, "reconstruction_mse", lambda *a, **k: next(mses))
    with pytest.raises(DivergedError, match=r"worse than its initialisation: reconstruction MSE 0.5 -> 0.9; "
                                            r"nothing was cached"):
        pretrain(planted, FF, seed=0, budget=TINY, preprocessing=("zscore",), device="cpu", progress=False)
    assert not pt.models_dir().exists() or not any(pt.models_dir().glob("*.pt"))
    assert not pt.models_dir().exists() or not any(pt.models_dir().glob("*.json"))


def test_named_budgets() -> None:
    assert BUDGETS["paper-enrc"] == PretrainBudget(10_000, 5_000, 128)
    assert BUDGETS["paper-enrc"].max_lr == 0.01 and BUDGETS["paper-enrc"].weight_decay == 1e-3
    assert BUDGETS["paper-enrc"].betas == (0.9, 0.99) and BUDGETS["paper-enrc"].finetune_lr == 5e-3
    assert BUDGETS["paper-enrc-stickfigures"].iterations == 2_000
    assert BUDGETS["paper-enrc-nrobjects"].batch_size == 64
    assert {"quick", "standard", "paper-dec", "quick-dec", "standard-dec"} <= set(BUDGETS)
    assert all(BUDGETS[k].max_lr == 1e-3 for k in ("paper-dec", "quick-dec", "standard-dec"))
    assert pt.resolve_budget("quick") is BUDGETS["quick"]


def test_clean_budget_keeps_its_pre_corruption_cache_key() -> None:
    """``corruption = 0`` is left out of the keyed dict, so networks cached before the field existed stay valid."""
    d = PretrainBudget(**TINY).to_dict()
    assert "corruption" not in d
    assert d == {"iterations": 60, "finetune_iterations": 20, "batch_size": 32, "max_lr": 0.01,
                 "finetune_lr": 0.005, "weight_decay": 0.001, "betas": [0.9, 0.99], "pct_start": 0.3,
                 "div_factor": 25.0}
    assert PretrainBudget(**{**TINY, "corruption": 0.2}).to_dict()["corruption"] == 0.2


def test_denoising_corrupts_the_input_of_the_one_cycle_phase_only(planted, monkeypatch) -> None:
    """Input dropout (DEC's denoising pretraining): the network sees a corrupted x, the loss targets the clean x.

    Records what the network is fed: in the one-cycle phase about ``corruption`` of
    the entries are zero and the rest are scaled by 1 / (1 - p); the fine-tuning phase
    gets the clean batch.  Same seed, same weights; a different network than clean training.
    """
    X = pt.apply_preprocessing(planted.X, ("zscore",))
    bud = {"iterations": 30, "finetune_iterations": 10, "batch_size": 32, "corruption": 0.25}
    kw = dict(arch=FF, preprocessing=(), device="cpu", progress=False, cache=False)
    a = pretrain(X=X, seed=0, budget=bud, **kw)
    b = pretrain(X=X, seed=0, budget=bud, **kw)
    clean = pretrain(X=X, seed=0, budget={**bud, "corruption": 0.0}, **kw)
    assert _weights_equal(a, b)
    assert not _weights_equal(a, clean)

    fed: list[torch.Tensor] = []
    orig = pt.from_config

    def spy_config(cfg):
        model = orig(cfg)
        model.register_forward_pre_hook(lambda _m, args: fed.append(args[0].detach().clone()))
        return model

    monkeypatch.setattr(pt, "from_config", spy_config)
    pretrain(X=X, seed=0, budget=bud, **kw)
    # the before-training MSE pass, then 30 corrupted + 10 clean training batches, then the after pass
    train = [f for f in fed if f.shape[0] == 32][-40:]
    Xs = set(map(tuple, np.round(X, 5).tolist()))
    zero_frac = np.mean([float((f == 0).float().mean()) for f in train[:30]])
    assert 0.18 < zero_frac < 0.32
    for r in train[0].numpy():  # each fed row is a data row with entries zeroed and the rest scaled by 1 / 0.75
        keep = r != 0
        assert np.isclose(X[:, keep], r[keep] * 0.75, atol=1e-5).all(axis=1).any()
    assert all(tuple(r) in Xs for f in train[30:] for r in np.round(f.numpy(), 5).tolist())
    assert not all(tuple(r) in Xs for r in np.round(train[0].numpy(), 5).tolist())


@pytest.mark.parametrize("kwargs,match", [
    ({"budget": "huge"}, "unknown budget"),
    ({"budget": {"iterations": 10, "epochs": 3}}, "epochs"),
    ({"budget": {"iterations": -1}}, "iterations"),
    ({"budget": {"batch_size": 0}}, "batch_size"),
    ({"budget": {"iterations": 0, "finetune_iterations": 0}}, "iterations"),
    ({"budget": {"corruption": 1.0}}, "corruption"),
    ({"budget": {"corruption": -0.1}}, "corruption"),
    ({"arch": "transformer"}, "unknown arch"),
    ({"arch": {"embedding_dim": 3}}, "'arch' key"),
    ({"arch": "conv_resnet"}, "input_shape"),
    ({"preprocessing": ("whiten",)}, "preprocessing step"),
    ({"augment": 3}, "augment"),
    ({"augment": {"rotation": 5}}, "image_shape"),
    ({"arch": {"arch": "feedforward", "layers": 3}}, "layers"),
    ({"seed": -1}, "seed must be an integer >= 0"),
    ({"seed": 1.7}, "seed must be an integer >= 0"),
    ({"seed": "a"}, "seed must be an integer >= 0"),
    ({"budget": {"iterations": 2.5}}, "budget.iterations must be an integer"),
    ({"budget": {"batch_size": 1.5}}, "budget.batch_size must be an integer"),
])
def test_bad_input(planted, kwargs, match) -> None:
    args = dict(arch=FF, seed=0, budget=TINY, preprocessing=("zscore",), device="cpu", progress=False)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        pretrain(planted, **args)


def test_dataset_or_X_required(planted) -> None:
    with pytest.raises(ValueError, match="exactly one of dataset= or X="):
        pretrain(arch=FF)
    with pytest.raises(ValueError, match="exactly one"):
        pretrain(planted, X=planted.X, arch=FF)
    with pytest.raises(ValueError, match="uint8"):
        pretrain(X=np.zeros((10, 4), np.uint8), arch=FF, preprocessing=(), progress=False)
    with pytest.raises(ValueError, match="NaN"):
        pretrain(X=np.full((10, 4), np.nan, np.float32), arch=FF, preprocessing=(), progress=False)


def test_concurrent_pretrains_of_one_key_train_once(planted, monkeypatch) -> None:
    """The file lock serialises two pretrains of the same key: one trains, the other loads."""
    import threading
    import time

    calls: list[int] = []
    real = pt.train_autoencoder

    def counting(*args, **kwargs):
        calls.append(1)
        time.sleep(0.3)  # widen the race window
        return real(*args, **kwargs)

    monkeypatch.setattr(pt, "train_autoencoder", counting)
    kw = dict(arch=FF, seed=0, budget=TINY, preprocessing=("zscore",), device="cpu", progress=False)
    out: list = []
    threads = [threading.Thread(target=lambda: out.append(pretrain(planted, **kw))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(out) == 2 and len(calls) == 1
    assert sorted(m.pretrain_info["cached"] for m in out) == [False, True]
    assert _weights_equal(out[0], out[1])


@pytest.mark.parametrize("make", [lambda X: X + 1j, lambda X: __import__("scipy.sparse").sparse.csr_matrix(X)])
def test_complex_or_sparse_X_is_refused(make) -> None:
    # complex X was cast to its real part (ComplexWarning only); sparse X said 'got ()'
    X = np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32)
    with pytest.raises(ValueError, match="X is (complex|a sparse csr_matrix)"):
        pretrain(X=make(X), arch=FF, preprocessing=(), device="cpu", cache=False, progress=False)
