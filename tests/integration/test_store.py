"""One contract suite for every Store backend: SQLite on a temp file and Redis on a real server.

Times are passed explicitly (`now=`), so expiry, due times and leases are tested without
sleeping. The Redis variants need a redis-server (see tests/fakes/redis_server.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage import (
    AuditEntry,
    MessageUpdate,
    OutboxItem,
    OutboxStats,
    Parked,
    Store,
    StoreError,
    open_store,
    redis_parking,
)
from tests.fakes.redis_server import RedisServer

T0 = 1_700_000_000.0
LEASE = 30.0


@pytest.fixture(params=["sqlite", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where the store under test lives; the Redis server is started only for Redis params."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'chatops.db'}"
    return str(request.getfixturevalue("redis_url"))


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    s = await open_store(store_url)
    yield s
    await s.close()


@pytest.fixture
async def other_store(store_url: str) -> AsyncIterator[Store]:
    """A second connection to the same store, like a second replica."""
    s = await open_store(store_url)
    yield s
    await s.close()


def update(
    key: str = "grp",
    *,
    text: str = "v",
    channel: str = "#ml",
    reply: str | None = None,
    metadata_json: str | None = None,
) -> MessageUpdate:
    return MessageUpdate(
        key=key,
        channel=channel,
        text=text,
        blocks_json=f'[{{"t":"{text}"}}]',
        reply=reply,
        metadata_json=metadata_json,
    )


async def queue(store: Store, *messages: MessageUpdate, now: float = T0) -> None:
    """Save a fresh state key carrying `messages` (the usual way messages enter the outbox)."""
    for m in messages:
        state = await store.get_state(f"state:{m.key}")
        version = 0 if state is None else state.version
        assert await store.save(
            key=f"state:{m.key}", data=m.text, expected_version=version, messages=[m], now=now
        )


async def claim(
    store: Store, *, now: float, exclude: tuple[str, ...] = (), owner: str = "r1"
) -> OutboxItem | None:
    return await store.claim(owner=owner, lease_seconds=LEASE, now=now, exclude_channels=exclude)


async def claimed(store: Store, *, now: float) -> OutboxItem:
    item = await claim(store, now=now)
    assert item is not None
    return item


# --- seen ---------------------------------------------------------------------------------


async def test_seen_keys_expire_after_ttl(store: Store) -> None:
    assert await store.seen(["a", "b"], now=T0) == set()
    await store.mark_seen(["a", "b"], ttl=60, now=T0)
    assert await store.seen(["a", "b", "c"], now=T0 + 59) == {"a", "b"}
    assert await store.seen(["a", "b"], now=T0 + 60) == set()
    await store.mark_seen(["a"], ttl=60, now=T0 + 50)  # re-marking extends
    assert await store.seen(["a", "b"], now=T0 + 100) == {"a"}
    assert await store.seen([], now=T0) == set()


# --- state compare-and-set ----------------------------------------------------------------


async def test_save_new_state_needs_expected_version_zero(store: Store) -> None:
    assert await store.get_state("k") is None
    assert not await store.save(key="k", data="x", expected_version=1, now=T0)
    assert await store.get_state("k") is None
    assert await store.save(key="k", data="x", expected_version=0, now=T0)
    state = await store.get_state("k")
    assert state is not None
    assert (state.version, state.data) == (1, "x")


async def test_save_conflict_changes_nothing_and_queues_nothing(store: Store) -> None:
    assert await store.save(key="k", data="one", expected_version=0, now=T0)
    stale = await store.save(key="k", data="two", expected_version=0, messages=[update()], now=T0)
    assert not stale
    state = await store.get_state("k")
    assert state is not None
    assert (state.version, state.data) == (1, "one")
    assert await store.message("grp") is None
    assert await claim(store, now=T0 + 1) is None
    assert await store.outbox_stats() == OutboxStats(pending=0, oldest_queued_at=None)


async def test_a_save_marks_its_seen_keys_only_when_its_write_wins(store: Store) -> None:
    assert await store.save(
        key="k", data="one", expected_version=0, now=T0, seen=["a"], seen_ttl=60
    )
    assert await store.seen(["a"], now=T0 + 59) == {"a"}
    assert await store.seen(["a"], now=T0 + 60) == set(), "with the ttl given"
    lost = await store.save(
        key="k", data="two", expected_version=0, now=T0, seen=["b"], seen_ttl=60
    )
    assert not lost
    assert await store.seen(["b"], now=T0) == set(), "a write that lost marks nothing"


async def test_save_queues_messages_on_success(store: Store) -> None:
    ok = await store.save(
        key="k",
        data="d",
        expected_version=0,
        now=T0,
        messages=[update("m1"), update("m2", metadata_json='{"a":1}')],
    )
    assert ok
    record = await store.message("m1")
    assert record is not None
    assert (record.channel, record.channel_id, record.ts) == ("#ml", None, None)
    assert (record.version, record.sent_version) == (1, 0)
    first, second = await claimed(store, now=T0), await claimed(store, now=T0)
    assert {first.key, second.key} == {"m1", "m2"}
    by_key = {i.key: i for i in (first, second)}
    assert by_key["m1"].metadata_json is None
    assert by_key["m2"].metadata_json == '{"a":1}'
    assert by_key["m1"].needs_post
    assert by_key["m1"].first_queued_at == T0


# --- coalescing -----------------------------------------------------------------------------


async def test_updates_before_a_claim_coalesce_into_the_latest(store: Store) -> None:
    await queue(store, update(text="one", reply="r1"), now=T0)
    await queue(store, update(text="two", reply="r2"), now=T0 + 1)
    await queue(store, update(text="three", reply="r3"), now=T0 + 2)
    item = await claimed(store, now=T0 + 3)
    assert (item.text, item.blocks_json, item.version) == ("three", '[{"t":"three"}]', 3)
    assert [text for _, text in item.replies] == ["r1", "r2", "r3"]
    ids = [i for i, _ in item.replies]
    assert ids == sorted(ids)
    assert len(set(ids)) == 3
    assert item.first_queued_at == T0  # the oldest queued time is kept
    assert await claim(store, now=T0 + 3) is None


async def test_a_coalesced_update_keeps_its_due_time(store: Store) -> None:
    await queue(store, update(text="one"), now=T0)
    await queue(store, update(text="two"), now=T0 + 10)
    assert await store.next_due(now=T0) == T0
    assert (await claimed(store, now=T0 + 1)).text == "two"


# --- claim -----------------------------------------------------------------------------------


async def test_claim_respects_due_time_oldest_first(store: Store) -> None:
    await queue(store, update("late"), now=T0 + 5)
    await queue(store, update("early"), now=T0)
    assert await claim(store, now=T0 - 1) is None
    assert (await claimed(store, now=T0 + 10)).key == "early"
    assert (await claimed(store, now=T0 + 10)).key == "late"
    assert await claim(store, now=T0 + 10) is None


async def test_claim_skips_excluded_channels(store: Store) -> None:
    await queue(store, update("busy", channel="#busy"), now=T0)
    await queue(store, update("free", channel="#free"), now=T0 + 1)
    item = await claim(store, now=T0 + 2, exclude=("#busy", "#other"))
    assert item is not None
    assert item.key == "free"
    assert await claim(store, now=T0 + 2, exclude=("#busy",)) is None
    assert (await claimed(store, now=T0 + 2)).key == "busy"


async def test_claim_takes_the_earliest_due_item_across_channels(store: Store) -> None:
    await queue(store, update("a1", channel="#a"), now=T0)
    await queue(store, update("a2", channel="#a"), now=T0 + 2)
    await queue(store, update("b1", channel="#b"), now=T0 + 1)
    await queue(store, update("c1", channel="#c"), now=T0 + 3)
    order = [(await claimed(store, now=T0 + 10)).key for _ in range(4)]
    assert order == ["a1", "b1", "a2", "c1"]  # a leased head does not hide its channel's next
    assert await claim(store, now=T0 + 10) is None


async def test_a_leased_item_is_claimable_again_only_after_its_lease(store: Store) -> None:
    await queue(store, update(), now=T0)
    first = await claimed(store, now=T0)
    assert await claim(store, now=T0 + LEASE - 1, owner="r2") is None
    assert await store.next_due(now=T0 + 1) == T0 + LEASE
    again = await claim(store, now=T0 + LEASE + 1, owner="r2")  # the first replica crashed
    assert again is not None
    assert again.key == first.key
    assert again.lease != first.lease
    assert again.lease.startswith("r2:")


async def test_renewing_a_lease_keeps_the_item_from_other_senders(store: Store) -> None:
    await queue(store, update(), now=T0)
    held = await claimed(store, now=T0)
    assert await store.renew_lease(held, lease_seconds=LEASE, now=T0 + LEASE - 1)
    assert await claim(store, now=T0 + LEASE + 1, owner="r2") is None  # still held
    assert await store.next_due(now=T0 + LEASE + 1) == T0 + 2 * LEASE - 1
    again = await claim(store, now=T0 + 2 * LEASE, owner="r2")
    assert again is not None


async def test_a_lost_or_finished_lease_cannot_be_renewed(store: Store) -> None:
    await queue(store, update(), now=T0)
    first = await claimed(store, now=T0)
    second = await claim(store, now=T0 + LEASE + 1, owner="r2")  # the first ran out
    assert second is not None
    assert not await store.renew_lease(first, lease_seconds=LEASE, now=T0 + LEASE + 2)
    assert await store.renew_lease(second, lease_seconds=LEASE, now=T0 + LEASE + 2)
    await store.complete(second, channel_id="C1", ts="1.1", reply_ids=())
    assert not await store.renew_lease(second, lease_seconds=LEASE, now=T0 + LEASE + 3)
    assert await store.next_due(now=T0 + LEASE + 3) is None


async def test_a_retry_whose_call_may_have_landed_comes_back_uncertain(store: Store) -> None:
    await queue(store, update("a"), update("b"), now=T0)
    a, b = await claimed(store, now=T0), await claimed(store, now=T0)
    await store.retry_later(a, at=T0 + 1, error="TimeoutError", uncertain=True)
    await store.retry_later(b, at=T0 + 1, error="ClientConnectorError")
    again = {i.key: i for i in [await claimed(store, now=T0 + 2), await claimed(store, now=T0 + 2)]}
    assert again[a.key].uncertain
    assert not again[b.key].uncertain
    assert again[a.key].attempts == 1
    assert await store.renew_lease(again[a.key], lease_seconds=LEASE, now=T0 + 3)


# --- complete ---------------------------------------------------------------------------------


async def test_complete_records_ts_and_clears_pending(store: Store) -> None:
    await queue(store, update(reply="hello"), now=T0)
    item = await claimed(store, now=T0)
    ids = [i for i, _ in item.replies]
    await store.complete(item, channel_id="C1", ts="111.222", reply_ids=ids)
    record = await store.message("grp")
    assert record is not None
    assert (record.channel_id, record.ts, record.version, record.sent_version) == (
        "C1",
        "111.222",
        1,
        1,
    )
    assert await claim(store, now=T0 + 100) is None
    assert await store.next_due(now=T0 + 100) is None
    assert await store.outbox_stats() == OutboxStats(pending=0, oldest_queued_at=None)


async def test_unsent_replies_keep_an_item_pending_after_the_post(store: Store) -> None:
    await queue(store, update(reply="first"), now=T0)
    item = await claimed(store, now=T0)
    await store.complete(item, channel_id="C1", ts="1.1", reply_ids=())
    rest = await claimed(store, now=T0 + 1)
    assert not rest.needs_post
    assert not rest.needs_update
    assert [t for _, t in rest.replies] == ["first"]
    await store.complete(rest, channel_id="C1", ts="1.1", reply_ids=[i for i, _ in rest.replies])
    assert await claim(store, now=T0 + 2) is None


async def test_an_update_saved_in_flight_stays_pending_after_complete(store: Store) -> None:
    await queue(store, update(text="one", reply="r1"), now=T0)
    in_flight = await claimed(store, now=T0)
    await queue(store, update(text="two", reply="r2"), now=T0 + 1)
    await store.complete(
        in_flight, channel_id="C1", ts="1.1", reply_ids=[i for i, _ in in_flight.replies]
    )
    record = await store.message("grp")
    assert record is not None
    assert (record.version, record.sent_version) == (2, 1)
    assert (await store.outbox_stats()).pending == 1
    follow_up = await claimed(store, now=T0 + 2)
    assert follow_up.needs_update
    assert (follow_up.ts, follow_up.channel_id) == ("1.1", "C1")
    assert (follow_up.text, follow_up.version) == ("two", 2)
    assert [t for _, t in follow_up.replies] == ["r2"]


# --- retry_later ------------------------------------------------------------------------------


async def test_retry_later_makes_the_item_due_at_the_given_time(store: Store) -> None:
    await queue(store, update(), now=T0)
    item = await claimed(store, now=T0)
    await store.retry_later(item, at=T0 + 60, error="ratelimited")
    assert await store.next_due(now=T0 + 1) == T0 + 60
    assert await claim(store, now=T0 + 59) is None
    retried = await claimed(store, now=T0 + 60)
    assert retried.attempts == 1
    await store.complete(retried, channel_id="C1", ts="1.1", reply_ids=())
    await queue(store, update(text="next"), now=T0 + 70)
    assert (await claimed(store, now=T0 + 70)).attempts == 0


async def test_retry_later_with_a_stale_lease_does_nothing(store: Store) -> None:
    await queue(store, update(), now=T0)
    stale = await claimed(store, now=T0)
    current = await claimed(store, now=T0 + LEASE + 1)  # lease expired, another replica took it
    await store.retry_later(stale, at=T0 + LEASE + 2, error="timeout")
    assert await claim(store, now=T0 + LEASE + 3) is None  # still leased by `current`
    assert await store.next_due(now=T0 + LEASE + 3) == T0 + 2 * LEASE + 1
    await store.retry_later(current, at=T0 + 100, error="timeout")
    assert (await claimed(store, now=T0 + 100)).attempts == 1


# --- next_due and stats -----------------------------------------------------------------------


async def test_next_due_is_the_earliest_unclaimed_time(store: Store) -> None:
    assert await store.next_due(now=T0) is None
    await queue(store, update("a"), now=T0 + 5)
    await queue(store, update("b"), now=T0 + 7)
    assert await store.next_due(now=T0) == T0 + 5
    await claimed(store, now=T0 + 8)  # leases "a" until T0 + 38
    assert await store.next_due(now=T0 + 8) == T0 + 7


async def test_outbox_stats_counts_pending_and_oldest(store: Store) -> None:
    await queue(store, update("a"), now=T0 + 1)
    await queue(store, update("b"), now=T0 + 2)
    await queue(store, update("a", text="again"), now=T0 + 3)
    assert await store.outbox_stats() == OutboxStats(pending=2, oldest_queued_at=T0 + 1)
    item = await claimed(store, now=T0 + 4)
    await store.complete(item, channel_id="C1", ts="1.1", reply_ids=())
    assert await store.outbox_stats() == OutboxStats(pending=1, oldest_queued_at=T0 + 2)


# --- audit ------------------------------------------------------------------------------------


async def test_audit_is_newest_first_and_filters_by_model(store: Store) -> None:
    entries = [
        AuditEntry(
            at=T0 + i,
            actor=f"U{i}",
            action="deploy",
            model=model,
            outcome="ok",
            detail=f"d{i}",
            extra={"env": "production"} if i == 2 else {},
        )
        for i, model in enumerate(["fraud", "churn", "fraud", "churn"])
    ]
    for entry in entries:
        await store.append_audit(entry)
    assert await store.recent_audit(model=None, limit=10) == entries[::-1]
    assert await store.recent_audit(model="fraud", limit=10) == [entries[2], entries[0]]
    assert await store.recent_audit(model=None, limit=2) == [entries[3], entries[2]]
    assert await store.recent_audit(model="nobody", limit=10) == []


# --- parked bodies ----------------------------------------------------------------------------


async def test_parked_bodies_come_back_oldest_first_before_the_given_time(store: Store) -> None:
    first = await store.park(group="g1", source="alertmanager", body='{"a":1}', now=T0)
    second = await store.park(group="g2", source="grafana", body='{"b":2}', now=T0 + 1)
    third = await store.park(group="g1", source="alertmanager", body='{"c":3}', now=T0 + 2)
    assert first < second < third
    assert await store.parked(before=T0 + 10, limit=10) == [
        Parked(id=first, group="g1", source="alertmanager", body='{"a":1}', at=T0),
        Parked(id=second, group="g2", source="grafana", body='{"b":2}', at=T0 + 1),
        Parked(id=third, group="g1", source="alertmanager", body='{"c":3}', at=T0 + 2),
    ]
    assert [p.id for p in await store.parked(before=T0 + 2, limit=10)] == [first, second]
    assert await store.parked(before=T0, limit=10) == [], "`before` is exclusive"
    assert [p.id for p in await store.parked(before=T0 + 10, limit=2)] == [first, second]
    assert await store.parked(before=T0 + 10, limit=0) == []
    after_first = await store.parked(before=T0 + 10, after=first, limit=10)
    assert [p.id for p in after_first] == [second, third], "`after` pages on by id"
    assert await store.parked(before=T0 + 10, after=third, limit=10) == []


async def test_parked_skips_recent_bodies_parked_with_lower_ids(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replicas' clocks differ: a lower id may carry a later time; `before` still decides,
    across several of Redis' scan pages (made small here)."""
    monkeypatch.setattr(redis_parking, "SCAN", 2)
    times = [T0 + 5, T0 + 6, T0 + 7, T0, T0 + 8, T0 + 1, T0 + 2]
    ids = [await store.park(group="g", source="grafana", body="{}", now=t) for t in times]
    assert [p.id for p in await store.parked(before=T0 + 3, limit=2)] == [ids[3], ids[5]]
    assert [p.id for p in await store.parked(before=T0 + 3, limit=5)] == [ids[3], ids[5], ids[6]]
    assert len(await store.parked(before=T0 + 9, limit=7)) == 7
    later = await store.parked(before=T0 + 3, after=ids[3], limit=5)
    assert [p.id for p in later] == [ids[5], ids[6]]


