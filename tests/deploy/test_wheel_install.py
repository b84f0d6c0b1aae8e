"""The Dockerfile's builder steps work: wheel from the build context, fresh venv, `chatops` runs.

This replays, without a container engine, what the builder stage does: copy the
build context as .dockerignore leaves it, create a venv, install requirements.lock
with `--require-hashes`, `pip wheel --no-deps`, install the wheel with `--no-deps`,
`pip check` (so the lock holds every dependency the wheel declares). The venv has no
access to the system site-packages, so the `chatops` it runs comes from the wheel
and the lock and nothing else. The slowest deploy test (dependency install, ~60 s).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.dockerfile import build_context

PACKAGES = ("chatops", "gateway", "bot", "slackio", "storage", "registry")


def run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a build step in a clean-ish environment; fail the test with its output if it fails."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    result = subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv built the way the Dockerfile's builder stage builds /opt/venv."""
    root = tmp_path_factory.mktemp("image-build")
    context, wheels, venv = root / "context", root / "wheels", root / "venv"
    build_context(context)
    pip = venv / "bin" / "pip"
    run(sys.executable, "-m", "venv", venv, cwd=root)
    run(pip, "install", "--require-hashes", "--no-deps", "-r", "requirements.lock", cwd=context)
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", wheels, ".", cwd=context)
    [wheel] = wheels.glob("*.whl")
    run(pip, "install", "--no-deps", wheel, cwd=root)
    run(pip, "check", cwd=root)
    return venv


def test_packages_and_console_script_come_from_the_wheel(venv: Path) -> None:
    script = venv / "bin" / "chatops"
    assert script.is_file(), "the wheel installs the `chatops` console script"
    assert f"{venv}/bin/python" in script.read_text(), "the script runs the venv's python"
    code = (
        "import importlib, sys\nfor m in sys.argv[1:]: print(importlib.import_module(m).__file__)"
    )
    files = run(venv / "bin" / "python", "-c", code, *PACKAGES, cwd=venv).stdout.split()
    site_packages = next((venv / "lib").glob("python3*/site-packages"))
    assert all(Path(f).is_relative_to(site_packages) for f in files), files


def test_chatops_help_lists_serve(venv: Path) -> None:
    result = run(venv / "bin" / "chatops", "--help", cwd=venv)
    assert "serve" in result.stdout
    assert "check-config" in result.stdout


def test_demo_bodies_ship_in_the_wheel(venv: Path) -> None:
    code = "from chatops.demo import STEPS, demo_body as b\nfor s in STEPS: print(len(b(s.body)))"
    sizes = run(venv / "bin" / "python", "-c", code, cwd=venv).stdout.split()
    assert len(sizes) == 4
    assert all(int(size) > 100 for size in sizes)
