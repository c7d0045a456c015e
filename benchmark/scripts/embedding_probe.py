"""Is the autoencoder or the clustering the limit?  Probe a pretrained embedding against the ground truth.

Usage (from the repository root; the same pretraining flags as ``quality_runs.py``, so the
cached autoencoder is reused)::

    python benchmark/scripts/embedding_probe.py nrobjects \\
        --budget '{"iterations": 1000, "finetune_iterations": 500, "batch_size": 64}'
    NRBENCH_DATA=../shared/data python benchmark/scripts/embedding_probe.py cmnist --budget standard

For each ground-truth clustering it prints what the embedding *holds*: 3-fold
cross-validated accuracy of a logistic regression and of a 10-nearest-neighbour
classifier on the standardised embedding.  Then it prints what an unsupervised method
*finds*: the NMI of NrKmeans (``baselines.NrKmeans``, the ENRC init) with
``--starts`` starts, and its cost.  High probe accuracy with a low NrKmeans NMI means
the classes are in the embedding but are not its lowest-cost k-means partition.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier

import generators
from baselines.nrkmeans import NrKmeans
from benchmark.argtypes import json_object
from benchmark.metrics import between_class_share, nmi_best_match
from benchmark.scripts.render_stats import parse_lighting
from generators.preprocessing import apply
from methods.base import encode_all
from methods.pretrain import pretrain

#: The architectures of quality_runs.py (BASELINES.md §6.2-6.3).
ARCHS = {"cmnist": "conv_resnet",
         "nrobjects": {"arch": "conv_resnet", "embedding_dim": 16, "widths": [16, 32, 64, 128, 256], "dropout": 0.3},
         "stickfigures": {"arch": "conv_resnet", "embedding_dim": 16, "dropout": 0.2}}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dataset", choices=sorted(ARCHS))
    p.add_argument("--seed", type=int, default=0, help="autoencoder seed (default 0)")
    p.add_argument("--budget", default="quick",
                   help="pretraining budget: a name in methods.pretrain.BUDGETS or a JSON object of its fields")
    p.add_argument("--augment", type=json_object, default=None,
                   help="the pretraining augmentation, a JSON object of methods.augment.Augmenter settings "
                        "(part of the cache key), e.g. '{\"lighting\": 0.2, \"rotation\": 0, \"shift\": 0, \"zoom\": 0}'")
    p.add_argument("--by-dataset", action="store_true",
                   help="NR-Objects: look the network up keyed by the Dataset, as paper_budget.py and the suites "
                        "store it (default: keyed by the preprocessed X, so this script trains and caches its own copy; "
                        "quality_runs.py also keys by the Dataset unless --n takes a subset)")
    p.add_argument("--downscale2", action="store_true", help="2x2 mean pooling before the z-transform")
    p.add_argument("--starts", type=int, nargs="+", default=[10, 100], help="NrKmeans starts to compare")
    p.add_argument("--max-iter", type=int, default=200, help="NrKmeans iterations per start (ENRC init_max_iter)")
    p.add_argument("--standardised", action="store_true",
                   help="also run NrKmeans on the per-dimension standardised embedding")
    p.add_argument("--pixels", action="store_true",
                   help="also print the scatter shares of the preprocessed pixels and run NrKmeans on their "
                        "top principal components (as many as the embedding has dimensions)")
    p.add_argument("--lighting", type=parse_lighting, default=None, metavar="GROUND,WORLD,SCALE",
                   help="NR-Objects: probe a copy of the data set rendered under this lighting (render_stats.py's "
                        "--lighting; the data set's is 0.5,0.35,1): same labels, jitter and render settings; "
                        "needs bpy; the render is kept under $NRBENCH_HOME/datasets for the next run")
    p.add_argument("--resolution", type=int, default=None,
                   help="NR-Objects: the data set rendered at this resolution (default: the catalogue's 64; the "
                        "authors' is 128); rendered first if not cached, as 'nrbench render nrobjects --resolution' does")
    args = p.parse_args(argv)
    if args.resolution is not None and (args.dataset != "nrobjects" or args.resolution < 8):
        p.error("--resolution applies to nrobjects only and must be >= 8")
    if args.lighting is not None and args.dataset != "nrobjects":
        p.error("--lighting applies to nrobjects only")
    torch.set_num_threads(1)
    budget = json.loads(args.budget) if args.budget.lstrip().startswith("{") else args.budget
    augment = args.augment
    ds = generators.get(args.dataset, progress=False,
                        **({} if args.resolution is None else {"resolution": args.resolution}))
    if args.lighting is not None:
        ds = relit(ds, args.lighting)
    steps = ["scale01", "downscale2", "zscore"] if args.downscale2 else ["scale01", "zscore"]
    # quality_runs keys NR-Objects by X (its --n path); C-MNIST and Stickfigures by the Dataset
    t0 = time.perf_counter()
    if args.dataset == "nrobjects" and not args.by_dataset:
        ae = pretrain(X=ds.X, arch=ARCHS[args.dataset], seed=args.seed, budget=budget, augment=augment,
                      preprocessing=steps, progress=False)
    else:
        ae = pretrain(ds, ARCHS[args.dataset], seed=args.seed, budget=budget, augment=augment, preprocessing=steps,
                      progress=False)
    print(f"{args.dataset} seed={args.seed} budget={budget} augment={augment} steps={steps} "
          f"autoencoder {'from the cache' if ae.pretrain_info.get('cached') else 'trained now'} "
          f"({time.perf_counter() - t0:.0f} s)", flush=True)
    Z = encode_all(ae, apply(ds.X, steps), torch.device("cpu")).astype(np.float64)
    Zs = (Z - Z.mean(0)) / np.where(Z.std(0) > 0, Z.std(0), 1.0)
    y = ds.labels
    names = list(ds.clusterings)
    for s, name in enumerate(names):
        lin = cross_val_score(LogisticRegression(max_iter=2000), Zs, y[:, s], cv=3).mean()
        knn = cross_val_score(KNeighborsClassifier(10), Zs, y[:, s], cv=3).mean()
        print(f"  holds {name:10s} k={len(np.unique(y[:, s])):2d}  linear acc {lin:.3f}  10-NN acc {knn:.3f}",
              flush=True)
    # what the k-means cost sees: the share of the embedding's total scatter between the classes of each
    # clustering and of each pair's joint labels (a product that competes with a clustering of that size)
    print("  scatter share between classes: " + scatter_shares(Z, y, names), flush=True)
    ks = [len(np.unique(y[:, s])) for s in range(y.shape[1])]
    spaces = [("embedding", Z)] + ([("standardised embedding", Zs)] if args.standardised else [])
    if args.pixels:  # the same figures on the preprocessed pixels, and NrKmeans on their top principal components
        Xf = apply(ds.X, steps).reshape(len(ds.X), -1).astype(np.float64)
        print("  pixels: scatter share between classes: " + scatter_shares(Xf, y, names), flush=True)
        spaces.append((f"top {Z.shape[1]} principal components of the pixels",
                       PCA(Z.shape[1], random_state=0).fit_transform(Xf)))
    for space, Zk in spaces:
        _nrkmeans_rows(space, Zk, y, ks, args)


def relit(ds: generators.Dataset, lighting: tuple[float, float, float]) -> generators.Dataset:
    """NR-Objects data set ``ds`` rendered again under ``lighting`` (same plan, resolution, samples and seed).

    The images are kept in ``$NRBENCH_HOME/datasets`` under a name that holds every
    setting, so a second probe reuses them.  The networks are keyed by the pixels, so
    a re-lit copy gets its own.
    """
    import dataclasses

    from benchmark.paths import datasets_dir
    from benchmark.scripts.render_stats import render_framing
    from generators.render.spec import FRAMING_ZOOM, THREADS_PER_PROCESS, dataset_spec, plan_labels

    n, res, samples, seed = (int(ds.params[k]) for k in ("n", "resolution", "samples", "seed"))
    if not np.array_equal(plan_labels(dataset_spec("nrobjects"), n, seed), ds.labels):
        raise ValueError("the cached nrobjects data set does not follow the renderer's label plan; re-render it")
    path = datasets_dir() / ("nrobjects-lighting-" + "-".join(f"{v:g}" for v in lighting)
                             + f"-n{n}-r{res}-s{samples}-seed{seed}.npy")
    if path.exists():
        X = np.load(path)
    else:
        t = time.perf_counter()
        X = render_framing(FRAMING_ZOOM, n, res, samples, seed, THREADS_PER_PROCESS, lighting=lighting)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, X)
        tmp.replace(path)
        print(f"rendered {n} images under lighting {lighting} in {time.perf_counter() - t:.0f} s -> {path}",
              flush=True)
    return dataclasses.replace(ds, X=X, params={**ds.params, "lighting": list(lighting)})


def scatter_shares(Z: np.ndarray, y: np.ndarray, names: list[str]) -> str:
    """One line: :func:`benchmark.metrics.between_class_share` of each clustering and of each pair's joint labels."""
    shares = {name: between_class_share(Z, y[:, s]) for s, name in enumerate(names)}
    for a in range(len(names)):
        for b in range(a + 1, len(names)):
            shares[f"{names[a]}x{names[b]}"] = between_class_share(Z, y[:, a] * (y[:, b].max() + 1) + y[:, b])
    return "  ".join(f"{k} {v:.3f}" for k, v in shares.items())


def _nrkmeans_rows(space: str, Z: np.ndarray, y: np.ndarray, ks: list[int], args: argparse.Namespace) -> None:
    for starts in args.starts:
        t = time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nr = NrKmeans(ks, n_init=starts, max_iter=args.max_iter, random_state=args.seed, progress=False).fit(Z)
        nmi = nmi_best_match(y, nr.labels_) if not nr.lost_subspaces_ else None
        print(f"  finds ({space}) NrKmeans {starts:4d} starts x <= {args.max_iter} it: NMI "
              f"{'lost subspace ' + str(nr.lost_subspaces_) if nmi is None else np.round(nmi, 3)} "
              f"cost {nr.loss_:.6g} dims {nr.m_} ({time.process_time() - t:.0f} CPU-s)", flush=True)


if __name__ == "__main__":
    main()
