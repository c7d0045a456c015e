"""benchmark.memory.peak_rss_mb: a child's own peak, not the high-water mark it inherits from its parent."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from benchmark.memory import peak_rss_mb

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
