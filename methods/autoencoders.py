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
from typing import Any, Sequence

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


ARCHITECTURES: dict[str, type[Autoencoder]] = {
    FeedforwardAutoencoder.arch: FeedforwardAutoencoder,
    LinearAutoencoder.arch: LinearAutoencoder,
}


def from_config(config: dict[str, Any]) -> Autoencoder:
    """Rebuild an (untrained) autoencoder from :meth:`Autoencoder.config`."""
    cfg = dict(config)
    arch = cfg.pop("arch")
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown autoencoder arch {arch!r}; valid: {', '.join(sorted(ARCHITECTURES))}")
    return ARCHITECTURES[arch](**cfg)
