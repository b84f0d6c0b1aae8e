"""A slash command, parsed, to the use case that answers it."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.audit.view import Viewer
from bot.commands import (
    AuditCommand,
    DeployCommand,
    DriftStatusCommand,
    HelpCommand,
    ModelsCommand,
    parse_command,
)
from bot.drift.status import drift_rows, render_drift
from bot.releases.versions import resolve_deploy
from bot.replies import help_message
from bot.service.answering import Answer
from bot.service.calls import CommandCall
from bot.service.graph import BotDeps, UseCases


class CommandDispatch:
    """Runs one parsed command; its answer (None: the request was already received)."""

    def __init__(self, deps: BotDeps, uses: UseCases) -> None:
        self._deps = deps
        self._uses = uses

    async def run(self, call: CommandCall) -> Answer:
        command = parse_command(call.command, call.text)
        match command:
            case HelpCommand(topic=topic):
                return help_message(topic)
            case AuditCommand(model=model):
                viewer = Viewer(call.user, call.channel, call.channel_name)
                return await self._uses.audit.show(viewer, model)
            case DriftStatusCommand(model=model):
                return await self.drift_status(model)
            case ModelsCommand(model=model):
                return await self._uses.models.show(model)
            case DeployCommand():
                return await self.deploy(command, call)
            case _:
                requests = self._uses.requests
                submitted = await requests.submit(command, ticket_id=call.key, user=call.user)
                return None if submitted.already_received else submitted.answer

    async def deploy(self, command: DeployCommand, call: CommandCall) -> str | None:
        """`/deploy`: checked (and, without a version, filled) by the model registry first."""
        requests = self._uses.requests
        requests.check(command, call.user)
        resolved = await resolve_deploy(
            command, targets=self._deps.promote_targets, registry=self._deps.registry
        )
        submitted = await requests.submit(resolved.command, ticket_id=call.key, user=call.user)
        if submitted.already_received:
            return None
        return "\n".join(line for line in (resolved.note, submitted.answer) if line)

    async def drift_status(self, model: str | None) -> Answer:
        """`/drift status [model]`: one table, or one line saying why there is none."""
        options = self._deps.options
        models = options.drift_models(model)
        if self._deps.prometheus is None:
            return "Prometheus is not configured (set PROMETHEUS_URL), so there is no drift status."
        now = datetime.fromtimestamp(self._deps.clock(), UTC)
        rows = await drift_rows(self._deps.prometheus, options.queries, models, now=now)
        return render_drift(rows, prometheus_url=self._deps.prometheus_url or "")
