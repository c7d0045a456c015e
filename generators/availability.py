"""Can a data set be had right now, without building it?  For ``nrbench run --dry-run``.

A dry run must not download, render or build anything, but a user planning an overnight
run wants to know before it starts that, say, ``$NRBENCH_DATA`` points at the wrong folder
or bpy is missing.  :func:`availability` answers from the file system alone:

- ``"ready"``: cached, or generated on first use, or its raw files are all present;
- ``"download"``: raw files are missing but have download URLs (a real run fetches and
  verifies them, and skips the data set if that fails);
- ``"skip"``: a real run would skip it (no GTSRB folder, no bpy for an uncached render,
  a missing ``path=`` file);
- ``"fail"``: a raw file is there but has not the published size (an interrupted download):
  a real run would fail its SHA-256 check, and every fit of the data set would be an error;
- ``"unknown"``: a data set this module does not know how to check (e.g. one a plugin
  registered); the run finds out when it starts.

The checks mirror the loaders (:mod:`generators.mnist`, :mod:`generators.usps`,
:mod:`generators.gtsrb`, :mod:`generators.render.datasets`), reading the file names from
:mod:`generators.sources`, the one source of truth for raw files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from benchmark.paths import data_home
from generators.registry import cache_path, copy_without_source, entry, resolve_params
from generators.sources import FMNIST, MNIST, USPS, SourceFile

#: The raw files each real data set reads, by its ``split`` parameter (None: no split).
_RAW: dict[str, dict[str | None, tuple[dict[str, SourceFile], tuple[str, ...]]]] = {
    "mnist": {"full": (MNIST, ("train", "test")), "train": (MNIST, ("train",)), "test": (MNIST, ("test",))},
    "fmnist": {"full": (FMNIST, ("train", "test")), "train": (FMNIST, ("train",)), "test": (FMNIST, ("test",))},
    "cmnist": {"train": (MNIST, ("train",)), "test": (MNIST, ("test",))},
    "usps": {None: (USPS, ("h5",))},
}


@dataclass(frozen=True)
class Availability:
    """What a run would do to get the data set: ``status`` (ready / download / skip / fail / unknown), and why."""

    status: str
    text: str


def _raw_files(name: str, params: dict[str, Any]) -> list[SourceFile]:
    table = _RAW[name]
    split = None if None in table else params.get("split")
    if split not in table:  # a bad split: the loader raises when the run starts; check every file
        return list(next(iter(table.values()))[0].values())
    files, parts = table[split]
    return [f for key, f in files.items() if key.split("-")[0] in parts or key in parts]


def availability(name: str, params: dict[str, Any] | None = None) -> Availability:
    """Whether data set ``name`` with ``params`` is cached, buildable, downloadable or would be skipped.

    Reads the file system only: nothing is downloaded, rendered or written.  Unknown names
    and parameters raise ``ValueError`` as :func:`generators.get` does.
    """
    full = resolve_params(name, **(params or {}))
    path = cache_path(name, full)
    if path.exists():
        return Availability("ready", f"cached ({path.name})")
    built = copy_without_source(name, full)
    if built is not None:
        return Availability("ready", f"cached ({built.name}; its source files are absent here)")
    source = entry(name).source
    if source == "generated":
        return Availability("ready", "generated on first use")
    if source == "rendered":
        from generators.render.datasets import BPY_MISSING, bpy_available

        if bpy_available():
            return Availability("ready", "rendered on first use (bpy is installed)")
        return Availability("skip", f"not rendered yet and {BPY_MISSING}")
    if name == "gtsrb":
        root = Path(full["path"]).expanduser() if full.get("path") is not None else data_home() / "gtsrb"
        if root.is_dir():
            return Availability("ready", f"raw folder {root}")
        return Availability("skip", f"no GTSRB folder at {root} (it is not downloaded automatically)")
    if name in _RAW:
        root = Path(full["data_dir"]).expanduser() if full.get("data_dir") is not None else data_home()
        files = _raw_files(name, full)
        folder = root / files[0].folder
        missing = [f for f in files if not (folder / f.filename).exists()]
        # the size, not the SHA-256 the run checks: a dry run stays instant; it catches truncated files
        wrong = [(f, _size(folder / f.filename)) for f in files if f not in missing]
        wrong = [(f, size) for f, size in wrong if size != f.size]
        if wrong:
            what = "; ".join(f"{f.filename} is not a readable file" if size is None else
                             f"{f.filename} has {size:,} bytes, the published file {f.size:,}" for f, size in wrong)
            return Availability("fail", f"in {folder}: {what}. A run fails its SHA-256 check: delete "
                                f"{'it' if len(wrong) == 1 else 'them'} to download again, or put the original there")
        if not missing:
            return Availability("ready", f"raw files in {folder}")
        hosts = sorted({urlparse(u).netloc for f in missing for u in f.urls})
        one = len(files) == 1
        what = "the raw file is" if one else f"{len(missing)} of {len(files)} raw files are"
        return Availability("download", f"{what} missing in {folder}; a run downloads and verifies "
                            f"{'it' if one else 'them'} from {', '.join(hosts)}, and skips the data set if that fails")
    if "path" in full:  # a data set read from a user-given file (e.g. stickfigures-file)
        given = full["path"]
        if given is None or not Path(given).expanduser().exists():
            return Availability("skip", f"needs an existing file as path= (got {given!r})")
        return Availability("ready", f"raw file {given}")
    return Availability("unknown", "its raw data is checked when the run starts")


def _size(path: Path) -> int | None:
    """The file's size in bytes; None when it cannot be read (a dangling link, a folder in its place)."""
    try:
        return path.stat().st_size if path.is_file() else None
    except OSError:
        return None
