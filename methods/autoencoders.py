"""Autoencoder architectures shared by every deep method.

All autoencoders subclass :class:`Autoencoder`, which fixes the contract the
clustering methods rely on:

- ``input_shape``: the per-sample shape the network accepts, e.g. ``(784,)`` or
  ``(1, 56, 56)``; ``encode`` and ``forward`` accept a batch of that shape;
- ``embedding_dim``: the size of the embedding (the ``D`` of ENRC, the ``d`` of
  ACe/DeC);
- ``encode(x) -> z`` of shape ``(batch, embedding_dim)``;
- ``decode(z) -> x_hat`` of shape ``(batch, *input_shape)``;
- ``config()``: JSON-serialisable constructor arguments, so ``from_config``
  rebuilds the same architecture for the on-disk cache.

Architectures:

- :class:`FeedforwardAutoencoder`: d -> 500 -> 500 -> 2000 -> k (DEC; ACe/DeC §4).
- :class:`LinearAutoencoder`: one linear layer each way, embedding = input size
  (ACe/DeC's SYNTH experiments).
- :class:`ConvResNetAutoencoder`: the ENRC convolutional ResNet (BASELINES.md §6.2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn


class Autoencoder(nn.Module):
    """Base class: an encoder/decoder pair with a fixed input shape and embedding size."""

    arch: str = "base"

    def __init__(self, input_shape: Sequence[int], embedding_dim: int) -> None:
        super().__init__()
        self.input_shape = tuple(int(s) for s in input_shape)
        self.embedding_dim = int(embedding_dim)
        if any(s <= 0 for s in self.input_shape):
            raise ValueError(f"input_shape must be positive; got {self.input_shape}")
        if self.embedding_dim <= 0:
            raise ValueError(f"embedding_dim must be positive; got {embedding_dim}")

    @property
    def input_dim(self) -> int:
        """Number of input features (product of ``input_shape``)."""
        return int(math.prod(self.input_shape))

    def encode(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """Map a batch ``(b, *input_shape)`` to embeddings ``(b, embedding_dim)``."""
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """Map embeddings ``(b, embedding_dim)`` back to ``(b, *input_shape)``."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction ``decode(encode(x))``."""
        return self.decode(self.encode(x))

    def config(self) -> dict[str, Any]:
        """Constructor arguments (JSON-serialisable) plus the architecture name."""
        return {"arch": self.arch, "input_shape": list(self.input_shape), "embedding_dim": self.embedding_dim}

    def check_input(self, X: Any, name: str = "X") -> None:
        """Raise ``ValueError`` when X's per-sample shape does not match ``input_shape``.

        Flat input of the right total size is accepted for flat architectures.
        """
        shape = tuple(X.shape[1:])
        if shape != self.input_shape and not (len(self.input_shape) == 1 and math.prod(shape) == self.input_dim):
            raise ValueError(
                f"autoencoder: its input shape {self.input_shape} does not match {name} with samples of shape {shape}"
            )


class FeedforwardAutoencoder(Autoencoder):
    """The DEC/ACe-DeC fully connected autoencoder: d -> 500 -> 500 -> 2000 -> k, ReLU.

    The embedding layer and the output layer are linear, as in DEC (Xie et al.
    2016) and ACe/DeC §4 ("embedding size 10").  Input of any per-sample shape is
    flattened; ``decode`` restores ``input_shape``.
    """

    arch = "feedforward"

    def __init__(self, input_shape: Sequence[int] | int, embedding_dim: int = 10,
                 hidden: Sequence[int] = (500, 500, 2000)) -> None:
        if isinstance(input_shape, int):
            input_shape = (input_shape,)
        super().__init__(input_shape, embedding_dim)
        self.hidden = tuple(int(h) for h in hidden)
        if any(h <= 0 for h in self.hidden):  # a zero-width layer makes the embedding a constant
            raise ValueError(f"hidden widths must be positive; got {self.hidden}")
        dims = [self.input_dim, *self.hidden]
        enc: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:]):
            enc += [nn.Linear(a, b), nn.ReLU()]
        enc.append(nn.Linear(dims[-1], self.embedding_dim))
        dec: list[nn.Module] = []
        rdims = [self.embedding_dim, *reversed(self.hidden)]
        for a, b in zip(rdims[:-1], rdims[1:]):
            dec += [nn.Linear(a, b), nn.ReLU()]
        dec.append(nn.Linear(rdims[-1], self.input_dim))
        self.encoder = nn.Sequential(*enc)
        self.decoder = nn.Sequential(*dec)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x.reshape(x.shape[0], -1))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z).reshape(z.shape[0], *self.input_shape)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "hidden": list(self.hidden)}


class LinearAutoencoder(Autoencoder):
    """A single linear layer each way; the embedding has the input's size (ACe/DeC SYNTH setting)."""

    arch = "linear"

    def __init__(self, input_shape: Sequence[int] | int, embedding_dim: int | None = None) -> None:
        if isinstance(input_shape, int):
            input_shape = (input_shape,)
        dim = int(math.prod(input_shape))
        super().__init__(input_shape, embedding_dim if embedding_dim is not None else dim)
        self.encoder = nn.Linear(self.input_dim, self.embedding_dim)
        self.decoder = nn.Linear(self.embedding_dim, self.input_dim)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x.reshape(x.shape[0], -1))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z).reshape(z.shape[0], *self.input_shape)


