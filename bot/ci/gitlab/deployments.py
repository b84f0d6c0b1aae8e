"""An environment's GitLab deployments, and the model version each one deployed.

That is the ``MODEL_VERSION`` (or, for a rollback, ``ROLLBACK_TO``) variable of the pipeline
that made the deployment, which is how this bot starts deploys; else the tag when a tag was
deployed; else the short commit sha. Only the newest `VERSION_LOOKUPS` successful deployments
get the variable lookup; one whose pipeline is gone (404: deleted, e.g. by pipeline retention)
keeps its tag or sha.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog

from bot.ci.gitlab.client import NO_RETRY, GitLabClient, time
from bot.ci.provider import Deployment, DeploymentStatus, PipelineTarget
from bot.errors import ProviderNotFound

log = structlog.get_logger("bot.ci.gitlab")

DEPLOYMENTS_PAGE = 100  # one page of deployment history (GitLab's maximum page size)
VERSION_LOOKUPS = 10  # successful deployments whose pipeline variables are read for MODEL_VERSION
SHORT_SHA = 8  # GitLab's short_id length
_EPOCH = datetime.fromtimestamp(0, UTC)

_DEPLOYMENT_STATUS = {
    "created": DeploymentStatus.PENDING,
    "blocked": DeploymentStatus.PENDING,
    "running": DeploymentStatus.RUNNING,
    "success": DeploymentStatus.SUCCESS,
    "failed": DeploymentStatus.FAILED,
    "canceled": DeploymentStatus.CANCELLED,
    "skipped": DeploymentStatus.CANCELLED,
}


async def deployments(
    client: GitLabClient, target: PipelineTarget, environment: str
) -> list[Deployment]:
    """The environment's latest deployments, newest first (GitLab deployments API)."""

    def listing() -> list[dict[str, Any]]:
        found = client.project(target).deployments.list(
            environment=environment,
            order_by="id",
            sort="desc",
            per_page=DEPLOYMENTS_PAGE,
            get_all=False,
            **NO_RETRY,
        )
        return [dict(d.attributes) for d in found]

    raw = await client.call(target, listing)
    versions = await _model_versions(client, target, raw)
    return [_deployment(d, environment, versions.get(d.get("id"))) for d in raw]


async def _model_versions(
    client: GitLabClient, target: PipelineTarget, raw: list[dict[str, Any]]
) -> dict[Any, str]:
    """The version the pipelines behind the newest successful deployments deployed."""
    versions: dict[Any, str] = {}
    for dep in [d for d in raw if d.get("status") == "success"][:VERSION_LOOKUPS]:
        pipeline_id = ((dep.get("deployable") or {}).get("pipeline") or {}).get("id")
        if pipeline_id is None:
            continue
        version = await _pipeline_version(client, target, pipeline_id)
        if version:
            versions[dep.get("id")] = version
    return versions


async def _pipeline_version(client: GitLabClient, target: PipelineTarget, pid: Any) -> str | None:
    """A pipeline's MODEL_VERSION variable, or ROLLBACK_TO for a rollback pipeline."""

    def variables() -> list[dict[str, Any]]:
        pipeline = client.project(target).pipelines.get(pid, lazy=True)
        found = pipeline.variables.list(get_all=False, **NO_RETRY)
        return [dict(v.attributes) for v in found]

    try:
        found = await client.call(target, variables)
    except ProviderNotFound:  # pipeline deleted (retention): use the tag or sha
        log.warning("pipeline_variables_missing", model=target.model, pipeline_id=pid)
        return None
    values = {v.get("key"): v.get("value") for v in found}
    version = values.get("MODEL_VERSION") or values.get("ROLLBACK_TO")
    return str(version) if version else None


def _deployment(raw: dict[str, Any], environment: str, version: str | None) -> Deployment:
    deployable = raw.get("deployable") or {}
    sha = str(raw.get("sha", ""))
    ref = str(raw.get("ref", ""))
    commit_only = version is None and not deployable.get("tag")
    if version is None:
        version = ref if deployable.get("tag") else sha[:SHORT_SHA]
    return Deployment(
        id=str(raw["id"]),
        environment=str((raw.get("environment") or {}).get("name", environment)),
        status=_DEPLOYMENT_STATUS.get(str(raw.get("status")), DeploymentStatus.PENDING),
        version=version,
        ref=ref,
        sha=sha,
        created_at=time(raw.get("created_at")) or _EPOCH,
        url=(deployable.get("pipeline") or {}).get("web_url") or deployable.get("web_url"),
        commit_only=commit_only,
    )
