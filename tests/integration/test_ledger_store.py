"""The deployment ledger on both Store backends (SQLite and a real redis-server), shared by
two replicas: concurrent records are all kept, newest first, bounded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.deployments.ledger import Ledger, LedgerEntry
from storage import Store, open_store


@pytest.fixture(params=["sqlite", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'chatops.db'}"
    return str(request.getfixturevalue("redis_url"))


@pytest.fixture
async def stores(store_url: str) -> AsyncIterator[tuple[Store, Store]]:
    """Two connections to the same store, like two replicas."""
    one, two = await open_store(store_url), await open_store(store_url)
    yield one, two
    await one.close()
    await two.close()


def entry(version: str, at: float, environment: str = "production") -> LedgerEntry:
    return LedgerEntry("m", environment, "deploy", version, "https://ci/1", "U1", ("U2",), at)


async def test_two_replicas_recording_at_once_lose_nothing(stores: tuple[Store, Store]) -> None:
    one, two = Ledger(stores[0]), Ledger(stores[1])
    await asyncio.gather(
        *((one if i % 2 else two).record(entry(f"v{i}", float(i))) for i in range(10))
    )
    entries = await one.entries("m", "production")
    assert sorted(e.version or "" for e in entries) == sorted(f"v{i}" for i in range(10))
    assert entries[0].approvers == ("U2",)
    assert await two.entries("m", "staging") == []


async def test_the_ledger_is_bounded_per_environment(stores: tuple[Store, Store]) -> None:
    ledger = Ledger(stores[0], limit=3)
    for i in range(5):
        await ledger.record(entry(f"v{i}", float(i)))
    await ledger.record(entry("s1", 9.0, environment="staging"))
    assert [e.version for e in await ledger.entries("m", "production")] == ["v4", "v3", "v2"]
    assert [e.version for e in await ledger.entries("m", "staging")] == ["s1"]
