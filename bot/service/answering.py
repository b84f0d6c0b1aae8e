"""Each request once, and every error a user can get turned into one answer, in one place.

`BotError` branches become the answer and the metric outcome: usage, refused, failed, invalid.
A Slack re-delivery (or a use case answering None: its request was already received) gets no
answer and the outcome "duplicate". A store failure or a bug tells the user and propagates to the
task's error handler, which logs it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog

from bot.errors import (
    BotError,
    NotAllowed,
    PipelineError,
    PrometheusError,
    SilenceError,
    UsageError,
)
from bot.replies import Responder, usage_message
from slackio.blocks import Rendered
from storage import Store, StoreError

log = structlog.get_logger("bot")

RETRY_TTL = 3600.0  # how long a command or click id is remembered against Slack's re-deliveries

Answer = Rendered | str | None
Work = Callable[[], Awaitable[Answer]]


class Answering:
    """Runs a use case once per command or click id and turns what it raised into an answer."""

    def __init__(self, store: Store, responder: Responder, clock: Callable[[], float]) -> None:
        self._store = store
        self._responder = responder
        self._clock = clock

    async def once(self, key: str) -> bool:
        """True the first time this command or click id comes; False for a Slack re-delivery."""
        now = self._clock()
        if await self._store.seen([key], now=now):
            return False
        await self._store.mark_seen([key], ttl=RETRY_TTL, now=now)
        return True

    async def answer(self, response_url: str | None, key: str, work: Work) -> tuple[Answer, str]:
        """Run `work` once; the answer for the user (None: none) and the metric outcome."""
        try:
            answer = await work() if await self.once(key) else None
        except BotError as e:
            return _error_answer(e)
        except StoreError as e:
            log.error("bot_store_failed", error=str(e))
            await self._responder.ephemeral(
                response_url, "⚠️ The bot's store is unavailable; try again."
            )
            raise
        except Exception:
            await self._responder.ephemeral(response_url, "⚠️ Something went wrong; it was logged.")
            raise
        return answer, "ok" if answer is not None else "duplicate"


def _error_answer(error: BotError) -> tuple[Rendered | str, str]:
    """A user-facing error's answer and metric outcome, by its branch of the tree."""
    match error:
        case UsageError():
            return usage_message(error.message, error.usage), "usage"
        case NotAllowed():
            return f"🚫 {error.message}", "refused"
        case PipelineError() | PrometheusError() | SilenceError():
            return f"⚠️ {error.message}", "failed"
        case _:
            return f"⚠️ {error.message}", "invalid"
