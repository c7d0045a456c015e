"""Catalogue and cache end to end: reuse, corruption detection and rebuild, concurrent builders."""

from __future__ import annotations

import functools
import inspect
import json
import os
import subprocess
import sys
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
