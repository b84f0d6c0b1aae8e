"""The approval state machine: four-eyes, one person counts once, expiry, JSON round trip."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.approvals.machine import (
    ApprovalRequest,
    ApprovalState,
    Decision,
    Outcome,
    approve,
    click_key,
    deny,
    expire,
    idempotency_key,
    is_expired,
    mark_failed,
    mark_started,
    new_request,
    state_text,
)
from bot.errors import NotAllowed
from bot.policy import Rule

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
PROD = Rule(approvals=1, approvers=frozenset({"UAPP1", "UAPP2", "UREQ"}))
TWO = Rule(approvals=2, approvers=frozenset({"UAPP1", "UAPP2", "UAPP3"}))


def make(rule: Rule = PROD, **overrides: object) -> ApprovalRequest:
    fields: dict[str, object] = {
        "id": "cmd-1",
        "action": "deploy",
        "model": "fraud-detector",
        "environment": "production",
        "version": "v12",
        "variables": {"CANARY": "10"},
        "requester": "UREQ",
        "rule": rule,
        "now": T0,
    }
    fields.update(overrides)
    return new_request(**fields)  # type: ignore[arg-type]


def test_new_request_is_pending_and_expires_in_24h() -> None:
    req = make()
    assert req.state is ApprovalState.PENDING
    assert req.approvals_needed == 1
    assert req.approved_by == ()
    assert req.expires_at == T0 + timedelta(hours=24)
    assert make(ttl=timedelta(hours=1)).expires_at == T0 + timedelta(hours=1)
    assert state_text(req) == "waiting for approval (0 of 1)"


def test_new_request_needs_a_rule_that_needs_approval() -> None:
    with pytest.raises(ValueError):
        make(Rule())


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        make(now=datetime(2024, 5, 1, 12, 0))


def test_one_allowed_approval_approves() -> None:
    decision = approve(make(), PROD, "UAPP1", T0)
    assert decision.outcome is Outcome.NOW_APPROVED
    assert decision.request.state is ApprovalState.APPROVED
    assert decision.request.approved_by == ("UAPP1",)
    assert state_text(decision.request) == "already approved by <@UAPP1>"


def test_two_approvals_needed() -> None:
    first = approve(make(TWO), TWO, "UAPP1", T0)
    assert first.outcome is Outcome.RECORDED
    assert first.request.state is ApprovalState.PENDING
    assert state_text(first.request) == "waiting for approval (1 of 2)"
    second = approve(first.request, TWO, "UAPP2", T0)
    assert second.outcome is Outcome.NOW_APPROVED
    assert second.request.approved_by == ("UAPP1", "UAPP2")


def test_same_person_twice_counts_once() -> None:
    first = approve(make(TWO), TWO, "UAPP1", T0)
    again = approve(first.request, TWO, "UAPP1", T0)
    assert again == Decision(first.request, Outcome.DUPLICATE)


def test_requester_cannot_approve_even_if_listed() -> None:
    req = make()
    with pytest.raises(NotAllowed, match="you requested this"):
        approve(req, PROD, "UREQ", T0)


def test_non_approver_is_refused_and_nothing_changes() -> None:
    req = make()
    with pytest.raises(NotAllowed, match="not allowed to approve deploy to production"):
        approve(req, PROD, "USTRANGER", T0)
    assert req.state is ApprovalState.PENDING


def test_late_click_on_decided_request() -> None:
    approved = approve(make(), PROD, "UAPP1", T0).request
    late = approve(approved, PROD, "UAPP2", T0)
    assert late == Decision(approved, Outcome.ALREADY_DECIDED)
    # Whoever clicks, even someone not allowed, just learns what happened.
    assert approve(approved, PROD, "USTRANGER", T0).outcome is Outcome.ALREADY_DECIDED
    assert deny(approved, PROD, "UAPP2", T0).outcome is Outcome.ALREADY_DECIDED


def test_deny_by_approver() -> None:
    decision = deny(make(), PROD, "UAPP2", T0)
    assert decision.outcome is Outcome.DENIED
    assert decision.request.state is ApprovalState.DENIED
    assert decision.request.denied_by == "UAPP2"
    assert not decision.request.cancelled
    assert state_text(decision.request) == "already denied by <@UAPP2>"


def test_deny_after_partial_approval() -> None:
    first = approve(make(TWO), TWO, "UAPP1", T0).request
    denied = deny(first, TWO, "UAPP2", T0).request
    assert denied.state is ApprovalState.DENIED
    assert approve(denied, TWO, "UAPP3", T0).outcome is Outcome.ALREADY_DECIDED


def test_requester_cancels() -> None:
    decision = deny(make(), PROD, "UREQ", T0)
    assert decision.outcome is Outcome.CANCELLED
    assert decision.request.cancelled
    assert state_text(decision.request) == "cancelled by <@UREQ>"


def test_deny_by_non_approver_is_refused() -> None:
    with pytest.raises(NotAllowed, match="not allowed to deny deploy to production"):
        deny(make(), PROD, "USTRANGER", T0)


def test_open_approver_list_lets_anyone_else_deny() -> None:
    rule = Rule(approvals=1)
    assert deny(make(rule), rule, "UANY", T0).outcome is Outcome.DENIED


def test_expiry() -> None:
    req = make()
    deadline = req.expires_at
    assert not is_expired(req, deadline - timedelta(seconds=1))
    assert is_expired(req, deadline)
    assert expire(req, deadline - timedelta(seconds=1)) is req
    expired = expire(req, deadline)
    assert expired.state is ApprovalState.EXPIRED
    assert is_expired(expired, T0)
    assert expire(expired, deadline + timedelta(days=1)) is expired
    assert "expired" in state_text(expired)


def test_click_after_deadline_expires_the_request() -> None:
    req = make()
    late = req.expires_at + timedelta(minutes=1)
    for decision in (approve(req, PROD, "UAPP1", late), deny(req, PROD, "UAPP1", late)):
        assert decision.outcome is Outcome.EXPIRED
        assert decision.request.state is ApprovalState.EXPIRED
        assert decision.request.approved_by == ()


def test_decided_requests_do_not_expire() -> None:
    approved = approve(make(), PROD, "UAPP1", T0).request
    assert expire(approved, T0 + timedelta(days=7)) is approved
    assert not is_expired(approved, T0 + timedelta(days=7))


def test_started_and_failed_only_from_approved() -> None:
    approved = approve(make(), PROD, "UAPP1", T0).request
    assert mark_started(approved).state is ApprovalState.STARTED
    assert mark_failed(approved).state is ApprovalState.FAILED
    assert "started" in state_text(mark_started(approved))
    assert "could not be started" in state_text(mark_failed(approved))
    with pytest.raises(ValueError):
        mark_started(make())
    with pytest.raises(ValueError):
        mark_failed(mark_started(approved))


def test_variables_are_a_read_only_copy() -> None:
    variables = {"A": "1"}
    req = make(variables=variables)
    variables["A"] = "2"
    assert req.variables == {"A": "1"}
    with pytest.raises(TypeError):
        req.variables["A"] = "3"  # type: ignore[index]


# --- serialization ----------------------------------------------------------------------


def test_json_round_trip_through_text() -> None:
    req = replace(approve(make(TWO), TWO, "UAPP1", T0).request, channel="C1", ts="1.2")
    data = json.loads(json.dumps(req.to_json()))
    assert ApprovalRequest.from_json(data) == req
    assert data["state"] == "pending"
    assert data["created_at"] == "2024-05-01T12:00:00+00:00"


def test_json_round_trip_of_retrain_without_environment() -> None:
    req = make(action="retrain", environment=None, version=None, variables={})
    assert ApprovalRequest.from_json(json.loads(json.dumps(req.to_json()))) == req


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("format", 2, "format"),
        ("action", "merge", "action"),
        ("state", "maybe", "state|approval"),
        ("variables", {"A": 1}, "variables"),
        ("approved_by", "UAPP1", "approved_by"),
        ("approvals_needed", "1", "approvals_needed"),
        ("created_at", "yesterday", "approval"),
        ("created_at", "2024-05-01T12:00:00", "timezone"),
        ("model", None, "model"),
        ("channel", 5, "channel"),
    ],
)
def test_from_json_refuses_bad_data(field: str, value: object, match: str) -> None:
    data = make().to_json()
    data[field] = value
    with pytest.raises(ValueError, match=match):
        ApprovalRequest.from_json(data)


# --- idempotency keys -------------------------------------------------------------------


def test_idempotency_key_is_stable_and_distinguishes_fields() -> None:
    key = idempotency_key("T1", "U1", "/deploy", "m prod", "trig.1")
    assert key == idempotency_key("T1", "U1", "/deploy", "m prod", "trig.1")
    assert key.startswith("cmd-")
    assert len(key) == len("cmd-") + 32
    assert key != idempotency_key("T1", "U1", "/deploy", "m prod", "trig.2")
    assert key != idempotency_key("T1", "U2", "/deploy", "m prod", "trig.1")
    # Field boundaries matter: moving a space between fields changes the key.
    assert idempotency_key("T", "U", "/deploy", "a b", "t") != idempotency_key(
        "T", "U", "/deploy a", "b", "t"
    )


def test_click_key() -> None:
    key = click_key("T1", "U1", "approve", "cmd-1", "1714564800.1")
    assert key == click_key("T1", "U1", "approve", "cmd-1", "1714564800.1")
    assert key.startswith("click-")
    assert key != click_key("T1", "U1", "deny", "cmd-1", "1714564800.1")


# --- properties -------------------------------------------------------------------------

USERS = ["UREQ", "UAPP1", "UAPP2", "UAPP3", "USTRANGER"]
rules = st.builds(
    Rule,
    approvals=st.integers(min_value=1, max_value=3),
    approvers=st.frozensets(st.sampled_from(USERS), max_size=4),
)
clicks = st.lists(
    st.tuples(
        st.sampled_from(["approve", "deny"]),
        st.sampled_from(USERS),
        st.integers(min_value=0, max_value=30),
    ),
    max_size=12,
)


@settings(max_examples=300)
@given(rule=rules, steps=clicks, ttl_hours=st.integers(min_value=1, max_value=24))
def test_invariants_hold_for_any_click_sequence(
    rule: Rule, steps: list[tuple[str, str, int]], ttl_hours: int
) -> None:
    req = make(rule, ttl=timedelta(hours=ttl_hours))
    for kind, user, hour in steps:
        now = T0 + timedelta(hours=hour)
        before = req
        try:
            decision = (approve if kind == "approve" else deny)(req, rule, user, now)
        except NotAllowed:
            continue
        req = decision.request
        assert decision.outcome is not Outcome.ALREADY_DECIDED or req == before
        assert decision.outcome is not Outcome.DUPLICATE or req == before
        assert ApprovalRequest.from_json(json.loads(json.dumps(req.to_json()))) == req

        assert req.requester not in req.approved_by
        assert len(set(req.approved_by)) == len(req.approved_by)
        assert (req.state is ApprovalState.APPROVED) == (
            len(req.approved_by) >= req.approvals_needed
        )
        if rule.approvers:
            assert set(req.approved_by) <= rule.approvers
        if before.state is not ApprovalState.PENDING:
            assert req == before


def test_a_request_the_policy_no_longer_covers_can_only_be_cancelled() -> None:
    req = make()
    with pytest.raises(NotAllowed, match="no policy for deploy to production"):
        approve(req, None, "UAPP1", T0)
    with pytest.raises(NotAllowed, match="no policy for deploy to production"):
        deny(req, None, "UAPP1", T0)
    assert deny(req, None, "UREQ", T0).outcome is Outcome.CANCELLED
    assert approve(req, None, "UAPP1", req.expires_at).outcome is Outcome.EXPIRED
