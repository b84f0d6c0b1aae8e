"""`scripts/run`: the quick start's one command, without creating a real virtualenv.

The venv is a stand-in directory (CHATOPS_VENV) whose `bin/chatops` runs this checkout's
chatops with the test interpreter and whose `bin/python` records what the script asks of it,
so the tests are quick and need no network.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "run"


def executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def stamp() -> str:
    with (ROOT / "pyproject.toml").open("rb") as pyproject:
        cksum = subprocess.run(["cksum"], stdin=pyproject, capture_output=True, check=True)
    return f"{ROOT} {cksum.stdout.decode().strip()}\n"


def fake_venv(tmp_path: Path, *, installed: bool) -> Path:
    venv = tmp_path / "venv"
    executable(venv / "bin" / "chatops", f'#!/bin/sh\nexec "{sys.executable}" -m chatops "$@"\n')
    log = tmp_path / "python-calls"
    executable(venv / "bin" / "python", f'#!/bin/sh\necho "$@" >> "{log}"\n')
    if installed:
        (venv / ".chatops-installed").write_text(stamp())
    return venv


def run(*args: str, venv: Path, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CHATOPS_"))}
    env |= {"CHATOPS_VENV": str(venv), "PYTHONPATH": str(ROOT)}
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def test_the_script_is_valid_bash_and_executable() -> None:
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)
    assert os.access(SCRIPT, os.X_OK)


def test_an_installed_venv_is_used_as_it_is(tmp_path: Path) -> None:
    venv = fake_venv(tmp_path, installed=True)
    result = run("--help", venv=venv)
    assert result.returncode == 0, result.stderr
    assert "usage: chatops serve" in result.stdout
    assert "--show-blocks" in result.stdout
    assert not (tmp_path / "python-calls").exists(), "nothing installed when up to date"


def test_other_commands_pass_through(tmp_path: Path) -> None:
    venv = fake_venv(tmp_path, installed=True)
    result = run("check-config", "--file-only", str(ROOT / "examples" / "chatops.yaml"), venv=venv)
    assert result.returncode == 0, result.stderr
    assert ": OK" in result.stdout


def test_a_changed_pyproject_reinstalls_the_checkout(tmp_path: Path) -> None:
    venv = fake_venv(tmp_path, installed=False)
    (venv / ".chatops-installed").write_text("an older pyproject.toml\n")
    result = run("--help", venv=venv)
    assert result.returncode == 0, result.stderr
    calls = (tmp_path / "python-calls").read_text()
    assert calls == f"-m pip install -q --disable-pip-version-check -e {ROOT}\n"
    assert (venv / ".chatops-installed").read_text() == stamp()
    assert "usage: chatops serve" in result.stdout


def fake_python3(tmp_path: Path, *, version_ok: bool = True) -> str:
    """A PATH whose python3 passes (or fails) the version check and cannot make a venv."""
    bin_dir = tmp_path / "fakebin"
    check = "exit 0" if version_ok else "exit 1"
    executable(
        bin_dir / "python3",
        f"#!/bin/sh\n"
        f'case "$1" in -c) {check} ;; -V) echo "Python 3.9.2"; exit 0 ;; esac\n'
        'mkdir -p "$3"; echo "ensurepip is not available" >&2; exit 1\n',
    )
    return f"{bin_dir}:/usr/bin:/bin"


def test_a_missing_venv_module_says_which_package_to_install(tmp_path: Path) -> None:
    venv = tmp_path / "new-venv"
    result = run("--help", venv=venv, path=fake_python3(tmp_path))
    assert result.returncode == 1
    assert "sudo apt-get install python3-venv" in result.stderr
    assert not venv.exists(), "the half-made venv is removed"


def test_a_directory_that_was_there_before_is_never_removed(tmp_path: Path) -> None:
    venv = tmp_path / "mine"
    venv.mkdir()
    (venv / "keep.txt").write_text("mine")
    result = run("--help", venv=venv, path=fake_python3(tmp_path))
    assert result.returncode == 1
    assert (venv / "keep.txt").read_text() == "mine"


def test_an_old_python_is_named(tmp_path: Path) -> None:
    result = run("--help", venv=tmp_path / "v", path=fake_python3(tmp_path, version_ok=False))
    assert result.returncode == 1
    assert "needs Python 3.11 or newer; python3 is Python 3.9.2" in result.stderr
    assert not (tmp_path / "v").exists()
