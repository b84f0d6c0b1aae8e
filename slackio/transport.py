"""The Slack Web API as the product uses it: post, update, join. Our Protocol, two adapters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

Blocks = Sequence[dict[str, Any]]


@dataclass(frozen=True)
class Posted:
    """Where a posted message lives: Slack's channel ID and message ts."""

    channel_id: str
    ts: str


class SlackTransport(Protocol):
    """Posts and updates messages; raises slackio.errors.SlackSendError subclasses."""

    async def post(
        self,
        *,
        channel: str,
        text: str,
        blocks: Blocks,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Posted: ...

    async def update(self, *, channel_id: str, ts: str, text: str, blocks: Blocks) -> None: ...

    async def join(self, *, channel: str) -> None: ...

    async def find_posted(
        self, *, channel: str, key: str, thread_ts: str | None = None
    ) -> Posted | None:
        """A recent message we posted for `key` (from its metadata), if any.

        Top-level messages are searched in the channel's history, thread replies (when
        `thread_ts` is given) in that thread.

        Used after a crash between Slack accepting a post and the store recording it, so the
        retry adopts that message instead of posting a duplicate.
        """
