"""benchmark/scripts/render_stats.py: exact per-channel statistics on tiny inputs, chunking that changes
nothing, and clear errors for what is not a uint8 image stack."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmark" / "scripts" / "render_stats.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("render_stats", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_channel_stats_exact_on_a_tiny_stack(script) -> None:
    X = np.zeros((2, 4, 2, 2), np.uint8)
    X[0, 0] = 255          # R: half the pixels 1.0, half 0.0 -> mean 0.5, std 0.5
    X[:, 2] = 51           # B: 0.2 everywhere -> std 0
    X[:, 3] = 255          # alpha: ignored
    mean, std = script.channel_stats(X)
    np.testing.assert_allclose(mean, [0.5, 0.0, 0.2], atol=1e-12)
    np.testing.assert_allclose(std, [0.5, 0.0, 0.0], atol=1e-7)


def test_chunking_does_not_change_the_statistics(script) -> None:
    X = np.random.default_rng(0).integers(0, 256, size=(10, 4, 5, 5), dtype=np.uint8)
    mean, std = script.channel_stats(X, chunk=3)
    x = X[:, :3].astype(np.float64) / 255
    np.testing.assert_allclose(mean, x.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(std, x.std(axis=(0, 2, 3)), rtol=1e-9)


@pytest.mark.parametrize("X, kw, match", [
    (np.zeros((2, 3, 4), np.uint8), {}, "X must be"),
    (np.zeros((2, 3, 4, 4), np.float32), {}, "uint8"),
    (np.zeros((2, 3, 4, 4), np.uint8), {"channels": 4}, "channels"),
    (np.zeros((0, 3, 4, 4), np.uint8), {}, "no images"),
])
def test_bad_input_is_refused(script, X, kw, match) -> None:
    with pytest.raises(ValueError, match=match):
        script.channel_stats(X, **kw)


def test_cli_refuses_nothing_to_do_and_bad_zoom(script) -> None:
    for argv in ([], ["--zoom", "0"], ["--zoom", "1", "--n", "0"]):
        with pytest.raises(SystemExit) as e:
            script.main(argv)
        assert e.value.code == 2


@pytest.mark.parametrize("text, ok", [
    ("0.5,0.35,1", (0.5, 0.35, 1.0)), ("0,0,2.5", (0.0, 0.0, 2.5)),
    ("0.5,0.35", None), ("a,b,c", None), ("1.5,0.35,1", None), ("0.5,-1,1", None), ("0.5,0.35,0", None),
])
def test_parse_lighting(script, text, ok) -> None:
    import argparse

    if ok is None:
        with pytest.raises(argparse.ArgumentTypeError, match="lighting"):
            script.parse_lighting(text)
    else:
        assert script.parse_lighting(text) == ok


def _planted(n_per: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Tiny 'NR-Objects': colour sets the RGB level of a centre patch strongly, material a
    corner patch and shape an edge patch weakly, plus pixel noise."""
    rng = np.random.default_rng(seed)
    labels = np.array([(c, m, s) for c in range(6) for m in range(2) for s in range(3) for _ in range(n_per)])
    X = np.full((len(labels), 4, 8, 8), 100.0)
    X[:, 3] = 255
    hues = rng.uniform(0, 150, size=(6, 3))
    X[:, :3, 2:6, 2:6] += hues[labels[:, 0]][:, :, None, None]
    X[:, :3, 0:2, 0:2] += 25.0 * labels[:, 1][:, None, None, None]
    X[:, :3, 6:8, 0:2] += 12.0 * labels[:, 2][:, None, None, None]
    X[:, :3] += rng.normal(0, 2, size=X[:, :3].shape)
    return np.clip(X, 0, 255).astype(np.uint8), labels


def test_structure_reads_a_planted_colour_partition(script) -> None:
    from benchmark.metrics import between_class_share
    from generators.preprocessing import apply

    X, labels = _planted()
    st = script.structure(X, labels, pcs=8, starts=5, seed=0)
    A = apply(X, ["scale01", "zscore"]).reshape(len(X), -1)
    assert st["share_color"] == pytest.approx(between_class_share(A, labels[:, 0]))
    assert st["share_color"] > 0.8 > st["share_material_x_shape"]
    assert st["kmeans6_color"] > 0.95 > st["kmeans6_material_x_shape"]
    assert st["nrkmeans"] is not None and st["nrkmeans"][0] > 0.95
    assert st == script.structure(X, labels, pcs=8, starts=5, seed=0)  # deterministic under the seed


def test_structure_refuses_bad_labels_and_pcs(script) -> None:
    X, labels = _planted(2)
    with pytest.raises(ValueError, match="labels"):
        script.structure(X, labels[:, :2])
    with pytest.raises(ValueError, match="labels"):
        script.structure(X, labels[:-1])
    with pytest.raises(ValueError, match="pcs"):
        script.structure(X, labels, pcs=0)


def test_cli_refuses_bad_lighting_and_structure_settings(script) -> None:
    for argv in (["--lighting", "0.5,0.35"], ["--lighting", "0.5,0.35,1", "--structure", "--starts", "0"],
                 ["--lighting", "0.5,0.35,1", "--structure", "--n", "5", "--pcs", "16"]):
        with pytest.raises(SystemExit) as e:
            script.main(argv)
        assert e.value.code == 2