async def test_unpark_forgets_bodies_and_ignores_unknown_ids(store: Store) -> None:
    ids = [await store.park(group=f"g{i}", source="grafana", body="{}", now=T0) for i in range(3)]
    await store.unpark([ids[0], ids[2], ids[2] + 1000])
    assert [p.id for p in await store.parked(before=T0 + 1, limit=10)] == [ids[1]]
    await store.unpark([])
    await store.unpark([ids[0]])  # already gone
    assert [p.id for p in await store.parked(before=T0 + 1, limit=10)] == [ids[1]]
    await store.unpark([ids[1]])
    assert await store.parked(before=T0 + 1, limit=10) == []


async def test_a_save_unparks_its_bodies_only_when_its_write_wins(store: Store) -> None:
    folded = await store.park(group="g", source="alertmanager", body='{"n":1}', now=T0)
    other = await store.park(group="g", source="alertmanager", body='{"n":2}', now=T0)
    assert await store.save(key="k", data="one", expected_version=0, now=T0, unpark=[folded])
    assert [p.id for p in await store.parked(before=T0 + 1, limit=10)] == [other]
    lost = await store.save(key="k", data="two", expected_version=0, now=T0, unpark=[other])
    assert not lost
    assert [p.id for p in await store.parked(before=T0 + 1, limit=10)] == [other], (
        "a write that lost unparks nothing"
    )
    state = await store.get_state("k")
    assert state is not None
    assert state.data == "one"


