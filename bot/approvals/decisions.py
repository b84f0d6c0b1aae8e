"""Approve, deny and expire: one click (or the sweeper) applied to a stored ticket.

`decide` applies one click through the approval state machine with compare-and-set, so of two
racing clicks exactly one wins and exactly one pipeline starts. `expire_due` is the sweeper's part.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime

from bot.approvals.answers import audit_detail, audit_variables, started_answer
from bot.approvals.deps import ApprovalDeps
from bot.approvals.machine import (
    ApprovalRequest,
    ApprovalState,
    Decision,
    Outcome,
    approve,
    deny,
    expire,
    is_expired,
    state_text,
)
from bot.approvals.runs import Runs
from bot.approvals.tickets import Ticket
from bot.errors import NotAllowed

SERVICE_ACTOR = "chatops"  # the audit actor for what the service itself does (expiry)
_AUDIT_VERBS = {
    Outcome.RECORDED: "approve",
    Outcome.NOW_APPROVED: "approve",
    Outcome.DENIED: "deny",
    Outcome.CANCELLED: "cancel",
    Outcome.EXPIRED: "expire",
}
_ANSWERS = {
    Outcome.EXPIRED: "This request has expired; ask again with a new command.",
    Outcome.CANCELLED: "You cancelled your request.",
}


class Decisions:
    """Applies Approve/Deny clicks and expiry to tickets; an approval that completes starts it."""

    def __init__(
        self, deps: ApprovalDeps, *, runs: Runs, start: Callable[[Ticket], Awaitable[Ticket]]
    ) -> None:
        self._deps = deps
        self._runs = runs
        self._start = start

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._deps.clock(), UTC)

    async def decide(self, ticket_id: str, *, user: str, approving: bool) -> str:
        """Apply one Approve/Deny click; the answer for the clicker, or `NotAllowed` (audited)."""
        seen: Ticket | None = None
        decision: Decision | None = None

        def decide(ticket: Ticket) -> Ticket | None:
            nonlocal seen, decision
            seen, r = ticket, ticket.request
            rule = self._deps.options.policy.find(r.action, r.environment)  # None: nobody decides
            decision = (approve if approving else deny)(r, rule, user, self._now())
            if decision.outcome in (Outcome.DUPLICATE, Outcome.ALREADY_DECIDED):
                return None
            updated = replace(ticket, request=decision.request)
            now_approved = decision.outcome is Outcome.NOW_APPROVED
            return self._runs.claim(updated) if now_approved else updated

        try:
            updated = await self._deps.tickets.change(ticket_id, decide)
        except NotAllowed as e:
            if seen is not None:  # always: only `decide` raises it
                await self._refused(seen, user, "approve" if approving else "deny", e.message)
            raise
        if seen is None or decision is None:
            return "This request is no longer known (it may have been cleaned up)."
        if updated is None:
            self._count(seen.request, decision.outcome)
            return f"Nothing changed: {state_text(seen.request)}."
        return await self._decided(updated, decision, user)

    async def _refused(self, ticket: Ticket, user: str, verb: str, why: str) -> None:
        r = ticket.request
        self._deps.metrics.approvals.labels(action=r.action, decision="refused").inc()
        await self._deps.auditor.record(
            actor=user,
            action=f"{r.action}.{verb}",
            model=r.model,
            outcome="refused",
            detail=why,
            ticket=r.id,
        )

    async def _decided(self, ticket: Ticket, decision: Decision, user: str) -> str:
        r = ticket.request
        # A click after the deadline only notices the expiry: the service expired it, not them.
        actor = SERVICE_ACTOR if decision.outcome is Outcome.EXPIRED else user
        await self._audit(ticket, decision.outcome, actor)
        match decision.outcome:
            case Outcome.NOW_APPROVED:
                return started_answer(await self._start(ticket))
            case Outcome.RECORDED:
                return f"Approval recorded: {state_text(r)}."
            case outcome:
                return _ANSWERS.get(outcome, "Denied; the request is closed.")

    async def _audit(self, ticket: Ticket, outcome: Outcome, actor: str) -> None:
        """Counted in the metrics and audited, with the request's detail and variables."""
        r = ticket.request
        self._count(r, outcome)
        await self._deps.auditor.record(
            actor=actor,
            action=f"{r.action}.{_AUDIT_VERBS.get(outcome, 'decide')}",
            model=r.model,
            outcome=outcome.value,
            detail=audit_detail(ticket),
            ticket=r.id,
            **audit_variables(ticket),
        )

    def _count(self, request: ApprovalRequest, outcome: Outcome) -> None:
        self._deps.metrics.approvals.labels(action=request.action, decision=outcome.value).inc()

    async def expire_due(self, ticket: Ticket) -> bool:
        """Sweeper step: mark a pending ticket past its deadline expired (and say so in Slack)."""
        now = self._now()

        def due(t: Ticket) -> bool:
            return t.request.state is ApprovalState.PENDING and is_expired(t.request, now)

        if not due(ticket):
            return False

        def expired(t: Ticket) -> Ticket | None:
            return replace(t, request=expire(t.request, now)) if due(t) else None

        saved = await self._deps.tickets.change(ticket.id, expired)
        if saved is None:
            return False
        await self._audit(saved, Outcome.EXPIRED, SERVICE_ACTOR)
        return True
