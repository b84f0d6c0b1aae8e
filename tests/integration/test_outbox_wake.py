"""Waking the sender: work for a channel it is pacing waits for the pause, costs no claim now,
and is still sent; work for another channel is not held up by it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import aiohttp
import pytest

from slackio.metrics import Metrics
from slackio.outbox import OutboxSender
from slackio.webapi import WebApiTransport, make_client
from storage import MessageUpdate, OutboxItem, Store, open_store
from tests.fakes.app import BOT_TOKEN
from tests.fakes.slack import FakeSlack

PACING = 0.6
BLOCKS = json.dumps([{"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}])


class ClaimCounter:
    """Our own Store, passed through, counting the sender's claims."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.claims = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    async def claim(
        self, *, owner: str, lease_seconds: float, now: float, exclude_channels: Sequence[str]
    ) -> OutboxItem | None:
        self.claims += 1
        return await self._store.claim(
            owner=owner, lease_seconds=lease_seconds, now=now, exclude_channels=exclude_channels
        )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await open_store(f"sqlite:///{tmp_path / 'outbox.db'}")
    yield opened
    await opened.close()


async def queue(store: Store, key: str, channel: str, text: str) -> None:
    state = await store.get_state(key)
    update = MessageUpdate(
        key=key, channel=channel, text=text, blocks_json=BLOCKS, reply=None, metadata_json=None
    )
    assert await store.save(
        key=key, data=text, expected_version=state.version if state else 0,
        messages=[update], now=time.time(),
    )  # fmt: skip


async def test_work_for_a_paced_channel_waits_its_turn_without_a_claim_and_is_not_lost(
    store: Store, fake_slack: FakeSlack
) -> None:
    counted = ClaimCounter(store)
    async with aiohttp.ClientSession() as session:
        transport = WebApiTransport(
            make_client(token=BOT_TOKEN, base_url=fake_slack.api_url, session=session)
        )
        sender = OutboxSender(counted, transport, Metrics(), pacing=PACING)  # type: ignore[arg-type]
        sender.start()
        try:
            await queue(store, "m:a", "#a", "first")
            sender.notify("#a")
            await fake_slack.wait_for(lambda f: len(f.calls("chat.postMessage")) == 1, timeout=5)
            first_at = time.monotonic()
            await asyncio.sleep(0.05)  # the sender is now pacing #a
            before = counted.claims

            for n in range(20):  # a burst of updates to the paced channel
                await queue(store, "m:a", "#a", f"update {n}")
                sender.notify("#a")
            await asyncio.sleep(0.1)
            assert counted.claims == before, "a wake for a paced channel claimed anyway"

            await queue(store, "m:b", "#b", "other channel")
            sender.notify("#b")
            await fake_slack.wait_for(lambda f: len(f.calls("chat.postMessage")) == 2, timeout=5)
            assert time.monotonic() - first_at < PACING, "#b waited for #a's pause"

            await fake_slack.wait_for(lambda f: len(f.calls("chat.update")) == 1, timeout=5)
            assert time.monotonic() - first_at >= PACING * 0.9
        finally:
            await sender.stop()

    updates = fake_slack.calls("chat.update")
    assert [u.params["text"] for u in updates] == ["update 19"]  # coalesced, the latest
    assert (await store.outbox_stats()).pending == 0
