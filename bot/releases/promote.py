"""Promote to champion: the Promote button on a promotion card, with four eyes.

A click asks for the policy's `promote` rule (`policy.promote."*"`: promote has no environment)
and becomes a ticket in the same approval machinery as `/deploy` (`decisions`: requester is
never an approver, N distinct approvers, expiry, clicks applied once with compare-and-set across
replicas); `bot.releases.apply.Promoter` acts once it is approved. A claim per card (as for the
Retrain/Rollback buttons) makes two people clicking at once one request.

When the registry failed an approved promotion, a click on Promote again within the approval's
lifetime retries that request without asking for approval again.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.approvals.answers import started_answer
from bot.approvals.machine import (
    ApprovalRequest,
    ApprovalState,
    reopen_failed,
    requested,
    state_text,
)
from bot.approvals.runs import Runs
from bot.approvals.store import TicketStore
from bot.approvals.tickets import Ticket
from bot.approvals.workflow import Requests
from bot.audit.trail import Auditor
from bot.buttons import CLAIM_GRACE, MessageActions, claim_key
from bot.errors import BotError, StartFailed
from bot.options import BotOptions
from bot.policy import Rule, check_request, mentions
from bot.releases.apply import Promoter, PromoteTarget, PromotionCards
from registry import ModelRegistry
from slackio.blocks import clip, escape
from slackio.buttons import PROMOTE, ButtonValue
from storage import Store, Versioned, cas
from storage.cas import Write

__all__ = ["PromoteTarget", "PromotionCards", "Promotions"]

_VERSION = re.compile(r"^[0-9]{1,20}$")  # MLflow numbers a model's versions 1, 2, 3...


class Promotions:
    """Promote clicks: a new request, a retry of a failed approved one, or why not."""

    def __init__(
        self,
        *,
        store: Store,
        requests: Requests,
        tickets: TicketStore,
        runs: Runs,
        options: BotOptions,
        auditor: Auditor,
        targets: Mapping[str, PromoteTarget],
        registry: ModelRegistry | None,
        cards: PromotionCards | None,
        actions: MessageActions | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._requests = requests
        self._tickets = tickets
        self._runs = runs
        self._options = options
        self._targets = targets
        self._registry = registry
        self._actions = actions
        self._clock = clock
        self.promoter = Promoter(
            requests=requests,
            tickets=tickets,
            runs=runs,
            auditor=auditor,
            targets=targets,
            registry=registry,
            cards=cards,
        )

    async def click(self, button: ButtonValue, *, user: str, click_id: str) -> str | None:
        """A click on Promote: a new request, a retry of a failed approved one, or why not.

        None when the request was already received (a re-delivery): nothing to answer.
        """
        target, version = self._card(button)
        if self._registry is None:
            raise BotError("MLFLOW_TRACKING_URI is not set, so the bot cannot reach the registry")
        rule = self._options.policy.rule_for("promote", None)
        check_request(rule, user, action="promote", environment=None)
        outcome: str | Ticket | None = None  # why not, or a failed approved ticket to retry

        async def claim(stored: Versioned | None) -> Write | None:
            nonlocal outcome
            outcome = await self._held(stored, version)
            if outcome is not None:
                return None
            return Write(json.dumps({"ticket": click_id, "by": user, "at": self._clock()}))

        try:
            written = await cas.update(
                self._store, claim_key(button.key, PROMOTE), claim, now=self._clock()
            )
        except cas.Contention:
            return "Someone else just did this; see the card."
        if written is not None:
            return await self._submit(target, version, rule, button, user, click_id)
        if isinstance(outcome, Ticket):
            return await self._retry(outcome, user)
        return outcome or ""

    async def _held(self, stored: Versioned | None, version: str) -> str | Ticket | None:
        """Why the card's claim is not free (an answer, or a ticket to retry), or None."""
        held = _load(stored.data) if stored is not None else {}
        ticket = await self._requests.ticket(str(held.get("ticket", ""))) if held else None
        if ticket is None and float(held.get("at", 0.0)) > self._clock() - CLAIM_GRACE:
            return "Someone just requested this; see the channel."
        if ticket is not None and ticket.is_open:
            r = ticket.request
            return f"Already requested by <@{r.requester}>: {state_text(r)}."
        if ticket is not None and ticket.request.state is ApprovalState.STARTED:
            r = ticket.request
            return f"v{version} was already promoted (requested by <@{r.requester}>)."
        if ticket is not None and self._retryable(ticket):
            return ticket
        return None

    def _card(self, button: ButtonValue) -> tuple[PromoteTarget, str]:
        kind, _, rest = button.key.partition(":")
        name, _, version = rest.rpartition(":")
        target = self._targets.get(button.model or "")
        if kind != "promotion" or target is None or target.registered_name != name:
            raise BotError(
                f"model {escape(clip(button.model or '?', 100))} has no registry section here "
                "(models.<model>.registry), so it cannot be promoted from Slack"
            )
        if not _VERSION.match(version):
            raise BotError("this card does not name a registry version")
        return target, version

    async def _submit(
        self,
        target: PromoteTarget,
        version: str,
        rule: Rule,
        button: ButtonValue,
        user: str,
        ticket_id: str,
    ) -> str | None:
        ticket = Ticket(request=self._request(target, version, rule, user, ticket_id))
        ticket = replace(ticket, origin=button.key)
        pending = ticket.request.state is ApprovalState.PENDING
        if not pending:
            ticket = self._runs.claim(ticket)
        if not await self._tickets.create(ticket):
            return None  # already received (a re-delivery)
        await self.promoter.audit(
            ticket, user, "promote.request", "pending" if pending else "accepted"
        )
        if pending:
            needed = rule.approvals
            await self._record(button, user, f"approval requested ({needed} needed)")
            approvers = mentions(rule.approvers) or "anyone but you"
            return (
                f"Approval requested in {ticket.request.channel}: promoting {target.model} "
                f"v{version} to {target.alias} needs {needed} approval(s) from {approvers}."
            )
        await self._record(button, user, "no approval needed")
        return started_answer(await self._started(ticket))

    def _request(
        self, target: PromoteTarget, version: str, rule: Rule, user: str, ticket_id: str
    ) -> ApprovalRequest:
        """Pending for approvers, or approved by nobody when the rule needs none (runs at once)."""
        return requested(
            id=ticket_id,
            action="promote",
            model=target.model,
            environment=None,
            version=version,
            variables={},
            requester=user,
            rule=rule,
            now=datetime.fromtimestamp(self._clock(), UTC),
            ttl=timedelta(seconds=self._options.expire_after),
            channel=self._options.channel_for(target.model),
        )

    def _retryable(self, ticket: Ticket) -> bool:
        """An approved promotion that failed may be tried again while its approval lasts."""
        r = ticket.request
        now = datetime.fromtimestamp(self._clock(), UTC)
        return r.state is ApprovalState.FAILED and r.approvals_needed > 0 and now < r.expires_at

    async def _retry(self, ticket: Ticket, user: str) -> str:
        def again(t: Ticket) -> Ticket | None:
            if t.request.state is not ApprovalState.FAILED:
                return None
            return self._runs.claim(replace(t, request=reopen_failed(t.request), error=None))

        reopened = await self._tickets.change(ticket.id, again)
        if reopened is None:
            return "Someone just retried this; see the card's thread."
        await self.promoter.audit(reopened, user, "promote.retry", "accepted")
        return started_answer(await self._started(reopened))

    async def _started(self, ticket: Ticket) -> Ticket:
        started = await self.promoter.start(ticket)
        if started.request.state is not ApprovalState.STARTED:
            raise StartFailed(started_answer(started), started.error or "unknown error")
        return started

    async def _record(self, button: ButtonValue, user: str, detail: str) -> None:
        if self._actions is not None:
            await self._actions.record(
                message_key=button.key, actor=user, action=PROMOTE, detail=detail
            )


def _load(data: str) -> dict[str, Any]:
    try:
        raw = json.loads(data)
    except ValueError:
        return {}
    return raw if isinstance(raw, dict) else {}
