"""Rows per no-grad forward pass: the measurement behind :data:`methods.device.INFERENCE_ROWS`.

Usage (from the repository root)::

    python benchmark/scripts/inference_chunk.py                # CPU, one thread
    python benchmark/scripts/inference_chunk.py --device cuda  # where a GPU exists

Encodes and decodes ``--n`` random inputs through the ENRC conv autoencoder
(1 x 56 x 56, the C-MNIST shape) and the DEC/ACe-DeC feedforward autoencoder
(784-d) in passes of each ``--rows`` size, and prints seconds per pass set and
images per second.  Whole-data-set encodes and reconstructions (``encode_all``,
the full-data objective after init and after training) use the best size.
"""

from __future__ import annotations

import argparse
import time

import torch

from methods.autoencoders import ConvResNetAutoencoder, FeedforwardAutoencoder
from methods.device import inference_rows, resolve_device


@torch.no_grad()
def time_passes(ae: torch.nn.Module, X: torch.Tensor, rows: int, device: torch.device) -> float:
    """Seconds to encode and decode all of X in passes of ``rows``."""
    ae(X[:rows].to(device))  # warm-up (allocator, kernel selection)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for i in range(0, len(X), rows):
        ae.decode(ae.encode(X[i:i + rows].to(device)))
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default=None, help="torch device (default: CUDA if present, else CPU)")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads on CPU (default 1)")
    p.add_argument("--n", type=int, default=2048, help="inputs per measurement (default 2048)")
    p.add_argument("--rows", type=int, nargs="+", default=[1024, 512, 256, 128, 64, 32])
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    dev = resolve_device(args.device)
    models = {"conv_resnet 1x56x56": (ConvResNetAutoencoder((1, 56, 56), embedding_dim=16), (1, 56, 56)),
              "feedforward 784": (FeedforwardAutoencoder((784,), embedding_dim=10), (784,))}
    print(f"device={dev} threads={args.threads} n={args.n} default rows={inference_rows(dev)}")
    for name, (ae, shape) in models.items():
        ae = ae.to(dev).eval()
        X = torch.randn(args.n, *shape)
        for rows in args.rows:
            s = time_passes(ae, X, rows, dev)
            print(f"{name:22s} rows={rows:5d} {s:8.2f} s {args.n / s:9.1f} images/s", flush=True)


if __name__ == "__main__":
    main()
