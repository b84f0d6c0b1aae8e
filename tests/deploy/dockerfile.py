"""Read the repo's Dockerfile and .dockerignore the way `docker build` does, enough for tests.

There is no container engine on our machines or in CI, so the tests check the
Dockerfile's instructions and replay its builder steps instead of building it.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from tests.deploy.helm import REPO

DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction: upper-cased keyword and its arguments, continuations joined."""

    keyword: str
    args: str


@dataclass(frozen=True)
class Stage:
    """A build stage: its FROM arguments and the instructions after it."""

    base: str
    name: str | None
    instructions: tuple[Instruction, ...]

    def all(self, keyword: str) -> list[str]:
        """The arguments of every `keyword` instruction in this stage."""
        return [i.args for i in self.instructions if i.keyword == keyword]


def instructions(text: str) -> list[Instruction]:
    """Parse Dockerfile text: drop comments and blank lines, join backslash continuations."""
    joined = re.sub(r"\\\n(\s*#.*\n)*", " ", text)
    result = []
    for line in joined.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        keyword, _, args = stripped.partition(" ")
        result.append(Instruction(keyword.upper(), " ".join(args.split())))
    return result


def stages(text: str) -> list[Stage]:
    """Split the instructions into build stages (instructions before the first FROM are dropped)."""
    found: list[Stage] = []
    base, name, body = "", None, []
    for ins in instructions(text):
        if ins.keyword == "FROM":
            if base:
                found.append(Stage(base, name, tuple(body)))
            parts = ins.args.split()
            base, body = parts[0], []
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
        elif base:
            body.append(ins)
    if base:
        found.append(Stage(base, name, tuple(body)))
    return found


def copy_sources(stage: Stage) -> list[str]:
    """The build-context paths the stage COPYs (`COPY --from=` reads a stage, not the context)."""
    sources: list[str] = []
    for args in stage.all("COPY"):
        words = args.split()
        if any(word.startswith("--from") for word in words):
            continue
        paths = [word for word in words if not word.startswith("--")]
        sources.extend(paths[:-1])
    return sources


def ignore_patterns() -> list[str]:
    """The .dockerignore patterns, in order (later `!` patterns re-include)."""
    lines = (line.strip() for line in DOCKERIGNORE.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def ignored(relative: str, patterns: list[str]) -> bool:
    """Whether `relative` (a POSIX path in the build context) is left out of the context.

    Follows Docker's rules for what this repo uses: last match wins, `!` re-includes,
    `**/` matches any depth, and a pattern matching a directory covers what is inside.
    """
    result = False
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern[1:] if negate else pattern
        body = body.rstrip("/")
        candidates = [body]
        if body.startswith("**/"):
            candidates.append(body[3:])
        matches = any(fnmatch.fnmatchcase(p, c) for p in prefixes for c in candidates)
        if matches:
            result = not negate
    return result


def build_context(dest: Path) -> None:
    """Copy what `docker build .` would send, per .dockerignore, from the repo into `dest`."""
    patterns = ignore_patterns()
    reincluded = [p[1:].rstrip("/") for p in patterns if p.startswith("!")]
    for root, dirs, files in os.walk(REPO):
        here = Path(root).relative_to(REPO).as_posix()
        prefix = "" if here == "." else f"{here}/"
        # Skip directories (.git, .venv, ...) that are ignored with nothing re-included below.
        dirs[:] = [
            d
            for d in dirs
            if not ignored(prefix + d, patterns)
            or any(r.startswith(f"{prefix}{d}/") for r in reincluded)
        ]
        for name in files:
            relative = prefix + name
            if not ignored(relative, patterns):
                target = dest / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / relative, target)
