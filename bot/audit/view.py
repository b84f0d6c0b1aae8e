"""Who sees what in `/chatops audit` (README, "Security model").

In a channel, only the models whose messages go to that channel (`channel_for(model)`, compared
by name or ID as Slack gives them), so the audit answers no more than the channel already shows.
In a DM with the bot, only the caller's own requests (every entry of a ticket they asked for).
Pipeline variable values only to the model's approvers: everyone else sees the names.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.audit.report import AUDIT_LIMIT, audit_message
from bot.audit.trail import Auditor
from bot.errors import NotAllowed
from bot.options import BotOptions
from slackio.blocks import Rendered
from storage import AuditEntry

SCAN = 1000  # entries read to find the caller's own (a DM), or those of unconfigured models


@dataclass(frozen=True)
class Viewer:
    """Who asks for the audit, and where: the command's user and channel (ID and name)."""

    user: str
    channel_id: str
    channel_name: str = ""

    @property
    def in_dm(self) -> bool:
        """A direct message with the bot (Slack DM channel IDs start with D)."""
        return self.channel_id.startswith("D")

    def is_in(self, channel: str) -> bool:
        """Whether `channel` (configured as "#name", name or ID) is the one the viewer is in.

        Read as the Slack adapter reads it: C… or G… is an ID, anything else a name.
        """
        if not channel or not self.channel_id:
            return False
        if channel.startswith(("C", "G")):
            return channel == self.channel_id
        return bool(self.channel_name) and channel.lstrip("#") == self.channel_name


class AuditView:
    """Reads the audit trail for one viewer, scoped to what they may see."""

    def __init__(self, auditor: Auditor, options: BotOptions) -> None:
        self._auditor = auditor
        self._options = options

    async def show(self, viewer: Viewer, model: str | None) -> Rendered:
        """The newest entries this viewer may see; `NotAllowed` for a model routed elsewhere."""
        if viewer.in_dm:
            entries, scope = await self._own(viewer, model), "of your requests"
        else:
            entries, scope = await self._in_channel(viewer, model), "in this channel"
        return audit_message(
            entries, model, scope=scope, reveal=lambda e: self._approves(viewer.user, e.model)
        )

    async def _own(self, viewer: Viewer, model: str | None) -> list[AuditEntry]:
        scanned = await self._auditor.recent(model=model, limit=SCAN)
        mine = {
            e.extra.get("ticket")
            for e in scanned
            if e.actor == viewer.user and e.action.endswith(".request")
        }
        mine.discard(None)
        return [e for e in scanned if e.extra.get("ticket") in mine][:AUDIT_LIMIT]

    async def _in_channel(self, viewer: Viewer, model: str | None) -> list[AuditEntry]:
        if model is not None:
            channel = self._options.channel_for(model)
            if not viewer.is_in(channel):
                raise NotAllowed(
                    f"the audit of {model} is shown only in {channel}, where its messages go "
                    "(or, for your own requests, in a DM with the bot)"
                )
            return await self._auditor.recent(model=model, limit=AUDIT_LIMIT)
        models = self._options.models
        entries = [
            entry
            for name in sorted(models)
            if viewer.is_in(self._options.channel_for(name))
            for entry in await self._auditor.recent(model=name, limit=AUDIT_LIMIT)
        ]
        if viewer.is_in(self._options.default_channel):  # models the config does not name
            scanned = await self._auditor.recent(model=None, limit=SCAN)
            entries += [e for e in scanned if e.model not in models]
        return sorted(entries, key=lambda e: e.at, reverse=True)[:AUDIT_LIMIT]

    def _approves(self, user: str, model: str) -> bool:
        """Whether `user` is listed as an approver in a rule that applies to `model`."""
        configured = self._options.models.get(model)
        environments = configured.environments if configured is not None else ()
        return user in self._options.policy.approvers_of(environments)
