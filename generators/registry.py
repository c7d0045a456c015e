"""The catalogue of data sets, and the cache that ``generators.get`` serves from.

Every data set nrbench knows is one :class:`Entry` in :data:`CATALOG`: a name, a
one-line description, its nominal size and clusterings (for ``nrbench list``,
without building anything), and the dotted path of its builder.  Builders are
imported lazily, so listing data sets never imports bpy or torch.

A builder is a function ``build(*, seed=..., <params>..., progress=True) ->
Dataset`` with keyword-only parameters and defaults.  ``get`` validates the
parameter names against the builder's signature, derives a cache key from the
name and the canonical JSON of the full parameter set, and

1. loads ``<NRBENCH_HOME>/datasets/<name>-<key>.npz`` when it exists and its
   SHA-256 verifies;
2. otherwise (missing, or corrupted: a warning says so) builds it under an
   exclusive file lock, so two processes building the same data set at once end
   with one valid file, and saves it atomically.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.fileio import check_writable, file_lock
from benchmark.paths import datasets_dir, locks_dir
from generators.dataset import CorruptDatasetError, Dataset, read_meta


@dataclass(frozen=True)
class Entry:
    """Static description of one data set in the catalogue."""

    name: str
    builder: str  # "module:function"
    description: str
    n: int
    sample_shape: tuple[int, ...]
    clusterings: tuple[tuple[str, int], ...]
    source: str  # "generated", "real" (needs raw files) or "rendered" (needs bpy)
    #: Bump when the builder's output changes for the same parameters (new sprites, constants,
    #: render settings): the cache key changes with it, so no older copy is served.
    #: ``tests/test_registry.py`` pins small builds' checksums to catch a change left unversioned.
    version: int = 1
    #: "module:function" giving a cheap fingerprint of the user's source files for given
    #: parameters (None when they are absent); part of the cache key, so a changed file or
    #: folder is rebuilt instead of served from an older copy.  None: no user files.
    fingerprint: str | None = None

    def load_builder(self) -> Callable[..., Dataset]:
        """Import and return the builder function."""
        return _load(self.builder)

    def source_fingerprint(self, params: dict[str, Any]) -> str | None:
        """The fingerprint of the user's source files for ``params`` (None: none, or absent)."""
        return _load(self.fingerprint)(params) if self.fingerprint else None


def _load(target: str) -> Callable[..., Any]:
    module, func = target.split(":")
    return getattr(importlib.import_module(module), func)


CATALOG: dict[str, Entry] = {
    e.name: e
    for e in [
        Entry("synth", "generators.synth:build_synth",
              "SYNTH-k: 4 Gaussian clusters in 2 dims plus k Gaussian noise dims (ACe/DeC)",
              12000, (27,), (("cluster", 4),), "generated"),
        Entry("stickfigures", "generators.stickfigures:build_stickfigures",
              "Procedural dancing stick figures, 20x20: upper x lower body pose (ENRC)",
              900, (1, 20, 20), (("upper", 3), ("lower", 3)), "generated"),
        Entry("stickfigures-file", "generators.stickfigures:load_stickfigures_file",
              "The published stickfigures CSV (900 rows, 2 labels + 400 pixels); pass path=",
              900, (1, 20, 20), (("upper", 3), ("lower", 3)), "real",
              fingerprint="generators.stickfigures:source_fingerprint"),
        Entry("cmnist", "generators.cmnist:build_cmnist",
              "C-MNIST: two MNIST digits side by side, padded to 56x56 (ENRC)",
              60000, (1, 56, 56), (("left", 10), ("right", 10)), "real"),
        Entry("mnist", "generators.mnist:load_mnist",
              "MNIST-Full (70,000) or MNIST-Test (10,000, split='test')",
              70000, (1, 28, 28), (("digit", 10),), "real"),
        Entry("fmnist", "generators.mnist:load_fmnist",
              "Fashion-MNIST (70,000, or split='test')",
              70000, (1, 28, 28), (("class", 10),), "real"),
        Entry("usps", "generators.usps:load_usps",
              "USPS handwritten digits, 16x16 (9,298)",
              9298, (1, 16, 16), (("digit", 10),), "real"),
        Entry("gtsrb", "generators.gtsrb:load_gtsrb",
              "GTSRB 4-class subset (70 km/h, no passing, ahead only, keep right), 32x32",
              6720, (3, 32, 32), (("type", 4), ("color", 2)), "real",
              fingerprint="generators.gtsrb:source_fingerprint"),
        Entry("nrobjects", "generators.render.datasets:build_nrobjects",
              "NR-Objects rendered with Blender: colour x material x shape (ENRC)",
              10000, (4, 64, 64), (("color", 6), ("material", 2), ("shape", 3)), "rendered"),
        Entry("objects", "generators.render.datasets:build_objects",
              "OBJECTS rendered with Blender: grayscale sphere/cube/cylinder (ACe/DeC)",
              10000, (1, 64, 64), (("shape", 3),), "rendered"),
    ]
}


