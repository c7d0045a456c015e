"""benchmark.memory: a child's own peak (not the high-water mark it inherits from its parent), the available
memory, and the generators' up-front refusal of sizes that cannot fit."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from benchmark import memory
from benchmark.memory import cgroup_memory_headroom, check_fits_in_memory, peak_rss_mb
from generators.cmnist import concatenate_pairs
from generators.stickfigures import build_stickfigures
from generators.synth import build_synth

_CHILD = """
import json, resource
from benchmark.memory import peak_rss_mb
print(json.dumps({"own": peak_rss_mb(), "ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="VmHWM is read from /proc (Linux)")
def test_a_child_reports_its_own_peak_not_its_parents() -> None:
    big = np.ones(300 * 2**20 // 8)  # this process touches 300 MiB, so its high-water mark is above that
    big[:] = 2.0
    assert peak_rss_mb() > 300
    del big
    out = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, check=True)
    child = json.loads(out.stdout)
    # ru_maxrss carries the parent's mark across fork + exec; VmHWM is the child's own (a bare Python: tens of MiB)
    assert child["ru_maxrss"] > 300
    assert child["own"] < 150


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="MemAvailable is read from /proc (Linux)")
def test_available_memory_is_at_most_the_machines() -> None:
    with open("/proc/meminfo") as fh:
        total = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("MemTotal:"))
    assert 0 < memory.available_memory_bytes() <= total


def test_a_cgroup_v2_limit_lowers_the_available_memory(tmp_path: Path) -> None:
    proc = tmp_path / "cgroup"
    proc.write_text("0::/job/42\n")
    folder = tmp_path / "sys" / "job" / "42"
    folder.mkdir(parents=True)
    (folder / "memory.max").write_text("1000000\n")
    (folder / "memory.current").write_text("400000\n")
    assert cgroup_memory_headroom(proc, tmp_path / "sys") == 600000
    (folder / "memory.max").write_text("max\n")
    assert cgroup_memory_headroom(proc, tmp_path / "sys") is None  # no limit
    proc.write_text("4:memory:/job/42\n")
    assert cgroup_memory_headroom(proc, tmp_path / "sys") is None  # cgroup v1


def test_check_fits_in_memory_names_the_parameter_the_size_and_the_available(monkeypatch) -> None:
    monkeypatch.setattr(memory, "available_memory_bytes", lambda: 10**9)
    check_fits_in_memory(10**9, "n=5")
    with pytest.raises(ValueError, match=r"^n=5: building this data set needs about 2\.0 GB of memory, but only "
                                         r"1\.0 GB is available; choose a smaller value$"):
        check_fits_in_memory(2 * 10**9, "n=5")
    monkeypatch.setattr(memory, "available_memory_bytes", lambda: None)  # unknown (no /proc): not refused
    check_fits_in_memory(10**30, "n=5")


def _cmnist_pairs(n: int) -> np.ndarray:
    idx = np.arange(n) % 10
    return concatenate_pairs(np.zeros((10, 28, 28), dtype=np.uint8), idx, idx, progress=False)


@pytest.mark.parametrize("build, message", [
    (partial(build_synth, n=200_000, progress=False), "n=200000 and k=25: building this data set needs about 91.2 MB"),
    (partial(build_stickfigures, n_per_combination=5000, progress=False),
     "n_per_combination=5000: building this data set needs about 82.7 MB"),
    (partial(_cmnist_pairs, 20_000), "20000 C-MNIST images: building this data set needs about 62.7 MB"),
])
def test_a_generator_refuses_a_size_that_cannot_fit_before_allocating(monkeypatch, build, message) -> None:
    """With 10 MB available the estimate refuses at once, naming the parameter; nothing is built."""
    monkeypatch.setattr(memory, "available_memory_bytes", lambda: 10**7)
    with pytest.raises(ValueError, match=f"^{message} of memory, but only 10.0 MB is available"):
        build()


def test_the_papers_sizes_pass_on_a_small_machine(monkeypatch) -> None:
    """1 GB available (a small CI runner) builds SYNTH-25 (12,000 points), the 900 stick figures and
    70,000 C-MNIST images of 1 x 56 x 56: the estimates do not refuse legitimate sizes."""
    monkeypatch.setattr(memory, "available_memory_bytes", lambda: 10**9)
    assert build_synth(progress=False).X.shape == (12000, 27)
    assert build_stickfigures(progress=False).X.shape == (900, 1, 20, 20)
    assert _cmnist_pairs(70_000).shape == (70_000, 1, 56, 56)
