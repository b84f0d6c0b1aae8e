"""Each package says what it exports (`__all__`), and the other packages keep to it.

For every package below the import-linter root packages (pyproject.toml), found by walking
them: its `__init__` declares `__all__`; every entry resolves, to a name the package holds or
to one of its modules; and no module outside the package reaches past it, that is, imports a
private (underscore) name or module of it, or a name or module its `__all__` does not list.
Tests may import any public module (they check the parts), but no private name either; and
every module `__all__` lists is imported by some application module outside the package.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _root_packages() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    roots: list[str] = config["tool"]["importlinter"]["root_packages"]
    return roots


def _packages() -> list[str]:
    found = []
    for root in _root_packages():
        package = importlib.import_module(root)
        found.append(root)
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{root}."):
            if info.ispkg:
                found.append(info.name)
    return sorted(found)


PACKAGES = _packages()


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


def _exports(package: ModuleType) -> list[str]:
    exported = getattr(package, "__all__", None)
    assert isinstance(exported, list | tuple), f"{package.__name__} declares no __all__"
    return [str(name) for name in exported]


@dataclass(frozen=True)
class _Import:
    """One name (or module) that one project module imports from another module."""

    importer: str
    line: int
    module: str  # what it is imported from
    name: str | None  # None: `import module` itself


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> Iterator[_Import]:
    for root in [*_root_packages(), "tests"]:
        for path in sorted((ROOT / root).rglob("*.py")):
            importer = _module_name(path)
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    for alias in node.names:
                        yield _Import(importer, node.lineno, alias.name, None)
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    for alias in node.names:
                        yield _Import(importer, node.lineno, node.module, alias.name)


IMPORTS = list(_imports())


def _reaches_past(package: str, exported: list[str], found: _Import) -> str | None:
    """Why this import reaches past `package`'s exports (None: it does not)."""
    if _inside(found.importer, package) or not _inside(found.module, package):
        return None
    if found.module == package:
        name = found.name
    else:  # `package.module...`: the package's module must be exported
        name = found.module.removeprefix(f"{package}.").split(".", 1)[0]
    if name is None or name == "*":
        return None
    where = f"{found.importer}:{found.line} imports {found.module}"
    where += f".{found.name}" if found.name else ""
    if found.name and found.name.startswith("_") and not found.name.startswith("__"):
        return f"{where}: a private name"
    if name.startswith("_"):
        return f"{where}: a private module"
    if name not in exported and not _inside(found.importer, "tests"):
        return f"{where}: {name!r} is not in {package}.__all__"
    return None


@pytest.mark.parametrize("package", PACKAGES)
def test_the_package_declares_what_it_exports(package: str) -> None:
    module = importlib.import_module(package)
    for name in _exports(module):
        resolves = hasattr(module, name) or importlib.util.find_spec(f"{package}.{name}")
        assert resolves, f"{package}.__all__ lists {name!r}, which it neither holds nor contains"


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_reaches_past_what_the_package_exports(package: str) -> None:
    exported = _exports(importlib.import_module(package))
    problems = [p for i in IMPORTS if (p := _reaches_past(package, exported, i)) is not None]
    assert not problems, "\n".join(problems)


def _used_outside(package: str) -> set[str]:
    """The names and modules of `package` that application modules outside it import."""
    used = set()
    for found in IMPORTS:
        if _inside(found.importer, package) or _inside(found.importer, "tests"):
            continue
        if found.module == package and found.name is not None:
            used.add(found.name)
        elif found.module.startswith(f"{package}."):
            used.add(found.module.removeprefix(f"{package}.").split(".", 1)[0])
    return used


# Modules exported for callers outside the application: the `chatops` script
# (`chatops.cli:main` in pyproject.toml) and `create_app`, which tests and the benchmark build.
ENTRY_POINTS = {"chatops": {"app", "cli"}}


@pytest.mark.parametrize("package", PACKAGES)
def test_every_exported_module_is_used_outside_the_package(package: str) -> None:
    """`__all__` lists no module that nothing outside the package imports (a stale entry)."""
    module = importlib.import_module(package)
    submodules = {info.name for info in pkgutil.iter_modules(module.__path__)}
    stale = (set(_exports(module)) & submodules) - _used_outside(package)
    stale -= ENTRY_POINTS.get(package, set())
    assert not stale, f"{package}.__all__ lists modules no other package imports: {sorted(stale)}"


def test_every_root_package_is_walked() -> None:
    """The checks above see every package, subpackages included (not an empty walk)."""
    assert set(_root_packages()) <= set(PACKAGES)
    assert {"gateway.render", "bot.approvals", "bot.ci"} <= set(PACKAGES)
    assert "chatops.doctor" in PACKAGES
