"""The command objects: one frozen dataclass per slash command (and `/chatops` subcommand)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import ClassVar

from bot.policy import Action


class _FrozenVariables:
    """Freezes a pipeline command's `variables` (a read-only copy of what was given)."""

    variables: Mapping[str, str]

    def __post_init__(self) -> None:
        object.__setattr__(self, "variables", MappingProxyType(dict(self.variables)))


@dataclass(frozen=True)
class RetrainCommand(_FrozenVariables):
    """`/retrain`: run the model's retrain pipeline, optionally on another branch."""

    action: ClassVar[Action] = "retrain"
    model: str
    ref: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict, hash=False)

    @property
    def environment(self) -> None:
        """Retrain has no environment; the policy looks it up under "*"."""
        return None


@dataclass(frozen=True)
class DeployCommand(_FrozenVariables):
    """`/deploy`: deploy a model (a given version, or the pipeline's default) to an environment."""

    action: ClassVar[Action] = "deploy"
    model: str
    environment: str
    version: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class RollbackCommand(_FrozenVariables):
    """`/rollback`: roll an environment back to a version, or to its previous good deployment."""

    action: ClassVar[Action] = "rollback"
    model: str
    environment: str
    to_version: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class DriftStatusCommand:
    """`/drift status [model]`: drift numbers from Prometheus, for one model or all of them."""

    model: str | None = None


@dataclass(frozen=True)
class HelpCommand:
    """`/chatops help`, or `help` given to any command (`topic` is then that command)."""

    topic: str | None = None


@dataclass(frozen=True)
class AuditCommand:
    """`/chatops audit [model]`: the recent audit trail, for one model or all."""

    model: str | None = None


@dataclass(frozen=True)
class ModelsCommand:
    """`/chatops models [model]`: champion, live versions and drift, for one model or all."""

    model: str | None = None


Command = (
    RetrainCommand
    | DeployCommand
    | RollbackCommand
    | DriftStatusCommand
    | HelpCommand
    | AuditCommand
    | ModelsCommand
)

PipelineCommand = RetrainCommand | DeployCommand | RollbackCommand
