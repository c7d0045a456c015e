"""Autoencoder architectures: shapes for every supported image size, config round trip, bad input."""

from __future__ import annotations

import pytest
import torch

from methods.autoencoders import (
    ARCHITECTURES,
    ConvResNetAutoencoder,
    FeedforwardAutoencoder,
    LinearAutoencoder,
    from_config,
)

IMAGE_SHAPES = [(c, s, s) for s in (20, 32, 56, 64, 128) for c in (1, 3, 4)]


@pytest.mark.parametrize("shape", IMAGE_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_conv_resnet_decode_encode_shape(shape: tuple[int, int, int]) -> None:
    torch.manual_seed(0)
    ae = ConvResNetAutoencoder(shape, widths=(4, 8, 8, 8, 8)).eval()
    x = torch.randn(2, *shape)
    with torch.no_grad():
        z = ae.encode(x)
        xr = ae.decode(z)
    assert z.shape == (2, 16)
    assert xr.shape == x.shape
    assert torch.isfinite(xr).all()


def test_conv_resnet_default_widths_and_crop() -> None:
    """Default ENRC widths; 56x56 decodes at 64x64 and is centre-cropped (4 px per border)."""
    ae = ConvResNetAutoencoder((1, 56, 56))
    assert ae.widths == (8, 16, 32, 64, 128) and ae.strides == (1, 2, 2, 2, 2)
    assert ae.code_hw == (4, 4)
    assert ae.embedding_dim == 16
    with torch.no_grad():
        assert ae.eval()(torch.zeros(1, 1, 56, 56)).shape == (1, 1, 56, 56)
    # rectangular input works too
    ae2 = ConvResNetAutoencoder((1, 28, 56), widths=(4, 4, 4, 4, 4)).eval()
    with torch.no_grad():
        assert ae2(torch.zeros(3, 1, 28, 56)).shape == (3, 1, 28, 56)


def test_conv_resnet_dropout_only_in_train_mode() -> None:
    torch.manual_seed(0)
    ae = ConvResNetAutoencoder((1, 20, 20), widths=(4, 4, 4, 4, 4), dropout=0.5)
    x = torch.randn(4, 1, 20, 20)
    ae.eval()
    with torch.no_grad():
        assert torch.equal(ae.encode(x), ae.encode(x))
    ae.train()
    with torch.no_grad():
        assert not torch.equal(ae.encode(x), ae.encode(x))


@pytest.mark.parametrize("cls,args", [
    (ConvResNetAutoencoder, {"input_shape": (3, 32, 32), "embedding_dim": 12, "widths": (4, 8, 8, 8, 8), "dropout": 0.2}),
    (FeedforwardAutoencoder, {"input_shape": (1, 28, 28), "embedding_dim": 10, "hidden": (16, 8)}),
    (LinearAutoencoder, {"input_shape": 27}),
])
def test_from_config_round_trip(cls: type, args: dict) -> None:
    torch.manual_seed(0)
    ae = cls(**args)
    assert ae.arch in ARCHITECTURES
    ae2 = from_config(ae.config())
    assert type(ae2) is cls and ae2.config() == ae.config()
    ae2.load_state_dict(ae.state_dict())  # identical parameter layout


def test_feedforward_dec_architecture() -> None:
    ae = FeedforwardAutoencoder((1, 28, 28))
    linears = [m for m in ae.encoder if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(784, 500), (500, 500), (500, 2000), (2000, 10)]
    with torch.no_grad():
        assert ae(torch.zeros(2, 1, 28, 28)).shape == (2, 1, 28, 28)


@pytest.mark.parametrize("kwargs,match", [
    ({"input_shape": (784,)}, "input_shape"),
    ({"input_shape": (1, 20, 20), "strides": (1, 2, 3, 2, 2)}, "strides"),
    ({"input_shape": (1, 20, 20), "strides": (1, 2)}, "strides"),
    ({"input_shape": (1, 20, 20), "dropout": 1.5}, "dropout"),
    ({"input_shape": (1, 20, 20), "embedding_dim": 0}, "embedding_dim"),
    ({"input_shape": (1, 20, 20), "widths": ()}, "widths"),
])
def test_conv_resnet_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ConvResNetAutoencoder(**kwargs)


def test_from_config_unknown_arch() -> None:
    with pytest.raises(ValueError, match="unknown autoencoder arch"):
        from_config({"arch": "transformer", "input_shape": [4]})


def test_inference_rows_per_device_and_encode_all_independent_of_it() -> None:
    """Whole-data passes use 128 rows on CPU (measured fastest, benchmark/scripts/inference_chunk.py) and
    1,024 on CUDA; the embedding does not depend on the pass size (eval mode: rows are independent)."""
    import numpy as np

    from methods.base import encode_all
    from methods.device import INFERENCE_ROWS, inference_rows

    assert inference_rows("cpu") == INFERENCE_ROWS["cpu"] == 128
    assert inference_rows(torch.device("cuda")) == 1024
    assert inference_rows("meta") == 1024
    torch.manual_seed(0)
    ae = ConvResNetAutoencoder((1, 20, 20), embedding_dim=4).eval()
    X = np.random.default_rng(0).normal(size=(300, 1, 20, 20)).astype(np.float32)
    default = encode_all(ae, X)
    assert default.shape == (300, 4)
    np.testing.assert_allclose(default, encode_all(ae, X, batch_size=300), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(default, encode_all(ae, X, batch_size=7), rtol=1e-4, atol=1e-5)


def test_resolve_device_order_and_bad_names(monkeypatch) -> None:
    """Explicit argument, then $NRBENCH_DEVICE, then CUDA if present; bad names are a ValueError naming the source."""
    from methods.device import resolve_device

    monkeypatch.delenv("NRBENCH_DEVICE", raising=False)
    assert resolve_device().type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("NRBENCH_DEVICE", "cpu")
    assert resolve_device() == torch.device("cpu") and resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ValueError, match=r"^device='gpu0' is not a torch device"):
        resolve_device("gpu0")
    monkeypatch.setenv("NRBENCH_DEVICE", "gpu0")
    with pytest.raises(ValueError, match=r"^\$NRBENCH_DEVICE='gpu0' is not a torch device"):
        resolve_device()
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match=r"device='cuda' was requested but CUDA is not available"):
            resolve_device("cuda")


def test_resolve_device_checks_the_cuda_index_here_and_only_the_name_for_elsewhere(monkeypatch) -> None:
    """A CUDA index the machine lacks is refused like CUDA itself; check_available=False (a device another
    machine will use) checks the name only."""
    from methods.device import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("cuda:1") == torch.device("cuda:1")
    monkeypatch.setenv("NRBENCH_DEVICE", "cuda:2")
    with pytest.raises(ValueError, match=r"^\$NRBENCH_DEVICE='cuda:2' was requested but this machine has 2 CUDA "
                                         r"devices \(valid: 'cuda', 'cuda:0' to 'cuda:1'\)$"):
        resolve_device()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device(check_available=False) == torch.device("cuda:2")
    with pytest.raises(ValueError, match="is not a torch device"):
        resolve_device("gpu0", check_available=False)


@pytest.mark.parametrize("hidden", [(0,), (8, -4)])
def test_feedforward_refuses_non_positive_hidden_widths(hidden) -> None:
    # hidden=(0,) built a network whose embedding did not depend on x, and pretrain() trained it silently
    with pytest.raises(ValueError, match="hidden widths must be positive"):
        FeedforwardAutoencoder(6, embedding_dim=4, hidden=hidden)
