"""What the service knows of a model registry: versions, their runs' metrics, aliases.

One Protocol (`ModelRegistry`) and frozen dataclasses; the MLflow adapter (`registry.mlflow`)
is the only code that speaks the registry's API. Errors form a small tree so callers can tell
"the registry has no such thing" (a user mistake) from "the registry did not answer".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol


class RegistryError(Exception):
    """The registry refused a call (the message is safe to show: no URL credentials)."""


class RegistryNotFound(RegistryError):
    """The registry has no such model, version, alias or run."""


class RegistryUnavailable(RegistryError):
    """The registry could not be reached, timed out or answered 5xx."""


def _frozen(values: Mapping[str, str] | None = None) -> Mapping[str, str]:
    return MappingProxyType(dict(values or {}))


@dataclass(frozen=True)
class ModelVersion:
    """One registered version of a model."""

    name: str
    version: str
    run_id: str | None = None
    source: str = ""
    tags: Mapping[str, str] = field(default_factory=_frozen)
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunSummary:
    """The run a version came from: its latest metric values and a link to it."""

    run_id: str
    name: str = ""
    link: str = ""
    metrics: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))


class ModelRegistry(Protocol):
    """The registry calls the service makes. Keyword-only, our types in and out."""

    async def get_version(self, *, name: str, version: str) -> ModelVersion:
        """The version, or RegistryNotFound."""
        ...

    async def get_alias(self, *, name: str, alias: str) -> ModelVersion | None:
        """The version the alias points at, or None when the alias is not set."""
        ...

    async def get_run(self, *, run_id: str) -> RunSummary:
        """The run's metrics and link, or RegistryNotFound."""
        ...

    async def set_alias(self, *, name: str, alias: str, version: str) -> None:
        """Point `alias` at `version` (moving it from any other version)."""
        ...
