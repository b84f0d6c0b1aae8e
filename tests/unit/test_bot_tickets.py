"""Tickets survive the store: what `dump_ticket` writes, `load_ticket` reads back unchanged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.approvals.machine import ApprovalRequest, ApprovalState
from bot.approvals.tickets import JobLink, RunInfo, Ticket, dump_ticket, load_ticket
from bot.ci.provider import PipelineStatus

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def test_round_trip_with_a_run() -> None:
    request = ApprovalRequest(
        id="cmd-1",
        action="rollback",
        model="m",
        environment="production",
        version=None,
        variables={"K": "v"},
        requester="U1",
        created_at=NOW,
        expires_at=NOW + timedelta(hours=1),
        approvals_needed=1,
        approved_by=("U2",),
        state=ApprovalState.STARTED,
        channel="#c",
    )
    run = RunInfo(
        "gitlab",
        "7",
        "https://g/7",
        PipelineStatus.FAILED,
        "failed",
        NOW,
        NOW + timedelta(minutes=2),
        (JobLink("train", "https://g/j/1"),),
    )
    ticket = Ticket(
        request, rollback_to="v3", origin="am:x:1", run=run, follower="p1", lease_until=5
    )
    again = load_ticket(dump_ticket(ticket))
    assert again == ticket
    assert not again.is_open
    assert not again.following


def test_a_rollback_to_a_commit_is_remembered_and_named_as_one() -> None:
    request = ApprovalRequest(
        id="cmd-2",
        action="rollback",
        model="m",
        environment="production",
        version=None,
        variables={},
        requester="U1",
        created_at=NOW,
        expires_at=NOW,
        approvals_needed=0,
        state=ApprovalState.APPROVED,
        channel="#c",
    )
    ticket = Ticket(request, rollback_to="abc1234", rollback_commit=True)
    again = load_ticket(dump_ticket(ticket))
    assert again.rollback_commit
    assert again.rollback_label == "commit abc1234 (no model version recorded)"
    assert Ticket(request, rollback_to="v3").rollback_label == "v3"


def test_open_and_following() -> None:
    request = ApprovalRequest(
        id="cmd-2",
        action="retrain",
        model="m",
        environment=None,
        version=None,
        variables={},
        requester="U1",
        created_at=NOW,
        expires_at=NOW,
        approvals_needed=0,
        state=ApprovalState.STARTED,
    )
    running = Ticket(request, run=RunInfo("github", "9", "", PipelineStatus.RUNNING))
    assert running.is_open
    assert running.following
    noted = Ticket(request, run=RunInfo("github", "9", "", PipelineStatus.RUNNING, note="lost"))
    assert not noted.is_open
    assert not noted.following


def test_garbage_is_refused() -> None:
    with pytest.raises(ValueError, match="not a ticket"):
        load_ticket('{"format": 99}')
