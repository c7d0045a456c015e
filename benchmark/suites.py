"""Suites: the papers' tables and figures as data (``benchmark/suites/*.toml``), resolved per tier.

A suite file (``benchmark/suites/*.toml``; this docstring is its format) has

- top level: ``name`` (must equal the file's stem), ``description``, ``reproduces``;
- ``[protocol]``: ``n_autoencoders``, ``runs_per_autoencoder`` and ``selection``
  (only ``"min-loss"``: the run with the lowest own loss counts, never the best
  NMI; PROTOCOL.md "Evaluation protocol");
- ``[datasets.<id>]``: ``generator`` (a ``generators`` catalogue name; default
  the id), ``params`` (builder arguments), ``preprocessing`` (named
  ``generators.preprocessing`` steps), ``clusterings`` (the evaluated ground
  truths, default all), ``autoencoder`` (``arch``, ``embedding_dim``, ``budget``
  (a name in ``methods.pretrain.BUDGETS``), optional ``augment``), ``deviations``;
- ``[methods.<id>]``: ``method`` (a ``benchmark.method_registry`` name; default
  the id), ``params``, ``grid`` (parameter -> list of values; every combination
  becomes its own labelled entry, e.g. "DCN λ=0.1"), ``runs_per_autoencoder``,
  ``max_n`` (fit on a seeded subset of that many points; recorded as a
  deviation; an integer for every data set, or a table of data-set id ->
  integer for those data sets only, as where a paper subsets some columns),
  ``datasets`` (restrict to these ids), ``deviations``;
- a ``deviations`` list in a data-set or method entry states an approximation the
  entry makes even in the ``paper`` tier (e.g. an augmentation that differs in detail);
  it is stored with every row of every tier;
- ``[tiers.quick|standard|paper]``: ``description``, ``est_cost`` (a measured
  or estimated wall time, shown by ``nrbench list suites``), ``datasets`` and
  ``methods`` (the ids this tier runs; default all), ``protocol`` (overrides),
  ``override.datasets.<id>`` / ``override.methods.<id>`` (deep-merged over the
  top-level entry).

Every tier that is not ``paper`` is compared with the ``paper`` tier when it is
resolved, and each difference (fewer autoencoders, a smaller budget, a smaller
data set, fewer iterations, another ``max_n``, the paper tier's data sets and
methods it leaves out, ...) becomes a deviation string stored with every
result row, so a table can never silently present a reduced run as the paper's.
"""

from __future__ import annotations

import copy
import inspect
import itertools
import sys
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, as the tomli package (a dependency there)
    import tomli as tomllib

TIERS = ("quick", "standard", "paper")
SELECTIONS = ("min-loss",)
SUITES_DIR = Path(__file__).resolve().parent / "suites"

_TOP_KEYS = {"name", "description", "reproduces", "protocol", "datasets", "methods", "tiers"}
_PROTOCOL_KEYS = {"n_autoencoders": int, "runs_per_autoencoder": int, "selection": str}
_DATASET_KEYS = {"generator": str, "params": dict, "preprocessing": list, "clusterings": list,
                 "autoencoder": dict, "deviations": list, "label": str, "n_autoencoders": int}
_AE_KEYS = {"arch": str, "embedding_dim": int, "budget": (str, dict), "augment": dict, "hidden": list,
            "widths": list, "dropout": (int, float)}
_METHOD_KEYS = {"method": str, "params": dict, "dataset_params": dict, "grid": dict, "runs_per_autoencoder": int, "max_n": (int, dict),
                "datasets": list, "deviations": list, "label": str}
_TIER_KEYS = {"description": str, "est_cost": str, "datasets": list, "methods": list, "protocol": dict,
              "override": dict}


class SuiteError(ValueError):
    """An invalid suite file: the message names the file, the key and what was expected."""


def _err(path: Path | str, key: str, expected: str, got: Any = None) -> SuiteError:
    extra = f"; got {got!r}" if got is not None else ""
    return SuiteError(f"{path}: key '{key}': expected {expected}{extra}")


def suite_files(directory: Path | None = None) -> dict[str, Path]:
    """Shipped suite files by name."""
    d = directory or SUITES_DIR
    return {p.stem: p for p in sorted(d.glob("*.toml"))}


def available() -> list[str]:
    """Names of the shipped suites."""
    return sorted(suite_files())


