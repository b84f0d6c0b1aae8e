"""The bot's use cases behind one facade, fed by the Bolt listeners with plain values.

Listeners hand over a `CommandCall` or a `ButtonClick` (already acknowledged); the `Bot` runs the
work in its own task set and answers the user through `response_url`. It also owns the sweeper:
a periodic task that expires pending approvals and keeps or resumes the following of runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiohttp
import structlog

from bot.alerts.alertmanager import Alertmanager, SilenceTarget
from bot.alerts.buttons import AlertButtons
from bot.approvals.machine import click_key, idempotency_key
from bot.approvals.runs import Runs
from bot.approvals.store import TicketStore
from bot.approvals.tickets import Ticket
from bot.approvals.workflow import Requests
from bot.audit.trail import Auditor
from bot.audit.view import AuditView, Viewer
from bot.buttons import APPROVE, BOT_ACTIONS, MessageActions, parse_ticket_id
from bot.ci.provider import PipelineProvider
from bot.commands import (
    AuditCommand,
    DeployCommand,
    DriftStatusCommand,
    HelpCommand,
    ModelsCommand,
    parse_command,
)
from bot.deployments.ledger import Ledger
from bot.drift.prometheus import MetricsSource
from bot.drift.status import drift_rows, render_drift
from bot.errors import (
    BotError,
    NotAllowed,
    PipelineError,
    PrometheusError,
    SilenceError,
    UsageError,
)
from bot.options import BotOptions
from bot.releases.overview import DriftStates, ModelsView
from bot.releases.promote import PromoteTarget, PromotionCards, Promotions
from bot.releases.versions import resolve_deploy
from bot.replies import Responder, help_message, usage_message
from bot.tasks import TaskSet
from registry import ModelRegistry
from slackio.blocks import Rendered
from slackio.buttons import PROMOTE, BadButtonValue, parse_button_value
from slackio.metrics import Metrics
from storage import Store, StoreError

log = structlog.get_logger("bot")

RETRY_TTL = 3600.0  # how long a command or click id is remembered against Slack's re-deliveries


@dataclass(frozen=True)
class Refusal:
    """One Slack request refused before dispatch."""

    reason: str
    kind: str
    team: str
    user: str


@dataclass(frozen=True)
class CommandCall:
    """One slash command as Slack sent it (the fields the bot uses)."""

    team: str
    user: str
    channel: str
    command: str
    text: str
    trigger_id: str
    response_url: str | None = None
    channel_name: str = ""  # what `/chatops audit` compares with a configured "#name"

    @property
    def key(self) -> str:
        return idempotency_key(self.team, self.user, self.command, self.text, self.trigger_id)


@dataclass(frozen=True)
class ButtonClick:
    """One button click as Slack sent it (the fields the bot uses)."""

    team: str
    user: str
    action_id: str
    value: str
    action_ts: str
    response_url: str | None = None

    @property
    def key(self) -> str:
        return click_key(self.team, self.user, self.action_id, self.value, self.action_ts)


@dataclass
class BotDeps:
    """What the composition root gives the bot: store, config slice, clients."""

    store: Store
    options: BotOptions
    metrics: Metrics
    session: aiohttp.ClientSession
    wake_sender: Callable[[], None]
    providers: Mapping[str, PipelineProvider] = field(default_factory=dict)
    prometheus: MetricsSource | None = None
    prometheus_url: str | None = None
    alertmanager: Alertmanager | None = None
    grafana: SilenceTarget | None = None  # silences for alerts Grafana sent
    message_actions: MessageActions | None = None
    registry: ModelRegistry | None = None
    promotion_cards: PromotionCards | None = None
    promote_targets: Mapping[str, PromoteTarget] = field(default_factory=dict)
    drift_states: DriftStates | None = None
    clock: Callable[[], float] = time.time


class Bot:
    """Commands, clicks and the sweeper."""

    def __init__(self, deps: BotDeps) -> None:
        self._deps = deps
        self._store = deps.store
        self._metrics = deps.metrics
        self._options = deps.options
        self._tasks = TaskSet("bot", on_error=self._task_failed)
        self._stop = asyncio.Event()
        self.responder = Responder(deps.session, timeout=deps.options.tuning.http_timeout)
        self.auditor = Auditor(deps.store, clock=deps.clock)
        self.audit = AuditView(self.auditor, deps.options)
        self.tickets = TicketStore(
            deps.store, deps.options, wake_sender=deps.wake_sender, clock=deps.clock
        )
        self.ledger = Ledger(deps.store)
        self.runs = Runs(
            ledger=self.ledger,
            tickets=self.tickets,
            options=deps.options,
            providers=deps.providers,
            auditor=self.auditor,
            metrics=deps.metrics,
            clock=deps.clock,
        )
        self.requests = Requests(
            ledger=self.ledger,
            tickets=self.tickets,
            runs=self.runs,
            options=deps.options,
            auditor=self.auditor,
            metrics=deps.metrics,
            clock=deps.clock,
        )
        self.buttons = AlertButtons(
            store=deps.store,
            requests=self.requests,
            options=deps.options,
            auditor=self.auditor,
            actions=deps.message_actions,
            alertmanager=deps.alertmanager,
            grafana=deps.grafana,
            clock=deps.clock,
        )
        self.promotions = Promotions(
            store=deps.store,
            requests=self.requests,
            tickets=self.tickets,
            runs=self.runs,
            options=deps.options,
            auditor=self.auditor,
            targets=deps.promote_targets,
            registry=deps.registry,
            cards=deps.promotion_cards,
            actions=deps.message_actions,
            clock=deps.clock,
        )
        self.models = ModelsView(
            options=deps.options,
            ledger=self.ledger,
            provider_for=self.runs.provider_for,
            targets=deps.promote_targets,
            registry=deps.registry,
            drift=deps.drift_states,
        )

    # --- entry points for the listeners (already acknowledged) ---------------------------------

    def dispatch_command(self, call: CommandCall) -> None:
        """Handle the command in an owned background task."""
        self._tasks.spawn(self.handle_command(call), name=f"command:{call.key}")

    def dispatch_click(self, click: ButtonClick) -> None:
        """Handle the click in an owned background task."""
        self._tasks.spawn(self.handle_click(click), name=f"click:{click.key}")

    def record_refusal(self, refusal: Refusal) -> None:
        """A Slack request refused before dispatch: counted, and audited in an owned task."""
        self._metrics.slack_refused.labels(reason=refusal.reason).inc()
        entry = self.auditor.record(
            actor=refusal.user or "unknown",
            action=f"slack.{refusal.kind}",
            model="",
            outcome="refused",
            detail=f"{refusal.reason}: workspace {refusal.team}",
        )
        self._tasks.spawn(entry, name=f"refusal:{refusal.team}:{refusal.user}")

    async def handle_command(self, call: CommandCall) -> None:
        """Run one command once (Slack re-deliveries are dropped) and answer the user."""
        structlog.contextvars.bind_contextvars(command=call.command, user=call.user)
        answer, outcome = await self._answer(
            call.response_url, call.key, lambda: self._command(call)
        )
        self._metrics.commands.labels(command=call.command, outcome=outcome).inc()
        log.info("command_handled", command=call.command, user=call.user, outcome=outcome)
        if answer is not None:
            await self.responder.ephemeral(call.response_url, answer)

    async def handle_click(self, click: ButtonClick) -> None:
        """Apply one click once and answer the clicker."""
        name = f"button:{click.action_id.removeprefix('chatops.')}"
        answer, outcome = await self._answer(
            click.response_url, click.key, lambda: self._click(click)
        )
        self._metrics.commands.labels(command=name, outcome=outcome).inc()
        log.info("button_handled", action=click.action_id, user=click.user, outcome=outcome)
        if answer is not None:
            await self.responder.ephemeral(click.response_url, answer)

    async def _once(self, key: str) -> bool:
        """True the first time this command or click id comes; False for a Slack re-delivery."""
        now = self._deps.clock()
        if await self._store.seen([key], now=now):
            return False
        await self._store.mark_seen([key], ttl=RETRY_TTL, now=now)
        return True

    async def _answer(
        self,
        response_url: str | None,
        key: str,
        work: Callable[[], Awaitable[Rendered | str | None]],
    ) -> tuple[Rendered | str | None, str]:
        """Run the use case once; user-facing errors become answers, with the metric outcome.

        A re-delivery, or a use case answering None (its request was already received), gets no
        answer and the outcome "duplicate".
        """
        try:
            answer = await work() if await self._once(key) else None
        except UsageError as e:
            return usage_message(e.message, e.usage), "usage"
        except NotAllowed as e:
            return f"🚫 {e.message}", "refused"
        except (PipelineError, PrometheusError, SilenceError) as e:
            return f"⚠️ {e.message}", "failed"
        except BotError as e:
            return f"⚠️ {e.message}", "invalid"
        except StoreError as e:
            log.error("bot_store_failed", error=str(e))
            await self.responder.ephemeral(
                response_url, "⚠️ The bot's store is unavailable; try again."
            )
            raise
        except Exception:
            await self.responder.ephemeral(response_url, "⚠️ Something went wrong; it was logged.")
            raise
        return answer, "ok" if answer is not None else "duplicate"

    async def _command(self, call: CommandCall) -> Rendered | str | None:
        command = parse_command(call.command, call.text)
        match command:
            case HelpCommand(topic=topic):
                return help_message(topic)
            case AuditCommand(model=model):
                viewer = Viewer(call.user, call.channel, call.channel_name)
                return await self.audit.show(viewer, model)
            case DriftStatusCommand(model=model):
                return await self.drift_status(model)
            case ModelsCommand(model=model):
                return await self.models.show(model)
            case DeployCommand():
                return await self.deploy(command, call)
            case _:
                submitted = await self.requests.submit(command, ticket_id=call.key, user=call.user)
                return None if submitted.already_received else submitted.answer

    async def deploy(self, command: DeployCommand, call: CommandCall) -> str | None:
        """`/deploy`: checked (and, without a version, filled) by the model registry first."""
        self.requests.check(command, call.user)
        resolved = await resolve_deploy(
            command, targets=self._deps.promote_targets, registry=self._deps.registry
        )
        submitted = await self.requests.submit(resolved.command, ticket_id=call.key, user=call.user)
        if submitted.already_received:
            return None
        return "\n".join(line for line in (resolved.note, submitted.answer) if line)

    async def _click(self, click: ButtonClick) -> Rendered | str | None:
        try:
            if click.action_id in BOT_ACTIONS:
                ticket_id = parse_ticket_id(click.value)
                approving = click.action_id == APPROVE
                return await self.requests.decide(ticket_id, user=click.user, approving=approving)
            button = parse_button_value(click.action_id, click.value)
        except BadButtonValue as e:
            log.warning("button_rejected", action=click.action_id, error=str(e))
            return "This button is not valid any more."
        if button.action_id == PROMOTE:
            return await self.promotions.click(button, user=click.user, click_id=click.key)
        return await self.buttons.click(button, user=click.user, click_id=click.key)

    async def drift_status(self, model: str | None) -> Rendered | str:
        """`/drift status [model]`: one table, or one line saying why there is none."""
        models = self._options.drift_models(model)
        if self._deps.prometheus is None:
            return "Prometheus is not configured (set PROMETHEUS_URL), so there is no drift status."
        now = datetime.fromtimestamp(self._deps.clock(), UTC)
        rows = await drift_rows(self._deps.prometheus, self._options.queries, models, now=now)
        return render_drift(rows, prometheus_url=self._deps.prometheus_url or "")

    # --- lifecycle and the sweeper -------------------------------------------------------------

    async def start(self) -> None:
        """Start the sweeper (its first pass resumes runs left by a previous process)."""
        self._tasks.spawn(self._sweep_forever(), name="sweeper")

    async def close(self) -> None:
        """Stop the sweeper, finish in-flight work (bounded), stop following runs."""
        self._stop.set()
        await self._tasks.drain(self._options.tuning.drain_timeout)
        await self.runs.close()

    async def _sweep_forever(self) -> None:
        while not self._stop.is_set():
            try:
                await self.sweep()
            except StoreError as e:
                log.warning("bot_sweep_failed", error=str(e))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._options.tuning.sweep_interval)

    async def sweep(self) -> None:
        """Expire pending requests, keep or resume runs, close interrupted starts, prune."""
        closed: set[str] = set()
        missing: set[str] = set()
        for ticket_id in await self.tickets.open_ids():
            loaded = await self.tickets.load(ticket_id)
            if loaded is None:
                missing.add(ticket_id)
                continue
            try:
                if await self._sweep_one(loaded.ticket):
                    closed.add(ticket_id)
            except BotError as e:  # e.g. the model left the config while its run was followed
                log.warning("bot_sweep_skipped", ticket=ticket_id, error=e.message)
        if closed or missing:
            await self.tickets.prune(closed, missing)

    async def _sweep_one(self, ticket: Ticket) -> bool:
        """One ticket's sweep; True when it no longer needs the sweeper."""
        if await self.requests.expire_due(ticket) or await self.runs.interrupted(ticket):
            return True
        if ticket.following:
            await self.runs.keep(ticket)
            return False
        return not ticket.is_open

    def _task_failed(self, name: str, error: BaseException) -> None:
        self._metrics.errors.labels(where="bot").inc()
        log.error("bot_task_failed", task=name, error=repr(error), exc_info=error)