def available() -> list[str]:
    """Names of every data set in the catalogue, sorted."""
    return sorted(CATALOG)


def entry(name: str) -> Entry:
    """Return the catalogue entry; an unknown name lists the available ones."""
    try:
        return CATALOG[name]
    except KeyError:
        raise ValueError(f"unknown data set {name!r}; available: {', '.join(available())}") from None


def resolve_params(name: str, **params: Any) -> dict[str, Any]:
    """Fill in the builder's defaults and reject unknown parameter names.

    ``progress`` is a display option, not a data parameter, and is dropped.
    """
    builder = entry(name).load_builder()
    sig = inspect.signature(builder)
    allowed = {k: p for k, p in sig.parameters.items() if k != "progress"}
    unknown = sorted(set(params) - set(allowed) - {"progress"})
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {unknown} for data set {name!r}; valid: {', '.join(sorted(allowed))}"
        )
    full: dict[str, Any] = {}
    for k, p in allowed.items():
        if k in params and is_path_param(p):
            full[k] = _absolute_path(name, k, params[k])
        elif k in params:
            full[k] = _check_type(name, k, params[k], p.default)
        elif p.default is not inspect.Parameter.empty:
            full[k] = p.default
        else:
            raise ValueError(f"data set {name!r} needs parameter {k!r}")
    return full


def is_path_param(p: inspect.Parameter) -> bool:
    """Whether a builder parameter names a file or folder (annotated ``os.PathLike``)."""
    return "PathLike" in str(p.annotation)


def path_params(name: str) -> list[str]:
    """The parameters of data set ``name`` that name a file or folder (values kept as strings)."""
    sig = inspect.signature(entry(name).load_builder())
    return [k for k, p in sig.parameters.items() if is_path_param(p)]


def _absolute_path(name: str, key: str, value: Any) -> str | None:
    """A path parameter as an absolute string, so a relative path means one file wherever it is given."""
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise ValueError(f"data set {name!r}: parameter {key!r} must be a path; got {value!r}")
    return str(Path(value).expanduser().resolve())


def _check_type(name: str, key: str, value: Any, default: Any) -> Any:
    """A given parameter must have its default's type (bool, int or str), and a seed must be >= 0.

    So ``rotate=maybe`` or ``k=2.5`` is refused by name instead of building a data set
    from a value the builder would coerce (``bool("maybe")`` is True).  NumPy integers and
    booleans (a sweep over ``np.arange``) are taken as the Python values they equal, so they
    give the cache key, the file and the recorded parameters of those values.
    """
    kinds = {bool: "true or false", int: "an integer", str: "a string"}
    want = type(default)
    if want is int and isinstance(value, np.integer) or want is bool and isinstance(value, np.bool_):
        value = value.item()
    if want in kinds:
        ok = isinstance(value, want) and (want is bool or not isinstance(value, bool))
        if not ok:
            raise ValueError(f"data set {name!r}: parameter {key!r} must be {kinds[want]}; got {value!r}")
    if key == "seed" and value < 0:
        raise ValueError(f"data set {name!r}: parameter 'seed' must be >= 0; got {value!r}")
    return value


