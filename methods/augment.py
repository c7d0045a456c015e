"""Random image augmentation on torch tensors: rotation, shift, zoom and lighting.

Used by autoencoder pretraining (ENRC §3.2: "image augmentation (rotation,
lighting, zooming)"; BASELINES.md §6.2) and by ACe/DeC+Aug (ACe/DeC §2.2:
``x_aug = f(x)``, "e.g., by rotating it"; PROTOCOL.md: random rotation and shift).

One affine warp per image, sampled independently for each image of the batch
from the augmenter's own seeded ``torch.Generator`` (no global RNG state):

- rotation angle ``a ~ U[-rotation, rotation]`` degrees about the image centre;
- shift ``(dx, dy) ~ U[-shift, shift]`` as a fraction of the width/height: the
  content moves by ``dx * W`` pixels to the right and ``dy * H`` pixels down;
- zoom factor ``s ~ U[1 - zoom, 1 + zoom]`` (``s > 1`` enlarges the content);
- lighting (brightness/contrast): ``x' = m + c (x - m) + b * sd`` with the image's
  own mean ``m`` and standard deviation ``sd``, ``c ~ U[1 - lighting, 1 + lighting]``
  and ``b ~ U[-lighting, lighting]``, so it is independent of how the data were
  scaled (``scale01`` or ``zscore``).  ``m``, ``sd`` and the change cover only the
  channels that vary within the image: a constant channel, such as the opaque alpha
  of an RGBA render, stays constant (as under fastai's logit-space lighting, which
  ENRC's pretraining used; BASELINES.md §6.3).

Pixels that come from outside the image repeat the border (``padding_mode="border"``),
which keeps a constant background constant under either preprocessing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from methods.device import torch_generator


class Augmenter:
    """A seeded random augmentation ``x_batch -> x_aug`` of the same shape.

    ``x_batch`` is ``(b, C, H, W)``, ``(b, H, W)`` or flat ``(b, C*H*W)`` when
    ``image_shape=(C, H, W)`` is given.  Calling it twice draws new parameters;
    the parameters of the last call are kept in ``last_params`` for inspection.
    """

    def __init__(self, rotation: float = 15.0, shift: float = 0.1, zoom: float = 0.1, lighting: float = 0.0,
                 seed: int = 0, device: str | torch.device = "cpu",
                 image_shape: Sequence[int] | None = None) -> None:
        for name, val, hi in (("rotation", rotation, 180.0), ("shift", shift, 1.0), ("zoom", zoom, 0.99),
                              ("lighting", lighting, 0.99)):
            if not (0.0 <= float(val) <= hi):
                raise ValueError(f"{name} must be in [0, {hi}]; got {val}")
        self.rotation = float(rotation)
        self.shift = float(shift)
        self.zoom = float(zoom)
        self.lighting = float(lighting)
        self.seed = int(seed)
        self.device = torch.device(device)
        self.image_shape = tuple(int(s) for s in image_shape) if image_shape is not None else None
        if self.image_shape is not None and len(self.image_shape) not in (2, 3):
            raise ValueError(f"image_shape must be (C, H, W) or (H, W); got {self.image_shape}")
        self.generator = torch_generator(self.seed, self.device)
        self.last_params: dict[str, torch.Tensor] | None = None

    def config(self) -> dict[str, Any]:
        """The settings (not the seed or device): part of the pretraining cache key."""
        cfg: dict[str, Any] = {"rotation": self.rotation, "shift": self.shift, "zoom": self.zoom,
                               "lighting": self.lighting}
        if self.image_shape is not None:
            cfg["image_shape"] = list(self.image_shape)
        return cfg

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"Augmenter({args}, seed={self.seed})"

    # ------------------------------------------------------------------ sampling
    def _uniform(self, b: int, half_width: float, centre: float = 0.0) -> torch.Tensor:
        u = torch.rand(b, generator=self.generator, device=self.device)
        return centre + (2.0 * u - 1.0) * half_width

    def sample_params(self, b: int) -> dict[str, torch.Tensor]:
        """Draw per-image parameters: ``angle`` (deg), ``shift`` (b, 2) fractions (x, y), ``scale``, ``contrast``, ``brightness``."""
        return {
            "angle": self._uniform(b, self.rotation),
            "shift": torch.stack([self._uniform(b, self.shift), self._uniform(b, self.shift)], 1),
            "scale": self._uniform(b, self.zoom, 1.0),
            "contrast": self._uniform(b, self.lighting, 1.0),
            "brightness": self._uniform(b, self.lighting),
        }

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Augment a batch with freshly drawn parameters; the output has x's shape and dtype."""
        params = self.sample_params(x.shape[0])
        self.last_params = params
        p = {k: v.to(x.device) for k, v in params.items()}
        return self.apply(x, **p)

    # ------------------------------------------------------------------ transform
    def _as_images(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 4:
            return x
        if x.ndim == 3:
            return x.unsqueeze(1)
        if x.ndim == 2:
            if self.image_shape is None:
                raise ValueError("x is flat (b, d): construct the Augmenter with image_shape=(C, H, W)")
            shp = self.image_shape if len(self.image_shape) == 3 else (1, *self.image_shape)
            if math.prod(shp) != x.shape[1]:
                raise ValueError(f"x has {x.shape[1]} features but image_shape {self.image_shape} has {math.prod(shp)}")
            return x.reshape(x.shape[0], *shp)
        raise ValueError(f"x must be (b, C, H, W), (b, H, W) or (b, d); got shape {tuple(x.shape)}")

    def apply(self, x: torch.Tensor, angle: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor,
              contrast: torch.Tensor | None = None, brightness: torch.Tensor | None = None) -> torch.Tensor:
        """Apply given per-image parameters (see :meth:`sample_params`) deterministically."""
        img = self._as_images(x)
        b, _, h, w = img.shape
        dtype = img.dtype if img.is_floating_point() else torch.float32
        img = img.to(dtype)
        a = angle.to(dtype) * (math.pi / 180.0)
        s = scale.to(dtype)
        cos, sin = torch.cos(a) / s, torch.sin(a) / s
        # affine_grid maps output coords to input coords (normalised to [-1, 1]):
        # in = R(-a)/s (out - t); content therefore rotates by +a, scales by s, moves by t.
        tx = 2.0 * shift[:, 0].to(dtype)
        ty = 2.0 * shift[:, 1].to(dtype)
        # pixel aspect: normalised x and y have different pixel sizes when H != W
        rx, ry = w / max(h, w), h / max(h, w)
        theta = torch.zeros(b, 2, 3, dtype=dtype, device=img.device)
        theta[:, 0, 0] = cos
        theta[:, 0, 1] = sin * ry / rx
        theta[:, 1, 0] = -sin * rx / ry
        theta[:, 1, 1] = cos
        theta[:, 0, 2] = -(theta[:, 0, 0] * tx + theta[:, 0, 1] * ty)
        theta[:, 1, 2] = -(theta[:, 1, 0] * tx + theta[:, 1, 1] * ty)
        grid = F.affine_grid(theta, list(img.shape), align_corners=False)
        out = F.grid_sample(img, grid, mode="bilinear", padding_mode="border", align_corners=False)
        if contrast is not None and brightness is not None:
            # lighting acts on the channels that vary within the image; a constant channel (the
            # opaque alpha of NR-Objects' RGBA renders) stays constant, as under fastai's
            # logit-space lighting, where alpha = 1 is a fixed point
            ch = out.reshape(b, out.shape[1], -1)
            hi, lo = ch.amax(2), ch.amin(2)  # (b, C); the warp's bilinear rounding is ~1e-7
            varies = (hi - lo > 1e-5 * (1.0 + hi.abs())).to(dtype)[:, :, None]  # (b, C, 1)
            npix = (varies.sum(1) * ch.shape[2]).clamp_min(1.0)  # (b, 1)
            m = (ch * varies).sum((1, 2)) / npix[:, 0]
            sd = ((((ch - m[:, None, None]) * varies) ** 2).sum((1, 2)) / npix[:, 0]).sqrt()
            c = contrast.to(dtype)
            br = brightness.to(dtype)
            lit = m[:, None, None] + c[:, None, None] * (ch - m[:, None, None]) + (br * sd)[:, None, None]
            out = torch.where(varies.bool(), lit, ch).reshape(out.shape)
        return out.reshape(x.shape).to(x.dtype if x.is_floating_point() else dtype)
