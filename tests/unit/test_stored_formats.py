"""Stored approvals and tickets stay readable across upgrades.

The JSON literals below were written by the hand-written encoder this codec replaced (before
it moved to pydantic's TypeAdapter); they must keep loading to equal objects, and what the
codec writes today must load back unchanged.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.approvals.machine import ApprovalRequest, ApprovalState
from bot.approvals.tickets import JobLink, RunInfo, Ticket, dump_ticket, load_ticket
from bot.ci.provider import PipelineStatus

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
pending = ApprovalRequest(
    id="cmd-pending",
    action="deploy",
    model="churn",
    environment="production",
    version="7",
    variables={"REGION": "eu", "DRY": "no"},
    requester="UREQ",
    created_at=NOW,
    expires_at=NOW + timedelta(hours=24),
    approvals_needed=2,
    approved_by=("UAPP1",),
    channel="C1",
    ts="1714564800.000100",
)
cancelled = ApprovalRequest(
    id="cmd-cancel",
    action="retrain",
    model="churn",
    environment=None,
    version=None,
    variables={},
    requester="UREQ",
    created_at=NOW,
    expires_at=NOW + timedelta(hours=1),
    approvals_needed=1,
    denied_by="UREQ",
    state=ApprovalState.DENIED,
)
started = ApprovalRequest(
    id="cmd-rb",
    action="rollback",
    model="m",
    environment="staging",
    version=None,
    variables={"K": "v"},
    requester="U1",
    created_at=NOW,
    expires_at=NOW + timedelta(hours=1),
    approvals_needed=0,
    state=ApprovalState.STARTED,
    channel="#c",
)
promote = ApprovalRequest(
    id="click-p",
    action="promote",
    model="m",
    environment=None,
    version="12",
    variables={},
    requester="U1",
    created_at=NOW,
    expires_at=NOW + timedelta(hours=2),
    approvals_needed=1,
    state=ApprovalState.FAILED,
    approved_by=("U2",),
    channel="C9",
    ts="1.2",
)
run = RunInfo(
    "gitlab",
    "7",
    "https://g/7",
    PipelineStatus.FAILED,
    "failed",
    NOW,
    NOW + timedelta(minutes=2, seconds=3, microseconds=500),
    (JobLink("train", "https://g/j/1"), JobLink("eval", "https://g/j/2")),
    note="",
)
t1 = Ticket(
    started,
    rollback_to="abc123",
    rollback_commit=True,
    origin="am:x:1",
    run=run,
    follower="p1",
    lease_until=1714564900.5,
)
t2 = Ticket(pending, ref="main")
t3 = Ticket(promote, error="registry said no")
run2 = RunInfo(
    "github", "99", "", PipelineStatus.RUNNING, "in_progress", None, None, (), note="lost track"
)
t4 = Ticket(cancelled, run=run2)

OLD_REQUESTS = [
    (
        pending,
        (
            '{"format": 1, "id": "cmd-pending", "action": "deploy", "model": "churn", "enviro'
            'nment": "production", "version": "7", "variables": {"REGION": "eu", "DRY": "no"}'
            ', "requester": "UREQ", "created_at": "2024-05-01T12:00:00+00:00", "expires_at": '
            '"2024-05-02T12:00:00+00:00", "approvals_needed": 2, "approved_by": ["UAPP1"], "d'
            'enied_by": null, "state": "pending", "channel": "C1", "ts": "1714564800.000100"}'
        ),
    ),
    (
        cancelled,
        (
            '{"format": 1, "id": "cmd-cancel", "action": "retrain", "model": "churn", "enviro'
            'nment": null, "version": null, "variables": {}, "requester": "UREQ", "created_at'
            '": "2024-05-01T12:00:00+00:00", "expires_at": "2024-05-01T13:00:00+00:00", "appr'
            'ovals_needed": 1, "approved_by": [], "denied_by": "UREQ", "state": "denied", "ch'
            'annel": null, "ts": null}'
        ),
    ),
]
OLD_TICKETS = [
    (
        t1,
        (
            '{"format": 1, "request": {"format": 1, "id": "cmd-rb", "action": "rollback", "mo'
            'del": "m", "environment": "staging", "version": null, "variables": {"K": "v"}, "'
            'requester": "U1", "created_at": "2024-05-01T12:00:00+00:00", "expires_at": "2024'
            '-05-01T13:00:00+00:00", "approvals_needed": 0, "approved_by": [], "denied_by": n'
            'ull, "state": "started", "channel": "#c", "ts": null}, "ref": null, "rollback_to'
            '": "abc123", "rollback_commit": true, "origin": "am:x:1", "run": {"provider": "g'
            'itlab", "id": "7", "url": "https://g/7", "status": "failed", "provider_status": '
            '"failed", "started_at": "2024-05-01T12:00:00+00:00", "finished_at": "2024-05-01T'
            '12:02:03.000500+00:00", "failed_jobs": [["train", "https://g/j/1"], ["eval", "ht'
            'tps://g/j/2"]], "note": ""}, "error": null, "follower": "p1", "lease_until": 171'
            "4564900.5}"
        ),
    ),
    (
        t2,
        (
            '{"format": 1, "request": {"format": 1, "id": "cmd-pending", "action": "deploy", '
            '"model": "churn", "environment": "production", "version": "7", "variables": {"RE'
            'GION": "eu", "DRY": "no"}, "requester": "UREQ", "created_at": "2024-05-01T12:00:'
            '00+00:00", "expires_at": "2024-05-02T12:00:00+00:00", "approvals_needed": 2, "ap'
            'proved_by": ["UAPP1"], "denied_by": null, "state": "pending", "channel": "C1", "'
            'ts": "1714564800.000100"}, "ref": "main", "rollback_to": null, "rollback_commit"'
            ': false, "origin": null, "run": null, "error": null, "follower": null, "lease_un'
            'til": 0.0}'
        ),
    ),
    (
        t3,
        (
            '{"format": 1, "request": {"format": 1, "id": "click-p", "action": "promote", "mo'
            'del": "m", "environment": null, "version": "12", "variables": {}, "requester": "'
            'U1", "created_at": "2024-05-01T12:00:00+00:00", "expires_at": "2024-05-01T14:00:'
            '00+00:00", "approvals_needed": 1, "approved_by": ["U2"], "denied_by": null, "sta'
            'te": "failed", "channel": "C9", "ts": "1.2"}, "ref": null, "rollback_to": null, '
            '"rollback_commit": false, "origin": null, "run": null, "error": "registry said n'
            'o", "follower": null, "lease_until": 0.0}'
        ),
    ),
    (
        t4,
        (
            '{"format": 1, "request": {"format": 1, "id": "cmd-cancel", "action": "retrain", '
            '"model": "churn", "environment": null, "version": null, "variables": {}, "reques'
            'ter": "UREQ", "created_at": "2024-05-01T12:00:00+00:00", "expires_at": "2024-05-'
            '01T13:00:00+00:00", "approvals_needed": 1, "approved_by": [], "denied_by": "UREQ'
            '", "state": "denied", "channel": null, "ts": null}, "ref": null, "rollback_to": '
            'null, "rollback_commit": false, "origin": null, "run": {"provider": "github", "i'
            'd": "99", "url": "", "status": "running", "provider_status": "in_progress", "sta'
            'rted_at": null, "finished_at": null, "failed_jobs": [], "note": "lost track"}, "'
            'error": null, "follower": null, "lease_until": 0.0}'
        ),
    ),
]


@pytest.mark.parametrize(("request_", "stored"), OLD_REQUESTS)
def test_requests_in_the_old_format_still_load(request_: ApprovalRequest, stored: str) -> None:
    assert ApprovalRequest.from_json(json.loads(stored)) == request_


@pytest.mark.parametrize(("ticket", "stored"), OLD_TICKETS)
def test_tickets_in_the_old_format_still_load(ticket: Ticket, stored: str) -> None:
    assert load_ticket(stored) == ticket


@pytest.mark.parametrize("ticket", [t for t, _ in OLD_TICKETS])
def test_tickets_round_trip(ticket: Ticket) -> None:
    assert load_ticket(dump_ticket(ticket)) == ticket


@pytest.mark.parametrize("request_", [r for r, _ in OLD_REQUESTS])
def test_requests_round_trip_through_text(request_: ApprovalRequest) -> None:
    assert ApprovalRequest.from_json(json.loads(json.dumps(request_.to_json()))) == request_


@pytest.mark.parametrize(("ticket", "stored"), OLD_TICKETS)
def test_tickets_are_written_in_the_old_layout(ticket: Ticket, stored: str) -> None:
    """Same keys, order and values: a replica still on the old code reads new records."""
    written = json.loads(dump_ticket(ticket))
    assert list(written) == list(json.loads(stored))
    assert written == json.loads(stored)


@pytest.mark.parametrize(("request_", "stored"), OLD_REQUESTS)
def test_requests_are_written_in_the_old_layout(request_: ApprovalRequest, stored: str) -> None:
    assert request_.to_json() == json.loads(stored)


def test_failed_jobs_keep_where_and_why_after_the_pair() -> None:
    """[name, url] stays first (what an older replica reads); stage, step, reason follow."""
    jobs = (
        JobLink("train", "https://g/j/1", stage="train", reason="script_failure"),
        JobLink("lint", "https://h/j/2", step="Run ruff", reason="failure"),
        JobLink("eval", "https://g/j/3"),
    )
    t = replace(t1, run=replace(run, failed_jobs=jobs))
    written = json.loads(dump_ticket(t))["run"]["failed_jobs"]
    assert written == [
        ["train", "https://g/j/1", "train", None, "script_failure"],
        ["lint", "https://h/j/2", None, "Run ruff", "failure"],
        ["eval", "https://g/j/3"],
    ]
    assert load_ticket(dump_ticket(t)) == t
