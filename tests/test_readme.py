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


def readme_nrbench_commands() -> list[list[str]]:
    """Every `nrbench ...` command line the README quotes (code spans and ```bash blocks), as words, up to a
    pipe, redirection or comment."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    spans = re.findall(r"`([^`\n]+)`", text)
    lines = [line for block in re.findall(r"```bash\n(.*?)```", text, re.DOTALL) for line in block.splitlines()]
    commands = []
    for snippet in spans + lines:
        for match in re.finditer(r"(?<![\w./-])nrbench ([^|>#;&]*)", snippet):
            commands.append(match.group(1).split())
    return commands


def test_readme_nrbench_commands_name_only_subcommands_and_flags_that_exist() -> None:
    """A user reads the README, then `--help`: each quoted command's subcommand and flags are there."""
    from benchmark.cli import build_parser

    parser = build_parser()
    (sub,) = (a for a in parser._actions if a.choices and "run" in a.choices)  # the sub-parsers
    commands = readme_nrbench_commands()
    assert len(commands) > 20, commands
    for words in commands:
        flags = [w.split("=")[0] for w in words if w.startswith("-")]
        name = next((w for w in words if not w.startswith("-")), None)
        if name is None:  # `nrbench --version`
            assert all(f in parser._option_string_actions for f in flags), words
            continue
        assert name in sub.choices, words
        known = sub.choices[name]._option_string_actions
        assert all(f in known for f in flags), (words, [f for f in flags if f not in known])
