"""Catalogue and cache end to end: reuse, corruption detection and rebuild, concurrent builders."""

from __future__ import annotations

import functools
import inspect
import json
import os
import struct
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

import generators
from generators import CATALOG, Dataset, cache_path, get, resolve_params

OWN = ["synth", "stickfigures", "stickfigures-file", "cmnist", "mnist", "fmnist", "usps", "gtsrb"]


@pytest.mark.parametrize("name", OWN)
def test_builders_match_catalogue_conventions(name: str) -> None:
    sig = inspect.signature(CATALOG[name].load_builder())
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in sig.parameters.values())
    assert sig.parameters["progress"].default is True


def test_get_builds_once_then_loads_from_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    from generators import synth

    calls = []
    real = synth.build_synth

    @functools.wraps(real)  # keeps the signature that resolve_params reads
    def counting(**kw):
        calls.append(kw)
        return real(**kw)

    monkeypatch.setattr(synth, "build_synth", counting)
    a = get("synth", n=200, k=3, progress=False)
    b = get("synth", n=200, k=3, progress=False)
    assert len(calls) == 1 and a.checksum == b.checksum
    assert b.params == a.params and b.name == "synth-3"
    path = cache_path("synth", resolve_params("synth", n=200, k=3))
    assert path.exists() and Dataset.load(path).checksum == a.checksum
    get("synth", n=200, k=3, rebuild=True, progress=False)
    assert len(calls) == 2


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_corrupted_cache_is_detected_and_rebuilt(damage: str, capsys: pytest.CaptureFixture) -> None:
    first = get("stickfigures", n_per_combination=4, progress=False)
    path = cache_path("stickfigures", resolve_params("stickfigures", n_per_combination=4))
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data[len(data) // 2] ^= 0xFF
    else:
        data = bytearray(b"not a zip file")
    path.write_bytes(bytes(data))
    with pytest.warns(RuntimeWarning, match="corrupted cache file, rebuilding") as record:
        again = get("stickfigures", n_per_combination=4, progress=False)
    assert len(record) == 1 and str(path) in str(record[0].message)  # one warning, naming the file
    assert again.checksum == first.checksum
    assert Dataset.load(path).checksum == first.checksum  # the file is valid again


def test_damage_anywhere_in_a_cached_file_is_rebuilt() -> None:
    """7 altered bytes at every 5th offset of a small cached file: each damage that makes the file
    unreadable (zlib, zipfile, numpy's header parser, JSON, the checksum: many exception types) warns
    once naming the file and is rebuilt to the fresh build's content; the rest left the file usable."""
    params = resolve_params("synth", n=40, k=2)
    fresh = get("synth", progress=False, **params).checksum
    path = cache_path("synth", params)
    good = path.read_bytes()
    rebuilt = []
    for offset in range(0, len(good), 5):
        damage = bytes(b ^ 0xA5 for b in good[offset:offset + 7])  # every byte differs from the original
        path.write_bytes(good[:offset] + damage + good[offset + len(damage):])
        try:
            Dataset.load(path)
            unreadable = False
        except generators.CorruptDatasetError:
            unreadable = True
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            again = get("synth", progress=False, **params)
        messages = [str(w.message) for w in caught]
        assert again.checksum == fresh, offset
        assert Dataset.load(path).checksum == fresh, offset  # the file on disk is usable again
        if unreadable:
            assert len(messages) == 1 and messages[0].startswith(f"corrupted cache file, rebuilding: {path}: "), \
                (offset, messages)
            rebuilt.append(offset)
        else:  # bytes no reader looks at (e.g. a zip timestamp): the file is served as it is
            assert messages == [], (offset, messages)
    assert len(rebuilt) > 0.9 * len(range(0, len(good), 5))


def test_a_damaged_copy_whose_source_is_absent_names_the_file_and_the_way_out(tmp_path, monkeypatch) -> None:
    """The one cache entry that cannot be rebuilt: a copy used because its source folder is absent."""
    import shutil

    from test_gtsrb import make_png

    raw = make_png(tmp_path / "raw" / "gtsrb")
    monkeypatch.setenv("NRBENCH_DATA", str(tmp_path / "raw"))
    get("gtsrb", check_counts=False, progress=False)
    (copy,) = (Path(os.environ["NRBENCH_HOME"]) / "datasets").glob("gtsrb-*.npz")
    shutil.rmtree(raw)
    data = bytearray(copy.read_bytes())
    with zipfile.ZipFile(copy) as zf:  # damage X's compressed bytes; the metadata stays readable
        info = zf.getinfo("X.npy")
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26:info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len  # X's compressed bytes begin here
    data[start + info.compress_size // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(generators.CorruptDatasetError) as err:
        get("gtsrb", check_counts=False, progress=False)
    assert str(err.value).startswith(f"{copy}: not a readable nrbench data set (")
    assert "source files of gtsrb are absent: put them back and run `nrbench generate gtsrb --rebuild`" \
        in str(err.value)


def test_altered_array_with_valid_zip_is_caught(tmp_path: Path) -> None:
    ds = generators.build("synth", n=50, k=1, progress=False)
    path = ds.save(tmp_path / "s.npz")
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["X"] = arrays["X"].copy()
    arrays["X"][0, 0] += 1  # a plausible edit, rezipped: only the SHA-256 can tell
    np.savez_compressed(path, **arrays)
    with pytest.raises(generators.CorruptDatasetError, match="SHA-256 mismatch"):
        Dataset.load(path)


_CHILD = """
import functools, json, sys, time
from pathlib import Path
import generators, generators.synth as synth

built = []
real = synth.build_synth

@functools.wraps(real)
def counting(**kw):
    built.append(1)
    return real(**kw)

synth.build_synth = counting
me, other = Path(sys.argv[1]), Path(sys.argv[2])
me.touch()
deadline = time.time() + 60
while not other.exists() and time.time() < deadline:  # start get() together
    time.sleep(0.01)
ds = generators.get("synth", n=20000, k=40, seed=11, progress=False)
print(json.dumps({"sha": ds.checksum, "built": len(built)}))
"""


def test_two_processes_building_at_once_end_with_one_valid_file(tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ready = [tmp_path / "ready-0", tmp_path / "ready-1"]
    procs = [subprocess.Popen([sys.executable, "-c", _CHILD, str(ready[i]), str(ready[1 - i])],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
             for i in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1] for o in outs]
    results = [json.loads(o[0].strip().splitlines()[-1]) for o in outs]
    assert len({r["sha"] for r in results}) == 1
    assert sorted(r["built"] for r in results) == [0, 1]  # one built, the other waited and loaded
    folder = Path(os.environ["NRBENCH_HOME"]) / "datasets"
    files = sorted(p.name for p in folder.iterdir() if not p.name.endswith(".lock"))
    assert len(files) == 1 and files[0].startswith("synth-")  # no temporaries left behind
    assert Dataset.load(folder / files[0]).checksum == results[0]["sha"]


@pytest.mark.parametrize("progress", [True, False])
def test_a_build_that_waits_for_another_process_says_so_and_loads_its_file(tmp_path: Path, capsys,
                                                                            progress: bool) -> None:
    import threading

    from benchmark.fileio import file_lock

    params = {"n": 200, "k": 3, "seed": 5 + progress}
    path = cache_path("synth", resolve_params("synth", **params))
    held, release = threading.Event(), threading.Event()

    def other_builder() -> None:  # holds the lock as a building process would, then saves the data set
        with file_lock(path):
            held.set()
            release.wait(10)
            generators.build("synth", progress=False, **params).save(path)

    t = threading.Thread(target=other_builder)
    t.start()
    held.wait(10)
    threading.Timer(0.5, release.set).start()
    ds = get("synth", progress=progress, **params)
    t.join()
    err = capsys.readouterr().err
    assert (f"synth: another process is building {path.name}; waiting for it to finish" in err) is progress
    assert ds.checksum == Dataset.load(path).checksum  # the waiter loaded the other's file


def test_generated_builders_are_byte_identical_across_calls() -> None:
    for name, params in [("synth", {"n": 300, "rotate": True}), ("stickfigures", {"n_per_combination": 3})]:
        a = generators.build(name, progress=False, **params)
        b = generators.build(name, progress=False, **params)
        assert a.checksum == b.checksum, name
        assert np.array_equal(a.X, b.X) and a.X.tobytes() == b.X.tobytes()


def test_unknown_names_and_parameters_are_clear() -> None:
    with pytest.raises(ValueError, match="unknown data set 'synth25'.*available: .*synth"):
        get("synth25")
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['dims'\]"):
        get("synth", dims=3)
    with pytest.raises(ValueError, match="needs parameter 'path'"):
        get("stickfigures-file")
    with pytest.raises(ValueError, match="^n "):
        get("synth", n=0, progress=False)


def test_numpy_integers_and_booleans_are_the_values_they_equal(tmp_path: Path) -> None:
    """A sweep ``for k in np.arange(...)`` was refused with "parameter 'k' must be an integer; got 5"."""
    py = get("synth", root=tmp_path, progress=False, n=40, k=3, seed=1, rotate=True)
    numpy_args = dict(n=np.int64(40), k=np.int32(3), seed=np.uint8(1), rotate=np.bool_(True))
    assert resolve_params("synth", **numpy_args) == {"n": 40, "k": 3, "seed": 1, "rotate": True}
    assert all(type(v) in (int, bool) for v in resolve_params("synth", **numpy_args).values())
    assert cache_path("synth", resolve_params("synth", **numpy_args), tmp_path) == \
        cache_path("synth", resolve_params("synth", n=40, k=3, seed=1, rotate=True), tmp_path)
    ds = get("synth", root=tmp_path, progress=False, **numpy_args)
    assert ds.checksum == py.checksum and ds.params["cache_key"] == py.params["cache_key"]
    assert len(list(tmp_path.glob("synth-*.npz"))) == 1  # the same file, not a second copy
    with pytest.raises(ValueError, match="parameter 'k' must be an integer; got 3.0"):
        resolve_params("synth", k=np.float64(3.0))
    with pytest.raises(ValueError, match="parameter 'k' must be an integer"):
        resolve_params("synth", k=np.bool_(True))
    with pytest.raises(ValueError, match="parameter 'seed' must be >= 0"):
        resolve_params("synth", seed=np.int64(-1))


#: Checksums of small builds.  When one changes on purpose, bump the data set's
#: ``Entry.version`` in ``generators/registry.py`` (so cached copies built by the old code are
#: not served) and update the value here.
GOLDEN = [
    ("synth", {"n": 300, "k": 2, "seed": 1}, "4f27e74f9e7e436cb009dd378505b5af71c36a4a1d868f6ea5334f77c6423eff"),
    ("synth", {"n": 300, "k": 2, "rotate": True}, "319655184bc2e29a218ce32cc19692b9f378e494f49c785e5c454c383f5779df"),
    ("stickfigures", {"n_per_combination": 3}, "1e2ba998c2e1faf6681cdd95d4fea7e87691908ead574a6a42ab89a19e7e3947"),
]


@pytest.mark.parametrize("name, params, sha", GOLDEN)
def test_generated_data_is_pinned_so_a_change_bumps_the_version(name, params, sha) -> None:
    assert generators.build(name, progress=False, **params).checksum == sha, (
        f"{name} changed: bump CATALOG[{name!r}].version and update GOLDEN")


@pytest.mark.slow
def test_cmnist_is_pinned(real_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NRBENCH_DATA", str(real_data_dir))
    sha = "5f9aeb8fa8014d7417e81f61914245420bec87b0213895d66ebe19789dcf90fe"
    assert generators.build("cmnist", progress=False, split="test").checksum == sha


def test_a_new_generator_version_changes_the_cache_key(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    params = resolve_params("synth", n=100)
    v1 = cache_path("synth", params)
    get("synth", n=100, progress=False)
    monkeypatch.setitem(CATALOG, "synth", dataclasses.replace(CATALOG["synth"], version=2))
    v2 = cache_path("synth", params)
    assert v2 != v1 and v1.exists() and not v2.exists()  # the old copy is not served as version 2
    get("synth", n=100, progress=False)
    assert v2.exists()


def test_a_copy_under_another_cache_name_is_not_served(tmp_path: Path) -> None:
    plain = get("synth", n=100, root=tmp_path, progress=False)
    rot_path = cache_path("synth", resolve_params("synth", n=100, rotate=True), tmp_path)
    rot_path.write_bytes(cache_path("synth", resolve_params("synth", n=100), tmp_path).read_bytes())
    with pytest.warns(RuntimeWarning, match="holds another data set .*cache key"):
        rot = get("synth", n=100, rotate=True, root=tmp_path, progress=False)
    assert rot.name.endswith("-rot") and rot.checksum != plain.checksum
    assert Dataset.load(rot_path).checksum == rot.checksum  # replaced by the right one


def test_a_file_without_a_recorded_key_is_checked_by_its_parameters(tmp_path: Path) -> None:
    # files written before keys were recorded: a recorded parameter that differs gives it away
    wrong = generators.build("synth", n=100, k=3, progress=False)
    path = cache_path("synth", resolve_params("synth", n=100, k=4), tmp_path)
    wrong.save(path)
    assert "cache_key" not in wrong.params and wrong.params["k"] == 3
    with pytest.warns(RuntimeWarning, match="holds another data set .*k=3, expected 4"):
        ds = get("synth", n=100, k=4, root=tmp_path, progress=False)
    assert ds.X.shape == (100, 6)


def _stick_file(path: Path, value: int) -> Path:
    rows = [" ".join(map(str, [u, lo] + [value] * 400)) for u in range(3) for lo in range(3)]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_an_edited_source_file_is_read_again(tmp_path: Path) -> None:
    f = _stick_file(tmp_path / "stick.data", 10)
    assert get("stickfigures-file", path=str(f), progress=False).X.max() == 10
    _stick_file(f, 99)  # same name, new content
    assert get("stickfigures-file", path=str(f), progress=False).X.max() == 99


def test_a_relative_path_means_the_file_where_it_is_given(tmp_path: Path, monkeypatch) -> None:
    for sub, value in (("a", 10), ("b", 20)):
        (tmp_path / sub).mkdir()
        _stick_file(tmp_path / sub / "stick.data", value)
    monkeypatch.chdir(tmp_path / "a")
    a = get("stickfigures-file", path="stick.data", progress=False)
    monkeypatch.chdir(tmp_path / "b")
    b = get("stickfigures-file", path="stick.data", progress=False)
    assert (a.X.max(), b.X.max()) == (10, 20)
    assert resolve_params("stickfigures-file", path="stick.data")["path"] == str(tmp_path / "b" / "stick.data")
    with pytest.raises(ValueError, match="parameter 'path' must be a path; got 123"):
        resolve_params("stickfigures-file", path=123)


def test_gtsrb_key_follows_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from test_gtsrb import make_png

    one, two = make_png(tmp_path / "one"), make_png(tmp_path / "two", seed=1)
    keys = []
    for root in (one, two):
        monkeypatch.setenv("NRBENCH_DATA", str(root.parent))
        (root.parent / "gtsrb").unlink(missing_ok=True)
        (root.parent / "gtsrb").symlink_to(root)
        keys.append(cache_path("gtsrb", resolve_params("gtsrb")))
    assert keys[0] != keys[1]  # another $NRBENCH_DATA, another key
    a = cache_path("gtsrb", resolve_params("gtsrb", path=str(one)))
    extra = one / "Train" / "4" / "extra.png"
    extra.write_bytes(b"x")
    assert cache_path("gtsrb", resolve_params("gtsrb", path=str(one))) != a  # an added image


def test_an_unusable_cache_folder_is_named_before_building(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("NRBENCH_HOME", str(tmp_path))
    (tmp_path / "datasets").write_text("not a folder")  # (permissions are not enforced for root)
    with pytest.raises(ValueError, match=r"the data-set cache folder \(\$NRBENCH_HOME/datasets\) .* is a file"):
        get("synth", n=100, progress=False)


def test_fingerprints_never_crash_the_availability_check(tmp_path) -> None:
    from test_gtsrb import make_official

    from generators.availability import availability

    root = make_official(tmp_path / "g")
    (root / "GTSRB" / "Final_Training" / "Images" / "00004" / "broken.ppm").symlink_to(tmp_path / "nowhere.ppm")
    got = availability("gtsrb", {"path": str(root)})  # answered, no FileNotFoundError from the dangling link
    assert (got.status, got.text) == ("ready", f"raw folder {root}")
    assert availability("stickfigures-file", {"path": None}).status == "skip"


def test_a_cached_copy_is_used_where_its_source_folder_is_absent(tmp_path, monkeypatch) -> None:
    """A node that received only $NRBENCH_HOME/datasets: the key's fingerprint cannot be computed there."""
    import shutil

    from test_gtsrb import make_png

    from generators.availability import availability

    raw = make_png(tmp_path / "raw" / "gtsrb")
    monkeypatch.setenv("NRBENCH_DATA", str(tmp_path / "raw"))
    first = get("gtsrb", check_counts=False, progress=False)
    shutil.rmtree(raw)
    assert availability("gtsrb", {"check_counts": False}).text.startswith("cached (gtsrb-")
    with pytest.warns(UserWarning, match="its source files are absent here; using the cached copy"):
        again = get("gtsrb", check_counts=False, progress=False)
    assert again.checksum == first.checksum
    with pytest.raises(generators.download.DataUnavailableError):  # other parameters: no copy to use
        get("gtsrb", check_counts=False, size=16, progress=False)
