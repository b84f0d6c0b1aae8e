"""Request and approval use cases: a command (or button) becomes a ticket; clicks decide it.

`submit` checks the model, environment, provider and policy before anything is stored, so a
refused or impossible request changes nothing. A request that needs approval is stored pending
with its Approve/Deny message; one that does not starts at once. `decide` applies one click
through the approval state machine with compare-and-set, so of two racing clicks exactly one
wins and exactly one pipeline starts. `expire_due` is the sweeper's part.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import structlog

from bot.approvals.machine import (
    ApprovalRequest,
    ApprovalState,
    Decision,
    Outcome,
    approve,
    deny,
    expire,
    is_expired,
    new_request,
    state_text,
)
from bot.approvals.render import check_shown, run_label
from bot.approvals.runs import Runs
from bot.approvals.store import TicketStore
from bot.approvals.tickets import Ticket
from bot.audit.trail import Auditor
from bot.ci.provider import check_ref, check_variables
from bot.commands import DeployCommand, RetrainCommand, RollbackCommand
from bot.deployments.ledger import Ledger
from bot.deployments.rollback import RollbackTarget, previous_version
from bot.errors import NotAllowed, StartFailed
from bot.options import BotOptions
from bot.policy import Rule, check_request, describe, mentions
from slackio.blocks import link
from slackio.metrics import Metrics

log = structlog.get_logger("bot.approvals.workflow")

PipelineCommand = RetrainCommand | DeployCommand | RollbackCommand
ALREADY_RECEIVED = "Already received."
SERVICE_ACTOR = "chatops"  # the audit actor for what the service itself does (expiry)
_AUDIT_VERBS = {
    Outcome.RECORDED: "approve",
    Outcome.NOW_APPROVED: "approve",
    Outcome.DENIED: "deny",
    Outcome.CANCELLED: "cancel",
    Outcome.EXPIRED: "expire",
}


@dataclass(frozen=True)
class Submitted:
    """What became of a request: the ticket, and one line for the requester.

    `already_received`: a ticket with this id exists (a re-delivery of the same request), so
    nothing was stored, started or audited; the answer says so.
    """

    ticket: Ticket
    answer: str
    already_received: bool = False


class Requests:
    """Creates tickets and applies approval decisions."""

    def __init__(
        self,
        *,
        tickets: TicketStore,
        runs: Runs,
        options: BotOptions,
        auditor: Auditor,
        metrics: Metrics,
        ledger: Ledger,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._ledger = ledger
        self._tickets = tickets
        self._runs = runs
        self._options = options
        self._auditor = auditor
        self._metrics = metrics
        self._clock = clock
        self.starters: dict[str, Callable[[Ticket], Awaitable[Ticket]]] = {}

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def ticket(self, ticket_id: str) -> Ticket | None:
        """The stored ticket, if any."""
        loaded = await self._tickets.load(ticket_id) if ticket_id else None
        return loaded.ticket if loaded is not None else None

    def check(self, command: PipelineCommand, user: str) -> Rule:
        """Everything that can be refused without the network; the rule that applies."""
        target = self._options.target(command.model)
        if command.environment is not None:
            self._options.environment(command.model, command.environment)
        check_variables(target, command.variables)
        check_ref(target, command.ref if isinstance(command, RetrainCommand) else None)
        self._runs.provider_for(command.model)
        rule = self._options.policy.rule_for(command.action, command.environment)
        check_request(rule, user, action=command.action, environment=command.environment)
        return rule

    async def submit(
        self, command: PipelineCommand, *, ticket_id: str, user: str, origin: str | None = None
    ) -> Submitted:
        """Create the ticket and start or await approval (`already_received` if it exists)."""
        rule = self.check(command, user)
        ticket = await self._ticket(command, rule, ticket_id=ticket_id, user=user, origin=origin)
        check_shown(ticket)
        pending = ticket.request.state is ApprovalState.PENDING
        if not pending:
            ticket = self._runs.claim(ticket)
        if not await self._tickets.create(ticket):
            return Submitted(ticket, ALREADY_RECEIVED, already_received=True)
        what = describe(command.action, command.environment)
        await self._auditor.record(
            actor=user,
            action=f"{command.action}.request",
            model=command.model,
            outcome="pending" if pending else "accepted",
            detail=_detail(ticket),
            ticket=ticket.id,
            **_variables(ticket),
        )
        if pending:
            channel = ticket.request.channel
            approvers = mentions(rule.approvers) or "anyone but you"
            return Submitted(
                ticket,
                f"Approval requested in {channel}: {what} of {command.model}{_to(ticket)} needs "
                f"{rule.approvals} approval(s) from {approvers}.",
            )
        started = await self._start(ticket)
        return Submitted(started, started_answer(started))

    async def _start(self, ticket: Ticket) -> Ticket:
        """Start the pipeline; `StartFailed` (the ticket saved as failed) if it did not start.

        An action with its own starter in `starters` (promote: set a registry alias) uses it.
        """
        starter = self.starters.get(ticket.request.action, self._runs.start)
        started = await starter(ticket)
        if started.run is None and started.request.state is not ApprovalState.STARTED:
            raise StartFailed(started_answer(started), started.error or "unknown error")
        return started

    async def _ticket(
        self, command: PipelineCommand, rule: Rule, *, ticket_id: str, user: str, origin: str | None
    ) -> Ticket:
        now = self._now()
        version = command.version if isinstance(command, DeployCommand) else None
        channel = self._options.channel_for(command.model)
        if rule.needs_approval:
            request = new_request(
                id=ticket_id,
                action=command.action,
                model=command.model,
                environment=command.environment,
                version=version,
                variables=command.variables,
                requester=user,
                rule=rule,
                now=now,
                ttl=timedelta(seconds=self._options.expire_after),
                channel=channel,
            )
        else:  # runs at once: stored as approved by nobody, so one state machine covers both
            request = ApprovalRequest(
                id=ticket_id,
                action=command.action,
                model=command.model,
                environment=command.environment,
                version=version,
                variables=command.variables,
                requester=user,
                created_at=now,
                expires_at=now,
                approvals_needed=0,
                state=ApprovalState.APPROVED,
                channel=channel,
            )
        # the ref approvers see is the ref that runs, even if the model's config changes meanwhile
        ref = command.ref if isinstance(command, RetrainCommand) else None
        ref = ref or self._options.target(command.model).ref
        to = await self._rollback_target(command)
        return Ticket(
            request=request,
            ref=ref,
            rollback_to=to.value if to is not None else None,
            rollback_commit=to is not None and to.commit,
            origin=origin,
        )

    async def _rollback_target(self, command: PipelineCommand) -> RollbackTarget | None:
        if not isinstance(command, RollbackCommand):
            return None
        if command.to_version:
            return RollbackTarget(command.to_version)
        return await previous_version(
            self._ledger,
            self._runs.provider_for(command.model),
            self._options.target(command.model),
            command.environment,
        )

    async def decide(self, ticket_id: str, *, user: str, approving: bool) -> str:
        """Apply one Approve/Deny click; the answer for the clicker, or `NotAllowed` (audited)."""
        verb = "approve" if approving else "deny"
        seen: Ticket | None = None
        decision: Decision | None = None

        def decide(ticket: Ticket) -> Ticket | None:
            nonlocal seen, decision
            seen, r = ticket, ticket.request
            rule = self._options.policy.find(r.action, r.environment)  # None: nobody decides
            decision = (approve if approving else deny)(r, rule, user, self._now())
            if decision.outcome in (Outcome.DUPLICATE, Outcome.ALREADY_DECIDED):
                return None
            updated = replace(ticket, request=decision.request)
            now_approved = decision.outcome is Outcome.NOW_APPROVED
            return self._runs.claim(updated) if now_approved else updated

        try:
            updated = await self._tickets.change(ticket_id, decide)
        except NotAllowed as e:
            if seen is not None:  # always: only `decide` raises it
                await self._refused(seen, user, verb, e.message)
            raise
        if seen is None or decision is None:
            return "This request is no longer known (it may have been cleaned up)."
        if updated is None:
            self._count(seen.request, decision.outcome)
            return f"Nothing changed: {state_text(seen.request)}."
        return await self._decided(updated, decision, user)

    async def _refused(self, ticket: Ticket, user: str, verb: str, why: str) -> None:
        r = ticket.request
        self._metrics.approvals.labels(action=r.action, decision="refused").inc()
        await self._auditor.record(
            actor=user,
            action=f"{r.action}.{verb}",
            model=r.model,
            outcome="refused",
            detail=why,
            ticket=r.id,
        )

    async def _decided(self, ticket: Ticket, decision: Decision, user: str) -> str:
        r = ticket.request
        self._count(r, decision.outcome)
        # A click after the deadline only notices the expiry: the service expired it, not them.
        actor = SERVICE_ACTOR if decision.outcome is Outcome.EXPIRED else user
        await self._auditor.record(
            actor=actor,
            action=f"{r.action}.{_AUDIT_VERBS.get(decision.outcome, 'decide')}",
            model=r.model,
            outcome=decision.outcome.value,
            detail=_detail(ticket),
            ticket=r.id,
            **_variables(ticket),
        )
        match decision.outcome:
            case Outcome.NOW_APPROVED:
                return started_answer(await self._start(ticket))
            case Outcome.RECORDED:
                return f"Approval recorded: {state_text(r)}."
            case Outcome.EXPIRED:
                return "This request has expired; ask again with a new command."
            case Outcome.CANCELLED:
                return "You cancelled your request."
            case _:
                return "Denied; the request is closed."

    def _count(self, request: ApprovalRequest, outcome: Outcome) -> None:
        self._metrics.approvals.labels(action=request.action, decision=outcome.value).inc()

    async def expire_due(self, ticket: Ticket) -> bool:
        """Sweeper step: mark a pending ticket past its deadline expired (and say so in Slack)."""
        now = self._now()
        if ticket.request.state is not ApprovalState.PENDING or not is_expired(ticket.request, now):
            return False

        def expired(t: Ticket) -> Ticket | None:
            if t.request.state is not ApprovalState.PENDING or not is_expired(t.request, now):
                return None
            return replace(t, request=expire(t.request, now))

        saved = await self._tickets.change(ticket.id, expired)
        if saved is None:
            return False
        r = saved.request
        self._count(r, Outcome.EXPIRED)
        await self._auditor.record(
            actor=SERVICE_ACTOR,
            action=f"{r.action}.expire",
            model=r.model,
            outcome="expired",
            detail=_detail(saved),
            ticket=r.id,
            **_variables(saved),
        )
        return True


def started_answer(ticket: Ticket) -> str:
    """The requester's line once a start was attempted."""
    r = ticket.request
    if r.action == "promote":
        if r.state is ApprovalState.STARTED:
            return f"Promoted {r.model} v{r.version} to champion; see the card's thread."
        return f"Could not promote {r.model} v{r.version}: {ticket.error}"
    if ticket.run is None:
        return f"Could not start {describe(r.action, r.environment)} of {r.model}: {ticket.error}"
    started = link(ticket.run.url, run_label(ticket.run))
    return f"Started {r.action} of {r.model}{_to(ticket)}: {started} (following it in {r.channel})."


def _to(ticket: Ticket) -> str:
    """` to v10` (or ` to commit abc1234 (no model version recorded)`) for a rollback."""
    return f" to {ticket.rollback_label}" if ticket.rollback_to else ""


def _detail(ticket: Ticket) -> str:
    r = ticket.request
    parts = [describe(r.action, r.environment)]
    if r.version:
        parts.append(f"version {r.version}")
    if ticket.rollback_to:
        parts.append(f"to {ticket.rollback_label}")
    if ticket.ref:
        parts.append(f"ref {ticket.ref}")
    return " ".join(parts)


def _variables(ticket: Ticket) -> dict[str, str]:
    """The audit extra for the request's pipeline variables: kept apart from the detail so
    `/chatops audit` can show their values to approvers only."""
    variables = ticket.request.variables
    return {"variables": json.dumps(dict(sorted(variables.items())))} if variables else {}