def load_file(path: str | Path) -> dict[str, Any]:
    """Parse and structurally validate a suite file; return the raw document."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except FileNotFoundError:
        raise SuiteError(f"{path}: no such suite file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SuiteError(f"{path}: not valid TOML: {exc}") from None
    except IsADirectoryError:
        raise SuiteError(f"{path}: is a directory, not a suite file") from None
    validate_document(doc, path)
    return doc


def _check_type(path: Path, key: str, value: Any, typ: type) -> None:
    ok = isinstance(value, typ) and not (typ is int and isinstance(value, bool))
    if typ is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok:
        names = " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in (typ if isinstance(typ, tuple) else (typ,)))
        raise _err(path, key, f"a {names}", value)


_TYPE_NAMES = {str: "string", int: "integer", dict: "table", list: "list", float: "number"}


def _check_table(path: Path, prefix: str, table: Mapping[str, Any], spec: Mapping[str, type]) -> None:
    for k, v in table.items():
        if k not in spec:
            raise _err(path, f"{prefix}{k}", f"one of {', '.join(sorted(spec))} (unknown key)")
        _check_type(path, f"{prefix}{k}", v, spec[k])


def validate_document(doc: Mapping[str, Any], path: Path | str = "<suite>") -> None:
    """Structural checks of a parsed suite file (types, key names, cross references).

    Names of data sets, preprocessing steps, budgets, methods and parameters are
    checked against their registries by :func:`check_components`.
    """
    path = Path(path)
    for k in doc:
        if k not in _TOP_KEYS:
            raise _err(path, k, f"one of {', '.join(sorted(_TOP_KEYS))} (unknown top-level key)")
    for req, typ in (("name", str), ("description", str), ("datasets", dict), ("methods", dict), ("tiers", dict)):
        if req not in doc:
            raise _err(path, req, f"a {_TYPE_NAMES[typ]} (missing)")
        _check_type(path, req, doc[req], typ)
    if path.suffix == ".toml" and doc["name"] != path.stem:
        raise _err(path, "name", f"the file's stem {path.stem!r}", doc["name"])
    _check_protocol(path, "protocol.", doc.get("protocol", {}))
    if not doc["datasets"]:
        raise _err(path, "datasets", "at least one [datasets.<id>] table")
    if not doc["methods"]:
        raise _err(path, "methods", "at least one [methods.<id>] table")
    for did, d in doc["datasets"].items():
        _check_type(path, f"datasets.{did}", d, dict)
        _check_dataset(path, f"datasets.{did}.", d)
    for mid, m in doc["methods"].items():
        _check_type(path, f"methods.{mid}", m, dict)
        _check_method(path, f"methods.{mid}.", m, doc["datasets"])
    for tier, t in doc["tiers"].items():
        if tier not in TIERS:
            raise _err(path, f"tiers.{tier}", f"a tier name, one of {', '.join(TIERS)}")
        _check_type(path, f"tiers.{tier}", t, dict)
        _check_table(path, f"tiers.{tier}.", t, _TIER_KEYS)
        for kind in ("datasets", "methods"):
            for ident in t.get(kind, []):
                if ident not in doc[kind]:
                    raise _err(path, f"tiers.{tier}.{kind}", f"ids defined under [{kind}.<id>]: "
                               f"{', '.join(doc[kind])}", ident)
        _check_protocol(path, f"tiers.{tier}.protocol.", t.get("protocol", {}))
        ov = t.get("override", {})
        for kind in ov:
            if kind not in ("datasets", "methods"):
                raise _err(path, f"tiers.{tier}.override.{kind}", "'datasets' or 'methods'")
            for ident, body in ov[kind].items():
                if ident not in doc[kind]:
                    raise _err(path, f"tiers.{tier}.override.{kind}.{ident}",
                               f"an id defined under [{kind}.<id>]: {', '.join(doc[kind])}")
                merged = _merge(doc[kind][ident], body)
                pre = f"tiers.{tier}.override.{kind}.{ident}."
                if kind == "datasets":
                    _check_dataset(path, pre, merged)
                else:
                    _check_method(path, pre, merged, doc["datasets"])
    if "paper" not in doc["tiers"]:
        raise _err(path, "tiers.paper", "a [tiers.paper] table (every suite states the published protocol)")


def _check_protocol(path: Path, prefix: str, p: Mapping[str, Any]) -> None:
    _check_table(path, prefix, p, _PROTOCOL_KEYS)
    for k in ("n_autoencoders", "runs_per_autoencoder"):
        if k in p and p[k] < 1:
            raise _err(path, prefix + k, "an integer >= 1", p[k])
    if "selection" in p and p["selection"] not in SELECTIONS:
        raise _err(path, prefix + "selection", f"one of {', '.join(SELECTIONS)} (best run by its own loss)",
                   p["selection"])


def _check_dataset(path: Path, prefix: str, d: Mapping[str, Any]) -> None:
    _check_table(path, prefix, d, _DATASET_KEYS)
    if "autoencoder" in d:
        _check_table(path, prefix + "autoencoder.", d["autoencoder"], _AE_KEYS)
    if "n_autoencoders" in d and d["n_autoencoders"] < 1:
        raise _err(path, prefix + "n_autoencoders", "an integer >= 1", d["n_autoencoders"])
    for k in ("preprocessing", "clusterings", "deviations"):
        for v in d.get(k, []):
            if not isinstance(v, str):
                raise _err(path, prefix + k, "a list of strings", d[k])


def _check_method(path: Path, prefix: str, m: Mapping[str, Any], datasets: Mapping[str, Any]) -> None:
    _check_table(path, prefix, m, _METHOD_KEYS)
    for ident, body in m.get("dataset_params", {}).items():
        if ident not in datasets:
            raise _err(path, f"{prefix}dataset_params.{ident}",
                       f"an id defined under [datasets.<id>]: {', '.join(datasets)}")
        _check_type(path, f"{prefix}dataset_params.{ident}", body, dict)
    for k, vals in m.get("grid", {}).items():
        if not isinstance(vals, list) or not vals:
            raise _err(path, f"{prefix}grid.{k}", "a non-empty list of values", vals)
    if "runs_per_autoencoder" in m and m["runs_per_autoencoder"] < 1:
        raise _err(path, prefix + "runs_per_autoencoder", "an integer >= 1", m["runs_per_autoencoder"])
    max_n = m.get("max_n")
    for key, n in (max_n.items() if isinstance(max_n, dict) else [("", max_n)] if "max_n" in m else []):
        where = f"{prefix}max_n" + (f".{key}" if key else "")
        if key and key not in datasets:
            raise _err(path, where, f"an id defined under [datasets.<id>]: {', '.join(datasets)}")
        if not isinstance(n, int) or isinstance(n, bool):
            raise _err(path, where, "an integer", n)
        if n < 1:
            raise _err(path, where, "an integer >= 1", n)
    for ident in m.get("datasets", []):
        if ident not in datasets:
            raise _err(path, prefix + "datasets", f"ids defined under [datasets.<id>]: {', '.join(datasets)}",
                       ident)


def _merge(base: Any, over: Any) -> Any:
    """Deep merge: tables merge key by key, everything else is replaced."""
    if isinstance(base, Mapping) and isinstance(over, Mapping):
        out = {k: copy.deepcopy(v) for k, v in base.items()}
        for k, v in over.items():
            out[k] = _merge(out[k], v) if k in out else copy.deepcopy(v)
        return out
    return copy.deepcopy(over)


# --------------------------------------------------------------------------- resolution
@dataclass
class ResolvedSuite:
    """One suite at one tier, fully expanded: what the runner executes and the store records."""

    name: str
    tier: str
    description: str
    path: str
    protocol: dict[str, Any]
    datasets: list[dict[str, Any]]
    methods: list[dict[str, Any]]
    est_cost: str = ""

    def to_config(self) -> dict[str, Any]:
        """JSON-ready dict (stored in the ``suites`` table)."""
        return {"name": self.name, "tier": self.tier, "description": self.description, "path": self.path,
                "protocol": self.protocol, "datasets": self.datasets, "methods": self.methods,
                "est_cost": self.est_cost}

    def dataset(self, ident: str) -> dict[str, Any]:
        """The resolved data-set entry with this id."""
        for d in self.datasets:
            if d["id"] == ident:
                return d
        raise KeyError(ident)

    def pairs(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """Every (data set, method entry) that runs."""
        return [(d, m) for d in self.datasets for m in self.methods if d["id"] in m["datasets"]]


def find_suite(name_or_path: str | Path) -> Path:
    """A shipped suite by name, or a path to a suite file; an unknown name lists the valid ones."""
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists():
        if not p.exists():
            raise SuiteError(f"{p}: no such suite file")
        return p
    files = suite_files()
    if str(name_or_path) in files:
        return files[str(name_or_path)]
    raise ValueError(f"unknown suite {str(name_or_path)!r}; valid: {', '.join(files)} "
                     "(or a path to a .toml suite file)")


def _tier_view(doc: Mapping[str, Any], tier: str) -> tuple[dict, dict[str, dict], dict[str, dict], dict]:
    t = doc["tiers"].get(tier)
    if t is None:
        raise ValueError(f"suite {doc['name']!r} has no tier {tier!r}; it has: {', '.join(doc['tiers'])}")
    protocol = {"n_autoencoders": 10, "runs_per_autoencoder": 10, "selection": "min-loss"}
    protocol.update(doc.get("protocol", {}))
    protocol.update(t.get("protocol", {}))
    ov = t.get("override", {})
    ds_ids = t.get("datasets", list(doc["datasets"]))
    m_ids = t.get("methods", list(doc["methods"]))
    datasets = {i: _merge(doc["datasets"][i], ov.get("datasets", {}).get(i, {})) for i in ds_ids}
    methods = {i: _merge(doc["methods"][i], ov.get("methods", {}).get(i, {})) for i in m_ids}
    return protocol, datasets, methods, t


def _warn_if_shadowing(path: Path) -> None:
    """Warn when a suite file outside the shipped ones has a shipped suite's name and other contents.

    Its rows are stored under that name, so ``nrbench report --suite NAME`` (and
    ``--compare-paper``) would show the modified run in place of the shipped one's.
    """
    shipped = suite_files().get(path.stem)
    if shipped is None or shipped.resolve() == path.resolve():
        return
    if shipped.read_bytes() != path.read_bytes():
        warnings.warn(f"{path} has the name of the built-in suite {path.stem!r} but other contents: its results are "
                      f"stored and reported as {path.stem!r}, in place of the built-in suite's (a report of "
                      f"{path.stem!r} keeps only rows of one configuration); give the file and its 'name' another "
                      "name to keep them apart", UserWarning, stacklevel=3)


def resolve(name_or_path: str | Path, tier: str = "quick", only_datasets: list[str] | None = None,
            only_methods: list[str] | None = None, check: bool = True) -> ResolvedSuite:
    """Load a suite and expand one tier: overrides merged, grids expanded, deviations computed.

    ``only_datasets`` / ``only_methods`` filter by data-set id (or generator
    name) and by method id (or registry name); an unknown entry lists the valid
    ones.  With ``check`` every name is checked against its registry
    (:func:`check_components`).
    """
    if tier not in TIERS:
        raise ValueError(f"unknown tier {tier!r}; valid: {', '.join(TIERS)}")
    path = find_suite(name_or_path)
    doc = load_file(path)
    _warn_if_shadowing(path)
    protocol, datasets, methods, tview = _tier_view(doc, tier)
    paper_protocol, paper_ds, paper_m, _ = _tier_view(doc, "paper")

    ds_list = []
    for did, d in datasets.items():
        entry = _resolve_dataset(did, d, protocol)
        devs = list(d.get("deviations", [])) + _dec_pretraining_deviation(entry, paper_ds.get(did))
        if tier != "paper":
            paper = _resolve_dataset(did, paper_ds[did], paper_protocol) if did in paper_ds else None
            devs += _dataset_deviations(entry, paper)
        entry["deviations"] = devs
        ds_list.append(entry)

    m_list = []
    paper_labels: list[str] = []
    for mid, m in methods.items():
        paper_entries = {e["label"]: e for e in _expand_method(mid, paper_m[mid], list(paper_ds), paper_protocol)} \
            if mid in paper_m else {}
        for e in _expand_method(mid, m, list(datasets), protocol):
            devs, per_dataset = list(m.get("deviations", [])), {}
            if tier != "paper":
                general, per_dataset = _method_deviations(e, paper_entries.get(e["label"]))
                devs += general
            e["deviations"] = devs
            e["dataset_deviations"] = per_dataset
            m_list.append(e)
    if tier != "paper":
        for mid in paper_m:
            paper_labels += [e["label"] for e in _expand_method(mid, paper_m[mid], list(paper_ds), paper_protocol)]
        scope = _scope_deviations([(i, paper_ds[i].get("label", i)) for i in paper_ds], list(datasets),
                                  paper_labels, [e["label"] for e in m_list])
        for e in m_list:
            e["deviations"] += scope

    if only_datasets:
        known = set().union(*(selector_names(d) for d in ds_list))
        bad = [x for x in only_datasets if x.lower() not in known]
        if bad:
            valid = sorted({d["id"] for d in ds_list} | {d["generator"] for d in ds_list})
            raise ValueError(f"--only-datasets: unknown data set(s) {bad} in suite {doc['name']!r} tier {tier!r}; "
                             f"valid: {', '.join(valid)}")
        wanted = {x.lower() for x in only_datasets}
        ds_list = [d for d in ds_list if selector_names(d) & wanted]
    if only_methods:
        known = set().union(*(selector_names(m) for m in m_list))
        bad = [x for x in only_methods if x.lower() not in known]
        if bad:
            valid = sorted({m["id"] for m in m_list} | {m["method"] for m in m_list})
            raise ValueError(f"--only-methods: unknown method(s) {bad} in suite {doc['name']!r} tier {tier!r}; "
                             f"valid: {', '.join(valid)}")
        wanted = {x.lower() for x in only_methods}
        m_list = [m for m in m_list if selector_names(m) & wanted]
    kept = {d["id"] for d in ds_list}
    for m in m_list:
        m["datasets"] = [x for x in m["datasets"] if x in kept]

    suite = ResolvedSuite(name=doc["name"], tier=tier, description=tview.get("description", doc["description"]),
                          path=str(path), protocol=protocol, datasets=ds_list, methods=m_list,
                          est_cost=tview.get("est_cost", ""))
    if check:
        check_components(suite)
    return suite


def selector_names(entry: Mapping[str, Any]) -> set[str]:
    """The names ``--only-datasets`` / ``--only-methods`` accept for a resolved entry, lower-cased.

    Its suite id, its generator or registry name, and its display label (as tables show it:
    ``ENRC``, ``NrKmeans``, ``MNIST-Full``), so selection is case-insensitive.
    """
    return {str(entry[k]).lower() for k in ("id", "generator", "method", "label") if entry.get(k)}


def _resolve_dataset(did: str, d: Mapping[str, Any], protocol: Mapping[str, Any]) -> dict[str, Any]:
    ae = dict(d.get("autoencoder", {}))
    return {
        "id": did,
        "n_autoencoders": int(d.get("n_autoencoders", protocol["n_autoencoders"])),
        "label": d.get("label", did),
        "generator": d.get("generator", did),
        "params": dict(d.get("params", {})),
        "preprocessing": list(d.get("preprocessing", ["scale01"])),
        "clusterings": list(d["clusterings"]) if "clusterings" in d else None,
        "autoencoder": ae or None,
    }


def _expand_method(mid: str, m: Mapping[str, Any], dataset_ids: list[str],
                   protocol: Mapping[str, Any]) -> list[dict[str, Any]]:
    from benchmark import method_registry

    name = m.get("method", mid)
    spec = method_registry.get(name)
    grid = m.get("grid", {})
    keys = list(grid)
    out = []
    for combo in itertools.product(*(grid[k] for k in keys)) if keys else [()]:
        params = dict(m.get("params", {}))
        params.update(dict(zip(keys, combo)))
        label = m.get("label") or spec.label(params, tuple(keys))
        if m.get("label") and keys:
            label = spec.label(params, tuple(keys)).replace(spec.display, m["label"], 1)
        out.append({
            "id": mid,
            "method": name,
            "label": label,
            "params": params,
            "dataset_params": {k: dict(v) for k, v in m.get("dataset_params", {}).items()},
            "grid_keys": keys,
            "runs_per_autoencoder": int(m.get("runs_per_autoencoder", protocol["runs_per_autoencoder"])),
            "max_n": m.get("max_n"),
            "datasets": [x for x in m.get("datasets", dataset_ids) if x in dataset_ids],
        })
    return out


def max_n_for(method: Mapping[str, Any], dataset_id: str) -> int | None:
    """The ``max_n`` subset size of a resolved method entry on one data set; None: every point."""
    max_n = method.get("max_n")
    if isinstance(max_n, Mapping):
        return max_n.get(dataset_id)
    return max_n


def _fmt(v: Any) -> str:
    if v is None or v == "default":
        return "default"
    return str(v) if not isinstance(v, float) else f"{v:g}"


_UNSET = object()


def _signature_default(func: Any, key: str) -> Any:
    """The default of ``key`` in ``func``'s signature, ``_UNSET`` if it has none, None if not a parameter."""
    try:
        p = inspect.signature(func).parameters.get(key)
    except (TypeError, ValueError):
        return _UNSET
    if p is None:
        return None
    return _UNSET if p.default is inspect.Parameter.empty else p.default


