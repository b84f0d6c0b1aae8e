"""Private channels the bot was invited to are found by name (conversations.list with
private_channel, scope groups:read), so a post whose answer was lost is not repeated there."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.slack.manifest import BOT_SCOPES
from slackio.errors import SlackRejected
from slackio.metrics import Metrics
from slackio.outbox import OutboxSender
from slackio.webapi import WebApiTransport, make_client
from storage import MessageUpdate, Store, open_store
from tests.fakes.app import BOT_TOKEN
from tests.fakes.slack import FakeSlack

PRIVATE = "#secret-ml"
BLOCKS = json.dumps([{"type": "section", "text": {"type": "mrkdwn", "text": "drift"}}])


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await open_store(f"sqlite:///{tmp_path / 'outbox.db'}")
    yield opened
    await opened.close()


async def transport_for(fake: FakeSlack, session: aiohttp.ClientSession) -> WebApiTransport:
    return WebApiTransport(make_client(token=BOT_TOKEN, base_url=fake.api_url, session=session))


async def test_a_lost_answer_in_a_private_channel_is_found_not_repeated(store: Store) -> None:
    timeout = aiohttp.ClientTimeout(total=0.5)
    async with (
        FakeSlack(private=[PRIVATE], scopes=BOT_SCOPES) as fake,
        aiohttp.ClientSession(timeout=timeout) as session,
    ):
        fake.answer_late("chat.postMessage", 2.0)  # Slack posts it; the answer comes too late
        metadata = {"event_type": "chatops_alert", "event_payload": {"key": "am:p:1"}}
        update = MessageUpdate(
            key="am:p:1", channel=PRIVATE, text="drift", blocks_json=BLOCKS,
            metadata_json=json.dumps(metadata),
        )  # fmt: skip
        assert await store.save(
            key="s", data="1", expected_version=0, messages=[update], now=time.time()
        )
        transport = await transport_for(fake, session)
        sender = OutboxSender(store, transport, Metrics(), pacing=0.0, max_backoff=0.2)
        sender.start()
        try:
            for _ in range(200):  # the outbox has no "drained" event to wait on
                if not (await store.outbox_stats()).pending:
                    break
                await asyncio.sleep(0.05)
        finally:
            await sender.stop()
        assert [m.text for m in fake.messages(PRIVATE)] == ["drift"], fake.summary()
        listed = fake.calls("conversations.list")
        assert listed
        assert "private_channel" in listed[0].params["types"]


async def test_an_app_without_groups_read_still_finds_public_channels() -> None:
    """Installed from the older manifest: `missing_scope` for private channels, public ones
    are still found (and a private name is not found, as before)."""
    scopes = set(BOT_SCOPES) - {"groups:read"}
    async with FakeSlack(private=[PRIVATE], scopes=scopes) as fake, aiohttp.ClientSession() as s:
        transport = await transport_for(fake, s)
        posted = await transport.post(
            channel="#ml-alerts", text="x", blocks=[], metadata={
                "event_type": "chatops_alert", "event_payload": {"key": "k"}
            },
        )  # fmt: skip
        found = await transport.find_posted(channel="#ml-alerts", key="k")
        assert found == posted
        with pytest.raises(SlackRejected, match="channel_not_found"):
            await transport.find_posted(channel=PRIVATE, key="k")
        types = [c.params["types"] for c in fake.calls("conversations.list")]
        assert types == ["public_channel,private_channel", "public_channel", "public_channel"]


def test_the_manifest_asks_for_private_channel_scopes() -> None:
    assert {"groups:read", "groups:history"} <= set(BOT_SCOPES)
