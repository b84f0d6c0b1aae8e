"""Promote to champion: the Promote button on a promotion card, with four eyes.

A click asks for the policy's `promote` rule (`policy.promote."*"`: promote has no environment)
and becomes a ticket in the same approval machinery as `/deploy` (`bot.requests`: requester is
never an approver, N distinct approvers, expiry, clicks applied once with compare-and-set across
replicas). Once approved, `start` points the model's champion alias at the version in the
registry (`registry.ModelRegistry.set_alias`), updates the card through `PromotionCards` (so the
registry's own webhook for that alias move then changes nothing), and asks for a deploy of the
version to each `deploy_on_promote` environment, each through the policy like `/deploy`.

When the registry is unreachable or refuses, the ticket is saved as failed with the registry's
answer, the card's thread says so and nothing is shown as promoted; within the approval's
lifetime a click on Promote again retries the approved request without asking for approval again.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import structlog

from bot.alert_buttons import CAS_ATTEMPTS, CLAIM_GRACE, claim_key
from bot.approvals import (
    ApprovalRequest,
    ApprovalState,
    mark_failed,
    mark_started,
    new_request,
    reopen_failed,
    state_text,
)
from bot.audit import Auditor
from bot.buttons import PROMOTE, GatewayButton, MessageActions
from bot.commands import DeployCommand
from bot.errors import BotError
from bot.options import BotOptions
from bot.policy import Rule, check_request, mentions
from bot.requests import Duplicate, Requests, StartFailed, started_answer
from bot.runs import Runs
from bot.ticket_store import TicketStore
from bot.tickets import Ticket
from registry import ModelRegistry, RegistryError
from slackio.blocks import clip, date_token, escape
from storage import Store

log = structlog.get_logger("bot.promote")

_VERSION = re.compile(r"^[0-9]{1,20}$")  # MLflow numbers a model's versions 1, 2, 3...


@dataclass(frozen=True)
class PromoteTarget:
    """A configured model's place in the registry (`models.<m>.registry`)."""

    model: str
    registered_name: str
    alias: str = "champion"
    deploy_on_promote: tuple[str, ...] = ()


class PromotionCards(Protocol):
    """The promotion cards, as the bot changes them (the composition root implements this)."""

    async def promoted(
        self, *, name: str, version: str, requested_by: str, approved_by: tuple[str, ...]
    ) -> bool:
        """The alias now points at `version`: record the champion and update the cards."""
        ...

    async def note(self, *, name: str, version: str, text: str) -> bool:
        """Post `text` (mrkdwn) in the card's thread."""
        ...


