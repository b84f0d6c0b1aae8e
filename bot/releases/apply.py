"""Once a promotion is approved: set the alias, update the card, ask for the deploys.

`Promoter.start` is the `promote` starter of `approvals.workflow.Requests` (where `/deploy` starts a
pipeline). It points the model's champion alias at the version through the `ModelRegistry`
Protocol, updates the card through `PromotionCards` (implemented by the composition root with
the gateway's registry events, so MLflow's own webhook for that move then changes nothing), and
asks for a deploy of the version to each `deploy_on_promote` environment, each through the
policy like `/deploy`. A registry that is unreachable or refuses leaves the ticket failed with
its answer and says so in the card's thread; nothing is shown as promoted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Protocol

import structlog

from bot.approvals.machine import ApprovalState, mark_failed, mark_started
from bot.approvals.runs import Runs
from bot.approvals.store import TicketStore
from bot.approvals.tickets import Ticket
from bot.approvals.workflow import Requests
from bot.audit.trail import Auditor
from bot.commands import DeployCommand
from bot.errors import BotError
from registry import ModelRegistry, RegistryError
from slackio.blocks import date_token, escape

log = structlog.get_logger("bot.releases.promote")


@dataclass(frozen=True)
class PromoteTarget:
    """A configured model's place in the registry (`models.<m>.registry`)."""

    model: str
    registered_name: str
    alias: str = "champion"
    deploy_on_promote: tuple[str, ...] = ()


class PromotionCards(Protocol):
    """The promotion cards, as the bot changes them (the composition root implements this)."""

    async def promoting(self, *, name: str, version: str) -> None:
        """The service is about to move the alias to `version`: MLflow's echo of that move
        (which may arrive before `promoted`) must change nothing."""
        ...

    async def promoted(
        self, *, name: str, version: str, requested_by: str, approved_by: tuple[str, ...]
    ) -> bool:
        """The alias now points at `version`: record the champion and update the cards."""
        ...

    async def note(self, *, name: str, version: str, text: str) -> bool:
        """Post `text` (mrkdwn) in the card's thread."""
        ...


class Promoter:
    """Sets the alias of approved promotions (see the module docstring)."""

    def __init__(
        self,
        *,
        requests: Requests,
        tickets: TicketStore,
        runs: Runs,
        auditor: Auditor,
        targets: Mapping[str, PromoteTarget],
        registry: ModelRegistry | None,
        cards: PromotionCards | None,
    ) -> None:
        self._requests = requests
        self._tickets = tickets
        self._runs = runs
        self._auditor = auditor
        self._targets = targets
        self._registry = registry
        self._cards = cards
        requests.starters["promote"] = self.start

    async def start(self, ticket: Ticket) -> Ticket:
        """Set the alias, then update the card and ask for the deploys; the saved ticket."""
        r = ticket.request
        target = self._targets.get(r.model)
        try:
            if target is None or r.version is None:
                raise RegistryError(f"model {r.model} has no registry section in the config")
            if self._registry is None:
                raise RegistryError("MLFLOW_TRACKING_URI is not set, so the registry is unknown")
            if self._cards is not None:
                await self._cards.promoting(name=target.registered_name, version=r.version)
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
        await self.audit(saved, r.requester, "promote.alias", "set")
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
        await self.audit(saved, r.requester, "promote.alias", "failed", error)
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
            except BotError as e:
                lines.append(f"Deploy to {escape(environment)} not started: {e.message}")
                continue
            if submitted.already_received:
                continue  # asked for already (a retried promotion)
            lines.append(f"Deploy to {escape(environment)}: {submitted.answer}")
        if lines and self._cards is not None and r.version is not None:
            await self._cards.note(
                name=target.registered_name, version=r.version, text="\n".join(lines)
            )

    async def audit(
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
