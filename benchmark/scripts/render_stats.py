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
CLEVR's own (35 mm, aimed at the origin).  Needs bpy for ``--zoom`` and ``--lighting``.

``--lighting GROUND,WORLD,SCALE ...`` renders ``--n`` images at the data set's framing
per lighting: the ground's albedo (data set 0.5), the strength of the ambient
surroundings (0.35) and a factor on the three area lights' power (1)::

    python benchmark/scripts/render_stats.py --lighting 0.5,0.35,1 0.4,0,1.3 --n 2000 --structure

``--structure`` also reports, for every set of images, what a clustering of the
pixels would favour: the between-class share of the scatter (z-transformed pixels,
:func:`benchmark.metrics.between_class_share`) of colour, material, shape and of the
6-valued material x shape labels that compete with colour's 6 clusters; the NMI of
k-means (6 clusters, top ``--pcs`` principal components) against colour and against
material x shape; and the NMI of NrKmeans (6, 2, 3 clusters) on the same components.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

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


def parse_lighting(text: str) -> tuple[float, float, float]:
    """``"GROUND,WORLD,SCALE"`` -> three floats (``Renderer``'s ground_gray, world_strength, light_scale)."""
    parts = text.split(",")
    try:
        vals = tuple(float(v) for v in parts)
    except ValueError:
        vals = ()
    if len(vals) != 3:
        raise argparse.ArgumentTypeError(f"lighting must be GROUND,WORLD,SCALE (three numbers); got {text!r}")
    g, w, k = vals
    if not (0.0 <= g <= 1.0 and w >= 0.0 and k > 0.0):
        raise argparse.ArgumentTypeError(f"lighting needs 0 <= GROUND <= 1, WORLD >= 0, SCALE > 0; got {text!r}")
    return vals


def render_framing(zoom: float, n: int, resolution: int, samples: int, seed: int, threads: int,
                   lighting: tuple[float, float, float] | None = None) -> np.ndarray:
    """``n`` NR-Objects images (the data set's plan for ``seed``) rendered at framing ``zoom``.

    ``lighting`` = (ground gray, world strength, area-light scale); None keeps the data set's.
    """
    from generators.render import scene
    from generators.render.spec import CAMERA_TARGET, dataset_spec, plan_images
    from generators.render.worker import blender_stdout_silenced

    spec = dataset_spec("nrobjects")
    _, images = plan_images(spec, n, seed)
    target = (0.0, 0.0, 0.0) if zoom == 1.0 else CAMERA_TARGET
    light = {} if lighting is None else dict(zip(("ground_gray", "world_strength", "light_scale"), lighting))
    with blender_stdout_silenced():
        r = scene.Renderer(spec, resolution, samples, threads, zoom=zoom, target=target, **light)
        try:
            return np.stack([r.render(p) for p in tqdm(images, desc=f"render zoom {zoom:g}", leave=False)])
        finally:
            r.close()


def structure(X: np.ndarray, labels: np.ndarray, pcs: int = 16, starts: int = 10, seed: int = 0) -> dict[str, Any]:
    """What a clustering of the pixels of NR-Objects images ``X`` would favour (see the module docstring).

    ``labels`` are (colour, material, shape).  Returns the between-class shares, the
    k-means (6) NMIs against colour and material x shape, and NrKmeans' NMI per clustering.
    """
    import warnings

    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    from baselines.nrkmeans import NrKmeans
    from benchmark.metrics import between_class_share, nmi, nmi_best_match
    from generators.preprocessing import apply

    if len(X) != len(labels) or labels.ndim != 2 or labels.shape[1] != 3:
        raise ValueError(f"labels must be (n, 3) for n = {len(X)} images; got {labels.shape}")
    if not 1 <= pcs <= min(len(X), int(np.prod(X.shape[1:]))):
        raise ValueError(f"pcs must be in 1..{min(len(X), int(np.prod(X.shape[1:])))}; got {pcs}")
    A = apply(X, ["scale01", "zscore"]).reshape(len(X), -1).astype(np.float64)
    mat_shape = labels[:, 1] * (labels[:, 2].max() + 1) + labels[:, 2]
    out: dict[str, Any] = {f"share_{k}": between_class_share(A, y) for k, y in
                           (("color", labels[:, 0]), ("material", labels[:, 1]), ("shape", labels[:, 2]),
                            ("material_x_shape", mat_shape))}
    Z = PCA(pcs, random_state=seed).fit_transform(A)
    km = KMeans(6, n_init=10, random_state=seed).fit_predict(Z)
    out.update(kmeans6_color=nmi(labels[:, 0], km), kmeans6_material_x_shape=nmi(mat_shape, km))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nr = NrKmeans([6, 2, 3], n_init=starts, random_state=seed, progress=False).fit(Z)
    out["nrkmeans"] = None if nr.lost_subspaces_ else [float(v) for v in nmi_best_match(labels, nr.labels_)]
    return out


