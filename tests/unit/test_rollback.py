"""Choosing the deployment a `/rollback` without a version goes back to."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.ci.provider import Deployment, DeploymentStatus
from bot.deployments.ledger import LedgerEntry
from bot.deployments.rollback import RollbackTarget, choose_rollback_target, from_ledger
from bot.errors import NoRollbackTarget, PipelineError

S, F, R = DeploymentStatus.SUCCESS, DeploymentStatus.FAILED, DeploymentStatus.RUNNING


def history(*entries: tuple[DeploymentStatus, str]) -> list[Deployment]:
    """Deployments oldest first, one a day, returned newest first as the providers do."""
    deployments = [
        Deployment(
            id=str(day),
            environment="production",
            status=status,
            version=version,
            ref="main",
            sha=f"{day:040x}",
            created_at=datetime(2024, 5, day, 12, tzinfo=UTC),
        )
        for day, (status, version) in enumerate(entries, start=1)
    ]
    return deployments[::-1]


def choose(deployments: list[Deployment]) -> Deployment:
    return choose_rollback_target(deployments, model="fraud-detector", environment="production")


def test_success_failed_success_goes_back_to_the_earlier_success() -> None:
    target = choose(history((S, "v1"), (F, "v2"), (S, "v3")))
    assert target.version == "v1"


def test_a_failed_deploy_after_the_current_one_does_not_replace_it() -> None:
    target = choose(history((S, "v1"), (S, "v2"), (F, "v3"), (R, "v4")))
    assert target.version == "v1"


def test_a_redeploy_of_the_current_version_is_not_a_rollback_target() -> None:
    target = choose(history((S, "v1"), (S, "v2"), (S, "v2")))
    assert target.version == "v1"


def test_the_order_the_provider_lists_them_in_does_not_matter() -> None:
    deployments = history((S, "v1"), (S, "v2"), (F, "v3"), (S, "v4"))
    random.Random(7).shuffle(deployments)
    assert choose(deployments).version == "v2"


def test_no_deployment_at_all_is_a_clear_error() -> None:
    with pytest.raises(NoRollbackTarget) as caught:
        choose([])
    assert "fraud-detector has no successful deployment in production" in caught.value.message


def test_only_failures_is_a_clear_error() -> None:
    with pytest.raises(NoRollbackTarget):
        choose(history((F, "v1"), (F, "v2")))


def test_a_single_success_has_nothing_before_it() -> None:
    with pytest.raises(NoRollbackTarget) as caught:
        choose(history((F, "v1"), (S, "v2")))
    message = caught.value.message
    assert "no earlier successful deployment in production" in message
    assert "(v2)" in message
    assert isinstance(caught.value, PipelineError)


def entry(version: str | None, commit: str | None = None) -> LedgerEntry:
    return LedgerEntry("m", "production", "deploy", version, "", "U1", (), 0.0, commit=commit)


def test_the_ledger_decides_only_when_it_knows_two() -> None:
    assert from_ledger([]) is None
    assert from_ledger([entry("v2")]) is None
    assert from_ledger([entry("v2"), entry("v2")]) is None
    assert from_ledger([entry("v3"), entry("v3"), entry("v1")]) == RollbackTarget("v1")
    # an entry without a model version (a commit, or the pipeline's default) is never a target
    assert from_ledger([entry("v3"), entry(None, "abc1234"), entry("v1")]) == RollbackTarget("v1")
    assert from_ledger([entry(None, "abc1234"), entry("v1")]) == RollbackTarget("v1")


def test_a_commit_only_deployment_is_named_as_a_commit() -> None:
    latest, earlier = history((S, "abc1234"), (S, "def5678"))
    commit = RollbackTarget.of(replace(earlier, commit_only=True))
    assert commit.label == "commit abc1234 (no model version recorded)"
    assert RollbackTarget.of(latest).label == "def5678"