def _conv_layer(c_in: int, c_out: int, stride: int = 1, transpose: bool = False) -> nn.Sequential:
    """fastai-v1 style ``conv_layer``: 3x3 conv (or 4x4 stride-2 transposed conv) -> LeakyReLU(0.1) -> BatchNorm."""
    if transpose and stride == 2:
        conv: nn.Module = nn.ConvTranspose2d(c_in, c_out, kernel_size=4, stride=2, padding=1, bias=False)
    elif transpose or stride == 1:
        conv = nn.Conv2d(c_in, c_out, kernel_size=3, stride=1, padding=1, bias=False)
    else:
        conv = nn.Conv2d(c_in, c_out, kernel_size=3, stride=stride, padding=1, bias=False)
    return nn.Sequential(conv, nn.LeakyReLU(0.1), nn.BatchNorm2d(c_out))


class _ResBlock(nn.Module):
    """``x + conv_layer(conv_layer(x))`` at constant width and resolution (fastai ``res_block``)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv_layer(width, width), _conv_layer(width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ConvResNetAutoencoder(Autoencoder):
    """The ENRC convolutional ResNet autoencoder (BASELINES.md §6.2-6.4).

    Encoder: for each width ``w_i`` with stride ``s_i`` (defaults 8,16,32,64,128 and
    1,2,2,2,2; the first is the 3x3 stride-1 stem) a ``conv_layer`` (3x3 conv ->
    LeakyReLU(0.1) -> BatchNorm), ``Dropout2d(dropout)`` and a residual block;
    then global average pooling, ``Dropout(dropout)`` and a linear layer to the
    ``embedding_dim`` (16) code, without BatchNorm.

    Decoder (the mirror): a linear layer from the code to ``w_last`` channels at
    the encoder's final resolution, then for each encoder layer in reverse a 4x4
    stride-2 transposed conv (3x3 conv where the stride was 1) -> LeakyReLU ->
    BatchNorm, ``Dropout2d`` and a residual block, and a final linear 3x3 conv to
    the input channels.  The decoded map is at least the input size (a multiple
    of the total stride) and is centre-cropped to it: 56x56 decodes at 64x64 and
    loses 4 px at each border, as in the authors' C-MNIST network.

    Works for any ``(C, H, W)``; tested on 1-, 3- and 4-channel images of
    20x20 to 128x128.
    """

    arch = "conv_resnet"

    def __init__(self, input_shape: Sequence[int], embedding_dim: int = 16,
                 widths: Sequence[int] = (8, 16, 32, 64, 128), strides: Sequence[int] = (1, 2, 2, 2, 2),
                 dropout: float = 0.1) -> None:
        super().__init__(input_shape, embedding_dim)
        if len(self.input_shape) != 3:
            raise ValueError(f"input_shape must be (C, H, W) for conv_resnet; got {self.input_shape}")
        self.widths = tuple(int(w) for w in widths)
        self.strides = tuple(int(s) for s in strides)
        if not self.widths or any(w <= 0 for w in self.widths):
            raise ValueError(f"widths must be positive; got {self.widths}")
        if len(self.strides) != len(self.widths) or any(s not in (1, 2) for s in self.strides):
            raise ValueError(f"strides must have one entry (1 or 2) per width; got {self.strides}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1); got {dropout}")
        self.dropout = float(dropout)
        c, h, w = self.input_shape
        enc: list[nn.Module] = []
        c_prev = c
        for width, stride in zip(self.widths, self.strides):
            enc += [_conv_layer(c_prev, width, stride), nn.Dropout2d(self.dropout), _ResBlock(width)]
            c_prev = width
            if stride == 2:
                h, w = (h + 1) // 2, (w + 1) // 2
        self.code_hw = (h, w)
        self.encoder_conv = nn.Sequential(*enc)
        self.encoder_head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(self.dropout),
                                          nn.Linear(self.widths[-1], self.embedding_dim))
        self.decoder_head = nn.Linear(self.embedding_dim, self.widths[-1] * h * w)
        dec: list[nn.Module] = []
        for i in reversed(range(len(self.widths))):
            c_out = self.widths[i - 1] if i > 0 else self.widths[0]
            dec += [_conv_layer(self.widths[i], c_out, self.strides[i], transpose=True),
                    nn.Dropout2d(self.dropout), _ResBlock(c_out)]
        dec.append(nn.Conv2d(self.widths[0], c, kernel_size=3, padding=1))
        self.decoder_conv = nn.Sequential(*dec)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder_head(self.encoder_conv(x.reshape(x.shape[0], *self.input_shape)))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        h, w = self.code_hw
        out = self.decoder_conv(self.decoder_head(z).reshape(z.shape[0], self.widths[-1], h, w))
        H, W = self.input_shape[1:]
        top, left = (out.shape[2] - H) // 2, (out.shape[3] - W) // 2
        return out[:, :, top:top + H, left:left + W]

    def config(self) -> dict[str, Any]:
        return {**super().config(), "widths": list(self.widths), "strides": list(self.strides),
                "dropout": self.dropout}


ARCHITECTURES: dict[str, type[Autoencoder]] = {
    FeedforwardAutoencoder.arch: FeedforwardAutoencoder,
    LinearAutoencoder.arch: LinearAutoencoder,
    ConvResNetAutoencoder.arch: ConvResNetAutoencoder,
}


def from_config(config: dict[str, Any]) -> Autoencoder:
    """Rebuild an (untrained) autoencoder from :meth:`Autoencoder.config`."""
    cfg = dict(config)
    arch = cfg.pop("arch")
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown autoencoder arch {arch!r}; valid: {', '.join(sorted(ARCHITECTURES))}")
    return ARCHITECTURES[arch](**cfg)
