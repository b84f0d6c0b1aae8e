"""`GitLabCI`: the `PipelineProvider` for GitLab; one pipeline per request, variables carry
the action. Pipelines are created and read here; deployments and the doctor's reads have their
own modules, the SDK client and its error translation `client`.
"""

from __future__ import annotations

from typing import Any

import structlog
from pydantic import SecretStr

from bot.ci.gitlab import access, deployments
from bot.ci.gitlab.access import GitLabToken, ProjectAccess
from bot.ci.gitlab.client import NO_RETRY, GitLabClient, time
from bot.ci.provider import (
    Deployment,
    JobFailure,
    PipelineRequest,
    PipelineRun,
    PipelineStatus,
    PipelineTarget,
    check_model,
    pipeline_variables,
)

log = structlog.get_logger("bot.ci.gitlab")

_PIPELINE_STATUS = {
    "created": PipelineStatus.PENDING,
    "waiting_for_resource": PipelineStatus.PENDING,
    "preparing": PipelineStatus.PENDING,
    "pending": PipelineStatus.PENDING,
    "scheduled": PipelineStatus.PENDING,
    "running": PipelineStatus.RUNNING,
    "canceling": PipelineStatus.RUNNING,
    "manual": PipelineStatus.MANUAL,
    "success": PipelineStatus.SUCCESS,
    "failed": PipelineStatus.FAILED,
    "canceled": PipelineStatus.CANCELLED,
    "skipped": PipelineStatus.SKIPPED,
}


class GitLabCI:
    """`PipelineProvider` for GitLab: one pipeline per request, variables carry the action.

    Deployment versions: see `bot.ci.gitlab.deployments`.
    """

    name = "gitlab"

    def __init__(self, *, url: str, token: SecretStr, timeout: float = 10.0) -> None:
        """Build the SDK client; no network I/O here."""
        self._client = GitLabClient(url=url, token=token, timeout=timeout)

    async def close(self) -> None:
        """Close the SDK's HTTP session."""
        await self._client.close()

    async def start(self, *, target: PipelineTarget, request: PipelineRequest) -> PipelineRun:
        """Create a pipeline on the request's (or the model's) ref with the merged variables."""
        check_model(target, request)
        variables = pipeline_variables(target, request)
        ref = request.ref or target.ref
        data = {
            "ref": ref,
            "variables": [{"key": k, "value": v} for k, v in variables.items()],
        }

        def create() -> dict[str, Any]:
            pipeline = self._client.project(target).pipelines.create(data, **NO_RETRY)
            return dict(pipeline.attributes)

        run = _run(await self._client.call(target, create))
        log.info("pipeline_created", provider=self.name, model=target.model, run_id=run.id)
        return run

    async def get_run(self, *, target: PipelineTarget, run_id: str) -> PipelineRun:
        """Fetch one pipeline."""

        def get() -> dict[str, Any]:
            pipeline = self._client.project(target).pipelines.get(run_id, **NO_RETRY)
            return dict(pipeline.attributes)

        return _run(await self._client.call(target, get))

    async def failed_jobs(self, *, target: PipelineTarget, run_id: str) -> list[JobFailure]:
        """The pipeline's failed jobs (first page), with stage and failure reason."""

        def jobs() -> list[dict[str, Any]]:
            pipeline = self._client.project(target).pipelines.get(run_id, lazy=True)
            found = pipeline.jobs.list(scope="failed", get_all=False, **NO_RETRY)
            return [dict(job.attributes) for job in found]

        return [
            JobFailure(
                name=str(job.get("name", "?")),
                url=str(job.get("web_url", "")),
                stage=job.get("stage"),
                reason=job.get("failure_reason"),
            )
            for job in await self._client.call(target, jobs)
        ]

    async def deployments(self, *, target: PipelineTarget, environment: str) -> list[Deployment]:
        """The environment's latest deployments, newest first (GitLab deployments API)."""
        return await deployments.deployments(self._client, target, environment)

    async def token(self) -> GitLabToken:
        """Who the token is (GET /user), with its scopes from personal_access_tokens/self."""
        return await access.token(self._client)

    async def project_access(self, target: PipelineTarget) -> ProjectAccess:
        """GET the project: the token user's access level and its pipeline-variable settings."""
        return await access.project_access(self._client, target)


def _run(attrs: dict[str, Any]) -> PipelineRun:
    raw_status = str(attrs.get("status", ""))
    return PipelineRun(
        id=str(attrs["id"]),
        url=str(attrs.get("web_url", "")),
        status=_PIPELINE_STATUS.get(raw_status, PipelineStatus.PENDING),
        ref=str(attrs.get("ref", "")),
        started_at=time(attrs.get("started_at")),
        finished_at=time(attrs.get("finished_at")),
        provider_status=raw_status,
    )
