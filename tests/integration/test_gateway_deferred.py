"""Under load, notifications are parked, answered 202 and folded later, several as one."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from chatops.keys import STORE
from gateway import folder as folder_module
from gateway.alertmanager import OFF_LOOP_BYTES, parse_alertmanager
from gateway.folder import Folder, heap_trimmer
from gateway.incident_model import state_key
from gateway.incidents import load_incident
from gateway.options import GatewayOptions, Outcome
from gateway.routes import GATEWAY
from gateway.service import Gateway
from slackio.metrics import Metrics
from storage.sqlite import SqliteStore
from tests.fakes.app import bearer, outbox_drained
from tests.fakes.fixtures import fixture_bytes
from tests.fakes.service import group_body, group_key, top_posts
from tests.fakes.slack import FakeSlack

NOW = 1_800_000_000.0


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    store = await SqliteStore.open(f"sqlite:///{tmp_path / 'chatops.db'}")
    yield store
    await store.close()


def gateway(store: SqliteStore, defer_after: int | None, now: float = NOW) -> Gateway:
    options = GatewayOptions(defer_after=defer_after)
    return Gateway(store, options, Metrics(), wake_sender=lambda _: None, clock=lambda: now)


async def send(gw: Gateway, body: bytes) -> Outcome:
    screened, repeat = await gw.screen_alertmanager(body)
    if repeat is not None:
        return repeat
    intake = screened.intake  # None: a body remembered but not folded yet, read as the route does
    payload = intake.payload if intake is not None else parse_alertmanager(body)
    return await gw.ingest_alertmanager(payload, screened, body=body)


async def incident_of(store: SqliteStore, group: int) -> tuple[int, dict[str, Any]]:
    stored = await store.get_state(state_key(group_key(group)))
    assert stored is not None
    incident = load_incident(stored.data)
    alerts = {a.fingerprint: a.status.value for a in incident.alerts}
    return stored.version, {"status": incident.status.value, "alerts": alerts,
                            "generation": incident.generation}  # fmt: skip


async def parked_ids(store: SqliteStore) -> list[int]:
    return [p.id for p in await store.parked(before=NOW + 3600, limit=100)]


SEQUENCE = [group_body(1, 3), group_body(1, 6), group_body(1, 9), group_body(1, 9)]


async def test_waiting_notifications_fold_as_one_write_leaving_what_one_by_one_leaves(
    store: SqliteStore, tmp_path: Path
) -> None:
    deferred = gateway(store, defer_after=0)  # every notification waits
    assert [await send(deferred, b) for b in SEQUENCE] == [Outcome.ACCEPTED] * 4
    assert deferred.waiting.count == 4
    assert len(await parked_ids(store)) == 4, "kept in the store before the answer"
    assert await store.get_state(state_key(group_key(1))) is None, "not folded yet"

    group, items = await deferred.waiting.next()
    await deferred.fold_waiting(group, items)

    version, folded = await incident_of(store, 1)
    assert version == 1, "one write for the four notifications"
    assert await parked_ids(store) == [], "unparked with that write"
    one_by_one = await SqliteStore.open(f"sqlite:///{tmp_path / 'inline.db'}")
    try:
        inline = gateway(one_by_one, defer_after=None)
        for body in SEQUENCE:
            await send(inline, body)
        assert (await incident_of(one_by_one, 1))[1] == folded
    finally:
        await one_by_one.close()
    assert (await store.outbox_stats()).pending == 1


async def test_a_resolved_notification_in_between_resolves_before_the_group_fires_again(
    store: SqliteStore,
) -> None:
    deferred = gateway(store, defer_after=0)
    firing = json.loads(group_body(1, 3))
    refired = json.loads(group_body(1, 3))
    for alert in refired["alerts"]:
        alert["startsAt"] = "2031-01-01T00:00:00Z"  # a new occurrence: a new incident
    bodies = [json.dumps(firing).encode(), group_body(1, 3, resolved=True),
              json.dumps(refired).encode()]  # fmt: skip
    for body in bodies:
        assert await send(deferred, body) is Outcome.ACCEPTED
    group, items = await deferred.waiting.next()
    await deferred.fold_waiting(group, items)

    _, incident = await incident_of(store, 1)
    assert incident["generation"] == 2, "the resolved notification closed the first incident"
    assert incident["status"] == "firing"
    assert (await store.outbox_stats()).pending == 2, "two Slack messages: one per incident"
    assert await parked_ids(store) == []


async def test_waiting_notifications_already_folded_are_unparked_without_a_write(
    store: SqliteStore,
) -> None:
    inline = gateway(store, defer_after=None)
    assert await send(inline, group_body(1, 3)) is Outcome.ACCEPTED
    other = gateway(store, defer_after=0)  # another replica, which has not seen them
    assert await send(other, group_body(1, 3)) is Outcome.ACCEPTED
    group, items = await other.waiting.next()
    await other.fold_waiting(group, items)
    assert (await incident_of(store, 1))[0] == 1, "nothing written again"
    assert await parked_ids(store) == []


async def test_a_deferred_notification_older_than_the_incident_only_brings_resolutions(
    store: SqliteStore,
) -> None:
    """Replica A parks a notification; the group's next one reaches replica B and is folded
    first. A's, folded after, must not fire again what B's resolved (nor open an incident)."""
    a, b = gateway(store, defer_after=0), gateway(store, defer_after=None, now=NOW + 10)
    firing = json.loads(group_body(1, 3))
    firing["alerts"][2]["status"] = "resolved"  # one resolution only A's body carries
    assert await send(a, json.dumps(firing).encode()) is Outcome.ACCEPTED  # parked at NOW
    assert await send(b, group_body(1, 2, resolved=True)) is Outcome.ACCEPTED  # at NOW + 10

    group, items = await a.waiting.next()
    await a.fold_waiting(group, items)

    version, incident = await incident_of(store, 1)
    assert incident["generation"] == 1, "no new incident for the older firing alerts"
    assert incident["status"] == "resolved"
    assert sorted(incident["alerts"].values()) == ["resolved"] * 3, "its resolution counted"
    assert version == 2
    assert await parked_ids(store) == []


async def test_a_group_with_notifications_waiting_defers_its_next_ones_in_order(
    store: SqliteStore,
) -> None:
    gw = gateway(store, defer_after=2)
    assert await send(gw, group_body(1, 3)) is Outcome.ACCEPTED  # quiet: folded at once
    assert gw.waiting.count == 0
    async with gw.serials.one_at_a_time("a"), gw.serials.one_at_a_time("b"):  # 2 folds busy
        assert await send(gw, group_body(1, 6)) is Outcome.ACCEPTED
    assert gw.waiting.count == 1
    assert await send(gw, group_body(1, 9)) is Outcome.ACCEPTED  # quiet, but its group waits
    assert gw.waiting.count == 2
    group, items = await gw.waiting.next()
    assert [len(w.keys) for w in items] == [6, 9]
    await gw.fold_waiting(group, items)
    assert len((await incident_of(store, 1))[1]["alerts"]) == 9


async def test_the_app_answers_at_once_and_the_folder_posts_one_message(
    make_app: Any, fake_slack: FakeSlack
) -> None:
    client = await make_app(chatops_defer_after=0)
    bodies = [group_body(7, n) for n in range(3, 31, 3)]
    answers = await asyncio.gather(
        *(client.post("/webhooks/alertmanager", data=b, headers=bearer()) for b in bodies)
    )
    assert [(r.status, await r.json()) for r in answers] == [(202, {"status": "accepted"})] * 10
    gw = client.server.app[GATEWAY]
    await wait_until(lambda: gw.waiting.count == 0)
    store = client.server.app[STORE]
    await wait_until_async(lambda: parked_ids(store), [])
    await outbox_drained(client)
    assert len(top_posts(fake_slack)) == 1
    incident = load_incident((await store.get_state(state_key(group_key(7)))).data)
    assert len(incident.alerts) == 30
    metrics = await (await client.get("/metrics")).text()
    assert 'chatops_notifications_deferred_total{source="alertmanager"} 10.0' in metrics


@pytest.mark.parametrize("route", ["/webhooks/grafana", "/webhooks/alertmanager"])
async def test_a_deferred_grafana_group_is_read_again_as_grafana(
    make_app: Any, fake_slack: FakeSlack, route: str
) -> None:
    client = await make_app(chatops_defer_after=0)
    response = await client.post(route, data=fixture_bytes("grafana/docs_firing.json"),
                                 headers=bearer())  # fmt: skip
    assert response.status == 202, await response.text()
    store = client.server.app[STORE]
    await wait_until_async(lambda: parked_ids(store), [])
    await outbox_drained(client)
    (message,) = fake_slack.messages("#ml-alerts")
    shown = message.text + json.dumps(message.blocks, ensure_ascii=False)
    assert "B=44.2394, C=1" in shown, "read again as a Grafana group: its query values shown"


async def test_a_body_too_large_to_read_again_on_the_event_loop_is_folded_at_once(
    make_app: Any, fake_slack: FakeSlack
) -> None:
    client = await make_app(chatops_defer_after=0)
    body = group_body(8, 200)
    assert len(body) > OFF_LOOP_BYTES
    response = await client.post("/webhooks/alertmanager", data=body, headers=bearer())
    assert response.status == 202
    store = client.server.app[STORE]
    assert await store.get_state(state_key(group_key(8))) is not None, "folded before the answer"
    assert await parked_ids(store) == []


async def test_bodies_parked_by_a_process_that_died_are_folded_at_the_next_start(
    make_app: Any, fake_slack: FakeSlack, store_path: Path, am_fixture: Any
) -> None:
    dead = await SqliteStore.open(f"sqlite:///{store_path}")
    for n in (3, 6):
        body = group_body(4, n).decode()
        await dead.park(group=group_key(4), source="alertmanager", body=body, now=time.time())
    await dead.close()

    client = await make_app()
    await wait_until(lambda: len(top_posts(fake_slack)) == 1)
    store = client.server.app[STORE]
    await wait_until_async(lambda: parked_ids(store), [])
    incident = load_incident((await store.get_state(state_key(group_key(4)))).data)
    assert len(incident.alerts) == 6


async def test_recovery_skips_what_this_process_holds_and_requeues_the_rest(
    store: SqliteStore,
) -> None:
    gw = gateway(store, defer_after=0)
    assert await send(gw, group_body(1, 3)) is Outcome.ACCEPTED
    body = group_body(2, 3).decode()
    await store.park(group=group_key(2), source="alertmanager", body=body, now=NOW - 60)
    folder = Folder(gw)
    assert await folder.recover(before=NOW + 1) == 1, "only the one nobody here holds"
    assert gw.waiting.count == 2
    assert await folder.recover(before=NOW + 1) == 0


async def test_the_heap_is_trimmed_once_a_burst_has_been_folded(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(folder_module, "TRIM_AFTER", 3)
    gw = gateway(store, defer_after=0)
    trims: list[float] = []
    folder = Folder(gw, trim=lambda: trims.append(time.time()))
    folder.start()
    try:
        for n in (3, 6, 9):
            assert await send(gw, group_body(1, n)) is Outcome.ACCEPTED
        await wait_until(lambda: len(trims) == 1)
        assert gw.waiting.count == 0
        assert await send(gw, group_body(2, 3)) is Outcome.ACCEPTED  # not a burst
        await wait_until_async(lambda: parked_ids(store), [])
        assert len(trims) == 1
    finally:
        await folder.stop()
    heap_trimmer()()  # the real one runs here (glibc), or does nothing


async def wait_until(check: Any, within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def wait_until_async(get: Any, expected: Sequence[Any], within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while (got := await get()) != expected:
        assert asyncio.get_running_loop().time() < deadline, f"still {got}"
        await asyncio.sleep(0.02)
