"""A sender that died after Slack took its call: the next sender adopts, it does not repeat."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from slackio.metrics import Metrics
from slackio.outbox import OutboxSender
from slackio.webapi import WebApiTransport, make_client
from storage import MessageUpdate, Store, open_store
from tests.fakes.app import BOT_TOKEN
from tests.fakes.slack import FakeSlack

BLOCKS = json.dumps([{"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}])


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await open_store(f"sqlite:///{tmp_path / 'outbox.db'}")
    yield opened
    await opened.close()


@pytest.fixture
async def transport(fake_slack: FakeSlack) -> AsyncIterator[WebApiTransport]:
    async with aiohttp.ClientSession() as session:
        yield WebApiTransport(
            make_client(token=BOT_TOKEN, base_url=fake_slack.api_url, session=session)
        )


async def queue(store: Store, version: int, reply: str | None = None) -> None:
    state = await store.get_state("s")
    update = MessageUpdate(
        key="am:x:1",
        channel="#ml-alerts",
        text=f"v{version}",
        blocks_json=BLOCKS,
        reply=reply,
        metadata_json=json.dumps({"event_type": "t", "event_payload": {"key": "am:x:1"}}),
    )
    assert await store.save(
        key="s", data=str(version), expected_version=state.version if state else 0,
        messages=[update], now=time.time(),
    )  # fmt: skip


async def drain(store: Store, transport: WebApiTransport) -> None:
    sender = OutboxSender(store, transport, Metrics(), pacing=0.0, lease_seconds=0.2)
    sender.start()
    try:
        for _ in range(100):
            if (await store.outbox_stats()).pending == 0:
                return
            await _sleep()
        raise AssertionError("outbox did not drain")
    finally:
        await sender.stop()


async def _sleep() -> None:
    import asyncio

    await asyncio.sleep(0.05)


async def test_thread_reply_sent_before_a_crash_is_not_sent_again(
    store: Store, transport: WebApiTransport, fake_slack: FakeSlack
) -> None:
    await queue(store, 1)
    await drain(store, transport)
    await queue(store, 2, reply="✅ Resolved: one alert")
    await drain(store, transport)  # update + reply
    await queue(store, 3, reply="🔥 New: another alert")
    # A sender claims the item and dies after Slack took the thread reply.
    claimed = await store.claim(
        owner="dead", lease_seconds=0.1, now=time.time(), exclude_channels=[]
    )
    assert claimed is not None
    await store.complete(
        claimed, channel_id=claimed.channel_id or "", ts=claimed.ts or "", reply_ids=()
    )
    await queue(store, 4)
    dead = await store.claim(
        owner="dead", lease_seconds=0.1, now=time.time() + 1, exclude_channels=[]
    )
    assert dead is not None
    assert dead.replies
    marker = f"am:x:1#reply{dead.replies[-1][0]}"
    metadata = {"event_type": "chatops_reply", "event_payload": {"key": marker}}
    await transport.post(
        channel=dead.channel_id or "", text="🔥 New: another alert", blocks=[],
        thread_ts=dead.ts, metadata=metadata,
    )  # fmt: skip

    await drain(store, transport)

    (parent,) = [m for m in fake_slack.messages("#ml-alerts") if not m.thread_ts]
    replies = [r.text for r in fake_slack.thread_replies("#ml-alerts", parent.ts)]
    assert replies.count("🔥 New: another alert") == 1, replies
    assert parent.text == "v4"
    assert fake_slack.calls("conversations.replies")
