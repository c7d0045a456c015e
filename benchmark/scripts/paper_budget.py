"""ENRC or ACe/DeC at the paper's budget on one data set, with each phase timed: the GPU timing and quality runs.

Usage (from the repository root)::

    python benchmark/scripts/paper_budget.py cmnist --device cuda --json out.json
    python benchmark/scripts/paper_budget.py nrobjects --params '{"resolution": 64}' --device cuda
    python benchmark/scripts/paper_budget.py mnist --suite acedec-table1 --iters 10000 \
        --set '{"init": "kmeans", "lr_step": 5000}' --device cuda

The configuration is read from a suite's paper tier, its one source of truth: the
data set's generator parameters, preprocessing, autoencoder architecture,
pretraining budget and augmentation, and the method's parameters.  With the
default suite ``enrc-table1`` the method is ENRC (C-MNIST: ``paper-enrc``
pretraining, 10,000 one-cycle + 5,000 fine-tuning iterations, then 20,000 ENRC
iterations at batch 128; NR-Objects: the same at batch 64; BASELINES.md
§6.2-6.3); with ``acedec-table1`` it is ACe/DeC+DCN on the FC autoencoder
(``paper-dec`` pretraining, 50,000 + 50,000 iterations at batch 256).
``--params``, ``--iters``, ``--budget`` and ``--set`` override it; every
override is printed and written to the JSON as a deviation.

Prints and writes: the seconds of pretraining and of the method's ``fit`` (CUDA
synchronised), training samples per second of each, the peak GPU memory, the
NMI of every clustering after the initialisation and after training, the final
loss and, for ACe/DeC, the number of cluster-space dimensions.  The pretrained
network is cached as usual (``NRBENCH_HOME``), so a rerun times the method
alone; the JSON says whether the network was loaded.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

import generators
from benchmark import suites
from benchmark.argtypes import json_object
from benchmark.metrics import nmi_best_match
from generators.preprocessing import apply
from methods import ENRC, ACeDeC
from methods.device import resolve_device
from methods.pretrain import BUDGETS, pretrain, resolve_budget

#: suite -> the method it runs here
METHODS = {"enrc-table1": "enrc", "acedec-table1": "acedec"}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dataset", help="a data set of the suite, e.g. cmnist, nrobjects, stickfigures (enrc-table1), "
                                    "mnist, fmnist, usps (acedec-table1)")
    ap.add_argument("--suite", choices=sorted(METHODS), default="enrc-table1",
                    help="the suite whose paper tier configures the run; enrc-table1 runs ENRC, acedec-table1 "
                         "ACe/DeC+DCN (default enrc-table1)")
    ap.add_argument("--seed", type=int, default=0, help="autoencoder and method seed (default 0)")
    ap.add_argument("--device", default=None, help="cpu or cuda (default: $NRBENCH_DEVICE, else CUDA when present)")
    ap.add_argument("--params", type=json_object, default=None,
                    help="generator parameters replacing the paper tier's, e.g. '{\"resolution\": 64}'")
    ap.add_argument("--iters", type=int, default=None,
                    help="joint-phase iterations, the method's max_iter (default: the suite's)")
    ap.add_argument("--set", type=json_object, default=None, dest="set_params",
                    help="method parameters replacing the suite's, e.g. '{\"init\": \"kmeans\", \"lr_step\": 5000}'")
    ap.add_argument("--budget", type=json_object, default=None,
                    help="pretraining budget fields replacing the suite's, e.g. '{\"iterations\": 1000}'")
    ap.add_argument("--init-rounds", type=int, default=None,
                    help="init rounds (default: the method's, ENRC 100 as the authors')")
    ap.add_argument("--n-jobs", type=int, default=None,
                    help="processes for ENRC's NrKmeans init starts (-1: every core; default serial); "
                         "the result does not depend on it")
    ap.add_argument("--json", type=Path, default=None, help="write the result here as JSON")
    ap.add_argument("--progress", action="store_true", help="show progress bars")
    args = ap.parse_args(argv)

    method_name = METHODS[args.suite]
    if args.n_jobs is not None and method_name != "enrc":
        ap.error("--n-jobs sets the processes of ENRC's NrKmeans init; ACe/DeC's init has no parallel starts")
    suite = suites.resolve(args.suite, tier="paper", only_datasets=[args.dataset])
    d = suite.dataset(args.dataset)
    method = next(m for dd, m in suite.pairs() if dd["id"] == args.dataset and m["method"] == method_name)
    method_params = {**method["params"], **method["dataset_params"].get(args.dataset, {})}
    deviations: list[str] = list(d.get("deviations") or [])
    params = dict(d["params"])
    if args.params is not None:
        deviations.append(f"data: {args.params} (paper tier {params})")
        params = {**params, **args.params}
    ae_cfg = dict(d["autoencoder"])
    budget = BUDGETS[ae_cfg.pop("budget")]
    if args.budget is not None:
        deviations.append(f"pretraining budget: {args.budget} (paper tier {budget.to_dict()})")
        same_procedure = args.budget.get("procedure", "onecycle") == budget.to_dict().get("procedure", "onecycle")
        budget = resolve_budget({**budget.to_dict(), **args.budget} if same_procedure else args.budget)
    augment = ae_cfg.pop("augment", None)
    if args.iters is not None:
        deviations.append(f"{method['label']} max_iter {args.iters} (paper tier {method_params.get('max_iter')})")
        method_params["max_iter"] = args.iters
    if args.set_params:
        deviations.append(f"{method['label']} parameters {args.set_params}")
        method_params.update(args.set_params)
    if args.init_rounds is not None:
        method_params["init_rounds"] = args.init_rounds
    if method_name == "enrc":
        method_params["n_jobs"] = args.n_jobs
    device = resolve_device(args.device)
    for line in deviations:
        print(f"deviation: {line}", flush=True)

    ds = generators.get(d["generator"], progress=args.progress, **params)
    steps = list(d["preprocessing"])
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    _sync(device)
    t0 = time.perf_counter()
    ae = pretrain(ds, ae_cfg, seed=args.seed, budget=budget, augment=augment, preprocessing=steps,
                  device=device, progress=args.progress)
    _sync(device)
    t_pre = time.perf_counter() - t0
    cached = bool(ae.pretrain_info.get("cached"))
    print(f"pretraining: {t_pre:.1f} s ({'loaded from cache' if cached else 'trained'}), "
          f"recon MSE {ae.pretrain_info['recon_mse_after']:.4f}", flush=True)

    X = apply(ds.X, steps)
    k = [len(set(col)) for col in ds.labels.T]
    if method_name == "enrc":
        m: Any = ENRC(k, ae, random_state=args.seed, device=device, progress=args.progress, **method_params)
    else:  # ACe/DeC: one clustering, the data set's first
        m = ACeDeC(k[0], ae, random_state=args.seed, device=device, progress=args.progress, **method_params)
    _sync(device)
    t1 = time.perf_counter()
    m.fit(X)
    _sync(device)
    t_fit = time.perf_counter() - t1
    names = list(ds.clusterings) if getattr(ds, "clusterings", None) else [f"c{i}" for i in range(len(k))]
    found, found0 = m.labels_, m.labels_init_
    if method_name == "acedec":
        names, found, found0 = names[:1], found.reshape(len(X), -1)[:, :1], found0[:, :1]
    nmi = nmi_best_match(ds.labels[:, :len(names)], found)
    nmi0 = nmi_best_match(ds.labels[:, :len(names)], found0)
    pre_iters = budget.iterations + budget.finetune_iterations
    out: dict[str, Any] = {
        "suite": args.suite, "method": method_name, "dataset": args.dataset, "params": params, "n": len(X), "seed": args.seed, "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__, "budget": budget.to_dict(), "augment": augment,
        "method_params": {**method_params, "max_iter": m.max_iter, "batch_size": m.batch_size},
        "deviations": deviations,
        "pretrain_seconds": t_pre, "pretrain_cached": cached,
        "pretrain_samples_per_s": None if cached else pre_iters * budget.batch_size / t_pre,
        "recon_mse": ae.pretrain_info["recon_mse_after"],
        "fit_seconds": t_fit, "fit_samples_per_s": m.max_iter * m.batch_size / t_fit, "n_iter": int(m.n_iter_),
        "nmi": dict(zip(names, map(float, nmi))), "nmi_init": dict(zip(names, map(float, nmi0))),
        "loss": float(m.loss_),
        "n_cluster_dims": int(m.n_cluster_dims_) if method_name == "acedec" else None,
        "peak_gpu_mib": torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None,
    }
    print(json.dumps(out, indent=1), flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