async def test_bodies_parked_together_are_kept_each_with_its_own_id(store: Store) -> None:
    """SQLite parks what arrives together in one transaction; a caller that gives up (its
    client went away) leaves the others' bodies parked and answered."""
    parks = [
        asyncio.create_task(store.park(group=f"g{i}", source="alertmanager", body=f"{i}", now=T0))
        for i in range(50)
    ]
    await asyncio.sleep(0)
    parks[7].cancel()
    done = await asyncio.gather(*parks, return_exceptions=True)
    ids = [i for i in done if isinstance(i, int)]
    assert len(ids) == 49
    assert len(set(ids)) == 49
    found = {p.body: p.id for p in await store.parked(before=T0 + 1, limit=100)}
    assert {b: i for b, i in found.items() if b != "7"} == {
        str(n): done[n] for n in range(50) if n != 7
    }


async def test_parked_ids_increase_across_replicas(store: Store, other_store: Store) -> None:
    ids = []
    for i in range(4):
        replica = store if i % 2 == 0 else other_store
        ids.append(await replica.park(group="g", source="grafana", body="{}", now=T0 + i))
    assert ids == sorted(set(ids))
    await store.unpark([ids[-1]])  # forgetting the newest does not let its id come back
    newer = await other_store.park(group="g", source="grafana", body="{}", now=T0 + 9)
    assert newer > ids[-1]
    assert [p.id for p in await other_store.parked(before=T0 + 10, limit=10)] == [*ids[:-1], newer]


