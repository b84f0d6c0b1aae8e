"""The bot behind one facade: the listeners hand it plain values, it answers through Slack.

Listeners hand over a `CommandCall` or a `ButtonClick` (already acknowledged); the `Bot` runs the
work in its own task set, once per command or click id, and answers the user through
`response_url`. It also owns the sweeper's task.
"""

from __future__ import annotations

import asyncio

import structlog

from bot.replies import Responder
from bot.service.answering import Answering, Work
from bot.service.calls import ButtonClick, CommandCall, Refusal
from bot.service.click_dispatch import ClickDispatch
from bot.service.command_dispatch import CommandDispatch
from bot.service.graph import BotDeps, build
from bot.service.sweeper import Sweeper
from bot.tasks import TaskSet

log = structlog.get_logger("bot")


class Bot:
    """Commands, clicks and the sweeper."""

    def __init__(self, deps: BotDeps) -> None:
        self._metrics = deps.metrics
        self._tuning = deps.options.tuning
        self._tasks = TaskSet("bot", on_error=self._task_failed)
        self._stop = asyncio.Event()
        uses = build(deps)
        self.responder = Responder(deps.session, timeout=self._tuning.http_timeout)
        self.auditor = uses.approvals.auditor
        self.tickets = uses.approvals.tickets
        self.ledger = uses.approvals.ledger
        self.runs = uses.runs
        self.commands = CommandDispatch(deps, uses)
        self.clicks = ClickDispatch(uses)
        self.sweeper = Sweeper(uses)
        self._answering = Answering(deps.store, self.responder, deps.clock)

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
        outcome = await self._handle(call.response_url, call.key, lambda: self.commands.run(call))
        self._metrics.commands.labels(command=call.command, outcome=outcome).inc()
        log.info("command_handled", command=call.command, user=call.user, outcome=outcome)

    async def handle_click(self, click: ButtonClick) -> None:
        """Apply one click once and answer the clicker."""
        name = f"button:{click.action_id.removeprefix('chatops.')}"
        outcome = await self._handle(click.response_url, click.key, lambda: self.clicks.run(click))
        self._metrics.commands.labels(command=name, outcome=outcome).inc()
        log.info("button_handled", action=click.action_id, user=click.user, outcome=outcome)

    async def _handle(self, response_url: str | None, key: str, work: Work) -> str:
        """Run the work once, answer the user if there is an answer; the metric outcome."""
        answer, outcome = await self._answering.answer(response_url, key, work)
        if answer is not None:
            await self.responder.ephemeral(response_url, answer)
        return outcome

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the sweeper (its first pass resumes runs left by a previous process)."""
        sweeping = self.sweeper.run(self._stop, self._tuning.sweep_interval)
        self._tasks.spawn(sweeping, name="sweeper")

    async def close(self) -> None:
        """Stop the sweeper, finish in-flight work (bounded), stop following runs."""
        self._stop.set()
        await self._tasks.drain(self._tuning.drain_timeout)
        await self.runs.close()

    def _task_failed(self, name: str, error: BaseException) -> None:
        self._metrics.errors.labels(where="bot").inc()
        log.error("bot_task_failed", task=name, error=repr(error), exc_info=error)