def _structure_line(st: dict[str, Any], starts: int) -> str:
    nr = "lost a subspace" if st["nrkmeans"] is None else " / ".join(f"{v:.3f}" for v in st["nrkmeans"])
    return (f"    scatter share colour {st['share_color']:.3f}  material {st['share_material']:.3f}  "
            f"shape {st['share_shape']:.3f}  material x shape {st['share_material_x_shape']:.3f}\n"
            f"    k-means(6) NMI colour {st['kmeans6_color']:.3f}  material x shape "
            f"{st['kmeans6_material_x_shape']:.3f};  NrKmeans ({starts} starts) NMI {nr}")


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
    ap.add_argument("--lighting", type=parse_lighting, nargs="*", default=[], metavar="GROUND,WORLD,SCALE",
                    help="render --n images at the data set's framing per lighting "
                         "(the data set's is 0.5,0.35,1)")
    ap.add_argument("--structure", action="store_true",
                    help="also report the scatter shares and k-means / NrKmeans NMIs of the pixels")
    ap.add_argument("--pcs", type=int, default=16, help="--structure: principal components (default 16)")
    ap.add_argument("--starts", type=int, default=10, help="--structure: NrKmeans starts (default 10)")
    args = ap.parse_args(argv)
    if not args.dataset and not args.zoom and not args.lighting:
        ap.error("nothing to do: give --dataset, --zoom and/or --lighting")
    if any(not z > 0 for z in args.zoom):
        ap.error(f"--zoom values must be > 0; got {args.zoom}")
    if args.n < 1:
        ap.error(f"--n must be >= 1; got {args.n}")
    if args.structure and (args.starts < 1 or not 1 <= args.pcs <= args.n):
        ap.error(f"--structure needs --starts >= 1 and 1 <= --pcs <= --n; got {args.starts} and {args.pcs}")
    print(_line("ENRC authors (128x128, BASELINES.md §6.3)", np.array(AUTHORS_MEAN), np.array(AUTHORS_STD)))
    if args.dataset:
        import generators

        ds = generators.get("nrobjects", progress=True)
        m, s = channel_stats(ds.X)
        print(_line(f"data set ({ds.X.shape[0]:,} images, {ds.X.shape[-1]}x{ds.X.shape[-1]})", m, s))
        if args.structure:
            print(_structure_line(structure(ds.X, ds.labels, args.pcs, args.starts, args.seed), args.starts))
    from generators.render.spec import FRAMING_ZOOM

    jobs = [(f"zoom {z:g}", z, None) for z in args.zoom]
    jobs += [(f"lighting {g:g},{w:g},{k:g}", FRAMING_ZOOM, (g, w, k)) for g, w, k in args.lighting]
    for label, z, light in jobs:
        t0 = time.perf_counter()
        X = render_framing(z, args.n, args.resolution, args.samples, args.seed, args.threads, lighting=light)
        m, s = channel_stats(X)
        print(_line(f"{label} ({args.n} renders, {args.resolution}x{args.resolution})", m, s)
              + f"   {time.perf_counter() - t0:.0f} s", flush=True)
        if args.structure:
            from generators.render.spec import dataset_spec, plan_labels

            labels = plan_labels(dataset_spec("nrobjects"), args.n, args.seed)
            print(_structure_line(structure(X, labels, args.pcs, args.starts, args.seed), args.starts), flush=True)


if __name__ == "__main__":
    main()
