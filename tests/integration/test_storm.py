"""The worst day on-call has: 10,000 alerts in 100 groups within seconds, through create_app().

Alertmanager sends each group again as it grows (and an HA pair sends everything twice). The
channel must see one message per group, kept up to date by a few coalesced chat.update calls,
paced per channel, while /metrics shows the backlog draining.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import re
import time
from collections import Counter, defaultdict
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.fakes.app import bearer, outbox_drained
from tests.fakes.service import group_body, group_name, subject, top_posts
from tests.fakes.slack import FakeSlack, RecordedCall

GROUPS = 100
STEPS = 10  # each group grows by ALERTS_PER_STEP per notification
ALERTS_PER_STEP = 10
PACING = 0.05
SENDS = ("chat.postMessage", "chat.update")


async def deliver(client: TestClient[Any, Any], bodies: list[bytes], *, parallel: int) -> None:
    """POST every body (each twice, as an Alertmanager HA pair does), `parallel` at a time."""
    gate = asyncio.Semaphore(parallel)

    async def send(body: bytes) -> None:
        async with gate:
            response = await client.post("/webhooks/alertmanager", data=body, headers=bearer())
            assert response.status in (200, 202), await response.text()

    await asyncio.gather(*(send(b) for b in bodies for _ in range(2)))


class MetricsWatch:
    """Scrapes /metrics while the storm runs and keeps the highest outbox values seen."""

    def __init__(self, client: TestClient[Any, Any]) -> None:
        self.client = client
        self.peak: Counter[str] = Counter()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> MetricsWatch:
        self._task = asyncio.create_task(self._watch(), name="metrics-watch")
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _watch(self) -> None:
        names = ("chatops_outbox_pending", "chatops_outbox_oldest_age_seconds")
        while True:
            text = await (await self.client.get("/metrics")).text()
            for name in names:
                found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
                assert found, f"{name} missing from /metrics"
                self.peak[name] = max(self.peak[name], float(found.group(1)))
            await asyncio.sleep(0.2)


def sends_by_channel(fake: FakeSlack) -> dict[str, list[RecordedCall]]:
    """Posts, updates and thread replies per channel ID, in the order Slack received them."""
    found: defaultdict[str, list[RecordedCall]] = defaultdict(list)
    for call in fake.calls():
        if call.method in SENDS:
            found[fake.channel_id(str(call.params["channel"]))].append(call)
    return found


async def test_a_storm_is_one_message_per_group_coalesced_and_paced(
    make_app: Any, fake_slack: FakeSlack
) -> None:
    client = await make_app(chatops_slack_pacing=PACING)
    steps = [
        [group_body(g, ALERTS_PER_STEP * (s + 1)) for g in range(GROUPS)] for s in range(STEPS)
    ]
    async with MetricsWatch(client) as watch:
        started = time.monotonic()
        for bodies in steps:  # Alertmanager re-sends a growing group every group_interval
            await deliver(client, bodies, parallel=16)
        ingested = time.monotonic() - started
        await outbox_drained(client, within=60)
        drained = time.monotonic() - started - ingested
        await asyncio.sleep(0.3)  # one more scrape after the drain

    webhooks = 2 * GROUPS * STEPS
    updates = fake_slack.calls("chat.update")
    messages = fake_slack.messages("#fraud-ml")
    by_ts = {m.ts: subject(m.text) for m in messages}
    per_group = Counter(by_ts.get(str(u.params["ts"])) for u in updates)
    print(  # the numbers for the report (pytest -s)
        f"\nstorm: {webhooks} webhooks ({GROUPS * STEPS * ALERTS_PER_STEP} distinct alerts) "
        f"in {ingested:.1f}s = {webhooks / ingested:.0f}/s; drained {drained:.1f}s later; "
        f"{len(updates)} chat.update (at most {max(per_group.values(), default=0)} per group); "
        f"{len(fake_slack.calls())} Slack calls; "
        f"peaks {dict(watch.peak)}"
    )

    posts = top_posts(fake_slack)
    assert len(posts) == GROUPS, fake_slack.summary()
    assert sorted(subject(m.text) for m in messages) == [
        f"{group_name(g)} · fraud-detector" for g in range(GROUPS)
    ]
    final = f"{STEPS * ALERTS_PER_STEP} of {STEPS * ALERTS_PER_STEP} alerts firing"
    assert all(final in m.text for m in messages), [m.text for m in messages if final not in m.text]

    assert None not in per_group, "an update went to a ts that is no group's message"
    assert all(by_ts[str(u.params["ts"])] == subject(str(u.params["text"])) for u in updates)
    # Round robin over 100 groups in one paced channel: a group's turn comes at most once per
    # GROUPS * PACING seconds, so it gets one update per such cycle of the storm, plus the last.
    cycles = math.ceil(ingested / (GROUPS * PACING))
    assert max(per_group.values(), default=0) <= max(3, cycles + 1), per_group.most_common(5)
    assert len(updates) <= webhooks // 10, "updates were queued, not coalesced"

    for channel, calls in sends_by_channel(fake_slack).items():
        gaps = [b.at - a.at for a, b in itertools.pairwise(calls)]
        assert min(gaps) >= PACING, f"{channel}: calls {min(gaps):.3f}s apart"

    assert watch.peak["chatops_outbox_pending"] > 0
    assert watch.peak["chatops_outbox_oldest_age_seconds"] > 0


@pytest.fixture(params=["sqlite", "redis"])
def store_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    """make_app settings for each store backend (the Redis one needs a redis-server)."""
    if request.param == "sqlite":
        return {}
    return {"chatops_store_url": request.getfixturevalue("redis_url")}


async def test_groups_that_keep_changing_do_not_hold_the_channel(
    make_app: Any, fake_slack: FakeSlack, store_overrides: dict[str, Any]
) -> None:
    """Round robin: new groups get their first post while hot groups still change faster
    than the channel's pace lets their messages follow.
    """
    pacing = 0.2
    client = await make_app(chatops_slack_pacing=pacing, **store_overrides)
    hot, new = [900, 901, 902], list(range(10))
    stop = asyncio.Event()

    async def keep_changing() -> None:
        size = 1
        while not stop.is_set():
            await deliver(client, [group_body(g, size) for g in hot], parallel=3)
            size += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.05)

    feeder = asyncio.create_task(keep_changing(), name="hot-groups")
    try:
        await fake_slack.wait_for(lambda f: len(top_posts(f)) == len(hot), timeout=10)
        await deliver(client, [group_body(g, 1) for g in new], parallel=8)
        await fake_slack.wait_for(lambda f: len(top_posts(f)) == len(hot + new), timeout=10)
        assert not feeder.done(), "the hot groups stopped changing"
    finally:
        stop.set()
        await feeder
    await outbox_drained(client, within=30)
    assert len(top_posts(fake_slack)) == len(hot + new)