def _value(given: Mapping[str, Any], key: str, func: Any, owner: str) -> str:
    """``given[key]`` formatted, or the default it takes when not given ("12000, the default")."""
    if key in given:
        return _fmt(given[key])
    d = _signature_default(func, key) if func is not None else _UNSET
    if d is None:
        return f"n/a for {owner}"
    return "default" if d is _UNSET else f"{_fmt(d)}, the default"


def _same(a: Mapping[str, Any], b: Mapping[str, Any], key: str, func: Any) -> bool:
    """Whether ``a`` and ``b`` mean the same value of ``key`` once defaults are filled in."""
    d = _signature_default(func, key) if func is not None else _UNSET
    return a.get(key, d) == b.get(key, d)


def _builder(generator: str) -> Any:
    from generators.registry import entry

    try:
        return entry(generator).load_builder()
    except (ValueError, ImportError, AttributeError):
        return None


def _arch_class(arch: Any) -> Any:
    from methods.autoencoders import ARCHITECTURES

    return ARCHITECTURES.get(arch) if isinstance(arch, str) else None


#: Stated with every row of a data set whose network is DEC's fully connected one (``feedforward``), in the
#: paper tier too, when a one-cycle budget trains it rather than DEC's own procedure (``methods.pretrain.BUDGETS``):
#: ACe/DeC's autoencoders were "trained as in DEC".
DEC_PRETRAINING_DEVIATION = ("pretraining: one-cycle Adam with fine-tuning, not DEC's procedure for this network "
                             "(greedy layer-wise denoising pretraining, then end-to-end SGD: the 'dec-sae' budget)")


