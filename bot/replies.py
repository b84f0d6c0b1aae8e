"""Answers to the person who clicked or typed, through Slack's `response_url`; help and usage.

A `response_url` takes a few posts for 30 minutes after a command or click; the bot uses it for
ephemeral answers (usage, refusals, "approval requested"). The post goes over the app's shared
aiohttp session with a timeout. An answer that cannot be delivered is logged, not retried: the
outcome itself is already in the store, the audit log and the channel message.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import structlog

from bot.commands import help_text
from slackio.blocks import Rendered, clip, message, section

log = structlog.get_logger("bot.replies")


def help_message(topic: str | None = None) -> Rendered:
    """Usage of every command, or of one."""
    text = help_text(topic)
    return Rendered(clip(text.replace("`", ""), 3000), [section(text)])


def usage_message(problem: str, usage: str) -> Rendered:
    """A bad command: what was wrong, then how to use it."""
    text = f"⚠️ {problem}\n\n{usage}"
    return Rendered(clip(f"{problem}", 3000), [section(text)])


class Responder:
    """Posts ephemeral answers to `response_url`s."""

    def __init__(self, session: aiohttp.ClientSession, *, timeout: float = 10.0) -> None:
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def ephemeral(self, response_url: str | None, answer: str | Rendered) -> bool:
        """Show `answer` to the user only; True when Slack took it."""
        if not response_url:
            return False
        rendered = message(answer) if isinstance(answer, str) else answer
        body: dict[str, Any] = {
            "response_type": "ephemeral",
            "replace_original": False,
            "text": rendered.text,
            "blocks": rendered.blocks,
        }
        try:
            async with self._session.post(
                response_url, json=body, timeout=self._timeout
            ) as response:
                if response.status >= 400:
                    log.warning("slack_response_url_refused", status=response.status)
                    return False
        except (aiohttp.ClientError, TimeoutError) as e:
            log.warning("slack_response_url_failed", error=type(e).__name__)
            return False
        return True
