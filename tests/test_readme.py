"""The README's Python example runs as printed and recovers the stick figures' two clusterings."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from benchmark.metrics import nmi

REPO = Path(__file__).resolve().parents[1]


def readme_python_example() -> str:
    """The first ```python block of the README's "Methods (Python)" section, verbatim."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Methods (Python)", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "README.md: no python block under '## Methods (Python)'"
    return match.group(1)


@pytest.mark.slow
def test_readme_python_example_runs_and_recovers_both_clusterings(capsys) -> None:
    ns: dict = {}
    exec(compile(readme_python_example(), "README.md", "exec"), ns)  # noqa: S102 - our own README
    enrc, ds = ns["enrc"], ns["ds"]
    assert enrc.labels_.shape == (900, 2)
    np.testing.assert_allclose(enrc.betas_.sum(0), 1.0, rtol=1e-5)
    # each ground-truth clustering is found by one of ENRC's two clusterings
    found = [max(nmi(ds.labels[:, j], enrc.labels_[:, i]) for i in range(2)) for j in range(2)]
    assert min(found) >= 0.95, found  # measured: 1.00 / 1.00 on seeds 0 and 1
    assert "(900, 2)" in capsys.readouterr().out
