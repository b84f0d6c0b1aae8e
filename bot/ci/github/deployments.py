"""An environment's GitHub deployments and their outcome: what a /rollback can go back to.

Versions: ``MODEL_VERSION`` (or ``version``) from the deployment's payload when the deploy
workflow sets one, else the short commit sha (`Deployment.commit_only`).
"""

from __future__ import annotations

from itertools import islice
from typing import Any

from github.Deployment import Deployment as SdkDeployment

from bot.ci.github.client import GitHubClient
from bot.ci.provider import Deployment, DeploymentStatus, PipelineTarget

DEPLOYMENTS_LIMIT = 20  # deployments examined for a rollback
STATUSES_LIMIT = 10  # statuses read per deployment
SHORT_SHA = 7

_DEPLOYMENT_STATE = {
    "success": DeploymentStatus.SUCCESS,
    "failure": DeploymentStatus.FAILED,
    "error": DeploymentStatus.FAILED,
    "in_progress": DeploymentStatus.RUNNING,
    "queued": DeploymentStatus.PENDING,
    "pending": DeploymentStatus.PENDING,
}
_VERSION_KEYS = ("MODEL_VERSION", "model_version", "version")


async def deployments(
    client: GitHubClient, target: PipelineTarget, environment: str
) -> list[Deployment]:
    """The environment's latest deployments, newest first, each with its outcome."""
    what = f"environment {environment}"

    def listing() -> list[SdkDeployment]:
        found = client.repo(target).get_deployments(environment=environment)
        return list(islice(found, DEPLOYMENTS_LIMIT))

    result = []
    for dep in await client.call(target, listing, what):

        def convert(dep: SdkDeployment = dep) -> Deployment:
            return _deployment(dep, list(islice(dep.get_statuses(), STATUSES_LIMIT)))

        result.append(await client.call(target, convert, what))
    return result


def _deployment(dep: SdkDeployment, statuses: list[Any]) -> Deployment:
    """Our view of an SDK deployment and its statuses (newest first).

    GitHub marks a deployment ``inactive`` once a newer one to the same environment
    succeeds, so `inactive` is skipped: the state before it is the outcome.
    """
    states = [s.state for s in statuses if s.state != "inactive"]
    if states:
        status = _DEPLOYMENT_STATE.get(states[0], DeploymentStatus.PENDING)
    else:
        status = DeploymentStatus.CANCELLED if statuses else DeploymentStatus.PENDING
    payload = dep.payload if isinstance(dep.payload, dict) else {}
    version = next((str(payload[k]) for k in _VERSION_KEYS if payload.get(k)), None)
    url = next((s.log_url or s.target_url for s in statuses if s.log_url or s.target_url), None)
    return Deployment(
        id=str(dep.id),
        environment=dep.environment,
        status=status,
        version=version or dep.sha[:SHORT_SHA],
        ref=dep.ref,
        sha=dep.sha,
        created_at=dep.created_at,
        url=url,
        commit_only=version is None,
    )
