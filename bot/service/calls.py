"""What the Bolt listeners hand the bot: plain values, read from Slack's payloads."""

from __future__ import annotations

from dataclasses import dataclass

from bot.approvals.machine import click_key, idempotency_key


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
