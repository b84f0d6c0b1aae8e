"""The bot's concept packages say what they export: `__all__` in each `__init__.py`.

Every submodule (or name) another package imports from one of them is listed, every listed
submodule is imported by another package, and every listed name exists.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = ("bot", "chatops", "gateway", "slackio", "storage", "registry")
PACKAGES = (
    "bot.alerts",
    "bot.ci",
    "bot.ci.github",
    "bot.ci.gitlab",
    "bot.deployments",
    "bot.drift",
    "bot.releases",
)


@cache
def _import_froms() -> list[tuple[Path, str, tuple[str, ...]]]:
    """Every `from X import names` in the application: (file, X, names)."""
    found = []
    for top in APP:
        for path in (ROOT / top).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.module:
                    found.append((path, node.module, tuple(a.name for a in node.names)))
    return found


def _imports_from_outside(package: str) -> set[str]:
    """What modules outside `package` import from it: submodule names, or names of it."""
    inside = ROOT / package.replace(".", "/")
    used: set[str] = set()
    for path, module, names in _import_froms():
        if path.is_relative_to(inside):
            continue
        if module == package:
            used.update(names)
        elif module.startswith(package + "."):
            used.add(module.removeprefix(package + ".").split(".")[0])
    return used


@pytest.mark.parametrize("package", PACKAGES)
def test_all_lists_what_other_packages_import(package: str) -> None:
    module = importlib.import_module(package)
    exported = set(module.__all__)
    assert _imports_from_outside(package) <= exported
    submodules = {info.name for info in pkgutil.iter_modules(module.__path__)}
    for name in exported:
        assert name in submodules or hasattr(module, name), f"{package}.{name} does not exist"
    stale = {name for name in exported & submodules if name not in _imports_from_outside(package)}
    assert not stale, f"{package}.__all__ lists submodules no other package imports: {stale}"
