"""A model's `pipeline` section: GitLab or GitHub, its ref and variables, what Slack may change."""

from __future__ import annotations

import fnmatch
import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from bot.ci.provider import RESERVED_PREFIXES, RESERVED_VARIABLES
from chatops.config.base import Strict

_VARIABLE_GLOB = re.compile(r"^[A-Z0-9_*?]+$")
_REF_GLOB = re.compile(r"^[A-Za-z0-9._/+*?\[\]-]{1,255}$")


def _may_match_prefix(pattern: str, prefix: str) -> bool:
    """True if the glob (`*`, `?` only) matches some name starting with `prefix`."""
    head = pattern.split("*", 1)[0]
    if "*" not in pattern and len(pattern) < len(prefix):
        return False
    return all(p in ("?", c) for p, c in zip(head, prefix, strict=False))


def _reserved_match(pattern: str) -> str | None:
    """The reserved name or prefix that the allowed_variables entry could let through."""
    for name in RESERVED_VARIABLES:
        if fnmatch.fnmatchcase(name, pattern):
            return name
    for prefix in RESERVED_PREFIXES:
        if _may_match_prefix(pattern, prefix):
            return prefix + "*"
    return None


class _Pipeline(Strict):
    """What every provider's pipeline has: its ref and variables, and what Slack may change."""

    ref: str = "main"
    variables: dict[str, str] = Field(default_factory=dict)
    allowed_variables: list[str] = Field(default_factory=list)
    allowed_refs: list[str] = Field(default_factory=list)

    @field_validator("allowed_variables")
    @classmethod
    def _variables(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            if not _VARIABLE_GLOB.match(pattern):
                raise ValueError(
                    f"{pattern[:60]!r} is not a variable name or glob "
                    "(upper-case A-Z, 0-9, _, with * and ?)"
                )
            reserved = _reserved_match(pattern)
            if reserved is not None:
                raise ValueError(
                    f"{pattern!r} would allow {reserved}, which is reserved for the bot or the "
                    "CI system and is never accepted from Slack"
                )
        return patterns

    @field_validator("allowed_refs")
    @classmethod
    def _refs(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            if not _REF_GLOB.match(pattern):
                raise ValueError(f"{pattern[:60]!r} is not a branch/tag name or glob")
        return patterns

    @model_validator(mode="after")
    def _not_configured(self) -> _Pipeline:
        fixed = sorted(set(self.allowed_variables) & set(self.variables))
        if fixed:
            raise ValueError(
                f"allowed_variables lists {', '.join(fixed)}, which `variables` sets: "
                "configured variables cannot be overridden from Slack"
            )
        return self


class GitLabPipeline(_Pipeline):
    provider: Literal["gitlab"]
    project: str | int


class GitHubPipeline(_Pipeline):
    provider: Literal["github"]
    repo: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")]
    workflows: dict[Literal["retrain", "deploy", "rollback"], str] = Field(default_factory=dict)
    dispatch: dict[Literal["retrain", "deploy", "rollback"], str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _something_to_run(self) -> GitHubPipeline:
        if not self.workflows and not self.dispatch:
            raise ValueError("a github pipeline needs `workflows` or `dispatch`")
        return self


Pipeline = Annotated[GitLabPipeline | GitHubPipeline, Field(discriminator="provider")]
