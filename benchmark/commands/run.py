"""`nrbench run`: run comparison suites under the papers' protocol into the result store (resumable)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from benchmark.claims import DEFAULT_LEASE_S, ENV_LEASE
from benchmark.suites import TIERS

if TYPE_CHECKING:
    from benchmark.store import Store
    from benchmark.suites import ResolvedSuite

HELP = "run comparison suites (papers' tables and figures) into the result store; resumable"

DESCRIPTION = f"""\
Run one or more suites -- each reproduces a table or figure of the ENRC (AAAI 2020) or
ACe/DeC (IJCAI 2021) paper -- under the papers' protocol: N autoencoders are pretrained
per data set and shared by every method; each method runs R times per autoencoder; the
run with the lowest own loss counts (never the best NMI); results are mean +- std over
the autoencoders.

Every fit is one row of the SQLite result store (default
$NRBENCH_HOME/results/nrbench.sqlite).  A rerun skips what is done, so an interrupted
run (even kill -9) is resumed by starting it again.  "Done" means stored under the same
configuration (data, preprocessing, autoencoder, parameters): after a change to the
suite the fits run anew, and the tables use only the current configuration's rows.  A failing method stores an
'error' row and the suite goes on; the command then exits with status 1 and lists the
failures.  Data sets whose raw files (or bpy, for rendered sets) are missing are
skipped with a one-line reason and 'skipped' rows.

Runs of the same suite on the same store at the same time (two terminals, two SLURM
jobs) share its fits: each fit is claimed in the store before it runs, and a fit that
another live run has claimed is left to it.  When only such fits are left, a run waits
for them (so that its end still means the suite is stored) and takes over those of a run
that died: at once on the same host, else when its claim's lease runs out
(${ENV_LEASE}, default {DEFAULT_LEASE_S:g} s; a live run renews its claims).  With
--no-wait a run ends instead once only other runs' fits are left, and says how many
(e.g. a SLURM array of workers, then one run without --no-wait before `nrbench report`).

Tiers: quick (minutes on 2 CPU cores, generated data only; what CI runs), standard
(every data set at reduced budgets; a laptop CPU overnight), paper (the published
protocol; GPU advised).  Every reduction is stored with each row as a deviation.

Without SUITE, runs the main comparison (enrc-table1 and acedec-table1) at --tier.
A tier name given as SUITE sets the tier: alone (e.g. `nrbench run quick`) it means
the main comparison at that tier; beside suite names it applies to them.  `nrbench list suites` shows the suites with their estimated cost.

Examples:
  nrbench run                                  # main comparison, quick tier
  nrbench run enrc-table1 --tier standard --workers 2
  nrbench run acedec-fig4 --executor dask --scheduler tcp://host:8786
  nrbench run my-suite.toml --only-datasets synth --dry-run
"""


def _count(n: int, noun: str) -> str:
    """``"1 AE"``, ``"3 AEs"``: a count with its noun in the right number."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `nrbench run`."""
    parser.add_argument("suites", nargs="*", metavar="SUITE",
                        help="suite names (see `nrbench list suites`) or paths to .toml suite files")
    parser.add_argument("--tier", choices=TIERS, default=None,
                        help="budget tier (default: quick)")
    parser.add_argument("--executor", choices=("local", "dask"), default="local",
                        help="local (default): in-process, or a process pool with --workers N; "
                             "dask: a dask.distributed LocalCluster, or the scheduler at --scheduler ADDR")
    parser.add_argument("--scheduler", metavar="ADDR", default=None,
                        help="address of a running dask scheduler (with --executor dask)")
    parser.add_argument("--workers", type=int, default=0, metavar="N",
                        help="local: N worker processes (0 = in-process, default); dask: LocalCluster workers")
    parser.add_argument("--store", metavar="PATH", default=None,
                        help="result store (default: $NRBENCH_HOME/results/nrbench.sqlite)")
    parser.add_argument("--only-datasets", nargs="+", metavar="ID", default=None,
                        help="run only these data sets (suite ids, generator names or table labels, any "
                             "case); with several suites, each suite runs those it has")
    parser.add_argument("--only-methods", nargs="+", metavar="NAME", default=None,
                        help="run only these methods (suite ids, method names or table labels such as "
                             "ENRC, any case); with several suites, each suite runs those it has")
    parser.add_argument("--no-wait", action="store_true",
                        help="end once only fits another live run is computing are left, instead of waiting for "
                             "them (their rows may not be stored yet when this run ends)")
    parser.add_argument("--dry-run", action="store_true",
                        help="resolve and validate the suites (names, and parameter types; values are checked when "
                             "a run builds them), print the tasks, what is already done, what another run is "
                             "computing now and which fits resume from snapshots; write and run nothing")


