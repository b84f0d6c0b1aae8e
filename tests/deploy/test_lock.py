"""requirements.lock is current for pyproject.toml and pins every file by hash.

The Dockerfile installs the runtime dependencies from the lock with
`pip install --require-hashes`, so the image gets exactly the locked files. These
checks need no network: a full re-resolve (`scripts/lock`) does, and is what fixes
a failure here.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.deploy.helm import REPO

LOCK = REPO / "requirements.lock"
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)$")
HASH = re.compile(r"^--hash=sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class Pin:
    name: str
    version: Version
    hashes: tuple[str, ...]


def requirement_lines(text: str) -> list[str]:
    """Logical lines of a requirements file: comments dropped, continuations joined."""
    text = re.sub(r"\\\n", " ", text)
    lines = (line.split(" #", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def parse_lock(text: str) -> dict[str, Pin]:
    """Every entry as name -> Pin; anything that is not `name==version --hash=...` fails."""
    pins: dict[str, Pin] = {}
    for line in requirement_lines(text):
        first, *options = line.split()
        match = PIN.match(first)
        assert match, f"not an exact pin: {line[:80]!r}"
        hashes = tuple(options)
        assert hashes, f"{first} carries no --hash"
        bad = [h for h in hashes if not HASH.match(h)]
        assert not bad, f"{first}: not a sha256 --hash option: {bad}"
        name = canonicalize_name(match["name"])
        assert name not in pins, f"{name} pinned twice"
        pins[name] = Pin(name, Version(match["version"]), hashes)
    return pins


def project_requirements() -> list[Requirement]:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    return [Requirement(dep) for dep in pyproject["project"]["dependencies"]]


def test_every_pin_is_exact_and_hashed() -> None:
    pins = parse_lock(LOCK.read_text())
    assert len(pins) >= len(project_requirements())


def test_lock_pins_satisfy_every_pyproject_dependency() -> None:
    """A dependency added to or tightened in pyproject.toml without `scripts/lock` fails here."""
    pins = parse_lock(LOCK.read_text())
    problems = []
    for req in project_requirements():
        pin = pins.get(canonicalize_name(req.name))
        if pin is None:
            problems.append(f"{req.name}: not in requirements.lock")
        elif not req.specifier.contains(pin.version, prereleases=True):
            problems.append(f"{req.name}: locked {pin.version} is outside {req.specifier}")
    assert not problems, "run scripts/lock:\n" + "\n".join(problems)


def test_lock_is_generated_from_pyproject_with_hashes() -> None:
    header = LOCK.read_text().split("\n\n", 1)[0]
    assert "--generate-hashes" in header
    assert "pyproject.toml" in header
    assert "scripts/lock" in (REPO / "README.md").read_text()


def test_parser_reads_a_hashed_pin() -> None:
    good = "aiohttp==3.9.0 \\\n    --hash=sha256:" + "a" * 64 + "\n    # via x\n"
    assert parse_lock(good)["aiohttp"].version == Version("3.9.0")


@pytest.mark.parametrize(
    "bad",
    [
        "aiohttp==3.9.0\n",
        "aiohttp>=3.9 --hash=sha256:" + "a" * 64 + "\n",
        "aiohttp==3.9 --hash=md5:x",
    ],
    ids=["no-hash", "range", "not-sha256"],
)
def test_parser_rejects_an_unhashed_or_loose_pin(bad: str) -> None:
    """Guard against a parser that accepts everything."""
    with pytest.raises(AssertionError):
        parse_lock(bad)
