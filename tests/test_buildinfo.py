"""The commit that `nrbench --version` and stored rows name: git's in a checkout, the recorded one when installed."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from benchmark import __version__
from benchmark.buildinfo import BUILD_COMMIT_FILE, git_commit, installed_commit, write_build_commit

REPO = Path(__file__).resolve().parents[1]

needs_git_checkout = pytest.mark.skipif(shutil.which("git") is None or not (REPO / ".git").exists(),
                                        reason="needs git and a git checkout of nrbench")


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args], cwd=cwd,
                          capture_output=True, text=True, check=True).stdout.strip()


@needs_git_checkout
def test_a_checkout_reports_its_head():
    sha = _git(REPO, "rev-parse", "--short=12", "HEAD")
    assert git_commit(REPO) in (f"g{sha}", f"g{sha}.dirty")
    assert installed_commit(REPO) == git_commit(REPO)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_an_installed_copy_inside_another_repository_reports_the_recorded_commit_not_that_repositorys(tmp_path):
    other = tmp_path / "my-project"  # e.g. a virtual environment made inside the user's own repository
    other.mkdir()
    _git(other, "init", "-q")
    _git(other, "commit", "-q", "--allow-empty", "-m", "theirs")
    site = other / ".venv" / "lib" / "python3.11" / "site-packages"
    (site / "benchmark").mkdir(parents=True)
    assert installed_commit(site) is None  # unknown, never my-project's commit
    (site / "benchmark" / BUILD_COMMIT_FILE).write_text("g0123456789ab\n", encoding="utf-8")
    assert installed_commit(site) == "g0123456789ab"


@needs_git_checkout
def test_the_build_step_records_the_source_commit_in_the_built_package(tmp_path):
    package = tmp_path / "build" / "lib" / "benchmark"
    assert write_build_commit(REPO, package) == git_commit(REPO)
    assert (package / BUILD_COMMIT_FILE).read_text(encoding="utf-8").strip() == git_commit(REPO)
    assert installed_commit(package.parent) == git_commit(REPO)
    # an unpacked source archive (no .git) records nothing
    assert write_build_commit(tmp_path / "nrbench-0.1.0", tmp_path / "other" / "benchmark") is None
    assert not (tmp_path / "other").exists()


@needs_git_checkout
def test_code_version_names_release_and_commit():
    from benchmark.store import code_version

    assert code_version() == f"nrbench {__version__}+{git_commit(REPO)}"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_wheel_built_with_pip_records_the_commit_it_was_built_from(tmp_path):
    """What `pip install .` installs: setup.py's build step puts the source's commit into the wheel."""
    pytest.importorskip("setuptools")
    src = tmp_path / "nrbench"
    files = _git(REPO, "ls-files", "--cached", "--others", "--exclude-standard").splitlines()
    for name in files:
        if (REPO / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, src / name)
    _git(src, "init", "-q")
    _git(src, "add", "-A")
    _git(src, "commit", "-q", "-m", "as built")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                    "-w", str(tmp_path / "dist"), str(src)], check=True, capture_output=True, text=True)
    (wheel,) = (tmp_path / "dist").glob("nrbench-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        recorded = zf.read(f"benchmark/{BUILD_COMMIT_FILE}").decode().strip()
    assert recorded == git_commit(src) == "g" + _git(src, "rev-parse", "--short=12", "HEAD")
