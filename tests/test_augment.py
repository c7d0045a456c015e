"""Augmenter: identity at zero settings, determinism under a seed, shift geometry, bad input."""

from __future__ import annotations

import pytest
import torch

from methods.augment import Augmenter


def _blob(b: int = 3, c: int = 1, h: int = 24, w: int = 24) -> torch.Tensor:
    x = torch.zeros(b, c, h, w)
    x[:, :, 9:15, 8:14] = 1.0
    return x


def _centre_of_mass(x: torch.Tensor) -> torch.Tensor:
    """(b, 2) centre of mass (x, y) in pixels of the first channel."""
    img = x[:, 0]
    h, w = img.shape[1:]
    mass = img.sum((1, 2))
    cx = (img.sum(1) * torch.arange(w, dtype=img.dtype)).sum(1) / mass
    cy = (img.sum(2) * torch.arange(h, dtype=img.dtype)).sum(1) / mass
    return torch.stack([cx, cy], 1)


def test_zero_settings_are_identity() -> None:
    x = torch.rand(4, 3, 20, 32, generator=torch.Generator().manual_seed(0))
    aug = Augmenter(rotation=0, shift=0, zoom=0, lighting=0, seed=3)
    y = aug(x)
    assert y.shape == x.shape and y.dtype == x.dtype
    torch.testing.assert_close(y, x, atol=1e-5, rtol=0)


def test_same_seed_same_output_different_seed_differs() -> None:
    x = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    a1, a2, a3 = (Augmenter(rotation=15, shift=0.1, zoom=0.1, lighting=0.2, seed=s) for s in (5, 5, 6))
    y1, y2, y3 = a1(x), a2(x), a3(x)
    assert torch.equal(y1, y2)
    assert not torch.allclose(y1, y3)
    # successive calls draw new parameters
    assert not torch.allclose(a1(x), y1)


def test_shift_moves_centre_of_mass_by_expected_pixels() -> None:
    x = _blob(b=6, h=24, w=32)
    aug = Augmenter(rotation=0, shift=0.15, zoom=0, seed=11)
    y = aug(x)
    shift = aug.last_params["shift"]
    expected = shift * torch.tensor([32.0, 24.0])  # content moves by dx*W right, dy*H down
    moved = _centre_of_mass(y) - _centre_of_mass(x)
    torch.testing.assert_close(moved, expected, atol=0.05, rtol=0)
    assert (shift.abs() > 0.01).any()


def test_integer_shift_is_exact_translation() -> None:
    x = _blob(b=1)
    aug = Augmenter(rotation=0, shift=0, zoom=0)
    y = aug.apply(x, angle=torch.zeros(1), shift=torch.tensor([[3 / 24, -2 / 24]]), scale=torch.ones(1))
    torch.testing.assert_close(y[:, :, 7:13, 11:17], torch.ones(1, 1, 6, 6), atol=1e-5, rtol=0)
    assert float(y.sum()) == pytest.approx(float(x.sum()), abs=1e-4)


def test_rotation_preserves_centre_and_mass_of_centred_blob() -> None:
    x = torch.zeros(1, 1, 21, 21)
    x[:, :, 8:13, 6:15] = 1.0  # centred 5x9 bar
    aug = Augmenter()
    y = aug.apply(x, angle=torch.tensor([90.0]), shift=torch.zeros(1, 2), scale=torch.ones(1))
    torch.testing.assert_close(_centre_of_mass(y), _centre_of_mass(x), atol=1e-3, rtol=0)
    # a quarter turn makes the horizontal bar vertical
    torch.testing.assert_close(y[0, 0], x[0, 0].T, atol=1e-4, rtol=0)


def test_zoom_scales_extent() -> None:
    x = torch.zeros(1, 1, 40, 40)
    x[:, :, 15:25, 15:25] = 1.0
    aug = Augmenter()
    y = aug.apply(x, angle=torch.zeros(1), shift=torch.zeros(1, 2), scale=torch.tensor([1.2]))
    assert float(y.sum()) == pytest.approx(100 * 1.2 ** 2, rel=0.03)


def test_lighting_changes_brightness_and_contrast_only() -> None:
    x = torch.rand(2, 1, 10, 10, generator=torch.Generator().manual_seed(0))
    aug = Augmenter()
    z = torch.zeros(2)
    y = aug.apply(x, angle=z, shift=torch.zeros(2, 2), scale=torch.ones(2),
                  contrast=torch.tensor([2.0, 1.0]), brightness=torch.tensor([0.0, 1.0]))
    m = x.mean((1, 2, 3))
    sd = x.flatten(1).std(1, unbiased=False)
    torch.testing.assert_close(y[0], m[0] + 2 * (x[0] - m[0]), atol=1e-5, rtol=0)
    torch.testing.assert_close(y[1], x[1] + sd[1], atol=1e-5, rtol=0)


def test_lighting_leaves_a_constant_channel_constant_and_uses_the_varying_channels_statistics() -> None:
    # an RGBA-like image: three varying colour channels and an opaque (constant) alpha
    g = torch.Generator().manual_seed(1)
    rgb = torch.rand(2, 3, 6, 6, generator=g)
    x = torch.cat([rgb, torch.full((2, 1, 6, 6), 0.7)], 1)
    aug = Augmenter()
    c, br = torch.tensor([1.5, 0.8]), torch.tensor([0.3, -0.2])
    y = aug.apply(x, angle=torch.zeros(2), shift=torch.zeros(2, 2), scale=torch.ones(2), contrast=c, brightness=br)
    torch.testing.assert_close(y[:, 3], x[:, 3], atol=1e-6, rtol=0)  # alpha untouched (warp rounding only)
    m = rgb.mean((1, 2, 3))
    sd = rgb.flatten(1).std(1, unbiased=False)
    want = m[:, None, None, None] + c[:, None, None, None] * (rgb - m[:, None, None, None]) \
        + (br * sd)[:, None, None, None]
    torch.testing.assert_close(y[:, :3], want, atol=1e-5, rtol=0)
    # the same colour channels without the alpha channel get the same result
    y3 = aug.apply(rgb, angle=torch.zeros(2), shift=torch.zeros(2, 2), scale=torch.ones(2), contrast=c, brightness=br)
    torch.testing.assert_close(y[:, :3], y3, atol=1e-6, rtol=0)


def test_flat_input_needs_image_shape() -> None:
    x = torch.rand(2, 784)
    with pytest.raises(ValueError, match="image_shape"):
        Augmenter()(x)
    y = Augmenter(image_shape=(1, 28, 28), rotation=0, shift=0, zoom=0)(x)
    assert y.shape == (2, 784)
    torch.testing.assert_close(y, x, atol=1e-5, rtol=0)


@pytest.mark.parametrize("kwargs,match", [({"rotation": -1}, "rotation"), ({"shift": 2}, "shift"),
                                          ({"zoom": 1.5}, "zoom"), ({"lighting": -0.1}, "lighting")])
def test_bad_settings(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Augmenter(**kwargs)
