"""Quality runs of ENRC and ACe/DeC+DCN at a stated (reduced) CPU budget; prints NMI per seed and the mean.

Usage (from the repository root)::

    python benchmark/scripts/quality_runs.py enrc-stickfigures --seeds 0 1 --budget paper-enrc-stickfigures --iters 2000
    python benchmark/scripts/quality_runs.py acedec-synth --seeds 0 1 2 3 --iters 20000 --lr-step 20000
    python benchmark/scripts/quality_runs.py acedec-synth --seeds 0 1 2 3 --ae orthogonal --init kmeans --iters 1000
    NRBENCH_DATA=../shared/data python benchmark/scripts/quality_runs.py enrc-cmnist --n 10000
    NRBENCH_DATA=../shared/data python benchmark/scripts/quality_runs.py acedec-mnist --n 10000
    python benchmark/scripts/quality_runs.py enrc-nrobjects --iters 1000 \
        --budget '{"iterations": 1000, "finetune_iterations": 500, "batch_size": 64}'

Each run pretrains (or loads from the NRBENCH_HOME cache) one autoencoder per seed
with :func:`methods.pretrain.pretrain` and the named ``--budget``, then fits the
method with ``--iters`` joint iterations.  Budgets here are below the papers'
(ENRC: 20,000 iterations, 2,000 for stickfigures, 100 init rounds; ACe/DeC: the
SP's schedule); every printed line states the budget it used.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import numpy as np
import torch
from sklearn.cluster import KMeans

import generators
from benchmark.argtypes import json_object
from benchmark.metrics import nmi_best_match
from generators.preprocessing import STEPS, apply
from methods.acedec import ACeDeC
from methods.autoencoders import LinearAutoencoder
from methods.base import encode_all
from methods.dcn import DCN
from methods.enrc import ENRC
from methods.pretrain import pretrain
from methods.space_split import BETA_POWERS

RUNS = ("enrc-stickfigures", "enrc-cmnist", "enrc-nrobjects", "acedec-synth", "acedec-mnist")


def _subset(ds: generators.Dataset, n: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    X, y = ds.X, ds.labels
    if n is not None and n < len(X):
        idx = np.sort(np.random.default_rng(seed).choice(len(X), n, replace=False))
        X, y = X[idx], y[idx]
    return X, y


def _pretrain(ds: generators.Dataset, X: np.ndarray, arch: str | dict, seed: int, args: argparse.Namespace,
              steps: list[str]):
    """The cached autoencoder: keyed by the Dataset (shared with the suites' runs) unless ``--n`` took a subset."""
    if args.n is None or args.n >= len(ds.X):
        return pretrain(ds, arch, seed=seed, budget=args.budget, augment=args.augment, preprocessing=steps,
                        progress=False)
    return pretrain(X=X, arch=arch, seed=seed, budget=args.budget, augment=args.augment, preprocessing=steps,
                    progress=False)


def _orthogonal_linear_ae(X: np.ndarray, seed: int, steps: int = 200) -> LinearAutoencoder:
    torch.manual_seed(seed)
    ae = LinearAutoencoder(X.shape[1])
    torch.nn.init.orthogonal_(ae.encoder.weight)
    with torch.no_grad():
        ae.decoder.weight.copy_(ae.encoder.weight.T)
        ae.encoder.bias.zero_()
        ae.decoder.bias.zero_()
    opt = torch.optim.Adam(ae.parameters(), 1e-3)
    Xt, rng = torch.from_numpy(X), np.random.default_rng(seed)
    for _ in range(steps):
        xb = Xt[rng.integers(0, len(X), 128)]
        loss = ((ae(xb) - xb) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return ae.eval()


def _budget_arg(text: str) -> str | dict:
    """``--budget``: a budget name, or a JSON object of :class:`methods.pretrain.PretrainBudget` fields."""
    if text.lstrip().startswith("{"):
        try:
            return dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise argparse.ArgumentTypeError(f"--budget is not valid JSON: {exc}") from exc
    return text


def _steps_arg(text: str) -> list[str]:
    """``--preprocessing``: comma-separated names of :data:`generators.preprocessing.STEPS`."""
    steps = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in steps if t not in STEPS]
    if not steps or unknown:
        raise argparse.ArgumentTypeError(f"unknown preprocessing step(s) {unknown}; choose from {sorted(STEPS)}")
    return steps


def run(name: str, seed: int, args: argparse.Namespace) -> dict[str, float]:
    t0 = time.perf_counter()
    out: dict[str, float] = {}
    if name == "enrc-stickfigures":
        ds = generators.get("stickfigures", progress=False)
        steps = ["scale01", "zscore"]
        arch = {"arch": "conv_resnet", "embedding_dim": 16, "dropout": 0.2}  # BASELINES.md §6.4
        ae = pretrain(ds, arch, seed=seed, budget=args.budget, augment=args.augment, preprocessing=steps,
                      progress=False)
        X = apply(ds.X, steps)
        m = ENRC([3, 3], ae, init=args.enrc_init, max_iter=args.iters, init_rounds=args.init_rounds, batch_size=args.batch_size or 128,
                 warmup_iter=args.warmup, rec_weight=args.rec_weight, random_state=seed, progress=False).fit(X)
        nmi = nmi_best_match(ds.labels, m.labels_)
        out.update(upper=nmi[0], lower=nmi[1], loss=m.loss_)
    elif name == "enrc-cmnist":
        ds = generators.get("cmnist", progress=False)
        steps = ["scale01", "zscore"]
        X, y = _subset(ds, args.n, 0)
        ae = _pretrain(ds, X, "conv_resnet", seed, args, steps)
        Xp = apply(X, steps)
        m = ENRC([10, 10], ae, init=args.enrc_init, max_iter=args.iters, init_rounds=args.init_rounds, batch_size=128,
                 warmup_iter=args.warmup, rec_weight=args.rec_weight, random_state=seed, progress=False).fit(Xp)
        nmi = nmi_best_match(y, m.labels_)
        nmi0 = nmi_best_match(y, m.labels_init_)
        out.update(left=nmi[0], right=nmi[1], left_init=nmi0[0], right_init=nmi0[1], loss=m.loss_)
    elif name == "enrc-nrobjects":
        ds = generators.get("nrobjects", progress=False)
        steps = ["scale01", "downscale2", "zscore"] if args.downscale2 else ["scale01", "zscore"]
        X, y = _subset(ds, args.n, 0)
        # BASELINES.md §6.3: widths 16-32-64-128-256, dropout 0.3, batch 64 (as in the enrc-table1 suite)
        arch = {"arch": "conv_resnet", "embedding_dim": 16, "widths": [16, 32, 64, 128, 256], "dropout": 0.3}
        ae = _pretrain(ds, X, arch, seed, args, steps)
        m = ENRC([6, 2, 3], ae, init=args.enrc_init, max_iter=args.iters, init_rounds=args.init_rounds, batch_size=args.batch_size or 64,
                 warmup_iter=args.warmup, rec_weight=args.rec_weight, random_state=seed, progress=False).fit(apply(X, steps))
        nmi = nmi_best_match(y, m.labels_)
        nmi0 = nmi_best_match(y, m.labels_init_)
        out.update(color=nmi[0], material=nmi[1], shape=nmi[2], color_init=nmi0[0], material_init=nmi0[1],
                   shape_init=nmi0[2], loss=m.loss_)
    elif name == "acedec-synth":
        ds = generators.get("synth", n=args.n or 12000, k=25, progress=False)
        if args.ae == "orthogonal":
            ae = _orthogonal_linear_ae(ds.X, seed)
        else:
            ae = pretrain(ds, "linear", seed=seed, budget=args.budget, preprocessing=(), progress=False)
        m = ACeDeC(4, ae, init=args.init, max_iter=args.iters, lr_step=args.lr_step, random_state=seed,
                   **_acedec_beta_args(args), progress=False).fit(ds.X)
        d = DCN(4, ae, lambda_=1.0, max_iter=args.iters, random_state=seed, progress=False).fit(ds.X)
        out.update(acedec=nmi_best_match(ds.labels, m.labels_[:, None])[0],
                   dcn=nmi_best_match(ds.labels, d.labels_[:, None])[0], dims=m.n_cluster_dims_)
    elif name == "acedec-mnist":
        ds = generators.get("mnist", progress=False)
        steps = args.preprocessing or ["scale01", "zscore", "flatten"]  # default: as the acedec-table1 suite
        X, y = _subset(ds, args.n, 0)
        ae = _pretrain(ds, X, "feedforward", seed, args, steps)
        Xp = apply(X, steps)
        if args.ae_kmeans:  # AE + k-means on this network (ACe/DeC Table 1's row), mean over 5 k-means seeds
            Z = encode_all(ae, Xp)
            out["ae_kmeans"] = float(np.mean([nmi_best_match(y, KMeans(10, n_init=1, random_state=s)
                                                             .fit_predict(Z)[:, None])[0] for s in range(5)]))
        run_seed = seed if args.run_seed is None else args.run_seed
        m = ACeDeC(10, ae, init=args.init, max_iter=args.iters, lr=args.lr, lr_step=args.lr_step,
                   reduction=args.reduction, reinit=not args.no_reinit, random_state=run_seed,
                   **_acedec_beta_args(args), progress=False).fit(Xp)
        if args.dcn_lambda is not None:  # DCN (ACe/DeC Table 1's comparison) on the same network and budget
            d = DCN(10, ae, lambda_=args.dcn_lambda, max_iter=args.iters, lr=args.lr, random_state=run_seed,
                    progress=False).fit(Xp)
            out["dcn"] = nmi_best_match(y, d.labels_[:, None])[0]
        if args.recluster:  # diagnostic only: k-means on the final beta_cs-weighted rotated embedding
            Zw = m.transform(Xp) * np.sqrt(m.betas_[0])
            out["recluster"] = nmi_best_match(y, KMeans(10, n_init=10, random_state=0).fit_predict(Zw)[:, None])[0]
        out.update(run_seed=run_seed, reinits=len(m.reinit_events_), digit=nmi_best_match(y, m.labels_[:, None])[0], dims=m.n_cluster_dims_,
                   digit_init=nmi_best_match(y, m.labels_init_[:, :1])[0], loss=float(m.loss_))
    out["seconds"] = time.perf_counter() - t0
    return out


def _acedec_beta_args(args: argparse.Namespace) -> dict[str, Any]:
    """ACeDeC's ``beta_lr`` / ``beta_weighting`` where given on the command line (else its defaults)."""
    out = {} if args.beta_lr is None else {"beta_lr": args.beta_lr}
    if args.beta_weighting is not None:
        out["beta_weighting"] = args.beta_weighting
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", choices=RUNS)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--iters", type=int, default=600, help="joint-phase iterations (papers: 2,000-20,000)")
    p.add_argument("--init-rounds", type=int, default=100, help="ENRC init rounds (default 100, the authors' code)")
    p.add_argument("--enrc-init", choices=("nrkmeans", "sgd"), default="nrkmeans",
                   help="ENRC init: NrKmeans on the embedding (the authors' code) or the SGD procedure of §2.6's text")
    p.add_argument("--warmup", type=int, default=0, help="ENRC warmup_iter (0: the paper's plain schedule)")
    p.add_argument("--budget", default="quick", type=_budget_arg,
                   help="pretraining budget: a name in methods.pretrain.BUDGETS or a JSON object of its fields, "
                        "e.g. '{\"iterations\": 1000, \"finetune_iterations\": 500, \"batch_size\": 64}'")
    p.add_argument("--augment", type=json_object, default=None,
                   help="pretraining augmentation of the image runs: a JSON object of methods.augment.Augmenter "
                        "settings, e.g. '{\"lighting\": 0.2, \"rotation\": 0, \"shift\": 0, \"zoom\": 0}' "
                        "(the enrc suites' NR-Objects setting); default none")
    p.add_argument("--n", type=int, default=None, help="subsample size (C-MNIST, MNIST) or SYNTH n")
    p.add_argument("--init", choices=("split", "kmeans"), default="split",
                   help="ACe/DeC init: the paper's random split (default) or k-means on the whole embedding")
    p.add_argument("--rec-weight", type=float, default=1.0,
                   help="ENRC lambda of Eq. (9) (default 1, the paper's); 1/D_in, e.g. 1/4096 for NR-Objects at "
                        "4x32x32, gives L_rec as a per-element mean, as in ClustPy's ENRC (torch MSELoss)")
    p.add_argument("--reduction", choices=("sum", "mean"), default="sum",
                   help="ACe/DeC loss scaling: Eq. (5) as printed (default) or the authors' implementation's "
                        "(L_rec a per-element mean, the space terms halved)")
    p.add_argument("--lr", type=float, default=1e-3,
                   help="ACe/DeC: Adam learning rate of the network and V (default 1e-3; ACe/DeC Fig. 4 uses "
                        "1e-3 x {0.1, 0.5, 0.9})")
    p.add_argument("--beta-lr", type=float, default=None,
                   help="ACe/DeC: Adam learning rate of b (default: ACeDeC's own default)")
    p.add_argument("--beta-weighting", choices=tuple(BETA_POWERS), default=None,
                   help="ACe/DeC: how beta enters the distance (default: ACeDeC's own default)")
    p.add_argument("--run-seed", type=int, default=None,
                   help="acedec-mnist: ACeDeC's random_state (default: the autoencoder seed); several runs on one "
                        "network, for the paper's min-loss selection, differ only in this")
    p.add_argument("--ae-kmeans", action="store_true",
                   help="acedec-mnist: also print AE + k-means NMI on the network (mean over 5 k-means seeds)")
    p.add_argument("--dcn-lambda", type=float, default=None,
                   help="acedec-mnist: also fit DCN with this lambda on the same network (same iterations and lr); "
                        "with L_rec as a per-element mean (the authors' scaling), lambda x 784 is the paper's lambda")
    p.add_argument("--no-reinit", action="store_true",
                   help="acedec-mnist: turn off the lost-centre reinitialisation (ENRC §2.8; `reinits` counts them)")
    p.add_argument("--recluster", action="store_true",
                   help="acedec-mnist diagnostic: also print the NMI of k-means (10 starts) on the final "
                        "beta_cs-weighted rotated embedding (never ACe/DeC's labels_)")
    p.add_argument("--lr-step", type=int, default=2000, help="ACe/DeC: halve the lr every this many iterations")
    p.add_argument("--batch-size", type=int, default=None,
                   help="ENRC joint-phase batch size for Stickfigures (default 128) and NR-Objects (default 64)")
    p.add_argument("--downscale2", action="store_true",
                   help="NR-Objects: 2x2 mean pooling (the default 64x64 render -> 32x32) before the z-transform, a stated CPU reduction")
    p.add_argument("--preprocessing", type=_steps_arg, default=None,
                   help="acedec-mnist: comma-separated named preprocessing steps instead of the acedec-table1 "
                        "suite's scale01,zscore,flatten (e.g. scale01,flatten: no z-transform)")
    p.add_argument("--ae", choices=("pretrain", "orthogonal"), default="pretrain",
                   help="SYNTH: the cached pretrain() linear AE or an orthogonally initialised one")
    args = p.parse_args(argv)
    rows = []
    for seed in args.seeds:
        r = run(args.run, seed, args)
        rows.append(r)
        print(f"{args.run} seed={seed} iters={args.iters} warmup={args.warmup} budget={args.budget} n={args.n} "
              f"init={args.init} enrc_init={args.enrc_init} init_rounds={args.init_rounds} lr_step={args.lr_step} "
              f"downscale2={args.downscale2} reduction={args.reduction} rec_weight={args.rec_weight:g} lr={args.lr:g} beta_lr={args.beta_lr} beta_weighting={args.beta_weighting} augment={json.dumps(args.augment)} preprocessing={args.preprocessing} "
              + " ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items()), flush=True)
    keys = [k for k in rows[0] if k not in ("seconds", "loss", "dims", "run_seed", "reinits")]
    print("mean " + " ".join(f"{k}={np.mean([r[k] for r in rows]):.3f}±{np.std([r[k] for r in rows]):.3f}"
                             for k in keys))
    return 0


if __name__ == "__main__":
    sys.exit(main())