def cache_key(name: str, params: dict[str, Any]) -> str:
    """Short hash of the canonical JSON of (name, params, generator version, source fingerprint).

    The version enters only from 2 on and the fingerprint only for data sets built from the
    user's own files, so the keys of version-1 generated data sets are those of earlier
    releases and their caches stay valid.
    """
    e = entry(name)
    ident: dict[str, Any] = {"name": name, "params": params}
    if e.version != 1:
        ident["version"] = e.version
    fp = e.source_fingerprint(params)
    if fp is not None:
        ident["source"] = fp
    blob = json.dumps(ident, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def cache_path(name: str, params: dict[str, Any], root: Path | None = None) -> Path:
    """Where ``get`` caches this data set."""
    root = Path(root) if root is not None else datasets_dir()
    return root / f"{name}-{cache_key(name, params)}.npz"


def build(name: str, progress: bool = True, **params: Any) -> Dataset:
    """Build a data set without touching the cache."""
    full = resolve_params(name, **params)
    builder = entry(name).load_builder()
    if "progress" in inspect.signature(builder).parameters:
        return builder(progress=progress, **full)
    return builder(**full)


def get(name: str, *, root: str | os.PathLike | None = None, rebuild: bool = False,
        progress: bool = True, **params: Any) -> Dataset:
    """Return the cached data set ``name`` built with ``params``, building it if needed.

    A cache file that fails its SHA-256 check is reported with a warning and
    rebuilt; it is never silently used.  While another process builds the same file, this one
    waits for it (and, with ``progress``, says so on stderr) and then loads that file.
    """
    full = resolve_params(name, **params)
    path = cache_path(name, full, Path(root) if root is not None else None)
    key = path.stem.rsplit("-", 1)[-1]
    if not rebuild:
        ds = _try_load(path, key, full)
        if ds is not None:
            return ds
        built = copy_without_source(name, full, path.parent)
        if built is not None:
            try:
                ds = Dataset.load(built)
            except CorruptDatasetError as exc:
                # no source files, so no rebuild: say which file is damaged and how to get a good one
                raise CorruptDatasetError(
                    f"{exc}; it cannot be rebuilt here because the source files of {name} are absent: put them "
                    f"back and run `nrbench generate {name} --rebuild` with the same parameters "
                    "(or delete the damaged file)") from exc
            warnings.warn(f"{name}: its source files are absent here; using the cached copy {built.name}, built "
                          "from them earlier with the same parameters", UserWarning, stacklevel=2)
            return ds
    # before a build that may take minutes: the folder it will be saved in must take files
    check_writable(path.parent, "the data-set folder" if root is not None
                   else "the data-set cache folder ($NRBENCH_HOME/datasets)")
    # a user's folder (root=, e.g. generate --out) gets no lock file; its lock lives in the cache.
    # The cache folder itself, however it is named, keeps its locks beside the files: one lock per file.
    in_cache = root is None or Path(root).expanduser().resolve() == datasets_dir().resolve()
    def waiting() -> None:  # the other build may take minutes: say why nothing happens
        print(f"{name}: another process is building {path.name}; waiting for it to finish", file=sys.stderr)

    with file_lock(path, lock_dir=None if in_cache else locks_dir(), on_wait=waiting if progress else None):
        if not rebuild:
            # another process may have finished meanwhile (a bad file was warned about once above)
            ds = _try_load(path, key, full, warn=False)
            if ds is not None:
                return ds
        ds = build(name, progress=progress, **full)
        ds.params[CACHE_KEY_PARAM] = key  # what the file is: checked when it is loaded again
        ds.params[CACHE_REQUEST_PARAM] = json.loads(_canon(full))  # found by copy_without_source
        ds.save(path)
    return ds


#: ``Dataset.params`` entries recording the cache key a file was built for, and its parameters.
CACHE_KEY_PARAM = "cache_key"
CACHE_REQUEST_PARAM = "cache_request"


def copy_without_source(name: str, params: dict[str, Any], folder: Path | None = None) -> Path | None:
    """For a data set built from the user's files that are absent now: its newest cached copy, else None.

    The key of such a data set holds a fingerprint of the files, so without them it cannot be
    computed; a node that received only ``$NRBENCH_HOME/datasets`` would otherwise be unable to
    use the cache.  A copy counts when it recorded the same parameters.  None when the files are
    present (then the key decides) or the data set has no user files.
    """
    e = entry(name)
    if e.fingerprint is None or e.source_fingerprint(params) is not None:
        return None
    folder = folder if folder is not None else datasets_dir()
    want = json.loads(_canon(params))
    found = []
    for f in folder.glob(f"{name}-*.npz"):
        try:
            meta = read_meta(f)
        except CorruptDatasetError:  # not a readable data set: not a candidate
            continue
        if meta.get("name") == name and meta.get("params", {}).get(CACHE_REQUEST_PARAM) == want:
            found.append((f.stat().st_mtime_ns, f))
    return max(found)[1] if found else None


def _try_load(path: Path, key: str, params: dict[str, Any], warn: bool = True) -> Dataset | None:
    """The cached data set at ``path``; None when absent, corrupt or another data set.

    "Another data set" is a valid file whose recorded cache key (or, in files written before
    keys were recorded, a recorded parameter) differs from the request, e.g. a file copied
    under another cache name.  Such a file, like a corrupt one, warns once and is rebuilt.
    """
    if not path.exists():
        return None
    try:
        ds = Dataset.load(path)
    except CorruptDatasetError as exc:
        if warn:
            warnings.warn(f"corrupted cache file, rebuilding: {exc}", RuntimeWarning, stacklevel=3)
        return None
    stored = ds.params.get(CACHE_KEY_PARAM)
    mismatch = ([f"cache key {stored}, expected {key}"] if stored is not None and stored != key else
                [f"{k}={ds.params[k]!r}, expected {v!r}" for k, v in params.items()
                 if stored is None and k in ds.params and _canon(ds.params[k]) != _canon(v)])
    if mismatch:
        if warn:
            warnings.warn(f"cache file {path} holds another data set ({'; '.join(mismatch)}), rebuilding",
                          RuntimeWarning, stacklevel=3)
        return None
    return ds


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