class Promotions:
    """Promote clicks, and the starter that sets the alias once a request is approved."""

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
        self._auditor = auditor
        self._targets = targets
        self._registry = registry
        self._cards = cards
        self._actions = actions
        self._clock = clock
        requests.starters["promote"] = self.start

    # --- the click -----------------------------------------------------------------------------

    async def click(self, button: GatewayButton, *, user: str, click_id: str) -> str:
        """A click on Promote: a new request, a retry of a failed approved one, or why not."""
        target, version = self._card(button)
        if self._registry is None:
            raise BotError("MLFLOW_TRACKING_URI is not set, so the bot cannot reach the registry")
        rule = self._options.policy.rule_for("promote", None)
        check_request(rule, user, action="promote", environment=None)
        key = claim_key(button.key, PROMOTE)
        for _ in range(CAS_ATTEMPTS):
            stored = await self._store.get_state(key)
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
                return await self._retry(ticket, user)
            claim = {"ticket": click_id, "by": user, "at": self._clock()}
            if await self._store.save(
                key=key,
                data=json.dumps(claim),
                expected_version=stored.version if stored is not None else 0,
                now=self._clock(),
            ):
                return await self._submit(target, version, rule, button, user, click_id)
        return "Someone else just did this; see the card."

    def _card(self, button: GatewayButton) -> tuple[PromoteTarget, str]:
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
        button: GatewayButton,
        user: str,
        ticket_id: str,
    ) -> str:
        ticket = Ticket(request=self._request(target, version, rule, user, ticket_id))
        ticket = replace(ticket, origin=button.key)
        pending = ticket.request.state is ApprovalState.PENDING
        if not pending:
            ticket = self._runs.claim(ticket)
        await self._tickets.add_open(ticket.id)
        if not await self._tickets.save(ticket, version=0):
            raise Duplicate("this request was already received")
        await self._audit(ticket, user, "promote.request", "pending" if pending else "accepted")
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
        now = datetime.fromtimestamp(self._clock(), UTC)
        channel = self._options.channel_for(target.model)
        if rule.needs_approval:
            return new_request(
                id=ticket_id,
                action="promote",
                model=target.model,
                environment=None,
                version=version,
                variables={},
                requester=user,
                rule=rule,
                now=now,
                ttl=timedelta(seconds=self._options.expire_after),
                channel=channel,
            )
        return ApprovalRequest(  # runs at once, as an approved request (see `bot.requests`)
            id=ticket_id,
            action="promote",
            model=target.model,
            environment=None,
            version=version,
            variables={},
            requester=user,
            created_at=now,
            expires_at=now,
            approvals_needed=0,
            state=ApprovalState.APPROVED,
            channel=channel,
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
        await self._audit(reopened, user, "promote.retry", "accepted")
        return started_answer(await self._started(reopened))

    async def _started(self, ticket: Ticket) -> Ticket:
        started = await self.start(ticket)
        if started.request.state is not ApprovalState.STARTED:
            raise StartFailed(started)
        return started

    # --- once approved -------------------------------------------------------------------------

    async def start(self, ticket: Ticket) -> Ticket:
        """Set the alias, then update the card and ask for the deploys; the saved ticket."""
        r = ticket.request
        target = self._targets.get(r.model)
        try:
            if target is None or r.version is None:
                raise RegistryError(f"model {r.model} has no registry section in the config")
            if self._registry is None:
                raise RegistryError("MLFLOW_TRACKING_URI is not set, so the registry is unknown")
            with self._runs.starting(ticket.id):
                await self._registry.set_alias(
                    name=target.registered_name, alias=target.alias, version=r.version
                )
        except RegistryError as e:
            return await self._failed(ticket, target, str(e))

        def done(t: Ticket) -> Ticket | None:
            if t.request.state is not ApprovalState.APPROVED:
                return None
            return replace(t, request=mark_started(t.request), error=None, follower=None)

        saved = await self._tickets.change(ticket.id, done)
        saved = saved or replace(ticket, request=mark_started(r))
        await self._audit(saved, r.requester, "promote.alias", "set")
        log.info("champion_alias_set", model=r.model, version=r.version, ticket=r.id)
        if self._cards is not None:
            await self._cards.promoted(
                name=target.registered_name,
                version=r.version,
                requested_by=r.requester,
                approved_by=r.approved_by,
            )
        await self._deploy(saved, target)
        return saved

    async def _failed(self, ticket: Ticket, target: PromoteTarget | None, error: str) -> Ticket:
        def failed(t: Ticket) -> Ticket | None:
            if t.request.state is not ApprovalState.APPROVED:
                return None
            return replace(t, request=mark_failed(t.request), error=error, follower=None)

        r = ticket.request
        saved = await self._tickets.change(ticket.id, failed)
        saved = saved or replace(ticket, request=mark_failed(r), error=error)
        await self._audit(saved, r.requester, "promote.alias", "failed", error)
        log.warning("champion_alias_failed", model=r.model, version=r.version, error=error)
        if self._cards is not None and target is not None and r.version is not None:
            again = "click *Promote to champion* again to retry"
            if r.approvals_needed:
                again += f" (the approval holds until {date_token(r.expires_at)})"
            await self._cards.note(
                name=target.registered_name,
                version=r.version,
                text=f"⚠️ Promotion of v{escape(r.version)} to {escape(target.alias)} failed: "
                f"{escape(error)}. The card is unchanged; {again}.",
            )
        return saved

    async def _deploy(self, ticket: Ticket, target: PromoteTarget) -> None:
        """A deploy of the promoted version to each `deploy_on_promote` environment."""
        r = ticket.request
        lines = []
        for environment in target.deploy_on_promote:
            command = DeployCommand(r.model, environment, version=r.version)
            try:
                submitted = await self._requests.submit(
                    command,
                    ticket_id=_deploy_id(ticket.id, environment),
                    user=r.requester,
                    origin=ticket.origin,
                )
            except Duplicate:
                continue  # asked for already (a retried promotion)
            except BotError as e:
                lines.append(f"Deploy to {escape(environment)} not started: {e.message}")
                continue
            lines.append(f"Deploy to {escape(environment)}: {submitted.answer}")
        if lines and self._cards is not None and r.version is not None:
            await self._cards.note(
                name=target.registered_name, version=r.version, text="\n".join(lines)
            )

    # --- records -------------------------------------------------------------------------------

    async def _record(self, button: GatewayButton, user: str, detail: str) -> None:
        if self._actions is not None:
            await self._actions.record(
                message_key=button.key, actor=user, action=PROMOTE, detail=detail
            )

    async def _audit(
        self, ticket: Ticket, actor: str, action: str, outcome: str, detail: str = ""
    ) -> None:
        r = ticket.request
        await self._auditor.record(
            actor=actor,
            action=action,
            model=r.model,
            outcome=outcome,
            detail=detail or f"promote version {r.version}",
            ticket=r.id,
        )


def _deploy_id(ticket_id: str, environment: str) -> str:
    """The deploy ticket's id: the same for a retried promotion, so it is asked for once."""
    digest = hashlib.sha256(json.dumps([ticket_id, environment]).encode()).hexdigest()[:32]
    return f"promo-{digest}"


def _load(data: str) -> dict[str, Any]:
    try:
        raw = json.loads(data)
    except ValueError:
        return {}
    return raw if isinstance(raw, dict) else {}
