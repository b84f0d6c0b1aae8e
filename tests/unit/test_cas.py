"""storage.cas.update: the one compare-and-set loop, on a real SQLite store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage import Store, StoreError, Versioned, cas, open_store
from storage.cas import Contention, Write


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await open_store(f"sqlite:///{tmp_path / 'cas.db'}")
    yield opened
    await opened.close()


def append(suffix: str) -> cas.Change:
    def change(current: Versioned | None) -> Write:
        return Write((current.data if current else "") + suffix)

    return change


async def test_creates_then_changes_a_key(store: Store) -> None:
    assert await cas.update(store, "k", append("a"), now=1.0) == Write("a")
    assert await cas.update(store, "k", append("b"), now=2.0) == Write("ab")
    assert await store.get_state("k") == Versioned(2, "ab")


async def test_none_means_no_change_and_writes_nothing(store: Store) -> None:
    await cas.update(store, "k", append("a"), now=1.0)
    assert await cas.update(store, "k", lambda _: None, now=2.0) is None
    assert await store.get_state("k") == Versioned(1, "a")


async def test_a_coroutine_change_is_awaited(store: Store) -> None:
    async def change(current: Versioned | None) -> Write:
        return Write("async")

    assert await cas.update(store, "k", change, now=1.0) == Write("async")
    assert await store.get_state("k") == Versioned(1, "async")


async def test_a_lost_race_rereads_and_applies_the_change_again(store: Store) -> None:
    seen: list[str | None] = []

    async def racing(current: Versioned | None) -> Write:
        seen.append(current.data if current else None)
        if len(seen) == 1:  # another writer gets in between our read and our write
            await store.save(key="k", data="other", expected_version=0, now=1.0)
        return Write(f"{current.data if current else ''}+mine")

    assert await cas.update(store, "k", racing, now=1.0) == Write("other+mine")
    assert seen == [None, "other"]


async def test_gives_up_with_a_store_error_naming_the_key(store: Store) -> None:
    async def always_loses(current: Versioned | None) -> Write:
        version = current.version if current else 0
        await store.save(key="busy", data=str(version), expected_version=version, now=1.0)
        return Write("mine")

    with pytest.raises(Contention, match="too much contention on busy") as caught:
        await cas.update(store, "busy", always_loses, now=1.0, attempts=3)
    assert isinstance(caught.value, StoreError)
    assert caught.value.key == "busy"
    assert await store.get_state("busy") == Versioned(3, "2")
