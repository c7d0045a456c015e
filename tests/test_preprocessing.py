"""Named preprocessing steps: exact outputs on tiny inputs, invariants, errors."""

from __future__ import annotations

import numpy as np
import pytest

from generators.preprocessing import STEPS, apply, downscale2, flatten, hist_equalize, scale01, zscore


def test_scale01_exact() -> None:
    X = np.array([[0, 51, 255]], dtype=np.uint8)
    out = scale01(X)
    assert out.dtype == np.float32 and out.tolist() == [[0.0, pytest.approx(0.2), 1.0]]
    f = np.array([[2.0, -1.0]], dtype=np.float32)
    assert scale01(f) is f or np.array_equal(scale01(f), f)  # float data is not rescaled


def test_zscore_is_channelwise_over_samples_and_pixels(rng) -> None:
    X = np.empty((50, 3, 4, 4), dtype=np.float32)
    for c, (mu, sd) in enumerate([(10, 2), (-5, 0.5), (0, 30)]):
        X[:, c] = rng.normal(mu, sd, size=(50, 4, 4))
    Z = zscore(X)
    assert Z.dtype == np.float32 and Z.shape == X.shape
    assert np.allclose(Z.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    assert np.allclose(Z.std(axis=(0, 2, 3)), 1, atol=1e-5)
    # per channel, not per pixel: the spatial pattern within a channel survives
    assert not np.allclose(Z.mean(axis=0)[0], 0, atol=1e-3)


def test_zscore_flat_and_constant_channel() -> None:
    X = np.array([[1.0, 5.0], [3.0, 5.0]], dtype=np.float32)
    assert zscore(X).tolist() == [[-1.0, 0.0], [1.0, 0.0]]  # constant feature only centred


def test_zscore_uint8_matches_float() -> None:
    X = np.arange(32, dtype=np.uint8).reshape(2, 1, 4, 4)
    assert np.allclose(zscore(X), zscore(X.astype(np.float32)))


def test_hist_equalize_exact_and_per_channel() -> None:
    img = np.array([[[[10, 10], [20, 30]]]], dtype=np.uint8)  # (1, 1, 2, 2)
    # cdf = 2, 3, 4 at 10, 20, 30; (cdf - cdf_min) / (N - cdf_min) * 255 -> 0, 127.5, 255
    assert hist_equalize(img)[0, 0].tolist() == [[0, 0], [128, 255]]
    X = np.stack([np.full((2, 2), 7, np.uint8), np.array([[0, 50], [100, 200]], np.uint8)])[None]
    out = hist_equalize(X)
    assert out[0, 0].tolist() == [[7, 7], [7, 7]]  # a flat channel is left alone
    assert out[0, 1].tolist() == [[0, 85], [170, 255]]
    assert out.dtype == np.uint8 and out.shape == X.shape


def test_hist_equalize_is_monotone(rng) -> None:
    X = rng.integers(40, 90, size=(3, 3, 8, 8), dtype=np.uint8)
    out = hist_equalize(X)
    for a, b in zip(X.reshape(9, -1), out.reshape(9, -1)):
        order = np.argsort(a, kind="stable")
        assert np.all(np.diff(b[order].astype(int)) >= 0)
        assert b.min() == 0 and b.max() == 255


def test_hist_equalize_needs_uint8() -> None:
    with pytest.raises(ValueError, match="scale01"):
        hist_equalize(np.zeros((1, 1, 2, 2), np.float32))


def test_apply_runs_in_order_and_returns_float32() -> None:
    X = np.array([[[[0, 255], [255, 0]]]], dtype=np.uint8)
    out = apply(X, ["scale01", "flatten"])
    assert out.dtype == np.float32 and out.tolist() == [[0.0, 1.0, 1.0, 0.0]]
    assert apply(X, "zscore").tolist() == [[[[-1.0, 1.0], [1.0, -1.0]]]]
    assert flatten(np.zeros((3, 2, 5))).shape == (3, 10)
    assert set(STEPS) == {"scale01", "zscore", "hist_equalize", "flatten", "downscale2"}


def test_apply_errors_name_the_step() -> None:
    X = np.zeros((1, 1, 2, 2), np.uint8)
    with pytest.raises(ValueError, match="unknown preprocessing step 'normalize'"):
        apply(X, ["normalize"])
    with pytest.raises(ValueError, match="left uint8"):
        apply(X, ["hist_equalize"])


def test_preprocessing_does_not_modify_input(rng) -> None:
    X = rng.integers(0, 255, size=(4, 3, 5, 5), dtype=np.uint8)
    before = X.copy()
    apply(X, ["hist_equalize", "scale01", "zscore"])
    assert np.array_equal(X, before)


@pytest.mark.parametrize("steps", [[], ["scale01"], ["flatten"], ["scale01", "flatten"]])
def test_apply_never_returns_the_input_itself(rng, steps) -> None:
    """Steps that change nothing on float32 data: writing into the result must not alter the input,
    which is a data set's array that the cache and the harness share between fits."""
    X = rng.standard_normal((4, 1, 3, 3)).astype(np.float32)
    before = X.copy()
    out = apply(X, steps)
    assert not np.shares_memory(out, X)
    out[...] = 7.0
    assert np.array_equal(X, before)


def test_apply_does_not_copy_what_a_step_made_new(monkeypatch) -> None:
    """Only an aliased result is copied: scale01 of uint8 data is a new array, returned as it is."""
    made = []

    def recording_scale01(A: np.ndarray) -> np.ndarray:
        made.append(scale01(A))
        return made[-1]

    monkeypatch.setitem(STEPS, "scale01", recording_scale01)
    X = np.zeros((2, 1, 2, 2), dtype=np.uint8)
    out = apply(X, ["scale01"])
    assert out is made[0]


def test_downscale2_exact_mean_pooling() -> None:
    X = np.arange(2 * 1 * 4 * 4, dtype=np.float32).reshape(2, 1, 4, 4)
    out = downscale2(X)
    assert out.shape == (2, 1, 2, 2) and out.dtype == np.float32
    np.testing.assert_array_equal(out[0, 0], [[2.5, 4.5], [10.5, 12.5]])  # mean of (0,1,4,5), (2,3,6,7), ...
    np.testing.assert_array_equal(out[1, 0], out[0, 0] + 16)
    rgb = np.stack([np.full((4, 6), 1.0), np.full((4, 6), 3.0), np.zeros((4, 6))])[None].astype(np.float32)
    np.testing.assert_array_equal(downscale2(rgb)[0, :, 0, 0], [1.0, 3.0, 0.0])  # channels kept apart


def test_downscale2_in_a_pipeline_and_bad_input() -> None:
    X = np.full((3, 3, 128, 128), 255, dtype=np.uint8)
    out = apply(X, ["scale01", "downscale2", "zscore"])
    assert out.shape == (3, 3, 64, 64)
    with pytest.raises(ValueError, match="after 'scale01'"):
        apply(X, ["downscale2"])
    with pytest.raises(ValueError, match="even H and W"):
        downscale2(np.zeros((2, 1, 5, 4), dtype=np.float32))
    with pytest.raises(ValueError, match=r"\(n, C, H, W\)"):
        downscale2(np.zeros((2, 16), dtype=np.float32))
