"""The store fails (Redis down, SQLite locked) or the process is told to stop mid-work.

A webhook is only ever answered 2xx once it is durably recorded; when the store cannot
record it the answer is a fast 503 (JSON) so Alertmanager retries, and the service recovers
by itself when the store comes back. A SIGTERM drains: every 2xx is delivered exactly once.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from storage.sqlite import BUSY_TIMEOUT
from tests.fakes.app import bearer
from tests.fakes.redis_server import RedisServer
from tests.fakes.service import Service, group_body, group_name, subject, top_posts
from tests.fakes.slack import FakeSlack


async def post(client: TestClient[Any, Any], body: bytes) -> tuple[int, Any, float]:
    """POST an Alertmanager body: status, JSON answer, seconds it took."""
    started = time.monotonic()
    response = await client.post("/webhooks/alertmanager", data=body, headers=bearer())
    return response.status, await response.json(), time.monotonic() - started


def posted_groups(fake: FakeSlack) -> list[str]:
    return sorted(subject(str(c.params["text"])) for c in top_posts(fake))


def name(group: int) -> str:
    return f"{group_name(group)} · fraud-detector"


# --- Redis goes away and comes back --------------------------------------------------------------


@pytest.fixture
def redis_restarted(redis_server: RedisServer) -> Iterator[RedisServer]:
    """The session's Redis, running again after the test whatever the test did to it."""
    yield redis_server
    redis_server.start()


async def test_redis_down_is_503_and_the_service_recovers_without_a_restart(
    make_app: Any, fake_slack: FakeSlack, redis_url: str, redis_restarted: RedisServer
) -> None:
    client = await make_app(chatops_store_url=redis_url)
    assert (await post(client, group_body(1, 2)))[0] == 202
    await fake_slack.wait_for(lambda f: posted_groups(f) == [name(1)])

    redis_restarted.stop()
    ready = await client.get("/readyz")
    assert ready.status == 503
    assert (await ready.json())["failing"] == ["store"]
    for _ in range(3):  # Alertmanager retries; each retry is refused the same way
        status, answer, took = await post(client, group_body(2, 2))
        assert status == 503, answer
        assert answer["error"] == "store unavailable, retry later"
        assert "redis" in " ".join(answer["details"]), "the answer names what failed"
        assert took < 5, f"a webhook waited {took:.1f}s for a dead store"

    redis_restarted.start()
    assert (await client.get("/readyz")).status == 200
    assert (await post(client, group_body(2, 2)))[0] == 202  # the retry that finally lands
    await fake_slack.wait_for(lambda f: posted_groups(f) == [name(1), name(2)], timeout=10)
    metrics = await (await client.get("/metrics")).text()
    assert 'outcome="store_unavailable",source="alertmanager"} 3.0' in metrics


# --- SQLite locked by another connection ---------------------------------------------------------


@pytest.fixture
def locker(store_path: Path) -> Iterator[sqlite3.Connection]:
    """A second connection to the app's SQLite file, for holding its write lock."""
    conn = sqlite3.connect(store_path, isolation_level=None)
    yield conn
    conn.close()


async def test_a_locked_sqlite_answers_503_fast_and_recovers(
    make_app: Any, fake_slack: FakeSlack, locker: sqlite3.Connection
) -> None:
    client = await make_app()
    assert (await post(client, group_body(1, 2)))[0] == 202
    await fake_slack.wait_for(lambda f: posted_groups(f) == [name(1)])

    locker.execute("BEGIN EXCLUSIVE")  # e.g. a backup or a stuck second process
    status, answer, took = await post(client, group_body(2, 2))
    assert status == 503, answer
    assert "locked" in " ".join(answer["details"])
    print(f"\nlocked sqlite: 503 after {took:.2f}s (busy timeout {BUSY_TIMEOUT}s)")
    # A few busy timeouts (the sender's claim can hold the connection first), not 15 s or more.
    assert took < 5, f"a webhook waited {took:.1f}s on a locked database"

    locker.execute("ROLLBACK")
    assert (await post(client, group_body(2, 2)))[0] == 202
    await fake_slack.wait_for(lambda f: posted_groups(f) == [name(1), name(2)], timeout=10)


# --- SIGTERM while webhooks are in flight and Slack is slow -------------------------------------


@pytest.fixture
async def service(fake_slack: FakeSlack, tmp_path: Path) -> AsyncIterator[Service]:
    svc = Service(fake_slack, tmp_path)
    yield svc
    await svc.stop()


async def test_sigterm_drains_and_every_accepted_webhook_is_delivered_once(
    service: Service, fake_slack: FakeSlack
) -> None:
    groups = range(40)
    fake_slack.delay("chat.postMessage", 1.0, times=1000)  # Slack is slow today
    await service.start()
    answered: list[int] = []
    halfway = asyncio.Event()
    async with aiohttp.ClientSession() as http:

        async def send(group: int) -> int | None:
            await asyncio.sleep(group * 0.05)  # a steady stream, not one burst
            try:
                status = await service.post(group_body(group, 3), session=http)
            except aiohttp.ClientError:
                return None  # refused while stopping: Alertmanager retries it later
            answered.append(group)
            if len(answered) == len(groups) // 2:
                halfway.set()
            return status

        sending = [asyncio.create_task(send(g)) for g in groups]
        await asyncio.wait_for(halfway.wait(), 30)
        started = time.monotonic()
        code = await service.terminate(timeout=30)
        stopped = time.monotonic() - started
        statuses = dict(zip(groups, await asyncio.gather(*sending), strict=True))

    accepted = {name(g) for g, status in statuses.items() if status == 202}
    print(f"\nsigterm: exit {code} after {stopped:.1f}s; {len(accepted)} of {len(groups)} accepted")
    assert code == 0, service.log_tail()
    assert stopped < 20, "the process did not stop within its shutdown timeout"
    assert set(statuses.values()) <= {202, None}, statuses
    assert 0 < len(accepted) < len(groups), "the SIGTERM should land mid-stream"

    fake_slack.clear_faults()
    await service.start()
    await fake_slack.wait_for(lambda f: accepted <= set(posted_groups(f)), timeout=20)
    await asyncio.sleep(0.5)  # nothing more must happen
    posted = posted_groups(fake_slack)
    assert len(posted) == len(set(posted)), "a message was posted twice"
    assert set(posted) <= {name(g) for g in groups}
