"""Requests: a command (or button) becomes a ticket, which starts at once or awaits approval.

`submit` checks the model, environment, provider and policy before anything is stored, so a
refused or impossible request changes nothing. A request that needs approval is stored pending
with its Approve/Deny message; one that does not starts at once. The same request received again
(a re-delivery: its ticket id exists) changes nothing and says so (`Submitted.already_received`).
Clicks on the message are `bot.approvals.decisions`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.approvals.answers import (
    ALREADY_RECEIVED,
    audit_detail,
    audit_variables,
    requested_answer,
    started_answer,
)
from bot.approvals.deps import ApprovalDeps
from bot.approvals.machine import ApprovalRequest, ApprovalState
from bot.approvals.render import check_shown
from bot.approvals.runs import Runs
from bot.approvals.tickets import Ticket
from bot.ci.provider import check_ref, check_variables
from bot.commands import DeployCommand, PipelineCommand, RetrainCommand, RollbackCommand
from bot.deployments.rollback import RollbackTarget, previous_version
from bot.errors import StartFailed
from bot.policy import Rule, check_request


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
    """Creates tickets and starts them (directly, or once `Decisions` approved them)."""

    def __init__(self, deps: ApprovalDeps, *, runs: Runs) -> None:
        self._deps = deps
        self._runs = runs
        self.starters: dict[str, Callable[[Ticket], Awaitable[Ticket]]] = {}

    async def ticket(self, ticket_id: str) -> Ticket | None:
        """The stored ticket, if any."""
        loaded = await self._deps.tickets.load(ticket_id) if ticket_id else None
        return loaded.ticket if loaded is not None else None

    def check(self, command: PipelineCommand, user: str) -> Rule:
        """Everything that can be refused without the network; the rule that applies."""
        options = self._deps.options
        target = options.target(command.model)
        if command.environment is not None:
            options.environment(command.model, command.environment)
        check_variables(target, command.variables)
        check_ref(target, command.ref if isinstance(command, RetrainCommand) else None)
        self._runs.provider_for(command.model)
        rule = options.policy.rule_for(command.action, command.environment)
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
        if not await self._deps.tickets.create(ticket):
            return Submitted(ticket, ALREADY_RECEIVED, already_received=True)
        await self._deps.auditor.record(
            actor=user,
            action=f"{command.action}.request",
            model=command.model,
            outcome="pending" if pending else "accepted",
            detail=audit_detail(ticket),
            ticket=ticket.id,
            **audit_variables(ticket),
        )
        if pending:
            return Submitted(ticket, requested_answer(ticket, rule))
        started = await self.start(ticket)
        return Submitted(started, started_answer(started))

    async def start(self, ticket: Ticket) -> Ticket:
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
        # the ref approvers see is the ref that runs, even if the model's config changes meanwhile
        ref = command.ref if isinstance(command, RetrainCommand) else None
        ref = ref or self._deps.options.target(command.model).ref
        request = self._request(command, rule, ticket_id=ticket_id, user=user)
        to = await self._rollback_target(command)
        return Ticket(
            request=request,
            ref=ref,
            rollback_to=to.value if to is not None else None,
            rollback_commit=to is not None and to.commit,
            origin=origin,
        )

    def _request(
        self, command: PipelineCommand, rule: Rule, *, ticket_id: str, user: str
    ) -> ApprovalRequest:
        """Pending for the rule's approvers; or, needing none, approved by nobody at once, so
        one state machine covers both."""
        now = datetime.fromtimestamp(self._deps.clock(), UTC)
        pending = rule.needs_approval
        ttl = timedelta(seconds=self._deps.options.expire_after)
        return ApprovalRequest(
            id=ticket_id,
            action=command.action,
            model=command.model,
            environment=command.environment,
            version=command.version if isinstance(command, DeployCommand) else None,
            variables=command.variables,
            requester=user,
            created_at=now,
            expires_at=now + ttl if pending else now,
            approvals_needed=rule.approvals,
            state=ApprovalState.PENDING if pending else ApprovalState.APPROVED,
            channel=self._deps.options.channel_for(command.model),
        )

    async def _rollback_target(self, command: PipelineCommand) -> RollbackTarget | None:
        if not isinstance(command, RollbackCommand):
            return None
        if command.to_version:
            return RollbackTarget(command.to_version)
        return await previous_version(
            self._deps.ledger,
            self._runs.provider_for(command.model),
            self._deps.options.target(command.model),
            command.environment,
        )
