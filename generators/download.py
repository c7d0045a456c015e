"""Find, download and verify raw source files (:class:`generators.sources.SourceFile`).

``ensure_file(source, data_dir)`` returns the path of a verified local copy:

1. ``<data_dir>/<source.folder>/<source.filename>`` when it exists: its SHA-256
   must match, otherwise :class:`ChecksumError` names the file and the expected
   checksum (a truncated or altered file is never used, and never silently
   replaced: the user deletes it to re-download);
2. otherwise each URL of the source is tried in turn (``urllib``, so ``file://``
   works too), written to a temporary file, verified, and renamed into place; a
   download that installs nothing (every URL failed, or Ctrl-C) leaves neither its
   partial file nor the folders it created;
3. when every URL fails, :class:`DataUnavailableError` says where it looked and
   how to provide the file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

from benchmark.fileio import default_file_mode
from benchmark.paths import ENV_DATA, data_home
from generators.sources import SourceFile

_CHUNK = 1 << 20


class ChecksumError(OSError):
    """A raw source file does not have the published SHA-256 (truncated or altered)."""


class DataUnavailableError(FileNotFoundError):
    """A raw source file is neither present nor downloadable."""


def resolve_data_dir(data_dir: str | os.PathLike | None) -> Path:
    """``data_dir`` if given, else ``$NRBENCH_DATA`` / the default raw-data root."""
    return Path(data_dir).expanduser().resolve() if data_dir is not None else data_home()


def sha256_file(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def fetch(url: str, dest: Path, *, progress: bool = True, desc: str = "download",
          timeout: float = 60.0) -> None:
    """Download ``url`` to ``dest`` (overwritten) with a byte progress bar."""
    with urllib.request.urlopen(url, timeout=timeout) as resp, open(dest, "wb") as out:
        total = resp.headers.get("Content-Length") if hasattr(resp, "headers") else None
        with tqdm(total=int(total) if total else None, unit="B", unit_scale=True,
                  desc=desc,
                  disable=not progress, leave=False) as bar:
            for block in iter(lambda: resp.read(_CHUNK), b""):
                out.write(block)
                bar.update(len(block))


def verify(path: Path, source: SourceFile) -> str:
    """Return the file's SHA-256, or raise :class:`ChecksumError` naming the expected one."""
    digest = sha256_file(path)
    if digest != source.sha256:
        raise ChecksumError(
            f"{path}: SHA-256 {digest} does not match the published {source.sha256} "
            f"({path.stat().st_size} bytes, expected {source.size}); the file is truncated or "
            "altered: delete it to download it again, or replace it with the original"
        )
    return digest


def _download_into(source: SourceFile, path: Path, errors: list[str], progress: bool) -> bool:
    """Try each URL of ``source`` until one gives the verified file at ``path``; False when none did.

    Creates ``path``'s folder.  Each attempt writes a temporary file beside ``path`` and renames
    it into place only once verified; the temporary is deleted whatever happens, an interrupt
    included.  Why the folder or each URL failed is appended to ``errors``.
    """
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        errors.append(f"cannot create {folder}: {exc}")
        return False
    for url in source.urls:
        try:
            fd, tmp_name = tempfile.mkstemp(prefix=f".{source.filename}.", suffix=".tmp", dir=folder)
            os.close(fd)
        except OSError as exc:
            errors.append(f"cannot write in {folder}: {exc}")
            return False
        tmp = Path(tmp_name)
        try:
            fetch(url, tmp, progress=progress, desc=f"download {source.filename}")
            verify(tmp, source)
            os.chmod(tmp, default_file_mode())  # mkstemp's 0o600 would hide raw data from a group
            os.replace(tmp, path)
            return True
        except ChecksumError as exc:
            errors.append(f"{url}: {str(exc).split(': ', 1)[1]}")
        except Exception as exc:  # noqa: BLE001 - network errors of every kind: try the next URL
            errors.append(f"{url}: {type(exc).__name__}: {exc}")
        finally:
            tmp.unlink(missing_ok=True)
    return False


def _remove_empty_folders(created: list[Path]) -> None:
    """Remove the folders of ``created`` (deepest first) that a download made; stop at one that is not empty.

    ``rmdir`` removes only empty folders, so a file another process put there meanwhile is kept.
    """
    for p in created:
        try:
            p.rmdir()
        except OSError:
            break


def ensure_file(source: SourceFile, data_dir: str | os.PathLike | None = None, *,
                progress: bool = True) -> Path:
    """Return the verified local path of ``source``, downloading it if absent.

    A download that does not install the file, because every URL failed or because it was
    interrupted (Ctrl-C), leaves nothing behind: neither its partial file nor the folders it
    created.  Folders that existed before, and anything in them, are never removed.
    """
    root = resolve_data_dir(data_dir)
    folder = root / source.folder
    path = folder / source.filename
    if path.exists():
        verify(path, source)
        return path
    errors: list[str] = []
    created = [p for p in (folder, *folder.parents) if not p.exists()]  # removed again if nothing lands
    try:
        if _download_into(source, path, errors, progress):
            return path
    finally:  # after failed URLs and after an interrupt alike (KeyboardInterrupt is not caught there)
        if not path.exists():
            _remove_empty_folders(created)
    unpacked = folder / source.filename.removesuffix(".gz")
    hint = (f" An uncompressed {unpacked.name} is there, but the checksum is that of the published "
            f"{source.filename} (recompressing changes it): put the original archive beside it."
            if source.filename.endswith(".gz") and unpacked.is_file() else "")
    raise DataUnavailableError(
        f"{source.filename} not found in {folder} and could not be downloaded "
        f"({'; '.join(errors) or 'no URL'}). Put the file there (SHA-256 {source.sha256}), "
        f"or point data_dir / ${ENV_DATA} at a folder that has '{source.folder}/{source.filename}'.{hint}"
    )

