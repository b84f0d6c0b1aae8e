"""Clicks on the gateway's messages: Ack, Silence, Dismiss, and Retrain/Rollback requests.

Every click is recorded on the message it came from (through `MessageActions`), so the channel
sees who did what. Retrain and Rollback go through the same policy and approvals as the slash
commands. A Rollback button acts on exactly the environment its value carries (`e`, the one its
confirm dialog named); when it carries none it asks for `/rollback <model> <environment>` instead
of guessing.

Double clicks and Slack retries must not act twice, whichever replica gets them: a state key per
(message, action) is claimed with compare-and-set, holding the open request or the live silence.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import structlog

from bot.alerts.silences import SilenceTarget
from bot.approvals.machine import ApprovalState, state_text
from bot.approvals.tickets import Ticket
from bot.approvals.workflow import Requests
from bot.audit.trail import Auditor
from bot.buttons import CLAIM_GRACE, MessageActions, claim_key
from bot.commands import RetrainCommand, RollbackCommand
from bot.errors import BotError, SilenceError, StartFailed
from bot.options import BotOptions
from slackio.buttons import ACK, DISMISS, GRAFANA, RETRAIN, SILENCE, ButtonValue
from storage import Store, Versioned, cas
from storage.cas import Write

log = structlog.get_logger("bot.alerts.buttons")

REPEAT_TTL = 3600.0
_VERBS = {ACK: "Acknowledged", DISMISS: "Dismissed"}


class AlertButtons:
    """Handles clicks on gateway messages; each method returns the clicker's answer."""

    def __init__(
        self,
        *,
        store: Store,
        requests: Requests,
        options: BotOptions,
        auditor: Auditor,
        actions: MessageActions | None,
        alertmanager: SilenceTarget | None,
        grafana: SilenceTarget | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._requests = requests
        self._options = options
        self._auditor = auditor
        self._actions = actions
        self._alertmanager = alertmanager
        self._grafana = grafana
        self._clock = clock

    async def click(self, button: ButtonValue, *, user: str, click_id: str) -> str:
        """Apply one click (`click_id` names it across Slack's re-deliveries)."""
        if button.action_id in (ACK, DISMISS):
            return await self._note(button, user)
        if button.action_id == SILENCE:
            return await self._silence(button, user)
        return await self._request(button, user, click_id)

    async def _record(
        self, button: ButtonValue, user: str, detail: str = "", link: str = ""
    ) -> bool:
        if self._actions is None:
            log.warning("message_actions_missing", action=button.action_id, key=button.key)
            return False
        return await self._actions.record(
            message_key=button.key, actor=user, action=button.action_id, detail=detail, link=link
        )

    async def _note(self, button: ButtonValue, user: str) -> str:
        repeat = f"click:{button.action_id}:{button.key}:{user}"
        now = self._clock()
        if await self._store.seen([repeat], now=now):
            return "Already recorded."
        await self._store.mark_seen([repeat], ttl=REPEAT_TTL, now=now)
        if not await self._record(button, user):
            return "That message is no longer known to the bot."
        await self._audit(button, user, "recorded")
        return f"{_VERBS[button.action_id]}; the message now says so."

    def _silence_target(self, button: ButtonValue) -> SilenceTarget:
        """Where the button's silence goes: Grafana for an alert Grafana sent, else Alertmanager."""
        if button.source == GRAFANA:
            if self._grafana is None:
                raise SilenceError(
                    "silencing a Grafana alert needs GRAFANA_URL and GRAFANA_TOKEN, "
                    "which are not set for this bot"
                )
            return self._grafana
        if self._alertmanager is None:
            raise SilenceError("silencing needs ALERTMANAGER_URL, which is not set for this bot")
        return self._alertmanager

    async def _silence(self, button: ButtonValue, user: str) -> str:
        target = self._silence_target(button)
        duration = button.silence_for
        assert duration is not None
        now = self._clock()
        key = claim_key(button.key, SILENCE)

        async def live(held: dict[str, Any]) -> str | None:
            if float(held.get("until", 0.0)) > self._clock():
                return f"Already silenced by <@{held.get('by')}>: {held.get('url', '')}".strip()
            return None

        until = now + duration.total_seconds()
        refused = await self._claim(key, live, {"until": until, "by": user})
        if refused is not None:
            return refused
        try:
            silence = await target.create_silence(
                matchers=button.labels,
                duration=duration,
                created_by=user,
                comment=f"Silenced from Slack by {user} (chatops, message {button.key})",
                now=datetime.fromtimestamp(now, UTC),
            )
        except SilenceError as e:
            await self._put(key, {"until": 0.0, "by": user})
            await self._audit(button, user, "failed", e.message)
            raise
        await self._put(key, {"until": until, "by": user, "url": silence.url})
        detail = f"for {_span(duration.total_seconds())}"
        if button.truncated:
            detail += " (matching only alertname/model: it may silence more than this group)"
        await self._record(button, user, detail, silence.url)
        await self._audit(button, user, "silenced", f"{silence.id} {detail}")
        return f"Silenced {detail}: {silence.url}"

    async def _request(self, button: ButtonValue, user: str, click_id: str) -> str:
        command = self._command(button)
        self._requests.check(command, user)  # refusals come before anything is claimed

        async def still_open(held: dict[str, Any]) -> str | None:
            ticket = await self._requests.ticket(str(held.get("ticket", "")))
            if ticket is None:
                in_flight = float(held.get("at", 0.0)) > self._clock() - CLAIM_GRACE
                return "Someone just requested this; see the channel." if in_flight else None
            if not ticket.is_open:
                return None
            r = ticket.request
            return f"Already requested by <@{r.requester}>: {state_text(r)}."

        key = claim_key(button.key, button.action_id)
        claim = {"ticket": click_id, "by": user, "at": self._clock()}
        refused = await self._claim(key, still_open, claim)
        if refused is not None:
            return refused
        try:
            submitted = await self._requests.submit(
                command, ticket_id=click_id, user=user, origin=button.key
            )
        except StartFailed as e:
            await self._record(button, user, f"could not start: {e.reason}")
            raise
        except BotError:
            await self._put(key, {"ticket": "", "by": user, "at": 0.0})  # nothing was created
            raise
        if submitted.already_received:
            return submitted.answer
        await self._record(button, user, *_outcome(submitted.ticket))
        return submitted.answer

    async def _claim(
        self,
        key: str,
        busy: Callable[[dict[str, Any]], Awaitable[str | None]],
        value: dict[str, Any],
    ) -> str | None:
        """Hold `key` with `value` unless its holder is `busy` (then that answer is returned)."""
        refused: str | None = None

        async def hold(stored: Versioned | None) -> Write | None:
            nonlocal refused
            refused = await busy(_load(stored.data)) if stored is not None else None
            return Write(json.dumps(value)) if refused is None else None

        try:
            await cas.update(self._store, key, hold, now=self._clock())
        except cas.Contention:
            return "Someone else just did this; see the message."
        return refused

    async def _put(self, key: str, value: dict[str, Any]) -> None:
        await cas.update(self._store, key, lambda _: Write(json.dumps(value)), now=self._clock())

    async def _audit(self, button: ButtonValue, user: str, outcome: str, detail: str = "") -> None:
        await self._auditor.record(
            actor=user,
            action=button.action_id.removeprefix("chatops."),
            model=button.model or "",
            outcome=outcome,
            detail=detail,
            message=button.key,
        )

    def _command(self, button: ButtonValue) -> RetrainCommand | RollbackCommand:
        assert button.model is not None
        if button.action_id == RETRAIN:
            return RetrainCommand(button.model)
        model = self._options.model(button.model)
        self._options.target(model.name)  # no pipeline: say that first
        if button.environment is None:
            raise BotError(
                f"this Rollback button does not say which environment of {model.name} to roll "
                f"back; use `/rollback {model.name} &lt;environment&gt;`"
            )
        return RollbackCommand(model.name, button.environment)


def _outcome(ticket: Ticket) -> tuple[str, str]:
    """What the gateway message records for a Retrain/Rollback click: detail and link."""
    r = ticket.request
    if r.state is ApprovalState.PENDING:
        return f"approval requested ({r.approvals_needed} needed)", ""
    if ticket.run is not None:
        return f"pipeline {ticket.run.id} started", ticket.run.url
    return f"could not start: {ticket.error or 'unknown error'}", ""


def _load(data: str) -> dict[str, Any]:
    try:
        raw = json.loads(data)
    except ValueError:
        return {}
    return raw if isinstance(raw, dict) else {}


def _span(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes} min"
