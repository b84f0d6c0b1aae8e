"""Which deployment a `/rollback` without a version goes back to.

Pure: the adapters list an environment's deployments (`PipelineProvider.deployments`),
this module picks one.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.pipelines import Deployment, DeploymentStatus, NoRollbackTarget


def choose_rollback_target(
    deployments: Iterable[Deployment], *, model: str, environment: str
) -> Deployment:
    """The previous successful deployment before the current one.

    The current deployment is the latest successful one (a failed or running deploy
    after it did not replace it). The target is the newest earlier success with a
    different version: redeploying what is already running is not a rollback.
    Ties in `created_at` keep the provider's newest-first order.
    """
    successes = sorted(
        (d for d in deployments if d.status is DeploymentStatus.SUCCESS),
        key=lambda d: d.created_at,
        reverse=True,
    )
    if not successes:
        raise NoRollbackTarget(
            f"model {model} has no successful deployment in {environment}, "
            "so there is nothing to roll back to; name a version with `to <version>`."
        )
    current = successes[0]
    for candidate in successes[1:]:
        if candidate.version != current.version:
            return candidate
    raise NoRollbackTarget(
        f"model {model} has no earlier successful deployment in {environment} than the "
        f"current one ({current.version}); name a version with `to <version>`."
    )
