"""Build step only; everything else is in pyproject.toml.

Records the git commit of the tree a wheel is built from in the package (``benchmark/_build_commit.txt``),
so that an installed copy's ``nrbench --version`` and stored rows name it (``benchmark/buildinfo.py``).
"""

import importlib.util
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


def _buildinfo():
    """``benchmark/buildinfo.py``, loaded by path: the package's dependencies are not installed yet."""
    spec = importlib.util.spec_from_file_location("_nrbench_buildinfo", ROOT / "benchmark" / "buildinfo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BuildPyWithCommit(build_py):
    """``build_py``, then the source's commit written beside the built ``benchmark`` package."""

    def run(self) -> None:
        super().run()
        _buildinfo().write_build_commit(ROOT, Path(self.build_lib) / "benchmark")


if __name__ == "__main__":
    setup(cmdclass={"build_py": BuildPyWithCommit})
