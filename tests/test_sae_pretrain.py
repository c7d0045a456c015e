"""DEC's stacked denoising-autoencoder pretraining (``procedure="dec-sae"``): pairs, loss, budgets, behaviour."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.cluster import KMeans

import methods.pretrain as pt
from benchmark.metrics import nmi
from generators.planted import make_planted
from generators.preprocessing import apply
from methods.autoencoders import FeedforwardAutoencoder
from methods.base import DivergedError, encode_all
from methods.pretrain import BUDGETS, PretrainBudget, pretrain
from methods.sae_pretrain import (
    INIT_STD,
    SAEBudget,
    layer_pairs,
    reconstruction_loss,
    train_stacked_autoencoder,
)

FF = {"arch": "feedforward", "hidden": [24, 24, 32], "embedding_dim": 3}
TINY = {"procedure": "dec-sae", "layer_iterations": 150, "finetune_iterations": 150, "batch_size": 32,
        "lr_step": 200}


@pytest.fixture(scope="module")
def planted():
    return make_planted(n=300, n_clusters=(3,), noise_dims=3, seed=0)


def test_reconstruction_loss_is_the_per_element_mean_for_tiny_input() -> None:
    x = torch.tensor([[1.0, 2.0, 0.0], [0.0, 0.0, 1.0]])
    y = torch.tensor([[1.0, 0.0, 0.0], [3.0, 4.0, 1.0]])
    # (0 + 4 + 0 + 9 + 16 + 0) / 6 elements, not Caffe's (4 + 25) / (2 * 2 rows)
    assert float(reconstruction_loss(y, x)) == pytest.approx(29 / 6)


def test_layer_pairs_mirror_the_network_with_decs_activations() -> None:
    m = FeedforwardAutoencoder(784)
    pairs = layer_pairs(m)
    assert [(e.in_features, e.out_features) for e, _, _, _ in pairs] == [(784, 500), (500, 500), (500, 2000),
                                                                         (2000, 10)]
    assert all(d.in_features == e.out_features and d.out_features == e.in_features for e, d, _, _ in pairs)
    # g1 ReLU except the embedding layer; g2 ReLU except the layer that reconstructs the data
    assert [(g1, g2) for _, _, g1, g2 in pairs] == [(True, False), (True, True), (True, True), (False, True)]


def test_budget_dicts_select_the_procedure_and_key_the_cache() -> None:
    bud = pt.resolve_budget(TINY)
    assert isinstance(bud, SAEBudget) and bud.layer_iterations == 150 and bud.momentum == 0.9
    assert bud.to_dict()["procedure"] == "dec-sae"
    assert isinstance(pt.resolve_budget({"iterations": 5, "procedure": "onecycle"}), PretrainBudget)
    assert BUDGETS["dec-sae"] == SAEBudget(50_000, 100_000, 256)  # DEC's schedule
    assert BUDGETS["dec-sae"].lr_step == 20_000 and BUDGETS["dec-sae"].corruption == 0.2
    arch = {"arch": "feedforward"}
    one = pt.cache_key("abc", arch, 0, PretrainBudget(), (), None)
    assert one != pt.cache_key("abc", arch, 0, SAEBudget(), (), None)
    assert pt.cache_key("abc", arch, 0, SAEBudget(), (), None) != pt.cache_key(
        "abc", arch, 0, SAEBudget(finetune_lr=1e-3), (), None)


@pytest.mark.parametrize("bad, match", [
    ({"procedure": "greedy"}, "procedure must be"),
    ({"procedure": "dec-sae", "iterations": 5}, r"unknown field\(s\) \['iterations'\]"),
    ({"procedure": "dec-sae", "lr": 0}, "budget.lr must be positive"),
    ({"procedure": "dec-sae", "lr_step": 0}, "budget.lr_step must be positive"),
    ({"procedure": "dec-sae", "lr_gamma": 1.5}, "lr_gamma"),
    ({"procedure": "dec-sae", "momentum": 1.0}, "momentum"),
    ({"procedure": "dec-sae", "corruption": 1.0}, "corruption"),
    ({"procedure": "dec-sae", "layer_iterations": 0, "finetune_iterations": 0}, "must be positive"),
    ({"procedure": "dec-sae", "layer_iterations": 2.5}, "budget.layer_iterations must be an integer"),
    ({"procedure": "dec-sae", "batch_size": 1.5}, "budget.batch_size must be an integer"),
])
def test_bad_budgets_raise_naming_the_field(bad, match) -> None:
    with pytest.raises(ValueError, match=match):
        pt.resolve_budget(bad)


def test_non_feedforward_network_or_augmentation_is_refused(planted) -> None:
    with pytest.raises(ValueError, match="needs the 'feedforward' architecture; got 'linear'"):
        pretrain(planted, "linear", budget=TINY, preprocessing=("zscore",), device="cpu", progress=False,
                 cache=False)
    X = np.zeros((8, 1, 20, 20), np.float32)
    with pytest.raises(ValueError, match="takes no augmentation"):
        pretrain(X=X, arch="feedforward", budget=TINY, augment={"rotation": 5}, preprocessing=(), device="cpu",
                 progress=False, cache=False)


def test_stacked_pretraining_learns_every_pair_and_the_planted_clusters(planted) -> None:
    ae = pretrain(planted, FF, seed=0, budget=TINY, preprocessing=("zscore",), device="cpu", progress=False,
                  cache=False)
    info = ae.pretrain_info
    assert info["phases"] == [["layer1", 150], ["layer2", 150], ["layer3", 150], ["layer4", 150],
                              ["finetune", 150]]
    hist = np.asarray(info["history"])
    assert hist.shape == (750,)
    for k in range(4):  # every greedy pair lowers its own loss from its fresh Gaussian init
        seg = hist[150 * k:150 * (k + 1)]
        assert seg[-20:].mean() < 0.3 * seg[:20].mean(), k  # measured ratios 0.11, 0.07, 0.17, 0.11
    # the end-to-end phase starts from the trained stack and still improves it (measured ratio 0.59; seeds 1, 2: 0.65, 0.58)
    assert hist[-20:].mean() < 0.8 * hist[600:620].mean()
    assert set(info["dead_units"]) == {"layer1", "layer2", "layer3"}  # the ReLU layers
    assert max(info["dead_units"].values()) < 0.5  # measured 0.0 / 0.17 / 0.09
    assert info["recon_mse_after"] < 0.15 * info["recon_mse_before"]  # measured 1.03 -> 0.056
    Z = encode_all(ae, apply(planted.X, ("zscore",)))
    labels = KMeans(3, n_init=5, random_state=0).fit_predict(Z)
    assert nmi(planted.labels[:, 0], labels) > 0.95  # measured 1.0 on seeds 0-2


def test_each_pair_starts_from_decs_gaussian_init_and_earlier_pairs_stay_frozen() -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 12)).astype(np.float32)
    torch.manual_seed(0)
    m = FeedforwardAutoencoder(12, embedding_dim=2, hidden=(40, 40, 400))
    bud = SAEBudget(layer_iterations=1, finetune_iterations=0, batch_size=16, corruption=0.0)
    pairs = layer_pairs(m)
    seen: dict[int, torch.Tensor] = {}
    enc3 = pairs[2][0]

    def snapshot(_module, _inp):  # the first forward of pair 3: pair 1 is already trained, pair 3 untouched
        if 3 not in seen:
            seen[3] = enc3.weight.detach().clone()
            seen[1] = pairs[0][0].weight.detach().clone()

    enc3.register_forward_pre_hook(snapshot)
    train_stacked_autoencoder(m, X, bud, seed=0, device=torch.device("cpu"), progress=False)
    assert seen[3].std().item() == pytest.approx(INIT_STD, rel=0.05)  # 16,000 Gaussian draws
    assert torch.equal(seen[1], pairs[0][0].weight)  # pair 1 was not updated while pairs 2-4 trained


def test_a_pair_whose_units_all_die_stops_the_run(monkeypatch) -> None:
    import methods.sae_pretrain as sae

    # zero initial weights: every ReLU unit of pair 1 outputs 0 and gets no gradient, so the layer is dead
    monkeypatch.setattr(sae, "INIT_STD", 0.0)
    X = np.abs(np.random.default_rng(0).standard_normal((64, 12))).astype(np.float32)
    m = FeedforwardAutoencoder(12, embedding_dim=2, hidden=(8, 8, 16))
    with pytest.raises(DivergedError, match=r"layer 1 collapsed .*all 8 ReLU units are zero on every sample"):
        train_stacked_autoencoder(m, X, SAEBudget(layer_iterations=5, finetune_iterations=5, batch_size=16),
                                  seed=0, device=torch.device("cpu"), progress=False)


def test_same_seed_same_network_different_seed_differs(planted) -> None:
    kw = dict(arch=FF, budget={**TINY, "layer_iterations": 20, "finetune_iterations": 20},
              preprocessing=("zscore",), device="cpu", progress=False, cache=False)
    a, b, c = (pretrain(planted, seed=s, **kw) for s in (4, 4, 5))
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_divergence_stops_with_the_iteration_named(planted) -> None:
    with pytest.raises(DivergedError, match=r"diverged at iteration \d+: layer1_reconstruction="):
        pretrain(planted, FF, budget={**TINY, "lr": 50.0}, preprocessing=("zscore",), device="cpu",
                 progress=False, cache=False)


def test_cached_network_reloads_with_its_phases(planted) -> None:  # conftest: a fresh NRBENCH_HOME per test
    kw = dict(arch=FF, seed=1, budget={**TINY, "layer_iterations": 10, "finetune_iterations": 10},
              preprocessing=("zscore",), device="cpu", progress=False)
    a = pretrain(planted, **kw)
    b = pretrain(planted, **kw)
    assert b.pretrain_info["cached"] and b.pretrain_info["phases"] == a.pretrain_info["phases"]
    assert b.pretrain_info["budget"]["procedure"] == "dec-sae"
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
