"""One claimed outbox item made true in Slack: a post, an update or a thread reply.

Each call is counted in `chatops_slack_requests_total` and its result recorded in the store.
A post or reply whose earlier attempt may have landed (`uncertain`) is first looked for by its
metadata, and adopted when found, so it is not repeated.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import structlog

from slackio.blocks import clip
from slackio.errors import SlackRejected, SlackSendError
from slackio.metrics import Metrics
from slackio.transport import Posted, SlackTransport
from storage import OutboxItem, Store, StoreError

log = structlog.get_logger("slackio.outbox")

MAX_REPLY_CHARS = 3000


class Delivery:
    """Carries out claimed outbox items; the sender decides when, this decides how."""

    def __init__(
        self,
        store: Store,
        transport: SlackTransport,
        metrics: Metrics,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._transport = transport
        self._metrics = metrics
        self._clock = clock

    async def deliver(self, item: OutboxItem) -> None:
        """Make the one Slack call the item is due for and record its result in the store."""
        blocks: list[dict[str, Any]] = json.loads(item.blocks_json)
        if item.needs_post:
            metadata = json.loads(item.metadata_json) if item.metadata_json else None
            posted = await self._adopt(item) if item.uncertain and metadata else None
            if posted is not None:
                # The adopted message shows an unknown version: leave it due for an update.
                item = replace(item, version=item.sent_version, replies=())
            else:
                posted = await self._counted(
                    "chat.postMessage",
                    self._transport.post(
                        channel=item.channel, text=item.text, blocks=blocks, metadata=metadata
                    ),
                )
            await self._store.complete(
                item, channel_id=posted.channel_id, ts=posted.ts, reply_ids=()
            )
            self._metrics.send_lag.observe(max(0.0, self._clock() - item.first_queued_at))
            log.info("slack_message_posted", key=item.key, channel=item.channel, ts=posted.ts)
            return
        channel_id, ts = _posted_at(item)
        # After a crash the lost step may have been a thread reply: settle replies first.
        if item.needs_update and not (item.uncertain and item.replies):
            await self._counted(
                "chat.update",
                self._transport.update(channel_id=channel_id, ts=ts, text=item.text, blocks=blocks),
            )
            await self._store.complete(item, channel_id=channel_id, ts=ts, reply_ids=())
            log.info("slack_message_updated", key=item.key, ts=item.ts, version=item.version)
            return
        await self._post_replies(item)

    async def _adopt(self, item: OutboxItem) -> Posted | None:
        """After a crash or a timeout mid-post, find what the lost attempt may have posted."""
        found = await self._look_for(item, "conversations.history", item.channel, item.key)
        if found is not None:
            log.warning("slack_message_adopted", key=item.key, ts=found.ts)
        return found

    async def _look_for(
        self, item: OutboxItem, method: str, channel: str, key: str, thread_ts: str | None = None
    ) -> Posted | None:
        """The earlier attempt's message, if Slack shows it. Where Slack refuses to show it
        (a private channel the app may not read, a name it cannot resolve), sending again is
        the lesser harm: a possible repeat rather than a message stuck for good.
        """
        try:
            found: Posted | None = await self._counted(
                method,
                self._transport.find_posted(channel=channel, key=key, thread_ts=thread_ts),
            )
        except SlackRejected as e:
            log.warning("slack_lookup_refused", key=item.key, channel=channel, error=e.code)
            return None
        return found

    async def _post_replies(self, item: OutboxItem) -> None:
        channel_id, ts = _posted_at(item)
        text = "\n".join(t for _, t in item.replies)
        text = clip(text, MAX_REPLY_CHARS)
        marker = f"{item.key}#reply{item.replies[-1][0]}"
        found = None
        if item.uncertain:
            found = await self._look_for(item, "conversations.replies", channel_id, marker, ts)
        if found is None:
            await self._counted(
                "chat.postMessage",
                self._transport.post(
                    channel=channel_id,
                    text=text,
                    blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
                    thread_ts=ts,
                    metadata={"event_type": "chatops_reply", "event_payload": {"key": marker}},
                ),
            )
        # Only the replies went out: the message content stays as it was (sent_version).
        await self._store.complete(
            replace(item, version=item.sent_version),
            channel_id=channel_id,
            ts=ts,
            reply_ids=[i for i, _ in item.replies],
        )
        log.info("slack_thread_replied", key=item.key, ts=item.ts, replies=len(item.replies))

    async def _counted(self, method: str, call: Any) -> Any:
        try:
            result = await call
        except SlackSendError as e:
            self._metrics.slack_requests.labels(method=method, outcome=e.code).inc()
            raise
        self._metrics.slack_requests.labels(method=method, outcome="ok").inc()
        return result

    async def join(self, channel: str) -> bool:
        """Join a public channel the app is not in (`not_in_channel`); False if refused."""
        try:
            await self._counted("conversations.join", self._transport.join(channel=channel))
        except SlackSendError as e:
            log.error("slack_join_failed", channel=channel, error=e.code)
            return False
        log.info("slack_channel_joined", channel=channel)
        return True


def _posted_at(item: OutboxItem) -> tuple[str, str]:
    if item.ts is None or item.channel_id is None:
        raise StoreError(f"outbox item {item.key} was posted but its channel is unknown")
    return item.channel_id, item.ts
