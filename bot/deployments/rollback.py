"""Which deployment a `/rollback` without a version goes back to.

The ledger (`bot.deployments.ledger`) and the adapters (`PipelineProvider.deployments`) list an
environment's deployments, the pure functions here pick one. The ledger wins when it knows at
least two deployments for the environment; the provider's history is the fallback.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.ci.provider import Deployment, DeploymentStatus, PipelineProvider, PipelineTarget
from bot.deployments.ledger import Ledger, LedgerEntry, target_label
from bot.errors import NoRollbackTarget


@dataclass(frozen=True)
class RollbackTarget:
    """What a rollback pipeline gets as ROLLBACK_TO; `commit`: a commit, not a model version."""

    value: str
    commit: bool = False

    @property
    def label(self) -> str:
        """`v10`, or `commit abc1234 (no model version recorded)`."""
        return target_label(None, self.value) if self.commit else target_label(self.value)

    @classmethod
    def of(cls, deployment: Deployment) -> RollbackTarget:
        return cls(deployment.version, commit=deployment.commit_only)


async def previous_version(
    ledger: Ledger, provider: PipelineProvider, target: PipelineTarget, environment: str
) -> RollbackTarget:
    """The ledger's previous version, else the provider's previous successful deployment."""
    known = from_ledger(await ledger.entries(target.model, environment))
    if known is not None:
        return known
    history = await provider.deployments(target=target, environment=environment)
    chosen = choose_rollback_target(history, model=target.model, environment=environment)
    return RollbackTarget.of(chosen)


def from_ledger(entries: Sequence[LedgerEntry]) -> RollbackTarget | None:
    """The newest earlier entry with a model version other than the current one's (the
    newest entry), or None when the ledger does not know two deployments to choose from."""
    if len(entries) < 2:
        return None
    current = entries[0]
    for earlier in entries[1:]:
        if earlier.version and earlier.version != current.version:
            return RollbackTarget(earlier.version)
    return None


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
