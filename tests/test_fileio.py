"""benchmark.fileio: the lock beside a cache file, or in a lock folder for a user's output folder."""

from __future__ import annotations

import threading
import time
import zipfile

import numpy as np
import pytest

from benchmark.fileio import atomic_write, file_lock, write_npz


def test_lock_in_a_lock_folder_leaves_the_output_folder_clean_and_still_excludes(tmp_path) -> None:
    out, locks = tmp_path / "out", tmp_path / "locks"
    target = out / "data.npz"
    events: list[str] = []
    inside = threading.Event()

    def hold() -> None:
        with file_lock(target, lock_dir=locks):
            events.append("first in")
            inside.set()
            time.sleep(0.3)
            events.append("first out")

    t = threading.Thread(target=hold)
    t.start()
    inside.wait(5)
    with file_lock(out / "." / "data.npz", lock_dir=locks):  # the same file, spelled differently
        events.append("second in")
    t.join()
    assert events == ["first in", "first out", "second in"]
    assert list(out.iterdir()) == [] and len(list(locks.iterdir())) == 1
    with file_lock(target):  # without lock_dir: beside the file, as the caches do
        pass
    assert [p.name for p in out.iterdir()] == ["data.npz.lock"]


def test_get_with_the_cache_folder_as_root_locks_beside_the_file_like_the_default(tmp_path, monkeypatch) -> None:
    # two callers of the same cache file must take the same lock, however they name its folder
    from benchmark.paths import datasets_dir, locks_dir
    from generators import get

    get("synth", n=40, k=1, progress=False, root=str(datasets_dir()) + "/.")
    assert list(datasets_dir().glob("synth-*.npz.lock")) and not locks_dir().exists()


@pytest.mark.parametrize("compress", [True, False])
def test_write_npz_is_numpys_npz_format(tmp_path, compress) -> None:
    arrays = {"X": np.arange(12, dtype=np.float32).reshape(3, 4), "labels": np.array([2, 0, 1]),
              "digest": np.frombuffer(b"abc", dtype=np.uint8)}
    path = atomic_write(tmp_path / "a.npz", lambda fh: write_npz(fh, arrays, compress=compress))
    with np.load(path, allow_pickle=False) as z:
        assert z.files == ["X", "labels", "digest"]
        for k, v in arrays.items():
            assert z[k].dtype == v.dtype and np.array_equal(z[k], v)
    with zipfile.ZipFile(path) as zf:
        want = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        assert [i.compress_type for i in zf.infolist()] == [want] * 3
    numpy_own = tmp_path / "b.npz"
    (np.savez_compressed if compress else np.savez)(numpy_own, **arrays)
    with zipfile.ZipFile(path) as ours, zipfile.ZipFile(numpy_own) as theirs:  # member by member, byte for byte
        assert [ours.read(n) for n in ours.namelist()] == [theirs.read(n) for n in theirs.namelist()]


def test_write_npz_refuses_object_arrays(tmp_path) -> None:
    with pytest.raises(ValueError, match="allow_pickle=False"):
        atomic_write(tmp_path / "a.npz", lambda fh: write_npz(fh, {"o": np.array([None, 1], dtype=object)}))
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_write_npz_closes_its_archive_before_the_file(tmp_path, monkeypatch) -> None:
    """numpy's savez leaves its ZipFile open when interrupted; once atomic_write has closed the file, the
    ZipFile's __del__ fails ("Exception ignored ... seek of closed file").  write_npz closes it at once."""
    import gc
    import sys

    from numpy.lib import format as npy_format

    real = npy_format.write_array
    calls = []

    def interrupted_second_array(fp, array, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(fp, array, **kw)

    monkeypatch.setattr(npy_format, "write_array", interrupted_second_array)
    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    with pytest.raises(KeyboardInterrupt):
        atomic_write(tmp_path / "a.npz", lambda fh: write_npz(fh, {"a": np.zeros(3), "b": np.ones(3)}))
    gc.collect()
    assert unraisable == []
    assert list(tmp_path.iterdir()) == []  # no partial file, no temporary


def test_check_creatable_creates_nothing_and_names_what_is_in_the_way(tmp_path):
    from benchmark.fileio import check_creatable

    target = tmp_path / "a" / "b"
    assert check_creatable(target, "--out folder") == target
    assert not (tmp_path / "a").exists() and list(tmp_path.iterdir()) == []  # no folder, no probe file left
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match=r"--out folder .*f/sub cannot be made: .*f is a file"):
        check_creatable(tmp_path / "f" / "sub", "--out folder")
    with pytest.raises(ValueError, match=r"--out folder .*f is a file, not a folder"):
        check_creatable(tmp_path / "f", "--out folder")


def test_a_full_disk_names_the_file_being_written_and_leaves_no_temporary(tmp_path) -> None:
    """`nrbench generate` on a full $NRBENCH_HOME said only "OSError: [Errno 28] No space left on device"."""
    import errno

    def failing(err: OSError):
        def write(fh) -> None:
            fh.write(b"partial")
            raise err
        return write

    target = tmp_path / "datasets" / "synth-0123.npz"
    with pytest.raises(OSError) as info:
        atomic_write(target, failing(OSError(errno.ENOSPC, "No space left on device")))
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(target)
    assert str(info.value) == f"[Errno 28] No space left on device: '{target}'"
    assert list(target.parent.iterdir()) == []
    with pytest.raises(PermissionError):  # the subclass of the errno, as the OS raises it
        atomic_write(target, failing(OSError(errno.EACCES, "Permission denied")))
    elsewhere = FileNotFoundError(errno.ENOENT, "No such file or directory", str(tmp_path / "x"))
    with pytest.raises(FileNotFoundError) as named:  # an error that names its file is left as it is
        atomic_write(target, failing(elsewhere))
    assert named.value is elsewhere
    assert list(target.parent.iterdir()) == []


def test_without_posix_file_locks_the_import_says_which_platforms_work() -> None:
    """Windows has no ``fcntl``: the error names the supported platforms and WSL, not a bare module name."""
    import subprocess
    import sys

    code = "import sys; sys.modules['fcntl'] = None; import benchmark.fileio"
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: nrbench runs on Linux and macOS")
    assert "WSL" in last and "fcntl.flock" in last