def _dec_pretraining_deviation(entry: Mapping[str, Any], paper: Mapping[str, Any] | None) -> list[str]:
    """``[DEC_PRETRAINING_DEVIATION]`` when this tier's and the paper tier's network is DEC's and a one-cycle
    budget trains it here, else ``[]`` (``paper``: the paper tier's raw entry of the data set)."""
    ae, pae = entry["autoencoder"] or {}, (paper or {}).get("autoencoder") or {}
    if ae.get("arch") != "feedforward" or pae.get("arch") != "feedforward":
        return []
    from methods.pretrain import PretrainBudget, resolve_budget

    try:
        one_cycle = isinstance(resolve_budget(ae.get("budget", "quick")), PretrainBudget)
    except ValueError:  # an unknown budget: check_components names it
        return []
    return [DEC_PRETRAINING_DEVIATION] if one_cycle else []


def _dataset_deviations(entry: Mapping[str, Any], paper: Mapping[str, Any] | None) -> list[str]:
    """What this tier's data-set entry does differently from the paper tier's, defaults filled in."""
    if paper is None:
        return ["data set: not part of the paper protocol"]
    devs = []
    if entry["n_autoencoders"] != paper["n_autoencoders"]:
        devs.append(f"autoencoders: {entry['n_autoencoders']} (paper {paper['n_autoencoders']})")
    gen = _builder(entry["generator"])
    for k in sorted(set(entry["params"]) | set(paper["params"])):
        if not _same(entry["params"], paper["params"], k, gen):
            devs.append(f"data: {k}={_value(entry['params'], k, gen, entry['generator'])} "
                        f"(paper {_value(paper['params'], k, gen, entry['generator'])})")
    if entry["preprocessing"] != paper["preprocessing"]:
        devs.append(f"preprocessing: {'+'.join(entry['preprocessing'])} (paper {'+'.join(paper['preprocessing'])})")
    ae, pae = entry["autoencoder"] or {}, paper["autoencoder"] or {}
    if ae.get("budget") != pae.get("budget"):
        devs.append(f"budget: autoencoder pretraining '{ae.get('budget')}' (paper '{pae.get('budget')}')")
    if ae.get("embedding_dim") != pae.get("embedding_dim"):
        devs.append(f"embedding: {ae.get('embedding_dim')}-d (paper {pae.get('embedding_dim')})")
    if ae.get("arch") != pae.get("arch"):
        devs.append(f"architecture: {ae.get('arch')} (paper {pae.get('arch')})")
    cls, pcls = _arch_class(ae.get("arch")), _arch_class(pae.get("arch"))
    for k in sorted((set(ae) | set(pae)) - {"budget", "embedding_dim", "arch"}):
        a, b = _value(ae, k, cls, str(ae.get("arch"))), _value(pae, k, pcls, str(pae.get("arch")))
        if a != b:
            devs.append(f"autoencoder: {k}={a} (paper {b})")
    return devs


