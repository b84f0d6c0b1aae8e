"""Thin Bolt listeners: acknowledge first, read the few fields we need, hand over, return.

Nothing before `ack()`, no network call here at all: the use case runs in the bot's own task
set (`Bot.dispatch_*`) and answers through `response_url`, so Slack always gets its 200 within
3 seconds however slow GitLab, GitHub or Prometheus are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.buttons import BOT_ACTIONS
from bot.service import Bot, ButtonClick, CommandCall
from slackio.buttons import ACTION_IDS

log = structlog.get_logger("bot.slack.listeners")

COMMANDS = ("/retrain", "/deploy", "/rollback", "/drift", "/chatops")
ACTIONS = (*BOT_ACTIONS, *ACTION_IDS)


def command_call(body: Mapping[str, Any]) -> CommandCall:
    """The fields of a slash-command payload the bot uses."""
    return CommandCall(
        team=str(body.get("team_id") or ""),
        user=str(body.get("user_id") or ""),
        channel=str(body.get("channel_id") or ""),
        command=str(body.get("command") or ""),
        text=str(body.get("text") or ""),
        trigger_id=str(body.get("trigger_id") or ""),
        response_url=body.get("response_url") or None,
        channel_name=str(body.get("channel_name") or ""),
    )


def button_click(body: Mapping[str, Any]) -> ButtonClick:
    """The fields of a block_actions payload (its first action) the bot uses."""
    actions = body.get("actions") or [{}]
    action = actions[0] if isinstance(actions[0], Mapping) else {}
    return ButtonClick(
        team=str((body.get("team") or {}).get("id") or ""),
        user=str((body.get("user") or {}).get("id") or ""),
        action_id=str(action.get("action_id") or ""),
        value=str(action.get("value") or ""),
        action_ts=str(action.get("action_ts") or ""),
        response_url=body.get("response_url") or None,
    )


def _retry(request: AsyncBoltRequest) -> str | None:
    values = request.headers.get("x-slack-retry-num")
    return values[0] if values else None


class Listeners:
    """The listener functions, bound to one `Bot`."""

    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def command(self, ack: AsyncAck, body: dict[str, Any], request: AsyncBoltRequest) -> None:
        await ack()
        call = command_call(body)
        log.info(
            "slack_command_received", command=call.command, user=call.user, retry=_retry(request)
        )
        self._bot.dispatch_command(call)

    async def action(self, ack: AsyncAck, body: dict[str, Any], request: AsyncBoltRequest) -> None:
        await ack()
        click = button_click(body)
        log.info(
            "slack_button_received", action=click.action_id, user=click.user, retry=_retry(request)
        )
        self._bot.dispatch_click(click)

    def register(self, app: AsyncApp) -> None:
        """Attach a listener for every command and button action id."""
        for name in COMMANDS:
            app.command(name)(self.command)
        for action_id in ACTIONS:
            app.action(action_id)(self.action)
