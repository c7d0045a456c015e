"""benchmark.fileio: the lock beside a cache file, or in a lock folder for a user's output folder."""

from __future__ import annotations

import threading
import time

from benchmark.fileio import file_lock


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