def _print_table(store: Store, suites: list[ResolvedSuite], out: TextIO | None = None) -> None:
    """Print the Markdown NMI/VI table of what ran (``reports.tables.markdown_table``, the one table builder)."""
    from reports.tables import markdown_table

    out = out or sys.stdout
    frame = store.frame()
    if frame.empty:
        return
    configs = {(x["name"], x["tier"]): x["config"] for x in store.suites()}  # the whole suites, as recorded
    for s in suites:
        sub = frame[(frame["suite"] == s.name) & (frame["tier"] == s.tier)]
        if sub.empty:
            continue
        text = markdown_table(sub, suite=s.name, tier=s.tier, configs={(s.name, s.tier): configs[(s.name, s.tier)]})
        print(f"\n## {s.name} [{s.tier}]\n", file=out)
        print(text, file=out)


def _method_deviations(methods: list[dict[str, Any]], dataset: str | None = None) -> dict[str, list[str]]:
    """Method deviations grouped by text, with the labels of the methods that have each, in order.

    ``dataset=None``: the deviations a method has on every data set; else those on ``dataset`` only.
    """
    out: dict[str, list[str]] = {}
    for m in methods:
        devs = m["deviations"] if dataset is None else m.get("dataset_deviations", {}).get(dataset, [])
        for dev in devs:
            out.setdefault(dev, []).append(m["label"])
    return out


def _filters_per_suite(names: list[str], tier: str, only_datasets: list[str] | None,
                       only_methods: list[str] | None) -> list[tuple[str, list[str] | None, list[str] | None]]:
    """(suite, its --only-datasets, its --only-methods) for each suite.

    With one suite the filters pass through (``suites.resolve`` names an unknown entry).  With
    several, an entry must belong to at least one of them, and each suite gets the entries it
    has: ``nrbench run --only-datasets usps`` runs acedec-table1's USPS and not enrc-table1,
    which has no USPS.  An empty list means the suite has none of them.
    """
    from benchmark import suites as suites_mod

    if len(names) == 1 or not (only_datasets or only_methods):
        return [(n, only_datasets, only_methods) for n in names]
    full = {n: suites_mod.resolve(n, tier, check=False) for n in names}
    known = {n: (set().union(*(suites_mod.selector_names(d) for d in s.datasets)),
                 set().union(*(suites_mod.selector_names(m) for m in s.methods))) for n, s in full.items()}
    shown = ({x for s in full.values() for d in s.datasets for x in (d["id"], d["generator"])},
             {x for s in full.values() for m in s.methods for x in (m["id"], m["method"])})
    for i, (opt, wanted) in enumerate((("--only-datasets", only_datasets), ("--only-methods", only_methods))):
        if wanted:
            union = set().union(*(k[i] for k in known.values()))
            bad = [x for x in wanted if x.lower() not in union]
            if bad:
                raise ValueError(f"{opt}: {bad} in none of the suites {', '.join(names)} (tier {tier!r}); "
                                 f"valid: {', '.join(sorted(shown[i]))}")
    out = []
    for n in names:
        ds = [x for x in only_datasets if x.lower() in known[n][0]] if only_datasets else None
        ms = [x for x in only_methods if x.lower() in known[n][1]] if only_methods else None
        out.append((n, ds, ms))
    if all(ds == [] or ms == [] for _, ds, ms in out):
        raise ValueError("no suite has the selected data sets and methods together")
    return out


def _planned_and_stored(store: Store | None, s: ResolvedSuite) -> tuple[int, int, int]:
    """(planned autoencoders, planned fits, fits with a row in ``store``) of a resolved suite."""
    from benchmark.protocol import build_tasks

    pre, fits = build_tasks(s)
    done = store.done_keys(s.name, s.tier) if store is not None else set()
    return len(pre), len(fits), sum(f.key in done for f in fits)


def _claimed_elsewhere(store: Store | None, s: ResolvedSuite) -> str:
    """``", 3 being computed by another run (pid 12 on host a)"`` for pending fits with a live claim; reads only."""
    from benchmark.protocol import build_tasks

    if store is None:
        return ""
    keys = {f.key for f in build_tasks(s)[1]}
    claims = [c for c in store.live_claims(s.name, s.tier) if c.key in keys]
    if not claims:
        return ""
    owners = ", ".join(sorted({c.owner.describe() for c in claims}))
    return f", {len(claims)} being computed by another run ({owners})"