async def test_parked_bodies_round_trip_exactly(store: Store) -> None:
    odd = '{"summary":"Latenz über Grenzwert \u2014 日本語 ✓ 🚨","x":"line\\nbreak"}\n\t'
    large = '{"alerts":[' + ",".join(f'{{"i":{i},"s":"é{i}"}}' for i in range(150_000)) + "]}"
    assert len(large.encode()) > 2_000_000
    small_id = await store.park(group="grp:ü", source="alertmanager", body=odd, now=T0 + 0.125)
    large_id = await store.park(group="g", source="grafana", body=large, now=T0 + 0.5)
    small, big = await store.parked(before=T0 + 1, limit=10)
    assert small == Parked(
        id=small_id, group="grp:ü", source="alertmanager", body=odd, at=T0 + 0.125
    )
    assert (big.id, big.at) == (large_id, T0 + 0.5)
    assert big.body == large


# --- two replicas -----------------------------------------------------------------------------


async def test_concurrent_claims_from_two_replicas_get_each_item_once(
    store: Store, other_store: Store
) -> None:
    keys = [f"m{i}" for i in range(10)]
    await queue(store, *(update(k) for k in keys), now=T0)
    replicas = [store, other_store] * 10
    results = await asyncio.gather(
        *(claim(s, now=T0 + 1, owner=f"r{i % 2}") for i, s in enumerate(replicas))
    )
    won = [r.key for r in results if r is not None]
    assert sorted(won) == sorted(keys)
    assert await claim(other_store, now=T0 + 1) is None


