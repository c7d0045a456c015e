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
