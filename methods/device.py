"""Device selection and seeding for the torch methods.

Deep methods use CUDA when it is available; the ``device=`` argument and the
``NRBENCH_DEVICE`` environment variable override (DESIGN.md "Devices").
"""

from __future__ import annotations

import os

import numpy as np
import torch

from benchmark.paths import ENV_DEVICE


def resolve_device(device: str | torch.device | None = None, *, check_available: bool = True) -> torch.device:
    """Pick the torch device: explicit argument, then ``$NRBENCH_DEVICE``, then CUDA if present, else CPU.

    A name torch does not know raises ``ValueError`` naming where it came from (``device=``
    or ``$NRBENCH_DEVICE``).  With ``check_available`` (the default), so does a CUDA request
    on a machine without CUDA, or a CUDA index it does not have, rather than silently running
    on the CPU; ``check_available=False`` checks the name only, for a device that another
    machine will use (the workers of a remote Dask cluster).  This is the one check of a
    device, which ``nrbench`` also runs at startup (:mod:`benchmark.environment`).
    """
    source = "device"
    if device is None or device == "auto":
        env = os.environ.get(ENV_DEVICE)
        source = f"${ENV_DEVICE}" if env else source
        device = env or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"{source}={device!r} is not a torch device (e.g. 'cpu', 'cuda', 'cuda:1'): {exc}") from None
    if check_available and dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"{source}={str(device)!r} was requested but CUDA is not available (valid here: 'cpu')")
        n = torch.cuda.device_count()
        if dev.index is not None and dev.index >= n:
            raise ValueError(f"{source}={str(device)!r} was requested but this machine has {n} CUDA "
                             f"device{'' if n == 1 else 's'} (valid: 'cuda', 'cuda:0' to 'cuda:{n - 1}')")
    return dev


#: Rows per forward pass when a method encodes or reconstructs a whole data set (no gradients).
#: Measured on 2 CPU cores, one thread (``benchmark/scripts/inference_chunk.py``): the conv AE at
#: 56x56 encodes and decodes 2,048 images in 18.0 s at 1,024 rows per pass but 5.7 s at 128, because
#: activations of hundreds of MB miss the caches and are freshly mapped (page faults) each pass;
#: the FC AE runs within 8% of its best (1,024 rows) at 128.  On CUDA large passes keep the GPU busy.
INFERENCE_ROWS = {"cpu": 128, "cuda": 1024}


def inference_rows(device: str | torch.device) -> int:
    """Rows per no-grad forward pass on ``device`` (:data:`INFERENCE_ROWS`; 1,024 on other accelerators)."""
    return INFERENCE_ROWS.get(torch.device(device).type, 1024)


def torch_generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A seeded torch RNG (no global RNG state is used by nrbench methods)."""
    g = torch.Generator(device=torch.device(device))
    g.manual_seed(int(seed) & 0xFFFF_FFFF_FFFF)
    return g


def seed_everything(seed: int) -> np.random.Generator:
    """Seed torch (for layer initialisation, which uses the global RNG) and return a numpy Generator.

    Also switches torch to deterministic algorithms so the same seed on the same
    device gives the same labels.
    """
    torch.manual_seed(int(seed))
    torch.use_deterministic_algorithms(True, warn_only=True)
    return np.random.default_rng(int(seed))
