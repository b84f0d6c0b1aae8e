"""Which model version a `/deploy` deploys, checked against the model registry.

For a model with `models.<m>.registry`: no version means the registry's champion (the model's
`champion_alias`), named in the reply; a given version must exist in the registry. Either way,
when the registry does not answer, nothing starts. Models without a registry are left as they
are (the pipeline picks its default version).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from bot.commands import DeployCommand
from bot.errors import RegistryProblem
from bot.releases.apply import PromoteTarget
from registry import ModelRegistry, RegistryError, RegistryNotFound, RegistryUnavailable


@dataclass(frozen=True)
class Resolved:
    """The command to submit, and a line for the reply (empty when nothing was looked up)."""

    command: DeployCommand
    note: str = ""


async def resolve_deploy(
    command: DeployCommand,
    *,
    targets: Mapping[str, PromoteTarget],
    registry: ModelRegistry | None,
) -> Resolved:
    """The deploy with its version filled from (or checked against) the registry."""
    target = targets.get(command.model)
    if target is None:
        return Resolved(command)
    if registry is None:
        raise RegistryProblem(
            f"model {command.model} has a registry configured, but MLFLOW_TRACKING_URI is not "
            "set, so its versions cannot be checked; nothing was started."
        )
    name = target.registered_name
    try:
        if command.version is not None:
            await registry.get_version(name=name, version=command.version)
            return Resolved(command)
        champion = await registry.get_alias(name=name, alias=target.alias)
    except RegistryError as e:
        raise _problem(e, command, name) from e
    if champion is None:
        raise RegistryProblem(
            f"{name} has no `{target.alias}` version in the model registry; name the version: "
            f"`/deploy {command.model} {command.environment} <version>`. Nothing was started."
        )
    note = (
        f"No version given: deploying the registry's champion of {command.model}, "
        f"version {champion.version} (alias `{target.alias}`)."
    )
    return Resolved(replace(command, version=champion.version), note)


def _problem(e: RegistryError, command: DeployCommand, name: str) -> RegistryProblem:
    """The registry's error as the user's answer: missing, unreachable, or refused."""
    if isinstance(e, RegistryNotFound):
        what = f"version {command.version} of" if command.version else "the model"
        return RegistryProblem(
            f"the model registry has no {what} {name} ({e}); nothing was started."
        )
    if isinstance(e, RegistryUnavailable):
        return RegistryProblem(
            f"the model registry could not be reached ({e}); nothing was started, try again."
        )
    return RegistryProblem(f"the model registry refused ({e}); nothing was started.")
