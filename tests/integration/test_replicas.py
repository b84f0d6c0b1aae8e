"""Two and three real `chatops serve` replicas on one real Redis, one fake Slack.

An Alertmanager HA pair sends every notification to the gateway twice, and behind a
Kubernetes Service the copies land on different replicas. Whatever the interleaving, and
even when a replica is SIGKILLed mid-storm, each group must be one Slack message, every
chat.update must go to that message, its final state must arrive, and no replica may post
what another one already posted.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import aiohttp
import pytest

from storage import Store, open_store
from tests.fakes.fixtures import fixture_bytes
from tests.fakes.service import Service, group_body, group_name, subject, top_posts
from tests.fakes.slack import FakeSlack

CHANNELS = ("#fraud-ml", "#ml-alerts")  # DEFAULT_CONFIG: fraud-detector's channel, the default

# Captured bodies per group: (sent while two replicas run, sent once three run, final word).
CAPTURED: dict[str, tuple[list[str], list[str], str]] = {
    "ModelDriftDetected · fraud-detector": (
        ["api_firing_single-alert", "api_firing_single-alert_resend"],
        ["api_resolved_single-alert"],
        "RESOLVED",
    ),
    "ModelPSIHigh · 3 models": (
        ["api_one-group_3-alerts", "api_mixed_2-firing_1-resolved"],
        ["api_after-mixed_resend_2-firing", "api_resolved_one-group_2-alerts"],
        "RESOLVED",
    ),
    "FeatureDriftDetected · fraud-detector": (
        ["api_truncated_max-alerts-2_of-5"],
        ["api_truncated_resolved_max-alerts-2_of-5"],
        "RESOLVED",
    ),
    "ModelDriftDetected · credit-scorer": (
        ["api_separate-groups_3-models_credit-scorer"],
        [],
        "FIRING",
    ),
}


class Fleet:
    """Replicas sharing one store, started and stopped together."""

    def __init__(self, fake: FakeSlack, workdir: Path, store_url: str, **env: str) -> None:
        self.fake = fake
        self.workdir = workdir
        self.store_url = store_url
        self.env = {k.upper(): v for k, v in env.items()}
        self.replicas: list[Service] = []

    async def grow(self, size: int) -> None:
        """Start replicas until `size` run (concurrently: each takes a while to import)."""
        new = [
            Service(
                self.fake,
                self.workdir,
                name=f"replica-{i}",
                store_url=self.store_url,
                env=self.env,
            )
            for i in range(len(self.replicas), size)
        ]
        self.replicas += new
        await asyncio.gather(*(r.start() for r in new))

    @property
    def live(self) -> list[Service]:
        return [r for r in self.replicas if r.running]

    async def stop(self) -> None:
        await asyncio.gather(*(r.stop() for r in self.replicas))

    def logs(self) -> str:
        return "\n".join(f"--- {r.name}\n{r.log_tail(1500)}" for r in self.replicas)


@pytest.fixture
async def fleet(fake_slack: FakeSlack, tmp_path: Path, redis_url: str) -> AsyncIterator[Fleet]:
    # a replica folds what a dead one parked after 1 s (30 s by default)
    replicas = Fleet(fake_slack, tmp_path, redis_url, chatops_defer_recover_after="1")
    yield replicas
    await replicas.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[Store]:
    """The test's own connection to the replicas' Redis, to see when the outbox is empty."""
    opened = await open_store(redis_url)
    yield opened
    await opened.close()


async def to_every_replica(fleet: Fleet, http: aiohttp.ClientSession, body: bytes) -> None:
    """One notification to every live replica at once; each must accept it or call it a repeat."""
    statuses = await asyncio.gather(*(r.post(body, session=http) for r in fleet.live))
    assert set(statuses) <= {200, 202}, statuses


async def steps_to_all(fleet: Fleet, http: aiohttp.ClientSession, steps: list[list[bytes]]) -> None:
    """Step by step (a group's notifications are sequential), every group of a step at once."""
    for bodies in steps:
        await asyncio.gather(*(to_every_replica(fleet, http, b) for b in bodies))


async def drained(store: Store, within: float = 30.0) -> None:
    """Wait until no replica has anything left to fold or send (parked notifications and the
    outbox are shared)."""
    async with asyncio.timeout(within):
        while True:
            parked = await store.parked(before=float("inf"), limit=1)
            if not parked and (await store.outbox_stats()).pending == 0:
                break
            await asyncio.sleep(0.1)  # the store has no change event to wait on
    await asyncio.sleep(0.3)  # nothing more must happen after this; the asserts check that


def check_slack(fake: FakeSlack, final: dict[str, str], fleet: Fleet) -> None:
    """One message per group, showing its final state; updates on it; no reply posted twice."""
    messages = [m for channel in CHANNELS for m in fake.messages(channel)]
    context = f"{fake.summary()}\n{fleet.logs()}"
    assert sorted(subject(str(c.params["text"])) for c in top_posts(fake)) == sorted(final), context
    ts_of = {subject(m.text): m.ts for m in messages}
    assert sorted(ts_of) == sorted(final), context
    for update in fake.calls("chat.update"):
        assert update.params["ts"] == ts_of[subject(str(update.params["text"]))], update.params
    for message in messages:
        assert final[subject(message.text)] in message.text, message.text
        replies = [r.text for r in fake.thread_replies(message.channel, message.ts)]
        assert len(replies) == len(set(replies)), f"a thread reply was posted twice: {replies}"


def generated(groups: Iterable[int], sizes: list[int]) -> list[list[bytes]]:
    """Growing groups: one step per size (0 = the group of the previous size, resolved)."""
    steps, previous = [], 0
    for size in sizes:
        steps.append([group_body(g, size or previous, resolved=not size) for g in groups])
        previous = size or previous
    return steps


def captured(phase: int) -> list[list[bytes]]:
    """The captured bodies of each group for one phase, as steps."""
    sequences = [value[phase] for value in CAPTURED.values()]
    steps = itertools.zip_longest(*sequences)
    return [[fixture_bytes(f"alertmanager/{n}.json") for n in step if n] for step in steps]


async def test_ha_pair_then_three_replicas_post_each_group_once(
    fleet: Fleet, fake_slack: FakeSlack, http: aiohttp.ClientSession, store: Store
) -> None:
    groups = range(20)
    await fleet.grow(2)
    await steps_to_all(fleet, http, captured(0) + generated(groups, [1, 5]))

    await fleet.grow(3)
    await steps_to_all(fleet, http, captured(1) + generated(groups, [10, 0]))
    await drained(store)

    final = {name: word for name, (_, _, word) in CAPTURED.items()}
    final |= {f"{group_name(g)} · fraud-detector": "RESOLVED" for g in groups}
    check_slack(fake_slack, final, fleet)


async def through_a_load_balancer(
    fleet: Fleet, http: aiohttp.ClientSession, body: bytes, rng: random.Random
) -> None:
    """Both copies of an HA pair, each to a random live replica, retried like Alertmanager
    does until one replica answers 2xx (a killed replica refuses or drops the connection).
    """
    for _ in range(2):
        for _attempt in range(20):
            replica = rng.choice(fleet.live)
            try:
                if await replica.post(body, session=http) in (200, 202):
                    break
            except aiohttp.ClientError:
                pass
        else:
            raise AssertionError("no replica accepted a webhook in 20 attempts")


async def test_a_replica_killed_mid_storm_loses_nothing_and_posts_nothing_twice(
    fleet: Fleet, fake_slack: FakeSlack, http: aiohttp.ClientSession, store: Store
) -> None:
    groups, rng = range(40), random.Random(7)
    await fleet.grow(3)
    victim = fleet.replicas[1]
    fake_slack.delay("chat.postMessage", 0.1, times=60)  # sends are in flight when it dies

    async def kill_soon() -> None:
        await fake_slack.wait_for(lambda f: len(top_posts(f)) >= 10, timeout=20)
        await victim.kill()

    killer = asyncio.create_task(kill_soon(), name="kill-replica")
    for bodies in generated(groups, [5, 10, 15, 20, 0]):
        await asyncio.gather(*(through_a_load_balancer(fleet, http, b, rng) for b in bodies))
    await killer
    assert not victim.running
    await drained(store)

    check_slack(
        fake_slack, {f"{group_name(g)} · fraud-detector": "RESOLVED" for g in groups}, fleet
    )
    assert "20 alerts resolved" in fake_slack.messages("#fraud-ml")[0].text


async def test_three_replicas_share_one_pace_per_channel(
    fake_slack: FakeSlack, tmp_path: Path, redis_url: str, http: aiohttp.ClientSession, store: Store
) -> None:
    """Each replica pacing on its own would let three of them send three times as fast."""
    pacing, groups = 0.2, range(12)
    fleet = Fleet(fake_slack, tmp_path, redis_url, chatops_slack_pacing=str(pacing))
    try:
        await fleet.grow(3)
        bodies = [group_body(g, 1) for g in groups]
        replicas = itertools.cycle(fleet.live)  # each replica gets work, and a wake-up
        statuses = await asyncio.gather(*(next(replicas).post(b, session=http) for b in bodies))
        assert set(statuses) == {202}
        await drained(store)
    finally:
        await fleet.stop()

    posts = top_posts(fake_slack)
    assert len(posts) == len(groups)
    gaps = [b.at - a.at for a, b in itertools.pairwise(posts)]
    assert sum(gaps) >= 0.95 * pacing * len(gaps), gaps  # the channel's rate: 1 per `pacing`
    assert min(gaps) >= 0.75 * pacing, gaps  # slots are kept (a little clock jitter allowed)


async def test_a_retry_after_given_to_one_replica_holds_the_channel_for_all(
    fake_slack: FakeSlack, tmp_path: Path, redis_url: str, http: aiohttp.ClientSession, store: Store
) -> None:
    fleet = Fleet(fake_slack, tmp_path, redis_url)
    fake_slack.fail("chat.postMessage", 429, retry_after=1)
    try:
        await fleet.grow(2)
        first, second = fleet.live
        assert await first.post(group_body(0, 1), session=http) == 202
        await fake_slack.wait_for(lambda f: len(f.calls("chat.postMessage")) == 1)
        await asyncio.sleep(0.2)  # `first` reads Slack's answer (sends already under way may land)
        bodies = [group_body(g, 1) for g in range(1, 6)]
        statuses = await asyncio.gather(*(second.post(b, session=http) for b in bodies))
        assert set(statuses) == {202}
        await drained(store)
    finally:
        await fleet.stop()

    limited, *others = fake_slack.calls("chat.postMessage")
    assert len(top_posts(fake_slack)) == 7  # the refused attempt and six posts
    waited = [round(c.at - limited.at, 3) for c in others]
    assert min(waited) >= 0.95, f"posted {waited}s after Slack asked everyone to wait 1s"