# --- SQLite only ------------------------------------------------------------------------------


async def test_a_sqlite_database_from_before_parking_gets_the_table_on_open(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    old = await open_store(f"sqlite:///{path}")
    assert await old.save(key="k", data="kept", expected_version=0, now=T0)
    await old.close()
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("DROP TABLE parked")  # as a database written before parking existed
        conn.commit()
    store = await open_store(f"sqlite:///{path}")
    try:
        id_ = await store.park(group="g", source="alertmanager", body="{}", now=T0)
        assert [p.id for p in await store.parked(before=T0 + 1, limit=1)] == [id_]
        state = await store.get_state("k")
        assert state is not None
        assert state.data == "kept"
    finally:
        await store.close()


# --- Redis only -------------------------------------------------------------------------------


async def test_redis_ping_fails_while_down_and_recovers(
    redis_server: RedisServer, redis_url: str
) -> None:
    store = await open_store(redis_url)
    try:
        await store.ping()
        redis_server.stop()
        with pytest.raises(StoreError):
            await store.ping()
        with pytest.raises(StoreError):
            await store.save(key="k", data="x", expected_version=0, now=T0)
        redis_server.start()
        await store.ping()
        assert await store.save(key="k", data="x", expected_version=0, now=T0)
    finally:
        redis_server.start()
        await store.close()


async def test_redis_key_prefix_separates_installs(redis_url: str) -> None:
    one = await open_store(f"{redis_url}?prefix=one:")
    two = await open_store(f"{redis_url}?prefix=two:")
    try:
        await queue(one, update(), now=T0)
        await one.mark_seen(["x"], ttl=60, now=T0)
        assert await two.get_state("state:grp") is None
        assert await two.seen(["x"], now=T0) == set()
        assert await claim(two, now=T0) is None
        assert (await claimed(one, now=T0)).key == "grp"
    finally:
        await one.close()
        await two.close()


async def test_redis_seen_keys_expire_on_the_server(
    redis_server: RedisServer, redis_url: str
) -> None:
    store = await open_store(redis_url)
    try:
        await store.mark_seen(["fp"], ttl=60, now=T0)
    finally:
        await store.close()
    with redis_server.client() as client:
        ttl_ms = client.pttl("chatops:seen:fp")
    assert 0 < ttl_ms <= 60_000