def _scope_deviations(paper_datasets: list[tuple[str, str]], dataset_ids: list[str], paper_methods: list[str],
                      methods: list[str]) -> list[str]:
    """What a reduced tier leaves out of the paper tier: its data sets ((id, label) pairs) and method labels.

    Stored with every row of the tier, so a table or figure with fewer columns or lines than the paper's
    says that it has them on purpose.
    """
    out = []
    left = [label for ident, label in paper_datasets if ident not in dataset_ids]
    if left:
        out.append(f"scope: {len(paper_datasets) - len(left)} of the paper's {len(paper_datasets)} data sets "
                   f"(left out: {', '.join(left)})")
    left = [label for label in paper_methods if label not in methods]
    if left:
        out.append(f"scope: {len(paper_methods) - len(left)} of the paper's {len(paper_methods)} methods "
                   f"(left out: {', '.join(left)})")
    return out


def _method_deviations(entry: Mapping[str, Any],
                       paper: Mapping[str, Any] | None) -> tuple[list[str], dict[str, list[str]]]:
    """(deviations of every data set, deviations of single data sets) against the paper tier.

    Hyperparameters are compared as a fit sees them: the entry's ``params`` with its
    ``dataset_params`` for that data set, and the constructor's default where neither sets
    one.  A difference on every data set of the entry is one general deviation; one on some
    of them is stored for those only and says "on <id>".
    """
    if paper is None:
        return ["method: not part of the paper protocol"], {}
    from benchmark import method_registry

    try:
        init = method_registry.get(entry["method"]).load().__init__
    except ValueError:
        init = None
    dids = list(entry["datasets"])
    diffs: dict[tuple[str, str, str], list[str]] = {}
    for did in dids:
        a = {**entry["params"], **entry["dataset_params"].get(did, {})}
        b = {**paper["params"], **paper["dataset_params"].get(did, {})}
        for k in sorted(set(a) | set(b)):
            if not _same(a, b, k, init):
                owner = entry["method"]
                diffs.setdefault((k, _value(a, k, init, owner), _value(b, k, init, owner)), []).append(did)
        n, paper_n = max_n_for(entry, did), max_n_for(paper, did)
        if n != paper_n:  # the subset size: the runner states an actual subset, not one the paper tier took
            diffs.setdefault(("max_n", "all" if n is None else str(n), "all" if paper_n is None else str(paper_n)),
                             []).append(did)
    general: list[str] = []
    per_dataset: dict[str, list[str]] = {}
    for (k, a, b), where in diffs.items():
        if len(where) == len(dids):
            general.append(f"budget: {k}={a} (paper {b})")
        else:
            for did in where:
                per_dataset.setdefault(did, []).append(f"budget: {k}={a} on {did} (paper {b})")
    if entry["runs_per_autoencoder"] != paper["runs_per_autoencoder"]:
        general.append(f"runs: {entry['runs_per_autoencoder']} per autoencoder (paper {paper['runs_per_autoencoder']})")
    return general, per_dataset


