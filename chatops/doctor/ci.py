"""What the GitLab and GitHub checks share: the token first, then each model that uses it.

Without a token the provider is skipped when no model uses it and fails when one does; with a
token that does not work, its targets are skipped. The provider's own module says how a token
and a target (project, repository) are checked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from pydantic import SecretStr

from bot.ci.provider import PipelineTarget
from chatops.bot_config import pipeline_target
from chatops.config import AppConfig, GitHubPipeline, GitLabPipeline
from chatops.doctor.checks import Check, failed, skipped
from chatops.settings import secret_value


class _Client(Protocol):
    async def close(self) -> None: ...


C = TypeVar("C", bound=_Client)


@dataclass(frozen=True)
class CiService(Generic[C]):
    """One CI system as the doctor checks it: names for the report and how to check it."""

    name: str  # `gitlab`: the report's names start with it
    title: str  # `GitLab`
    variable: str  # the environment variable with the token: `GITLAB_TOKEN`
    targets: str  # what each model's pipeline names: `projects`
    access_fix: str
    pipeline_type: type[GitLabPipeline] | type[GitHubPipeline]
    connect: Callable[[SecretStr], C]
    token_check: Callable[[C], Awaitable[Check]]
    target_checks: Callable[[C, PipelineTarget], Awaitable[list[Check]]]


async def ci_checks(
    service: CiService[C], token: SecretStr | None, config: AppConfig
) -> list[Check]:
    """Token first; the models' targets only with a working token."""
    targets = [
        pipeline_target(name, model.pipeline)
        for name, model in sorted(config.models.items())
        if isinstance(model.pipeline, service.pipeline_type)
    ]
    if secret_value(token) is None or token is None:
        if not targets:
            why = f"no {service.variable} and no model uses {service.title}"
            return [skipped(service.name, why)]
        models = ", ".join(t.model for t in targets)
        detail = f"{service.variable} is not set; model(s) {models} use {service.title}"
        return [failed(f"{service.name} token", detail, service.access_fix)]
    client = service.connect(token)
    try:
        first = await service.token_check(client)
        name = f"{service.name} {service.targets}"
        if not first.ok:
            return [first, skipped(name, "the token does not work")]
        if not targets:
            return [first, skipped(name, f"no model uses {service.title}")]
        checks = [first]
        for target in targets:
            checks += await service.target_checks(client, target)
        return checks
    finally:
        await client.close()
