"""Per-channel pixel statistics of NR-Objects renders against the ENRC authors' normalisation constants.

Why: the authors normalise their NR-Objects images (128 x 128, CLEVR's renderer with its
default settings) with a per-channel mean and std (BASELINES.md §6.3).  These two
numbers are the only measured description of their images we have, so comparing
them with ours says how close our renders are in brightness and contrast, and how
the camera framing moves them.

Usage (from the repository root)::

    python benchmark/scripts/render_stats.py --dataset                 # the cached 10,000-image data set
    python benchmark/scripts/render_stats.py --zoom 2.5 1 --n 180      # fresh renders at two framings

``--dataset`` reads (or renders, as ``nrbench render nrobjects`` would) the data set
with its default settings.  ``--zoom`` renders ``--n`` images per framing in this
process with the data set's label plan and jitter (seed ``--seed``): zoom 2.5 is the
data set's framing (lens 87.5 mm, aimed at the object's middle height), zoom 1 is
CLEVR's own (35 mm, aimed at the origin).  Needs bpy for ``--zoom``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from tqdm import tqdm

#: ENRC authors' per-channel (R, G, B) normalisation constants for NR-Objects on a [0, 1] scale (BASELINES.md §6.3).
AUTHORS_MEAN = (0.4490, 0.4362, 0.4286)
AUTHORS_STD = (0.1263, 0.1241, 0.1253)


def channel_stats(X: np.ndarray, channels: int = 3, chunk: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (population) std per channel of uint8 images ``X`` (n, C, H, W) on a [0, 1] scale.

    Only the first ``channels`` channels (RGB; NR-Objects' alpha is constant) are
    used.  Sums are accumulated in float64 over chunks of ``chunk`` images, so a
    10,000 x 4 x 128 x 128 data set needs no float copy of itself.
    """
    X = np.asarray(X)
    if X.ndim != 4:
        raise ValueError(f"X must be (n, C, H, W); got shape {X.shape}")
    if X.dtype != np.uint8:
        raise ValueError(f"X must be uint8 images; got dtype {X.dtype}")
    if not 1 <= channels <= X.shape[1]:
        raise ValueError(f"channels must be in 1..{X.shape[1]}; got {channels}")
    if X.shape[0] == 0:
        raise ValueError("X has no images")
    s = np.zeros(channels)
    s2 = np.zeros(channels)
    for i in range(0, X.shape[0], chunk):
        x = X[i:i + chunk, :channels].astype(np.float64) / 255.0
        s += x.sum(axis=(0, 2, 3))
        s2 += np.square(x).sum(axis=(0, 2, 3))
    count = X.shape[0] * X.shape[2] * X.shape[3]
    mean = s / count
    return mean, np.sqrt(np.maximum(s2 / count - mean ** 2, 0.0))


def _line(label: str, mean: np.ndarray, std: np.ndarray) -> str:
    fmt = " / ".join
    return (f"{label:<44} mean {fmt(f'{v:.3f}' for v in mean)}   std {fmt(f'{v:.3f}' for v in std)}"
            f"   std/mean {float(np.mean(np.asarray(std) / np.asarray(mean))):.3f}")


def render_framing(zoom: float, n: int, resolution: int, samples: int, seed: int, threads: int) -> np.ndarray:
    """``n`` NR-Objects images (the data set's plan for ``seed``) rendered at framing ``zoom``."""
    from generators.render import scene
    from generators.render.spec import CAMERA_TARGET, dataset_spec, plan_images
    from generators.render.worker import blender_stdout_silenced

    spec = dataset_spec("nrobjects")
    _, images = plan_images(spec, n, seed)
    target = (0.0, 0.0, 0.0) if zoom == 1.0 else CAMERA_TARGET
    with blender_stdout_silenced():
        r = scene.Renderer(spec, resolution, samples, threads, zoom=zoom, target=target)
        try:
            return np.stack([r.render(p) for p in tqdm(images, desc=f"render zoom {zoom:g}", leave=False)])
        finally:
            r.close()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", action="store_true", help="statistics of the cached nrobjects data set")
    ap.add_argument("--zoom", type=float, nargs="*", default=[],
                    help="render --n images at each framing zoom (2.5: the data set's; 1: CLEVR's)")
    ap.add_argument("--n", type=int, default=180, help="images per framing (default 180: 10 per combination)")
    ap.add_argument("--resolution", type=int, default=64)
    ap.add_argument("--samples", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    if not args.dataset and not args.zoom:
        ap.error("nothing to do: give --dataset and/or --zoom")
    if any(not z > 0 for z in args.zoom):
        ap.error(f"--zoom values must be > 0; got {args.zoom}")
    if args.n < 1:
        ap.error(f"--n must be >= 1; got {args.n}")
    print(_line("ENRC authors (128x128, BASELINES.md §6.3)", np.array(AUTHORS_MEAN), np.array(AUTHORS_STD)))
    if args.dataset:
        import generators

        ds = generators.get("nrobjects", progress=True)
        m, s = channel_stats(ds.X)
        print(_line(f"data set ({ds.X.shape[0]:,} images, {ds.X.shape[-1]}x{ds.X.shape[-1]})", m, s))
    for z in args.zoom:
        t0 = time.perf_counter()
        X = render_framing(z, args.n, args.resolution, args.samples, args.seed, args.threads)
        m, s = channel_stats(X)
        print(_line(f"zoom {z:g} ({args.n} renders, {args.resolution}x{args.resolution})", m, s)
              + f"   {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