def check_components(suite: ResolvedSuite) -> None:
    """Check every name against its registry; raise :class:`SuiteError` naming the suite file and the entry.

    Data-set generators and their parameter names (``generators``), preprocessing
    steps, method names and hyperparameters (``benchmark.method_registry``: the
    estimator's constructor), autoencoder architectures and budgets
    (``methods``).  Every component ships with nrbench, so one that cannot be
    imported is a broken install and an error here, before any run starts.
    """
    import generators
    from benchmark import method_registry
    from generators.preprocessing import STEPS
    from methods.autoencoders import ARCHITECTURES
    from methods.pretrain import BUDGETS, resolve_budget

    where = suite.path
    for d in suite.datasets:
        key = f"datasets.{d['id']}"
        try:
            entry = generators.entry(d["generator"])
        except ValueError as exc:
            raise SuiteError(f"{where}: key '{key}.generator': {exc}") from None
        try:
            generators.resolve_params(d["generator"], **d["params"])
        except ValueError as exc:
            raise SuiteError(f"{where}: key '{key}.params': {exc}") from None
        for s in d["preprocessing"]:
            if s not in STEPS:
                raise SuiteError(f"{where}: key '{key}.preprocessing': unknown step {s!r}; valid: {', '.join(STEPS)}")
        if d["clusterings"] is not None:
            names = [c for c, _ in entry.clusterings]
            bad = [c for c in d["clusterings"] if c not in names]
            if bad:
                raise SuiteError(f"{where}: key '{key}.clusterings': unknown clustering(s) {bad}; "
                                 f"valid: {', '.join(names)}")
        ae = d["autoencoder"]
        if ae is not None:
            if ae.get("arch") not in ARCHITECTURES:
                got = "missing" if "arch" not in ae else f"got {ae['arch']!r}"
                raise SuiteError(f"{where}: key '{key}.autoencoder.arch': expected one of "
                                 f"{', '.join(sorted(ARCHITECTURES))} ({got})")
            if isinstance(ae.get("budget"), dict):
                try:
                    resolve_budget(ae["budget"])
                except ValueError as exc:
                    raise SuiteError(f"{where}: key '{key}.autoencoder.budget': {exc}") from None
            elif ae.get("budget", "quick") not in BUDGETS:
                raise SuiteError(f"{where}: key '{key}.autoencoder.budget': unknown budget {ae.get('budget')!r}; "
                                 f"valid: {', '.join(sorted(BUDGETS))}")
    for m in suite.methods:
        spec = method_registry.get(m["method"])
        try:
            spec.check_params(m["params"], where=f"{where}: key 'methods.{m['id']}.params'")
            for did, dp in m["dataset_params"].items():
                spec.check_params(dp, where=f"{where}: key 'methods.{m['id']}.dataset_params.{did}'")
        except ValueError as exc:
            raise SuiteError(str(exc)) from None
        if spec.uses_autoencoder:
            for did in m["datasets"]:
                if suite.dataset(did)["autoencoder"] is None:
                    raise SuiteError(f"{where}: key 'datasets.{did}.autoencoder': method {m['method']!r} needs a "
                                     "pretrained autoencoder, so the data set needs an [autoencoder] table")