def _resumable(store: Store | None, s: ResolvedSuite) -> str:
    """``", 2 resume from snapshots"`` for pending fits with a fit snapshot under the cache home; reads only."""
    from benchmark.protocol import build_tasks
    from benchmark.runner import fit_has_snapshot

    done = store.done_keys(s.name, s.tier) if store is not None else set()
    n = sum(fit_has_snapshot(f.key) for f in build_tasks(s)[1] if f.key not in done)
    return f", {n} resume{'s' if n == 1 else ''} from {'its snapshot' if n == 1 else 'snapshots'}" if n else ""


def _print_interrupted(store: Store, suites: list[ResolvedSuite], out: TextIO | None = None,
                       how: str = "interrupted") -> None:
    """After Ctrl-C (or SIGTERM, ``how="terminated (SIGTERM)"``): what is kept and how to go on.

    Every finished fit is already committed to the store.
    """
    out = out or sys.stderr
    print(f"\nnrbench run: {how}. Every finished fit is kept. Autoencoder pretraining and the fits in "
          "progress of the deep methods, NrKmeans and SubKmeans resume from their latest snapshots; other fits in "
          "progress start again.", file=out)
    for s in suites:
        _, n_fits, n_done = _planned_and_stored(store, s)
        print(f"  {s.name} [{s.tier}]: {n_done} of {n_fits} planned fits stored{_resumable(store, s)}", file=out)
    print(f"  store: {store.path}\n  Run the same command again to resume with the rest.", file=out)


