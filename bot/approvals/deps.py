"""What the approvals use cases share: tickets, the config slice, audit, metrics, the ledger."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.approvals.store import TicketStore
from bot.approvals.tickets import Ticket
from bot.audit.trail import Auditor
from bot.deployments.ledger import Ledger
from bot.options import BotOptions
from slackio.metrics import Metrics


@dataclass(frozen=True)
class ApprovalDeps:
    """Built once by the service; handed to `Requests`, `Decisions`, `Runs` and `Followers`."""

    tickets: TicketStore
    options: BotOptions
    auditor: Auditor
    metrics: Metrics
    ledger: Ledger
    clock: Callable[[], float] = time.time

    @property
    def lease_until(self) -> float:
        """When a lease taken now runs out."""
        return self.clock() + self.options.tuning.lease_seconds

    async def pipeline_event(
        self, ticket: Ticket, *, provider: str, step: str, outcome: str, detail: str, counted: str
    ) -> None:
        """A pipeline started, did not start, or finished: `counted` in the metrics, audited."""
        r = ticket.request
        self.metrics.pipelines.labels(provider=provider, action=r.action, outcome=counted).inc()
        await self.auditor.record(
            actor=r.requester,
            action=f"pipeline.{step}",
            model=r.model,
            outcome=outcome,
            detail=detail,
            ticket=ticket.id,
        )