def count_tasks(suite: ResolvedSuite) -> tuple[int, int]:
    """(number of fits, number of autoencoder pretrainings) of a resolved suite."""
    fits = sum(d["n_autoencoders"] * m["runs_per_autoencoder"] for d, m in suite.pairs())
    from benchmark import method_registry

    pre = sum(d["n_autoencoders"] for d in suite.datasets
              if any(d["id"] in m["datasets"] and method_registry.get(m["method"]).uses_autoencoder
                     for m in suite.methods))
    return fits, pre


def describe_suites(directory: Path | None = None) -> list[dict[str, Any]]:
    """Every shipped suite and tier: ``{name, tier, description, est_cost}`` (for ``nrbench list suites``).

    ``est_cost`` joins the tier's stated wall-time estimate with the number of
    fits and pretrainings it runs.  Files are parsed and validated structurally
    only (no heavy imports); an invalid file raises :class:`SuiteError`.
    """
    out = []
    for name, path in suite_files(directory).items():
        doc = load_file(path)
        for tier in TIERS:
            if tier not in doc["tiers"]:
                continue
            s = resolve(path, tier, check=False)
            fits, pre = count_tasks(s)
            est = s.est_cost or "unknown"
            out.append({"name": name, "tier": tier, "description": s.description,
                        "est_cost": f"{est}; {fits} fits, {pre} autoencoders"})
    return out


#: ``nrbench run`` with no suite: the main comparison (ENRC Table 1 + ACe/DeC Table 1).
DEFAULT_SUITES = ("enrc-table1", "acedec-table1")
