"""The approval state machine for risky actions, as pure functions over a frozen request.

pending -> approved (enough distinct allowed approvers) -> started | failed
failed -> approved (a retried start that has no side effect twice: promote's alias)
pending -> denied (an allowed approver said no; or the requester cancelled)
pending -> expired (nobody decided before `expires_at`)

Every transition returns a new `ApprovalRequest`; the store keeps it (`to_json`/`from_json`, see
`approvals.codec`) and decides with compare-and-set which click wins when two land at once. Clicks
arrive twice (Slack retries, impatient users), so a repeated approval counts once and is not an
error.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, NotRequired, TypedDict, Unpack

from pydantic import Strict, TypeAdapter, ValidationError

from bot.approvals.codec import Stored, Strings, Time
from bot.policy import Action, Rule, check_approver, mentions

DEFAULT_TTL = timedelta(hours=24)
_FORMAT = 1


class ApprovalState(StrEnum):
    """Where a request is in its life; only `PENDING` accepts clicks."""

    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"
    STARTED = "started"
    FAILED = "failed"


class Outcome(StrEnum):
    """What one click did, for the reply and the `chatops_approvals_total{decision}` metric."""

    RECORDED = "recorded"
    NOW_APPROVED = "now_approved"
    DUPLICATE = "duplicate"
    DENIED = "denied"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    ALREADY_DECIDED = "already_decided"


@dataclass(frozen=True)
class ApprovalRequest:
    """One request waiting for (or past) approval, with everything needed to start it later."""

    id: str
    action: Action
    model: str
    environment: str | None
    version: str | None
    variables: Strings = field(hash=False)
    requester: str
    created_at: Time
    expires_at: Time
    approvals_needed: Annotated[int, Strict()]
    approved_by: tuple[str, ...] = ()
    denied_by: str | None = None
    state: ApprovalState = ApprovalState.PENDING
    channel: str | None = None
    ts: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "variables", MappingProxyType(dict(self.variables)))
        if self.created_at.tzinfo is None or self.expires_at.tzinfo is None:
            raise ValueError("approval times must be timezone-aware")

    @property
    def cancelled(self) -> bool:
        """True when the requester withdrew the request themselves."""
        return self.state is ApprovalState.DENIED and self.denied_by == self.requester

    def to_json(self) -> dict[str, object]:
        """A JSON-compatible dict the store can keep; `from_json` reads it back."""
        stored: dict[str, object] = _CODEC.dump_python(self, mode="json")
        return stored

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> ApprovalRequest:
        """Read what `to_json` wrote; `ValueError` naming the field if it is not that."""
        try:
            return _CODEC.validate_python(data)
        except ValidationError as e:
            raise ValueError(f"bad approval request: {e}") from e


# The request as the store keeps it (alone, or inside a ticket).
StoredRequest = Annotated[ApprovalRequest, Stored(_FORMAT)]
_CODEC: TypeAdapter[ApprovalRequest] = TypeAdapter(StoredRequest)


@dataclass(frozen=True)
class Decision:
    """The request after a click, and what the click did."""

    request: ApprovalRequest
    outcome: Outcome


class Asked(TypedDict):
    """What a command or click asks for, before its rule says whether approvers must agree."""

    id: str
    action: Action
    model: str
    environment: str | None
    version: str | None
    variables: Mapping[str, str]
    requester: str
    now: datetime
    ttl: NotRequired[timedelta]  # how long approvers have (default: DEFAULT_TTL)
    channel: NotRequired[str | None]
    ts: NotRequired[str | None]


def requested(*, rule: Rule, **asked: Unpack[Asked]) -> ApprovalRequest:
    """The request under `rule`: pending, needing `rule.approvals` approvers and expiring `ttl`
    after `now`; or, when the rule needs none, approved by nobody (it runs at once, stored the
    same way so that one state machine covers both)."""
    pending = rule.needs_approval
    now = asked["now"]
    return ApprovalRequest(
        id=asked["id"],
        action=asked["action"],
        model=asked["model"],
        environment=asked["environment"],
        version=asked["version"],
        variables=asked["variables"],
        requester=asked["requester"],
        created_at=now,
        expires_at=now + asked.get("ttl", DEFAULT_TTL) if pending else now,
        approvals_needed=rule.approvals,
        state=ApprovalState.PENDING if pending else ApprovalState.APPROVED,
        channel=asked.get("channel"),
        ts=asked.get("ts"),
    )


def new_request(*, rule: Rule, **asked: Unpack[Asked]) -> ApprovalRequest:
    """A pending request needing `rule.approvals` approvers; expires `ttl` after `now`.

    Only for rules that need approval: a rule with 0 approvals runs at once, with no request.
    """
    if not rule.needs_approval:
        raise ValueError("this rule needs no approval; start the action directly")
    return requested(rule=rule, **asked)


def is_expired(request: ApprovalRequest, now: datetime) -> bool:
    """True when the request expired, or is still pending past its deadline."""
    if request.state is ApprovalState.EXPIRED:
        return True
    return request.state is ApprovalState.PENDING and now >= request.expires_at


def expire(request: ApprovalRequest, now: datetime) -> ApprovalRequest:
    """The request marked expired if it is pending past its deadline; otherwise unchanged."""
    if request.state is ApprovalState.PENDING and now >= request.expires_at:
        return replace(request, state=ApprovalState.EXPIRED)
    return request


def approve(request: ApprovalRequest, rule: Rule | None, user: str, now: datetime) -> Decision:
    """Record `user`'s approval; `NotAllowed` if the policy refuses them (nothing changes).

    A decided or expired request is returned with `ALREADY_DECIDED`/`EXPIRED` whoever clicks, so
    a late click learns what happened instead of an error. `rule` None (the policy no longer
    covers the request): nobody may approve.
    """
    settled = _settled(request, now)
    if settled is not None:
        return settled
    check_approver(rule, request, user)
    if user in request.approved_by:
        return Decision(request, Outcome.DUPLICATE)
    approved_by = (*request.approved_by, user)
    if len(approved_by) >= request.approvals_needed:
        approved = replace(request, approved_by=approved_by, state=ApprovalState.APPROVED)
        return Decision(approved, Outcome.NOW_APPROVED)
    return Decision(replace(request, approved_by=approved_by), Outcome.RECORDED)


def deny(request: ApprovalRequest, rule: Rule | None, user: str, now: datetime) -> Decision:
    """Deny (an allowed approver) or cancel (the requester); `NotAllowed` for anyone else.

    `rule` None: the policy no longer covers the request; only the requester may still cancel.
    """
    settled = _settled(request, now)
    if settled is not None:
        return settled
    if user == request.requester:
        return Decision(_denied(request, user), Outcome.CANCELLED)
    check_approver(rule, request, user, verb="deny")
    return Decision(_denied(request, user), Outcome.DENIED)


def mark_started(request: ApprovalRequest) -> ApprovalRequest:
    """An approved request whose pipeline has been started."""
    return _from_approved(request, ApprovalState.STARTED)


def mark_failed(request: ApprovalRequest) -> ApprovalRequest:
    """An approved request whose pipeline could not be started."""
    return _from_approved(request, ApprovalState.FAILED)


def reopen_failed(request: ApprovalRequest) -> ApprovalRequest:
    """A failed approved request made approved again, to retry its start (approvals kept)."""
    if request.state is not ApprovalState.FAILED:
        raise ValueError(f"request {request.id} is {request.state}, not failed")
    return replace(request, state=ApprovalState.APPROVED)


def state_text(request: ApprovalRequest) -> str:
    """One line saying where the request stands, for replies to late or refused clicks."""
    by = mentions(request.approved_by)
    match request.state:
        case ApprovalState.PENDING:
            got, needed = len(request.approved_by), request.approvals_needed
            return f"waiting for approval ({got} of {needed})"
        case ApprovalState.APPROVED:
            return f"already approved by {by}"
        case ApprovalState.DENIED if request.cancelled:
            return f"cancelled by <@{request.requester}>"
        case ApprovalState.DENIED:
            return f"already denied by <@{request.denied_by}>"
        case ApprovalState.EXPIRED:
            return "this request expired before enough people approved it"
        case ApprovalState.STARTED:
            return f"already approved by {by} and started"
        case ApprovalState.FAILED:
            return f"approved by {by}, but the pipeline could not be started"


def idempotency_key(team: str, user: str, command: str, text: str, trigger_id: str) -> str:
    """A stable key for one slash-command invocation, equal across Slack's re-deliveries.

    Also usable as the approval request id: short enough for a button value, and a retried
    command maps onto the request the first delivery created.
    """
    return _key("cmd", team, user, command, text, trigger_id)


def click_key(team: str, user: str, action_id: str, value: str, action_ts: str) -> str:
    """A stable key for one button click, equal across Slack's re-deliveries of it."""
    return _key("click", team, user, action_id, value, action_ts)


def _key(kind: str, *parts: str) -> str:
    # JSON keeps the parts unambiguous: ("a b", "c") and ("a", "b c") hash differently.
    digest = hashlib.sha256(json.dumps(parts).encode()).hexdigest()
    return f"{kind}-{digest[:32]}"


def _settled(request: ApprovalRequest, now: datetime) -> Decision | None:
    """The answer for a click on a request that no longer takes clicks, else None."""
    if request.state is not ApprovalState.PENDING:
        return Decision(request, Outcome.ALREADY_DECIDED)
    if now >= request.expires_at:
        return Decision(expire(request, now), Outcome.EXPIRED)
    return None


def _denied(request: ApprovalRequest, user: str) -> ApprovalRequest:
    return replace(request, denied_by=user, state=ApprovalState.DENIED)


def _from_approved(request: ApprovalRequest, state: ApprovalState) -> ApprovalRequest:
    if request.state is not ApprovalState.APPROVED:
        raise ValueError(f"request {request.id} is {request.state}, not approved")
    return replace(request, state=state)