def run(args: argparse.Namespace) -> int:
    """Resolve the suites, run them on the chosen executor, print the table; 1 if any task failed."""
    from benchmark import method_registry
    from benchmark import suites as suites_mod
    from benchmark.executors import check_executor, make_executor
    from benchmark.store import Store, default_store_path
    from benchmark.termination import Terminated, sigterm_as_interrupt
    from generators.availability import availability

    quiet = bool(getattr(args, "quiet", False))
    tier = args.tier or "quick"
    names = list(args.suites)
    tiers_given = [n for n in names if n in suites_mod.TIERS and n not in suites_mod.available()]
    if tiers_given:
        if len(set(tiers_given)) > 1:
            raise ValueError(f"SUITE names two tiers ({', '.join(tiers_given)}); give one tier")
        if args.tier and args.tier != tiers_given[-1]:
            raise ValueError(f"SUITE {tiers_given[-1]!r} is a tier name but --tier {args.tier} was given")
        tier = tiers_given[-1]
        names = [n for n in names if n not in tiers_given]
    if not names:
        names = list(suites_mod.DEFAULT_SUITES)
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"SUITE {', '.join(twice)} given more than once")
    if args.workers < 0:
        raise ValueError(f"--workers must be >= 0; got {args.workers}")
    check_executor(args.executor, args.scheduler)
    resolved = []
    wholes: dict[int, Any] = {}
    for n, only_ds, only_m in _filters_per_suite(names, tier, args.only_datasets, args.only_methods):
        if only_ds == [] or only_m == []:
            what = "data sets" if only_ds == [] else "methods"
            print(f"{n} [{tier}]: not run, it has none of the selected {what}")
            continue
        s = suites_mod.resolve(n, tier, only_datasets=only_ds, only_methods=only_m, check=False)
        suites_mod.check_components(s)
        resolved.append(s)
        # the store records the whole suite, so its reports still plan (and say incomplete) the rest
        wholes[id(s)] = suites_mod.resolve(n, tier, check=False) if (only_ds or only_m) else s

    # the environment, before anything is written: a mistake there would fail every fit.  The device matters
    # only where autoencoders are trained, and exists here only when the fits run here (not --scheduler)
    from benchmark.environment import busy_cores_hint, check_environment, require_environment
    from benchmark.executors import torch_threads
    from benchmark.protocol import build_tasks

    env_checks = {"home": True, "writable": True, "device": any(build_tasks(s)[0] for s in resolved),
                  "device_here": not args.scheduler, "lease": True}
    if args.dry_run:  # the plan, with what would stop a real run; nothing is created
        for problem in check_environment(**env_checks, create=False):
            print(f"nrbench run: warning: a real run would stop at once: {problem}", file=sys.stderr)
    else:
        require_environment(**env_checks)

    if args.dry_run:
        # a dry run writes nothing: a store that does not exist yet is not created
        path = Path(args.store).expanduser() if args.store else default_store_path()
        store = Store(path) if path.is_file() and path.stat().st_size > 0 else None
        for s in resolved:
            n_pre, n_fits, n_done = _planned_and_stored(store, s)
            filtered = " (the whole suite's)" if args.only_datasets or args.only_methods else ""
            print(f"{s.name} [{s.tier}]: {_count(n_fits, 'fit')} ({n_done} done{_claimed_elsewhere(store, s)}"
                  f"{_resumable(store, s)}), "
                  f"{_count(n_pre, 'autoencoder')}; "
                  f"est. {s.est_cost or 'unknown'}{filtered}")
            for d in s.datasets:
                ms = [m for m in s.methods if d["id"] in m["datasets"]]
                uses_ae = any(method_registry.get(m["method"]).uses_autoencoder for m in ms)
                aes = f", {_count(d['n_autoencoders'], 'AE')}" if uses_ae else ""
                print(f"  {d['id']} ({d['generator']}{aes}): {', '.join(m['label'] for m in ms)}")
                avail = availability(d["generator"], d["params"])
                label = {"skip": "would be skipped", "fail": "would fail"}.get(avail.status, "data")
                print(f"    {label}: {avail.text}")
                for dev in d["deviations"]:
                    print(f"    deviation: {dev}")
                for dev, who in _method_deviations(ms, d["id"]).items():
                    print(f"    deviation ({', '.join(who)}): {dev}")
            for dev, who in _method_deviations([m for m in s.methods if m["datasets"]]).items():
                print(f"  deviation ({', '.join(who)}): {dev}")
        if store is None:
            print(f"(no result store at {path} yet: nothing is done)")
        else:
            store.close()
        return 0

    from benchmark.runner import run_suite

    executor = make_executor(args.executor, workers=args.workers, scheduler=args.scheduler)
    try:
        if args.scheduler:  # an unreachable scheduler fails here, before the store is created or touched
            executor.client()
        store = Store(args.store)
    except BaseException:
        if hasattr(executor, "close"):
            executor.close()
        raise
    if not args.scheduler and args.executor == "local":  # the fits run on this machine's cores
        hint = busy_cores_hint(torch_threads(args.workers) if args.workers else None)
        if hint:
            print(f"nrbench run: note: {hint}", file=sys.stderr)
    t0 = time.perf_counter()
    summaries = []
    try:
        with sigterm_as_interrupt():
            for s in resolved:
                summaries.append(run_suite(s, store, executor, progress=not quiet, whole=wholes[id(s)],
                                           wait=not getattr(args, "no_wait", False)))
    except KeyboardInterrupt as exc:
        _print_interrupted(store, resolved, how="terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted")
        if hasattr(executor, "close"):
            executor.close(interrupted=True)
        raise
    finally:
        if hasattr(executor, "close"):
            executor.close()
    wall = time.perf_counter() - t0
    _print_table(store, resolved)
    store_s = sum(x.store_s for x in summaries)
    by_other = sum(x.by_other_run for x in summaries)
    left = sum(x.left_to_other_run for x in summaries)
    # the store's share of the wall time says what the store costs the fits; with no fit run it is noise
    ran = sum(x.ok + x.errors for x in summaries)
    share = f" ({100 * store_s / max(wall, 1e-9):.2f} %)" if ran else ""
    print(f"\nnrbench run: {sum(x.ok for x in summaries)} ok, {sum(x.errors for x in summaries)} failed, "
          f"{sum(x.skipped for x in summaries)} skipped, {sum(x.already_done for x in summaries)} already done"
          f"{f', {by_other} stored by another run meanwhile' if by_other else ''}"
          f"{f', {left} left to another run (--no-wait: not stored yet)' if left else ''}; "
          f"{wall:.1f} s wall, {store_s:.2f} s in the store{share}; "
          f"store: {store.path}")
    for x in summaries:
        for did, reason in x.skip_reasons.items():
            print(f"  skipped {x.suite} [{x.tier}] {did}: {reason}")
    failures = ([(x, t, m) for x in summaries for t, m in x.failures]
                + [(x, f"{t} (in another run)", m) for x in summaries for t, m in x.other_failures])
    store.close()
    if failures:
        print(f"nrbench run: {len(failures)} task(s) failed:", file=sys.stderr)
        for x, t, m in failures[:50]:
            print(f"  {x.suite} [{x.tier}] {t}: {m}", file=sys.stderr)
        if len(failures) > 50:
            print(f"  ... and {len(failures) - 50} more (see the store)", file=sys.stderr)
        print("nrbench run: running the same command again retries the failed fits and keeps the others",
              file=sys.stderr)
        return 1
    return 0
