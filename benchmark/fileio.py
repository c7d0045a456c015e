"""Crash-safe file writing and inter-process locking: the one implementation every cache uses.

- :func:`atomic_write`: write through a temporary file in the same folder,
  ``fsync``, then ``os.replace``; a killed writer never leaves a file that loads.
- :func:`write_npz`: write arrays as an ``.npz`` archive into an open file, closing
  the archive on every path out (numpy's ``savez`` leaves it open when interrupted).
- :func:`file_lock`: an exclusive advisory lock on ``<path>.lock`` so that two
  processes building the same artefact end with one valid file.
- :func:`human_size`: a byte count as ``du --si`` prints it, for every size nrbench reports.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

try:
    import fcntl
except ModuleNotFoundError as _exc:  # pragma: no cover - Windows
    raise ImportError(
        "nrbench runs on Linux and macOS: its caches and result store are shared between processes with "
        "POSIX file locks (fcntl.flock), which Windows lacks; on Windows, run it under WSL") from _exc


def _umask() -> int:
    """The process umask, read without changing it where Linux shows it (``os.umask`` sets it to read it)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def default_file_mode() -> int:
    """The mode ``open()`` gives a new file (0o666 less the umask, e.g. 0o644).

    ``tempfile.mkstemp`` creates 0o600 files; a cache or data folder shared by a group
    (one ``$NRBENCH_HOME`` on a cluster) needs the usual mode once the file is in place.
    """
    return 0o666 & ~_umask()


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(fh)`` on a temporary file beside ``path`` and atomically rename it to ``path``.

    The file gets the mode a plain ``open()`` would give it (:func:`default_file_mode`).
    An ``OSError`` that names no file (a full disk: ``[Errno 28] No space left on device``
    comes from a write) is raised again naming ``path``, so the message says where.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, path)
    except BaseException as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.errno is not None and exc.filename is None:
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
    return path


def write_npz(fh: BinaryIO, arrays: Mapping[str, Any], compress: bool = True) -> None:
    """Write ``arrays`` to the open binary file ``fh`` as an ``.npz`` archive (what ``np.load`` reads).

    The archive is numpy's ``savez_compressed`` (``compress=False``: ``savez``) format, one
    ``<name>.npy`` member per array, but its ``ZipFile`` is closed on every path out.  numpy's
    own writer leaves it open when interrupted (Ctrl-C during a save): the traceback keeps it
    alive until after :func:`atomic_write` has closed ``fh``, and its ``__del__`` then prints
    "Exception ignored ... ValueError: seek of closed file".  Object arrays are refused
    (``allow_pickle=False``), as every nrbench reader refuses them.
    """
    import numpy as np
    from numpy.lib import format as npy_format

    mode = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(fh, mode="w", compression=mode, allowZip64=True) as zf:
        for name, value in arrays.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as member:  # zip64 always, as numpy (gh-10776)
                npy_format.write_array(member, np.asanyarray(value), allow_pickle=False)


@contextlib.contextmanager
def file_lock(path: str | os.PathLike, lock_dir: str | os.PathLike | None = None,
              on_wait: Callable[[], object] | None = None) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``<path>.lock`` for the duration of the block.

    ``on_wait`` is called once, before blocking, when another process holds the lock (e.g. to
    say so on the terminal: the wait may last as long as that process's build).

    With ``lock_dir`` the lock file lives there instead, named by a hash of ``path``'s absolute
    form, so that writing into a user's folder (``nrbench generate --out DIR``) leaves no
    ``.lock`` file in it; every process that locks the same path must pass the same ``lock_dir``.

    The lock file stays after the block, also when the block failed (e.g. a refused build):
    a process may be blocked in ``flock`` on it, and ``flock`` cannot tell.  Were the file
    unlinked, that process would get its lock on a file no longer at the path, while a process
    starting then would create a new file there and lock it at once: two holders, and the
    build done twice.  The empty files are left out of ``nrbench cache`` for that reason.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if lock_dir is None:
        lock = path.with_name(path.name + ".lock")
    else:
        import hashlib

        Path(lock_dir).mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:24]
        lock = Path(lock_dir) / f"{path.name}.{digest}.lock"
    with open(lock, "a+") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def check_writable(folder: str | os.PathLike, what: str) -> Path:
    """Create ``folder`` if needed and check a file can be written there; ``ValueError`` naming ``what``."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{what} {folder} is a file, not a folder")
    reason = write_error(folder)
    if reason is not None:
        raise ValueError(f"{what} {folder} is not writable: {reason}")
    return folder


def check_creatable(folder: str | os.PathLike, what: str) -> Path:
    """Check, creating nothing, that ``folder`` exists as a writable folder or could be made; ``ValueError`` naming ``what``.

    For a command that fails for other reasons before it writes (``nrbench plot`` with nothing
    to draw) and should then leave no empty folder behind: the nearest existing ancestor must
    be a folder that takes files.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{what} {folder} is a file, not a folder")
    base = folder.absolute()
    while not base.exists():
        base = base.parent
    if not base.is_dir():
        raise ValueError(f"{what} {folder} cannot be made: {base} is a file")
    reason = write_error(base, create=False)
    if reason is not None:
        raise ValueError(f"{what} {folder} is not writable: {reason}")
    return folder


def write_error(folder: str | os.PathLike, create: bool = True) -> str | None:
    """Why no file can be written in ``folder`` (the OS's reason), or None when one can.

    Probes by writing and removing an empty temporary file; with ``create`` the folder (and its
    parents) is created first, else a missing folder is an error and nothing is left behind.
    """
    folder = Path(folder)
    try:
        if create:
            folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".nrbench-write-test-", dir=folder)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def human_size(n: int) -> str:
    """``"13.0 MB"``: bytes in decimal units (as ``du --si`` and file managers print them)."""
    size = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")
