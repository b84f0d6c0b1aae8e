"""Waking and waiting: work for a channel the sender is pacing waits for the pause, costs no
claim now, and is still sent; work for another channel is not held up by it. A sender waiting
for a slot longer than its lease keeps the item; one that lost the item does not send it."""

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

PACING = 1.0
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
async def transport(fake_slack: FakeSlack) -> AsyncIterator[WebApiTransport]:
    async with aiohttp.ClientSession() as session:
        yield WebApiTransport(
            make_client(token=BOT_TOKEN, base_url=fake_slack.api_url, session=session)
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
    store: Store, transport: WebApiTransport, fake_slack: FakeSlack
) -> None:
    counted = ClaimCounter(store)
    if True:
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


async def other_replica_claims(store: Store, *, seconds: float) -> list[OutboxItem]:
    """What a second replica polling the outbox gets over `seconds`."""
    got: list[OutboxItem] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        item = await store.claim(owner="r2", lease_seconds=30, now=time.time(), exclude_channels=())
        if item is not None:
            got.append(item)
        await asyncio.sleep(0.05)
    return got


async def test_a_wait_for_the_channel_longer_than_the_lease_keeps_the_item(
    store: Store, transport: WebApiTransport, fake_slack: FakeSlack
) -> None:
    # Another replica was told Retry-After: 2 for #a; this sender's lease is 0.9 s.
    started = time.time()
    await store.reserve_channel("#a", interval=2.0, now=started)
    sender = OutboxSender(store, transport, Metrics(), pacing=0.0, lease_seconds=0.9)
    sender.start()
    try:
        await queue(store, "m:a", "#a", "after the wait")
        sender.notify("#a")
        await asyncio.sleep(0.1)  # claimed, waiting for the slot
        stolen = await other_replica_claims(store, seconds=2.4)
        await fake_slack.wait_for(lambda f: len(f.calls("chat.postMessage")) == 1, timeout=5)
    finally:
        await sender.stop()

    assert stolen == [], "the item was claimable while its sender waited for the slot"
    post = fake_slack.calls("chat.postMessage")[0]
    assert post.at - started >= 1.9
    assert (await store.outbox_stats()).pending == 0


async def test_a_sender_that_lost_its_item_while_waiting_does_not_send_it(
    store: Store, transport: WebApiTransport, fake_slack: FakeSlack
) -> None:
    await store.reserve_channel("#a", interval=1.5, now=time.time())
    sender = OutboxSender(store, transport, Metrics(), pacing=0.0, lease_seconds=0.6)
    sender.start()
    try:
        await queue(store, "m:a", "#a", "contested")
        sender.notify("#a")
        await asyncio.sleep(0.1)  # claimed, waiting for the slot
        # This sender stalled past its lease (as if paused), and another replica took over:
        taken = await store.claim(
            owner="r2", lease_seconds=30, now=time.time() + 5, exclude_channels=()
        )
        assert taken is not None
        await asyncio.sleep(2.0)
    finally:
        await sender.stop()

    assert fake_slack.calls("chat.postMessage") == []
